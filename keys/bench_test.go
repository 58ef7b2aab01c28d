package keys

import (
	"crypto/sha256"
	"testing"
)

func BenchmarkDerivePublicKey(b *testing.B) {
	a, _ := twoSigners(b)
	point, err := a.GetPerCommitmentPoint(1)
	if err != nil {
		b.Fatal(err)
	}
	base := a.Pubkeys().HTLCBasepoint
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if DerivePublicKey(base, point) == nil {
			b.Fatal("nil")
		}
	}
}

func BenchmarkDeriveRevocationPublicKey(b *testing.B) {
	a, _ := twoSigners(b)
	point, err := a.GetPerCommitmentPoint(1)
	if err != nil {
		b.Fatal(err)
	}
	base := a.Pubkeys().RevocationBasepoint
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if DeriveRevocationPublicKey(base, point) == nil {
			b.Fatal("nil")
		}
	}
}

func BenchmarkSignFundingInput(b *testing.B) {
	a, c := twoSigners(b)
	script := fundingScript(b, a.Pubkeys().FundingPubkey, c.Pubkeys().FundingPubkey)
	tx := spendTx(fakePrev, 0, 1_000_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.SignFundingInput(tx, 0, script, 1_000_000); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetPerCommitmentPoint(b *testing.B) {
	a, _ := twoSigners(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.GetPerCommitmentPoint(uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildCommitmentSecret(b *testing.B) {
	seed := sha256.Sum256([]byte("bench"))
	for i := 0; i < b.N; i++ {
		_ = BuildCommitmentSecret(seed, uint64(i))
	}
}

func BenchmarkProvideSecret(b *testing.B) {
	seed := sha256.Sum256([]byte("bench"))
	store := NewCounterpartyCommitmentSecrets()
	for i := 0; i < b.N; i++ {
		index := uint64(MaxCommitmentIndex - i)
		if err := store.ProvideSecret(index, BuildCommitmentSecret(seed, index)); err != nil {
			b.Fatal(err)
		}
	}
}
