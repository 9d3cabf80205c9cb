// Informers of DestinationRules and PeerAuthentications that list then watch (no WatchList
// streaming), so they sync against the demo's fake Istio clientset too.

package k8s

import (
	"context"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	networkinglisters "istio.io/client-go/pkg/listers/networking/v1"
	securitylisters "istio.io/client-go/pkg/listers/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// PolicyInformers are the informers of the two Istio kinds that decide
// mTLS, registered with factory (whose namespace scope they take) so that
// factory.Start runs them.
type PolicyInformers struct {
	DestinationRules    cache.SharedIndexInformer
	PeerAuthentications cache.SharedIndexInformer
	RuleLister          networkinglisters.DestinationRuleLister
	AuthnLister         securitylisters.PeerAuthenticationLister
}

// NewPolicyInformers lists then watches, without client-go's WatchList
// streaming: istio's generated fake clientset (the demo's) never sends the
// initial-events bookmark, so a streaming informer would never sync against
// it; and these lists are small in any mesh.
func NewPolicyInformers(factory istioinformers.SharedInformerFactory, namespace string) PolicyInformers {
	rules := istioInformer(factory, &networkingv1.DestinationRule{}, func(c istioclient.Interface) listWatcher[*networkingv1.DestinationRuleList] {
		return c.NetworkingV1().DestinationRules(namespace)
	})
	authns := istioInformer(factory, &securityv1.PeerAuthentication{}, func(c istioclient.Interface) listWatcher[*securityv1.PeerAuthenticationList] {
		return c.SecurityV1().PeerAuthentications(namespace)
	})
	return PolicyInformers{
		DestinationRules:    rules,
		PeerAuthentications: authns,
		RuleLister:          networkinglisters.NewDestinationRuleLister(rules.GetIndexer()),
		AuthnLister:         securitylisters.NewPeerAuthenticationLister(authns.GetIndexer()),
	}
}

// NewAuthorizationInformer is the AuthorizationPolicies' informer, listing
// then watching like NewPolicyInformers', with its lister. meshlock reads
// them to tell ambient workloads whose L7 rules no waypoint enforces.
func NewAuthorizationInformer(factory istioinformers.SharedInformerFactory, namespace string) (cache.SharedIndexInformer, securitylisters.AuthorizationPolicyLister) {
	informer := istioInformer(factory, &securityv1.AuthorizationPolicy{}, func(c istioclient.Interface) listWatcher[*securityv1.AuthorizationPolicyList] {
		return c.SecurityV1().AuthorizationPolicies(namespace)
	})
	return informer, securitylisters.NewAuthorizationPolicyLister(informer.GetIndexer())
}

// listWatcher is what every typed Istio client of one kind and namespace
// has, its List answering that kind's list type.
type listWatcher[L runtime.Object] interface {
	List(context.Context, metav1.ListOptions) (L, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
}

// istioInformer registers with factory a list-then-watch informer of
// example's kind, listed and watched through the typed client picks.
func istioInformer[L runtime.Object](factory istioinformers.SharedInformerFactory, example runtime.Object, client func(istioclient.Interface) listWatcher[L]) cache.SharedIndexInformer {
	return factory.InformerFor(example, func(c istioclient.Interface, _ time.Duration) cache.SharedIndexInformer {
		typed := client(c)
		return listThenWatchInformer(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return typed.List(ctx, o)
			},
			WatchFuncWithContext: typed.Watch,
		}, example)
	})
}

func listThenWatchInformer(lw *cache.ListWatch, example runtime.Object) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(listThenWatch{lw}, example, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}

type listThenWatch struct{ *cache.ListWatch }

// IsWatchListSemanticsUnSupported tells the reflector not to use WatchList.
func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }
