// Wiring of the binary: opens the cluster and Prometheus clients (or the demo world), picks the
// authenticator for --auth, and builds and starts the app (watcher, refresh loop, web handler).

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/demo"
	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/live"
	"github.com/meshlock/meshlock/internal/prom"
	"github.com/meshlock/meshlock/internal/report"
	"github.com/meshlock/meshlock/web"
)

// sources are the clients of the world meshlock looks at: a real cluster
// and Prometheus, or the demo's.
type sources struct {
	kube          kubernetes.Interface
	istio         istioclient.Interface
	prometheusURL string
	close         func() error
	// restConfig is the server's own connection (nil in the demo); with
	// --auth=token, requests act with a copy that carries the user's token.
	restConfig *rest.Config
	// auditNamespace is where the audit trail lives by default.
	auditNamespace string
	// clusters are the clusters watched: one, named "" (kube and istio
	// above), or several (--cluster, the demo's two), each named.
	clusters []clusterSource
}

// clusterSource is one cluster's clients.
type clusterSource struct {
	name       string
	kube       kubernetes.Interface
	istio      istioclient.Interface
	restConfig *rest.Config // nil in the demo
}

// names are the clusters' names when there are several, else nil.
func (s sources) names() []string {
	if len(s.clusters) < 2 {
		return nil
	}
	out := make([]string, len(s.clusters))
	for i, c := range s.clusters {
		out[i] = c.name
	}
	return out
}

// openSources connects to the cluster named by the flags, or starts the demo world.
func openSources(ctx context.Context, cfg config, logger *slog.Logger) (sources, error) {
	if cfg.Demo {
		env, err := demo.StartWith(ctx, logger, demo.Options{Clusters: max(cfg.DemoClusters, 1)})
		if err != nil {
			return sources{}, fmt.Errorf("demo: %w", err)
		}
		return demoSources(env), nil
	}
	contexts := []clusterFlag{{Context: cfg.Context}}
	if len(cfg.Clusters) > 0 {
		contexts = cfg.Clusters
	}
	src := sources{prometheusURL: cfg.PrometheusURL, close: func() error { return nil }, auditNamespace: ownNamespace()}
	for _, c := range contexts {
		restConfig, err := kubeConfig(cfg.Kubeconfig, c.Context)
		if err != nil {
			if c.Name != "" {
				return sources{}, fmt.Errorf("kubernetes config of cluster %s: %w", c.Name, err)
			}
			return sources{}, fmt.Errorf("kubernetes config: %w", err)
		}
		restConfig.UserAgent = "meshlock"
		kube, err := kubernetes.NewForConfig(restConfig)
		if err != nil {
			return sources{}, err
		}
		istio, err := istioclient.NewForConfig(restConfig)
		if err != nil {
			return sources{}, err
		}
		src.clusters = append(src.clusters, clusterSource{name: c.Name, kube: kube, istio: istio, restConfig: restConfig})
	}
	// The first cluster's clients serve what knows one cluster only (the
	// server's identity, token reviews).
	src.kube, src.istio, src.restConfig = src.clusters[0].kube, src.clusters[0].istio, src.clusters[0].restConfig
	return src, nil
}

// demoSources are the demo world's clusters and Prometheus.
func demoSources(env *demo.Env) sources {
	src := sources{kube: env.Kube, istio: env.Istio, prometheusURL: env.PrometheusURL, close: env.Close, auditNamespace: "meshlock"}
	for _, c := range env.Clusters {
		src.clusters = append(src.clusters, clusterSource{name: c.Name, kube: c.Kube, istio: c.Istio})
	}
	return src
}

// ownNamespace is the namespace meshlock runs in (its service account's),
// else "default".
func ownNamespace() string {
	data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if ns := strings.TrimSpace(string(data)); err == nil && ns != "" {
		return ns
	}
	return "default"
}

