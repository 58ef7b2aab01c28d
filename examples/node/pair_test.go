package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/keys"
)

// pairNodeArgs are the flags of the nodes of a pair: listening on a free loopback port, with fast
// timers so that retries and gossip happen within a test.
var pairNodeArgs = []string{"-listen", "127.0.0.1:0", "-tick.manager", "1s", "-tick.peer", "1s", "-tick.gossip", "100ms",
	"-gossip.verifyfunding=false"}

// fundNode pays sat to a new address of n's wallet in a block of btcd and waits until the wallet has
// it confirmed.
func fundNode(t *testing.T, btcd *fakeBtcd, n *Node, sat int64) {
	t.Helper()
	addr, err := n.wallet.NewAddress()
	require.NoError(t, err)
	script, err := txscript.PayToAddrScript(addr)
	require.NoError(t, err)
	before, _ := n.wallet.Balance()
	tx := wire.NewMsgTx(2)
	var prev chainhash.Hash
	copy(prev[:], script) // any unique input: the fake chain checks nothing
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: prev, Index: uint32(time.Now().UnixNano())}})
	tx.AddTxOut(&wire.TxOut{Value: sat, PkScript: script})
	btcd.mine(tx)
	require.Eventually(t, func() bool {
		conf, _ := n.wallet.Balance()
		return conf == before+btcutil.Amount(sat)
	}, 10*time.Second, 10*time.Millisecond, "the wallet sees its coin")
}

// channelWith is n's channel with peer, if any.
func channelWith(n *Node, peer *Node) (channelmanager.ChannelDetails, bool) {
	for _, c := range n.cm.ListChannels() {
		if c.CounterpartyNodeID.IsEqual(peer.nodeID) {
			return c, true
		}
	}
	return channelmanager.ChannelDetails{}, false
}

// usable says whether n has a usable channel with peer.
func usable(n, peer *Node) bool {
	c, ok := channelWith(n, peer)
	return ok && c.IsUsable
}

// openTestChannel connects a to b, opens a channel of sat from a (funded from a's wallet) and mines
// until both sides have it usable.
func openTestChannel(t *testing.T, btcd *fakeBtcd, a, b *Node, sat int64) {
	t.Helper()
	ctx := context.Background()
	svc := &service{n: a}
	_, err := svc.Connect(ctx, nodeapi.ConnectParams{NodeID: nodeIDHex(b.nodeID), Address: b.listenAddr()})
	require.NoError(t, err)
	res, err := svc.OpenChannel(ctx, nodeapi.OpenChannelParams{NodeID: nodeIDHex(b.nodeID), AmountSat: sat})
	require.NoError(t, err)
	txid, err := chainhash.NewHashFromStr(res.FundingTxid)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return btcd.inMempool(*txid) }, 10*time.Second, 10*time.Millisecond,
		"the funding transaction is broadcast")
	btcd.mineMempool()
	deadline := time.Now().Add(30 * time.Second)
	for !(usable(a, b) && usable(b, a)) {
		require.True(t, time.Now().Before(deadline), "the channel becomes usable on both sides")
		btcd.mine()
		time.Sleep(50 * time.Millisecond)
	}
}

// startPair starts two nodes on btcd, funds the first and opens a channel of sat from it to the
// second.
func startPair(t *testing.T, btcd *fakeBtcd, sat int64, extra ...string) (a, b *Node) {
	t.Helper()
	args := append(append([]string{}, pairNodeArgs...), extra...)
	a = startTestNode(t, testNodeConfig(t, btcd, args...), nil)
	b = startTestNode(t, testNodeConfig(t, btcd, args...), nil)
	fundNode(t, btcd, a, 2*sat)
	openTestChannel(t, btcd, a, b, sat)
	return a, b
}

// payStream pays invoices of b from a, one after the other, until stop is closed; amounts vary with
// the attempt. It returns the attempts made. Payments are checked afterwards from the records.
func payStream(t *testing.T, a, b *Node, stop <-chan struct{}) (attempts int) {
	ctx := context.Background()
	sa, sb := &service{n: a}, &service{n: b}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return i
		default:
		}
		inv, err := sb.Invoice(ctx, nodeapi.InvoiceParams{AmountMsat: 10_000 + uint64(i)})
		if errors.Is(err, keys.ErrSignerPending) {
			// A keyless payee whose signer is down cannot sign an invoice yet.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Errorf("invoice %d: %v", i, err)
			return i
		}
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		p, err := sa.PayInvoice(pctx, nodeapi.PayInvoiceParams{Bolt11: inv.Bolt11})
		cancel()
		if err != nil || p.Status != nodeapi.StatusSucceeded {
			// Not connected (the peer listener is being restarted): wait a little.
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// settledPayments waits until a has no pending payment and no HTLC in flight with b, then returns
// the total of a's succeeded payments and how many there were.
func settledPayments(t *testing.T, a, b *Node) (sumMsat uint64, succeeded int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, p := range a.store.listPayments() {
			if p.Status == nodeapi.StatusPending {
				return false
			}
		}
		ca, okA := channelWith(a, b)
		cb, okB := channelWith(b, a)
		return okA && okB && ca.NumPendingHTLCs == 0 && cb.NumPendingHTLCs == 0
	}, 60*time.Second, 20*time.Millisecond, "every payment settles")
	for _, p := range a.store.listPayments() {
		if p.Status == nodeapi.StatusSucceeded {
			sumMsat += p.AmountMsat
			succeeded++
		}
	}
	return sumMsat, succeeded
}

// receivedMsat is the total of b's paid invoices.
func receivedMsat(b *Node) uint64 {
	var sum uint64
	for _, inv := range b.store.listInvoices() {
		if inv.Status == nodeapi.InvoicePaid {
			sum += inv.ReceivedMsat
		}
	}
	return sum
}

// succeededPayments counts a's succeeded payments.
func succeededPayments(a *Node) int {
	k := 0
	for _, p := range a.store.listPayments() {
		if p.Status == nodeapi.StatusSucceeded {
			k++
		}
	}
	return k
}

// waitMorePayments waits until five more of a's payments have succeeded (a payment stream runs).
func waitMorePayments(t *testing.T, a *Node, what string) {
	t.Helper()
	k := succeededPayments(a)
	require.Eventually(t, func() bool { return succeededPayments(a) >= k+5 }, 30*time.Second, 10*time.Millisecond,
		"payments go on after %s", what)
}
