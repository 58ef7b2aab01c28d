package lnwire

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// TLV types of `open_channel_tlvs` and `accept_channel_tlvs` (BOLT 2).
const (
	OpenChannelTLVUpfrontShutdownScript uint64 = 0
	OpenChannelTLVChannelType           uint64 = 1
)

// ChannelFlagAnnounceChannel is the `announce_channel` bit of `channel_flags` (BOLT 2, open_channel).
const ChannelFlagAnnounceChannel uint8 = 1

// ChannelKeys are the six points `open_channel` and `accept_channel` both carry, in wire order (BOLT 2).
type ChannelKeys struct {
	// FundingPubKey is the sender's key in the 2-of-2 funding output script (`funding_pubkey`).
	FundingPubKey *btcec.PublicKey
	// RevocationBasepoint is `revocation_basepoint` (BOLT 3, Key Derivation).
	RevocationBasepoint *btcec.PublicKey
	// PaymentBasepoint is `payment_basepoint`.
	PaymentBasepoint *btcec.PublicKey
	// DelayedPaymentBasepoint is `delayed_payment_basepoint`.
	DelayedPaymentBasepoint *btcec.PublicKey
	// HTLCBasepoint is `htlc_basepoint`.
	HTLCBasepoint *btcec.PublicKey
	// FirstPerCommitmentPoint is `first_per_commitment_point`, for commitment number 0.
	FirstPerCommitmentPoint *btcec.PublicKey
}

