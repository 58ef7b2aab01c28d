package policy

import (
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
)

// spend returns a transaction spending the given outpoints to the outputs.
func spend(outs []*wire.TxOut, prev ...wire.OutPoint) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for i := range prev {
		tx.AddTxIn(wire.NewTxIn(&prev[i], nil, nil))
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	return tx
}

var strangerScript = append([]byte{0x00, 0x14}, make([]byte, 20)...)

func TestSweeps(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, false)
	dest, err := h.pol.GetDestinationScript(tc.id)
	require.NoError(t, err)
	c := tc.holderTx(tc.hn, tc.st)
	k := tc.pa.DeriveCommitmentKeys(true, c.PerCommitmentPoint)
	script, err := bolt3.ToLocalScript(k.RevocationKey, k.BroadcasterDelayedKey, tc.pa.HolderToSelfDelay)
	require.NoError(t, err)
	toLocal := wire.OutPoint{Hash: c.Tx.TxHash(), Index: 0}
	const v = 900_000
	sign := func(tx *wire.MsgTx, i int) error {
		_, err := tc.a.SignDelayedOutput(tx, i, script, v, c.PerCommitmentPoint)
		return err
	}
	require.NoError(t, sign(spend([]*wire.TxOut{{Value: v - 500, PkScript: dest}}, toLocal), 0))

	t.Run("sweep-destination", func(t *testing.T) {
		requireRule(t, sign(spend([]*wire.TxOut{{Value: v - 500, PkScript: strangerScript}}, toLocal), 0), RuleSweepDestination)
		requireRule(t, sign(spend([]*wire.TxOut{{Value: v - 600, PkScript: dest}, {Value: 100, PkScript: strangerScript}}, toLocal), 0), RuleSweepDestination)
		_, err := tc.a.SignPaymentOutput(spend([]*wire.TxOut{{Value: 1000, PkScript: strangerScript}}, toLocal), 0, dest, 2000)
		requireRule(t, err, RuleSweepDestination)
		_, err = tc.a.SignJustice(spend([]*wire.TxOut{{Value: 1000, PkScript: strangerScript}}, toLocal), 0, script, 2000, [32]byte{1})
		requireRule(t, err, RuleSweepDestination)
		_, err = tc.a.SignCounterpartyHTLCTx(spend([]*wire.TxOut{{Value: 1000, PkScript: strangerScript}}, toLocal), 0, script, 2000, c.PerCommitmentPoint, txscript.SigHashAll)
		requireRule(t, err, RuleSweepDestination)
		_, err = tc.a.SignCounterpartyHTLCTx(spend([]*wire.TxOut{{Value: 1000, PkScript: dest}}, toLocal), 0, script, 2000, c.PerCommitmentPoint, txscript.SigHashSingle|txscript.SigHashAnyOneCanPay)
		requireRule(t, err, RuleSweepDestination)
	})
	t.Run("sweep-fee-range", func(t *testing.T) {
		requireRule(t, sign(spend([]*wire.TxOut{{Value: 1000, PkScript: dest}}, toLocal), 0), RuleSweepFee)
		// Two inputs signed one at a time: the second shows the fee of the whole.
		tx := spend([]*wire.TxOut{{Value: v, PkScript: dest}}, toLocal, wire.OutPoint{Hash: toLocal.Hash, Index: 5})
		require.NoError(t, sign(tx, 0))
		requireRule(t, sign(tx, 1), RuleSweepFee)
	})
	t.Run("anchor", func(t *testing.T) {
		anchor, err := bolt3.AnchorScript(tc.a.Pubkeys().FundingPubkey)
		require.NoError(t, err)
		child := spend([]*wire.TxOut{{Value: 10_000, PkScript: dest}}, toLocal, wire.OutPoint{Index: 9})
		_, err = tc.a.SignAnchor(child, 0, anchor, 330)
		require.NoError(t, err)
		_, err = tc.a.SignAnchor(spend([]*wire.TxOut{{Value: 10_000, PkScript: strangerScript}}, toLocal), 0, anchor, 330)
		requireRule(t, err, RuleSweepDestination)
		funding, err := tc.pa.FundingScript()
		require.NoError(t, err)
		_, err = tc.a.SignAnchor(child, 0, funding, tc.value)
		requireRule(t, err, RuleAnchorScript)
	})
}

