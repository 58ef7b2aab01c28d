package policy

import (
	"testing"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/stretchr/testify/require"
)

func TestCommitmentRules(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxHTLCs, c.MaxInFlightMsat = 2, 60_000_000 })
	tc := h.openWith(1_000_000, false, false)
	require.NoError(t, tc.round(tc.st))
	in := func(b byte, amt uint64) tHTLC { return tHTLC{amt: amt, hash: hashOf(b), cltv: 800_000} }

	t.Run("commitment-structure", func(t *testing.T) {
		c := tc.cpTx(tc.cn+1, tc.st)
		c.Tx.TxOut[0].Value--
		_, _, err := tc.a.SignCounterpartyCommitment(c)
		requireRule(t, err, RuleCommitmentStructure)
		c = tc.cpTx(tc.cn+1, tc.st)
		c.ToBroadcasterMsat += 1000 // the description no longer adds up to the channel value
		_, _, err = tc.a.SignCounterpartyCommitment(c)
		requireRule(t, err, RuleCommitmentStructure)
	})
	t.Run("commitment-keys", func(t *testing.T) {
		c := tc.cpTx(tc.cn+1, tc.st)
		c.PerCommitmentPoint = tc.cpTx(tc.cn+2, tc.st).PerCommitmentPoint
		_, _, err := tc.a.SignCounterpartyCommitment(c)
		requireRule(t, err, RuleCommitmentKeys)
		// Our commitment built on the point of another number.
		point, err := tc.a.GetPerCommitmentPoint(tc.hn + 2)
		require.NoError(t, err)
		hc, err := tc.pa.NewCommitmentTx(true, tc.hn+1, point, tc.st.feerate, tc.st.toA, tc.st.toB, nil)
		require.NoError(t, err)
		sig, hs, err := tc.b.SignCounterpartyCommitment(hc)
		require.NoError(t, err)
		requireRule(t, tc.a.ValidateHolderCommitment(hc, sig, hs), RuleCommitmentKeys)
	})
	t.Run("commitment-number", func(t *testing.T) {
		_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+2, tc.st))
		requireRule(t, err, RuleCommitmentNumber)
		requireRule(t, tc.validate(tc.hn+2, tc.st), RuleCommitmentNumber)
		// A different holder commitment for the number already validated is refused; another version of
		// the latest counterparty commitment (a node that lost the state it signed one in) is signed,
		// up to three versions.
		other := tc.st
		other.feerate += 100
		requireRule(t, tc.validate(tc.hn, other), RuleCommitmentNumber)
		_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn, other))
		require.NoError(t, err)
		other.feerate += 100
		_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn, other))
		require.NoError(t, err)
		other.feerate += 100
		_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn, other))
		requireRule(t, err, RuleCommitmentNumber)
		// The next one before the counterparty revoked the previous: at most two unrevoked.
		_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, tc.st))
		require.NoError(t, err)
		_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+2, tc.st))
		requireRule(t, err, RuleCommitmentNumber)
		// Finish the round honestly.
		tc.cn++
		secret, err := tc.b.ReleaseCommitmentSecret(tc.cn - 1)
		require.NoError(t, err)
		require.NoError(t, tc.a.ValidateCounterpartyRevocation(tc.cn-1, secret))
		require.NoError(t, tc.validate(tc.hn+1, tc.st))
		tc.hn++
		requireRule(t, tc.validate(tc.hn+1, tc.st), RuleCommitmentNumber) // hn-1 not revoked yet
		_, err = tc.a.ReleaseCommitmentSecret(tc.hn - 1)
		require.NoError(t, err)
	})
	t.Run("commitment-signatures", func(t *testing.T) {
		st := tc.st.with(in(1, 10_000_000))
		c := tc.holderTx(tc.hn+1, st)
		sig, hs, err := tc.b.SignCounterpartyCommitment(c)
		require.NoError(t, err)
		wrong, _, err := tc.b.SignCounterpartyCommitment(tc.holderTx(tc.hn+1, tc.st))
		require.NoError(t, err)
		requireRule(t, tc.a.ValidateHolderCommitment(c, wrong, hs), RuleCommitmentSignatures)
		requireRule(t, tc.a.ValidateHolderCommitment(c, sig, nil), RuleCommitmentSignatures)
		requireRule(t, tc.a.ValidateHolderCommitment(c, sig, []*ecdsa.Signature{sig}), RuleCommitmentSignatures)
	})
	t.Run("commitment-fee-range", func(t *testing.T) {
		for _, fr := range []uint32{252, 100_001} {
			st := tc.st
			st.feerate = fr
			_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, st))
			requireRule(t, err, RuleCommitmentFee)
			requireRule(t, tc.validate(tc.hn+1, st), RuleCommitmentFee)
		}
	})
	t.Run("commitment-htlc-count", func(t *testing.T) {
		st := tc.st.with(in(1, 5_000_000)).with(in(2, 5_000_000)).with(in(3, 5_000_000))
		requireRule(t, tc.validate(tc.hn+1, st), RuleHTLCCount)
		_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, st))
		requireRule(t, err, RuleHTLCCount)
	})
	t.Run("commitment-htlc-inflight", func(t *testing.T) {
		st := tc.st.with(in(1, 40_000_000)).with(in(2, 30_000_000))
		requireRule(t, tc.validate(tc.hn+1, st), RuleHTLCInflight)
	})
	// The honest next round still passes, with two incoming HTLCs.
	require.NoError(t, tc.round(tc.st.with(in(1, 20_000_000)).with(in(2, 20_000_000))))
}

