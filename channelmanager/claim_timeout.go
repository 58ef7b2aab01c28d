package channelmanager

import (
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/internal/sphinx"
)

// MPPTimeoutTicks is how many TimerTickOccurred calls (about a minute apart) an incomplete multi-part
// payment waits for its missing parts; then every part received is failed back with mpp_timeout (BOLT
// 4 code 23, which BOLT 4 lets the final node send after a reasonable time, at least 60 seconds). It is
// LDK's MPP_TIMEOUT_TICKS: three ticks tolerate a slow payer without pinning the parts' liquidity.
const MPPTimeoutTicks = 3

// receivedMsat sums the parts received.
func (cp *claimablePayment) receivedMsat() uint64 {
	var sum uint64
	for _, p := range cp.Parts {
		sum += p.AmountMsat
	}
	return sum
}

// claimDeadline is the height at which the payment's HTLCs are failed back if it is still unclaimed
// (failExpiringClaimables): the earliest part's cltv_expiry less channelmonitor.HTLCFailBackBuffer.
// Claiming later would leave the counterparty too little time to take the fulfill before we had to go
// on chain. PaymentClaimable.ClaimDeadline is this height: claim before it.
func (cp *claimablePayment) claimDeadline() uint32 {
	expiry := ^uint32(0)
	for _, p := range cp.Parts {
		expiry = min(expiry, p.CltvExpiry)
	}
	if expiry < channelmonitor.HTLCFailBackBuffer {
		return 0
	}
	return expiry - channelmonitor.HTLCFailBackBuffer
}

// timeoutIncompleteMPP counts a timer tick for every incomplete payment and fails back, with
// mpp_timeout, those that waited MPPTimeoutTicks ticks. Called by TimerTickOccurred, without locks.
func (cm *ChannelManager) timeoutIncompleteMPP() {
	var expired []claimPart
	cm.inbound.mu.Lock()
	for hash, cp := range cm.inbound.claimable {
		if cp.Announced {
			continue
		}
		if cp.Ticks++; cp.Ticks >= MPPTimeoutTicks {
			cm.log.Info("multi-part payment incomplete; failing its parts back", "hash", hash, "parts", len(cp.Parts))
			expired = append(expired, cp.Parts...)
			delete(cm.inbound.claimable, hash)
			cm.inbound.touchClaimable(hash)
		}
	}
	cm.inbound.mu.Unlock()
	cm.failParts(expired, func(claimPart) sphinx.FailureMessage { return sphinx.NewFailure(sphinx.MPPTimeout) })
}

// failExpiringClaimables fails back, with incorrect_or_unknown_payment_details, every HTLC of a
// payment (claimable or still incomplete) not claimed by its claimDeadline, and forgets the payment
// (the invoice stays valid: the payer may retry). Called by BestBlockUpdated, without locks.
func (cm *ChannelManager) failExpiringClaimables(height uint32) {
	var expired []claimPart
	cm.inbound.mu.Lock()
	for hash, cp := range cm.inbound.claimable {
		if height >= cp.claimDeadline() {
			cm.log.Warn("payment not claimed before its deadline; failing it back", "hash", hash, "deadline", cp.claimDeadline())
			expired = append(expired, cp.Parts...)
			delete(cm.inbound.claimable, hash)
			cm.inbound.touchClaimable(hash)
		}
	}
	cm.inbound.mu.Unlock()
	cm.failParts(expired, func(p claimPart) sphinx.FailureMessage {
		return sphinx.NewIncorrectOrUnknownPaymentDetails(p.AmountMsat, height)
	})
}

// failParts fails the given incoming HTLCs back with failure(part). HTLCs of closed or forgotten
// channels are left to the monitor. Called without locks.
func (cm *ChannelManager) failParts(parts []claimPart, failure func(claimPart) sphinx.FailureMessage) {
	for _, part := range parts {
		ps, c, err := cm.channelFor(part.Counterparty, part.ChannelID)
		if err != nil {
			continue
		}
		if h := c.findHTLC(true, part.HTLCID); h != nil && c.state != stateClosed && h.Remove == removeNone {
			cm.failIncoming(ps, c, h, failure(part))
		}
		ps.mu.Unlock()
	}
}
