// The Watcher: informer caches of Services, Pods, Namespaces, Istio policy and Istio's root
// bundles, per watched namespace or cluster-wide, with sync status and change notifications.

package k8s

import (
	"github.com/meshlock/meshlock/internal/istio"
	"time"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	networkinglisters "istio.io/client-go/pkg/listers/networking/v1"
	securitylisters "istio.io/client-go/pkg/listers/security/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Options configures a Watcher.
type Options struct {
	// Kube is the Kubernetes API. Required.
	Kube kubernetes.Interface
	// Istio is the Istio API (DestinationRules, PeerAuthentications). Required.
	Istio istioclient.Interface
	// Namespaces limits what is watched and shown; empty watches all
	// namespaces (and needs cluster-wide list/watch rights).
	Namespaces []string
	// RootNamespace holds mesh-wide policy. Default "istio-system".
	RootNamespace string
	// Logger receives informer errors. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) validate() error {
	if o.Kube == nil || o.Istio == nil {
		return errors.New("k8s: Kube and Istio clients are required")
	}
	if o.RootNamespace == "" {
		o.RootNamespace = istio.DefaultRootNamespace
	}
	// A namespace listed twice would be watched, and its objects shown, twice.
	var namespaces []string
	for _, ns := range o.Namespaces {
		namespaces = appendMissing(namespaces, ns)
	}
	o.Namespaces = namespaces
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Watcher keeps informer caches of the objects that decide a mesh's mTLS
// and answers from them, without calling the API server.
type Watcher struct {
	opts Options

	kubeFactories  []informers.SharedInformerFactory
	istioFactories []istioinformers.SharedInformerFactory
	synced         []cache.InformerSynced

	services    []corelisters.ServiceLister
	pods        []corelisters.PodLister
	namespaces  corelisters.NamespaceLister // nil when Namespaces is set
	rules       []networkinglisters.DestinationRuleLister
	authns      []securitylisters.PeerAuthenticationLister
	authzs      []securitylisters.AuthorizationPolicyLister
	changeNotes chan struct{}

	// roots are the istio-ca-root-cert ConfigMaps' listers, one per kube
	// scope plus the root namespace; rootParses caches their parsed PEMs.
	roots      []corelisters.ConfigMapLister
	rootParses rootParseCache

	mu   sync.Mutex
	mesh meshIdentity // the mesh config's, read by followMeshConfig
}

// NewWatcher prepares the informers; Start runs them.
func NewWatcher(opts Options) (*Watcher, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	w := &Watcher{opts: opts, changeNotes: make(chan struct{}, 1), mesh: meshIdentity{trustDomain: DefaultTrustDomain},
		rootParses: rootParseCache{parse: istio.ParseRootBundle}}
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.noteChange() },
		UpdateFunc: func(any, any) { w.noteChange() },
		DeleteFunc: func(any) { w.noteChange() },
	}

	kubeScopes := []string{""} // "" is every namespace
	istioScopes := []string{""}
	if len(opts.Namespaces) > 0 {
		kubeScopes = slices.Clone(opts.Namespaces)
		// Mesh-wide policy lives in the root namespace even when it is not shown.
		istioScopes = appendMissing(slices.Clone(opts.Namespaces), opts.RootNamespace)
	}
	for _, ns := range kubeScopes {
		factory := informers.NewSharedInformerFactoryWithOptions(opts.Kube, 0, informers.WithNamespace(ns))
		services := factory.Core().V1().Services()
		pods := factory.Core().V1().Pods()
		// Transforms must be set before the informers start.
		if err := pods.Informer().SetTransform(slimPod); err != nil {
			return nil, err
		}
		if err := services.Informer().SetTransform(stripMeta); err != nil {
			return nil, err
		}
		for _, informer := range []cache.SharedIndexInformer{services.Informer(), pods.Informer()} {
			if _, err := informer.AddEventHandler(notify); err != nil {
				return nil, err
			}
			w.synced = append(w.synced, informer.HasSynced)
		}
		w.services = append(w.services, services.Lister())
		w.pods = append(w.pods, pods.Lister())
		if ns == "" {
			namespaces := factory.Core().V1().Namespaces()
			if _, err := namespaces.Informer().AddEventHandler(notify); err != nil {
				return nil, err
			}
			w.synced = append(w.synced, namespaces.Informer().HasSynced)
			w.namespaces = namespaces.Lister()
		}
		w.kubeFactories = append(w.kubeFactories, factory)
	}
	// The root bundles: the root namespace's is the one every other
	// namespace's copy is compared with, so it is read even when not shown,
	// as mesh-wide policy is.
	for _, ns := range istioScopes {
		factory, informer, lister, err := newRootBundleInformer(opts.Kube, ns)
		if err != nil {
			return nil, err
		}
		if _, err := informer.AddEventHandler(notify); err != nil {
			return nil, err
		}
		w.synced = append(w.synced, informer.HasSynced)
		w.roots = append(w.roots, lister)
		w.kubeFactories = append(w.kubeFactories, factory)
	}
	for _, ns := range istioScopes {
		factory := istioinformers.NewSharedInformerFactoryWithOptions(opts.Istio, 0, istioinformers.WithNamespace(ns))
		policy := NewPolicyInformers(factory, ns)
		authz, authzLister := NewAuthorizationInformer(factory, ns)
		for _, informer := range []cache.SharedIndexInformer{policy.DestinationRules, policy.PeerAuthentications, authz} {
			if err := informer.SetTransform(stripMeta); err != nil {
				return nil, err
			}
			if _, err := informer.AddEventHandler(notify); err != nil {
				return nil, err
			}
			w.synced = append(w.synced, informer.HasSynced)
		}
		w.rules = append(w.rules, policy.RuleLister)
		w.authns = append(w.authns, policy.AuthnLister)
		w.authzs = append(w.authzs, authzLister)
		w.istioFactories = append(w.istioFactories, factory)
	}
	return w, nil
}

