package channelmanager

import (
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// htlcSourceOf returns what the monitor keeps as the source of an HTLC we offered (nil for one offered
// to us): it comes back in the HTLCEvent that reports the HTLC's on-chain outcome.
func htlcSourceOf(h *htlc) []byte {
	if h.Incoming || h.Source == nil {
		return nil
	}
	return h.Source.monitorSource()
}

// handleHTLCEvent settles one of our payments from its HTLC's on-chain outcome: PaymentSent when the
// counterparty claimed it with the preimage, PaymentPathFailed then PaymentFailed when it timed out
// (or was absent from the commitment that confirmed). A payment already settled is left alone, so the
// events are idempotent.
func (cm *ChannelManager) handleHTLCEvent(ev channelmonitor.HTLCEvent) {
	src, err := decodeSource(ev.Source)
	if err != nil || src == nil {
		cm.log.Warn("HTLC event with an unknown source", "channel", ev.ChannelID, "htlc", ev.HTLCID, "err", err)
		return
	}
	out := outgoingHTLC{channelID: ev.ChannelID, amountMsat: ev.AmountMsat, onChain: true}
	if ev.Preimage != nil {
		cm.htlcFulfilled(src, ev.PaymentHash, *ev.Preimage, out)
		return
	}
	cm.htlcFailed(src, ev.PaymentHash, htlcFailure{}, out)
}

// paymentSucceeded records a path's preimage: the payment's PaymentSent on the first one. Later paths'
// outcomes (their preimage, or a failure) only mark the paths resolved.
func (cm *ChannelManager) paymentSucceeded(src *pathSource, hash, preimage [32]byte) {
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	op := cm.outbound.byID[src.PaymentID]
	if op == nil || !op.resolvePath(src.PathIndex, pathSucceeded) {
		return
	}
	cm.outbound.touch(src.PaymentID)
	cm.markNeedsPersist()
	if r, p := cm.getRouter(), &op.Paths[src.PathIndex].Route; r != nil && len(p.Hops) > 0 {
		r.PaymentPathSuccessful(p)
	}
	if op.Done {
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
