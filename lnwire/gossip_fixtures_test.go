package lnwire

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"
)

// signGossip signs the double-SHA256 of data with the key of label.
func signGossip(t testing.TB, label string, data []byte) Sig {
	require.NotNil(t, data)
	s, err := NewSigFromECDSA(ecdsa.Sign(testKey(label), chainhash.DoubleHashB(data)))
	require.NoError(t, err)
	return s
}

// verifyGossip reports whether sig signs the double-SHA256 of data under pk (BOLT 7).
func verifyGossip(sig Sig, data []byte, pk *btcec.PublicKey) bool {
	s, err := sig.ToSignature()
	return err == nil && pk != nil && s.Verify(chainhash.DoubleHashB(data), pk)
}

// testTorV3 returns a well-formed v3 onion descriptor derived from label.
func testTorV3(label string, port uint16) NodeAddress {
	pub := test32(label)
	sum := torV3Checksum(pub[:], 3)
	return NodeAddress{Type: AddressTorV3, Addr: cat(pub[:], sum[:], []byte{3}), Port: port}
}

// testChannelAnnouncement returns a channel_announcement between the nodes "a" and "b", signed by all
// four keys.
func testChannelAnnouncement(t testing.TB, extra []byte) *ChannelAnnouncement {
	n1, n2 := "node/a", "node/b"
	b1, b2 := "btc/a", "btc/b"
	if bytes.Compare(testPoint(t, n1).SerializeCompressed(), testPoint(t, n2).SerializeCompressed()) > 0 {
		n1, n2, b1, b2 = n2, n1, b2, b1
	}
	m := &ChannelAnnouncement{
		Features:       DecodeFeatureVector([]byte{0x00, 0x01}), // padded: kept as received
		ChainHash:      *chaincfg.MainNetParams.GenesisHash,
		ShortChannelID: ShortChannelID{BlockHeight: 800000, TxIndex: 1234, OutputIndex: 1},
		NodeID1:        testPoint(t, n1),
		NodeID2:        testPoint(t, n2),
		BitcoinKey1:    testPoint(t, b1),
		BitcoinKey2:    testPoint(t, b2),
		ExtraData:      extra,
	}
	data := m.DataToSign()
	m.NodeSignature1 = signGossip(t, n1, data)
	m.NodeSignature2 = signGossip(t, n2, data)
	m.BitcoinSignature1 = signGossip(t, b1, data)
	m.BitcoinSignature2 = signGossip(t, b2, data)
	return m
}

func testNodeAnnouncement(t testing.TB) *NodeAnnouncement {
	var alias [32]byte
	copy(alias[:], "IRATEMONK ⚡")
	m := &NodeAnnouncement{
		Features:  NewFeatureVector(DataLossProtectRequired, GossipQueriesOptional, StaticRemoteKeyRequired),
		Timestamp: 1_700_000_000,
		NodeID:    testPoint(t, "node/a"),
		RGBColor:  [3]byte{0xff, 0x99, 0x00},
		Alias:     alias,
		Addresses: []NodeAddress{
			{Type: AddressIPv4, Addr: []byte{203, 0, 113, 7}, Port: 9735},
			{Type: AddressIPv6, Addr: bytes.Repeat([]byte{0x20, 0x01}, 8), Port: 9736},
			{Type: AddressTorV2, Addr: []byte("0123456789"), Port: 9737},
			testTorV3("onion", 9738),
			{Type: AddressDNSHostname, Addr: []byte("ln.example.com"), Port: 9739},
		},
		ExcessAddressData: []byte{0x07, 0xde, 0xad}, // an unknown type 7 and its (opaque) data
		ExtraTLVs:         TLVStream{{Type: NodeAnnouncementTLVOptionWillFund, Value: []byte{0, 0, 0, 0}}, {Type: 99, Value: []byte("x")}},
	}
	m.Signature = signGossip(t, "node/a", m.DataToSign())
	return m
}

func testChannelUpdate(t testing.TB, extra []byte) *ChannelUpdate {
	m := &ChannelUpdate{
		ChainHash:                 *chaincfg.MainNetParams.GenesisHash,
		ShortChannelID:            ShortChannelID{BlockHeight: 800000, TxIndex: 1234, OutputIndex: 1},
		Timestamp:                 1_700_000_123,
		MessageFlags:              ChanUpdateMsgFlagMustBeOne,
		ChannelFlags:              ChanUpdateChanFlagDirection | ChanUpdateChanFlagDisable,
		CLTVExpiryDelta:           144,
		HTLCMinimumMsat:           1000,
		FeeBaseMsat:               1000,
		FeeProportionalMillionths: 100,
		HTLCMaximumMsat:           990_000_000,
		ExtraData:                 extra,
	}
	m.Signature = signGossip(t, "node/b", m.DataToSign())
	return m
}

