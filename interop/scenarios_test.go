//go:build interop

package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/stretchr/testify/require"
)

// The scenarios run in order on one network and build on each other (scenario 2's channels carry the
// payments of 3 to 6), but each makes sure of what it needs (connection, coins, open channels), so any
// one of them can also be run alone with -run.

// suite holds what the scenarios hand each other.
var suite struct {
	chanA string // funding txid of the channel lnkit opened to alice (scenario 2)
	chanB string // funding txid of the private channel alice opened to lnkit (scenario 2)
	// resolved are the funding txids of the channels the on-chain scenarios closed and settled.
	resolved []string
}

// codeIncorrectOrUnknownPaymentDetails is BOLT 4's incorrect_or_unknown_payment_details (PERM|15).
const codeIncorrectOrUnknownPaymentDetails = 0x400f

// ensureConnected connects lnkit to alice if they are not peers and waits until both see each other.
func ensureConnected(t *testing.T, lk *lnkitNode) {
	t.Helper()
	alice := nw.alice
	if lk.peer(t, alice.id()) == nil {
		lk.connect(t, alice)
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		return lk.peer(t, alice.id()) != nil && alice.peer(t, lk.ID()) != nil, "lnkit and alice are not peers"
	})
}

// ensureFunded gives the lnkit wallet five confirmed 1 BTC outputs if it has less than 1 BTC.
func ensureFunded(t *testing.T, lk *lnkitNode) {
	t.Helper()
	if lk.balance(t).ConfirmedSat >= 1e8 {
		return
	}
	before := lk.balance(t).ConfirmedSat
	outs := make([]payment, 5)
	for i := range outs {
		outs[i] = payment{lk.newAddress(t), 1e8}
	}
	_, err := nw.faucet.send(nw.btcd, outs...)
	require.NoError(t, err)
	nw.mine(t, 1)
	waitFor(t, 30*time.Second, func() (bool, string) {
		b := lk.balance(t)
		return b.ConfirmedSat == before+5e8, fmt.Sprintf("lnkit wallet %+v, want %d confirmed", *b, before+5e8)
	})
}

// openLnkitChannel has lnkit open an anchors channel to alice and returns the funding txid (broadcast).
func openLnkitChannel(t *testing.T, lk *lnkitNode, amtSat int64, pushMsat uint64) string {
	t.Helper()
	return openLnkitChannelTo(t, lk, nw.alice, amtSat, pushMsat)
}

// openLnkitChannelTo has lnkit open an anchors channel to l and returns the funding txid (broadcast).
func openLnkitChannelTo(t *testing.T, lk *lnkitNode, l *lnd, amtSat int64, pushMsat uint64) string {
	t.Helper()
	r, err := lk.Client().OpenChannel(ctx(t, 2*time.Minute), nodeapi.OpenChannelParams{
		NodeID: l.id(), AmountSat: amtSat, PushMsat: pushMsat})
	r = mustCall(t, "openchannel", r, err)
	require.NotEmpty(t, r.FundingTxid, "openchannel returned no funding txid: %+v", *r)
	return r.FundingTxid
}

// confirmChannels waits for the funding transactions in the mempool, then mines 1 block and, if that is
// not enough, 5 more, and waits until every channel is usable on both sides.
func confirmChannels(t *testing.T, lk *lnkitNode, txids ...string) {
	t.Helper()
	confirmChannelsWith(t, lk, nw.alice, txids...)
}

// confirmChannelsWith is confirmChannels for channels with l.
func confirmChannelsWith(t *testing.T, lk *lnkitNode, l *lnd, txids ...string) {
	t.Helper()
	waitFor(t, 30*time.Second, func() (bool, string) {
		for _, id := range txids {
			if !nw.btcd.inMempool(t, id) {
				return false, "funding tx " + id + " not in the mempool"
			}
		}
		return true, ""
	})
	usable := func() (bool, string) {
		for _, id := range txids {
			lc, kc := l.channel(t, id), lk.channel(t, id)
			switch {
			case lc == nil || !lc.Active:
				return false, fmt.Sprintf("%s: channel %s not active (%+v)", l.name, id, lc)
			case kc == nil || !kc.IsUsable:
				return false, fmt.Sprintf("lnkit: channel %s not usable (%+v)", id, kc)
			}
		}
		return true, ""
	}
	// lnd asks for 1 confirmation (--bitcoin.defaultchanconfs=1); lnkit's default minimum_depth is 6.
	nw.mine(t, 1)
	if poll(1500*time.Millisecond, usable) != nil {
		nw.mine(t, 5)
	}
	waitFor(t, 30*time.Second, usable)
	// lnd's router takes a moment to see the new channels' outbound balance.
	for _, id := range txids {
		if c := l.channel(t, id); c.Initiator {
			l.waitRoute(t, lk.ID(), 1, fmt.Sprintf("--outgoing_chan_id=%d", c.Scid))
		}
	}
}

// ensureChannels makes sure scenario 2's channels exist and are usable (opening them if not).
func ensureChannels(t *testing.T, lk *lnkitNode) {
	t.Helper()
	ensureConnected(t, lk)
	if suite.chanA != "" && suite.chanB != "" {
		err := poll(15*time.Second, func() (bool, string) {
			for _, id := range []string{suite.chanA, suite.chanB} {
				lc, kc := nw.alice.channel(t, id), lk.channel(t, id)
				if lc == nil || !lc.Active || kc == nil || !kc.IsUsable {
					return false, fmt.Sprintf("channel %s: alice %+v lnkit %+v", id, lc, kc)
				}
			}
			return true, ""
		})
		if err == nil {
			return
		}
		// An earlier scenario broke them (its failure says how): carry on with new channels.
		t.Logf("scenario 2's channels are not usable (%v); opening new ones", err)
	}
	openScenarioChannels(t, lk)
}

