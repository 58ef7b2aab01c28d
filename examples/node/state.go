package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/examples/node/btcdchain"
	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/peermanager"
	"github.com/lnkit/lnkit/router"
)

// openState opens the store and reads the node's state from it (the store component's Start): the
// chain tip, the wallet, the monitors and the channel manager, the routing state, the payment records
// and the forwarding history, and the known peers. A new node starts at btcd's tip. A datadir of the
// layout before the store is copied in first (migrateFiles).
func (n *Node) openState(ctx context.Context) error {
	cfg, log, params := n.cfg, n.log, n.net
	// Nothing works without btcd: say so at once, and wait for it.
	if err := n.waitForBtcd(ctx); err != nil {
		return err
	}
	openCtx, cancelOpen := context.WithTimeout(ctx, 30*time.Second)
	opened, err := n.openStore(openCtx)
	cancelOpen()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	n.opened = opened
	ok := false
	defer func() {
		if !ok {
			n.closeStateQuietly()
		}
	}()
	if _, err := n.storedNodeID(opened.kv); err != nil {
		return err
	}
	kv := opened.kv
	if cfg.leaseEnabled() {
		l := &lease{kv: opened.kv, cfg: cfg.leaseConfig(), holder: newHolderID(),
			nodeID: hex.EncodeToString(n.nodeID.SerializeCompressed()), log: log.With("component", "lease"), onLost: n.leaseLost}
		log.Info("waiting for the lease (active/passive)", "holder", l.holder, "store", opened.desc)
		if err := l.acquire(ctx); err != nil {
			return fmt.Errorf("waiting for the lease: %w", err)
		}
		l.startRenewing()
		n.lease.Store(l)
		kv = &fencedStore{KVStore: opened.kv, l: l}
	}
	n.kvCount = &countingStore{KVStore: kv}
	n.kv = n.kvCount
	n.hot = kvstore.NewWriteBuffer(n.kv)
	if err := n.checkNodeID(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	legacy, err := n.migrateFiles()
	if err != nil {
		return fmt.Errorf("copying the datadir's files into the store: %w", err)
	}
	if err := n.chain.RefreshFees(ctx); err != nil {
		log.Warn("fee estimates", "err", err)
	}
	tip, err := n.loadTip()
	if err != nil {
		return err
	}
	if tip.Height == 0 && tip.Hash == (chainhash.Hash{}) {
		tip, err = n.chain.BestBlock(ctx)
		if err != nil {
			return fmt.Errorf("btcd: %w", err)
		}
	}

	n.wallet, err = wallet.OpenWithSigner(walletStorage{kv: n.kv}, n.signer, params, tip)
	if err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	n.bcast = n.wallet.Broadcaster(n.out)
	script, err := n.lightningScript()
	if err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	n.keys = &walletKeys{nodeSigner: n.signer, script: script}
	n.bumper, err = newBumper(n.wallet, n.bcast, n.keys, log.With("component", "bumptx"), n.hub)
	if err != nil {
		return err
	}

	// A monitor is written in full once the updates stored since add up to half its size (at most
	// 16 × 64 updates apart), so that an update costs its own size, not the monitor's, however long
	// the channel's history.
	n.persister = channelmonitor.NewKVStorePersister(n.hot, channelmonitor.KVStorePersisterOptions{
		LogFraction: 0.5, Logger: log.With("component", "monitorpersister")})
	n.chainMon = channelmonitor.NewChainMonitor(nil, n.bcast, log.With("component", "chainmonitor"), n.chain, n.persister)
	readArgs := func(mons []*channelmonitor.ChannelMonitor) channelmanager.ReadArgs {
		return channelmanager.ReadArgs{FeeEstimator: n.chain, Watch: n.chainMon, Broadcaster: n.bcast,
			Logger: log.With("component", "channelmanager"), Keys: n.keys, Config: config.Default(), Net: params, Monitors: mons}
	}
	var mons []*channelmonitor.ChannelMonitor
	if legacy != nil {
		mons, err = legacy.monitors(n)
	} else {
		mons, err = n.persister.ReadChannelMonitors(n.keys)
	}
	if err != nil {
		return fmt.Errorf("reading monitors: %w", err)
	}
	for _, m := range mons {
		if err := n.chainMon.LoadMonitor(m); err != nil {
			return fmt.Errorf("loading monitor: %w", err)
		}
	}
	switch {
	case legacy != nil && legacy.manager != nil:
		n.cm, err = channelmanager.Read(legacy.manager, readArgs(mons))
		if err == nil {
			_, err = n.cm.PersistAllTo(n.kv)
		}
	case legacy == nil:
		n.cm, err = channelmanager.ReadFromStore(n.kv, readArgs(mons))
	default:
		err = kvstore.ErrNotFound
	}
	if errors.Is(err, kvstore.ErrNotFound) && len(mons) > 0 {
		err = fmt.Errorf("the store holds %d channel monitors but no channel manager: refusing to start a new one over them", len(mons))
	} else if errors.Is(err, kvstore.ErrNotFound) {
		n.cm, err = channelmanager.New(n.chain, n.chainMon, n.bcast, log.With("component", "channelmanager"), n.keys,
			config.Default(), channelmanager.ChainParams{Net: params, BestBlock: chaininterface.BestBlock{Hash: tip.Hash, Height: tip.Height}})
		if err == nil {
			_, err = n.cm.PersistAllTo(n.kv)
		}
	} else if err == nil {
		log.Info("channel manager loaded", "channels", len(n.cm.ListChannels()), "monitors", len(mons))
	}
	if err != nil {
		return fmt.Errorf("channel manager: %w", err)
	}
	if legacy != nil {
		if err := legacy.finish(n); err != nil {
			return err
		}
	}
	if err := n.saveTip(tip); err != nil {
		return err
	}
	var utxo router.UTXOLookup
	if cfg.GossipVerifyFunding {
		utxo = n.chain.NewUTXOLookup()
	}
	n.routing = openRouting(n.kv, params, utxo, cfg.Gossip, log)
	n.cm.SetRouter(n.routing.newRouter(n.nodeID))
	var route peermanager.RoutingMessageHandler
	n.gossipGate = nil
	if n.routing.gossip != nil {
		n.gossipGate = &gossipGate{sync: n.routing.gossip}
		route = n.gossipGate
	}
	n.pm = peermanager.New(n.peerHandlers(route), n.signer, n.signer,
		peermanager.Config{ChainHashes: []chainhash.Hash{*params.GenesisHash}}, log.With("component", "peermanager"))
	n.listener0 = &chainListener{n: n}
	n.follower = n.chain.NewFollower(tip, n.listener0)
	n.follower.AddListener(n.wallet.BestBlock(), n.wallet)
	n.store, err = openStore(n.hot, log.With("component", "records"))
	if err != nil {
		return fmt.Errorf("payment records: %w", err)
	}
	for _, id := range reconcilePayments(n.store, n.cm.ListRecentPayments()) {
		log.Info("payment unknown to the channel manager marked failed", "payment_id", id)
	}
	n.forwards, err = openForwardLog(n.hot)
	if err != nil {
		return fmt.Errorf("forwarding history: %w", err)
	}
	saved := map[string]string{}
	if b, err := readKey(n.kv, keyPeers); err != nil {
		return err
	} else if b != nil {
		if err := json.Unmarshal(b, &saved); err != nil {
			log.Warn("known peers unreadable; none redialled", "err", err)
		}
	}
	peers, changed := normalisePeers(saved, log)
	n.mu.Lock()
	n.peerAddrs = peers
	n.mu.Unlock()
	if changed {
		n.savePeers()
	}
	n.announcer = announcer{}
	ok = true
	log.Info("node state loaded", "store", opened.desc, "node_id", hex.EncodeToString(n.nodeID.SerializeCompressed()),
		"network", params.Name, "height", tip.Height)
	return nil
}

// openStore opens the store -store names (or the test's).
func (n *Node) openStore(ctx context.Context) (*openedStore, error) {
	if n.cfg.openKV != nil {
		return n.cfg.openKV()
	}
	return openKV(ctx, n.cfg.Store, n.dir, n.cfg.PostgresDSN, n.cfg.PostgresTimeout)
}

// storedNodeID returns the node id the store records (nil if none) and an error if it is not ours.
func (n *Node) storedNodeID(kv kvstore.KVStore) ([]byte, error) {
	ours := hex.EncodeToString(n.nodeID.SerializeCompressed())
	b, err := readKey(kv, keyNodeID)
	if err != nil {
		return nil, err
	}
	if b != nil && string(b) != ours {
		return nil, fmt.Errorf("the store holds the state of node %s, but the seed in %s is node %s's", b, n.cfg.DataDir, ours)
	}
	return b, nil
}

// checkNodeID makes sure the store holds this node's state, recording our id in a new store.
func (n *Node) checkNodeID() error {
	b, err := n.storedNodeID(n.kv)
	if err != nil || b != nil {
		return err
	}
	return n.kv.Write(keyNodeID, []byte(hex.EncodeToString(n.nodeID.SerializeCompressed())))
}

// closeState writes what is pending (the manager, the graph and scorer) and closes the store (the
// store component's Stop).
func (n *Node) closeState() error {
	var errs []error
	if err := n.persistAndFlush(true); err != nil {
		errs = append(errs, err)
	}
	if err := n.routing.save(time.Now()); err != nil {
		errs = append(errs, fmt.Errorf("saving the network graph and scorer: %w", err))
	}
	if n.kvCount != nil {
		n.log.Info("store closed", "writes", n.kvCount.writes.Load(), "bytes_written", n.kvCount.bytes.Load())
	}
	return errors.Join(append(errs, n.closeStateQuietly())...)
}

// closeStateQuietly closes what openState opened, writing nothing more than the wallet's pending state.
func (n *Node) closeStateQuietly() error {
	if n.forwards != nil {
		n.forwards.close()
	}
	if n.wallet != nil {
		if err := n.wallet.Close(); err != nil {
			n.log.Warn("closing wallet", "err", err)
		}
	}
	if l := n.lease.Load(); l != nil {
		l.release() // the standby may take over at once
	}
	if n.opened == nil {
		return nil
	}
	err := n.opened.close()
	n.opened = nil
	return err
}

// lightningScript is the wallet script that cooperative closes and sweeps pay to: one wallet address,
// chosen once and kept under keyCloseAddr.
func (n *Node) lightningScript() ([]byte, error) {
	b, err := readKey(n.kv, keyCloseAddr)
	if err != nil {
		return nil, err
	}
	if b != nil {
		addr, err := btcutil.DecodeAddress(strings.TrimSpace(string(b)), n.net)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyCloseAddr, err)
		}
		return txscript.PayToAddrScript(addr)
	}
	addr, err := n.wallet.NewAddress()
	if err != nil {
		return nil, err
	}
	if err := n.kv.Write(keyCloseAddr, []byte(addr.EncodeAddress())); err != nil {
		return nil, err
	}
	return txscript.PayToAddrScript(addr)
}

