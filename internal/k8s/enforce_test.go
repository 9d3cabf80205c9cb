// Tests of the Enforcer on fake clients: request validation, options, merges that keep settings,
// conflicts, rule selection and names, scopes, not-found, PeerAuthentication plans, dry runs, concurrent changes.

package k8s

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshlock/meshlock/internal/istio"
)

// The fakes here are honest for plan computation, merging, names, scopes
// and validation. They ignore DryRun and resourceVersions, so dry runs,
// optimistic concurrency and RBAC are tested on the real test bed
// (test/integration/enforce_test.go); what is tested here is that meshlock
// does not rely on them against a fake.

type enfWorld struct {
	kube     *kubefake.Clientset
	istio    *istiofake.Clientset
	clients  Clients
	enforcer *Enforcer
}

func enfNewWorld(t *testing.T, objects ...runtime.Object) *enfWorld {
	t.Helper()
	var kubeObjs, istioObjs []runtime.Object
	kubeObjs = append(kubeObjs,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "meshlock"}},
	)
	for _, o := range objects {
		switch o.(type) {
		case *networkingv1.DestinationRule, *securityv1.PeerAuthentication:
			istioObjs = append(istioObjs, o)
		default:
			kubeObjs = append(kubeObjs, o)
		}
	}
	w := &enfWorld{kube: kubefake.NewClientset(kubeObjs...), istio: istiofake.NewSimpleClientset(istioObjs...)}
	w.clients = Clients{Kube: w.kube, Istio: w.istio}
	w.enforcer = enfNewEnforcer(t, EnforcerOptions{})
	return w
}

func enfNewEnforcer(t *testing.T, opts EnforcerOptions) *Enforcer {
	t.Helper()
	opts.AuditNamespace = "meshlock"
	opts.LocalDryRun = true // the fake clientsets store dry-run writes
	if opts.Now == nil {
		clock := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
		opts.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	}
	e, err := NewEnforcer(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func enfSvc(namespace, name string, selector map[string]string, ports ...int32) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Spec: corev1.ServiceSpec{Selector: selector}}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Port: p})
	}
	return svc
}

func enfDR(namespace, name, host string, age int) *networkingv1.DestinationRule {
	dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
		CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, age, 0, time.UTC))}}
	dr.Spec.Host = host
	return dr
}

func enfTLS(mode networkingapi.ClientTLSSettings_TLSmode) *networkingapi.ClientTLSSettings {
	return &networkingapi.ClientTLSSettings{Mode: mode}
}

func enfGetDR(t *testing.T, w *enfWorld, namespace, name string) *networkingv1.DestinationRule {
	t.Helper()
	dr, err := w.istio.NetworkingV1().DestinationRules(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("DestinationRule %s/%s: %v", namespace, name, err)
	}
	return dr
}

func enfReq(scope, namespace, service, mode string, dryRun bool) EnforceRequest {
	return EnforceRequest{Scope: scope, Namespace: namespace, Service: service, Mode: mode, DryRun: dryRun}
}

