// The spec against the two-cluster demo's real answers (issue 24): clusters, node clusters and
// ids, crossing edges, sources per cluster, ?cluster=, enforce naming its cluster, actions and
// the report carrying it, the stream's messages.

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/testutil"
)

func TestOpenAPITwoClusterDemoAnswers(t *testing.T) {
	spec := loadAPISpec(t)
	base := startMeshlock(t, "--demo", "--demo-clusters=2", "--refresh=1s", "--window=5s")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(path string, want int) []byte {
		t.Helper()
		_, body := spec.do(t, client, base, exchange{method: http.MethodGet, path: path, validRequest: want < 400, want: want})
		return body
	}
	var s graph.Snapshot
	testutil.Eventually(t, "the two-cluster demo's graph", func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph")
		_, crossing := edgeByID(s, crossTourEdge)
		return crossing && len(s.Clusters) == 2 && !s.Stale, fmt.Sprintf("clusters %v, stale %v, %d edges", s.Clusters, s.Stale, len(s.Edges))
	})
	get("/api/graph", http.StatusOK)
	get("/api/graph?cluster=east", http.StatusOK)
	get("/api/graph?cluster=east,west&namespace=tour", http.StatusOK)
	get("/api/graph?cluster=a/b", http.StatusBadRequest)
	get("/api/identity?cluster=west", http.StatusOK)
	get("/api/history?edge="+crossTourEdge, http.StatusOK)
	get("/?cluster=east", http.StatusOK)
	get("/readyz", http.StatusOK)

	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	post := func(body string, validRequest bool, want int) []byte {
		t.Helper()
		_, answer := spec.do(t, client, base, exchange{method: http.MethodPost, path: "/api/enforce", header: jsonHeader, body: body,
			validRequest: validRequest, want: want})
		return answer
	}
	post(`{"scope":"mesh","mode":"peerauthentication","dryRun":true}`, true, http.StatusBadRequest)
	post(`{"cluster":"north","scope":"mesh","mode":"peerauthentication","dryRun":true}`, true, http.StatusBadRequest)
	var plan struct{ PlanID string }
	request := `{"cluster":"west","scope":"service","namespace":"default","service":"ratings","mode":"peerauthentication","dryRun":%t%s}`
	if err := json.Unmarshal(post(fmt.Sprintf(request, true, ""), true, http.StatusOK), &plan); err != nil || plan.PlanID == "" {
		t.Fatalf("west's dry run: %v %+v", err, plan)
	}
	post(fmt.Sprintf(request, false, `,"planId":"`+plan.PlanID+`"`), true, http.StatusOK)
	var actions []struct{ Cluster string }
	if err := json.Unmarshal(get("/api/actions", http.StatusOK), &actions); err != nil || len(actions) != 1 || actions[0].Cluster != "west" {
		t.Errorf("the audit trail: %v %+v", err, actions)
	}
	get("/api/report?from=30m", http.StatusOK)

	msgs := spec.readStream(t, base, "?cluster=east", nil, 2)
	if string(msgs[0]["type"]) != `"snapshot"` {
		t.Errorf("the stream's first message is %s", msgs[0]["type"])
	}
}
