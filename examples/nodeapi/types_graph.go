package nodeapi

// The network graph's methods (describegraph, getnodeinfo, queryroutes), modelled on lnd's lncli
// commands of the same names. Short channel ids are given twice: "short_channel_id" in BOLT 7's
// human form "BLOCKxTXxOUT" and "scid" as the u64 wire form (lnd's chan_id). Times are Unix seconds.

// GossipInfo is getinfo's view of the network graph.
type GossipInfo struct {
	// Enabled: the node takes part in gossip (-gossip); the graph is still loaded and queryable
	// without it.
	Enabled bool `json:"enabled"`
	// Synced: an initial gossip sync completed with a peer that claimed complete information.
	Synced      bool `json:"synced"`
	NumNodes    int  `json:"num_nodes"`
	NumChannels int  `json:"num_channels"`
	// Messages accepted since the node started.
	ChannelAnnouncements uint64 `json:"channel_announcements"`
	ChannelUpdates       uint64 `json:"channel_updates"`
	NodeAnnouncements    uint64 `json:"node_announcements"`
}

// GraphNode is a node of the graph. The announcement fields are empty (LastUpdate 0) until its
// node_announcement arrives.
type GraphNode struct {
	NodeID string `json:"node_id"`
	Alias  string `json:"alias"`
	// Color is the announcement's rgb_color as "#rrggbb".
	Color string `json:"color"`
	// Addresses are "host:port" (IPv6 in brackets; Tor and DNS names as given).
	Addresses []string `json:"addresses"`
	// Features is the node_announcement's feature bits, hex.
	Features   string `json:"features"`
	LastUpdate int64  `json:"last_update"`
}

// GraphPolicy is one direction of a channel: what its source node charges and requires to forward
// over it (its latest channel_update). Fee: fee_base_msat + amount × fee_proportional_millionths /
// 1,000,000 on the amount forwarded.
type GraphPolicy struct {
	FeeBaseMsat               uint32 `json:"fee_base_msat"`
	FeeProportionalMillionths uint32 `json:"fee_proportional_millionths"`
	// CLTVExpiryDelta is in blocks.
	CLTVExpiryDelta uint16 `json:"cltv_expiry_delta"`
	HTLCMinimumMsat uint64 `json:"htlc_minimum_msat"`
	HTLCMaximumMsat uint64 `json:"htlc_maximum_msat"`
	Disabled        bool   `json:"disabled"`
	LastUpdate      int64  `json:"last_update"`
}

// GraphChannel is a channel of the graph. Node1 is the node whose id sorts first (BOLT 7); Node1Policy
// is node 1's direction (node 1 → node 2), nil before its first channel_update.
type GraphChannel struct {
	ShortChannelID string `json:"short_channel_id"`
	SCID           uint64 `json:"scid"`
	// ChanPoint is the funding outpoint "txid:vout" when known (from the chain).
	ChanPoint string `json:"chan_point,omitempty"`
	// CapacitySat is the funding output's value; 0 if unknown.
	CapacitySat uint64 `json:"capacity_sat"`
	Node1       string `json:"node1"`
	Node2       string `json:"node2"`
	// Features is the channel_announcement's feature bits, hex.
	Features    string       `json:"features"`
	Node1Policy *GraphPolicy `json:"node1_policy"`
	Node2Policy *GraphPolicy `json:"node2_policy"`
	// LastUpdate is the newer policy's timestamp (0 before any).
	LastUpdate int64 `json:"last_update"`
	// SpentAtHeight is the height of the block that spent the funding output (the channel closes; it
	// is forgotten 72 blocks later); 0 while open.
	SpentAtHeight uint32 `json:"spent_at_height,omitempty"`
}

// DescribeGraphResult is the whole graph, nodes by id and channels by short channel id.
type DescribeGraphResult struct {
	Nodes    []GraphNode    `json:"nodes"`
	Channels []GraphChannel `json:"channels"`
}

type GetNodeInfoParams struct {
	NodeID string `json:"node_id"`
}

// GetNodeInfoResult is a node with its channels (by short channel id).
type GetNodeInfoResult struct {
	Node             GraphNode      `json:"node"`
	NumChannels      int            `json:"num_channels"`
	TotalCapacitySat uint64         `json:"total_capacity_sat"`
	Channels         []GraphChannel `json:"channels"`
}

// QueryRoutesParams: a route from this node paying AmountSat to NodeID over the graph and our usable
// channels. FinalCLTVDelta is the payee's final CLTV delta in blocks (0: 40). FeeLimitSat bounds the
// fees (absent: 1% of the amount + 50 sat). MaxPaths allows a multi-path route of up to that many
// paths (0 or 1: a single path; more needs a payee announcing basic_mpp).
type QueryRoutesParams struct {
	NodeID         string  `json:"node_id"`
	AmountSat      uint64  `json:"amount_sat"`
	FinalCLTVDelta uint32  `json:"final_cltv_delta"`
	FeeLimitSat    *uint64 `json:"fee_limit_sat"`
	MaxPaths       uint32  `json:"max_paths"`
}

// RouteHop is one hop of a path. AmountToForwardMsat is what the hop's node sends on to the next
// (at the last hop, what the payee receives); FeeMsat what it keeps (0 at the last hop).
// CLTVExpiryDelta is the delta the node requires (at the last hop, the final delta); ExpiryHeight is
// the cltv_expiry of the HTLC the node sends on (at the last hop, of the HTLC it receives).
type RouteHop struct {
	NodeID              string `json:"node_id"`
	ShortChannelID      string `json:"short_channel_id"`
	SCID                uint64 `json:"scid"`
	AmountToForwardMsat uint64 `json:"amount_to_forward_msat"`
	FeeMsat             uint64 `json:"fee_msat"`
	CLTVExpiryDelta     uint32 `json:"cltv_expiry_delta"`
	ExpiryHeight        uint32 `json:"expiry_height"`
}

// RoutePath is one path: TotalAmountMsat is what its first HTLC carries (the amount it delivers,
// AmountMsat, plus TotalFeesMsat); TotalTimeLock is that HTLC's cltv_expiry (the current height plus
// TotalCLTVDelta).
type RoutePath struct {
	Hops            []RouteHop `json:"hops"`
	AmountMsat      uint64     `json:"amount_msat"`
	TotalAmountMsat uint64     `json:"total_amount_msat"`
	TotalFeesMsat   uint64     `json:"total_fees_msat"`
	TotalCLTVDelta  uint32     `json:"total_cltv_delta"`
	TotalTimeLock   uint32     `json:"total_time_lock"`
}

// QueryRoutesResult is the route found: one path, or several for a multi-path payment. Totals are
// over all paths; TotalTimeLock is the largest path's; BlockHeight the height the time locks start
// from.
type QueryRoutesResult struct {
	Paths           []RoutePath `json:"paths"`
	AmountMsat      uint64      `json:"amount_msat"`
	TotalAmountMsat uint64      `json:"total_amount_msat"`
	TotalFeesMsat   uint64      `json:"total_fees_msat"`
	TotalTimeLock   uint32      `json:"total_time_lock"`
	BlockHeight     uint32      `json:"block_height"`
}
