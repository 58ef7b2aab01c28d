package channelmanager

import (
	"crypto/sha256"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
)

// onchainPair opens a channel of valueSat from alice to bob (pushing pushMsat), with anchors or as a
// static_remotekey channel.
func onchainPair(t *testing.T, anchors bool, valueSat int64, pushMsat uint64) (*network, *testNode, *testNode, lnwire.ChannelID) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	for _, n := range []*testNode{a, b} {
		n.cfg.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx = anchors
		n.start(nil)
	}
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, valueSat, pushMsat)
	if anchors {
		for _, n := range []*testNode{a, b} {
			n.withBumpHandler(1_000_000)
		}
		nw.settle()
	}
	a.takeEvents()
	b.takeEvents()
	return nw, a, b, id
}

// heldPayment is a payment the payee received and holds (it does not claim on its own).
type heldPayment struct {
	id       events.PaymentID
	hash     [32]byte
	preimage [32]byte
	expiry   uint32
}

// holdPayment sends amountMsat from node `from` to node `to`, which holds it unclaimed.
func holdPayment(t *testing.T, nw *network, from, to int, amountMsat uint64) heldPayment {
	B := nw.nodes[to]
	B.autoClaim = false
	height := B.chain.Height()
	id, hash, err := nw.pay(from, to, amountMsat)
	require.NoError(t, err)
	nw.settle()
	var hp heldPayment
	for _, e := range B.takeEvents() {
		if pc, ok := e.(events.PaymentClaimable); ok && pc.PaymentHash == hash {
			hp = heldPayment{id: id, hash: hash, preimage: *pc.Purpose.PaymentPreimage}
		}
	}
	require.NotZero(t, hp.preimage, "payee got PaymentClaimable")
	hp.expiry = height + DefaultMinFinalCLTVExpiryDelta + 6
	return hp
}

// outcomes counts a payment's terminal events in evs.
func outcomes(evs []events.Event, id events.PaymentID) (sent, pathFailed, failed int, preimage [32]byte) {
	for _, e := range evs {
		switch ev := e.(type) {
		case events.PaymentSent:
			if ev.PaymentID == id {
				sent++
				preimage = ev.PaymentPreimage
			}
		case events.PaymentPathFailed:
			if ev.PaymentID == id {
				pathFailed++
			}
		case events.PaymentFailed:
			if ev.PaymentID == id {
				failed++
			}
		}
	}
	return
}

// mineTo mines one block at a time (letting the nodes react) until the tip is at height, collecting
// every event of both nodes.
func mineTo(nw *network, height uint32, evs map[*testNode][]events.Event) {
	for nw.nodes[0].chain.Height() < height {
		nw.mine(1)
		for _, n := range nw.nodes {
			evs[n] = append(evs[n], n.takeEvents()...)
		}
	}
}

// noRejections fails if the chain refused any transaction the nodes broadcast.
func noRejections(t *testing.T, c *testchain.Chain) {
	for _, r := range c.Rejected() {
		t.Errorf("broadcast refused: %s: %v", r.Txid, r.Err)
	}
}

// spendOf returns the confirmed transaction spending op, or nil.
func spendOf(c *testchain.Chain, op wire.OutPoint) *wire.MsgTx {
	txid, ok := c.SpentBy(op)
	if !ok {
		return nil
	}
	tx, h, ok := c.GetTransaction(txid)
	if !ok || h == 0 {
		return nil
	}
	return tx
}

func balancesOf[T channelmonitor.Balance](bs []channelmonitor.Balance) (n int, sat int64) {
	for _, b := range bs {
		if x, ok := b.(T); ok {
			n++
			sat += x.ClaimableAmountSat()
		}
	}
	return
}

// TestOutgoingHTLCTimesOutOnChain (issue 7, item 2): Alice pays Bob, who goes silent with the HTLC.
// LatencyGracePeriodBlocks past its expiry Alice's monitor goes on chain on its own, times the HTLC out
// with her HTLC-timeout transaction, fails the payment once that is AntiReorgDelay deep, and sweeps
// the second-stage output after to_self_delay: she ends with the whole channel less fees.
func TestOutgoingHTLCTimesOutOnChain(t *testing.T) {
	bothChannelTypes(t, testOutgoingHTLCTimesOutOnChain)
}

