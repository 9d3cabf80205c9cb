// Publish: writes the topology into a Kubernetes API (Namespaces, ServiceAccounts, Services and one
// pod per workload as its controller and the injector would make it), repairing drift.

package meshsim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

const (
	managedByLabel = "app.kubernetes.io/managed-by"
	managedByValue = "meshsim"

	// workloadLabel names the Workload a pod stands for, so Publish finds
	// pods whose names were generated.
	workloadLabel = "meshsim.meshlock.io/workload"

	labelTLSMode              = "security.istio.io/tlsMode"
	labelWorkloadName         = "service.istio.io/workload-name"
	annotationInjectTemplates = "inject.istio.io/templates"
	annotationSidecarState    = "sidecar.istio.io/status"
	sidecarContainer          = "istio-proxy"
	sidecarImage              = "docker.io/istio/proxyv2:1.32.0"
)

// sidecarStatus is the shape the injector writes into sidecar.istio.io/status.
const sidecarStatus = `{"initContainers":["istio-init"],"containers":["istio-proxy"],` +
	`"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],` +
	`"imagePullSecrets":null,"revision":"default"}`

// Publish writes the topology into a Kubernetes API so that informers see
// it: Namespaces, ServiceAccounts, Services and one Pod per workload, made
// as the workload's controller would have (the controllers themselves are
// not created); and what istiod writes: the root namespace, the root
// bundle (ConfigMap istio-ca-root-cert, Mesh.Bundle) in every namespace of
// the topology and the root namespace, and the mesh config (ConfigMap
// istio) with the trust domain and its aliases. It creates what is missing
// and updates what differs; pods whose spec, name or owner differs are
// recreated because those are immutable. With remote clusters, it writes
// the primary cluster's share (PublishCluster).
func (m *Mesh) Publish(ctx context.Context, kube kubernetes.Interface) error {
	return m.PublishCluster(ctx, "", kube)
}

// PublishCluster is Publish for one cluster of the mesh ("" the primary):
// the pods of its workloads, the Services declared in it (Service.Clusters
// and wherever a selected workload runs), their namespaces and
// ServiceAccounts, and its root namespace, bundles and mesh config. In a
// mesh of several clusters its root namespace is labelled with its network
// (topology.istio.io/network, which istiod reads for every pod of the
// cluster: pilot/pkg/serviceregistry/kube/controller/controller.go
// Network), as are its east-west gateway's Service and pod.
func (m *Mesh) PublishCluster(ctx context.Context, cluster string, kube kubernetes.Interface) error {
	ci, ok := m.clusterIndex(cluster)
	if !ok {
		return fmt.Errorf("meshsim: no cluster %q", cluster)
	}
	cs := m.clusters[ci]
	namespaces := m.clusterNamespaces(ci)
	var errs []error
	for _, ns := range namespaces {
		var labels map[string]string
		if ns == cs.root && cs.network != "" {
			labels = map[string]string{labelNetwork: cs.network}
		}
		errs = append(errs, ensureNamespace(ctx, kube, ns, labels))
	}
	for _, sa := range m.serviceAccounts(ci) {
		errs = append(errs, ensureServiceAccount(ctx, kube, sa))
	}
	for _, key := range sortedKeys(m.idx.services) {
		if s := m.idx.services[key]; slices.Contains(m.idx.declared[key], ci) {
			want := desiredService(s)
			if m.isNetworkGatewayService(s) {
				want.Labels[labelNetwork] = cs.network
			}
			errs = append(errs, ensureService(ctx, kube, want))
		}
	}
	for _, w := range sortedValues(m.idx.workloads) {
		if w.clusterIdx == ci {
			errs = append(errs, ensurePod(ctx, kube, m.pods[w].DeepCopy()))
		}
	}
	for _, ns := range namespaces {
		certs, ok := m.Bundle(ns)
		errs = append(errs, ensureRootBundle(ctx, kube, ns, bundlePEM(certs), ok))
	}
	errs = append(errs, ensureMeshConfig(ctx, kube, cs.root, m.trustDomain, m.aliases))
	return errors.Join(errs...)
}

