// Tests of the write API: enforce requests and their statuses, callers a change would cut, token auth,
// the strict decoder's refusals, planId round trips, stale plans (409) and an unreachable API (503).

package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
)

// scriptedEnforcer records what it is asked and answers err or a result.
type scriptedEnforcer struct {
	err      error
	result   enforce.Result
	actions  []enforce.Action // nil: one action a1
	requests []enforce.Request
	whos     []string
	undone   []string
	reads    atomic.Int32 // calls of Actions, made concurrently with several clusters
}

func (s *scriptedEnforcer) Enforce(_ context.Context, _ k8s.Clients, who string, req enforce.Request) (enforce.Result, error) {
	s.requests = append(s.requests, req)
	s.whos = append(s.whos, who)
	result := s.result
	result.DryRun = req.DryRun
	return result, s.err
}

func (s *scriptedEnforcer) Actions(context.Context, k8s.Clients) ([]enforce.Action, error) {
	s.reads.Add(1)
	if s.actions != nil {
		return s.actions, s.err
	}
	return []enforce.Action{{ID: "a1", Who: "demo"}}, s.err
}

func (s *scriptedEnforcer) Undo(_ context.Context, _ k8s.Clients, who, id string) (enforce.Action, error) {
	s.undone = append(s.undone, id)
	s.whos = append(s.whos, who)
	return enforce.Action{ID: id}, s.err
}

