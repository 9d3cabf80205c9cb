// The page's speed and memory on the generated big meshes, held to the
// targets of issue 14 (make bench-browser). These are figures of the
// machine as much as of the page: run them on a quiet one. make test runs
// the same pages as tests that assert behaviour and only log the figures
// (issue 20).

package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meshlock/meshlock/test/e2e"
)

// figure is one measured figure beside its target: met when value <= target.
type figure struct {
	name          string
	value, target float64
	unit          string
}

// reportFigures prints each figure beside its target, reports it as a
// benchmark metric and fails the benchmark for each one missed.
func reportFigures(b *testing.B, figures []figure) {
	b.Helper()
	var table strings.Builder
	fmt.Fprintf(&table, "%-34s %10s %10s  %s\n", "figure", "measured", "target", "")
	for _, f := range figures {
		verdict := "met"
		if f.value > f.target {
			verdict = "MISSED"
			b.Errorf("%s: %.1f %s, target at most %.0f %s", f.name, f.value, f.unit, f.target, f.unit)
		}
		fmt.Fprintf(&table, "%-34s %10.1f %10.0f  %s %s\n", f.name, f.value, f.target, f.unit, verdict)
		b.ReportMetric(f.value, strings.ReplaceAll(f.unit, " ", "-")+"/"+strings.ReplaceAll(f.name, " ", "-"))
	}
	b.Log("\n" + table.String())
}

// Opening the dashboard of 1,000 services and 5,000 edges, b.N times (a
// fresh browser each, as a first visit): ready within 2 s in the page and
// on the wall, renderer and JS heap under 500 MB; then five refreshes of
// 1% of the edges each, with a namespace expanded: a median of at most 50
// ms to apply and none over 100 (the first after the expansion runs code
// the page has not run before).
func BenchmarkBigMeshInBrowser(b *testing.B) {
	s := bigSnapshot()
	url, publish := snapshotDashboard(b, s)
	var ready, wall, rss, heap, applied []float64
	for b.Loop() {
		publish(s) // each visit starts from the same mesh
		browser := e2e.StartBrowser(b, 1280, 800)
		o := openBigMesh(b, browser, url)
		ready, wall = append(ready, o.readyMs), append(wall, float64(o.wall.Milliseconds()))
		rss, heap = append(rss, float64(o.rss>>20)), append(heap, o.heap/(1<<20))
		browser.Click(`[data-testid=namespace-padlock][data-namespace="team-03"]`)
		browser.WaitFor("the namespace expands", `window.meshlock.expanded.includes('team-03')`, `JSON.stringify(window.meshlock.expanded)`)
		_, _, times := applyDeltas(b, browser, publish, s, bigDeltas)
		applied = append(applied, times...)
	}
	b.Logf("%d visits: ready %.0f ms in the page, %.0f ms wall; RSS %.0f MB, heap %.0f MB; deltas %.1f ms", len(ready), ready, wall, rss, heap, applied)
	reportFigures(b, []figure{
		{"ready in the page (median)", median(ready), float64(bigReadyTarget.Milliseconds()), "ms"},
		{"ready on the wall (median)", median(wall), float64(bigReadyTarget.Milliseconds()), "ms"},
		{"renderer RSS (most)", slices.Max(rss), bigMemoryTarget >> 20, "MB"},
		{"JS heap (most)", slices.Max(heap), bigMemoryTarget >> 20, "MB"},
		{"1% delta applied (median)", median(applied), bigApplyTargetMs, "ms"},
		{"1% delta applied (slowest)", slices.Max(applied), 2 * bigApplyTargetMs, "ms"},
	})
}

// Opening the dashboard of 20,000 edges: ready within 10 s on the wall.
func BenchmarkHugeMeshInBrowser(b *testing.B) {
	s := hugeSnapshot()
	url, publish := snapshotDashboard(b, s)
	var ready, wall, rss, applied []float64
	for b.Loop() {
		publish(s)
		browser := e2e.StartBrowser(b, 1280, 800)
		o := openBigMesh(b, browser, url)
		ready, wall, rss = append(ready, o.readyMs), append(wall, float64(o.wall.Milliseconds())), append(rss, float64(o.rss>>20))
		_, _, times := applyDeltas(b, browser, publish, s, 1)
		applied = append(applied, times...)
	}
	b.Logf("%d visits: ready %.0f ms in the page, %.0f ms wall; RSS %.0f MB; a delta %.1f ms", len(ready), ready, wall, rss, applied)
	reportFigures(b, []figure{
		{"ready on the wall (median)", median(wall), float64(hugeReadyTarget.Milliseconds()), "ms"},
	})
}
