package bumptx

import (
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// memPersist is a channelmonitor.Persist that keeps nothing.
type memPersist struct{}

func (memPersist) PersistNewChannel(wire.OutPoint, *channelmonitor.ChannelMonitor) channelmonitor.ChannelMonitorUpdateStatus {
	return channelmonitor.Completed
}

func (memPersist) UpdatePersistedChannel(wire.OutPoint, *channelmonitor.ChannelMonitorUpdate, *channelmonitor.ChannelMonitor) channelmonitor.ChannelMonitorUpdateStatus {
	return channelmonitor.Completed
}

// TestWithChannelMonitor runs the whole path on a chain that mines only at 5,000 sat/kw: a
// ChannelMonitor of the fixture channel is force-closed, its BumpChannelClose and BumpHTLCResolution
// events go to the handler, and the commitment (at 253 sat/kw), the HTLC-success transaction (with the
// preimage the monitor was given) and the aggregated HTLC-timeout transaction all confirm, paid for by
// the host's wallet. When the fee estimator says 5,000 sat/kw, each confirms at the first try; when it
// says 1,000, the monitor raises its targets block after block and the handler's replacements, which
// the chain accepts under its RBF rules, get there.
func TestWithChannelMonitor(t *testing.T) {
	for _, estimate := range []uint32{5000, 1000} {
		t.Run(fmt.Sprintf("estimate %d sat/kw", estimate), func(t *testing.T) { withChannelMonitor(t, estimate) })
	}
}

func withChannelMonitor(t *testing.T, estimate uint32) {
	const miningFeerate = 5000
	e := newEnv(t, 253, walletUTXOSat, walletUTXOSat, walletUTXOSat, walletUTXOSat)
	ch := e.ch
	e.chain.SetDefaultFeeratePerKw(estimate)
	e.chain.SetMiningFeeratePerKw(miningFeerate)

	dest, err := ch.us.GetDestinationScript(ch.keysID)
	require.NoError(t, err)
	chanID := lnwire.NewChannelIDFromOutPoint(ch.fundingOutPoint)
	params := channelmonitor.ChannelParameters{
		ChannelID: chanID, CounterpartyNodeID: ch.them.GetNodeID(), FundingOutPoint: ch.fundingOutPoint,
		FundingScript: ch.fundingScript, FundingValueSat: fundingSat, Anchors: true, IsOutbound: true,
		HolderPubkeys: ch.ourPubkeys, CounterpartyPubkeys: ch.theirPubkeys, HolderToSelfDelay: toSelfDelay,
		CounterpartyToSelfDelay: toSelfDelay, HolderDustLimitSat: dustLimitSat, CounterpartyDustLimitSat: dustLimitSat,
		ObscuringFactor: ch.obscuringFactor(), ChannelKeysID: ch.keysID, DestinationScript: dest,
	}
	holder := &channelmonitor.LatestHolderCommitment{CommitmentNumber: commitmentNum, Tx: ch.commit.Tx.Copy(),
		CounterpartySig: ch.theirSig, FeeratePerKw: 253}
	for i, out := range ch.commit.HTLCOutputs {
		holder.HTLCs = append(holder.HTLCs, channelmonitor.HolderHTLC{OutputIndex: int32(out.OutputIndex),
			Offered: out.HTLC.Offered, HTLCID: out.HTLC.ID, AmountMsat: out.HTLC.AmountMsat, PaymentHash: out.HTLC.PaymentHash,
			CltvExpiry: out.HTLC.CltvExpiry, CounterpartySig: ch.htlcSigs[i]})
	}
	mon, err := channelmonitor.NewChannelMonitor(params, ch.signer, holder, &channelmonitor.LatestCounterpartyCommitment{
		CommitmentNumber: commitmentNum, Txid: chainhash.Hash{9}, PerCommitmentPoint: ch.theirPoint})
	require.NoError(t, err)
	cm := channelmonitor.NewChainMonitor(nil, e.rec, nil, e.chain, memPersist{})
	_, err = cm.WatchChannel(ch.fundingOutPoint, mon)
	require.NoError(t, err)
	e.chain.RegisterListener(cm)

	var bumps []events.BumpTransaction
	handle := func(ev events.Event) error {
		if b, ok := ev.(events.BumpTransaction); ok {
			bumps = append(bumps, b)
			t.Logf("height %d: %v", e.chain.Height(), b)
			return e.handler.HandleEvent(b)
		}
		return nil
	}
	status := cm.UpdateChannel(ch.fundingOutPoint, &channelmonitor.ChannelMonitorUpdate{UpdateID: 1, ChannelID: chanID,
		Steps: []channelmonitor.UpdateStep{channelmonitor.PaymentPreimage{Preimage: ch.preimage},
			channelmonitor.ChannelForceClosed{ShouldBroadcast: true}}})
	require.Equal(t, channelmonitor.Completed, status)

	htlcOut := func(d events.HTLCDescriptor) wire.OutPoint {
		return wire.OutPoint{Hash: d.CommitmentTxid, Index: d.OutputIndex}
	}
	claimed := func() bool {
		for _, d := range append(append([]events.HTLCDescriptor(nil), ch.offered...), ch.success...) {
			by, ok := e.chain.SpentBy(htlcOut(d))
			if !ok || e.chain.Confirmations(by) == 0 {
				return false
			}
		}
		return true
	}
	for i := 0; i < htlcExpiry+20 && !claimed(); i++ {
		require.NoError(t, cm.ProcessPendingEvents(handle))
		e.chain.MineBlocks(1)
	}
	require.True(t, claimed(), "every HTLC claimed and confirmed by height %d", e.chain.Height())
	require.NotZero(t, e.chain.Confirmations(ch.tx.TxHash()))

	var closes, resolutions int
	for _, b := range bumps {
		switch b.(type) {
		case events.BumpChannelClose:
			closes++
		case events.BumpHTLCResolution:
			resolutions++
		}
	}
	if estimate >= miningFeerate {
		require.Equal(t, 1, closes)
		require.Equal(t, 2, resolutions, "the HTLC-success, then the two HTLC-timeouts")
	} else {
		require.Greater(t, closes, 1, "repeated with rising targets")
		require.Greater(t, resolutions, 2)
	}
	require.Empty(t, e.chain.Rejected(), "every replacement accepted")
	// Our second-stage transactions spent the HTLCs: each spend carries our HTLC witness.
	for _, d := range append(append([]events.HTLCDescriptor(nil), ch.offered...), ch.success...) {
		by, _ := e.chain.SpentBy(htlcOut(d))
		tx, _, ok := e.chain.GetTransaction(by)
		require.True(t, ok)
		for i, in := range tx.TxIn {
			if in.PreviousOutPoint == htlcOut(d) {
				require.Len(t, in.Witness, 5, "0 <their sig> <our sig> <preimage or empty> <script>")
				require.Equal(t, d.SecondStageOutput.Value, tx.TxOut[i].Value)
			}
		}
	}
}
