package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestParsePeriod(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     Period
	}{
		{"", "", Period{now.Add(-7 * 24 * time.Hour), now}},
		{"30d", "", Period{now.Add(-30 * 24 * time.Hour), now}},
		{"2026-11-30T00:00:00Z", "12h", Period{time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), now.Add(-12 * time.Hour)}},
		{"1h", "now", Period{now.Add(-time.Hour), now}},
		{"2026-12-01T13:00:00+02:00", "", Period{time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC), now}},
	} {
		got, err := ParsePeriod(tc.from, tc.to, now)
		if err != nil || !got.From.Equal(tc.want.From) || !got.To.Equal(tc.want.To) {
			t.Errorf("ParsePeriod(%q, %q) = %v, %v; want %v", tc.from, tc.to, got, err, tc.want)
		}
	}
}

func TestParsePeriodRefusesInOneSentence(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{"1h", "2h", "must be before to"},
		{"yesterday", "", `from "yesterday" is neither an RFC 3339 time`},
		{"", "2026-13-01", `to "2026-13-01" is neither`},
		{"1h", "2026-12-02T00:00:00Z", "is in the future"},
		{"10s", "", "shorter than 30s"},
	} {
		_, err := ParsePeriod(tc.from, tc.to, now)
		if err == nil || !IsBadPeriod(err) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePeriod(%q, %q) error = %v, want a BadPeriod saying %q", tc.from, tc.to, err, tc.want)
		}
	}
	p, _ := ParsePeriod("30d", "", now)
	err := CheckRetention(p, now.Add(-15*24*time.Hour), 15*24*time.Hour)
	if !IsBadPeriod(err) || !strings.Contains(err.Error(), "it keeps 15d, so from must be 2026-11-16T12:00:00Z or later") {
		t.Errorf("CheckRetention = %v", err)
	}
	if err := CheckRetention(p, time.Time{}, 0); err != nil {
		t.Errorf("CheckRetention with no retention known = %v, want nil", err)
	}
}

func TestResolutionAndChunksBoundEveryQuery(t *testing.T) {
	for _, tc := range []struct {
		length time.Duration
		step   time.Duration
		chunks int
	}{
		{5 * time.Minute, 30 * time.Second, 1},
		{time.Hour, 30 * time.Second, 1},
		{24 * time.Hour, time.Minute, 1},
		{7 * 24 * time.Hour, 8 * time.Minute, 7},
		{30 * 24 * time.Hour, 30 * time.Minute, 30},
		{36 * time.Hour, 2 * time.Minute, 2},
	} {
		p := Period{now.Add(-tc.length), now}
		step := Resolution(p)
		chunks := Chunks(p, step)
		if step != tc.step || len(chunks) != tc.chunks {
			t.Errorf("%s: step %s, %d chunks; want %s, %d", tc.length, step, len(chunks), tc.step, tc.chunks)
		}
		var total time.Duration
		end := p.To
		for _, c := range chunks {
			if !c.End.Equal(end) || c.Range > 24*time.Hour || c.Range/step > maxSteps {
				t.Errorf("%s: chunk %+v after end %s: not contiguous or over a day", tc.length, c, end)
			}
			end = c.End.Add(-c.Range)
			total += c.Range
		}
		if total != tc.length {
			t.Errorf("%s: chunks cover %s", tc.length, total)
		}
	}
}

// fakeQuerier answers each chunk with what series carried in it.
type fakeQuerier struct {
	retention time.Duration
	chunks    func(end time.Time, rng time.Duration) []graph.HistorySample
	calls     int
	// series says which kind of series a chunk was read from; nil: raw.
	series func(end time.Time) string
}

func (f *fakeQuerier) Period(_ context.Context, end time.Time, rng, _ time.Duration) ([]graph.HistorySample, string, error) {
	f.calls++
	series := graph.SeriesRaw
	if f.series != nil {
		series = f.series(end)
	}
	return f.chunks(end, rng), series, nil
}

func (f *fakeQuerier) Retention(context.Context) (time.Duration, error) { return f.retention, nil }

func sample(reporter, security, src, dst string, measure string) graph.Sample {
	protocol := graph.ProtocolHTTP
	if measure == graph.MeasureBytes {
		protocol = graph.ProtocolTCP
	}
	return graph.Sample{Reporter: reporter, Protocol: protocol, Measure: measure, Security: security,
		Source:      graph.Peer{Namespace: "shop", Workload: src},
		Destination: graph.Peer{Namespace: "shop", Workload: dst},
		Service:     graph.ServiceRef{Namespace: "shop", Name: dst}}
}

