package router

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// realGossipDir holds 28,813 real signed mainnet gossip messages (../shared beside the checkout; see
// its README): 27 channel_announcements, 2,251 node_announcements, 26,535 channel_updates.
var realGossipDir = filepath.Join("..", "..", "shared", "data", "lngraph", "gossip-raw-2025")

// realGossip is the decoded data set: the raw messages, and the channels their updates refer to (as
// the graph must hold them for the updates to be checked: most have no announcement in the set).
type realGossip struct {
	raw       [][]byte
	unsigned  map[int]bool // records whose signer the data set could not resolve
	sampled   []bool       // records fed (all, except under the race detector)
	skeleton  []ChannelAnnouncementInfo
	sigChecks []sigCheck // every signature of the set, for the verification bound
}

type sigCheck struct {
	pub  *btcec.PublicKey
	sig  lnwire.Sig
	hash []byte
}

func loadRealGossip(tb testing.TB) *realGossip {
	data, err := os.ReadFile(filepath.Join(realGossipDir, "mainnet-gossip-2025.bin"))
	if os.IsNotExist(err) {
		tb.Skip("real gossip data not found beside the checkout (../shared)")
	}
	require.NoError(tb, err)
	rg := &realGossip{unsigned: map[int]bool{}}
	for len(data) >= 2 {
		n := int(binary.BigEndian.Uint16(data))
		require.GreaterOrEqual(tb, len(data), 2+n)
		rg.raw = append(rg.raw, data[2:2+n])
		data = data[2+n:]
	}
	rg.sampled = make([]bool, len(rg.raw))
	for i := range rg.sampled {
		rg.sampled[i] = !raceEnabled || i%16 == 0 || rg.raw[i][1] != 2 // every 16th channel_update under -race
	}
	f, err := os.Open(filepath.Join(realGossipDir, "index.csv"))
	require.NoError(tb, err)
	defer f.Close()
	rows, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
	require.NoError(tb, err)
	require.Len(tb, rows, len(rg.raw)+1)

	announced := map[uint64]bool{}
	signers := map[uint64]*[2][33]byte{}
	for i, row := range rows[1:] {
		typ, _ := strconv.Atoi(row[2])
		msg, err := lnwire.DecodeMessage(rg.raw[i])
		require.NoError(tb, err, "record %d", i)
		switch m := msg.(type) {
		case *lnwire.ChannelAnnouncement:
			announced[m.ShortChannelID.ToUint64()] = true
			h := chainhash.DoubleHashB(m.DataToSign())
			rg.sigChecks = append(rg.sigChecks, sigCheck{m.NodeID1, m.NodeSignature1, h}, sigCheck{m.NodeID2, m.NodeSignature2, h},
				sigCheck{m.BitcoinKey1, m.BitcoinSignature1, h}, sigCheck{m.BitcoinKey2, m.BitcoinSignature2, h})
		case *lnwire.NodeAnnouncement:
			rg.sigChecks = append(rg.sigChecks, sigCheck{m.NodeID, m.Signature, chainhash.DoubleHashB(m.DataToSign())})
		case *lnwire.ChannelUpdate:
			require.Equal(tb, 258, typ)
			if row[7] != "true" {
				rg.unsigned[i] = true
				continue
			}
			key, err := hex.DecodeString(row[6])
			require.NoError(tb, err)
			pub, err := btcec.ParsePubKey(key)
			require.NoError(tb, err)
			scid := m.ShortChannelID.ToUint64()
			s := signers[scid]
			if s == nil {
				s = &[2][33]byte{}
				signers[scid] = s
			}
			copy(s[m.Direction()][:], key)
			rg.sigChecks = append(rg.sigChecks, sigCheck{pub, m.Signature, chainhash.DoubleHashB(m.DataToSign())})
		}
	}
	// The other end of a channel known only from one direction is a placeholder on the right side
	// of BOLT 7's order (it never signs: updates of that direction are ignored as unparsable).
	low, high := [33]byte{0x02}, [33]byte{0x03}
	for i := 1; i < 33; i++ {
		high[i] = 0xff
	}
	for scid, s := range signers {
		if announced[scid] {
			continue
		}
		if s[0] == ([33]byte{}) {
			s[0] = low
		}
		if s[1] == ([33]byte{}) {
			s[1] = high
		}
		if bytes.Compare(s[0][:], s[1][:]) >= 0 {
			continue
		}
		rg.skeleton = append(rg.skeleton, ChannelAnnouncementInfo{SCID: scid, NodeID1: s[0], NodeID2: s[1]})
	}
	return rg
}

