// Tests of access policy on edges and the authz-* findings (issue 25), with a stand-in for the
// cluster's AuthorizeFunc (internal/istio's Authorization is tested against Istio's rules there).

package graph

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// allowOnly stands for an ALLOW policy by principal on ratings: it allows
// reviews' ServiceAccount and nothing else (Istio's builder.go: a plaintext
// caller has no principal to match).
func allowOnly(allowed ...string) AuthorizeFunc {
	return func(ns, svc, principal string) (Authorization, bool) {
		if ns+"/"+svc != ratings {
			return Authorization{Decision: AuthzAllow}, true
		}
		if slices.Contains(allowed, principal) {
			return Authorization{Decision: AuthzAllow, Policies: []string{"default/ratings-callers"}}, true
		}
		return Authorization{Decision: AuthzDeny, Policies: []string{"default/ratings-callers"}}, true
	}
}

func authzFinding(s Snapshot, kind string) *Finding {
	for i := range s.Findings {
		if s.Findings[i].Kind == kind {
			return &s.Findings[i]
		}
	}
	return nil
}

func TestEdgeAuthorizationByShare(t *testing.T) {
	c := bookinfo()
	c.Authorize = allowOnly(ratingsPrincipal, reviewsPrincipal)
	samples := []Sample{
		mtls("default/reviews-v2", ratings, 1),
		mtls("default/productpage-v1", ratings, 1),
		plaintext("default/productpage-v1", ratings, 1),
		plaintext(Unknown, ratings, 0.25),
		mtls("default/productpage-v1", reviews, 1),
	}
	s := build(samples, c)

	// An mTLS caller the policy names is allowed, by the policy.
	if e, _ := findEdge(s, EdgeID("default/reviews", ratings, "http")); e.Authorization == nil ||
		e.Authorization.Decision != AuthzAllow || !slices.Equal(e.Authorization.Policies, []string{"default/ratings-callers"}) {
		t.Errorf("reviews → ratings: %+v", e.Authorization)
	}
	// A mixed edge: its mTLS share is judged by its principal (not named:
	// denied), its plaintext share by none (denied): one decision.
	if e, _ := findEdge(s, EdgeID(productpage, ratings, "http")); e.Authorization == nil || e.Authorization.Decision != AuthzDeny ||
		e.Authorization.Plaintext != "" {
		t.Errorf("productpage → ratings: %+v", e.Authorization)
	}
	// A plaintext caller: denied (no principal to match).
	if e, _ := findEdge(s, EdgeID(Unknown, ratings, "http")); e.Authorization == nil || e.Authorization.Decision != AuthzDeny {
		t.Errorf("unknown → ratings: %+v", e.Authorization)
	}
	// No policy on reviews: allowed, naming nothing.
	if e, _ := findEdge(s, EdgeID(productpage, reviews, "http")); e.Authorization == nil || e.Authorization.Decision != AuthzAllow ||
		len(e.Authorization.Policies) != 0 {
		t.Errorf("productpage → reviews: %+v", e.Authorization)
	}
	checkInvariants(t, s)
}

// The mixed edge whose mTLS share is allowed and plaintext share denied is
// conditional, each share's decision said, and authz-denies-plaintext names
// it while the server still takes plaintext.
func TestAuthzDeniesPlaintext(t *testing.T) {
	c := bookinfo()
	c.Authorize = allowOnly(productpagePrincipal)
	s := build([]Sample{mtls("default/productpage-v1", ratings, 1), plaintext("default/productpage-v1", ratings, 1)}, c)
	e, _ := findEdge(s, EdgeID(productpage, ratings, "http"))
	if a := e.Authorization; a == nil || a.Decision != AuthzConditional || a.MutualTLS != AuthzAllow || a.Plaintext != AuthzDeny {
		t.Fatalf("authorization = %+v, want conditional: mTLS allowed, plaintext denied", a)
	}
	f := authzFinding(s, FindingAuthzDeniesPlaintext)
	if f == nil || f.Severity != SeverityCritical || !slices.Contains(f.Edges, e.ID) ||
		!slices.Equal(f.Objects, []string{"AuthorizationPolicy default/ratings-callers"}) || !strings.Contains(f.Message, "PERMISSIVE") {
		t.Fatalf("finding = %+v", f)
	}
	if authzFinding(s, FindingAuthzDeniesObserved) != nil {
		t.Errorf("a conditional edge is not a caller denied: %+v", s.Findings)
	}

	// Under STRICT, plaintext is refused before any policy: no such finding.
	service(t, &c, ratings).PeerAuthentication = ModeStrict
	if s := build([]Sample{mtls("default/productpage-v1", ratings, 1), plaintext("default/productpage-v1", ratings, 1)}, c); authzFinding(s, FindingAuthzDeniesPlaintext) != nil {
		t.Errorf("STRICT server: %+v", s.Findings)
	}
}

