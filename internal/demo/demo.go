// Package demo runs meshlock's demo world in-process: meshsim's bookinfo
// (the seed's exercise), the ambient namespace shop and the tour namespace,
// client-go's and Istio's fake clientsets for Kubernetes, and an embedded
// Prometheus fed by meshsim every second. The dashboard's own code talks to
// it exactly as it would to a real cluster and Prometheus.
package demo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509/pkix"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/meshsim"
)

// BookinfoRules is Istio's bookinfo destination-rule-all.yaml: subsets, no TLS.
//
//go:embed bookinfo/destination-rule-all.yaml
var BookinfoRules []byte

// BookinfoMTLSRules is Istio's destination-rule-all-mtls.yaml: the same with ISTIO_MUTUAL.
//
//go:embed bookinfo/destination-rule-all-mtls.yaml
var BookinfoMTLSRules []byte

// TourPolicy is the tour namespace's DestinationRules, PeerAuthentications
// and AuthorizationPolicy (see WithTour), as kubectl apply -f would take them.
//
//go:embed tour/istio.yaml
var TourPolicy []byte

// scrapeEvery is how often meshsim advances and is scraped, as a real
// Prometheus scraping Envoy every second would see it.
const scrapeEvery = time.Second

// The demo starts with an hour of past, scraped every 15 s.
const (
	backfill       = time.Hour
	backfillScrape = 15 * time.Second
	// BackupRuns is how long the nightly backup job ran, from the start
	// of the past hour: it is idle when the dashboard opens.
	BackupRuns = 10 * time.Minute
)

// The demo's trust: a plugged-in CA whose root, made ten years ago with
// Istio's tools/certs, runs out RootExpiresIn after the demo starts (the
// root-cert-expiring warning); one proxy, StalledRotation's, whose
// certificate stopped rotating and has StalledCertLeft when the dashboard
// opens (workload-cert-expiring). Everything else is healthy.
const (
	RootExpiresIn   = 20 * 24 * time.Hour
	StalledRotation = "default/details-v1"
	StalledCertLeft = 5 * time.Hour
)

// Trust is the demo's CA as of now: the root (O=Istio, CN=Root CA, ten
// years long) expiring RootExpiresIn after now, and the intermediate istiod
// signs with, made a year ago for ten years (tools/certs' defaults).
func Trust(now time.Time) meshsim.Trust {
	const tenYears = 3650 * 24 * time.Hour
	expiry := now.Add(RootExpiresIn)
	issued := now.Add(-365 * 24 * time.Hour)
	return meshsim.Trust{
		Roots: []meshsim.CertSpec{{Name: "root", Subject: pkix.Name{Organization: []string{"Istio"}, CommonName: "Root CA"},
			NotBefore: expiry.Add(-tenYears), NotAfter: expiry}},
		Intermediate: &meshsim.CertSpec{Subject: pkix.Name{Organization: []string{"Istio"}, CommonName: "Intermediate CA"},
			NotBefore: issued, NotAfter: issued.Add(tenYears)},
	}
}

// Topology is bookinfo plus a backup CronJob (with a sidecar) that called
// ratings in plaintext during the first minutes of the backfilled hour and
// stopped: the caller the look-back remembers and the rate window forgets;
// StalledRotation's certificate does not rotate. The namespaces shop
// (WithShop) and tour (WithTour) stand beside it.
func Topology() meshsim.Topology {
	t := meshsim.Bookinfo()
	for i := range t.Workloads {
		if w := &t.Workloads[i]; w.Namespace+"/"+w.Name == StalledRotation {
			// The mesh starts the backfilled hour before the dashboard opens.
			w.StalledCertLeft = StalledCertLeft + backfill
		}
	}
	t.Workloads = append(t.Workloads, meshsim.Workload{
		Name: "nightly-backup", Namespace: "default", Kind: meshsim.KindCronJob, ServiceAccount: "nightly-backup",
		Labels: map[string]string{"app": "nightly-backup"}, Sidecar: true,
	})
	t.Callers = append(t.Callers, meshsim.Caller{From: "default/nightly-backup", To: "default/ratings", Port: 9080, Rate: 2, Until: BackupRuns})
	return WithTour(WithShop(t))
}

