// Test that node ids round-trip through String and ParseID.

package graph

import "testing"

func TestIDRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		id   ID
		text string
	}{
		{ID{Namespace: "default", Name: "reviews"}, "default/reviews"},
		{ID{Name: Unknown}, "unknown"},
		{ID{Namespace: "default", Name: "sa:web"}, "default/sa:web"},
		// Issue 24: "<cluster>/<namespace>/<name>" with several clusters.
		{ID{Cluster: "east", Namespace: "default", Name: "reviews"}, "east/default/reviews"},
		{ID{Cluster: "east", Namespace: "default", Name: "sa:web"}, "east/default/sa:web"},
	} {
		if got := tc.id.String(); got != tc.text {
			t.Errorf("%+v.String() = %q, want %q", tc.id, got, tc.text)
		}
		if got := ParseID(tc.text); got != tc.id {
			t.Errorf("ParseID(%q) = %+v, want %+v", tc.text, got, tc.id)
		}
	}
	if NodeID("a", "b") != "a/b" {
		t.Error("NodeID")
	}
}
