package lnwire

import (
	"math/rand"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFeatureVectorEncoding checks bit numbering (bit 0 is the least-significant bit of the last byte,
// BOLT 9) against an independent big.Int-free model: a set of bits rendered byte by byte.
func TestFeatureVectorEncoding(t *testing.T) {
	require.Equal(t, []byte{}, NewFeatureVector().Encode())
	require.Equal(t, []byte{0x01}, NewFeatureVector(0).Encode())
	require.Equal(t, []byte{0x80}, NewFeatureVector(7).Encode())
	require.Equal(t, []byte{0x01, 0x00}, NewFeatureVector(8).Encode())
	require.Equal(t, []byte{0x02, 0x00}, NewFeatureVector(VarOnionOptinOptional).Encode())

	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 200; i++ {
		set := map[FeatureBit]bool{}
		var bits []FeatureBit
		for j := rng.Intn(12); j > 0; j-- {
			b := FeatureBit(rng.Intn(300))
			set[b] = true
			bits = append(bits, b)
		}
		fv := NewFeatureVector(bits...)
		// Model: length is the byte of the highest bit; byte k from the end holds bits 8k..8k+7.
		var max FeatureBit
		for b := range set {
			if b > max {
				max = b
			}
		}
		want := []byte{}
		if len(set) > 0 {
			want = make([]byte, int(max)/8+1)
			for b := range set {
				want[len(want)-1-int(b)/8] |= 1 << (b % 8)
			}
		}
		require.Equal(t, want, fv.Encode())
		var sorted []FeatureBit
		for b := range set {
			sorted = append(sorted, b)
		}
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		require.Equal(t, sorted, fv.Bits())
		for b := FeatureBit(0); b < 310; b++ {
			require.Equal(t, set[b], fv.IsSet(b))
		}
		require.True(t, DecodeFeatureVector(want).Equal(fv))
		require.Equal(t, len(set) == 0, fv.IsEmpty())
	}
}

func TestFeatureVectorSetUnset(t *testing.T) {
	fv := NewFeatureVector()
	fv.Set(StaticRemoteKeyRequired, AnchorsZeroFeeHTLCTxRequired)
	require.Equal(t, []byte{0x40, 0x10, 0x00}, fv.Encode())
	fv.Unset(AnchorsZeroFeeHTLCTxRequired)
	require.Equal(t, []byte{0x10, 0x00}, fv.Encode())
	require.Equal(t, []byte{0x10, 0x00}, fv.wire(), "unset trims leading zero bytes")
	fv.Unset(100, StaticRemoteKeyRequired)
	require.True(t, fv.IsEmpty())
	require.Equal(t, []byte{}, fv.Encode())

	// Decoded vectors keep their length until modified.
	d := DecodeFeatureVector([]byte{0x00, 0x00, 0x02})
	require.Equal(t, []byte{0x00, 0x00, 0x02}, d.wire())
	require.Equal(t, []byte{0x02}, d.Encode())
	require.Equal(t, []FeatureBit{1}, d.Bits())
	d.Set(9)
	require.Equal(t, []byte{0x00, 0x02, 0x02}, d.wire())
	d.Set(30)
	require.Equal(t, []byte{0x40, 0x00, 0x02, 0x02}, d.wire())
	c := d.Clone()
	c.Unset(30)
	require.True(t, d.IsSet(30))
	require.False(t, c.IsSet(30))

	require.Panics(t, func() { NewFeatureVector(MaxFeatureBit + 1) })
	big := NewFeatureVector(MaxFeatureBit)
	require.Len(t, big.Encode(), 65535)

	var nilFV *FeatureVector
	require.False(t, nilFV.IsSet(0))
	require.True(t, nilFV.IsEmpty())
	require.Empty(t, nilFV.Bits())
	require.Equal(t, []byte{}, nilFV.Encode())
	require.Equal(t, "", nilFV.String())
}

func TestFeatureBitHelpers(t *testing.T) {
	require.True(t, StaticRemoteKeyRequired.IsRequired())
	require.False(t, StaticRemoteKeyOptional.IsRequired())
	require.Equal(t, StaticRemoteKeyRequired, StaticRemoteKeyOptional.Required())
	require.Equal(t, StaticRemoteKeyOptional, StaticRemoteKeyRequired.Optional())
	require.Equal(t, "option_static_remotekey(13)", StaticRemoteKeyOptional.String())
	require.Equal(t, "initial_routing_sync(3)", InitialRoutingSyncOptional.String())
	require.Equal(t, "option_zeroconf(50)", ZeroConfRequired.String())
	require.Equal(t, "unknown(101)", FeatureBit(101).String())
	// Every named constant pair has a name, and the pairs are (even, even+1).
	pairs := [][2]FeatureBit{
		{DataLossProtectRequired, DataLossProtectOptional}, {UpfrontShutdownScriptRequired, UpfrontShutdownScriptOptional},
		{GossipQueriesRequired, GossipQueriesOptional}, {VarOnionOptinRequired, VarOnionOptinOptional},
		{GossipQueriesExRequired, GossipQueriesExOptional}, {StaticRemoteKeyRequired, StaticRemoteKeyOptional},
		{PaymentSecretRequired, PaymentSecretOptional}, {BasicMPPRequired, BasicMPPOptional},
		{LargeChannelsRequired, LargeChannelsOptional}, {AnchorsZeroFeeHTLCTxRequired, AnchorsZeroFeeHTLCTxOptional},
		{RouteBlindingRequired, RouteBlindingOptional}, {ShutdownAnySegwitRequired, ShutdownAnySegwitOptional},
		{DualFundRequired, DualFundOptional}, {QuiescenceRequired, QuiescenceOptional},
		{OnionMessagesRequired, OnionMessagesOptional}, {ChannelTypeRequired, ChannelTypeOptional},
		{SCIDAliasRequired, SCIDAliasOptional}, {PaymentMetadataRequired, PaymentMetadataOptional},
		{ZeroConfRequired, ZeroConfOptional},
	}
	for _, p := range pairs {
		require.Equal(t, p[0]+1, p[1])
		require.True(t, p[0].IsRequired())
		require.NotEmpty(t, p[0].Name())
		require.Equal(t, p[0].Name(), p[1].Name())
	}
}

func TestFeatureNegotiationHelpers(t *testing.T) {
	local := NewFeatureVector(DataLossProtectRequired, StaticRemoteKeyOptional, GossipQueriesOptional,
		AnchorsZeroFeeHTLCTxOptional)
	remote := NewFeatureVector(DataLossProtectOptional, StaticRemoteKeyRequired, PaymentSecretRequired, 101, 200)
	require.True(t, remote.Supports(StaticRemoteKeyOptional))
	require.True(t, remote.Requires(StaticRemoteKeyOptional))
	require.False(t, remote.Requires(DataLossProtectRequired))
	require.False(t, remote.Supports(GossipQueriesRequired))

	// Even bits the local node does not know: 14 (payment_secret) and 200; 101 is odd.
	require.Equal(t, []FeatureBit{PaymentSecretRequired, 200}, remote.UnknownRequiredFeatures(local))
	require.Empty(t, local.UnknownRequiredFeatures(remote.Union(NewFeatureVector(DataLossProtectOptional))))
	require.Equal(t, []FeatureBit{DataLossProtectRequired}, local.UnknownRequiredFeatures(nil))

	require.True(t, IsNegotiated(local, remote, DataLossProtectOptional))       // local requires
	require.True(t, IsNegotiated(local, remote, StaticRemoteKeyRequired))       // both offer
	require.False(t, IsNegotiated(local, remote, GossipQueriesOptional))        // remote lacks it
	require.False(t, IsNegotiated(local, remote, AnchorsZeroFeeHTLCTxOptional)) // remote lacks it
	require.False(t, IsNegotiated(local, remote, PaymentSecretRequired))        // local lacks it

	u := local.Union(remote, nil)
	require.Equal(t, []FeatureBit{0, 1, 7, 12, 13, 14, 23, 101, 200}, u.Bits())
	require.True(t, local.Equal(local.Clone()))
	require.False(t, local.Equal(remote))
	require.True(t, NewFeatureVector(3).Equal(DecodeFeatureVector([]byte{0, 0, 8})))
	require.Equal(t, "option_data_loss_protect(0),gossip_queries(7),option_static_remotekey(13),option_anchors(23)",
		local.String())
}

func TestFeatureDependencies(t *testing.T) {
	ok := []*FeatureVector{
		NewFeatureVector(),
		NewFeatureVector(BasicMPPOptional, PaymentSecretRequired, VarOnionOptinOptional),
		NewFeatureVector(GossipQueriesExOptional, GossipQueriesOptional),
		NewFeatureVector(ZeroConfOptional, SCIDAliasRequired),
		NewFeatureVector(StaticRemoteKeyOptional, 1001),
	}
	for _, fv := range ok {
		require.NoError(t, fv.CheckDependencies(), fv.String())
	}
	bad := []*FeatureVector{
		NewFeatureVector(BasicMPPOptional, VarOnionOptinOptional),
		NewFeatureVector(PaymentSecretOptional),
		NewFeatureVector(GossipQueriesExRequired),
		NewFeatureVector(ZeroConfRequired),
	}
	for _, fv := range bad {
		require.ErrorIs(t, fv.CheckDependencies(), ErrMissingFeatureDependency, fv.String())
	}
}

// TestChannelTypes checks the defined channel types of BOLT 2 ("Defined Channel Types").
func TestChannelTypes(t *testing.T) {
	require.Equal(t, []byte{0x10, 0x00}, ChannelTypeStaticRemoteKey.FeatureVector().Encode())
	require.Equal(t, []byte{0x40, 0x10, 0x00}, ChannelTypeAnchors.FeatureVector().Encode())
	for _, anchors := range []bool{false, true} {
		for _, alias := range []bool{false, true} {
			for _, zc := range []bool{false, true} {
				ct := ChannelType{Anchors: anchors, SCIDAlias: alias, ZeroConf: zc}
				fv := ct.FeatureVector()
				require.True(t, fv.IsSet(StaticRemoteKeyRequired))
				require.Equal(t, anchors, fv.IsSet(AnchorsZeroFeeHTLCTxRequired))
				require.Equal(t, alias, fv.IsSet(SCIDAliasRequired))
				require.Equal(t, zc, fv.IsSet(ZeroConfRequired))
				got, err := ChannelTypeFromFeatures(fv)
				require.NoError(t, err)
				require.Equal(t, ct, got, ct.String())
			}
		}
	}
	require.Equal(t, "anchors+scid_alias+zeroconf", ChannelType{Anchors: true, SCIDAlias: true, ZeroConf: true}.String())
	require.Equal(t, "static_remotekey", ChannelTypeStaticRemoteKey.String())
	for _, fv := range []*FeatureVector{
		nil,
		NewFeatureVector(),
		NewFeatureVector(StaticRemoteKeyOptional),
		NewFeatureVector(AnchorsZeroFeeHTLCTxRequired),
		NewFeatureVector(StaticRemoteKeyRequired, AnchorsZeroFeeHTLCTxOptional),
		NewFeatureVector(StaticRemoteKeyRequired, 20),
		NewFeatureVector(StaticRemoteKeyRequired, DualFundRequired),
	} {
		_, err := ChannelTypeFromFeatures(fv)
		require.ErrorIs(t, err, ErrUnknownChannelType, fv.String())
	}
}

// TestFeatureVectorConcurrency exercises a shared vector from several goroutines (run with -race).
func TestFeatureVectorConcurrency(t *testing.T) {
	fv := NewFeatureVector(StaticRemoteKeyOptional)
	other := NewFeatureVector(DataLossProtectOptional)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				b := FeatureBit(40 + g*2)
				fv.Set(b)
				_ = fv.IsSet(b)
				_ = fv.Bits()
				_ = fv.Union(other).Encode()
				_ = other.Union(fv)
				_ = fv.Clone()
				fv.Unset(b)
			}
		}(g)
	}
	wg.Wait()
	require.Equal(t, []FeatureBit{StaticRemoteKeyOptional}, fv.Bits())
}