func openScenarioChannels(t *testing.T, lk *lnkitNode) {
	ensureFunded(t, lk)
	a := openLnkitChannel(t, lk, 1_000_000, 0)
	b := nw.alice.openChannel(t, lk.ID(), 1_000_000, 0, true)
	confirmChannels(t, lk, a, b)
	suite.chanA, suite.chanB = a, b
}

// checkChannel compares one channel's state on both sides exactly: lnkit's balance (msat) against lnd's
// local and remote balances (sat, after the funder's commitment fee and the two 330 sat anchors), the
// feerate, and that no HTLC is pending.
func checkChannel(t *testing.T, lk *lnkitNode, fundingTxid string) {
	t.Helper()
	checkChannelWith(t, lk, nw.alice, fundingTxid)
}

// checkChannelWith is checkChannel for a channel with l.
func checkChannelWith(t *testing.T, lk *lnkitNode, l *lnd, fundingTxid string) {
	t.Helper()
	var lc *lndChannel
	var kc *nodeapi.Channel
	waitFor(t, 30*time.Second, func() (bool, string) {
		lc, kc = l.channel(t, fundingTxid), lk.channel(t, fundingTxid)
		if lc == nil || kc == nil {
			return false, fmt.Sprintf("channel %s missing: %s %v lnkit %v", fundingTxid, l.name, lc != nil, kc != nil)
		}
		return len(lc.PendingHTLCs) == 0 && kc.PendingHTLCs == 0, fmt.Sprintf("pending HTLCs: %s %d lnkit %d",
			l.name, len(lc.PendingHTLCs), kc.PendingHTLCs)
	})
	require.Equal(t, lc.ChanID, kc.ChannelID, "channel_id (lncli prints it as chan_id)")
	require.EqualValues(t, lc.Capacity, kc.CapacitySat, "capacity")
	require.EqualValues(t, lc.FeePerKw, kc.FeeratePerKw, "commitment feerate")
	require.Equal(t, "anchors", kc.ChannelType)
	require.Equal(t, "ANCHORS", lc.CommitmentType)
	lkSat := int64(kc.LocalBalanceMsat / 1000)
	lndSat := (int64(kc.CapacitySat)*1000 - int64(kc.LocalBalanceMsat)) / 1000
	funderCost := commitFeeSat(int64(lc.FeePerKw)) + 2*anchorSat
	if kc.IsOutbound {
		require.False(t, lc.Initiator)
		lkSat -= funderCost
	} else {
		require.True(t, lc.Initiator)
		lndSat -= funderCost
	}
	require.EqualValues(t, lkSat, lc.RemoteBalance, "alice's remote_balance vs lnkit's %d msat (lnkit funder %v, feerate %d)",
		kc.LocalBalanceMsat, kc.IsOutbound, lc.FeePerKw)
	require.EqualValues(t, lndSat, lc.LocalBalance, "alice's local_balance vs capacity - lnkit's %d msat", kc.LocalBalanceMsat)
}

// lnkitTotalMsat is lnkit's balance summed over its channels with alice.
func lnkitTotalMsat(t *testing.T, lk *lnkitNode, txids ...string) uint64 {
	t.Helper()
	var sum uint64
	for _, id := range txids {
		c := lk.channel(t, id)
		require.NotNil(t, c, "lnkit channel %s", id)
		sum += c.LocalBalanceMsat
	}
	return sum
}

// lkPay pays a BOLT 11 invoice from lnkit and returns the payment record (looked up in listpayments if
// the call itself returned an error for a failed payment).
func lkPay(t *testing.T, lk *lnkitNode, bolt11 string) *nodeapi.Payment {
	t.Helper()
	p, err := lk.Client().PayInvoice(ctx(t, 2*time.Minute), nodeapi.PayInvoiceParams{Bolt11: bolt11})
	if err == nil {
		return p
	}
	dec, derr := lk.Client().DecodeInvoice(ctx(t, 10*time.Second), nodeapi.DecodeInvoiceParams{Bolt11: bolt11})
	if derr != nil {
		t.Fatalf("lnkit payinvoice: %v (and decodeinvoice: %v)", err, derr)
	}
	r, lerr := lk.Client().ListPayments(ctx(t, 10*time.Second))
	if lerr == nil {
		for i := range r.Payments {
			if r.Payments[i].PaymentHash == dec.PaymentHash {
				return &r.Payments[i]
			}
		}
	}
	t.Fatalf("lnkit payinvoice: %v (no payment recorded for %s)", err, dec.PaymentHash)
	return nil
}

// requireSucceeded checks an lnkit payment settled with its preimage.
func requireSucceeded(t *testing.T, p *nodeapi.Payment, amtMsat uint64) {
	t.Helper()
	require.Equal(t, nodeapi.StatusSucceeded, p.Status, "%+v", *p)
	require.Equal(t, amtMsat, p.AmountMsat)
	require.Zero(t, p.FeeMsat, "a direct payment pays no routing fee")
	pre, err := hex.DecodeString(p.Preimage)
	require.NoError(t, err)
	h := sha256.Sum256(pre)
	require.Equal(t, p.PaymentHash, hex.EncodeToString(h[:]), "preimage matches the hash")
}

// varied returns n amounts in msat between 1 000 and about 5 000 000, not round.
func varied(n, salt int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(1000 + (i*104_729+salt*7_919)%5_000_000 + i%3)
	}
	return out
}

