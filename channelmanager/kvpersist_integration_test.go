package channelmanager

import (
	"bytes"
	"math/rand"
	"strconv"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/fsstore"
	"github.com/lnkit/lnkit/lnwire"
)

// kvBackend is a node's monitor storage through a channelmonitor.KVStorePersister: store survives a
// restart, the persister does not.
type kvBackend struct {
	store kvstore.KVStore
	opts  channelmonitor.KVStorePersisterOptions
	p     *channelmonitor.KVStorePersister
}

// useKV gives n a fresh manager and ChainMonitor whose monitors persist through a KVStorePersister over
// store. Call it before n has channels.
func useKV(n *testNode, store kvstore.KVStore, opts channelmonitor.KVStorePersisterOptions) *kvBackend {
	kb := &kvBackend{store: store, opts: opts, p: channelmonitor.NewKVStorePersister(store, opts)}
	n.persistWrap = kb.p
	n.start(nil)
	return kb
}

// restart kills n and starts it again from what is durable: a new persister reads the monitors from the
// store, and the manager is read from snapshot.
func (kb *kvBackend) restart(t testing.TB, n *testNode, snapshot []byte) {
	kb.p = channelmonitor.NewKVStorePersister(kb.store, kb.opts)
	n.persistWrap = kb.p
	n.chainMon = channelmonitor.NewChainMonitor(n.filter, n.bcast, nil, n.chain, kb.p)
	mons, err := kb.p.ReadChannelMonitors(n.km)
	require.NoError(t, err)
	for _, m := range mons {
		require.NoError(t, n.chainMon.LoadMonitor(m))
	}
	n.cm, err = Read(snapshot, ReadArgs{FeeEstimator: n.chain, Watch: n.chainMon, Broadcaster: n.bcast, Keys: n.km,
		Config: n.cfg, Net: &chaincfg.RegressionNetParams, Monitors: mons})
	require.NoError(t, err)
	n.proxy.Set(n.cm, n.chainMon)
}

// restartFromStore is restart with the manager read from the same store (ReadFromStore).
func (kb *kvBackend) restartFromStore(t testing.TB, n *testNode) {
	kb.p = channelmonitor.NewKVStorePersister(kb.store, kb.opts)
	n.persistWrap = kb.p
	n.chainMon = channelmonitor.NewChainMonitor(n.filter, n.bcast, nil, n.chain, kb.p)
	mons, err := kb.p.ReadChannelMonitors(n.km)
	require.NoError(t, err)
	for _, m := range mons {
		require.NoError(t, n.chainMon.LoadMonitor(m))
	}
	n.cm, err = ReadFromStore(kb.store, n.readArgs(mons))
	require.NoError(t, err)
	n.proxy.Set(n.cm, n.chainMon)
}

// complete performs the queued writes (Async) and reports them to n's ChainMonitor; it returns how many
// it reported.
func (kb *kvBackend) complete(t testing.TB, n *testNode) int {
	done, err := kb.p.PersistPending()
	require.NoError(t, err)
	for _, c := range done {
		require.NoError(t, n.chainMon.ChannelMonitorUpdated(c.FundingTxo, c.UpdateID))
	}
	return len(done)
}

// checkStored checks that what the store holds reads back, with a fresh persister, as n's live
// monitors, byte for byte, and that no channel has MaximumPendingUpdates updates or more stored.
func (kb *kvBackend) checkStored(t testing.TB, n *testNode) {
	t.Helper()
	mons, err := channelmonitor.NewKVStorePersister(kb.store, kb.opts).ReadChannelMonitors(n.km)
	require.NoError(t, err)
	live := n.chainMon.ListMonitors()
	require.Len(t, mons, len(live))
	for _, m := range mons {
		l, ok := n.chainMon.GetMonitor(m.FundingTxo())
		require.True(t, ok)
		require.Equal(t, l.LatestUpdateID(), m.LatestUpdateID())
		if lw, mw := l.Write(), m.Write(); !bytes.Equal(lw, mw) {
			t.Fatalf("%s: the stored monitor is not the live one (%d vs %d bytes)", n.name, len(lw), len(mw))
		}
		f := m.FundingTxo()
		ups, err := kb.store.List(channelmonitor.KVMonitorUpdateNamespace, f.Hash.String()+"_"+strconv.FormatUint(uint64(f.Index), 10))
		require.NoError(t, err)
		require.Less(t, len(ups), channelmonitor.DefaultMaximumPendingUpdates)
	}
}

