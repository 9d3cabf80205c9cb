// One run: the test bed, the synthetic mesh published and running, meshlock as its own process,
// the measurement over the period, the comparison with the truth and the look-back's cost.

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/prom"
	"github.com/meshlock/meshlock/test/e2e"
	"github.com/meshlock/meshlock/test/testbed"
)

// window is meshlock's --window, the rate window of its queries.
const window = time.Minute

// result is everything a run measured.
type result struct {
	plan        planStats
	clusterUp   time.Duration // StartCluster
	publishTime time.Duration // Services, pods, ServiceAccounts, Namespaces
	readyAfter  time.Duration // meshlock's start to ready with a fresh graph

	period  time.Duration
	metrics serverMetrics // deltas over the period
	evals   evalSum       // Prometheus' timings of meshlock's queries in the period
	cpu     time.Duration // meshlock's CPU over the period
	proc    procStats     // at the end of the period

	graphTime, graphGzipTime time.Duration // median of 5 GETs
	graphBytes, graphGzip    int           // graphGzip 0: the server does not gzip
	graphEdges               int
	counts                   map[string]int // the graph's edges per status
	compared                 comparison

	scrape scrapeStats

	page      *pageResult         // nil without -browser
	querySets *querySetComparison // nil with -query-sets=0
	lookback  *lookbackResult
	machine   string
	env       []string // meshlock's Go runtime settings, deploy/base's
	load      string   // /proc/loadavg's 1-minute average at the end of the period
}

// planStats sums up the generated mesh.
type planStats struct {
	services, workloads, sidecars, callers, tcpCallers, rules, peers int
}

// scrapeStats are Prometheus' own view of its scrapes of the mesh.
type scrapeStats struct {
	samples       float64 // scrape_samples_scraped, last
	duration, max float64 // scrape_duration_seconds: last, and the largest over the period
	upShare       float64 // scrapes that succeeded over the period / scrapes due
	err           error
}

// lookbackResult is the cost of the history query over every whole
// minute of the mesh's past, shortest first: how it grows with the range
// says whether an extrapolation per raw sample holds.
type lookbackResult struct {
	step   time.Duration
	series int // raw series of the four Istio counters
	points []lookbackPoint
	// coarse is the longest range again in a single subquery step.
	coarse *lookbackPoint
	err    error
}

// lookbackPoint is one history query.
type lookbackPoint struct {
	rng, step  time.Duration
	wall       time.Duration
	eval       evalSum // the logged query's timings
	returned   int     // history samples (series, volume and last time merged)
	rawSamples float64 // series × samples per series in the range
}

