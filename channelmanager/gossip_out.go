package channelmanager

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// Timer ticks (TimerTickOccurred, about one a minute) that drive our channel_updates of public channels.
const (
	// DisableGossipTicks: a public channel whose peer has been away this many consecutive ticks gets a
	// channel_update with the `disable` bit (BOLT 7: "MAY create and send a channel_update with the
	// disable bit set to 1, to signal a channel's temporary unavailability (e.g. due to a loss of
	// connectivity)"), as LDK's DISABLE_GOSSIP_TICKS.
	DisableGossipTicks = 10
	// EnableGossipTicks: once the peer has been back this many consecutive ticks, a channel_update
	// without the bit follows (LDK's ENABLE_GOSSIP_TICKS). The delays keep a flapping connection from
	// producing an update each time.
	EnableGossipTicks = 5
	// RebroadcastTicks: every this many ticks (a day at one tick a minute) the channel_announcement and
	// a fresh channel_update of each public channel are broadcast again, so that the network, which
	// prunes channels without an update for two weeks (BOLT 7, "Pruning the Network View"), keeps
	// them; the first tick after Read does it too, for a routing handler started without our signed
	// messages.
	RebroadcastTicks = 24 * 60
)

// forwardingPolicy returns the channel's forwarding policy.
func (c *channel) forwardingPolicy(g *gossipCtx) forwardingPolicy {
	if c.gossip.policy != nil {
		return *c.gossip.policy
	}
	return g.defaults
}

// announcedHTLCMaxMsat is the htlc_maximum_msat of our channel_update: the largest HTLC we could send,
// at most the channel capacity less the reserve the counterparty asks of us, and at most the
// counterparty's max_htlc_value_in_flight_msat (BOLT 7), never below htlc_minimum_msat.
func (c *channel) announcedHTLCMaxMsat() uint64 {
	max := uint64(c.valueSat) * 1000
	if r := c.remote.ChannelReserveSat * 1000; r < max {
		max -= r
	}
	if c.remote.MaxHTLCValueInFlightMsat < max {
		max = c.remote.MaxHTLCValueInFlightMsat
	}
	if max < c.remote.HTLCMinimumMsat {
		max = c.remote.HTLCMinimumMsat
	}
	return max
}

// newChannelUpdate creates and signs our channel_update of the channel (BOLT 7, origin node
// requirements): our direction, our forwarding policy, the counterparty's htlc_minimum_msat, the
// `disable` bit as last broadcast, `dont_forward` for an update meant for the counterparty only, and a
// timestamp above the previous one: the newest block timestamp seen, or the previous one plus one.
func (c *channel) newChannelUpdate(g *gossipCtx, dontForward bool) (*lnwire.ChannelUpdate, error) {
	return c.newChannelUpdateAs(g, dontForward, c.shortChannelID)
}

// newChannelUpdateAs is newChannelUpdate naming the channel by scid (the real one or an alias).
func (c *channel) newChannelUpdateAs(g *gossipCtx, dontForward bool, scid lnwire.ShortChannelID) (*lnwire.ChannelUpdate, error) {
	pol := c.forwardingPolicy(g)
	u := &lnwire.ChannelUpdate{ChainHash: g.chain, ShortChannelID: scid,
		MessageFlags: lnwire.ChanUpdateMsgFlagMustBeOne, CLTVExpiryDelta: pol.CLTVExpiryDelta,
		HTLCMinimumMsat: c.remote.HTLCMinimumMsat, HTLCMaximumMsat: c.announcedHTLCMaxMsat(),
		FeeBaseMsat: pol.FeeBaseMsat, FeeProportionalMillionths: pol.FeeProportionalMillionths}
	if dontForward {
		u.MessageFlags |= lnwire.ChanUpdateMsgFlagDontForward
	}
	if !c.weAreNode1(g.ourNode) {
		u.ChannelFlags |= lnwire.ChanUpdateChanFlagDirection
	}
	if c.gossip.disabled {
		u.ChannelFlags |= lnwire.ChanUpdateChanFlagDisable
	}
	u.Timestamp = max(g.now, c.gossip.lastUpdateTS+1)
	sig, err := g.signer.SignGossipMessage(u.DataToSign())
	if err != nil {
		return nil, fmt.Errorf("signing channel_update with the node key: %w", err)
	}
	if u.Signature, err = lnwire.NewSigFromECDSA(sig); err != nil {
		return nil, err
	}
	c.gossip.lastUpdateTS = u.Timestamp
	return u, nil
}

