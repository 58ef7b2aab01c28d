package keys

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/internal/bolt3"
)

// ChannelSecrets are the secrets of one side of a channel: the private keys behind ChannelPublicKeys and
// the 32-byte seed from which per-commitment secrets are generated (BOLT 3, "Per-commitment Secret
// Requirements").
type ChannelSecrets struct {
	FundingKey            *btcec.PrivateKey
	RevocationBaseKey     *btcec.PrivateKey
	PaymentKey            *btcec.PrivateKey
	DelayedPaymentBaseKey *btcec.PrivateKey
	HTLCBaseKey           *btcec.PrivateKey
	CommitmentSeed        [32]byte
}

// InMemorySigner is a ChannelSigner that keeps the channel's secrets in memory and signs what it is
// asked without judging it (keys/policy wraps it with checks). Its keys are fixed at construction;
// the only state it gains is the channel's parameters. It is safe for concurrent use.
type InMemorySigner struct {
	secrets         ChannelSecrets
	pubkeys         ChannelPublicKeys
	channelValueSat int64
	channelKeysID   [32]byte

	// Caches of pure functions of the secrets, so that work repeated within a commitment round (every
	// HTLC signature of a commitment uses the same derived key; each per-commitment point is needed
	// twice) is done once.
	mu        sync.Mutex
	points    map[uint64]*btcec.PublicKey // recent per-commitment points by commitment number
	derived   [4]derivedEntry             // recent derived keys, round-robin
	derivedAt int
	justice   justiceEntry // the last revocation key derived for a justice signature

	// params are the channel's parameters once given (ProvideChannelParameters), fundingScript their
	// 2-of-2 witness script.
	params        *ChannelTransactionParameters
	fundingScript []byte
}

var _ ChannelSigner = (*InMemorySigner)(nil)

// signerEncodingLen is the size of InMemorySigner.Write's output: 32-byte keys id + 8-byte value.
const signerEncodingLen = 32 + 8

// NewInMemorySigner builds a signer from explicit secrets. channelValueSat is the funding output value
// in satoshis and channelKeysID the identifier recorded by Write. A signer built this way can only be
// re-created from Write's output by a KeysManager if its secrets came from that KeysManager
// (DeriveChannelSigner does that). channelValueSat is recorded for Write and not otherwise interpreted.
// Errors: ErrNilKey when any key is nil.
func NewInMemorySigner(secrets ChannelSecrets, channelValueSat int64, channelKeysID [32]byte) (*InMemorySigner, error) {
	if secrets.FundingKey == nil || secrets.RevocationBaseKey == nil || secrets.PaymentKey == nil ||
		secrets.DelayedPaymentBaseKey == nil || secrets.HTLCBaseKey == nil {
		return nil, ErrNilKey
	}
	return &InMemorySigner{
		secrets: secrets,
		pubkeys: ChannelPublicKeys{
			FundingPubkey:           secrets.FundingKey.PubKey(),
			RevocationBasepoint:     secrets.RevocationBaseKey.PubKey(),
			PaymentPoint:            secrets.PaymentKey.PubKey(),
			DelayedPaymentBasepoint: secrets.DelayedPaymentBaseKey.PubKey(),
			HTLCBasepoint:           secrets.HTLCBaseKey.PubKey(),
		},
		channelValueSat: channelValueSat,
		channelKeysID:   channelKeysID,
	}, nil
}

// ChannelKeysID returns the 32-byte identifier the keys were derived from.
func (s *InMemorySigner) ChannelKeysID() [32]byte { return s.channelKeysID }

// ChannelValueSat returns the channel (funding output) value in satoshis given at construction.
func (s *InMemorySigner) ChannelValueSat() int64 { return s.channelValueSat }

// Pubkeys returns our public keys for this channel. The returned keys must not be modified.
func (s *InMemorySigner) Pubkeys() ChannelPublicKeys { return s.pubkeys }

// perCommitmentSecret returns our per_commitment_secret for a commitment number.
func (s *InMemorySigner) perCommitmentSecret(commitmentNumber uint64) ([32]byte, error) {
	index, err := CommitmentNumberToIndex(commitmentNumber)
	if err != nil {
		return [32]byte{}, err
	}
	return BuildCommitmentSecret(s.secrets.CommitmentSeed, index), nil
}