func run(ctx context.Context, r testbed.TB, o options) result {
	// The mesh's ticker and informers end with the run, not the command:
	// a comparison's next run must not share the cores with them.
	ctx, cancel := context.WithCancel(ctx)
	r.Cleanup(cancel)
	res := result{machine: machine()}
	var err error
	if res.env, err = testbed.DeployedRuntimeEnv(testbed.RepoRoot(r)); err != nil {
		r.Fatalf("%v", err)
	}
	plans, err := generatePlans(o.scale, o.clusters, o.seed)
	if err != nil {
		r.Fatalf("%v", err)
	}
	plan := joinPlans(plans)
	res.plan = summarize(plan)
	r.Logf("mesh %s: %d services, %d workloads (%d with a sidecar), %d callers (%d TCP), %d DestinationRules, %d PeerAuthentications",
		o.mesh(), res.plan.services, res.plan.workloads, res.plan.sidecars, res.plan.callers, res.plan.tcpCallers, res.plan.rules, res.plan.peers)

	// meshlock compiles while the test bed starts.
	binDir := r.TempDir()
	built := make(chan error, 1)
	go func() { built <- buildMeshlock(testbed.RepoRoot(r), filepath.Join(binDir, "meshlock")) }()

	start := time.Now()
	clusters := make([]*testbed.Cluster, len(plans))
	for i := range clusters {
		clusters[i] = testbed.StartCluster(r)
	}
	res.clusterUp = time.Since(start)
	if len(clusters) == 1 {
		r.Logf("test bed: kube-apiserver up in %s", res.clusterUp.Round(time.Millisecond))
	} else {
		r.Logf("test bed: %d kube-apiservers up in %s", len(clusters), res.clusterUp.Round(time.Millisecond))
	}

	// Publishing makes some 4 requests an object: without client-side
	// rate limiting and a few namespaces at once it takes seconds, not minutes.
	kubes := make([]kubernetes.Interface, len(clusters))
	istios := make([]istioclient.Interface, len(clusters))
	for i, c := range clusters {
		fast := rest.CopyConfig(c.RESTConfig)
		fast.QPS = -1
		kubes[i] = kubernetes.NewForConfigOrDie(fast)
		istios[i] = istioclient.NewForConfigOrDie(fast)
	}
	start = time.Now()
	for i, cp := range plans {
		if err := publish(ctx, kubes[i], cp.plan.Topology, o.publishWorkers); err != nil {
			r.Fatalf("publishing the mesh: %v", err)
		}
	}
	res.publishTime = time.Since(start)
	for i, cp := range plans {
		if err := checkPublished(ctx, kubes[i], summarize(cp.plan)); err != nil {
			r.Fatalf("%v", err)
		}
	}
	r.Logf("published %d Services and %d pods in %s (%d namespaces at a time)", res.plan.services, res.plan.workloads, res.publishTime.Round(time.Millisecond), o.publishWorkers)
	if o.publishOnly {
		return res
	}
	for i, cp := range plans {
		if err := createPolicies(ctx, istios[i], cp.plan); err != nil {
			r.Fatalf("%v", err)
		}
	}

	meshOpts := meshsim.Options{Topology: plan.Topology, Istio: istios[0], AutoMTLS: true}
	if len(plans) > 1 {
		// Multi-primary: each cluster's istiod reads its own policies.
		meshOpts.ClusterName = plans[0].name
		for i, cp := range plans[1:] {
			meshOpts.Remotes = append(meshOpts.Remotes, meshsim.RemoteCluster{Name: cp.name, Istio: istios[i+1], AutoMTLS: true})
		}
	}
	mesh, err := meshsim.New(meshOpts)
	if err != nil {
		r.Fatalf("%v", err)
	}
	if err := mesh.Start(ctx); err != nil {
		r.Fatalf("%v", err)
	}
	meshStart := time.Now()
	go mesh.Run(ctx, 250*time.Millisecond)
	target := serveMetrics(r, mesh.Handler())

	queryLog := filepath.Join(r.TempDir(), "query.log")
	promServer := testbed.StartPrometheusWith(r, testbed.PrometheusOptions{
		Targets: []string{target}, ScrapeInterval: o.scrapeInterval, QueryLogFile: queryLog,
	})
	r.Logf("Prometheus at %s scrapes the mesh at %s every %s", promServer.URL, target, o.scrapeInterval)

	if err := <-built; err != nil {
		r.Fatalf("building meshlock: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(r))
	kubeconfig := clusters[0].Kubeconfig
	var clusterArgs []string
	if len(plans) > 1 {
		kubeconfig = filepath.Join(binDir, "kubeconfig")
		names, paths := make([]string, len(plans)), make([]string, len(plans))
		for i, cp := range plans {
			names[i], paths[i] = cp.name, clusters[i].Kubeconfig
			clusterArgs = append(clusterArgs, "--cluster="+cp.name+"="+cp.name)
		}
		if err := writeMergedKubeconfig(names, paths, kubeconfig); err != nil {
			r.Fatalf("kubeconfig: %v", err)
		}
	}
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--prometheus-url=" + promServer.URL,
		"--refresh=" + o.refresh.String(),
		"--window=" + prom.FormatWindow(window),
		"--addr=" + addr,
		"--lookback=0",
	}
	args = append(args, clusterArgs...)
	base := "http://" + addr
	metricsBase := base
	if o.profiles != "" {
		if err := os.MkdirAll(o.profiles, 0o755); err != nil {
			r.Fatalf("-profiles: %v", err)
		}
		metricsAddr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(r))
		args = append(args, "--metrics-addr="+metricsAddr, "--pprof")
		metricsBase = "http://" + metricsAddr
	}
	server := startMeshlock(r, filepath.Join(binDir, "meshlock"), binDir, args...)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}
	start = time.Now()
	if err := waitReady(client, base, server, 5*time.Minute); err != nil {
		r.Fatalf("%v", err)
	}
	res.readyAfter = time.Since(start)
	r.Logf("meshlock ready with a fresh graph after %s; warming up for %s", res.readyAfter.Round(time.Millisecond), o.warmup)
	time.Sleep(o.warmup)

	r.Logf("measuring for %s", o.duration)
	before, procBefore := serverState(r, client, metricsBase, server, o.refresh)
	periodStart := time.Now()
	if o.profiles != "" {
		cpu := min(30*time.Second, o.duration-time.Second)
		go saveProfile(r, metricsBase, fmt.Sprintf("profile?seconds=%d", int(cpu.Seconds())), filepath.Join(o.profiles, "cpu.prof"))
	}
	time.Sleep(o.duration)
	after, procAfter := serverState(r, client, metricsBase, server, o.refresh)
	if o.profiles != "" {
		saveProfile(r, metricsBase, "heap", filepath.Join(o.profiles, "heap.prof"))
	}
	periodEnd := time.Now()
	res.period = periodEnd.Sub(periodStart)
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.load = strings.Fields(string(data))[0]
	}
	res.metrics = after.sub(before)
	res.cpu = procAfter.CPU - procBefore.CPU
	res.proc = procAfter

	// After the period, so that the GETs are not in its CPU time.
	var body []byte
	res.graphTime, res.graphBytes, body = timeGraph(r, client, base, false)
	res.graphGzipTime, res.graphGzip, _ = timeGraph(r, client, base, true)
	truth := mesh.Truth()
	var snap struct {
		Stale bool         `json:"stale"`
		Error string       `json:"error"`
		Edges []graph.Edge `json:"edges"`
	}
	if err := json.Unmarshal(body, &snap); err != nil {
		r.Fatalf("/api/graph: %v", err)
	}
	if snap.Stale {
		r.Errorf("the graph is stale at the end of the period: %s", snap.Error)
	}
	res.graphEdges = len(snap.Edges)
	res.counts = map[string]int{}
	for _, e := range snap.Edges {
		res.counts[e.Status]++
	}
	expected := expectedEdges(plan.Topology, truth)
	if len(plans) > 1 {
		expected = qualifyEdges(expected, namespaceClusters(plans))
	}
	res.compared = compareEdges(snap.Edges, expected)
	if o.browser {
		res.page = openPage(r, base)
	}

	// Prometheus writes the query log as it goes; a moment lets the last lines land.
	time.Sleep(time.Second)
	entries, err := readQueryLog(queryLog)
	if err != nil {
		r.Fatalf("query log: %v", err)
	}
	own := map[string]bool{}
	for _, q := range prom.Queries(window) {
		own[q.PromQL] = true
	}
	res.evals = sumQueries(entries, periodStart, periodEnd, func(q string) bool { return own[q] })

	promAPI := newPromAPI(r, promServer.URL)
	res.scrape = scrapeHealth(ctx, promAPI, res.period, o.scrapeInterval)

	// The look-back and the query sets are measured alone: meshlock's
	// refreshes would share Prometheus with them.
	server.stop()
	if o.querySets > 0 {
		cmp := compareQuerySets(ctx, promAPI, queryLog, o.querySets)
		res.querySets = &cmp
	}
	if o.lookbackCost {
		res.lookback = measureLookback(ctx, r, promServer.URL, promAPI, queryLog, meshStart, o.scrapeInterval)
	}
	return res
}

