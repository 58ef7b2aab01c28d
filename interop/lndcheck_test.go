//go:build interop

package interop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// step logs how long each part of a test took (the numbers in the suite's report).
type stepTimer struct {
	t     *testing.T
	start time.Time
}

func newSteps(t *testing.T) *stepTimer { return &stepTimer{t: t, start: time.Now()} }

func (s *stepTimer) done(what string) {
	s.t.Logf("step %-40s %5.1fs", what, time.Since(s.start).Seconds())
	s.start = time.Now()
}

func hasFastFee() bool {
	_, err := os.Stat(filepath.Join(nw.binDir, "lnd-fastfee"))
	return err == nil
}

func randomHash(t testing.TB) [32]byte {
	var h [32]byte
	if _, err := rand.Read(h[:]); err != nil {
		t.Fatal(err)
	}
	return h
}

// Test00LndSelfCheck checks the harness against lnd alone, so that a failure in the lnkit scenarios is
// lnkit's: a second lnd (bob, built with the short update_fee timer when available) connects to alice,
// opens an anchors channel, pays an invoice and a keysend, pays invoices forged with alice's key (unknown
// hash, wrong payment secret, final CLTV below the invoice's) and gets incorrect_or_unknown_payment_details
// for each, follows the fee source (estimates and, with lnd-fastfee, update_fee), and closes cooperatively.
func Test00LndSelfCheck(t *testing.T) {
	steps := newSteps(t)
	alice := nw.alice
	bin := "lnd"
	if hasFastFee() {
		bin = "lnd-fastfee"
	}
	bob, err := nw.startLnd("bob", bin)
	require.NoError(t, err)
	nw.bob = bob
	defer bob.stop()
	steps.done("start and fund bob (" + bin + ")")

	bob.connect(t, alice.uri())
	waitFor(t, 30*time.Second, func() (bool, string) {
		return alice.peer(t, bob.id()) != nil && bob.peer(t, alice.id()) != nil, "alice and bob not peers yet"
	})
	p := alice.peer(t, bob.id())
	require.True(t, p.Inbound, "bob dialled alice")
	for _, bits := range [][2]int{{0, 1}, {12, 13}, {14, 15}, {22, 23}} {
		require.True(t, hasFeaturePair(p.Features, bits), "bob's init features lack %v: %v", bits, p.Features)
	}
	steps.done("connect")

	fundingTxid := bob.openChannel(t, alice.id(), 1_000_000, 0, false)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return nw.btcd.inMempool(t, fundingTxid), "funding tx not in mempool"
	})
	nw.mine(t, 1)
	waitFor(t, 60*time.Second, func() (bool, string) {
		a, b := alice.channel(t, fundingTxid), bob.channel(t, fundingTxid)
		return a != nil && b != nil && a.Active && b.Active, "channel not active on both"
	})
	bc := bob.channel(t, fundingTxid)
	t.Logf("bob's channel: %+v", *bc)
	t.Logf("alice's channel: %+v", *alice.channel(t, fundingTxid))
	require.Equal(t, "ANCHORS", bc.CommitmentType)
	require.EqualValues(t, perKw(initialFeeSatPerKvB), bc.FeePerKw, "commitment feerate = fee source's 3-block estimate")
	// BOLT 3: the funder pays the fee for 1124 weight units and both anchors (a to_remote anchor is
	// left out while alice has no balance, its 330 sat go to the fee).
	require.EqualValues(t, 1_000_000-commitFeeSat(int64(bc.FeePerKw))-2*anchorSat, bc.LocalBalance)
	require.EqualValues(t, 0, bc.RemoteBalance)
	steps.done("open channel (1 block)")

	bob.waitRoute(t, alice.id(), 12_346)
	inv := alice.addInvoice(t, 12_345_678, "selfcheck", 0)
	pay, err := bob.payInvoice(context.Background(), inv.PaymentRequest)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", pay.Status, "%+v", pay)
	require.EqualValues(t, 12_345_678, pay.ValueMsat)
	got := alice.lookupInvoice(t, inv.RHash)
	require.Equal(t, "SETTLED", got.State)
	require.EqualValues(t, 12_345_678, got.AmtPaidMsat)
	ks, err := bob.keysend(context.Background(), alice.id(), 5000)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", ks.Status, "%+v", ks)
	steps.done("invoice payment and keysend")

	// Forged invoices: each is a valid invoice from alice that alice's invoice registry refuses.
	real := alice.addInvoice(t, 100_000, "forge", 300)
	realDec := bob.decodePayReq(t, real.PaymentRequest)
	require.EqualValues(t, 300, realDec.CltvExpiry)
	unknown, secret := randomHash(t), randomHash(t)
	for _, tc := range []struct {
		name string
		edit invoiceEdit
	}{
		{"unknown payment hash", invoiceEdit{paymentHash: &unknown}},
		{"wrong payment secret", invoiceEdit{paymentSecret: &secret}},
		{"final CLTV delta 40 < 300", invoiceEdit{minFinalCLTV: 40}},
	} {
		forged, err := forgeInvoice(alice, real.PaymentRequest, tc.edit)
		require.NoError(t, err, tc.name)
		dec := bob.decodePayReq(t, forged)
		require.Equal(t, alice.id(), dec.Destination, tc.name)
		if tc.edit.paymentHash != nil {
			require.Equal(t, hex.EncodeToString(unknown[:]), dec.PaymentHash)
		} else {
			require.Equal(t, realDec.PaymentHash, dec.PaymentHash)
		}
		if tc.edit.paymentSecret != nil {
			require.Equal(t, hex.EncodeToString(secret[:]), dec.PaymentAddr)
		}
		if tc.edit.minFinalCLTV != 0 {
			require.EqualValues(t, tc.edit.minFinalCLTV, dec.CltvExpiry)
		}
		res, err := bob.payInvoice(context.Background(), forged)
		require.NoError(t, err, tc.name)
		require.Equal(t, "FAILED", res.Status, "%s: %+v", tc.name, res)
		require.Equal(t, "FAILURE_REASON_INCORRECT_PAYMENT_DETAILS", res.FailureReason, tc.name)
		require.Equal(t, "INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS", res.lastFailureCode(), tc.name)
	}
	require.Equal(t, "OPEN", alice.lookupInvoice(t, real.RHash).State, "failed attempts leave the invoice open")
	res, err := bob.payInvoice(context.Background(), real.PaymentRequest)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", res.Status)
	steps.done("forged invoices (3 failures + 1 payment)")

	// The fee source: lnd re-reads it at every estimate on regtest (no cache).
	hits := nw.fees.hits.Load()
	require.EqualValues(t, perKw(initialFeeSatPerKvB), alice.estimateFeePerKw(t, 3))
	require.Greater(t, nw.fees.hits.Load(), hits, "the estimate was fetched from the fee source")
	nw.fees.set(6000)
	defer nw.fees.set(initialFeeSatPerKvB)
	require.EqualValues(t, perKw(6000), alice.estimateFeePerKw(t, 3))
	require.EqualValues(t, perKw(6000), bob.estimateFeePerKw(t, 6))
	steps.done("fee source read by lnd")
	if bin == "lnd-fastfee" {
		for _, want := range []uint32{perKw(6000), perKw(initialFeeSatPerKvB)} {
			nw.fees.set(want * 4)
			t0 := time.Now()
			waitFor(t, 60*time.Second, func() (bool, string) {
				a, b := alice.channel(t, fundingTxid), bob.channel(t, fundingTxid)
				return a.FeePerKw == jint(want) && b.FeePerKw == jint(want),
					fmt.Sprintf("fee_per_kw alice %d bob %d, want %d", a.FeePerKw, b.FeePerKw, want)
			})
			t.Logf("bob (funder) moved the commitment to %d sat/kw with update_fee %.1fs after the fee source changed",
				want, time.Since(t0).Seconds())
		}
		steps.done("update_fee from lnd-fastfee, up and down")
	} else {
		t.Log("lnd-fastfee not built: update_fee from lnd not checked here")
	}

	bc = bob.channel(t, fundingTxid)
	ac := alice.channel(t, fundingTxid)
	closing := bob.closeChannel(t, bc.ChannelPoint, false)
	waitFor(t, 30*time.Second, func() (bool, string) { return nw.btcd.inMempool(t, closing), "closing tx not in mempool" })
	tx := nw.btcd.rawTx(t, closing)
	nw.mine(t, 1)
	var aliceOut int64 = -1
	for _, o := range tx.TxOut {
		if o.Value == int64(ac.LocalBalance) {
			aliceOut = o.Value
		}
	}
	require.NotEqual(t, int64(-1), aliceOut, "alice (not the funder) gets exactly her balance: %d in %v", ac.LocalBalance, tx.TxOut)
	steps.done("cooperative close (1 block)")
}

// anchorSat is the value of each of the two anchor outputs (BOLT 3).
const anchorSat = 330

// commitFeeSat is the fee of an anchors commitment without HTLCs: feerate × 1124 weight units / 1000,
// rounded down (BOLT 3, "Fee Calculation").
func commitFeeSat(feeratePerKw int64) int64 { return feeratePerKw * 1124 / 1000 }

// hasFeaturePair reports whether the feature map (lncli's: bit number → feature) has either bit.
func hasFeaturePair(f map[string]lndFeature, bits [2]int) bool {
	_, a := f[fmt.Sprint(bits[0])]
	_, b := f[fmt.Sprint(bits[1])]
	return a || b
}
