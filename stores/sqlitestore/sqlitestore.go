// Package sqlitestore is a kvstore.KVStore in one SQLite file, through modernc.org/sqlite (pure Go:
// no cgo, no system library).
//
// # Durability and atomicity
//
// The database runs in WAL mode with synchronous=FULL: every commit appends the transaction to the
// write-ahead log and fsyncs it before Write, Remove or Commit returns, so a returned change survives a
// crash of the process or of the machine. A batch is one SQLite transaction (BEGIN IMMEDIATE): its
// version checks run first, then its puts and removes in order, then COMMIT; a crash before the commit
// record reaches the log leaves none of it, and readers see either none or all of it.
//
// # Concurrency
//
// SQLite allows one writer per database file at a time. A Store keeps a single writer connection
// (database/sql with one open connection), so the writes of one process queue in Go instead of meeting
// SQLITE_BUSY inside SQLite, and a separate pool of read-only connections that, thanks to WAL, read
// while a write is in progress. Each read is one statement, which sees a snapshot of the committed
// state: never part of a batch. Another process on the same file is also safe: BEGIN IMMEDIATE takes the
// write lock up front and waits up to the busy timeout (BusyTimeout) for it, so a batch's checks and
// writes always run under the lock (no upgrade from a read lock, no deadlock).
//
// # Schema
//
//	CREATE TABLE kv (
//	    primary_ns   TEXT NOT NULL,
//	    secondary_ns TEXT NOT NULL,
//	    key          TEXT NOT NULL,
//	    value        BLOB NOT NULL,
//	    version      INTEGER NOT NULL,  -- 1 on first write, +1 per write; a removed key has no row
//	    PRIMARY KEY (primary_ns, secondary_ns, key)
//	) WITHOUT ROWID;
//	CREATE TABLE kv_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);  -- ('schema_version', 1)
//
// Keys are compared with SQLite's BINARY collation (byte order), which is Go's string order, so List and
// ListAll come back sorted as the contract wants. Open refuses a file whose schema_version is newer than
// SchemaVersion (written by a later release) with an error wrapping ErrSchemaTooNew.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/lnkit/lnkit/kvstore"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// SchemaVersion is the version of the table layout this package writes and reads.
const SchemaVersion = 1

// BusyTimeout is how long, in milliseconds, a connection waits for a lock held by another process on
// the same file before it gives up with SQLITE_BUSY.
const BusyTimeout = 10000

// readers is the size of the read-only connection pool.
const readers = 4

// ErrSchemaTooNew: the file was written by a newer release with a table layout this one does not know.
var ErrSchemaTooNew = errors.New("sqlitestore: database schema is newer than this release supports")

// Store is a KVStore in one SQLite file. Safe for concurrent use; Close it when done.
type Store struct {
	path   string
	w      *sql.DB // the single writer connection
	r      *sql.DB // read-only connections
	closed atomic.Bool

	closeOnce sync.Once
	closeErr  error

	read, list, listAll *sql.Stmt // on r
	version, put, del   *sql.Stmt // on w
}

// commitHook, when set (by tests), is called inside Commit after the last put or remove ran and before
// COMMIT: the batch is written into the transaction, not yet committed.
var commitHook func()

// Open opens the store in the SQLite file at path, creating the file and its tables if needed.
func Open(path string) (*Store, error) {
	return open(path, nil)
}

// open is Open with extra pragmas for the writer connection (tests).
func open(path string, writerPragmas []string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout))
	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Set("_txlock", "immediate")
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous(FULL)")
	for _, p := range writerPragmas {
		wq.Add("_pragma", p)
	}
	rq := common
	rq.Add("_pragma", "query_only(1)")

	s := &Store{path: abs}
	s.w, err = sql.Open("sqlite", fileURI(abs, wq))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	// One connection: database/sql queues writers in Go, so no two of this process's writes ever
	// contend for SQLite's write lock. It never expires, so the per-connection pragmas stay in force.
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.init(); err != nil {
		s.w.Close()
		return nil, err
	}
	s.r, err = sql.Open("sqlite", fileURI(abs, rq))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// fileURI is an SQLite URI for the file at abs with the driver's query parameters q; the path is
