package remote

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
)

// channelSigner is the keys.ChannelSigner a Client returns: every method but ChannelKeysID, Pubkeys
// and Write is asynchronous (see Client).
type channelSigner struct {
	c        *Client
	keysID   [32]byte
	valueSat int64
}

var _ keys.ChannelSigner = (*channelSigner)(nil)

// ChannelKeysID returns the keys id.
func (s *channelSigner) ChannelKeysID() [32]byte { return s.keysID }

// Pubkeys returns the channel's keys, waiting (across reconnections) for the signer's answer the
// first time. It returns the zero value only if the client is closed first or the signer refused to
// derive the channel (ErrTooManyChannels).
func (s *channelSigner) Pubkeys() keys.ChannelPublicKeys {
	c := s.c
	c.mu.Lock()
	if ch := c.channel(s.keysID); ch.pubkeys != nil {
		defer c.mu.Unlock()
		return *ch.pubkeys
	}
	cl := c.deriveLocked(s)
	c.mu.Unlock()
	if cl == nil {
		return keys.ChannelPublicKeys{}
	}
	p, err := wait(cl)
	if err != nil {
		return keys.ChannelPublicKeys{}
	}
	return p.Pubkeys
}

// Write returns the keys id and the channel value (8 bytes big-endian), as InMemorySigner.Write does.
func (s *channelSigner) Write() []byte {
	out := append([]byte(nil), s.keysID[:]...)
	return binary.BigEndian.AppendUint64(out, uint64(s.valueSat))
}

// req returns a request of method m for this channel.
func (s *channelSigner) req(m Method) *Request {
	return &Request{Method: m, KeysID: s.keysID, ChannelValueSat: s.valueSat}
}

// GetPerCommitmentPoint answers from the points the signer sent with earlier answers; otherwise it
// asks for the point (and the next ones) and returns keys.ErrSignerPending. Errors:
// keys.ErrCommitmentNumberOutOfRange, keys.ErrSignerPending, the signer's.
func (s *channelSigner) GetPerCommitmentPoint(n uint64) (*btcec.PublicKey, error) {
	if n > keys.MaxCommitmentIndex {
		return nil, fmt.Errorf("%w: %d", keys.ErrCommitmentNumberOutOfRange, n)
	}
	s.c.mu.Lock()
	ch := s.c.channel(s.keysID)
	np, ok := ch.point(n)
	deriving := ch.pubkeys == nil && ch.derive != nil
	s.c.mu.Unlock()
	if ok {
		return np.Point, nil
	}
	if deriving {
		// A new channel's first points come with its keys: wait for them as Pubkeys does.
		s.Pubkeys()
		s.c.mu.Lock()
		np, ok = s.c.channel(s.keysID).point(n)
		s.c.mu.Unlock()
		if ok {
			return np.Point, nil
		}
	}
	q := s.req(MethodGetPerCommitmentPoint)
	q.CommitmentNumber = n
	p, err := s.c.asyncCall(q)
	if err != nil {
		return nil, err
	}
	// Only an error answer is kept as an answer; a point goes to the cache. Reached when the answer
	// held no point for n.
	for _, np := range p.Points {
		if np.CommitmentNumber == n && np.Point != nil {
			return np.Point, nil
		}
	}
	return nil, fmt.Errorf("%w: no point for commitment %d", ErrRemote, n)
}

// ReleaseCommitmentSecret asks for the secret of commitment n (asynchronous).
func (s *channelSigner) ReleaseCommitmentSecret(n uint64) ([32]byte, error) {
	q := s.req(MethodReleaseCommitmentSecret)
	q.CommitmentNumber = n
	p, err := s.c.asyncCall(q)
	if err != nil {
		return [32]byte{}, err
	}
	return p.Secret, nil
}

// ProvideChannelParameters gives the signer the channel's parameters (asynchronous). Once accepted
// they are sent again after every reconnection. Errors: keys.ErrNilKey for nil parameters.
func (s *channelSigner) ProvideChannelParameters(params *keys.ChannelTransactionParameters) error {
	q := s.req(MethodProvideChannelParameters)
	q.Params = params
	_, err := s.c.asyncCall(q)
	return err
}

// SignCounterpartyCommitment asks for the signatures of the counterparty's commitment (asynchronous).
func (s *channelSigner) SignCounterpartyCommitment(ct *keys.CommitmentTx) (*ecdsa.Signature, []*ecdsa.Signature, error) {
	q := s.req(MethodSignCounterpartyCommitment)
	q.Commitment = ct
	p, err := s.c.asyncCall(q)
	if err != nil {
		return nil, nil, err
	}
	return p.Sig, p.HTLCSigs, nil
}

// ValidateHolderCommitment tells the signer of our next commitment (asynchronous).
func (s *channelSigner) ValidateHolderCommitment(ct *keys.CommitmentTx, sig *ecdsa.Signature, htlcSigs []*ecdsa.Signature) error {
	q := s.req(MethodValidateHolderCommitment)
	q.Commitment, q.Sig, q.HTLCSigs = ct, sig, htlcSigs
	_, err := s.c.asyncCall(q)
	return err
}

