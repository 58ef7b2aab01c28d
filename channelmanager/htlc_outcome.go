package channelmanager

import "github.com/lnkit/lnkit/lnwire"

// htlcFailure is how an HTLC we offered failed: the encrypted failure the next hop returned
// (update_fail_htlc's reason), or update_fail_malformed_htlc's failure_code and sha256_of_onion;
// neither when the HTLC timed out on chain or was never sent.
type htlcFailure struct {
	reason        []byte
	malformedCode uint16
	malformedSHA  [32]byte
	malformed     bool
}

// outgoingHTLC is what the outcome of an HTLC we offered says about the HTLC itself.
type outgoingHTLC struct {
	channelID  lnwire.ChannelID
	amountMsat uint64
	onChain    bool // the outcome was learned from the chain
}

// htlcFulfilled acts on the preimage of an HTLC we offered, learned off chain (update_fulfill_htlc)
// or on chain, by where the HTLC came from: our payment succeeds, or a forward is claimed back.
func (cm *ChannelManager) htlcFulfilled(src htlcSource, hash, preimage [32]byte, out outgoingHTLC) {
	switch s := src.(type) {
	case *pathSource:
		cm.paymentSucceeded(s, hash, preimage)
	case *prevHopSource:
		cm.forwardResolved(s, hash, out, &preimage, htlcFailure{})
	default:
		cm.log.Error("fulfilled HTLC without a known source", "hash", hash)
	}
}

// htlcFailed acts on the irrevocable failure of an HTLC we offered, by where it came from.
func (cm *ChannelManager) htlcFailed(src htlcSource, hash [32]byte, f htlcFailure, out outgoingHTLC) {
	switch s := src.(type) {
	case *pathSource:
		cm.pathFailed(s, hash, f)
	case *prevHopSource:
		cm.forwardResolved(s, hash, out, nil, f)
	default:
		cm.log.Error("failed HTLC without a known source", "hash", hash)
	}
}