// Test01Connect: BOLT 8 connections from each side; each side's view of the other's init features.
func Test01Connect(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)

	// lnkit dials alice.
	if lk.peer(t, alice.id()) == nil {
		lk.connect(t, alice)
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		return lk.peer(t, alice.id()) != nil && alice.peer(t, lk.ID()) != nil, "not peers yet"
	})
	lp := alice.peer(t, lk.ID())
	kp := lk.peer(t, alice.id())
	require.True(t, lp.Inbound, "alice sees lnkit's connection as inbound")
	require.False(t, kp.Inbound, "lnkit dialled")
	var names []string
	for bit, f := range lp.Features {
		names = append(names, fmt.Sprintf("%s:%s(req=%v,known=%v)", bit, f.Name, f.IsRequired, f.IsKnown))
		if f.IsRequired {
			require.True(t, f.IsKnown, "lnkit requires feature %s that lnd does not know", bit)
		}
	}
	sort.Strings(names)
	t.Logf("lnkit's init features as lnd sees them: %s", strings.Join(names, " "))
	for _, bits := range [][2]int{{0, 1}, {8, 9}, {12, 13}, {14, 15}, {22, 23}} {
		require.True(t, hasFeaturePair(lp.Features, bits), "lnkit does not advertise bits %v", bits)
	}
	lndBits := featureBits(t, kp.Features)
	own := alice.getInfo(t).Features
	t.Logf("lnd's init features as lnkit sees them: %v", lndBits)
	for _, b := range lndBits {
		_, ok := own[fmt.Sprint(b)]
		require.True(t, ok, "lnkit reports lnd feature bit %d that lnd does not advertise", b)
	}
	for _, bits := range [][2]int{{0, 1}, {8, 9}, {12, 13}, {14, 15}, {22, 23}} {
		require.True(t, containsEither(lndBits, bits), "lnkit's view of lnd lacks bits %v", bits)
	}
	steps.done("lnkit -> lnd connection and features")

	// alice dials lnkit.
	alice.must(t, nil, "disconnect", lk.ID())
	waitFor(t, 30*time.Second, func() (bool, string) {
		return lk.peer(t, alice.id()) == nil && alice.peer(t, lk.ID()) == nil, "still connected after disconnect"
	})
	alice.connect(t, lk.ID()+"@"+lk.p2pAddr)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return lk.peer(t, alice.id()) != nil && alice.peer(t, lk.ID()) != nil, "not peers again"
	})
	require.False(t, alice.peer(t, lk.ID()).Inbound, "alice dialled")
	require.True(t, lk.peer(t, alice.id()).Inbound, "lnkit sees alice's connection as inbound")
	require.Equal(t, lndBits, featureBits(t, lk.peer(t, alice.id()).Features), "same features on the second connection")
	steps.done("lnd -> lnkit connection")
}

// featureBits decodes a hex feature vector (big-endian, bit 0 is the last byte's lowest bit).
func featureBits(t *testing.T, hexFeatures string) []int {
	t.Helper()
	raw, err := hex.DecodeString(hexFeatures)
	require.NoError(t, err, "features %q", hexFeatures)
	v := new(big.Int).SetBytes(raw)
	var bits []int
	for i := 0; i < v.BitLen(); i++ {
		if v.Bit(i) == 1 {
			bits = append(bits, i)
		}
	}
	return bits
}

func containsEither(bits []int, pair [2]int) bool {
	for _, b := range bits {
		if b == pair[0] || b == pair[1] {
			return true
		}
	}
	return false
}

// Test02OpenChannels: lnkit opens an anchors channel to lnd; lnd opens a private anchors channel to
// lnkit; both are usable in both directions on both sides.
func Test02OpenChannels(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)
	ensureConnected(t, lk)
	ensureFunded(t, lk)
	steps.done("fund lnkit's wallet")
	walletBefore := lk.balance(t).ConfirmedSat
	a := openLnkitChannel(t, lk, 1_000_000, 0)
	b := alice.openChannel(t, lk.ID(), 1_000_000, 0, true)
	fundingA := nw.btcd.rawTx(t, a)
	confirmChannels(t, lk, a, b)
	suite.chanA, suite.chanB = a, b
	steps.done("open both channels")

	la, lb := alice.channel(t, a), alice.channel(t, b)
	ka, kb := lk.channel(t, a), lk.channel(t, b)
	require.Equal(t, "ANCHORS", la.CommitmentType)
	require.Equal(t, "ANCHORS", lb.CommitmentType)
	require.True(t, lb.Private, "alice's channel is private")
	require.True(t, ka.IsOutbound)
	require.False(t, kb.IsOutbound)
	require.EqualValues(t, 1_000_000, ka.CapacitySat)
	require.EqualValues(t, 1_000_000, kb.CapacitySat)
	require.Equal(t, remoteDelay, la.RemoteConstraints.CsvDelay, "alice asks lnkit for --bitcoin.defaultremotedelay")
	t.Logf("to_self_delay lnkit asks of lnd: %d (channel A), %d (channel B)", la.LocalConstraints.CsvDelay,
		lb.LocalConstraints.CsvDelay)
	// The funding transaction pays the channel exactly, and lnkit's wallet paid for it.
	var found bool
	for _, o := range fundingA.TxOut {
		found = found || o.Value == 1_000_000
	}
	require.True(t, found, "funding tx has a 1 000 000 sat output: %v", fundingA.TxOut)
	waitFor(t, 30*time.Second, func() (bool, string) {
		w := lk.balance(t)
		return w.UnconfirmedSat == 0 && w.ConfirmedSat < walletBefore-1_000_000 && w.ConfirmedSat > walletBefore-1_010_000,
			fmt.Sprintf("lnkit wallet %+v (was %d)", *w, walletBefore)
	})
	checkChannel(t, lk, a)
	checkChannel(t, lk, b)

	// Usable both ways: lnkit can only pay over A (B is all alice's), then alice pays back over A and
	// over B, and lnkit pays again.
	inv := alice.addInvoice(t, 50_000_000, "A", 0)
	requireSucceeded(t, lkPay(t, lk, inv.PaymentRequest), 50_000_000)
	for _, c := range []*lndChannel{la, lb} {
		alice.waitRoute(t, lk.ID(), 10_000, fmt.Sprintf("--outgoing_chan_id=%d", c.Scid))
		ki := lk.invoice(t, 10_000_000, "back over "+c.ScidStr)
		p, err := alice.payInvoice(ctx(t, 2*time.Minute), ki.Bolt11, fmt.Sprintf("--outgoing_chan_id=%d", c.Scid))
		require.NoError(t, err)
		require.Equal(t, "SUCCEEDED", p.Status, "alice pays over %s: %+v", c.ScidStr, p)
	}
	inv = alice.addInvoice(t, 5_000_000, "again", 0)
	requireSucceeded(t, lkPay(t, lk, inv.PaymentRequest), 5_000_000)
	checkChannel(t, lk, a)
	checkChannel(t, lk, b)
	steps.done("payments over both channels")
}