func TestRevocationRules(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, true)
	old := tc.holderTx(0, tc.st)
	require.NoError(t, tc.round(tc.st))

	t.Run("commitment-holder-not-revoked", func(t *testing.T) {
		_, err := tc.a.SignHolderCommitment(0, old.Tx)
		requireRule(t, err, RuleHolderNotRevoked)
		_, err = tc.a.SignHolderCommitment(tc.hn, old.Tx) // right number, wrong transaction
		requireRule(t, err, RuleHolderNotRevoked)
	})
	t.Run("revoke-new-commitment-signed", func(t *testing.T) {
		_, err := tc.a.ReleaseCommitmentSecret(tc.hn)
		requireRule(t, err, RuleRevokeNewCommitment)
		_, err = tc.a.ReleaseCommitmentSecret(tc.hn - 1) // again: fine
		require.NoError(t, err)
	})
	t.Run("counterparty-revocation-valid", func(t *testing.T) {
		_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, tc.st))
		require.NoError(t, err)
		tc.cn++
		wrong, err := tc.b.ReleaseCommitmentSecret(tc.cn)
		require.NoError(t, err)
		requireRule(t, tc.a.ValidateCounterpartyRevocation(tc.cn-1, wrong), RuleRevocationValid)
		requireRule(t, tc.a.ValidateCounterpartyRevocation(tc.cn, wrong), RuleRevocationValid)
		secret, err := tc.b.ReleaseCommitmentSecret(tc.cn - 1)
		require.NoError(t, err)
		require.NoError(t, tc.a.ValidateCounterpartyRevocation(tc.cn-1, secret))
		require.NoError(t, tc.a.ValidateCounterpartyRevocation(tc.cn-1, secret)) // again: fine
		require.NoError(t, tc.validate(tc.hn+1, tc.st))
		tc.hn++
		_, err = tc.a.ReleaseCommitmentSecret(tc.hn - 1)
		require.NoError(t, err)
	})
	t.Run("revoke-not-closed", func(t *testing.T) {
		latest := tc.holderTx(tc.hn, tc.st)
		_, err := tc.a.SignHolderCommitment(tc.hn, latest.Tx)
		require.NoError(t, err)
		_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, tc.st))
		require.NoError(t, err)
		require.NoError(t, tc.validate(tc.hn+1, tc.st))
		_, err = tc.a.ReleaseCommitmentSecret(tc.hn)
		requireRule(t, err, RuleRevokeNotClosed)
		_, err = tc.a.SignHolderCommitment(tc.hn, latest.Tx) // no longer the latest validated
		requireRule(t, err, RuleHolderNotRevoked)
	})
}
