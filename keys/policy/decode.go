package policy

import (
	"bytes"
	"fmt"

	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// decodeChannel reads what encodeChannel wrote. Errors: ErrCorruptState.
func decodeChannel(b []byte) (*chanState, error) {
	b, err := versioned(b)
	if err != nil {
		return nil, err
	}
	s, err := stream(b, "channel", 0, 2, 4, 6, 8, 10)
	if err != nil {
		return nil, err
	}
	st := &chanState{}
	pv, _, err := field(s, 0, true, "channel")
	if err != nil {
		return nil, err
	}
	if st.params, err = decodeParams(pv.b); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		t   uint64
		dst *uint64
	}{{4, &st.holderRevokedNext}, {6, &st.holderBroadcast}, {10, &st.cpRevokedNext}} {
		r, ok, _ := field(s, f.t, false, "channel")
		if ok {
			*f.dst = r.u64()
			if err := r.end("channel counter"); err != nil {
				return nil, err
			}
		}
	}
	v, _ := s.Get(2)
	if st.holder, err = decodeRecs(v); err != nil {
		return nil, err
	}
	v, _ = s.Get(8)
	if st.cp, err = decodeRecs(v); err != nil {
		return nil, err
	}
	if len(st.holder) > 2 || len(st.cp) > 1+maxCpVersions {
		return nil, fmt.Errorf("%w: too many commitments", ErrCorruptState)
	}
	return st, nil
}

func decodeKeys(r *reader) keys.ChannelPublicKeys {
	return keys.ChannelPublicKeys{FundingPubkey: r.point(), RevocationBasepoint: r.point(), PaymentPoint: r.point(),
		DelayedPaymentBasepoint: r.point(), HTLCBasepoint: r.point()}
}

