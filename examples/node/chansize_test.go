package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// TestChannelMinimum: the smallest channel leaves the funder at least the dust limit to send after the
// reserve, the anchors and the commitment fee the channel manager holds back (twice the feerate, two
// HTLC outputs): 8,708 sat with anchors at 2,500 sat/kw.
func TestChannelMinimum(t *testing.T) {
	h := config.Default().ChannelHandshakeConfig
	m := newChannelMin(true, 2500, h)
	require.EqualValues(t, 7340, m.feeSat, "2 x 2500 sat/kw x (1124 + 2 x 172) wu")
	require.EqualValues(t, 660, m.anchorsSat)
	require.EqualValues(t, 7340+660+354+354, m.minSat)
	require.True(t, m.ok(m.minSat, 0))
	require.False(t, m.ok(m.minSat-1, 0))
	require.EqualValues(t, 354_000, m.sendableMsat(m.minSat, 0))
	require.False(t, m.ok(m.minSat, 1000), "push_msat comes on top")
	require.True(t, m.ok(m.minSat+1, 1000))
	require.Contains(t, m.explain(0), "the smallest channel now is 8708 sat")

	plain := newChannelMin(false, 2500, h)
	require.EqualValues(t, 5340, plain.feeSat, "2 x 2500 sat/kw x (724 + 2 x 172) wu")
	require.EqualValues(t, 5340+354+354, plain.minSat)

	// At a high feerate the reserve is 1% of the amount, above the dust limit.
	high := newChannelMin(true, 50_000, h)
	require.Greater(t, high.reserveSat(high.minSat), int64(354))
	require.True(t, high.ok(high.minSat, 0))
	require.False(t, high.ok(high.minSat-1, 0))
}

// TestOpenChannelSizeAndBroadcast: openchannel refuses a channel too small to send anything from (invalid
// params, saying the minimum) and one too large; a funding transaction btcd refuses is an error, not a
// success; a channel of the minimum opens with something to send, and sends it.
func TestOpenChannelSizeAndBroadcast(t *testing.T) {
	btcd := newFakeBtcd(t)
	a := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	b := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	fundNode(t, btcd, a, 200_000)
	fundNode(t, btcd, a, 200_000)
	fundNode(t, btcd, a, 20_000_000)
	svc := &service{n: a}
	ctx := context.Background()
	bID := nodeIDHex(b.nodeID)
	_, err := svc.Connect(ctx, nodeapi.ConnectParams{NodeID: bID, Address: b.listenAddr()})
	require.NoError(t, err)
	m := a.channelMinimum(b.nodeID, nil)
	require.True(t, m.anchors)
	require.EqualValues(t, 8708, m.minSat, "the fake btcd has no fee estimates: 2,500 sat/kw")

	for _, amt := range []int64{1000, 2000, 5000, m.minSat - 1} {
		_, err = svc.OpenChannel(ctx, nodeapi.OpenChannelParams{NodeID: bID, AmountSat: amt})
		require.ErrorIs(t, err, nodeapi.ErrInvalidParams, amt)
		require.ErrorContains(t, err, "the smallest channel now is 8708 sat", amt)
	}
	_, err = svc.OpenChannel(ctx, nodeapi.OpenChannelParams{NodeID: bID, AmountSat: maxChannelSat + 1})
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
	require.ErrorContains(t, err, "at most 16777215")
	require.Empty(t, a.cm.ListChannels())

	btcd.refuseTransactions("min relay fee not met")
	_, err = svc.OpenChannel(ctx, nodeapi.OpenChannelParams{NodeID: bID, AmountSat: 50_000})
	require.ErrorContains(t, err, "btcd refused the funding transaction")
	require.ErrorContains(t, err, "min relay fee not met")
	require.False(t, errors.Is(err, nodeapi.ErrInvalidParams))
	btcd.refuseTransactions("")

	res, err := svc.OpenChannel(ctx, nodeapi.OpenChannelParams{NodeID: bID, AmountSat: m.minSat})
	require.NoError(t, err)
	txid, err := chainhash.NewHashFromStr(res.FundingTxid)
	require.NoError(t, err)
	require.True(t, btcd.inMempool(*txid))
	btcd.mineMempool()
	var c, cb channelmanager.ChannelDetails
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cb = channelWithFunding(a, res.FundingTxid), channelWithFunding(b, res.FundingTxid)
		if c.IsUsable && cb.IsUsable {
			break
		}
		require.True(t, time.Now().Before(deadline), "the channel becomes usable")
		btcd.mine()
		time.Sleep(50 * time.Millisecond)
	}
	require.EqualValues(t, m.minSat, c.ChannelValueSat)
	require.GreaterOrEqual(t, c.OutboundCapacityMsat, uint64(354_000), "the funder can send the dust limit")
	p, err := svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: bID, AmountMsat: 354_000})
	require.NoError(t, err)
	require.Equal(t, nodeapi.StatusSucceeded, p.Status, p.FailureReason)
}

// channelWithFunding is n's channel funded by txid (zero details if none).
func channelWithFunding(n *Node, txid string) (c channelmanager.ChannelDetails) {
	for _, ch := range n.cm.ListChannels() {
		if ch.FundingTxo.Hash.String() == txid {
			return ch
		}
	}
	return c
}

// TestCloseChannelReturnsTheClosingTxid: closechannel answers with the closing transaction's id: our
// commitment's for a force close, the cooperative closing transaction's once agreed; both are in
// btcd's mempool. An unknown channel id is invalid params.
func TestCloseChannelReturnsTheClosingTxid(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 100_000)
	fundNode(t, btcd, a, 200_000)
	first, _ := channelWith(a, b)
	openTestChannel(t, btcd, a, b, 60_000)
	var second channelmanager.ChannelDetails
	for _, c := range a.cm.ListChannels() {
		if c.ChannelID != first.ChannelID {
			second = c
		}
	}
	require.EqualValues(t, 60_000, second.ChannelValueSat)
	svc := &service{n: a}
	ctx := context.Background()

	mon, ok := a.chainMon.GetMonitor(second.FundingTxo)
	require.True(t, ok)
	commitment, err := mon.LatestHolderCommitmentTx()
	require.NoError(t, err)
	res, err := svc.CloseChannel(ctx, nodeapi.CloseChannelParams{ChannelID: second.ChannelID.String(), Force: true})
	require.NoError(t, err)
	require.Equal(t, commitment.TxHash().String(), res.ClosingTxid, "a force close closes with our commitment")
	forceTxid := commitment.TxHash()
	require.Eventually(t, func() bool { return btcd.inMempool(forceTxid) }, 10*time.Second, 10*time.Millisecond)

	res, err = svc.CloseChannel(ctx, nodeapi.CloseChannelParams{ChannelID: first.ChannelID.String()})
	require.NoError(t, err)
	require.NotEmpty(t, res.ClosingTxid, "the cooperative close was agreed within the call")
	coopTxid, err := chainhash.NewHashFromStr(res.ClosingTxid)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return btcd.inMempool(*coopTxid) }, 10*time.Second, 10*time.Millisecond)
	require.NotEqual(t, forceTxid, *coopTxid)

	_, err = svc.CloseChannel(ctx, nodeapi.CloseChannelParams{ChannelID: strings.Repeat("ab", 32)})
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
}
