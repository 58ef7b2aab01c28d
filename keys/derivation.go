package keys

import (
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
)

// hashPoints returns SHA256(a || b) over the two 33-byte compressed encodings, read as a big-endian
// integer and reduced modulo the group order n. The reduction changes the value with negligible
// probability (about 2^-128) and matches what the BOLT 3 derivations mean by multiplying by the hash.
func hashPoints(a, b *btcec.PublicKey) btcec.ModNScalar {
	h := sha256.New()
	h.Write(a.SerializeCompressed())
	h.Write(b.SerializeCompressed())
	var sum [32]byte
	h.Sum(sum[:0])
	var s btcec.ModNScalar
	s.SetBytes(&sum)
	return s
}

// validPoint reports whether p is non-nil and on the curve.
func validPoint(p *btcec.PublicKey) bool {
	return p != nil && p.IsOnCurve()
}

// jacobianToPublicKey converts p to affine coordinates and returns it as a public key, or nil when p is
// the point at infinity.
func jacobianToPublicKey(p *btcec.JacobianPoint) *btcec.PublicKey {
	if (p.X.IsZero() && p.Y.IsZero()) || p.Z.IsZero() {
		return nil
	}
	p.ToAffine()
	return btcec.NewPublicKey(&p.X, &p.Y)
}

// scalarFromSecret reads a 32-byte big-endian secret as a scalar. It fails with ErrInvalidSecret when the
// value is zero or not below the group order n.
func scalarFromSecret(secret *[32]byte) (btcec.ModNScalar, error) {
	var s btcec.ModNScalar
	if overflow := s.SetBytes(secret); overflow != 0 {
		return s, fmt.Errorf("%w: value is not below the group order", ErrInvalidSecret)
	}
	if s.IsZero() {
		return s, fmt.Errorf("%w: value is zero", ErrInvalidSecret)
	}
	return s, nil
}

// DerivePublicKey derives a per-commitment public key (localpubkey, remotepubkey, local_htlcpubkey,
// remote_htlcpubkey or local_delayedpubkey) from a basepoint and a per_commitment_point:
//
//	pubkey = basepoint + SHA256(per_commitment_point || basepoint)·G
//
// Both points are hashed in their 33-byte compressed form. It returns nil when either argument is nil or
// not on the curve, or in the (negligible, not attacker-reachable without knowing a discrete log) case
// that the result is the point at infinity.
//
// Source: BOLT 3, "Key Derivation", "localpubkey, local_htlcpubkey, remote_htlcpubkey,
// local_delayedpubkey, and remote_delayedpubkey Derivation".
func DerivePublicKey(basepoint, perCommitmentPoint *btcec.PublicKey) *btcec.PublicKey {
	if !validPoint(basepoint) || !validPoint(perCommitmentPoint) {
		return nil
	}
	tweak := hashPoints(perCommitmentPoint, basepoint)
	var tweakPoint, base, sum btcec.JacobianPoint
	btcec.ScalarBaseMultNonConst(&tweak, &tweakPoint)
	basepoint.AsJacobian(&base)
	btcec.AddNonConst(&base, &tweakPoint, &sum)
	return jacobianToPublicKey(&sum)
}

// DerivePrivateKey derives the private key matching DerivePublicKey(baseSecret·G, perCommitmentPoint):
//
//	privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)   (mod n)
//
// It returns nil when either argument is nil, the point is not on the curve, or the result would be zero
// (negligible probability).
//
// Source: BOLT 3, "Key Derivation".
func DerivePrivateKey(baseSecret *btcec.PrivateKey, perCommitmentPoint *btcec.PublicKey) *btcec.PrivateKey {
	if baseSecret == nil || !validPoint(perCommitmentPoint) {
		return nil
	}
	tweak := hashPoints(perCommitmentPoint, baseSecret.PubKey())
	var k btcec.ModNScalar
	k.Add2(&baseSecret.Key, &tweak)
	if k.IsZero() {
		return nil
	}
	return btcec.PrivKeyFromScalar(&k)
}

