package channelmonitor

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/kvstore"
)

// countingStore counts what reaches the store beneath it: calls that write, value bytes written, and
// the last batch committed. With fail set, every call that writes fails and changes nothing.
type countingStore struct {
	kvstore.KVStore
	mu        sync.Mutex
	writes    int   // Write, Remove and Commit calls that went through
	bytes     int64 // value bytes put
	lastBatch []kvstore.Op
	fail      error
}

func newCountingStore() *countingStore { return &countingStore{KVStore: kvstore.NewMemStore()} }

func (s *countingStore) Write(k kvstore.Key, v []byte) error {
	var b kvstore.Batch
	return s.Commit(b.Put(k, v))
}

func (s *countingStore) Remove(k kvstore.Key) error {
	var b kvstore.Batch
	return s.Commit(b.Remove(k))
}

func (s *countingStore) Commit(b *kvstore.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if err := s.KVStore.Commit(b); err != nil {
		return err
	}
	s.writes++
	for _, op := range b.Ops {
		if op.Kind == kvstore.OpPut {
			s.bytes += int64(len(op.Value))
		}
	}
	s.lastBatch = append([]kvstore.Op(nil), b.Ops...)
	return nil
}

// counters returns the write calls and bytes so far.
func (s *countingStore) counters() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes, s.bytes
}

