package channelmanager

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// isAcceptableShutdownScript says whether a `shutdown` scriptpubkey has one of the forms BOLT 2 allows:
// P2PKH, P2SH, P2WPKH, P2WSH, and (with option_shutdown_anysegwit) any witness program v1-v16 of 2 to 40
// bytes.
func isAcceptableShutdownScript(s []byte, anySegwit bool) bool {
	switch {
	case len(s) == 25 && s[0] == txscript.OP_DUP && s[1] == txscript.OP_HASH160 && s[2] == 20 &&
		s[23] == txscript.OP_EQUALVERIFY && s[24] == txscript.OP_CHECKSIG:
		return true
	case len(s) == 23 && s[0] == txscript.OP_HASH160 && s[1] == 20 && s[22] == txscript.OP_EQUAL:
		return true
	case len(s) == 22 && s[0] == txscript.OP_0 && s[1] == 20:
		return true
	case len(s) == 34 && s[0] == txscript.OP_0 && s[1] == 32:
		return true
	case anySegwit && len(s) >= 4 && len(s) <= 42 && s[0] >= txscript.OP_1 && s[0] <= txscript.OP_16 && int(s[1]) == len(s)-2 && s[1] >= 2 && s[1] <= 40:
		return true
	}
	return false
}

// shutdownMsg returns our `shutdown` and marks it sent (BOLT 2, "Closing Initiation: shutdown").
func (c *channel) shutdownMsg() *lnwire.Shutdown {
	c.shutdownSent = true
	if c.state == stateChannelReady {
		c.state = stateShutdown
	}
	return &lnwire.Shutdown{ChannelID: c.channelID, ScriptPubKey: c.localShutdownScript}
}

// receiveShutdown records the counterparty's `shutdown`. If we have not sent ours, it is due once our
// pending updates are committed (flush).
func (c *channel) receiveShutdown(m *lnwire.Shutdown, anySegwit bool) error {
	if c.state != stateChannelReady && c.state != stateShutdown && c.state != stateAwaitingChannelReady {
		return c.protoErr("unexpected shutdown in state %s", c.state)
	}
	if !isAcceptableShutdownScript(m.ScriptPubKey, anySegwit) {
		return c.warnErr("shutdown scriptpubkey is not an accepted form")
	}
	if len(c.remote.UpfrontShutdownScript) > 0 && !bytes.Equal(c.remote.UpfrontShutdownScript, m.ScriptPubKey) {
		return c.protoErr("shutdown scriptpubkey differs from upfront_shutdown_script")
	}
	if c.shutdownRcvd && !bytes.Equal(c.remoteShutdownScript, m.ScriptPubKey) {
		return c.protoErr("shutdown scriptpubkey changed")
	}
	// Their uncommitted updates must be committed before shutdown (BOLT 2: a sender MUST NOT send
	// shutdown with pending updates); we reject shutdown arriving with their updates not yet signed.
	c.shutdownRcvd = true
	c.remoteShutdownScript = append([]byte(nil), m.ScriptPubKey...)
	if c.state == stateChannelReady || c.state == stateAwaitingChannelReady {
		c.state = stateShutdown
	}
	if !c.shutdownSent {
		c.shutdownReplyPending = true
	}
	return nil
}

// sendShutdown returns our `shutdown`, after the step that gives the monitor our closing script (so it
// can report the closing output as ours).
func (c *channel) sendShutdown() effects {
	c.shutdownReplyPending = false
	var eff effects
	eff.update(channelmonitor.ShutdownScript{Script: c.localShutdownScript})
	eff.send(c.shutdownMsg())
	return eff
}

// readyToNegotiateClosing says whether both `shutdown`s are exchanged and no HTLC or update is left on
// either commitment (BOLT 2, "Closing Negotiation").
func (c *channel) readyToNegotiateClosing() bool {
	if c.state != stateShutdown || !c.shutdownSent || !c.shutdownRcvd || c.awaitingRAA {
		return false
	}
	if len(c.htlcs) > 0 || len(c.feeUpdates) > 0 || c.hasChangesFor(true) || c.hasChangesFor(false) {
		return false
	}
	return true
}

