package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
)

// feeSat returns ceil(weight × feeratePerKw / 1000), in satoshis.
func feeSat(weight int64, feeratePerKw uint32) int64 {
	return (weight*int64(feeratePerKw) + 999) / 1000
}

// txWeight returns the weight of tx (BIP 141), in weight units.
func txWeight(tx *wire.MsgTx) int64 {
	return blockchain.GetTransactionWeight(btcutil.NewTx(tx))
}

type candidate struct {
	op wire.OutPoint
	c  *coin
}

// FundTransaction builds and signs a version-2 transaction paying outputs from the wallet's confirmed,
// mature, unlocked coins, at feeratePerKw satoshis per 1000 weight units (raised to
// chaininterface.FeeratePerKwFloor if lower).
//
// The transaction's outputs are copies of outputs in the given order, so output i of the result is
// outputs[i] (a funding output's index is its index in outputs), followed by one change output to a fresh
// change address when the change is at least DustLimitSat; smaller change goes to the fee. Coins are chosen
// largest first. The fee is computed on the weight of the transaction as signed, with each P2WPKH
// signature counted at its maximum length (72 bytes), so it pays at least feeratePerKw on the real weight
// and at most 1 weight unit per input more. Inputs signal replaceability (nSequence 0xfffffffd); nLockTime
// is the wallet's best height (BIP anti fee sniping). Signatures are BIP 143, SIGHASH_ALL.
//
// The chosen coins are locked: no later FundTransaction uses them until UnlockInputs releases them (if
// the transaction is never broadcast), or until the transaction is recorded by AddOwnTransaction or seen in
// a block. The caller broadcasts the transaction (and should pass it to AddOwnTransaction).
//
// Errors: ErrInvalidOutputs (no outputs, a nil output, a negative or too large value),
// ErrInsufficientFunds (errors.Is; the message says how much is missing), ErrClosed, or a save error.
func (w *Wallet) FundTransaction(outputs []*wire.TxOut, feeratePerKw uint32) (*wire.MsgTx, error) {
	tx, target, err := newFundingTx(outputs)
	if err != nil {
		return nil, err
	}
	feeratePerKw = max(feeratePerKw, chaininterface.FeeratePerKwFloor)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	tx.LockTime = w.best.Height
	sel, err := w.selectCoins(tx, target, feeratePerKw)
	if err != nil {
		return nil, err
	}
	if sel.changeSat > 0 {
		script, err := w.issue(ChangeChain)
		if err != nil {
			return nil, err
		}
		tx.AddTxOut(&wire.TxOut{Value: sel.changeSat, PkScript: script})
	}
	if err := w.signFunding(tx, sel.chosen); err != nil {
		return nil, err
	}
	for _, cd := range sel.chosen {
		w.locked[cd.op] = struct{}{}
	}
	if err := w.save(); err != nil {
		for _, cd := range sel.chosen {
			delete(w.locked, cd.op)
		}
		return nil, err
	}
	return tx, nil
}

// SpendableAfter returns, in satoshis, the confirmed spendable balance (mature, unlocked coins) that
// would be left, change included, after FundTransaction(outputs, feeratePerKw): what a channel
// opening would leave for fee bumping. It locks and signs nothing. Errors: as FundTransaction.
func (w *Wallet) SpendableAfter(outputs []*wire.TxOut, feeratePerKw uint32) (int64, error) {
	tx, target, err := newFundingTx(outputs)
	if err != nil {
		return 0, err
	}
	feeratePerKw = max(feeratePerKw, chaininterface.FeeratePerKwFloor)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	sel, err := w.selectCoins(tx, target, feeratePerKw)
	if err != nil {
		return 0, err
	}
	return sel.availableSat - sel.inSat + sel.changeSat, nil
}

// newFundingTx checks outputs and returns a version-2 transaction paying copies of them, and their sum.
func newFundingTx(outputs []*wire.TxOut) (*wire.MsgTx, int64, error) {
	if len(outputs) == 0 {
		return nil, 0, fmt.Errorf("%w: no outputs", ErrInvalidOutputs)
	}
	tx := wire.NewMsgTx(2)
	var target int64
	for i, out := range outputs {
		if out == nil || out.Value < 0 || out.Value > btcutil.MaxSatoshi {
			return nil, 0, fmt.Errorf("%w: output %d", ErrInvalidOutputs, i)
		}
		target += out.Value
		if target > btcutil.MaxSatoshi {
			return nil, 0, fmt.Errorf("%w: outputs add up to more than 21e6 BTC", ErrInvalidOutputs)
		}
		tx.AddTxOut(&wire.TxOut{Value: out.Value, PkScript: append([]byte(nil), out.PkScript...)})
	}
	return tx, target, nil
}

