// Tests of published pods per controller kind: Istio's workload name matches the reported
// source_workload, changed specs recreate pods, named target ports, and gateway pods.

package meshsim

import (
	"regexp"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshlock/meshlock/internal/istio"
)

// kindsTopology: one calling workload per controller kind (each its own
// service account, so its series are told apart by principal), all calling
// one server over mTLS.
func kindsTopology() Topology {
	tp := Topology{
		Workloads: []Workload{{Name: "server-v1", Namespace: "backend", ServiceAccount: "server-sa", Sidecar: true, Labels: map[string]string{"app": "server", "version": "v1"}}},
		Services:  []Service{{Name: "server", Namespace: "backend", Selector: map[string]string{"app": "server"}, Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}}},
	}
	add := func(w Workload) {
		w.Namespace, w.ServiceAccount, w.Sidecar = "app", w.Name+"-sa", true
		tp.Workloads = append(tp.Workloads, w)
		tp.Callers = append(tp.Callers, Caller{From: "app/" + w.Name, To: "backend/server", Port: 8080, Rate: 1})
	}
	add(Workload{Name: "deploy", Labels: map[string]string{"app": "deploy"}}) // Kind "" = Deployment
	add(Workload{Name: "sts", Kind: KindStatefulSet, Labels: map[string]string{"app": "sts"}})
	add(Workload{Name: "ds", Kind: KindDaemonSet, Labels: map[string]string{"app": "ds"}})
	add(Workload{Name: "cron", Kind: KindCronJob, Labels: map[string]string{"app": "cron"}})
	add(Workload{Name: "job", Kind: KindJob, Labels: map[string]string{"app": "job"}})
	add(Workload{Name: "rollout", Kind: KindRollout, Labels: map[string]string{"app": "rollout"}})
	add(Workload{Name: "bare-pod", Kind: KindPod, Labels: map[string]string{"app": "bare-pod"}})
	add(Workload{Name: "renamed", WorkloadNameLabel: "billing", Labels: map[string]string{"app": "renamed"}})
	add(Workload{Name: "renamed-sts", Kind: KindStatefulSet, WorkloadNameLabel: "ledger", Labels: map[string]string{"app": "renamed-sts"}})
	return tp
}

