// Tests of deploy/ on the real test bed: the kustomize variants and the Helm chart (deploy/helm/meshlock)
// render and apply, the pod is hardened (Pod Security restricted), the ServiceAccount has exactly the
// rights meshlock needs, the chart's the same as kustomize's, any namespace works.

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/prom"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/testbed"
)

// What deploy/ installs: meshlock's ServiceAccount in the namespace meshlock.
const (
	deployNS = "meshlock"
	deploySA = "system:serviceaccount:" + deployNS + ":meshlock"
	// The server's own shutdown deadline after SIGTERM (cmd/server/main.go).
	deployServerShutdown = 10
)

// deployGroups are the groups a ServiceAccount's token carries, so that a
// grant to any of them is seen too.
var deployGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + deployNS, "system:authenticated"}

// TestDeployOnRealCluster renders deploy/ and deploy/enforce with kustomize,
// applies them to the test bed's kube-apiserver the way `kubectl apply -k`
// does (the enforce variant on top of the read-only one, an upgrade), and
// checks the objects, the pod's hardening and, with SubjectAccessReviews and
// rules reviews, that the ServiceAccount can do exactly what meshlock needs.
func TestDeployOnRealCluster(t *testing.T) {
	env := deployStart(t)
	root := testbed.RepoRoot(t)
	kustomize := deployVariant{namespaced: true, image: "meshlock:latest"}

	t.Run("base", func(t *testing.T) {
		env.install(t, "deploy/", deployRender(t, filepath.Join(root, "deploy")), kustomize)
	})
	t.Run("enforce", func(t *testing.T) {
		env.install(t, "deploy/enforce", deployRender(t, filepath.Join(root, "deploy", "enforce")), kustomize.withEnforce())
	})
}

// deployVariant is what an installation of meshlock should look like.
type deployVariant struct {
	enforce    bool
	namespaced bool   // the rendering installs the Namespace meshlock (kustomize's deploy/ and deploy/enforce)
	image      string // the container's image
}

func (v deployVariant) withEnforce() deployVariant {
	v.enforce = true
	return v
}

// deployEnv is a test bed cluster and clients of it that collect the API
// server's warnings.
type deployEnv struct {
	cluster  *testbed.Cluster
	cfg      *rest.Config
	kube     kubernetes.Interface
	warnings *deployWarnings
}

func deployStart(t *testing.T) *deployEnv {
	t.Helper()
	cluster := testbed.StartCluster(t)
	warnings := &deployWarnings{}
	cfg := rest.CopyConfig(cluster.RESTConfig)
	cfg.WarningHandler = warnings
	return &deployEnv{cluster: cluster, cfg: cfg, kube: kubernetes.NewForConfigOrDie(cfg), warnings: warnings}
}

// install applies a rendering (what names it: deploy/, the chart with its
// values) and checks the objects, the workload, its Pod Security and the
// ServiceAccount's rights, the same for kustomize and Helm: exactly what
// meshlock needs, read-only or with enforce.
func (env *deployEnv) install(t *testing.T, what string, objs []*unstructured.Unstructured, want deployVariant) {
	t.Helper()
	deployApply(t, env.cfg, objs)
	if w := env.warnings.take(); len(w) > 0 {
		t.Errorf("applying %s drew warnings: %q", what, w)
	}
	deployCheckObjects(t, objs, want)
	dep := deployCheckWorkload(t, env.kube, want)
	deployCheckPodSecurity(t, env.kube, dep)

	if !want.enforce {
		deployWaitAllowed(t, env.kube, deployAccess{"", "", "pods", "list", true})
		deployCheckAccess(t, env.kube, deployViewAccess())
		deployCheckNamedAccess(t, env.kube, deployRootBundleAccess())
		deployCheckRootBundleRequests(t, env.cluster)
		deployCheckRules(t, env.cluster, deployNS, deployViewRules())
		deployCheckRules(t, env.cluster, "default", deployViewRules())
		return
	}
	deployWaitAllowed(t, env.kube, deployAccess{"default", "networking.istio.io", "destinationrules", "patch", true})
	deployWaitAllowed(t, env.kube, deployAccess{deployNS, "", "configmaps", "create", true})
	deployCheckAccess(t, env.kube, deployEnforceAccess())
	// The root bundles stay readable by name only, the enforce variant's
	// ConfigMap rights being its own namespace's.
	deployCheckNamedAccess(t, env.kube, deployRootBundleAccess())
	deployCheckRules(t, env.cluster, deployNS, deployEnforceRules(true))
	deployCheckRules(t, env.cluster, "default", deployEnforceRules(false))
}

// deployViewAccess: what read-only meshlock may and may not do.
func deployViewAccess() []deployAccess {
	return []deployAccess{
		{"", "", "pods", "list", true},
		{"", "", "pods", "watch", true},
		{"default", "", "services", "get", true},
		{"", "", "services", "watch", true},
		{"", "", "namespaces", "list", true},
		{"", "networking.istio.io", "destinationrules", "list", true},
		{"default", "networking.istio.io", "destinationrules", "watch", true},
		{"", "security.istio.io", "peerauthentications", "list", true},
		{"", "security.istio.io", "authorizationpolicies", "watch", true},
		{"", "authentication.k8s.io", "tokenreviews", "create", true},
		{"", "authorization.k8s.io", "subjectaccessreviews", "create", true},

		{"default", "networking.istio.io", "destinationrules", "create", false},
		{"default", "networking.istio.io", "destinationrules", "patch", false},
		{"default", "networking.istio.io", "destinationrules", "delete", false},
		{"default", "security.istio.io", "peerauthentications", "create", false},
		{"istio-system", "security.istio.io", "peerauthentications", "patch", false},
		{"default", "security.istio.io", "authorizationpolicies", "create", false},
		{deployNS, "", "configmaps", "create", false},
		{deployNS, "", "configmaps", "list", false},
		{"default", "events.k8s.io", "events", "create", false},
		{deployNS, "", "secrets", "get", false},
		{"default", "", "pods", "delete", false},
	}
}

// deployEnforceAccess: what meshlock with enforce may and may not do.
func deployEnforceAccess() []deployAccess {
	return []deployAccess{
		{"default", "networking.istio.io", "destinationrules", "patch", true},
		{"default", "networking.istio.io", "destinationrules", "create", true},
		{"default", "networking.istio.io", "destinationrules", "update", true},
		{"default", "networking.istio.io", "destinationrules", "delete", true},
		{"istio-system", "security.istio.io", "peerauthentications", "create", true},
		{"default", "security.istio.io", "peerauthentications", "patch", true},
		{"default", "security.istio.io", "peerauthentications", "delete", true},
		// Mode authorization (issue 25).
		{"default", "security.istio.io", "authorizationpolicies", "create", true},
		{"default", "security.istio.io", "authorizationpolicies", "patch", true},
		{"default", "security.istio.io", "authorizationpolicies", "delete", true},
		{"default", "events.k8s.io", "events", "create", true},
		{deployNS, "", "configmaps", "create", true},
		{deployNS, "", "configmaps", "get", true},
		{deployNS, "", "configmaps", "list", true},
		{deployNS, "", "configmaps", "update", true},
		// Still read-only where it was.
		{"", "", "pods", "list", true},
		{"", "authentication.k8s.io", "tokenreviews", "create", true},

		{"default", "", "configmaps", "create", false},
		{"default", "", "configmaps", "get", false},
		{deployNS, "", "configmaps", "delete", false},
		{"default", "", "pods", "delete", false},
		{"default", "", "secrets", "get", false},
		{deployNS, "", "secrets", "get", false},
		{"", "", "secrets", "list", false},
		{"default", "", "events", "create", false}, // core events: meshlock writes events.k8s.io ones
		{"default", "events.k8s.io", "events", "delete", false},
		{deployNS, "apps", "deployments", "patch", false},
		{deployNS, "rbac.authorization.k8s.io", "rolebindings", "create", false},
		{"", "", "users", "impersonate", false},
	}
}

