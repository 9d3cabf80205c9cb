// The demo's ambient namespace end to end (issue 21): meshsim's ztunnel and waypoint reports,
// through the demo's PromQL engine, read as Istio writes them; STRICT enforced from the API turns
// the plaintext caller refused, never an open padlock.

package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/demo"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/e2e"
)

// The demo's shop namespace: web → cart over ztunnel's tunnel (locked),
// web → orders through the waypoint (one edge, locked, in HTTP: the
// waypoint's report), productpage (a sidecar) → cart over HBONE (locked),
// inventory-sync (no data plane) → cart plaintext (open). No edge to or
// from the waypoint. Enforcing STRICT on shop refuses inventory-sync: its
// edge carries refusedRate and is never open, a finding names it, and the
// others stay locked.
func TestDemoAmbientNamespace(t *testing.T) {
	base := startMeshlock(t, "--demo", "--refresh=1s", "--window=5s")
	want := map[string]string{
		"shop/web->shop/cart:tcp":             graph.StatusLocked,
		"shop/web->shop/orders:http":          graph.StatusLocked,
		"default/productpage->shop/cart:http": graph.StatusLocked,
		"shop/inventory-sync->shop/cart:tcp":  graph.StatusOpen,
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	var s graph.Snapshot
	testutil.Eventually(t, "the shop namespace's edges", func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph?namespace=shop")
		for id, status := range want {
			if e, ok := edgeByID(s, id); !ok || e.Status != status {
				return false, statuses(s, ids...)
			}
		}
		return true, ""
	})
	for _, e := range s.Edges {
		if strings.Contains(e.ID, "waypoint") {
			t.Errorf("an edge through the waypoint counted apart: %s", e.ID)
		}
	}
	for _, id := range []string{"shop/web", "shop/cart"} {
		if n, ok := nodeByID(s, id); !ok || !n.InMesh {
			t.Errorf("%s: %+v, want in the mesh", id, n)
		}
	}

	// A DestinationRule governs no ambient traffic: the plan says so.
	var drPlan enforceAnswer
	if code := post(t, base+"/api/enforce", "", `{"scope":"namespace","namespace":"shop","mode":"destinationrule","dryRun":true}`, &drPlan); code != http.StatusOK ||
		!slices.ContainsFunc(drPlan.Warnings, func(w string) bool {
			return strings.Contains(w, "shop/cart") && strings.Contains(w, "ztunnel reads no DestinationRule")
		}) {
		t.Errorf("the DestinationRule plan on shop: %d, warnings %q", code, drPlan.Warnings)
	}

	// STRICT's preview lists the plaintext caller ztunnel would refuse.
	var plan enforceAnswer
	request := `{"scope":"namespace","namespace":"shop","mode":"peerauthentication","dryRun":%s}`
	if code := post(t, base+"/api/enforce", "", fmt.Sprintf(request, "true"), &plan); code != http.StatusOK {
		t.Fatalf("dry run: %d %+v", code, plan)
	}
	var cut []string
	for _, b := range plan.Breaks {
		cut = append(cut, b.Source+"->"+b.Target)
	}
	if !slices.Equal(cut, []string{"shop/inventory-sync->shop/cart"}) {
		t.Errorf("STRICT on shop would cut %v, want inventory-sync alone", cut)
	}
	var applied enforceAnswer
	apply := strings.Replace(fmt.Sprintf(request, "false"), `"dryRun":false`, `"dryRun":false,"planId":"`+plan.PlanID+`"`, 1)
	if code := post(t, base+"/api/enforce", "", apply, &applied); code != http.StatusOK {
		t.Fatalf("apply: %d %+v", code, applied)
	}
	const refused = "shop/inventory-sync->shop/cart:tcp"
	testutil.Eventually(t, "inventory-sync refused, the others locked", func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph?namespace=shop")
		e, ok := edgeByID(s, refused)
		if !ok || e.RefusedRate == 0 || e.Status == graph.StatusOpen || e.Status == graph.StatusMixed {
			return false, statuses(s, ids...) + fmt.Sprintf(" refused %+v", e)
		}
		for id, status := range want {
			if e, ok := edgeByID(s, id); id != refused && (!ok || e.Status != status) {
				return false, statuses(s, ids...)
			}
		}
		return true, ""
	})
	found := false
	for _, f := range s.Findings {
		if f.Kind == graph.FindingRefusedByPolicy && strings.Contains(f.Message, "shop/inventory-sync") {
			found = true
		}
	}
	if !found {
		t.Errorf("no refused-by-policy finding names inventory-sync: %+v", s.Findings)
	}
}

