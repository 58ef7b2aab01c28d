package channelmanager

import (
	"crypto/sha256"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/lnwire"
)

// maxCLTVExpiry: a cltv_expiry at or above 500000000 is a timestamp, which BOLT 2 forbids.
const maxCLTVExpiry = 500000000

// wouldInclude says whether an update proposed by us (byUs) or by the counterparty, with the given
// commitment heights, belongs in the NEXT commitment of the local (localChain) or remote chain. An
// update goes first into the receiver's commitment; it enters the proposer's own commitment once the
// receiver has acknowledged it with `revoke_and_ack` (BOLT 2, "Normal Operation").
func (c *channel) wouldInclude(byUs bool, hLocal, hRemote uint64, localChain bool) bool {
	if localChain {
		if hLocal != notYet {
			return true
		}
		if !byUs {
			return true
		}
		return hRemote != notYet && hRemote <= c.remoteCommitNum
	}
	if hRemote != notYet {
		return true
	}
	if byUs {
		return true
	}
	return hLocal != notYet
}

// projectedView is the content of the next commitment of the local or remote chain.
func (c *channel) projectedView(localChain bool) commitView {
	v := commitView{ourMsat: c.baseLocalMsat, theirMsat: c.baseRemoteMsat, feeratePerKw: c.baseFeeratePerKw}
	for _, u := range c.feeUpdates {
		if c.wouldInclude(!u.FromRemote, u.InLocal, u.InRemote, localChain) {
			v.feeratePerKw = u.FeeratePerKw
		}
	}
	for _, h := range c.htlcs {
		if !c.wouldInclude(!h.Incoming, h.AddLocal, h.AddRemote, localChain) {
			continue
		}
		v.add(h, h.Remove != removeNone && c.wouldInclude(h.Incoming, h.RemoveLocal, h.RemoveRemote, localChain))
	}
	return v
}

// assign places every update that belongs in the next commitment of the chain at height n.
func (c *channel) assign(localChain bool, n uint64) {
	set := func(hLocal, hRemote *uint64) {
		if localChain {
			*hLocal = n
		} else {
			*hRemote = n
		}
	}
	for _, u := range c.feeUpdates {
		cur := u.InRemote
		if localChain {
			cur = u.InLocal
		}
		if cur == notYet && c.wouldInclude(!u.FromRemote, u.InLocal, u.InRemote, localChain) {
			set(&u.InLocal, &u.InRemote)
		}
	}
	for _, h := range c.htlcs {
		cur := h.AddRemote
		if localChain {
			cur = h.AddLocal
		}
		if cur == notYet && c.wouldInclude(!h.Incoming, h.AddLocal, h.AddRemote, localChain) {
			set(&h.AddLocal, &h.AddRemote)
		}
		if h.Remove == removeNone {
			continue
		}
		cur = h.RemoveRemote
		if localChain {
			cur = h.RemoveLocal
		}
		if cur == notYet && c.wouldInclude(h.Incoming, h.RemoveLocal, h.RemoveRemote, localChain) {
			set(&h.RemoveLocal, &h.RemoveRemote)
		}
	}
}

// hasChangesFor says whether the next commitment of the chain would differ from its current one.
func (c *channel) hasChangesFor(localChain bool) bool {
	for _, u := range c.feeUpdates {
		cur := u.InRemote
		if localChain {
			cur = u.InLocal
		}
		if cur == notYet && c.wouldInclude(!u.FromRemote, u.InLocal, u.InRemote, localChain) {
			return true
		}
	}
	for _, h := range c.htlcs {
		cur := h.AddRemote
		if localChain {
			cur = h.AddLocal
		}
		if cur == notYet && c.wouldInclude(!h.Incoming, h.AddLocal, h.AddRemote, localChain) {
			return true
		}
		if h.Remove == removeNone {
			continue
		}
		cur = h.RemoveRemote
		if localChain {
			cur = h.RemoveLocal
		}
		if cur == notYet && c.wouldInclude(h.Incoming, h.RemoveLocal, h.RemoveRemote, localChain) {
			return true
		}
	}
	return false
}

