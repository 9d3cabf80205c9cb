// Tests of BuildCluster: workloads, Service membership, PeerAuthentication and DestinationRule
// resolution, policy problems, sorted output, and pod rules (data plane, workload name, sidecar).

package istio

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlock/meshlock/internal/graph"

	"github.com/meshlock/meshlock/internal/testutil"
)

// findService returns the Service namespace/name of c, failing the test if absent.
func findService(t *testing.T, c graph.Cluster, namespace, name string) graph.Service {
	t.Helper()
	for _, s := range c.Services {
		if s.Namespace == namespace && s.Name == name {
			return s
		}
	}
	t.Fatalf("service %s/%s not in cluster; services: %+v", namespace, name, c.Services)
	return graph.Service{}
}

func TestBuildClusterWorkloads(t *testing.T) {
	tests := []struct {
		name string
		pods []*corev1.Pod
		want []graph.Workload
	}{
		{
			name: "bare pod is its own workload",
			pods: []*corev1.Pod{testutil.Pod("default", "debug", testutil.WithServiceAccount("debugger"))},
			want: []graph.Workload{{Namespace: "default", Name: "debug", ServiceAccounts: []string{"debugger"}, Pods: []string{"debug"}}},
		},
		{
			name: "ReplicaSet pod with pod-template-hash is named after the Deployment",
			pods: []*corev1.Pod{testutil.Pod("default", "reviews-v1-7d9f8c-abcde", testutil.InDeployment("reviews-v1", "7d9f8c"), testutil.WithSidecar(), testutil.WithServiceAccount("bookinfo-reviews"))},
			want: []graph.Workload{{Namespace: "default", Name: "reviews-v1", ServiceAccounts: []string{"bookinfo-reviews"}, DataPlane: graph.DataPlaneSidecar, Pods: []string{"reviews-v1-7d9f8c-abcde"}}},
		},
		{
			name: "ReplicaSet pod without pod-template-hash keeps the ReplicaSet name",
			pods: []*corev1.Pod{testutil.Pod("default", "bare-rs-x1", testutil.OwnedBy("ReplicaSet", "bare-rs", true))},
			want: []graph.Workload{{Namespace: "default", Name: "bare-rs", Pods: []string{"bare-rs-x1"}}},
		},
		{
			name: "StatefulSet pod is named after the StatefulSet",
			pods: []*corev1.Pod{testutil.Pod("db", "mysql-0", testutil.OwnedBy("StatefulSet", "mysql", true), testutil.WithNativeSidecar())},
			want: []graph.Workload{{Namespace: "db", Name: "mysql", DataPlane: graph.DataPlaneSidecar, Pods: []string{"mysql-0"}}},
		},
		{
			name: "owner that is not the controller is ignored",
			pods: []*corev1.Pod{testutil.Pod("default", "loner", testutil.OwnedBy("ConfigMap", "cfg", false))},
			want: []graph.Workload{{Namespace: "default", Name: "loner", Pods: []string{"loner"}}},
		},
		{
			name: "sidecar as a regular container",
			pods: []*corev1.Pod{testutil.Pod("default", "a", testutil.WithSidecar())},
			want: []graph.Workload{{Namespace: "default", Name: "a", DataPlane: graph.DataPlaneSidecar, Pods: []string{"a"}}},
		},
		{
			name: "native sidecar as an init container",
			pods: []*corev1.Pod{testutil.Pod("default", "a", testutil.WithNativeSidecar())},
			want: []graph.Workload{{Namespace: "default", Name: "a", DataPlane: graph.DataPlaneSidecar, Pods: []string{"a"}}},
		},
		{
			name: "no sidecar",
			pods: []*corev1.Pod{testutil.Pod("default", "a")},
			want: []graph.Workload{{Namespace: "default", Name: "a", DataPlane: graph.DataPlaneNone, Pods: []string{"a"}}},
		},
		{
			name: "replicas of one Deployment are one workload, its pods sorted by name",
			pods: []*corev1.Pod{
				testutil.Pod("default", "ratings-v1-5f-ccccc", testutil.InDeployment("ratings-v1", "5f"), testutil.WithSidecar()),
				testutil.Pod("default", "ratings-v1-5f-aaaaa", testutil.InDeployment("ratings-v1", "5f"), testutil.WithSidecar()),
				testutil.Pod("default", "ratings-v1-5f-bbbbb", testutil.InDeployment("ratings-v1", "5f"), testutil.WithSidecar()),
			},
			want: []graph.Workload{{Namespace: "default", Name: "ratings-v1", DataPlane: graph.DataPlaneSidecar,
				Pods: []string{"ratings-v1-5f-aaaaa", "ratings-v1-5f-bbbbb", "ratings-v1-5f-ccccc"}}},
		},
		{
			name: "workload with a replica lacking the sidecar has no sidecar (that replica first)",
			pods: []*corev1.Pod{
				testutil.Pod("default", "web-1-a", testutil.InDeployment("web", "1")),
				testutil.Pod("default", "web-2-b", testutil.InDeployment("web", "2"), testutil.WithSidecar()),
			},
			want: []graph.Workload{{Namespace: "default", Name: "web", DataPlane: graph.DataPlaneNone, Pods: []string{"web-1-a", "web-2-b"}}},
		},
		{
			name: "workload with a replica lacking the sidecar has no sidecar (that replica last)",
			pods: []*corev1.Pod{
				testutil.Pod("default", "web-2-b", testutil.InDeployment("web", "2"), testutil.WithSidecar()),
				testutil.Pod("default", "web-1-a", testutil.InDeployment("web", "1")),
			},
			want: []graph.Workload{{Namespace: "default", Name: "web", DataPlane: graph.DataPlaneNone, Pods: []string{"web-1-a", "web-2-b"}}},
		},
		{
			name: "same workload name in two namespaces is two workloads",
			pods: []*corev1.Pod{testutil.Pod("b", "web"), testutil.Pod("a", "web")},
			want: []graph.Workload{{Namespace: "a", Name: "web", Pods: []string{"web"}}, {Namespace: "b", Name: "web", Pods: []string{"web"}}},
		},
		{
			name: "succeeded, failed and deleting pods are ignored, and are none of its pods",
			pods: []*corev1.Pod{
				testutil.Pod("default", "done", testutil.WithPhase(corev1.PodSucceeded)),
				testutil.Pod("default", "crashed", testutil.WithPhase(corev1.PodFailed)),
				testutil.Pod("default", "going", testutil.Deleting()),
				testutil.Pod("default", "pending", testutil.WithPhase(corev1.PodPending)),
				testutil.Pod("default", "web-1-a", testutil.InDeployment("web", "1")),
				testutil.Pod("default", "web-1-b", testutil.InDeployment("web", "1"), testutil.WithPhase(corev1.PodFailed)),
				testutil.Pod("default", "web-1-c", testutil.InDeployment("web", "1"), testutil.Deleting()),
			},
			want: []graph.Workload{{Namespace: "default", Name: "pending", Pods: []string{"pending"}}, {Namespace: "default", Name: "web", Pods: []string{"web-1-a"}}},
		},
		{
			name: "sorted by namespace then name",
			pods: []*corev1.Pod{
				testutil.Pod("z", "b"), testutil.Pod("a", "z"), testutil.Pod("z", "a"), testutil.Pod("a", "b"),
			},
			want: []graph.Workload{{Namespace: "a", Name: "b", Pods: []string{"b"}}, {Namespace: "a", Name: "z", Pods: []string{"z"}}, {Namespace: "z", Name: "a", Pods: []string{"a"}}, {Namespace: "z", Name: "b", Pods: []string{"b"}}},
		},
		{
			name: "no pods, no workloads",
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BuildCluster(Objects{Pods: tc.pods}, DefaultRootNamespace).Workloads
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			for i := range tc.want {
				if tc.want[i].ServiceAccounts == nil {
					tc.want[i].ServiceAccounts = []string{"default"} // what the API server assigns
				}
				if tc.want[i].DataPlane == "" {
					tc.want[i].DataPlane = graph.DataPlaneNone
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("workloads\n got: %+v\nwant: %+v", got, tc.want)
			}
		})
	}
}

