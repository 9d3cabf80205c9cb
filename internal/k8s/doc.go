// Package k8s watches Services, Pods, Namespaces and Istio's
// DestinationRules and PeerAuthentications with client-go informers, and
// performs meshlock's enforce and undo writes.
package k8s
