package channelmonitor

import (
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// ChannelMonitorUpdateStatus is what persisting a monitor (or an update to it) resulted in.
type ChannelMonitorUpdateStatus int

const (
	// Completed: the monitor is durably persisted; messages that depend on it may go.
	Completed ChannelMonitorUpdateStatus = iota
	// InProgress: persistence continues in the background; the channel holds the messages that depend
	// on it until ChainMonitor.ChannelMonitorUpdated reports the update complete.
	InProgress
	// UnrecoverableError: the monitor could not be persisted and never will be; the channel is unusable
	// (the host should shut down rather than risk funds).
	UnrecoverableError
)

// String returns the status's name.
func (s ChannelMonitorUpdateStatus) String() string {
	switch s {
	case Completed:
		return "Completed"
	case InProgress:
		return "InProgress"
	case UnrecoverableError:
		return "UnrecoverableError"
	}
	return "ChannelMonitorUpdateStatus(?)"
}

// MonitorEventKind says what a MonitorEvent reports.
type MonitorEventKind int

const (
	// MonitorEventCompleted: every update up to UpdateID of the channel is persisted.
	MonitorEventCompleted MonitorEventKind = iota
	// MonitorEventCommitmentTxConfirmed: a commitment transaction of the channel confirmed: the channel
	// is closed on chain.
	MonitorEventCommitmentTxConfirmed
	// MonitorEventHolderForceClosed: the monitor broadcast our commitment (e.g. an HTLC timed out).
	MonitorEventHolderForceClosed
	// MonitorEventHTLCPreimage: a preimage of one of our outgoing HTLCs was seen on chain.
	MonitorEventHTLCPreimage
	// MonitorEventCooperativeClose: a mutual closing transaction confirmed.
	MonitorEventCooperativeClose
)

// MonitorEvent is something a ChannelMonitor tells the ChannelManager; the manager pulls them with
// Watch.ReleasePendingMonitorEvents.
type MonitorEvent struct {
	Kind        MonitorEventKind
	ChannelID   lnwire.ChannelID
	FundingTxo  wire.OutPoint
	UpdateID    uint64
	PaymentHash [32]byte
	Preimage    [32]byte
}
