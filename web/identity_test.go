// Tests of GET /api/identity: its shape, and token mode's filter (issue 22).

package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
)

// teamsIdentity is teamsSnapshot with a trust inventory: one root in
// every namespace, another in team-b only, a workload in each team.
func teamsIdentity() graph.Snapshot {
	s := teamsSnapshot()
	notAfter := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Identity = graph.Identity{
		TrustDomain: "cluster.local", TrustDomainAliases: []string{"old.example"},
		Thresholds: graph.ThresholdsView{RootWarnSeconds: 2592000, RootCriticalSeconds: 604800, WorkloadWarnSeconds: 21600},
		Roots: []graph.Root{
			{RootCert: graph.RootCert{Fingerprint: "aa", Subject: "O=mesh", NotAfter: notAfter}, Namespaces: []string{"istio-system", "team-a", "team-b"}},
			{RootCert: graph.RootCert{Fingerprint: "bb", Subject: "O=team-b's own", NotAfter: notAfter}, Namespaces: []string{"team-b"}},
		},
		Workloads: []graph.WorkloadIdentity{
			{ID: "team-a/front", Namespace: "team-a", Name: "front", ServiceAccount: "front", ExpectedPrincipal: "spiffe://cluster.local/ns/team-a/sa/front", ObservedPrincipals: []string{}},
			{ID: "team-b/secret-db", Namespace: "team-b", Name: "secret-db", ServiceAccount: "db", ExpectedPrincipal: "spiffe://cluster.local/ns/team-b/sa/db", ObservedPrincipals: []string{}},
		},
	}
	return s
}

func TestIdentityEndpoint(t *testing.T) {
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsIdentity()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, handler, "/api/identity")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	// The contract's names, times in RFC 3339, null where unknown.
	for _, want := range []string{`"trustDomain":"cluster.local"`, `"trustDomainAliases":["old.example"]`, `"fingerprint":"aa"`,
		`"notAfter":"2027-01-01T00:00:00Z"`, `"ca":{"rootExpiry":null,"chainExpiry":null}`, `"expectedPrincipal":"spiffe://cluster.local/ns/team-a/sa/front"`,
		`"observedPrincipals":[]`, `"certExpiry":null`, `"thresholds":{"rootWarnSeconds":2592000,`, `"namespaces":["istio-system","team-a","team-b"]`} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %s: %s", want, body)
		}
	}
	code, body = get(t, handler, "/api/identity?namespace=team-a")
	var id graph.Identity
	if err := json.Unmarshal([]byte(body), &id); code != http.StatusOK || err != nil {
		t.Fatalf("%d %s", code, body)
	}
	if len(id.Workloads) != 1 || id.Workloads[0].ID != "team-a/front" || len(id.Roots) != 1 || !slices.Equal(id.Roots[0].Namespaces, []string{"team-a"}) {
		t.Errorf("?namespace=team-a: %s", body)
	}
	if code, body := get(t, handler, "/api/identity?namespace=Team"); code != http.StatusBadRequest || !strings.Contains(body, "invalid namespace") {
		t.Errorf("a bad namespace: %d %s", code, body)
	}
}

func TestTokenModeIdentityIsFilteredToTheUsersNamespaces(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"alice-token": "alice", "admin-token": "admin"},
		rights: map[string][]string{"alice": {"team-a"}, "admin": {"*"}}}
	auth := TokenAuth{Reviewer: newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute}),
		ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }}
	h, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsIdentity()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if rec := request(t, h, http.MethodGet, "/api/identity", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", rec.Code)
	}
	rec := request(t, h, http.MethodGet, "/api/identity", "alice-token")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("alice: %d %s", rec.Code, body)
	}
	for _, leak := range []string{"team-b", "secret", `"bb"`, "istio-system"} {
		if strings.Contains(body, leak) {
			t.Errorf("alice's identity names %s: %s", leak, body)
		}
	}
	if !strings.Contains(body, "team-a/front") || !strings.Contains(body, `"aa"`) || !strings.Contains(body, "old.example") {
		t.Errorf("alice's identity lacks her namespace's: %s", body)
	}
	if rec := request(t, h, http.MethodGet, "/api/identity", "admin-token"); !strings.Contains(rec.Body.String(), "team-b/secret-db") {
		t.Errorf("the admin's identity lacks team-b: %s", rec.Body.String())
	}
}
