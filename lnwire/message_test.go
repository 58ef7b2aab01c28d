package lnwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"sort"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"
)

// Independent little encoders for the golden layouts below (written from the spec's field lists, not
// from the package's encoders).
func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func pt(pk *btcec.PublicKey) []byte {
	return pk.SerializeCompressed()
}
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// tlv writes one record with single-byte type and length (enough for the golden layouts).
func tlv(typ byte, v []byte) []byte {
	if len(v) >= 0xfd {
		return cat([]byte{typ, 0xfd}, be16(uint16(len(v))), v)
	}
	return cat([]byte{typ, byte(len(v))}, v)
}

func keysLayout(k ChannelKeys) []byte {
	return cat(pt(k.FundingPubKey), pt(k.RevocationBasepoint), pt(k.PaymentBasepoint),
		pt(k.DelayedPaymentBasepoint), pt(k.HTLCBasepoint), pt(k.FirstPerCommitmentPoint))
}

// goldenLayout returns the expected encoding of a fixture, assembled field by field in the order of
// BOLT 1 / BOLT 2.
func goldenLayout(t *testing.T, name string, m Message) []byte {
	typ := be16(uint16(m.MsgType()))
	switch m := m.(type) {
	case *Init:
		gf, f := m.GlobalFeatures.Encode(), m.Features.Encode()
		var ext []byte
		if m.Networks != nil {
			var v []byte
			for _, h := range m.Networks {
				v = append(v, h[:]...)
			}
			ext = append(ext, tlv(1, v)...)
		}
		if m.RemoteAddr != nil {
			ext = append(ext, tlv(3, m.RemoteAddr)...)
		}
		if name == "init-full" { // type 5 then the 3-byte-BigSize type 0x20102
			ext = cat(ext, tlv(5, []byte{1, 2, 3}), []byte{0xfd, 0x02, 0x01, 0x00})
		}
		return cat(typ, be16(uint16(len(gf))), gf, be16(uint16(len(f))), f, ext)
	case *Error:
		return cat(typ, m.ChannelID[:], be16(uint16(len(m.Data))), m.Data)
	case *Warning:
		return cat(typ, m.ChannelID[:], be16(uint16(len(m.Data))), m.Data)
	case *Ping:
		return cat(typ, be16(m.NumPongBytes), be16(uint16(len(m.Ignored))), m.Ignored)
	case *Pong:
		ext := []byte{}
		if name == "pong-empty" {
			ext = tlv(1, []byte{9})
		}
		return cat(typ, be16(uint16(len(m.Ignored))), m.Ignored, ext)
	case *OpenChannel:
		var ext []byte
		if m.UpfrontShutdownScript != nil {
			ext = append(ext, tlv(0, m.UpfrontShutdownScript)...)
		}
		if m.ChannelType != nil {
			ext = append(ext, tlv(1, m.ChannelType.Encode())...)
		}
		if name == "open_channel-empty-upfront" {
			ext = append(ext, tlv(3, []byte("x"))...)
		}
		return cat(typ, m.ChainHash[:], m.TemporaryChannelID[:], be64(uint64(m.FundingSatoshis)), be64(m.PushMsat),
			be64(uint64(m.DustLimitSatoshis)), be64(m.MaxHTLCValueInFlightMsat), be64(uint64(m.ChannelReserveSatoshis)),
			be64(m.HTLCMinimumMsat), be32(m.FeeratePerKw), be16(m.ToSelfDelay), be16(m.MaxAcceptedHTLCs),
			keysLayout(m.ChannelKeys), []byte{m.ChannelFlags}, ext)
	case *AcceptChannel:
		ext := cat(tlv(0, m.UpfrontShutdownScript), tlv(1, m.ChannelType.Encode()))
		return cat(typ, m.TemporaryChannelID[:], be64(uint64(m.DustLimitSatoshis)), be64(m.MaxHTLCValueInFlightMsat),
			be64(uint64(m.ChannelReserveSatoshis)), be64(m.HTLCMinimumMsat), be32(m.MinimumDepth),
			be16(m.ToSelfDelay), be16(m.MaxAcceptedHTLCs), keysLayout(m.ChannelKeys), ext)
	case *FundingCreated:
		return cat(typ, m.TemporaryChannelID[:], m.FundingTxID[:], be16(m.FundingOutputIndex), m.Signature[:])
	case *FundingSigned:
		return cat(typ, m.ChannelID[:], m.Signature[:])
	case *ChannelReady:
		var ext []byte
		if m.Alias != nil {
			h := uint64(m.Alias.BlockHeight)<<40 | uint64(m.Alias.TxIndex)<<16 | uint64(m.Alias.OutputIndex)
			ext = tlv(1, be64(h))
		}
		return cat(typ, m.ChannelID[:], pt(m.SecondPerCommitmentPoint), ext)
	case *Shutdown:
		return cat(typ, m.ChannelID[:], be16(uint16(len(m.ScriptPubKey))), m.ScriptPubKey)
	case *ClosingSigned:
		var ext []byte
		if m.FeeRange != nil {
			ext = tlv(1, cat(be64(uint64(m.FeeRange.MinFeeSatoshis)), be64(uint64(m.FeeRange.MaxFeeSatoshis))))
		}
		return cat(typ, m.ChannelID[:], be64(uint64(m.FeeSatoshis)), m.Signature[:], ext)
	case *UpdateAddHTLC:
		var ext []byte
		if m.BlindingPoint != nil {
			// type 0 then type 106823 (BigSize 0xfe0001a147), length 1, value 1
			ext = cat(tlv(0, pt(m.BlindingPoint)), []byte{0xfe, 0x00, 0x01, 0xa1, 0x47, 0x01, 0x01})
		}
		return cat(typ, m.ChannelID[:], be64(m.ID), be64(m.AmountMsat), m.PaymentHash[:], be32(m.CLTVExpiry),
			m.OnionRoutingPacket[:], ext)
	case *UpdateFulfillHTLC:
		return cat(typ, m.ChannelID[:], be64(m.ID), m.PaymentPreimage[:])
	case *UpdateFailHTLC:
		return cat(typ, m.ChannelID[:], be64(m.ID), be16(uint16(len(m.Reason))), m.Reason, tlv(1, make([]byte, 920)))
	case *UpdateFailMalformedHTLC:
		return cat(typ, m.ChannelID[:], be64(m.ID), m.SHA256OfOnion[:], be16(m.FailureCode))
	case *CommitmentSigned:
		out := cat(typ, m.ChannelID[:], m.Signature[:], be16(uint16(len(m.HTLCSignatures))))
		for _, s := range m.HTLCSignatures {
			out = append(out, s[:]...)
		}
		return out
	case *RevokeAndAck:
		return cat(typ, m.ChannelID[:], m.PerCommitmentSecret[:], pt(m.NextPerCommitmentPoint))
	case *UpdateFee:
		return cat(typ, m.ChannelID[:], be32(m.FeeratePerKw))
	case *ChannelReestablish:
		var ext []byte
		if m.NextFunding != nil {
			ext = tlv(0, m.NextFunding)
		}
		return cat(typ, m.ChannelID[:], be64(m.NextCommitmentNumber), be64(m.NextRevocationNumber),
			m.YourLastPerCommitmentSecret[:], pt(m.MyCurrentPerCommitmentPoint), ext)
	}
	t.Fatalf("no golden layout for %s (%T)", name, m)
	return nil
}

