// GET /api/stream: the WebSocket that sends each viewer the filtered snapshot then deltas, rechecking
// a token's rights before each message and closing (4001) when it stops passing.

package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/live"
)

// Close reasons (at most 123 bytes each).
const (
	reasonTooSlow      = "too slow: reconnect for a fresh snapshot"
	reasonShuttingDown = "meshlock is shutting down"
	reasonEncoding     = "meshlock could not encode the graph"
	reasonWriteOnly    = "this stream is write-only"
	reasonTokenInvalid = "token no longer valid: sign in again"
	reasonTokenExpired = "token expired: sign in again"
	reasonNoRights     = "could not check your rights with Kubernetes: reconnect"
)

// statusTokenInvalid closes a stream whose token stopped passing (or
// expired): an application code (4000-4999), so the page can tell it from
// a network failure and ask for a sign-in instead of reconnecting in a loop.
const statusTokenInvalid websocket.StatusCode = 4001

// streamReadLimit bounds what a client may send: nothing is expected but
// control frames, so any data message closes its socket.
const streamReadLimit = 1 << 10

// ServeHTTP serves GET /api/stream?namespace=a,b: a write-only WebSocket
// whose first message is the filtered snapshot and whose later messages are
// the deltas that keep it equal to the filtered current graph. In token
// mode a viewer sees what its token's user may see, re-evaluated at every
// snapshot, and is closed (4001) once the token stops passing or expires.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	namespaces, err := namespacesParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	clusters, err := clustersParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !h.originAllowed(r) {
		writeError(w, http.StatusForbidden, "this page's origin may not open the stream; add it to --trusted-origins")
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		// Answered here so that the error is the contract's JSON, not the library's text.
		w.Header().Set("Upgrade", "websocket")
		writeError(w, http.StatusUpgradeRequired, "this endpoint is a WebSocket: connect with a WebSocket client")
		return
	}
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		writeError(w, http.StatusServiceUnavailable, reasonShuttingDown)
		return
	}
	acc := accessOf(r.Context())
	party := partyOf(acc, r)
	switch full, partyFull := h.reserve(party); {
	case full:
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many open streams (at most %d): try again later", h.opts.MaxViewers))
		return
	case partyFull:
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("you have too many open streams (at most %d): close another page first", h.opts.MaxViewersPerParty))
		return
	}
	reserved := true
	defer func() {
		if reserved {
			h.release(party)
		}
	}()

	// Any refusal Accept writes itself (a bad handshake header, ...) is
	// plain text: jsonErrors rewrites it as the contract's JSON.
	jw := &jsonErrors{ResponseWriter: w}
	conn, err := websocket.Accept(jw, r, h.accept)
	if err != nil {
		jw.flush()
		h.opts.Logger.Debug("stream upgrade failed", "error", err)
		return
	}
	conn.SetReadLimit(streamReadLimit)
	if !h.register() {
		_ = conn.Close(websocket.StatusGoingAway, reasonShuttingDown)
		return
	}
	reserved = false // unregister releases it
	// The viewer lives in a goroutine of its own and the handler returns
	// (the connection is hijacked): the handler's stack, grown by routing,
	// middleware and the handshake, is freed instead of being kept for the
	// socket's life — 10,000 viewers held 234 MiB of stacks before.
	remote := r.RemoteAddr
	h.opts.Logger.Debug("stream viewer connected", "namespaces", namespaces, "remote", remote)
	go func() {
		var v *live.Viewer
		defer func() { h.unregister(v, party) }()
		h.stream(conn, &v, namespaces, clusters, acc)
		h.opts.Logger.Debug("stream viewer disconnected", "remote", remote)
	}()
}

// jsonErrors passes a successful handshake through and holds back the body
// of an error answer, which flush then writes as {"error": ...}.
type jsonErrors struct {
	http.ResponseWriter
	status int
	body   strings.Builder
}

func (j *jsonErrors) WriteHeader(status int) {
	if status >= 400 {
		j.status = status
		return
	}
	j.ResponseWriter.WriteHeader(status)
}

func (j *jsonErrors) Write(b []byte) (int, error) {
	if j.status == 0 {
		return j.ResponseWriter.Write(b)
	}
	if j.body.Len() < maxErrorMessage {
		j.body.Write(b)
	}
	return len(b), nil
}

// Unwrap lets websocket.Accept reach the Hijacker.
func (j *jsonErrors) Unwrap() http.ResponseWriter { return j.ResponseWriter }

func (j *jsonErrors) flush() {
	if j.status == 0 {
		return
	}
	writeError(j.ResponseWriter, j.status, truncate(strings.TrimSpace(j.body.String()), 256))
}

