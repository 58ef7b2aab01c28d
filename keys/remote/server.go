package remote

import (
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/keys"
)

// Inner is what a Server serves: the signer that holds the seed (a keys.KeysManager, possibly wrapped
// by a policy).
type Inner interface {
	keys.NodeSigner
	keys.SignerProvider
	keys.EntropySource
}

// Approver judges payments before the node sends them (a policy). clientSig is an optional signature
// by whoever asked the node to pay, for a policy that checks it; its format is the policy's. A refusal
// should be a Refusal (for example a *RefusedError) so that its rule tag reaches the client.
type Approver interface {
	// ApproveInvoice approves paying the BOLT 11 invoice bolt11 with at most maxFeeMsat of fees.
	ApproveInvoice(bolt11 string, maxFeeMsat uint64, clientSig []byte) error
	// ApproveKeysend approves a spontaneous payment of amountMsat to payee with payment hash hash and
	// at most maxFeeMsat of fees.
	ApproveKeysend(payee *btcec.PublicKey, hash [32]byte, amountMsat, maxFeeMsat uint64, clientSig []byte) error
}

// DefaultMaxChannels is ServerConfig.MaxChannels when it is zero.
const DefaultMaxChannels = 1 << 16

// ServerConfig configures a Server.
type ServerConfig struct {
	// Inner signs; required.
	Inner Inner
	// Approver judges payment approvals. When nil, Inner is used if it implements Approver; otherwise
	// every payment is approved (an Inner without a policy signs whatever it is asked anyway).
	Approver Approver
	// Wallet, when set, answers the on-chain wallet's methods (AccountPubKey, SignWalletInputs); when
	// nil they are refused with ErrNoWallet.
	Wallet WalletInner
	// MaxChannels bounds the channel signers the server keeps (0: DefaultMaxChannels). A request for
	// another channel is answered with CodeTooManyChannels.
	MaxChannels int
	// RefusalRule, when set, is asked first whether an Inner error is a policy refusal, by which rule
	// and why (a policy package's own error type, e.g. one holding a rule tag and a detail); errors
	// implementing Refusal are recognised without it.
	RefusalRule func(err error) (rule, detail string, refused bool)
}

// Server answers request frames with an Inner. It keeps the channel signers it derived, by keys id,
// deriving one on first use from the request's keys id and channel value. It is safe for concurrent
// use; a link calls Handle for each request in the order they arrived and sends the answers in that
// order.
type Server struct {
	cfg ServerConfig

	mu      sync.Mutex
	signers map[[32]byte]keys.ChannelSigner
}

// NewServer returns a Server for cfg. Errors: when cfg.Inner is nil.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Inner == nil {
		return nil, errors.New("remote: ServerConfig.Inner is nil")
	}
	if cfg.MaxChannels <= 0 {
		cfg.MaxChannels = DefaultMaxChannels
	}
	if cfg.Approver == nil {
		if a, ok := cfg.Inner.(Approver); ok {
			cfg.Approver = a
		}
	}
	return &Server{cfg: cfg, signers: map[[32]byte]keys.ChannelSigner{}}, nil
}

// Handle decodes one request frame, calls Inner and returns the response frame. A request that does
// not decode is answered with an error response (CodeMalformed, CodeUnknownMethod or
// CodeUnsupportedVersion) under the ID and method its header shows, or ID 0 and method 0 when even
// the header is unreadable. Handle never fails otherwise: the Inner's errors travel in the response.
func (s *Server) Handle(request []byte) (response []byte) {
	q, err := DecodeRequest(request)
	if err != nil {
		id, m, _ := PeekRequest(request)
		return s.encode(errorResponse(id, m, err, nil))
	}
	p, err := s.dispatch(q)
	if err != nil {
		p = errorResponse(q.ID, q.Method, err, s.cfg.RefusalRule)
	}
	p.ID, p.Method = q.ID, q.Method
	return s.encode(p)
}

// encode encodes p, or an error response when p cannot be encoded.
func (s *Server) encode(p *Response) []byte {
	b, err := EncodeResponse(p)
	if err != nil {
		b, _ = EncodeResponse(&Response{ID: p.ID, Method: p.Method, Code: CodeOther, Message: err.Error()})
	}
	return b
}

// signer returns the channel signer for q's keys id, deriving it with q's channel value on first use.
func (s *Server) signer(q *Request) (keys.ChannelSigner, error) {
	s.mu.Lock()
	cs, ok := s.signers[q.KeysID]
	full := len(s.signers) >= s.cfg.MaxChannels
	s.mu.Unlock()
	if ok {
		return cs, nil
	}
	if full {
		return nil, fmt.Errorf("%w: %d", ErrTooManyChannels, s.cfg.MaxChannels)
	}
	cs = s.cfg.Inner.DeriveChannelSigner(q.ChannelValueSat, q.KeysID)
	if cs == nil {
		return nil, errors.New("remote: inner signer derived no channel signer")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.signers[q.KeysID]; ok {
		return prev, nil
	}
	s.signers[q.KeysID] = cs
	return cs, nil
}

// Forget drops the channel signer of keysID (for example once the channel is closed and swept); a
// later request for it derives it again.
func (s *Server) Forget(keysID [32]byte) {
	s.mu.Lock()
	delete(s.signers, keysID)
	s.mu.Unlock()
}

// points returns the per-commitment points from..from+n-1 that exist; an error only for the first.
func points(cs keys.ChannelSigner, from uint64, n int) ([]NumberedPoint, error) {
	var out []NumberedPoint
	for i := 0; i < n; i++ {
		num := from + uint64(i)
		if num > keys.MaxCommitmentIndex {
			break
		}
		p, err := cs.GetPerCommitmentPoint(num)
		if err != nil {
			if i == 0 {
				return nil, err
			}
			break
		}
		out = append(out, NumberedPoint{CommitmentNumber: num, Point: p})
	}
	return out, nil
}

// pointsAhead is how many points answers carry: the requested one and the next ones.
const pointsAhead = 3
