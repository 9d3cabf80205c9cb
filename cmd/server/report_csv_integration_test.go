// CSV injection through the real path: the test bed's Prometheus scrapes an exporter whose Istio
// series carry labels a workload could choose (a namespace that starts with =, a workload with +,
// a Service with @, a namespace with -), and the audit trail in the test bed's kube-apiserver holds
// records whose user starts with =, a tab and a carriage return. `meshlock report -o csv` and
// GET /api/report?format=csv write every such cell with a leading ', the rest intact.

package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/testbed"
)

// Crafted label values. No ":" or "/" in a namespace or a name: a node id
// is "<namespace>/<name>".
const (
	craftedNS       = `=HYPERLINK("x")`
	craftedWorkload = "+1"
	craftedService  = "@SUM(A1)"
	craftedTargetNS = "-2"
)

// craftedExporter serves istio_requests_total as a destination's proxy
// reports it: craftedNS/craftedWorkload calls craftedTargetNS/craftedService
// in plaintext, 4 requests a second.
func craftedExporter(t *testing.T) string {
	t.Helper()
	registry := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "istio_requests_total", Help: "Total number of requests."},
		[]string{"reporter", "source_workload", "source_workload_namespace", "source_principal", "destination_workload",
			"destination_workload_namespace", "destination_service", "destination_service_name", "destination_service_namespace",
			"destination_principal", "connection_security_policy", "request_protocol", "response_code", "response_flags"})
	registry.MustRegister(requests)
	series := requests.WithLabelValues("destination", craftedWorkload, craftedNS, "unknown", craftedService+"-v1",
		craftedTargetNS, craftedService+"."+craftedTargetNS+".svc.cluster.local", craftedService, craftedTargetNS,
		"unknown", "none", "http", "200", "-")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				series.Inc()
			}
		}
	}()
	server := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	t.Cleanup(func() { server.Close(); stop(); <-done })
	return strings.TrimPrefix(server.URL, "http://")
}

// writeAuditRecord stores an enforce action as meshlock's audit trail does.
func writeAuditRecord(t *testing.T, kube kubernetes.Interface, a enforce.Action) {
	t.Helper()
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "meshlock-action-" + a.ID, Namespace: a.Namespace,
			Labels: map[string]string{enforce.ManagedByLabel: enforce.ManagedByValue, "app.kubernetes.io/component": "audit-record"}},
		Data: map[string]string{"action.json": string(data)},
	}
	if _, err := kube.CoreV1().ConfigMaps(a.Namespace).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// formulaStart is what a spreadsheet runs as a formula (OWASP).
func formulaStart(cell string) bool {
	return cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0]))
}

// checkNeutralised fails unless every text cell that would start a formula
// is neutralised, every number and time cell reads as one, and the crafted
// values are all there, behind a '.
func checkNeutralised(t *testing.T, where string, rows [][]string, wantCells map[string]string) {
	t.Helper()
	if len(rows) < 2 || !slices.Equal(rows[0], []string{"record", "namespace", "name", "protocol", "status", "unit", "volume",
		"mtls_volume", "mtls_share", "first_plaintext", "last_plaintext", "policy", "kind", "detail", "time"}) {
		t.Fatalf("%s: rows %q", where, rows)
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		for i, cell := range row {
			column := rows[0][i]
			switch column {
			case "volume", "mtls_volume", "mtls_share":
				if _, err := strconv.ParseFloat(cell, 64); cell != "" && err != nil {
					t.Errorf("%s: %s cell %q is no number", where, column, cell)
				}
			case "first_plaintext", "last_plaintext", "time":
				if _, err := time.Parse(time.RFC3339, cell); cell != "" && err != nil {
					t.Errorf("%s: %s cell %q is no time", where, column, cell)
				}
			default:
				if formulaStart(cell) {
					t.Errorf("%s: %s cell %q of %q starts a formula", where, column, cell, row)
				}
			}
			if want, ok := wantCells[row[0]+" "+column+" "+strings.TrimPrefix(cell, "'")]; ok {
				if cell != want {
					t.Errorf("%s: %s cell %q, want %q", where, column, cell, want)
				}
				seen[row[0]+" "+column+" "+strings.TrimPrefix(cell, "'")] = true
			}
		}
	}
	for k := range wantCells {
		if !seen[k] {
			t.Errorf("%s: no %s cell in\n%q", where, k, rows)
		}
	}
}

