package policy

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
)

// stateSamples returns encodings of a channel with HTLCs on both chains and of a node with a ledger.
func stateSamples(t *testing.T) (channel, node []byte) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, true)
	require.NoError(t, h.approveInvoice(hashOf(1), 5_000_000, 0))
	require.NoError(t, tc.round(tc.st.with(out(1, 5_000_000))))
	require.NoError(t, tc.round(tc.st.settle(0, true)))
	require.NoError(t, tc.round(tc.st.with(tHTLC{amt: 1_000, hash: hashOf(2)})))
	channel, _, err := h.store.Read(chanKey(tc.id))
	require.NoError(t, err)
	node, _, err = h.store.Read(nodeStateKey)
	require.NoError(t, err)
	return channel, node
}

func TestStateEncoding(t *testing.T) {
	ch, node := stateSamples(t)
	st, err := decodeChannel(ch)
	require.NoError(t, err)
	require.Equal(t, ch, encodeChannel(st))
	n, err := decodeNode(node)
	require.NoError(t, err)
	require.Equal(t, node, encodeNode(n))
	require.NotEmpty(t, n.ledger)
	for _, b := range func() [][]byte { c, n := handMadeStates(); return [][]byte{c, n} }() {
		if _, err := decodeChannel(b); err != nil {
			_, err = decodeNode(b)
			require.NoError(t, err)
		}
	}

	// An unknown odd record is skipped; an unknown even one is refused; so is another version.
	s, err := lnwire.DecodeTLVStream(ch[1:])
	require.NoError(t, err)
	odd := append([]byte{stateVersion}, s.Set(101, []byte{1, 2}).Encode()...)
	_, err = decodeChannel(odd)
	require.NoError(t, err)
	even := append([]byte{stateVersion}, s.Set(100, []byte{1}).Encode()...)
	_, err = decodeChannel(even)
	require.ErrorIs(t, err, ErrCorruptState)
	_, err = decodeNode(append([]byte{2}, node[1:]...))
	require.ErrorIs(t, err, ErrCorruptState)

	// New refuses a corrupt store rather than forgetting.
	store := kvstore.NewMemStore()
	require.NoError(t, store.Write(nodeStateKey, even))
	_, err = New(keys.NewKeysManager([32]byte{1}, 1, 0), store, Config{})
	require.ErrorIs(t, err, ErrCorruptState)
}

// handMadeStates builds a channel and a node state without a harness (fuzz seeds).
func handMadeStates() (channel, node []byte) {
	pub := func(b byte) *btcec.PublicKey {
		k, _ := btcec.PrivKeyFromBytes(bytes32(b))
		return k.PubKey()
	}
	ks := func(b byte) keys.ChannelPublicKeys {
		return keys.ChannelPublicKeys{FundingPubkey: pub(b), RevocationBasepoint: pub(b + 1), PaymentPoint: pub(b + 2),
			DelayedPaymentBasepoint: pub(b + 3), HTLCBasepoint: pub(b + 4)}
	}
	rec := &commitRec{num: 3, point: pub(20), feerate: 253, toHolderMsat: 7, toCounterpartyMsat: 8,
		htlcs: []htlcRec{{outgoing: true, amountMsat: 5, hash: hashOf(1), cltv: 9, outIndex: -1}, {amountMsat: 6, outIndex: 2}},
		paid:  map[[32]byte]uint64{hashOf(1): 4, hashOf(2): 1}}
	st := &chanState{params: &keys.ChannelTransactionParameters{IsOutbound: true, ValueSat: 1000, PushMsat: 1, Anchors: true,
		HolderPubkeys: ks(1), CounterpartyPubkeys: ks(10), HolderToSelfDelay: 6, CounterpartyToSelfDelay: 7,
		HolderDustLimitSat: 354, CounterpartyDustLimitSat: 355}, holder: []*commitRec{rec}, cp: []*commitRec{rec},
		holderRevokedNext: 3, cpRevokedNext: 2, holderBroadcast: 4}
	n := &nodeState{now: 5, velocity: []velEntry{{1, 2}}, ledger: map[[32]byte]*payEntry{hashOf(1): {kind: kindInvoice,
		approvedMsat: 9, expiresAt: 10}}}
	return encodeChannel(st), encodeNode(n)
}

func FuzzDecodeState(f *testing.F) {
	ch, node := handMadeStates()
	f.Add(ch)
	f.Add(node)
	f.Add([]byte{stateVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, err := decodeChannel(b); err == nil {
			enc := encodeChannel(st)
			st2, err := decodeChannel(enc)
			if err != nil || !bytes.Equal(enc, encodeChannel(st2)) {
				t.Fatalf("channel state does not round-trip: %v", err)
			}
		} else if !errors.Is(err, ErrCorruptState) {
			t.Fatalf("unexpected error %v", err)
		}
		if n, err := decodeNode(b); err == nil {
			enc := encodeNode(n)
			n2, err := decodeNode(enc)
			if err != nil || !bytes.Equal(enc, encodeNode(n2)) {
				t.Fatalf("node state does not round-trip: %v", err)
			}
		} else if !errors.Is(err, ErrCorruptState) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// pendingInner answers ErrSignerPending while pending is set.
type pendingInner struct {
	*keys.KeysManager
	pending *bool
}

func (p pendingInner) DeriveChannelSigner(v int64, id [32]byte) keys.ChannelSigner {
	return pendingChannel{p.KeysManager.DeriveChannelSigner(v, id), p.pending}
}

type pendingChannel struct {
	keys.ChannelSigner
	pending *bool
}

func (p pendingChannel) SignCounterpartyCommitment(c *keys.CommitmentTx) (*ecdsa.Signature, []*ecdsa.Signature, error) {
	if *p.pending {
		return nil, nil, keys.ErrSignerPending
	}
	return p.ChannelSigner.SignCounterpartyCommitment(c)
}

func TestInnerErrorsPassThrough(t *testing.T) {
	h := newHarness(t, nil)
	pending := false
	pol, err := New(pendingInner{h.kmA, &pending}, kvstore.NewMemStore(), h.cfg)
	require.NoError(t, err)
	pol.SetTime(testNow)
	h.pol = pol
	tc := h.open(1_000_000, false)
	pending = true
	_, _, err = tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, tc.st))
	require.ErrorIs(t, err, keys.ErrSignerPending)
	var v *Violation
	require.False(t, errors.As(err, &v))
	pending = false
	require.NoError(t, tc.round(tc.st)) // nothing was recorded: the same request passes later
}
