// Tests of certificates in the loop: the Prometheus source's samples and figures fetched together
// and failing together, the last good figures and the thresholds in every build, and the gauges
// of root and workload certificate expiry.

package live

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlock/meshlock/internal/graph"
	meshtest "github.com/meshlock/meshlock/internal/testutil"
)

var certsClock = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)

func timePtr(t time.Time) *time.Time { return &t }

func someCerts() graph.CertFigures {
	return graph.CertFigures{
		RootExpiry:  timePtr(certsClock.Add(365 * 24 * time.Hour)),
		ChainExpiry: timePtr(certsClock.Add(90 * 24 * time.Hour)),
		Proxies: map[graph.PodRef]time.Time{
			{Namespace: "default", Name: "ratings-v1-abc"}:   certsClock.Add(20 * time.Hour),
			{Namespace: "default", Name: "ratings-v1-def"}:   certsClock.Add(12 * time.Hour),
			{Namespace: "default", Name: "reviews-v2-ghi"}:   certsClock.Add(30 * time.Hour),
			{Namespace: "elsewhere", Name: "ratings-v1-abc"}: certsClock.Add(time.Hour), // not this workload's
		},
	}
}

func TestPrometheusSourceAsksForBothAtOnce(t *testing.T) {
	// Each waits until the other has started: asked one after the other,
	// they would never return.
	samplesAsked, certsAsked := make(chan struct{}), make(chan struct{})
	waitFor := func(ctx context.Context, ch <-chan struct{}) error {
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	src := PrometheusSource{
		Samples: func(ctx context.Context) ([]graph.Sample, error) {
			close(samplesAsked)
			if err := waitFor(ctx, certsAsked); err != nil {
				return nil, err
			}
			return reviewsToRatings(graph.SecurityMutualTLS).Samples, nil
		},
		Certs: func(ctx context.Context) (graph.CertFigures, error) {
			close(certsAsked)
			if err := waitFor(ctx, samplesAsked); err != nil {
				return graph.CertFigures{}, err
			}
			return someCerts(), nil
		},
	}
	ctx, cancel := context.WithTimeout(t.Context(), meshtest.HangBound)
	defer cancel()
	part, err := src.Fetch(ctx, certsClock)
	if err != nil {
		t.Fatalf("Fetch: %v (the two were not asked for at once)", err)
	}
	if !slices.Equal(part.Samples, reviewsToRatings(graph.SecurityMutualTLS).Samples) {
		t.Errorf("samples %+v", part.Samples)
	}
	if part.Certs == nil || !part.Certs.RootExpiry.Equal(*someCerts().RootExpiry) || len(part.Certs.Proxies) != 4 {
		t.Errorf("certs %+v, want someCerts()", part.Certs)
	}
	if part.Cluster != nil {
		t.Errorf("the Prometheus source says something of the cluster: %+v", part.Cluster)
	}
}

func TestPrometheusSourceFailsWhole(t *testing.T) {
	samplesDown := errors.New("prometheus http query: connection refused")
	certsDown := errors.New("prometheus proxy_certs query: execution: too many samples")
	for _, tc := range []struct {
		name                string
		samplesErr, certErr error
		want                string
		is                  []error
	}{
		{"samples", samplesDown, nil, samplesDown.Error(), []error{samplesDown}},
		{"certificates", nil, certsDown, certsDown.Error(), []error{certsDown}},
		{"both", samplesDown, certsDown, samplesDown.Error() + "; " + certsDown.Error(), []error{samplesDown, certsDown}},
		// The same words twice say nothing more.
		{"both alike", samplesDown, errors.New(samplesDown.Error()), samplesDown.Error(), []error{samplesDown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := PrometheusSource{
				Samples: func(context.Context) ([]graph.Sample, error) {
					if tc.samplesErr != nil {
						return nil, tc.samplesErr
					}
					return reviewsToRatings(graph.SecurityMutualTLS).Samples, nil
				},
				Certs: func(context.Context) (graph.CertFigures, error) {
					if tc.certErr != nil {
						return graph.CertFigures{}, tc.certErr
					}
					return someCerts(), nil
				},
			}
			part, err := src.Fetch(t.Context(), certsClock)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Fetch() error = %v, want %q", err, tc.want)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("error %v is not %v", err, target)
				}
			}
			if part.Samples != nil || part.Certs != nil || part.Cluster != nil {
				t.Errorf("part %+v returned with the error", part)
			}
		})
	}
}

