package channelmanager

// htlcFailure is how an HTLC we offered failed: the encrypted failure the next hop returned
// (update_fail_htlc's reason), or update_fail_malformed_htlc's failure_code; neither when the HTLC
// timed out on chain or was never sent.
type htlcFailure struct {
	reason        []byte
	malformedCode uint16
	malformed     bool
}

// htlcFulfilled acts on the preimage of an HTLC we offered, learned off chain (update_fulfill_htlc)
// or on chain, by where the HTLC came from. Called without peer locks held or with the HTLC's own
// channel's peer lock.
func (cm *ChannelManager) htlcFulfilled(src htlcSource, hash, preimage [32]byte) {
	switch s := src.(type) {
	case *pathSource:
		cm.paymentSucceeded(s, hash, preimage)
	default:
		cm.log.Error("fulfilled HTLC without a known source", "hash", hash)
	}
}

// htlcFailed acts on the irrevocable failure of an HTLC we offered, by where it came from.
func (cm *ChannelManager) htlcFailed(src htlcSource, hash [32]byte, f htlcFailure) {
	switch s := src.(type) {
	case *pathSource:
		cm.pathFailed(s, hash, f)
	default:
		cm.log.Error("failed HTLC without a known source", "hash", hash)
	}
}
