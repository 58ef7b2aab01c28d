package remote

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
)

// provide gives the remote signer the channel parameters.
func provide(t *testing.T, f *fixture, c *Client, s *Server) keys.ChannelSigner {
	t.Helper()
	rs := c.DeriveChannelSigner(f.value, f.keysID)
	_, err := await(t, c, s, func() (any, error) { return nil, rs.ProvideChannelParameters(f.params) })
	require.NoError(t, err)
	return rs
}

// TestAsyncPendingThenCached: the first call queues and returns ErrSignerPending, a repeat while in
// flight queues nothing more, the answer calls OnAnswer, the next calls get it (a signature stays
// cached until evicted).
func TestAsyncPendingThenCached(t *testing.T) {
	f := newFixture(t)
	var answers atomic.Int32
	c, s := newPair(t, f, ClientConfig{OnAnswer: func() { answers.Add(1) }})
	rs := provide(t, f, c, s)
	answers.Store(0)
	ct := f.counterpartyCommitment(t, 1)
	wantSig, wantHTLC, err := f.local.SignCounterpartyCommitment(ct)
	require.NoError(t, err)

	_, _, err = rs.SignCounterpartyCommitment(ct)
	require.ErrorIs(t, err, keys.ErrSignerPending)
	_, _, err = rs.SignCounterpartyCommitment(ct)
	require.ErrorIs(t, err, keys.ErrSignerPending)
	frames := c.PendingRequests()
	require.Len(t, frames, 1, "one request for two calls")
	_, _, err = rs.SignCounterpartyCommitment(ct)
	require.ErrorIs(t, err, keys.ErrSignerPending, "in flight: not queued again")
	require.Empty(t, c.PendingRequests())

	require.NoError(t, c.HandleResponse(s.Handle(frames[0])))
	require.Equal(t, int32(1), answers.Load())
	sig, htlcSigs, err := rs.SignCounterpartyCommitment(ct)
	require.NoError(t, err)
	require.Equal(t, norm(wantSig), norm(sig))
	require.Equal(t, norm(wantHTLC), norm(htlcSigs))

	// The signature stays: the same request again gets it without asking.
	again, _, err := rs.SignCounterpartyCommitment(ct)
	require.NoError(t, err)
	require.Equal(t, norm(sig), norm(again))
	require.Empty(t, c.PendingRequests())

	// Another commitment is another request.
	_, _, err = rs.SignCounterpartyCommitment(f.counterpartyCommitment(t, 2))
	require.ErrorIs(t, err, keys.ErrSignerPending)
	require.Len(t, c.PendingRequests(), 1)

	// An answer to nothing in flight is refused.
	require.ErrorIs(t, c.HandleResponse(s.Handle(frames[0])), ErrUnexpectedResponse)
}

// TestDisconnectResends: requests in flight when the link drops are sent again, byte for byte, after
// the reconnection, and nothing is handed out while the link is down.
func TestDisconnectResends(t *testing.T) {
	f := newFixture(t)
	c, s := newPair(t, f, ClientConfig{})
	rs := provide(t, f, c, s)
	tx := spendTx(0, 330)
	anchor := anchorScript(t, f.local.Pubkeys().FundingPubkey)
	_, err := rs.SignAnchor(tx, 0, anchor, 330)
	require.ErrorIs(t, err, keys.ErrSignerPending)
	sent := c.PendingRequests()
	require.Len(t, sent, 1)

	c.Disconnected()
	require.False(t, c.IsConnected())
	require.Nil(t, c.PendingRequests())
	_, err = rs.SignAnchor(tx, 0, anchor, 330)
	require.ErrorIs(t, err, keys.ErrSignerPending, "still waiting, not queued twice")
	_, err = rs.SignPaymentOutput(spendTx(1, 50_000), 0, p2wpkh(f.local.Pubkeys().PaymentPoint), 50_000)
	require.ErrorIs(t, err, keys.ErrSignerPending, "queued while down")
	require.Nil(t, c.PendingRequests())

	c.Connected()
	resent := c.PendingRequests()
	require.Len(t, resent, 3, "parameters replay, the request in flight, the one queued while down")
	q, err := DecodeRequest(resent[0])
	require.NoError(t, err)
	require.Equal(t, MethodProvideChannelParameters, q.Method)
	require.Equal(t, sent[0], resent[1], "the same frame again")
	for _, fr := range resent {
		require.NoError(t, c.HandleResponse(s.Handle(fr)))
	}
	sig, err := rs.SignAnchor(tx, 0, anchor, 330)
	require.NoError(t, err)
	want, _ := f.local.SignAnchor(tx, 0, anchor, 330)
	require.Equal(t, norm(want), norm(sig))
}

