package channelmanager

import (
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// HTLC sources: the opaque reference the ChannelManager gives the monitor with each HTLC we offer
// (LDK's HTLCSource), handed back in the HTLCEvent that reports its on-chain outcome. A source is a
// kind byte and its data; the kinds are persisted in monitors, so their values never change.
const (
	// sourceOutboundPayment: one of our payments; data is its 32-byte PaymentID.
	sourceOutboundPayment byte = 1
)

// htlcSourceOf returns the source of an HTLC we offered, nil for one offered to us.
func htlcSourceOf(h *htlc) []byte {
	if h.Incoming {
		return nil
	}
	return append([]byte{sourceOutboundPayment}, h.PaymentID[:]...)
}

// outboundPaymentOf decodes a source naming one of our payments.
func outboundPaymentOf(src []byte) (events.PaymentID, bool) {
	var id events.PaymentID
	if len(src) != 1+len(id) || src[0] != sourceOutboundPayment {
		return id, false
	}
	copy(id[:], src[1:])
	return id, true
}

// handleHTLCEvent settles one of our payments from its HTLC's on-chain outcome: PaymentSent when the
// counterparty claimed it with the preimage, PaymentPathFailed then PaymentFailed when it timed out
// (or was absent from the commitment that confirmed). A payment already settled is left alone, so the
// events are idempotent.
func (cm *ChannelManager) handleHTLCEvent(ev channelmonitor.HTLCEvent) {
	id, ok := outboundPaymentOf(ev.Source)
	if !ok {
		cm.log.Warn("HTLC event with an unknown source", "channel", ev.ChannelID, "htlc", ev.HTLCID)
		return
	}
	if ev.Preimage != nil {
		cm.paymentSucceeded(id, ev.PaymentHash, *ev.Preimage)
		return
	}
	cm.failOutbound(events.PaymentPathFailed{PaymentID: id, PaymentHash: ev.PaymentHash, ErringHop: -1}, false)
}

// paymentSucceeded reports a payment's success once its preimage is known.
func (cm *ChannelManager) paymentSucceeded(id events.PaymentID, hash, preimage [32]byte) {
	cm.payMu.Lock()
	defer cm.payMu.Unlock()
	op := cm.outbound[id]
	if op == nil || op.Done {
		return
	}
	op.Done = true
	cm.queueEvent(events.PaymentSent{PaymentID: op.ID, PaymentPreimage: preimage, PaymentHash: hash, FeePaidMsat: op.FeeMsat})
}

// processMonitorEvents pulls the monitors' events: completed persistence, on-chain closes, HTLC
// outcomes, and force closes the monitors decided on.
func (cm *ChannelManager) processMonitorEvents() {
	for _, ev := range cm.watch.ReleasePendingMonitorEvents() {
		if h, ok := ev.(channelmonitor.HTLCEvent); ok {
			cm.handleHTLCEvent(h)
			continue
		}
		chanID, _ := ev.Channel()
		ps, c := cm.findChannel(chanID)
		if ps == nil {
			continue
		}
		ps.mu.Lock()
		switch e := ev.(type) {
		case channelmonitor.MonitorUpdateCompleted:
			cm.monitorUpdated(c, e.UpdateID)
		case channelmonitor.CommitmentTxConfirmed:
			cm.closeChannelLocked(ps, c, closure{events.CommitmentTxConfirmed, "commitment transaction confirmed", false})
			delete(ps.channels, c.channelID)
		case channelmonitor.CooperativeCloseConfirmed:
			cm.closeChannelLocked(ps, c, closure{events.CooperativeClosure, "closing transaction confirmed", false})
			delete(ps.channels, c.channelID)
		case channelmonitor.HolderForceClosed:
			if c.state != stateClosed {
				cm.apply(ps, c, c.failWithError(e.Reason, closure{events.HolderForceClosed, e.Reason, true}))
			}
		}
		ps.mu.Unlock()
	}
}
