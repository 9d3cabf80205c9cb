//go:build tools

// Package tools pins Thanos to this module's go.mod: `make testbed` builds
// github.com/thanos-io/thanos/cmd/thanos from it into .testbed/bin/thanos
// (the sidecar and the Querier of the test bed's Thanos), with the build tags of
// Thanos' own release (netgo, slicelabels: see the Makefile's rule).
package tools

import _ "github.com/thanos-io/thanos/cmd/thanos"