func summarize(p Plan) planStats {
	s := planStats{services: len(p.Topology.Services), workloads: len(p.Topology.Workloads),
		callers: len(p.Topology.Callers), rules: len(p.Rules), peers: len(p.Peers)}
	for _, w := range p.Topology.Workloads {
		if w.Sidecar {
			s.sidecars++
		}
	}
	for _, c := range p.Topology.Callers {
		if c.Port == tcpPort {
			s.tcpCallers++
		}
	}
	return s
}

func buildMeshlock(root, out string) error {
	cmd := exec.Command("go", "build", "-o", out, "./cmd/server")
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, output)
	}
	return nil
}

// publish writes the mesh namespace by namespace, several at once.
// meshsim's Publish is sequential; a mesh of one namespace's Workloads and
// Services makes exactly the objects the whole mesh would (a pod's ports
// come from the Services of its own namespace), so each namespace is
// published by a mesh of its own, without callers.
func publish(ctx context.Context, kube kubernetes.Interface, t meshsim.Topology, workers int) error {
	byNamespace := map[string]*meshsim.Topology{}
	var order []string
	part := func(ns string) *meshsim.Topology {
		if byNamespace[ns] == nil {
			byNamespace[ns] = &meshsim.Topology{}
			order = append(order, ns)
		}
		return byNamespace[ns]
	}
	for _, s := range t.Services {
		p := part(s.Namespace)
		p.Services = append(p.Services, s)
	}
	for _, w := range t.Workloads {
		p := part(w.Namespace)
		w.Cluster = "" // each cluster is published by itself, as the only one
		p.Workloads = append(p.Workloads, w)
	}
	jobs := make(chan string)
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for range min(workers, len(order)) {
		wg.Go(func() {
			for ns := range jobs {
				m, err := meshsim.New(meshsim.Options{Topology: *byNamespace[ns]})
				if err == nil {
					err = publishRetrying(ctx, m, kube)
				}
				errs[slices.Index(order, ns)] = err
			}
		})
	}
	for _, ns := range order {
		jobs <- ns
	}
	close(jobs)
	wg.Wait()
	return errors.Join(errs...)
}

