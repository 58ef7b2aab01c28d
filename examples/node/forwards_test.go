package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
)

func fwd(i uint64) nodeapi.Forward {
	return nodeapi.Forward{Timestamp: 1_700_000_000 + int64(i), PrevChannelID: hex32(byte('0' + i)), NextChannelID: hex32('f'),
		AmountInMsat: 1_000_000 + 1000 + i, AmountOutMsat: 1_000_000, FeeMsat: 1000 + i}
}

func hex32(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// TestForwardLogSurvivesReopen: forwards are listed oldest first with totals over those listed (the
// most recent with a limit), one key each, keys sorting by time even when the clock gives one time
// twice, and are back after a reopen.
func TestForwardLogSurvivesReopen(t *testing.T) {
	kv := kvstore.NewMemStore()
	l, err := openForwardLog(kv)
	require.NoError(t, err)
	empty := l.history(0)
	require.Equal(t, &nodeapi.ForwardingHistoryResult{Forwards: []nodeapi.Forward{}}, empty)
	for i := uint64(1); i <= 3; i++ {
		require.NoError(t, l.add(fwd(i)))
	}
	h := l.history(0)
	require.Equal(t, []nodeapi.Forward{fwd(1), fwd(2), fwd(3)}, h.Forwards)
	require.Equal(t, 3, h.NumForwards)
	require.Equal(t, 3, h.TotalForwards)
	require.EqualValues(t, 3006, h.TotalFeeMsat)
	require.EqualValues(t, 3_003_006, h.TotalAmountInMsat)
	require.EqualValues(t, 3_000_000, h.TotalAmountOutMsat)
	h = l.history(2)
	require.Equal(t, []nodeapi.Forward{fwd(2), fwd(3)}, h.Forwards, "the two most recent")
	require.Equal(t, 2, h.NumForwards)
	require.Equal(t, 3, h.TotalForwards)
	require.EqualValues(t, 2005, h.TotalFeeMsat)
	require.Len(t, l.history(10).Forwards, 3)
	names, err := kv.List(nsForwards, "")
	require.NoError(t, err)
	require.Len(t, names, 3)
	l.close()
	require.Error(t, l.add(fwd(9)), "closed")

	// A key from the future (another node's clock): the next one still sorts after it.
	future := time.Now().Add(time.Hour).UnixNano()
	b, _ := json.Marshal(fwd(4))
	require.NoError(t, kv.Write(forwardKey(future), b))
	l, err = openForwardLog(kv)
	require.NoError(t, err)
	require.Equal(t, []nodeapi.Forward{fwd(1), fwd(2), fwd(3), fwd(4)}, l.history(0).Forwards)
	require.NoError(t, l.add(fwd(5)))
	l, err = openForwardLog(kv)
	require.NoError(t, err)
	require.Equal(t, []nodeapi.Forward{fwd(1), fwd(2), fwd(3), fwd(4), fwd(5)}, l.history(0).Forwards)
}
