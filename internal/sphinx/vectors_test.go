package sphinx

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
)

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err, "hex %q", s)
	return b
}

func unhex32(t testing.TB, s string) [32]byte {
	t.Helper()
	b := unhex(t, s)
	require.Len(t, b, 32)
	var a [32]byte
	copy(a[:], b)
	return a
}

func privKey(t testing.TB, s string) *btcec.PrivateKey {
	t.Helper()
	k, _ := btcec.PrivKeyFromBytes(unhex(t, s))
	return k
}

func pubKey(t testing.TB, s string) *btcec.PublicKey {
	t.Helper()
	k, err := btcec.ParsePubKey(unhex(t, s))
	require.NoError(t, err)
	return k
}

// stripLength removes the BigSize length prefix the vectors put on each hop payload, checking it.
func stripLength(t testing.TB, framed []byte) []byte {
	t.Helper()
	l, n, err := lnwire.ReadBigSize(framed)
	require.NoError(t, err)
	require.Equal(t, uint64(len(framed)-n), l, "vector payload length prefix")
	return framed[n:]
}

type onionVector struct {
	Generate struct {
		SessionKey     string `json:"session_key"`
		AssociatedData string `json:"associated_data"`
		Hops           []struct {
			Pubkey  string `json:"pubkey"`
			Payload string `json:"payload"`
		} `json:"hops"`
	} `json:"generate"`
	Onion  string   `json:"onion"`
	Decode []string `json:"decode"`
}

type errorVector struct {
	Generate struct {
		SessionKey     string `json:"session_key"`
		FailureMessage string `json:"failure_message"`
		Hops           []struct {
			Pubkey          string `json:"pubkey"`
			HopSharedSecret string `json:"hop_shared_secret"`
			AmmagKey        string `json:"ammag_key"`
			UmKey           string `json:"um_key"`
			Payload         string `json:"payload"`
		} `json:"hops"`
	} `json:"generate"`
	ErrorPacket string `json:"errorpacket"`
}

