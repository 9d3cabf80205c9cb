// Tests of mode destinationrule on fake clients: merges that keep settings, conflicts, rule selection
// and names, the mesh rule, the rules that shadow it or select workloads, and its breaks.

package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/istio"
)

// A rule with every kind of setting: only the TLS mode changes.
func TestEnforceMergeKeepsSettings(t *testing.T) {
	dr := enfDR("default", "reviews", "reviews", 1)
	dr.Labels = map[string]string{"team": "reviews"}
	dr.Annotations = map[string]string{"note": "keep me"}
	dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{
		LoadBalancer:     &networkingapi.LoadBalancerSettings{LbPolicy: &networkingapi.LoadBalancerSettings_Simple{Simple: networkingapi.LoadBalancerSettings_LEAST_REQUEST}},
		ConnectionPool:   &networkingapi.ConnectionPoolSettings{Tcp: &networkingapi.ConnectionPoolSettings_TCPSettings{MaxConnections: 7}},
		OutlierDetection: &networkingapi.OutlierDetection{MinHealthPercent: 42},
		PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{
			{Port: &networkingapi.PortSelector{Number: 9080}, ConnectionPool: &networkingapi.ConnectionPoolSettings{Tcp: &networkingapi.ConnectionPoolSettings_TCPSettings{MaxConnections: 3}}},
			{Port: &networkingapi.PortSelector{Number: 9443}, Tls: enfTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)},
		},
	}
	dr.Spec.Subsets = []*networkingapi.Subset{
		{Name: "v1", Labels: map[string]string{"version": "v1"}},
		{Name: "v2", Labels: map[string]string{"version": "v2"}, TrafficPolicy: &networkingapi.TrafficPolicy{
			LoadBalancer: &networkingapi.LoadBalancerSettings{LbPolicy: &networkingapi.LoadBalancerSettings_Simple{Simple: networkingapi.LoadBalancerSettings_RANDOM}}}},
	}
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080, 9443), dr)
	ctx := context.Background()

	plan, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeService, "default", "reviews", ModeDestinationRule, true))
	if err != nil {
		t.Fatal(err)
	}
	if plan.ServerValidated {
		t.Error("a plan against the fake claims server validation")
	}
	if len(plan.Changes) != 1 || plan.Changes[0].Action != ActionUpdate || plan.Changes[0].Conflict != "" {
		t.Fatalf("plan: %+v", plan.Changes)
	}
	for _, want := range []string{"LEAST_REQUEST", "maxConnections: 7", "minHealthPercent: 42", "team: reviews", "note: keep me", "name: v2", "RANDOM", "mode: ISTIO_MUTUAL"} {
		if !strings.Contains(plan.Changes[0].YAML, want) {
			t.Errorf("planned YAML lacks %q:\n%s", want, plan.Changes[0].YAML)
		}
	}

	if _, err := enfApply(ctx, w.enforcer, w.clients, "me", enfReq(ScopeService, "default", "reviews", ModeDestinationRule, false)); err != nil {
		t.Fatal(err)
	}
	got := enfGetDR(t, w, "default", "reviews")
	want := dr.DeepCopy()
	want.Spec.TrafficPolicy.Tls = enfTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)
	want.Spec.TrafficPolicy.PortLevelSettings[0].Tls = enfTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL) // port-level entries do not inherit
	if g, wnt := enfJSON(t, &got.Spec), enfJSON(t, &want.Spec); g != wnt {
		t.Errorf("merged spec\n got %s\nwant %s", g, wnt)
	}
	if got.Labels["team"] != "reviews" || got.Annotations["note"] != "keep me" {
		t.Errorf("metadata: %v %v", got.Labels, got.Annotations)
	}
	for _, port := range []int32{9080, 9443} {
		for _, subset := range []string{"", "v1", "v2"} {
			p := istio.ResolveClientPolicy([]*networkingv1.DestinationRule{got}, istio.ClientPolicyQuery{ClientNamespace: "default", ServiceName: "reviews", ServiceNS: "default", ServicePort: port, Subset: subset})
			if p.TLS != istio.TLSModeIstioMutual {
				t.Errorf("port %d subset %q resolves to %q", port, subset, p.TLS)
			}
		}
	}
}