// kvNodes returns two connected nodes whose monitors persist through KVStorePersisters over MemStores.
func kvNodes(t *testing.T, optsA, optsB channelmonitor.KVStorePersisterOptions) (*network, *testNode, *testNode, *kvBackend, *kvBackend) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	ka := useKV(a, kvstore.NewMemStore(), optsA)
	kb := useKV(b, kvstore.NewMemStore(), optsB)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	return nw, a, b, ka, kb
}

// payMany sends n payments each way of random amounts, several in flight at once, delivered in random
// interleavings; between deliveries, hook (if set) runs (completing async persistence). It
// returns what each side sent, all payments having resolved.
func payMany(t *testing.T, nw *network, id lnwire.ChannelID, r *rand.Rand, n int, hook func()) [2]uint64 {
	a, b := nw.nodes[0], nw.nodes[1]
	logs := []*payLog{newPayLog(), newPayLog()}
	sent := []int{0, 0}
	for iter := 0; sent[0] < n || sent[1] < n; iter++ {
		require.Less(t, iter, 100*n, "no progress: sent %v", sent)
		from := r.Intn(2)
		amt := randAmount(r, 1_000, 5_000_000)
		if sent[from] < n && nw.nodes[from].channel(id).OutboundCapacityMsat > amt {
			if _, hash, err := nw.pay(from, 1-from, amt); err == nil {
				logs[from].amounts[hash] = amt
				sent[from]++
			}
		}
		for k := r.Intn(8); k > 0; k-- {
			nw.deliverOne(r)
		}
		if hook != nil {
			hook()
		}
		logs[0].account(a.takeEvents())
		logs[1].account(b.takeEvents())
	}
	for i := 0; i < 100; i++ {
		nw.settleRandom(r)
		if hook == nil {
			break
		}
		hook()
	}
	logs[0].account(a.takeEvents())
	logs[1].account(b.takeEvents())
	require.Empty(t, logs[0].amounts, "alice's payments resolved")
	require.Empty(t, logs[1].amounts, "bob's payments resolved")
	require.Zero(t, logs[0].failed+logs[1].failed)
	return [2]uint64{logs[0].sent, logs[1].sent}
}

// TestKVPersisterPaymentsAndRestart: two ChannelManagers whose ChainMonitors persist through
// KVStorePersisters over MemStores make 200 payments each way (a few thousand monitor updates, so
// several full writes per channel); the stores then hold exactly the live monitors. Bob restarts from
// his store and his manager snapshot: the balances are what they were, and payments go on both ways.
func TestKVPersisterPaymentsAndRestart(t *testing.T) {
	nw, a, b, ka, kb := kvNodes(t, channelmonitor.KVStorePersisterOptions{}, channelmonitor.KVStorePersisterOptions{})
	id := nw.openChannel(0, 1, 10_000_000, 5_000_000_000)
	r := rand.New(rand.NewSource(7))
	n := 200
	if raceEnabled {
		n = 60
	}
	sent := payMany(t, nw, id, r, n, nil)
	wantA := 5_000_000_000 - sent[0] + sent[1]
	checkBalances(t, a, b, id, wantA)
	mon, ok := b.chainMon.GetMonitor(a.channel(id).FundingTxo)
	require.True(t, ok)
	require.Greater(t, mon.LatestUpdateID(), uint64(3*channelmonitor.DefaultMaximumPendingUpdates), "several full writes")
	ka.checkStored(t, a)
	kb.checkStored(t, b)

	snapshot := b.cm.Write()
	nw.disconnect(0, 1)
	kb.restart(t, b, snapshot)
	nw.connect(0, 1)
	nw.settle()
	checkBalances(t, a, b, id, wantA)
	require.True(t, a.channel(id).IsUsable && b.channel(id).IsUsable)

	more := payMany(t, nw, id, r, 20, nil)
	checkBalances(t, a, b, id, wantA-more[0]+more[1])
	require.Zero(t, countEvents[events.ChannelClosed](a.takeEvents())+countEvents[events.ChannelClosed](b.takeEvents()))
	ka.checkStored(t, a)
	kb.checkStored(t, b)
}