// GetPerCommitmentPoint returns our per_commitment_point for commitment number commitmentNumber (secret
// index 2^48-1-commitmentNumber). Errors: ErrCommitmentNumberOutOfRange; ErrInvalidSecret when the
// generated secret is not a valid scalar (probability about 2^-128).
func (s *InMemorySigner) GetPerCommitmentPoint(commitmentNumber uint64) (*btcec.PublicKey, error) {
	s.mu.Lock()
	p, ok := s.points[commitmentNumber]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := s.computePerCommitmentPoint(commitmentNumber)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.points == nil {
		s.points = map[uint64]*btcec.PublicKey{}
	}
	// Keep the few most recent: a channel asks for n and n+1 around each commitment round.
	for n := range s.points {
		if n+4 < commitmentNumber || n > commitmentNumber+4 {
			delete(s.points, n)
		}
	}
	s.points[commitmentNumber] = p
	s.mu.Unlock()
	return p, nil
}

func (s *InMemorySigner) computePerCommitmentPoint(commitmentNumber uint64) (*btcec.PublicKey, error) {
	secret, err := s.perCommitmentSecret(commitmentNumber)
	if err != nil {
		return nil, err
	}
	return ComputePerCommitmentPoint(secret)
}

// ReleaseCommitmentSecret returns our 32-byte per_commitment_secret for commitment number
// commitmentNumber, for revoke_and_ack (BOLT 2). Errors: ErrCommitmentNumberOutOfRange.
func (s *InMemorySigner) ReleaseCommitmentSecret(commitmentNumber uint64) ([32]byte, error) {
	return s.perCommitmentSecret(commitmentNumber)
}

// Write returns 40 bytes: the keys id, then the channel value in satoshis as 8 bytes big-endian.
func (s *InMemorySigner) Write() []byte {
	out := make([]byte, 0, signerEncodingLen)
	out = append(out, s.channelKeysID[:]...)
	return binary.BigEndian.AppendUint64(out, uint64(s.channelValueSat))
}

// isP2WPKH reports whether script is a version 0 pay-to-witness-pubkey-hash scriptPubKey.
func isP2WPKH(script []byte) bool {
	return len(script) == 22 && script[0] == txscript.OP_0 && script[1] == txscript.OP_DATA_20
}

// scriptCommitsTo reports whether script contains pub's 33-byte compressed encoding or, for a P2WPKH
// scriptPubKey (and anywhere when allowHash is set), its HASH160.
func scriptCommitsTo(script []byte, pub *btcec.PublicKey, allowHash bool) bool {
	ser := pub.SerializeCompressed()
	if isP2WPKH(script) {
		return bytes.Equal(script[2:], btcutil.Hash160(ser))
	}
	if bytes.Contains(script, ser) {
		return true
	}
	return allowHash && bytes.Contains(script, btcutil.Hash160(ser))
}

// signRequest gathers one signature's inputs.
type signRequest struct {
	key       *btcec.PrivateKey
	pub       *btcec.PublicKey // key's public key when the caller has it; computed otherwise
	tx        *wire.MsgTx
	index     int
	script    []byte
	valueSat  int64
	hashType  txscript.SigHashType
	sigHashes *txscript.TxSigHashes
	allowHash bool // accept HASH160(pubkey) in the script (revocation key in HTLC scripts)
}

// checkTx validates a transaction and input index for signing.
func checkTx(tx *wire.MsgTx, index int) error {
	if tx == nil {
		return ErrNilTransaction
	}
	for _, in := range tx.TxIn {
		if in == nil {
			return ErrInvalidTransaction
		}
	}
	for _, out := range tx.TxOut {
		if out == nil {
			return ErrInvalidTransaction
		}
	}
	if index < 0 || index >= len(tx.TxIn) {
		return fmt.Errorf("%w: index %d, %d inputs", ErrInputIndexOutOfRange, index, len(tx.TxIn))
	}
	return nil
}

// checkHTLCSigHashType accepts SIGHASH_ALL and SIGHASH_SINGLE|SIGHASH_ANYONECANPAY, the latter only when
// the transaction has an output at the input's index.
func checkHTLCSigHashType(tx *wire.MsgTx, index int, hashType txscript.SigHashType) error {
	switch hashType {
	case txscript.SigHashAll:
		return nil
	case txscript.SigHashSingle | txscript.SigHashAnyOneCanPay:
		if tx != nil && index >= 0 && index < len(tx.TxOut) {
			return nil
		}
		return fmt.Errorf("%w: SIGHASH_SINGLE without an output at index %d", ErrUnsupportedSigHashType, index)
	default:
		return fmt.Errorf("%w: 0x%02x", ErrUnsupportedSigHashType, uint32(hashType))
	}
}

