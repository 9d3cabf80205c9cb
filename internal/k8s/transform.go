// Informer transforms: the caches keep of each object only what the graph reads (a Pod's
// identity, owners, labels, container names and ports, service account, phase), so that memory
// grows with the mesh's size, not with its pods' specs. Enforce reads objects from the API, never
// from these caches, so nothing written is ever built from a trimmed copy.

package k8s

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// keptPodAnnotations are the annotations the graph reads on a Pod
// (istio.DataPlane: istio-cni's ambient redirection).
var keptPodAnnotations = []string{"ambient.istio.io/redirection"}

// lastApplied is kubectl's copy of the whole object, often its largest part.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// slimPod keeps a Pod's identity, labels, owners, the kept annotations,
// its containers' names, ports and restart policy (native sidecars), its
// service account and phase.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return stripMeta(obj) // a tombstone, or not a Pod
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: pod.Name, Namespace: pod.Namespace, GenerateName: pod.GenerateName, UID: pod.UID,
			ResourceVersion: pod.ResourceVersion, Labels: pod.Labels, OwnerReferences: pod.OwnerReferences,
			DeletionTimestamp: pod.DeletionTimestamp, CreationTimestamp: pod.CreationTimestamp,
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: pod.Spec.ServiceAccountName,
			HostNetwork:        pod.Spec.HostNetwork, // never captured by ztunnel
			Containers:         slimContainers(pod.Spec.Containers),
			InitContainers:     slimContainers(pod.Spec.InitContainers),
		},
		Status: corev1.PodStatus{Phase: pod.Status.Phase},
	}
	for _, key := range keptPodAnnotations {
		if v, ok := pod.Annotations[key]; ok {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[key] = v
		}
	}
	return out, nil
}

func slimContainers(in []corev1.Container) []corev1.Container {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(in))
	for i, c := range in {
		out[i] = corev1.Container{Name: c.Name, Ports: c.Ports, RestartPolicy: c.RestartPolicy}
	}
	return out
}

// stripMeta drops what no reader of the caches needs from any object:
// managed fields and kubectl's last applied configuration.
func stripMeta(obj any) (any, error) {
	accessor, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	accessor.SetManagedFields(nil)
	if a := accessor.GetAnnotations(); a[lastApplied] != "" {
		trimmed := make(map[string]string, len(a)-1)
		for k, v := range a {
			if k != lastApplied {
				trimmed[k] = v
			}
		}
		accessor.SetAnnotations(trimmed)
	}
	return obj, nil
}

var (
	_ cache.TransformFunc = slimPod
	_ cache.TransformFunc = stripMeta
)