// TestDeployRendersIntoAnyNamespace: the base and the enforce component are
// namespace-agnostic. An overlay of a user's own that names another namespace
// and image gets every object, and both bindings' ServiceAccount, there.
func TestDeployRendersIntoAnyNamespace(t *testing.T) {
	root := testbed.RepoRoot(t)
	dir := t.TempDir()
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	kustomization := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: tools
resources:
  - %s
components:
  - %s
images:
  - name: meshlock
    newName: registry.example/meshlock
    newTag: v1.2.3
`, rel("deploy/base"), rel("deploy/components/enforce"))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := deployRender(t, dir)
	var bindings int
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ClusterRole", "ClusterRoleBinding", "Namespace":
			if obj.GetNamespace() != "" {
				t.Errorf("%s %s: cluster-scoped but has namespace %q", obj.GetKind(), obj.GetName(), obj.GetNamespace())
			}
		default:
			if obj.GetNamespace() != "tools" {
				t.Errorf("%s %s: namespace %q, want tools", obj.GetKind(), obj.GetName(), obj.GetNamespace())
			}
		}
		if obj.GetKind() == "Namespace" {
			t.Errorf("the base installs a Namespace %s: only deploy/ and deploy/enforce should", obj.GetName())
		}
		if obj.GetKind() == "ClusterRoleBinding" || obj.GetKind() == "RoleBinding" {
			bindings++
			subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
			for _, s := range subjects {
				s := s.(map[string]any)
				if s["kind"] == "ServiceAccount" && s["namespace"] != "tools" {
					t.Errorf("%s %s binds ServiceAccount %v/%v, want tools/meshlock", obj.GetKind(), obj.GetName(), s["namespace"], s["name"])
				}
			}
		}
		if obj.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			if image := containers[0].(map[string]any)["image"]; image != "registry.example/meshlock:v1.2.3" {
				t.Errorf("image %v: the overlay's images entry did not apply", image)
			}
		}
	}
	if bindings != 3 {
		t.Errorf("%d bindings rendered, want 3 (view, enforce, audit)", bindings)
	}
}

// deployRender runs `kustomize build dir` and decodes every object.
func deployRender(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(testbed.Binary(t, "kustomize"), "build", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.String())
	}
	return deployDecode(t, "kustomize build "+dir, out)
}

// deployDecode decodes a rendering's objects (what names it), failing on none.
func deployDecode(t *testing.T, what string, out []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var m map[string]any
		if err := decoder.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: decoding its output: %v", what, err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	if len(objs) == 0 {
		t.Fatalf("%s rendered nothing", what)
	}
	return objs
}

// deployApply server-side applies every object, in kustomize's order (the
// Namespace first), as `kubectl apply --server-side -k` would, then reads
// each back.
func deployApply(t *testing.T, cfg *rest.Config, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := deployCtx(t)
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	for _, obj := range objs {
		ri := deployResource(t, dyn, mapper, obj)
		if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "meshlock-deploy-test", Force: true}); err != nil {
			t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	for _, obj := range objs {
		if _, err := deployResource(t, dyn, mapper, obj).Get(ctx, obj.GetName(), metav1.GetOptions{}); err != nil {
			t.Errorf("%s %s/%s after apply: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
}

func deployResource(t *testing.T, dyn dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s %s: %v", gvk, obj.GetName(), err)
	}
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		if obj.GetNamespace() != "" {
			t.Fatalf("%s %s is cluster-scoped but rendered with namespace %q", gvk.Kind, obj.GetName(), obj.GetNamespace())
		}
		return dyn.Resource(mapping.Resource)
	}
	if obj.GetNamespace() != deployNS {
		t.Fatalf("%s %s rendered into namespace %q, want %s", gvk.Kind, obj.GetName(), obj.GetNamespace(), deployNS)
	}
	return dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
}

// deployCheckObjects checks the set of rendered objects: the kinds a
// variant must have, and no others.
func deployCheckObjects(t *testing.T, objs []*unstructured.Unstructured, variant deployVariant) {
	t.Helper()
	var got []string
	for _, obj := range objs {
		got = append(got, obj.GetKind()+"/"+obj.GetName())
		if obj.GetLabels()["app.kubernetes.io/name"] != "meshlock" && obj.GetKind() != "Namespace" {
			t.Errorf("%s %s lacks the label app.kubernetes.io/name=meshlock", obj.GetKind(), obj.GetName())
		}
		if obj.GetKind() == "ClusterRoleBinding" || obj.GetKind() == "RoleBinding" {
			subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
			want := []any{map[string]any{"kind": "ServiceAccount", "name": "meshlock", "namespace": deployNS}}
			if fmt.Sprint(subjects) != fmt.Sprint(want) {
				t.Errorf("%s %s binds %v, want only %v", obj.GetKind(), obj.GetName(), subjects, want)
			}
		}
	}
	want := []string{
		"ClusterRole/meshlock-view", "ClusterRoleBinding/meshlock-view", "Deployment/meshlock",
		"Service/meshlock", "ServiceAccount/meshlock",
	}
	if variant.namespaced {
		want = append(want, "Namespace/meshlock")
	}
	if variant.enforce {
		want = append(want, "ClusterRole/meshlock-enforce", "ClusterRoleBinding/meshlock-enforce",
			"Role/meshlock-audit", "RoleBinding/meshlock-audit")
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("rendered objects:\n  %v\nwant:\n  %v", got, want)
	}
}

// deployCheckWorkload reads back the Deployment and Service and checks the
// hardening, probes, shutdown, scrape annotations and flags.
func deployCheckWorkload(t *testing.T, kube kubernetes.Interface, variant deployVariant) *appsv1.Deployment {
	t.Helper()
	ctx := deployCtx(t)
	dep, err := kube.AppsV1().Deployments(deployNS).Get(ctx, "meshlock", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := dep.Spec.Template.Spec
	if pod.ServiceAccountName != "meshlock" {
		t.Errorf("serviceAccountName %q, want meshlock", pod.ServiceAccountName)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		t.Fatal("the container has no securityContext")
	}

	// Effective values: the container's setting, else the pod's.
	nonRoot := deployFirst(csc.RunAsNonRoot, psc.RunAsNonRoot)
	if nonRoot == nil || !*nonRoot {
		t.Error("runAsNonRoot is not true")
	}
	if uid := deployFirst(csc.RunAsUser, psc.RunAsUser); uid == nil || *uid == 0 {
		t.Errorf("runAsUser %v: want a non-zero UID, so that runAsNonRoot holds whatever the image says", uid)
	}
	seccomp := deployFirst(csc.SeccompProfile, psc.SeccompProfile)
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %+v, want RuntimeDefault", seccomp)
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if csc.Privileged != nil && *csc.Privileged {
		t.Error("privileged")
	}
	if csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and nothing added", csc.Capabilities)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("the pod shares a host namespace")
	}

	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("no %s request", r)
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
		t.Error("no memory limit")
	} else if q.Cmp(c.Resources.Requests[corev1.ResourceMemory]) < 0 {
		t.Errorf("memory limit %s below the request", q.String())
	}

	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "http" {
			port = &c.Ports[i]
		}
	}
	if port == nil || port.ContainerPort != 8080 {
		t.Fatalf("container ports %+v, want http on 8080", c.Ports)
	}
	if !slices.Contains(c.Args, "--addr=:8080") {
		t.Errorf("args %q: want --addr=:8080, the port the probes and Service use", c.Args)
	}
	deployCheckProbe(t, "liveness", c.LivenessProbe, "/healthz", *port)
	deployCheckProbe(t, "readiness", c.ReadinessProbe, "/readyz", *port)

	// Graceful shutdown: the preStop pause plus the server's own drain fit in the grace period.
	grace := int64(30)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if pod.TerminationGracePeriodSeconds == nil || grace <= preStop+deployServerShutdown {
		t.Errorf("terminationGracePeriodSeconds %d: want it set, above preStop %ds + the server's %ds drain", grace, preStop, deployServerShutdown)
	}

	ann := dep.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "8080" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v: want prometheus.io/scrape=true, port=8080, path=/metrics", ann)
	}

	if c.Image != variant.image {
		t.Errorf("image %q, want %s", c.Image, variant.image)
	}
	if got := slices.Contains(c.Args, "--allow-enforce"); got != variant.enforce {
		t.Errorf("args %q: --allow-enforce present %v, want %v", c.Args, got, variant.enforce)
	}

	svc, err := kube.CoreV1().Services(deployNS).Get(ctx, "meshlock", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 8080 ||
		(svc.Spec.Ports[0].TargetPort != intstr.FromString("http") && svc.Spec.Ports[0].TargetPort != intstr.FromInt32(8080)) {
		t.Errorf("service ports %+v, want http 8080 to the container's http port", svc.Spec.Ports)
	}
	if len(svc.Spec.Selector) == 0 {
		t.Error("the Service selects nothing")
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pods do not carry", k, v)
		}
	}
	return dep
}

func deployCheckProbe(t *testing.T, what string, p *corev1.Probe, path string, port corev1.ContainerPort) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("no %s HTTP probe", what)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s probe path %q, want %s", what, p.HTTPGet.Path, path)
	}
	if p.HTTPGet.Port != intstr.FromString(port.Name) && p.HTTPGet.Port != intstr.FromInt32(port.ContainerPort) {
		t.Errorf("%s probe port %s, want %s", what, p.HTTPGet.Port.String(), port.Name)
	}
}

// deployCheckPodSecurity has the kube-apiserver's Pod Security admission
// judge the pod the Deployment would make: a server-side dry run of it in
// meshlock's namespace set to enforce the restricted standard. A pod without
// the hardening is refused there, which shows the check bites.
func deployCheckPodSecurity(t *testing.T, kube kubernetes.Interface, dep *appsv1.Deployment) {
	t.Helper()
	ctx := deployCtx(t)
	patch := []byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted","pod-security.kubernetes.io/enforce-version":"latest"}}}`)
	if _, err := kube.CoreV1().Namespaces().Patch(ctx, deployNS, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "meshlock-", Namespace: deployNS, Labels: dep.Spec.Template.Labels},
		Spec:       *dep.Spec.Template.Spec.DeepCopy(),
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	if _, err := kube.CoreV1().Pods(deployNS).Create(ctx, pod, dry); err != nil {
		t.Errorf("meshlock's pod does not pass the restricted Pod Security Standard: %v", err)
	}
	weak := pod.DeepCopy()
	weak.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	weak.Spec.Containers[0].SecurityContext.Capabilities = nil
	if _, err := kube.CoreV1().Pods(deployNS).Create(ctx, weak, dry); !apierrors.IsForbidden(err) {
		t.Errorf("a pod without the hardening was not refused (%v): the Pod Security check proves nothing", err)
	}
}

