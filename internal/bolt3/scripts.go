package bolt3

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"golang.org/x/crypto/ripemd160"
)

// WitnessScriptHash returns the P2WSH pkScript paying to witnessScript:
// OP_0 <SHA256(witnessScript)>, 34 bytes (BIP 141).
func WitnessScriptHash(witnessScript []byte) []byte {
	h := sha256.Sum256(witnessScript)
	out := make([]byte, 0, 34)
	out = append(out, txscript.OP_0, txscript.OP_DATA_32)
	return append(out, h[:]...)
}

// P2WPKHScript returns the P2WPKH pkScript paying to pub:
// OP_0 <HASH160(pub)>, 22 bytes (BIP 141). It returns ErrMissingKey if pub
// is nil.
func P2WPKHScript(pub *btcec.PublicKey) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("%w: P2WPKH key", ErrMissingKey)
	}
	out := make([]byte, 0, 22)
	out = append(out, txscript.OP_0, txscript.OP_DATA_20)
	return append(out, btcutil.Hash160(pub.SerializeCompressed())...), nil
}

func checkKeys(what string, keys ...*btcec.PublicKey) error {
	for i, k := range keys {
		if k == nil {
			return fmt.Errorf("%w: %s key #%d", ErrMissingKey, what, i+1)
		}
	}
	return nil
}

// FundingScript returns the 2-of-2 funding witness script
// "2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG" (71 bytes), where pubkey1 is the
// lexicographically lesser compressed key, and its P2WSH pkScript (34 bytes).
// The order of pubA and pubB does not matter.
// Source: BOLT 3, "Funding Transaction Output". Errors: ErrMissingKey.
func FundingScript(pubA, pubB *btcec.PublicKey) (witnessScript, pkScript []byte, err error) {
	if err := checkKeys("funding", pubA, pubB); err != nil {
		return nil, nil, err
	}
	k1, k2 := pubA.SerializeCompressed(), pubB.SerializeCompressed()
	if bytes.Compare(k1, k2) > 0 {
		k1, k2 = k2, k1
	}
	ws, err := txscript.NewScriptBuilder().
		AddOp(txscript.OP_2).AddData(k1).AddData(k2).AddOp(txscript.OP_2).
		AddOp(txscript.OP_CHECKMULTISIG).Script()
	if err != nil {
		return nil, nil, err
	}
	return ws, WitnessScriptHash(ws), nil
}

// FundingOutput returns the funding transaction output of amountSat satoshis
// paying to the 2-of-2 of pubA and pubB, and its witness script.
// Source: BOLT 3, "Funding Transaction Output". Errors: ErrMissingKey,
// ErrInvalidParams (negative amount).
func FundingOutput(pubA, pubB *btcec.PublicKey, amountSat int64) (*wire.TxOut, []byte, error) {
	if amountSat < 0 {
		return nil, nil, fmt.Errorf("%w: negative funding amount %d sat", ErrInvalidParams, amountSat)
	}
	ws, pk, err := FundingScript(pubA, pubB)
	if err != nil {
		return nil, nil, err
	}
	return wire.NewTxOut(amountSat, pk), ws, nil
}

// ToLocalScript returns the to_local witness script (also the output script
// of HTLC-timeout and HTLC-success transactions):
//
//	OP_IF <revocationpubkey> OP_ELSE <to_self_delay> OP_CHECKSEQUENCEVERIFY
//	OP_DROP <local_delayedpubkey> OP_ENDIF OP_CHECKSIG
//
// Source: BOLT 3, "to_local Output". Errors: ErrMissingKey.
func ToLocalScript(revocationKey, localDelayedKey *btcec.PublicKey, toSelfDelay uint16) ([]byte, error) {
	if err := checkKeys("to_local", revocationKey, localDelayedKey); err != nil {
		return nil, err
	}
	return txscript.NewScriptBuilder().
		AddOp(txscript.OP_IF).
		AddData(revocationKey.SerializeCompressed()).
		AddOp(txscript.OP_ELSE).
		AddInt64(int64(toSelfDelay)).
		AddOp(txscript.OP_CHECKSEQUENCEVERIFY).
		AddOp(txscript.OP_DROP).
		AddData(localDelayedKey.SerializeCompressed()).
		AddOp(txscript.OP_ENDIF).
		AddOp(txscript.OP_CHECKSIG).
		Script()
}