// selection is what selectCoins chose.
type selection struct {
	chosen       []candidate
	inSat        int64 // value of chosen
	changeSat    int64 // 0: no change output
	availableSat int64 // value of every candidate coin
}

// spendableCoins returns the confirmed, mature, unspent, unlocked coins, largest first, then by
// outpoint. The caller holds w.mu.
func (w *Wallet) spendableCoins() []candidate {
	var cands []candidate
	for op, c := range w.coins {
		if _, spent := w.spends[op]; spent {
			continue
		}
		if _, locked := w.locked[op]; locked || !w.mature(c) {
			continue
		}
		cands = append(cands, candidate{op, c})
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].c.ValueSat != cands[j].c.ValueSat {
			return cands[i].c.ValueSat > cands[j].c.ValueSat
		}
		return lessOutPoint(cands[i].op, cands[j].op)
	})
	return cands
}

// selectCoins adds inputs (with placeholder witnesses of the largest size) to tx, which pays target
// sat, until they pay the outputs and the fee at feeratePerKw, with change if it would be at least
// DustLimitSat. The caller holds w.mu. Errors: ErrInsufficientFunds.
func (w *Wallet) selectCoins(tx *wire.MsgTx, target int64, feeratePerKw uint32) (*selection, error) {
	cands := w.spendableCoins()
	sel := &selection{changeSat: -1}
	for _, cd := range cands {
		sel.availableSat += cd.c.ValueSat
	}
	// The change script's length is all that matters while sizing: every P2WPKH script is 22 bytes.
	change := &wire.TxOut{PkScript: make([]byte, 22)}
	for _, cd := range cands {
		sel.chosen = append(sel.chosen, cd)
		sel.inSat += cd.c.ValueSat
		tx.AddTxIn(&wire.TxIn{
			PreviousOutPoint: cd.op,
			Sequence:         wire.MaxTxInSequenceNum - 2,
			Witness:          wire.TxWitness{make([]byte, p2wpkhSigMaxLen), make([]byte, 33)},
		})
		feeNoChange := feeSat(txWeight(tx), feeratePerKw)
		tx.AddTxOut(change)
		feeWithChange := feeSat(txWeight(tx), feeratePerKw)
		tx.TxOut = tx.TxOut[:len(tx.TxOut)-1]
		if rest := sel.inSat - target - feeWithChange; rest >= DustLimitSat {
			sel.changeSat = rest
			return sel, nil
		}
		if sel.inSat-target-feeNoChange >= 0 {
			sel.changeSat = 0
			return sel, nil
		}
	}
	return nil, fmt.Errorf("%w: need %d sat plus the fee at %d sat/kw, %d sat spendable", ErrInsufficientFunds,
		target, feeratePerKw, sel.availableSat)
}

// signFunding signs every input of tx, which spends chosen in order (BIP 143, SIGHASH_ALL). The caller
// holds w.mu.
func (w *Wallet) signFunding(tx *wire.MsgTx, chosen []candidate) error {
	prevOuts := make([]*wire.TxOut, len(chosen))
	paths := make([]*KeyPath, len(chosen))
	for i, cd := range chosen {
		prevOuts[i] = &wire.TxOut{Value: cd.c.ValueSat, PkScript: cd.c.PkScript}
		p := cd.c.Path
		paths[i] = &p
	}
	wits, err := w.signer.SignInputs(tx, prevOuts, paths, w.net)
	if err != nil {
		return fmt.Errorf("wallet: signing: %w", err)
	}
	for i := range chosen {
		if wits[i] == nil {
			return fmt.Errorf("wallet: the signer left input %d unsigned", i)
		}
		tx.TxIn[i].Witness = wits[i]
	}
	return nil
}

// UnlockInputs releases the coins that FundTransaction locked for tx, for a transaction that will not be
// broadcast after all (for example on events.DiscardFunding). Inputs that are not locked are ignored.
// Errors: a save error.
func (w *Wallet) UnlockInputs(tx *wire.MsgTx) error {
	if tx == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := false
	for _, in := range tx.TxIn {
		if _, ok := w.locked[in.PreviousOutPoint]; ok {
			delete(w.locked, in.PreviousOutPoint)
			changed = true
		}
	}
	if !changed || w.closed {
		return nil
	}
	return w.save()
}

