package policy

// The payment ledger (node-wide): per payment hash, the user's approval. With every channel's flows
// (state.go: what each commitment that can confirm offers and has paid per hash) it decides rules
// payment-approved, htlc-routing-balance and velocity.

// approvalKind says where an approval came from. The values are persisted: never renumber them.
type approvalKind uint8

const (
	kindNone    approvalKind = 0 // never persisted
	kindInvoice approvalKind = 1 // ApproveInvoice
	kindKeysend approvalKind = 2 // ApproveKeysend
	kindAuto    approvalKind = 3 // AllowUnapprovedPayments
)

// payEntry is the ledger's record of one payment hash.
type payEntry struct {
	kind approvalKind
	// approvedMsat is the most the user allows to leave for this hash (amount plus maximum fee), usable
	// until expiresAt (unix seconds of host time).
	approvedMsat, expiresAt uint64
}

// usable is the approved amount while it has not expired at now.
func (e *payEntry) usable(now uint64) uint64 {
	if e.kind == kindNone || now >= e.expiresAt {
		return 0
	}
	return e.approvedMsat
}

// velEntry is value approved at a time (unix seconds), in msat.
type velEntry struct{ at, msat uint64 }

// nodeState is the node-wide policy state, persisted whole (encode.go).
type nodeState struct {
	now      uint64 // latest host time given (SetTime), unix seconds
	ledger   map[[32]byte]*payEntry
	velocity []velEntry
}

// ledgerTx is a tentative change of the ledger while a request is checked: nothing changes in the
// Signer until apply. It is used with Signer.mu held.
type ledgerTx struct {
	s *Signer
	// chID's flows are replaced by flows when flows is non-nil.
	chID    [32]byte
	flows   map[[32]byte]flow
	changed map[[32]byte]*payEntry
	vel     []velEntry
	velDirt bool
}

func (s *Signer) newLedgerTx(chID [32]byte, flows map[[32]byte]flow) *ledgerTx {
	return &ledgerTx{s: s, chID: chID, flows: flows, changed: map[[32]byte]*payEntry{},
		vel: s.node.velocity}
}

func (t *ledgerTx) get(h [32]byte) *payEntry {
	if e, ok := t.changed[h]; ok {
		return e
	}
	return t.s.node.ledger[h]
}

// edit returns the entry of h to change, creating it.
func (t *ledgerTx) edit(h [32]byte) *payEntry {
	if e, ok := t.changed[h]; ok {
		return e
	}
	e := &payEntry{}
	if old := t.s.node.ledger[h]; old != nil {
		*e = *old
	}
	t.changed[h] = e
	return e
}

func (t *ledgerTx) dirty() bool { return len(t.changed) > 0 || t.velDirt }

// totals sums every channel's flows for h, the changed channel's new ones included.
func (t *ledgerTx) totals(h [32]byte) (out, in uint64) {
	for id, f := range t.s.index[h] {
		if t.flows != nil && id == t.chID {
			continue
		}
		out, in = addSat(out, f.out), addSat(in, f.in)
	}
	if t.flows != nil {
		f := t.flows[h]
		out, in = addSat(out, f.out), addSat(in, f.in)
	}
	return out, in
}

// paidAfter returns what next's chain has paid per hash after the step prev → next: prev's amounts,
// for the hashes that still have a usable approval or an incoming HTLC somewhere (elsewhere a new
// outgoing HTLC needs new cover anyway), plus the outgoing HTLCs the step fulfilled.
//
// An outgoing HTLC that leaves a commitment was fulfilled (its amount goes to the counterparty) or
// failed (it comes back to us). The counterparty's balance tells: it grows by the fulfilled outgoing
// HTLCs and the failed incoming ones and shrinks by the incoming HTLCs added. When the step also
// removes incoming HTLCs the split is not exact, and the policy counts as paid as much as could have
// been (never less: counting a failed HTLC as paid can only refuse a later retry).
func (t *ledgerTx) paidAfter(prev, next *commitRec) map[[32]byte]uint64 {
	if prev == nil {
		return nil
	}
	paid := map[[32]byte]uint64{}
	now := t.s.node.now
	for h, v := range prev.paid {
		e := t.get(h)
		if (e != nil && e.usable(now) > 0) || t.incoming(h) {
			paid[h] = v
		}
	}
	removedOut := map[[32]byte]uint64{}
	var removedOutTotal uint64
	for _, h := range added(next, prev) { // in prev, not in next
		if h.outgoing {
			removedOut[h.hash] = addSat(removedOut[h.hash], h.amountMsat)
			removedOutTotal = addSat(removedOutTotal, h.amountMsat)
		}
	}
	var newIn int64
	for _, h := range added(prev, next) {
		if !h.outgoing {
			newIn += int64(h.amountMsat)
		}
	}
	// fulfilledOut + failedIn = x with failedIn >= 0, so at most x was fulfilled.
	x := int64(next.toCounterpartyMsat) - int64(prev.toCounterpartyMsat) + newIn
	if hi := min(x, int64(min(removedOutTotal, 1<<62))); hi > 0 {
		for h, v := range removedOut {
			paid[h] = addSat(paid[h], min(v, uint64(hi)))
		}
	}
	if len(paid) == 0 {
		return nil
	}
	return paid
}