// funderFeeMsat is what the funder must pay on a commitment with view v whose owner has the given dust
// limit: the commitment fee for the untrimmed HTLCs plus the anchors, in msat. extra adds that many
// hypothetical untrimmed HTLCs (BOLT 2's fee spike buffer).
func (c *channel) funderFeeMsat(v commitView, ownerDustSat uint64, ownerIsLocal bool, feerate uint32, extra int) uint64 {
	untrimmed := extra
	for _, h := range v.htlcs {
		offered := !h.Incoming
		if !ownerIsLocal {
			offered = h.Incoming
		}
		if !bolt3.IsTrimmed(bolt3.HTLC{Offered: offered, AmountMsat: h.AmountMsat}, int64(ownerDustSat), feerate, c.channelType) {
			untrimmed++
		}
	}
	return uint64(bolt3.CommitmentFeeSat(feerate, untrimmed, c.channelType)+c.anchorsSat()) * 1000
}

// checkAffordable checks that, in the view of one chain, each side keeps what it must: the funder the
// commitment fee and anchors, and a side whose balance changed by its own updates its channel reserve.
// ourChanged/theirChanged say whose spending is being checked (BOLT 2 `update_add_htlc` requirements).
func (c *channel) checkAffordable(v commitView, localChain bool, ourSpend, theirSpend bool, feerate uint32, spikeBuffer bool) (ok bool, why string) {
	dust := c.remote.DustLimitSat
	if localChain {
		dust = c.local.DustLimitSat
	}
	if v.overdrawn {
		return false, "an HTLC exceeds its offerer's balance"
	}
	ours, theirs := v.ourMsat, v.theirMsat
	var fee uint64
	if spikeBuffer {
		fee = c.funderFeeMsat(v, dust, localChain, 2*feerate, 1)
	} else {
		fee = c.funderFeeMsat(v, dust, localChain, feerate, 0)
	}
	if c.outbound {
		if ours < fee {
			return false, "funder cannot pay the commitment fee"
		}
		ours -= fee
	} else {
		if theirs < fee {
			return false, "funder cannot pay the commitment fee"
		}
		theirs -= fee
	}
	// c.remote.ChannelReserveSat is what we must keep; c.local.ChannelReserveSat what they must keep.
	if ourSpend && ours < c.remote.ChannelReserveSat*1000 {
		return false, "below channel reserve"
	}
	if theirSpend && theirs < c.local.ChannelReserveSat*1000 {
		return false, "counterparty below channel reserve"
	}
	return true, ""
}

