// Fuzz test of ?namespace= parsing: it never panics and lets through only DNS-1123 labels.

package web

import (
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
)

var namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ?namespace= never panics and lets through only namespace names
// (DNS-1123 labels, checked here against the definition).
func FuzzNamespacesParam(f *testing.F) {
	f.Add("default,istio-system")
	f.Add(" a , ,b")
	f.Add("Default")
	f.Add("a/b,../x")
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest("GET", "/api/graph?namespace="+url.QueryEscape(value), nil)
		names, err := namespacesParam(r)
		if err != nil {
			return
		}
		for _, ns := range names {
			if len(ns) > 63 || !namespaceName.MatchString(ns) {
				t.Fatalf("%q let %q through", value, ns)
			}
		}
	})
}