// ValidateCounterpartyRevocation tells the signer of the counterparty's secret (asynchronous).
func (s *channelSigner) ValidateCounterpartyRevocation(n uint64, secret [32]byte) error {
	q := s.req(MethodValidateCounterpartyRevocation)
	q.CommitmentNumber, q.Secret = n, secret
	_, err := s.c.asyncCall(q)
	return err
}

// SignHolderCommitment asks for our signature of our commitment n (asynchronous).
func (s *channelSigner) SignHolderCommitment(n uint64, tx *wire.MsgTx) (*ecdsa.Signature, error) {
	q := s.req(MethodSignHolderCommitment)
	q.CommitmentNumber, q.Tx = n, tx
	return s.sig(q)
}

// SignClosingTransaction asks for our signature of a closing transaction (asynchronous).
func (s *channelSigner) SignClosingTransaction(ct *keys.ClosingTx) (*ecdsa.Signature, error) {
	q := s.req(MethodSignClosingTransaction)
	q.Closing = ct
	return s.sig(q)
}

// SignCounterpartyHTLCTx asks for a signature of a counterparty HTLC transaction (asynchronous).
func (s *channelSigner) SignCounterpartyHTLCTx(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, point *btcec.PublicKey, hashType txscript.SigHashType) (*ecdsa.Signature, error) {
	q, err := s.spend(MethodSignCounterpartyHTLCTx, tx, inputIndex, witnessScript, valueSat)
	if err != nil {
		return nil, err
	}
	q.Point, q.SigHashType = point, hashType
	return s.sig(q)
}

// SignHolderHTLCTx asks for a signature of one of our HTLC transactions (asynchronous).
func (s *channelSigner) SignHolderHTLCTx(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, point *btcec.PublicKey, hashType txscript.SigHashType) (*ecdsa.Signature, error) {
	q, err := s.spend(MethodSignHolderHTLCTx, tx, inputIndex, witnessScript, valueSat)
	if err != nil {
		return nil, err
	}
	q.Point, q.SigHashType = point, hashType
	return s.sig(q)
}

// SignDelayedOutput asks for a signature of a spend of our delayed output (asynchronous).
func (s *channelSigner) SignDelayedOutput(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, point *btcec.PublicKey) (*ecdsa.Signature, error) {
	q, err := s.spend(MethodSignDelayedOutput, tx, inputIndex, witnessScript, valueSat)
	if err != nil {
		return nil, err
	}
	q.Point = point
	return s.sig(q)
}

// SignJustice asks for a signature of a penalty spend (asynchronous).
func (s *channelSigner) SignJustice(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, secret [32]byte) (*ecdsa.Signature, error) {
	q, err := s.spend(MethodSignJustice, tx, inputIndex, witnessScript, valueSat)
	if err != nil {
		return nil, err
	}
	q.Secret = secret
	return s.sig(q)
}

// SignPaymentOutput asks for a signature of a spend of our to_remote output (asynchronous).
func (s *channelSigner) SignPaymentOutput(tx *wire.MsgTx, inputIndex int, script []byte, valueSat int64) (*ecdsa.Signature, error) {
	q, err := s.spend(MethodSignPaymentOutput, tx, inputIndex, script, valueSat)
	if err != nil {
		return nil, err
	}
	return s.sig(q)
}

// SignAnchor asks for a signature of a spend of our anchor (asynchronous).
func (s *channelSigner) SignAnchor(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64) (*ecdsa.Signature, error) {
	q, err := s.spend(MethodSignAnchor, tx, inputIndex, witnessScript, valueSat)
	if err != nil {
		return nil, err
	}
	return s.sig(q)
}

// SignChannelAnnouncementWithFundingKey asks for the funding key's signature of a channel
// announcement (asynchronous).
func (s *channelSigner) SignChannelAnnouncementWithFundingKey(announcement []byte) (*ecdsa.Signature, error) {
	q := s.req(MethodSignChannelAnnouncementWithFundingKey)
	q.Data = announcement
	return s.sig(q)
}

// spend returns a Sign* request for input inputIndex of tx. Errors: keys.ErrInputIndexOutOfRange for
// an index that is negative or does not fit the protocol's u32.
func (s *channelSigner) spend(m Method, tx *wire.MsgTx, inputIndex int, script []byte, valueSat int64) (*Request, error) {
	if inputIndex < 0 || uint64(inputIndex) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: index %d", keys.ErrInputIndexOutOfRange, inputIndex)
	}
	q := s.req(m)
	q.Tx, q.InputIndex, q.Script, q.ValueSat = tx, uint32(inputIndex), script, valueSat
	return q, nil
}

// sig makes an asynchronous call answered by a signature.
func (s *channelSigner) sig(q *Request) (*ecdsa.Signature, error) {
	p, err := s.c.asyncCall(q)
	if err != nil {
		return nil, err
	}
	return p.Sig, nil
}