func decodeParams(b []byte) (*keys.ChannelTransactionParameters, error) {
	s, err := stream(b, "params", 0, 2, 4, 6, 8, 10, 12, 14, 16)
	if err != nil {
		return nil, err
	}
	p := &keys.ChannelTransactionParameters{}
	for t := uint64(0); t <= 16; t += 2 {
		r, _, err := field(s, t, true, "params")
		if err != nil {
			return nil, err
		}
		switch t {
		case 0:
			v := r.u8()
			r.bad = r.bad || v > 1
			p.IsOutbound = v == 1
		case 2:
			p.FundingOutPoint = readOutPoint(r)
		case 4:
			v := r.u64()
			r.bad = r.bad || !checkSat(v)
			p.ValueSat = int64(v)
		case 6:
			p.PushMsat = r.u64()
		case 8:
			switch bolt3.ChannelType(r.u8()) {
			case bolt3.ChannelTypeStaticRemoteKey:
			case bolt3.ChannelTypeAnchors:
				p.Anchors = true
			default:
				r.bad = true
			}
		case 10:
			p.HolderPubkeys = decodeKeys(r)
		case 12:
			p.CounterpartyPubkeys = decodeKeys(r)
		case 14:
			p.HolderToSelfDelay, p.CounterpartyToSelfDelay = r.u16(), r.u16()
		case 16:
			h, c := r.u64(), r.u64()
			r.bad = r.bad || !checkSat(h) || !checkSat(c)
			p.HolderDustLimitSat, p.CounterpartyDustLimitSat = int64(h), int64(c)
		}
		if err := r.end(fmt.Sprintf("params record %d", t)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func decodeRecs(b []byte) ([]*commitRec, error) {
	items, err := list(b, "commitments")
	if err != nil {
		return nil, err
	}
	recs := make([]*commitRec, 0, len(items))
	for _, it := range items {
		s, err := stream(it, "commitment", 0, 2, 4, 6, 8, 10, 12)
		if err != nil {
			return nil, err
		}
		rec := &commitRec{}
		for t := uint64(0); t <= 8; t += 2 {
			r, _, err := field(s, t, true, "commitment")
			if err != nil {
				return nil, err
			}
			switch t {
			case 0:
				rec.num = r.u64()
				r.bad = r.bad || rec.num > bolt3.MaxCommitmentNumber
			case 2:
				rec.txid = r.hash()
			case 4:
				rec.point = r.point()
			case 6:
				rec.feerate = r.u32()
			case 8:
				rec.toHolderMsat, rec.toCounterpartyMsat = r.u64(), r.u64()
			}
			if err := r.end(fmt.Sprintf("commitment record %d", t)); err != nil {
				return nil, err
			}
		}
		hv, _ := s.Get(10)
		n, err := fixedCount(hv, htlcRecLen, "htlcs")
		if err != nil {
			return nil, err
		}
		if n > bolt3.MaxHTLCs {
			return nil, fmt.Errorf("%w: %d HTLCs", ErrCorruptState, n)
		}
		r := &reader{b: hv}
		rec.htlcs = make([]htlcRec, n)
		for i := range rec.htlcs {
			flags := r.u8()
			r.bad = r.bad || flags > 1
			h := htlcRec{outgoing: flags == 1, amountMsat: r.u64(), hash: r.hash(), cltv: r.u32(), outIndex: int32(r.u32())}
			r.bad = r.bad || h.outIndex < -1
			rec.htlcs[i] = h
		}
		if err := r.end("htlcs"); err != nil {
			return nil, err
		}
		if rec.paid, err = decodePaid(s); err != nil {
			return nil, err
		}
		if len(recs) > 0 && recs[len(recs)-1].num > rec.num {
			return nil, fmt.Errorf("%w: commitments out of order", ErrCorruptState)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// decodeNode reads what encodeNode wrote. Errors: ErrCorruptState.
func decodeNode(b []byte) (*nodeState, error) {
	b, err := versioned(b)
	if err != nil {
		return nil, err
	}
	s, err := stream(b, "node", 0, 2, 4)
	if err != nil {
		return nil, err
	}
	n := &nodeState{ledger: map[[32]byte]*payEntry{}}
	if r, ok, _ := field(s, 0, false, "node"); ok {
		n.now = r.u64()
		if err := r.end("time"); err != nil {
			return nil, err
		}
	}
	v, _ := s.Get(2)
	items, err := list(v, "ledger")
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		h, e, err := decodeEntry(it)
		if err != nil {
			return nil, err
		}
		if n.ledger[h] != nil {
			return nil, fmt.Errorf("%w: ledger hash twice", ErrCorruptState)
		}
		n.ledger[h] = e
	}
	v, _ = s.Get(4)
	cnt, err := fixedCount(v, 16, "velocity")
	if err != nil {
		return nil, err
	}
	r := &reader{b: v}
	for range cnt {
		n.velocity = append(n.velocity, velEntry{at: r.u64(), msat: r.u64()})
	}
	return n, r.end("velocity")
}

func decodeEntry(b []byte) ([32]byte, *payEntry, error) {
	var h [32]byte
	s, err := stream(b, "ledger entry", 0, 2, 4, 6)
	if err != nil {
		return h, nil, err
	}
	e := &payEntry{}
	for t := uint64(0); t <= 6; t += 2 {
		r, _, err := field(s, t, true, "ledger entry")
		if err != nil {
			return h, nil, err
		}
		switch t {
		case 0:
			h = r.hash()
		case 2:
			e.kind = approvalKind(r.u8())
			r.bad = r.bad || e.kind == kindNone || e.kind > kindAuto
		case 4:
			e.approvedMsat = r.u64()
		case 6:
			e.expiresAt = r.u64()
		}
		if err := r.end(fmt.Sprintf("ledger record %d", t)); err != nil {
			return h, nil, err
		}
	}
	return h, e, nil
}

// decodePaid reads a commitment's paid amounts (record 12), hashes strictly increasing.
func decodePaid(s lnwire.TLVStream) (map[[32]byte]uint64, error) {
	v, _ := s.Get(12)
	cnt, err := fixedCount(v, 40, "paid")
	if err != nil || cnt == 0 {
		return nil, err
	}
	r := &reader{b: v}
	paid := make(map[[32]byte]uint64, cnt)
	var last [32]byte
	for i := range cnt {
		h := r.hash()
		if i > 0 && bytes.Compare(h[:], last[:]) <= 0 {
			return nil, fmt.Errorf("%w: paid hashes out of order", ErrCorruptState)
		}
		paid[h], last = r.u64(), h
	}
	return paid, r.end("paid")
}
