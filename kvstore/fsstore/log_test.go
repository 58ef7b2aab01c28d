package fsstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lnkit/lnkit/kvstore"
)

// hookFS is memFS with hooks: onRename runs before a rename, onLogSync before the log is synced,
// both in the goroutine of the store's call and without memFS's lock, so they may call the store.
type hookFS struct {
	*memFS
	onRename  func(from, to string)
	onLogSync func()
}

func (h *hookFS) rename(from, to string) error {
	if h.onRename != nil {
		h.onRename(from, to)
	}
	return h.memFS.rename(from, to)
}

func (h *hookFS) openAppend(name string) (afile, bool, error) {
	f, created, err := h.memFS.openAppend(name)
	if err != nil {
		return nil, false, err
	}
	return hookFile{f, h}, created, nil
}

type hookFile struct {
	afile
	h *hookFS
}

func (f hookFile) Sync() error {
	if f.h.onLogSync != nil {
		f.h.onLogSync()
	}
	return f.afile.Sync()
}

// setFile makes name hold data, synced (a disk image built by a test).
func (m *memFS) setFile(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.lookup(name)
	if err != nil {
		panic(err)
	}
	n := &memNode{data: bytes.Clone(data), synced: bytes.Clone(data)}
	d.entries[base], d.syncedEntries[base] = n, n
}

// workload is a list of changes that rewrites keys, removes keys it wrote, commits batches and
// compare-and-sets, over a few namespaces.
func workload() []func(s kvstore.KVStore) error {
	var w []func(s kvstore.KVStore) error
	val := func(i int) []byte { return bytes.Repeat([]byte{'a' + byte(i%26)}, 40+i%3*30) }
	for i := 0; i < 36; i++ {
		switch i % 6 {
		case 0, 3: // the channel record, rewritten on every payment
			w = append(w, func(s kvstore.KVStore) error { return s.Write(key("chan", "", "c1"), val(i)) })
		case 1: // a monitor update, removed two changes later
			w = append(w, func(s kvstore.KVStore) error {
				return s.Write(key("mon", "upd", fmt.Sprint("u", i)), val(i))
			})
		case 2:
			w = append(w, func(s kvstore.KVStore) error {
				var b kvstore.Batch
				b.Put(key("chan", "", "c1"), val(i)).Put(key("mon", "", fmt.Sprint("m", i%4)), val(i+1)).
					Put(key("", "", fmt.Sprint("top", i%5)), val(i+2))
				if i >= 8 {
					b.Remove(key("mon", "upd", fmt.Sprint("u", i-7)))
				}
				return s.Commit(&b)
			})
		case 4:
			w = append(w, func(s kvstore.KVStore) error { return s.Remove(key("mon", "upd", fmt.Sprint("u", i-3))) })
		case 5: // compare-and-set of a lease
			w = append(w, func(s kvstore.KVStore) error {
				k := key("lease", "", "l")
				_, ver, err := s.Read(k)
				if err != nil && !errors.Is(err, kvstore.ErrNotFound) {
					return err
				}
				var b kvstore.Batch
				return s.Commit(b.Check(k, ver).Put(k, val(i)).Put(key("lease", "", "by"), []byte(fmt.Sprint(i))))
			})
		}
	}
	return w
}

// TestCrashAcrossCheckpoints runs a workload that crosses several checkpoints, cut after every
// changing operation and crashed (losing all that was not synced, or a random part of it): every
// change that returned is there, the one cut is whole or absent, versions are right (the content
// is compared, with versions, to a MemStore's after the same changes), and the store works after.
// Every seventh cut also cuts the recovery at every step. It runs with the file system synced as a whole
// at checkpoints (syncfs) and without (file by file, where the system has no syncfs).
func TestCrashAcrossCheckpoints(t *testing.T) {
	for _, noSyncAll := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSyncAll=%v", noSyncAll), func(t *testing.T) { crashAcrossCheckpoints(t, noSyncAll) })
	}
}