// bookinfoWithLegacy: ratings has a plaintext caller from outside the mesh;
// legacy/db has no sidecar and a caller with one.
func bookinfoWithLegacy() graph.Snapshot {
	return graph.Snapshot{
		Nodes: []graph.Node{
			{ID: "default/ratings", Namespace: "default", Name: "ratings", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET"},
			{ID: "default/reviews", Namespace: "default", Name: "reviews", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET"},
			{ID: "legacy/db", Namespace: "legacy", Name: "db", Kind: graph.KindService, InMesh: false, PeerAuthentication: "UNSET"},
			{ID: "unknown", Name: "unknown", Kind: graph.KindUnknown},
		},
		Edges: []graph.Edge{
			{ID: "default/reviews->default/ratings:http", Source: "default/reviews", Target: "default/ratings", Protocol: "http", Rate: 2, MTLSRatio: 1, Status: graph.StatusLocked},
			{ID: "unknown->default/ratings:http", Source: "unknown", Target: "default/ratings", Protocol: "http", Rate: 0.5, Status: graph.StatusOpen},
			{ID: "default/reviews->legacy/db:tcp", Source: "default/reviews", Target: "legacy/db", Protocol: "tcp", Rate: 100, Status: graph.StatusUnknown},
		},
	}
}

type writeCase struct {
	method, path, body string
	header             map[string]string // a "" value removes the header
}

func do(t *testing.T, handler http.Handler, c writeCase) (int, string) {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func enforceHandler(t *testing.T, enforcer *scriptedEnforcer, allow bool, auth Authenticator, trusted ...string) http.Handler {
	t.Helper()
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: bookinfoWithLegacy()},
		Stream: http.NotFoundHandler(), Enforcer: enforcer, Auth: auth, AllowEnforce: allow, TrustedOrigins: trusted})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

const namespaceDryRun = `{"scope":"namespace","namespace":"default","service":"","mode":"peerauthentication","dryRun":true}`

func TestEnforceRequests(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "networking.istio.io", Resource: "destinationrules"}, "reviews",
		errors.New(`User "alice" cannot patch resource "destinationrules"`))
	tests := []struct {
		name      string
		allow     bool
		err       error
		call      writeCase
		wantCode  int
		wantInAns string
		wantCalls int
	}{
		{"read-only dashboard refuses writes", false, nil, writeCase{"POST", "/api/enforce", namespaceDryRun, nil}, 403, "--allow-enforce", 0},
		{"read-only dashboard refuses undo", false, nil, writeCase{"POST", "/api/actions/a1/undo", "", nil}, 403, "--allow-enforce", 0},
		{"a dry run answers the plan", true, nil, writeCase{"POST", "/api/enforce", namespaceDryRun, nil}, 200, `"dryRun":true`, 1},
		{"malformed JSON", true, nil, writeCase{"POST", "/api/enforce", `{"scope":`, nil}, 400, "malformed JSON", 0},
		{"unknown field", true, nil, writeCase{"POST", "/api/enforce", `{"scope":"mesh","mode":"peerauthentication","dryRun":true,"force":true}`, nil}, 400, "force", 0},
		{"unknown scope", true, nil, writeCase{"POST", "/api/enforce", `{"scope":"galaxy","mode":"peerauthentication","dryRun":true}`, nil}, 400, "galaxy", 0},
		{"unknown mode", true, nil, writeCase{"POST", "/api/enforce", `{"scope":"mesh","mode":"firewall","dryRun":true}`, nil}, 400, "firewall", 0},
		{"invalid namespace", true, nil, writeCase{"POST", "/api/enforce", `{"scope":"namespace","namespace":"Default","mode":"peerauthentication","dryRun":true}`, nil}, 400, "Default", 0},
		{"oversized body", true, nil, writeCase{"POST", "/api/enforce", `{"scope":"mesh","mode":"peerauthentication","namespace":"` + strings.Repeat("a", maxRequestBody) + `"}`, nil}, 400, "larger than", 0},
		{"conflict", true, fmt.Errorf("%w: DestinationRule default/ratings changed meanwhile", enforce.ErrConflict), writeCase{"POST", "/api/enforce", namespaceDryRun, nil}, 409, "changed meanwhile", 1},
		{"RBAC forbids", true, forbidden, writeCase{"POST", "/api/enforce", namespaceDryRun, nil}, 403, `User \"alice\" cannot patch`, 1},
		{"unknown action", true, fmt.Errorf("%w: no action x9", enforce.ErrNotFound), writeCase{"POST", "/api/actions/x9/undo", "", nil}, 404, "no action x9", 0},
		{"cross-site write refused", true, nil, writeCase{"POST", "/api/enforce", namespaceDryRun, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}}, 403, "cross-origin", 0},
		{"trusted portal may write", true, nil, writeCase{"POST", "/api/enforce", namespaceDryRun, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://portal.example"}}, 200, `"changes":[]`, 1},
		{"the audit trail is readable when read-only", false, nil, writeCase{"GET", "/api/actions", "", nil}, 200, `"a1"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enforcer := &scriptedEnforcer{err: tt.err}
			handler := enforceHandler(t, enforcer, tt.allow, ServerIdentity{Actor: Actor{Who: "system:serviceaccount:meshlock:meshlock"}}, "https://portal.example")
			code, body := do(t, handler, tt.call)
			if code != tt.wantCode || !strings.Contains(body, tt.wantInAns) {
				t.Fatalf("%s %s: %d %s, want %d containing %q", tt.call.method, tt.call.path, code, body, tt.wantCode, tt.wantInAns)
			}
			if code >= 400 {
				var answer map[string]string
				if err := json.Unmarshal([]byte(body), &answer); err != nil || answer["error"] == "" {
					t.Errorf("error answer is not {\"error\": ...}: %s", body)
				}
			}
			if len(enforcer.requests) != tt.wantCalls {
				t.Errorf("the enforcer was called %d times, want %d", len(enforcer.requests), tt.wantCalls)
			}
		})
	}
}

func TestEnforceNamesTheCallersItWouldCut(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"STRICT on default cuts the plaintext caller of ratings",
			`{"scope":"namespace","namespace":"default","mode":"peerauthentication","dryRun":true}`, []string{"unknown->default/ratings"}},
		{"STRICT on reviews cuts nobody", `{"scope":"service","namespace":"default","service":"reviews","mode":"peerauthentication","dryRun":true}`, nil},
		{"ISTIO_MUTUAL towards the server without a sidecar cuts its mesh callers",
			`{"scope":"mesh","mode":"destinationrule","dryRun":true}`, []string{"default/reviews->legacy/db"}},
		{"ISTIO_MUTUAL inside default cuts nobody", `{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":true}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handler := enforceHandler(t, &scriptedEnforcer{}, true, ServerIdentity{})
			code, body := do(t, handler, writeCase{"POST", "/api/enforce", tt.body, nil})
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			var answer enforceResponse
			if err := json.Unmarshal([]byte(body), &answer); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range answer.Breaks {
				got = append(got, b.Source+"->"+b.Target)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("breaks %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTokenAuth(t *testing.T) {
	enforcer := &scriptedEnforcer{}
	auth := TokenAuth{
		Review: func(_ context.Context, token string) (string, error) {
			if token != "good-token" {
				return "", fmt.Errorf("%w: the token was not accepted", k8s.ErrUnauthenticated)
			}
			return "alice", nil
		},
		ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil },
	}
	handler := enforceHandler(t, enforcer, true, auth)
	for _, tt := range []struct {
		name     string
		header   map[string]string
		path     string
		wantCode int
	}{
		{"no token", nil, "/api/graph", 401},
		{"rejected token", map[string]string{"Authorization": "Bearer bad"}, "/api/graph", 401},
		{"not a bearer token", map[string]string{"Authorization": "Basic YWxpY2U6cHc="}, "/api/graph", 401},
		{"good token reads", map[string]string{"Authorization": "Bearer good-token"}, "/api/graph", 200},
		{"the page itself needs no token", nil, "/healthz", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := do(t, handler, writeCase{"GET", tt.path, "", tt.header}); code != tt.wantCode {
				t.Errorf("GET %s: %d %s, want %d", tt.path, code, body, tt.wantCode)
			}
		})
	}
	code, _ := do(t, handler, writeCase{"POST", "/api/enforce", namespaceDryRun, map[string]string{"Authorization": "Bearer good-token"}})
	if code != 200 || len(enforcer.whos) != 1 || enforcer.whos[0] != "alice" {
		t.Errorf("a write with a good token: %d, acted as %v, want alice", code, enforcer.whos)
	}
}

// Writes happen only on purpose: the request is read strictly, and each
// refusal is a 400 with one sentence that never reaches the enforcer.
func TestEnforceDecoderRefuses(t *testing.T) {
	const ns = `"scope":"namespace","namespace":"default","mode":"peerauthentication"`
	for _, tt := range []struct {
		name, body, contentType, want string
	}{
		{"dryRun absent", `{` + ns + `}`, "", "dryRun is required"},
		{"dryRun a string", `{` + ns + `,"dryRun":"false"}`, "", "dryRun must be a boolean"},
		{"dryRun a number", `{` + ns + `,"dryRun":0}`, "", "dryRun must be a boolean"},
		{"dryRun null", `{` + ns + `,"dryRun":null}`, "", "dryRun must be a boolean"},
		{"a case-variant key", `{` + ns + `,"dryRun":true,"DRYRUN":false}`, "", `"DRYRUN"`},
		{"a case-variant key alone", `{` + ns + `,"DryRun":false,"planId":"p"}`, "", "case-sensitive"},
		{"a duplicate key", `{` + ns + `,"dryRun":true,"dryRun":false,"planId":"p"}`, "", "twice"},
		{"a duplicate key, escaped", `{` + ns + `,"dryRun":true,"dry\u0052un":false,"planId":"p"}`, "", "twice"},
		{"an unknown field", `{` + ns + `,"dryRun":true,"force":true}`, "", "unknown field"},
		{"trailing data", `{` + ns + `,"dryRun":true}x`, "", "nothing after it"},
		{"a second object", `{` + ns + `,"dryRun":true}{"dryRun":false}`, "", "nothing after it"},
		{"not an object", `[{` + ns + `,"dryRun":true}]`, "", "JSON object"},
		{"a number for a name", `{"scope":"namespace","namespace":7,"mode":"peerauthentication","dryRun":true}`, "", "namespace must be a string"},
		{"a truncated body", `{` + ns + `,"dryRun":true`, "", "malformed JSON"},
		{"an apply without planId", `{` + ns + `,"dryRun":false}`, "", "planId"},
		{"an apply with an empty planId", `{` + ns + `,"dryRun":false,"planId":""}`, "", "planId"},
		{"a form", `{` + ns + `,"dryRun":true}`, "application/x-www-form-urlencoded", "Content-Type: application/json"},
		{"text/plain", `{` + ns + `,"dryRun":true}`, "text/plain", "Content-Type: application/json"},
		{"no Content-Type", `{` + ns + `,"dryRun":true}`, "-", "Content-Type: application/json"},
		{"another charset", `{` + ns + `,"dryRun":true}`, "application/json; charset=latin1", "UTF-8"},
		{"policyDryRun a string", `{"scope":"namespace","namespace":"default","mode":"authorization","dryRun":true,"policyDryRun":"true"}`, "", "policyDryRun must be a boolean"},
		{"policyDryRun with another mode", `{` + ns + `,"dryRun":true,"policyDryRun":true}`, "", "policyDryRun is for mode authorization only"},
		{"authorization for the mesh", `{"scope":"mesh","mode":"authorization","dryRun":true}`, "", "takes scope service or namespace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			enforcer := &scriptedEnforcer{}
			handler := enforceHandler(t, enforcer, true, ServerIdentity{})
			header := map[string]string{}
			switch tt.contentType {
			case "":
			case "-":
				header["Content-Type"] = ""
			default:
				header["Content-Type"] = tt.contentType
			}
			code, body := do(t, handler, writeCase{"POST", "/api/enforce", tt.body, header})
			var answer map[string]string
			if err := json.Unmarshal([]byte(body), &answer); err != nil || code != http.StatusBadRequest || !strings.Contains(answer["error"], tt.want) {
				t.Errorf("%s: %d %s, want 400 with an error containing %q", tt.body, code, body, tt.want)
			}
			if len(enforcer.requests) != 0 {
				t.Errorf("the enforcer was called with %+v", enforcer.requests)
			}
		})
	}
}

// Mode authorization and its policyDryRun reach the enforcer as sent.
func TestEnforceAuthorizationRequest(t *testing.T) {
	enforcer := &scriptedEnforcer{}
	handler := enforceHandler(t, enforcer, true, ServerIdentity{})
	for _, body := range []string{
		`{"scope":"service","namespace":"default","service":"ratings","mode":"authorization","dryRun":true,"policyDryRun":true}`,
		`{"scope":"namespace","namespace":"default","mode":"authorization","dryRun":true}`,
		`{"scope":"namespace","namespace":"default","mode":"peerauthentication","dryRun":true,"policyDryRun":false}`,
	} {
		if code, answer := do(t, handler, writeCase{"POST", "/api/enforce", body, nil}); code != http.StatusOK || !strings.Contains(answer, `"breaks":[`) {
			t.Errorf("%s: %d %s", body, code, answer)
		}
	}
	if len(enforcer.requests) != 3 || !enforcer.requests[0].PolicyDryRun || enforcer.requests[0].Mode != enforce.ModeAuthorization || enforcer.requests[1].PolicyDryRun {
		t.Errorf("the enforcer got %+v", enforcer.requests)
	}
}

// A key of a megabyte is not echoed back whole.
func TestEnforceDecoderDoesNotEchoInput(t *testing.T) {
	handler := enforceHandler(t, &scriptedEnforcer{}, true, ServerIdentity{})
	key := strings.Repeat("k", 32<<10)
	code, body := do(t, handler, writeCase{"POST", "/api/enforce", `{"` + key + `":1,"dryRun":true}`, nil})
	if code != http.StatusBadRequest || len(body) > 1000 {
		t.Errorf("%d, %d bytes, want a short 400", code, len(body))
	}
}

// An apply carries the planId to the enforcer; the dry run answers it.
func TestEnforceApplyCarriesPlanID(t *testing.T) {
	enforcer := &scriptedEnforcer{result: enforce.Result{PlanID: "p1", ActionID: "a1"}}
	handler := enforceHandler(t, enforcer, true, ServerIdentity{})
	code, body := do(t, handler, writeCase{"POST", "/api/enforce", namespaceDryRun, nil})
	if code != http.StatusOK || !strings.Contains(body, `"planId":"p1"`) {
		t.Fatalf("dry run: %d %s, want the planId", code, body)
	}
	apply := `{"scope":"namespace","namespace":"default","mode":"peerauthentication","dryRun":false,"planId":"p1"}`
	if code, body := do(t, handler, writeCase{"POST", "/api/enforce", apply, nil}); code != http.StatusOK || !strings.Contains(body, `"actionId":"a1"`) {
		t.Fatalf("apply: %d %s", code, body)
	}
	if got := enforcer.requests[1]; got.DryRun || got.PlanID != "p1" {
		t.Errorf("the enforcer got %+v, want an apply of planId p1", got)
	}
}

// An apply of a plan the live state no longer gives answers 409 with the
// error and the new plan (its planId and changes), so the page can show it.
func TestEnforceStalePlanAnswersTheNewPlan(t *testing.T) {
	changes := []enforce.Change{{Action: enforce.ActionUpdate, Kind: enforce.KindPeerAuthentication, Namespace: "default", Name: "default", YAML: "y"}}
	enforcer := &scriptedEnforcer{
		result: enforce.Result{PlanID: "p2", Changes: changes},
		err:    fmt.Errorf("%w: the cluster changed since the plan was made", enforce.ErrPlanChanged),
	}
	handler := enforceHandler(t, enforcer, true, ServerIdentity{})
	apply := `{"scope":"namespace","namespace":"default","mode":"peerauthentication","dryRun":false,"planId":"p1"}`
	code, body := do(t, handler, writeCase{"POST", "/api/enforce", apply, nil})
	var answer struct {
		Error   string       `json:"error"`
		PlanID  string       `json:"planId"`
		Changes []changeView `json:"changes"`
		Breaks  []breakView  `json:"breaks"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil || code != http.StatusConflict || answer.PlanID != "p2" ||
		len(answer.Changes) != 1 || !strings.Contains(answer.Error, "changed") || len(answer.Breaks) != 1 {
		t.Fatalf("%d %s, want 409 with the error and the new plan", code, body)
	}
}

// A Kubernetes API that cannot be reached answers 503, not 500: the
// request may succeed later as it is.
func TestEnforceUnreachableAPIAnswers503(t *testing.T) {
	refused := &url.Error{Op: "Patch", URL: "https://127.0.0.1:6443/apis/networking.istio.io/v1/namespaces/default/destinationrules/reviews",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	for name, err := range map[string]error{
		"connection refused":  fmt.Errorf("applying DestinationRule default/reviews: %w", refused),
		"503 from the server": apierrors.NewServiceUnavailable("etcd is unavailable"),
		"429 from the server": apierrors.NewTooManyRequests("slow down", 1),
	} {
		t.Run(name, func(t *testing.T) {
			handler := enforceHandler(t, &scriptedEnforcer{err: err}, true, ServerIdentity{})
			for _, c := range []writeCase{{"POST", "/api/enforce", namespaceDryRun, nil}, {"POST", "/api/actions/a1/undo", "", nil}} {
				if code, body := do(t, handler, c); code != http.StatusServiceUnavailable || !strings.Contains(body, `"error"`) {
					t.Errorf("%s: %d %s, want 503", c.path, code, body)
				}
			}
		})
	}
}

// The enforce decoder never panics, and what it accepts is one JSON object
// of known, exactly spelled keys with a boolean dryRun (and a planId for
// an apply), that round-trips through JSON unchanged.
func FuzzDecodeEnforceRequest(f *testing.F) {
	f.Add(namespaceDryRun)
	f.Add(`{"scope":"service","namespace":"default","service":"reviews","mode":"destinationrule","dryRun":false,"planId":"0123abcd"}`)
	f.Add(`{"dryRun":true,"DRYRUN":false}`)
	f.Add(`{"scope":"mesh","mode":"peerauthentication","dryRun":true} {}`)
	f.Add(`{"scope":"mesh","mode":"peerauthentication","dryRun":"true"}`)
	f.Add(`{"scope":"mesh","dry\u0052un":true,"dryRun":false}`)
	f.Add(`{"scope":"service","namespace":"default","service":"reviews","mode":"authorization","dryRun":true,"policyDryRun":true}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := decodeEnforceRequest(strings.NewReader(body))
		if err != nil {
			if len(err.Error()) > 300 {
				t.Fatalf("an error of %d bytes echoes the input", len(err.Error()))
			}
			return
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var generic map[string]any
		if err := json.Unmarshal([]byte(body), &generic); err != nil {
			t.Fatalf("accepted %q, which is not a JSON object: %v", body, err)
		}
		if dryRun, ok := generic["dryRun"].(bool); !ok || dryRun != req.DryRun {
			t.Fatalf("accepted %q with dryRun %v, decoded %v", body, generic["dryRun"], req.DryRun)
		}
		for k := range generic {
			if !slices.Contains(enforceFields, k) {
				t.Fatalf("accepted key %q", k)
			}
		}
		if !req.DryRun && req.PlanID == "" {
			t.Fatalf("accepted an apply without planId: %q", body)
		}
		data, err := json.Marshal(requestBody(req))
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeEnforceRequest(bytes.NewReader(data))
		if err != nil || again != req {
			t.Fatalf("%+v does not round-trip: %s gives %+v, %v", req, data, again, err)
		}
	})
}