// enfJSON is v as JSON with sorted keys, for comparing specs.
func enfJSON(t *testing.T, v any) string {
	t.Helper()
	doc, err := toDoc(v)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestEnforceConflicts(t *testing.T) {
	cases := map[string]func(dr *networkingv1.DestinationRule){
		"subset v2 sets tls.mode DISABLE": func(dr *networkingv1.DestinationRule) {
			dr.Spec.Subsets = []*networkingapi.Subset{{Name: "v1"}, {Name: "v2", TrafficPolicy: &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_DISABLE)}}}
		},
		"subset v1 sets tls.mode SIMPLE": func(dr *networkingv1.DestinationRule) {
			dr.Spec.Subsets = []*networkingapi.Subset{{Name: "v1", TrafficPolicy: &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_SIMPLE)}}}
		},
		"port 9080 sets tls.mode DISABLE": func(dr *networkingv1.DestinationRule) {
			dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{
				{Port: &networkingapi.PortSelector{Number: 9080}, Tls: enfTLS(networkingapi.ClientTLSSettings_DISABLE)}}}
		},
		"subset v1 port 9080 sets tls.mode MUTUAL": func(dr *networkingv1.DestinationRule) {
			dr.Spec.Subsets = []*networkingapi.Subset{{Name: "v1", TrafficPolicy: &networkingapi.TrafficPolicy{PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{
				{Port: &networkingapi.PortSelector{Number: 9080}, Tls: enfTLS(networkingapi.ClientTLSSettings_MUTUAL)}}}}}
		},
		"trafficPolicy sets tls.mode MUTUAL": func(dr *networkingv1.DestinationRule) {
			dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_MUTUAL)}
		},
	}
	for want, edit := range cases {
		t.Run(want, func(t *testing.T) {
			dr := enfDR("default", "reviews", "reviews", 1)
			edit(dr)
			w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080), enfSvc("default", "ratings", map[string]string{"app": "ratings"}, 9080), dr)
			ctx := context.Background()
			before := enfJSON(t, &enfGetDR(t, w, "default", "reviews").Spec)

			plan, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, true))
			if err != nil {
				t.Fatalf("a dry run with a conflict: %v", err)
			}
			var conflict string
			for _, c := range plan.Changes {
				if c.Name == "reviews" {
					conflict = c.Conflict
				}
			}
			if !strings.Contains(conflict, want) {
				t.Errorf("conflict %q, want it to say %q", conflict, want)
			}
			w.istio.ClearActions()
			_, err = enfApply(ctx, w.enforcer, w.clients, "me", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false))
			if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "DestinationRule default/reviews") {
				t.Errorf("apply: %v, want ErrConflict naming DestinationRule default/reviews", err)
			}
			if writes := enfWrites(&w.istio.Fake); len(writes) != 0 {
				t.Errorf("a plan with a conflict wrote: %v (ratings must not be created either)", writes)
			}
			if after := enfJSON(t, &enfGetDR(t, w, "default", "reviews").Spec); after != before {
				t.Errorf("changed: %s → %s", before, after)
			}
		})
	}
}