// The same on the real test bed: meshsim's ambient namespace published to
// kube-apiserver (pods annotated as istio-cni does, a waypoint Deployment,
// the Service's use-waypoint label), its reports scraped by Prometheus;
// meshlock reads each workload's data plane from the pods, shows the
// padlocks, and after STRICT is enforced on shop through its API the
// plaintext caller is refused, never open, while the others stay locked.
func TestAmbientOnRealCluster(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tb := startTestbedMesh(t, demo.WithShop(meshsim.Bookinfo()), true, nil)
	go tb.mesh.Run(ctx, 250*time.Millisecond)
	base := startMeshlock(t, "--kubeconfig="+tb.cluster.Kubeconfig, "--prometheus-url="+tb.prometheus.URL,
		"--refresh=1s", "--window=4s", "--lookback=0", "--allow-enforce")
	const (
		tunnel   = "shop/web->shop/cart:tcp"
		waypoint = "shop/web->shop/orders:http"
		hbone    = "default/productpage->shop/cart:http"
		plain    = "shop/inventory-sync->shop/cart:tcp"
	)
	ids := []string{tunnel, waypoint, hbone, plain}
	var s graph.Snapshot
	testutil.Eventually(t, "shop's padlocks", func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph?namespace=shop")
		return allStatus(s, graph.StatusLocked, tunnel, waypoint, hbone) && allStatus(s, graph.StatusOpen, plain), statuses(s, ids...)
	})
	if n, ok := nodeByID(s, "shop/cart"); !ok || n.DataPlane != graph.DataPlaneAmbient || !n.InMesh {
		t.Errorf("shop/cart: %+v, want ambient and in the mesh", n)
	}

	var plan enforceAnswer
	request := `{"scope":"namespace","namespace":"shop","mode":"peerauthentication","dryRun":%s}`
	if code := post(t, base+"/api/enforce", "", fmt.Sprintf(request, "true"), &plan); code != http.StatusOK {
		t.Fatalf("dry run: %d %+v", code, plan)
	}
	var applied enforceAnswer
	apply := strings.Replace(fmt.Sprintf(request, "false"), `"dryRun":false`, `"dryRun":false,"planId":"`+plan.PlanID+`"`, 1)
	if code := post(t, base+"/api/enforce", "", apply, &applied); code != http.StatusOK {
		t.Fatalf("apply: %d %+v", code, applied)
	}
	testutil.Eventually(t, "inventory-sync refused, the others locked", func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph?namespace=shop")
		e, ok := edgeByID(s, plain)
		refused := ok && e.RefusedRate > 0 && e.Status != graph.StatusOpen && e.Status != graph.StatusMixed
		return refused && allStatus(s, graph.StatusLocked, tunnel, waypoint, hbone), statuses(s, ids...) + fmt.Sprintf(" %+v", e)
	})
}

// The page shows ambient mode: the node table says each data plane, and
// once STRICT is enforced on shop the refused caller's padlock is drawn as
// refused (its own style), not as an open padlock.
func TestDemoAmbientInBrowser(t *testing.T) {
	base := startMeshlock(t, "--demo", "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 800)
	browser.Open(base + "/?namespace=shop")
	const plain = "shop/inventory-sync->shop/cart:tcp"
	browser.WaitFor("the shop namespace drawn", `window.meshlock?.ready && document.querySelector('[data-testid=padlock][data-edge-id="`+plain+`"]')?.dataset.status === 'open'`,
		`JSON.stringify([...document.querySelectorAll('[data-testid=padlock]')].map(p => p.dataset.edgeId + '=' + p.dataset.status))`)
	browser.Click(`#nodes-block summary`)
	browser.WaitFor("the node table", `document.querySelectorAll('[data-testid=node-row]').length > 0`, `document.querySelector('#nodes-count')?.textContent`)
	planes, err := e2e.Eval[string](browser, `JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-testid=node-row]')].map(r => [r.dataset.nodeId, r.querySelector('[data-testid=node-dataplane]').textContent])))`)
	if err != nil || !strings.Contains(planes, `"shop/cart":"ambient (ztunnel)"`) || !strings.Contains(planes, `"default/productpage":"sidecar"`) {
		t.Errorf("the node table's data planes: %s (%v)", planes, err)
	}

	var plan enforceAnswer
	request := `{"scope":"namespace","namespace":"shop","mode":"peerauthentication","dryRun":%s}`
	if code := post(t, base+"/api/enforce", "", fmt.Sprintf(request, "true"), &plan); code != http.StatusOK {
		t.Fatalf("dry run: %d %+v", code, plan)
	}
	apply := strings.Replace(fmt.Sprintf(request, "false"), `"dryRun":false`, `"dryRun":false,"planId":"`+plan.PlanID+`"`, 1)
	var applied enforceAnswer
	if code := post(t, base+"/api/enforce", "", apply, &applied); code != http.StatusOK {
		t.Fatalf("apply: %d %+v", code, applied)
	}
	browser.WaitFor("inventory-sync's padlock refused, not open",
		`(() => { const p = document.querySelector('[data-testid=padlock][data-edge-id="`+plain+`"]'); return p && p.classList.contains('refused') && p.dataset.status !== 'open' && p.dataset.status !== 'mixed'; })()`,
		`document.querySelector('[data-testid=padlock][data-edge-id="`+plain+`"]')?.className`)
}