// TestSignerRestart: a server that lost its state (a restarted signer) gets the channel parameters
// again before the resent request, so the channel signs on.
func TestSignerRestart(t *testing.T) {
	f := newFixture(t)
	c, s := newPair(t, f, ClientConfig{})
	rs := provide(t, f, c, s)
	ct := f.counterpartyCommitment(t, 3)
	_, _, err := rs.SignCounterpartyCommitment(ct)
	require.ErrorIs(t, err, keys.ErrSignerPending)
	require.Len(t, c.PendingRequests(), 1) // lost with the signer
	c.Disconnected()

	s2, err := NewServer(ServerConfig{Inner: keys.NewKeysManager(testSeed, 1700000001, 0)})
	require.NoError(t, err)
	c.Connected()
	sig, err := await(t, c, s2, func() (*ecdsa.Signature, error) {
		sig, _, err := rs.SignCounterpartyCommitment(ct)
		return sig, err
	})
	require.NoError(t, err)
	want, _, _ := f.local.SignCounterpartyCommitment(ct)
	require.Equal(t, norm(want), norm(sig))
}

// TestSyncCalls: synchronous calls fail at once while the link is down, fail when it drops while
// they wait, and work once it is up.
func TestSyncCalls(t *testing.T) {
	f := newFixture(t)
	s, err := NewServer(ServerConfig{Inner: f.km})
	require.NoError(t, err)
	c := NewClient(ClientConfig{})
	defer c.Close()
	peer := f.cpKM.GetNodeID()

	_, err = c.ECDH(peer)
	require.ErrorIs(t, err, keys.ErrSignerPending)
	require.ErrorIs(t, err, ErrNotConnected)

	c.Connected()
	done := make(chan error, 1)
	go func() {
		_, err := c.ECDH(peer)
		done <- err
	}()
	waitPending(t, c, 1)
	c.Disconnected()
	err = <-done
	require.ErrorIs(t, err, keys.ErrSignerPending)
	require.ErrorIs(t, err, ErrNotConnected)
	c.Connected()
	require.Empty(t, c.PendingRequests(), "a failed synchronous call is not resent")

	startPump(t, c, s)
	got, err := c.ECDH(peer)
	require.NoError(t, err)
	want, _ := f.km.ECDH(peer)
	require.Equal(t, want, got)
}

// waitPending waits until n requests are queued and takes them (as a link would send them).
func waitPending(t *testing.T, c *Client, n int) [][]byte {
	t.Helper()
	var got [][]byte
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n {
		require.True(t, time.Now().Before(deadline), "requests not queued")
		select {
		case <-c.RequestsReady():
		case <-time.After(10 * time.Millisecond):
		}
		got = append(got, c.PendingRequests()...)
	}
	return got
}

// TestPersistentCallsWait: GetNodeID and a new channel's Pubkeys wait across reconnections, and their
// answers are kept: later calls answer while the link is down.
func TestPersistentCallsWait(t *testing.T) {
	f := newFixture(t)
	s, err := NewServer(ServerConfig{Inner: f.km})
	require.NoError(t, err)
	c := NewClient(ClientConfig{})
	defer c.Close()
	node := make(chan *btcec.PublicKey, 1)
	go func() { node <- c.GetNodeID() }()
	rs := c.DeriveChannelSigner(f.value, f.keysID)
	pub := make(chan keys.ChannelPublicKeys, 1)
	go func() { pub <- rs.Pubkeys() }()

	c.Connected()
	frames := waitPending(t, c, 2)
	c.Disconnected() // lost on the way
	c.Connected()
	again := waitPending(t, c, 2)
	require.ElementsMatch(t, frames, again)
	for _, fr := range again {
		require.NoError(t, c.HandleResponse(s.Handle(fr)))
	}
	require.True(t, f.km.GetNodeID().IsEqual(<-node))
	require.Equal(t, norm(f.local.Pubkeys()), norm(<-pub))

	c.Disconnected()
	require.True(t, f.km.GetNodeID().IsEqual(c.GetNodeID()))
	require.Equal(t, norm(f.local.Pubkeys()), norm(rs.Pubkeys()))
	// The derivation brought the first points.
	for n := uint64(0); n < 3; n++ {
		p, err := rs.GetPerCommitmentPoint(n)
		require.NoError(t, err, n)
		want, _ := f.local.GetPerCommitmentPoint(n)
		require.True(t, want.IsEqual(p))
	}
	_, err = rs.GetPerCommitmentPoint(3)
	require.ErrorIs(t, err, keys.ErrSignerPending)
	_, err = rs.GetPerCommitmentPoint(keys.MaxCommitmentIndex + 1)
	require.ErrorIs(t, err, keys.ErrCommitmentNumberOutOfRange)
}

