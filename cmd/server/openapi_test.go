// docs/openapi.yaml held to the code: the document is valid OpenAPI 3.1, every route the router
// knows is in it and nothing else is, and the demo's real answers of every endpoint (successes and
// errors, the stream's messages too) validate against it with pb33f's libopenapi-validator.

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vconfig "github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/web"
)

// specPath is the API's description, from this package's folder.
const specPath = "../../docs/openapi.yaml"

// apiSpec is docs/openapi.yaml, loaded once per test, with a validator of
// HTTP exchanges and one of single documents against its schemas.
type apiSpec struct {
	model   *v3.Document
	http    validator.Validator
	schemas schema_validation.SchemaValidator
}

// textBody is the validator's decoder of a text (or any other non-JSON)
// body: the body as one string, so that every answer's schema is checked,
// never skipped for want of a decoder.
var textBody = content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
	if in == nil || in.Body == nil {
		return "", nil
	}
	b, err := io.ReadAll(in.Body)
	return string(b), err
})

func loadAPISpec(t *testing.T) *apiSpec {
	t.Helper()
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("%s: %v", specPath, err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("%s: %v", specPath, err)
	}
	opts := []vconfig.Option{vconfig.WithFormatAssertions(), vconfig.WithRejectUnsupportedBodyContent()}
	for _, mt := range []string{"text/plain", "text/html", "text/csv", "text/javascript", "text/css",
		"image/svg+xml", "image/png", "image/x-icon", "application/octet-stream"} {
		opts = append(opts, vconfig.WithBodyDecoder(mt, textBody))
	}
	v := validator.NewValidatorFromV3Model(&m.Model, opts...)
	return &apiSpec{model: &m.Model, http: v, schemas: schema_validation.NewSchemaValidator(vconfig.WithFormatAssertions())}
}

// describe writes the validator's errors one a line, with each schema
// failure's place in the document and in the answer.
func describe(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    at %s (%s): %s", f.FieldPath, f.KeywordLocation, f.Reason)
		}
	}
	return b.String()
}

// validSchema checks doc against the schema components/schemas/name.
func (s *apiSpec) validSchema(t *testing.T, name string, doc []byte) {
	t.Helper()
	proxy := s.model.Components.Schemas.GetOrZero(name)
	if proxy == nil {
		t.Fatalf("the spec has no schema %s", name)
	}
	if ok, errs := s.schemas.ValidateSchemaBytes(proxy.Schema(), doc); !ok {
		t.Errorf("%.300s\ndoes not validate against %s:%s", doc, name, describe(errs))
	}
}

// methods are the methods the spec gives path, in the order of meshlock's
// Allow header, HEAD wherever GET.
func (s *apiSpec) methods(path string) []string {
	item := s.model.Paths.PathItems.GetOrZero(path)
	if item == nil {
		return nil
	}
	ops := item.GetOperations()
	var out []string
	for _, m := range []string{"get", "head", "post", "put", "patch", "delete"} {
		if ops.GetOrZero(m) != nil || (m == "head" && ops.GetOrZero("get") != nil) {
			out = append(out, strings.ToUpper(m))
		}
	}
	return out
}

// exchange is one request and its answer.
type exchange struct {
	method, path string
	header       http.Header
	host         string // the Host header, when not the server's
	body         string
	// validRequest: the request itself must validate too (the error
	// cases send what the spec says is bad on purpose).
	validRequest bool
	want         int
}

