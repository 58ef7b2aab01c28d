package channelmonitor

import (
	"fmt"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/lnwire"
)

func writeFunding(w *ser.Writer, f *fundingSpend) {
	w.Tx(f.Tx)
	w.U32(f.Height)
	w.U8(uint8(f.Kind))
	w.U64(f.CommitmentNumber)
	w.Bool(f.Settled)
}

func readFunding(r *ser.Reader) *fundingSpend {
	f := &fundingSpend{Tx: r.Tx(), Height: r.U32(), Kind: spendKind(r.U8()), CommitmentNumber: r.U64(), Settled: r.Bool()}
	if f.Tx == nil {
		r.Fail("funding spend without transaction")
		return nil
	}
	if f.Kind < spendCooperative || f.Kind > spendUnknownCommitment {
		r.Fail("unknown funding spend kind %d", f.Kind)
	}
	f.Txid = f.Tx.TxHash()
	return f
}

func writeClaim(w *ser.Writer, c *claim) {
	w.U8(uint8(c.Kind))
	w.OutPoint(c.OutPoint)
	w.I64(c.ValueSat)
	w.Var(c.Script)
	w.U64(c.CommitmentNumber)
	w.Point(c.PerCommitmentPoint)
	w.Bool(c.HTLC != nil)
	if h := c.HTLC; h != nil {
		w.U64(h.ID)
		w.Bool(h.OfferedByUs)
		w.U64(h.AmountMsat)
		w.Fixed(h.PaymentHash[:])
		w.U32(h.CltvExpiry)
		w.Var(h.Source)
		w.Fixed(h.CounterpartySig[:])
	}
	w.U32(c.ParentHeight)
	w.U32(c.ValidHeight)
	w.U32(c.Deadline)
	w.Hash(c.SpentBy)
	w.U32(c.SpentAt)
	w.Bool(c.SpentByUs)
	w.Bool(c.Resolved)
	w.Bool(c.Uneconomical)
	w.U64(c.Package)
}

func readClaim(r *ser.Reader) *claim {
	c := &claim{Kind: claimKind(r.U8()), OutPoint: r.OutPoint(), ValueSat: r.I64(), Script: r.Var(), CommitmentNumber: r.U64(),
		PerCommitmentPoint: r.Point()}
	if r.Bool() {
		h := &claimHTLC{ID: r.U64(), OfferedByUs: r.Bool(), AmountMsat: r.U64(), PaymentHash: r.Fixed32(), CltvExpiry: r.U32(), Source: r.Var()}
		copy(h.CounterpartySig[:], r.Fixed(64))
		c.HTLC = h
	}
	c.ParentHeight, c.ValidHeight, c.Deadline = r.U32(), r.U32(), r.U32()
	c.SpentBy, c.SpentAt, c.SpentByUs = r.Hash(), r.U32(), r.Bool()
	c.Resolved, c.Uneconomical, c.Package = r.Bool(), r.Bool(), r.U64()
	if r.Err() != nil {
		return nil
	}
	switch {
	case c.Kind < claimHolderToLocal || c.Kind > claimRevokedSecondStage:
		r.Fail("unknown claim kind %d", c.Kind)
	case c.Kind != claimToRemote && c.PerCommitmentPoint == nil:
		r.Fail("claim %s without per-commitment point", c.Kind)
	case c.HTLC == nil && (c.Kind == claimHolderHTLCTimeout || c.Kind == claimHolderHTLCSuccess || c.Kind == claimRevokedHTLC ||
		c.Kind == claimCounterpartyHTLCPreimage || c.Kind == claimCounterpartyHTLCTimeout):
		r.Fail("HTLC claim without its HTLC")
	}
	return c
}

func (m *ChannelMonitor) writeClaims(w *ser.Writer) { writeEach(w, m.claims, writeClaim) }

func (m *ChannelMonitor) readClaims(r *ser.Reader) {
	readEach(r, "claim", func(e *ser.Reader) {
		if c := readClaim(e); e.Err() == nil {
			m.claims = append(m.claims, c)
		}
	})
}

// writeEach writes a count and each item length-prefixed, so that items can grow fields at their end.
func writeEach[T any](w *ser.Writer, items []T, write func(*ser.Writer, T)) {
	w.U32(uint32(len(items)))
	for _, it := range items {
		var e ser.Writer
		write(&e, it)
		w.Var(e.Bytes())
	}
}

