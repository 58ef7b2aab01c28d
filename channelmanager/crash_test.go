package channelmanager

import (
	"math/rand"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// crashRig counts a node's durable writes (monitor persists and manager snapshots) and kills the node
// at write k: that write and everything after it never reach storage, and nothing the node sends from
// then on leaves.
type crashRig struct {
	k, writes int
	crashed   bool
	snapshot  []byte // the manager as last durably written
}

// write reports whether a write goes through; the k-th write is where the node dies.
func (r *crashRig) write() bool {
	if r.crashed {
		return false
	}
	r.writes++
	if r.writes == r.k {
		r.crashed = true
		return false
	}
	return true
}

// crashPersist stores monitors through inner until the rig's node dies.
type crashPersist struct {
	rig   *crashRig
	inner *memPersister
}

func (p *crashPersist) PersistNewChannel(op wire.OutPoint, m *channelmonitor.ChannelMonitor) channelmonitor.ChannelMonitorUpdateStatus {
	if !p.rig.write() {
		return channelmonitor.InProgress // never completes: the process is dead
	}
	return p.inner.PersistNewChannel(op, m)
}

func (p *crashPersist) UpdatePersistedChannel(op wire.OutPoint, u *channelmonitor.ChannelMonitorUpdate, m *channelmonitor.ChannelMonitor) channelmonitor.ChannelMonitorUpdateStatus {
	if !p.rig.write() {
		return channelmonitor.InProgress
	}
	return p.inner.UpdatePersistedChannel(op, u, m)
}

// TestCrashAtEveryPersistencePoint: a scripted stream of payments both ways, in which Bob's process
// dies at his k-th durable write — for every k the stream makes. Bob restarts from what was durable
// (monitors and the manager snapshot his host wrote before sending), reconnects, and the stream
// resumes: every payment resolves, both sides agree on the balances, nothing is closed and nothing is
// broadcast.
func TestCrashAtEveryPersistencePoint(t *testing.T) {
	total := crashRun(t, 0) // a run without a crash counts the writes
	require.Greater(t, total, 50)
	step := 1
	if testing.Short() || raceEnabled {
		step = 13
	}
	for k := 1; k <= total; k += step {
		crashRun(t, k)
		if t.Failed() {
			t.Fatalf("crash at write %d of %d", k, total)
		}
	}
}

// crashRun plays the script with Bob dying at write k (0: never) and returns how many writes Bob made.
func crashRun(t *testing.T, k int) int {
	nw, a, b, id := onchainPair(t, true, 2_000_000, 1_000_000_000)
	funding := a.channel(id).FundingTxo
	rig := &crashRig{k: k, snapshot: b.cm.Write()}
	b.persistWrap = &crashPersist{rig: rig, inner: b.persist}
	b.restart(rig.snapshot)
	nw.connect(0, 1)
	nw.settle()
	b.beforeSend = func() bool {
		if b.cm.GetAndClearNeedsPersistence() && rig.write() {
			rig.snapshot = b.cm.Write()
		}
		return !rig.crashed
	}
	playCrashScript(t, nw, a, b, id, funding, rig, func() { b.restart(rig.snapshot) }, k)
	return rig.writes
}

// playCrashScript plays the crash tests' payment stream between a and b (Bob, whose host dies at rig's
// k-th durable write; restart brings him back from what was durable) and checks the end: every payment
// resolved, both sides agree on the balances, nothing closed, nothing broadcast.
func playCrashScript(t *testing.T, nw *network, a, b *testNode, id lnwire.ChannelID, funding wire.OutPoint, rig *crashRig, restart func(), k int) {
	r := rand.New(rand.NewSource(5))
	logs := []*payLog{newPayLog(), newPayLog()}
	// deliver delivers up to n messages; when Bob dies it restarts him from what was durable.
	deliver := func(n int) {
		for i := 0; i < n; i++ {
			progressed := nw.deliverOne(r)
			if rig.crashed {
				nw.disconnect(0, 1)
				restart()
				rig.crashed, rig.k = false, -1
				forgetUnsentPayments(b, logs[1])
				nw.connect(0, 1)
				continue
			}
			if !progressed {
				return
			}
		}
	}
	for round := 0; round < 12; round++ {
		for j := 0; j < 1+r.Intn(3); j++ {
			from := r.Intn(2)
			amt := randAmount(r, 1_000_000, 40_000_000)
			if _, hash, err := nw.pay(from, 1-from, amt); err == nil {
				logs[from].amounts[hash] = amt
			}
		}
		deliver(400)
		for i, n := range nw.nodes {
			evs := n.takeEvents()
			require.Zero(t, countEvents[events.ChannelClosed](evs), "crash at %d: %s closed the channel: %v", k, n.name, evs)
			logs[i].account(evs)
		}
	}
	deliver(100_000)
	require.False(t, rig.crashed)
	nw.settleRandom(r)
	for i, n := range nw.nodes {
		evs := n.takeEvents()
		require.Zero(t, countEvents[events.ChannelClosed](evs), "crash at %d", k)
		logs[i].account(evs)
	}
	require.Empty(t, logs[0].amounts, "crash at %d: alice's payments resolved", k)
	require.Empty(t, logs[1].amounts, "crash at %d: bob's payments resolved", k)
	checkBalances(t, a, b, id, 1_000_000_000-logs[0].sent+logs[1].sent)
	require.True(t, b.channel(id).IsUsable)
	_, spent := a.chain.SpentBy(funding)
	require.False(t, spent, "crash at %d: nothing broadcast", k)
	require.Empty(t, a.chain.Mempool())
}

// forgetUnsentPayments drops from the log the payments the restarted node does not know: they were
// started after its last durable write, so none of their messages left and nothing was paid.
func forgetUnsentPayments(n *testNode, log *payLog) {
	n.cm.outbound.mu.Lock()
	known := map[[32]byte]bool{}
	for _, op := range n.cm.outbound.byID {
		known[op.Hash] = true
	}
	n.cm.outbound.mu.Unlock()
	for hash := range log.amounts {
		if !known[hash] {
			delete(log.amounts, hash)
		}
	}
}