// do sends x to base with client and validates the answer against the
// spec: a status the operation documents, its headers, its body. It
// returns the answer with its body read (gunzipped when it came gzipped).
func (s *apiSpec) do(t *testing.T, client *http.Client, base string, x exchange) (*http.Response, []byte) {
	t.Helper()
	newRequest := func() *http.Request {
		req, err := http.NewRequest(x.method, base+x.path, strings.NewReader(x.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range x.header {
			req.Header[k] = vs
		}
		if x.host != "" {
			req.Host = x.host
		}
		return req
	}
	if x.validRequest {
		if ok, errs := s.http.ValidateHttpRequestSync(newRequest()); !ok {
			t.Errorf("%s %s: the request does not validate:%s", x.method, x.path, describe(errs))
		}
	}
	req := newRequest()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", x.method, x.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: %v", x.method, x.path, err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s %s: gzip: %v", x.method, x.path, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s %s: gzip: %v", x.method, x.path, err)
		}
	}
	if x.want != 0 && resp.StatusCode != x.want {
		t.Errorf("%s %s: %s, want %d: %.300s", x.method, x.path, resp.Status, x.want, body)
	}
	s.validAnswer(t, newRequest(), resp, body)
	return resp, body
}

// validAnswer validates an answer (its body already read) to req.
func (s *apiSpec) validAnswer(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	checked := *resp
	checked.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := s.http.ValidateHttpResponse(req, &checked); !ok {
		t.Errorf("%s %s answered %s, which does not validate:%s\n%.300s", req.Method, req.URL.RequestURI(), resp.Status, describe(errs), body)
	}
}

// notServed checks an answer outside every operation: 405 (with Allow
// naming what the spec gives the path) or 404, the error shape either way.
func (s *apiSpec) notServed(t *testing.T, handler http.Handler, base string, method, path, specPath string) {
	t.Helper()
	var code int
	var header http.Header
	var body []byte
	if handler != nil {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		code, header, body = rec.Code, rec.Header(), rec.Body.Bytes()
	} else {
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		code, header = resp.StatusCode, resp.Header
	}
	want := http.StatusNotFound
	if specPath != "" {
		want = http.StatusMethodNotAllowed
	}
	if code != want {
		t.Errorf("%s %s: %d, want %d", method, path, code, want)
	}
	if want == http.StatusMethodNotAllowed {
		if allow, spec := header.Get("Allow"), strings.Join(s.methods(specPath), ", "); allow != spec {
			t.Errorf("%s %s: Allow %q, the spec gives %s %q", method, path, allow, specPath, spec)
		}
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	s.validSchema(t, "Error", body)
}

// The document itself is valid OpenAPI 3.1, as the validator's embedded
// schema of the specification judges it.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Errorf("OpenAPI %s, want 3.1", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		t.Errorf("%s is not valid OpenAPI:%s", specPath, describe(verrs))
	}
	// Strict schemas: a field the server adds without the spec fails.
	var whole any
	if err := yaml.Unmarshal(raw, &whole); err != nil {
		t.Fatal(err)
	}
	checkStrict(t, "", whole)
}

// checkStrict walks the document: every object schema (one with
// properties, or of type object) says additionalProperties: false, but
// for the conditions of an allOf, which only narrow their schema's
// properties.
func checkStrict(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		_, hasProps := v["properties"]
		if (v["type"] == "object" || hasProps) && !strings.Contains(path, "/allOf/") && v["additionalProperties"] != false {
			t.Errorf("%s: an object schema without additionalProperties: false", path)
		}
		for k, child := range v {
			checkStrict(t, path+"/"+k, child)
		}
	case []any:
		for i, child := range v {
			checkStrict(t, fmt.Sprintf("%s/%d", path, i), child)
		}
	}
}

// routeTable is every (method, path) the router serves, in the spec's
// spelling ("/static/*" is "/static/{path}").
func routeTable(t *testing.T, routes chi.Routes) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasSuffix(route, "/*") {
			route = strings.TrimSuffix(route, "*") + "{path}"
		}
		out[route] = append(out[route], method)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every route meshlock's router knows is in the spec with the same methods,