// readEach reads what writeEach wrote, handing each item's bytes to read; an item's error fails r.
func readEach(r *ser.Reader, what string, read func(*ser.Reader)) {
	n := r.Count(4)
	for i := 0; i < n && r.Err() == nil; i++ {
		e := ser.NewReader(r.Var())
		read(e)
		if e.Err() != nil {
			r.Fail("%s %d: %v", what, i, e.Err())
		}
	}
}

func writePackage(w *ser.Writer, p *claimPackage) {
	w.U64(p.ID)
	w.U8(uint8(p.Class))
	w.U32(p.LockTime)
	w.U32(uint32(len(p.OutPoints)))
	for _, op := range p.OutPoints {
		w.OutPoint(op)
	}
	w.U32(p.Created)
	w.U32(p.Deadline)
	w.U32(p.FeeratePerKw)
	w.Tx(p.Tx)
	w.U32(uint32(len(p.Txids)))
	for _, t := range p.Txids {
		w.Hash(t)
	}
	w.U32(p.ConfHeight)
	w.Tx(p.ConfTx)
	w.Bool(p.Stale)
}

func readPackage(r *ser.Reader) *claimPackage {
	p := &claimPackage{ID: r.U64(), Class: packageClass(r.U8()), LockTime: r.U32()}
	n := r.Count(36)
	for i := 0; i < n; i++ {
		p.OutPoints = append(p.OutPoints, r.OutPoint())
	}
	p.Created, p.Deadline, p.FeeratePerKw, p.Tx = r.U32(), r.U32(), r.U32(), r.Tx()
	n = r.Count(32)
	for i := 0; i < n; i++ {
		p.Txids = append(p.Txids, r.Hash())
	}
	p.ConfHeight, p.ConfTx, p.Stale = r.U32(), r.Tx(), r.Bool()
	if r.Err() == nil && (p.Class < classSweep || p.Class > classHolderHTLCAnchor) {
		r.Fail("unknown package class %d", p.Class)
	}
	if r.Err() == nil && p.ConfHeight != 0 && p.ConfTx == nil {
		r.Fail("confirmed package without its transaction")
	}
	return p
}

func (m *ChannelMonitor) writePackages(w *ser.Writer) { writeEach(w, m.packages, writePackage) }

func (m *ChannelMonitor) readPackages(r *ser.Reader) {
	readEach(r, "package", func(e *ser.Reader) {
		if p := readPackage(e); e.Err() == nil {
			m.packages = append(m.packages, p)
		}
	})
}

// Step tags in an encoded update. Values are persisted: never renumber.
const (
	tagHolder         uint8 = 1
	tagCounterparty   uint8 = 2
	tagSecret         uint8 = 3
	tagPreimage       uint8 = 4
	tagForceClosed    uint8 = 5
	tagShutdownScript uint8 = 6
	tagClosingTx      uint8 = 7
)

// Encode serializes the update (version byte first), for persisters that store updates one by one.
func (u *ChannelMonitorUpdate) Encode() []byte {
	var w ser.Writer
	w.U8(updateVersion)
	w.U64(u.UpdateID)
	w.Fixed(u.ChannelID[:])
	w.U32(uint32(len(u.Steps)))
	for _, s := range u.Steps {
		switch st := s.(type) {
		case LatestHolderCommitment:
			w.U8(tagHolder)
			writeHolder(&w, &st)
		case *LatestHolderCommitment:
			w.U8(tagHolder)
			writeHolder(&w, st)
		case LatestCounterpartyCommitment:
			w.U8(tagCounterparty)
			writeCounterparty(&w, &st)
		case *LatestCounterpartyCommitment:
			w.U8(tagCounterparty)
			writeCounterparty(&w, st)
		case CommitmentSecret:
			w.U8(tagSecret)
			w.U64(st.CommitmentNumber)
			w.Fixed(st.Secret[:])
		case PaymentPreimage:
			w.U8(tagPreimage)
			w.Fixed(st.Preimage[:])
		case ChannelForceClosed:
			w.U8(tagForceClosed)
			w.Bool(st.ShouldBroadcast)
		case ShutdownScript:
			w.U8(tagShutdownScript)
			w.Var(st.Script)
		case ClosingTransaction:
			w.U8(tagClosingTx)
			w.Tx(st.Tx)
		}
	}
	return w.Bytes()
}

