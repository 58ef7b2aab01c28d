package bolt3

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"
)

// In every witness builder the signatures are DER encoded with the sighash
// byte appended, and the witness script is the last stack item (BOLT 3,
// "Use of Segwit"). An empty item (<> in BOLT 3) is a zero-length slice; "1"
// is the single byte 0x01. The builders copy nothing: the returned witness
// shares the slices passed in.

// FundingWitness returns the witness spending the 2-of-2 funding output
// (a commitment or closing transaction input):
// "0 <signature_for_pubkey1> <signature_for_pubkey2> <witnessScript>", with
// sigA/sigB placed to match the lexicographic order of pubA/pubB in the
// script. Source: BOLT 3, "Commitment Transaction". If a key is nil, the
// signatures are kept in the order given.
func FundingWitness(witnessScript []byte, pubA *btcec.PublicKey, sigA []byte, pubB *btcec.PublicKey, sigB []byte) wire.TxWitness {
	if pubA != nil && pubB != nil &&
		bytes.Compare(pubA.SerializeCompressed(), pubB.SerializeCompressed()) > 0 {
		sigA, sigB = sigB, sigA
	}
	return wire.TxWitness{nil, sigA, sigB, witnessScript}
}

// HTLCTimeoutWitness returns the witness of an HTLC-timeout transaction's
// input: "0 <remotehtlcsig> <localhtlcsig> <> <witnessScript>", where
// witnessScript is the offered HTLC script. Source: BOLT 3, "HTLC-Timeout
// and HTLC-Success Transactions".
func HTLCTimeoutWitness(witnessScript, remoteSig, localSig []byte) wire.TxWitness {
	return wire.TxWitness{nil, remoteSig, localSig, nil, witnessScript}
}

// HTLCSuccessWitness returns the witness of an HTLC-success transaction's
// input: "0 <remotehtlcsig> <localhtlcsig> <payment_preimage> <witnessScript>",
// where witnessScript is the received HTLC script and preimage the 32-byte
// payment preimage. Source: BOLT 3, "HTLC-Timeout and HTLC-Success
// Transactions".
func HTLCSuccessWitness(witnessScript, remoteSig, localSig []byte, preimage [32]byte) wire.TxWitness {
	p := preimage
	return wire.TxWitness{nil, remoteSig, localSig, p[:], witnessScript}
}

// ToLocalDelayedWitness returns the witness with which the owner spends its
// to_local output, or the output of its HTLC-timeout/success transaction,
// after to_self_delay: "<local_delayedsig> <> <witnessScript>". The input's
// nSequence must be to_self_delay. Source: BOLT 3, "to_local Output".
func ToLocalDelayedWitness(witnessScript, sig []byte) wire.TxWitness {
	return wire.TxWitness{sig, nil, witnessScript}
}

// ToLocalRevokeWitness returns the witness with which the counterparty
// spends a revoked to_local output, or the output of a revoked commitment's
// HTLC-timeout/success transaction: "<revocation_sig> 1 <witnessScript>".
// Source: BOLT 3, "to_local Output".
func ToLocalRevokeWitness(witnessScript, sig []byte) wire.TxWitness {
	return wire.TxWitness{sig, []byte{1}, witnessScript}
}

// HTLCRevokeWitness returns the witness with which the counterparty spends
// an offered or received HTLC output of a revoked commitment:
// "<revocation_sig> <revocationpubkey> <witnessScript>" (key compressed,
// 33 bytes). It returns ErrMissingKey if revocationKey is nil.
// Source: BOLT 3, "Offered HTLC Outputs" and "Received HTLC Outputs".
func HTLCRevokeWitness(witnessScript, revocationSig []byte, revocationKey *btcec.PublicKey) (wire.TxWitness, error) {
	if revocationKey == nil {
		return nil, fmt.Errorf("%w: revocation key", ErrMissingKey)
	}
	return wire.TxWitness{revocationSig, revocationKey.SerializeCompressed(), witnessScript}, nil
}

// OfferedHTLCPreimageWitness returns the witness with which the counterparty
// claims an HTLC offered to it by the commitment owner, with the payment
// preimage: "<remotehtlcsig> <payment_preimage> <witnessScript>". With
// anchors the input's nSequence must be 1 (HTLCInputSequence).
// Source: BOLT 3, "Offered HTLC Outputs".
func OfferedHTLCPreimageWitness(witnessScript, sig []byte, preimage [32]byte) wire.TxWitness {
	p := preimage
	return wire.TxWitness{sig, p[:], witnessScript}
}

// ReceivedHTLCTimeoutWitness returns the witness with which the counterparty
// takes back, after cltv_expiry, an HTLC it offered that the commitment owner
// received: "<remotehtlcsig> <> <witnessScript>". The spending transaction's
// locktime must be at least cltv_expiry and the input's nSequence below
// 0xFFFFFFFF (1 with anchors, HTLCInputSequence).
// Source: BOLT 3, "Received HTLC Outputs".
func ReceivedHTLCTimeoutWitness(witnessScript, sig []byte) wire.TxWitness {
	return wire.TxWitness{sig, nil, witnessScript}
}

// ToRemoteWitness returns the witness with which the counterparty spends the
// to_remote output paying to remotePaymentKey: "<sig> <remotepubkey>"
// (P2WPKH) without anchors, "<sig> <witnessScript>" with anchors (the input's
// nSequence must then be 1). Source: BOLT 3, "to_remote Output".
// Errors: ErrMissingKey, ErrUnknownChannelType.
func ToRemoteWitness(sig []byte, remotePaymentKey *btcec.PublicKey, t ChannelType) (wire.TxWitness, error) {
	_, ws, err := ToRemoteScript(remotePaymentKey, t)
	if err != nil {
		return nil, err
	}
	if ws == nil {
		return wire.TxWitness{sig, remotePaymentKey.SerializeCompressed()}, nil
	}
	return wire.TxWitness{sig, ws}, nil
}

// AnchorWitness returns the witness with which the funding key's owner spends
// its anchor output: "<sig> <witnessScript>". Source: BOLT 3,
// "to_local_anchor and to_remote_anchor Output".
func AnchorWitness(witnessScript, sig []byte) wire.TxWitness {
	return wire.TxWitness{sig, witnessScript}
}

// AnchorSweepWitness returns the witness with which anyone sweeps an anchor
// output AnchorCSVDelay (16) blocks after the commitment confirmed:
// "<> <witnessScript>"; the input's nSequence must be at least 16.
// Source: BOLT 3, "to_local_anchor and to_remote_anchor Output".
func AnchorSweepWitness(witnessScript []byte) wire.TxWitness {
	return wire.TxWitness{nil, witnessScript}
}
