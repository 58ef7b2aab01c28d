//go:build race

package crashtest

// raceEnabled: the race detector slows the script about tenfold, so Run then samples a few crash
// points; the run without it covers them all.
const raceEnabled = true
