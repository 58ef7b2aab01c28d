package channelmanager

import (
	"math/rand"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
)

// spendable sums the StaticOutput values of SpendableOutputs events.
func spendable(evs []events.Event) int64 {
	var v int64
	for _, e := range evs {
		if so, ok := e.(events.SpendableOutputs); ok {
			for _, d := range so.Outputs {
				v += d.Output.Value
			}
		}
	}
	return v
}

// spenderOf returns the confirmed transaction spending op.
func spenderOf(t *testing.T, n *testNode, op wire.OutPoint) *wire.MsgTx {
	txid, ok := n.chain.SpentBy(op)
	require.True(t, ok, "%s not spent", op)
	tx, _, ok := n.chain.GetTransaction(txid)
	require.True(t, ok)
	return tx
}

// TestForceCloseAndSweep: Alice force-closes; her commitment confirms, Bob's to_remote is swept at
// once (one block CSV with anchors), and Alice's to_local only after to_self_delay; both sides' swept
// amounts equal their commitment outputs minus the sweep fees.
func TestForceCloseAndSweep(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	for i := 0; i < 5; i++ {
		_, _, err := nw.pay(0, 1, 30_000_000)
		require.NoError(t, err)
		nw.settle()
	}
	a.takeEvents()
	b.takeEvents()
	funding := a.channel(id).FundingTxo
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	nw.settle()
	require.Equal(t, 1, countEvents[events.ChannelClosed](a.takeEvents()))
	require.Equal(t, 1, countEvents[events.ChannelClosed](b.takeEvents()), "bob sees the error and closes")
	// Bob broadcasts his own commitment on Alice's error: the chain refuses it as a double spend.
	for _, rej := range a.chain.Rejected() {
		require.ErrorIs(t, rej.Err, testchain.ErrDoubleSpend)
	}
	a.chain.MineBlocks(1)
	commit := spenderOf(t, a, funding)
	nRejected := len(a.chain.Rejected())

	// Bob's to_remote (anchors: P2WSH with 1 CSV) is swept after one block.
	nw.mine(int(b.cfg.ChannelHandshakeConfig.OurToSelfDelay) + 8)
	require.Len(t, a.chain.Rejected(), nRejected, "every later broadcast transaction is valid")
	evA, evB := a.takeEvents(), b.takeEvents()
	gotA, gotB := spendable(evA), spendable(evB)
	require.Positive(t, gotA, "alice's to_local swept: %v", evA)
	require.Positive(t, gotB, "bob's to_remote swept: %v", evB)

	// Amounts: each swept value is its commitment output minus a fee under 2,000 sat.
	var toLocal, toRemote int64
	for i, o := range commit.TxOut {
		if o.Value == 330 {
			continue // anchor
		}
		sp := spenderOf(t, a, wire.OutPoint{Hash: commit.TxHash(), Index: uint32(i)})
		swept := sp.TxOut[0].Value
		require.Less(t, o.Value-swept, int64(2_000), "sweep fee")
		if swept == gotA {
			toLocal = o.Value
		}
		if swept == gotB {
			toRemote = o.Value
		}
	}
	require.Equal(t, int64(150_000), toRemote, "bob's to_remote is his balance")
	// Both hosts take the swept outputs into their wallets; the chain checks the signatures.
	for _, x := range []struct {
		n   *testNode
		evs []events.Event
	}{{a, evA}, {b, evB}} {
		var descs []events.SpendableOutputDescriptor
		for _, e := range x.evs {
			if so, ok := e.(events.SpendableOutputs); ok {
				descs = append(descs, so.Outputs...)
			}
		}
		tx, err := x.n.km.SpendSpendableOutputs(descs, nil, x.n.wallet.PkScript(), 253)
		require.NoError(t, err)
		require.NoError(t, x.n.chain.SubmitTransaction(tx))
	}
	require.Positive(t, toLocal)
	// Alice's to_local: her balance less the commitment fee and both anchors.
	require.Equal(t, int64(1_000_000-150_000), toLocal+int64(commitFee(commit, 1_000_000))+660)
}

// commitFee is the funding value less a commitment's outputs.
func commitFee(tx *wire.MsgTx, fundingSat int64) int64 {
	var out int64
	for _, o := range tx.TxOut {
		out += o.Value
	}
	return fundingSat - out
}

// TestRevokedCommitmentPunished: Bob keeps an old commitment in which he had more, broadcasts it after
// paying Alice, and Alice's monitor takes his to_local with a justice transaction.
func TestRevokedCommitmentPunished(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 400_000_000) // Bob starts with 400,000 sat
	funding := a.channel(id).FundingTxo
	mon, ok := b.chainMon.GetMonitor(funding)
	require.True(t, ok)
	old, err := mon.LatestHolderCommitmentTx()
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, _, err := nw.pay(1, 0, 100_000_000)
		require.NoError(t, err)
		nw.settle()
	}
	checkBalances(t, a, b, id, 900_000_000)
	a.takeEvents()
	b.takeEvents()
	// Bob cheats: his revoked commitment (400,000 sat to him) goes on chain.
	require.NoError(t, b.chain.SubmitTransaction(old))
	a.chain.MineBlocks(1)
	nw.settle()
	require.Empty(t, a.chain.Rejected())
	justiceTxs := a.chain.Mempool()
	require.NotEmpty(t, justiceTxs, "alice broadcasts a justice transaction")
	nw.mine(1 + 6)
	require.Empty(t, a.chain.Rejected())
	// Every output of the revoked commitment is now Alice's, except the anchors.
	var bobsOld, taken int64
	for i, o := range old.TxOut {
		if o.Value == 330 {
			continue
		}
		sp := spenderOf(t, a, wire.OutPoint{Hash: old.TxHash(), Index: uint32(i)})
		taken += o.Value
		if o.Value > 300_000 {
			bobsOld = o.Value
		}
		_ = sp
	}
	require.Positive(t, bobsOld, "bob's old to_local")
	got := spendable(a.takeEvents())
	require.Greater(t, got, taken-3_000, "alice gets everything but fees (%d of %d)", got, taken)
	require.Zero(t, spendable(b.takeEvents()), "bob gets nothing")
}