func (k *ChannelKeys) append(b []byte) ([]byte, error) {
	var err error
	for _, p := range []struct {
		name string
		pk   *btcec.PublicKey
	}{
		{"funding_pubkey", k.FundingPubKey},
		{"revocation_basepoint", k.RevocationBasepoint},
		{"payment_basepoint", k.PaymentBasepoint},
		{"delayed_payment_basepoint", k.DelayedPaymentBasepoint},
		{"htlc_basepoint", k.HTLCBasepoint},
		{"first_per_commitment_point", k.FirstPerCommitmentPoint},
	} {
		if b, err = appendPoint(b, p.name, p.pk); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (k *ChannelKeys) read(r *reader) {
	k.FundingPubKey = r.point("funding_pubkey")
	k.RevocationBasepoint = r.point("revocation_basepoint")
	k.PaymentBasepoint = r.point("payment_basepoint")
	k.DelayedPaymentBasepoint = r.point("delayed_payment_basepoint")
	k.HTLCBasepoint = r.point("htlc_basepoint")
	k.FirstPerCommitmentPoint = r.point("first_per_commitment_point")
}

// openTLVs are the records shared by open_channel_tlvs and accept_channel_tlvs.
type openTLVs struct {
	upfrontShutdownScript []byte
	channelType           *FeatureVector
}

func (o openTLVs) stream() TLVStream {
	var s TLVStream
	if o.upfrontShutdownScript != nil {
		s = append(s, TLVRecord{Type: OpenChannelTLVUpfrontShutdownScript, Value: o.upfrontShutdownScript})
	}
	if o.channelType != nil {
		s = append(s, TLVRecord{Type: OpenChannelTLVChannelType, Value: o.channelType.wire()})
	}
	return s
}

func decodeOpenTLVs(rest []byte) (openTLVs, TLVStream, error) {
	var o openTLVs
	ext, err := decodeExtension(rest, OpenChannelTLVUpfrontShutdownScript, OpenChannelTLVChannelType)
	if err != nil {
		return o, nil, err
	}
	if v, ok := ext.get(OpenChannelTLVUpfrontShutdownScript); ok {
		o.upfrontShutdownScript = append([]byte{}, v...)
	}
	if v, ok := ext.get(OpenChannelTLVChannelType); ok {
		o.channelType = DecodeFeatureVector(v)
	}
	return o, ext.extra, nil
}

// OpenChannel is the `open_channel` message (type 32, BOLT 2, "The open_channel Message").
//
// A nil UpfrontShutdownScript or ChannelType means the TLV record is absent; a non-nil empty
// UpfrontShutdownScript is present with zero length ("no upfront script").
type OpenChannel struct {
	// ChainHash identifies the chain (its genesis block hash).
	ChainHash chainhash.Hash
	// TemporaryChannelID identifies the channel until the funding outpoint is known.
	TemporaryChannelID ChannelID
	// FundingSatoshis is the funder's contribution, in satoshis.
	FundingSatoshis btcutil.Amount
	// PushMsat is given unconditionally to the receiver, in millisatoshis.
	PushMsat uint64
	// DustLimitSatoshis is the sender's dust limit, in satoshis.
	DustLimitSatoshis btcutil.Amount
	// MaxHTLCValueInFlightMsat caps the total of HTLCs the receiver may offer, in millisatoshis.
	MaxHTLCValueInFlightMsat uint64
	// ChannelReserveSatoshis is the reserve the receiver must keep, in satoshis.
	ChannelReserveSatoshis btcutil.Amount
	// HTLCMinimumMsat is the smallest HTLC the sender accepts, in millisatoshis.
	HTLCMinimumMsat uint64
	// FeeratePerKw is the initial commitment feerate, in satoshis per 1000 weight units.
	FeeratePerKw uint32
	// ToSelfDelay is the CSV delay, in blocks, on the receiver's to-self outputs.
	ToSelfDelay uint16
	// MaxAcceptedHTLCs limits the HTLCs the receiver may offer (at most 483).
	MaxAcceptedHTLCs uint16
	ChannelKeys
	// ChannelFlags holds `announce_channel` in bit 0 (ChannelFlagAnnounceChannel).
	ChannelFlags uint8
	// UpfrontShutdownScript is the `upfront_shutdown_script` TLV (type 0). Nil: absent.
	UpfrontShutdownScript []byte
	// ChannelType is the `channel_type` TLV (type 1), a feature bitfield; recognise it with
	// ChannelTypeFromFeatures. Nil: absent.
	ChannelType *FeatureVector
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream
}

// MsgType returns MsgOpenChannel.
func (m *OpenChannel) MsgType() MessageType { return MsgOpenChannel }

// AnnounceChannel reports whether the `announce_channel` flag is set.
func (m *OpenChannel) AnnounceChannel() bool { return m.ChannelFlags&ChannelFlagAnnounceChannel != 0 }

// AppendPayload appends the payload encoding.
func (m *OpenChannel) AppendPayload(b []byte) ([]byte, error) {
	var err error
	b = append(b, m.ChainHash[:]...)
	b = append(b, m.TemporaryChannelID[:]...)
	if b, err = appendSat(b, "funding_satoshis", m.FundingSatoshis); err != nil {
		return nil, err
	}
	b = appendU64(b, m.PushMsat)
	if b, err = appendSat(b, "dust_limit_satoshis", m.DustLimitSatoshis); err != nil {
		return nil, err
	}
	b = appendU64(b, m.MaxHTLCValueInFlightMsat)
	if b, err = appendSat(b, "channel_reserve_satoshis", m.ChannelReserveSatoshis); err != nil {
		return nil, err
	}
	b = appendU64(b, m.HTLCMinimumMsat)
	b = appendU32(b, m.FeeratePerKw)
	b = appendU16(b, m.ToSelfDelay)
	b = appendU16(b, m.MaxAcceptedHTLCs)
	if b, err = m.ChannelKeys.append(b); err != nil {
		return nil, err
	}
	b = append(b, m.ChannelFlags)
	own := openTLVs{upfrontShutdownScript: m.UpfrontShutdownScript, channelType: m.ChannelType}.stream()
	return appendExtension(b, own, m.ExtraTLVs, OpenChannelTLVUpfrontShutdownScript, OpenChannelTLVChannelType)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *OpenChannel) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out OpenChannel
	out.ChainHash = r.hash("chain_hash")
	out.TemporaryChannelID = r.channelID("temporary_channel_id")
	out.FundingSatoshis = r.sat("funding_satoshis")
	out.PushMsat = r.u64("push_msat")
	out.DustLimitSatoshis = r.sat("dust_limit_satoshis")
	out.MaxHTLCValueInFlightMsat = r.u64("max_htlc_value_in_flight_msat")
	out.ChannelReserveSatoshis = r.sat("channel_reserve_satoshis")
	out.HTLCMinimumMsat = r.u64("htlc_minimum_msat")
	out.FeeratePerKw = r.u32("feerate_per_kw")
	out.ToSelfDelay = r.u16("to_self_delay")
	out.MaxAcceptedHTLCs = r.u16("max_accepted_htlcs")
	out.ChannelKeys.read(r)
	out.ChannelFlags = r.u8("channel_flags")
	if r.err != nil {
		return r.err
	}
	tlvs, extra, err := decodeOpenTLVs(r.rest())
	if err != nil {
		return err
	}
	out.UpfrontShutdownScript, out.ChannelType, out.ExtraTLVs = tlvs.upfrontShutdownScript, tlvs.channelType, extra
	*m = out
	return nil
}

// AcceptChannel is the `accept_channel` message (type 33, BOLT 2, "The accept_channel Message").
// The TLV fields follow the conventions of OpenChannel.
type AcceptChannel struct {
	// TemporaryChannelID echoes the one of `open_channel`.
	TemporaryChannelID ChannelID
	// DustLimitSatoshis is the sender's dust limit, in satoshis.
	DustLimitSatoshis btcutil.Amount
	// MaxHTLCValueInFlightMsat caps the total of HTLCs the receiver may offer, in millisatoshis.
	MaxHTLCValueInFlightMsat uint64
	// ChannelReserveSatoshis is the reserve the receiver must keep, in satoshis.
	ChannelReserveSatoshis btcutil.Amount
	// HTLCMinimumMsat is the smallest HTLC the sender accepts, in millisatoshis.
	HTLCMinimumMsat uint64
	// MinimumDepth is the number of confirmations the sender waits for before channel_ready.
	MinimumDepth uint32
	// ToSelfDelay is the CSV delay, in blocks, on the receiver's to-self outputs.
	ToSelfDelay uint16
	// MaxAcceptedHTLCs limits the HTLCs the receiver may offer (at most 483).
	MaxAcceptedHTLCs uint16
	ChannelKeys
	// UpfrontShutdownScript is the `upfront_shutdown_script` TLV (type 0). Nil: absent.
	UpfrontShutdownScript []byte
	// ChannelType is the `channel_type` TLV (type 1). Nil: absent.
	ChannelType *FeatureVector
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream
}

// MsgType returns MsgAcceptChannel.
func (m *AcceptChannel) MsgType() MessageType { return MsgAcceptChannel }

// AppendPayload appends the payload encoding.
func (m *AcceptChannel) AppendPayload(b []byte) ([]byte, error) {
	var err error
	b = append(b, m.TemporaryChannelID[:]...)
	if b, err = appendSat(b, "dust_limit_satoshis", m.DustLimitSatoshis); err != nil {
		return nil, err
	}
	b = appendU64(b, m.MaxHTLCValueInFlightMsat)
	if b, err = appendSat(b, "channel_reserve_satoshis", m.ChannelReserveSatoshis); err != nil {
		return nil, err
	}
	b = appendU64(b, m.HTLCMinimumMsat)
	b = appendU32(b, m.MinimumDepth)
	b = appendU16(b, m.ToSelfDelay)
	b = appendU16(b, m.MaxAcceptedHTLCs)
	if b, err = m.ChannelKeys.append(b); err != nil {
		return nil, err
	}
	own := openTLVs{upfrontShutdownScript: m.UpfrontShutdownScript, channelType: m.ChannelType}.stream()
	return appendExtension(b, own, m.ExtraTLVs, OpenChannelTLVUpfrontShutdownScript, OpenChannelTLVChannelType)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *AcceptChannel) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out AcceptChannel
	out.TemporaryChannelID = r.channelID("temporary_channel_id")
	out.DustLimitSatoshis = r.sat("dust_limit_satoshis")
	out.MaxHTLCValueInFlightMsat = r.u64("max_htlc_value_in_flight_msat")
	out.ChannelReserveSatoshis = r.sat("channel_reserve_satoshis")
	out.HTLCMinimumMsat = r.u64("htlc_minimum_msat")
	out.MinimumDepth = r.u32("minimum_depth")
	out.ToSelfDelay = r.u16("to_self_delay")
	out.MaxAcceptedHTLCs = r.u16("max_accepted_htlcs")
	out.ChannelKeys.read(r)
	if r.err != nil {
		return r.err
	}
	tlvs, extra, err := decodeOpenTLVs(r.rest())
	if err != nil {
		return err
	}
	out.UpfrontShutdownScript, out.ChannelType, out.ExtraTLVs = tlvs.upfrontShutdownScript, tlvs.channelType, extra
	*m = out
	return nil
}