func crashAcrossCheckpoints(t *testing.T, noSyncAll bool) {
	md := mode{"log-checkpoint600", Options{CheckpointBytes: 600}}
	w := workload()
	oracle := kvstore.NewMemStore()
	states := []string{dump(t, oracle)}
	for _, change := range w {
		must(t, change(oracle))
		states = append(states, dump(t, oracle))
	}
	checkpoints := 0
	for cut := 0; ; cut++ {
		done := false
		for _, seed := range []int64{0, 1, 2, 3} {
			var r *rand.Rand
			if seed != 0 {
				r = rand.New(rand.NewSource(seed*1_000_003 + int64(cut)))
			}
			m := newMemFS()
			m.noSyncAll = noSyncAll
			truncates := 0
			m.fail = func(op, name string) bool {
				if op == "truncate" {
					truncates++
				}
				return false
			}
			s := mustOpen(t, "mem", md.with(m, false))
			m.crashAfter(cut)
			n := 0
			var err error
			for n < len(w) {
				if err = w[n](s); err != nil {
					break
				}
				n++
			}
			if err != nil && !m.isDead() {
				t.Fatalf("cut %d: change %d: %v", cut, n, err)
			}
			if n == len(w) && !m.isDead() {
				done, checkpoints = true, truncates
			}
			m.crash(r)
			before, after := states[n], states[min(n+1, len(w))]
			if seed <= 1 && cut%7 == 0 {
				checkRecovery(t, md, m, r, before, after)
				continue
			}
			s2 := mustOpen(t, "mem", md.with(m, false))
			if got := dump(t, s2); got != before && got != after {
				t.Fatalf("cut %d seed %d: %d changes returned; the store holds\n%s\nwant\n%s\nor\n%s", cut, seed, n, got, before, after)
			}
		}
		if done {
			t.Logf("%d changes, %d changing operations, %d checkpoints", len(w), cut, checkpoints)
			if checkpoints < 3 {
				t.Fatalf("only %d checkpoints", checkpoints)
			}
			return
		}
	}
}

// logRecords returns the records a log-mode store on memFS writes for changes, each encoded.
func logRecords(t *testing.T, changes ...func(s kvstore.KVStore) error) [][]byte {
	m := newMemFS()
	s := mustOpen(t, "mem", &Options{fs: m})
	for _, c := range changes {
		must(t, c(s))
	}
	b, err := m.readFile(logName)
	must(t, err)
	var recs [][]byte
	for len(b) > 0 {
		_, n, err := decodeLogRecord(b)
		must(t, err)
		recs = append(recs, b[:n:n])
		b = b[n:]
	}
	if len(recs) != len(changes) {
		t.Fatalf("%d records for %d changes", len(recs), len(changes))
	}
	return recs
}