// sendAddHTLC adds an outgoing HTLC coming from src and returns the `update_add_htlc` to send
// (BOLT 2, "Adding an HTLC", sender requirements). It returns errNotReady, errInsufficientFund or an
// error naming the limit, errDustExposure if the HTLC would push the dust exposure of either commitment
// over maxDustMsat.
func (c *channel) sendAddHTLC(amountMsat uint64, hash [32]byte, cltv uint32, onion *[1366]byte, src htlcSource, maxDustMsat uint64) (effects, error) {
	if !c.isUsable() {
		return effects{}, errNotReady
	}
	if amountMsat == 0 || amountMsat < c.remote.HTLCMinimumMsat {
		return effects{}, errHTLCBelowMinimum
	}
	if cltv >= maxCLTVExpiry {
		return effects{}, errCLTVTooFar
	}
	h := &htlc{ID: c.nextLocalHTLCID, AmountMsat: amountMsat, PaymentHash: hash, CltvExpiry: cltv, Onion: *onion,
		AddLocal: notYet, AddRemote: notYet, RemoveLocal: notYet, RemoveRemote: notYet,
		Source: src}
	c.htlcs = append(c.htlcs, h)
	undo := func() { c.htlcs = c.htlcs[:len(c.htlcs)-1] }
	// The remote commitment is where the counterparty's limits apply.
	v := c.projectedView(false)
	var count int
	var inFlight uint64
	for _, x := range v.htlcs {
		if !x.Incoming {
			count++
			inFlight += x.AmountMsat
		}
	}
	if count > int(c.remote.MaxAcceptedHTLCs) {
		undo()
		return effects{}, errTooManyHTLCs
	}
	if inFlight > c.remote.MaxHTLCValueInFlightMsat {
		undo()
		return effects{}, errMaxInFlight
	}
	if ok, _ := c.checkAffordable(v, false, true, false, v.feeratePerKw, c.outbound); !ok {
		undo()
		return effects{}, errInsufficientFund
	}
	lv := c.projectedView(true)
	lv.htlcs = append(lv.htlcs, h) // it will be in our commitment once they acknowledge it
	lv.ourMsat -= amountMsat
	if ok, _ := c.checkAffordable(lv, true, true, false, lv.feeratePerKw, false); !ok {
		undo()
		return effects{}, errInsufficientFund
	}
	if !c.dustAddAllowed(h, v, false, maxDustMsat, nil) || !c.dustAddAllowed(h, lv, true, maxDustMsat, nil) {
		undo()
		return effects{}, errDustExposure
	}
	c.nextLocalHTLCID++
	h.AddSeq = c.nextSeq()
	var eff effects
	eff.sendUpdate(c.addMsg(h))
	return eff, nil
}

func (c *channel) addMsg(h *htlc) *lnwire.UpdateAddHTLC {
	return &lnwire.UpdateAddHTLC{ChannelID: c.channelID, ID: h.ID, AmountMsat: h.AmountMsat,
		PaymentHash: h.PaymentHash, CLTVExpiry: h.CltvExpiry, OnionRoutingPacket: h.Onion}
}

// receiveAddHTLC checks and records an incoming `update_add_htlc` (BOLT 2, receiver requirements).
func (c *channel) receiveAddHTLC(m *lnwire.UpdateAddHTLC) error {
	if c.state != stateChannelReady && c.state != stateShutdown {
		return c.protoErr("update_add_htlc before the channel is ready")
	}
	if c.shutdownRcvd {
		return c.protoErr("update_add_htlc after shutdown")
	}
	if m.ID != c.nextRemoteHTLCID {
		return c.protoErr("update_add_htlc id %d, expected %d", m.ID, c.nextRemoteHTLCID)
	}
	if m.AmountMsat == 0 || m.AmountMsat < c.local.HTLCMinimumMsat {
		return c.protoErr("update_add_htlc amount %d msat below our htlc_minimum_msat %d", m.AmountMsat, c.local.HTLCMinimumMsat)
	}
	if m.CLTVExpiry >= maxCLTVExpiry {
		return c.protoErr("update_add_htlc cltv_expiry %d is not a block height", m.CLTVExpiry)
	}
	h := &htlc{ID: m.ID, Incoming: true, AmountMsat: m.AmountMsat, PaymentHash: m.PaymentHash, CltvExpiry: m.CLTVExpiry,
		Onion: m.OnionRoutingPacket, AddLocal: notYet, AddRemote: notYet, RemoveLocal: notYet, RemoveRemote: notYet}
	c.htlcs = append(c.htlcs, h)
	v := c.projectedView(true)
	var count int
	var inFlight uint64
	for _, x := range v.htlcs {
		if x.Incoming {
			count++
			inFlight += x.AmountMsat
		}
	}
	if count > int(c.local.MaxAcceptedHTLCs) {
		c.htlcs = c.htlcs[:len(c.htlcs)-1]
		return c.protoErr("more than max_accepted_htlcs (%d) incoming HTLCs", c.local.MaxAcceptedHTLCs)
	}
	if inFlight > c.local.MaxHTLCValueInFlightMsat {
		c.htlcs = c.htlcs[:len(c.htlcs)-1]
		return c.protoErr("incoming HTLC value %d msat exceeds max_htlc_value_in_flight_msat %d", inFlight, c.local.MaxHTLCValueInFlightMsat)
	}
	if ok, why := c.checkAffordable(v, true, false, true, v.feeratePerKw, false); !ok {
		c.htlcs = c.htlcs[:len(c.htlcs)-1]
		return c.protoErr("update_add_htlc the sender cannot afford: %s", why)
	}
	c.nextRemoteHTLCID++
	return nil
}