// FundingCreated is the `funding_created` message (type 34, BOLT 2, "The funding_created Message").
type FundingCreated struct {
	TemporaryChannelID ChannelID
	// FundingTxID is the funding transaction id, in the byte order of chainhash.Hash (as on the wire).
	FundingTxID chainhash.Hash
	// FundingOutputIndex is the funding output's index in that transaction.
	FundingOutputIndex uint16
	// Signature is the sender's signature of the receiver's first commitment transaction.
	Signature Sig
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgFundingCreated.
func (m *FundingCreated) MsgType() MessageType { return MsgFundingCreated }

// FundingOutPoint returns the funding outpoint (FundingTxID:FundingOutputIndex).
func (m *FundingCreated) FundingOutPoint() wire.OutPoint {
	return wire.OutPoint{Hash: m.FundingTxID, Index: uint32(m.FundingOutputIndex)}
}

// AppendPayload appends the payload encoding.
func (m *FundingCreated) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.TemporaryChannelID[:]...)
	b = append(b, m.FundingTxID[:]...)
	b = appendU16(b, m.FundingOutputIndex)
	b = append(b, m.Signature[:]...)
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *FundingCreated) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out FundingCreated
	out.TemporaryChannelID = r.channelID("temporary_channel_id")
	out.FundingTxID = r.hash("funding_txid")
	out.FundingOutputIndex = r.u16("funding_output_index")
	out.Signature = r.sig("signature")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// FundingSigned is the `funding_signed` message (type 35, BOLT 2, "The funding_signed Message").
