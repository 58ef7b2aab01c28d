package channelmonitor

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// Serialization versions. A monitor is written as a version byte and a TLV stream (BOLT 1's format:
// increasing types; an unknown even type is refused, an unknown odd one skipped), so a newer lnkit
// reads what an older one wrote and an older one refuses, with ErrCorrupt naming the type, data it
// cannot understand. Version 1 (fixed layout) is still read. Each record's value uses package ser;
// records that hold lists write each element length-prefixed, so elements can grow fields at their end.
const (
	monitorVersion uint8 = 2
	updateVersion  uint8 = 2
)

// Monitor record types (even: required to understand the monitor; odd: optional).
const (
	recParams         uint64 = 0
	recLatestUpdateID uint64 = 2
	recHolder         uint64 = 4
	recCounterparty   uint64 = 6
	recSecrets        uint64 = 8
	recPreimages      uint64 = 10
	recFunding        uint64 = 12
	recClaims         uint64 = 14
	recPackages       uint64 = 16
	recPrevHolder     uint64 = 1
	recShutdown       uint64 = 3
	recClosingTx      uint64 = 5
	recFlags          uint64 = 7
	recBestHeight     uint64 = 9
	recOutcomes       uint64 = 11
	recSpendable      uint64 = 13
	recSuperseded     uint64 = 15
)

// ErrCorrupt is returned (wrapped) when stored monitor data cannot be read.
var ErrCorrupt = errors.New("channelmonitor: corrupt data")

func writeParams(w *ser.Writer, p *ChannelParameters) {
	w.Fixed(p.ChannelID[:])
	w.Point(p.CounterpartyNodeID)
	w.OutPoint(p.FundingOutPoint)
	w.Var(p.FundingScript)
	w.I64(p.FundingValueSat)
	w.Bool(p.Anchors)
	w.Bool(p.IsOutbound)
	for _, k := range []keys.ChannelPublicKeys{p.HolderPubkeys, p.CounterpartyPubkeys} {
		w.Point(k.FundingPubkey)
		w.Point(k.RevocationBasepoint)
		w.Point(k.PaymentPoint)
		w.Point(k.DelayedPaymentBasepoint)
		w.Point(k.HTLCBasepoint)
	}
	w.U16(p.HolderToSelfDelay)
	w.U16(p.CounterpartyToSelfDelay)
	w.I64(p.HolderDustLimitSat)
	w.I64(p.CounterpartyDustLimitSat)
	w.U64(p.ObscuringFactor)
	w.Fixed(p.ChannelKeysID[:])
	w.Var(p.DestinationScript)
}

func readParams(r *ser.Reader) ChannelParameters {
	var p ChannelParameters
	p.ChannelID = lnwire.ChannelID(r.Fixed32())
	p.CounterpartyNodeID = r.Point()
	p.FundingOutPoint = r.OutPoint()
	p.FundingScript = r.Var()
	p.FundingValueSat = r.I64()
	p.Anchors = r.Bool()
	p.IsOutbound = r.Bool()
	for _, k := range []*keys.ChannelPublicKeys{&p.HolderPubkeys, &p.CounterpartyPubkeys} {
		k.FundingPubkey = r.Point()
		k.RevocationBasepoint = r.Point()
		k.PaymentPoint = r.Point()
		k.DelayedPaymentBasepoint = r.Point()
		k.HTLCBasepoint = r.Point()
	}
	p.HolderToSelfDelay = r.U16()
	p.CounterpartyToSelfDelay = r.U16()
	p.HolderDustLimitSat = r.I64()
	p.CounterpartyDustLimitSat = r.I64()
	p.ObscuringFactor = r.U64()
	p.ChannelKeysID = r.Fixed32()
	p.DestinationScript = r.Var()
	return p
}

// writeHolder writes a holder commitment; v2 adds each HTLC's id and source.
func writeHolder(w *ser.Writer, h *LatestHolderCommitment) {
	w.U64(h.CommitmentNumber)
	w.Tx(h.Tx)
	w.Fixed(h.CounterpartySig[:])
	w.U32(h.FeeratePerKw)
	w.U32(uint32(len(h.HTLCs)))
	for _, x := range h.HTLCs {
		w.U32(uint32(x.OutputIndex))
		w.Bool(x.Offered)
		w.U64(x.AmountMsat)
		w.Fixed(x.PaymentHash[:])
		w.U32(x.CltvExpiry)
		w.Fixed(x.CounterpartySig[:])
		w.U64(x.HTLCID)
		w.Var(x.Source)
	}
}

