package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/examples/node/webui"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
	"github.com/lnkit/lnkit/router"
)

// The node's components, in dependency order (see Node.Start):
//
//	store      the KVStore and the state read from it (wallet, monitors, manager, records, graph)
//	events     the event stream (the control API's SSE subscribers)
//	chain      the chain follower: catch-up at start, then polling btcd, fee estimates, archiving
//	eventloop  the ChannelManager's and ChainMonitor's events, their timers and persistence
//	gossip     the gossip sync's timer, the relay of gossip, our node_announcement, graph snapshots
//	peers      the p2p listener, the connections and the redialling of known peers
//	rpc        the control API (JSON-RPC over HTTP on loopback), with its cookie
const (
	compStore     = "store"
	compEvents    = "events"
	compChain     = "chain"
	compEventLoop = "eventloop"
	compGossip    = "gossip"
	compPeers     = "peers"
	compRPC       = "rpc"
)

// loops is a set of goroutines with a shared stop channel: what most components run.
type loops struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

func newLoops() *loops { return &loops{stop: make(chan struct{})} }

// every runs fn every d until the loops stop.
func (l *loops) every(d time.Duration, fn func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			fn()
		}
	}()
}

// go_ runs fn(stop) as one of the loops.
func (l *loops) go_(fn func(stop <-chan struct{})) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn(l.stop)
	}()
}

// end stops the loops and waits for them.
func (l *loops) end() {
	close(l.stop)
	l.wg.Wait()
}

// storeComponent owns the node's state: Start opens the store and reads everything from it (see
// Node.openState), Stop writes what is pending and closes it. Everything else depends on it.
type storeComponent struct{ n *Node }

func (c *storeComponent) Name() string                    { return compStore }
func (c *storeComponent) Start(ctx context.Context) error { return c.n.openState(ctx) }
func (c *storeComponent) Stop(context.Context) error      { return c.n.closeState() }

// eventsComponent is the event stream: while it is stopped, subscribers are cut off (their SSE
// streams end) and new ones get a closed stream; events published meanwhile are dropped.
type eventsComponent struct{ n *Node }

func (c *eventsComponent) Name() string { return compEvents }

func (c *eventsComponent) Start(context.Context) error {
	c.n.hub.open()
	return nil
}

func (c *eventsComponent) Stop(context.Context) error {
	c.n.hub.close()
	return nil
}

// chainComponent follows btcd: Start brings the state up to btcd's tip (checkpointing as it goes),
// then polls for blocks every -tick.chain, refreshes fee estimates every -tick.fees and archives
// resolved monitors every -tick.archive (and once at start).
type chainComponent struct {
	n *Node
	l *loops
}

func (c *chainComponent) Name() string { return compChain }

func (c *chainComponent) Start(ctx context.Context) error {
	n := c.n
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		changed, err := n.follower.Poll(ctx)
		if err != nil {
			p := n.explainChainError(ctx, err)
			n.reportChainProblem(p)
			return fmt.Errorf("syncing with btcd: %w", p)
		}
		if !changed {
			break
		}
		n.checkpoint()
	}
	n.setSynced(true)
	n.archive()
	c.l = newLoops()
	c.l.every(n.cfg.ChainPoll, n.pollChain)
	c.l.every(n.cfg.FeeRefresh, n.refreshFees)
	c.l.every(n.cfg.ArchiveEvery, n.archive)
	return nil
}

func (c *chainComponent) Stop(context.Context) error {
	c.l.end()
	c.n.setSynced(false)
	return nil
}

// eventLoopComponent runs the event loop (Node.eventLoop). Its Stop handles what is pending once more
// and persists the manager.
type eventLoopComponent struct {
	n *Node
	l *loops
}

func (c *eventLoopComponent) Name() string { return compEventLoop }

func (c *eventLoopComponent) Start(context.Context) error {
	c.l = newLoops()
	c.l.go_(c.n.eventLoop)
	return nil
}

func (c *eventLoopComponent) Stop(context.Context) error {
	c.l.end() // the Processor stopped, after a final forced persist
	p := c.n.proc.Load()
	if p == nil {
		return c.n.persistAndFlush(true)
	}
	// Stop returns that persist's error again; a last pass handles what is still pending (and
	// persists what it changed).
	return errors.Join(p.Stop(), p.RunPass())
}

// gossipComponent is the gossip sync as a part that can stop: it gives the P2PGossipSync (and the
// router's scorer) the time every -tick.gossip, broadcasts our node_announcement, snapshots the graph
// and scorer every -tick.graph (and at Stop), and opens the gossipGate, through which the PeerManager
// reaches the sync. While it is stopped, gossip from peers is dropped and none is relayed or sent
// (the sync keeps what it queued for when it starts again); the graph stays as it was, and payments
// still route over it.
type gossipComponent struct {
	n *Node
	l *loops
}

func (c *gossipComponent) Name() string { return compGossip }