// TestOnionVector builds the onion of bolt04/onion-test.json byte for byte, then peels it at each of
// the five hops with the hop's private key, checking every payload, shared secret and the final flag,
// and decodes and re-encodes every payload.
func TestOnionVector(t *testing.T) {
	var v onionVector
	loadJSON(t, "onion-test.json", &v)
	require.Len(t, v.Generate.Hops, 5)
	require.Len(t, v.Decode, 5)

	hops := make([]Hop, len(v.Generate.Hops))
	for i, h := range v.Generate.Hops {
		hops[i] = Hop{NodePubkey: pubKey(t, h.Pubkey), Payload: stripLength(t, unhex(t, h.Payload))}
	}
	ad := unhex(t, v.Generate.AssociatedData)
	pkt, secrets, err := NewOnionPacket(privKey(t, v.Generate.SessionKey), hops, ad)
	require.NoError(t, err)
	require.Equal(t, v.Onion, hex.EncodeToString(pkt[:]))
	require.Len(t, secrets, 5)

	// The error vector lists the same route's shared secrets.
	var ev errorVector
	loadJSON(t, "onion-error-test.json", &ev)
	for i, h := range ev.Generate.Hops {
		require.Equal(t, h.HopSharedSecret, hex.EncodeToString(secrets[i][:]), "shared secret %d", i)
	}

	cur := pkt
	for i, privHex := range v.Decode {
		priv := privKey(t, privHex)
		require.True(t, priv.PubKey().IsEqual(hops[i].NodePubkey), "decode key %d matches hop", i)
		res, err := ProcessOnionPacket(cur, ad, PrivateKeyECDH(priv))
		require.NoError(t, err, "hop %d", i)
		require.Equal(t, secrets[i], res.SharedSecret, "hop %d", i)
		require.Equal(t, hops[i].Payload, res.Payload, "hop %d payload", i)
		last := i == len(v.Decode)-1
		require.Equal(t, last, res.IsFinal, "hop %d final", i)
		if last {
			require.Nil(t, res.NextPacket)
		} else {
			require.NotNil(t, res.NextPacket)
			// The next ephemeral key is the sender's blinded key for hop i+1: check the packet
			// is processable by nothing but the next hop.
			_, err := ProcessOnionPacket(res.NextPacket, ad, PrivateKeyECDH(priv))
			require.ErrorIs(t, err, ErrInvalidOnionHMAC)
		}

		p, err := DecodeHopPayload(res.Payload, last)
		require.NoError(t, err, "hop %d payload decode", i)
		enc, err := p.Encode()
		require.NoError(t, err)
		require.Equal(t, res.Payload, enc, "hop %d payload re-encodes", i)
		cur = res.NextPacket
	}

	// Spot-check decoded values against the vector's bytes.
	p0, err := DecodeHopPayload(hops[0].Payload, false)
	require.NoError(t, err)
	require.Equal(t, uint64(0x3a98), p0.AmtToForwardMsat)
	require.Equal(t, uint32(0x05dc), p0.OutgoingCLTVValue)
	require.NotNil(t, p0.ShortChannelID)
	require.Equal(t, uint64(1), *p0.ShortChannelID)
	p1, err := DecodeHopPayload(hops[1].Payload, false)
	require.NoError(t, err)
	require.Len(t, p1.Extra, 1)
	require.Equal(t, uint64(0x0201), p1.Extra[0].Type)
	require.Len(t, p1.Extra[0].Value, 0x3c)
	p4, err := DecodeHopPayload(hops[4].Payload, true)
	require.NoError(t, err)
	require.Nil(t, p4.ShortChannelID)
	require.NotNil(t, p4.PaymentData)
	require.Equal(t, uint64(0x2710), p4.PaymentData.TotalMsat)
	require.Equal(t, uint64(0x2710), p4.TotalMsat())
	require.Equal(t, hops[4].Payload[10:42], p4.PaymentData.PaymentSecret[:])
	require.Len(t, p4.Extra, 1)
	require.Equal(t, uint64(0x012d), p4.Extra[0].Type)
}

// TestOnionErrorVector checks bolt04/onion-error-test.json: every hop's ammag key, the final node's
// um key and unobfuscated payload, the packet after each hop's obfuscation, and the origin's
// attribution of the error to hop 4.
func TestOnionErrorVector(t *testing.T) {
	var v errorVector
	loadJSON(t, "onion-error-test.json", &v)
	hops := v.Generate.Hops
	require.Len(t, hops, 5)

	secrets := make([][32]byte, len(hops))
	for i, h := range hops {
		secrets[i] = unhex32(t, h.HopSharedSecret)
		ammag := generateKey(keyTypeAmmag, secrets[i][:])
		require.Equal(t, h.AmmagKey, hex.EncodeToString(ammag[:]), "ammag %d", i)
	}
	final := hops[4]
	um := generateKey(keyTypeUm, secrets[4][:])
	require.Equal(t, final.UmKey, hex.EncodeToString(um[:]))

	failure, err := DecodeFailureMessage(unhex(t, v.Generate.FailureMessage))
	require.NoError(t, err)
	require.Equal(t, TemporaryNodeFailure, failure.Code)
	require.Empty(t, failure.Data)

	pkt := CreateErrorPacket(secrets[4], failure)
	// Removing the final node's ammag layer exposes hmac || payload.
	plain := ObfuscateErrorPacket(secrets[4], pkt)
	require.Equal(t, final.Payload, hex.EncodeToString(plain[HMACSize:]))
	m := hmac.New(sha256.New, um[:])
	m.Write(plain[HMACSize:])
	require.Equal(t, m.Sum(nil), plain[:HMACSize])

	for i := 3; i >= 0; i-- {
		pkt = ObfuscateErrorPacket(secrets[i], pkt)
	}
	require.Equal(t, v.ErrorPacket, hex.EncodeToString(pkt))

	idx, got, err := DecryptErrorPacket(secrets, pkt)
	require.NoError(t, err)
	require.Equal(t, 4, idx)
	require.Equal(t, failure.Code, got.Code)
	require.Empty(t, got.Data)
}

