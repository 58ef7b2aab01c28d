package channelmonitor

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// Serialization versions. A reader accepts every version up to its own; fields added later go at the
// end of a record, so older data stays readable.
const (
	monitorVersion uint8 = 1
	updateVersion  uint8 = 1
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

func writeHolder(w *ser.Writer, h *LatestHolderCommitment) {
	w.U64(h.CommitmentNumber)
	w.Tx(h.Tx)
	w.Fixed(h.CounterpartySig[:])
	w.U32(h.FeeratePerKw)
	w.U32(uint32(len(h.HTLCs)))
	for _, x := range h.HTLCs {
		w.U32(x.OutputIndex)
		w.Bool(x.Offered)
		w.U64(x.AmountMsat)
		w.Fixed(x.PaymentHash[:])
		w.U32(x.CltvExpiry)
		w.Fixed(x.CounterpartySig[:])
	}
}

func readHolder(r *ser.Reader) *LatestHolderCommitment {
	h := &LatestHolderCommitment{CommitmentNumber: r.U64(), Tx: r.Tx()}
	copy(h.CounterpartySig[:], r.Fixed(64))
	h.FeeratePerKw = r.U32()
	n := r.Count(4 + 1 + 8 + 32 + 4 + 64)
	for i := 0; i < n; i++ {
		x := HolderHTLC{OutputIndex: r.U32(), Offered: r.Bool(), AmountMsat: r.U64(), PaymentHash: r.Fixed32(), CltvExpiry: r.U32()}
		copy(x.CounterpartySig[:], r.Fixed(64))
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
	}
}

func readCounterparty(r *ser.Reader) *LatestCounterpartyCommitment {
	c := &LatestCounterpartyCommitment{CommitmentNumber: r.U64(), Txid: r.Hash(), PerCommitmentPoint: r.Point(),
		FeeratePerKw: r.U32(), ToBroadcasterSat: r.I64(), ToCountersignatorySat: r.I64()}
	n := r.Count(4 + 1 + 8 + 32 + 4)
	for i := 0; i < n; i++ {
		c.HTLCs = append(c.HTLCs, CounterpartyHTLC{OutputIndex: int32(r.U32()), Offered: r.Bool(), AmountMsat: r.U64(),
			PaymentHash: r.Fixed32(), CltvExpiry: r.U32()})
	}
	return c
}

// Write serializes the monitor (version byte first).
func (m *ChannelMonitor) Write() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var w ser.Writer
	w.U8(monitorVersion)
	writeParams(&w, &m.params)
	w.U64(m.latestUpdateID)
	writeHolder(&w, m.holder)
	cps := make([]*LatestCounterpartyCommitment, 0, len(m.counterparty))
	for _, c := range m.counterparty {
		cps = append(cps, c)
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].CommitmentNumber < cps[j].CommitmentNumber })
	w.U32(uint32(len(cps)))
	for _, c := range cps {
		writeCounterparty(&w, c)
	}
	w.Var(m.secrets.Encode())
	pres := make([][32]byte, 0, len(m.preimages))
	for _, p := range m.preimages {
		pres = append(pres, p)
	}
	sort.Slice(pres, func(i, j int) bool { return bytes.Compare(pres[i][:], pres[j][:]) < 0 })
	w.U32(uint32(len(pres)))
	for _, p := range pres {
		w.Fixed(p[:])
	}
	w.Var(m.shutdownScript)
	w.Bool(m.forceClosed)
	w.U32(m.bestHeight)
	w.Tx(m.fundingSpendTx)
	w.U32(m.fundingSpendAt)
	w.Bool(m.staticReported)
	w.U32(uint32(len(m.sweeps)))
	for _, s := range m.sweeps {
		w.U8(uint8(s.Kind))
		w.Tx(s.Tx)
		w.U32(s.ValidHeight)
		w.U32(s.ConfHeight)
		w.Bool(s.Reported)
	}
	return w.Bytes()
}

