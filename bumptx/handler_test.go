package bumptx

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
)

// childOf returns the child of a [commitment, child] broadcast, checking the commitment.
func childOf(t *testing.T, e *env, txs []*wire.MsgTx) *wire.MsgTx {
	t.Helper()
	require.Len(t, txs, 2, "commitment and child in one call")
	require.Equal(t, e.ch.tx.TxHash(), txs[0].TxHash(), "the commitment first")
	return txs[1]
}

// TestChannelCloseCPFP: a commitment at 253 sat/kw and a target of 5,000 sat/kw. The child spends the
// anchor and the wallet UTXO, the chain accepts both (every script run by btcd's engine) and mines
// them, the package pays at least the target on the real weights, no more than MaxFeeSat, and the change
// is exactly what the estimated weight leaves, to the satoshi.
func TestChannelCloseCPFP(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	utxos, err := e.wallet.ListConfirmedUTXOs()
	require.NoError(t, err)
	require.Len(t, utxos, 1)
	const target, maxFee = 5000, 50_000
	ev := e.ch.closeEvent(1, target, maxFee)
	require.False(t, meetsFeerate(ev.CommitmentTxFeeSat, TxWeight(ev.CommitmentTx), target), "the commitment alone is short")

	require.NoError(t, e.handler.HandleEvent(ev))
	require.Empty(t, e.chain.Rejected())
	child := childOf(t, e, e.rec.last(t))
	require.True(t, e.chain.InMempool(e.ch.tx.TxHash()))
	require.True(t, e.chain.InMempool(child.TxHash()))

	// Shape: anchor first, then the wallet UTXO; one change output to the wallet.
	require.EqualValues(t, 2, child.Version)
	require.Len(t, child.TxIn, 2)
	require.Equal(t, e.ch.anchor.OutPoint, child.TxIn[0].PreviousOutPoint)
	require.Equal(t, utxos[0].OutPoint, child.TxIn[1].PreviousOutPoint)
	require.Len(t, child.TxOut, 1)
	require.Equal(t, e.wallet.w.PkScript(), child.TxOut[0].PkScript)

	// Change to the satoshi: everything but ceil(target × (commitment weight + estimated child weight)),
	// the estimate counting 73-byte signatures (anchor witness 116 WU, P2WPKH 109 WU).
	wc := TxWeight(e.ch.tx)
	estimated := 4*int64(child.SerializeSizeStripped()) + 2 + (1 + 1 + 73 + 1 + 40) + (1 + 1 + 73 + 1 + 33)
	packageFee := (target*(wc+estimated) + 999) / 1000
	require.Equal(t, walletUTXOSat+330+ev.CommitmentTxFeeSat-packageFee, child.TxOut[0].Value)

	// The package feerate on the real weights.
	childFee := e.txFee(t, child)
	require.Equal(t, packageFee-ev.CommitmentTxFeeSat, childFee)
	requireFeerate(t, ev.CommitmentTxFeeSat+childFee, wc+TxWeight(child), target, "package")
	require.LessOrEqual(t, ev.CommitmentTxFeeSat+childFee, int64(maxFee))

	blk := e.chain.MineBlocks(1)[0]
	require.Len(t, blk.Transactions, 3)
	require.EqualValues(t, 1, e.chain.Confirmations(child.TxHash()))
	require.Equal(t, child.TxOut[0].Value, e.wallet.w.Balance(), "change confirmed to the wallet")
}