func (s *countingStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// growPoint is the per-commitment point of growUpdate's commitments (computing one per update would
// dominate the tests' time).
var growPoint = func() *btcec.PublicKey {
	k, _ := btcec.PrivKeyFromBytes([]byte{9, 9, 9})
	return k.PubKey()
}()

// growUpdate is an update of constant encoded size that makes the monitor grow, as a busy channel's
// does: a new counterparty commitment with an HTLC, and a preimage. (update's secrets make the monitor
// prune, which costs time with every commitment it keeps.)
func growUpdate(id uint64) *ChannelMonitorUpdate {
	txid := sha256.Sum256([]byte(fmt.Sprintf("commitment %d", id)))
	pre := sha256.Sum256([]byte(fmt.Sprintf("preimage %d", id)))
	return &ChannelMonitorUpdate{UpdateID: id, Steps: []UpdateStep{
		LatestCounterpartyCommitment{CommitmentNumber: id + 1, Txid: txid, PerCommitmentPoint: growPoint, FeeratePerKw: 253,
			ToBroadcasterSat: 400_000, ToCountersignatorySat: 590_000,
			HTLCs: []CounterpartyHTLC{{OutputIndex: 2, AmountMsat: 5_000_000, PaymentHash: sha256.Sum256(pre[:]), CltvExpiry: 800_000, HTLCID: id}}},
		PaymentPreimage{Preimage: pre},
	}}
}

// persistUpdate applies u to m and persists it, as the ChainMonitor does.
func persistUpdate(t testing.TB, p Persist, m *ChannelMonitor, u *ChannelMonitorUpdate) ChannelMonitorUpdateStatus {
	t.Helper()
	require.NoError(t, m.Update(u))
	return p.UpdatePersistedChannel(m.FundingTxo(), u, m)
}

// storedUpdates lists the update ids stored for m's channel.
func storedUpdates(t testing.TB, s kvstore.KVStore, m *ChannelMonitor) []string {
	t.Helper()
	names, err := s.List(KVMonitorUpdateNamespace, kvMonitorName(m.FundingTxo()))
	require.NoError(t, err)
	return names
}

// readBack reads every monitor with a fresh persister (a restart) and checks there is one, equal to m.
func readBack(t testing.TB, s kvstore.KVStore, km *keys.KeysManager, m *ChannelMonitor) *KVStorePersister {
	t.Helper()
	p := NewKVStorePersister(s, KVStorePersisterOptions{})
	mons, err := p.ReadChannelMonitors(km)
	require.NoError(t, err)
	require.Len(t, mons, 1)
	require.Equal(t, m.LatestUpdateID(), mons[0].LatestUpdateID())
	require.Equal(t, m.Write(), mons[0].Write(), "the stored monitor reads back as the live one")
	return p
}

// TestKVStorePersisterKeysAndRoundTrip: the key layout, the full write every MaximumPendingUpdates
// updates (its batch removes exactly the updates the monitor now holds), and a restart at every point
// of the cycle reading back the live monitor byte for byte.
func TestKVStorePersisterKeysAndRoundTrip(t *testing.T) {
	s := newCountingStore()
	p := NewKVStorePersister(s, KVStorePersisterOptions{MaximumPendingUpdates: 8})
	m, km := testMonitor(t)
	op := m.FundingTxo()
	require.Equal(t, Completed, p.PersistNewChannel(op, m))
	names, err := s.List(KVMonitorNamespace, "")
	require.NoError(t, err)
	require.Equal(t, []string{op.Hash.String() + "_1"}, names)

	for id := uint64(1); id <= 30; id++ {
		require.Equal(t, Completed, persistUpdate(t, p, m, update(id)))
		names := storedUpdates(t, s, m)
		if id%8 == 0 {
			// The 8th update since the last full write is a full write: one batch, the monitor and the
			// removal of the 7 updates it now holds.
			require.Empty(t, names, "update %d", id)
			require.Len(t, s.lastBatch, 8)
			require.Equal(t, kvstore.OpPut, s.lastBatch[0].Kind)
			require.Equal(t, kvMonitorKey(kvMonitorName(op)), s.lastBatch[0].Key)
			for i, o := range s.lastBatch[1:] {
				require.Equal(t, kvstore.OpRemove, o.Kind)
				require.Equal(t, kvUpdateKey(kvMonitorName(op), id-7+uint64(i)), o.Key)
			}
		} else {
			require.Len(t, names, int(id%8), "update %d", id)
			require.Equal(t, fmt.Sprintf("%020d", id), names[len(names)-1])
			require.Len(t, s.lastBatch, 1, "an update is one write of its own key")
			require.Equal(t, kvUpdateKey(kvMonitorName(op), id), s.lastBatch[0].Key)
			require.Equal(t, update(id).Encode(), s.lastBatch[0].Value)
		}
		readBack(t, s, km, m)
	}
	require.Equal(t, "00000000000000000042", kvUpdateName(42))
	require.Equal(t, "18446744073709551615", kvUpdateName(ClosedChannelUpdateID))
}

// TestKVStorePersisterBytesPerUpdate: storing an update writes the update's bytes, the same after 100
// updates as after 10,000 (when the monitor is many times bigger); only the periodic full write grows
// with the monitor.
func TestKVStorePersisterBytesPerUpdate(t *testing.T) {
	type cycle struct {
		perUpdate []int64 // bytes written by each of the updates 1..63 after the start
		full      int64   // bytes written by the 64th, a full write
		monitor   int     // the monitor's size then
	}
	run := func(start uint64) cycle {
		m, _ := testMonitor(t)
		for id := uint64(1); id <= start; id++ {
			require.NoError(t, m.Update(growUpdate(id)))
		}
		s := newCountingStore()
		p := NewKVStorePersister(s, KVStorePersisterOptions{})
		require.Equal(t, Completed, p.PersistNewChannel(m.FundingTxo(), m))
		var c cycle
		for id := start + 1; id <= start+DefaultMaximumPendingUpdates; id++ {
			w0, b0 := s.counters()
			require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
			w1, b1 := s.counters()
			require.Equal(t, 1, w1-w0, "one store call per update")
			if id < start+DefaultMaximumPendingUpdates {
				c.perUpdate = append(c.perUpdate, b1-b0)
			} else {
				c.full, c.monitor = b1-b0, len(m.Write())
			}
		}
		return c
	}
	at100, at10k := run(100), run(10_000)
	enc := int64(len(growUpdate(5).Encode()))
	for i := range at100.perUpdate {
		require.Equal(t, enc, at100.perUpdate[i], "update %d after 100", i+1)
		require.Equal(t, enc, at10k.perUpdate[i], "update %d after 10,000", i+1)
	}
	require.Equal(t, int64(at100.monitor), at100.full)
	require.Equal(t, int64(at10k.monitor), at10k.full)
	require.Greater(t, at10k.monitor, 50*at100.monitor/10, "the monitor grew")
	require.Greater(t, at10k.monitor, int(100*enc), "an update is a small fraction of the monitor")
	t.Logf("update: %d bytes; full write after 100 updates: %d bytes, after 10,000: %d bytes", enc, at100.full, at10k.full)
}

// TestKVStorePersisterCrashBetweenWrites: the process dies after some updates were stored and before
// the next full write; a restart replays them, learns which update keys exist, and the next full write
// comes where it would have and removes them all. A full write that fails (a crash inside Commit,
// which then applies nothing) leaves the previous monitor and every update it needs.
func TestKVStorePersisterCrashBetweenWrites(t *testing.T) {
	s := newCountingStore()
	p := NewKVStorePersister(s, KVStorePersisterOptions{})
	m, km := testMonitor(t)
	require.Equal(t, Completed, p.PersistNewChannel(m.FundingTxo(), m))
	for id := uint64(1); id <= 40; id++ {
		require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
	}
	// Crash: p is gone; the restart reads the store.
	p = readBack(t, s, km, m)
	for id := uint64(41); id <= 63; id++ {
		require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
	}
	require.Len(t, storedUpdates(t, s, m), 63)

	// Update 64 makes a full write, which fails: nothing changes, and what is stored still reads back
	// as the monitor after update 63 (update 64 was never reported persisted).
	before, _ := s.counters()
	at63 := m.Write()
	s.setFail(errors.New("disk gone"))
	require.Equal(t, UnrecoverableError, persistUpdate(t, p, m, growUpdate(64)))
	s.setFail(nil)
	after, _ := s.counters()
	require.Equal(t, before, after)
	require.Len(t, storedUpdates(t, s, m), 63)
	p2 := NewKVStorePersister(s, KVStorePersisterOptions{})
	mons, err := p2.ReadChannelMonitors(km)
	require.NoError(t, err)
	require.Equal(t, at63, mons[0].Write())

	// The next write (the ChainMonitor's, say) succeeds and holds update 64 too.
	require.Equal(t, Completed, p.UpdatePersistedChannel(m.FundingTxo(), nil, m))
	require.Empty(t, storedUpdates(t, s, m))
	readBack(t, s, km, m)
}

// TestKVStorePersisterStaleUpdates: updates at or below the monitor's id — left by an update write
// that came after a full write already holding it — are skipped on reading and removed by the next
// full write.
func TestKVStorePersisterStaleUpdates(t *testing.T) {
	s := newCountingStore()
	p := NewKVStorePersister(s, KVStorePersisterOptions{})
	m, km := testMonitor(t)
	op := m.FundingTxo()
	require.Equal(t, Completed, p.PersistNewChannel(op, m))
	for id := uint64(1); id <= 5; id++ {
		require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
	}
	// Update 6 is applied; a chain-state write of the monitor runs before update 6's own write.
	u6 := growUpdate(6)
	require.NoError(t, m.Update(u6))
	require.Equal(t, Completed, p.UpdatePersistedChannel(op, nil, m))
	require.Equal(t, Completed, p.UpdatePersistedChannel(op, u6, m))
	require.Equal(t, []string{kvUpdateName(6)}, storedUpdates(t, s, m), "update 6 is stored, stale")
	// An older leftover too, as a store without atomic batches could leave.
	require.NoError(t, s.Write(kvUpdateKey(kvMonitorName(op), 3), growUpdate(3).Encode()))
	for id := uint64(7); id <= 9; id++ {
		require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
	}
	p = readBack(t, s, km, m)
	require.Equal(t, Completed, p.UpdatePersistedChannel(op, nil, m))
	require.Empty(t, storedUpdates(t, s, m), "the full write removes stale updates with the rest")
	readBack(t, s, km, m)
}

// TestKVStorePersisterCorrupt: a missing update (a gap), an update that does not decode, one stored
// under another id's key, a key that is not the persister's, and a monitor under another channel's key
// are errors naming the channel, never a monitor silently behind.
func TestKVStorePersisterCorrupt(t *testing.T) {
	setup := func() (*countingStore, *ChannelMonitor, *keys.KeysManager) {
		s := newCountingStore()
		p := NewKVStorePersister(s, KVStorePersisterOptions{})
		m, km := testMonitor(t)
		require.Equal(t, Completed, p.PersistNewChannel(m.FundingTxo(), m))
		for id := uint64(1); id <= 6; id++ {
			require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
		}
		return s, m, km
	}
	read := func(s kvstore.KVStore, km *keys.KeysManager) error {
		_, err := NewKVStorePersister(s, KVStorePersisterOptions{}).ReadChannelMonitors(km)
		return err
	}
	name := func(m *ChannelMonitor) string { return kvMonitorName(m.FundingTxo()) }

	s, m, km := setup()
	require.NoError(t, s.Remove(kvUpdateKey(kvMonitorName(m.FundingTxo()), 4)))
	err := read(s, km)
	require.ErrorIs(t, err, ErrUpdateGap)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, name(m))
	require.ErrorContains(t, err, "at update 3, the next stored one is 5")

	s, m, km = setup()
	require.NoError(t, s.Remove(kvUpdateKey(kvMonitorName(m.FundingTxo()), 1)))
	require.ErrorIs(t, read(s, km), ErrUpdateGap, "the first update missing")

	s, m, km = setup()
	enc := growUpdate(5).Encode()
	require.NoError(t, s.Write(kvUpdateKey(kvMonitorName(m.FundingTxo()), 5), enc[:len(enc)/2]))
	err = read(s, km)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "update 5")

	s, m, km = setup()
	require.NoError(t, s.Write(kvUpdateKey(kvMonitorName(m.FundingTxo()), 5), growUpdate(6).Encode()))
	require.ErrorIs(t, read(s, km), ErrCorrupt, "update 6 under key 5")

	s, m, km = setup()
	require.NoError(t, s.Write(kvstore.Key{Primary: KVMonitorUpdateNamespace, Secondary: name(m), Key: "7"}, growUpdate(7).Encode()))
	require.ErrorIs(t, read(s, km), ErrCorrupt, "an update key not in the 20-digit form")

	s, m, km = setup()
	require.NoError(t, s.Write(kvstore.Key{Primary: KVMonitorNamespace, Key: "monitor"}, m.Write()))
	require.ErrorIs(t, read(s, km), ErrCorrupt, "a monitor key that is no outpoint")

	s, m, km = setup()
	other := m.FundingTxo()
	other.Index++
	data, _, err := s.Read(kvMonitorKey(kvMonitorName(m.FundingTxo())))
	require.NoError(t, err)
	require.NoError(t, s.Write(kvMonitorKey(kvMonitorName(other)), data))
	require.ErrorIs(t, read(s, km), ErrCorrupt, "a monitor under another channel's key")

	s, _, _ = setup()
	require.ErrorIs(t, read(s, keys.NewKeysManager([32]byte{3}, 1, 0)), ErrCorrupt, "another seed")
}