// SecondStageHTLCScript returns the witness script of the single output of an
// HTLC-timeout or HTLC-success transaction. It is the to_local script.
// Source: BOLT 3, "HTLC-Timeout and HTLC-Success Transactions".
// Errors: ErrMissingKey.
func SecondStageHTLCScript(revocationKey, localDelayedKey *btcec.PublicKey, toSelfDelay uint16) ([]byte, error) {
	return ToLocalScript(revocationKey, localDelayedKey, toSelfDelay)
}

// ToRemoteScript returns the to_remote output. Without anchors it is a P2WPKH
// to remotePaymentKey (witnessScript is nil). With anchors it is a P2WSH of
// "<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY", spendable by an
// input with nSequence 1.
// Source: BOLT 3, "to_remote Output". Errors: ErrMissingKey,
// ErrUnknownChannelType.
func ToRemoteScript(remotePaymentKey *btcec.PublicKey, t ChannelType) (pkScript []byte, witnessScript []byte, err error) {
	if !t.valid() {
		return nil, nil, ErrUnknownChannelType
	}
	if remotePaymentKey == nil {
		return nil, nil, fmt.Errorf("%w: to_remote key", ErrMissingKey)
	}
	if !t.HasAnchors() {
		pk, err := P2WPKHScript(remotePaymentKey)
		return pk, nil, err
	}
	ws, err := txscript.NewScriptBuilder().
		AddData(remotePaymentKey.SerializeCompressed()).
		AddOp(txscript.OP_CHECKSIGVERIFY).
		AddOp(txscript.OP_1).
		AddOp(txscript.OP_CHECKSEQUENCEVERIFY).
		Script()
	if err != nil {
		return nil, nil, err
	}
	return WitnessScriptHash(ws), ws, nil
}

// AnchorScript returns the witness script of an anchor output locked to a
// funding key:
//
//	<funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF
//
// Source: BOLT 3, "to_local_anchor and to_remote_anchor Output".
// Errors: ErrMissingKey.
func AnchorScript(fundingKey *btcec.PublicKey) ([]byte, error) {
	if fundingKey == nil {
		return nil, fmt.Errorf("%w: anchor funding key", ErrMissingKey)
	}
	return txscript.NewScriptBuilder().
		AddData(fundingKey.SerializeCompressed()).
		AddOp(txscript.OP_CHECKSIG).
		AddOp(txscript.OP_IFDUP).
		AddOp(txscript.OP_NOTIF).
		AddOp(txscript.OP_16).
		AddOp(txscript.OP_CHECKSEQUENCEVERIFY).
		AddOp(txscript.OP_ENDIF).
		Script()
}

func ripemd160Sum(b []byte) []byte {
	h := ripemd160.New()
	h.Write(b)
	return h.Sum(nil)
}

