package channelmanager

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/lnwire"
)

// handleChannelUpdate learns the counterparty's forwarding parameters from its channel_update of one of
// our channels with it (LDK's handle_channel_update; BOLT 7: "SHOULD accept channel_updates for its own
// channels (even if non-public), in order to learn the associated origin nodes' forwarding
// parameters"). The PeerManager passes every channel_update a peer sends, gossip included: an update
// for another chain, for a channel we do not have with that peer (by short_channel_id or either side's alias), in our own
// direction (ours, relayed back) or not newer than the one kept is ignored at once; one that does not
// verify with the counterparty's node key gets a `warning` and a disconnection.
func (cm *ChannelManager) handleChannelUpdate(node *btcec.PublicKey, m *lnwire.ChannelUpdate) {
	if m.ChainHash != *cm.net.GenesisHash || m.ShortChannelID == (lnwire.ShortChannelID{}) {
		return
	}
	ps := cm.peer(node, false)
	if ps == nil {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var c *channel
	for _, ch := range ps.channels {
		if ch.funded() && ch.state != stateClosed && (ch.shortChannelID == m.ShortChannelID ||
			ch.gossip.theirAlias == m.ShortChannelID.ToUint64() || ch.outboundAlias() == m.ShortChannelID.ToUint64()) {
			c = ch
			break
		}
	}
	if c == nil {
		return
	}
	theirDirection := uint8(0)
	if c.weAreNode1(cm.ourNode) {
		theirDirection = 1
	}
	if m.Direction() != theirDirection {
		return
	}
	if info := c.gossip.counterpartyInfo; info != nil && m.Timestamp <= info.Timestamp {
		return
	}
	if !verifyGossipSig(c.counterparty, m.Signature, chainhash.DoubleHashB(m.DataToSign())) {
		cm.rejectGossip(c, fmt.Errorf("%w for %s", errUpdateSignature, m.ShortChannelID))
		return
	}
	c.gossip.counterpartyInfo = &CounterpartyForwardingInfo{FeeBaseMsat: m.FeeBaseMsat,
		FeeProportionalMillionths: m.FeeProportionalMillionths, CLTVExpiryDelta: m.CLTVExpiryDelta,
		HTLCMinimumMsat: m.HTLCMinimumMsat, HTLCMaximumMsat: m.HTLCMaximumMsat, Timestamp: m.Timestamp,
		Disabled: m.IsDisabled()}
	cm.markNeedsPersist()
}