// deployAccess is one question to the authorizer about meshlock's
// ServiceAccount, and the answer wanted.
type deployAccess struct {
	namespace, group, resource, verb string
	allowed                          bool
}

func (a deployAccess) String() string {
	where := "cluster-wide"
	if a.namespace != "" {
		where = "in " + a.namespace
	}
	return deployRule(a.verb, a.resource, a.group) + " " + where
}

func deployCan(t *testing.T, kube kubernetes.Interface, a deployAccess) (bool, string) {
	t.Helper()
	return deployCanNamed(t, kube, deployNamedAccess{deployAccess: a})
}

// deployNamedAccess is a deployAccess about one object by its name, as
// RBAC's resourceNames see it: for a list or watch, the name the API server
// takes from a metadata.name field selector.
type deployNamedAccess struct {
	deployAccess
	name string
}

func (a deployNamedAccess) String() string {
	if a.name == "" {
		return a.deployAccess.String()
	}
	return a.deployAccess.String() + " named " + a.name
}

func deployCanNamed(t *testing.T, kube kubernetes.Interface, a deployNamedAccess) (bool, string) {
	t.Helper()
	review, err := kube.AuthorizationV1().SubjectAccessReviews().Create(deployCtx(t), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   deploySA,
			Groups: deployGroups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.namespace, Group: a.group, Resource: a.resource, Verb: a.verb, Name: a.name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview %s: %v", a, err)
	}
	return review.Status.Allowed, review.Status.Reason
}

func deployCheckNamedAccess(t *testing.T, kube kubernetes.Interface, checks []deployNamedAccess) {
	t.Helper()
	for _, a := range checks {
		if got, reason := deployCanNamed(t, kube, a); got != a.allowed {
			t.Errorf("%s may %s: allowed %v, want %v (%s)", deploySA, a, got, a.allowed, reason)
		}
	}
}

