package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/examples/internal/lnsocket"
)

// errPeersStopped: a connection was offered while the peer listener is stopped.
var errPeersStopped = errors.New("the peer listener is stopped")

// peerRun is one run of the peer listener component: the p2p listener, the connections made while it
// runs and the redial loops. Its WaitGroup counts every goroutine of the run, so that Stop returns
// once the run has no socket left.
type peerRun struct {
	stop chan struct{}
	wg   sync.WaitGroup
	ln   net.Listener // nil with -listen off
}

// peerComponent is the peer listener: the accept loop, every connection (inbound and outbound) and
// the redialling of known peers. Stopping it closes the listener and every connection (the
// PeerManager sees the disconnections: channels go offline and reestablish at the next connection);
// starting it listens again on the same address (the port first bound, if -listen asked for port 0)
// and redials the peers we connected to.
type peerComponent struct {
	n    *Node
	addr string // the address to listen on; after the first start, the one bound
}

func (p *peerComponent) Name() string { return "peers" }

func (p *peerComponent) Start(context.Context) error {
	n := p.n
	run := &peerRun{stop: make(chan struct{})}
	if n.cfg.Listen != "off" {
		if p.addr == "" {
			p.addr = n.cfg.Listen
		}
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("p2p listen: %w", err)
		}
		run.ln = ln
		p.addr = ln.Addr().String()
	}
	n.mu.Lock()
	n.peers = run
	peers := make(map[string]string, len(n.peerAddrs))
	for k, v := range n.peerAddrs {
		peers[k] = v
	}
	n.mu.Unlock()
	if run.ln != nil {
		run.wg.Add(1)
		go n.acceptLoop(run)
		n.log.Info("p2p listening", "addr", p.addr)
	}
	for id, addr := range peers {
		pub, err := parseNodeID(id)
		if err != nil {
			continue
		}
		run.wg.Add(1)
		go func() {
			defer run.wg.Done()
			n.redial(run, pub, addr)
		}()
	}
	return nil
}

func (p *peerComponent) Stop(context.Context) error {
	n := p.n
	n.mu.Lock()
	run := n.peers
	n.peers = nil
	conns := make([]*lnsocket.Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	if run == nil {
		return nil
	}
	close(run.stop)
	if run.ln != nil {
		_ = run.ln.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	run.wg.Wait()
	n.wake()
	return nil
}

// listenAddr is the p2p listener's address while it runs ("" otherwise).
func (n *Node) listenAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.peers == nil || n.peers.ln == nil {
		return ""
	}
	return n.peers.ln.Addr().String()
}

func (n *Node) acceptLoop(run *peerRun) {
	defer run.wg.Done()
	for {
		nc, err := run.ln.Accept()
		if err != nil {
			select {
			case <-run.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err := n.addConn(nc, nil, ""); err != nil {
			n.log.Warn("inbound connection refused", "err", err)
		}
	}
}

// dial opens an outbound connection to id at addr and returns once the socket is registered (the
// handshake and `init` follow).
func (n *Node) dial(id *btcec.PublicKey, addr string) error {
	if !n.peersRunning() {
		return errPeersStopped
	}
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	return n.addConn(nc, id, addr)
}

func (n *Node) peersRunning() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peers != nil
}

// addConn registers a connection with the PeerManager and starts its goroutines, as part of the
// running peer listener (refused while it is stopped). An outbound connection to a peer we have
// channels with is redialled when it drops.
func (n *Node) addConn(nc net.Conn, theirID *btcec.PublicKey, addr string) error {
	n.mu.Lock()
	run := n.peers
	n.mu.Unlock()
	if run == nil {
		_ = nc.Close()
		return errPeersStopped
	}
	info := connInfo{addr: nc.RemoteAddr().String(), inbound: theirID == nil}
	nc = &gatedConn{Conn: nc, n: n} // nothing leaves once the node is no longer the leader
	if theirID != nil {
		info.nodeID = hex.EncodeToString(theirID.SerializeCompressed())
		info.addr = addr
	}
	c, err := lnsocket.Register(n.pm, nc, theirID, 0, 0, nil, n.log, n.wake)
	if err != nil {
		return err
	}
	// No byte leaves before the manager state that produced it is on disk: commitment_signed is made
	// when the PeerManager pulls messages, so the write is the last point where the host can persist.
	// A restarted node then resumes with channel_reestablish rather than finding itself behind its peer.
	// The write is also the barrier of the held writes (flush): with them, one store commit covers
	// every change the bytes depend on. If it fails, nothing is sent and the connection closes.
	c.SetBeforeWrite(func() error {
		if err := n.persistAndFlush(false); err != nil {
			n.log.Error("not sending: the state the bytes depend on is not durable", "err", err)
			return err
		}
		return nil
	})
	n.mu.Lock()
	if n.peers != run {
		n.mu.Unlock()
		n.pm.SocketDisconnected(c)
		_ = nc.Close()
		return errPeersStopped
	}
	n.conns[c] = info
	c.Start(&run.wg)
	run.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer run.wg.Done()
		<-c.Done()
		n.mu.Lock()
		delete(n.conns, c)
		n.mu.Unlock()
		n.wake()
		select {
		case <-run.stop:
			return
		default:
		}
		if theirID != nil && n.hasChannelWith(theirID) {
			n.redial(run, theirID, addr)
		}
	}()
	return nil
}

func (n *Node) hasChannelWith(id *btcec.PublicKey) bool {
	for _, ch := range n.cm.ListChannels() {
		if ch.CounterpartyNodeID.IsEqual(id) {
			return true
		}
	}
	return false
}

// isConnected says whether the PeerManager has a peer with id (init exchanged).
func (n *Node) isConnected(id *btcec.PublicKey) bool {
	for _, p := range n.pm.GetPeerNodeIDs() {
		if p.NodeID.IsEqual(id) {
			return true
		}
	}
	return false
}

// hasOutboundConn says whether a connection we opened to id is registered, handshake done or not.
func (n *Node) hasOutboundConn(id *btcec.PublicKey) bool {
	key := hex.EncodeToString(id.SerializeCompressed())
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, info := range n.conns {
		if info.nodeID == key {
			return true
		}
	}
	return false
}

// redial reconnects to a peer with backoff until connected or the peer listener's run ends. If the
// peer connects to us meanwhile, or another connection of ours to it is under way (one that replaced
// the connection whose end started this redial), it stops: redialling then would replace that one in
// turn, endlessly.
func (n *Node) redial(run *peerRun, id *btcec.PublicKey, addr string) {
	delay := 500 * time.Millisecond
	for {
		if n.isConnected(id) || n.hasOutboundConn(id) {
			return
		}
		if err := n.dial(id, addr); err == nil {
			return
		} else {
			n.log.Debug("reconnect failed", "peer", addr, "err", err)
		}
		select {
		case <-run.stop:
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}
