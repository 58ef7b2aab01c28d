package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"golang.org/x/crypto/chacha20"
)

// BIP 32 hardened child indices of the master key derived from the seed.
const (
	nodeKeyChild          = 0
	destinationKeyChild   = 1
	shutdownKeyChild      = 2
	channelMasterKeyChild = 3
)

// Domain-separation labels for the hashes below. Changing any of them changes every derived key.
const (
	channelSeedLabel     = "lnkit/keys/v1/channel"
	channelKeysIDLabel   = "lnkit/keys/v1/channel-keys-id"
	entropyKeyLabel      = "lnkit/keys/v1/entropy"
	commitmentSeedLabel  = "commitment_seed"
	fundingKeyLabel      = "funding_key"
	revocationKeyLabel   = "revocation_base_key"
	paymentKeyLabel      = "payment_key"
	delayedPaymentLabel  = "delayed_payment_base_key"
	htlcBaseKeyLabel     = "htlc_base_key"
	maxScalarDerivations = 256
)

// KeysManager derives every key of a node from one 32-byte seed. It implements EntropySource,
// NodeSigner and SignerProvider, and is safe for concurrent use.
//
// From the seed it derives a BIP 32 master key (hdkeychain, as in BIP 32 with the "Bitcoin seed" key) and
// the hardened children m/0' (node secret), m/1' (destination key, for closing and sweep outputs),
// m/2' (shutdown key) and m/3' (channel master key). A channel's secrets are
// HMAC-SHA256(k, label) where k = HMAC-SHA256(channel master secret, "lnkit/keys/v1/channel" || keys id),
// so the same seed and keys id always give the same channel keys and the keys id itself is not secret.
//
// The seed must be kept secret and backed up; the starting time must differ at every start (it is mixed
// into GenerateChannelKeysID and GetSecureRandomBytes so that they do not repeat across restarts).
// Create it with NewKeysManager; the zero value is not usable.
type KeysManager struct {
	startingTimeSecs  uint64
	startingTimeNanos uint32

	nodeSecret        *btcec.PrivateKey
	nodeID            *btcec.PublicKey
	destinationScript []byte
	shutdownScript    []byte
	destinationKey    *btcec.PrivateKey // m/1': sweeps pay to it
	shutdownKey       *btcec.PrivateKey // m/2': cooperative closes pay to it
	channelMaster     [32]byte
	entropyKey        [32]byte

	entropyCounter atomic.Uint64
	keysIDCounter  atomic.Uint64
}

var (
	_ EntropySource  = (*KeysManager)(nil)
	_ NodeSigner     = (*KeysManager)(nil)
	_ SignerProvider = (*KeysManager)(nil)
)

// NewKeysManager returns a KeysManager for seed. startingTimeSecs and startingTimeNanos are the host's
// current time when it starts the node (the library never reads the clock); they must be different every
// time the node starts with the same seed.
//
// It panics only if BIP 32 derivation from seed yields an invalid key, which happens with probability
// about 2^-127 per key and never for a seed produced by a real random source.
func NewKeysManager(seed [32]byte, startingTimeSecs uint64, startingTimeNanos uint32) *KeysManager {
	master, err := hdkeychain.NewMaster(seed[:], &chaincfg.MainNetParams)
	if err != nil {
		panic(fmt.Sprintf("keys: unusable seed: %v", err))
	}
	child := func(i uint32) *btcec.PrivateKey {
		ext, err := master.Derive(hdkeychain.HardenedKeyStart + i)
		if err != nil {
			panic(fmt.Sprintf("keys: BIP 32 child %d' invalid: %v", i, err))
		}
		priv, err := ext.ECPrivKey()
		if err != nil {
			panic(fmt.Sprintf("keys: BIP 32 child %d' has no private key: %v", i, err))
		}
		return priv
	}

	k := &KeysManager{
		startingTimeSecs:  startingTimeSecs,
		startingTimeNanos: startingTimeNanos,
	}
	k.nodeSecret = child(nodeKeyChild)
	k.nodeID = k.nodeSecret.PubKey()
	k.destinationKey = child(destinationKeyChild)
	k.shutdownKey = child(shutdownKeyChild)
	k.destinationScript = p2wpkhScript(k.destinationKey.PubKey())
	k.shutdownScript = p2wpkhScript(k.shutdownKey.PubKey())
	k.channelMaster = child(channelMasterKeyChild).Key.Bytes()

	h := sha256.New()
	h.Write([]byte(entropyKeyLabel))
	h.Write(seed[:])
	var t [12]byte
	binary.BigEndian.PutUint64(t[:8], startingTimeSecs)
	binary.BigEndian.PutUint32(t[8:], startingTimeNanos)
	h.Write(t[:])
	h.Sum(k.entropyKey[:0])
	return k
}