func enfWrites(f *k8stesting.Fake) []string {
	var out []string
	for _, a := range f.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestEnforceRequestValidate(t *testing.T) {
	valid := []EnforceRequest{
		{Scope: "mesh", Mode: "destinationrule", DryRun: true},
		{Scope: "mesh", Mode: "peerauthentication", PlanID: "0123"},
		{Scope: "namespace", Namespace: "default", Mode: "destinationrule", DryRun: true},
		{Scope: "service", Namespace: "default", Service: "reviews", Mode: "peerauthentication", DryRun: true},
	}
	for _, r := range valid {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	invalid := []EnforceRequest{
		{},
		{Scope: "mesh"},
		{Scope: "cluster", Mode: "destinationrule"},
		{Scope: "mesh", Mode: "sidecar"},
		{Scope: "mesh", Mode: "DestinationRule"},
		{Scope: "mesh", Namespace: "default", Mode: "destinationrule"},
		{Scope: "namespace", Mode: "destinationrule"},
		{Scope: "namespace", Namespace: "Default", Mode: "destinationrule"},
		{Scope: "namespace", Namespace: "a/b", Mode: "destinationrule"},
		{Scope: "namespace", Namespace: strings.Repeat("a", 64), Mode: "destinationrule"},
		{Scope: "namespace", Namespace: "default", Service: "reviews", Mode: "destinationrule"},
		{Scope: "service", Namespace: "default", Mode: "destinationrule"},
		{Scope: "service", Service: "reviews", Mode: "destinationrule"},
		{Scope: "service", Namespace: "default", Service: "1reviews", Mode: "destinationrule"},
		{Scope: "service", Namespace: "default", Service: "reviews.default", Mode: "destinationrule"},
	}
	for _, r := range invalid {
		err := r.Validate()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err = %v, want ErrInvalid", r, err)
		}
	}
	w := enfNewWorld(t)
	if _, err := w.enforcer.Enforce(context.Background(), w.clients, "me", invalid[2]); !errors.Is(err, ErrInvalid) {
		t.Errorf("Enforce with an invalid request: %v", err)
	}
	if len(w.istio.Actions()) != 0 {
		t.Errorf("an invalid request reached the API: %v", w.istio.Actions())
	}
}

func TestNewEnforcerOptions(t *testing.T) {
	if _, err := NewEnforcer(EnforcerOptions{}); err == nil {
		t.Error("no audit namespace accepted")
	}
	if _, err := NewEnforcer(EnforcerOptions{AuditNamespace: "Bad_NS"}); err == nil {
		t.Error("an invalid audit namespace accepted")
	}
	e, err := NewEnforcer(EnforcerOptions{AuditNamespace: "meshlock"})
	if err != nil {
		t.Fatal(err)
	}
	if e.opts.RootNamespace != "istio-system" || e.opts.FieldManager != "meshlock" || e.opts.Logger == nil || e.opts.Now == nil {
		t.Errorf("defaults: %+v", e.opts)
	}
}

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

func TestEnforceNotFound(t *testing.T) {
	w := enfNewWorld(t)
	ctx := context.Background()
	for _, req := range []EnforceRequest{
		enfReq(ScopeService, "default", "nope", ModeDestinationRule, true),
		enfReq(ScopeService, "default", "nope", ModePeerAuthentication, false),
		enfReq(ScopeNamespace, "missing", "", ModeDestinationRule, true),
		enfReq(ScopeNamespace, "missing", "", ModePeerAuthentication, false),
	} {
		if _, err := enfApply(ctx, w.enforcer, w.clients, "me", req); !errors.Is(err, ErrNotFound) {
			t.Errorf("%+v: %v, want ErrNotFound", req, err)
		}
	}
}

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
		req    EnforceRequest
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

// The fakes store dry-run writes; meshlock must not send them any.
func TestEnforceDryRunOnFakeChangesNothing(t *testing.T) {
	dr := enfDR("default", "reviews", "reviews", 1)
	w := enfNewWorld(t, enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080), enfSvc("default", "ratings", map[string]string{"app": "ratings"}, 9080), dr)
	ctx := context.Background()
	for _, mode := range []string{ModeDestinationRule, ModePeerAuthentication} {
		w.istio.ClearActions()
		w.kube.ClearActions()
		plan, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeNamespace, "default", "", mode, true))
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Changes) == 0 || plan.ActionID != "" || plan.ServerValidated {
			t.Errorf("%s plan: %+v", mode, plan)
		}
		for _, c := range plan.Changes {
			if !strings.Contains(c.YAML, "ISTIO_MUTUAL") && !strings.Contains(c.YAML, "STRICT") {
				t.Errorf("planned YAML:\n%s", c.YAML)
			}
		}
		if writes := append(enfWrites(&w.istio.Fake), enfWrites(&w.kube.Fake)...); len(writes) != 0 {
			t.Errorf("%s dry run wrote %v", mode, writes)
		}
	}
	if enfGetDR(t, w, "default", "reviews").Spec.GetTrafficPolicy() != nil {
		t.Error("the dry run changed reviews")
	}
	if _, err := w.istio.NetworkingV1().DestinationRules("default").Get(ctx, "ratings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run created ratings: %v", err)
	}
}

// On a fake (no resourceVersions) a concurrent change is caught by content.
func TestEnforceConcurrentChangeOnFake(t *testing.T) {
	w := enfNewWorld(t,
		enfSvc("default", "a", map[string]string{"app": "a"}, 80), enfSvc("default", "b", map[string]string{"app": "b"}, 80), enfSvc("default", "c", map[string]string{"app": "c"}, 80),
		enfDR("default", "a", "a", 1), enfDR("default", "b", "b", 1))
	ctx := context.Background()
	w.enforcer = enfNewEnforcer(t, EnforcerOptions{BeforeWrite: func(ctx context.Context, c Change) {
		if c.Name != "b" {
			return
		}
		dr := enfGetDR(t, w, "default", "b")
		dr.Spec.ExportTo = []string{"."}
		if _, err := w.istio.NetworkingV1().DestinationRules("default").Update(ctx, dr, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	}})
	_, err := enfApply(ctx, w.enforcer, w.clients, "me", enfReq(ScopeNamespace, "default", "", ModeDestinationRule, false))
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "DestinationRule default/b") {
		t.Fatalf("err = %v, want ErrConflict naming DestinationRule default/b", err)
	}
	if enfGetDR(t, w, "default", "a").Spec.GetTrafficPolicy() != nil {
		t.Error("a was not rolled back")
	}
	if got := enfGetDR(t, w, "default", "b"); got.Spec.GetTrafficPolicy() != nil || len(got.Spec.GetExportTo()) != 1 {
		t.Errorf("b: %v", &got.Spec)
	}
	if _, err := w.istio.NetworkingV1().DestinationRules("default").Get(ctx, "c", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("c was created: %v", err)
	}
}

// enfApply does what the page does: a dry run, then an apply carrying the
// dry run's planId. A dry run, or a request that has its planId, goes as is.
func enfApply(ctx context.Context, e *Enforcer, c Clients, who string, req EnforceRequest) (Result, error) {
	if req.DryRun || req.PlanID != "" {
		return e.Enforce(ctx, c, who, req)
	}
	dry := req
	dry.DryRun = true
	plan, err := e.Enforce(ctx, c, who, dry)
	if err != nil {
		return plan, err
	}
	req.PlanID = plan.PlanID
	return e.Enforce(ctx, c, who, req)
}