// DecodeChannelMonitorUpdate reads an update written by Encode (either version). Errors: ErrCorrupt.
func DecodeChannelMonitorUpdate(data []byte) (*ChannelMonitorUpdate, error) {
	r := ser.NewReader(data)
	v := r.U8()
	if v == 0 || v > updateVersion {
		return nil, fmt.Errorf("%w: unknown update version %d", ErrCorrupt, v)
	}
	u := &ChannelMonitorUpdate{UpdateID: r.U64(), ChannelID: lnwire.ChannelID(r.Fixed32())}
	n := r.Count(2)
	for i := 0; i < n && r.Err() == nil; i++ {
		switch tag := r.U8(); tag {
		case tagHolder:
			u.Steps = append(u.Steps, *readHolder(r, v))
		case tagCounterparty:
			u.Steps = append(u.Steps, *readCounterparty(r, v))
		case tagSecret:
			u.Steps = append(u.Steps, CommitmentSecret{CommitmentNumber: r.U64(), Secret: r.Fixed32()})
		case tagPreimage:
			u.Steps = append(u.Steps, PaymentPreimage{Preimage: r.Fixed32()})
		case tagForceClosed:
			u.Steps = append(u.Steps, ChannelForceClosed{ShouldBroadcast: r.Bool()})
		case tagShutdownScript:
			u.Steps = append(u.Steps, ShutdownScript{Script: r.Var()})
		case tagClosingTx:
			tx := r.Tx()
			if tx == nil && r.Err() == nil {
				r.Fail("closing transaction step without transaction")
			}
			u.Steps = append(u.Steps, ClosingTransaction{Tx: tx})
		default:
			r.Fail("unknown step tag %d", tag)
		}
	}
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, r.Err())
	}
	return u, nil
}

// readMonitorV1 reads lnkit's first monitor format (a fixed layout) and rebuilds the on-chain state
// from the funding spend and the sweeps it records.
func readMonitorV1(data []byte) (*ChannelMonitor, error) {
	r := ser.NewReader(data)
	m := newMonitor(readParams(r), nil)
	m.latestUpdateID = r.U64()
	m.holder = readHolder(r, 1)
	n := r.Count(8 + 32 + 33)
	for i := 0; i < n && r.Err() == nil; i++ {
		c := readCounterparty(r, 1)
		m.counterparty[c.Txid] = c
	}
	if err := m.secrets.Decode(r.Var()); err != nil && r.Err() == nil {
		r.Fail("secrets: %v", err)
	}
	n = r.Count(32)
	for i := 0; i < n; i++ {
		p := r.Fixed32()
		m.preimages[sha256Sum(p[:])] = p
	}
	m.shutdownScript = r.Var()
	m.holderBroadcast = r.Bool()
	m.bestHeight = r.U32()
	v1 := &v1Chain{spendTx: r.Tx(), spendAt: r.U32()}
	m.staticReported = r.Bool()
	n = r.Count(1 + 4 + 4 + 4 + 1)
	for i := 0; i < n && r.Err() == nil; i++ {
		r.U8()
		s := v1Sweep{tx: r.Tx()}
		r.U32()
		s.conf = r.U32()
		r.Bool()
		if s.tx != nil && s.conf != 0 {
			v1.sweeps = append(v1.sweeps, s)
		}
	}
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, r.Err())
	}
	if len(m.shutdownScript) == 0 {
		m.shutdownScript = nil
	}
	if v1.spendTx != nil {
		m.v1 = v1
	}
	return m, nil
}

// v1Chain is a version-1 monitor's chain state, replayed once the signer is known.
type v1Chain struct {
	spendTx *wire.MsgTx
	spendAt uint32
	sweeps  []v1Sweep
}

type v1Sweep struct {
	tx   *wire.MsgTx
	conf uint32
}

// finishV1 re-derives the claims of a version-1 monitor's funding spend; the v1 sweeps that confirmed
// mark the outputs they spent as ours. Events this raises were delivered before the upgrade.
func (m *ChannelMonitor) finishV1() {
	v1 := m.v1
	m.v1 = nil
	if v1 == nil {
		return
	}
	m.fundingSpent(v1.spendTx, v1.spendTx.TxHash(), v1.spendAt)
	for _, s := range v1.sweeps {
		m.spendsConfirmed(s.tx, s.tx.TxHash(), s.conf)
		for _, c := range m.claims {
			if c.SpentBy == s.tx.TxHash() {
				c.SpentByUs = true
			}
		}
	}
	m.monitorEvents, m.pendingEvents, m.spendable = nil, nil, nil
}
