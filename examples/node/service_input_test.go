package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// TestInputErrorsAreInvalidParams: what the caller got wrong is JSON-RPC's invalid params (-32602),
// whichever method: an invoice above 21 million BTC, an unknown channel, a malformed address, an
// upper-case node id is fine.
func TestInputErrorsAreInvalidParams(t *testing.T) {
	btcd := newFakeBtcd(t)
	n := startTestNode(t, testNodeConfig(t, btcd), nil)
	svc := &service{n: n}
	ctx := context.Background()
	peer := nodeIDHexOf(testID(60))

	inv, err := svc.Invoice(ctx, nodeapi.InvoiceParams{AmountMsat: maxInvoiceMsat})
	require.NoError(t, err, "21 million BTC is the most")
	require.NotEmpty(t, inv.Bolt11)
	for name, call := range map[string]func() error{
		"invoice above 21 million BTC": func() error {
			_, err := svc.Invoice(ctx, nodeapi.InvoiceParams{AmountMsat: maxInvoiceMsat + 1})
			return err
		},
		"invoice of 2^64-1 msat": func() error {
			_, err := svc.Invoice(ctx, nodeapi.InvoiceParams{AmountMsat: ^uint64(0)})
			return err
		},
		"closechannel of no channel": func() error {
			_, err := svc.CloseChannel(ctx, nodeapi.CloseChannelParams{ChannelID: strings.Repeat("cd", 32)})
			return err
		},
		"updatechanpolicy of no channel": func() error {
			one := uint32(1)
			_, err := svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{ChannelID: "1x2x3", FeeRatePPM: &one})
			return err
		},
		"connect without a host": func() error {
			_, err := svc.Connect(ctx, nodeapi.ConnectParams{NodeID: peer, Address: ":9735"})
			return err
		},
		"connect with a bad port": func() error {
			_, err := svc.Connect(ctx, nodeapi.ConnectParams{NodeID: peer + "@host:99999"})
			return err
		},
		"node id not hex": func() error {
			_, err := svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: "zz", AmountMsat: 1})
			return err
		},
		"bad invoice": func() error {
			_, err := svc.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: "lnbcrt1nonsense"})
			return err
		},
	} {
		err := call()
		require.ErrorIs(t, err, nodeapi.ErrInvalidParams, name)
	}
	// The keysend record keys the payee by its canonical id, whatever case it was given in.
	_, err = svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: strings.ToUpper(peer), AmountMsat: 1000, TimeoutSecs: 1})
	require.Error(t, err, "no channel")
	ps := n.store.listPayments()
	require.Len(t, ps, 1)
	require.Equal(t, peer, ps[0].Destination)
}