// loadTip reads the block the node's state has processed; zero if new.
func (n *Node) loadTip() (btcdchain.BlockRef, error) {
	b, err := readKey(n.kv, keyTip)
	if err != nil || b == nil {
		return btcdchain.BlockRef{}, err
	}
	return parseTip(b)
}

// parseTip reads "<hash> <height>".
func parseTip(b []byte) (btcdchain.BlockRef, error) {
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return btcdchain.BlockRef{}, fmt.Errorf("%s: malformed", keyTip)
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
	return n.kv.Write(keyTip, fmt.Appendf(nil, "%s %d", t.Hash, t.Height))
}

// persistManager writes the channel manager's changed records if it says it needs persisting (or
// always, with force, or after a failed write).
func (n *Node) persistManager(force bool) error {
	n.persistMu.Lock()
	defer n.persistMu.Unlock()
	if !n.cm.GetAndClearNeedsPersistence() && !force && !n.persistFailed {
		return nil
	}
	_, err := n.cm.PersistTo(n.hot)
	n.persistFailed = err != nil
	return err
}

// flush commits the held writes of the payment path (n.hot) to the store in one batch, and then
// lets the callers waiting for a payment whose outcome it made durable have it. It is the node's
// durability barrier: called before bytes go to a peer, before a broadcast, before the chain tip is
// recorded, and at the end of each event-loop pass.
func (n *Node) flush() error {
	if n.hot == nil {
		return nil
	}
	if err := n.hot.Flush(); err != nil {
		return err
	}
	if n.store != nil {
		n.store.release()
	}
	return nil
}

