// Tests of DecodeDestinationRules: Istio's bookinfo rule files and assorted multi-document streams.

package k8s

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlock/meshlock/internal/istio"
)

func decodeFixture(t *testing.T, name string) []*networkingv1.DestinationRule {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "demo", "bookinfo", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := DecodeDestinationRules(f)
	if err != nil {
		t.Fatalf("DecodeDestinationRules(%s): %v", name, err)
	}
	return rules
}

func TestDecodeDestinationRulesBookinfo(t *testing.T) {
	wantSubsets := map[string][]string{
		"productpage": {"v1"},
		"reviews":     {"v1", "v2", "v3"},
		"ratings":     {"v1", "v2", "v2-mysql", "v2-mysql-vm"},
		"details":     {"v1", "v2"},
	}
	tests := []struct {
		file    string
		wantTLS istio.TLSMode
	}{
		{file: "destination-rule-all.yaml", wantTLS: istio.TLSModeNone},
		{file: "destination-rule-all-mtls.yaml", wantTLS: istio.TLSModeIstioMutual},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			rules := decodeFixture(t, tc.file)
			if len(rules) != 4 {
				t.Fatalf("decoded %d rules, want 4", len(rules))
			}
			var names []string
			for _, dr := range rules {
				names = append(names, dr.Name)
				if dr.Kind != "DestinationRule" || dr.APIVersion != "networking.istio.io/v1" {
					t.Errorf("%s: kind %q apiVersion %q", dr.Name, dr.Kind, dr.APIVersion)
				}
				if dr.Spec.GetHost() != dr.Name {
					t.Errorf("%s: host %q, want %q", dr.Name, dr.Spec.GetHost(), dr.Name)
				}
				var subsets []string
				for _, s := range dr.Spec.GetSubsets() {
					subsets = append(subsets, s.GetName())
					if got := s.GetLabels()["version"]; got != s.GetName() {
						t.Errorf("%s subset %s: label version=%q, want %q", dr.Name, s.GetName(), got, s.GetName())
					}
				}
				if want := wantSubsets[dr.Name]; !slices.Equal(subsets, want) {
					t.Errorf("%s: subsets %q, want %q", dr.Name, subsets, want)
				}
				// The mode as a sidecar resolves it, for the whole service and for a subset.
				for _, subset := range []string{"", "v1"} {
					policy := istio.ResolveClientPolicy([]*networkingv1.DestinationRule{withNamespace(dr, "default")}, istio.ClientPolicyQuery{
						ClientNamespace: "default", ServiceName: dr.Name, ServiceNS: "default", ServicePort: 9080, Subset: subset,
					})
					if policy.TLS != tc.wantTLS || !policy.SubsetFound {
						t.Errorf("%s subset %q: TLS %q (subset found %v), want %q", dr.Name, subset, policy.TLS, policy.SubsetFound, tc.wantTLS)
					}
				}
			}
			if want := []string{"productpage", "reviews", "ratings", "details"}; !slices.Equal(names, want) {
				t.Errorf("names %q, want %q (in file order)", names, want)
			}
		})
	}
}

// withNamespace is what kubectl apply -n does to an object without one.
func withNamespace(dr *networkingv1.DestinationRule, ns string) *networkingv1.DestinationRule {
	c := dr.DeepCopy()
	c.Namespace = ns
	return c
}

func TestDecodeDestinationRules(t *testing.T) {
	const rule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: %s
spec:
  host: %s
`
	r := func(name string) string { return strings.NewReplacer("%s", name).Replace(rule) }
	tests := []struct {
		name      string
		in        string
		wantNames []string
		wantErr   []string // substrings of the error; nil = no error
	}{
		{name: "empty input", in: ""},
		{name: "only separators and comments", in: "---\n# nothing here\n---\n\n---\n"},
		{name: "one rule", in: r("a"), wantNames: []string{"a"}},
		{
			name:      "empty documents between separators are skipped",
			in:        "---\n" + r("a") + "---\n---\n\n---\n# comment only\n---\n" + r("b") + "---\n",
			wantNames: []string{"a", "b"},
		},
		{
			name:      "JSON",
			in:        `{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"j"},"spec":{"host":"j","trafficPolicy":{"tls":{"mode":"ISTIO_MUTUAL"}}}}`,
			wantNames: []string{"j"},
		},
		{
			name:    "another kind names the document and the kind",
			in:      r("a") + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n",
			wantErr: []string{"document 2", `"Service"`},
		},
		{
			name:    "another kind first",
			in:      "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n---\n" + r("a"),
			wantErr: []string{"document 1", `"PeerAuthentication"`},
		},
		{
			name:    "malformed YAML",
			in:      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: [unclosed\n",
			wantErr: []string{"document 1"},
		},
		{
			name:    "malformed YAML after a good document",
			in:      r("a") + "---\nkind: DestinationRule\n  bad indentation: here\n\tmore: x\n",
			wantErr: []string{"document 2"},
		},
		{
			name:    "wrong field type",
			in:      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: x\nspec:\n  host: [1, 2]\n",
			wantErr: []string{"document 1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := DecodeDestinationRules(strings.NewReader(tc.in))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error; decoded %d rules", len(rules))
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				if rules != nil {
					t.Errorf("rules returned with an error: %d", len(rules))
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			var names []string
			for _, dr := range rules {
				names = append(names, dr.Name)
				if dr.Spec.GetHost() != dr.Name {
					t.Errorf("%s: host %q", dr.Name, dr.Spec.GetHost())
				}
			}
			if !slices.Equal(names, tc.wantNames) {
				t.Errorf("names %q, want %q", names, tc.wantNames)
			}
		})
	}
}
