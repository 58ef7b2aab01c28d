package router

import (
	"encoding/binary"
	"math/rand"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
)

// FuzzGossipSync feeds a sync, holding a small valid graph, a peer's byte stream cut into gossip
// messages (each decoded as the PeerManager would, bad ones dropped), with ticks and pulls between
// them: nothing panics, every pull stays within its budget, and the graph never holds a channel the
// valid messages did not announce.
func FuzzGossipSync(f *testing.F) {
	w := newGossipWorld(f, 31, 6, 8)
	var seed []byte
	for _, m := range w.msgs[:6] {
		b, err := lnwire.EncodeMessage(m)
		require.NoError(f, err)
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(b)))
		seed = append(seed, b...)
	}
	f.Add(seed)
	q, _ := lnwire.EncodeMessage(&lnwire.QueryChannelRange{ChainHash: *testNet.GenesisHash, NumberOfBlocks: 1 << 30})
	f.Add(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...))
	known := map[uint64]bool{}
	for _, c := range w.channels {
		known[c.scid] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newTestSync(GossipConfig{QueryBatchSize: 2})
		peer := gossipKey(rand.New(rand.NewSource(1))).PubKey()
		other := gossipKey(rand.New(rand.NewSource(2))).PubKey()
		queries := lnwire.NewFeatureVector(lnwire.GossipQueriesOptional)
		require.NoError(t, s.PeerConnected(peer, &lnwire.Init{Features: queries}, false))
		require.NoError(t, s.PeerConnected(other, &lnwire.Init{Features: queries}, true))
		// Two channels with their updates, from the other peer (few signatures: fuzzing is slow).
		for _, m := range append(w.msgs[:2:2], w.msgs[8:12]...) {
			_ = s.HandleRoutingMessage(other, m)
		}
		now := testNow
		for i := 0; len(data) >= 2; i++ {
			n := int(binary.BigEndian.Uint16(data)) % 4096
			data = data[2:]
			n = min(n, len(data))
			msg, err := lnwire.DecodeMessage(data[:n])
			data = data[n:]
			if err == nil {
				_ = s.HandleRoutingMessage(peer, msg)
			}
			if i%3 == 0 {
				now += 40 * time.Second
				s.TimerTick(now)
			}
			for _, p := range []*btcec.PublicKey{peer, other} {
				budget := 1 + (i*997)%70_000
				size := 0
				for _, m := range s.PendingMessages(p, budget) {
					b, err := lnwire.EncodeMessage(m)
					require.NoError(t, err)
					size += len(b)
				}
				require.LessOrEqual(t, size, budget)
			}
		}
		v := s.graph.ReadOnly()
		defer v.Release()
		v.ForEachChannel(func(c ChannelInfo) bool {
			require.True(t, known[c.SCID], "channel %d was never validly announced", c.SCID)
			return true
		})
	})
}
