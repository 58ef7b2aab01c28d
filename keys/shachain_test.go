package keys

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/require"
)

type secretGenerationVector struct {
	Name   string `json:"name"`
	Seed   string `json:"seed"`
	Index  uint64 `json:"index"`
	Output string `json:"output"`
}

// TestPerCommitmentSecretGeneration checks all five BOLT 3 Appendix D generation vectors.
func TestPerCommitmentSecretGeneration(t *testing.T) {
	var vectors []secretGenerationVector
	loadJSON(t, "per-commitment-secret-generation.json", &vectors)
	require.Len(t, vectors, 5)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			got := BuildCommitmentSecret(mustHex32(t, v.Seed), v.Index)
			require.Equal(t, v.Output, hex.EncodeToString(got[:]))
		})
	}
}

type storageFile struct {
	Tests []struct {
		Name    string `json:"name"`
		Inserts []struct {
			Index  uint64 `json:"index"`
			Secret string `json:"secret"`
			Output string `json:"output"`
		} `json:"inserts"`
	} `json:"tests"`
}

// TestPerCommitmentSecretStorage checks all nine BOLT 3 Appendix D storage tests, every insert's
// OK/ERROR outcome, and that every accepted secret is retrievable afterwards.
func TestPerCommitmentSecretStorage(t *testing.T) {
	var f storageFile
	loadJSON(t, "per-commitment-secret-storage.json", &f)
	require.Len(t, f.Tests, 9)
	checked, errorsSeen := 0, 0
	for _, tc := range f.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			store := NewCounterpartyCommitmentSecrets()
			accepted := map[uint64][32]byte{}
			for i, ins := range tc.Inserts {
				secret := mustHex32(t, ins.Secret)
				before := store.Encode()
				err := store.ProvideSecret(ins.Index, secret)
				switch ins.Output {
				case "OK":
					require.NoError(t, err, "insert %d", i)
					accepted[ins.Index] = secret
					require.Equal(t, ins.Index, store.MinSeenIndex())
				case "ERROR":
					require.ErrorIs(t, err, ErrSecretMismatch, "insert %d", i)
					require.Equal(t, before, store.Encode(), "store unchanged after rejected insert")
					errorsSeen++
				default:
					t.Fatalf("unknown output %q", ins.Output)
				}
				checked++
				for idx, want := range accepted {
					got, ok := store.GetSecret(idx)
					require.True(t, ok, "index %d", idx)
					require.Equal(t, want, got, "index %d", idx)
				}
			}
		})
	}
	require.Equal(t, 56, checked)
	require.Equal(t, 8, errorsSeen)
}

func TestCommitmentNumberConversion(t *testing.T) {
	idx, err := CommitmentNumberToIndex(0)
	require.NoError(t, err)
	require.Equal(t, uint64(MaxCommitmentIndex), idx)
	idx, err = CommitmentNumberToIndex(MaxCommitmentIndex)
	require.NoError(t, err)
	require.Equal(t, uint64(0), idx)
	n, err := IndexToCommitmentNumber(MaxCommitmentIndex - 42)
	require.NoError(t, err)
	require.Equal(t, uint64(42), n)
	_, err = CommitmentNumberToIndex(MaxCommitmentIndex + 1)
	require.ErrorIs(t, err, ErrCommitmentNumberOutOfRange)
	_, err = IndexToCommitmentNumber(MaxCommitmentIndex + 1)
	require.ErrorIs(t, err, ErrCommitmentNumberOutOfRange)
}

// naiveSecret computes a per-commitment secret straight from the spec's pseudo-code, as an independent
// reference for BuildCommitmentSecret.
func naiveSecret(seed [32]byte, index uint64) [32]byte {
	p := seed
	for b := 47; b >= 0; b-- {
		if (index>>uint(b))&1 == 1 {
			p[b/8] ^= 1 << (uint(b) % 8)
			p = sha256.Sum256(p[:])
		}
	}
	return p
}

