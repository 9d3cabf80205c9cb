// The mesh's trust domain: read from istiod's mesh config (ConfigMap istio, key mesh) and kept current.

package k8s

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The mesh config that istiod reads (pkg/config/mesh/mesh.go): the
// ConfigMap "istio" in the root namespace, its key "mesh" a YAML
// MeshConfig. Of it meshlock needs the trust domain, the host of every
// SPIFFE principal; Istio's default is cluster.local.

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

// readTrustDomain reads meshConfig.trustDomain; "" with the error when the
// ConfigMap cannot be read, DefaultTrustDomain when it sets none.
func (w *Watcher) readTrustDomain(ctx context.Context) (string, error) {
	cm, err := w.opts.Kube.CoreV1().ConfigMaps(w.opts.RootNamespace).Get(ctx, meshConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return DefaultTrustDomain, nil // no istiod here: Istio's defaults
	}
	if err != nil {
		return "", err
	}
	var mesh struct {
		TrustDomain string `json:"trustDomain"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data[meshConfigKey]), &mesh); err != nil {
		return "", err
	}
	if mesh.TrustDomain == "" {
		return DefaultTrustDomain, nil
	}
	return mesh.TrustDomain, nil
}

// followTrustDomain keeps w's trust domain current until ctx ends. A
// failed read keeps the last one known (Istio's default at first) and is
// logged once per failure.
func (w *Watcher) followTrustDomain(ctx context.Context) {
	read := func() {
		readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		td, err := w.readTrustDomain(readCtx)
		if err != nil {
			if ctx.Err() == nil {
				w.opts.Logger.Warn("cannot read the mesh config's trust domain; assuming the last known",
					"configmap", w.opts.RootNamespace+"/"+meshConfigMap, "error", err)
			}
			return
		}
		w.mu.Lock()
		changed := w.trustDomain != td
		w.trustDomain = td
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
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.trustDomain
}
