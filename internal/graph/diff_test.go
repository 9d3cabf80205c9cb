// Tests of Diff and Apply: empty and changed deltas, the Delta's JSON, the property
// Apply(old, Diff(old, next)) == next on random snapshots, and that node equality sees every field.

package graph

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDiffEmpty(t *testing.T) {
	old := build(bookinfoTraffic(), bookinfo())
	if d := Diff(old, old); !d.Empty() {
		t.Errorf("Diff of a snapshot with itself = %+v, want empty", d)
	}

	later := old
	later.GeneratedAt = old.GeneratedAt.Add(5 * time.Second)
	d := Diff(old, later)
	if !d.Empty() || !d.GeneratedAt.Equal(later.GeneratedAt) {
		t.Errorf("only the time changed: Empty %v, generatedAt %v", d.Empty(), d.GeneratedAt)
	}
	if js := mustJSON(t, d); strings.Contains(js, "nodes") || strings.Contains(js, "removed") {
		t.Errorf("empty delta JSON carries lists: %s", js)
	}

	stale := later
	stale.Stale, stale.Error = true, "prometheus: connection refused"
	if d := Diff(later, stale); d.Empty() || !d.Stale || d.Error != stale.Error {
		t.Errorf("stale flip: Empty %v, delta %+v", d.Empty(), d)
	}
	window := later
	window.Window = "5m"
	if d := Diff(later, window); d.Empty() || d.Window != "5m" {
		t.Errorf("window change: Empty %v, delta %+v", d.Empty(), d)
	}
}

func TestDiffChanges(t *testing.T) {
	old := build(bookinfoTraffic(), bookinfo())
	c := bookinfo()
	service(t, &c, ratings).PeerAuthentication = ModeStrict
	samples := bookinfoTraffic()[:4]                                      // the unknown caller stopped
	samples = append(samples, mtls("default/productpage-v1", details, 1)) // details doubled
	next := build(samples, c)

	d := Diff(old, next)
	var nodes []string
	for _, n := range d.Nodes {
		nodes = append(nodes, n.ID)
	}
	var edges []string
	for _, e := range d.Edges {
		edges = append(edges, e.ID)
	}
	var findings []string
	for _, f := range d.Findings {
		findings = append(findings, f.ID)
	}
	checks := []struct {
		what      string
		got, want []string
	}{
		{"nodes", nodes, []string{ratings}},
		{"removedNodes", d.RemovedNodes, []string{Unknown}},
		{"edges", edges, []string{EdgeID(productpage, details, "http")}},
		{"removedEdges", d.RemovedEdges, []string{EdgeID(Unknown, ratings, "http")}},
		{"findings", findings, nil}, // ratings turned STRICT: nothing new to say
		{"removedFindings", d.RemovedFindings, []string{"strict-would-cut:default/ratings"}},
	}
	for _, c := range checks {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if d.Empty() {
		t.Error("Empty() on a delta with changes")
	}
	if got := Apply(old, d); !reflect.DeepEqual(got, next) {
		t.Errorf("Apply(old, Diff(old, next)):\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, next))
	}
}

func TestDeltaJSON(t *testing.T) {
	d := Delta{
		GeneratedAt: testTime, Window: "1m", Stale: true, Error: "x",
		Nodes: []Node{{ID: "a/b"}}, RemovedNodes: []string{"a/c"},
		Edges: []Edge{{ID: "e"}}, RemovedEdges: []string{"f"},
		Findings: []Finding{{ID: "g"}}, RemovedFindings: []string{"h"},
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(mustJSON(t, d)), &keys); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"edges", "error", "findings", "generatedAt", "lookback", "nodes", "posture", "removedEdges", "removedFindings", "removedNodes", "sources", "stale", "window"}
	if !slices.Equal(got, want) {
		t.Errorf("delta JSON keys = %v, want %v", got, want)
	}
}

// TestDiffApplyProperty checks Apply(old, Diff(old, next)) == next on
// random snapshots, unrelated or derived from one another, also after the
// delta went through JSON as it does on the WebSocket.
func TestDiffApplyProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	check := func(name string, old, next Snapshot) {
		t.Helper()
		oldCopy := deepCopy(old)
		d := Diff(old, next)
		got := Apply(old, d)
		if !reflect.DeepEqual(got, next) {
			t.Fatalf("%s: Apply(old, Diff(old, next)) differs\nold  %s\nnext %s\ngot  %s\ndelta %s",
				name, mustJSON(t, old), mustJSON(t, next), mustJSON(t, got), mustJSON(t, d))
		}
		if !reflect.DeepEqual(old, oldCopy) {
			t.Fatalf("%s: Diff or Apply modified old", name)
		}
		var wire Delta
		if err := json.Unmarshal([]byte(mustJSON(t, d)), &wire); err != nil {
			t.Fatal(err)
		}
		if viaJSON := Apply(old, wire); mustJSON(t, viaJSON) != mustJSON(t, next) {
			t.Fatalf("%s: delta through JSON applies differently", name)
		}
		if same := Diff(next, next); !same.Empty() {
			t.Fatalf("%s: Diff(next, next) not empty: %s", name, mustJSON(t, same))
		}
		if empty := len(d.Nodes)+len(d.RemovedNodes)+len(d.Edges)+len(d.RemovedEdges)+len(d.Findings)+len(d.RemovedFindings) == 0 &&
			old.Window == next.Window && old.Stale == next.Stale && old.Error == next.Error &&
			old.TrustDomain == next.TrustDomain && sourcesEqual(old.Sources, next.Sources) &&
			lookbackEqual(old.Lookback, next.Lookback) &&
			postureEqual(old.Posture, next.Posture); empty != d.Empty() {
			t.Fatalf("%s: Empty() = %v, want %v", name, d.Empty(), empty)
		}
	}
	for i := range 500 {
		check(fmt.Sprintf("unrelated #%d", i), randomSnapshot(rng), randomSnapshot(rng))
		old := randomSnapshot(rng)
		check(fmt.Sprintf("derived #%d", i), old, mutate(rng, old))
		check(fmt.Sprintf("from empty #%d", i), Snapshot{}, old)
		check(fmt.Sprintf("to empty #%d", i), old, Build(nil, Cluster{}, BuildOptions{}))
	}
	// Built snapshots, as the server produces them.
	samples := bookinfoTraffic()
	for i := range 200 {
		c := bookinfo()
		old := build(samples, c)
		samples = slices.Clone(samples)
		for j := range samples {
			if rng.IntN(3) == 0 {
				samples[j].Rate = float64(rng.IntN(3))
			}
		}
		if rng.IntN(2) == 0 {
			service(t, &c, ratings).PeerAuthentication = ModeStrict
		}
		check(fmt.Sprintf("built #%d", i), old, build(samples, c))
	}
}