// Test03Payments: 50 invoices each way with varied amounts, a keysend each way; exact balances.
func Test03Payments(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)
	ensureChannels(t, lk)
	before := lnkitTotalMsat(t, lk, suite.chanA, suite.chanB)
	var in, out uint64

	want := map[string]uint64{} // lnkit invoice payment hash -> amount
	for i, amt := range varied(50, 1) {
		ki := lk.invoice(t, amt, fmt.Sprintf("lnd->lnkit %d", i))
		want[ki.PaymentHash] = amt
		p, err := alice.payInvoice(ctx(t, 2*time.Minute), ki.Bolt11)
		require.NoError(t, err)
		require.Equal(t, "SUCCEEDED", p.Status, "payment %d of %d msat: %+v", i, amt, p)
		require.EqualValues(t, amt, p.ValueMsat)
		require.Zero(t, p.FeeMsat)
		require.Equal(t, ki.PaymentHash, p.PaymentHash)
		in += amt
	}
	steps.done("lnd pays 50 lnkit invoices")
	for _, amt := range varied(50, 2) {
		li := alice.addInvoice(t, amt, "lnkit->lnd", 0)
		requireSucceeded(t, lkPay(t, lk, li.PaymentRequest), amt)
		got := alice.lookupInvoice(t, li.RHash)
		require.Equal(t, "SETTLED", got.State)
		require.EqualValues(t, amt, got.AmtPaidMsat)
		out += amt
	}
	steps.done("lnkit pays 50 lnd invoices")

	// Keysend both ways.
	ks, err := alice.keysend(ctx(t, 2*time.Minute), lk.ID(), 1234)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", ks.Status, "%+v", ks)
	in += 1_234_000
	waitFor(t, 10*time.Second, func() (bool, string) {
		for _, inv := range lk.invoices(t) {
			if inv.PaymentHash == ks.PaymentHash {
				return inv.Keysend && inv.Status == nodeapi.InvoicePaid && inv.ReceivedMsat == 1_234_000, fmt.Sprintf("%+v", inv)
			}
		}
		return false, "lnkit has no record of alice's keysend " + ks.PaymentHash
	})
	kp, err := lk.Client().Keysend(ctx(t, 2*time.Minute), nodeapi.KeysendParams{NodeID: alice.id(), AmountMsat: 4_321_987})
	kp = mustCall(t, "keysend", kp, err)
	requireSucceeded(t, kp, 4_321_987)
	out += 4_321_987
	var keysendSeen bool
	for _, inv := range alice.listInvoices(t) {
		if inv.RHash == kp.PaymentHash {
			keysendSeen = true
			require.True(t, inv.IsKeysend)
			require.Equal(t, "SETTLED", inv.State)
			require.EqualValues(t, 4_321_987, inv.AmtPaidMsat)
		}
	}
	require.True(t, keysendSeen, "alice has no invoice for lnkit's keysend %s", kp.PaymentHash)
	steps.done("keysend both ways")

	// Every lnkit invoice alice paid is recorded as paid with its amount.
	for _, inv := range lk.invoices(t) {
		if amt, ok := want[inv.PaymentHash]; ok {
			require.Equal(t, nodeapi.InvoicePaid, inv.Status, "%+v", inv)
			require.Equal(t, amt, inv.AmountMsat)
			require.Equal(t, amt, inv.ReceivedMsat)
			delete(want, inv.PaymentHash)
		}
	}
	require.Empty(t, want, "lnkit invoices missing from listinvoices")
	require.Equal(t, before+in-out, lnkitTotalMsat(t, lk, suite.chanA, suite.chanB), "lnkit's balance moved by exactly in - out")
	checkChannel(t, lk, suite.chanA)
	checkChannel(t, lk, suite.chanB)
}

