package lnwire

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"
)

// testKey returns a deterministic private key derived from a label.
func testKey(label string) *btcec.PrivateKey {
	h := sha256.Sum256([]byte(label))
	priv, _ := btcec.PrivKeyFromBytes(h[:])
	return priv
}

// testPoint returns the public key of testKey(label), parsed from its compressed form so that it is
// represented exactly as a decoded point is.
func testPoint(t testing.TB, label string) *btcec.PublicKey {
	pk, err := ParsePoint(testKey(label).PubKey().SerializeCompressed())
	require.NoError(t, err)
	return pk
}

// testSig signs sha256(label) with testKey(label).
func testSig(t testing.TB, label string) Sig {
	h := sha256.Sum256([]byte("msg:" + label))
	s, err := NewSigFromECDSA(ecdsa.Sign(testKey(label), h[:]))
	require.NoError(t, err)
	return s
}

func test32(label string) [32]byte { return sha256.Sum256([]byte(label)) }

func testOnion(label string) (o [OnionPacketSize]byte) {
	o[0] = 0 // version
	for i := 1; i < OnionPacketSize; i += 32 {
		h := sha256.Sum256(binary.BigEndian.AppendUint32([]byte(label), uint32(i)))
		copy(o[i:], h[:])
	}
	return o
}

func testKeys(t testing.TB, who string) ChannelKeys {
	return ChannelKeys{
		FundingPubKey:           testPoint(t, who+"/funding"),
		RevocationBasepoint:     testPoint(t, who+"/revocation"),
		PaymentBasepoint:        testPoint(t, who+"/payment"),
		DelayedPaymentBasepoint: testPoint(t, who+"/delayed"),
		HTLCBasepoint:           testPoint(t, who+"/htlc"),
		FirstPerCommitmentPoint: testPoint(t, who+"/pcp0"),
	}
}

// p2wpkh returns a realistic P2WPKH script.
func p2wpkh(label string) []byte {
	h := test32(label)
	return append([]byte{0x00, 0x14}, h[:20]...)
}

