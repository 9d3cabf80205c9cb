// Identity and trust: the root certificates Istio distributes, istiod's and each proxy's
// certificate expiry, every workload's expected and observed SPIFFE ids (issue 22).

package graph

import (
	"slices"
	"time"
)

// RootBundleName is the ConfigMap in which istiod distributes the mesh's
// root certificates to every namespace, under RootBundleKey (istio/istio
// pilot/pkg/keycertbundle, security/pkg/k8s/configutil.go: CACertNamespaceConfigMap).
const (
	RootBundleName = "istio-ca-root-cert"
	RootBundleKey  = "root-cert.pem"
)

// RootCert is one certificate of a root bundle, parsed.
type RootCert struct {
	// Fingerprint is the SHA-256 of the certificate's DER, lowercase hex.
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"` // lowercase hex
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
	// KeyAlgorithm is "RSA", "ECDSA" or "Ed25519"; KeySize its bits (the
	// curve's for ECDSA).
	KeyAlgorithm string `json:"keyAlgorithm"`
	KeySize      int    `json:"keySize"`
	SelfSigned   bool   `json:"selfSigned"`
}

// RootBundle is what one namespace's istio-ca-root-cert holds.
type RootBundle struct {
	Cluster   string // its cluster's Name
	Namespace string
	ConfigMap string
	// Certs in the bundle's order: more than one during a rotation.
	Certs []RootCert
	// Error says what could not be read (no root-cert.pem, a block that is
	// no certificate); Certs holds what could.
	Error string
}

// PodRef names a pod.
type PodRef struct{ Namespace, Name string }

// CertFigures are the certificate expiries Prometheus has: istiod's and
// each proxy's (istio-agent's).
type CertFigures struct {
	// RootExpiry and ChainExpiry are istiod's root and signing chain
	// expiry (citadel_server_root_cert_expiry_timestamp,
	// citadel_server_cert_chain_expiry_timestamp), the soonest of its
	// replicas; nil when Prometheus has none.
	RootExpiry, ChainExpiry *time.Time
	// Proxies is each proxy's certificate expiry, by its pod.
	Proxies map[PodRef]time.Time
}

// Identity is the trust inventory and every workload's identity: the
// answer of GET /api/identity.
type Identity struct {
	TrustDomain        string             `json:"trustDomain"`
	TrustDomainAliases []string           `json:"trustDomainAliases"`
	Roots              []Root             `json:"roots"`
	CA                 CAFigures          `json:"ca"`
	Workloads          []WorkloadIdentity `json:"workloads"`
	// Thresholds are those the findings were judged by, so that a viewer
	// colours certificates as the findings do.
	Thresholds ThresholdsView `json:"thresholds"`
}

// ThresholdsView is CertThresholds in whole seconds.
type ThresholdsView struct {
	RootWarnSeconds     int64 `json:"rootWarnSeconds"`
	RootCriticalSeconds int64 `json:"rootCriticalSeconds"`
	WorkloadWarnSeconds int64 `json:"workloadWarnSeconds"`
}

// Root is a root certificate and the namespaces whose bundle holds it.
type Root struct {
	RootCert
	Namespaces []string `json:"namespaces"`
}

// CAFigures are istiod's own, where Prometheus has them.
type CAFigures struct {
	RootExpiry  *time.Time `json:"rootExpiry"`
	ChainExpiry *time.Time `json:"chainExpiry"`
}

// WorkloadIdentity is who a workload should be and who it was seen as.
type WorkloadIdentity struct {
	ID        string `json:"id"` // its node id, "<namespace>/<name>"
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ServiceAccount is its pods' (the first, sorted, during a rollout that
	// changes it; ServiceAccounts then lists them all).
	ServiceAccount  string   `json:"serviceAccount"`
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`
	// ExpectedPrincipal is spiffe://<trust domain>/ns/<ns>/sa/<sa>.
	ExpectedPrincipal string `json:"expectedPrincipal"`
	// ObservedPrincipals are those it presented in mTLS traffic, live and
	// in the look-back, sorted.
	ObservedPrincipals []string `json:"observedPrincipals"`
	// CertExpiry is the soonest of its proxies' certificates; nil where
	// Prometheus has no figure.
	CertExpiry *time.Time `json:"certExpiry"`
}

// CertThresholds say when a certificate's remaining life is a finding.
type CertThresholds struct {
	// RootWarn and RootCritical: a root expiring within them is a warning,
	// a critical finding. Defaults 30 and 7 days.
	RootWarn, RootCritical time.Duration
	// WorkloadWarn: a proxy certificate with less left has stopped
	// rotating (Istio renews a 24 h certificate at half its life). Default 6 h.
	WorkloadWarn time.Duration
}

// Default thresholds of CertThresholds.
const (
	DefaultRootWarn     = 30 * 24 * time.Hour
	DefaultRootCritical = 7 * 24 * time.Hour
	DefaultWorkloadWarn = 6 * time.Hour
)

// withDefaults fills zero thresholds.
func (t CertThresholds) withDefaults() CertThresholds {
	if t.RootWarn <= 0 {
		t.RootWarn = DefaultRootWarn
	}
	if t.RootCritical <= 0 {
		t.RootCritical = DefaultRootCritical
	}
	if t.WorkloadWarn <= 0 {
		t.WorkloadWarn = DefaultWorkloadWarn
	}
	return t
}

// SPIFFEID is the principal Istio gives a ServiceAccount
// (istio/istio pkg/spiffe/spiffe.go: spiffe://<td>/ns/<ns>/sa/<sa>).
func SPIFFEID(trustDomain, namespace, serviceAccount string) string {
	return "spiffe://" + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount
}

// WithLists is id with an empty list, never null, wherever the contract
// has a list.
func (id Identity) WithLists() Identity {
	if id.TrustDomainAliases == nil {
		id.TrustDomainAliases = []string{}
	}
	if id.Roots == nil {
		id.Roots = []Root{}
	}
	if id.Workloads == nil {
		id.Workloads = []WorkloadIdentity{}
	}
	for i := range id.Roots {
		if id.Roots[i].Namespaces == nil {
			id.Roots = slices.Clone(id.Roots) // id's own, not its caller's
			for j := range id.Roots {
				if id.Roots[j].Namespaces == nil {
					id.Roots[j].Namespaces = []string{}
				}
			}
			break
		}
	}
	return id
}
