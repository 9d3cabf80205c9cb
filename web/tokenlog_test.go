// Tests of token mode's secrets and filters: tokens never reach the log, and the audit trail and a
// plan's breaks are filtered to what the user may see, hidden callers shown as hidden.

package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/testutil"
)

// meshlock never logs a token, at any level: not a good one, not a bad one,
// not one whose review failed (SECURITY.md).
func TestTokensAreNeverLogged(t *testing.T) {
	var logs testutil.SyncBuffer
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

// The audit trail tells who changed what where: a user sees the actions
// whose every namespace they may see, and the callers a plan would cut
// from what they may see.
func TestTokenModeActionsAndBreaksAreFiltered(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"alice-token": "alice", "admin-token": "admin"},
		rights: map[string][]string{"alice": {"team-a"}, "admin": {"*"}}}
	reviewer := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute})
	auth := TokenAuth{Reviewer: reviewer, ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }}
	enforcer := &scriptedEnforcer{actions: []enforce.Action{
		{ID: "mine", Namespace: "team-a", Objects: []enforce.ActionObject{{Namespace: "team-a", Name: "web"}}},
		{ID: "theirs", Namespace: "team-b", Objects: []enforce.ActionObject{{Namespace: "team-b", Name: "secret-db"}}},
		{ID: "mesh", Scope: "mesh", Objects: []enforce.ActionObject{{Namespace: "istio-system", Name: "default"}}},
	}}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsSnapshot()},
		Stream: http.NotFoundHandler(), Enforcer: enforcer, Auth: auth, AllowEnforce: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(token string) string {
		rec := request(t, handler, http.MethodGet, "/api/actions", token)
		var got []enforce.Action
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", rec.Body, err)
		}
		var out []string
		for _, a := range got {
			out = append(out, a.ID)
		}
		return strings.Join(out, ",")
	}
	if got := ids("alice-token"); got != "mine" {
		t.Errorf("alice sees actions %q, want only her namespace's", got)
	}
	if got := ids("admin-token"); got != "mine,theirs,mesh" {
		t.Errorf("the admin sees actions %q", got)
	}
}

func TestTokenModeBreaksShowHiddenCallersAsHidden(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"alice-token": "alice"}, rights: map[string][]string{"alice": {"team-a"}}}
	reviewer := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute})
	auth := TokenAuth{Reviewer: reviewer, ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsSnapshot()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: auth, AllowEnforce: true})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"scope":"service","namespace":"team-a","service":"web","mode":"peerauthentication","dryRun":true}`
	req := httptest.NewRequest(http.MethodPost, "/api/enforce", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer alice-token")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if out := rec.Body.String(); strings.Contains(out, "secret") || !strings.Contains(out, `"source":"hidden"`) {
		t.Errorf("breaks name a hidden caller, or lack the hidden one: %s", out)
	}
}