// persistAndFlush writes the channel manager's changed records (force: all that differ from the
// store) and flushes; see flush.
func (n *Node) persistAndFlush(force bool) error {
	if err := n.persistManager(force); err != nil {
		return fmt.Errorf("persisting channel manager: %w", err)
	}
	if err := n.flush(); err != nil {
		return fmt.Errorf("committing to the store: %w", err)
	}
	return nil
}

// normalisePeers returns the saved peers keyed by their canonical node ids (lower-case hex), and
// whether that changed anything. Earlier versions kept the id as the user typed it: an id saved in
// two cases keeps the address saved under the lower-case one (the form every connection uses), and
// an entry that is not a node id is dropped.
func normalisePeers(saved map[string]string, log *slog.Logger) (map[string]string, bool) {
	out := make(map[string]string, len(saved))
	changed := false
	ids := make([]string, 0, len(saved))
	for id := range saved {
		ids = append(ids, id)
	}
	sort.Strings(ids) // upper-case ids first: a lower-case twin, later, wins
	for _, id := range ids {
		addr := saved[id]
		norm, err := normNodeID(id)
		if err != nil || addr == "" {
			log.Warn("saved peer dropped: not a node id and an address", "node_id", id, "address", addr)
			changed = true
			continue
		}
		if norm != id {
			changed = true
		}
		if prev, ok := out[norm]; ok && prev != addr {
			log.Warn("saved peer under two spellings of its node id: keeping one address", "node_id", norm,
				"kept", addr, "dropped", prev)
		}
		out[norm] = addr
	}
	return out, changed
}

func (n *Node) savePeers() {
	n.peersSaveMu.Lock() // writes in the order of the states they save
	defer n.peersSaveMu.Unlock()
	n.mu.Lock()
	b, _ := json.Marshal(n.peerAddrs)
	n.mu.Unlock()
	if err := n.kv.Write(keyPeers, b); err != nil {
		n.log.Warn("saving peers", "err", err)
	}
}
