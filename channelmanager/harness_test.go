package channelmanager

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// memPersister keeps monitors in memory the way FilesystemPersister keeps them on disk: a snapshot
// and the encoded updates since, so that a restart reads back exactly what was persisted.
type memPersister struct {
	mu       sync.Mutex
	snaps    map[wire.OutPoint][]byte
	updates  map[wire.OutPoint][][]byte
	async    bool // answer InProgress and keep the update ids in inFlight
	asyncNew bool // the same for new monitors (update id 0)
	seen     int  // updates seen (UpdatePersistedChannel with an update)
	failAt   int  // if not 0, the failAt-th update (counting from 1) and all later ones fail: UnrecoverableError
	inFlight map[wire.OutPoint][]uint64
}

func newMemPersister() *memPersister {
	return &memPersister{snaps: map[wire.OutPoint][]byte{}, updates: map[wire.OutPoint][][]byte{}, inFlight: map[wire.OutPoint][]uint64{}}
}

func (p *memPersister) PersistNewChannel(op wire.OutPoint, m *channelmonitor.ChannelMonitor) channelmonitor.ChannelMonitorUpdateStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.snaps[op] = m.Write()
	p.updates[op] = nil
	if p.asyncNew {
		p.inFlight[op] = append(p.inFlight[op], 0)
		return channelmonitor.InProgress
	}
	return channelmonitor.Completed
}

func (p *memPersister) UpdatePersistedChannel(op wire.OutPoint, u *channelmonitor.ChannelMonitorUpdate, m *channelmonitor.ChannelMonitor) channelmonitor.ChannelMonitorUpdateStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u == nil || len(p.updates[op]) >= 200 && p.failAt == 0 {
		p.snaps[op] = m.Write()
		p.updates[op] = nil
		return channelmonitor.Completed
	}
	p.seen++
	if p.failAt != 0 && p.seen >= p.failAt {
		return channelmonitor.UnrecoverableError
	}
	p.updates[op] = append(p.updates[op], u.Encode())
	if p.async {
		p.inFlight[op] = append(p.inFlight[op], u.UpdateID)
		return channelmonitor.InProgress
	}
	return channelmonitor.Completed
}

// completeAll reports every update persisted so far as complete (ChainMonitor.ChannelMonitorUpdated
// with the latest id of each channel); it returns how many channels had updates in flight.
func (p *memPersister) completeAll(t testing.TB, cm *channelmonitor.ChainMonitor) int {
	p.mu.Lock()
	pending := p.inFlight
	p.inFlight = map[wire.OutPoint][]uint64{}
	p.mu.Unlock()
	n := 0
	for op, ids := range pending {
		if len(ids) == 0 {
			continue
		}
		n++
		require.NoError(t, cm.ChannelMonitorUpdated(op, ids[len(ids)-1]))
	}
	return n
}

// failFrom makes the k-th update from now on, and every later one, fail with UnrecoverableError.
func (p *memPersister) failFrom(k int) {
	p.mu.Lock()
	p.failAt = p.seen + k
	p.mu.Unlock()
}

// setAsync switches InProgress answers on or off.
func (p *memPersister) setAsync(async bool) {
	p.mu.Lock()
	p.async = async
	p.mu.Unlock()
}

// read rebuilds every monitor.
func (p *memPersister) read(t testing.TB, sp keys.SignerProvider) []*channelmonitor.ChannelMonitor {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*channelmonitor.ChannelMonitor
	for op, snap := range p.snaps {
		m, err := channelmonitor.ReadChannelMonitor(snap, sp)
		require.NoError(t, err)
		for _, enc := range p.updates[op] {
			u, err := channelmonitor.DecodeChannelMonitorUpdate(enc)
			require.NoError(t, err)
			if u.UpdateID > m.LatestUpdateID() {
				require.NoError(t, m.Update(u))
			}
		}
		out = append(out, m)
	}
	return out
}

