// meshlock over two clusters on the real test bed (issue 24): two kube-apiservers (an etcd each),
// a Prometheus per cluster with a Thanos sidecar, one Thanos Querier in front, meshsim's
// multi-primary, multi-network mesh published to both, meshlock started with --cluster. The live
// graph of both clusters, an enforce in one cluster only, the look-back remembering a caller that
// stopped, the report across the enforce, one cluster's API server killed and restarted.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	networkingapi "istio.io/api/networking/v1alpha3"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/testbed"
)

const (
	crossEdge  = "west/default/productpage->east/default/reviews:http"
	westReview = "west/default/productpage->west/default/reviews:http"
	westBackup = "west/jobs/backup->west/default/ratings:http"
)

// twoClusterMesh: productpage in west calls reviews, served by reviews-v1
// in west and reviews-v3 in east (through east's east-west gateway);
// reviews-v1 calls ratings; a backup job, whose namespace's DestinationRule
// disables TLS to ratings, calls it in plaintext for backupRuns and stops.
func twoClusterMesh() meshsim.Topology {
	westGW, gwService := meshsim.EastWestGateway("")
	eastGW, _ := meshsim.EastWestGateway("east")
	http9080 := []meshsim.ServicePort{{Name: "http", Port: 9080, TargetPort: 9080, Protocol: meshsim.HTTP}}
	return meshsim.Topology{
		Workloads: []meshsim.Workload{
			{Name: "productpage-v1", Namespace: "default", ServiceAccount: "productpage", Sidecar: true, Labels: map[string]string{"app": "productpage"}},
			{Name: "reviews-v1", Namespace: "default", ServiceAccount: "reviews", Sidecar: true, Labels: map[string]string{"app": "reviews"}},
			{Name: "reviews-v3", Namespace: "default", Cluster: "east", ServiceAccount: "reviews", Sidecar: true, Labels: map[string]string{"app": "reviews"}},
			{Name: "ratings-v1", Namespace: "default", ServiceAccount: "ratings", Sidecar: true, Labels: map[string]string{"app": "ratings"}},
			{Name: "backup", Namespace: "jobs", Kind: meshsim.KindCronJob, ServiceAccount: "backup", Sidecar: true, Labels: map[string]string{"app": "backup"}},
			westGW, eastGW,
		},
		Services: []meshsim.Service{
			{Name: "productpage", Namespace: "default", Selector: map[string]string{"app": "productpage"}, Ports: http9080},
			{Name: "reviews", Namespace: "default", Selector: map[string]string{"app": "reviews"}, Ports: http9080},
			{Name: "ratings", Namespace: "default", Selector: map[string]string{"app": "ratings"}, Ports: http9080},
			gwService,
		},
		Callers: []meshsim.Caller{
			{From: "default/productpage-v1", To: "default/reviews", Port: 9080, Rate: 4},
			{From: "default/reviews-v1", To: "default/ratings", Port: 9080, Rate: 2},
			{From: "jobs/backup", To: "default/ratings", Port: 9080, Rate: 5, Until: backupRuns},
		},
	}
}

// clusterMetrics serves the part of the mesh's metrics that cluster's
// proxies report (a reporter's own cluster label), as that cluster's
// Prometheus would scrape; series without a reporter (istio-agent's) go to
// the primary's.
func clusterMetrics(t *testing.T, mesh http.Handler, cluster string, primary bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		mesh.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(rec.Body)
		if err != nil {
			t.Errorf("meshsim's metrics: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var out bytes.Buffer
		for _, f := range families {
			var kept []*dto.Metric
			for _, m := range f.Metric {
				labels := map[string]string{}
				for _, l := range m.Label {
					labels[l.GetName()] = l.GetValue()
				}
				own := labels["source_cluster"]
				if labels["reporter"] != "source" {
					own = labels["destination_cluster"]
				}
				if (labels["reporter"] == "" && primary) || (labels["reporter"] != "" && own == cluster) {
					kept = append(kept, m)
				}
			}
			if len(kept) > 0 {
				f.Metric = kept
				if _, err := expfmt.MetricFamilyToText(&out, f); err != nil {
					t.Errorf("writing metrics: %v", err)
				}
			}
		}
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		_, _ = w.Write(out.Bytes())
	})
}

