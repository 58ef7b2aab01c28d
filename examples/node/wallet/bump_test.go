package wallet

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/bumptx"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/node/internal/anchorfix"
	"github.com/lnkit/lnkit/keys"
)

// bumpEnv is an env with lnkit's fee bumping over the wallet's BumpSource: coin selection
// (bumptx.Wallet) and the event handler, broadcasting through the wallet's Broadcaster.
type bumpEnv struct {
	*env
	km    *keys.KeysManager
	coins *bumptx.Wallet
	h     *bumptx.BumpTransactionEventHandler
}

func newBumpEnv(t *testing.T) *bumpEnv {
	e := newEnv(t)
	var s [32]byte
	copy(s[:], testSeed("channels"))
	km := keys.NewKeysManager(s, 1, 0)
	coins, err := bumptx.NewWallet(e.w.BumpSource(), nil)
	require.NoError(t, err)
	h, err := bumptx.NewBumpTransactionEventHandler(e.w.Broadcaster(e.chain), coins, km, nil)
	require.NoError(t, err)
	return &bumpEnv{env: e, km: km, coins: coins, h: h}
}

// listed returns the outpoints the BumpSource lists.
func (e *bumpEnv) listed() []wire.OutPoint {
	e.t.Helper()
	us, err := e.w.BumpSource().ListConfirmedUTXOs()
	require.NoError(e.t, err)
	var ops []wire.OutPoint
	for _, u := range us {
		require.EqualValues(e.t, 109, u.SatisfactionWeight, "P2WPKH")
		ops = append(ops, u.OutPoint)
	}
	return ops
}

// childOf returns the mempool transaction spending the anchor of ev.
func (e *bumpEnv) childOf(ev events.BumpChannelClose) *wire.MsgTx {
	e.t.Helper()
	for _, tx := range e.chain.Mempool() {
		for _, in := range tx.TxIn {
			if in.PreviousOutPoint == ev.Anchor.OutPoint {
				return tx
			}
		}
	}
	e.t.Fatalf("no child of %v in the mempool", ev.CommitmentTx.TxHash())
	return nil
}

func walletInputs(tx *wire.MsgTx) []wire.OutPoint {
	var ops []wire.OutPoint
	for _, in := range tx.TxIn[1:] {
		ops = append(ops, in.PreviousOutPoint)
	}
	return ops
}

