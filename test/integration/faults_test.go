// Fault tests on the real test bed: Prometheus stopped, paused, slow, garbage or huge, the kube-apiserver
// restarted, a write refused midway, and what the running dashboard shows and answers meanwhile and after.

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/live"
	"github.com/meshlock/meshlock/internal/prom"
	"github.com/meshlock/meshlock/test/testbed"
	"github.com/meshlock/meshlock/web"

	"github.com/meshlock/meshlock/internal/testutil"
)

// The fault tests stop, pause or break the test bed's real servers under a
// running dashboard (the Watcher, the Prometheus client, the refresh loop and
// the HTTP handler, wired as cmd/server wires them) and check what the
// dashboard shows and answers meanwhile and after.

const (
	faultRefresh      = time.Second
	faultQueryTimeout = 2 * time.Second
)

// dashboard is meshlock's pipeline on the test bed.
type dashboard struct {
	refresher *live.Loop
	watcher   *k8s.Watcher
	url       string
}

func startDashboard(t *testing.T, cfg *rest.Config, prometheusURL string) *dashboard {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.DiscardHandler)
	registry := prometheus.NewRegistry()
	// Short timeouts, so that a dead API server shows up within the test.
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 5 * time.Second
	kube := kubernetes.NewForConfigOrDie(cfg)
	istio := istioclient.NewForConfigOrDie(cfg)
	watcher, err := k8s.NewWatcher(k8s.Options{Kube: kube, Istio: istio, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	promClient, err := prom.New(prom.Options{URL: prometheusURL, Window: 4 * time.Second, QueryTimeout: faultQueryTimeout,
		Registerer: registry, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	refresher, err := live.NewLoop(live.LoopOptions{
		Sources: []live.SourceConfig{
			{Name: "prometheus", Source: live.SampleFunc(promClient.Fetch)},
			{Name: "kubernetes", Source: live.ClusterSource{Reader: watcher}, Changes: watcher.Changes()},
		},
		Interval: faultRefresh, Window: 4 * time.Second, Registerer: registry, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := web.NewHub(web.HubOptions{Registerer: registry, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	refresher.Subscribe(hub.Publish)
	enforcer, err := enforce.New(enforce.Options{AuditNamespace: enfAuditNS, AuditClient: kube, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	handler, err := web.NewHandler(web.Options{BasePath: "/", Registry: registry, Graph: refresher, Stream: hub,
		AllowEnforce: true, Enforcer: enforcer, Logger: logger,
		Auth: web.ServerIdentity{Actor: web.Actor{Who: testbed.AdminUser, Clients: k8s.Clients{Kube: kube, Istio: istio}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	watcher.Start(ctx)
	syncCtx, cancelSync := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSync()
	if err := watcher.WaitForSync(syncCtx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); refresher.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &dashboard{refresher: refresher, watcher: watcher, url: srv.URL}
}

// waitSnapshot polls the dashboard's snapshot until cond holds, and fails
// after testutil.HangBound; it answers how long that took (for the log:
// how long recovery takes is logged, not asserted: timings belong in benchmarks).
func (d *dashboard) waitSnapshot(t *testing.T, what string, cond func(graph.Snapshot) bool) time.Duration {
	within := testutil.HangBound
	t.Helper()
	start := time.Now()
	for {
		s := d.refresher.Snapshot()
		if cond(s) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s; last snapshot: stale=%v error=%q nodes=%d ready=%v", what, within, s.Stale, s.Error, len(s.Nodes), d.refresher.Ready())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *dashboard) readyz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get(d.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (d *dashboard) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &answer); err != nil {
		t.Fatalf("POST %s: %d %s: %v", path, resp.StatusCode, data, err)
	}
	return resp.StatusCode, answer
}

func hasNode(s graph.Snapshot, id string) bool {
	for _, n := range s.Nodes {
		if n.ID == id {
			return true
		}
	}
	return false
}

// serverProcess is a server the test bed started, found among this test
// process's children by its name and a flag it was given, so that a test
// can really signal it and start it again exactly as it was started.
type serverProcess struct {
	pid  int
	exe  string
	args []string
	dir  string
}

func findServer(t *testing.T, comm, flag string) serverProcess {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		end := bytes.LastIndexByte(stat, ')')
		start := bytes.IndexByte(stat, '(')
		if start < 0 || end < start {
			continue
		}
		fields := strings.Fields(string(stat[end+1:]))
		if string(stat[start+1:end]) != comm || len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		for _, a := range args {
			if a == flag {
				exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
				if err != nil {
					t.Fatal(err)
				}
				dir, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
				if err != nil {
					t.Fatal(err)
				}
				return serverProcess{pid: pid, exe: exe, args: args[1:], dir: dir}
			}
		}
	}
	t.Fatalf("no child process %s with %s", comm, flag)
	return serverProcess{}
}

func (p serverProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(p.pid, sig); err != nil {
		t.Fatalf("signal %v to %s (pid %d): %v", sig, filepath.Base(p.exe), p.pid, err)
	}
}

// kill ends the process at once (SIGKILL) and waits until it is gone.
func (p serverProcess) kill(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(p.pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still there 10s after SIGKILL", p.pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart starts the process again with the same binary, arguments and
// folder (so the same port, data and certificates); it is killed when the
// test ends, before the test bed's own cleanup.
func (p serverProcess) restart(t *testing.T) serverProcess {
	t.Helper()
	logFile, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(p.exe)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.exe, p.args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.dir, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			if len(data) > 4000 {
				data = data[len(data)-4000:]
			}
			t.Logf("log of the restarted %s:\n%s", filepath.Base(p.exe), data)
		}
	})
	return serverProcess{pid: cmd.Process.Pid, exe: p.exe, args: p.args, dir: p.dir}
}

func waitHTTPOK(t *testing.T, client *http.Client, url string) {
	t.Helper()
	testutil.Eventually(t, "GET "+url, func() (bool, string) {
		resp, err := client.Get(url)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// Prometheus killed: the snapshot turns stale with the error and /readyz
// answers 503; started again on the same port: fresh, without restarting
// the dashboard. Paused (SIGSTOP): stale, the query timed out; resumed:
// fresh again. The times are logged (a refresh, a refresh and a query
// timeout on a quiet machine); only a hang fails.
func TestFaultPrometheusStoppedAndBack(t *testing.T) {
	b := StartBookinfo(t, nil)
	d := startDashboard(t, b.Cluster.RESTConfig, b.Prometheus.URL)
	fresh := func(s graph.Snapshot) bool { return !s.Stale && s.Error == "" && d.refresher.Ready() == nil }
	stale := func(s graph.Snapshot) bool { return s.Stale && s.Error != "" && d.refresher.Ready() != nil }
	d.waitSnapshot(t, "a fresh snapshot with bookinfo", func(s graph.Snapshot) bool {
		return fresh(s) && hasNode(s, "default/reviews") && len(s.Edges) > 0
	})
	if code, body := d.readyz(t); code != http.StatusOK {
		t.Fatalf("/readyz before the fault: %d %s", code, body)
	}
	addr := strings.TrimPrefix(b.Prometheus.URL, "http://")
	server := findServer(t, "prometheus", "--web.listen-address="+addr)

	server.kill(t)
	took := d.waitSnapshot(t, "stale after Prometheus was killed", stale)
	t.Logf("stale %s after SIGKILL", took)
	s := d.refresher.Snapshot()
	if !strings.Contains(s.Error, "prometheus") || !hasNode(s, "default/reviews") {
		t.Errorf("the stale snapshot: error %q, %d nodes; want the error and the last good graph", s.Error, len(s.Nodes))
	}
	if code, body := d.readyz(t); code != http.StatusServiceUnavailable || !strings.Contains(body, "prometheus") {
		t.Errorf("/readyz with Prometheus down: %d %s, want 503 with the reason", code, body)
	}

	server = server.restart(t)
	waitHTTPOK(t, http.DefaultClient, b.Prometheus.URL+"/-/ready")
	took = d.waitSnapshot(t, "fresh after Prometheus came back", fresh)
	t.Logf("fresh %s after Prometheus was ready again", took)
	if code, body := d.readyz(t); code != http.StatusOK {
		t.Errorf("/readyz after Prometheus came back: %d %s", code, body)
	}

	server.signal(t, syscall.SIGSTOP)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = syscall.Kill(server.pid, syscall.SIGCONT)
		}
	})
	took = d.waitSnapshot(t, "stale while Prometheus is paused", stale)
	t.Logf("stale %s after SIGSTOP", took)
	if s := d.refresher.Snapshot(); !strings.Contains(s.Error, "no answer within") {
		t.Errorf("the error while Prometheus is paused: %q, want that it did not answer in time", s.Error)
	}
	server.signal(t, syscall.SIGCONT)
	stopped = false
	d.waitSnapshot(t, "fresh after Prometheus resumed", fresh)
}

// faultProxy is a loopback TCP proxy in front of a real server that can be
// told to pass, delay the answer, answer garbage or a 50 MB body.
type faultProxy struct {
	listener net.Listener
	upstream string
	mode     atomic.Value // string
	sent     atomic.Int64 // bytes of made-up answers written
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// setMode switches the mode and drops every open connection, so that the
// client's kept-alive ones meet the new mode too.
func (p *faultProxy) setMode(mode string) {
	p.mode.Store(mode)
	p.closeConns()
}

func (p *faultProxy) closeConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

const (
	modePass       = "pass"
	modeSlow       = "slow"
	modeRawGarbage = "raw-garbage"
	modeJSONJunk   = "json-junk"
	modeHuge       = "huge"
	modeHugeLength = "huge-announced"
	hugeBody       = 50 << 20
	hugeCap        = 16 << 20 // under hugeBody: the default cap is larger
	slowDelay      = 10 * time.Second
)

func startFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{listener: l, upstream: upstream, conns: map[net.Conn]bool{}}
	p.mode.Store(modePass)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[conn] = true
			p.mu.Unlock()
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(conn) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		p.closeConns()
		p.wg.Wait()
	})
	return p
}

func (p *faultProxy) url() string { return "http://" + p.listener.Addr().String() }

func (p *faultProxy) serve(conn net.Conn) {
	defer func() {
		conn.Close()
		p.mu.Lock()
		delete(p.conns, conn)
		p.mu.Unlock()
	}()
	mode := p.mode.Load().(string)
	if mode == modePass || mode == modeSlow {
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			return
		}
		defer up.Close()
		go func() { _, _ = io.Copy(up, conn); up.Close() }()
		if mode == modeSlow {
			// Hold the answer back; a client that gives up closes conn.
			_ = conn.SetDeadline(time.Now().Add(slowDelay + time.Second))
			time.Sleep(slowDelay)
		}
		_, _ = io.Copy(conn, up)
		return
	}
	// Read the request head, then answer without asking the server.
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	req, err := http.ReadRequest(r)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, req.Body)
	switch mode {
	case modeRawGarbage:
		_, _ = conn.Write([]byte("\x00\xff\xfe garbage, not HTTP \r\n\r\n\x7f"))
	case modeJSONJunk:
		body := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"reporter":`
		_, _ = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	case modeHuge, modeHugeLength:
		head := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
		if mode == modeHugeLength {
			head += fmt.Sprintf("Content-Length: %d\r\n", hugeBody)
		}
		_, _ = conn.Write([]byte(head + "\r\n" + `{"status":"success","data":{"resultType":"vector","result":[`))
		// A valid vector that goes on and on.
		sample := []byte(`{"metric":{"reporter":"destination","source_workload":"w"},"value":[1,"1"]},`)
		chunk := bytes.Repeat(sample, (64<<10)/len(sample))
		for written := 0; written < hugeBody; written += len(chunk) {
			n, err := conn.Write(chunk)
			p.sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
}

// Prometheus too slow, answering garbage or a 50 MB body: each query ends
// with a clear error saying so (its timeout, not the test's minute, ended
// the slow one), without reading the body whole; the dashboard's snapshot
// turns stale with that error.
func TestFaultPrometheusSlowGarbageHuge(t *testing.T) {
	upstream := testbed.StartPrometheus(t)
	proxy := startFaultProxy(t, strings.TrimPrefix(upstream.URL, "http://"))
	newClient := func(timeout time.Duration) *prom.Client {
		client, err := prom.New(prom.Options{URL: proxy.url(), QueryTimeout: timeout, Registerer: prometheus.NewRegistry(),
			Logger: slog.New(slog.DiscardHandler), MaxResponseBytes: hugeCap})
		if err != nil {
			t.Fatal(err)
		}
		return client
	}
	client := newClient(faultQueryTimeout)
	fetch := func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err := client.Fetch(ctx)
		return time.Since(start), err
	}
	if took, err := fetch(); err != nil {
		t.Fatalf("through the proxy in pass mode: %v (%s)", err, took)
	}
	// The streamed 50 MB body gets a longer query timeout, so that the size
	// cap, not the clock, ends it even on a loaded machine.
	const hugeTimeout = 15 * faultQueryTimeout
	// The heap is measured with a tight GC target, so that its peak shows
	// what the client holds, not how far the collector let garbage pile up.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	for _, tc := range []struct {
		mode, want string
		timeout    time.Duration
	}{
		{modeSlow, "no answer within " + faultQueryTimeout.String(), faultQueryTimeout},
		{modeRawGarbage, "malformed HTTP", faultQueryTimeout},
		{modeJSONJunk, "prometheus", faultQueryTimeout},
		{modeHugeLength, "too large", faultQueryTimeout},
		{modeHuge, "too large", hugeTimeout},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			client = newClient(tc.timeout)
			proxy.setMode(tc.mode)
			proxy.sent.Store(0)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			peak := watchHeap()
			took, err := fetch()
			heapPeak := peak()
			t.Logf("%s: %s, %v; %d bytes sent, heap peak +%d MB", tc.mode, took, err, proxy.sent.Load(), (int64(heapPeak)-int64(before.HeapInuse))>>20)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is not one line: %q", err)
			}
			if tc.mode == modeHuge || tc.mode == modeHugeLength {
				// Every query read at most the cap before giving up.
				if sent := proxy.sent.Load(); sent >= int64(len(client.Queries()))*hugeBody {
					t.Errorf("the client read all %d bytes of the 50 MB answers", sent)
				}
				// Each concurrent query decodes as it reads, holding at most
				// the Samples of the cap's series (prom's seriesBytes).
				if grown := int64(heapPeak) - int64(before.HeapInuse); grown > int64(len(client.Queries()))*4*hugeCap {
					t.Errorf("the heap grew by %d MB, want it bounded by the answer cap", grown>>20)
				}
			}
		})
	}
	proxy.setMode(modePass)
	if _, err := fetch(); err != nil {
		t.Errorf("back in pass mode: %v", err)
	}

	// The same through the dashboard: stale with the error, then fresh.
	cluster := testbed.StartCluster(t)
	d := startDashboard(t, cluster.RESTConfig, proxy.url())
	d.waitSnapshot(t, "fresh through the proxy", func(s graph.Snapshot) bool { return !s.Stale })
	proxy.setMode(modeJSONJunk)
	d.waitSnapshot(t, "stale on a garbage answer", func(s graph.Snapshot) bool {
		return s.Stale && strings.Contains(s.Error, "prometheus") && d.refresher.Ready() != nil
	})
	proxy.setMode(modePass)
	d.waitSnapshot(t, "fresh again", func(s graph.Snapshot) bool { return !s.Stale && d.refresher.Ready() == nil })
}

// The kube-apiserver killed: enforce answers 503 meanwhile; started again
// on the same port and etcd: the informers recover without a restart of
// the dashboard, and objects created after it show up.
func TestFaultAPIServerStoppedAndRestarted(t *testing.T) {
	env := enfStart(t)
	ctx := enfCtx(t)
	enfService(t, env.kube, "default", "before", map[string]string{"app": "before"})
	promServer := testbed.StartPrometheus(t)
	d := startDashboard(t, env.cluster.RESTConfig, promServer.URL)
	d.waitSnapshot(t, "the Service before the outage", func(s graph.Snapshot) bool {
		return !s.Stale && hasNode(s, "default/before")
	})
	u, err := url.Parse(env.cluster.URL)
	if err != nil {
		t.Fatal(err)
	}
	server := findServer(t, "kube-apiserver", "--secure-port="+u.Port())
	server.kill(t)

	dryRun := `{"scope":"namespace","namespace":"default","mode":"peerauthentication","dryRun":true}`
	for _, body := range []string{dryRun, strings.Replace(dryRun, `"dryRun":true`, `"dryRun":false,"planId":"0123"`, 1)} {
		code, answer := d.post(t, "/api/enforce", body)
		if code != http.StatusServiceUnavailable || answer["error"] == "" {
			t.Errorf("enforce with the API server down: %d %v, want 503", code, answer)
		}
	}
	if code, answer := d.post(t, "/api/actions/20261126-210000-0123abcd/undo", ""); code != http.StatusServiceUnavailable {
		t.Errorf("undo with the API server down: %d %v, want 503", code, answer)
	}

	server.restart(t)
	httpClient, err := rest.HTTPClientFor(env.cluster.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	waitHTTPOK(t, httpClient, env.cluster.URL+"/readyz")
	enfService(t, env.kube, "default", "after", map[string]string{"app": "after"})
	pa := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}}
	pa.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT}
	if _, err := env.istio.SecurityV1().PeerAuthentications("default").Create(ctx, pa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d.waitSnapshot(t, "the Service and the PeerAuthentication created after the restart", func(s graph.Snapshot) bool {
		for _, n := range s.Nodes {
			if n.ID == "default/after" {
				return !s.Stale && n.PeerAuthentication == "STRICT"
			}
		}
		return false
	})
	if code, answer := d.post(t, "/api/enforce", dryRun); code != http.StatusOK {
		t.Errorf("enforce after the restart: %d %v", code, answer)
	}
}

// The API server refuses the third of four writes (a ValidatingAdmissionPolicy
// that denies updates of DestinationRule ratings, added after the plan was
// shown): the first two are rolled back, nothing stays changed, and the
// audit trail records the failed action as rolled back.
func TestFaultThirdOfFourWritesRefused(t *testing.T) {
	env := enfStart(t)
	ctx := enfCtx(t)
	enfBookinfo(t, env)
	promServer := testbed.StartPrometheus(t)
	d := startDashboard(t, env.cluster.RESTConfig, promServer.URL)
	before := enfRawSpecs(t, env.istio, "default")

	code, plan := d.post(t, "/api/enforce", `{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":true}`)
	planID, _ := plan["planId"].(string)
	if code != http.StatusOK || planID == "" || len(plan["changes"].([]any)) != 4 {
		t.Fatalf("the plan: %d %v", code, plan)
	}

	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "no-ratings"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"networking.istio.io"}, APIVersions: []string{"*"}, Resources: []string{"destinationrules"}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: "object.metadata.name != 'ratings'",
				Message: "the fault test refuses DestinationRule ratings", Reason: ptr(metav1.StatusReasonForbidden)}},
		},
	}
	if _, err := env.kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "no-ratings"},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: "no-ratings", ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}},
	}
	if _, err := env.kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The policy takes a moment to be enforced: probe with a dry-run patch.
	testutil.Eventually(t, "the policy refuses updates of ratings", func() (bool, string) {
		_, err := env.istio.NetworkingV1().DestinationRules("default").Patch(ctx, "ratings", types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"probe":"x"}}}`), metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "refuses DestinationRule ratings"), errString(err)
	})

	code, answer := d.post(t, "/api/enforce", `{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":false,"planId":"`+planID+`"}`)
	if code != http.StatusForbidden || !strings.Contains(fmt.Sprint(answer["error"]), "ratings") {
		t.Errorf("the apply: %d %v, want 403 naming ratings", code, answer)
	}
	if after := enfRawSpecs(t, env.istio, "default"); !mapsEqual(after, before) {
		t.Errorf("the rules were left changed:\nbefore %v\nafter  %v", before, after)
	}

	resp, err := http.Get(d.url + "/api/actions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var actions []enforce.Action
	if err := json.NewDecoder(resp.Body).Decode(&actions); err != nil {
		t.Fatal(err)
	}
	if len(actions) != 1 {
		t.Fatalf("the audit trail: %+v, want the failed action", actions)
	}
	a := actions[0]
	if !a.RolledBack || !strings.Contains(a.Error, "ratings") || a.UndoneAt == nil || len(a.Objects) != 2 ||
		a.Objects[0].Name != "details" || a.Objects[1].Name != "productpage" || !a.Objects[0].RolledBack || !a.Objects[1].RolledBack {
		t.Errorf("the audit record: %+v", a)
	}
	if code, answer := d.post(t, "/api/actions/"+a.ID+"/undo", ""); code != http.StatusConflict {
		t.Errorf("undo of the rolled-back action: %d %v, want 409", code, answer)
	}
	var events []string
	list, err := env.kube.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, e := range list.Items {
			if e.Reason == "MeshlockEnforced" {
				events = append(events, e.Name)
			}
		}
	}
	if len(events) != 0 {
		t.Errorf("Events of an enforcement that did not happen: %v", events)
	}
}

func ptr[T any](v T) *T { return &v }

// watchHeap samples the heap in use until the returned function is called,
// which answers the highest value seen.
func watchHeap() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak.Load()
	}
}
