// Tests of GET /api/graph's encoded answers: gzip when the client takes it (and not at q=0), the
// same bytes either way once inflated, and a new snapshot answered anew.

package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestGraphAnswersGzipWhenAsked(t *testing.T) {
	g := &fixedGraph{snapshot: withIdleBackup()}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: g,
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(encoding string) (*http.Response, []byte) {
		req := httptest.NewRequest(http.MethodGet, "/api/graph", nil)
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Result().Body)
		return rec.Result(), body
	}
	plainResp, plain := fetch("")
	if plainResp.Header.Get("Content-Encoding") != "" || !bytes.Contains(plain, []byte(`"edges"`)) {
		t.Fatalf("without Accept-Encoding: %v %s", plainResp.Header, plain)
	}
	zipped, body := fetch("br;q=1.0, gzip;q=0.8")
	if zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("with gzip accepted: headers %v", zipped.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	inflated, _ := io.ReadAll(zr)
	if !bytes.Equal(inflated, plain) {
		t.Error("the gzipped answer inflates to other bytes than the plain one")
	}
	if resp, _ := fetch("gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 (refused) was answered gzipped")
	}

	// The next snapshot is answered anew, not from the last one's bytes.
	next := withIdleBackup()
	next.GeneratedAt = next.GeneratedAt.Add(time.Second)
	next.Edges = next.Edges[:1]
	g.snapshot = next
	if _, again := fetch(""); bytes.Equal(again, plain) || bytes.Count(again, []byte(`"source"`)) != 1 {
		t.Errorf("after a new snapshot the answer is %s", again)
	}
}
