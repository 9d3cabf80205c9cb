// Package e2e drives Debian's Chromium headless with chromedp for the
// dashboard's browser tests.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/meshlock/meshlock/test/testbed"
)

// HangBound is how long any wait of a browser test lasts before it fails:
// long enough that only a page that will never get there fails it, on a
// machine as busy as it gets (issue 20). How fast the page gets there is
// measured by the browser benchmarks (make bench-browser), never here.
const HangBound = time.Minute

// Browser is a headless Chromium tab.
type Browser struct {
	ctx context.Context
	t   testbed.TB
}

// StartBrowser starts Chromium (MESHLOCK_CHROMIUM, else chromium on PATH)
// with a fresh profile and a window of width×height; it is closed when the
// test ends. A missing browser fails the test: browser tests never skip.
func StartBrowser(t testbed.TB, width, height int, extra ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	path := os.Getenv("MESHLOCK_CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("e2e: chromium not found: apt-get install chromium (or run .ci/run)")
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		// The machine has no network: keep Chromium from trying.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("e2e: starting chromium: %v", err)
	}
	return &Browser{ctx: ctx, t: t}
}

// Open navigates to url and waits for the page to load.
func (b *Browser) Open(url string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, HangBound)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("e2e: open %s: %v", url, err)
	}
}

// Eval runs a JavaScript expression in the page and decodes its result.
func Eval[T any](b *Browser, expression string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, HangBound)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expression))
}

// WaitFor polls a JavaScript expression every 200 ms until it is true,
// failing the test with what describe (another expression) says after
// HangBound.
func (b *Browser) WaitFor(what, expression, describe string) {
	b.t.Helper()
	b.WaitEvery(200*time.Millisecond, what, expression, describe)
}

// Screenshot writes a PNG of the whole page to path.
func (b *Browser) Screenshot(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("e2e: screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("e2e: screenshot: %v", err)
	}
}

// InProcessFrames keeps cross-site iframes in the page's own renderer
// (no site isolation), so that a test can query into them with FramePadlocks.
var InProcessFrames = []chromedp.ExecAllocatorOption{
	chromedp.Flag("disable-site-isolation-trials", true),
	chromedp.Flag("disable-features", "IsolateOrigins,site-per-process"),
}

// FrameCount counts the elements matching selector inside the document of
// the page's first iframe (0 when the frame shows no such document, as
// when the browser refused to frame it).
func (b *Browser) FrameCount(selector string) (int, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("iframe")))
	if err != nil {
		return 0, err
	}
	inside, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(selector), chromedp.AtLeast(0), chromedp.FromNode(frames[0])))
	if err != nil {
		return 0, err
	}
	return len(inside), nil
}

// OpenReady opens url and waits, polling every interval, for
// window.meshlock.ready; it answers the page's own time to ready
// (window.meshlock.readyMs, from the navigation's start) and the wall time.
func (b *Browser) OpenReady(url string, interval time.Duration) (readyMs float64, wall time.Duration, err error) {
	b.t.Helper()
	start := time.Now()
	b.Open(url)
	b.WaitEvery(interval, "the page is ready", `window.meshlock?.ready === true`, `document.body.dataset.ready`)
	wall = time.Since(start)
	readyMs, err = Eval[float64](b, `window.meshlock.readyMs`)
	return readyMs, wall, err
}

// Go sends the page to url without waiting for its load events: a page
// with cross-site iframes detaches targets while loading, which a waiting
// navigation takes for a failure.
func (b *Browser) Go(url string) {
	b.t.Helper()
	if _, err := Eval[string](b, `location.href = `+strconv.Quote(url)); err != nil {
		b.t.Fatalf("e2e: go to %s: %v", url, err)
	}
}

// WaitEvery is WaitFor polling every interval (WaitFor polls every 200 ms,
// too coarse to time a page by), returning how long it waited.
func (b *Browser) WaitEvery(interval time.Duration, what, expression, describe string) time.Duration {
	b.t.Helper()
	start := time.Now()
	for {
		ok, err := Eval[bool](b, "Boolean("+expression+")")
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Since(start) > HangBound {
			state, stateErr := Eval[string](b, "String("+describe+")")
			b.t.Fatalf("e2e: %s: not within %s (last error %v); page says: %s %v", what, HangBound, err, state, stateErr)
		}
		time.Sleep(interval)
	}
}

// Click clicks the first element matching selector (a CSS selector) as
// a user's click would reach its handlers, failing the test when there is none.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	ok, err := Eval[bool](b, `(() => { const el = document.querySelector(`+strconv.Quote(selector)+`); if (!el) return false; el.click(); return true; })()`)
	if err != nil || !ok {
		b.t.Fatalf("e2e: click %s: %v (found: %v)", selector, err, ok)
	}
}

// RendererRSS is the resident memory, in bytes, of the browser's largest
// renderer process (the page's): the VmRSS of each process below the
// browser's whose command line says --type=renderer, read from /proc.
func (b *Browser) RendererRSS() (int64, error) {
	c := chromedp.FromContext(b.ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return 0, errors.New("e2e: no browser process")
	}
	root := c.Browser.Process().Pid
	parents := map[int]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
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
		// pid (comm) state ppid ...: comm may hold spaces, so read after its ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 {
			if ppid, err := strconv.Atoi(fields[1]); err == nil {
				parents[pid] = ppid
			}
		}
	}
	below := func(pid int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			if pid = parents[pid]; pid == root {
				return true
			}
		}
		return false
	}
	var largest int64
	found := false
	for pid := range parents {
		if !below(pid) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("--type=renderer")) {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err == nil {
					found = true
					largest = max(largest, kb*1024)
				}
			}
		}
	}
	if !found {
		return 0, errors.New("e2e: no renderer process found below the browser")
	}
	return largest, nil
}