// openAsyncBob opens a channel alice → bob (2,000,000 sat, 1,000,000,000 msat pushed) with Bob's
// persister asynchronous and his host completing persistence as it comes; settleKV delivers every
// message and completes every write until nothing is left.
func openAsyncBob(t *testing.T) (*network, *testNode, *testNode, *kvBackend, lnwire.ChannelID, func()) {
	nw, a, b, _, kb := kvNodes(t, channelmonitor.KVStorePersisterOptions{}, channelmonitor.KVStorePersisterOptions{Async: true})
	a.chain.FundAddress(a.wallet.PkScript(), 2_100_000)
	a.chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(b.id, 2_000_000, 1_000_000_000, [16]byte{1}, nil)
	require.NoError(t, err)
	settleKV := func() {
		for i := 0; i < 50; i++ {
			nw.settle()
			if kb.complete(t, b) == 0 && kb.p.PendingWrites() == 0 {
				nw.settle()
				if kb.complete(t, b) == 0 {
					return
				}
			}
		}
		t.Fatal("persistence never completed")
	}
	settleKV()
	a.chain.MineBlocks(int(a.cfg.ChannelHandshakeConfig.MinimumDepth))
	settleKV()
	var id lnwire.ChannelID
	for _, d := range a.cm.ListChannels() {
		if d.IsUsable {
			id = d.ChannelID
		}
	}
	require.NotEqual(t, lnwire.ChannelID{}, id)
	a.takeEvents()
	b.takeEvents()
	return nw, a, b, kb, id, settleKV
}

// TestKVPersisterAsync: Bob's persister is asynchronous. His answers to Alice's payment wait until his
// host runs PersistPending and reports the writes to the ChainMonitor; then the payment completes.
// Payments then flow with the host completing persistence between deliveries, and a restart from the
// store reads back his live monitor.
func TestKVPersisterAsync(t *testing.T) {
	nw, a, b, kb, id, settleKV := openAsyncBob(t)

	counts := countMessages(nw)
	_, _, err := nw.pay(0, 1, 7_000_000)
	require.NoError(t, err)
	nw.settle()
	require.Positive(t, kb.p.PendingWrites(), "bob's writes are queued")
	require.Zero(t, counts[[2]int{1, 0}][lnwire.MsgRevokeAndAck], "bob's revoke_and_ack waits for them")
	require.Zero(t, countEvents[events.PaymentSent](a.takeEvents()))
	settleKV()
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))
	require.Equal(t, 1, countEvents[events.PaymentClaimed](b.takeEvents()))
	checkBalances(t, a, b, id, 993_000_000)

	r := rand.New(rand.NewSource(3))
	sent := payMany(t, nw, id, r, 60, func() { kb.complete(t, b) })
	wantA := 993_000_000 - sent[0] + sent[1]
	checkBalances(t, a, b, id, wantA)
	require.Zero(t, kb.p.PendingWrites())
	kb.checkStored(t, b)

	snapshot := b.cm.Write()
	nw.disconnect(0, 1)
	kb.restart(t, b, snapshot)
	nw.connect(0, 1)
	settleKV()
	checkBalances(t, a, b, id, wantA)
	more := payMany(t, nw, id, r, 10, func() { kb.complete(t, b) })
	checkBalances(t, a, b, id, wantA-more[0]+more[1])
}

