// Tests of mode authorization on fake clients: the principals seen, namespaces folded, a merge into
// meshlock's own policy, a foreign policy untouched, the breaks (plaintext, idle, another Service's
// callers), validation, the dry-run annotation and undo of a created policy.

package enforce

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshlock/meshlock/internal/graph"
)

var authzNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

const (
	pProductpage = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
	pNightly     = "spiffe://cluster.local/ns/batch/sa/nightly"
	pWeb         = "spiffe://cluster.local/ns/shop/sa/web"
	pWorker      = "spiffe://cluster.local/ns/shop/sa/worker"
	pTester      = "spiffe://cluster.local/ns/default/sa/tester"
)

// authzGraph: reviews (default) is called by productpage over mTLS, by the
// nightly job of batch (idle, seen in the look-back), by both workloads of
// shop, and in plaintext by an unknown caller (live) and a legacy job (idle);
// reviews-canary, another Service of some of reviews' pods, is called by
// tester.
func authzGraph() graph.Snapshot {
	svc := func(ns, name string) graph.Node {
		return graph.Node{ID: ns + "/" + name, Namespace: ns, Name: name, Kind: graph.KindService, InMesh: true}
	}
	edge := func(src, dst, principal string) graph.Edge {
		return graph.Edge{ID: src + "->" + dst + ":http", Source: src, Target: dst, Protocol: graph.ProtocolHTTP, Rate: 1, SourcePrincipal: principal}
	}
	idle := func(e graph.Edge, ago time.Duration) graph.Edge {
		e.Idle, e.Rate = true, 0
		e.History = graph.EdgeHistory{Unit: "requests", Volume: 42, LastSeen: authzNow.Add(-ago)}
		if e.SourcePrincipal == "" {
			e.History.PlaintextLastSeen = authzNow.Add(-ago)
		} else {
			e.History.MTLSLastSeen = authzNow.Add(-ago)
		}
		return e
	}
	workload := func(ns, name, sa string) graph.WorkloadIdentity {
		return graph.WorkloadIdentity{ID: ns + "/" + name, Namespace: ns, Name: name, ServiceAccount: sa,
			ExpectedPrincipal: "spiffe://cluster.local/ns/" + ns + "/sa/" + sa}
	}
	return graph.Snapshot{
		GeneratedAt: authzNow, TrustDomain: "cluster.local",
		Nodes: []graph.Node{
			svc("default", "reviews"), svc("default", "reviews-canary"), svc("default", "productpage"), svc("default", "tester"),
			svc("batch", "nightly"), svc("shop", "web"), svc("shop", "worker"), svc("legacy", "cron"),
			{ID: graph.Unknown, Name: graph.Unknown, Kind: graph.KindUnknown},
		},
		Edges: []graph.Edge{
			edge("default/productpage", "default/reviews", pProductpage),
			idle(edge("batch/nightly", "default/reviews", pNightly), 3*time.Hour),
			edge("shop/web", "default/reviews", pWeb),
			edge("shop/worker", "default/reviews", pWorker),
			edge(graph.Unknown, "default/reviews", ""),
			idle(edge("legacy/cron", "default/reviews", ""), 26*time.Hour),
			edge("default/tester", "default/reviews-canary", pTester),
		},
		Identity: graph.Identity{Workloads: []graph.WorkloadIdentity{
			workload("default", "productpage-v1", "bookinfo-productpage"), workload("default", "reviews-v1", "bookinfo-reviews"),
			workload("default", "tester", "tester"), workload("batch", "nightly", "nightly"), workload("batch", "cleanup", "cleanup"),
			workload("shop", "web", "web"), workload("shop", "worker", "worker"),
		}},
	}
}

func authzPod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels}}
}

