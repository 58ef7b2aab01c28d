package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
)

// payInvoices has a pay count invoices of b of amtMsat each and requires them to succeed.
func payInvoices(t *testing.T, a, b *Node, count int, amtMsat uint64) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < count; i++ {
		inv, err := (&service{n: b}).Invoice(ctx, nodeapi.InvoiceParams{AmountMsat: amtMsat})
		require.NoError(t, err)
		p, err := (&service{n: a}).PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: inv.Bolt11})
		require.NoError(t, err)
		require.Equal(t, nodeapi.StatusSucceeded, p.Status, "payment %d: %+v", i, p)
	}
}

// writeLegacyDatadir writes the state of the stopped node n in the layout of a datadir from before the
// store (the files the node kept in <datadir>/<network>) and removes the store.
func writeLegacyDatadir(t *testing.T, n *Node) {
	t.Helper()
	dir := n.dir
	withStore(t, n.cfg, func(kv kvstore.KVStore) {
		mons, err := channelmonitor.NewKVStorePersister(kv, channelmonitor.KVStorePersisterOptions{}).ReadChannelMonitors(n.keys)
		require.NoError(t, err)
		require.NotEmpty(t, mons)
		fp, err := channelmonitor.NewFilesystemPersister(filepath.Join(dir, legacyMonitorsDir))
		require.NoError(t, err)
		for _, m := range mons {
			require.Equal(t, channelmonitor.Completed, fp.PersistNewChannel(m.FundingTxo(), m))
		}
		require.NoError(t, fp.Close())
		for name, k := range map[string]kvstore.Key{legacyTipFile: keyTip, legacyCloseFile: keyCloseAddr,
			legacyPeersFile: keyPeers, legacyGraphFile: graphKey, legacyScorerFile: scorerKey} {
			v, _, err := kv.Read(k)
			require.NoError(t, err, name)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), append(v, '\n'), 0o600))
		}
		w, _, err := kv.Read(keyWallet)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, legacyWalletDir), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, legacyWalletDir, wallet.StateFileName), w, 0o600))
		var lines bytes.Buffer
		enc := json.NewEncoder(&lines)
		s := testRecords(t, kv)
		for _, p := range s.listPayments() {
			pending := p
			pending.Status = nodeapi.StatusPending
			require.NoError(t, enc.Encode(legacyRecordLine{Payment: &pending})) // an older line, overridden
			require.NoError(t, enc.Encode(legacyRecordLine{Payment: &p}))
		}
		for _, inv := range s.listInvoices() {
			require.NoError(t, enc.Encode(legacyRecordLine{Invoice: &inv}))
		}
		lines.WriteString(`{"payment":{"payment_id":"torn`)
		require.NoError(t, os.WriteFile(filepath.Join(dir, legacyPaymentsFile), lines.Bytes(), 0o600))
		f, err := openForwardLog(kv)
		require.NoError(t, err)
		lines.Reset()
		for _, rec := range f.history(0).Forwards {
			require.NoError(t, enc.Encode(rec))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, legacyForwardsFile), lines.Bytes(), 0o600))
	})
	require.NoError(t, os.WriteFile(filepath.Join(dir, legacyManagerFile), n.cm.Write(), 0o600))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, storeDirName)))
}

// TestLegacyDatadirIsCopiedIntoTheStore: a node whose datadir has the files of the layout before the
// store (monitors of the FilesystemPersister, channel_manager.bin, wallet.json, payments.jsonl,
// forwards.jsonl, peers.json, chaintip, close_address, graph, scorer) starts with all of it in its
// store: the manager is read from its snapshot and written with PersistAllTo, the monitors written
// with the KVStorePersister; the files move to pre-store/. The channel keeps working, to the msat, and
// the next start reads the store alone.
func TestLegacyDatadirIsCopiedIntoTheStore(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 400_000)
	payInvoices(t, a, b, 3, 21_000)
	settledPayments(t, a, b)
	require.NoError(t, a.forwards.add(fwd(1)))
	require.NoError(t, a.forwards.add(fwd(2)))
	before, _ := channelWith(a, b)
	payments := a.store.listPayments()
	require.Len(t, payments, 3)
	forwards := a.forwards.history(0).Forwards
	addr, err := a.lightningScript()
	require.NoError(t, err)
	conf, _ := a.wallet.Balance()
	a.Stop()
	writeLegacyDatadir(t, a)

	a2 := startTestNode(t, a.cfg, nil)
	got, ok := channelWith(a2, b)
	require.True(t, ok)
	require.Equal(t, before.ChannelID, got.ChannelID)
	require.Equal(t, before.BalanceMsat, got.BalanceMsat)
	require.Equal(t, payments, a2.store.listPayments(), "records copied, the last line of each winning")
	require.Equal(t, forwards, a2.forwards.history(0).Forwards)
	addr2, err := a2.lightningScript()
	require.NoError(t, err)
	require.Equal(t, addr, addr2)
	conf2, _ := a2.wallet.Balance()
	require.Equal(t, conf, conf2)
	for _, f := range legacyFiles {
		require.NoFileExists(t, filepath.Join(a2.dir, f))
		_, err := os.Stat(filepath.Join(a2.dir, legacyMovedDir, f))
		require.NoError(t, err, "%s kept in pre-store/", f)
	}
	v, err := readKey(a2.kv, keyFilesMigrated)
	require.NoError(t, err)
	require.NotNil(t, v)

	require.Eventually(t, func() bool { return usable(a2, b) && usable(b, a2) }, 20*time.Second, 10*time.Millisecond,
		"the node redials its peer from the copied peers and the channel reestablishes")
	payInvoices(t, a2, b, 2, 5_000)
	settledPayments(t, a2, b)
	after, _ := channelWith(a2, b)
	require.Equal(t, before.BalanceMsat-10_000, after.BalanceMsat)
	a2.Stop()

	a3 := startTestNode(t, a.cfg, nil)
	got, _ = channelWith(a3, b)
	require.Equal(t, after.BalanceMsat, got.BalanceMsat, "read from the store alone")
	require.Len(t, a3.store.listPayments(), 5)
}

