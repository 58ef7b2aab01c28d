package sqlitestore

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/kvstoretest"
)

// The crash tests run this test binary again as a child process (childEnv set to the child's mode) and
// kill it with SIGKILL: no deferred function, no Close, no checkpoint runs; the files are left as the
// operating system holds them.
const (
	childEnv  = "SQLITESTORE_TEST_CHILD"
	childPath = "SQLITESTORE_TEST_PATH"
	childArg  = "SQLITESTORE_TEST_ARG"
)

func openT(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	kvstoretest.Run(t, kvstoretest.Factory{
		Open: func(t *testing.T) kvstore.KVStore {
			return openT(t, filepath.Join(t.TempDir(), "kv.db"))
		},
		Reopen: func(t *testing.T, s kvstore.KVStore, crash bool) kvstore.KVStore {
			st := s.(*Store)
			if !crash {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				return openT(t, st.Path())
			}
			return openT(t, processCrashCopy(t, st))
		},
		CrashDuringCommit: crashDuringCommit,
	})
}

// processCrashCopy returns a copy of st's files as a killed process would leave them: the database
// file and the write-ahead log, not yet checkpointed, and no shared-memory index (the next open rebuilds
// it from the log, as recovery after a crash does). st is closed afterwards; its clean close touches only
// the original files.
func processCrashCopy(t *testing.T, st *Store) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(st.Path() + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if suffix == "-wal" && len(data) == 0 {
			t.Fatal("the write-ahead log is empty: the copy would not exercise recovery")
		}
		if err := os.WriteFile(dst+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// crashDuringCommit closes s, then has a child process open the same file and commit b with a small page
// cache (so SQLite spills the uncommitted batch into the log) and kill itself with SIGKILL after the
// batch's last write, before COMMIT; then reopens the file.
func crashDuringCommit(t *testing.T, s kvstore.KVStore, b *kvstore.Batch) kvstore.KVStore {
	st := s.(*Store)
	path := st.Path()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("the log survived a clean close")
	}
	batch, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	cmd := child(t, "commit-then-die", path, string(batch))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want death by SIGKILL\n%s", err, out)
	}
	// The child wrote uncommitted frames to the log before it died: recovery has something to discard.
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("no log left by the killed child (%v): the crash came before any write", err)
	}
	return openT(t, path)
}

func child(t *testing.T, mode, path, arg string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childPath+"="+path, childArg+"="+arg)
	return cmd
}

// TestChild is the child process of the crash tests; it does nothing in a normal run.
func TestChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("the crash tests' child process")
	}
	path := os.Getenv(childPath)
	die := func() { syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	switch mode {
	case "commit-then-die":
		var b kvstore.Batch
		if err := json.Unmarshal([]byte(os.Getenv(childArg)), &b); err != nil {
			t.Fatal(err)
		}
		// cache_size=1: SQLite's smallest page cache, so the transaction's pages spill to the log.
		s, err := open(path, []string{"cache_size(1)"})
		if err != nil {
			t.Fatal(err)
		}
		commitHook = die
		err = s.Commit(&b)
		t.Fatalf("Commit returned (%v): the hook did not run", err)
	case "commit-loop":
		// Commit generation after generation of the same keys and report each on stdout once Commit
		// returned; the parent kills the process at a moment of its choosing.
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := strconv.Atoi(os.Getenv(childArg))
		start := 1
		if v, _, err := s.Read(kvstore.Key{Primary: "gen", Key: "k000"}); err == nil {
			start, _ = strconv.Atoi(string(v[:bytes.IndexByte(v, ',')]))
			start++
		}
		for g := start; ; g++ {
			var b kvstore.Batch
			for i := 0; i < keys; i++ {
				b.Put(kvstore.Key{Primary: "gen", Key: fmt.Sprintf("k%03d", i)}, bytes.Repeat([]byte(strconv.Itoa(g)+","), 100+i))
			}
			b.Remove(kvstore.Key{Primary: "gen", Key: "removed-" + strconv.Itoa(g-1)})
			b.Put(kvstore.Key{Primary: "gen", Key: "removed-" + strconv.Itoa(g)}, nil)
			if err := s.Commit(&b); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("committed %d\n", g)
		}
	default:
		t.Fatalf("unknown child mode %q", mode)
	}
}

