package keys

import "errors"

// Sentinel errors returned by this package. Functions wrap them with detail using fmt.Errorf("%w"), so
// callers should test with errors.Is.
var (
	// ErrNilKey is returned when a required public or private key argument is nil.
	ErrNilKey = errors.New("keys: nil key")

	// ErrInvalidPublicKey is returned when a public key is not a valid point on secp256k1.
	ErrInvalidPublicKey = errors.New("keys: invalid public key")

	// ErrInvalidSecret is returned when a 32-byte secret is not a valid secp256k1 scalar (it is zero, or
	// not below the group order n), or when a derived private key would be zero.
	ErrInvalidSecret = errors.New("keys: secret is not a valid secp256k1 scalar")

	// ErrCommitmentNumberOutOfRange is returned when a commitment number or a per-commitment secret index is
	// above MaxCommitmentIndex (2^48-1).
	ErrCommitmentNumberOutOfRange = errors.New("keys: commitment number or index above 2^48-1")

	// ErrSecretMismatch is returned by CounterpartyCommitmentSecrets.ProvideSecret when a secret already
	// stored cannot be derived from the new one (BOLT 3, "Efficient Per-commitment Secret Storage"), and by
	// Decode when the stored secrets are not consistent with each other. The peer sent a bad secret.
	ErrSecretMismatch = errors.New("keys: per-commitment secret does not match previously received secrets")

	// ErrUnexpectedSecretIndex is returned by CounterpartyCommitmentSecrets.ProvideSecret when the index is
	// not the one directly below the lowest index received so far (secrets must arrive in order, starting
	// at 2^48-1).
	ErrUnexpectedSecretIndex = errors.New("keys: per-commitment secret index out of sequence")

	// ErrInvalidEncoding is returned by the decoders (CounterpartyCommitmentSecrets.Decode,
	// KeysManager.ReadChannelSigner) when the bytes are not a valid encoding.
	ErrInvalidEncoding = errors.New("keys: invalid encoding")

	// ErrNilTransaction is returned by the Sign* methods when the transaction is nil.
	ErrNilTransaction = errors.New("keys: nil transaction")

	// ErrInvalidTransaction is returned by the Sign* methods when the transaction holds a nil input or
	// output.
	ErrInvalidTransaction = errors.New("keys: transaction has a nil input or output")

	// ErrInputIndexOutOfRange is returned by the Sign* methods when the input index is negative or not
	// below the number of inputs.
	ErrInputIndexOutOfRange = errors.New("keys: input index out of range")

	// ErrInvalidValue is returned by the Sign* methods when the spent output's value is negative or above
	// 21 million BTC.
	ErrInvalidValue = errors.New("keys: invalid output value")

	// ErrInvalidScript is returned by the Sign* methods when the script is empty or does not parse.
	ErrInvalidScript = errors.New("keys: invalid script")

	// ErrScriptKeyMismatch is returned by the Sign* methods when the script does not contain the public
	// key (or, for P2WPKH and the revocation key in HTLC scripts, its HASH160) that the method would sign
	// with: signing it would be useless, so it indicates a caller bug.
	ErrScriptKeyMismatch = errors.New("keys: script does not commit to the signing key")

	// ErrUnsupportedSigHashType is returned by the Sign* methods for a sighash type other than the ones
	// the method documents, and for SIGHASH_SINGLE when there is no output at the input's index.
	ErrUnsupportedSigHashType = errors.New("keys: unsupported sighash type")

	// ErrNilSigHashes is returned by SignFundingInputWithSigHashes when the sighash midstate is nil.
	ErrNilSigHashes = errors.New("keys: nil sighash midstate")
)
