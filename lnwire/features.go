package lnwire

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// FeatureBit is the number of one bit of a feature bitfield, counted from the least-significant bit of the
// last byte (BOLT 9). Features come in pairs: the even bit means "required", the odd bit "optional"
// (BOLT 1, "it's OK to be odd").
type FeatureBit uint32

// The feature bits of BOLT 9, "Assigned Feature Flags".
const (
	DataLossProtectRequired       FeatureBit = 0
	DataLossProtectOptional       FeatureBit = 1
	InitialRoutingSyncOptional    FeatureBit = 3
	UpfrontShutdownScriptRequired FeatureBit = 4
	UpfrontShutdownScriptOptional FeatureBit = 5
	GossipQueriesRequired         FeatureBit = 6
	GossipQueriesOptional         FeatureBit = 7
	VarOnionOptinRequired         FeatureBit = 8
	VarOnionOptinOptional         FeatureBit = 9
	GossipQueriesExRequired       FeatureBit = 10
	GossipQueriesExOptional       FeatureBit = 11
	StaticRemoteKeyRequired       FeatureBit = 12
	StaticRemoteKeyOptional       FeatureBit = 13
	PaymentSecretRequired         FeatureBit = 14
	PaymentSecretOptional         FeatureBit = 15
	BasicMPPRequired              FeatureBit = 16
	BasicMPPOptional              FeatureBit = 17
	LargeChannelsRequired         FeatureBit = 18
	LargeChannelsOptional         FeatureBit = 19
	AnchorsZeroFeeHTLCTxRequired  FeatureBit = 22
	AnchorsZeroFeeHTLCTxOptional  FeatureBit = 23
	RouteBlindingRequired         FeatureBit = 24
	RouteBlindingOptional         FeatureBit = 25
	ShutdownAnySegwitRequired     FeatureBit = 26
	ShutdownAnySegwitOptional     FeatureBit = 27
	DualFundRequired              FeatureBit = 28
	DualFundOptional              FeatureBit = 29
	QuiescenceRequired            FeatureBit = 34
	QuiescenceOptional            FeatureBit = 35
	OnionMessagesRequired         FeatureBit = 38
	OnionMessagesOptional         FeatureBit = 39
	ChannelTypeRequired           FeatureBit = 44
	ChannelTypeOptional           FeatureBit = 45
	SCIDAliasRequired             FeatureBit = 46
	SCIDAliasOptional             FeatureBit = 47
	PaymentMetadataRequired       FeatureBit = 48
	PaymentMetadataOptional       FeatureBit = 49
	ZeroConfRequired              FeatureBit = 50
	ZeroConfOptional              FeatureBit = 51
)

// MaxFeatureBit is the highest bit a feature vector can hold: a u16-length field of 65535 bytes.
const MaxFeatureBit FeatureBit = 65535*8 - 1

// featureNames maps the required (even) bit of each known pair to the spec's name.
var featureNames = map[FeatureBit]string{
	DataLossProtectRequired:       "option_data_loss_protect",
	2:                             "initial_routing_sync",
	UpfrontShutdownScriptRequired: "option_upfront_shutdown_script",
	GossipQueriesRequired:         "gossip_queries",
	VarOnionOptinRequired:         "var_onion_optin",
	GossipQueriesExRequired:       "gossip_queries_ex",
	StaticRemoteKeyRequired:       "option_static_remotekey",
	PaymentSecretRequired:         "payment_secret",
	BasicMPPRequired:              "basic_mpp",
	LargeChannelsRequired:         "option_support_large_channel",
	AnchorsZeroFeeHTLCTxRequired:  "option_anchors",
	RouteBlindingRequired:         "option_route_blinding",
	ShutdownAnySegwitRequired:     "option_shutdown_anysegwit",
	DualFundRequired:              "option_dual_fund",
	QuiescenceRequired:            "option_quiesce",
	OnionMessagesRequired:         "option_onion_messages",
	ChannelTypeRequired:           "option_channel_type",
	SCIDAliasRequired:             "option_scid_alias",
	PaymentMetadataRequired:       "option_payment_metadata",
	ZeroConfRequired:              "option_zeroconf",
}