// TestKillDuringCommits kills a process that commits batches in a loop at random moments: after each
// kill, exactly one generation is there in full, the last one the child reported committed or the one it
// was committing.
func TestKillDuringCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const keys = 40
	path := filepath.Join(t.TempDir(), "kill.db")
	r := rand.New(rand.NewSource(int64(os.Getpid())))
	last := 0
	for round := 0; round < 4; round++ {
		cmd := child(t, "commit-loop", path, strconv.Itoa(keys))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := last + 1 + r.Intn(30)
		reported := last
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var g int
			if _, err := fmt.Sscanf(sc.Text(), "committed %d", &g); err != nil {
				continue
			}
			reported = g
			if g == killAfter {
				cmd.Process.Kill() // SIGKILL, possibly in the middle of the next commit
				break
			}
		}
		io.Copy(io.Discard, stdout)
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child %v, want death by SIGKILL\n%s", round, err, stderr.String())
		}

		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		gen := -1
		for i := 0; i < keys; i++ {
			v, _, err := s.Read(kvstore.Key{Primary: "gen", Key: fmt.Sprintf("k%03d", i)})
			if err != nil {
				t.Fatalf("round %d: k%03d: %v", round, i, err)
			}
			g, _ := strconv.Atoi(string(v[:bytes.IndexByte(v, ',')]))
			if len(v) != (len(strconv.Itoa(g))+1)*(100+i) {
				t.Fatalf("round %d: k%03d holds a torn value", round, i)
			}
			if gen == -1 {
				gen = g
			} else if g != gen {
				t.Fatalf("round %d: k000 at generation %d but k%03d at %d: a batch was applied in part", round, gen, i, g)
			}
		}
		if gen != reported && gen != reported+1 {
			t.Fatalf("round %d: generation %d after the child reported %d committed", round, gen, reported)
		}
		list, err := s.List("gen", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != keys+1 || list[keys] != "removed-"+strconv.Itoa(gen) {
			t.Fatalf("round %d: keys %v, want %d generation keys and removed-%d", round, list[keys:], keys, gen)
		}
		last = gen
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("last generation %d", last)
}

func TestSchemaVersionRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s := openT(t, path)
	if err := s.Write(kvstore.Key{Primary: "p", Key: "k"}, []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), `UPDATE kv_meta SET value = ? WHERE name = 'schema_version'`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(path); !errors.Is(err, ErrSchemaTooNew) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	} else {
		t.Log(err)
	}
}

func TestClosed(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "kv.db"))
	k := kvstore.Key{Primary: "p", Key: "k"}
	if err := s.Write(k, []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := s.Read(k); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := s.Write(k, nil); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if _, err := s.ListAll(); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("ListAll after Close: %v", err)
	}
}

// TestOddPath: a path with characters that mean something in a URI is taken literally.
func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag%20")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kv?.db")
	s := openT(t, path)
	if err := s.Write(kvstore.Key{Primary: "p", Key: "k"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at the path given: %v", err)
	}
	v, ver, err := s.Read(kvstore.Key{Primary: "p", Key: "k"})
	if err != nil || v == nil || len(v) != 0 || ver != 1 {
		t.Fatalf("a nil value reads back as %v v%d %v, want empty v1", v, ver, err)
	}
}

// TestTwoStoresOneFile: two Stores on one file (each with its own writer connection, as two processes) serialise their
// batches through SQLite's lock without SQLITE_BUSY errors, and compare-and-set holds across them.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	a, b := openT(t, path), openT(t, path)
	k := kvstore.Key{Primary: "cas", Key: "n"}
	if err := a.Write(k, []byte("0")); err != nil {
		t.Fatal(err)
	}
	const per = 30
	done := make(chan error, 2)
	for _, s := range []*Store{a, b} {
		go func() {
			for i := 0; i < per; {
				v, ver, err := s.Read(k)
				if err != nil {
					done <- err
					return
				}
				n, _ := strconv.Atoi(string(v))
				var batch kvstore.Batch
				err = s.Commit(batch.Check(k, ver).Put(k, []byte(strconv.Itoa(n+1))))
				if errors.Is(err, kvstore.ErrVersionMismatch) {
					continue
				}
				if err != nil {
					done <- err
					return
				}
				i++
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if v, _, err := b.Read(k); err != nil || string(v) != strconv.Itoa(2*per) {
		t.Fatalf("counter %q %v, want %d", v, err, 2*per)
	}
}

func benchStore(b *testing.B) *Store {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkWrite: one durable 1 KiB write (one transaction, one fsync) per op.
func BenchmarkWrite(b *testing.B) {
	s := benchStore(b)
	v := bytes.Repeat([]byte{0xab}, 1024)
	b.SetBytes(int64(len(v)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Write(kvstore.Key{Primary: "bench", Key: strconv.Itoa(i % 1000)}, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkCommit10: one batch of a version check and ten 1 KiB puts per op.
func BenchmarkCommit10(b *testing.B) {
	s := benchStore(b)
	v := bytes.Repeat([]byte{0xcd}, 1024)
	lease := kvstore.Key{Primary: "lease", Key: "leader"}
	if err := s.Write(lease, []byte("me")); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var batch kvstore.Batch
		batch.Check(lease, 1)
		for j := 0; j < 10; j++ {
			batch.Put(kvstore.Key{Primary: "bench", Key: strconv.Itoa((i*10 + j) % 1000)}, v)
		}
		if err := s.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
