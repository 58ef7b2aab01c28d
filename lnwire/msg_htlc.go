package lnwire

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// OnionPacketSize is the size of `onion_routing_packet` in `update_add_htlc` (BOLT 2; BOLT 4).
const OnionPacketSize = 1366

// UpdateAddHTLCTLVBlindingPoint is the type of the `update_add_htlc_tlvs` record carrying the route
// blinding point (named `blinding_point`, and in newer spec text `blinded_path`/`path_key`).
const UpdateAddHTLCTLVBlindingPoint uint64 = 0

// UpdateAddHTLC is the `update_add_htlc` message (type 128, BOLT 2, "Adding an HTLC: update_add_htlc").
type UpdateAddHTLC struct {
	ChannelID ChannelID
	// ID is the HTLC id, counting up from 0 per sender and channel.
	ID uint64
	// AmountMsat is the HTLC amount, in millisatoshis.
	AmountMsat uint64
	// PaymentHash is the SHA256 of the payment preimage.
	PaymentHash [32]byte
	// CLTVExpiry is the absolute block height at which the HTLC times out.
	CLTVExpiry uint32
	// OnionRoutingPacket is the BOLT 4 onion (1366 bytes).
	OnionRoutingPacket [OnionPacketSize]byte
	// BlindingPoint is the route-blinding point TLV (type 0; `blinding_point`, renamed `path_key` in the
	// current spec). Nil: absent.
	BlindingPoint *btcec.PublicKey
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream
}

// MsgType returns MsgUpdateAddHTLC.
func (m *UpdateAddHTLC) MsgType() MessageType { return MsgUpdateAddHTLC }

// AppendPayload appends the payload encoding.
func (m *UpdateAddHTLC) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = appendU64(b, m.ID)
	b = appendU64(b, m.AmountMsat)
	b = append(b, m.PaymentHash[:]...)
	b = appendU32(b, m.CLTVExpiry)
	b = append(b, m.OnionRoutingPacket[:]...)
	var own TLVStream
	if m.BlindingPoint != nil {
		own = append(own, TLVRecord{Type: UpdateAddHTLCTLVBlindingPoint, Value: m.BlindingPoint.SerializeCompressed()})
	}
	return appendExtension(b, own, m.ExtraTLVs, UpdateAddHTLCTLVBlindingPoint)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *UpdateAddHTLC) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out UpdateAddHTLC
	out.ChannelID = r.channelID("channel_id")
	out.ID = r.u64("id")
	out.AmountMsat = r.u64("amount_msat")
	out.PaymentHash = r.bytes32("payment_hash")
	out.CLTVExpiry = r.u32("cltv_expiry")
	if v := r.take("onion_routing_packet", OnionPacketSize); v != nil {
		copy(out.OnionRoutingPacket[:], v)
	}
	if r.err != nil {
		return r.err
	}
	ext, err := decodeExtension(r.rest(), UpdateAddHTLCTLVBlindingPoint)
	if err != nil {
		return err
	}
	if v, ok := ext.get(UpdateAddHTLCTLVBlindingPoint); ok {
		pk, err := ParsePoint(v)
		if err != nil {
			return fmt.Errorf("blinding_point: %w: %w", ErrInvalidTLVValue, err)
		}
		out.BlindingPoint = pk
	}
	out.ExtraTLVs = ext.extra
	*m = out
	return nil
}

// UpdateFulfillHTLC is the `update_fulfill_htlc` message (type 130, BOLT 2, "Removing an HTLC").
type UpdateFulfillHTLC struct {
	ChannelID ChannelID
	// ID is the id of the HTLC being settled.
	ID uint64
	// PaymentPreimage is the preimage of the HTLC's payment_hash.
	PaymentPreimage [32]byte
	// ExtraTLVs holds the (odd) extension records, e.g. attribution data, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgUpdateFulfillHTLC.
func (m *UpdateFulfillHTLC) MsgType() MessageType { return MsgUpdateFulfillHTLC }

// AppendPayload appends the payload encoding.
func (m *UpdateFulfillHTLC) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = appendU64(b, m.ID)
	b = append(b, m.PaymentPreimage[:]...)
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *UpdateFulfillHTLC) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out UpdateFulfillHTLC
	out.ChannelID = r.channelID("channel_id")
	out.ID = r.u64("id")
	out.PaymentPreimage = r.bytes32("payment_preimage")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// UpdateFailHTLC is the `update_fail_htlc` message (type 131, BOLT 2, "Removing an HTLC").