type traceVector struct {
	Params struct {
		Pubkeys           []string `json:"pubkeys"`
		SessionKey        string   `json:"session_key"`
		FailureSourceNode int      `json:"failure_source_node"`
		FailureMessage    string   `json:"failure_message"`
		FailureHTLCMsat   uint64   `json:"failure_htlc_msat"`
		FailureHeight     uint32   `json:"failure_height"`
		FailureTLVType    uint64   `json:"failure_tlv_type"`
		FailureTLVValue   string   `json:"failure_tlv_value"`
	} `json:"params"`
	Creating struct {
		EncodedFailureMessage string `json:"encoded_failure_message"`
		SharedSecret          string `json:"shared_secret"`
		Payload               string `json:"payload"`
		UmKey                 string `json:"um_key"`
		RawErrorPacket        string `json:"raw_error_packet"`
	} `json:"creating_error_message"`
	Forwarding []struct {
		Node         int    `json:"node"`
		SharedSecret string `json:"shared_secret"`
		AmmagKey     string `json:"ammag_key"`
		Stream       string `json:"stream"`
		ErrorPacket  string `json:"error_packet"`
	} `json:"forwarding"`
}

// TestReturningErrorsTrace follows the BOLT 4 "Returning Errors" trace (returning-errors-trace.json)
// for everything but attribution_data (attributable failures are not implemented): the shared
// secrets derived from the session key, the encoded failure with its TLV extension, the payload
// padded to 1024 bytes, the um key, the raw packet, and at each of the five hops the ammag key,
// the ammag stream and the obfuscated packet; then the origin decrypts it.
func TestReturningErrorsTrace(t *testing.T) {
	var v traceVector
	loadJSON(t, "returning-errors-trace.json", &v)
	require.Equal(t, "incorrect_or_unknown_payment_details", v.Params.FailureMessage)
	require.Equal(t, IncorrectOrUnknownPaymentDetails.String(), v.Params.FailureMessage)
	require.Len(t, v.Forwarding, 5)

	// Shared secrets from the session key and the route (payloads do not affect them).
	hops := make([]Hop, len(v.Params.Pubkeys))
	for i, pk := range v.Params.Pubkeys {
		hops[i] = Hop{NodePubkey: pubKey(t, pk), Payload: []byte{0x02, 0x00}}
	}
	_, secrets, err := NewOnionPacket(privKey(t, v.Params.SessionKey), hops, nil)
	require.NoError(t, err)

	src := v.Params.FailureSourceNode
	ss := secrets[src]
	require.Equal(t, v.Creating.SharedSecret, hex.EncodeToString(ss[:]))

	failure := NewIncorrectOrUnknownPaymentDetails(v.Params.FailureHTLCMsat, v.Params.FailureHeight).
		WithExtension(lnwire.TLVStream{{Type: v.Params.FailureTLVType, Value: unhex(t, v.Params.FailureTLVValue)}})
	msg := failure.Encode()
	// encoded_failure_message is failuremsg || pad_len || pad.
	encoded := unhex(t, v.Creating.EncodedFailureMessage)
	require.Equal(t, hex.EncodeToString(encoded[:len(msg)]), hex.EncodeToString(msg))
	payloadLen := len(unhex(t, v.Creating.Payload)) - 4 // failure_len + pad_len
	require.Equal(t, 1024, payloadLen)

	um := generateKey(keyTypeUm, ss[:])
	require.Equal(t, v.Creating.UmKey, hex.EncodeToString(um[:]))

	pkt := CreateErrorPacketPadded(ss, failure, payloadLen)
	raw := ObfuscateErrorPacket(ss, pkt)
	require.Equal(t, v.Creating.RawErrorPacket, hex.EncodeToString(raw))
	require.Equal(t, v.Creating.Payload, hex.EncodeToString(raw[HMACSize:]))
	require.Equal(t, v.Creating.EncodedFailureMessage, hex.EncodeToString(raw[HMACSize+2:]))

	for step, f := range v.Forwarding {
		require.Equal(t, src-step, f.Node, "forwarding order")
		nodeSS := secrets[f.Node]
		require.Equal(t, f.SharedSecret, hex.EncodeToString(nodeSS[:]), "step %d", step)
		ammag := generateKey(keyTypeAmmag, nodeSS[:])
		require.Equal(t, f.AmmagKey, hex.EncodeToString(ammag[:]), "step %d", step)
		stream := make([]byte, len(raw))
		xorStream(ammag, stream)
		require.Equal(t, f.Stream, hex.EncodeToString(stream), "step %d", step)
		if step > 0 {
			pkt = ObfuscateErrorPacket(nodeSS, pkt)
		}
		require.Equal(t, f.ErrorPacket, hex.EncodeToString(pkt), "step %d", step)
	}

	idx, got, err := DecryptErrorPacket(secrets, pkt)
	require.NoError(t, err)
	require.Equal(t, src, idx)
	require.Equal(t, failure.Code, got.Code)
	require.Equal(t, failure.Data, got.Data)
	ext, err := got.Extension()
	require.NoError(t, err)
	require.Len(t, ext, 1)
	require.Equal(t, v.Params.FailureTLVType, ext[0].Type)
	require.Len(t, ext[0].Value, 300)
	require.Equal(t, bytes.Repeat([]byte{0x80}, 300), ext[0].Value)
}

