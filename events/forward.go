package events

import (
	"fmt"

	"github.com/lnkit/lnkit/lnwire"
)

// PaymentForwarded reports an HTLC we forwarded and claimed back: the next hop fulfilled it (off chain
// or on chain) and we fulfilled the incoming HTLC (LDK's PaymentForwarded).
type PaymentForwarded struct {
	// PrevChannelID is the channel the HTLC came in on, NextChannelID the one it went out on.
	PrevChannelID, NextChannelID lnwire.ChannelID
	// IncomingAmountMsat is what the incoming HTLC paid us; OutboundAmountForwardedMsat what we paid
	// the next hop.
	IncomingAmountMsat          uint64
	OutboundAmountForwardedMsat uint64
	// FeeEarnedMsat is IncomingAmountMsat less OutboundAmountForwardedMsat.
	FeeEarnedMsat uint64
	// ClaimedOnChain: the next hop's preimage was learned from the chain.
	ClaimedOnChain bool
}

// HTLCDestination says where an HTLC we failed back was going (LDK's HTLCDestination).
type HTLCDestination struct {
	// NextChannelID is the channel we forwarded over, zero if the HTLC never left (UnknownNextSCID
	// is then the short_channel_id the onion asked for, if we know no such channel).
	NextChannelID   lnwire.ChannelID
	UnknownNextSCID uint64
}

// HTLCHandlingFailed reports an incoming HTLC we failed back instead of forwarding it, or after the
// next hop failed it (LDK's HTLCHandlingFailed). FailureCode is the BOLT 4 code we returned (0 when
// we relayed the next hop's encrypted failure).
type HTLCHandlingFailed struct {
	PrevChannelID         lnwire.ChannelID
	FailedNextDestination HTLCDestination
	FailureCode           uint16
}

func (PaymentForwarded) isEvent()   {}
func (HTLCHandlingFailed) isEvent() {}

func (e PaymentForwarded) String() string {
	return fmt.Sprintf("PaymentForwarded{%s -> %s, fee %d msat}", e.PrevChannelID, e.NextChannelID, e.FeeEarnedMsat)
}

func (e HTLCHandlingFailed) String() string {
	return fmt.Sprintf("HTLCHandlingFailed{%s, code 0x%04x}", e.PrevChannelID, e.FailureCode)
}

// InterceptID names an intercepted HTLC (HTLCIntercepted) for ForwardInterceptedHTLC and
// FailInterceptedHTLC.
type InterceptID [32]byte

// HTLCIntercepted reports an HTLC held for the host because it asks to be forwarded over an intercept
// short_channel_id (ChannelManager.GetInterceptSCID, config AcceptInterceptHTLCs): the host forwards it
// (ForwardInterceptedHTLC, e.g. over a channel it just opened) or fails it (FailInterceptedHTLC) before
// InboundExpiryHeight draws near (LDK's HTLCIntercepted).
type HTLCIntercepted struct {
	InterceptID          InterceptID
	RequestedNextHopSCID uint64
	PaymentHash          [32]byte
	// InboundAmountMsat is what the incoming HTLC pays us; ExpectedOutboundAmountMsat what the onion
	// asks us to forward.
	InboundAmountMsat          uint64
	ExpectedOutboundAmountMsat uint64
	// InboundExpiryHeight is the incoming HTLC's cltv_expiry.
	InboundExpiryHeight uint32
}

func (HTLCIntercepted) isEvent() {}

func (e HTLCIntercepted) String() string {
	return fmt.Sprintf("HTLCIntercepted{%x, scid %d, %d msat}", e.InterceptID[:4], e.RequestedNextHopSCID, e.ExpectedOutboundAmountMsat)
}
