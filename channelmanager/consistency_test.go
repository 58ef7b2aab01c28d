package channelmanager

import (
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
)

// consistencyRig is two nodes with one channel, driven action by action (LDK's chanmon_consistency):
// payments both ways, messages delivered one at a time in either direction, disconnections that drop
// what is in flight, restarts from the last manager snapshot (which may be older than the monitors),
// asynchronous persistence completed in random order, asynchronous signers answering in random order
// (validating ones, keys/policy, in every other run), fee changes, blocks and reorgs. Each host writes
// its manager before its messages leave, as a real host must.
type consistencyRig struct {
	t     testing.TB
	nw    *network
	nodes [2]*testNode
	id    lnwire.ChannelID
	value int64
	snaps [2][]byte
	// stores hold each node's manager records too (PersistTo next to each snapshot, checked against the
	// manager); a restart reads back from one or the other.
	stores [2]*kvstore.MemStore
	logs   [2]*payLog
	r      *rand.Rand
	reorgs int
	// forceCloser is the side that force-closed mid-script (-1: none yet).
	forceCloser int
	// p3 checks promise 3 on each node's manager (see TestPromise3ThroughApply) until it restarts.
	p3 [2]*promise3
	// signers make each node's channel signer answer pending at random (asynchronous signing);
	// SignerUnblocked is called at random.
	signers [2]*signerControl
}

func newConsistencyRig(t testing.TB, seed int64) *consistencyRig {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	// Every other run, the signers are validating (keys/policy): no honest flow may be refused.
	signers := [2]*signerControl{a.useAsyncSigner(seed, seed%2 == 1), b.useAsyncSigner(seed+1, seed%2 == 1)}
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	rig := &consistencyRig{t: t, nw: nw, nodes: [2]*testNode{a, b}, value: 4_000_000, r: rand.New(rand.NewSource(seed)),
		logs: [2]*payLog{newPayLog(), newPayLog()}, forceCloser: -1, signers: signers}
	rig.id = nw.openChannel(0, 1, rig.value, 2_000_000_000)
	for i, n := range rig.nodes {
		n.withBumpHandler(1_000_000) // anchor channels: the default bump handler over each wallet
		rig.p3[i] = watchPromise3(n)
	}
	nw.settle()
	for _, s := range signers {
		s.set(float64(seed%3)*0.25, false) // from the start in two runs of three
	}
	for i, n := range rig.nodes {
		i, n := i, n
		rig.stores[i] = kvstore.NewMemStore()
		rig.persist(i)
		n.beforeSend = func() bool {
			if n.cm.GetAndClearNeedsPersistence() {
				rig.persist(i)
			}
			return true
		}
	}
	return rig
}

// step runs one action chosen by op.
func (rig *consistencyRig) step(op byte, arg uint16) {
	nw, r := rig.nw, rig.r
	switch op % 13 {
	case 0, 1: // a payment from node op%2
		from := int(op % 2)
		amt := 1_000 + uint64(arg)*2_000
		if _, hash, err := nw.pay(from, 1-from, amt); err == nil {
			rig.logs[from].amounts[hash] = amt
		}
	case 2, 3, 4: // deliver a few messages
		for i := 0; i < 1+int(arg%8); i++ {
			nw.deliverOne(r)
		}
	case 5: // the connection drops with messages in flight, and comes back
		nw.disconnect(0, 1)
		nw.connect(0, 1)
	case 6, 7: // node op%2 crashes and restarts from its last manager snapshot
		rig.restart(int(op % 2))
	case 8: // asynchronous persistence on or off for one node; its signer answers pending 0-60% of the time
		rig.nodes[arg%2].persist.setAsync(arg%4 < 2)
		rig.signers[arg%2].set(float64(arg/4%4)*0.2, false)
	case 9: // complete some in-flight persistence, in random order; the signer's answers arrive
		rig.completeSome(int(arg % 2))
		if arg%3 == 0 {
			rig.nodes[arg/3%2].cm.SignerUnblocked(nil)
		}
	case 10: // fees move; timer ticks
		rig.nodes[0].chain.SetDefaultFeeratePerKw(253 + uint32(arg%8)*250) // within the peer's 10x bound
		for _, n := range rig.nodes {
			n.cm.TimerTickOccurred()
		}
	case 11: // a block, sometimes reorganised away
		nw.nodes[0].chain.MineBlocks(1)
		if arg%4 == 0 && rig.reorgs < 20 {
			rig.reorgs++
			nw.nodes[0].chain.DisconnectTip()
		}
	case 12: // a force close by either side, whatever is in flight
		if arg%16 == 0 {
			rig.forceCloser = int(arg % 32 / 16)
			return
		}
	}
	rig.account()
}