// gossipDue returns the BOLT 7 messages the channel's state calls for, with the peer connected and
// re-established: the counterparty's deferred announcement_signatures checked; our channel_update to
// the counterparty (dont_forward) once the channel is ready and while it is not announced, so that it
// can build route hints (private channels) or route to us before the announcement; our
// announcement_signatures once mayAnnounce, once per connection (which also answers the peer's); and
// the channel_announcement with our channel_update, for broadcast, once both sides' signatures are
// there. An error from checking the peer's signatures is one of errAnnSigs*.
func (c *channel) gossipDue(g *gossipCtx) (effects, error) {
	var eff effects
	c.forgetStaleAnnouncement()
	if m := c.gossip.deferredSigs; m != nil && c.fundingConfHeight != 0 && c.ourChannelReadySent {
		c.gossip.deferredSigs = nil
		if err := c.checkAnnouncementSigs(m, g); err != nil {
			return eff, err
		}
	}
	if c.state == stateChannelReady && c.gossip.announcement == nil && !c.gossip.updateSentToPeer &&
		c.shortChannelID != (lnwire.ShortChannelID{}) {
		upd, err := c.newChannelUpdate(g, true)
		if err != nil {
			return eff, err
		}
		c.gossip.updateSentToPeer = true
		eff.send(upd)
	}
	if !c.mayAnnounce(g.height) {
		return eff, nil
	}
	if !c.gossip.annSigsSent {
		e, err := c.sendAnnouncementSigs(g)
		eff.merge(e)
		if err != nil {
			return eff, err
		}
	}
	if c.gossip.theirSigs != nil && c.gossip.announcement == nil {
		e, err := c.completeAnnouncement(g)
		eff.merge(e)
		if err != nil {
			return eff, err
		}
	}
	return eff, nil
}

// gossipMaybeDue is a cheap test of whether gossipDue may have something to do: it spares the messages
// of a channel with nothing due the cost of a gossipCtx.
func (c *channel) gossipMaybeDue() bool {
	g := &c.gossip
	return g.deferredSigs != nil || g.announcement == nil && (!g.updateSentToPeer || g.announce) ||
		g.announce && !g.annSigsSent
}

// maybeGossip applies what gossipDue returns for a channel whose peer is connected and re-established.
// It is called after each of the peer's messages about the channel and after each block. The caller
// holds ps.mu.
func (cm *ChannelManager) maybeGossip(ps *peerState, c *channel) {
	if c.state == stateClosed || !c.funded() || !ps.connected || !c.peerConnected || c.reestablishPending || !c.gossipMaybeDue() {
		return
	}
	before := c.gossip.lastUpdateTS
	announced := c.gossip.announcement != nil
	eff, err := c.gossipDue(cm.gossipCtx())
	cm.apply(ps, c, eff)
	if err != nil {
		cm.rejectGossip(c, err)
	}
	if c.gossip.lastUpdateTS != before || c.gossip.announcement != nil && !announced {
		cm.markNeedsPersist()
	}
	if c.gossip.announcement != nil && !announced {
		cm.log.Info("channel announced", "channel", c.channelID, "scid", c.shortChannelID)
	}
}

// rejectGossip answers a counterparty's invalid announcement_signatures (or channel_update) with a
// `warning` and a disconnection (BOLT 7); the channel is not failed. An error of our own (a signer's)
// is only logged.
func (cm *ChannelManager) rejectGossip(c *channel, err error) {
	if !errors.Is(err, errAnnSigsSCID) && !errors.Is(err, errAnnSigsSignature) && !errors.Is(err, errUpdateSignature) {
		cm.log.Error("cannot create the channel's gossip", "channel", c.channelID, "err", err)
		return
	}
	cm.log.Warn("invalid gossip from the channel's peer; disconnecting", "channel", c.channelID, "err", err)
	cm.queueMsgTo(c.counterparty, &lnwire.Warning{ChannelID: c.channelID, Data: []byte(err.Error())}, true)
}

// receiveAnnouncementSignatures handles the peer's announcement_signatures: kept once checked (or
// deferred); what it makes due (our own, the announcement) follows from maybeGossip. The caller holds
// ps.mu.
func (cm *ChannelManager) receiveAnnouncementSignatures(c *channel, m *lnwire.AnnouncementSignatures) {
	if err := c.receiveAnnouncementSigs(m, cm.gossipCtx()); err != nil {
		cm.rejectGossip(c, err)
		return
	}
	cm.markNeedsPersist()
}

// queueBroadcast queues our own gossip for every peer (a Broadcast MessageSendEvent).
func (cm *ChannelManager) queueBroadcast(msg lnwire.Message) {
	cm.queueMu.Lock()
	cm.pendingMsgs = append(cm.pendingMsgs, events.MessageSendEvent{Msg: msg, Broadcast: true})
	cm.queueMu.Unlock()
	cm.wake.Notify()
}

