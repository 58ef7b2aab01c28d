package bumptx

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
)

// TestWeightEstimates compares, for real signed transactions accepted by the test chain, the weight
// estimated before signing with the real weight: never below it, and at most 3 WU above it per input
// (each signature we have not made yet is counted as 73 bytes; real ones are 71 or 72).
func TestWeightEstimates(t *testing.T) {
	type tc struct {
		name    string
		utxos   []int64
		target  uint32
		htlc    func(ch *channel) ([]events.HTLCDescriptor, uint32) // nil: a CPFP child
		inputs  int
		outputs int
	}
	cases := []tc{
		{name: "child, one wallet input", utxos: []int64{walletUTXOSat}, target: 5000, inputs: 2, outputs: 1},
		{name: "child, three wallet inputs", utxos: []int64{6000, 6000, 6000, 6000}, target: 5000, inputs: 4, outputs: 1},
		{name: "two HTLC-timeouts", utxos: []int64{walletUTXOSat}, target: 5000, inputs: 3, outputs: 3,
			htlc: func(ch *channel) ([]events.HTLCDescriptor, uint32) { return ch.offered, htlcExpiry }},
		{name: "one HTLC-success", utxos: []int64{walletUTXOSat}, target: 5000, inputs: 2, outputs: 2,
			htlc: func(ch *channel) ([]events.HTLCDescriptor, uint32) { return ch.success, 0 }},
		{name: "two HTLC-timeouts, three wallet inputs", utxos: []int64{4000, 4000, 4000, 4000}, target: 5000, inputs: 5, outputs: 3,
			htlc: func(ch *channel) ([]events.HTLCDescriptor, uint32) { return ch.offered, htlcExpiry }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 253, c.utxos...)
			var sats []int64
			var parentWeight int64
			claim := events.ClaimID{9}
			if c.htlc == nil {
				require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(9, c.target, 0)))
				sats = append(sats, anchorSatisfactionWeight(e.ch.anchor.WitnessScript))
				parentWeight = TxWeight(e.ch.tx)
			} else {
				e.ch.confirmCommitment(t)
				for e.chain.Height() < htlcExpiry {
					e.chain.MineBlocks(1)
				}
				ds, lock := c.htlc(e.ch)
				require.NoError(t, e.handler.HandleEvent(htlcEvent(9, c.target, lock, ds...)))
				for i := range ds {
					sats = append(sats, htlcSatisfactionWeight(&ds[i]))
				}
			}
			require.Empty(t, e.chain.Rejected(), "accepted by the chain")
			txs := e.rec.last(t)
			tx := txs[len(txs)-1]
			require.Len(t, tx.TxIn, c.inputs)
			require.Len(t, tx.TxOut, c.outputs)
			for len(sats) < len(tx.TxIn) {
				sats = append(sats, P2WPKHSatisfactionWeight)
			}
			var total int64
			for i, s := range sats {
				total += s
				real := int64(tx.TxIn[i].Witness.SerializeSize())
				require.GreaterOrEqual(t, s, real, "input %d", i)
				require.LessOrEqual(t, s-real, int64(3), "input %d", i)
			}
			unsigned := tx.Copy()
			for _, in := range unsigned.TxIn {
				in.Witness = nil
			}
			est, real := estimateWeight(unsigned, total), TxWeight(tx)
			t.Logf("estimated %d WU, real %d WU", est, real)
			require.GreaterOrEqual(t, est, real)
			require.LessOrEqual(t, est-real, int64(3*len(tx.TxIn)))

			// The handler recorded the same estimate.
			e.handler.mu.Lock()
			last := e.handler.claims[claim].last
			e.handler.mu.Unlock()
			require.Equal(t, parentWeight+est, last.pkgWeight)
		})
	}
}

// TestWeightHelpers pins the constants and helpers to hand-computed values.
func TestWeightHelpers(t *testing.T) {
	require.EqualValues(t, 109, P2WPKHSatisfactionWeight)
	require.EqualValues(t, 164, BaseInputWeight)
	anchorScript, err := bolt3.AnchorScript(privKey("k").PubKey())
	require.NoError(t, err)
	require.Len(t, anchorScript, 40)
	require.EqualValues(t, 1+1+73+1+40, anchorSatisfactionWeight(anchorScript))
	require.EqualValues(t, 4*(8+1+22), outputWeight(make([]byte, 22)))
	require.EqualValues(t, 4*(8+1+34), outputWeight(make([]byte, 34)))
	require.EqualValues(t, 4*(8+3+300), outputWeight(make([]byte, 300)))
	require.EqualValues(t, 1, witnessWeight())
	require.EqualValues(t, 1+1+0+1+5, witnessWeight(0, 5))

	p2wpkh, err := bolt3.P2WPKHScript(privKey("k").PubKey())
	require.NoError(t, err)
	require.EqualValues(t, 294, DustThresholdSat(p2wpkh))
	p2wsh := bolt3.WitnessScriptHash([]byte{txscript.OP_TRUE})
	require.EqualValues(t, 330, DustThresholdSat(p2wsh))
	p2pkh := append([]byte{txscript.OP_DUP, txscript.OP_HASH160, 20}, append(make([]byte, 20), txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG)...)
	require.EqualValues(t, 546, DustThresholdSat(p2pkh))
	require.EqualValues(t, 0, DustThresholdSat([]byte{txscript.OP_RETURN}))

	require.EqualValues(t, 0, feeForWeight(5000, 0))
	require.EqualValues(t, 1, feeForWeight(1, 1), "rounded up")
	require.EqualValues(t, 2500, feeForWeight(5000, 500))
	require.EqualValues(t, int64(^uint64(0)>>1), feeForWeight(^uint32(0), int64(^uint64(0)>>1)), "saturates")
	require.True(t, meetsFeerate(2500, 500, 5000))
	require.False(t, meetsFeerate(2499, 500, 5000))
	require.EqualValues(t, 5000, feerateOf(2500, 500))
	require.Zero(t, TxWeight(nil))
}

// TestOpReturnFiller: a transaction left without outputs gets a zero-value OP_RETURN, padded to the
// 65-byte minimum when it is small.
func TestOpReturnFiller(t *testing.T) {
	small := wire.NewMsgTx(2)
	small.AddTxIn(&wire.TxIn{})
	out := opReturnFiller(small)
	small.AddTxOut(out)
	require.EqualValues(t, minStandardTxSize, strippedSize(small))
	require.EqualValues(t, minStandardTxSize, small.SerializeSizeStripped())
	require.Equal(t, txscript.NullDataTy, txscript.GetScriptClass(out.PkScript))

	big := wire.NewMsgTx(2)
	big.AddTxIn(&wire.TxIn{})
	big.AddTxIn(&wire.TxIn{})
	require.True(t, bytes.Equal([]byte{txscript.OP_RETURN}, opReturnFiller(big).PkScript))
}
