package channelmonitor

import (
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// MonitorEvent is something the monitors tell the ChannelManager, pulled with
// Watch.ReleasePendingMonitorEvents (LDK's MonitorEvent). It is one of MonitorUpdateCompleted,
// CommitmentTxConfirmed, CooperativeCloseConfirmed, HolderForceClosed and HTLCEvent; switch on the
// concrete type.
type MonitorEvent interface {
	// Channel returns the channel the event is about.
	Channel() (lnwire.ChannelID, wire.OutPoint)
	isMonitorEvent()
}

// MonitorUpdateCompleted: every update of the channel up to UpdateID is persisted (after Persist
// answered InProgress and the host called ChainMonitor.ChannelMonitorUpdated).
type MonitorUpdateCompleted struct {
	ChannelID  lnwire.ChannelID
	FundingTxo wire.OutPoint
	UpdateID   uint64
}

// CommitmentTxConfirmed: a commitment transaction of the channel (ours or the counterparty's) spent the
// funding output: the channel is closed on chain.
type CommitmentTxConfirmed struct {
	ChannelID  lnwire.ChannelID
	FundingTxo wire.OutPoint
}

// CooperativeCloseConfirmed: a mutual closing transaction spent the funding output.
type CooperativeCloseConfirmed struct {
	ChannelID  lnwire.ChannelID
	FundingTxo wire.OutPoint
}

// HolderForceClosed: the monitor broadcast our commitment on its own, because an HTLC's deadline
// required it (BOLT 2: an outgoing HTLC LatencyGracePeriodBlocks past its cltv_expiry, or an incoming
// one whose preimage we hold within CLTVClaimBuffer of it). Reason says which.
type HolderForceClosed struct {
	ChannelID  lnwire.ChannelID
	FundingTxo wire.OutPoint
	Reason     string
}

// HTLCEvent is the on-chain outcome of an HTLC we offered (LDK's HTLCUpdate): with Preimage, the
// counterparty claimed it (the payment succeeded); without, it is failed for good — timed out on chain
// and AntiReorgDelay deep, or absent from the commitment that confirmed (trimmed as dust, or never in
// it). Source is what the ChannelManager attached to the HTLC (HolderHTLC.Source). Each HTLC gets at
// most one HTLCEvent from a monitor, except that a preimage may follow a failure that was reorganised
// away; the ChannelManager treats both idempotently.
type HTLCEvent struct {
	ChannelID   lnwire.ChannelID
	FundingTxo  wire.OutPoint
	HTLCID      uint64
	PaymentHash [32]byte
	AmountMsat  uint64
	Source      []byte
	Preimage    *[32]byte
}

func (e MonitorUpdateCompleted) Channel() (lnwire.ChannelID, wire.OutPoint) {
	return e.ChannelID, e.FundingTxo
}
func (e CommitmentTxConfirmed) Channel() (lnwire.ChannelID, wire.OutPoint) {
	return e.ChannelID, e.FundingTxo
}
func (e CooperativeCloseConfirmed) Channel() (lnwire.ChannelID, wire.OutPoint) {
	return e.ChannelID, e.FundingTxo
}
func (e HolderForceClosed) Channel() (lnwire.ChannelID, wire.OutPoint) {
	return e.ChannelID, e.FundingTxo
}
func (e HTLCEvent) Channel() (lnwire.ChannelID, wire.OutPoint) { return e.ChannelID, e.FundingTxo }

func (MonitorUpdateCompleted) isMonitorEvent()    {}
func (CommitmentTxConfirmed) isMonitorEvent()     {}
func (CooperativeCloseConfirmed) isMonitorEvent() {}
func (HolderForceClosed) isMonitorEvent()         {}
func (HTLCEvent) isMonitorEvent()                 {}
