package fsstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/kvstoretest"
)

func key(p, s, k string) kvstore.Key { return kvstore.Key{Primary: p, Secondary: s, Key: k} }

func mustOpen(t testing.TB, dir string, opts *Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mode is a configuration the tests run in: the log (the default), the log with checkpoints every
// few changes, and DirectWrites.
type mode struct {
	name string
	opts Options
}

var (
	logMode    = mode{"log", Options{}}
	smallMode  = mode{"log-checkpoint4k", Options{CheckpointBytes: 4 << 10}}
	directMode = mode{"direct", Options{DirectWrites: true}}
	modes      = []mode{logMode, smallMode, directMode}
)

// with returns the mode's options on fsy, with noSync.
func (m mode) with(fsy fsys, noSync bool) *Options {
	o := m.opts
	o.fs, o.NoSync = fsy, noSync
	return &o
}

// forModes runs f as a subtest per mode.
func forModes(t *testing.T, ms []mode, f func(t *testing.T, m mode)) {
	for _, m := range ms {
		t.Run("mode="+m.name, func(t *testing.T) { f(t, m) })
	}
}

// osFactory runs the suite on the real file system; a "crash" is a Close, as nothing unsynced can be
// dropped there.
func osFactory(m mode, noSync bool) kvstoretest.Factory {
	opts := m.with(nil, noSync)
	return kvstoretest.Factory{
		Open: func(t *testing.T) kvstore.KVStore { return mustOpen(t, t.TempDir(), opts) },
		Reopen: func(t *testing.T, s kvstore.KVStore, crash bool) kvstore.KVStore {
			st := s.(*Store)
			must(t, st.Close())
			return mustOpen(t, st.dir, opts)
		},
	}
}

func TestConformanceOS(t *testing.T) {
	forModes(t, modes, func(t *testing.T, m mode) { kvstoretest.Run(t, osFactory(m, false)) })
}

func TestConformanceOSNoSync(t *testing.T) {
	forModes(t, modes, func(t *testing.T, m mode) { kvstoretest.Run(t, osFactory(m, true)) })
}

// memFactory runs the suite on memFS: Reopen with crash loses everything unsynced (randomly part of
// it, with a seed), and CrashDuringCommit lets the commit make cut changing operations, then crashes.
func memFactory(m mode, cut int, seed int64) kvstoretest.Factory {
	rnd := func() *rand.Rand {
		if seed == 0 {
			return nil
		}
		return rand.New(rand.NewSource(seed))
	}
	return kvstoretest.Factory{
		Open: func(t *testing.T) kvstore.KVStore { return mustOpen(t, "mem", m.with(newMemFS(), false)) },
		Reopen: func(t *testing.T, s kvstore.KVStore, crash bool) kvstore.KVStore {
			st := s.(*Store)
			mf := st.fs.(*memFS)
			if crash {
				mf.crash(rnd())
			} else {
				must(t, st.Close())
			}
			return mustOpen(t, "mem", m.with(mf, false))
		},
		CrashDuringCommit: func(t *testing.T, s kvstore.KVStore, b *kvstore.Batch) kvstore.KVStore {
			mf := s.(*Store).fs.(*memFS)
			mf.crashAfter(cut)
			err := s.Commit(b)
			// An error comes from the crash. In log mode a change may also return nil and the fs
			// be dead: the crash came during the checkpoint after it, once it was durable.
			if dead := mf.isDead(); err != nil && !dead || err == nil && dead && m.opts.DirectWrites {
				t.Fatalf("cut %d: Commit returned %v with the fs dead=%v", cut, err, dead)
			}
			mf.crash(rnd())
			return mustOpen(t, "mem", m.with(mf, false))
		},
	}
}

// TestConformanceCrash runs the suite on memFS with the batch of CrashDuringBatch cut at several
// points.
//
// In DirectWrites mode that batch makes 112 changing operations: the journal (create, write, sync:
// 1-3), the 21 values staged (create, two writes, sync: 4-87), 21 renames and a removal (88-109),
// the directory synced (110), the journal emptied (create, sync: 111-112). The cuts let 1 (the
// journal created, empty), 2 (written, not synced), 3 (synced), 4, 40, 87, 88, 100, 109, 110, 111,
// 112 (all) and 500 of them happen.
//
// In log mode it makes two: the record appended (1), the log synced (2). With 4 KiB checkpoints the
// batch (21 KB) crosses the threshold and checkpoints after it is durable: the 20 files of the
// table staged (3-82), the renames and the removal (83-103), the directory synced (104), the log
// truncated (105) and synced (106); the same cuts fall before, inside and after it.
func TestConformanceCrash(t *testing.T) {
	forModes(t, modes, func(t *testing.T, m mode) {
		for _, cut := range []int{1, 2, 3, 4, 40, 87, 88, 100, 104, 105, 106, 109, 110, 111, 112, 500} {
			for _, seed := range []int64{0, int64(cut)} {
				t.Run(fmt.Sprintf("cut%d/seed%d", cut, seed), func(t *testing.T) {
					kvstoretest.Run(t, memFactory(m, cut, seed))
				})
			}
		}
	})
}

// dump returns the whole content of s: key, value and version.
func dump(t *testing.T, s kvstore.KVStore) string {
	t.Helper()
	ks, err := s.ListAll()
	must(t, err)
	var b strings.Builder
	for _, k := range ks {
		v, ver, err := s.Read(k)
		must(t, err)
		fmt.Fprintf(&b, "%s=%q@%d\n", k, v, ver)
	}
	return b.String()
}

// crashCase is a store's content before a change and the change.
type crashCase struct {
	name   string
	setup  func(s kvstore.KVStore) error
	change func(s kvstore.KVStore) error
}

var crashCases = []crashCase{
	{
		name: "batch",
		setup: func(s kvstore.KVStore) error {
			for _, w := range []struct {
				k kvstore.Key
				v string
			}{{key("a", "x", "k1"), "one"}, {key("a", "x", "k2"), "two"}, {key("a", "x", "k2"), "two'"}, {key("", "", "top"), "t"}, {key("b", "", "gone"), "g"}} {
				if err := s.Write(w.k, []byte(w.v)); err != nil {
					return err
				}
			}
			return nil
		},
		change: func(s kvstore.KVStore) error {
			var b kvstore.Batch
			b.Check(key("a", "x", "k2"), 2).
				Put(key("a", "x", "k1"), []byte("ONE")).
				Put(key("a", "x", "new"), []byte("n")).
				Put(key("c", "y", "fresh"), bytes.Repeat([]byte("f"), 3000)).
				Remove(key("b", "", "gone")).
				Put(key("", "", "top"), []byte("T")).
				Put(key("a", "x", "k3"), nil).Remove(key("a", "x", "k3")).
				Put(key("a", "x", "k2"), nil).Put(key("a", "x", "k2"), []byte("2"))
			return s.Commit(&b)
		},
	},
	{
		name:   "write",
		setup:  func(s kvstore.KVStore) error { return s.Write(key("a", "", "k"), []byte("old")) },
		change: func(s kvstore.KVStore) error { return s.Write(key("a", "", "k"), []byte("new")) },
	},
	{
		name:   "write-new-namespace",
		setup:  func(s kvstore.KVStore) error { return nil },
		change: func(s kvstore.KVStore) error { return s.Write(key("a", "b", "k"), []byte("new")) },
	},
	{
		name:   "remove",
		setup:  func(s kvstore.KVStore) error { return s.Write(key("a", "", "k"), []byte("old")) },
		change: func(s kvstore.KVStore) error { return s.Remove(key("a", "", "k")) },
	},
}

// TestCrashAtEveryStep cuts each change after every one of its changing operations, crashes (losing
// everything unsynced, or a random part of it), and checks that the store holds the content before
// or the content after the change, never a mix, and after it if the change returned. Each recovery
// is itself cut at every step and crashed again. In the mode with tiny checkpoints, every change
// also checkpoints, and is cut at every step of that too.
func TestCrashAtEveryStep(t *testing.T) {
	tiny := mode{"log-checkpoint1", Options{CheckpointBytes: 1}}
	forModes(t, []mode{logMode, tiny, directMode}, func(t *testing.T, md mode) {
		for _, tc := range crashCases {
			t.Run(tc.name, func(t *testing.T) { crashAtEveryStep(t, md, tc) })
		}
	})
}

func crashAtEveryStep(t *testing.T, md mode, tc crashCase) {
	oracle := kvstore.NewMemStore()
	must(t, tc.setup(oracle))
	before := dump(t, oracle)
	must(t, tc.change(oracle))
	after := dump(t, oracle)
	if before == after {
		t.Fatal("the change changes nothing")
	}
	seeds := []int64{0, 1, 2, 3, 4, 5, 6, 7}
	durableAt := -1 // the first cut after which a strict crash keeps the change
	for cut := 0; ; cut++ {
		done := false
		for _, seed := range seeds {
			var r *rand.Rand
			if seed != 0 {
				r = rand.New(rand.NewSource(seed*1000 + int64(cut)))
			}
			m := newMemFS()
			s := mustOpen(t, "mem", md.with(m, false))
			must(t, tc.setup(s))
			m.crashAfter(cut)
			err := tc.change(s)
			if err == nil && !m.isDead() {
				done = true
			} else if err != nil && !m.isDead() {
				t.Fatalf("cut %d: %v", cut, err)
			}
			m.crash(r)
			got := checkRecovery(t, md, m, r, before, after)
			if err == nil && got != after {
				t.Fatalf("cut %d seed %d: the change returned but is lost:\n%s", cut, seed, got)
			}
			if seed == 0 {
				switch {
				case got == after && durableAt < 0:
					durableAt = cut
				case got == before && durableAt >= 0:
					t.Fatalf("cut %d: the change, durable after %d operations, is lost again", cut, durableAt)
				}
			}
		}
		if done {
			t.Logf("%s: %d changing operations, durable after %d", tc.name, cut, durableAt)
			return
		}
	}
}

// checkRecovery opens the crashed image m, first with the recovery cut at every step and crashed
// again (on copies of m), and checks each time that the content is before or after. It returns the
// content found by the recovery that completed.
func checkRecovery(t *testing.T, md mode, m *memFS, r *rand.Rand, before, after string) string {
	t.Helper()
	for cut := 0; ; cut++ {
		mm := m.clone()
		mm.crashAfter(cut)
		s, err := Open("mem", md.with(mm, false))
		if err != nil {
			if !mm.isDead() {
				t.Fatalf("recovery cut %d: %v", cut, err)
			}
			mm.crash(r)
			s := mustOpen(t, "mem", md.with(mm, false))
			if got := dump(t, s); got != before && got != after {
				t.Fatalf("recovery cut %d: a part of the change survived:\n%s\nbefore:\n%s\nafter:\n%s", cut, got, before, after)
			}
			continue
		}
		mm.crashAfter(1 << 30)
		got := dump(t, s)
		if got != before && got != after {
			t.Fatalf("a part of the change survived:\n%s\nbefore:\n%s\nafter:\n%s", got, before, after)
		}
		// The store works, and what it recovered is durable.
		must(t, s.Write(key("z", "", "after"), []byte("ok")))
		mm.crash(nil)
		s2 := mustOpen(t, "mem", md.with(mm, false))
		if got2 := dump(t, s2); got2 != got+`z//after="ok"@1`+"\n" {
			t.Fatalf("after recovery and a write, a crash left:\n%s\nwant:\n%s", got2, got)
		}
		return got
	}
}

// files returns the files under dir, slash-separated and sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	must(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	}))
	sort.Strings(out)
	return out
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	return fi.Size()
}