// TestChannelCloseReplacement: the same event again with a higher target and the same ClaimID gives a
// child that spends the same wallet UTXO (so it conflicts with the first) and pays more, in absolute fee
// and in feerate (its own and the package's), by at least the incremental relay fee on its weight; the
// test chain, which applies Bitcoin Core's replacement rules, takes it in place of the first and mines
// it. Another ClaimID does not take the locked UTXO.
func TestChannelCloseReplacement(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat, 60_000)
	wc := TxWeight(e.ch.tx)

	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 5000, 0)))
	first := childOf(t, e, e.rec.last(t))
	require.Empty(t, e.chain.Rejected())
	require.Len(t, first.TxIn, 2, "the largest UTXO suffices")
	fee1 := e.ch.commit.FeeSat + e.txFee(t, first)

	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 7500, 0)))
	second := childOf(t, e, e.rec.last(t))
	require.NotEqual(t, first.TxHash(), second.TxHash())
	require.Equal(t, first.TxIn[1].PreviousOutPoint, second.TxIn[1].PreviousOutPoint, "same wallet UTXO")
	fee2 := e.ch.commit.FeeSat + e.txFee(t, second, first)
	require.Greater(t, fee2, fee1, "higher absolute fee")
	require.Greater(t, fee2*(wc+TxWeight(first)), fee1*(wc+TxWeight(second)), "higher package feerate")
	require.Greater(t, (fee2-e.ch.commit.FeeSat)*TxWeight(first), (fee1-e.ch.commit.FeeSat)*TxWeight(second), "higher child feerate")
	require.GreaterOrEqual(t, fee2-fee1, (IncrementalRelayFeeratePerKw*TxWeight(second)+999)/1000, "BIP 125 rule 4")
	requireFeerate(t, fee2, wc+TxWeight(second), 7500, "replacement package")

	require.Empty(t, e.chain.Rejected(), "accepted as a replacement")
	require.False(t, e.chain.InMempool(first.TxHash()), "the first child is evicted")
	require.True(t, e.chain.InMempool(second.TxHash()))
	e.chain.MineBlocks(1)
	require.EqualValues(t, 1, e.chain.Confirmations(second.TxHash()))

	// A different claim skips the UTXO locked to claim 1 and takes the other one (the chain refuses its
	// child: the anchor is spent).
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(2, 5000, 0)))
	other := childOf(t, e, e.rec.last(t))
	require.Len(t, other.TxIn, 2)
	require.NotEqual(t, first.TxIn[1].PreviousOutPoint, other.TxIn[1].PreviousOutPoint)
	require.Equal(t, []wire.OutPoint{other.TxIn[1].PreviousOutPoint}, e.coins.LockedUTXOs(events.ClaimID{2}))
}

// TestChannelCloseReplacementHeavier: a replacement that needs a second wallet input spends the first
// one again plus another, and still raises the child's own feerate, the package feerate and the fee by
// at least the incremental relay fee on its weight.
func TestChannelCloseReplacementHeavier(t *testing.T) {
	e := newEnv(t, 253, 15_000, 14_000)
	wc := TxWeight(e.ch.tx)
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 5000, 0)))
	first := childOf(t, e, e.rec.last(t))
	require.Len(t, first.TxIn, 2)
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 9000, 0)))
	second := childOf(t, e, e.rec.last(t))
	require.Len(t, second.TxIn, 3)
	require.Equal(t, first.TxIn[1].PreviousOutPoint, second.TxIn[1].PreviousOutPoint, "the first UTXO first")
	c1, c2 := e.txFee(t, first), e.txFee(t, second, first)
	w1, w2 := TxWeight(first), TxWeight(second)
	require.GreaterOrEqual(t, c2-c1, (IncrementalRelayFeeratePerKw*w2+999)/1000, "BIP 125 rule 4")
	require.Greater(t, c2*w1, c1*w2, "the child's own feerate rises")
	fc := e.ch.commit.FeeSat
	require.Greater(t, (fc+c2)*(wc+w1), (fc+c1)*(wc+w2), "the package feerate rises")
	requireFeerate(t, fc+c2, wc+w2, 9000, "replacement package")
	require.Empty(t, e.chain.Rejected(), "accepted as a replacement")
	require.True(t, e.chain.InMempool(second.TxHash()))
}

// TestChannelCloseReplacementSmallBump: a target only 1 sat/kw higher still yields a replacement the
// chain accepts: the handler raises the fee to the earlier fee plus the incremental relay fee.
func TestChannelCloseReplacementSmallBump(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	wc := TxWeight(e.ch.tx)
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 2000, 0)))
	first := childOf(t, e, e.rec.last(t))
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 2001, 0)))
	second := childOf(t, e, e.rec.last(t))
	fee1 := e.ch.commit.FeeSat + e.txFee(t, first)
	fee2 := e.ch.commit.FeeSat + e.txFee(t, second, first)
	require.GreaterOrEqual(t, fee2-fee1, (IncrementalRelayFeeratePerKw*TxWeight(second)+999)/1000)
	require.Greater(t, fee2*(wc+TxWeight(first)), fee1*(wc+TxWeight(second)))
	require.Empty(t, e.chain.Rejected(), "the chain takes the replacement")
	require.True(t, e.chain.InMempool(second.TxHash()))
}

