package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/internal/lnsocket"
	"github.com/lnkit/lnkit/examples/node/btcdchain"
	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
	"github.com/lnkit/lnkit/router"
)

const version = "lnkit-node 0.1"

// Node is the example host around lnkit: it owns the sockets, the timers, the files and the btcd
// connection, and drives the library's components (which do none of that themselves).
//
// Goroutines: one event loop (events, timers, persistence; fee bumping runs there, in the chain
// monitor's event handler), one chain poller, one fee refresher, one monitor archiver, the p2p
// listener, two per connection (lnsocket) and the control API server.
type Node struct {
	cfg    *Config
	net    *chaincfg.Params
	dir    string // <datadir>/<network>
	log    *slog.Logger
	nodeID *btcec.PublicKey

	km        *keys.KeysManager
	keys      *walletKeys
	persister *channelmonitor.FilesystemPersister
	chainMon  *channelmonitor.ChainMonitor
	cm        *channelmanager.ChannelManager
	pm        *peermanager.PeerManager
	chain     *btcdchain.Client
	bcast     chaininterface.BroadcasterInterface // the chain, telling the wallet of our own transactions
	bumper    *bumper                             // answers the chain monitor's fee-bumping events
	follower  *btcdchain.Follower
	listener0 *chainListener // the channel manager's and chain monitor's position on the chain
	wallet    *wallet.Wallet
	store     *store
	forwards  *forwardLog // the forwarding history
	hub       *eventHub
	routing   *routing // the network graph, gossip and scorer
	// announcer remembers our last node_announcement (used by the event loop only).
	announcer announcer

	persistMu sync.Mutex // serialises writes of the channel manager and the chain tip

	wakeCh chan struct{}
	stopCh chan struct{}
	doneCh chan struct{} // closed when Stop has finished
	wg     sync.WaitGroup

	mu        sync.Mutex
	stopping  bool
	listener  net.Listener
	conns     map[*lnsocket.Conn]connInfo
	peerAddrs map[string]string // node id hex → address we dial (persisted in peers.json)
	opening   map[[32]byte]chan openResult
	// fundingTxs are the funding transactions we built, until used or discarded (in memory only: after
	// a restart a discarded funding transaction's inputs stay locked until the wallet sees them spent).
	fundingTxs map[chainhash.Hash]*wire.MsgTx
	synced     bool
}

type connInfo struct {
	nodeID  string // empty for inbound until known
	addr    string
	inbound bool
}

type openResult struct {
	pending events.ChannelPending
	err     error
}

// walletKeys is the KeysManager with the wallet's script as the destination of closes and sweeps, so
// that funds leaving channels land in the on-chain wallet directly (LDK hosts do the same by
// implementing SignerProvider's script methods).
type walletKeys struct {
	*keys.KeysManager
	script []byte
}

func (k *walletKeys) GetDestinationScript([32]byte) ([]byte, error) {
	return append([]byte(nil), k.script...), nil
}

func (k *walletKeys) GetShutdownScriptPubKey() ([]byte, error) {
	return append([]byte(nil), k.script...), nil
}

// loadSeed reads <datadir>/seed (64 hex characters) or creates it with mode 0600.
func loadSeed(datadir string) ([32]byte, error) {
	var seed [32]byte
	path := filepath.Join(datadir, "seed")
	b, err := os.ReadFile(path)
	if err == nil {
		raw, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(raw) != 32 {
			return seed, fmt.Errorf("%s: want 64 hex characters", path)
		}
		copy(seed[:], raw)
		return seed, nil
	}
	if !os.IsNotExist(err) {
		return seed, err
	}
	if _, err := rand.Read(seed[:]); err != nil {
		return seed, err
	}
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(seed[:])+"\n"), 0o600); err != nil {
		return seed, err
	}
	return seed, nil
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// lightningScript is the wallet script that cooperative closes and sweeps pay to: one wallet address,
// chosen once and kept in <dir>/close_address.
func (n *Node) lightningScript() ([]byte, error) {
	path := filepath.Join(n.dir, "close_address")
	if b, err := os.ReadFile(path); err == nil {
		addr, err := btcutil.DecodeAddress(strings.TrimSpace(string(b)), n.net)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return txscript.PayToAddrScript(addr)
	}
	addr, err := n.wallet.NewAddress()
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, []byte(addr.EncodeAddress()+"\n"), 0o600); err != nil {
		return nil, err
	}
	return txscript.PayToAddrScript(addr)
}