// authzWorld is bookinfo's reviews with two pods, one also behind
// reviews-canary, and the graph above.
func authzWorld(t *testing.T, objects ...runtime.Object) *enfWorld {
	t.Helper()
	objects = append(objects,
		enfSvc("default", "reviews", map[string]string{"app": "reviews"}, 9080),
		enfSvc("default", "reviews-canary", map[string]string{"app": "reviews", "version": "v2"}, 9080),
		authzPod("reviews-v1", map[string]string{"app": "reviews", "version": "v1"}),
		authzPod("reviews-v2", map[string]string{"app": "reviews", "version": "v2"}),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
	)
	w := enfNewWorld(t, objects...)
	snap := authzGraph()
	w.enforcer = enfNewEnforcer(t, Options{Graph: func() graph.Snapshot { return snap }})
	return w
}

func authzPolicy(name string, managed bool, selector map[string]string, principals ...string) *securityv1.AuthorizationPolicy {
	p := &securityv1.AuthorizationPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if managed {
		p.Labels = map[string]string{ManagedByLabel: ManagedByValue}
	}
	if selector != nil {
		p.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: selector}
	}
	if len(principals) > 0 {
		p.Spec.Rules = []*securityapi.Rule{{From: []*securityapi.Rule_From{{Source: &securityapi.Source{Principals: principals}}}}}
	}
	return p
}

func authzGet(t *testing.T, w *enfWorld, name string) *securityv1.AuthorizationPolicy {
	t.Helper()
	p, err := w.istio.SecurityV1().AuthorizationPolicies("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("AuthorizationPolicy default/%s: %v", name, err)
	}
	return p
}

// allowed is what the policy's one rule lets in, "ns:<ns>" for a namespace.
func allowed(p *securityv1.AuthorizationPolicy) []string {
	var out []string
	for _, r := range p.Spec.GetRules() {
		for _, f := range r.GetFrom() {
			out = append(out, f.GetSource().GetPrincipals()...)
			for _, ns := range f.GetSource().GetNamespaces() {
				out = append(out, "ns:"+ns)
			}
		}
	}
	return out
}

// The policy lists the principals seen calling reviews, live and idle,
// without spiffe:// (Istio's principals are "<td>/ns/<ns>/sa/<sa>",
// pilot/pkg/security/authz/model/generator.go srcPrincipalGenerator); shop,
// both of whose workloads call it, by namespace (source.namespaces is
// matched on the peer certificate's namespace, generator.go
// srcNamespaceGenerator); batch, whose cleanup job does not, by principal.
func TestAuthorizationPlanAllowsTheCallersSeen(t *testing.T) {
	w := authzWorld(t)
	ctx := context.Background()
	req := enfReq(ScopeService, "default", "reviews", ModeAuthorization, false)
	res, err := enfApply(ctx, w.enforcer, w.clients, "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Action != ActionCreate || res.Changes[0].Kind != KindAuthorizationPolicy || res.Changes[0].Name != "reviews" {
		t.Fatalf("changes: %+v", res.Changes)
	}
	p := authzGet(t, w, "reviews")
	want := []string{"cluster.local/ns/batch/sa/nightly", "cluster.local/ns/default/sa/bookinfo-productpage", "ns:shop"}
	if got := allowed(p); !slices.Equal(got, want) {
		t.Errorf("allowed %v, want %v", got, want)
	}
	if p.Spec.GetAction() != securityapi.AuthorizationPolicy_ALLOW || p.Spec.GetSelector().GetMatchLabels()["app"] != "reviews" ||
		len(p.Spec.GetSelector().GetMatchLabels()) != 1 || p.Labels[ManagedByLabel] != ManagedByValue || p.Annotations[DryRunAnnotation] != "" {
		t.Errorf("policy: %v %v %v", p.Labels, p.Annotations, &p.Spec)
	}
	for _, s := range []string{"kind: AuthorizationPolicy", "apiVersion: security.istio.io/v1", "cluster.local/ns/batch/sa/nightly", "- shop"} {
		if !strings.Contains(res.Changes[0].YAML, s) {
			t.Errorf("the YAML lacks %q:\n%s", s, res.Changes[0].YAML)
		}
	}
	actions, err := w.enforcer.Actions(ctx, w.clients)
	if err != nil || len(actions) != 1 || actions[0].Mode != ModeAuthorization || actions[0].Objects[0].Previous != absent {
		t.Fatalf("audit: %+v %v", actions, err)
	}

	// Scope namespace: one policy without a selector, named default, from
	// the callers of every node of the namespace.
	res, err = w.enforcer.Enforce(ctx, w.clients, "alice", enfReq(ScopeNamespace, "default", "", ModeAuthorization, true))
	if err != nil || len(res.Changes) != 1 || res.Changes[0].Name != "default" || strings.Contains(res.Changes[0].YAML, "selector") ||
		!strings.Contains(res.Changes[0].YAML, "cluster.local/ns/default/sa/tester") {
		t.Errorf("namespace plan: %+v %v", res.Changes, err)
	}
}

