package channelmanager

import (
	"bytes"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// ChannelDetails describes one channel, as returned by ListChannels.
type ChannelDetails struct {
	ChannelID          lnwire.ChannelID
	CounterpartyNodeID *btcec.PublicKey
	// FundingTxo is the funding outpoint, zero until the funding transaction exists.
	FundingTxo wire.OutPoint
	// ShortChannelID is zero until the funding transaction confirms.
	ShortChannelID lnwire.ShortChannelID
	// ChannelType is the negotiated `channel_type`.
	ChannelType     lnwire.ChannelType
	ChannelValueSat int64
	UserChannelID   [16]byte
	IsOutbound      bool
	// IsChannelReady: `channel_ready` exchanged. IsUsable: ready, peer connected, not closing.
	IsChannelReady bool
	IsUsable       bool
	// BalanceMsat is our balance in our current commitment (HTLCs we offered excluded).
	BalanceMsat uint64
	// OutboundCapacityMsat / InboundCapacityMsat: what can be sent / received now, after reserves, fees
	// and in-flight HTLCs.
	OutboundCapacityMsat uint64
	InboundCapacityMsat  uint64
	// NumPendingHTLCs counts HTLCs not yet fully resolved.
	NumPendingHTLCs int
	// State names the BOLT 2 phase (e.g. "AwaitingChannelReady", "ChannelReady", "Shutdown").
	State string
	// FeeratePerKw is the current commitment feerate.
	FeeratePerKw uint32
	// ConfirmationsRequired is minimum_depth; FundingConfirmationHeight is 0 until confirmed.
	ConfirmationsRequired     uint32
	FundingConfirmationHeight uint32
	// IsPublic: the channel was opened with the `announce_channel` bit (BOLT 2, LDK's
	// is_announced): it is announced once its funding transaction is AnnouncementDepth deep.
	// IsAnnounced: both sides' announcement_signatures are exchanged and the channel_announcement is
	// built and broadcast (BOLT 7).
	IsPublic    bool
	IsAnnounced bool
	// CounterpartyForwardingInfo is the counterparty's latest channel_update of the channel (LDK's
	// counterparty.forwarding_info): what route hints for the channel are built from. Nil until one
	// arrives.
	CounterpartyForwardingInfo *CounterpartyForwardingInfo
	// OutboundSCIDAlias is our scid alias of the channel, sent in our channel_ready (we forward over it
	// as over the real short_channel_id); InboundSCIDAlias the counterparty's, 0 until it sends one
	// (route hints in our invoices name it). LDK's outbound_scid_alias / inbound_scid_alias.
	OutboundSCIDAlias lnwire.ShortChannelID
	InboundSCIDAlias  lnwire.ShortChannelID
	// CounterpartyOutboundHTLCMinimumMsat is the counterparty's htlc_minimum_msat: the smallest HTLC we
	// may send over the channel (LDK's counterparty.outbound_htlc_minimum_msat).
	CounterpartyOutboundHTLCMinimumMsat uint64
	// InboundHTLCMinimumMsat is our htlc_minimum_msat: the smallest HTLC the counterparty may send us.
	InboundHTLCMinimumMsat uint64
	// NextOutboundHTLCLimitMsat is the largest HTLC we could send now: OutboundCapacityMsat, at most
	// what the counterparty's max_htlc_value_in_flight_msat leaves beside our HTLCs in flight (0 when
	// not usable; LDK's next_outbound_htlc_limit_msat).
	NextOutboundHTLCLimitMsat uint64
	// HTLCMaximumMsat is the htlc_maximum_msat our channel_update announces (capacity less the reserve
	// the counterparty asks of us, at most its max_htlc_value_in_flight_msat; 0 before funding).
	HTLCMaximumMsat uint64
	// ForwardingFeeBaseMsat, ForwardingFeeProportionalMillionths and CLTVExpiryDelta are our
	// forwarding policy for the channel (see UpdateChannelConfig).
	ForwardingFeeBaseMsat               uint32
	ForwardingFeeProportionalMillionths uint32
	CLTVExpiryDelta                     uint16
}

// ListChannels returns every channel that is not yet forgotten, ordered by channel id.
func (cm *ChannelManager) ListChannels() []ChannelDetails {
	var out []ChannelDetails
	def := policyFrom(&cm.cfg.ChannelConfig)
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			d := c.details()
			c.gossipDetails(&d, def)
			out = append(out, d)
		}
		ps.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ChannelID[:], out[j].ChannelID[:]) < 0 })
	return out
}

// ListUsableChannels returns the channels that can carry payments now.
func (cm *ChannelManager) ListUsableChannels() []ChannelDetails {
	var out []ChannelDetails
	for _, d := range cm.ListChannels() {
		if d.IsUsable {
			out = append(out, d)
		}
	}
	return out
}

func (c *channel) details() ChannelDetails {
	d := ChannelDetails{
		ChannelID: c.id(), CounterpartyNodeID: c.counterparty, FundingTxo: c.fundingOutPoint,
		ShortChannelID: c.shortChannelID, ChannelType: c.wireChannelType(), ChannelValueSat: c.valueSat,
		UserChannelID: c.userChannelID, IsOutbound: c.outbound,
		IsChannelReady: c.state == stateChannelReady || c.state == stateShutdown || c.state == stateNegotiatingClosing,
		IsUsable:       c.isUsable(), State: c.state.String(), NumPendingHTLCs: len(c.htlcs),
		ConfirmationsRequired: c.minimumDepth, FundingConfirmationHeight: c.fundingConfHeight,
	}
	if c.state >= stateAwaitingChannelReady && c.state != stateAwaitingManualAccept {
		v := c.viewAt(true, c.localCommitNum)
		d.BalanceMsat = v.ourMsat
		d.FeeratePerKw = v.feeratePerKw
	} else {
		d.BalanceMsat = c.baseLocalMsat
		d.FeeratePerKw = c.baseFeeratePerKw
	}
	if d.IsUsable {
		d.OutboundCapacityMsat = c.outboundCapacityMsat()
		d.InboundCapacityMsat = c.inboundCapacityMsat()
	}
	return d
}
