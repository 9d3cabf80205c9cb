// Locating the test bed's built tools (kustomize, helm) and the repository root for integration tests.

package testbed

// Binary returns the path of a tool the test bed builds (`make testbed`:
// kustomize from test/tools, helm from test/tools/helm), found like its servers: in .testbed/bin (or
// $MESHLOCK_TESTBED_BIN), else on PATH. A missing tool fails the test:
// integration tests never skip.
func Binary(t TB, name string) string {
	t.Helper()
	return findBinary(t, name)
}

// RepoRoot returns the folder holding meshlock's go.mod, the repository's root.
func RepoRoot(t TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return root
}
