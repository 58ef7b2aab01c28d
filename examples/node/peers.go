package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/examples/host/lnsocket"
)

// errPeersStopped: a connection was offered while the peer listener is stopped.
var errPeersStopped = errors.New("the peer listener is stopped")

// errHandshakeClosed: an outbound connection closed before the handshake and init completed. With a
// wrong node id the peer cannot decrypt act one of the handshake (BOLT 8) and hangs up at once.
var errHandshakeClosed = errors.New("the peer closed the connection during the handshake")

// defaultPeerPort is the port of a peer address given without one (BOLT 1's default).
const defaultPeerPort = "9735"

// redialHandshakeWait bounds how long a redial waits for the handshake and init of a connection.
const redialHandshakeWait = 20 * time.Second

// peerRun is one run of the peer listener component: the p2p listener, the connections made while it
// runs and the redial loops. Its WaitGroup counts every goroutine of the run, so that Stop returns
// once the run has no socket left; ctx ends when the run stops.
type peerRun struct {
	stop   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ln     net.Listener // nil with -listen off
}

// peerComponent is the peer listener: the accept loop, every connection (inbound and outbound) and
// the redialling of known peers. Stopping it closes the listener and every connection (the
// PeerManager sees the disconnections: channels go offline and reestablish at the next connection);
// starting it listens again on the same address (the port first bound, if -listen asked for port 0)
// and redials the peers we connected to and every peer we have a channel with (see redial).
type peerComponent struct {
	n    *Node
	addr string // the address to listen on; after the first start, the one bound
}

func (p *peerComponent) Name() string { return "peers" }

func (p *peerComponent) Start(context.Context) error {
	n := p.n
	run := &peerRun{stop: make(chan struct{})}
	run.ctx, run.cancel = context.WithCancel(context.Background())
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
	n.mu.Unlock()
	if run.ln != nil {
		run.wg.Add(1)
		go n.acceptLoop(run)
		n.log.Info("p2p listening", "addr", p.addr)
	}
	for _, pub := range n.peersToRedial() {
		run.wg.Add(1)
		go func() {
			defer run.wg.Done()
			n.redial(run, pub)
		}()
	}
	return nil
}

// peersToRedial are the peers the node reconnects to when the peer listener starts: those saved
// (we connected to them) and every peer we have a channel with, in node id order.
func (n *Node) peersToRedial() []*btcec.PublicKey {
	ids := map[string]*btcec.PublicKey{}
	n.mu.Lock()
	for id := range n.peerAddrs {
		if pub, err := parseNodeID(id); err == nil {
			ids[nodeIDHex(pub)] = pub
		}
	}
	n.mu.Unlock()
	for _, c := range n.cm.ListChannels() {
		if c.CounterpartyNodeID != nil {
			ids[nodeIDHex(c.CounterpartyNodeID)] = c.CounterpartyNodeID
		}
	}
	keys := make([]string, 0, len(ids))
	for k := range ids {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*btcec.PublicKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, ids[k])
	}
	return out
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
	run.cancel()
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
		if why := n.admitInbound(nc.RemoteAddr()); why != "" {
			n.refuseInbound(nc, why)
			continue
		}
		_, err = n.addConn(connInfo{addr: nc.RemoteAddr().String(), inbound: true}, nil,
			func(opts lnsocket.Options) (*lnsocket.Conn, error) {
				return lnsocket.SetupInbound(n.pm, &gatedConn{Conn: nc, n: n}, opts)
			})
		if err != nil {
			_ = nc.Close() // already closed if the PeerManager refused it
			n.log.Warn("inbound connection refused", "err", err)
		}
	}
}

// dial opens an outbound connection to id at addr and returns once the socket is registered (the
// handshake and `init` follow).
func (n *Node) dial(id *btcec.PublicKey, addr string) error {
	_, err := n.dialConn(id, addr)
	return err
}