// deployRootBundleAccess: Istio's root bundles (ConfigMap istio-ca-root-cert)
// may be read by name, in any namespace and listed and watched across all of
// them; no other ConfigMap may be listed, watched or read (the mesh config is
// get only), and no Secret at all, whatever its name.
func deployRootBundleAccess() []deployNamedAccess {
	const bundle = "istio-ca-root-cert"
	named := func(namespace, resource, verb, name string, allowed bool) deployNamedAccess {
		return deployNamedAccess{deployAccess{namespace, "", resource, verb, allowed}, name}
	}
	return []deployNamedAccess{
		named("default", "configmaps", "list", bundle, true),
		named("default", "configmaps", "watch", bundle, true),
		named("", "configmaps", "list", bundle, true),
		named("", "configmaps", "watch", bundle, true),
		named("istio-system", "configmaps", "get", bundle, true),

		named("default", "configmaps", "list", "", false),
		named("default", "configmaps", "watch", "", false),
		named("", "configmaps", "list", "", false),
		named("", "configmaps", "watch", "", false),
		named("default", "configmaps", "get", "app-config", false),
		named("default", "configmaps", "list", "app-config", false),
		named("istio-system", "configmaps", "list", "istio", false),
		named("istio-system", "configmaps", "update", bundle, false),
		named("istio-system", "configmaps", "delete", bundle, false),

		named("", "secrets", "list", "", false),
		named("", "secrets", "watch", "", false),
		named("istio-system", "secrets", "get", "", false),
		named("istio-system", "secrets", "get", bundle, false),
		named("istio-system", "secrets", "get", "istio-ca-secret", false), // istiod's self-signed CA key
		named("istio-system", "secrets", "get", "cacerts", false),         // a plugged-in CA's key
		named("istio-system", "secrets", "list", "cacerts", false),
	}
}

// deployCheckRootBundleRequests makes, as meshlock's ServiceAccount, the
// requests its root bundle informers make: a list and a watch of ConfigMaps
// selected by metadata.name=istio-ca-root-cert, in one namespace and across
// all, are allowed; the same list without the selector is forbidden. This is
// the API server naming a list by its field selector, which the
// SubjectAccessReviews above take on trust.
func deployCheckRootBundleRequests(t *testing.T, cluster *testbed.Cluster) {
	t.Helper()
	cfg := rest.CopyConfig(cluster.RESTConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: deploySA, Groups: deployGroups}
	kube := kubernetes.NewForConfigOrDie(cfg)
	selected := metav1.ListOptions{FieldSelector: "metadata.name=istio-ca-root-cert"}
	for _, namespace := range []string{"default", ""} {
		where := "across namespaces"
		if namespace != "" {
			where = "in " + namespace
		}
		testutil.Eventually(t, "meshlock to list root bundles "+where, func() (bool, string) {
			_, err := kube.CoreV1().ConfigMaps(namespace).List(deployCtx(t), selected)
			return err == nil, fmt.Sprint(err)
		})
		ctx, cancel := context.WithCancel(deployCtx(t))
		w, err := kube.CoreV1().ConfigMaps(namespace).Watch(ctx, selected)
		if err != nil {
			t.Errorf("meshlock cannot watch root bundles %s: %v", where, err)
		} else {
			w.Stop()
		}
		cancel()
		if _, err := kube.CoreV1().ConfigMaps(namespace).List(deployCtx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("meshlock listing every ConfigMap %s: %v, want forbidden", where, err)
		}
	}
}

// deployWaitAllowed waits until RBAC's caches see the new bindings.
func deployWaitAllowed(t *testing.T, kube kubernetes.Interface, a deployAccess) {
	t.Helper()
	testutil.Eventually(t, "RBAC allows meshlock to "+a.String(), func() (bool, string) {
		ok, reason := deployCan(t, kube, a)
		return ok, reason
	})
}

func deployCheckAccess(t *testing.T, kube kubernetes.Interface, checks []deployAccess) {
	t.Helper()
	for _, a := range checks {
		if got, reason := deployCan(t, kube, a); got != a.allowed {
			t.Errorf("%s may %s: allowed %v, want %v (%s)", deploySA, a, got, a.allowed, reason)
		}
	}
}

// deployCheckRules checks that meshlock's rights in namespace are exactly
// want beyond what every ServiceAccount has: a rules review as meshlock,
// minus one as a ServiceAccount with no binding of its own.
func deployCheckRules(t *testing.T, cluster *testbed.Cluster, namespace string, want []string) {
	t.Helper()
	baseline := deployRules(t, cluster, "system:serviceaccount:"+deployNS+":nobody", namespace)
	var got []string
	for rule := range deployRules(t, cluster, deploySA, namespace) {
		if !baseline[rule] {
			got = append(got, rule)
		}
	}
	var extra, missing []string
	for _, rule := range got {
		if !slices.Contains(want, rule) {
			extra = append(extra, rule)
		}
	}
	for _, rule := range want {
		if !slices.Contains(got, rule) {
			missing = append(missing, rule)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 || len(missing) > 0 {
		t.Errorf("meshlock's rights in %s beyond any ServiceAccount's: %d more than wanted %q, %d missing %q", namespace, len(extra), extra, len(missing), missing)
	}
}

// deployRules asks, as user (impersonated), for its rules in namespace,
// flattened to deployRule strings.
func deployRules(t *testing.T, cluster *testbed.Cluster, user, namespace string) map[string]bool {
	t.Helper()
	cfg := rest.CopyConfig(cluster.RESTConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: deployGroups}
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthorizationV1().SelfSubjectRulesReviews().Create(deployCtx(t),
		&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("rules review for %s in %s: %v", user, namespace, err)
	}
	if review.Status.Incomplete {
		t.Fatalf("rules review for %s in %s is incomplete: %s", user, namespace, review.Status.EvaluationError)
	}
	rules := map[string]bool{}
	for _, r := range review.Status.ResourceRules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					rule := deployRule(v, res, g)
					if len(r.ResourceNames) > 0 {
						rule += " " + fmt.Sprint(r.ResourceNames)
					}
					rules[rule] = true
				}
			}
		}
	}
	return rules
}

// deployRule spells a right as "verb resource[.group]".
func deployRule(verb, resource, group string) string {
	if group != "" {
		resource += "." + group
	}
	return verb + " " + resource
}

func deployRulesFor(group string, resources []string, verbs ...string) []string {
	var out []string
	for _, res := range resources {
		for _, v := range verbs {
			out = append(out, deployRule(v, res, group))
		}
	}
	return out
}

// deployViewRules: deploy/base's ClusterRole, meshlock-view.
func deployViewRules() []string {
	return slices.Concat(
		deployRulesFor("", []string{"services", "pods", "namespaces"}, "get", "list", "watch"),
		deployRulesFor("networking.istio.io", []string{"destinationrules"}, "get", "list", "watch"),
		deployRulesFor("security.istio.io", []string{"peerauthentications"}, "get", "list", "watch"),
		deployRulesFor("security.istio.io", []string{"authorizationpolicies"}, "get", "list", "watch"),
		deployRulesFor("authentication.k8s.io", []string{"tokenreviews"}, "create"),
		deployRulesFor("authorization.k8s.io", []string{"subjectaccessreviews"}, "create"),
		[]string{deployRule("get", "configmaps", "") + " [istio]"},
		[]string{
			deployRule("get", "configmaps", "") + " [istio-ca-root-cert]",
			deployRule("list", "configmaps", "") + " [istio-ca-root-cert]",
			deployRule("watch", "configmaps", "") + " [istio-ca-root-cert]",
		},
	)
}

