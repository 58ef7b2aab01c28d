package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/kvstoretest"
)

func TestConformance(t *testing.T) {
	needPG(t)
	kvstoretest.Run(t, kvstoretest.Factory{
		Open: func(t *testing.T) kvstore.KVStore { return openStore(t, Options{}) },
		Reopen: func(t *testing.T, s kvstore.KVStore, crash bool) kvstore.KVStore {
			st := s.(*Store)
			st.Close()
			if crash && cluster != nil {
				// The server crashes: what it acknowledged must come back from its log.
				if err := cluster.crash(); err != nil {
					t.Fatal(err)
				}
				if err := cluster.start(); err != nil {
					t.Fatal(err)
				}
			}
			return reopen(t, adminDSN, st.opts)
		},
		CrashDuringCommit: crashDuringCommit,
	})
}

// crashDuringCommit commits b and, once its writes reached the server but before COMMIT, crashes the
// server (our own cluster) or kills the session's backend (a server named by PGSTORE_TEST_DSN); the
// commit must fail, and after a restart the suite checks that nothing of b is there.
func crashDuringCommit(t *testing.T, s kvstore.KVStore, b *kvstore.Batch) kvstore.KVStore {
	st := s.(*Store)
	app := fmt.Sprintf("crash-%d", time.Now().UnixNano())
	st.Close()
	dsn := withParam(adminDSN, "application_name", app)
	st = reopen(t, dsn, st.opts)
	st.hook = func(stage string) error {
		if stage != "written" {
			return nil
		}
		if cluster != nil {
			if err := cluster.crash(); err != nil {
				t.Error(err)
			}
			return nil
		}
		if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app); err != nil {
			t.Error(err)
		}
		return nil
	}
	err := st.Commit(b)
	if err == nil {
		t.Fatal("Commit returned nil although its session died before COMMIT")
	}
	t.Logf("Commit during the crash: %v", err)
	st.Close()
	if cluster != nil {
		if err := cluster.start(); err != nil {
			t.Fatal(err)
		}
	}
	return reopen(t, adminDSN, st.opts)
}

// withParam adds a connection parameter to a URL or keyword/value DSN.
func withParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			panic(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// withDatabase points dsn at another database.
func withDatabase(dsn, db string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			panic(err)
		}
		u.Path = "/" + db
		return u.String()
	}
	return dsn + " dbname=" + db
}

func k(p, key string) kvstore.Key { return kvstore.Key{Primary: p, Key: key} }

// waitForLockWaiter waits until some session waits for an advisory lock.
func waitForLockWaiter(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no session came to wait for an advisory lock")
}

// pause makes s stop inside its next commit at stage until release is called; paused is closed when it
// got there. release may be called more than once, and is called when t ends (so that a failing test
// does not leave a commit paused and Close waiting for it).
func pause(t *testing.T, s *Store, stage string) (paused chan struct{}, release func()) {
	paused, released := make(chan struct{}), make(chan struct{})
	var once, releaseOnce sync.Once
	release = func() { releaseOnce.Do(func() { close(released) }) }
	t.Cleanup(release)
	s.hook = func(got string) error {
		if got == stage {
			once.Do(func() {
				close(paused)
				<-released
			})
		}
		return nil
	}
	return paused, release
}