// TestStorageLongSequence inserts 3000 secrets in order, checks every one stays retrievable, the store
// never holds more than 49 entries, and encoding round-trips at every step.
func TestStorageLongSequence(t *testing.T) {
	seed := sha256.Sum256([]byte("long sequence"))
	store := NewCounterpartyCommitmentSecrets()
	require.Equal(t, uint64(MaxCommitmentIndex+1), store.MinSeenIndex())
	require.Equal(t, uint64(0), store.NumReceived())
	const n = 3000
	for c := uint64(0); c < n; c++ {
		index := MaxCommitmentIndex - c
		require.NoError(t, store.ProvideSecret(index, naiveSecret(seed, index)))
		require.Equal(t, c+1, store.NumReceived())
		enc := store.Encode()
		require.LessOrEqual(t, len(enc), MaxEncodedSecretsLen)
		require.Equal(t, 1+int(enc[0])*40, len(enc))
		var decoded CounterpartyCommitmentSecrets
		require.NoError(t, decoded.Decode(enc), "commitment %d", c)
		require.Equal(t, enc, decoded.Encode())
	}
	for c := uint64(0); c < n; c++ {
		index := MaxCommitmentIndex - c
		got, ok := store.GetSecret(index)
		require.True(t, ok)
		require.Equal(t, naiveSecret(seed, index), got)
		got, ok = store.GetSecretForCommitment(c)
		require.True(t, ok)
		require.Equal(t, naiveSecret(seed, index), got)
	}
	_, ok := store.GetSecretForCommitment(n)
	require.False(t, ok, "not yet received")
	_, ok = store.GetSecret(MaxCommitmentIndex + 1)
	require.False(t, ok)

	checkWrongNext(t, store, seed)
}

// checkWrongNext checks how a wrong next secret is handled. At an index with a nonzero slot it is
// rejected at once. At an odd index (slot 0) nothing stored can be derived from it, so the spec's
// algorithm accepts it, and the following (even) index is rejected instead. Then the right secret is
// accepted. store must have received at least one secret.
func checkWrongNext(t *testing.T, store *CounterpartyCommitmentSecrets, seed [32]byte) {
	t.Helper()
	next := store.MinSeenIndex() - 1
	wrong := naiveSecret(seed, next)
	wrong[31] ^= 0x80
	if slotForIndex(next) > 0 {
		require.ErrorIs(t, store.ProvideSecret(next, wrong), ErrSecretMismatch)
	} else {
		var tmp CounterpartyCommitmentSecrets
		require.NoError(t, tmp.Decode(store.Encode()))
		require.NoError(t, tmp.ProvideSecret(next, wrong), "unverifiable at an odd index")
		require.ErrorIs(t, tmp.ProvideSecret(next-1, naiveSecret(seed, next-1)), ErrSecretMismatch)
	}
	require.NoError(t, store.ProvideSecret(next, naiveSecret(seed, next)))
	got, ok := store.GetSecret(next)
	require.True(t, ok)
	require.Equal(t, naiveSecret(seed, next), got)
}

func TestStorageOrdering(t *testing.T) {
	seed := sha256.Sum256([]byte("ordering"))
	store := NewCounterpartyCommitmentSecrets()
	require.ErrorIs(t, store.ProvideSecret(MaxCommitmentIndex-1, naiveSecret(seed, MaxCommitmentIndex-1)), ErrUnexpectedSecretIndex)
	require.ErrorIs(t, store.ProvideSecret(MaxCommitmentIndex+1, [32]byte{}), ErrCommitmentNumberOutOfRange)
	require.NoError(t, store.ProvideSecret(MaxCommitmentIndex, naiveSecret(seed, MaxCommitmentIndex)))
	require.ErrorIs(t, store.ProvideSecret(MaxCommitmentIndex, naiveSecret(seed, MaxCommitmentIndex)), ErrUnexpectedSecretIndex, "repeat")
	require.ErrorIs(t, store.ProvideSecret(MaxCommitmentIndex-2, naiveSecret(seed, MaxCommitmentIndex-2)), ErrUnexpectedSecretIndex, "gap")
	require.NoError(t, store.ProvideSecret(MaxCommitmentIndex-1, naiveSecret(seed, MaxCommitmentIndex-1)))
	require.Equal(t, uint64(2), store.NumReceived())
}

// canonicalIndex is the test's own statement of which index slot s holds after in-order insertion down
// to minSeen: the smallest index >= minSeen with exactly s trailing zero bits (index 0 for slot 48).
func canonicalIndex(minSeen uint64, s uint) (uint64, bool) {
	if s == 48 {
		return 0, minSeen == 0
	}
	step := uint64(1) << s
	r := (minSeen + step - 1) / step * step
	if r == 0 || bits.TrailingZeros64(r) != int(s) {
		r += step
	}
	return r, r <= MaxCommitmentIndex
}

// encodeCanonical builds the encoding of a store that has received every secret of seed from
// MaxCommitmentIndex down to minSeen.
func encodeCanonical(seed [32]byte, minSeen uint64) []byte {
	out := []byte{0}
	for s := uint(0); s < numSecretSlots; s++ {
		idx, ok := canonicalIndex(minSeen, s)
		if !ok {
			continue
		}
		out[0]++
		out = binary.BigEndian.AppendUint64(out, idx)
		secret := naiveSecret(seed, idx)
		out = append(out, secret[:]...)
	}
	return out
}