// OfferedHTLCScript returns the witness script of an HTLC output offered by
// the commitment owner ("local"). With anchors, the remote's spending paths
// are additionally locked by "1 OP_CHECKSEQUENCEVERIFY OP_DROP".
// paymentHash is the 32-byte SHA256 payment hash.
// Source: BOLT 3, "Offered HTLC Outputs". Errors: ErrMissingKey,
// ErrUnknownChannelType.
func OfferedHTLCScript(revocationKey, localHTLCKey, remoteHTLCKey *btcec.PublicKey, paymentHash [32]byte, t ChannelType) ([]byte, error) {
	if !t.valid() {
		return nil, ErrUnknownChannelType
	}
	if err := checkKeys("offered HTLC", revocationKey, localHTLCKey, remoteHTLCKey); err != nil {
		return nil, err
	}
	b := txscript.NewScriptBuilder()
	b.AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
		AddData(btcutil.Hash160(revocationKey.SerializeCompressed())).
		AddOp(txscript.OP_EQUAL).
		AddOp(txscript.OP_IF).
		AddOp(txscript.OP_CHECKSIG).
		AddOp(txscript.OP_ELSE).
		AddData(remoteHTLCKey.SerializeCompressed()).
		AddOp(txscript.OP_SWAP).AddOp(txscript.OP_SIZE).AddInt64(32).AddOp(txscript.OP_EQUAL).
		AddOp(txscript.OP_NOTIF).
		AddOp(txscript.OP_DROP).AddOp(txscript.OP_2).AddOp(txscript.OP_SWAP).
		AddData(localHTLCKey.SerializeCompressed()).
		AddOp(txscript.OP_2).AddOp(txscript.OP_CHECKMULTISIG).
		AddOp(txscript.OP_ELSE).
		AddOp(txscript.OP_HASH160).AddData(ripemd160Sum(paymentHash[:])).AddOp(txscript.OP_EQUALVERIFY).
		AddOp(txscript.OP_CHECKSIG).
		AddOp(txscript.OP_ENDIF)
	if t.HasAnchors() {
		b.AddOp(txscript.OP_1).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).AddOp(txscript.OP_DROP)
	}
	b.AddOp(txscript.OP_ENDIF)
	return b.Script()
}

// ReceivedHTLCScript returns the witness script of an HTLC output received by
// the commitment owner ("local"), expiring at block height cltvExpiry. With
// anchors, the remote's spending paths are additionally locked by
// "1 OP_CHECKSEQUENCEVERIFY OP_DROP".
// Source: BOLT 3, "Received HTLC Outputs". Errors: ErrMissingKey,
// ErrUnknownChannelType.
func ReceivedHTLCScript(revocationKey, localHTLCKey, remoteHTLCKey *btcec.PublicKey, paymentHash [32]byte, cltvExpiry uint32, t ChannelType) ([]byte, error) {
	if !t.valid() {
		return nil, ErrUnknownChannelType
	}
	if err := checkKeys("received HTLC", revocationKey, localHTLCKey, remoteHTLCKey); err != nil {
		return nil, err
	}
	b := txscript.NewScriptBuilder()
	b.AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
		AddData(btcutil.Hash160(revocationKey.SerializeCompressed())).
		AddOp(txscript.OP_EQUAL).
		AddOp(txscript.OP_IF).
		AddOp(txscript.OP_CHECKSIG).
		AddOp(txscript.OP_ELSE).
		AddData(remoteHTLCKey.SerializeCompressed()).
		AddOp(txscript.OP_SWAP).AddOp(txscript.OP_SIZE).AddInt64(32).AddOp(txscript.OP_EQUAL).
		AddOp(txscript.OP_IF).
		AddOp(txscript.OP_HASH160).AddData(ripemd160Sum(paymentHash[:])).AddOp(txscript.OP_EQUALVERIFY).
		AddOp(txscript.OP_2).AddOp(txscript.OP_SWAP).
		AddData(localHTLCKey.SerializeCompressed()).
		AddOp(txscript.OP_2).AddOp(txscript.OP_CHECKMULTISIG).
		AddOp(txscript.OP_ELSE).
		AddOp(txscript.OP_DROP).AddInt64(int64(cltvExpiry)).AddOp(txscript.OP_CHECKLOCKTIMEVERIFY).
		AddOp(txscript.OP_DROP).
		AddOp(txscript.OP_CHECKSIG).
		AddOp(txscript.OP_ENDIF)
	if t.HasAnchors() {
		b.AddOp(txscript.OP_1).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).AddOp(txscript.OP_DROP)
	}
	b.AddOp(txscript.OP_ENDIF)
	return b.Script()
}
