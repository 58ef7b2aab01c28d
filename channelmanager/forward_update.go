package channelmanager

import "github.com/lnkit/lnkit/lnwire"

// failureChannelUpdate is our channel_update for c, named scid, as a failure message encloses it (BOLT 4: with its
// type prefix), nil if c has no short_channel_id yet or it cannot be signed. It is a fresh update
// (newChannelUpdate: the channel's forwarding policy, a timestamp above the previous one), with the
// disable bit when c cannot forward now, and dont_forward for a channel that is not public. The caller
// holds c's peer lock.
func (cm *ChannelManager) failureChannelUpdate(c *channel, scid lnwire.ShortChannelID) []byte {
	if c.shortChannelID == (lnwire.ShortChannelID{}) {
		return nil
	}
	g := cm.gossipCtx()
	disabled := c.gossip.disabled
	c.gossip.disabled = disabled || !c.isUsable()
	upd, err := c.newChannelUpdateAs(g, !c.gossip.announce, scid)
	c.gossip.disabled = disabled
	if err != nil {
		cm.log.Error("cannot sign a channel_update", "channel", c.channelID, "err", err)
		return nil
	}
	b, err := lnwire.EncodeMessage(upd)
	if err != nil {
		return nil
	}
	return b
}
