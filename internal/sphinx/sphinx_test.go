package sphinx

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"
)

// testKey derives a deterministic private key from a seed.
func testKey(seed byte) *btcec.PrivateKey {
	b := sha256.Sum256([]byte{0x5e, seed})
	k, _ := btcec.PrivKeyFromBytes(b[:])
	return k
}

// testRoute returns n node keys and a 32-byte payment hash.
func testRoute(n int) ([]*btcec.PrivateKey, []byte) {
	keys := make([]*btcec.PrivateKey, n)
	for i := range keys {
		keys[i] = testKey(byte(i + 1))
	}
	ph := sha256.Sum256([]byte("payment hash"))
	return keys, ph[:]
}

func simpleHops(t testing.TB, keys []*btcec.PrivateKey) []Hop {
	t.Helper()
	hops := make([]Hop, len(keys))
	for i, k := range keys {
		p := HopPayload{AmtToForwardMsat: uint64(1000 * (len(keys) - i)), OutgoingCLTVValue: uint32(800000 + 40*(len(keys)-i))}
		if i < len(keys)-1 {
			scid := uint64(i + 1)
			p.ShortChannelID = &scid
		} else {
			p.PaymentData = &PaymentData{PaymentSecret: sha256.Sum256([]byte("secret")), TotalMsat: 1000}
		}
		b, err := p.Encode()
		require.NoError(t, err)
		hops[i] = Hop{NodePubkey: k.PubKey(), Payload: b}
	}
	return hops
}

// TestRandomRoutes builds onions over random routes and payload sizes (including routes that fill
// hop_payloads exactly), peels them hop by hop, then fails the payment at a random hop and checks the
// origin attributes the error to it.
func TestRandomRoutes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys, ad := testRoute(27)
	for iter := 0; iter < 60; iter++ {
		n := 1 + rng.IntN(20)
		budget := HopPayloadsSize
		hops := make([]Hop, n)
		for i := range hops {
			left := budget - (n-1-i)*(1+2+HMACSize) // keep room for the others' minimum frames
			maxLen := left - HMACSize - 3
			l := 2 + rng.IntN(max(1, min(300, maxLen-1)))
			if iter%5 == 0 && i == n-1 { // fill the packet exactly
				l = left - HMACSize - 1
				if l >= 0xfd {
					l = left - HMACSize - 3
				}
			}
			p := make([]byte, l)
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			hops[i] = Hop{NodePubkey: keys[i].PubKey(), Payload: p}
			budget -= frameSize(l)
		}
		var sk [32]byte
		for j := range sk {
			sk[j] = byte(rng.Uint32())
		}
		session, _ := btcec.PrivKeyFromBytes(sk[:])
		pkt, secrets, err := NewOnionPacket(session, hops, ad)
		require.NoError(t, err)

		cur := pkt
		for i := range hops {
			res, err := ProcessOnionPacket(cur, ad, PrivateKeyECDH(keys[i]))
			require.NoError(t, err, "iter %d hop %d/%d", iter, i, n)
			require.Equal(t, hops[i].Payload, res.Payload)
			require.Equal(t, secrets[i], res.SharedSecret)
			require.Equal(t, i == n-1, res.IsFinal)
			cur = res.NextPacket
		}

		erring := rng.IntN(n)
		failure := NewFeeInsufficient(rng.Uint64(), []byte{0x01, 0x02, byte(iter)})
		back := CreateErrorPacket(secrets[erring], failure)
		require.Len(t, back, MinErrorPacketSize)
		for i := erring - 1; i >= 0; i-- {
			back = ObfuscateErrorPacket(secrets[i], back)
		}
		idx, got, err := DecryptErrorPacket(secrets, back)
		require.NoError(t, err)
		require.Equal(t, erring, idx)
		require.Equal(t, failure, got)
	}
}

