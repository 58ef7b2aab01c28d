package lnsocket

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/peermanager"
)

// testPeer is a PeerManager with the hooks' call counts.
type testPeer struct {
	pm          *peermanager.PeerManager
	id          *btcec.PublicKey
	stats       Stats
	afterReads  atomic.Int64
	beforeWrite atomic.Int64
	wg          sync.WaitGroup
	mu          sync.Mutex
	conns       []*Conn
}

func (p *testPeer) track(c *Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func newTestPeer(t *testing.T, name string) *testPeer {
	t.Helper()
	km := keys.NewKeysManager(sha256.Sum256([]byte("lnsocket test "+name)), 1, 0)
	p := &testPeer{id: km.GetNodeID()}
	p.pm = peermanager.New(peermanager.MessageHandler{}, km, km, peermanager.Config{
		ChainHashes: []chainhash.Hash{*chaincfg.RegressionNetParams.GenesisHash},
		// A ping at the first idle tick; a late pong (a loaded machine) never disconnects.
		PingIntervalTicks: 1, PongTimeoutTicks: 1000, MaxPongWaitTicks: 1000}, nil)
	t.Cleanup(func() {
		p.mu.Lock()
		conns := p.conns
		p.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		p.wg.Wait()
	})
	return p
}

func (p *testPeer) opts() Options {
	return Options{Stats: &p.stats, WaitGroup: &p.wg,
		AfterRead:   func() { p.afterReads.Add(1) },
		BeforeWrite: func() error { p.beforeWrite.Add(1); return nil }}
}

// connectedTo says whether p's PeerManager lists id as a peer (handshake and init done).
func (p *testPeer) connectedTo(id *btcec.PublicKey, inbound bool) bool {
	for _, d := range p.pm.GetPeerNodeIDs() {
		if d.NodeID.IsEqual(id) && d.Inbound == inbound {
			return true
		}
	}
	return false
}

// listen accepts connections on 127.0.0.1 for p with SetupInbound until the test ends.
func (p *testPeer) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c, err := SetupInbound(p.pm, nc, p.opts())
			if err != nil {
				t.Errorf("SetupInbound: %v", err)
				continue
			}
			p.track(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}

// TestConnectAndSetupInbound: two real PeerManagers over TCP on 127.0.0.1, joined only by Connect and
// SetupInbound, complete the BOLT 8 handshake and exchange init (each lists the other, in the right
// direction), then a ping and its pong cross after a timer tick; the hooks ran, BeforeWrite before
// the first byte left, and the stats counted both ways. Closing the outbound connection disconnects
// the peer on both sides.
func TestConnectAndSetupInbound(t *testing.T) {
	alice, bob := newTestPeer(t, "alice"), newTestPeer(t, "bob")
	addr := bob.listen(t)

	c, err := Connect(context.Background(), alice.pm, bob.id, addr, alice.opts())
	require.NoError(t, err)
	alice.track(c)
	require.Eventually(t, func() bool {
		return alice.connectedTo(bob.id, false) && bob.connectedTo(alice.id, true)
	}, 10*time.Second, 5*time.Millisecond, "handshake and init over 127.0.0.1")
	require.Positive(t, alice.beforeWrite.Load(), "BeforeWrite ran before alice's bytes left")
	require.Positive(t, bob.beforeWrite.Load(), "BeforeWrite ran before bob's bytes left")
	require.Positive(t, alice.afterReads.Load())
	require.Positive(t, bob.afterReads.Load())

	// A ping goes out on a timer tick; the pong comes back.
	in := alice.stats.BytesIn.Load()
	require.Eventually(t, func() bool {
		alice.pm.TimerTickOccurred() // idle for PingIntervalTicks (1): a ping
		return alice.stats.BytesIn.Load() > in
	}, 10*time.Second, 20*time.Millisecond, "bob answered alice's ping")
	require.True(t, alice.connectedTo(bob.id, false))
	require.Positive(t, bob.stats.BytesOut.Load())

	c.Close()
	waitDone(t, c.Finished(), "both of the connection's goroutines")
	require.Eventually(t, func() bool {
		return !alice.connectedTo(bob.id, false) && !bob.connectedTo(alice.id, true)
	}, 10*time.Second, 5*time.Millisecond, "both sides saw the disconnection")
}

// TestConnectErrors: Connect refuses without a node id, reports a refused dial, and gives up at
// DialTimeout with an error that errors.Is finds as the deadline.
func TestConnectErrors(t *testing.T) {
	alice, bob := newTestPeer(t, "alice"), newTestPeer(t, "bob")
	_, err := Connect(context.Background(), alice.pm, nil, "127.0.0.1:1", alice.opts())
	require.ErrorIs(t, err, ErrNoNodeID)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = Connect(context.Background(), alice.pm, bob.id, closedAddr, alice.opts())
	require.Error(t, err, "nothing listens there")

	o := alice.opts()
	o.DialTimeout = 50 * time.Millisecond
	o.Dialer = hangingDialer{}
	start := time.Now()
	_, err = Connect(context.Background(), alice.pm, bob.id, "127.0.0.1:9735", o)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Empty(t, alice.pm.GetPeerNodeIDs())
}

// hangingDialer never connects: it waits for its context to end.
type hangingDialer struct{}

func (hangingDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestSetupInboundRefused: when the PeerManager refuses a connection, SetupInbound returns its error
// and closes the socket.
func TestSetupInboundRefused(t *testing.T) {
	a, b := net.Pipe()
	refuse := errors.New("no more peers")
	_, err := SetupInbound(refusingRegistrar{err: refuse}, a, Options{})
	require.ErrorIs(t, err, refuse)
	_, err = b.Read(make([]byte, 1))
	require.Error(t, err, "the socket was closed")
}

// refusingRegistrar refuses every connection.
type refusingRegistrar struct {
	*fakeHost
	err error
}

func (r refusingRegistrar) NewOutboundConnection(*btcec.PublicKey, peermanager.SocketDescriptor) ([]byte, error) {
	return nil, r.err
}

func (r refusingRegistrar) NewInboundConnection(peermanager.SocketDescriptor) error { return r.err }
