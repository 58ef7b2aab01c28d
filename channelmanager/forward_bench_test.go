package channelmanager

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/lnkit/lnkit/events"
)

// BenchmarkForwardedPayment: payments alice → bob → carol, one at a time, all three nodes in process
// (in-memory persistence, messages through the wire codec), interleaved with direct payments alice →
// bob over the same channel as the baseline measured in the same run. Reports both rates and their
// ratio: a forward costs two channels' commitment exchanges, so about 2 is the floor.
func BenchmarkForwardedPayment(b *testing.B) {
	f := threeNodes(b)
	const amt = 10_000
	var fwd, direct time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		hash, secret, err := f.c.cm.CreateInboundPayment(amt, 3600, 0)
		if err != nil {
			b.Fatal(err)
		}
		var id events.PaymentID
		binary.BigEndian.PutUint64(id[:], uint64(i)+1)
		if err := f.a.cm.SendPaymentWithRoute(f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC), hash, &secret, id); err != nil {
			b.Fatal(err)
		}
		f.nw.settle()
		fwd += time.Since(t0)
		if n := countEvents[events.PaymentSent](f.a.takeEvents()); n != 1 {
			b.Fatalf("forwarded payment %d: %d PaymentSent", i, n)
		}
		if n := countEvents[events.PaymentForwarded](f.b.takeEvents()); n != 1 {
			b.Fatalf("forwarded payment %d: %d PaymentForwarded", i, n)
		}
		f.c.takeEvents()
		t1 := time.Now()
		if _, _, err := f.nw.pay(0, 1, amt); err != nil {
			b.Fatal(err)
		}
		f.nw.settle()
		direct += time.Since(t1)
		if n := countEvents[events.PaymentSent](f.a.takeEvents()); n != 1 {
			b.Fatalf("direct payment %d: %d PaymentSent", i, n)
		}
		f.b.takeEvents()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/fwd.Seconds(), "forwarded/s")
	b.ReportMetric(float64(b.N)/direct.Seconds(), "direct/s")
	b.ReportMetric(float64(fwd)/float64(direct), "forward/direct")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMultiPathSend: the latency of a two-path payment (two channels alice → bob, the route given)
// against a one-path payment of the same amount over one channel, interleaved in the same run.
func BenchmarkMultiPathSend(b *testing.B) {
	nw, a, bob := twoNodes(b)
	id1 := nw.openChannel(0, 1, 10_000_000, 0)
	id2 := nw.openChannel(0, 1, 10_000_000, 0)
	scid1, scid2 := a.channel(id1).ShortChannelID, a.channel(id2).ShortChannelID
	const amt = 20_000
	var mpp, single time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hash, secret, err := bob.cm.CreateInboundPayment(amt, 3600, 0)
		if err != nil {
			b.Fatal(err)
		}
		var id events.PaymentID
		binary.BigEndian.PutUint64(id[:], uint64(i)+1)
		t0 := time.Now()
		if err := a.cm.SendPaymentWithRoute(twoPathRoute(nw, 1, scid1, scid2, amt/2, amt/2), hash, &secret, id); err != nil {
			b.Fatal(err)
		}
		nw.settle()
		mpp += time.Since(t0)
		if n := countEvents[events.PaymentSent](a.takeEvents()); n != 1 {
			b.Fatalf("multi-path payment %d: %d PaymentSent", i, n)
		}
		bob.takeEvents()
		t1 := time.Now()
		if _, _, err := nw.pay(0, 1, amt); err != nil {
			b.Fatal(err)
		}
		nw.settle()
		single += time.Since(t1)
		if n := countEvents[events.PaymentSent](a.takeEvents()); n != 1 {
			b.Fatalf("single-path payment %d: %d PaymentSent", i, n)
		}
		bob.takeEvents()
	}
	b.StopTimer()
	b.ReportMetric(float64(mpp.Microseconds())/float64(b.N)/1000, "mpp-ms")
	b.ReportMetric(float64(single.Microseconds())/float64(b.N)/1000, "single-ms")
	b.ReportMetric(float64(mpp)/float64(single), "mpp/single")
	b.ReportMetric(0, "ns/op")
}
