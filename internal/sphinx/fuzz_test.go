package sphinx

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
)

func fuzzVectorOnion(f *testing.F) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "onion-test.json"))
	if err != nil {
		f.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"onion": "`))
	if i < 0 {
		f.Fatal("onion not found in vector")
	}
	b = b[i+len(`"onion": "`):]
	onion, err := hex.DecodeString(string(b[:2*OnionPacketSize]))
	if err != nil {
		f.Fatal(err)
	}
	return onion
}

// FuzzProcessOnionPacket feeds arbitrary packets to ProcessOnionPacket: it must never panic, and
// whatever it returns must be consistent. When the first byte is odd the rest is used as the
// plaintext of hop_payloads under a valid HMAC, so the payload framing is exercised too.
func FuzzProcessOnionPacket(f *testing.F) {
	vec := fuzzVectorOnion(f)
	f.Add(vec)
	f.Add(append([]byte{1}, 0x00))
	f.Add(append([]byte{1}, 0x12, 0x02, 0x02, 0x3a, 0x98))
	f.Add(append([]byte{1}, 0xfd, 0x04, 0xf1))
	f.Add(make([]byte, OnionPacketSize))

	hopKey, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{0x41}, 32))
	ephemeral, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{0x07}, 32))
	ecdh := PrivateKeyECDH(hopKey)
	ad := bytes.Repeat([]byte{0x42}, 32)

	f.Fuzz(func(t *testing.T, data []byte) {
		var pkt *OnionPacket
		if len(data) > 0 && data[0]&1 == 1 {
			plain := data[1:]
			if len(plain) > HopPayloadsSize {
				plain = plain[:HopPayloadsSize]
			}
			pkt = craftPacket(t, hopKey, ephemeral, plain, ad)
		} else {
			var err error
			pkt, err = DecodeOnionPacket(data)
			if err != nil {
				return
			}
		}
		before := *pkt
		res, err := ProcessOnionPacket(pkt, ad, ecdh)
		if before != *pkt {
			t.Fatal("input packet modified")
		}
		if err != nil {
			if res != nil {
				t.Fatal("result with error")
			}
			return
		}
		if res.IsFinal != (res.NextPacket == nil) {
			t.Fatal("IsFinal and NextPacket disagree")
		}
		if len(res.Payload) < 2 {
			t.Fatal("reserved payload length accepted")
		}
		if res.NextPacket != nil {
			if _, err := res.NextPacket.EphemeralKey(); err != nil {
				t.Fatalf("forwarded an invalid key: %v", err)
			}
		}
		_, _ = DecodeHopPayload(res.Payload, res.IsFinal)
	})
}

// FuzzDecodeHopPayload: DecodeHopPayload never panics, and every payload it accepts re-encodes to
// the same bytes.
func FuzzDecodeHopPayload(f *testing.F) {
	seeds := []string{
		"02023a98040205dc06080000000000000001",
		"020236b00402057806080000000000000002fd02013c0102030405060708090a0b0c0d0e0f0102030405060708090a0b0c0d0e0f0102030405060708090a0b0c0d0e0f0102030405060708090a0b0c0d0e0f",
		"02022710040203e8082224a33562c54507a9334e79f0dc4f17d407e6d7c61f0e2f3d0d38599502f6170427100b0161",
		"0a03010203" + "0c21" + "024d4b6cd1361032ca9bd2aeb9d900aa4d45d9ead80ac9423374c451a7254d0766",
		"020101040101" + "0a0100" + "120101",
		"020101040101" + "ff0000000146c6616c20" + "0000000000000000000000000000000000000000000000000000000000000000",
		"020101040101" + "1003616263",
	}
	for _, s := range seeds {
		b, _ := hex.DecodeString(s)
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, b []byte, isFinal bool) {
		p, err := DecodeHopPayload(b, isFinal)
		if err != nil {
			if p != nil {
				t.Fatal("payload with error")
			}
			return
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatalf("accepted payload does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, enc)
		}
	})
}

// FuzzDecryptErrorPacket: arbitrary error packets and failure messages never panic the payer's
// decoding or the failure accessors.
func FuzzDecryptErrorPacket(f *testing.F) {
	ss := [][32]byte{{1}, {2}, {3}}
	f.Add(CreateErrorPacket(ss[1], NewFeeInsufficient(5, []byte{1, 2})))
	f.Add(ObfuscateErrorPacket(ss[0], CreateErrorPacket(ss[1], NewInvalidOnionPayload(7, 9))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		_, _, _ = DecryptErrorPacket(ss, pkt)
		fm, err := DecodeFailureMessage(pkt)
		if err != nil {
			return
		}
		_ = fm.Validate()
		_, _ = fm.ChannelUpdate()
		_, _ = fm.SHA256OfOnion()
		_, _ = fm.Extension()
		_ = fm.String()
	})
}
