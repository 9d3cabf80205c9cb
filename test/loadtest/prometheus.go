// The load command's synthetic Prometheus: answers meshlock's HTTP query with both reporters'
// series of E edges (1,000 services in 20 namespaces, a mix of mTLS, plaintext and mixed), 1% of
// the edges' rates changed at each answer, and every other query with no series.

package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	services   = 1000
	namespaces = 20
)

type syntheticPrometheus struct {
	edges int
	mu    sync.Mutex
	calls int
	rates []float64
}

func newSyntheticPrometheus(edges int) *syntheticPrometheus {
	rates := make([]float64, edges)
	for i := range rates {
		rates[i] = 1
	}
	return &syntheticPrometheus{edges: edges, rates: rates}
}

func serviceName(i int) (namespace, name string) {
	return fmt.Sprintf("ns-%02d", i*namespaces/services), fmt.Sprintf("svc-%04d", i)
}

func (p *syntheticPrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	now := float64(time.Now().UnixMilli()) / 1000
	query := r.Form.Get("query")
	if !strings.HasPrefix(r.URL.Path, "/api/v1/query") || !strings.Contains(query, "istio_requests_total") || strings.Contains(query, "meshlock_term") {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
		return
	}
	p.mu.Lock()
	// 1% of the edges change at each refresh, a different 1% each time.
	step := max(1, p.edges/100)
	for k := range step {
		i := (p.calls*step + k) % p.edges
		p.rates[i] = 1 + float64((p.calls+k)%7)/10
	}
	p.calls++
	rates := append([]float64(nil), p.rates...)
	p.mu.Unlock()

	var b strings.Builder
	b.Grow(p.edges * 1200)
	b.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
	first := true
	series := func(reporter, srcNS, srcWL, dstNS, dstSvc, policy string, v float64) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, `{"metric":{"reporter":%q,"source_workload":%q,"source_workload_namespace":%q,`+
			`"destination_workload":"%s-v1","destination_workload_namespace":%q,"destination_service":"%s.%s.svc.cluster.local",`+
			`"destination_service_name":%q,"destination_service_namespace":%q,"connection_security_policy":%q,`+
			`"request_protocol":"http","response_code":"200","response_flags":"-"},"value":[%.3f,"%s"]}`,
			reporter, srcWL, srcNS, dstSvc, dstNS, dstSvc, dstNS, dstSvc, dstNS, policy, now, strconv.FormatFloat(v, 'g', -1, 64))
	}
	for i := range p.edges {
		src, dst := i%services, (i%services+1+i/services)%services
		srcNS, srcName := serviceName(src)
		dstNS, dstName := serviceName(dst)
		v := rates[i]
		series("source", srcNS, srcName+"-v1", dstNS, dstName, "unknown", v)
		switch i % 10 {
		case 0: // plaintext
			series("destination", srcNS, srcName+"-v1", dstNS, dstName, "none", v)
		case 1: // mixed
			series("destination", srcNS, srcName+"-v1", dstNS, dstName, "none", v/2)
			series("destination", srcNS, srcName+"-v1", dstNS, dstName, "mutual_tls", v/2)
		default:
			series("destination", srcNS, srcName+"-v1", dstNS, dstName, "mutual_tls", v)
		}
	}
	b.WriteString(`]}}`)
	_, _ = w.Write([]byte(b.String()))
}