func testOutgoingHTLCTimesOutOnChain(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 0)
	hp := holdPayment(t, nw, 0, 1, 100_000_000)
	funding := a.channel(id).FundingTxo
	nw.disconnect(0, 1)
	evs := map[*testNode][]events.Event{}

	bal := a.chainMon.GetClaimableBalances()
	n, sat := balancesOf[channelmonitor.ClaimableOnChannelClose](bal)
	require.Equal(t, 1, n)
	require.Greater(t, sat, int64(880_000), "alice's to_local on her commitment")

	mineTo(nw, hp.expiry+channelmonitor.LatencyGracePeriodBlocks-1, evs)
	require.Nil(t, spendOf(a.chain, funding), "nothing on chain before the grace period ends")
	mineTo(nw, hp.expiry+channelmonitor.LatencyGracePeriodBlocks+1, evs)
	commit := spendOf(a.chain, funding)
	require.NotNil(t, commit, "alice's monitor went on chain")
	require.Equal(t, 1, countEvents[events.ChannelClosed](evs[a]))
	var htlcOut wire.OutPoint
	for i, o := range commit.TxOut {
		if o.Value == 100_000 {
			htlcOut = wire.OutPoint{Hash: commit.TxHash(), Index: uint32(i)}
		}
	}
	require.NotZero(t, htlcOut.Hash)
	bal = a.chainMon.GetClaimableBalances()
	n, sat = balancesOf[channelmonitor.MaybeTimeoutClaimableHTLC](bal)
	require.Equal(t, 1, n)
	require.Equal(t, int64(100_000), sat)

	// The HTLC-timeout transaction confirms in the next block; the payment fails only when it is
	// AntiReorgDelay deep.
	mineTo(nw, a.chain.Height()+1, evs)
	timeoutTx := spendOf(a.chain, htlcOut)
	require.NotNil(t, timeoutTx, "HTLC-timeout confirmed")
	timeoutHeight := a.chain.Height()
	_, _, failed, _ := outcomes(evs[a], hp.id)
	require.Zero(t, failed)
	mineTo(nw, timeoutHeight+channelmonitor.AntiReorgDelay-2, evs)
	_, _, failed, _ = outcomes(evs[a], hp.id)
	require.Zero(t, failed, "not failed before AntiReorgDelay")
	mineTo(nw, timeoutHeight+channelmonitor.AntiReorgDelay-1, evs)
	sent, pathFailed, failed, _ := outcomes(evs[a], hp.id)
	require.Equal(t, [3]int{0, 1, 1}, [3]int{sent, pathFailed, failed})

	// Everything swept: the second-stage output after to_self_delay, to_local likewise.
	mineTo(nw, timeoutHeight+uint32(b.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+2, evs)
	noRejections(t, a.chain)
	commitFee := 1_000_000 - sumOut(commit)
	require.Greater(t, a.sweptSat, 1_000_000-commitFee-3_000, "alice gets everything back less fees")
	require.LessOrEqual(t, a.sweptSat, 1_000_000-commitFee)
	require.Zero(t, b.sweptSat)
	require.Empty(t, a.chainMon.GetClaimableBalances())
	require.True(t, mustMonitor(t, a, funding).IsFullyResolved())
	require.Equal(t, []wire.OutPoint{funding}, a.chainMon.ArchiveFullyResolvedChannelMonitors())
	_ = sha256.Sum256
}

func sumOut(tx *wire.MsgTx) int64 {
	var s int64
	for _, o := range tx.TxOut {
		s += o.Value
	}
	return s
}

func mustMonitor(t *testing.T, n *testNode, op wire.OutPoint) *channelmonitor.ChannelMonitor {
	m, ok := n.chainMon.GetMonitor(op)
	require.True(t, ok)
	return m
}

// bothChannelTypes runs an on-chain test on a static_remotekey channel and on an anchor channel (whose
// nodes answer BumpTransaction events with the library's default handler).
func bothChannelTypes(t *testing.T, f func(t *testing.T, anchors bool)) {
	t.Run("static_remotekey", func(t *testing.T) { f(t, false) })
	t.Run("anchors", func(t *testing.T) { f(t, true) })
}

// recordingFilter remembers the outputs a ChainMonitor asks the host to watch.
type recordingFilter struct{ outputs []wire.OutPoint }

func (f *recordingFilter) RegisterTx(chainhash.Hash, []byte) {}
func (f *recordingFilter) RegisterOutput(o chaininterface.WatchedOutput) {
	f.outputs = append(f.outputs, o.OutPoint)
}

// TestFilterLearnsClaimedOutputs: a host that feeds filtered blocks (Confirm) is told, through its
// Filter, every output the monitor claims, so that their spends — ours or the counterparty's — reach
// the monitor: after Alice's commitment confirms, its to_local and HTLC outputs are registered.
func TestFilterLearnsClaimedOutputs(t *testing.T) {
	nw, a, b, id := onchainPair(t, false, 1_000_000, 0)
	holdPayment(t, nw, 0, 1, 100_000_000)
	f := &recordingFilter{}
	a.filter = f
	snap := a.cm.Write()
	nw.disconnect(0, 1)
	a.restart(snap)
	funding := a.channel(id).FundingTxo
	require.Contains(t, f.outputs, funding, "the funding output is watched")
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	nw.mine(1)
	commit := spendOf(a.chain, funding)
	require.NotNil(t, commit)
	var claimed int
	for _, op := range f.outputs {
		if op.Hash == commit.TxHash() {
			claimed++
		}
	}
	require.Equal(t, 2, claimed, "to_local and the HTLC output: %v", f.outputs)
}

// TestFullyResolvedWhileToLocalLocked: while our to_local waits for its delay the monitor is not fully
// resolved (it used to dereference the missing HTLC of that claim and panic; found by the lnd interop
// suite when the node archived monitors).
func TestFullyResolvedWhileToLocalLocked(t *testing.T) {
	nw, a, b, id := onchainPair(t, false, 1_000_000, 0)
	funding := a.channel(id).FundingTxo
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	mineTo(nw, a.chain.Height()+channelmonitor.AntiReorgDelay+1, map[*testNode][]events.Event{})
	require.False(t, mustMonitor(t, a, funding).IsFullyResolved())
	require.Empty(t, a.chainMon.ArchiveFullyResolvedChannelMonitors())
}

// TestBalanceCountsClaimedHTLCs: while the channel is open, an HTLC offered to us whose preimage we
// handed over (ClaimFunds), and which the counterparty has not removed yet, counts in
// ClaimableOnChannelClose.
func TestBalanceCountsClaimedHTLCs(t *testing.T) {
	nw, _, b, _ := onchainPair(t, false, 1_000_000, 300_000_000)
	hp := holdPayment(t, nw, 0, 1, 100_000_000)
	nw.disconnect(0, 1)
	_, before := balancesOf[channelmonitor.ClaimableOnChannelClose](b.chainMon.GetClaimableBalances())
	require.NoError(t, b.cm.ClaimFunds(hp.preimage))
	_, after := balancesOf[channelmonitor.ClaimableOnChannelClose](b.chainMon.GetClaimableBalances())
	require.Equal(t, before+100_000, after)
}