// TestStorageDeepIndices decodes stores that have received nearly all 2^48 secrets (which cannot be
// reached by inserting) and checks retrieval and the next insert.
func TestStorageDeepIndices(t *testing.T) {
	seed := sha256.Sum256([]byte("deep"))
	for _, minSeen := range []uint64{0, 1, 2, 3, 1000, 1 << 20, 0xaaaaaaaaaaaa, 0x555555555555, MaxCommitmentIndex - 1, MaxCommitmentIndex} {
		var store CounterpartyCommitmentSecrets
		enc := encodeCanonical(seed, minSeen)
		require.NoError(t, store.Decode(enc), "minSeen %d", minSeen)
		require.Equal(t, enc, store.Encode())
		require.Equal(t, minSeen, store.MinSeenIndex())
		require.Equal(t, MaxCommitmentIndex+1-minSeen, store.NumReceived())
		for _, idx := range []uint64{minSeen, minSeen + 1, minSeen + 12345, MaxCommitmentIndex, minSeen | 0x0f0f0f0f0f} {
			if idx > MaxCommitmentIndex {
				continue
			}
			got, ok := store.GetSecret(idx)
			require.True(t, ok, "minSeen %d idx %d", minSeen, idx)
			require.Equal(t, naiveSecret(seed, idx), got)
		}
		if minSeen > 0 {
			_, ok := store.GetSecret(minSeen - 1)
			require.False(t, ok)
			checkWrongNext(t, &store, seed)
		} else {
			require.ErrorIs(t, store.ProvideSecret(0, naiveSecret(seed, 0)), ErrUnexpectedSecretIndex, "store is full")
		}
	}
}

func TestStorageDecodeErrors(t *testing.T) {
	seed := sha256.Sum256([]byte("decode errors"))
	valid := encodeCanonical(seed, MaxCommitmentIndex-5) // 3 entries: slots 0, 1, 2

	mutate := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), valid...)
		return f(b)
	}
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":           {nil, ErrInvalidEncoding},
		"count too large": {[]byte{50}, ErrInvalidEncoding},
		"truncated":       {valid[:len(valid)-1], ErrInvalidEncoding},
		"trailing byte":   {append(append([]byte(nil), valid...), 0), ErrInvalidEncoding},
		"index above 2^48-1": {mutate(func(b []byte) []byte {
			b[1] = 0x01
			return b
		}), ErrInvalidEncoding},
		"slots out of order": {mutate(func(b []byte) []byte {
			e0 := append([]byte(nil), b[1:41]...)
			copy(b[1:41], b[41:81])
			copy(b[41:81], e0)
			return b
		}), ErrInvalidEncoding},
		"missing entry": {mutate(func(b []byte) []byte {
			b[0] = 2
			return b[:81]
		}), ErrInvalidEncoding},
		"wrong index": {mutate(func(b []byte) []byte {
			b[88] ^= 0x08 // slot-2 entry index 0x..fffc becomes 0x..fff4: same slot, not canonical
			return b
		}), ErrInvalidEncoding},
		"inconsistent secret": {mutate(func(b []byte) []byte {
			b[1+8] ^= 1 // secret of the slot-0 entry
			return b
		}), ErrSecretMismatch},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			store := NewCounterpartyCommitmentSecrets()
			require.NoError(t, store.Decode(valid))
			err := store.Decode(tc.data)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, valid, store.Encode(), "store unchanged on error")
		})
	}
	// Sanity: the "wrong index" mutation really hit the slot-2 entry's index field.
	require.Equal(t, uint64(MaxCommitmentIndex-3), binary.BigEndian.Uint64(valid[81:89]))

	var empty CounterpartyCommitmentSecrets
	require.NoError(t, empty.Decode([]byte{0}))
	require.Equal(t, []byte{0}, empty.Encode())
}

// FuzzCounterpartyCommitmentSecretsDecode checks Decode never panics, and that whatever it accepts
// re-encodes identically and answers consistently.
func FuzzCounterpartyCommitmentSecretsDecode(f *testing.F) {
	seed := sha256.Sum256([]byte("fuzz"))
	for _, m := range []uint64{MaxCommitmentIndex + 1, MaxCommitmentIndex, MaxCommitmentIndex - 7, 12345, 0} {
		f.Add(encodeCanonical(seed, m))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var store CounterpartyCommitmentSecrets
		if err := store.Decode(data); err != nil {
			return
		}
		require.Equal(t, data, store.Encode())
		minSeen := store.MinSeenIndex()
		if minSeen <= MaxCommitmentIndex {
			_, ok := store.GetSecret(minSeen)
			require.True(t, ok)
			_, ok = store.GetSecret(MaxCommitmentIndex)
			require.True(t, ok)
		}
	})
}