// testNode is one full lnkit stack without the network: keys, chain monitor, channel manager.
type testNode struct {
	t    testing.TB
	name string
	seed [32]byte
	km   *keys.KeysManager
	// signer, if set, is the manager's KeysInterface instead of km (an asynchronous test signer).
	signer   KeysInterface
	cm       *ChannelManager
	chainMon *channelmonitor.ChainMonitor
	persist  *memPersister
	chain    *testchain.Chain
	wallet   *testchain.Wallet
	id       *btcec.PublicKey
	cfg      config.UserConfig

	proxy *testchain.ListenerProxy

	evMu      sync.Mutex
	events    []events.Event
	autoClaim bool // claim every PaymentClaimable at once
	// replays: events may come again (a restart from an older snapshot replays those queued then), so
	// a PaymentClaimable for a payment already claimed or failed back is no error.
	replays bool
	// sweptSat sums the outputs handed over in SpendableOutputs events; onBump answers anchor
	// channels' BumpTransaction events (nil: ignored).
	sweptSat int64
	onBump   func(events.BumpTransaction) error
	bcast    *recordingBroadcaster
	// persistWrap, if set, is the Persist the node's ChainMonitor uses (it must store into persist);
	// beforeSend, if set, runs after the node's messages are pulled and before they leave, and may
	// drop them (returning false), as a host that crashed would.
	persistWrap channelmonitor.Persist
	beforeSend  func() bool
	filter      chaininterface.Filter // the ChainMonitor's Filter (nil: none)
}

// recordingBroadcaster hands transactions to the chain and remembers how often each was broadcast.
type recordingBroadcaster struct {
	chain *testchain.Chain
	mu    sync.Mutex
	count map[chainhash.Hash]int
	txs   map[chainhash.Hash]*wire.MsgTx
}

func (r *recordingBroadcaster) BroadcastTransactions(txs ...*wire.MsgTx) {
	r.mu.Lock()
	if r.txs == nil {
		r.txs = map[chainhash.Hash]*wire.MsgTx{}
	}
	for _, tx := range txs {
		r.count[tx.TxHash()]++
		r.txs[tx.TxHash()] = tx
	}
	r.mu.Unlock()
	r.chain.BroadcastTransactions(txs...)
}

// broadcasts returns how many times txid was broadcast.
func (r *recordingBroadcaster) broadcasts(txid chainhash.Hash) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count[txid]
}

func testConfig() config.UserConfig {
	cfg := config.Default()
	cfg.ChannelHandshakeConfig.MinimumDepth = 3
	cfg.ChannelHandshakeConfig.OurToSelfDelay = 144
	cfg.ChannelHandshakeConfig.OurMaxAcceptedHTLCs = 483
	cfg.ChannelHandshakeConfig.MaxInboundHTLCValueInFlightPercent = 100
	return cfg
}

func newTestNode(t testing.TB, chain *testchain.Chain, name string, seedByte byte) *testNode {
	n := &testNode{t: t, name: name, chain: chain, persist: newMemPersister(), cfg: testConfig(), autoClaim: true}
	n.seed[0] = seedByte
	n.km = keys.NewKeysManager(n.seed, 1_700_000_000, 0)
	n.id = n.km.GetNodeID()
	wk, _ := btcec.PrivKeyFromBytes(sha256Bytes([]byte(name + " wallet")))
	n.wallet = testchain.NewWallet(chain, wk)
	n.start(nil)
	return n
}

