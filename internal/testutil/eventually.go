// Package testutil holds what the tests of several packages share:
// polling for a condition, and builders of Kubernetes and Istio objects. It
// is imported by tests only.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// HangBound is how long a test waits for something that should happen
// before it calls it a hang and fails. It is the only time bound tests
// assert (issue 20): a machine with both cores busy may take many times
// the usual time, and a test that fails for that teaches its readers to
// rerun it. How fast things happen is for the benchmarks and the scale
// command, never a test.
const HangBound = 2 * time.Minute

// Eventually polls cond until it holds, failing the test with what and
// cond's last word after HangBound. Polls start every 5ms and slow to
// every 250ms, so a quick condition is seen at once and a slow one (a real
// server) is not hammered.
func Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	timeout := HangBound
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, timeout, last)
		}
		time.Sleep(pause)
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer that handlers in several goroutines may
// write to at once (a log sink in a test).
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
