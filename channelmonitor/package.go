package channelmonitor

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
)

// Fee-bumping parameters (lnd's sweeper and LDK's OnchainTxHandler are the models).
const (
	// FeeBudgetPercent is the share of the value a claim recovers that it may spend on fees at its
	// deadline (lnd's default budget ratio, 50%): paying half of an HTLC to miners beats losing all
	// of it to the counterparty.
	FeeBudgetPercent = 50
	// incrementalRelayFeeratePerKw is what a replacement must add to the feerate it replaces: Bitcoin
	// Core's incremental relay fee, 1 sat/vB = 250 sat/kw, rounded up as FeeratePerKwFloor is.
	incrementalRelayFeeratePerKw = 253
	// noDeadlineBlocks is the deadline, counted from the force close, by which our commitment should
	// confirm when no HTLC sets an earlier one: 1008 blocks (a week; lnd's no-deadline confirmation
	// target), so that a commitment with nothing at stake is not bumped steeply.
	noDeadlineBlocks = 1008
	// MaxFeeratePerKw caps the feerate a claim's fee function climbs to, whatever its budget: 250,000
	// sat/kw (1,000 sat/vB, lnd's sweeper maximum), far above any fee market seen so far.
	MaxFeeratePerKw = 250_000
	// minSweepOutputSat is the smallest sweep output we make: the P2WSH dust threshold, which also
	// covers P2WPKH destinations.
	minSweepOutputSat = 330
)

// errUneconomical: the claim is worth less than the fee to take it.
var errUneconomical = errors.New("channelmonitor: output worth less than the fee to claim it")

// ready says whether a claim can be spent in the block at height next.
func (m *ChannelMonitor) ready(c *claim, next uint32) bool {
	if c.spent() || c.Uneconomical || next < c.ValidHeight {
		return false
	}
	switch c.Kind {
	case claimHolderHTLCSuccess, claimCounterpartyHTLCPreimage:
		_, ok := m.preimages[c.HTLC.PaymentHash]
		return ok
	}
	return true
}

// formPackages puts the claims that became ready, and are not yet planned, into new packages: one per
// class and nLockTime, except pre-signed HTLC transactions, which go alone.
func (m *ChannelMonitor) formPackages(height uint32) {
	type key struct {
		class packageClass
		lock  uint32
	}
	groups := map[key][]*claim{}
	var keysOrder []key
	for _, c := range m.claims {
		if c.Package != 0 || !m.ready(c, height+1) {
			continue
		}
		cls, lock := m.classOf(c)
		k := key{cls, lock}
		if cls == classHolderHTLC {
			m.newPackage(cls, lock, []*claim{c}, height)
			continue
		}
		if groups[k] == nil {
			keysOrder = append(keysOrder, k)
		}
		groups[k] = append(groups[k], c)
	}
	sort.Slice(keysOrder, func(i, j int) bool {
		if keysOrder[i].class != keysOrder[j].class {
			return keysOrder[i].class < keysOrder[j].class
		}
		return keysOrder[i].lock < keysOrder[j].lock
	})
	for _, k := range keysOrder {
		m.newPackage(k.class, k.lock, groups[k], height)
	}
}

func (m *ChannelMonitor) newPackage(class packageClass, lock uint32, cs []*claim, height uint32) {
	m.nextPackageID++
	p := &claimPackage{ID: m.nextPackageID, Class: class, LockTime: lock, Created: height}
	sort.Slice(cs, func(i, j int) bool { return outPointLess(cs[i].OutPoint, cs[j].OutPoint) })
	for _, c := range cs {
		c.Package = p.ID
		p.OutPoints = append(p.OutPoints, c.OutPoint)
		if c.Deadline != 0 && (p.Deadline == 0 || c.Deadline < p.Deadline) {
			p.Deadline = c.Deadline
		}
	}
	m.packages = append(m.packages, p)
	m.chainDirty = true
}

func outPointLess(a, b wire.OutPoint) bool {
	if a.Hash != b.Hash {
		return string(a.Hash[:]) < string(b.Hash[:])
	}
	return a.Index < b.Index
}

// packageClaims returns a package's unspent claims, in outpoint order.
func (m *ChannelMonitor) packageClaims(p *claimPackage) []*claim {
	out := make([]*claim, 0, len(p.OutPoints))
	for _, op := range p.OutPoints {
		if c := m.claimFor(op); c != nil && !c.spent() {
			out = append(out, c)
		}
	}
	return out
}