// committedBoth says whether the HTLC's add is irrevocably committed on both chains.
func (c *channel) committedBoth(h *htlc) bool {
	return h.AddLocal != notYet && h.AddLocal <= c.localCommitNum && h.AddRemote != notYet && h.AddRemote <= c.remoteCommitNum
}

// sendFulfillHTLC claims an incoming HTLC with its preimage. The preimage goes to the monitor first,
// even on a closed channel (the monitor then claims the HTLC on chain) and even when the HTLC cannot be
// fulfilled off chain (errUnknownHTLC, errBadPreimage); on an open channel `update_fulfill_htlc`
// follows (BOLT 2, "Removing an HTLC").
func (c *channel) sendFulfillHTLC(id uint64, preimage [32]byte) (effects, error) {
	var eff effects
	eff.update(channelmonitor.PaymentPreimage{Preimage: preimage})
	if c.state == stateClosed {
		return eff, nil
	}
	h := c.findHTLC(true, id)
	if h == nil || h.Remove != removeNone || !c.committedBoth(h) {
		return eff, errUnknownHTLC
	}
	if sha256.Sum256(preimage[:]) != h.PaymentHash {
		return eff, errBadPreimage
	}
	h.Remove, h.Preimage, h.RemoveSeq = removeFulfill, preimage, c.nextSeq()
	eff.sendUpdate(&lnwire.UpdateFulfillHTLC{ChannelID: c.channelID, ID: h.ID, PaymentPreimage: preimage})
	return eff, nil
}

// sendFailHTLC fails an incoming HTLC back with an encrypted failure onion.
func (c *channel) sendFailHTLC(id uint64, reason []byte) (effects, error) {
	h := c.findHTLC(true, id)
	if h == nil || h.Remove != removeNone || !c.committedBoth(h) {
		return effects{}, errUnknownHTLC
	}
	h.Remove, h.FailReason, h.RemoveSeq = removeFail, reason, c.nextSeq()
	var eff effects
	eff.sendUpdate(c.removeMsg(h))
	return eff, nil
}

// sendFailMalformedHTLC fails an incoming HTLC whose onion we could not parse.
func (c *channel) sendFailMalformedHTLC(id uint64, code uint16, sha [32]byte) (effects, error) {
	h := c.findHTLC(true, id)
	if h == nil || h.Remove != removeNone || !c.committedBoth(h) {
		return effects{}, errUnknownHTLC
	}
	h.Remove, h.FailCode, h.FailSHA, h.RemoveSeq = removeFailMalformed, code, sha, c.nextSeq()
	var eff effects
	eff.sendUpdate(c.removeMsg(h))
	return eff, nil
}

func (c *channel) removeMsg(h *htlc) lnwire.Message {
	switch h.Remove {
	case removeFulfill:
		return &lnwire.UpdateFulfillHTLC{ChannelID: c.channelID, ID: h.ID, PaymentPreimage: h.Preimage}
	case removeFail:
		return &lnwire.UpdateFailHTLC{ChannelID: c.channelID, ID: h.ID, Reason: h.FailReason}
	default:
		return &lnwire.UpdateFailMalformedHTLC{ChannelID: c.channelID, ID: h.ID, SHA256OfOnion: h.FailSHA, FailureCode: h.FailCode}
	}
}

