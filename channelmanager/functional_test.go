package channelmanager

import (
	"bytes"
	"math/rand"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
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

// sumPaid totals the amounts of PaymentSent events by matching the sender's records.
type payLog struct {
	amounts map[[32]byte]uint64 // by payment hash
	sent    uint64
	failed  int
}

func newPayLog() *payLog { return &payLog{amounts: map[[32]byte]uint64{}} }

func (p *payLog) account(evs []events.Event) {
	for _, e := range evs {
		switch ev := e.(type) {
		case events.PaymentSent:
			p.sent += p.amounts[ev.PaymentHash]
			delete(p.amounts, ev.PaymentHash)
		case events.PaymentFailed:
			p.failed++
			delete(p.amounts, ev.PaymentHash)
		}
	}
}

// TestThousandPaymentsEachWay sends 1,000 payments of random amounts each way, several in flight at
// once, with messages delivered in random interleavings; both sides must agree on every balance.
func TestThousandPaymentsEachWay(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 10_000_000, 5_000_000_000)
	r := rand.New(rand.NewSource(1))
	logs := []*payLog{newPayLog(), newPayLog()}
	sent := []int{0, 0}
	for iter := 0; sent[0] < n || sent[1] < n; iter++ {
		require.Less(t, iter, 100*n, "no progress: sent %v, a %+v, b %+v", sent, a.channel(id), b.channel(id))
		// Start a payment from a random side that can afford it, then deliver a few messages.
		from := r.Intn(2)
		amt := randAmount(r, 1_000, 5_000_000)
		if sent[from] < n && nw.nodes[from].channel(id).OutboundCapacityMsat > amt {
			_, hash, err := nw.pay(from, 1-from, amt)
			if err == nil {
				logs[from].amounts[hash] = amt
				sent[from]++
			}
		}
		for k := r.Intn(8); k > 0; k-- {
			nw.deliverOne(r)
		}
		logs[0].account(a.takeEvents())
		logs[1].account(b.takeEvents())
	}
	nw.settleRandom(r)
	logs[0].account(a.takeEvents())
	logs[1].account(b.takeEvents())
	require.Empty(t, logs[0].amounts, "alice payments unresolved")
	require.Empty(t, logs[1].amounts, "bob payments unresolved")
	require.Zero(t, logs[0].failed+logs[1].failed)
	checkBalances(t, a, b, id, 5_000_000_000-logs[0].sent+logs[1].sent)
	t.Logf("alice sent %d msat, bob sent %d msat", logs[0].sent, logs[1].sent)
	closeAndCheck(t, nw, a, b, id)
}

// closeAndCheck closes cooperatively and checks each side's closing output against its balance.
func closeAndCheck(t *testing.T, nw *network, a, b *testNode, id lnwire.ChannelID) {
	balA, balB := a.channel(id).BalanceMsat/1000, b.channel(id).BalanceMsat/1000
	require.NoError(t, a.cm.CloseChannel(id, b.id))
	nw.settle()
	require.Len(t, a.chain.Mempool(), 1, "rejected: %v", a.chain.Rejected())
	closing := a.chain.Mempool()[0]
	a.chain.MineBlocks(1)
	var outA, outB int64
	scriptA, _ := a.km.GetShutdownScriptPubKey()
	scriptB, _ := b.km.GetShutdownScriptPubKey()
	for _, o := range closing.TxOut {
		switch {
		case bytes.Equal(o.PkScript, scriptA):
			outA = o.Value
		case bytes.Equal(o.PkScript, scriptB):
			outB = o.Value
		}
	}
	require.Equal(t, int64(balB), outB, "fundee gets its whole balance")
	fee := int64(balA) - outA
	require.True(t, fee > 0 && fee < 2_000, "funder pays a sane fee: %d", fee)
	require.Equal(t, uint32(1), a.chain.Confirmations(closing.TxHash()))
	// Six blocks later each side's monitor hands its closing output to the host.
	a.takeEvents()
	b.takeEvents()
	nw.mine(AntiReorgDelayForTest)
	require.Equal(t, outA, spendable(a.takeEvents()), "alice's closing output reported")
	require.Equal(t, outB, spendable(b.takeEvents()), "bob's closing output reported")
}