// openLog opens a store whose directory holds the files of base (a log-mode store's content
// after a checkpoint) and the log; it returns the store's content, or Open's error.
func openLog(t *testing.T, base *memFS, log []byte) (string, error) {
	t.Helper()
	m := base.clone()
	m.setFile(logName, log)
	s, err := Open("mem", &Options{fs: m})
	if err != nil {
		return "", err
	}
	defer s.Close()
	got := dump(t, s)
	if b, err := m.readFile(logName); err != nil || len(b) != 0 {
		t.Fatalf("the log after Open: %d bytes, %v", len(b), err)
	}
	return got, nil
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// TestLogReplay: the log's records are replayed in order at Open (twice, harmlessly), a torn tail is
// discarded, and a damaged record followed by a good one refuses the log.
func TestLogReplay(t *testing.T) {
	w1 := func(s kvstore.KVStore) error { return s.Write(key("a", "", "k"), []byte("one")) }
	b2 := func(s kvstore.KVStore) error {
		var b kvstore.Batch
		return s.Commit(b.Put(key("a", "", "k"), []byte("two")).Put(key("b", "c", "j"), []byte("jj")).Remove(key("a", "", "gone")))
	}
	w3 := func(s kvstore.KVStore) error { return s.Write(key("a", "", "k"), []byte("three")) }
	setup := func(s kvstore.KVStore) error { return s.Write(key("a", "", "gone"), []byte("g")) }
	recs := logRecords(t, setup, w1, b2, w3)
	r1, r2, r3 := recs[1], recs[2], recs[3]

	// The base image: the setup's key in its file, the log empty.
	base := newMemFS()
	s := mustOpen(t, "mem", &Options{fs: base})
	must(t, setup(s))
	must(t, s.Close())
	contents := []string{
		`a//gone="g"@1` + "\n",
		`a//gone="g"@1` + "\n" + `a//k="one"@1` + "\n",
		`a//k="two"@2` + "\n" + `b/c/j="jj"@1` + "\n",
		`a//k="three"@3` + "\n" + `b/c/j="jj"@1` + "\n",
	}
	expect := func(name string, log []byte, want string) {
		t.Helper()
		got, err := openLog(t, base, log)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Fatalf("%s:\n%s\nwant\n%s", name, got, want)
		}
	}
	expect("whole", concat(r1, r2, r3), contents[3])
	// Replaying twice (a crash after the files were written, before the log was truncated).
	twice := base.clone()
	twice.setFile(logName, concat(r1, r2, r3))
	s = mustOpen(t, "mem", &Options{fs: twice})
	must(t, s.Close())
	got, err := openLog(t, twice, concat(r1, r2, r3))
	if err != nil || got != contents[3] {
		t.Fatalf("replayed twice: %v\n%s", err, got)
	}

	// A torn tail: every proper prefix of the last record, the record with a byte damaged, zeros,
	// bytes that are no record.
	for n := 0; n < len(r3); n++ {
		expect(fmt.Sprintf("torn at %d", n), concat(r1, r2, r3[:n]), contents[2])
	}
	for i := range r3 {
		d := bytes.Clone(r3)
		d[i] ^= 0x10
		expect(fmt.Sprintf("last record damaged at %d", i), concat(r1, r2, d), contents[2])
	}
	expect("zeros", concat(r1, make([]byte, 4096)), contents[1])
	expect("junk", concat(r1, r2, []byte("not a record at all")), contents[2])
	expect("empty", nil, contents[0])

	// A damaged record followed by a good one: refused, whatever the damage.
	for _, i := range []int{0, 5, 9, 17, 21, journalHeaderLen + 1, len(r2) - 1} {
		d := bytes.Clone(r2)
		d[i] ^= 0x01
		_, err := openLog(t, base, concat(r1, d, r3))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprint("offset ", len(r1))) {
			t.Fatalf("damaged byte %d of a middle record: %v", i, err)
		}
	}
	// A record the disk did not write (zeros: its body, or all of it) followed by a good one. (A
	// record is never shorter than its header says: the store appends whole records and cuts a
	// failed append off, so records stay where they were written.)
	body0 := concat(r2[:journalHeaderLen], make([]byte, len(r2)-journalHeaderLen))
	for name, d := range map[string][]byte{"body": body0, "record": make([]byte, len(r2))} {
		if _, err := openLog(t, base, concat(r1, d, r3)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("a middle record whose %s is zeros: %v", name, err)
		}
	}
	// A record that checks out but cannot be understood.
	bad := bytes.Clone(r2)
	bad[4] = 2
	binaryPutCRC(bad)
	if _, err := openLog(t, base, concat(r1, bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a record of an unknown format: %v", err)
	}
}

// TestReadsDuringCheckpoint: while a checkpoint renames files into place, Read, List and ListAll
// give the latest values and versions (the table's), never the files' older ones.
func TestReadsDuringCheckpoint(t *testing.T) {
	h := &hookFS{memFS: newMemFS()}
	s := mustOpen(t, "mem", &Options{fs: h, CheckpointBytes: 1 << 20})
	oracle := kvstore.NewMemStore()
	both := func(f func(s kvstore.KVStore) error) {
		must(t, f(s))
		must(t, f(oracle))
	}
	for round := 0; round < 3; round++ {
		for i := 0; i < 10; i++ {
			both(func(s kvstore.KVStore) error {
				return s.Write(key("p", fmt.Sprint("s", i%3), fmt.Sprint("k", i)), []byte(fmt.Sprint(round, i)))
			})
		}
		both(func(s kvstore.KVStore) error { return s.Remove(key("p", "s0", fmt.Sprint("k", round*3))) })
		both(func(s kvstore.KVStore) error {
			var b kvstore.Batch
			return s.Commit(b.Put(key("q", "", "x"), []byte(fmt.Sprint(round))).Remove(key("p", "s1", "k1")))
		})
		want := dump(t, oracle)
		renames := 0
		h.onRename = func(from, to string) {
			renames++
			if got := dump(t, s); got != want {
				t.Fatalf("round %d, during the checkpoint (renaming %s):\n%s\nwant\n%s", round, to, got, want)
			}
		}
		must(t, s.checkpointNow())
		h.onRename = nil
		if renames == 0 {
			t.Fatal("the checkpoint renamed nothing")
		}
		if got := dump(t, s); got != want {
			t.Fatalf("after the checkpoint:\n%s\nwant\n%s", got, want)
		}
	}
}