// AddOwnTransaction records a transaction the node broadcasts (or is about to): the coins it spends are
// marked spent at once and its outputs paying the wallet become unconfirmed coins; it is kept for
// rebroadcast (UnconfirmedTransactions) until a block confirms it. A transaction that neither spends nor
// pays the wallet is ignored (nil), so a node may pass everything it broadcasts. An unconfirmed transaction
// already recorded that spends one of the same inputs is replaced (dropped with its descendants).
//
// Errors: ErrConflict if an input is already spent by a confirmed transaction (nothing is recorded),
// ErrClosed, or a save error.
func (w *Wallet) AddOwnTransaction(tx *wire.MsgTx) error {
	if tx == nil {
		return nil
	}
	return w.AddOwnTransactions(tx)
}

// AddOwnTransactions is AddOwnTransaction for transactions broadcast together, parents before
// children, with one more rule: a transaction that neither spends nor pays the wallet is recorded too
// when a later transaction of the batch that is recorded spends one of its outputs (the commitment
// under a CPFP child). So when a conflicting transaction confirms instead of that parent (the
// counterparty's commitment), the wallet drops the parent and the child with it, and the child's coins
// are spendable again. It returns the first error met; the other transactions are still recorded.
func (w *Wallet) AddOwnTransactions(txs ...*wire.MsgTx) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	parents := w.parentsToRecord(txs)
	var first error
	changed := false
	for _, tx := range txs {
		if tx == nil {
			continue
		}
		c, err := w.addOwnLocked(tx, parents[tx.TxHash()])
		changed = changed || c
		if err != nil && first == nil {
			first = err
		}
	}
	if changed {
		if err := w.save(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// parentsToRecord returns the transactions of txs that a later transaction of txs, itself to be
// recorded, spends. The caller holds w.mu.
func (w *Wallet) parentsToRecord(txs []*wire.MsgTx) map[chainhash.Hash]bool {
	parents := make(map[chainhash.Hash]bool)
	for i := len(txs) - 1; i >= 0; i-- {
		tx := txs[i]
		if tx == nil || (!parents[tx.TxHash()] && !w.touches(tx)) {
			continue
		}
		for _, in := range tx.TxIn {
			parents[in.PreviousOutPoint.Hash] = true
		}
	}
	return parents
}

// touches reports whether tx is recorded, spends one of our coins or pays one of our scripts. The
// caller holds w.mu.
func (w *Wallet) touches(tx *wire.MsgTx) bool {
	if _, ok := w.txs[tx.TxHash()]; ok {
		return true
	}
	for _, in := range tx.TxIn {
		if _, ok := w.coins[in.PreviousOutPoint]; ok {
			return true
		}
	}
	for _, out := range tx.TxOut {
		if _, ok := w.scripts[string(out.PkScript)]; ok {
			return true
		}
	}
	return false
}

// addOwnLocked is AddOwnTransaction without saving (force: record tx even if it does not touch the
// wallet); it reports whether anything changed.
func (w *Wallet) addOwnLocked(tx *wire.MsgTx, force bool) (bool, error) {
	txid := tx.TxHash()
	if r, ok := w.txs[txid]; ok {
		claim := w.takeClaimMark(txid)
		if r.Own && (r.Claim || !claim) {
			return false, nil
		}
		r.Own, r.Claim = true, r.Claim || claim
		return true, nil
	}
	if blockchain.IsCoinBaseTx(tx) || !(force || w.touches(tx)) {
		return false, nil
	}
	var replaced []chainhash.Hash
	for _, in := range tx.TxIn {
		if other, ok := w.spends[in.PreviousOutPoint]; ok {
			if r := w.txs[other]; r != nil && r.Height > 0 {
				return false, fmt.Errorf("%w: input %s spent by %s at height %d", ErrConflict,
					in.PreviousOutPoint, other, r.Height)
			}
			replaced = append(replaced, other)
		}
	}
	for _, id := range replaced {
		w.dropTx(id)
	}
	w.addTx(&txRecord{Tx: tx.Copy(), Own: true, Claim: w.takeClaimMark(txid)})
	for j, out := range tx.TxOut {
		p, ok := w.scripts[string(out.PkScript)]
		if !ok {
			continue
		}
		w.coins[wire.OutPoint{Hash: txid, Index: uint32(j)}] = &coin{ValueSat: out.Value,
			PkScript: append([]byte(nil), out.PkScript...), Path: p}
		w.markUsed(p)
	}
	for _, in := range tx.TxIn {
		delete(w.locked, in.PreviousOutPoint)
	}
	w.dirty = true
	return true, nil
}

// takeClaimMark reports whether the BumpSource signed txid, and forgets it. The caller holds w.mu.
func (w *Wallet) takeClaimMark(txid chainhash.Hash) bool {
	_, ok := w.claimTxids[txid]
	delete(w.claimTxids, txid)
	return ok
}

// SweepSpendableOutputs builds, through km.SpendSpendableOutputs, a transaction spending the outputs of
// events.SpendableOutputs descriptors (StaticOutput kinds paying the KeysManager's destination or shutdown
// script) to a fresh change address of the wallet, at feeratePerKw sat per 1000 weight units (raised to
// chaininterface.FeeratePerKwFloor if lower), and records it as the wallet's own transaction (see
// AddOwnTransaction). The caller broadcasts it. Descriptors whose outpoint a recorded transaction already
// spends (an earlier sweep) are skipped.
//
// Errors: ErrNothingToSweep (every descriptor already swept, or the sweep would leave less than the dust
// limit), keys.ErrCannotSpend (wrapped) for descriptors the KeysManager cannot sign or amounts below the
// fee, ErrClosed, or a save error.
func (w *Wallet) SweepSpendableOutputs(descs []events.SpendableOutputDescriptor, feeratePerKw uint32,
	km OutputSpender) (*wire.MsgTx, error) {
	if km == nil {
		return nil, errors.New("wallet: nil OutputSpender")
	}
	if feeratePerKw < chaininterface.FeeratePerKwFloor {
		feeratePerKw = chaininterface.FeeratePerKwFloor
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	var todo []events.SpendableOutputDescriptor
	seen := make(map[wire.OutPoint]bool)
	for _, d := range descs {
		if _, ok := w.spends[d.OutPoint]; ok || seen[d.OutPoint] {
			continue
		}
		seen[d.OutPoint] = true
		todo = append(todo, d)
	}
	if len(todo) == 0 {
		return nil, fmt.Errorf("%w: all %d outputs already swept", ErrNothingToSweep, len(descs))
	}
	// Peek at the next change script; it is issued only if the sweep succeeds.
	next := w.next[ChangeChain]
	script, err := w.issue(ChangeChain)
	if err != nil {
		return nil, err
	}
	tx, err := km.SpendSpendableOutputs(todo, nil, script, feeratePerKw)
	if err != nil {
		w.next[ChangeChain] = next
		return nil, fmt.Errorf("wallet: sweeping: %w", err)
	}
	pays := false
	for _, out := range tx.TxOut {
		if bytes.Equal(out.PkScript, script) {
			pays = true
		}
	}
	if !pays {
		w.next[ChangeChain] = next
		return nil, fmt.Errorf("%w: %d outputs leave less than the dust limit after the fee", ErrNothingToSweep, len(todo))
	}
	if _, err := w.addOwnLocked(tx, false); err != nil {
		return nil, err
	}
	if err := w.save(); err != nil {
		return nil, err
	}
	return tx, nil
}

// OutputSpender signs the spends of lnkit's SpendableOutputs descriptors: keys.KeysManager, or a
// remote signer's client.
type OutputSpender interface {
	SpendSpendableOutputs(descs []events.SpendableOutputDescriptor, outputs []*wire.TxOut, changeScript []byte,
		feeratePerKw uint32) (*wire.MsgTx, error)
}

// Broadcaster returns a chaininterface.BroadcasterInterface that records every transaction with
// AddOwnTransaction (so the wallet learns at once about the funding transactions and sweeps it signed;
// transactions that do not touch the wallet are ignored) and then hands the whole batch to next. Give it to
// lnkit's ChannelManager and ChainMonitor in place of next.
func (w *Wallet) Broadcaster(next chaininterface.BroadcasterInterface) chaininterface.BroadcasterInterface {
	return &recordingBroadcaster{w: w, next: next}
}

type recordingBroadcaster struct {
	w    *Wallet
	next chaininterface.BroadcasterInterface
}

// BroadcastTransactions records the batch in the wallet (AddOwnTransactions; errors, such as a
// conflict with a confirmed spend, leave that transaction unrecorded) and forwards it.
func (b *recordingBroadcaster) BroadcastTransactions(txs ...*wire.MsgTx) {
	_ = b.w.AddOwnTransactions(txs...)
	if b.next != nil {
		b.next.BroadcastTransactions(txs...)
	}
}
