package testchain

import (
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// checkReplacement applies Bitcoin Core's full-RBF rules (v28: no BIP 125 signalling needed) to a
// plan that conflicts with mempool transactions, and sets p.evicted. A plan without conflicts
// passes. Refusals wrap ErrReplacementRefused. The caller holds c.mu.
func (c *Chain) checkReplacement(p *plan) error {
	if len(p.conflicts) == 0 {
		return nil
	}
	p.evicted = c.withDescendantsLocked(p.conflicts)
	if n := len(p.evicted); n > MaxReplacementEvictions {
		return refuseReplacement(p, "would evict %d transactions, at most %d may go (BIP 125 rule 5)",
			n, MaxReplacementEvictions)
	}
	checks := []func(*plan) error{c.checkSpendsNoEvicted, c.checkNoNewUnconfirmed, c.checkFeerateBeatsConflicts,
		c.checkPaysForEvicted}
	for _, check := range checks {
		if err := check(p); err != nil {
			return err
		}
	}
	return nil
}

func refuseReplacement(p *plan, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s", ErrReplacementRefused, p.what(), fmt.Sprintf(format, args...))
}

// checkSpendsNoEvicted refuses a plan that spends an output of a transaction it would evict.
func (c *Chain) checkSpendsNoEvicted(p *plan) error {
	for _, e := range p.entries {
		anc := c.ancestorsLocked(e.tx, nil)
		for _, pe := range c.pool {
			if anc[pe.txid] && p.evicted[pe.txid] {
				return refuseReplacement(p, "spends an output of %v, which it would evict", pe.txid)
			}
		}
	}
	return nil
}

// checkNoNewUnconfirmed applies BIP 125 rule 2 as Bitcoin Core does: a replacing transaction may
// spend a mempool transaction's output only if one of its direct conflicts spends an output of that
// same transaction. A replacing package may spend no mempool output at all (Core's package RBF is
// for a parent and child with no mempool ancestors).
func (c *Chain) checkNoNewUnconfirmed(p *plan) error {
	parents := make(map[chainhash.Hash]bool)
	for h := range p.conflicts {
		for _, in := range c.poolIndex[h].tx.TxIn {
			parents[in.PreviousOutPoint.Hash] = true
		}
	}
	own := make(map[chainhash.Hash]bool, len(p.entries))
	for _, e := range p.entries {
		own[e.txid] = true
	}
	for _, e := range p.entries {
		for i, in := range e.tx.TxIn {
			h := in.PreviousOutPoint.Hash
			if _, inPool := c.poolIndex[h]; !inPool || own[h] {
				continue
			}
			if len(p.entries) > 1 {
				return refuseReplacement(p, "spends unconfirmed %v (input %d of %v): a replacing package may spend only confirmed outputs and its own",
					in.PreviousOutPoint, i, e.txid)
			}
			if !parents[h] {
				return refuseReplacement(p, "spends unconfirmed %v (input %d), a new unconfirmed input (BIP 125 rule 2)",
					in.PreviousOutPoint, i)
			}
		}
	}
	return nil
}

// checkFeerateBeatsConflicts refuses a plan whose feerate (fee over virtual size) is not above
// every direct conflict's own feerate (Bitcoin Core's rule 6, compared exactly).
func (c *Chain) checkFeerateBeatsConflicts(p *plan) error {
	fee, _, vsize := p.totals()
	for _, e := range c.pool {
		if !p.conflicts[e.txid] {
			continue
		}
		if cmpRate(fee, vsize, e.fee, e.vsize()) <= 0 {
			return refuseReplacement(p, "pays %d sat for %d vbytes, not a higher feerate than %v's %d sat for %d vbytes (BIP 125 rule 6)",
				fee, vsize, e.txid, e.fee, e.vsize())
		}
	}
	return nil
}

// checkPaysForEvicted refuses a plan that pays less than everything it evicts (BIP 125 rule 3) or
// adds less than the incremental relay feerate times its own virtual size (rule 4).
func (c *Chain) checkPaysForEvicted(p *plan) error {
	fee, _, vsize := p.totals()
	var old int64
	for h := range p.evicted {
		old += c.poolIndex[h].fee
	}
	if fee < old {
		return refuseReplacement(p, "pays %d sat, less than the %d sat of the %d transactions it would evict (BIP 125 rule 3)",
			fee, old, len(p.evicted))
	}
	if !paysFor(fee-old, c.incrementalFee, vsize) {
		return refuseReplacement(p, "adds %d sat to the %d sat it would evict; the incremental relay feerate of %d sat/kw asks %d sat for %d vbytes (BIP 125 rule 4)",
			fee-old, old, c.incrementalFee, feeForVsize(c.incrementalFee, vsize), vsize)
	}
	return nil
}
