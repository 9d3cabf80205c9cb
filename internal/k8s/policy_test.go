package k8s

import (
	"testing"

	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

func TestEffectivePeerAuthentication(t *testing.T) {
	reviews := labelSet("app", "reviews", "version", "v1")
	tests := []struct {
		name      string
		policies  []*securityv1.PeerAuthentication
		root      string // "" leaves the default to the function
		namespace string // default "default"
		labels    map[string]string
		port      int32
		// wantMode and wantSource ("ns/name", "" for a nil source) are
		// EffectivePeerAuthentication's answer; wantEffective is EffectivePeerMode's.
		wantMode      PeerMode
		wantSource    string
		wantEffective PeerMode
	}{
		{
			name:          "no policy: UNSET with nil source, PERMISSIVE in effect",
			labels:        reviews,
			wantMode:      PeerModeUnset,
			wantEffective: PeerModePermissive,
		},
		{
			name:          "namespace policy without mtls: UNSET with nil source",
			policies:      []*securityv1.PeerAuthentication{newPeerAuth("default", "default", 0, nil)},
			labels:        reviews,
			wantMode:      PeerModeUnset,
			wantEffective: PeerModePermissive,
		},
		{
			name:          "namespace policy with mode UNSET: UNSET with nil source",
			policies:      []*securityv1.PeerAuthentication{newPeerAuth("default", "default", 0, paUnset)},
			labels:        reviews,
			wantMode:      PeerModeUnset,
			wantEffective: PeerModePermissive,
		},
		{
			name:          "explicit PERMISSIVE is not UNSET",
			policies:      []*securityv1.PeerAuthentication{newPeerAuth("default", "default", 0, paPermissive)},
			labels:        reviews,
			wantMode:      PeerModePermissive,
			wantSource:    "default/default",
			wantEffective: PeerModePermissive,
		},
		{
			name: "namespace UNSET inherits the mesh STRICT, source is the mesh policy",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "default", 0, paUnset),
				newPeerAuth("istio-system", "mesh", 1, paStrict),
			},
			labels:        reviews,
			wantMode:      PeerModeStrict,
			wantSource:    "istio-system/mesh",
			wantEffective: PeerModeStrict,
		},
		{
			name: "workload UNSET inherits the namespace",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("istio-system", "mesh", 0, paStrict),
				newPeerAuth("default", "default", 0, paDisable),
				newPeerAuth("default", "reviews", 0, paUnset, selecting("app", "reviews")),
			},
			labels:        reviews,
			wantMode:      PeerModeDisable,
			wantSource:    "default/default",
			wantEffective: PeerModeDisable,
		},
		{
			name: "oldest of two namespace policies wins (older listed last)",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "newer", 10, paStrict),
				newPeerAuth("default", "older", 1, paDisable),
			},
			labels:        reviews,
			wantMode:      PeerModeDisable,
			wantSource:    "default/older",
			wantEffective: PeerModeDisable,
		},
		{
			name: "oldest of two namespace policies wins (older listed first)",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "older", 1, paDisable),
				newPeerAuth("default", "newer", 10, paStrict),
			},
			labels:        reviews,
			wantMode:      PeerModeDisable,
			wantSource:    "default/older",
			wantEffective: PeerModeDisable,
		},
		{
			name: "same age: first name wins",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "b", 1, paStrict),
				newPeerAuth("default", "a", 1, paPermissive),
			},
			labels:        reviews,
			wantMode:      PeerModePermissive,
			wantSource:    "default/a",
			wantEffective: PeerModePermissive,
		},
		{
			name: "oldest mesh policy wins",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("istio-system", "newer", 10, paDisable),
				newPeerAuth("istio-system", "older", 1, paStrict),
			},
			labels:        reviews,
			wantMode:      PeerModeStrict,
			wantSource:    "istio-system/older",
			wantEffective: PeerModeStrict,
		},
		{
			name: "workload policy for other labels does not apply",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "ratings", 0, paDisable, selecting("app", "ratings")),
			},
			labels:        reviews,
			wantMode:      PeerModeUnset,
			wantEffective: PeerModePermissive,
		},
		{
			name: "workload policy applies to a matching pod",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "default", 0, paStrict),
				newPeerAuth("default", "reviews", 5, paDisable, selecting("app", "reviews")),
			},
			labels:        reviews,
			wantMode:      PeerModeDisable,
			wantSource:    "default/reviews",
			wantEffective: PeerModeDisable,
		},
		{
			name: "workload policy does not apply without pod labels",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "default", 0, paStrict),
				newPeerAuth("default", "reviews", 5, paDisable, selecting("app", "reviews")),
			},
			wantMode:      PeerModeStrict,
			wantSource:    "default/default",
			wantEffective: PeerModeStrict,
		},
		{
			name: "port-level mode for the target port",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "reviews", 0, paStrict, selecting("app", "reviews"), onPort(9080, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE)),
			},
			labels:        reviews,
			port:          9080,
			wantMode:      PeerModePermissive,
			wantSource:    "default/reviews",
			wantEffective: PeerModePermissive,
		},
		{
			name: "port-level mode for another port",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "reviews", 0, paStrict, selecting("app", "reviews"), onPort(9080, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE)),
			},
			labels:        reviews,
			port:          15020,
			wantMode:      PeerModeStrict,
			wantSource:    "default/reviews",
			wantEffective: PeerModeStrict,
		},
		{
			name: "port-level mode on a workload policy with no top-level mode",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "default", 0, paStrict),
				newPeerAuth("default", "reviews", 0, nil, selecting("app", "reviews"), onPort(9080, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
			},
			labels:        reviews,
			port:          9080,
			wantMode:      PeerModeDisable,
			wantSource:    "default/reviews",
			wantEffective: PeerModeDisable,
		},
		{
			name: "port-level mode without a selector is ignored",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("default", "default", 0, paStrict, onPort(9080, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
			},
			labels:        reviews,
			port:          9080,
			wantMode:      PeerModeStrict,
			wantSource:    "default/default",
			wantEffective: PeerModeStrict,
		},
		{
			name: "pod in the root namespace gets the mesh policy, not selector policies there",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("istio-system", "mesh", 0, paStrict),
				newPeerAuth("istio-system", "gateway-off", 0, paDisable, selecting("app", "reviews")),
			},
			namespace:     "istio-system",
			labels:        reviews,
			wantMode:      PeerModeStrict,
			wantSource:    "istio-system/mesh",
			wantEffective: PeerModeStrict,
		},
		{
			name: "empty root namespace means istio-system",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("istio-system", "mesh", 0, paStrict),
			},
			labels:        reviews,
			wantMode:      PeerModeStrict,
			wantSource:    "istio-system/mesh",
			wantEffective: PeerModeStrict,
		},
		{
			name: "custom root namespace: istio-system is an ordinary namespace",
			policies: []*securityv1.PeerAuthentication{
				newPeerAuth("istio-system", "mesh", 0, paStrict),
			},
			root:          "mesh-root",
			labels:        reviews,
			wantMode:      PeerModeUnset,
			wantEffective: PeerModePermissive,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := tc.namespace
			if ns == "" {
				ns = "default"
			}
			mode, source := EffectivePeerAuthentication(tc.policies, tc.root, ns, tc.labels, tc.port)
			gotSource := ""
			if source != nil {
				gotSource = source.Namespace + "/" + source.Name
			}
			if mode != tc.wantMode || gotSource != tc.wantSource {
				t.Errorf("EffectivePeerAuthentication = %q, %q; want %q, %q", mode, gotSource, tc.wantMode, tc.wantSource)
			}
			if mode == PeerModeUnset && source != nil {
				t.Errorf("UNSET with a source %s/%s", source.Namespace, source.Name)
			}
			if got := EffectivePeerMode(tc.policies, tc.root, ns, tc.labels, tc.port); got != tc.wantEffective {
				t.Errorf("EffectivePeerMode = %q, want %q", got, tc.wantEffective)
			}
		})
	}
}

func TestSelectorMatches(t *testing.T) {
	tests := []struct {
		name             string
		selector, labels map[string]string
		want             bool
	}{
		{"empty selector matches anything", nil, labelSet("app", "a"), true},
		{"empty selector matches no labels", nil, nil, true},
		{"all keys and values", labelSet("app", "a", "v", "1"), labelSet("app", "a", "v", "1", "x", "y"), true},
		{"missing key", labelSet("app", "a", "v", "1"), labelSet("app", "a"), false},
		{"different value", labelSet("app", "a"), labelSet("app", "b"), false},
		{"empty value needs the key", labelSet("app", ""), nil, false},
		{"empty value present", labelSet("app", ""), labelSet("app", ""), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SelectorMatches(tc.selector, tc.labels); got != tc.want {
				t.Errorf("SelectorMatches(%v, %v) = %v, want %v", tc.selector, tc.labels, got, tc.want)
			}
		})
	}
}