// closingBalancesSat returns our and their final balances in sat before the fee.
func (c *channel) closingBalancesSat() (ours, theirs int64) {
	return int64(c.baseLocalMsat / 1000), int64(c.baseRemoteMsat / 1000)
}

// closingTx builds the closing transaction paying fee (taken from the funder), trimming outputs below
// dustSat.
func (c *channel) closingTx(feeSat int64, dustSat int64) *wire.MsgTx {
	ours, theirs := c.closingBalancesSat()
	if c.outbound {
		ours -= feeSat
	} else {
		theirs -= feeSat
	}
	return bolt3.BuildClosingTx(c.fundingOutPoint, c.localShutdownScript, ours, c.remoteShutdownScript, theirs, dustSat)
}

// forceCloseCostSat is what broadcasting our current commitment would cost the funder: the fee it
// pays at its feerate with its untrimmed HTLCs, plus the anchor outputs.
func (c *channel) forceCloseCostSat() int64 {
	v := c.viewAt(true, c.localCommitNum)
	return int64(c.funderFeeMsat(v, c.local.DustLimitSat, true, v.feeratePerKw, 0) / 1000)
}

// closingFeeRange returns the fee range, in sat, we accept for the closing transaction at feerate, and
// the fee we propose. As funder we pay it: at most what a force close would cost us plus
// forceCloseAvoidanceSat (ChannelConfig.ForceCloseAvoidanceMaxFeeSat), never more than our balance.
// As fundee we pay nothing, so any fee the funder can pay is fine with us.
func (c *channel) closingFeeRange(feeratePerKw uint32, forceCloseAvoidanceSat uint64) (minFee, maxFee, proposed int64) {
	w := bolt3.ClosingTxWeight(c.localShutdownScript, c.remoteShutdownScript)
	proposed = w * int64(feeratePerKw) / 1000
	minFee = max(proposed/2, w*253/1000)
	ours, theirs := c.closingBalancesSat()
	maxFee = theirs
	if c.outbound {
		maxFee = min(ours, c.forceCloseCostSat()+int64(forceCloseAvoidanceSat))
	}
	proposed = min(proposed, maxFee)
	minFee = min(minFee, proposed)
	return minFee, maxFee, proposed
}

// signClosing signs the closing transaction with fee feeSat trimmed at dustSat and returns the message.
// It changes nothing: the caller records the fee as proposed once the message is to leave.
func (c *channel) signClosing(feeSat, minFee, maxFee, dustSat int64) (*lnwire.ClosingSigned, error) {
	sig, err := c.signer.SignClosingTransaction(c.closingRequest(c.closingTx(feeSat, dustSat)))
	if err != nil {
		return nil, err
	}
	s, err := lnwire.NewSigFromECDSA(sig)
	if err != nil {
		return nil, err
	}
	m := &lnwire.ClosingSigned{ChannelID: c.channelID, FeeSatoshis: btcutil.Amount(feeSat), Signature: s,
		FeeRange: &lnwire.FeeRange{MinFeeSatoshis: btcutil.Amount(minFee), MaxFeeSatoshis: btcutil.Amount(maxFee)}}
	return m, nil
}

// closingRequest describes a closing transaction for the signer.
func (c *channel) closingRequest(tx *wire.MsgTx) *keys.ClosingTx {
	req := &keys.ClosingTx{HolderScript: c.localShutdownScript, CounterpartyScript: c.remoteShutdownScript, Tx: tx}
	for _, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, c.localShutdownScript) {
			req.ToHolderSat = o.Value
		} else {
			req.ToCounterpartySat = o.Value
		}
	}
	return req
}

// closingFees is what the closing negotiation needs from the manager: the feerate we propose at (sat
// per 1000 weight) and ChannelConfig.ForceCloseAvoidanceMaxFeeSat.
type closingFees struct {
	feeratePerKw           uint32
	forceCloseAvoidanceSat uint64
}