// sign validates r and returns the BIP 143 signature of its input.
func sign(r signRequest) (*ecdsa.Signature, error) {
	if r.key == nil {
		return nil, ErrNilKey
	}
	if err := checkTx(r.tx, r.index); err != nil {
		return nil, err
	}
	if r.valueSat < 0 || r.valueSat > btcutil.MaxSatoshi {
		return nil, fmt.Errorf("%w: %d sat", ErrInvalidValue, r.valueSat)
	}
	if len(r.script) == 0 {
		return nil, fmt.Errorf("%w: empty script", ErrInvalidScript)
	}
	pub := r.pub
	if pub == nil {
		pub = r.key.PubKey()
	}
	if !scriptCommitsTo(r.script, pub, r.allowHash) {
		return nil, ErrScriptKeyMismatch
	}
	if r.hashType != txscript.SigHashAll {
		if err := checkHTLCSigHashType(r.tx, r.index, r.hashType); err != nil {
			return nil, err
		}
	}
	sigHashes := r.sigHashes
	if sigHashes == nil {
		sigHashes = txscript.NewTxSigHashes(r.tx, txscript.NewCannedPrevOutputFetcher(r.script, r.valueSat))
	}
	digest, err := txscript.CalcWitnessSigHash(r.script, sigHashes, r.hashType, r.tx, r.index, r.valueSat)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidScript, err)
	}
	return ecdsa.Sign(r.key, digest), nil
}

// SignFundingInput signs input inputIndex of tx, which spends the funding output (fundingValueSat
// satoshis, witness script fundingWitnessScript), with our funding key and SIGHASH_ALL (BOLT 3, "Funding
// Transaction Output"). Errors: see ChannelSigner.
func (s *InMemorySigner) SignFundingInput(tx *wire.MsgTx, inputIndex int, fundingWitnessScript []byte, fundingValueSat int64) (*ecdsa.Signature, error) {
	return sign(signRequest{
		key: s.secrets.FundingKey, pub: s.pubkeys.FundingPubkey, tx: tx, index: inputIndex, script: fundingWitnessScript,
		valueSat: fundingValueSat, hashType: txscript.SigHashAll,
	})
}

// SignFundingInputWithSigHashes is SignFundingInput with a precomputed BIP 143 midstate of tx. Errors:
// as SignFundingInput, plus ErrNilSigHashes.
func (s *InMemorySigner) SignFundingInputWithSigHashes(tx *wire.MsgTx, inputIndex int, fundingWitnessScript []byte, fundingValueSat int64, sigHashes *txscript.TxSigHashes) (*ecdsa.Signature, error) {
	if sigHashes == nil {
		return nil, ErrNilSigHashes
	}
	return sign(signRequest{
		key: s.secrets.FundingKey, pub: s.pubkeys.FundingPubkey, tx: tx, index: inputIndex, script: fundingWitnessScript,
		valueSat: fundingValueSat, hashType: txscript.SigHashAll, sigHashes: sigHashes,
	})
}

// derivedEntry caches one derived key pair.
type derivedEntry struct {
	base  *btcec.PrivateKey
	point [33]byte
	priv  *btcec.PrivateKey
	pub   *btcec.PublicKey
}

// derivedKey tweaks one of our basepoint secrets (whose public basepoint is basepoint) with a
// per_commitment_point (BOLT 3, "Key Derivation") and returns the private key and its public key.
// Recent results are cached: every HTLC signature of one commitment uses the same key.
func (s *InMemorySigner) derivedKey(base *btcec.PrivateKey, basepoint, perCommitmentPoint *btcec.PublicKey) (*btcec.PrivateKey, *btcec.PublicKey, error) {
	if perCommitmentPoint == nil {
		return nil, nil, ErrNilKey
	}
	if !perCommitmentPoint.IsOnCurve() {
		return nil, nil, ErrInvalidPublicKey
	}
	var pt [33]byte
	copy(pt[:], perCommitmentPoint.SerializeCompressed())
	s.mu.Lock()
	for _, e := range s.derived {
		if e.base == base && e.point == pt {
			s.mu.Unlock()
			return e.priv, e.pub, nil
		}
	}
	s.mu.Unlock()
	tweak := hashPoints(perCommitmentPoint, basepoint)
	var k btcec.ModNScalar
	k.Add2(&base.Key, &tweak)
	if k.IsZero() {
		return nil, nil, ErrInvalidSecret
	}
	priv := btcec.PrivKeyFromScalar(&k)
	pub := DerivePublicKey(basepoint, perCommitmentPoint)
	if pub == nil {
		return nil, nil, ErrInvalidSecret
	}
	s.mu.Lock()
	s.derived[s.derivedAt] = derivedEntry{base: base, point: pt, priv: priv, pub: pub}
	s.derivedAt = (s.derivedAt + 1) % len(s.derived)
	s.mu.Unlock()
	return priv, pub, nil
}