// TestChannelCloseRepeatSameTarget: a repeat with the same target and an unchanged wallet rebuilds the
// very same child, which the chain takes as a re-broadcast; a lower target does too (a replacement could
// not pay less).
func TestChannelCloseRepeatSameTarget(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 5000, 0)))
	first := childOf(t, e, e.rec.last(t))
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 5000, 0)))
	require.Equal(t, first.TxHash(), childOf(t, e, e.rec.last(t)).TxHash())
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 3000, 0)))
	require.Equal(t, first.TxHash(), childOf(t, e, e.rec.last(t)).TxHash())
	require.Empty(t, e.chain.Rejected())
}

// TestChannelCloseCommitmentAlone: when the commitment's own fee over its weight meets the target, only
// the commitment is broadcast and the wallet is not touched.
func TestChannelCloseCommitmentAlone(t *testing.T) {
	e := newEnv(t, 2500, walletUTXOSat)
	own := feerateOf(e.ch.commit.FeeSat, TxWeight(e.ch.tx))
	require.GreaterOrEqual(t, own, uint32(2500), "BOLT 3's expected weight is above the real one")

	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, own, 0)))
	calls := e.rec.all()
	require.Len(t, calls, 1)
	require.Len(t, calls[0], 1)
	require.Equal(t, e.ch.tx.TxHash(), calls[0][0].TxHash())
	require.True(t, e.chain.InMempool(e.ch.tx.TxHash()))
	require.Empty(t, e.coins.LockedUTXOs(events.ClaimID{1}))

	// One sat/kw more and a child is needed.
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, own+1, 0)))
	childOf(t, e, e.rec.last(t))
}

// TestChannelCloseFeeCap: with MaxFeeSat below what the target needs, the handler pays exactly up to the
// cap, at a feerate below the target but above the commitment's; with a cap that leaves no useful
// feerate it broadcasts nothing and returns ErrFeeCapExceeded.
func TestChannelCloseFeeCap(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	wc := TxWeight(e.ch.tx)
	const target, maxFee = 20_000, 20_000 // the target needs about 47,000 sat
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, target, maxFee)))
	child := childOf(t, e, e.rec.last(t))
	require.Empty(t, e.chain.Rejected())
	pkgFee := e.ch.commit.FeeSat + e.txFee(t, child)
	require.LessOrEqual(t, pkgFee, int64(maxFee))
	require.Greater(t, pkgFee, int64(maxFee)-10, "the cap is used up to rounding")
	rate := feerateOf(pkgFee, wc+TxWeight(child))
	require.Less(t, rate, uint32(target))
	require.Greater(t, rate, feerateOf(e.ch.commit.FeeSat, wc))

	// A cap at the commitment's own fee leaves nothing for a child.
	e2 := newEnv(t, 253, walletUTXOSat)
	err := e2.handler.HandleEvent(e2.ch.closeEvent(1, target, e2.ch.commit.FeeSat))
	require.ErrorIs(t, err, ErrFeeCapExceeded)
	require.Empty(t, e2.rec.all())
	require.Empty(t, e2.chain.Mempool())
}

// TestInsufficientFunds: with an empty wallet both events fail with ErrInsufficientFunds and nothing
// is broadcast; so does a wallet whose only UTXO is locked to another claim.
func TestInsufficientFunds(t *testing.T) {
	e := newEnv(t, 253)
	err := e.handler.HandleEvent(e.ch.closeEvent(1, 5000, 0))
	require.ErrorIs(t, err, ErrInsufficientFunds)
	require.Empty(t, e.rec.all())
	require.Empty(t, e.chain.Mempool())

	e.ch.confirmCommitment(t)
	err = e.handler.HandleEvent(htlcEvent(3, 5000, 0, e.ch.success...))
	require.ErrorIs(t, err, ErrInsufficientFunds)
	require.Empty(t, e.rec.all())

	// One UTXO, taken by claim 3: claim 4 finds nothing.
	e.wallet.fund(walletUTXOSat)
	require.NoError(t, e.handler.HandleEvent(htlcEvent(3, 5000, 0, e.ch.success...)))
	err = e.handler.HandleEvent(htlcEvent(4, 5000, 0, e.ch.success...))
	require.ErrorIs(t, err, ErrInsufficientFunds)
	require.Len(t, e.rec.all(), 1)
}

