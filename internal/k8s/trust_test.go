// Tests of the root bundles on fake clientsets: the istio-ca-root-cert ConfigMaps of every watched
// namespace and the root namespace, parsed from real PEMs, following a rotation; the informers
// field-selected by name and trimmed; never a Secret; each PEM parsed once.

package k8s

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/istio"
)

// testRoot is a self-signed ECDSA root made with crypto/x509, its PEM and
// the SHA-256 of its DER.
type testRoot struct{ pem, fingerprint, subject string }

func newTestRoot(t *testing.T, cn string, serial int64) testRoot {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{Organization: []string{"cluster.local"}, CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return testRoot{
		pem:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		fingerprint: hex.EncodeToString(sum[:]),
		subject:     "CN=" + cn + ",O=cluster.local",
	}
}

// rootBundleCM is namespace's istio-ca-root-cert holding pemText (no
// root-cert.pem key when pemText is "-").
func rootBundleCM(namespace, pemText string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: graph.RootBundleName,
		Labels: map[string]string{"istio.io/config": "true"}}}
	if pemText != "-" {
		cm.Data = map[string]string{graph.RootBundleKey: pemText}
	}
	return cm
}

// bundleSummary is a RootBundle as "namespace/configmap: fingerprints | error".
func bundleSummary(b graph.RootBundle) string {
	var fps []string
	for _, c := range b.Certs {
		fps = append(fps, c.Fingerprint[:12])
	}
	return fmt.Sprintf("%s/%s: %s | %s", b.Namespace, b.ConfigMap, strings.Join(fps, ","), b.Error)
}

func bundleSummaries(c graph.Cluster) []string {
	var out []string
	for _, b := range c.Roots {
		out = append(out, bundleSummary(b))
	}
	return out
}

func summary(namespace string, roots []testRoot, err string) string {
	var fps []string
	for _, r := range roots {
		fps = append(fps, r.fingerprint[:12])
	}
	return fmt.Sprintf("%s/%s: %s | %s", namespace, graph.RootBundleName, strings.Join(fps, ","), err)
}

// rootsAre checks c.Roots against want, in namespace order.
func rootsAre(want ...string) func(graph.Cluster) string {
	return func(c graph.Cluster) string {
		if got := bundleSummaries(c); !slices.Equal(got, want) {
			return fmt.Sprintf("roots\n  %q\nwant\n  %q", got, want)
		}
		return ""
	}
}

