// The root bundles: informers of the istio-ca-root-cert ConfigMaps only (field-selected by name,
// trimmed to root-cert.pem), and their PEMs parsed once per content for the trust inventory.

package k8s

import (
	"cmp"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/meshlock/meshlock/internal/graph"
)

// rootBundleSelector selects the one ConfigMap istiod writes the root
// bundle into in each namespace (istiod's own informer of them selects it
// the same way: pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go).
// It is also what lets RBAC grant meshlock list and watch on that name
// alone: the API server takes a list's or watch's name from a
// metadata.name field selector (k8s.io/apiserver
// pkg/endpoints/request/requestinfo.go), and RBAC's resourceNames match
// only a request that has one.
var rootBundleSelector = fields.OneTermEqualSelector("metadata.name", graph.RootBundleName).String()

// newRootBundleInformer is a factory, to be started with the others, whose
// one informer lists and watches namespace's ("" for all) root bundle
// ConfigMaps and nothing else.
func newRootBundleInformer(kube kubernetes.Interface, namespace string) (informers.SharedInformerFactory, cache.SharedIndexInformer, corelisters.ConfigMapLister, error) {
	factory := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = rootBundleSelector }))
	configMaps := factory.Core().V1().ConfigMaps()
	if err := configMaps.Informer().SetTransform(slimRootBundle); err != nil {
		return nil, nil, nil, err
	}
	return factory, configMaps.Informer(), configMaps.Lister(), nil
}

// slimRootBundle keeps of a ConfigMap its name, namespace, resourceVersion
// and the bundle's PEM: the rest (labels, managed fields, any other key)
// no reader needs.
func slimRootBundle(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return stripMeta(obj) // a tombstone
	}
	out := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cm.Name, Namespace: cm.Namespace, ResourceVersion: cm.ResourceVersion}}
	if pem, ok := cm.Data[graph.RootBundleKey]; ok && cm.Name == graph.RootBundleName {
		out.Data = map[string]string{graph.RootBundleKey: pem}
	}
	return out, nil
}

// rootBundles is every root bundle the caches hold, by namespace.
func (w *Watcher) rootBundles() ([]graph.RootBundle, error) {
	items, err := listAll[*corev1.ConfigMap](w.roots)
	if err != nil {
		return nil, err
	}
	// The selector is the API server's to apply (a fake clientset ignores
	// it): only the bundles count.
	items = slices.DeleteFunc(items, func(cm *corev1.ConfigMap) bool { return cm.Name != graph.RootBundleName })
	slices.SortFunc(items, func(a, b *corev1.ConfigMap) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return w.rootParses.bundles(items), nil
}

// rootParseCache keeps each bundle's parse by its PEM text, so that a
// refresh parses only what changed: the same bundle is copied into every
// namespace, and changes only with a rotation.
type rootParseCache struct {
	parse func(pemText string) ([]graph.RootCert, error) // istio.ParseRootBundle

	mu     sync.Mutex
	parsed map[string]rootParse // by PEM text; only those of the last call
}

type rootParse struct {
	certs []graph.RootCert
	err   string
}

// bundles turns each ConfigMap into its RootBundle, then forgets the
// parses of PEMs no longer present.
func (c *rootParseCache) bundles(configMaps []*corev1.ConfigMap) []graph.RootBundle {
	c.mu.Lock()
	defer c.mu.Unlock()
	present := make(map[string]rootParse, len(c.parsed))
	out := make([]graph.RootBundle, 0, len(configMaps))
	for _, cm := range configMaps {
		bundle := graph.RootBundle{Namespace: cm.Namespace, ConfigMap: cm.Name}
		text, ok := cm.Data[graph.RootBundleKey]
		if !ok {
			bundle.Error = "no " + graph.RootBundleKey + " in the ConfigMap"
			out = append(out, bundle)
			continue
		}
		p, seen := present[text]
		if !seen {
			if p, seen = c.parsed[text]; !seen {
				certs, err := c.parse(text)
				p = rootParse{certs: certs}
				if err != nil {
					p.err = err.Error()
				}
			}
			present[text] = p
		}
		// A copy each: a reader changing one bundle changes no other, nor the cache.
		bundle.Certs, bundle.Error = slices.Clone(p.certs), p.err
		out = append(out, bundle)
	}
	c.parsed = present
	return out
}
