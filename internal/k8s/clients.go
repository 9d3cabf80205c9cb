// The clients an action is performed with (internal/enforce writes with them; web picks them per user).

package k8s

import (
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/kubernetes"
)

// Clients are the identity an action is performed with: the server's own,
// or the user's token with --auth=token, so Kubernetes RBAC decides.
type Clients struct {
	Kube  kubernetes.Interface
	Istio istioclient.Interface
}
