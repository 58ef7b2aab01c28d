package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
	"github.com/lnkit/lnkit/router"
)

// Keys of the routing state's snapshots in the node's KVStore; a snapshot that cannot be decoded is
// moved to the key with corruptSuffix.
var (
	graphKey  = kvstore.Key{Primary: "routing", Key: "graph"}
	scorerKey = kvstore.Key{Primary: "routing", Key: "scorer"}
)

const corruptSuffix = "-corrupt"

// routing is the node's view of the network: the NetworkGraph, fed by gossip (the P2PGossipSync is
// the PeerManager's routing message handler) and by the chain (chainListener hands it every block, so
// a funding spend closes the channel), the ProbabilisticScorer that queryroutes consults, and the
// DefaultRouter over both that the ChannelManager pays with (SetRouter), learning from every outcome.
//
// Both are caches: they are snapshotted to ("routing", "", "graph") and ("routing", "", "scorer") every
// -tick.graph, at Stop, and the graph also at a chain checkpoint that changed its funding spends (so
// that a close seen in a block is not lost to a crash once the block is checkpointed). A snapshot that
// cannot be decoded is moved aside (to "graph-corrupt", "scorer-corrupt") and the node starts with an
// empty graph or scorer.
type routing struct {
	graph  *router.NetworkGraph
	scorer *router.ProbabilisticScorer
	gossip *router.P2PGossipSync // nil without -gossip
	router *router.DefaultRouter // nil until newRouter
	kv     kvstore.KVStore
	log    *slog.Logger

	saveMu     sync.Mutex
	spentSaved [sha256.Size]byte // digest of the graph's funding spends in the last graph snapshot
}

// openRouting loads the graph and scorer snapshots of kv (or starts empty) and, with gossip, makes
// the gossip sync over the graph. utxo may be nil (announcements are then not checked on chain).
func openRouting(kv kvstore.KVStore, net *chaincfg.Params, utxo router.UTXOLookup, gossip bool, log *slog.Logger) *routing {
	r := &routing{kv: kv, log: log}
	r.graph = loadGraph(kv, utxo, log)
	r.scorer = loadScorer(kv, r.graph, log)
	r.spentSaved = spentDigest(r.graph)
	if gossip {
		r.gossip = router.NewP2PGossipSync(r.graph, net, router.GossipConfig{}, log.With("component", "gossip"))
	}
	log.Info("network graph loaded", "nodes", r.graph.NumNodes(), "channels", r.graph.NumChannels(),
		"scored_channels", r.scorer.Len(), "gossip", gossip)
	return r
}

// loadGraph reads the graph snapshot; a missing one gives an empty graph, an undecodable one is moved
// aside and gives an empty graph.
func loadGraph(kv kvstore.KVStore, utxo router.UTXOLookup, log *slog.Logger) *router.NetworkGraph {
	data := readSnapshot(kv, graphKey, log)
	if data == nil {
		return router.NewNetworkGraph(utxo)
	}
	g, err := router.ReadNetworkGraph(data, utxo)
	if err != nil {
		quarantine(kv, graphKey, data, err, log)
		return router.NewNetworkGraph(utxo)
	}
	return g
}

// loadScorer reads the scorer snapshot as loadGraph does, with LDK's default parameters.
func loadScorer(kv kvstore.KVStore, graph *router.NetworkGraph, log *slog.Logger) *router.ProbabilisticScorer {
	decay := router.DefaultProbabilisticScoringDecayParameters()
	fee := router.DefaultProbabilisticScoringFeeParameters()
	data := readSnapshot(kv, scorerKey, log)
	if data == nil {
		return router.NewProbabilisticScorer(decay, fee, graph)
	}
	s, err := router.ReadProbabilisticScorer(data, decay, fee, graph)
	if err != nil {
		quarantine(kv, scorerKey, data, err, log)
		return router.NewProbabilisticScorer(decay, fee, graph)
	}
	return s
}

