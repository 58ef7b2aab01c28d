package channelmanager

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/router"
)

func testRetryState() *retryState {
	secret := [32]byte{4}
	params := router.NewRouteParameters([33]byte{2, 1}, 123_000, 42)
	params.PayeeFeatures = mppPayee
	params.PreviouslyFailedChannels = []uint64{5, 6 << 40}
	pre := [32]byte{8}
	return &retryState{Params: params, Secret: &secret, Keysend: &pre, Retry: Retry{Attempts: 3, TimeoutTicks: 2}, Attempts: 2,
		Ticks: 1, RetryMsat: 1000, Abandoned: true, Reason: events.UserAbandoned}
}

// TestRetryStateRoundTrip: a payment's retry state survives encodeRetry/decodeRetry; none is nil.
func TestRetryStateRoundTrip(t *testing.T) {
	rs := testRetryState()
	got, err := decodeRetry(encodeRetry(rs))
	require.NoError(t, err)
	require.Equal(t, rs.Params.PayeeFeatures.Encode(), got.Params.PayeeFeatures.Encode())
	got.Params.PayeeFeatures = rs.Params.PayeeFeatures
	require.Equal(t, rs, got)
	none, err := decodeRetry(encodeRetry(nil))
	require.NoError(t, err)
	require.Nil(t, none)
	for _, r := range failureReasonCodes {
		back, ok := failureReasonOf(failureReasonCode(r.reason))
		require.True(t, ok)
		require.Equal(t, r.reason, back)
	}
}

// TestRetryStateCorrupt: a truncation is ErrCorrupt unless it ends between records and only optional
// (odd) records are lost; the required ones are never missing from what decodes.
func TestRetryStateCorrupt(t *testing.T) {
	b := encodeRetry(testRetryState())
	for i := 1; i < len(b); i++ {
		rs, err := decodeRetry(b[:i])
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt, "prefix %d", i)
			continue
		}
		require.Equal(t, testRetryState().Retry, rs.Retry, "prefix %d decoded without its required records", i)
	}
	if _, err := decodeRetry([]byte{0, 1, 2}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short params: %v", err)
	}
}

// FuzzDecodeRetry: any bytes decode to a retry state or an error, and a decoded state re-encodes to
// bytes that decode again.
func FuzzDecodeRetry(f *testing.F) {
	f.Add(encodeRetry(testRetryState()))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := decodeRetry(b)
		if err != nil || rs == nil {
			return
		}
		again, err := decodeRetry(encodeRetry(rs))
		require.NoError(t, err)
		require.Equal(t, rs.Params.FinalValueMsat, again.Params.FinalValueMsat)
		require.Equal(t, rs.Retry, again.Retry)
	})
}