// TestLeaseFencing: two nodes (two Stores, two pools) share the database. The old leader's batches check
// the lease key's version; the new leader takes the lease by writing that key. Whichever reaches the
// lease first, the other waits for it, so the old leader's batch is applied only if it committed before
// the takeover, and otherwise refused whole.
func TestLeaseFencing(t *testing.T) {
	for _, leaseExists := range []bool{true, false} {
		t.Run(fmt.Sprintf("lease-exists=%v", leaseExists), func(t *testing.T) {
			old := openStore(t, Options{})
			takeover := reopen(t, adminDSN, old.opts)
			lease := k("lease", "leader")
			var v uint64
			if leaseExists {
				if err := old.Write(lease, []byte("old")); err != nil {
					t.Fatal(err)
				}
				v = 1
			}

			// 1. The old leader's batch holds the lease (checked, shared) when the takeover comes: the
			// takeover waits for it, then succeeds; the old leader's batch committed.
			paused, release := pause(t, old, "checked")
			oldErr := make(chan error, 1)
			go func() {
				var b kvstore.Batch
				oldErr <- old.Commit(b.Check(lease, v).Put(k("data", "a"), []byte("by old")))
			}()
			<-paused
			newErr := make(chan error, 1)
			go func() {
				var b kvstore.Batch
				newErr <- takeover.Commit(b.Check(lease, v).Put(lease, []byte("new")))
			}()
			waitForLockWaiter(t)
			select {
			case err := <-newErr:
				t.Fatalf("the takeover returned (%v) while a batch checking the lease was open", err)
			default:
			}
			release()
			if err := <-oldErr; err != nil {
				t.Fatalf("the old leader's batch, before the takeover: %v", err)
			}
			if err := <-newErr; err != nil {
				t.Fatalf("takeover: %v", err)
			}
			old.hook = nil
			if got, _, err := takeover.Read(k("data", "a")); err != nil || string(got) != "by old" {
				t.Fatalf("the batch that committed before the takeover: %q %v", got, err)
			}
			_, v2, err := takeover.Read(lease)
			if err != nil || v2 != v+1 {
				t.Fatalf("lease after the takeover: v%d %v, want v%d", v2, err, v+1)
			}

			// 2. The takeover holds the lease (written, not committed) when the old leader's batch
			// comes: it waits, then finds the new version and applies nothing.
			paused, release = pause(t, takeover, "written")
			go func() {
				var b kvstore.Batch
				newErr <- takeover.Commit(b.Check(lease, v2).Put(lease, []byte("newer")))
			}()
			<-paused
			go func() {
				var b kvstore.Batch
				oldErr <- old.Commit(b.Check(lease, v2).Put(k("data", "b"), []byte("by old")).Remove(k("data", "a")))
			}()
			waitForLockWaiter(t)
			select {
			case err := <-oldErr:
				t.Fatalf("the old leader's batch returned (%v) while the takeover held the lease", err)
			default:
			}
			release()
			if err := <-newErr; err != nil {
				t.Fatalf("second takeover: %v", err)
			}
			if err := <-oldErr; !errors.Is(err, kvstore.ErrVersionMismatch) {
				t.Fatalf("the old leader's batch after the takeover: %v, want ErrVersionMismatch", err)
			}
			if _, _, err := old.Read(k("data", "b")); !errors.Is(err, kvstore.ErrNotFound) {
				t.Fatalf("a fenced batch wrote data: %v", err)
			}
			if got, _, _ := old.Read(k("data", "a")); string(got) != "by old" {
				t.Fatalf("a fenced batch removed data: %q", got)
			}
		})
	}
}

// TestCreateIfAbsentRace: writers on two pools race to create one key with Check(k, 0); exactly one
// wins each round.
func TestCreateIfAbsentRace(t *testing.T) {
	a := openStore(t, Options{})
	b := reopen(t, adminDSN, a.opts)
	const writers, rounds = 8, 15
	for r := 0; r < rounds; r++ {
		key := k("race", strconv.Itoa(r))
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for w := 0; w < writers; w++ {
			s := a
			if w%2 == 1 {
				s = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var batch kvstore.Batch
				err := s.Commit(batch.Check(key, 0).Put(key, []byte(strconv.Itoa(w))).Put(k("race-by", strconv.Itoa(r)+"-"+strconv.Itoa(w)), nil))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, kvstore.ErrVersionMismatch):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: %d writers created the key", r, wins)
		}
		if _, ver, err := a.Read(key); err != nil || ver != 1 {
			t.Fatalf("round %d: v%d %v", r, ver, err)
		}
	}
	l, err := a.List("race-by", "")
	if err != nil || len(l) != rounds {
		t.Fatalf("%d winners' marks, want %d (%v)", len(l), rounds, err)
	}
}