// SignCounterpartyHTLCTx signs a second-stage HTLC transaction of the counterparty's commitment with our
// HTLC key derived from our htlc_basepoint and their per_commitment_point (BOLT 3, "Key Derivation" and
// "HTLC-Timeout and HTLC-Success Transactions"). sigHashType must be txscript.SigHashAll or
// txscript.SigHashSingle|txscript.SigHashAnyOneCanPay. Errors: see ChannelSigner.
func (s *InMemorySigner) SignCounterpartyHTLCTx(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, counterpartyPerCommitmentPoint *btcec.PublicKey, sigHashType txscript.SigHashType) (*ecdsa.Signature, error) {
	return s.signHTLC(tx, inputIndex, witnessScript, valueSat, counterpartyPerCommitmentPoint, sigHashType)
}

// SignHolderHTLCTx signs a second-stage HTLC transaction of our own commitment with our HTLC key
// derived from our htlc_basepoint and our per_commitment_point. sigHashType must be txscript.SigHashAll
// or txscript.SigHashSingle|txscript.SigHashAnyOneCanPay. Errors: see ChannelSigner.
func (s *InMemorySigner) SignHolderHTLCTx(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, ourPerCommitmentPoint *btcec.PublicKey, sigHashType txscript.SigHashType) (*ecdsa.Signature, error) {
	return s.signHTLC(tx, inputIndex, witnessScript, valueSat, ourPerCommitmentPoint, sigHashType)
}

func (s *InMemorySigner) signHTLC(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, perCommitmentPoint *btcec.PublicKey, sigHashType txscript.SigHashType) (*ecdsa.Signature, error) {
	if err := checkHTLCSigHashType(tx, inputIndex, sigHashType); err != nil {
		return nil, err
	}
	key, pub, err := s.derivedKey(s.secrets.HTLCBaseKey, s.pubkeys.HTLCBasepoint, perCommitmentPoint)
	if err != nil {
		return nil, err
	}
	return sign(signRequest{
		key: key, pub: pub, tx: tx, index: inputIndex, script: witnessScript, valueSat: valueSat, hashType: sigHashType,
	})
}

// SignDelayedOutput signs, with SIGHASH_ALL, a spend of one of our to_self_delay-encumbered outputs with
// local_delayedprivkey (our delayed_payment_basepoint secret tweaked by ourPerCommitmentPoint; BOLT 3,
// "to_local Output"). Errors: see ChannelSigner.
func (s *InMemorySigner) SignDelayedOutput(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, ourPerCommitmentPoint *btcec.PublicKey) (*ecdsa.Signature, error) {
	key, pub, err := s.derivedKey(s.secrets.DelayedPaymentBaseKey, s.pubkeys.DelayedPaymentBasepoint, ourPerCommitmentPoint)
	if err != nil {
		return nil, err
	}
	return sign(signRequest{
		key: key, pub: pub, tx: tx, index: inputIndex, script: witnessScript, valueSat: valueSat, hashType: txscript.SigHashAll,
	})
}

// SignJustice signs, with SIGHASH_ALL, a penalty spend of a revoked counterparty output with the
// revocation private key derived from our revocation basepoint secret and the revealed
// counterpartyPerCommitmentSecret (BOLT 3, "revocationpubkey Derivation"; BOLT 5, "Revoked Transaction
// Close Handling"). The script may contain the revocation pubkey (to_local) or its HASH160 (HTLC
// outputs). Errors: see ChannelSigner; ErrInvalidSecret for an invalid secret.
func (s *InMemorySigner) SignJustice(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, counterpartyPerCommitmentSecret [32]byte) (*ecdsa.Signature, error) {
	key, pub, err := s.justiceKey(counterpartyPerCommitmentSecret)
	if err != nil {
		return nil, err
	}
	return sign(signRequest{
		key: key, pub: pub, tx: tx, index: inputIndex, script: witnessScript, valueSat: valueSat,
		hashType: txscript.SigHashAll, allowHash: true,
	})
}

