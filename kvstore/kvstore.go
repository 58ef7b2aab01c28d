// Package kvstore is the storage contract every lnkit persister writes through (LDK's KVStore): values
// under namespaced keys, with batches that commit atomically and versions for compare-and-set. The
// library's persisters (channel monitors, the ChannelManager's records, the graph and scorer) use only
// this interface; the host picks an implementation: MemStore here (tests), the filesystem store in
// kvstore/fsstore (the default), SQLite and PostgreSQL in the separate module
// github.com/lnkit/lnkit/stores, so that importing the library pulls in no database driver.
//
// # Keys
//
// A key is three strings, as in LDK: a primary namespace, a secondary namespace and the key itself
// ("monitors", "", "<txid>_<vout>"). Each is at most MaxKeyLen bytes of [A-Za-z0-9_-]; the namespaces
// may be empty (a secondary namespace only under a non-empty primary one), the key may not. Anything
// else is refused with ErrInvalidKey before the store is touched.
//
// # Guarantees (what kvstoretest.Run checks on every implementation)
//
//  1. Durability: once Write, Remove or Commit returned nil, the change survives a crash of the process
//     or the machine. A call that returned an error changed nothing.
//  2. Order: changes to one key are applied in the order their calls returned; a Read that starts after
//     a change returned sees it (or a later one).
//  3. Atomic batches: Commit applies every operation of a Batch or none, even across a crash mid-way,
//     and no reader sees part of one.
//  4. Versions: every key has a version, 0 while absent, increased by each change that writes it (a
//     Remove makes it absent again: version 0, and a later write starts again at 1). A batch may require a key to be at a version
//     (Batch.Check); if it is not, nothing is applied and Commit returns an error wrapping
//     ErrVersionMismatch. This is compare-and-set for stores with a second writer (a standby node):
//     a writer that lost its lease finds the lease key at a newer version and can write nothing.
//  5. Listing: List returns the keys of one namespace pair, ListAll every key (migration); both sorted.
//
// Implementations are safe for concurrent use.
package kvstore

import (
	"errors"
	"fmt"
)

// MaxKeyLen is the longest namespace or key, in bytes (LDK's KVSTORE_NAMESPACE_KEY_MAX_LEN).
const MaxKeyLen = 120

var (
	// ErrNotFound: the key has no value.
	ErrNotFound = errors.New("kvstore: not found")
	// ErrInvalidKey: a namespace or key is empty where it may not be, too long, or has a character
	// outside [A-Za-z0-9_-].
	ErrInvalidKey = errors.New("kvstore: invalid key")
	// ErrVersionMismatch: a batch's Check failed; nothing was applied.
	ErrVersionMismatch = errors.New("kvstore: version mismatch")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("kvstore: closed")
)

// Key names one value.
type Key struct {
	Primary, Secondary, Key string
}

// String returns "primary/secondary/key".
func (k Key) String() string { return k.Primary + "/" + k.Secondary + "/" + k.Key }

// Validate returns an error wrapping ErrInvalidKey unless k follows the rules in the package doc.
func (k Key) Validate() error {
	if k.Key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if k.Primary == "" && k.Secondary != "" {
		return fmt.Errorf("%w: secondary namespace %q without a primary one", ErrInvalidKey, k.Secondary)
	}
	for _, s := range [3]string{k.Primary, k.Secondary, k.Key} {
		if err := validPart(s); err != nil {
			return err
		}
	}
	return nil
}

// ValidateNamespace checks a namespace pair as List takes it.
func ValidateNamespace(primary, secondary string) error {
	if primary == "" && secondary != "" {
		return fmt.Errorf("%w: secondary namespace %q without a primary one", ErrInvalidKey, secondary)
	}
	if err := validPart(primary); err != nil {
		return err
	}
	return validPart(secondary)
}

func validPart(s string) error {
	if len(s) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes (at most %d)", ErrInvalidKey, len(s), MaxKeyLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: byte %#x in %q", ErrInvalidKey, c, s)
		}
	}
	return nil
}

// OpKind is what one operation of a batch does.
type OpKind uint8

// The operations of a batch.
const (
	// OpPut writes Value under Key.
	OpPut OpKind = 1
	// OpRemove removes Key (no error if absent).
	OpRemove OpKind = 2
	// OpCheck requires Key to be at Version (0: absent) when the batch commits.
	OpCheck OpKind = 3
)

// Op is one operation of a Batch.
type Op struct {
	Kind    OpKind
	Key     Key
	Value   []byte // OpPut
	Version uint64 // OpCheck
}

// Batch is a list of operations committed together by KVStore.Commit: checks first, then puts and
// removes in order (a later operation on the same key wins). The zero Batch is empty and ready to use.
// A Batch is not safe for concurrent use; the store copies what it needs during Commit.
type Batch struct {
	Ops []Op
}

// Put adds a write of value under k.
func (b *Batch) Put(k Key, value []byte) *Batch {
	b.Ops = append(b.Ops, Op{Kind: OpPut, Key: k, Value: value})
	return b
}

// Remove adds a removal of k.
func (b *Batch) Remove(k Key) *Batch {
	b.Ops = append(b.Ops, Op{Kind: OpRemove, Key: k})
	return b
}

// Check adds the condition that k is at version (0: absent) when the batch commits.
func (b *Batch) Check(k Key, version uint64) *Batch {
	b.Ops = append(b.Ops, Op{Kind: OpCheck, Key: k, Version: version})
	return b
}

// Validate checks every key and kind of the batch. Errors wrap ErrInvalidKey.
func (b *Batch) Validate() error {
	for i, op := range b.Ops {
		if op.Kind < OpPut || op.Kind > OpCheck {
			return fmt.Errorf("%w: operation %d has kind %d", ErrInvalidKey, i, op.Kind)
		}
		if err := op.Key.Validate(); err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
	}
	return nil
}

// KVStore is the storage contract; see the package doc for its guarantees. Errors other than those
// named are the store's own (I/O, connection), wrapped.
type KVStore interface {
	// Read returns the value under k and its version. Errors: ErrNotFound, ErrInvalidKey.
	Read(k Key) (value []byte, version uint64, err error)
	// Write stores value under k, durably before it returns. Errors: ErrInvalidKey.
	Write(k Key, value []byte) error
	// Remove deletes k, durably before it returns; removing an absent key is not an error.
	Remove(k Key) error
	// List returns the keys (the Key part) in one namespace pair, sorted. Errors: ErrInvalidKey.
	List(primary, secondary string) ([]string, error)
	// ListAll returns every key in the store, sorted by primary, secondary, key (for migration).
	ListAll() ([]Key, error)
	// Commit applies b atomically and durably. Errors: ErrVersionMismatch (a Check failed: nothing
	// applied), ErrInvalidKey.
	Commit(b *Batch) error
}

// Less orders keys by primary namespace, secondary namespace, then key.
func Less(a, b Key) bool {
	if a.Primary != b.Primary {
		return a.Primary < b.Primary
	}
	if a.Secondary != b.Secondary {
		return a.Secondary < b.Secondary
	}
	return a.Key < b.Key
}