// ReadChannelMonitor reads a monitor written by Write; the channel signer is re-derived from
// signerProvider. Errors: ErrCorrupt.
func ReadChannelMonitor(data []byte, signerProvider keys.SignerProvider) (*ChannelMonitor, error) {
	r := ser.NewReader(data)
	if v := r.U8(); v == 0 || v > monitorVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, v)
	}
	m := &ChannelMonitor{params: readParams(r), counterparty: map[chainhash.Hash]*LatestCounterpartyCommitment{},
		preimages: map[[32]byte][32]byte{}, secrets: keys.NewCounterpartyCommitmentSecrets()}
	m.latestUpdateID = r.U64()
	m.holder = readHolder(r)
	n := r.Count(8 + 32 + 33)
	for i := 0; i < n && r.Err() == nil; i++ {
		c := readCounterparty(r)
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
	m.forceClosed = r.Bool()
	m.bestHeight = r.U32()
	m.fundingSpendTx = r.Tx()
	m.fundingSpendAt = r.U32()
	m.staticReported = r.Bool()
	n = r.Count(1 + 4 + 4 + 4 + 1)
	for i := 0; i < n; i++ {
		s := &sweep{Kind: sweepKind(r.U8()), Tx: r.Tx(), ValidHeight: r.U32(), ConfHeight: r.U32(), Reported: r.Bool()}
		if s.Tx == nil && r.Err() == nil {
			r.Fail("sweep without transaction")
		}
		m.sweeps = append(m.sweeps, s)
	}
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, r.Err())
	}
	if m.params.HolderPubkeys.FundingPubkey == nil || m.params.CounterpartyPubkeys.FundingPubkey == nil {
		return nil, fmt.Errorf("%w: missing keys", ErrCorrupt)
	}
	m.signer = signerProvider.DeriveChannelSigner(m.params.FundingValueSat, m.params.ChannelKeysID)
	if m.signer == nil || !m.signer.Pubkeys().FundingPubkey.IsEqual(m.params.HolderPubkeys.FundingPubkey) {
		return nil, fmt.Errorf("%w: the signer provider does not derive this channel's keys", ErrCorrupt)
	}
	return m, nil
}

// Step tags in an encoded update.
const (
	tagHolder uint8 = iota + 1
	tagCounterparty
	tagSecret
	tagPreimage
	tagForceClosed
	tagShutdownScript
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
		}
	}
	return w.Bytes()
}

// DecodeChannelMonitorUpdate reads an update written by Encode. Errors: ErrCorrupt.
func DecodeChannelMonitorUpdate(data []byte) (*ChannelMonitorUpdate, error) {
	r := ser.NewReader(data)
	if v := r.U8(); v == 0 || v > updateVersion {
		return nil, fmt.Errorf("%w: unknown update version %d", ErrCorrupt, v)
	}
	u := &ChannelMonitorUpdate{UpdateID: r.U64(), ChannelID: lnwire.ChannelID(r.Fixed32())}
	n := r.Count(2)
	for i := 0; i < n && r.Err() == nil; i++ {
		switch tag := r.U8(); tag {
		case tagHolder:
			u.Steps = append(u.Steps, *readHolder(r))
		case tagCounterparty:
			u.Steps = append(u.Steps, *readCounterparty(r))
		case tagSecret:
			u.Steps = append(u.Steps, CommitmentSecret{CommitmentNumber: r.U64(), Secret: r.Fixed32()})
		case tagPreimage:
			u.Steps = append(u.Steps, PaymentPreimage{Preimage: r.Fixed32()})
		case tagForceClosed:
			u.Steps = append(u.Steps, ChannelForceClosed{ShouldBroadcast: r.Bool()})
		case tagShutdownScript:
			u.Steps = append(u.Steps, ShutdownScript{Script: r.Var()})
		default:
			r.Fail("unknown step tag %d", tag)
		}
	}
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, r.Err())
	}
	return u, nil
}