func htlcEvent(claim byte, targetPerKw uint32, lockTime uint32, ds ...events.HTLCDescriptor) events.BumpHTLCResolution {
	return events.BumpHTLCResolution{
		ClaimID:            events.ClaimID{claim},
		TargetFeeratePerKw: targetPerKw,
		HTLCDescriptors:    ds,
		TxLockTime:         lockTime,
	}
}

// checkHTLCTx checks an aggregated HTLC transaction: HTLC inputs first with their sequences, each paired
// with its second-stage output at the same index, wallet inputs and change after, and the feerate.
func checkHTLCTx(t *testing.T, e *env, tx *wire.MsgTx, ds []events.HTLCDescriptor, lockTime, target uint32) {
	t.Helper()
	require.EqualValues(t, 2, tx.Version)
	require.Equal(t, lockTime, tx.LockTime)
	require.Greater(t, len(tx.TxIn), len(ds), "wallet inputs pay the fee")
	require.Len(t, tx.TxOut, len(ds)+1, "second-stage outputs then change")
	for i, d := range ds {
		require.Equal(t, wire.OutPoint{Hash: d.CommitmentTxid, Index: d.OutputIndex}, tx.TxIn[i].PreviousOutPoint)
		require.Equal(t, d.Sequence, tx.TxIn[i].Sequence)
		require.Equal(t, d.SecondStageOutput.Value, tx.TxOut[i].Value)
		require.True(t, bytes.Equal(d.SecondStageOutput.PkScript, tx.TxOut[i].PkScript))
	}
	require.Equal(t, e.wallet.w.PkScript(), tx.TxOut[len(ds)].PkScript)
	requireFeerate(t, e.txFee(t, tx), TxWeight(tx), target, "HTLC transaction")
}

// TestHTLCResolutionTimeout: two HTLCs we offered, same expiry, claimed by one HTLC-timeout transaction
// once the chain is past the expiry: accepted (scripts verified, the counterparty's
// SIGHASH_SINGLE|ANYONECANPAY signatures still valid with the added inputs and outputs) and mined.
func TestHTLCResolutionTimeout(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	e.ch.confirmCommitment(t)
	for e.chain.Height() < htlcExpiry {
		e.chain.MineBlocks(1)
	}
	const target = 5000
	require.NoError(t, e.handler.HandleEvent(htlcEvent(7, target, htlcExpiry, e.ch.offered...)))
	require.Empty(t, e.chain.Rejected())
	txs := e.rec.last(t)
	require.Len(t, txs, 1)
	checkHTLCTx(t, e, txs[0], e.ch.offered, htlcExpiry, target)
	require.True(t, e.chain.InMempool(txs[0].TxHash()))
	e.chain.MineBlocks(1)
	require.EqualValues(t, 1, e.chain.Confirmations(txs[0].TxHash()))
}

// TestHTLCResolutionSuccess: the HTLC offered to us, claimed with its preimage (lock time 0).
func TestHTLCResolutionSuccess(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	e.ch.confirmCommitment(t)
	const target = 5000
	require.NoError(t, e.handler.HandleEvent(htlcEvent(8, target, 0, e.ch.success...)))
	require.Empty(t, e.chain.Rejected())
	txs := e.rec.last(t)
	require.Len(t, txs, 1)
	checkHTLCTx(t, e, txs[0], e.ch.success, 0, target)
	e.chain.MineBlocks(1)
	require.EqualValues(t, 1, e.chain.Confirmations(txs[0].TxHash()))
}

