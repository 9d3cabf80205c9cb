// Integration tests of enforcement through the HTTP API: enforce and undo in the demo, and
// --auth=token on the real test bed, where Kubernetes RBAC allows or refuses and the audit names the user.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/test/testbed"

	"github.com/meshlock/meshlock/internal/testutil"
)

// post sends body as JSON with an optional bearer token and decodes the answer into out.
func post(t *testing.T, url, token, body string, out any) int {
	t.Helper()
	resp, data := sendWithToken(t, http.MethodPost, url, token, body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("POST %s answered %d %s: %v", url, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

type enforceAnswer struct {
	DryRun   bool   `json:"dryRun"`
	ActionID string `json:"actionId"`
	PlanID   string `json:"planId"`
	Changes  []struct {
		Action, Kind, Namespace, Name string
	} `json:"changes"`
	Breaks []struct {
		Source, Target, Reason string
		Idle                   bool
		LastSeen               time.Time
	} `json:"breaks"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error"`
}

// In the demo, enforcing ISTIO_MUTUAL on default turns bookinfo's edges
// locked (within two windows on a quiet machine), and undo turns them back.
func TestDemoEnforceAndUndo(t *testing.T) {
	base := startMeshlock(t, "--demo", "--refresh=1s", "--window=5s")
	testutil.Eventually(t, "bookinfo open", func() (bool, string) {
		s := fetchGraph(t, base+"/api/graph")
		return allStatus(s, graph.StatusOpen, bookinfoEdges...), statuses(s, bookinfoEdges...)
	})

	var plan enforceAnswer
	request := `{"scope":"namespace","namespace":"default","service":"","mode":"destinationrule","dryRun":%t}`
	if code := post(t, base+"/api/enforce", "", fmt.Sprintf(request, true), &plan); code != http.StatusOK || !plan.DryRun || plan.ActionID != "" {
		t.Fatalf("dry run: %d %+v", code, plan)
	}
	updates := 0
	for _, c := range plan.Changes {
		if c.Action == "update" && c.Kind == "DestinationRule" {
			updates++
		}
	}
	if updates != 4 {
		t.Errorf("the plan updates %d DestinationRules, want bookinfo's 4: %+v", updates, plan.Changes)
	}
	if len(plan.Breaks) != 0 {
		t.Errorf("ISTIO_MUTUAL inside bookinfo cuts nobody, the plan says %+v", plan.Breaks)
	}
	time.Sleep(2 * time.Second)
	if s := fetchGraph(t, base+"/api/graph"); !allStatus(s, graph.StatusOpen, bookinfoEdges...) {
		t.Fatalf("a dry run changed the mesh: %s", statuses(s, bookinfoEdges...))
	}

	var applied enforceAnswer
	apply := strings.Replace(fmt.Sprintf(request, false), `"dryRun":false`, `"dryRun":false,"planId":"`+plan.PlanID+`"`, 1)
	if code := post(t, base+"/api/enforce", "", apply, &applied); code != http.StatusOK || applied.ActionID == "" {
		t.Fatalf("apply: %d %+v", code, applied)
	}
	testutil.Eventually(t, "bookinfo locked (two windows on a quiet machine)", func() (bool, string) {
		s := fetchGraph(t, base+"/api/graph")
		return allStatus(s, graph.StatusLocked, bookinfoEdges...), statuses(s, bookinfoEdges...)
	})

	var undone map[string]any
	if code := post(t, base+"/api/actions/"+applied.ActionID+"/undo", "", "", &undone); code != http.StatusOK {
		t.Fatalf("undo: %d %v", code, undone)
	}
	testutil.Eventually(t, "bookinfo open again after undo", func() (bool, string) {
		s := fetchGraph(t, base+"/api/graph")
		return allStatus(s, graph.StatusOpen, bookinfoEdges...), statuses(s, bookinfoEdges...)
	})
}

// With --auth=token on the real test bed, Kubernetes RBAC decides: a user
// who may not write gets 403 with RBAC's message and nothing changes; the
// admin's action is audited under the admin's name.
func TestTokenAuthOnRealCluster(t *testing.T) {
	ctx := context.Background()
	cluster := testbed.StartCluster(t)
	kube := kubernetes.NewForConfigOrDie(cluster.RESTConfig)
	istio := istioclient.NewForConfigOrDie(cluster.RESTConfig)
	reviews := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "reviews"}, Ports: []corev1.ServicePort{{Name: "http", Port: 9080}}}}
	if _, err := kube.CoreV1().Services("default").Create(ctx, reviews, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rule := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "default"}}
	rule.Spec.Host = "reviews"
	if _, err := istio.NetworkingV1().DestinationRules("default").Create(ctx, rule, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Prometheus is not needed for writes: an unreachable one only makes the graph stale.
	base := startMeshlock(t, "--kubeconfig="+cluster.Kubeconfig, "--prometheus-url=http://127.0.0.1:1",
		"--auth=token", "--allow-enforce", "--audit-namespace=default")
	const dryRun = `{"scope":"service","namespace":"default","service":"reviews","mode":"destinationrule","dryRun":true}`
	request := `{"scope":"service","namespace":"default","service":"reviews","mode":"destinationrule","dryRun":false,"planId":"unseen"}`

	var answer enforceAnswer
	if code := post(t, base+"/api/enforce", "", request, &answer); code != http.StatusUnauthorized {
		t.Errorf("no token: %d %+v, want 401", code, answer)
	}
	if code := post(t, base+"/api/enforce", "not-a-token", request, &answer); code != http.StatusUnauthorized {
		t.Errorf("a rejected token: %d %+v, want 401", code, answer)
	}
	answer = enforceAnswer{}
	if code := post(t, base+"/api/enforce", cluster.Token(testbed.UnprivilegedUser), request, &answer); code != http.StatusForbidden ||
		!strings.Contains(answer.Error, `"alice"`) {
		t.Errorf("alice, whom RBAC forbids: %d %q, want 403 with RBAC's message", code, answer.Error)
	}
	after, err := istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil || after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("the forbidden request changed the rule: %v %v", after.ResourceVersion, err)
	}

	answer = enforceAnswer{}
	if code := post(t, base+"/api/enforce", cluster.Token(testbed.AdminUser), dryRun, &answer); code != http.StatusOK || answer.PlanID == "" {
		t.Fatalf("the admin's dry run: %d %+v", code, answer)
	}
	request = strings.Replace(request, "unseen", answer.PlanID, 1)
	answer = enforceAnswer{}
	if code := post(t, base+"/api/enforce", cluster.Token(testbed.AdminUser), request, &answer); code != http.StatusOK || answer.ActionID == "" {
		t.Fatalf("the admin: %d %+v", code, answer)
	}
	after, err = istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil || after.Spec.GetTrafficPolicy().GetTls().GetMode().String() != "ISTIO_MUTUAL" {
		t.Fatalf("the admin's request did not set ISTIO_MUTUAL: %v %v", after.Spec.GetTrafficPolicy(), err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/actions", nil)
	req.Header.Set("Authorization", "Bearer "+cluster.Token(testbed.AdminUser))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var actions []struct{ ID, Who string }
	data, _ := io.ReadAll(resp.Body)
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&actions); err != nil || len(actions) != 1 ||
		actions[0].ID != answer.ActionID || actions[0].Who != testbed.AdminUser {
		t.Errorf("the audit trail: %s (%v), want one action by %s", data, err, testbed.AdminUser)
	}
}
