package lnwire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeMessage checks that DecodeMessage never panics, that whatever it accepts re-encodes to the
// same bytes, and that decoding those bytes again gives an equal message.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range testMessages(f) {
		enc, err := EncodeMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	for _, s := range []string{"001000000000", "001000000000c9012acb0104", "00100000000001", "001000000000ca012a",
		"001000000000c90101c90102", "8001", "00"} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data)
		if err != nil {
			if m != nil {
				t.Fatalf("non-nil message with error %v", err)
			}
			return
		}
		enc, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("decoded %T does not encode: %v", m, err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("%T re-encodes differently:\n in  %x\n out %x", m, data, enc)
		}
		m2, err := DecodeMessage(enc)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("decode(encode(decode(x))) differs: %#v vs %#v", m, m2)
		}
	})
}

// FuzzTLVStream checks DecodeTLVStream: no panic, accepted streams re-encode byte for byte with strictly
// increasing types, and rejected streams fail with one of the framing sentinels.
func FuzzTLVStream(f *testing.F) {
	fails, oks := loadTLVVectors(f)
	for _, v := range fails {
		f.Add(mustHex(f, v.Stream))
	}
	for _, v := range oks {
		f.Add(mustHex(f, v.Stream))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeTLVStream(data)
		if err != nil {
			if !errors.Is(err, ErrShortRead) && !errors.Is(err, ErrNonCanonicalBigSize) &&
				!errors.Is(err, ErrTLVLengthTooLarge) && !errors.Is(err, ErrTLVNotIncreasing) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if !bytes.Equal(s.Encode(), data) {
			t.Fatalf("stream re-encodes differently: %x vs %x", s.Encode(), data)
		}
		for i := 1; i < len(s); i++ {
			if s[i].Type <= s[i-1].Type {
				t.Fatalf("types not increasing at %d", i)
			}
		}
		for _, r := range s {
			v, ok := s.Get(r.Type)
			if !ok || !bytes.Equal(v, r.Value) {
				t.Fatalf("Get(%d) does not find the record", r.Type)
			}
		}
	})
}

// FuzzReadBigSize checks that accepted BigSize values are canonical (re-encode to the consumed bytes).
func FuzzReadBigSize(f *testing.F) {
	for _, s := range []string{"", "00", "fc", "fd00fd", "fd00fc", "fe00010000", "ff0000000100000000", "ff00000000ffffffff"} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, n, err := ReadBigSize(data)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendBigSize(nil, v), data[:n]) {
			t.Fatalf("non-canonical bigsize accepted: %x -> %d", data[:n], v)
		}
	})
}

// FuzzDecodeTruncatedUint checks that accepted tu64 values re-encode to the same bytes.
func FuzzDecodeTruncatedUint(f *testing.F) {
	f.Add([]byte{}, 8)
	f.Add([]byte{0, 1}, 8)
	f.Add([]byte{1, 0, 0}, 2)
	f.Fuzz(func(t *testing.T, data []byte, maxLen int) {
		if maxLen < 0 || maxLen > 8 {
			maxLen = 8
		}
		v, err := DecodeTruncatedUint(data, maxLen)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendTruncatedUint64(nil, v), data) {
			t.Fatalf("non-minimal truncated int accepted: %x", data)
		}
	})
}

// FuzzDecodeSignedInt checks that DecodeSignedInt and the fixed-width encoders invert each other.
func FuzzDecodeSignedInt(f *testing.F) {
	for _, s := range []string{"00", "80", "ff7f", "00008000", "8000000000000000", "010203"} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeSignedInt(data)
		if err != nil {
			return
		}
		var enc []byte
		switch len(data) {
		case 1:
			enc = AppendS8(nil, int8(v))
		case 2:
			enc = AppendS16(nil, int16(v))
		case 4:
			enc = AppendS32(nil, int32(v))
		case 8:
			enc = AppendS64(nil, v)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("%x decodes to %d which encodes to %x", data, v, enc)
		}
		if SignedIntLen(v) > len(data) {
			t.Fatalf("minimal width %d larger than input %d", SignedIntLen(v), len(data))
		}
	})
}

// FuzzParseShortChannelID checks that accepted strings round-trip through the u64 form.
func FuzzParseShortChannelID(f *testing.F) {
	for _, s := range []string{"539268x845x1", "0x0x0", "16777215x16777215x65535", "16777216x0x0", "1x2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scid, err := ParseShortChannelID(s)
		if err != nil {
			return
		}
		if !scid.Valid() {
			t.Fatalf("%q parsed to out-of-range %v", s, scid)
		}
		if NewShortChannelIDFromUint64(scid.ToUint64()) != scid {
			t.Fatalf("%q does not round-trip", s)
		}
		again, err := ParseShortChannelID(scid.String())
		if err != nil || again != scid {
			t.Fatalf("String of %q does not parse back: %v", s, err)
		}
	})
}

// FuzzSigToSignature checks that ToSignature never panics and that accepted signatures round-trip.
func FuzzSigToSignature(f *testing.F) {
	good := testSig(f, "fuzz")
	f.Add(good[:])
	f.Add(make([]byte, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Sig
		copy(s[:], data)
		sig, err := s.ToSignature()
		if err != nil {
			return
		}
		back, err := NewSigFromECDSA(sig)
		if err != nil || back != s {
			t.Fatalf("signature does not round-trip: %v", err)
		}
		der, err := s.ToDER()
		if err != nil {
			t.Fatal(err)
		}
		fromDER, err := NewSigFromDER(der)
		if err != nil || fromDER != s {
			t.Fatalf("DER does not round-trip: %v", err)
		}
	})
}

// FuzzNewSigFromDER checks that the DER parser never panics and that accepted input re-serializes.
func FuzzNewSigFromDER(f *testing.F) {
	f.Add(testSigDER(f))
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := NewSigFromDER(data)
		if err != nil {
			return
		}
		der, err := s.ToDER()
		if err != nil || !bytes.Equal(der, data) {
			t.Fatalf("accepted DER %x re-serializes to %x (%v)", data, der, err)
		}
	})
}

// FuzzParsePoint checks that accepted points re-serialize to the input.
func FuzzParsePoint(f *testing.F) {
	f.Add(testKey("fuzz").PubKey().SerializeCompressed())
	f.Add(make([]byte, 33))
	f.Fuzz(func(t *testing.T, data []byte) {
		pk, err := ParsePoint(data)
		if err != nil {
			return
		}
		if !bytes.Equal(pk.SerializeCompressed(), data) {
			t.Fatalf("point %x re-serializes differently", data)
		}
	})
}

// FuzzDecodeFeatureVector checks that decoded vectors agree with their minimal encoding and bit list.
func FuzzDecodeFeatureVector(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x00, 0x02})
	f.Add([]byte{0x40, 0x10, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		fv := DecodeFeatureVector(data)
		if !bytes.Equal(fv.wire(), data) && !(len(data) == 0 && len(fv.wire()) == 0) {
			t.Fatalf("wire form not kept")
		}
		rebuilt := NewFeatureVector(fv.Bits()...)
		if !bytes.Equal(rebuilt.Encode(), fv.Encode()) {
			t.Fatalf("bits %v rebuild to %x, want %x", fv.Bits(), rebuilt.Encode(), fv.Encode())
		}
		if _, err := ChannelTypeFromFeatures(fv); err == nil && !fv.IsSet(StaticRemoteKeyRequired) {
			t.Fatalf("channel type without static_remotekey accepted")
		}
	})
}
