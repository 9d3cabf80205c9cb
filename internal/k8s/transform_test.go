// Tests of the informer transforms: a trimmed Pod answers every question the graph asks of it as
// the whole Pod does, and loses its bulk.

package k8s

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/internal/testutil"
)

func TestSlimPodAnswersAsTheWholePod(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := testutil.Pod("shop", "cart-7d9f-x2x", testutil.WithLabels("app", "cart"), testutil.InDeployment("cart", "7d9f"),
		testutil.WithServiceAccount("cart"), testutil.WithContainerPort("http-web", 8080))
	pod.Annotations = map[string]string{"ambient.istio.io/redirection": "enabled", lastApplied: strings.Repeat("x", 10000), "other": "y"}
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "BIG", Value: strings.Repeat("v", 10000)}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "data"}}
	pod.Spec.InitContainers = []corev1.Container{{Name: "istio-proxy", RestartPolicy: &always,
		Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}}}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady}}

	obj, err := slimPod(pod.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	slim := obj.(*corev1.Pod)
	if istio.WorkloadName(slim) != istio.WorkloadName(pod) || istio.HasSidecar(slim) != istio.HasSidecar(pod) ||
		istio.DataPlane(slim, nil) != istio.DataPlane(pod, nil) || slim.Spec.ServiceAccountName != "cart" || slim.Status.Phase != corev1.PodRunning {
		t.Errorf("the trimmed pod answers differently: %+v", slim)
	}
	for _, port := range []corev1.ServicePort{
		{Port: 80, TargetPort: intstr.FromString("http-web")},
		{Port: 15090, TargetPort: intstr.FromString("http-envoy-prom")},
	} {
		got, ok := istio.TargetPort(port, slim)
		want, wantOK := istio.TargetPort(port, pod)
		if got != want || ok != wantOK {
			t.Errorf("target port of %v: %d %v, want %d %v", port.TargetPort, got, ok, want, wantOK)
		}
	}
	if len(slim.Annotations) != 1 || slim.ManagedFields != nil || slim.Spec.Containers[0].Env != nil || slim.Spec.Volumes != nil || slim.Status.Conditions != nil {
		t.Errorf("the trimmed pod kept its bulk: %+v", slim)
	}

	svc := testutil.Service("shop", "cart", map[string]string{"app": "cart"})
	svc.Annotations = map[string]string{lastApplied: "{}", "keep": "me"}
	svc.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	if _, err := stripMeta(svc); err != nil || svc.ManagedFields != nil || len(svc.Annotations) != 1 || svc.Annotations["keep"] != "me" {
		t.Errorf("stripMeta left %+v, %v", svc.ObjectMeta, err)
	}
}
