// The mesh's trust domain and its aliases: read from istiod's mesh config (ConfigMap istio, key
// mesh) and kept current.

package k8s

import (
	"cmp"
	"context"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The mesh config that istiod reads (pkg/config/mesh/mesh.go): the
// ConfigMap "istio" in the root namespace, its key "mesh" a YAML
// MeshConfig. Of it meshlock needs the trust domain, the host of every
// SPIFFE principal (Istio's default is cluster.local), and the trust
// domain aliases, other trust domains whose principals Istio treats as the
// mesh's own (pilot/pkg/security/trustdomain/bundle.go), so that a
// principal of an alias is no mismatch.

// DefaultTrustDomain is meshConfig.trustDomain when the mesh config sets none.
const DefaultTrustDomain = "cluster.local"

const (
	meshConfigMap = "istio"
	meshConfigKey = "mesh"
	// meshConfigEvery is how often the mesh config is read again: it
	// changes with an Istio upgrade, not from one minute to the next, and
	// one GET needs no watch (nor the right to list ConfigMaps).
	meshConfigEvery = 5 * time.Minute
)

// meshIdentity is what meshlock reads of the mesh config.
type meshIdentity struct {
	trustDomain string
	// aliases are sorted and without duplicates, as istiod keeps them
	// (pkg/config/mesh/mesh.go, ApplyMeshConfig); nil when there are none.
	aliases []string
}

// readMeshConfig reads meshConfig.trustDomain and trustDomainAliases; the
// error when the ConfigMap cannot be read, DefaultTrustDomain when it sets
// no trust domain.
func (w *Watcher) readMeshConfig(ctx context.Context) (meshIdentity, error) {
	cm, err := w.opts.Kube.CoreV1().ConfigMaps(w.opts.RootNamespace).Get(ctx, meshConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return meshIdentity{trustDomain: DefaultTrustDomain}, nil // no istiod here: Istio's defaults
	}
	if err != nil {
		return meshIdentity{}, err
	}
	var mesh struct {
		TrustDomain        string   `json:"trustDomain"`
		TrustDomainAliases []string `json:"trustDomainAliases"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data[meshConfigKey]), &mesh); err != nil {
		return meshIdentity{}, err
	}
	out := meshIdentity{trustDomain: cmp.Or(mesh.TrustDomain, DefaultTrustDomain)}
	if len(mesh.TrustDomainAliases) > 0 {
		out.aliases = slices.Compact(slices.Sorted(slices.Values(mesh.TrustDomainAliases)))
	}
	return out, nil
}

// followMeshConfig keeps w's trust domain and aliases current until ctx
// ends. A failed read keeps the last ones known (Istio's defaults at first)
// and is logged once per failure.
func (w *Watcher) followMeshConfig(ctx context.Context) {
	read := func() {
		readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		mesh, err := w.readMeshConfig(readCtx)
		if err != nil {
			if ctx.Err() == nil {
				w.opts.Logger.Warn("cannot read the mesh config's trust domain and aliases; assuming the last known",
					"configmap", w.opts.RootNamespace+"/"+meshConfigMap, "error", err)
			}
			return
		}
		w.mu.Lock()
		changed := w.mesh.trustDomain != mesh.trustDomain || !slices.Equal(w.mesh.aliases, mesh.aliases)
		w.mesh = mesh
		w.mu.Unlock()
		if changed {
			w.noteChange()
		}
	}
	read()
	ticker := time.NewTicker(meshConfigEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			read()
		}
	}
}

// TrustDomain is the mesh's trust domain as last read.
func (w *Watcher) TrustDomain() string {
	return w.meshConfig().trustDomain
}

// meshConfig is the trust domain and aliases as last read, together.
func (w *Watcher) meshConfig() meshIdentity {
	w.mu.Lock()
	defer w.mu.Unlock()
	return meshIdentity{trustDomain: w.mesh.trustDomain, aliases: slices.Clone(w.mesh.aliases)}
}
