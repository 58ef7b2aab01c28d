package grpcapi

import (
	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Converters of the network graph's methods (describegraph, getnodeinfo, queryroutes).

func describeGraphToRPC(r *nodeapi.DescribeGraphResult) *lnkitrpc.DescribeGraphResponse {
	out := &lnkitrpc.DescribeGraphResponse{
		Nodes:    make([]*lnkitrpc.GraphNode, 0, len(r.Nodes)),
		Channels: graphChannelsToRPC(r.Channels),
	}
	for i := range r.Nodes {
		out.Nodes = append(out.Nodes, graphNodeToRPC(&r.Nodes[i]))
	}
	return out
}

func graphNodeToRPC(n *nodeapi.GraphNode) *lnkitrpc.GraphNode {
	return &lnkitrpc.GraphNode{
		NodeId:     n.NodeID,
		Alias:      n.Alias,
		Color:      n.Color,
		Addresses:  n.Addresses,
		Features:   n.Features,
		LastUpdate: n.LastUpdate,
	}
}

func graphChannelsToRPC(cs []nodeapi.GraphChannel) []*lnkitrpc.GraphChannel {
	out := make([]*lnkitrpc.GraphChannel, 0, len(cs))
	for i := range cs {
		c := &cs[i]
		out = append(out, &lnkitrpc.GraphChannel{
			ShortChannelId: c.ShortChannelID,
			Scid:           c.SCID,
			ChanPoint:      c.ChanPoint,
			CapacitySat:    c.CapacitySat,
			Node1:          c.Node1,
			Node2:          c.Node2,
			Features:       c.Features,
			Node1Policy:    graphPolicyToRPC(c.Node1Policy),
			Node2Policy:    graphPolicyToRPC(c.Node2Policy),
			LastUpdate:     c.LastUpdate,
			SpentAtHeight:  c.SpentAtHeight,
		})
	}
	return out
}

// graphPolicyToRPC keeps an absent policy (nil: no channel_update yet) absent.
func graphPolicyToRPC(p *nodeapi.GraphPolicy) *lnkitrpc.GraphPolicy {
	if p == nil {
		return nil
	}
	return &lnkitrpc.GraphPolicy{
		FeeBaseMsat:               p.FeeBaseMsat,
		FeeProportionalMillionths: p.FeeProportionalMillionths,
		CltvExpiryDelta:           uint32(p.CLTVExpiryDelta),
		HtlcMinimumMsat:           p.HTLCMinimumMsat,
		HtlcMaximumMsat:           p.HTLCMaximumMsat,
		Disabled:                  p.Disabled,
		LastUpdate:                p.LastUpdate,
	}
}

func getNodeInfoFromRPC(r *lnkitrpc.GetNodeInfoRequest) nodeapi.GetNodeInfoParams {
	return nodeapi.GetNodeInfoParams{NodeID: r.GetNodeId()}
}

func getNodeInfoToRPC(r *nodeapi.GetNodeInfoResult) *lnkitrpc.GetNodeInfoResponse {
	return &lnkitrpc.GetNodeInfoResponse{
		Node:             graphNodeToRPC(&r.Node),
		NumChannels:      int64(r.NumChannels),
		TotalCapacitySat: r.TotalCapacitySat,
		Channels:         graphChannelsToRPC(r.Channels),
	}
}

func queryRoutesFromRPC(r *lnkitrpc.QueryRoutesRequest) nodeapi.QueryRoutesParams {
	return nodeapi.QueryRoutesParams{
		NodeID:         r.GetNodeId(),
		AmountSat:      r.GetAmountSat(),
		FinalCLTVDelta: r.GetFinalCltvDelta(),
		FeeLimitSat:    r.FeeLimitSat,
		MaxPaths:       r.GetMaxPaths(),
	}
}

func queryRoutesToRPC(r *nodeapi.QueryRoutesResult) *lnkitrpc.QueryRoutesResponse {
	out := &lnkitrpc.QueryRoutesResponse{
		Paths:           make([]*lnkitrpc.RoutePath, 0, len(r.Paths)),
		AmountMsat:      r.AmountMsat,
		TotalAmountMsat: r.TotalAmountMsat,
		TotalFeesMsat:   r.TotalFeesMsat,
		TotalTimeLock:   r.TotalTimeLock,
		BlockHeight:     r.BlockHeight,
	}
	for _, p := range r.Paths {
		rp := &lnkitrpc.RoutePath{
			Hops:            make([]*lnkitrpc.RouteHop, 0, len(p.Hops)),
			AmountMsat:      p.AmountMsat,
			TotalAmountMsat: p.TotalAmountMsat,
			TotalFeesMsat:   p.TotalFeesMsat,
			TotalCltvDelta:  p.TotalCLTVDelta,
			TotalTimeLock:   p.TotalTimeLock,
		}
		for _, h := range p.Hops {
			rp.Hops = append(rp.Hops, &lnkitrpc.RouteHop{
				NodeId:              h.NodeID,
				ShortChannelId:      h.ShortChannelID,
				Scid:                h.SCID,
				AmountToForwardMsat: h.AmountToForwardMsat,
				FeeMsat:             h.FeeMsat,
				CltvExpiryDelta:     h.CLTVExpiryDelta,
				ExpiryHeight:        h.ExpiryHeight,
			})
		}
		out.Paths = append(out.Paths, rp)
	}
	return out
}
