package pgstore

import (
	"testing"

	"github.com/lnkit/lnkit/channelmanager/crashtest"
	"github.com/lnkit/lnkit/kvstore"
)

// TestCrashEveryPersistencePoint: a node keeping everything (monitors and manager) in PostgreSQL dies
// at its durable writes, in turn, and restarts from the database: it loses no money, closes no channel
// and forgets nothing it told its peer (see crashtest). Each run has a schema of its own (openStore:
// created for the run, dropped after it). Every crash point runs without the race detector: about a
// minute on two cores, mostly the server's log flushes of the script's ~200 commits per run (the store
// refuses synchronous_commit=off, and opening a schema per run is cheap next to that). Under -race or
// -short crashtest samples about four points, evenly spread.
func TestCrashEveryPersistencePoint(t *testing.T) {
	needPG(t)
	crashtest.Run(t, crashtest.Factory{Open: func(t testing.TB) kvstore.KVStore { return openStore(t, Options{}) }})
}

// TestCrashEveryPersistencePointAsync is TestCrashEveryPersistencePoint with the monitors persisted
// asynchronously (crashtest.Factory.Async: InProgress, then PersistPending and ChannelMonitorUpdated),
// at every fifth crash point.
func TestCrashEveryPersistencePointAsync(t *testing.T) {
	needPG(t)
	crashtest.Run(t, crashtest.Factory{Async: true, Step: 5, Open: func(t testing.TB) kvstore.KVStore { return openStore(t, Options{}) }})
}