// asyncCrashBeforeWrites has Alice pay Bob 7,000,000 msat while Bob's monitor writes are held back,
// then Bob's host writes his manager (into his store, and as a Write snapshot) and dies before
// performing the queued monitor writes: his manager is ahead of his stored monitor. It returns the
// snapshot, with Bob disconnected and not yet restarted.
func asyncCrashBeforeWrites(t *testing.T, nw *network, b *testNode, kb *kvBackend) []byte {
	_, _, err := nw.pay(0, 1, 7_000_000)
	require.NoError(t, err)
	nw.settle()
	require.Positive(t, kb.p.PendingWrites(), "bob's monitor writes are queued")
	_, err = b.cm.PersistTo(kb.store)
	require.NoError(t, err)
	snapshot := b.cm.Write()
	nw.disconnect(0, 1)
	return snapshot
}

// TestKVAsyncCrashBeforeMonitorWrites: Bob persists his monitors asynchronously; his host writes his
// manager while the monitor writes of a payment are still queued, and dies before making them.
// Restarted from his store (ReadFromStore), his manager hands the monitor the updates it lost (they
// are queued again), the channel resumes, the payment completes and nothing closes.
func TestKVAsyncCrashBeforeMonitorWrites(t *testing.T) {
	nw, a, b, kb, id, settleKV := openAsyncBob(t)
	asyncCrashBeforeWrites(t, nw, b, kb)
	kb.restartFromStore(t, b)
	require.Positive(t, kb.p.PendingWrites(), "the lost updates are handed to the monitor again")
	nw.connect(0, 1)
	settleKV()
	evA, evB := a.takeEvents(), b.takeEvents()
	require.Zero(t, countEvents[events.ChannelClosed](evA)+countEvents[events.ChannelClosed](evB))
	require.Equal(t, 1, countEvents[events.PaymentSent](evA))
	require.Equal(t, 1, countEvents[events.PaymentClaimed](evB))
	checkBalances(t, a, b, id, 993_000_000)
	kb.checkStored(t, b)
}

// TestKVAsyncCrashBeforeMonitorWritesSnapshot is the same crash with Bob restarted from a Write
// snapshot, which does not keep in-flight updates: his manager cannot be matched with his monitor, so
// the channel fails and his monitor's latest commitment is broadcast. That commitment was never
// revoked (the revoke_and_ack the lost updates led to never left): once it confirms, Alice's monitor
// finds nothing revoked to claim.
func TestKVAsyncCrashBeforeMonitorWritesSnapshot(t *testing.T) {
	nw, a, b, kb, id, _ := openAsyncBob(t)
	funding := a.channel(id).FundingTxo
	snapshot := asyncCrashBeforeWrites(t, nw, b, kb)
	kb.restart(t, b, snapshot)
	b.handleEvents()
	requireClosed(t, b.takeEvents(), id, events.HolderForceClosed)
	mon, ok := b.chainMon.GetMonitor(funding)
	require.True(t, ok)
	latest, err := mon.LatestHolderCommitmentTx()
	require.NoError(t, err)
	kb.complete(t, b)
	nw.settle()
	spender, spent := a.chain.SpentBy(funding)
	require.True(t, spent, "bob broadcast a commitment")
	require.Equal(t, latest.TxHash(), spender, "the monitor's latest commitment")
	nw.connect(0, 1)
	nw.mine(3)
	for _, bal := range a.chainMon.GetClaimableBalances() {
		_, revoked := bal.(channelmonitor.CounterpartyRevokedOutputClaimable)
		require.False(t, revoked, "alice sees a revoked output: %#v", bal)
	}
	require.Positive(t, len(a.chainMon.GetClaimableBalances()), "alice's balance is claimable on chain")
}

// crashStore is a store that dies with its node: from the rig's k-th write on, writes are lost (they
// return nil, as nobody is left to see an answer: the node's messages no longer leave).
type crashStore struct {
	kvstore.KVStore
	rig *crashRig // nil: every write goes through
}

func (s *crashStore) alive() bool { return s.rig == nil || s.rig.write() }

func (s *crashStore) Write(k kvstore.Key, v []byte) error {
	if !s.alive() {
		return nil
	}
	return s.KVStore.Write(k, v)
}

func (s *crashStore) Remove(k kvstore.Key) error {
	if !s.alive() {
		return nil
	}
	return s.KVStore.Remove(k)
}

func (s *crashStore) Commit(b *kvstore.Batch) error {
	if !s.alive() {
		return nil
	}
	return s.KVStore.Commit(b)
}

