// The Watcher's Cluster: one consistent read of every informer cache, turned into the graph's Cluster.

package k8s

import (
	"slices"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/istio"
)

// Cluster answers from the caches what the graph needs: Services with the
// workloads they select, which workloads have a sidecar, the policy Istio
// applies to each Service, the trust domain and its aliases, and the root
// bundles of the root namespace and every watched namespace.
func (w *Watcher) Cluster() (graph.Cluster, error) {
	state, err := w.list()
	if err != nil {
		return graph.Cluster{}, err
	}
	roots, err := w.rootBundles()
	if err != nil {
		return graph.Cluster{}, err
	}
	c := istio.BuildCluster(state, w.opts.RootNamespace)
	mesh := w.meshConfig()
	c.TrustDomain, c.TrustDomainAliases = mesh.trustDomain, mesh.aliases
	c.Authorize, c.AccessPolicies = istio.Authorization(state, w.opts.RootNamespace, mesh.trustDomain, mesh.aliases)
	c.RootNamespace = w.opts.RootNamespace
	c.Roots = roots
	return c, nil
}

// list is one consistent read of every cache.
func (w *Watcher) list() (istio.Objects, error) {
	var s istio.Objects
	var err error
	if s.Services, err = listAll[*corev1.Service](w.services); err != nil {
		return s, err
	}
	if s.Pods, err = listAll[*corev1.Pod](w.pods); err != nil {
		return s, err
	}
	if s.Rules, err = listAll[*networkingv1.DestinationRule](w.rules); err != nil {
		return s, err
	}
	if s.Authns, err = listAll[*securityv1.PeerAuthentication](w.authns); err != nil {
		return s, err
	}
	if s.Authzs, err = listAll[*securityv1.AuthorizationPolicy](w.authzs); err != nil {
		return s, err
	}
	if w.namespaces == nil {
		s.Namespaces = slices.Clone(w.opts.Namespaces)
	} else {
		items, err := w.namespaces.List(labels.Everything())
		if err != nil {
			return s, err
		}
		s.NamespaceLabels = make(map[string]map[string]string, len(items))
		for _, ns := range items {
			s.Namespaces = append(s.Namespaces, ns.Name)
			s.NamespaceLabels[ns.Name] = ns.Labels
		}
	}
	return s, nil
}

// listAll concatenates what every lister of one kind holds (one per
// watched namespace, or one for all).
func listAll[T any, L interface {
	List(labels.Selector) ([]T, error)
}](listers []L) ([]T, error) {
	var out []T
	for _, l := range listers {
		items, err := l.List(labels.Everything())
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}