// startClosingNegotiation starts `closing_signed` negotiation; the funder proposes first.
// If the signer has not answered (keys.ErrSignerPending), nothing changed and the next flush tries again.
func (c *channel) startClosingNegotiation(f closingFees) (effects, error) {
	if !c.outbound {
		c.state = stateNegotiatingClosing
		return effects{}, nil
	}
	minFee, maxFee, fee := c.closingFeeRange(f.feeratePerKw, f.forceCloseAvoidanceSat)
	msg, err := c.signClosing(fee, minFee, maxFee, int64(c.local.DustLimitSat))
	if err != nil {
		return effects{}, err
	}
	c.state = stateNegotiatingClosing
	c.closingFeeProposedSat = fee
	var eff effects
	eff.send(msg)
	return eff, nil
}

// receiveClosingSigned handles the counterparty's `closing_signed` (BOLT 2, "Closing Negotiation"): our
// reply, if any, and, once both sides signed the same fee, the fully signed closing transaction for the
// monitor (which rebroadcasts it until it confirms) and the broadcaster, and the channel's cooperative
// close.
func (c *channel) receiveClosingSigned(m *lnwire.ClosingSigned, f closingFees) (effects, error) {
	var eff effects
	reply, tx, err := c.answerClosingSigned(m, f)
	if err != nil {
		return eff, err
	}
	if reply != nil {
		c.closingFeeProposedSat = int64(reply.FeeSatoshis)
		eff.send(reply)
	}
	if tx != nil {
		eff.update(channelmonitor.ClosingTransaction{Tx: tx})
		eff.broadcast(tx)
		eff.closing = &closure{events.CooperativeClosure, "cooperative close", false}
	}
	return eff, nil
}

// answerClosingSigned returns our reply to the counterparty's `closing_signed`, if any, and, once both
// sides signed the same fee, the fully signed closing transaction. A fee above our bound (closingFeeRange) is never signed: we counter-propose within our
// range and, when no counter-proposal is left (the fee_ranges do not overlap, or our legacy
// counter-proposal already reached the bound), answer with a warning; the channel stays open, for a
// new negotiation after reconnecting or the user's force close.
func (c *channel) answerClosingSigned(m *lnwire.ClosingSigned, f closingFees) (*lnwire.ClosingSigned, *wire.MsgTx, error) {
	if c.state == stateShutdown && c.readyToNegotiateClosing() {
		c.state = stateNegotiatingClosing
	}
	if c.state != stateNegotiatingClosing {
		return nil, nil, c.protoErr("unexpected closing_signed in state %s", c.state)
	}
	fee := int64(m.FeeSatoshis)
	minFee, maxFee, proposed := c.closingFeeRange(f.feeratePerKw, f.forceCloseAvoidanceSat)
	ours, theirs := c.closingBalancesSat()
	switch {
	case !c.outbound && fee > theirs:
		return nil, nil, c.protoErr("closing_signed fee %d sat exceeds the funder's balance", fee)
	case c.outbound && fee > ours:
		return nil, nil, c.warnErr("closing_signed fee %d sat above our maximum %d sat", fee, maxFee)
	}
	tx, dust, err := c.checkClosingSig(m, fee)
	if err != nil {
		return nil, nil, err
	}
	if fee != c.closingFeeProposedSat && (fee < minFee || fee > maxFee) {
		return c.counterClosingFee(m, tx, closingRange{minFee, maxFee, proposed}, dust)
	}
	var reply *lnwire.ClosingSigned
	if fee != c.closingFeeProposedSat {
		// Within our range: echo it, which ends the negotiation.
		if reply, err = c.signClosing(fee, minFee, maxFee, dust); err != nil {
			return nil, nil, err
		}
	}
	if err := c.completeClosingTx(tx, m); err != nil {
		return nil, nil, err
	}
	return reply, tx, nil
}

