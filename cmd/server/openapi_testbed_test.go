// docs/openapi.yaml held to meshlock on the real test bed in token mode: the admin's graph,
// identity, report (JSON and CSV), stream and a server-validated dry run; alice's graph and stream
// with the hidden node, her 403s; and the 401s of every kind of route without a token.

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/testbed"
)

// hasEdges says whether a graph's or a report's JSON has edges of these ids.
func hasEdges(body []byte, ids ...string) bool {
	var doc struct{ Edges []struct{ ID string } }
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	for _, id := range ids {
		if !slices.ContainsFunc(doc.Edges, func(e struct{ ID string }) bool { return e.ID == id }) {
			return false
		}
	}
	return true
}

func TestOpenAPIOnRealCluster(t *testing.T) {
	spec := loadAPISpec(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tb := startTestbedMesh(t, teamATopology(), true, nil)
	go tb.mesh.Run(ctx, 250*time.Millisecond)
	grantListServices(t, tb.kube, "team-a", rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: testbed.UnprivilegedUser})
	start := time.Now()
	base := startMeshlock(t, "--kubeconfig="+tb.cluster.Kubeconfig, "--prometheus-url="+tb.prometheus.URL,
		"--auth=token", "--allow-enforce", "--refresh=1s", "--window=4s", "--lookback=0")
	admin, alice := tb.cluster.Token(testbed.AdminUser), tb.cluster.Token(testbed.UnprivilegedUser)
	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	as := func(token, path string, want int) []byte {
		t.Helper()
		_, body := spec.do(t, client, base, exchange{method: http.MethodGet, path: path, header: bearer(token), validRequest: want < 400, want: want})
		return body
	}

	testutil.Eventually(t, "the admin sees team-a's frontend calling productpage", func() (bool, string) {
		code, _, body := getWithToken(t, base+"/api/graph", admin)
		return code == http.StatusOK && hasEdges(body, "team-a/frontend->default/productpage:http", "default/reviews->default/ratings:http"), string(body)
	})
	as(admin, "/api/graph", http.StatusOK)
	as(admin, "/api/graph?namespace=default", http.StatusOK)
	as(admin, "/api/identity", http.StatusOK)
	as(admin, "/", http.StatusOK)
	as(admin, "/metrics", http.StatusOK)
	as(admin, "/api/actions", http.StatusOK)
	as(admin, "/api/history?edge=default/productpage->default/reviews:http", http.StatusOK)
	// The report, over what Prometheus holds of this test's mesh.
	from := start.Add(-time.Minute).UTC().Format(time.RFC3339)
	testutil.Eventually(t, "Prometheus holds the mesh's traffic", func() (bool, string) {
		code, _, body := getWithToken(t, base+"/api/report?from="+from, admin)
		return code == http.StatusOK && hasEdges(body, "default/reviews->default/ratings:http"), string(body)
	})
	as(admin, "/api/report?from="+from, http.StatusOK)
	as(admin, "/api/report?from="+from+"&format=csv&namespace=default", http.StatusOK)
	spec.do(t, client, base, exchange{method: http.MethodPost, path: "/api/enforce", validRequest: true, want: http.StatusOK,
		header: http.Header{"Authorization": {"Bearer " + admin}, "Content-Type": {"application/json"}},
		body:   `{"scope":"namespace","namespace":"default","mode":"peerauthentication","dryRun":true}`})
	msgs := spec.readStream(t, base, "", bearer(admin), 2)
	if !strings.Contains(string(msgs[0]["graph"]), `"default/productpage"`) {
		t.Errorf("the admin's first stream message: %.300s", msgs[0]["graph"])
	}

	// alice may list Services in team-a only: the other end is hidden.
	testutil.Eventually(t, "alice sees team-a's frontend calling the hidden node", func() (bool, string) {
		code, _, body := getWithToken(t, base+"/api/graph", alice)
		return code == http.StatusOK && hasEdges(body, "team-a/frontend->hidden:http"), string(body)
	})
	body := as(alice, "/api/graph", http.StatusOK)
	if !strings.Contains(string(body), `"kind":"hidden"`) || strings.Contains(string(body), "productpage") {
		t.Errorf("alice's graph: %.500s", body)
	}
	as(alice, "/api/identity", http.StatusOK)
	as(alice, "/api/history?edge=team-a/frontend->hidden:http", http.StatusNotFound)
	as(alice, "/api/report?from="+from+"&namespace=default", http.StatusForbidden)
	as(alice, "/metrics", http.StatusForbidden)
	msgs = spec.readStream(t, base, "", bearer(alice), 1)
	if !strings.Contains(string(msgs[0]["graph"]), `"id":"hidden"`) {
		t.Errorf("alice's first stream message: %.300s", msgs[0]["graph"])
	}
	spec.do(t, client, base, exchange{method: http.MethodPost, path: "/api/enforce", want: http.StatusForbidden,
		header: http.Header{"Authorization": {"Bearer " + alice}, "Content-Type": {"application/json"}},
		body:   `{"scope":"namespace","namespace":"team-a","mode":"peerauthentication","dryRun":false,"planId":"p"}`})

	// No token, or one Kubernetes does not know: 401 everywhere but the
	// probes and the assets, which need none.
	for _, token := range []string{"", "not-a-token"} {
		var header http.Header
		if token != "" {
			header = bearer(token)
		}
		for _, path := range []string{"/", "/metrics", "/api/graph", "/api/identity", "/api/history?edge=x", "/api/report", "/api/actions"} {
			spec.do(t, client, base, exchange{method: http.MethodGet, path: path, header: header, want: http.StatusUnauthorized})
		}
		streamHeader := streamHeaders()
		for k, v := range header {
			streamHeader[k] = v
		}
		spec.do(t, client, base, exchange{method: http.MethodGet, path: "/api/stream", header: streamHeader, want: http.StatusUnauthorized})
		post := http.Header{"Content-Type": {"application/json"}}
		for k, v := range header {
			post[k] = v
		}
		spec.do(t, client, base, exchange{method: http.MethodPost, path: "/api/enforce", header: post,
			body: `{"scope":"mesh","mode":"peerauthentication","dryRun":true}`, want: http.StatusUnauthorized})
		spec.do(t, client, base, exchange{method: http.MethodPost, path: "/api/actions/some-action/undo", header: header, want: http.StatusUnauthorized})
	}
	for _, path := range []string{"/healthz", "/readyz", "/static/app.js"} {
		spec.do(t, client, base, exchange{method: http.MethodGet, path: path, validRequest: true, want: http.StatusOK})
	}
	// Token mode serves every Host (the token is the control).
	spec.do(t, client, base, exchange{method: http.MethodGet, path: "/api/graph", header: bearer(admin), host: "meshlock.example", want: http.StatusOK})
}
