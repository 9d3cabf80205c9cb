// Identity and trust: the mesh's CA as istiod runs it (real root certificates, an optional
// plugged-in intermediate), the istio-ca-root-cert bundle it distributes to every namespace, the
// mesh config's trust domain and aliases, and the certificate expiry istiod and each proxy's
// istio-agent export.

package meshsim

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/graph"
)

// Trust is the mesh's CA as istiod runs it and what it distributes. Its
// zero value is istiod's self-signed CA: one root (DefaultRootTTL long,
// created a day before Options.Start) that signs the workload certificates
// itself, distributed to every namespace.
type Trust struct {
	// Roots are the root certificates istiod distributes, in the bundle's
	// order: every namespace's istio-ca-root-cert holds them unless Bundles
	// says otherwise. Two during a rotation (istiod puts the new root
	// first: security/pkg/pki/util AppendRootCerts). The first is istiod's
	// root, the one citadel_server_root_cert_expiry_timestamp reports
	// (security/pkg/server/ca/server.go RecordCertsExpiry). None means one
	// root of CertSpec's defaults.
	Roots []CertSpec
	// Intermediate, when set, makes istiod a plugged-in CA (the cacerts
	// Secret: an intermediate signed by the first root, as Istio's
	// tools/certs makes it), whose expiry citadel_server_cert_chain_expiry_timestamp
	// reports. Without one istiod's CA is self-signed and records no chain
	// expiry (its KeyCertBundle has no cert chain).
	Intermediate *CertSpec
	// OtherRoots are roots istiod does not distribute but that some
	// namespace's bundle holds (Bundles): a stale copy of an old root,
	// another mesh's root. Each must be named.
	OtherRoots []CertSpec
	// Bundles overrides the bundle of a namespace (of the topology, or the
	// root namespace): the names of the roots (of Roots or OtherRoots) its
	// istio-ca-root-cert holds, in order. A namespace listed with no names
	// has no istio-ca-root-cert at all.
	Bundles map[string][]string
}

// CertSpec is a CA certificate meshsim generates with crypto/x509. Its
// key is never published.
type CertSpec struct {
	// Name identifies a root in Trust.Bundles; the same name is the same
	// certificate everywhere. Default for Roots: "root", then "root-1",
	// "root-2"...; an intermediate's is "intermediate".
	Name string
	// Subject defaults to O=<trust domain> for a root (istiod's
	// self-signed root: security/pkg/pki/ca/ca.go NewSelfSignedIstioCAOptions)
	// and O=Istio, CN=Intermediate CA for an intermediate
	// (tools/certs/common.mk).
	Subject pkix.Name
	// NotBefore defaults to a day before Options.Start; NotAfter to
	// NotBefore plus DefaultRootTTL. Both are truncated to whole seconds,
	// as X.509 stores them.
	NotBefore, NotAfter time.Time
	// RSABits, when set, gives the certificate an RSA key of that many bits
	// (istiod's self-signed root is RSA 2048, tools/certs' 4096); else ECDSA P-256.
	RSABits int
}

// Cert is a certificate meshsim generated.
type Cert struct {
	Name        string
	Certificate *x509.Certificate
	// PEM is the certificate as one PEM block, newline-terminated.
	PEM string
	// Fingerprint is the SHA-256 of its DER, lowercase hex.
	Fingerprint string
}

// DefaultRootTTL is the lifetime of istiod's self-signed root
// (security/pkg/cmd/constants.go DefaultSelfSignedCACertTTL).
const DefaultRootTTL = 3650 * 24 * time.Hour

// WorkloadCertTTL is the lifetime of a workload certificate
// (security/pkg/cmd/constants.go DefaultWorkloadCertTTL), which istio-agent
// renews at WorkloadCertRenewal, half its life
// (security/pkg/nodeagent/cache/secretcache.go rotateTime, with
// SECRET_GRACE_PERIOD_RATIO 0.5; meshsim adds no jitter).
const (
	WorkloadCertTTL     = 24 * time.Hour
	WorkloadCertRenewal = WorkloadCertTTL / 2
)

// The ConfigMaps meshsim writes as istiod would.
const (
	// rootBundleLabel is the label of the bundle (graph.RootBundleName,
	// key graph.RootBundleKey) istiod's namespace controller writes into
	// every namespace (pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go).
	rootBundleLabel = "istio.io/config"
	// meshConfigName and meshConfigKey: istiod's mesh config in the root
	// namespace (pkg/config/mesh), read by internal/k8s for the trust domain.
	meshConfigName = "istio"
	meshConfigKey  = "mesh"
)