// incoming reports whether any channel has an incoming HTLC for h.
func (t *ledgerTx) incoming(h [32]byte) bool {
	for _, f := range t.s.index[h] {
		if f.in > 0 {
			return true
		}
	}
	return false
}

// cover checks that every channel's exposure to h (outgoing HTLCs and what was paid already) is
// covered by the user's approval of h and by the incoming HTLCs for h (a forward).
func (t *ledgerTx) cover(h [32]byte) error {
	need, in := t.totals(h)
	now := t.s.node.now
	var approved uint64
	if e := t.get(h); e != nil {
		approved = e.usable(now)
	}
	have := addSat(approved, in)
	if need <= have {
		return nil
	}
	if t.s.cfg.AllowUnapprovedPayments {
		excess := need - have
		if err := t.addVelocity(excess); err != nil {
			return err
		}
		e := t.edit(h)
		if e.kind == kindNone || now >= e.expiresAt {
			e.kind, e.approvedMsat = kindAuto, 0
		}
		e.approvedMsat = addSat(e.approvedMsat, excess)
		e.expiresAt = max(e.expiresAt, now+t.s.cfg.ApprovalTTLSecs)
		return nil
	}
	if approved == 0 && in > 0 {
		return violation(RuleRoutingBalance, "hash %x: %d msat out or paid for %d msat in", h[:4], need, in)
	}
	return violation(RulePaymentApproved, "hash %x: %d msat out or paid, %d approved, %d in", h[:4], need, approved, in)
}

// addVelocity adds msat to the velocity window at the current time, refusing it over the limit.
func (t *ledgerTx) addVelocity(msat uint64) error {
	cfg, now := &t.s.cfg, t.s.node.now
	var kept []velEntry
	var sum uint64
	for _, v := range t.vel {
		if v.at+cfg.VelocityPeriodSecs > now {
			kept = append(kept, v)
			sum = addSat(sum, v.msat)
		}
	}
	if cfg.MaxVelocityMsat > 0 && addSat(sum, msat) > cfg.MaxVelocityMsat {
		return violation(RuleVelocity, "%d msat more would make %d msat within %d s, limit %d", msat, addSat(sum, msat), cfg.VelocityPeriodSecs, cfg.MaxVelocityMsat)
	}
	if len(kept) > 0 && (len(kept) >= t.s.cfg.MaxApprovals || kept[len(kept)-1].at == now) {
		kept[len(kept)-1].msat = addSat(kept[len(kept)-1].msat, msat) // fold: stays in the window longer
	} else {
		kept = append(kept, velEntry{at: now, msat: msat})
	}
	t.vel, t.velDirt = kept, true
	return nil
}

// merged returns the node state with the changes, pruned: an entry whose approval is gone or expired
// is dropped once no channel has an HTLC in flight for its hash.
func (t *ledgerTx) merged() *nodeState {
	n := &nodeState{now: t.s.node.now, ledger: make(map[[32]byte]*payEntry, len(t.s.node.ledger)+len(t.changed)),
		velocity: t.vel}
	for h, e := range t.s.node.ledger {
		n.ledger[h] = e
	}
	for h, e := range t.changed {
		n.ledger[h] = e
	}
	for h, e := range n.ledger {
		if e.usable(n.now) > 0 {
			continue
		}
		if out, in := t.totals(h); out == 0 && in == 0 {
			delete(n.ledger, h)
		}
	}
	return n
}

// approvals counts the entries holding a usable approval.
func (n *nodeState) approvals() int {
	c := 0
	for _, e := range n.ledger {
		if e.usable(n.now) > 0 {
			c++
		}
	}
	return c
}
