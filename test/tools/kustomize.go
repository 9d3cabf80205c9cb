//go:build tools

package tools

// kustomize renders deploy/ and deploy/enforce in the deploy integration test.
import _ "sigs.k8s.io/kustomize/kustomize/v5"
