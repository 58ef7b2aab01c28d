package keys

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
)

// MaxCommitmentIndex is the largest per-commitment secret index, 2^48-1. The first commitment (number 0)
// uses this index and each later commitment the index one lower (BOLT 3, "Per-commitment Secret
// Requirements"). It is also the largest valid commitment number.
const MaxCommitmentIndex = 1<<48 - 1

// numSecretSlots is the number of entries in compact storage: one per possible count of trailing zero
// bits of a 48-bit index (0..47), plus one for index 0.
const numSecretSlots = 49

// CommitmentNumberToIndex converts a commitment number (counting up from 0, as lnkit's API does) to the
// per-commitment secret index used by the BOLT 3 generation algorithm: 2^48-1-n. Errors:
// ErrCommitmentNumberOutOfRange when n > MaxCommitmentIndex.
func CommitmentNumberToIndex(commitmentNumber uint64) (uint64, error) {
	if commitmentNumber > MaxCommitmentIndex {
		return 0, fmt.Errorf("%w: commitment number %d", ErrCommitmentNumberOutOfRange, commitmentNumber)
	}
	return MaxCommitmentIndex - commitmentNumber, nil
}

// IndexToCommitmentNumber is the inverse of CommitmentNumberToIndex: 2^48-1-index. Errors:
// ErrCommitmentNumberOutOfRange when index > MaxCommitmentIndex.
func IndexToCommitmentNumber(index uint64) (uint64, error) {
	if index > MaxCommitmentIndex {
		return 0, fmt.Errorf("%w: index %d", ErrCommitmentNumberOutOfRange, index)
	}
	return MaxCommitmentIndex - index, nil
}

// deriveSecret walks down from base (the secret of a node whose index has its low `height` bits zero)
// to the node for index: for each bit b below height, from high to low, that is set in index, flip bit b
// of the value (bit b%8 of byte b/8) and hash it with SHA256. Bits of index at or above height are
// ignored.
func deriveSecret(base [32]byte, height uint, index uint64) [32]byte {
	p := base
	for b := int(height) - 1; b >= 0; b-- {
		if index&(1<<uint(b)) != 0 {
			p[b/8] ^= 1 << uint(b%8)
			p = sha256.Sum256(p[:])
		}
	}
	return p
}

// BuildCommitmentSecret returns the per-commitment secret for a 48-bit index from a 32-byte seed, using
// the spec's generation algorithm (generate_from_seed with 48 bits). Only the low 48 bits of index are
// used; convert a commitment number with CommitmentNumberToIndex first.
//
// Source: BOLT 3, "Per-commitment Secret Requirements".
func BuildCommitmentSecret(seed [32]byte, index uint64) [32]byte {
	return deriveSecret(seed, 48, index&MaxCommitmentIndex)
}

// slotForIndex returns the storage slot of an index: its number of trailing zero bits, or 48 for index 0
// (BOLT 3, "Efficient Per-commitment Secret Storage", where_to_put_secret).
func slotForIndex(index uint64) uint {
	if index == 0 {
		return 48
	}
	return uint(bits.TrailingZeros64(index))
}

type storedSecret struct {
	index  uint64
	secret [32]byte
	set    bool
}

// CounterpartyCommitmentSecrets stores the per-commitment secrets a counterparty has revealed (in
// revoke_and_ack), in the compact form of BOLT 3, "Efficient Per-commitment Secret Storage": at most 49
// (index, secret) entries, from which every secret received so far can be re-derived.
//
// Secrets must be provided in order: the first at index MaxCommitmentIndex (commitment number 0), then
// each next index one lower. The zero value is an empty store ready for use. It is safe for concurrent
// use; do not copy it after first use.
type CounterpartyCommitmentSecrets struct {
	mu    sync.Mutex
	known [numSecretSlots]storedSecret
}

// NewCounterpartyCommitmentSecrets returns an empty store.
func NewCounterpartyCommitmentSecrets() *CounterpartyCommitmentSecrets {
	return &CounterpartyCommitmentSecrets{}
}