// readSnapshot returns the value under k, nil if there is none; another error is logged.
func readSnapshot(kv kvstore.KVStore, k kvstore.Key, log *slog.Logger) []byte {
	data, _, err := kv.Read(k)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		log.Warn("cannot read snapshot; starting empty", "key", k.String(), "err", err)
		return nil
	}
	return data
}

// quarantine logs a snapshot that could not be decoded and moves it to <key>-corrupt.
func quarantine(kv kvstore.KVStore, k kvstore.Key, data []byte, err error, log *slog.Logger) {
	aside := kvstore.Key{Primary: k.Primary, Secondary: k.Secondary, Key: k.Key + corruptSuffix}
	log.Warn("corrupt snapshot moved aside; starting empty", "key", k.String(), "to", aside.String(), "err", err)
	var b kvstore.Batch
	if err := kv.Commit(b.Put(aside, data).Remove(k)); err != nil {
		log.Warn("moving corrupt snapshot", "key", k.String(), "err", err)
	}
}

// handler is the PeerManager's routing message handler: the gossip sync, or nil without gossip.
func (r *routing) handler() peermanager.RoutingMessageHandler {
	if r.gossip == nil {
		return nil
	}
	return r.gossip
}

// newRouter makes the DefaultRouter for payer (our node id) over the graph and the scorer.
func (r *routing) newRouter(payer *btcec.PublicKey) *router.DefaultRouter {
	r.router = router.NewDefaultRouter(r.graph, r.scorer, payer)
	return r.router
}

// tick passes the host's time to the gossip sync (flushes, sync timeouts, pruning) and to the router
// (the scorer's knowledge decays with it; payment outcomes are scored at that time).
func (r *routing) tick(now time.Time) {
	t := time.Duration(now.UnixNano())
	if r.gossip != nil {
		r.gossip.TimerTick(t)
	}
	if r.router != nil {
		r.router.TimerTick(t)
	}
}

// save decays the scorer to now and writes both snapshots.
func (r *routing) save(now time.Time) error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.scorer.TimePassed(time.Duration(now.UnixNano()))
	return errors.Join(r.saveGraphLocked(), r.kv.Write(scorerKey, r.scorer.Write()))
}

// saveIfSpendsChanged writes the graph snapshot if the funding spends it tracks changed since the last
// one: called before a chain checkpoint, so that the checkpointed blocks' closes are on disk.
func (r *routing) saveIfSpendsChanged() error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	if spentDigest(r.graph) == r.spentSaved {
		return nil
	}
	return r.saveGraphLocked()
}

func (r *routing) saveGraphLocked() error {
	digest := spentDigest(r.graph)
	if err := r.kv.Write(graphKey, r.graph.Write()); err != nil {
		return err
	}
	r.spentSaved = digest
	return nil
}

// spentDigest hashes the funding spends the graph tracks, in a fixed order.
func spentDigest(g *router.NetworkGraph) [sha256.Size]byte {
	spends := g.GetRelevantTxids()
	slices.SortFunc(spends, func(a, b chaininterface.RelevantTx) int {
		if c := bytes.Compare(a.Txid[:], b.Txid[:]); c != 0 {
			return c
		}
		return bytes.Compare(a.BlockHash[:], b.BlockHash[:])
	})
	h := sha256.New()
	for _, s := range spends {
		h.Write(s.Txid[:])
		h.Write(s.BlockHash[:])
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// nodeAddrs are the addresses a node announced that the node can dial (IPv4, IPv6 and DNS names:
// not onion services), as host:port; none if the graph has no node_announcement of it.
func (r *routing) nodeAddrs(id [33]byte) []string {
	v := r.graph.ReadOnly()
	defer v.Release()
	ni, ok := v.Node(id)
	if !ok || ni.Announcement == nil {
		return nil
	}
	addrs, _, err := lnwire.DecodeNodeAddresses(ni.Announcement.Addresses)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		switch a.Type {
		case lnwire.AddressIPv4, lnwire.AddressIPv6, lnwire.AddressDNSHostname:
			if a.Port != 0 {
				out = append(out, a.String())
			}
		}
	}
	return out
}