// Test04Concurrent: 20 payments each way at the same time, all settle; exact balances.
func Test04Concurrent(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)
	ensureChannels(t, lk)
	before := lnkitTotalMsat(t, lk, suite.chanA, suite.chanB)
	const n = 20
	inAmts, outAmts := varied(n, 3), varied(n, 4)
	lkInvoices := make([]*nodeapi.InvoiceResult, n)
	lndInvoices := make([]lndAddedInvoice, n)
	for i := 0; i < n; i++ {
		lkInvoices[i] = lk.invoice(t, inAmts[i], fmt.Sprintf("concurrent %d", i))
		lndInvoices[i] = alice.addInvoice(t, outAmts[i], fmt.Sprintf("concurrent %d", i), 0)
	}
	steps.done("40 invoices")

	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			p, err := alice.payInvoice(context.Background(), lkInvoices[i].Bolt11)
			if err == nil && p.Status != "SUCCEEDED" {
				err = fmt.Errorf("alice -> lnkit %d: %s %s (%s)", i, p.Status, p.FailureReason, p.lastFailureCode())
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			<-start
			c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			p, err := lk.Client().PayInvoice(c, nodeapi.PayInvoiceParams{Bolt11: lndInvoices[i].PaymentRequest})
			if err == nil && p.Status != nodeapi.StatusSucceeded {
				err = fmt.Errorf("lnkit -> alice %d: %s (%#x %s)", i, p.Status, p.FailureCode, p.FailureReason)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	var failed []string
	for err := range errs {
		if err != nil {
			failed = append(failed, err.Error())
		}
	}
	require.Empty(t, failed, "concurrent payments that did not settle")
	steps.done("20 + 20 concurrent payments")
	var in, out uint64
	for i := 0; i < n; i++ {
		in += inAmts[i]
		out += outAmts[i]
		got := alice.lookupInvoice(t, lndInvoices[i].RHash)
		require.Equal(t, "SETTLED", got.State)
		require.EqualValues(t, outAmts[i], got.AmtPaidMsat)
	}
	checkChannel(t, lk, suite.chanA)
	checkChannel(t, lk, suite.chanB)
	require.Equal(t, before+in-out, lnkitTotalMsat(t, lk, suite.chanA, suite.chanB))
}

// Test05PaymentFailures: lnkit pays lnd invoices that lnd refuses (forged with lnd's own key: unknown
// payment hash, wrong payment secret, final CLTV delta below the invoice's). lnd v0.20 answers every
// one with incorrect_or_unknown_payment_details (0x400f): an unknown hash and a wrong payment_secret
// directly, and an HTLC whose cltv_expiry is below the invoice's final CLTV delta as "expiry too soon",
// which lnd's invoice registry also maps to 0x400f (final_incorrect_cltv_expiry, 18, is only sent when
// the HTLC's cltv_expiry is below the onion's outgoing_cltv_value).
func Test05PaymentFailures(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)
	ensureChannels(t, lk)
	before := lnkitTotalMsat(t, lk, suite.chanA, suite.chanB)
	real := alice.addInvoice(t, 77_777_000, "failures", 300)
	unknown, secret := randomHash(t), randomHash(t)
	for _, tc := range []struct {
		name string
		edit invoiceEdit
	}{
		{"unknown payment hash", invoiceEdit{paymentHash: &unknown}},
		{"wrong payment secret", invoiceEdit{paymentSecret: &secret}},
		{"final CLTV delta 40 below the invoice's 300", invoiceEdit{minFinalCLTV: 40}},
	} {
		forged, err := forgeInvoice(alice, real.PaymentRequest, tc.edit)
		require.NoError(t, err, tc.name)
		dec, err := lk.Client().DecodeInvoice(ctx(t, 10*time.Second), nodeapi.DecodeInvoiceParams{Bolt11: forged})
		dec = mustCall(t, "decodeinvoice", dec, err)
		require.Equal(t, alice.id(), dec.Payee, tc.name)
		p := lkPay(t, lk, forged)
		require.Equal(t, nodeapi.StatusFailed, p.Status, "%s: %+v", tc.name, *p)
		require.Equal(t, uint16(codeIncorrectOrUnknownPaymentDetails), p.FailureCode, "%s: %+v", tc.name, *p)
		t.Logf("%s: failed with %#x (%s)", tc.name, p.FailureCode, p.FailureReason)
	}
	steps.done("3 refused payments")
	require.Equal(t, "OPEN", alice.lookupInvoice(t, real.RHash).State)
	require.Equal(t, before, lnkitTotalMsat(t, lk, suite.chanA, suite.chanB), "failed payments moved nothing")
	checkChannel(t, lk, suite.chanA)
	checkChannel(t, lk, suite.chanB)
	requireSucceeded(t, lkPay(t, lk, real.PaymentRequest), 77_777_000)
	require.Equal(t, "SETTLED", alice.lookupInvoice(t, real.RHash).State)
	require.Equal(t, before-77_777_000, lnkitTotalMsat(t, lk, suite.chanA, suite.chanB))
	steps.done("the genuine invoice still pays")
}

// Test06KillRestart: kill -9 the lnkit node while alice streams payments to it, restart it: the
// channels are reestablished, every invoice ends up paid exactly once (payments that failed while the
// node was down are retried), lnkit's records and both sides' balances agree, and payments go on both
// ways.
func Test06KillRestart(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)
	ensureChannels(t, lk)
	before := lnkitTotalMsat(t, lk, suite.chanA, suite.chanB)
	var fundingOps []wire.OutPoint
	for _, id := range []string{suite.chanA, suite.chanB} {
		fundingOps = append(fundingOps, outpoint(t, alice.channel(t, id).ChannelPoint))
	}
	const n, workers = 30, 3
	amts := varied(n, 6)
	invs := make([]*nodeapi.InvoiceResult, n)
	for i := range invs {
		invs[i] = lk.invoice(t, amts[i], fmt.Sprintf("stream %d", i))
	}

	var succeeded atomic.Int32
	var mu sync.Mutex
	attempts := map[int][]string{}
	record := func(i int, what string) {
		mu.Lock()
		attempts[i] = append(attempts[i], what)
		mu.Unlock()
	}
	jobs := make(chan int, n)
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	streamCtx, stopStream := context.WithTimeout(context.Background(), 3*time.Minute)
	defer stopStream()
	streamErr := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := range jobs {
				for {
					if streamCtx.Err() != nil {
						mu.Lock()
						streamErr <- fmt.Errorf("invoice %d not paid: %v; attempts %v", i, streamCtx.Err(), attempts[i])
						mu.Unlock()
						return
					}
					p, err := alice.payInvoice(streamCtx, invs[i].Bolt11)
					if err != nil {
						record(i, "error: "+err.Error())
					} else {
						record(i, p.Status+" "+p.FailureReason)
					}
					if err == nil && p.Status == "SUCCEEDED" {
						succeeded.Add(1)
						break
					}
					if err == nil && strings.Contains(p.FailureReason, "INCORRECT_PAYMENT_DETAILS") {
						streamErr <- fmt.Errorf("invoice %d refused by lnkit after restart: %+v", i, p)
						return
					}
					time.Sleep(500 * time.Millisecond) // node down or channel not yet reestablished
				}
			}
			streamErr <- nil
		}()
	}
	waitFor(t, time.Minute, func() (bool, string) {
		return succeeded.Load() >= 5, fmt.Sprintf("%d payments settled", succeeded.Load())
	})
	lk.Kill()
	killedAt := succeeded.Load()
	var inFlight int
	for _, id := range []string{suite.chanA, suite.chanB} {
		if c := alice.channel(t, id); c != nil {
			inFlight += len(c.PendingHTLCs)
		}
	}
	t.Logf("killed lnkit with %d HTLCs pending on alice's side", inFlight)
	steps.done(fmt.Sprintf("stream until kill -9 (%d settled)", killedAt))
	time.Sleep(time.Second)
	lk.Restart(t)
	ensureConnected(t, lk)
	steps.done("restart and reconnect")
	// Wait for the workers, but stop at once if a channel did not survive the restart (its HTLCs
	// would only resolve on chain, blocks and minutes away).
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for done := 0; done < workers; {
		select {
		case err := <-streamErr:
			require.NoError(t, err)
			done++
		case <-tick.C:
			for _, op := range fundingOps {
				if tx := nw.btcd.mempoolSpend(t, op); tx != nil {
					stopStream()
					t.Fatalf("channel %v was closed after lnkit's restart (tx %s in the mempool); lnkit's log says:\n%s",
						op, txid(tx), logLines(lk.logPath(), "level=ERROR", 10))
				}
			}
		}
	}
	steps.done(fmt.Sprintf("stream finished (%d settled after the kill)", int32(n)-killedAt))
	retried := 0
	for _, a := range attempts {
		if len(a) > 1 {
			retried++
		}
	}
	t.Logf("%d of %d invoices needed more than one attempt", retried, n)

	// lnkit has every invoice paid with its amount, and nothing else moved.
	waitFor(t, 30*time.Second, func() (bool, string) {
		byHash := map[string]nodeapi.Invoice{}
		for _, inv := range lk.invoices(t) {
			byHash[inv.PaymentHash] = inv
		}
		for i, inv := range invs {
			got, ok := byHash[inv.PaymentHash]
			if !ok || got.Status != nodeapi.InvoicePaid || got.ReceivedMsat != amts[i] {
				return false, fmt.Sprintf("invoice %d: %+v", i, got)
			}
		}
		return true, ""
	})
	var in uint64
	for _, a := range amts {
		in += a
	}
	checkChannel(t, lk, suite.chanA)
	checkChannel(t, lk, suite.chanB)
	require.Equal(t, before+in, lnkitTotalMsat(t, lk, suite.chanA, suite.chanB))

	// Payments resume both ways.
	for i, amt := range varied(5, 7) {
		ki := lk.invoice(t, amt, fmt.Sprintf("after restart %d", i))
		p, err := alice.payInvoice(ctx(t, 2*time.Minute), ki.Bolt11)
		require.NoError(t, err)
		require.Equal(t, "SUCCEEDED", p.Status, "%+v", p)
		li := alice.addInvoice(t, amt, "after restart", 0)
		requireSucceeded(t, lkPay(t, lk, li.PaymentRequest), amt)
	}
	checkChannel(t, lk, suite.chanA)
	checkChannel(t, lk, suite.chanB)
	require.Equal(t, before+in, lnkitTotalMsat(t, lk, suite.chanA, suite.chanB))
	steps.done("5 + 5 payments after restart")
}