func sha256Bytes(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// start builds the manager and the chain monitor; with data it reads the manager back from it.
func (n *testNode) start(data []byte) {
	if n.bcast == nil {
		n.bcast = &recordingBroadcaster{chain: n.chain, count: map[chainhash.Hash]int{}}
	}
	var persist channelmonitor.Persist = n.persist
	if n.persistWrap != nil {
		persist = n.persistWrap
	}
	n.chainMon = channelmonitor.NewChainMonitor(n.filter, n.bcast, nil, n.chain, persist)
	var err error
	ki := n.keysIface()
	if data == nil {
		n.cm, err = New(n.chain, n.chainMon, n.bcast, nil, ki, n.cfg, ChainParams{Net: &chaincfg.RegressionNetParams, BestBlock: n.chain.BestBlock()})
		require.NoError(n.t, err)
	} else {
		mons := n.persist.read(n.t, n.km)
		for _, m := range mons {
			require.NoError(n.t, n.chainMon.LoadMonitor(m))
		}
		n.cm, err = Read(data, ReadArgs{FeeEstimator: n.chain, Watch: n.chainMon, Broadcaster: n.bcast, Keys: ki,
			Config: n.cfg, Net: &chaincfg.RegressionNetParams, Monitors: mons})
		require.NoError(n.t, err)
	}
	if n.proxy == nil {
		n.proxy = &testchain.ListenerProxy{}
		n.chain.RegisterListener(n.proxy)
	}
	n.proxy.Set(n.cm, n.chainMon)
}

// keysIface is the node's KeysInterface: its signer if set, else its KeysManager.
func (n *testNode) keysIface() KeysInterface {
	if n.signer != nil {
		return n.signer
	}
	return n.km
}

// restart simulates a crash and restart: the manager is read back from its last persisted snapshot and
// the monitors from the persister.
func (n *testNode) restart(snapshot []byte) {
	n.start(snapshot)
}

// handleEvents processes both components' events: funding, claims, record the rest.
func (n *testNode) handleEvents() {
	handle := func(e events.Event) error {
		switch ev := e.(type) {
		case events.FundingGenerationReady:
			tx, err := n.wallet.FundTransaction([]*wire.TxOut{{Value: ev.ChannelValueSat, PkScript: ev.OutputScript}}, 253)
			require.NoError(n.t, err)
			require.NoError(n.t, n.cm.FundingTransactionGenerated(ev.TemporaryChannelID, ev.CounterpartyNodeID, tx))
		case events.PaymentClaimable:
			if n.autoClaim && ev.Purpose.PaymentPreimage != nil {
				err := n.cm.ClaimFunds(*ev.Purpose.PaymentPreimage)
				if !n.replays || !errors.Is(err, ErrUnknownPayment) {
					require.NoError(n.t, err)
				}
			}
		case events.SpendableOutputs:
			for _, d := range ev.Outputs {
				n.sweptSat += d.Output.Value
			}
		case events.BumpTransaction:
			if n.onBump != nil {
				if err := n.onBump(ev); err != nil {
					n.t.Logf("%s: bump %s: %v", n.name, ev, err)
				}
			}
		}
		n.evMu.Lock()
		n.events = append(n.events, e)
		n.evMu.Unlock()
		return nil
	}
	require.NoError(n.t, n.cm.ProcessPendingEvents(handle))
	require.NoError(n.t, n.chainMon.ProcessPendingEvents(handle))
}

func (n *testNode) takeEvents() []events.Event {
	n.evMu.Lock()
	defer n.evMu.Unlock()
	e := n.events
	n.events = nil
	return e
}

func countEvents[T events.Event](evs []events.Event) int {
	c := 0
	for _, e := range evs {
		if _, ok := e.(T); ok {
			c++
		}
	}
	return c
}

// network connects test nodes: messages go through the wire codec, in order, per direction.
type network struct {
	t     testing.TB
	nodes []*testNode
	// drop, if set, decides to lose a message (simulating a disconnect before delivery).
	connected map[[2]int]bool
	queue     []queued
	// observe, if set, sees every message delivered, after decoding.
	observe func(from, to int, m lnwire.Message)
	// onBroadcast, if set, sees every Broadcast event (our own gossip for the network), which is not
	// delivered to anyone.
	onBroadcast func(from int, m lnwire.Message)
}

func newNetwork(t testing.TB, nodes ...*testNode) *network {
	return &network{t: t, nodes: nodes, connected: map[[2]int]bool{}}
}

func (nw *network) index(id *btcec.PublicKey) int {
	if id == nil {
		return -1
	}
	for i, n := range nw.nodes {
		if n.id.IsEqual(id) {
			return i
		}
	}
	return -1
}

func (nw *network) initFor(n *testNode) *lnwire.Init {
	return &lnwire.Init{GlobalFeatures: lnwire.NewFeatureVector(), Features: n.cm.ProvidedInitFeatures(nil)}
}

func (nw *network) connect(a, b int) {
	key := [2]int{min(a, b), max(a, b)}
	nw.connected[key] = true
	require.NoError(nw.t, nw.nodes[a].cm.PeerConnected(nw.nodes[b].id, nw.initFor(nw.nodes[b]), false))
	require.NoError(nw.t, nw.nodes[b].cm.PeerConnected(nw.nodes[a].id, nw.initFor(nw.nodes[a]), true))
}

func (nw *network) disconnect(a, b int) {
	key := [2]int{min(a, b), max(a, b)}
	nw.connected[key] = false
	kept := nw.queue[:0]
	for _, q := range nw.queue {
		if !(q.from == a && q.to == b || q.from == b && q.to == a) {
			kept = append(kept, q)
		}
	}
	nw.queue = kept
	nw.nodes[a].cm.PeerDisconnected(nw.nodes[b].id)
	nw.nodes[b].cm.PeerDisconnected(nw.nodes[a].id)
}

// queued is a message in flight from one node to another.
type queued struct {
	from, to   int
	data       []byte
	disconnect bool
}

// collect moves every node's outgoing messages into per-direction FIFO queues (encoded, as on the wire).
func (nw *network) collect() {
	for i, n := range nw.nodes {
		n.handleEvents()
		msgs := n.cm.GetAndClearPendingMsgEvents()
		if n.beforeSend != nil && !n.beforeSend() {
			continue
		}
		for _, me := range msgs {
			if me.Broadcast && nw.onBroadcast != nil {
				nw.onBroadcast(i, me.Msg)
			}
			j := nw.index(me.NodeID)
			if j < 0 || !nw.connected[[2]int{min(i, j), max(i, j)}] {
				continue
			}
			q := queued{from: i, to: j, disconnect: me.DisconnectPeer}
			if me.Msg != nil {
				b, err := lnwire.EncodeMessage(me.Msg)
				require.NoError(nw.t, err, "encode %T", me.Msg)
				q.data = b
			}
			nw.queue = append(nw.queue, q)
		}
	}
}

// deliverOne delivers the oldest message of a randomly chosen direction; false if none is queued.
func (nw *network) deliverOne(r *rand.Rand) bool {
	nw.collect()
	if len(nw.queue) == 0 {
		return false
	}
	// Pick a direction at random, then its oldest message, which keeps each direction in order.
	pick := nw.queue[r.Intn(len(nw.queue))]
	for k, q := range nw.queue {
		if q.from == pick.from && q.to == pick.to {
			nw.queue = append(nw.queue[:k], nw.queue[k+1:]...)
			nw.deliver(q)
			return true
		}
	}
	return false
}

func (nw *network) deliver(q queued) {
	if !nw.connected[[2]int{min(q.from, q.to), max(q.from, q.to)}] {
		return
	}
	if q.data != nil {
		m, err := lnwire.DecodeMessage(q.data)
		require.NoError(nw.t, err)
		if nw.observe != nil {
			nw.observe(q.from, q.to, m)
		}
		nw.nodes[q.to].cm.HandleChannelMessage(nw.nodes[q.from].id, m)
	}
	if q.disconnect {
		nw.disconnect(q.from, q.to)
	}
}

// settleRandom delivers messages in random interleavings until none are left.
func (nw *network) settleRandom(r *rand.Rand) {
	for i := 0; i < 1_000_000; i++ {
		if !nw.deliverOne(r) {
			for _, n := range nw.nodes {
				n.handleEvents()
			}
			if !nw.deliverOne(r) {
				return
			}
		}
	}
	nw.t.Fatal("network did not settle")
}

// step delivers every queued message once; it returns how many were delivered.
func (nw *network) step() int {
	delivered := 0
	for i, n := range nw.nodes {
		n.handleEvents()
		msgs := n.cm.GetAndClearPendingMsgEvents()
		if n.beforeSend != nil && !n.beforeSend() {
			continue
		}
		for _, me := range msgs {
			if me.Broadcast && nw.onBroadcast != nil {
				nw.onBroadcast(i, me.Msg)
			}
			j := nw.index(me.NodeID)
			if j < 0 || !nw.connected[[2]int{min(i, j), max(i, j)}] {
				continue
			}
			if me.Msg != nil {
				b, err := lnwire.EncodeMessage(me.Msg)
				require.NoError(nw.t, err, "encode %T", me.Msg)
				m, err := lnwire.DecodeMessage(b)
				require.NoError(nw.t, err, "decode %T", me.Msg)
				if nw.observe != nil {
					nw.observe(i, j, m)
				}
				nw.nodes[j].cm.HandleChannelMessage(n.id, m)
				delivered++
			}
			if me.DisconnectPeer {
				nw.disconnect(i, j)
			}
		}
	}
	return delivered
}

// settle delivers messages until none are left.
func (nw *network) settle() {
	for i := 0; i < 10000; i++ {
		if nw.step() == 0 {
			for _, n := range nw.nodes {
				n.handleEvents()
			}
			if nw.step() == 0 {
				return
			}
		}
	}
	nw.t.Fatal("network did not settle")
}

// openChannel opens a channel from a to b and mines it to readiness; it returns the channel id.
func (nw *network) openChannel(a, b int, valueSat int64, pushMsat uint64) lnwire.ChannelID {
	A, B := nw.nodes[a], nw.nodes[b]
	if A.wallet.Balance() < valueSat+10_000 {
		A.chain.FundAddress(A.wallet.PkScript(), valueSat+100_000)
		A.chain.MineBlocks(1)
	}
	_, err := A.cm.CreateChannel(B.id, valueSat, pushMsat, [16]byte{1}, nil)
	require.NoError(nw.t, err)
	nw.settle()
	evs := A.takeEvents()
	require.Equal(nw.t, 1, countEvents[events.ChannelPending](evs), "funder ChannelPending: %v", evs)
	require.Equal(nw.t, 1, countEvents[events.ChannelPending](B.takeEvents()), "fundee ChannelPending")
	A.chain.MineBlocks(int(A.cfg.ChannelHandshakeConfig.MinimumDepth))
	nw.settle()
	require.Equal(nw.t, 1, countEvents[events.ChannelReady](A.takeEvents()))
	require.Equal(nw.t, 1, countEvents[events.ChannelReady](B.takeEvents()))
	var id lnwire.ChannelID
	for _, d := range A.cm.ListChannels() {
		if d.CounterpartyNodeID.IsEqual(B.id) && d.IsUsable {
			id = d.ChannelID
		}
	}
	require.NotEqual(nw.t, lnwire.ChannelID{}, id)
	return id
}

// pay sends amountMsat from a to b over their direct channel with an invoice; it returns the payment
// id and hash. The payment completes when the network settles.
func (nw *network) pay(a, b int, amountMsat uint64) (events.PaymentID, [32]byte, error) {
	A, B := nw.nodes[a], nw.nodes[b]
	hash, secret, err := B.cm.CreateInboundPayment(amountMsat, 3600, 0)
	require.NoError(nw.t, err)
	var id events.PaymentID
	copy(id[:], sha256Bytes(append(hash[:], byte(a))))
	route := router.SinglePath(router.RouteHop{PubKey: B.id, FeeMsat: amountMsat, CLTVExpiryDelta: DefaultMinFinalCLTVExpiryDelta + 6})
	return id, hash, A.cm.SendPaymentWithRoute(route, hash, &secret, id)
}

func (n *testNode) channel(id lnwire.ChannelID) ChannelDetails {
	for _, d := range n.cm.ListChannels() {
		if d.ChannelID == id {
			return d
		}
	}
	n.t.Fatalf("%s: no channel %s", n.name, id)
	return ChannelDetails{}
}

// checkBalances asserts that both sides agree on the channel's balances and that the sum, with the
// commitment fee and anchors, is the channel value.
func checkBalances(t testing.TB, a, b *testNode, id lnwire.ChannelID, wantA uint64) {
	da, db := a.channel(id), b.channel(id)
	require.Zero(t, da.NumPendingHTLCs, "a has pending HTLCs")
	require.Zero(t, db.NumPendingHTLCs, "b has pending HTLCs")
	require.Equal(t, wantA, da.BalanceMsat, "a's balance")
	require.Equal(t, uint64(da.ChannelValueSat)*1000-wantA, db.BalanceMsat, "b's balance")
}

func randAmount(r *rand.Rand, lo, hi uint64) uint64 { return lo + uint64(r.Int63n(int64(hi-lo))) }

func (n *testNode) String() string { return fmt.Sprintf("node(%s)", n.name) }

// mine mines n blocks one at a time, letting the nodes react (and broadcast) between blocks.
func (nw *network) mine(n int) {
	for i := 0; i < n; i++ {
		nw.nodes[0].chain.MineBlocks(1)
		nw.settle()
	}
}