// feeFunction returns the feerate, in sat/kw, a claim transaction should pay at height: lnd's linear
// fee function, from the estimate for urgent claims when the package was formed to the feerate that
// spends its whole budget at its deadline. Packages without a deadline pay the estimate for sweeps.
// The result never falls below what the package paid before.
func feeFunction(est chaininterface.FeeEstimator, created, deadline, height uint32, budgetSat, weight int64, last uint32) uint32 {
	if deadline == 0 {
		return max(chaininterface.ClampFeerate(est, chaininterface.OutputSpendingFee), last)
	}
	start := chaininterface.ClampFeerate(est, chaininterface.UrgentOnChainSweep)
	end := start
	if weight > 0 {
		if b := uint64(budgetSat) * 1000 / uint64(weight); b > uint64(end) {
			end = uint32(min(b, MaxFeeratePerKw))
		}
		end = max(end, start)
	}
	f := end
	if height < deadline && deadline > created {
		f = start + uint32(uint64(end-start)*uint64(height-created)/uint64(deadline-created))
	}
	return bumpedFeerate(f, last, end)
}

// bumpedFeerate keeps f from falling below last and makes a rise at least the incremental relay
// feerate (a replacement must pay that much more, BIP 125), without passing end.
func bumpedFeerate(f, last, end uint32) uint32 {
	if last == 0 || f <= last {
		return max(f, last)
	}
	if f < last+incrementalRelayFeeratePerKw {
		if last+incrementalRelayFeeratePerKw > end {
			return last
		}
		return last + incrementalRelayFeeratePerKw
	}
	return f
}

// txWeight is a transaction's weight in weight units (BIP 141).
func txWeight(tx *wire.MsgTx) int64 {
	return int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
}

// drivePackages builds (or rebuilds, with a higher fee) each live package's transaction and returns
// what to broadcast; anchor HTLC packages become BumpHTLCResolution events instead.
func (m *ChannelMonitor) drivePackages(height uint32, est chaininterface.FeeEstimator) []*wire.MsgTx {
	var out []*wire.MsgTx
	for _, p := range m.packages {
		if p.ConfHeight != 0 || len(p.OutPoints) == 0 {
			continue
		}
		cs := m.packageClaims(p)
		if len(cs) == 0 {
			continue
		}
		switch p.Class {
		case classHolderHTLCAnchor:
			m.queueHTLCBump(p, cs, height, est)
		case classHolderHTLC:
			if tx, err := m.holderHTLCTx(cs[0]); err != nil {
				m.log.Error("cannot build our HTLC transaction", "outpoint", cs[0].OutPoint, "err", err)
			} else {
				m.noteVersion(p, tx, 0)
				out = append(out, tx)
			}
		default:
			if tx := m.refreshPackageTx(p, cs, height, est); tx != nil {
				out = append(out, tx)
			}
		}
	}
	return out
}

// noteVersion records a version of a package's transaction.
func (m *ChannelMonitor) noteVersion(p *claimPackage, tx *wire.MsgTx, feerate uint32) {
	txid := tx.TxHash()
	if !p.ours(txid) {
		p.Txids = append(p.Txids, txid)
		m.chainDirty = true
	}
	p.Tx, p.FeeratePerKw, p.Stale = tx, feerate, false
}

// refreshPackageTx returns the package's transaction at the feerate due at height, rebuilding and
// re-signing it when the feerate rose or members changed. Claims worth less than their fee are dropped
// from the package (and marked uneconomical).
func (m *ChannelMonitor) refreshPackageTx(p *claimPackage, cs []*claim, height uint32, est chaininterface.FeeEstimator) *wire.MsgTx {
	var value int64
	for _, c := range cs {
		value += c.ValueSat
	}
	weight, err := m.packageWeight(p, cs)
	if err != nil {
		m.log.Error("cannot size claim transaction", "package", p.ID, "err", err)
		return nil
	}
	f := feeFunction(est, p.Created, p.Deadline, height, value*FeeBudgetPercent/100, weight, p.FeeratePerKw)
	if p.Tx != nil && !p.Stale && f == p.FeeratePerKw {
		return p.Tx
	}
	tx, err := m.buildPackageTx(p, cs, f)
	if errors.Is(err, errUneconomical) {
		for _, c := range cs {
			c.Uneconomical, c.Package = true, 0
		}
		p.OutPoints = nil
		m.log.Warn("claim worth less than its fee; left on chain", "package", p.ID, "value_sat", value, "feerate", f)
		return nil
	}
	if err != nil {
		m.log.Error("cannot build claim transaction", "package", p.ID, "err", err)
		return p.Tx
	}
	m.noteVersion(p, tx, f)
	return tx
}