// testMessages returns one or more realistic instances of every message type this package decodes,
// following the package's conventions (nil for empty/absent slices) so that decoding gives back equal
// values.
func testMessages(t testing.TB) map[string]Message {
	chanID := ChannelID(test32("chan"))
	tmpID := ChannelID(test32("tmp"))
	mainnet := *chaincfg.MainNetParams.GenesisHash
	testnet := *chaincfg.TestNet3Params.GenesisHash
	alias := ShortChannelID{BlockHeight: 16000000, TxIndex: 42, OutputIndex: 7}
	htlcSigs := make([]Sig, 5)
	for i := range htlcSigs {
		htlcSigs[i] = testSig(t, "htlc"+string(rune('a'+i)))
	}
	return map[string]Message{
		"init-empty": &Init{GlobalFeatures: NewFeatureVector(), Features: NewFeatureVector()},
		"init-full": &Init{
			GlobalFeatures: NewFeatureVector(),
			Features: NewFeatureVector(DataLossProtectRequired, GossipQueriesOptional, VarOnionOptinRequired,
				StaticRemoteKeyRequired, PaymentSecretRequired, BasicMPPOptional, LargeChannelsOptional,
				AnchorsZeroFeeHTLCTxOptional, ShutdownAnySegwitOptional, ChannelTypeOptional, SCIDAliasOptional,
				ZeroConfOptional),
			Networks:   []chainhash.Hash{mainnet, testnet},
			RemoteAddr: []byte{1, 203, 0, 113, 7, 0x26, 0x07},
			ExtraTLVs:  TLVStream{{Type: 5, Value: []byte{1, 2, 3}}, {Type: 0x0201, Value: []byte{}}},
		},
		"init-empty-networks": &Init{GlobalFeatures: NewFeatureVector(StaticRemoteKeyOptional),
			Features: NewFeatureVector(), Networks: []chainhash.Hash{}, RemoteAddr: []byte{}},
		"error":         &Error{ChannelID: chanID, Data: []byte("internal error: funding tx spent")},
		"error-all":     &Error{},
		"warning":       &Warning{Data: []byte("bad fee range\x00\xff")},
		"ping":          &Ping{NumPongBytes: 12, Ignored: make([]byte, 20)},
		"ping-no-reply": &Ping{NumPongBytes: 65532},
		"pong":          &Pong{Ignored: make([]byte, 12)},
		"pong-empty":    &Pong{ExtraTLVs: TLVStream{{Type: 1, Value: []byte{9}}}},
		"open_channel": &OpenChannel{
			ChainHash:                mainnet,
			TemporaryChannelID:       tmpID,
			FundingSatoshis:          1_000_000,
			PushMsat:                 250_000_000,
			DustLimitSatoshis:        546,
			MaxHTLCValueInFlightMsat: 990_000_000,
			ChannelReserveSatoshis:   10_000,
			HTLCMinimumMsat:          1,
			FeeratePerKw:             2500,
			ToSelfDelay:              144,
			MaxAcceptedHTLCs:         483,
			ChannelKeys:              testKeys(t, "alice"),
			ChannelFlags:             ChannelFlagAnnounceChannel,
			UpfrontShutdownScript:    p2wpkh("alice-close"),
			ChannelType:              ChannelTypeAnchors.FeatureVector(),
		},
		"open_channel-no-tlvs": &OpenChannel{
			ChainHash: testnet, TemporaryChannelID: tmpID, FundingSatoshis: 20_000, DustLimitSatoshis: 354,
			MaxHTLCValueInFlightMsat: ^uint64(0), ChannelReserveSatoshis: 354, HTLCMinimumMsat: 1000,
			FeeratePerKw: 253, ToSelfDelay: 2016, MaxAcceptedHTLCs: 30, ChannelKeys: testKeys(t, "carol"),
		},
		"open_channel-empty-upfront": &OpenChannel{
			ChainHash: mainnet, TemporaryChannelID: tmpID, FundingSatoshis: 16_777_215, ChannelKeys: testKeys(t, "dave"),
			UpfrontShutdownScript: []byte{}, ChannelType: ChannelTypeStaticRemoteKey.FeatureVector(),
			ExtraTLVs: TLVStream{{Type: 3, Value: []byte("x")}},
		},
		"accept_channel": &AcceptChannel{
			TemporaryChannelID:       tmpID,
			DustLimitSatoshis:        573,
			MaxHTLCValueInFlightMsat: 500_000_000,
			ChannelReserveSatoshis:   10_000,
			HTLCMinimumMsat:          1000,
			MinimumDepth:             3,
			ToSelfDelay:              720,
			MaxAcceptedHTLCs:         100,
			ChannelKeys:              testKeys(t, "bob"),
			UpfrontShutdownScript:    []byte{},
			ChannelType:              ChannelType{Anchors: true, SCIDAlias: true, ZeroConf: true}.FeatureVector(),
		},
		"funding_created": &FundingCreated{
			TemporaryChannelID: tmpID,
			FundingTxID:        chainhash.Hash(test32("funding-tx")),
			FundingOutputIndex: 1,
			Signature:          testSig(t, "alice-commit0"),
		},
		"funding_signed": &FundingSigned{ChannelID: chanID, Signature: testSig(t, "bob-commit0")},
		"channel_ready": &ChannelReady{
			ChannelID: chanID, SecondPerCommitmentPoint: testPoint(t, "alice/pcp1"), Alias: &alias,
		},
		"channel_ready-no-alias": &ChannelReady{ChannelID: chanID, SecondPerCommitmentPoint: testPoint(t, "bob/pcp1")},
		"shutdown":               &Shutdown{ChannelID: chanID, ScriptPubKey: p2wpkh("bob-close")},
		"closing_signed": &ClosingSigned{
			ChannelID: chanID, FeeSatoshis: 1_234, Signature: testSig(t, "closing"),
			FeeRange: &FeeRange{MinFeeSatoshis: 500, MaxFeeSatoshis: 5_000},
		},
		"closing_signed-no-range": &ClosingSigned{ChannelID: chanID, FeeSatoshis: 700, Signature: testSig(t, "closing2")},
		"update_add_htlc": &UpdateAddHTLC{
			ChannelID: chanID, ID: 17, AmountMsat: 123_456_789, PaymentHash: test32("preimage-hash"),
			CLTVExpiry: 850_123, OnionRoutingPacket: testOnion("onion"),
		},
		"update_add_htlc-blinded": &UpdateAddHTLC{
			ChannelID: chanID, ID: 0, AmountMsat: 1000, PaymentHash: test32("h2"), CLTVExpiry: 800_000,
			OnionRoutingPacket: testOnion("onion2"), BlindingPoint: testPoint(t, "blinding"),
			ExtraTLVs: TLVStream{{Type: 106823, Value: []byte{1}}},
		},
		"update_fulfill_htlc": &UpdateFulfillHTLC{ChannelID: chanID, ID: 17, PaymentPreimage: test32("preimage")},
		"update_fail_htlc": &UpdateFailHTLC{
			ChannelID: chanID, ID: 18, Reason: make([]byte, 292),
			ExtraTLVs: TLVStream{{Type: 1, Value: make([]byte, 920)}},
		},
		"update_fail_malformed_htlc": &UpdateFailMalformedHTLC{
			ChannelID: chanID, ID: 19, SHA256OfOnion: test32("onion-digest"), FailureCode: 0x8000 | 0x4000 | 5,
		},
		"commitment_signed":          &CommitmentSigned{ChannelID: chanID, Signature: testSig(t, "commit"), HTLCSignatures: htlcSigs},
		"commitment_signed-no-htlcs": &CommitmentSigned{ChannelID: chanID, Signature: testSig(t, "commit2")},
		"revoke_and_ack": &RevokeAndAck{
			ChannelID: chanID, PerCommitmentSecret: test32("secret"), NextPerCommitmentPoint: testPoint(t, "alice/pcp2"),
		},
		"update_fee": &UpdateFee{ChannelID: chanID, FeeratePerKw: 12_500},
		"channel_reestablish": &ChannelReestablish{
			ChannelID: chanID, NextCommitmentNumber: 42, NextRevocationNumber: 41,
			YourLastPerCommitmentSecret: test32("last-secret"), MyCurrentPerCommitmentPoint: testPoint(t, "alice/pcp41"),
		},
		"channel_reestablish-next-funding": &ChannelReestablish{
			ChannelID: chanID, NextCommitmentNumber: 1, NextRevocationNumber: 0,
			MyCurrentPerCommitmentPoint: testPoint(t, "bob/pcp0"), NextFunding: test32ToSlice("next-funding"),
		},
	}
}

func test32ToSlice(label string) []byte {
	h := test32(label)
	return h[:]
}
