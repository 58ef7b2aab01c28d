package router

import (
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
)

// The graph follows the chain through chaininterface.Listen (whole blocks) or chaininterface.Confirm
// (the relevant transactions), as the ChannelManager and ChainMonitor do.
//
// What is detected: a transaction spending a known funding outpoint marks its channel spent at once
// (it is no longer routed over) and removes it SpentChannelForgetDepth (72) blocks later (BOLT 7); a
// disconnected block, or TransactionUnconfirmed, undoes the mark. Funding outpoints are known from the
// UTXOLookup (at AddChannel) or learned from a block (or confirmed transaction) at the channel's
// short_channel_id: the transaction at its index, the output at its index.
//
// What is not: a channel announced after its funding block was seen, without a UTXOLookup, has no
// known outpoint, so its close goes unnoticed until pruning (two weeks without channel_update); a
// funding transaction reorganized out is not noticed; a channel removed after the delay does not come
// back on a reorganization deeper than the delay.
var (
	_ chaininterface.Listen  = (*NetworkGraph)(nil)
	_ chaininterface.Confirm = (*NetworkGraph)(nil)
)

// BlockConnected learns funding outpoints at this height, marks channels whose funding output the
// block spends, and forgets channels spent SpentChannelForgetDepth blocks ago.
func (g *NetworkGraph) BlockConnected(block *wire.MsgBlock, height uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	hash := block.BlockHash()
	for i, tx := range block.Transactions {
		g.d.confirmTx(tx, i, height, hash)
	}
	g.d.forgetSpent(height, block.Header.Timestamp.Unix())
}

// BlockDisconnected undoes the spends seen at height or above.
func (g *NetworkGraph) BlockDisconnected(_ *wire.BlockHeader, height uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c, s := range g.d.spent {
		if s.height >= height {
			g.d.unspend(c)
		}
	}
}

// TransactionsConfirmed is BlockConnected for the block's relevant transactions only (the host must
// include those spending funding outputs, and those at the index of an announced channel to learn its
// outpoint).
func (g *NetworkGraph) TransactionsConfirmed(header *wire.BlockHeader, txdata []chaininterface.IndexedTx, height uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	hash := header.BlockHash()
	for _, it := range txdata {
		g.d.confirmTx(it.Tx, it.Index, height, hash)
	}
}

// TransactionUnconfirmed undoes the spend by txid.
func (g *NetworkGraph) TransactionUnconfirmed(txid chainhash.Hash) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c, s := range g.d.spent {
		if s.txid == txid {
			g.d.unspend(c)
		}
	}
}

// BestBlockUpdated forgets channels spent SpentChannelForgetDepth blocks before height.
func (g *NetworkGraph) BestBlockUpdated(header *wire.BlockHeader, height uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.d.forgetSpent(height, header.Timestamp.Unix())
}

// GetRelevantTxids returns the funding spends the graph acts on, so the host can report their
// unconfirmation.
func (g *NetworkGraph) GetRelevantTxids() []chaininterface.RelevantTx {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]chaininterface.RelevantTx, 0, len(g.d.spent))
	for _, s := range g.d.spent {
		out = append(out, chaininterface.RelevantTx{Txid: s.txid, Height: s.height, BlockHash: s.block})
	}
	return out
}

// confirmTx learns funding outpoints from tx (at index idx of the block at height) and marks the
// channels whose funding output it spends.
func (d *graphData) confirmTx(tx *wire.MsgTx, idx int, height uint32, block chainhash.Hash) {
	if idx >= 0 && idx <= 0xffffff && height <= 0xffffff {
		base := uint64(height)<<40 | uint64(idx)<<16
		for j := range tx.TxOut {
			if j > 0xffff {
				break
			}
			if c, ok := d.chanIdx[base|uint64(j)]; ok {
				if _, known := d.chanFunding[c]; !known {
					d.setFunding(c, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(j)})
				}
			}
		}
	}
	if len(d.funding) == 0 {
		return
	}
	for _, in := range tx.TxIn {
		if c, ok := d.funding[in.PreviousOutPoint]; ok {
			if _, already := d.spent[c]; !already {
				d.spent[c] = spend{height: height, txid: tx.TxHash(), block: block}
				d.chans[c].flags |= chanSpent
				d.refreshUsable(c)
			}
		}
	}
}

func (d *graphData) setFunding(c uint32, op wire.OutPoint) {
	d.funding[op] = c
	d.chanFunding[c] = op
}

func (d *graphData) unspend(c uint32) {
	delete(d.spent, c)
	d.chans[c].flags &^= chanSpent
	d.refreshUsable(c)
}

// forgetSpent removes channels spent at least SpentChannelForgetDepth blocks before height; unix is
// the block's time, recorded for ErrRecentlyRemoved.
func (d *graphData) forgetSpent(height uint32, unix int64) {
	for c, s := range d.spent {
		if height >= s.height+SpentChannelForgetDepth {
			d.removed[d.chans[c].scid] = unixSeconds(time.Duration(unix) * time.Second)
			d.removeChannel(c)
		}
	}
}
