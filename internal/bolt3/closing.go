package bolt3

import (
	"bytes"

	"github.com/btcsuite/btcd/wire"
)

// BuildClosingTx builds the unsigned mutual closing transaction of
// closing_signed: version 2, locktime 0, one input spending fundingOutPoint
// with nSequence 0xFFFFFFFF, and up to two outputs paying localSat to
// localScript and remoteSat to remoteScript, in BIP 69 order. The amounts
// are final: the funder's already has fee_satoshis subtracted. An output is
// omitted if its amount is below dustLimitSat (the signer's own
// dust_limit_satoshis) or not positive, or if its script is empty (pass a nil
// script to eliminate one's own output, as BOLT 3 allows).
// Source: BOLT 3, "Closing Transaction".
func BuildClosingTx(fundingOutPoint wire.OutPoint, localScript []byte, localSat int64,
	remoteScript []byte, remoteSat int64, dustLimitSat int64) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&fundingOutPoint, nil, nil)) // sequence defaults to 0xFFFFFFFF
	keep := func(script []byte, sat int64) bool {
		return len(script) > 0 && sat > 0 && sat >= dustLimitSat
	}
	var outs []*wire.TxOut
	if keep(localScript, localSat) {
		outs = append(outs, wire.NewTxOut(localSat, localScript))
	}
	if keep(remoteScript, remoteSat) {
		outs = append(outs, wire.NewTxOut(remoteSat, remoteScript))
	}
	if len(outs) == 2 && bip69Less(outs[1], outs[0]) {
		outs[0], outs[1] = outs[1], outs[0]
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	return tx
}

func bip69Less(a, b *wire.TxOut) bool {
	if a.Value != b.Value {
		return a.Value < b.Value
	}
	return bytes.Compare(a.PkScript, b.PkScript) < 0
}

// fundingInputWitnessSize is the serialized size of the 2-of-2 funding
// witness with 73-byte signatures: item count, empty item, two signatures
// with their length bytes, and the 71-byte script with its length byte
// (BOLT 3, Appendix A, "funding_output witness").
const fundingInputWitnessSize = 1 + 1 + (1 + 73) + (1 + 73) + (1 + 71)

// ClosingTxWeight returns the expected weight, in weight units, of the
// signed closing transaction with an output to each non-empty script, taking
// signatures at their maximum of 73 bytes (as BOLT 3 "Appendix A: Expected
// Weights" does). Multiply by feerate_per_kw and divide by 1000 to get a
// fee_satoshis proposal.
func ClosingTxWeight(localScript, remoteScript []byte) int64 {
	outputs := 0
	outSize := 0
	for _, s := range [][]byte{localScript, remoteScript} {
		if len(s) == 0 {
			continue
		}
		outputs++
		outSize += 8 + wire.VarIntSerializeSize(uint64(len(s))) + len(s)
	}
	// version, input count, input (outpoint, empty scriptSig, sequence),
	// output count, outputs, locktime.
	base := 4 + 1 + (36 + 1 + 4) + wire.VarIntSerializeSize(uint64(outputs)) + outSize + 4
	// marker and flag, then the witness.
	witness := 2 + fundingInputWitnessSize
	return int64(4*base + witness)
}
