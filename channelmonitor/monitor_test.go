package channelmonitor

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// testMonitor builds a monitor for a made-up channel between two KeysManagers.
func testMonitor(t testing.TB) (*ChannelMonitor, *keys.KeysManager) {
	km := keys.NewKeysManager([32]byte{1}, 1, 0)
	other := keys.NewKeysManager([32]byte{2}, 1, 0)
	id := km.GenerateChannelKeysID(false, 1_000_000, [16]byte{})
	s := km.DeriveChannelSigner(1_000_000, id)
	o := other.DeriveChannelSigner(1_000_000, other.GenerateChannelKeysID(true, 1_000_000, [16]byte{}))
	ws, _, err := bolt3.FundingScript(s.Pubkeys().FundingPubkey, o.Pubkeys().FundingPubkey)
	require.NoError(t, err)
	op := wire.OutPoint{Hash: chainhash.Hash{7}, Index: 1}
	dest, err := km.GetDestinationScript(id)
	require.NoError(t, err)
	p := ChannelParameters{ChannelID: lnwire.NewChannelIDFromOutPoint(op), CounterpartyNodeID: other.GetNodeID(),
		FundingOutPoint: op, FundingScript: ws, FundingValueSat: 1_000_000, Anchors: true, IsOutbound: true,
		HolderPubkeys: s.Pubkeys(), CounterpartyPubkeys: o.Pubkeys(), HolderToSelfDelay: 144, CounterpartyToSelfDelay: 144,
		HolderDustLimitSat: 354, CounterpartyDustLimitSat: 354, ObscuringFactor: 42, ChannelKeysID: id, DestinationScript: dest}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: op})
	tx.AddTxOut(&wire.TxOut{Value: 999_000, PkScript: dest})
	pt, _ := s.GetPerCommitmentPoint(0)
	m, err := NewChannelMonitor(p, s, &LatestHolderCommitment{Tx: tx, FeeratePerKw: 253},
		&LatestCounterpartyCommitment{Txid: chainhash.Hash{9}, PerCommitmentPoint: pt})
	require.NoError(t, err)
	return m, km
}

func secretFor(n uint64) [32]byte {
	return keys.BuildCommitmentSecret([32]byte{5}, keys.MaxCommitmentIndex-n)
}

func update(id uint64) *ChannelMonitorUpdate {
	pt, _ := btcec.PrivKeyFromBytes([]byte{byte(id), 1, 2, 3})
	return &ChannelMonitorUpdate{UpdateID: id, Steps: []UpdateStep{
		CommitmentSecret{CommitmentNumber: id - 1, Secret: secretFor(id - 1)},
		LatestCounterpartyCommitment{CommitmentNumber: id + 1, Txid: chainhash.Hash{byte(id)}, PerCommitmentPoint: pt.PubKey(),
			HTLCs: []CounterpartyHTLC{{OutputIndex: 2, Offered: true, AmountMsat: 5000, PaymentHash: [32]byte{3}, CltvExpiry: 500}}},
		PaymentPreimage{Preimage: [32]byte{byte(id)}},
	}}
}

func TestUpdateOrder(t *testing.T) {
	m, _ := testMonitor(t)
	require.ErrorIs(t, m.Update(update(2)), ErrUpdateOutOfOrder)
	require.NoError(t, m.Update(update(1)))
	require.NoError(t, m.Update(update(1)), "an update already applied is ignored")
	bad := update(2)
	bad.Steps[0] = CommitmentSecret{CommitmentNumber: 1, Secret: [32]byte{0xff}}
	require.ErrorIs(t, m.Update(bad), ErrInvalidUpdate, "a secret that does not derive the earlier ones")
}