func TestLayout(t *testing.T) {
	forModes(t, []mode{logMode, directMode}, func(t *testing.T, md mode) {
		dir := t.TempDir()
		s := mustOpen(t, dir, md.with(nil, false))
		must(t, s.Write(key("", "", "top"), []byte("t")))
		must(t, s.Write(key("monitors", "", "m1"), []byte("m")))
		must(t, s.Write(key("monitors", "updates", "u1"), []byte("u")))
		var b kvstore.Batch
		must(t, s.Commit(b.Put(key("p", "s", "k1"), nil).Put(key("p", "s", "k2"), nil)))
		values := []string{"@/@/top", "monitors/@/m1", "monitors/updates/u1", "p/s/k1", "p/s/k2"}
		want := append([]string{".fsstore.journal", ".fsstore.lock"}, values...)
		if !md.opts.DirectWrites {
			// The changes are in the log, and reach their files at the checkpoint (Close).
			if got := fmt.Sprint(files(t, dir)); got != "[.fsstore.lock .fsstore.log]" {
				t.Fatalf("files before the checkpoint: %v", got)
			}
			if fileSize(t, filepath.Join(dir, logName)) == 0 {
				t.Fatal("the log is empty")
			}
			must(t, s.Close())
			want = append([]string{".fsstore.lock", ".fsstore.log"}, values...)
			if fileSize(t, filepath.Join(dir, logName)) != 0 {
				t.Fatal("the log is not empty after Close")
			}
			s = mustOpen(t, dir, md.with(nil, false))
		}
		if got := files(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("files %v, want %v", got, want)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "monitors", "@", "m1"))
		must(t, err)
		if !bytes.Equal(raw, encodeRecord(1, []byte("m"))) {
			t.Fatalf("value file %x", raw)
		}
		if md.opts.DirectWrites && fileSize(t, filepath.Join(dir, journalName)) != 0 {
			t.Fatal("journal not empty after a batch")
		}
		// Foreign and temporary files are not keys; Open removes temporary ones.
		must(t, os.WriteFile(filepath.Join(dir, "monitors", "@", ".tmp.m2"), []byte("x"), 0o600))
		must(t, os.WriteFile(filepath.Join(dir, "monitors", "@", "README.txt"), []byte("x"), 0o600))
		must(t, os.Mkdir(filepath.Join(dir, "monitors", "@", "sub"), 0o700))
		must(t, os.Mkdir(filepath.Join(dir, "@", "x"), 0o700)) // a secondary namespace without a primary one
		must(t, os.WriteFile(filepath.Join(dir, "@", "x", "k"), []byte("x"), 0o600))
		if l, err := s.List("monitors", ""); err != nil || fmt.Sprint(l) != "[m1]" {
			t.Fatalf("List %v %v", l, err)
		}
		must(t, s.Close())
		s = mustOpen(t, dir, md.with(nil, false))
		if _, err := os.Stat(filepath.Join(dir, "monitors", "@", ".tmp.m2")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a temporary file survived Open: %v", err)
		}
		all, err := s.ListAll()
		must(t, err)
		if fmt.Sprint(all) != "[//top monitors//m1 monitors/updates/u1 p/s/k1 p/s/k2]" {
			t.Fatalf("ListAll %v", all)
		}
	})
}

