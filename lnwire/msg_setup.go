package lnwire

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// TLV types of `init_tlvs` (BOLT 1, "The init Message").
const (
	InitTLVNetworks   uint64 = 1
	InitTLVRemoteAddr uint64 = 3
)

// Init is the `init` message (type 16, BOLT 1, "The init Message"), the first message on a connection.
//
// In this package a nil slice field backed by a TLV record means the record is absent, and a non-nil
// empty slice means the record is present with an empty value.
type Init struct {
	// GlobalFeatures is the legacy `globalfeatures` bitfield; receivers OR it into Features (see
	// CombinedFeatures). Nil encodes as empty.
	GlobalFeatures *FeatureVector
	// Features is the `features` bitfield (BOLT 9). Nil encodes as empty.
	Features *FeatureVector
	// Networks is the `networks` TLV (type 1): the chains the node is interested in. Nil: absent.
	Networks []chainhash.Hash
	// RemoteAddr is the raw `remote_addr` TLV (type 3): a BOLT 7 address descriptor of the receiver as
	// seen by the sender. Nil: absent.
	RemoteAddr []byte
	// ExtraTLVs holds the extension records this package does not interpret (odd types only when
	// decoded), e.g. `option_will_fund` (type 5). They are re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgInit.
func (m *Init) MsgType() MessageType { return MsgInit }

// CombinedFeatures returns the logical OR of GlobalFeatures and Features, the feature set a receiver acts
// on (BOLT 1).
func (m *Init) CombinedFeatures() *FeatureVector { return m.Features.Union(m.GlobalFeatures) }

// AppendPayload appends the payload encoding.
func (m *Init) AppendPayload(b []byte) ([]byte, error) {
	var err error
	if b, err = appendVarBytes(b, "globalfeatures", m.GlobalFeatures.wire()); err != nil {
		return nil, err
	}
	if b, err = appendVarBytes(b, "features", m.Features.wire()); err != nil {
		return nil, err
	}
	var own TLVStream
	if m.Networks != nil {
		v := make([]byte, 0, len(m.Networks)*chainhash.HashSize)
		for _, h := range m.Networks {
			v = append(v, h[:]...)
		}
		own = append(own, TLVRecord{Type: InitTLVNetworks, Value: v})
	}
	if m.RemoteAddr != nil {
		own = append(own, TLVRecord{Type: InitTLVRemoteAddr, Value: m.RemoteAddr})
	}
	return appendExtension(b, own, m.ExtraTLVs, InitTLVNetworks, InitTLVRemoteAddr)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *Init) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	gf := r.varBytes("globalfeatures")
	f := r.varBytes("features")
	if r.err != nil {
		return r.err
	}
	ext, err := decodeExtension(r.rest(), InitTLVNetworks, InitTLVRemoteAddr)
	if err != nil {
		return err
	}
	out := Init{
		GlobalFeatures: DecodeFeatureVector(gf),
		Features:       DecodeFeatureVector(f),
		ExtraTLVs:      ext.extra,
	}
	if v, ok := ext.get(InitTLVNetworks); ok {
		if len(v)%chainhash.HashSize != 0 {
			return fmt.Errorf("networks: %w: %d bytes is not a multiple of 32", ErrInvalidTLVValue, len(v))
		}
		out.Networks = make([]chainhash.Hash, len(v)/chainhash.HashSize)
		for i := range out.Networks {
			copy(out.Networks[i][:], v[i*chainhash.HashSize:])
		}
	}
	if v, ok := ext.get(InitTLVRemoteAddr); ok {
		out.RemoteAddr = append([]byte{}, v...)
	}
	*m = out
	return nil
}