// outgoingForRemoval finds the outgoing HTLC a counterparty removal names; it must be committed on both
// chains (BOLT 2: "if the id does not correspond to an HTLC in its current commitment transaction").
func (c *channel) outgoingForRemoval(id uint64) (*htlc, error) {
	if c.state != stateChannelReady && c.state != stateShutdown {
		return nil, c.protoErr("HTLC removal before the channel is ready")
	}
	h := c.findHTLC(false, id)
	if h == nil || !c.committedBoth(h) {
		return nil, c.protoErr("removal of unknown or uncommitted HTLC %d", id)
	}
	if h.Remove != removeNone {
		return nil, c.protoErr("HTLC %d removed twice", id)
	}
	return h, nil
}

// receiveFulfillHTLC records the counterparty's `update_fulfill_htlc`; the preimage is ours from now on,
// and the payment layer learns it at once.
func (c *channel) receiveFulfillHTLC(m *lnwire.UpdateFulfillHTLC) (effects, error) {
	h, err := c.outgoingForRemoval(m.ID)
	if err != nil {
		return effects{}, err
	}
	if sha256.Sum256(m.PaymentPreimage[:]) != h.PaymentHash {
		return effects{}, c.protoErr("update_fulfill_htlc preimage does not match payment hash of HTLC %d", m.ID)
	}
	h.Remove, h.Preimage = removeFulfill, m.PaymentPreimage
	return effects{fulfilled: []*htlc{h}}, nil
}

// receiveFailHTLC records the counterparty's `update_fail_htlc`.
func (c *channel) receiveFailHTLC(m *lnwire.UpdateFailHTLC) error {
	h, err := c.outgoingForRemoval(m.ID)
	if err != nil {
		return err
	}
	h.Remove, h.FailReason = removeFail, append([]byte(nil), m.Reason...)
	return nil
}

// receiveFailMalformedHTLC records `update_fail_malformed_htlc`; its code must have BADONION set.
func (c *channel) receiveFailMalformedHTLC(m *lnwire.UpdateFailMalformedHTLC) error {
	h, err := c.outgoingForRemoval(m.ID)
	if err != nil {
		return err
	}
	if m.FailureCode&0x8000 == 0 {
		return c.protoErr("update_fail_malformed_htlc without the BADONION bit: 0x%04x", m.FailureCode)
	}
	h.Remove, h.FailCode, h.FailSHA = removeFailMalformed, m.FailureCode, m.SHA256OfOnion
	return nil
}

// sendUpdateFee proposes a new commitment feerate; only the funder may (BOLT 2, "Updating Fees"). A
// feerate that would push our dust exposure over maxDustMsat is not proposed (errDustExposure).
func (c *channel) sendUpdateFee(feerate uint32, maxDustMsat uint64) (effects, error) {
	if !c.outbound {
		return effects{}, errNotFunder
	}
	if !c.isUsable() && c.state != stateShutdown {
		return effects{}, errNotReady
	}
	if !c.feerateDustAllowed(feerate, maxDustMsat) {
		return effects{}, errDustExposure
	}
	u := &feeUpdate{FeeratePerKw: feerate, InLocal: notYet, InRemote: notYet}
	c.feeUpdates = append(c.feeUpdates, u)
	v := c.projectedView(false)
	if ok, _ := c.checkAffordable(v, false, false, false, feerate, false); !ok {
		c.feeUpdates = c.feeUpdates[:len(c.feeUpdates)-1]
		return effects{}, errInsufficientFund
	}
	u.Seq = c.nextSeq()
	var eff effects
	eff.sendUpdate(&lnwire.UpdateFee{ChannelID: c.channelID, FeeratePerKw: feerate})
	return eff, nil
}

