package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
)

func twoNodes(t testing.TB) (*network, *testNode, *testNode) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	return nw, a, b
}

func TestOpenPayClose(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	start := a.channel(id).BalanceMsat
	require.Equal(t, uint64(1_000_000_000), start)

	_, _, err := nw.pay(0, 1, 50_000_000)
	require.NoError(t, err)
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))
	evB := b.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentClaimable](evB))
	require.Equal(t, 1, countEvents[events.PaymentClaimed](evB))
	checkBalances(t, a, b, id, start-50_000_000)

	_, _, err = nw.pay(1, 0, 20_000_000)
	require.NoError(t, err)
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](b.takeEvents()))
	checkBalances(t, a, b, id, start-30_000_000)

	require.NoError(t, a.cm.CloseChannel(id, b.id))
	nw.settle()
	evA := a.takeEvents()
	require.Equal(t, 1, countEvents[events.ChannelClosed](evA), "%v %s %s", evA, a.channel(id).State, b.channel(id).State)
	require.Equal(t, 1, countEvents[events.ChannelClosed](b.takeEvents()))
	require.Len(t, a.chain.Mempool(), 1, "closing tx in mempool; rejected: %v", a.chain.Rejected())
	closing := a.chain.Mempool()[0]
	a.chain.MineBlocks(1)
	var toB int64
	for _, o := range closing.TxOut {
		toB += o.Value
	}
	require.Len(t, closing.TxOut, 2)
	// Bob's output is exactly his balance; Alice paid the fee.
	found := false
	for _, o := range closing.TxOut {
		if o.Value == int64(30_000) {
			found = true
		}
	}
	require.True(t, found, "bob's closing output is 30000 sat: %v", closing.TxOut)
}
