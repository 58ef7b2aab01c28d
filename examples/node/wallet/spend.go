package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/keys"
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
	if len(outputs) == 0 {
		return nil, fmt.Errorf("%w: no outputs", ErrInvalidOutputs)
	}
	if feeratePerKw < chaininterface.FeeratePerKwFloor {
		feeratePerKw = chaininterface.FeeratePerKwFloor
	}
	tx := wire.NewMsgTx(2)
	var target int64
	for i, out := range outputs {
		if out == nil || out.Value < 0 || out.Value > btcutil.MaxSatoshi {
			return nil, fmt.Errorf("%w: output %d", ErrInvalidOutputs, i)
		}
		target += out.Value
		if target > btcutil.MaxSatoshi {
			return nil, fmt.Errorf("%w: outputs add up to more than 21e6 BTC", ErrInvalidOutputs)
		}
		tx.AddTxOut(&wire.TxOut{Value: out.Value, PkScript: append([]byte(nil), out.PkScript...)})
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	tx.LockTime = w.best.Height

	var cands []candidate
	var available int64
	for op, c := range w.coins {
		if _, spent := w.spends[op]; spent {
			continue
		}
		if _, locked := w.locked[op]; locked || !w.mature(c) {
			continue
		}
		cands = append(cands, candidate{op, c})
		available += c.ValueSat
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].c.ValueSat != cands[j].c.ValueSat {
			return cands[i].c.ValueSat > cands[j].c.ValueSat
		}
		return lessOutPoint(cands[i].op, cands[j].op)
	})

	// The change script's length is all that matters while sizing: every P2WPKH script is 22 bytes.
	change := &wire.TxOut{PkScript: make([]byte, 22)}
	var chosen []candidate
	var inSat, changeSat, feeNoChange int64
	changeSat = -1
	for _, cd := range cands {
		chosen = append(chosen, cd)
		inSat += cd.c.ValueSat
		tx.AddTxIn(&wire.TxIn{
			PreviousOutPoint: cd.op,
			Sequence:         wire.MaxTxInSequenceNum - 2,
			Witness:          wire.TxWitness{make([]byte, p2wpkhSigMaxLen), make([]byte, 33)},
		})
		feeNoChange = feeSat(txWeight(tx), feeratePerKw)
		tx.AddTxOut(change)
		feeWithChange := feeSat(txWeight(tx), feeratePerKw)
		tx.TxOut = tx.TxOut[:len(tx.TxOut)-1]
		if rest := inSat - target - feeWithChange; rest >= DustLimitSat {
			changeSat = rest
			break
		}
		if inSat-target-feeNoChange >= 0 {
			changeSat = 0
			break
		}
	}
	if changeSat < 0 {
		return nil, fmt.Errorf("%w: need %d sat plus the fee at %d sat/kw, %d sat spendable", ErrInsufficientFunds,
			target, feeratePerKw, available)
	}
	if changeSat > 0 {
		script, err := w.issue(ChangeChain)
		if err != nil {
			return nil, err
		}
		change.PkScript = script
		change.Value = changeSat
		tx.AddTxOut(change)
	}

	prev := txscript.NewMultiPrevOutFetcher(nil)
	for _, cd := range chosen {
		prev.AddPrevOut(cd.op, &wire.TxOut{Value: cd.c.ValueSat, PkScript: cd.c.PkScript})
	}
	hashes := txscript.NewTxSigHashes(tx, prev)
	for i, cd := range chosen {
		key, err := w.privKey(cd.c.Path)
		if err != nil {
			return nil, err
		}
		wit, err := txscript.WitnessSignature(tx, hashes, i, cd.c.ValueSat, cd.c.PkScript, txscript.SigHashAll, key, true)
		if err != nil {
			return nil, fmt.Errorf("wallet: signing input %d: %w", i, err)
		}
		tx.TxIn[i].Witness = wit
	}
	for _, cd := range chosen {
		w.locked[cd.op] = struct{}{}
	}
	if err := w.save(); err != nil {
		for _, cd := range chosen {
			delete(w.locked, cd.op)
		}
		return nil, err
	}
	return tx, nil
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
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	changed, err := w.addOwnLocked(tx)
	if err != nil || !changed {
		return err
	}
	return w.save()
}

// addOwnLocked is AddOwnTransaction without saving; it reports whether anything changed.
func (w *Wallet) addOwnLocked(tx *wire.MsgTx) (bool, error) {
	txid := tx.TxHash()
	if r, ok := w.txs[txid]; ok {
		if r.Own {
			return false, nil
		}
		r.Own = true
		return true, nil
	}
	if blockchain.IsCoinBaseTx(tx) {
		return false, nil
	}
	relevant := false
	var replaced []chainhash.Hash
	for _, in := range tx.TxIn {
		if _, ok := w.coins[in.PreviousOutPoint]; ok {
			relevant = true
		}
		if other, ok := w.spends[in.PreviousOutPoint]; ok {
			if r := w.txs[other]; r != nil && r.Height > 0 {
				return false, fmt.Errorf("%w: input %s spent by %s at height %d", ErrConflict,
					in.PreviousOutPoint, other, r.Height)
			}
			replaced = append(replaced, other)
		}
	}
	for _, out := range tx.TxOut {
		if _, ok := w.scripts[string(out.PkScript)]; ok {
			relevant = true
		}
	}
	if !relevant {
		return false, nil
	}
	for _, id := range replaced {
		w.dropTx(id)
	}
	w.addTx(&txRecord{Tx: tx.Copy(), Own: true})
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
	km *keys.KeysManager) (*wire.MsgTx, error) {
	if km == nil {
		return nil, errors.New("wallet: nil KeysManager")
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
	if _, err := w.addOwnLocked(tx); err != nil {
		return nil, err
	}
	if err := w.save(); err != nil {
		return nil, err
	}
	return tx, nil
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

// BroadcastTransactions records each transaction in the wallet (errors, such as a conflict with a
// confirmed spend, leave the wallet unchanged) and forwards the batch.
func (b *recordingBroadcaster) BroadcastTransactions(txs ...*wire.MsgTx) {
	for _, tx := range txs {
		_ = b.w.AddOwnTransaction(tx)
	}
	if b.next != nil {
		b.next.BroadcastTransactions(txs...)
	}
}