// receiveUpdateFee records the funder's `update_fee` after checking it. A feerate that would push our
// dust exposure over maxDustMsat fails the channel, as in LDK.
func (c *channel) receiveUpdateFee(m *lnwire.UpdateFee, minFeerate, maxFeerate uint32, maxDustMsat uint64) error {
	if c.outbound {
		return c.protoErr("update_fee from the non-funder")
	}
	if c.state != stateChannelReady && c.state != stateShutdown {
		return c.protoErr("update_fee before the channel is ready")
	}
	if m.FeeratePerKw < minFeerate || m.FeeratePerKw > maxFeerate {
		return c.protoErr("update_fee feerate %d sat/kw outside [%d, %d]", m.FeeratePerKw, minFeerate, maxFeerate)
	}
	if !c.feerateDustAllowed(m.FeeratePerKw, maxDustMsat) {
		return c.protoErr("update_fee feerate %d sat/kw would push our dust HTLC exposure over %d msat", m.FeeratePerKw, maxDustMsat)
	}
	c.feeUpdates = append(c.feeUpdates, &feeUpdate{FeeratePerKw: m.FeeratePerKw, FromRemote: true, InLocal: notYet, InRemote: notYet})
	v := c.projectedView(true)
	if ok, why := c.checkAffordable(v, true, false, false, m.FeeratePerKw, false); !ok {
		c.feeUpdates = c.feeUpdates[:len(c.feeUpdates)-1]
		return c.protoErr("update_fee the funder cannot afford: %s", why)
	}
	return nil
}

// secondStageTx builds the HTLC-timeout (owner offered) or HTLC-success (owner received) transaction
// spending one HTLC output of a commitment.
func (c *channel) secondStageTx(bc *builtCommitment, out bolt3.HTLCOutput) (*wire.MsgTx, error) {
	delay := c.remote.ToSelfDelay
	if !bc.local {
		delay = c.local.ToSelfDelay
	}
	if out.HTLC.Offered {
		return bolt3.BuildHTLCTimeoutTx(bc.txid, out, bc.view.feeratePerKw, delay, bc.keys.RevocationKey, bc.keys.LocalDelayedKey, c.channelType)
	}
	return bolt3.BuildHTLCSuccessTx(bc.txid, out, bc.view.feeratePerKw, delay, bc.keys.RevocationKey, bc.keys.LocalDelayedKey, c.channelType)
}

// sendCommitmentSigned commits the pending changes to the counterparty's next commitment and returns
// the monitor step that records it and the commitment_signed, which the signer signs when it leaves,
// once the step is persisted (BOLT 2, "Committing Updates So Far").
func (c *channel) sendCommitmentSigned() (effects, error) {
	if c.awaitingRAA {
		return effects{}, errAwaitingRAA
	}
	if !c.hasChangesFor(false) {
		return effects{}, errNothingToCommit
	}
	n := c.remoteCommitNum + 1
	v := c.projectedView(false)
	bc, err := c.buildCommitment(false, n, c.remoteNextPoint, v)
	if err != nil {
		return effects{}, err
	}
	c.assign(false, n)
	c.awaitingRAA = true
	c.lastCommitSigned = nil
	c.lastCommitSeq = c.nextSeq()
	step := channelmonitor.LatestCounterpartyCommitment{
		CommitmentNumber: n, Txid: bc.txid, PerCommitmentPoint: c.remoteNextPoint,
		FeeratePerKw: v.feeratePerKw, ToBroadcasterSat: bc.tx.ToLocalSat, ToCountersignatorySat: bc.tx.ToRemoteSat,
	}
	step.HTLCs = counterpartyHTLCs(bc)
	var eff effects
	eff.update(step)
	eff.sendDeferred(&deferredMsg{kind: deferCommitmentSigned, num: n, point: c.remoteNextPoint})
	return eff, nil
}