// Start runs the informers until ctx ends. It does not wait for them.
func (w *Watcher) Start(ctx context.Context) {
	for _, f := range w.kubeFactories {
		f.Start(ctx.Done())
	}
	for _, f := range w.istioFactories {
		f.Start(ctx.Done())
	}
	go w.followMeshConfig(ctx)
}

// WaitForSync blocks until every cache has its first full list, or ctx ends.
func (w *Watcher) WaitForSync(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), w.synced...) {
		return fmt.Errorf("kubernetes caches not synced: %w", ctx.Err())
	}
	return nil
}

// Synced reports whether every cache has had its first full list.
func (w *Watcher) Synced() bool {
	for _, synced := range w.synced {
		if !synced() {
			return false
		}
	}
	return true
}

// reachTimeout bounds Reachable: an API server that does not answer within
// it is down for this refresh.
const reachTimeout = 2 * time.Second

// Reachable asks the API server's /readyz, which every authenticated
// identity may read (Kubernetes' system:public-info-viewer ClusterRole).
// The caches keep answering while the server is down, so only a request
// tells the outage, and the cluster's part is then marked stale. A client
// without a REST client (client-go's fakes) is always reachable.
func (w *Watcher) Reachable(ctx context.Context) error {
	rc := w.opts.Kube.Discovery().RESTClient()
	if rc == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	if err := rc.Get().AbsPath("/readyz").Do(ctx).Error(); err != nil {
		return fmt.Errorf("the API server does not answer: %w", err)
	}
	return nil
}

// Changes receives a value (coalesced) after any watched object changes,
// so a caller can rebuild sooner than its next refresh.
func (w *Watcher) Changes() <-chan struct{} { return w.changeNotes }

func (w *Watcher) noteChange() {
	select {
	case w.changeNotes <- struct{}{}:
	default:
	}
}

func appendMissing(list []string, item string) []string {
	if slices.Contains(list, item) {
		return list
	}
	return append(list, item)
}
