package meshsim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

const (
	managedByLabel = "app.kubernetes.io/managed-by"
	managedByValue = "meshsim"

	labelTLSMode           = "security.istio.io/tlsMode"
	annotationSidecarState = "sidecar.istio.io/status"
	sidecarContainer       = "istio-proxy"
	sidecarImage           = "docker.io/istio/proxyv2:1.32.0"
)

// sidecarStatus is the shape the injector writes into sidecar.istio.io/status.
const sidecarStatus = `{"initContainers":["istio-init"],"containers":["istio-proxy"],` +
	`"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],` +
	`"imagePullSecrets":null,"revision":"default"}`

// Publish writes the topology into a Kubernetes API so that informers see
// it: Namespaces, ServiceAccounts, Services and one bare Pod per workload.
// It creates what is missing and updates what differs; pods whose spec
// differs are recreated because a pod spec is immutable.
func (m *Mesh) Publish(ctx context.Context, kube kubernetes.Interface) error {
	var errs []error
	for _, ns := range m.namespaces() {
		errs = append(errs, ensureNamespace(ctx, kube, ns))
	}
	for _, sa := range m.serviceAccounts() {
		errs = append(errs, ensureServiceAccount(ctx, kube, sa))
	}
	for _, s := range sortedValues(m.idx.services) {
		errs = append(errs, ensureService(ctx, kube, desiredService(s)))
	}
	for _, w := range sortedValues(m.idx.workloads) {
		errs = append(errs, ensurePod(ctx, kube, m.desiredPod(w)))
	}
	return errors.Join(errs...)
}

func sortedValues[T any](byKey map[string]*T) []*T {
	out := make([]*T, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out
}

func (m *Mesh) namespaces() []string {
	set := map[string]bool{}
	for _, w := range m.idx.workloads {
		set[w.Namespace] = true
	}
	for _, s := range m.idx.services {
		set[s.Namespace] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func (m *Mesh) serviceAccounts() []*corev1.ServiceAccount {
	set := map[string]*corev1.ServiceAccount{}
	for _, w := range m.idx.workloads {
		set[w.Namespace+"/"+w.ServiceAccount] = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: w.ServiceAccount, Namespace: w.Namespace, Labels: map[string]string{managedByLabel: managedByValue},
		}}
	}
	return sortedValues(set)
}

func ensureNamespace(ctx context.Context, kube kubernetes.Interface, name string) error {
	_, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return wrap(err, "get namespace %s", name)
	}
	// An existing namespace is left alone: others (e.g. istio-injection labels) own it.
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return wrap(ignoreExists(err), "create namespace %s", name)
}

func ensureServiceAccount(ctx context.Context, kube kubernetes.Interface, sa *corev1.ServiceAccount) error {
	_, err := kube.CoreV1().ServiceAccounts(sa.Namespace).Get(ctx, sa.Name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return wrap(err, "get serviceaccount %s/%s", sa.Namespace, sa.Name)
	}
	_, err = kube.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{})
	return wrap(ignoreExists(err), "create serviceaccount %s/%s", sa.Namespace, sa.Name)
}

func desiredService(s *Service) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.Name, Namespace: s.Namespace,
			Labels: map[string]string{"app": s.Name, "service": s.Name, managedByLabel: managedByValue},
		},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: maps.Clone(s.Selector)},
	}
	for _, p := range s.Ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			// Istio selects the protocol from the port name prefix (http, tcp).
			Name:       p.Name,
			Port:       p.Port,
			TargetPort: intstr.FromInt32(p.targetPort()),
			Protocol:   corev1.ProtocolTCP,
		})
	}
	return svc
}

func ensureService(ctx context.Context, kube kubernetes.Interface, want *corev1.Service) error {
	client := kube.CoreV1().Services(want.Namespace)
	got, err := client.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = client.Create(ctx, want, metav1.CreateOptions{})
		return wrap(err, "create service %s/%s", want.Namespace, want.Name)
	}
	if err != nil {
		return wrap(err, "get service %s/%s", want.Namespace, want.Name)
	}
	if serviceMatches(got, want) {
		return nil
	}
	// Keep the apiserver-assigned fields (clusterIP etc.) and overwrite ours.
	updated := got.DeepCopy()
	updated.Labels = mergeStrings(updated.Labels, want.Labels)
	updated.Spec.Type = want.Spec.Type
	updated.Spec.Selector = want.Spec.Selector
	updated.Spec.Ports = want.Spec.Ports
	_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
	return wrap(err, "update service %s/%s", want.Namespace, want.Name)
}

// serviceMatches compares only the fields Publish sets, so apiserver defaults
// do not count as drift.
func serviceMatches(got, want *corev1.Service) bool {
	if !containsAll(got.Labels, want.Labels) || got.Spec.Type != want.Spec.Type ||
		!maps.Equal(got.Spec.Selector, want.Spec.Selector) || len(got.Spec.Ports) != len(want.Spec.Ports) {
		return false
	}
	for i, p := range want.Spec.Ports {
		g := got.Spec.Ports[i]
		if g.Name != p.Name || g.Port != p.Port || g.TargetPort != p.TargetPort || g.Protocol != p.Protocol {
			return false
		}
	}
	return true
}