// persist writes node i's manager as a snapshot and into its store, and checks the store.
func (rig *consistencyRig) persist(i int) {
	n := rig.nodes[i]
	rig.snaps[i] = n.cm.Write()
	_, err := n.cm.PersistTo(rig.stores[i])
	require.NoError(rig.t, err)
	requireStoreMirrors(rig.t, n.cm, rig.stores[i])
}

// restart replaces node i by one read back from its persisted monitors and its last snapshot or,
// every other time, its store.
func (rig *consistencyRig) restart(i int) {
	n := rig.nodes[i]
	rig.nw.disconnect(0, 1)
	n.persist.mu.Lock()
	n.persist.inFlight = map[wire.OutPoint][]uint64{}
	n.persist.mu.Unlock()
	if rig.r.Intn(2) == 0 {
		n.startFromStore(rig.stores[i])
	} else {
		n.restart(rig.snaps[i])
	}
	rig.checkPromise3(i)
	rig.p3[i] = nil // a new manager: its durable history is not in the tracker
	forgetUnsentPayments(n, rig.logs[i])
	rig.nw.connect(0, 1)
}

// completeSome reports a random prefix of node i's in-flight updates persisted.
func (rig *consistencyRig) completeSome(i int) {
	n := rig.nodes[i]
	n.persist.mu.Lock()
	var op wire.OutPoint
	var upTo uint64
	for o, ids := range n.persist.inFlight {
		if len(ids) == 0 {
			continue
		}
		k := rig.r.Intn(len(ids))
		op, upTo = o, ids[k]
		n.persist.inFlight[o] = ids[k+1:]
		break
	}
	n.persist.mu.Unlock()
	if upTo != 0 {
		if p := rig.p3[i]; p != nil {
			p.done[op] = max(p.doneUpTo(op), int64(upTo))
		}
		require.NoError(rig.t, n.chainMon.ChannelMonitorUpdated(op, upTo))
	}
}

// completeAll reports every in-flight update of node i persisted.
func (rig *consistencyRig) completeAll(i int) {
	n := rig.nodes[i]
	if p := rig.p3[i]; p != nil {
		n.persist.mu.Lock()
		for op, ids := range n.persist.inFlight {
			for _, id := range ids {
				p.done[op] = max(p.doneUpTo(op), int64(id))
			}
		}
		n.persist.mu.Unlock()
	}
	n.persist.completeAll(rig.t, n.chainMon)
}

// checkPromise3 fails on any message or broadcast of node i that left before what it depends on was
// persisted.
func (rig *consistencyRig) checkPromise3(i int) {
	if p := rig.p3[i]; p != nil {
		require.Empty(rig.t, p.violations, "%s: promise 3", rig.nodes[i].name)
	}
}

// account takes both nodes' events: no close is allowed, and payment outcomes are logged.
func (rig *consistencyRig) account() {
	for i, n := range rig.nodes {
		evs := n.takeEvents()
		for _, e := range evs {
			if cc, ok := e.(events.ChannelClosed); ok {
				rig.t.Fatalf("%s closed the channel: %s", n.name, cc.Message)
			}
		}
		rig.logs[i].account(evs)
	}
}

// finish completes all persistence, reconnects and settles, then checks the invariants: every payment
// resolved, both sides agree, balances sum to the channel's value, and no message or broadcast left
// before the monitor state it depends on was persisted (promise 3, checked through apply's hook until
// a node restarts); then one side force-closes and, once everything confirmed, each side holds on chain
// at least its balance less fees.
func (rig *consistencyRig) finish(forceCloser int) {
	nw := rig.nw
	for i, n := range rig.nodes {
		n.persist.setAsync(false)
		rig.completeAll(i)
		rig.signers[i].set(0, false)
		n.cm.SignerUnblocked(nil)
	}
	nw.disconnect(0, 1)
	nw.connect(0, 1)
	for k := 0; k < 50; k++ {
		nw.settleRandom(rig.r)
		for i := range rig.nodes {
			rig.completeAll(i)
		}
	}
	rig.account()
	rig.checkPromise3(0)
	rig.checkPromise3(1)
	a, b := rig.nodes[0], rig.nodes[1]
	require.Empty(rig.t, rig.logs[0].amounts, "alice's payments resolved")
	require.Empty(rig.t, rig.logs[1].amounts, "bob's payments resolved")
	want := uint64(2_000_000_000) - rig.logs[0].sent + rig.logs[1].sent
	checkBalances(rig.t, a, b, rig.id, want)
	balA := int64(want / 1000)
	balB := rig.value - balA

	closer := rig.nodes[forceCloser]
	require.NoError(rig.t, closer.cm.ForceCloseBroadcastingLatestTxn(rig.id, rig.nodes[1-forceCloser].id))
	nw.settle()
	nw.mine(int(a.cfg.ChannelHandshakeConfig.OurToSelfDelay) + channelmonitor.AntiReorgDelay + 10)
	// The funder pays the commitment fee and anchors; sweeps cost a little more.
	require.Greater(rig.t, a.sweptSat, balA-12_000, "alice on chain")
	require.Greater(rig.t, b.sweptSat, balB-3_000, "bob on chain")
	require.LessOrEqual(rig.t, a.sweptSat+b.sweptSat, rig.value)
}