// TestRestartMidStream: Bob crashes in the middle of a payment stream and restarts from his last
// persisted manager snapshot and his monitors; the payments resume and nothing is lost.
func TestRestartMidStream(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 5_000_000, 0)
	r := rand.New(rand.NewSource(3))
	logA := newPayLog()
	var snapshot []byte
	persist := func() {
		if b.cm.GetAndClearNeedsPersistence() {
			snapshot = b.cm.Write()
		}
	}
	for round := 0; round < 30; round++ {
		for k := 0; k < 1+r.Intn(3); k++ {
			amt := randAmount(r, 10_000, 3_000_000)
			if _, hash, err := nw.pay(0, 1, amt); err == nil {
				logA.amounts[hash] = amt
			}
		}
		for k := r.Intn(10); k > 0; k-- {
			nw.deliverOne(r)
			persist() // the host persists after every event it handles
		}
		evs := a.takeEvents()
		for _, e := range evs {
			if cc, ok := e.(events.ChannelClosed); ok {
				t.Fatalf("round %d: alice closed the channel: %s", round, cc.Message)
			}
		}
		logA.account(evs)
		if round%7 == 3 {
			// Crash: Bob loses everything not persisted, and the connection.
			nw.disconnect(0, 1)
			b.restart(snapshot)
			nw.connect(0, 1)
		}
	}
	for i := 0; i < 10000 && nw.deliverOne(r); i++ {
		persist()
	}
	nw.settleRandom(r)
	logA.account(a.takeEvents())
	require.Empty(t, logA.amounts, "every payment resolved: a %+v\nb %+v", a.channel(id), b.channel(id))
	checkBalances(t, a, b, id, 5_000_000_000-logA.sent)
	require.True(t, b.channel(id).IsUsable)
	closeAndCheck(t, nw, a, b, id)
}

// monitorUpdateIDs sums the latest update ids of a node's monitors.
func monitorUpdateIDs(n *testNode) uint64 {
	var s uint64
	for _, m := range n.chainMon.ListMonitors() {
		s += m.LatestUpdateID()
	}
	return s
}

// TestRestartManagerBehindMonitor: Bob's host writes his manager before it sends the messages a change
// produced, and crashes right after handling a message, so that his monitors hold updates his
// snapshot does not (and whose messages never left). On restart the channel resumes through
// channel_reestablish: no close, every payment resolves, balances agree.
func TestRestartManagerBehindMonitor(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 5_000_000, 0)
	r := rand.New(rand.NewSource(11))
	logA := newPayLog()
	snapshot := b.cm.Write()
	snapIDs := monitorUpdateIDs(b)
	persist := func() {
		if b.cm.GetAndClearNeedsPersistence() {
			snapshot = b.cm.Write()
			snapIDs = monitorUpdateIDs(b)
		}
	}
	behind := 0
	for round := 0; round < 40; round++ {
		for k := 0; k < 1+r.Intn(3); k++ {
			amt := randAmount(r, 10_000, 3_000_000)
			if _, hash, err := nw.pay(0, 1, amt); err == nil {
				logA.amounts[hash] = amt
			}
		}
		for k := 1 + r.Intn(10); k > 0; k-- {
			persist() // before deliverOne collects (sends) Bob's messages
			nw.deliverOne(r)
		}
		logA.account(a.takeEvents())
		if round%5 == 2 {
			if monitorUpdateIDs(b) > snapIDs {
				behind++
			}
			nw.disconnect(0, 1)
			b.restart(snapshot)
			snapIDs = monitorUpdateIDs(b)
			nw.connect(0, 1)
		}
		for _, n := range []*testNode{a, b} {
			for _, e := range n.takeEvents() {
				if cc, ok := e.(events.ChannelClosed); ok {
					t.Fatalf("round %d: %s closed the channel: %s", round, n.name, cc.Message)
				}
				logA.account([]events.Event{e})
			}
		}
	}
	for i := 0; i < 10000; i++ {
		persist()
		if !nw.deliverOne(r) {
			break
		}
	}
	nw.settleRandom(r)
	logA.account(a.takeEvents())
	require.Positive(t, behind, "some restarts must find the monitors ahead of the snapshot")
	require.Empty(t, logA.amounts, "every payment resolved (%d restarts behind): a %+v\nb %+v", behind, a.channel(id), b.channel(id))
	checkBalances(t, a, b, id, 5_000_000_000-logA.sent)
	require.True(t, b.channel(id).IsUsable)
	closeAndCheck(t, nw, a, b, id)
}
