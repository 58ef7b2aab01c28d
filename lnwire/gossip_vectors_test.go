package lnwire

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"
)

// extendedQueryVector is one entry of the spec's extended-queries.json (eclair's field names).
type extendedQueryVector struct {
	Hex string `json:"hex"`
	Msg struct {
		Type            string      `json:"type"`
		ChainHash       string      `json:"chainHash"`
		FirstBlockNum   uint32      `json:"firstBlockNum"`
		NumberOfBlocks  uint32      `json:"numberOfBlocks"`
		Complete        json.Number `json:"complete"`
		ShortChannelIDs *struct {
			Array    []string `json:"array"`
			Encoding string   `json:"encoding"`
		} `json:"shortChannelIds"`
		Timestamps *struct {
			Encoding   string `json:"encoding"`
			Timestamps []struct {
				T1 uint32 `json:"timestamp1"`
				T2 uint32 `json:"timestamp2"`
			} `json:"timestamps"`
		} `json:"timestamps"`
		Checksums *struct {
			Checksums []struct {
				C1 uint32 `json:"checksum1"`
				C2 uint32 `json:"checksum2"`
			} `json:"checksums"`
		} `json:"checksums"`
		TLVStream *struct {
			Records []json.RawMessage `json:"records"`
			Unknown []json.RawMessage `json:"unknown"`
		} `json:"tlvStream"`
	} `json:"msg"`
}

func vectorEncoding(t *testing.T, s string) Encoding {
	switch s {
	case "UNCOMPRESSED":
		return EncodingUncompressed
	case "COMPRESSED_ZLIB":
		return EncodingZlib
	}
	t.Fatalf("unknown encoding %q", s)
	return 0
}

func vectorSCIDs(t *testing.T, in []string) []ShortChannelID {
	var out []ShortChannelID
	for _, s := range in {
		id, err := ParseShortChannelID(s)
		require.NoError(t, err)
		out = append(out, id)
	}
	return out
}