// A caller seen only in the look-back is judged by the principal it
// presented then, and named with its last time.
func TestAuthzDeniesObservedIdleCaller(t *testing.T) {
	c := bookinfo()
	c.Authorize = allowOnly(productpagePrincipal)
	last := testTime.Add(-30 * time.Hour)
	h := HistorySample{Sample: mtls("default/reviews-v2", ratings, 0), Volume: 40, LastSeen: last}
	s := Build(nil, c, BuildOptions{GeneratedAt: testTime, Window: "1m", History: []HistorySample{h},
		Lookback: Lookback{State: LookbackReady, Window: "7d"}})
	e, ok := findEdge(s, EdgeID("default/reviews", ratings, "http"))
	if !ok || !e.Idle || e.SourcePrincipal != reviewsPrincipal || e.Authorization == nil || e.Authorization.Decision != AuthzDeny {
		t.Fatalf("idle edge = %+v", e)
	}
	f := authzFinding(s, FindingAuthzDeniesObserved)
	if f == nil || !slices.Equal(f.Edges, []string{e.ID}) || !strings.Contains(f.Message, "idle, last seen "+formatTime(last)) {
		t.Fatalf("finding = %+v", f)
	}
}

// A caller whose principal was not reported is judged by its workload's
// ServiceAccount in the trust domain.
func TestEdgeAuthorizationFromServiceAccount(t *testing.T) {
	c := bookinfo()
	c.TrustDomain = "example.org"
	var asked []string
	c.Authorize = func(_, _, principal string) (Authorization, bool) {
		asked = append(asked, principal)
		return Authorization{Decision: AuthzAllow}, true
	}
	s := sample(ReporterServer, "default/reviews-v1", ratings, SecurityMutualTLS, 1)
	s.Source.Principal = ""
	build([]Sample{s}, c)
	if !slices.Equal(asked, []string{"spiffe://example.org/ns/default/sa/bookinfo-reviews"}) {
		t.Errorf("asked for %q", asked)
	}
}

// An mTLS caller whose identity no one reported (no principal, no
// ServiceAccount known) depends on who it is, unless no policy applies.
func TestEdgeAuthorizationUnknownPrincipal(t *testing.T) {
	c := bookinfo()
	c.Workloads = nil
	c.Authorize = allowOnly(reviewsPrincipal)
	s := sample(ReporterServer, "default/productpage-v1", ratings, SecurityMutualTLS, 1)
	s.Source.Principal = ""
	d := sample(ReporterServer, "default/productpage-v1", details, SecurityMutualTLS, 1)
	d.Source.Principal = ""
	snap := build([]Sample{s, d}, c)
	if e, _ := findEdge(snap, EdgeID(productpage, ratings, "http")); e.Authorization == nil || e.Authorization.Decision != AuthzConditional {
		t.Errorf("unknown caller of ratings: %+v", e.Authorization)
	}
	if e, _ := findEdge(snap, EdgeID(productpage, details, "http")); e.Authorization == nil || e.Authorization.Decision != AuthzAllow {
		t.Errorf("unknown caller of details, which no policy selects: %+v", e.Authorization)
	}
}

// The server's 403s on an edge its policy denies are the edge's
// deniedRate, still counted as the traffic they were, and named as callers
// denied now; on an allowed edge they are the application's own.
func TestDeniedRate(t *testing.T) {
	c := bookinfo()
	c.Authorize = allowOnly(reviewsPrincipal)
	forbidden := mtls("default/productpage-v1", ratings, 0.5)
	forbidden.Outcome = OutcomeForbidden
	appForbidden := mtls("default/reviews-v1", ratings, 0.25)
	appForbidden.Outcome = OutcomeForbidden
	s := build([]Sample{mtls("default/productpage-v1", ratings, 1.5), forbidden, mtls("default/reviews-v1", ratings, 1), appForbidden}, c)
	e, _ := findEdge(s, EdgeID(productpage, ratings, "http"))
	if e.DeniedRate != 0.5 || e.Rate != 2 || e.Status != StatusLocked {
		t.Fatalf("edge = %+v", e)
	}
	if e, _ := findEdge(s, EdgeID("default/reviews", ratings, "http")); e.DeniedRate != 0 {
		t.Errorf("an allowed caller's 403s are the application's: %+v", e)
	}
	f := authzFinding(s, FindingAuthzDeniesObserved)
	if f == nil || !strings.Contains(f.Message, "denied now, 0.5/s") {
		t.Fatalf("finding = %+v", f)
	}
	// ztunnel refusing a caller with an identity: only a policy does.
	conns := tcp(mtls("default/productpage-v1", ratings, 2))
	conns.Measure = MeasureConnections
	refused := conns
	refused.Rate, refused.Outcome = 2, OutcomeRefused
	s = build([]Sample{conns, refused}, c)
	if e, _ := findEdge(s, EdgeID(productpage, ratings, "tcp")); e.DeniedRate != 2 {
		t.Errorf("refused over mTLS: %+v", e)
	}
}