// featureDependencies lists, per feature pair (by its even bit), the pairs it depends on (BOLT 9,
// "Dependencies" column).
var featureDependencies = map[FeatureBit][]FeatureBit{
	GossipQueriesExRequired: {GossipQueriesRequired},
	PaymentSecretRequired:   {VarOnionOptinRequired},
	BasicMPPRequired:        {PaymentSecretRequired},
	ZeroConfRequired:        {SCIDAliasRequired},
}

// IsRequired reports whether b is the even ("required") bit of its pair.
func (b FeatureBit) IsRequired() bool { return b%2 == 0 }

// Required returns the even bit of b's pair.
func (b FeatureBit) Required() FeatureBit { return b &^ 1 }

// Optional returns the odd bit of b's pair.
func (b FeatureBit) Optional() FeatureBit { return b | 1 }

// Name returns the BOLT 9 name of b's pair, or "" if this package does not know it.
func (b FeatureBit) Name() string { return featureNames[b.Required()] }

// String returns e.g. "option_static_remotekey(12)" or "unknown(100)".
func (b FeatureBit) String() string {
	if n := b.Name(); n != "" {
		return fmt.Sprintf("%s(%d)", n, uint32(b))
	}
	return fmt.Sprintf("unknown(%d)", uint32(b))
}

// ErrMissingFeatureDependency is returned by FeatureVector.CheckDependencies.
var ErrMissingFeatureDependency = errors.New("lnwire: feature set without its dependency")

// FeatureVector is a feature bitfield (BOLT 9) as carried in `init`, `channel_type` and elsewhere. Its
// encoding is big-endian: bit 0 is the least-significant bit of the last byte.
//
// A vector built with NewFeatureVector, Set and Unset always has the minimal length. A vector decoded with
// DecodeFeatureVector keeps the length it was received with (a peer may pad with zero bytes) until it is
// modified, so that messages re-encode byte for byte; Encode always returns the minimal form.
//
// A *FeatureVector is safe for concurrent use. The methods treat a nil *FeatureVector as empty (except
// Set and Unset, which need a vector to modify). Do not copy a FeatureVector by value; use Clone.
type FeatureVector struct {
	mu  sync.RWMutex
	raw []byte // big-endian bitfield as received or as built
}

// NewFeatureVector returns a vector with the given bits set. It panics if a bit exceeds MaxFeatureBit
// (a programming error: such a vector cannot be encoded).
func NewFeatureVector(bits ...FeatureBit) *FeatureVector {
	fv := &FeatureVector{}
	fv.Set(bits...)
	return fv
}

// DecodeFeatureVector returns the vector encoded in b (copied). Any length is accepted, including leading
// zero bytes, which are kept for byte-exact re-encoding of the enclosing message.
func DecodeFeatureVector(b []byte) *FeatureVector {
	return &FeatureVector{raw: append([]byte(nil), b...)}
}

func isSetRaw(raw []byte, bit FeatureBit) bool {
	idx := uint64(bit) / 8
	if idx >= uint64(len(raw)) {
		return false
	}
	return raw[uint64(len(raw))-1-idx]&(1<<(bit%8)) != 0
}

func trimRaw(raw []byte) []byte {
	i := 0
	for i < len(raw) && raw[i] == 0 {
		i++
	}
	return raw[i:]
}

// Set sets the given bits. It panics if a bit exceeds MaxFeatureBit.
func (fv *FeatureVector) Set(bits ...FeatureBit) {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	for _, bit := range bits {
		if bit > MaxFeatureBit {
			panic(fmt.Sprintf("lnwire: feature bit %d exceeds MaxFeatureBit", bit))
		}
		need := int(bit/8) + 1
		if need > len(fv.raw) {
			grown := make([]byte, need)
			copy(grown[need-len(fv.raw):], fv.raw)
			fv.raw = grown
		}
		fv.raw[len(fv.raw)-1-int(bit/8)] |= 1 << (bit % 8)
	}
}

// Unset clears the given bits and drops leading zero bytes.
func (fv *FeatureVector) Unset(bits ...FeatureBit) {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	for _, bit := range bits {
		if isSetRaw(fv.raw, bit) {
			fv.raw[len(fv.raw)-1-int(bit/8)] &^= 1 << (bit % 8)
		}
	}
	fv.raw = trimRaw(fv.raw)
}

