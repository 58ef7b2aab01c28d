package grpcapi

import (
	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Converters of the channel methods (openchannel, listchannels, closechannel).

func openChannelFromRPC(r *lnkitrpc.OpenChannelRequest) nodeapi.OpenChannelParams {
	return nodeapi.OpenChannelParams{
		NodeID:       r.GetNodeId(),
		AmountSat:    r.GetAmountSat(),
		PushMsat:     r.GetPushMsat(),
		Private:      r.GetPrivate(),
		FeeratePerKw: r.GetFeeratePerKw(),
		Public:       r.GetPublic(),
	}
}

func openChannelToRPC(r *nodeapi.OpenChannelResult) *lnkitrpc.OpenChannelResponse {
	return &lnkitrpc.OpenChannelResponse{
		TemporaryChannelId: r.TemporaryChannelID,
		ChannelId:          r.ChannelID,
		FundingTxid:        r.FundingTxid,
		FundingOutputIndex: r.FundingVout,
	}
}

func listChannelsToRPC(r *nodeapi.ListChannelsResult) *lnkitrpc.ListChannelsResponse {
	out := &lnkitrpc.ListChannelsResponse{Channels: make([]*lnkitrpc.Channel, 0, len(r.Channels))}
	for i := range r.Channels {
		out.Channels = append(out.Channels, channelToRPC(&r.Channels[i]))
	}
	return out
}

func channelToRPC(c *nodeapi.Channel) *lnkitrpc.Channel {
	return &lnkitrpc.Channel{
		ChannelId:            c.ChannelID,
		ShortChannelId:       c.ShortChannelID,
		NodeId:               c.NodeID,
		FundingTxid:          c.FundingTxid,
		FundingOutputIndex:   c.FundingVout,
		CapacitySat:          c.CapacitySat,
		LocalBalanceMsat:     c.LocalBalanceMsat,
		OutboundCapacityMsat: c.OutboundCapacityMsat,
		InboundCapacityMsat:  c.InboundCapacityMsat,
		IsOutbound:           c.IsOutbound,
		IsChannelReady:       c.IsChannelReady,
		IsUsable:             c.IsUsable,
		State:                c.State,
		ChannelType:          c.ChannelType,
		FeeratePerKw:         c.FeeratePerKw,
		PendingHtlcs:         int64(c.PendingHTLCs),
		Public:               c.Public,
		Announced:            c.Announced,
		FeeBaseMsat:          c.FeeBaseMsat,
		FeeRatePpm:           c.FeeRatePPM,
		TimeLockDelta:        uint32(c.TimeLockDelta),
	}
}

func closeChannelFromRPC(r *lnkitrpc.CloseChannelRequest) nodeapi.CloseChannelParams {
	return nodeapi.CloseChannelParams{ChannelID: r.GetChannelId(), Force: r.GetForce()}
}

func closeChannelToRPC(r *nodeapi.CloseChannelResult) *lnkitrpc.CloseChannelResponse {
	return &lnkitrpc.CloseChannelResponse{ClosingTxid: r.ClosingTxid}
}