// inputSequence is the nSequence a claim's input needs.
func (m *ChannelMonitor) inputSequence(c *claim) uint32 {
	switch c.Kind {
	case claimHolderToLocal, claimHolderSecondStage:
		return uint32(m.params.HolderToSelfDelay)
	case claimToRemote, claimCounterpartyHTLCPreimage, claimCounterpartyHTLCTimeout:
		if m.params.Anchors {
			return 1
		}
	}
	return wire.MaxTxInSequenceNum - 2 // final, signals replaceability
}

// unsignedPackageTx spends cs to our destination script, with witnesses of the right size but dummy
// signatures.
func (m *ChannelMonitor) unsignedPackageTx(p *claimPackage, cs []*claim) (*wire.MsgTx, int64, error) {
	tx := wire.NewMsgTx(2)
	tx.LockTime = p.LockTime
	var total int64
	for _, c := range cs {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: c.OutPoint, Sequence: m.inputSequence(c)})
		total += c.ValueSat
	}
	tx.AddTxOut(&wire.TxOut{Value: total, PkScript: m.params.DestinationScript})
	for i, c := range cs {
		w, err := m.claimWitness(tx, i, c, false)
		if err != nil {
			return nil, 0, err
		}
		tx.TxIn[i].Witness = w
	}
	return tx, total, nil
}

func (m *ChannelMonitor) packageWeight(p *claimPackage, cs []*claim) (int64, error) {
	tx, _, err := m.unsignedPackageTx(p, cs)
	if err != nil {
		return 0, err
	}
	return txWeight(tx), nil
}

// buildPackageTx builds and signs the package's transaction at feeratePerKw.
func (m *ChannelMonitor) buildPackageTx(p *claimPackage, cs []*claim, feeratePerKw uint32) (*wire.MsgTx, error) {
	tx, total, err := m.unsignedPackageTx(p, cs)
	if err != nil {
		return nil, err
	}
	fee := (txWeight(tx)*int64(feeratePerKw) + 999) / 1000
	if total-fee < minSweepOutputSat {
		// At the budget's end the fee may eat everything but dust; keep the output standard.
		fee = total - minSweepOutputSat
		if fee*1000 < txWeight(tx)*int64(chaininterface.FeeratePerKwFloor) {
			return nil, fmt.Errorf("%w: %d sat", errUneconomical, total)
		}
	}
	tx.TxOut[0].Value = total - fee
	for i, c := range cs {
		w, err := m.claimWitness(tx, i, c, true)
		if err != nil {
			return nil, err
		}
		tx.TxIn[i].Witness = w
	}
	return tx, nil
}

