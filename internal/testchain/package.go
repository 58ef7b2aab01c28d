package testchain

import (
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// BroadcastTransactions implements chaininterface.BroadcasterInterface: it submits each transaction to
// the mempool as SubmitTransaction does and records every refusal (see Rejected). The transactions
// may come in any order: one refused for a missing input is retried after the others, so a child
// listed before its parent is still accepted. A transaction refused only for what it pays
// (ErrFeeTooLow or ErrReplacementRefused) is then tried as the parent of a package with each
// transaction of the call that spends it, as SubmitPackage does (one parent, one child, e.g. a
// commitment below the minimum relay feerate with a CPFP child). Re-broadcasting a transaction
// already in the mempool or confirmed is not a refusal.
func (c *Chain) BroadcastTransactions(txs ...*wire.MsgTx) {
	pending := make([]attempt, 0, len(txs))
	for i, tx := range txs {
		if tx == nil {
			continue
		}
		pending = append(pending, attempt{tx: tx.Copy(), pos: i})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(pending) > 0 {
		var progress bool
		pending, progress = c.submitEachLocked(pending)
		if !progress && !c.acceptOnePackageLocked(pending) {
			break
		}
		pending = dropAccepted(pending)
	}
	sort.SliceStable(pending, func(i, j int) bool { return pending[i].pos < pending[j].pos })
	for _, a := range pending {
		c.rejected = append(c.rejected, Rejection{Txid: a.tx.TxHash(), Tx: a.tx, Err: a.err})
	}
}

// attempt is a transaction of a BroadcastTransactions call, its position in the call and its last
// refusal.
type attempt struct {
	tx       *wire.MsgTx
	pos      int
	err      error
	accepted bool
}

// submitEachLocked submits each attempt on its own, records final refusals, and returns those that
// may still pass (refused for a missing input or only for their fee) and whether any was accepted.
func (c *Chain) submitEachLocked(pending []attempt) ([]attempt, bool) {
	var rest []attempt
	progress := false
	for _, a := range pending {
		a.err = c.acceptLocked(a.tx)
		switch {
		case a.err == nil:
			progress = true
		case isMissingInput(a.err) || reconsiderable(a.err):
			rest = append(rest, a)
		default:
			c.rejected = append(c.rejected, Rejection{Txid: a.tx.TxHash(), Tx: a.tx, Err: a.err})
		}
	}
	return rest, progress
}

// acceptOnePackageLocked tries each attempt refused for its fee as the parent of a package with each
// attempt that spends it, and accepts the first package that passes, marking both accepted. A
// child's refusal becomes that of its last package.
func (c *Chain) acceptOnePackageLocked(pending []attempt) bool {
	for i := range pending {
		parent := &pending[i]
		if !reconsiderable(parent.err) {
			continue
		}
		txid := parent.tx.TxHash()
		for j := range pending {
			child := &pending[j]
			if j == i || !spendsFrom(child.tx, txid) {
				continue
			}
			if child.err = c.acceptPackageLocked(parent.tx, child.tx); child.err == nil {
				parent.accepted, child.accepted = true, true
				return true
			}
		}
	}
	return false
}

func dropAccepted(as []attempt) []attempt {
	kept := as[:0]
	for _, a := range as {
		if !a.accepted {
			kept = append(kept, a)
		}
	}
	return kept
}

// SubmitPackage submits a parent and a child that spends one of its outputs, as Bitcoin Core's
// package relay of one parent and one child does. The parent is tried alone first; once it is in
// the mempool (or confirmed), the child is submitted alone, as SubmitTransaction does. If the parent
// is refused only for what it pays (ErrFeeTooLow, ErrReplacementRefused), the two are evaluated as
// one package: every other check applies to each, but the minimum relay feerate applies to the
// package's feerate (sum of fees over sum of virtual sizes), and if the package conflicts with
// mempool transactions it must meet the replacement rules of SubmitTransaction as a whole (its fee
// and feerate against what it evicts), spending no mempool output besides the parent's. It returns
// nil when both are accepted or already known, and otherwise the refusal; a child that does not
// spend the parent is refused with ErrNonStandard. Refusals are not recorded in Rejected.
func (c *Chain) SubmitPackage(parent, child *wire.MsgTx) error {
	if parent == nil || child == nil {
		return fmt.Errorf("%w: nil transaction in package", ErrMalformed)
	}
	parent, child = parent.Copy(), child.Copy()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !spendsFrom(child, parent.TxHash()) {
		return fmt.Errorf("%w: package child %v does not spend its parent %v", ErrNonStandard, child.TxHash(), parent.TxHash())
	}
	err := c.acceptLocked(parent)
	switch {
	case err == nil:
		return c.acceptLocked(child)
	case reconsiderable(err):
		return c.acceptPackageLocked(parent, child)
	}
	return err
}

// acceptPackageLocked evaluates parent and child (owned by the chain, the parent not known) as one
// package and, if it passes, adds both to the mempool. The caller holds c.mu.
func (c *Chain) acceptPackageLocked(parent, child *wire.MsgTx) error {
	p, err := c.evaluateLocked([]*wire.MsgTx{parent, child})
	if err != nil {
		return err
	}
	c.commitLocked(p)
	return nil
}

// spendsFrom reports whether one of tx's inputs spends an output of the transaction parent.
func spendsFrom(tx *wire.MsgTx, parent chainhash.Hash) bool {
	for _, in := range tx.TxIn {
		if in.PreviousOutPoint.Hash == parent {
			return true
		}
	}
	return false
}
