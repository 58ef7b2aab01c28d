package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func fired(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestEventOrPersistenceNeeded: the manager's wake channel stays open while there is nothing to do,
// and fires for each kind of work — a host call that queues messages, a peer's message that calls for
// an answer, an event to process — so a host loop never needs to poll. The chain monitor's fires when
// an asynchronous persistence completes.
func TestEventOrPersistenceNeeded(t *testing.T) {
	nw, a, b := twoNodes(t)
	nw.openChannel(0, 1, 1_000_000, 0)
	nw.settle()
	drain := func(n *testNode) {
		for fired(n.cm.EventOrPersistenceNeeded()) {
			n.handleEvents()
			n.cm.GetAndClearPendingMsgEvents()
			n.cm.GetAndClearNeedsPersistence()
		}
	}
	drain(a)
	drain(b)
	idle := a.cm.EventOrPersistenceNeeded()
	require.False(t, fired(idle), "nothing to do")

	_, _, err := nw.pay(0, 1, 1_000_000) // queues update_add_htlc + commitment_signed at alice
	require.NoError(t, err)
	require.True(t, fired(idle), "a host call that queued work wakes the host waiting on the channel it had")

	wb := b.cm.EventOrPersistenceNeeded()
	require.False(t, fired(wb))
	nw.settle() // bob receives the HTLC and answers; the payment is claimable, then claimed
	require.True(t, fired(wb), "a peer's message wakes the host")

	// A notification made while no channel is outstanding (the host is busy) is not lost.
	drain(a)
	c := a.cm.EventOrPersistenceNeeded()
	_, _, err = a.cm.CreateInboundPayment(1_000, 3600, 0)
	require.NoError(t, err)
	require.True(t, fired(c))
	_, _, err = a.cm.CreateInboundPayment(2_000, 3600, 0) // nobody holds a channel now
	require.NoError(t, err)
	require.True(t, fired(a.cm.EventOrPersistenceNeeded()), "remembered for the next channel")

	// The chain monitor: an asynchronous persistence completing.
	b.persist.setAsync(true)
	drain(b)
	_, _, err = nw.pay(0, 1, 2_000_000)
	require.NoError(t, err)
	nw.settle()
	up := b.chainMon.UpdateAvailable()
	for fired(up) {
		up = b.chainMon.UpdateAvailable()
	}
	b.persist.completeAll(t, b.chainMon)
	require.True(t, fired(up), "ChannelMonitorUpdated wakes the host")
}