func TestPrometheusSourceWithoutCertsIsASampleFunc(t *testing.T) {
	src := PrometheusSource{Samples: func(context.Context) ([]graph.Sample, error) {
		return reviewsToRatings(graph.SecurityMutualTLS).Samples, nil
	}}
	part, err := src.Fetch(t.Context(), certsClock)
	if err != nil || len(part.Samples) != 1 || part.Certs != nil {
		t.Errorf("Fetch() = %+v, %v; want the samples and no certificates", part, err)
	}
}

// certsCert is a parsed root certificate of the given name and end.
func certsCert(fingerprint string, notAfter time.Time) graph.RootCert {
	return graph.RootCert{Fingerprint: fingerprint, Subject: "O=cluster.local", Issuer: "O=cluster.local",
		NotBefore: notAfter.Add(-10 * 365 * 24 * time.Hour), NotAfter: notAfter, KeyAlgorithm: "RSA", KeySize: 2048, SelfSigned: true}
}

// trustedBookinfo is bookinfo with pods, a trust domain and a root bundle
// of the given certificates in the root namespace and in default.
func trustedBookinfo(roots ...graph.RootCert) Part {
	part := bookinfo()
	c := part.Cluster
	c.Workloads[0].Pods = []string{"ratings-v1-abc", "ratings-v1-def"}
	c.Workloads[1].Pods = []string{"reviews-v2-ghi"}
	c.TrustDomain, c.RootNamespace = "cluster.local", "istio-system"
	for _, ns := range []string{"istio-system", "default"} {
		c.Roots = append(c.Roots, graph.RootBundle{Namespace: ns, ConfigMap: graph.RootBundleName, Certs: roots})
	}
	return part
}