// publishRetrying publishes one namespace's mesh. Every namespace's mesh
// also writes the root namespace's istio-ca-root-cert, each with a CA of its
// own, so two at once may conflict; Publish is idempotent, so it is tried
// again after a random pause that keeps the workers out of step.
func publishRetrying(ctx context.Context, m *meshsim.Mesh, kube kubernetes.Interface) error {
	for try := 1; ; try++ {
		err := m.Publish(ctx, kube)
		if !apierrors.IsConflict(err) || try == 20 {
			return err
		}
		time.Sleep(50*time.Millisecond + rand.N(500*time.Millisecond))
	}
}

// checkPublished counts what the API server holds, so that a partial
// publish cannot pass for a mesh of the full size.
func checkPublished(ctx context.Context, kube kubernetes.Interface, want planStats) error {
	svcs, err := kube.CoreV1().Services("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=meshsim"})
	if err != nil {
		return err
	}
	pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=meshsim"})
	if err != nil {
		return err
	}
	if len(svcs.Items) != want.services || len(pods.Items) != want.workloads {
		return fmt.Errorf("the API server holds %d Services and %d pods, want %d and %d", len(svcs.Items), len(pods.Items), want.services, want.workloads)
	}
	return nil
}

func createPolicies(ctx context.Context, istio istioclient.Interface, p Plan) error {
	for _, peer := range p.Peers {
		pa := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: peer.Namespace, Name: "default"}}
		pa.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_Mode(securityapi.PeerAuthentication_MutualTLS_Mode_value[peer.Mode])}
		if _, err := istio.SecurityV1().PeerAuthentications(peer.Namespace).Create(ctx, pa, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("PeerAuthentication %s/default: %w", peer.Namespace, err)
		}
	}
	for _, rule := range p.Rules {
		dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Namespace: rule.Namespace, Name: rule.Service}}
		dr.Spec.Host = rule.Service
		dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: &networkingapi.ClientTLSSettings{
			Mode: networkingapi.ClientTLSSettings_TLSmode(networkingapi.ClientTLSSettings_TLSmode_value[rule.TLS]),
		}}
		if _, err := istio.NetworkingV1().DestinationRules(rule.Namespace).Create(ctx, dr, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("DestinationRule %s/%s: %w", rule.Namespace, rule.Service, err)
		}
	}
	return nil
}

// serveMetrics serves the mesh's metrics on loopback for Prometheus and
// returns the host:port.
func serveMetrics(r testbed.TB, handler http.Handler) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.Fatalf("metrics listener: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", handler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	r.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// meshlockProcess is meshlock running as a separate process.
type meshlockProcess struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
	once sync.Once
}

func startMeshlock(r testbed.TB, bin, dir string, args ...string) *meshlockProcess {
	logPath := filepath.Join(dir, "meshlock.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		r.Fatalf("meshlock log: %v", err)
	}
	cmd := exec.Command(bin, args...)
	env, err := testbed.DeployedRuntimeEnv(testbed.RepoRoot(r))
	if err != nil {
		r.Fatalf("%v", err)
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.Fatalf("starting meshlock: %v", err)
	}
	p := &meshlockProcess{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	r.Cleanup(func() {
		p.stop()
		if r.Failed() {
			r.Logf("last lines of meshlock's log:\n%s", tail(p.log, 30))
		}
	})
	return p
}

// stop sends SIGTERM, as Kubernetes would, and waits for the graceful
// shutdown; after 30 s it kills.
func (p *meshlockProcess) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
}

func (p *meshlockProcess) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("meshlock exited (%v); last lines of its log:\n%s", p.err, tail(p.log, 30))
	default:
		return nil
	}
}

func tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	parts := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(parts[max(0, len(parts)-lines):], "\n")
}