func TestNewOnionPacketErrors(t *testing.T) {
	keys, ad := testRoute(3)
	hops := simpleHops(t, keys)
	session := testKey(99)

	_, _, err := NewOnionPacket(nil, hops, ad)
	require.ErrorIs(t, err, ErrInvalidSessionKey)
	_, _, err = NewOnionPacket(&btcec.PrivateKey{}, hops, ad)
	require.ErrorIs(t, err, ErrInvalidSessionKey)
	_, _, err = NewOnionPacket(session, nil, ad)
	require.ErrorIs(t, err, ErrNoHops)
	_, _, err = NewOnionPacket(session, []Hop{{Payload: []byte{2, 0}}}, ad)
	require.ErrorIs(t, err, ErrInvalidHop)
	_, _, err = NewOnionPacket(session, []Hop{{NodePubkey: keys[0].PubKey(), Payload: []byte{2}}}, ad)
	require.ErrorIs(t, err, ErrInvalidHop)
	big := make([]byte, 700)
	_, _, err = NewOnionPacket(session, []Hop{{keys[0].PubKey(), big}, {keys[1].PubKey(), big}}, ad)
	require.ErrorIs(t, err, ErrPayloadsTooLarge)
	_, _, err = NewOnionPacket(session, []Hop{{keys[0].PubKey(), make([]byte, 2000)}}, ad)
	require.ErrorIs(t, err, ErrPayloadsTooLarge)
	// The largest single payload that fits: 3-byte BigSize + 1265 + 32 = 1300.
	_, _, err = NewOnionPacket(session, []Hop{{keys[0].PubKey(), make([]byte, 1265)}}, ad)
	require.NoError(t, err)
	_, _, err = NewOnionPacket(session, []Hop{{keys[0].PubKey(), make([]byte, 1266)}}, ad)
	require.ErrorIs(t, err, ErrPayloadsTooLarge)
}

// TestProcessOnionPacketBadOnion covers the three BADONION failures and their mapping to
// update_fail_malformed_htlc's failure_code and sha256_of_onion.
func TestProcessOnionPacketBadOnion(t *testing.T) {
	keys, ad := testRoute(2)
	pkt, _, err := NewOnionPacket(testKey(99), simpleHops(t, keys), ad)
	require.NoError(t, err)
	ecdh := PrivateKeyECDH(keys[0])
	_, err = ProcessOnionPacket(pkt, ad, ecdh)
	require.NoError(t, err)

	check := func(name string, p *OnionPacket, ad []byte, want error, code FailureCode) {
		t.Helper()
		_, err := ProcessOnionPacket(p, ad, ecdh)
		require.ErrorIs(t, err, want, name)
		c, sha, ok := BadOnionFailure(err, p)
		require.True(t, ok, name)
		require.Equal(t, code, c, name)
		require.True(t, c.IsBadOnion() && c.IsPermanent(), name)
		require.Equal(t, sha256.Sum256(p[:]), sha, name)
		f := FailureMessage{Code: c, Data: sha[:]}
		got, err := f.SHA256OfOnion()
		require.NoError(t, err)
		require.Equal(t, sha, got)
	}

	// Every single-bit flip in the HMAC, and a sample of flips in hop_payloads.
	for bit := 0; bit < HMACSize*8; bit++ {
		p := *pkt
		p[hmacOffset+bit/8] ^= 1 << (bit % 8)
		check("hmac bit", &p, ad, ErrInvalidOnionHMAC, InvalidOnionHMAC)
	}
	for _, off := range []int{0, 1, 100, 650, 1299} {
		p := *pkt
		p[hopPayloadsOffset+off] ^= 0x10
		check("payload bit", &p, ad, ErrInvalidOnionHMAC, InvalidOnionHMAC)
	}
	check("associated data", pkt, append([]byte{1}, ad[1:]...), ErrInvalidOnionHMAC, InvalidOnionHMAC)
	// Another node's key derives another secret: the HMAC does not match.
	_, err = ProcessOnionPacket(pkt, ad, PrivateKeyECDH(keys[1]))
	require.ErrorIs(t, err, ErrInvalidOnionHMAC)

	for _, v := range []byte{1, 2, 0x80, 0xff} {
		p := *pkt
		p[versionOffset] = v
		check("version", &p, ad, ErrInvalidOnionVersion, InvalidOnionVersion)
	}

	badKeys := map[string][]byte{
		"uncompressed prefix": append([]byte{0x04}, pkt[pubKeyOffset+1:hopPayloadsOffset]...),
		"zero prefix":         append([]byte{0x00}, pkt[pubKeyOffset+1:hopPayloadsOffset]...),
		"x above p":           append([]byte{0x02}, bytes.Repeat([]byte{0xff}, 32)...),
		"all zero":            make([]byte, 33),
	}
	// An x with no point on the curve: x = 5 gives x^3+7 = 132, a non-residue mod p.
	notOnCurve := make([]byte, 33)
	notOnCurve[0], notOnCurve[32] = 0x02, 5
	badKeys["not on curve"] = notOnCurve
	for name, k := range badKeys {
		p := *pkt
		copy(p[pubKeyOffset:], k)
		check(name, &p, ad, ErrInvalidOnionKey, InvalidOnionKey)
	}

	// Errors that are not BADONION do not map.
	_, _, ok := BadOnionFailure(&PayloadError{Err: errors.New("x")}, pkt)
	require.False(t, ok)
	_, _, ok = BadOnionFailure(ErrInvalidOnionHMAC, nil)
	require.False(t, ok)
}

