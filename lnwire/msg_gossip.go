package lnwire

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// The signed gossip messages.
//
// channel_announcement and channel_update have no TLV stream of their own in BOLT 7, and their
// signatures cover "any future fields appended to the end". Their trailing bytes are therefore kept raw
// in ExtraData, not parsed: BOLT 1 lets a receiver ignore a message's extension, and a relaying node
// must pass on exactly the bytes that were signed (on mainnet a channel_update has been seen whose
// trailing bytes are not a valid TLV stream). Extension parses them as a TLV stream when the caller
// wants to read records such as lnd's inbound fee (type 55555). node_announcement does define a TLV
// stream (node_announcement_tlvs), which is decoded strictly like the extension of every other message.

// AnnouncementSignatures is the `announcement_signatures` message (type 259, BOLT 7, "The
// announcement_signatures Message"): sent directly to the channel peer, it carries the sender's two
// signatures of the channel_announcement.
type AnnouncementSignatures struct {
	ChannelID ChannelID
	// ShortChannelID is the funding output's short_channel_id.
	ShortChannelID ShortChannelID
	// NodeSignature signs the channel_announcement's double-SHA256 with the sender's node key.
	NodeSignature Sig
	// BitcoinSignature signs it with the sender's funding key.
	BitcoinSignature Sig
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgAnnouncementSignatures.
func (m *AnnouncementSignatures) MsgType() MessageType { return MsgAnnouncementSignatures }

// AppendPayload appends the payload encoding.
func (m *AnnouncementSignatures) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChannelID[:]...)
	b = appendU64(b, m.ShortChannelID.ToUint64())
	b = append(b, m.NodeSignature[:]...)
	b = append(b, m.BitcoinSignature[:]...)
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *AnnouncementSignatures) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out AnnouncementSignatures
	out.ChannelID = r.channelID("channel_id")
	out.ShortChannelID = r.scid("short_channel_id")
	out.NodeSignature = r.sig("node_signature")
	out.BitcoinSignature = r.sig("bitcoin_signature")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// ChannelAnnouncement is the `channel_announcement` message (type 256, BOLT 7, "The
// channel_announcement Message"): it ties a channel's funding keys to its two nodes.
type ChannelAnnouncement struct {
	// NodeSignature1 and NodeSignature2 sign the double-SHA256 of DataToSign with node_id_1 and
	// node_id_2.
	NodeSignature1 Sig
	NodeSignature2 Sig
	// BitcoinSignature1 and BitcoinSignature2 sign the same hash with bitcoin_key_1 and bitcoin_key_2.
	BitcoinSignature1 Sig
	BitcoinSignature2 Sig
	// Features is the channel's feature bitfield (BOLT 9). Nil encodes as empty.
	Features *FeatureVector
	// ChainHash identifies the chain of the funding transaction (its genesis block hash).
	ChainHash chainhash.Hash
	// ShortChannelID locates the funding output.
	ShortChannelID ShortChannelID
	// NodeID1 and NodeID2 are the nodes' public keys; NodeID1 is the lexicographically lesser of the two
	// compressed keys.
	NodeID1 *btcec.PublicKey
	NodeID2 *btcec.PublicKey
	// BitcoinKey1 and BitcoinKey2 are the funding public keys of node 1 and node 2.
	BitcoinKey1 *btcec.PublicKey
	BitcoinKey2 *btcec.PublicKey
	// ExtraData is whatever follows bitcoin_key_2, kept raw and covered by the signatures (see the note
	// on the signed gossip messages). Empty decodes as nil.
	ExtraData []byte
}

// MsgType returns MsgChannelAnnouncement.
func (m *ChannelAnnouncement) MsgType() MessageType { return MsgChannelAnnouncement }

// channelAnnouncementSigLen is the length of the four signatures that DataToSign skips.
const channelAnnouncementSigLen = 4 * SigSize

// AppendPayload appends the payload encoding.
func (m *ChannelAnnouncement) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.NodeSignature1[:]...)
	b = append(b, m.NodeSignature2[:]...)
	b = append(b, m.BitcoinSignature1[:]...)
	b = append(b, m.BitcoinSignature2[:]...)
	return m.appendSigned(b)
}