// certsLoop is a loop over a Prometheus source of traffic and certificates
// and a Kubernetes source, on a clock that starts at certsClock.
func certsLoop(t *testing.T, prom, kube Source, thresholds graph.CertThresholds) (*Loop, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	clock := certsClock
	l, err := NewLoop(LoopOptions{
		Sources:  []SourceConfig{{Name: "prometheus", Source: prom}, {Name: "kubernetes", Source: kube}},
		Interval: time.Hour, Window: time.Minute, Registerer: reg, Thresholds: thresholds,
		Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, reg
}

// scriptedCerts answers the certificates a test sets.
type scriptedCerts struct{ scripted }

func (s *scriptedCerts) fetch(context.Context) (graph.CertFigures, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.part.Certs == nil {
		return graph.CertFigures{}, s.err
	}
	return *s.part.Certs, s.err
}

func workloadIdentity(s graph.Snapshot, id string) graph.WorkloadIdentity {
	for _, w := range s.Identity.Workloads {
		if w.ID == id {
			return w
		}
	}
	return graph.WorkloadIdentity{ID: "absent"}
}

func TestLoopBuildsWithTheLastGoodCerts(t *testing.T) {
	certs := someCerts()
	figures := &scriptedCerts{scripted{part: Part{Certs: &certs}}}
	traffic := &scripted{part: reviewsToRatings(graph.SecurityMutualTLS)}
	prom := PrometheusSource{Samples: func(ctx context.Context) ([]graph.Sample, error) {
		part, err := traffic.Fetch(ctx, time.Time{})
		return part.Samples, err
	}, Certs: figures.fetch}
	l, _ := certsLoop(t, prom, &scripted{part: trustedBookinfo(certsCert("aa11", certsClock.Add(365*24*time.Hour)))}, graph.CertThresholds{})

	check := func(when string) {
		t.Helper()
		s := l.Snapshot()
		if ca := s.Identity.CA; ca.RootExpiry == nil || !ca.RootExpiry.Equal(*certs.RootExpiry) || ca.ChainExpiry == nil || !ca.ChainExpiry.Equal(*certs.ChainExpiry) {
			t.Errorf("%s: istiod's figures %+v, want root %v and chain %v", when, ca, certs.RootExpiry, certs.ChainExpiry)
		}
		// The soonest of its pods', not another namespace's pod of that name.
		if got := workloadIdentity(s, "default/ratings-v1").CertExpiry; got == nil || !got.Equal(certsClock.Add(12*time.Hour)) {
			t.Errorf("%s: ratings-v1's certificate expiry %v, want %v", when, got, certsClock.Add(12*time.Hour))
		}
		if edgeStatus(s, reviewsRatings) != graph.StatusLocked {
			t.Errorf("%s: edge %s", when, edgeStatus(s, reviewsRatings))
		}
	}
	l.Refresh(t.Context())
	if s := l.Snapshot(); s.Stale {
		t.Fatalf("first refresh stale: %s", s.Error)
	}
	check("first refresh")

	// The certificate queries fail: the part fails whole and its last good
	// figures stay in the graph, marked stale.
	figures.set(Part{}, errors.New("prometheus ca_certs query: server answered 503"))
	traffic.set(reviewsToRatings(graph.SecurityPlaintext), nil)
	l.Refresh(t.Context())
	if s := l.Snapshot(); !s.Stale || s.Error != "prometheus: prometheus ca_certs query: server answered 503" {
		t.Errorf("after the certificates failed: stale=%v error=%q", s.Stale, s.Error)
	}
	check("certificates failing")
}

func TestLoopPassesTheThresholds(t *testing.T) {
	// A root 20 days from its end: a warning at the default 30 days, none
	// when the warning starts at 10.
	kube := &scripted{part: trustedBookinfo(certsCert("aa11", certsClock.Add(20*24*time.Hour)))}
	prom := &scripted{part: reviewsToRatings(graph.SecurityMutualTLS)}
	for _, tc := range []struct {
		name       string
		thresholds graph.CertThresholds
		want       int
	}{
		{"defaults", graph.CertThresholds{}, 1},
		{"warn at 10 days", graph.CertThresholds{RootWarn: 10 * 24 * time.Hour, RootCritical: 24 * time.Hour}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := certsLoop(t, prom, kube, tc.thresholds)
			l.Refresh(t.Context())
			got := 0
			for _, f := range l.Snapshot().Findings {
				if f.Kind == graph.FindingRootCertExpiring {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("%d root-cert-expiring findings, want %d: %+v", got, tc.want, l.Snapshot().Findings)
			}
		})
	}
}

func TestCertGauges(t *testing.T) {
	old, next := certsCert("aa11", certsClock.Add(20*24*time.Hour)), certsCert("bb22", certsClock.Add(10*365*24*time.Hour))
	kube := &scripted{part: trustedBookinfo(old, next)} // a rotation under way
	certs := someCerts()
	prom := &scripted{part: Part{Samples: reviewsToRatings(graph.SecurityMutualTLS).Samples, Certs: &certs}}
	l, reg := certsLoop(t, prom, kube, graph.CertThresholds{})

	// Nothing before the first build.
	if n, err := testutil.GatherAndCount(reg, "meshlock_root_cert_expiry_timestamp_seconds", "meshlock_workload_cert_expiry_min_timestamp_seconds"); err != nil || n != 0 {
		t.Errorf("before the first refresh: %d series, %v", n, err)
	}

	l.Refresh(t.Context())
	const help = `# HELP meshlock_root_cert_expiry_timestamp_seconds Expiry (not-after) of each root certificate Istio distributes (istio-ca-root-cert), in unix seconds, by the SHA-256 fingerprint of its DER.
# TYPE meshlock_root_cert_expiry_timestamp_seconds gauge
`
	const workloadHelp = `# HELP meshlock_workload_cert_expiry_min_timestamp_seconds The soonest expiry of the workloads' proxy certificates, in unix seconds; absent when Prometheus has none.
# TYPE meshlock_workload_cert_expiry_min_timestamp_seconds gauge
`
	want := help + `meshlock_root_cert_expiry_timestamp_seconds{fingerprint="aa11"} ` + unixText(old.NotAfter) + `
meshlock_root_cert_expiry_timestamp_seconds{fingerprint="bb22"} ` + unixText(next.NotAfter) + `
` + workloadHelp + `meshlock_workload_cert_expiry_min_timestamp_seconds ` + unixText(certsClock.Add(12*time.Hour)) + `
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"meshlock_root_cert_expiry_timestamp_seconds", "meshlock_workload_cert_expiry_min_timestamp_seconds"); err != nil {
		t.Errorf("after the first refresh: %v", err)
	}

	// The rotation is over; Prometheus has no proxy's figure any more.
	kube.set(trustedBookinfo(next), nil)
	prom.set(Part{Samples: reviewsToRatings(graph.SecurityMutualTLS).Samples, Certs: &graph.CertFigures{}}, nil)
	l.Refresh(t.Context())
	want = help + `meshlock_root_cert_expiry_timestamp_seconds{fingerprint="bb22"} ` + unixText(next.NotAfter) + `
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"meshlock_root_cert_expiry_timestamp_seconds", "meshlock_workload_cert_expiry_min_timestamp_seconds"); err != nil {
		t.Errorf("after the rotation: %v", err)
	}
}

// unixText is a time as the expected exposition writes a gauge of unix seconds.
func unixText(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestMergeCertsTakesTheSoonestAndChangesNeither(t *testing.T) {
	pod := graph.PodRef{Namespace: "default", Name: "ratings-v1-abc"}
	other := graph.PodRef{Namespace: "default", Name: "reviews-v2-ghi"}
	a := &graph.CertFigures{RootExpiry: timePtr(certsClock.Add(48 * time.Hour)),
		Proxies: map[graph.PodRef]time.Time{pod: certsClock.Add(10 * time.Hour)}}
	b := &graph.CertFigures{RootExpiry: timePtr(certsClock.Add(24 * time.Hour)), ChainExpiry: timePtr(certsClock.Add(72 * time.Hour)),
		Proxies: map[graph.PodRef]time.Time{pod: certsClock.Add(5 * time.Hour), other: certsClock.Add(7 * time.Hour)}}
	if got := mergeCerts(nil, a); got != a {
		t.Errorf("mergeCerts(nil, a) = %+v, want a", got)
	}
	got := mergeCerts(a, b)
	if !got.RootExpiry.Equal(certsClock.Add(24*time.Hour)) || !got.ChainExpiry.Equal(certsClock.Add(72*time.Hour)) {
		t.Errorf("root %v chain %v, want the soonest of each and the only chain", got.RootExpiry, got.ChainExpiry)
	}
	if len(got.Proxies) != 2 || !got.Proxies[pod].Equal(certsClock.Add(5*time.Hour)) || !got.Proxies[other].Equal(certsClock.Add(7*time.Hour)) {
		t.Errorf("proxies %v", got.Proxies)
	}
	if len(a.Proxies) != 1 || !a.Proxies[pod].Equal(certsClock.Add(10*time.Hour)) || !a.RootExpiry.Equal(certsClock.Add(48*time.Hour)) {
		t.Errorf("the first source's part changed: %+v", a)
	}
}

func TestMergeClustersKeepsTheTrustInventory(t *testing.T) {
	first := *bookinfo().Cluster
	first.Namespaces = make([]string, 1, 8) // spare capacity another merge could write into
	first.Namespaces[0] = "default"
	second := *trustedBookinfo(certsCert("aa11", certsClock)).Cluster
	second.TrustDomainAliases = []string{"old.example"}
	got := mergeClusters(first, second)
	if got.TrustDomain != "cluster.local" || !slices.Equal(got.TrustDomainAliases, []string{"old.example"}) || got.RootNamespace != "istio-system" || len(got.Roots) != 2 {
		t.Errorf("merged trust domain %q aliases %v root namespace %q roots %d; want the second source's", got.TrustDomain, got.TrustDomainAliases, got.RootNamespace, len(got.Roots))
	}
	if again := mergeClusters(first, graph.Cluster{Namespaces: []string{"other"}}); again.Namespaces[1] != "other" || got.Namespaces[1] != "default" {
		t.Errorf("a second merge wrote into the first's namespaces: %v, %v", got.Namespaces, again.Namespaces)
	}
}