// NewNode opens (or creates) the node's state under cfg.DataDir and connects to btcd. Start runs it.
// The caller must hold the datadir's lock (lockDataDir) for as long as the Node exists.
func NewNode(cfg *Config, log *slog.Logger) (*Node, error) {
	params, err := networkParams(cfg.Network)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.DataDir, params.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	seed, err := loadSeed(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	n := &Node{cfg: cfg, net: params, dir: dir, log: log, hub: newEventHub(),
		wakeCh: make(chan struct{}, 1), stopCh: make(chan struct{}), doneCh: make(chan struct{}),
		conns: map[*lnsocket.Conn]connInfo{}, peerAddrs: map[string]string{}, opening: map[[32]byte]chan openResult{},
		fundingTxs: map[chainhash.Hash]*wire.MsgTx{}}

	n.chain, err = btcdchain.New(btcdchain.Config{Host: cfg.BtcdRPCHost, User: cfg.BtcdRPCUser, Pass: cfg.BtcdRPCPass,
		CertPath: cfg.BtcdRPCCert, DisableTLS: cfg.BtcdNoTLS, Params: params, FeeURL: cfg.FeeURL}, log.With("component", "btcd"))
	if err != nil {
		return nil, fmt.Errorf("btcd: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.chain.RefreshFees(ctx); err != nil {
		log.Warn("fee estimates", "err", err)
	}
	tip, err := n.loadTip()
	if err != nil {
		return nil, err
	}
	if tip.Height == 0 && tip.Hash == (chainhash.Hash{}) {
		tip, err = n.chain.BestBlock(ctx)
		if err != nil {
			return nil, fmt.Errorf("btcd: %w", err)
		}
	}

	n.wallet, err = wallet.Open(filepath.Join(dir, "wallet"), seed[:], params, tip)
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	n.bcast = n.wallet.Broadcaster(n.chain)
	script, err := n.lightningScript()
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	now := time.Now()
	n.km = keys.NewKeysManager(seed, uint64(now.Unix()), uint32(now.Nanosecond()))
	n.keys = &walletKeys{KeysManager: n.km, script: script}
	n.nodeID = n.km.GetNodeID()
	n.bumper, err = newBumper(n.wallet, n.bcast, n.keys, log.With("component", "bumptx"), n.hub)
	if err != nil {
		return nil, err
	}

	n.persister, err = channelmonitor.NewFilesystemPersister(filepath.Join(dir, "monitors"))
	if err != nil {
		return nil, fmt.Errorf("monitors: %w", err)
	}
	n.chainMon = channelmonitor.NewChainMonitor(nil, n.bcast, log.With("component", "chainmonitor"), n.chain, n.persister)
	ucfg := config.Default()
	cmPath := filepath.Join(dir, "channel_manager.bin")
	if data, err := os.ReadFile(cmPath); err == nil {
		mons, err := n.persister.ReadChannelMonitors(n.keys)
		if err != nil {
			return nil, fmt.Errorf("reading monitors: %w", err)
		}
		for _, m := range mons {
			if err := n.chainMon.LoadMonitor(m); err != nil {
				return nil, fmt.Errorf("loading monitor: %w", err)
			}
		}
		n.cm, err = channelmanager.Read(data, channelmanager.ReadArgs{FeeEstimator: n.chain, Watch: n.chainMon,
			Broadcaster: n.bcast, Logger: log.With("component", "channelmanager"), Keys: n.keys, Config: ucfg,
			Net: params, Monitors: mons})
		if err != nil {
			return nil, fmt.Errorf("reading channel manager: %w", err)
		}
		log.Info("channel manager loaded", "channels", len(n.cm.ListChannels()), "monitors", len(mons))
	} else if os.IsNotExist(err) {
		n.cm, err = channelmanager.New(n.chain, n.chainMon, n.bcast, log.With("component", "channelmanager"), n.keys, ucfg,
			channelmanager.ChainParams{Net: params, BestBlock: chaininterface.BestBlock{Hash: tip.Hash, Height: tip.Height}})
		if err != nil {
			return nil, err
		}
		if err := n.persistManager(true); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	if err := n.saveTip(tip); err != nil {
		return nil, err
	}
	var utxo router.UTXOLookup
	if cfg.GossipVerifyFunding {
		utxo = n.chain.NewUTXOLookup()
	}
	n.routing = openRouting(dir, params, utxo, cfg.Gossip, log)
	n.cm.SetRouter(n.routing.newRouter(n.nodeID))
	n.pm = peermanager.New(peermanager.MessageHandler{Chan: n.cm, Route: n.routing.handler()}, n.km, n.km,
		peermanager.Config{ChainHashes: []chainhash.Hash{*params.GenesisHash}}, log.With("component", "peermanager"))
	n.listener0 = &chainListener{n: n}
	n.follower = n.chain.NewFollower(tip, n.listener0)
	n.follower.AddListener(n.wallet.BestBlock(), n.wallet)
	n.store, err = openStore(filepath.Join(dir, "payments.jsonl"))
	if err != nil {
		return nil, err
	}
	for _, id := range reconcilePayments(n.store, n.cm.ListRecentPayments()) {
		log.Info("payment unknown to the channel manager marked failed", "payment_id", id)
	}
	var unreadable int
	n.forwards, unreadable, err = openForwardLog(filepath.Join(dir, forwardsFile))
	if err != nil {
		return nil, fmt.Errorf("forwarding history: %w", err)
	}
	if unreadable > 0 {
		log.Warn("forwarding history: unreadable lines skipped", "lines", unreadable)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "peers.json")); err == nil {
		_ = json.Unmarshal(b, &n.peerAddrs)
	}
	return n, nil
}

// chainListener hands each block to the chain monitor, the channel manager (both must see every
// block) and the network graph (funding spends close channels); the chain loop then checkpoints the
// manager and the tip. The wallet follows the chain as a listener of its own,
// from its own saved position.
type chainListener struct{ n *Node }

func (l *chainListener) BlockConnected(block *wire.MsgBlock, height uint32) {
	n := l.n
	n.chainMon.BlockConnected(block, height)
	n.cm.BlockConnected(block, height)
	n.routing.graph.BlockConnected(block, height)
	n.afterBlock(btcdchain.BlockRef{Hash: block.BlockHash(), Height: height})
}

func (l *chainListener) BlockDisconnected(header *wire.BlockHeader, height uint32) {
	n := l.n
	n.cm.BlockDisconnected(header, height)
	n.chainMon.BlockDisconnected(header, height)
	n.routing.graph.BlockDisconnected(header, height)
	n.afterBlock(btcdchain.BlockRef{Hash: header.PrevBlock, Height: height - 1})
}

func (n *Node) afterBlock(tip btcdchain.BlockRef) {
	n.hub.publish(nodeapi.Event{Type: "block", Height: tip.Height})
}

// checkpoint persists the channel manager, then records the block it has processed (the chain
// monitor persists the monitors itself). After a crash the blocks since the last checkpoint are
// delivered again, which the components take as no-ops.
func (n *Node) checkpoint() {
	tip, ok := n.follower.ListenerTip(n.listener0)
	if !ok {
		return
	}
	if err := n.persistManager(true); err != nil {
		n.log.Error("persisting channel manager", "err", err)
		return
	}
	if err := n.routing.saveIfSpendsChanged(); err != nil {
		n.log.Error("saving the network graph", "err", err)
		return
	}
	if err := n.saveTip(tip); err != nil {
		n.log.Error("saving chain tip", "err", err)
	}
}

func (n *Node) tipPath() string { return filepath.Join(n.dir, "chaintip") }

// loadTip reads the block the node's state has processed ("<hash> <height>"); zero if new.
func (n *Node) loadTip() (btcdchain.BlockRef, error) {
	b, err := os.ReadFile(n.tipPath())
	if os.IsNotExist(err) {
		return btcdchain.BlockRef{}, nil
	}
	if err != nil {
		return btcdchain.BlockRef{}, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return btcdchain.BlockRef{}, fmt.Errorf("%s: malformed", n.tipPath())
	}
	h, err := chainhash.NewHashFromStr(f[0])
	if err != nil {
		return btcdchain.BlockRef{}, err
	}
	height, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return btcdchain.BlockRef{}, err
	}
	return btcdchain.BlockRef{Hash: *h, Height: uint32(height)}, nil
}

func (n *Node) saveTip(t btcdchain.BlockRef) error {
	n.persistMu.Lock()
	defer n.persistMu.Unlock()
	return writeFileAtomic(n.tipPath(), []byte(fmt.Sprintf("%s %d\n", t.Hash, t.Height)), 0o600)
}

// persistManager writes the channel manager if it changed (or always, with force).
func (n *Node) persistManager(force bool) error {
	n.persistMu.Lock()
	defer n.persistMu.Unlock()
	if !n.cm.GetAndClearNeedsPersistence() && !force {
		return nil
	}
	return writeFileAtomic(filepath.Join(n.dir, "channel_manager.bin"), n.cm.Write(), 0o600)
}

func (n *Node) savePeers() {
	n.mu.Lock()
	b, _ := json.Marshal(n.peerAddrs)
	n.mu.Unlock()
	if err := writeFileAtomic(filepath.Join(n.dir, "peers.json"), b, 0o600); err != nil {
		n.log.Warn("saving peers", "err", err)
	}
}

// Start catches up with the chain, opens the p2p listener, reconnects to known peers and starts the
// loops.
func (n *Node) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		changed, err := n.follower.Poll(ctx)
		if err != nil {
			return fmt.Errorf("syncing with btcd: %w", err)
		}
		if !changed {
			break
		}
		n.checkpoint()
	}
	n.setSynced(true)
	n.routing.tick(time.Now()) // the gossip sync needs the time before the first peer connects
	if n.cfg.Listen != "off" {
		ln, err := net.Listen("tcp", n.cfg.Listen)
		if err != nil {
			return fmt.Errorf("p2p listen: %w", err)
		}
		n.listener = ln
		n.wg.Add(1)
		go n.acceptLoop(ln)
	}
	n.archive()
	n.wg.Add(5)
	go n.eventLoop()
	go n.every(n.cfg.ChainPoll, n.pollChain)
	go n.every(n.cfg.FeeRefresh, n.refreshFees)
	go n.every(n.cfg.ArchiveEvery, n.archive)
	go n.every(n.cfg.GraphSave, n.saveRouting)
	n.mu.Lock()
	peers := make(map[string]string, len(n.peerAddrs))
	for k, v := range n.peerAddrs {
		peers[k] = v
	}
	n.mu.Unlock()
	for id, addr := range peers {
		pub, err := parseNodeID(id)
		if err != nil {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.redial(pub, addr)
		}()
	}
	n.log.Info("node started", "node_id", hex.EncodeToString(n.nodeID.SerializeCompressed()), "network", n.net.Name,
		"listen", n.cfg.Listen)
	return nil
}