// deployEnforceRules: the view rules plus deploy/enforce's, the audit
// trail's ConfigMaps only in meshlock's own namespace.
func deployEnforceRules(ownNamespace bool) []string {
	rules := slices.Concat(deployViewRules(),
		deployRulesFor("networking.istio.io", []string{"destinationrules"}, "create", "update", "patch", "delete"),
		deployRulesFor("security.istio.io", []string{"peerauthentications", "authorizationpolicies"}, "create", "update", "patch", "delete"),
		deployRulesFor("events.k8s.io", []string{"events"}, "create"),
	)
	if ownNamespace {
		rules = append(rules, deployRulesFor("", []string{"configmaps"}, "get", "list", "create", "update")...)
	}
	return rules
}

func deployCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deployFirst returns the first non-nil pointer.
func deployFirst[T any](ptrs ...*T) *T {
	for _, p := range ptrs {
		if p != nil {
			return p
		}
	}
	return nil
}

// deployWarnings collects the API server's warnings (deprecated fields,
// Pod Security), which a clean manifest draws none of.
type deployWarnings struct {
	mu   sync.Mutex
	list []string
}

func (w *deployWarnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *deployWarnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// The Helm chart, deploy/helm/meshlock: the same installation as the
// kustomize tree, rendered with `helm template` by the helm the test bed
// builds (test/tools/helm).

const deployChart = "deploy/helm/meshlock"

// TestDeployHelmOnRealCluster renders the chart with its default values and
// with enforce.enabled=true, applies each to the test bed's kube-apiserver as
// it does kustomize's (the enforce rendering on top, an upgrade), into the
// namespace meshlock made first (as `helm install --create-namespace` does),
// and holds it to the same checks: the objects, the workload, Pod Security
// and, with the same SubjectAccessReviews and rules reviews, exactly the
// rights kustomize's deploy/ and deploy/enforce grant.
func TestDeployHelmOnRealCluster(t *testing.T) {
	env := deployStart(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: deployNS}}
	if _, err := env.kube.CoreV1().Namespaces().Create(deployCtx(t), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	chart := deployVariant{image: "meshlock:" + deployChartAppVersion(t)}

	t.Run("default", func(t *testing.T) {
		env.install(t, "the chart", deployHelmRender(t, "meshlock", deployNS, ""), chart)
	})
	t.Run("enforce", func(t *testing.T) {
		objs := deployHelmRender(t, "meshlock", deployNS, "enforce: {enabled: true}")
		env.install(t, "the chart with enforce.enabled", objs, chart.withEnforce())
	})
}

// TestDeployHelmMatchesKustomize compares the renderings object by object:
// the chart's defaults against deploy/, enforce.enabled=true against
// deploy/enforce. The same objects (but the Namespace, which Helm leaves to
// --create-namespace), the same RBAC rules and bindings, and a Deployment
// with the same pod and container security contexts, probes, env (GOMEMLIMIT,
// GOGC, MESHLOCK_ALLOWED_HOSTS), ports, resources, preStop and grace period,
// scrape annotations and flags, the chart spelling out two of the binary's
// defaults (--auth, --prometheus-url).
func TestDeployHelmMatchesKustomize(t *testing.T) {
	root := testbed.RepoRoot(t)
	for _, tc := range []struct{ kustomize, values string }{
		{"deploy", ""},
		{"deploy/enforce", "enforce: {enabled: true}"},
	} {
		t.Run(tc.kustomize, func(t *testing.T) {
			kust := deployByName(deployRender(t, filepath.Join(root, tc.kustomize)))
			chart := deployByName(deployHelmRender(t, "meshlock", deployNS, tc.values))
			delete(kust, "Namespace/meshlock")
			if got, want := slices.Sorted(maps.Keys(chart)), slices.Sorted(maps.Keys(kust)); !slices.Equal(got, want) {
				t.Fatalf("the chart renders %v, kustomize %v", got, want)
			}
			for key, k := range kust {
				h := chart[key]
				switch k.GetKind() {
				case "ClusterRole", "Role":
					deploySame(t, key+" rules", deployField(t, h, "rules"), deployField(t, k, "rules"))
				case "ClusterRoleBinding", "RoleBinding":
					deploySame(t, key+" roleRef", deployField(t, h, "roleRef"), deployField(t, k, "roleRef"))
					deploySame(t, key+" subjects", deployField(t, h, "subjects"), deployField(t, k, "subjects"))
				case "Service":
					var hs, ks corev1.Service
					deployConvert(t, h, &hs)
					deployConvert(t, k, &ks)
					deploySame(t, key+" ports", hs.Spec.Ports, ks.Spec.Ports)
				case "Deployment":
					deployCompareDeployments(t, h, k)
				}
			}
		})
	}
}

// deployCompareDeployments holds the chart's Deployment to kustomize's.
func deployCompareDeployments(t *testing.T, chartObj, kustObj *unstructured.Unstructured) {
	t.Helper()
	var h, k appsv1.Deployment
	deployConvert(t, chartObj, &h)
	deployConvert(t, kustObj, &k)
	hp, kp := h.Spec.Template.Spec, k.Spec.Template.Spec
	if len(hp.Containers) != 1 || len(kp.Containers) != 1 {
		t.Fatalf("containers: the chart's %d, kustomize's %d, want 1", len(hp.Containers), len(kp.Containers))
	}
	hc, kc := hp.Containers[0], kp.Containers[0]
	deploySame(t, "replicas", h.Spec.Replicas, k.Spec.Replicas)
	deploySame(t, "the pod's securityContext", hp.SecurityContext, kp.SecurityContext)
	deploySame(t, "serviceAccountName", hp.ServiceAccountName, kp.ServiceAccountName)
	deploySame(t, "enableServiceLinks", hp.EnableServiceLinks, kp.EnableServiceLinks)
	deploySame(t, "terminationGracePeriodSeconds", hp.TerminationGracePeriodSeconds, kp.TerminationGracePeriodSeconds)
	deploySame(t, "the pod's annotations", h.Spec.Template.Annotations, k.Spec.Template.Annotations)
	deploySame(t, "container name", hc.Name, kc.Name)
	deploySame(t, "the container's securityContext", hc.SecurityContext, kc.SecurityContext)
	deploySame(t, "livenessProbe", hc.LivenessProbe, kc.LivenessProbe)
	deploySame(t, "readinessProbe", hc.ReadinessProbe, kc.ReadinessProbe)
	deploySame(t, "env", hc.Env, kc.Env)
	deploySame(t, "ports", hc.Ports, kc.Ports)
	deploySame(t, "resources", hc.Resources, kc.Resources)
	deploySame(t, "lifecycle", hc.Lifecycle, kc.Lifecycle)
	// The chart's flags: kustomize's, and the binary's defaults for the values auth.mode and prometheus.url.
	var extra []string
	for _, a := range hc.Args {
		if !slices.Contains(kc.Args, a) {
			extra = append(extra, a)
		}
	}
	for _, a := range kc.Args {
		if !slices.Contains(hc.Args, a) {
			t.Errorf("the chart's args %q lack kustomize's %s", hc.Args, a)
		}
	}
	if want := []string{"--auth=none", "--prometheus-url=http://prometheus.istio-system:9090"}; !slices.Equal(extra, want) {
		t.Errorf("the chart's args %q: beyond kustomize's %q, want only %q", hc.Args, kc.Args, want)
	}
	// The selector: kustomize's app.kubernetes.io/name, and the release.
	for key, v := range k.Spec.Selector.MatchLabels {
		if h.Spec.Selector.MatchLabels[key] != v {
			t.Errorf("the chart's selector %v lacks kustomize's %s=%s", h.Spec.Selector.MatchLabels, key, v)
		}
	}
}

// TestDeployHelmValues renders the chart with every value changed, as
// release dash in namespace tools, and checks each lands where it should;
// then that values.schema.json refuses what the server would not take.
func TestDeployHelmValues(t *testing.T) {
	values := `
image: {repository: registry.example/meshlock, tag: v1.2.3, pullPolicy: IfNotPresent}
imagePullSecrets: [{name: regcred}]
replicaCount: 2
prometheus: {url: "http://thanos-query.monitoring:9090", historyUrl: "http://prometheus-longterm.monitoring:9090"}
auth: {mode: token}
namespaces: [bookinfo, shop]
enforce: {enabled: true}
extraArgs: [--refresh=10s, --lookback=7d]
resources: {limits: {memory: 1Gi}}
goMemLimit: 920MiB
goGC: "50"
service: {port: 80}
podAnnotations: {team: mesh}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: mesh, effect: NoSchedule}]
affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}]}]}}}
`
	objs := deployHelmRender(t, "dash", "tools", values)
	byName := deployByName(objs)
	var names []string
	for key, obj := range byName {
		names = append(names, key)
		switch obj.GetKind() {
		case "ClusterRole", "ClusterRoleBinding":
			if obj.GetNamespace() != "" {
				t.Errorf("%s: cluster-scoped but has namespace %q", key, obj.GetNamespace())
			}
		default:
			if obj.GetNamespace() != "tools" {
				t.Errorf("%s: namespace %q, want tools", key, obj.GetNamespace())
			}
		}
		if obj.GetKind() == "ClusterRoleBinding" || obj.GetKind() == "RoleBinding" {
			want := []any{map[string]any{"kind": "ServiceAccount", "name": "dash-meshlock", "namespace": "tools"}}
			deploySame(t, key+" subjects", deployField(t, obj, "subjects"), want)
		}
		if obj.GetLabels()["app.kubernetes.io/instance"] != "dash" {
			t.Errorf("%s: labels %v, want app.kubernetes.io/instance=dash", key, obj.GetLabels())
		}
	}
	sort.Strings(names)
	want := []string{
		"ClusterRole/dash-meshlock-enforce", "ClusterRole/dash-meshlock-view",
		"ClusterRoleBinding/dash-meshlock-enforce", "ClusterRoleBinding/dash-meshlock-view",
		"Deployment/dash-meshlock", "Role/dash-meshlock-audit", "RoleBinding/dash-meshlock-audit",
		"Service/dash-meshlock", "ServiceAccount/dash-meshlock",
	}
	if !slices.Equal(names, want) {
		t.Errorf("rendered %v, want %v", names, want)
	}
	deploySame(t, "the enforce binding's role", deployField(t, byName["ClusterRoleBinding/dash-meshlock-enforce"], "roleRef", "name"), "dash-meshlock-enforce")

	var dep appsv1.Deployment
	deployConvert(t, byName["Deployment/dash-meshlock"], &dep)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	deploySame(t, "replicas", *dep.Spec.Replicas, int32(2))
	deploySame(t, "serviceAccountName", pod.ServiceAccountName, "dash-meshlock")
	deploySame(t, "image", c.Image, "registry.example/meshlock:v1.2.3")
	deploySame(t, "imagePullPolicy", c.ImagePullPolicy, corev1.PullIfNotPresent)
	deploySame(t, "imagePullSecrets", pod.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}})
	deploySame(t, "args", c.Args, []string{
		"--addr=:8080", "--log-format=json", "--auth=token", "--prometheus-url=http://thanos-query.monitoring:9090",
		"--history-prometheus-url=http://prometheus-longterm.monitoring:9090", "--namespaces=bookinfo,shop", "--allow-enforce", "--refresh=10s", "--lookback=7d",
	})
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["GOMEMLIMIT"] != "920MiB" || env["GOGC"] != "50" {
		t.Errorf("env %+v: want GOMEMLIMIT=920MiB, GOGC=50", c.Env)
	}
	// A value given merges into the defaults: the memory limit changes, the rest stays.
	if q := c.Resources.Limits[corev1.ResourceMemory]; q.String() != "1Gi" {
		t.Errorf("memory limit %s, want 1Gi", q.String())
	}
	if q := c.Resources.Requests[corev1.ResourceMemory]; q.String() != "64Mi" {
		t.Errorf("memory request %s, want the default 64Mi", q.String())
	}
	ann := dep.Spec.Template.Annotations
	if ann["team"] != "mesh" || ann["prometheus.io/scrape"] != "true" {
		t.Errorf("pod annotations %v: want team=mesh beside prometheus.io/scrape=true", ann)
	}
	deploySame(t, "nodeSelector", pod.NodeSelector, map[string]string{"kubernetes.io/os": "linux"})
	deploySame(t, "tolerations", pod.Tolerations, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mesh", Effect: corev1.TaintEffectNoSchedule}})
	if pod.Affinity == nil || pod.Affinity.NodeAffinity == nil || pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		t.Errorf("affinity %+v: want the node affinity given", pod.Affinity)
	}
	var svc corev1.Service
	deployConvert(t, byName["Service/dash-meshlock"], &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort != intstr.FromString("http") {
		t.Errorf("service ports %+v, want http 80 to the container's http", svc.Spec.Ports)
	}

	t.Run("without Go runtime settings", func(t *testing.T) {
		objs := deployHelmRender(t, "meshlock", deployNS, `{goMemLimit: "", goGC: ""}`)
		var dep appsv1.Deployment
		deployConvert(t, deployByName(objs)["Deployment/meshlock"], &dep)
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if strings.HasPrefix(e.Name, "GO") {
				t.Errorf("env %s=%s: goMemLimit and goGC empty should set none", e.Name, e.Value)
			}
		}
	})

	t.Run("several clusters", func(t *testing.T) {
		objs := deployHelmRender(t, "meshlock", deployNS, `{clusters: {kubeconfigSecret: meshlock-clusters, contexts: {west: kind-west, east: kind-east}}}`)
		var dep appsv1.Deployment
		deployConvert(t, deployByName(objs)["Deployment/meshlock"], &dep)
		pod := dep.Spec.Template.Spec
		c := pod.Containers[0]
		args := c.Args[len(c.Args)-3:]
		deploySame(t, "args", args, []string{"--kubeconfig=/etc/meshlock/clusters/kubeconfig", "--cluster=east=kind-east", "--cluster=west=kind-west"})
		deploySame(t, "mounts", c.VolumeMounts, []corev1.VolumeMount{{Name: "clusters", MountPath: "/etc/meshlock/clusters", ReadOnly: true}})
		if len(pod.Volumes) != 1 || pod.Volumes[0].Secret == nil || pod.Volumes[0].Secret.SecretName != "meshlock-clusters" ||
			len(pod.Volumes[0].Secret.Items) != 1 || pod.Volumes[0].Secret.Items[0].Key != "kubeconfig" {
			t.Errorf("volumes %+v, want the Secret meshlock-clusters' kubeconfig", pod.Volumes)
		}
		if out, err := deployHelmTemplate(t, "meshlock", deployNS, `{clusters: {contexts: {west: a, east: b}}}`); err == nil ||
			!strings.Contains(out, "clusters.kubeconfigSecret") {
			t.Errorf("contexts without the Secret: %v %s, want refused naming clusters.kubeconfigSecret", err, out)
		}
	})

	t.Run("Prometheus credentials", func(t *testing.T) {
		objs := deployHelmRender(t, "meshlock", deployNS, `{prometheus: {historyUrl: "https://mimir.example", credentials: `+
			`{secret: prom-creds, bearerTokenKey: token, historyBearerTokenKey: mimir-token, historyCaKey: ca.crt}}}`)
		var dep appsv1.Deployment
		deployConvert(t, deployByName(objs)["Deployment/meshlock"], &dep)
		pod := dep.Spec.Template.Spec
		c := pod.Containers[0]
		deploySame(t, "args", c.Args[3:8], []string{"--prometheus-url=http://prometheus.istio-system:9090", "--history-prometheus-url=https://mimir.example",
			"--prometheus-bearer-token-file=/etc/meshlock/prometheus/token",
			"--history-prometheus-bearer-token-file=/etc/meshlock/prometheus/mimir-token",
			"--history-prometheus-ca-file=/etc/meshlock/prometheus/ca.crt"})
		if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--prometheus-ca-file") }) {
			t.Errorf("args %v: --prometheus-ca-file without caKey", c.Args)
		}
		deploySame(t, "mounts", c.VolumeMounts, []corev1.VolumeMount{{Name: "prometheus-credentials", MountPath: "/etc/meshlock/prometheus", ReadOnly: true}})
		want := []corev1.Volume{{Name: "prometheus-credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "prom-creds", Items: []corev1.KeyToPath{{Key: "token", Path: "token"}, {Key: "mimir-token", Path: "mimir-token"}, {Key: "ca.crt", Path: "ca.crt"}}}}}}
		deploySame(t, "volumes", pod.Volumes, want)
		for _, tc := range []struct{ values, says string }{
			{`{prometheus: {credentials: {secret: prom-creds}}}`, "needs at least one of its keys"},
			{`{prometheus: {credentials: {caKey: ca.crt}}}`, "prometheus.credentials.secret"},
			{`{prometheus: {credentials: {secret: prom-creds, historyCaKey: ca.crt}}}`, "need prometheus.historyUrl"},
		} {
			if out, err := deployHelmTemplate(t, "meshlock", deployNS, tc.values); err == nil || !strings.Contains(out, tc.says) {
				t.Errorf("values %s: %v %s, want refused saying %q", tc.values, err, out, tc.says)
			}
		}
	})

	t.Run("refused by the schema", func(t *testing.T) {
		for _, tc := range []struct{ values, path string }{
			{"clusters: {kubeconfigSecret: kc, contexts: {west: kind-west}}", "/clusters/contexts"}, // one cluster: use the one meshlock runs in
			{"clusters: {kubeconfigSecret: kc, contexts: {we/st: a, east: b}}", "we/st"},            // no node id could hold it
			{"auth: {mode: basic}", "/auth/mode"},
			{"serviceMonitor: {enable: true}", "enable"},        // misspelt: refused, not ignored
			{"enforce: {enabled: \"yes\"}", "/enforce/enabled"}, // a string where a boolean belongs
			{"namespaces: bookinfo", "/namespaces"},             // a list, not a string
			{"metrics: {port: 8080}", "/metrics/port"},          // the dashboard's own port
			{"prometheus: {url: prometheus:9090}", "/prometheus/url"},
			{"prometheus: {historyUrl: longterm:9090}", "/prometheus/historyUrl"},
			{"prometheus: {credentials: {caKey: ../ca.crt}}", "/prometheus/credentials/caKey"}, // a key, not a path
			{"prometheus: {credentials: {token: t}}", "token"},
		} {
			out, err := deployHelmTemplate(t, "meshlock", deployNS, tc.values)
			if err == nil {
				t.Errorf("values %s: rendered, want refused", tc.values)
			} else if !strings.Contains(out, tc.path) {
				t.Errorf("values %s: refused without naming %s: %s", tc.values, tc.path, out)
			}
		}
	})
}

