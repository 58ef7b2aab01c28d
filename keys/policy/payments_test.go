package policy

import (
	"testing"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/stretchr/testify/require"
)

func out(b byte, amt uint64) tHTLC { return tHTLC{out: true, amt: amt, hash: hashOf(b), cltv: 800_000} }

func TestPaymentApproved(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, false)
	tc2 := h.open(1_000_000, true)

	// Nobody approved it: refused on their commitment and on ours.
	_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, tc.st.with(out(1, 10_000_000))))
	requireRule(t, err, RulePaymentApproved)
	requireRule(t, tc.validate(tc.hn+1, tc.st.with(out(1, 10_000_000))), RulePaymentApproved)

	// Approved for 10,000,000 + 100 msat of fee, split over two channels.
	require.NoError(t, h.approveInvoice(hashOf(1), 10_000_000, 100))
	require.NoError(t, tc.round(tc.st.with(out(1, 6_000_000))))
	requireRule(t, tc2.round(tc2.st.with(out(1, 4_000_101))), RulePaymentApproved)
	require.NoError(t, tc2.round(tc2.st.with(out(1, 4_000_100))))
	// Both parts fulfilled; paying the invoice again is refused.
	require.NoError(t, tc.round(tc.st.settle(0, true)))
	require.NoError(t, tc2.round(tc2.st.settle(0, true)))
	requireRule(t, tc.round(tc.st.with(out(1, 1_000))), RulePaymentApproved)
	require.NoError(t, h.approveInvoice(hashOf(1), 10_000_000, 100)) // approving again changes nothing
	requireRule(t, tc.round(tc.st.with(out(1, 1_000))), RulePaymentApproved)

	// Fulfilled and replaced by another HTLC for the same hash in one step: paid twice, refused on
	// either chain.
	require.NoError(t, h.approveInvoice(hashOf(8), 5_000_000, 0))
	require.NoError(t, tc.round(tc.st.with(out(8, 5_000_000))))
	swap := tc.st.settle(len(tc.st.htlcs)-1, true).with(tHTLC{out: true, amt: 5_000_000, hash: hashOf(8), cltv: 800_001})
	requireRule(t, tc.round(swap), RulePaymentApproved)
	requireRule(t, tc.validate(tc.hn+1, swap), RulePaymentApproved)
	require.NoError(t, tc.round(tc.st.settle(len(tc.st.htlcs)-1, true)))

	t.Run("approvals", func(t *testing.T) {
		bolt11 := h.invoiceFor(hashOf(2), 5_000)
		d := InvoiceApprovalHash(bolt11, 0)
		requireRule(t, h.pol.ApproveInvoice(bolt11, 1, ecdsa.Sign(h.client, d[:]).Serialize()), RulePaymentApproved) // fee differs
		requireRule(t, h.pol.ApproveInvoice(bolt11, 0, []byte{1, 2, 3}), RulePaymentApproved)
		compact := ecdsa.SignCompact(h.client, d[:], true)
		require.NoError(t, h.pol.ApproveInvoice(bolt11, 0, compact))
		d = InvoiceApprovalHash("lnbc1garbage", 0)
		requireRule(t, h.pol.ApproveInvoice(h.invoiceFor(hashOf(6), 1), 0, nil), RulePaymentApproved)
		requireRule(t, h.pol.ApproveInvoice("lnbc1garbage", 0, ecdsa.Sign(h.client, d[:]).Serialize()), RulePaymentApproved)
		// Keysend.
		payee := h.payee.GetNodeID()
		k := KeysendApprovalHash(payee, hashOf(3), 7_000_000, 0)
		requireRule(t, h.pol.ApproveKeysend(payee, hashOf(3), 7_000_001, 0, ecdsa.Sign(h.client, k[:]).Serialize()), RulePaymentApproved)
		require.NoError(t, h.pol.ApproveKeysend(payee, hashOf(3), 7_000_000, 0, ecdsa.Sign(h.client, k[:]).Serialize()))
		require.NoError(t, tc.round(tc.st.with(out(3, 7_000_000))))
		// An invoice past its expiry (one hour) can no longer be approved, nor used.
		require.NoError(t, h.approveInvoice(hashOf(4), 1_000_000, 0))
		stale := h.invoiceFor(hashOf(5), 1_000_000)
		h.setTime(testNow + 3600)
		d = InvoiceApprovalHash(stale, 0)
		requireRule(t, h.pol.ApproveInvoice(stale, 0, ecdsa.Sign(h.client, d[:]).Serialize()), RulePaymentApproved)
		requireRule(t, tc.round(tc.st.with(out(4, 1_000_000))), RulePaymentApproved)
	})
	t.Run("no client key", func(t *testing.T) {
		h2 := newHarness(t, func(c *Config) { c.ClientKey = nil })
		requireRule(t, h2.approveInvoice(hashOf(1), 1_000, 0), RulePaymentApproved)
	})
}