// clusterNamespaces are the namespaces of a cluster's workloads and
// Services, and its root namespace: all of bundleNamespaces with one cluster.
func (m *Mesh) clusterNamespaces(ci int) []string {
	set := map[string]bool{m.clusters[ci].root: true}
	for _, w := range m.idx.workloads {
		if w.clusterIdx == ci {
			set[w.Namespace] = true
		}
	}
	for key, s := range m.idx.services {
		if slices.Contains(m.idx.declared[key], ci) {
			set[s.Namespace] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
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

func (m *Mesh) serviceAccounts(ci int) []*corev1.ServiceAccount {
	set := map[string]*corev1.ServiceAccount{}
	for _, w := range m.idx.workloads {
		if w.clusterIdx != ci {
			continue
		}
		set[w.Namespace+"/"+w.ServiceAccount] = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: w.ServiceAccount, Namespace: w.Namespace, Labels: map[string]string{managedByLabel: managedByValue},
		}}
	}
	return sortedValues(set)
}

// ensureNamespace creates the namespace with labels, or adds those labels
// to an existing one, whose other labels others (e.g. istio-injection) own.
func ensureNamespace(ctx context.Context, kube kubernetes.Interface, name string, labels map[string]string) error {
	got, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		if containsAll(got.Labels, labels) {
			return nil
		}
		updated := got.DeepCopy()
		updated.Labels = mergeStrings(updated.Labels, labels)
		_, err = kube.CoreV1().Namespaces().Update(ctx, updated, metav1.UpdateOptions{})
		return wrap(err, "update namespace %s", name)
	}
	if !apierrors.IsNotFound(err) {
		return wrap(err, "get namespace %s", name)
	}
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
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
	if s.Waypoint != "" {
		// pilot/pkg/serviceregistry/ambient/waypoints.go GetUseWaypoint.
		svc.Labels["istio.io/use-waypoint"] = s.Waypoint
	}
	for _, p := range s.Ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			// Istio selects the protocol from the port name prefix (http, tcp).
			Name:       p.Name,
			Port:       p.Port,
			TargetPort: targetPortOf(p),
			Protocol:   corev1.ProtocolTCP,
		})
	}
	return svc
}

func targetPortOf(p ServicePort) intstr.IntOrString {
	if p.TargetPortName != "" {
		return intstr.FromString(p.TargetPortName)
	}
	return intstr.FromInt32(p.targetPort())
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

// buildPod is the pod the workload's controller would have made, after
// sidecar (or gateway) injection. Its name, generateName, owner reference
// and controller labels are the controller's, so that Istio's naming
// (pkg/kube/util.go GetDeployMetaFromPod, istio.WorkloadName) gives back
// Workload.Name, or WorkloadNameLabel when set. Owners are not created:
// their UIDs are made up, and nothing in a bare API server collects pods
// whose owner is missing.
func buildPod(w *Workload, idx *index) *corev1.Pod {
	podLabels := maps.Clone(w.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	podLabels[managedByLabel] = managedByValue
	podLabels[workloadLabel] = w.Name
	if w.WorkloadNameLabel != "" {
		podLabels[labelWorkloadName] = w.WorkloadNameLabel
	}
	annotations := map[string]string{}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Labels: podLabels, Annotations: annotations},
		Spec:       corev1.PodSpec{ServiceAccountName: w.ServiceAccount},
	}
	ports := containerPorts(w, idx)
	switch {
	case w.Gateway:
		// The gateway chart's pod (selector label istio=ingressgateway) after
		// the gateway injection template: only the proxy, as a router, no
		// tlsMode label (manifests/charts/istio-control/istio-discovery/files/gateway-injection-template.yaml).
		if podLabels["istio"] == "" {
			podLabels["istio"] = "ingressgateway"
		}
		podLabels[labelCanonicalName] = w.canonicalService()
		podLabels[labelCanonicalRevision] = w.canonicalRevision()
		annotations[annotationInjectTemplates] = "gateway"
		addPrometheusAnnotations(annotations)
		pod.Spec.Containers = []corev1.Container{{
			Name: sidecarContainer, Image: sidecarImage, Args: []string{"proxy", "router"},
			Ports: append(ports, corev1.ContainerPort{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP}),
		}}
	case w.Sidecar:
		app := corev1.Container{Name: "app", Image: "meshsim/" + w.Name, Ports: ports}
		// What the injector adds: labels, status annotation, init and proxy containers.
		podLabels[labelTLSMode] = "istio"
		podLabels[labelCanonicalName] = w.canonicalService()
		podLabels[labelCanonicalRevision] = w.canonicalRevision()
		annotations[annotationSidecarState] = sidecarStatus
		annotations["kubectl.kubernetes.io/default-container"] = app.Name
		addPrometheusAnnotations(annotations)
		pod.Spec.InitContainers = []corev1.Container{{Name: "istio-init", Image: sidecarImage, Args: []string{"istio-iptables"}}}
		pod.Spec.Containers = []corev1.Container{app, {
			Name: sidecarContainer, Image: sidecarImage, Args: []string{"proxy", "sidecar"},
			Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP}},
		}}
	case w.Waypoint:
		// The istio-waypoint class's Deployment (istio/istio
		// manifests/charts/istio-control/istio-discovery/files/waypoint.yaml):
		// the proxy alone, labelled as the mesh controller's and opted
		// out of ztunnel's capture.
		podLabels["gateway.istio.io/managed"] = "istio.io-mesh-controller"
		podLabels["gateway.networking.k8s.io/gateway-name"] = w.Name
		podLabels["istio.io/dataplane-mode"] = "none"
		addPrometheusAnnotations(annotations)
		pod.Spec.Containers = []corev1.Container{{
			Name: sidecarContainer, Image: sidecarImage, Args: []string{"proxy", "waypoint"},
			Ports: []corev1.ContainerPort{{Name: "mesh", ContainerPort: 15008, Protocol: corev1.ProtocolTCP}},
		}}
	default:
		pod.Spec.Containers = []corev1.Container{{Name: "app", Image: "meshsim/" + w.Name, Ports: ports}}
		if w.Ambient {
			// Enrolled in ambient mode, and redirected by istio-cni
			// (istio/istio pkg/config/constants, cni/pkg/util/podutil.go).
			podLabels["istio.io/dataplane-mode"] = "ambient"
			annotations["ambient.istio.io/redirection"] = "enabled"
		}
	}
	if w.Tunnel {
		// The injector's label in an ambient install
		// (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml).
		podLabels["networking.istio.io/tunnel"] = "http"
	}
	if k := w.kind(); k == KindJob || k == KindCronJob {
		pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure // a Job's template must not say Always
	}
	setController(pod, w)
	return pod
}

