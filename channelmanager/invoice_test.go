package channelmanager

import (
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/invoice"
)

// TestBolt11InvoicePaidOverDirectChannel: B creates BOLT 11 invoices, A decodes and pays them over
// their channel; the invoice's fields are what B asked for and the payments arrive.
func TestBolt11InvoicePaidOverDirectChannel(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	a, b := newTestNode(t, chain, "a", 1), newTestNode(t, chain, "b", 2)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 1_000_000, 0)

	aBefore, bBefore := a.channel(id).BalanceMsat, b.channel(id).BalanceMsat
	now := time.Unix(1_800_000_000, 0)
	_, s, err := b.cm.CreateBolt11Invoice(Bolt11InvoiceParams{AmountMsat: 12_345_678, Description: "coffee", ExpirySecs: 600, Timestamp: now})
	require.NoError(t, err)
	inv, err := invoice.Decode(s, &chaincfg.RegressionNetParams)
	require.NoError(t, err)
	require.True(t, inv.Payee.IsEqual(b.id), "signed by the node key")
	amt, ok := inv.Amount()
	require.True(t, ok)
	require.Equal(t, uint64(12_345_678), amt)
	require.Equal(t, "coffee", *inv.Description)
	require.Equal(t, now.Unix(), inv.Timestamp.Unix())
	require.Equal(t, 600*time.Second, inv.ExpiryOrDefault())
	require.Equal(t, uint64(DefaultMinFinalCLTVExpiryDelta), inv.MinFinalCLTVExpiryDeltaOrDefault())
	require.NotNil(t, inv.PaymentSecret)
	pre, err := b.cm.GetPaymentPreimage(inv.PaymentHash, *inv.PaymentSecret)
	require.NoError(t, err, "the invoice's hash and secret are registered")

	pid := events.PaymentID(inv.PaymentHash)
	require.ErrorIs(t, a.cm.SendPaymentForBolt11Invoice(inv, 5, pid), ErrInvalidInvoice, "amount given twice")
	require.NoError(t, a.cm.SendPaymentForBolt11Invoice(inv, 0, pid))
	require.ErrorIs(t, a.cm.SendPaymentForBolt11Invoice(inv, 0, pid), ErrDuplicatePayment)
	nw.settle()
	evs := a.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentSent](evs))
	for _, e := range evs {
		if ps, ok := e.(events.PaymentSent); ok {
			require.Equal(t, pre, ps.PaymentPreimage)
		}
	}
	require.Equal(t, 1, countEvents[events.PaymentClaimed](b.takeEvents()))

	// An invoice for any amount needs the amount from the payer.
	_, s2, err := b.cm.CreateBolt11Invoice(Bolt11InvoiceParams{Description: "tip", Timestamp: now})
	require.NoError(t, err)
	inv2, err := invoice.Decode(s2, nil)
	require.NoError(t, err)
	_, ok = inv2.Amount()
	require.False(t, ok)
	require.ErrorIs(t, a.cm.SendPaymentForBolt11Invoice(inv2, 0, events.PaymentID{9}), ErrInvalidInvoice)
	require.NoError(t, a.cm.SendPaymentForBolt11Invoice(inv2, 777_000, events.PaymentID{9}))
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))
	require.Equal(t, 1, countEvents[events.PaymentClaimed](b.takeEvents()))
	require.Equal(t, aBefore-12_345_678-777_000, a.channel(id).BalanceMsat)
	require.Equal(t, bBefore+12_345_678+777_000, b.channel(id).BalanceMsat)

	// Paying ourselves, another network, and too much are refused before anything is sent.
	_, s3, err := a.cm.CreateBolt11Invoice(Bolt11InvoiceParams{AmountMsat: 1000, Timestamp: now})
	require.NoError(t, err)
	inv3, err := invoice.Decode(s3, nil)
	require.NoError(t, err)
	require.ErrorIs(t, a.cm.SendPaymentForBolt11Invoice(inv3, 0, events.PaymentID{3}), ErrNoRoute)
	inv.Network = &chaincfg.MainNetParams
	require.ErrorIs(t, a.cm.SendPaymentForBolt11Invoice(inv, 0, events.PaymentID{4}), ErrInvalidInvoice)
	_, s4, err := b.cm.CreateBolt11Invoice(Bolt11InvoiceParams{AmountMsat: 2_000_000_000, Timestamp: now})
	require.NoError(t, err)
	inv4, err := invoice.Decode(s4, nil)
	require.NoError(t, err)
	require.ErrorIs(t, a.cm.SendPaymentForBolt11Invoice(inv4, 0, events.PaymentID{5}), ErrNoRoute)
	_, _, err = b.cm.CreateBolt11Invoice(Bolt11InvoiceParams{AmountMsat: 1})
	require.ErrorIs(t, err, ErrAPIMisuse, "the time is required")
}
