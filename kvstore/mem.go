package kvstore

import (
	"bytes"
	"fmt"
	"sort"
	"sync"
)

// MemStore is a KVStore in memory, for tests and as the reference implementation of the contract:
// "durable" means until the process exits. Safe for concurrent use.
type MemStore struct {
	mu   sync.RWMutex
	data map[Key]memValue
}

type memValue struct {
	value   []byte
	version uint64
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{data: map[Key]memValue{}} }

// Read implements KVStore.
func (s *MemStore) Read(k Key) ([]byte, uint64, error) {
	if err := k.Validate(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.data[k]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, k)
	}
	return bytes.Clone(v.value), v.version, nil
}

// Write implements KVStore.
func (s *MemStore) Write(k Key, value []byte) error {
	var b Batch
	return s.Commit(b.Put(k, value))
}

// Remove implements KVStore.
func (s *MemStore) Remove(k Key) error {
	var b Batch
	return s.Commit(b.Remove(k))
}

// List implements KVStore.
func (s *MemStore) List(primary, secondary string) ([]string, error) {
	if err := ValidateNamespace(primary, secondary); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []string{}
	for k := range s.data {
		if k.Primary == primary && k.Secondary == secondary {
			out = append(out, k.Key)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListAll implements KVStore.
func (s *MemStore) ListAll() ([]Key, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Key, 0, len(s.data))
	for k := range s.data {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return Less(out[i], out[j]) })
	return out, nil
}

// Commit implements KVStore.
func (s *MemStore) Commit(b *Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range b.Ops {
		if op.Kind == OpCheck {
			if have := s.data[op.Key].version; have != op.Version {
				return fmt.Errorf("%w: %s at version %d, not %d", ErrVersionMismatch, op.Key, have, op.Version)
			}
		}
	}
	for _, op := range b.Ops {
		switch op.Kind {
		case OpPut:
			s.data[op.Key] = memValue{value: bytes.Clone(op.Value), version: s.data[op.Key].version + 1}
		case OpRemove:
			delete(s.data, op.Key)
		}
	}
	return nil
}

var _ KVStore = (*MemStore)(nil)
