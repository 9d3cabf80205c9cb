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
	rules := factory.InformerFor(&networkingv1.DestinationRule{}, func(c istioclient.Interface, _ time.Duration) cache.SharedIndexInformer {
		return listThenWatchInformer(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return c.NetworkingV1().DestinationRules(namespace).List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return c.NetworkingV1().DestinationRules(namespace).Watch(ctx, o)
			},
		}, &networkingv1.DestinationRule{})
	})
	authns := factory.InformerFor(&securityv1.PeerAuthentication{}, func(c istioclient.Interface, _ time.Duration) cache.SharedIndexInformer {
		return listThenWatchInformer(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return c.SecurityV1().PeerAuthentications(namespace).List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return c.SecurityV1().PeerAuthentications(namespace).Watch(ctx, o)
			},
		}, &securityv1.PeerAuthentication{})
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
	informer := factory.InformerFor(&securityv1.AuthorizationPolicy{}, func(c istioclient.Interface, _ time.Duration) cache.SharedIndexInformer {
		return listThenWatchInformer(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return c.SecurityV1().AuthorizationPolicies(namespace).List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return c.SecurityV1().AuthorizationPolicies(namespace).Watch(ctx, o)
			},
		}, &securityv1.AuthorizationPolicy{})
	})
	return informer, securitylisters.NewAuthorizationPolicyLister(informer.GetIndexer())
}

func listThenWatchInformer(lw *cache.ListWatch, example runtime.Object) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(listThenWatch{lw}, example, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}

type listThenWatch struct{ *cache.ListWatch }

// IsWatchListSemanticsUnSupported tells the reflector not to use WatchList.
func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }
