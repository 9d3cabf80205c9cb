// Tests of the report's access list (issue 25): each Service's AuthorizationPolicies and what they
// decide for the callers of the period, in JSON and CSV.

package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/meshlock/meshlock/internal/graph"
)

// cart lets in principals only: the cron job's plaintext (day three) is
// denied, web's mTLS allowed; db has no policy.
func TestBuildListsEachServicesAccess(t *testing.T) {
	g, _ := weekGenerator()
	g.Cluster = func() graph.Cluster {
		c := testCluster()
		for i := range c.Workloads {
			c.Workloads[i].ServiceAccounts = []string{c.Workloads[i].Name}
		}
		c.Authorize = func(ns, svc, principal string) (graph.Authorization, bool) {
			if svc != "cart" {
				return graph.Authorization{Decision: graph.AuthzAllow}, true
			}
			if principal == "" {
				return graph.Authorization{Decision: graph.AuthzDeny, Policies: []string{"shop/cart-callers"}}, true
			}
			return graph.Authorization{Decision: graph.AuthzAllow, Policies: []string{"shop/cart-callers"}}, true
		}
		c.AccessPolicies = []graph.AccessPolicy{{Namespace: "shop", Name: "cart-callers", Action: "ALLOW", Services: []string{"shop/cart"}}}
		return c
	}
	p, src, err := g.Parse(t.Context(), "7d", "")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := g.Snapshot(t.Context(), p, &src)
	if err != nil {
		t.Fatal(err)
	}
	r := Build(Input{Period: p, Snapshot: snap, Source: src}, now)
	if len(r.Access) != 2 {
		t.Fatalf("access = %+v", r.Access)
	}
	cart, db := r.Access[0], r.Access[1]
	// web's edge carried plaintext on two days too: its plaintext share is
	// denied, its mTLS allowed, so conditional; cron's is denied.
	if cart.Service != "shop/cart" || cart.State != AccessDeniesCallers || cart.Denied != 1 || cart.Conditional != 1 ||
		!slices.Equal(cart.Policies, []string{"shop/cart-callers"}) || !slices.Equal(cart.DeniedCallers, []string{"shop/cron->shop/cart:http"}) {
		t.Errorf("cart: %+v", cart)
	}
	if db.Service != "shop/db" || db.State != AccessNoPolicy || db.Allowed != 1 || len(db.Policies) != 0 {
		t.Errorf("db: %+v", db)
	}
	var csv bytes.Buffer
	if err := WriteCSV(&csv, r); err != nil {
		t.Fatal(err)
	}
	if want := "access,shop,shop/cart,,denies-callers,,,,,,,shop/cart-callers,,\"0 allowed, 1 denied, 1 conditional; denied: shop/cron->shop/cart:http\","; !strings.Contains(csv.String(), want) {
		t.Errorf("CSV lacks %q:\n%s", want, csv.String())
	}
}