// percent-encoded so that '?', '#' and '%' in it are taken literally.
func fileURI(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// init creates the tables on a new file, records or checks the schema version, and makes the file's
// creation durable.
func (s *Store) init() error {
	ctx := context.Background()
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlitestore: open %s: %w", s.path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("sqlitestore: open %s: journal mode %q, WAL could not be enabled", s.path, mode)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: open %s: %w", s.path, err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS kv_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS kv (
			primary_ns TEXT NOT NULL,
			secondary_ns TEXT NOT NULL,
			key TEXT NOT NULL,
			value BLOB NOT NULL,
			version INTEGER NOT NULL,
			PRIMARY KEY (primary_ns, secondary_ns, key)
		) WITHOUT ROWID`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlitestore: create tables in %s: %w", s.path, err)
		}
	}
	var have int64
	switch err := tx.QueryRowContext(ctx, `SELECT value FROM kv_meta WHERE name = 'schema_version'`).Scan(&have); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO kv_meta (name, value) VALUES ('schema_version', ?)`, SchemaVersion); err != nil {
			return fmt.Errorf("sqlitestore: open %s: %w", s.path, err)
		}
	case err != nil:
		return fmt.Errorf("sqlitestore: open %s: read schema version: %w", s.path, err)
	case have > SchemaVersion:
		return fmt.Errorf("%w: %s has schema version %d, this release knows up to %d", ErrSchemaTooNew, s.path, have, SchemaVersion)
	case have < 1:
		return fmt.Errorf("sqlitestore: open %s: invalid schema version %d", s.path, have)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: open %s: %w", s.path, err)
	}
	// SQLite syncs the directory when it creates the log, not when it creates the database file.
	return syncDir(filepath.Dir(s.path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sqlitestore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sqlitestore: sync %s: %w", dir, err)
	}
	return nil
}

func (s *Store) prepare() error {
	var err error
	prep := func(db *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.Prepare(q)
		return st
	}
	s.read = prep(s.r, `SELECT value, version FROM kv WHERE primary_ns = ? AND secondary_ns = ? AND key = ?`)
	s.list = prep(s.r, `SELECT key FROM kv WHERE primary_ns = ? AND secondary_ns = ? ORDER BY key`)
	s.listAll = prep(s.r, `SELECT primary_ns, secondary_ns, key FROM kv ORDER BY primary_ns, secondary_ns, key`)
	s.version = prep(s.w, `SELECT version FROM kv WHERE primary_ns = ? AND secondary_ns = ? AND key = ?`)
	s.put = prep(s.w, `INSERT INTO kv (primary_ns, secondary_ns, key, value, version) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT (primary_ns, secondary_ns, key) DO UPDATE SET value = excluded.value, version = kv.version + 1`)
	s.del = prep(s.w, `DELETE FROM kv WHERE primary_ns = ? AND secondary_ns = ? AND key = ?`)
	if err != nil {
		return fmt.Errorf("sqlitestore: prepare statements: %w", err)
	}
	return nil
}

// Close closes the store's connections; the last one to close checkpoints the log into the database
// file. Calls after Close fail with kvstore.ErrClosed. Close waits for nothing: close the store once its
// callers are done.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		var errs []error
		for _, st := range []*sql.Stmt{s.read, s.list, s.listAll, s.version, s.put, s.del} {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlitestore: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// wrap turns a driver error into the store's error, kvstore.ErrClosed once the store is closed.
func (s *Store) wrap(what string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlitestore: %s: %w (%v)", what, kvstore.ErrClosed, err)
	}
	return fmt.Errorf("sqlitestore: %s: %w", what, err)
}

