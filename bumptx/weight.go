package bumptx

import (
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/events"
)

// Weights, in weight units (BIP 141), used to estimate transactions before they are signed.
const (
	// BaseInputWeight is the weight of an input without its satisfaction: previous outpoint (36 bytes),
	// the length of an empty scriptSig (1 byte) and nSequence (4 bytes), times 4 (LDK's
	// BASE_INPUT_WEIGHT + EMPTY_SCRIPT_SIG_WEIGHT).
	BaseInputWeight = (36 + 1 + 4) * 4

	// MaxSignatureLen is the size, in bytes, assumed for every signature not yet made: the longest DER
	// ECDSA signature (72 bytes) plus the sighash byte. Real signatures are 71 to 73 bytes, so estimates
	// are never low and at most 2 WU high per signature.
	MaxSignatureLen = 73

	// P2WPKHSatisfactionWeight is the SatisfactionWeight of a P2WPKH output: witness item count (1),
	// signature with its length (1+73) and compressed public key with its length (1+33) (LDK's
	// P2WPKH_WITNESS_WEIGHT).
	P2WPKHSatisfactionWeight = 1 + 1 + MaxSignatureLen + 1 + 33

	// P2TRKeySpendSatisfactionWeight is the SatisfactionWeight of a P2TR key-path spend with
	// SIGHASH_DEFAULT: item count (1), 64-byte Schnorr signature with its length (1+64) (LDK's
	// P2TR_KEY_PATH_WITNESS_WEIGHT).
	P2TRKeySpendSatisfactionWeight = 1 + 1 + 64

	// segwitMarkerWeight is the weight of the segwit marker and flag bytes (2 witness bytes).
	segwitMarkerWeight = 2
)

// IncrementalRelayFeeratePerKw is the feerate, in sat per 1000 weight units, by which a replacement
// must pay for its own weight on top of the fee of the transaction it replaces (BIP 125 rule 4;
// Bitcoin Core's -incrementalrelayfee of 1 sat/vB, the long-standing default and the highest of the
// recent ones).
const IncrementalRelayFeeratePerKw = 250

// varIntSize is the size, in bytes, of Bitcoin's CompactSize encoding of n.
func varIntSize(n uint64) int64 {
	return int64(wire.VarIntSerializeSize(n))
}

// outputWeight is the weight of a transaction output paying pkScript: value (8 bytes), script length and
// script, times 4.
func outputWeight(pkScript []byte) int64 {
	return 4 * (8 + varIntSize(uint64(len(pkScript))) + int64(len(pkScript)))
}

// witnessWeight is the weight of a witness whose items have the given lengths: item count, then each
// item's length and bytes (witness bytes weigh 1).
func witnessWeight(itemLens ...int) int64 {
	w := varIntSize(uint64(len(itemLens)))
	for _, n := range itemLens {
		w += varIntSize(uint64(n)) + int64(n)
	}
	return w
}

// anchorSatisfactionWeight is the estimated weight of the witness spending an anchor output with
// witnessScript: <signature> <witnessScript> (BOLT 3, "to_local_anchor and to_remote_anchor Output";
// 116 WU for the 40-byte anchor script).
func anchorSatisfactionWeight(witnessScript []byte) int64 {
	return witnessWeight(MaxSignatureLen, len(witnessScript))
}

// htlcSatisfactionWeight is the estimated weight of the witness of d's second-stage input:
// 0 <counterparty sig> <our sig> <preimage or empty> <witnessScript> (BOLT 3, "HTLC-Timeout and
// HTLC-Success Transactions"). The counterparty's signature is known, so only ours is estimated.
func htlcSatisfactionWeight(d *events.HTLCDescriptor) int64 {
	preimageLen := 0
	if !d.Offered {
		preimageLen = 32
	}
	return witnessWeight(0, len(d.CounterpartySig)+1, MaxSignatureLen, preimageLen, len(d.WitnessScript))
}

// strippedSize is the size, in bytes, of tx without witnesses, assuming every input's scriptSig is
// empty (as it is before signing).
func strippedSize(tx *wire.MsgTx) int64 {
	n := 4 + varIntSize(uint64(len(tx.TxIn))) + varIntSize(uint64(len(tx.TxOut))) + 4
	n += int64(len(tx.TxIn)) * (36 + 1 + 4)
	for _, out := range tx.TxOut {
		n += 8 + varIntSize(uint64(len(out.PkScript))) + int64(len(out.PkScript))
	}
	return n
}

// estimateWeight is the weight tx will have once its inputs, whose satisfaction weights are given (see
// UTXO.SatisfactionWeight), are signed: 4 × the stripped size + the segwit marker and flag + the
// satisfactions.
func estimateWeight(tx *wire.MsgTx, satisfaction int64) int64 {
	return 4*strippedSize(tx) + segwitMarkerWeight + satisfaction
}

// TxWeight returns the weight of tx as serialized, in weight units: 3 × stripped size + total size
// (BIP 141).
func TxWeight(tx *wire.MsgTx) int64 {
	if tx == nil {
		return 0
	}
	return 3*int64(tx.SerializeSizeStripped()) + int64(tx.SerializeSize())
}

// feeForWeight returns the fee, in satoshis, for weight WU at feeratePerKw: ceil(rate*weight/1000).
func feeForWeight(feeratePerKw uint32, weight int64) int64 {
	return mulDiv(int64(feeratePerKw), weight, 1000, true)
}

// DustThresholdSat returns the smallest value, in satoshis, of an output paying pkScript that Bitcoin
// Core relays (GetDustThreshold at the default dust relay feerate of 3 sat/vB): the output's size plus
// the size of an input spending it (67 bytes for a witness program, 148 otherwise) times 3. OP_RETURN
// outputs have no threshold. Examples: P2WPKH 294, P2WSH and P2TR 330, P2SH 540, P2PKH 546.
func DustThresholdSat(pkScript []byte) int64 {
	if len(pkScript) > 0 && pkScript[0] == txscript.OP_RETURN {
		return 0
	}
	size := 8 + varIntSize(uint64(len(pkScript))) + int64(len(pkScript))
	if txscript.IsWitnessProgram(pkScript) {
		size += 32 + 4 + 1 + 107/4 + 4
	} else {
		size += 32 + 4 + 1 + 107 + 4
	}
	return size * 3
}
