// Tests of Authorization: the judge of edges (EvaluateAuthorization over a Service's pods and
// ports) and each AuthorizationPolicy's reach.

package istio

import (
	"slices"
	"testing"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/testutil"
)

func authzObjects(policies []*securityv1.AuthorizationPolicy, pods ...*corev1.Pod) Objects {
	svc := testutil.Service("default", "reviews", map[string]string{"app": "reviews"},
		testutil.ServicePort(9080, intstr.FromInt32(9080)))
	if len(pods) == 0 {
		pods = []*corev1.Pod{testutil.Pod("default", "reviews-1", testutil.WithLabels("app", "reviews"), testutil.WithSidecar())}
	}
	return Objects{Services: []*corev1.Service{svc}, Pods: pods, Authzs: policies}
}

// The edge's judge: a principal ALLOW lets bob in and denies plaintext
// (pilot/pkg/security/authz/builder/builder.go, model/generator.go).
func TestAuthorizerSidecar_builder(t *testing.T) {
	policies := []*securityv1.AuthorizationPolicy{authzPolicy(t, "default", "bob-only",
		`{"selector":{"matchLabels":{"app":"reviews"}},"rules":[{"from":[{"source":{"principals":["cluster.local/ns/frontend/sa/bob"]}}]}]}`)}
	authorize, _ := Authorization(authzObjects(policies), DefaultRootNamespace, "cluster.local", nil)
	for _, tc := range []struct {
		principal, want string
	}{
		{"spiffe://" + bob, graph.AuthzAllow},
		{"spiffe://" + alice, graph.AuthzDeny},
		{"", graph.AuthzDeny},
	} {
		a, ok := authorize("default", "reviews", tc.principal)
		if !ok || a.Decision != tc.want || !slices.Equal(a.Policies, []string{"default/bob-only"}) {
			t.Errorf("%q: %+v %v, want %s by default/bob-only", tc.principal, a, ok, tc.want)
		}
	}
	// An answer is the caller's own copy: changing it changes no later one.
	a, _ := authorize("default", "reviews", "")
	a.Policies[0] = "changed"
	if b, _ := authorize("default", "reviews", ""); b.Policies[0] != "default/bob-only" {
		t.Errorf("cache shared with a caller: %v", b.Policies)
	}
	if _, ok := authorize("default", "nothing", ""); ok {
		t.Error("an unknown Service was judged")
	}
	if authorize, reach := Authorization(authzObjects(nil), DefaultRootNamespace, "cluster.local", nil); authorize != nil || reach != nil {
		t.Error("no policy: want no judge (everything allowed)")
	}
}

// Pods differing in what applies make the decision conditional; a pod
// without a proxy enforces nothing (policies bind to proxies:
// pilot/pkg/model/authorization.go).
func TestAuthorizerPodsDisagree_authorization(t *testing.T) {
	policies := []*securityv1.AuthorizationPolicy{authzPolicy(t, "default", "v2-deny-all",
		`{"selector":{"matchLabels":{"version":"v2"}},"action":"DENY","rules":[{}]}`)}
	v1 := testutil.Pod("default", "reviews-v1", testutil.WithLabels("app", "reviews", "version", "v1"), testutil.WithSidecar())
	v2 := testutil.Pod("default", "reviews-v2", testutil.WithLabels("app", "reviews", "version", "v2"), testutil.WithSidecar())
	authorize, _ := Authorization(authzObjects(policies, v1, v2), DefaultRootNamespace, "cluster.local", nil)
	a, ok := authorize("default", "reviews", "spiffe://"+bob)
	if !ok || a.Decision != graph.AuthzConditional || !slices.Equal(a.Policies, []string{"default/v2-deny-all"}) {
		t.Errorf("v1 allows, v2 denies: %+v", a)
	}
	noProxy := testutil.Pod("default", "reviews-v2", testutil.WithLabels("app", "reviews", "version", "v2"))
	authorize, _ = Authorization(authzObjects(policies, noProxy), DefaultRootNamespace, "cluster.local", nil)
	if a, _ := authorize("default", "reviews", ""); a.Decision != graph.AuthzAllow {
		t.Errorf("no proxy: %+v, want allow", a)
	}
}

// A Service a waypoint serves is not judged: its policies attach to the
// waypoint by targetRef (pilot/pkg/serviceregistry/ambient/waypoints.go).
func TestAuthorizerWaypointNotJudged_waypoints(t *testing.T) {
	policies := []*securityv1.AuthorizationPolicy{authzPolicy(t, "default", "deny", `{"action":"DENY","rules":[{}]}`)}
	objs := authzObjects(policies, testutil.Pod("default", "reviews-1", testutil.WithLabels("app", "reviews")))
	objs.Services[0].Labels = map[string]string{"istio.io/use-waypoint": "waypoint"}
	objs.NamespaceLabels = map[string]map[string]string{"default": {"istio.io/dataplane-mode": "ambient"}}
	if authorize, _ := Authorization(objs, DefaultRootNamespace, "cluster.local", nil); authorize == nil {
		t.Fatal("no judge")
	} else if _, ok := authorize("default", "reviews", ""); ok {
		t.Error("a waypoint's Service was judged")
	}
}

func TestAccessPolicies_policyattachment(t *testing.T) {
	policies := []*securityv1.AuthorizationPolicy{
		authzPolicy(t, "default", "typo", `{"selector":{"matchLabels":{"app":"reviewz"}},"rules":[{}]}`),
		authzPolicy(t, "default", "allow-nothing", `{}`),
		authzPolicy(t, "istio-system", "mesh-deny", `{"action":"DENY","rules":[{"from":[{"source":{"namespaces":["evil"]}}]}]}`),
		authzPolicy(t, "default", "gw", `{"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"missing"}],"rules":[{}]}`),
		authzPolicy(t, "default", "svc-ref", `{"targetRefs":[{"kind":"Service","name":"reviews"}],"rules":[{}]}`),
	}
	_, got := Authorization(authzObjects(policies), DefaultRootNamespace, "cluster.local", nil)
	want := []graph.AccessPolicy{
		{Namespace: "default", Name: "allow-nothing", Action: "ALLOW", AllowsNothing: true, Services: []string{"default/reviews"}},
		{Namespace: "default", Name: "gw", Action: "ALLOW", SelectsNothing: true},
		{Namespace: "default", Name: "svc-ref", Action: "ALLOW"},
		{Namespace: "default", Name: "typo", Action: "ALLOW", SelectsNothing: true},
		{Namespace: "istio-system", Name: "mesh-deny", Action: "DENY", Services: []string{"default/reviews"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Namespace != w.Namespace || g.Name != w.Name || g.Action != w.Action || g.SelectsNothing != w.SelectsNothing ||
			g.AllowsNothing != w.AllowsNothing || !slices.Equal(g.Services, w.Services) {
			t.Errorf("%d: got %+v, want %+v", i, g, w)
		}
	}
}
