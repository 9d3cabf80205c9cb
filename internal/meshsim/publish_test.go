// Tests of Publish on a fake clientset: it creates the topology, is idempotent, and repairs drift.

package meshsim

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshlock/meshlock/internal/istio"
)

func publishedBookinfo(t *testing.T) (*Mesh, *fake.Clientset) {
	t.Helper()
	m, err := New(Options{Topology: Bookinfo()})
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return m, kube
}

// publishedPod is the one pod Publish made for a workload, found by its label.
func publishedPod(t *testing.T, kube *fake.Clientset, namespace, workload string) *corev1.Pod {
	t.Helper()
	list, err := kube.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{LabelSelector: workloadLabel + "=" + workload})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("workload %s/%s has %d pods, want 1", namespace, workload, len(list.Items))
	}
	return &list.Items[0]
}

func TestPublishCreatesTheTopology(t *testing.T) {
	_, kube := publishedBookinfo(t)
	ctx := t.Context()

	for _, ns := range []string{"default", "legacy"} {
		if _, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
	for _, sa := range []string{"default/bookinfo-productpage", "default/bookinfo-reviews", "legacy/legacy-client"} {
		ns, name, _ := strings.Cut(sa, "/")
		if _, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("serviceaccount %s: %v", sa, err)
		}
	}

	svc, err := kube.CoreV1().Services("default").Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := []corev1.ServicePort{{Name: "http", Port: 9080, TargetPort: intstr.FromInt32(9080), Protocol: corev1.ProtocolTCP}}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Selector["app"] != "reviews" || !slices.Equal(svc.Spec.Ports, wantPorts) {
		t.Errorf("reviews service spec = %+v", svc.Spec)
	}

	tests := []struct {
		name, namespace, pod string
		wantLabels           map[string]string
		wantContainers       []string
		wantStatus           bool
		wantSA               string
	}{
		{
			name: "sidecar workload", namespace: "default", pod: "reviews-v2",
			wantLabels: map[string]string{
				"app": "reviews", "version": "v2", "security.istio.io/tlsMode": "istio",
				"service.istio.io/canonical-name": "reviews", "service.istio.io/canonical-revision": "v2",
			},
			wantContainers: []string{"app=meshsim/reviews-v2", "istio-proxy=docker.io/istio/proxyv2:1.32.0"},
			wantStatus:     true, wantSA: "bookinfo-reviews",
		},
		{
			name: "workload without sidecar", namespace: "legacy", pod: "legacy-client",
			wantLabels:     map[string]string{"app": "legacy-client"},
			wantContainers: []string{"app=meshsim/legacy-client"},
			wantSA:         "legacy-client",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := publishedPod(t, kube, tc.namespace, tc.pod)
			if got := istio.WorkloadName(pod); got != tc.pod {
				t.Errorf("istio.WorkloadName = %q, want %q", got, tc.pod)
			}
			if !containsAll(pod.Labels, tc.wantLabels) {
				t.Errorf("labels = %v, want at least %v", pod.Labels, tc.wantLabels)
			}
			if _, injected := pod.Labels["security.istio.io/tlsMode"]; injected != tc.wantStatus {
				t.Errorf("tlsMode label present = %v, want %v", injected, tc.wantStatus)
			}
			var containers []string
			for _, c := range pod.Spec.Containers {
				containers = append(containers, c.Name+"="+c.Image)
			}
			if !slices.Equal(containers, tc.wantContainers) {
				t.Errorf("containers = %v, want %v", containers, tc.wantContainers)
			}
			if _, ok := pod.Annotations["sidecar.istio.io/status"]; ok != tc.wantStatus {
				t.Errorf("sidecar.istio.io/status present = %v, want %v", ok, tc.wantStatus)
			}
			if pod.Spec.ServiceAccountName != tc.wantSA {
				t.Errorf("serviceAccountName = %q, want %q", pod.Spec.ServiceAccountName, tc.wantSA)
			}
		})
	}
}

func TestPublishIsIdempotent(t *testing.T) {
	m, kube := publishedBookinfo(t)
	kube.ClearActions()
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	for _, a := range kube.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" {
			t.Errorf("second Publish made a %s on %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestPublishRepairsDrift(t *testing.T) {
	m, kube := publishedBookinfo(t)
	ctx := t.Context()

	pod := publishedPod(t, kube, "default", "ratings-v1")
	pod.Labels["version"] = "v9"
	if _, err := kube.CoreV1().Pods("default").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, _ := kube.CoreV1().Services("default").Get(ctx, "ratings", metav1.GetOptions{})
	svc.Spec.Ports[0].Port = 1234
	if _, err := kube.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod2 := publishedPod(t, kube, "default", "details-v1")
	pod2.Spec.Containers = pod2.Spec.Containers[:1] // sidecar gone: needs a new pod
	if _, err := kube.CoreV1().Pods("default").Update(ctx, pod2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	kube.ClearActions()
	if err := m.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	var writes []string
	for _, a := range kube.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" {
			continue
		}
		name := ""
		if n, ok := a.(interface{ GetName() string }); ok {
			name = n.GetName()
		}
		if c, ok := a.(k8stesting.CreateAction); ok {
			name = c.GetObject().(metav1.Object).GetName()
		}
		if u, ok := a.(k8stesting.UpdateAction); ok {
			name = u.GetObject().(metav1.Object).GetName()
		}
		writes = append(writes, a.GetVerb()+" "+a.GetResource().Resource+" "+name)
	}
	// The same spec is wanted, so the replacement has the same name.
	want := []string{"update services ratings", "delete pods " + pod2.Name, "create pods " + pod2.Name, "update pods " + pod.Name}
	if !slices.Equal(writes, want) {
		t.Errorf("writes = %v, want %v", writes, want)
	}
	got := publishedPod(t, kube, "default", "ratings-v1")
	if got.Labels["version"] != "v1" {
		t.Errorf("ratings-v1 version label = %q after repair, want v1", got.Labels["version"])
	}
}