// gossipTestMessages returns instances of every BOLT 7 message type, following the package's
// conventions so that decoding gives back equal values.
func gossipTestMessages(t testing.TB) map[string]Message {
	mainnet := *chaincfg.MainNetParams.GenesisHash
	ids := []ShortChannelID{{BlockHeight: 700000, TxIndex: 1, OutputIndex: 0}, {BlockHeight: 700001, TxIndex: 7, OutputIndex: 1},
		{BlockHeight: 16777215, TxIndex: 16777215, OutputIndex: 65535}}
	opt := QueryOptionWantTimestamps | QueryOptionWantChecksums
	zero := uint64(0)
	var empty NodeAnnouncement
	empty.NodeID = testPoint(t, "node/c")
	empty.Features = NewFeatureVector()
	return map[string]Message{
		"channel_announcement":        testChannelAnnouncement(t, nil),
		"channel_announcement-extra":  testChannelAnnouncement(t, []byte{0x02, 0x01, 0xff}), // even type, kept raw
		"node_announcement":           testNodeAnnouncement(t),
		"node_announcement-empty":     &empty,
		"channel_update":              testChannelUpdate(t, nil),
		"channel_update-inbound-fee":  testChannelUpdate(t, mustHexT(t, "fdd90308ffffffecffffffe2")),
		"channel_update-not-tlv":      testChannelUpdate(t, []byte{0xfd}),
		"announcement_signatures":     &AnnouncementSignatures{ChannelID: ChannelID(test32("chan")), ShortChannelID: ids[0], NodeSignature: testSig(t, "ns"), BitcoinSignature: testSig(t, "bs"), ExtraTLVs: TLVStream{{Type: 5, Value: []byte{1}}}},
		"query_short_channel_ids":     &QueryShortChannelIDs{ChainHash: mainnet, ShortChannelIDs: ids},
		"query_short_channel_ids-flg": &QueryShortChannelIDs{ChainHash: mainnet, ShortChannelIDs: ids, QueryFlags: []uint64{1, 0x1f, 300}, ExtraTLVs: TLVStream{{Type: 7, Value: []byte{}}}},
		"query_short_channel_ids-nil": &QueryShortChannelIDs{ChainHash: mainnet, QueryFlags: []uint64{}},
		"reply_short_channel_ids_end": &ReplyShortChannelIDsEnd{ChainHash: mainnet, FullInformation: true},
		"query_channel_range":         &QueryChannelRange{ChainHash: mainnet, FirstBlocknum: 600000, NumberOfBlocks: 1000},
		"query_channel_range-opt":     &QueryChannelRange{ChainHash: mainnet, FirstBlocknum: 0, NumberOfBlocks: 0xffffffff, QueryOption: &opt},
		"query_channel_range-opt0":    &QueryChannelRange{ChainHash: mainnet, QueryOption: &zero},
		"reply_channel_range": &ReplyChannelRange{ChainHash: mainnet, FirstBlocknum: 700000, NumberOfBlocks: 2, SyncComplete: true, ShortChannelIDs: ids[:2],
			Timestamps: []ChannelUpdateTimestamps{{1, 2}, {3, 0}}, Checksums: []ChannelUpdateChecksums{{0xdeadbeef, 0}, {5, 6}}},
		"reply_channel_range-empty": &ReplyChannelRange{ChainHash: mainnet, FirstBlocknum: 1, NumberOfBlocks: 1,
			Timestamps: []ChannelUpdateTimestamps{}, Checksums: []ChannelUpdateChecksums{}},
		"gossip_timestamp_filter": &GossipTimestampFilter{ChainHash: mainnet, FirstTimestamp: 1_700_000_000, TimestampRange: 0xffffffff},
	}
}

func mustHexT(t testing.TB, s string) []byte { return mustHex(t, s) }

