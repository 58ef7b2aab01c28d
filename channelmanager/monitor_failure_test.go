package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// TestUnrecoverableMonitorUpdateFailsChannel: bob's persister fails the k-th monitor update of a new
// payment: k=1 records alice's commitment_signed (bob's revoke_and_ack depends on it), k=2 records the
// commitment bob signs for alice (his commitment_signed depends on it). Bob must fail the channel: the
// dependent message never leaves, alice gets an `error`, bob reports ChannelClosed (HolderForceClosed,
// naming the failed update), and bob's in-memory monitor broadcasts his latest commitment, the one
// with the HTLC.
func TestUnrecoverableMonitorUpdateFailsChannel(t *testing.T) {
	for k, dependent := range map[int]lnwire.MessageType{1: lnwire.MsgRevokeAndAck, 2: lnwire.MsgCommitmentSigned} {
		t.Run(dependent.String(), func(t *testing.T) { testUnrecoverable(t, k, dependent) })
	}
}

func testUnrecoverable(t *testing.T, k int, dependent lnwire.MessageType) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	counts := countMessages(nw)
	b.persist.failFrom(k)

	_, _, err := nw.pay(0, 1, 7_000_000)
	require.NoError(t, err)
	nw.settle()

	require.Zero(t, counts[[2]int{1, 0}][dependent], "no %s without its monitor update", dependent)
	require.Equal(t, 1, counts[[2]int{1, 0}][lnwire.MsgError], "alice is told")
	b.handleEvents()
	ev := requireClosed(t, b.takeEvents(), id, events.HolderForceClosed)
	require.Contains(t, ev.Message, "could not be persisted")
	requireClosed(t, a.takeEvents(), id, events.CounterpartyForceClosed)

	mon, ok := b.chainMon.GetMonitor(b.channel(id).FundingTxo)
	require.True(t, ok)
	latest, err := mon.LatestHolderCommitmentTx()
	require.NoError(t, err)
	htlcOut := false
	for _, o := range latest.TxOut {
		htlcOut = htlcOut || o.Value == 7_000
	}
	require.True(t, htlcOut, "bob's latest commitment, from the failed update, has the 7,000 sat HTLC")
	require.Positive(t, b.bcast.broadcasts(latest.TxHash()), "bob's monitor broadcast his latest commitment")
	// Alice, told by the error, broadcasts hers too; the mempool keeps the one paying more (BIP 125).
	_, spent := a.chain.SpentBy(b.channel(id).FundingTxo)
	require.True(t, spent, "a commitment is in the mempool; rejected: %v", a.chain.Rejected())
	require.Equal(t, "Closed", b.channel(id).State)
}
