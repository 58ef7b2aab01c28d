package channelmanager

import (
	"fmt"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/lnwire"
)

// Record types of a persisted retryState (even: required; odd: optional).
const (
	rtyRecParams   uint64 = 0
	rtyRecRetry    uint64 = 2
	rtyRecSecret   uint64 = 1
	rtyRecFeatures uint64 = 3
	rtyRecFailed   uint64 = 5
	rtyRecKeysend  uint64 = 7
)

// encodeRetry writes a payment's retry state as a TLV stream; nil for none.
func encodeRetry(rs *retryState) []byte {
	if rs == nil {
		return nil
	}
	var s lnwire.TLVStream
	rec := func(t uint64, f func(w *ser.Writer)) { s = srcRecord(s, t, f) }
	p := &rs.Params
	rec(rtyRecParams, func(w *ser.Writer) {
		w.Fixed(p.Payee[:])
		w.U64(p.FinalValueMsat)
		w.U32(p.FinalCLTVExpiryDelta)
		w.U32(p.MaxTotalCLTVExpiryDelta)
		w.U8(p.MaxPathCount)
		w.U8(p.MaxPathLength)
		w.U8(p.MaxChannelSaturationPowerOfHalf)
		w.U64(p.MaxTotalRoutingFeeMsat)
	})
	if rs.Secret != nil {
		rec(rtyRecSecret, func(w *ser.Writer) { w.Fixed(rs.Secret[:]) })
	}
	rec(rtyRecRetry, func(w *ser.Writer) {
		w.U32(uint32(rs.Retry.Attempts))
		w.U32(uint32(rs.Retry.TimeoutTicks))
		w.U32(uint32(rs.Attempts))
		w.U32(uint32(rs.Ticks))
		w.U64(rs.RetryMsat)
		w.Bool(rs.Abandoned)
		w.U8(failureReasonCode(rs.Reason))
	})
	if p.PayeeFeatures != nil {
		rec(rtyRecFeatures, func(w *ser.Writer) { w.Fixed(p.PayeeFeatures.Encode()) })
	}
	if len(p.PreviouslyFailedChannels) > 0 {
		rec(rtyRecFailed, func(w *ser.Writer) {
			for _, scid := range p.PreviouslyFailedChannels {
				w.U64(scid)
			}
		})
	}
	if rs.Keysend != nil {
		rec(rtyRecKeysend, func(w *ser.Writer) { w.Fixed(rs.Keysend[:]) })
	}
	return s.Encode()
}

// maxRetryFailedChannels bounds the failed channels a persisted retry state may list.
const maxRetryFailedChannels = 4096

// decodeRetry reads what encodeRetry wrote (nil for none). Errors wrap ErrCorrupt.
func decodeRetry(b []byte) (*retryState, error) {
	if len(b) == 0 {
		return nil, nil
	}
	s, err := lnwire.DecodeTLVStream(b)
	if err == nil {
		err = s.CheckUnknownEven(rtyRecParams, rtyRecRetry)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: retry state: %w", ErrCorrupt, err)
	}
	rs := &retryState{}
	p := &rs.Params
	rp := sourceValue(s, rtyRecParams)
	copy(p.Payee[:], rp.Fixed(33))
	p.FinalValueMsat, p.FinalCLTVExpiryDelta, p.MaxTotalCLTVExpiryDelta = rp.U64(), rp.U32(), rp.U32()
	p.MaxPathCount, p.MaxPathLength, p.MaxChannelSaturationPowerOfHalf = rp.U8(), rp.U8(), rp.U8()
	p.MaxTotalRoutingFeeMsat = rp.U64()
	rr := sourceValue(s, rtyRecRetry)
	rs.Retry.Attempts, rs.Retry.TimeoutTicks = int(rr.U32()), int(rr.U32())
	rs.Attempts, rs.Ticks = int(rr.U32()), int(rr.U32())
	rs.RetryMsat, rs.Abandoned = rr.U64(), rr.Bool()
	reason, ok := failureReasonOf(rr.U8())
	if !ok {
		rr.Fail("unknown failure reason")
	}
	rs.Reason = reason
	readers := []*ser.Reader{rp, rr}
	if v, ok := s.Get(rtyRecSecret); ok {
		r := ser.NewReader(v)
		secret := r.Fixed32()
		rs.Secret = &secret
		readers = append(readers, r)
	}
	if v, ok := s.Get(rtyRecKeysend); ok {
		r := ser.NewReader(v)
		pre := r.Fixed32()
		rs.Keysend = &pre
		readers = append(readers, r)
	}
	if v, ok := s.Get(rtyRecFeatures); ok {
		p.PayeeFeatures = lnwire.DecodeFeatureVector(v)
	}
	if v, ok := s.Get(rtyRecFailed); ok {
		r := ser.NewReader(v)
		if len(v)%8 != 0 || len(v)/8 > maxRetryFailedChannels {
			r.Fail("%d bytes of failed channels", len(v))
		}
		for r.Err() == nil && r.Remaining() > 0 {
			p.PreviouslyFailedChannels = append(p.PreviouslyFailedChannels, r.U64())
		}
		readers = append(readers, r)
	}
	for _, r := range readers {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("%w: retry state: %w", ErrCorrupt, err)
		}
	}
	return rs, nil
}

// Persisted values of events.PaymentFailureReason (its Go values are not persisted).
var failureReasonCodes = []struct {
	reason events.PaymentFailureReason
	code   uint8
}{
	{events.RecipientRejected, 1}, {events.UserAbandoned, 2}, {events.RetriesExhausted, 3},
	{events.PaymentExpired, 4}, {events.RouteNotFound, 5}, {events.UnexpectedError, 6},
}

func failureReasonCode(r events.PaymentFailureReason) uint8 {
	for _, c := range failureReasonCodes {
		if c.reason == r {
			return c.code
		}
	}
	return 6
}

func failureReasonOf(code uint8) (events.PaymentFailureReason, bool) {
	for _, c := range failureReasonCodes {
		if c.code == code {
			return c.reason, true
		}
	}
	return 0, false
}