// TestStoreBelongsToOneNode: a store records the node id of the seed that made it; a node with another
// seed refuses it.
func TestStoreBelongsToOneNode(t *testing.T) {
	btcd := newFakeBtcd(t)
	cfg := testNodeConfig(t, btcd)
	n := startTestNode(t, cfg, nil)
	id := nodeIDHex(n.nodeID)
	n.Stop()
	require.NoError(t, os.WriteFile(filepath.Join(cfg.DataDir, "seed"), bytes.Repeat([]byte("ab"), 32), 0o600))
	other, err := NewNode(cfg, n.log)
	require.NoError(t, err)
	err = other.Start()
	require.ErrorContains(t, err, "the store holds the state of node "+id)
	other.Stop()
}

// TestCopyStore: every key but the lease is copied and read back; a destination that is not empty is
// refused.
func TestCopyStore(t *testing.T) {
	src, dst := kvstore.NewMemStore(), kvstore.NewMemStore()
	want := map[kvstore.Key][]byte{}
	for i := 0; i < 600; i++ {
		k := kvstore.Key{Primary: "payments", Key: fmt.Sprintf("%064x", i)}
		v := bytes.Repeat([]byte{byte(i)}, i*40)
		want[k] = v
		require.NoError(t, src.Write(k, v))
	}
	require.NoError(t, src.Write(kvstore.Key{Primary: leaseNamespace, Key: "leader"}, []byte("x")))
	st, err := copyStore(src, dst)
	require.NoError(t, err)
	require.Equal(t, 600, st.keys)
	keys, err := dst.ListAll()
	require.NoError(t, err)
	require.Len(t, keys, 600)
	for k, v := range want {
		got, _, err := dst.Read(k)
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
	_, err = copyStore(src, dst)
	require.ErrorContains(t, err, "the destination is not empty")

	require.NoError(t, checkNoLeader(src), "an unreadable or expired lease holds nothing")
	l := newTestLease(src, "host/1/ab", nil)
	require.NoError(t, l.acquire(context.Background()))
	require.ErrorContains(t, checkNoLeader(src), "a node holds the lease (host/1/ab")
	l.release()
	require.NoError(t, checkNoLeader(src))
}

// storeBytesPerPayment pays count invoices of b from a and returns what each node wrote into its
// store per payment (keys and values, bytes; the counting wrapper's figure) and per payment the
// number of writes (calls).
func storeBytesPerPayment(t *testing.T, a, b *Node, count int) (payer, payee, payerWrites, payeeWrites float64) {
	t.Helper()
	a0, b0 := a.kvCount.bytes.Load(), b.kvCount.bytes.Load()
	ans, bns := a.kvCount.bytesByNamespace(), b.kvCount.bytesByNamespace()
	defer func() {
		for _, x := range []struct {
			n    *Node
			was  map[string]int64
			role string
		}{{a, ans, "payer"}, {b, bns, "payee"}} {
			now := x.n.kvCount.bytesByNamespace()
			per := map[string]int64{}
			for ns, v := range now {
				per[ns] = (v - x.was[ns]) / int64(count)
			}
			t.Logf("%s, bytes per payment by namespace: %v", x.role, per)
		}
	}()
	aw0, bw0 := a.kvCount.writes.Load(), b.kvCount.writes.Load()
	payInvoices(t, a, b, count, 7_000)
	settledPayments(t, a, b)
	c := float64(count)
	return float64(a.kvCount.bytes.Load()-a0) / c, float64(b.kvCount.bytes.Load()-b0) / c,
		float64(a.kvCount.writes.Load()-aw0) / c, float64(b.kvCount.writes.Load()-bw0) / c
}

// TestStoreCostPerPaymentIsConstant: what a payment writes into the store does not grow with the
// number of payments made before (one key per record, the manager's changed records only, monitor
// updates by themselves).
func TestStoreCostPerPaymentIsConstant(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 500_000, "-tick.graph", "1h")
	early, earlyB, ew, ewB := storeBytesPerPayment(t, a, b, 10)
	payInvoices(t, a, b, 60, 1_000)
	late, lateB, lw, lwB := storeBytesPerPayment(t, a, b, 10)
	t.Logf("bytes written per payment: payer %.0f then %.0f (%.1f then %.1f writes), payee %.0f then %.0f (%.1f then %.1f writes)",
		early, late, ew, lw, earlyB, lateB, ewB, lwB)
	require.Less(t, late, early*1.5, "the payer's cost does not grow")
	require.Less(t, lateB, earlyB*1.5, "the payee's cost does not grow")
}
