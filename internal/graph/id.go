// Node ids: building "<namespace>/<name>" (or "<cluster>/<namespace>/<name>", or "unknown") ids
// and parsing them back.

package graph

import "strings"

// ID names a node. Its string form, the contract's node id, is made here
// and read back here only: "<namespace>/<name>" for a Service or a workload,
// "unknown" for the callers nobody could identify. Cluster is set when
// meshlock watches several clusters: the id is then
// "<cluster>/<namespace>/<name>".
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
	if id.Cluster != "" {
		return id.Cluster + "/" + id.Namespace + "/" + id.Name
	}
	return id.Namespace + "/" + id.Name
}

// ParseID reads a node id back. Neither a namespace nor a cluster name
// holds a "/", so the number of parts tells the form.
func ParseID(s string) ID {
	parts := strings.SplitN(s, "/", 3)
	switch len(parts) {
	case 3:
		return ID{Cluster: parts[0], Namespace: parts[1], Name: parts[2]}
	case 2:
		return ID{Namespace: parts[0], Name: parts[1]}
	}
	return ID{Name: s}
}

// NodeID is the id of a Service or workload node of the local cluster.
func NodeID(namespace, name string) string { return ID{Namespace: namespace, Name: name}.String() }