// TestDeployHelmServiceMonitor: serviceMonitor.enabled=true renders a
// ServiceMonitor (monitoring.coreos.com/v1) whose selector matches the
// chart's Service and whose endpoint names the Service's port that carries
// /metrics: http, or metrics with metrics.port set. Rendered only: the test
// bed runs no Prometheus Operator and has not its CRDs, so the API server
// would refuse a ServiceMonitor.
func TestDeployHelmServiceMonitor(t *testing.T) {
	for _, obj := range deployHelmRender(t, "meshlock", deployNS, "") {
		if obj.GetKind() == "ServiceMonitor" {
			t.Errorf("ServiceMonitor %s rendered by default: it needs the operator's CRDs", obj.GetName())
		}
	}
	for _, tc := range []struct {
		name, values, port string
		containerPort      int32
	}{
		{"on the dashboard's port", "serviceMonitor: {enabled: true, interval: 15s, labels: {release: kps}}", "http", 8080},
		{"on a metrics port", "serviceMonitor: {enabled: true, interval: 15s, labels: {release: kps}}\nmetrics: {port: 9090}", "metrics", 9090},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := deployHelmRender(t, "meshlock", deployNS, tc.values)
			var monitors, services []*unstructured.Unstructured
			var dep appsv1.Deployment
			for _, obj := range objs {
				switch obj.GetKind() {
				case "ServiceMonitor":
					monitors = append(monitors, obj)
				case "Service":
					services = append(services, obj)
				case "Deployment":
					deployConvert(t, obj, &dep)
				}
			}
			if len(monitors) != 1 || len(services) != 1 {
				t.Fatalf("%d ServiceMonitors and %d Services rendered, want one each", len(monitors), len(services))
			}
			sm := monitors[0]
			var svc corev1.Service
			deployConvert(t, services[0], &svc)
			if sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetNamespace() != deployNS {
				t.Errorf("ServiceMonitor %s in %q, want monitoring.coreos.com/v1 in %s", sm.GetAPIVersion(), sm.GetNamespace(), deployNS)
			}
			if sm.GetLabels()["release"] != "kps" || sm.GetLabels()["app.kubernetes.io/name"] != "meshlock" {
				t.Errorf("ServiceMonitor labels %v: want release=kps (serviceMonitor.labels) and app.kubernetes.io/name=meshlock", sm.GetLabels())
			}

			// The selector picks the chart's Service by its labels, in its namespace.
			var spec struct {
				Selector          metav1.LabelSelector `json:"selector"`
				NamespaceSelector struct {
					MatchNames []string `json:"matchNames"`
				} `json:"namespaceSelector"`
				Endpoints []struct {
					Port     string `json:"port"`
					Path     string `json:"path"`
					Interval string `json:"interval"`
				} `json:"endpoints"`
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deployField(t, sm, "spec").(map[string]any), &spec); err != nil {
				t.Fatal(err)
			}
			selector, err := metav1.LabelSelectorAsSelector(&spec.Selector)
			if err != nil || selector.Empty() {
				t.Fatalf("ServiceMonitor selector %+v: %v (empty: %v)", spec.Selector, err, selector.Empty())
			}
			if !selector.Matches(labels.Set(svc.Labels)) {
				t.Errorf("ServiceMonitor selector %s does not match the Service's labels %v", selector, svc.Labels)
			}
			deploySame(t, "namespaceSelector", spec.NamespaceSelector.MatchNames, []string{deployNS})

			// Its one endpoint names the Service's port whose target is the container's port serving /metrics.
			if len(spec.Endpoints) != 1 {
				t.Fatalf("ServiceMonitor endpoints %+v, want one", spec.Endpoints)
			}
			ep := spec.Endpoints[0]
			if ep.Port != tc.port || ep.Path != "/metrics" || ep.Interval != "15s" {
				t.Errorf("ServiceMonitor endpoint %+v, want port %s, path /metrics, interval 15s", ep, tc.port)
			}
			var svcPort *corev1.ServicePort
			for i := range svc.Spec.Ports {
				if svc.Spec.Ports[i].Name == ep.Port {
					svcPort = &svc.Spec.Ports[i]
				}
			}
			if svcPort == nil {
				t.Fatalf("the Service's ports %+v have none named %s, the ServiceMonitor's", svc.Spec.Ports, ep.Port)
			}
			c := dep.Spec.Template.Spec.Containers[0]
			var target *corev1.ContainerPort
			for i := range c.Ports {
				if intstr.FromString(c.Ports[i].Name) == svcPort.TargetPort {
					target = &c.Ports[i]
				}
			}
			if target == nil || target.ContainerPort != tc.containerPort {
				t.Errorf("the Service's port %s targets %s, want the container's port on %d (ports %+v)", svcPort.Name, svcPort.TargetPort.String(), tc.containerPort, c.Ports)
			}
			if got := dep.Spec.Template.Annotations["prometheus.io/port"]; got != fmt.Sprint(tc.containerPort) {
				t.Errorf("annotation prometheus.io/port %s, want %d", got, tc.containerPort)
			}
			metricsAddr := fmt.Sprintf("--metrics-addr=:%d", tc.containerPort)
			if got := slices.Contains(c.Args, metricsAddr); got != (tc.containerPort != 8080) {
				t.Errorf("args %q: %s present %v", c.Args, metricsAddr, got)
			}
		})
	}
}