// WithShop adds the ambient namespace "shop" beside bookinfo: web calls cart
// over ztunnel's tunnel, and orders through the namespace's waypoint;
// inventory-sync, a job without a data plane, sends cart plaintext (what a
// STRICT PeerAuthentication on shop would refuse); bookinfo's productpage,
// a sidecar, calls cart over HBONE.
func WithShop(t meshsim.Topology) meshsim.Topology {
	const ns = "shop"
	ambient := func(name string) meshsim.Workload {
		return meshsim.Workload{Name: name, Namespace: ns, ServiceAccount: name, Ambient: true,
			Labels: map[string]string{"app": name, "version": "v1"}}
	}
	service := func(name, waypoint string) meshsim.Service {
		return meshsim.Service{Name: name, Namespace: ns, Selector: map[string]string{"app": name}, Waypoint: waypoint,
			Ports: []meshsim.ServicePort{{Name: "http", Port: 8080, Protocol: meshsim.HTTP}}}
	}
	t.Workloads = append(t.Workloads, ambient("web"), ambient("cart"), ambient("orders"),
		meshsim.Workload{Name: "waypoint", Namespace: ns, ServiceAccount: "waypoint", Waypoint: true},
		meshsim.Workload{Name: "inventory-sync", Namespace: ns, ServiceAccount: "inventory-sync", Kind: meshsim.KindCronJob,
			Labels: map[string]string{"app": "inventory-sync"}})
	t.Services = append(t.Services, service("cart", ""), service("orders", "waypoint"))
	// ztunnel reports bytes and connections, not requests: each request a
	// connection of about these sizes.
	call := func(from, to string, rate float64) meshsim.Caller {
		return meshsim.Caller{From: from, To: to, Port: 8080, Rate: rate, BytesSent: 600, BytesReceived: 4000}
	}
	t.Callers = append(t.Callers, call("shop/web", "shop/cart", 3), call("shop/web", "shop/orders", 2),
		call("shop/inventory-sync", "shop/cart", 1), call("default/productpage-v1", "shop/cart", 1))
	return t
}

// TourNamespace is the namespace WithTour adds.
const TourNamespace = "tour"

