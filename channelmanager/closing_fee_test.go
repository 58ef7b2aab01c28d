package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/lnwire"
)

// settleHolding delivers messages between the nodes until none are left, like settle, except those
// hold accepts: they are kept back and returned, in order.
func (nw *network) settleHolding(hold func(from int, m lnwire.Message) bool) []lnwire.Message {
	var held []lnwire.Message
	for i := 0; i < 10000; i++ {
		delivered := 0
		for from, n := range nw.nodes {
			n.handleEvents()
			for _, me := range n.cm.GetAndClearPendingMsgEvents() {
				to := nw.index(me.NodeID)
				if me.Msg == nil || to < 0 || !nw.connected[[2]int{min(from, to), max(from, to)}] {
					continue
				}
				if hold(from, me.Msg) {
					held = append(held, me.Msg)
					continue
				}
				deliver(nw.t, nw.nodes[to], n, me.Msg)
				delivered++
			}
		}
		if delivered == 0 {
			return held
		}
	}
	nw.t.Fatal("network did not settle")
	return nil
}

// forceCloseCostSat is what alice's current commitment would cost her on chain: its fee at its feerate
// and the two anchors (no HTLCs are left when closing).
func forceCloseCostSat(t *testing.T, n *testNode, id lnwire.ChannelID) int64 {
	d := n.channel(id)
	require.Equal(t, lnwire.ChannelTypeAnchors, d.ChannelType)
	return bolt3.CommitmentFeeSat(d.FeeratePerKw, 0, bolt3.ChannelTypeAnchors) + 2*330
}

// TestClosingFeeAboveOurBoundRefused: alice (the funder, who pays the closing fee) starts a
// cooperative close; bob answers with a closing_signed whose fee is almost alice's whole balance. Alice
// must never sign or broadcast that transaction: she answers with a warning (with fee_range) or with a
// counter-proposal no higher than her bound (legacy negotiation), her balance stays whole, and after a
// reconnection the close is negotiated again and completes with a normal fee.
func TestClosingFeeAboveOurBoundRefused(t *testing.T) {
	for _, withRange := range []bool{true, false} {
		name := "legacy"
		if withRange {
			name = "fee_range"
		}
		t.Run(name, func(t *testing.T) { testClosingFeeAboveBound(t, withRange) })
	}
}

func testClosingFeeAboveBound(t *testing.T, withRange bool) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 400_000_000)
	balanceA := a.channel(id).BalanceMsat
	bound := forceCloseCostSat(t, a, id) + int64(a.cfg.ChannelConfig.ForceCloseAvoidanceMaxFeeSat)
	require.Equal(t, uint64(1000), a.cfg.ChannelConfig.ForceCloseAvoidanceMaxFeeSat, "default margin")

	require.NoError(t, a.cm.CloseChannel(id, b.id))
	isAliceClosing := func(from int, m lnwire.Message) bool {
		_, ok := m.(*lnwire.ClosingSigned)
		return ok && from == 0
	}
	held := nw.settleHolding(isAliceClosing)
	require.Len(t, held, 1, "alice proposed a closing fee")
	first := held[0].(*lnwire.ClosingSigned)
	require.LessOrEqual(t, int64(first.FeeSatoshis), bound)
	require.LessOrEqual(t, int64(first.FeeRange.MaxFeeSatoshis), bound, "alice's fee_range stops at her bound")

	// Bob signs a closing transaction giving almost all of alice's balance to miners.
	greedy := int64(balanceA/1000) - 1_000
	rogue := bobSignsClosing(t, nw, b, id, greedy, withRange)
	for round := 0; round < 3; round++ {
		deliver(t, a, b, rogue)
		o := takeOutbox(a)
		require.Empty(t, o.errs, "round %d: no error, the channel stays open", round)
		for _, m := range o.others {
			cs, ok := m.(*lnwire.ClosingSigned)
			require.True(t, ok, "round %d: only closing_signed or warning: %T", round, m)
			require.LessOrEqual(t, int64(cs.FeeSatoshis), bound, "round %d: alice never signs above her bound", round)
		}
		if withRange || round > 0 {
			require.Len(t, o.warns, 1, "round %d: a fee above our bound is answered with a warning", round)
			require.Empty(t, o.others, "round %d: and no signature", round)
		}
		_, spent := a.chain.SpentBy(a.channel(id).FundingTxo)
		require.False(t, spent, "round %d: nothing broadcast", round)
	}
	a.handleEvents()
	require.Zero(t, countEvents[events.ChannelClosed](a.takeEvents()), "alice did not close")
	require.Equal(t, balanceA, a.channel(id).BalanceMsat, "alice's balance intact")

	// The channel waits for a retry: after reconnecting, the negotiation starts again and completes.
	nw.disconnect(0, 1)
	nw.connect(0, 1)
	nw.settle()
	require.Len(t, a.chain.Mempool(), 1, "closing transaction broadcast; rejected: %v", a.chain.Rejected())
	closing := a.chain.Mempool()[0]
	var out int64
	for _, o := range closing.TxOut {
		out += o.Value
	}
	fee := 1_000_000 - out
	require.Positive(t, fee)
	require.LessOrEqual(t, fee, bound, "the agreed fee is within alice's bound")
}

// bobSignsClosing builds bob's closing_signed paying feeSat, with a fee_range of exactly that fee or
// (legacy) none. It drives bob's channel state by hand, as a hostile peer would sign anything.
func bobSignsClosing(t *testing.T, nw *network, b *testNode, id lnwire.ChannelID, feeSat int64, withRange bool) *lnwire.ClosingSigned {
	ps, c := b.cm.findChannel(id)
	require.NotNil(t, c)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	require.True(t, c.shutdownSent && c.shutdownRcvd, "bob exchanged shutdown")
	m, err := c.signClosing(feeSat, feeSat, feeSat, int64(c.local.DustLimitSat))
	require.NoError(t, err)
	c.closingFeeProposedSat = -1
	if !withRange {
		m.FeeRange = nil
	}
	require.Equal(t, btcutil.Amount(feeSat), m.FeeSatoshis)
	return m
}
