package channelmanager

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/kvstore"
)

// BenchmarkPersistToPerPayment: one payment (alice → bob, settled) and alice's PersistTo, with 100 or
// 100,000 earlier payments still remembered (finished within IdempotencyTimeoutTicks: the most the
// manager keeps). Reports the bytes alice writes per payment; ns/op includes the payment itself. The
// two sizes should cost the same.
func BenchmarkPersistToPerPayment(b *testing.B) {
	for _, history := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			nw, a, _ := twoNodes(b)
			nw.openChannel(0, 1, 10_000_000, 0)
			a.cm.outbound.mu.Lock()
			for i := 0; i < history; i++ {
				var id events.PaymentID
				binary.BigEndian.PutUint64(id[:], uint64(i)+1<<40)
				a.cm.outbound.byID[id] = &outboundPayment{ID: id, Hash: id, AmountMsat: 10_000, Done: true,
					Paths: []outboundPath{{AmountMsat: 10_000, State: pathSucceeded}}}
			}
			a.cm.outbound.mu.Unlock()
			cs := &countingStore{KVStore: kvstore.NewMemStore()}
			_, err := a.cm.PersistAllTo(cs)
			require.NoError(b, err)
			a.beforeSend = func() bool {
				if a.cm.GetAndClearNeedsPersistence() {
					_, err := a.cm.PersistTo(cs)
					require.NoError(b, err)
				}
				return true
			}
			start := cs.bytes
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_, _, err := nw.pay(0, 1, 10_000)
				require.NoError(b, err)
				nw.settle()
			}
			b.StopTimer()
			b.ReportMetric(float64(cs.bytes-start)/float64(b.N), "B-written/payment")
		})
	}
}