func TestProcessOnionPacketECDHError(t *testing.T) {
	keys, ad := testRoute(1)
	pkt, _, err := NewOnionPacket(testKey(99), simpleHops(t, keys), ad)
	require.NoError(t, err)
	boom := errors.New("signer offline")
	_, err = ProcessOnionPacket(pkt, ad, func(*btcec.PublicKey) ([32]byte, error) { return [32]byte{}, boom })
	require.ErrorIs(t, err, ErrECDH)
	require.ErrorIs(t, err, boom)
	_, err = ProcessOnionPacket(pkt, ad, nil)
	require.ErrorIs(t, err, ErrECDH)
	_, err = ProcessOnionPacket(nil, ad, PrivateKeyECDH(keys[0]))
	require.Error(t, err)
}

// craftPacket returns a packet for key whose hop_payloads decrypt to plain (zero-extended) and whose
// HMAC is valid, so the payload framing checks can be reached.
func craftPacket(t *testing.T, key *btcec.PrivateKey, ephemeral *btcec.PrivateKey, plain []byte, ad []byte) *OnionPacket {
	t.Helper()
	ss, err := PrivateKeyECDH(key)(ephemeral.PubKey())
	require.NoError(t, err)
	var mix [HopPayloadsSize]byte
	copy(mix[:], plain)
	xorStream(generateKey(keyTypeRho, ss[:]), mix[:])
	mu := generateKey(keyTypeMu, ss[:])
	m := hmac.New(sha256.New, mu[:])
	m.Write(mix[:])
	m.Write(ad)
	p := new(OnionPacket)
	copy(p[pubKeyOffset:], ephemeral.PubKey().SerializeCompressed())
	copy(p[hopPayloadsOffset:], mix[:])
	copy(p[hmacOffset:], m.Sum(nil))
	return p
}

