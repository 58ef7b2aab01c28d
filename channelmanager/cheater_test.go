package channelmanager

import (
	"math/rand"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/internal/testchain"
)

// TestCheatingCounterparty: over many seeds, Bob plays payments both ways with Alice (some of his
// incoming ones claimed late, so that his commitments carry HTLCs he holds preimages for), keeps a
// copy of one of his commitments with its signed HTLC transactions, goes on with the channel until
// that commitment is revoked, then broadcasts it at a random time, with each of its HTLC transactions
// in the same block, a later block, or never. Every time, Alice ends with every output of the revoked
// commitment and of Bob's HTLC transactions, less fees, and Bob with nothing.
func TestCheatingCounterparty(t *testing.T) {
	seeds := 200
	if testing.Short() || raceEnabled {
		seeds = 24
	}
	for seed := 0; seed < seeds; seed++ {
		cheatOnce(t, int64(seed), seed%2 == 1)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
	}
}

func cheatOnce(t *testing.T, seed int64, anchors bool) {
	r := rand.New(rand.NewSource(seed))
	value := 500_000 + r.Int63n(1_500_000)
	push := uint64(r.Int63n(value/2)) * 1000
	nw, a, b, id := onchainPair(t, anchors, value, push)
	chain := a.chain
	funding := a.channel(id).FundingTxo

	var captured []*wire.MsgTx
	steps := 6 + r.Intn(10)
	captureAt := r.Intn(steps)
	var held []heldPayment
	for step := 0; step < steps; step++ {
		switch k := r.Intn(4); {
		case k == 0 && len(held) < 3:
			// Alice pays Bob, who holds it: later he claims it while cut off.
			hp := holdPayment(t, nw, 0, 1, randAmount(r, 400_000, uint64(value)*50))
			held = append(held, hp)
		case k == 1 && len(held) > 0:
			nw.disconnect(0, 1)
			require.NoError(t, b.cm.ClaimFunds(held[0].preimage))
			held = held[1:]
			if step == captureAt || captured == nil && step > captureAt {
				captured = cheaterTxs(t, b, funding)
			}
			nw.connect(0, 1)
			nw.settle()
			continue
		default:
			from := r.Intn(2)
			if _, _, err := nw.pay(from, 1-from, randAmount(r, 10_000, uint64(value)*40)); err == nil {
				b.autoClaim = true
				nw.settle()
				b.autoClaim = false
			}
		}
		if step == captureAt {
			captured = cheaterTxs(t, b, funding)
		}
	}
	if captured == nil {
		captured = cheaterTxs(t, b, funding)
	}
	// Two more payments revoke whatever was captured.
	b.autoClaim = true
	for i := 0; i < 2; i++ {
		_, _, err := nw.pay(0, 1, 10_000)
		require.NoError(t, err, "seed %d: %+v", seed, a.channel(id))
		nw.settle()
	}
	nw.mine(r.Intn(20))
	commit, htlcTxs := captured[0], captured[1:]
	b.proxy.Set() // the cheater's own node stays out of it
	bWallet := b.wallet.Balance()

	// The cheat: the commitment, and each HTLC transaction now, later, or never.
	now := []*wire.MsgTx{commit}
	var later []*wire.MsgTx
	for _, tx := range htlcTxs {
		switch r.Intn(3) {
		case 0:
			// Anchor HTLC outputs have a 1-block CSV: "now" is the next block there.
			if anchors {
				later = append([]*wire.MsgTx{tx}, later...)
			} else if tx.LockTime < chain.Height()+1 {
				now = append(now, tx)
			}
		case 1:
			later = append(later, tx)
		}
	}
	_, err := chain.MineBlockWith(now...)
	require.NoError(t, err, "seed %d", seed)
	nw.settle()
	for len(later) > 0 {
		if !anchors || r.Intn(2) == 0 {
			nw.mine(r.Intn(3))
		}
		tx := later[0]
		later = later[1:]
		if tx.LockTime >= chain.Height()+1 {
			continue
		}
		if _, err := chain.MineBlockWith(tx); err == nil {
			nw.settle()
		}
	}
	nw.mine(int(a.cfg.ChannelHandshakeConfig.OurToSelfDelay) + channelmonitor.AntiReorgDelay + 4)

	// Alice took every output of the commitment and of Bob's confirmed HTLC transactions, except the
	// anchors (anyone's after 16 blocks, worth less than their sweep).
	total := sumOut(commit) - anchorsSat(commit)
	for i, o := range commit.TxOut {
		if o.Value == 330 {
			continue
		}
		require.NotNil(t, spendOf(chain, wire.OutPoint{Hash: commit.TxHash(), Index: uint32(i)}), "seed %d: output %d unspent", seed, i)
	}
	var htlcFees int64
	for _, tx := range htlcTxs {
		if _, h, ok := chain.GetTransaction(tx.TxHash()); ok && h != 0 {
			in := commit.TxOut[tx.TxIn[0].PreviousOutPoint.Index].Value
			htlcFees += in - sumOut(tx)
			sp := spendOf(chain, wire.OutPoint{Hash: tx.TxHash(), Index: 0})
			require.NotNil(t, sp, "seed %d: second-stage output taken", seed)
		}
	}
	require.Greater(t, a.sweptSat, total-htlcFees-12_000, "seed %d: alice gets the channel less fees", seed)
	require.LessOrEqual(t, a.sweptSat, total)
	require.Zero(t, b.sweptSat, "seed %d", seed)
	require.Equal(t, bWallet, b.wallet.Balance(), "seed %d: bob's wallet unchanged", seed)
	for _, rej := range chain.Rejected() {
		require.ErrorIs(t, rej.Err, testchain.ErrDoubleSpend, "seed %d", seed)
	}
	require.Empty(t, a.chainMon.GetClaimableBalances(), "seed %d", seed)
}

// cheaterTxs is what a cheater keeps: Bob's signed commitment and HTLC transactions.
func cheaterTxs(t *testing.T, b *testNode, funding wire.OutPoint) []*wire.MsgTx {
	txs, err := mustMonitor(t, b, funding).UnsafeGetLatestHolderCommitmentTxn()
	require.NoError(t, err)
	return txs
}
