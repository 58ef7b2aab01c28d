package channelmanager

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// signerParams returns what the channel's signer must know of it (keys.ChannelTransactionParameters).
// Valid once the funding outpoint is set.
func (c *channel) signerParams() *keys.ChannelTransactionParameters {
	return &keys.ChannelTransactionParameters{
		IsOutbound: c.outbound, FundingOutPoint: c.fundingOutPoint, ValueSat: c.valueSat, PushMsat: c.pushMsat,
		Anchors: c.channelType.HasAnchors(), HolderPubkeys: c.local.Pubkeys, CounterpartyPubkeys: c.remote.Pubkeys,
		HolderToSelfDelay: c.remote.ToSelfDelay, CounterpartyToSelfDelay: c.local.ToSelfDelay,
		HolderDustLimitSat: int64(c.local.DustLimitSat), CounterpartyDustLimitSat: int64(c.remote.DustLimitSat),
	}
}

// provideParams gives the signer the channel's parameters (again: a signer answers the same
// parameters the same way).
func (c *channel) provideParams() error {
	return c.signer.ProvideChannelParameters(c.signerParams())
}

// signingRequest describes a built commitment for the signer: its meaning, the unsigned transaction
// and its second-stage HTLC transactions in output order.
func (c *channel) signingRequest(bc *builtCommitment) (*keys.CommitmentTx, error) {
	req := &keys.CommitmentTx{CommitmentNumber: bc.num, PerCommitmentPoint: bc.point, FeeratePerKw: bc.view.feeratePerKw,
		Tx: bc.tx.Tx, Keys: keys.CommitmentKeys{RevocationKey: bc.keys.RevocationKey, BroadcasterDelayedKey: bc.keys.LocalDelayedKey,
			CountersignatoryPaymentKey: bc.keys.RemotePaymentKey, BroadcasterHTLCKey: bc.keys.LocalHTLCKey,
			CountersignatoryHTLCKey: bc.keys.RemoteHTLCKey}}
	req.ToBroadcasterMsat, req.ToCountersignatoryMsat = bc.view.theirMsat, bc.view.ourMsat
	if bc.local {
		req.ToBroadcasterMsat, req.ToCountersignatoryMsat = bc.view.ourMsat, bc.view.theirMsat
	}
	outIdx := make(map[uint64]int32, len(bc.tx.HTLCOutputs))
	for _, o := range bc.tx.HTLCOutputs {
		outIdx[o.HTLC.ID] = int32(o.OutputIndex)
	}
	req.HTLCs = make([]keys.CommitmentHTLC, len(bc.view.htlcs))
	for i, h := range bc.view.htlcs {
		offered := !h.Incoming
		if !bc.local {
			offered = h.Incoming
		}
		oi, ok := outIdx[htlcKey(h)]
		if !ok {
			oi = -1
		}
		req.HTLCs[i] = keys.CommitmentHTLC{Offered: offered, AmountMsat: h.AmountMsat, PaymentHash: h.PaymentHash,
			CltvExpiry: h.CltvExpiry, OutputIndex: oi}
	}
	req.HTLCTxs = make([]*wire.MsgTx, len(bc.tx.HTLCOutputs))
	for i, out := range bc.tx.HTLCOutputs {
		tx, err := c.secondStageTx(bc, out)
		if err != nil {
			return nil, err
		}
		req.HTLCTxs[i] = tx
	}
	return req, nil
}

// signCounterparty has the signer sign the counterparty's commitment bc: the commitment signature
// and the HTLC signatures in output order, in wire form.
func (c *channel) signCounterparty(bc *builtCommitment) (lnwire.Sig, []lnwire.Sig, error) {
	req, err := c.signingRequest(bc)
	if err != nil {
		return lnwire.Sig{}, nil, err
	}
	sig, htlcSigs, err := c.signer.SignCounterpartyCommitment(req)
	if err != nil {
		return lnwire.Sig{}, nil, err
	}
	if len(htlcSigs) != len(bc.tx.HTLCOutputs) {
		return lnwire.Sig{}, nil, fmt.Errorf("%w: signer returned %d HTLC signatures for %d HTLC outputs",
			errSignerMisbehaved, len(htlcSigs), len(bc.tx.HTLCOutputs))
	}
	out, err := lnwire.NewSigFromECDSA(sig)
	if err != nil {
		return lnwire.Sig{}, nil, err
	}
	wireSigs := make([]lnwire.Sig, len(htlcSigs))
	for i, s := range htlcSigs {
		if wireSigs[i], err = lnwire.NewSigFromECDSA(s); err != nil {
			return lnwire.Sig{}, nil, err
		}
	}
	return out, wireSigs, nil
}

