package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
)

// cheatState is a commitment of Bob's captured while an HTLC offered to him was on it and he held its
// preimage, with his signed HTLC-success transaction for it: what a cheater keeps to broadcast later.
type cheatState struct {
	commit      *wire.MsgTx
	htlcSuccess *wire.MsgTx
}

// captureCheat: Alice pays Bob htlcMsat; Bob claims it while cut off from Alice, so his commitment
// still carries the HTLC; his commitment and HTLC-success are captured, then the claim completes and
// more payments revoke that commitment.
func captureCheat(t *testing.T, nw *network, a, b *testNode, id lnwire.ChannelID, htlcMsat uint64) cheatState {
	hp := holdPayment(t, nw, 0, 1, htlcMsat)
	nw.disconnect(0, 1)
	require.NoError(t, b.cm.ClaimFunds(hp.preimage))
	txs, err := mustMonitor(t, b, b.channel(id).FundingTxo).UnsafeGetLatestHolderCommitmentTxn()
	require.NoError(t, err)
	require.Len(t, txs, 2, "bob's commitment and his HTLC-success")
	nw.connect(0, 1)
	nw.settle()
	for i := 0; i < 2; i++ {
		_, _, err := nw.pay(0, 1, 10_000_000)
		require.NoError(t, err)
		nw.settle()
	}
	b.autoClaim = true
	a.takeEvents()
	b.takeEvents()
	return cheatState{commit: txs[0], htlcSuccess: txs[1]}
}

// TestJusticeAgainstSecondStage (issue 7, item 1): Bob confirms a revoked commitment, and his
// HTLC-success transaction for one of its HTLC outputs in the same block or a later one. Alice's
// monitor takes the revoked to_local, and takes the HTLC-success output with the revocation key before
// Bob's to_self_delay passes; her earlier justice transaction, which spent the HTLC output too, is split
// and replanned. Bob ends with nothing.
func TestJusticeAgainstSecondStage(t *testing.T) { bothChannelTypes(t, testJusticeAgainstSecondStage) }

func testJusticeAgainstSecondStage(t *testing.T, anchors bool) {
	for _, later := range []bool{false, true} {
		name := "same block"
		if later {
			name = "later block"
		}
		t.Run(name, func(t *testing.T) {
			nw, a, b, id := onchainPair(t, anchors, 1_000_000, 400_000_000)
			funding := a.channel(id).FundingTxo
			cs := captureCheat(t, nw, a, b, id, 100_000_000)
			evs := map[*testNode][]events.Event{}
			if later {
				_, err := a.chain.MineBlockWith(cs.commit)
				require.NoError(t, err)
				nw.settle()
				require.NotEmpty(t, a.chain.Mempool(), "alice's justice transaction is in the mempool")
				_, err = a.chain.MineBlockWith(cs.htlcSuccess)
				require.NoError(t, err, "bob's HTLC-success wins the race (mined by a friendly miner)")
			} else if anchors {
				// Anchor HTLC outputs carry a 1-block CSV: the earliest the HTLC-success can confirm is
				// the next block, before any justice transaction of Alice's.
				_, err := a.chain.MineBlockWith(cs.commit)
				require.NoError(t, err)
				_, err = a.chain.MineBlockWith(cs.htlcSuccess)
				require.NoError(t, err)
			} else {
				_, err := a.chain.MineBlockWith(cs.commit, cs.htlcSuccess)
				require.NoError(t, err)
			}
			nw.settle()
			require.Equal(t, cs.commit.TxHash(), spendOf(a.chain, funding).TxHash())
			bal := a.chainMon.GetClaimableBalances()
			n, sat := balancesOf[channelmonitor.CounterpartyRevokedOutputClaimable](bal)
			require.Equal(t, 2, n, "revoked to_local and the HTLC-success output: %v", bal)
			require.Greater(t, sat, int64(390_000))

			mineTo(nw, a.chain.Height()+uint32(a.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+2, evs)
			// Every output of the revoked commitment (anchors aside: anyone's after 16 blocks) and of the
			// HTLC-success is Alice's.
			for i, o := range cs.commit.TxOut {
				if o.Value == 330 {
					continue
				}
				sp := spendOf(a.chain, wire.OutPoint{Hash: cs.commit.TxHash(), Index: uint32(i)})
				require.NotNil(t, sp, "output %d (%d sat) spent", i, o.Value)
			}
			second := spendOf(a.chain, wire.OutPoint{Hash: cs.htlcSuccess.TxHash(), Index: 0})
			require.NotNil(t, second, "the HTLC-success output taken")
			require.Len(t, second.TxIn[0].Witness, 3)
			require.Equal(t, []byte{1}, second.TxIn[0].Witness[1], "with the revocation key")
			total := sumOut(cs.commit) - anchorsSat(cs.commit)
			require.Greater(t, a.sweptSat, total-8_000, "alice gets the channel less fees (%d of %d)", a.sweptSat, total)
			require.Zero(t, b.sweptSat, "bob gets nothing")
			require.Empty(t, a.chainMon.GetClaimableBalances())
			for _, r := range a.chain.Rejected() {
				// Alice's first, aggregated justice may have been refused as a conflict with Bob's
				// HTLC-success; nothing else may be.
				require.ErrorIs(t, r.Err, testchain.ErrDoubleSpend, "%s", r.Txid)
			}
		})
	}
}

// anchorsSat is what a commitment's anchor outputs hold.
func anchorsSat(tx *wire.MsgTx) int64 {
	var s int64
	for _, o := range tx.TxOut {
		if o.Value == 330 {
			s += 330
		}
	}
	return s
}