// AntiReorgDelayForTest is the depth at which monitors report outputs.
const AntiReorgDelayForTest = channelmonitor.AntiReorgDelay

// TestFailedPayments: an unknown payment hash and a wrong payment secret are refused by the payee with
// incorrect_or_unknown_payment_details, and the payer gets PaymentFailed; balances are untouched.
func TestFailedPayments(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	route := router.SinglePath(router.RouteHop{PubKey: b.id, FeeMsat: 10_000_000, CLTVExpiryDelta: 40})

	var unknownHash [32]byte
	unknownHash[0] = 7
	require.NoError(t, a.cm.SendPaymentWithRoute(route, unknownHash, &[32]byte{1}, events.PaymentID{1}))
	nw.settle()
	hash, _, err := b.cm.CreateInboundPayment(10_000_000, 3600, 0)
	require.NoError(t, err)
	require.NoError(t, a.cm.SendPaymentWithRoute(route, hash, &[32]byte{9}, events.PaymentID{2}))
	nw.settle()
	evs := a.takeEvents()
	require.Equal(t, 2, countEvents[events.PaymentFailed](evs))
	for _, e := range evs {
		switch ev := e.(type) {
		case events.PaymentPathFailed:
			require.Equal(t, uint16(0x4000|15), ev.FailureCode, "incorrect_or_unknown_payment_details")
			require.Equal(t, 0, ev.ErringHop)
			require.True(t, ev.PaymentFailedPermanently)
		case events.PaymentFailed:
			require.Equal(t, events.RecipientRejected, ev.Reason)
		}
	}
	require.Zero(t, countEvents[events.PaymentClaimable](b.takeEvents()))
	checkBalances(t, a, b, id, 1_000_000_000)
	// A duplicate payment id is refused.
	require.ErrorIs(t, a.cm.SendPaymentWithRoute(route, hash, &[32]byte{9}, events.PaymentID{2}), ErrDuplicatePayment)
}

// TestReestablishWithHTLCsInFlight disconnects at every point of a payment stream and checks that
// channel_reestablish brings both sides back in step with nothing lost.
func TestReestablishWithHTLCsInFlight(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 5_000_000, 0)
	r := rand.New(rand.NewSource(2))
	logs := []*payLog{newPayLog(), newPayLog()}
	for round := 0; round < 60; round++ {
		for k := 0; k < 1+r.Intn(4); k++ {
			from := r.Intn(2)
			if from == 1 && b.channel(id).BalanceMsat < 10_000_000 {
				from = 0
			}
			amt := randAmount(r, 10_000, 2_000_000)
			if _, hash, err := nw.pay(from, 1-from, amt); err == nil {
				logs[from].amounts[hash] = amt
			}
		}
		for k := r.Intn(12); k > 0; k-- {
			nw.deliverOne(r)
		}
		// Drop the connection with messages still queued, then reconnect.
		nw.disconnect(0, 1)
		nw.connect(0, 1)
		for k := r.Intn(10); k > 0; k-- {
			nw.deliverOne(r)
		}
		logs[0].account(a.takeEvents())
		logs[1].account(b.takeEvents())
	}
	nw.settleRandom(r)
	logs[0].account(a.takeEvents())
	logs[1].account(b.takeEvents())
	require.Empty(t, logs[0].amounts)
	require.Empty(t, logs[1].amounts)
	checkBalances(t, a, b, id, 5_000_000_000-logs[0].sent+logs[1].sent)
	require.True(t, a.channel(id).IsUsable)
	closeAndCheck(t, nw, a, b, id)
}