// TestReadsDuringCheckpointConcurrent: a writer counts keys up, checkpointing every few writes,
// while readers check that no key ever goes back.
func TestReadsDuringCheckpointConcurrent(t *testing.T) {
	s := mustOpen(t, t.TempDir(), &Options{CheckpointBytes: 2 << 10, NoSync: true})
	const keys, writes = 5, 600
	var done atomic.Bool
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := make([]uint64, keys)
			for !done.Load() {
				for i := 0; i < keys; i++ {
					v, ver, err := s.Read(key("c", "", fmt.Sprint("k", i)))
					if errors.Is(err, kvstore.ErrNotFound) {
						if last[i] != 0 {
							t.Errorf("k%d gone after version %d", i, last[i])
							return
						}
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					if ver < last[i] || string(v) != fmt.Sprint(ver) {
						t.Errorf("k%d: %q at version %d after version %d", i, v, ver, last[i])
						return
					}
					last[i] = ver
				}
			}
		}()
	}
	for n := 1; n <= writes; n++ {
		i := n % keys
		if err := s.Write(key("c", "", fmt.Sprint("k", i)), []byte(fmt.Sprint((n+keys-1)/keys))); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
}

// TestCheckpointCoalesces: a key written many times between checkpoints reaches its file once; a key
// written and removed in between never touches the files.
func TestCheckpointCoalesces(t *testing.T) {
	m := newMemFS()
	creates := map[string]int{}
	m.fail = func(op, name string) bool {
		if op == "create" || op == "rename" || op == "remove" {
			creates[op+" "+name]++
		}
		return false
	}
	s := mustOpen(t, "mem", &Options{fs: m})
	for i := 0; i < 50; i++ {
		must(t, s.Write(key("chan", "", "c"), []byte(fmt.Sprint(i))))
		must(t, s.Write(key("mon", "", fmt.Sprint("u", i)), []byte("update")))
		must(t, s.Remove(key("mon", "", fmt.Sprint("u", i))))
	}
	must(t, s.Remove(key("mon", "", "never")))
	clear(creates)
	must(t, s.checkpointNow())
	want := "map[create chan/@/.tmp.c:1 rename chan/@/.tmp.c:1]"
	if got := fmt.Sprint(creates); got != want {
		t.Fatalf("the checkpoint made %s, want %s", got, want)
	}
	if v, ver, err := s.Read(key("chan", "", "c")); err != nil || string(v) != "49" || ver != 50 {
		t.Fatalf("after the checkpoint: %q %d %v", v, ver, err)
	}
}

// TestGroupCommit: changes appended while another syncs the log share the next sync.
func TestGroupCommit(t *testing.T) {
	h := &hookFS{memFS: newMemFS()}
	s := mustOpen(t, "mem", &Options{fs: h})
	var syncs atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	h.onLogSync = func() {
		if syncs.Add(1) == 1 {
			close(entered)
			<-release
		}
	}
	errs := make(chan error, 5)
	go func() { errs <- s.Write(key("g", "", "first"), []byte("1")) }()
	<-entered
	for i := 0; i < 4; i++ {
		go func() { errs <- s.Write(key("g", "", fmt.Sprint("k", i)), []byte("v")) }()
	}
	for { // wait until the four have appended their records
		s.log.wmu.Lock()
		n := s.log.seq
		s.log.wmu.Unlock()
		if n == 5 {
			break
		}
		runtime.Gosched()
	}
	if _, _, err := s.Read(key("g", "", "k0")); !errors.Is(err, kvstore.ErrNotFound) {
		t.Fatalf("a change is visible before it is synced: %v", err)
	}
	close(release)
	for i := 0; i < 5; i++ {
		must(t, <-errs)
	}
	if n := syncs.Load(); n != 2 {
		t.Fatalf("%d syncs of the log for 5 changes, 4 of them concurrent; want 2", n)
	}
	if l, err := s.List("g", ""); err != nil || len(l) != 5 {
		t.Fatalf("List %v %v", l, err)
	}
}

