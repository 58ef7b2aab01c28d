package channelmanager

import (
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// secretIndex maps a commitment number (counting up from 0) to its BOLT 3 per-commitment secret index.
func secretIndex(n uint64) uint64 { return keys.MaxCommitmentIndex - n }

// peerDisconnected forgets what the counterparty sent that no `commitment_signed` covered (BOLT 2,
// "Message Retransmission": a node MUST reverse any uncommitted updates sent by the other side). Our own
// uncommitted updates stay and are sent again after `channel_reestablish`.
func (c *channel) peerDisconnected() {
	c.peerConnected = false
	c.reestablishPending = true
	kept := c.htlcs[:0]
	for _, h := range c.htlcs {
		if h.Incoming && h.AddLocal == notYet {
			if h.ID < c.nextRemoteHTLCID {
				c.nextRemoteHTLCID = h.ID
			}
			continue
		}
		if !h.Incoming && h.Remove != removeNone && h.RemoveLocal == notYet {
			h.Remove, h.FailReason, h.FailCode = removeNone, nil, 0
		}
		kept = append(kept, h)
	}
	for i := len(kept); i < len(c.htlcs); i++ {
		c.htlcs[i] = nil
	}
	c.htlcs = kept
	keptFee := c.feeUpdates[:0]
	for _, u := range c.feeUpdates {
		if u.FromRemote && u.InLocal == notYet {
			continue
		}
		keptFee = append(keptFee, u)
	}
	c.feeUpdates = keptFee
	// A closing negotiation restarts from scratch after reconnecting.
	if c.state == stateNegotiatingClosing {
		c.state = stateShutdown
		c.closingFeeProposedSat = -1
	}
}

// reestablishMsg returns our `channel_reestablish` (BOLT 2).
func (c *channel) reestablishMsg() (*lnwire.ChannelReestablish, error) {
	m := &lnwire.ChannelReestablish{ChannelID: c.channelID, NextCommitmentNumber: c.localCommitNum + 1,
		NextRevocationNumber: c.remoteCommitNum}
	if c.remoteCommitNum > 0 {
		s, ok := c.remoteSecrets.GetSecret(secretIndex(c.remoteCommitNum - 1))
		if ok {
			m.YourLastPerCommitmentSecret = s
		}
	}
	p, err := c.signer.GetPerCommitmentPoint(c.localCommitNum)
	if err != nil {
		return nil, err
	}
	m.MyCurrentPerCommitmentPoint = p
	return m, nil
}

// peerReconnected returns what the channel sends when its peer connects: our `channel_reestablish` for
// a funded channel, which then waits for the peer's (BOLT 2, "Message Retransmission"), or the `error`
// a closed channel was failed with. Both leave at once (msgNow): channel_reestablish only reports our
// commitment numbers, and what the peer's answer makes us retransmit is held as usual.
func (c *channel) peerReconnected() (effects, error) {
	switch {
	case c.state == stateClosed:
		return c.errorAgain(), nil
	case !c.funded():
		return effects{}, nil
	}
	m, err := c.reestablishMsg()
	if err != nil {
		return effects{}, err
	}
	c.reestablishPending = true
	var eff effects
	eff.sendNow(m)
	return eff, nil
}

// errDataLoss is returned when the counterparty proves it has a newer state than ours: we must not
// broadcast our (revoked) commitment and wait for theirs to confirm.
type errDataLoss struct{ ChannelError }

// receiveReestablish checks the counterparty's `channel_reestablish` and returns the messages to
// retransmit, in their original order (BOLT 2, "Message Retransmission").
func (c *channel) receiveReestablish(m *lnwire.ChannelReestablish) (effects, error) {
	if !c.reestablishPending {
		return effects{}, c.warnErr("unexpected channel_reestablish")
	}
	// Their view of our chain: next_revocation_number is the commitment of ours whose revocation they
	// expect next; it must be localCommitNum, or localCommitNum-1 if our last revoke_and_ack was lost.
	// your_last_per_commitment_secret must be our secret for next_revocation_number-1: we can derive it at
	// any height, so a claim to be ahead is only believed with the right secret (BOLT 2, "option_data_loss_protect").
	// The secret is checked against our point for that commitment, so that no secret is released for it.
	if m.NextRevocationNumber > 0 {
		want, err := c.signer.GetPerCommitmentPoint(m.NextRevocationNumber - 1)
		if signerPending(err) {
			return effects{}, err
		}
		_, got := btcec.PrivKeyFromBytes(m.YourLastPerCommitmentSecret[:])
		if err != nil || m.YourLastPerCommitmentSecret == ([32]byte{}) || !got.IsEqual(want) {
			return effects{}, c.protoErr("channel_reestablish your_last_per_commitment_secret is wrong")
		}
	} else if m.YourLastPerCommitmentSecret != ([32]byte{}) {
		return effects{}, c.protoErr("channel_reestablish your_last_per_commitment_secret set before any revocation")
	}
	// Their next_commitment_number above anything we signed also means we lost data: broadcasting our
	// commitment could publish a revoked state.
	if m.NextRevocationNumber > c.localCommitNum || m.NextCommitmentNumber > c.remoteCommitNum+2 {
		// They proved they know a state newer than ours: we lost data. Never broadcast our commitment now.
		return effects{}, &errDataLoss{ChannelError{ChannelID: c.channelID, Close: true,
			Msg: "counterparty has a newer channel state than ours (we lost data); waiting for their commitment on chain"}}
	}
	var resendRAA, resendCommit bool
	switch m.NextRevocationNumber {
	case c.localCommitNum:
	case c.localCommitNum - 1:
		if c.localCommitNum == 0 {
			return effects{}, c.protoErr("channel_reestablish next_revocation_number %d invalid", m.NextRevocationNumber)
		}
		resendRAA = true
	default:
		return effects{}, c.protoErr("channel_reestablish next_revocation_number %d, ours is %d", m.NextRevocationNumber, c.localCommitNum)
	}
	switch {
	case m.NextCommitmentNumber == c.remoteCommitNum+1 && c.awaitingRAA:
		resendCommit = true // they never got our last commitment_signed
	case m.NextCommitmentNumber == c.remoteCommitNum+1:
	case m.NextCommitmentNumber == c.remoteCommitNum+2 && c.awaitingRAA:
	default:
		return effects{}, c.protoErr("channel_reestablish next_commitment_number %d, expected %d", m.NextCommitmentNumber, c.remoteCommitNum+1)
	}
	c.reestablishPending = false
	c.peerConnected = true

	var eff effects
	// channel_ready is retransmitted while no update happened yet.
	if m.NextCommitmentNumber == 1 && c.localCommitNum == 0 && c.ourChannelReadySent {
		if r, err := c.channelReadyMsg(); err == nil {
			eff.send(r)
		}
	}
	// revoke_and_ack and commitment_signed are signed when they leave (deferredMsg), in the order they
	// were first sent.
	var raa *deferredMsg
	if resendRAA {
		raa = &deferredMsg{kind: deferRevokeAndAck, num: c.localCommitNum}
	}
	var commit []lnwire.Message
	if resendCommit {
		commit = c.localUpdatesIn(c.remoteCommitNum + 1)
	}
	sendCommit := func() {
		for _, u := range commit {
			eff.send(u)
		}
		if !resendCommit {
			return
		}
		if c.lastCommitSigned != nil {
			eff.send(c.lastCommitSigned)
		} else {
			eff.sendDeferred(&deferredMsg{kind: deferCommitmentSigned, num: c.remoteCommitNum + 1, point: c.remoteNextPoint})
		}
	}
	if raa != nil && (!resendCommit || c.lastRAASeq < c.lastCommitSeq) {
		eff.sendDeferred(raa)
		sendCommit()
	} else {
		sendCommit()
		if raa != nil {
			eff.sendDeferred(raa)
		}
	}
	// Our updates that no commitment_signed covered go again; a new commitment_signed follows.
	for _, u := range c.localUpdatesIn(notYet) {
		eff.send(u)
	}
	if c.shutdownSent {
		eff.send(&lnwire.Shutdown{ChannelID: c.channelID, ScriptPubKey: c.localShutdownScript})
	}
	return eff, nil
}

// localUpdatesIn regenerates, in their original order, the update messages we sent whose remote-chain
// height is h (notYet: not yet covered by any commitment_signed).
func (c *channel) localUpdatesIn(h uint64) []lnwire.Message {
	type seqMsg struct {
		seq uint64
		msg lnwire.Message
	}
	var list []seqMsg
	for _, x := range c.htlcs {
		if !x.Incoming && x.AddRemote == h {
			list = append(list, seqMsg{x.AddSeq, c.addMsg(x)})
		}
		if x.Incoming && x.Remove != removeNone && x.RemoveRemote == h {
			list = append(list, seqMsg{x.RemoveSeq, c.removeMsg(x)})
		}
	}
	for _, u := range c.feeUpdates {
		if !u.FromRemote && u.InRemote == h {
			list = append(list, seqMsg{u.Seq, &lnwire.UpdateFee{ChannelID: c.channelID, FeeratePerKw: u.FeeratePerKw}})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	out := make([]lnwire.Message, len(list))
	for i, x := range list {
		out[i] = x.msg
	}
	return out
}