// counterpartyHTLCs lists a counterparty commitment's HTLCs for its monitor, trimmed ones with index -1.
func counterpartyHTLCs(bc *builtCommitment) []channelmonitor.CounterpartyHTLC {
	idx := make(map[uint64]uint32, len(bc.tx.HTLCOutputs))
	for _, o := range bc.tx.HTLCOutputs {
		idx[o.HTLC.ID] = o.OutputIndex
	}
	out := make([]channelmonitor.CounterpartyHTLC, 0, len(bc.view.htlcs))
	for _, h := range bc.view.htlcs {
		oi := int32(-1)
		if i, ok := idx[htlcKey(h)]; ok {
			oi = int32(i)
		}
		out = append(out, channelmonitor.CounterpartyHTLC{OutputIndex: oi, Offered: h.Incoming, HTLCID: h.ID,
			AmountMsat: h.AmountMsat, PaymentHash: h.PaymentHash, CltvExpiry: h.CltvExpiry, Source: htlcSourceOf(h)})
	}
	return out
}

// holderHTLCs lists our commitment's HTLCs for its monitor: those with an output with the
// counterparty's signature for their second-stage transaction, trimmed ones with index -1.
func holderHTLCs(bc *builtCommitment, htlcSigs []lnwire.Sig, sigs map[uint64]int) []channelmonitor.HolderHTLC {
	out := make([]channelmonitor.HolderHTLC, 0, len(bc.view.htlcs))
	for _, h := range bc.view.htlcs {
		x := channelmonitor.HolderHTLC{OutputIndex: -1, Offered: !h.Incoming, HTLCID: h.ID, AmountMsat: h.AmountMsat,
			PaymentHash: h.PaymentHash, CltvExpiry: h.CltvExpiry, Source: htlcSourceOf(h)}
		if i, ok := sigs[htlcKey(h)]; ok {
			x.OutputIndex, x.CounterpartySig = int32(bc.tx.HTLCOutputs[i].OutputIndex), htlcSigs[i]
		}
		out = append(out, x)
	}
	return out
}

// verifySig checks a counterparty signature over input 0 of tx spending witnessScript worth valueSat.
func verifySig(tx *wire.MsgTx, witnessScript []byte, valueSat int64, sig lnwire.Sig, pub *btcec.PublicKey, hashType txscript.SigHashType) bool {
	s, err := sig.ToSignature()
	if err != nil {
		return false
	}
	pkScript := bolt3.WitnessScriptHash(witnessScript)
	fetcher := txscript.NewCannedPrevOutputFetcher(pkScript, valueSat)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	digest, err := txscript.CalcWitnessSigHash(witnessScript, hashes, hashType, tx, 0, valueSat)
	if err != nil {
		return false
	}
	return s.Verify(digest, pub)
}

