// TB: what the test bed needs of whoever starts it, a test's testing.TB or a command's runner
// (the scale command), so that both start the same real servers.

package testbed

// TB is the part of testing.TB the test bed uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}