// deployHelmRender runs `helm template release deploy/helm/meshlock
// --namespace namespace`, with valuesYAML as a values file when not empty,
// and decodes every object.
func deployHelmRender(t *testing.T, release, namespace, valuesYAML string) []*unstructured.Unstructured {
	t.Helper()
	out, err := deployHelmTemplate(t, release, namespace, valuesYAML)
	if err != nil {
		t.Fatalf("helm template %s with values %q: %v\n%s", deployChart, valuesYAML, err, out)
	}
	return deployDecode(t, "helm template "+deployChart, []byte(out))
}

// deployHelmTemplate runs helm template, answering its output (with its
// errors on failure). Helm's caches and configuration go to a temporary
// folder, its kubeconfig nowhere: rendering needs no cluster.
func deployHelmTemplate(t *testing.T, release, namespace, valuesYAML string) (string, error) {
	t.Helper()
	home := t.TempDir()
	args := []string{"template", release, filepath.Join(testbed.RepoRoot(t), deployChart), "--namespace", namespace}
	if valuesYAML != "" {
		file := filepath.Join(home, "values.yaml")
		if err := os.WriteFile(file, []byte(valuesYAML), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", file)
	}
	cmd := exec.Command(testbed.Binary(t, "helm"), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home,
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stderr.String(), err
	}
	return stdout.String(), nil
}

// deployChartAppVersion reads the chart's appVersion, its image tag by default.
func deployChartAppVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testbed.RepoRoot(t), deployChart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := sigsyaml.Unmarshal(data, &chart); err != nil || chart.AppVersion == "" {
		t.Fatalf("%s/Chart.yaml: appVersion %q, %v", deployChart, chart.AppVersion, err)
	}
	return chart.AppVersion
}