// gossipGoldenLayout returns the expected encoding of a gossip fixture, assembled field by field from
// the field lists of BOLT 7 (independently of the package's encoders).
func gossipGoldenLayout(t *testing.T, name string, m Message) []byte {
	typ := be16(uint16(m.MsgType()))
	ids := func(s []ShortChannelID) []byte {
		out := []byte{0}
		for _, id := range s {
			out = append(out, be64(uint64(id.BlockHeight)<<40|uint64(id.TxIndex)<<16|uint64(id.OutputIndex))...)
		}
		return out
	}
	switch m := m.(type) {
	case *ChannelAnnouncement:
		f := m.Features.wire()
		return cat(typ, m.NodeSignature1[:], m.NodeSignature2[:], m.BitcoinSignature1[:], m.BitcoinSignature2[:],
			be16(uint16(len(f))), f, m.ChainHash[:], be64(m.ShortChannelID.ToUint64()),
			pt(m.NodeID1), pt(m.NodeID2), pt(m.BitcoinKey1), pt(m.BitcoinKey2), m.ExtraData)
	case *NodeAnnouncement:
		f := m.Features.Encode()
		var addrs, ext []byte
		if name == "node_announcement" {
			addrs = cat([]byte{1, 203, 0, 113, 7}, be16(9735),
				[]byte{2}, bytes.Repeat([]byte{0x20, 0x01}, 8), be16(9736),
				[]byte{3}, []byte("0123456789"), be16(9737),
				[]byte{4}, m.Addresses[3].Addr, be16(9738),
				[]byte{5, 14}, []byte("ln.example.com"), be16(9739),
				[]byte{0x07, 0xde, 0xad})
			ext = cat(tlv(1, []byte{0, 0, 0, 0}), tlv(99, []byte("x")))
		}
		return cat(typ, m.Signature[:], be16(uint16(len(f))), f, be32(m.Timestamp), pt(m.NodeID), m.RGBColor[:], m.Alias[:],
			be16(uint16(len(addrs))), addrs, ext)
	case *ChannelUpdate:
		return cat(typ, m.Signature[:], m.ChainHash[:], be64(m.ShortChannelID.ToUint64()), be32(m.Timestamp),
			[]byte{m.MessageFlags, m.ChannelFlags}, be16(m.CLTVExpiryDelta), be64(m.HTLCMinimumMsat), be32(m.FeeBaseMsat),
			be32(m.FeeProportionalMillionths), be64(m.HTLCMaximumMsat), m.ExtraData)
	case *AnnouncementSignatures:
		return cat(typ, m.ChannelID[:], be64(m.ShortChannelID.ToUint64()), m.NodeSignature[:], m.BitcoinSignature[:], tlv(5, []byte{1}))
	case *QueryShortChannelIDs:
		e := ids(m.ShortChannelIDs)
		var ext []byte
		if m.QueryFlags != nil {
			v := []byte{0}
			for _, f := range m.QueryFlags {
				v = AppendBigSize(v, f)
			}
			ext = tlv(1, v)
		}
		if m.ExtraTLVs != nil {
			ext = cat(ext, []byte{7, 0})
		}
		return cat(typ, m.ChainHash[:], be16(uint16(len(e))), e, ext)
	case *ReplyShortChannelIDsEnd:
		return cat(typ, m.ChainHash[:], []byte{1})
	case *QueryChannelRange:
		var ext []byte
		if m.QueryOption != nil {
			ext = tlv(1, []byte{byte(*m.QueryOption)})
		}
		return cat(typ, m.ChainHash[:], be32(m.FirstBlocknum), be32(m.NumberOfBlocks), ext)
	case *ReplyChannelRange:
		e := ids(m.ShortChannelIDs)
		ts, cs := []byte{0}, []byte{}
		for _, p := range m.Timestamps {
			ts = cat(ts, be32(p.NodeID1), be32(p.NodeID2))
		}
		for _, p := range m.Checksums {
			cs = cat(cs, be32(p.NodeID1), be32(p.NodeID2))
		}
		complete := []byte{0}
		if m.SyncComplete {
			complete[0] = 1
		}
		return cat(typ, m.ChainHash[:], be32(m.FirstBlocknum), be32(m.NumberOfBlocks), complete, be16(uint16(len(e))), e,
			tlv(1, ts), tlv(3, cs))
	case *GossipTimestampFilter:
		return cat(typ, m.ChainHash[:], be32(m.FirstTimestamp), be32(m.TimestampRange))
	}
	t.Fatalf("no golden layout for %s (%T)", name, m)
	return nil
}

// gossipBaseLength is the encoded length of the fixture without its extension (for the signed messages
// without a TLV stream, without ExtraData).
func gossipBaseLength(t *testing.T, m Message) int {
	enc, err := EncodeMessage(m)
	require.NoError(t, err)
	dec, err := DecodeMessage(enc)
	require.NoError(t, err)
	switch d := dec.(type) {
	case *ChannelAnnouncement:
		d.ExtraData = nil
	case *ChannelUpdate:
		d.ExtraData = nil
	case *NodeAnnouncement:
		d.ExtraTLVs = nil
	case *AnnouncementSignatures:
		d.ExtraTLVs = nil
	case *QueryShortChannelIDs:
		d.QueryFlags, d.ExtraTLVs = nil, nil
	case *QueryChannelRange:
		d.QueryOption = nil
	case *ReplyChannelRange:
		d.Timestamps, d.Checksums = nil, nil
	}
	enc, err = EncodeMessage(dec)
	require.NoError(t, err)
	return len(enc)
}