// TestKVStorePersisterFullWrites: a chain-state write (no update), an update sent after the channel
// closed (ClosedChannelUpdateID, which does not extend the id sequence), and every update with
// MaximumPendingUpdates 1 write the monitor in full, removing the stored updates in the same batch.
func TestKVStorePersisterFullWrites(t *testing.T) {
	s := newCountingStore()
	p := NewKVStorePersister(s, KVStorePersisterOptions{})
	m, km := testMonitor(t)
	op := m.FundingTxo()
	require.Equal(t, Completed, p.PersistNewChannel(op, m))
	for id := uint64(1); id <= 3; id++ {
		require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
	}
	require.Equal(t, Completed, p.UpdatePersistedChannel(op, nil, m))
	require.Len(t, s.lastBatch, 4, "the monitor and the removal of updates 1-3, in one batch")
	require.Empty(t, storedUpdates(t, s, m))
	readBack(t, s, km, m)

	require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(4)))
	closed := &ChannelMonitorUpdate{UpdateID: ClosedChannelUpdateID, Steps: []UpdateStep{PaymentPreimage{Preimage: [32]byte{0xaa}}}}
	require.Equal(t, Completed, persistUpdate(t, p, m, closed))
	require.Len(t, s.lastBatch, 2)
	require.Equal(t, kvMonitorKey(kvMonitorName(op)), s.lastBatch[0].Key)
	require.Empty(t, storedUpdates(t, s, m))
	readBack(t, s, km, m)

	s1 := newCountingStore()
	p1 := NewKVStorePersister(s1, KVStorePersisterOptions{MaximumPendingUpdates: 1})
	m1, km1 := testMonitor(t)
	require.Equal(t, Completed, p1.PersistNewChannel(op, m1))
	for id := uint64(1); id <= 3; id++ {
		require.Equal(t, Completed, persistUpdate(t, p1, m1, growUpdate(id)))
		require.Empty(t, storedUpdates(t, s1, m1))
		require.Equal(t, kvMonitorKey(kvMonitorName(op)), s1.lastBatch[0].Key)
	}
	readBack(t, s1, km1, m1)
}

