// Integration tests of enforce and undo on the real test bed: bookinfo's rules become the mTLS fixture,
// STRICT at each scope, conflicts, exact undo, RBAC refusals, audit surviving restarts, and Events.

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/test/testbed"

	"github.com/meshlock/meshlock/internal/testutil"
)

const enfAuditNS = "meshlock"

type enfEnv struct {
	cluster  *testbed.Cluster
	kube     kubernetes.Interface
	istio    istioclient.Interface
	clients  k8s.Clients
	enforcer *enforce.Enforcer
}

// enfStart starts a test bed with the audit and root namespaces.
func enfStart(t *testing.T) *enfEnv {
	t.Helper()
	cluster := testbed.StartCluster(t)
	env := &enfEnv{
		cluster: cluster,
		kube:    kubernetes.NewForConfigOrDie(cluster.RESTConfig),
		istio:   istioclient.NewForConfigOrDie(cluster.RESTConfig),
	}
	env.clients = k8s.Clients{Kube: env.kube, Istio: env.istio}
	for _, ns := range []string{enfAuditNS, istio.DefaultRootNamespace} {
		if _, err := env.kube.CoreV1().Namespaces().Create(enfCtx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	env.enforcer = env.newEnforcer(t, enforce.Options{})
	return env
}

func (env *enfEnv) newEnforcer(t *testing.T, opts enforce.Options) *enforce.Enforcer {
	t.Helper()
	opts.AuditNamespace = enfAuditNS
	e, err := enforce.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func enfCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func enfService(t *testing.T, kube kubernetes.Interface, namespace, name string, selector map[string]string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 9080}},
		},
	}
	if _, err := kube.CoreV1().Services(namespace).Create(enfCtx(t), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

var enfBookinfoServices = []string{"details", "productpage", "ratings", "reviews"}

// enfBookinfo applies destination-rule-all.yaml and creates bookinfo's four Services.
func enfBookinfo(t *testing.T, env *enfEnv) {
	t.Helper()
	ApplyDestinationRules(t, env.istio, "default", SharedFixture(t, "bookinfo", "destination-rule-all.yaml"))
	for _, name := range enfBookinfoServices {
		enfService(t, env.kube, "default", name, map[string]string{"app": name})
	}
}

// enfRawSpecs is each DestinationRule's spec in namespace exactly as the
// API server serves it (bytes), by name.
func enfRawSpecs(t *testing.T, istio istioclient.Interface, namespace string) map[string]string {
	t.Helper()
	raw, err := istio.NetworkingV1().RESTClient().Get().Namespace(namespace).Resource("destinationrules").DoRaw(enfCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec json.RawMessage `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, item := range list.Items {
		out[item.Metadata.Name] = string(item.Spec)
	}
	return out
}

// enfNormalJSON re-marshals v so that two equal specs compare equal as strings.
func enfNormalJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	data, err = json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// enfFixtureSpecs are the specs of a bookinfo fixture file, by name.
func enfFixtureSpecs(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(SharedFixture(t, "bookinfo", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := k8s.DecodeDestinationRules(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rules {
		out[r.Name] = enfNormalJSON(t, &r.Spec)
	}
	return out
}

func enfClusterSpecs(t *testing.T, istio istioclient.Interface, namespace string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, raw := range enfRawSpecs(t, istio, namespace) {
		out[name] = enfNormalJSON(t, json.RawMessage(raw))
	}
	return out
}

func enfAssertSpecs(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for name, spec := range want {
		if got[name] != spec {
			t.Errorf("%s: DestinationRule %s spec\n got %s\nwant %s", what, name, got[name], spec)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected DestinationRule %s: %s", what, name, got[name])
		}
	}
}

func enfRequest(scope, namespace, service, mode string, dryRun bool) enforce.Request {
	return enforce.Request{Scope: scope, Namespace: namespace, Service: service, Mode: mode, DryRun: dryRun}
}

// (1) The bookinfo fixture case: the result equals destination-rule-all-mtls.yaml.
func TestEnforceBookinfoDestinationRules(t *testing.T) {
	env := enfStart(t)
	enfBookinfo(t, env)
	ctx := enfCtx(t)
	before := enfRawSpecs(t, env.istio, "default")
	enfAssertSpecs(t, "the fixture as applied", enfClusterSpecs(t, env.istio, "default"), enfFixtureSpecs(t, "destination-rule-all.yaml"))

	plan, err := env.enforcer.Enforce(ctx, env.clients, "admin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, true))
	if err != nil {
		t.Fatal(err)
	}
	if !plan.DryRun || plan.ActionID != "" || !plan.ServerValidated {
		t.Errorf("dry run result: %+v", plan)
	}
	var names []string
	for _, c := range plan.Changes {
		names = append(names, c.Name)
		if c.Action != enforce.ActionUpdate || c.Kind != enforce.KindDestinationRule || c.Namespace != "default" || c.Conflict != "" {
			t.Errorf("planned change: %+v", c)
		}
		if !strings.Contains(c.YAML, "mode: ISTIO_MUTUAL") || !strings.Contains(c.YAML, "subsets:") || strings.Contains(c.YAML, "resourceVersion") || strings.Contains(c.YAML, "managedFields") {
			t.Errorf("planned YAML of %s:\n%s", c.Name, c.YAML)
		}
	}
	if !slices.Equal(names, enfBookinfoServices) {
		t.Errorf("planned changes for %v, want the 4 bookinfo rules %v", names, enfBookinfoServices)
	}
	if after := enfRawSpecs(t, env.istio, "default"); !mapsEqual(after, before) {
		t.Fatalf("the dry run changed the rules:\nbefore %v\nafter  %v", before, after)
	}
	if actions, err := env.enforcer.Actions(ctx, env.clients); err != nil || len(actions) != 0 {
		t.Fatalf("the dry run was recorded: %v %v", actions, err)
	}

	res, err := enfApply(ctx, env.enforcer, env.clients, "admin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.DryRun || res.ActionID == "" || len(res.Changes) != 4 {
		t.Fatalf("applied result: %+v", res)
	}
	enfAssertSpecs(t, "after enforce", enfClusterSpecs(t, env.istio, "default"), enfFixtureSpecs(t, "destination-rule-all-mtls.yaml"))

	again, err := env.enforcer.Enforce(ctx, env.clients, "admin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again.Changes {
		if c.Action != enforce.ActionUnchanged {
			t.Errorf("second plan: %+v, want unchanged", c)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func enfGetPA(t *testing.T, istio istioclient.Interface, namespace, name string) *securityv1.PeerAuthentication {
	t.Helper()
	pa, err := istio.SecurityV1().PeerAuthentications(namespace).Get(enfCtx(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("PeerAuthentication %s/%s: %v", namespace, name, err)
	}
	return pa
}

// (2) PeerAuthentication STRICT at each scope.
func TestEnforcePeerAuthenticationScopes(t *testing.T) {
	env := enfStart(t)
	ctx := enfCtx(t)
	enfService(t, env.kube, "default", "reviews", map[string]string{"app": "reviews", "tier": "backend"})

	cases := []struct {
		req                 enforce.Request
		namespace, name     string
		selector            map[string]string
		existingUpdatedFrom *securityapi.PeerAuthentication_MutualTLS_Mode
	}{
		{req: enfRequest(enforce.ScopeMesh, "", "", enforce.ModePeerAuthentication, false), namespace: "istio-system", name: "default"},
		{req: enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModePeerAuthentication, false), namespace: "default", name: "default"},
		{req: enfRequest(enforce.ScopeService, "default", "reviews", enforce.ModePeerAuthentication, false), namespace: "default", name: "reviews",
			selector: map[string]string{"app": "reviews", "tier": "backend"}},
	}
	for _, tc := range cases {
		dry := tc.req
		dry.DryRun = true
		plan, err := env.enforcer.Enforce(ctx, env.clients, "admin", dry)
		if err != nil {
			t.Fatalf("%s dry run: %v", tc.req.Scope, err)
		}
		if len(plan.Changes) != 1 || plan.Changes[0].Action != enforce.ActionCreate || plan.Changes[0].Name != tc.name || !strings.Contains(plan.Changes[0].YAML, "mode: STRICT") {
			t.Fatalf("%s plan: %+v", tc.req.Scope, plan.Changes)
		}
		if _, err := env.istio.SecurityV1().PeerAuthentications(tc.namespace).Get(ctx, tc.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("%s: the dry run created the policy (err %v)", tc.req.Scope, err)
		}
		if _, err := enfApply(ctx, env.enforcer, env.clients, "admin", tc.req); err != nil {
			t.Fatalf("%s: %v", tc.req.Scope, err)
		}
		pa := enfGetPA(t, env.istio, tc.namespace, tc.name)
		if pa.Spec.GetMtls().GetMode() != securityapi.PeerAuthentication_MutualTLS_STRICT {
			t.Errorf("%s: mode %v", tc.req.Scope, pa.Spec.GetMtls().GetMode())
		}
		if got := pa.Spec.GetSelector().GetMatchLabels(); !mapsEqual(got, tc.selector) {
			t.Errorf("%s: selector %v, want %v", tc.req.Scope, got, tc.selector)
		}
	}

	// An existing PERMISSIVE namespace policy is updated in place.
	ns := "team"
	if _, err := env.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	permissive := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns, Labels: map[string]string{"owner": "team"}}}
	permissive.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_PERMISSIVE}
	if _, err := env.istio.SecurityV1().PeerAuthentications(ns).Create(ctx, permissive, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := enfApply(ctx, env.enforcer, env.clients, "admin", enfRequest(enforce.ScopeNamespace, ns, "", enforce.ModePeerAuthentication, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Action != enforce.ActionUpdate {
		t.Fatalf("changes: %+v", res.Changes)
	}
	pa := enfGetPA(t, env.istio, ns, "default")
	if pa.Spec.GetMtls().GetMode() != securityapi.PeerAuthentication_MutualTLS_STRICT || pa.Labels["owner"] != "team" {
		t.Errorf("updated policy: %+v", pa)
	}
}

// (3) A concurrent change between read and write → ErrConflict, and what was
// already written is rolled back.
func TestEnforceConcurrentChangeConflicts(t *testing.T) {
	env := enfStart(t)
	enfBookinfo(t, env)
	ctx := enfCtx(t)
	before := enfRawSpecs(t, env.istio, "default")

	var foreign string
	enforcer := env.newEnforcer(t, enforce.Options{BeforeWrite: func(ctx context.Context, c enforce.Change) {
		if c.Name != "ratings" {
			return
		}
		// Someone else edits ratings through the API after meshlock read it.
		dr, err := env.istio.NetworkingV1().DestinationRules("default").Get(ctx, "ratings", metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		dr.Spec.Subsets = dr.Spec.Subsets[:1]
		if dr, err = env.istio.NetworkingV1().DestinationRules("default").Update(ctx, dr, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
			return
		}
		foreign = enfNormalJSON(t, &dr.Spec)
	}})
	_, err := enfApply(ctx, enforcer, env.clients, "admin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, false))
	if !errors.Is(err, enforce.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if !strings.Contains(err.Error(), "DestinationRule default/ratings") {
		t.Errorf("the error does not name the object: %v", err)
	}
	t.Logf("conflict: %v", err)
	after := enfRawSpecs(t, env.istio, "default")
	for _, name := range []string{"details", "productpage", "reviews"} {
		if after[name] != before[name] {
			t.Errorf("%s not rolled back / changed:\nbefore %s\nafter  %s", name, before[name], after[name])
		}
	}
	if got := enfNormalJSON(t, json.RawMessage(after["ratings"])); got != foreign {
		t.Errorf("the concurrent change to ratings was overwritten: %s, want %s", got, foreign)
	}
	// A failed action is recorded as rolled back (issue 10), and so as undone.
	if actions, err := enforcer.Actions(ctx, env.clients); err != nil || len(actions) != 1 || !actions[0].RolledBack || actions[0].UndoneAt == nil {
		t.Errorf("the failed action is not recorded as rolled back: %v %v", actions, err)
	}
}

// (4) Undo restores byte-for-byte specs and deletes what the action created.
func TestEnforceUndoRestoresExactly(t *testing.T) {
	env := enfStart(t)
	enfBookinfo(t, env)
	enfService(t, env.kube, "default", "mongodb", map[string]string{"app": "mongodb"})
	ctx := enfCtx(t)
	// Labels and annotations must survive too.
	reviews, err := env.istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reviews.Labels = map[string]string{"team": "reviews"}
	reviews.Annotations = map[string]string{"note": "kept"}
	if _, err := env.istio.NetworkingV1().DestinationRules("default").Update(ctx, reviews, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := enfRawSpecs(t, env.istio, "default")

	res, err := enfApply(ctx, env.enforcer, env.clients, "admin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, c := range res.Changes {
		actions[c.Name] = c.Action
	}
	if actions["mongodb"] != enforce.ActionCreate || actions["reviews"] != enforce.ActionUpdate || len(actions) != 5 {
		t.Fatalf("changes: %v", actions)
	}
	created, err := env.istio.NetworkingV1().DestinationRules("default").Get(ctx, "mongodb", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.GetHost() != "mongodb" || created.Spec.GetTrafficPolicy().GetTls().GetMode().String() != "ISTIO_MUTUAL" {
		t.Errorf("created rule: %v", &created.Spec)
	}
	reviews, _ = env.istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	if reviews.Labels["team"] != "reviews" || reviews.Annotations["note"] != "kept" {
		t.Errorf("labels/annotations lost: %v %v", reviews.Labels, reviews.Annotations)
	}

	undone, err := env.enforcer.Undo(ctx, env.clients, "bob", res.ActionID)
	if err != nil {
		t.Fatal(err)
	}
	if undone.UndoneAt == nil || undone.UndoneBy != "bob" {
		t.Errorf("undone action: %+v", undone)
	}
	after := enfRawSpecs(t, env.istio, "default")
	if !mapsEqual(after, before) {
		t.Errorf("undo did not restore the specs byte for byte:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := env.istio.NetworkingV1().DestinationRules("default").Get(ctx, "mongodb", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the created rule was not deleted: %v", err)
	}
	reviews, _ = env.istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	if !mapsEqual(reviews.Labels, map[string]string{"team": "reviews"}) || !mapsEqual(reviews.Annotations, map[string]string{"note": "kept"}) {
		t.Errorf("labels/annotations after undo: %v %v", reviews.Labels, reviews.Annotations)
	}

	if _, err := env.enforcer.Undo(ctx, env.clients, "bob", res.ActionID); !errors.Is(err, enforce.ErrConflict) || !strings.Contains(err.Error(), "already undone") {
		t.Errorf("second undo: %v, want ErrConflict already undone", err)
	}
	if _, err := env.enforcer.Undo(ctx, env.clients, "bob", "20260101-000000-00000000"); !errors.Is(err, enforce.ErrNotFound) {
		t.Errorf("unknown action: %v, want ErrNotFound", err)
	}

	// A PeerAuthentication update is undone exactly too.
	pa := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}}
	pa.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_PERMISSIVE}
	if _, err := env.istio.SecurityV1().PeerAuthentications("default").Create(ctx, pa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	paBefore := enfNormalJSON(t, &enfGetPA(t, env.istio, "default", "default").Spec)
	res, err = enfApply(ctx, env.enforcer, env.clients, "admin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModePeerAuthentication, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.enforcer.Undo(ctx, env.clients, "bob", res.ActionID); err != nil {
		t.Fatal(err)
	}
	if got := enfNormalJSON(t, &enfGetPA(t, env.istio, "default", "default").Spec); got != paBefore {
		t.Errorf("PeerAuthentication after undo %s, want %s", got, paBefore)
	}
}

// (5) Undo after a foreign edit → ErrConflict naming the object, nothing changed.
func TestEnforceUndoAfterForeignEditConflicts(t *testing.T) {
	env := enfStart(t)
	enfBookinfo(t, env)
	ctx := enfCtx(t)
	res, err := enfApply(ctx, env.enforcer, env.clients, "admin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	reviews, err := env.istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reviews.Annotations = map[string]string{"edited-by": "someone-else"}
	if _, err := env.istio.NetworkingV1().DestinationRules("default").Update(ctx, reviews, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := enfRawSpecs(t, env.istio, "default")

	_, err = env.enforcer.Undo(ctx, env.clients, "bob", res.ActionID)
	if !errors.Is(err, enforce.ErrConflict) || !strings.Contains(err.Error(), "DestinationRule default/reviews") {
		t.Fatalf("undo after a foreign edit: %v, want ErrConflict naming DestinationRule default/reviews", err)
	}
	t.Logf("refused undo: %v", err)
	if after := enfRawSpecs(t, env.istio, "default"); !mapsEqual(after, before) {
		t.Errorf("the refused undo changed rules:\nbefore %v\nafter  %v", before, after)
	}
	enfAssertSpecs(t, "after the refused undo", enfClusterSpecs(t, env.istio, "default"), enfFixtureSpecs(t, "destination-rule-all-mtls.yaml"))
	actions, err := env.enforcer.Actions(ctx, env.clients)
	if err != nil || len(actions) != 1 || actions[0].UndoneAt != nil {
		t.Errorf("the action after a refused undo: %+v %v", actions, err)
	}
}

// (6) A user whose RBAC forbids the write gets Forbidden, and nothing changes.
func TestEnforceForbiddenForUnprivilegedUser(t *testing.T) {
	env := enfStart(t)
	enfBookinfo(t, env)
	ctx := enfCtx(t)
	// alice may read what the plan needs, but write nothing.
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "default"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{"networking.istio.io", "security.istio.io"}, Resources: []string{"destinationrules", "peerauthentications"}, Verbs: []string{"get", "list"}},
		},
	}
	if _, err := env.kube.RbacV1().Roles("default").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-reader", Namespace: "default"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: "rbac.authorization.k8s.io", Name: testbed.UnprivilegedUser}},
	}
	if _, err := env.kube.RbacV1().RoleBindings("default").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	aliceCfg := env.cluster.ConfigFor(testbed.UnprivilegedUser)
	alice := k8s.Clients{Kube: kubernetes.NewForConfigOrDie(aliceCfg), Istio: istioclient.NewForConfigOrDie(aliceCfg)}
	enforcer := env.newEnforcer(t, enforce.Options{AuditClient: env.kube})
	before := enfRawSpecs(t, env.istio, "default")

	// RBAC takes a moment to see the new binding.
	testutil.Eventually(t, "alice can list Services", func() (bool, string) {
		_, err := alice.Kube.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
		return err == nil, "list: " + errString(err)
	})
	for _, req := range []enforce.Request{
		enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, true),
		enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, false),
		enfRequest(enforce.ScopeService, "default", "reviews", enforce.ModePeerAuthentication, false),
	} {
		_, err := enfApply(ctx, enforcer, alice, testbed.UnprivilegedUser, req)
		if !apierrors.IsForbidden(err) {
			t.Errorf("%+v: err = %v, want Forbidden", req, err)
		} else if t.Logf("forbidden: %v", err); !strings.Contains(err.Error(), testbed.UnprivilegedUser) {
			t.Errorf("the Forbidden error does not carry RBAC's message: %v", err)
		}
	}
	if after := enfRawSpecs(t, env.istio, "default"); !mapsEqual(after, before) {
		t.Errorf("a forbidden enforce changed rules")
	}
	if list, err := env.istio.SecurityV1().PeerAuthentications("default").List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Errorf("a forbidden enforce created policies: %v %v", list, err)
	}
	if actions, err := enforcer.Actions(ctx, env.clients); err != nil || len(actions) != 0 {
		t.Errorf("a forbidden enforce was recorded: %v %v", actions, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// (7) The audit lives in the cluster: a new Enforcer lists the action and undoes it.
func TestEnforceAuditSurvivesRestart(t *testing.T) {
	env := enfStart(t)
	enfBookinfo(t, env)
	ctx := enfCtx(t)
	before := enfRawSpecs(t, env.istio, "default")
	res, err := enfApply(ctx, env.enforcer, env.clients, "carol", enfRequest(enforce.ScopeService, "default", "reviews", enforce.ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}

	restarted := env.newEnforcer(t, enforce.Options{})
	actions, err := restarted.Actions(ctx, env.clients)
	if err != nil {
		t.Fatal(err)
	}
	if len(actions) != 1 {
		t.Fatalf("actions after a restart: %+v", actions)
	}
	a := actions[0]
	if a.ID != res.ActionID || a.Who != "carol" || a.Scope != enforce.ScopeService || a.Mode != enforce.ModeDestinationRule ||
		a.Namespace != "default" || a.Service != "reviews" || a.At.IsZero() || a.UndoneAt != nil {
		t.Errorf("recorded action: %+v", a)
	}
	if len(a.Objects) != 1 || a.Objects[0].Kind != enforce.KindDestinationRule || a.Objects[0].Name != "reviews" ||
		a.Objects[0].Action != enforce.ActionUpdate || !strings.Contains(a.Objects[0].Previous, "name: reviews") ||
		strings.Contains(a.Objects[0].Previous, "ISTIO_MUTUAL") || a.Objects[0].ResourceVersion == "" {
		t.Errorf("recorded objects: %+v", a.Objects)
	}
	cms, err := env.kube.CoreV1().ConfigMaps(enfAuditNS).List(ctx, metav1.ListOptions{LabelSelector: enforce.ManagedByLabel + "=" + enforce.ManagedByValue})
	if err != nil || len(cms.Items) != 1 {
		t.Errorf("audit ConfigMaps: %v %v", cms, err)
	}

	if _, err := restarted.Undo(ctx, env.clients, "dave", res.ActionID); err != nil {
		t.Fatal(err)
	}
	if after := enfRawSpecs(t, env.istio, "default"); !mapsEqual(after, before) {
		t.Errorf("undo by the new instance did not restore the rules")
	}
	actions, err = env.enforcer.Actions(ctx, env.clients)
	if err != nil || len(actions) != 1 || actions[0].UndoneBy != "dave" || actions[0].UndoneAt == nil {
		t.Errorf("the first instance sees the undo: %+v %v", actions, err)
	}
}

// (8) Enforce and undo emit Events on the objects they change.
func TestEnforceEmitsEvents(t *testing.T) {
	env := enfStart(t)
	enfBookinfo(t, env)
	ctx := enfCtx(t)
	res, err := enfApply(ctx, env.enforcer, env.clients, "erin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeDestinationRule, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.enforcer.Undo(ctx, env.clients, "frank", res.ActionID); err != nil {
		t.Fatal(err)
	}
	events, err := env.kube.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{}
	for _, ev := range events.Items {
		if ev.Regarding.Kind != enforce.KindDestinationRule || !strings.Contains(ev.Note, res.ActionID) {
			continue
		}
		if ev.Reason == "MeshlockEnforced" && !strings.Contains(ev.Note, "erin") || ev.Reason == "MeshlockUndone" && !strings.Contains(ev.Note, "frank") {
			t.Errorf("event note without who: %s %q", ev.Reason, ev.Note)
		}
		if ev.Regarding.UID == "" || ev.Regarding.APIVersion != "networking.istio.io/v1" {
			t.Errorf("event regarding: %+v", ev.Regarding)
		}
		seen[ev.Regarding.Name] = append(seen[ev.Regarding.Name], ev.Reason)
	}
	for _, name := range enfBookinfoServices {
		got := seen[name]
		slices.Sort(got)
		if !slices.Equal(got, []string{"MeshlockEnforced", "MeshlockUndone"}) {
			t.Errorf("events on DestinationRule %s: %v", name, got)
		}
	}
	// The core/v1 view (kubectl describe) shows them too.
	core, err := env.kube.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=reviews"})
	if err != nil || len(core.Items) < 2 {
		t.Errorf("core/v1 events on reviews: %v %v", core, err)
	}
}
