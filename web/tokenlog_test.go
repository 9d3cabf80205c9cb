package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/k8s"
)

// lockedBuffer is a log sink for concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// meshlock never logs a token, at any level: not a good one, not a bad one,
// not one whose review failed (SECURITY.md).
func TestTokensAreNeverLogged(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := &fakeKube{tokens: map[string]string{"alice-secret-token": "alice"}, rights: map[string][]string{"alice": {"team-a"}}}
	reviewer := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute})
	auth := TokenAuth{Reviewer: reviewer, ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsSnapshot()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: auth, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"alice-secret-token", "mallory-forged-token"} {
		for _, path := range []string{"/", "/api/graph", "/api/actions", "/metrics"} {
			request(t, handler, http.MethodGet, path, token)
		}
	}
	f.set(func() { f.failing = true })
	request(t, handler, http.MethodGet, "/api/graph", "unreviewable-secret-token")
	request(t, handler, http.MethodGet, "/", "unreviewable-secret-token")

	out := logs.String()
	if !strings.Contains(out, "connection refused") {
		t.Fatalf("the failing review was not logged at all, so this test proves nothing:\n%s", out)
	}
	for _, token := range []string{"alice-secret-token", "mallory-forged-token", "unreviewable-secret-token", "secret-token"} {
		if strings.Contains(out, token) {
			t.Errorf("a token reached the log:\n%s", out)
		}
	}
}
