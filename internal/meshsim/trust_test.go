// Identity and trust in the simulated mesh (issue 22): the root certificates generated and
// distributed (istio-ca-root-cert in every namespace, per-namespace overrides), the mesh config,
// istiod's and istio-agent's certificate expiry, and a foreign principal.

package meshsim

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/graph"
	rules "github.com/meshlock/meshlock/internal/istio"
)

// start is the mesh clock's origin in these tests.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// parseBundle reads a root-cert.pem back with crypto/x509.
func parseBundle(t *testing.T, text string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			t.Fatalf("a %s block in the bundle", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cert)
	}
	if strings.TrimSpace(string(rest)) != "" {
		t.Fatalf("bundle has trailing bytes %q", rest)
	}
	return out
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// bundleOf is what the namespace's istio-ca-root-cert holds, parsed; nil
// and false when it has none.
func bundleOf(t *testing.T, kube *fake.Clientset, namespace string) ([]*x509.Certificate, bool) {
	t.Helper()
	cm, err := kube.CoreV1().ConfigMaps(namespace).Get(t.Context(), graph.RootBundleName, metav1.GetOptions{})
	if err != nil {
		return nil, false
	}
	if cm.Labels["istio.io/config"] != "true" {
		t.Errorf("%s/%s labels = %v, want istio.io/config=true as istiod writes it", namespace, cm.Name, cm.Labels)
	}
	return parseBundle(t, cm.Data[graph.RootBundleKey]), true
}

func fingerprints(certs []*x509.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, fingerprint(c))
	}
	return out
}

func certFingerprints(certs []Cert) []string {
	var out []string
	for _, c := range certs {
		out = append(out, c.Fingerprint)
	}
	return out
}

// The zero Trust is istiod's self-signed CA: one root, O=<trust domain>,
// valid ten years from a day before the start, in every namespace of the
// topology and the root namespace.
func TestDefaultRootIsDistributedEverywhere(t *testing.T) {
	m, err := New(Options{Topology: Bookinfo(), Start: start})
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	roots := m.Roots()
	if len(roots) != 1 || roots[0].Name != "root" {
		t.Fatalf("Roots() = %v, want one named root", roots)
	}
	root := roots[0]
	c := root.Certificate
	if want := start.Add(-24 * time.Hour); !c.NotBefore.Equal(want) || !c.NotAfter.Equal(want.Add(DefaultRootTTL)) {
		t.Errorf("root valid %s to %s, want %s plus ten years", c.NotBefore, c.NotAfter, want)
	}
	if !slices.Equal(c.Subject.Organization, []string{DefaultTrustDomain}) || !c.IsCA || c.CheckSignatureFrom(c) != nil {
		t.Errorf("root subject %s, CA %v, self-signed %v: want istiod's self-signed O=cluster.local", c.Subject, c.IsCA, c.CheckSignatureFrom(c) == nil)
	}
	if key, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || key.Curve.Params().BitSize != 256 {
		t.Errorf("root key %T, want ECDSA P-256", c.PublicKey)
	}
	if root.Fingerprint != fingerprint(c) || root.Fingerprint != strings.ToLower(root.Fingerprint) || len(root.Fingerprint) != 64 {
		t.Errorf("fingerprint %q, want the lowercase hex SHA-256 of the DER", root.Fingerprint)
	}
	if _, ok := m.Intermediate(); ok {
		t.Error("the self-signed CA has an intermediate")
	}
	for _, ns := range []string{"default", "legacy", "istio-system"} {
		got, ok := bundleOf(t, kube, ns)
		if !ok || !slices.Equal(fingerprints(got), []string{root.Fingerprint}) {
			t.Errorf("%s's bundle = %v (%v), want the root", ns, fingerprints(got), ok)
		}
		if b, ok := m.Bundle(ns); !ok || !slices.Equal(certFingerprints(b), []string{root.Fingerprint}) {
			t.Errorf("Bundle(%s) = %v, %v", ns, certFingerprints(b), ok)
		}
	}
	if _, err := kube.CoreV1().Namespaces().Get(t.Context(), "istio-system", metav1.GetOptions{}); err != nil {
		t.Errorf("the root namespace: %v", err)
	}
	if _, ok := m.Bundle("elsewhere"); ok {
		t.Error("Bundle of a namespace Publish does not write into says true")
	}
	cm, err := kube.CoreV1().ConfigMaps("istio-system").Get(t.Context(), "istio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["mesh"] != "trustDomain: cluster.local\n" {
		t.Errorf("mesh config = %q, want the trust domain alone", cm.Data["mesh"])
	}
}

