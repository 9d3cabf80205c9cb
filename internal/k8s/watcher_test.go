// Tests of the Watcher on fake clientsets: option validation, sync, namespace scope, and
// Cluster() following changes to watched objects, with change notifications.

package k8s

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshlock/meshlock/internal/graph"

	rules "github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/internal/testutil"
)

const waitLimit = testutil.HangBound

// fakeAPI is a pair of fake clientsets that tell which watches the
// informers have opened: the fake trackers drop events that happen between
// an informer's List and its Watch, so a test waits for the watches before
// changing anything.
type fakeAPI struct {
	kube  *kubefake.Clientset
	istio *istiofake.Clientset

	mu      sync.Mutex
	watched map[string]bool // "resource namespace"
}

func newFakeAPI(kubeObjects, istioObjects []runtime.Object) *fakeAPI {
	f := &fakeAPI{
		kube:    kubefake.NewClientset(kubeObjects...),
		istio:   istiofake.NewSimpleClientset(istioObjects...),
		watched: map[string]bool{},
	}
	record := func(action k8stesting.Action) (bool, watch.Interface, error) {
		f.mu.Lock()
		f.watched[action.GetResource().Resource+" "+action.GetNamespace()] = true
		f.mu.Unlock()
		return false, nil, nil // the default reactor serves the watch
	}
	f.kube.PrependWatchReactor("*", record)
	f.istio.PrependWatchReactor("*", record)
	return f
}

