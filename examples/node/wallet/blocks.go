package wallet

import (
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// BlockConnected processes the block at height that extends the wallet's best block (chaininterface.Listen):
// outputs paying watched scripts become confirmed coins (coinbase ones immature for 100 blocks), spends of
// our coins are recorded, unconfirmed transactions that the block double-spends are dropped with their
// descendants, and the block becomes the best block.
//
// A block whose parent is not the best block, or whose height is not the best height plus one, is ignored
// and Err reports ErrBlockOutOfOrder; the exception is a wallet whose best block is the zero BlockRef (no
// birthday), which takes the first block it is given.
func (w *Wallet) BlockConnected(block *wire.MsgBlock, height uint32) {
	if block == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if w.best != (BlockRef{}) && (block.Header.PrevBlock != w.best.Hash || height != w.best.Height+1) {
		w.blockErr = fmt.Errorf("%w: block %v at height %d, best block %v at %d", ErrBlockOutOfOrder,
			block.BlockHash(), height, w.best.Hash, w.best.Height)
		return
	}
	changed := false
	for i, tx := range block.Transactions {
		if w.connectTx(tx, i == 0, height) {
			changed = true
		}
	}
	w.best = BlockRef{Hash: block.BlockHash(), Height: height}
	if w.prune() {
		changed = true
	}
	w.afterBlock(changed)
}

// connectTx records tx, confirmed at height, if it concerns the wallet, and reports whether it did.
func (w *Wallet) connectTx(tx *wire.MsgTx, coinbase bool, height uint32) bool {
	txid := tx.TxHash()
	changed := false
	if !coinbase {
		// Unconfirmed transactions spending an input of tx are now double spends.
		for _, in := range tx.TxIn {
			if other, ok := w.spends[in.PreviousOutPoint]; ok && other != txid {
				if r := w.txs[other]; r != nil && r.Height == 0 {
					w.dropTx(other)
					changed = true
				}
			}
		}
	}
	relevant := false
	if rec := w.txs[txid]; rec != nil {
		relevant = true
	}
	if !coinbase {
		for _, in := range tx.TxIn {
			if _, ok := w.coins[in.PreviousOutPoint]; ok {
				relevant = true
			}
		}
	}
	for _, out := range tx.TxOut {
		if _, ok := w.scripts[string(out.PkScript)]; ok {
			relevant = true
		}
	}
	if !relevant {
		return changed
	}
	rec := w.txs[txid]
	if rec == nil {
		rec = &txRecord{Tx: tx.Copy(), Coinbase: coinbase}
		w.addTx(rec)
	}
	rec.Height = height
	for j, out := range tx.TxOut {
		p, ok := w.scripts[string(out.PkScript)]
		if !ok {
			continue
		}
		op := wire.OutPoint{Hash: txid, Index: uint32(j)}
		if c, ok := w.coins[op]; ok {
			c.Height = height
		} else {
			w.coins[op] = &coin{ValueSat: out.Value, PkScript: append([]byte(nil), out.PkScript...), Path: p,
				Height: height, Coinbase: coinbase}
		}
		w.markUsed(p)
	}
	if !coinbase {
		for _, in := range tx.TxIn {
			delete(w.locked, in.PreviousOutPoint)
		}
	}
	return true
}

// BlockDisconnected undoes the block at height, which must be the wallet's best block
// (chaininterface.Listen): its transactions become unconfirmed again, with their coins and spends, except
// its coinbase, which disappears together with any unconfirmed transaction spending it. The parent becomes
// the best block. A header that is not the best block is ignored and Err reports ErrBlockOutOfOrder.
func (w *Wallet) BlockDisconnected(header *wire.BlockHeader, height uint32) {
	if header == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	hash := header.BlockHash()
	if hash != w.best.Hash || height != w.best.Height || height == 0 {
		w.blockErr = fmt.Errorf("%w: disconnecting %v at height %d, best block %v at %d", ErrBlockOutOfOrder,
			hash, height, w.best.Hash, w.best.Height)
		return
	}
	var coinbases []chainhash.Hash
	for id, r := range w.txs {
		if r.Height != height {
			continue
		}
		if r.Coinbase {
			coinbases = append(coinbases, id)
			continue
		}
		r.Height = 0
		for j := range r.Tx.TxOut {
			if c, ok := w.coins[wire.OutPoint{Hash: id, Index: uint32(j)}]; ok {
				c.Height = 0
			}
		}
	}
	for _, id := range coinbases {
		w.dropTx(id)
	}
	w.best = BlockRef{Hash: header.PrevBlock, Height: height - 1}
	w.afterBlock(true)
}

// afterBlock saves if the block changed the wallet or enough blocks passed, and sets blockErr.
func (w *Wallet) afterBlock(changed bool) {
	w.blockErr = nil
	w.dirty = true
	w.sinceSave++
	if changed || w.sinceSave >= SaveEveryBlocks {
		if err := w.save(); err != nil {
			w.blockErr = err
		}
	}
}

// addTx records r and indexes its inputs.
func (w *Wallet) addTx(r *txRecord) {
	txid := r.Tx.TxHash()
	w.txs[txid] = r
	if r.Coinbase {
		return
	}
	for _, in := range r.Tx.TxIn {
		w.spends[in.PreviousOutPoint] = txid
	}
}

// dropTx forgets the transaction txid, its unconfirmed descendants and the coins they created; the coins
// they spent become unspent again.
func (w *Wallet) dropTx(txid chainhash.Hash) {
	r := w.txs[txid]
	if r == nil {
		return
	}
	delete(w.txs, txid)
	for j := range r.Tx.TxOut {
		op := wire.OutPoint{Hash: txid, Index: uint32(j)}
		if child, ok := w.spends[op]; ok {
			w.dropTx(child)
		}
		delete(w.coins, op)
		delete(w.locked, op)
	}
	if r.Coinbase {
		return
	}
	for _, in := range r.Tx.TxIn {
		if w.spends[in.PreviousOutPoint] == txid {
			delete(w.spends, in.PreviousOutPoint)
		}
	}
}

// prune forgets transactions confirmed PruneDepth or more blocks below the best block, and the coins they
// spent, and reports whether it forgot anything.
func (w *Wallet) prune() bool {
	if w.best.Height < PruneDepth {
		return false
	}
	limit := w.best.Height - PruneDepth
	pruned := false
	for id, r := range w.txs {
		if r.Height == 0 || r.Height > limit {
			continue
		}
		if !r.Coinbase {
			for _, in := range r.Tx.TxIn {
				if w.spends[in.PreviousOutPoint] == id {
					delete(w.spends, in.PreviousOutPoint)
					delete(w.coins, in.PreviousOutPoint)
					delete(w.locked, in.PreviousOutPoint)
				}
			}
		}
		delete(w.txs, id)
		pruned = true
	}
	return pruned
}
