package channelmanager

import "github.com/lnkit/lnkit/lnwire"

// maxStashedMsgs bounds the peer messages a channel keeps while its signer has not answered
// (handleChannelMsg). A peer that sends more gets a warning and is disconnected; it sends the
// uncommitted ones again after channel_reestablish.
const maxStashedMsgs = 1000

// SignerUnblocked tells the manager that the signer may now answer what it answered
// keys.ErrSignerPending to before (LDK's signer_unblocked): for the channel channelID, or every channel
// when channelID is nil. Each such channel, in order: sends its channel_reestablish if it waited for our
// point; hands in again the peer messages it kept (handleChannelMsg); signs and sends the messages it
// held (commitment_signed, revoke_and_ack, funding_created, funding_signed) and what was queued behind
// them; and commits pending changes (a closing_signed that waited). Whatever the signer still does not
// answer stays held, in order, for the next call. It is safe to call at any time and from any
// goroutine; an asynchronous signer calls it (through the host) when an answer arrives.
func (cm *ChannelManager) SignerUnblocked(channelID *lnwire.ChannelID) {
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if channelID != nil && c.channelID != *channelID && c.temporaryID != *channelID {
				continue
			}
			cm.unblockChannel(ps, c)
		}
		ps.mu.Unlock()
	}
	cm.wake.Notify()
}

// unblockChannel retries what the channel's signer had not answered. The caller holds ps.mu.
func (cm *ChannelManager) unblockChannel(ps *peerState, c *channel) {
	if c.state == stateClosed {
		return
	}
	if c.reestablishWaiting && ps.connected {
		cm.reconnectChannel(ps, c)
		if c.reestablishWaiting {
			return
		}
	}
	cm.releaseHeld(c)
	cm.checkSignerRefusal(ps, c)
	if c.state == stateClosed {
		return
	}
	for len(c.stashedMsgs) > 0 && c.state != stateClosed {
		msg := c.stashedMsgs[0]
		eff, err := cm.transition(ps, c, msg)
		if signerPending(err) {
			cm.apply(ps, c, eff)
			break
		}
		c.stashedMsgs = c.stashedMsgs[1:]
		cm.apply(ps, c, eff)
		if err != nil {
			cm.log.Warn("channel message refused", "channel", c.id(), "type", msg.MsgType(), "err", err)
			cm.failChannel(ps, c, err)
			return
		}
		cm.afterChange(ps, c)
		cm.maybeGossip(ps, c)
	}
	if len(c.stashedMsgs) == 0 {
		c.stashedMsgs = nil
	}
	cm.afterChange(ps, c)
}
