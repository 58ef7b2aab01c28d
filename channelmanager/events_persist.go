package channelmanager

import (
	"fmt"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/lnwire"
)

// Pending events are persisted with the manager, so that ProcessPendingEvents hands each event over at
// least once across a crash: an event is dropped from the snapshot only by the Write after the handler
// took it. Events re-derived on Read are not written: PaymentClaimable (announced again from the
// claimable payments), HTLCIntercepted (again from the held HTLCs), and the events of channel
// negotiation, which does not survive a restart (FundingGenerationReady, OpenChannelRequest).
//
// Each event is its kind (u16, the values below, never reused) and a length-prefixed body; a kind this
// version does not know is skipped (an event a newer lnkit added), so the section never blocks a read.
const (
	evKindChannelPending     uint16 = 1
	evKindChannelReady       uint16 = 2
	evKindChannelClosed      uint16 = 3
	evKindPaymentClaimed     uint16 = 4
	evKindPaymentSent        uint16 = 5
	evKindPaymentPathFailed  uint16 = 6
	evKindPaymentFailed      uint16 = 7
	evKindDiscardFunding     uint16 = 8
	evKindPaymentForwarded   uint16 = 9
	evKindHTLCHandlingFailed uint16 = 10
	evKindProbeSuccessful    uint16 = 11
	evKindProbeFailed        uint16 = 12
)

// maxPersistedEvents bounds the events a snapshot may hold.
const maxPersistedEvents = 100_000

// Persisted values of events.ClosureReason (its Go values are not persisted).
var closureReasonCodes = []struct {
	reason events.ClosureReason
	code   uint8
}{
	{events.CounterpartyForceClosed, 1}, {events.HolderForceClosed, 2}, {events.CooperativeClosure, 3},
	{events.CommitmentTxConfirmed, 4}, {events.ProcessingError, 5}, {events.DisconnectedPeer, 6},
	{events.FundingAbandoned, 7},
}

func closureReasonCode(r events.ClosureReason) uint8 {
	for _, c := range closureReasonCodes {
		if c.reason == r {
			return c.code
		}
	}
	return 5
}

func closureReasonOf(code uint8) events.ClosureReason {
	for _, c := range closureReasonCodes {
		if c.code == code {
			return c.reason
		}
	}
	return events.ProcessingError
}

// encodeEvent returns an event's kind and body; ok false for an event that is not persisted.
func encodeEvent(e events.Event) (kind uint16, body []byte, ok bool) {
	var w ser.Writer
	switch ev := e.(type) {
	case events.ChannelPending:
		kind = evKindChannelPending
		w.Fixed(ev.ChannelID[:])
		w.Fixed(ev.UserChannelID[:])
		w.Fixed(ev.FormerTemporaryChannelID[:])
		w.Point(ev.CounterpartyNodeID)
		w.OutPoint(ev.FundingTxo)
	case events.ChannelReady:
		kind = evKindChannelReady
		w.Fixed(ev.ChannelID[:])
		w.Fixed(ev.UserChannelID[:])
		w.Point(ev.CounterpartyNodeID)
		w.Var(ev.ChannelType.FeatureVector().Encode())
	case events.ChannelClosed:
		kind = evKindChannelClosed
		w.Fixed(ev.ChannelID[:])
		w.Fixed(ev.UserChannelID[:])
		w.Bool(ev.CounterpartyNodeID != nil)
		if ev.CounterpartyNodeID != nil {
			w.Point(ev.CounterpartyNodeID)
		}
		w.U8(closureReasonCode(ev.Reason))
		w.Var([]byte(ev.Message))
		w.I64(ev.ChannelCapacitySat)
	case events.PaymentClaimed:
		kind = evKindPaymentClaimed
		w.Point(ev.ReceiverNodeID)
		w.Fixed(ev.PaymentHash[:])
		w.U64(ev.AmountMsat)
		writePurpose(&w, ev.Purpose)
	case events.PaymentSent:
		kind = evKindPaymentSent
		w.Fixed(ev.PaymentID[:])
		w.Fixed(ev.PaymentPreimage[:])
		w.Fixed(ev.PaymentHash[:])
		w.U64(ev.FeePaidMsat)
	case events.PaymentPathFailed:
		kind = evKindPaymentPathFailed
		w.Fixed(ev.PaymentID[:])
		w.Fixed(ev.PaymentHash[:])
		w.Bool(ev.PaymentFailedPermanently)
		w.U16(ev.FailureCode)
		w.Var(ev.FailureData)
		w.I64(int64(ev.ErringHop))
		w.U64(ev.ShortChannelID)
	case events.PaymentFailed:
		kind = evKindPaymentFailed
		w.Fixed(ev.PaymentID[:])
		w.Fixed(ev.PaymentHash[:])
		w.U8(failureReasonCode(ev.Reason))
	case events.DiscardFunding:
		kind = evKindDiscardFunding
		w.Fixed(ev.ChannelID[:])
		w.Fixed(ev.FundingTxid[:])
	case events.PaymentForwarded:
		kind = evKindPaymentForwarded
		w.Fixed(ev.PrevChannelID[:])
		w.Fixed(ev.NextChannelID[:])
		w.U64(ev.IncomingAmountMsat)
		w.U64(ev.OutboundAmountForwardedMsat)
		w.U64(ev.FeeEarnedMsat)
		w.Bool(ev.ClaimedOnChain)
	case events.HTLCHandlingFailed:
		kind = evKindHTLCHandlingFailed
		w.Fixed(ev.PrevChannelID[:])
		w.Fixed(ev.FailedNextDestination.NextChannelID[:])
		w.U64(ev.FailedNextDestination.UnknownNextSCID)
		w.U16(ev.FailureCode)
	case events.ProbeSuccessful:
		kind = evKindProbeSuccessful
		w.Fixed(ev.PaymentID[:])
		w.Fixed(ev.PaymentHash[:])
	case events.ProbeFailed:
		kind = evKindProbeFailed
		w.Fixed(ev.PaymentID[:])
		w.Fixed(ev.PaymentHash[:])
		w.U64(ev.ShortChannelID)
	default:
		return 0, nil, false
	}
	return kind, w.Bytes(), true
}