// TestWatcherRootBundles: every namespace's bundle, the mesh config's
// aliases, a rotation followed, a namespace-scoped watcher seeing the root
// namespace's bundle too.
func TestWatcherRootBundles(t *testing.T) {
	oldRoot, newRoot := newTestRoot(t, "Root 2026", 1), newTestRoot(t, "Root 2027", 2)
	const bad = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	objects := func() []runtime.Object {
		return []runtime.Object{
			namespaceObject("istio-system"), namespaceObject("default"), namespaceObject("shop"), namespaceObject("broken"), namespaceObject("bare"),
			meshConfig("trustDomain: corp.example\ntrustDomainAliases: [old.example, cluster.local]\n"),
			rootBundleCM("istio-system", oldRoot.pem),
			rootBundleCM("default", oldRoot.pem),
			rootBundleCM("shop", newRoot.pem+oldRoot.pem), // a rotation under way
			rootBundleCM("broken", oldRoot.pem+bad),
			rootBundleCM("bare", "-"),
			// Another ConfigMap of the same namespace is no bundle.
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "app-config"}, Data: map[string]string{graph.RootBundleKey: newRoot.pem}},
		}
	}
	badErr := "block 2 is a PRIVATE KEY, not a CERTIFICATE"
	noKey := "no root-cert.pem in the ConfigMap"

	t.Run("all namespaces", func(t *testing.T) {
		f := newFakeAPI(objects(), nil)
		w, err := NewWatcher(f.options(nil, ""))
		if err != nil {
			t.Fatal(err)
		}
		startWatcher(t, w)
		f.waitForWatches(t, nil, "istio-system")
		clusterEventually(t, w, "the bundles of every namespace", rootsAre(
			summary("bare", nil, noKey),
			summary("broken", []testRoot{oldRoot}, badErr),
			summary("default", []testRoot{oldRoot}, ""),
			summary("istio-system", []testRoot{oldRoot}, ""),
			summary("shop", []testRoot{newRoot, oldRoot}, ""),
		))
		clusterEventually(t, w, "the mesh config's trust domain and aliases", func(c graph.Cluster) string {
			if c.TrustDomain != "corp.example" || !slices.Equal(c.TrustDomainAliases, []string{"cluster.local", "old.example"}) || c.RootNamespace != "istio-system" {
				return fmt.Sprintf("trust domain %q, aliases %q, root namespace %q", c.TrustDomain, c.TrustDomainAliases, c.RootNamespace)
			}
			return ""
		})
		c, err := w.Cluster()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range c.Roots {
			if b.Namespace == "istio-system" {
				if cert := b.Certs[0]; cert.Subject != oldRoot.subject || !cert.SelfSigned || cert.KeyAlgorithm != "ECDSA" || cert.Serial != "1" {
					t.Errorf("istio-system's root parsed as %+v", cert)
				}
			}
		}

		// The rotation reaches the root namespace, then the old root leaves it.
		ctx := context.Background()
		drain(w)
		if _, err := f.kube.CoreV1().ConfigMaps("istio-system").Update(ctx, rootBundleCM("istio-system", newRoot.pem+oldRoot.pem), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitForChange(t, w)
		clusterEventually(t, w, "the rotation in the root namespace", rootsAre(
			summary("bare", nil, noKey),
			summary("broken", []testRoot{oldRoot}, badErr),
			summary("default", []testRoot{oldRoot}, ""),
			summary("istio-system", []testRoot{newRoot, oldRoot}, ""),
			summary("shop", []testRoot{newRoot, oldRoot}, ""),
		))
		if _, err := f.kube.CoreV1().ConfigMaps("istio-system").Update(ctx, rootBundleCM("istio-system", newRoot.pem), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := f.kube.CoreV1().ConfigMaps("bare").Delete(ctx, graph.RootBundleName, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		clusterEventually(t, w, "the old root gone from the root namespace, bare's bundle deleted", rootsAre(
			summary("broken", []testRoot{oldRoot}, badErr),
			summary("default", []testRoot{oldRoot}, ""),
			summary("istio-system", []testRoot{newRoot}, ""),
			summary("shop", []testRoot{newRoot, oldRoot}, ""),
		))
	})

	t.Run("one namespace: the root namespace's bundle too, no other", func(t *testing.T) {
		f := newFakeAPI(objects(), nil)
		w, err := NewWatcher(f.options([]string{"default"}, ""))
		if err != nil {
			t.Fatal(err)
		}
		startWatcher(t, w)
		f.waitForWatches(t, []string{"default"}, "istio-system")
		c, err := w.Cluster()
		if err != nil {
			t.Fatal(err)
		}
		if problem := rootsAre(summary("default", []testRoot{oldRoot}, ""), summary("istio-system", []testRoot{oldRoot}, ""))(c); problem != "" {
			t.Error(problem)
		}
		if !slices.Equal(c.Namespaces, []string{"default"}) {
			t.Errorf("Namespaces %q: the root namespace's bundle must not make it shown", c.Namespaces)
		}
		// A change in the root namespace is followed although it is not shown.
		if _, err := f.kube.CoreV1().ConfigMaps("istio-system").Update(context.Background(), rootBundleCM("istio-system", newRoot.pem), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		clusterEventually(t, w, "the root namespace's rotation", rootsAre(summary("default", []testRoot{oldRoot}, ""), summary("istio-system", []testRoot{newRoot}, "")))
	})
}

// drain empties w's change channel.
func drain(w *Watcher) {
	for {
		select {
		case <-w.Changes():
		default:
			return
		}
	}
}

func waitForChange(t *testing.T, w *Watcher) {
	t.Helper()
	select {
	case <-w.Changes():
	case <-time.After(waitLimit):
		t.Fatalf("no change notified within %v", waitLimit)
	}
}

// TestRootBundleInformersAreFieldSelected: every list and watch of
// ConfigMaps selects istio-ca-root-cert by name (RBAC grants nothing else),
// one per kube scope plus the root namespace; no Secret is ever asked for;
// the cache keeps only the bundle's PEM.
func TestRootBundleInformersAreFieldSelected(t *testing.T) {
	root := newTestRoot(t, "Root", 1)
	for _, tc := range []struct {
		name       string
		namespaces []string
		wantScopes []string // namespaces listed and watched ("" = all)
	}{
		{name: "all namespaces", wantScopes: []string{""}},
		{name: "two namespaces and the root namespace", namespaces: []string{"shop", "default"}, wantScopes: []string{"default", "istio-system", "shop"}},
		{name: "the root namespace listed", namespaces: []string{"istio-system", "default"}, wantScopes: []string{"default", "istio-system"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm := rootBundleCM("default", root.pem)
			cm.Annotations = map[string]string{lastApplied: strings.Repeat("x", 1000)}
			cm.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "pilot-discovery"}}
			cm.Data["extra"] = "not the bundle"
			cm.ResourceVersion = "7"
			f := newFakeAPI([]runtime.Object{cm}, nil)

			var mu sync.Mutex
			selectors := map[string][]string{} // "list ns" / "watch ns" → field selectors
			f.kube.PrependReactor("list", "configmaps", func(action k8stesting.Action) (bool, runtime.Object, error) {
				mu.Lock()
				defer mu.Unlock()
				key := "list " + action.GetNamespace()
				selectors[key] = append(selectors[key], action.(k8stesting.ListAction).GetListRestrictions().Fields.String())
				return false, nil, nil
			})
			f.kube.PrependWatchReactor("configmaps", func(action k8stesting.Action) (bool, watch.Interface, error) {
				mu.Lock()
				defer mu.Unlock()
				key := "watch " + action.GetNamespace()
				selectors[key] = append(selectors[key], action.(k8stesting.WatchAction).GetWatchRestrictions().Fields.String())
				return false, nil, nil
			})

			w, err := NewWatcher(f.options(tc.namespaces, ""))
			if err != nil {
				t.Fatal(err)
			}
			startWatcher(t, w)
			f.waitForWatches(t, tc.namespaces, "istio-system")

			mu.Lock()
			got := maps.Clone(selectors)
			mu.Unlock()
			var wantKeys []string
			for _, ns := range tc.wantScopes {
				wantKeys = append(wantKeys, "list "+ns, "watch "+ns)
			}
			slices.Sort(wantKeys)
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, wantKeys) {
				t.Errorf("ConfigMaps listed and watched as %q, want %q", keys, wantKeys)
			}
			for key, list := range got {
				for _, selector := range list {
					if selector != "metadata.name=istio-ca-root-cert" {
						t.Errorf("%s ConfigMaps with field selector %q, want metadata.name=istio-ca-root-cert", key, selector)
					}
				}
			}
			for _, action := range f.kube.Actions() {
				if action.GetResource().Resource == "secrets" {
					t.Errorf("a Secret was asked for: %s %s", action.GetVerb(), action.GetNamespace())
				}
			}

			// The cache holds the name, namespace, resourceVersion and PEM only.
			items, err := listAll[*corev1.ConfigMap](w.roots)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 {
				t.Fatalf("%d ConfigMaps cached, want default's bundle", len(items))
			}
			want := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: graph.RootBundleName, ResourceVersion: "7"},
				Data: map[string]string{graph.RootBundleKey: root.pem}}
			if got := items[0]; got.String() != want.String() {
				t.Errorf("cached\n  %v\nwant\n  %v", got, want)
			}
		})
	}
}