// checkClosingSig builds the closing transaction paying fee and checks the counterparty's signature on
// it. The signer trims at its own dust limit: either variant is accepted (BOLT 3, "Closing
// Transaction").
func (c *channel) checkClosingSig(m *lnwire.ClosingSigned, fee int64) (*wire.MsgTx, int64, error) {
	for _, d := range []int64{int64(c.remote.DustLimitSat), int64(c.local.DustLimitSat)} {
		t := c.closingTx(fee, d)
		if verifySig(t, c.fundingScript, c.valueSat, m.Signature, c.remote.Pubkeys.FundingPubkey, txscript.SigHashAll) {
			return t, d, nil
		}
	}
	return nil, 0, c.warnErr("closing_signed signature is invalid")
}

// counterClosingFee answers a fee outside our range: with fee_range, our counter-proposal in the
// overlap of both ranges; in legacy negotiation, halfway towards their fee, capped at our maximum. A fee
// we cannot move towards any more is agreed to when it is within our maximum, refused with a warning
// otherwise.
func (c *channel) counterClosingFee(m *lnwire.ClosingSigned, tx *wire.MsgTx, r closingRange, dust int64) (*lnwire.ClosingSigned, *wire.MsgTx, error) {
	fee, minFee, maxFee, proposed := int64(m.FeeSatoshis), r.minFee, r.maxFee, r.proposed
	if m.FeeRange != nil {
		lo, hi := int64(m.FeeRange.MinFeeSatoshis), int64(m.FeeRange.MaxFeeSatoshis)
		if lo > maxFee || hi < minFee {
			return nil, nil, c.warnErr("closing fee ranges do not overlap: theirs [%d, %d], ours [%d, %d]", lo, hi, minFee, maxFee)
		}
		counter := min(max(proposed, lo), hi)
		reply, err := c.signClosing(counter, max(minFee, lo), min(maxFee, hi), dust)
		return reply, nil, err
	}
	counter := min((fee+proposed)/2, maxFee)
	if counter != c.closingFeeProposedSat && counter != fee {
		reply, err := c.signClosing(counter, minFee, maxFee, dust)
		return reply, nil, err
	}
	if fee > maxFee {
		return nil, nil, c.warnErr("closing_signed fee %d sat above our maximum %d sat", fee, maxFee)
	}
	reply, err := c.signClosing(fee, minFee, maxFee, dust)
	if err != nil {
		return nil, nil, err
	}
	if err := c.completeClosingTx(tx, m); err != nil {
		return nil, nil, err
	}
	return reply, tx, nil
}

// closingRange is our side of a closing negotiation, in sat (closingFeeRange).
type closingRange struct{ minFee, maxFee, proposed int64 }

// completeClosingTx puts both signatures into the closing transaction's witness.
func (c *channel) completeClosingTx(tx *wire.MsgTx, m *lnwire.ClosingSigned) error {
	ourSig, err := c.signer.SignClosingTransaction(c.closingRequest(tx))
	if err != nil {
		return err
	}
	theirSig, err := m.Signature.ToSignature()
	if err != nil {
		return c.protoErr("closing_signed signature is malformed")
	}
	tx.TxIn[0].Witness = bolt3.FundingWitness(c.fundingScript,
		c.local.Pubkeys.FundingPubkey, append(ourSig.Serialize(), byte(txscript.SigHashAll)),
		c.remote.Pubkeys.FundingPubkey, append(theirSig.Serialize(), byte(txscript.SigHashAll)))
	return nil
}

// flush returns what the channel's state calls for when its pending changes are to be committed: a
// commitment_signed covering every update not yet signed (unless a revoke_and_ack is awaited), our
// shutdown once our updates are committed, and, once nothing is left to close over, the start of the
// closing negotiation (BOLT 2).
func (c *channel) flush(f closingFees) (effects, error) {
	var eff effects
	if (c.state == stateChannelReady || c.state == stateShutdown) && !c.awaitingRAA && c.hasChangesFor(false) {
		e, err := c.sendCommitmentSigned()
		if err != nil {
			return eff, err
		}
		eff.merge(e)
	}
	if c.shutdownReplyPending && !c.hasChangesFor(false) {
		eff.merge(c.sendShutdown())
	}
	if c.readyToNegotiateClosing() && c.closingFeeProposedSat < 0 && c.state != stateNegotiatingClosing {
		e, err := c.startClosingNegotiation(f)
		eff.merge(e)
		if err != nil {
			return eff, err
		}
	}
	return eff, nil
}