func TestBuildClusterServiceMembership(t *testing.T) {
	app := testutil.Labels("app", "reviews")
	tests := []struct {
		name             string
		svc              *corev1.Service
		pods             []*corev1.Pod
		wantWorkloads    []string
		wantInMesh       bool
		wantPartlyInMesh bool
	}{
		{
			name: "every selected pod has a sidecar",
			svc:  testutil.Service("default", "reviews", app),
			pods: []*corev1.Pod{
				testutil.Pod("default", "reviews-v1-1-a", testutil.WithLabels("app", "reviews"), testutil.InDeployment("reviews-v1", "1"), testutil.WithSidecar()),
				testutil.Pod("default", "reviews-v2-2-a", testutil.WithLabels("app", "reviews"), testutil.InDeployment("reviews-v2", "2"), testutil.WithNativeSidecar()),
			},
			wantWorkloads: []string{"reviews-v1", "reviews-v2"},
			wantInMesh:    true,
		},
		{
			name: "some selected pods have a sidecar",
			svc:  testutil.Service("default", "reviews", app),
			pods: []*corev1.Pod{
				testutil.Pod("default", "reviews-v1-1-a", testutil.WithLabels("app", "reviews"), testutil.InDeployment("reviews-v1", "1"), testutil.WithSidecar()),
				testutil.Pod("default", "reviews-v2-2-a", testutil.WithLabels("app", "reviews"), testutil.InDeployment("reviews-v2", "2")),
			},
			wantWorkloads:    []string{"reviews-v1", "reviews-v2"},
			wantPartlyInMesh: true,
		},
		{
			name: "one replica of a workload without sidecar makes it partly in mesh",
			svc:  testutil.Service("default", "reviews", app),
			pods: []*corev1.Pod{
				testutil.Pod("default", "reviews-v1-1-a", testutil.WithLabels("app", "reviews"), testutil.InDeployment("reviews-v1", "1"), testutil.WithSidecar()),
				testutil.Pod("default", "reviews-v1-1-b", testutil.WithLabels("app", "reviews"), testutil.InDeployment("reviews-v1", "1")),
			},
			wantWorkloads:    []string{"reviews-v1"},
			wantPartlyInMesh: true,
		},
		{
			name: "no selected pod has a sidecar",
			svc:  testutil.Service("default", "reviews", app),
			pods: []*corev1.Pod{
				testutil.Pod("default", "reviews-v1-1-a", testutil.WithLabels("app", "reviews"), testutil.InDeployment("reviews-v1", "1")),
			},
			wantWorkloads: []string{"reviews-v1"},
		},
		{
			name: "no selector selects nothing",
			svc:  testutil.Service("default", "external", nil),
			pods: []*corev1.Pod{testutil.Pod("default", "a", testutil.WithLabels("app", "reviews"), testutil.WithSidecar())},
		},
		{
			name: "selector matching no pods",
			svc:  testutil.Service("default", "reviews", app),
			pods: []*corev1.Pod{testutil.Pod("default", "a", testutil.WithLabels("app", "ratings"), testutil.WithSidecar())},
		},
		{
			name: "selector needs every label",
			svc:  testutil.Service("default", "reviews", testutil.Labels("app", "reviews", "version", "v2")),
			pods: []*corev1.Pod{
				testutil.Pod("default", "v1", testutil.WithLabels("app", "reviews", "version", "v1"), testutil.WithSidecar()),
				testutil.Pod("default", "v2", testutil.WithLabels("app", "reviews", "version", "v2"), testutil.WithSidecar()),
			},
			wantWorkloads: []string{"v2"},
			wantInMesh:    true,
		},
		{
			name: "pods of another namespace are not selected",
			svc:  testutil.Service("default", "reviews", app),
			pods: []*corev1.Pod{
				testutil.Pod("other", "reviews", testutil.WithLabels("app", "reviews"), testutil.WithSidecar()),
				testutil.Pod("default", "reviews", testutil.WithLabels("app", "reviews")),
			},
			wantWorkloads: []string{"reviews"},
		},
		{
			name: "terminated pods without sidecar do not count",
			svc:  testutil.Service("default", "reviews", app),
			pods: []*corev1.Pod{
				testutil.Pod("default", "job-a", testutil.WithLabels("app", "reviews"), testutil.WithPhase(corev1.PodSucceeded)),
				testutil.Pod("default", "old", testutil.WithLabels("app", "reviews"), testutil.Deleting()),
				testutil.Pod("default", "live", testutil.WithLabels("app", "reviews"), testutil.WithSidecar()),
			},
			wantWorkloads: []string{"live"},
			wantInMesh:    true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := BuildCluster(Objects{Services: []*corev1.Service{tc.svc}, Pods: tc.pods}, DefaultRootNamespace)
			got := findService(t, c, tc.svc.Namespace, tc.svc.Name)
			if !slices.Equal(got.Workloads, tc.wantWorkloads) {
				t.Errorf("Workloads = %q, want %q", got.Workloads, tc.wantWorkloads)
			}
			if got.InMesh != tc.wantInMesh || got.PartlyInMesh != tc.wantPartlyInMesh {
				t.Errorf("InMesh, PartlyInMesh = %v, %v; want %v, %v", got.InMesh, got.PartlyInMesh, tc.wantInMesh, tc.wantPartlyInMesh)
			}
		})
	}
}

