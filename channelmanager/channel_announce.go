package channelmanager

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// AnnouncementDepth is the number of confirmations of the funding transaction before a public channel's
// `announcement_signatures` may be sent (BOLT 7, "The announcement_signatures Message": "at least six
// confirmations").
const AnnouncementDepth = 6

// Errors about a counterparty's `announcement_signatures` or `channel_update`. The peer gets a `warning`
// carrying the text and is disconnected (BOLT 7: "SHOULD send a warning and close the connection");
// the channel itself is not failed. They are logged, and errors.Is-able for tests.
var (
	errAnnSigsSCID      = errors.New("announcement_signatures for another short_channel_id")
	errAnnSigsSignature = errors.New("announcement_signatures with an invalid signature")
	errUpdateSignature  = errors.New("channel_update with an invalid signature")
)

// forwardingPolicy is what our channel_update of a channel announces (BOLT 7, "The channel_update
// Message"): the fees we charge and the CLTV delta we require to forward an HTLC over the channel.
type forwardingPolicy struct {
	FeeBaseMsat               uint32 // msat per forwarded HTLC
	FeeProportionalMillionths uint32 // millionths of the forwarded amount
	CLTVExpiryDelta           uint16 // blocks
}

func policyFrom(cc *config.ChannelConfig) forwardingPolicy {
	return forwardingPolicy{FeeBaseMsat: cc.ForwardingFeeBaseMsat,
		FeeProportionalMillionths: cc.ForwardingFeeProportionalMillionths, CLTVExpiryDelta: cc.CLTVExpiryDelta}
}

// CounterpartyForwardingInfo is what the counterparty's latest `channel_update` of a channel says about
// forwarding over it towards us (LDK's CounterpartyForwardingInfo): what a route hint for the channel
// in an invoice carries (BOLT 11, `r` field), or what a payment through the counterparty and the
// channel pays.
type CounterpartyForwardingInfo struct {
	// FeeBaseMsat is the counterparty's base fee per HTLC forwarded over the channel, in msat.
	FeeBaseMsat uint32
	// FeeProportionalMillionths is its proportional fee, in millionths of the forwarded amount.
	FeeProportionalMillionths uint32
	// CLTVExpiryDelta is the number of blocks it subtracts from the incoming HTLC's cltv_expiry.
	CLTVExpiryDelta uint16
	// HTLCMinimumMsat and HTLCMaximumMsat bound the HTLCs it forwards over the channel, in msat.
	HTLCMinimumMsat uint64
	HTLCMaximumMsat uint64
	// Timestamp is the update's timestamp (seconds, as the counterparty set it).
	Timestamp uint32
	// Disabled is the update's `disable` bit.
	Disabled bool
}

// annSigs are one side's two signatures of a channel_announcement, for the short_channel_id they sign.
type annSigs struct {
	scid          lnwire.ShortChannelID
	node, bitcoin lnwire.Sig
}

// gossipState is a channel's BOLT 7 state. The first group is persisted (serialize_gossip.go); the
// rest lasts for one connection or one run.
type gossipState struct {
	// announce is the `announce_channel` bit of the channel's `open_channel`: the channel is public.
	announce bool
	// policy is our forwarding policy for the channel, set from the ChannelConfig the channel was
	// opened or accepted with and changed by UpdateChannelConfig; nil (a channel of an older snapshot)
	// means the manager's ChannelConfig.
	policy *forwardingPolicy
	// theirSigs are the counterparty's announcement_signatures, checked.
	theirSigs *annSigs
	// announcement is the complete channel_announcement, once both sides' signatures are exchanged.
	announcement *lnwire.ChannelAnnouncement
	// lastUpdateTS is the timestamp of the last channel_update we created (each next one is greater).
	lastUpdateTS uint32
	// disabled: our last broadcast channel_update had the `disable` bit (the peer was away).
	disabled bool
	// counterpartyInfo is the counterparty's latest channel_update of the channel.
	counterpartyInfo *CounterpartyForwardingInfo
	// theirAlias is the scid alias the counterparty gave in its channel_ready (BOLT 2, the
	// `short_channel_id` TLV), 0 if none: what it recognizes when forwarding to us (route hints).
	theirAlias uint64
	// scidPrivacy: the channel_type has option_scid_alias (BOLT 2): the channel is private, the real
	// short_channel_id is never accepted for incoming HTLCs, and nothing we send a third party names it.
	scidPrivacy bool

	// annSigsSent: our announcement_signatures went out on this connection.
	annSigsSent bool
	// deferredSigs is the counterparty's announcement_signatures received before we could check it (our
	// funding confirmation or channel_ready not yet there; BOLT 7: "MAY defer").
	deferredSigs *lnwire.AnnouncementSignatures
	// updateSentToPeer: our channel_update went to the counterparty directly on this connection.
	updateSentToPeer bool
	// offTicks / onTicks count consecutive timer ticks with the peer away / back, towards
	// DisableGossipTicks / EnableGossipTicks; ticksSinceBroadcast counts towards RebroadcastTicks.
	offTicks, onTicks, ticksSinceBroadcast uint32
}

