// Integration test of access by identity (issue 25) on real servers: AuthorizationPolicies applied
// to kube-apiserver, meshsim enforcing them, and each edge's decision, deciding policies and denial
// rate compared with what meshsim decided for every caller at every endpoint.

package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/testutil"
)

// realMeshAuthz are policies on realMesh, one rule of Istio's each
// (pilot/pkg/security/authz/builder/builder.go, model/generator.go).
var realMeshAuthz = []string{
	// ALLOW by namespace: frontend's mTLS gets in, reporter's plaintext
	// (its DestinationRule disables TLS) has no namespace: denied.
	`{"metadata":{"namespace":"shop","name":"reviews-from-shop"},"spec":{"selector":{"matchLabels":{"app":"reviews"}},
	  "rules":[{"from":[{"source":{"namespaces":["shop"]}}]}]}}`,
	// DENY by principal over mTLS.
	`{"metadata":{"namespace":"shop","name":"search-deny-frontend"},"spec":{"selector":{"matchLabels":{"app":"search"}},"action":"DENY",
	  "rules":[{"from":[{"source":{"principals":["cluster.local/ns/shop/sa/frontend-v1"]}}]}]}}`,
	// A TCP server's network RBAC filter: DENY by namespace.
	`{"metadata":{"namespace":"shop","name":"cache-deny-jobs"},"spec":{"selector":{"matchLabels":{"app":"cache"}},"action":"DENY",
	  "rules":[{"from":[{"source":{"namespaces":["jobs"]}}]}]}}`,
	// ALLOW by principal and port on the TCP database: backup gets in.
	`{"metadata":{"namespace":"shop","name":"db-backup"},"spec":{"selector":{"matchLabels":{"app":"db"}},
	  "rules":[{"from":[{"source":{"principals":["cluster.local/ns/jobs/sa/backup"]}}],"to":[{"operation":{"ports":["5432"]}}]}]}}`,
	// In dry run: decides nothing, named where it would.
	`{"metadata":{"namespace":"shop","name":"inventory-deny-all","annotations":{"istio.io/dry-run":"true"}},
	  "spec":{"selector":{"matchLabels":{"app":"inventory"}},"action":"DENY","rules":[{}]}}`,
	// An empty ALLOW: allows nothing.
	`{"metadata":{"namespace":"shop","name":"ledger-allow-nothing"},"spec":{"selector":{"matchLabels":{"app":"ledger"}}}}`,
	// By method: what metrics cannot see (meshsim's callers send GET /).
	`{"metadata":{"namespace":"shop","name":"frontend-get"},"spec":{"selector":{"matchLabels":{"app":"frontend"}},
	  "rules":[{"to":[{"operation":{"methods":["GET"]}}]}]}}`,
	// A selector that matches nothing.
	`{"metadata":{"namespace":"shop","name":"ghost"},"spec":{"selector":{"matchLabels":{"app":"ghost"}},"action":"DENY","rules":[{}]}}`,
}

