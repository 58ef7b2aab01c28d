// Package keys is lnkit's key management and channel signing: the BOLT 3 key derivations
// (DerivePublicKey, DerivePrivateKey, DeriveRevocationPublicKey, DeriveRevocationPrivateKey), the
// per-commitment secret generator and its compact receiver-side storage (BuildCommitmentSecret,
// CounterpartyCommitmentSecrets), the signer interfaces the rest of lnkit is written against
// (EntropySource, NodeSigner, SignerProvider, ChannelSigner), and KeysManager / InMemorySigner, which
// derive every key from one 32-byte seed.
//
// Commitment numbers in this package's API count up from 0; per-commitment secret indices count down
// from MaxCommitmentIndex (2^48-1) as in BOLT 3, and CommitmentNumberToIndex converts between them.
//
// The package never starts goroutines, reads the clock or does I/O; every exported type is safe for
// concurrent use.
package keys