func TestEnforceRuleSelectionAndNames(t *testing.T) {
	// reviews: found by its FQDN host. ratings: its name is taken by a rule for
	// another host, and "reviews.default" is not a Kubernetes hostname to istiod.
	fqdn := enfDR("default", "reviews-by-fqdn", "reviews.default.svc.cluster.local", 1)
	other := enfDR("default", "ratings", "details", 1)
	short := enfDR("default", "ratings-mtls", "ratings.default", 1)
	// details: two rules for the host; the oldest with a trafficPolicy decides.
	older := enfDR("default", "details-a", "details", 1)
	newer := enfDR("default", "details-b", "details", 2)
	newer.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_DISABLE)}
	w := enfNewWorld(t,
		enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080),
		enfSvc("default", "ratings", map[string]string{"app": "ratings"}, 9080),
		enfSvc("default", "details", map[string]string{"app": "details"}, 9080),
		enfSvc("default", "db", nil, 5432), // no selector: outside the mesh
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}},
		fqdn, other, short, older, newer)
	ctx := context.Background()
	res, err := enfApply(ctx, w.enforcer, w.clients, "me", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range res.Changes {
		got[c.Name] = c.Action
	}
	want := map[string]string{"details-b": ActionUpdate, "ratings-mtls-2": ActionCreate, "reviews-by-fqdn": ActionUpdate}
	if len(got) != len(want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	for name, action := range want {
		if got[name] != action {
			t.Errorf("changes %v, want %v", got, want)
		}
	}
	created := enfGetDR(t, w, "default", "ratings-mtls-2")
	if created.Spec.GetHost() != "ratings" || created.Spec.GetTrafficPolicy().GetTls().GetMode() != networkingapi.ClientTLSSettings_ISTIO_MUTUAL || created.Labels[ManagedByLabel] != ManagedByValue {
		t.Errorf("created: %v", created)
	}
	if enfGetDR(t, w, "default", "details-a").Spec.GetTrafficPolicy() != nil {
		t.Error("the older rule without a trafficPolicy was changed")
	}
	if m := enfGetDR(t, w, "default", "details-b").Spec.GetTrafficPolicy().GetTls().GetMode(); m != networkingapi.ClientTLSSettings_ISTIO_MUTUAL {
		t.Errorf("details-b tls %v", m)
	}
}

func TestEnforceMeshScopeDestinationRule(t *testing.T) {
	taken := enfDR("istio-system", "default", "istiod.istio-system.svc.cluster.local", 1)
	w := enfNewWorld(t, taken)
	ctx := context.Background()
	res, err := enfApply(ctx, w.enforcer, w.clients, "me", enfReq(ScopeMesh, "", "", ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Name != "default-mtls" || res.Changes[0].Namespace != "istio-system" || res.Changes[0].Action != ActionCreate {
		t.Fatalf("changes: %+v", res.Changes)
	}
	if dr := enfGetDR(t, w, "istio-system", "default-mtls"); dr.Spec.GetHost() != "*.local" {
		t.Errorf("mesh rule host %q", dr.Spec.GetHost())
	}
	// A second enforce finds it by its host.
	res, err = w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeMesh, "", "", ModeDestinationRule, true))
	if err != nil || len(res.Changes) != 1 || res.Changes[0].Action != ActionUnchanged || res.Changes[0].Name != "default-mtls" {
		t.Errorf("second plan: %+v %v", res.Changes, err)
	}
}

// A mesh rule for *.local cannot reach hosts that have a rule of their own:
// the plan says which, so nobody expects what will not happen.
func TestMeshDestinationRuleWarnsOfShadowingRules(t *testing.T) {
	plaintext := enfDR("default", "reviews", "reviews", 1)
	mutual := enfDR("default", "ratings", "ratings", 2)
	mutual.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)}
	disabled := enfDR("shop", "cart", "cart.shop.svc.cluster.local", 3)
	disabled.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_DISABLE)}
	external := enfDR("default", "payments", "api.payments.example.com", 4)
	w := enfNewWorld(t, plaintext, mutual, disabled, external)

	res, err := w.enforcer.Enforce(context.Background(), w.clients, "me", enfReq(ScopeMesh, "", "", ModeDestinationRule, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], "DestinationRule default/reviews") ||
		!strings.Contains(res.Warnings[1], "DestinationRule shop/cart") || !strings.Contains(res.Warnings[1], "enforce on namespace shop") {
		t.Errorf("warnings %q, want default/reviews and shop/cart only", res.Warnings)
	}

	res, err = w.enforcer.Enforce(context.Background(), w.clients, "me", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, true))
	if err != nil || len(res.Warnings) != 0 {
		t.Errorf("a namespace plan warns %q (%v)", res.Warnings, err)
	}
}

