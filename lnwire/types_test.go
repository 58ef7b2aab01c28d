package lnwire

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// TestChannelIDFromOutPoint checks BOLT 2 "Definition of channel_id": the txid with the big-endian output
// index XORed into its last two bytes, the other 30 bytes untouched.
func TestChannelIDFromOutPoint(t *testing.T) {
	txid := chainhash.Hash(test32("funding"))
	for _, idx := range []uint32{0, 1, 0xff, 0x100, 0x1234, 0xffff} {
		id := NewChannelIDFromOutPoint(wire.OutPoint{Hash: txid, Index: idx})
		require.Equal(t, txid[:30], id[:30], "index %d", idx)
		last := binary.BigEndian.Uint16(txid[30:]) ^ uint16(idx)
		require.Equal(t, last, binary.BigEndian.Uint16(id[30:]), "index %d", idx)
		// XOR again recovers the txid.
		back := id
		back[30] ^= byte(idx >> 8)
		back[31] ^= byte(idx)
		require.Equal(t, ChannelID(txid), back)
	}
	require.Equal(t, ChannelID(txid), NewChannelIDFromOutPoint(wire.OutPoint{Hash: txid}))
	id := NewChannelIDFromOutPoint(wire.OutPoint{Hash: txid, Index: 3})
	require.Equal(t, hex.EncodeToString(id[:]), id.String())
	require.Len(t, id.String(), 64)
	require.True(t, ChannelID{}.IsZero())
	require.False(t, id.IsZero())
}

func TestShortChannelID(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 1000; i++ {
		v := rng.Uint64()
		s := NewShortChannelIDFromUint64(v)
		require.True(t, s.Valid())
		require.Equal(t, v, s.ToUint64())
		p, err := ParseShortChannelID(s.String())
		require.NoError(t, err)
		require.Equal(t, s, p)
	}
	max := ShortChannelID{BlockHeight: 0xffffff, TxIndex: 0xffffff, OutputIndex: 0xffff}
	require.Equal(t, ^uint64(0), max.ToUint64())
	p, err := ParseShortChannelID("16777215x16777215x65535")
	require.NoError(t, err)
	require.Equal(t, max, p)
	require.False(t, ShortChannelID{BlockHeight: 1 << 24}.Valid())
	require.False(t, ShortChannelID{TxIndex: 1 << 24}.Valid())

	for _, bad := range []string{"", "1x2", "1x2x3x4", "x1x2", "1xx2", "1x2x", "ax1x2", "1x2x3 ", " 1x2x3",
		"-1x2x3", "+1x2x3", "16777216x0x0", "0x16777216x0", "0x0x65536", "1X2X3", "0x10x0x1"} {
		_, err := ParseShortChannelID(bad)
		require.ErrorIs(t, err, ErrInvalidShortChannelID, "%q", bad)
	}
}

func TestSigConversions(t *testing.T) {
	priv := testKey("signer")
	for i := 0; i < 20; i++ {
		h := sha256.Sum256([]byte{byte(i)})
		sig := ecdsa.Sign(priv, h[:])
		wireSig, err := NewSigFromECDSA(sig)
		require.NoError(t, err)
		r, s := sig.R(), sig.S()
		rb, sb := r.Bytes(), s.Bytes()
		require.Equal(t, rb[:], wireSig[:32])
		require.Equal(t, sb[:], wireSig[32:])

		back, err := wireSig.ToSignature()
		require.NoError(t, err)
		require.True(t, back.IsEqual(sig))
		require.True(t, back.Verify(h[:], priv.PubKey()))

		fromDER, err := NewSigFromDER(sig.Serialize())
		require.NoError(t, err)
		require.Equal(t, wireSig, fromDER)
		der, err := wireSig.ToDER()
		require.NoError(t, err)
		require.Equal(t, sig.Serialize(), der)
	}

	// A high-S signature keeps its s through DER and back (no normalisation), and still verifies.
	h := sha256.Sum256([]byte("high-s"))
	low := ecdsa.Sign(priv, h[:])
	r, sLow := low.R(), low.S()
	var sHigh btcec.ModNScalar
	sHigh.NegateVal(&sLow)
	require.True(t, sHigh.IsOverHalfOrder())
	highSig, err := NewSigFromECDSA(ecdsa.NewSignature(&r, &sHigh))
	require.NoError(t, err)
	highDER, err := highSig.ToDER()
	require.NoError(t, err)
	require.NotEqual(t, low.Serialize(), highDER)
	back, err := NewSigFromDER(highDER)
	require.NoError(t, err)
	require.Equal(t, highSig, back)
	parsed, err := highSig.ToSignature()
	require.NoError(t, err)
	require.True(t, parsed.Verify(h[:], priv.PubKey()))

	// The secp256k1 group order n.
	n, _ := hex.DecodeString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
	var good Sig
	good[31], good[63] = 1, 1
	_, err = good.ToSignature()
	require.NoError(t, err)
	cases := map[string]Sig{}
	var s Sig
	copy(s[:32], n)
	s[63] = 1
	cases["r = n"] = s
	s = good
	copy(s[32:], n)
	cases["s = n"] = s
	s = good
	for i := 32; i < 64; i++ {
		s[i] = 0xff
	}
	cases["s = 2^256-1"] = s
	s = good
	s[31] = 0
	cases["r = 0"] = s
	s = good
	s[63] = 0
	cases["s = 0"] = s
	cases["all zero"] = Sig{}
	for name, c := range cases {
		_, err := c.ToSignature()
		require.ErrorIs(t, err, ErrInvalidSignature, name)
		_, err = c.ToDER()
		require.ErrorIs(t, err, ErrInvalidSignature, name)
	}
	_, err = NewSigFromECDSA(nil)
	require.ErrorIs(t, err, ErrInvalidSignature)
	var zero btcec.ModNScalar
	_, err = NewSigFromECDSA(ecdsa.NewSignature(&zero, &zero))
	require.ErrorIs(t, err, ErrInvalidSignature)
	for _, der := range [][]byte{nil, {0x30}, {0x30, 0x00}, append(testSigDER(t), 0x01)} {
		_, err := NewSigFromDER(der)
		require.ErrorIs(t, err, ErrInvalidSignature, "%x", der)
	}
}

func testSigDER(t testing.TB) []byte {
	h := sha256.Sum256([]byte("der"))
	return ecdsa.Sign(testKey("der"), h[:]).Serialize()
}

func TestParsePoint(t *testing.T) {
	pk := testKey("point").PubKey()
	c := pk.SerializeCompressed()
	got, err := ParsePoint(c)
	require.NoError(t, err)
	require.True(t, got.IsEqual(pk))
	require.Equal(t, c, got.SerializeCompressed())

	bad := map[string][]byte{
		"empty":        nil,
		"short":        c[:32],
		"long":         append(append([]byte{}, c...), 0),
		"uncompressed": pk.SerializeUncompressed(),
		"prefix 04":    append([]byte{0x04}, c[1:]...),
		"prefix 00":    append([]byte{0x00}, c[1:]...),
		"x >= p":       append([]byte{0x02}, bytesOf(0xff, 32)...),
		"x = 0":        append([]byte{0x02}, bytesOf(0x00, 32)...), // 7 is not a square mod p
	}
	for name, b := range bad {
		_, err := ParsePoint(b)
		require.ErrorIs(t, err, ErrInvalidPoint, name)
	}
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}