// TestExtendedQueriesVectors checks every entry of BOLT 7's extended-queries.json both ways: the hex
// decodes to the listed fields and re-encodes to the same bytes; and for the uncompressed entries, the
// message built from the fields encodes to the hex. Zlib entries cannot be built from their fields
// (ErrZlibNotWritten): this package does not compress.
func TestExtendedQueriesVectors(t *testing.T) {
	var vectors []extendedQueryVector
	loadJSON(t, "bolt07/extended-queries.json", &vectors)
	require.Len(t, vectors, 10)
	counts := map[string]int{}
	for i, v := range vectors {
		raw := mustHex(t, v.Hex)
		chain := chainhash.Hash(mustHex(t, v.Msg.ChainHash))
		dec, err := DecodeMessage(raw)
		require.NoError(t, err, "vector %d", i)
		re, err := EncodeMessage(dec)
		require.NoError(t, err, "vector %d", i)
		require.Equal(t, raw, re, "vector %d", i)
		counts[v.Msg.Type]++

		var built Message
		zlibUsed := false
		if v.Msg.TLVStream != nil {
			require.Empty(t, v.Msg.TLVStream.Unknown)
		}
		switch v.Msg.Type {
		case "QueryChannelRange":
			m := dec.(*QueryChannelRange)
			require.Equal(t, chain, m.ChainHash)
			require.Equal(t, v.Msg.FirstBlockNum, m.FirstBlocknum)
			require.Equal(t, v.Msg.NumberOfBlocks, m.NumberOfBlocks)
			want := &QueryChannelRange{ChainHash: chain, FirstBlocknum: v.Msg.FirstBlockNum, NumberOfBlocks: v.Msg.NumberOfBlocks}
			if recs := v.Msg.TLVStream.Records; len(recs) > 0 {
				require.Len(t, recs, 1)
				var s string
				require.NoError(t, json.Unmarshal(recs[0], &s))
				require.Equal(t, "WANT_TIMESTAMPS | WANT_CHECKSUMS", s)
				opt := QueryOptionWantTimestamps | QueryOptionWantChecksums
				want.QueryOption = &opt
			}
			require.Equal(t, want, m)
			built = want
		case "ReplyChannelRange":
			m := dec.(*ReplyChannelRange)
			require.Equal(t, chain, m.ChainHash)
			require.Equal(t, v.Msg.FirstBlockNum, m.FirstBlocknum)
			require.Equal(t, v.Msg.NumberOfBlocks, m.NumberOfBlocks)
			require.Equal(t, v.Msg.Complete.String() == "1", m.SyncComplete)
			enc := vectorEncoding(t, v.Msg.ShortChannelIDs.Encoding)
			ids := vectorSCIDs(t, v.Msg.ShortChannelIDs.Array)
			require.Equal(t, enc, m.Encoding)
			require.Equal(t, ids, m.ShortChannelIDs)
			want := &ReplyChannelRange{ChainHash: chain, FirstBlocknum: v.Msg.FirstBlockNum, NumberOfBlocks: v.Msg.NumberOfBlocks,
				SyncComplete: m.SyncComplete, Encoding: enc, ShortChannelIDs: ids}
			zlibUsed = enc == EncodingZlib
			if v.Msg.Timestamps != nil {
				want.TimestampsEncoding = vectorEncoding(t, v.Msg.Timestamps.Encoding)
				want.Timestamps = []ChannelUpdateTimestamps{}
				for _, p := range v.Msg.Timestamps.Timestamps {
					want.Timestamps = append(want.Timestamps, ChannelUpdateTimestamps{p.T1, p.T2})
				}
				zlibUsed = zlibUsed || want.TimestampsEncoding == EncodingZlib
			}
			if v.Msg.Checksums != nil {
				want.Checksums = []ChannelUpdateChecksums{}
				for _, p := range v.Msg.Checksums.Checksums {
					want.Checksums = append(want.Checksums, ChannelUpdateChecksums{p.C1, p.C2})
				}
			}
			require.Equal(t, want.Timestamps, m.Timestamps)
			require.Equal(t, want.TimestampsEncoding, m.TimestampsEncoding)
			require.Equal(t, want.Checksums, m.Checksums)
			require.Nil(t, m.ExtraTLVs)
			built = want
		case "QueryShortChannelIds":
			m := dec.(*QueryShortChannelIDs)
			require.Equal(t, chain, m.ChainHash)
			enc := vectorEncoding(t, v.Msg.ShortChannelIDs.Encoding)
			ids := vectorSCIDs(t, v.Msg.ShortChannelIDs.Array)
			require.Equal(t, enc, m.Encoding)
			require.Equal(t, ids, m.ShortChannelIDs)
			want := &QueryShortChannelIDs{ChainHash: chain, Encoding: enc, ShortChannelIDs: ids}
			zlibUsed = enc == EncodingZlib
			if recs := v.Msg.TLVStream.Records; len(recs) > 0 {
				require.Len(t, recs, 1)
				var flags struct {
					Array    []uint64 `json:"array"`
					Encoding string   `json:"encoding"`
				}
				require.NoError(t, json.Unmarshal(recs[0], &flags))
				want.QueryFlags, want.QueryFlagsEncoding = flags.Array, vectorEncoding(t, flags.Encoding)
				zlibUsed = zlibUsed || want.QueryFlagsEncoding == EncodingZlib
			}
			require.Equal(t, want.QueryFlags, m.QueryFlags)
			require.Equal(t, want.QueryFlagsEncoding, m.QueryFlagsEncoding)
			require.Nil(t, m.ExtraTLVs)
			built = want
		default:
			t.Fatalf("vector %d: unexpected type %q", i, v.Msg.Type)
		}
		enc, err := EncodeMessage(built)
		if zlibUsed {
			require.ErrorIs(t, err, ErrZlibNotWritten, "vector %d", i)
			// With the encodings switched to 0 it encodes, and decodes to the same entries.
			switch b := built.(type) {
			case *ReplyChannelRange:
				b.Encoding, b.TimestampsEncoding = 0, 0
			case *QueryShortChannelIDs:
				b.Encoding, b.QueryFlagsEncoding = 0, 0
			}
			enc, err = EncodeMessage(built)
			require.NoError(t, err)
			again, err := DecodeMessage(enc)
			require.NoError(t, err)
			require.Equal(t, built, again, "vector %d", i)
			// A decoded zlib message whose entries are changed no longer encodes as zlib.
			switch d := dec.(type) {
			case *ReplyChannelRange:
				if d.Encoding == EncodingZlib {
					d.ShortChannelIDs = d.ShortChannelIDs[:1]
					_, err := EncodeMessage(d)
					require.ErrorIs(t, err, ErrZlibNotWritten, "vector %d", i)
				}
			case *QueryShortChannelIDs:
				if d.QueryFlagsEncoding == EncodingZlib {
					d.QueryFlags[0]++
					_, err := EncodeMessage(d)
					require.ErrorIs(t, err, ErrZlibNotWritten, "vector %d", i)
				}
			}
			continue
		}
		require.NoError(t, err, "vector %d", i)
		require.Equal(t, raw, enc, "vector %d", i)
	}
	require.Equal(t, map[string]int{"QueryChannelRange": 2, "ReplyChannelRange": 4, "QueryShortChannelIds": 4}, counts)
}