// WithTour adds the namespace "tour", a small shop of sidecars that shows
// every padlock, a gateway, TCP and a finding of each severity at once, each
// decided by meshsim under TourPolicy: one rule gives every tour host
// ISTIO_MUTUAL, the namespace is PERMISSIVE and payments STRICT, and
// catalog takes callers of the tour's identities only. Auto mTLS is off in
// the demo, so only a DestinationRule's ISTIO_MUTUAL makes a proxy send
// mutual TLS.
//   - ingressgateway, an Istio ingress gateway, calls web with mutual TLS:
//     locked, from a gateway node (the gateway's proxy reports the request
//     as its source, web's sidecar as mutual_tls);
//   - web-v1 calls catalog with mutual TLS (catalog's own rule) and web-v2,
//     a canary, in plaintext: its workloadSelector rule for catalog, written
//     to tune a connection pool, replaces the namespace's rule for it
//     wholesale (pilot/pkg/model/sidecar.go SidecarScope.DestinationRule).
//     catalog's sidecar reports both: one edge, mixed, about 2/3 mTLS.
//     catalog's AuthorizationPolicy (ALLOW from namespace tour) refuses
//     the canary's plaintext requests with 403: a peer's namespace comes
//     from its certificate, and plaintext has none;
//   - catalog calls catalog-db (PostgreSQL, TCP) with mutual TLS and the
//     peer metadata exchange: locked, in bytes, both principals known;
//   - web calls search, which runs without a sidecar (its rule says
//     DISABLE): only web's proxy reports it, and a sidecar client cannot
//     tell what went on the wire: unknown;
//   - price-import, a job without a sidecar, calls catalog in plaintext:
//     catalog's sidecar cannot name a caller that sends no peer metadata,
//     so the edge is open, from the unknown node, and every request of it
//     is refused by catalog's AuthorizationPolicy (403);
//   - web calls checkout with mutual TLS: locked. web, checkout and
//     catalog-db, PERMISSIVE and called only with mutual TLS, are ready for
//     STRICT (info); catalog's plaintext callers, web's canary and the job,
//     are what STRICT would cut (warning);
//   - checkout calls payments under a rule left from before payments had a
//     sidecar, DISABLE: payments is STRICT, its sidecar closes every
//     plaintext connection (503 UC), so the edge carries only handshake
//     failures (unknown), a DISABLE towards STRICT and handshakes failing
//     (both critical).
func WithTour(t meshsim.Topology) meshsim.Topology {
	const ns = TourNamespace
	sidecar := func(name, app, version string) meshsim.Workload {
		return meshsim.Workload{Name: name, Namespace: ns, ServiceAccount: app, Sidecar: true,
			Labels: map[string]string{"app": app, "version": version}}
	}
	service := func(name string, port int32, protocol meshsim.Protocol) meshsim.Service {
		portName := "http"
		if protocol == meshsim.TCP {
			portName = "tcp-postgres"
		}
		return meshsim.Service{Name: name, Namespace: ns, Selector: map[string]string{"app": name},
			Ports: []meshsim.ServicePort{{Name: portName, Port: port, Protocol: protocol}}}
	}
	catalogDB := sidecar("catalog-db", "catalog-db", "v1")
	catalogDB.Kind = meshsim.KindStatefulSet
	t.Workloads = append(t.Workloads,
		meshsim.Workload{Name: "ingressgateway", Namespace: ns, ServiceAccount: "ingressgateway", Gateway: true,
			Labels: map[string]string{"app": "ingressgateway", "istio": "ingressgateway"}},
		sidecar("web-v1", "web", "v1"), sidecar("web-v2", "web", "v2"),
		sidecar("catalog-v1", "catalog", "v1"), catalogDB,
		sidecar("checkout-v1", "checkout", "v1"), sidecar("payments-v1", "payments", "v1"),
		meshsim.Workload{Name: "search", Namespace: ns, ServiceAccount: "search", Kind: meshsim.KindStatefulSet,
			Labels: map[string]string{"app": "search", "version": "v1"}},
		meshsim.Workload{Name: "price-import", Namespace: ns, ServiceAccount: "price-import", Kind: meshsim.KindCronJob,
			Labels: map[string]string{"app": "price-import"}},
	)
	gateway := meshsim.Service{Name: "ingressgateway", Namespace: ns, Selector: map[string]string{"istio": "ingressgateway"},
		Ports: []meshsim.ServicePort{{Name: "http", Port: 80, TargetPort: 8080, Protocol: meshsim.HTTP}}}
	t.Services = append(t.Services, gateway, service("web", 8080, meshsim.HTTP), service("catalog", 8080, meshsim.HTTP),
		service("catalog-db", 5432, meshsim.TCP), service("search", 9200, meshsim.HTTP),
		service("checkout", 8080, meshsim.HTTP), service("payments", 8080, meshsim.HTTP))
	call := func(from, to string, port int32, rate float64) meshsim.Caller {
		return meshsim.Caller{From: ns + "/" + from, To: ns + "/" + to, Port: port, Rate: rate}
	}
	db := call("catalog-v1", "catalog-db", 5432, 1)
	db.BytesSent, db.BytesReceived = 900, 24000
	t.Callers = append(t.Callers,
		call("ingressgateway", "web", 8080, 4),
		call("web-v1", "catalog", 8080, 2), call("web-v2", "catalog", 8080, 1),
		call("web-v1", "search", 9200, 1), call("web-v2", "search", 9200, 0.5),
		call("web-v1", "checkout", 8080, 1), call("web-v2", "checkout", 8080, 0.5),
		db,
		call("price-import", "catalog", 8080, 0.5),
		call("checkout-v1", "payments", 8080, 1),
	)
	return t
}

// Two clusters' names (StartWith): West is the primary, everything of
// Start's world but reviews-v3; East runs reviews-v3 and tour's
// recommendations.
const (
	West = "west"
	East = "east"
)

// TopologyTwoClusters is Topology over two clusters of one multi-primary,
// multi-network mesh (West the primary, East): reviews-v3 moves to East, so
// reviews is served in both (namespace default declared in both); each
// cluster runs an east-west gateway; East also runs tour's
// recommendations, called by web-v1 from West. reviews-v3 keeps calling
// ratings, now from East to West.
func TopologyTwoClusters() meshsim.Topology {
	t := Topology()
	for i := range t.Workloads {
		if w := &t.Workloads[i]; w.Namespace+"/"+w.Name == "default/reviews-v3" {
			w.Cluster = East
		}
	}
	westGW, gwService := meshsim.EastWestGateway("")
	eastGW, _ := meshsim.EastWestGateway(East)
	t.Workloads = append(t.Workloads, westGW, eastGW, meshsim.Workload{
		Name: "recommendations-v1", Namespace: TourNamespace, Cluster: East, ServiceAccount: "recommendations", Sidecar: true,
		Labels: map[string]string{"app": "recommendations", "version": "v1"},
	})
	t.Services = append(t.Services, gwService, meshsim.Service{
		Name: "recommendations", Namespace: TourNamespace, Selector: map[string]string{"app": "recommendations"},
		Ports: []meshsim.ServicePort{{Name: "http", Port: 8080, Protocol: meshsim.HTTP}},
	})
	t.Callers = append(t.Callers, meshsim.Caller{From: TourNamespace + "/web-v1", To: TourNamespace + "/recommendations", Port: 8080, Rate: 1})
	return t
}