// waitReady waits for /readyz to answer 200 and /api/graph to be fresh.
func waitReady(client *http.Client, base string, p *meshlockProcess, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		if err := p.exited(); err != nil {
			return err
		}
		if ready(client, base, &last) {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("meshlock not ready after %s: %s", timeout, last)
}

func ready(client *http.Client, base string, last *string) bool {
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		*last = err.Error()
		return false
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		*last = fmt.Sprintf("/readyz %s: %s", resp.Status, bytes.TrimSpace(body))
		return false
	}
	resp, err = client.Get(base + "/api/graph")
	if err != nil {
		*last = err.Error()
		return false
	}
	defer resp.Body.Close()
	var snap struct {
		Stale bool   `json:"stale"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		*last = "/api/graph: " + err.Error()
		return false
	}
	if snap.Stale {
		*last = "graph stale: " + snap.Error
		return false
	}
	return true
}

// serverState reads meshlock's counters and its process's figures just
// after a refresh ends, when none is half done: the period then holds
// whole refreshes, each with all its queries.
func serverState(r testbed.TB, client *http.Client, base string, p *meshlockProcess, refresh time.Duration) (serverMetrics, procStats) {
	read := func() serverMetrics {
		if err := p.exited(); err != nil {
			r.Fatalf("%v", err)
		}
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			r.Fatalf("/metrics: %v", err)
		}
		defer resp.Body.Close()
		m, err := parseServerMetrics(resp.Body)
		if err != nil {
			r.Fatalf("%v", err)
		}
		return m
	}
	first := read()
	deadline := time.Now().Add(3 * refresh)
	for {
		m := read()
		if m.Refreshes > first.Refreshes {
			ps, err := readProc(p.cmd.Process.Pid)
			if err != nil {
				r.Fatalf("meshlock's /proc: %v", err)
			}
			return m, ps
		}
		if time.Now().After(deadline) {
			r.Fatalf("meshlock did not refresh within %s", 3*refresh)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// timeGraph GETs /api/graph five times and answers the median time, the
// size as sent (0 when gzip was asked and the server answered without it)
// and the decoded body.
func timeGraph(r testbed.TB, client *http.Client, base string, gzipped bool) (time.Duration, int, []byte) {
	var times []time.Duration
	var size int
	var body []byte
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/graph", nil)
		if gzipped {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			r.Fatalf("/api/graph: %v", err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		times = append(times, time.Since(start))
		if err != nil || resp.StatusCode != http.StatusOK {
			r.Fatalf("/api/graph: %s %v", resp.Status, err)
		}
		size, body = len(raw), raw
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err == nil {
				body, err = io.ReadAll(zr)
			}
			if err != nil {
				r.Fatalf("/api/graph gzip: %v", err)
			}
		} else if gzipped {
			size = 0
		}
	}
	slices.Sort(times)
	return times[len(times)/2], size, body
}

// saveProfile saves one of meshlock's pprof profiles.
func saveProfile(r testbed.TB, metricsBase, name, path string) {
	resp, err := http.Get(metricsBase + "/debug/pprof/" + name)
	if err != nil {
		r.Errorf("profile %s: %v", name, err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, data)
	}
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		r.Errorf("profile %s: %v", name, err)
		return
	}
	r.Logf("wrote %s", path)
}

func newPromAPI(r testbed.TB, url string) promv1.API {
	c, err := promapi.NewClient(promapi.Config{Address: url})
	if err != nil {
		r.Fatalf("Prometheus client: %v", err)
	}
	return promv1.NewAPI(c)
}

// scalar runs an instant query whose answer is one number.
func scalar(ctx context.Context, api promv1.API, q string) (float64, error) {
	v, _, _, err := api.Query(ctx, q, time.Now())
	if err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 {
		return 0, fmt.Errorf("%s: answer %v, want one number", q, v)
	}
	return float64(vec[0].Value), nil
}

// scrapeHealth says whether Prometheus kept up with the mesh's scrapes
// over the period: how long a scrape took and how many of those due succeeded.
func scrapeHealth(ctx context.Context, api promv1.API, period, interval time.Duration) scrapeStats {
	var s scrapeStats
	rng := prom.FormatWindow(period.Truncate(time.Second))
	queries := []struct {
		dst *float64
		q   string
	}{
		{&s.samples, `scrape_samples_scraped{job="meshsim"}`},
		{&s.duration, `scrape_duration_seconds{job="meshsim"}`},
		{&s.max, fmt.Sprintf(`max_over_time(scrape_duration_seconds{job="meshsim"}[%s])`, rng)},
		{&s.upShare, fmt.Sprintf(`sum_over_time(up{job="meshsim"}[%s])`, rng)},
	}
	for _, q := range queries {
		v, err := scalar(ctx, api, q.q)
		if err != nil {
			s.err = err
			return s
		}
		*q.dst = v
	}
	s.upShare /= period.Seconds() / interval.Seconds()
	return s
}

// istioCounters are the raw series the look-back reads.
var istioCounters = []string{"istio_requests_total", "istio_tcp_sent_bytes_total", "istio_tcp_received_bytes_total", "istio_tcp_connections_opened_total"}

// measureLookback times the history query, as the look-back makes it,
// over 1m, 2m, … up to the time the mesh has run, at a step of 1m, then
// over the longest range in one step: the same samples in fewer subquery
// steps, which tells a cost per sample from a cost per step.
func measureLookback(ctx context.Context, r testbed.TB, url string, api promv1.API, queryLog string, meshStart time.Time, interval time.Duration) *lookbackResult {
	res := &lookbackResult{step: time.Minute}
	// The next whole minute gives the range one more minute of the mesh's past.
	end := time.Now().Truncate(time.Minute).Add(time.Minute)
	r.Logf("look-back: waiting for %s, a whole minute", end.Format(time.TimeOnly))
	time.Sleep(time.Until(end.Add(time.Second))) // a second for the last scrape to land
	longest := end.Sub(meshStart).Truncate(time.Minute)
	if longest < time.Minute {
		res.err = fmt.Errorf("the mesh ran %s before the last whole minute: too short for a look-back", end.Sub(meshStart))
		return res
	}
	series, err := scalar(ctx, api, fmt.Sprintf(`count({__name__=~"%s"})`, strings.Join(istioCounters, "|")))
	if err != nil {
		res.err = err
		return res
	}
	res.series = int(series)

	client, err := prom.New(prom.Options{URL: url, Registerer: prometheus.NewRegistry()})
	if err != nil {
		r.Fatalf("prom client: %v", err)
	}
	// A first query is slower (Prometheus' heap and the chunks' pages
	// warming up); the figures are those of a Prometheus in use.
	if _, _, err := client.History(ctx, end, time.Minute, res.step); err != nil {
		res.err = err
		return res
	}
	query := func(rng, step time.Duration) (lookbackPoint, error) {
		r.Logf("look-back: history query over %s (step %s) of %d raw series", prom.FormatWindow(rng), prom.FormatWindow(step), res.series)
		p := lookbackPoint{rng: rng, step: step, rawSamples: series * rng.Seconds() / interval.Seconds()}
		start := time.Now()
		samples, _, err := client.History(ctx, end, rng, step)
		p.wall = time.Since(start)
		if err != nil {
			return p, err
		}
		p.returned = len(samples)
		time.Sleep(time.Second) // the query log's line
		entries, err := readQueryLog(queryLog)
		if err != nil {
			return p, err
		}
		p.eval = sumQueries(entries, start, time.Now(), func(q string) bool { return strings.Contains(q, "meshlock_term") })
		if p.eval.Count != 1 || p.eval.Eval <= 0 {
			return p, fmt.Errorf("the query log holds %d history queries for the %s range, want 1", p.eval.Count, rng)
		}
		return p, nil
	}
	for rng := time.Minute; rng <= longest; rng += time.Minute {
		p, err := query(rng, res.step)
		if err != nil {
			res.err = err
			return res
		}
		res.points = append(res.points, p)
	}
	if longest > res.step {
		p, err := query(longest, longest)
		if err != nil {
			res.err = err
			return res
		}
		res.coarse = &p
	}
	return res
}

// pageResult is the page opened in headless Chromium on the measured mesh.
type pageResult struct {
	readyMs     float64 // window.meshlock.readyMs: navigation start to ready, in the page
	wall        time.Duration
	rendererRSS int64
	err         error
}

// openPage opens the dashboard as a user would and waits for
// window.meshlock.ready.
func openPage(r testbed.TB, base string) *pageResult {
	b := e2e.StartBrowser(r, 1280, 800)
	res := &pageResult{}
	res.readyMs, res.wall, res.err = b.OpenReady(base+"/", 20*time.Millisecond)
	if rss, err := b.RendererRSS(); err == nil {
		res.rendererRSS = rss
	}
	return res
}