func readHolder(r *ser.Reader, version uint8) *LatestHolderCommitment {
	h := &LatestHolderCommitment{CommitmentNumber: r.U64(), Tx: r.Tx()}
	copy(h.CounterpartySig[:], r.Fixed(64))
	h.FeeratePerKw = r.U32()
	n := r.Count(4 + 1 + 8 + 32 + 4 + 64)
	for i := 0; i < n && r.Err() == nil; i++ {
		x := HolderHTLC{OutputIndex: int32(r.U32()), Offered: r.Bool(), AmountMsat: r.U64(), PaymentHash: r.Fixed32(), CltvExpiry: r.U32()}
		copy(x.CounterpartySig[:], r.Fixed(64))
		if version >= 2 {
			x.HTLCID, x.Source = r.U64(), r.Var()
		}
		h.HTLCs = append(h.HTLCs, x)
	}
	if h.Tx == nil && r.Err() == nil {
		r.Fail("holder commitment without transaction")
	}
	return h
}

func writeCounterparty(w *ser.Writer, c *LatestCounterpartyCommitment) {
	w.U64(c.CommitmentNumber)
	w.Hash(c.Txid)
	w.Point(c.PerCommitmentPoint)
	w.U32(c.FeeratePerKw)
	w.I64(c.ToBroadcasterSat)
	w.I64(c.ToCountersignatorySat)
	w.U32(uint32(len(c.HTLCs)))
	for _, x := range c.HTLCs {
		w.U32(uint32(x.OutputIndex))
		w.Bool(x.Offered)
		w.U64(x.AmountMsat)
		w.Fixed(x.PaymentHash[:])
		w.U32(x.CltvExpiry)
		w.U64(x.HTLCID)
		w.Var(x.Source)
	}
}

func readCounterparty(r *ser.Reader, version uint8) *LatestCounterpartyCommitment {
	c := &LatestCounterpartyCommitment{CommitmentNumber: r.U64(), Txid: r.Hash(), PerCommitmentPoint: r.Point(),
		FeeratePerKw: r.U32(), ToBroadcasterSat: r.I64(), ToCountersignatorySat: r.I64()}
	n := r.Count(4 + 1 + 8 + 32 + 4)
	for i := 0; i < n && r.Err() == nil; i++ {
		x := CounterpartyHTLC{OutputIndex: int32(r.U32()), Offered: r.Bool(), AmountMsat: r.U64(),
			PaymentHash: r.Fixed32(), CltvExpiry: r.U32()}
		if version >= 2 {
			x.HTLCID, x.Source = r.U64(), r.Var()
		}
		c.HTLCs = append(c.HTLCs, x)
	}
	if c.PerCommitmentPoint == nil && r.Err() == nil {
		r.Fail("counterparty commitment without point")
	}
	return c
}

// record encodes one TLV record's value with f.
func record(s lnwire.TLVStream, t uint64, f func(w *ser.Writer)) lnwire.TLVStream {
	var w ser.Writer
	f(&w)
	return s.Set(t, w.Bytes())
}

// Write serializes the monitor: a version byte and a TLV stream.
func (m *ChannelMonitor) Write() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s lnwire.TLVStream
	s = record(s, recParams, func(w *ser.Writer) { writeParams(w, &m.params) })
	s = record(s, recLatestUpdateID, func(w *ser.Writer) { w.U64(m.latestUpdateID) })
	s = record(s, recHolder, func(w *ser.Writer) { writeHolder(w, m.holder) })
	s = record(s, recCounterparty, m.writeCounterparties)
	s = record(s, recSecrets, func(w *ser.Writer) { w.Fixed(m.secrets.Encode()) })
	s = record(s, recPreimages, m.writePreimages)
	if m.prevHolder != nil {
		s = record(s, recPrevHolder, func(w *ser.Writer) { writeHolder(w, m.prevHolder) })
	}
	if m.shutdownScript != nil {
		s = record(s, recShutdown, func(w *ser.Writer) { w.Fixed(m.shutdownScript) })
	}
	if m.closingTx != nil {
		s = record(s, recClosingTx, func(w *ser.Writer) { w.Tx(m.closingTx) })
	}
	s = record(s, recFlags, func(w *ser.Writer) {
		w.Bool(m.holderBroadcast)
		w.Bool(m.noAutoBroadcast)
		w.Bool(m.staticReported)
		w.U32(m.commitBump.Created)
		w.U32(m.commitBump.FeeratePerKw)
		w.U64(m.nextPackageID)
	})
	s = record(s, recBestHeight, func(w *ser.Writer) { w.U32(m.bestHeight) })
	s = record(s, recOutcomes, m.writeOutcomes)
	if m.spendable != nil {
		s = record(s, recSpendable, m.writeSpendable)
	}
	if len(m.superseded) > 0 {
		s = record(s, recSuperseded, func(w *ser.Writer) {
			txids := make([]chainhash.Hash, 0, len(m.superseded))
			for txid := range m.superseded {
				txids = append(txids, txid)
			}
			sort.Slice(txids, func(i, j int) bool { return bytes.Compare(txids[i][:], txids[j][:]) < 0 })
			w.U32(uint32(len(txids)))
			for _, txid := range txids {
				w.Hash(txid)
			}
		})
	}
	if m.funding != nil {
		s = record(s, recFunding, func(w *ser.Writer) { writeFunding(w, m.funding) })
		s = record(s, recClaims, m.writeClaims)
		s = record(s, recPackages, m.writePackages)
	}
	return append([]byte{monitorVersion}, s.Encode()...)
}