// TestKVStorePersisterChainMonitor: through a ChainMonitor, updates are stored one by one and the
// funding spend (a chain-state change) writes the monitor in full; a store error answers
// UnrecoverableError, which the ChainMonitor hands on, and the reason is logged.
func TestKVStorePersisterChainMonitor(t *testing.T) {
	s := newCountingStore()
	root := &recordHandler{}
	p := NewKVStorePersister(s, KVStorePersisterOptions{Logger: slog.New(sharedHandler{root: root})})
	cm := NewChainMonitor(nil, nopBroadcaster{}, nil, fixedFee(253), p)
	m, km := testMonitor(t)
	op := m.FundingTxo()
	st, err := cm.WatchChannel(op, m)
	require.NoError(t, err)
	require.Equal(t, Completed, st)
	for id := uint64(1); id <= 10; id++ {
		require.Equal(t, Completed, cm.UpdateChannel(op, update(id)))
	}
	require.Len(t, storedUpdates(t, s, m), 10)
	spend := wire.NewMsgTx(2)
	spend.AddTxIn(&wire.TxIn{PreviousOutPoint: op})
	spend.AddTxOut(&wire.TxOut{Value: 990_000, PkScript: make([]byte, 22)})
	cm.BlockConnected(&wire.MsgBlock{Transactions: []*wire.MsgTx{spend}}, 500)
	require.Empty(t, storedUpdates(t, s, m), "the chain-state write is a full one")
	readBack(t, s, km, m)

	s.setFail(errors.New("disk gone"))
	require.Equal(t, UnrecoverableError, cm.UpdateChannel(op, update(11)))
	root.mu.Lock()
	defer root.mu.Unlock()
	require.NotEmpty(t, root.records)
	require.Equal(t, "cannot persist monitor", root.records[len(root.records)-1].Message)
}

