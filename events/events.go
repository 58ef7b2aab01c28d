// Package events defines what lnkit's components hand to the host: Events (payments, channel life-cycle,
// funds to sweep), pulled with ProcessPendingEvents, and MessageSendEvents, pulled by the PeerManager.
//
// Events are delivered at least once: a handler that returns an error gets the same event again on the
// next ProcessPendingEvents call, so handlers must be idempotent (key them on PaymentHash/ChannelID).
package events

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// Event is one of the event types below. Switch on the concrete type.
type Event interface {
	isEvent()
	fmt.Stringer
}

// Handler handles one event. Returning an error leaves the event queued; it is handed over again on the
// next ProcessPendingEvents call, and the events after it wait.
type Handler func(Event) error

// PaymentID identifies an outbound payment chosen by the caller of SendPaymentWithRoute (LDK's PaymentId);
// retries of one payment share it, so that a payment is never sent twice by mistake.
type PaymentID [32]byte

// FundingGenerationReady asks the host to build (but not broadcast) a transaction paying ChannelValueSat to
// OutputScript, then hand it to ChannelManager.FundingTransactionGenerated.
type FundingGenerationReady struct {
	TemporaryChannelID lnwire.ChannelID
	CounterpartyNodeID *btcec.PublicKey
	ChannelValueSat    int64
	// OutputScript is the P2WSH script of the 2-of-2 funding output (34 bytes).
	OutputScript  []byte
	UserChannelID [16]byte
}

// OpenChannelRequest reports an inbound `open_channel` waiting for AcceptInboundChannel or
// ForceRejectChannel (only with UserConfig.ManuallyAcceptInboundChannels).
type OpenChannelRequest struct {
	TemporaryChannelID lnwire.ChannelID
	CounterpartyNodeID *btcec.PublicKey
	FundingSat         int64
	PushMsat           uint64
	// ChannelType is the `channel_type` the opener asked for.
	ChannelType lnwire.ChannelType
}

// ChannelPending reports that the funding transaction has been signed by both sides (and, for the
// funder, broadcast): the channel now waits for confirmations.
type ChannelPending struct {
	ChannelID                lnwire.ChannelID
	UserChannelID            [16]byte
	FormerTemporaryChannelID lnwire.ChannelID
	CounterpartyNodeID       *btcec.PublicKey
	FundingTxo               wire.OutPoint
}

// ChannelReady reports that both sides sent `channel_ready`: the channel can carry payments.
type ChannelReady struct {
	ChannelID          lnwire.ChannelID
	UserChannelID      [16]byte
	CounterpartyNodeID *btcec.PublicKey
	ChannelType        lnwire.ChannelType
}

// ClosureReason says why a channel closed.
type ClosureReason int

const (
	// CounterpartyForceClosed: the counterparty's commitment transaction confirmed or they sent an error.
	CounterpartyForceClosed ClosureReason = iota
	// HolderForceClosed: we broadcast our commitment (ForceCloseBroadcastingLatestTxn, an outgoing HTLC
	// about to time out, or a monitor update that could not be persisted: Message says which).
	HolderForceClosed
	// CooperativeClosure: a mutual closing transaction was signed and broadcast.
	CooperativeClosure
	// CommitmentTxConfirmed: a commitment transaction confirmed on chain.
	CommitmentTxConfirmed
	// ProcessingError: we closed the channel because the counterparty broke the protocol.
	ProcessingError
	// DisconnectedPeer: a channel still being opened was dropped when the peer disconnected.
	DisconnectedPeer
	// CounterpartyCoopClosedUnfundedChannel / funding never happened: the channel was abandoned before funding.
	FundingAbandoned
)

// String returns the reason's name.
func (r ClosureReason) String() string {
	switch r {
	case CounterpartyForceClosed:
		return "CounterpartyForceClosed"
	case HolderForceClosed:
		return "HolderForceClosed"
	case CooperativeClosure:
		return "CooperativeClosure"
	case CommitmentTxConfirmed:
		return "CommitmentTxConfirmed"
	case ProcessingError:
		return "ProcessingError"
	case DisconnectedPeer:
		return "DisconnectedPeer"
	case FundingAbandoned:
		return "FundingAbandoned"
	}
	return "ClosureReason(?)"
}

