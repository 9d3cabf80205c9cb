// The budget of long Prometheus queries (an edge's history, a report): so many at once server-wide
// and per party; one more answers 429 with Retry-After instead of queueing on Prometheus.

package web

import (
	"net/http"
	"strconv"
	"sync"
)

// queryBudget counts the long queries running, in all and per party.
type queryBudget struct {
	total, perParty int

	mu      sync.Mutex
	running int
	byParty map[string]int
}

func newQueryBudget(total, perParty int) *queryBudget {
	return &queryBudget{total: total, perParty: perParty, byParty: map[string]int{}}
}

// take answers a release func when party may start one more long query.
func (b *queryBudget) take(party string) (release func(), ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running >= b.total || b.byParty[party] >= b.perParty {
		return nil, false
	}
	b.running++
	b.byParty[party]++
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.running--
		if b.byParty[party]--; b.byParty[party] <= 0 {
			delete(b.byParty, party)
		}
	}, true
}

// longQueryRetryAfter is the Retry-After of a refused long query, in
// seconds: about what one such query takes.
const longQueryRetryAfter = 5

// startLongQuery takes a slot of the budget for r's party, or answers 429
// and false.
func (h *handlers) startLongQuery(w http.ResponseWriter, r *http.Request) (func(), bool) {
	release, ok := h.budget.take(partyOf(accessOf(r.Context()), r))
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(longQueryRetryAfter))
		writeError(w, http.StatusTooManyRequests, "too many history and report queries running (at most "+
			strconv.Itoa(h.budget.total)+" at once, "+strconv.Itoa(h.budget.perParty)+" of yours): try again shortly")
	}
	return release, ok
}