func TestAccessPolicyFindings(t *testing.T) {
	c := bookinfo()
	c.AccessPolicies = []AccessPolicy{
		{Namespace: "default", Name: "typo", Action: "ALLOW", SelectsNothing: true},
		{Namespace: "default", Name: "allow-nothing", Action: "ALLOW", AllowsNothing: true, Services: []string{"default/details", "default/ratings"}},
		{Namespace: "default", Name: "fine", Action: "DENY", Services: []string{"default/details"}},
	}
	s := build(bookinfoTraffic(), c)
	if f := authzFinding(s, FindingAuthzSelectsNothing); f == nil || !slices.Equal(f.Objects, []string{"AuthorizationPolicy default/typo"}) {
		t.Errorf("selects nothing: %+v", f)
	}
	if f := authzFinding(s, FindingAuthzAllowNothing); f == nil || !slices.Equal(f.Nodes, []string{details, ratings}) ||
		!slices.Equal(f.Objects, []string{"AuthorizationPolicy default/allow-nothing"}) {
		t.Errorf("allow nothing: %+v", f)
	}
	for _, n := range s.Nodes {
		want := map[string][]string{details: {"default/allow-nothing", "default/fine"}, ratings: {"default/allow-nothing"}}[n.ID]
		if !slices.Equal(n.AuthorizationPolicies, want) {
			t.Errorf("%s applies %v, want %v", n.ID, n.AuthorizationPolicies, want)
		}
	}
	n := 0
	for _, f := range s.Findings {
		if strings.HasPrefix(f.Kind, "authz-") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d authz findings, want 2: %+v", n, s.Findings)
	}
}

// With several clusters, the serving cluster's policy decides, named with it.
func TestAuthorizationTwoClusters(t *testing.T) {
	west, east := twoClusters()
	east.Authorize = func(_, _, principal string) (Authorization, bool) {
		return Authorization{Decision: AuthzDeny, Policies: []string{"default/deny-all"}}, true
	}
	east.AccessPolicies = []AccessPolicy{{Namespace: "default", Name: "ghost", Action: "DENY", SelectsNothing: true}}
	samples := []Sample{
		crossSample(ReporterServer, "west", "west", "productpage-v1", "reviews-v1", SecurityPlaintext, 2),
		crossSample(ReporterServer, "west", "east", "productpage-v1", "reviews-v3", SecurityMutualTLS, 1),
	}
	s := Build(samples, Merge(west, east), BuildOptions{GeneratedAt: testTime})
	if e := edgeByID(s, EdgeID("west/default/productpage", "west/default/reviews", "http")); e == nil || e.Authorization != nil {
		t.Errorf("west has no policy: %+v", e)
	}
	e := edgeByID(s, EdgeID("west/default/productpage", "east/default/reviews", "http"))
	if e == nil || e.Authorization == nil || !slices.Equal(e.Authorization.Policies, []string{"east/default/deny-all"}) {
		t.Fatalf("west → east = %+v", e)
	}
	if f := authzFinding(s, FindingAuthzSelectsNothing); f == nil || f.Objects[0] != "AuthorizationPolicy east/default/ghost" {
		t.Errorf("finding = %+v", f)
	}
}

// A changed decision is a change the stream sends; the same one is not.
func TestDiffSeesAuthorization(t *testing.T) {
	c := bookinfo()
	c.Authorize = allowOnly()
	a := build(bookinfoTraffic(), c)
	b := build(bookinfoTraffic(), c)
	if d := Diff(a, b); len(d.Edges) != 0 {
		t.Errorf("same decisions: %d edges changed", len(d.Edges))
	}
	c.Authorize = allowOnly(reviewsPrincipal)
	b = build(bookinfoTraffic(), c)
	if d := Diff(a, b); len(d.Edges) == 0 {
		t.Errorf("changed decision not in the delta")
	}
}