// validateHolder tells the signer of our commitment req and the counterparty's signatures of it.
func (c *channel) validateHolder(req *keys.CommitmentTx, sig lnwire.Sig, htlcSigs []lnwire.Sig) error {
	s, err := sig.ToSignature()
	if err != nil {
		return err
	}
	hs := make([]*ecdsa.Signature, len(htlcSigs))
	for i, h := range htlcSigs {
		if hs[i], err = h.ToSignature(); err != nil {
			return err
		}
	}
	return c.signer.ValidateHolderCommitment(req, s, hs)
}

// errSignerMisbehaved is a signer's answer that cannot be right (a wrong number of signatures).
var errSignerMisbehaved = errors.New("signer answered wrongly")

// signerPending reports whether err is a signer that has not answered yet (keys.ErrSignerPending).
func signerPending(err error) bool { return errors.Is(err, keys.ErrSignerPending) }

// deferKind names a message whose signatures are made when it leaves (deferredMsg).
type deferKind uint8

const (
	deferCommitmentSigned deferKind = iota + 1 // commitment_signed for the counterparty's commitment num
	deferRevokeAndAck                          // revoke_and_ack revoking our commitment num-1
	deferFundingCreated                        // funding_created (the funder's signature of their commitment 0)
	deferFundingSigned                         // funding_signed (the fundee's signature of their commitment 0)
)

// deferredMsg is a message of the channel whose signer's part is made when it is released, after the
// state change that produced it: the channel has moved on (the commitment is assigned, the monitor
// has the step), and only the signature is missing. If the signer answers keys.ErrSignerPending, the
// message and everything after it wait in the channel's held output until SignerUnblocked asks again
// with the same request (LDK's async signing). The message is a pure function of the channel's
// state and these fields, so asking again asks for the same thing.
type deferredMsg struct {
	kind  deferKind
	num   uint64           // the commitment number the message is about
	point *btcec.PublicKey // the counterparty's point of commitment num (commitment_signed)
}

// makeDeferred makes a deferred message from the channel's state: it asks the signer now.
func (c *channel) makeDeferred(d *deferredMsg) (lnwire.Message, error) {
	switch d.kind {
	case deferCommitmentSigned:
		return c.commitmentSignedMsg(d.num, d.point)
	case deferRevokeAndAck:
		return c.revokeAndAckMsg(d.num)
	case deferFundingCreated, deferFundingSigned:
		return c.fundingSigMsg(d.kind)
	}
	return nil, fmt.Errorf("unknown deferred message kind %d", d.kind)
}

// sendDeferred adds a message whose signatures are made when it leaves.
func (e *effects) sendDeferred(d *deferredMsg) {
	e.msgs = append(e.msgs, outMsg{kind: msgState, deferred: d})
}

// commitmentSignedMsg signs the counterparty's commitment num, with their point, as the channel's
// state gives it (viewAt), and remembers it for retransmission.
func (c *channel) commitmentSignedMsg(num uint64, point *btcec.PublicKey) (*lnwire.CommitmentSigned, error) {
	if c.lastCommitSigned != nil && c.awaitingRAA && num == c.remoteCommitNum+1 {
		return c.lastCommitSigned, nil
	}
	bc, err := c.buildCommitment(false, num, point, c.viewAt(false, num))
	if err != nil {
		return nil, err
	}
	sig, htlcSigs, err := c.signCounterparty(bc)
	if err != nil {
		return nil, err
	}
	msg := &lnwire.CommitmentSigned{ChannelID: c.channelID, Signature: sig, HTLCSignatures: htlcSigs}
	if c.awaitingRAA && num == c.remoteCommitNum+1 {
		c.lastCommitSigned = msg
	}
	return msg, nil
}

// revokeAndAckMsg builds the revoke_and_ack revoking our commitment num-1 (num is our current one).
func (c *channel) revokeAndAckMsg(num uint64) (*lnwire.RevokeAndAck, error) {
	secret, err := c.signer.ReleaseCommitmentSecret(num - 1)
	if err != nil {
		return nil, err
	}
	next, err := c.signer.GetPerCommitmentPoint(num + 1)
	if err != nil {
		return nil, err
	}
	return &lnwire.RevokeAndAck{ChannelID: c.channelID, PerCommitmentSecret: secret, NextPerCommitmentPoint: next}, nil
}

// fundingSigMsg signs the counterparty's commitment 0 for funding_created or funding_signed.
func (c *channel) fundingSigMsg(kind deferKind) (lnwire.Message, error) {
	if err := c.provideParams(); err != nil {
		return nil, err
	}
	_, remote, err := c.initialCommitments()
	if err != nil {
		return nil, err
	}
	sig, _, err := c.signCounterparty(remote)
	if err != nil {
		return nil, err
	}
	if kind == deferFundingSigned {
		return &lnwire.FundingSigned{ChannelID: c.channelID, Signature: sig}, nil
	}
	return &lnwire.FundingCreated{TemporaryChannelID: c.temporaryID, FundingTxID: c.fundingOutPoint.Hash,
		FundingOutputIndex: uint16(c.fundingOutPoint.Index), Signature: sig}, nil
}