// newGossipState is the BOLT 7 state of a new channel: public if announce, with cc's forwarding policy.
func newGossipState(announce bool, cc *config.ChannelConfig) gossipState {
	p := policyFrom(cc)
	return gossipState{announce: announce, policy: &p}
}

// channelFlags is the `channel_flags` of our `open_channel` (BOLT 2): announce_channel in bit 0.
func (g *gossipState) channelFlags() uint8 {
	if g.announce {
		return lnwire.ChannelFlagAnnounceChannel
	}
	return 0
}

// peerDisconnected forgets what was sent on the connection: announcement_signatures and our direct
// channel_update go out again after the next channel_reestablish (BOLT 7: "upon reconnection ... SHOULD
// retransmit").
func (g *gossipState) peerDisconnected() {
	g.annSigsSent, g.updateSentToPeer, g.deferredSigs = false, false, nil
}

// gossipCtx is what the channel's BOLT 7 methods need from the manager.
type gossipCtx struct {
	chain   chainhash.Hash
	ourNode *btcec.PublicKey
	signer  keys.NodeSigner
	height  uint32
	// now is the timestamp base of new channel_updates: the newest block timestamp seen (seconds).
	now      uint32
	defaults forwardingPolicy
}

// gossipCtx gathers the manager's part of a gossipCtx. The caller may hold a peer lock.
func (cm *ChannelManager) gossipCtx() *gossipCtx {
	cm.mu.Lock()
	h, t := cm.bestBlock.Height, cm.highestBlockTime
	cm.mu.Unlock()
	return &gossipCtx{chain: *cm.net.GenesisHash, ourNode: cm.ourNode, signer: cm.keys, height: h, now: t,
		defaults: policyFrom(&cm.cfg.ChannelConfig)}
}

// weAreNode1 says whether our node id is node_id_1 of the channel's announcement: the lesser of the
// two compressed keys (BOLT 7). It also gives the direction bit of channel_updates: ours is 0 if so.
func (c *channel) weAreNode1(ourNode *btcec.PublicKey) bool {
	return bytes.Compare(ourNode.SerializeCompressed(), c.counterparty.SerializeCompressed()) < 0
}

// announcementDepthReached says whether the funding transaction has AnnouncementDepth confirmations at
// height.
func (c *channel) announcementDepthReached(height uint32) bool {
	return c.fundingConfHeight != 0 && height+1 >= c.fundingConfHeight+AnnouncementDepth
}

// mayAnnounce applies BOLT 7's timing for announcement_signatures: a public channel, channel_ready sent
// and received, no shutdown sent, and the funding transaction AnnouncementDepth deep.
func (c *channel) mayAnnounce(height uint32) bool {
	return c.gossip.announce && c.state == stateChannelReady && c.ourChannelReadySent && c.theirChannelReadyRcvd &&
		!c.shutdownSent && c.shortChannelID != (lnwire.ShortChannelID{}) && c.announcementDepthReached(height)
}

