package bolt3

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// HTLCSigHashType returns the sighash type of the counterparty's signature
// on an HTLC-timeout or HTLC-success transaction (the htlc_signatures of
// commitment_signed): SIGHASH_ALL, or SIGHASH_SINGLE|SIGHASH_ANYONECANPAY
// with anchors. The owner's own signature is always SIGHASH_ALL.
// Source: BOLT 3, "HTLC-Timeout and HTLC-Success Transactions"; BOLT 5.
func HTLCSigHashType(t ChannelType) txscript.SigHashType {
	if t.HasAnchors() {
		return txscript.SigHashSingle | txscript.SigHashAnyOneCanPay
	}
	return txscript.SigHashAll
}

// HTLCInputSequence returns the nSequence of the input of an HTLC
// transaction, and of any input spending a commitment's HTLC outputs or
// (with anchors) its to_remote output: 0, or 1 with anchors.
// Source: BOLT 3, "HTLC-Timeout and HTLC-Success Transactions".
func HTLCInputSequence(t ChannelType) uint32 {
	if t.HasAnchors() {
		return 1
	}
	return 0
}

// BuildHTLCTimeoutTx builds the unsigned HTLC-timeout transaction spending
// out, an HTLC output offered by the commitment owner, of the commitment
// transaction commitTxid. The transaction has version 2, locktime
// cltv_expiry, one input with nSequence HTLCInputSequence(t), and one P2WSH
// output of out.AmountSat minus HTLCTimeoutFeeSat to the second-stage script
// (SecondStageHTLCScript) with the owner's revocationKey, localDelayedKey and
// toSelfDelay. Source: BOLT 3, "HTLC-Timeout and HTLC-Success Transactions".
// Errors: ErrWrongHTLCDirection (out is a received HTLC),
// ErrHTLCAmountBelowFee, ErrMissingKey, ErrUnknownChannelType.
func BuildHTLCTimeoutTx(commitTxid chainhash.Hash, out HTLCOutput, feeratePerKw uint32, toSelfDelay uint16,
	revocationKey, localDelayedKey *btcec.PublicKey, t ChannelType) (*wire.MsgTx, error) {
	if !out.HTLC.Offered {
		return nil, fmt.Errorf("%w: HTLC-timeout needs an offered HTLC", ErrWrongHTLCDirection)
	}
	return buildHTLCTx(commitTxid, out, HTLCTimeoutFeeSat(feeratePerKw, t), out.HTLC.CltvExpiry,
		toSelfDelay, revocationKey, localDelayedKey, t)
}

// BuildHTLCSuccessTx builds the unsigned HTLC-success transaction spending
// out, an HTLC output received by the commitment owner, of the commitment
// transaction commitTxid. As BuildHTLCTimeoutTx, but with locktime 0 and fee
// HTLCSuccessFeeSat. Source: BOLT 3, "HTLC-Timeout and HTLC-Success
// Transactions". Errors: ErrWrongHTLCDirection (out is an offered HTLC),
// ErrHTLCAmountBelowFee, ErrMissingKey, ErrUnknownChannelType.
func BuildHTLCSuccessTx(commitTxid chainhash.Hash, out HTLCOutput, feeratePerKw uint32, toSelfDelay uint16,
	revocationKey, localDelayedKey *btcec.PublicKey, t ChannelType) (*wire.MsgTx, error) {
	if out.HTLC.Offered {
		return nil, fmt.Errorf("%w: HTLC-success needs a received HTLC", ErrWrongHTLCDirection)
	}
	return buildHTLCTx(commitTxid, out, HTLCSuccessFeeSat(feeratePerKw, t), 0,
		toSelfDelay, revocationKey, localDelayedKey, t)
}

func buildHTLCTx(commitTxid chainhash.Hash, out HTLCOutput, feeSat int64, lockTime uint32, toSelfDelay uint16,
	revocationKey, localDelayedKey *btcec.PublicKey, t ChannelType) (*wire.MsgTx, error) {
	if !t.valid() {
		return nil, ErrUnknownChannelType
	}
	if out.AmountSat < feeSat {
		return nil, fmt.Errorf("%w: HTLC output %d sat, fee %d sat", ErrHTLCAmountBelowFee, out.AmountSat, feeSat)
	}
	ws, err := SecondStageHTLCScript(revocationKey, localDelayedKey, toSelfDelay)
	if err != nil {
		return nil, err
	}
	tx := wire.NewMsgTx(2)
	tx.LockTime = lockTime
	in := wire.NewTxIn(wire.NewOutPoint(&commitTxid, out.OutputIndex), nil, nil)
	in.Sequence = HTLCInputSequence(t)
	tx.AddTxIn(in)
	tx.AddTxOut(wire.NewTxOut(out.AmountSat-feeSat, WitnessScriptHash(ws)))
	return tx, nil
}

// WitnessSigHash returns the BIP 143 signature hash (32 bytes) of input
// inputIndex of tx, which spends a P2WSH output of valueSat satoshis with
// witnessScript, for sighash type hashType. Use it to sign or to verify
// commitment, HTLC and closing transaction signatures (e.g. with
// HTLCSigHashType for htlc_signatures). Errors: ErrInvalidInputIndex, or
// txscript's error if witnessScript does not parse.
func WitnessSigHash(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64,
	hashType txscript.SigHashType) ([]byte, error) {
	if tx == nil || inputIndex < 0 || inputIndex >= len(tx.TxIn) {
		return nil, ErrInvalidInputIndex
	}
	fetcher := txscript.NewCannedPrevOutputFetcher(WitnessScriptHash(witnessScript), valueSat)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	return txscript.CalcWitnessSigHash(witnessScript, hashes, hashType, tx, inputIndex, valueSat)
}