func (c *gossipComponent) Start(context.Context) error {
	n := c.n
	// The gossip sync needs the time before the first peer message.
	n.routing.tick(time.Now())
	if n.gossipGate != nil { // nil with -gossip=false
		n.gossipGate.on.Store(true)
	}
	c.l = newLoops()
	c.l.go_(func(stop <-chan struct{}) {
		t := time.NewTicker(n.cfg.GossipTick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				n.routing.tick(now)
				n.announceNode(now)
				n.wake() // the PeerManager pulls what the tick queued
			}
		}
	})
	c.l.every(n.cfg.GraphSave, n.saveRouting)
	return nil
}

func (c *gossipComponent) Stop(context.Context) error {
	if c.n.gossipGate != nil {
		c.n.gossipGate.on.Store(false)
	}
	c.l.end()
	c.n.saveRouting()
	return nil
}

// gossipGate is the PeerManager's routing message handler: the gossip sync, or nothing while the
// gossip component is stopped. Peers' connections and disconnections and our own announcements
// always reach the sync (so that it knows its peers, and our channel_update is in the graph when it
// starts again); gossip messages from peers are dropped and PendingMessages gives none while it is
// off. With -gossip=false there is no sync and the gate is never on.
type gossipGate struct {
	sync *router.P2PGossipSync
	on   atomic.Bool
}

var _ peermanager.RoutingMessageHandler = (*gossipGate)(nil)

func (g *gossipGate) HandleRoutingMessage(id *btcec.PublicKey, msg lnwire.Message) error {
	if !g.on.Load() {
		return nil
	}
	return g.sync.HandleRoutingMessage(id, msg)
}

func (g *gossipGate) PeerConnected(id *btcec.PublicKey, init *lnwire.Init, inbound bool) error {
	return g.sync.PeerConnected(id, init, inbound)
}

func (g *gossipGate) PeerDisconnected(id *btcec.PublicKey) { g.sync.PeerDisconnected(id) }

func (g *gossipGate) ProvidedInitFeatures(id *btcec.PublicKey) *lnwire.FeatureVector {
	return g.sync.ProvidedInitFeatures(id)
}

func (g *gossipGate) PendingMessages(id *btcec.PublicKey, budgetBytes int) []lnwire.Message {
	if !g.on.Load() {
		return nil
	}
	return g.sync.PendingMessages(id, budgetBytes)
}

func (g *gossipGate) BroadcastAnnouncement(msg lnwire.Message) error {
	return g.sync.BroadcastAnnouncement(msg)
}

// peerHandlers is the PeerManager's MessageHandler: the channel manager and the custom messages
// behind the message proxy (service_custom.go), and route (the gossip gate, or nil).
func (n *Node) peerHandlers(route peermanager.RoutingMessageHandler) peermanager.MessageHandler {
	n.msgProxy = newMsgProxy(n.cfg, n.hub, n.log.With("component", "proxy"))
	return peermanager.MessageHandler{Chan: peerEvents{ChannelMessageHandler: n.msgProxy.px.Channel(n.cm), hub: n.hub},
		Custom: n.msgProxy.custom, Route: route}
}

// rpcComponent is the control API: a nodeapi.Server on -rpclisten (loopback) and the cookie file it
// checks callers against, written at Start and removed at Stop. Stopping it ends event streams and
// waits (up to 5 s) for calls in progress; starting it again serves on the same address (the port
// first bound, for port 0) with a new cookie.
type rpcComponent struct {
	n    *Node
	addr string // the address to listen on; after the first start, the one bound

	api  *nodeapi.Server
	done chan struct{}
	grpc *grpcServer // the gRPC API (-grpclisten), nil when off
}

func (c *rpcComponent) Name() string { return compRPC }

func (c *rpcComponent) cookiePath() string { return filepath.Join(c.n.cfg.DataDir, nodeapi.CookieFile) }

func (c *rpcComponent) Start(context.Context) error {
	n := c.n
	if c.addr == "" {
		c.addr = n.cfg.RPCListen
	}
	token, err := nodeapi.WriteCookie(n.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("cookie: %w", err)
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		_ = os.Remove(c.cookiePath())
		return fmt.Errorf("control API: %w", err)
	}
	c.addr = ln.Addr().String()
	svc := &service{n: n, stop: n.requestStop}
	if c.grpc, err = startGRPC(n, c.grpcAddr(), svc, token); err != nil {
		ln.Close()
		_ = os.Remove(c.cookiePath())
		return err
	}
	c.api = nodeapi.NewServer(svc, token, n.log.With("component", "rpc"),
		nodeapi.WithWebUI(webui.Handler())) // the web page (lnkit-node webui prints its login URL)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		if err := c.api.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("control API", "err", err)
		}
	}()
	addr := c.addr
	n.rpcAddr.Store(&addr)
	n.log.Info("control API listening", "addr", c.addr, "cookie", c.cookiePath())
	return nil
}

func (c *rpcComponent) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := errors.Join(c.api.Shutdown(ctx), c.grpc.stop(ctx))
	<-c.done
	c.n.rpcAddr.Store(nil)
	_ = os.Remove(c.cookiePath())
	return err
}
