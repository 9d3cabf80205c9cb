//go:build race

package main

// raceEnabled: this test binary runs under the race detector, which slows
// the server's code several times over; the browser tests' time bounds
// are then logged, not asserted (make test asserts them in a run of their
// own without it, see timedBounds).
const raceEnabled = true
