// Tests of the size-capped body: it stops reading at the limit and passes an answer up to it.

package prom

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// endlessReader never runs out and counts what was taken from it.
type endlessReader struct{ taken int64 }

func (r *endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	r.taken += int64(len(p))
	return len(p), nil
}

func TestCappedBodyStopsReadingAtTheLimit(t *testing.T) {
	const limit = 10_000
	source := &endlessReader{}
	body := &cappedBody{ReadCloser: io.NopCloser(source), remaining: limit, limit: limit}
	got, err := io.ReadAll(body)
	if !errors.Is(err, errResponseTooLarge) {
		t.Fatalf("ReadAll error = %v, want too large", err)
	}
	if len(got) != limit {
		t.Errorf("returned %d bytes, want the first %d", len(got), limit)
	}
	if source.taken > limit+1 {
		t.Errorf("took %d bytes from the answer, want at most %d", source.taken, limit+1)
	}
	if n, err := body.Read(make([]byte, 10)); n != 0 || !errors.Is(err, errResponseTooLarge) {
		t.Errorf("Read after the limit = %d, %v; want 0 and the same error", n, err)
	}
}

func TestCappedBodyPassesAnAnswerUpToTheLimit(t *testing.T) {
	for _, size := range []int{0, 1, 9_999, 10_000} {
		answer := strings.Repeat("y", size)
		body := &cappedBody{ReadCloser: io.NopCloser(strings.NewReader(answer)), remaining: 10_000, limit: 10_000}
		got, err := io.ReadAll(body)
		if err != nil || string(got) != answer {
			t.Errorf("%d-byte answer: got %d bytes, %v", size, len(got), err)
		}
	}
}