// claimWitness returns the witness spending claim c at input i of tx: signed, or with dummy
// signatures of the largest size (73 bytes with the sighash byte) for sizing.
func (m *ChannelMonitor) claimWitness(tx *wire.MsgTx, i int, c *claim, sign bool) (wire.TxWitness, error) {
	sig := func(f func() ([]byte, error)) ([]byte, error) {
		if !sign {
			return make([]byte, 73), nil
		}
		return f()
	}
	der := func(s interface{ Serialize() []byte }, err error) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		return append(s.Serialize(), byte(txscript.SigHashAll)), nil
	}
	switch c.Kind {
	case claimHolderToLocal, claimHolderSecondStage:
		s, err := sig(func() ([]byte, error) {
			return der(m.signer.SignDelayedOutput(tx, i, c.Script, c.ValueSat, c.PerCommitmentPoint))
		})
		return bolt3.ToLocalDelayedWitness(c.Script, s), err
	case claimToRemote:
		s, err := sig(func() ([]byte, error) { return der(m.signer.SignPaymentOutput(tx, i, c.Script, c.ValueSat)) })
		if err != nil {
			return nil, err
		}
		return bolt3.ToRemoteWitness(s, m.params.HolderPubkeys.PaymentPoint, m.channelType())
	case claimCounterpartyHTLCPreimage, claimCounterpartyHTLCTimeout:
		s, err := sig(func() ([]byte, error) {
			return der(m.signer.SignCounterpartyHTLCTx(tx, i, c.Script, c.ValueSat, c.PerCommitmentPoint, txscript.SigHashAll))
		})
		if err != nil {
			return nil, err
		}
		if c.Kind == claimCounterpartyHTLCTimeout {
			return bolt3.ReceivedHTLCTimeoutWitness(c.Script, s), nil
		}
		return bolt3.OfferedHTLCPreimageWitness(c.Script, s, m.preimages[c.HTLC.PaymentHash]), nil
	case claimRevokedToLocal, claimRevokedSecondStage, claimRevokedHTLC:
		secret, ok := m.revocationSecret(c.CommitmentNumber)
		if !ok {
			return nil, fmt.Errorf("no secret for revoked commitment %d", c.CommitmentNumber)
		}
		s, err := sig(func() ([]byte, error) { return der(m.signer.SignJustice(tx, i, c.Script, c.ValueSat, secret)) })
		if err != nil {
			return nil, err
		}
		if c.Kind != claimRevokedHTLC {
			return bolt3.ToLocalRevokeWitness(c.Script, s), nil
		}
		return bolt3.HTLCRevokeWitness(c.Script, s, m.revocationKey(c.PerCommitmentPoint))
	}
	return nil, fmt.Errorf("claim %s is not spent by a transaction of ours", c.Kind)
}

// holderHTLCTx builds our fully signed second-stage transaction for an HTLC output of our commitment
// on a non-anchor channel: the counterparty's SIGHASH_ALL signature fixes its fee (BOLT 3).
func (m *ChannelMonitor) holderHTLCTx(c *claim) (*wire.MsgTx, error) {
	tx, err := m.unsignedHolderHTLCTx(c)
	if err != nil {
		return nil, err
	}
	ours, err := m.signer.SignHolderHTLCTx(tx, 0, c.Script, c.ValueSat, c.PerCommitmentPoint, txscript.SigHashAll)
	if err != nil {
		return nil, err
	}
	theirs, err := c.HTLC.CounterpartySig.ToSignature()
	if err != nil {
		return nil, err
	}
	ourSig := append(ours.Serialize(), byte(txscript.SigHashAll))
	theirSig := append(theirs.Serialize(), byte(bolt3.HTLCSigHashType(m.channelType())))
	if c.Kind == claimHolderHTLCTimeout {
		tx.TxIn[0].Witness = bolt3.HTLCTimeoutWitness(c.Script, theirSig, ourSig)
	} else {
		tx.TxIn[0].Witness = bolt3.HTLCSuccessWitness(c.Script, theirSig, ourSig, m.preimages[c.HTLC.PaymentHash])
	}
	return tx, nil
}

// unsignedHolderHTLCTx is the second-stage transaction the counterparty signed for claim c.
func (m *ChannelMonitor) unsignedHolderHTLCTx(c *claim) (*wire.MsgTx, error) {
	k, err := m.holderKeys(c.CommitmentNumber)
	if err != nil {
		return nil, err
	}
	out := bolt3.HTLCOutput{HTLC: bolt3.HTLC{Offered: c.Kind == claimHolderHTLCTimeout, AmountMsat: c.HTLC.AmountMsat,
		PaymentHash: c.HTLC.PaymentHash, CltvExpiry: c.HTLC.CltvExpiry}, OutputIndex: c.OutPoint.Index, AmountSat: c.ValueSat,
		WitnessScript: c.Script}
	feerate := m.holderFeerate(c.CommitmentNumber)
	if out.HTLC.Offered {
		return bolt3.BuildHTLCTimeoutTx(c.OutPoint.Hash, out, feerate, k.toSelfDelay, k.revocation, k.delayed, m.channelType())
	}
	return bolt3.BuildHTLCSuccessTx(c.OutPoint.Hash, out, feerate, k.toSelfDelay, k.revocation, k.delayed, m.channelType())
}

// holderFeerate is the feerate of our commitment n (latest or previous).
func (m *ChannelMonitor) holderFeerate(n uint64) uint32 {
	if m.prevHolder != nil && m.prevHolder.CommitmentNumber == n {
		return m.prevHolder.FeeratePerKw
	}
	return m.holder.FeeratePerKw
}