func TestProcessOnionPacketPayloadFraming(t *testing.T) {
	keys, ad := testRoute(1)
	eph := testKey(77)
	cases := map[string][]byte{
		"legacy length 0":   {0x00},
		"reserved length 1": {0x01, 0xaa},
		"non-canonical":     {0xfd, 0x00, 0x10},
		"too long":          {0xfd, 0x04, 0xf2}, // 1266 + 3 + 32 > 1300
		"way too long":      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	for name, plain := range cases {
		_, err := ProcessOnionPacket(craftPacket(t, keys[0], eph, plain, ad), ad, PrivateKeyECDH(keys[0]))
		require.ErrorIs(t, err, ErrInvalidHopPayload, name)
		var pe *PayloadError
		require.ErrorAs(t, err, &pe, name)
		require.Equal(t, InvalidOnionPayload, pe.Failure().Code, name)
		_, _, ok := BadOnionFailure(err, nil)
		require.False(t, ok)
	}
	// The longest payload that fits, with a zero next HMAC, is accepted as final.
	plain := append([]byte{0xfd, 0x04, 0xf1}, bytes.Repeat([]byte{0x42}, 1265)...)
	res, err := ProcessOnionPacket(craftPacket(t, keys[0], eph, plain, ad), ad, PrivateKeyECDH(keys[0]))
	require.NoError(t, err)
	require.True(t, res.IsFinal)
	require.Equal(t, plain[3:], res.Payload)
}

func TestOnionPacketAccessors(t *testing.T) {
	keys, ad := testRoute(2)
	session := testKey(99)
	pkt, _, err := NewOnionPacket(session, simpleHops(t, keys), ad)
	require.NoError(t, err)
	require.Equal(t, byte(OnionVersion), pkt.Version())
	k, err := pkt.EphemeralKey()
	require.NoError(t, err)
	require.True(t, k.IsEqual(session.PubKey()))
	kb := pkt.EphemeralKeyBytes()
	require.Equal(t, session.PubKey().SerializeCompressed(), kb[:])
	h := pkt.HMAC()
	require.Equal(t, pkt[OnionPacketSize-HMACSize:], h[:])
	require.Equal(t, pkt[1+PubKeySize:OnionPacketSize-HMACSize], pkt.HopPayloads())

	enc := pkt.Encode()
	require.Len(t, enc, OnionPacketSize)
	dec, err := DecodeOnionPacket(enc)
	require.NoError(t, err)
	require.Equal(t, pkt, dec)
	enc[0] = 9 // the decoded packet is a copy
	require.Equal(t, byte(0), dec.Version())
	for _, n := range []int{0, 1, OnionPacketSize - 1, OnionPacketSize + 1} {
		_, err := DecodeOnionPacket(make([]byte, n))
		require.ErrorIs(t, err, ErrInvalidOnionLength)
	}
}

// TestEphemeralKeyBlinding checks that the key a hop forwards is the one the payer derived: the
// next hop's ECDH on it gives the payer's shared secret for that hop.
func TestEphemeralKeyBlinding(t *testing.T) {
	keys, ad := testRoute(4)
	session := testKey(99)
	pkt, secrets, err := NewOnionPacket(session, simpleHops(t, keys), ad)
	require.NoError(t, err)
	cur := pkt
	ek := session.Key
	for i := range keys {
		k, err := cur.EphemeralKey()
		require.NoError(t, err)
		want := btcec.PrivKeyFromScalar(&ek).PubKey()
		require.True(t, k.IsEqual(want), "hop %d ephemeral key", i)
		ss, err := PrivateKeyECDH(keys[i])(k)
		require.NoError(t, err)
		require.Equal(t, secrets[i], ss)
		// Next ephemeral private key: ek * SHA256(epk || ss).
		f := blindingFactor(want.SerializeCompressed(), ss)
		ek.Mul(&f)
		res, err := ProcessOnionPacket(cur, ad, PrivateKeyECDH(keys[i]))
		require.NoError(t, err)
		cur = res.NextPacket
	}
	require.Nil(t, cur)
}

// TestConcurrentUse processes one packet and decrypts one error from many goroutines at once; run
// with -race it shows the functions share no mutable state and leave their inputs alone.
func TestConcurrentUse(t *testing.T) {
	keys, ad := testRoute(3)
	pkt, secrets, err := NewOnionPacket(testKey(99), simpleHops(t, keys), ad)
	require.NoError(t, err)
	orig := *pkt
	errPkt := CreateErrorPacket(secrets[2], NewFailure(MPPTimeout))
	errPkt = ObfuscateErrorPacket(secrets[1], errPkt)
	errPkt = ObfuscateErrorPacket(secrets[0], errPkt)
	origErr := append([]byte(nil), errPkt...)
	ecdh := PrivateKeyECDH(keys[0])

	var wg sync.WaitGroup
	results := make([]*ProcessedPacket, 8)
	idxs := make([]int, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r, err := ProcessOnionPacket(pkt, ad, ecdh)
			if err == nil {
				results[g] = r
			}
			idxs[g], _, _ = DecryptErrorPacket(secrets, errPkt)
		}(g)
	}
	wg.Wait()
	require.Equal(t, orig, *pkt)
	require.Equal(t, origErr, errPkt)
	for g := range results {
		require.NotNil(t, results[g])
		require.Equal(t, results[0].NextPacket, results[g].NextPacket)
		require.Equal(t, 2, idxs[g])
	}
}

