// Package enforce is meshlock's one home for changes to the mesh: it
// validates an enforce request, plans it from the cluster's objects, shows
// it (a server-side dry run, the YAML before and after, a planId, the
// callers it would cut from the graph), applies it with optimistic
// concurrency and a rollback, records it in the audit trail (one ConfigMap
// per action) and undoes it exactly.
//
// What a change writes is a Mode's, one file each: mTLS by DestinationRule
// (mode_destinationrule.go), mTLS by PeerAuthentication
// (mode_peerauthentication.go) and authorization by an ALLOW
// AuthorizationPolicy of the callers seen (mode_authorization.go). The
// Enforcer, the writer and its patches (write.go), the audit trail and undo
// (audit.go) are shared by every mode.
//
// Imports go downward: enforce reads internal/graph, internal/istio and
// internal/k8s (its Clients); web and cmd/server use it.
package enforce
