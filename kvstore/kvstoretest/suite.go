// Package kvstoretest is the conformance suite of the kvstore contract: every KVStore implementation
// runs Run from its tests. Its concurrent callers are parallel subtests run by the testing package
// (as many at once as -parallel allows): it starts no goroutine of its own.
package kvstoretest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lnkit/lnkit/kvstore"
)

// Factory opens stores for the suite.
type Factory struct {
	// Open returns a new, empty store; the suite never closes it (use t.Cleanup).
	Open func(t *testing.T) kvstore.KVStore
	// Reopen, if not nil, stops s and opens a store on the same data. With crash, s stops as if the
	// process or machine died: whatever was not yet made durable may be lost (a store that can
	// simulate this, such as the filesystem store dropping unsynced writes, should). The suite then
	// checks that every change whose call returned survived and that no batch is seen in part.
	Reopen func(t *testing.T, s kvstore.KVStore, crash bool) kvstore.KVStore
	// CrashDuringCommit, if not nil, commits b on s but crashes part way (after the first of the
	// store's own steps that writes anything, before the batch is durable), then reopens as Reopen with
	// crash does. The suite checks that either all of b or none of it is visible.
	CrashDuringCommit func(t *testing.T, s kvstore.KVStore, b *kvstore.Batch) kvstore.KVStore
	// Concurrency is how many goroutines the concurrent tests use; default 8.
	Concurrency int
}

