package channelmanager

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/lnwire"
)

// htlcSource is where an HTLC we offer comes from (LDK's HTLCSource): a path of one of our own payments
// (pathSource) or an incoming HTLC we forward (prevHopSource). The channel keeps it with the HTLC and
// never looks inside; when the HTLC is fulfilled or failed, the manager acts on it by its kind. A channel
// snapshot holds the whole source (encodeSource); the channel's monitor holds the compact form
// (monitorSource) and hands it back with the HTLC's on-chain outcome.
type htlcSource interface {
	// kind is the source's persisted kind byte.
	kind() byte
	// monitorSource is what the monitor keeps: enough to settle the HTLC's outcome once the manager
	// has forgotten the channel.
	monitorSource() []byte
}

// Source kinds. They are persisted, in channel snapshots and in monitors, so their values never change.
const (
	// sourceOutboundPayment: one of our payments, as the monitor keeps it; data is its 32-byte PaymentID.
	sourceOutboundPayment byte = 1
	// sourcePath: one of our payments' paths as a channel snapshot keeps it: a TLV stream.
	sourcePath byte = 2
	// sourcePrevHop: an incoming HTLC we forward; a TLV stream, in snapshots and monitors alike.
	sourcePrevHop byte = 3
	// sourcePaymentPath: one path of one of our payments, as the monitor keeps it: the 32-byte
	// PaymentID and the path's index (u32).
	sourcePaymentPath byte = 4
)

// maxSourceHops bounds the shared secrets a persisted path source may hold (BOLT 4 onions fit at most
// 27 hops of the smallest TLV payload).
const maxSourceHops = 27

// pathSource is one path of one of our payments.
type pathSource struct {
	PaymentID events.PaymentID
	// PathIndex is the path's index in the payment's route (0 for a single-path payment).
	PathIndex uint32
	// SharedSecrets are the onion's per-hop shared secrets, to decrypt a returned error (BOLT 4).
	SharedSecrets [][32]byte
}

func (s *pathSource) kind() byte { return sourcePath }

func (s *pathSource) monitorSource() []byte {
	b := append([]byte{sourcePaymentPath}, s.PaymentID[:]...)
	return binary.BigEndian.AppendUint32(b, s.PathIndex)
}

// prevHopSource is the incoming HTLC an HTLC we offer forwards: where its preimage must be claimed and
// its failure sent back.
type prevHopSource struct {
	Counterparty   *btcec.PublicKey
	ChannelID      lnwire.ChannelID
	ShortChannelID lnwire.ShortChannelID
	HTLCID         uint64
	// IncomingAmountMsat is the incoming HTLC's amount (the forward's fee is it less ours).
	IncomingAmountMsat uint64
	// SharedSecret is the incoming onion's shared secret, to wrap a failure for the payer (BOLT 4).
	SharedSecret [32]byte
	// FundingTxo reaches the incoming channel's monitor after the manager forgot the channel.
	FundingTxo wire.OutPoint
}

func (s *prevHopSource) kind() byte { return sourcePrevHop }

func (s *prevHopSource) monitorSource() []byte { return encodeSource(s) }

// Record types of the TLV-encoded sources (even: required; odd: optional).
const (
	srcRecPaymentID     uint64 = 0
	srcRecSharedSecrets uint64 = 2
	srcRecPathIndex     uint64 = 3
	srcRecCounterparty  uint64 = 0
	srcRecChannel       uint64 = 2
	srcRecHTLC          uint64 = 4
	srcRecSharedSecret  uint64 = 6
	srcRecFundingTxo    uint64 = 1
)

func srcRecord(s lnwire.TLVStream, t uint64, f func(w *ser.Writer)) lnwire.TLVStream {
	var w ser.Writer
	f(&w)
	return append(s, lnwire.TLVRecord{Type: t, Value: w.Bytes()})
}

// encodeSource writes a source as its kind byte and a TLV stream; nil for none.
func encodeSource(src htlcSource) []byte {
	var s lnwire.TLVStream
	switch x := src.(type) {
	case nil:
		return nil
	case *pathSource:
		s = srcRecord(s, srcRecPaymentID, func(w *ser.Writer) { w.Fixed(x.PaymentID[:]) })
		s = srcRecord(s, srcRecSharedSecrets, func(w *ser.Writer) {
			for _, ss := range x.SharedSecrets {
				w.Fixed(ss[:])
			}
		})
		if x.PathIndex != 0 {
			s = srcRecord(s, srcRecPathIndex, func(w *ser.Writer) { w.U32(x.PathIndex) })
		}
	case *prevHopSource:
		s = srcRecord(s, srcRecCounterparty, func(w *ser.Writer) { w.Point(x.Counterparty) })
		s = srcRecord(s, srcRecFundingTxo, func(w *ser.Writer) { w.OutPoint(x.FundingTxo) })
		s = srcRecord(s, srcRecChannel, func(w *ser.Writer) {
			w.Fixed(x.ChannelID[:])
			w.U64(x.ShortChannelID.ToUint64())
		})
		s = srcRecord(s, srcRecHTLC, func(w *ser.Writer) {
			w.U64(x.HTLCID)
			w.U64(x.IncomingAmountMsat)
		})
		s = srcRecord(s, srcRecSharedSecret, func(w *ser.Writer) { w.Fixed(x.SharedSecret[:]) })
	}
	return s.Append([]byte{src.kind()})
}