func TestBuildClusterPeerAuthentication(t *testing.T) {
	reviewsV1 := func(opts ...testutil.PodOption) *corev1.Pod {
		return testutil.Pod("default", "reviews-v1-1-a", append([]testutil.PodOption{testutil.WithLabels("app", "reviews", "version", "v1"), testutil.InDeployment("reviews-v1", "1"), testutil.WithSidecar()}, opts...)...)
	}
	reviewsV2 := func(opts ...testutil.PodOption) *corev1.Pod {
		return testutil.Pod("default", "reviews-v2-2-a", append([]testutil.PodOption{testutil.WithLabels("app", "reviews", "version", "v2"), testutil.InDeployment("reviews-v2", "2"), testutil.WithSidecar()}, opts...)...)
	}
	svc := testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), testutil.ServicePort(9080, intstr.FromInt32(9080)))

	tests := []struct {
		name       string
		root       string
		svc        *corev1.Service // default: svc
		pods       []*corev1.Pod
		authns     []*securityv1.PeerAuthentication
		wantMode   string
		wantSource string
	}{
		{
			name:     "no PeerAuthentication is UNSET with no source",
			pods:     []*corev1.Pod{reviewsV1()},
			wantMode: "UNSET",
		},
		{
			name:     "no PeerAuthentication and no pods is UNSET",
			wantMode: "UNSET",
		},
		{
			name:       "namespace STRICT",
			pods:       []*corev1.Pod{reviewsV1(), reviewsV2()},
			authns:     []*securityv1.PeerAuthentication{testutil.PeerAuth("default", "default", 0, testutil.PAStrict)},
			wantMode:   "STRICT",
			wantSource: "default/default",
		},
		{
			name:       "namespace STRICT applies to a Service without pods",
			authns:     []*securityv1.PeerAuthentication{testutil.PeerAuth("default", "ns-wide", 0, testutil.PAStrict)},
			wantMode:   "STRICT",
			wantSource: "default/ns-wide",
		},
		{
			name:       "namespace policy of another namespace does not apply",
			pods:       []*corev1.Pod{reviewsV1()},
			authns:     []*securityv1.PeerAuthentication{testutil.PeerAuth("other", "default", 0, testutil.PAStrict)},
			wantMode:   "UNSET",
			wantSource: "",
		},
		{
			name:       "mesh-level policy in the root namespace",
			pods:       []*corev1.Pod{reviewsV1()},
			authns:     []*securityv1.PeerAuthentication{testutil.PeerAuth("istio-system", "default", 0, testutil.PAStrict)},
			wantMode:   "STRICT",
			wantSource: "istio-system/default",
		},
		{
			name:       "mesh-level policy in a custom root namespace",
			root:       "mesh-root",
			pods:       []*corev1.Pod{reviewsV1()},
			authns:     []*securityv1.PeerAuthentication{testutil.PeerAuth("mesh-root", "mesh", 0, testutil.PAStrict), testutil.PeerAuth("istio-system", "default", 0, testutil.PADisable)},
			wantMode:   "STRICT",
			wantSource: "mesh-root/mesh",
		},
		{
			name:       "namespace policy overrides the mesh",
			pods:       []*corev1.Pod{reviewsV1()},
			authns:     []*securityv1.PeerAuthentication{testutil.PeerAuth("istio-system", "default", 0, testutil.PAStrict), testutil.PeerAuth("default", "default", 1, testutil.PAPermissive)},
			wantMode:   "PERMISSIVE",
			wantSource: "default/default",
		},
		{
			name: "workload selector overrides the namespace",
			pods: []*corev1.Pod{reviewsV1()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "reviews-permissive", 1, testutil.PAPermissive, testutil.Selecting("app", "reviews")),
			},
			wantMode:   "PERMISSIVE",
			wantSource: "default/reviews-permissive",
		},
		{
			name: "workload STRICT on every pod is stronger than the namespace",
			pods: []*corev1.Pod{reviewsV1(), reviewsV2()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "default", 0, testutil.PAPermissive),
				testutil.PeerAuth("default", "reviews-strict", 1, testutil.PAStrict, testutil.Selecting("app", "reviews")),
			},
			wantMode:   "STRICT",
			wantSource: "default/reviews-strict",
		},
		{
			name: "workload selector that matches no pod of the Service does not apply",
			pods: []*corev1.Pod{reviewsV1()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "ratings-off", 1, testutil.PADisable, testutil.Selecting("app", "ratings")),
			},
			wantMode:   "STRICT",
			wantSource: "default/default",
		},
		{
			name: "selector policy in the root namespace is ignored",
			pods: []*corev1.Pod{reviewsV1()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("istio-system", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("istio-system", "reviews-off", 1, testutil.PADisable, testutil.Selecting("app", "reviews")),
			},
			wantMode:   "STRICT",
			wantSource: "istio-system/default",
		},
		{
			name: "weakest pod wins: DISABLE on the second workload under namespace STRICT",
			pods: []*corev1.Pod{reviewsV1(), reviewsV2()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "v2-off", 1, testutil.PADisable, testutil.Selecting("version", "v2")),
			},
			wantMode:   "DISABLE",
			wantSource: "default/v2-off",
		},
		{
			name: "weakest pod wins: DISABLE on the first workload under namespace STRICT",
			pods: []*corev1.Pod{reviewsV2(), reviewsV1()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "v2-off", 1, testutil.PADisable, testutil.Selecting("version", "v2")),
			},
			wantMode:   "DISABLE",
			wantSource: "default/v2-off",
		},
		{
			name: "weakest pod wins: PERMISSIVE beats STRICT",
			pods: []*corev1.Pod{reviewsV1(), reviewsV2()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("istio-system", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "v1-permissive", 1, testutil.PAPermissive, testutil.Selecting("version", "v1")),
			},
			wantMode:   "PERMISSIVE",
			wantSource: "default/v1-permissive",
		},
		{
			name: "weakest pod wins even when it is weaker than the namespace by a STRICT workload elsewhere",
			pods: []*corev1.Pod{reviewsV1(), reviewsV2()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "v1-strict", 0, testutil.PAStrict, testutil.Selecting("version", "v1")),
			},
			wantMode:   "UNSET",
			wantSource: "",
		},
		{
			name: "portLevelMtls keyed on the numeric target port",
			svc:  testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), testutil.ServicePort(80, intstr.FromInt32(9080))),
			pods: []*corev1.Pod{reviewsV1()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "reviews", 0, testutil.PAStrict, testutil.Selecting("app", "reviews"), testutil.OnPort(9080, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
			},
			wantMode:   "DISABLE",
			wantSource: "default/reviews",
		},
		{
			name: "portLevelMtls on the Service port (not the target port) does not apply",
			svc:  testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), testutil.ServicePort(80, intstr.FromInt32(9080))),
			pods: []*corev1.Pod{reviewsV1()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "reviews", 0, testutil.PAStrict, testutil.Selecting("app", "reviews"), testutil.OnPort(80, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
			},
			wantMode:   "STRICT",
			wantSource: "default/reviews",
		},
		{
			name: "portLevelMtls keyed on the container port a named target port names",
			svc:  testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), testutil.ServicePort(80, intstr.FromString("http-web"))),
			pods: []*corev1.Pod{reviewsV1(testutil.WithContainerPort("metrics", 15020), testutil.WithContainerPort("http-web", 8080))},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "reviews", 0, testutil.PAStrict, testutil.Selecting("app", "reviews"), testutil.OnPort(8080, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE)),
			},
			wantMode:   "PERMISSIVE",
			wantSource: "default/reviews",
		},
		{
			name: "named target port resolved per pod",
			svc:  testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), testutil.ServicePort(80, intstr.FromString("http-web"))),
			pods: []*corev1.Pod{
				reviewsV1(testutil.WithContainerPort("http-web", 8080)),
				reviewsV2(testutil.WithContainerPort("http-web", 9090)),
			},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "reviews", 0, testutil.PAStrict, testutil.Selecting("app", "reviews"), testutil.OnPort(9090, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
			},
			wantMode:   "DISABLE",
			wantSource: "default/reviews",
		},
		{
			name: "target port unset uses the Service port",
			svc:  testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), corev1.ServicePort{Port: 9080}),
			pods: []*corev1.Pod{reviewsV1()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "reviews", 0, testutil.PAStrict, testutil.Selecting("app", "reviews"), testutil.OnPort(9080, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
			},
			wantMode:   "DISABLE",
			wantSource: "default/reviews",
		},
		{
			name: "UNSET port level inherits the workload mode",
			pods: []*corev1.Pod{reviewsV1()},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("default", "reviews", 0, testutil.PAPermissive, testutil.Selecting("app", "reviews"), testutil.OnPort(9080, securityapi.PeerAuthentication_MutualTLS_UNSET)),
			},
			wantMode:   "PERMISSIVE",
			wantSource: "default/reviews",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.svc
			if s == nil {
				s = svc
			}
			root := tc.root
			if root == "" {
				root = DefaultRootNamespace
			}
			c := BuildCluster(Objects{Services: []*corev1.Service{s}, Pods: tc.pods, Authns: tc.authns}, root)
			got := findService(t, c, s.Namespace, s.Name)
			if got.PeerAuthentication != tc.wantMode || got.PeerAuthenticationSource != tc.wantSource {
				t.Errorf("PeerAuthentication, source = %q, %q; want %q, %q", got.PeerAuthentication, got.PeerAuthenticationSource, tc.wantMode, tc.wantSource)
			}
		})
	}
}

