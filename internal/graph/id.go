// Node ids: building "<namespace>/<name>" (or "unknown") ids and parsing them back.

package graph

import "strings"

// ID names a node. Its string form, the contract's node id, is made here
// and read back here only: "<namespace>/<name>" for a Service or a workload,
// "unknown" for the callers nobody could identify. Cluster is for meshes of
// several clusters; empty, it leaves the id as the contract has it.
type ID struct {
	Cluster   string
	Namespace string
	Name      string
}

// String is the node id.
func (id ID) String() string {
	if id.Namespace == "" {
		return id.Name // unknown, hidden: the one node of its kind
	}
	s := id.Namespace + "/" + id.Name
	if id.Cluster != "" {
		s = id.Cluster + ":" + s
	}
	return s
}

// ParseID reads a node id back.
func ParseID(s string) ID {
	cluster, rest, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(cluster, "/") {
		cluster, rest = "", s
	}
	ns, name, ok := strings.Cut(rest, "/")
	if !ok {
		return ID{Name: s}
	}
	return ID{Cluster: cluster, Namespace: ns, Name: name}
}

// NodeID is the id of a Service or workload node of the local cluster.
func NodeID(namespace, name string) string { return ID{Namespace: namespace, Name: name}.String() }
