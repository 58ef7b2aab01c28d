package lnwire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGossipGoldenLayout checks every gossip fixture's encoding against its BOLT 7 field layout, then
// decodes it back to an equal message that re-encodes to the same bytes.
func TestGossipGoldenLayout(t *testing.T) {
	msgs := gossipTestMessages(t)
	for _, name := range sortedNames(msgs) {
		m := msgs[name]
		t.Run(name, func(t *testing.T) {
			enc, err := EncodeMessage(m)
			require.NoError(t, err)
			require.Equal(t, gossipGoldenLayout(t, name, m), enc)
			dec, err := DecodeMessage(enc)
			require.NoError(t, err)
			require.Equal(t, m, dec)
			re, err := EncodeMessage(dec)
			require.NoError(t, err)
			require.Equal(t, enc, re)
			require.True(t, m.MsgType().IsKnown())
			require.NotContains(t, m.MsgType().String(), "unknown")
		})
	}
}

// TestGossipSignatures checks DataToSign against the spec's offsets (after the 4 signatures of
// channel_announcement, after the signature of the others) and that the fixtures' signatures verify.
func TestGossipSignatures(t *testing.T) {
	msgs := gossipTestMessages(t)
	for _, name := range []string{"channel_announcement", "channel_announcement-extra"} {
		m := msgs[name].(*ChannelAnnouncement)
		enc, err := EncodeMessage(m)
		require.NoError(t, err)
		data := m.DataToSign()
		require.Equal(t, enc[2+256:], data, name)
		require.True(t, verifyGossip(m.NodeSignature1, data, m.NodeID1))
		require.True(t, verifyGossip(m.NodeSignature2, data, m.NodeID2))
		require.True(t, verifyGossip(m.BitcoinSignature1, data, m.BitcoinKey1))
		require.True(t, verifyGossip(m.BitcoinSignature2, data, m.BitcoinKey2))
		require.False(t, verifyGossip(m.NodeSignature1, data, m.NodeID2))
		require.Negative(t, bytes.Compare(m.NodeID1.SerializeCompressed(), m.NodeID2.SerializeCompressed()))
	}
	na := msgs["node_announcement"].(*NodeAnnouncement)
	enc, err := EncodeMessage(na)
	require.NoError(t, err)
	require.Equal(t, enc[2+64:], na.DataToSign())
	require.True(t, verifyGossip(na.Signature, na.DataToSign(), na.NodeID))
	for _, name := range []string{"channel_update", "channel_update-inbound-fee", "channel_update-not-tlv"} {
		cu := msgs[name].(*ChannelUpdate)
		enc, err := EncodeMessage(cu)
		require.NoError(t, err)
		require.Equal(t, enc[2+64:], cu.DataToSign(), name)
		require.True(t, verifyGossip(cu.Signature, cu.DataToSign(), testPoint(t, "node/b")), name)
		// Changing the trailing data breaks the signature: it is covered.
		cu2 := *cu
		cu2.ExtraData = append(append([]byte{}, cu.ExtraData...), 1)
		require.False(t, verifyGossip(cu.Signature, cu2.DataToSign(), testPoint(t, "node/b")), name)
	}
	// DataToSign of a message that does not encode is nil.
	require.Nil(t, (&ChannelAnnouncement{}).DataToSign())
	require.Nil(t, (&NodeAnnouncement{}).DataToSign())
	require.Nil(t, (&NodeAnnouncement{NodeID: testPoint(t, "n"), Addresses: []NodeAddress{{Type: 9}}}).DataToSign())
}

// TestGossipTruncated decodes every strict prefix of every gossip fixture: prefixes ending inside the
// fixed fields fail with ErrShortRead (or, inside encoded_short_ids or addresses, an error of that
// field); longer ones either fail with a TLV framing error or decode to a message that re-encodes to
// the prefix. Nothing panics.
func TestGossipTruncated(t *testing.T) {
	msgs := gossipTestMessages(t)
	for _, name := range sortedNames(msgs) {
		m := msgs[name]
		enc, err := EncodeMessage(m)
		require.NoError(t, err)
		base := gossipBaseLength(t, m)
		for l := 0; l < len(enc); l++ {
			dec, err := DecodeMessage(enc[:l])
			if l < base {
				require.Error(t, err, "%s: prefix %d of %d", name, l, len(enc))
				require.True(t, errors.Is(err, ErrShortRead) || errors.Is(err, ErrInvalidEncodedArray) || errors.Is(err, ErrInvalidAddress),
					"%s: prefix %d: %v", name, l, err)
				require.Nil(t, dec)
				continue
			}
			if err != nil {
				require.True(t, errors.Is(err, ErrShortRead) || errors.Is(err, ErrTLVLengthTooLarge), "%s: prefix %d: %v", name, l, err)
				continue
			}
			re, err := EncodeMessage(dec)
			require.NoError(t, err)
			require.Equal(t, enc[:l], re, "%s: prefix %d", name, l)
		}
	}
}

