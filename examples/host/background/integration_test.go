package background_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestChannelOverTCP: two real ChannelManagers, ChainMonitors and PeerManagers, joined only by
// lnsocket connections on 127.0.0.1 and driven only by background.Processors, open a channel:
// handshake and init, open_channel to funding_signed (the funding transaction is broadcast only
// after the monitor exists), channel_ready after a confirmation, usable on both sides. After Stop,
// each manager's file holds its final state (the last persist was the forced one of Stop).
func TestChannelOverTCP(t *testing.T) {
	chain, alice, bob, err := newPair(t.TempDir())
	require.NoError(t, err)
	id, err := openChannel(chain, alice, bob, 250_000)
	if err != nil {
		require.NoError(t, alice.stop())
		require.NoError(t, bob.stop())
		t.Fatal(err)
	}
	for _, s := range []*stack{alice, bob} {
		chans := s.cm.ListChannels()
		require.Len(t, chans, 1)
		require.Equal(t, id, chans[0].ChannelID)
		require.Equal(t, int64(250_000), chans[0].ChannelValueSat)
	}
	require.NoError(t, alice.stop())
	require.NoError(t, bob.stop())
	for _, s := range []*stack{alice, bob} {
		require.Equal(t, s.cm.Write(), fileBytes(s.mgrFile), "the file holds the manager's final state")
	}
}