// deployByName indexes objects by Kind/name.
func deployByName(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, obj := range objs {
		out[obj.GetKind()+"/"+obj.GetName()] = obj
	}
	return out
}

// deployField is an object's field by its path, failing when absent.
func deployField(t *testing.T, obj *unstructured.Unstructured, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(obj.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s %s: no %s (%v)", obj.GetKind(), obj.GetName(), strings.Join(path, "."), err)
	}
	return v
}

// deployConvert decodes an object into its typed form.
func deployConvert(t *testing.T, obj *unstructured.Unstructured, into any) {
	t.Helper()
	if obj == nil {
		t.Fatal("no such object rendered")
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into); err != nil {
		t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
}

// deploySame fails when got and want differ (quantities compared by value).
func deploySame(t *testing.T, what string, got, want any) {
	t.Helper()
	if !equality.Semantic.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s:\n  the chart's %s\n  want        %s", what, g, w)
	}
}

// TestDeployHelmPrometheusRule: prometheusRule.enabled=true renders a
// PrometheusRule whose groups are meshlock's recording rules exactly (the
// chart's copy of deploy/prometheus/), with prometheusRule.labels for the
// operator's ruleSelector. Rendered only, as the ServiceMonitor is.
func TestDeployHelmPrometheusRule(t *testing.T) {
	for _, obj := range deployHelmRender(t, "meshlock", deployNS, "") {
		if obj.GetKind() == "PrometheusRule" {
			t.Errorf("PrometheusRule %s rendered by default: it needs the operator's CRDs", obj.GetName())
		}
	}
	var rules []*unstructured.Unstructured
	for _, obj := range deployHelmRender(t, "meshlock", deployNS, "prometheusRule: {enabled: true, labels: {release: kps}}") {
		if obj.GetKind() == "PrometheusRule" {
			rules = append(rules, obj)
		}
	}
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules rendered, want one", len(rules))
	}
	r := rules[0]
	if r.GetAPIVersion() != "monitoring.coreos.com/v1" || r.GetNamespace() != deployNS || r.GetLabels()["release"] != "kps" {
		t.Errorf("PrometheusRule %s in %q labelled %v", r.GetAPIVersion(), r.GetNamespace(), r.GetLabels())
	}
	var spec struct {
		Groups []prom.RuleGroup `json:"groups"`
	}
	deployConvert(t, &unstructured.Unstructured{Object: r.Object["spec"].(map[string]any)}, &spec)
	if !equality.Semantic.DeepEqual(spec.Groups, prom.RecordingRules()) {
		t.Errorf("the chart's rule groups %+v are not prom.RecordingRules(): run make docs", spec.Groups)
	}
}
