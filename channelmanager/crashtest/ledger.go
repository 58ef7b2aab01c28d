package crashtest

import (
	"fmt"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/events"
)

// ledger is one payer's account of its payments: what is pending, the outcome of each resolved one,
// and the sum of those that succeeded.
type ledger struct {
	pending map[[32]byte]uint64 // by payment hash: amount
	sent    map[[32]byte]bool   // resolved: true PaymentSent, false PaymentFailed
	paid    uint64              // the amounts of the payments sent
	replays int                 // outcomes reported again (events are at least once across a crash)
	forgot  int                 // payments the payer forgot in a crash (never sent)
}

func newLedger() *ledger {
	return &ledger{pending: map[[32]byte]uint64{}, sent: map[[32]byte]bool{}}
}

// account takes the payer's events. A payment may have exactly one outcome: an outcome for a payment
// never made, or a PaymentSent and a PaymentFailed for the same one, is an error; the same outcome
// again is a replay.
func (l *ledger) account(evs []events.Event) error {
	for _, e := range evs {
		var hash [32]byte
		var ok bool
		switch ev := e.(type) {
		case events.PaymentSent:
			hash, ok = ev.PaymentHash, true
		case events.PaymentFailed:
			hash, ok = ev.PaymentHash, false
		default:
			continue
		}
		if was, seen := l.sent[hash]; seen {
			if was != ok {
				return fmt.Errorf("payment %x has two outcomes: %v after %v", hash[:4], e, map[bool]string{true: "PaymentSent", false: "PaymentFailed"}[was])
			}
			l.replays++
			continue
		}
		amt, pending := l.pending[hash]
		if !pending {
			return fmt.Errorf("%v for a payment never made (or forgotten)", e)
		}
		delete(l.pending, hash)
		l.sent[hash] = ok
		if ok {
			l.paid += amt
		}
	}
	return nil
}

// forgetUnknown drops the pending payments that the payer, restarted, does not know: it started them
// after its last durable write, so none of their messages left and nothing was paid.
func (l *ledger) forgetUnknown(cm *channelmanager.ChannelManager) {
	known := map[[32]byte]bool{}
	for _, p := range cm.ListRecentPayments() {
		known[p.PaymentHash] = true
	}
	for hash := range l.pending {
		if !known[hash] {
			delete(l.pending, hash)
			l.forgot++
		}
	}
}

// String summarises the ledger for the test log.
func (l *ledger) String() string {
	failed := 0
	for _, ok := range l.sent {
		if !ok {
			failed++
		}
	}
	return fmt.Sprintf("%d payments sent (%d msat), %d failed, %d forgotten, %d outcomes replayed",
		len(l.sent)-failed, l.paid, failed, l.forgot, l.replays)
}
