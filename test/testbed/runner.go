// Runner: a testbed.TB for commands (the scale and load commands), so that they start the same
// real servers as the tests and stop them on exit, on failure and on Ctrl-C.

package testbed

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Runner satisfies TB outside a test: Fatalf runs the cleanups, newest
// first, and exits 1; an interrupt does the same.
type Runner struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
	done     bool
}

// NewRunner returns a Runner that cleans up on SIGINT and SIGTERM.
func NewRunner() *Runner {
	r := &Runner{}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-signals
		fmt.Fprintf(os.Stderr, "%s: stopping the test bed\n", s)
		r.Close()
		os.Exit(130)
	}()
	return r
}

func (*Runner) Helper() {}

func (r *Runner) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fatal: "+format+"\n", args...)
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	r.Close()
	os.Exit(1)
}

func (r *Runner) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}

func (*Runner) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func (r *Runner) Cleanup(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, fn)
}

// TempDir makes a folder removed at Close.
func (r *Runner) TempDir() string {
	dir, err := os.MkdirTemp("", "meshlock-testbed-")
	if err != nil {
		r.Fatalf("temp dir: %v", err)
	}
	r.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (r *Runner) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Close runs the cleanups once, newest first.
func (r *Runner) Close() {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return
	}
	r.done = true
	cleanups := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}

var _ TB = (*Runner)(nil)
