//go:build !race

package lnwire

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