// unsignedAnnouncement is the channel's channel_announcement without its signatures: node ids in
// ascending order, each node's funding key in the same position, no channel features (BOLT 7; none of
// the features lnkit negotiates is a channel feature of BOLT 9).
func (c *channel) unsignedAnnouncement(g *gossipCtx) *lnwire.ChannelAnnouncement {
	ann := &lnwire.ChannelAnnouncement{Features: lnwire.NewFeatureVector(), ChainHash: g.chain, ShortChannelID: c.shortChannelID}
	if c.weAreNode1(g.ourNode) {
		ann.NodeID1, ann.NodeID2 = g.ourNode, c.counterparty
		ann.BitcoinKey1, ann.BitcoinKey2 = c.local.Pubkeys.FundingPubkey, c.remote.Pubkeys.FundingPubkey
	} else {
		ann.NodeID1, ann.NodeID2 = c.counterparty, g.ourNode
		ann.BitcoinKey1, ann.BitcoinKey2 = c.remote.Pubkeys.FundingPubkey, c.local.Pubkeys.FundingPubkey
	}
	return ann
}

// ourAnnouncementSigs signs ann with the node key and our funding key. Both signatures are
// deterministic (RFC 6979), so signing again gives the same ones.
func (c *channel) ourAnnouncementSigs(g *gossipCtx, ann *lnwire.ChannelAnnouncement) (annSigs, error) {
	data := ann.DataToSign()
	if data == nil {
		return annSigs{}, fmt.Errorf("channel_announcement of %s does not encode", c.shortChannelID)
	}
	nodeSig, err := g.signer.SignGossipMessage(data)
	if err != nil {
		return annSigs{}, fmt.Errorf("signing channel_announcement with the node key: %w", err)
	}
	btcSig, err := c.signer.SignChannelAnnouncementWithFundingKey(data)
	if err != nil {
		return annSigs{}, fmt.Errorf("signing channel_announcement with the funding key: %w", err)
	}
	out := annSigs{scid: ann.ShortChannelID}
	if out.node, err = lnwire.NewSigFromECDSA(nodeSig); err != nil {
		return annSigs{}, err
	}
	if out.bitcoin, err = lnwire.NewSigFromECDSA(btcSig); err != nil {
		return annSigs{}, err
	}
	return out, nil
}

// sendAnnouncementSigs returns our announcement_signatures (BOLT 7).
func (c *channel) sendAnnouncementSigs(g *gossipCtx) (effects, error) {
	ours, err := c.ourAnnouncementSigs(g, c.unsignedAnnouncement(g))
	if err != nil {
		return effects{}, err
	}
	c.gossip.annSigsSent = true
	var eff effects
	eff.send(&lnwire.AnnouncementSignatures{ChannelID: c.channelID, ShortChannelID: c.shortChannelID,
		NodeSignature: ours.node, BitcoinSignature: ours.bitcoin})
	return eff, nil
}

// receiveAnnouncementSigs takes the counterparty's announcement_signatures (BOLT 7, recipient
// requirements). Before our funding confirmation and channel_ready it is kept, unchecked, until
// gossipDue can check it; a private channel's is ignored. Errors (the peer is warned and disconnected):
// errAnnSigsSCID, errAnnSigsSignature.
func (c *channel) receiveAnnouncementSigs(m *lnwire.AnnouncementSignatures, g *gossipCtx) error {
	switch {
	case !c.gossip.announce:
		return nil // we never agreed to announce it: nothing to do with the signatures
	case c.fundingConfHeight == 0 || !c.ourChannelReadySent:
		c.gossip.deferredSigs = m
		return nil
	}
	return c.checkAnnouncementSigs(m, g)
}

// checkAnnouncementSigs verifies the counterparty's signatures against the channel_announcement we
// would build and keeps them.
func (c *channel) checkAnnouncementSigs(m *lnwire.AnnouncementSignatures, g *gossipCtx) error {
	if m.ShortChannelID != c.shortChannelID {
		return fmt.Errorf("%w: %s, ours is %s", errAnnSigsSCID, m.ShortChannelID, c.shortChannelID)
	}
	hash := chainhash.DoubleHashB(c.unsignedAnnouncement(g).DataToSign())
	if !verifyGossipSig(c.counterparty, m.NodeSignature, hash) || !verifyGossipSig(c.remote.Pubkeys.FundingPubkey, m.BitcoinSignature, hash) {
		return fmt.Errorf("%w for %s", errAnnSigsSignature, m.ShortChannelID)
	}
	c.gossip.theirSigs = &annSigs{scid: m.ShortChannelID, node: m.NodeSignature, bitcoin: m.BitcoinSignature}
	return nil
}

