// Test helpers of meshsim: scraping the metrics handler into sorted samples, a fake Istio clientset
// that reports open watches, and builders of DestinationRules and PeerAuthentications.

package meshsim

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshlock/meshlock/internal/testutil"
)

// sample is one scraped series.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func (s sample) String() string {
	keys := slices.Sorted(maps.Keys(s.labels))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, s.labels[k])
	}
	return fmt.Sprintf("%s{%s} %v", s.name, b.String(), s.value)
}

// scrape reads Handler() the way Prometheus would and returns every
// series of Envoy's (or ztunnel's) traffic metrics, sorted: istio-agent's
// istio_agent_* are scrapeAll's.
func scrape(t *testing.T, m *Mesh) []sample {
	t.Helper()
	var out []sample
	for _, s := range scrapeAll(t, m.Handler()) {
		if !strings.HasPrefix(s.name, "istio_agent_") {
			out = append(out, s)
		}
	}
	return out
}

// scrapeAll reads a metrics handler the way Prometheus would and returns
// every series, counters' and gauges', sorted.
func scrapeAll(t *testing.T, h http.Handler) []sample {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: status %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	var out []sample
	for name, f := range families {
		for _, metric := range f.GetMetric() {
			value := metric.GetCounter().GetValue()
			if metric.Gauge != nil {
				value = metric.GetGauge().GetValue()
			}
			s := sample{name: name, labels: map[string]string{}, value: value}
			for _, l := range metric.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			out = append(out, s)
		}
	}
	sortSamples(out)
	return out
}

func sortSamples(s []sample) {
	sort.Slice(s, func(i, j int) bool { return s[i].String() < s[j].String() })
}

func diffSamples(t *testing.T, got, want []sample) {
	t.Helper()
	// Parallel cases may share one want list: sort a copy.
	want = slices.Clone(want)
	sortSamples(want)
	var g, w []string
	for _, s := range got {
		g = append(g, s.String())
	}
	for _, s := range want {
		w = append(w, s.String())
	}
	if !slices.Equal(g, w) {
		t.Errorf("series mismatch\n got:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

// fakeIstio is a fake clientset that tells when the informers' watches are
// open, so a test knows a later create will be delivered (the simple fake
// tracker drops events that happen between List and Watch).
type fakeIstio struct {
	*istiofake.Clientset
	mu      sync.Mutex
	watched map[string]bool
}

func newFakeIstio(objects ...runtime.Object) *fakeIstio {
	f := &fakeIstio{Clientset: istiofake.NewSimpleClientset(objects...), watched: map[string]bool{}}
	f.PrependWatchReactor("*", func(action k8stesting.Action) (bool, watch.Interface, error) {
		f.mu.Lock()
		f.watched[action.GetResource().Resource] = true
		f.mu.Unlock()
		return false, nil, nil // let the default reactor serve the watch
	})
	return f
}

func (f *fakeIstio) waitForWatches(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, "informer watches to open", func() (bool, string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.watched["destinationrules"] && f.watched["peerauthentications"], ""
	})
}

// Policy builders. age orders objects (creationTimestamp) where a test needs it.

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func meta(namespace, name string, age int) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name, CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Minute))}
}

func tls(mode networkingapi.ClientTLSSettings_TLSmode) *networkingapi.ClientTLSSettings {
	return &networkingapi.ClientTLSSettings{Mode: mode}
}

func dr(namespace, name, host string, policy *networkingapi.TrafficPolicy, subsets ...*networkingapi.Subset) *networkingv1.DestinationRule {
	return &networkingv1.DestinationRule{
		ObjectMeta: meta(namespace, name, 0),
		Spec:       networkingapi.DestinationRule{Host: host, TrafficPolicy: policy, Subsets: subsets},
	}
}

func drTLS(namespace, name, host string, mode networkingapi.ClientTLSSettings_TLSmode) *networkingv1.DestinationRule {
	return dr(namespace, name, host, &networkingapi.TrafficPolicy{Tls: tls(mode)})
}

func portTLS(port uint32, t *networkingapi.ClientTLSSettings) *networkingapi.TrafficPolicy_PortTrafficPolicy {
	return &networkingapi.TrafficPolicy_PortTrafficPolicy{Port: &networkingapi.PortSelector{Number: port}, Tls: t}
}

func pa(namespace, name string, selector map[string]string, mode securityapi.PeerAuthentication_MutualTLS_Mode) *securityv1.PeerAuthentication {
	p := &securityv1.PeerAuthentication{ObjectMeta: meta(namespace, name, 0)}
	if selector != nil {
		p.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: selector}
	}
	p.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: mode}
	return p
}

func withPorts(p *securityv1.PeerAuthentication, ports map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode) *securityv1.PeerAuthentication {
	p.Spec.PortLevelMtls = map[uint32]*securityapi.PeerAuthentication_MutualTLS{}
	for port, mode := range ports {
		p.Spec.PortLevelMtls[port] = &securityapi.PeerAuthentication_MutualTLS{Mode: mode}
	}
	return p
}

func aged[T interface{ SetCreationTimestamp(metav1.Time) }](obj T, age int) T {
	obj.SetCreationTimestamp(metav1.NewTime(epoch.Add(time.Duration(age) * time.Minute)))
	return obj
}