// receiveCommitmentSigned checks the counterparty's signatures on our next commitment, has the signer
// validate it, and returns the monitor step that records it and our `revoke_and_ack`, which leaves
// (with the secret the signer releases then) once the step is persisted. If the signer has not
// answered (keys.ErrSignerPending), nothing changed: the manager keeps the message and hands it in
// again after SignerUnblocked.
func (c *channel) receiveCommitmentSigned(m *lnwire.CommitmentSigned) (effects, error) {
	if c.state != stateChannelReady && c.state != stateShutdown {
		return effects{}, c.protoErr("commitment_signed before the channel is ready")
	}
	n := c.localCommitNum + 1
	p, err := c.signer.GetPerCommitmentPoint(n)
	if err != nil {
		return effects{}, err
	}
	v := c.projectedView(true)
	bc, err := c.buildCommitment(true, n, p, v)
	if err != nil {
		return effects{}, c.protoErr("cannot build commitment %d: %v", n, err)
	}
	if !verifySig(bc.tx.Tx, c.fundingScript, c.valueSat, m.Signature, c.remote.Pubkeys.FundingPubkey, txscript.SigHashAll) {
		return effects{}, c.protoErr("invalid commitment signature for commitment %d", n)
	}
	if len(m.HTLCSignatures) != len(bc.tx.HTLCOutputs) {
		return effects{}, c.protoErr("commitment_signed has %d HTLC signatures, expected %d", len(m.HTLCSignatures), len(bc.tx.HTLCOutputs))
	}
	req, err := c.signingRequest(bc)
	if err != nil {
		return effects{}, err
	}
	hashType := bolt3.HTLCSigHashType(c.channelType)
	sigs := make(map[uint64]int, len(bc.tx.HTLCOutputs)) // htlcKey → index in HTLCOutputs and HTLCSignatures
	for i, out := range bc.tx.HTLCOutputs {
		if !verifySig(req.HTLCTxs[i], out.WitnessScript, out.AmountSat, m.HTLCSignatures[i], bc.keys.RemoteHTLCKey, hashType) {
			return effects{}, c.protoErr("invalid HTLC signature %d for commitment %d", i, n)
		}
		sigs[out.HTLC.ID] = i
	}
	if err := c.validateHolder(req, m.Signature, m.HTLCSignatures); err != nil {
		return effects{}, err
	}
	step := channelmonitor.LatestHolderCommitment{CommitmentNumber: n, Tx: bc.tx.Tx, CounterpartySig: m.Signature,
		FeeratePerKw: v.feeratePerKw}
	step.HTLCs = holderHTLCs(bc, m.HTLCSignatures, sigs)
	c.assign(true, n)
	c.localCommitNum = n
	c.lastRAASeq = c.nextSeq()
	c.fold()
	var eff effects
	eff.update(step)
	eff.sendDeferred(&deferredMsg{kind: deferRevokeAndAck, num: n})
	return eff, nil
}

// receiveRevokeAndAck checks the counterparty's revocation of its previous commitment and returns the
// monitor step with its secret (a revoked commitment can now be punished) and, for the payment layer,
// the incoming HTLCs now irrevocably committed and the outgoing ones whose removal now is.
func (c *channel) receiveRevokeAndAck(m *lnwire.RevokeAndAck) (effects, error) {
	if !c.awaitingRAA {
		return effects{}, c.protoErr("unexpected revoke_and_ack")
	}
	_, point := btcec.PrivKeyFromBytes(m.PerCommitmentSecret[:])
	if !point.IsEqual(c.remoteCurPoint) {
		return effects{}, c.protoErr("revoke_and_ack secret does not match per_commitment_point of commitment %d", c.remoteCommitNum)
	}
	if err := c.signer.ValidateCounterpartyRevocation(c.remoteCommitNum, m.PerCommitmentSecret); err != nil {
		return effects{}, err
	}
	if err := c.remoteSecrets.ProvideSecret(secretIndex(c.remoteCommitNum), m.PerCommitmentSecret); err != nil {
		return effects{}, c.protoErr("revoke_and_ack secret inconsistent with earlier secrets: %v", err)
	}
	var eff effects
	eff.update(channelmonitor.CommitmentSecret{CommitmentNumber: c.remoteCommitNum, Secret: m.PerCommitmentSecret})
	c.remoteCommitNum++
	c.remoteCurPoint = c.remoteNextPoint
	c.remoteNextPoint = m.NextPerCommitmentPoint
	c.awaitingRAA = false
	c.lastCommitSigned = nil
	for _, h := range c.htlcs {
		if h.Processed {
			continue
		}
		if h.Incoming && c.committedBoth(h) {
			h.Processed = true
			eff.committed = append(eff.committed, h)
		}
		if !h.Incoming && h.Remove != removeNone && h.RemoveLocal != notYet && h.RemoveLocal <= c.localCommitNum &&
			h.RemoveRemote != notYet && h.RemoveRemote <= c.remoteCommitNum {
			h.Processed = true
			eff.resolved = append(eff.resolved, h)
		}
	}
	c.fold()
	return eff, nil
}