// TestResolve: the status query that settles a COMMIT whose answer was lost.
func TestResolve(t *testing.T) {
	s := openStore(t, Options{})
	ctx := context.Background()
	for _, commit := range []bool{true, false} {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var xid int64
		if err := tx.QueryRow(ctx, `SELECT txid_current()`).Scan(&xid); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		lost := errors.New("connection lost")
		err = s.resolve(ctx, xid, lost)
		if commit && err != nil {
			t.Fatalf("committed transaction resolved as %v", err)
		}
		if !commit && (err == nil || errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, lost)) {
			t.Fatalf("rolled-back transaction resolved as %v", err)
		}
	}
	// A transaction still open elsewhere stays unknown until the deadline.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var xid int64
	if err := tx.QueryRow(ctx, `SELECT txid_current()`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := s.resolve(short, xid, errors.New("lost")); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("open transaction resolved as %v", err)
	}
}

// TestRetryAfterConflict: a batch whose transaction the server rolled back with 40001 or 40P01, after
// its writes were sent, runs again and is applied once; other errors and too many conflicts are
// returned.
func TestRetryAfterConflict(t *testing.T) {
	s := openStore(t, Options{})
	key := k("retry", "counter")
	if err := s.Write(key, []byte("x")); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	conflicts := 0
	s.hook = func(stage string) error {
		if stage != "written" {
			return nil
		}
		attempts++
		if conflicts > 0 {
			conflicts--
			code := "40001"
			if conflicts%2 == 1 {
				code = "40P01"
			}
			return &pgconn.PgError{Code: code, Message: "injected conflict"}
		}
		return nil
	}
	conflicts = 2
	var b kvstore.Batch
	if err := s.Commit(b.Check(key, 1).Put(key, []byte("y")).Put(k("retry", "other"), []byte("z"))); err != nil {
		t.Fatal(err)
	}
	if attempts != 3 {
		t.Fatalf("%d attempts for two conflicts", attempts)
	}
	if v, ver, _ := s.Read(key); string(v) != "y" || ver != 2 {
		t.Fatalf("after two rolled-back attempts and one commit: %q v%d, want y v2", v, ver)
	}
	if _, ver, _ := s.Read(k("retry", "other")); ver != 1 {
		t.Fatalf("other key at v%d: applied more than once", ver)
	}

	attempts, conflicts = 0, 100
	b = kvstore.Batch{}
	err := s.Commit(b.Put(key, []byte("never")))
	if !retryable(err) || attempts != maxAttempts {
		t.Fatalf("endless conflicts: %v after %d attempts, want the conflict after %d", err, attempts, maxAttempts)
	}
	s.hook = nil
	if v, ver, _ := s.Read(key); string(v) != "y" || ver != 2 {
		t.Fatalf("a batch that never committed changed the key: %q v%d", v, ver)
	}
}

