package channelmonitor

import (
	"bytes"
	"crypto/sha256"
	"sort"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// htlcOutcome records what we told the ChannelManager about one of our offered HTLCs. Values persisted.
const (
	outcomeFailed    uint8 = 1
	outcomeSucceeded uint8 = 2
)

// claimFor returns the tracked claim on op, or nil.
func (m *ChannelMonitor) claimFor(op wire.OutPoint) *claim {
	for _, c := range m.claims {
		if c.OutPoint == op {
			return c
		}
	}
	return nil
}

func (m *ChannelMonitor) pkg(id uint64) *claimPackage {
	if id == 0 {
		return nil
	}
	for _, p := range m.packages {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// ourTx says whether txid is a version of one of our packages' transactions.
func (m *ChannelMonitor) ourTx(txid chainhash.Hash) *claimPackage {
	for _, p := range m.packages {
		if p.ours(txid) {
			return p
		}
	}
	return nil
}

// spentByUs tells our spend of a claim's output from the counterparty's, by the transaction (one we
// built) or by the witness's shape (BOLT 3): our second-stage HTLC transactions carry five witness
// items, our direct spends of their HTLC outputs three; our revocation spends carry the revocation key
// or the 0x01 branch selector, their delayed spends an empty one.
func (m *ChannelMonitor) spentByUs(c *claim, tx *wire.MsgTx, txid chainhash.Hash, vin int) bool {
	if m.ourTx(txid) != nil {
		return true
	}
	w := tx.TxIn[vin].Witness
	switch c.Kind {
	case claimHolderHTLCTimeout, claimHolderHTLCSuccess:
		return len(w) == 5
	case claimCounterpartyHTLCPreimage, claimCounterpartyHTLCTimeout:
		return len(w) == 3
	case claimRevokedHTLC:
		return len(w) == 3 && len(w[1]) == 33
	case claimRevokedToLocal, claimRevokedSecondStage:
		return len(w) == 3 && len(w[1]) == 1 && w[1][0] == 1
	case claimHolderToLocal, claimHolderSecondStage:
		return len(w) == 3 && len(w[1]) == 0
	}
	return true
}

// findPreimage looks for the preimage of hash among a witness's items.
func findPreimage(w wire.TxWitness, hash [32]byte) ([32]byte, bool) {
	for _, item := range w {
		if len(item) == 32 && sha256.Sum256(item) == hash {
			var p [32]byte
			copy(p[:], item)
			return p, true
		}
	}
	return [32]byte{}, false
}

// spendsConfirmed handles a confirmed transaction's spends of our claims' outputs, in input order.
// The caller holds m.mu.
func (m *ChannelMonitor) spendsConfirmed(tx *wire.MsgTx, txid chainhash.Hash, height uint32) {
	for vin, in := range tx.TxIn {
		c := m.claimFor(in.PreviousOutPoint)
		if c == nil || c.spent() {
			continue
		}
		m.claimSpent(c, tx, txid, vin, height)
	}
}

// claimSpent records that tx spent claim c's output at input vin, learns what the spend reveals (a
// preimage, a second-stage output to claim) and takes c out of its package if the spend is not ours.
func (m *ChannelMonitor) claimSpent(c *claim, tx *wire.MsgTx, txid chainhash.Hash, vin int, height uint32) {
	c.SpentBy, c.SpentAt = txid, height
	c.SpentByUs = m.spentByUs(c, tx, txid, vin)
	m.chainDirty = true
	if c.HTLC != nil && c.HTLC.OfferedByUs {
		if pre, ok := findPreimage(tx.TxIn[vin].Witness, c.HTLC.PaymentHash); ok {
			m.learnPreimage(c.HTLC, pre)
		}
	}
	if p := m.ourTx(txid); p != nil {
		p.ConfHeight, p.ConfTx = height, tx
	} else if p := m.pkg(c.Package); p != nil {
		if c.SpentByUs {
			// Our transaction built by the host (anchor HTLC claims): the package is confirmed.
			p.ConfHeight, p.ConfTx = height, tx
		} else {
			// The counterparty got there first: the rest of the package goes on without this claim.
			p.remove(c.OutPoint)
		}
	}
	switch {
	case c.SpentByUs && (c.Kind == claimHolderHTLCTimeout || c.Kind == claimHolderHTLCSuccess):
		m.secondStageClaim(c, tx, txid, vin, height)
	case !c.SpentByUs && c.Kind == claimRevokedHTLC:
		m.log.Warn("the counterparty spent a revoked HTLC output first; claiming its second-stage output", "outpoint", c.OutPoint, "txid", txid)
		m.secondStageClaim(c, tx, txid, vin, height)
	case !c.SpentByUs:
		m.log.Warn("the counterparty spent an output we claim", "claim", c.Kind.String(), "outpoint", c.OutPoint, "txid", txid)
	}
}

// htlcKey tells one of our offered HTLCs from the others: its id, and its payment hash, since two HTLCs
// may share an id. A manager restarted from a snapshot older than its monitor gives the id of an HTLC
// it signed and lost (the peer never saw it) to the next one it adds, on another commitment with the
// same number; the monitor keeps both commitments.
type htlcKey struct {
	id   uint64
	hash [32]byte
}

func keyOf(h *claimHTLC) htlcKey { return htlcKey{h.ID, h.PaymentHash} }

// sortedKeys returns keys in id order, then hash order.
func sortedKeys[V any](m map[htlcKey]V) []htlcKey {
	out := make([]htlcKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].id != out[j].id {
			return out[i].id < out[j].id
		}
		return bytes.Compare(out[i].hash[:], out[j].hash[:]) < 0
	})
	return out
}

// htlcOutcome is what we reported about one of our offered HTLCs (persisted, so that a ChannelManager
// restarted from an older snapshot can learn it again: ResolvedHTLCs).
type htlcOutcome struct {
	Flags uint8 // outcomeFailed, outcomeSucceeded
	Event HTLCEvent
}

// learnPreimage records a preimage seen on chain for one of our offered HTLCs and reports the payment's
// success to the ChannelManager (BOLT 5: "MUST extract the payment preimage").
func (m *ChannelMonitor) learnPreimage(h *claimHTLC, pre [32]byte) {
	m.preimages[h.PaymentHash] = pre
	o := m.outcome(h)
	if o.Flags&outcomeSucceeded != 0 {
		return
	}
	o.Flags |= outcomeSucceeded
	p := pre
	o.Event.Preimage = &p
	m.chainDirty = true
	m.monitorEvents = append(m.monitorEvents, o.Event)
	m.log.Info("learned a payment preimage on chain", "htlc", h.ID, "hash", chainhash.Hash(h.PaymentHash))
}

// outcome returns the outcome record of an HTLC, creating it.
func (m *ChannelMonitor) outcome(h *claimHTLC) *htlcOutcome {
	o := m.htlcOutcomes[keyOf(h)]
	if o == nil {
		o = &htlcOutcome{Event: HTLCEvent{ChannelID: m.params.ChannelID, FundingTxo: m.params.FundingOutPoint,
			HTLCID: h.ID, PaymentHash: h.PaymentHash, AmountMsat: h.AmountMsat, Source: h.Source}}
		m.htlcOutcomes[keyOf(h)] = o
	}
	return o
}

// failHTLC reports one of our offered HTLCs failed for good, unless its outcome was reported already
// or we know its preimage (then it succeeded).
func (m *ChannelMonitor) failHTLC(h *claimHTLC, why string) {
	if o := m.htlcOutcomes[keyOf(h)]; o != nil && o.Flags != 0 {
		return
	}
	if pre, ok := m.preimages[h.PaymentHash]; ok {
		m.learnPreimage(h, pre)
		return
	}
	o := m.outcome(h)
	o.Flags |= outcomeFailed
	m.chainDirty = true
	m.monitorEvents = append(m.monitorEvents, o.Event)
	m.log.Info("HTLC failed on chain", "htlc", h.ID, "hash", chainhash.Hash(h.PaymentHash), "why", why)
}

// ResolvedHTLCs returns the on-chain outcome of every HTLC we offered that this monitor settled: the
// HTLCEvents it reported, the last word for each (a preimage wins over an earlier failure). A
// ChannelManager restarted from a snapshot older than the monitor replays them (they are idempotent),
// so that no payment waits forever for an event it lost.
func (m *ChannelMonitor) ResolvedHTLCs() []HTLCEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := sortedKeys(m.htlcOutcomes)
	out := make([]HTLCEvent, 0, len(keys))
	for _, k := range keys {
		out = append(out, m.htlcOutcomes[k].Event)
	}
	return out
}