// Stop closes the sockets, ends the loops and flushes the state.
func (n *Node) Stop() {
	n.mu.Lock()
	if n.stopping {
		n.mu.Unlock()
		<-n.doneCh
		return
	}
	n.stopping = true
	conns := make([]*lnsocket.Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	ln := n.listener
	n.mu.Unlock()
	close(n.stopCh)
	if ln != nil {
		_ = ln.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	n.wg.Wait()
	n.processEvents()
	if err := n.persistManager(true); err != nil {
		n.log.Error("persisting channel manager", "err", err)
	}
	n.saveRouting()
	_ = n.persister.Close()
	n.store.close()
	n.forwards.close()
	if err := n.wallet.Close(); err != nil {
		n.log.Warn("closing wallet", "err", err)
	}
	n.chain.Close()
	close(n.doneCh)
}

func (n *Node) wake() {
	select {
	case n.wakeCh <- struct{}{}:
	default:
	}
}

func (n *Node) setSynced(v bool) {
	n.mu.Lock()
	n.synced = v
	n.mu.Unlock()
}

// eventLoop processes the components' events and drives their timers.
func (n *Node) eventLoop() {
	defer n.wg.Done()
	// The library says when it has work (EventOrPersistenceNeeded, UpdateAvailable): the loop waits on
	// that instead of polling. The slow ticker is only a safety net for work nothing signals (gossip
	// replies queued in the routing handler are also pulled by ProcessEvents).
	fast := time.NewTicker(time.Second)
	peerTick := time.NewTicker(n.cfg.PeerTick)
	mgrTick := time.NewTicker(n.cfg.ManagerTick)
	gossipTick := time.NewTicker(n.cfg.GossipTick)
	defer fast.Stop()
	defer peerTick.Stop()
	defer mgrTick.Stop()
	defer gossipTick.Stop()
	for {
		select {
		case <-n.stopCh:
			return
		case <-fast.C:
		case <-n.wakeCh:
		case <-n.cm.EventOrPersistenceNeeded():
		case <-n.chainMon.UpdateAvailable():
		case <-peerTick.C:
			n.pm.TimerTickOccurred()
		case <-mgrTick.C:
			n.cm.TimerTickOccurred()
		case now := <-gossipTick.C:
			n.routing.tick(now)
			n.announceNode(now)
		}
		n.processEvents()
	}
}

// processEvents handles pending events, lets the PeerManager send what they produced and persists
// the channel manager if it changed.
func (n *Node) processEvents() {
	if err := n.cm.ProcessPendingEvents(n.handleEvent); err != nil {
		n.log.Warn("channel manager events", "err", err)
	}
	if err := n.chainMon.ProcessPendingEvents(n.handleEvent); err != nil {
		n.log.Warn("chain monitor events", "err", err)
	}
	n.pm.ProcessEvents()
	if err := n.persistManager(false); err != nil {
		n.log.Error("persisting channel manager", "err", err)
	}
}

// every calls fn every d until the node stops.
func (n *Node) every(d time.Duration, fn func()) {
	defer n.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.stopCh:
			return
		case <-t.C:
		}
		fn()
	}
}