// and every path of the spec is a route: a new endpoint without the spec
// fails here. The router is the one web.NewHandler builds (with /metrics,
// as the binary without --metrics-addr), reached through the routing
// context of a request that reaches the stream's handler.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	spec := loadAPISpec(t)
	var routes chi.Routes // set by the stream's handler, in this goroutine
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routes = chi.RouteContext(r.Context()).Routes
		w.WriteHeader(http.StatusNoContent)
	})
	handler := inProcessHandler(t, false, stream)
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/stream", nil))
	if routes == nil {
		t.Fatal("the stream's handler saw no routing context")
	}
	table := routeTable(t, routes)
	if len(table) < 10 {
		t.Fatalf("the router's table is short: %v", table)
	}
	for path, methods := range table {
		slices.Sort(methods)
		if want := specOps(spec, path); !slices.Equal(methods, want) {
			t.Errorf("route %s: the router serves %v, the spec describes %v", path, methods, want)
		}
	}
	for path := range spec.model.Paths.PathItems.KeysFromOldest() {
		if _, ok := table[path]; !ok {
			t.Errorf("the spec describes %s, which the router does not serve", path)
		}
	}

	// What no operation can hold: 405 with Allow, and 404, both the
	// error shape; and the read-only dashboard's 403 to a write, which is
	// an operation's.
	for _, tt := range []struct{ method, path, specPath string }{
		{http.MethodPut, "/api/graph", "/api/graph"},
		{http.MethodGet, "/api/enforce", "/api/enforce"},
		{http.MethodDelete, "/healthz", "/healthz"},
		{http.MethodPost, "/", "/"},
		{http.MethodPost, "/static/app.js", "/static/{path}"},
		{http.MethodGet, "/api/actions/x/undo", "/api/actions/{id}/undo"},
		{http.MethodGet, "/nothing", ""},
		{http.MethodGet, "/api/nothing", ""},
	} {
		spec.notServed(t, handler, "", tt.method, tt.path, tt.specPath)
	}
	server := httptest.NewServer(handler)
	defer server.Close()
	spec.do(t, server.Client(), server.URL, exchange{method: http.MethodPost, path: "/api/enforce",
		header: http.Header{"Content-Type": {"application/json"}}, validRequest: true,
		body: `{"scope":"mesh","mode":"peerauthentication","dryRun":true}`, want: http.StatusForbidden})
	spec.do(t, server.Client(), server.URL, exchange{method: http.MethodPost, path: "/api/actions/some-action/undo",
		validRequest: true, want: http.StatusForbidden})
}

