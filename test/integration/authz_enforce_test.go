// Integration test of enforce mode authorization (issue 25 point 5) on kube-apiserver: the server
// dry run of the ALLOW AuthorizationPolicy, its breaks, the apply, Istio's dry-run annotation,
// 409 on drift and the exact undo.

package integration

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	securityapi "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/testutil"
)

func TestEnforceAuthorizationOnTheTestBed(t *testing.T) {
	env := enfStart(t)
	ctx := enfCtx(t)
	enfService(t, env.kube, "default", "reviews", map[string]string{"app": "reviews"})
	// No controller makes ServiceAccounts on the test bed; admission wants the pod's.
	if _, err := env.kube.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pod := testutil.Pod("default", "reviews-v1-abc", testutil.WithLabels("app", "reviews"), testutil.WithSidecar())
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Image = "example.invalid/" + pod.Spec.Containers[i].Name
	}
	if _, err := env.kube.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const productpage = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
	now := time.Now().UTC().Truncate(time.Second)
	lastNight := now.Add(-20 * time.Hour)
	// productpage calls over mTLS now; a job called in plaintext last night.
	snapshot := graph.Snapshot{
		GeneratedAt: now,
		Nodes: []graph.Node{
			{ID: "default/productpage", Namespace: "default", Name: "productpage", Kind: graph.KindService},
			{ID: "default/reviews", Namespace: "default", Name: "reviews", Kind: graph.KindService},
			{ID: "unknown", Kind: graph.KindUnknown},
		},
		Edges: []graph.Edge{
			{ID: "default/productpage->default/reviews:http", Source: "default/productpage", Target: "default/reviews", Protocol: "http",
				Rate: 2, MTLSRatio: 1, Status: graph.StatusLocked, SourcePrincipal: productpage},
			{ID: "unknown->default/reviews:http", Source: "unknown", Target: "default/reviews", Protocol: "http", Idle: true,
				Status: graph.StatusOpen, History: graph.EdgeHistory{Unit: graph.VolumeRequests, Volume: 40, LastSeen: lastNight, PlaintextLastSeen: lastNight}},
		},
	}
	e := env.newEnforcer(t, enforce.Options{Graph: func() graph.Snapshot { return snapshot }})
	req := enfRequest(enforce.ScopeService, "default", "reviews", enforce.ModeAuthorization, true)

	plan, err := e.Enforce(ctx, env.clients, "admin", req)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.ServerValidated || len(plan.Changes) != 1 || plan.Changes[0].Kind != "AuthorizationPolicy" || plan.Changes[0].Action != enforce.ActionCreate ||
		!strings.Contains(plan.Changes[0].YAML, "cluster.local/ns/default/sa/bookinfo-productpage") {
		t.Fatalf("plan: %+v", plan)
	}
	if _, err := env.istio.SecurityV1().AuthorizationPolicies("default").Get(ctx, plan.Changes[0].Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the dry run wrote the policy (err %v)", err)
	}
	breaks, _ := enforce.Preview(snapshot, req, plan)
	if len(breaks) != 1 || breaks[0].Source != "unknown" || !breaks[0].Idle || !breaks[0].LastSeen.Equal(lastNight) {
		t.Fatalf("breaks: %+v, want the plaintext job, idle, last seen %s", breaks, lastNight)
	}

	req.DryRun = false
	req.PlanID = plan.PlanID
	applied, err := e.Enforce(ctx, env.clients, "admin", req)
	if err != nil {
		t.Fatal(err)
	}
	name := applied.Changes[0].Name
	ap, err := env.istio.SecurityV1().AuthorizationPolicies("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rules := ap.Spec.GetRules()
	if ap.Spec.GetAction() != securityapi.AuthorizationPolicy_ALLOW || ap.Spec.GetSelector().GetMatchLabels()["app"] != "reviews" || len(rules) != 1 ||
		!slices.Equal(rules[0].GetFrom()[0].GetSource().GetPrincipals(), []string{"cluster.local/ns/default/sa/bookinfo-productpage"}) ||
		ap.Annotations["istio.io/dry-run"] != "" {
		t.Fatalf("written: %+v %s", ap.ObjectMeta, ap.Spec.String())
	}

	// Then in Istio's dry run: the annotation is the change.
	dryRun := enfRequest(enforce.ScopeService, "default", "reviews", enforce.ModeAuthorization, false)
	dryRun.PolicyDryRun = true
	annotated, err := enfApply(ctx, e, env.clients, "admin", dryRun)
	if err != nil {
		t.Fatal(err)
	}
	if ap, _ = env.istio.SecurityV1().AuthorizationPolicies("default").Get(ctx, name, metav1.GetOptions{}); ap.Annotations["istio.io/dry-run"] != "true" {
		t.Fatalf("annotations %v, want istio.io/dry-run", ap.Annotations)
	}

	// Undone: the annotation goes.
	if _, err := e.Undo(ctx, env.clients, "admin", annotated.ActionID); err != nil {
		t.Fatal(err)
	}
	ap, _ = env.istio.SecurityV1().AuthorizationPolicies("default").Get(ctx, name, metav1.GetOptions{})
	if ap.Annotations["istio.io/dry-run"] != "" {
		t.Errorf("after undo: annotations %v", ap.Annotations)
	}

	// Someone edits it since: undoing the create refuses, naming it, and
	// deletes nothing.
	if ap.Labels == nil {
		ap.Labels = map[string]string{}
	}
	ap.Labels["owner"] = "security"
	if _, err := env.istio.SecurityV1().AuthorizationPolicies("default").Update(ctx, ap, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Undo(ctx, env.clients, "admin", applied.ActionID); !errors.Is(err, enforce.ErrConflict) || !strings.Contains(err.Error(), name) {
		t.Fatalf("undo after a foreign edit: %v, want a conflict naming %s", err, name)
	}
	if _, err := env.istio.SecurityV1().AuthorizationPolicies("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Errorf("the refused undo deleted the policy: %v", err)
	}

	// Scope namespace: one policy without a selector, created then undone
	// to nothing.
	ns, err := enfApply(ctx, e, env.clients, "admin", enfRequest(enforce.ScopeNamespace, "default", "", enforce.ModeAuthorization, false))
	if err != nil {
		t.Fatal(err)
	}
	nsName := ns.Changes[0].Name
	if ap, err := env.istio.SecurityV1().AuthorizationPolicies("default").Get(ctx, nsName, metav1.GetOptions{}); err != nil || ap.Spec.GetSelector() != nil {
		t.Fatalf("namespace policy %s: %v", nsName, err)
	}
	if _, err := e.Undo(ctx, env.clients, "admin", ns.ActionID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.istio.SecurityV1().AuthorizationPolicies("default").Get(ctx, nsName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after undoing the create: %v, want not found", err)
	}
}