type UpdateFailHTLC struct {
	ChannelID ChannelID
	// ID is the id of the HTLC being failed.
	ID uint64
	// Reason is the encrypted BOLT 4 failure onion; at most 65535 bytes. Empty decodes as nil.
	Reason []byte
	// ExtraTLVs holds the (odd) extension records, e.g. attribution data, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgUpdateFailHTLC.
func (m *UpdateFailHTLC) MsgType() MessageType { return MsgUpdateFailHTLC }

// AppendPayload appends the payload encoding.
func (m *UpdateFailHTLC) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = appendU64(b, m.ID)
	b, err := appendVarBytes(b, "reason", m.Reason)
	if err != nil {
		return nil, err
	}
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *UpdateFailHTLC) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out UpdateFailHTLC
	out.ChannelID = r.channelID("channel_id")
	out.ID = r.u64("id")
	out.Reason = r.varBytes("reason")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// UpdateFailMalformedHTLC is the `update_fail_malformed_htlc` message (type 135, BOLT 2, "Removing an
// HTLC").
type UpdateFailMalformedHTLC struct {
	ChannelID ChannelID
	// ID is the id of the HTLC being failed.
	ID uint64
	// SHA256OfOnion is the SHA256 of the onion the sender could not parse.
	SHA256OfOnion [32]byte
	// FailureCode is the BOLT 4 failure code; the BADONION bit (0x8000) must be set.
	FailureCode uint16
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgUpdateFailMalformedHTLC.
func (m *UpdateFailMalformedHTLC) MsgType() MessageType { return MsgUpdateFailMalformedHTLC }

// AppendPayload appends the payload encoding.
func (m *UpdateFailMalformedHTLC) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = appendU64(b, m.ID)
	b = append(b, m.SHA256OfOnion[:]...)
	b = appendU16(b, m.FailureCode)
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *UpdateFailMalformedHTLC) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out UpdateFailMalformedHTLC
	out.ChannelID = r.channelID("channel_id")
	out.ID = r.u64("id")
	out.SHA256OfOnion = r.bytes32("sha256_of_onion")
	out.FailureCode = r.u16("failure_code")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// CommitmentSigned is the `commitment_signed` message (type 132, BOLT 2, "Committing Updates So Far").
