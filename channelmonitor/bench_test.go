package channelmonitor

import (
	"crypto/sha256"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/keys"
)

type nopPersister struct{}

func (nopPersister) PersistNewChannel(wire.OutPoint, *ChannelMonitor) ChannelMonitorUpdateStatus {
	return Completed
}
func (nopPersister) UpdatePersistedChannel(wire.OutPoint, *ChannelMonitorUpdate, *ChannelMonitor) ChannelMonitorUpdateStatus {
	return Completed
}

type nopBroadcaster struct{}

func (nopBroadcaster) BroadcastTransactions(...*wire.MsgTx) {}

type fixedFee uint32

func (f fixedFee) EstimateFeeratePerKw(chaininterface.ConfirmationTarget) uint32 { return uint32(f) }

// BenchmarkBlockProcessing1000Monitors: a ChainMonitor watching 1,000 open channels is given a block
// of 2,000 transactions (2 inputs, 2 outputs each) that touch none of them. The baseline in the same
// run ("txids") is hashing the block's transactions once, which any block processing does.
func BenchmarkBlockProcessing1000Monitors(b *testing.B) {
	const monitors, txs = 1000, 2000
	cm := NewChainMonitor(nil, nopBroadcaster{}, nil, fixedFee(253), nopPersister{})
	base, km := testMonitor(b)
	snap := base.Write()
	for i := 0; i < monitors; i++ {
		m, err := ReadChannelMonitor(snap, km)
		if err != nil {
			b.Fatal(err)
		}
		m.params.FundingOutPoint = wire.OutPoint{Hash: sha256.Sum256([]byte{byte(i), byte(i >> 8), 'f'}), Index: 0}
		if err := cm.LoadMonitor(m); err != nil {
			b.Fatal(err)
		}
	}
	block := &wire.MsgBlock{}
	for i := 0; i < txs; i++ {
		tx := wire.NewMsgTx(2)
		for j := 0; j < 2; j++ {
			tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(j)}), Index: uint32(j)}})
			tx.AddTxOut(&wire.TxOut{Value: 1000, PkScript: make([]byte, 22)})
		}
		block.Transactions = append(block.Transactions, tx)
	}
	b.Run("chainmonitor", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cm.BlockConnected(block, uint32(1000+i))
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/monitors, "ns/monitor")
	})
	b.Run("txids", func(b *testing.B) {
		var h chainhash.Hash
		for i := 0; i < b.N; i++ {
			for _, tx := range block.Transactions {
				h = tx.TxHash()
			}
		}
		_ = h
	})
	_ = keys.MaxCommitmentIndex
}