// TestShortChannelIDVectorBolt07 checks BOLT 7's human-readable example as copied into testdata/bolt07.
func TestShortChannelIDVectorBolt07(t *testing.T) {
	var v struct {
		Examples []struct {
			HumanReadable string `json:"human_readable"`
			BlockHeight   uint32 `json:"block_height"`
			TxIndex       uint32 `json:"tx_index"`
			OutputIndex   uint16 `json:"output_index"`
			U64           uint64 `json:"u64_derived"`
			Hex           string `json:"hex_derived"`
		} `json:"examples"`
	}
	loadJSON(t, "bolt07/short-channel-id.json", &v)
	require.Len(t, v.Examples, 1)
	for _, e := range v.Examples {
		id, err := ParseShortChannelID(e.HumanReadable)
		require.NoError(t, err)
		require.Equal(t, ShortChannelID{BlockHeight: e.BlockHeight, TxIndex: e.TxIndex, OutputIndex: e.OutputIndex}, id)
		require.Equal(t, e.U64, id.ToUint64())
		// In a message: the 8 bytes of encoded_short_ids and of channel_update's short_channel_id.
		require.Equal(t, cat([]byte{0}, mustHex(t, e.Hex)), EncodeShortChannelIDs([]ShortChannelID{id}))
		cu := &ChannelUpdate{ShortChannelID: id}
		enc, err := EncodeMessage(cu)
		require.NoError(t, err)
		require.Equal(t, mustHex(t, e.Hex), enc[2+64+32:2+64+40])
		dec, err := DecodeMessage(enc)
		require.NoError(t, err)
		require.Equal(t, e.HumanReadable, dec.(*ChannelUpdate).ShortChannelID.String())
	}
}

// TestRoutingExampleVector carries BOLT 7's "Routing Example" channel_updates through the wire format
// and recomputes the example's amounts and CLTV offsets from the decoded fields, with the fee formula
// of "HTLC Fees" (fee_base_msat + amount_to_forward * fee_proportional_millionths / 1000000).
func TestRoutingExampleVector(t *testing.T) {
	var v struct {
		Updates []struct {
			From, To                  string
			CLTVExpiryDelta           uint16 `json:"cltv_expiry_delta"`
			FeeBaseMsat               uint32 `json:"fee_base_msat"`
			FeeProportionalMillionths uint32 `json:"fee_proportional_millionths"`
		} `json:"channel_updates"`
		MinFinal int `json:"recipient_min_final_cltv_expiry_delta"`
		Shadow   int `json:"shadow_route_extra_cltv"`
		BtoC     struct {
			Result uint64 `json:"result_msat"`
		} `json:"b_to_c_fee_calc"`
		Payments map[string]map[string]json.RawMessage `json:"payments"`
	}
	loadJSON(t, "bolt07/routing-example.json", &v)
	require.Len(t, v.Updates, 8)
	// Each update goes over the wire; the decoded values are what a router would use.
	policy := map[string]*ChannelUpdate{}
	for i, u := range v.Updates {
		cu := &ChannelUpdate{
			ChainHash:      chainhash.Hash{1},
			ShortChannelID: ShortChannelID{BlockHeight: 100, TxIndex: uint32(i)},
			Timestamp:      1, MessageFlags: ChanUpdateMsgFlagMustBeOne,
			CLTVExpiryDelta: u.CLTVExpiryDelta, FeeBaseMsat: u.FeeBaseMsat, FeeProportionalMillionths: u.FeeProportionalMillionths,
			HTLCMinimumMsat: 1, HTLCMaximumMsat: 1 << 40,
		}
		enc, err := EncodeMessage(cu)
		require.NoError(t, err)
		dec, err := DecodeMessage(enc)
		require.NoError(t, err)
		require.Equal(t, cu, dec)
		policy[u.From+"->"+u.To] = dec.(*ChannelUpdate)
	}
	fee := func(cu *ChannelUpdate, amt uint64) uint64 {
		return uint64(cu.FeeBaseMsat) + amt*uint64(cu.FeeProportionalMillionths)/1_000_000
	}
	const amount = 4999999
	require.Equal(t, v.BtoC.Result, fee(policy["B->C"], amount))
	type htlc struct {
		AmountMsat       uint64 `json:"amount_msat"`
		CLTVExpiryOffset int    `json:"cltv_expiry_offset"`
		OnionAmt         uint64 `json:"onion_amt_to_forward"`
		OnionCLTVOffset  int    `json:"onion_outgoing_cltv_offset"`
	}
	get := func(path, key string) htlc {
		var h htlc
		require.NoError(t, json.Unmarshal(v.Payments[path][key], &h), "%s %s", path, key)
		return h
	}
	final := v.MinFinal + v.Shadow
	direct := get("B->C", "update_add_htlc_B_to_C")
	require.Equal(t, htlc{amount, final, amount, final}, direct)
	// A pays the fee and delta of the next hop's channel (B->C via B, D->C via D).
	for _, c := range []struct{ path, key, hop string }{{"A->B->C", "update_add_htlc_A_to_B", "B->C"}, {"A->D->C", "update_add_htlc_A_to_D", "D->C"}} {
		h := get(c.path, c.key)
		cu := policy[c.hop]
		require.Equal(t, amount+fee(cu, amount), h.AmountMsat, c.path)
		require.Equal(t, int(cu.CLTVExpiryDelta)+final, h.CLTVExpiryOffset, c.path)
		require.Equal(t, uint64(amount), h.OnionAmt, c.path)
		require.Equal(t, final, h.OnionCLTVOffset, c.path)
	}
}