var (
	namespacesPool = []string{"a", "b", "c"}
	kindsPool      = []string{FindingReadyForStrict, FindingStrictWouldCut, FindingPolicyUnreadable, FindingDisableTowardsStrict}
	severityPool   = []string{SeverityCritical, SeverityWarning, SeverityInfo}
)

// randomSnapshot draws from small pools so that two snapshots share many
// ids and many equal items.
func randomSnapshot(rng *rand.Rand) Snapshot {
	s := Snapshot{
		GeneratedAt: testTime.Add(time.Duration(rng.IntN(100)) * time.Second),
		Window:      []string{"1m", "5m"}[rng.IntN(2)],
		Stale:       rng.IntN(4) == 0,
		Nodes:       []Node{},
		Edges:       []Edge{},
		Findings:    []Finding{},
	}
	if s.Stale {
		s.Error = "query failed"
	}
	// The header's parts that deltas carry whole.
	s.TrustDomain = []string{"", "cluster.local"}[rng.IntN(2)]
	at := testTime.Add(-time.Duration(rng.IntN(3)) * time.Hour)
	s.Sources = []SourceStatus{{Name: "prometheus", OK: !s.Stale, LastSuccess: &at}}
	switch rng.IntN(3) {
	case 0:
		s.Lookback = Lookback{Window: "0s", State: LookbackOff}
	case 1:
		s.Lookback = Lookback{Window: "7d", State: LookbackLoading, From: &at, To: &testTime}
	default:
		s.Lookback = Lookback{Window: "7d", State: LookbackReady, From: &at, To: &testTime}
	}
	var ids []string
	for _, ns := range namespacesPool {
		for i := range 4 {
			if rng.IntN(3) > 0 {
				ids = append(ids, NodeID(ns, fmt.Sprint("svc", i)))
			}
		}
	}
	if rng.IntN(2) == 0 {
		ids = append(ids, Unknown)
	}
	for _, id := range ids {
		ns, name, _ := strings.Cut(id, "/")
		s.Nodes = append(s.Nodes, Node{ID: id, Namespace: ns, Name: name, Kind: KindService,
			InMesh: rng.IntN(2) == 0, PeerAuthentication: []string{ModeStrict, ModePermissive}[rng.IntN(2)]})
	}
	sortNodes(s.Nodes)
	seen := map[string]bool{}
	for range rng.IntN(3 * len(ids)) {
		e := randomEdge(rng, ids)
		if !seen[e.ID] {
			seen[e.ID] = true
			s.Edges = append(s.Edges, e)
		}
	}
	sortEdges(s.Edges)
	seen = map[string]bool{}
	for range rng.IntN(8) {
		f := randomFinding(rng, ids)
		if !seen[f.ID] {
			seen[f.ID] = true
			s.Findings = append(s.Findings, f)
		}
	}
	sortFindings(s.Findings)
	s.Posture = ComputePosture(s.Edges)
	return s
}

