//go:build race

package lnwire

// raceEnabled reports whether the tests run under the race detector (which makes ECDSA verification
// some fifty times slower).
const raceEnabled = true