// TestGossipExtensionRules appends records to every fixture. Messages with a TLV stream keep an unknown
// odd record, refuse an unknown even one and refuse bytes that are not a TLV stream.
// channel_announcement and channel_update keep whatever follows as ExtraData, and Extension reports
// what a strict reader would say of it.
func TestGossipExtensionRules(t *testing.T) {
	msgs := gossipTestMessages(t)
	odd := []byte{0xfe, 0x01, 0x00, 0x00, 0x01, 0x02, 0xbe, 0xef}
	even := []byte{0xfe, 0x01, 0x00, 0x00, 0x00, 0x00}
	for _, name := range sortedNames(msgs) {
		enc, err := EncodeMessage(msgs[name])
		require.NoError(t, err)
		for _, tail := range [][]byte{odd, even, {0xfd}, {0xfd, 0x00, 0x01, 0x00}} {
			in := cat(enc, tail)
			dec, err := DecodeMessage(in)
			switch msgs[name].(type) {
			case *ChannelAnnouncement, *ChannelUpdate:
				require.NoError(t, err, name)
				re, err := EncodeMessage(dec)
				require.NoError(t, err)
				require.Equal(t, in, re, name)
				var ext TLVStream
				var extErr error
				if ca, ok := dec.(*ChannelAnnouncement); ok {
					ext, extErr = ca.Extension()
				} else {
					ext, extErr = dec.(*ChannelUpdate).Extension()
				}
				if bytes.Equal(tail, odd) && name != "channel_announcement-extra" && name != "channel_update-not-tlv" {
					require.NoError(t, extErr, name)
					require.Equal(t, uint64(1<<24+1), ext[len(ext)-1].Type)
				} else {
					require.Error(t, extErr, name)
				}
			default:
				switch {
				case bytes.Equal(tail, odd):
					require.NoError(t, err, name)
					re, err := EncodeMessage(dec)
					require.NoError(t, err)
					require.Equal(t, in, re, name)
				case bytes.Equal(tail, even):
					require.ErrorIs(t, err, ErrUnknownEvenType, name)
				default:
					require.Error(t, err, name)
				}
			}
		}
	}
	// Extension of the fixtures themselves.
	ext, err := msgs["channel_update-inbound-fee"].(*ChannelUpdate).Extension()
	require.NoError(t, err)
	require.Equal(t, TLVStream{{Type: 55555, Value: mustHex(t, "ffffffecffffffe2")}}, ext)
	ext, err = msgs["channel_update"].(*ChannelUpdate).Extension()
	require.NoError(t, err)
	require.Nil(t, ext)
	_, err = msgs["channel_announcement-extra"].(*ChannelAnnouncement).Extension()
	require.ErrorIs(t, err, ErrUnknownEvenType)
	_, err = msgs["channel_update-not-tlv"].(*ChannelUpdate).Extension()
	require.ErrorIs(t, err, ErrShortRead)
}

// TestEveryGossipTypeHasFixture checks that the fixtures cover the nine BOLT 7 types and that the
// registry knows them.
func TestEveryGossipTypeHasFixture(t *testing.T) {
	seen := map[MessageType]bool{}
	for _, m := range gossipTestMessages(t) {
		seen[m.MsgType()] = true
	}
	for _, typ := range []MessageType{256, 257, 258, 259, 261, 262, 263, 264, 265} {
		require.True(t, seen[typ], "no fixture for %v", typ)
		require.True(t, typ.IsKnown())
	}
	require.False(t, MessageType(260).IsKnown())
	require.Len(t, seen, 9)
	require.Equal(t, "gossip_timestamp_filter", MsgGossipTimestampFilter.String())
	require.Equal(t, "query_short_channel_ids", MsgQueryShortChannelIDs.String())
}

