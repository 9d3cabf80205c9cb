// Tests of mode peerauthentication on fake clients: STRICT plans for each scope, the conflicts that
// stop them (port levels, selectors, older policies that decide), and its breaks.

package enforce

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEnforcePeerAuthenticationPlans(t *testing.T) {
	ctx := context.Background()
	reviews := enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080)

	t.Run("service scope selects the service's pods", func(t *testing.T) {
		w := enfNewWorld(t, reviews)
		if _, err := enfApply(ctx, w.enforcer, w.clients, "me", enfReq(ScopeService, "default", "reviews", ModePeerAuthentication, false)); err != nil {
			t.Fatal(err)
		}
		pa, err := w.istio.SecurityV1().PeerAuthentications("default").Get(ctx, "reviews", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pa.Spec.GetMtls().GetMode() != securityapi.PeerAuthentication_MutualTLS_STRICT || pa.Spec.GetSelector().GetMatchLabels()["app"] != "reviews" {
			t.Errorf("policy: %v", &pa.Spec)
		}
	})
	t.Run("a service without a selector", func(t *testing.T) {
		w := enfNewWorld(t, enfSvc("default", "db", nil, 5432))
		if _, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeService, "default", "db", ModePeerAuthentication, true)); !errors.Is(err, ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
	})

	pa := func(namespace, name string, age int, mode securityapi.PeerAuthentication_MutualTLS_Mode, selector map[string]string) *securityv1.PeerAuthentication {
		p := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, age, 0, time.UTC))}}
		p.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: mode}
		if selector != nil {
			p.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: selector}
		}
		return p
	}
	portDisable := pa("default", "default", 1, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE, nil)
	portDisable.Spec.PortLevelMtls = map[uint32]*securityapi.PeerAuthentication_MutualTLS{8080: {Mode: securityapi.PeerAuthentication_MutualTLS_DISABLE}}
	conflicts := []struct {
		name   string
		req    Request
		exists *securityv1.PeerAuthentication
		want   string
	}{
		{"port-level DISABLE", enfReq(ScopeNamespace, "default", "", ModePeerAuthentication, true), portDisable, "port 8080 is set to DISABLE"},
		{"a default with a selector", enfReq(ScopeNamespace, "default", "", ModePeerAuthentication, true),
			pa("default", "default", 1, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE, map[string]string{"app": "x"}), "selects app=x"},
		{"an older namespace-wide policy", enfReq(ScopeNamespace, "default", "", ModePeerAuthentication, true),
			pa("default", "legacy", 1, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE, nil), "PeerAuthentication default/legacy is older"},
		{"an older mesh-wide policy", enfReq(ScopeMesh, "", "", ModePeerAuthentication, true),
			pa("istio-system", "mesh", 1, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE, nil), "PeerAuthentication istio-system/mesh is older"},
		{"an older policy for the same pods", enfReq(ScopeService, "default", "reviews", ModePeerAuthentication, true),
			pa("default", "reviews-old", 1, securityapi.PeerAuthentication_MutualTLS_DISABLE, map[string]string{"app": "reviews"}), "PeerAuthentication default/reviews-old is older"},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			w := enfNewWorld(t, reviews, tc.exists)
			plan, err := w.enforcer.Enforce(ctx, w.clients, "me", tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Changes) != 1 || !strings.Contains(plan.Changes[0].Conflict, tc.want) {
				t.Errorf("changes %+v, want a conflict saying %q", plan.Changes, tc.want)
			}
			apply := tc.req
			apply.DryRun = false
			w.istio.ClearActions()
			if _, err := enfApply(ctx, w.enforcer, w.clients, "me", apply); !errors.Is(err, ErrConflict) {
				t.Errorf("apply: %v, want ErrConflict", err)
			}
			if writes := enfWrites(&w.istio.Fake); len(writes) != 0 {
				t.Errorf("wrote %v", writes)
			}
		})
	}

	t.Run("an existing STRICT policy is unchanged", func(t *testing.T) {
		w := enfNewWorld(t, pa("default", "default", 1, securityapi.PeerAuthentication_MutualTLS_STRICT, nil))
		plan, err := enfApply(ctx, w.enforcer, w.clients, "me", enfReq(ScopeNamespace, "default", "", ModePeerAuthentication, false))
		if err != nil || len(plan.Changes) != 1 || plan.Changes[0].Action != ActionUnchanged {
			t.Errorf("%+v %v", plan, err)
		}
	})
}

// STRICT cuts the plaintext callers of servers with a sidecar.
func TestPeerAuthenticationPreview(t *testing.T) {
	breaks, warnings := Preview(previewGraph(), enfReq(ScopeNamespace, "default", "", ModePeerAuthentication, true), Result{})
	if len(breaks) != 1 || breaks[0].Source != "unknown" || breaks[0].Target != "default/ratings" || !strings.Contains(breaks[0].Reason, "STRICT refuses it") || warnings != nil {
		t.Errorf("breaks %+v, warnings %q", breaks, warnings)
	}
	if breaks, _ := Preview(previewGraph(), enfReq(ScopeService, "default", "reviews", ModePeerAuthentication, true), Result{}); len(breaks) != 0 {
		t.Errorf("STRICT on reviews: %+v", breaks)
	}
}
