//go:build !race

package channelmanager

const raceEnabled = false