// mergedKubeconfig writes one kubeconfig with a context per cluster.
func mergedKubeconfig(t *testing.T, clusters map[string]*testbed.Cluster) string {
	t.Helper()
	merged := clientcmdapi.NewConfig()
	for name, c := range clusters {
		cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		ctx := cfg.Contexts[cfg.CurrentContext]
		merged.Clusters[name] = cfg.Clusters[ctx.Cluster]
		merged.AuthInfos[name] = cfg.AuthInfos[ctx.AuthInfo]
		merged.Contexts["ctx-"+name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*merged, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTwoClustersThroughThanos(t *testing.T) {
	ctx := t.Context()
	west, east := testbed.StartCluster(t), testbed.StartCluster(t)
	westKube, eastKube := kubernetes.NewForConfigOrDie(west.RESTConfig), kubernetes.NewForConfigOrDie(east.RESTConfig)
	westIstio, eastIstio := istioclient.NewForConfigOrDie(west.RESTConfig), istioclient.NewForConfigOrDie(east.RESTConfig)
	mesh, err := meshsim.New(meshsim.Options{Topology: twoClusterMesh(), Istio: westIstio, AutoMTLS: true, ClusterName: "west",
		Remotes: []meshsim.RemoteCluster{{Name: "east", Istio: eastIstio, AutoMTLS: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mesh.PublishCluster(ctx, "west", westKube); err != nil {
		t.Fatal(err)
	}
	if err := mesh.PublishCluster(ctx, "east", eastKube); err != nil {
		t.Fatal(err)
	}
	backupRule := testutil.Rule("jobs", "ratings", "ratings.default.svc.cluster.local", 0,
		testutil.WithTLS(networkingapi.ClientTLSSettings_DISABLE), testutil.WithExportTo("."))
	backupRule.CreationTimestamp = metav1.Time{}
	if _, err := westIstio.NetworkingV1().DestinationRules("jobs").Create(ctx, backupRule, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Each cluster's east-west gateway opens 15443 (AUTO_PASSTHROUGH) in
	// its own istio-system, which Publish made.
	for _, c := range []istioclient.Interface{westIstio, eastIstio} {
		if _, err := c.NetworkingV1().Gateways("istio-system").Create(ctx, meshsim.CrossNetworkGateway(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := mesh.Start(ctx); err != nil {
		t.Fatal(err)
	}
	serve := func(h http.Handler) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	thanos := testbed.StartThanosClusters(t,
		testbed.PrometheusOptions{ExternalLabels: map[string]string{"cluster": "west"},
			Targets: []string{serve(clusterMetrics(t, mesh.Handler(), "west", true)), serve(mesh.IstiodHandler())}},
		testbed.PrometheusOptions{ExternalLabels: map[string]string{"cluster": "east"},
			Targets: []string{serve(clusterMetrics(t, mesh.Handler(), "east", false))}})
	waitScraped(t, thanos.URL)
	started := time.Now()
	go mesh.Run(ctx, 250*time.Millisecond)
	base := startMeshlock(t, "--kubeconfig="+mergedKubeconfig(t, map[string]*testbed.Cluster{"west": west, "east": east}),
		"--cluster=west=ctx-west", "--cluster=east=ctx-east", "--prometheus-url="+thanos.URL,
		"--refresh=1s", "--window=4s", "--lookback=10m", "--allow-enforce", "--audit-namespace=default")

	// The live graph of both clusters: the call into east crosses, locked
	// end to end through the gateway; each cluster's nodes carry it.
	s := waitFor(t, base, "both clusters' edges locked", func(s graph.Snapshot) bool {
		return allStatus(s, graph.StatusLocked, crossEdge, westReview)
	})
	if !slices.Equal(s.Clusters, []string{"east", "west"}) || s.Stale {
		t.Errorf("clusters %v, stale %v (%s)", s.Clusters, s.Stale, s.Error)
	}
	if e, _ := edgeByID(s, crossEdge); !e.CrossCluster || e.SourcePrincipal != graph.SPIFFEID("cluster.local", "default", "productpage") {
		t.Errorf("the crossing edge = %+v, want crossCluster with productpage's principal", e)
	}
	if e, _ := edgeByID(s, westReview); e.CrossCluster {
		t.Errorf("west's own edge crosses: %+v", e)
	}
	for _, n := range s.Nodes {
		if n.ID != graph.Unknown && (n.Cluster == "" || !strings.HasPrefix(n.ID, n.Cluster+"/")) {
			t.Errorf("node %s carries cluster %q", n.ID, n.Cluster)
		}
		if strings.Contains(n.ID, "eastwestgateway") && n.ID != "west/istio-system/istio-eastwestgateway" && n.ID != "east/istio-system/istio-eastwestgateway" {
			t.Errorf("an east-west gateway's hop became a node: %s", n.ID)
		}
	}
	for _, e := range s.Edges {
		if strings.Contains(e.Source, "eastwestgateway") {
			t.Errorf("an east-west gateway's hop became an edge: %s", e.ID)
		}
	}
	for _, f := range s.Findings {
		if f.Kind == graph.FindingClusterTrust {
			t.Errorf("one CA for both clusters, yet %s", f.Message)
		}
	}

	// Enforce in east only: the request must name its cluster.
	body := `{"scope":"service","namespace":"default","service":"reviews","mode":"peerauthentication","dryRun":true}`
	if code := post(t, base+"/api/enforce", "", body, nil); code != http.StatusBadRequest {
		t.Errorf("an enforce naming no cluster answered %d, want 400", code)
	}
	// The crossing edge is seconds old: its look-back holds a few requests,
	// counted by two Prometheus scraping at different moments, so the
	// client's side can run a request ahead of the server's, which is more
	// than the 5 % graph.SkewTolerance allows and counts as not proven
	// (the safe side). That excess is one request, not a share: it falls
	// under the tolerance as the edge's volume grows (some 50 s here).
	var plan enforceAnswer
	body = `{"cluster":"east","scope":"service","namespace":"default","service":"reviews","mode":"peerauthentication","dryRun":true}`
	for deadline := time.Now().Add(testutil.HangBound); ; time.Sleep(time.Second) {
		plan = enforceAnswer{}
		code := post(t, base+"/api/enforce", "", body, &plan)
		if code == http.StatusOK && len(plan.Breaks) == 0 {
			break
		}
		if code != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("east's dry run: %d, breaks %+v (every caller of east's reviews sends mTLS)", code, plan.Breaks)
		}
	}
	var applied enforceAnswer
	apply := fmt.Sprintf(`{"cluster":"east","scope":"service","namespace":"default","service":"reviews","mode":"peerauthentication","dryRun":false,"planId":%q}`, plan.PlanID)
	if code := post(t, base+"/api/enforce", "", apply, &applied); code != http.StatusOK || applied.ActionID == "" {
		t.Fatalf("east's apply: %d %+v", code, applied)
	}
	enforcedAt := time.Now()
	pas, err := eastIstio.SecurityV1().PeerAuthentications("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(pas.Items) != 1 {
		t.Fatalf("east's PeerAuthentications: %v, %v", pas, err)
	}
	if west, err := westIstio.SecurityV1().PeerAuthentications("default").List(ctx, metav1.ListOptions{}); err != nil || len(west.Items) != 0 {
		t.Errorf("west's PeerAuthentications after an enforce in east: %v, %v", west, err)
	}
	var actions []struct{ ID, Cluster string }
	if code := getStatus(t, base+"/api/actions", &actions); code != http.StatusOK || len(actions) != 1 || actions[0].Cluster != "east" {
		t.Errorf("actions: %d %+v, want the one in east", code, actions)
	}
	waitFor(t, base, "east's reviews STRICT", func(s graph.Snapshot) bool {
		n, ok := nodeByID(s, "east/default/reviews")
		w, _ := nodeByID(s, "west/default/reviews")
		return ok && n.PeerAuthentication == graph.ModeStrict && w.PeerAuthentication != graph.ModeStrict
	})

	// The look-back remembers the backup that stopped.
	s = waitFor(t, base, "the backup idle, remembered", func(s graph.Snapshot) bool {
		e, ok := edgeByID(s, westBackup)
		return ok && e.Idle && time.Since(started) > backupRuns+10*time.Second
	})
	if e, _ := edgeByID(s, westBackup); e.Status != graph.StatusOpen || e.History.PlaintextLastSeen.IsZero() {
		t.Errorf("the backup's edge = %+v, want idle, open, plaintext in its history", e)
	}

	// The report across the enforce: both clusters' edges, the action in east.
	r := getReport(t, base, started.Add(-10*time.Second), time.Now())
	var crossShare *float64
	for _, e := range r.Edges {
		if e.Source == "west/default/productpage" && e.Target == "east/default/reviews" {
			crossShare = e.MTLSShare
		}
	}
	if crossShare == nil || *crossShare != 1 {
		t.Errorf("the crossing edge's share in the report = %v, want 1 (edges %+v)", crossShare, r.Edges)
	}
	if len(r.Actions) != 1 || r.Actions[0].Cluster != "east" || r.Actions[0].At.Before(enforcedAt.Add(-time.Minute)) {
		t.Errorf("the report's actions = %+v, want east's enforce", r.Actions)
	}

	// East's API server killed: only east's part goes stale; the view and
	// /readyz stay live; east comes back by itself.
	east.StopAPIServer()
	s = waitFor(t, base, "east's part stale", func(s graph.Snapshot) bool {
		n, _ := nodeByID(s, "east/default/reviews")
		return n.Stale && !sourceOK(s, "kubernetes/east")
	})
	if s.Stale || !sourceOK(s, "kubernetes/west") || !strings.Contains(s.Error, "kubernetes/east") {
		t.Errorf("with east down: stale %v, error %q, sources %+v", s.Stale, s.Error, s.Sources)
	}
	for _, n := range s.Nodes {
		if n.Stale != (n.Cluster == "east") && n.ID != graph.Unknown {
			t.Errorf("with east down, node %s stale = %v", n.ID, n.Stale)
		}
	}
	if e, _ := edgeByID(s, crossEdge); !e.Stale || e.Status != graph.StatusLocked {
		t.Errorf("with east down, the crossing edge = %+v, want stale and still locked", e)
	}
	if e, _ := edgeByID(s, westReview); e.Stale {
		t.Errorf("with east down, west's own edge is stale")
	}
	if code := getStatus(t, base+"/readyz", nil); code != http.StatusOK {
		t.Errorf("/readyz with east down: %d, want 200", code)
	}
	east.StartAPIServer(t)
	waitFor(t, base, "east back", func(s graph.Snapshot) bool {
		return sourceOK(s, "kubernetes/east") && !slices.ContainsFunc(s.Nodes, func(n graph.Node) bool { return n.Stale })
	})

	// Undo goes to east, where the action is kept.
	var undone struct{ Cluster string }
	if code := post(t, base+"/api/actions/"+applied.ActionID+"/undo", "", "", &undone); code != http.StatusOK || undone.Cluster != "east" {
		t.Fatalf("undo: %d %+v", code, undone)
	}
	if _, err := eastIstio.SecurityV1().PeerAuthentications("default").Get(ctx, pas.Items[0].Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("east's PeerAuthentication after undo: %v, want gone", err)
	}

	// Token mode: each cluster reviews the token itself. A token only west
	// knows sees west's part, east's end of the crossing edge hidden; one
	// only east knows, the reverse; one neither knows, nothing.
	tokenBase := startMeshlock(t, "--kubeconfig="+mergedKubeconfig(t, map[string]*testbed.Cluster{"west": west, "east": east}),
		"--cluster=west=ctx-west", "--cluster=east=ctx-east", "--prometheus-url="+thanos.URL,
		"--refresh=1s", "--window=4s", "--lookback=0", "--auth=token")
	for _, tc := range []struct {
		token, sees, hides, edge string
	}{
		{west.Token(testbed.AdminUser), "west", "east", "west/default/productpage->hidden:http"},
		{east.Token(testbed.AdminUser), "east", "west", "hidden->east/default/reviews:http"},
	} {
		var seen graph.Snapshot
		testutil.Eventually(t, tc.sees+"'s admin sees "+tc.sees+" only", func() (bool, string) {
			resp, data := sendWithToken(t, http.MethodGet, tokenBase+"/api/graph", tc.token, "")
			if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &seen) != nil {
				return false, resp.Status
			}
			_, ok := edgeByID(seen, tc.edge)
			return ok, statuses(seen, tc.edge)
		})
		for _, n := range seen.Nodes {
			if n.Cluster == tc.hides || strings.HasPrefix(n.ID, tc.hides+"/") {
				t.Errorf("a token %s does not accept shows its node %s", tc.hides, n.ID)
			}
		}
		body := fmt.Sprintf(`{"cluster":%q,"scope":"mesh","mode":"peerauthentication","dryRun":true}`, tc.hides)
		if resp, data := sendWithToken(t, http.MethodPost, tokenBase+"/api/enforce", tc.token, body); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a write to %s with a token it does not accept: %d %s, want 403", tc.hides, resp.StatusCode, data)
		}
	}
	if resp, _ := sendWithToken(t, http.MethodGet, tokenBase+"/api/graph", "no-such-token", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a token no cluster accepts: %d, want 401", resp.StatusCode)
	}
}

// waitFor polls the graph until ok, answering that snapshot.
func waitFor(t *testing.T, base, what string, ok func(graph.Snapshot) bool) graph.Snapshot {
	t.Helper()
	var s graph.Snapshot
	testutil.Eventually(t, what, func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph")
		return ok(s), fmt.Sprintf("stale %v error %q; %s", s.Stale, s.Error, statuses(s, crossEdge, westReview, westBackup))
	})
	return s
}

func sourceOK(s graph.Snapshot, name string) bool {
	for _, src := range s.Sources {
		if src.Name == name {
			return src.OK
		}
	}
	return false
}

// getStatus GETs url, decoding a 200's JSON into out (when not nil).
func getStatus(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}