// decodeSource reads what encodeSource or monitorSource wrote. Errors wrap ErrCorrupt.
func decodeSource(b []byte) (htlcSource, error) {
	if len(b) == 0 {
		return nil, nil
	}
	switch b[0] {
	case sourceOutboundPayment:
		if len(b) != 33 {
			return nil, fmt.Errorf("%w: payment source of %d bytes", ErrCorrupt, len(b))
		}
		return &pathSource{PaymentID: events.PaymentID(b[1:])}, nil
	case sourcePaymentPath:
		if len(b) != 37 {
			return nil, fmt.Errorf("%w: payment path source of %d bytes", ErrCorrupt, len(b))
		}
		return &pathSource{PaymentID: events.PaymentID(b[1:33]), PathIndex: binary.BigEndian.Uint32(b[33:])}, nil
	}
	s, err := lnwire.DecodeTLVStream(b[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: HTLC source: %w", ErrCorrupt, err)
	}
	switch b[0] {
	case sourcePath:
		return decodePathSource(s)
	case sourcePrevHop:
		return decodePrevHopSource(s)
	}
	return nil, fmt.Errorf("%w: HTLC source of unknown kind %d", ErrCorrupt, b[0])
}

// sourceValue returns record t of s as a reader, failing r if it is missing.
func sourceValue(s lnwire.TLVStream, t uint64) *ser.Reader {
	v, ok := s.Get(t)
	r := ser.NewReader(v)
	if !ok {
		r.Fail("record %d missing", t)
	}
	return r
}

func decodePathSource(s lnwire.TLVStream) (htlcSource, error) {
	if err := s.CheckUnknownEven(srcRecPaymentID, srcRecSharedSecrets); err != nil {
		return nil, fmt.Errorf("%w: path source: %w", ErrCorrupt, err)
	}
	src := &pathSource{}
	r := sourceValue(s, srcRecPaymentID)
	src.PaymentID = r.Fixed32()
	rs := sourceValue(s, srcRecSharedSecrets)
	if rs.Remaining()%32 != 0 || rs.Remaining()/32 > maxSourceHops {
		rs.Fail("%d bytes of shared secrets", rs.Remaining())
	}
	for rs.Err() == nil && rs.Remaining() > 0 {
		src.SharedSecrets = append(src.SharedSecrets, rs.Fixed32())
	}
	readers := []*ser.Reader{r, rs}
	if v, ok := s.Get(srcRecPathIndex); ok {
		ri := ser.NewReader(v)
		src.PathIndex = ri.U32()
		readers = append(readers, ri)
	}
	for _, rr := range readers {
		if err := rr.Err(); err != nil {
			return nil, fmt.Errorf("%w: path source: %w", ErrCorrupt, err)
		}
	}
	return src, nil
}

func decodePrevHopSource(s lnwire.TLVStream) (htlcSource, error) {
	if err := s.CheckUnknownEven(srcRecCounterparty, srcRecChannel, srcRecHTLC, srcRecSharedSecret); err != nil {
		return nil, fmt.Errorf("%w: forward source: %w", ErrCorrupt, err)
	}
	src := &prevHopSource{}
	rp := sourceValue(s, srcRecCounterparty)
	src.Counterparty = rp.Point()
	rc := sourceValue(s, srcRecChannel)
	src.ChannelID = rc.Fixed32()
	src.ShortChannelID = lnwire.NewShortChannelIDFromUint64(rc.U64())
	rh := sourceValue(s, srcRecHTLC)
	src.HTLCID, src.IncomingAmountMsat = rh.U64(), rh.U64()
	rss := sourceValue(s, srcRecSharedSecret)
	src.SharedSecret = rss.Fixed32()
	readers := []*ser.Reader{rp, rc, rh, rss}
	if v, ok := s.Get(srcRecFundingTxo); ok {
		rf := ser.NewReader(v)
		src.FundingTxo = rf.OutPoint()
		readers = append(readers, rf)
	}
	for _, rr := range readers {
		if err := rr.Err(); err != nil {
			return nil, fmt.Errorf("%w: forward source: %w", ErrCorrupt, err)
		}
	}
	return src, nil
}