// appendSigned appends the fields after the signatures.
func (m *ChannelAnnouncement) appendSigned(b []byte) ([]byte, error) {
	b, err := appendVarBytes(b, "features", m.Features.wire())
	if err != nil {
		return nil, err
	}
	b = append(b, m.ChainHash[:]...)
	b = appendU64(b, m.ShortChannelID.ToUint64())
	for _, p := range []struct {
		name string
		pk   *btcec.PublicKey
	}{{"node_id_1", m.NodeID1}, {"node_id_2", m.NodeID2}, {"bitcoin_key_1", m.BitcoinKey1}, {"bitcoin_key_2", m.BitcoinKey2}} {
		if b, err = appendPoint(b, p.name, p.pk); err != nil {
			return nil, err
		}
	}
	return append(b, m.ExtraData...), nil
}

// DecodePayload decodes the payload; see DecodeMessage for the errors. Trailing bytes are kept in
// ExtraData without being parsed.
func (m *ChannelAnnouncement) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out ChannelAnnouncement
	out.NodeSignature1 = r.sig("node_signature_1")
	out.NodeSignature2 = r.sig("node_signature_2")
	out.BitcoinSignature1 = r.sig("bitcoin_signature_1")
	out.BitcoinSignature2 = r.sig("bitcoin_signature_2")
	f := r.varBytes("features")
	out.ChainHash = r.hash("chain_hash")
	out.ShortChannelID = r.scid("short_channel_id")
	out.NodeID1 = r.point("node_id_1")
	out.NodeID2 = r.point("node_id_2")
	out.BitcoinKey1 = r.point("bitcoin_key_1")
	out.BitcoinKey2 = r.point("bitcoin_key_2")
	out.ExtraData = nonEmpty(r.rest())
	if r.err != nil {
		return r.err
	}
	out.Features = DecodeFeatureVector(f)
	*m = out
	return nil
}

// DataToSign returns the bytes the four signatures sign (their double-SHA256, that is
// chainhash.DoubleHashB of the result): the message from offset 256 of the payload (after the
// signatures) to its end, ExtraData included. It returns nil if the message does not encode (a nil key,
// or features longer than 65535 bytes); never sign a nil result.
func (m *ChannelAnnouncement) DataToSign() []byte {
	b, err := m.appendSigned(nil)
	if err != nil {
		return nil
	}
	return b
}

// Extension parses ExtraData as a BOLT 1 extension TLV stream. It returns the records (nil if there is
// no extra data) or the TLV framing error, or ErrUnknownEvenType for an even record (this message
// defines none).
func (m *ChannelAnnouncement) Extension() (TLVStream, error) { return parseExtraData(m.ExtraData) }

// NodeAnnouncementTLVOptionWillFund is the `option_will_fund` record (type 1) of
// node_announcement_tlvs (BOLT 7, "Liquidity Ads"). Being odd, it is kept in ExtraTLVs as raw bytes.
const NodeAnnouncementTLVOptionWillFund uint64 = 1

// NodeAnnouncement is the `node_announcement` message (type 257, BOLT 7, "The node_announcement
// Message").
type NodeAnnouncement struct {
	// Signature signs the double-SHA256 of DataToSign with NodeID.
	Signature Sig
	// Features is the node's feature bitfield (BOLT 9). Nil encodes as empty.
	Features *FeatureVector
	// Timestamp orders a node's announcements; usually seconds since the UNIX epoch.
	Timestamp uint32
	// NodeID is the node's public key.
	NodeID *btcec.PublicKey
	// RGBColor is the node's colour: red, green, blue.
	RGBColor [3]byte
	// Alias is the node's name: UTF-8 padded with zero bytes (not checked when decoding). It is chosen by
	// the node; sanitise it before display (BOLT 7, "Security Considerations for Node Aliases").
	Alias [32]byte
	// Addresses are the descriptors of known types, in wire order.
	Addresses []NodeAddress
	// ExcessAddressData is the rest of `addresses` from the first descriptor of an unknown type on (which
	// BOLT 7 tells readers to ignore), kept so the message re-encodes; nil if every descriptor was known.
	// See DecodeNodeAddresses.
	ExcessAddressData []byte
	// ExtraTLVs holds the node_announcement_tlvs records, all odd when decoded, such as option_will_fund
	// (type 1). They are re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgNodeAnnouncement.
func (m *NodeAnnouncement) MsgType() MessageType { return MsgNodeAnnouncement }

// AppendPayload appends the payload encoding.
func (m *NodeAnnouncement) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.Signature[:]...)
	return m.appendSigned(b)
}

