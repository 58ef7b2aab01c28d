package channelmanager

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
)

// countingStore counts what is committed to the store it wraps.
type countingStore struct {
	kvstore.KVStore
	commits, bytes int
}

func (s *countingStore) Commit(b *kvstore.Batch) error {
	s.commits++
	for _, op := range b.Ops {
		s.bytes += len(op.Value)
	}
	return s.KVStore.Commit(b)
}

// persistToStore makes n's host persist its manager into store before its messages leave, and checks
// after each write that the store holds exactly the manager's records (a change the payment layer
// forgot to mark would show here).
func persistToStore(t testing.TB, n *testNode, store kvstore.KVStore) {
	_, err := n.cm.PersistTo(store)
	require.NoError(t, err)
	requireStoreMirrors(t, n.cm, store)
	n.beforeSend = func() bool {
		if n.cm.GetAndClearNeedsPersistence() {
			_, err := n.cm.PersistTo(store)
			require.NoError(t, err)
			requireStoreMirrors(t, n.cm, store)
		}
		return true
	}
}

// requireStoreMirrors checks that store's manager records are exactly cm's (built in full). Only when
// nothing runs concurrently with the check.
func requireStoreMirrors(t testing.TB, cm *ChannelManager, store kvstore.KVStore) {
	t.Helper()
	want := cm.storeRecords()
	all, err := store.ListAll()
	require.NoError(t, err)
	got := map[kvstore.Key][]byte{}
	for _, k := range all {
		if k.Primary == storeNamespace {
			v, _, err := store.Read(k)
			require.NoError(t, err)
			got[k] = v
		}
	}
	requireSameRecords(t, want, got)
}

// startFromStore restarts n (a crash) from the manager records in store and its persisted monitors.
func (n *testNode) startFromStore(store kvstore.KVStore) {
	var persist channelmonitor.Persist = n.persist
	if n.persistWrap != nil {
		persist = n.persistWrap
	}
	n.chainMon = channelmonitor.NewChainMonitor(n.filter, n.bcast, nil, n.chain, persist)
	mons := n.persist.read(n.t, n.km)
	for _, m := range mons {
		require.NoError(n.t, n.chainMon.LoadMonitor(m))
	}
	var err error
	n.cm, err = ReadFromStore(store, n.readArgs(mons))
	require.NoError(n.t, err)
	n.proxy.Set(n.cm, n.chainMon)
}

func (n *testNode) readArgs(mons []*channelmonitor.ChannelMonitor) ReadArgs {
	return ReadArgs{FeeEstimator: n.chain, Watch: n.chainMon, Broadcaster: n.bcast, Keys: n.keysIface(),
		Config: n.cfg, Net: &chaincfg.RegressionNetParams, Monitors: mons}
}

// TestPersistToRoundTrip: bob's host keeps his manager only in a store (PersistTo before each send).
// With payments settled both ways, one payment held claimable and an invoice outstanding, he crashes
// and restarts from the store: the manager read back equals, byte for byte, the one Read makes from a
// snapshot of the same moment; the held payment is announced again and claimed; payments go on, and
// every balance is exact.
func TestPersistToRoundTrip(t *testing.T) {
	nw, a, b := twoNodes(t)
	store := kvstore.NewMemStore()
	id := nw.openChannel(0, 1, 1_000_000, 300_000_000)
	persistToStore(t, b, store)
	for i := 0; i < 5; i++ {
		_, _, err := nw.pay(0, 1, 1_000_000)
		require.NoError(t, err)
		_, _, err = nw.pay(1, 0, 500_000)
		require.NoError(t, err)
		nw.settle()
	}
	require.Len(t, eventsOf[events.PaymentClaimed](b.takeEvents()), 5)
	_, _, err := b.cm.CreateInboundPayment(42_000, 3600, 0)
	require.NoError(t, err)
	b.autoClaim = false
	_, _, err = nw.pay(0, 1, 7_000_000)
	require.NoError(t, err)
	nw.settle()
	require.Len(t, eventsOf[events.PaymentClaimable](b.takeEvents()), 1)
	_, err = b.cm.PersistTo(store)
	require.NoError(t, err)

	snap := b.cm.Write()
	nw.disconnect(0, 1)
	b.startFromStore(store)
	viaStore := b.cm.storeRecords()
	b.restart(snap)
	requireSameRecords(t, b.cm.storeRecords(), viaStore)

	b.startFromStore(store)
	persistToStore(t, b, store)
	b.handleEvents()
	held := eventsOf[events.PaymentClaimable](b.takeEvents())
	require.Len(t, held, 1, "the held payment is announced again")
	require.NoError(t, b.cm.ClaimFunds(*held[0].Purpose.PaymentPreimage))
	b.autoClaim = true
	nw.connect(0, 1)
	nw.settle()
	for i := 0; i < 3; i++ {
		_, _, err := nw.pay(0, 1, 2_000_000)
		require.NoError(t, err)
		nw.settle()
	}
	require.Len(t, eventsOf[events.PaymentSent](a.takeEvents()), 5+1+3)
	checkBalances(t, a, b, id, 700_000_000-5*1_000_000+5*500_000-7_000_000-3*2_000_000)
}

