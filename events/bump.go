package events

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// ClaimID identifies one claim the monitor asks the host to get confirmed (LDK's ClaimId). A
// BumpTransaction event that repeats, with a higher target feerate, carries the same ClaimID: the host
// must then replace its earlier transaction (RBF) by spending the same wallet inputs again, so that the
// replacement conflicts with what it replaces.
type ClaimID [32]byte

// ChannelDerivationParameters re-derive a channel's signer (keys.SignerProvider.DeriveChannelSigner).
type ChannelDerivationParameters struct {
	ValueSat int64
	KeysID   [32]byte
}

// AnchorDescriptor is our anchor output on our own commitment transaction: what a CPFP child spends
// (BOLT 3, "to_local_anchor and to_remote_anchor Output (option_anchors)"). The witness is
// <signature with our funding key> <WitnessScript>, with SIGHASH_ALL.
type AnchorDescriptor struct {
	Channel       ChannelDerivationParameters
	OutPoint      wire.OutPoint
	ValueSat      int64  // 330
	WitnessScript []byte // <funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CSV OP_ENDIF
}

// HTLCDescriptor is one HTLC output of our own commitment transaction, with everything needed to spend
// it with a second-stage HTLC-success or HTLC-timeout transaction on an anchor channel: the
// counterparty signed that input with SIGHASH_SINGLE|SIGHASH_ANYONECANPAY and zero fee, so the host
// adds inputs and a change output and we sign our half with SIGHASH_ALL (BOLT 3, "HTLC-Timeout and
// HTLC-Success Transactions"). In the aggregated transaction, input i and output i must belong together
// (SIGHASH_SINGLE): put the HTLC inputs first, each with its SecondStageOutput at the same index.
type HTLCDescriptor struct {
	Channel ChannelDerivationParameters
	// CommitmentTxid and OutputIndex locate the HTLC output; ValueSat is its value.
	CommitmentTxid chainhash.Hash
	OutputIndex    uint32
	ValueSat       int64
	// CommitmentNumber and PerCommitmentPoint are our commitment's (the HTLC key is derived from it).
	CommitmentNumber   uint64
	PerCommitmentPoint *btcec.PublicKey
	// FeeratePerKw is the commitment's feerate (sat per 1000 weight units).
	FeeratePerKw uint32
	PaymentHash  [32]byte
	AmountMsat   uint64
	CltvExpiry   uint32
	// Offered is true for an HTLC we offered (spent by HTLC-timeout after CltvExpiry); false for one
	// offered to us (spent by HTLC-success with Preimage).
	Offered  bool
	Preimage *[32]byte
	// CounterpartySig is the counterparty's DER signature (without the sighash byte) on the
	// second-stage input, made with SIGHASH_SINGLE|SIGHASH_ANYONECANPAY.
	CounterpartySig []byte
	// WitnessScript is the HTLC output's script; Sequence the second-stage input's nSequence (1).
	WitnessScript []byte
	Sequence      uint32
	// SecondStageOutput is the output the counterparty's signature commits to: the HTLC's full value
	// to our delayed, revocable script.
	SecondStageOutput wire.TxOut
}

// BumpTransaction is one of the two requests a ChainMonitor makes of the host for anchor channels
// (LDK's BumpTransactionEvent): BumpChannelClose and BumpHTLCResolution. The library's
// bumptx.BumpTransactionEventHandler answers both from the host's wallet.
type BumpTransaction interface {
	Event
	isBumpTransaction()
}

// BumpChannelClose asks the host to get our commitment transaction confirmed at
// PackageTargetFeeratePerKw: broadcast CommitmentTx together with a child spending Anchor and enough
// wallet inputs that the package (commitment plus child) pays that feerate. If the commitment alone
// already pays it, broadcast it alone. The event repeats every block, with a rising target, until the
// commitment confirms; each repeat for the same ClaimID must replace the previous child.
type BumpChannelClose struct {
	ChannelID          lnwire.ChannelID
	CounterpartyNodeID *btcec.PublicKey
	ClaimID            ClaimID
	// PackageTargetFeeratePerKw is the feerate (sat per 1000 weight units) the commitment and its child
	// must pay together.
	PackageTargetFeeratePerKw uint32
	// CommitmentTx is fully signed; CommitmentTxFeeSat is the fee it pays on its own.
	CommitmentTx       *wire.MsgTx
	CommitmentTxFeeSat int64
	Anchor             AnchorDescriptor
	// PendingHTLCs are the HTLC outputs of the commitment (for the host's information: they are claimed
	// by later BumpHTLCResolution events).
	PendingHTLCs []HTLCDescriptor
	// MaxFeeSat is the most the whole package — the commitment's own fee included — should pay in fees
	// (the monitor's budget for this claim); 0 or less means no cap.
	MaxFeeSat int64
}

// BumpHTLCResolution asks the host to confirm, at TargetFeeratePerKw, one transaction spending every
// HTLC in HTLCDescriptors with its second-stage output, plus wallet inputs for the fee and a change
// output; nLockTime must be TxLockTime. The counterparty's signatures commit to nLockTime, so one event
// holds only HTLCs signed with the same one: HTLC-timeouts whose CltvExpiry equals TxLockTime, or
// HTLC-successes with TxLockTime 0. It repeats every block until the HTLC outputs are spent; repeats
// with the same ClaimID must replace the earlier transaction. When the counterparty spends one of the
// HTLC outputs first, later repeats keep the ClaimID and carry the remaining HTLCs only (the earlier
// transaction is then invalid, so the next one need not replace it).
type BumpHTLCResolution struct {
	ChannelID          lnwire.ChannelID
	CounterpartyNodeID *btcec.PublicKey
	ClaimID            ClaimID
	TargetFeeratePerKw uint32
	HTLCDescriptors    []HTLCDescriptor
	TxLockTime         uint32
	// MaxFeeSat is the most the transaction should pay in fees; 0 or less means no cap.
	MaxFeeSat int64
}

func (BumpChannelClose) isEvent()             {}
func (BumpHTLCResolution) isEvent()           {}
func (BumpChannelClose) isBumpTransaction()   {}
func (BumpHTLCResolution) isBumpTransaction() {}

func (e BumpChannelClose) String() string {
	return fmt.Sprintf("BumpChannelClose{%s, commitment %s, target %d sat/kw}", e.ChannelID, e.CommitmentTx.TxHash(), e.PackageTargetFeeratePerKw)
}

func (e BumpHTLCResolution) String() string {
	return fmt.Sprintf("BumpHTLCResolution{%s, %d HTLCs, target %d sat/kw, locktime %d}", e.ChannelID, len(e.HTLCDescriptors), e.TargetFeeratePerKw, e.TxLockTime)
}