// TestFilesystemPersister: snapshots and the update log read back to the same monitor; a torn final
// record (a crash mid-append) is ignored; a corrupt snapshot is an error, not a panic.
func TestFilesystemPersister(t *testing.T) {
	dir := t.TempDir()
	p, err := NewFilesystemPersister(dir)
	require.NoError(t, err)
	p.SnapshotEvery = 5
	m, km := testMonitor(t)
	op := m.FundingTxo()
	require.Equal(t, Completed, p.PersistNewChannel(op, m))
	for id := uint64(1); id <= 12; id++ {
		u := update(id)
		require.NoError(t, m.Update(u))
		require.Equal(t, Completed, p.UpdatePersistedChannel(op, u, m))
	}
	require.NoError(t, p.Close())
	mons, err := p.ReadChannelMonitors(km)
	require.NoError(t, err)
	require.Len(t, mons, 1)
	require.Equal(t, uint64(12), mons[0].LatestUpdateID())
	require.Equal(t, m.Write(), mons[0].Write())

	// A torn append: half of update 13's record.
	u := update(13)
	require.NoError(t, m.Update(u))
	chanDir := filepath.Join(dir, op.Hash.String()+"_1")
	f, err := os.OpenFile(filepath.Join(chanDir, "updates"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	require.NoError(t, err)
	enc := u.Encode()
	_, err = f.Write([]byte{0, 0, byte(len(enc) >> 8), byte(len(enc)), 1, 2, 3, 4})
	require.NoError(t, err)
	_, err = f.Write(enc[:len(enc)/2])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	mons, err = p.ReadChannelMonitors(km)
	require.NoError(t, err)
	require.Equal(t, uint64(12), mons[0].LatestUpdateID(), "the torn update is not applied")

	// A corrupt snapshot.
	snap := filepath.Join(chanDir, "monitor")
	data, err := os.ReadFile(snap)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(snap, data[:len(data)/3], 0o600))
	_, err = p.ReadChannelMonitors(km)
	require.ErrorIs(t, err, ErrCorrupt)
	// Another seed cannot read it back as its own.
	require.NoError(t, os.WriteFile(snap, data, 0o600))
	_, err = p.ReadChannelMonitors(keys.NewKeysManager([32]byte{3}, 1, 0))
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestUpdateEncodeRoundTrip(t *testing.T) {
	u := update(3)
	u.Steps = append(u.Steps, ChannelForceClosed{ShouldBroadcast: true}, ShutdownScript{Script: []byte{0, 20, 1}})
	d, err := DecodeChannelMonitorUpdate(u.Encode())
	require.NoError(t, err)
	require.Equal(t, u.Encode(), d.Encode())
	require.Len(t, d.Steps, 5)
}

// FuzzDecodeChannelMonitorUpdate: no input panics, and what decodes re-encodes to the same bytes.
func FuzzDecodeChannelMonitorUpdate(f *testing.F) {
	f.Add(update(1).Encode())
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := DecodeChannelMonitorUpdate(data)
		if err != nil {
			return
		}
		d, err := DecodeChannelMonitorUpdate(u.Encode())
		if err != nil || !bytes.Equal(d.Encode(), u.Encode()) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// FuzzReadChannelMonitor: no input panics.
func FuzzReadChannelMonitor(f *testing.F) {
	m, km := testMonitor(f)
	f.Add(m.Write())
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadChannelMonitor(data, km)
		if err == nil {
			_ = got.Write()
		}
	})
}

// TestSpendableOutputsPersistedUntilHandled: a SpendableOutputs event the host has not handled is
// written with the monitor and read back; ProcessPendingEvents hands it over until a handler takes it,
// then forgets it.
func TestSpendableOutputsPersistedUntilHandled(t *testing.T) {
	m, km := testMonitor(t)
	tx := m.holder.Tx
	m.mu.Lock()
	m.reportStatic(tx)
	m.mu.Unlock()
	require.Len(t, m.unhandledSpendable(), 1)

	back, err := ReadChannelMonitor(m.Write(), km)
	require.NoError(t, err)
	require.Equal(t, m.Write(), back.Write())
	evs := back.unhandledSpendable()
	require.Len(t, evs, 1)
	require.Equal(t, m.ChannelID(), [32]byte(evs[0].ChannelID))
	require.Equal(t, []events.SpendableOutputDescriptor{{Kind: events.StaticOutput,
		OutPoint: wire.OutPoint{Hash: tx.TxHash(), Index: 0}, Output: *tx.TxOut[0]}}, evs[0].Outputs)

	p := &countingPersister{}
	cm := NewChainMonitor(nil, nil, nil, nil, p)
	require.NoError(t, cm.LoadMonitor(back))
	refuse := errors.New("not now")
	require.ErrorIs(t, cm.ProcessPendingEvents(func(events.Event) error { return refuse }), refuse)
	require.Len(t, back.unhandledSpendable(), 1, "kept when the handler fails")
	var got []events.Event
	require.NoError(t, cm.ProcessPendingEvents(func(e events.Event) error { got = append(got, e); return nil }))
	require.Len(t, got, 1)
	require.Empty(t, back.unhandledSpendable())
	require.Equal(t, 1, p.chainWrites, "the monitor is persisted again once the event is handled")
	after, err := ReadChannelMonitor(back.Write(), km)
	require.NoError(t, err)
	require.Empty(t, after.unhandledSpendable())
	require.NoError(t, cm.ProcessPendingEvents(func(e events.Event) error { t.Fatalf("again: %s", e); return nil }))
}

// countingPersister counts the chain-state writes (updates without an update).
type countingPersister struct{ chainWrites int }

func (p *countingPersister) PersistNewChannel(wire.OutPoint, *ChannelMonitor) ChannelMonitorUpdateStatus {
	return Completed
}

func (p *countingPersister) UpdatePersistedChannel(_ wire.OutPoint, u *ChannelMonitorUpdate, _ *ChannelMonitor) ChannelMonitorUpdateStatus {
	if u == nil {
		p.chainWrites++
	}
	return Completed
}

// TestSupersededCounterpartyCommitment: a second counterparty commitment with the number of one the
// monitor holds supersedes it: both are kept (to be recognised on chain), only the newer one's HTLCs
// bind us, and that survives a write and a read; the older one's coming again makes it the live one.
func TestSupersededCounterpartyCommitment(t *testing.T) {
	m, km := testMonitor(t)
	pt, _ := btcec.PrivKeyFromBytes([]byte{9, 9, 9})
	cp := func(txid byte, hash byte) LatestCounterpartyCommitment {
		return LatestCounterpartyCommitment{CommitmentNumber: 1, Txid: chainhash.Hash{txid}, PerCommitmentPoint: pt.PubKey(),
			HTLCs: []CounterpartyHTLC{{OutputIndex: 2, AmountMsat: 5_000_000, PaymentHash: [32]byte{hash}, CltvExpiry: 500}}}
	}
	live := func(m *ChannelMonitor) []chainhash.Hash {
		m.mu.Lock()
		defer m.mu.Unlock()
		var out []chainhash.Hash
		for _, c := range m.liveCounterparty() {
			if c.CommitmentNumber == 1 {
				out = append(out, c.Txid)
			}
		}
		return out
	}
	require.NoError(t, m.Update(&ChannelMonitorUpdate{UpdateID: 1, Steps: []UpdateStep{cp(0xa, 1)}}))
	require.NoError(t, m.Update(&ChannelMonitorUpdate{UpdateID: 2, Steps: []UpdateStep{cp(0xb, 2)}}))
	require.Equal(t, []chainhash.Hash{{0xb}}, live(m))
	m.mu.Lock()
	_, deadline := m.htlcDeadline(600)
	offered := m.offeredHTLCs()
	m.mu.Unlock()
	require.True(t, deadline, "the live commitment's HTLC still counts")
	require.Len(t, offered, 1)
	require.Contains(t, offered, htlcKey{0, [32]byte{2}})

	back, err := ReadChannelMonitor(m.Write(), km)
	require.NoError(t, err)
	require.Equal(t, []chainhash.Hash{{0xb}}, live(back))
	require.Len(t, back.counterparty, 3, "commitment 0 and both commitments 1 kept")

	require.NoError(t, back.Update(&ChannelMonitorUpdate{UpdateID: 3, Steps: []UpdateStep{cp(0xa, 1)}}))
	require.Equal(t, []chainhash.Hash{{0xa}}, live(back))
}
