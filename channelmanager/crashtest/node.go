package crashtest

import (
	"crypto/sha256"
	"strconv"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
)

// maxPendingUpdates is Bob's KVStorePersister's MaximumPendingUpdates: small, so that full monitor
// writes (a batch that also removes the updates it includes) are among the crash points.
const maxPendingUpdates = 4

// node is one lnkit stack driven as a host drives it, through the public API only: keys, a real
// ChainMonitor persisting through a KVStorePersister over store, and a ChannelManager.
type node struct {
	t      testing.TB
	name   string
	km     *keys.KeysManager
	id     *btcec.PublicKey
	cfg    config.UserConfig
	chain  *testchain.Chain
	wallet *testchain.Wallet
	bcast  *broadcaster
	store  kvstore.KVStore // what the node writes through: base, or a WriteBuffer over it
	base   kvstore.KVStore // the store itself
	opts   channelmonitor.KVStorePersisterOptions
	mon    *channelmonitor.ChainMonitor
	pers   *channelmonitor.KVStorePersister
	cm     *channelmanager.ChannelManager
	proxy  *testchain.ListenerProxy
	events []events.Event
	// beforeSend, if set, runs after the node's messages are pulled and before they leave; false
	// drops them (the host is dead).
	beforeSend func() bool
}

func nodeConfig() config.UserConfig {
	cfg := config.Default()
	cfg.ChannelHandshakeConfig.MinimumDepth = 3
	cfg.ChannelHandshakeConfig.OurToSelfDelay = 144
	cfg.ChannelHandshakeConfig.OurMaxAcceptedHTLCs = 483
	cfg.ChannelHandshakeConfig.MaxInboundHTLCValueInFlightPercent = 100
	cfg.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx = true
	return cfg
}

// newNode starts a node with a new manager whose monitors persist into store.
func newNode(t testing.TB, chain *testchain.Chain, name string, seedByte byte, store kvstore.KVStore, opts channelmonitor.KVStorePersisterOptions) *node {
	var seed [32]byte
	seed[0] = seedByte
	n := &node{t: t, name: name, km: keys.NewKeysManager(seed, 1_700_000_000, 0), cfg: nodeConfig(), chain: chain,
		store: store, base: store, opts: opts, proxy: &testchain.ListenerProxy{}}
	n.id = n.km.GetNodeID()
	wk, _ := btcec.PrivKeyFromBytes(sha256Bytes([]byte(name + " wallet")))
	n.wallet = testchain.NewWallet(chain, wk)
	n.bcast = &broadcaster{chain: chain}
	n.pers = channelmonitor.NewKVStorePersister(store, opts)
	n.mon = channelmonitor.NewChainMonitor(nil, n.bcast, nil, chain, n.pers)
	var err error
	n.cm, err = channelmanager.New(chain, n.mon, n.bcast, nil, n.km, n.cfg,
		channelmanager.ChainParams{Net: &chaincfg.RegressionNetParams, BestBlock: chain.BestBlock()})
	n.must(err, "new manager")
	n.proxy.Set(n.cm, n.mon)
	chain.RegisterListener(n.proxy)
	return n
}

// restartFromStore replaces the node's components with new ones read from its store, as a host
// starting after a crash does: a new KVStorePersister reads the monitors, the ChainMonitor loads them,
// and the manager is read from its records (channelmanager.ReadFromStore).
func (n *node) restartFromStore() {
	if _, ok := n.store.(*kvstore.WriteBuffer); ok {
		n.store = kvstore.NewWriteBuffer(n.base) // what it held died with the process
	}
	p := channelmonitor.NewKVStorePersister(n.store, n.opts)
	n.pers = p
	mons, err := p.ReadChannelMonitors(n.km)
	n.must(err, "read monitors")
	n.mon = channelmonitor.NewChainMonitor(nil, n.bcast, nil, n.chain, p)
	for _, m := range mons {
		n.must(n.mon.LoadMonitor(m), "load monitor")
	}
	n.cm, err = channelmanager.ReadFromStore(n.store, channelmanager.ReadArgs{FeeEstimator: n.chain, Watch: n.mon,
		Broadcaster: n.bcast, Keys: n.km, Config: n.cfg, Net: &chaincfg.RegressionNetParams, Monitors: mons})
	n.must(err, "read manager")
	n.proxy.Set(n.cm, n.mon)
}

