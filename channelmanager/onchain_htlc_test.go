package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// htlcOutput finds the output of tx worth valueSat.
func htlcOutput(t *testing.T, tx *wire.MsgTx, valueSat int64) wire.OutPoint {
	for i, o := range tx.TxOut {
		if o.Value == valueSat {
			return wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}
		}
	}
	t.Fatalf("no output of %d sat in %s", valueSat, tx.TxHash())
	return wire.OutPoint{}
}

// TestClaimedHTLCOnCounterpartyCommitment (issue 7, item 3): Bob claims a payment (PaymentClaimed)
// while cut off from Alice, so the fulfill never reaches her; Alice force-closes. Bob's monitor
// claims the HTLC on Alice's commitment with the preimage, Alice learns the preimage from that spend
// (PaymentSent), and Bob ends with the HTLC's value.
func TestClaimedHTLCOnCounterpartyCommitment(t *testing.T) {
	bothChannelTypes(t, testClaimedHTLCOnCounterpartyCommitment)
}

func testClaimedHTLCOnCounterpartyCommitment(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 0)
	hp := holdPayment(t, nw, 0, 1, 100_000_000)
	funding := a.channel(id).FundingTxo
	nw.disconnect(0, 1)
	require.NoError(t, b.cm.ClaimFunds(hp.preimage))
	b.handleEvents()
	require.Equal(t, 1, countEvents[events.PaymentClaimed](b.takeEvents()))
	bal := b.chainMon.GetClaimableBalances()
	n, _ := balancesOf[channelmonitor.ClaimableOnChannelClose](bal)
	require.Equal(t, 1, n)

	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	evs := map[*testNode][]events.Event{}
	mineTo(nw, a.chain.Height()+1, evs)
	commit := spendOf(a.chain, funding)
	require.NotNil(t, commit)
	out := htlcOutput(t, commit, 100_000)
	bal = b.chainMon.GetClaimableBalances()
	n, sat := balancesOf[channelmonitor.ContentiousClaimable](bal)
	require.Equal(t, [2]int64{1, 100_000}, [2]int64{int64(n), sat}, "bob: the HTLC he holds the preimage of: %v", bal)

	mineTo(nw, a.chain.Height()+1, evs)
	claim := spendOf(a.chain, out)
	require.NotNil(t, claim, "bob's preimage claim confirmed")
	sent, _, failed, pre := outcomes(evs[a], hp.id)
	require.Equal(t, 1, sent, "alice learned the preimage on chain")
	require.Zero(t, failed)
	require.Equal(t, hp.preimage, pre)

	mineTo(nw, a.chain.Height()+uint32(b.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+2, evs)
	noRejections(t, a.chain)
	require.Greater(t, b.sweptSat, int64(100_000-1_000), "bob swept the HTLC")
	require.LessOrEqual(t, b.sweptSat, int64(100_000))
	commitFee := 1_000_000 - sumOut(commit)
	require.Greater(t, a.sweptSat, 900_000-commitFee-1_000, "alice her to_local")
	sent, _, failed, _ = outcomes(evs[a], hp.id)
	require.Equal(t, [2]int{1, 0}, [2]int{sent, failed}, "exactly one outcome")
	require.Empty(t, b.chainMon.GetClaimableBalances())
}

// TestClaimedHTLCGoesOnChainBeforeExpiry (issue 7, item 3, the other half): Bob claims while cut off
// and nobody closes: CLTVClaimBuffer blocks before the HTLC's expiry Bob's monitor goes on chain,
// claims with its HTLC-success transaction, and sweeps the second-stage output after Alice's
// to_self_delay. Alice learns the preimage from Bob's HTLC-success transaction.
func TestClaimedHTLCGoesOnChainBeforeExpiry(t *testing.T) {
	bothChannelTypes(t, testClaimedHTLCGoesOnChainBeforeExpiry)
}

