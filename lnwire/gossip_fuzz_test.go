package lnwire

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

// gossipSeeds returns encodings of the gossip fixtures, the real sample messages and the spec's
// extended-queries vectors.
func gossipSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	msgs := gossipTestMessages(tb)
	for _, name := range sortedNames(msgs) {
		enc, err := EncodeMessage(msgs[name])
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, enc)
	}
	for _, r := range readGossipFile(tb, filepath.Join(sampleDir, "mainnet-gossip-sample.bin"), "") {
		seeds = append(seeds, r.raw)
	}
	var vectors []struct {
		Hex string `json:"hex"`
	}
	loadJSON(tb, "bolt07/extended-queries.json", &vectors)
	for _, v := range vectors {
		seeds = append(seeds, mustHex(tb, v.Hex))
	}
	return seeds
}

// FuzzDecodeGossipMessage runs DecodeMessage over mutations of every BOLT 7 message type (fixtures, real
// mainnet messages and the spec's vectors): no panic, an error comes without a message, whatever decodes
// re-encodes to the same bytes and decodes again to an equal message, and DataToSign is the signed
// suffix of the input.
func FuzzDecodeGossipMessage(f *testing.F) {
	for _, s := range gossipSeeds(f) {
		f.Add(s)
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
		switch m := m.(type) {
		case *ChannelAnnouncement:
			if !bytes.Equal(m.DataToSign(), data[2+256:]) {
				t.Fatal("channel_announcement DataToSign is not the suffix after the signatures")
			}
		case *NodeAnnouncement:
			if !bytes.Equal(m.DataToSign(), data[2+64:]) {
				t.Fatal("node_announcement DataToSign is not the suffix after the signature")
			}
			for _, a := range m.Addresses {
				_ = a.String()
			}
		case *ChannelUpdate:
			if !bytes.Equal(m.DataToSign(), data[2+64:]) {
				t.Fatal("channel_update DataToSign is not the suffix after the signature")
			}
			_, _ = m.Extension()
		case *QueryShortChannelIDs:
			if m.QueryFlags != nil && len(m.QueryFlags) != len(m.ShortChannelIDs) {
				t.Fatal("query flags count differs from ids count")
			}
		case *ReplyChannelRange:
			if (m.Timestamps != nil && len(m.Timestamps) != len(m.ShortChannelIDs)) ||
				(m.Checksums != nil && len(m.Checksums) != len(m.ShortChannelIDs)) {
				t.Fatal("timestamps or checksums count differs from ids count")
			}
		}
	})
}

// encodedArraySeeds returns encoded arrays in both encodings (from the spec's vectors) and malformed ones.
func encodedArraySeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		{0}, {1}, {2}, {}, cat([]byte{0}, be64(1), be64(2)), {0, 1, 0xfd, 0x00, 0xfd},
		cat([]byte{1}, deflate(tb, cat(be64(1), be64(2)))), cat([]byte{1}, deflate(tb, make([]byte, 4096))),
	}
	// The arrays of the extended-queries vectors: encoded_short_ids and the TLV values.
	var vectors []struct {
		Hex string `json:"hex"`
		Msg struct {
			Type string `json:"type"`
		} `json:"msg"`
	}
	loadJSON(tb, "bolt07/extended-queries.json", &vectors)
	for _, v := range vectors {
		m, err := DecodeMessage(mustHex(tb, v.Hex))
		if err != nil {
			tb.Fatal(err)
		}
		raw := mustHex(tb, v.Hex)
		var at int
		switch m.(type) {
		case *QueryShortChannelIDs:
			at = 2 + 32
		case *ReplyChannelRange:
			at = 2 + 32 + 9
		default:
			continue
		}
		n := int(raw[at])<<8 | int(raw[at+1])
		seeds = append(seeds, raw[at+2:at+2+n])
		if s, err := DecodeTLVStream(raw[at+2+n:]); err == nil {
			for _, rec := range s {
				seeds = append(seeds, rec.Value)
			}
		}
	}
	return seeds
}

