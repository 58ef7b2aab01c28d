package policy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRestart makes a new Signer on the same store after some rounds: what was refused still is,
// approvals and payments are remembered, and the honest next round passes.
func TestRestart(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, false)
	revoked := tc.holderTx(tc.hn, tc.st)
	require.NoError(t, h.approveInvoice(hashOf(1), 3_000_000, 0))
	require.NoError(t, h.approveInvoice(hashOf(2), 4_000_000, 0))
	require.NoError(t, tc.round(tc.st.with(out(1, 3_000_000))))
	require.NoError(t, tc.round(tc.st.settle(0, true)))
	refused := func() {
		_, err := tc.a.SignHolderCommitment(revoked.CommitmentNumber, revoked.Tx)
		requireRule(t, err, RuleHolderNotRevoked)
		_, err = tc.a.ReleaseCommitmentSecret(tc.hn)
		requireRule(t, err, RuleRevokeNewCommitment)
		requireRule(t, tc.round(tc.st.with(out(1, 1_000))), RulePaymentApproved) // paid already
		requireRule(t, tc.round(tc.st.with(out(9, 1_000))), RulePaymentApproved) // never approved
	}
	refused()

	h.restart()
	tc.a = h.pol.DeriveChannelSigner(tc.value, tc.id)
	require.NoError(t, tc.a.ProvideChannelParameters(tc.pa))
	monitor := h.pol.DeriveChannelSigner(tc.value, tc.id) // another instance shares the state
	refused()
	_, err := monitor.SignHolderCommitment(revoked.CommitmentNumber, revoked.Tx)
	requireRule(t, err, RuleHolderNotRevoked)
	// The approval made before the restart pays; the honest rounds continue.
	require.NoError(t, tc.round(tc.st.with(out(2, 4_000_000))))
	require.NoError(t, tc.round(tc.st.settle(0, true)))
	// The monitor's instance may force close with the latest commitment; its secret is then kept.
	latest := tc.holderTx(tc.hn, tc.st)
	_, err = monitor.SignHolderCommitment(tc.hn, latest.Tx)
	require.NoError(t, err)
	written := tc.a.Write()
	h.restart()
	tc.a, err = h.pol.ReadChannelSigner(written)
	require.NoError(t, err)
	_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, tc.st))
	require.NoError(t, err)
	require.NoError(t, tc.validate(tc.hn+1, tc.st))
	_, err = tc.a.ReleaseCommitmentSecret(tc.hn)
	requireRule(t, err, RuleRevokeNotClosed)
}
