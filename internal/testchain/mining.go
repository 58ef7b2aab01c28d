package testchain

import (
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// selectForBlock returns the mempool transactions the next block mined by MineBlocks holds, parents
// before children, and their total fee in satoshis. With no mining feerate that is the whole mempool
// in acceptance order. Otherwise it selects as Bitcoin Core's ancestor-score mining does: take the
// transaction whose ancestor package (itself plus its not yet selected mempool ancestors) has the
// highest feerate (fee over weight; ties go to the earlier accepted), add the package, and repeat,
// while that feerate reaches the mining feerate. The caller holds c.mu.
func (c *Chain) selectForBlock() ([]*wire.MsgTx, int64) {
	var txs []*wire.MsgTx
	var fees int64
	if c.miningFee == 0 {
		for _, e := range c.pool {
			txs = append(txs, e.tx)
			fees += e.fee
		}
		return txs, fees
	}
	chosen := make(map[chainhash.Hash]bool)
	for {
		pkg, fee, weight := c.bestPackage(chosen)
		if pkg == nil || cmpRate(fee, weight, int64(c.miningFee), 1000) < 0 {
			return txs, fees
		}
		for _, e := range c.pool { // the package in acceptance order: parents first
			if pkg[e.txid] {
				chosen[e.txid] = true
				txs = append(txs, e.tx)
			}
		}
		fees += fee
	}
}

// bestPackage returns the not yet chosen ancestor package with the highest feerate (fee over
// weight), as a set of txids, with its fee in satoshis and weight in weight units; nil when every
// mempool transaction is chosen.
func (c *Chain) bestPackage(chosen map[chainhash.Hash]bool) (map[chainhash.Hash]bool, int64, int64) {
	var best map[chainhash.Hash]bool
	var bestFee, bestWeight int64
	for _, e := range c.pool {
		if chosen[e.txid] {
			continue
		}
		pkg := c.ancestorsLocked(e.tx, chosen)
		pkg[e.txid] = true
		var fee, weight int64
		for h := range pkg {
			fee += c.poolIndex[h].fee
			weight += c.poolIndex[h].weight
		}
		if best == nil || cmpRate(fee, weight, bestFee, bestWeight) > 0 {
			best, bestFee, bestWeight = pkg, fee, weight
		}
	}
	return best, bestFee, bestWeight
}