func TestSchemaVersionRefused(t *testing.T) {
	s := openStore(t, Options{Table: "kv"})
	s.Close()
	meta := pgx.Identifier{s.opts.Schema, "kv_meta"}.Sanitize()
	if _, err := admin.Exec(context.Background(), `UPDATE `+meta+` SET value = $1 WHERE name = 'schema_version'`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(context.Background(), adminDSN, s.opts)
	if !errors.Is(err, ErrSchemaTooNew) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
	t.Log(err)
}

// TestTablesIsolated: two tables in one schema, and the same table name in two schemas, are separate
// stores.
func TestTablesIsolated(t *testing.T) {
	a := openStore(t, Options{Table: "one"})
	b := reopen(t, adminDSN, Options{Schema: a.Schema(), Table: "two"})
	c := openStore(t, Options{Table: "one"})
	if a.Schema() == c.Schema() {
		t.Fatal("the test schemas are not fresh")
	}
	for i, s := range []*Store{a, b, c} {
		if err := s.Write(k("p", "mine"), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range []*Store{a, b, c} {
		v, ver, err := s.Read(k("p", "mine"))
		if err != nil || !bytes.Equal(v, []byte{byte(i)}) || ver != 1 {
			t.Fatalf("store %d: %v v%d %v", i, v, ver, err)
		}
	}
}

// TestSortOrderIgnoresLocale: in a database whose default collation is not bytewise (ICU, English),
// List and ListAll still sort as Go does.
func TestSortOrderIgnoresLocale(t *testing.T) {
	needPG(t)
	ctx := context.Background()
	db := fmt.Sprintf("pgstore_icu_%d", time.Now().UnixNano()%1e9)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+db+` TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'`); err != nil {
		t.Skipf("no database with an ICU collation here: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	s := reopen(t, withDatabase(adminDSN, db), Options{})
	keys := []string{"a", "_x", "Z9", "-y", "B", "b"}
	want := []string{"-y", "B", "Z9", "_x", "a", "b"} // Go's (byte) order
	var collated []string
	if err := s.pool.QueryRow(ctx, `SELECT array_agg(x ORDER BY x) FROM unnest($1::text[]) x`, keys).Scan(&collated); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(collated) == fmt.Sprint(want) {
		t.Fatalf("the database's collation sorts %v bytewise: the test shows nothing", keys)
	}
	for _, key := range keys {
		if err := s.Write(k("sort", key), nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(kvstore.Key{Primary: key, Secondary: "s", Key: "k"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List("sort", "")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List = %v %v, want %v (the database alone sorts %v)", got, err, want, collated)
	}
	all, err := s.ListAll()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(all); i++ {
		if !kvstore.Less(all[i-1], all[i]) {
			t.Fatalf("ListAll out of order at %d: %v then %v", i, all[i-1], all[i])
		}
	}
}

func TestClosed(t *testing.T) {
	s := openStore(t, Options{})
	if err := s.Write(k("p", "k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if _, _, err := s.Read(k("p", "k")); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := s.Write(k("p", "k"), nil); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if _, err := s.List("p", ""); !errors.Is(err, kvstore.ErrClosed) {
		t.Fatalf("List after Close: %v", err)
	}
}

// TestCommitContext: a context already over stops a batch before it is sent, and nothing is applied.
func TestCommitContext(t *testing.T) {
	s := openStore(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var b kvstore.Batch
	if err := s.CommitContext(ctx, b.Put(k("p", "k"), []byte("v"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("CommitContext with a cancelled context: %v", err)
	}
	// Cancelled between the writes and COMMIT: rolled back.
	ctx, cancel = context.WithCancel(context.Background())
	s.hook = func(stage string) error {
		if stage == "written" {
			cancel()
		}
		return nil
	}
	b = kvstore.Batch{}
	if err := s.CommitContext(ctx, b.Put(k("p", "k"), []byte("v"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("CommitContext cancelled before COMMIT: %v", err)
	}
	s.hook = nil
	if _, _, err := s.Read(k("p", "k")); !errors.Is(err, kvstore.ErrNotFound) {
		t.Fatalf("a cancelled batch was applied: %v", err)
	}
}

func benchStore(b *testing.B) *Store {
	return openStore(b, Options{})
}

// BenchmarkWrite: one durable 1 KiB write (one transaction) per op.
func BenchmarkWrite(b *testing.B) {
	s := benchStore(b)
	v := bytes.Repeat([]byte{0xab}, 1024)
	b.SetBytes(int64(len(v)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Write(k("bench", strconv.Itoa(i%1000)), v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkCommit10: one batch of a version check and ten 1 KiB puts per op.
func BenchmarkCommit10(b *testing.B) {
	s := benchStore(b)
	v := bytes.Repeat([]byte{0xcd}, 1024)
	lease := k("lease", "leader")
	if err := s.Write(lease, []byte("me")); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var batch kvstore.Batch
		batch.Check(lease, 1)
		for j := 0; j < 10; j++ {
			batch.Put(k("bench", strconv.Itoa((i*10+j)%1000)), v)
		}
		if err := s.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
