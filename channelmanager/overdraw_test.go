package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
)

// TestPaymentAboveBalanceRefused: a payment larger than the payer's balance is refused by its own
// channel (the view's balance used to wrap around, so the HTLC was sent and the peer's commitment then
// failed to build, closing the channel). Found by TestCheatingCounterparty, seed 52.
func TestPaymentAboveBalanceRefused(t *testing.T) {
	nw, a, b, id := onchainPair(t, false, 1_000_000, 15_899_000)
	_, _, err := nw.pay(1, 0, 26_108_465)
	require.ErrorIs(t, err, ErrChannelUnavailable)
	nw.settle()
	require.Zero(t, countEvents[events.ChannelClosed](append(a.takeEvents(), b.takeEvents()...)))
	require.True(t, a.channel(id).IsUsable)
	_, _, err = nw.pay(1, 0, 5_000_000)
	require.NoError(t, err, "a payment within the balance still goes")
	nw.settle()
	checkBalances(t, a, b, id, 1_000_000_000-15_899_000+5_000_000)
}