// IsSet reports whether bit is set.
func (fv *FeatureVector) IsSet(bit FeatureBit) bool {
	if fv == nil {
		return false
	}
	fv.mu.RLock()
	defer fv.mu.RUnlock()
	return isSetRaw(fv.raw, bit)
}

// Supports reports whether either bit of f's pair is set (the feature is offered, BOLT 1).
func (fv *FeatureVector) Supports(f FeatureBit) bool {
	return fv.IsSet(f.Required()) || fv.IsSet(f.Optional())
}

// Requires reports whether the even (required) bit of f's pair is set.
func (fv *FeatureVector) Requires(f FeatureBit) bool { return fv.IsSet(f.Required()) }

// Bits returns the set bits in increasing order.
func (fv *FeatureVector) Bits() []FeatureBit {
	if fv == nil {
		return nil
	}
	fv.mu.RLock()
	defer fv.mu.RUnlock()
	var out []FeatureBit
	n := len(fv.raw)
	for i := n - 1; i >= 0; i-- {
		c := fv.raw[i]
		for j := 0; j < 8; j++ {
			if c&(1<<j) != 0 {
				out = append(out, FeatureBit((n-1-i)*8+j))
			}
		}
	}
	return out
}

// IsEmpty reports whether no bit is set.
func (fv *FeatureVector) IsEmpty() bool {
	if fv == nil {
		return true
	}
	fv.mu.RLock()
	defer fv.mu.RUnlock()
	return len(trimRaw(fv.raw)) == 0
}

// Encode returns the minimal big-endian encoding (no leading zero bytes; empty for no bits).
func (fv *FeatureVector) Encode() []byte {
	if fv == nil {
		return []byte{}
	}
	fv.mu.RLock()
	defer fv.mu.RUnlock()
	return append([]byte{}, trimRaw(fv.raw)...)
}

// wire returns the bytes to put in a message: as received for a decoded vector, minimal otherwise.
func (fv *FeatureVector) wire() []byte {
	if fv == nil {
		return nil
	}
	fv.mu.RLock()
	defer fv.mu.RUnlock()
	return append([]byte(nil), fv.raw...)
}

// Clone returns an independent copy (keeping the encoded length).
func (fv *FeatureVector) Clone() *FeatureVector {
	return DecodeFeatureVector(fv.wire())
}

// Equal reports whether fv and other have the same bits set (encoded lengths may differ).
func (fv *FeatureVector) Equal(other *FeatureVector) bool {
	a, b := fv.Encode(), other.Encode()
	return string(a) == string(b)
}

// Union returns a new vector with every bit set in fv or in any of others (logical OR). Nil vectors
// count as empty.
func (fv *FeatureVector) Union(others ...*FeatureVector) *FeatureVector {
	all := append([]*FeatureVector{fv}, others...)
	var out []byte
	for _, v := range all {
		raw := trimRaw(v.wire())
		if len(raw) > len(out) {
			grown := make([]byte, len(raw))
			copy(grown[len(raw)-len(out):], out)
			out = grown
		}
		off := len(out) - len(raw)
		for i, c := range raw {
			out[off+i] |= c
		}
	}
	return &FeatureVector{raw: out}
}

// UnknownRequiredFeatures returns the even (required) bits set in fv whose pair is not set in known, in
// increasing order. A node receiving `init` with any such bit must close the connection (BOLT 1). Pass
// as known every feature the local node understands, e.g. its own init features.
func (fv *FeatureVector) UnknownRequiredFeatures(known *FeatureVector) []FeatureBit {
	var out []FeatureBit
	for _, b := range fv.Bits() {
		if b.IsRequired() && !known.Supports(b) {
			out = append(out, b)
		}
	}
	return out
}

// CheckDependencies returns an error wrapping ErrMissingFeatureDependency if a feature is set (either
// bit) while a feature it depends on is not (BOLT 9, "Dependencies"; a node receiving such a vector in
// `init` must close the connection, BOLT 1).
func (fv *FeatureVector) CheckDependencies() error {
	for _, b := range fv.Bits() {
		for _, dep := range featureDependencies[b.Required()] {
			if !fv.Supports(dep) {
				return fmt.Errorf("%w: %v needs %v", ErrMissingFeatureDependency, b, dep)
			}
		}
	}
	return nil
}