// TestHTLCResolutionReplacement: a repeat at a higher target replaces the HTLC transaction: same HTLC
// inputs and wallet UTXO, more fee, higher feerate; the chain takes it in place of the first.
func TestHTLCResolutionReplacement(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	e.ch.confirmCommitment(t)
	require.NoError(t, e.handler.HandleEvent(htlcEvent(8, 3000, 0, e.ch.success...)))
	first := e.rec.last(t)[0]
	require.NoError(t, e.handler.HandleEvent(htlcEvent(8, 6000, 0, e.ch.success...)))
	second := e.rec.last(t)[0]
	require.Equal(t, first.TxIn[1].PreviousOutPoint, second.TxIn[1].PreviousOutPoint)
	f1, f2 := e.txFee(t, first), e.txFee(t, second, first)
	require.GreaterOrEqual(t, f2-f1, (IncrementalRelayFeeratePerKw*TxWeight(second)+999)/1000)
	require.Greater(t, f2*TxWeight(first), f1*TxWeight(second))
	require.Empty(t, e.chain.Rejected(), "accepted as a replacement")
	require.False(t, e.chain.InMempool(first.TxHash()))
	e.chain.MineBlocks(1)
	require.EqualValues(t, 1, e.chain.Confirmations(second.TxHash()))
}

// TestHTLCResolutionFeeCap: the HTLC transaction's fee stops at MaxFeeSat; a cap below the relay floor
// is refused.
func TestHTLCResolutionFeeCap(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	e.ch.confirmCommitment(t)
	require.NoError(t, e.handler.HandleEvent(htlcEvent(8, 50_000, 0, e.ch.success...)))
	uncapped := e.txFee(t, e.rec.last(t)[0])

	e2 := newEnv(t, 253, walletUTXOSat)
	e2.ch.confirmCommitment(t)
	ev := htlcEvent(8, 50_000, 0, e2.ch.success...)
	ev.MaxFeeSat = uncapped / 2
	require.NoError(t, e2.handler.HandleEvent(ev))
	tx := e2.rec.last(t)[0]
	fee := e2.txFee(t, tx)
	require.LessOrEqual(t, fee, ev.MaxFeeSat)
	require.Greater(t, fee, ev.MaxFeeSat-10, "the cap is used up to rounding")
	require.Less(t, feerateOf(fee, TxWeight(tx)), uint32(50_000))
	require.Empty(t, e2.chain.Rejected())

	ev.ClaimID = events.ClaimID{9}
	ev.MaxFeeSat = 10 // below 253 sat/kw on any weight
	require.ErrorIs(t, e2.handler.HandleEvent(ev), ErrFeeCapExceeded)
}

// TestDeterministic: the same event over the same wallet state gives the same transaction, byte for
// byte (fresh handlers and wallets, identical chains).
func TestDeterministic(t *testing.T) {
	var raw [][]byte
	for i := 0; i < 2; i++ {
		e := newEnv(t, 253, walletUTXOSat, 40_000, 70_000)
		require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, 8000, 0)))
		var buf bytes.Buffer
		require.NoError(t, childOf(t, e, e.rec.last(t)).Serialize(&buf))
		raw = append(raw, buf.Bytes())
	}
	require.Equal(t, raw[0], raw[1])
}

// TestSigningFailures: a wallet that fails to sign, or changes the transaction, makes HandleEvent fail
// with ErrSigning and broadcast nothing.
func TestSigningFailures(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	e.wallet.signErr = errors.New("locked wallet")
	require.ErrorIs(t, e.handler.HandleEvent(e.ch.closeEvent(1, 5000, 0)), ErrSigning)
	e.wallet.signErr = nil
	e.wallet.tamperTx = true
	require.ErrorIs(t, e.handler.HandleEvent(e.ch.closeEvent(1, 5000, 0)), ErrSigning)
	e.wallet.listErr = errors.New("wallet offline")
	require.ErrorContains(t, e.handler.HandleEvent(e.ch.closeEvent(1, 5000, 0)), "wallet offline")
	require.Empty(t, e.rec.all())
}