// Options chooses the demo world.
type Options struct {
	// Clusters is 1 (Start's world) or 2 (West and East, TopologyTwoClusters).
	Clusters int
}

// ClusterEnv is one cluster's API servers.
type ClusterEnv struct {
	Name  string // "" with one cluster
	Kube  kubernetes.Interface
	Istio istioclient.Interface
}

// Env is a running demo world.
type Env struct {
	// Kube and Istio are the (primary) cluster's, Clusters[0]'s.
	Kube  kubernetes.Interface
	Istio istioclient.Interface
	// Clusters are the clusters in order (West, East); one named "" with one cluster.
	Clusters      []ClusterEnv
	Mesh          *meshsim.Mesh
	PrometheusURL string

	prom     *Prometheus
	listener net.Listener
	server   *http.Server
	done     chan struct{}
}

// Start builds the world as the seed exercise begins: bookinfo with auto
// mTLS off and bookinfo's DestinationRules without TLS (every edge open),
// plus the legacy caller without a sidecar and a backup job that ran in the
// past hour, shop and tour beside it (see Topology) with TourPolicy, and
// the CA of Trust. It backfills that hour of
// traffic so rates exist at once, then keeps the mesh running until ctx
// ends; Close waits for it. Prometheus scrapes the proxies (job meshsim)
// and istiod (job istiod).
func Start(ctx context.Context, logger *slog.Logger) (*Env, error) {
	return StartWith(ctx, logger, Options{Clusters: 1})
}

// StartWith starts Start's world (Clusters 1) or the two-cluster world
// (Clusters 2): West as Start's but reviews-v3, with a cross-network
// Gateway; East (TopologyTwoClusters) with its own Istio config: a
// mesh-wide STRICT PeerAuthentication and a cross-network Gateway, and auto
// mTLS on (Istio's default), so East is locked while West starts open.
// One Prometheus scrapes every cluster's proxies, as a Thanos Querier over
// both would answer.
func StartWith(ctx context.Context, logger *slog.Logger, opts Options) (*Env, error) {
	if opts.Clusters != 1 && opts.Clusters != 2 {
		return nil, fmt.Errorf("demo: %d clusters, want 1 or 2", opts.Clusters)
	}
	env := &Env{
		Kube:  kubefake.NewClientset(),
		Istio: istiofake.NewSimpleClientset(),
		done:  make(chan struct{}),
	}
	env.Clusters = []ClusterEnv{{Kube: env.Kube, Istio: env.Istio}}
	topology := Topology()
	meshOpts := meshsim.Options{Istio: env.Istio, AutoMTLS: false, Logger: logger}
	if opts.Clusters == 2 {
		env.Clusters[0].Name = West
		east := ClusterEnv{Name: East, Kube: kubefake.NewClientset(), Istio: istiofake.NewSimpleClientset()}
		env.Clusters = append(env.Clusters, east)
		topology = TopologyTwoClusters()
		meshOpts.ClusterName = West
		meshOpts.Remotes = []meshsim.RemoteCluster{{Name: East, Istio: east.Istio, AutoMTLS: true}}
		for _, c := range env.Clusters {
			if _, err := c.Istio.NetworkingV1().Gateways("istio-system").Create(ctx, meshsim.CrossNetworkGateway(), metav1.CreateOptions{}); err != nil {
				return nil, err
			}
		}
		strict := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "istio-system"}}
		strict.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT}
		if _, err := east.Istio.SecurityV1().PeerAuthentications("istio-system").Create(ctx, strict, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	rules, err := k8s.DecodeDestinationRules(bytes.NewReader(BookinfoRules))
	if err != nil {
		return nil, fmt.Errorf("bookinfo rules: %w", err)
	}
	for _, rule := range rules {
		rule.Namespace = "default"
		if _, err := env.Istio.NetworkingV1().DestinationRules("default").Create(ctx, rule, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	if err := applyPolicy(ctx, env.Istio, TourPolicy); err != nil {
		return nil, fmt.Errorf("tour policy: %w", err)
	}
	// The mesh's clock starts one scrape before the backfilled hour, so
	// that it reads each scrape's time.
	now := time.Now()
	meshOpts.Topology, meshOpts.Trust, meshOpts.Start = topology, Trust(now), now.Add(-backfill-backfillScrape)
	env.Mesh, err = meshsim.New(meshOpts)
	if err != nil {
		return nil, err
	}
	for _, c := range env.Clusters {
		if err := env.Mesh.PublishCluster(ctx, c.Name, c.Kube); err != nil {
			return nil, fmt.Errorf("publish bookinfo: %w", err)
		}
	}
	if err := env.Mesh.Start(ctx); err != nil {
		return nil, err
	}
	env.prom, err = NewPrometheus(logger)
	if err != nil {
		return nil, err
	}

	// The past hour, scraped every 15 s as a real Prometheus would, holds
	// the backup job's run; the live mesh then moves every second.
	for at := now.Add(-backfill); at.Before(now); at = at.Add(backfillScrape) {
		if err := env.advance(at, backfillScrape); err != nil {
			env.prom.Close()
			return nil, err
		}
	}

	env.listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		env.prom.Close()
		return nil, err
	}
	env.PrometheusURL = "http://" + env.listener.Addr().String()
	env.server = &http.Server{Handler: env.prom.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = env.server.Serve(env.listener) }()

	go func() {
		defer close(env.done)
		ticker := time.NewTicker(scrapeEvery)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-ticker.C:
				if err := env.advance(now, scrapeEvery); err != nil {
					logger.Warn("demo: scrape failed", "error", err)
				}
			}
		}
	}()
	return env, nil
}