func (f *fakeAPI) options(namespaces []string, root string) Options {
	return Options{Kube: f.kube, Istio: f.istio, Namespaces: namespaces, RootNamespace: root,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// waitForWatches waits until every informer the watcher should run for
// namespaces (nil = all) and root has opened its watch.
func (f *fakeAPI) waitForWatches(t *testing.T, namespaces []string, root string) {
	t.Helper()
	var want []string
	if len(namespaces) == 0 {
		want = []string{"services ", "pods ", "namespaces ", "destinationrules ", "peerauthentications ", "configmaps "}
	} else {
		for _, ns := range namespaces {
			want = append(want, "services "+ns, "pods "+ns)
		}
		for _, ns := range appendMissing(slices.Clone(namespaces), root) {
			want = append(want, "destinationrules "+ns, "peerauthentications "+ns, "configmaps "+ns)
		}
	}
	testutil.Eventually(t, "informer watches to open", func() (bool, string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var missing []string
		for _, w := range want {
			if !f.watched[w] {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing watches %q", missing)
	})
}

// startWatcher starts w until the test ends and waits for its caches.
func startWatcher(t *testing.T, w *Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w.Start(ctx)
	syncCtx, syncCancel := context.WithTimeout(ctx, waitLimit)
	defer syncCancel()
	if err := w.WaitForSync(syncCtx); err != nil {
		t.Fatal(err)
	}
}

// clusterEventually polls w.Cluster() until check answers "" (or the deadline).
func clusterEventually(t *testing.T, w *Watcher, what string, check func(graph.Cluster) string) {
	t.Helper()
	testutil.Eventually(t, what, func() (bool, string) {
		c, err := w.Cluster()
		if err != nil {
			return false, err.Error()
		}
		problem := check(c)
		return problem == "", problem
	})
}

func serviceKeys(c graph.Cluster) []string {
	var out []string
	for _, s := range c.Services {
		out = append(out, s.Namespace+"/"+s.Name)
	}
	return out
}

func workloadKeys(c graph.Cluster) []string {
	var out []string
	for _, w := range c.Workloads {
		out = append(out, w.Namespace+"/"+w.Name)
	}
	return out
}

func lookupService(c graph.Cluster, namespace, name string) (graph.Service, bool) {
	for _, s := range c.Services {
		if s.Namespace == namespace && s.Name == name {
			return s, true
		}
	}
	return graph.Service{}, false
}

// servicePolicy checks a Service's effective PeerAuthentication and
// DestinationRule tls; it answers "" when they are as wanted.
func servicePolicy(namespace, name, mode, source, tls string) func(graph.Cluster) string {
	return func(c graph.Cluster) string {
		s, ok := lookupService(c, namespace, name)
		if !ok {
			return fmt.Sprintf("no service %s/%s in %q", namespace, name, serviceKeys(c))
		}
		if s.PeerAuthentication != mode || s.PeerAuthenticationSource != source || s.DestinationRuleTLS != tls {
			return fmt.Sprintf("%s/%s: peerAuthentication %q from %q, DR tls %q; want %q from %q, %q",
				namespace, name, s.PeerAuthentication, s.PeerAuthenticationSource, s.DestinationRuleTLS, mode, source, tls)
		}
		return ""
	}
}

func namespaceObject(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func TestNewWatcherValidation(t *testing.T) {
	kube := kubefake.NewClientset()
	istio := istiofake.NewSimpleClientset()
	tests := []struct {
		name     string
		opts     Options
		wantErr  bool
		wantRoot string
	}{
		{name: "no clients", opts: Options{}, wantErr: true},
		{name: "no Kubernetes client", opts: Options{Istio: istio}, wantErr: true},
		{name: "no Istio client", opts: Options{Kube: kube}, wantErr: true},
		{name: "default root namespace", opts: Options{Kube: kube, Istio: istio}, wantRoot: "istio-system"},
		{name: "custom root namespace kept", opts: Options{Kube: kube, Istio: istio, RootNamespace: "mesh-root"}, wantRoot: "mesh-root"},
		{name: "namespaced", opts: Options{Kube: kube, Istio: istio, Namespaces: []string{"default"}}, wantRoot: "istio-system"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWatcher(tc.opts)
			if tc.wantErr {
				if err == nil || w != nil {
					t.Fatalf("NewWatcher = %v, %v; want nil and an error", w, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.opts.RootNamespace != tc.wantRoot {
				t.Errorf("root namespace %q, want %q", w.opts.RootNamespace, tc.wantRoot)
			}
			if w.opts.Logger == nil {
				t.Error("no default logger")
			}
			if w.Synced() {
				t.Error("Synced() before Start")
			}
		})
	}
}

func TestWatcherWaitForSyncWithoutStart(t *testing.T) {
	f := newFakeAPI(nil, nil)
	w, err := NewWatcher(f.options(nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.WaitForSync(ctx); err == nil {
		t.Fatal("WaitForSync succeeded although the informers never ran")
	}
	if w.Synced() {
		t.Error("Synced() without Start")
	}
}

// bookinfoReviews is a Service and a pod with a sidecar, plus unrelated
// objects in other namespaces, shared by the scope tests.
func scopeObjects() (kube, istio []runtime.Object) {
	kube = []runtime.Object{
		namespaceObject("default"), namespaceObject("shop"), namespaceObject("other"), namespaceObject("istio-system"), namespaceObject("mesh-root"),
		testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), testutil.ServicePort(9080, intstr.FromInt32(9080))),
		testutil.Pod("default", "reviews-v1-1-a", testutil.WithLabels("app", "reviews"), testutil.InDeployment("reviews-v1", "1"), testutil.WithSidecar()),
		testutil.Service("shop", "cart", testutil.Labels("app", "cart"), testutil.ServicePort(80, intstr.FromInt32(8080))),
		testutil.Pod("shop", "cart-0", testutil.WithLabels("app", "cart"), testutil.OwnedBy("StatefulSet", "cart", true)),
		testutil.Service("other", "hidden", testutil.Labels("app", "hidden")),
		testutil.Pod("other", "hidden", testutil.WithLabels("app", "hidden"), testutil.WithSidecar()),
		testutil.Service("istio-system", "istiod", testutil.Labels("app", "istiod")),
		testutil.Pod("istio-system", "istiod-9-x", testutil.WithLabels("app", "istiod"), testutil.InDeployment("istiod", "9")),
	}
	istio = []runtime.Object{
		testutil.PeerAuth("istio-system", "default", 0, testutil.PAStrict),
		testutil.PeerAuth("mesh-root", "default", 0, testutil.PAPermissive),
		testutil.PeerAuth("other", "default", 0, testutil.PADisable),
		testutil.Rule("istio-system", "mesh-mtls", "*.local", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)),
		testutil.Rule("other", "reviews-off", "reviews.default.svc.cluster.local", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_DISABLE)),
	}
	return kube, istio
}

func TestWatcherScope(t *testing.T) {
	tests := []struct {
		name           string
		namespaces     []string
		root           string
		wantNamespaces []string
		wantServices   []string
		wantWorkloads  []string
		// The effective policy of default/reviews.
		wantMode, wantSource, wantTLS string
	}{
		{
			name:           "all namespaces",
			wantNamespaces: []string{"default", "istio-system", "mesh-root", "other", "shop"},
			wantServices:   []string{"default/reviews", "istio-system/istiod", "other/hidden", "shop/cart"},
			wantWorkloads:  []string{"default/reviews-v1", "istio-system/istiod", "other/hidden", "shop/cart"},
			wantMode:       "STRICT", wantSource: "istio-system/default", wantTLS: "ISTIO_MUTUAL",
		},
		{
			name:           "only default: mesh policy of the unlisted root namespace still applies",
			namespaces:     []string{"default"},
			wantNamespaces: []string{"default"},
			wantServices:   []string{"default/reviews"},
			wantWorkloads:  []string{"default/reviews-v1"},
			wantMode:       "STRICT", wantSource: "istio-system/default", wantTLS: "ISTIO_MUTUAL",
		},
		{
			name:           "only default with a custom root namespace",
			namespaces:     []string{"default"},
			root:           "mesh-root",
			wantNamespaces: []string{"default"},
			wantServices:   []string{"default/reviews"},
			wantWorkloads:  []string{"default/reviews-v1"},
			wantMode:       "PERMISSIVE", wantSource: "mesh-root/default", wantTLS: "",
		},
		{
			name:           "two namespaces, listed unsorted",
			namespaces:     []string{"shop", "default"},
			wantNamespaces: []string{"default", "shop"},
			wantServices:   []string{"default/reviews", "shop/cart"},
			wantWorkloads:  []string{"default/reviews-v1", "shop/cart"},
			wantMode:       "STRICT", wantSource: "istio-system/default", wantTLS: "ISTIO_MUTUAL",
		},
		{
			name:           "a namespace listed twice is watched and shown once",
			namespaces:     []string{"default", "shop", "default"},
			wantNamespaces: []string{"default", "shop"},
			wantServices:   []string{"default/reviews", "shop/cart"},
			wantWorkloads:  []string{"default/reviews-v1", "shop/cart"},
			wantMode:       "STRICT", wantSource: "istio-system/default", wantTLS: "ISTIO_MUTUAL",
		},
		{
			name:           "root namespace listed",
			namespaces:     []string{"default", "istio-system"},
			wantNamespaces: []string{"default", "istio-system"},
			wantServices:   []string{"default/reviews", "istio-system/istiod"},
			wantWorkloads:  []string{"default/reviews-v1", "istio-system/istiod"},
			wantMode:       "STRICT", wantSource: "istio-system/default", wantTLS: "ISTIO_MUTUAL",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kube, istio := scopeObjects()
			f := newFakeAPI(kube, istio)
			w, err := NewWatcher(f.options(tc.namespaces, tc.root))
			if err != nil {
				t.Fatal(err)
			}
			startWatcher(t, w)
			if !w.Synced() {
				t.Fatal("Synced() false after WaitForSync")
			}
			c, err := w.Cluster()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Namespaces, tc.wantNamespaces) {
				t.Errorf("Namespaces = %q, want %q", c.Namespaces, tc.wantNamespaces)
			}
			if got := serviceKeys(c); !slices.Equal(got, tc.wantServices) {
				t.Errorf("Services = %q, want %q", got, tc.wantServices)
			}
			if got := workloadKeys(c); !slices.Equal(got, tc.wantWorkloads) {
				t.Errorf("Workloads = %q, want %q", got, tc.wantWorkloads)
			}
			if problem := servicePolicy("default", "reviews", tc.wantMode, tc.wantSource, tc.wantTLS)(c); problem != "" {
				t.Error(problem)
			}
			if s, _ := lookupService(c, "default", "reviews"); !s.InMesh || !slices.Equal(s.Workloads, []string{"reviews-v1"}) {
				t.Errorf("default/reviews: InMesh %v, workloads %q; want true, [reviews-v1]", s.InMesh, s.Workloads)
			}
		})
	}
}

// TestWatcherFollowsChanges changes objects after the caches synced and
// waits for Cluster() to show each change. The steps build on each other.
func TestWatcherFollowsChanges(t *testing.T) {
	for _, namespaces := range [][]string{nil, {"default"}} {
		t.Run(fmt.Sprintf("namespaces=%q", namespaces), func(t *testing.T) {
			kube, istio := scopeObjects()
			f := newFakeAPI(kube, istio)
			w, err := NewWatcher(f.options(namespaces, ""))
			if err != nil {
				t.Fatal(err)
			}
			startWatcher(t, w)
			f.waitForWatches(t, namespaces, rules.DefaultRootNamespace)
			ctx := context.Background()
			all := len(namespaces) == 0

			steps := []struct {
				name  string
				do    func() error
				check func(graph.Cluster) string
			}{
				{
					name:  "before any change",
					do:    func() error { return nil },
					check: servicePolicy("default", "reviews", "STRICT", "istio-system/default", "ISTIO_MUTUAL"),
				},
				{
					name: "Service created",
					do: func() error {
						_, err := f.kube.CoreV1().Services("default").Create(ctx, testutil.Service("default", "ratings", testutil.Labels("app", "ratings"), testutil.ServicePort(9080, intstr.FromInt32(9080))), metav1.CreateOptions{})
						return err
					},
					check: func(c graph.Cluster) string {
						s, ok := lookupService(c, "default", "ratings")
						if !ok {
							return fmt.Sprintf("no default/ratings in %q", serviceKeys(c))
						}
						if s.InMesh || len(s.Workloads) != 0 {
							return fmt.Sprintf("default/ratings without pods: InMesh %v, workloads %q", s.InMesh, s.Workloads)
						}
						return ""
					},
				},
				{
					name: "pod with a sidecar created",
					do: func() error {
						_, err := f.kube.CoreV1().Pods("default").Create(ctx, testutil.Pod("default", "ratings-v1-3-a", testutil.WithLabels("app", "ratings"), testutil.InDeployment("ratings-v1", "3"), testutil.WithSidecar()), metav1.CreateOptions{})
						return err
					},
					check: func(c graph.Cluster) string {
						s, _ := lookupService(c, "default", "ratings")
						if !s.InMesh || !slices.Equal(s.Workloads, []string{"ratings-v1"}) {
							return fmt.Sprintf("default/ratings: InMesh %v, workloads %q", s.InMesh, s.Workloads)
						}
						if !slices.Contains(workloadKeys(c), "default/ratings-v1") {
							return fmt.Sprintf("workloads %q lack default/ratings-v1", workloadKeys(c))
						}
						return ""
					},
				},
				{
					name: "pod without a sidecar created",
					do: func() error {
						_, err := f.kube.CoreV1().Pods("default").Create(ctx, testutil.Pod("default", "ratings-v2-4-a", testutil.WithLabels("app", "ratings"), testutil.InDeployment("ratings-v2", "4")), metav1.CreateOptions{})
						return err
					},
					check: func(c graph.Cluster) string {
						s, _ := lookupService(c, "default", "ratings")
						if s.InMesh || !s.PartlyInMesh {
							return fmt.Sprintf("default/ratings: InMesh %v, PartlyInMesh %v; want false, true", s.InMesh, s.PartlyInMesh)
						}
						return ""
					},
				},
				{
					name: "pod deleted",
					do: func() error {
						return f.kube.CoreV1().Pods("default").Delete(ctx, "ratings-v2-4-a", metav1.DeleteOptions{})
					},
					check: func(c graph.Cluster) string {
						s, _ := lookupService(c, "default", "ratings")
						if !s.InMesh || s.PartlyInMesh {
							return fmt.Sprintf("default/ratings: InMesh %v, PartlyInMesh %v; want true, false", s.InMesh, s.PartlyInMesh)
						}
						return ""
					},
				},
				{
					name: "namespace PeerAuthentication created",
					do: func() error {
						_, err := f.istio.SecurityV1().PeerAuthentications("default").Create(ctx, testutil.PeerAuth("default", "default", 1, testutil.PAPermissive), metav1.CreateOptions{})
						return err
					},
					check: servicePolicy("default", "reviews", "PERMISSIVE", "default/default", "ISTIO_MUTUAL"),
				},
				{
					name: "namespace PeerAuthentication updated",
					do: func() error {
						pa, err := f.istio.SecurityV1().PeerAuthentications("default").Get(ctx, "default", metav1.GetOptions{})
						if err != nil {
							return err
						}
						pa.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_DISABLE}
						_, err = f.istio.SecurityV1().PeerAuthentications("default").Update(ctx, pa, metav1.UpdateOptions{})
						return err
					},
					check: servicePolicy("default", "reviews", "DISABLE", "default/default", "ISTIO_MUTUAL"),
				},
				{
					name: "namespace PeerAuthentication deleted",
					do: func() error {
						return f.istio.SecurityV1().PeerAuthentications("default").Delete(ctx, "default", metav1.DeleteOptions{})
					},
					check: servicePolicy("default", "reviews", "STRICT", "istio-system/default", "ISTIO_MUTUAL"),
				},
				{
					name: "mesh PeerAuthentication in the root namespace updated",
					do: func() error {
						pa, err := f.istio.SecurityV1().PeerAuthentications("istio-system").Get(ctx, "default", metav1.GetOptions{})
						if err != nil {
							return err
						}
						pa.Spec.Mtls.Mode = securityapi.PeerAuthentication_MutualTLS_PERMISSIVE
						_, err = f.istio.SecurityV1().PeerAuthentications("istio-system").Update(ctx, pa, metav1.UpdateOptions{})
						return err
					},
					check: servicePolicy("default", "reviews", "PERMISSIVE", "istio-system/default", "ISTIO_MUTUAL"),
				},
				{
					name: "DestinationRule in the Service's namespace created",
					do: func() error {
						_, err := f.istio.NetworkingV1().DestinationRules("default").Create(ctx, testutil.Rule("default", "reviews", "reviews", 1, testutil.WithTLS(networkingapi.ClientTLSSettings_DISABLE)), metav1.CreateOptions{})
						return err
					},
					check: func(c graph.Cluster) string {
						s, _ := lookupService(c, "default", "reviews")
						if s.DestinationRuleTLS != "DISABLE" || s.DestinationRuleSource != "default/reviews" {
							return fmt.Sprintf("DR tls %q from %q", s.DestinationRuleTLS, s.DestinationRuleSource)
						}
						return ""
					},
				},
				{
					name: "mesh DestinationRule deleted",
					do: func() error {
						if err := f.istio.NetworkingV1().DestinationRules("default").Delete(ctx, "reviews", metav1.DeleteOptions{}); err != nil {
							return err
						}
						return f.istio.NetworkingV1().DestinationRules("istio-system").Delete(ctx, "mesh-mtls", metav1.DeleteOptions{})
					},
					check: servicePolicy("default", "reviews", "PERMISSIVE", "istio-system/default", ""),
				},
				{
					name: "Service deleted",
					do: func() error {
						return f.kube.CoreV1().Services("default").Delete(ctx, "ratings", metav1.DeleteOptions{})
					},
					check: func(c graph.Cluster) string {
						if _, ok := lookupService(c, "default", "ratings"); ok {
							return "default/ratings still listed"
						}
						return ""
					},
				},
				{
					// Created in order: the unwatched objects first, so that by the time
					// the watched one shows, a wrongly watched one would have too.
					name: "objects created in other namespaces",
					do: func() error {
						if _, err := f.kube.CoreV1().Namespaces().Create(ctx, namespaceObject("late"), metav1.CreateOptions{}); err != nil {
							return err
						}
						if _, err := f.kube.CoreV1().Services("late").Create(ctx, testutil.Service("late", "svc", nil), metav1.CreateOptions{}); err != nil {
							return err
						}
						_, err := f.kube.CoreV1().Services("default").Create(ctx, testutil.Service("default", "marker", nil), metav1.CreateOptions{})
						return err
					},
					check: func(c graph.Cluster) string {
						if _, ok := lookupService(c, "default", "marker"); !ok {
							return "no default/marker yet"
						}
						_, lateShown := lookupService(c, "late", "svc")
						lateNamespace := slices.Contains(c.Namespaces, "late")
						if all && (!lateShown || !lateNamespace) {
							return fmt.Sprintf("watching all: late/svc shown %v, namespace late listed %v", lateShown, lateNamespace)
						}
						if !all && (lateShown || lateNamespace) {
							return fmt.Sprintf("watching %q: late/svc shown %v, namespace late listed %v", namespaces, lateShown, lateNamespace)
						}
						if !all && !slices.Equal(c.Namespaces, namespaces) {
							return fmt.Sprintf("Namespaces = %q, want %q", c.Namespaces, namespaces)
						}
						return ""
					},
				},
			}
			for _, step := range steps {
				if !t.Run(step.name, func(t *testing.T) {
					if err := step.do(); err != nil {
						t.Fatal(err)
					}
					clusterEventually(t, w, step.name, step.check)
				}) {
					t.FailNow() // later steps build on this one
				}
			}
		})
	}
}

func TestWatcherChanges(t *testing.T) {
	f := newFakeAPI(nil, nil)
	w, err := NewWatcher(f.options(nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	startWatcher(t, w)
	f.waitForWatches(t, nil, rules.DefaultRootNamespace)
	select {
	case <-w.Changes():
		t.Fatal("change notified for empty caches")
	default:
	}

	ctx := context.Background()
	steps := []struct {
		name string
		do   func() error
	}{
		{"namespace created", func() error {
			_, err := f.kube.CoreV1().Namespaces().Create(ctx, namespaceObject("default"), metav1.CreateOptions{})
			return err
		}},
		{"Service created", func() error {
			_, err := f.kube.CoreV1().Services("default").Create(ctx, testutil.Service("default", "a", nil), metav1.CreateOptions{})
			return err
		}},
		{"Service updated", func() error {
			_, err := f.kube.CoreV1().Services("default").Update(ctx, testutil.Service("default", "a", testutil.Labels("app", "a")), metav1.UpdateOptions{})
			return err
		}},
		{"pod created", func() error {
			_, err := f.kube.CoreV1().Pods("default").Create(ctx, testutil.Pod("default", "a", testutil.WithLabels("app", "a")), metav1.CreateOptions{})
			return err
		}},
		{"pod deleted", func() error {
			return f.kube.CoreV1().Pods("default").Delete(ctx, "a", metav1.DeleteOptions{})
		}},
		{"Service deleted", func() error {
			return f.kube.CoreV1().Services("default").Delete(ctx, "a", metav1.DeleteOptions{})
		}},
		{"PeerAuthentication created", func() error {
			_, err := f.istio.SecurityV1().PeerAuthentications("default").Create(ctx, testutil.PeerAuth("default", "default", 0, testutil.PAStrict), metav1.CreateOptions{})
			return err
		}},
		{"PeerAuthentication updated", func() error {
			_, err := f.istio.SecurityV1().PeerAuthentications("default").Update(ctx, testutil.PeerAuth("default", "default", 0, testutil.PADisable), metav1.UpdateOptions{})
			return err
		}},
		{"PeerAuthentication deleted", func() error {
			return f.istio.SecurityV1().PeerAuthentications("default").Delete(ctx, "default", metav1.DeleteOptions{})
		}},
		{"DestinationRule created", func() error {
			_, err := f.istio.NetworkingV1().DestinationRules("default").Create(ctx, testutil.Rule("default", "a", "a", 0), metav1.CreateOptions{})
			return err
		}},
		{"DestinationRule updated", func() error {
			_, err := f.istio.NetworkingV1().DestinationRules("default").Update(ctx, testutil.Rule("default", "a", "a", 0, testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)), metav1.UpdateOptions{})
			return err
		}},
		{"DestinationRule deleted", func() error {
			return f.istio.NetworkingV1().DestinationRules("default").Delete(ctx, "a", metav1.DeleteOptions{})
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			// Each step is one event, so one notification, which the previous
			// step consumed: the channel is empty here.
			if err := step.do(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-w.Changes():
			case <-time.After(waitLimit):
				t.Fatalf("no change notified within %v", waitLimit)
			}
		})
	}

}
