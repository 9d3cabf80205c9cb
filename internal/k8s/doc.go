// Package k8s watches Services, Pods, Namespaces, Istio's
// DestinationRules, PeerAuthentications and AuthorizationPolicies, and the
// root bundles istiod distributes (the istio-ca-root-cert ConfigMaps, never
// a Secret) with client-go informers, reads the mesh config's trust domain
// and aliases, and performs meshlock's enforce and undo writes.
package k8s