// advance moves the mesh on by d and stores the scrapes of the proxies
// and istiod at ts.
func (env *Env) advance(ts time.Time, d time.Duration) error {
	env.Mesh.Tick(d)
	for _, target := range []struct {
		handler       http.Handler
		job, instance string
	}{
		{env.Mesh.Handler(), "meshsim", "meshsim:15090"},
		{env.Mesh.IstiodHandler(), "istiod", "istiod.istio-system:15014"},
	} {
		rec := httptest.NewRecorder()
		target.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			return fmt.Errorf("%s /metrics answered %d", target.job, rec.Code)
		}
		if err := env.prom.Ingest(rec.Body, ts, target.job, target.instance); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the Prometheus API and removes its data; call it after the
// context passed to Start has ended.
func (env *Env) Close() error {
	<-env.done
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := env.server.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A query of the embedded PromQL engine still running (a look-back
		// day on a loaded machine): the demo's data goes with it anyway.
		err = env.server.Close()
	}
	return errors.Join(err, env.prom.Close())
}

// applyPolicy creates the DestinationRules, PeerAuthentications and
// AuthorizationPolicies of a multi-document YAML stream, each in the
// namespace it names.
func applyPolicy(ctx context.Context, client istioclient.Interface, manifest []byte) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		switch meta.Kind {
		case "":
			continue // a comment or an empty document
		case "DestinationRule":
			rule := &networkingv1.DestinationRule{}
			if err = yaml.UnmarshalStrict(doc, rule); err == nil {
				_, err = client.NetworkingV1().DestinationRules(rule.Namespace).Create(ctx, rule, metav1.CreateOptions{})
			}
		case "PeerAuthentication":
			pa := &securityv1.PeerAuthentication{}
			if err = yaml.UnmarshalStrict(doc, pa); err == nil {
				_, err = client.SecurityV1().PeerAuthentications(pa.Namespace).Create(ctx, pa, metav1.CreateOptions{})
			}
		case "AuthorizationPolicy":
			ap := &securityv1.AuthorizationPolicy{}
			if err = yaml.UnmarshalStrict(doc, ap); err == nil {
				_, err = client.SecurityV1().AuthorizationPolicies(ap.Namespace).Create(ctx, ap, metav1.CreateOptions{})
			}
		default:
			err = fmt.Errorf("kind %q, want DestinationRule, PeerAuthentication or AuthorizationPolicy", meta.Kind)
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
	}
}