// checkpointNow checkpoints a store in log mode, as a change past the threshold would.
func (s *Store) checkpointNow() error {
	if s.direct {
		return nil
	}
	l := &s.log
	l.takeSyncRole()
	defer l.releaseSyncRole()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return s.checkpoint()
}

// TestCorruptValue damages a value file (after a checkpoint in log mode, so that the file is what
// the store reads).
func TestCorruptValue(t *testing.T) {
	forModes(t, []mode{logMode, directMode}, testCorruptValue)
}

func testCorruptValue(t *testing.T, md mode) {
	dir := t.TempDir()
	s := mustOpen(t, dir, md.with(nil, false))
	k := key("m", "", "k")
	path := filepath.Join(dir, "m", "@", "k")
	good := encodeRecord(3, []byte("hello, world"))
	must(t, s.Write(k, []byte("x"))) // creates the directories
	must(t, s.checkpointNow())
	damage := map[string]func([]byte) []byte{
		"value byte":   func(b []byte) []byte { b[recordHeaderLen+2] ^= 1; return b },
		"header byte":  func(b []byte) []byte { b[9] ^= 0x80; return b },
		"magic":        func(b []byte) []byte { b[0] = 'X'; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)-1] },
		"extended":     func(b []byte) []byte { return append(b, 0) },
		"short header": func(b []byte) []byte { return b[:recordHeaderLen-1] },
		"empty":        func(b []byte) []byte { return nil },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			must(t, os.WriteFile(path, f(bytes.Clone(good)), 0o600))
			if _, _, err := s.Read(k); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Read: %v, want ErrCorrupt", err)
			}
			var b kvstore.Batch
			if err := s.Commit(b.Check(k, 3)); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Check: %v", err)
			}
			// A write needs the version: it is refused unless the header checks out.
			headerOK := name == "value byte" || name == "truncated" || name == "extended"
			err := s.Write(k, []byte("new"))
			if headerOK {
				must(t, err)
				if v, ver, err := s.Read(k); err != nil || string(v) != "new" || ver != 4 {
					t.Fatalf("after overwriting: %q %d %v", v, ver, err)
				}
				must(t, s.checkpointNow())
				return
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Write over a bad header: %v", err)
			}
			must(t, s.Remove(k))
			must(t, s.Write(k, []byte("new")))
			if v, ver, err := s.Read(k); err != nil || string(v) != "new" || ver != 1 {
				t.Fatalf("after removing and writing: %q %d %v", v, ver, err)
			}
			must(t, s.checkpointNow())
		})
	}
	must(t, os.WriteFile(path, nil, 0o600))
	if _, _, err := s.Read(k); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("the error %v does not name the file", err)
	}
}