// authenticator follows --auth: the server's own identity, or each
// request's bearer token checked with a TokenReview.
func authenticator(ctx context.Context, cfg config, src sources, logger *slog.Logger) (web.Authenticator, error) {
	server := k8s.Clients{Kube: src.kube, Istio: src.istio}
	if cfg.Auth == "none" {
		who := "demo"
		if !cfg.Demo {
			reviewCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var err error
			if who, err = k8s.WhoAmI(reviewCtx, src.kube); err != nil {
				logger.Warn("could not learn the server's Kubernetes identity for the audit trail", "error", err)
				who = "meshlock (server identity)"
			}
		}
		actor := web.Actor{Who: who, Clients: server}
		if src.names() != nil {
			actor.ClusterClients = map[string]k8s.Clients{}
			for _, c := range src.clusters {
				actor.ClusterClients[c.name] = k8s.Clients{Kube: c.kube, Istio: c.istio}
			}
		}
		return web.ServerIdentity{Actor: actor}, nil
	}
	if src.restConfig == nil {
		return nil, errors.New("--auth=token needs a Kubernetes API: it cannot be used with --demo")
	}
	if src.names() == nil {
		review, err := tokenReview(cfg, src.restConfig)
		if err != nil {
			return nil, err
		}
		return web.TokenAuth{Reviewer: review.Reviewer, ClientsFor: review.ClientsFor}, nil
	}
	// Several clusters: each reviews the token itself, with its own
	// clients; a cluster that does not accept it is hidden from its holder.
	clusters := map[string]web.ClusterTokenAuth{}
	for _, c := range src.clusters {
		review, err := tokenReview(cfg, c.restConfig)
		if err != nil {
			return nil, err
		}
		clusters[c.name] = review
	}
	return web.TokenAuth{Clusters: clusters}, nil
}

// tokenReview is one cluster's side of --auth=token: its TokenReviews and
// SubjectAccessReviews, and clients that act with the token there.
func tokenReview(cfg config, restConfig *rest.Config) (web.ClusterTokenAuth, error) {
	// Reviews have clients of their own, with their own client-side rate
	// limits (client-go's default, 5 QPS and a burst of 10, shared with the
	// informers, let 150 bad tokens starve everyone: issue 27), one for
	// TokenReviews and one for SubjectAccessReviews, so that unknown tokens
	// never use up the rate known users' rights need.
	reviewClient := func(qps float32, burst int) (kubernetes.Interface, error) {
		c := rest.CopyConfig(restConfig)
		c.QPS, c.Burst = qps, burst
		return kubernetes.NewForConfig(c)
	}
	tokenKube, err := reviewClient(tokenReviewQPS, tokenReviewBurst)
	if err != nil {
		return web.ClusterTokenAuth{}, err
	}
	accessKube, err := reviewClient(accessReviewQPS, accessReviewBurst)
	if err != nil {
		return web.ClusterTokenAuth{}, err
	}
	// Token answers are kept half a refresh: with the streams' recheck every
	// half refresh, a revoked token's stream closes within one refresh.
	// Rights are asked once per refresh (each stream's view at a publish,
	// and every request in between, share the answer).
	reviewer, err := web.NewKubeReviewer(web.KubeReviewerOptions{Kube: accessKube, TokenKube: tokenKube,
		TTL: reviewInterval(cfg.Refresh), AccessTTL: cfg.Refresh})
	if err != nil {
		return web.ClusterTokenAuth{}, err
	}
	return web.ClusterTokenAuth{
		Reviewer: reviewer,
		ClientsFor: func(token string) (k8s.Clients, error) {
			userConfig := rest.AnonymousClientConfig(restConfig)
			userConfig.BearerToken = token
			kube, err := kubernetes.NewForConfig(userConfig)
			if err != nil {
				return k8s.Clients{}, err
			}
			istio, err := istioclient.NewForConfig(userConfig)
			if err != nil {
				return k8s.Clients{}, err
			}
			return k8s.Clients{Kube: kube, Istio: istio}, nil
		},
	}, nil
}

// The review clients' rates (requests per second) and bursts: TokenReviews
// are asked only for tokens not in the cache, at most 5 a second per source
// address (web's default); SubjectAccessReviews once per refresh per user
// and namespace of the mesh.
const (
	tokenReviewQPS    = 20
	tokenReviewBurst  = 40
	accessReviewQPS   = 50
	accessReviewBurst = 100
)

// lookbackStep keeps the look-back's end within one rate window of now: a
// minute, or a shorter window that divides a minute.
func lookbackStep(window time.Duration) time.Duration {
	if window < time.Minute && window%time.Second == 0 && time.Minute%window == 0 {
		return window
	}
	return time.Minute
}

// reviewInterval is how long token and access reviews are cached and how
// often open streams recheck their token: half the refresh interval.
func reviewInterval(refresh time.Duration) time.Duration {
	return max(refresh/2, time.Millisecond)
}