func sortedNames(msgs map[string]Message) []string {
	var names []string
	for n := range msgs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestMessageGoldenLayout checks every fixture's encoding against its field-by-field spec layout, then
// decodes it back to an equal message and re-encodes the same bytes.
func TestMessageGoldenLayout(t *testing.T) {
	msgs := testMessages(t)
	seen := map[MessageType]bool{}
	for _, name := range sortedNames(msgs) {
		m := msgs[name]
		t.Run(name, func(t *testing.T) {
			enc, err := EncodeMessage(m)
			require.NoError(t, err)
			require.Equal(t, goldenLayout(t, name, m), enc)

			dec, err := DecodeMessage(enc)
			require.NoError(t, err)
			require.Equal(t, m, dec)
			require.Equal(t, m.MsgType(), dec.MsgType())
			re, err := EncodeMessage(dec)
			require.NoError(t, err)
			require.Equal(t, enc, re)
			require.True(t, m.MsgType().IsKnown())
			require.NotContains(t, m.MsgType().String(), "unknown")
		})
		seen[m.MsgType()] = true
	}
	// Every type newMessage knows has a fixture (the BOLT 7 ones are in gossipTestMessages).
	for _, m := range gossipTestMessages(t) {
		seen[m.MsgType()] = true
	}
	for typ := MessageType(0); typ < 1024; typ++ {
		if typ.IsKnown() {
			require.True(t, seen[typ], "no fixture for %v", typ)
		}
	}
	require.Len(t, seen, 29)
}

// TestDecodeCopiesInput checks that a decoded message does not alias the caller's buffer.
func TestDecodeCopiesInput(t *testing.T) {
	m := testMessages(t)["update_fail_htlc"]
	enc, err := EncodeMessage(m)
	require.NoError(t, err)
	dec, err := DecodeMessage(enc)
	require.NoError(t, err)
	for i := range enc {
		enc[i] = 0xee
	}
	require.Equal(t, m, dec)
}

// TestTruncatedMessages decodes every strict prefix of every fixture: prefixes that end inside the fixed
// fields fail with ErrShortRead; longer prefixes end inside the extension and either fail or (at a
// record boundary) decode to a message that re-encodes to the prefix. Nothing panics.
func TestTruncatedMessages(t *testing.T) {
	msgs := testMessages(t)
	for _, name := range sortedNames(msgs) {
		m := msgs[name]
		enc, err := EncodeMessage(m)
		require.NoError(t, err)
		pc := m.(PayloadCodec)
		base := baseLength(t, m)
		for l := 0; l < len(enc); l++ {
			dec, err := DecodeMessage(enc[:l])
			if l < base {
				require.ErrorIs(t, err, ErrShortRead, "%s: prefix %d of %d", name, l, len(enc))
				require.Nil(t, dec)
				continue
			}
			if err != nil {
				require.True(t, errors.Is(err, ErrShortRead) || errors.Is(err, ErrTLVLengthTooLarge),
					"%s: prefix %d: %v", name, l, err)
				continue
			}
			re, err := EncodeMessage(dec)
			require.NoError(t, err)
			require.Equal(t, enc[:l], re, "%s: prefix %d", name, l)
		}
		// Decoding the payload directly behaves as DecodeMessage.
		fresh := newMessage(m.MsgType())
		require.NoError(t, fresh.DecodePayload(enc[2:]))
		require.Equal(t, pc, fresh)
	}
}

// baseLength is the encoded length of m without its extension.
func baseLength(t *testing.T, m Message) int {
	enc, err := EncodeMessage(m)
	require.NoError(t, err)
	dec, err := DecodeMessage(enc)
	require.NoError(t, err)
	switch d := dec.(type) {
	case *Init:
		d.Networks, d.RemoteAddr, d.ExtraTLVs = nil, nil, nil
	case *OpenChannel:
		d.UpfrontShutdownScript, d.ChannelType, d.ExtraTLVs = nil, nil, nil
	case *AcceptChannel:
		d.UpfrontShutdownScript, d.ChannelType, d.ExtraTLVs = nil, nil, nil
	case *ChannelReady:
		d.Alias, d.ExtraTLVs = nil, nil
	case *ClosingSigned:
		d.FeeRange, d.ExtraTLVs = nil, nil
	case *UpdateAddHTLC:
		d.BlindingPoint, d.ExtraTLVs = nil, nil
	case *ChannelReestablish:
		d.NextFunding, d.ExtraTLVs = nil, nil
	case *Pong:
		d.ExtraTLVs = nil
	case *UpdateFailHTLC:
		d.ExtraTLVs = nil
	}
	enc, err = EncodeMessage(dec)
	require.NoError(t, err)
	return len(enc)
}

// TestExtensionRules appends records to every fixture: an unknown odd record is kept and re-encoded, an
// unknown even record is refused, and garbage that is not a TLV stream is refused.
func TestExtensionRules(t *testing.T) {
	msgs := testMessages(t)
	for _, name := range sortedNames(msgs) {
		enc, err := EncodeMessage(msgs[name])
		require.NoError(t, err)

		// Type 2^24+1 (odd, above every type the fixtures use).
		odd := append(append([]byte{}, enc...), 0xfe, 0x01, 0x00, 0x00, 0x01, 0x02, 0xbe, 0xef)
		dec, err := DecodeMessage(odd)
		require.NoError(t, err, name)
		re, err := EncodeMessage(dec)
		require.NoError(t, err)
		require.Equal(t, odd, re, name)

		even := append(append([]byte{}, enc...), 0xfe, 0x01, 0x00, 0x00, 0x00, 0x00)
		_, err = DecodeMessage(even)
		require.ErrorIs(t, err, ErrUnknownEvenType, name)

		_, err = DecodeMessage(append(append([]byte{}, enc...), 0xfd))
		require.ErrorIs(t, err, ErrShortRead, name)
		_, err = DecodeMessage(append(append([]byte{}, enc...), 0xfd, 0x00, 0x01, 0x00))
		require.Error(t, err, name) // non-canonical type, or not increasing
	}
}

// TestKnownTLVValidation feeds malformed values of each known TLV record.
func TestKnownTLVValidation(t *testing.T) {
	msgs := testMessages(t)
	withExt := func(name string, ext []byte) []byte {
		m := msgs[name]
		base := baseLength(t, m)
		enc, err := EncodeMessage(m)
		require.NoError(t, err)
		return append(append([]byte{}, enc[:base]...), ext...)
	}
	cases := []struct {
		name string
		msg  string
		ext  []byte
		want error
	}{
		{"networks not a multiple of 32", "init-full", tlv(1, make([]byte, 33)), ErrInvalidTLVValue},
		{"alias short", "channel_ready", tlv(1, make([]byte, 7)), ErrInvalidTLVValue},
		{"alias long", "channel_ready", tlv(1, make([]byte, 9)), ErrInvalidTLVValue},
		{"fee_range short", "closing_signed", tlv(1, make([]byte, 15)), ErrInvalidTLVValue},
		{"fee_range overflow", "closing_signed", tlv(1, cat(be64(1), be64(math.MaxUint64))), ErrAmountOverflow},
		{"blinding point invalid", "update_add_htlc", tlv(0, make([]byte, 33)), ErrInvalidPoint},
		{"blinding point short", "update_add_htlc", tlv(0, make([]byte, 32)), ErrInvalidTLVValue},
		{"open tlvs out of order", "open_channel", cat(tlv(1, []byte{0x10, 0x00}), tlv(0, nil)), ErrTLVNotIncreasing},
		{"reestablish unknown even", "channel_reestablish", tlv(2, nil), ErrUnknownEvenType},
	}
	for _, c := range cases {
		_, err := DecodeMessage(withExt(c.msg, c.ext))
		require.ErrorIs(t, err, c.want, c.name)
	}
	// Zero-length values of the byte-string records are present-but-empty.
	m, err := DecodeMessage(withExt("channel_reestablish", tlv(0, nil)))
	require.NoError(t, err)
	require.NotNil(t, m.(*ChannelReestablish).NextFunding)
	require.Empty(t, m.(*ChannelReestablish).NextFunding)
	_, ok := m.(*ChannelReestablish).NextFundingTxID()
	require.False(t, ok)
	m, err = DecodeMessage(withExt("channel_reestablish-next-funding", tlv(0, test32ToSlice("next-funding"))))
	require.NoError(t, err)
	txid, ok := m.(*ChannelReestablish).NextFundingTxID()
	require.True(t, ok)
	require.Equal(t, chainhash.Hash(test32("next-funding")), txid)
	m, err = DecodeMessage(withExt("open_channel", tlv(1, nil)))
	require.NoError(t, err)
	require.NotNil(t, m.(*OpenChannel).ChannelType)
	require.True(t, m.(*OpenChannel).ChannelType.IsEmpty())
	require.Nil(t, m.(*OpenChannel).UpfrontShutdownScript)
}

// TestInvalidFixedFields corrupts points and amounts inside the fixed fields.
func TestInvalidFixedFields(t *testing.T) {
	msgs := testMessages(t)
	open, err := EncodeMessage(msgs["open_channel"])
	require.NoError(t, err)
	// The six points start after type(2)+chain(32)+tmp(32)+6*u64(48)+u32+u16+u16 = 122.
	for i := 0; i < 6; i++ {
		bad := append([]byte{}, open...)
		bad[122+i*33] = 0x04
		_, err := DecodeMessage(bad)
		require.ErrorIs(t, err, ErrInvalidPoint, "point %d", i)
		bad[122+i*33] = 0x02
		for j := 1; j < 33; j++ {
			bad[122+i*33+j] = 0xff // x >= field prime
		}
		_, err = DecodeMessage(bad)
		require.ErrorIs(t, err, ErrInvalidPoint, "point %d", i)
	}
	// Satoshi amounts above MaxInt64 are refused; msat amounts take any u64.
	for _, off := range []int{2 + 64, 2 + 64 + 16, 2 + 64 + 32} {
		bad := append([]byte{}, open...)
		copy(bad[off:], be64(math.MaxUint64))
		_, err := DecodeMessage(bad)
		require.ErrorIs(t, err, ErrAmountOverflow, "offset %d", off)
	}
	for _, off := range []int{2 + 64 + 8, 2 + 64 + 24, 2 + 64 + 40} {
		bad := append([]byte{}, open...)
		copy(bad[off:], be64(math.MaxUint64))
		m, err := DecodeMessage(bad)
		require.NoError(t, err, "offset %d", off)
		re, err := EncodeMessage(m)
		require.NoError(t, err)
		require.Equal(t, bad, re)
	}
	// A forged htlc signature count larger than the payload.
	cs, err := EncodeMessage(msgs["commitment_signed"])
	require.NoError(t, err)
	bad := append([]byte{}, cs...)
	copy(bad[2+32+64:], be16(0xffff))
	_, err = DecodeMessage(bad)
	require.ErrorIs(t, err, ErrShortRead)
}

// TestEncodeErrors covers the encoder's refusals.
func TestEncodeErrors(t *testing.T) {
	_, err := EncodeMessage(&RevokeAndAck{})
	require.ErrorIs(t, err, ErrMissingPoint)
	_, err = EncodeMessage(&ChannelReady{})
	require.ErrorIs(t, err, ErrMissingPoint)
	_, err = EncodeMessage(&ChannelReestablish{})
	require.ErrorIs(t, err, ErrMissingPoint)
	keys := testKeys(t, "x")
	keys.HTLCBasepoint = nil
	_, err = EncodeMessage(&OpenChannel{ChannelKeys: keys})
	require.ErrorIs(t, err, ErrMissingPoint)
	_, err = EncodeMessage(&AcceptChannel{ChannelKeys: keys})
	require.ErrorIs(t, err, ErrMissingPoint)

	_, err = EncodeMessage(&OpenChannel{FundingSatoshis: -1, ChannelKeys: testKeys(t, "y")})
	require.ErrorIs(t, err, ErrNegativeAmount)
	_, err = EncodeMessage(&ClosingSigned{FeeRange: &FeeRange{MinFeeSatoshis: 1, MaxFeeSatoshis: btcutil.Amount(-5)}})
	require.ErrorIs(t, err, ErrNegativeAmount)

	_, err = EncodeMessage(&Error{Data: make([]byte, 65536)})
	require.ErrorIs(t, err, ErrFieldTooLong)
	_, err = EncodeMessage(&Error{Data: make([]byte, 65535)})
	require.ErrorIs(t, err, ErrMessageTooLarge)
	_, err = EncodeMessage(&CommitmentSigned{HTLCSignatures: make([]Sig, 65536)})
	require.ErrorIs(t, err, ErrFieldTooLong)
	// The largest pong that fits: 65535 - type(2) - byteslen(2).
	enc, err := EncodeMessage(&Pong{Ignored: make([]byte, MaxPongBytes)})
	require.NoError(t, err)
	require.Len(t, enc, MaxMessageSize)

	_, err = EncodeMessage(&Error{ExtraTLVs: TLVStream{{Type: 7}, {Type: 5}}})
	require.ErrorIs(t, err, ErrInvalidExtraTLVs)
	_, err = EncodeMessage(&Error{ExtraTLVs: TLVStream{{Type: 7}, {Type: 7}}})
	require.ErrorIs(t, err, ErrInvalidExtraTLVs)
	_, err = EncodeMessage(&ChannelReady{SecondPerCommitmentPoint: testPoint(t, "p"), ExtraTLVs: TLVStream{{Type: 1, Value: make([]byte, 8)}}})
	require.ErrorIs(t, err, ErrInvalidExtraTLVs)
	_, err = EncodeMessage(&Init{ExtraTLVs: TLVStream{{Type: 3}}})
	require.ErrorIs(t, err, ErrInvalidExtraTLVs)

	_, err = EncodeMessage(nil)
	require.ErrorIs(t, err, ErrUnsupportedMessage)
	_, err = EncodeMessage(foreignMessage{})
	require.ErrorIs(t, err, ErrUnsupportedMessage)
}

type foreignMessage struct{}

func (foreignMessage) MsgType() MessageType { return 0x8001 }

// TestDecodeMessageFraming covers the type prefix, unknown types and the size limit.
func TestDecodeMessageFraming(t *testing.T) {
	for _, in := range [][]byte{nil, {}, {0x00}} {
		_, err := DecodeMessage(in)
		require.ErrorIs(t, err, ErrShortRead)
	}
	_, err := DecodeMessage(make([]byte, MaxMessageSize+1))
	require.ErrorIs(t, err, ErrMessageTooLarge)

	for _, typ := range []MessageType{0, 2, 7, 9, 32768, 32769, 65535, 260} {
		raw := cat(be16(uint16(typ)), []byte{1, 2, 3})
		m, err := DecodeMessage(raw)
		require.NoError(t, err)
		u, ok := m.(*UnknownMessage)
		require.True(t, ok, "type %d", typ)
		require.Equal(t, typ, u.Type)
		require.Equal(t, []byte{1, 2, 3}, u.Payload)
		require.Equal(t, typ%2 == 1, u.MsgType().IsOdd())
		require.False(t, typ.IsKnown())
		re, err := EncodeMessage(u)
		require.NoError(t, err)
		require.Equal(t, raw, re)
	}
	// Empty payload of a known type is short.
	_, err = DecodeMessage(be16(uint16(MsgUpdateFee)))
	require.ErrorIs(t, err, ErrShortRead)
	// An empty pong is two zero bytes of byteslen.
	m, err := DecodeMessage(cat(be16(uint16(MsgPong)), be16(0)))
	require.NoError(t, err)
	require.Equal(t, &Pong{}, m)
}

func TestMessageTypeString(t *testing.T) {
	require.Equal(t, "update_add_htlc", MsgUpdateAddHTLC.String())
	require.Equal(t, "channel_reestablish", MsgChannelReestablish.String())
	require.Equal(t, "warning", MsgWarning.String())
	require.Equal(t, "unknown(32769)", MessageType(32769).String())
	require.True(t, MsgWarning.IsOdd())
	require.False(t, MsgInit.IsOdd())
}

func TestInitHelpers(t *testing.T) {
	m := &Init{GlobalFeatures: NewFeatureVector(DataLossProtectOptional), Features: NewFeatureVector(StaticRemoteKeyRequired)}
	c := m.CombinedFeatures()
	require.Equal(t, []FeatureBit{DataLossProtectOptional, StaticRemoteKeyRequired}, c.Bits())
	require.True(t, (&Init{}).CombinedFeatures().IsEmpty())
	// A non-minimal features field is kept as received so the message re-encodes byte for byte.
	raw := cat(be16(uint16(MsgInit)), be16(2), []byte{0x00, 0x02}, be16(3), []byte{0x00, 0x00, 0x20})
	dec, err := DecodeMessage(raw)
	require.NoError(t, err)
	init := dec.(*Init)
	require.Equal(t, []FeatureBit{DataLossProtectOptional}, init.GlobalFeatures.Bits())
	require.Equal(t, []FeatureBit{UpfrontShutdownScriptOptional}, init.Features.Bits())
	require.Equal(t, []byte{0x20}, init.Features.Encode())
	re, err := EncodeMessage(init)
	require.NoError(t, err)
	require.Equal(t, raw, re)
}

func TestErrorString(t *testing.T) {
	e := &Error{Data: []byte("bad\x00sig")}
	require.Equal(t, `error (all channels): "bad\x00sig"`, e.String())
	w := &Warning{ChannelID: ChannelID{31: 1}, Data: []byte("hi")}
	require.Equal(t, `warning (channel 0000000000000000000000000000000000000000000000000000000000000001): "hi"`, w.String())
}

func TestChannelHelpers(t *testing.T) {
	msgs := testMessages(t)
	fc := msgs["funding_created"].(*FundingCreated)
	op := fc.FundingOutPoint()
	require.Equal(t, fc.FundingTxID, op.Hash)
	require.Equal(t, uint32(1), op.Index)
	require.True(t, msgs["open_channel"].(*OpenChannel).AnnounceChannel())
	require.False(t, msgs["open_channel-no-tlvs"].(*OpenChannel).AnnounceChannel())
	ct, err := ChannelTypeFromFeatures(msgs["open_channel"].(*OpenChannel).ChannelType)
	require.NoError(t, err)
	require.Equal(t, ChannelTypeAnchors, ct)
}