// FuzzDecodeShortChannelIDs checks DecodeShortChannelIDs: no panic; accepted input has a known
// encoding; uncompressed input re-encodes byte for byte; every accepted list is within the bounds; and
// a query_short_channel_ids carrying the same bytes decodes to the same ids and re-encodes.
func FuzzDecodeShortChannelIDs(f *testing.F) {
	for _, s := range encodedArraySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ids, enc, err := DecodeShortChannelIDs(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidEncodedArray) && !errors.Is(err, ErrUnknownEncoding) && !errors.Is(err, ErrInflatedTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(ids) > MaxEncodedEntries {
			t.Fatalf("%d ids past the bound", len(ids))
		}
		switch enc {
		case EncodingUncompressed:
			if !bytes.Equal(EncodeShortChannelIDs(ids), data) {
				t.Fatal("uncompressed ids re-encode differently")
			}
		case EncodingZlib:
			plain, err := inflate(data[1:])
			if err != nil || !bytes.Equal(EncodeShortChannelIDs(ids)[1:], plain) {
				t.Fatalf("zlib ids differ from the inflated data (%v)", err)
			}
		default:
			t.Fatalf("accepted encoding %v", enc)
		}
		if len(data) > MaxMessageSize-2-32-2 {
			return
		}
		msg := cat(be16(uint16(MsgQueryShortChannelIDs)), make([]byte, 32), be16(uint16(len(data))), data)
		m, err := DecodeMessage(msg)
		if err != nil {
			t.Fatalf("valid encoded_short_ids refused in a message: %v", err)
		}
		q := m.(*QueryShortChannelIDs)
		if !reflect.DeepEqual(q.ShortChannelIDs, ids) || q.Encoding != enc {
			t.Fatal("message ids differ")
		}
		re, err := EncodeMessage(q)
		if err != nil || !bytes.Equal(re, msg) {
			t.Fatalf("message re-encodes differently (%v)", err)
		}
	})
}

// FuzzDecodeQueryFlags checks DecodeQueryFlags: no panic, canonical flags only, uncompressed input
// re-encodes byte for byte, the bound holds.
func FuzzDecodeQueryFlags(f *testing.F) {
	for _, s := range encodedArraySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		flags, enc, err := DecodeQueryFlags(data)
		if err != nil {
			return
		}
		if len(flags) > MaxEncodedEntries {
			t.Fatalf("%d flags past the bound", len(flags))
		}
		want := data[1:]
		if enc == EncodingZlib {
			if want, err = inflate(data[1:]); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(EncodeQueryFlags(flags)[1:], want) {
			t.Fatal("flags re-encode differently (non-canonical BigSize accepted?)")
		}
	})
}

// FuzzDecodeTimestamps checks DecodeTimestamps the same way.
func FuzzDecodeTimestamps(f *testing.F) {
	for _, s := range encodedArraySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, enc, err := DecodeTimestamps(data)
		if err != nil {
			return
		}
		if len(ts) > MaxEncodedEntries {
			t.Fatalf("%d pairs past the bound", len(ts))
		}
		want := data[1:]
		if enc == EncodingZlib {
			if want, err = inflate(data[1:]); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(EncodeTimestamps(ts)[1:], want) {
			t.Fatal("timestamps re-encode differently")
		}
	})
}

// FuzzDecodeNodeAddresses checks the address list parser: no panic, accepted input re-encodes byte for
// byte, excess data starts with an unknown type, every address has the length of its type, and the
// text forms do not panic.
func FuzzDecodeNodeAddresses(f *testing.F) {
	f.Add([]byte{})
	f.Add(cat([]byte{1, 1, 2, 3, 4}, be16(9735), []byte{2}, make([]byte, 16), be16(1), []byte{3}, make([]byte, 12),
		[]byte{4}, testTorV3("x", 1).Addr, be16(2), []byte{5, 3}, []byte("a.b"), be16(3), []byte{9, 1, 2}))
	f.Add([]byte{5, 0xff, 1})
	f.Add([]byte{0, 1, 1, 2, 3, 4, 0, 1})
	for _, r := range readGossipFile(f, filepath.Join(sampleDir, "mainnet-gossip-sample.bin"), "") {
		if r.typ != MsgNodeAnnouncement {
			continue
		}
		m, err := DecodeMessage(r.raw)
		if err != nil {
			f.Fatal(err)
		}
		addrs, err := AppendNodeAddresses(nil, m.(*NodeAnnouncement).Addresses, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(addrs)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		addrs, excess, err := DecodeNodeAddresses(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(excess) > 0 && AddressType(excess[0]).IsKnown() {
			t.Fatalf("excess starts with known type %d", excess[0])
		}
		for _, a := range addrs {
			if a.Type != AddressDNSHostname && len(a.Addr) != a.Type.fixedAddrLen() {
				t.Fatalf("%v address of %d bytes", a.Type, len(a.Addr))
			}
			_ = a.String()
			_, _ = a.AddrPort()
		}
		re, err := AppendNodeAddresses(nil, addrs, excess)
		if err != nil || !bytes.Equal(re, data) {
			t.Fatalf("addresses re-encode differently (%v):\n in  %x\n out %x", err, data, re)
		}
	})
}