// TestPersistToBytesPerPaymentConstant: the bytes PersistTo writes for one payment are the same after 10
// payments as after 300 (a payment rewrites the channel's record, its own and the small state record,
// never the history), and once finished payments are forgotten (IdempotencyTimeoutTicks) their records
// are removed from the store.
func TestPersistToBytesPerPaymentConstant(t *testing.T) {
	nw, a, _ := twoNodes(t)
	nw.openChannel(0, 1, 1_000_000, 0)
	cs := &countingStore{KVStore: kvstore.NewMemStore()}
	persistToStore(t, a, cs)
	perPayment := func() int {
		before := cs.bytes
		_, _, err := nw.pay(0, 1, 10_000)
		require.NoError(t, err)
		nw.settle()
		_, err = a.cm.PersistTo(cs)
		require.NoError(t, err)
		return cs.bytes - before
	}
	total := 300
	if raceEnabled {
		total = 80 // the mirror check after every write is slow under the race detector
	}
	var at10, at300 int
	for i := 1; i <= total; i++ {
		n := perPayment()
		switch i {
		case 10:
			at10 = n
		case total:
			at300 = n
		}
	}
	// The channel record carries the counterparty's revocation secrets in compact form (BOLT 3: at most
	// 49 of them), whose number varies with the commitment number's bits: bounded, not growing.
	t.Logf("bytes written per payment: %d after 10 payments, %d after %d", at10, at300, total)
	require.InDelta(t, at10, at300, float64(at10)/10)
	out, err := cs.List(storeNamespace, storeOutbound)
	require.NoError(t, err)
	require.Len(t, out, total, "finished payments kept for idempotency")
	for i := 0; i <= IdempotencyTimeoutTicks; i++ {
		a.cm.TimerTickOccurred()
	}
	st, err := a.cm.PersistTo(cs)
	require.NoError(t, err)
	require.Equal(t, total, st.Removed)
	out, err = cs.List(storeNamespace, storeOutbound)
	require.NoError(t, err)
	require.Empty(t, out)
	st, err = a.cm.PersistTo(cs)
	require.NoError(t, err)
	require.Equal(t, PersistStats{}, st, "nothing changed, nothing written")
}

// TestReadFromStoreRefuses: a store without a manager gives kvstore.ErrNotFound; a record from a newer
// lnkit (a higher version, or an even field this one does not know) and a damaged record are refused
// with errors naming the record.
func TestReadFromStoreRefuses(t *testing.T) {
	nw, a, _ := twoNodes(t)
	nw.openChannel(0, 1, 1_000_000, 0)
	args := a.readArgs(a.persist.read(t, a.km))
	_, err := ReadFromStore(kvstore.NewMemStore(), args)
	require.ErrorIs(t, err, kvstore.ErrNotFound)

	good := kvstore.NewMemStore()
	_, err = a.cm.PersistTo(good)
	require.NoError(t, err)
	chans, err := good.List(storeNamespace, storeChannels)
	require.NoError(t, err)
	require.Len(t, chans, 1)
	chKey := kvstore.Key{Primary: storeNamespace, Secondary: storeChannels, Key: chans[0]}
	raw, _, err := good.Read(chKey)
	require.NoError(t, err)
	with := func(typ uint64, v []byte) []byte { // raw with one record set (a fresh copy each time)
		stream, err := lnwire.DecodeTLVStream(bytes.Clone(raw))
		require.NoError(t, err)
		return stream.Set(typ, v).Encode()
	}

	cases := map[string]struct {
		value []byte
		want  error
	}{
		"newer version":     {with(recVersion, []byte{managerVersion + 1}), ErrUnknownRecordVersion},
		"unknown even type": {with(40, []byte{1}), ErrCorrupt},
		"truncated":         {raw[:len(raw)/2], ErrCorrupt},
		"no body":           {lnwire.TLVStream{}.Set(recVersion, []byte{managerVersion}).Encode(), ErrCorrupt},
	}
	for name, tc := range cases {
		s := copyStore(t, good)
		require.NoError(t, s.Write(chKey, tc.value))
		_, err = ReadFromStore(s, args)
		require.ErrorIs(t, err, tc.want, name)
		require.Contains(t, err.Error(), chKey.String(), name)
	}
	// An unknown odd field is optional: read and ignored.
	s := copyStore(t, good)
	require.NoError(t, s.Write(chKey, with(41, []byte{1})))
	_, err = ReadFromStore(s, args)
	require.NoError(t, err)
	require.False(t, errors.Is(err, ErrCorrupt))
}

