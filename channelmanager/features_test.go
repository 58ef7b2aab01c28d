package channelmanager

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
)

// TestUpdateFeeOnTimerTick: when the fee estimate moves past the threshold, the funder sends
// update_fee on its next tick; both commitments take the new feerate and balances still agree.
func TestUpdateFeeOnTimerTick(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	require.Equal(t, uint32(253), a.channel(id).FeeratePerKw)
	a.chain.SetDefaultFeeratePerKw(2_000)
	b.cm.TimerTickOccurred() // the fundee never sends update_fee
	nw.settle()
	require.Equal(t, uint32(253), a.channel(id).FeeratePerKw)
	a.cm.TimerTickOccurred()
	nw.settle()
	require.Equal(t, uint32(2_000), a.channel(id).FeeratePerKw)
	require.Equal(t, uint32(2_000), b.channel(id).FeeratePerKw)
	// A small move does nothing.
	a.chain.SetDefaultFeeratePerKw(2_100)
	a.cm.TimerTickOccurred()
	nw.settle()
	require.Equal(t, uint32(2_000), a.channel(id).FeeratePerKw)
	_, _, err := nw.pay(0, 1, 10_000_000)
	require.NoError(t, err)
	nw.settle()
	checkBalances(t, a, b, id, 990_000_000)
	// The new feerate is on chain: force close and check the commitment's fee.
	funding := a.channel(id).FundingTxo
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	nw.settle()
	a.chain.MineBlocks(1)
	commit := spenderOf(t, a, funding)
	require.Equal(t, int64(1124*2_000/1000), commitFee(commit, 1_000_000), "anchors commitment fee at 2000 sat/kw")
}

// TestEventsAtLeastOnce: an event whose handler fails is handed over again, with those after it.
func TestEventsAtLeastOnce(t *testing.T) {
	nw, a, b := twoNodes(t)
	nw.openChannel(0, 1, 1_000_000, 0)
	b.autoClaim = false
	_, hash, err := nw.pay(0, 1, 5_000_000)
	require.NoError(t, err)
	nw.settle()
	b.takeEvents()
	// Bob's claimable event was already consumed by the harness; make a second payment and fail the handler.
	_, hash2, err := nw.pay(0, 1, 6_000_000)
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		for _, n := range nw.nodes[:1] {
			n.handleEvents()
		}
		for _, me := range a.cm.GetAndClearPendingMsgEvents() {
			m := roundTrip(t, me.Msg)
			b.cm.HandleChannelMessage(a.id, m)
		}
		for _, me := range b.cm.GetAndClearPendingMsgEvents() {
			a.cm.HandleChannelMessage(b.id, roundTrip(t, me.Msg))
		}
	}
	fail := errors.New("handler busy")
	var seen []events.Event
	require.ErrorIs(t, b.cm.ProcessPendingEvents(func(e events.Event) error { seen = append(seen, e); return fail }), fail)
	require.Len(t, seen, 1)
	var again []events.Event
	require.NoError(t, b.cm.ProcessPendingEvents(func(e events.Event) error { again = append(again, e); return nil }))
	require.NotEmpty(t, again)
	require.Equal(t, seen[0], again[0], "the failed event comes again first")
	pc, ok := again[0].(events.PaymentClaimable)
	require.True(t, ok)
	require.Equal(t, hash2, pc.PaymentHash)
	require.NoError(t, b.cm.ProcessPendingEvents(func(events.Event) error { t.Fatal("no event left"); return nil }))
	_ = hash
}

func roundTrip(t testing.TB, m lnwire.Message) lnwire.Message {
	b, err := lnwire.EncodeMessage(m)
	require.NoError(t, err)
	d, err := lnwire.DecodeMessage(b)
	require.NoError(t, err)
	return d
}

// TestAsyncPersistence: with a persister that answers InProgress, the messages that depend on an
// update wait until ChannelMonitorUpdated; then everything proceeds.
func TestAsyncPersistence(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	b.persist.mu.Lock()
	b.persist.async = true
	b.persist.mu.Unlock()
	_, _, err := nw.pay(0, 1, 7_000_000)
	require.NoError(t, err)
	nw.settle()
	require.Zero(t, countEvents[events.PaymentSent](a.takeEvents()), "bob's revoke_and_ack is held")
	require.NotZero(t, b.channel(id).NumPendingHTLCs)
	// Complete Bob's persistence, repeatedly, until the payment completes.
	for i := 0; i < 20; i++ {
		b.persist.mu.Lock()
		pending := b.persist.inFlight
		b.persist.inFlight = map[wire.OutPoint][]uint64{}
		b.persist.mu.Unlock()
		for op, ids := range pending {
			require.NoError(t, b.chainMon.ChannelMonitorUpdated(op, ids[len(ids)-1]))
		}
		nw.settle()
	}
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))
	checkBalances(t, a, b, id, 993_000_000)
}

// TestManualAcceptAndStaticRemoteKey: with manual acceptance the fundee gets OpenChannelRequest; a peer
// without anchors gets a static_remotekey channel.
func TestManualAcceptAndStaticRemoteKey(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	b.cfg.ManuallyAcceptInboundChannels = true
	b.cfg.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx = false
	b.start(nil)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	chain.FundAddress(a.wallet.PkScript(), 2_000_000)
	chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(b.id, 1_000_000, 0, [16]byte{7}, nil)
	require.NoError(t, err)
	nw.settle()
	evs := b.takeEvents()
	require.Equal(t, 1, countEvents[events.OpenChannelRequest](evs))
	req := evs[0].(events.OpenChannelRequest)
	require.Equal(t, lnwire.ChannelTypeStaticRemoteKey, req.ChannelType)
	require.NoError(t, b.cm.AcceptInboundChannel(req.TemporaryChannelID, a.id, [16]byte{9}))
	nw.settle()
	chain.MineBlocks(3)
	nw.settle()
	require.Equal(t, 1, countEvents[events.ChannelReady](a.takeEvents()))
	chans := b.cm.ListUsableChannels()
	require.Len(t, chans, 1)
	require.Equal(t, lnwire.ChannelTypeStaticRemoteKey, chans[0].ChannelType)
	require.Equal(t, [16]byte{9}, chans[0].UserChannelID)
	_, _, err = nw.pay(0, 1, 20_000_000)
	require.NoError(t, err)
	nw.settle()
	checkBalances(t, a, b, chans[0].ChannelID, 980_000_000)
	closeAndCheck(t, nw, a, b, chans[0].ChannelID)
}