func randomEdge(rng *rand.Rand, ids []string) Edge {
	src, dst := ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]
	protocol := []string{ProtocolHTTP, ProtocolTCP}[rng.IntN(2)]
	status := []string{StatusLocked, StatusMixed, StatusOpen, StatusUnknown}[rng.IntN(4)]
	e := Edge{ID: EdgeID(src, dst, protocol), Source: src, Target: dst, Protocol: protocol,
		Rate: float64(rng.IntN(3)) / 2, MTLSRatio: float64(rng.IntN(3)) / 2, Status: status}
	if rng.IntN(3) == 0 {
		e.History = EdgeHistory{Unit: VolumeRequests, Volume: float64(rng.IntN(3)), LastSeen: testTime.Add(-time.Duration(rng.IntN(3)) * time.Hour)}
		if rng.IntN(2) == 0 {
			e.History.PlaintextLastSeen = e.History.LastSeen
		}
		e.Idle = rng.IntN(2) == 0
	}
	return e
}

func randomFinding(rng *rand.Rand, ids []string) Finding {
	kind := kindsPool[rng.IntN(len(kindsPool))]
	subject := ids[rng.IntN(len(ids))]
	f := Finding{ID: FindingID(kind, subject), Kind: kind, Severity: severityPool[rng.IntN(len(severityPool))],
		Message: []string{"one", "two"}[rng.IntN(2)]}
	if rng.IntN(2) == 0 {
		f.Nodes = []string{subject}
	}
	if rng.IntN(3) == 0 {
		f.Objects = []string{"PeerAuthentication " + subject}
	}
	return f
}

// mutate changes, adds and removes a few items of s, keeping Build's order.
func mutate(rng *rand.Rand, s Snapshot) Snapshot {
	out := cloneSnapshot(s)
	var ids []string
	for _, n := range out.Nodes {
		ids = append(ids, n.ID)
	}
	if len(ids) == 0 {
		return randomSnapshot(rng)
	}
	for range rng.IntN(4) {
		switch rng.IntN(7) {
		case 0:
			if len(out.Nodes) > 0 {
				i := rng.IntN(len(out.Nodes))
				out.Nodes[i].InMesh = !out.Nodes[i].InMesh
			}
		case 1:
			if len(out.Nodes) > 0 {
				out.Nodes = slices.Delete(out.Nodes, 0, 1)
			}
		case 2:
			if len(out.Edges) > 0 {
				i := rng.IntN(len(out.Edges))
				out.Edges[i].Rate += 1
			}
		case 3:
			if len(out.Edges) > 0 {
				i := rng.IntN(len(out.Edges))
				out.Edges = slices.Delete(out.Edges, i, i+1)
			}
		case 4:
			e := randomEdge(rng, ids)
			if !slices.ContainsFunc(out.Edges, func(x Edge) bool { return x.ID == e.ID }) {
				out.Edges = append(out.Edges, e)
			}
		case 5:
			if len(out.Findings) > 0 {
				i := rng.IntN(len(out.Findings))
				out.Findings[i].Nodes = append(out.Findings[i].Nodes, "x/y")
			}
		case 6:
			out.GeneratedAt = out.GeneratedAt.Add(time.Second)
			out.Stale = !out.Stale
		}
	}
	sortNodes(out.Nodes)
	sortEdges(out.Edges)
	sortFindings(out.Findings)
	out.Posture = ComputePosture(out.Edges)
	return out
}

// deepCopy keeps nil lists nil, unlike cloneSnapshot.
func deepCopy(s Snapshot) Snapshot {
	out := s
	out.Nodes, out.Edges, out.Findings = slices.Clone(s.Nodes), slices.Clone(s.Edges), slices.Clone(s.Findings)
	for i := range out.Findings {
		out.Findings[i] = cloneFinding(out.Findings[i])
	}
	return out
}

// TestNodeEqualSeesEveryField fails when a field added to Node is not
// compared, which would keep its changes out of the stream's deltas.
func TestNodeEqualSeesEveryField(t *testing.T) {
	base := Node{ID: "a/b", Ports: []ServicePort{{Port: 1}}, CallerTLS: []CallerTLS{{Caller: "x/y"}}}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		changed := base
		changed.Ports, changed.CallerTLS = slices.Clone(base.Ports), slices.Clone(base.CallerTLS)
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Slice:
			if f.Len() == 0 { // a list of strings, empty in base: one more
				f.Set(reflect.ValueOf([]string{"x"}))
				break
			}
			el := f.Index(0).Field(0)
			switch el.Kind() {
			case reflect.String:
				el.SetString(el.String() + "x")
			case reflect.Int32:
				el.SetInt(el.Int() + 1)
			}
		case reflect.Pointer: // a moment, unknown in base
			at := time.Unix(0, 0)
			f.Set(reflect.ValueOf(&at))
		default:
			t.Fatalf("field %s of kind %s: teach this test to change it", typ.Field(i).Name, f.Kind())
		}
		if nodeEqual(&base, &changed) {
			t.Errorf("nodeEqual ignores Node.%s", typ.Field(i).Name)
		}
	}
}
