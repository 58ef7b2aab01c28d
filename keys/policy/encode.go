package policy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// Persisted form: one version byte (stateVersion), then a TLV stream (BOLT 1 framing, lnwire). Nested
// records are TLV streams too; a list is a sequence of BigSize-length-prefixed items. Unknown odd
// types are skipped, unknown even ones refused. Enums are written as explicit values.
//
//	channel: 0 params, 2 holder commitments, 4 holder_revoked_next, 6 holder_broadcast,
//	         8 counterparty commitments, 10 cp_revoked_next
//	params:  0 outbound (0|1), 2 funding outpoint (txid, u32), 4 value_sat, 6 push_msat,
//	         8 channel type (0 static_remotekey, 1 anchors), 10 holder keys (5x33), 12 counterparty keys,
//	         14 to_self_delays (holder u16, counterparty u16), 16 dust limits (holder u64, counterparty u64)
//	commit:  0 number, 2 txid, 4 point (33), 6 feerate_per_kw (u32), 8 to_holder/to_counterparty msat,
//	         10 htlcs (49 bytes each: flags (bit 0 outgoing), amount_msat, hash, cltv u32, output u32|ffffffff),
//	         12 paid (hash 32, msat u64 each, increasing hashes)
//	node:    0 time, 2 ledger entries (increasing hashes), 4 velocity (at u64, msat u64 each)
//	entry:   0 hash, 2 kind (1 invoice, 2 keysend, 3 auto), 4 approved_msat, 6 expires_at
const stateVersion = 1

const htlcRecLen = 1 + 8 + 32 + 4 + 4

func u64b(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func appendList(items [][]byte) []byte {
	var b []byte
	for _, it := range items {
		b = lnwire.AppendBigSize(b, uint64(len(it)))
		b = append(b, it...)
	}
	return b
}

func encodeChannel(st *chanState) []byte {
	var s lnwire.TLVStream
	s = s.Set(0, encodeParams(st.params))
	s = s.Set(2, encodeRecs(st.holder))
	s = s.Set(4, u64b(st.holderRevokedNext))
	s = s.Set(6, u64b(st.holderBroadcast))
	s = s.Set(8, encodeRecs(st.cp))
	s = s.Set(10, u64b(st.cpRevokedNext))
	return s.Append([]byte{stateVersion})
}

func appendKeys(b []byte, k keys.ChannelPublicKeys) []byte {
	for _, p := range []*btcec.PublicKey{k.FundingPubkey, k.RevocationBasepoint, k.PaymentPoint, k.DelayedPaymentBasepoint, k.HTLCBasepoint} {
		b = append(b, p.SerializeCompressed()...)
	}
	return b
}

func encodeParams(p *keys.ChannelTransactionParameters) []byte {
	var s lnwire.TLVStream
	outbound, typ := byte(0), byte(bolt3.ChannelTypeStaticRemoteKey)
	if p.IsOutbound {
		outbound = 1
	}
	if p.Anchors {
		typ = byte(bolt3.ChannelTypeAnchors)
	}
	s = s.Set(0, []byte{outbound})
	s = s.Set(2, binary.BigEndian.AppendUint32(append([]byte(nil), p.FundingOutPoint.Hash[:]...), p.FundingOutPoint.Index))
	s = s.Set(4, u64b(uint64(p.ValueSat)))
	s = s.Set(6, u64b(p.PushMsat))
	s = s.Set(8, []byte{typ})
	s = s.Set(10, appendKeys(nil, p.HolderPubkeys))
	s = s.Set(12, appendKeys(nil, p.CounterpartyPubkeys))
	s = s.Set(14, binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, p.HolderToSelfDelay), p.CounterpartyToSelfDelay))
	s = s.Set(16, binary.BigEndian.AppendUint64(u64b(uint64(p.HolderDustLimitSat)), uint64(p.CounterpartyDustLimitSat)))
	return s.Encode()
}