// A meshlock policy of that name gains the callers seen now (keeping those
// it had), in place; its undo puts the old rule back exactly.
func TestAuthorizationMergesIntoItsOwnPolicy(t *testing.T) {
	old := authzPolicy("reviews", true, map[string]string{"app": "reviews"}, "cluster.local/ns/old/sa/former")
	old.Annotations = map[string]string{"note": "keep me"}
	w := authzWorld(t, old)
	ctx := context.Background()
	res, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeService, "default", "reviews", ModeAuthorization, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Action != ActionUpdate || res.Changes[0].Name != "reviews" || res.Changes[0].Conflict != "" {
		t.Fatalf("changes: %+v", res.Changes)
	}
	p := authzGet(t, w, "reviews")
	want := []string{"cluster.local/ns/batch/sa/nightly", "cluster.local/ns/default/sa/bookinfo-productpage", "cluster.local/ns/old/sa/former", "ns:shop"}
	if got := allowed(p); !slices.Equal(got, want) || p.Annotations["note"] != "keep me" {
		t.Errorf("merged: %v %v, want %v", got, p.Annotations, want)
	}
	// Again: nothing left to add.
	again, err := w.enforcer.Enforce(ctx, w.clients, "alice", enfReq(ScopeService, "default", "reviews", ModeAuthorization, true))
	if err != nil || again.Changes[0].Action != ActionUnchanged {
		t.Errorf("a second plan: %+v %v", again.Changes, err)
	}
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", res.ActionID); err != nil {
		t.Fatal(err)
	}
	if got := allowed(authzGet(t, w, "reviews")); !slices.Equal(got, []string{"cluster.local/ns/old/sa/former"}) {
		t.Errorf("after the undo: %v", got)
	}
}

// A policy meshlock did not write is never touched: the plan creates its
// own beside it, named as DestinationRules are (reviews-allow).
func TestAuthorizationLeavesForeignPoliciesAlone(t *testing.T) {
	foreign := authzPolicy("reviews", false, map[string]string{"app": "reviews"}, "cluster.local/ns/ops/sa/admin")
	otherSelector := authzPolicy("reviews-allow", true, map[string]string{"app": "ratings"}, "cluster.local/ns/ops/sa/admin")
	w := authzWorld(t, foreign, otherSelector)
	ctx := context.Background()
	res, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeService, "default", "reviews", ModeAuthorization, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Action != ActionCreate || res.Changes[0].Name != "reviews-allow-2" {
		t.Fatalf("changes: %+v", res.Changes)
	}
	for _, name := range []string{"reviews", "reviews-allow"} {
		if got := allowed(authzGet(t, w, name)); !slices.Equal(got, []string{"cluster.local/ns/ops/sa/admin"}) {
			t.Errorf("%s was changed: %v", name, got)
		}
	}
	for _, a := range w.istio.Actions() {
		if a.GetVerb() == "patch" {
			t.Errorf("a policy was patched: %v", a)
		}
	}
}

