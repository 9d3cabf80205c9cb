// Test that a mesh-wide DestinationRule plan warns of the per-host rules that shadow it.

package k8s

import (
	"context"
	"strings"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
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