func testCluster() graph.Cluster {
	return graph.Cluster{
		Namespaces: []string{"shop"},
		Services: []graph.Service{
			{Namespace: "shop", Name: "cart", Workloads: []string{"cart"}, InMesh: true, PeerAuthentication: "PERMISSIVE",
				Ports: []graph.ServicePort{{Port: 80, TargetPort: 8080, PeerAuthentication: "STRICT"}, {Port: 9090, TargetPort: 9090, PeerAuthentication: "PERMISSIVE"}}},
			{Namespace: "shop", Name: "db", Workloads: []string{"db"}, InMesh: true, PeerAuthentication: "PERMISSIVE"},
		},
		Workloads: []graph.Workload{
			{Namespace: "shop", Name: "web", DataPlane: graph.DataPlaneSidecar},
			{Namespace: "shop", Name: "cart", DataPlane: graph.DataPlaneSidecar},
			{Namespace: "shop", Name: "db", DataPlane: graph.DataPlaneSidecar},
			{Namespace: "shop", Name: "cron", DataPlane: graph.DataPlaneNone},
		},
	}
}

// A week read in seven chunks: web calls cart over mTLS throughout,
// plaintext on the first two days; cart writes to db over mTLS; a cron job
// without a sidecar called cart in plaintext on day three only, seen by the
// server's sidecar.
func weekGenerator() (*Generator, *fakeQuerier) {
	day := 24 * time.Hour
	q := &fakeQuerier{retention: 15 * day}
	q.chunks = func(end time.Time, rng time.Duration) []graph.HistorySample {
		start := end.Add(-rng)
		dayIndex := int(now.Sub(end) / day) // 0: the newest day
		var out []graph.HistorySample
		add := func(s graph.Sample, volume float64) {
			out = append(out, graph.HistorySample{Sample: s, Volume: volume, FirstSeen: start.Add(time.Minute), LastSeen: end.Add(-time.Minute)})
		}
		add(sample(graph.ReporterServer, graph.SecurityMutualTLS, "web", "cart", graph.MeasureRequests), 900)
		add(sample(graph.ReporterClient, "", "web", "cart", graph.MeasureRequests), 900)
		if dayIndex >= 5 {
			add(sample(graph.ReporterServer, graph.SecurityPlaintext, "web", "cart", graph.MeasureRequests), 100)
			add(sample(graph.ReporterClient, "", "web", "cart", graph.MeasureRequests), 100)
		}
		if dayIndex == 4 {
			add(sample(graph.ReporterServer, graph.SecurityPlaintext, "cron", "cart", graph.MeasureRequests), 50)
		}
		add(sample(graph.ReporterServer, graph.SecurityMutualTLS, "cart", "db", graph.MeasureBytes), 1e6)
		add(sample(graph.ReporterClient, "", "cart", "db", graph.MeasureBytes), 1e6)
		return out
	}
	return &Generator{Querier: q, Cluster: testCluster, URL: "http://prometheus:9090", Now: func() time.Time { return now }}, q
}

func weekReport(t *testing.T) Report {
	t.Helper()
	g, q := weekGenerator()
	p, src, err := g.Parse(t.Context(), "7d", "")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := g.Snapshot(t.Context(), p, &src)
	if err != nil {
		t.Fatal(err)
	}
	if q.calls != 7 || src.Queries != 7 || src.Resolution != "8m" || src.Retention != "15d" || !slices.Equal(src.Series, []string{graph.SeriesRaw}) {
		t.Fatalf("queries %d, source %+v; want 7 day-long queries at 8m of raw series, retention 15d", q.calls, src)
	}
	actions := []enforce.Action{
		{ID: "a1", Who: "alice", At: now.Add(-2 * 24 * time.Hour), Scope: "service", Mode: "STRICT", Namespace: "shop", Service: "cart",
			Objects: []enforce.ActionObject{{Kind: "PeerAuthentication", Namespace: "shop", Name: "cart", Action: "create"}}},
		{ID: "old", Who: "bob", At: now.Add(-30 * 24 * time.Hour), Namespace: "shop"},
	}
	return Build(Input{Period: p, Snapshot: snap, Actions: actions, Source: src}, now)
}

