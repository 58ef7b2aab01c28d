package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/lnwire"
)

func testEvents(t *testing.T) []events.Event {
	priv, _ := btcec.PrivKeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	pk := priv.PubKey()
	pre := [32]byte{9}
	return []events.Event{
		events.ChannelPending{ChannelID: lnwire.ChannelID{1}, UserChannelID: [16]byte{2}, FormerTemporaryChannelID: lnwire.ChannelID{3},
			CounterpartyNodeID: pk, FundingTxo: wire.OutPoint{Hash: [32]byte{4}, Index: 1}},
		events.ChannelReady{ChannelID: lnwire.ChannelID{1}, CounterpartyNodeID: pk, ChannelType: lnwire.ChannelType{Anchors: true}},
		events.ChannelClosed{ChannelID: lnwire.ChannelID{1}, CounterpartyNodeID: pk, Reason: events.CooperativeClosure, Message: "bye", ChannelCapacitySat: 5},
		events.ChannelClosed{ChannelID: lnwire.ChannelID{2}, Reason: events.HolderForceClosed},
		events.PaymentClaimed{ReceiverNodeID: pk, PaymentHash: [32]byte{5}, AmountMsat: 6, Purpose: events.PaymentPurpose{PaymentPreimage: &pre, PaymentSecret: [32]byte{7}}},
		events.PaymentSent{PaymentID: events.PaymentID{8}, PaymentPreimage: pre, PaymentHash: [32]byte{10}, FeePaidMsat: 11},
		events.PaymentPathFailed{PaymentID: events.PaymentID{8}, PaymentHash: [32]byte{10}, PaymentFailedPermanently: true,
			FailureCode: 0x400f, FailureData: []byte{1, 2}, ErringHop: -1, ShortChannelID: 12},
		events.PaymentFailed{PaymentID: events.PaymentID{8}, PaymentHash: [32]byte{10}, Reason: events.RouteNotFound},
		events.DiscardFunding{ChannelID: lnwire.ChannelID{13}, FundingTxid: [32]byte{14}},
		events.PaymentForwarded{PrevChannelID: lnwire.ChannelID{15}, NextChannelID: lnwire.ChannelID{16}, IncomingAmountMsat: 17,
			OutboundAmountForwardedMsat: 16, FeeEarnedMsat: 1, ClaimedOnChain: true},
		events.HTLCHandlingFailed{PrevChannelID: lnwire.ChannelID{15}, FailedNextDestination: events.HTLCDestination{UnknownNextSCID: 99}, FailureCode: 0x400a},
		events.ProbeSuccessful{PaymentID: events.PaymentID{18}, PaymentHash: [32]byte{19}},
		events.ProbeFailed{PaymentID: events.PaymentID{18}, PaymentHash: [32]byte{19}, ShortChannelID: 20},
	}
}

// TestEventsRoundTrip: every persisted kind of event survives writeEvents/readEvents in order; events
// re-derived on Read (PaymentClaimable) are not written.
func TestEventsRoundTrip(t *testing.T) {
	evs := testEvents(t)
	var cm ChannelManager
	cm.pendingEvents = append(append([]events.Event{}, evs...), events.PaymentClaimable{PaymentHash: [32]byte{1}})
	var w ser.Writer
	cm.writeEvents(&w)
	var back ChannelManager
	r := ser.NewReader(w.Bytes())
	back.readEvents(r)
	require.NoError(t, r.Err())
	require.Zero(t, r.Remaining())
	require.Equal(t, evs, back.pendingEvents)
	for i, e := range evs {
		kind, body, ok := encodeEvent(e)
		require.True(t, ok)
		for j := 0; j < len(body); j++ {
			if _, _, err := decodeEvent(kind, body[:j]); err == nil {
				t.Fatalf("event %d (%T): a body cut at %d bytes decoded", i, e, j)
			}
		}
	}
	_, ok, err := decodeEvent(999, []byte{1})
	require.NoError(t, err)
	require.False(t, ok, "an unknown kind is skipped")
}

// TestEventsSurviveRestart: alice's PaymentSent, queued but not yet handled when her manager was
// written, is handed over after she restarts from that snapshot; once handled and written again, it is
// gone from the next snapshot.
func TestEventsSurviveRestart(t *testing.T) {
	nw, a, _ := twoNodes(t)
	nw.openChannel(0, 1, 1_000_000, 0)
	a.handleEvents()
	a.takeEvents()
	_, _, err := nw.pay(0, 1, 10_000_000)
	require.NoError(t, err)
	// Deliver everything without alice handling her events.
	for nw.step() > 0 {
	}
	snap := a.cm.Write()
	nw.disconnect(0, 1)
	a.restart(snap)
	a.handleEvents()
	require.Len(t, eventsOf[events.PaymentSent](a.takeEvents()), 1, "handed over after the restart")
	snap = a.cm.Write()
	a.restart(snap)
	a.handleEvents()
	require.Empty(t, eventsOf[events.PaymentSent](a.takeEvents()), "handled: not in the next snapshot")
}

// FuzzDecodeEvent: any kind and bytes decode to an event, a skip or an error, never a panic.
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range testEvents(&testing.T{}) {
		kind, body, _ := encodeEvent(e)
		f.Add(kind, body)
	}
	f.Fuzz(func(t *testing.T, kind uint16, body []byte) {
		e, ok, err := decodeEvent(kind, body)
		if err != nil || !ok {
			return
		}
		k2, b2, ok2 := encodeEvent(e)
		require.True(t, ok2)
		require.Equal(t, kind, k2)
		e2, _, err := decodeEvent(k2, b2)
		require.NoError(t, err)
		require.Equal(t, e, e2)
	})
}
