package channelmanager

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/lnwire"
)

func testPrevHop(t *testing.T) *prevHopSource {
	t.Helper()
	priv, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{7}, 32))
	return &prevHopSource{Counterparty: priv.PubKey(), ChannelID: lnwire.ChannelID{1, 2, 3},
		ShortChannelID: lnwire.NewShortChannelIDFromUint64(700_000<<40 | 12<<16 | 1), HTLCID: 42,
		IncomingAmountMsat: 1_000_123, SharedSecret: [32]byte{9, 9},
		FundingTxo: wire.OutPoint{Hash: [32]byte{5}, Index: 1}}
}

// TestHTLCSourceRoundTrip: both kinds survive encodeSource/decodeSource; the monitor's compact form of a
// path names its payment and a forward's is the whole source.
func TestHTLCSourceRoundTrip(t *testing.T) {
	path := &pathSource{PaymentID: [32]byte{1}, SharedSecrets: [][32]byte{{2}, {3}, {4}}}
	got, err := decodeSource(encodeSource(path))
	require.NoError(t, err)
	require.Equal(t, path, got)

	fromMonitor, err := decodeSource(path.monitorSource())
	require.NoError(t, err)
	require.Equal(t, &pathSource{PaymentID: path.PaymentID}, fromMonitor)

	prev := testPrevHop(t)
	got, err = decodeSource(encodeSource(prev))
	require.NoError(t, err)
	require.Equal(t, prev, got)
	got, err = decodeSource(prev.monitorSource())
	require.NoError(t, err)
	require.Equal(t, prev, got)

	got, err = decodeSource(nil)
	require.NoError(t, err)
	require.Nil(t, got)
}

// TestHTLCSourceCorrupt: truncated, unknown and malformed sources are ErrCorrupt, never a panic; an
// unknown odd record is skipped (a newer lnkit may add optional data).
func TestHTLCSourceCorrupt(t *testing.T) {
	good := encodeSource(testPrevHop(t))
	for i := 1; i < len(good); i++ {
		if _, err := decodeSource(good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	for _, b := range [][]byte{{9}, {sourceOutboundPayment, 1, 2}, {sourcePath, 0, 3, 1, 2, 3}} {
		if _, err := decodeSource(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%x: %v", b, err)
		}
	}
	tooMany := &pathSource{SharedSecrets: make([][32]byte, maxSourceHops+1)}
	if _, err := decodeSource(encodeSource(tooMany)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%d hops: %v", maxSourceHops+1, err)
	}
	withOdd := append(bytes.Clone(good), lnwire.TLVStream{{Type: 99, Value: []byte{1}}}.Encode()...)
	got, err := decodeSource(withOdd)
	require.NoError(t, err)
	require.Equal(t, testPrevHop(t), got)
	withEven := append(bytes.Clone(good), lnwire.TLVStream{{Type: 100, Value: []byte{1}}}.Encode()...)
	if _, err := decodeSource(withEven); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown even record: %v", err)
	}
}

// TestReadHTLCSourceVersion2: snapshots of versions 1-2 kept an offered HTLC's payment id and shared
// secrets in the HTLC record; they are read as the HTLC's path source.
func TestReadHTLCSourceVersion2(t *testing.T) {
	var w ser.Writer
	w.Fixed(bytes.Repeat([]byte{0xab}, 32))
	w.U32(2)
	w.Fixed(bytes.Repeat([]byte{1}, 32))
	w.Fixed(bytes.Repeat([]byte{2}, 32))
	data := w.Bytes()

	r := ser.NewReader(data)
	src := readHTLCSource(r, &htlc{ID: 3}, 2)
	require.NoError(t, r.Err())
	require.Zero(t, r.Remaining())
	require.Equal(t, &pathSource{PaymentID: [32]byte(bytes.Repeat([]byte{0xab}, 32)),
		SharedSecrets: [][32]byte{[32]byte(bytes.Repeat([]byte{1}, 32)), [32]byte(bytes.Repeat([]byte{2}, 32))}}, src)

	r = ser.NewReader(data)
	require.Nil(t, readHTLCSource(r, &htlc{ID: 4, Incoming: true}, 2), "an incoming HTLC has no source")
	require.Zero(t, r.Remaining())
}

// FuzzDecodeSource: any bytes decode to a source or an error; a decoded source re-encodes to bytes
// that decode to the same source.
func FuzzDecodeSource(f *testing.F) {
	f.Add(encodeSource(&pathSource{PaymentID: [32]byte{1}, SharedSecrets: [][32]byte{{2}}}))
	f.Add((&pathSource{PaymentID: [32]byte{1}}).monitorSource())
	f.Add([]byte{sourcePrevHop, 0, 33})
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := decodeSource(b)
		if err != nil || src == nil {
			return
		}
		again, err := decodeSource(encodeSource(src))
		if err != nil {
			t.Fatalf("re-encoded source does not decode: %v", err)
		}
		require.Equal(t, src, again)
	})
}