// TestPointsAhead: ReleaseCommitmentSecret and GetPerCommitmentPoint answers carry the next points.
func TestPointsAhead(t *testing.T) {
	f := newFixture(t)
	c, s := newPair(t, f, ClientConfig{})
	rs := provide(t, f, c, s)
	_, err := await(t, c, s, func() (any, error) { return rs.ReleaseCommitmentSecret(10) })
	require.NoError(t, err)
	for _, n := range []uint64{11, 12} {
		p, err := rs.GetPerCommitmentPoint(n)
		require.NoError(t, err, n)
		want, _ := f.local.GetPerCommitmentPoint(n)
		require.True(t, want.IsEqual(p))
	}
	_, err = rs.GetPerCommitmentPoint(500)
	require.ErrorIs(t, err, keys.ErrSignerPending)
	require.Equal(t, 1, exchange(t, c, s))
	for _, n := range []uint64{500, 501, 502} {
		_, err := rs.GetPerCommitmentPoint(n)
		require.NoError(t, err, n)
	}
}

// pendingInner answers ErrSignerPending to SignGossipMessage until released.
type pendingInner struct {
	*keys.KeysManager
	ready atomic.Bool
}

func (p *pendingInner) SignGossipMessage(data []byte) (*ecdsa.Signature, error) {
	if !p.ready.Load() {
		return nil, keys.ErrSignerPending
	}
	return p.KeysManager.SignGossipMessage(data)
}

// TestInnerPending: a signer that is not ready answers pending; the client forgets the request, and
// the synchronous call returns keys.ErrSignerPending; asked again once the signer is ready, it signs.
func TestInnerPending(t *testing.T) {
	f := newFixture(t)
	in := &pendingInner{KeysManager: f.km}
	s, err := NewServer(ServerConfig{Inner: in})
	require.NoError(t, err)
	var answers atomic.Int32
	c := NewClient(ClientConfig{OnAnswer: func() { answers.Add(1) }})
	c.Connected()
	defer c.Close()
	call := func() (*ecdsa.Signature, error) {
		type result struct {
			sig *ecdsa.Signature
			err error
		}
		done := make(chan result, 1)
		go func() {
			sig, err := c.SignGossipMessage([]byte("x"))
			done <- result{sig, err}
		}()
		for {
			select {
			case r := <-done:
				return r.sig, r.err
			default:
				exchange(t, c, s)
				time.Sleep(time.Millisecond)
			}
		}
	}
	_, err = call()
	require.ErrorIs(t, err, keys.ErrSignerPending)
	require.Equal(t, int32(0), answers.Load(), "a pending answer unblocks nothing")
	in.ready.Store(true)
	sig, err := call()
	require.NoError(t, err)
	want, _ := f.km.SignGossipMessage([]byte("x"))
	require.Equal(t, norm(want), norm(sig))
}

// policyInner refuses every counterparty commitment and keysend, the first with a RefusedError, the
// second with its own error type recognised by the RefusalRule hook; it approves invoices.
type policyInner struct{ *keys.KeysManager }

type keysendLimit struct{ max uint64 }

func (e *keysendLimit) Error() string { return fmt.Sprintf("keysend above %d msat", e.max) }

func (p *policyInner) ApproveInvoice(string, uint64, []byte) error { return nil }

func (p *policyInner) ApproveKeysend(_ *btcec.PublicKey, _ [32]byte, amount, _ uint64, _ []byte) error {
	if amount > 1000 {
		return fmt.Errorf("policy: %w", &keysendLimit{max: 1000})
	}
	return nil
}

func (p *policyInner) DeriveChannelSigner(v int64, id [32]byte) keys.ChannelSigner {
	return &refusingSigner{ChannelSigner: p.KeysManager.DeriveChannelSigner(v, id)}
}