// Error is the `error` message (type 17, BOLT 1, "The error and warning Messages"). The all-zero
// ChannelID refers to all channels with the peer.
type Error struct {
	ChannelID ChannelID
	// Data is free-form diagnostic data, often ASCII text; at most 65535 bytes. Empty decodes as nil.
	Data []byte
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgError.
func (m *Error) MsgType() MessageType { return MsgError }

// AppendPayload appends the payload encoding.
func (m *Error) AppendPayload(b []byte) ([]byte, error) {
	return appendErrorPayload(b, m.ChannelID, m.Data, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *Error) DecodePayload(payload []byte) error {
	id, data, extra, err := decodeErrorPayload(payload)
	if err != nil {
		return err
	}
	*m = Error{ChannelID: id, Data: data, ExtraTLVs: extra}
	return nil
}

// String renders the error for logs, quoting Data so non-printable bytes are escaped (BOLT 1: a
// receiver should not print data verbatim unless it is printable ASCII).
func (m *Error) String() string { return describeErrorData("error", m.ChannelID, m.Data) }

// Warning is the `warning` message (type 1, BOLT 1, "The error and warning Messages"). The all-zero
// ChannelID means the warning is not about a specific channel.
type Warning struct {
	ChannelID ChannelID
	// Data is free-form diagnostic data, often ASCII text; at most 65535 bytes. Empty decodes as nil.
	Data []byte
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgWarning.
func (m *Warning) MsgType() MessageType { return MsgWarning }

// AppendPayload appends the payload encoding.
func (m *Warning) AppendPayload(b []byte) ([]byte, error) {
	return appendErrorPayload(b, m.ChannelID, m.Data, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *Warning) DecodePayload(payload []byte) error {
	id, data, extra, err := decodeErrorPayload(payload)
	if err != nil {
		return err
	}
	*m = Warning{ChannelID: id, Data: data, ExtraTLVs: extra}
	return nil
}

// String renders the warning for logs, quoting Data.
func (m *Warning) String() string { return describeErrorData("warning", m.ChannelID, m.Data) }

func appendErrorPayload(b []byte, id ChannelID, data []byte, extra TLVStream) ([]byte, error) {
	b = append(b, id[:]...)
	b, err := appendVarBytes(b, "data", data)
	if err != nil {
		return nil, err
	}
	return appendExtension(b, nil, extra)
}

func decodeErrorPayload(payload []byte) (ChannelID, []byte, TLVStream, error) {
	r := &reader{b: payload}
	id := r.channelID("channel_id")
	data := r.varBytes("data")
	extra, err := r.extraOnly()
	if err != nil {
		return ChannelID{}, nil, nil, err
	}
	return id, data, extra, nil
}

func describeErrorData(kind string, id ChannelID, data []byte) string {
	var sb strings.Builder
	sb.WriteString(kind)
	if id.IsZero() {
		sb.WriteString(" (all channels): ")
	} else {
		sb.WriteString(" (channel " + id.String() + "): ")
	}
	sb.WriteString(strconv.QuoteToASCII(string(data)))
	return sb.String()
}

// MaxPongBytes is the largest num_pong_bytes a node answers; a ping asking for more (65532 or above) must
// be ignored (BOLT 1, "The ping and pong Messages").
const MaxPongBytes = 65531

// Ping is the `ping` message (type 18, BOLT 1, "The ping and pong Messages").
type Ping struct {
	// NumPongBytes is how many `ignored` bytes the pong must carry; at or above 65532 no pong is due.
	NumPongBytes uint16
	// Ignored is padding (its length is `byteslen`), which should be zeros. Empty decodes as nil.
	Ignored []byte
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgPing.
func (m *Ping) MsgType() MessageType { return MsgPing }

// AppendPayload appends the payload encoding.
func (m *Ping) AppendPayload(b []byte) ([]byte, error) {
	b = appendU16(b, m.NumPongBytes)
	b, err := appendVarBytes(b, "ignored", m.Ignored)
	if err != nil {
		return nil, err
	}
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *Ping) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	n := r.u16("num_pong_bytes")
	ign := r.varBytes("ignored")
	extra, err := r.extraOnly()
	if err != nil {
		return err
	}
	*m = Ping{NumPongBytes: n, Ignored: ign, ExtraTLVs: extra}
	return nil
}

// Pong is the `pong` message (type 19, BOLT 1, "The ping and pong Messages").
type Pong struct {
	// Ignored is padding whose length (`byteslen`) must equal the ping's num_pong_bytes. Empty decodes
	// as nil.
	Ignored []byte
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgPong.
func (m *Pong) MsgType() MessageType { return MsgPong }

// AppendPayload appends the payload encoding.
func (m *Pong) AppendPayload(b []byte) ([]byte, error) {
	b, err := appendVarBytes(b, "ignored", m.Ignored)
	if err != nil {
		return nil, err
	}
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *Pong) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	ign := r.varBytes("ignored")
	extra, err := r.extraOnly()
	if err != nil {
		return err
	}
	*m = Pong{Ignored: ign, ExtraTLVs: extra}
	return nil
}
