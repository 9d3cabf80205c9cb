// Package k8s watches Services, Pods, Namespaces, Istio's
// DestinationRules, PeerAuthentications and AuthorizationPolicies, and the
// root bundles istiod distributes (the istio-ca-root-cert ConfigMaps, never
// a Secret) with client-go informers, and reads the mesh config's trust
// domain and aliases: Kubernetes I/O only. meshlock's enforce and undo
// writes are internal/enforce's, with the Clients defined here.
package k8s