// TestInvalidEvents: malformed events are refused with ErrInvalidRequest, never a panic, and nothing
// is broadcast.
func TestInvalidEvents(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	closeCases := map[string]func(ev *events.BumpChannelClose){
		"nil commitment":   func(ev *events.BumpChannelClose) { ev.CommitmentTx = nil },
		"unsigned":         func(ev *events.BumpChannelClose) { ev.CommitmentTx.TxIn[0].Witness = nil },
		"negative fee":     func(ev *events.BumpChannelClose) { ev.CommitmentTxFeeSat = -1 },
		"anchor elsewhere": func(ev *events.BumpChannelClose) { ev.Anchor.OutPoint.Hash[0] ^= 1 },
		"anchor index":     func(ev *events.BumpChannelClose) { ev.Anchor.OutPoint.Index = 99 },
		"not the anchor":   func(ev *events.BumpChannelClose) { ev.Anchor.OutPoint.Index = e.ch.offered[0].OutputIndex },
		"no script":        func(ev *events.BumpChannelClose) { ev.Anchor.WitnessScript = nil },
		"nil output":       func(ev *events.BumpChannelClose) { ev.CommitmentTx.TxOut[0] = nil },
	}
	for name, mutate := range closeCases {
		ev := e.ch.closeEvent(1, 5000, 0)
		mutate(&ev)
		require.ErrorIs(t, e.handler.HandleEvent(ev), ErrInvalidRequest, name)
	}
	htlcCases := map[string]func(ev *events.BumpHTLCResolution){
		"none":          func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors = nil },
		"twice":         func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors[1] = ev.HTLCDescriptors[0] },
		"no point":      func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors[0].PerCommitmentPoint = nil },
		"no signature":  func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors[0].CounterpartySig = nil },
		"no script":     func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors[0].WitnessScript = nil },
		"early":         func(ev *events.BumpHTLCResolution) { ev.TxLockTime = htlcExpiry - 1 },
		"late":          func(ev *events.BumpHTLCResolution) { ev.TxLockTime = htlcExpiry + 1 },
		"mixed":         func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors[1] = e.ch.success[0] },
		"no preimage":   func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors[0].Offered = false },
		"zero value":    func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors[0].ValueSat = 0 },
		"no out script": func(ev *events.BumpHTLCResolution) { ev.HTLCDescriptors[0].SecondStageOutput.PkScript = nil },
	}
	for name, mutate := range htlcCases {
		ds := append([]events.HTLCDescriptor(nil), e.ch.offered...)
		ev := htlcEvent(2, 5000, htlcExpiry, ds...)
		mutate(&ev)
		require.ErrorIs(t, e.handler.HandleEvent(ev), ErrInvalidRequest, name)
	}
	require.ErrorIs(t, e.handler.HandleEvent(nil), ErrInvalidRequest)
	require.ErrorIs(t, e.handler.HandleEvent((*events.BumpChannelClose)(nil)), ErrInvalidRequest)
	require.ErrorIs(t, e.handler.HandleEvent((*events.BumpHTLCResolution)(nil)), ErrInvalidRequest)
	require.Empty(t, e.rec.all())

	_, err := NewBumpTransactionEventHandler(nil, e.coins, e.ch.us, nil)
	require.ErrorIs(t, err, ErrNilArgument)
	_, err = NewBumpTransactionEventHandler(e.rec, nil, e.ch.us, nil)
	require.ErrorIs(t, err, ErrNilArgument)
	_, err = NewBumpTransactionEventHandler(e.rec, e.coins, nil, nil)
	require.ErrorIs(t, err, ErrNilArgument)
	_, err = NewWallet(nil, nil)
	require.ErrorIs(t, err, ErrNilArgument)
}

// TestPointerEvents: events passed by pointer are handled like values.
func TestPointerEvents(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	ev := e.ch.closeEvent(1, 5000, 0)
	require.NoError(t, e.handler.HandleEvent(&ev))
	childOf(t, e, e.rec.last(t))
}

