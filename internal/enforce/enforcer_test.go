// Tests of the Enforcer on fake clients, whatever the mode: request validation, options, not-found,
// dry runs, concurrent changes; and the helpers every mode's tests share.

package enforce

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshlock/meshlock/internal/k8s"
)

// The fakes here are honest for plan computation, merging, names, scopes
// and validation. They ignore DryRun and resourceVersions, so dry runs,
// optimistic concurrency and RBAC are tested on the real test bed
// (test/integration/enforce_test.go); what is tested here is that meshlock
// does not rely on them against a fake.

type enfWorld struct {
	kube     *kubefake.Clientset
	istio    *istiofake.Clientset
	clients  k8s.Clients
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
		case *networkingv1.DestinationRule, *securityv1.PeerAuthentication, *securityv1.AuthorizationPolicy:
			istioObjs = append(istioObjs, o)
		default:
			kubeObjs = append(kubeObjs, o)
		}
	}
	w := &enfWorld{kube: kubefake.NewClientset(kubeObjs...), istio: istiofake.NewSimpleClientset(istioObjs...)}
	w.clients = k8s.Clients{Kube: w.kube, Istio: w.istio}
	w.enforcer = enfNewEnforcer(t, Options{})
	return w
}

func enfNewEnforcer(t *testing.T, opts Options) *Enforcer {
	t.Helper()
	opts.AuditNamespace = "meshlock"
	opts.LocalDryRun = true // the fake clientsets store dry-run writes
	if opts.Now == nil {
		clock := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
		opts.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	}
	e, err := New(opts)
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

func enfReq(scope, namespace, service, mode string, dryRun bool) Request {
	return Request{Scope: scope, Namespace: namespace, Service: service, Mode: mode, DryRun: dryRun}
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
	valid := []Request{
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
	invalid := []Request{
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
	if _, err := New(Options{}); err == nil {
		t.Error("no audit namespace accepted")
	}
	if _, err := New(Options{AuditNamespace: "Bad_NS"}); err == nil {
		t.Error("an invalid audit namespace accepted")
	}
	e, err := New(Options{AuditNamespace: "meshlock"})
	if err != nil {
		t.Fatal(err)
	}
	if e.opts.RootNamespace != "istio-system" || e.opts.FieldManager != "meshlock" || e.opts.Logger == nil || e.opts.Now == nil {
		t.Errorf("defaults: %+v", e.opts)
	}
}

func TestEnforceNotFound(t *testing.T) {
	w := enfNewWorld(t)
	ctx := context.Background()
	for _, req := range []Request{
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
	w.enforcer = enfNewEnforcer(t, Options{BeforeWrite: func(ctx context.Context, c Change) {
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
func enfApply(ctx context.Context, e *Enforcer, c k8s.Clients, who string, req Request) (Result, error) {
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