// TestKVStorePersisterConcurrent: updates and chain-state writes of one channel race (as a ChainMonitor
// sees blocks while the ChannelManager updates the channel); whatever the interleaving, what is stored
// reads back as the live monitor. Run with -race.
func TestKVStorePersisterConcurrent(t *testing.T) {
	s := newCountingStore()
	p := NewKVStorePersister(s, KVStorePersisterOptions{MaximumPendingUpdates: 5})
	m, km := testMonitor(t)
	op := m.FundingTxo()
	require.Equal(t, Completed, p.PersistNewChannel(op, m))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				if st := p.UpdatePersistedChannel(op, nil, m); st != Completed {
					t.Errorf("chain-state write: %v", st)
					return
				}
			}
		}
	}()
	for id := uint64(1); id <= 300; id++ {
		require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
	}
	close(stop)
	wg.Wait()
	readBack(t, s, km, m)
}

// TestKVStorePersisterAsync: with Async every call answers InProgress and writes nothing; the
// ChainMonitor holds the updates as in flight; PersistPending writes them in order and returns them,
// and ChannelMonitorUpdated then produces the MonitorUpdateCompleted the ChannelManager waits for. A
// store error stops PersistPending with the failed write still queued; consecutive chain-state writes
// are queued once; archiving waits for the queue.
func TestKVStorePersisterAsync(t *testing.T) {
	s := newCountingStore()
	p := NewKVStorePersister(s, KVStorePersisterOptions{Async: true, MaximumPendingUpdates: 4})
	cm := NewChainMonitor(nil, nopBroadcaster{}, nil, fixedFee(253), p)
	m, km := testMonitor(t)
	op := m.FundingTxo()
	st, err := cm.WatchChannel(op, m)
	require.NoError(t, err)
	require.Equal(t, InProgress, st)
	for id := uint64(1); id <= 6; id++ {
		require.Equal(t, InProgress, cm.UpdateChannel(op, update(id)))
	}
	w, _ := s.counters()
	require.Zero(t, w, "nothing written before PersistPending")
	require.Equal(t, 7, p.PendingWrites())
	require.Error(t, p.ArchivePersistedChannel(op), "writes queued")

	done, err := p.PersistPending()
	require.NoError(t, err)
	want := []CompletedUpdate{{op, 0}}
	for id := uint64(1); id <= 6; id++ {
		want = append(want, CompletedUpdate{op, id})
	}
	require.Equal(t, want, done)
	require.Zero(t, p.PendingWrites())
	// 3 updates stored, the 4th a full write, then 5 and 6.
	require.Equal(t, []string{kvUpdateName(5), kvUpdateName(6)}, storedUpdates(t, s, m))
	readBack(t, s, km, m)

	for _, c := range done {
		require.NoError(t, cm.ChannelMonitorUpdated(c.FundingTxo, c.UpdateID))
	}
	var completed []uint64
	for _, ev := range cm.ReleasePendingMonitorEvents() {
		if e, ok := ev.(MonitorUpdateCompleted); ok {
			require.Equal(t, op, e.FundingTxo)
			completed = append(completed, e.UpdateID)
		}
	}
	require.Equal(t, []uint64{0, 1, 2, 3, 4, 5, 6}, completed)

	// Chain-state writes: queued once while nothing else of the channel is between them, and not
	// reported (the ChainMonitor waits for none).
	p.UpdatePersistedChannel(op, nil, m)
	p.UpdatePersistedChannel(op, nil, m)
	require.Equal(t, 1, p.PendingWrites())
	require.Equal(t, InProgress, cm.UpdateChannel(op, update(7)))
	p.UpdatePersistedChannel(op, nil, m)
	require.Equal(t, 3, p.PendingWrites())

	// A store error: PersistPending stops, keeps the failed write and the rest, and a later call
	// finishes them.
	s.setFail(errors.New("disk gone"))
	done, err = p.PersistPending()
	require.Error(t, err)
	require.Empty(t, done)
	require.Equal(t, 3, p.PendingWrites())
	s.setFail(nil)
	done, err = p.PersistPending()
	require.NoError(t, err)
	require.Equal(t, []CompletedUpdate{{op, 7}}, done)
	require.Empty(t, storedUpdates(t, s, m))
	readBack(t, s, km, m)
	require.NoError(t, p.ArchivePersistedChannel(op))
}

