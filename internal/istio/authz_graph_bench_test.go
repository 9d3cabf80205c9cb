// Benchmarks of the edge judge and the policies' reach at a large mesh's size: 50 namespaces of
// 100 Services (4 pods each) and 20 AuthorizationPolicies, every Service asked about by 4 callers
// and plaintext, as one refresh does.

package istio

import (
	"fmt"
	"testing"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlock/meshlock/internal/testutil"
)

func benchAuthzObjects(b *testing.B) Objects {
	var s Objects
	for n := range 50 {
		ns := fmt.Sprintf("ns-%d", n)
		for i := range 100 {
			app := fmt.Sprintf("svc-%d", i)
			s.Services = append(s.Services, testutil.Service(ns, app, map[string]string{"app": app}, testutil.ServicePort(80, intstr.FromInt32(8080))))
			for p := range 4 {
				s.Pods = append(s.Pods, testutil.Pod(ns, fmt.Sprintf("%s-%d", app, p), testutil.WithLabels("app", app), testutil.WithSidecar()))
			}
		}
		for i := range 20 {
			p := &securityv1.AuthorizationPolicy{}
			p.Namespace, p.Name = ns, fmt.Sprintf("allow-%d", i)
			if err := p.Spec.UnmarshalJSON([]byte(fmt.Sprintf(`{"selector":{"matchLabels":{"app":"svc-%d"}},"rules":[{"from":[{"source":{"principals":["cluster.local/ns/%s/sa/caller"]}}]}]}`, i*5, ns))); err != nil {
				b.Fatal(err)
			}
			s.Authzs = append(s.Authzs, p)
		}
	}
	return s
}

func BenchmarkAuthorizer(b *testing.B) {
	s := benchAuthzObjects(b)
	b.ResetTimer()
	for b.Loop() {
		authorize := newAuthzIndex(s).authorizer(DefaultRootNamespace, "cluster.local", nil)
		for _, svc := range s.Services {
			for c := range 4 {
				authorize(svc.Namespace, svc.Name, fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/caller-%d", svc.Namespace, c))
			}
			authorize(svc.Namespace, svc.Name, "")
		}
	}
}

func BenchmarkAccessPolicies(b *testing.B) {
	s := benchAuthzObjects(b)
	b.ResetTimer()
	for b.Loop() {
		if got := newAuthzIndex(s).accessPolicies(DefaultRootNamespace); len(got) != 1000 {
			b.Fatalf("%d policies", len(got))
		}
	}
}