// TestPublishedPodNamingMatchesReportedWorkload: for each controller kind,
// Istio's name for the published pod (istio.WorkloadName, after
// pkg/kube/util.go GetDeployMetaFromPod / GetWorkloadMetaFromPod) is the
// source_workload meshsim reports for it, on both reporters.
func TestPublishedPodNamingMatchesReportedWorkload(t *testing.T) {
	m, err := New(Options{Topology: kindsTopology(), AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	m.Tick(time.Second)
	samples := scrape(t, m)

	tests := []struct {
		workload   string
		want       string         // the reported name
		podName    *regexp.Regexp // the pod's own name
		ownerKind  string
		ownerName  *regexp.Regexp
		wantLabels map[string]string
	}{
		{workload: "deploy", want: "deploy", podName: regexp.MustCompile(`^deploy-[b-z2-9]{10}-[b-z2-9]{5}$`), ownerKind: "ReplicaSet", ownerName: regexp.MustCompile(`^deploy-[b-z2-9]{10}$`)},
		{workload: "sts", want: "sts", podName: regexp.MustCompile(`^sts-0$`), ownerKind: "StatefulSet", ownerName: regexp.MustCompile(`^sts$`),
			wantLabels: map[string]string{"statefulset.kubernetes.io/pod-name": "sts-0", "apps.kubernetes.io/pod-index": "0"}},
		{workload: "ds", want: "ds", podName: regexp.MustCompile(`^ds-[b-z2-9]{5}$`), ownerKind: "DaemonSet", ownerName: regexp.MustCompile(`^ds$`),
			wantLabels: map[string]string{"pod-template-generation": "1"}},
		{workload: "cron", want: "cron", podName: regexp.MustCompile(`^cron-\d{8}-[b-z2-9]{5}$`), ownerKind: "Job", ownerName: regexp.MustCompile(`^cron-\d{8}$`)},
		{workload: "job", want: "job", podName: regexp.MustCompile(`^job-[b-z2-9]{5}$`), ownerKind: "Job", ownerName: regexp.MustCompile(`^job$`),
			wantLabels: map[string]string{"job-name": "job", "batch.kubernetes.io/job-name": "job"}},
		{workload: "rollout", want: "rollout", podName: regexp.MustCompile(`^rollout-[b-z2-9]{10}-[b-z2-9]{5}$`), ownerKind: "ReplicaSet", ownerName: regexp.MustCompile(`^rollout-[b-z2-9]{10}$`)},
		{workload: "bare-pod", want: "bare-pod", podName: regexp.MustCompile(`^bare-pod$`)},
		{workload: "renamed", want: "billing", podName: regexp.MustCompile(`^renamed-[b-z2-9]{10}-[b-z2-9]{5}$`), ownerKind: "ReplicaSet", ownerName: regexp.MustCompile(`^renamed-`),
			wantLabels: map[string]string{"service.istio.io/workload-name": "billing", "service.istio.io/canonical-name": "renamed"}},
		{workload: "renamed-sts", want: "ledger", podName: regexp.MustCompile(`^renamed-sts-0$`), ownerKind: "StatefulSet", ownerName: regexp.MustCompile(`^renamed-sts$`)},
	}
	for _, tc := range tests {
		t.Run(tc.workload, func(t *testing.T) {
			pod := publishedPod(t, kube, "app", tc.workload)
			if got := istio.WorkloadName(pod); got != tc.want {
				t.Errorf("istio.WorkloadName(pod) = %q, want %q", got, tc.want)
			}
			if !tc.podName.MatchString(pod.Name) {
				t.Errorf("pod name %q does not match %s", pod.Name, tc.podName)
			}
			if tc.ownerKind == "" {
				if pod.GenerateName != "" || len(pod.OwnerReferences) != 0 {
					t.Errorf("bare pod has generateName %q and owners %v", pod.GenerateName, pod.OwnerReferences)
				}
			} else {
				if pod.GenerateName == "" || len(pod.OwnerReferences) != 1 {
					t.Fatalf("generateName %q, owners %v: want a generateName and one controller", pod.GenerateName, pod.OwnerReferences)
				}
				ref := pod.OwnerReferences[0]
				if ref.Kind != tc.ownerKind || !tc.ownerName.MatchString(ref.Name) || ref.Controller == nil || !*ref.Controller || ref.UID == "" {
					t.Errorf("owner = %+v, want controller %s %s with a UID", ref, tc.ownerKind, tc.ownerName)
				}
			}
			if !containsAll(pod.Labels, tc.wantLabels) {
				t.Errorf("labels = %v, want at least %v", pod.Labels, tc.wantLabels)
			}
			principal := "spiffe://cluster.local/ns/app/sa/" + tc.workload + "-sa"
			for _, reporter := range []string{"source", "destination"} {
				var names []string
				for _, s := range samples {
					if s.labels["reporter"] == reporter && s.labels["source_principal"] == principal {
						names = append(names, s.labels["source_workload"])
					}
				}
				if !slices.Equal(names, []string{istio.WorkloadName(pod)}) {
					t.Errorf("reporter=%s source_workload = %v, want [%s]", reporter, names, istio.WorkloadName(pod))
				}
			}
		})
	}
}

// A pod spec is immutable and a bare pod's name is fixed: a changed spec
// deletes and recreates it under the same name; a workload made by a
// controller gets a pod under a new name (a new template hash), found by
// its workload label, and the old one is deleted.
func TestPublishRecreatesPodsWhoseSpecChanged(t *testing.T) {
	for _, kind := range []WorkloadKind{KindPod, KindDeployment} {
		t.Run(string(kind), func(t *testing.T) {
			tp := kindsTopology()
			tp.Workloads[1].Kind = kind // "deploy"
			m, err := New(Options{Topology: tp})
			if err != nil {
				t.Fatal(err)
			}
			kube := fake.NewClientset()
			if err := m.Publish(t.Context(), kube); err != nil {
				t.Fatal(err)
			}
			before := publishedPod(t, kube, "app", "deploy")

			tp.Workloads[1].Sidecar = false // another spec
			m2, err := New(Options{Topology: tp})
			if err != nil {
				t.Fatal(err)
			}
			kube.ClearActions()
			if err := m2.Publish(t.Context(), kube); err != nil {
				t.Fatal(err)
			}
			after := publishedPod(t, kube, "app", "deploy")
			if istio.HasSidecar(after) {
				t.Error("the pod still has its sidecar")
			}
			if istio.WorkloadName(after) != "deploy" {
				t.Errorf("istio.WorkloadName = %q", istio.WorkloadName(after))
			}
			var writes []string
			for _, a := range kube.Actions() {
				if a.GetVerb() == "delete" || a.GetVerb() == "create" {
					writes = append(writes, a.GetVerb())
				}
			}
			if !slices.Equal(writes, []string{"delete", "create"}) {
				t.Errorf("writes = %v, want delete then create", writes)
			}
			if sameName := before.Name == after.Name; sameName != (kind == KindPod) {
				t.Errorf("pod renamed %q -> %q; want the same name only for a bare pod", before.Name, after.Name)
			}
		})
	}
}

// TestPublishNamedTargetPort: the Service refers to the container port by
// name and the workload's container carries the number under that name,
// which istio.TargetPort resolves as istiod does.
func TestPublishNamedTargetPort(t *testing.T) {
	tp := scenarioTopology(toServer)
	tp.Services[0].Ports[0].TargetPortName = "web"
	m, err := New(Options{Topology: tp})
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	svc, err := kube.CoreV1().Services("backend").Get(t.Context(), "server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Spec.Ports[0].TargetPort; got != intstr.FromString("web") {
		t.Errorf("targetPort = %v, want the name web", got)
	}
	pod := publishedPod(t, kube, "backend", "server-v1")
	want := []corev1.ContainerPort{{Name: "tcp-db", ContainerPort: 9000, Protocol: corev1.ProtocolTCP}, {Name: "web", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}}
	want[0].Name = "" // the numeric target port stays unnamed
	if got := pod.Spec.Containers[0].Ports; !slices.Equal(got, want) {
		t.Errorf("app container ports = %v, want %v", got, want)
	}
	if port, ok := istio.TargetPort(svc.Spec.Ports[0], pod); !ok || port != 9090 {
		t.Errorf("istio.TargetPort = %d, %v; want 9090", port, ok)
	}
}

// TestPublishGateway: a gateway's pod is only the proxy, as a router, with
// the chart's istio=ingressgateway label and without tlsMode=istio.
func TestPublishGateway(t *testing.T) {
	tp := gatewayTopology()
	m, err := New(Options{Topology: tp})
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	pod := publishedPod(t, kube, "istio-system", "istio-ingressgateway")
	if !istio.IsGateway(pod) || !istio.HasSidecar(pod) {
		t.Errorf("IsGateway = %v, HasSidecar = %v; want both", istio.IsGateway(pod), istio.HasSidecar(pod))
	}
	if len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Name != "istio-proxy" || !slices.Equal(pod.Spec.Containers[0].Args, []string{"proxy", "router"}) {
		t.Errorf("containers = %+v, want only istio-proxy with args proxy router", pod.Spec.Containers)
	}
	if len(pod.Spec.InitContainers) != 0 {
		t.Errorf("init containers = %v, want none", pod.Spec.InitContainers)
	}
	if _, ok := pod.Labels["security.istio.io/tlsMode"]; ok || pod.Labels["istio"] != "ingressgateway" {
		t.Errorf("labels = %v, want istio=ingressgateway and no tlsMode", pod.Labels)
	}
	if istio.WorkloadName(pod) != "istio-ingressgateway" {
		t.Errorf("istio.WorkloadName = %q", istio.WorkloadName(pod))
	}
}