// dialConn is dial, returning the connection (to wait for its handshake: waitHandshake). The dial
// takes at most 10 s, and ends when the peer listener stops.
func (n *Node) dialConn(id *btcec.PublicKey, addr string) (*lnsocket.Conn, error) {
	return n.addConn(connInfo{nodeID: nodeIDHex(id), addr: addr}, id,
		func(opts lnsocket.Options) (*lnsocket.Conn, error) {
			n.mu.Lock()
			run := n.peers
			n.mu.Unlock()
			if run == nil {
				return nil, errPeersStopped
			}
			opts.DialTimeout = 10 * time.Second
			opts.Dialer = gatedDialer{n: n}
			return lnsocket.Connect(run.ctx, n.pm, id, addr, opts)
		})
}

// gatedDialer dials peers with connections that write only while the node may act (gatedConn).
type gatedDialer struct{ n *Node }

func (d gatedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: nc, n: d.n}, nil
}

// waitHandshake waits until the outbound connection c to id has completed the handshake and init (the
// PeerManager lists id as connected by us while c is open). It fails as soon as c closes (errHandshakeClosed:
// a wrong node id, or the peer refused us), or when ctx ends or limit passes.
func (n *Node) waitHandshake(ctx context.Context, c *lnsocket.Conn, id *btcec.PublicKey, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if n.isConnectedOutbound(id) && !c.IsClosed() {
			return nil
		}
		select {
		case <-c.Done():
			return errHandshakeClosed
		case <-ctx.Done():
			return fmt.Errorf("no handshake and init within %s: %w", limit, ctx.Err())
		case <-t.C:
		}
	}
}

