package signerlink

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/keys/remote"
)

var seed = sha256.Sum256([]byte("link test seed"))

// channel is a channel of the signer's seed with a counterparty, for signing tests.
type channel struct {
	km       *keys.KeysManager
	keysID   [32]byte
	value    int64
	local    keys.ChannelSigner
	cp       keys.ChannelSigner
	params   *keys.ChannelTransactionParameters
	cpNodeID *btcec.PublicKey
}

func newChannel(t testing.TB) *channel {
	km := keys.NewKeysManager(seed, 1, 1)
	cpKM := keys.NewKeysManager(sha256.Sum256([]byte("cp")), 1, 2)
	ch := &channel{km: km, value: 10_000_000, cpNodeID: cpKM.GetNodeID()}
	ch.keysID = km.GenerateChannelKeysID(false, ch.value, [16]byte{1})
	ch.local = km.DeriveChannelSigner(ch.value, ch.keysID)
	ch.cp = cpKM.DeriveChannelSigner(ch.value, cpKM.GenerateChannelKeysID(true, ch.value, [16]byte{2}))
	ch.params = &keys.ChannelTransactionParameters{IsOutbound: true,
		FundingOutPoint: wire.OutPoint{Hash: chainhash.Hash(sha256.Sum256([]byte("f"))), Index: 0}, ValueSat: ch.value,
		HolderPubkeys: ch.local.Pubkeys(), CounterpartyPubkeys: ch.cp.Pubkeys(), HolderToSelfDelay: 144,
		CounterpartyToSelfDelay: 144, HolderDustLimitSat: 546, CounterpartyDustLimitSat: 546}
	require.NoError(t, ch.local.ProvideChannelParameters(ch.params))
	return ch
}

// commitment is the counterparty's commitment n with nHTLCs HTLCs of 0.1 mBTC.
func (ch *channel) commitment(t testing.TB, n uint64, nHTLCs int) *keys.CommitmentTx {
	point, err := ch.cp.GetPerCommitmentPoint(n)
	require.NoError(t, err)
	hs := make([]keys.CommitmentHTLC, nHTLCs)
	for i := range hs {
		hs[i] = keys.CommitmentHTLC{Offered: i%2 == 1, AmountMsat: 10_000_000, PaymentHash: sha256.Sum256([]byte{byte(i), byte(i >> 8)}),
			CltvExpiry: 900_000 + uint32(i)}
	}
	rest := uint64(ch.value)*1000 - uint64(nHTLCs)*10_000_000
	c, err := ch.params.NewCommitmentTx(false, n, point, 253, rest/2, rest-rest/2, hs)
	require.NoError(t, err)
	return c
}

// keyPair returns a fresh private key.
func keyPair(t testing.TB) *btcec.PrivateKey {
	k, err := btcec.NewPrivateKey()
	require.NoError(t, err)
	return k
}

// signer is a running Serve.
type signer struct {
	addr    string
	key     *btcec.PrivateKey
	cancel  context.CancelFunc
	done    chan error
	rejects chan error
}

// startSigner serves handle on addr ("127.0.0.1:0" for any port) for the node link key nodePub.
func startSigner(t testing.TB, addr string, key *btcec.PrivateKey, nodePub *btcec.PublicKey, handle func([]byte) []byte) *signer {
	return startSignerLinks(t, addr, key, nodePub, handle, 0)
}

// startSignerLinks is startSigner serving up to maxLinks links at once.
func startSignerLinks(t testing.TB, addr string, key *btcec.PrivateKey, nodePub *btcec.PublicKey, handle func([]byte) []byte, maxLinks int) *signer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	s := &signer{addr: ln.Addr().String(), key: key, cancel: cancel, done: make(chan error, 1), rejects: make(chan error, 16)}
	go func() {
		s.done <- Serve(ctx, ln, ServeConfig{Key: key, NodePub: nodePub, Handle: handle, PingInterval: time.Second, MaxLinks: maxLinks,
			OnReject: func(_ net.Addr, err error) {
				select {
				case s.rejects <- err:
				default:
				}
			}})
	}()
	t.Cleanup(s.stop)
	return s
}

// stop stops the signer and waits for Serve to return.
func (s *signer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

// node is a Client linked by a Dialer.
type node struct {
	key      *btcec.PrivateKey
	client   *remote.Client
	answered chan struct{}
	errs     chan error
	cancel   context.CancelFunc
	done     chan struct{}
}

// startNode links a new client to the signer at addr, pinning signerPub.
func startNode(t testing.TB, addr string, key *btcec.PrivateKey, signerPub *btcec.PublicKey) *node {
	n := &node{key: key, answered: make(chan struct{}, 1), errs: make(chan error, 64), done: make(chan struct{})}
	n.client = remote.NewClient(remote.ClientConfig{OnAnswer: func() {
		select {
		case n.answered <- struct{}{}:
		default:
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	d := &Dialer{Addr: addr, Key: key, SignerPub: signerPub, Client: n.client, MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond, PingInterval: time.Second, OnError: func(err error) {
			select {
			case n.errs <- err:
			default:
			}
		}}
	go func() {
		defer close(n.done)
		if err := d.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Dialer.Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-n.done
		n.client.Close()
	})
	return n
}

// waitUp waits until the client is connected.
func (n *node) waitUp(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, n.client.WaitConnected(ctx))
}

// await calls fn until it stops returning keys.ErrSignerPending, waiting for answers in between.
func await[T any](t testing.TB, n *node, fn func() (T, error)) (T, error) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		v, err := fn()
		if !errors.Is(err, keys.ErrSignerPending) {
			return v, err
		}
		select {
		case <-n.answered:
		case <-deadline:
			t.Fatal("no answer from the signer")
		}
	}
}

// proxy forwards TCP connections to a target it can switch, and can cut every connection at once.
type proxy struct {
	ln     net.Listener
	target atomic.Value // string
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln}
	p.target.Store(target)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target.Load().(string))
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

// cut closes every proxied connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// anchorScript is BOLT 3's anchor witness script for funding key k.
func anchorScript(t testing.TB, k *btcec.PublicKey) []byte {
	s, err := txscript.NewScriptBuilder().AddData(k.SerializeCompressed()).AddOp(txscript.OP_CHECKSIG).
		AddOp(txscript.OP_IFDUP).AddOp(txscript.OP_NOTIF).AddOp(txscript.OP_16).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).
		AddOp(txscript.OP_ENDIF).Script()
	require.NoError(t, err)
	return s
}

// spend is a transaction spending one output of value sat.
func spend(value int64) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: sha256.Sum256([]byte("p")), Index: 1}})
	tx.AddTxOut(wire.NewTxOut(value-200, append([]byte{0, 0x14}, make([]byte, 20)...)))
	return tx
}

// netPipe returns the two ends of a link over an in-memory connection.
func netPipe(t testing.TB) (initiator, responder *session) {
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	nodeKey, signerKey := keyPair(t), keyPair(t)
	type result struct {
		s   *session
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := respond(c2, signerKey, nodeKey.PubKey(), 5*time.Second)
		done <- result{s, err}
	}()
	a, err := initiate(c1, nodeKey, signerKey.PubKey(), 5*time.Second)
	require.NoError(t, err)
	r := <-done
	require.NoError(t, r.err)
	return a, r.s
}