// minSeenLocked returns the lowest index stored, or 2^48 when the store is empty. The most recently
// inserted secret always has the lowest index and is always kept in its slot.
func (c *CounterpartyCommitmentSecrets) minSeenLocked() uint64 {
	minSeen := uint64(MaxCommitmentIndex + 1)
	for i := range c.known {
		if c.known[i].set && c.known[i].index < minSeen {
			minSeen = c.known[i].index
		}
	}
	return minSeen
}

// MinSeenIndex returns the lowest per-commitment secret index received so far, or 2^48
// (MaxCommitmentIndex+1) when no secret has been received. The next secret ProvideSecret accepts has
// index MinSeenIndex()-1.
func (c *CounterpartyCommitmentSecrets) MinSeenIndex() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.minSeenLocked()
}

// NumReceived returns how many secrets have been received: the counterparty's commitments numbered 0 to
// NumReceived()-1 are revoked.
func (c *CounterpartyCommitmentSecrets) NumReceived() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return MaxCommitmentIndex + 1 - c.minSeenLocked()
}

// ProvideSecret stores the per-commitment secret for index (a BOLT 3 index, counting down from
// MaxCommitmentIndex), after checking that every secret already stored that the new one should generate
// is indeed derived from it (insert_secret in BOLT 3, "Efficient Per-commitment Secret Storage").
//
// Errors: ErrCommitmentNumberOutOfRange when index > MaxCommitmentIndex; ErrUnexpectedSecretIndex when
// index is not MinSeenIndex()-1; ErrSecretMismatch when a stored secret cannot be derived from secret
// (the peer is cheating or buggy; the BOLTs require failing the channel). The store is unchanged on error.
func (c *CounterpartyCommitmentSecrets) ProvideSecret(index uint64, secret [32]byte) error {
	if index > MaxCommitmentIndex {
		return fmt.Errorf("%w: index %d", ErrCommitmentNumberOutOfRange, index)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	minSeen := c.minSeenLocked()
	if minSeen == 0 || index != minSeen-1 {
		return fmt.Errorf("%w: got index %d, want %d", ErrUnexpectedSecretIndex, index, minSeen-1)
	}
	slot := slotForIndex(index)
	for b := uint(0); b < slot; b++ {
		k := &c.known[b]
		if !k.set {
			continue
		}
		if deriveSecret(secret, slot, k.index) != k.secret {
			return fmt.Errorf("%w: secret for index %d does not derive stored index %d",
				ErrSecretMismatch, index, k.index)
		}
	}
	c.known[slot] = storedSecret{index: index, secret: secret, set: true}
	return nil
}

// GetSecret returns the secret for a previously received index (any index from MinSeenIndex() to
// MaxCommitmentIndex), derived from compact storage. It returns false for an index not yet received or
// above MaxCommitmentIndex.
func (c *CounterpartyCommitmentSecrets) GetSecret(index uint64) ([32]byte, bool) {
	if index > MaxCommitmentIndex {
		return [32]byte{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if index < c.minSeenLocked() {
		return [32]byte{}, false
	}
	for b := uint(0); b < numSecretSlots; b++ {
		k := &c.known[b]
		if !k.set {
			continue
		}
		// index lies under the stored node when they agree on every bit at or above the node's height.
		if index>>b == k.index>>b {
			return deriveSecret(k.secret, b, index), true
		}
	}
	// Unreachable for a store built by ProvideSecret or Decode: every received index lies under some
	// stored node.
	return [32]byte{}, false
}

// GetSecretForCommitment is GetSecret for a commitment number (counting up from 0).
func (c *CounterpartyCommitmentSecrets) GetSecretForCommitment(commitmentNumber uint64) ([32]byte, bool) {
	index, err := CommitmentNumberToIndex(commitmentNumber)
	if err != nil {
		return [32]byte{}, false
	}
	return c.GetSecret(index)
}

// encodedEntrySize is the size of one encoded entry: an 8-byte big-endian index and the 32-byte secret.
const encodedEntrySize = 8 + 32

// MaxEncodedSecretsLen is the largest encoding Encode produces: 1 + 49×40 = 1961 bytes.
const MaxEncodedSecretsLen = 1 + numSecretSlots*encodedEntrySize

// Encode serialises the store for persistence: a 1-byte entry count (0 to 49), then for each stored
// entry, in increasing slot order, the index as 8 bytes big-endian followed by the 32-byte secret. The
// result is 1+40×count bytes, at most MaxEncodedSecretsLen.
func (c *CounterpartyCommitmentSecrets) Encode() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]byte, 1, MaxEncodedSecretsLen)
	for i := range c.known {
		k := &c.known[i]
		if !k.set {
			continue
		}
		out[0]++
		out = binary.BigEndian.AppendUint64(out, k.index)
		out = append(out, k.secret[:]...)
	}
	return out
}

