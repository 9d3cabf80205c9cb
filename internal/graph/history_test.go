// Tests of the look-back in the graph: idle edges from history, live and historical traffic merged
// per edge, and the judgements (ready-for-strict, strict-would-cut, mtls-only-in-lookback) over
// the whole look-back.

package graph

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// seen is a history sample of s with volume, last seen ago before testTime.
func seen(s Sample, volume float64, ago time.Duration) HistorySample {
	s.Rate = 0
	h := HistorySample{Sample: s, Volume: volume}
	if ago >= 0 {
		h.LastSeen = testTime.Add(-ago)
	}
	return h
}

var weekFrom = testTime.Add(-7 * 24 * time.Hour)

func lookback(state string) Lookback {
	if state == LookbackOff {
		return Lookback{Window: "0s", State: LookbackOff}
	}
	return Lookback{Window: "7d", State: state, From: &weekFrom, To: &testTime}
}

func buildWithHistory(samples []Sample, history []HistorySample, c Cluster, state string) Snapshot {
	return Build(samples, c, BuildOptions{GeneratedAt: testTime, Window: "1m", History: history, Lookback: lookback(state)})
}

const backupID = "legacy/backup"

func TestHistoryMakesIdleEdges(t *testing.T) {
	c := bookinfo()
	c.Workloads = append(c.Workloads, Workload{Namespace: "legacy", Name: "backup", DataPlane: DataPlaneNone})
	history := []HistorySample{
		// A nightly backup without a sidecar: plaintext into ratings 9 hours ago.
		seen(plaintext(backupID, ratingsID, 0), 1200, 9*time.Hour),
		// Everything live was also seen in the look-back, mTLS.
		seen(mtls("default/reviews-v2", ratingsID, 0), 50000, time.Minute),
	}
	s := buildWithHistory([]Sample{mtls("default/reviews-v2", ratingsID, 0.5)}, history, c, LookbackReady)

	idle, ok := findEdge(s, EdgeID(backupID, ratingsID, ProtocolHTTP))
	if !ok {
		t.Fatalf("the backup's edge is missing: %v", edgeIDsOf(s))
	}
	want := Edge{ID: idle.ID, Source: backupID, Target: ratingsID, Protocol: ProtocolHTTP, Status: StatusOpen, Idle: true,
		History: EdgeHistory{Unit: VolumeRequests, Volume: 1200, LastSeen: testTime.Add(-9 * time.Hour), PlaintextLastSeen: testTime.Add(-9 * time.Hour)}}
	if idle != want {
		t.Errorf("idle edge\n got %+v\nwant %+v", idle, want)
	}
	live, _ := findEdge(s, EdgeID("default/reviews", ratingsID, ProtocolHTTP))
	if live.Idle || live.Status != StatusLocked || live.Rate != 0.5 || live.History.Volume != 50000 || !live.History.PlaintextLastSeen.IsZero() ||
		live.History.MTLSLastSeen != testTime.Add(-time.Minute) {
		t.Errorf("live edge = %+v, want locked at 0.5 with its history and no plaintext", live)
	}
	// The posture is the window's: the idle edge counts nowhere.
	if s.Posture.Counts[StatusOpen] != 0 || s.Posture.HTTP.Rate != 0.5 {
		t.Errorf("posture counts the idle edge: %+v", s.Posture)
	}
	// The node of a caller seen only in the past is in the graph, as its edge's end.
	if _, ok := findNode(s, backupID); !ok {
		t.Error("the idle caller's node is missing")
	}

	// STRICT would cut the idle caller: the finding names it with its time,
	// and ready-for-strict is gone although the window holds only mTLS.
	cut, ok := findFinding(s, FindingID(FindingStrictWouldCut, ratingsID))
	if !ok {
		t.Fatalf("no strict-would-cut for the idle plaintext caller: %v", findingIDs(s))
	}
	if !strings.Contains(cut.Message, "legacy/backup (idle, last seen 2026-11-26 12:00 UTC)") || !strings.Contains(cut.Message, "look-back (7d") {
		t.Errorf("strict-would-cut message = %q, want the idle caller with its last time and the period", cut.Message)
	}
	if _, ok := findFinding(s, FindingID(FindingReadyForStrict, ratingsID)); ok {
		t.Error("ready-for-strict raised though a caller sent plaintext in the look-back")
	}
	if got := CallersCutByStrict(s, ratingsID); len(got) != 1 || got[0].Source != backupID {
		t.Errorf("CallersCutByStrict = %v, want the idle backup", got)
	}
}

func TestHistoryReadyForStrictNeedsTheWholeLookback(t *testing.T) {
	live := []Sample{mtls("default/reviews-v2", ratingsID, 0.5)}
	history := []HistorySample{seen(mtls("default/reviews-v2", ratingsID, 0), 100, 0)}
	for _, tc := range []struct {
		state string
		ready bool
		text  string
	}{
		{LookbackOff, true, "in the last 1m"},
		{LookbackLoading, false, ""}, // not all of the past is read: no "never"
		{LookbackReady, true, "in the look-back (7d, since 2026-11-19 21:00 UTC)"},
	} {
		s := buildWithHistory(live, history, bookinfo(), tc.state)
		f, ok := findFinding(s, FindingID(FindingReadyForStrict, ratingsID))
		if ok != tc.ready {
			t.Errorf("look-back %s: ready-for-strict raised = %v, want %v", tc.state, ok, tc.ready)
		}
		if ok && !strings.Contains(f.Message, tc.text) {
			t.Errorf("look-back %s: message %q does not say %q", tc.state, f.Message, tc.text)
		}
	}
}