func (m *NodeAnnouncement) appendSigned(b []byte) ([]byte, error) {
	b, err := appendVarBytes(b, "features", m.Features.wire())
	if err != nil {
		return nil, err
	}
	b = appendU32(b, m.Timestamp)
	if b, err = appendPoint(b, "node_id", m.NodeID); err != nil {
		return nil, err
	}
	b = append(b, m.RGBColor[:]...)
	b = append(b, m.Alias[:]...)
	addrs, err := AppendNodeAddresses(nil, m.Addresses, m.ExcessAddressData)
	if err != nil {
		return nil, fmt.Errorf("addresses: %w", err)
	}
	if b, err = appendVarBytes(b, "addresses", addrs); err != nil {
		return nil, err
	}
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors, and ErrInvalidAddress for a
// truncated address descriptor.
func (m *NodeAnnouncement) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out NodeAnnouncement
	out.Signature = r.sig("signature")
	f := r.varBytes("features")
	out.Timestamp = r.u32("timestamp")
	out.NodeID = r.point("node_id")
	if v := r.take("rgb_color", 3); v != nil {
		copy(out.RGBColor[:], v)
	}
	out.Alias = r.bytes32("alias")
	addrs := r.varBytes("addresses")
	if r.err != nil {
		return r.err
	}
	var err error
	if out.Addresses, out.ExcessAddressData, err = DecodeNodeAddresses(addrs); err != nil {
		return fmt.Errorf("addresses: %w", err)
	}
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	out.Features = DecodeFeatureVector(f)
	*m = out
	return nil
}

// DataToSign returns the bytes Signature signs (their double-SHA256): the whole payload after the
// signature, extension included. It returns nil if the message does not encode; never sign a nil
// result.
func (m *NodeAnnouncement) DataToSign() []byte {
	b, err := m.appendSigned(nil)
	if err != nil {
		return nil
	}
	return b
}

// AliasString returns Alias without its trailing zero bytes. The text is as the node sent it: possibly
// invalid UTF-8, and never safe to interpret as markup.
func (m *NodeAnnouncement) AliasString() string {
	return string(bytes.TrimRight(m.Alias[:], "\x00"))
}

// Bits of channel_update's `message_flags` and `channel_flags` (BOLT 7, "The channel_update Message").
const (
	// ChanUpdateMsgFlagMustBeOne (message_flags bit 0) once told that htlc_maximum_msat was present. It
	// is now always present: senders set this bit to 1 and receivers ignore it.
	ChanUpdateMsgFlagMustBeOne uint8 = 1 << 0
	// ChanUpdateMsgFlagDontForward (message_flags bit 1) marks an update meant only for the channel
	// peer, e.g. for an unannounced channel; it must not be relayed.
	ChanUpdateMsgFlagDontForward uint8 = 1 << 1
	// ChanUpdateChanFlagDirection (channel_flags bit 0) is 0 when the update comes from node_id_1 and 1
	// when it comes from node_id_2.
	ChanUpdateChanFlagDirection uint8 = 1 << 0
	// ChanUpdateChanFlagDisable (channel_flags bit 1) marks the channel as unusable for now in the
	// sender's direction.
	ChanUpdateChanFlagDisable uint8 = 1 << 1
)

// ChannelUpdate is the `channel_update` message (type 258, BOLT 7, "The channel_update Message"): one
// end's forwarding parameters for a channel.
//
// BOLT 7 now requires htlc_maximum_msat in every update (message_flags bit 0 is "must_be_one" and
// ignored), so it is always decoded; an old update without it fails with ErrShortRead.
type ChannelUpdate struct {
	// Signature signs the double-SHA256 of DataToSign with the sender's node key (node_id_1 if the
	// direction bit is 0, node_id_2 otherwise).
	Signature Sig
	// ChainHash identifies the chain (its genesis block hash).
	ChainHash chainhash.Hash
	// ShortChannelID is the channel's short_channel_id (or, for an update sent only to the peer of an
	// unannounced channel, an alias).
	ShortChannelID ShortChannelID
	// Timestamp orders the updates of one end of a channel; usually seconds since the UNIX epoch.
	Timestamp uint32
	// MessageFlags: ChanUpdateMsgFlagMustBeOne, ChanUpdateMsgFlagDontForward; unassigned bits are kept.
	MessageFlags uint8
	// ChannelFlags: ChanUpdateChanFlagDirection, ChanUpdateChanFlagDisable; unassigned bits are kept.
	ChannelFlags uint8
	// CLTVExpiryDelta is the number of blocks the sender subtracts from an incoming HTLC's cltv_expiry.
	CLTVExpiryDelta uint16
	// HTLCMinimumMsat is the smallest HTLC the sender forwards, in millisatoshis.
	HTLCMinimumMsat uint64
	// FeeBaseMsat is the sender's base fee per forwarded HTLC, in millisatoshis.
	FeeBaseMsat uint32
	// FeeProportionalMillionths is the sender's proportional fee, in millionths of the forwarded amount.
	FeeProportionalMillionths uint32
	// HTLCMaximumMsat is the largest HTLC the sender forwards, in millisatoshis.
	HTLCMaximumMsat uint64
	// ExtraData is whatever follows htlc_maximum_msat, kept raw and covered by the signature, e.g. lnd's
	// inbound fee record (see the note on the signed gossip messages). Empty decodes as nil.
	ExtraData []byte
}

