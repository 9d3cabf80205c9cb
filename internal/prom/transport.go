// The HTTP transport's size cap: an answer over the limit fails while it is read.

package prom

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// errResponseTooLarge is wrapped by the error of an answer over the cap.
var errResponseTooLarge = errors.New("prometheus answer too large")

// sizeCappedTransport makes an oversized answer fail while it is read,
// because the Prometheus API client buffers the whole body before decoding
// it.
type sizeCappedTransport struct {
	next  http.RoundTripper
	limit int64
}

func (t *sizeCappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced, the limit is %d", errResponseTooLarge, resp.ContentLength, t.limit)
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, remaining: t.limit, limit: t.limit}
	return resp, nil
}

// cappedBody reads at most limit bytes, then fails instead of reading on.
type cappedBody struct {
	io.ReadCloser
	remaining int64
	limit     int64
	err       error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// One byte beyond the limit tells a body of exactly limit bytes from a
	// larger one.
	if int64(len(p)) > b.remaining+1 {
		p = p[:b.remaining+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.remaining {
		n = int(b.remaining)
		b.remaining = 0
		b.err = fmt.Errorf("%w: more than %d bytes", errResponseTooLarge, b.limit)
		return n, b.err
	}
	b.remaining -= int64(n)
	return n, err
}