// forcedMidScript counts the runs that ended in a force close mid-script; signerPendings the pending
// answers the asynchronous signers gave.
var forcedMidScript, signerPendings int

// runConsistency plays the actions encoded in data (three bytes each: op, arg).
func runConsistency(t testing.TB, seed int64, data []byte) {
	rig := newConsistencyRig(t, seed)
	defer func() { signerPendings += rig.signers[0].total + rig.signers[1].total }()
	for len(data) >= 3 && rig.forceCloser < 0 {
		rig.step(data[0], binary.BigEndian.Uint16(data[1:3]))
		data = data[3:]
	}
	if rig.forceCloser >= 0 {
		rig.finishOnChain()
		forcedMidScript++
		return
	}
	rig.finish(int(uint64(seed) % 2))
}

// finishOnChain: one side force-closed with whatever was in flight. Persistence completes, the chain
// goes on, and once everything resolved each side holds on chain at least its own balance (HTLCs in
// flight aside, which go to one side or the other) less fees, and every payment has an outcome.
func (rig *consistencyRig) finishOnChain() {
	nw, a, b := rig.nw, rig.nodes[0], rig.nodes[1]
	for i, n := range rig.nodes {
		n.persist.setAsync(false)
		rig.completeAll(i)
		n.autoClaim = true
		rig.signers[i].set(0, false)
		n.cm.SignerUnblocked(nil)
	}
	nw.disconnect(0, 1)
	nw.connect(0, 1)
	nw.settleRandom(rig.r)
	da, db := a.channel(rig.id), b.channel(rig.id)
	ownA, ownB := int64(da.BalanceMsat/1000), int64(db.BalanceMsat/1000)
	closer := rig.nodes[rig.forceCloser]
	other := rig.nodes[1-rig.forceCloser]
	_ = closer.cm.ForceCloseBroadcastingLatestTxn(rig.id, other.id)
	nw.settle()
	nw.mine(int(a.cfg.ChannelHandshakeConfig.OurToSelfDelay) + 2*channelmonitor.CLTVClaimBuffer + 200)
	for i, n := range rig.nodes {
		rig.logs[i].account(n.takeEvents())
	}
	require.Empty(rig.t, rig.logs[0].amounts, "alice's payments have an outcome")
	require.Empty(rig.t, rig.logs[1].amounts, "bob's payments have an outcome")
	require.Greater(rig.t, a.sweptSat, ownA-15_000, "alice on chain")
	require.Greater(rig.t, b.sweptSat, ownB-15_000, "bob on chain")
	require.LessOrEqual(rig.t, a.sweptSat+b.sweptSat, rig.value)
	require.Empty(rig.t, a.chainMon.GetClaimableBalances())
	require.Empty(rig.t, b.chainMon.GetClaimableBalances())
	rig.checkPromise3(0)
	rig.checkPromise3(1)
}

// TestConsistencySeeded runs random action scripts (the fuzz target's seeded twin).
func TestConsistencySeeded(t *testing.T) {
	seeds := 60
	if testing.Short() || raceEnabled {
		seeds = 8
	}
	for seed := int64(0); seed < int64(seeds); seed++ {
		r := rand.New(rand.NewSource(seed))
		data := make([]byte, 3*(40+r.Intn(80)))
		r.Read(data)
		runConsistency(t, seed, data)
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
	t.Logf("%d of %d scripts ended in a force close mid-script; the signers answered pending %d times", forcedMidScript, seeds, signerPendings)
	require.Positive(t, signerPendings, "asynchronous signing was exercised")
}

// FuzzConsistency: go test ./channelmanager -run XXX -fuzz FuzzConsistency.
func FuzzConsistency(f *testing.F) {
	f.Add(int64(1), []byte{0, 0, 9, 2, 0, 7, 3, 0, 7, 1, 0, 4, 5, 0, 0, 6, 0, 0, 2, 0, 9})
	f.Add(int64(2), []byte{8, 0, 0, 0, 1, 0, 2, 0, 5, 9, 0, 1, 7, 0, 0, 11, 0, 4})
	f.Fuzz(func(t *testing.T, seed int64, data []byte) {
		if len(data) > 3*300 {
			data = data[:3*300]
		}
		runConsistency(t, seed, data)
	})
}

var _ chaininterface.FeeEstimator = (*testchain.Chain)(nil)
