//go:build race

package channelmanager

// raceEnabled: the race detector slows these tests about tenfold; the exhaustive randomized suites
// (cheater seeds, crash points, consistency scripts) then run a sample, and .ci/run runs them in full
// without it.
const raceEnabled = true
