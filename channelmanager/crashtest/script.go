package crashtest

import (
	"math/rand"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

const (
	channelSat = 2_000_000
	pushMsat   = 1_000_000_000 // Bob's balance at the start; Alice has the rest
	rounds     = 12
)

// rig is one run of the script: Alice, and Bob whose host keeps everything in store and dies at
// store's k-th write.
type rig struct {
	t       testing.TB
	k       int
	chain   *testchain.Chain
	store   *crashStore
	nw      *network
	a, b    *node
	id      lnwire.ChannelID
	funding wire.OutPoint
	logs    [2]*ledger
	r       *rand.Rand
}

// run plays the script with Bob dying at his k-th durable write into base (0: never) and returns how
// many durable writes Bob made during the script.
func run(t testing.TB, base kvstore.KVStore, f Factory, k int) int {
	g := setup(t, base, f)
	g.b.persist()
	// Bob's writes count from here: the restart and the reestablishment after it are crash points too.
	g.k = k
	g.store.dieAt(k)
	g.restartBob()
	g.play()
	g.store.counting(false)
	writes := g.store.written()
	g.check()
	g.checkUsable()
	t.Logf("%d durable writes; alice: %v; bob: %v", writes, g.logs[0], g.logs[1])
	return writes
}

// setup opens the channel: Alice funds it (2,000,000 sat, anchors) and pushes 1,000,000,000 msat
// to Bob; his host writes his manager into the store (PersistTo) before any message of his leaves.
func setup(t testing.TB, base kvstore.KVStore, f Factory) *rig {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	store := &crashStore{KVStore: base}
	a := newNode(t, chain, "alice", 1, kvstore.NewMemStore(), channelmonitor.KVStorePersisterOptions{})
	var bobKV kvstore.KVStore = store
	if f.Buffered {
		bobKV = kvstore.NewWriteBuffer(store)
	}
	b := newNode(t, chain, "bob", 2, bobKV, channelmonitor.KVStorePersisterOptions{MaximumPendingUpdates: maxPendingUpdates, Async: f.Async})
	b.base = store
	g := &rig{t: t, chain: chain, store: store, a: a, b: b, logs: [2]*ledger{newLedger(), newLedger()},
		nw: &network{t: t, nodes: [2]*node{a, b}}, r: rand.New(rand.NewSource(5))}
	b.beforeSend = func() bool {
		if b.cm.GetAndClearNeedsPersistence() || b.store != b.base {
			b.persist() // counted, and dropped once Bob is dead
		}
		return !store.dead()
	}
	g.nw.connect()
	g.openChannel()
	return g
}

func (g *rig) openChannel() {
	a, b, r := g.a, g.b, rand.New(rand.NewSource(1))
	g.chain.FundAddress(a.wallet.PkScript(), channelSat+100_000)
	_, err := a.cm.CreateChannel(b.id, channelSat, pushMsat, [16]byte{1}, nil)
	a.must(err, "create channel")
	g.nw.settle(r)
	g.chain.MineBlocks(int(a.cfg.ChannelHandshakeConfig.MinimumDepth))
	g.nw.settle(r)
	for _, n := range g.nw.nodes {
		if got := countOf[events.ChannelReady](n.takeEvents()); got != 1 {
			g.t.Fatalf("%s: %d ChannelReady events, want 1", n.name, got)
		}
	}
	for _, d := range a.cm.ListChannels() {
		if d.IsUsable {
			g.id, g.funding = d.ChannelID, d.FundingTxo
		}
	}
	if g.id == (lnwire.ChannelID{}) {
		g.t.Fatal("the channel did not open")
	}
}

// restartBob kills Bob's host (if it was not dead already) and starts it again from what its store
// holds, then reconnects.
func (g *rig) restartBob() {
	g.nw.disconnect()
	g.b.restartFromStore()
	g.store.revive()
	g.logs[1].forgetUnknown(g.b.cm)
	g.nw.connect()
}

// deliver delivers up to n messages, one at a time in random order, and stops early once none is left.
// When Bob dies, it restarts him.
func (g *rig) deliver(n int) {
	idle := 0
	for i := 0; i < n && idle < 2; i++ {
		progressed := g.nw.deliverOne(g.r)
		if g.store.dead() {
			g.t.Logf("bob's host died at write %d; restarting from the store", g.k)
			g.restartBob()
			idle = 0
			continue
		}
		if progressed {
			idle = 0
		} else {
			idle++
		}
	}
}

// play is the payment stream: rounds of one to three payments of 1,000,000 to 40,000,000 msat each
// way at random, with up to 400 messages delivered after each, then everything delivered.
func (g *rig) play() {
	for round := 0; round < rounds; round++ {
		for j := 0; j < 1+g.r.Intn(3); j++ {
			from := g.r.Intn(2)
			amt := 1_000_000 + uint64(g.r.Int63n(39_000_000))
			if hash, err := g.pay(from, amt); err == nil {
				g.logs[from].pending[hash] = amt
			}
		}
		g.deliver(400)
		g.account()
	}
	g.deliver(100_000)
	if g.store.dead() {
		g.t.Fatal("bob is dead at the end")
	}
	g.account()
}

// pay sends amountMsat from node from to the other over their channel, with an invoice the payee
// registered (CreateInboundPayment); it returns the payment hash.
func (g *rig) pay(from int, amountMsat uint64) ([32]byte, error) {
	payer, payee := g.nw.nodes[from], g.nw.nodes[1-from]
	hash, secret, err := payee.cm.CreateInboundPayment(amountMsat, 3600, 0)
	payee.must(err, "create inbound payment")
	var id events.PaymentID
	copy(id[:], sha256Bytes(append(hash[:], byte(from))))
	route := router.SinglePath(router.RouteHop{PubKey: payee.id, FeeMsat: amountMsat,
		CLTVExpiryDelta: channelmanager.DefaultMinFinalCLTVExpiryDelta + 6})
	return hash, payer.cm.SendPaymentWithRoute(route, hash, &secret, id)
}

// account takes both nodes' events: no channel may close and no on-chain work start; payment outcomes
// go to the payers' ledgers.
func (g *rig) account() {
	for i, n := range g.nw.nodes {
		evs := n.takeEvents()
		for _, e := range evs {
			switch e.(type) {
			case events.ChannelClosed, events.BumpTransaction, events.SpendableOutputs:
				g.t.Fatalf("crash at write %d: %s: %v", g.k, n.name, e)
			}
		}
		if err := g.logs[i].account(evs); err != nil {
			g.t.Fatalf("crash at write %d: %s: %v", g.k, n.name, err)
		}
	}
}

func countOf[T events.Event](evs []events.Event) int {
	c := 0
	for _, e := range evs {
		if _, ok := e.(T); ok {
			c++
		}
	}
	return c
}