// TestKVStorePersisterArchive: archiving moves the monitor and its stored updates, in one batch, to
// the archive namespaces; the channel is gone from ReadChannelMonitors, the others stay.
func TestKVStorePersisterArchive(t *testing.T) {
	s := newCountingStore()
	p := NewKVStorePersister(s, KVStorePersisterOptions{})
	m, km := testMonitor(t)
	op := m.FundingTxo()
	require.Equal(t, Completed, p.PersistNewChannel(op, m))
	for id := uint64(1); id <= 3; id++ {
		require.Equal(t, Completed, persistUpdate(t, p, m, growUpdate(id)))
	}
	snap, _, err := s.Read(kvMonitorKey(kvMonitorName(op)))
	require.NoError(t, err)
	// A second channel, which stays.
	m2, err := ReadChannelMonitor(m.Write(), km)
	require.NoError(t, err)
	op2 := op
	op2.Index = 7
	m2.params.FundingOutPoint = op2
	require.Equal(t, Completed, p.PersistNewChannel(op2, m2))

	w0, _ := s.counters()
	require.NoError(t, p.ArchivePersistedChannel(op))
	w1, _ := s.counters()
	require.Equal(t, 1, w1-w0, "one batch")
	all, err := s.ListAll()
	require.NoError(t, err)
	name := kvMonitorName(op)
	require.Equal(t, []kvstore.Key{
		{Primary: KVArchivedMonitorUpdateNamespace, Secondary: name, Key: kvUpdateName(1)},
		{Primary: KVArchivedMonitorUpdateNamespace, Secondary: name, Key: kvUpdateName(2)},
		{Primary: KVArchivedMonitorUpdateNamespace, Secondary: name, Key: kvUpdateName(3)},
		{Primary: KVArchivedMonitorNamespace, Key: name},
		kvMonitorKey(kvMonitorName(op2)),
	}, all)
	archived, _, err := s.Read(kvstore.Key{Primary: KVArchivedMonitorNamespace, Key: name})
	require.NoError(t, err)
	require.Equal(t, snap, archived)
	mons, err := NewKVStorePersister(s, KVStorePersisterOptions{}).ReadChannelMonitors(km)
	require.NoError(t, err)
	require.Len(t, mons, 1)
	require.Equal(t, op2, mons[0].FundingTxo())
}

