package channelmanager

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
)

func testForwardOps(t *testing.T) []forwardOp {
	prev := *testPrevHop(t)
	add := forwardOp{Kind: forwardAdd, Prev: prev, Hash: [32]byte{1}, NextSCID: 77 << 40, AmtToForward: 5000,
		OutgoingCLTV: 800_100, IncomingCLTV: 800_172}
	add.NextOnion[0], add.NextOnion[1365] = 0, 0xee
	claim := forwardOp{Kind: forwardClaimBack, Prev: prev, Hash: [32]byte{2}, NextChannelID: lnwire.ChannelID{3},
		OutgoingAmtMsat: 4000, Preimage: [32]byte{4}, ClaimedOnChain: true}
	relay := forwardOp{Kind: forwardFailBack, Prev: prev, Hash: [32]byte{5}, NextChannelID: lnwire.ChannelID{6}, Reason: []byte{7, 8, 9}}
	own := forwardOp{Kind: forwardFailBack, Prev: prev, Hash: [32]byte{10}, NextSCID: 99, Failure: sphinx.NewFailure(sphinx.UnknownNextPeer)}
	return []forwardOp{add, claim, relay, own}
}

// TestForwardOpRoundTrip: every kind of queued forwarding step survives encodeForwardOp/decodeForwardOp,
// and a manager's queue survives writeForwards/readForwards.
func TestForwardOpRoundTrip(t *testing.T) {
	ops := testForwardOps(t)
	for i := range ops {
		got, err := decodeForwardOp(encodeForwardOp(&ops[i]))
		require.NoError(t, err)
		if ops[i].Failure.Data == nil {
			got.Failure.Data = nil
		}
		require.Equal(t, ops[i], got, "op %d", i)
	}
	var cm ChannelManager
	cm.forwards.ops = ops
	cm.intercepts = intercepts{scids: map[uint64]bool{42: true}, held: map[events.InterceptID]forwardOp{interceptIDOf(&ops[0].Prev): ops[0]}}
	var w ser.Writer
	cm.writeForwards(&w)
	back := ChannelManager{intercepts: intercepts{scids: map[uint64]bool{}, held: map[events.InterceptID]forwardOp{}}}
	r := ser.NewReader(w.Bytes())
	back.readForwards(r)
	require.NoError(t, r.Err())
	require.Len(t, back.forwards.ops, len(ops))
	require.Equal(t, cm.intercepts.scids, back.intercepts.scids)
	require.Len(t, back.intercepts.held, 1)
}

// TestForwardOpCorrupt: truncated ops and unknown kinds are ErrCorrupt, never a panic.
func TestForwardOpCorrupt(t *testing.T) {
	for _, op := range testForwardOps(t) {
		b := encodeForwardOp(&op)
		for i := 0; i < len(b); i += 7 {
			if _, err := decodeForwardOp(b[:i]); err == nil && i < len(b) {
				// A prefix may end on a record boundary; it must still miss a required record.
				t.Fatalf("kind %d: prefix of %d bytes accepted", op.Kind, i)
			} else if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("kind %d: %v", op.Kind, err)
			}
		}
	}
	bad := testForwardOps(t)[1]
	bad.Kind = 9
	if _, err := decodeForwardOp(encodeForwardOp(&bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown kind: %v", err)
	}
}

// FuzzDecodeForwardOp: any bytes decode to a forwarding step or an error; a decoded step re-encodes to
// bytes that decode to the same step.
func FuzzDecodeForwardOp(f *testing.F) {
	for _, op := range testForwardOps(&testing.T{}) {
		f.Add(encodeForwardOp(&op))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := decodeForwardOp(b)
		if err != nil {
			return
		}
		again, err := decodeForwardOp(encodeForwardOp(&op))
		require.NoError(t, err)
		require.Equal(t, op.Kind, again.Kind)
		require.Equal(t, op.Prev, again.Prev)
		require.Equal(t, op.Hash, again.Hash)
	})
}
