package testchain

import (
	"math/bits"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Fee policy defaults (Bitcoin Core's). Feerates here are in sat per 1000 weight units (sat/kw); a
// rate of r sat/kw is 4r sat per 1000 virtual bytes.
const (
	// DefaultMinRelayFeeratePerKw is the minimum relay feerate a new chain starts with: 250 sat/kw,
	// Bitcoin Core's -minrelaytxfee of 1 sat/vB.
	DefaultMinRelayFeeratePerKw = 250

	// DefaultIncrementalRelayFeeratePerKw is the incremental relay feerate a new chain starts with:
	// 250 sat/kw, Bitcoin Core's -incrementalrelayfee of 1 sat/vB. A replacement must add at least
	// this rate times its own virtual size to the fees of what it evicts.
	DefaultIncrementalRelayFeeratePerKw = 250

	// MaxReplacementEvictions is the most mempool transactions (direct conflicts and their
	// descendants) one replacement may evict (BIP 125 rule 5, Bitcoin Core's
	// MAX_REPLACEMENT_CANDIDATES).
	MaxReplacementEvictions = 100
)

// SetMiningFeeratePerKw sets the feerate, in sat per 1000 weight units, that MineBlocks selects
// transactions at: a mempool transaction goes into a block only when its ancestor package (itself
// plus its unconfirmed mempool ancestors) pays at least this rate over the package's total weight.
// 0, the default, mines every mempool transaction.
func (c *Chain) SetMiningFeeratePerKw(feeratePerKw uint32) {
	c.mu.Lock()
	c.miningFee = feeratePerKw
	c.mu.Unlock()
}

// MiningFeeratePerKw returns the feerate set by SetMiningFeeratePerKw, in sat per 1000 weight units.
func (c *Chain) MiningFeeratePerKw() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.miningFee
}

// SetMinRelayFeeratePerKw sets the minimum relay feerate, in sat per 1000 weight units (default 250,
// i.e. 1 sat/vB). As in Bitcoin Core it is applied to the virtual size: a transaction of v vbytes
// must pay at least ceil(4 × feeratePerKw × v / 1000) sat, unless it comes as the parent of a
// package (see SubmitPackage). 0 accepts zero-fee transactions. Transactions already in the mempool
// stay there.
func (c *Chain) SetMinRelayFeeratePerKw(feeratePerKw uint32) {
	c.mu.Lock()
	c.minRelayFee = feeratePerKw
	c.mu.Unlock()
}

// MinRelayFeeratePerKw returns the minimum relay feerate, in sat per 1000 weight units.
func (c *Chain) MinRelayFeeratePerKw() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.minRelayFee
}

// SetIncrementalRelayFeeratePerKw sets the incremental relay feerate, in sat per 1000 weight units
// (default 250, i.e. 1 sat/vB): a replacement of v vbytes must pay at least ceil(4 × feeratePerKw ×
// v / 1000) sat more than the transactions it evicts (BIP 125 rule 4).
func (c *Chain) SetIncrementalRelayFeeratePerKw(feeratePerKw uint32) {
	c.mu.Lock()
	c.incrementalFee = feeratePerKw
	c.mu.Unlock()
}

// IncrementalRelayFeeratePerKw returns the incremental relay feerate, in sat per 1000 weight units.
func (c *Chain) IncrementalRelayFeeratePerKw() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.incrementalFee
}

// MempoolEntry returns the fee, in satoshis, and the weight, in weight units, of the mempool
// transaction with this txid. Its feerate in sat/kw is feeSat × 1000 / weight. ok is false when it
// is not in the mempool.
func (c *Chain) MempoolEntry(txid chainhash.Hash) (feeSat int64, weight int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.poolIndex[txid]
	if !ok {
		return 0, 0, false
	}
	return e.fee, e.weight, true
}

// MempoolAncestorPackage returns the total fee, in satoshis, and total weight, in weight units, of
// the mempool transaction with this txid plus all its unconfirmed mempool ancestors: the package
// MineBlocks compares with the mining feerate. ok is false when it is not in the mempool.
func (c *Chain) MempoolAncestorPackage(txid chainhash.Hash) (feeSat int64, weight int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.poolIndex[txid]
	if !ok {
		return 0, 0, false
	}
	for h := range c.ancestorsLocked(e.tx, nil) {
		a := c.poolIndex[h]
		feeSat += a.fee
		weight += a.weight
	}
	return feeSat + e.fee, weight + e.weight, true
}

// txWeight returns tx's weight in weight units.
func txWeight(tx *wire.MsgTx) int64 {
	return blockchain.GetTransactionWeight(btcutil.NewTx(tx))
}

// vsizeOf returns the virtual size, in vbytes, of weight weight units: ceil(weight / 4).
func vsizeOf(weight int64) int64 { return (weight + 3) / 4 }

// feeForVsize returns the fee, in satoshis, that feeratePerKw (sat/kw) asks of vsize vbytes:
// ceil(4 × feeratePerKw × vsize / 1000).
func feeForVsize(feeratePerKw uint32, vsize int64) int64 {
	return (4*int64(feeratePerKw)*vsize + 999) / 1000
}

// paysFor reports whether feeSat covers feeratePerKw (sat/kw) for vsize vbytes, as feeForVsize
// computes it, without overflow.
func paysFor(feeSat int64, feeratePerKw uint32, vsize int64) bool {
	return cmpRate(feeSat, 4*vsize, int64(feeratePerKw), 1000) >= 0
}

// cmpRate compares the rates feeA/sizeA and feeB/sizeB exactly (128-bit cross products) and returns
// -1, 0 or +1. Fees must be non-negative and sizes positive.
func cmpRate(feeA, sizeA, feeB, sizeB int64) int {
	hiA, loA := bits.Mul64(uint64(feeA), uint64(sizeB))
	hiB, loB := bits.Mul64(uint64(feeB), uint64(sizeA))
	switch {
	case hiA != hiB:
		if hiA < hiB {
			return -1
		}
		return 1
	case loA != loB:
		if loA < loB {
			return -1
		}
		return 1
	}
	return 0
}