// justiceKey derives the revocation private key for a revealed secret, and its public key; the last
// one is cached, since a justice transaction signs every input of a revoked commitment with it.
func (s *InMemorySigner) justiceKey(secret [32]byte) (*btcec.PrivateKey, *btcec.PublicKey, error) {
	s.mu.Lock()
	if s.justice.priv != nil && s.justice.secret == secret {
		e := s.justice
		s.mu.Unlock()
		return e.priv, e.pub, nil
	}
	s.mu.Unlock()
	key, err := DeriveRevocationPrivateKey(s.secrets.RevocationBaseKey, secret)
	if err != nil {
		return nil, nil, err
	}
	pub := key.PubKey()
	s.mu.Lock()
	s.justice = justiceEntry{secret: secret, priv: key, pub: pub}
	s.mu.Unlock()
	return key, pub, nil
}

// justiceEntry caches one revocation key.
type justiceEntry struct {
	secret [32]byte
	priv   *btcec.PrivateKey
	pub    *btcec.PublicKey
}

// SignPaymentOutput signs, with SIGHASH_ALL, a spend of our to_remote output on the counterparty's
// commitment with our payment basepoint secret (option_static_remotekey). script is the P2WPKH
// scriptPubKey, or the option_anchors P2WSH witness script. Errors: see ChannelSigner.
func (s *InMemorySigner) SignPaymentOutput(tx *wire.MsgTx, inputIndex int, script []byte, valueSat int64) (*ecdsa.Signature, error) {
	return sign(signRequest{
		key: s.secrets.PaymentKey, pub: s.pubkeys.PaymentPoint, tx: tx, index: inputIndex, script: script, valueSat: valueSat,
		hashType: txscript.SigHashAll,
	})
}

// SignAnchor signs, with SIGHASH_ALL, a spend of our anchor output with our funding key (BOLT 3,
// "to_local_anchor and to_remote_anchor Output (option_anchors)"). Errors: see ChannelSigner.
//
// The script must be exactly our anchor script: the funding key signs nothing else here (the 2-of-2
// funding script also contains it, and a signature for it would spend the channel). Errors: as
// ChannelSigner, ErrScriptKeyMismatch for another script.
func (s *InMemorySigner) SignAnchor(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64) (*ecdsa.Signature, error) {
	anchor, err := bolt3.AnchorScript(s.pubkeys.FundingPubkey)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(anchor, witnessScript) {
		return nil, fmt.Errorf("%w: not our anchor script", ErrScriptKeyMismatch)
	}
	return sign(signRequest{
		key: s.secrets.FundingKey, pub: s.pubkeys.FundingPubkey, tx: tx, index: inputIndex, script: witnessScript, valueSat: valueSat,
		hashType: txscript.SigHashAll,
	})
}

// SignChannelAnnouncementWithFundingKey signs the double-SHA256 of a channel_announcement's signed
// part with our funding key (BOLT 7, "The channel_announcement Message": bitcoin_signature). The bytes
// must parse as that part and name our funding key as bitcoin_key_1 or bitcoin_key_2, so that the
// funding key signs no other digest. Errors: ErrInvalidEncoding.
func (s *InMemorySigner) SignChannelAnnouncementWithFundingKey(announcement []byte) (*ecdsa.Signature, error) {
	if !announcementNames(announcement, s.pubkeys.FundingPubkey) {
		return nil, fmt.Errorf("%w: not a channel_announcement naming our funding key", ErrInvalidEncoding)
	}
	return ecdsa.Sign(s.secrets.FundingKey, chainhash.DoubleHashB(announcement)), nil
}

// announcementNames reports whether data parses as a channel_announcement's signed part (BOLT 7: type
// 256, features, chain_hash, short_channel_id, node_id_1, node_id_2, bitcoin_key_1, bitcoin_key_2, then
// extra bytes; lnwire.ChannelAnnouncement.DataToSign) whose bitcoin_key_1 or bitcoin_key_2 is key.
func announcementNames(data []byte, key *btcec.PublicKey) bool {
	if len(data) < 2 {
		return false
	}
	flen := int(binary.BigEndian.Uint16(data))
	rest := data[2:]
	if len(rest) < flen+32+8+4*33 {
		return false
	}
	rest = rest[flen+32+8+2*33:]
	want := key.SerializeCompressed()
	return bytes.Equal(rest[:33], want) || bytes.Equal(rest[33:66], want)
}