func TestReportCSVNeutralisesCraftedLabelsAndUsers(t *testing.T) {
	cluster := testbed.StartCluster(t)
	kube := kubernetes.NewForConfigOrDie(cluster.RESTConfig)
	prom := testbed.StartPrometheus(t, craftedExporter(t))
	start := time.Now().Add(-10 * time.Second)

	users := []string{`=HYPERLINK("http://x","y")`, "\tcmd", "\rcmd"}
	for i, who := range users {
		writeAuditRecord(t, kube, enforce.Action{ID: fmt.Sprintf("%s-%08x", time.Now().UTC().Format("20060102-150405"), i), Who: who,
			At: time.Now(), Scope: "namespace", Mode: "destinationrule", Namespace: "default",
			Objects: []enforce.ActionObject{{Kind: "DestinationRule", Namespace: "default", Name: "all", Action: "create", Previous: "absent"}}})
	}

	edgeName := craftedNS + "/" + craftedWorkload + " -> " + craftedTargetNS + "/" + craftedService
	wantCells := map[string]string{
		"edge name " + edgeName:                            "'" + edgeName,
		"edge namespace " + craftedTargetNS:                "'" + craftedTargetNS,
		"namespace namespace " + craftedTargetNS:           "'" + craftedTargetNS,
		"exception name " + edgeName:                       "'" + edgeName,
		"action namespace default":                         "default", // ordinary text stays as it is
		"action policy namespace destinationrule":          "namespace destinationrule",
		"action detail create DestinationRule default/all": "create DestinationRule default/all",
	}
	for _, who := range users {
		wantCells["action kind "+who] = "'" + who
	}

	conn := []string{"--kubeconfig=" + cluster.Kubeconfig, "--prometheus-url=" + prom.URL, "--audit-namespace=default"}
	from := start.UTC().Format(time.RFC3339)
	var rows [][]string
	// The plaintext caller's exception comes with the edge's last plaintext,
	// which the history finds at its resolution (30 s steps).
	testutil.Eventually(t, "meshlock report -o csv has the crafted edge as a plaintext caller", func() (bool, string) {
		var stdout, stderr strings.Builder
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		code := run(ctx, append([]string{"report", "-o", "csv", "--from", from}, conn...), func(string) string { return "" }, &stdout, &stderr)
		var err error
		rows, err = csv.NewReader(strings.NewReader(stdout.String())).ReadAll()
		if code != 0 || err != nil {
			return false, fmt.Sprintf("exit %d, %v, %s", code, err, stderr.String())
		}
		for _, row := range rows {
			if row[0] == "exception" && strings.Contains(row[2], "HYPERLINK") {
				return true, ""
			}
		}
		time.Sleep(2 * time.Second) // a real Prometheus: no need to hammer it
		return false, stdout.String()
	})
	checkNeutralised(t, "meshlock report -o csv", rows, wantCells)

	base := startMeshlock(t, append(conn, "--refresh=1s", "--window=5s", "--lookback=0")...)
	q := url.Values{"from": {from}, "format": {"csv"}}
	resp, err := http.Get(base + "/api/report?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/report?%s: %d %s", q.Encode(), resp.StatusCode, data)
	}
	rows, err = csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatalf("GET /api/report?format=csv: %v\n%s", err, data)
	}
	checkNeutralised(t, "GET /api/report?format=csv", rows, wantCells)
}