// inProcessHandler is meshlock's handler as web.NewHandler builds it, on an
// empty graph, with stream as the stream's handler and an enforcer that
// answers every write with an error (500).
func inProcessHandler(t *testing.T, allowEnforce bool, stream http.Handler) http.Handler {
	t.Helper()
	handler, err := web.NewHandler(web.Options{BasePath: "/", Registry: prometheus.NewRegistry(), Graph: &staticGraph{},
		Stream: stream, AllowEnforce: allowEnforce, Enforcer: readOnly{}, Auth: web.ServerIdentity{Actor: web.Actor{Who: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

// The request schema of POST /api/enforce refuses what the server
// refuses with 400 and takes what it takes: the server's decoder and the
// spec agree, body by body. Two refusals are beyond JSON Schema, which
// sees a parsed object: a key given twice, and data after the object.
func TestOpenAPIEnforceRequestMatchesTheServer(t *testing.T) {
	spec := loadAPISpec(t)
	handler := inProcessHandler(t, true, http.NotFoundHandler())
	for _, tt := range []struct {
		body      string
		specValid bool
	}{
		{`{"scope":"mesh","mode":"peerauthentication","dryRun":true}`, true},
		{`{"scope":"mesh","namespace":"","service":"","mode":"destinationrule","dryRun":true}`, true},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":true}`, true},
		{`{"scope":"namespace","namespace":"default","service":"","mode":"destinationrule","dryRun":false,"planId":"p"}`, true},
		{`{"scope":"service","namespace":"default","service":"ratings","mode":"peerauthentication","dryRun":true}`, true},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule"}`, false},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":"true"}`, false},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":true,"force":true}`, false},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule","DryRun":true}`, false},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":false}`, false},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":false,"planId":""}`, false},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":true,"planId":5}`, false},
		{`{"scope":"mesh","namespace":"default","mode":"destinationrule","dryRun":true}`, false},
		{`{"scope":"mesh","service":"ratings","mode":"destinationrule","dryRun":true}`, false},
		{`{"scope":"namespace","mode":"destinationrule","dryRun":true}`, false},
		{`{"scope":"namespace","namespace":"Not_Valid","mode":"destinationrule","dryRun":true}`, false},
		{`{"scope":"namespace","namespace":"default","service":"ratings","mode":"destinationrule","dryRun":true}`, false},
		{`{"scope":"service","namespace":"default","mode":"destinationrule","dryRun":true}`, false},
		{`{"scope":"service","namespace":"default","service":"9ratings","mode":"destinationrule","dryRun":true}`, false},
		{`{"scope":"cluster","mode":"destinationrule","dryRun":true}`, false},
		{`{"scope":"mesh","mode":"strict","dryRun":true}`, false},
		{`{"scope":"service","namespace":"default","service":"ratings","mode":"authorization","dryRun":true,"policyDryRun":true}`, true},
		{`{"scope":"namespace","namespace":"default","mode":"authorization","dryRun":true}`, true},
		{`{"scope":"namespace","namespace":"default","mode":"peerauthentication","dryRun":true,"policyDryRun":false}`, true},
		{`{"scope":"mesh","mode":"authorization","dryRun":true}`, false},
		{`{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":true,"policyDryRun":true}`, false},
		{`{"scope":"namespace","namespace":"default","mode":"authorization","dryRun":true,"policyDryRun":"yes"}`, false},
		{`{"mode":"destinationrule","dryRun":true}`, false},
		{`["scope","mesh"]`, false},
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/enforce", strings.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if served := rec.Code != http.StatusBadRequest; served != tt.specValid {
			t.Errorf("%s: the server answers %d %s, want it to take it: %v", tt.body, rec.Code, rec.Body, tt.specValid)
		}
		newRequest := func() *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/api/enforce", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			return req
		}
		if ok, errs := spec.http.ValidateHttpRequestSync(newRequest()); ok != tt.specValid {
			t.Errorf("%s: the spec takes it: %v, want %v%s", tt.body, ok, tt.specValid, describe(errs))
		}
		// The answers too: 400, or the enforcer's failure (500).
		spec.validAnswer(t, newRequest(), rec.Result(), rec.Body.Bytes())
	}
}

// specOps are the methods the spec gives path, upper case and sorted.
func specOps(s *apiSpec, path string) []string {
	item := s.model.Paths.PathItems.GetOrZero(path)
	if item == nil {
		return nil
	}
	var out []string
	for m := range item.GetOperations().KeysFromOldest() {
		out = append(out, strings.ToUpper(m))
	}
	slices.Sort(out)
	return out
}

// streamHeaders are a WebSocket handshake's, for the requests this test
// makes by hand.
func streamHeaders() http.Header {
	return http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
}

