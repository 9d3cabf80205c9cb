// The compliance report and `meshlock check` on the real test bed, over a period that spans an
// enforce: reviews calls ratings in plaintext (a DestinationRule of its namespace says DISABLE)
// until the rule is enforced to ISTIO_MUTUAL; web, in another namespace, calls it with mTLS all
// along. The report's shares match meshsim's counts within 2 points before, after and across the
// enforce, the action is listed, the CSV parses, and check fails before and passes once its
// look-back holds only mTLS.

package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"

	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/report"
	"github.com/meshlock/meshlock/internal/testutil"
)

const (
	plainCaller = "default/reviews-v1->default/ratings:9080"
	mtlsCaller  = "shop/web->default/ratings:9080"
)

func reportMesh() meshsim.Topology {
	return meshsim.Topology{
		Workloads: []meshsim.Workload{
			{Name: "reviews-v1", Namespace: "default", ServiceAccount: "reviews", Sidecar: true, Labels: map[string]string{"app": "reviews"}},
			{Name: "ratings-v1", Namespace: "default", ServiceAccount: "ratings", Sidecar: true, Labels: map[string]string{"app": "ratings"}},
			{Name: "web", Namespace: "shop", ServiceAccount: "web", Sidecar: true, Labels: map[string]string{"app": "web"}},
		},
		Services: []meshsim.Service{
			{Name: "ratings", Namespace: "default", Selector: map[string]string{"app": "ratings"},
				Ports: []meshsim.ServicePort{{Name: "http", Port: 9080, TargetPort: 9080, Protocol: meshsim.HTTP}}},
		},
		Callers: []meshsim.Caller{
			{From: "default/reviews-v1", To: "default/ratings", Port: 9080, Rate: 4},
			{From: "shop/web", To: "default/ratings", Port: 9080, Rate: 2},
		},
	}
}

// runCommand runs the binary's main in-process: exit status and stdout.
func runCommand(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, func(string) string { return "" }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func getReport(t *testing.T, base string, from, to time.Time) report.Report {
	t.Helper()
	q := url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}}
	resp, err := http.Get(base + "/api/report?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var r report.Report
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &r) != nil {
		t.Fatalf("report %s: %d %s", q.Encode(), resp.StatusCode, data)
	}
	return r
}

func edgeShare(t *testing.T, r report.Report, source string) float64 {
	t.Helper()
	for _, e := range r.Edges {
		if e.Source == source && e.Target == "default/ratings" && e.MTLSShare != nil {
			return *e.MTLSShare
		}
	}
	t.Fatalf("no edge %s -> default/ratings in the report from %s to %s: %+v", source, r.From, r.To, r.Edges)
	return 0
}

