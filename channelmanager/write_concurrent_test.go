package channelmanager

import (
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
)

// waitOrDeadline waits for done, failing the test shortly before the test binary's deadline (go test
// -timeout) if it never comes: a deadlock is reported as a failure rather than a hung binary.
func waitOrDeadline(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	deadline, ok := t.Deadline()
	if !ok {
		<-done
		return
	}
	timer := time.NewTimer(time.Until(deadline) * 9 / 10)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s did not finish before the test deadline: deadlock", what)
	}
}

// TestConcurrentWritesDuringPayments: a hub with channels to three peers is written by many goroutines
// at once while payments flow between the hub and each peer. Every Write must finish (no lock-order
// deadlock between Writes or with the payments) and every snapshot must read back.
func TestConcurrentWritesDuringPayments(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	hub := newTestNode(t, chain, "hub", 1)
	nodes := []*testNode{hub}
	for i := 0; i < 3; i++ {
		nodes = append(nodes, newTestNode(t, chain, "peer", byte(2+i)))
	}
	nw := newNetwork(t, nodes...)
	for i := 1; i < len(nodes); i++ {
		nw.connect(0, i)
		nw.openChannel(0, i, 1_000_000, 300_000_000)
	}

	stop := make(chan struct{})
	snapshots := make(chan []byte, 8)
	var writers sync.WaitGroup
	for g := 0; g < 8; g++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			var last []byte
			for {
				select {
				case <-stop:
					snapshots <- last
					return
				default:
					last = hub.cm.Write()
				}
			}
		}()
	}
	done := make(chan struct{})
	var payErrs []error
	go func() {
		// Deferred so that a harness failure (which ends this goroutine) still stops the writers.
		defer close(done)
		defer writers.Wait()
		defer close(stop)
		for round := 0; round < 10; round++ {
			for i := 1; i < len(nodes); i++ {
				_, _, err1 := nw.pay(0, i, 1_000_000)
				_, _, err2 := nw.pay(i, 0, 500_000)
				payErrs = append(payErrs, err1, err2)
				nw.settle()
			}
		}
	}()
	waitOrDeadline(t, done, "writes and payments")
	require.Len(t, payErrs, 60)
	for _, err := range payErrs {
		require.NoError(t, err)
	}
	require.Equal(t, 30, countEvents[events.PaymentSent](hub.takeEvents()))
	close(snapshots)
	for snap := range snapshots {
		require.NotNil(t, snap)
		cm, err := Read(snap, ReadArgs{FeeEstimator: chain, Watch: hub.chainMon, Broadcaster: chain, Keys: hub.km,
			Config: hub.cfg, Net: &chaincfg.RegressionNetParams, Monitors: hub.persist.read(t, hub.km)})
		require.NoError(t, err)
		require.Len(t, cm.ListChannels(), 3)
	}
}
