// Test of reading the trust domain from istiod's mesh config, with Istio's default when it sets none.

package k8s

import (
	"testing"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/meshlock/meshlock/internal/istio"
)

// The trust domain comes from istiod's mesh config (pkg/config/mesh/mesh.go:
// ConfigMap istio, key mesh), Istio's default when it sets none.
func TestReadTrustDomain(t *testing.T) {
	for name, tc := range map[string]struct {
		objects []runtime.Object
		want    string
		wantErr bool
	}{
		"no mesh config: Istio's default": {want: DefaultTrustDomain},
		"set":                             {objects: []runtime.Object{meshConfig("trustDomain: corp.example\nenableAutoMtls: true\n")}, want: "corp.example"},
		"not set":                         {objects: []runtime.Object{meshConfig("enableAutoMtls: true\n")}, want: DefaultTrustDomain},
		"unreadable":                      {objects: []runtime.Object{meshConfig("trustDomain: [")}, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			w, err := NewWatcher(Options{Kube: kubefake.NewClientset(tc.objects...), Istio: istiofake.NewSimpleClientset()})
			if err != nil {
				t.Fatal(err)
			}
			got, err := w.readTrustDomain(t.Context())
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("readTrustDomain = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func meshConfig(mesh string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: istio.DefaultRootNamespace, Name: "istio"}, Data: map[string]string{"mesh": mesh}}
}
