package policy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHonestFlow runs a channel through payments out and in, fulfilled and failed, as an honest node
// does: every request passes.
func TestHonestFlow(t *testing.T) {
	for _, anchors := range []bool{false, true} {
		h := newHarness(t, nil)
		tc := h.open(1_000_000, anchors)
		pay := hashOf(1)
		require.NoError(t, h.approveInvoice(pay, 50_000_000, 1_000))
		st := tc.st.with(tHTLC{out: true, amt: 50_000_000, hash: pay, cltv: 800_000})
		require.NoError(t, tc.round(st))
		require.NoError(t, tc.round(st.settle(0, true)))
		// An incoming payment, then one that fails back.
		st = tc.st.with(tHTLC{out: false, amt: 20_000_000, hash: hashOf(2), cltv: 800_100})
		require.NoError(t, tc.round(st))
		require.NoError(t, tc.round(st.settle(0, true)))
		retry := hashOf(3)
		require.NoError(t, h.approveInvoice(retry, 30_000_000, 0))
		st = tc.st.with(tHTLC{out: true, amt: 30_000_000, hash: retry, cltv: 800_200})
		require.NoError(t, tc.round(st))
		require.NoError(t, tc.round(st.settle(0, false)))
		// A failed payment may be retried under its approval.
		require.NoError(t, tc.round(tc.st.with(tHTLC{out: true, amt: 30_000_000, hash: retry, cltv: 800_300})))
		// Reconnection: the same secret and the same counterparty commitment again.
		_, err := tc.a.ReleaseCommitmentSecret(tc.hn - 1)
		require.NoError(t, err)
		_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn, tc.st))
		require.NoError(t, err)
		require.NoError(t, tc.validate(tc.hn, tc.st))
	}
}

// TestApprovalExpiresMidRound: an HTLC signed on their commitment under an approval that expires
// before it reaches ours still completes its round (no new exposure), but no new HTLC uses it.
func TestApprovalExpiresMidRound(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, false)
	require.NoError(t, h.approveInvoice(hashOf(1), 5_000_000, 0))
	st := tc.st.with(out(1, 2_000_000))
	_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, st))
	require.NoError(t, err)
	tc.cn++
	h.setTime(testNow + 7200)
	require.NoError(t, tc.finish(st))
	requireRule(t, tc.round(tc.st.with(out(1, 2_000_000))), RulePaymentApproved)
	require.NoError(t, tc.round(tc.st.settle(0, false)))
}