// TestBumpSourceListsWhatABumpMaySpend: confirmed coins only; not the coins FundTransaction locked
// nor those its (unconfirmed or confirmed) transactions spend; 109 WU each.
func TestBumpSourceListsWhatABumpMaySpend(t *testing.T) {
	e := newBumpEnv(t)
	require.Empty(t, e.listed())
	a, b, c := e.receive(3e6), e.receive(2e6), e.receive(1e6)
	e.pay(e.newScript(), 5e5) // in the mempool only: the wallet does not know it yet
	require.ElementsMatch(t, []wire.OutPoint{a, b, c}, e.listed())

	locked, err := e.w.FundTransaction([]*wire.TxOut{{Value: 25e5, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.Equal(t, a, locked.TxIn[0].PreviousOutPoint)
	require.ElementsMatch(t, []wire.OutPoint{b, c}, e.listed(), "locked for a funding transaction")

	require.NoError(t, e.chain.SubmitTransaction(locked))
	require.NoError(t, e.w.AddOwnTransaction(locked))
	require.ElementsMatch(t, []wire.OutPoint{b, c}, e.listed(), "spent by an unconfirmed funding transaction: never replaced")
	e.chain.MineBlocks(1)
	change := wire.OutPoint{Hash: locked.TxHash(), Index: 1}
	got := e.listed()
	require.Len(t, got, 4, "b, c, the mempool payment and the funding change, now confirmed")
	require.Contains(t, got, change)
	require.NotContains(t, got, a)
}

// TestBumpSourceCPFP: lnkit's handler funds a CPFP child from the wallet; the coins it spends stay
// listed while the child is unconfirmed, so that the repeat for the same claim replaces the child
// with the same coins; the package confirms at the mining feerate; then the coins are gone.
func TestBumpSourceCPFP(t *testing.T) {
	e := newBumpEnv(t)
	coin := e.receive(5e5)
	e.chain.SetMiningFeeratePerKw(5000)
	ev := anchorfix.Close(t, e.chain, e.km, 1, 300, 2000)
	require.NoError(t, e.h.HandleEvent(ev))
	child := e.childOf(ev)
	require.Equal(t, []wire.OutPoint{coin}, walletInputs(child))
	require.True(t, e.w.IsMine(child.TxOut[0].PkScript), "change to the wallet")
	require.Equal(t, []wire.OutPoint{coin}, e.listed(), "spent only by an unconfirmed claim transaction")
	_, unconf := e.balance()
	require.Equal(t, child.TxOut[0].Value, unconf)

	e.chain.MineBlocks(1)
	require.True(t, e.chain.InMempool(ev.CommitmentTx.TxHash()), "2,000 sat/kw does not reach the mining feerate")

	ev.PackageTargetFeeratePerKw = 6000
	require.NoError(t, e.h.HandleEvent(ev))
	repl := e.childOf(ev)
	require.NotEqual(t, child.TxHash(), repl.TxHash())
	require.Equal(t, []wire.OutPoint{coin}, walletInputs(repl), "the replacement spends the same coin")
	require.Less(t, repl.TxOut[0].Value, child.TxOut[0].Value, "and pays more")
	require.Len(t, e.w.UnconfirmedTransactions(), 2, "the commitment and the replacement child")

	e.chain.MineBlocks(1)
	require.EqualValues(t, 1, e.chain.Confirmations(ev.CommitmentTx.TxHash()))
	require.EqualValues(t, 1, e.chain.Confirmations(repl.TxHash()))
	conf, unconf := e.balance()
	require.Equal(t, repl.TxOut[0].Value, conf)
	require.Zero(t, unconf)
	require.Equal(t, []wire.OutPoint{{Hash: repl.TxHash(), Index: 0}}, e.listed())
	require.Empty(t, e.w.UnconfirmedTransactions())
}

// TestBumpSourceCommitmentConflict: when another commitment confirms in place of ours, the child
// goes with ours and its coin is the wallet's again (the commitment, which does not touch the
// wallet, was recorded as the child's parent).
func TestBumpSourceCommitmentConflict(t *testing.T) {
	e := newBumpEnv(t)
	coin := e.receive(5e5)
	e.chain.SetMiningFeeratePerKw(5000)
	ev := anchorfix.Close(t, e.chain, e.km, 2, 300, 2000)
	require.NoError(t, e.h.HandleEvent(ev))
	e.childOf(ev)
	conf, _ := e.balance()
	require.Zero(t, conf)

	_, err := e.chain.MineBlockWith(anchorfix.Conflict(ev))
	require.NoError(t, err)
	conf, unconf := e.balance()
	require.EqualValues(t, 5e5, conf, "the child's coin is back")
	require.Zero(t, unconf)
	require.Empty(t, e.w.UnconfirmedTransactions())
	require.Equal(t, []wire.OutPoint{coin}, e.listed())
	_, err = e.w.FundTransaction([]*wire.TxOut{{Value: 4e5, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err, "and spendable")
}

// TestBumpSourceSignTx: only the wallet's inputs are signed; a previous output that disagrees with
// the wallet's coin, or a missing one, is refused.
func TestBumpSourceSignTx(t *testing.T) {
	e := newBumpEnv(t)
	mine := e.receive(1e6)
	theirs := e.pay(foreignScript("y"), 1e6)
	e.chain.MineBlocks(1)
	foreign := wire.OutPoint{Hash: theirs.TxHash(), Index: 0}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: foreign})
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: mine})
	tx.AddTxOut(&wire.TxOut{Value: 19e5, PkScript: foreignScript("z")})
	prev := map[wire.OutPoint]*wire.TxOut{foreign: theirs.TxOut[0], mine: {Value: 1e6, PkScript: e.coinScript(mine)}}
	src := e.w.BumpSource()

	signed, err := src.SignTx(tx.Copy(), prev)
	require.NoError(t, err)
	require.Empty(t, signed.TxIn[0].Witness, "not the wallet's")
	require.Len(t, signed.TxIn[1].Witness, 2, "P2WPKH: signature and key")
	require.Equal(t, tx.TxHash(), signed.TxHash())

	_, err = src.SignTx(tx.Copy(), map[wire.OutPoint]*wire.TxOut{mine: prev[mine]})
	require.ErrorContains(t, err, "no previous output for input 0")
	prev[mine] = &wire.TxOut{Value: 2e6, PkScript: prev[mine].PkScript}
	_, err = src.SignTx(tx.Copy(), prev)
	require.ErrorContains(t, err, "is not the wallet's coin")
}

// coinScript returns the script of a wallet coin.
func (e *bumpEnv) coinScript(op wire.OutPoint) []byte {
	e.t.Helper()
	for _, u := range e.w.ListUnspent() {
		if u.OutPoint == op {
			return u.PkScript
		}
	}
	e.t.Fatalf("no coin %v", op)
	return nil
}

// TestBumpSourceClaimMarkPersists: after a restart the coins of an unconfirmed claim transaction are
// still listed.
func TestBumpSourceClaimMarkPersists(t *testing.T) {
	e := newBumpEnv(t)
	coin := e.receive(5e5)
	e.chain.SetMiningFeeratePerKw(5000)
	ev := anchorfix.Close(t, e.chain, e.km, 3, 300, 2000)
	require.NoError(t, e.h.HandleEvent(ev))
	require.NoError(t, e.w.Close())
	w2, err := Open(e.dir, e.seed, &chaincfg.RegressionNetParams, BlockRef{})
	require.NoError(t, err)
	us, err := w2.BumpSource().ListConfirmedUTXOs()
	require.NoError(t, err)
	require.Len(t, us, 1)
	require.Equal(t, coin, us[0].OutPoint)
}

// TestBumpSourceChangeScript: one change script, the wallet's.
func TestBumpSourceChangeScript(t *testing.T) {
	e := newBumpEnv(t)
	src := e.w.BumpSource()
	a, err := src.GetChangeScript()
	require.NoError(t, err)
	b, err := src.GetChangeScript()
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.True(t, e.w.IsMine(a))
}

// TestSpendableAfter: what a funding transaction would leave, fee deducted, without locking.
func TestSpendableAfter(t *testing.T) {
	e := newEnv(t)
	e.receive(3e6)
	e.receive(1e6)
	out := []*wire.TxOut{{Value: 2e6, PkScript: foreignScript("x")}}
	left, err := e.w.SpendableAfter(out, 1000)
	require.NoError(t, err)
	tx, err := e.w.FundTransaction(out, 1000)
	require.NoError(t, err)
	fee := checkFee(t, e, tx, 1000)
	require.Equal(t, int64(4e6-2e6)-fee, left)
	_, err = e.w.SpendableAfter([]*wire.TxOut{{Value: 2e6, PkScript: foreignScript("x")}}, 1000)
	require.ErrorIs(t, err, ErrInsufficientFunds, "the 3e6 coin is locked now")
}

// TestPaidBySpendOf: the wallet outputs of the transaction spending an outpoint.
func TestPaidBySpendOf(t *testing.T) {
	e := newEnv(t)
	funding := e.receive(1e6)
	require.Nil(t, e.w.PaidBySpendOf(funding))
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 4e5, PkScript: e.newScript()}, {Value: 1e5, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.NoError(t, e.w.AddOwnTransaction(tx))
	require.Equal(t, []int64{4e5, tx.TxOut[2].Value}, e.w.PaidBySpendOf(funding))
}