// gossipTimerTick runs the timer-driven part of our channel_updates of announced channels: the
// `disable` bit after DisableGossipTicks ticks with the peer away and its removal after
// EnableGossipTicks ticks with the peer back, and the rebroadcast every RebroadcastTicks.
func (cm *ChannelManager) gossipTimerTick() {
	var g *gossipCtx
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			c.forgetStaleAnnouncement()
			if c.gossip.announcement == nil || c.state == stateClosed {
				continue
			}
			if g == nil {
				g = cm.gossipCtx()
			}
			eff, err := c.gossipTick(g, ps.connected && c.peerConnected && !c.reestablishPending)
			cm.apply(ps, c, eff)
			if err != nil {
				cm.log.Error("cannot create the channel's gossip", "channel", c.channelID, "err", err)
			}
			if len(eff.gossip) > 0 {
				cm.markNeedsPersist()
			}
		}
		ps.mu.Unlock()
	}
}

// gossipTick advances an announced channel's tick counters (live: the peer is connected and
// re-established) and returns the channel_update (and, for a rebroadcast, the channel_announcement
// before it) they call for.
func (c *channel) gossipTick(g *gossipCtx, live bool) (effects, error) {
	s := &c.gossip
	s.ticksSinceBroadcast++
	changed := false
	if live {
		s.offTicks = 0
		if s.disabled {
			s.onTicks++
			if s.onTicks >= EnableGossipTicks {
				s.disabled, s.onTicks, changed = false, 0, true
			}
		}
	} else {
		s.onTicks = 0
		if !s.disabled {
			s.offTicks++
			if s.offTicks >= DisableGossipTicks {
				s.disabled, s.offTicks, changed = true, 0, true
			}
		}
	}
	rebroadcast := s.ticksSinceBroadcast >= RebroadcastTicks
	if !changed && !rebroadcast {
		return effects{}, nil
	}
	upd, err := c.newChannelUpdate(g, false)
	if err != nil {
		return effects{}, err
	}
	s.ticksSinceBroadcast = 0
	var eff effects
	if rebroadcast {
		eff.gossip = append(eff.gossip, s.announcement)
	}
	eff.gossip = append(eff.gossip, upd)
	return eff, nil
}

// UpdateChannelConfig sets the forwarding policy (ForwardingFeeBaseMsat,
// ForwardingFeeProportionalMillionths, CLTVExpiryDelta) of the given channels with counterparty, as
// LDK's update_channel_config. The other ChannelConfig fields remain the manager's (from New). Each
// channel whose policy changed gets a new channel_update at once: broadcast for an announced channel,
// sent to the counterparty for one not (yet) announced whose peer is connected. Errors:
// ErrAPIMisuse (CLTVExpiryDelta 0, no channel ids), ErrChannelUnavailable (an unknown or unfunded
// channel; then no channel is changed).
func (cm *ChannelManager) UpdateChannelConfig(counterparty *btcec.PublicKey, channelIDs []lnwire.ChannelID, cc config.ChannelConfig) error {
	if cc.CLTVExpiryDelta == 0 {
		return fmt.Errorf("%w: CLTVExpiryDelta must be positive", ErrAPIMisuse)
	}
	if len(channelIDs) == 0 {
		return fmt.Errorf("%w: no channel ids", ErrAPIMisuse)
	}
	ps := cm.peer(counterparty, false)
	if ps == nil {
		return fmt.Errorf("%w: no channels with peer %x", ErrChannelUnavailable, counterparty.SerializeCompressed())
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	chans := make([]*channel, 0, len(channelIDs))
	for _, id := range channelIDs {
		c := ps.channels[id]
		if c == nil || !c.funded() {
			return fmt.Errorf("%w: no funded channel %s with that peer", ErrChannelUnavailable, id)
		}
		chans = append(chans, c)
	}
	pol := policyFrom(&cc)
	g := cm.gossipCtx()
	for _, c := range chans {
		if c.gossip.policy != nil && *c.gossip.policy == pol {
			continue
		}
		p := pol
		c.gossip.policy = &p
		cm.markNeedsPersist()
		var eff effects
		switch {
		case c.state == stateClosed || c.shortChannelID == (lnwire.ShortChannelID{}):
		case c.gossip.announcement != nil:
			upd, err := c.newChannelUpdate(g, false)
			if err != nil {
				return err
			}
			c.gossip.ticksSinceBroadcast = 0
			eff.gossip = append(eff.gossip, upd)
		case c.state == stateChannelReady && ps.connected && c.peerConnected && !c.reestablishPending:
			upd, err := c.newChannelUpdate(g, true)
			if err != nil {
				return err
			}
			c.gossip.updateSentToPeer = true
			eff.send(upd)
		default:
			c.gossip.updateSentToPeer = false // the new policy goes to the peer after reestablish
		}
		cm.apply(ps, c, eff)
	}
	return nil
}