// ProvideChannelParameters records the channel's parameters. A second call must give the same
// funding output and keys. Errors: ErrNilKey; ErrCommitmentMismatch for parameters that contradict
// earlier ones or whose holder keys are not this signer's.
func (s *InMemorySigner) ProvideChannelParameters(p *ChannelTransactionParameters) error {
	if p == nil || p.CounterpartyPubkeys.FundingPubkey == nil || p.CounterpartyPubkeys.RevocationBasepoint == nil ||
		p.CounterpartyPubkeys.PaymentPoint == nil || p.CounterpartyPubkeys.DelayedPaymentBasepoint == nil ||
		p.CounterpartyPubkeys.HTLCBasepoint == nil {
		return ErrNilKey
	}
	if p.HolderPubkeys.FundingPubkey == nil || !p.HolderPubkeys.FundingPubkey.IsEqual(s.pubkeys.FundingPubkey) {
		return fmt.Errorf("%w: holder keys are not this signer's", ErrCommitmentMismatch)
	}
	script, err := p.FundingScript()
	if err != nil {
		return err
	}
	cp := *p
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.params != nil && (s.params.FundingOutPoint != cp.FundingOutPoint || !s.params.CounterpartyPubkeys.FundingPubkey.IsEqual(cp.CounterpartyPubkeys.FundingPubkey)) {
		return fmt.Errorf("%w: parameters differ from the ones given before", ErrCommitmentMismatch)
	}
	s.params, s.fundingScript = &cp, script
	return nil
}

// channelParams returns the parameters given to ProvideChannelParameters. Errors: ErrNoChannelParameters.
func (s *InMemorySigner) channelParams() (*ChannelTransactionParameters, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.params == nil {
		return nil, nil, ErrNoChannelParameters
	}
	return s.params, s.fundingScript, nil
}

// SignCounterpartyCommitment rebuilds the counterparty's commitment from c (ChannelTransactionParameters.Build)
// and signs it and its HTLC transactions. It trusts c.Keys; checking them is a validating signer's
// work. Errors: see ChannelSigner.
func (s *InMemorySigner) SignCounterpartyCommitment(c *CommitmentTx) (*ecdsa.Signature, []*ecdsa.Signature, error) {
	p, script, err := s.channelParams()
	if err != nil {
		return nil, nil, err
	}
	b, err := p.Build(false, c)
	if err != nil {
		return nil, nil, err
	}
	sig, err := s.SignFundingInput(c.Tx, 0, script, p.ValueSat)
	if err != nil {
		return nil, nil, err
	}
	hashType := bolt3.HTLCSigHashType(p.channelType())
	htlcSigs := make([]*ecdsa.Signature, len(b.HTLCTxs))
	for i, tx := range b.HTLCTxs {
		if htlcSigs[i], err = s.signHTLC(tx, 0, b.HTLCScripts[i], b.HTLCValuesSat[i], c.PerCommitmentPoint, hashType); err != nil {
			return nil, nil, err
		}
	}
	return sig, htlcSigs, nil
}

// ValidateHolderCommitment accepts every commitment: an InMemorySigner does not validate (wrap it
// with keys/policy for that). Errors: ErrNilTransaction.
func (s *InMemorySigner) ValidateHolderCommitment(c *CommitmentTx, _ *ecdsa.Signature, _ []*ecdsa.Signature) error {
	if c == nil || c.Tx == nil {
		return ErrNilTransaction
	}
	return nil
}

// ValidateCounterpartyRevocation accepts every secret (the channel checks it against the point).
func (s *InMemorySigner) ValidateCounterpartyRevocation(uint64, [32]byte) error { return nil }

// SignHolderCommitment signs the funding input of our commitment tx. Errors: ErrNoChannelParameters and
// those of SignFundingInput.
func (s *InMemorySigner) SignHolderCommitment(_ uint64, tx *wire.MsgTx) (*ecdsa.Signature, error) {
	p, script, err := s.channelParams()
	if err != nil {
		return nil, err
	}
	return s.SignFundingInput(tx, 0, script, p.ValueSat)
}

// SignClosingTransaction checks c (ChannelTransactionParameters.CheckClosing) and signs its funding
// input. Errors: see ChannelSigner.
func (s *InMemorySigner) SignClosingTransaction(c *ClosingTx) (*ecdsa.Signature, error) {
	p, script, err := s.channelParams()
	if err != nil {
		return nil, err
	}
	if _, err := p.CheckClosing(c); err != nil {
		return nil, err
	}
	return s.SignFundingInput(c.Tx, 0, script, p.ValueSat)
}
