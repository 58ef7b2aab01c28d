package policy

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/kvstore"
)

// Inner is what the policy wraps; *keys.KeysManager satisfies it.
type Inner interface {
	keys.NodeSigner
	keys.SignerProvider
	keys.EntropySource
}

// Signer wraps an Inner signer and refuses every request that could lose funds (see the package
// doc). It implements keys.NodeSigner, keys.SignerProvider and keys.EntropySource, and is safe for
// concurrent use. Create it with New.
type Signer struct {
	inner Inner
	store kvstore.KVStore
	cfg   Config

	// mu guards node, chans, index and every channel's flows. Lock order: channel.mu, then mu.
	mu    sync.Mutex
	node  nodeState
	chans map[[32]byte]*channel
	// index holds every channel's flows by payment hash, then channel keys id.
	index map[[32]byte]map[[32]byte]flow
}

var (
	_ keys.NodeSigner     = (*Signer)(nil)
	_ keys.SignerProvider = (*Signer)(nil)
	_ keys.EntropySource  = (*Signer)(nil)
)

// Where the state lives in the store: policy/channels/<keys id in hex> and policy/node/state.
const (
	nsPrimary  = "policy"
	nsChannels = "channels"
	nsNode     = "node"
	nodeKey    = "state"
)

func chanKey(id [32]byte) kvstore.Key {
	return kvstore.Key{Primary: nsPrimary, Secondary: nsChannels, Key: hex.EncodeToString(id[:])}
}

var nodeStateKey = kvstore.Key{Primary: nsPrimary, Secondary: nsNode, Key: nodeKey}

// New returns a policy signer around inner that keeps its state in store (namespace "policy"), loading
// what an earlier Signer on the same store persisted. Errors: ErrCorruptState, or the store's.
func New(inner Inner, store kvstore.KVStore, cfg Config) (*Signer, error) {
	if inner == nil || store == nil {
		return nil, errors.New("policy: nil inner signer or store")
	}
	s := &Signer{inner: inner, store: store, cfg: cfg.withDefaults(), chans: map[[32]byte]*channel{},
		index: map[[32]byte]map[[32]byte]flow{}, node: nodeState{ledger: map[[32]byte]*payEntry{}}}
	b, _, err := store.Read(nodeStateKey)
	switch {
	case err == nil:
		n, err := decodeNode(b)
		if err != nil {
			return nil, err
		}
		s.node = *n
	case !errors.Is(err, kvstore.ErrNotFound):
		return nil, fmt.Errorf("policy: reading node state: %w", err)
	}
	names, err := store.List(nsPrimary, nsChannels)
	if err != nil {
		return nil, fmt.Errorf("policy: listing channels: %w", err)
	}
	for _, name := range names {
		var id [32]byte
		if raw, err := hex.DecodeString(name); err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%w: channel key %q", ErrCorruptState, name)
		} else {
			copy(id[:], raw)
		}
		b, _, err := store.Read(chanKey(id))
		if err != nil {
			return nil, fmt.Errorf("policy: reading channel %s: %w", name, err)
		}
		st, err := decodeChannel(b)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", name, err)
		}
		ch := &channel{id: id, st: st}
		s.chans[id] = ch
		s.setFlows(ch, st.flows())
	}
	return s, nil
}

// channel returns the shared state of the channel with keys id, creating an empty one.
func (s *Signer) channel(id [32]byte) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chans[id]
	if ch == nil {
		ch = &channel{id: id, st: &chanState{}}
		s.chans[id] = ch
	}
	return ch
}

// setFlows replaces ch's flows in the index. s.mu must be held.
func (s *Signer) setFlows(ch *channel, flows map[[32]byte]flow) {
	for h := range ch.flows {
		if m := s.index[h]; m != nil {
			delete(m, ch.id)
			if len(m) == 0 {
				delete(s.index, h)
			}
		}
	}
	for h, f := range flows {
		if f.out == 0 && f.in == 0 {
			continue
		}
		m := s.index[h]
		if m == nil {
			m = map[[32]byte]flow{}
			s.index[h] = m
		}
		m[ch.id] = f
	}
	ch.flows = flows
}

// step is one accepted commitment: the chain's previous latest (nil for the first) and the new one.
type step struct {
	holder     bool
	prev, next *commitRec
}

// newOutgoing returns the hashes of the outgoing HTLCs that next adds to prev and that no commitment
// of the other chain (other) already holds.
func newOutgoing(prev, next *commitRec, other []*commitRec) map[[32]byte]bool {
	counts := func(r *commitRec) map[htlcKey]int {
		m := map[htlcKey]int{}
		if r != nil {
			for _, h := range r.htlcs {
				if h.outgoing {
					m[htlcKey{h.outgoing, h.amountMsat, h.hash, h.cltv}]++
				}
			}
		}
		return m
	}
	before := counts(prev)
	elsewhere := map[htlcKey]int{}
	for _, r := range other {
		for k, n := range counts(r) {
			elsewhere[k] = max(elsewhere[k], n)
		}
	}
	out := map[[32]byte]bool{}
	for k, n := range counts(next) {
		if n > before[k] && n > elsewhere[k] {
			out[k.hash] = true
		}
	}
	return out
}

