// Tests of the look-back in the API: an idle caller in the enforce preview with its last time and
// volume, the look-back in the answer, and /api/history's answers (edge required, only a visible
// edge, Prometheus down).

package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/live"
)

var lastNight = time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)

// withIdleBackup adds a plaintext caller of ratings seen last night only.
func withIdleBackup() graph.Snapshot {
	s := bookinfoWithLegacy()
	s.GeneratedAt = lastNight.Add(10 * time.Hour)
	from := lastNight.Add(-7 * 24 * time.Hour)
	s.Lookback = graph.Lookback{Window: "7d", State: graph.LookbackReady, From: &from, To: &s.GeneratedAt}
	s.Nodes = append(s.Nodes, graph.Node{ID: "default/backup", Namespace: "default", Name: "backup", Kind: graph.KindWorkload, DataPlane: graph.DataPlaneNone})
	s.Edges = append(s.Edges, graph.Edge{ID: "default/backup->default/ratings:http", Source: "default/backup", Target: "default/ratings",
		Protocol: "http", Status: graph.StatusOpen, Idle: true,
		History: graph.EdgeHistory{Unit: graph.VolumeRequests, Volume: 1200, LastSeen: lastNight, PlaintextLastSeen: lastNight}})
	return s
}

func TestEnforcePreviewListsIdleCallersOfTheLookback(t *testing.T) {
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: withIdleBackup()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}, AllowEnforce: true})
	if err != nil {
		t.Fatal(err)
	}
	code, body := do(t, handler, writeCase{"POST", "/api/enforce", namespaceDryRun, nil})
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var answer enforceResponse
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		t.Fatal(err)
	}
	if answer.Lookback.State != graph.LookbackReady || answer.Lookback.Window != "7d" {
		t.Errorf("answer's lookback = %+v, want the snapshot's", answer.Lookback)
	}
	byCaller := map[string]breakView{}
	for _, b := range answer.Breaks {
		byCaller[b.Source] = b
	}
	idle, ok := byCaller["default/backup"]
	if !ok || !idle.Idle || idle.Rate != 0 || !idle.LastSeen.Equal(lastNight) || idle.Volume != 1200 || idle.Unit != graph.VolumeRequests {
		t.Errorf("idle caller's break = %+v (listed %v), want idle, rate 0, last seen %s, volume 1200", idle, ok, lastNight)
	}
	live, ok := byCaller["unknown"]
	if !ok || live.Idle || !live.LastSeen.Equal(withIdleBackup().GeneratedAt) {
		t.Errorf("live caller's break = %+v, want not idle, last seen now", live)
	}
	if !strings.Contains(body, `"lastSeen":"2026-11-30T02:00:00Z"`) {
		t.Errorf("lastSeen is not RFC 3339 in %s", body)
	}
}

// scriptedCharts answers Edge with a chart, or err.
type scriptedCharts struct {
	err    error
	asked  []string
	target graph.Node
}

func (c *scriptedCharts) Edge(_ context.Context, e graph.Edge, target graph.Node) (live.EdgeChart, error) {
	c.asked = append(c.asked, e.ID)
	c.target = target
	r := 0.0
	return live.EdgeChart{Edge: e.ID, Unit: graph.UnitRequests, Points: []graph.EdgePoint{{T: lastNight, Rate: 1, MTLSRatio: &r}}}, c.err
}

func TestHistoryEndpoint(t *testing.T) {
	charts := &scriptedCharts{}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: withIdleBackup()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}, Charts: charts})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, handler, "/api/history?edge="+"default%2Fbackup-%3Edefault%2Fratings%3Ahttp")
	if code != http.StatusOK || !strings.Contains(body, `"points":[{"t":"2026-11-30T02:00:00Z","rate":1,"mtlsRatio":0}]`) {
		t.Errorf("history of the idle edge: %d %s", code, body)
	}
	if charts.target.ID != "default/ratings" {
		t.Errorf("chart asked with target %+v, want the ratings node", charts.target)
	}
	for _, tc := range []struct {
		path string
		code int
		text string
	}{
		{"/api/history", http.StatusBadRequest, "edge"},
		{"/api/history?edge=nope", http.StatusNotFound, "no edge nope"},
	} {
		if code, body := get(t, handler, tc.path); code != tc.code || !strings.Contains(body, tc.text) {
			t.Errorf("%s: %d %s, want %d with %q", tc.path, code, body, tc.code, tc.text)
		}
	}
	charts.err = errors.New("connection refused")
	if code, body := get(t, handler, "/api/history?edge=unknown-%3Edefault%2Fratings%3Ahttp"); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Errorf("Prometheus down: %d %s, want 503 with the cause", code, body)
	}
}
