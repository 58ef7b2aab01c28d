package grpcapi

import (
	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Converters of the node, peer and wallet methods. Request converters take a gRPC request to
// nodeapi's params; result converters take nodeapi's result to the gRPC response. Counts (Go int)
// travel as int64.

func getInfoToRPC(r *nodeapi.GetInfoResult) *lnkitrpc.GetInfoResponse {
	return &lnkitrpc.GetInfoResponse{
		NodeId:            r.NodeID,
		Network:           r.Network,
		BlockHeight:       r.BlockHeight,
		BlockHash:         r.BlockHash,
		SyncedToChain:     r.SyncedToChain,
		NumPeers:          int64(r.NumPeers),
		NumChannels:       int64(r.NumChannels),
		NumUsableChannels: int64(r.NumUsableChannels),
		ListenAddrs:       r.ListenAddrs,
		Version:           r.Version,
		Gossip:            gossipToRPC(r.Gossip),
	}
}

func gossipToRPC(g nodeapi.GossipInfo) *lnkitrpc.GossipInfo {
	return &lnkitrpc.GossipInfo{
		Enabled:              g.Enabled,
		Synced:               g.Synced,
		NumNodes:             int64(g.NumNodes),
		NumChannels:          int64(g.NumChannels),
		ChannelAnnouncements: g.ChannelAnnouncements,
		ChannelUpdates:       g.ChannelUpdates,
		NodeAnnouncements:    g.NodeAnnouncements,
	}
}

func connectFromRPC(r *lnkitrpc.ConnectRequest) nodeapi.ConnectParams {
	return nodeapi.ConnectParams{NodeID: r.GetNodeId(), Address: r.GetAddress()}
}

func connectToRPC(r *nodeapi.ConnectResult) *lnkitrpc.ConnectResponse {
	return &lnkitrpc.ConnectResponse{NodeId: r.NodeID}
}

func listPeersToRPC(r *nodeapi.ListPeersResult) *lnkitrpc.ListPeersResponse {
	out := &lnkitrpc.ListPeersResponse{Peers: make([]*lnkitrpc.Peer, 0, len(r.Peers))}
	for _, p := range r.Peers {
		out.Peers = append(out.Peers, &lnkitrpc.Peer{NodeId: p.NodeID, Address: p.Address, Inbound: p.Inbound,
			Features: p.Features})
	}
	return out
}

func newAddressToRPC(r *nodeapi.NewAddressResult) *lnkitrpc.NewAddressResponse {
	return &lnkitrpc.NewAddressResponse{Address: r.Address}
}

func walletBalanceToRPC(r *nodeapi.WalletBalanceResult) *lnkitrpc.WalletBalanceResponse {
	return &lnkitrpc.WalletBalanceResponse{
		ConfirmedSat:        r.ConfirmedSat,
		UnconfirmedSat:      r.UnconfirmedSat,
		TotalSat:            r.TotalSat,
		OnchainClaimableSat: r.OnchainClaimableSat,
		ClaimableSat:        r.ClaimableSat,
	}
}

func listBalancesToRPC(r *nodeapi.ListBalancesResult) *lnkitrpc.ListBalancesResponse {
	out := &lnkitrpc.ListBalancesResponse{TotalSat: r.TotalSat,
		Channels: make([]*lnkitrpc.ChannelBalances, 0, len(r.Channels))}
	for _, c := range r.Channels {
		cb := &lnkitrpc.ChannelBalances{
			ChannelId:          c.ChannelID,
			FundingTxid:        c.FundingTxid,
			FundingOutputIndex: c.FundingVout,
			Open:               c.Open,
			TotalSat:           c.TotalSat,
			Balances:           make([]*lnkitrpc.ClaimableBalance, 0, len(c.Balances)),
		}
		for _, b := range c.Balances {
			cb.Balances = append(cb.Balances, &lnkitrpc.ClaimableBalance{
				Type:               b.Type,
				AmountSat:          b.AmountSat,
				ConfirmationHeight: b.ConfirmationHeight,
				TimeoutHeight:      b.TimeoutHeight,
				ClaimableHeight:    b.ClaimableHeight,
				ExpiryHeight:       b.ExpiryHeight,
				PaymentHash:        b.PaymentHash,
			})
		}
		out.Channels = append(out.Channels, cb)
	}
	return out
}