// gossipRecord is one message of a gossip file with its index row.
type gossipRecord struct {
	raw                []byte
	typ                MessageType
	signer             []string // hex node ids: 2 for channel_announcement, 1 for the others, none if unknown
	sigValid           string
	direction          string
	scid, signerSource string
}

// readGossipFile reads `[u16 length][message]` records and, if indexPath is not empty, the rows of the
// matching index.csv.
func readGossipFile(t testing.TB, binPath, indexPath string) []gossipRecord {
	data, err := os.ReadFile(binPath)
	require.NoError(t, err)
	var recs []gossipRecord
	offsets := map[int]int{}
	for off := 0; off < len(data); {
		require.LessOrEqual(t, off+2, len(data))
		n := int(binary.BigEndian.Uint16(data[off:]))
		require.LessOrEqual(t, off+2+n, len(data))
		msg := data[off+2 : off+2+n]
		offsets[off] = len(recs)
		recs = append(recs, gossipRecord{raw: msg, typ: MessageType(binary.BigEndian.Uint16(msg))})
		off += 2 + n
	}
	if indexPath == "" {
		return recs
	}
	idx, err := os.ReadFile(indexPath)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(idx)), "\n")
	require.Equal(t, "offset,length,type,short_channel_id,direction,timestamp,signer_node_id,sig_valid,signer_source", lines[0])
	require.Len(t, lines[1:], len(recs))
	for _, line := range lines[1:] {
		f := strings.Split(line, ",")
		require.Len(t, f, 9)
		off, err := strconv.Atoi(f[0])
		require.NoError(t, err)
		i, ok := offsets[off]
		require.True(t, ok, "index offset %d is not a record", off)
		r := &recs[i]
		require.Equal(t, f[2], strconv.Itoa(int(r.typ)))
		if f[6] != "" {
			r.signer = strings.Split(f[6], "|")
		}
		r.sigValid, r.direction, r.scid, r.signerSource = f[7], f[4], f[3], f[8]
	}
	return recs
}

