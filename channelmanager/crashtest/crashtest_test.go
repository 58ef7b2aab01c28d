package crashtest

import (
	"testing"

	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/fsstore"
)

// TestMemStore crashes Bob at every one of his durable writes, on the reference store.
func TestMemStore(t *testing.T) {
	Run(t, Factory{Open: func(testing.TB) kvstore.KVStore { return kvstore.NewMemStore() }})
}

// TestMemStoreBuffered is TestMemStore with Bob's host holding his writes in a kvstore.WriteBuffer
// and flushing it before his messages leave: a crash at any flush (losing what was held) loses nothing.
func TestMemStoreBuffered(t *testing.T) {
	Run(t, Factory{Buffered: true, Open: func(testing.TB) kvstore.KVStore { return kvstore.NewMemStore() }})
}

// TestMemStoreAsync is TestMemStore with Bob's monitors persisted asynchronously (Factory.Async).
func TestMemStoreAsync(t *testing.T) {
	Run(t, Factory{Async: true, Open: func(testing.TB) kvstore.KVStore { return kvstore.NewMemStore() }})
}

// TestFSStore runs the script on the filesystem store, a directory per run, at every third write (a
// directory per run makes each slower; TestMemStore covers every point). Fsync is off: the crash is
// the host dropping writes, not the machine losing them, which is fsstore's own tests' business.
func TestFSStore(t *testing.T) {
	fsStore(t, Factory{Step: 3})
}

// TestFSStoreAsync is TestFSStore with asynchronous monitor persistence, at every fifth point.
func TestFSStoreAsync(t *testing.T) { fsStore(t, Factory{Step: 5, Async: true}) }

func fsStore(t *testing.T, f Factory) {
	f.Open = func(t testing.TB) kvstore.KVStore {
		s, err := fsstore.Open(t.TempDir(), &fsstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	Run(t, f)
}

// TestCrashPoints: every step-th point from the first, or about four when sampling.
func TestCrashPoints(t *testing.T) {
	for _, c := range []struct {
		total, step int
		sample      bool
		want        []int
	}{
		{5, 0, false, []int{1, 2, 3, 4, 5}},
		{7, 3, false, []int{1, 4, 7}},
		{100, 1, true, []int{1, 26, 51, 76}},
		{101, 30, true, []int{1, 31, 61, 91}},
		{102, 1, true, []int{1, 26, 51, 76, 101}},
	} {
		got := crashPoints(c.total, c.step, c.sample)
		if len(got) != len(c.want) {
			t.Fatalf("crashPoints(%d, %d, %v) = %v, want %v", c.total, c.step, c.sample, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("crashPoints(%d, %d, %v) = %v, want %v", c.total, c.step, c.sample, got, c.want)
			}
		}
	}
}
