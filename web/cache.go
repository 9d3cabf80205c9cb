// A small bounded cache of Kubernetes' review answers, keyed by SHA-256 so no token is kept as such.

package web

import (
	"crypto/sha256"
	"sync"
	"time"
)

// answerCache keeps Kubernetes' answers (TokenReviews, SubjectAccessReviews)
// for a short time, keyed by a SHA-256 so that no token is kept in memory as
// such. It is bounded: when full, an expired entry, else an arbitrary one
// (Go's map order is random), makes room, so a flood of distinct keys
// cannot grow it.
type answerCache[V any] struct {
	mu      sync.Mutex
	max     int
	entries map[[sha256.Size]byte]cached[V]
}

type cached[V any] struct {
	value   V
	expires time.Time
}

func newAnswerCache[V any](max int) *answerCache[V] {
	return &answerCache[V]{max: max, entries: make(map[[sha256.Size]byte]cached[V])}
}

func cacheKey(parts ...string) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range parts {
		// The length prefix keeps ("ab","c") apart from ("a","bc").
		var n [8]byte
		for i, l := 0, uint64(len(p)); i < 8; i++ {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

func (c *answerCache[V]) get(key [sha256.Size]byte, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *answerCache[V]) put(key [sha256.Size]byte, value V, expires time.Time, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		evicted := false
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
				evicted = true
			}
		}
		if !evicted {
			for k := range c.entries {
				delete(c.entries, k)
				break
			}
		}
	}
	c.entries[key] = cached[V]{value: value, expires: expires}
}

func (c *answerCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