// handleEvents handles both components' events as a host does: funding and claims; every event is kept
// for the script to account for.
func (n *node) handleEvents() {
	handle := func(e events.Event) error {
		switch ev := e.(type) {
		case events.FundingGenerationReady:
			tx, err := n.wallet.FundTransaction([]*wire.TxOut{{Value: ev.ChannelValueSat, PkScript: ev.OutputScript}}, 253)
			n.must(err, "fund channel")
			n.must(n.cm.FundingTransactionGenerated(ev.TemporaryChannelID, ev.CounterpartyNodeID, tx), "funding generated")
		case events.PaymentClaimable:
			if ev.Purpose.PaymentPreimage != nil {
				n.must(n.cm.ClaimFunds(*ev.Purpose.PaymentPreimage), "claim")
			}
		}
		n.events = append(n.events, e)
		return nil
	}
	n.must(n.cm.ProcessPendingEvents(handle), "manager events")
	n.must(n.mon.ProcessPendingEvents(handle), "monitor events")
}

func (n *node) takeEvents() []events.Event {
	evs := n.events
	n.events = nil
	return evs
}

// checkStored checks that what the store holds reads back, with a fresh persister, as the node's live
// monitors, byte for byte, with fewer than maxPendingUpdates updates stored beside each.
func (n *node) checkStored() {
	mons, err := channelmonitor.NewKVStorePersister(n.store, n.opts).ReadChannelMonitors(n.km)
	n.must(err, "read stored monitors")
	if live := n.mon.ListMonitors(); len(mons) != len(live) {
		n.t.Fatalf("%s: %d monitors stored, %d live", n.name, len(mons), len(live))
	}
	for _, m := range mons {
		l, ok := n.mon.GetMonitor(m.FundingTxo())
		if !ok {
			n.t.Fatalf("%s: stored monitor %v is not live", n.name, m.FundingTxo())
		}
		if l.LatestUpdateID() != m.LatestUpdateID() || string(l.Write()) != string(m.Write()) {
			n.t.Fatalf("%s: the stored monitor (update %d) is not the live one (update %d)", n.name, m.LatestUpdateID(), l.LatestUpdateID())
		}
		f := m.FundingTxo()
		ups, err := n.store.List(channelmonitor.KVMonitorUpdateNamespace, f.Hash.String()+"_"+strconv.FormatUint(uint64(f.Index), 10))
		n.must(err, "list updates")
		if len(ups) >= maxPendingUpdates {
			n.t.Fatalf("%s: %d updates stored beside the monitor", n.name, len(ups))
		}
	}
}

func (n *node) channel(id lnwire.ChannelID) channelmanager.ChannelDetails {
	for _, d := range n.cm.ListChannels() {
		if d.ChannelID == id {
			return d
		}
	}
	n.t.Fatalf("%s: no channel %x", n.name, id)
	return channelmanager.ChannelDetails{}
}

func (n *node) must(err error, what string) {
	if err != nil {
		n.t.Helper()
		n.t.Fatalf("%s: %s: %v", n.name, what, err)
	}
}

func sha256Bytes(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// broadcaster hands transactions to the chain and remembers each one (by txid), so that the script can
// check that nothing but the funding transaction was ever broadcast.
type broadcaster struct {
	chain *testchain.Chain
	mu    sync.Mutex
	txids []chainhash.Hash
}

func (b *broadcaster) BroadcastTransactions(txs ...*wire.MsgTx) {
	b.mu.Lock()
	for _, tx := range txs {
		b.txids = append(b.txids, tx.TxHash())
	}
	b.mu.Unlock()
	b.chain.BroadcastTransactions(txs...)
}

// otherThan returns the transactions broadcast other than txid.
func (b *broadcaster) otherThan(txid chainhash.Hash) []chainhash.Hash {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []chainhash.Hash
	for _, h := range b.txids {
		if h != txid {
			out = append(out, h)
		}
	}
	return out
}

// persist is the host's durability step before anything of the node leaves: the manager's changed
// records into its store, then, with a WriteBuffer, one flush of everything held.
func (n *node) persist() {
	_, err := n.cm.PersistTo(n.store)
	n.must(err, "persist manager")
	if wb, ok := n.store.(*kvstore.WriteBuffer); ok {
		n.must(wb.Flush(), "flush")
	}
}

// completeAsync is the host's side of asynchronous monitor persistence (KVStorePersisterOptions.Async):
// it performs the queued writes (PersistPending) and reports each channel's last durable update to
// the ChainMonitor, which lets the manager release what waited for it. Without Async it does nothing.
func (n *node) completeAsync() {
	if !n.opts.Async {
		return
	}
	done, err := n.pers.PersistPending()
	n.must(err, "persist pending monitor writes")
	last := map[wire.OutPoint]uint64{}
	for _, d := range done {
		last[d.FundingTxo] = d.UpdateID
	}
	for op, id := range last {
		n.must(n.mon.ChannelMonitorUpdated(op, id), "monitor updated")
	}
}