// TestLogFailures: a record that cannot be appended changes nothing and leaves the store usable; a
// log that cannot be synced fails the store, and reopening recovers.
func TestLogFailures(t *testing.T) {
	m := newMemFS()
	s := mustOpen(t, "mem", &Options{fs: m})
	must(t, s.Write(key("a", "", "k"), []byte("v1")))
	m.fail = func(op, name string) bool { return op == "write" && name == logName }
	var b kvstore.Batch
	err := s.Commit(b.Put(key("a", "", "k"), []byte("v2")).Put(key("a", "", "j"), []byte("j")))
	if err == nil || errors.Is(err, ErrFailed) {
		t.Fatalf("Commit that cannot append: %v", err)
	}
	m.fail = nil
	if v, ver, err := s.Read(key("a", "", "k")); err != nil || string(v) != "v1" || ver != 1 {
		t.Fatalf("after a failed append: %q %d %v", v, ver, err)
	}
	must(t, s.Write(key("a", "", "j"), []byte("j")))

	m.fail = func(op, name string) bool { return op == "sync" && name == logName }
	if err := s.Write(key("a", "", "k"), []byte("v3")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Write whose log sync failed: %v", err)
	}
	if _, _, err := s.Read(key("a", "", "k")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Read on a failed store: %v", err)
	}
	if err := s.Write(key("a", "", "x"), nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("Write on a failed store: %v", err)
	}
	m.fail = nil
	m.crash(nil)
	s = mustOpen(t, "mem", &Options{fs: m})
	if got := dump(t, s); got != "a//j=\"j\"@1\na//k=\"v1\"@1\n" {
		t.Fatalf("after reopening:\n%s", got)
	}
}

// TestModeSwitch: a directory written in DirectWrites mode (the format before the log, with a
// batch cut after its journal was synced, and temporary files) opens in log mode; one whose log
// holds changes (a crash in log mode) opens in DirectWrites mode.
func TestModeSwitch(t *testing.T) {
	m := newMemFS()
	s := mustOpen(t, "mem", directMode.with(m, false))
	for i := 0; i < 5; i++ {
		must(t, s.Write(key("old", fmt.Sprint("s", i%2), fmt.Sprint("k", i)), []byte(fmt.Sprint("v", i))))
	}
	must(t, s.Write(key("old", "s0", "k0"), []byte("v0'")))
	var b kvstore.Batch
	b.Put(key("old", "s1", "k1"), []byte("batch")).Put(key("new", "", "n"), []byte("n")).Remove(key("old", "s0", "k2"))
	m.crashAfter(20) // the journal synced, the values staged: a crash before the renames
	if err := s.Commit(&b); err == nil {
		t.Fatal("the batch was not cut")
	}
	m.crash(nil)
	want := "new//n=\"n\"@1\nold/s0/k0=\"v0'\"@2\nold/s0/k4=\"v4\"@1\nold/s1/k1=\"batch\"@2\nold/s1/k3=\"v3\"@1\n"

	s = mustOpen(t, "mem", logMode.with(m, false))
	if got := dump(t, s); got != want {
		t.Fatalf("a DirectWrites directory opened in log mode:\n%s\nwant\n%s", got, want)
	}
	if es, _ := m.readDir("old/s1"); fmt.Sprint(es) != "[{k1 false} {k3 false}]" {
		t.Fatalf("old/s1 holds %v", es)
	}
	must(t, s.Write(key("old", "s0", "k0"), []byte("log")))
	b = kvstore.Batch{}
	must(t, s.Commit(b.Remove(key("new", "", "n")).Put(key("x", "y", "z"), nil)))
	m.crash(nil) // the changes are in the log only
	want = "old/s0/k0=\"log\"@3\nold/s0/k4=\"v4\"@1\nold/s1/k1=\"batch\"@2\nold/s1/k3=\"v3\"@1\nx/y/z=\"\"@1\n"

	s = mustOpen(t, "mem", directMode.with(m, false))
	if got := dump(t, s); got != want {
		t.Fatalf("a crashed log-mode directory opened in DirectWrites mode:\n%s\nwant\n%s", got, want)
	}
	if b, err := m.readFile(logName); err != nil || len(b) != 0 {
		t.Fatalf("the log after Open: %d bytes, %v", len(b), err)
	}
	must(t, s.Write(key("old", "s0", "k0"), []byte("direct")))
	must(t, s.Close())
	s = mustOpen(t, "mem", logMode.with(m, false))
	if v, ver, err := s.Read(key("old", "s0", "k0")); err != nil || string(v) != "direct" || ver != 4 {
		t.Fatalf("back in log mode: %q %d %v", v, ver, err)
	}
}
