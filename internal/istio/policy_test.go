// Tests of PeerAuthentication resolution (the effective mode per workload and port) and of workload selectors.

package istio

import (
	"testing"

	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/meshlock/meshlock/internal/testutil"
)

func TestEffectivePeerAuthentication(t *testing.T) {
	reviews := testutil.Labels("app", "reviews", "version", "v1")
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
			policies:      []*securityv1.PeerAuthentication{testutil.PeerAuth("default", "default", 0, nil)},
			labels:        reviews,
			wantMode:      PeerModeUnset,
			wantEffective: PeerModePermissive,
		},
		{
			name:          "namespace policy with mode UNSET: UNSET with nil source",
			policies:      []*securityv1.PeerAuthentication{testutil.PeerAuth("default", "default", 0, testutil.PAUnset)},
			labels:        reviews,
			wantMode:      PeerModeUnset,
			wantEffective: PeerModePermissive,
		},
		{
			name:          "explicit PERMISSIVE is not UNSET",
			policies:      []*securityv1.PeerAuthentication{testutil.PeerAuth("default", "default", 0, testutil.PAPermissive)},
			labels:        reviews,
			wantMode:      PeerModePermissive,
			wantSource:    "default/default",
			wantEffective: PeerModePermissive,
		},
		{
			name: "namespace UNSET inherits the mesh STRICT, source is the mesh policy",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "default", 0, testutil.PAUnset),
				testutil.PeerAuth("istio-system", "mesh", 1, testutil.PAStrict),
			},
			labels:        reviews,
			wantMode:      PeerModeStrict,
			wantSource:    "istio-system/mesh",
			wantEffective: PeerModeStrict,
		},
		{
			name: "workload UNSET inherits the namespace",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("istio-system", "mesh", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "default", 0, testutil.PADisable),
				testutil.PeerAuth("default", "reviews", 0, testutil.PAUnset, testutil.Selecting("app", "reviews")),
			},
			labels:        reviews,
			wantMode:      PeerModeDisable,
			wantSource:    "default/default",
			wantEffective: PeerModeDisable,
		},
		{
			name: "oldest of two namespace policies wins (older listed last)",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "newer", 10, testutil.PAStrict),
				testutil.PeerAuth("default", "older", 1, testutil.PADisable),
			},
			labels:        reviews,
			wantMode:      PeerModeDisable,
			wantSource:    "default/older",
			wantEffective: PeerModeDisable,
		},
		{
			name: "oldest of two namespace policies wins (older listed first)",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "older", 1, testutil.PADisable),
				testutil.PeerAuth("default", "newer", 10, testutil.PAStrict),
			},
			labels:        reviews,
			wantMode:      PeerModeDisable,
			wantSource:    "default/older",
			wantEffective: PeerModeDisable,
		},
		{
			name: "same age: first name wins",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "b", 1, testutil.PAStrict),
				testutil.PeerAuth("default", "a", 1, testutil.PAPermissive),
			},
			labels:        reviews,
			wantMode:      PeerModePermissive,
			wantSource:    "default/a",
			wantEffective: PeerModePermissive,
		},
		{
			name: "oldest mesh policy wins",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("istio-system", "newer", 10, testutil.PADisable),
				testutil.PeerAuth("istio-system", "older", 1, testutil.PAStrict),
			},
			labels:        reviews,
			wantMode:      PeerModeStrict,
			wantSource:    "istio-system/older",
			wantEffective: PeerModeStrict,
		},
		{
			name: "workload policy for other labels does not apply",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "ratings", 0, testutil.PADisable, testutil.Selecting("app", "ratings")),
			},
			labels:        reviews,
			wantMode:      PeerModeUnset,
			wantEffective: PeerModePermissive,
		},
		{
			name: "workload policy applies to a matching pod",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "reviews", 5, testutil.PADisable, testutil.Selecting("app", "reviews")),
			},
			labels:        reviews,
			wantMode:      PeerModeDisable,
			wantSource:    "default/reviews",
			wantEffective: PeerModeDisable,
		},
		{
			name: "workload policy does not apply without pod labels",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "reviews", 5, testutil.PADisable, testutil.Selecting("app", "reviews")),
			},
			wantMode:      PeerModeStrict,
			wantSource:    "default/default",
			wantEffective: PeerModeStrict,
		},
		{
			name: "port-level mode for the target port",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "reviews", 0, testutil.PAStrict, testutil.Selecting("app", "reviews"), testutil.OnPort(9080, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE)),
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
				testutil.PeerAuth("default", "reviews", 0, testutil.PAStrict, testutil.Selecting("app", "reviews"), testutil.OnPort(9080, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE)),
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
				testutil.PeerAuth("default", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "reviews", 0, nil, testutil.Selecting("app", "reviews"), testutil.OnPort(9080, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
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
				testutil.PeerAuth("default", "default", 0, testutil.PAStrict, testutil.OnPort(9080, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
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
				testutil.PeerAuth("istio-system", "mesh", 0, testutil.PAStrict),
				testutil.PeerAuth("istio-system", "gateway-off", 0, testutil.PADisable, testutil.Selecting("app", "reviews")),
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
				testutil.PeerAuth("istio-system", "mesh", 0, testutil.PAStrict),
			},
			labels:        reviews,
			wantMode:      PeerModeStrict,
			wantSource:    "istio-system/mesh",
			wantEffective: PeerModeStrict,
		},
		{
			name: "custom root namespace: istio-system is an ordinary namespace",
			policies: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("istio-system", "mesh", 0, testutil.PAStrict),
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
		{"empty selector matches anything", nil, testutil.Labels("app", "a"), true},
		{"empty selector matches no labels", nil, nil, true},
		{"all keys and values", testutil.Labels("app", "a", "v", "1"), testutil.Labels("app", "a", "v", "1", "x", "y"), true},
		{"missing key", testutil.Labels("app", "a", "v", "1"), testutil.Labels("app", "a"), false},
		{"different value", testutil.Labels("app", "a"), testutil.Labels("app", "b"), false},
		{"empty value needs the key", testutil.Labels("app", ""), nil, false},
		{"empty value present", testutil.Labels("app", ""), testutil.Labels("app", ""), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SelectorMatches(tc.selector, tc.labels); got != tc.want {
				t.Errorf("SelectorMatches(%v, %v) = %v, want %v", tc.selector, tc.labels, got, tc.want)
			}
		})
	}
}
