package channelmanager

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/fsstore"
)

// startupNode builds bob with channels channels to alice and payments remembered outbound payments,
// his monitors and manager records in one store per kind of store; it returns the stores and bob.
func startupNode(b *testing.B, channels, payments int) (*testNode, map[string]kvstore.KVStore) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(b, chain, "alice", 1)
	bob := newTestNode(b, chain, "bob", 2)
	mem := kvstore.NewMemStore()
	useKV(bob, mem, channelmonitor.KVStorePersisterOptions{})
	nw := newNetwork(b, a, bob)
	nw.connect(0, 1)
	for i := 0; i < channels; i++ {
		nw.openChannel(1, 0, 100_000, 0)
	}
	bob.cm.outbound.mu.Lock()
	for i := 0; i < payments; i++ {
		var id events.PaymentID
		binary.BigEndian.PutUint64(id[:], uint64(i)+1)
		bob.cm.outbound.byID[id] = &outboundPayment{ID: id, Hash: id, AmountMsat: 10_000, Done: true,
			Paths: []outboundPath{{AmountMsat: 10_000, State: pathSucceeded}}}
	}
	bob.cm.outbound.mu.Unlock()
	_, err := bob.cm.PersistAllTo(mem)
	require.NoError(b, err)
	fs, err := fsstore.Open(b.TempDir(), nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = fs.Close() })
	all, err := mem.ListAll()
	require.NoError(b, err)
	var batch kvstore.Batch
	for _, k := range all {
		v, _, err := mem.Read(k)
		require.NoError(b, err)
		batch.Put(k, v)
	}
	require.NoError(b, fs.Commit(&batch))
	return bob, map[string]kvstore.KVStore{"mem": mem, "fs": fs}
}

// BenchmarkStartup: reading a node back at start — its monitors (KVStorePersister) and its manager
// (ReadFromStore) — with 1,000 channels and 100,000 remembered payments, from memory and from the
// filesystem store.
func BenchmarkStartup(b *testing.B) {
	for _, size := range []struct{ channels, payments int }{{10, 100}, {1000, 100_000}} {
		bob, stores := startupNode(b, size.channels, size.payments)
		for _, kind := range []string{"mem", "fs"} {
			store := stores[kind]
			b.Run(fmt.Sprintf("channels=%d/payments=%d/%s", size.channels, size.payments, kind), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					p := channelmonitor.NewKVStorePersister(store, channelmonitor.KVStorePersisterOptions{})
					mons, err := p.ReadChannelMonitors(bob.km)
					require.NoError(b, err)
					require.Len(b, mons, size.channels)
					chainMon := channelmonitor.NewChainMonitor(nil, bob.bcast, nil, bob.chain, p)
					for _, m := range mons {
						require.NoError(b, chainMon.LoadMonitor(m))
					}
					args := bob.readArgs(mons)
					args.Watch = chainMon
					cm, err := ReadFromStore(store, args)
					require.NoError(b, err)
					require.Len(b, cm.ListChannels(), size.channels)
				}
			})
		}
	}
}