func TestRoutingBalance(t *testing.T) {
	h := newHarness(t, nil)
	upstream := h.openWith(1_000_000, false, false)
	downstream := h.open(1_000_000, true)
	r := hashOf(7)
	inc := tHTLC{amt: 30_000_000, hash: r, cltv: 800_100}
	// The incoming HTLC is on our commitment only: not yet irrevocably committed.
	require.NoError(t, upstream.validate(upstream.hn+1, upstream.st.with(inc)))
	requireRule(t, downstream.round(downstream.st.with(tHTLC{out: true, amt: 29_000_000, hash: r, cltv: 800_000})), RulePaymentApproved)
	_, err := upstream.a.ReleaseCommitmentSecret(upstream.hn)
	require.NoError(t, err)
	upstream.hn++
	upstream.st = upstream.st.with(inc)
	_, _, err = upstream.a.SignCounterpartyCommitment(upstream.cpTx(upstream.cn+1, upstream.st))
	require.NoError(t, err)
	upstream.cn++
	// Still on their previous, unrevoked commitment without it: not yet.
	requireRule(t, downstream.round(downstream.st.with(tHTLC{out: true, amt: 29_000_000, hash: r, cltv: 800_000})), RulePaymentApproved)
	secret, err := upstream.b.ReleaseCommitmentSecret(upstream.cn - 1)
	require.NoError(t, err)
	require.NoError(t, upstream.a.ValidateCounterpartyRevocation(upstream.cn-1, secret))
	// Now it is: forward at most what came in.
	requireRule(t, downstream.round(downstream.st.with(tHTLC{out: true, amt: 30_000_001, hash: r, cltv: 800_000})), RuleRoutingBalance)
	fwd := downstream.st.with(tHTLC{out: true, amt: 29_000_000, hash: r, cltv: 800_000})
	require.NoError(t, downstream.round(fwd))
	// Fulfilled downstream, then claimed upstream; forwarding the same hash again is refused.
	require.NoError(t, downstream.round(fwd.settle(0, true)))
	require.NoError(t, upstream.round(upstream.st.settle(0, true)))
	requireRule(t, downstream.round(downstream.st.with(tHTLC{out: true, amt: 1_000, hash: r, cltv: 800_000})), RulePaymentApproved)
}

func TestCommitmentBalance(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, false)
	shift := tc.st
	shift.toA, shift.toB = shift.toA-1_000_000, shift.toB+1_000_000
	_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, shift))
	requireRule(t, err, RuleCommitmentBalance)
	requireRule(t, tc.validate(tc.hn+1, shift), RuleCommitmentBalance)
	// An approved HTLC that did not leave cannot be "fulfilled" twice: its removal moves it once.
	require.NoError(t, h.approveInvoice(hashOf(1), 5_000_000, 0))
	st := tc.st.with(out(1, 5_000_000))
	require.NoError(t, tc.round(st))
	double := st.settle(0, true)
	double.toA, double.toB = double.toA-5_000_000, double.toB+5_000_000
	requireRule(t, tc.round(double), RuleCommitmentBalance)
	require.NoError(t, tc.round(st.settle(0, true)))
	// A first commitment that does not give us our opening balance.
	fresh := h.openWithFirst(1_000_000, chState{toA: 999_000_000, toB: 1_000_000, feerate: 1000})
	requireRule(t, fresh, RuleCommitmentBalance)
}

func TestVelocity(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxVelocityMsat = 60_000_000 })
	require.NoError(t, h.approveInvoice(hashOf(1), 50_000_000, 1_000))
	requireRule(t, h.approveInvoice(hashOf(2), 10_000_000, 0), RuleVelocity)
	h.setTime(testNow + DefaultVelocityPeriodSecs)
	require.NoError(t, h.approveInvoice(hashOf(3), 10_000_000, 0))

	// Without approvals, the velocity limit bounds what leaves.
	h = newHarness(t, func(c *Config) { c.AllowUnapprovedPayments, c.MaxVelocityMsat = true, 60_000_000 })
	tc := h.open(1_000_000, false)
	require.NoError(t, tc.round(tc.st.with(out(1, 50_000_000))))
	requireRule(t, tc.round(tc.st.with(out(2, 10_000_001))), RuleVelocity)
	require.NoError(t, tc.round(tc.st.with(out(2, 10_000_000))))
}
