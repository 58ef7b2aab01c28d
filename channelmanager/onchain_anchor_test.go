package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// maxBumpFee returns the largest MaxFeeSat of the BumpChannelClose events a node saw.
func bumpEvents(evs []events.Event) (closes []events.BumpChannelClose, htlcs []events.BumpHTLCResolution) {
	for _, e := range evs {
		switch ev := e.(type) {
		case events.BumpChannelClose:
			closes = append(closes, ev)
		case events.BumpHTLCResolution:
			htlcs = append(htlcs, ev)
		}
	}
	return
}

// TestAnchorCommitmentBumped (issue 7: anchor commitments at 253 sat/kw were accepted "because
// anchors allow CPFP", but nothing ever spent an anchor). Alice's anchor commitment pays 253 sat/kw,
// miners want 5,000 and her fee estimator says 1,000. Without a bump handler her commitment never
// confirms; with the library's default handler, her monitor's rising BumpChannelClose targets get it
// confirmed through CPFP before her HTLC's deadline, paying less than the budget the events name.
func TestAnchorCommitmentBumped(t *testing.T) {
	for _, handler := range []bool{false, true} {
		t.Run(map[bool]string{false: "no handler", true: "default handler"}[handler], func(t *testing.T) {
			nw, a, b, id := onchainPair(t, true, 1_000_000, 0)
			hp := holdPayment(t, nw, 0, 1, 100_000_000)
			funding := a.channel(id).FundingTxo
			if !handler {
				a.onBump = nil
			}
			nw.disconnect(0, 1)
			a.chain.SetMiningFeeratePerKw(5_000)
			a.chain.SetFeeratePerKw(chaininterface.UrgentOnChainSweep, 1_000)
			commit, err := mustMonitor(t, a, funding).LatestHolderCommitmentTx()
			require.NoError(t, err)
			require.Less(t, (1_000_000-sumOut(commit))*1000/txWeightOf(commit), int64(300), "the commitment pays about 253 sat/kw")
			require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
			evs := map[*testNode][]events.Event{}
			start := a.chain.Height()
			confirmedAt := uint32(0)
			for a.chain.Height() < hp.expiry && confirmedAt == 0 {
				mineTo(nw, a.chain.Height()+1, evs)
				if spendOf(a.chain, funding) != nil {
					confirmedAt = a.chain.Height()
				}
			}
			closes, _ := bumpEvents(evs[a])
			require.NotEmpty(t, closes, "the monitor asks for a bump every block")
			if !handler {
				require.Zero(t, confirmedAt, "without a bump the commitment never confirms")
				return
			}
			require.NotZero(t, confirmedAt, "confirmed before the HTLC's expiry %d", hp.expiry)
			require.Equal(t, commit.TxHash(), spendOf(a.chain, funding).TxHash())
			// The child spending the anchor: the package's fee stays within the budget.
			child := spendOf(a.chain, anchorOf(t, commit, a))
			require.NotNil(t, child, "the anchor was spent by a CPFP child")
			fee := packageFee(t, a, commit, child)
			last := closes[len(closes)-1]
			require.LessOrEqual(t, fee, last.MaxFeeSat, "within the budget")
			require.GreaterOrEqual(t, fee*1000/(txWeightOf(commit)+txWeightOf(child)), int64(5_000), "the package pays the miners' feerate")
			t.Logf("confirmed %d blocks after the close, package fee %d sat (budget %d), %d bump events",
				confirmedAt-start, fee, last.MaxFeeSat, len(closes))
			// The rest resolves: the HTLC times out through a bumped HTLC-timeout transaction.
			a.chain.SetMiningFeeratePerKw(0)
			mineTo(nw, hp.expiry+uint32(b.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+4, evs)
			_, pf, failed, _ := outcomes(evs[a], hp.id)
			require.Equal(t, [2]int{1, 1}, [2]int{pf, failed})
			require.Empty(t, a.chainMon.GetClaimableBalances())
		})
	}
}

func txWeightOf(tx *wire.MsgTx) int64 {
	return int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
}

// anchorOf is the outpoint of node n's anchor on commitment tx (the 330-sat output its funding key
// can spend).
func anchorOf(t *testing.T, tx *wire.MsgTx, n *testNode) wire.OutPoint {
	for i, o := range tx.TxOut {
		if o.Value != 330 {
			continue
		}
		op := wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}
		if sp := spendOf(n.chain, op); sp != nil {
			return op
		}
	}
	t.Fatal("no spent anchor")
	return wire.OutPoint{}
}

// packageFee is what commit and its child paid together.
func packageFee(t *testing.T, n *testNode, commit, child *wire.MsgTx) int64 {
	var in int64
	for _, txin := range child.TxIn {
		if txin.PreviousOutPoint.Hash == commit.TxHash() {
			in += commit.TxOut[txin.PreviousOutPoint.Index].Value
			continue
		}
		prev, _, ok := n.chain.GetTransaction(txin.PreviousOutPoint.Hash)
		require.True(t, ok)
		in += prev.TxOut[txin.PreviousOutPoint.Index].Value
	}
	return (1_000_000 - sumOut(commit)) + in - sumOut(child)
}