// MsgType returns MsgChannelUpdate.
func (m *ChannelUpdate) MsgType() MessageType { return MsgChannelUpdate }

// Direction returns the direction bit of ChannelFlags: 0 if the update comes from node_id_1 (and
// describes forwarding from node 1 to node 2), 1 if it comes from node_id_2.
func (m *ChannelUpdate) Direction() uint8 { return m.ChannelFlags & ChanUpdateChanFlagDirection }

// IsDisabled reports whether the disable bit of ChannelFlags is set.
func (m *ChannelUpdate) IsDisabled() bool { return m.ChannelFlags&ChanUpdateChanFlagDisable != 0 }

// DontForward reports whether the dont_forward bit of MessageFlags is set.
func (m *ChannelUpdate) DontForward() bool { return m.MessageFlags&ChanUpdateMsgFlagDontForward != 0 }

// AppendPayload appends the payload encoding.
func (m *ChannelUpdate) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.Signature[:]...)
	return m.appendSigned(b), nil
}

func (m *ChannelUpdate) appendSigned(b []byte) []byte {
	b = append(b, m.ChainHash[:]...)
	b = appendU64(b, m.ShortChannelID.ToUint64())
	b = appendU32(b, m.Timestamp)
	b = append(b, m.MessageFlags, m.ChannelFlags)
	b = appendU16(b, m.CLTVExpiryDelta)
	b = appendU64(b, m.HTLCMinimumMsat)
	b = appendU32(b, m.FeeBaseMsat)
	b = appendU32(b, m.FeeProportionalMillionths)
	b = appendU64(b, m.HTLCMaximumMsat)
	return append(b, m.ExtraData...)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors. Trailing bytes are kept in
// ExtraData without being parsed.
func (m *ChannelUpdate) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out ChannelUpdate
	out.Signature = r.sig("signature")
	out.ChainHash = r.hash("chain_hash")
	out.ShortChannelID = r.scid("short_channel_id")
	out.Timestamp = r.u32("timestamp")
	out.MessageFlags = r.u8("message_flags")
	out.ChannelFlags = r.u8("channel_flags")
	out.CLTVExpiryDelta = r.u16("cltv_expiry_delta")
	out.HTLCMinimumMsat = r.u64("htlc_minimum_msat")
	out.FeeBaseMsat = r.u32("fee_base_msat")
	out.FeeProportionalMillionths = r.u32("fee_proportional_millionths")
	out.HTLCMaximumMsat = r.u64("htlc_maximum_msat")
	out.ExtraData = nonEmpty(r.rest())
	if r.err != nil {
		return r.err
	}
	*m = out
	return nil
}

// DataToSign returns the bytes Signature signs (their double-SHA256): the whole payload after the
// signature, ExtraData included.
func (m *ChannelUpdate) DataToSign() []byte { return m.appendSigned(nil) }

// Extension parses ExtraData as a BOLT 1 extension TLV stream; see ChannelAnnouncement.Extension.
func (m *ChannelUpdate) Extension() (TLVStream, error) { return parseExtraData(m.ExtraData) }

func parseExtraData(b []byte) (TLVStream, error) {
	ext, err := decodeExtension(b)
	if err != nil {
		return nil, err
	}
	return ext.extra, nil
}

// nonEmpty returns b, or nil if it is empty.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