func (m *ChannelMonitor) writeCounterparties(w *ser.Writer) {
	cps := make([]*LatestCounterpartyCommitment, 0, len(m.counterparty))
	for _, c := range m.counterparty {
		cps = append(cps, c)
	}
	// By number, then txid: after a restart from an older manager snapshot the counterparty may hold two
	// commitments of one number, and the bytes must not depend on the map's order.
	sort.Slice(cps, func(i, j int) bool {
		if cps[i].CommitmentNumber != cps[j].CommitmentNumber {
			return cps[i].CommitmentNumber < cps[j].CommitmentNumber
		}
		return bytes.Compare(cps[i].Txid[:], cps[j].Txid[:]) < 0
	})
	writeEach(w, cps, writeCounterparty)
}

func (m *ChannelMonitor) writePreimages(w *ser.Writer) {
	pres := make([][32]byte, 0, len(m.preimages))
	for _, p := range m.preimages {
		pres = append(pres, p)
	}
	sort.Slice(pres, func(i, j int) bool { return bytes.Compare(pres[i][:], pres[j][:]) < 0 })
	w.U32(uint32(len(pres)))
	for _, p := range pres {
		w.Fixed(p[:])
	}
}

func (m *ChannelMonitor) writeOutcomes(w *ser.Writer) {
	writeEach(w, sortedKeys(m.htlcOutcomes), func(e *ser.Writer, k htlcKey) {
		o := m.htlcOutcomes[k]
		e.U64(k.id)
		e.U8(o.Flags)
		e.Fixed(o.Event.PaymentHash[:])
		e.U64(o.Event.AmountMsat)
		e.Var(o.Event.Source)
		e.Bool(o.Event.Preimage != nil)
		if o.Event.Preimage != nil {
			e.Fixed(o.Event.Preimage[:])
		}
	})
}

func (m *ChannelMonitor) readOutcomes(r *ser.Reader) {
	readEach(r, "HTLC outcome", func(e *ser.Reader) {
		id := e.U64()
		o := &htlcOutcome{Flags: e.U8()}
		o.Event = HTLCEvent{ChannelID: m.params.ChannelID, FundingTxo: m.params.FundingOutPoint, HTLCID: id,
			PaymentHash: e.Fixed32(), AmountMsat: e.U64(), Source: e.Var()}
		if e.Bool() {
			p := e.Fixed32()
			o.Event.Preimage = &p
		}
		if e.Err() == nil {
			m.htlcOutcomes[htlcKey{id, o.Event.PaymentHash}] = o
		}
	})
}

// writeSpendable writes the SpendableOutputs events not yet handled (StaticOutput descriptors: the
// outpoint and the output).
func (m *ChannelMonitor) writeSpendable(w *ser.Writer) {
	writeEach(w, m.spendable, func(e *ser.Writer, ev events.SpendableOutputs) {
		writeEach(e, ev.Outputs, func(d *ser.Writer, o events.SpendableOutputDescriptor) {
			d.U8(uint8(o.Kind))
			d.OutPoint(o.OutPoint)
			d.I64(o.Output.Value)
			d.Var(o.Output.PkScript)
		})
	})
}

func (m *ChannelMonitor) readSpendable(r *ser.Reader) {
	readEach(r, "spendable outputs", func(e *ser.Reader) {
		ev := events.SpendableOutputs{ChannelID: m.params.ChannelID}
		readEach(e, "output", func(d *ser.Reader) {
			o := events.SpendableOutputDescriptor{Kind: events.SpendableOutputKind(d.U8()), OutPoint: d.OutPoint()}
			o.Output = wire.TxOut{Value: d.I64(), PkScript: d.Var()}
			if o.Kind != events.StaticOutput {
				d.Fail("kind %d", o.Kind)
			}
			ev.Outputs = append(ev.Outputs, o)
		})
		if e.Err() == nil {
			m.spendable = append(m.spendable, ev)
		}
	})
}