// expectedSlotIndex returns the index that slot holds after secrets for every index from minSeen to
// MaxCommitmentIndex were inserted in order: the smallest index >= minSeen whose slot is `slot`, if any.
func expectedSlotIndex(minSeen uint64, slot uint) (uint64, bool) {
	if slot == 48 {
		return 0, minSeen == 0
	}
	// Indices in this slot are odd multiples of 2^slot.
	q := (minSeen + (1 << slot) - 1) >> slot
	if q%2 == 0 {
		q++
	}
	idx := q << slot
	if idx > MaxCommitmentIndex {
		return 0, false
	}
	return idx, true
}

// Decode replaces the store's contents with the encoding produced by Encode. It accepts exactly the
// encodings of states reachable through ProvideSecret: the entries must be in increasing slot order, each
// index at most MaxCommitmentIndex, the set of indices exactly the one that in-order insertion down to the
// lowest index leaves, and every stored secret derivable from the stored secret above it.
//
// Errors: ErrInvalidEncoding for a malformed or impossible encoding; ErrSecretMismatch when the secrets
// are not consistent. The store is unchanged on error.
func (c *CounterpartyCommitmentSecrets) Decode(data []byte) error {
	if len(data) < 1 {
		return fmt.Errorf("%w: empty input", ErrInvalidEncoding)
	}
	n := int(data[0])
	if n > numSecretSlots {
		return fmt.Errorf("%w: %d entries, at most %d allowed", ErrInvalidEncoding, n, numSecretSlots)
	}
	if len(data) != 1+n*encodedEntrySize {
		return fmt.Errorf("%w: length %d for %d entries", ErrInvalidEncoding, len(data), n)
	}
	var known [numSecretSlots]storedSecret
	minSeen := uint64(MaxCommitmentIndex + 1)
	lastSlot := -1
	for i := 0; i < n; i++ {
		entry := data[1+i*encodedEntrySize : 1+(i+1)*encodedEntrySize]
		index := binary.BigEndian.Uint64(entry[:8])
		if index > MaxCommitmentIndex {
			return fmt.Errorf("%w: index %d above 2^48-1", ErrInvalidEncoding, index)
		}
		slot := slotForIndex(index)
		if int(slot) <= lastSlot {
			return fmt.Errorf("%w: entries not in increasing slot order", ErrInvalidEncoding)
		}
		lastSlot = int(slot)
		known[slot].index = index
		copy(known[slot].secret[:], entry[8:])
		known[slot].set = true
		if index < minSeen {
			minSeen = index
		}
	}
	for slot := uint(0); slot < numSecretSlots; slot++ {
		want, ok := expectedSlotIndex(minSeen, slot)
		if minSeen > MaxCommitmentIndex {
			ok = false
		}
		if ok != known[slot].set || (ok && want != known[slot].index) {
			return fmt.Errorf("%w: entries are not those of an in-order sequence of secrets", ErrInvalidEncoding)
		}
	}
	// Each entry must derive from its nearest stored ancestor (the next higher slot whose subtree holds
	// it); by transitivity every stored secret then derives from every stored ancestor.
	for b := uint(0); b < numSecretSlots; b++ {
		if !known[b].set {
			continue
		}
		for a := b + 1; a < numSecretSlots; a++ {
			if !known[a].set || known[b].index>>a != known[a].index>>a {
				continue
			}
			if deriveSecret(known[a].secret, a, known[b].index) != known[b].secret {
				return fmt.Errorf("%w: stored index %d does not derive from stored index %d",
					ErrSecretMismatch, known[b].index, known[a].index)
			}
			break
		}
	}
	c.mu.Lock()
	c.known = known
	c.mu.Unlock()
	return nil
}