// Run runs every conformance test on stores from f (Durable only with Reopen, CrashDuringBatch only with
// CrashDuringCommit).
func Run(t *testing.T, f Factory) {
	if f.Concurrency == 0 {
		f.Concurrency = 8
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"ReadWriteRemove", testReadWriteRemove},
		{"InvalidKeys", testInvalidKeys},
		{"Values", testValues},
		{"List", testList},
		{"Versions", testVersions},
		{"BatchAtomic", testBatchAtomic},
		{"BatchOrder", testBatchOrder},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentCompareAndSet", testConcurrentCAS},
		{"ConcurrentLease", testConcurrentLease},
		{"ConcurrentBatchReaders", testConcurrentBatchReaders},
	}
	if f.Reopen != nil {
		tests = append(tests, struct {
			name string
			fn   func(*testing.T, Factory)
		}{"Durable", testDurable})
	}
	if f.CrashDuringCommit != nil {
		tests = append(tests, struct {
			name string
			fn   func(*testing.T, Factory)
		}{"CrashDuringBatch", testCrashDuringBatch})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

func key(p, s, k string) kvstore.Key { return kvstore.Key{Primary: p, Secondary: s, Key: k} }

func mustRead(t *testing.T, s kvstore.KVStore, k kvstore.Key) ([]byte, uint64) {
	t.Helper()
	v, ver, err := s.Read(k)
	if err != nil {
		t.Fatalf("Read %s: %v", k, err)
	}
	return v, ver
}

func mustNotFound(t *testing.T, s kvstore.KVStore, k kvstore.Key) {
	t.Helper()
	if _, ver, err := s.Read(k); !errors.Is(err, kvstore.ErrNotFound) || ver != 0 {
		t.Fatalf("Read %s: err %v version %d, want ErrNotFound and 0", k, err, ver)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testReadWriteRemove(t *testing.T, f Factory) {
	s := f.Open(t)
	k := key("monitors", "", "a")
	mustNotFound(t, s, k)
	must(t, s.Write(k, []byte("one")))
	if v, _ := mustRead(t, s, k); string(v) != "one" {
		t.Fatalf("read %q after writing one", v)
	}
	must(t, s.Write(k, []byte("two")))
	if v, _ := mustRead(t, s, k); string(v) != "two" {
		t.Fatalf("read %q after writing two", v)
	}
	// Namespaces separate keys with the same name.
	k2 := key("monitors", "updates", "a")
	k3 := key("", "", "a")
	must(t, s.Write(k2, []byte("other")))
	must(t, s.Write(k3, []byte("top")))
	for k, want := range map[kvstore.Key]string{k: "two", k2: "other", k3: "top"} {
		if v, _ := mustRead(t, s, k); string(v) != want {
			t.Fatalf("%s: read %q, want %q", k, v, want)
		}
	}
	must(t, s.Remove(k))
	mustNotFound(t, s, k)
	must(t, s.Remove(k)) // absent: not an error
	if v, _ := mustRead(t, s, k2); string(v) != "other" {
		t.Fatal("removing one key touched another")
	}
	// The store keeps its own copy of what it is given.
	buf := []byte("mine")
	must(t, s.Write(k, buf))
	buf[0] = 'X'
	if v, _ := mustRead(t, s, k); string(v) != "mine" {
		t.Fatalf("the store aliased the caller's slice: %q", v)
	}
}

func testInvalidKeys(t *testing.T, f Factory) {
	s := f.Open(t)
	bad := []kvstore.Key{
		key("p", "s", ""),
		key("", "s", "k"),
		key("p/q", "", "k"),
		key("p", "", "k k"),
		key("p", "", "k\x00"),
		key("p", "", "ü"),
		key(strings.Repeat("a", kvstore.MaxKeyLen+1), "", "k"),
		key("p", "", strings.Repeat("k", kvstore.MaxKeyLen+1)),
	}
	for _, k := range bad {
		if err := s.Write(k, []byte("x")); !errors.Is(err, kvstore.ErrInvalidKey) {
			t.Errorf("Write %q: %v, want ErrInvalidKey", k, err)
		}
		if _, _, err := s.Read(k); !errors.Is(err, kvstore.ErrInvalidKey) {
			t.Errorf("Read %q: %v, want ErrInvalidKey", k, err)
		}
		if err := s.Remove(k); !errors.Is(err, kvstore.ErrInvalidKey) {
			t.Errorf("Remove %q: %v, want ErrInvalidKey", k, err)
		}
	}
	if _, err := s.List("", "s"); !errors.Is(err, kvstore.ErrInvalidKey) {
		t.Errorf("List with a secondary namespace alone: %v", err)
	}
	var b kvstore.Batch
	b.Put(key("p", "", "good"), []byte("x")).Put(key("p", "", "bad key"), []byte("y"))
	if err := s.Commit(&b); !errors.Is(err, kvstore.ErrInvalidKey) {
		t.Errorf("Commit with a bad key: %v", err)
	}
	mustNotFound(t, s, key("p", "", "good"))
	all, err := s.ListAll()
	must(t, err)
	if len(all) != 0 {
		t.Fatalf("invalid writes left %v", all)
	}
	long := key(strings.Repeat("a", kvstore.MaxKeyLen), strings.Repeat("b", kvstore.MaxKeyLen), strings.Repeat("C-_9", kvstore.MaxKeyLen/4))
	must(t, s.Write(long, []byte("ok")))
	if v, _ := mustRead(t, s, long); string(v) != "ok" {
		t.Fatal("the longest valid key does not round-trip")
	}
}

func testValues(t *testing.T, f Factory) {
	s := f.Open(t)
	r := rand.New(rand.NewSource(1))
	big := make([]byte, 4<<20)
	r.Read(big)
	vals := map[string][]byte{"empty": {}, "zero": {0}, "binary": {0xff, 0, 0x80, '\n', '\'', '"', '\\'}, "big": big}
	for k, v := range vals {
		must(t, s.Write(key("values", "", k), v))
	}
	for k, v := range vals {
		got, _ := mustRead(t, s, key("values", "", k))
		if !bytes.Equal(got, v) {
			t.Fatalf("%s: %d bytes back for %d written", k, len(got), len(v))
		}
	}
}

func testList(t *testing.T, f Factory) {
	s := f.Open(t)
	if l, err := s.List("none", ""); err != nil || len(l) != 0 {
		t.Fatalf("List of an empty namespace: %v %v", l, err)
	}
	var want []kvstore.Key
	for _, p := range []string{"", "b", "a"} {
		for _, sec := range []string{"", "y", "x"} {
			if p == "" && sec != "" {
				continue
			}
			for _, k := range []string{"k2", "k10", "k1", "K"} {
				kk := key(p, sec, k)
				must(t, s.Write(kk, []byte(kk.String())))
				want = append(want, kk)
			}
		}
	}
	must(t, s.Remove(key("a", "x", "k10")))
	want = slicesDelete(want, key("a", "x", "k10"))
	l, err := s.List("a", "x")
	must(t, err)
	if fmt.Sprint(l) != fmt.Sprint([]string{"K", "k1", "k2"}) {
		t.Fatalf("List a/x = %v", l)
	}
	l, err = s.List("a", "")
	must(t, err)
	if fmt.Sprint(l) != fmt.Sprint([]string{"K", "k1", "k10", "k2"}) {
		t.Fatalf("List a/ = %v (a secondary namespace's keys must not appear)", l)
	}
	all, err := s.ListAll()
	must(t, err)
	sort.Slice(want, func(i, j int) bool { return kvstore.Less(want[i], want[j]) })
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("ListAll:\n got %v\nwant %v", all, want)
	}
}

func slicesDelete(ks []kvstore.Key, k kvstore.Key) []kvstore.Key {
	out := ks[:0]
	for _, x := range ks {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

func testVersions(t *testing.T, f Factory) {
	s := f.Open(t)
	k := key("lease", "", "leader")
	var prev uint64
	for i := 0; i < 3; i++ {
		must(t, s.Write(k, []byte{byte(i)}))
		_, v := mustRead(t, s, k)
		if v <= prev {
			t.Fatalf("version %d after write %d, previous %d: must increase", v, i, prev)
		}
		prev = v
	}
	// A failed check applies nothing, not even the batch's other operations.
	other := key("lease", "", "other")
	var b kvstore.Batch
	b.Check(k, prev+1).Put(k, []byte("stale")).Put(other, []byte("x"))
	if err := s.Commit(&b); !errors.Is(err, kvstore.ErrVersionMismatch) {
		t.Fatalf("Commit with a wrong version: %v", err)
	}
	if v, ver := mustRead(t, s, k); !bytes.Equal(v, []byte{2}) || ver != prev {
		t.Fatalf("a refused batch changed %s: %q v%d", k, v, ver)
	}
	mustNotFound(t, s, other)
	// The right version applies it.
	b = kvstore.Batch{}
	b.Check(k, prev).Put(k, []byte("next")).Put(other, []byte("x"))
	must(t, s.Commit(&b))
	if v, ver := mustRead(t, s, k); string(v) != "next" || ver <= prev {
		t.Fatalf("after a matching check: %q v%d", v, ver)
	}
	// Version 0 means absent: create-if-absent.
	fresh := key("lease", "", "fresh")
	b = kvstore.Batch{}
	must(t, s.Commit(b.Check(fresh, 0).Put(fresh, []byte("1"))))
	b = kvstore.Batch{}
	if err := s.Commit(b.Check(fresh, 0).Put(fresh, []byte("2"))); !errors.Is(err, kvstore.ErrVersionMismatch) {
		t.Fatalf("second create-if-absent: %v", err)
	}
	must(t, s.Remove(fresh))
	b = kvstore.Batch{}
	must(t, s.Commit(b.Check(fresh, 0).Put(fresh, []byte("3"))))
}

func testBatchAtomic(t *testing.T, f Factory) {
	s := f.Open(t)
	var b kvstore.Batch
	for i := 0; i < 100; i++ {
		b.Put(key("batch", "", fmt.Sprintf("k%03d", i)), []byte{byte(i)})
	}
	must(t, s.Commit(&b))
	l, err := s.List("batch", "")
	must(t, err)
	if len(l) != 100 {
		t.Fatalf("%d keys after a batch of 100", len(l))
	}
	// A batch that removes some and writes others.
	b = kvstore.Batch{}
	for i := 0; i < 100; i += 2 {
		b.Remove(key("batch", "", fmt.Sprintf("k%03d", i)))
	}
	b.Put(key("batch", "idx", "count"), []byte("50"))
	must(t, s.Commit(&b))
	l, err = s.List("batch", "")
	must(t, err)
	if len(l) != 50 || l[0] != "k001" {
		t.Fatalf("after the removals: %d keys, first %v", len(l), l[:1])
	}
	must(t, s.Commit(&kvstore.Batch{})) // empty: nothing to do
}

func testBatchOrder(t *testing.T, f Factory) {
	s := f.Open(t)
	k := key("order", "", "k")
	var b kvstore.Batch
	b.Put(k, []byte("1")).Put(k, []byte("2")).Remove(k).Put(k, []byte("3"))
	must(t, s.Commit(&b))
	if v, _ := mustRead(t, s, k); string(v) != "3" {
		t.Fatalf("the last operation on a key must win: %q", v)
	}
	b = kvstore.Batch{}
	b.Put(k, []byte("4")).Remove(k)
	must(t, s.Commit(&b))
	mustNotFound(t, s, k)
}

// parallel runs body(t, i) for i in 0..n-1 as parallel subtests of t and returns once all have
// finished. The testing package runs them (as many at once as -parallel allows, GOMAXPROCS by
// default): the suite starts no goroutine of its own. Each body's work is bounded, so that the
// concurrent tests finish whatever number run together; the lowest indexes start first.
func parallel(t *testing.T, n int, body func(t *testing.T, i int)) {
	t.Run("workers", func(t *testing.T) {
		for i := 0; i < n; i++ {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				body(t, i)
			})
		}
	})
}

// testConcurrentWriters: writers on distinct keys all land; writers racing on one key leave one of
// the written values and a version that counts every write; readers never see a torn value.
func testConcurrentWriters(t *testing.T, f Factory) {
	s := f.Open(t)
	n, per := f.Concurrency, 20
	shared := key("conc", "", "shared")
	val := func(w, i int) []byte { return bytes.Repeat([]byte{byte(w), byte(i)}, 512) }
	parallel(t, n, func(t *testing.T, w int) {
		for i := 0; i < per; i++ {
			must(t, s.Write(key("conc", "", fmt.Sprintf("w%d-%d", w, i)), val(w, i)))
			must(t, s.Write(shared, val(w, i)))
			v, _, err := s.Read(shared)
			must(t, err)
			if len(v) != 1024 || !bytes.Equal(v, bytes.Repeat(v[:2], 512)) {
				t.Fatalf("torn read of %d bytes", len(v))
			}
		}
	})
	if t.Failed() {
		return
	}
	l, err := s.List("conc", "")
	must(t, err)
	if len(l) != n*per+1 {
		t.Fatalf("%d keys, want %d", len(l), n*per+1)
	}
	for w := 0; w < n; w++ {
		for i := 0; i < per; i++ {
			if v, _ := mustRead(t, s, key("conc", "", fmt.Sprintf("w%d-%d", w, i))); !bytes.Equal(v, val(w, i)) {
				t.Fatalf("w%d-%d lost", w, i)
			}
		}
	}
	v, ver := mustRead(t, s, shared)
	if ver < uint64(n*per) {
		t.Fatalf("shared key at version %d after %d writes", ver, n*per)
	}
	w, i := int(v[0]), int(v[1])
	if w >= n || i >= per || !bytes.Equal(v, val(w, i)) {
		t.Fatal("shared key holds a value nobody wrote")
	}
}

// casIncrement adds one to the counter under k by read, then compare-and-set on its version,
// retrying on ErrVersionMismatch; it returns the retries.
func casIncrement(t *testing.T, s kvstore.KVStore, k kvstore.Key) int {
	for retries := 0; ; retries++ {
		v, ver, err := s.Read(k)
		must(t, err)
		var c int
		if _, err := fmt.Sscan(string(v), &c); err != nil {
			t.Fatalf("counter %q: %v", v, err)
		}
		var b kvstore.Batch
		err = s.Commit(b.Check(k, ver).Put(k, []byte(fmt.Sprint(c+1))))
		if err == nil {
			return retries
		}
		if !errors.Is(err, kvstore.ErrVersionMismatch) {
			t.Fatal(err)
		}
	}
}

// testConcurrentCAS: workers increment one counter by compare-and-set (casIncrement). No increment may
// be lost: the final count is the number of successful commits, which is every attempt made.
func testConcurrentCAS(t *testing.T, f Factory) {
	s := f.Open(t)
	k := key("cas", "", "counter")
	must(t, s.Write(k, []byte("0")))
	n, per := f.Concurrency, 15
	var retries atomic.Int64
	parallel(t, n, func(t *testing.T, _ int) {
		for i := 0; i < per; i++ {
			retries.Add(int64(casIncrement(t, s, k)))
		}
	})
	v, _ := mustRead(t, s, k)
	if string(v) != fmt.Sprint(n*per) {
		t.Fatalf("counter %s after %d compare-and-set increments (%d retries)", v, n*per, retries.Load())
	}
}

// testConcurrentBatchReaders: no reader sees part of a batch. Worker 0 commits batches that set five
// keys to the batch's number; the others read the keys one after another (forwards and backwards)
// until it is done: as the batches are atomic, a later read never sees an older batch than an earlier
// read.
func testConcurrentBatchReaders(t *testing.T, f Factory) {
	s := f.Open(t)
	const n = 5
	keys := make([]kvstore.Key, n)
	for i := range keys {
		keys[i] = key("snap", "", fmt.Sprintf("k%d", i))
	}
	commit := func(i int) error {
		var b kvstore.Batch
		for _, k := range keys {
			b.Put(k, []byte(fmt.Sprint(i)))
		}
		return s.Commit(&b)
	}
	must(t, commit(0))
	var written atomic.Bool
	parallel(t, max(f.Concurrency, 2), func(t *testing.T, w int) {
		if w == 0 {
			defer written.Store(true)
			for i := 1; i <= 30; i++ {
				must(t, commit(i))
			}
			return
		}
		last := 0
		for round := 0; round < 5_000 && !written.Load(); round++ {
			for j := 0; j < n; j++ {
				k := keys[j]
				if w%2 == 1 {
					k = keys[n-1-j]
				}
				v, _, err := s.Read(k)
				must(t, err)
				var got int
				if _, err := fmt.Sscan(string(v), &got); err != nil {
					t.Fatalf("%s = %q: %v", k, v, err)
				}
				if got < last {
					t.Fatalf("read %s = %d after reading batch %d: a batch was seen in part", k, got, last)
				}
				last = got
			}
		}
	})
}

// testConcurrentLease: a batch's check of one key and its write of another are one atomic step, even
// while other writers change the checked key (a standby that lost its lease writes nothing). Every
// worker mixes three actions at random: count a leader key up by compare-and-set; copy the leader's
// count into a mirror key with a batch that checks the leader's version and writes only the mirror;
// observe, reading the leader, then the mirror. Once a worker has seen the leader at count n, any
// later change of the mirror must copy a count of at least n, since a mirror batch that checked an
// older leader version must fail.
func testConcurrentLease(t *testing.T, f Factory) {
	s := f.Open(t)
	leader, mirror := key("lease", "", "leader"), key("lease", "", "mirror")
	must(t, s.Write(leader, []byte("0")))
	must(t, s.Write(mirror, []byte("0")))
	read := func(t *testing.T, k kvstore.Key) (int, uint64) {
		v, ver, err := s.Read(k)
		must(t, err)
		var n int
		if _, err := fmt.Sscan(string(v), &n); err != nil {
			t.Fatalf("%s = %q: %v", k, v, err)
		}
		return n, ver
	}
	n, per := max(f.Concurrency, 2), 25
	parallel(t, n, func(t *testing.T, w int) {
		r := rand.New(rand.NewSource(int64(w)))
		floor, lastFloor, lastVer := 0, 0, uint64(0)
		for counted := 0; counted < per; {
			switch r.Intn(3) {
			case 0:
				casIncrement(t, s, leader)
				counted++
			case 1:
				n, ver := read(t, leader)
				var b kvstore.Batch
				if err := s.Commit(b.Check(leader, ver).Put(mirror, []byte(fmt.Sprint(n)))); err != nil &&
					!errors.Is(err, kvstore.ErrVersionMismatch) {
					t.Fatal(err)
				}
			default:
				if n, _ := read(t, leader); n > floor {
					floor = n
				}
				m, ver := read(t, mirror)
				if ver != lastVer && lastVer != 0 && m < lastFloor {
					t.Fatalf("the mirror changed to %d after the leader was seen at %d: a batch wrote after its check had become false", m, lastFloor)
				}
				lastVer, lastFloor = ver, floor
			}
		}
	})
	if got, _ := read(t, leader); got != n*per {
		t.Fatalf("leader at %d after %d increments", got, n*per)
	}
}

// testDurable: everything whose call returned is there after a clean reopen and after a crash.
func testDurable(t *testing.T, f Factory) {
	for _, crash := range []bool{false, true} {
		s := f.Open(t)
		want := map[kvstore.Key][]byte{}
		for i := 0; i < 50; i++ {
			k := key("dur", fmt.Sprint(i%3), fmt.Sprintf("k%d", i%17))
			v := []byte(fmt.Sprintf("v%d", i))
			if i%7 == 6 {
				must(t, s.Remove(k))
				delete(want, k)
				continue
			}
			if i%5 == 4 {
				var b kvstore.Batch
				k2 := key("dur", "b", fmt.Sprintf("k%d", i))
				must(t, s.Commit(b.Put(k, v).Put(k2, v)))
				want[k2] = v
			} else {
				must(t, s.Write(k, v))
			}
			want[k] = v
		}
		_, verBefore := mustRead(t, s, key("dur", "b", "k4"))
		s = f.Reopen(t, s, crash)
		all, err := s.ListAll()
		must(t, err)
		if len(all) != len(want) {
			t.Fatalf("crash=%v: %d keys after reopening, want %d", crash, len(all), len(want))
		}
		for k, v := range want {
			if got, _ := mustRead(t, s, k); !bytes.Equal(got, v) {
				t.Fatalf("crash=%v: %s = %q, want %q", crash, k, got, v)
			}
		}
		if _, ver := mustRead(t, s, key("dur", "b", "k4")); ver != verBefore {
			t.Fatalf("crash=%v: version %d after reopening, %d before", crash, ver, verBefore)
		}
	}
}

// testCrashDuringBatch: a crash part way through a batch leaves all of it or none of it.
func testCrashDuringBatch(t *testing.T, f Factory) {
	s := f.Open(t)
	must(t, s.Write(key("crash", "", "old"), []byte("old")))
	must(t, s.Write(key("crash", "", "gone"), []byte("gone")))
	var b kvstore.Batch
	for i := 0; i < 20; i++ {
		b.Put(key("crash", "", fmt.Sprintf("k%02d", i)), bytes.Repeat([]byte{byte(i)}, 1000))
	}
	b.Put(key("crash", "", "old"), []byte("new")).Remove(key("crash", "", "gone"))
	s = f.CrashDuringCommit(t, s, &b)
	v, _ := mustRead(t, s, key("crash", "", "old"))
	all := string(v) == "new"
	l, err := s.List("crash", "")
	must(t, err)
	if all {
		if len(l) != 21 {
			t.Fatalf("batch applied, but %d keys: %v", len(l), l)
		}
		mustNotFound(t, s, key("crash", "", "gone"))
	} else {
		if string(v) != "old" || len(l) != 2 {
			t.Fatalf("batch not applied, but old=%q and keys %v", v, l)
		}
	}
	// The store works after recovering.
	must(t, s.Write(key("crash", "", "after"), []byte("ok")))
	if got, _ := mustRead(t, s, key("crash", "", "after")); string(got) != "ok" {
		t.Fatal("write after recovery lost")
	}
}
