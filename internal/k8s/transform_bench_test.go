// BenchmarkPodCache: the heap the watcher's caches hold per Pod, for Pods as a real cluster
// has them (managed fields, kubectl's last applied configuration, env, volumes, conditions),
// with the informers' transforms (the watcher's) and without them.

package k8s

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/meshlock/meshlock/internal/testutil"
)

// realisticPods are n Pods of the weight a Deployment's pods with an
// injected sidecar have.
func realisticPods(n int) []kruntime.Object {
	out := make([]kruntime.Object, n)
	for i := range out {
		p := testutil.Pod("shop", fmt.Sprintf("cart-%d-x2x", i), testutil.WithLabels("app", "cart", "version", "v1"),
			testutil.InDeployment("cart", "7d9f"), testutil.WithSidecar(), testutil.WithContainerPort("http", 8080))
		p.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 2000),
			"sidecar.istio.io/status": strings.Repeat("s", 400), "prometheus.io/scrape": "true"}
		p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", FieldsV1: &metav1.FieldsV1{Raw: []byte(strings.Repeat("f", 3000))}}}
		for c := range p.Spec.Containers {
			for e := range 20 {
				p.Spec.Containers[c].Env = append(p.Spec.Containers[c].Env, corev1.EnvVar{Name: fmt.Sprintf("ENV_%d", e), Value: strings.Repeat("v", 40)})
			}
			p.Spec.Containers[c].Image = "registry.example.com/shop/cart:1.2.3"
			p.Spec.Containers[c].Args = []string{"proxy", "sidecar", "--domain", "shop.svc.cluster.local"}
		}
		p.Spec.Volumes = []corev1.Volume{{Name: "istio-envoy"}, {Name: "istio-data"}, {Name: "istio-podinfo"}, {Name: "istio-token"}, {Name: "kube-api-access"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady}, {Type: corev1.PodScheduled}, {Type: corev1.ContainersReady}, {Type: corev1.PodInitialized}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "cart", Image: "x", ImageID: strings.Repeat("i", 80)}, {Name: "istio-proxy", ImageID: strings.Repeat("i", 80)}}
		out[i] = p
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func BenchmarkPodCache(b *testing.B) {
	const pods = 2000
	objects := realisticPods(pods)
	for _, tc := range []struct {
		name      string
		transform cache.TransformFunc
	}{{"whole", nil}, {"trimmed", slimPod}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				kube := kubefake.NewClientset(objects...)
				before := heapInUse()
				factory := informers.NewSharedInformerFactory(kube, 0)
				informer := factory.Core().V1().Pods().Informer()
				if tc.transform != nil {
					_ = informer.SetTransform(tc.transform)
				}
				ctx, cancel := context.WithCancel(context.Background())
				factory.Start(ctx.Done())
				factory.WaitForCacheSync(ctx.Done())
				b.ReportMetric(float64(heapInUse()-before)/pods, "heap-B/pod")
				runtime.KeepAlive(informer.GetStore().List())
				cancel()
				factory.Shutdown()
			}
		})
	}
}