// The source names every kind of series its days were read from.
func TestReportSourceNamesTheSeriesRead(t *testing.T) {
	g, q := weekGenerator()
	q.series = func(end time.Time) string {
		if g.Now().Sub(end) < 48*time.Hour {
			return graph.SeriesRecorded
		}
		return graph.SeriesRaw
	}
	p, src, err := g.Parse(t.Context(), "7d", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Snapshot(t.Context(), p, &src); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(src.Series, []string{graph.SeriesRaw, graph.SeriesRecorded}) {
		t.Errorf("source series %v, want raw and recorded", src.Series)
	}
}

// wholeQuerier reads a period in one query where it says it can.
type wholeQuerier struct {
	*fakeQuerier
	whole bool
}

func (w wholeQuerier) ReadsWhole(context.Context, time.Time, time.Time) bool { return w.whole }

// A period of recorded series is one query; of raw ones, one a day.
func TestReportReadsRecordedPeriodsWhole(t *testing.T) {
	for _, whole := range []bool{true, false} {
		g, q := weekGenerator()
		g.Querier = wholeQuerier{q, whole}
		p, src, err := g.Parse(t.Context(), "7d", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Snapshot(t.Context(), p, &src); err != nil {
			t.Fatal(err)
		}
		want := 7
		if whole {
			want = 1
		}
		if q.calls != want || src.Queries != want {
			t.Errorf("reads whole %v: %d queries (source says %d), want %d", whole, q.calls, src.Queries, want)
		}
	}
}

func TestBuildSharesOverThePeriod(t *testing.T) {
	r := weekReport(t)
	edges := map[string]EdgeRow{}
	for _, e := range r.Edges {
		edges[e.Source+" -> "+e.Target] = e
	}
	web := edges["shop/web -> shop/cart"]
	// 7 × 900 mTLS + 2 × 100 plaintext.
	if web.Unit != graph.VolumeRequests || web.Volume != 6500 || web.MTLSVolume != 6300 || web.Status != graph.StatusMixed {
		t.Errorf("web -> cart = %+v", web)
	}
	if want := 6300.0 / 6500; web.MTLSShare == nil || math.Abs(*web.MTLSShare-want) > 1e-9 {
		t.Errorf("web -> cart share %v, want %v", web.MTLSShare, want)
	}
	// Plaintext on the two oldest days: from the first's start to the second's end.
	if web.FirstPlaintext == nil || !web.FirstPlaintext.Equal(now.Add(-7*24*time.Hour+time.Minute)) ||
		web.LastPlaintext == nil || !web.LastPlaintext.Equal(now.Add(-5*24*time.Hour-time.Minute)) {
		t.Errorf("web -> cart plaintext %v .. %v", web.FirstPlaintext, web.LastPlaintext)
	}
	if web.Policy.PeerAuthentication != "PERMISSIVE" || len(web.Policy.Ports) != 2 {
		t.Errorf("web -> cart policy %+v, want the weakest port's mode and both ports", web.Policy)
	}
	cron := edges["shop/cron -> shop/cart"]
	if cron.Status != graph.StatusOpen || cron.Volume != 50 || *cron.MTLSShare != 0 {
		t.Errorf("cron -> cart = %+v", cron)
	}
	db := edges["shop/cart -> shop/db"]
	if db.Unit != graph.VolumeBytes || db.Volume != 7e6 || *db.MTLSShare != 1 || db.LastPlaintext != nil {
		t.Errorf("cart -> db = %+v", db)
	}

	if len(r.ByNS) != 1 {
		t.Fatalf("namespaces %+v", r.ByNS)
	}
	ns := r.ByNS[0]
	if ns.Requests != 6550 || ns.MTLSRequests != 6300 || ns.Bytes != 7e6 || *ns.ByteShare != 1 || ns.PlaintextEdges != 2 {
		t.Errorf("namespace row %+v", ns)
	}
	if ns.Policies["STRICT"] != 0 || ns.Policies["PERMISSIVE"] != 2 {
		t.Errorf("namespace policies %v, want both services PERMISSIVE (cart by its port 9090)", ns.Policies)
	}
	if r.Summary.RequestShare == nil || math.Abs(*r.Summary.RequestShare-6300.0/6550) > 1e-9 || r.Summary.Edges[graph.StatusMixed] != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
	if r.Source.DataFrom == nil || !r.Source.DataFrom.Equal(now.Add(-7*24*time.Hour+time.Minute)) {
		t.Errorf("dataFrom %v", r.Source.DataFrom)
	}
}

func TestBuildListsExceptionsAndTheActionsOfThePeriod(t *testing.T) {
	r := weekReport(t)
	kinds := map[string][]string{}
	for _, x := range r.Exceptions {
		kinds[x.Kind] = append(kinds[x.Kind], x.Name)
	}
	for kind, want := range map[string]string{
		ExceptionPermissive:      "db",
		ExceptionPort:            "cart",
		ExceptionNoSidecar:       "cron",
		ExceptionPlaintextCaller: "shop/cron -> shop/cart,shop/web -> shop/cart",
	} {
		if got := strings.Join(kinds[kind], ","); got != want {
			t.Errorf("%s exceptions %q, want %q", kind, got, want)
		}
	}
	if len(r.Actions) != 1 || r.Actions[0].ID != "a1" || r.Actions[0].Undone || r.Actions[0].Objects[0] != "create PeerAuthentication shop/cart" {
		t.Errorf("actions %+v, want a1 only (the other is before the period)", r.Actions)
	}
}

func TestCheckBelowTheBar(t *testing.T) {
	r := weekReport(t)
	Check(&r, 1)
	var names []string
	for _, b := range r.Check.Below {
		names = append(names, b.Kind+":"+b.Name)
	}
	want := "edge:shop/cron -> shop/cart,edge:shop/web -> shop/cart,service:shop/cart"
	if got := strings.Join(names, ","); got != want || r.Check.Pass {
		t.Errorf("below 100%%: %s (pass %v), want %s", got, r.Check.Pass, want)
	}
	Check(&r, 0.9)
	if len(r.Check.Below) != 1 || r.Check.Below[0].Name != "shop/cron -> shop/cart" {
		t.Errorf("below 90%%: %+v, want the cron job only (web -> cart is at 96.9%%, cart at 96.2%%)", r.Check.Below)
	}
	var table bytes.Buffer
	if err := WriteCheckTable(&table, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "FAIL: 1 edges and 0 services below 90.0% mTLS") {
		t.Errorf("table:\n%s", table.String())
	}
	Check(&r, 0)
	if !r.Check.Pass {
		t.Errorf("below 0%%: %+v", r.Check.Below)
	}
}

func TestCSVParsesWithTheSameColumnsOnEveryRow(t *testing.T) {
	r := weekReport(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll() // fails on a row of another width
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]int{}
	for _, row := range rows[1:] {
		records[row[0]]++
	}
	if strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") || records["namespace"] != 2 || records["edge"] != 3 ||
		records["action"] != 1 || records["exception"] != len(r.Exceptions) {
		t.Errorf("header %v, records %v", rows[0], records)
	}
	for _, row := range rows[1:] {
		if row[0] == "edge" && row[2] == "shop/web -> shop/cart" && (row[8] != "0.9692" || row[9] != "2026-11-24T12:01:00Z") {
			t.Errorf("web -> cart row %v", row)
		}
	}
}

func TestJSONAndYAMLSayTheSame(t *testing.T) {
	r := weekReport(t)
	Check(&r, 1)
	var j, y bytes.Buffer
	if err := WriteJSON(&j, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteYAML(&y, r); err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML map[string]any
	if err := json.Unmarshal(j.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(y.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromJSON)
	b, _ := json.Marshal(fromYAML)
	if string(a) != string(b) {
		t.Errorf("YAML differs from JSON")
	}
	if fromJSON["check"].(map[string]any)["pass"] != false || fromJSON["rule"] == "" {
		t.Errorf("JSON check %v", fromJSON["check"])
	}
}

func TestWithoutFromAReportCoversWhatPrometheusKeeps(t *testing.T) {
	g, q := weekGenerator()
	g.URL = "https://meshlock:s3cret@prometheus.example:9090"
	q.retention = 2 * time.Hour
	p, src, err := g.Parse(t.Context(), "", "")
	if err != nil || p.Length() != 2*time.Hour || src.Retention != "2h" || src.Resolution != "30s" || strings.Contains(src.URL, "s3cret") {
		t.Errorf("Parse without from = %v, %+v, %v; want the 2h Prometheus keeps", p, src, err)
	}
	if _, _, err := g.Parse(t.Context(), "3h", ""); !IsBadPeriod(err) {
		t.Errorf("an explicit from beyond the retention: %v, want refused", err)
	}
}

// An edge into a namespace the reader may not see ends at the "hidden"
// node: it is listed, but makes no namespace row of its own.
func TestBuildGivesNoRowToTheHiddenNamespaces(t *testing.T) {
	snap := graph.Snapshot{
		Nodes: []graph.Node{{ID: "shop/web", Namespace: "shop", Name: "web", Kind: graph.KindWorkload}, {ID: "hidden", Kind: "hidden"}},
		Edges: []graph.Edge{{ID: "shop/web->hidden:http", Source: "shop/web", Target: "hidden", Protocol: graph.ProtocolHTTP, Status: graph.StatusLocked,
			History: graph.EdgeHistory{Unit: graph.VolumeRequests, Volume: 10, MTLSVolume: 10}}},
	}
	r := Build(Input{Period: Period{now.Add(-time.Hour), now}, Snapshot: snap}, now)
	if len(r.Edges) != 1 || len(r.ByNS) != 0 || r.Summary.Requests != 10 {
		t.Errorf("edges %+v, namespaces %+v, summary %+v", r.Edges, r.ByNS, r.Summary)
	}
}