// commit checks the node-wide rules for ch's new state ns (payment-approved, htlc-routing-balance,
// velocity), records what steps paid, persists ns and any ledger change in one batch, and only then
// installs them. The caller holds ch.mu.
func (s *Signer) commit(ch *channel, ns *chanState, steps []step) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newLedgerTx(ch.id, nil)
	for _, st := range steps {
		st.next.paid = t.paidAfter(st.prev, st.next) // next is not installed yet
	}
	flows := ns.flows()
	t.flows = flows
	// Only a hash with a new outgoing HTLC needs covering: one that merely reaches the other chain
	// risks nothing new (and an approval that expired meanwhile must not block the channel).
	for _, st := range steps {
		other := ns.holder
		if st.holder {
			other = ns.cp
		}
		for h := range newOutgoing(st.prev, st.next, other) {
			if err := t.cover(h); err != nil {
				return err
			}
		}
	}
	var b kvstore.Batch
	b.Put(chanKey(ch.id), encodeChannel(ns))
	var node *nodeState
	if t.dirty() {
		node = t.merged()
		b.Put(nodeStateKey, encodeNode(node))
	}
	if err := s.store.Commit(&b); err != nil {
		return fmt.Errorf("policy: persisting state: %w", err)
	}
	ch.st = ns
	s.setFlows(ch, flows)
	if node != nil {
		s.node.ledger, s.node.velocity = node.ledger, node.velocity
	}
	return nil
}

// commitNode persists and installs a ledger change alone. s.mu must be held.
func (s *Signer) commitNode(t *ledgerTx) error {
	node := t.merged()
	if err := s.store.Write(nodeStateKey, encodeNode(node)); err != nil {
		return fmt.Errorf("policy: persisting state: %w", err)
	}
	s.node.ledger, s.node.velocity = node.ledger, node.velocity
	return nil
}

// SetTime gives the policy the host's current time, in unix seconds, for the velocity window and the
// expiry of approvals. Time never goes back: an earlier time is ignored. The time is persisted with
// the node state; call SetTime after New.
func (s *Signer) SetTime(unixSecs uint64) {
	s.mu.Lock()
	s.node.now = max(s.node.now, unixSecs)
	s.mu.Unlock()
}

// isWallet reports whether script is one of ours: the inner signer's destination script for the
// channel, its shutdown script, or an allowlisted one.
func (s *Signer) isWallet(id [32]byte, script []byte) bool {
	if d, err := s.inner.GetDestinationScript(id); err == nil && len(d) > 0 && bytes.Equal(d, script) {
		return true
	}
	if d, err := s.inner.GetShutdownScriptPubKey(); err == nil && len(d) > 0 && bytes.Equal(d, script) {
		return true
	}
	for _, a := range s.cfg.Allowlist {
		if bytes.Equal(a, script) {
			return true
		}
	}
	return false
}

// GetNodeID passes through.
func (s *Signer) GetNodeID() *btcec.PublicKey { return s.inner.GetNodeID() }

// ECDH passes through (BOLT 8 handshakes and onions hold no funds).
func (s *Signer) ECDH(theirPub *btcec.PublicKey) ([32]byte, error) { return s.inner.ECDH(theirPub) }

// SignGossipMessage passes through: the node key signs gossip, which moves no funds.
func (s *Signer) SignGossipMessage(data []byte) (*ecdsa.Signature, error) {
	return s.inner.SignGossipMessage(data)
}

// SignInvoice passes through: an invoice asks to be paid; it cannot lose funds.
func (s *Signer) SignInvoice(hrp string, data5 []byte) ([]byte, error) {
	return s.inner.SignInvoice(hrp, data5)
}

// GetSecureRandomBytes passes through.
func (s *Signer) GetSecureRandomBytes() [32]byte { return s.inner.GetSecureRandomBytes() }

// GenerateChannelKeysID passes through.
func (s *Signer) GenerateChannelKeysID(inbound bool, channelValueSat int64, userChannelID [16]byte) [32]byte {
	return s.inner.GenerateChannelKeysID(inbound, channelValueSat, userChannelID)
}

// GetDestinationScript passes through.
func (s *Signer) GetDestinationScript(channelKeysID [32]byte) ([]byte, error) {
	return s.inner.GetDestinationScript(channelKeysID)
}

// GetShutdownScriptPubKey passes through.
func (s *Signer) GetShutdownScriptPubKey() ([]byte, error) { return s.inner.GetShutdownScriptPubKey() }

// DeriveChannelSigner returns a policy-enforcing ChannelSigner around the inner signer's one. Every
// signer derived for the same keys id shares one channel state; when the policy already knows the
// channel's parameters it gives them to the new inner signer.
func (s *Signer) DeriveChannelSigner(channelValueSat int64, channelKeysID [32]byte) keys.ChannelSigner {
	in := s.inner.DeriveChannelSigner(channelValueSat, channelKeysID)
	if in == nil {
		return nil
	}
	ch := s.channel(channelKeysID)
	ch.mu.Lock()
	if p := ch.st.params; p != nil {
		cp := *p
		_ = in.ProvideChannelParameters(&cp) // the policy still checks every request itself
	}
	ch.mu.Unlock()
	return &channelSigner{s: s, ch: ch, inner: in, valueSat: channelValueSat}
}

// ReadChannelSigner re-creates a policy-enforcing signer from ChannelSigner.Write's 40 bytes (keys id,
// then the channel value as 8 bytes big-endian), as keys.KeysManager.ReadChannelSigner does for bare
// signers. Errors: keys.ErrInvalidEncoding.
func (s *Signer) ReadChannelSigner(data []byte) (keys.ChannelSigner, error) {
	if len(data) != 40 {
		return nil, fmt.Errorf("%w: channel signer is %d bytes, want 40", keys.ErrInvalidEncoding, len(data))
	}
	var id [32]byte
	copy(id[:], data[:32])
	return s.DeriveChannelSigner(int64(binary.BigEndian.Uint64(data[32:])), id), nil
}