// checkGossipRecord decodes one real message, checks that it re-encodes to the same bytes and that
// DataToSign is the signed suffix, and verifies its signatures where the signer is known (channel_update
// signers come from the index, or from announcements, given as nodes by scid). It returns the decoded
// message and whether the signatures were checked.
func checkGossipRecord(t testing.TB, r gossipRecord) (Message, bool) {
	m, err := DecodeMessage(r.raw)
	require.NoError(t, err, "%v %s", r.typ, r.scid)
	re, err := EncodeMessage(m)
	require.NoError(t, err)
	require.True(t, bytes.Equal(r.raw, re), "%v %s re-encodes differently", r.typ, r.scid)
	switch m := m.(type) {
	case *ChannelAnnouncement:
		data := m.DataToSign()
		require.Equal(t, r.raw[2+256:], data)
		require.Len(t, r.signer, 2)
		require.Equal(t, r.signer[0], hex.EncodeToString(m.NodeID1.SerializeCompressed()))
		require.Equal(t, r.signer[1], hex.EncodeToString(m.NodeID2.SerializeCompressed()))
		require.Equal(t, r.scid, m.ShortChannelID.String())
		require.True(t, verifyGossip(m.NodeSignature1, data, m.NodeID1), r.scid)
		require.True(t, verifyGossip(m.NodeSignature2, data, m.NodeID2), r.scid)
		require.True(t, verifyGossip(m.BitcoinSignature1, data, m.BitcoinKey1), r.scid)
		require.True(t, verifyGossip(m.BitcoinSignature2, data, m.BitcoinKey2), r.scid)
		return m, true
	case *NodeAnnouncement:
		data := m.DataToSign()
		require.Equal(t, r.raw[2+64:], data)
		require.Equal(t, r.signer, []string{hex.EncodeToString(m.NodeID.SerializeCompressed())})
		require.True(t, verifyGossip(m.Signature, data, m.NodeID))
		return m, true
	case *ChannelUpdate:
		data := m.DataToSign()
		require.Equal(t, r.raw[2+64:], data)
		require.Equal(t, r.scid, m.ShortChannelID.String())
		require.Equal(t, r.direction, strconv.Itoa(int(m.Direction())))
		if r.sigValid != "true" {
			return m, false
		}
		require.Len(t, r.signer, 1)
		pk, err := ParsePoint(mustHex(t, r.signer[0]))
		require.NoError(t, err)
		require.True(t, verifyGossip(m.Signature, data, pk), "%s dir %d", r.scid, m.Direction())
		return m, true
	}
	t.Fatalf("unexpected message %T in a gossip file", m)
	return nil, false
}

const sampleDir = "testdata/bolt07"

// TestRealGossipSample decodes the 89 real mainnet messages of the sample, re-encodes each to its exact
// bytes and verifies every signature: the four of each channel_announcement, each node_announcement
// against its node_id, and each channel_update against its signer, which for ten of them is node_id_1
// or node_id_2 of a channel_announcement of the sample, chosen by the update's direction bit.
func TestRealGossipSample(t *testing.T) {
	recs := readGossipFile(t, filepath.Join(sampleDir, "mainnet-gossip-sample.bin"), filepath.Join(sampleDir, "mainnet-gossip-sample.csv"))
	require.Len(t, recs, 89)
	announced := map[ShortChannelID]*ChannelAnnouncement{}
	types := map[MessageType]int{}
	addrTypes := map[AddressType]int{}
	verified, viaAnnouncement, inboundFee, notTLV, disabled := 0, 0, 0, 0, 0
	for _, r := range recs {
		m, ok := checkGossipRecord(t, r)
		types[r.typ]++
		if ok {
			verified++
		}
		switch m := m.(type) {
		case *ChannelAnnouncement:
			require.Equal(t, "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000", hex.EncodeToString(m.ChainHash[:]))
			announced[m.ShortChannelID] = m
		case *NodeAnnouncement:
			require.Nil(t, m.ExcessAddressData)
			for _, a := range m.Addresses {
				addrTypes[a.Type]++
				if a.Type == AddressTorV3 {
					// Real onion names pass the v3 checksum check.
					back, err := NewTorV3Address(a.Host(), a.Port)
					require.NoError(t, err, a.String())
					require.Equal(t, a, back)
				}
				if ap, ok := a.AddrPort(); ok {
					again, err := NewIPAddress(ap)
					require.NoError(t, err)
					require.Equal(t, a, again)
				}
			}
		case *ChannelUpdate:
			if m.IsDisabled() {
				disabled++
			}
			require.NotZero(t, m.MessageFlags&ChanUpdateMsgFlagMustBeOne)
			if r.signerSource == "channel_announcement" {
				ca := announced[m.ShortChannelID]
				require.NotNil(t, ca, r.scid)
				node := ca.NodeID1
				if m.Direction() == 1 {
					node = ca.NodeID2
				}
				require.True(t, verifyGossip(m.Signature, m.DataToSign(), node), r.scid)
				other := ca.NodeID2
				if m.Direction() == 1 {
					other = ca.NodeID1
				}
				require.False(t, verifyGossip(m.Signature, m.DataToSign(), other), r.scid)
				viaAnnouncement++
			}
			ext, err := m.Extension()
			switch {
			case err != nil:
				notTLV++ // 96 01 02 26 8d...: type 150 (even) of 1 byte, then a length past the end
				require.ErrorIs(t, err, ErrTLVLengthTooLarge)
			case ext != nil:
				_, ok := ext.Get(55555)
				require.True(t, ok)
				inboundFee++
			}
		}
	}
	require.Equal(t, map[MessageType]int{256: 27, 257: 31, 258: 31}, types)
	require.Equal(t, 88, verified) // all but the channel_update whose signer is unknown
	require.Equal(t, 10, viaAnnouncement)
	require.Equal(t, 1, notTLV)
	require.Positive(t, inboundFee)
	require.Positive(t, disabled)
	for _, typ := range []AddressType{AddressIPv4, AddressIPv6, AddressTorV3} {
		require.Positive(t, addrTypes[typ], "no %v address in the sample", typ)
	}
}