func TestDecryptErrorPacketErrors(t *testing.T) {
	keys, ad := testRoute(3)
	_, secrets, err := NewOnionPacket(testKey(99), simpleHops(t, keys), ad)
	require.NoError(t, err)

	_, _, err = DecryptErrorPacket(secrets, make([]byte, 35))
	require.ErrorIs(t, err, ErrErrorPacketTooShort)

	good := CreateErrorPacket(secrets[1], NewFailure(TemporaryNodeFailure))
	good = ObfuscateErrorPacket(secrets[0], good)
	idx, f, err := DecryptErrorPacket(secrets, good)
	require.NoError(t, err)
	require.Equal(t, 1, idx)
	require.Equal(t, TemporaryNodeFailure, f.Code)

	// A flipped bit anywhere makes the error unattributable.
	for _, off := range []int{0, 31, 32, 33, 100, len(good) - 1} {
		bad := append([]byte(nil), good...)
		bad[off] ^= 0x01
		idx, _, err := DecryptErrorPacket(secrets, bad)
		require.ErrorIs(t, err, ErrUnknownErrorSource, "offset %d", off)
		require.Equal(t, -1, idx)
	}
	// Not through hop 0's obfuscation: hop 0's secret does not match, hop 1's layer is missing.
	idx, _, err = DecryptErrorPacket(secrets[1:2], good)
	require.ErrorIs(t, err, ErrUnknownErrorSource)
	require.Equal(t, -1, idx)

	// A valid HMAC over a failure_len that overruns the packet, or a failuremsg shorter than a code.
	for _, body := range [][]byte{
		{0x01, 0x00, 0xaa, 0xbb},
		{0x00, 0x01, 0x20, 0x00, 0x00},
		{0x00, 0x00, 0x00, 0x00},
	} {
		pkt := make([]byte, HMACSize, HMACSize+len(body))
		pkt = append(pkt, body...)
		um := generateKey(keyTypeUm, secrets[0][:])
		m := hmac.New(sha256.New, um[:])
		m.Write(pkt[HMACSize:])
		copy(pkt, m.Sum(nil))
		pkt = ObfuscateErrorPacket(secrets[0], pkt)
		idx, _, err := DecryptErrorPacket(secrets, pkt)
		require.ErrorIs(t, err, ErrMalformedFailureMessage)
		require.Equal(t, 0, idx)
	}
}

func TestCreateErrorPacketPadding(t *testing.T) {
	ss := sha256.Sum256([]byte("ss"))
	cases := []struct {
		f       FailureMessage
		padTo   int
		wantLen int
	}{
		{NewFailure(TemporaryNodeFailure), 0, 256},
		{NewFailure(TemporaryNodeFailure), 1024, 1024},
		{NewFailure(TemporaryNodeFailure), 1 << 20, 0xffff},
		{FailureMessage{Code: TemporaryNodeFailure, Data: make([]byte, 300)}, 256, 302},
		{FailureMessage{Code: TemporaryNodeFailure, Data: make([]byte, 70000)}, 256, 0xffff},
	}
	for i, c := range cases {
		pkt := CreateErrorPacketPadded(ss, c.f, c.padTo)
		require.Len(t, pkt, HMACSize+4+c.wantLen, "case %d", i)
		idx, got, err := DecryptErrorPacket([][32]byte{ss}, pkt)
		require.NoError(t, err, "case %d", i)
		require.Equal(t, 0, idx)
		require.Equal(t, c.f.Code, got.Code)
		if len(c.f.Data) <= MaxFailureDataLen {
			require.Equal(t, len(c.f.Data), len(got.Data))
		} else {
			require.Len(t, got.Data, MaxFailureDataLen)
		}
	}
	require.Equal(t, CreateErrorPacketPadded(ss, NewFailure(MPPTimeout), 256), CreateErrorPacket(ss, NewFailure(MPPTimeout)))
	// Obfuscation leaves its input alone and undoes itself.
	in := CreateErrorPacket(ss, NewFailure(MPPTimeout))
	keep := append([]byte(nil), in...)
	out := ObfuscateErrorPacket(ss, in)
	require.Equal(t, keep, in)
	require.Equal(t, in, ObfuscateErrorPacket(ss, out))
}