func TestReportAndCheckAcrossAnEnforce(t *testing.T) {
	ctx := t.Context()
	tb := startTestbedMesh(t, reportMesh(), true, testutil.Rule("default", "ratings", "ratings.default.svc.cluster.local", 0,
		testutil.WithTLS(networkingapi.ClientTLSSettings_DISABLE), testutil.WithExportTo(".")))
	cluster, mesh, prometheus := tb.cluster, tb.mesh, tb.prometheus
	// The mesh moves once Prometheus scrapes it: requests before the first
	// scrape are in a counter's first value, which no increase() can see.
	testutil.Eventually(t, "Prometheus has scraped the mesh", func() (bool, string) {
		resp, err := http.Get(prometheus.URL + "/api/v1/query?query=up")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(data), `"value":[`), string(data)
	})
	start := time.Now()
	go mesh.Run(ctx, 250*time.Millisecond)
	conn := []string{"--kubeconfig=" + cluster.Kubeconfig, "--prometheus-url=" + prometheus.URL, "--audit-namespace=default"}
	base := startMeshlock(t, append(conn, "--refresh=1s", "--window=5s", "--lookback=10m", "--allow-enforce")...)

	time.Sleep(40 * time.Second)
	code, out, errOut := runCommand(t, append([]string{"check", "--lookback=1m", "-o", "json"}, conn...)...)
	var before report.Report
	if err := json.Unmarshal([]byte(out), &before); err != nil || code != exitBelow || before.Check == nil || before.Check.Pass {
		t.Fatalf("check before the enforce: exit %d, %v, stderr %s, output %.600s; want exit 1", code, err, errOut, out)
	}
	if len(before.Check.Below) == 0 || before.Check.Below[0].Name != "default/reviews-v1 -> default/ratings" {
		t.Errorf("check before the enforce: below %+v, want reviews' edge first", before.Check.Below)
	}

	// Enforce ISTIO_MUTUAL for ratings: the rule is merged in place.
	var plan enforceAnswer
	dry := `{"scope":"service","namespace":"default","service":"ratings","mode":"destinationrule","dryRun":true}`
	if code := post(t, base+"/api/enforce", "", dry, &plan); code != http.StatusOK || plan.PlanID == "" {
		t.Fatalf("dry run: %d %+v", code, plan)
	}
	atEnforce := mesh.Outcomes()
	var applied enforceAnswer
	apply := strings.Replace(dry, `"dryRun":true`, fmt.Sprintf(`"dryRun":false,"planId":%q`, plan.PlanID), 1)
	if code := post(t, base+"/api/enforce", "", apply, &applied); code != http.StatusOK || applied.ActionID == "" {
		t.Fatalf("enforce: %d %+v", code, applied)
	}
	enforced := time.Now()
	testutil.Eventually(t, "meshsim sends mTLS from reviews", func() (bool, string) {
		tr := mesh.Truth().Callers[plainCaller]
		return string(tr.ClientTLS) == "ISTIO_MUTUAL", string(tr.ClientTLS)
	})

	// Until a 1m look-back (30 s steps, a sighting's precision two steps)
	// holds only mTLS, plus Prometheus' scrape.
	time.Sleep(time.Until(enforced.Add(100 * time.Second)))
	end := mesh.Outcomes()
	endAt := time.Now()
	if code, out, errOut := runCommand(t, append([]string{"check", "--lookback=1m"}, conn...)...); code != exitPass || !strings.Contains(out, "PASS: 0 edges and 0 services below 100.0% mTLS") {
		t.Errorf("check after the enforce: exit %d, %s %s; want 0, PASS", code, out, errOut)
	}

	// The truth: reviews' requests before the enforce were plaintext, after it mTLS.
	plain := float64(atEnforce[plainCaller].Succeeded)
	secured := float64(end[plainCaller].Succeeded - atEnforce[plainCaller].Succeeded)
	want := secured / (plain + secured)
	whole := getReport(t, base, start.Add(-10*time.Second), endAt)
	got := edgeShare(t, whole, "default/reviews-v1")
	t.Logf("reviews' share across the enforce: %.4f in the report, %.4f by meshsim's counts", got, want)
	if math.Abs(got-want) > 0.02 {
		t.Errorf("reviews' share across the enforce = %.4f, want %.4f (meshsim: %.0f plaintext, %.0f mTLS requests)", got, want, plain, secured)
	}
	if got := edgeShare(t, whole, "shop/web"); got != 1 {
		t.Errorf("web's share = %.4f, want 1", got)
	}
	if len(whole.Actions) != 1 || whole.Actions[0].ID != applied.ActionID || whole.Actions[0].Undone ||
		!strings.Contains(strings.Join(whole.Actions[0].Objects, ";"), "DestinationRule default/ratings") {
		t.Errorf("actions %+v, want the enforce %s", whole.Actions, applied.ActionID)
	}
	var ratingsRow *report.NamespaceRow
	for i := range whole.ByNS {
		if whole.ByNS[i].Namespace == "default" {
			ratingsRow = &whole.ByNS[i]
		}
	}
	webRequests := float64(end[mtlsCaller].Succeeded)
	nsWant := (secured + webRequests) / (plain + secured + webRequests)
	if ratingsRow == nil || ratingsRow.RequestShare == nil || math.Abs(*ratingsRow.RequestShare-nsWant) > 0.02 ||
		ratingsRow.LastPlaintext == nil || ratingsRow.LastPlaintext.After(enforced.Add(90*time.Second)) {
		t.Errorf("default's row %+v, want a share of %.4f and plaintext last before the enforce", ratingsRow, nsWant)
	}

	beforeOnly := getReport(t, base, start.Add(-10*time.Second), enforced.Add(-3*time.Second))
	if got := edgeShare(t, beforeOnly, "default/reviews-v1"); got > 0.02 {
		t.Errorf("reviews' share before the enforce = %.4f, want 0", got)
	}
	if len(beforeOnly.Actions) != 0 {
		t.Errorf("actions before the enforce: %+v", beforeOnly.Actions)
	}
	afterOnly := getReport(t, base, enforced.Add(5*time.Second), endAt)
	if got := edgeShare(t, afterOnly, "default/reviews-v1"); got < 0.98 {
		t.Errorf("reviews' share after the enforce = %.4f, want 1", got)
	}

	code, out, errOut = runCommand(t, append([]string{"report", "-o", "csv", "--from", start.Add(-10 * time.Second).UTC().Format(time.RFC3339)}, conn...)...)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) < 3 {
		t.Fatalf("meshlock report -o csv: exit %d, %v, stderr %s", code, err, errOut)
	}
	records := map[string]int{}
	for _, row := range rows[1:] {
		records[row[0]]++
	}
	if records["edge"] != 2 || records["action"] != 1 {
		t.Errorf("CSV records %v, want 2 edges and the action", records)
	}

	resp, err := http.Get(base + "/api/report?from=400d")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "before what Prometheus holds: it keeps 15d") {
		t.Errorf("GET /api/report?from=400d: %d %s, want 400 naming Prometheus' retention", resp.StatusCode, data)
	}
	code, _, errOut = runCommand(t, append([]string{"report", "--from", "400d"}, conn...)...)
	if code != exitUsage || !strings.Contains(errOut, "before what Prometheus holds") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("a period beyond the retention: exit %d, %q; want 2 and one line", code, errOut)
	}
}