// closing is one channel of scenario 7 with the balances both sides had before it was closed.
type closing struct {
	name        string
	fundingTxid string
	op          wire.OutPoint
	capacity    int64
	lkMsat      uint64
	lkFunder    bool
	feerate     int64 // commitment feerate, sat/kw
	lndPoint    string
	tx          *wire.MsgTx // the closing or commitment transaction
}

func (c *closing) lkSat() int64  { return int64(c.lkMsat / 1000) }
func (c *closing) lndSat() int64 { return (c.capacity*1000 - int64(c.lkMsat)) / 1000 }

func (c *closing) commitFee() int64 { return commitFeeSat(c.feerate) }

// Test07Close: cooperative close initiated by each side, force close by each side with no HTLC in
// flight; every output of the closing and commitment transactions is checked against the balances, and
// lnkit's funds reach its wallet (after the CSV delay lnd asked for its own commitment's to_local).
func Test07Close(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)
	ensureChannels(t, lk)
	ensureFunded(t, lk)
	c := openLnkitChannel(t, lk, 500_000, 100_000_000)
	d := alice.openChannel(t, lk.ID(), 500_000, 100_000, false)
	confirmChannels(t, lk, c, d)
	steps.done("open channels C and D")

	chans := map[string]*closing{}
	for name, id := range map[string]string{"A": suite.chanA, "B": suite.chanB, "C": c, "D": d} {
		checkChannel(t, lk, id)
		kc, lc := lk.channel(t, id), alice.channel(t, id)
		chans[name] = &closing{name: name, fundingTxid: id, op: outpoint(t, lc.ChannelPoint), capacity: kc.CapacitySat,
			lkMsat: kc.LocalBalanceMsat, lkFunder: kc.IsOutbound, feerate: int64(lc.FeePerKw), lndPoint: lc.ChannelPoint}
	}
	require.True(t, chans["A"].lkFunder && chans["C"].lkFunder && !chans["B"].lkFunder && !chans["D"].lkFunder)
	// lnkit's wallet is settled; its claimable balance is what its channels hold.
	wallet0 := lk.balance(t)
	require.Zero(t, wallet0.UnconfirmedSat, "lnkit wallet settled before the closes")
	var held int64
	for _, kc := range lk.channels(t) {
		held += int64(kc.LocalBalanceMsat / 1000)
	}
	require.Equal(t, held, wallet0.ClaimableSat, "claimable_sat is the sum of the channel balances")
	h0 := nw.btcd.height(t) + 1

	chanID := func(txid string) string { return lk.channel(t, txid).ChannelID }
	_, err := lk.Client().CloseChannel(ctx(t, 2*time.Minute), nodeapi.CloseChannelParams{ChannelID: chanID(suite.chanA)})
	require.NoError(t, err, "lnkit coop-closes A")
	alice.closeChannel(t, chans["B"].lndPoint, false)
	_, err = lk.Client().CloseChannel(ctx(t, 2*time.Minute), nodeapi.CloseChannelParams{ChannelID: chanID(c), Force: true})
	require.NoError(t, err, "lnkit force-closes C")
	alice.closeChannel(t, chans["D"].lndPoint, true)
	waitFor(t, 60*time.Second, func() (bool, string) {
		for _, ch := range chans {
			if ch.tx == nil {
				ch.tx = nw.btcd.mempoolSpend(t, ch.op)
			}
			if ch.tx == nil {
				return false, "no transaction spends channel " + ch.name + "'s funding output yet"
			}
		}
		return true, ""
	})
	steps.done("4 closes broadcast")
	nw.mine(t, 1)
	spends := nw.btcd.findSpends(t, h0, chans["A"].op, chans["B"].op, chans["C"].op, chans["D"].op)
	require.Len(t, spends, 4, "all four closing transactions confirmed")
	suite.chanA, suite.chanB = "", ""

	values := func(tx *wire.MsgTx) []int64 {
		var v []int64
		for _, o := range tx.TxOut {
			v = append(v, o.Value)
		}
		return v
	}
	outputWith := func(tx *wire.MsgTx, value int64) int {
		for i, o := range tx.TxOut {
			if o.Value == value {
				return i
			}
		}
		return -1
	}
	sum := func(tx *wire.MsgTx) int64 {
		var s int64
		for _, o := range tx.TxOut {
			s += o.Value
		}
		return s
	}
	// Cooperative closes: the non-funder's output is its balance exactly (none if it has nothing); the
	// funder pays the fee.
	var coopToLnkit int64
	for _, name := range []string{"A", "B"} {
		ch := chans[name]
		tx := spends[ch.op].tx
		nonFunder := ch.lndSat()
		if !ch.lkFunder {
			nonFunder = ch.lkSat()
		}
		fee := ch.capacity - sum(tx)
		require.True(t, fee > 0 && fee < 20_000, "%s: closing fee %d", name, fee)
		var nonFunderOut, funderOut int64
		if nonFunder == 0 {
			require.Len(t, tx.TxOut, 1, "%s: the non-funder has nothing: outputs %v", name, values(tx))
			funderOut = tx.TxOut[0].Value
		} else {
			require.Len(t, tx.TxOut, 2, "%s: closing outputs %v", name, values(tx))
			i := outputWith(tx, nonFunder)
			require.GreaterOrEqual(t, i, 0, "%s: the non-funder's output is %d: %v", name, nonFunder, values(tx))
			nonFunderOut, funderOut = nonFunder, tx.TxOut[1-i].Value
		}
		lkOut := nonFunderOut
		if ch.lkFunder {
			lkOut = funderOut
			require.Less(t, lkOut, ch.lkSat(), "%s: lnkit pays the closing fee", name)
		}
		coopToLnkit += lkOut
		t.Logf("coop close %s: outputs %v, fee %d sat, lnkit gets %d", name, values(tx), fee, lkOut)
	}
	// Force closes: the broadcaster's commitment has to_local (delayed), to_remote and two anchors; the
	// funder pays the commitment fee at the channel's feerate and the anchors.
	var sweepOps []wire.OutPoint
	var lkOnChain int64
	for _, name := range []string{"C", "D"} {
		ch := chans[name]
		tx := spends[ch.op].tx
		require.Len(t, tx.TxOut, 4, "%s: commitment outputs %v", name, values(tx))
		require.Equal(t, 2, countValue(tx, anchorSat), "%s: two anchors", name)
		var lkValue, lndValue int64
		if name == "C" { // lnkit's commitment, lnkit funded: lnkit's to_local pays fee and anchors
			lkValue = ch.lkSat() - ch.commitFee() - 2*anchorSat
			lndValue = ch.lndSat()
		} else { // alice's commitment, alice funded
			lkValue = ch.lkSat()
			lndValue = ch.lndSat() - ch.commitFee() - 2*anchorSat
		}
		i := outputWith(tx, lkValue)
		require.GreaterOrEqual(t, i, 0, "%s: lnkit's output should be %d: %v", name, lkValue, values(tx))
		require.GreaterOrEqual(t, outputWith(tx, lndValue), 0, "%s: alice's output should be %d: %v", name, lndValue, values(tx))
		// Outputs are the msat balances rounded down: the sub-satoshi remainder goes to the fee too.
		remainder := ch.capacity - ch.lkSat() - ch.lndSat()
		require.Equal(t, ch.commitFee()+remainder, ch.capacity-sum(tx), "%s: commitment fee at %d sat/kw", name, ch.feerate)
		sweepOps = append(sweepOps, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)})
		lkOnChain += lkValue
		t.Logf("force close %s: outputs %v, lnkit's is #%d (%d sat)", name, values(tx), i, lkValue)
	}
	steps.done("closing transactions checked")
	// The force-closed channels' money does not vanish from lnkit's balances: walletbalance counts its
	// outputs on both commitments (the cooperative closes pay the wallet directly and count there).
	waitFor(t, 30*time.Second, func() (bool, string) {
		w := lk.balance(t)
		return w.OnchainClaimableSat == lkOnChain, fmt.Sprintf("lnkit onchain_claimable_sat %d, want %d", w.OnchainClaimableSat, lkOnChain)
	})

	// Mine until lnkit has swept both outputs (D's to_remote after 1 block, C's to_local after the CSV
	// delay) and its wallet holds the coop outputs and the sweeps.
	var sweptToLnkit int64
	var sweeps map[wire.OutPoint]spend
	walletOK := func() (bool, string) {
		sweeps = nw.btcd.findSpends(t, h0, sweepOps...)
		if len(sweeps) < 2 {
			return false, fmt.Sprintf("%d of 2 lnkit outputs swept", len(sweeps))
		}
		seen := map[string]bool{}
		sweptToLnkit = 0
		for _, s := range sweeps {
			if !seen[txid(s.tx)] {
				seen[txid(s.tx)] = true
				sweptToLnkit += sum(s.tx)
			}
		}
		w := lk.balance(t)
		want := wallet0.ConfirmedSat + coopToLnkit + sweptToLnkit
		return w.ConfirmedSat == want, fmt.Sprintf("lnkit wallet %+v, want %d confirmed", *w, want)
	}
	for i := 0; i < remoteDelay+12; i++ {
		if ok, _ := walletOK(); ok {
			break
		}
		nw.mine(t, 1)
	}
	waitFor(t, 30*time.Second, walletOK)
	for op, s := range sweeps {
		var in int64
		for _, txin := range s.tx.TxIn {
			prev := nw.btcd.rawTx(t, txin.PreviousOutPoint.Hash.String())
			in += prev.TxOut[txin.PreviousOutPoint.Index].Value
		}
		fee := in - sum(s.tx)
		require.True(t, fee > 0 && fee < 20_000, "sweep of %v: fee %d", op, fee)
		t.Logf("sweep of %v confirmed at height %d (closes at %d): %d inputs, fee %d sat", op, s.height, h0,
			len(s.tx.TxIn), fee)
	}
	steps.done("sweeps confirmed and in lnkit's wallet")

	// lnd's view of the four closes.
	types := map[string]string{}
	for _, cc := range alice.closedChannels(t) {
		types[cc.ChannelPoint] = cc.CloseType
	}
	require.Equal(t, "COOPERATIVE_CLOSE", types[chans["A"].lndPoint])
	require.Equal(t, "COOPERATIVE_CLOSE", types[chans["B"].lndPoint])
	require.Equal(t, "REMOTE_FORCE_CLOSE", types[chans["C"].lndPoint])
	// alice's own to_local on D waits for the to_self_delay lnkit asked, so lnd still lists D as pending.
	if types[chans["D"].lndPoint] == "" {
		require.Contains(t, alice.pendingForceClosing(t), chans["D"].lndPoint, "alice's force close of D")
	} else {
		require.Equal(t, "LOCAL_FORCE_CLOSE", types[chans["D"].lndPoint])
	}
	for _, ch := range chans {
		if kc := lk.channel(t, ch.fundingTxid); kc != nil {
			require.False(t, kc.IsUsable, "lnkit still lists %s as usable: %+v", ch.name, *kc)
		}
	}
	// The monitors list a swept output until the sweep is 6 blocks deep (lnkit's AntiReorgDelay).
	nw.mine(t, 6)
	waitFor(t, 30*time.Second, func() (bool, string) {
		w := lk.balance(t)
		return w.ClaimableSat == 0 && w.OnchainClaimableSat == 0, fmt.Sprintf("lnkit still counts %d sat claimable "+
			"(%d on chain) after every close was swept (%d channels listed)", w.ClaimableSat, w.OnchainClaimableSat,
			len(lk.channels(t)))
	})
	for _, ch := range chans {
		suite.resolved = append(suite.resolved, ch.fundingTxid)
	}
}