// ChannelClosed reports that a channel is closed (or, for a force close, that its closing has begun).
type ChannelClosed struct {
	ChannelID          lnwire.ChannelID
	UserChannelID      [16]byte
	CounterpartyNodeID *btcec.PublicKey
	Reason             ClosureReason
	// Message is the human-readable detail (e.g. the peer's error text).
	Message            string
	ChannelCapacitySat int64
}

// PaymentPurpose tells what a received payment pays for: an invoice we created (its preimage is known
// to us when we created it through CreateInboundPayment) or a spontaneous payment.
type PaymentPurpose struct {
	PaymentPreimage *[32]byte
	PaymentSecret   [32]byte
}

// PaymentClaimable reports a received payment whose HTLCs all arrived and checked out. Claim it with
// ChannelManager.ClaimFunds(preimage) before ClaimDeadline (a block height), or fail it back with
// FailHTLCBackwards.
type PaymentClaimable struct {
	ReceiverNodeID *btcec.PublicKey
	PaymentHash    [32]byte
	AmountMsat     uint64
	Purpose        PaymentPurpose
	ViaChannelID   lnwire.ChannelID
	// ClaimDeadline is the block height by which the payment must be claimed: the earliest HTLC's
	// cltv_expiry less channelmonitor.HTLCFailBackBuffer. When a block at this height arrives, the
	// HTLCs still unclaimed are failed back and the payment can no longer be claimed.
	ClaimDeadline uint32
}

// PaymentClaimed reports that we claimed a received payment: the preimage is with the channel monitor
// and the `update_fulfill_htlc` messages are sent.
type PaymentClaimed struct {
	ReceiverNodeID *btcec.PublicKey
	PaymentHash    [32]byte
	AmountMsat     uint64
	Purpose        PaymentPurpose
}

// PaymentSent reports that an outbound payment succeeded: the recipient revealed the preimage.
type PaymentSent struct {
	PaymentID       PaymentID
	PaymentPreimage [32]byte
	PaymentHash     [32]byte
	// FeePaidMsat is the routing fee paid on top of the amount (0 over a direct channel).
	FeePaidMsat uint64
}

// PaymentFailureReason says why an outbound payment failed for good.
type PaymentFailureReason int

const (
	// RecipientRejected: the final node refused the payment (e.g. `incorrect_or_unknown_payment_details`).
	RecipientRejected PaymentFailureReason = iota
	// UserAbandoned: the caller abandoned the payment.
	UserAbandoned
	// RetriesExhausted: every attempt failed.
	RetriesExhausted
	// PaymentExpired: the payment's deadline passed.
	PaymentExpired
	// RouteNotFound: no usable route or channel.
	RouteNotFound
	// UnexpectedError: a failure we could not attribute (e.g. an unreadable error onion).
	UnexpectedError
)

// String returns the reason's name.
func (r PaymentFailureReason) String() string {
	switch r {
	case RecipientRejected:
		return "RecipientRejected"
	case UserAbandoned:
		return "UserAbandoned"
	case RetriesExhausted:
		return "RetriesExhausted"
	case PaymentExpired:
		return "PaymentExpired"
	case RouteNotFound:
		return "RouteNotFound"
	case UnexpectedError:
		return "UnexpectedError"
	}
	return "PaymentFailureReason(?)"
}

// PaymentPathFailed reports that one HTLC (path) of a payment failed. FailureCode is the BOLT 4 failure
// code the erring node returned (0 if the error could not be read); ErringHop is the index of the hop that
// produced it (0 = the first hop after us), or -1.
type PaymentPathFailed struct {
	PaymentID                PaymentID
	PaymentHash              [32]byte
	PaymentFailedPermanently bool
	FailureCode              uint16
	FailureData              []byte
	ErringHop                int
	// ShortChannelID is the channel the failure points at (the erring node's outgoing channel for a
	// channel failure, our first hop's when the HTLC could not be sent), 0 if none.
	ShortChannelID uint64
}

// PaymentFailed reports that an outbound payment failed for good; it follows the PaymentPathFailed events.
type PaymentFailed struct {
	PaymentID   PaymentID
	PaymentHash [32]byte
	Reason      PaymentFailureReason
}

// SpendableOutputs hands the host outputs that are now ours alone to spend (swept or sweepable), with
// what is needed to spend each.
type SpendableOutputs struct {
	Outputs   []SpendableOutputDescriptor
	ChannelID lnwire.ChannelID
}

// DiscardFunding tells the host that a funding transaction it built will never be used (the channel
// closed before it was broadcast); its inputs may be spent elsewhere.
type DiscardFunding struct {
	ChannelID   lnwire.ChannelID
	FundingTxid [32]byte
}

