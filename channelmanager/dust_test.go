package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
)

// twoNodesWith is twoNodes with each node's config changed by tweak (node 0 is alice, 1 is bob).
func twoNodesWith(t *testing.T, tweak func(node int, c *config.UserConfig)) (*network, *testNode, *testNode) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	for i, n := range []*testNode{a, b} {
		tweak(i, &n.cfg)
		n.start(nil)
	}
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	return nw, a, b
}

// TestDustExposureDefault: the default limit is LDK's former fixed default, 5,000,000 msat.
func TestDustExposureDefault(t *testing.T) {
	require.Equal(t, uint64(5_000_000), config.Default().ChannelConfig.MaxDustHTLCExposureMsat)
}

// TestDustExposureOutgoing: alice's limit is 1,000,000 msat; on an anchor channel every HTLC under the
// 354 sat dust limit is trimmed from both commitments. Three 300,000 msat HTLCs in flight fit; a
// fourth is refused (ErrChannelUnavailable) while an HTLC that is not dust still goes; once the three
// settle, dust may be sent again.
func TestDustExposureOutgoing(t *testing.T) {
	nw, a, b := twoNodesWith(t, func(node int, c *config.UserConfig) {
		if node == 0 {
			c.ChannelConfig.MaxDustHTLCExposureMsat = 1_000_000
		}
	})
	id := nw.openChannel(0, 1, 1_000_000, 0)
	for i := 0; i < 3; i++ {
		_, _, err := nw.pay(0, 1, 300_000)
		require.NoError(t, err, "dust HTLC %d", i)
	}
	_, _, err := nw.pay(0, 1, 300_001)
	require.ErrorIs(t, err, ErrChannelUnavailable)
	require.ErrorContains(t, err, "dust")
	_, _, err = nw.pay(0, 1, 400_000)
	require.NoError(t, err, "an HTLC above the dust limit adds no dust exposure")
	nw.settle()
	require.Equal(t, 4, countEvents[events.PaymentSent](a.takeEvents()))
	_, _, err = nw.pay(0, 1, 300_002)
	require.NoError(t, err, "the exposure is gone once the HTLCs are settled")
	nw.settle()
	checkBalances(t, a, b, id, 1_000_000_000-1_600_002)
}

// TestDustExposureIncoming: bob's limit is 1,000,000 msat and alice sends four 300,000 msat dust HTLCs
// in one commitment. Bob accepts the first three and fails the fourth back with
// temporary_channel_failure once it is committed; nobody closes.
func TestDustExposureIncoming(t *testing.T) {
	nw, a, b := twoNodesWith(t, func(node int, c *config.UserConfig) {
		if node == 1 {
			c.ChannelConfig.MaxDustHTLCExposureMsat = 1_000_000
		}
	})
	id := nw.openChannel(0, 1, 1_000_000, 0)
	for i := 0; i < 4; i++ {
		_, _, err := nw.pay(0, 1, 300_000+uint64(i))
		require.NoError(t, err)
	}
	nw.settle()
	evA, evB := a.takeEvents(), b.takeEvents()
	require.Equal(t, 3, countEvents[events.PaymentSent](evA))
	require.Equal(t, 3, countEvents[events.PaymentClaimed](evB))
	require.Equal(t, 1, countEvents[events.PaymentFailed](evA))
	for _, e := range evA {
		if pf, ok := e.(events.PaymentPathFailed); ok {
			require.Equal(t, uint16(sphinx.TemporaryChannelFailure), pf.FailureCode, "temporary_channel_failure")
		}
	}
	require.Zero(t, countEvents[events.ChannelClosed](evA)+countEvents[events.ChannelClosed](evB))
	checkBalances(t, a, b, id, 1_000_000_000-900_003)
}

// nonAnchorDustSetup opens a static_remotekey channel (HTLC transactions pay fees, so a higher feerate
// trims more HTLCs) and leaves n unclaimed 600 sat HTLCs from alice to bob: not dust at 253 sat/kw,
// dust at 2,000 sat/kw (the HTLC-timeout and -success fees exceed 1,300 sat).
func nonAnchorDustSetup(t *testing.T, n int, limitA, limitB uint64) (*network, *testNode, *testNode, lnwire.ChannelID) {
	nw, a, b := twoNodesWith(t, func(node int, c *config.UserConfig) {
		c.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx = false
		c.ChannelConfig.MaxDustHTLCExposureMsat = []uint64{limitA, limitB}[node]
	})
	b.autoClaim = false
	id := nw.openChannel(0, 1, 1_000_000, 0)
	require.Equal(t, lnwire.ChannelTypeStaticRemoteKey, a.channel(id).ChannelType)
	for i := 0; i < n; i++ {
		_, _, err := nw.pay(0, 1, 600_000+uint64(i))
		require.NoError(t, err)
	}
	nw.settle()
	require.Equal(t, n, b.channel(id).NumPendingHTLCs)
	a.chain.SetDefaultFeeratePerKw(2_000)
	return nw, a, b, id
}

// TestDustExposureUpdateFee: alice (the funder) raises the feerate to 2,000 sat/kw, which trims bob's
// pending 600 sat HTLCs. With three of them (1.8M msat) bob stays under his 2M msat limit and takes
// the update; with four (2.4M msat) the update would push him over, and bob fails the channel as LDK
// does (the funder controls the feerate, so a peer raising it into our dust limit is not trusted).
func TestDustExposureUpdateFee(t *testing.T) {
	nw, a, b, id := nonAnchorDustSetup(t, 3, 5_000_000, 2_000_000)
	a.cm.TimerTickOccurred()
	nw.settle()
	require.Equal(t, uint32(2_000), b.channel(id).FeeratePerKw, "bob took the update")
	require.True(t, b.channel(id).IsUsable)

	nw, a, b, id = nonAnchorDustSetup(t, 4, 5_000_000, 2_000_000)
	counts := countMessages(nw)
	a.cm.TimerTickOccurred()
	nw.settle()
	require.Equal(t, 1, counts[[2]int{0, 1}][lnwire.MsgUpdateFee], "alice sent update_fee")
	require.Positive(t, counts[[2]int{1, 0}][lnwire.MsgError], "bob refused it (and repeats his error to alice's commitment_signed)")
	b.handleEvents()
	ev := requireClosed(t, b.takeEvents(), id, events.ProcessingError)
	require.Contains(t, ev.Message, "dust")
}

// TestDustExposureOwnUpdateFee: alice's own limit is 2M msat. With four 600 sat HTLCs pending, raising
// the feerate to 2,000 sat/kw would trim 2.4M msat: she does not send update_fee (and retries on later
// ticks); with three she does.
func TestDustExposureOwnUpdateFee(t *testing.T) {
	nw, a, b, id := nonAnchorDustSetup(t, 4, 2_000_000, 5_000_000)
	counts := countMessages(nw)
	a.cm.TimerTickOccurred()
	nw.settle()
	require.Zero(t, counts[[2]int{0, 1}][lnwire.MsgUpdateFee], "no update_fee that would push alice over")
	require.Equal(t, uint32(253), a.channel(id).FeeratePerKw)
	require.True(t, a.channel(id).IsUsable && b.channel(id).IsUsable)

	nw, a, _, id = nonAnchorDustSetup(t, 3, 2_000_000, 5_000_000)
	a.cm.TimerTickOccurred()
	nw.settle()
	require.Equal(t, uint32(2_000), a.channel(id).FeeratePerKw)
}