// verifyGossipSig checks a BOLT 7 signature: sig over the double-SHA256 hash with pub.
func verifyGossipSig(pub *btcec.PublicKey, sig lnwire.Sig, hash []byte) bool {
	s, err := sig.ToSignature()
	return err == nil && pub != nil && s.Verify(hash, pub)
}

// completeAnnouncement builds the channel_announcement from both sides' signatures, keeps it, and
// returns it for broadcast with our first public channel_update.
func (c *channel) completeAnnouncement(g *gossipCtx) (effects, error) {
	ann := c.unsignedAnnouncement(g)
	ours, err := c.ourAnnouncementSigs(g, ann)
	if err != nil {
		return effects{}, err
	}
	theirs := c.gossip.theirSigs
	if c.weAreNode1(g.ourNode) {
		ann.NodeSignature1, ann.BitcoinSignature1 = ours.node, ours.bitcoin
		ann.NodeSignature2, ann.BitcoinSignature2 = theirs.node, theirs.bitcoin
	} else {
		ann.NodeSignature1, ann.BitcoinSignature1 = theirs.node, theirs.bitcoin
		ann.NodeSignature2, ann.BitcoinSignature2 = ours.node, ours.bitcoin
	}
	upd, err := c.newChannelUpdate(g, false)
	if err != nil {
		return effects{}, err
	}
	c.gossip.announcement = ann
	c.gossip.ticksSinceBroadcast = 0
	return effects{gossip: []lnwire.Message{ann, upd}}, nil
}

// forgetStaleAnnouncement drops signatures and an announcement made for a short_channel_id the funding
// transaction no longer has (a reorganization moved it to another block): they are signed again for
// the new one.
func (c *channel) forgetStaleAnnouncement() {
	scid := c.shortChannelID
	if scid == (lnwire.ShortChannelID{}) {
		return
	}
	if s := c.gossip.theirSigs; s != nil && s.scid != scid {
		c.gossip.theirSigs = nil
	}
	if a := c.gossip.announcement; a != nil && a.ShortChannelID != scid {
		c.gossip.announcement, c.gossip.annSigsSent = nil, false
	}
}

// gossipDetails fills the ChannelDetails fields about announcement, forwarding and HTLC limits; def is
// the manager's forwarding policy.
func (c *channel) gossipDetails(d *ChannelDetails, def forwardingPolicy) {
	d.IsPublic, d.IsAnnounced = c.gossip.announce, c.gossip.announcement != nil
	if info := c.gossip.counterpartyInfo; info != nil {
		cp := *info
		d.CounterpartyForwardingInfo = &cp
	}
	d.CounterpartyOutboundHTLCMinimumMsat = c.remote.HTLCMinimumMsat
	d.InboundHTLCMinimumMsat = c.local.HTLCMinimumMsat
	if c.funded() {
		d.OutboundSCIDAlias = lnwire.NewShortChannelIDFromUint64(c.outboundAlias())
	}
	d.InboundSCIDAlias = lnwire.NewShortChannelIDFromUint64(c.gossip.theirAlias)
	pol := def
	if c.gossip.policy != nil {
		pol = *c.gossip.policy
	}
	d.ForwardingFeeBaseMsat, d.ForwardingFeeProportionalMillionths, d.CLTVExpiryDelta = pol.FeeBaseMsat, pol.FeeProportionalMillionths, pol.CLTVExpiryDelta
	if c.funded() {
		d.HTLCMaximumMsat = c.announcedHTLCMaxMsat()
	}
	if d.IsUsable {
		limit := d.OutboundCapacityMsat
		var inFlight uint64
		for _, h := range c.projectedView(false).htlcs {
			if !h.Incoming {
				inFlight += h.AmountMsat
			}
		}
		room := uint64(0)
		if c.remote.MaxHTLCValueInFlightMsat > inFlight {
			room = c.remote.MaxHTLCValueInFlightMsat - inFlight
		}
		d.NextOutboundHTLCLimitMsat = min(limit, room)
	}
}