func writeJournal(t *testing.T, dir string, b []byte) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, journalName), b, 0o600))
}

// TestJournalReplay: the journal of DirectWrites mode is replayed or discarded at Open, in either
// mode.
func TestJournalReplay(t *testing.T) {
	forModes(t, []mode{logMode, directMode}, testJournalReplay)
}

func testJournalReplay(t *testing.T, md mode) {
	opts := md.with(nil, false)
	dir := t.TempDir()
	s := mustOpen(t, dir, opts)
	must(t, s.Write(key("a", "", "k1"), []byte("old")))
	must(t, s.Write(key("a", "", "k3"), []byte("doomed")))
	before := dump(t, s)
	must(t, s.Close())
	j := encodeJournal([]change{
		{key: key("a", "", "k1"), put: true, value: []byte("new"), version: 2},
		{key: key("b", "c", "k2"), put: true, value: []byte("fresh"), version: 1},
		{key: key("a", "", "k3")},
	})
	after := "a//k1=\"new\"@2\nb/c/k2=\"fresh\"@1\n"

	// A torn journal (any proper prefix, or a damaged byte) is discarded.
	for _, torn := range [][]byte{j[:1], j[:journalHeaderLen], j[:len(j)-1], append(bytes.Clone(j[:30]), 0xff), func() []byte { b := bytes.Clone(j); b[len(b)-3] ^= 4; return b }()} {
		writeJournal(t, dir, torn)
		s = mustOpen(t, dir, opts)
		if got := dump(t, s); got != before {
			t.Fatalf("a torn journal of %d bytes was applied:\n%s", len(torn), got)
		}
		must(t, s.Close())
		if fi, err := os.Stat(filepath.Join(dir, journalName)); err != nil || fi.Size() != 0 {
			t.Fatal("a torn journal was kept")
		}
	}
	// A complete one is replayed, as often as it is found.
	for i := 0; i < 2; i++ {
		writeJournal(t, dir, j)
		s = mustOpen(t, dir, opts)
		if got := dump(t, s); got != after {
			t.Fatalf("replay %d:\n%s\nwant\n%s", i, got, after)
		}
		must(t, s.Close())
		if fi, err := os.Stat(filepath.Join(dir, journalName)); err != nil || fi.Size() != 0 {
			t.Fatal("a replayed journal was kept")
		}
	}
	// One that checks out but cannot be understood stops Open: it may be a committed batch.
	bad := bytes.Clone(j)
	bad[4] = 2 // format
	binaryPutCRC(bad)
	writeJournal(t, dir, bad)
	if _, err := Open(dir, opts); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with a journal of an unknown format: %v", err)
	}
}

