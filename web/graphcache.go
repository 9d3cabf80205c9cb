// The encoded answers of GET /api/graph, kept per snapshot and view: every viewer of a refresh
// asking for the same view gets the same bytes (gzipped once when asked), not a copy of the graph
// filtered, encoded and compressed for each request.

package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

// maxCachedViews bounds the views kept for one snapshot: beyond it, answers
// are made per request (many users with different rights).
const maxCachedViews = 64

type encodedView struct {
	once        sync.Once
	plain, gzip []byte
	gzipOnce    sync.Once
}

// graphCache holds the views of the latest snapshot only.
type graphCache struct {
	mu      sync.Mutex
	version time.Time
	views   map[string]*encodedView
}

// view returns the encoded view for key of the snapshot generated at
// version, made by build the first time.
func (c *graphCache) view(version time.Time, key string, build func() graph.Snapshot) *encodedView {
	c.mu.Lock()
	if !c.version.Equal(version) || c.views == nil {
		c.version, c.views = version, map[string]*encodedView{}
	}
	v, ok := c.views[key]
	if !ok {
		v = &encodedView{}
		if len(c.views) < maxCachedViews {
			c.views[key] = v
		}
	}
	c.mu.Unlock()
	v.once.Do(func() {
		var buf bytes.Buffer
		_ = json.NewEncoder(&buf).Encode(build())
		v.plain = buf.Bytes()
	})
	return v
}

func (v *encodedView) gzipped() []byte {
	v.gzipOnce.Do(func() {
		var buf bytes.Buffer
		// The fastest level: a 5,000-edge graph shrinks about tenfold, and
		// a slower level would cost more time than it saves on the wire.
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(v.plain)
		_ = zw.Close()
		v.gzip = buf.Bytes()
	})
	return v.gzip
}

// acceptsGzip reads Accept-Encoding for gzip with a non-zero quality.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// writeView answers an encoded view, gzipped when the client takes it.
func writeView(w http.ResponseWriter, r *http.Request, v *encodedView) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	body := v.plain
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = v.gzipped()
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
