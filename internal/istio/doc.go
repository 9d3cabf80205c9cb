// Package istio holds Istio's rules, pure, as meshlock reads them from
// Istio's own source (each file and test names the istio/istio file it
// follows): which DestinationRule a client sidecar gets and its TLS mode,
// which PeerAuthentication mode a workload enforces on a port, how a pod's
// workload is named and whether it has a proxy or is a gateway, and how
// Kubernetes objects become the graph's cluster. internal/k8s (the
// dashboard's I/O), the enforce planner and internal/meshsim (the simulated
// mesh) all use it, so the dashboard and its simulator believe one set of rules.
package istio
