// Test that a mesh-wide DestinationRule plan warns of the per-host rules that shadow it.

package k8s

import (
	"context"
	"strings"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
	typeapi "istio.io/api/type/v1beta1"
)

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

	for _, req := range []EnforceRequest{
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
	for _, req := range []EnforceRequest{
		enfReq(ScopeService, "default", "ratings", ModeDestinationRule, true),
		enfReq(ScopeService, "default", "reviews", ModePeerAuthentication, true),
	} {
		if res, err := w.enforcer.Enforce(context.Background(), w.clients, "me", req); err != nil || len(res.Warnings) != 0 {
			t.Errorf("%s %s plan: warnings %q (%v)", req.Service, req.Mode, res.Warnings, err)
		}
	}
}
