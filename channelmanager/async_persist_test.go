package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// msgCounter counts the messages delivered on a network, by direction and type.
type msgCounter map[[2]int]map[lnwire.MessageType]int

func countMessages(nw *network) msgCounter {
	c := msgCounter{}
	nw.observe = func(from, to int, m lnwire.Message) {
		k := [2]int{from, to}
		if c[k] == nil {
			c[k] = map[lnwire.MessageType]int{}
		}
		c[k][m.MsgType()]++
	}
	return c
}

// completePersistence completes a node's in-flight monitor updates and settles, until none are left.
func completePersistence(t *testing.T, nw *network, n *testNode) {
	for i := 0; i < 50; i++ {
		if n.persist.completeAll(t, n.chainMon) == 0 {
			nw.settle()
			if n.persist.completeAll(t, n.chainMon) == 0 {
				return
			}
		}
		nw.settle()
	}
	t.Fatal("persistence never completed")
}

// TestHeldMessagesDroppedOnDisconnect: bob's persister answers InProgress, so his revoke_and_ack and
// commitment_signed for alice's payment are held. The connection drops and comes back;
// channel_reestablish makes bob retransmit them, held again behind the same updates. When persistence
// completes, alice must get each message once: one revoke_and_ack per commitment_signed she sent, no
// protocol error, no close, and the payment completes.
func TestHeldMessagesDroppedOnDisconnect(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	counts := countMessages(nw)
	b.persist.setAsync(true)
	_, _, err := nw.pay(0, 1, 7_000_000)
	require.NoError(t, err)
	nw.settle()
	_, c := b.cm.findChannel(id)
	require.NotEmpty(t, c.heldMessages, "bob's answers wait for persistence")
	require.Zero(t, counts[[2]int{1, 0}][lnwire.MsgRevokeAndAck], "no revoke_and_ack left yet")

	nw.disconnect(0, 1)
	nw.connect(0, 1)
	nw.settle()
	completePersistence(t, nw, b)

	sentCS := counts[[2]int{0, 1}][lnwire.MsgCommitmentSigned]
	require.Positive(t, sentCS)
	require.Equal(t, sentCS, counts[[2]int{1, 0}][lnwire.MsgRevokeAndAck], "one revoke_and_ack per commitment_signed")
	require.Zero(t, counts[[2]int{0, 1}][lnwire.MsgError]+counts[[2]int{1, 0}][lnwire.MsgError], "no error sent")
	evA, evB := a.takeEvents(), b.takeEvents()
	require.Zero(t, countEvents[events.ChannelClosed](evA)+countEvents[events.ChannelClosed](evB), "nobody closed")
	require.Equal(t, 1, countEvents[events.PaymentSent](evA))
	require.Equal(t, 1, countEvents[events.PaymentClaimed](evB))
	checkBalances(t, a, b, id, 993_000_000)
	require.True(t, a.channel(id).IsUsable && b.channel(id).IsUsable)
}

// TestHeldFundingBroadcastSurvivesDisconnect: the funder's new monitor persists asynchronously, so the
// funding broadcast waits for it; a disconnection meanwhile must not lose it.
func TestHeldFundingBroadcastSurvivesDisconnect(t *testing.T) {
	nw, a, b := twoNodes(t)
	a.persist.asyncNew = true
	a.chain.FundAddress(a.wallet.PkScript(), 1_100_000)
	a.chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(b.id, 1_000_000, 0, [16]byte{1}, nil)
	require.NoError(t, err)
	nw.settle()
	require.Equal(t, 1, countEvents[events.ChannelPending](a.takeEvents()))
	require.Empty(t, a.chain.Mempool(), "funding waits for the monitor")

	nw.disconnect(0, 1)
	nw.connect(0, 1)
	nw.settle()
	require.Empty(t, a.chain.Mempool())
	completePersistence(t, nw, a)
	require.Len(t, a.chain.Mempool(), 1, "funding broadcast once the monitor is persisted")
	a.chain.MineBlocks(int(a.cfg.ChannelHandshakeConfig.MinimumDepth))
	nw.settle()
	require.Equal(t, 1, countEvents[events.ChannelReady](a.takeEvents()))
	require.Equal(t, 1, countEvents[events.ChannelReady](b.takeEvents()))
}
