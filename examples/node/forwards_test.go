package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
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

// TestForwardLogAppendsSurviveReopen: forwards are listed oldest first with totals over those listed
// (the most recent with a limit), are back after a reopen, and a torn last line (a crash while
// appending) is cut off so that the next forward starts on its own line; an unreadable complete line
// is skipped and counted.
func TestForwardLogAppendsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), forwardsFile)
	l, bad, err := openForwardLog(path)
	require.NoError(t, err)
	require.Zero(t, bad)
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
	l.close()
	require.Error(t, l.add(fwd(9)), "closed")

	// A crash in the middle of an append.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"timestamp":17000000`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	l, bad, err = openForwardLog(path)
	require.NoError(t, err)
	require.Zero(t, bad)
	require.Equal(t, []nodeapi.Forward{fwd(1), fwd(2), fwd(3)}, l.history(0).Forwards)
	require.NoError(t, l.add(fwd(4)))
	l.close()

	// An unreadable complete line is skipped; the others stay.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append([]byte("garbage\n"), data...), 0o600))
	l, bad, err = openForwardLog(path)
	require.NoError(t, err)
	defer l.close()
	require.Equal(t, 1, bad)
	require.Equal(t, []nodeapi.Forward{fwd(1), fwd(2), fwd(3), fwd(4)}, l.history(0).Forwards)
}