// TestMonitorWriteDeterministic: a monitor holding two counterparty commitments of one number (signed
// again after a restart from an older manager snapshot) serializes to the same bytes every time, so
// that a stored monitor can be compared with the live one.
func TestMonitorWriteDeterministic(t *testing.T) {
	m, _ := testMonitor(t)
	for i := byte(1); i <= 8; i++ {
		c := LatestCounterpartyCommitment{CommitmentNumber: 1, Txid: sha256.Sum256([]byte{i}), PerCommitmentPoint: growPoint}
		require.NoError(t, m.Update(&ChannelMonitorUpdate{UpdateID: uint64(i), Steps: []UpdateStep{c}}))
	}
	want := m.Write()
	for i := 0; i < 50; i++ {
		require.Equal(t, want, m.Write())
	}
}

// TestKVMonitorNames: monitor keys round-trip and nothing else parses.
func TestKVMonitorNames(t *testing.T) {
	m, _ := testMonitor(t)
	op := m.FundingTxo()
	got, err := parseKVMonitorName(kvMonitorName(op))
	require.NoError(t, err)
	require.Equal(t, op, got)
	for _, bad := range []string{"", "x", kvMonitorName(op) + "x", op.Hash.String() + "_4294967296", op.Hash.String() + "_01", op.Hash.String()[2:] + "_1", op.Hash.String() + "_-1"} {
		_, err := parseKVMonitorName(bad)
		require.ErrorIs(t, err, ErrCorrupt, bad)
	}
	for _, id := range []uint64{0, 1, 99, 1 << 40, ClosedChannelUpdateID} {
		got, err := parseKVUpdateName(kvUpdateName(id))
		require.NoError(t, err)
		require.Equal(t, id, got)
	}
}

