package channelmanager

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/kvstore"
)

// The previous persisted format: bob's manager as one Write snapshot (version 3) and his channel
// monitors, after 5 payments each way, one payment held claimable and one invoice outstanding.
// LNKIT_WRITE_TESTDATA=1 go test ./channelmanager -run TestWriteMigrationTestdata writes it again
// (only ever for a new format's predecessor: the files stand for data in users' hands).
var (
	migrationManagerFile  = filepath.Join("testdata", "manager-v3.bin")
	migrationMonitorsFile = filepath.Join("testdata", "monitors-v3.bin")
)

func TestWriteMigrationTestdata(t *testing.T) {
	if os.Getenv("LNKIT_WRITE_TESTDATA") == "" {
		t.Skip("writes testdata only when LNKIT_WRITE_TESTDATA is set")
	}
	nw, _, b := twoNodes(t)
	nw.openChannel(0, 1, 1_000_000, 300_000_000)
	for i := 0; i < 5; i++ {
		_, _, err := nw.pay(0, 1, 1_000_000)
		require.NoError(t, err)
		_, _, err = nw.pay(1, 0, 500_000)
		require.NoError(t, err)
		nw.settle()
	}
	_, _, err := b.cm.CreateInboundPayment(42_000, 3600, 0)
	require.NoError(t, err)
	b.autoClaim = false
	_, _, err = nw.pay(0, 1, 7_000_000)
	require.NoError(t, err)
	nw.settle()
	var w ser.Writer
	mons := b.persist.read(t, b.km)
	w.U32(uint32(len(mons)))
	for _, m := range mons {
		w.Var(m.Write())
	}
	require.NoError(t, os.WriteFile(migrationManagerFile, b.cm.Write(), 0o644))
	require.NoError(t, os.WriteFile(migrationMonitorsFile, w.Bytes(), 0o644))
}

// TestMigrateSnapshotToStore reads the previous format's files (checked in), migrates the manager into
// a store with PersistAllTo, and reads it back with ReadFromStore: the same channel with the same
// balances, the held payment announced again, the invoice still expected, the records identical to
// those of the manager read from the snapshot; and the store then takes incremental writes.
func TestMigrateSnapshotToStore(t *testing.T) {
	snap, err := os.ReadFile(migrationManagerFile)
	require.NoError(t, err)
	require.Equal(t, uint8(3), snap[0], "the checked-in snapshot is version 3")
	monData, err := os.ReadFile(migrationMonitorsFile)
	require.NoError(t, err)

	chain := testchain.New(&chaincfg.RegressionNetParams)
	bob := newTestNode(t, chain, "bob", 2)
	readMons := func() []*channelmonitor.ChannelMonitor {
		r := ser.NewReader(monData)
		n := int(binary.BigEndian.Uint32(r.Fixed(4)))
		var out []*channelmonitor.ChannelMonitor
		for i := 0; i < n; i++ {
			m, err := channelmonitor.ReadChannelMonitor(r.Var(), bob.km)
			require.NoError(t, err)
			out = append(out, m)
		}
		require.NoError(t, r.Err())
		return out
	}
	args := func() ReadArgs {
		bob.chainMon = channelmonitor.NewChainMonitor(nil, bob.bcast, nil, chain, bob.persist)
		mons := readMons()
		for _, m := range mons {
			require.NoError(t, bob.chainMon.LoadMonitor(m))
		}
		return bob.readArgs(mons)
	}
	fromSnap, err := Read(snap, args())
	require.NoError(t, err)
	store := kvstore.NewMemStore()
	st, err := fromSnap.PersistAllTo(store)
	require.NoError(t, err)
	require.Equal(t, 1+1+2+1+5, st.Written, "state, channel, two invoices (the outstanding one, the held payment's), claimable, bob's 5 payments")

	fromStore, err := ReadFromStore(store, args())
	require.NoError(t, err)
	requireSameRecords(t, fromSnap.storeRecords(), fromStore.storeRecords())
	chans := fromStore.ListChannels()
	require.Len(t, chans, 1)
	require.Equal(t, uint64(300_000_000+5*1_000_000-5*500_000), chans[0].BalanceMsat)
	require.Equal(t, 1, chans[0].NumPendingHTLCs, "the held payment's HTLC")
	var held []events.PaymentClaimable
	require.NoError(t, fromStore.ProcessPendingEvents(func(e events.Event) error {
		if pc, ok := e.(events.PaymentClaimable); ok {
			held = append(held, pc)
		}
		return nil
	}))
	require.Len(t, held, 1)
	require.Equal(t, uint64(7_000_000), held[0].AmountMsat)
	fromStore.inbound.mu.Lock()
	require.Len(t, fromStore.inbound.expected, 2, "the outstanding invoice and the held payment's")
	fromStore.inbound.mu.Unlock()

	// Claiming rewrites the channel and the state record and removes the claimable payment and its
	// invoice; nothing else is touched.
	require.NoError(t, fromStore.ClaimFunds(*held[0].Purpose.PaymentPreimage))
	st, err = fromStore.PersistTo(store)
	require.NoError(t, err)
	require.Equal(t, 2, st.Written, "%+v", st)
	require.Equal(t, 2, st.Removed, "%+v", st)
}