// desiredPod is the pod the workload's Deployment would have produced after
// sidecar injection. The pod is named after the workload because, without an
// owning ReplicaSet, Istio derives a bare pod's workload name from the pod name.
func (m *Mesh) desiredPod(w *Workload) *corev1.Pod {
	podLabels := maps.Clone(w.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	podLabels[managedByLabel] = managedByValue
	annotations := map[string]string{}
	app := corev1.Container{Name: "app", Image: "meshsim/" + w.Name, Ports: m.containerPorts(w)}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace, Labels: podLabels, Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName: w.ServiceAccount,
			Containers:         []corev1.Container{app},
		},
	}
	if w.Sidecar {
		// What the injector adds: labels, status annotation, init and proxy containers.
		podLabels[labelTLSMode] = "istio"
		podLabels[labelCanonicalName] = w.canonicalService()
		podLabels[labelCanonicalRevision] = w.canonicalRevision()
		annotations[annotationSidecarState] = sidecarStatus
		annotations["kubectl.kubernetes.io/default-container"] = app.Name
		annotations["prometheus.io/scrape"] = "true"
		annotations["prometheus.io/port"] = "15020"
		annotations["prometheus.io/path"] = "/stats/prometheus"
		pod.Spec.InitContainers = []corev1.Container{{Name: "istio-init", Image: sidecarImage, Args: []string{"istio-iptables"}}}
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name: sidecarContainer, Image: sidecarImage, Args: []string{"proxy", "sidecar"},
			Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP}},
		})
	}
	return pod
}

// containerPorts are the target ports of every service port that selects w.
func (m *Mesh) containerPorts(w *Workload) []corev1.ContainerPort {
	seen := map[int32]bool{}
	var out []corev1.ContainerPort
	for key, endpoints := range m.idx.endpoints {
		if !slices.Contains(endpoints, w) {
			continue
		}
		for _, p := range m.idx.services[key].Ports {
			if tp := p.targetPort(); !seen[tp] {
				seen[tp] = true
				out = append(out, corev1.ContainerPort{ContainerPort: tp, Protocol: corev1.ProtocolTCP})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerPort < out[j].ContainerPort })
	return out
}

func ensurePod(ctx context.Context, kube kubernetes.Interface, want *corev1.Pod) error {
	client := kube.CoreV1().Pods(want.Namespace)
	got, err := client.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = client.Create(ctx, want, metav1.CreateOptions{})
		return wrap(err, "create pod %s/%s", want.Namespace, want.Name)
	}
	if err != nil {
		return wrap(err, "get pod %s/%s", want.Namespace, want.Name)
	}
	if !podSpecMatches(got, want) {
		// Containers and the service account cannot be changed on a live pod.
		if err := client.Delete(ctx, want.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return wrap(err, "delete pod %s/%s", want.Namespace, want.Name)
		}
		_, err = client.Create(ctx, want, metav1.CreateOptions{})
		return wrap(err, "recreate pod %s/%s", want.Namespace, want.Name)
	}
	// Pod labels drive service selection, so they must match exactly.
	if maps.Equal(got.Labels, want.Labels) && maps.Equal(managedAnnotations(got.Annotations), want.Annotations) {
		return nil
	}
	updated := got.DeepCopy()
	updated.Labels = want.Labels
	for k := range managedAnnotations(updated.Annotations) {
		delete(updated.Annotations, k)
	}
	updated.Annotations = mergeStrings(updated.Annotations, want.Annotations)
	_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
	return wrap(err, "update pod %s/%s", want.Namespace, want.Name)
}

// podAnnotationKeys are the annotations Publish owns on a pod.
var podAnnotationKeys = []string{
	annotationSidecarState, "kubectl.kubernetes.io/default-container",
	"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path",
}

func managedAnnotations(all map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range podAnnotationKeys {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	return out
}

func podSpecMatches(got, want *corev1.Pod) bool {
	if got.Spec.ServiceAccountName != want.Spec.ServiceAccountName {
		return false
	}
	return sameContainers(got.Spec.Containers, want.Spec.Containers) &&
		sameContainers(got.Spec.InitContainers, want.Spec.InitContainers)
}

func sameContainers(got, want []corev1.Container) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Image != want[i].Image || len(got[i].Ports) != len(want[i].Ports) {
			return false
		}
		for j, p := range want[i].Ports {
			if got[i].Ports[j].ContainerPort != p.ContainerPort || got[i].Ports[j].Name != p.Name {
				return false
			}
		}
	}
	return true
}

func containsAll(got, want map[string]string) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

func mergeStrings(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	maps.Copy(dst, src)
	return dst
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("meshsim: "+format+": %w", append(args, err)...)
}