// trustTopology: a sidecar workload in each of four namespaces.
func trustTopology() Topology {
	var tp Topology
	for _, ns := range []string{"current", "stale", "bare", "rotating"} {
		tp.Workloads = append(tp.Workloads, Workload{Name: "app", Namespace: ns, ServiceAccount: "app", Sidecar: true, Labels: map[string]string{"app": "app"}})
	}
	return tp
}

// A rotation, a stale copy, a namespace without a bundle; lifetimes and
// subjects as chosen; an RSA root; Publish repairs drift of them.
func TestRootBundleOverrides(t *testing.T) {
	expiring := CertSpec{Name: "expiring", Subject: pkix.Name{Organization: []string{"Istio"}, CommonName: "Root CA"},
		NotBefore: start.Add(-3630 * 24 * time.Hour), NotAfter: start.Add(20 * 24 * time.Hour)}
	next := CertSpec{Name: "next", Subject: pkix.Name{Organization: []string{"Istio"}, CommonName: "Root CA 2"},
		NotBefore: start.Add(-time.Hour), NotAfter: start.Add(DefaultRootTTL), RSABits: 2048}
	old := CertSpec{Name: "old", NotBefore: start.Add(-4000 * 24 * time.Hour), NotAfter: start.Add(-30 * 24 * time.Hour)}
	m, err := New(Options{Topology: trustTopology(), Start: start, Trust: Trust{
		Roots:      []CertSpec{expiring},
		OtherRoots: []CertSpec{next, old},
		Bundles:    map[string][]string{"stale": {"old"}, "bare": nil, "rotating": {"next", "expiring"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	ctx := t.Context()
	if err := m.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	certs := map[string]Cert{}
	for _, spec := range []CertSpec{expiring, next, old} {
		c, ok := m.Root(spec.Name)
		if !ok {
			t.Fatalf("Root(%q) missing", spec.Name)
		}
		certs[spec.Name] = c
		got := c.Certificate
		if !got.NotBefore.Equal(spec.NotBefore) || !got.NotAfter.Equal(spec.NotAfter) {
			t.Errorf("%s valid %s to %s, want %s to %s", spec.Name, got.NotBefore, got.NotAfter, spec.NotBefore, spec.NotAfter)
		}
		if spec.Subject.CommonName != "" && got.Subject.CommonName != spec.Subject.CommonName {
			t.Errorf("%s subject %s", spec.Name, got.Subject)
		}
	}
	if key, ok := certs["next"].Certificate.PublicKey.(*rsa.PublicKey); !ok || key.N.BitLen() != 2048 {
		t.Errorf("next's key %T, want RSA 2048", certs["next"].Certificate.PublicKey)
	}
	if got := certFingerprints(m.Roots()); !slices.Equal(got, []string{certs["expiring"].Fingerprint}) {
		t.Errorf("Roots() = %v, want the distributed root only", got)
	}
	want := map[string][]string{
		"current":      {certs["expiring"].Fingerprint},
		"istio-system": {certs["expiring"].Fingerprint},
		"stale":        {certs["old"].Fingerprint},
		"rotating":     {certs["next"].Fingerprint, certs["expiring"].Fingerprint},
		"bare":         nil,
	}
	check := func(when string) {
		t.Helper()
		for ns, fps := range want {
			got, ok := bundleOf(t, kube, ns)
			if ok != (fps != nil) || !slices.Equal(fingerprints(got), fps) {
				t.Errorf("%s: %s's bundle = %v (present %v), want %v", when, ns, fingerprints(got), ok, fps)
			}
			b, ok := m.Bundle(ns)
			if ok != (fps != nil) || !slices.Equal(certFingerprints(b), fps) {
				t.Errorf("Bundle(%s) = %v, %v; want %v", ns, certFingerprints(b), ok, fps)
			}
		}
	}
	check("published")

	kube.ClearActions()
	if err := m.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	for _, a := range kube.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" {
			t.Errorf("second Publish made a %s on %s", a.GetVerb(), a.GetResource().Resource)
		}
	}

	// Drift: someone edits a bundle (keeping another key) and puts one
	// where none belongs; Publish writes istiod's again.
	cm, err := kube.CoreV1().ConfigMaps("current").Get(ctx, graph.RootBundleName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data[graph.RootBundleKey] = certs["old"].PEM
	cm.Data["other"] = "kept"
	if _, err := kube.CoreV1().ConfigMaps("current").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stray := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: graph.RootBundleName, Namespace: "bare"}, Data: map[string]string{graph.RootBundleKey: certs["old"].PEM}}
	if _, err := kube.CoreV1().ConfigMaps("bare").Create(ctx, stray, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	check("repaired")
	if cm, _ := kube.CoreV1().ConfigMaps("current").Get(ctx, graph.RootBundleName, metav1.GetOptions{}); cm.Data["other"] != "kept" {
		t.Errorf("the repair dropped another key: %v", cm.Data)
	}
}

func TestTrustErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		trust Trust
		want  string
	}{
		"unknown root":      {Trust{Bundles: map[string][]string{"stale": {"nope"}}}, `no root named "nope"`},
		"unnamed other":     {Trust{OtherRoots: []CertSpec{{}}}, "a name is required"},
		"unknown namespace": {Trust{Bundles: map[string][]string{"elsewhere": nil}}, `namespace "elsewhere"`},
		"duplicate name":    {Trust{Roots: []CertSpec{{Name: "a"}}, OtherRoots: []CertSpec{{Name: "a"}}}, "duplicate"},
		"backwards":         {Trust{Roots: []CertSpec{{NotBefore: start, NotAfter: start.Add(-time.Hour)}}}, "is not after"},
	} {
		if _, err := New(Options{Topology: trustTopology(), Start: start, Trust: tc.trust}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
	}
}

// The mesh config says the trust domain and its aliases; an existing one
// keeps its other fields; one already right is not written.
func TestMeshConfig(t *testing.T) {
	existing := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: "istio-system"},
		Data: map[string]string{"mesh": "enableAutoMtls: true\ntrustDomain: old.example\n", "meshNetworks": "networks: {}"}}
	kube := fake.NewClientset(existing)
	m, err := New(Options{Topology: trustTopology(), Start: start, TrustDomain: "new.example", TrustDomainAliases: []string{"old.example", "cluster.local"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	cm, err := kube.CoreV1().ConfigMaps("istio-system").Get(t.Context(), "istio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mesh struct {
		EnableAutoMtls     bool     `json:"enableAutoMtls"`
		TrustDomain        string   `json:"trustDomain"`
		TrustDomainAliases []string `json:"trustDomainAliases"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["mesh"]), &mesh); err != nil {
		t.Fatal(err)
	}
	if !mesh.EnableAutoMtls || mesh.TrustDomain != "new.example" || !slices.Equal(mesh.TrustDomainAliases, []string{"old.example", "cluster.local"}) || cm.Data["meshNetworks"] == "" {
		t.Errorf("mesh config = %q (%v)", cm.Data, mesh)
	}
	if got := m.TrustDomainAliases(); !slices.Equal(got, []string{"old.example", "cluster.local"}) || m.TrustDomain() != "new.example" {
		t.Errorf("TrustDomain %q, aliases %v", m.TrustDomain(), got)
	}
	kube.ClearActions()
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	for _, a := range kube.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" {
			t.Errorf("second Publish made a %s on %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

// istiod's gauges: the first root's expiry; the chain's only for a
// plugged-in CA, its intermediate's expiry. The intermediate is signed by
// the first root.
func TestIstiodCertGauges(t *testing.T) {
	self, err := New(Options{Topology: trustTopology(), Start: start, Trust: Trust{Roots: []CertSpec{
		{Name: "new", NotAfter: start.Add(400 * 24 * time.Hour)}, {Name: "previous", NotAfter: start.Add(5 * 24 * time.Hour)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	self.Tick(time.Hour)
	root := start.Add(400 * 24 * time.Hour)
	diffSamples(t, scrapeAll(t, self.IstiodHandler()), []sample{
		{name: "citadel_server_root_cert_expiry_timestamp", labels: map[string]string{}, value: float64(root.Unix())},
		{name: "citadel_server_root_cert_expiry_seconds", labels: map[string]string{}, value: root.Sub(start.Add(time.Hour)).Seconds()},
	})

	chain := start.Add(2 * 365 * 24 * time.Hour)
	plugged, err := New(Options{Topology: trustTopology(), Start: start, Trust: Trust{
		Roots:        []CertSpec{{NotAfter: root}},
		Intermediate: &CertSpec{NotAfter: chain},
	}})
	if err != nil {
		t.Fatal(err)
	}
	in, ok := plugged.Intermediate()
	if !ok || in.Certificate.CheckSignatureFrom(plugged.Roots()[0].Certificate) != nil || !in.Certificate.IsCA ||
		in.Certificate.Subject.CommonName != "Intermediate CA" || !slices.Equal(in.Certificate.DNSNames, []string{"istiod.istio-system.svc"}) {
		t.Fatalf("Intermediate() = %v, %v: want a CA signed by the root", in.Certificate.Subject, ok)
	}
	diffSamples(t, scrapeAll(t, plugged.IstiodHandler()), []sample{
		{name: "citadel_server_root_cert_expiry_timestamp", labels: map[string]string{}, value: float64(root.Unix())},
		{name: "citadel_server_root_cert_expiry_seconds", labels: map[string]string{}, value: root.Sub(start).Seconds()},
		{name: "citadel_server_cert_chain_expiry_timestamp", labels: map[string]string{}, value: float64(chain.Unix())},
		{name: "citadel_server_cert_chain_expiry_seconds", labels: map[string]string{}, value: chain.Sub(start).Seconds()},
	})
}

// istio-agent's gauge: one series per pod with an agent (sidecars,
// gateways, waypoints; no ambient pod: ztunnel exports none), labelled
// with its namespace and pod; a rotating certificate keeps between half
// and all of its 24 h; a stalled one ages to expiry and beyond.
func TestAgentCertExpiry(t *testing.T) {
	tp := Topology{
		Workloads: []Workload{
			{Name: "client", Namespace: "app", ServiceAccount: "client", Sidecar: true, Labels: map[string]string{"app": "client"}},
			{Name: "stuck", Namespace: "app", ServiceAccount: "stuck", Sidecar: true, Labels: map[string]string{"app": "stuck"}, StalledCertLeft: 5 * time.Hour},
			{Name: "ingress", Namespace: "istio-system", ServiceAccount: "ingress", Gateway: true, Labels: map[string]string{"app": "ingress"}},
			{Name: "web", Namespace: "shop", ServiceAccount: "web", Ambient: true, Labels: map[string]string{"app": "web"}},
			{Name: "waypoint", Namespace: "shop", ServiceAccount: "waypoint", Waypoint: true},
			{Name: "plain", Namespace: "legacy", ServiceAccount: "plain", Labels: map[string]string{"app": "plain"}},
		},
	}
	m, err := New(Options{Topology: tp, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	if err := m.Publish(t.Context(), kube); err != nil {
		t.Fatal(err)
	}
	series := func() map[string]float64 {
		out := map[string]float64{}
		for _, s := range scrapeAll(t, m.Handler()) {
			if s.name != "istio_agent_cert_expiry_seconds" {
				continue
			}
			if s.labels["resource_name"] != "default" || len(s.labels) != 3 {
				t.Errorf("labels %v, want resource_name=default, namespace and pod", s.labels)
			}
			pod, err := kube.CoreV1().Pods(s.labels["namespace"]).Get(t.Context(), s.labels["pod"], metav1.GetOptions{})
			if err != nil {
				t.Fatalf("series %v: no such pod published: %v", s, err)
			}
			out[pod.Namespace+"/"+pod.Labels[workloadLabel]] = s.value
		}
		return out
	}
	got := series()
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"app/client", "app/stuck", "istio-system/ingress", "shop/waypoint"}) {
		t.Fatalf("series for %v, want the sidecars, the gateway and the waypoint", keys)
	}
	if got["app/stuck"] != (5 * time.Hour).Seconds() {
		t.Errorf("stalled certificate has %vs left at the start, want 5 h", got["app/stuck"])
	}
	for _, step := range []time.Duration{0, 7 * time.Hour, 5*time.Hour + 30*time.Minute, 13 * time.Hour} {
		m.Tick(step)
		now := m.Now()
		got := series()
		for _, w := range []string{"app/client", "istio-system/ingress", "shop/waypoint"} {
			left := got[w]
			if left <= WorkloadCertRenewal.Seconds() || left > WorkloadCertTTL.Seconds() {
				t.Errorf("after %s, %s has %vs left: a rotating certificate keeps more than half of 24 h", now.Sub(start), w, left)
			}
			expiry, ok := m.CertExpiry(w)
			if !ok || math.Abs(expiry.Sub(now).Seconds()-left) > 1e-6 {
				t.Errorf("CertExpiry(%s) = %s, %v; the series says %vs after %s", w, expiry, ok, left, now)
			}
		}
		if want := (5*time.Hour - now.Sub(start)).Seconds(); got["app/stuck"] != want {
			t.Errorf("after %s the stalled certificate has %vs left, want %v", now.Sub(start), got["app/stuck"], want)
		}
	}
	if got := series()["app/stuck"]; got >= 0 {
		t.Errorf("25 h on, the stalled certificate has %vs left: want it expired", got)
	}
	// The same pod renews every 12 h at the same phase.
	before := series()["app/client"]
	m.Tick(WorkloadCertRenewal)
	if after := series()["app/client"]; after != before {
		t.Errorf("12 h later the certificate has %vs left, was %v: renewals are every 12 h", after, before)
	}
	for _, w := range []string{"shop/web", "legacy/plain", "app/nobody"} {
		if _, ok := m.CertExpiry(w); ok {
			t.Errorf("CertExpiry(%s) says there is a proxy certificate", w)
		}
	}
	if _, err := New(Options{Topology: Topology{Workloads: []Workload{{Name: "web", Namespace: "shop", ServiceAccount: "web", Ambient: true, StalledCertLeft: time.Hour}}}}); err == nil {
		t.Error("StalledCertLeft on an ambient workload is accepted")
	}
}

// foreignTopology: a caller and a server, sidecars both, the server's
// Service selecting one pod.
func foreignTopology(client, server Workload) Topology {
	client.Name, client.Namespace, client.Sidecar, client.Labels = "client", "app", true, map[string]string{"app": "client"}
	server.Name, server.Namespace, server.Sidecar, server.Labels = "server-v1", "backend", true, map[string]string{"app": "server"}
	if client.ServiceAccount == "" {
		client.ServiceAccount = "client"
	}
	if server.ServiceAccount == "" {
		server.ServiceAccount = "server"
	}
	return Topology{
		Workloads: []Workload{client, server},
		Services:  []Service{{Name: "server", Namespace: "backend", Selector: map[string]string{"app": "server"}, Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}}},
		Callers:   []Caller{{From: "app/client", To: "backend/server", Port: 8080, Rate: 1}},
	}
}

// A foreign principal: servers take any client certificate of the mesh's
// CA, so a caller's foreign principal is what both proxies report; a
// client's proxy checks the server's against the Service's ServiceAccounts
// in the trust domain and its aliases (pilot/pkg/networking/core/cluster_tls.go,
// pilot/pkg/model/push_context.go ServiceAccounts), so a server naming
// another is refused (UF,URX) and one in an alias accepted.
func TestForeignPrincipal(t *testing.T) {
	const (
		foreign = "spiffe://other.example/ns/app/sa/admin"
		alias   = "spiffe://old.example/ns/backend/sa/server"
	)
	for _, tc := range []struct {
		name              string
		topology          Topology
		aliases           []string
		outcome           CallerOutcome
		source, dest      string // the principals reporter=destination reports
		clientDestination string // the destination_principal reporter=source reports
	}{
		{"a caller with another trust domain and ServiceAccount", foreignTopology(Workload{CertPrincipal: foreign}, Workload{}), nil,
			CallerOutcome{Succeeded: 10}, foreign, "spiffe://cluster.local/ns/backend/sa/server", "spiffe://cluster.local/ns/backend/sa/server"},
		{"a server naming another ServiceAccount", foreignTopology(Workload{}, Workload{CertPrincipal: "spiffe://cluster.local/ns/backend/sa/other"}), nil,
			CallerOutcome{Failed: 10}, "", "", "unknown"},
		{"a server in a trust domain that is no alias", foreignTopology(Workload{}, Workload{CertPrincipal: alias}), nil,
			CallerOutcome{Failed: 10}, "", "", "unknown"},
		{"a server in an alias trust domain", foreignTopology(Workload{}, Workload{CertPrincipal: alias}), []string{"old.example"},
			CallerOutcome{Succeeded: 10}, "spiffe://cluster.local/ns/app/sa/client", alias, alias},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Options{Topology: tc.topology, AutoMTLS: true, TrustDomainAliases: tc.aliases, Start: start})
			if err != nil {
				t.Fatal(err)
			}
			m.Tick(10 * time.Second)
			if got := m.Outcomes()["app/client->backend/server:8080"]; got != tc.outcome {
				t.Errorf("outcome %+v, want %+v", got, tc.outcome)
			}
			var dest, src []sample
			for _, s := range scrape(t, m) {
				switch s.labels["reporter"] {
				case "destination":
					dest = append(dest, s)
				case "source":
					src = append(src, s)
				}
			}
			if len(src) != 1 || src[0].labels["destination_principal"] != tc.clientDestination {
				t.Errorf("reporter=source series %v, want one naming %s", src, tc.clientDestination)
			}
			if tc.source == "" {
				if len(dest) != 0 || src[0].labels["response_flags"] != "UF,URX" {
					t.Errorf("a refused handshake: reporter=destination %v, source %v; want UF,URX and no server report", dest, src)
				}
				return
			}
			if len(dest) != 1 || dest[0].labels["source_principal"] != tc.source || dest[0].labels["destination_principal"] != tc.dest ||
				dest[0].labels["connection_security_policy"] != "mutual_tls" {
				t.Errorf("reporter=destination series %v, want source %s, destination %s over mutual_tls", dest, tc.source, tc.dest)
			}
		})
	}

	// The check is mTLS's: plaintext (auto mTLS off) reaches the server.
	m, err := New(Options{Topology: foreignTopology(Workload{}, Workload{CertPrincipal: foreign}), Start: start})
	if err != nil {
		t.Fatal(err)
	}
	m.Tick(time.Second)
	if got := m.Outcomes()["app/client->backend/server:8080"]; got.Failed != 0 {
		t.Errorf("plaintext to a server with a foreign certificate failed: %+v", got)
	}
	if d := Decide(DecisionInput{ClientSidecar: true, ClientTLS: rules.TLSModeIstioMutual, ServerSidecar: true, ServerMode: rules.PeerModePermissive, ServerUnexpectedIdentity: true}); d.Accepted || d.Failure != FailureHandshake {
		t.Errorf("ISTIO_MUTUAL to an unexpected identity: %+v, want a handshake failure", d)
	}

	for name, w := range map[string]Workload{
		"no sidecar": {Name: "a", Namespace: "x", ServiceAccount: "a", CertPrincipal: foreign},
		"ambient":    {Name: "a", Namespace: "x", ServiceAccount: "a", Ambient: true, CertPrincipal: foreign},
		"HBONE":      {Name: "a", Namespace: "x", ServiceAccount: "a", Sidecar: true, Tunnel: true, CertPrincipal: foreign},
		"no SPIFFE":  {Name: "a", Namespace: "x", ServiceAccount: "a", Sidecar: true, CertPrincipal: "admin"},
	} {
		if _, err := New(Options{Topology: Topology{Workloads: []Workload{w}}}); err == nil || !strings.Contains(err.Error(), "CertPrincipal") {
			t.Errorf("%s: CertPrincipal accepted (%v)", name, err)
		}
	}
}
