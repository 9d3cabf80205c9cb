// Tests of the simulated mesh: live policy changes alter the next Tick, bookinfo's spread and labels,
// fractional rates carrying over, invalid topologies, Decide, auto mTLS switching, and Run.

package meshsim

import (
	"context"
	"strings"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/istio"

	"github.com/meshlock/meshlock/internal/testutil"
)

const legacyKey = "legacy/legacy-client->default/ratings:9080"

// sumWhere adds the values of series of the given metric whose labels include all of match.
func sumWhere(samples []sample, name string, match map[string]string) float64 {
	var total float64
	for _, s := range samples {
		if s.name != name || !containsAll(s.labels, match) {
			continue
		}
		total += s.value
	}
	return total
}

// TestLivePolicyChanges drives bookinfo through policy changes made via the
// clientset after Start: each change must alter the very next Tick.
func TestLivePolicyChanges(t *testing.T) {
	istio := newFakeIstio()
	m, err := New(Options{Topology: Bookinfo(), Istio: istio, AutoMTLS: false})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	istio.waitForWatches(t)

	destination := func(policy string) float64 {
		return sumWhere(scrape(t, m), "istio_requests_total", map[string]string{"reporter": "destination", "connection_security_policy": policy})
	}
	legacySeries := func() float64 {
		return sumWhere(scrape(t, m), "istio_requests_total", map[string]string{"reporter": "destination", "source_workload": "unknown", "destination_workload": "ratings-v1"})
	}

	// 1. DestinationRules without tls and auto mTLS off: everything is plaintext.
	for _, svc := range []string{"productpage", "details", "reviews", "ratings"} {
		rule := dr("default", svc, svc, &networkingapi.TrafficPolicy{})
		if _, err := istio.NetworkingV1().DestinationRules("default").Create(ctx, rule, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "DestinationRules in the cache", func() (bool, string) { drs, _ := m.policies(); return len(drs) == 4, "" })
	m.Tick(time.Second)
	if got := destination("mutual_tls"); got != 0 {
		t.Fatalf("mutual_tls requests before any tls setting = %v, want 0", got)
	}
	// details 2 + reviews 3 + ratings 2 from reviews-v2/v3; the legacy client's 0.5 rps is not due yet.
	if got := destination("none"); got != 7 {
		t.Fatalf("plaintext destination requests after 1s = %v, want 7", got)
	}

	// 2. ISTIO_MUTUAL on every rule: only mutual_tls grows (the legacy client
	// has no sidecar, so it still sends plaintext to PERMISSIVE ratings).
	for _, svc := range []string{"productpage", "details", "reviews", "ratings"} {
		rule := dr("default", svc, svc, &networkingapi.TrafficPolicy{Tls: tls(networkingapi.ClientTLSSettings_ISTIO_MUTUAL)})
		if _, err := istio.NetworkingV1().DestinationRules("default").Update(ctx, rule, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "ISTIO_MUTUAL in the cache", func() (bool, string) {
		drs, _ := m.policies()
		for _, d := range drs {
			if d.Spec.GetTrafficPolicy().GetTls() == nil {
				return false, ""
			}
		}
		return true, ""
	})
	noneBefore := destination("none")
	m.Tick(time.Second)
	if got := destination("mutual_tls"); got != 7 {
		t.Errorf("mutual_tls requests after ISTIO_MUTUAL = %v, want 7", got)
	}
	if got := destination("none") - noneBefore; got != 1 {
		t.Errorf("plaintext growth after ISTIO_MUTUAL = %v, want 1 (the legacy client only)", got)
	}
	if out := m.Outcomes()[legacyKey]; out.Succeeded != 1 || out.Failed != 0 {
		t.Errorf("legacy outcome before STRICT = %+v, want 1 succeeded", out)
	}

	// 3. STRICT in default: the legacy client is cut off and its series stops growing.
	strict := pa("default", "default", nil, securityapi.PeerAuthentication_MutualTLS_STRICT)
	if _, err := istio.SecurityV1().PeerAuthentications("default").Create(ctx, strict, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "STRICT in the cache", func() (bool, string) { _, pas := m.policies(); return len(pas) == 1, "" })
	legacyBefore := legacySeries()
	mtlsBefore := destination("mutual_tls")
	m.Tick(2 * time.Second)
	if out := m.Outcomes()[legacyKey]; out.Failed != 1 || out.Succeeded != 1 {
		t.Errorf("legacy outcome after STRICT = %+v, want 1 succeeded, 1 failed", out)
	}
	if got := legacySeries(); got != legacyBefore {
		t.Errorf("legacy destination series grew from %v to %v under STRICT", legacyBefore, got)
	}
	if got := destination("mutual_tls") - mtlsBefore; got != 14 {
		t.Errorf("mutual_tls growth over 2s under STRICT = %v, want 14", got)
	}
}

func TestBookinfoSpreadsAndLabelsExactly(t *testing.T) {
	m, err := New(Options{Topology: Bookinfo(), AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.Tick(2 * time.Second)
	samples := scrape(t, m)

	for _, v := range []string{"reviews-v1", "reviews-v2", "reviews-v3"} {
		got := sumWhere(samples, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": v})
		if got != 2 {
			t.Errorf("%s received %v requests in 2s, want an even share of 2", v, got)
		}
	}
	// The legacy client, seen by ratings: every label spelled out.
	want := map[string]string{
		"reporter": "destination", "source_workload": "unknown", "source_workload_namespace": "unknown",
		"source_principal": "unknown", "source_app": "unknown", "source_version": "unknown", "source_cluster": "unknown",
		"source_canonical_service": "unknown", "source_canonical_revision": "latest",
		"destination_workload": "ratings-v1", "destination_workload_namespace": "default", "destination_principal": "unknown",
		"destination_app": "ratings", "destination_version": "v1", "destination_service": "ratings.default.svc.cluster.local",
		"destination_service_name": "ratings", "destination_service_namespace": "default",
		"destination_canonical_service": "ratings", "destination_canonical_revision": "v1", "destination_cluster": "Kubernetes",
		"request_protocol": "http", "response_code": "200", "grpc_response_status": "", "response_flags": "-",
		"connection_security_policy": "none",
	}
	var found bool
	for _, s := range samples {
		if s.labels["source_workload"] == "unknown" {
			found = true
			if s.String() != (sample{name: "istio_requests_total", labels: want, value: 1}).String() {
				t.Errorf("legacy series = %s", s)
			}
		}
	}
	if !found {
		t.Error("no destination series for the legacy client")
	}
}

func TestFractionalRatesCarryOver(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		ticks []time.Duration
		want  int64
	}{
		{name: "half rps over two 1s ticks is one request", rate: 0.5, ticks: []time.Duration{time.Second, time.Second}, want: 1},
		{name: "half rps over one 1s tick is none yet", rate: 0.5, ticks: []time.Duration{time.Second}, want: 0},
		{name: "0.29 rps over 100 ticks is 29 despite float error", rate: 0.29, ticks: repeat(time.Second, 100), want: 29},
		{name: "3 rps over ten 100ms ticks is 3", rate: 3, ticks: repeat(100*time.Millisecond, 10), want: 3},
		{name: "zero and negative ticks send nothing", rate: 5, ticks: []time.Duration{0, -time.Second}, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := toServer
			c.Rate = tc.rate
			m, err := New(Options{Topology: scenarioTopology(c), AutoMTLS: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range tc.ticks {
				m.Tick(d)
			}
			if got := m.Outcomes()[c.Key()].Succeeded; got != tc.want {
				t.Errorf("requests = %d, want %d", got, tc.want)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestNewRejectsInvalidTopologies(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Topology)
		wantErr string
	}{
		{name: "unknown caller workload", mutate: func(tp *Topology) { tp.Callers[0].From = "app/nobody" }, wantErr: `unknown workload "app/nobody"`},
		{name: "unknown caller service", mutate: func(tp *Topology) { tp.Callers[0].To = "backend/nothing" }, wantErr: `unknown service "backend/nothing"`},
		{name: "caller port not on the service", mutate: func(tp *Topology) { tp.Callers[0].Port = 1234 }, wantErr: "service has no port 1234"},
		{name: "duplicate workload", mutate: func(tp *Topology) { tp.Workloads = append(tp.Workloads, tp.Workloads[0]) }, wantErr: "workload app/client: duplicate"},
		{name: "service selecting nothing", mutate: func(tp *Topology) { tp.Services[1].Selector = map[string]string{"app": "ghost"} }, wantErr: "selects no workload"},
		{name: "unknown protocol", mutate: func(tp *Topology) { tp.Services[0].Ports[0].Protocol = "grpc" }, wantErr: "protocol must be"},
		{name: "negative rate", mutate: func(tp *Topology) { tp.Callers[0].Rate = -1 }, wantErr: "must not be negative"},
		{name: "duplicate caller", mutate: func(tp *Topology) { tp.Callers = append(tp.Callers, tp.Callers[0]) }, wantErr: "duplicate"},
		{name: "unknown kind", mutate: func(tp *Topology) { tp.Workloads[0].Kind = "ReplicationController" }, wantErr: `unknown kind "ReplicationController"`},
		{name: "Job named like a CronJob's (pkg/kube/util.go cronJobNameRegexp)", mutate: func(tp *Topology) {
			tp.Workloads[0].Kind, tp.Workloads[0].Name = KindJob, "report-29000000"
			tp.Callers[0].From = "app/report-29000000"
		}, wantErr: "use Kind CronJob"},
		{name: "workload name longer than a label value", mutate: func(tp *Topology) {
			tp.Workloads[0].Name = strings.Repeat("a", 64)
			tp.Callers[0].From = "app/" + tp.Workloads[0].Name
		}, wantErr: "longer than 63"},
		{name: "one target port name with two numbers", mutate: func(tp *Topology) {
			tp.Services[0].Ports[0].TargetPortName = "web"
			tp.Services[0].Ports[1].TargetPortName = "web"
		}, wantErr: `target port name "web" is both 9090 and 9000`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := scenarioTopology(toBare)
			tc.mutate(&tp)
			_, err := New(Options{Topology: tp})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	const (
		strict, permissive, disable = istio.PeerModeStrict, istio.PeerModePermissive, istio.PeerModeDisable
		handshake, reset            = FailureHandshake, FailureReset
	)
	tests := []struct {
		name       string
		in         DecisionInput
		want       Decision
		wantReason string
	}{
		{name: "auto mTLS to STRICT sidecar", in: DecisionInput{ClientSidecar: true, AutoMTLS: true, ServerSidecar: true, ServerMode: strict},
			want: Decision{ClientMTLS: true, Accepted: true}, wantReason: "client mTLS (auto mTLS), server STRICT"},
		{name: "plaintext to STRICT is reset", in: DecisionInput{ClientSidecar: true, ServerSidecar: true, ServerMode: strict},
			want: Decision{Failure: reset}, wantReason: "client plaintext (no DestinationRule tls, auto mTLS off), server STRICT"},
		{name: "auto mTLS respects server DISABLE", in: DecisionInput{ClientSidecar: true, AutoMTLS: true, ServerSidecar: true, ServerMode: disable},
			want: Decision{Accepted: true}, wantReason: "client plaintext (auto mTLS), server DISABLE"},
		{name: "auto mTLS with an endpoint-level ISTIO_MUTUAL ignores server DISABLE", in: DecisionInput{ClientSidecar: true, AutoMTLS: true, EndpointTLS: istio.TLSModeIstioMutual, ServerSidecar: true, ServerMode: disable},
			want: Decision{ClientMTLS: true, Failure: handshake}, wantReason: "client mTLS (auto mTLS), server DISABLE"},
		{name: "auto mTLS off for the service when its namespace is DISABLE", in: DecisionInput{ClientSidecar: true, AutoMTLS: true, ServiceMode: disable, ServerSidecar: true, ServerMode: strict},
			want: Decision{Failure: reset}, wantReason: "client plaintext (auto mTLS, service namespace DISABLE), server STRICT"},
		{name: "ISTIO_MUTUAL to DISABLE fails the handshake", in: DecisionInput{ClientSidecar: true, ClientTLS: istio.TLSModeIstioMutual, ServerSidecar: true, ServerMode: disable},
			want: Decision{ClientMTLS: true, Failure: handshake}, wantReason: "client mTLS (DestinationRule ISTIO_MUTUAL), server DISABLE"},
		{name: "ISTIO_MUTUAL to no sidecar fails the handshake", in: DecisionInput{ClientSidecar: true, ClientTLS: istio.TLSModeIstioMutual},
			want: Decision{ClientMTLS: true, Failure: handshake}, wantReason: "client mTLS (DestinationRule ISTIO_MUTUAL), server without sidecar"},
		{name: "DR tls ignored without a client sidecar", in: DecisionInput{ClientTLS: istio.TLSModeIstioMutual, ServerSidecar: true, ServerMode: permissive},
			want: Decision{Accepted: true}, wantReason: "client without sidecar sends plaintext, server PERMISSIVE"},
		{name: "SIMPLE origination fails against PERMISSIVE", in: DecisionInput{ClientSidecar: true, ClientTLS: istio.TLSModeSimple, AutoMTLS: true, ServerSidecar: true, ServerMode: permissive},
			want: Decision{ClientTLSOrigination: true, Failure: handshake}, wantReason: "client originates TLS (DestinationRule SIMPLE) with non-Istio certificates, server PERMISSIVE"},
		{name: "DISABLE to no sidecar", in: DecisionInput{ClientSidecar: true, ClientTLS: istio.TLSModeDisable},
			want: Decision{Accepted: true}, wantReason: "client plaintext (DestinationRule DISABLE), server without sidecar"},
		{name: "auto mTLS sends plaintext to a gateway, which takes it under STRICT", in: DecisionInput{ClientSidecar: true, AutoMTLS: true, ServerSidecar: true, ServerGateway: true, ServerMode: strict},
			want: Decision{Accepted: true}, wantReason: "client plaintext (auto mTLS), server gateway"},
		{name: "ISTIO_MUTUAL to a gateway under DISABLE is accepted", in: DecisionInput{ClientSidecar: true, ClientTLS: istio.TLSModeIstioMutual, ServerSidecar: true, ServerGateway: true, ServerMode: disable},
			want: Decision{ClientMTLS: true, Accepted: true}, wantReason: "client mTLS (DestinationRule ISTIO_MUTUAL), server gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.in)
			want := tc.want
			want.Reason = tc.wantReason
			if got != want {
				t.Errorf("Decide(%+v) = %+v, want %+v", tc.in, got, want)
			}
		})
	}
}

func TestSetAutoMTLSAppliesToTheNextTick(t *testing.T) {
	m, err := New(Options{Topology: scenarioTopology(toServer), AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	m.Tick(time.Second)
	m.SetAutoMTLS(false)
	m.Tick(time.Second)
	samples := scrape(t, m)
	for policy, want := range map[string]float64{"mutual_tls": 1, "none": 1} {
		got := sumWhere(samples, "istio_requests_total", map[string]string{"reporter": "destination", "connection_security_policy": policy})
		if got != want {
			t.Errorf("%s requests = %v, want %v", policy, got, want)
		}
	}
}

func TestRunTicksUntilCancelled(t *testing.T) {
	c := toServer
	c.Rate = 1000
	m, err := New(Options{Topology: scenarioTopology(c), AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.Run(ctx, time.Millisecond); close(done) }()
	testutil.Eventually(t, "Run to send requests", func() (bool, string) { return m.Outcomes()[c.Key()].Succeeded > 0, "" })
	cancel()
	<-done
	stopped := m.Outcomes()[c.Key()]
	time.Sleep(5 * time.Millisecond)
	if after := m.Outcomes()[c.Key()]; after != stopped {
		t.Errorf("outcomes changed after Run returned: %+v -> %+v", stopped, after)
	}
}