// p2wpkhScript returns the 22-byte P2WPKH scriptPubKey OP_0 <HASH160(compressed pub)>.
func p2wpkhScript(pub *btcec.PublicKey) []byte {
	script := make([]byte, 0, 22)
	script = append(script, 0x00, 0x14)
	return append(script, btcutil.Hash160(pub.SerializeCompressed())...)
}

// GetSecureRandomBytes returns 32 bytes of the ChaCha20 keystream keyed by SHA256 of a label, the seed
// and the starting time, with the call counter as nonce: unpredictable without the seed, never repeated
// within one KeysManager, and different across restarts with different starting times.
func (k *KeysManager) GetSecureRandomBytes() [32]byte {
	n := k.entropyCounter.Add(1) - 1
	var nonce [chacha20.NonceSize]byte
	binary.LittleEndian.PutUint64(nonce[4:], n)
	var out [32]byte
	c, err := chacha20.NewUnauthenticatedCipher(k.entropyKey[:], nonce[:])
	if err != nil {
		// Unreachable: the key and nonce sizes are fixed and correct.
		panic(fmt.Sprintf("keys: chacha20: %v", err))
	}
	c.XORKeyStream(out[:], out[:])
	return out
}

// GetNodeID returns the node's public key (node_id).
func (k *KeysManager) GetNodeID() *btcec.PublicKey { return k.nodeID }

// ECDH returns SHA256 of the compressed encoding of node_secret·theirPub, the shared secret of BOLT 8
// ("Handshake State": ECDH(k, rk)). Errors: ErrNilKey when theirPub is nil; ErrInvalidPublicKey when it
// is not on the curve.
func (k *KeysManager) ECDH(theirPub *btcec.PublicKey) ([32]byte, error) {
	return ecdhSHA256(k.nodeSecret, theirPub)
}

func ecdhSHA256(priv *btcec.PrivateKey, theirPub *btcec.PublicKey) ([32]byte, error) {
	if theirPub == nil {
		return [32]byte{}, ErrNilKey
	}
	if !theirPub.IsOnCurve() {
		return [32]byte{}, ErrInvalidPublicKey
	}
	var p, r btcec.JacobianPoint
	theirPub.AsJacobian(&p)
	btcec.ScalarMultNonConst(&priv.Key, &p, &r)
	shared := jacobianToPublicKey(&r)
	if shared == nil {
		return [32]byte{}, ErrInvalidPublicKey
	}
	return sha256.Sum256(shared.SerializeCompressed()), nil
}

// SignGossipMessage returns the RFC 6979 low-S ECDSA signature with the node key of the double-SHA256
// of data. It never fails; the error is part of the NodeSigner contract for remote signers.
func (k *KeysManager) SignGossipMessage(data []byte) (*ecdsa.Signature, error) {
	return ecdsa.Sign(k.nodeSecret, chainhash.DoubleHashB(data)), nil
}

// SignInvoice returns the 65-byte recoverable BOLT 11 signature with the node key of the invoice
// (hrp, data5): header byte 27+4+recovery id, then r and s (32 bytes each, big-endian), s low. Errors:
// ErrInvalidEncoding for a group above 31.
func (k *KeysManager) SignInvoice(hrp string, data5 []byte) ([]byte, error) {
	hash, err := InvoiceSigningHash(hrp, data5)
	if err != nil {
		return nil, err
	}
	return ecdsa.SignCompact(k.nodeSecret, hash[:], true), nil
}

// InvoiceSigningHash returns what a BOLT 11 signature signs: SHA256 of hrp's bytes followed by the
// 5-bit groups data5 packed big-endian into bytes, the last one zero-padded (BOLT 11, "Data Part").
// Errors: ErrInvalidEncoding for a group above 31.
func InvoiceSigningHash(hrp string, data5 []byte) ([32]byte, error) {
	packed := make([]byte, 0, len(hrp)+(len(data5)*5+7)/8)
	packed = append(packed, hrp...)
	var acc uint32
	var bits uint
	for _, g := range data5 {
		if g > 31 {
			return [32]byte{}, fmt.Errorf("%w: invoice data group %d above 31", ErrInvalidEncoding, g)
		}
		acc = acc<<5 | uint32(g)
		bits += 5
		if bits >= 8 {
			bits -= 8
			packed = append(packed, byte(acc>>bits))
		}
	}
	if bits > 0 {
		packed = append(packed, byte(acc<<(8-bits)))
	}
	return sha256.Sum256(packed), nil
}