type FundingSigned struct {
	ChannelID ChannelID
	// Signature is the sender's signature of the receiver's first commitment transaction.
	Signature Sig
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgFundingSigned.
func (m *FundingSigned) MsgType() MessageType { return MsgFundingSigned }

// AppendPayload appends the payload encoding.
func (m *FundingSigned) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = append(b, m.Signature[:]...)
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *FundingSigned) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out FundingSigned
	out.ChannelID = r.channelID("channel_id")
	out.Signature = r.sig("signature")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// ChannelReadyTLVShortChannelID is the `short_channel_id` (alias) TLV type of `channel_ready_tlvs`.
const ChannelReadyTLVShortChannelID uint64 = 1

// ChannelReady is the `channel_ready` message (type 36, formerly funding_locked; BOLT 2, "The
// channel_ready Message").
type ChannelReady struct {
	ChannelID ChannelID
	// SecondPerCommitmentPoint is the per-commitment point for commitment number 1.
	SecondPerCommitmentPoint *btcec.PublicKey
	// Alias is the `short_channel_id` TLV (type 1): an scid alias for this channel. Nil: absent.
	Alias *ShortChannelID
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream
}

// MsgType returns MsgChannelReady.
func (m *ChannelReady) MsgType() MessageType { return MsgChannelReady }

// AppendPayload appends the payload encoding.
func (m *ChannelReady) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b, err := appendPoint(b, "second_per_commitment_point", m.SecondPerCommitmentPoint)
	if err != nil {
		return nil, err
	}
	var own TLVStream
	if m.Alias != nil {
		own = append(own, TLVRecord{Type: ChannelReadyTLVShortChannelID, Value: appendU64(nil, m.Alias.ToUint64())})
	}
	return appendExtension(b, own, m.ExtraTLVs, ChannelReadyTLVShortChannelID)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *ChannelReady) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out ChannelReady
	out.ChannelID = r.channelID("channel_id")
	out.SecondPerCommitmentPoint = r.point("second_per_commitment_point")
	if r.err != nil {
		return r.err
	}
	ext, err := decodeExtension(r.rest(), ChannelReadyTLVShortChannelID)
	if err != nil {
		return err
	}
	if v, ok := ext.get(ChannelReadyTLVShortChannelID); ok {
		if len(v) != 8 {
			return fmt.Errorf("short_channel_id: %w: %d bytes, want 8", ErrInvalidTLVValue, len(v))
		}
		scid := (&reader{b: v}).scid("alias")
		out.Alias = &scid
	}
	out.ExtraTLVs = ext.extra
	*m = out
	return nil
}