func (FundingGenerationReady) isEvent() {}
func (OpenChannelRequest) isEvent()     {}
func (ChannelPending) isEvent()         {}
func (ChannelReady) isEvent()           {}
func (ChannelClosed) isEvent()          {}
func (PaymentClaimable) isEvent()       {}
func (PaymentClaimed) isEvent()         {}
func (PaymentSent) isEvent()            {}
func (PaymentPathFailed) isEvent()      {}
func (PaymentFailed) isEvent()          {}
func (SpendableOutputs) isEvent()       {}
func (DiscardFunding) isEvent()         {}

func (e FundingGenerationReady) String() string {
	return fmt.Sprintf("FundingGenerationReady{temp %x, %d sat}", e.TemporaryChannelID[:4], e.ChannelValueSat)
}
func (e OpenChannelRequest) String() string {
	return fmt.Sprintf("OpenChannelRequest{temp %x, %d sat, push %d msat}", e.TemporaryChannelID[:4], e.FundingSat, e.PushMsat)
}
func (e ChannelPending) String() string {
	return fmt.Sprintf("ChannelPending{%s, funding %s}", e.ChannelID, e.FundingTxo)
}
func (e ChannelReady) String() string { return fmt.Sprintf("ChannelReady{%s}", e.ChannelID) }
func (e ChannelClosed) String() string {
	return fmt.Sprintf("ChannelClosed{%s, %s: %s}", e.ChannelID, e.Reason, e.Message)
}
func (e PaymentClaimable) String() string {
	return fmt.Sprintf("PaymentClaimable{%x, %d msat}", e.PaymentHash[:4], e.AmountMsat)
}
func (e PaymentClaimed) String() string {
	return fmt.Sprintf("PaymentClaimed{%x, %d msat}", e.PaymentHash[:4], e.AmountMsat)
}
func (e PaymentSent) String() string { return fmt.Sprintf("PaymentSent{%x}", e.PaymentHash[:4]) }
func (e PaymentPathFailed) String() string {
	return fmt.Sprintf("PaymentPathFailed{%x, code 0x%04x, permanent %v}", e.PaymentHash[:4], e.FailureCode, e.PaymentFailedPermanently)
}
func (e PaymentFailed) String() string {
	return fmt.Sprintf("PaymentFailed{%x, %s}", e.PaymentHash[:4], e.Reason)
}
func (e SpendableOutputs) String() string {
	return fmt.Sprintf("SpendableOutputs{%s, %d outputs}", e.ChannelID, len(e.Outputs))
}
func (e DiscardFunding) String() string { return fmt.Sprintf("DiscardFunding{%s}", e.ChannelID) }

// SpendableOutputDescriptor describes one output we can spend alone, with what signing it needs.
type SpendableOutputDescriptor struct {
	Kind     SpendableOutputKind
	OutPoint wire.OutPoint
	Output   wire.TxOut
	// ChannelKeysID identifies the channel signer (keys.SignerProvider.DeriveChannelSigner) for
	// DelayedPaymentOutput and StaticPaymentOutput; zero for StaticOutput.
	ChannelKeysID [32]byte
	// ChannelValueSat is the channel's capacity (needed to re-derive the signer).
	ChannelValueSat int64
	// PerCommitmentPoint, ToSelfDelay, RevocationPubkey and WitnessScript describe a DelayedPaymentOutput
	// (our `to_local`, spendable with the delayed payment key after ToSelfDelay blocks).
	PerCommitmentPoint *btcec.PublicKey
	ToSelfDelay        uint16
	RevocationPubkey   *btcec.PublicKey
	// WitnessScript is the P2WSH script of DelayedPaymentOutput and of an anchors StaticPaymentOutput.
	WitnessScript []byte
	// Anchors marks a StaticPaymentOutput on an anchors channel: its script has a 1-block CSV.
	Anchors bool
}

// SpendableOutputKind says how a SpendableOutputDescriptor's output is spent.
type SpendableOutputKind int

const (
	// StaticOutput pays a script of our wallet (a closing output, or an output already swept).
	StaticOutput SpendableOutputKind = iota
	// DelayedPaymentOutput is our `to_local` output after a force close: CSV-delayed.
	DelayedPaymentOutput
	// StaticPaymentOutput is our `to_remote` output on the counterparty's commitment.
	StaticPaymentOutput
)