type blindedOnionVector struct {
	Generate struct {
		SessionKey     string `json:"session_key"`
		AssociatedData string `json:"associated_data"`
		FinalAmount    uint64 `json:"final_amount_msat"`
		FinalCLTV      uint32 `json:"final_cltv"`
		BlindedRoute   struct {
			FirstNodeID  string `json:"first_node_id"`
			FirstPathKey string `json:"first_path_key"`
			Hops         []struct {
				BlindedNodeID string `json:"blinded_node_id"`
				EncryptedData string `json:"encrypted_data"`
			} `json:"hops"`
		} `json:"blinded_route"`
		FullRoute struct {
			Hops []struct {
				Alias   string `json:"alias"`
				Pubkey  string `json:"pubkey"`
				Payload string `json:"payload"`
				TLVs    struct {
					AmtToForward      *uint64 `json:"amt_to_forward"`
					OutgoingCLTVValue *uint32 `json:"outgoing_cltv_value"`
					TotalAmountMsat   *uint64 `json:"total_amount_msat"`
					CurrentPathKey    string  `json:"current_path_key"`
				} `json:"tlvs"`
			} `json:"hops"`
		} `json:"full_route"`
		Onion string `json:"onion"`
	} `json:"generate"`
	Decrypt struct {
		Hops []struct {
			Alias       string `json:"alias"`
			Onion       string `json:"onion"`
			NodePrivkey string `json:"node_privkey"`
			NextPathKey string `json:"next_path_key"`
		} `json:"hops"`
	} `json:"decrypt"`
}

// blindedECDH is the ECDH of a node inside a blinded route (BOLT 4, "Route Blinding"): it uses the
// blinded private key HMAC256("blinded_node_id", SHA256(k*E)) * k for path key E.
func blindedECDH(t testing.TB, k *btcec.PrivateKey, pathKey *btcec.PublicKey) (ECDHFunc, *btcec.PublicKey) {
	t.Helper()
	ss, err := PrivateKeyECDH(k)(pathKey)
	require.NoError(t, err)
	tweak := generateKey([]byte("blinded_node_id"), ss[:])
	var f btcec.ModNScalar
	f.SetBytes(&tweak)
	f.Mul(&k.Key)
	b := btcec.PrivKeyFromScalar(&f)
	return PrivateKeyECDH(b), b.PubKey()
}