// pollChain brings the components up to btcd's tip and checkpoints what they processed.
func (n *Node) pollChain() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	changed, err := n.follower.Poll(ctx)
	cancel()
	if err != nil {
		n.log.Warn("polling btcd", "err", err)
		n.setSynced(false)
		return
	}
	n.setSynced(true)
	if changed {
		n.checkpoint()
		n.wake()
	}
}

// saveRouting writes the network graph and scorer snapshots.
func (n *Node) saveRouting() {
	if err := n.routing.save(time.Now()); err != nil {
		n.log.Error("saving the network graph and scorer", "err", err)
	}
}

// archive archives the monitors of fully resolved channels (see archiveResolved).
func (n *Node) archive() {
	archiveResolved(n.chainMon, n.log, n.hub)
}

// refreshFees refreshes the fee estimates and offers our unconfirmed transactions again.
func (n *Node) refreshFees() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := n.chain.RefreshFees(ctx); err != nil {
		n.log.Warn("refreshing fee estimates", "err", err)
	}
	cancel()
	// Our own unconfirmed transactions (funding change, sweeps) are offered again.
	n.chain.BroadcastTransactions(n.wallet.UnconfirmedTransactions()...)
}

func (n *Node) acceptLoop(ln net.Listener) {
	defer n.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-n.stopCh:
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
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	return n.addConn(nc, id, addr)
}