func testClaimedHTLCGoesOnChainBeforeExpiry(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 0)
	hp := holdPayment(t, nw, 0, 1, 100_000_000)
	funding := a.channel(id).FundingTxo
	nw.disconnect(0, 1)
	require.NoError(t, b.cm.ClaimFunds(hp.preimage))
	evs := map[*testNode][]events.Event{}
	mineTo(nw, hp.expiry-channelmonitor.CLTVClaimBuffer-1, evs)
	require.Nil(t, spendOf(a.chain, funding), "not on chain before the claim buffer")
	mineTo(nw, hp.expiry-channelmonitor.CLTVClaimBuffer+1, evs)
	commit := spendOf(a.chain, funding)
	require.NotNil(t, commit, "bob went on chain")
	require.Equal(t, 1, countEvents[events.ChannelClosed](evs[b]))
	out := htlcOutput(t, commit, 100_000)
	mineTo(nw, a.chain.Height()+1, evs)
	success := spendOf(a.chain, out)
	require.NotNil(t, success, "bob's HTLC-success confirmed")
	require.Len(t, success.TxIn[0].Witness, 5)
	sent, _, _, pre := outcomes(evs[a], hp.id)
	require.Equal(t, 1, sent)
	require.Equal(t, hp.preimage, pre)
	// Bob's second-stage output is his after the to_self_delay Alice set.
	mineTo(nw, a.chain.Height()+uint32(a.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+2, evs)
	noRejections(t, a.chain)
	require.Greater(t, b.sweptSat, int64(100_000-3_000))
	require.Empty(t, b.chainMon.GetClaimableBalances())
	require.Empty(t, a.chainMon.GetClaimableBalances())
	require.True(t, mustMonitor(t, b, funding).IsFullyResolved())
}

// TestHolderCommitmentHTLCsBothWays: Alice force-closes with an HTLC in flight each way: hers times
// out through her HTLC-timeout transaction after its expiry, Bob's (whose preimage she holds) is
// claimed at once through her HTLC-success transaction, and both second-stage outputs are swept after
// to_self_delay. Balances are checked at each step.
func TestHolderCommitmentHTLCsBothWays(t *testing.T) {
	bothChannelTypes(t, testHolderCommitmentHTLCsBothWays)
}

func testHolderCommitmentHTLCsBothWays(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 300_000_000)
	out := holdPayment(t, nw, 0, 1, 100_000_000) // alice → bob, bob never claims
	in := holdPayment(t, nw, 1, 0, 50_000_000)   // bob → alice, alice claims while cut off
	funding := a.channel(id).FundingTxo
	nw.disconnect(0, 1)
	require.NoError(t, a.cm.ClaimFunds(in.preimage))
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	evs := map[*testNode][]events.Event{}
	mineTo(nw, a.chain.Height()+1, evs)
	commit := spendOf(a.chain, funding)
	require.NotNil(t, commit)
	outOP, inOP := htlcOutput(t, commit, 100_000), htlcOutput(t, commit, 50_000)
	bal := a.chainMon.GetClaimableBalances()
	n1, s1 := balancesOf[channelmonitor.MaybeTimeoutClaimableHTLC](bal)
	n2, s2 := balancesOf[channelmonitor.ContentiousClaimable](bal)
	n3, _ := balancesOf[channelmonitor.ClaimableAwaitingConfirmations](bal)
	require.Equal(t, []int64{1, 100_000, 1, 50_000, 1}, []int64{int64(n1), s1, int64(n2), s2, int64(n3)}, "%v", bal)

	mineTo(nw, a.chain.Height()+1, evs)
	require.NotNil(t, spendOf(a.chain, inOP), "HTLC-success at once")
	require.Nil(t, spendOf(a.chain, outOP), "HTLC-timeout waits for the expiry")
	mineTo(nw, out.expiry+1, evs)
	timeout := spendOf(a.chain, outOP)
	require.NotNil(t, timeout, "HTLC-timeout after the expiry")
	_, _, failed, _ := outcomes(evs[a], out.id)
	require.Zero(t, failed)
	mineTo(nw, out.expiry+1+channelmonitor.AntiReorgDelay, evs)
	_, pf, failed, _ := outcomes(evs[a], out.id)
	require.Equal(t, [2]int{1, 1}, [2]int{pf, failed})
	sent, _, _, _ := outcomes(evs[b], in.id)
	require.Equal(t, 1, sent, "bob learned the preimage from alice's HTLC-success")

	mineTo(nw, out.expiry+uint32(b.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+3, evs)
	noRejections(t, a.chain)
	commitFee := 1_000_000 - sumOut(commit)
	// Alice had 700,000 - 100,000 (offered) sat, plus both HTLCs back: 650,000 + 100,000 + 50,000.
	wantA := int64(700_000-100_000+100_000+50_000) - commitFee
	require.Greater(t, a.sweptSat, wantA-6_000, "alice: to_local and both HTLCs less sweep and HTLC fees")
	require.LessOrEqual(t, a.sweptSat, wantA)
	require.Greater(t, b.sweptSat, int64(300_000-50_000-1_000), "bob: his to_remote")
	require.Empty(t, a.chainMon.GetClaimableBalances())
}

// TestCounterpartyCommitmentHTLCsBothWays: Bob force-closes with an HTLC in flight each way. Alice
// claims Bob's HTLC (whose preimage she holds) directly with the preimage, and takes hers back directly
// after its expiry; Bob's own attempt at timing out the HTLC she claimed finds it spent, and he learns
// the preimage.
func TestCounterpartyCommitmentHTLCsBothWays(t *testing.T) {
	bothChannelTypes(t, testCounterpartyCommitmentHTLCsBothWays)
}