// binaryPutCRC recomputes a journal's header checksum.
func binaryPutCRC(b []byte) {
	sum := checksum(b[:20])
	b[20], b[21], b[22], b[23] = byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, nil)
	if _, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	must(t, s.Close())
	must(t, s.Close()) // again: nothing
	if err := s.Write(key("a", "", "k"), nil); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if _, _, err := s.Read(key("a", "", "k")); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, err := s.ListAll(); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("ListAll after Close: %v", err)
	}
	mustOpen(t, dir, nil)
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := mustOpen(t, dir, nil)
	must(t, s.Write(key("x", "", "k"), []byte("v")))
}

// TestFailedStore (DirectWrites): a change that fails after becoming visible leaves the store refusing every call;
// reopening recovers.
func TestFailedStore(t *testing.T) {
	m := newMemFS()
	s := mustOpen(t, "mem", directMode.with(m, false))
	must(t, s.Write(key("a", "", "k"), []byte("v1")))
	n := m.opCount()
	must(t, s.Write(key("a", "", "k"), []byte("v2")))
	perWrite := m.opCount() - n // create, 2 writes, sync, rename, directory sync
	m.crashAfter(perWrite - 1)  // the directory sync fails
	if err := s.Write(key("a", "", "k"), []byte("v3")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Write whose directory sync failed: %v", err)
	}
	m.crash(nil) // revive, losing the rename
	if _, _, err := s.Read(key("a", "", "k")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Read on a failed store: %v", err)
	}
	if err := s.Write(key("a", "", "j"), nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("Write on a failed store: %v", err)
	}
	s = mustOpen(t, "mem", directMode.with(m, false))
	if v, ver, err := s.Read(key("a", "", "k")); err != nil || string(v) != "v2" || ver != 2 {
		t.Fatalf("after reopening: %q %d %v", v, ver, err)
	}
}

