// The load command (make loadtest): V WebSocket viewers of a 5,000-edge graph on the real
// meshlock binary, which reads a real kube-apiserver of the test bed and a synthetic Prometheus
// whose answer changes 1% of the edges at every refresh. It reports the delivery latency from a
// refresh to each viewer (p50, p99), meshlock's RSS, CPU and goroutines, and whether the
// goroutines go back to their baseline once the viewers leave.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/meshlock/meshlock/test/testbed"
)

func main() {
	viewersFlag := flag.String("viewers", "1000,10000", "comma-separated numbers of viewers, one run each")
	edges := flag.Int("edges", 5000, "edges of the synthetic graph")
	refreshes := flag.Int("refreshes", 6, "refreshes measured per run, once every viewer has its first snapshot")
	refresh := flag.Duration("refresh", 5*time.Second, "meshlock's --refresh")
	profiles := flag.String("profiles", "", "folder for meshlock's heap and CPU profiles of each run (pprof), none when empty")
	flag.Parse()
	var counts []int
	for _, v := range strings.Split(*viewersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "loadtest: bad -viewers %q\n", *viewersFlag)
			os.Exit(2)
		}
		counts = append(counts, n)
	}

	r := testbed.NewRunner()
	defer r.Close()
	cluster := testbed.StartCluster(r)
	prom := newSyntheticPrometheus(*edges)
	promServer := &http.Server{Handler: prom, ReadHeaderTimeout: 5 * time.Second}
	promListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.Fatalf("listen: %v", err)
	}
	go func() { _ = promServer.Serve(promListener) }()
	r.Cleanup(func() { promServer.Close() })

	ml := startMeshlock(r, cluster.Kubeconfig, "http://"+promListener.Addr().String(), *refresh)
	waitReady(r, ml.base)

	fmt.Printf("machine: %s; meshlock runs with %s, as deploy/base does\n", machine(), strings.Join(ml.env, " "))
	fmt.Printf("\n| viewers | edges | delivery p50 | p99 | max | messages | meshlock RSS (peak) | heap, stacks in use | CPU per refresh | goroutines: before, connected, after |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, n := range counts {
		row := runViewers(r, ml, n, *refreshes, *refresh, *profiles)
		fmt.Printf("| %d | %d | %s | %s | %s | %d | %s (%s) | %s, %s | %.2f s | %d, %d, %d |\n", n, *edges,
			ms(row.p50), ms(row.p99), ms(row.max), row.messages, mib(row.rss), mib(row.peak), mib(row.heap), mib(row.stacks), row.cpuPerRefresh,
			row.goroutinesBefore, row.goroutinesConnected, row.goroutinesAfter)
		if row.goroutinesAfter > row.goroutinesBefore+10 {
			r.Errorf("%d viewers: goroutines %d after they left, %d before", n, row.goroutinesAfter, row.goroutinesBefore)
		}
	}
	if r.Failed() {
		r.Close()
		os.Exit(1)
	}
}

type result struct {
	p50, p99, max                                          time.Duration
	messages                                               int
	rss, peak, heap, stacks                                int64
	cpuPerRefresh                                          float64
	goroutinesBefore, goroutinesConnected, goroutinesAfter int
}

// runViewers connects n viewers, measures refreshes, and lets them go.
func runViewers(r *testbed.Runner, ml *meshlock, n, refreshes int, refresh time.Duration, profiles string) result {
	var res result
	res.goroutinesBefore = goroutines(r, ml.metrics)
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu        sync.Mutex
		latencies []time.Duration
		measuring atomic.Int64 // unix nanos of the measurement's start; 0 before
		first     sync.WaitGroup
		conns     sync.WaitGroup
		failures  atomic.Int64
	)
	url := "ws" + strings.TrimPrefix(ml.base, "http") + "/api/stream"
	first.Add(n)
	sem := make(chan struct{}, 50) // connections opened at once
	for range n {
		sem <- struct{}{}
		conns.Add(1)
		go func() {
			defer conns.Done()
			gotFirst := false
			defer func() {
				if !gotFirst {
					first.Done()
				}
			}()
			c, _, err := websocket.Dial(ctx, url, nil)
			<-sem
			if err != nil {
				failures.Add(1)
				return
			}
			defer c.CloseNow()
			c.SetReadLimit(256 << 20)
			head := make([]byte, 256)
			for {
				_, rd, err := c.Reader(ctx)
				if err != nil {
					return
				}
				k, _ := io.ReadFull(rd, head)
				_, _ = io.Copy(io.Discard, rd)
				at := time.Now()
				if !gotFirst {
					gotFirst = true
					first.Done()
					continue
				}
				start := measuring.Load()
				generated, ok := generatedAt(head[:k])
				if start == 0 || !ok || generated.UnixNano() < start {
					continue
				}
				mu.Lock()
				latencies = append(latencies, at.Sub(generated))
				mu.Unlock()
			}
		}()
	}
	first.Wait()
	if f := failures.Load(); f > 0 {
		r.Errorf("%d of %d viewers could not connect", f, n)
	}
	res.goroutinesConnected = goroutines(r, ml.metrics)
	cpuBefore := ml.cpuSeconds()
	measuring.Store(time.Now().UnixNano())
	period := time.Duration(refreshes)*refresh + refresh/2
	if profiles != "" {
		ml.profile(r, fmt.Sprintf("profile?seconds=%d", int(period.Seconds())), filepath.Join(profiles, fmt.Sprintf("cpu-%d.prof", n)))
	} else {
		time.Sleep(period)
	}
	if profiles != "" {
		ml.profile(r, "heap", filepath.Join(profiles, fmt.Sprintf("heap-%d.prof", n)))
	}
	cpu := ml.cpuSeconds() - cpuBefore
	res.rss, res.peak = ml.memory()
	res.heap = int64(metric(r, ml.metrics, "go_memstats_heap_inuse_bytes"))
	res.stacks = int64(metric(r, ml.metrics, "go_memstats_stack_inuse_bytes"))
	cancel()
	conns.Wait()
	mu.Lock()
	slices.Sort(latencies)
	res.messages = len(latencies)
	if len(latencies) > 0 {
		res.p50 = latencies[len(latencies)/2]
		res.p99 = latencies[min(len(latencies)-1, len(latencies)*99/100)]
		res.max = latencies[len(latencies)-1]
	}
	mu.Unlock()
	res.cpuPerRefresh = cpu / float64(refreshes)
	// The server lets go of a viewer once its socket closes.
	deadline := time.Now().Add(30 * time.Second)
	for {
		res.goroutinesAfter = goroutines(r, ml.metrics)
		if res.goroutinesAfter <= res.goroutinesBefore+2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if res.messages < n*(refreshes-1) {
		r.Errorf("%d viewers: %d delta messages measured, want about %d", n, res.messages, n*refreshes)
	}
	return res
}