// addConn registers a connection with the PeerManager and starts its goroutines. An outbound
// connection to a peer we have channels with is redialled when it drops.
func (n *Node) addConn(nc net.Conn, theirID *btcec.PublicKey, addr string) error {
	n.mu.Lock()
	if n.stopping {
		n.mu.Unlock()
		_ = nc.Close()
		return errors.New("node is stopping")
	}
	n.mu.Unlock()
	info := connInfo{addr: nc.RemoteAddr().String(), inbound: theirID == nil}
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
	c.SetBeforeWrite(func() {
		if err := n.persistManager(false); err != nil {
			n.log.Error("persisting channel manager", "err", err)
		}
	})
	n.mu.Lock()
	if n.stopping {
		n.mu.Unlock()
		n.pm.SocketDisconnected(c)
		_ = nc.Close()
		return errors.New("node is stopping")
	}
	n.conns[c] = info
	c.Start(&n.wg)
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		<-c.Done()
		n.mu.Lock()
		delete(n.conns, c)
		stopping := n.stopping
		n.mu.Unlock()
		n.wake()
		if theirID != nil && !stopping && n.hasChannelWith(theirID) {
			n.redial(theirID, addr)
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

// redial reconnects to a peer with backoff until connected or stopped. If the peer connects to us
// meanwhile, or another connection of ours to it is under way (one that replaced the connection whose
// end started this redial), it stops: redialling then would replace that one in turn, endlessly.
func (n *Node) redial(id *btcec.PublicKey, addr string) {
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
		case <-n.stopCh:
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// handleEvent is the host's reaction to each event of the ChannelManager and the ChainMonitor.
func (n *Node) handleEvent(e events.Event) error {
	switch ev := e.(type) {
	case events.FundingGenerationReady:
		n.fundChannel(ev)
	case events.ChannelPending:
		n.mu.Lock()
		ch := n.opening[ev.FormerTemporaryChannelID]
		delete(n.opening, ev.FormerTemporaryChannelID)
		tx := n.fundingTxs[ev.FundingTxo.Hash]
		delete(n.fundingTxs, ev.FundingTxo.Hash)
		n.mu.Unlock()
		if tx != nil {
			// The manager has broadcast it (through a queue); hand it to btcd now as well, so that
			// openchannel returns with the funding transaction in the mempool.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := n.chain.SendRawTransaction(ctx, tx); err != nil && !errors.Is(err, btcdchain.ErrAlreadyKnown) {
				n.log.Warn("broadcasting funding transaction", "txid", tx.TxHash(), "err", err)
			}
			cancel()
		}
		if ch != nil {
			ch <- openResult{pending: ev}
		}
		n.hub.publish(nodeapi.Event{Type: "channel_pending", ChannelID: hex.EncodeToString(ev.ChannelID[:]),
			NodeID: hex.EncodeToString(ev.CounterpartyNodeID.SerializeCompressed())})
	case events.ChannelReady:
		n.hub.publish(nodeapi.Event{Type: "channel_ready", ChannelID: hex.EncodeToString(ev.ChannelID[:]),
			NodeID: hex.EncodeToString(ev.CounterpartyNodeID.SerializeCompressed())})
	case events.ChannelClosed:
		n.mu.Lock()
		ch := n.opening[ev.ChannelID] // a channel that closed before funding is known by its temporary id
		delete(n.opening, ev.ChannelID)
		n.mu.Unlock()
		if ch != nil {
			ch <- openResult{err: fmt.Errorf("channel closed: %s %s", ev.Reason, ev.Message)}
		}
		n.hub.publish(nodeapi.Event{Type: "channel_closed", ChannelID: hex.EncodeToString(ev.ChannelID[:]),
			NodeID: nodeIDHex(ev.CounterpartyNodeID), Reason: strings.TrimSpace(ev.Reason.String() + " " + ev.Message)})
	case events.DiscardFunding:
		n.mu.Lock()
		tx := n.fundingTxs[ev.FundingTxid]
		delete(n.fundingTxs, ev.FundingTxid)
		n.mu.Unlock()
		if tx != nil {
			if err := n.wallet.UnlockInputs(tx); err != nil {
				n.log.Warn("unlocking discarded funding inputs", "err", err)
			}
		}
	case events.PaymentClaimable:
		if ev.Purpose.PaymentPreimage != nil {
			// Recorded as paid before the claim: once ClaimFunds has handed the preimage to the monitor
			// the money is ours (off chain, or on chain at worst), and PaymentClaimed is not re-sent
			// after a crash.
			n.paymentReceived(events.PaymentClaimed{PaymentHash: ev.PaymentHash, AmountMsat: ev.AmountMsat}, false)
			if err := n.cm.ClaimFunds(*ev.Purpose.PaymentPreimage); err != nil {
				n.log.Warn("claiming payment", "hash", hex.EncodeToString(ev.PaymentHash[:]), "err", err)
			}
		} else if err := n.cm.FailHTLCBackwards(ev.PaymentHash); err != nil {
			n.log.Warn("failing unknown payment", "err", err)
		}
	case events.PaymentClaimed:
		n.paymentReceived(ev, true)
	case events.PaymentSent:
		id := hex.EncodeToString(ev.PaymentID[:])
		n.store.updatePayment(id, func(p *nodeapi.Payment) {
			p.Status = nodeapi.StatusSucceeded
			p.Preimage = hex.EncodeToString(ev.PaymentPreimage[:])
			p.FeeMsat = ev.FeePaidMsat
		})
		n.hub.publish(nodeapi.Event{Type: "payment_sent", PaymentID: id, PaymentHash: hex.EncodeToString(ev.PaymentHash[:])})
	case events.PaymentPathFailed:
		id := hex.EncodeToString(ev.PaymentID[:])
		n.store.updatePayment(id, func(p *nodeapi.Payment) {
			p.FailureCode = ev.FailureCode
			p.FailureReason = failureName(ev.FailureCode)
		})
	case events.PaymentFailed:
		id := hex.EncodeToString(ev.PaymentID[:])
		p, _ := n.store.updatePayment(id, func(p *nodeapi.Payment) {
			p.Status = nodeapi.StatusFailed
			if p.FailureReason == "" {
				p.FailureReason = ev.Reason.String()
			} else {
				p.FailureReason += " (" + ev.Reason.String() + ")"
			}
		})
		n.hub.publish(nodeapi.Event{Type: "payment_failed", PaymentID: id, PaymentHash: hex.EncodeToString(ev.PaymentHash[:]),
			Reason: p.FailureReason})
	case events.PaymentForwarded:
		if err := n.forwards.add(n.forwardRecord(ev, time.Now())); err != nil {
			// Returned: the manager keeps the event and hands it over again.
			return fmt.Errorf("recording forward: %w", err)
		}
		n.hub.publish(nodeapi.Event{Type: "payment_forwarded", ChannelID: hex.EncodeToString(ev.PrevChannelID[:]),
			NextChannelID: hex.EncodeToString(ev.NextChannelID[:]), AmountMsat: ev.OutboundAmountForwardedMsat,
			FeeMsat: ev.FeeEarnedMsat})
	case events.HTLCHandlingFailed:
		e := nodeapi.Event{Type: "htlc_handling_failed", ChannelID: hex.EncodeToString(ev.PrevChannelID[:]),
			FailureCode: ev.FailureCode}
		if ev.FailedNextDestination.NextChannelID != (lnwire.ChannelID{}) {
			e.NextChannelID = hex.EncodeToString(ev.FailedNextDestination.NextChannelID[:])
		}
		if ev.FailureCode != 0 {
			e.Reason = failureName(ev.FailureCode)
		} else {
			e.Reason = "the next hop's failure, relayed"
		}
		if scid := ev.FailedNextDestination.UnknownNextSCID; scid != 0 {
			e.ShortChannelID = lnwire.NewShortChannelIDFromUint64(scid).String()
		}
		n.hub.publish(e)
	case events.ProbeSuccessful:
		n.hub.publish(nodeapi.Event{Type: "probe_successful", PaymentID: hex.EncodeToString(ev.PaymentID[:]),
			PaymentHash: hex.EncodeToString(ev.PaymentHash[:])})
	case events.ProbeFailed:
		e := nodeapi.Event{Type: "probe_failed", PaymentID: hex.EncodeToString(ev.PaymentID[:]),
			PaymentHash: hex.EncodeToString(ev.PaymentHash[:])}
		if ev.ShortChannelID != 0 {
			e.ShortChannelID = lnwire.NewShortChannelIDFromUint64(ev.ShortChannelID).String()
		}
		n.hub.publish(e)
	case events.SpendableOutputs:
		n.sweep(ev)
	case events.BumpChannelClose:
		n.bumper.handle(ev)
	case events.BumpHTLCResolution:
		n.bumper.handle(ev)
	case events.OpenChannelRequest:
		// Only with ManuallyAcceptInboundChannels, which this node does not set.
	}
	return nil
}

// forwardRecord describes a forward for the history, with the channels' short ids and peers when the
// manager still knows the channels.
func (n *Node) forwardRecord(ev events.PaymentForwarded, now time.Time) nodeapi.Forward {
	rec := nodeapi.Forward{Timestamp: now.Unix(), PrevChannelID: hex.EncodeToString(ev.PrevChannelID[:]),
		NextChannelID: hex.EncodeToString(ev.NextChannelID[:]), AmountInMsat: ev.IncomingAmountMsat,
		AmountOutMsat: ev.OutboundAmountForwardedMsat, FeeMsat: ev.FeeEarnedMsat, ClaimedOnChain: ev.ClaimedOnChain}
	for _, c := range n.cm.ListChannels() {
		var scid string
		if c.ShortChannelID != (lnwire.ShortChannelID{}) {
			scid = c.ShortChannelID.String()
		}
		switch c.ChannelID {
		case ev.PrevChannelID:
			rec.PrevShortChannelID, rec.PrevNodeID = scid, nodeIDHex(c.CounterpartyNodeID)
		case ev.NextChannelID:
			rec.NextShortChannelID, rec.NextNodeID = scid, nodeIDHex(c.CounterpartyNodeID)
		}
	}
	return rec
}

// fundChannel builds and hands over the funding transaction a channel asked for.
func (n *Node) fundChannel(ev events.FundingGenerationReady) {
	feerate := n.chain.EstimateFeeratePerKw(chaininterface.NonAnchorChannelFee)
	tx, err := n.wallet.FundTransaction([]*wire.TxOut{{Value: ev.ChannelValueSat, PkScript: ev.OutputScript}}, feerate)
	if err == nil {
		err = n.cm.FundingTransactionGenerated(ev.TemporaryChannelID, ev.CounterpartyNodeID, tx)
		if err != nil {
			_ = n.wallet.UnlockInputs(tx)
		} else {
			n.mu.Lock()
			n.fundingTxs[tx.TxHash()] = tx
			n.mu.Unlock()
		}
	}
	if err != nil {
		n.log.Warn("funding channel", "temp", hex.EncodeToString(ev.TemporaryChannelID[:]), "err", err)
		_ = n.cm.ForceCloseBroadcastingLatestTxn(ev.TemporaryChannelID, ev.CounterpartyNodeID)
		n.mu.Lock()
		ch := n.opening[ev.TemporaryChannelID]
		delete(n.opening, ev.TemporaryChannelID)
		n.mu.Unlock()
		if ch != nil {
			ch <- openResult{err: fmt.Errorf("funding: %w", err)}
		}
	}
}

// sweep spends outputs the monitors handed over into the wallet, unless they already pay the wallet.
func (n *Node) sweep(ev events.SpendableOutputs) {
	var descs []events.SpendableOutputDescriptor
	for _, d := range ev.Outputs {
		if d.Kind == events.StaticOutput && n.wallet.IsMine(d.Output.PkScript) {
			continue // already the wallet's: it saw the output in its block
		}
		descs = append(descs, d)
	}
	if len(descs) == 0 {
		return
	}
	feerate := n.chain.EstimateFeeratePerKw(chaininterface.OutputSpendingFee)
	tx, err := n.wallet.SweepSpendableOutputs(descs, feerate, n.km)
	if err != nil {
		n.log.Error("sweeping spendable outputs", "channel", hex.EncodeToString(ev.ChannelID[:]), "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.chain.SendRawTransaction(ctx, tx); err != nil {
		n.log.Warn("broadcasting sweep", "txid", tx.TxHash(), "err", err)
	}
	n.log.Info("swept spendable outputs", "txid", tx.TxHash(), "outputs", len(descs))
}

// paymentReceived records a claimed payment against its invoice (or as a keysend receipt) and, when
// announce, tells the event stream.
func (n *Node) paymentReceived(ev events.PaymentClaimed, announce bool) {
	hash := hex.EncodeToString(ev.PaymentHash[:])
	now := time.Now().Unix()
	inv, ok := n.store.invoice(hash)
	if ok && inv.Status == nodeapi.InvoicePaid && inv.ReceivedMsat == ev.AmountMsat {
		if announce {
			n.hub.publish(nodeapi.Event{Type: "payment_received", PaymentHash: hash, AmountMsat: ev.AmountMsat})
		}
		return
	}
	if !ok {
		inv = nodeapi.Invoice{PaymentHash: hash, Keysend: true, CreatedAt: now}
	}
	inv.Status = nodeapi.InvoicePaid
	inv.ReceivedMsat = ev.AmountMsat
	inv.PaidAt = now
	n.store.putInvoice(inv)
	if announce {
		n.hub.publish(nodeapi.Event{Type: "payment_received", PaymentHash: hash, AmountMsat: ev.AmountMsat})
	}
}

func nodeIDHex(k *btcec.PublicKey) string {
	if k == nil {
		return ""
	}
	return hex.EncodeToString(k.SerializeCompressed())
}

func parseNodeID(s string) (*btcec.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 33 {
		return nil, fmt.Errorf("%w: node id must be 66 hex characters", nodeapi.ErrInvalidParams)
	}
	k, err := btcec.ParsePubKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: node id: %v", nodeapi.ErrInvalidParams, err)
	}
	return k, nil
}

// eventHub fans node events out to the control API's subscribers.
type eventHub struct {
	mu   sync.Mutex
	next int
	subs map[int]chan nodeapi.Event
}

func newEventHub() *eventHub { return &eventHub{subs: map[int]chan nodeapi.Event{}} }

func (h *eventHub) subscribe() (<-chan nodeapi.Event, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	ch := make(chan nodeapi.Event, 256)
	h.subs[id] = ch
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if c, ok := h.subs[id]; ok {
			delete(h.subs, id)
			close(c)
		}
	}
}

func (h *eventHub) publish(e nodeapi.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.subs {
		select {
		case ch <- e:
		default: // a slow subscriber misses events rather than stalling the node
		}
	}
}
