//go:build tools

// Package tools pins the test bed's server binaries to this module's go.mod.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