// fixed16 reads 16 bytes (zero if the data ends: r then holds the error).
func fixed16(r *ser.Reader) (out [16]byte) {
	copy(out[:], r.Fixed(16))
	return out
}

// decodeEvent reads an event encodeEvent wrote; ok false for an unknown kind (skipped).
func decodeEvent(kind uint16, body []byte) (events.Event, bool, error) {
	r := ser.NewReader(body)
	var e events.Event
	switch kind {
	case evKindChannelPending:
		e = events.ChannelPending{ChannelID: r.Fixed32(), UserChannelID: fixed16(r),
			FormerTemporaryChannelID: r.Fixed32(), CounterpartyNodeID: r.Point(), FundingTxo: r.OutPoint()}
	case evKindChannelReady:
		ev := events.ChannelReady{ChannelID: r.Fixed32(), UserChannelID: fixed16(r), CounterpartyNodeID: r.Point()}
		ct, err := lnwire.ChannelTypeFromFeatures(lnwire.DecodeFeatureVector(r.Var()))
		if err != nil {
			r.Fail("channel type: %v", err)
		}
		ev.ChannelType = ct
		e = ev
	case evKindChannelClosed:
		ev := events.ChannelClosed{ChannelID: r.Fixed32(), UserChannelID: fixed16(r)}
		if r.Bool() {
			ev.CounterpartyNodeID = r.Point()
		}
		ev.Reason, ev.Message, ev.ChannelCapacitySat = closureReasonOf(r.U8()), string(r.Var()), r.I64()
		e = ev
	case evKindPaymentClaimed:
		e = events.PaymentClaimed{ReceiverNodeID: r.Point(), PaymentHash: r.Fixed32(), AmountMsat: r.U64(), Purpose: readPurpose(r)}
	case evKindPaymentSent:
		e = events.PaymentSent{PaymentID: r.Fixed32(), PaymentPreimage: r.Fixed32(), PaymentHash: r.Fixed32(), FeePaidMsat: r.U64()}
	case evKindPaymentPathFailed:
		e = events.PaymentPathFailed{PaymentID: r.Fixed32(), PaymentHash: r.Fixed32(), PaymentFailedPermanently: r.Bool(),
			FailureCode: r.U16(), FailureData: r.Var(), ErringHop: int(r.I64()), ShortChannelID: r.U64()}
	case evKindPaymentFailed:
		ev := events.PaymentFailed{PaymentID: r.Fixed32(), PaymentHash: r.Fixed32()}
		reason, ok := failureReasonOf(r.U8())
		if !ok {
			r.Fail("failure reason")
		}
		ev.Reason = reason
		e = ev
	case evKindDiscardFunding:
		e = events.DiscardFunding{ChannelID: r.Fixed32(), FundingTxid: r.Fixed32()}
	case evKindPaymentForwarded:
		e = events.PaymentForwarded{PrevChannelID: r.Fixed32(), NextChannelID: r.Fixed32(), IncomingAmountMsat: r.U64(),
			OutboundAmountForwardedMsat: r.U64(), FeeEarnedMsat: r.U64(), ClaimedOnChain: r.Bool()}
	case evKindHTLCHandlingFailed:
		e = events.HTLCHandlingFailed{PrevChannelID: r.Fixed32(), FailedNextDestination: events.HTLCDestination{
			NextChannelID: r.Fixed32(), UnknownNextSCID: r.U64()}, FailureCode: r.U16()}
	case evKindProbeSuccessful:
		e = events.ProbeSuccessful{PaymentID: r.Fixed32(), PaymentHash: r.Fixed32()}
	case evKindProbeFailed:
		e = events.ProbeFailed{PaymentID: r.Fixed32(), PaymentHash: r.Fixed32(), ShortChannelID: r.U64()}
	default:
		return nil, false, nil
	}
	if err := r.Err(); err != nil {
		return nil, false, fmt.Errorf("%w: event kind %d: %w", ErrCorrupt, kind, err)
	}
	return e, true, nil
}

// writeEvents writes the pending events that are persisted.
func (cm *ChannelManager) writeEvents(w *ser.Writer) {
	cm.queueMu.Lock()
	evs := append([]events.Event(nil), cm.pendingEvents...)
	cm.queueMu.Unlock()
	var enc ser.Writer
	n := 0
	for _, e := range evs {
		kind, body, ok := encodeEvent(e)
		if !ok || n >= maxPersistedEvents {
			continue
		}
		enc.U16(kind)
		enc.Var(body)
		n++
	}
	w.U32(uint32(n))
	w.Fixed(enc.Bytes())
}

// readEvents reads what writeEvents wrote into the pending events.
func (cm *ChannelManager) readEvents(r *ser.Reader) {
	n := r.Count(6)
	if n > maxPersistedEvents {
		r.Fail("%d events", n)
		return
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		kind, body := r.U16(), r.Var()
		if r.Err() != nil {
			return
		}
		e, ok, err := decodeEvent(kind, body)
		if err != nil {
			r.Fail("%v", err)
			return
		}
		if ok {
			cm.pendingEvents = append(cm.pendingEvents, e)
		}
	}
}
