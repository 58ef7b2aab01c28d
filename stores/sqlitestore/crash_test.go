package sqlitestore

import (
	"path/filepath"
	"testing"

	"github.com/lnkit/lnkit/channelmanager/crashtest"
	"github.com/lnkit/lnkit/kvstore"
)

// TestCrashEveryPersistencePoint: a node keeping everything (monitors and manager) in SQLite dies at
// each of its durable writes, in turn, and restarts from the database: it loses no money, closes no
// channel and forgets nothing it told its peer (see crashtest). Each run has a database file of its
// own, with synchronous=OFF: the crash is the node's host dropping its writes, not the machine losing
// what SQLite acknowledged (that is TestConformance's crash cases), and syncing every commit would
// make the test several times slower. Every crash point runs without the race detector; under -race or
// -short crashtest samples about four, evenly spread.
func TestCrashEveryPersistencePoint(t *testing.T) {
	crashtest.Run(t, crashtest.Factory{Open: func(t testing.TB) kvstore.KVStore {
		s, err := open(filepath.Join(t.TempDir(), "kv.db"), []string{"synchronous(OFF)"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}})
}

// TestCrashEveryPersistencePointAsync is TestCrashEveryPersistencePoint with the monitors persisted
// asynchronously (crashtest.Factory.Async: InProgress, then PersistPending and ChannelMonitorUpdated),
// at every third crash point.
func TestCrashEveryPersistencePointAsync(t *testing.T) {
	crashtest.Run(t, crashtest.Factory{Async: true, Step: 3, Open: func(t testing.TB) kvstore.KVStore {
		s, err := open(filepath.Join(t.TempDir(), "kv.db"), []string{"synchronous(OFF)"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}})
}