// gossipDataDir returns the shared data set's directory: $LNKIT_GOSSIP_DIR, else ../shared beside the
// repository (as CI lays it out), else /work/shared. The test using it is skipped where it is absent.
func gossipDataDir() string {
	if d := os.Getenv("LNKIT_GOSSIP_DIR"); d != "" {
		return d
	}
	const rel = "data/lngraph/gossip-raw-2025"
	for _, d := range []string{filepath.Join("..", "..", "shared", rel), filepath.Join("/work/shared", rel)} {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return filepath.Join("/work/shared", rel)
}

// TestRealGossipFullSet runs over the whole shared file of 28,813 real messages: it counts decode
// failures and re-encoding mismatches (both must be 0) and verifies the signatures the index marks valid
// (none in -short mode, a sample under the race detector).
func TestRealGossipFullSet(t *testing.T) {
	dir := gossipDataDir()
	bin := filepath.Join(dir, "mainnet-gossip-2025.bin")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("shared gossip data not available (%v)", err)
	}
	recs := readGossipFile(t, bin, filepath.Join(dir, "index.csv"))
	require.Len(t, recs, 28813)
	failures, mismatches, badSigs, verified := 0, 0, 0, 0
	for i, r := range recs {
		m, err := DecodeMessage(r.raw)
		if err != nil {
			failures++
			t.Logf("%v %s: %v", r.typ, r.scid, err)
			continue
		}
		re, err := EncodeMessage(m)
		if err != nil || !bytes.Equal(re, r.raw) {
			mismatches++
			continue
		}
		// Signatures: all of them, or under the race detector (where a verification costs some 3 ms)
		// every 32nd message.
		if testing.Short() || r.sigValid != "true" || (raceEnabled && i%32 != 0) {
			continue
		}
		ok := false
		switch m := m.(type) {
		case *ChannelAnnouncement:
			d := m.DataToSign()
			ok = verifyGossip(m.NodeSignature1, d, m.NodeID1) && verifyGossip(m.NodeSignature2, d, m.NodeID2) &&
				verifyGossip(m.BitcoinSignature1, d, m.BitcoinKey1) && verifyGossip(m.BitcoinSignature2, d, m.BitcoinKey2)
		case *NodeAnnouncement:
			ok = verifyGossip(m.Signature, m.DataToSign(), m.NodeID)
		case *ChannelUpdate:
			pk, err := ParsePoint(mustHex(t, r.signer[0]))
			ok = err == nil && verifyGossip(m.Signature, m.DataToSign(), pk)
		}
		verified++
		if !ok {
			badSigs++
		}
	}
	t.Logf("%d messages: %d decode failures, %d re-encoding mismatches, %d signatures checked, %d bad", len(recs), failures, mismatches, verified, badSigs)
	require.Zero(t, failures)
	require.Zero(t, mismatches)
	require.Zero(t, badSigs)
	if !testing.Short() && !raceEnabled {
		require.Equal(t, 28813-321, verified)
	}
}

