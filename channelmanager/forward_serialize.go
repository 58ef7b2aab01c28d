package channelmanager

import (
	"fmt"

	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
)

// Record types of a persisted forwardOp (even: required; odd: optional).
const (
	fwdRecKind     uint64 = 0
	fwdRecAdd      uint64 = 1
	fwdRecPrev     uint64 = 2
	fwdRecNext     uint64 = 3
	fwdRecHash     uint64 = 4
	fwdRecPreimage uint64 = 5
	fwdRecReason   uint64 = 7
	fwdRecFailure  uint64 = 9
)

// encodeForwardOp writes a queued forwarding step as a TLV stream.
func encodeForwardOp(op *forwardOp) []byte {
	var s lnwire.TLVStream
	rec := func(t uint64, f func(w *ser.Writer)) { s = srcRecord(s, t, f) }
	rec(fwdRecKind, func(w *ser.Writer) { w.U8(uint8(op.Kind)) })
	if op.Kind == forwardAdd {
		rec(fwdRecAdd, func(w *ser.Writer) {
			w.U64(op.NextSCID)
			w.U64(op.AmtToForward)
			w.U32(op.OutgoingCLTV)
			w.U32(op.IncomingCLTV)
			w.Fixed(op.NextOnion[:])
		})
	}
	rec(fwdRecPrev, func(w *ser.Writer) { w.Var(encodeSource(&op.Prev)) })
	rec(fwdRecNext, func(w *ser.Writer) {
		w.Fixed(op.NextChannelID[:])
		w.U64(op.OutgoingAmtMsat)
		w.U64(op.NextSCID)
	})
	rec(fwdRecHash, func(w *ser.Writer) { w.Fixed(op.Hash[:]) })
	if op.Kind == forwardClaimBack {
		rec(fwdRecPreimage, func(w *ser.Writer) {
			w.Fixed(op.Preimage[:])
			w.Bool(op.ClaimedOnChain)
		})
	}
	if op.Reason != nil {
		rec(fwdRecReason, func(w *ser.Writer) { w.Fixed(op.Reason) })
	}
	if op.Kind == forwardFailBack && op.Reason == nil {
		rec(fwdRecFailure, func(w *ser.Writer) {
			w.U16(uint16(op.Failure.Code))
			w.Fixed(op.Failure.Data)
		})
	}
	return s.Encode()
}

// decodeForwardOp reads what encodeForwardOp wrote. Errors wrap ErrCorrupt.
func decodeForwardOp(b []byte) (forwardOp, error) {
	var op forwardOp
	s, err := lnwire.DecodeTLVStream(b)
	if err == nil {
		err = s.CheckUnknownEven(fwdRecKind, fwdRecPrev, fwdRecHash)
	}
	if err != nil {
		return op, fmt.Errorf("%w: forward: %w", ErrCorrupt, err)
	}
	rk := sourceValue(s, fwdRecKind)
	op.Kind = forwardKind(rk.U8())
	if op.Kind < forwardAdd || op.Kind > forwardFailBack {
		rk.Fail("kind %d", op.Kind)
	}
	rp := sourceValue(s, fwdRecPrev)
	src, serr := decodeSource(rp.Var())
	prev, ok := src.(*prevHopSource)
	if serr != nil || !ok {
		rp.Fail("previous hop: %v", serr)
	} else {
		op.Prev = *prev
	}
	rh := sourceValue(s, fwdRecHash)
	op.Hash = rh.Fixed32()
	readers := []*ser.Reader{rk, rp, rh}
	if v, ok := s.Get(fwdRecNext); ok {
		r := ser.NewReader(v)
		op.NextChannelID, op.OutgoingAmtMsat, op.NextSCID = r.Fixed32(), r.U64(), r.U64()
		readers = append(readers, r)
	}
	if op.Kind == forwardAdd {
		r := sourceValue(s, fwdRecAdd)
		op.NextSCID, op.AmtToForward, op.OutgoingCLTV, op.IncomingCLTV = r.U64(), r.U64(), r.U32(), r.U32()
		copy(op.NextOnion[:], r.Fixed(len(op.NextOnion)))
		readers = append(readers, r)
	}
	if op.Kind == forwardClaimBack {
		r := sourceValue(s, fwdRecPreimage)
		op.Preimage, op.ClaimedOnChain = r.Fixed32(), r.Bool()
		readers = append(readers, r)
	}
	if v, ok := s.Get(fwdRecReason); ok {
		op.Reason = append([]byte(nil), v...)
	}
	if v, ok := s.Get(fwdRecFailure); ok {
		r := ser.NewReader(v)
		op.Failure.Code = sphinx.FailureCode(r.U16())
		op.Failure.Data = r.Fixed(r.Remaining())
		readers = append(readers, r)
	}
	for _, r := range readers {
		if err := r.Err(); err != nil {
			return op, fmt.Errorf("%w: forward: %w", ErrCorrupt, err)
		}
	}
	return op, nil
}

// writeForwards writes the forward queue, the intercept scids and the intercepted HTLCs (manager
// version 3).
func (cm *ChannelManager) writeForwards(w *ser.Writer) {
	ops := cm.forwards.snapshot()
	w.U32(uint32(len(ops)))
	for i := range ops {
		w.Var(encodeForwardOp(&ops[i]))
	}
	cm.intercepts.mu.Lock()
	defer cm.intercepts.mu.Unlock()
	w.U32(uint32(len(cm.intercepts.scids)))
	for scid := range cm.intercepts.scids {
		w.U64(scid)
	}
	w.U32(uint32(len(cm.intercepts.held)))
	for _, op := range cm.intercepts.held {
		w.Var(encodeForwardOp(&op))
	}
}

// readForwards reads the forward queue written by writeForwards.
func (cm *ChannelManager) readForwards(r *ser.Reader) {
	n := r.Count(4)
	if n > maxPendingForwardOps*2 {
		r.Fail("%d queued forwards", n)
		return
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		op, err := decodeForwardOp(r.Var())
		if err != nil {
			r.Fail("%v", err)
			return
		}
		cm.forwards.ops = append(cm.forwards.ops, op)
	}
	n = r.Count(8)
	for i := 0; i < n && r.Err() == nil; i++ {
		cm.intercepts.scids[r.U64()] = true
	}
	n = r.Count(4)
	for i := 0; i < n && r.Err() == nil; i++ {
		op, err := decodeForwardOp(r.Var())
		if err != nil {
			r.Fail("%v", err)
			return
		}
		cm.intercepts.held[interceptIDOf(&op.Prev)] = op
	}
}