// TestFeeMarketCPFP: on a chain that mines only at 5,000 sat/kw, our commitment at 253 sat/kw sits in
// the mempool unmined; the handler's child brings the package to the target and the next block mines
// both. With a minimum relay feerate above the commitment's, the commitment alone is refused and the
// [commitment, child] package is accepted (1p1c package relay) and mined.
func TestFeeMarketCPFP(t *testing.T) {
	const target = 5000
	e := newEnv(t, 253, walletUTXOSat)
	e.chain.SetMiningFeeratePerKw(target)
	require.NoError(t, e.chain.SubmitTransaction(e.ch.tx))
	e.chain.MineBlocks(1)
	require.True(t, e.chain.InMempool(e.ch.tx.TxHash()), "253 sat/kw is not mined at 5,000")
	require.Zero(t, e.chain.Confirmations(e.ch.tx.TxHash()))

	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, target, 0)))
	require.Empty(t, e.chain.Rejected())
	child := childOf(t, e, e.rec.last(t))
	fee, weight, ok := e.chain.MempoolAncestorPackage(child.TxHash())
	require.True(t, ok)
	requireFeerate(t, fee, weight, target, "ancestor package as the chain sees it")
	e.chain.MineBlocks(1)
	require.EqualValues(t, 1, e.chain.Confirmations(e.ch.tx.TxHash()))
	require.EqualValues(t, 1, e.chain.Confirmations(child.TxHash()))

	// Minimum relay feerate above the commitment's: only the package gets in.
	e2 := newEnv(t, 253, walletUTXOSat)
	e2.chain.SetMinRelayFeeratePerKw(1000)
	e2.chain.SetMiningFeeratePerKw(target)
	require.ErrorIs(t, e2.chain.SubmitTransaction(e2.ch.tx), testchain.ErrFeeTooLow)
	require.NoError(t, e2.handler.HandleEvent(e2.ch.closeEvent(1, target, 0)))
	require.Empty(t, e2.chain.Rejected())
	child = childOf(t, e2, e2.rec.last(t))
	e2.chain.MineBlocks(1)
	require.EqualValues(t, 1, e2.chain.Confirmations(e2.ch.tx.TxHash()))
	require.EqualValues(t, 1, e2.chain.Confirmations(child.TxHash()))

	// A target below the mining feerate leaves the package unmined: the fee is what was asked, no more.
	e3 := newEnv(t, 253, walletUTXOSat)
	e3.chain.SetMiningFeeratePerKw(target)
	require.NoError(t, e3.handler.HandleEvent(e3.ch.closeEvent(1, target-100, 0)))
	require.Empty(t, e3.chain.Rejected())
	e3.chain.MineBlocks(1)
	require.Zero(t, e3.chain.Confirmations(e3.ch.tx.TxHash()))
	// The repeat at the mining feerate replaces the child and gets both mined.
	require.NoError(t, e3.handler.HandleEvent(e3.ch.closeEvent(1, target, 0)))
	require.Empty(t, e3.chain.Rejected())
	e3.chain.MineBlocks(1)
	require.EqualValues(t, 1, e3.chain.Confirmations(e3.ch.tx.TxHash()))
}

// TestHTLCResolutionAfterPartialSpend: when a confirmed transaction spends one HTLC of a claim whose
// transaction is in the mempool, that transaction is evicted and the monitor repeats the claim with the
// HTLCs left. The repeat is not held to the replacement rules against the dead transaction (whose fee
// would exceed the smaller cap): it is built as new, within the cap, and accepted.
func TestHTLCResolutionAfterPartialSpend(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat, walletUTXOSat)
	e.ch.confirmCommitment(t)
	for e.chain.Height() < htlcExpiry {
		e.chain.MineBlocks(1)
	}
	require.NoError(t, e.handler.HandleEvent(htlcEvent(5, 20_000, htlcExpiry, e.ch.offered...)))
	first := e.rec.last(t)[0]
	firstFee := e.txFee(t, first)
	require.True(t, e.chain.InMempool(first.TxHash()))

	// Another transaction, made elsewhere, claims the first HTLC and confirms.
	other, err := NewWallet(e.wallet, nil)
	require.NoError(t, err)
	rec := &recorder{}
	h2, err := NewBumpTransactionEventHandler(rec, other, e.ch.us, nil)
	require.NoError(t, err)
	require.NoError(t, h2.HandleEvent(htlcEvent(6, 5000, htlcExpiry, e.ch.offered[0])))
	_, err = e.chain.MineBlockWith(rec.last(t)[0])
	require.NoError(t, err)
	require.False(t, e.chain.InMempool(first.TxHash()), "evicted by the confirmed spend")

	// The claim goes on with the second HTLC, under a cap below the first transaction's fee.
	ev := htlcEvent(5, 20_000, htlcExpiry, e.ch.offered[1])
	ev.MaxFeeSat = firstFee * 2 / 3
	require.NoError(t, e.handler.HandleEvent(ev))
	tx := e.rec.last(t)[0]
	require.Len(t, tx.TxOut, 2)
	require.LessOrEqual(t, e.txFee(t, tx), ev.MaxFeeSat)
	require.Empty(t, e.chain.Rejected())
	e.chain.MineBlocks(1)
	require.EqualValues(t, 1, e.chain.Confirmations(tx.TxHash()))
}