// The breaks: every caller the policy would deny, with why and when it was
// last seen; callers it lists are not. Istio's rules relied on: with an
// ALLOW policy applying, a request no ALLOW matches is denied, and DENY is
// weighed before ALLOW (pilot/pkg/security/authz/builder/builder.go); a
// plaintext caller has no principal, so it matches no principals or
// namespaces (generator.go builds them on the peer certificate); a policy
// applies to the workloads its selector matches, whichever Service they
// were reached through (pilot/pkg/model/authorization.go).
func TestAuthorizationBreaks(t *testing.T) {
	w := authzWorld(t)
	req := enfReq(ScopeService, "default", "reviews", ModeAuthorization, true)
	res, err := w.enforcer.Enforce(context.Background(), w.clients, "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	breaks, _ := Preview(authzGraph(), req, res)
	got := map[string]Break{}
	for _, b := range breaks {
		got[b.Source+"->"+b.Target] = b
	}
	if len(got) != 3 {
		t.Errorf("breaks %+v, want three", breaks)
	}
	if b := got["unknown->default/reviews"]; !strings.Contains(b.Reason, "plaintext caller") || b.Idle || !b.LastSeen.Equal(authzNow) {
		t.Errorf("the live plaintext caller: %+v", b)
	}
	if b := got["legacy/cron->default/reviews"]; !strings.Contains(b.Reason, "plaintext caller") || !strings.Contains(b.Reason, "idle now") ||
		!b.Idle || !b.LastSeen.Equal(authzNow.Add(-26*time.Hour)) || b.Volume != 42 || b.Unit != "requests" {
		t.Errorf("the idle plaintext caller: %+v", b)
	}
	if b := got["default/tester->default/reviews-canary"]; !strings.Contains(b.Reason, "Service reviews-canary, which selects the same workloads") {
		t.Errorf("the other Service's caller: %+v", b)
	}

	// What a viewer may not see: a hidden caller is "hidden", a hidden
	// target's breaks are left out.
	shown := authzGraph()
	shown.Nodes = slices.DeleteFunc(shown.Nodes, func(n graph.Node) bool { return n.ID == "legacy/cron" || n.ID == "default/reviews-canary" })
	shown.Nodes = append(shown.Nodes, graph.Node{ID: hiddenNode, Name: hiddenNode, Kind: "hidden"})
	breaks, _ = Preview(shown, req, res)
	var sources []string
	for _, b := range breaks {
		sources = append(sources, b.Source)
	}
	if !slices.Equal(sources, []string{hiddenNode, graph.Unknown}) && !slices.Equal(sources, []string{graph.Unknown, hiddenNode}) {
		t.Errorf("breaks as a viewer sees them: %v", sources)
	}

	// A caller already denied (a DENY policy) is not the change's break.
	deny := authzPolicy("deny-unknown", false, nil)
	deny.Spec.Action = securityapi.AuthorizationPolicy_DENY
	deny.Spec.Rules = []*securityapi.Rule{{From: []*securityapi.Rule_From{{Source: &securityapi.Source{NotPrincipals: []string{"*"}}}}}}
	w = authzWorld(t, deny)
	res, err = w.enforcer.Enforce(context.Background(), w.clients, "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	if breaks, _ := Preview(authzGraph(), req, res); len(breaks) != 1 || breaks[0].Target != "default/reviews-canary" {
		t.Errorf("breaks beside a DENY of plaintext: %+v", breaks)
	}
}

func TestAuthorizationValidation(t *testing.T) {
	valid := []Request{
		{Scope: "service", Namespace: "default", Service: "reviews", Mode: "authorization", DryRun: true},
		{Scope: "namespace", Namespace: "default", Mode: "authorization", DryRun: true, PolicyDryRun: true},
	}
	for _, r := range valid {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	for _, r := range []Request{
		{Scope: "mesh", Mode: "authorization", DryRun: true},
		{Scope: "namespace", Namespace: "default", Mode: "destinationrule", DryRun: true, PolicyDryRun: true},
		{Scope: "namespace", Namespace: "default", Mode: "peerauthentication", DryRun: true, PolicyDryRun: true},
	} {
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", r, err)
		}
	}
	if err := (Request{Scope: "mesh", Mode: "nope", DryRun: true}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "want destinationrule, peerauthentication or authorization") {
		t.Errorf("an unknown mode: %v", err)
	}

	ctx := context.Background()
	w := authzWorld(t, enfSvc("default", "db", nil, 5432))
	if _, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeService, "default", "db", ModeAuthorization, true)); !errors.Is(err, ErrInvalid) {
		t.Errorf("a Service without a selector: %v, want ErrInvalid", err)
	}
	if _, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeNamespace, "missing", "", ModeAuthorization, true)); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing namespace: %v, want ErrNotFound", err)
	}
	// Nobody with an identity calls shop/web: a policy would deny everything.
	w.kube.CoreV1().Services("shop").Create(ctx, enfSvc("shop", "web", map[string]string{"app": "web"}, 80), metav1.CreateOptions{})
	plan, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeService, "shop", "web", ModeAuthorization, true))
	if err != nil || len(plan.Changes) != 1 || !strings.Contains(plan.Changes[0].Conflict, "deny every request") {
		t.Errorf("a Service nobody calls: %+v %v", plan.Changes, err)
	}
	// Without the graph, the mode cannot plan.
	w.enforcer = enfNewEnforcer(t, Options{})
	if _, err := w.enforcer.Enforce(ctx, w.clients, "me", enfReq(ScopeService, "default", "reviews", ModeAuthorization, true)); err == nil {
		t.Error("planned without a graph")
	}
}