// Shutdown is the `shutdown` message (type 38, BOLT 2, "Closing Initiation: shutdown").
type Shutdown struct {
	ChannelID ChannelID
	// ScriptPubKey is where the sender wants its closing output paid; at most 65535 bytes. Empty decodes
	// as nil.
	ScriptPubKey []byte
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgShutdown.
func (m *Shutdown) MsgType() MessageType { return MsgShutdown }

// AppendPayload appends the payload encoding.
func (m *Shutdown) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b, err := appendVarBytes(b, "scriptpubkey", m.ScriptPubKey)
	if err != nil {
		return nil, err
	}
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *Shutdown) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out Shutdown
	out.ChannelID = r.channelID("channel_id")
	out.ScriptPubKey = r.varBytes("scriptpubkey")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// ClosingSignedTLVFeeRange is the `fee_range` TLV type of `closing_signed_tlvs`.
const ClosingSignedTLVFeeRange uint64 = 1

// FeeRange is the `fee_range` TLV of `closing_signed`: the fees, in satoshis, the sender accepts.
type FeeRange struct {
	MinFeeSatoshis btcutil.Amount
	MaxFeeSatoshis btcutil.Amount
}

// ClosingSigned is the `closing_signed` message (type 39, BOLT 2, "Closing Negotiation:
// closing_signed").
type ClosingSigned struct {
	ChannelID ChannelID
	// FeeSatoshis is the closing transaction fee the signature commits to, in satoshis.
	FeeSatoshis btcutil.Amount
	// Signature signs the closing transaction.
	Signature Sig
	// FeeRange is the `fee_range` TLV (type 1). Nil: absent.
	FeeRange *FeeRange
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream
}

// MsgType returns MsgClosingSigned.
func (m *ClosingSigned) MsgType() MessageType { return MsgClosingSigned }

// AppendPayload appends the payload encoding.
func (m *ClosingSigned) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b, err := appendSat(b, "fee_satoshis", m.FeeSatoshis)
	if err != nil {
		return nil, err
	}
	b = append(b, m.Signature[:]...)
	var own TLVStream
	if m.FeeRange != nil {
		v, err := appendSat(nil, "min_fee_satoshis", m.FeeRange.MinFeeSatoshis)
		if err != nil {
			return nil, err
		}
		if v, err = appendSat(v, "max_fee_satoshis", m.FeeRange.MaxFeeSatoshis); err != nil {
			return nil, err
		}
		own = append(own, TLVRecord{Type: ClosingSignedTLVFeeRange, Value: v})
	}
	return appendExtension(b, own, m.ExtraTLVs, ClosingSignedTLVFeeRange)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *ClosingSigned) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out ClosingSigned
	out.ChannelID = r.channelID("channel_id")
	out.FeeSatoshis = r.sat("fee_satoshis")
	out.Signature = r.sig("signature")
	if r.err != nil {
		return r.err
	}
	ext, err := decodeExtension(r.rest(), ClosingSignedTLVFeeRange)
	if err != nil {
		return err
	}
	if v, ok := ext.get(ClosingSignedTLVFeeRange); ok {
		if len(v) != 16 {
			return fmt.Errorf("fee_range: %w: %d bytes, want 16", ErrInvalidTLVValue, len(v))
		}
		vr := &reader{b: v}
		fr := FeeRange{MinFeeSatoshis: vr.sat("min_fee_satoshis"), MaxFeeSatoshis: vr.sat("max_fee_satoshis")}
		if vr.err != nil {
			return fmt.Errorf("fee_range: %w: %w", ErrInvalidTLVValue, vr.err)
		}
		out.FeeRange = &fr
	}
	out.ExtraTLVs = ext.extra
	*m = out
	return nil
}
