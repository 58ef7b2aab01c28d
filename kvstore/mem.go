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
	// byNS indexes the keys of each namespace pair, so that List costs what it returns.
	byNS map[[2]string]map[string]struct{}
}

type memValue struct {
	value   []byte
	version uint64
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{data: map[Key]memValue{}, byNS: map[[2]string]map[string]struct{}{}}
}

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
	keys := s.byNS[[2]string{primary, secondary}]
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
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
		ns := [2]string{op.Key.Primary, op.Key.Secondary}
		switch op.Kind {
		case OpPut:
			s.data[op.Key] = memValue{value: bytes.Clone(op.Value), version: s.data[op.Key].version + 1}
			if s.byNS[ns] == nil {
				s.byNS[ns] = map[string]struct{}{}
			}
			s.byNS[ns][op.Key.Key] = struct{}{}
		case OpRemove:
			delete(s.data, op.Key)
			delete(s.byNS[ns], op.Key.Key)
			if len(s.byNS[ns]) == 0 {
				delete(s.byNS, ns)
			}
		}
	}
	return nil
}

var _ KVStore = (*MemStore)(nil)