func TestAuthorizationMatchesMeshsim(t *testing.T) {
	mesh, snapshot := startRealMesh(t, func(istio istioclient.Interface) {
		for _, doc := range realMeshAuthz {
			p := &securityv1.AuthorizationPolicy{}
			if err := json.Unmarshal([]byte(doc), p); err != nil {
				t.Fatal(err)
			}
			if _, err := istio.SecurityV1().AuthorizationPolicies(p.Namespace).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
				t.Fatalf("AuthorizationPolicy %s/%s: %v", p.Namespace, p.Name, err)
			}
		}
	})
	var last graph.Snapshot
	testutil.Eventually(t, "every edge's access decision matches meshsim's", func() (bool, string) {
		s, err := snapshot()
		if err != nil {
			return false, err.Error()
		}
		last = s
		problems := compareAuthorization(last, mesh.Truth())
		return len(problems) == 0, strings.Join(problems, "\n")
	})

	// Each rule's outcome, as the graph says it.
	for id, want := range map[string]graph.Authorization{
		"shop/frontend->shop/reviews:http":   {Decision: graph.AuthzAllow, Policies: []string{"shop/reviews-from-shop"}},
		"shop/reporter->shop/reviews:http":   {Decision: graph.AuthzDeny, Policies: []string{"shop/reviews-from-shop"}},
		"shop/frontend->shop/search:http":    {Decision: graph.AuthzDeny, Policies: []string{"shop/search-deny-frontend"}},
		"jobs/syncer->shop/cache:tcp":        {Decision: graph.AuthzDeny, Policies: []string{"shop/cache-deny-jobs"}},
		"jobs/backup->shop/db:tcp":           {Decision: graph.AuthzAllow, Policies: []string{"shop/db-backup"}},
		"shop/frontend->shop/inventory:http": {Decision: graph.AuthzAllow, DryRun: []string{"shop/inventory-deny-all"}},
		"shop/frontend->shop/ledger:http":    {Decision: graph.AuthzDeny, Policies: []string{"shop/ledger-allow-nothing"}},
		"unknown->shop/frontend:http":        {Decision: graph.AuthzConditional, Policies: []string{"shop/frontend-get"}},
		"shop/frontend->shop/payments:http":  {Decision: graph.AuthzAllow},
	} {
		e, ok := findEdgeByID(last, id)
		if !ok || e.Authorization == nil {
			t.Errorf("%s: no edge or no authorization: %+v", id, e)
			continue
		}
		if a := *e.Authorization; a.Decision != want.Decision || !slices.Equal(a.Policies, want.Policies) || !slices.Equal(a.DryRun, want.DryRun) {
			t.Errorf("%s: %+v, want %+v", id, a, want)
		}
	}
	for _, want := range []string{
		"authz-denies-plaintext:shop/reviews",
		"authz-denies-observed:shop/search",
		"authz-denies-observed:shop/cache",
		"authz-allow-nothing:AuthorizationPolicy shop/ledger-allow-nothing",
		"authz-selects-nothing:AuthorizationPolicy shop/ghost",
	} {
		if !slices.ContainsFunc(last.Findings, func(f graph.Finding) bool { return f.ID == want }) {
			t.Errorf("no finding %s", want)
		}
	}
}

func findEdgeByID(s graph.Snapshot, id string) (graph.Edge, bool) {
	for _, e := range s.Edges {
		if e.ID == id {
			return e, true
		}
	}
	return graph.Edge{}, false
}

// compareAuthorization holds each edge's decision, per share (mTLS by the
// caller's principal, plaintext by none), to what meshsim decided at every
// endpoint that judged the caller: allow must never have denied, deny must
// have denied, conditional may have done either; meshsim's deciding
// policies are among the edge's; denied HTTP traffic shows as deniedRate.
func compareAuthorization(s graph.Snapshot, truth meshsim.Truth) []string {
	var problems []string
	sharp := 0
	for key, c := range truth.Callers {
		id := realMeshEdges[key]
		e, ok := findEdgeByID(s, id)
		if len(c.Authorization) == 0 {
			continue
		}
		if !ok || e.Authorization == nil {
			problems = append(problems, fmt.Sprintf("%s: meshsim judged %s, the graph has no decision (%+v)", id, key, e))
			continue
		}
		a := e.Authorization
		for _, j := range c.Authorization {
			decision := a.Decision
			switch {
			case j.Principal != "" && a.MutualTLS != "":
				decision = a.MutualTLS
			case j.Principal == "" && a.Plaintext != "":
				decision = a.Plaintext
			}
			switch {
			case decision == graph.AuthzAllow && j.Denied, decision == graph.AuthzDeny && !j.Denied:
				problems = append(problems, fmt.Sprintf("%s: graph %s, meshsim at %s (principal %q): %s", id, decision, j.Endpoint, j.Principal, j.Reason))
			case decision != graph.AuthzConditional:
				sharp++
			}
			for _, p := range j.Policies {
				if decision != graph.AuthzConditional && !slices.Contains(a.Policies, p) {
					problems = append(problems, fmt.Sprintf("%s: meshsim's %s not among the edge's %v", id, p, a.Policies))
				}
			}
		}
		if c.Denied > 0 && c.Protocol == meshsim.HTTP && !(e.DeniedRate > 0) {
			problems = append(problems, fmt.Sprintf("%s: meshsim denied %d requests, deniedRate %v", id, c.Denied, e.DeniedRate))
		}
	}
	if sharp < 6 {
		problems = append(problems, fmt.Sprintf("only %d decisions compared sharply", sharp))
	}
	slices.Sort(problems)
	return problems
}