// TestFailedBeforeVisible (DirectWrites): a batch that fails before any of it is visible changes
// nothing and leaves the store usable.
func TestFailedBeforeVisible(t *testing.T) {
	m := newMemFS()
	s := mustOpen(t, "mem", directMode.with(m, false))
	must(t, s.Write(key("a", "", "k"), []byte("v1")))
	m.fail = func(op string, name string) bool { return op == "create" && strings.Contains(name, tmpPrefix) }
	var b kvstore.Batch
	err := s.Commit(b.Put(key("a", "", "k"), []byte("v2")).Put(key("a", "", "j"), []byte("j")))
	if err == nil || errors.Is(err, ErrFailed) {
		t.Fatalf("Commit that cannot stage: %v", err)
	}
	m.fail = nil
	if v, _, err := s.Read(key("a", "", "k")); err != nil || string(v) != "v1" {
		t.Fatalf("after a failed batch: %q %v", v, err)
	}
	must(t, s.Write(key("a", "", "j"), []byte("j")))
	m.crash(nil)
	s = mustOpen(t, "mem", directMode.with(m, false))
	if got := dump(t, s); got != "a//j=\"j\"@1\na//k=\"v1\"@1\n" {
		t.Fatalf("after a failed batch and a crash:\n%s", got)
	}
}

// TestNoSync: with NoSync the store makes no fsync at all, in either mode, checkpoints included.
func TestNoSync(t *testing.T) {
	forModes(t, modes, func(t *testing.T, md mode) {
		m := newMemFS()
		m.fail = func(op, name string) bool { return op == "sync" || op == "syncdir" }
		s := mustOpen(t, "mem", md.with(m, true))
		must(t, s.Write(key("a", "b", "k"), []byte("v")))
		var b kvstore.Batch
		must(t, s.Commit(b.Put(key("a", "b", "k"), []byte("w")).Put(key("c", "", "j"), nil).Remove(key("x", "", "y"))))
		must(t, s.Remove(key("a", "b", "k")))
		for i := 0; i < 100; i++ {
			must(t, s.Write(key("a", "b", fmt.Sprint("k", i%7)), bytes.Repeat([]byte{byte(i)}, 100)))
		}
		must(t, s.Close())
		s = mustOpen(t, "mem", md.with(m, true))
		if v, ver, err := s.Read(key("a", "b", "k6")); err != nil || v[0] != 97 || ver != 14 {
			t.Fatalf("after reopening: %v %d %v", v, ver, err)
		}
	})
}

// caseFS is memFS as a file system that ignores case would answer the probe.
type caseFS struct{ *memFS }

func (caseFS) exists(name string) (bool, error) { return name == caseProbeName, nil }

func TestCaseInsensitiveRefused(t *testing.T) {
	if _, err := Open("mem", &Options{fs: caseFS{newMemFS()}}); err == nil || !strings.Contains(err.Error(), "case") {
		t.Fatalf("Open on a case-insensitive file system: %v", err)
	}
}