// newSync returns a sync whose graph holds the skeleton channels, and a connected peer.
func (rg *realGossip) newSync(tb testing.TB) (*P2PGossipSync, *btcec.PublicKey) {
	g := NewNetworkGraph(nil)
	for _, c := range rg.skeleton {
		require.NoError(tb, g.AddChannel(c))
	}
	s := NewP2PGossipSync(g, &chaincfg.MainNetParams, GossipConfig{}, nil)
	peer := gossipKey(rand.New(rand.NewSource(1))).PubKey()
	require.NoError(tb, s.PeerConnected(peer, &lnwire.Init{Features: lnwire.NewFeatureVector()}, false))
	return s, peer
}

// feed gives every message, decoded as the PeerManager would, to the sync; it returns the time taken.
// Refusals (warnings, disconnections) are recorded in refused when it is not nil.
func (rg *realGossip) feed(tb testing.TB, s *P2PGossipSync, peer *btcec.PublicKey, refused map[int]error) time.Duration {
	start := time.Now()
	for i, raw := range rg.raw {
		if !rg.sampled[i] {
			continue
		}
		msg, err := lnwire.DecodeMessage(raw)
		if err != nil {
			tb.Fatal(err)
		}
		if err := s.HandleRoutingMessage(peer, msg); err != nil && refused != nil {
			var ge *peermanager.GossipError
			if errors.As(err, &ge) && ge.Action != peermanager.GossipIgnore {
				refused[i] = err
			}
		}
	}
	return time.Since(start)
}

// TestGossipRealMainnet: the real mainnet messages are accepted, every announcement's signatures
// verify, and no channel_update with a known signer is refused.
func TestGossipRealMainnet(t *testing.T) {
	rg := loadRealGossip(t)
	s, peer := rg.newSync(t)
	refused := map[int]error{}
	rg.feed(t, s, peer, refused)
	st := s.Stats()
	require.EqualValues(t, 27, st.ChannelAnnouncements)
	for i, err := range refused {
		// Only updates the data set could not attribute may fail (signed by another key than the
		// direction's known signer).
		require.True(t, rg.unsigned[i], "record %d refused: %v", i, err)
		require.ErrorIs(t, err, ErrInvalidSignature)
	}
	updates := uint64(20_000)
	if raceEnabled {
		updates /= 16
	}
	require.Greater(t, st.ChannelUpdates, updates)
	require.Greater(t, st.NodeAnnouncements, uint64(500))
	t.Logf("accepted: %d channel_announcements, %d channel_updates, %d node_announcements; ignored %d; refused %d (of %d unattributed); %d signatures checked",
		st.ChannelAnnouncements, st.ChannelUpdates, st.NodeAnnouncements, st.Ignored, len(refused), len(rg.unsigned), st.SignaturesChecked)
}

// BenchmarkGossipIngest feeds the 28,813 real messages (every signature checked) and reports the
// rate, and the ratio of the secp256k1 verification bound to it: the time the same number of bare
// verifications (keys parsed and hashes computed in advance) takes in this binary, over the time
// ingestion took. 100% would mean ingestion costs nothing but its signature checks.
func BenchmarkGossipIngest(b *testing.B) {
	rg := loadRealGossip(b)
	var ingest time.Duration
	var sigs, msgs uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, peer := rg.newSync(b) // the skeleton graph is not measured
		b.StartTimer()
		ingest += rg.feed(b, s, peer, nil)
		sigs += s.Stats().SignaturesChecked
		msgs += uint64(len(rg.raw))
	}
	b.StopTimer()
	start := time.Now()
	n := 0
	for time.Since(start) < time.Second || n < len(rg.sigChecks) {
		c := &rg.sigChecks[n%len(rg.sigChecks)]
		if !verifySig(c.pub, c.sig, c.hash) {
			b.Fatal("a real signature did not verify")
		}
		n++
	}
	perSig := time.Since(start) / time.Duration(n)
	b.ReportMetric(float64(msgs)/ingest.Seconds(), "msgs/s")
	b.ReportMetric(float64(sigs)/float64(b.N), "sigs/op")
	b.ReportMetric(float64(perSig.Nanoseconds()), "verify-ns")
	b.ReportMetric(100*float64(sigs)*float64(perSig)/float64(ingest), "%-of-bound")
}