type refusingSigner struct{ keys.ChannelSigner }

func (r *refusingSigner) SignCounterpartyCommitment(*keys.CommitmentTx) (*ecdsa.Signature, []*ecdsa.Signature, error) {
	return nil, nil, fmt.Errorf("wrapped: %w", &RefusedError{Rule: "commitment-fee-range", Detail: "feerate 2500 too high"})
}

// TestRefusals: policy refusals reach the client with their rule tag; approvals go to the Approver.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	s, err := NewServer(ServerConfig{Inner: &policyInner{f.km}, RefusalRule: func(err error) (string, string, bool) {
		var k *keysendLimit
		if errors.As(err, &k) {
			return "keysend-limit", k.Error(), true
		}
		return "", "", false
	}})
	require.NoError(t, err)
	c := NewClient(ClientConfig{})
	c.Connected()
	defer c.Close()
	startPump(t, c, s)

	require.NoError(t, c.ApproveInvoice("lnbc1", 10, nil))
	require.NoError(t, c.ApproveKeysend(f.cpKM.GetNodeID(), [32]byte{}, 1000, 0, nil))
	err = c.ApproveKeysend(f.cpKM.GetNodeID(), [32]byte{}, 1001, 0, nil)
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "keysend-limit", re.Rule)
	require.Equal(t, "keysend above 1000 msat", re.Detail)

	w := newAsyncWaiter()
	c2 := NewClient(ClientConfig{OnAnswer: w.onAnswer})
	c2.Connected()
	defer c2.Close()
	startPump(t, c2, s)
	rs := c2.DeriveChannelSigner(f.value, f.keysID)
	_, err = w.wait(t, func() (any, error) { return nil, rs.ProvideChannelParameters(f.params) })
	require.NoError(t, err)
	_, err = w.wait(t, func() (any, error) {
		_, _, err := rs.SignCounterpartyCommitment(f.counterpartyCommitment(t, 1))
		return nil, err
	})
	require.ErrorAs(t, err, &re)
	require.Equal(t, "commitment-fee-range", re.Rule)
	require.Equal(t, "feerate 2500 too high", re.Detail)
	require.ErrorIs(t, err, ErrRefused)
	require.NotErrorIs(t, err, keys.ErrSignerPending)
}

// TestClose: waiting calls return, later calls fail.
func TestClose(t *testing.T) {
	f := newFixture(t)
	c := NewClient(ClientConfig{})
	node := make(chan *btcec.PublicKey, 1)
	go func() { node <- c.GetNodeID() }()
	c.Connected()
	waitPending(t, c, 1)
	c.Close()
	require.Nil(t, <-node)
	_, err := c.ECDH(f.cpKM.GetNodeID())
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.SignGossipMessage([]byte("x"))
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, keys.ChannelPublicKeys{}, c.DeriveChannelSigner(1, [32]byte{1}).Pubkeys())
	require.Equal(t, [32]byte{}, c.GenerateChannelKeysID(false, 1, [16]byte{}))
	require.ErrorIs(t, c.WaitConnected(t.Context()), ErrClosed)
}

// TestMaxOutstanding: answers not collected make room for new requests, oldest first; requests
// without answers are never dropped.
func TestMaxOutstanding(t *testing.T) {
	f := newFixture(t)
	c, s := newPair(t, f, ClientConfig{MaxOutstanding: 2})
	cs := c.DeriveChannelSigner(1_000_000, [32]byte{7})
	exchange(t, c, s) // the channel's keys
	release := func(n uint64) error {
		_, err := cs.ReleaseCommitmentSecret(n)
		return err
	}
	require.ErrorIs(t, release(1), keys.ErrSignerPending)
	require.ErrorIs(t, release(2), keys.ErrSignerPending)
	require.ErrorIs(t, release(3), ErrTooManyRequests)
	require.Equal(t, 2, exchange(t, c, s))
	require.ErrorIs(t, release(3), keys.ErrSignerPending, "the answer to 1 was dropped")
	require.NoError(t, release(2))
	require.ErrorIs(t, release(1), keys.ErrSignerPending, "asked again")
}

// TestWaitConnected returns once Connected is called.
func TestWaitConnected(t *testing.T) {
	c := NewClient(ClientConfig{})
	defer c.Close()
	go c.Connected()
	require.NoError(t, c.WaitConnected(t.Context()))
	require.True(t, c.IsConnected())
}