// deflate compresses b with zlib (test helper: this package never compresses).
func deflate(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	require.NoError(t, err)
	_, err = w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// TestZlibBounds feeds zlib data at and past MaxInflatedSize, in every place an encoded array appears,
// and malformed zlib streams.
func TestZlibBounds(t *testing.T) {
	// A bomb: 64 MB of zeros deflates to about 64 KB... too big for a message; 10 MB is ~10 KB.
	bomb := deflate(t, make([]byte, 10<<20))
	require.Less(t, len(bomb), 12000)
	chain := make([]byte, 32)
	zl := func(z []byte) []byte { return cat([]byte{1}, z) }
	qscid := func(field []byte, ext ...[]byte) []byte {
		return cat(be16(261), chain, be16(uint16(len(field))), field, cat(ext...))
	}
	rcr := func(field []byte, ext ...[]byte) []byte {
		return cat(be16(264), chain, be32(1), be32(2), []byte{1}, be16(uint16(len(field))), field, cat(ext...))
	}
	twoIDs := cat([]byte{0}, be64(1), be64(2))
	bigTLV := func(typ byte, v []byte) []byte { return cat([]byte{typ, 0xfd}, be16(uint16(len(v))), v) }
	for name, in := range map[string][]byte{
		"query ids":          qscid(zl(bomb)),
		"reply ids":          rcr(zl(bomb)),
		"query flags":        qscid(twoIDs, bigTLV(1, zl(bomb))),
		"reply timestamps":   rcr(twoIDs, bigTLV(1, zl(bomb))),
		"standalone ids":     nil,
		"standalone flags":   nil,
		"standalone stamps":  nil,
		"one past the bound": qscid(zl(deflate(t, make([]byte, MaxInflatedSize+8)))),
	} {
		var err error
		switch name {
		case "standalone ids":
			_, _, err = DecodeShortChannelIDs(zl(bomb))
		case "standalone flags":
			_, _, err = DecodeQueryFlags(zl(bomb))
		case "standalone stamps":
			_, _, err = DecodeTimestamps(zl(bomb))
		default:
			require.LessOrEqual(t, len(in), MaxMessageSize)
			_, err = DecodeMessage(in)
		}
		require.ErrorIs(t, err, ErrInflatedTooLarge, name)
	}
	// Exactly at the bound: MaxEncodedEntries ids are accepted (and re-encode as they came). The ids
	// repeat a short cycle so that they fit one message: 65,496 distinct increasing ids deflate to some
	// 140 KB (a ratio under 4, which is why eight times the uncompressed capacity is a safe bound).
	atBound := make([]byte, 0, MaxInflatedSize)
	for i := 0; i < MaxEncodedEntries; i++ {
		atBound = binary.BigEndian.AppendUint64(atBound, uint64(i%64+1))
	}
	in := qscid(zl(deflate(t, atBound)))
	require.LessOrEqual(t, len(in), MaxMessageSize)
	m, err := DecodeMessage(in)
	require.NoError(t, err)
	require.Len(t, m.(*QueryShortChannelIDs).ShortChannelIDs, MaxEncodedEntries)
	re, err := EncodeMessage(m)
	require.NoError(t, err)
	require.Equal(t, in, re)
	// Query flags one byte each: MaxEncodedEntries of them are fine, one more is refused before the
	// message is even compared with its ids.
	_, _, err = DecodeQueryFlags(zl(deflate(t, make([]byte, MaxEncodedEntries))))
	require.NoError(t, err)
	_, _, err = DecodeQueryFlags(zl(deflate(t, make([]byte, MaxEncodedEntries+1))))
	require.ErrorIs(t, err, ErrInflatedTooLarge)

	// Malformed streams.
	good := deflate(t, cat(be64(1), be64(2)))
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	for name, z := range map[string][]byte{
		"bad checksum":     badSum,
		"truncated":        good[:len(good)-3],
		"trailing garbage": cat(good, []byte{0}),
		"not zlib":         {0x12, 0x34, 0x56},
		"partial id":       deflate(t, make([]byte, 12)),
		"preset dict":      {0x78, 0xbb, 0, 0, 0, 1},
	} {
		_, _, err := DecodeShortChannelIDs(zl(z))
		require.ErrorIs(t, err, ErrInvalidEncodedArray, name)
		_, err = DecodeMessage(qscid(zl(z)))
		require.ErrorIs(t, err, ErrInvalidEncodedArray, name)
	}
	ids, enc, err := DecodeShortChannelIDs(zl(good))
	require.NoError(t, err)
	require.Equal(t, EncodingZlib, enc)
	require.Equal(t, []ShortChannelID{NewShortChannelIDFromUint64(1), NewShortChannelIDFromUint64(2)}, ids)
}