// Read implements kvstore.KVStore.
func (s *Store) Read(k kvstore.Key) ([]byte, uint64, error) {
	if err := k.Validate(); err != nil {
		return nil, 0, err
	}
	if s.closed.Load() {
		return nil, 0, kvstore.ErrClosed
	}
	var v []byte
	var ver int64
	err := s.read.QueryRow(k.Primary, k.Secondary, k.Key).Scan(&v, &ver)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("%w: %s", kvstore.ErrNotFound, k)
	}
	if err != nil {
		return nil, 0, s.wrap("read "+k.String(), err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, uint64(ver), nil
}

// Write implements kvstore.KVStore.
func (s *Store) Write(k kvstore.Key, value []byte) error {
	var b kvstore.Batch
	return s.Commit(b.Put(k, value))
}

// Remove implements kvstore.KVStore.
func (s *Store) Remove(k kvstore.Key) error {
	var b kvstore.Batch
	return s.Commit(b.Remove(k))
}

// List implements kvstore.KVStore.
func (s *Store) List(primary, secondary string) ([]string, error) {
	if err := kvstore.ValidateNamespace(primary, secondary); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, kvstore.ErrClosed
	}
	rows, err := s.list.Query(primary, secondary)
	if err != nil {
		return nil, s.wrap("list", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, s.wrap("list", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list", err)
	}
	return out, nil
}

// ListAll implements kvstore.KVStore.
func (s *Store) ListAll() ([]kvstore.Key, error) {
	if s.closed.Load() {
		return nil, kvstore.ErrClosed
	}
	rows, err := s.listAll.Query()
	if err != nil {
		return nil, s.wrap("list all", err)
	}
	defer rows.Close()
	out := []kvstore.Key{}
	for rows.Next() {
		var k kvstore.Key
		if err := rows.Scan(&k.Primary, &k.Secondary, &k.Key); err != nil {
			return nil, s.wrap("list all", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list all", err)
	}
	return out, nil
}

// Commit implements kvstore.KVStore: one IMMEDIATE transaction on the writer connection, checks first.
func (s *Store) Commit(b *kvstore.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if s.closed.Load() {
		return kvstore.ErrClosed
	}
	if len(b.Ops) == 0 {
		return nil
	}
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("begin", err)
	}
	defer tx.Rollback() // a no-op once committed
	version := tx.Stmt(s.version)
	for _, op := range b.Ops {
		if op.Kind != kvstore.OpCheck {
			continue
		}
		var have int64
		err := version.QueryRowContext(ctx, op.Key.Primary, op.Key.Secondary, op.Key.Key).Scan(&have)
		if errors.Is(err, sql.ErrNoRows) {
			have, err = 0, nil
		}
		if err != nil {
			return s.wrap("check "+op.Key.String(), err)
		}
		if op.Version > math.MaxInt64 || uint64(have) != op.Version {
			return fmt.Errorf("%w: %s at version %d, not %d", kvstore.ErrVersionMismatch, op.Key, have, op.Version)
		}
	}
	put, del := tx.Stmt(s.put), tx.Stmt(s.del)
	for _, op := range b.Ops {
		switch op.Kind {
		case kvstore.OpPut:
			v := op.Value
			if v == nil {
				v = []byte{} // an empty value, not NULL
			}
			if _, err := put.ExecContext(ctx, op.Key.Primary, op.Key.Secondary, op.Key.Key, v); err != nil {
				return s.wrap("put "+op.Key.String(), err)
			}
		case kvstore.OpRemove:
			if _, err := del.ExecContext(ctx, op.Key.Primary, op.Key.Secondary, op.Key.Key); err != nil {
				return s.wrap("remove "+op.Key.String(), err)
			}
		}
	}
	if commitHook != nil {
		commitHook()
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("commit", err)
	}
	return nil
}

var _ kvstore.KVStore = (*Store)(nil)
