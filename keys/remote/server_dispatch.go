package remote

import (
	"errors"
	"fmt"
)

// errNilAnswer is returned when the Inner answers nothing without an error.
var errNilAnswer = errors.New("remote: inner signer returned no answer")

// dispatch calls the Inner method q names and returns the answer (ID and method are set by Handle).
func (s *Server) dispatch(q *Request) (*Response, error) {
	in := s.cfg.Inner
	p := &Response{}
	var err error
	switch q.Method {
	case MethodECDH:
		p.Secret, err = in.ECDH(q.Point)
	case MethodGetNodeID:
		if p.Pubkey = in.GetNodeID(); p.Pubkey == nil {
			err = errNilAnswer
		}
	case MethodSignGossipMessage:
		p.Sig, err = in.SignGossipMessage(q.Data)
	case MethodSignInvoice:
		p.Data, err = in.SignInvoice(q.Text, q.Data)
	case MethodGenerateChannelKeysID:
		p.Secret = in.GenerateChannelKeysID(q.Inbound, q.ValueSat, q.UserChannelID)
	case MethodGetDestinationScript:
		p.Script, err = in.GetDestinationScript(q.KeysID)
	case MethodGetShutdownScriptPubKey:
		p.Script, err = in.GetShutdownScriptPubKey()
	case MethodGetSecureRandomBytes:
		p.Secret = in.GetSecureRandomBytes()
	case MethodApproveInvoice:
		if s.cfg.Approver != nil {
			err = s.cfg.Approver.ApproveInvoice(q.Text, q.MaxFeeMsat, q.ClientSig)
		}
	case MethodApproveKeysend:
		if s.cfg.Approver != nil {
			err = s.cfg.Approver.ApproveKeysend(q.Point, q.Hash, q.AmountMsat, q.MaxFeeMsat, q.ClientSig)
		}
	case MethodAccountPubKey:
		p.AccountKey, err = s.accountPubKey(q)
	case MethodSignWalletInputs:
		p.Witnesses, err = s.signWallet(q)
	default:
		return s.dispatchChannel(q)
	}
	if err != nil {
		return nil, err
	}
	if q.Method == MethodSignGossipMessage && p.Sig == nil {
		return nil, errNilAnswer
	}
	return p, nil
}

// dispatchChannel calls the ChannelSigner method q names on the channel's signer.
func (s *Server) dispatchChannel(q *Request) (*Response, error) {
	cs, err := s.signer(q)
	if err != nil {
		return nil, err
	}
	p := &Response{}
	idx := int(q.InputIndex)
	switch q.Method {
	case MethodDeriveChannelSigner:
		p.Pubkeys = cs.Pubkeys()
		p.Points, err = points(cs, 0, pointsAhead)
	case MethodGetPerCommitmentPoint:
		p.Points, err = points(cs, q.CommitmentNumber, pointsAhead)
	case MethodReleaseCommitmentSecret:
		p.Secret, err = cs.ReleaseCommitmentSecret(q.CommitmentNumber)
		if err == nil {
			p.Points, _ = points(cs, q.CommitmentNumber+1, pointsAhead-1)
		}
	case MethodProvideChannelParameters:
		err = cs.ProvideChannelParameters(q.Params)
	case MethodSignCounterpartyCommitment:
		p.Sig, p.HTLCSigs, err = cs.SignCounterpartyCommitment(q.Commitment)
	case MethodValidateHolderCommitment:
		err = cs.ValidateHolderCommitment(q.Commitment, q.Sig, q.HTLCSigs)
	case MethodValidateCounterpartyRevocation:
		err = cs.ValidateCounterpartyRevocation(q.CommitmentNumber, q.Secret)
	case MethodSignHolderCommitment:
		p.Sig, err = cs.SignHolderCommitment(q.CommitmentNumber, q.Tx)
	case MethodSignClosingTransaction:
		p.Sig, err = cs.SignClosingTransaction(q.Closing)
	case MethodSignCounterpartyHTLCTx:
		p.Sig, err = cs.SignCounterpartyHTLCTx(q.Tx, idx, q.Script, q.ValueSat, q.Point, q.SigHashType)
	case MethodSignHolderHTLCTx:
		p.Sig, err = cs.SignHolderHTLCTx(q.Tx, idx, q.Script, q.ValueSat, q.Point, q.SigHashType)
	case MethodSignDelayedOutput:
		p.Sig, err = cs.SignDelayedOutput(q.Tx, idx, q.Script, q.ValueSat, q.Point)
	case MethodSignJustice:
		p.Sig, err = cs.SignJustice(q.Tx, idx, q.Script, q.ValueSat, q.Secret)
	case MethodSignPaymentOutput:
		p.Sig, err = cs.SignPaymentOutput(q.Tx, idx, q.Script, q.ValueSat)
	case MethodSignAnchor:
		p.Sig, err = cs.SignAnchor(q.Tx, idx, q.Script, q.ValueSat)
	case MethodSignChannelAnnouncementWithFundingKey:
		p.Sig, err = cs.SignChannelAnnouncementWithFundingKey(q.Data)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnknownMethod, q.Method)
	}
	if err != nil {
		return nil, err
	}
	if methods[q.Method].resp&rSig != 0 && p.Sig == nil {
		return nil, errNilAnswer
	}
	return p, nil
}
