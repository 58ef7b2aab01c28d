package testchain

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// plan is what accepting one transaction, or a parent and its child, would do to the mempool.
type plan struct {
	entries   []*poolEntry            // to add, parent first
	coins     [][]coin                // the coins each entry's inputs spend, for the script check
	conflicts map[chainhash.Hash]bool // mempool transactions spending an outpoint an entry spends
	evicted   map[chainhash.Hash]bool // conflicts and their descendants (set by checkReplacement)
}

// totals returns the plan's fee in satoshis, weight in weight units and virtual size in vbytes (the
// sum of its transactions' virtual sizes, as Bitcoin Core sizes packages).
func (p *plan) totals() (feeSat, weight, vsize int64) {
	for _, e := range p.entries {
		feeSat += e.fee
		weight += e.weight
		vsize += e.vsize()
	}
	return feeSat, weight, vsize
}

// what names the plan in errors.
func (p *plan) what() string {
	if len(p.entries) > 1 {
		return "package"
	}
	return "transaction"
}

// acceptLocked adds tx (owned by the chain) to the mempool after every check, evicting what it
// replaces. Already known transactions are accepted as no-ops. The caller holds c.mu.
func (c *Chain) acceptLocked(tx *wire.MsgTx) error {
	if tx != nil && c.knownLocked(tx.TxHash()) {
		return nil
	}
	p, err := c.evaluateLocked([]*wire.MsgTx{tx})
	if err != nil {
		return err
	}
	c.commitLocked(p)
	return nil
}

// knownLocked reports whether txid is in the mempool or confirmed.
func (c *Chain) knownLocked(txid chainhash.Hash) bool {
	if _, ok := c.poolIndex[txid]; ok {
		return true
	}
	_, ok := c.txIndex[txid]
	return ok
}

// evaluateLocked runs every mempool check on txs (one transaction, or a parent then its child) in
// Bitcoin Core's order (validity, fee, replacement, scripts) and returns the plan that accepts them.
// The caller holds c.mu.
func (c *Chain) evaluateLocked(txs []*wire.MsgTx) (*plan, error) {
	p, err := c.planTxs(txs)
	if err != nil {
		return nil, err
	}
	if err := c.checkMinRelay(p); err != nil {
		return nil, err
	}
	if err := c.checkReplacement(p); err != nil {
		return nil, err
	}
	for i, e := range p.entries {
		if err := verifyScripts(e.tx, p.coins[i], txscript.StandardVerifyFlags); err != nil {
			return nil, p.blame(i, err)
		}
	}
	return p, nil
}

// commitLocked evicts what p replaces and adds p's transactions to the mempool.
func (c *Chain) commitLocked(p *plan) {
	c.removeLocked(p.evicted)
	for _, e := range p.entries {
		c.addLocked(e)
	}
}

// planTxs validates txs in turn for the next block (everything but fees, replacement and scripts):
// each may spend confirmed outputs, mempool outputs and outputs of the transactions before it, and
// an outpoint a mempool transaction already spends makes that transaction a conflict.
func (c *Chain) planTxs(txs []*wire.MsgTx) (*plan, error) {
	p := &plan{conflicts: make(map[chainhash.Hash]bool)}
	created := make(map[wire.OutPoint]coin)
	spentHere := make(map[wire.OutPoint]chainhash.Hash)
	o := c.nextOpts(true, false)
	for i, tx := range txs {
		if tx == nil {
			return nil, fmt.Errorf("%w: nil transaction", ErrMalformed)
		}
		txid := tx.TxHash()
		view := func(op wire.OutPoint) (coin, error) {
			if h, ok := spentHere[op]; ok {
				return coin{}, errDoubleSpend(op, h, "the package's parent")
			}
			if cn, ok := created[op]; ok {
				return cn, nil
			}
			return c.conflictingCoin(op, txid, p.conflicts)
		}
		fee, coins, err := c.checkTxInputs(tx, view, o)
		if err != nil {
			return nil, blameIn(len(txs), i, txid, err)
		}
		p.entries = append(p.entries, newPoolEntry(tx, fee))
		p.coins = append(p.coins, coins)
		for _, in := range tx.TxIn {
			spentHere[in.PreviousOutPoint] = txid
		}
		for j, out := range tx.TxOut {
			created[wire.OutPoint{Hash: txid, Index: uint32(j)}] = coin{out: *out, height: o.height}
		}
	}
	return p, nil
}

// conflictingCoin returns op as unspentCoin does; when a mempool transaction other than txid itself
// already spends it, that transaction is added to conflicts.
func (c *Chain) conflictingCoin(op wire.OutPoint, txid chainhash.Hash, conflicts map[chainhash.Hash]bool) (coin, error) {
	cn, err := c.unspentCoin(op)
	if err != nil {
		return coin{}, err
	}
	if h, ok := c.poolSpends[op]; ok {
		if h == txid {
			return coin{}, errDoubleSpend(op, h, "this same transaction, in the mempool,")
		}
		conflicts[h] = true
	}
	return cn, nil
}

// checkMinRelay refuses a plan whose feerate (its own, or the package's) is below the minimum
// relay feerate.
func (c *Chain) checkMinRelay(p *plan) error {
	fee, _, vsize := p.totals()
	if paysFor(fee, c.minRelayFee, vsize) {
		return nil
	}
	return fmt.Errorf("%w: %s pays %d sat for %d vbytes, the minimum relay feerate of %d sat/kw asks %d sat",
		ErrFeeTooLow, p.what(), fee, vsize, c.minRelayFee, feeForVsize(c.minRelayFee, vsize))
}

// blame names entry i of the plan in err when the plan is a package.
func (p *plan) blame(i int, err error) error {
	return blameIn(len(p.entries), i, p.entries[i].txid, err)
}

func blameIn(n, i int, txid chainhash.Hash, err error) error {
	if n < 2 {
		return err
	}
	role := "parent"
	if i > 0 {
		role = "child"
	}
	return fmt.Errorf("package %s %v: %w", role, txid, err)
}

// reconsiderable reports whether err refuses a transaction only for what it pays, so that it may
// still be accepted as the parent of a package.
func reconsiderable(err error) bool {
	return errors.Is(err, ErrFeeTooLow) || errors.Is(err, ErrReplacementRefused)
}
