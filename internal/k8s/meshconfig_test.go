// Test of reading the trust domain and its aliases from istiod's mesh config, with Istio's default
// when it sets none.

package k8s

import (
	"slices"
	"testing"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/meshlock/meshlock/internal/istio"
)

// The trust domain and its aliases come from istiod's mesh config
// (pkg/config/mesh/mesh.go: ConfigMap istio, key mesh), Istio's default
// trust domain when it sets none, the aliases sorted and deduplicated as
// ApplyMeshConfig keeps them.
func TestReadMeshConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		objects     []runtime.Object
		want        string
		wantAliases []string
		wantErr     bool
	}{
		"no mesh config: Istio's default": {want: DefaultTrustDomain},
		"set":                             {objects: []runtime.Object{meshConfig("trustDomain: corp.example\nenableAutoMtls: true\n")}, want: "corp.example"},
		"not set":                         {objects: []runtime.Object{meshConfig("enableAutoMtls: true\n")}, want: DefaultTrustDomain},
		"unreadable":                      {objects: []runtime.Object{meshConfig("trustDomain: [")}, wantErr: true},
		"aliases, sorted and deduplicated": {
			objects:     []runtime.Object{meshConfig("trustDomain: new.example\ntrustDomainAliases: [old.example, cluster.local, old.example]\n")},
			want:        "new.example",
			wantAliases: []string{"cluster.local", "old.example"},
		},
		"aliases without a trust domain": {
			objects:     []runtime.Object{meshConfig("trustDomainAliases:\n- old.example\n")},
			want:        DefaultTrustDomain,
			wantAliases: []string{"old.example"},
		},
		"no aliases":         {objects: []runtime.Object{meshConfig("trustDomain: corp.example\ntrustDomainAliases: []\n")}, want: "corp.example"},
		"aliases unreadable": {objects: []runtime.Object{meshConfig("trustDomainAliases: old.example\n")}, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			w, err := NewWatcher(Options{Kube: kubefake.NewClientset(tc.objects...), Istio: istiofake.NewSimpleClientset()})
			if err != nil {
				t.Fatal(err)
			}
			got, err := w.readMeshConfig(t.Context())
			if (err != nil) != tc.wantErr {
				t.Fatalf("readMeshConfig error %v, want one: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got.trustDomain != tc.want || !slices.Equal(got.aliases, tc.wantAliases) {
				t.Errorf("readMeshConfig = %q, aliases %q; want %q, %q", got.trustDomain, got.aliases, tc.want, tc.wantAliases)
			}
		})
	}
}

func meshConfig(mesh string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: istio.DefaultRootNamespace, Name: "istio"}, Data: map[string]string{"mesh": mesh}}
}