// BenchmarkKVStorePersisterUpdate: the cost of persisting updates through a KVStorePersister over a
// MemStore, for a monitor that has taken 100 and 10,000 updates (growUpdate: the monitor grows by one
// revoked-commitment record per update, as a busy channel's does). The updates are applied to the
// monitor once, beforehand, so the numbers are the persister's and the store's.
//
//   - cycle: each iteration persists one full cycle of MaximumPendingUpdates (64) updates, the last of
//     which is the full write: every cycle encodes and stores the same 63 updates (overwriting the keys
//     of the cycle before) and serializes and stores the same monitor. ns and bytes written per update
//     are amortised over the cycle.
//   - alone: updates stored by themselves only (no full write comes): what every update but the 64th
//     costs.
//
// Reported: ns/update, written-B/update, and the bytes of an update (update-B) and of the full write
// (full-write-B).
func BenchmarkKVStorePersisterUpdate(b *testing.B) {
	const cycle = DefaultMaximumPendingUpdates
	for _, start := range []uint64{100, 10_000} {
		m, _ := testMonitor(b)
		for id := uint64(1); id <= start; id++ {
			if err := m.Update(growUpdate(id)); err != nil {
				b.Fatal(err)
			}
		}
		us := make([]*ChannelMonitorUpdate, cycle)
		for i := range us {
			us[i] = growUpdate(start + 1 + uint64(i))
			if err := m.Update(us[i]); err != nil {
				b.Fatal(err)
			}
		}
		op := m.FundingTxo()
		for _, mode := range []string{"cycle", "alone", "halflog"} {
			b.Run(fmt.Sprintf("after=%d/%s", start, mode), func(b *testing.B) {
				opts := KVStorePersisterOptions{}
				switch mode {
				case "alone":
					opts.MaximumPendingUpdates = 1 << 62
				case "halflog":
					opts.LogFraction = 0.5
				}
				s := newCountingStore()
				p := NewKVStorePersister(s, opts)
				if p.PersistNewChannel(op, m) != Completed {
					b.Fatal("persist")
				}
				_, b0 := s.counters()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for _, u := range us {
						if p.UpdatePersistedChannel(op, u, m) != Completed {
							b.Fatal("update")
						}
					}
				}
				b.StopTimer()
				_, b1 := s.counters()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*cycle), "ns/update")
				b.ReportMetric(float64(b1-b0)/float64(b.N*cycle), "written-B/update")
				b.ReportMetric(float64(len(us[0].Encode())), "update-B")
				if mode == "cycle" {
					b.ReportMetric(float64(len(s.lastBatch[0].Value)), "full-write-B")
				}
			})
		}
	}
}

// TestKVPersisterLogFraction: with LogFraction 0.5 the monitor is not written in full every
// MaximumPendingUpdates updates but once the updates stored add up to half its size (here the monitor
// is large and updates small, so the count cap of 16 × MaximumPendingUpdates decides), and the store
// still reads back the live monitor.
func TestKVPersisterLogFraction(t *testing.T) {
	m, km := testMonitor(t)
	for id := uint64(1); id <= 2_000; id++ {
		require.NoError(t, m.Update(growUpdate(id)))
	}
	s := newCountingStore()
	p := NewKVStorePersister(s, KVStorePersisterOptions{MaximumPendingUpdates: 8, LogFraction: 0.5})
	op := m.FundingTxo()
	require.Equal(t, Completed, p.PersistNewChannel(op, m))
	full := len(m.Write())
	fulls := 0
	var stored int
	for id := uint64(2_001); id <= 2_400; id++ {
		u := growUpdate(id)
		require.NoError(t, m.Update(u))
		require.Equal(t, Completed, p.UpdatePersistedChannel(op, u, m))
		names, err := s.List(KVMonitorUpdateNamespace, kvMonitorName(op))
		require.NoError(t, err)
		if len(names) < stored {
			fulls++
		}
		stored = len(names)
		require.Less(t, stored, 16*8, "the count cap bounds the updates stored")
	}
	t.Logf("monitor %d bytes, update %d bytes: %d full writes in 400 updates", full, len(growUpdate(1).Encode()), fulls)
	require.Less(t, fulls, 400/8, "fewer full writes than every MaximumPendingUpdates")
	require.Greater(t, fulls, 0)
	mons, err := NewKVStorePersister(s, KVStorePersisterOptions{}).ReadChannelMonitors(km)
	require.NoError(t, err)
	require.Len(t, mons, 1)
	require.Equal(t, m.Write(), mons[0].Write())
}