// TestGossipFixedFieldErrors covers malformed fixed fields: invalid points, oversized lengths and
// booleans other than 0 and 1.
func TestGossipFixedFieldErrors(t *testing.T) {
	msgs := gossipTestMessages(t)
	ca, err := EncodeMessage(msgs["channel_announcement"])
	require.NoError(t, err)
	// The four points follow type(2) + 4 signatures(256) + len(2) + features(2) + chain(32) + scid(8).
	for i := 0; i < 4; i++ {
		bad := bytes.Clone(ca)
		bad[302+i*33] = 0x05
		_, err := DecodeMessage(bad)
		require.ErrorIs(t, err, ErrInvalidPoint, "point %d", i)
	}
	// A features length larger than the message.
	bad := bytes.Clone(ca)
	copy(bad[258:], be16(0xffff))
	_, err = DecodeMessage(bad)
	require.ErrorIs(t, err, ErrShortRead)

	na, err := EncodeMessage(msgs["node_announcement"])
	require.NoError(t, err)
	// node_id after type(2) + signature(64) + flen(2) + features + timestamp(4).
	flen := int(na[66])<<8 | int(na[67])
	bad = bytes.Clone(na)
	bad[68+flen+4] = 0x04
	_, err = DecodeMessage(bad)
	require.ErrorIs(t, err, ErrInvalidPoint)
	// addrlen larger than the rest of the message.
	addrLenAt := 68 + flen + 4 + 33 + 3 + 32
	bad = bytes.Clone(na)
	copy(bad[addrLenAt:], be16(0xfff0))
	_, err = DecodeMessage(bad)
	require.ErrorIs(t, err, ErrShortRead)
	// addrlen 4 bytes short: without the 3 excess bytes, the DNS descriptor's port now runs past it.
	bad = bytes.Clone(na)
	al := int(na[addrLenAt])<<8 | int(na[addrLenAt+1])
	copy(bad[addrLenAt:], be16(uint16(al-4)))
	_, err = DecodeMessage(bad)
	require.ErrorIs(t, err, ErrInvalidAddress)

	// Booleans.
	end := msgs["reply_short_channel_ids_end"]
	enc, err := EncodeMessage(end)
	require.NoError(t, err)
	enc[34] = 2
	_, err = DecodeMessage(enc)
	require.ErrorIs(t, err, ErrInvalidBool)
	rcr, err := EncodeMessage(msgs["reply_channel_range"])
	require.NoError(t, err)
	rcr[2+32+8] = 0xff
	_, err = DecodeMessage(rcr)
	require.ErrorIs(t, err, ErrInvalidBool)

	// Every fixed field is required.
	for _, typ := range []MessageType{256, 257, 258, 259, 261, 262, 263, 264, 265} {
		_, err := DecodeMessage(be16(uint16(typ)))
		require.ErrorIs(t, err, ErrShortRead, "%v", typ)
	}
	// An old channel_update without htlc_maximum_msat (must_be_one clear) is short.
	cu, err := EncodeMessage(msgs["channel_update"])
	require.NoError(t, err)
	old := bytes.Clone(cu[:len(cu)-8])
	old[2+64+32+8+4] = 0
	_, err = DecodeMessage(old)
	require.ErrorIs(t, err, ErrShortRead)
}