func TestHolderHTLCTx(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.openWith(1_000_000, false, false)
	old := tc.holderTx(tc.hn, tc.st)
	st := tc.st.with(tHTLC{amt: 20_000_000, hash: hashOf(1), cltv: 800_000})
	require.NoError(t, tc.round(st))
	c := tc.holderTx(tc.hn, st)
	b, err := tc.pa.Build(true, c)
	require.NoError(t, err)
	sign := func(tx *wire.MsgTx) error {
		_, err := tc.a.SignHolderHTLCTx(tx, 0, b.HTLCScripts[0], b.HTLCValuesSat[0], c.PerCommitmentPoint, txscript.SigHashAll)
		return err
	}
	require.NoError(t, sign(c.HTLCTxs[0]))
	low := c.HTLCTxs[0].Copy()
	low.TxOut[0].Value = 1000
	requireRule(t, sign(low), RuleHTLCTxFee)
	elsewhere := c.HTLCTxs[0].Copy()
	elsewhere.TxOut[0].PkScript = strangerScript
	requireRule(t, sign(elsewhere), RuleHTLCTxDestination)
	revoked := c.HTLCTxs[0].Copy()
	revoked.TxIn[0].PreviousOutPoint.Hash = old.Tx.TxHash()
	requireRule(t, sign(revoked), RuleHolderNotRevoked)
}

func TestMutualClose(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, true)
	ours, err := h.pol.GetShutdownScriptPubKey()
	require.NoError(t, err)
	theirs := append([]byte{0x00, 0x14}, make([]byte, 19)...)
	theirs = append(theirs, 7)
	closing := func(script []byte, toUs, fee int64) *keys.ClosingTx {
		toThem := tc.value - toUs - fee
		return &keys.ClosingTx{ToHolderSat: toUs, ToCounterpartySat: toThem, HolderScript: script, CounterpartyScript: theirs,
			Tx: bolt3.BuildClosingTx(tc.pa.FundingOutPoint, script, toUs, theirs, toThem, 354)}
	}
	require.NoError(t, h.approveInvoice(hashOf(1), 100_000_000, 0))
	require.NoError(t, tc.round(tc.st.with(out(1, 100_000_000))))
	require.NoError(t, tc.round(tc.st.settle(0, true)))
	// Our balance is 900,000 sat; we pay the fee.
	_, err = tc.a.SignClosingTransaction(closing(ours, 899_000, 1_000))
	require.NoError(t, err)
	_, err = tc.a.SignClosingTransaction(closing(strangerScript, 899_000, 1_000))
	requireRule(t, err, RuleMutualCloseDestination)
	_, err = tc.a.SignClosingTransaction(closing(ours, 800_000, 1_000))
	requireRule(t, err, RuleMutualCloseValue)
	_, err = tc.a.SignClosingTransaction(closing(ours, 799_000, 101_000))
	requireRule(t, err, RuleMutualCloseFee)
	bad := closing(ours, 899_000, 1_000)
	bad.ToHolderSat++
	_, err = tc.a.SignClosingTransaction(bad)
	requireRule(t, err, RuleCommitmentStructure)
}

func TestChannelAnnouncement(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, false)
	theirNode := keys.NewKeysManager([32]byte{0xaa}, 1, 0).GetNodeID()
	ann := func(theirFunding []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, 0)
		b = append(b, make([]byte, chainhash.HashSize)...)
		b = binary.BigEndian.AppendUint64(b, 800_000<<40)
		b = append(b, theirNode.SerializeCompressed()...)
		b = append(b, h.pol.GetNodeID().SerializeCompressed()...)
		b = append(b, theirFunding...)
		return append(b, tc.a.Pubkeys().FundingPubkey.SerializeCompressed()...)
	}
	_, err := tc.a.SignChannelAnnouncementWithFundingKey(ann(tc.pa.CounterpartyPubkeys.FundingPubkey.SerializeCompressed()))
	require.NoError(t, err)
	_, err = tc.a.SignChannelAnnouncementWithFundingKey(ann(theirNode.SerializeCompressed()))
	requireRule(t, err, RuleChannelAnnouncement)
	// A BIP 143 preimage of a spend of the funding output is not an announcement.
	funding, err := tc.pa.FundingScript()
	require.NoError(t, err)
	tx := spend([]*wire.TxOut{{Value: tc.value - 1000, PkScript: strangerScript}}, tc.pa.FundingOutPoint)
	var preimage []byte
	preimage = binary.LittleEndian.AppendUint32(preimage, uint32(tx.Version))
	preimage = append(preimage, funding...)
	_, err = tc.a.SignChannelAnnouncementWithFundingKey(preimage)
	requireRule(t, err, RuleChannelAnnouncement)
}
