package report

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"
)

// crafted are values a workload, a label or a user could choose that a
// spreadsheet would run as formulas.
var crafted = []string{`=HYPERLINK("http://x","y")`, "+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd", `=1+2;=3,"x"`}

// csvRows writes r as CSV and parses it back.
func csvRows(t *testing.T, r Report) [][]string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	return rows
}

func column(name string) int { return slices.Index(csvHeader, name) }

// Every text cell that begins like a formula gets a leading ' with the
// rest of its text intact, whichever field it comes from.
func TestCSVNeutralisesFormulaCells(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	share := 0.5
	for _, v := range crafted {
		for _, tc := range []struct {
			field  string
			set    func(*Report)
			record string
			column string
			want   string // the cell before neutralising: neutralised only where v leads it
		}{
			{"namespace row", func(r *Report) { r.ByNS[0].Namespace = v }, "namespace", "namespace", v},
			{"edge source", func(r *Report) { r.Edges[0].Source = v }, "edge", "name", v + " -> shop/cart"},
			{"edge target namespace", func(r *Report) { r.Edges[0].TargetNamespace = v }, "edge", "namespace", v},
			{"edge protocol", func(r *Report) { r.Edges[0].Protocol = v }, "edge", "protocol", v},
			{"edge status", func(r *Report) { r.Edges[0].Status = v }, "edge", "status", v},
			{"edge unit", func(r *Report) { r.Edges[0].Unit = v }, "edge", "unit", v},
			{"edge DestinationRule", func(r *Report) { r.Edges[0].Policy = Policy{DestinationRuleTLS: v} }, "edge", "policy", "DestinationRule " + v},
			{"exception namespace", func(r *Report) { r.Exceptions[0].Namespace = v }, "exception", "namespace", v},
			{"exception name", func(r *Report) { r.Exceptions[0].Name = v }, "exception", "name", v},
			{"exception kind", func(r *Report) { r.Exceptions[0].Kind = v }, "exception", "kind", v},
			{"exception detail", func(r *Report) { r.Exceptions[0].Detail = v }, "exception", "detail", v},
			{"action user", func(r *Report) { r.Actions[0].Who = v }, "action", "kind", v},
			{"action id", func(r *Report) { r.Actions[0].ID = v }, "action", "name", v},
			{"action namespace", func(r *Report) { r.Actions[0].Namespace = v }, "action", "namespace", v},
			{"action scope", func(r *Report) { r.Actions[0].Scope = v }, "action", "policy", v + " STRICT"},
			{"action object", func(r *Report) { r.Actions[0].Objects = []string{v, "create x"} }, "action", "detail", v + "; create x"},
			{"action error", func(r *Report) { r.Actions[0].Error = v }, "action", "status", "failed: " + v},
		} {
			r := Report{
				ByNS: []NamespaceRow{{Namespace: "shop", Totals: Totals{Requests: 10, MTLSRequests: 5, RequestShare: &share}}},
				Edges: []EdgeRow{{ID: "e", Source: "shop/web", Target: "shop/cart", TargetNamespace: "shop", Protocol: "http",
					Status: "mixed", Unit: "requests", Volume: 10, MTLSVolume: 5, MTLSShare: &share}},
				Exceptions: []Exception{{Kind: ExceptionPermissive, Namespace: "shop", Name: "cart", Detail: "PERMISSIVE"}},
				Actions: []Action{{ID: "a1", Who: "alice", At: at, Scope: "service", Mode: "STRICT", Namespace: "shop",
					Objects: []string{"create PeerAuthentication shop/cart"}}},
			}
			tc.set(&r)
			rows := csvRows(t, r)
			found := false
			for _, row := range rows[1:] {
				if row[0] != tc.record {
					continue
				}
				found = true
				want := tc.want
				if strings.HasPrefix(want, v) {
					want = "'" + want
				}
				if got := row[column(tc.column)]; got != want {
					t.Errorf("%s %q: %s cell %q, want %q", tc.field, v, tc.column, got, want)
				}
				for i, cell := range row {
					if i != column(tc.column) && strings.HasPrefix(cell, "'") {
						t.Errorf("%s %q: %s cell %q changed too", tc.field, v, csvHeader[i], cell)
					}
				}
			}
			if !found {
				t.Errorf("%s %q: no %s row in %q", tc.field, v, tc.record, rows)
			}
		}
	}
}

// Cells meshlock formats from numbers and times stay numbers and times,
// a negative one included, and ordinary text is untouched.
func TestCSVLeavesNumbersTimesAndOrdinaryTextAlone(t *testing.T) {
	share := -0.25 // cannot happen (shares are clamped), but a number stays one
	first := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	r := Report{Edges: []EdgeRow{{ID: "e", Source: "shop/web", Target: "shop/cart", TargetNamespace: "shop", Protocol: "http",
		Status: "open", Unit: "requests", Volume: -2, MTLSVolume: -1, MTLSShare: &share, FirstPlaintext: &first, LastPlaintext: &first,
		Policy: Policy{PeerAuthentication: "PERMISSIVE"}}}}
	rows := csvRows(t, r)
	want := []string{"edge", "shop", "shop/web -> shop/cart", "http", "open", "requests", "-2", "-1", "-0.2500",
		"2026-11-30T10:00:00Z", "2026-11-30T10:00:00Z", "PeerAuthentication PERMISSIVE", "", "", ""}
	if len(rows) != 2 || !slices.Equal(rows[1], want) {
		t.Errorf("rows %q, want the edge row %q", rows, want)
	}

	// The whole week's report: ordinary names, nothing to neutralise.
	for _, row := range csvRows(t, weekReport(t)) {
		for i, cell := range row {
			if strings.HasPrefix(cell, "'") {
				t.Errorf("%s cell %q of %q neutralised", csvHeader[i], cell, row)
			}
		}
	}
}

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "shop": "shop", "'=x": "'=x", "a=b": "a=b", " =x": " =x", "\n=x": "\n=x",
		"=x": "'=x", "+x": "'+x", "-x": "'-x", "@x": "'@x", "\tx": "'\tx", "\rx": "'\rx",
	} {
		if got := neutralise(in); got != want {
			t.Errorf("neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

// With several clusters an action's namespace names its cluster, as the
// graph's ids do; with one it is the namespace alone.
func TestCSVActionNamesItsCluster(t *testing.T) {
	r := Report{Actions: []Action{
		{ID: "a1", Cluster: "east", Namespace: "shop", Scope: "namespace", Mode: "authorization", At: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{ID: "a2", Namespace: "shop", Scope: "namespace", Mode: "peerauthentication", At: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
	}}
	var got []string
	for _, row := range csvRows(t, r)[1:] {
		if row[column("record")] == "action" {
			got = append(got, row[column("name")]+" "+row[column("namespace")])
		}
	}
	if want := []string{"a1 east/shop", "a2 shop"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
}