// claimID derives a stable events.ClaimID for one of the monitor's claims.
func (m *ChannelMonitor) claimID(kind string, n uint64) events.ClaimID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	h := sha256.New()
	h.Write(m.params.ChannelID[:])
	h.Write([]byte(kind))
	h.Write(b[:])
	var id events.ClaimID
	copy(id[:], h.Sum(nil))
	return id
}

// htlcDescriptor describes a holder HTLC claim for the host's bump handler.
func (m *ChannelMonitor) htlcDescriptor(c *claim) (events.HTLCDescriptor, error) {
	tx, err := m.unsignedHolderHTLCTx(c)
	if err != nil {
		return events.HTLCDescriptor{}, err
	}
	d := events.HTLCDescriptor{
		Channel:        events.ChannelDerivationParameters{ValueSat: m.params.FundingValueSat, KeysID: m.params.ChannelKeysID},
		CommitmentTxid: c.OutPoint.Hash, OutputIndex: c.OutPoint.Index, ValueSat: c.ValueSat,
		CommitmentNumber: c.CommitmentNumber, PerCommitmentPoint: c.PerCommitmentPoint,
		FeeratePerKw: m.holderFeerate(c.CommitmentNumber), PaymentHash: c.HTLC.PaymentHash, AmountMsat: c.HTLC.AmountMsat,
		CltvExpiry: c.HTLC.CltvExpiry, Offered: c.Kind == claimHolderHTLCTimeout, WitnessScript: c.Script,
		Sequence: tx.TxIn[0].Sequence, SecondStageOutput: *tx.TxOut[0],
	}
	if sig, err := c.HTLC.CounterpartySig.ToSignature(); err == nil {
		d.CounterpartySig = sig.Serialize()
	} else {
		return d, err
	}
	if pre, ok := m.preimages[c.HTLC.PaymentHash]; ok && !d.Offered {
		d.Preimage = &pre
	}
	return d, nil
}

// queueHTLCBump asks the host, through a BumpHTLCResolution event, to confirm an anchor channel's HTLC
// package at the feerate due at height.
func (m *ChannelMonitor) queueHTLCBump(p *claimPackage, cs []*claim, height uint32, est chaininterface.FeeEstimator) {
	ev := events.BumpHTLCResolution{ChannelID: m.params.ChannelID, CounterpartyNodeID: m.params.CounterpartyNodeID,
		ClaimID: m.claimID("htlc", p.ID), TxLockTime: p.LockTime}
	var value, weight int64
	for _, c := range cs {
		d, err := m.htlcDescriptor(c)
		if err != nil {
			m.log.Error("cannot describe HTLC claim", "outpoint", c.OutPoint, "err", err)
			return
		}
		ev.HTLCDescriptors = append(ev.HTLCDescriptors, d)
		value += c.ValueSat
		// An HTLC input with its witness plus its output, and a share of a wallet input and change.
		weight += 4*(41+43) + 1 + 73 + 73 + 33 + int64(len(c.Script)) + 4*(41+31) + 109
	}
	ev.MaxFeeSat = value * FeeBudgetPercent / 100
	ev.TargetFeeratePerKw = feeFunction(est, p.Created, p.Deadline, height, ev.MaxFeeSat, weight, p.FeeratePerKw)
	p.FeeratePerKw = ev.TargetFeeratePerKw
	m.chainDirty = true
	m.pendingEvents = append(m.pendingEvents, ev)
}

// sortU64 sorts ids in place.
func sortU64(ids []uint64) { sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) }

var _ = chainhash.Hash{}

// revocationKey is the revocation public key of the counterparty's commitment with point, cached: a
// justice transaction needs it once per revoked HTLC output.
func (m *ChannelMonitor) revocationKey(point *btcec.PublicKey) *btcec.PublicKey {
	var k [33]byte
	copy(k[:], point.SerializeCompressed())
	if m.revKeys == nil {
		m.revKeys = map[[33]byte]*btcec.PublicKey{}
	}
	if r, ok := m.revKeys[k]; ok {
		return r
	}
	if len(m.revKeys) > 16 {
		clear(m.revKeys)
	}
	r := keys.DeriveRevocationPublicKey(m.params.HolderPubkeys.RevocationBasepoint, point)
	m.revKeys[k] = r
	return r
}
