// Package meshsim is a simulated Istio mesh, sidecars and ambient mode, for
// the demo and the tests: workloads, Services and callers at set rates, each
// request decided by Istio's rules (internal/istio) against the policy read
// live from a Kubernetes API and judged by the server's AuthorizationPolicies
// (authz.go: its sidecar, ztunnel or waypoint), reported as Envoy (or ambient's ztunnel and
// waypoints) would on istio_requests_total and istio_tcp_* with Istio's
// labels, and published to Kubernetes as the pods
// their controllers would make. Its CA is istiod's (trust.go): real root
// certificates, distributed as istio-ca-root-cert to every namespace, the
// mesh config's trust domain and aliases, and the certificate expiry
// istiod and each proxy's istio-agent export, aging on the mesh's clock.
// Truth says what really happened, for the tests that compare the
// dashboard with it.
package meshsim
