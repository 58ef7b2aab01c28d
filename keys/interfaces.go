package keys

import (
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// EntropySource supplies cryptographically secure random bytes to the rest of lnkit (for example for
// onion session keys and ephemeral handshake keys). Implementations must be safe for concurrent use.
type EntropySource interface {
	// GetSecureRandomBytes returns 32 fresh random bytes.
	GetSecureRandomBytes() [32]byte
}

// NodeSigner holds the node's identity key and performs every operation that needs it, without ever
// revealing it. Implementations must be safe for concurrent use.
type NodeSigner interface {
	// GetNodeID returns the node's public identity key (node_id, BOLT 7).
	GetNodeID() *btcec.PublicKey

	// ECDH returns the BOLT 8 shared secret with theirPub: SHA256 of the 33-byte compressed encoding of
	// node_secret·theirPub. Errors: ErrNilKey, or ErrInvalidPublicKey when theirPub is not on the curve.
	ECDH(theirPub *btcec.PublicKey) ([32]byte, error)

	// SignGossipMessage returns a deterministic (RFC 6979) low-S ECDSA signature with the node key of
	// the double-SHA256 of data, the signed part of one of our gossip messages: a channel_announcement
	// or channel_update from offset 256 or 66 of its payload, a node_announcement from offset 66
	// (BOLT 7; lnwire's DataToSign). A validating signer may decode data and refuse what it would not
	// announce. May return ErrSignerPending.
	SignGossipMessage(data []byte) (*ecdsa.Signature, error)

	// SignInvoice returns the BOLT 11 signature with the node key of an invoice whose human-readable
	// part is hrp and whose data part, before the signature, is data5 (5-bit groups, one per byte): a
	// recoverable signature of SHA256(hrp || data5 packed into bytes, zero-padded), in the 65-byte form
	// [header || r (32) || s (32)] where header = 27 + 4 + recovery id (0..3). Errors: ErrInvalidEncoding
	// for a group above 31; a validating signer's refusal; ErrSignerPending.
	SignInvoice(hrp string, data5 []byte) ([]byte, error)
}

// SignerProvider creates and re-creates channel signers and provides the scripts our own funds are sent
// to. Implementations must be safe for concurrent use.
type SignerProvider interface {
	// GenerateChannelKeysID returns a fresh, unique 32-byte identifier for a new channel's keys.
	// userChannelID is the host's 128-bit channel identifier.
	GenerateChannelKeysID(inbound bool, channelValueSat int64, userChannelID [16]byte) [32]byte

	// DeriveChannelSigner returns the signer for the channel whose keys id is channelKeysID. The same
	// id always yields the same keys.
	DeriveChannelSigner(channelValueSat int64, channelKeysID [32]byte) ChannelSigner

	// GetDestinationScript returns the scriptPubKey (P2WPKH, 22 bytes) that our closing and sweep outputs
	// pay to.
	GetDestinationScript(channelKeysID [32]byte) ([]byte, error)

	// GetShutdownScriptPubKey returns the scriptPubKey (P2WPKH, 22 bytes) to put in shutdown (BOLT 2);
	// cooperative closes pay our balance to it.
	GetShutdownScriptPubKey() ([]byte, error)
}

// ChannelPublicKeys is the set of public keys and basepoints of one side of a channel, as exchanged in
// open_channel and accept_channel (BOLT 2).
type ChannelPublicKeys struct {
	// FundingPubkey is funding_pubkey: our key in the 2-of-2 funding output.
	FundingPubkey *btcec.PublicKey
	// RevocationBasepoint is revocation_basepoint.
	RevocationBasepoint *btcec.PublicKey
	// PaymentPoint is payment_basepoint; with option_static_remotekey it is used directly as the
	// counterparty's to_remote key.
	PaymentPoint *btcec.PublicKey
	// DelayedPaymentBasepoint is delayed_payment_basepoint.
	DelayedPaymentBasepoint *btcec.PublicKey
	// HTLCBasepoint is htlc_basepoint.
	HTLCBasepoint *btcec.PublicKey
}

// ChannelSigner holds one channel's secrets and produces every signature the channel needs. It is
// given whole transactions with their meaning, never bare digests, so that a validating signer (one
// wrapped by keys/policy, or a remote one) can check each request against its own view of the channel
// (LDK's EcdsaChannelSigner). Any method may return ErrSignerPending (see there). All
// signatures are BIP 143 (segwit v0) ECDSA signatures, deterministic (RFC 6979) and low-S; the caller
// appends the sighash byte when it builds a witness (BOLT 2 and BOLT 3 send signatures without it).
//
// Every Sign* method checks its inputs and returns an error, never panics: ErrNilTransaction,
// ErrInvalidTransaction, ErrInputIndexOutOfRange (index negative or not below len(tx.TxIn)),
// ErrInvalidValue, ErrInvalidScript (empty or unparsable), ErrScriptKeyMismatch (the script does not
// contain the key being signed with), ErrUnsupportedSigHashType, ErrNilKey / ErrInvalidPublicKey for a bad
// point, ErrInvalidSecret for a bad secret. valueSat is the value in satoshis of the output being spent.
//
// Implementations must be safe for concurrent use. Commitment numbers count up from 0.
type ChannelSigner interface {
	// ChannelKeysID returns the 32-byte identifier the keys were derived from.
	ChannelKeysID() [32]byte

	// Pubkeys returns our public keys for this channel.
	Pubkeys() ChannelPublicKeys

	// GetPerCommitmentPoint returns our per_commitment_point for commitment number commitmentNumber.
	// Errors: ErrCommitmentNumberOutOfRange when commitmentNumber > MaxCommitmentIndex.
	GetPerCommitmentPoint(commitmentNumber uint64) (*btcec.PublicKey, error)

	// ReleaseCommitmentSecret returns our per_commitment_secret for commitment number commitmentNumber,
	// to be sent in revoke_and_ack. Revealing it revokes that commitment: the caller must never broadcast
	// it afterwards. A validating signer releases it only once commitment commitmentNumber+1 has been
	// validated (ValidateHolderCommitment). Errors: ErrCommitmentNumberOutOfRange, a refusal,
	// ErrSignerPending.
	ReleaseCommitmentSecret(commitmentNumber uint64) ([32]byte, error)

	// ProvideChannelParameters gives the signer the channel's parameters once the funding output is
	// known, before it is asked for a commitment or closing signature, and again whenever the signer
	// is re-created (LDK's provide_channel_parameters). A validating signer refuses parameters that
	// contradict ones it has. Errors: ErrNilKey for a missing key; a validating signer's refusal.
	ProvideChannelParameters(p *ChannelTransactionParameters) error

	// SignCounterpartyCommitment returns our signature of the counterparty's commitment c (its
	// funding input, SIGHASH_ALL) and our signatures of its second-stage HTLC transactions (in c.HTLCTxs
	// order, with the sighash type of BOLT 3 for the channel type): the contents of commitment_signed,
	// funding_created and funding_signed (BOLT 2). Signing the same commitment again gives the same
	// signatures. Errors: ErrNoChannelParameters, ErrCommitmentMismatch, a validating signer's refusal,
	// ErrSignerPending.
	SignCounterpartyCommitment(c *CommitmentTx) (sig *ecdsa.Signature, htlcSigs []*ecdsa.Signature, err error)

	// ValidateHolderCommitment is told of our next commitment c and the counterparty's signatures of it
	// (commitment_signed), before we revoke the previous one (LDK's validate_holder_commitment). A
	// validating signer records it (it may later be broadcast) and refuses one it would not accept.
	// Errors: ErrNoChannelParameters, ErrCommitmentMismatch, a refusal, ErrSignerPending.
	ValidateHolderCommitment(c *CommitmentTx, counterpartySig *ecdsa.Signature, counterpartyHTLCSigs []*ecdsa.Signature) error

	// ValidateCounterpartyRevocation is told of the counterparty's per_commitment_secret for their
	// commitment commitmentNumber (revoke_and_ack). Errors: a refusal (for example a secret that does not
	// match the point), ErrSignerPending.
	ValidateCounterpartyRevocation(commitmentNumber uint64, secret [32]byte) error

	// SignHolderCommitment returns our signature of the funding input of our commitment tx, number
	// commitmentNumber, to broadcast it (a force close). A validating signer signs only the latest
	// commitment it validated and refuses a revoked one. Errors: ErrNoChannelParameters, a refusal,
	// ErrSignerPending.
	SignHolderCommitment(commitmentNumber uint64, tx *wire.MsgTx) (*ecdsa.Signature, error)

	// SignClosingTransaction returns our signature (SIGHASH_ALL) of the funding input of a cooperative
	// closing transaction (BOLT 2 closing_signed). Errors: ErrNoChannelParameters, ErrCommitmentMismatch,
	// a refusal (for example our output to a script outside the wallet), ErrSignerPending.
	SignClosingTransaction(c *ClosingTx) (*ecdsa.Signature, error)

	// SignCounterpartyHTLCTx signs an HTLC-success or HTLC-timeout transaction spending an HTLC output of
	// the counterparty's commitment transaction, with our HTLC key for that commitment (derived from our
	// htlc_basepoint and counterpartyPerCommitmentPoint, the point of THEIR commitment). sigHashType is
	// txscript.SigHashAll (legacy channels) or txscript.SigHashSingle|txscript.SigHashAnyOneCanPay
	// (option_anchors; BOLT 3, "HTLC-Timeout and HTLC-Success Transactions").
	SignCounterpartyHTLCTx(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, counterpartyPerCommitmentPoint *btcec.PublicKey, sigHashType txscript.SigHashType) (*ecdsa.Signature, error)

	// SignHolderHTLCTx signs one of our own commitment's second-stage HTLC transactions with our HTLC
	// key derived from ourPerCommitmentPoint. sigHashType is as for SignCounterpartyHTLCTx; for our own
	// signature it is normally SigHashAll.
	SignHolderHTLCTx(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, ourPerCommitmentPoint *btcec.PublicKey, sigHashType txscript.SigHashType) (*ecdsa.Signature, error)

	// SignDelayedOutput signs, with SIGHASH_ALL, a spend of one of our delayed outputs (to_local of our
	// commitment, or the output of our HTLC-success/HTLC-timeout transaction) after to_self_delay, with
	// local_delayedprivkey derived from our delayed_payment_basepoint and ourPerCommitmentPoint.
	SignDelayedOutput(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, ourPerCommitmentPoint *btcec.PublicKey) (*ecdsa.Signature, error)

	// SignJustice signs, with SIGHASH_ALL, a penalty spend of a revoked counterparty output (to_local or
	// an HTLC output of their revoked commitment, or the output of their second-stage HTLC transaction)
	// with the revocation private key derived from our revocation_basepoint secret and the per-commitment
	// secret they revealed.
	SignJustice(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64, counterpartyPerCommitmentSecret [32]byte) (*ecdsa.Signature, error)

	// SignPaymentOutput signs, with SIGHASH_ALL, a spend of our to_remote output on the counterparty's
	// commitment. With option_static_remotekey the key is our payment point itself and script is the
	// P2WPKH scriptPubKey (0x0014<HASH160(payment point)>); with option_anchors script is the P2WSH
	// witness script <payment point> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY.
	SignPaymentOutput(tx *wire.MsgTx, inputIndex int, script []byte, valueSat int64) (*ecdsa.Signature, error)

	// SignAnchor signs, with SIGHASH_ALL, a spend of our anchor output (witness script
	// <funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF) with our
	// funding key, for CPFP (BOLT 3, "to_local_anchor and to_remote_anchor Output").
	SignAnchor(tx *wire.MsgTx, inputIndex int, witnessScript []byte, valueSat int64) (*ecdsa.Signature, error)

	// SignChannelAnnouncementWithFundingKey returns the bitcoin_signature of a channel_announcement
	// (BOLT 7): a deterministic low-S ECDSA signature, with our funding key, of the double-SHA256 of
	// announcement, which is the message from offset 256 of its payload (after the four signatures) to
	// its end (lnwire.ChannelAnnouncement.DataToSign). Errors: ErrInvalidEncoding for an empty
	// announcement.
	SignChannelAnnouncementWithFundingKey(announcement []byte) (*ecdsa.Signature, error)

	// Write returns the bytes to persist so the signer can be re-created with KeysManager.ReadChannelSigner:
	// the 32-byte keys id followed by the channel value in satoshis (8 bytes big-endian). It holds no
	// secret.
	Write() []byte
}