// timesOut says whether our spend of the claim takes back an HTLC we offered.
func (c *claim) timesOut() bool {
	if c.HTLC == nil || !c.HTLC.OfferedByUs {
		return false
	}
	return c.Kind == claimHolderHTLCTimeout || c.Kind == claimCounterpartyHTLCTimeout || c.Kind == claimRevokedHTLC
}

// resolveDeep finalises what is AntiReorgDelay deep at height: claims whose spend is (failing back the
// HTLCs we timed out), our packages' transactions (handing their outputs to the host), and the funding
// spend itself (failing back HTLCs that are not on the confirmed commitment).
func (m *ChannelMonitor) resolveDeep(height uint32) {
	deep := func(h uint32) bool { return h != 0 && height+1 >= h+AntiReorgDelay }
	if f := m.funding; f != nil && !f.Settled && deep(f.Height) {
		f.Settled = true
		m.chainDirty = true
		if f.Kind != spendCooperative {
			m.failHTLCsNotOnChain()
		}
	}
	for _, c := range m.claims {
		if c.Resolved || !deep(c.SpentAt) {
			continue
		}
		c.Resolved = true
		m.chainDirty = true
		if c.SpentByUs && c.timesOut() {
			m.failHTLC(c.HTLC, "timed out on chain")
		}
	}
	kept := m.packages[:0]
	for _, p := range m.packages {
		if deep(p.ConfHeight) {
			m.reportStatic(p.ConfTx)
			m.chainDirty = true
			continue
		}
		if len(p.OutPoints) == 0 && p.ConfHeight == 0 {
			m.chainDirty = true
			continue
		}
		kept = append(kept, p)
	}
	m.packages = kept
}