// stream is the viewer's goroutine: it joins the feed with the view its
// filter and rights make, and writes the feed's messages for that view
// until the socket or the hub ends. In token mode it checks the token and
// the rights before each message, and moves to another view when the rights
// changed. *vp is the viewer, for the caller's cleanup.
func (h *Hub) stream(conn *websocket.Conn, vp **live.Viewer, namespaces, clusters []string, acc access) {
	readDone := h.discardReads(conn)
	defer func() {
		_ = conn.CloseNow()
		<-readDone
	}()

	var expired <-chan time.Time
	if !acc.actor.expires.IsZero() {
		timer := time.NewTimer(time.Until(acc.actor.expires))
		defer timer.Stop()
		expired = timer.C
	}
	// A viewer that does not read its socket does not answer pings: it is
	// dropped after one WriteTimeout, instead of holding a slot while the
	// socket's buffers slowly fill (issue 27: 1,000 such sockets held every
	// slot for 45 s and more).
	pings := time.NewTicker(h.opts.PingInterval)
	defer pings.Stop()
	var recheck <-chan time.Time
	if acc.auth != nil {
		ticker := time.NewTicker(h.opts.RecheckInterval)
		defer ticker.Stop()
		recheck = ticker.C
	}
	// tokenValid closes the socket when the token no longer passes; a
	// failure to ask Kubernetes is not a verdict and keeps the viewer.
	tokenValid := func() bool {
		ctx, cancel := context.WithTimeout(h.base, h.opts.WriteTimeout)
		defer cancel()
		err := acc.recheck(ctx)
		switch {
		case errors.Is(err, k8s.ErrUnauthenticated):
			h.opts.Logger.Info("stream viewer's token no longer passes; closing", "who", acc.actor.Who)
			_ = conn.Close(statusTokenInvalid, reasonTokenInvalid)
			return false
		case err != nil:
			h.opts.Logger.Warn("stream: could not recheck a viewer's token", "error", err)
		}
		return true
	}
	// viewOf is the view the viewer's rights give it on s; false closes the
	// socket (Kubernetes could not be asked, and no rights were known yet).
	var lastAll bool
	var lastVisible map[string]bool
	haveRights := false
	viewOf := func(s graph.Snapshot) (live.View, bool) {
		if acc.auth != nil {
			ctx, cancel := context.WithTimeout(h.base, h.opts.WriteTimeout)
			all, visible, err := acc.visible(ctx, snapshotNamespaces(s))
			cancel()
			switch {
			case err == nil:
				lastAll, lastVisible, haveRights = all, visible, true
			case !haveRights:
				h.opts.Logger.Warn("stream: could not check a viewer's rights", "error", err)
				_ = conn.Close(websocket.StatusTryAgainLater, reasonNoRights)
				return live.View{}, false
			default:
				// Kubernetes is unreachable: keep the rights last answered.
				h.opts.Logger.Warn("stream: could not recheck a viewer's rights; keeping the last answer", "error", err)
			}
		} else {
			lastAll = true
		}
		all, visible := lastAll, lastVisible
		return live.View{
			Key: live.ViewKey(namespaces, all, visible) + clusterKey(clusters),
			Apply: func(s graph.Snapshot) graph.Snapshot {
				return restrictClusters(restrictSnapshot(s, all, visible, namespaces), clusters)
			},
		}, true
	}

	h.mu.Lock()
	latest := h.latest
	h.mu.Unlock()
	view, ok := viewOf(latest)
	if !ok {
		return
	}
	v := h.feed.Join(view)
	*vp = v
	for {
		if h.ending(conn, v) {
			return
		}
		var m live.Message
		select {
		case <-v.Gone():
			continue // ending closes
		case <-h.shutdown:
			continue
		case <-readDone:
			// The client spoke, broke the read limit, closed, or vanished.
			_ = conn.Close(websocket.StatusPolicyViolation, reasonWriteOnly)
			return
		case <-expired:
			_ = conn.Close(statusTokenInvalid, reasonTokenExpired)
			return
		case <-recheck:
			if !tokenValid() {
				return
			}
			continue
		case <-pings.C:
			if err := h.ping(conn); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					h.dropSlow(v)
				}
				return
			}
			continue
		case m = <-v.Messages():
		}
		// Ending takes precedence over queued messages.
		if h.ending(conn, v) {
			return
		}
		if !h.feed.Current(v, m) {
			continue // made for a view the viewer has left
		}
		if acc.auth != nil {
			if !tokenValid() {
				return
			}
			next, ok := viewOf(*m.Published)
			if !ok {
				return
			}
			if next.Key != view.Key {
				// The rights changed: the new view's snapshot comes next.
				view = next
				h.feed.Move(v, view)
				continue
			}
		}
		if err := h.write(conn, m.Body); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				h.dropSlow(v)
			}
			return
		}
	}
}

// discardReads does what conn.CloseRead would: it reads so that pings and
// the client's close are answered, and the returned channel closes when the
// client sends a data message (it has nothing to say) or the socket ends.
// It is not CloseRead because CloseRead closes the socket itself on a data
// message and then waits 5+15 seconds for its own goroutine
// (coder/websocket v1.8.15): the socket would linger, counted as open.
func (h *Hub) discardReads(conn *websocket.Conn) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = conn.Read(h.base) // the read limit stops a large message early
	}()
	return done
}

// ending closes the socket when the feed dropped the viewer or the hub
// shuts down, and says whether it did.
func (h *Hub) ending(conn *websocket.Conn, v *live.Viewer) bool {
	select {
	case <-v.Gone():
		_ = conn.Close(websocket.StatusPolicyViolation, reasonTooSlow)
		return true
	default:
	}
	select {
	case <-h.shutdown:
		_ = conn.Close(websocket.StatusGoingAway, reasonShuttingDown)
		return true
	default:
	}
	return false
}

// write sends one text message within WriteTimeout. A write that fails
// leaves the socket closed.
func (h *Hub) write(conn *websocket.Conn, body []byte) error {
	ctx, cancel := context.WithTimeout(h.base, h.opts.WriteTimeout)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, body)
}

// ping waits up to WriteTimeout for the viewer's pong (the read loop of
// discardReads receives it). A failure leaves the socket closed.
func (h *Hub) ping(conn *websocket.Conn) error {
	ctx, cancel := context.WithTimeout(h.base, h.opts.WriteTimeout)
	defer cancel()
	return conn.Ping(ctx)
}

// originAllowed applies the same rule as websocket.Accept with
// originPatterns, so that a refusal answers the contract's JSON error:
// no Origin (not a browser) and same-origin pass, and so do the trusted
// origins; any other Origin is refused.
func (h *Hub) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(r.Host, u.Host) {
		return true
	}
	return h.trusted[strings.ToLower(u.Scheme+"://"+u.Host)]
}