// ReadChannelMonitor reads a monitor written by Write (or by lnkit's first format); the channel signer
// is re-derived from signerProvider. Errors: ErrCorrupt, naming what is wrong (an unknown required
// record means the data was written by a newer lnkit).
func ReadChannelMonitor(data []byte, signerProvider keys.SignerProvider) (*ChannelMonitor, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	var m *ChannelMonitor
	var err error
	switch data[0] {
	case 1:
		m, err = readMonitorV1(data[1:])
	case 2:
		m, err = readMonitorV2(data[1:])
	default:
		return nil, fmt.Errorf("%w: unknown version %d (written by a newer lnkit?)", ErrCorrupt, data[0])
	}
	if err != nil {
		return nil, err
	}
	if m.params.HolderPubkeys.FundingPubkey == nil || m.params.CounterpartyPubkeys.FundingPubkey == nil {
		return nil, fmt.Errorf("%w: missing keys", ErrCorrupt)
	}
	m.signer = signerProvider.DeriveChannelSigner(m.params.FundingValueSat, m.params.ChannelKeysID)
	if m.signer == nil || !m.signer.Pubkeys().FundingPubkey.IsEqual(m.params.HolderPubkeys.FundingPubkey) {
		return nil, fmt.Errorf("%w: the signer provider does not derive this channel's keys", ErrCorrupt)
	}
	// A remote signer may answer later (keys.ErrSignerPending): its requests keep their order, so the
	// parameters reach it before any signing request of this monitor.
	if err := m.signer.ProvideChannelParameters(m.params.SignerParams()); err != nil && !errors.Is(err, keys.ErrSignerPending) {
		return nil, fmt.Errorf("channelmonitor: the signer refused the channel's parameters: %w", err)
	}
	m.finishV1()
	return m, nil
}

func readMonitorV2(data []byte) (*ChannelMonitor, error) {
	s, err := lnwire.DecodeTLVStream(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := s.CheckUnknownEven(recParams, recLatestUpdateID, recHolder, recCounterparty, recSecrets, recPreimages,
		recFunding, recClaims, recPackages); err != nil {
		return nil, fmt.Errorf("%w: %w (written by a newer lnkit?)", ErrCorrupt, err)
	}
	for _, t := range []uint64{recParams, recLatestUpdateID, recHolder, recCounterparty, recSecrets, recPreimages} {
		if _, ok := s.Get(t); !ok {
			return nil, fmt.Errorf("%w: missing record %d", ErrCorrupt, t)
		}
	}
	var firstErr error
	read := func(t uint64, f func(r *ser.Reader)) {
		b, ok := s.Get(t)
		if !ok || firstErr != nil {
			return
		}
		r := ser.NewReader(b)
		f(r)
		if r.Err() != nil {
			firstErr = fmt.Errorf("%w: record %d: %w", ErrCorrupt, t, r.Err())
		}
	}
	m := newMonitor(ChannelParameters{}, nil)
	read(recParams, func(r *ser.Reader) { m.params = readParams(r) })
	read(recLatestUpdateID, func(r *ser.Reader) { m.latestUpdateID = r.U64() })
	read(recHolder, func(r *ser.Reader) { m.holder = readHolder(r, 2) })
	read(recCounterparty, m.readCounterparties)
	read(recSecrets, func(r *ser.Reader) {
		if err := m.secrets.Decode(r.Fixed(r.Remaining())); err != nil {
			r.Fail("secrets: %v", err)
		}
	})
	read(recPreimages, func(r *ser.Reader) {
		n := r.Count(32)
		for i := 0; i < n; i++ {
			p := r.Fixed32()
			m.preimages[sha256Sum(p[:])] = p
		}
	})
	read(recPrevHolder, func(r *ser.Reader) { m.prevHolder = readHolder(r, 2) })
	read(recShutdown, func(r *ser.Reader) { m.shutdownScript = r.Fixed(r.Remaining()) })
	read(recClosingTx, func(r *ser.Reader) { m.closingTx = r.Tx() })
	read(recFlags, func(r *ser.Reader) {
		m.holderBroadcast, m.noAutoBroadcast, m.staticReported = r.Bool(), r.Bool(), r.Bool()
		m.commitBump = commitmentBump{Created: r.U32(), FeeratePerKw: r.U32()}
		m.nextPackageID = r.U64()
	})
	read(recBestHeight, func(r *ser.Reader) { m.bestHeight = r.U32() })
	read(recOutcomes, m.readOutcomes)
	read(recSpendable, m.readSpendable)
	read(recSuperseded, func(r *ser.Reader) {
		n := r.Count(32)
		for i := 0; i < n; i++ {
			m.superseded[r.Hash()] = true
		}
	})
	read(recFunding, func(r *ser.Reader) { m.funding = readFunding(r) })
	read(recClaims, m.readClaims)
	read(recPackages, m.readPackages)
	if firstErr != nil {
		return nil, firstErr
	}
	return m, nil
}

func (m *ChannelMonitor) readCounterparties(r *ser.Reader) {
	readEach(r, "counterparty commitment", func(e *ser.Reader) {
		if c := readCounterparty(e, 2); e.Err() == nil {
			m.counterparty[c.Txid] = c
		}
	})
}