// policyDryRun writes Istio's annotation (and warns that the policy does
// not bite: builder.go isDryRun makes it a shadow rule, logged, never
// enforced); the breaks are still those it would deny once it does. A
// later enforce without it removes the annotation.
func TestAuthorizationPolicyDryRun(t *testing.T) {
	w := authzWorld(t)
	ctx := context.Background()
	req := enfReq(ScopeService, "default", "reviews", ModeAuthorization, false)
	req.PolicyDryRun = true
	res, err := enfApply(ctx, w.enforcer, w.clients, "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Changes[0].YAML, `istio.io/dry-run: "true"`) || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "policyDryRun") {
		t.Errorf("the plan: %s %q", res.Changes[0].YAML, res.Warnings)
	}
	if got := authzGet(t, w, "reviews").Annotations[DryRunAnnotation]; got != "true" {
		t.Errorf("annotation %q", got)
	}
	if breaks, _ := Preview(authzGraph(), req, res); len(breaks) != 3 {
		t.Errorf("breaks of a dry-run policy: %+v", breaks)
	}
	req.PolicyDryRun = false
	res, err = enfApply(ctx, w.enforcer, w.clients, "alice", req)
	if err != nil || res.Changes[0].Action != ActionUpdate {
		t.Fatalf("enforcing it: %+v %v", res.Changes, err)
	}
	if _, ok := authzGet(t, w, "reviews").Annotations[DryRunAnnotation]; ok {
		t.Error("the annotation is still there")
	}
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", res.ActionID); err != nil {
		t.Fatal(err)
	}
	if got := authzGet(t, w, "reviews").Annotations[DryRunAnnotation]; got != "true" {
		t.Errorf("after the undo the annotation is %q, want it back", got)
	}
}

// The undo of a created policy deletes it, and only while it is as the
// action left it.
func TestAuthorizationUndoDeletesTheCreatedPolicy(t *testing.T) {
	w := authzWorld(t)
	ctx := context.Background()
	res, err := enfApply(ctx, w.enforcer, w.clients, "alice", enfReq(ScopeService, "default", "reviews", ModeAuthorization, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", res.ActionID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.istio.SecurityV1().AuthorizationPolicies("default").Get(ctx, "reviews", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after the undo: %v, want it deleted", err)
	}
	if _, err := w.enforcer.Undo(ctx, w.clients, "bob", res.ActionID); !errors.Is(err, ErrConflict) {
		t.Errorf("a second undo: %v, want ErrConflict", err)
	}
}