func TestBuildClusterDestinationRule(t *testing.T) {
	svc := testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), testutil.ServicePort(9080, intstr.FromInt32(9080)))
	tests := []struct {
		name       string
		root       string
		rules      []*networkingv1.DestinationRule
		wantTLS    string
		wantSource string
	}{
		{name: "no rule"},
		{
			name:       "short host in the Service's namespace",
			rules:      []*networkingv1.DestinationRule{testutil.Rule("default", "reviews", "reviews", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL))},
			wantTLS:    "ISTIO_MUTUAL",
			wantSource: "default/reviews",
		},
		{
			name:       "FQDN host",
			rules:      []*networkingv1.DestinationRule{testutil.Rule("default", "reviews-fqdn", "reviews.default.svc.cluster.local", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_DISABLE))},
			wantTLS:    "DISABLE",
			wantSource: "default/reviews-fqdn",
		},
		{
			name:       "FQDN host from another namespace",
			rules:      []*networkingv1.DestinationRule{testutil.Rule("team", "reviews", "reviews.default.svc.cluster.local", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL))},
			wantTLS:    "",
			wantSource: "",
		},
		{
			name:       "*.local in the root namespace",
			rules:      []*networkingv1.DestinationRule{testutil.Rule("istio-system", "mesh-mtls", "*.local", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL))},
			wantTLS:    "ISTIO_MUTUAL",
			wantSource: "istio-system/mesh-mtls",
		},
		{
			name:  "*.local in istio-system with a custom root namespace is not mesh-wide",
			root:  "mesh-root",
			rules: []*networkingv1.DestinationRule{testutil.Rule("istio-system", "mesh-mtls", "*.local", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL))},
		},
		{
			name: "Service namespace rule beats the root namespace",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("istio-system", "mesh-mtls", "*.local", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)),
				testutil.Rule("default", "reviews-off", "reviews", 1, testutil.WithTLS(networkingapi.ClientTLSSettings_DISABLE)),
			},
			wantTLS:    "DISABLE",
			wantSource: "default/reviews-off",
		},
		{
			name:  "short host of a rule in another namespace names a different service",
			rules: []*networkingv1.DestinationRule{testutil.Rule("other", "reviews", "reviews", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL))},
		},
		{
			name:  "rule for another host",
			rules: []*networkingv1.DestinationRule{testutil.Rule("default", "ratings", "ratings", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL))},
		},
		{
			name:  "rule without tls gives no mode and no source",
			rules: []*networkingv1.DestinationRule{testutil.Rule("default", "reviews", "reviews", 0, testutil.WithoutTLS())},
		},
		{
			name:  "rule without trafficPolicy gives no mode and no source",
			rules: []*networkingv1.DestinationRule{testutil.Rule("default", "reviews", "reviews", 0)},
		},
		{
			name: "port-level tls for the Service port",
			rules: []*networkingv1.DestinationRule{testutil.Rule("default", "reviews", "reviews", 0,
				testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL), testutil.WithPortTLS(9080, networkingapi.ClientTLSSettings_SIMPLE))},
			wantTLS:    "SIMPLE",
			wantSource: "default/reviews",
		},
		{
			name: "port-level tls for another port",
			rules: []*networkingv1.DestinationRule{testutil.Rule("default", "reviews", "reviews", 0,
				testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL), testutil.WithPortTLS(9443, networkingapi.ClientTLSSettings_SIMPLE))},
			wantTLS:    "ISTIO_MUTUAL",
			wantSource: "default/reviews",
		},
		{
			name: "oldest rule of the same host decides",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("default", "newer", "reviews", 5, testutil.WithTLS(networkingapi.ClientTLSSettings_DISABLE)),
				testutil.Rule("default", "older", "reviews", 1, testutil.WithTLS(networkingapi.ClientTLSSettings_MUTUAL)),
			},
			wantTLS:    "MUTUAL",
			wantSource: "default/older",
		},
		{
			name: "rule private to another namespace is not seen",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("istio-system", "mesh-mtls", "*.local", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL), testutil.WithExportTo(".")),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root
			if root == "" {
				root = DefaultRootNamespace
			}
			c := BuildCluster(Objects{Services: []*corev1.Service{svc}, Rules: tc.rules}, root)
			got := findService(t, c, "default", "reviews")
			if got.DestinationRuleTLS != tc.wantTLS || got.DestinationRuleSource != tc.wantSource {
				t.Errorf("DestinationRuleTLS, source = %q, %q; want %q, %q", got.DestinationRuleTLS, got.DestinationRuleSource, tc.wantTLS, tc.wantSource)
			}
		})
	}
}