func TestHistoryOfALiveEdgeKeepsItsPlaintext(t *testing.T) {
	// Locked now, but it sent plaintext two days ago (a failover path).
	live := []Sample{mtls("default/reviews-v2", ratingsID, 0.5)}
	history := []HistorySample{
		seen(mtls("default/reviews-v2", ratingsID, 0), 1000, 0),
		seen(plaintext("default/reviews-v2", ratingsID, 0), 10, 48*time.Hour),
	}
	s := buildWithHistory(live, history, bookinfo(), LookbackReady)
	e, _ := findEdge(s, EdgeID("default/reviews", ratingsID, ProtocolHTTP))
	if e.Status != StatusLocked || e.History.PlaintextLastSeen != testTime.Add(-48*time.Hour) {
		t.Errorf("edge = %+v, want locked now with plaintext 48h ago in its history", e)
	}
	if _, ok := findFinding(s, FindingID(FindingReadyForStrict, ratingsID)); ok {
		t.Error("ready-for-strict raised though the edge sent plaintext two days ago")
	}
	if got := CallersCutByStrict(s, ratingsID); len(got) != 1 {
		t.Errorf("CallersCutByStrict = %v, want the edge with plaintext in its past", got)
	}
	if LastPlaintext(e, testTime) != testTime.Add(-48*time.Hour) {
		t.Errorf("LastPlaintext = %v", LastPlaintext(e, testTime))
	}
}

func TestHistoryJudgesLikeTheWindow(t *testing.T) {
	to := EdgeID("default/productpage", "default/details", ProtocolHTTP)
	for _, tc := range []struct {
		name      string
		history   []HistorySample
		status    string
		plaintext bool
	}{
		{"both sides agree on mTLS", []HistorySample{
			seen(mtls("default/productpage-v1", "default/details", 0), 1000, time.Hour),
			seen(fromSource("default/productpage-v1", "default/details", 0), 1010, time.Hour),
		}, StatusLocked, false},
		{"the client sent more than the server saw", []HistorySample{
			seen(mtls("default/productpage-v1", "default/details", 0), 1000, 2*time.Hour),
			seen(fromSource("default/productpage-v1", "default/details", 0), 1500, time.Hour),
		}, StatusMixed, true},
		{"only the client reported", []HistorySample{
			seen(fromSource("default/productpage-v1", "default/details", 0), 10, time.Hour),
		}, StatusUnknown, false},
		{"a plaintext series born at its final value", []HistorySample{
			seen(mtls("default/productpage-v1", "default/details", 0), 1000, time.Hour),
			seen(plaintext("default/productpage-v1", "default/details", 0), 0, 3*time.Hour),
		}, StatusMixed, true},
		{"requests that failed at the client count nowhere", []HistorySample{
			seen(mtls("default/productpage-v1", "default/details", 0), 1000, time.Hour),
			func() HistorySample {
				h := seen(fromSource("default/productpage-v1", "default/details", 0), 5000, time.Hour)
				h.Outcome = OutcomeHandshakeFailed
				return h
			}(),
		}, StatusLocked, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := buildWithHistory(nil, tc.history, bookinfo(), LookbackReady)
			e, ok := findEdge(s, to)
			if !ok || !e.Idle || e.Status != tc.status || tc.plaintext == e.History.PlaintextLastSeen.IsZero() {
				t.Errorf("edge = %+v (found %v), want idle, %s, plaintext seen %v", e, ok, tc.status, tc.plaintext)
			}
		})
	}
}

func TestMTLSOnlyInLookback(t *testing.T) {
	c := bookinfo()
	service(t, &c, ratingsID).PeerAuthentication = ModeStrict
	history := []HistorySample{seen(mtls("default/reviews-v2", ratingsID, 0), 100, 3*time.Hour)}
	s := buildWithHistory(nil, history, c, LookbackReady)
	f, ok := findFinding(s, FindingID(FindingMTLSOnly, ratingsID))
	if !ok || f.Severity != SeverityInfo || !strings.Contains(f.Message, "look-back (7d") {
		t.Fatalf("mtls-only-in-lookback = %+v (found %v)", f, ok)
	}
	// Not while loading, and not where ready-for-strict says it already.
	if s := buildWithHistory(nil, history, c, LookbackLoading); slices.ContainsFunc(s.Findings, func(f Finding) bool { return f.Kind == FindingMTLSOnly }) {
		t.Error("mtls-only-in-lookback raised while the look-back is loading")
	}
	s = buildWithHistory(nil, history, bookinfo(), LookbackReady)
	if _, ok := findFinding(s, FindingID(FindingMTLSOnly, ratingsID)); ok {
		t.Error("mtls-only-in-lookback beside ready-for-strict, which says the same")
	}
}
