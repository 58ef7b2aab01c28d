package channelmanager

import (
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
)

// TestForwardConsistencySeeded drives alice → bob → carol forwards through random interleavings: messages
// delivered one at a time in random order, either link dropping with messages in flight, bob (the
// forwarder) crashing and restarting from his last manager snapshot (written before his messages leave,
// as a host must), timer ticks and blocks. At the end, after everything settles: every payment ended
// exactly once (PaymentSent or PaymentFailed), no channel closed, carol received exactly the amounts of
// the payments alice saw succeed, and bob's two channels moved by exactly those amounts plus his fee
// per payment (he never pays out what he was not paid).
func TestForwardConsistencySeeded(t *testing.T) {
	seeds := 60
	if testing.Short() || raceEnabled {
		seeds = 6
	}
	for seed := int64(0); seed < int64(seeds); seed++ {
		forwardConsistency(t, seed)
	}
}

func forwardConsistency(t *testing.T, seed int64) {
	f := threeNodes(t)
	r := rand.New(rand.NewSource(seed))
	snapB := f.b.cm.Write()
	f.b.beforeSend = func() bool {
		if f.b.cm.GetAndClearNeedsPersistence() {
			snapB = f.b.cm.Write()
		}
		return true
	}
	fee := f.policyB.baseMsat
	amounts := map[events.PaymentID]uint64{}
	outcome := map[events.PaymentID]string{}
	account := func() {
		for _, n := range []*testNode{f.a, f.b, f.c} {
			evs := n.takeEvents()
			for _, e := range evs {
				switch ev := e.(type) {
				case events.ChannelClosed:
					t.Fatalf("seed %d: %s closed a channel: %s", seed, n.name, ev.Message)
				case events.PaymentSent:
					require.Empty(t, outcome[ev.PaymentID], "seed %d: second outcome", seed)
					outcome[ev.PaymentID] = "sent"
				case events.PaymentFailed:
					require.Empty(t, outcome[ev.PaymentID], "seed %d: second outcome", seed)
					outcome[ev.PaymentID] = "failed"
				}
			}
		}
	}
	for step := 0; step < 80; step++ {
		switch op := r.Intn(10); {
		case op < 3: // alice pays carol through bob
			amt := uint64(10_000 + r.Intn(2_000_000))
			hash, secret, err := f.c.cm.CreateInboundPayment(amt, 3600, 0)
			require.NoError(t, err)
			var id events.PaymentID
			binary.BigEndian.PutUint64(id[:], uint64(step)+1)
			if f.a.cm.SendPaymentWithRoute(f.route(amt, fee, f.policyB.delta, f.scidBC), hash, &secret, id) == nil {
				amounts[id] = amt
			}
		case op < 7:
			for i := 0; i < 1+r.Intn(6); i++ {
				f.nw.deliverOne(r)
			}
		case op == 7: // a link drops and comes back
			link := [2][2]int{{0, 1}, {1, 2}}[r.Intn(2)]
			f.nw.disconnect(link[0], link[1])
			f.nw.connect(link[0], link[1])
		case op == 8: // bob crashes and restarts from his last snapshot
			f.nw.disconnect(0, 1)
			f.nw.disconnect(1, 2)
			f.b.restart(snapB)
			f.nw.connect(0, 1)
			f.nw.connect(1, 2)
		default:
			for _, n := range []*testNode{f.a, f.b, f.c} {
				n.cm.TimerTickOccurred()
			}
		}
		account()
	}
	for k := 0; k < 20; k++ {
		f.nw.settleRandom(r)
		account()
	}
	f.nw.settle()
	account()
	var sent uint64
	nSent := 0
	for id, amt := range amounts {
		require.NotEmpty(t, outcome[id], "seed %d: payment %x never ended", seed, id[:8])
		if outcome[id] == "sent" {
			sent += amt
			nSent++
		}
	}
	if seed%20 == 0 {
		t.Logf("seed %d: %d payments, %d succeeded", seed, len(amounts), nSent)
	}
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000-sent-uint64(nSent)*fee)
	checkBalances(t, f.b, f.c, f.bc, 1_000_000_000-sent)
}
