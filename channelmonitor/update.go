package channelmonitor

import (
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// ChannelParameters are a channel's fixed facts, given to NewChannelMonitor when the channel is funded.
type ChannelParameters struct {
	ChannelID          lnwire.ChannelID
	CounterpartyNodeID *btcec.PublicKey
	FundingOutPoint    wire.OutPoint
	// FundingScript is the 2-of-2 witness script; FundingValueSat the funding output's value.
	FundingScript   []byte
	FundingValueSat int64
	// Anchors is true for `option_anchors_zero_fee_htlc_tx` channels (else `option_static_remotekey`).
	Anchors bool
	// IsOutbound is true when we opened (funded) the channel.
	IsOutbound          bool
	HolderPubkeys       keys.ChannelPublicKeys
	CounterpartyPubkeys keys.ChannelPublicKeys
	// HolderToSelfDelay is the CSV delay, in blocks, on OUR to_local output (set by the counterparty).
	HolderToSelfDelay uint16
	// CounterpartyToSelfDelay is the CSV delay on THEIR to_local output (set by us).
	CounterpartyToSelfDelay uint16
	// HolderDustLimitSat and CounterpartyDustLimitSat are each side's `dust_limit_satoshis`.
	HolderDustLimitSat       int64
	CounterpartyDustLimitSat int64
	// ObscuringFactor is the BOLT 3 commitment-number obscuring factor.
	ObscuringFactor uint64
	// ChannelKeysID re-derives the channel signer from the host's keys.SignerProvider.
	ChannelKeysID [32]byte
	// DestinationScript receives what the monitor sweeps (justice, to_local after the delay).
	DestinationScript []byte
}

// SignerParams returns what the monitor's signer must know of the channel
// (keys.ChannelSigner.ProvideChannelParameters). PushMsat is not kept by a monitor and is 0.
func (p *ChannelParameters) SignerParams() *keys.ChannelTransactionParameters {
	return &keys.ChannelTransactionParameters{
		IsOutbound: p.IsOutbound, FundingOutPoint: p.FundingOutPoint, ValueSat: p.FundingValueSat, Anchors: p.Anchors,
		HolderPubkeys: p.HolderPubkeys, CounterpartyPubkeys: p.CounterpartyPubkeys,
		HolderToSelfDelay: p.HolderToSelfDelay, CounterpartyToSelfDelay: p.CounterpartyToSelfDelay,
		HolderDustLimitSat: p.HolderDustLimitSat, CounterpartyDustLimitSat: p.CounterpartyDustLimitSat,
	}
}

// ClosedChannelUpdateID is the UpdateID of updates given to the monitor of a channel the ChannelManager
// has closed and may have forgotten (LDK's CLOSED_CHANNEL_UPDATE_ID): a preimage learned after the close
// (ClaimFunds, or a forwarded payment's downstream claim), or a late force-close request. Such updates
// may come any number of times and do not move LatestUpdateID.
const ClosedChannelUpdateID = ^uint64(0)

// ChannelMonitorUpdate is one step of a channel's state handed to its monitor before the message that
// depends on it leaves. UpdateIDs increase by one per channel (ClosedChannelUpdateID aside).
type ChannelMonitorUpdate struct {
	UpdateID  uint64
	ChannelID lnwire.ChannelID
	Steps     []UpdateStep
}

// UpdateStep is one of the step types below.
type UpdateStep interface{ isUpdateStep() }

// HolderHTLC is an HTLC of our commitment: an output with the counterparty's signature for its
// second-stage transaction, or, with OutputIndex -1, an HTLC trimmed as dust (no output, no signature).
type HolderHTLC struct {
	OutputIndex     int32
	Offered         bool // offered by us
	HTLCID          uint64
	AmountMsat      uint64
	PaymentHash     [32]byte
	CltvExpiry      uint32
	CounterpartySig lnwire.Sig
	// Source is the ChannelManager's opaque reference for an HTLC we offered (LDK's HTLCSource): the
	// monitor hands it back in the HTLCEvent that reports the HTLC's on-chain outcome. At most
	// MaxHTLCSourceLen bytes; nil for HTLCs offered to us.
	Source []byte
}

// MaxHTLCSourceLen bounds HolderHTLC.Source and CounterpartyHTLC.Source, in bytes.
const MaxHTLCSourceLen = 1024

// LatestHolderCommitment is our newest commitment transaction, signed by the counterparty (BOLT 2,
// `commitment_signed` received). Tx is unsigned (no witness); the monitor signs it to broadcast.
type LatestHolderCommitment struct {
	CommitmentNumber uint64
	Tx               *wire.MsgTx
	CounterpartySig  lnwire.Sig
	HTLCs            []HolderHTLC
	FeeratePerKw     uint32
}

// CounterpartyHTLC is an HTLC of a counterparty commitment. OutputIndex is -1 for a trimmed HTLC.
type CounterpartyHTLC struct {
	OutputIndex int32
	Offered     bool // offered by the counterparty (the commitment's owner)
	HTLCID      uint64
	AmountMsat  uint64
	PaymentHash [32]byte
	CltvExpiry  uint32
	// Source is as HolderHTLC.Source: set for HTLCs we offered (Offered false).
	Source []byte
}

// LatestCounterpartyCommitment is a commitment we signed for the counterparty (BOLT 2,
// `commitment_signed` sent). The monitor keeps what it needs to recognise it on chain and, once it is
// revoked, to punish it.
type LatestCounterpartyCommitment struct {
	CommitmentNumber   uint64
	Txid               chainhash.Hash
	PerCommitmentPoint *btcec.PublicKey
	HTLCs              []CounterpartyHTLC
	FeeratePerKw       uint32
	// ToBroadcasterSat is the counterparty's to_local value and ToCountersignatorySat ours, in sat.
	ToBroadcasterSat      int64
	ToCountersignatorySat int64
}

// CommitmentSecret is the counterparty's revocation of its commitment CommitmentNumber (BOLT 2,
// `revoke_and_ack`).
type CommitmentSecret struct {
	CommitmentNumber uint64
	Secret           [32]byte
}

// PaymentPreimage gives the monitor a preimage it may need to claim an HTLC on chain.
type PaymentPreimage struct {
	Preimage [32]byte
}

// ChannelForceClosed tells the monitor the channel is closed by force; with ShouldBroadcast it
// broadcasts our latest commitment transaction.
type ChannelForceClosed struct {
	ShouldBroadcast bool
}

// ShutdownScript records the script our cooperative-close output pays to.
type ShutdownScript struct {
	Script []byte
}

// ClosingTransaction is the fully signed cooperative closing transaction (BOLT 2, `closing_signed`
// agreed): the monitor rebroadcasts it every block until the funding output is spent, so that a close
// stuck in mempools still confirms, and a later ChannelForceClosed can still replace it with our
// commitment.
type ClosingTransaction struct {
	Tx *wire.MsgTx
}

func (LatestHolderCommitment) isUpdateStep()       {}
func (LatestCounterpartyCommitment) isUpdateStep() {}
func (CommitmentSecret) isUpdateStep()             {}
func (PaymentPreimage) isUpdateStep()              {}
func (ChannelForceClosed) isUpdateStep()           {}
func (ShutdownScript) isUpdateStep()               {}
func (ClosingTransaction) isUpdateStep()           {}