// trustState is the generated CA, immutable after New.
type trustState struct {
	roots        []Cert          // distributed, in order
	byName       map[string]Cert // every root, distributed or other
	intermediate *Cert
	bundles      map[string][]Cert // per namespace, overrides only
	overridden   map[string]bool
}

// newTrust generates the certificates. namespaces are those Publish writes
// a bundle into.
func newTrust(t Trust, start time.Time, trustDomain, rootNamespace string, namespaces []string) (*trustState, error) {
	st := &trustState{byName: map[string]Cert{}, bundles: map[string][]Cert{}, overridden: map[string]bool{}}
	roots := t.Roots
	if len(roots) == 0 {
		roots = []CertSpec{{}}
	}
	defaults := func(spec CertSpec, name string, subject pkix.Name) (CertSpec, error) {
		if spec.Name == "" {
			spec.Name = name
		}
		if len(spec.Subject.ToRDNSequence()) == 0 {
			spec.Subject = subject
		}
		if spec.NotBefore.IsZero() {
			spec.NotBefore = start.Add(-24 * time.Hour)
		}
		if spec.NotAfter.IsZero() {
			spec.NotAfter = spec.NotBefore.Add(DefaultRootTTL)
		}
		spec.NotBefore, spec.NotAfter = spec.NotBefore.UTC().Truncate(time.Second), spec.NotAfter.UTC().Truncate(time.Second)
		if !spec.NotAfter.After(spec.NotBefore) {
			return spec, fmt.Errorf("certificate %q: NotAfter %s is not after NotBefore %s", spec.Name, spec.NotAfter, spec.NotBefore)
		}
		if spec.RSABits != 0 && spec.RSABits < 1024 {
			return spec, fmt.Errorf("certificate %q: RSABits %d: at least 1024", spec.Name, spec.RSABits)
		}
		return spec, nil
	}
	rootSubject := pkix.Name{Organization: []string{trustDomain}}
	var signer crypto.Signer
	var signerCert *x509.Certificate
	add := func(spec CertSpec, distributed bool) error {
		if _, dup := st.byName[spec.Name]; dup {
			return fmt.Errorf("root %q: duplicate name", spec.Name)
		}
		cert, key, err := generate(spec, nil, nil, nil)
		if err != nil {
			return err
		}
		st.byName[spec.Name] = cert
		if distributed {
			if signer == nil {
				signer, signerCert = key, cert.Certificate
			}
			st.roots = append(st.roots, cert)
		}
		return nil
	}
	var errs []error
	for i, spec := range roots {
		name := "root"
		if i > 0 {
			name = fmt.Sprintf("root-%d", i)
		}
		spec, err := defaults(spec, name, rootSubject)
		if err == nil {
			err = add(spec, true)
		}
		errs = append(errs, err)
	}
	for i, spec := range t.OtherRoots {
		if spec.Name == "" {
			errs = append(errs, fmt.Errorf("other root %d: a name is required", i))
			continue
		}
		spec, err := defaults(spec, spec.Name, rootSubject)
		if err == nil {
			err = add(spec, false)
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	if t.Intermediate != nil {
		spec, err := defaults(*t.Intermediate, "intermediate", pkix.Name{Organization: []string{"Istio"}, CommonName: "Intermediate CA"})
		if err != nil {
			return nil, fmt.Errorf("trust: %w", err)
		}
		// tools/certs gives the intermediate istiod's DNS name.
		cert, _, err := generate(spec, signerCert, signer, []string{"istiod." + rootNamespace + ".svc"})
		if err != nil {
			return nil, fmt.Errorf("trust: %w", err)
		}
		st.intermediate = &cert
	}
	for _, ns := range slices.Sorted(maps.Keys(t.Bundles)) {
		if !slices.Contains(namespaces, ns) {
			errs = append(errs, fmt.Errorf("bundle of namespace %q: neither a namespace of the topology nor the root namespace", ns))
			continue
		}
		st.overridden[ns] = true
		for _, name := range t.Bundles[ns] {
			cert, ok := st.byName[name]
			if !ok {
				errs = append(errs, fmt.Errorf("bundle of namespace %q: no root named %q", ns, name))
				continue
			}
			st.bundles[ns] = append(st.bundles[ns], cert)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	return st, nil
}

// generate makes a CA certificate: self-signed without a parent.
func generate(spec CertSpec, parent *x509.Certificate, parentKey crypto.Signer, dnsNames []string) (Cert, crypto.Signer, error) {
	var key crypto.Signer
	var err error
	if spec.RSABits != 0 {
		key, err = rsa.GenerateKey(rand.Reader, spec.RSABits)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return Cert{}, nil, fmt.Errorf("certificate %q: key: %w", spec.Name, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return Cert{}, nil, fmt.Errorf("certificate %q: serial: %w", spec.Name, err)
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               spec.Subject,
		NotBefore:             spec.NotBefore,
		NotAfter:              spec.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              dnsNames,
	}
	if parent == nil {
		parent, parentKey = template, key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), parentKey)
	if err != nil {
		return Cert{}, nil, fmt.Errorf("certificate %q: %w", spec.Name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Cert{}, nil, fmt.Errorf("certificate %q: %w", spec.Name, err)
	}
	sum := sha256.Sum256(der)
	return Cert{
		Name:        spec.Name,
		Certificate: cert,
		PEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Fingerprint: hex.EncodeToString(sum[:]),
	}, key, nil
}

// Roots are the root certificates istiod distributes, in the bundle's
// order (Trust.Roots): the first is istiod's own.
func (m *Mesh) Roots() []Cert { return slices.Clone(m.trust.roots) }

// Root is the root of that name, distributed or one of Trust.OtherRoots.
func (m *Mesh) Root(name string) (Cert, bool) {
	c, ok := m.trust.byName[name]
	return c, ok
}

// Intermediate is the plugged-in CA's signing certificate (Trust.Intermediate).
func (m *Mesh) Intermediate() (Cert, bool) {
	if m.trust.intermediate == nil {
		return Cert{}, false
	}
	return *m.trust.intermediate, true
}

// Bundle is what Publish writes into the namespace's istio-ca-root-cert
// (root-cert.pem: their PEM blocks in this order); false when it writes
// none there: a namespace Trust.Bundles lists without roots, or one that is
// neither the topology's nor the root namespace.
func (m *Mesh) Bundle(namespace string) ([]Cert, bool) {
	if !slices.Contains(m.bundleNamespaces(), namespace) {
		return nil, false
	}
	certs := m.trust.roots
	if m.trust.overridden[namespace] {
		certs = m.trust.bundles[namespace]
	}
	return slices.Clone(certs), len(certs) > 0
}

// bundleNamespaces are those istiod's namespace controller writes into:
// the topology's and the root namespace.
func (m *Mesh) bundleNamespaces() []string {
	namespaces := m.namespaces()
	for _, cs := range m.clusters {
		if !slices.Contains(namespaces, cs.root) {
			namespaces = append(namespaces, cs.root)
			slices.Sort(namespaces)
		}
	}
	return namespaces
}

func bundlePEM(certs []Cert) string {
	var b strings.Builder
	for _, c := range certs {
		b.WriteString(c.PEM)
	}
	return b.String()
}

// TrustDomain is the mesh config's trustDomain.
func (m *Mesh) TrustDomain() string { return m.trustDomain }

// TrustDomainAliases are the mesh config's trustDomainAliases.
func (m *Mesh) TrustDomainAliases() []string { return slices.Clone(m.aliases) }

// Now is the mesh's clock: Options.Start plus the simulated time Tick has
// advanced.
func (m *Mesh) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.start.Add(m.elapsed)
}

// CertExpiry is when the workload's proxy certificate (istio-agent's, in
// the pod's sidecar, gateway or waypoint) expires, as of Now; false for a
// workload without one (no proxy, or ambient: ztunnel's certificates,
// whose expiry ztunnel does not export, istio/ztunnel#1748).
// workload is "<namespace>/<name>".
func (m *Mesh) CertExpiry(workload string) (time.Time, bool) {
	w := m.idx.workloads[workload]
	if w == nil || !w.hasAgent() {
		return time.Time{}, false
	}
	return m.certExpiry(w, m.Now()), true
}

// certExpiry: a rotating certificate was issued at the last renewal, every
// WorkloadCertRenewal from a phase of its own (pods start at different
// times); a stalled one expires StalledCertLeft after the start.
func (m *Mesh) certExpiry(w *Workload, now time.Time) time.Time {
	if w.StalledCertLeft != 0 {
		return m.start.Add(w.StalledCertLeft)
	}
	phase := time.Duration(fnvHash(w.Namespace+"/"+w.Name)%uint64(WorkloadCertRenewal/time.Second)) * time.Second
	age := time.Duration((now.UnixNano() - int64(phase)) % int64(WorkloadCertRenewal))
	if age < 0 {
		age += WorkloadCertRenewal
	}
	return now.Add(-age).Add(WorkloadCertTTL)
}

// hasAgent: an istio-agent runs in the pod and holds a workload
// certificate (a sidecar, a gateway, a waypoint).
func (w *Workload) hasAgent() bool { return w.hasProxy() || w.Waypoint }

// agentCertDesc is istio-agent's gauge (security/pkg/nodeagent/cache/monitoring.go
// cert_expiry_seconds, recorded by registerSecret in secretcache.go for
// resource_name "default"; pilot-agent prefixes istio_agent_), with the
// namespace and pod labels Istio's sample Prometheus adds to every pod's
// series (samples/addons/prometheus.yaml): meshsim serves all pods as one
// target, so they are on the series.
var agentCertDesc = prometheus.NewDesc("istio_agent_cert_expiry_seconds",
	"The time remaining, in seconds, before the certificate chain will expire. A negative value indicates the cert is expired.",
	[]string{"resource_name", "namespace", "pod"}, nil)

// agentCollector serves each proxy's certificate expiry, read from the
// mesh's clock at scrape time.
type agentCollector struct{ m *Mesh }

func (c agentCollector) Describe(ch chan<- *prometheus.Desc) { ch <- agentCertDesc }

func (c agentCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.m.Now()
	for _, w := range sortedValues(c.m.idx.workloads) {
		if !w.hasAgent() {
			continue
		}
		left := c.m.certExpiry(w, now).Sub(now).Seconds()
		ch <- prometheus.MustNewConstMetric(agentCertDesc, prometheus.GaugeValue, left, "default", w.Namespace, c.m.pods[w].Name)
	}
}

// istiod's gauges (security/pkg/server/ca/monitoring.go).
var (
	rootExpiryTimestampDesc = prometheus.NewDesc("citadel_server_root_cert_expiry_timestamp",
		"The unix timestamp, in seconds, when the root cert will expire.", nil, nil)
	rootExpirySecondsDesc = prometheus.NewDesc("citadel_server_root_cert_expiry_seconds",
		"The time remaining, in seconds, before the root cert will expire. A negative value indicates the cert is expired.", nil, nil)
	chainExpiryTimestampDesc = prometheus.NewDesc("citadel_server_cert_chain_expiry_timestamp",
		"The unix timestamp, in seconds, when Istio generated cert chain will expire.", nil, nil)
	chainExpirySecondsDesc = prometheus.NewDesc("citadel_server_cert_chain_expiry_seconds",
		"The time remaining, in seconds, before the Istio Generated cert chain will expire. A negative value indicates the cert is expired.", nil, nil)
)

// istiodCollector serves istiod's CA figures: the first root's expiry and,
// for a plugged-in CA, the signing chain's (its first certificate, the
// intermediate: RecordCertsExpiry in security/pkg/server/ca/server.go).
type istiodCollector struct{ m *Mesh }

func (c istiodCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- rootExpiryTimestampDesc
	ch <- rootExpirySecondsDesc
	ch <- chainExpiryTimestampDesc
	ch <- chainExpirySecondsDesc
}

func (c istiodCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.m.Now()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	root := c.m.trust.roots[0].Certificate.NotAfter
	gauge(rootExpiryTimestampDesc, float64(root.Unix()))
	gauge(rootExpirySecondsDesc, root.Sub(now).Seconds())
	if in := c.m.trust.intermediate; in != nil {
		chain := in.Certificate.NotAfter
		gauge(chainExpiryTimestampDesc, float64(chain.Unix()))
		gauge(chainExpirySecondsDesc, chain.Sub(now).Seconds())
	}
}

// IstiodHandler serves istiod's own metrics in Prometheus text format, as
// its :15014/metrics would: the CA's root and signing-chain expiry, a
// target apart from Handler's proxies.
func (m *Mesh) IstiodHandler() http.Handler {
	return promhttp.HandlerFor(m.istiodRegistry, promhttp.HandlerOpts{})
}

// unexpectedIdentity: the server's certificate names none of the
// identities a client's proxy expects of the Service: the SPIFFE ids of
// its pods' ServiceAccounts in the trust domain and each alias
// (pilot/pkg/model/push_context.go ServiceAccounts, spiffe.ExpandWithTrustDomains).
func (m *Mesh) unexpectedIdentity(svc *Service, server *Workload) bool {
	if server.CertPrincipal == "" {
		return false
	}
	for _, w := range m.idx.endpoints[svc.Namespace+"/"+svc.Name] {
		for _, td := range append([]string{m.trustDomain}, m.aliases...) {
			if server.CertPrincipal == spiffeID(td, w.Namespace, w.ServiceAccount) {
				return false
			}
		}
	}
	return true
}

// ensureRootBundle writes the namespace's istio-ca-root-cert as istiod's
// namespace controller does (security/pkg/k8s/configutil.go
// InsertDataToConfigMap: created, or its key updated, other keys kept), or
// deletes it where the namespace is to hold none.
func ensureRootBundle(ctx context.Context, kube kubernetes.Interface, namespace, data string, present bool) error {
	client := kube.CoreV1().ConfigMaps(namespace)
	got, err := client.Get(ctx, graph.RootBundleName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if !present {
			return nil
		}
		_, err = client.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: graph.RootBundleName, Namespace: namespace, Labels: map[string]string{rootBundleLabel: "true"}},
			Data:       map[string]string{graph.RootBundleKey: data},
		}, metav1.CreateOptions{})
		return wrap(ignoreExists(err), "create configmap %s/%s", namespace, graph.RootBundleName)
	case err != nil:
		return wrap(err, "get configmap %s/%s", namespace, graph.RootBundleName)
	case !present:
		err = client.Delete(ctx, graph.RootBundleName, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return wrap(err, "delete configmap %s/%s", namespace, graph.RootBundleName)
	case got.Data[graph.RootBundleKey] == data && got.Labels[rootBundleLabel] == "true":
		return nil
	}
	updated := got.DeepCopy()
	updated.Data = mergeStrings(updated.Data, map[string]string{graph.RootBundleKey: data})
	updated.Labels = mergeStrings(updated.Labels, map[string]string{rootBundleLabel: "true"})
	_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
	return wrap(err, "update configmap %s/%s", namespace, graph.RootBundleName)
}

// ensureMeshConfig makes the mesh config (ConfigMap istio, key mesh, in
// the root namespace) say the trust domain and its aliases, keeping every
// other field of an existing one; an unreadable one is replaced.
func ensureMeshConfig(ctx context.Context, kube kubernetes.Interface, rootNamespace, trustDomain string, aliases []string) error {
	client := kube.CoreV1().ConfigMaps(rootNamespace)
	got, err := client.Get(ctx, meshConfigName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		text, err := meshConfigYAML(nil, trustDomain, aliases)
		if err != nil {
			return err
		}
		_, err = client.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: meshConfigName, Namespace: rootNamespace, Labels: map[string]string{"istio.io/rev": "default"}},
			Data:       map[string]string{meshConfigKey: text},
		}, metav1.CreateOptions{})
		return wrap(ignoreExists(err), "create configmap %s/%s", rootNamespace, meshConfigName)
	}
	if err != nil {
		return wrap(err, "get configmap %s/%s", rootNamespace, meshConfigName)
	}
	var mesh map[string]any
	if yaml.Unmarshal([]byte(got.Data[meshConfigKey]), &mesh) != nil {
		mesh = nil
	}
	if meshConfigSays(mesh, trustDomain, aliases) {
		return nil
	}
	text, err := meshConfigYAML(mesh, trustDomain, aliases)
	if err != nil {
		return err
	}
	updated := got.DeepCopy()
	updated.Data = mergeStrings(updated.Data, map[string]string{meshConfigKey: text})
	_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
	return wrap(err, "update configmap %s/%s", rootNamespace, meshConfigName)
}

// meshConfigSays: the parsed mesh config has this trust domain and these
// aliases (none: the field absent or empty).
func meshConfigSays(mesh map[string]any, trustDomain string, aliases []string) bool {
	if mesh == nil || mesh["trustDomain"] != trustDomain {
		return false
	}
	got, _ := mesh["trustDomainAliases"].([]any)
	if len(got) != len(aliases) {
		return false
	}
	for i, a := range got {
		if a != aliases[i] {
			return false
		}
	}
	return true
}

// meshConfigYAML sets the trust domain and aliases in mesh (nil: a new one).
func meshConfigYAML(mesh map[string]any, trustDomain string, aliases []string) (string, error) {
	if mesh == nil {
		mesh = map[string]any{}
	}
	mesh["trustDomain"] = trustDomain
	if len(aliases) > 0 {
		mesh["trustDomainAliases"] = aliases
	} else {
		delete(mesh, "trustDomainAliases")
	}
	out, err := yaml.Marshal(mesh)
	if err != nil {
		return "", fmt.Errorf("meshsim: mesh config: %w", err)
	}
	return string(out), nil
}
