package channelmanager

import (
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// pathKey names one path of one of our payments.
type pathKey struct {
	id  events.PaymentID
	idx uint32
}

// reconcileOutbound fails, after a restart, the paths of pending payments that exist nowhere: the
// snapshot registered the payment (payments are registered before their HTLC is added) but no channel
// holds its HTLC, so it never left and never will. Such a path fails as if refused at once: the
// payment retries it or ends in PaymentFailed, instead of staying pending with nothing in flight.
//
// Money first: a path is failed only when no channel has it and no monitor of a channel the manager
// no longer holds is still resolving HTLCs on chain (such a monitor may hold it; its outcome comes
// as an HTLCEvent). Failing a path that is in fact in flight could pay twice on retry.
func (cm *ChannelManager) reconcileOutbound(monitors []*channelmonitor.ChannelMonitor) {
	alive := map[pathKey]bool{}
	open := map[wire.OutPoint]bool{}
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			open[c.fundingOutPoint] = true
			for _, h := range c.htlcs {
				if src, ok := h.Source.(*pathSource); ok && !h.Incoming {
					alive[pathKey{src.PaymentID, src.PathIndex}] = true
				}
			}
		}
		ps.mu.Unlock()
	}
	for _, m := range monitors {
		if !open[m.FundingTxo()] && !m.IsFullyResolved() {
			cm.log.Info("a closed channel's monitor is still resolving HTLCs; pending payments are left to it")
			return
		}
	}
	var dead []pathKey
	var hashes [][32]byte
	cm.outbound.mu.Lock()
	for _, op := range cm.outbound.byID {
		for i, p := range op.Paths {
			if k := (pathKey{op.ID, uint32(i)}); !op.Done && p.State == pathInFlight && !alive[k] {
				dead, hashes = append(dead, k), append(hashes, op.Hash)
			}
		}
	}
	cm.outbound.mu.Unlock()
	for i, k := range dead {
		cm.log.Warn("payment path never sent before the restart; failing it", "payment", k.id, "path", k.idx)
		cm.failOutbound(&pathSource{PaymentID: k.id, PathIndex: k.idx},
			events.PaymentPathFailed{PaymentID: k.id, PaymentHash: hashes[i], ErringHop: -1}, false)
	}
}