// kubeConfig follows the contract: --kubeconfig if given, else in-cluster
// config, else $KUBECONFIG, else ~/.kube/config; --context picks a context.
func kubeConfig(path, context string) (*rest.Config, error) {
	if path == "" && context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return rest.InClusterConfig()
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
}

// app is everything serve runs: the watcher, the refresh loop and the handler.
type app struct {
	watchers  []*k8s.Watcher // one per cluster
	refresher *live.Loop
	lookback  *live.Lookback // nil when --lookback=0
	hub       *web.Hub
	handler   http.Handler
}

func newApp(ctx context.Context, cfg config, src sources, registry *prometheus.Registry, logger *slog.Logger) (*app, error) {
	if len(src.clusters) == 0 { // one cluster, given by its clients alone
		src.clusters = []clusterSource{{kube: src.kube, istio: src.istio, restConfig: src.restConfig}}
	}
	// Each cluster is a source of its own: its caches, its status, its
	// staleness; Prometheus (one, or a Thanos Querier over all) is one.
	var watchers []*k8s.Watcher
	var clusterSources []live.SourceConfig
	for _, c := range src.clusters {
		w, err := k8s.NewWatcher(k8s.Options{
			Kube: c.kube, Istio: c.istio, Namespaces: cfg.Namespaces,
			RootNamespace: cfg.IstioRootNamespace, Logger: clusterLogger(logger, c.name),
		})
		if err != nil {
			return nil, err
		}
		watchers = append(watchers, w)
		sc := live.SourceConfig{Name: "kubernetes", Source: live.ClusterSource{Reader: w}, Changes: w.Changes()}
		if src.names() != nil {
			sc.Name, sc.Cluster = "kubernetes/"+c.name, c.name
		}
		clusterSources = append(clusterSources, sc)
	}
	promClient, err := prom.New(prom.Options{
		URL: src.prometheusURL, BearerTokenFile: cfg.PrometheusBearerTokenFile, CAFile: cfg.PrometheusCAFile,
		Window: cfg.Window, Registerer: registry, Logger: logger, HistorySeries: cfg.HistorySeries,
		CertNamespaceLabel: cfg.CertNamespaceLabel, CertPodLabel: cfg.CertPodLabel,
	})
	if err != nil {
		return nil, err
	}
	past, pastURL, err := historyClient(cfg, promClient, src.prometheusURL, registry, logger)
	if err != nil {
		return nil, err
	}
	// The look-back reads the past on its own schedule; nil when it is off.
	var lookback *live.Lookback
	var history live.HistorySource
	if cfg.Lookback > 0 {
		lookback, err = live.NewLookback(live.LookbackOptions{Querier: past, Window: cfg.Lookback, Logger: logger,
			Step: lookbackStep(cfg.Window)})
		if err != nil {
			return nil, err
		}
		history = lookback
	}
	thresholds := graph.CertThresholds{RootWarn: cfg.CertWarn, RootCritical: cfg.CertCritical, WorkloadWarn: cfg.WorkloadCertWarn}
	refresher, err := live.NewLoop(live.LoopOptions{
		History: history,
		Sources: append([]live.SourceConfig{
			{Name: "prometheus", Source: live.PrometheusSource{Samples: promClient.Fetch, Certs: promClient.FetchCerts}},
		}, clusterSources...),
		Clusters: src.names(),
		Interval: cfg.Refresh, Window: cfg.Window, Namespaces: cfg.Namespaces, Registerer: registry, Logger: logger,
		Thresholds: thresholds,
	})
	if err != nil {
		return nil, err
	}
	hub, err := web.NewHub(web.HubOptions{Registerer: registry, Logger: logger, TrustedOrigins: cfg.TrustedOrigins,
		MaxViewers: cfg.MaxStreams, MaxViewersPerParty: cfg.MaxStreamsPerUser, RecheckInterval: reviewInterval(cfg.Refresh)})
	if err != nil {
		return nil, err
	}
	refresher.Subscribe(hub.Publish)
	auditNamespace := cmp.Or(cfg.AuditNamespace, src.auditNamespace)
	// Each cluster keeps the audit trail of the changes made in it.
	var enforcer web.Enforcer
	var enforcers map[string]web.Enforcer
	for _, c := range src.clusters {
		e, err := enforce.New(enforce.Options{
			RootNamespace: cfg.IstioRootNamespace, AuditNamespace: auditNamespace,
			// Audit records are the server's to write, whoever acts.
			AuditClient: c.kube, Logger: clusterLogger(logger, c.name),
			// The demo's fake clientsets would store a dry-run write.
			LocalDryRun: cfg.Demo,
			// Mode authorization allows the callers the graph has seen.
			Graph: refresher.Snapshot,
		})
		if err != nil {
			return nil, err
		}
		if src.names() == nil {
			enforcer = e
			continue
		}
		if enforcers == nil {
			enforcers = map[string]web.Enforcer{}
		}
		enforcers[c.name] = e
	}
	auth, err := authenticator(ctx, cfg, src, logger)
	if err != nil {
		return nil, err
	}
	charts, err := live.NewCharts(live.ChartOptions{Ranger: past, Cluster: refresher.Cluster,
		Period: cmp.Or(cfg.Lookback, time.Hour)})
	if err != nil {
		return nil, err
	}
	handler, err := web.NewHandler(web.Options{
		Charts: charts,
		Reports: &report.Generator{Querier: past, Cluster: refresher.Cluster, URL: pastURL,
			Certs: promClient.FetchCerts, Thresholds: thresholds},
		BasePath: cfg.BasePath, Registry: registry, Graph: refresher, Stream: hub,
		AllowEnforce: cfg.AllowEnforce, Enforcer: enforcer, Enforcers: enforcers, Auth: auth, TrustedOrigins: cfg.TrustedOrigins,
		FrameAncestors: cfg.FrameAncestors, MetricsElsewhere: cfg.MetricsAddr != "",
		CheckHost: cfg.Auth == "none", AllowedHosts: cfg.AllowedHosts,
		MaxLongQueries: cfg.MaxLongQueries, MaxLongQueriesPerParty: cfg.MaxLongQueriesPerUser,
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	return &app{watchers: watchers, refresher: refresher, lookback: lookback, hub: hub, handler: handler}, nil
}

// start runs the informers and, once they have synced (or after a minute,
// serving a stale view meanwhile), the refresh loop.
func (a *app) start(ctx context.Context, logger *slog.Logger) {
	for _, w := range a.watchers {
		w.Start(ctx)
	}
	if a.lookback != nil {
		go a.lookback.Run(ctx) // never waits for the caches: the past is Prometheus' alone
	}
	go func() {
		// The clusters sync side by side; one that is down is waited for a
		// minute at most, as one cluster is.
		syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
		var wg sync.WaitGroup
		for _, w := range a.watchers {
			wg.Go(func() {
				if err := w.WaitForSync(syncCtx); err != nil && !errors.Is(ctx.Err(), context.Canceled) {
					logger.Warn("kubernetes caches are slow to sync; refreshing anyway", "error", err)
				}
			})
		}
		wg.Wait()
		cancel()
		a.refresher.Run(ctx)
	}()
}

// clusterLogger names the cluster in what one of several logs.
func clusterLogger(logger *slog.Logger, cluster string) *slog.Logger {
	if cluster == "" {
		return logger
	}
	return logger.With("cluster", cluster)
}

// historyClient is the Prometheus the past is asked of (the look-back, the
// edge charts, the reports): --history-prometheus-url, a long-term store as
// Istio's production advice has it, else the live one. It counts its
// queries into the same meshlock_prometheus_queries_total.
func historyClient(cfg config, live *prom.Client, liveURL string, registry prometheus.Registerer, logger *slog.Logger) (*prom.Client, string, error) {
	if cfg.HistoryPrometheusURL == "" {
		return live, liveURL, nil
	}
	c, err := prom.New(prom.Options{
		URL: cfg.HistoryPrometheusURL, BearerTokenFile: cfg.HistoryPrometheusBearerTokenFile, CAFile: cfg.HistoryPrometheusCAFile,
		Window: cmp.Or(cfg.Window, time.Minute), Registerer: registry, Logger: logger.With("prometheus", "history"), HistorySeries: cfg.HistorySeries,
		CertNamespaceLabel: cfg.CertNamespaceLabel, CertPodLabel: cfg.CertPodLabel,
	})
	if err != nil {
		return nil, "", fmt.Errorf("--history-prometheus-url: %w", err)
	}
	return c, cfg.HistoryPrometheusURL, nil
}