// withDefaultPort checks a peer address, host:port, and gives one without a port the default, 9735
// ("host", "1.2.3.4", "[::1]" or "::1"). Errors: invalid params.
func withDefaultPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: the whole is the host (an IPv6 address in brackets or not).
		host, port = addr, ""
		if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
			host = addr[1 : len(addr)-1]
		}
		if strings.Contains(host, ":") && net.ParseIP(host) == nil || strings.ContainsAny(host, "[]") {
			return "", invalid("address %q: want host:port (the port defaults to %s)", addr, defaultPeerPort)
		}
	}
	if host == "" || strings.ContainsAny(host, " /@") {
		return "", invalid("address %q: no host (want host:port)", addr)
	}
	if port == "" {
		port = defaultPeerPort
	}
	if v, err := strconv.ParseUint(port, 10, 16); err != nil || v == 0 {
		return "", invalid("address %q: port must be a number from 1 to 65535", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// addConn opens a connection with open (lnsocket.Connect or SetupInbound, given the connection
// options) as part of the running peer listener (refused while it is stopped), and tracks it: an
// outbound connection (theirID set) to a peer we have channels with is redialled when it drops.
//
// Every connection persists the manager before its bytes leave: its before-write hook is the event
// loop's Processor.BeforeWrite (beforeWrite), so nothing the PeerManager pulled (commitment_signed is
// made then) leaves before the state that produced it is durable, and one store commit covers every
// held write the bytes depend on (flush). If that fails, nothing is sent and the connection closes.
func (n *Node) addConn(info connInfo, theirID *btcec.PublicKey,
	open func(lnsocket.Options) (*lnsocket.Conn, error)) (*lnsocket.Conn, error) {
	n.mu.Lock()
	run := n.peers
	if run != nil {
		run.wg.Add(1) // the watcher below; added while the run is current, so before its Stop waits
	}
	n.mu.Unlock()
	if run == nil {
		return nil, errPeersStopped
	}
	c, err := open(lnsocket.Options{Logger: n.log, AfterRead: n.wake, BeforeWrite: n.beforeWrite, WaitGroup: &run.wg})
	if err != nil {
		run.wg.Done()
		return nil, err
	}
	n.mu.Lock()
	if n.peers != run {
		n.mu.Unlock()
		c.Close() // its reader tells the PeerManager
		run.wg.Done()
		return nil, errPeersStopped
	}
	n.conns[c] = info
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
			n.redial(run, theirID)
		}
	}()
	return c, nil
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

// isConnectedOutbound says whether the PeerManager has a peer with id on a connection we opened.
func (n *Node) isConnectedOutbound(id *btcec.PublicKey) bool {
	for _, p := range n.pm.GetPeerNodeIDs() {
		if p.NodeID.IsEqual(id) && !p.Inbound {
			return true
		}
	}
	return false
}

// hasOutboundConn says whether a connection we opened to id is registered, handshake done or not.
func (n *Node) hasOutboundConn(id *btcec.PublicKey) bool {
	return n.outboundConn(id) != nil
}

// outboundConn returns a registered connection we opened to id, handshake done or not (nil if none).
func (n *Node) outboundConn(id *btcec.PublicKey) *lnsocket.Conn {
	key := nodeIDHex(id)
	n.mu.Lock()
	defer n.mu.Unlock()
	for c, info := range n.conns {
		if !info.inbound && info.nodeID == key {
			return c
		}
	}
	return nil
}

// rememberPeer saves addr as the address to dial id (canonical hex) at: called once a connection we
// opened to addr completed its handshake.
func (n *Node) rememberPeer(id, addr string) {
	n.mu.Lock()
	same := n.peerAddrs[id] == addr
	if !same {
		n.peerAddrs[id] = addr
	}
	n.mu.Unlock()
	if !same {
		n.savePeers()
	}
}

// dialAddrs are the addresses to reconnect to id at: the saved one (the last we connected to), then
// those of its node_announcement in the network graph.
func (n *Node) dialAddrs(id *btcec.PublicKey) []string {
	var out []string
	n.mu.Lock()
	if a := n.peerAddrs[nodeIDHex(id)]; a != "" {
		out = append(out, a)
	}
	n.mu.Unlock()
	if n.routing != nil {
		for _, a := range n.routing.nodeAddrs(nodeKey(id.SerializeCompressed())) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// redial reconnects to a peer with backoff until connected or the peer listener's run ends, trying its
// addresses in turn (dialAddrs): the saved one, then those the network graph has for it. An address
// that completes the handshake is saved. If the peer connects to us meanwhile, or another connection
// of ours to it is under way (one that replaced the connection whose end started this redial), it
// stops: redialling then would replace that one in turn, endlessly. One loop runs per peer. Failures
// are logged at the 1st, 2nd, 4th, 8th... attempt, not at each.
func (n *Node) redial(run *peerRun, id *btcec.PublicKey) {
	key := nodeIDHex(id)
	n.mu.Lock()
	if n.redialing[key] {
		n.mu.Unlock()
		return
	}
	n.redialing[key] = true
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.redialing, key)
		n.mu.Unlock()
	}()
	delay := 500 * time.Millisecond
	if n.cfg.redialMin > 0 {
		delay = n.cfg.redialMin
	}
	for attempt := 1; ; attempt++ {
		if n.isConnected(id) || n.hasOutboundConn(id) {
			return
		}
		addrs := n.dialAddrs(id)
		if len(addrs) == 0 {
			n.log.Info("no address to reconnect to the peer at (neither saved nor announced): it has to connect to us",
				"peer", key)
			return
		}
		addr := addrs[(attempt-1)%len(addrs)]
		c, err := n.dialConn(id, addr)
		if err == nil {
			if err = n.waitHandshake(run.ctx, c, id, redialHandshakeWait); err == nil {
				n.rememberPeer(key, addr)
				if attempt > 1 {
					n.log.Info("reconnected to peer", "peer", key, "addr", addr, "attempts", attempt)
				}
				return
			}
		}
		select {
		case <-run.stop:
			return
		default:
		}
		if attempt&(attempt-1) == 0 {
			n.log.Warn("cannot reconnect to peer; retrying with backoff", "peer", key, "addr", addr, "err", err,
				"attempts", attempt, "next_attempt_in", delay.String())
		}
		select {
		case <-run.stop:
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}