func addPrometheusAnnotations(annotations map[string]string) {
	annotations["prometheus.io/scrape"] = "true"
	annotations["prometheus.io/port"] = "15020"
	annotations["prometheus.io/path"] = "/stats/prometheus"
}

// setController names the pod and sets the owner and labels its controller
// would (the controllers in k8s.io/kubernetes/pkg/controller, and Argo
// Rollouts'). The template hash is derived from the spec, so a changed spec
// means a new ReplicaSet and a new pod name, as a rollout would.
func setController(pod *corev1.Pod, w *Workload) {
	hash := templateHash(w, &pod.Spec)
	suffix := safeEncode(fnvHash(w.Namespace+"/"+w.Name+"/"+hash), 5)
	owner := func(apiVersion, kind, name string) {
		pod.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: apiVersion, Kind: kind, Name: name, UID: madeUpUID(w.Namespace, kind, name),
			Controller: ptr(true), BlockOwnerDeletion: ptr(true),
		}}
	}
	l := pod.Labels
	switch w.kind() {
	case KindPod:
		// No generateName: Istio then takes the pod's name as is.
		pod.Name = w.Name
	case KindDeployment, KindRollout:
		rs := w.Name + "-" + hash
		pod.GenerateName, pod.Name = rs+"-", rs+"-"+suffix
		owner("apps/v1", "ReplicaSet", rs)
		if w.kind() == KindDeployment {
			l["pod-template-hash"] = hash
		} else {
			l["rollouts-pod-template-hash"] = hash
		}
	case KindStatefulSet:
		pod.GenerateName, pod.Name = w.Name+"-", w.Name+"-0"
		owner("apps/v1", "StatefulSet", w.Name)
		l["controller-revision-hash"] = w.Name + "-" + hash
		l["statefulset.kubernetes.io/pod-name"] = pod.Name
		l["apps.kubernetes.io/pod-index"] = "0"
	case KindDaemonSet:
		pod.GenerateName, pod.Name = w.Name+"-", w.Name+"-"+suffix
		owner("apps/v1", "DaemonSet", w.Name)
		l["controller-revision-hash"] = hash
		l["pod-template-generation"] = "1"
	case KindJob, KindCronJob:
		job := w.Name
		if w.kind() == KindCronJob {
			// The CronJob controller suffixes the scheduled time in minutes
			// since the epoch, 8 digits nowadays.
			job = fmt.Sprintf("%s-%d", w.Name, 20000000+fnvHash(w.Namespace+"/"+w.Name)%10000000)
		}
		pod.GenerateName, pod.Name = job+"-", job+"-"+suffix
		owner("batch/v1", "Job", job)
		uid := string(pod.OwnerReferences[0].UID)
		l["batch.kubernetes.io/job-name"], l["job-name"] = job, job
		l["batch.kubernetes.io/controller-uid"], l["controller-uid"] = uid, uid
	}
}

func ptr[T any](v T) *T { return &v }