// generatedAt reads the message's generatedAt without decoding the rest:
// {"type":"delta","delta":{"generatedAt":"…"…
func generatedAt(head []byte) (time.Time, bool) {
	const key = `"generatedAt":"`
	i := bytes.Index(head, []byte(key))
	if i < 0 {
		return time.Time{}, false
	}
	rest := head[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	return t, err == nil
}

// meshlock is the dashboard's process.
type meshlock struct {
	cmd     *exec.Cmd
	base    string
	metrics string   // --metrics-addr, which also serves the profiles (--pprof)
	env     []string // the Go runtime's settings, deploy/base's
}

// profile saves one of meshlock's pprof profiles.
func (m *meshlock) profile(r *testbed.Runner, name, path string) {
	resp, err := http.Get(m.metrics + "/debug/pprof/" + name)
	if err != nil {
		r.Fatalf("profile %s: %v", name, err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		r.Fatalf("profile %s: %v", name, err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		r.Fatalf("profile %s: %v", name, err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
}

func startMeshlock(r *testbed.Runner, kubeconfig, promURL string, refresh time.Duration) *meshlock {
	dir := r.TempDir()
	bin := filepath.Join(dir, "meshlock")
	build := exec.Command("go", "build", "-o", bin, "./cmd/server")
	build.Dir = testbed.RepoRoot(r)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		r.Fatalf("build meshlock: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(r))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(r))
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--prometheus-url="+promURL, "--addr="+addr,
		"--metrics-addr="+metricsAddr, "--pprof",
		"--refresh="+refresh.String(), "--lookback=0", "--max-streams=20000", "--max-streams-per-user=20000", "--log-format=json")
	logFile, err := os.Create(filepath.Join(dir, "meshlock.log"))
	if err != nil {
		r.Fatalf("log: %v", err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// As deploy/base runs it: a 512Mi limit and Go's soft limit at 90% of it.
	env, err := testbed.DeployedRuntimeEnv(testbed.RepoRoot(r))
	if err != nil {
		r.Fatalf("%v", err)
	}
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		r.Fatalf("start meshlock: %v", err)
	}
	r.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
		logFile.Close()
	})
	return &meshlock{cmd: cmd, base: "http://" + addr, metrics: "http://" + metricsAddr, env: env}
}

func waitReady(r *testbed.Runner, base string) {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.Fatalf("meshlock not ready within 90s")
}

// goroutines reads go_goroutines from meshlock's /metrics.
func goroutines(r *testbed.Runner, base string) int {
	return int(metric(r, base, "go_goroutines"))
}

// metric reads one unlabelled sample from meshlock's /metrics.
func metric(r *testbed.Runner, base, name string) float64 {
	resp, err := http.Get(base + "/metrics") // base: the metrics address
	if err != nil {
		r.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	r.Fatalf("no %s on /metrics", name)
	return 0
}

// cpuSeconds is the process's user and system time (/proc/<pid>/stat,
// clock ticks of 1/100 s).
func (m *meshlock) cpuSeconds() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}

// memory is VmRSS and VmHWM (peak) in bytes.
func (m *meshlock) memory() (rss, peak int64) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}

func machine() string {
	model, cores := "unknown CPU", 0
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				cores++
			}
		}
	}
	return fmt.Sprintf("%s, %d cores", model, cores)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
func mib(b int64) string        { return fmt.Sprintf("%d MiB", b>>20) }