func testCounterpartyCommitmentHTLCsBothWays(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 300_000_000)
	out := holdPayment(t, nw, 0, 1, 100_000_000)
	in := holdPayment(t, nw, 1, 0, 50_000_000)
	funding := a.channel(id).FundingTxo
	nw.disconnect(0, 1)
	require.NoError(t, a.cm.ClaimFunds(in.preimage))
	require.NoError(t, b.cm.ForceCloseBroadcastingLatestTxn(id, a.id))
	evs := map[*testNode][]events.Event{}
	mineTo(nw, a.chain.Height()+2, evs)
	commit := spendOf(a.chain, funding)
	require.NotNil(t, commit)
	inOP := htlcOutput(t, commit, 50_000)
	claim := spendOf(a.chain, inOP)
	require.NotNil(t, claim, "alice claimed with the preimage")
	require.Len(t, claim.TxIn[0].Witness, 3, "directly, not through a second-stage transaction")
	sent, _, _, _ := outcomes(evs[b], in.id)
	require.Equal(t, 1, sent)

	outOP := htlcOutput(t, commit, 100_000)
	mineTo(nw, out.expiry, evs)
	require.Nil(t, spendOf(a.chain, outOP), "not before the expiry")
	mineTo(nw, out.expiry+1, evs)
	require.NotNil(t, spendOf(a.chain, outOP), "alice took hers back after the expiry")
	mineTo(nw, out.expiry+channelmonitor.AntiReorgDelay+1, evs)
	_, pf, failed, _ := outcomes(evs[a], out.id)
	require.Equal(t, [2]int{1, 1}, [2]int{pf, failed})
	mineTo(nw, a.chain.Height()+uint32(a.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay, evs)
	noRejections(t, a.chain)
	require.Greater(t, a.sweptSat, int64(600_000+100_000+50_000-4_000))
	require.LessOrEqual(t, a.sweptSat, int64(750_000))
	commitFee := 1_000_000 - sumOut(commit)
	require.Greater(t, b.sweptSat, 300_000-50_000-commitFee-2_000, "bob's to_local")
	require.Empty(t, a.chainMon.GetClaimableBalances())
	require.Empty(t, b.chainMon.GetClaimableBalances())
}

// TestDustHTLCFailedOnChain: an HTLC below the dust limit has no output; once the commitment is
// AntiReorgDelay deep its payment fails.
func TestDustHTLCFailedOnChain(t *testing.T) { bothChannelTypes(t, testDustHTLCFailedOnChain) }

func testDustHTLCFailedOnChain(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 0)
	hp := holdPayment(t, nw, 0, 1, 200_000) // 200 sat: trimmed
	nw.disconnect(0, 1)
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	evs := map[*testNode][]events.Event{}
	start := a.chain.Height()
	mineTo(nw, start+channelmonitor.AntiReorgDelay-1, evs)
	_, _, failed, _ := outcomes(evs[a], hp.id)
	require.Zero(t, failed, "not before the commitment is deep")
	mineTo(nw, start+channelmonitor.AntiReorgDelay, evs)
	_, pf, failed, _ := outcomes(evs[a], hp.id)
	require.Equal(t, [2]int{1, 1}, [2]int{pf, failed})
}

// TestOnchainOutcomeSurvivesRestart: Alice's payment times out on chain and her monitor reports it, but
// her manager crashes before it is written again: restarted from the older snapshot, it learns the
// outcome from the monitor and fails the payment once.
func TestOnchainOutcomeSurvivesRestart(t *testing.T) {
	nw, a, b, id := onchainPair(t, false, 1_000_000, 0)
	hp := holdPayment(t, nw, 0, 1, 100_000_000)
	nw.disconnect(0, 1)
	snap := a.cm.Write() // the last snapshot before the outcome
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	evs := map[*testNode][]events.Event{}
	mineTo(nw, hp.expiry+channelmonitor.AntiReorgDelay+2, evs)
	_, _, failed, _ := outcomes(evs[a], hp.id)
	require.Equal(t, 1, failed, "the outcome was reported before the crash")
	// The crash loses the manager's events and everything since snap; the monitors are durable.
	a.restart(snap)
	a.handleEvents()
	_, pf, failed, _ := outcomes(a.takeEvents(), hp.id)
	require.Equal(t, [2]int{1, 1}, [2]int{pf, failed}, "learned again from the monitor")
	a.restart(a.cm.Write())
	a.handleEvents()
	_, _, failed, _ = outcomes(a.takeEvents(), hp.id)
	require.Zero(t, failed, "once settled, not again")
}
