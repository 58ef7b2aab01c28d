package policy

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
)

// honestRounds pays out through tc under a fresh approval and gets paid back: add, sign, revoke,
// fulfil, on both chains.
func honestRounds(t *testing.T, h *harness, tc *testChan, b byte) {
	t.Helper()
	require.NoError(t, honestRoundsErr(h, tc, b))
}

// honestRoundsErr is honestRounds returning the first refusal (for goroutines).
func honestRoundsErr(h *harness, tc *testChan, b byte) error {
	steps := []func() error{
		func() error { return h.approveInvoice(hashOf(b), 2_000_000, 10) },
		func() error { return tc.round(tc.st.with(out(b, 2_000_000))) },
		func() error { return tc.round(tc.st.settle(0, true)) },
		func() error { return tc.round(tc.st.with(tHTLC{amt: 1_000_000, hash: hashOf(b + 100), cltv: 800_000})) },
		func() error { return tc.round(tc.st.settle(0, true)) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// TestCompromisedNode drives one policy Signer as a node that was taken over would: every request
// that could lose funds is refused, while an honest channel on the same Signer keeps working.
func TestCompromisedNode(t *testing.T) {
	h := newHarness(t, nil)
	honest := h.open(1_000_000, true)
	victim := h.open(2_000_000, false)
	honestRounds(t, h, honest, 1)
	revoked := victim.holderTx(victim.hn, victim.st)
	require.NoError(t, victim.round(victim.st))
	ours, err := h.pol.GetShutdownScriptPubKey()
	require.NoError(t, err)
	thief := append([]byte{0x00, 0x14}, make([]byte, 20)...)
	thief[21] = 0x66

	attacks := []struct {
		name string
		rule Rule
		do   func() error
	}{
		{"broadcast a revoked commitment", RuleHolderNotRevoked, func() error {
			_, err := victim.a.SignHolderCommitment(revoked.CommitmentNumber, revoked.Tx)
			return err
		}},
		{"pay an invoice nobody approved", RulePaymentApproved, func() error {
			_, _, err := victim.a.SignCounterpartyCommitment(victim.cpTx(victim.cn+1, victim.st.with(out(50, 500_000_000))))
			return err
		}},
		{"pay it on our own commitment, with a colluding peer", RulePaymentApproved, func() error {
			return victim.validate(victim.hn+1, victim.st.with(out(50, 500_000_000)))
		}},
		{"close to an unknown script", RuleMutualCloseDestination, func() error {
			tx := bolt3.BuildClosingTx(victim.pa.FundingOutPoint, thief, 1_999_000, ours, 0, 354)
			_, err := victim.a.SignClosingTransaction(&keys.ClosingTx{ToHolderSat: 1_999_000, HolderScript: thief, CounterpartyScript: ours, Tx: tx})
			return err
		}},
		{"give the balance away", RuleCommitmentBalance, func() error {
			st := victim.st
			st.toA, st.toB = st.toA-1_000_000_000, st.toB+1_000_000_000
			_, _, err := victim.a.SignCounterpartyCommitment(victim.cpTx(victim.cn+1, st))
			return err
		}},
		{"revoke before the next commitment is validated", RuleRevokeNewCommitment, func() error {
			_, err := victim.a.ReleaseCommitmentSecret(victim.hn)
			return err
		}},
		{"sweep to a stranger", RuleSweepDestination, func() error {
			tx := spend([]*wire.TxOut{{Value: 1_000, PkScript: thief}}, wire.OutPoint{Hash: revoked.Tx.TxHash()})
			_, err := victim.a.SignPaymentOutput(tx, 0, ours, 2_000)
			return err
		}},
		{"spend the funding output through the anchor", RuleAnchorScript, func() error {
			funding, err := victim.pa.FundingScript()
			require.NoError(t, err)
			tx := spend([]*wire.TxOut{{Value: 1_000, PkScript: ours}}, victim.pa.FundingOutPoint)
			_, err = victim.a.SignAnchor(tx, 0, funding, victim.value)
			return err
		}},
		{"push funds at open", RuleFundingPush, func() error {
			return h.freshParams(victim, func(p *keys.ChannelTransactionParameters) { p.PushMsat = 1_000_000_000 })
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) { requireRule(t, a.do(), a.rule) })
	}
	// The honest channel, and the honest continuation of the victim, still work.
	honestRounds(t, h, honest, 2)
	honestRounds(t, h, victim, 3)
}