type CommitmentSigned struct {
	ChannelID ChannelID
	// Signature signs the receiver's new commitment transaction.
	Signature Sig
	// HTLCSignatures sign the receiver's HTLC transactions, in the commitment's output order (at most
	// 65535; a commitment holds at most 966). Empty decodes as nil.
	HTLCSignatures []Sig
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgCommitmentSigned.
func (m *CommitmentSigned) MsgType() MessageType { return MsgCommitmentSigned }

// AppendPayload appends the payload encoding.
func (m *CommitmentSigned) AppendPayload(b []byte) ([]byte, error) {
	if len(m.HTLCSignatures) > math.MaxUint16 {
		return nil, fmt.Errorf("htlc_signature: %w: %d signatures", ErrFieldTooLong, len(m.HTLCSignatures))
	}
	b = append(b, m.ChannelID[:]...)
	b = append(b, m.Signature[:]...)
	b = appendU16(b, uint16(len(m.HTLCSignatures)))
	for _, s := range m.HTLCSignatures {
		b = append(b, s[:]...)
	}
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *CommitmentSigned) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out CommitmentSigned
	out.ChannelID = r.channelID("channel_id")
	out.Signature = r.sig("signature")
	n := int(r.u16("num_htlcs"))
	// Check the length before allocating, so a forged count cannot make us allocate more than the input.
	raw := r.take("htlc_signature", n*SigSize)
	if r.err != nil {
		return r.err
	}
	if n > 0 {
		out.HTLCSignatures = make([]Sig, n)
		for i := range out.HTLCSignatures {
			copy(out.HTLCSignatures[i][:], raw[i*SigSize:])
		}
	}
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// RevokeAndAck is the `revoke_and_ack` message (type 133, BOLT 2, "Completing the Transition to the
// Updated State").
type RevokeAndAck struct {
	ChannelID ChannelID
	// PerCommitmentSecret is the secret of the commitment being revoked (BOLT 3).
	PerCommitmentSecret [32]byte
	// NextPerCommitmentPoint is the point for the sender's commitment after next.
	NextPerCommitmentPoint *btcec.PublicKey
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgRevokeAndAck.
func (m *RevokeAndAck) MsgType() MessageType { return MsgRevokeAndAck }

// AppendPayload appends the payload encoding.
func (m *RevokeAndAck) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = append(b, m.PerCommitmentSecret[:]...)
	b, err := appendPoint(b, "next_per_commitment_point", m.NextPerCommitmentPoint)
	if err != nil {
		return nil, err
	}
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *RevokeAndAck) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out RevokeAndAck
	out.ChannelID = r.channelID("channel_id")
	out.PerCommitmentSecret = r.bytes32("per_commitment_secret")
	out.NextPerCommitmentPoint = r.point("next_per_commitment_point")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// UpdateFee is the `update_fee` message (type 134, BOLT 2, "Updating Fees: update_fee").
type UpdateFee struct {
	ChannelID ChannelID
	// FeeratePerKw is the new commitment feerate, in satoshis per 1000 weight units.
	FeeratePerKw uint32
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgUpdateFee.
func (m *UpdateFee) MsgType() MessageType { return MsgUpdateFee }

// AppendPayload appends the payload encoding.
func (m *UpdateFee) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = appendU32(b, m.FeeratePerKw)
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *UpdateFee) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out UpdateFee
	out.ChannelID = r.channelID("channel_id")
	out.FeeratePerKw = r.u32("feerate_per_kw")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// ChannelReestablishTLVNextFunding is the `next_funding` TLV type of `channel_reestablish_tlvs`.
const ChannelReestablishTLVNextFunding uint64 = 0

// ChannelReestablish is the `channel_reestablish` message (type 136, BOLT 2, "Message Retransmission").
type ChannelReestablish struct {
	ChannelID ChannelID
	// NextCommitmentNumber is the commitment number of the next commitment_signed the sender expects.
	NextCommitmentNumber uint64
	// NextRevocationNumber is the commitment number of the next revoke_and_ack the sender expects.
	NextRevocationNumber uint64
	// YourLastPerCommitmentSecret is the last per-commitment secret received from the peer (zeros if
	// none), letting the peer detect that it lost data.
	YourLastPerCommitmentSecret [32]byte
	// MyCurrentPerCommitmentPoint is the sender's per-commitment point of its current commitment.
	MyCurrentPerCommitmentPoint *btcec.PublicKey
	// NextFunding is the raw value of the `next_funding` TLV (type 0; it starts with the 32-byte
	// `next_funding_txid`, see NextFundingTxID). Nil: absent.
	NextFunding []byte
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream
}

// MsgType returns MsgChannelReestablish.
func (m *ChannelReestablish) MsgType() MessageType { return MsgChannelReestablish }

// NextFundingTxID returns the `next_funding_txid` at the start of the next_funding TLV, if the record is
// present and at least 32 bytes long.
func (m *ChannelReestablish) NextFundingTxID() (chainhash.Hash, bool) {
	if len(m.NextFunding) < chainhash.HashSize {
		return chainhash.Hash{}, false
	}
	return chainhash.Hash(m.NextFunding[:chainhash.HashSize]), true
}

// AppendPayload appends the payload encoding.
func (m *ChannelReestablish) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = appendU64(b, m.NextCommitmentNumber)
	b = appendU64(b, m.NextRevocationNumber)
	b = append(b, m.YourLastPerCommitmentSecret[:]...)
	b, err := appendPoint(b, "my_current_per_commitment_point", m.MyCurrentPerCommitmentPoint)
	if err != nil {
		return nil, err
	}
	var own TLVStream
	if m.NextFunding != nil {
		own = append(own, TLVRecord{Type: ChannelReestablishTLVNextFunding, Value: m.NextFunding})
	}
	return appendExtension(b, own, m.ExtraTLVs, ChannelReestablishTLVNextFunding)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *ChannelReestablish) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out ChannelReestablish
	out.ChannelID = r.channelID("channel_id")
	out.NextCommitmentNumber = r.u64("next_commitment_number")
	out.NextRevocationNumber = r.u64("next_revocation_number")
	out.YourLastPerCommitmentSecret = r.bytes32("your_last_per_commitment_secret")
	out.MyCurrentPerCommitmentPoint = r.point("my_current_per_commitment_point")
	if r.err != nil {
		return r.err
	}
	ext, err := decodeExtension(r.rest(), ChannelReestablishTLVNextFunding)
	if err != nil {
		return err
	}
	if v, ok := ext.get(ChannelReestablishTLVNextFunding); ok {
		out.NextFunding = append([]byte{}, v...)
	}
	out.ExtraTLVs = ext.extra
	*m = out
	return nil
}