// The parse cache parses each distinct PEM once, however many namespaces
// hold it and however often the cluster is read, and forgets PEMs gone.
func TestRootParseCache(t *testing.T) {
	a, b := newTestRoot(t, "A", 1), newTestRoot(t, "B", 2)
	var parsed []string
	c := rootParseCache{parse: func(text string) ([]graph.RootCert, error) {
		parsed = append(parsed, text)
		return istio.ParseRootBundle(text)
	}}
	cms := func(pems ...string) []*corev1.ConfigMap {
		var out []*corev1.ConfigMap
		for i, p := range pems {
			out = append(out, rootBundleCM(fmt.Sprintf("ns%d", i), p))
		}
		return out
	}

	first := c.bundles(cms(a.pem, a.pem, a.pem, "-"))
	if len(parsed) != 1 || len(first) != 4 || first[2].Certs[0].Fingerprint != a.fingerprint || first[3].Error == "" {
		t.Fatalf("first read: %d parses, bundles %+v", len(parsed), first)
	}
	// A reader changing one bundle's certificates changes no other bundle, nor the cache.
	first[0].Certs[0].Subject = "changed"
	if again := c.bundles(cms(a.pem, a.pem, a.pem, "-")); len(parsed) != 1 || again[0].Certs[0].Subject != a.subject || first[1].Certs[0].Subject != a.subject {
		t.Errorf("read again: %d parses (want 1), subjects %q, %q", len(parsed), again[0].Certs[0].Subject, first[1].Certs[0].Subject)
	}
	rotated := c.bundles(cms(b.pem+a.pem, a.pem))
	if len(parsed) != 2 || len(rotated[0].Certs) != 2 || rotated[1].Certs[0].Fingerprint != a.fingerprint {
		t.Errorf("after a rotation: %d parses (want 2), bundles %+v", len(parsed), rotated)
	}
	c.bundles(cms(b.pem))
	if keys := slices.Collect(maps.Keys(c.parsed)); len(keys) != 1 || keys[0] != b.pem {
		t.Errorf("cache holds %d PEMs, want only the one present", len(keys))
	}
}