// TestNodeAddresses covers the address descriptor parser: every type, the stop at an unknown type,
// and descriptors cut short.
func TestNodeAddresses(t *testing.T) {
	tor3 := testTorV3("x", 9735)
	good := cat([]byte{1, 1, 2, 3, 4}, be16(1),
		[]byte{2}, make([]byte, 16), be16(2),
		[]byte{3}, make([]byte, 10), be16(3),
		[]byte{4}, tor3.Addr, be16(4),
		[]byte{5, 3}, []byte("a.b"), be16(5),
		[]byte{5, 0}, be16(6)) // an empty hostname is parsed as it is (and kept)
	addrs, excess, err := DecodeNodeAddresses(good)
	require.NoError(t, err)
	require.Nil(t, excess)
	require.Len(t, addrs, 6)
	for i, typ := range []AddressType{1, 2, 3, 4, 5, 5} {
		require.Equal(t, typ, addrs[i].Type)
		require.Equal(t, uint16(i+1), addrs[i].Port)
	}
	re, err := AppendNodeAddresses(nil, addrs, excess)
	require.NoError(t, err)
	require.Equal(t, good, re)

	// Unknown types stop the parse; what follows them is kept, even if it looks like descriptors.
	for _, unknownType := range []byte{0, 6, 0xff} {
		in := cat([]byte{1, 9, 9, 9, 9}, be16(9735), []byte{unknownType, 1, 1, 2, 3, 4, 0x26, 0x07})
		addrs, excess, err := DecodeNodeAddresses(in)
		require.NoError(t, err)
		require.Len(t, addrs, 1)
		require.Equal(t, in[7:], excess)
		re, err := AppendNodeAddresses(nil, addrs, excess)
		require.NoError(t, err)
		require.Equal(t, in, re)
	}
	addrs, excess, err = DecodeNodeAddresses([]byte{0})
	require.NoError(t, err)
	require.Nil(t, addrs)
	require.Equal(t, []byte{0}, excess)

	// Known descriptors that do not fit.
	for name, in := range map[string][]byte{
		"ipv4 short":        {1, 1, 2, 3, 4, 0},
		"ipv4 no port":      {1, 1, 2, 3, 4},
		"ipv6 short":        cat([]byte{2}, make([]byte, 17)),
		"torv2 short":       cat([]byte{3}, make([]byte, 11)),
		"torv3 short":       cat([]byte{4}, make([]byte, 36)),
		"dns no length":     {5},
		"dns length beyond": cat([]byte{5, 10}, []byte("abc"), be16(1)),
		"dns no port":       cat([]byte{5, 3}, []byte("abc"), []byte{1}),
		"second bad":        cat([]byte{1, 1, 2, 3, 4}, be16(1), []byte{2, 0}),
	} {
		_, _, err := DecodeNodeAddresses(in)
		require.ErrorIs(t, err, ErrInvalidAddress, name)
	}

	// Encoding refuses what would not decode back.
	for name, c := range map[string]struct {
		addrs  []NodeAddress
		excess []byte
	}{
		"ipv4 of 5 bytes":      {[]NodeAddress{{Type: AddressIPv4, Addr: make([]byte, 5)}}, nil},
		"ipv6 of 4 bytes":      {[]NodeAddress{{Type: AddressIPv6, Addr: make([]byte, 4)}}, nil},
		"torv3 of 32 bytes":    {[]NodeAddress{{Type: AddressTorV3, Addr: make([]byte, 32)}}, nil},
		"hostname of 256":      {[]NodeAddress{{Type: AddressDNSHostname, Addr: make([]byte, 256)}}, nil},
		"unknown type":         {[]NodeAddress{{Type: 6}}, nil},
		"excess of known type": {nil, []byte{1, 2}},
	} {
		_, err := AppendNodeAddresses(nil, c.addrs, c.excess)
		require.ErrorIs(t, err, ErrInvalidAddress, name)
		_, err = EncodeMessage(&NodeAnnouncement{NodeID: testPoint(t, "n"), Addresses: c.addrs, ExcessAddressData: c.excess})
		require.ErrorIs(t, err, ErrInvalidAddress, name)
	}
	// A node_announcement whose addresses do not parse is refused.
	na := gossipTestMessages(t)["node_announcement"].(*NodeAnnouncement)
	enc, err := EncodeMessage(na)
	require.NoError(t, err)
	addrLenAt := 2 + 64 + 2 + len(na.Features.wire()) + 4 + 33 + 3 + 32
	bad := cat(enc[:addrLenAt], be16(3), []byte{1, 2, 3})
	_, err = DecodeMessage(bad)
	require.ErrorIs(t, err, ErrInvalidAddress)
}