func copyStore(t *testing.T, from kvstore.KVStore) *kvstore.MemStore {
	to := kvstore.NewMemStore()
	all, err := from.ListAll()
	require.NoError(t, err)
	for _, k := range all {
		v, _, err := from.Read(k)
		require.NoError(t, err)
		require.NoError(t, to.Write(k, v))
	}
	return to
}

// requireSameRecords compares two managers' records, naming the keys that differ.
func requireSameRecords(t testing.TB, want, got map[kvstore.Key][]byte) {
	t.Helper()
	var diff []string
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			diff = append(diff, k.String())
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, k.String()+" (extra)")
		}
	}
	require.Empty(t, diff, "records that differ")
	require.NotEmpty(t, want)
}

// TestExpiredInvoicesForgotten: an invoice whose expiry passed by the block times is forgotten (its
// record removed from the store), so the manager does not grow with every invoice ever created; one
// still valid stays and is paid.
func TestExpiredInvoicesForgotten(t *testing.T) {
	nw, a, b := twoNodes(t)
	nw.openChannel(0, 1, 1_000_000, 0)
	store := kvstore.NewMemStore()
	persistToStore(t, b, store)
	for i := 0; i < 50; i++ {
		_, _, err := b.cm.CreateInboundPayment(1_000, 600, 0) // ten minutes
		require.NoError(t, err)
	}
	_, err := b.cm.PersistTo(store)
	require.NoError(t, err)
	listed, err := store.List(storeNamespace, storeExpected)
	require.NoError(t, err)
	require.Len(t, listed, 50)
	nw.mine(2)                      // blocks are 600 s apart on the test chain
	_, _, err = nw.pay(0, 1, 5_000) // a fresh invoice (nw.pay creates one) is paid
	require.NoError(t, err)
	nw.settle()
	require.Len(t, eventsOf[events.PaymentSent](a.takeEvents()), 1)
	_, err = b.cm.PersistTo(store)
	require.NoError(t, err)
	listed, err = store.List(storeNamespace, storeExpected)
	require.NoError(t, err)
	require.Empty(t, listed, "expired invoices forgotten; the paid one was claimed")
	requireStoreMirrors(t, b.cm, store)
}

// A channel's in-flight monitor updates survive the record's encoding, in order.
func TestMonitorUpdatesRoundTrip(t *testing.T) {
	ups := []*channelmonitor.ChannelMonitorUpdate{
		{UpdateID: 7, Steps: []channelmonitor.UpdateStep{channelmonitor.PaymentPreimage{Preimage: [32]byte{1}}}},
		{UpdateID: 8, Steps: []channelmonitor.UpdateStep{channelmonitor.PaymentPreimage{Preimage: [32]byte{2}}}},
	}
	got, err := decodeMonitorUpdates(encodeMonitorUpdates(ups))
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i := range ups {
		require.Equal(t, ups[i].Encode(), got[i].Encode())
	}
	_, err = decodeMonitorUpdates([]byte{0, 0, 0, 9, 1})
	require.Error(t, err, "a length past the end")
}

// FuzzDecodeMonitorUpdates: the in-flight updates of a channel record never panic the decoder, and
// what decodes encodes back to the same bytes.
func FuzzDecodeMonitorUpdates(f *testing.F) {
	f.Add(encodeMonitorUpdates([]*channelmonitor.ChannelMonitorUpdate{
		{UpdateID: 3, Steps: []channelmonitor.UpdateStep{channelmonitor.PaymentPreimage{Preimage: [32]byte{9}}}}}))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ups, err := decodeMonitorUpdates(b)
		if err != nil {
			return
		}
		again, err := decodeMonitorUpdates(encodeMonitorUpdates(ups))
		if err != nil || len(again) != len(ups) {
			t.Fatalf("re-encoding: %v (%d of %d)", err, len(again), len(ups))
		}
	})
}