func countValue(tx *wire.MsgTx, v int64) int {
	n := 0
	for _, o := range tx.TxOut {
		if o.Value == v {
			n++
		}
	}
	return n
}

// Test08UpdateFee: after the fee source changes, each funder sends update_fee and both sides show the
// new feerate: lnkit for the channel it funded, lnd (run as lnd-fastfee, whose link checks the fee
// every 2-5 s instead of every 10-60 min) for the channel it funded.
func Test08UpdateFee(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)
	fast := hasFastFee()
	if fast && alice.bin != "lnd-fastfee" {
		alice.restart(t, "lnd-fastfee")
		steps.done("restart alice as lnd-fastfee")
	}
	ensureConnected(t, lk)
	ensureFunded(t, lk)
	e := openLnkitChannel(t, lk, 400_000, 0)
	f := alice.openChannel(t, lk.ID(), 400_000, 0, false)
	confirmChannels(t, lk, e, f)
	steps.done("open channels E and F")
	for _, id := range []string{e, f} {
		checkChannel(t, lk, id)
		require.EqualValues(t, perKw(nw.fees.get()), lk.channel(t, id).FeeratePerKw, "initial feerate from the fee source")
	}

	const newFee = 6000 // sat/kvB: 1500 sat/kw, under lnd's anchor commitment cap of 2500 sat/kw
	nw.fees.set(newFee)
	t.Cleanup(func() { nw.fees.set(initialFeeSatPerKvB) })
	t0 := time.Now()
	feerates := func(id string) (int64, uint32) {
		lc, kc := alice.channel(t, id), lk.channel(t, id)
		if lc == nil || kc == nil {
			return -1, 0
		}
		return int64(lc.FeePerKw), kc.FeeratePerKw
	}
	waitFor(t, 90*time.Second, func() (bool, string) {
		l, k := feerates(e)
		return l == int64(perKw(newFee)) && k == perKw(newFee), fmt.Sprintf("channel E: alice %d lnkit %d sat/kw, want %d", l, k, perKw(newFee))
	})
	steps.done(fmt.Sprintf("lnkit's update_fee seen on both sides (%.1fs)", time.Since(t0).Seconds()))
	if fast {
		waitFor(t, 60*time.Second, func() (bool, string) {
			l, k := feerates(f)
			return l == int64(perKw(newFee)) && k == perKw(newFee), fmt.Sprintf("channel F: alice %d lnkit %d sat/kw, want %d", l, k, perKw(newFee))
		})
		steps.done(fmt.Sprintf("lnd's update_fee seen on both sides (%.1fs)", time.Since(t0).Seconds()))
	} else {
		l, k := feerates(f)
		t.Logf("lnd-fastfee not built: lnd sends update_fee only 10-60 min after a change; channel F stays at %d/%d sat/kw", l, k)
	}
	for _, id := range []string{e, f} {
		checkChannel(t, lk, id)
	}
	// Both channels still carry payments at the new feerate.
	ki := lk.invoice(t, 3_000_000, "after update_fee")
	p, err := alice.payInvoice(ctx(t, 2*time.Minute), ki.Bolt11)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", p.Status, "%+v", p)
	li := alice.addInvoice(t, 2_000_000, "after update_fee", 0)
	requireSucceeded(t, lkPay(t, lk, li.PaymentRequest), 2_000_000)
	for _, id := range []string{e, f} {
		checkChannel(t, lk, id)
	}
	steps.done("payments after update_fee")
}
