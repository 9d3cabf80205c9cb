//go:build tools

// Package tools pins Helm to this module's go.mod: `make testbed` builds
// helm.sh/helm/v4/cmd/helm from it into .testbed/bin/helm.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
