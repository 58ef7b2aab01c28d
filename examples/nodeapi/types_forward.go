package nodeapi

// Forwarding: the payments this node forwarded (forwardinghistory) and the policy it forwards with
// (updatechanpolicy), modelled on lnd's fwdinghistory and updatechanpolicy. Channel ids are the
// 32-byte BOLT 2 channel_id in hex; short channel ids "BLOCKxTXxOUT".

// ForwardingHistoryParams: Limit > 0 lists only the Limit most recent forwards.
type ForwardingHistoryParams struct {
	Limit uint32 `json:"limit"`
}

// Forward is one payment we forwarded and were paid for: the next hop fulfilled the HTLC we sent on,
// and we fulfilled the one we received. The short channel ids and node ids are set when the channels
// were still known when the forward was recorded.
type Forward struct {
	// Timestamp is when the forward settled (Unix seconds).
	Timestamp          int64  `json:"timestamp"`
	PrevChannelID      string `json:"prev_channel_id"`
	NextChannelID      string `json:"next_channel_id"`
	PrevShortChannelID string `json:"prev_short_channel_id,omitempty"`
	NextShortChannelID string `json:"next_short_channel_id,omitempty"`
	PrevNodeID         string `json:"prev_node_id,omitempty"`
	NextNodeID         string `json:"next_node_id,omitempty"`
	// AmountInMsat is what the incoming HTLC paid us, AmountOutMsat what we paid the next hop;
	// FeeMsat the difference.
	AmountInMsat  uint64 `json:"amount_in_msat"`
	AmountOutMsat uint64 `json:"amount_out_msat"`
	FeeMsat       uint64 `json:"fee_msat"`
	// ClaimedOnChain: the next hop's preimage came from the chain.
	ClaimedOnChain bool `json:"claimed_on_chain,omitempty"`
}

// ForwardingHistoryResult lists forwards oldest first. The totals are over the forwards listed;
// TotalForwards counts every forward recorded.
type ForwardingHistoryResult struct {
	Forwards           []Forward `json:"forwards"`
	NumForwards        int       `json:"num_forwards"`
	TotalForwards      int       `json:"total_forwards"`
	TotalAmountInMsat  uint64    `json:"total_amount_in_msat"`
	TotalAmountOutMsat uint64    `json:"total_amount_out_msat"`
	TotalFeeMsat       uint64    `json:"total_fee_msat"`
}

// UpdateChanPolicyParams: ChannelID (a channel id, or a short channel id "BLOCKxTXxOUT") names one
// channel; empty updates every channel with a funding transaction. Each policy field given replaces
// the channel's; one absent keeps it; at least one must be given. TimeLockDelta must be positive.
type UpdateChanPolicyParams struct {
	ChannelID     string  `json:"channel_id"`
	BaseFeeMsat   *uint32 `json:"base_fee_msat"`
	FeeRatePPM    *uint32 `json:"fee_rate_ppm"`
	TimeLockDelta *uint16 `json:"time_lock_delta"`
}

// ChannelPolicy is our forwarding policy of one channel.
type ChannelPolicy struct {
	ChannelID      string `json:"channel_id"`
	ShortChannelID string `json:"short_channel_id,omitempty"`
	NodeID         string `json:"node_id"`
	BaseFeeMsat    uint32 `json:"base_fee_msat"`
	FeeRatePPM     uint32 `json:"fee_rate_ppm"`
	TimeLockDelta  uint16 `json:"time_lock_delta"`
}

// UpdateChanPolicyResult lists the channels updated with their policy now. A channel whose policy
// changed gets a new channel_update at once (broadcast if announced, else sent to the peer).
type UpdateChanPolicyResult struct {
	Updated []ChannelPolicy `json:"updated"`
}