// TestKVCrashAtEveryPersistencePoint is TestCrashAtEveryPersistencePoint with Bob's monitors in a
// KVStorePersister (MaximumPendingUpdates 4, so that full writes are among the crash points): Bob dies
// at his k-th durable write, for every k, restarts from his store and manager snapshot, and the
// payment stream resumes with every payment resolved, the balances agreed, nothing closed or
// broadcast.
func TestKVCrashAtEveryPersistencePoint(t *testing.T) {
	kvCrashEveryPoint(t, memStoreFactory, false, 3) // TestKVCrashAllInStore covers every point
}

// TestKVCrashAllInStore is TestKVCrashAtEveryPersistencePoint with Bob's manager in the same store as
// his monitors (PersistTo before his messages leave, ReadFromStore on restart): one store holds the
// whole node, and a crash at any of its writes loses nothing.
func TestKVCrashAllInStore(t *testing.T) {
	kvCrashEveryPoint(t, memStoreFactory, true, 1)
}

func memStoreFactory(testing.TB) kvstore.KVStore { return kvstore.NewMemStore() }

// TestKVCrashAllInFSStore is TestKVCrashAllInStore on the filesystem store (one directory per run;
// fsync off, as the crash is the rig dropping writes, not the machine losing them: the store's own crash
// safety is fsstore's tests).
func TestKVCrashAllInFSStore(t *testing.T) {
	kvCrashEveryPoint(t, func(tb testing.TB) kvstore.KVStore {
		s, err := fsstore.Open(tb.TempDir(), &fsstore.Options{NoSync: true})
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}, true, 5) // every fifth point: a directory per run makes each slower
}

// kvCrashEveryPoint runs kvCrashRun for every step-th crash point (every 13th under -short or -race)
// on stores from newStore.
func kvCrashEveryPoint(t *testing.T, newStore func(testing.TB) kvstore.KVStore, managerInStore bool, step int) {
	total := kvCrashRun(t, 0, newStore(t), managerInStore)
	require.Greater(t, total, 50)
	if testing.Short() || raceEnabled {
		step = max(13, total/4) // a sample: the run without the race detector covers the points
	}
	for k := 1; k <= total; k += step {
		kvCrashRun(t, k, newStore(t), managerInStore)
		if t.Failed() {
			t.Fatalf("crash at write %d of %d", k, total)
		}
	}
}

// kvCrashRun plays crashRun's script with Bob on the KV store base, dying at write k (0: never); his
// manager is a snapshot kept aside, or, with managerInStore, records in the same store. It returns how
// many writes Bob made.
func kvCrashRun(t *testing.T, k int, base kvstore.KVStore, managerInStore bool) int {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	for _, n := range []*testNode{a, b} {
		n.cfg.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx = true
	}
	a.start(nil)
	store := &crashStore{KVStore: base}
	kb := useKV(b, store, channelmonitor.KVStorePersisterOptions{MaximumPendingUpdates: 4})
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 2_000_000, 1_000_000_000)
	for _, n := range []*testNode{a, b} {
		n.withBumpHandler(1_000_000)
	}
	nw.settle()
	a.takeEvents()
	b.takeEvents()
	funding := a.channel(id).FundingTxo

	rig := &crashRig{k: k, snapshot: b.cm.Write()}
	restart := func() { kb.restart(t, b, rig.snapshot) }
	if managerInStore {
		_, err := b.cm.PersistAllTo(store)
		require.NoError(t, err)
		restart = func() { kb.restartFromStore(t, b) }
	}
	store.rig = rig
	restart()
	nw.connect(0, 1)
	nw.settle()
	b.beforeSend = func() bool {
		switch {
		case !b.cm.GetAndClearNeedsPersistence():
		case managerInStore:
			_, err := b.cm.PersistTo(store) // the store counts the write, and drops it once Bob is dead
			require.NoError(t, err)
		case rig.write():
			rig.snapshot = b.cm.Write()
		}
		return !rig.crashed
	}
	playCrashScript(t, nw, a, b, id, funding, rig, restart, k)
	kb.checkStored(t, b)
	return rig.writes
}