// close ends the channel: for a funded channel, the step that tells the monitor (which broadcasts our
// latest commitment if cl.broadcast; a cooperative close without it needs none); for one closed before
// funding, DiscardFunding if we made its funding transaction; the outgoing HTLCs that never reached
// the counterparty's commitment, for the payment layer to fail; and ChannelClosed.
func (c *channel) close(cl closure) effects {
	id, funded := c.id(), c.funded()
	c.state = stateClosed
	var eff effects
	if funded && (cl.broadcast || cl.reason != events.CooperativeClosure) {
		step := channelmonitor.ChannelForceClosed{ShouldBroadcast: cl.broadcast}
		eff.updates = append(eff.updates, monitorUpdate{steps: []channelmonitor.UpdateStep{step}, afterFailure: c.monitorFailed})
	}
	if !funded && c.fundingTx != nil {
		eff.event(events.DiscardFunding{ChannelID: id, FundingTxid: c.fundingTx.TxHash()})
	}
	for _, h := range c.htlcs {
		if !h.Incoming && h.AddRemote == notYet && !h.Processed {
			h.Processed = true
			eff.unsent = append(eff.unsent, h)
		}
	}
	eff.event(events.ChannelClosed{ChannelID: id, UserChannelID: c.userChannelID, CounterpartyNodeID: c.counterparty,
		Reason: cl.reason, Message: cl.msg, ChannelCapacitySat: c.valueSat})
	return eff
}

// failWithError fails the channel with an `error` carrying text (BOLT 1), which leaves at once and is
// kept to send again when the peer reconnects or writes about the channel, and then closes it as cl says.
func (c *channel) failWithError(text string, cl closure) effects {
	c.errorSent = []byte(text)
	var eff effects
	eff.sendNow(&lnwire.Error{ChannelID: c.id(), Data: c.errorSent})
	eff.closing = &cl
	return eff
}

// errorAgain sends again the `error` the channel was failed with, if any.
func (c *channel) errorAgain() effects {
	var eff effects
	if c.errorSent != nil {
		eff.sendNow(&lnwire.Error{ChannelID: c.id(), Data: c.errorSent})
	}
	return eff
}

// fail handles an error on the channel: a ChannelError without Close is answered with a `warning`;
// errDataLoss (we are behind) with an `error` and a close that never broadcasts our revoked state; any
// other error with an `error` and a force close.
func (c *channel) fail(err error) effects {
	var ce *ChannelError
	if !errors.As(err, &ce) {
		ce = &ChannelError{ChannelID: c.id(), Msg: err.Error(), Close: true}
	}
	var dl *errDataLoss
	switch {
	case errors.As(err, &dl):
		return c.failWithError(ce.Msg, closure{events.ProcessingError, ce.Msg, false})
	case !ce.Close:
		var eff effects
		eff.sendNow(&lnwire.Warning{ChannelID: c.id(), Data: []byte(ce.Msg)})
		return eff
	}
	return c.failWithError(ce.Msg, closure{events.ProcessingError, ce.Msg, true})
}

// forceClose closes the channel at the user's request: an `error` to the peer, and the monitor
// broadcasts our latest commitment. A channel closed cooperatively whose closing transaction has not
// confirmed may still be force-closed (our commitment then competes with the closing transaction); any
// other closed channel returns ErrChannelUnavailable (after losing state, our commitment may be revoked).
func (c *channel) forceClose() (effects, error) {
	const text = "force-closed by the user"
	if c.state != stateClosed {
		return c.failWithError(text, closure{events.HolderForceClosed, text, true}), nil
	}
	// closingFeeProposedSat is set only by a closing negotiation, which is reset on disconnection: a
	// closed channel that has it ended in an agreed closing transaction.
	if c.closingFeeProposedSat < 0 {
		return effects{}, fmt.Errorf("%w: channel already closed", ErrChannelUnavailable)
	}
	var eff effects
	eff.update(channelmonitor.ChannelForceClosed{ShouldBroadcast: true})
	return eff, nil
}
