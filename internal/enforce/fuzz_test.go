// Fuzz tests: enforce request name validation against Kubernetes' rules, and objectYAML round-trips.

package enforce

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"sigs.k8s.io/yaml"
)

var (
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

// Name validation never panics, accepts only what Kubernetes accepts
// (checked here against the definitions, not the library), and never
// echoes a long name back whole.
func FuzzEnforceRequestValidate(f *testing.F) {
	f.Add("service", "default", "reviews", "destinationrule")
	f.Add("namespace", "Default", "", "peerauthentication")
	f.Add("service", "a-b", "1reviews", "destinationrule")
	f.Add("mesh", "", "", "peerauthentication")
	f.Fuzz(func(t *testing.T, scope, namespace, service, mode string) {
		req := Request{Scope: scope, Namespace: namespace, Service: service, Mode: mode, DryRun: true}
		err := req.Validate()
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%+v: %v is not ErrInvalid", req, err)
			}
			// The message may not grow with the input (the rules it
			// cites are about 300 bytes).
			if len(err.Error()) > 500 {
				t.Fatalf("an error of %d bytes echoes the input", len(err.Error()))
			}
			return
		}
		switch scope {
		case ScopeMesh:
			if namespace != "" || service != "" {
				t.Fatalf("mesh scope accepted a namespace or service: %+v", req)
			}
		case ScopeNamespace, ScopeService:
			if len(namespace) > 63 || !dns1123Label.MatchString(namespace) {
				t.Fatalf("accepted namespace %q", namespace)
			}
			if scope == ScopeService && (len(service) > 63 || !dns1035Label.MatchString(service)) {
				t.Fatalf("accepted service %q", service)
			}
			if scope == ScopeNamespace && service != "" {
				t.Fatalf("namespace scope accepted a service: %+v", req)
			}
		default:
			t.Fatalf("accepted scope %q", scope)
		}
		if mode != ModeDestinationRule && mode != ModePeerAuthentication && mode != ModeAuthorization {
			t.Fatalf("accepted mode %q", mode)
		}
		if mode == ModeAuthorization && scope == ScopeMesh {
			t.Fatalf("mode authorization accepted scope mesh")
		}
	})
}

// The YAML of a plan (objectYAML) parses back, with sigs.k8s.io/yaml, to
// the same object, whatever it holds: names, labels and hosts such as
// "yes", "null", "0x1" or ones with newlines must stay strings.
func FuzzObjectYAML(f *testing.F) {
	f.Add(false, `{"metadata":{"name":"reviews","namespace":"default","labels":{"a":"yes"}},"spec":{"host":"reviews","trafficPolicy":{"tls":{"mode":"ISTIO_MUTUAL"}},"subsets":[{"name":"v1","labels":{"version":"v1"}}]}}`)
	f.Add(true, `{"metadata":{"name":"default","namespace":"istio-system","annotations":{"x":"null"}},"spec":{"mtls":{"mode":"STRICT"},"portLevelMtls":{"8080":{"mode":"DISABLE"}}}}`)
	f.Add(false, `{"metadata":{"name":"0x1","resourceVersion":"7","uid":"u"},"spec":{"host":"*.local","exportTo":["."]}}`)
	f.Fuzz(func(t *testing.T, peerAuthentication bool, doc string) {
		var obj, back istioObject = &networkingv1.DestinationRule{}, &networkingv1.DestinationRule{}
		if peerAuthentication {
			obj, back = &securityv1.PeerAuthentication{}, &securityv1.PeerAuthentication{}
		}
		if json.Unmarshal([]byte(doc), obj) != nil {
			return
		}
		text, err := objectYAML(obj)
		if err != nil {
			return // not JSON-encodable: nothing to render
		}
		if err := yaml.Unmarshal([]byte(text), back); err != nil {
			t.Fatalf("the YAML does not parse back: %v\n%s", err, text)
		}
		// The YAML leaves out server-managed metadata, so does the comparison.
		want, err := objectYAML(obj)
		if err != nil {
			t.Fatal(err)
		}
		got, err := objectYAML(back)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("the object changed through its YAML:\n%s\nparsed back as\n%s", want, got)
		}
		wantDoc, gotDoc := strippedDoc(t, obj), strippedDoc(t, back)
		if wantDoc != gotDoc {
			t.Fatalf("the object changed through its YAML:\n%s\nparsed back as\n%s", wantDoc, gotDoc)
		}
	})
}

// strippedDoc is obj as JSON without the metadata objectYAML leaves out.
func strippedDoc(t *testing.T, obj istioObject) string {
	t.Helper()
	doc, err := toDoc(obj)
	if err != nil {
		t.Fatal(err)
	}
	if meta, ok := doc["metadata"].(map[string]any); ok {
		for _, f := range serverManaged {
			delete(meta, f)
		}
	}
	delete(doc, "apiVersion")
	delete(doc, "kind")
	if status, ok := doc["status"].(map[string]any); ok && len(status) == 0 {
		delete(doc, "status")
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}