// TestNodeAddressHelpers covers the constructors and the text forms.
func TestNodeAddressHelpers(t *testing.T) {
	a, err := NewIPAddress(netip.MustParseAddrPort("203.0.113.7:9735"))
	require.NoError(t, err)
	require.Equal(t, NodeAddress{Type: AddressIPv4, Addr: []byte{203, 0, 113, 7}, Port: 9735}, a)
	require.Equal(t, "203.0.113.7:9735", a.String())
	ap, ok := a.AddrPort()
	require.True(t, ok)
	require.Equal(t, netip.MustParseAddrPort("203.0.113.7:9735"), ap)

	a, err = NewIPAddress(netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"))
	require.NoError(t, err)
	require.Equal(t, AddressIPv4, a.Type)
	a, err = NewIPAddress(netip.MustParseAddrPort("[2001:db8::1]:9735"))
	require.NoError(t, err)
	require.Equal(t, AddressIPv6, a.Type)
	require.Equal(t, "[2001:db8::1]:9735", a.String())
	_, err = NewIPAddress(netip.AddrPort{})
	require.ErrorIs(t, err, ErrInvalidAddress)
	_, err = NewIPAddress(netip.MustParseAddrPort("[fe80::1%eth0]:1"))
	require.ErrorIs(t, err, ErrInvalidAddress)

	tor := testTorV3("some service", 9735)
	name := tor.Host()
	require.Len(t, name, 56+len(".onion"))
	back, err := NewTorV3Address(name, 9735)
	require.NoError(t, err)
	require.Equal(t, tor, back)
	back, err = NewTorV3Address(name[:56], 9735) // without the suffix, upper case
	require.NoError(t, err)
	require.Equal(t, tor, back)
	_, ok = tor.AddrPort()
	require.False(t, ok)
	broken := bytes.Clone(tor.Addr)
	broken[32] ^= 1
	_, err = NewTorV3Address(onionEncoding.EncodeToString(broken), 1)
	require.ErrorIs(t, err, ErrInvalidAddress)
	broken = bytes.Clone(tor.Addr)
	broken[34] = 2
	_, err = NewTorV3Address(onionEncoding.EncodeToString(broken), 1)
	require.ErrorIs(t, err, ErrInvalidAddress)
	_, err = NewTorV3Address("not-an-onion.onion", 1)
	require.ErrorIs(t, err, ErrInvalidAddress)

	d, err := NewDNSHostnameAddress("ln.example.com", 9735)
	require.NoError(t, err)
	require.Equal(t, "ln.example.com:9735", d.String())
	for _, h := range []string{"", "bücher.example", "a b", string(make([]byte, 256))} {
		_, err = NewDNSHostnameAddress(h, 1)
		require.ErrorIs(t, err, ErrInvalidAddress, "%q", h)
	}
	// A peer's hostname is escaped in text.
	evil := NodeAddress{Type: AddressDNSHostname, Addr: []byte("a\nb\x1b[31m"), Port: 1}
	require.NotContains(t, evil.String(), "\n")
	require.NotContains(t, evil.String(), "\x1b")
	require.Equal(t, "torv2(01):0", NodeAddress{Type: AddressTorV2, Addr: []byte{1}}.String())
	require.Equal(t, "ipv4", AddressIPv4.String())
	require.Equal(t, "unknown(9)", AddressType(9).String())
	require.True(t, AddressDNSHostname.IsKnown())
	require.False(t, AddressType(0).IsKnown())
}

// TestGossipHelpers covers the small accessors.
func TestGossipHelpers(t *testing.T) {
	m := gossipTestMessages(t)
	cu := m["channel_update"].(*ChannelUpdate)
	require.Equal(t, uint8(1), cu.Direction())
	require.True(t, cu.IsDisabled())
	require.False(t, cu.DontForward())
	cu2 := &ChannelUpdate{ChannelFlags: 0xfc, MessageFlags: 3}
	require.Equal(t, uint8(0), cu2.Direction())
	require.False(t, cu2.IsDisabled())
	require.True(t, cu2.DontForward())

	na := m["node_announcement"].(*NodeAnnouncement)
	require.Equal(t, "IRATEMONK ⚡", na.AliasString())
	require.Equal(t, "", (&NodeAnnouncement{}).AliasString())

	q := &QueryChannelRange{FirstBlocknum: math.MaxUint32, NumberOfBlocks: math.MaxUint32}
	require.Equal(t, uint64(2*math.MaxUint32), q.EndBlocknum())
	r := &ReplyChannelRange{FirstBlocknum: 10, NumberOfBlocks: 5}
	require.Equal(t, uint64(15), r.EndBlocknum())

	f := &GossipTimestampFilter{FirstTimestamp: 100, TimestampRange: 10}
	require.True(t, f.InRange(100))
	require.True(t, f.InRange(109))
	require.False(t, f.InRange(110))
	require.False(t, f.InRange(99))
	all := &GossipTimestampFilter{FirstTimestamp: math.MaxUint32 - 1, TimestampRange: math.MaxUint32}
	require.True(t, all.InRange(math.MaxUint32))
	none := &GossipTimestampFilter{FirstTimestamp: math.MaxUint32}
	require.False(t, none.InRange(math.MaxUint32))

	require.Equal(t, "uncompressed", EncodingUncompressed.String())
	require.Equal(t, "zlib", EncodingZlib.String())
	require.Equal(t, "unknown(2)", Encoding(2).String())
}

// TestGossipEncodeErrors covers the encoder's refusals for the gossip messages.
func TestGossipEncodeErrors(t *testing.T) {
	ca := testChannelAnnouncement(t, nil)
	ca.BitcoinKey2 = nil
	_, err := EncodeMessage(ca)
	require.ErrorIs(t, err, ErrMissingPoint)
	require.Nil(t, ca.DataToSign())
	_, err = EncodeMessage(&NodeAnnouncement{})
	require.ErrorIs(t, err, ErrMissingPoint)
	_, err = EncodeMessage(&NodeAnnouncement{NodeID: testPoint(t, "n"), ExtraTLVs: TLVStream{{Type: 3}, {Type: 1}}})
	require.ErrorIs(t, err, ErrInvalidExtraTLVs)

	// Zlib cannot be written from scratch.
	ids := []ShortChannelID{{BlockHeight: 1}}
	_, err = EncodeMessage(&QueryShortChannelIDs{Encoding: EncodingZlib, ShortChannelIDs: ids})
	require.ErrorIs(t, err, ErrZlibNotWritten)
	_, err = EncodeMessage(&QueryShortChannelIDs{ShortChannelIDs: ids, QueryFlags: []uint64{1}, QueryFlagsEncoding: EncodingZlib})
	require.ErrorIs(t, err, ErrZlibNotWritten)
	_, err = EncodeMessage(&ReplyChannelRange{Encoding: EncodingZlib, ShortChannelIDs: ids})
	require.ErrorIs(t, err, ErrZlibNotWritten)
	_, err = EncodeMessage(&ReplyChannelRange{ShortChannelIDs: ids, Timestamps: make([]ChannelUpdateTimestamps, 1), TimestampsEncoding: EncodingZlib})
	require.ErrorIs(t, err, ErrZlibNotWritten)
	_, err = EncodeMessage(&ReplyChannelRange{Encoding: 2})
	require.ErrorIs(t, err, ErrUnknownEncoding)
	_, err = EncodeMessage(&QueryShortChannelIDs{QueryFlags: []uint64{}, QueryFlagsEncoding: 7})
	require.ErrorIs(t, err, ErrUnknownEncoding)
	// ... except an empty list, which old lnd wrote as the bare type byte.
	enc, err := EncodeMessage(&QueryShortChannelIDs{Encoding: EncodingZlib})
	require.NoError(t, err)
	require.Equal(t, cat(be16(261), make([]byte, 32), be16(1), []byte{1}), enc)

	// Too many ids for one message.
	_, err = EncodeMessage(&QueryShortChannelIDs{ShortChannelIDs: make([]ShortChannelID, MaxUncompressedShortChannelIDs)})
	require.NoError(t, err)
	_, err = EncodeMessage(&QueryShortChannelIDs{ShortChannelIDs: make([]ShortChannelID, MaxUncompressedShortChannelIDs+1)})
	require.ErrorIs(t, err, ErrMessageTooLarge)
	_, err = EncodeMessage(&ReplyChannelRange{ShortChannelIDs: make([]ShortChannelID, 8192)})
	require.ErrorIs(t, err, ErrFieldTooLong)
}

// TestQueryTLVErrors covers malformed records of the query messages.
func TestQueryTLVErrors(t *testing.T) {
	chain := make([]byte, 32)
	scids := cat(be16(17), []byte{0}, be64(1), be64(2))
	qscid := func(ext ...[]byte) []byte { return cat(be16(261), chain, scids, cat(ext...)) }
	rcr := func(ext ...[]byte) []byte {
		return cat(be16(264), chain, be32(1), be32(2), []byte{1}, scids, cat(ext...))
	}
	qcr := func(ext ...[]byte) []byte { return cat(be16(263), chain, be32(1), be32(2), cat(ext...)) }
	cases := []struct {
		name string
		in   []byte
		want []error
	}{
		{"flags: one for two ids", qscid(tlv(1, []byte{0, 1})), []error{ErrInvalidTLVValue}},
		{"flags: three for two ids", qscid(tlv(1, []byte{0, 1, 2, 3})), []error{ErrInvalidTLVValue}},
		{"flags: non-canonical", qscid(tlv(1, []byte{0, 1, 0xfd, 0x00, 0x01})), []error{ErrInvalidTLVValue, ErrNonCanonicalBigSize}},
		{"flags: truncated bigsize", qscid(tlv(1, []byte{0, 1, 0xfd, 0x01})), []error{ErrInvalidTLVValue, ErrShortRead}},
		{"flags: unknown encoding", qscid(tlv(1, []byte{2, 1, 1})), []error{ErrInvalidTLVValue, ErrUnknownEncoding}},
		{"flags: no encoding byte", qscid(tlv(1, nil)), []error{ErrInvalidTLVValue, ErrInvalidEncodedArray}},
		{"flags: unknown even", qscid(tlv(1, []byte{0, 1, 2}), tlv(2, nil)), []error{ErrUnknownEvenType}},
		{"timestamps: one for two ids", rcr(tlv(1, cat([]byte{0}, be64(1)))), []error{ErrInvalidTLVValue}},
		{"timestamps: not whole", rcr(tlv(1, cat([]byte{0}, be64(1), be32(1)))), []error{ErrInvalidTLVValue, ErrInvalidEncodedArray}},
		{"timestamps: unknown encoding", rcr(tlv(1, cat([]byte{9}, be64(1), be64(1)))), []error{ErrInvalidTLVValue, ErrUnknownEncoding}},
		{"checksums: one for two ids", rcr(tlv(3, be64(1))), []error{ErrInvalidTLVValue}},
		{"checksums: not whole", rcr(tlv(3, cat(be64(1), be64(2), []byte{1}))), []error{ErrInvalidTLVValue, ErrInvalidEncodedArray}},
		{"reply: unknown even", rcr(tlv(4, nil)), []error{ErrUnknownEvenType}},
		{"reply: records out of order", rcr(tlv(3, cat(be64(1), be64(2))), tlv(1, cat([]byte{0}, be64(1), be64(2)))), []error{ErrTLVNotIncreasing}},
		{"query_option: empty", qcr(tlv(1, nil)), []error{ErrInvalidTLVValue, ErrShortRead}},
		{"query_option: non-canonical", qcr(tlv(1, []byte{0xfd, 0x00, 0x03})), []error{ErrInvalidTLVValue, ErrNonCanonicalBigSize}},
		{"query_option: trailing byte", qcr(tlv(1, []byte{3, 0})), []error{ErrInvalidTLVValue}},
		{"query_range: unknown even", qcr(tlv(0, nil)), []error{ErrUnknownEvenType}},
		{"filter: unknown even", cat(be16(265), chain, be32(1), be32(2), tlv(2, nil)), []error{ErrUnknownEvenType}},
		{"end: unknown even", cat(be16(262), chain, []byte{1}, tlv(2, nil)), []error{ErrUnknownEvenType}},
		{"announcement_signatures: unknown even", cat(be16(259), make([]byte, 32+8+128), tlv(2, nil)), []error{ErrUnknownEvenType}},
		{"node_announcement: unknown even", cat(nodeAnnBase(t), tlv(2, nil)), []error{ErrUnknownEvenType}},
		{"node_announcement: garbage", cat(nodeAnnBase(t), []byte{0xfd}), []error{ErrShortRead}},
	}
	for _, c := range cases {
		_, err := DecodeMessage(c.in)
		require.Error(t, err, c.name)
		for _, w := range c.want {
			require.ErrorIs(t, err, w, c.name)
		}
	}
	// A query_option of any (canonical) size is fine, and unknown bits are kept.
	m, err := DecodeMessage(qcr(tlv(1, []byte{0xfd, 0x01, 0x00})))
	require.NoError(t, err)
	require.Equal(t, uint64(256), *m.(*QueryChannelRange).QueryOption)
}

// nodeAnnBase is the encoding of a minimal node_announcement with no extension.
func nodeAnnBase(t testing.TB) []byte {
	enc, err := EncodeMessage(&NodeAnnouncement{NodeID: testPoint(t, "n")})
	require.NoError(t, err)
	return enc
}

// TestEncodedShortIDLengths covers encoded_short_ids framing inside the messages: an empty field
// (no encoding type), a length beyond the message, a partial id and an unknown encoding.
func TestEncodedShortIDLengths(t *testing.T) {
	chain := make([]byte, 32)
	for name, c := range map[string]struct {
		field []byte
		want  error
	}{
		"empty":            {be16(0), ErrInvalidEncodedArray},
		"length too large": {cat(be16(100), []byte{0}, be64(1)), ErrShortRead},
		"partial id":       {cat(be16(8), []byte{0}, make([]byte, 7)), ErrInvalidEncodedArray},
		"encoding 2":       {cat(be16(9), []byte{2}, be64(1)), ErrUnknownEncoding},
		"encoding 255":     {cat(be16(1), []byte{255}), ErrUnknownEncoding},
		"corrupt zlib":     {cat(be16(4), []byte{1, 0x78, 0x9c, 0xff}), ErrInvalidEncodedArray},
	} {
		_, err := DecodeMessage(cat(be16(261), chain, c.field))
		require.ErrorIs(t, err, c.want, "query_short_channel_ids: %s", name)
		_, err = DecodeMessage(cat(be16(264), chain, be32(1), be32(1), []byte{1}, c.field))
		require.ErrorIs(t, err, c.want, "reply_channel_range: %s", name)
	}
	// Just the encoding type: no ids, in both encodings.
	for _, enc := range []Encoding{EncodingUncompressed, EncodingZlib} {
		in := cat(be16(261), chain, be16(1), []byte{byte(enc)})
		m, err := DecodeMessage(in)
		require.NoError(t, err)
		q := m.(*QueryShortChannelIDs)
		require.Nil(t, q.ShortChannelIDs)
		require.Equal(t, enc, q.Encoding)
		re, err := EncodeMessage(q)
		require.NoError(t, err)
		require.Equal(t, in, re)
	}
	// Order is not checked (BOLT 7 gives the receiver no such rule); it is kept.
	in := cat(be16(261), chain, be16(17), []byte{0}, be64(5), be64(5))
	m, err := DecodeMessage(in)
	require.NoError(t, err)
	require.Len(t, m.(*QueryShortChannelIDs).ShortChannelIDs, 2)
}

func TestEncodedArrayFunctions(t *testing.T) {
	ids := []ShortChannelID{{BlockHeight: 1, TxIndex: 2, OutputIndex: 3}, {BlockHeight: 0xffffff, TxIndex: 0xffffff, OutputIndex: 0xffff}}
	enc := EncodeShortChannelIDs(ids)
	require.Equal(t, cat([]byte{0}, be64(1<<40|2<<16|3), be64(math.MaxUint64)), enc)
	got, e, err := DecodeShortChannelIDs(enc)
	require.NoError(t, err)
	require.Equal(t, EncodingUncompressed, e)
	require.Equal(t, ids, got)
	require.Equal(t, []byte{0}, EncodeShortChannelIDs(nil))
	got, _, err = DecodeShortChannelIDs([]byte{0})
	require.NoError(t, err)
	require.Nil(t, got)
	_, _, err = DecodeShortChannelIDs(nil)
	require.ErrorIs(t, err, ErrInvalidEncodedArray)

	flags := []uint64{0, 1, 0x1f, 0xfc, 0xfd, 0xffff, 0x10000, math.MaxUint64}
	fenc := EncodeQueryFlags(flags)
	require.Equal(t, cat([]byte{0, 0, 1, 0x1f, 0xfc, 0xfd, 0x00, 0xfd, 0xfd, 0xff, 0xff, 0xfe, 0, 1, 0, 0, 0xff}, be64(math.MaxUint64)), fenc)
	gotF, e, err := DecodeQueryFlags(fenc)
	require.NoError(t, err)
	require.Equal(t, EncodingUncompressed, e)
	require.Equal(t, flags, gotF)
	gotF, _, err = DecodeQueryFlags([]byte{0})
	require.NoError(t, err)
	require.Nil(t, gotF)

	ts := []ChannelUpdateTimestamps{{1, 2}, {0xffffffff, 0}}
	tenc := EncodeTimestamps(ts)
	require.Equal(t, cat([]byte{0}, be32(1), be32(2), be32(0xffffffff), be32(0)), tenc)
	gotT, e, err := DecodeTimestamps(tenc)
	require.NoError(t, err)
	require.Equal(t, EncodingUncompressed, e)
	require.Equal(t, ts, gotT)
	_, _, err = DecodeTimestamps([]byte{0, 1, 2, 3})
	require.ErrorIs(t, err, ErrInvalidEncodedArray)
	_, _, err = DecodeTimestamps([]byte{3})
	require.ErrorIs(t, err, ErrUnknownEncoding)

	// Uncompressed flags beyond MaxEncodedEntries are refused without building the slice.
	many := make([]byte, 1+MaxEncodedEntries+1)
	_, _, err = DecodeQueryFlags(many)
	require.ErrorIs(t, err, ErrInflatedTooLarge)
	_, _, err = DecodeQueryFlags(many[:1+MaxEncodedEntries])
	require.NoError(t, err)
}

// TestChainHashOrder checks that chain_hash is the genesis hash in wire byte order (BOLT 7 gives the
// mainnet value in hex).
func TestChainHashOrder(t *testing.T) {
	enc, err := EncodeMessage(gossipTestMessages(t)["gossip_timestamp_filter"])
	require.NoError(t, err)
	require.Equal(t, "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000", hex.EncodeToString(enc[2:34]))
}