// DeriveRevocationPublicKey derives the revocationpubkey of a commitment transaction from the
// counterparty's revocation_basepoint and the commitment's per_commitment_point:
//
//	revocationpubkey = revocation_basepoint·SHA256(revocation_basepoint || per_commitment_point)
//	                 + per_commitment_point·SHA256(per_commitment_point || revocation_basepoint)
//
// It returns nil when either argument is nil or not on the curve, or when the result is the point at
// infinity.
//
// Source: BOLT 3, "Key Derivation", "revocationpubkey Derivation".
func DeriveRevocationPublicKey(revocationBasepoint, perCommitmentPoint *btcec.PublicKey) *btcec.PublicKey {
	if !validPoint(revocationBasepoint) || !validPoint(perCommitmentPoint) {
		return nil
	}
	h1 := hashPoints(revocationBasepoint, perCommitmentPoint)
	h2 := hashPoints(perCommitmentPoint, revocationBasepoint)
	var rb, pc, a, b, sum btcec.JacobianPoint
	revocationBasepoint.AsJacobian(&rb)
	perCommitmentPoint.AsJacobian(&pc)
	btcec.ScalarMultNonConst(&h1, &rb, &a)
	btcec.ScalarMultNonConst(&h2, &pc, &b)
	btcec.AddNonConst(&a, &b, &sum)
	return jacobianToPublicKey(&sum)
}

// DeriveRevocationPrivateKey derives the private key for revocationpubkey once the counterparty has
// revealed the commitment's per_commitment_secret:
//
//	revocationprivkey = revocation_basepoint_secret·SHA256(revocation_basepoint || per_commitment_point)
//	                  + per_commitment_secret·SHA256(per_commitment_point || revocation_basepoint)  (mod n)
//
// perCommitmentSecret is the 32-byte big-endian secret. Errors: ErrNilKey when revocationBaseSecret is
// nil; ErrInvalidSecret when perCommitmentSecret is zero or not below the group order, or the result is
// zero.
//
// Source: BOLT 3, "Key Derivation", "revocationpubkey Derivation".
func DeriveRevocationPrivateKey(revocationBaseSecret *btcec.PrivateKey, perCommitmentSecret [32]byte) (*btcec.PrivateKey, error) {
	if revocationBaseSecret == nil {
		return nil, ErrNilKey
	}
	pcs, err := scalarFromSecret(&perCommitmentSecret)
	if err != nil {
		return nil, err
	}
	pcsKey := btcec.PrivKeyFromScalar(&pcs)
	revocationBasepoint := revocationBaseSecret.PubKey()
	perCommitmentPoint := pcsKey.PubKey()
	h1 := hashPoints(revocationBasepoint, perCommitmentPoint)
	h2 := hashPoints(perCommitmentPoint, revocationBasepoint)
	var a, b btcec.ModNScalar
	a.Mul2(&revocationBaseSecret.Key, &h1)
	b.Mul2(&pcs, &h2)
	a.Add(&b)
	if a.IsZero() {
		return nil, fmt.Errorf("%w: derived revocation key is zero", ErrInvalidSecret)
	}
	return btcec.PrivKeyFromScalar(&a), nil
}

// ComputePerCommitmentPoint returns per_commitment_point = per_commitment_secret·G for a 32-byte secret
// (BOLT 3, "Per-commitment Secret Requirements"; BOLT 2 uses it to check a revoke_and_ack's secret
// against the point received earlier). Errors: ErrInvalidSecret when the secret is zero or not below the
// group order.
func ComputePerCommitmentPoint(perCommitmentSecret [32]byte) (*btcec.PublicKey, error) {
	s, err := scalarFromSecret(&perCommitmentSecret)
	if err != nil {
		return nil, err
	}
	var p btcec.JacobianPoint
	btcec.ScalarBaseMultNonConst(&s, &p)
	pub := jacobianToPublicKey(&p)
	if pub == nil {
		return nil, ErrInvalidSecret
	}
	return pub, nil
}