// readStream dials the stream with header, validates the handshake's
// answer, and validates n messages against StreamMessage; it returns them.
func (s *apiSpec) readStream(t *testing.T, base, query string, header http.Header, n int) []map[string]json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testutil.HangBound)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/stream"+query, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial the stream: %v", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(64 << 20)
	req, _ := http.NewRequest(http.MethodGet, base+"/api/stream"+query, nil)
	for k, vs := range streamHeaders() {
		req.Header[k] = vs
	}
	if ok, errs := s.http.ValidateHttpRequestSync(req); !ok {
		t.Errorf("the stream's handshake request does not validate:%s", describe(errs))
	}
	s.validAnswer(t, req, resp, nil)
	var out []map[string]json.RawMessage
	for range n {
		typ, msg, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("stream message %d: %v", len(out)+1, err)
		}
		if typ != websocket.MessageText {
			t.Errorf("stream message %d is %v, want text", len(out)+1, typ)
		}
		s.validSchema(t, "StreamMessage", msg)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(msg, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// fromAddressClient sends from a loopback address of its own: another
// party, for the per-party caps.
func fromAddressClient(local string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
}

// Every endpoint of the demo, its successes and its errors, validated
// against the spec: the page and its assets, the probes and metrics, the
// graph (plain and gzip), identity, an edge's history, the report as JSON
// and CSV, the stream's handshake and messages (a snapshot, then deltas
// across an enforce), the caps of the stream, a dry run, a 409 on a plan
// that changed, an apply, the audit trail, undo, and the errors of each.
func TestOpenAPIDemoAnswers(t *testing.T) {
	spec := loadAPISpec(t)
	base := startMeshlock(t, "--demo", "--refresh=1s", "--window=5s", "--max-streams=4", "--max-streams-per-user=2")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(path string, want int) []byte {
		t.Helper()
		_, body := spec.do(t, client, base, exchange{method: http.MethodGet, path: path, validRequest: want < 400, want: want})
		return body
	}

	// The graph, once the look-back is read (idle edges carry history).
	var s graph.Snapshot
	testutil.Eventually(t, "the demo's graph with its look-back", func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph")
		return s.Lookback.State == graph.LookbackReady && len(s.Edges) > 0 && !s.Stale, fmt.Sprintf("%+v, %d edges", s.Lookback, len(s.Edges))
	})
	get("/api/graph", http.StatusOK)
	get("/api/graph?namespace=default,shop", http.StatusOK)
	if resp, _ := spec.do(t, client, base, exchange{method: http.MethodGet, path: "/api/graph", validRequest: true,
		header: http.Header{"Accept-Encoding": {"gzip"}}, want: http.StatusOK}); resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("/api/graph with Accept-Encoding: gzip answered Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	get("/api/graph?namespace=Not_A_Namespace", http.StatusBadRequest)
	get("/api/identity", http.StatusOK)
	get("/api/identity?namespace=default", http.StatusOK)
	get("/api/identity?namespace=-bad", http.StatusBadRequest)

	// An edge's history.
	edge := "default/productpage->default/reviews:http"
	if _, ok := edgeByID(s, edge); !ok {
		t.Fatalf("no edge %s in the demo", edge)
	}
	get("/api/history?edge="+edge, http.StatusOK)
	get("/api/history", http.StatusBadRequest)
	get("/api/history?edge=nobody->nowhere:http", http.StatusNotFound)

	// The report.
	get("/api/report?from=30m", http.StatusOK)
	get("/api/report?from=30m&to=now&namespace=default&format=json", http.StatusOK)
	if resp, body := spec.do(t, client, base, exchange{method: http.MethodGet, path: "/api/report?from=30m&format=csv",
		validRequest: true, want: http.StatusOK}); resp.Header.Get("Content-Disposition") == "" || !bytes.HasPrefix(body, []byte("record,")) {
		t.Errorf("the CSV report: %v %.100s", resp.Header, body)
	}
	get("/api/report?from=yesterday", http.StatusBadRequest)
	get("/api/report?from=10m&to=30m", http.StatusBadRequest)
	get("/api/report?format=xml", http.StatusBadRequest)
	get("/api/report?namespace=UPPER", http.StatusBadRequest)

	// The page and its assets.
	page := get("/", http.StatusOK)
	get("/?embed=1&namespace=default", http.StatusOK)
	get("/?namespace=Bad!", http.StatusBadRequest)
	m := regexp.MustCompile(`static/app\.js\?v=([0-9a-f]+)`).FindSubmatch(page)
	if m == nil {
		t.Fatal("the page names no versioned app.js")
	}
	if resp, _ := spec.do(t, client, base, exchange{method: http.MethodGet, path: "/static/app.js?v=" + string(m[1]), validRequest: true,
		want: http.StatusOK}); !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("a versioned asset: Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	resp, _ := spec.do(t, client, base, exchange{method: http.MethodGet, path: "/static/app.css", validRequest: true, want: http.StatusOK})
	etag := resp.Header.Get("ETag")
	for _, x := range []exchange{
		{header: http.Header{"If-None-Match": {etag}}, want: http.StatusNotModified},
		{header: http.Header{"Range": {"bytes=0-9"}}, want: http.StatusPartialContent},
		{header: http.Header{"Range": {"bytes=99999999-"}}, want: http.StatusRequestedRangeNotSatisfiable},
		{header: http.Header{"If-Match": {`"another"`}}, want: http.StatusPreconditionFailed},
	} {
		x.method, x.path, x.validRequest = http.MethodGet, "/static/app.css", true
		spec.do(t, client, base, x)
	}
	get("/static/icons%2Flock-locked.svg", http.StatusOK)
	get("/static/nothing.js", http.StatusNotFound)

	// Probes, metrics, and the Host check before everything.
	get("/healthz", http.StatusOK)
	get("/readyz", http.StatusOK)
	get("/metrics", http.StatusOK)
	for _, path := range []string{"/healthz", "/api/graph", "/"} {
		spec.do(t, client, base, exchange{method: http.MethodGet, path: path, host: "meshlock.evil.example", want: http.StatusForbidden})
	}

	// The stream: a snapshot, then deltas (every refresh sends one).
	msgs := spec.readStream(t, base, "?namespace=default", nil, 3)
	if string(msgs[0]["type"]) != `"snapshot"` || string(msgs[1]["type"]) != `"delta"` {
		t.Errorf("the stream's first messages are %s and %s", msgs[0]["type"], msgs[1]["type"])
	}
	streamErrors := []exchange{
		{header: nil, want: http.StatusUpgradeRequired},
		{path: "?namespace=Bad_NS", header: streamHeaders(), want: http.StatusBadRequest},
		{header: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"8"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, want: http.StatusBadRequest},
		{header: func() http.Header { h := streamHeaders(); h.Set("Origin", "http://portal.evil.example"); return h }(), want: http.StatusForbidden},
	}
	for _, x := range streamErrors {
		x.method, x.path = http.MethodGet, "/api/stream"+x.path
		spec.do(t, client, base, x)
	}

	// Enforce: the errors, a dry run, an apply of a plan that changed, an
	// apply, the audit trail, undo.
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	post := func(path, body string, validRequest bool, want int) []byte {
		t.Helper()
		_, answer := spec.do(t, client, base, exchange{method: http.MethodPost, path: path, header: jsonHeader, body: body,
			validRequest: validRequest, want: want})
		return answer
	}
	post("/api/enforce", `{"scope":"namespace","namespace":"default","mode":"destinationrule"}`, false, http.StatusBadRequest)
	post("/api/enforce", `{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":"yes"}`, false, http.StatusBadRequest)
	post("/api/enforce", `{"scope":"cluster","mode":"destinationrule","dryRun":true}`, false, http.StatusBadRequest)
	post("/api/enforce", `{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":true,"DryRun":false}`, false, http.StatusBadRequest)
	post("/api/enforce", `{"scope":"namespace","namespace":"default","mode":"destinationrule","dryRun":false}`, false, http.StatusBadRequest)
	spec.do(t, client, base, exchange{method: http.MethodPost, path: "/api/enforce", header: http.Header{"Content-Type": {"text/plain"}},
		body: `{"scope":"mesh","mode":"destinationrule","dryRun":true}`, want: http.StatusBadRequest})
	spec.do(t, client, base, exchange{method: http.MethodPost, path: "/api/enforce", header: http.Header{"Content-Type": {"application/json"},
		"Origin": {"https://portal.evil.example"}, "Sec-Fetch-Site": {"cross-site"}},
		body: `{"scope":"mesh","mode":"destinationrule","dryRun":true}`, want: http.StatusForbidden})

	request := `{"scope":"namespace","namespace":"default","service":"","mode":"destinationrule","dryRun":%t%s}`
	var plan struct{ PlanID string }
	if err := json.Unmarshal(post("/api/enforce", fmt.Sprintf(request, true, ""), true, http.StatusOK), &plan); err != nil || plan.PlanID == "" {
		t.Fatalf("the dry run's planId: %v %+v", err, plan)
	}
	post("/api/enforce", `{"scope":"service","namespace":"default","service":"ratings","mode":"peerauthentication","dryRun":true}`, true, http.StatusOK)
	post("/api/enforce", `{"scope":"mesh","mode":"peerauthentication","dryRun":true}`, true, http.StatusOK)
	post("/api/enforce", fmt.Sprintf(request, false, `,"planId":"a-plan-of-yesterday"`), true, http.StatusConflict)
	var applied struct{ ActionID string }
	if err := json.Unmarshal(post("/api/enforce", fmt.Sprintf(request, false, `,"planId":"`+plan.PlanID+`"`), true, http.StatusOK), &applied); err != nil || applied.ActionID == "" {
		t.Fatalf("the apply's actionId: %v %+v", err, applied)
	}
	var actions []map[string]any
	if err := json.Unmarshal(get("/api/actions", http.StatusOK), &actions); err != nil || len(actions) != 1 {
		t.Errorf("the audit trail: %v %v", err, actions)
	}
	// The apply changed the mesh: the stream's deltas carry it.
	spec.readStream(t, base, "", nil, 4)
	post("/api/actions/"+applied.ActionID+"/undo", "", true, http.StatusOK)
	post("/api/actions/"+applied.ActionID+"/undo", "", true, http.StatusConflict)
	post("/api/actions/no-such-action/undo", "", true, http.StatusNotFound)
	get("/api/actions", http.StatusOK)

	// Beyond the operations: 405 with Allow, and 404.
	for _, tt := range []struct{ method, path, specPath string }{
		{http.MethodPut, "/api/graph", "/api/graph"},
		{http.MethodGet, "/api/enforce", "/api/enforce"},
		{http.MethodPatch, "/api/actions", "/api/actions"},
		{http.MethodGet, "/nothing", ""},
	} {
		spec.notServed(t, nil, base, tt.method, tt.path, tt.specPath)
	}
	// `meshlock check -o json` is the report with its check, certificates
	// included.
	var stdout, stderr bytes.Buffer
	checkCtx, cancelCheck := context.WithTimeout(t.Context(), time.Minute)
	defer cancelCheck()
	if code := run(checkCtx, []string{"check", "--demo", "-o", "json", "--cert-min-validity=30d", "--workload-certs"},
		envOf(nil), &stdout, &stderr); code != exitBelow {
		t.Errorf("check --demo: exit %d, stderr %q", code, stderr.String())
	}
	spec.validSchema(t, "Report", stdout.Bytes())
	var checked struct{ Check struct{ Certificates []any } }
	if err := json.Unmarshal(stdout.Bytes(), &checked); err != nil || len(checked.Check.Certificates) == 0 {
		t.Errorf("check --demo --cert-min-validity=30d lists no certificate: %.300s", stdout.Bytes())
	}

	// The stream's caps, once the streams above are gone: two of this
	// address's (--max-streams-per-user=2), a third answers 429 with
	// Retry-After; two of another address fill --max-streams=4, and one
	// more stream answers 503.
	testutil.Eventually(t, "no stream open", func() (bool, string) {
		metrics := string(get("/metrics", http.StatusOK))
		return strings.Contains(metrics, "\nmeshlock_stream_clients 0\n"), "streams still open"
	})
	ctx, cancel := context.WithTimeout(t.Context(), testutil.HangBound)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/api/stream"
	other := fromAddressClient("127.0.0.2")
	open := func(c *http.Client) {
		conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: c})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	open(http.DefaultClient)
	open(http.DefaultClient)
	spec.do(t, client, base, exchange{method: http.MethodGet, path: "/api/stream", header: streamHeaders(), want: http.StatusTooManyRequests})
	open(other)
	open(other)
	spec.do(t, fromAddressClient("127.0.0.3"), base, exchange{method: http.MethodGet, path: "/api/stream", header: streamHeaders(),
		want: http.StatusServiceUnavailable})
}