// String lists the set bits, e.g. "option_static_remotekey(12),unknown(101)".
func (fv *FeatureVector) String() string {
	bits := fv.Bits()
	s := make([]string, len(bits))
	for i, b := range bits {
		s[i] = b.String()
	}
	return strings.Join(s, ",")
}

// IsNegotiated reports whether feature f is negotiated between a local and a remote feature vector: both
// offered it (either bit), or the local node offered it as required (BOLT 1, "The init Message").
func IsNegotiated(local, remote *FeatureVector, f FeatureBit) bool {
	if local.Requires(f) {
		return true
	}
	return local.Supports(f) && remote.Supports(f)
}

// ErrUnknownChannelType is returned by ChannelTypeFromFeatures for a bitfield that is not one of the
// channel types BOLT 2 defines.
var ErrUnknownChannelType = errors.New("lnwire: unknown channel type")

// ChannelType is one of the channel types defined by BOLT 2 ("Defined Channel Types"), as carried in the
// `channel_type` TLV of `open_channel`/`accept_channel`. The basic types are option_static_remotekey
// (bit 12; the zero ChannelType) and option_anchors with option_static_remotekey (bits 22 and 12); each
// may add option_scid_alias (bit 46) and option_zeroconf (bit 50). Both bits of a channel type are the
// even (required) bits.
type ChannelType struct {
	// Anchors selects option_anchors (zero-fee HTLC transactions, BOLT 3) on top of static_remotekey.
	Anchors bool
	// SCIDAlias adds option_scid_alias: the channel is only used through aliases.
	SCIDAlias bool
	// ZeroConf adds option_zeroconf: the channel is usable before the funding transaction confirms.
	ZeroConf bool
}

// ChannelTypeStaticRemoteKey is the option_static_remotekey channel type (bit 12).
var ChannelTypeStaticRemoteKey = ChannelType{}

// ChannelTypeAnchors is the option_anchors + option_static_remotekey channel type (bits 22 and 12).
var ChannelTypeAnchors = ChannelType{Anchors: true}

// FeatureVector returns the minimal `channel_type` bitfield of ct.
func (ct ChannelType) FeatureVector() *FeatureVector {
	fv := NewFeatureVector(StaticRemoteKeyRequired)
	if ct.Anchors {
		fv.Set(AnchorsZeroFeeHTLCTxRequired)
	}
	if ct.SCIDAlias {
		fv.Set(SCIDAliasRequired)
	}
	if ct.ZeroConf {
		fv.Set(ZeroConfRequired)
	}
	return fv
}

// String returns e.g. "anchors+scid_alias" or "static_remotekey".
func (ct ChannelType) String() string {
	s := "static_remotekey"
	if ct.Anchors {
		s = "anchors"
	}
	if ct.SCIDAlias {
		s += "+scid_alias"
	}
	if ct.ZeroConf {
		s += "+zeroconf"
	}
	return s
}

// ChannelTypeFromFeatures recognises a `channel_type` bitfield. It returns an error wrapping
// ErrUnknownChannelType unless the set bits are exactly those of a defined channel type (static_remotekey
// or anchors+static_remotekey, each optionally with scid_alias and/or zeroconf, all as even bits).
// Leading zero bytes are tolerated; whether to accept them is the caller's choice.
func ChannelTypeFromFeatures(fv *FeatureVector) (ChannelType, error) {
	var ct ChannelType
	sawStatic := false
	for _, b := range fv.Bits() {
		switch b {
		case StaticRemoteKeyRequired:
			sawStatic = true
		case AnchorsZeroFeeHTLCTxRequired:
			ct.Anchors = true
		case SCIDAliasRequired:
			ct.SCIDAlias = true
		case ZeroConfRequired:
			ct.ZeroConf = true
		default:
			return ChannelType{}, fmt.Errorf("%w: bit %v", ErrUnknownChannelType, b)
		}
	}
	if !sawStatic {
		return ChannelType{}, fmt.Errorf("%w: %q lacks option_static_remotekey", ErrUnknownChannelType, fv.String())
	}
	return ct, nil
}