// GenerateChannelKeysID returns SHA256 of a label, the starting time, a per-instance counter, and the
// arguments. The counter makes ids unique within one KeysManager, and the starting time across restarts.
func (k *KeysManager) GenerateChannelKeysID(inbound bool, channelValueSat int64, userChannelID [16]byte) [32]byte {
	n := k.keysIDCounter.Add(1) - 1
	var buf [8 + 4 + 8 + 1 + 8 + 16]byte
	b := buf[:0]
	b = binary.BigEndian.AppendUint64(b, k.startingTimeSecs)
	b = binary.BigEndian.AppendUint32(b, k.startingTimeNanos)
	b = binary.BigEndian.AppendUint64(b, n)
	if inbound {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(channelValueSat))
	b = append(b, userChannelID[:]...)
	h := sha256.New()
	h.Write([]byte(channelKeysIDLabel))
	h.Write(b)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// hmacSHA256 returns HMAC-SHA256(key, data...).
func hmacSHA256(key []byte, data ...[]byte) [32]byte {
	m := hmac.New(sha256.New, key)
	for _, d := range data {
		m.Write(d)
	}
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// channelSecretKey derives the private key for label from a channel's seed key: the first of
// HMAC-SHA256(chanKey, label || counter), counter = 0, 1, ..., that is a valid scalar (the first is,
// except with probability about 2^-128).
func channelSecretKey(chanKey *[32]byte, label string) *btcec.PrivateKey {
	for i := 0; i < maxScalarDerivations; i++ {
		candidate := hmacSHA256(chanKey[:], []byte(label), []byte{byte(i)})
		if s, err := scalarFromSecret(&candidate); err == nil {
			return btcec.PrivKeyFromScalar(&s)
		}
	}
	// Unreachable in practice: 256 consecutive invalid HMAC outputs have probability about 2^-32768.
	panic("keys: could not derive a valid channel key")
}

// deriveChannelSecrets returns the secrets of the channel with the given keys id.
func (k *KeysManager) deriveChannelSecrets(channelKeysID [32]byte) ChannelSecrets {
	chanKey := hmacSHA256(k.channelMaster[:], []byte(channelSeedLabel), channelKeysID[:])
	return ChannelSecrets{
		FundingKey:            channelSecretKey(&chanKey, fundingKeyLabel),
		RevocationBaseKey:     channelSecretKey(&chanKey, revocationKeyLabel),
		PaymentKey:            channelSecretKey(&chanKey, paymentKeyLabel),
		DelayedPaymentBaseKey: channelSecretKey(&chanKey, delayedPaymentLabel),
		HTLCBaseKey:           channelSecretKey(&chanKey, htlcBaseKeyLabel),
		CommitmentSeed:        hmacSHA256(chanKey[:], []byte(commitmentSeedLabel)),
	}
}

// DeriveChannelSigner returns the InMemorySigner for channelKeysID. channelValueSat (the funding output
// value in satoshis) is recorded, not used in derivation: the same id always gives the same keys.
func (k *KeysManager) DeriveChannelSigner(channelValueSat int64, channelKeysID [32]byte) ChannelSigner {
	return k.deriveInMemorySigner(channelValueSat, channelKeysID)
}

func (k *KeysManager) deriveInMemorySigner(channelValueSat int64, channelKeysID [32]byte) *InMemorySigner {
	s, err := NewInMemorySigner(k.deriveChannelSecrets(channelKeysID), channelValueSat, channelKeysID)
	if err != nil {
		// Unreachable: deriveChannelSecrets sets every key.
		panic(fmt.Sprintf("keys: %v", err))
	}
	return s
}

// ReadChannelSigner re-creates a signer from the 40 bytes written by its Write method (keys id and
// channel value). Errors: ErrInvalidEncoding when data is not exactly 40 bytes.
func (k *KeysManager) ReadChannelSigner(data []byte) (ChannelSigner, error) {
	if len(data) != signerEncodingLen {
		return nil, fmt.Errorf("%w: channel signer is %d bytes, want %d", ErrInvalidEncoding, len(data), signerEncodingLen)
	}
	var id [32]byte
	copy(id[:], data[:32])
	value := int64(binary.BigEndian.Uint64(data[32:]))
	return k.deriveInMemorySigner(value, id), nil
}

// GetDestinationScript returns a copy of the 22-byte P2WPKH scriptPubKey of our destination key (m/1'),
// to which closing and sweep outputs pay. It is the same for every channel; channelKeysID is accepted for
// signers that use per-channel destinations. It never fails.
func (k *KeysManager) GetDestinationScript(channelKeysID [32]byte) ([]byte, error) {
	return append([]byte(nil), k.destinationScript...), nil
}

// GetShutdownScriptPubKey returns a copy of the 22-byte P2WPKH scriptPubKey of our shutdown key (m/2'),
// for the shutdown message's scriptpubkey (BOLT 2). It never fails.
func (k *KeysManager) GetShutdownScriptPubKey() ([]byte, error) {
	return append([]byte(nil), k.shutdownScript...), nil
}
