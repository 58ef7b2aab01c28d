// Package crashtest is the crash test of a node that keeps everything in one kvstore.KVStore, for
// every store implementation to run from its tests (as kvstore/kvstoretest is for the store contract):
// a node whose host dies at any of its durable writes, and restarts from what its store holds, loses
// no money, closes no channel and forgets nothing it told its peer.
//
// # The script
//
// Two real ChannelManagers, Alice and Bob, each with a real ChainMonitor persisting through a
// channelmonitor.KVStorePersister, run on an in-memory chain (internal/testchain) and talk through
// the public message-handler API (GetAndClearPendingMsgEvents, HandleChannelMessage, PeerConnected,
// PeerDisconnected), every message going through the wire codec. Alice keeps her monitors in a
// kvstore.MemStore and never dies. Bob keeps everything in the store under test: his monitors
// (MaximumPendingUpdates 4, so that full monitor writes, a batch that also removes updates, are crash
// points too) and his manager's records, which his host writes with ChannelManager.PersistTo whenever
// the manager needs it and always before any of his messages leaves, as a real host must.
//
// Alice opens an anchor channel of 2,000,000 sat to Bob, pushing him half, and it is mined. Then come
// twelve rounds of one to three payments of 1,000,000 to 40,000,000 msat, each way at random, each
// round followed by up to 400 messages delivered one at a time, the direction chosen at random (seeded,
// so a run is repeatable); then every message is delivered.
//
// # The crash
//
// Bob's host dies at his k-th durable write (Write, Remove or Commit on the store): that write and
// every later one are dropped, and nothing he sends leaves. Then it restarts from what the store
// holds (a new KVStorePersister reads the monitors, channelmanager.ReadFromStore the manager),
// reconnects, and the stream resumes. Payments Bob started after his last durable write are forgotten
// (ListRecentPayments does not know them): none of their messages left.
//
// # The verdict
//
// Every payment has exactly one outcome on its payer (PaymentSent or PaymentFailed; the same one again
// is a replay, as events are at least once across a crash); both sides agree on the balances to the
// msat, as the payments sent predict; no HTLC is left; no channel closed (no ChannelClosed, no
// on-chain work: no bump or spendable-output event, nothing broadcast but the funding transaction,
// its output unspent, the mempool empty); Bob's store reads back as his live monitors byte for byte;
// and after one more restart from the store, a payment each way succeeds.
//
// The package starts no goroutine and reads no clock: time is the chain's.
package crashtest

import (
	"fmt"
	"testing"

	"github.com/lnkit/lnkit/kvstore"
)

// Factory opens stores for Run.
type Factory struct {
	// Open returns a new, empty store for one run of the script, on t (the run's subtest): close it
	// with t.Cleanup. Every run has a store of its own.
	Open func(t testing.TB) kvstore.KVStore
	// Step runs every Step-th crash point (k = 1, 1+Step, 1+2·Step, ...); 0 means 1, every point. A
	// store slow to open can choose a larger one. Under -short or the race detector Run samples about
	// four points instead, evenly spread (never closer than Step).
	Step int
	// Buffered makes Bob's host write through a kvstore.WriteBuffer over the store and flush it before
	// any of his messages leaves (group commit, as examples/node does): the crash points are then the
	// flushes, and a crash also loses whatever the buffer held.
	Buffered bool
	// Async makes Bob's monitor persistence asynchronous (KVStorePersisterOptions.Async: every update
	// answers InProgress; his host performs the queued writes with PersistPending and reports them with
	// ChainMonitor.ChannelMonitorUpdated before it pulls his messages): the manager must hold what
	// depends on an update until then, and a crash between the two loses nothing.
	Async bool
}

// minWrites is the fewest durable writes the script must make: fewer means the stream did not run.
const minWrites = 50

// Run plays the script once without a crash, counting Bob's durable writes, then once per crash point
// (a subtest each, stopping at the first that fails), each on a store of its own from f.Open.
func Run(t *testing.T, f Factory) {
	var total int
	if !t.Run("no_crash", func(t *testing.T) { total = run(t, f.Open(t), f, 0) }) {
		t.FailNow()
	}
	if total <= minWrites {
		t.Fatalf("the script made %d durable writes, want more than %d", total, minWrites)
	}
	points := crashPoints(total, f.Step, testing.Short() || raceEnabled)
	t.Logf("%d durable writes; crashing at %d of them (step %d)", total, len(points), stepOf(points))
	for _, k := range points {
		if !t.Run(fmt.Sprintf("crash_at_%03d_of_%d", k, total), func(t *testing.T) { run(t, f.Open(t), f, k) }) {
			t.Fatalf("crash at write %d of %d failed", k, total)
		}
	}
}

// crashPoints returns the writes to crash at: every step-th from the first, or, sampling, about four
// spread over all of them.
func crashPoints(total, step int, sample bool) []int {
	step = max(step, 1)
	if sample {
		step = max(step, total/4)
	}
	var ks []int
	for k := 1; k <= total; k += step {
		ks = append(ks, k)
	}
	return ks
}

func stepOf(points []int) int {
	if len(points) < 2 {
		return 1
	}
	return points[1] - points[0]
}