// A rule selecting some clients comes first for them (pilot/pkg/model/
// sidecar.go): a plan that leaves it without ISTIO_MUTUAL says those
// clients keep sending plaintext, at every scope that covers its host.
func TestDestinationRulePlanWarnsOfWorkloadSelectedRules(t *testing.T) {
	canary := enfDR("default", "reviews-canary", "reviews", 1)
	canary.Spec.WorkloadSelector = &typeapi.WorkloadSelector{MatchLabels: map[string]string{"app": "productpage", "version": "v2"}}
	mutualCanary := enfDR("default", "ratings-canary", "ratings", 2)
	mutualCanary.Spec.WorkloadSelector = &typeapi.WorkloadSelector{MatchLabels: map[string]string{"app": "reviews"}}
	mutualCanary.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: enfTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)}
	w := enfNewWorld(t, canary, mutualCanary,
		enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080),
		enfSvc("default", "ratings", map[string]string{"app": "ratings"}, 9080))

	for _, req := range []Request{
		enfReq(ScopeMesh, "", "", ModeDestinationRule, true),
		enfReq(ScopeNamespace, "default", "", ModeDestinationRule, true),
		enfReq(ScopeService, "default", "reviews", ModeDestinationRule, true),
	} {
		res, err := w.enforcer.Enforce(context.Background(), w.clients, "me", req)
		if err != nil {
			t.Fatal(err)
		}
		var selected []string
		for _, warning := range res.Warnings {
			if strings.Contains(warning, "selects workloads") {
				selected = append(selected, warning)
			}
		}
		if len(selected) != 1 || !strings.Contains(selected[0], "DestinationRule default/reviews-canary") || !strings.Contains(selected[0], "app=productpage,version=v2") {
			t.Errorf("%s plan: warnings %q, want reviews-canary's alone", req.Scope, res.Warnings)
		}
	}
	// Another Service's plan, or STRICT, says nothing of it.
	for _, req := range []Request{
		enfReq(ScopeService, "default", "ratings", ModeDestinationRule, true),
		enfReq(ScopeService, "default", "reviews", ModePeerAuthentication, true),
	} {
		if res, err := w.enforcer.Enforce(context.Background(), w.clients, "me", req); err != nil || len(res.Warnings) != 0 {
			t.Errorf("%s %s plan: warnings %q (%v)", req.Service, req.Mode, res.Warnings, err)
		}
	}
}

// previewGraph: ratings has a plaintext caller from outside the mesh;
// legacy/db has no sidecar and a caller with one; shop/cart is ambient.
func previewGraph() graph.Snapshot {
	return graph.Snapshot{
		Nodes: []graph.Node{
			{ID: "default/ratings", Namespace: "default", Name: "ratings", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET"},
			{ID: "default/reviews", Namespace: "default", Name: "reviews", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET"},
			{ID: "legacy/db", Namespace: "legacy", Name: "db", Kind: graph.KindService, InMesh: false, PeerAuthentication: "UNSET"},
			{ID: "shop/cart", Namespace: "shop", Name: "cart", Kind: graph.KindService, InMesh: true, DataPlane: graph.DataPlaneAmbient},
			{ID: "unknown", Name: "unknown", Kind: graph.KindUnknown},
		},
		Edges: []graph.Edge{
			{ID: "default/reviews->default/ratings:http", Source: "default/reviews", Target: "default/ratings", Protocol: "http", Rate: 2, MTLSRatio: 1, Status: graph.StatusLocked},
			{ID: "unknown->default/ratings:http", Source: "unknown", Target: "default/ratings", Protocol: "http", Rate: 0.5, Status: graph.StatusOpen},
			{ID: "default/reviews->legacy/db:tcp", Source: "default/reviews", Target: "legacy/db", Protocol: "tcp", Rate: 100, Status: graph.StatusUnknown},
		},
	}
}

// ISTIO_MUTUAL cuts the callers with a sidecar of a server without one,
// and says what it does not do for ambient workloads.
func TestDestinationRulePreview(t *testing.T) {
	breaks, warnings := Preview(previewGraph(), enfReq(ScopeMesh, "", "", ModeDestinationRule, true), Result{})
	if len(breaks) != 1 || breaks[0].Source != "default/reviews" || breaks[0].Target != "legacy/db" || !strings.Contains(breaks[0].Reason, "without a sidecar") {
		t.Errorf("breaks %+v", breaks)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "shop/cart is in ambient mode") {
		t.Errorf("warnings %q", warnings)
	}
	breaks, warnings = Preview(previewGraph(), enfReq(ScopeNamespace, "default", "", ModeDestinationRule, true), Result{})
	if breaks == nil || len(breaks) != 0 || len(warnings) != 0 {
		t.Errorf("inside default: %+v %q, want no break (an empty list) and no warning", breaks, warnings)
	}
}
