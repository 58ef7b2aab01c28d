package testchain

import (
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// poolEntry is a mempool transaction (owned by the chain) with its fee and weight.
type poolEntry struct {
	tx     *wire.MsgTx
	txid   chainhash.Hash
	fee    int64 // satoshis
	weight int64 // weight units
}

func newPoolEntry(tx *wire.MsgTx, fee int64) *poolEntry {
	return &poolEntry{tx: tx, txid: tx.TxHash(), fee: fee, weight: txWeight(tx)}
}

// vsize returns the entry's virtual size in vbytes.
func (e *poolEntry) vsize() int64 { return vsizeOf(e.weight) }

// addLocked appends e to the mempool. The caller holds c.mu and has checked e.
func (c *Chain) addLocked(e *poolEntry) {
	c.pool = append(c.pool, e)
	c.poolIndex[e.txid] = e
	for _, in := range e.tx.TxIn {
		c.poolSpends[in.PreviousOutPoint] = e.txid
	}
}

// removeLocked takes the transactions whose txids are in gone out of the mempool, keeping the order
// of the others. The caller holds c.mu and includes the descendants of what it removes.
func (c *Chain) removeLocked(gone map[chainhash.Hash]bool) {
	if len(gone) == 0 {
		return
	}
	kept := c.pool[:0]
	for _, e := range c.pool {
		if !gone[e.txid] {
			kept = append(kept, e)
			continue
		}
		delete(c.poolIndex, e.txid)
		for _, in := range e.tx.TxIn {
			if c.poolSpends[in.PreviousOutPoint] == e.txid {
				delete(c.poolSpends, in.PreviousOutPoint)
			}
		}
	}
	for i := len(kept); i < len(c.pool); i++ {
		c.pool[i] = nil
	}
	c.pool = kept
}

// ancestorsLocked returns the txids of tx's unconfirmed mempool ancestors (parents, their parents,
// ...), leaving out, and not looking past, those in skip. The caller holds c.mu.
func (c *Chain) ancestorsLocked(tx *wire.MsgTx, skip map[chainhash.Hash]bool) map[chainhash.Hash]bool {
	out := make(map[chainhash.Hash]bool)
	queue := []*wire.MsgTx{tx}
	for len(queue) > 0 {
		cur := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, in := range cur.TxIn {
			h := in.PreviousOutPoint.Hash
			p, ok := c.poolIndex[h]
			if !ok || out[h] || skip[h] {
				continue
			}
			out[h] = true
			queue = append(queue, p.tx)
		}
	}
	return out
}

// withDescendantsLocked returns the txids in roots plus those of every mempool transaction
// descending from them. The caller holds c.mu.
func (c *Chain) withDescendantsLocked(roots map[chainhash.Hash]bool) map[chainhash.Hash]bool {
	out := make(map[chainhash.Hash]bool, len(roots))
	queue := make([]chainhash.Hash, 0, len(roots))
	for h := range roots {
		out[h] = true
		queue = append(queue, h)
	}
	for len(queue) > 0 {
		h := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		e, ok := c.poolIndex[h]
		if !ok {
			continue
		}
		for i := range e.tx.TxOut {
			child, ok := c.poolSpends[wire.OutPoint{Hash: h, Index: uint32(i)}]
			if ok && !out[child] {
				out[child] = true
				queue = append(queue, child)
			}
		}
	}
	return out
}

// poolView sees the confirmed UTXO set plus mempool outputs, minus what the mempool spends: it is
// the view of transactions re-entering the mempool after a block, which may replace nothing.
func (c *Chain) poolView() coinView {
	return func(op wire.OutPoint) (coin, error) {
		if h, ok := c.poolSpends[op]; ok {
			return coin{}, errDoubleSpend(op, h, "a mempool transaction")
		}
		return c.unspentCoin(op)
	}
}

// unspentCoin returns op from the confirmed UTXO set or a mempool transaction's outputs, whether or
// not a mempool transaction spends it, or ErrDoubleSpend (spent by a confirmed transaction) or
// ErrMissingInput.
func (c *Chain) unspentCoin(op wire.OutPoint) (coin, error) {
	if cn, ok := c.utxos[op]; ok {
		return cn, nil
	}
	if e, ok := c.poolIndex[op.Hash]; ok && op.Index < uint32(len(e.tx.TxOut)) {
		return coin{out: *e.tx.TxOut[op.Index], height: c.tip().height + 1}, nil
	}
	if h, ok := c.spent[op]; ok {
		return coin{}, errDoubleSpend(op, h, "a confirmed transaction")
	}
	return coin{}, ErrMissingInput
}

// rebuildPool re-validates the mempool against the current tip, first the transactions in front
// (returned by a disconnected block; their scripts are checked again), then the old mempool in order
// (scripts were checked on acceptance and do not depend on the tip). Whatever no longer fits is
// dropped, and so are its descendants. As in Bitcoin Core, no fee rule applies on the way back: a
// transaction that was in a block or in the mempool may stay whatever it pays.
func (c *Chain) rebuildPool(front []*wire.MsgTx) {
	old := c.pool
	c.pool = nil
	c.poolIndex = make(map[chainhash.Hash]*poolEntry)
	c.poolSpends = make(map[wire.OutPoint]chainhash.Hash)
	for _, tx := range front {
		c.readdLocked(tx, true)
	}
	for _, e := range old {
		c.readdLocked(e.tx, false)
	}
}

// readdLocked puts tx back into the mempool if it is still valid for the next block and conflicts
// with nothing there, with no fee rule. The caller holds c.mu.
func (c *Chain) readdLocked(tx *wire.MsgTx, scripts bool) {
	txid := tx.TxHash()
	if _, ok := c.poolIndex[txid]; ok {
		return
	}
	if _, ok := c.txIndex[txid]; ok {
		return
	}
	fee, err := c.checkTx(tx, c.poolView(), c.nextOpts(true, scripts))
	if err != nil {
		return
	}
	c.addLocked(newPoolEntry(tx, fee))
}
