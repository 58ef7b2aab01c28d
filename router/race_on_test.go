//go:build race

package router

// raceEnabled reports whether the tests run under the race detector (which makes ECDSA verification
// some fifty times slower): the real-gossip test then samples its channel_updates.
const raceEnabled = true