func TestBuildClusterPolicyProblems(t *testing.T) {
	tests := []struct {
		name   string
		rules  []*networkingv1.DestinationRule
		authns []*securityv1.PeerAuthentication
		want   []string // "Kind ns/name"
	}{
		{
			name:  "DestinationRule with empty host",
			rules: []*networkingv1.DestinationRule{testutil.Rule("default", "nohost", "", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL))},
			want:  []string{"DestinationRule default/nohost"},
		},
		{
			name:  "DestinationRule with blank host",
			rules: []*networkingv1.DestinationRule{testutil.Rule("default", "blank", "  ", 0)},
			want:  []string{"DestinationRule default/blank"},
		},
		{
			name:   "portLevelMtls without a selector",
			authns: []*securityv1.PeerAuthentication{testutil.PeerAuth("default", "ports", 0, testutil.PAStrict, testutil.OnPort(8080, securityapi.PeerAuthentication_MutualTLS_DISABLE))},
			want:   []string{"PeerAuthentication default/ports"},
		},
		{
			name: "both kinds",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("default", "ok", "reviews", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)),
				testutil.Rule("team", "nohost", "", 0),
			},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("istio-system", "mesh-ports", 0, testutil.PAStrict, testutil.OnPort(8080, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
				testutil.PeerAuth("default", "ok", 0, testutil.PAStrict),
			},
			want: []string{"DestinationRule team/nohost", "PeerAuthentication istio-system/mesh-ports"},
		},
		{
			name: "good objects have no problems",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("default", "reviews", "reviews", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)),
				testutil.Rule("istio-system", "mesh", "*.local", 0),
			},
			authns: []*securityv1.PeerAuthentication{
				testutil.PeerAuth("istio-system", "default", 0, testutil.PAStrict),
				testutil.PeerAuth("default", "ns", 0, nil),
				testutil.PeerAuth("default", "ports", 0, testutil.PAStrict, testutil.Selecting("app", "reviews"), testutil.OnPort(8080, securityapi.PeerAuthentication_MutualTLS_DISABLE)),
			},
		},
		{name: "no objects, no problems"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := BuildCluster(Objects{Rules: tc.rules, Authns: tc.authns}, DefaultRootNamespace)
			var got []string
			for _, p := range c.Problems {
				if p.Message == "" {
					t.Errorf("problem %s %s/%s has no message", p.Kind, p.Namespace, p.Name)
				}
				got = append(got, fmt.Sprintf("%s %s/%s", p.Kind, p.Namespace, p.Name))
			}
			slices.Sort(got) // the order of cache lists is not defined
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBuildClusterSorted(t *testing.T) {
	in := Objects{
		Namespaces: []string{"zeta", "default", "alpha"},
		Services: []*corev1.Service{
			testutil.Service("zeta", "a", nil),
			testutil.Service("default", "reviews", nil),
			testutil.Service("alpha", "z", nil),
			testutil.Service("default", "details", nil),
			testutil.Service("alpha", "b", nil),
		},
		Pods: []*corev1.Pod{testutil.Pod("zeta", "p"), testutil.Pod("alpha", "q"), testutil.Pod("alpha", "a")},
	}
	c := BuildCluster(in, DefaultRootNamespace)

	if want := []string{"alpha", "default", "zeta"}; !slices.Equal(c.Namespaces, want) {
		t.Errorf("Namespaces = %q, want %q", c.Namespaces, want)
	}
	var services []string
	for _, s := range c.Services {
		services = append(services, s.Namespace+"/"+s.Name)
	}
	if want := []string{"alpha/b", "alpha/z", "default/details", "default/reviews", "zeta/a"}; !slices.Equal(services, want) {
		t.Errorf("Services = %q, want %q", services, want)
	}
	var workloads []string
	for _, w := range c.Workloads {
		workloads = append(workloads, w.Namespace+"/"+w.Name)
	}
	if want := []string{"alpha/a", "alpha/q", "zeta/p"}; !slices.Equal(workloads, want) {
		t.Errorf("Workloads = %q, want %q", workloads, want)
	}
	// The input is not reordered in place.
	if in.Namespaces[0] != "zeta" {
		t.Errorf("buildCluster sorted its input namespaces in place: %q", in.Namespaces)
	}
}

// TestDataPlane follows istio/istio cni/pkg/util/enablement_selector.go
// (host-network and sidecar pods are never captured), podutil.go and
// pkg/config/constants (the redirection annotation is the actual state:
// only "enabled" is captured), the default enablement selectors of
// manifests/charts/istio-cni/values.yaml (the pod's or its namespace's
// istio.io/dataplane-mode=ambient, the pod opting out with none), and
// pilot/pkg/model/context.go IsWaypointProxy.
func TestDataPlane(t *testing.T) {
	annotated := func(state string) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Annotations = map[string]string{"ambient.istio.io/redirection": state} }
	}
	labelled := func(k, v string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			if p.Labels == nil {
				p.Labels = map[string]string{}
			}
			p.Labels[k] = v
		}
	}
	hostNetwork := func(p *corev1.Pod) { p.Spec.HostNetwork = true }
	ambientNS := map[string]string{"istio.io/dataplane-mode": "ambient"}
	for _, tc := range []struct {
		name      string
		pod       *corev1.Pod
		namespace map[string]string
		want      string
	}{
		{"sidecar", testutil.Pod("default", "a", testutil.WithSidecar()), nil, graph.DataPlaneSidecar},
		{"native sidecar", testutil.Pod("default", "a", testutil.WithNativeSidecar()), nil, graph.DataPlaneSidecar},
		{"sidecar in an ambient namespace", testutil.Pod("default", "a", testutil.WithSidecar()), ambientNS, graph.DataPlaneSidecar},
		{"redirected by istio-cni", testutil.Pod("default", "a", annotated("enabled")), nil, graph.DataPlaneAmbient},
		{"pending redirection", testutil.Pod("default", "a", annotated("pending"), labelled("istio.io/dataplane-mode", "ambient")), ambientNS, graph.DataPlaneNone},
		{"labelled ambient, not yet annotated", testutil.Pod("default", "a", labelled("istio.io/dataplane-mode", "ambient")), nil, graph.DataPlaneAmbient},
		{"in an ambient namespace", testutil.Pod("default", "a"), ambientNS, graph.DataPlaneAmbient},
		{"opted out in an ambient namespace", testutil.Pod("default", "a", labelled("istio.io/dataplane-mode", "none")), ambientNS, graph.DataPlaneNone},
		{"host network in an ambient namespace", testutil.Pod("default", "a", hostNetwork), ambientNS, graph.DataPlaneNone},
		{"waypoint", testutil.Pod("default", "waypoint", labelled("gateway.istio.io/managed", "istio.io-mesh-controller"), labelled("istio.io/dataplane-mode", "none")), ambientNS, graph.DataPlaneWaypoint},
		{"plain", testutil.Pod("default", "a"), nil, graph.DataPlaneNone},
	} {
		if got := DataPlane(tc.pod, tc.namespace); got != tc.want {
			t.Errorf("%s: DataPlane = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Every replica must agree.
	mixed := []*corev1.Pod{testutil.Pod("default", "w-1", testutil.InDeployment("w", "h"), annotated("enabled")), testutil.Pod("default", "w-2", testutil.InDeployment("w", "h"))}
	if got := BuildCluster(Objects{Pods: mixed}, DefaultRootNamespace).Workloads; len(got) != 1 || got[0].DataPlane != graph.DataPlaneNone {
		t.Errorf("mixed workload %+v", got)
	}
	// A Service is in the mesh when every pod it selects is captured, by a
	// sidecar or by ztunnel; an ambient namespace's label counts.
	svc := testutil.Service("shop", "cart", map[string]string{"app": "cart"})
	pods := []*corev1.Pod{
		testutil.Pod("shop", "cart-1", labelled("app", "cart")),
		testutil.Pod("shop", "cart-2", labelled("app", "cart"), testutil.WithSidecar()),
	}
	for _, tc := range []struct {
		labels         map[string]map[string]string
		inMesh, partly bool
	}{
		{nil, false, true},
		{map[string]map[string]string{"shop": ambientNS}, true, false},
	} {
		got := BuildCluster(Objects{Services: []*corev1.Service{svc}, Pods: pods, NamespaceLabels: tc.labels}, DefaultRootNamespace).Services
		if len(got) != 1 || got[0].InMesh != tc.inMesh || got[0].PartlyInMesh != tc.partly {
			t.Errorf("namespace labels %v: service %+v, want inMesh %v, partly %v", tc.labels, got, tc.inMesh, tc.partly)
		}
	}
}

// TestAcceptsHBONE follows istio/istio pilot/pkg/model/service.go
// SupportsTunnel: networking.istio.io/tunnel is a list, http among it.
func TestAcceptsHBONE(t *testing.T) {
	for value, want := range map[string]bool{"http": true, "h2,http": true, " http ": true, "": false, "https": false} {
		pod := testutil.Pod("default", "a", testutil.WithSidecar())
		pod.Labels = map[string]string{"networking.istio.io/tunnel": value}
		if got := AcceptsHBONE(pod); got != want {
			t.Errorf("tunnel %q: AcceptsHBONE = %v, want %v", value, got, want)
		}
	}
}

// TestWorkloadName follows istio/istio pkg/kube/util.go GetDeployMetaFromPod
// and GetWorkloadMetaFromPod.
func TestWorkloadName(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"bare pod", testutil.Pod("default", "debug"), "debug"},
		{"Deployment pod", testutil.Pod("default", "reviews-v1-545db77b95-xk2l9", testutil.InDeployment("reviews-v1", "545db77b95")), "reviews-v1"},
		{"ReplicaSet without pod-template-hash", testutil.Pod("default", "rs-abc", testutil.OwnedBy("ReplicaSet", "rs", true)), "rs"},
		{"hash label not a suffix of the ReplicaSet name", testutil.Pod("default", "p", testutil.WithLabels("pod-template-hash", "zzz"), testutil.OwnedBy("ReplicaSet", "web-abc", true)), "web-abc"},
		{"StatefulSet pod", testutil.Pod("default", "mysql-0", testutil.OwnedBy("StatefulSet", "mysql", true)), "mysql"},
		{"DaemonSet pod", testutil.Pod("kube-system", "node-agent-x7", testutil.OwnedBy("DaemonSet", "node-agent", true)), "node-agent"},
		{"Job pod", testutil.Pod("default", "migrate-abcde", testutil.OwnedBy("Job", "migrate", true)), "migrate"},
		{"owner without controller flag", testutil.Pod("default", "p", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "StatefulSet", Name: "s"}}
		}), "p"},
		{"non-controller owner before the controller", testutil.Pod("default", "p", testutil.OwnedBy("ConfigMap", "cfg", false), testutil.OwnedBy("StatefulSet", "db", true)), "db"},
		{"CronJob pod: the Job's scheduled-time suffix trimmed", testutil.Pod("default", "backup-29412345-x7k2p", testutil.OwnedBy("Job", "backup-29412345", true)), "backup"},
		{"CronJob pod of a 10-digit schedule", testutil.Pod("default", "report-1234567890-abcde", testutil.OwnedBy("Job", "report-1234567890", true)), "report"},
		{"Job whose suffix is too short to be a CronJob's", testutil.Pod("default", "etl-1234567-abcde", testutil.OwnedBy("Job", "etl-1234567", true)), "etl-1234567"},
		{"Argo Rollout pod", testutil.Pod("default", "canary-6d4f9b7c8-q2w3e", testutil.WithLabels("rollouts-pod-template-hash", "6d4f9b7c8"), testutil.OwnedBy("ReplicaSet", "canary-6d4f9b7c8", true)), "canary"},
		{"OpenShift DeploymentConfig pod", testutil.Pod("default", "legacy-3-abcde", testutil.WithLabels("deploymentconfig", "legacy"), testutil.OwnedBy("ReplicationController", "legacy-3", true)), "legacy"},
		{"a controller but no generateName: the pod's name", testutil.Pod("default", "static-web", func(p *corev1.Pod) {
			c := true
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-abc", Controller: &c}}
		}), "static-web"},
		{"generateName but no controller: the pod's name", testutil.Pod("default", "job-x1y2z", func(p *corev1.Pod) { p.GenerateName = "job-" }), "job-x1y2z"},
		{"the workload-name label overrides everything", testutil.Pod("default", "reviews-v1-545db77b95-xk2l9", testutil.InDeployment("reviews-v1", "545db77b95"), testutil.WithLabels("service.istio.io/workload-name", "reviews")), "reviews"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := WorkloadName(tc.pod); got != tc.want {
				t.Errorf("WorkloadName = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHasSidecar(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"istio-proxy container", testutil.Pod("default", "a", testutil.WithSidecar()), true},
		{"native sidecar init container", testutil.Pod("default", "a", testutil.WithNativeSidecar()), true},
		{"no sidecar", testutil.Pod("default", "a"), false},
		{"only istio-init", testutil.Pod("default", "a", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "istio-init"}}
		}), false},
		{"container merely named like the proxy", testutil.Pod("default", "a", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "istio-proxy-exporter"})
		}), false},
		{"empty pod", &corev1.Pod{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HasSidecar(tc.pod); got != tc.want {
				t.Errorf("HasSidecar = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestL7PoliciesWithoutWaypoint follows istio/istio
// pilot/pkg/serviceregistry/ambient/authorization.go (ztunnel gets L4
// rules only) and waypoints.go GetUseWaypoint (the Service's label, else
// its namespace's; "none" opts out): an AuthorizationPolicy with L7 rules
// binding through ztunnel to an ambient Service's pods that no waypoint
// serves is named; L4-only rules, targetRef-bound policies, sidecar pods
// and Services with a waypoint are not.
func TestL7PoliciesWithoutWaypoint(t *testing.T) {
	ambient := func(p *corev1.Pod) { p.Annotations = map[string]string{"ambient.istio.io/redirection": "enabled"} }
	policy := func(name string, action securityapi.AuthorizationPolicy_Action, rule *securityapi.Rule, mutate ...func(*securityv1.AuthorizationPolicy)) *securityv1.AuthorizationPolicy {
		p := &securityv1.AuthorizationPolicy{}
		p.Namespace, p.Name = "shop", name
		p.Spec.Action = action
		p.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: map[string]string{"app": "cart"}}
		p.Spec.Rules = []*securityapi.Rule{rule}
		for _, m := range mutate {
			m(p)
		}
		return p
	}
	l7 := &securityapi.Rule{To: []*securityapi.Rule_To{{Operation: &securityapi.Operation{Methods: []string{"GET"}}}}}
	l4 := &securityapi.Rule{From: []*securityapi.Rule_From{{Source: &securityapi.Source{Principals: []string{"cluster.local/ns/shop/sa/web"}}}}}
	when := &securityapi.Rule{When: []*securityapi.Condition{{Key: "request.headers[x-tenant]", Values: []string{"a"}}}}
	targeted := func(p *securityv1.AuthorizationPolicy) {
		p.Spec.Selector = nil
		p.Spec.TargetRefs = []*typeapi.PolicyTargetReference{{Kind: "Service", Name: "cart"}}
	}
	build := func(svcLabels, nsLabels map[string]string, sidecar bool, policies ...*securityv1.AuthorizationPolicy) []string {
		svc := testutil.Service("shop", "cart", map[string]string{"app": "cart"})
		svc.Labels = svcLabels
		opts := []testutil.PodOption{testutil.WithLabels("app", "cart")}
		if sidecar {
			opts = append(opts, testutil.WithSidecar())
		} else {
			opts = append(opts, ambient)
		}
		c := BuildCluster(Objects{Services: []*corev1.Service{svc}, Pods: []*corev1.Pod{testutil.Pod("shop", "cart-1", opts...)},
			NamespaceLabels: map[string]map[string]string{"shop": nsLabels}, Authzs: policies}, DefaultRootNamespace)
		return c.Services[0].L7PoliciesWithoutWaypoint
	}
	allowGet := policy("allow-get", securityapi.AuthorizationPolicy_ALLOW, l7)
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"an ALLOW with L7 rules, no waypoint", build(nil, nil, false, allowGet), []string{"shop/allow-get (ALLOW)"}},
		{"a DENY with a request condition", build(nil, nil, false, policy("deny-tenant", securityapi.AuthorizationPolicy_DENY, when)), []string{"shop/deny-tenant (DENY)"}},
		{"L4 rules only", build(nil, nil, false, policy("allow-web", securityapi.AuthorizationPolicy_ALLOW, l4)), nil},
		{"bound to a waypoint by targetRefs", build(nil, nil, false, policy("on-waypoint", securityapi.AuthorizationPolicy_ALLOW, l7, targeted)), nil},
		{"the Service uses a waypoint", build(map[string]string{"istio.io/use-waypoint": "waypoint"}, nil, false, allowGet), nil},
		{"the namespace uses a waypoint", build(nil, map[string]string{"istio.io/use-waypoint": "waypoint"}, false, allowGet), nil},
		{"the Service opts out of the namespace's waypoint", build(map[string]string{"istio.io/use-waypoint": "none"}, map[string]string{"istio.io/use-waypoint": "waypoint"}, false, allowGet), []string{"shop/allow-get (ALLOW)"}},
		{"sidecar pods enforce L7 themselves", build(nil, nil, true, allowGet), nil},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	// ztunnel refuses everything under an ALLOW policy of L7 rules only;
	// a wholly L4 rule, a DENY policy or a targetRef binding leave it be.
	pod := testutil.Pod("shop", "cart-1", testutil.WithLabels("app", "cart"), ambient)
	for _, tc := range []struct {
		policy *securityv1.AuthorizationPolicy
		denies bool
	}{
		{allowGet, true},
		{policy("mixed", securityapi.AuthorizationPolicy_ALLOW, l7, func(p *securityv1.AuthorizationPolicy) { p.Spec.Rules = append(p.Spec.Rules, l4) }), false},
		{policy("deny-get", securityapi.AuthorizationPolicy_DENY, l7), false},
		{policy("on-waypoint", securityapi.AuthorizationPolicy_ALLOW, l7, targeted), false},
	} {
		if got := ZtunnelDeniesAll([]*securityv1.AuthorizationPolicy{tc.policy}, pod, DefaultRootNamespace); got != tc.denies {
			t.Errorf("ZtunnelDeniesAll(%s) = %v, want %v", tc.policy.Name, got, tc.denies)
		}
	}
}