// templateHash stands in for a controller's pod-template-hash: a short
// name-safe string that changes with what Publish cannot change in place.
func templateHash(w *Workload, spec *corev1.PodSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|", w.kind(), spec.ServiceAccountName, spec.RestartPolicy)
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			fmt.Fprintf(&b, "%s=%s%v;", c.Name, c.Image, c.Args)
			for _, p := range c.Ports {
				fmt.Fprintf(&b, "%s:%d,", p.Name, p.ContainerPort)
			}
		}
		b.WriteString("|")
	}
	return safeEncode(fnvHash(b.String()), 10)
}

func fnvHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// safeEncode writes n (at most 13) base-27 digits of v in the alphabet
// Kubernetes uses for generated names (no vowels, no confusable digits).
func safeEncode(v uint64, n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[v%uint64(len(alphabet))]
		v /= uint64(len(alphabet))
	}
	return string(out)
}

// madeUpUID is a stable UUID-shaped UID for an owner that does not exist.
func madeUpUID(namespace, kind, name string) types.UID {
	sum := sha256.Sum256([]byte(namespace + "/" + kind + "/" + name))
	h := hex.EncodeToString(sum[:16])
	return types.UID(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32])
}

// containerPorts are the target ports of every service port that selects
// w, named where the Service refers to them by name.
func containerPorts(w *Workload, idx *index) []corev1.ContainerPort {
	byNumber := map[int32]string{}
	for _, p := range idx.portsOf(w) {
		tp := p.targetPort()
		if name, seen := byNumber[tp]; !seen || name == "" {
			byNumber[tp] = p.TargetPortName
		}
	}
	var out []corev1.ContainerPort
	for _, tp := range slices.Sorted(maps.Keys(byNumber)) {
		out = append(out, corev1.ContainerPort{Name: byNumber[tp], ContainerPort: tp, Protocol: corev1.ProtocolTCP})
	}
	return out
}

// ensurePod finds the workload's pods by the workload label (a generated
// name cannot be looked up) and keeps one that is exactly as wanted, else
// deletes them and creates the wanted pod: a pod's spec, name and owners
// cannot change in place.
func ensurePod(ctx context.Context, kube kubernetes.Interface, want *corev1.Pod) error {
	client := kube.CoreV1().Pods(want.Namespace)
	workload := want.Labels[workloadLabel]
	list, err := client.List(ctx, metav1.ListOptions{LabelSelector: workloadLabel + "=" + workload})
	if err != nil {
		return wrap(err, "list pods of workload %s/%s", want.Namespace, workload)
	}
	var keep *corev1.Pod
	for i := range list.Items {
		got := &list.Items[i]
		if keep == nil && got.DeletionTimestamp == nil && podIdentityMatches(got, want) && podSpecMatches(got, want) {
			keep = got
			continue
		}
		if err := client.Delete(ctx, got.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return wrap(err, "delete pod %s/%s", got.Namespace, got.Name)
		}
	}
	if keep == nil {
		_, err = client.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// The old pod of the same name is still terminating.
			return wrap(err, "create pod %s/%s (the previous one is still being deleted; publish again)", want.Namespace, want.Name)
		}
		return wrap(err, "create pod %s/%s", want.Namespace, want.Name)
	}
	// Pod labels drive service selection, so they must match exactly.
	if maps.Equal(keep.Labels, want.Labels) && maps.Equal(managedAnnotations(keep.Annotations), want.Annotations) {
		return nil
	}
	updated := keep.DeepCopy()
	updated.Labels = want.Labels
	for k := range managedAnnotations(updated.Annotations) {
		delete(updated.Annotations, k)
	}
	updated.Annotations = mergeStrings(updated.Annotations, want.Annotations)
	_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
	return wrap(err, "update pod %s/%s", want.Namespace, want.Name)
}

// podIdentityMatches compares what decides the pod's workload name.
func podIdentityMatches(got, want *corev1.Pod) bool {
	if got.Name != want.Name || got.GenerateName != want.GenerateName || len(got.OwnerReferences) != len(want.OwnerReferences) {
		return false
	}
	for i, w := range want.OwnerReferences {
		g := got.OwnerReferences[i]
		if g.APIVersion != w.APIVersion || g.Kind != w.Kind || g.Name != w.Name || g.UID != w.UID ||
			(g.Controller != nil && *g.Controller) != (w.Controller != nil && *w.Controller) {
			return false
		}
	}
	return true
}

// podAnnotationKeys are the annotations Publish owns on a pod.
var podAnnotationKeys = []string{
	annotationSidecarState, "kubectl.kubernetes.io/default-container", annotationInjectTemplates,
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