// TestBlindedPaymentOnionVector builds the onion of bolt04/blinded-payment-onion-test.json (a
// normal hop, then a blinded route entered through Bob) byte for byte, and peels it at each hop,
// comparing the packet every hop receives with the vector and decoding every payload.
func TestBlindedPaymentOnionVector(t *testing.T) {
	var v blindedOnionVector
	loadJSON(t, "blinded-payment-onion-test.json", &v)
	g := v.Generate
	require.Len(t, g.FullRoute.Hops, 5)
	require.Len(t, v.Decrypt.Hops, 5)

	hops := make([]Hop, len(g.FullRoute.Hops))
	for i, h := range g.FullRoute.Hops {
		hops[i] = Hop{NodePubkey: pubKey(t, h.Pubkey), Payload: stripLength(t, unhex(t, h.Payload))}
	}
	ad := unhex(t, g.AssociatedData)
	pkt, _, err := NewOnionPacket(privKey(t, g.SessionKey), hops, ad)
	require.NoError(t, err)
	require.Equal(t, g.Onion, hex.EncodeToString(pkt[:]))

	cur := pkt
	for i, d := range v.Decrypt.Hops {
		require.Equal(t, d.Onion, hex.EncodeToString(cur[:]), "onion received by %s", d.Alias)
		k := privKey(t, d.NodePrivkey)
		ecdh := PrivateKeyECDH(k)
		if i >= 2 { // Carol, Dave, Eve get the path key in update_add_htlc from the previous hop.
			var blindedPub *btcec.PublicKey
			ecdh, blindedPub = blindedECDH(t, k, pubKey(t, v.Decrypt.Hops[i-1].NextPathKey))
			require.True(t, blindedPub.IsEqual(hops[i].NodePubkey), "blinded node id of %s", d.Alias)
		}
		res, err := ProcessOnionPacket(cur, ad, ecdh)
		require.NoError(t, err, d.Alias)
		require.Equal(t, hops[i].Payload, res.Payload, d.Alias)
		last := i == len(v.Decrypt.Hops)-1
		require.Equal(t, last, res.IsFinal, d.Alias)

		p, err := DecodeHopPayload(res.Payload, last)
		require.NoError(t, err, d.Alias)
		enc, err := p.Encode()
		require.NoError(t, err)
		require.Equal(t, res.Payload, enc, d.Alias)
		tlvs := g.FullRoute.Hops[i].TLVs
		if tlvs.AmtToForward != nil {
			require.Equal(t, *tlvs.AmtToForward, p.AmtToForwardMsat, d.Alias)
		}
		if tlvs.OutgoingCLTVValue != nil {
			require.Equal(t, *tlvs.OutgoingCLTVValue, p.OutgoingCLTVValue, d.Alias)
		}
		if tlvs.TotalAmountMsat != nil {
			require.NotNil(t, p.TotalAmountMsat, d.Alias)
			require.Equal(t, *tlvs.TotalAmountMsat, *p.TotalAmountMsat, d.Alias)
			require.Equal(t, *tlvs.TotalAmountMsat, p.TotalMsat(), d.Alias)
		}
		if tlvs.CurrentPathKey != "" {
			require.NotNil(t, p.CurrentPathKey, d.Alias)
			require.Equal(t, tlvs.CurrentPathKey, hex.EncodeToString(p.CurrentPathKey.SerializeCompressed()))
			require.Equal(t, g.BlindedRoute.FirstPathKey, tlvs.CurrentPathKey)
		}
		if i >= 1 { // Bob onwards carry the recipient's encrypted data.
			require.Equal(t, g.BlindedRoute.Hops[i-1].EncryptedData, hex.EncodeToString(p.EncryptedRecipientData), d.Alias)
		} else {
			require.Nil(t, p.EncryptedRecipientData)
			require.NotNil(t, p.ShortChannelID)
		}
		cur = res.NextPacket
	}
	require.Equal(t, g.FinalAmount, *g.FullRoute.Hops[4].TLVs.AmtToForward)
}