// offeredHTLCs lists the HTLCs we offered on any commitment that could still confirm: our latest and
// previous commitments and the counterparty's unrevoked ones.
func (m *ChannelMonitor) offeredHTLCs() map[htlcKey]*claimHTLC {
	out := map[htlcKey]*claimHTLC{}
	add := func(id uint64, amt uint64, hash [32]byte, cltv uint32, src []byte) {
		if _, ok := out[htlcKey{id, hash}]; !ok {
			out[htlcKey{id, hash}] = &claimHTLC{ID: id, OfferedByUs: true, AmountMsat: amt, PaymentHash: hash, CltvExpiry: cltv, Source: src}
		}
	}
	for _, hc := range []*LatestHolderCommitment{m.holder, m.prevHolder} {
		if hc == nil {
			continue
		}
		for _, h := range hc.HTLCs {
			if h.Offered {
				add(h.HTLCID, h.AmountMsat, h.PaymentHash, h.CltvExpiry, h.Source)
			}
		}
	}
	for _, cp := range m.liveCounterparty() {
		for _, h := range cp.HTLCs {
			if !h.Offered {
				add(h.HTLCID, h.AmountMsat, h.PaymentHash, h.CltvExpiry, h.Source)
			}
		}
	}
	return out
}

// liveCounterparty returns the counterparty commitments that bind us: unrevoked and not superseded.
func (m *ChannelMonitor) liveCounterparty() []*LatestCounterpartyCommitment {
	var out []*LatestCounterpartyCommitment
	for _, cp := range m.unrevokedCounterparty() {
		if !m.superseded[cp.Txid] {
			out = append(out, cp)
		}
	}
	return out
}

// unrevokedCounterparty returns the counterparty commitments whose secret we do not hold.
func (m *ChannelMonitor) unrevokedCounterparty() []*LatestCounterpartyCommitment {
	var out []*LatestCounterpartyCommitment
	for _, cp := range m.counterparty {
		if _, revoked := m.revocationSecret(cp.CommitmentNumber); !revoked {
			out = append(out, cp)
		}
	}
	return out
}

// failHTLCsNotOnChain fails back every HTLC we offered that has no output on the confirmed commitment:
// trimmed as dust, or never part of it (BOLT 5: "MUST fail the corresponding incoming HTLC (if any)
// ... once the commitment transaction has reached reasonable depth"). Those with outputs are settled
// by their claims.
func (m *ChannelMonitor) failHTLCsNotOnChain() {
	onChain := map[htlcKey]bool{}
	for _, c := range m.claims {
		if c.HTLC != nil && c.HTLC.OfferedByUs && c.OutPoint.Hash == m.funding.Txid {
			onChain[keyOf(c.HTLC)] = true
		}
	}
	offered := m.offeredHTLCs()
	for _, k := range sortedKeys(offered) {
		if !onChain[k] {
			m.failHTLC(offered[k], "not on the confirmed commitment")
		}
	}
}
