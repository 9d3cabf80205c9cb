// Test of Publish against a real kube-apiserver: every kind of pod is accepted, Istio's naming of the
// stored pods matches what meshsim reports, and a second Publish writes nothing.

package meshsim

import (
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/test/testbed"
)

// TestPublishOnARealAPIServer: a real kube-apiserver accepts the pods of
// every kind (generateName, controller owner references to owners that do
// not exist, named container ports, a gateway), Istio's naming of what it
// stored is what meshsim reports, and a second Publish writes nothing.
func TestPublishOnARealAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	cluster := testbed.StartCluster(t)
	kube := kubernetes.NewForConfigOrDie(cluster.RESTConfig)
	tp := kindsTopology()
	gw := gatewayTopology()
	tp.Workloads = append(tp.Workloads, gw.Workloads[len(gw.Workloads)-1])
	tp.Services = append(tp.Services, gw.Services[len(gw.Services)-1])
	tp.Services[0].Ports[0].TargetPortName = "web"
	m, err := New(Options{Topology: tp, AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := m.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	m.Tick(time.Second)
	reported := map[string]bool{}
	for _, s := range scrape(t, m) {
		reported[s.labels["source_workload"]] = true
		reported[s.labels["destination_workload"]] = true
	}

	pods, err := kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: workloadLabel})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range pods.Items {
		pod := &pods.Items[i]
		name := istio.WorkloadName(pod)
		names = append(names, name)
		if w := m.idx.workloads[pod.Namespace+"/"+pod.Labels[workloadLabel]]; w == nil || w.reportedName() != name {
			t.Errorf("pod %s/%s: istio.WorkloadName = %q, not the workload's reported name", pod.Namespace, pod.Name, name)
		}
		if pod.Namespace != "istio-system" && !reported[name] {
			t.Errorf("pod %s/%s: %q is in no series", pod.Namespace, pod.Name, name)
		}
	}
	if len(names) != len(tp.Workloads) {
		t.Errorf("workload names of the stored pods = %v, want one per workload (%d)", names, len(tp.Workloads))
	}
	svc, err := kube.CoreV1().Services("backend").Get(ctx, "server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	server := pods.Items[slices.IndexFunc(pods.Items, func(p corev1.Pod) bool { return p.Labels[workloadLabel] == "server-v1" })]
	if port, ok := istio.TargetPort(svc.Spec.Ports[0], &server); !ok || port != 8080 {
		t.Errorf("istio.TargetPort of the stored server = %d, %v; want 8080 by name", port, ok)
	}

	versions := func(list *corev1.PodList) map[string]string {
		out := map[string]string{}
		for _, p := range list.Items {
			out[p.Namespace+"/"+p.Name] = string(p.UID) + "@" + p.ResourceVersion
		}
		return out
	}
	if err := m.Publish(ctx, kube); err != nil {
		t.Fatalf("second Publish: %v", err)
	}
	after, err := kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: workloadLabel})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versions(after), versions(pods); !maps.Equal(got, want) {
		t.Errorf("second Publish changed pods:\n%v\nwas\n%v", got, want)
	}
}
