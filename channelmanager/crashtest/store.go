package crashtest

import (
	"sync"

	"github.com/lnkit/lnkit/kvstore"
)

// crashStore is Bob's store as his host sees it: it counts his durable writes (Write, Remove and
// Commit each count one) and, once the k-th one is reached, his host is dead: that write and every later
// one are dropped (answered nil, as nobody is left to read an answer), and the network sends nothing
// more of his. Reads go through: the store itself survives the crash. revive brings the host back.
type crashStore struct {
	kvstore.KVStore
	mu      sync.Mutex
	k       int  // the write at which the host dies; 0: never
	writes  int  // durable writes counted while counting
	count   bool // counting (off while the channel opens and for the final checks)
	crashed bool
}

// alive counts a write and says whether it reaches the store.
func (s *crashStore) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return false
	}
	if !s.count {
		return true
	}
	s.writes++
	if s.writes == s.k {
		s.crashed = true
		return false
	}
	return true
}

// dead reports whether the host has died (and not yet been revived).
func (s *crashStore) dead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crashed
}

// revive restarts the host if it died: writes reach the store again and it never dies again in this
// run.
func (s *crashStore) revive() {
	s.mu.Lock()
	if s.crashed {
		s.crashed, s.k = false, 0
	}
	s.mu.Unlock()
}

// dieAt arms the store: the host dies at the k-th write counted from now (0: never).
func (s *crashStore) dieAt(k int) {
	s.mu.Lock()
	s.k, s.writes, s.count = k, 0, true
	s.mu.Unlock()
}

// counting switches the count of writes on or off.
func (s *crashStore) counting(on bool) {
	s.mu.Lock()
	s.count = on
	s.mu.Unlock()
}

// written returns how many durable writes were counted.
func (s *crashStore) written() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func (s *crashStore) Write(k kvstore.Key, v []byte) error {
	if !s.alive() {
		return nil
	}
	return s.KVStore.Write(k, v)
}

func (s *crashStore) Remove(k kvstore.Key) error {
	if !s.alive() {
		return nil
	}
	return s.KVStore.Remove(k)
}

func (s *crashStore) Commit(b *kvstore.Batch) error {
	if !s.alive() {
		return nil
	}
	return s.KVStore.Commit(b)
}