func encodeRecs(recs []*commitRec) []byte {
	items := make([][]byte, len(recs))
	for i, r := range recs {
		var s lnwire.TLVStream
		s = s.Set(0, u64b(r.num))
		s = s.Set(2, append([]byte(nil), r.txid[:]...))
		s = s.Set(4, r.point.SerializeCompressed())
		s = s.Set(6, binary.BigEndian.AppendUint32(nil, r.feerate))
		s = s.Set(8, binary.BigEndian.AppendUint64(u64b(r.toHolderMsat), r.toCounterpartyMsat))
		hb := make([]byte, 0, len(r.htlcs)*htlcRecLen)
		for _, h := range r.htlcs {
			flags := byte(0)
			if h.outgoing {
				flags = 1
			}
			hb = append(hb, flags)
			hb = binary.BigEndian.AppendUint64(hb, h.amountMsat)
			hb = append(hb, h.hash[:]...)
			hb = binary.BigEndian.AppendUint32(hb, h.cltv)
			hb = binary.BigEndian.AppendUint32(hb, uint32(h.outIndex))
		}
		s = s.Set(10, hb)
		var pb []byte
		for _, h := range sortedHashes(r.paid) {
			pb = binary.BigEndian.AppendUint64(append(pb, h[:]...), r.paid[h])
		}
		s = s.Set(12, pb)
		items[i] = s.Encode()
	}
	return appendList(items)
}

func encodeNode(n *nodeState) []byte {
	var s lnwire.TLVStream
	s = s.Set(0, u64b(n.now))
	hashes := sortedHashes(n.ledger)
	items := make([][]byte, len(hashes))
	for i, h := range hashes {
		e := n.ledger[h]
		var es lnwire.TLVStream
		es = es.Set(0, append([]byte(nil), h[:]...))
		es = es.Set(2, []byte{byte(e.kind)})
		es = es.Set(4, u64b(e.approvedMsat))
		es = es.Set(6, u64b(e.expiresAt))
		items[i] = es.Encode()
	}
	s = s.Set(2, appendList(items))
	var vb []byte
	for _, v := range n.velocity {
		vb = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(vb, v.at), v.msat)
	}
	s = s.Set(4, vb)
	return s.Append([]byte{stateVersion})
}

// sortedHashes returns m's keys in increasing order.
func sortedHashes[V any](m map[[32]byte]V) [][32]byte {
	hs := make([][32]byte, 0, len(m))
	for h := range m {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return bytes.Compare(hs[i][:], hs[j][:]) < 0 })
	return hs
}

// reader reads fixed-size fields; any short read or leftover makes end fail.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if len(r.b) < n {
		r.bad, r.b = true, nil
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte    { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }
func (r *reader) hash() (h [32]byte) {
	copy(h[:], r.take(32))
	return h
}

func (r *reader) point() *btcec.PublicKey {
	p, err := btcec.ParsePubKey(r.take(33))
	if err != nil {
		r.bad = true
	}
	return p
}

func (r *reader) end(what string) error {
	if r.bad || len(r.b) != 0 {
		return fmt.Errorf("%w: %s", ErrCorruptState, what)
	}
	return nil
}

// stream decodes a TLV stream and refuses unknown even types.
func stream(b []byte, what string, known ...uint64) (lnwire.TLVStream, error) {
	s, err := lnwire.DecodeTLVStream(b)
	if err == nil {
		err = s.CheckUnknownEven(known...)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptState, what, err)
	}
	return s, nil
}

// versioned strips and checks the version byte.
func versioned(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != stateVersion {
		return nil, fmt.Errorf("%w: unknown version", ErrCorruptState)
	}
	return b[1:], nil
}

// field returns a reader over record t; a missing required record is an error, a missing optional one
// an empty reader with ok false.
func field(s lnwire.TLVStream, t uint64, required bool, what string) (*reader, bool, error) {
	v, ok := s.Get(t)
	if !ok && required {
		return nil, false, fmt.Errorf("%w: %s: record %d missing", ErrCorruptState, what, t)
	}
	return &reader{b: v}, ok, nil
}

// list splits a length-prefixed list.
func list(b []byte, what string) ([][]byte, error) {
	var items [][]byte
	for len(b) > 0 {
		l, n, err := lnwire.ReadBigSize(b)
		if err != nil || l > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: %s list", ErrCorruptState, what)
		}
		items = append(items, b[n:n+int(l)])
		b = b[n+int(l):]
	}
	return items, nil
}

// fixedCount checks that b holds whole items of size n and returns their number.
func fixedCount(b []byte, n int, what string) (int, error) {
	if len(b)%n != 0 {
		return 0, fmt.Errorf("%w: %s length", ErrCorruptState, what)
	}
	return len(b) / n, nil
}

func checkSat(v uint64) bool { return v <= uint64(btcutil.MaxSatoshi) }

// readOutPoint reads a funding outpoint.
func readOutPoint(r *reader) wire.OutPoint {
	h := r.hash()
	return wire.OutPoint{Hash: h, Index: r.u32()}
}
