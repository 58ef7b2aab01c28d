// Package pgstore is a kvstore.KVStore in a PostgreSQL table, through pgx/v5 (pgxpool).
//
// # Schema
//
// Open creates, if missing, the schema Options.Schema and two tables in it (Options.Table, default
// "lnkit_kv", and Table+"_meta"):
//
//	CREATE TABLE lnkit_kv (
//	    primary_ns   text COLLATE "C" NOT NULL,
//	    secondary_ns text COLLATE "C" NOT NULL,
//	    key          text COLLATE "C" NOT NULL,
//	    value        bytea NOT NULL,
//	    version      bigint NOT NULL,  -- 1 on first write, +1 per write; a removed key has no row
//	    PRIMARY KEY (primary_ns, secondary_ns, key)
//	);
//	CREATE TABLE lnkit_kv_meta (name text PRIMARY KEY, value bigint NOT NULL);  -- ('schema_version', 1)
//
// The "C" collation sorts by bytes, which is Go's string order, whatever the database's locale, so List
// and ListAll come back sorted as the contract wants. Open refuses tables whose schema_version is newer
// than SchemaVersion with an error wrapping ErrSchemaTooNew. Open takes an advisory lock while it
// creates the tables, so stores opening together do not race on CREATE TABLE; a role without CREATE
// privilege can use tables made beforehand (Open creates only what is missing).
//
// # Commits, isolation and the version checks
//
// A batch is one READ COMMITTED transaction. Before anything else it takes a transaction-scoped advisory
// lock (pg_advisory_xact_lock) on a 64-bit hash of every key it touches, in ascending order: exclusive
// for the keys it puts or removes, shared for the keys it only checks. Only then does it read the checked
// versions, each in a statement whose snapshot is taken after the locks were granted, so it sees every
// batch that wrote those keys before; then it applies its puts and removes in order and commits, which
// releases the locks. Hence:
//
//   - A Check serialises against every writer of the checked key, whether the key exists or not (a row
//     lock, SELECT ... FOR UPDATE, could not cover an absent key). A batch that checks a lease key and a
//     batch that takes the lease over (writes the lease key) never interleave: either the checking batch
//     commits first, or it waits, reads the new version and fails with kvstore.ErrVersionMismatch without
//     applying anything. This is what makes the lease key's version a fencing token.
//   - Batches that only check a key hold it shared, so a leader's batches that all check its lease run
//     concurrently as long as they write different keys.
//   - Locks are taken in one global order, so batches do not deadlock on them.
//
// This was chosen over SERIALIZABLE with retries: serializable isolation would let a batch that read the
// lease at version v commit after a concurrent lease takeover committed (it only needs some serial order
// to exist, and "the stale batch first" is one), and absent keys would need predicate locks. The
// guarantee holds among writers that go through this package; other clients writing the table directly
// bypass the locks. Readers take no lock: Read, List and ListAll are single statements, which see a
// snapshot of committed transactions, never part of a batch.
//
// A transaction that fails with serialization_failure (40001) or deadlock_detected (40P01), which the
// locking above should prevent but a server-side setting or another client could still cause, was
// rolled back whole by the server, and Commit runs it again from the start (up to maxAttempts times in
// all). So does a transaction whose connection failed before COMMIT was sent (a pooled connection that
// the server had closed, say): the server rolls back a transaction whose session ends. Nothing is
// applied twice: an attempt is repeated only when its transaction certainly did not commit.
//
// # Durability and unknown outcomes
//
// Commit returns nil once the server acknowledged COMMIT. With synchronous_commit on (PostgreSQL's
// default) the commit record is flushed to the server's disk, and to synchronous standbys as
// configured, before that acknowledgement; so it is with local, remote_write and remote_apply. Open
// refuses a session where synchronous_commit is off, where a returned commit could still be lost.
//
// If the connection fails while COMMIT is in flight, or the server ends the session (a FATAL error, as
// when an administrator terminates the backend), the outcome is unknown to the client. Commit then
// asks the server, on a new connection, for the status of the transaction's id (txid_status), waiting
// up to Options.Timeout for a definite answer: committed (Commit returns nil), aborted (an error:
// nothing was applied), or still unknown, when the error wraps ErrOutcomeUnknown and the caller must
// read the keys back before assuming either.
//
// # Timeouts
//
// The kvstore.KVStore methods take no context; each call is bounded by Options.Timeout (default 30s),
// including waiting for a pool connection and for another batch's locks. CommitContext takes the
// caller's context instead. Either way the context governs only the work before COMMIT: once a batch is
// ready, COMMIT is sent and awaited for up to Options.Timeout even if the caller's context is cancelled,
// so that a cancellation does not turn a finished batch into an unknown outcome. The store's sessions
// also set idle_in_transaction_session_timeout to Options.Timeout, so a client that stalls inside a
// batch (and holds its locks) is cut off by the server and its batch rolled back.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lnkit/lnkit/kvstore"
)

// SchemaVersion is the version of the table layout this package writes and reads.
const SchemaVersion = 1

// DefaultTable is the table name when Options.Table is empty.
const DefaultTable = "lnkit_kv"

// DefaultTimeout is Options.Timeout when it is zero.
const DefaultTimeout = 30 * time.Second

// maxAttempts bounds the runs of one batch that the server rolled back with 40001 or 40P01.
const maxAttempts = 5

var (
	// ErrSchemaTooNew: the tables were written by a newer release with a layout this one does not know.
	ErrSchemaTooNew = errors.New("pgstore: database schema is newer than this release supports")
	// ErrOutcomeUnknown: the connection failed while COMMIT was in flight and the server could not be
	// asked whether it committed. The batch may or may not have been applied.
	ErrOutcomeUnknown = errors.New("pgstore: outcome of the commit is unknown")
)

// Options configures a Store.
type Options struct {
	// Schema holds the tables; it is created if missing. Empty: the first schema on the session's
	// search_path (usually "public"), which is not created.
	Schema string
	// Table is the name of the key-value table (default DefaultTable); the schema version lives in
	// Table+"_meta".
	Table string
	// Timeout bounds each call of a method without a context and each COMMIT; it is also the sessions'
	// idle_in_transaction_session_timeout. Zero: DefaultTimeout.
	Timeout time.Duration
	// MaxConns is the size of the connection pool; zero keeps pgxpool's default (or pool_max_conns
	// from the DSN).
	MaxConns int32
}

// Store is a KVStore in a PostgreSQL table. Safe for concurrent use; Close it when done.
type Store struct {
	pool    *pgxpool.Pool
	opts    Options
	table   string // quoted, schema-qualified
	lockKey string // what the advisory-lock hashes start with: this table's identity
	closed  atomic.Bool

	// hook, when set (by tests), is called inside a commit at the named stage: "checked" (locks held,
	// versions read and matched), "written" (puts and removes sent, COMMIT not yet). An error it returns
	// ends the attempt as if the server had returned it.
	hook func(stage string) error

	sqlRead, sqlList, sqlListAll, sqlVersion, sqlPut, sqlDel string
}

// Open connects to the database at dsn (a libpq connection string or URL, as pgx takes it), creates
// the schema and tables if missing, and checks the schema version. ctx bounds Open only.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	rp := cfg.ConnConfig.RuntimeParams
	rp["idle_in_transaction_session_timeout"] = strconv.FormatInt(opts.Timeout.Milliseconds(), 10)
	if _, ok := rp["application_name"]; !ok {
		rp["application_name"] = "lnkit-pgstore"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := &Store{pool: pool, opts: opts}
	if err := s.init(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// init settles the schema name, creates what is missing and checks the schema version, in one
// transaction under an advisory lock.
func (s *Store) init(ctx context.Context) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	var syncCommit string
	if err := tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&syncCommit); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	if syncCommit == "off" {
		return fmt.Errorf("pgstore: open: synchronous_commit is %q: a commit would not be durable when it returns", syncCommit)
	}
	schema := s.opts.Schema
	if schema == "" {
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return fmt.Errorf("pgstore: open: %w", err)
		}
		if schema == "" {
			return errors.New("pgstore: open: no schema given and none on the search_path")
		}
	}
	s.opts.Schema = schema
	s.table = pgx.Identifier{schema, s.opts.Table}.Sanitize()
	meta := pgx.Identifier{schema, s.opts.Table + "_meta"}.Sanitize()
	s.lockKey = schema + "." + s.opts.Table

	// One opener at a time creates tables (CREATE ... IF NOT EXISTS races with itself).
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockID("pgstore-init:"+s.lockKey)); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	var haveSchema bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&haveSchema); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	if !haveSchema {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("pgstore: create schema %s: %w", schema, err)
		}
	}
	exists := func(qualified string) (bool, error) {
		var ok bool
		err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, qualified).Scan(&ok)
		return ok, err
	}
	for _, t := range []struct{ name, ddl string }{
		{meta, `CREATE TABLE ` + meta + ` (name text PRIMARY KEY, value bigint NOT NULL)`},
		{s.table, `CREATE TABLE ` + s.table + ` (
			primary_ns text COLLATE "C" NOT NULL,
			secondary_ns text COLLATE "C" NOT NULL,
			key text COLLATE "C" NOT NULL,
			value bytea NOT NULL,
			version bigint NOT NULL,
			PRIMARY KEY (primary_ns, secondary_ns, key)
		)`},
	} {
		ok, err := exists(t.name)
		if err != nil {
			return fmt.Errorf("pgstore: open: %w", err)
		}
		if ok {
			continue
		}
		if _, err := tx.Exec(ctx, t.ddl); err != nil {
			return fmt.Errorf("pgstore: create table %s: %w", t.name, err)
		}
	}
	var have int64
	switch err := tx.QueryRow(ctx, `SELECT value FROM `+meta+` WHERE name = 'schema_version'`).Scan(&have); {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO `+meta+` (name, value) VALUES ('schema_version', $1)`, SchemaVersion); err != nil {
			return fmt.Errorf("pgstore: open: record schema version: %w", err)
		}
	case err != nil:
		return fmt.Errorf("pgstore: open: read schema version: %w", err)
	case have > SchemaVersion:
		return fmt.Errorf("%w: %s has schema version %d, this release knows up to %d", ErrSchemaTooNew, s.table, have, SchemaVersion)
	case have < 1:
		return fmt.Errorf("pgstore: open: %s has invalid schema version %d", s.table, have)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}

	s.sqlRead = `SELECT value, version FROM ` + s.table + ` WHERE primary_ns = $1 AND secondary_ns = $2 AND key = $3`
	s.sqlList = `SELECT key FROM ` + s.table + ` WHERE primary_ns = $1 AND secondary_ns = $2 ORDER BY key`
	s.sqlListAll = `SELECT primary_ns, secondary_ns, key FROM ` + s.table + ` ORDER BY primary_ns, secondary_ns, key`
	s.sqlVersion = `SELECT version FROM ` + s.table + ` WHERE primary_ns = $1 AND secondary_ns = $2 AND key = $3`
	s.sqlPut = `INSERT INTO ` + s.table + ` AS t (primary_ns, secondary_ns, key, value, version) VALUES ($1, $2, $3, $4, 1)
		ON CONFLICT (primary_ns, secondary_ns, key) DO UPDATE SET value = excluded.value, version = t.version + 1`
	s.sqlDel = `DELETE FROM ` + s.table + ` WHERE primary_ns = $1 AND secondary_ns = $2 AND key = $3`
	return nil
}

// lockID is the advisory-lock id of a name: its 64-bit FNV-1a hash. Two names that collide only share
// a lock, which costs concurrency, never correctness.
func lockID(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

func (s *Store) keyLock(k kvstore.Key) int64 {
	return lockID(s.lockKey + "\x00" + k.Primary + "/" + k.Secondary + "/" + k.Key)
}

// Close closes the pool's connections, after waiting for those in use to be released. Calls after
// Close fail with kvstore.ErrClosed. It returns nil (it has the signature of io.Closer).
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.pool.Close()
	}
	return nil
}

// Schema is the schema that holds the store's tables.
func (s *Store) Schema() string { return s.opts.Schema }

// Table is the name of the key-value table (in Schema).
func (s *Store) Table() string { return s.opts.Table }

func (s *Store) wrap(what string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("pgstore: %s: %w (%v)", what, kvstore.ErrClosed, err)
	}
	return fmt.Errorf("pgstore: %s: %w", what, err)
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.Timeout)
}

// Read implements kvstore.KVStore.
func (s *Store) Read(k kvstore.Key) ([]byte, uint64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.ReadContext(ctx, k)
}

// ReadContext is Read bounded by ctx.
func (s *Store) ReadContext(ctx context.Context, k kvstore.Key) ([]byte, uint64, error) {
	if err := k.Validate(); err != nil {
		return nil, 0, err
	}
	if s.closed.Load() {
		return nil, 0, kvstore.ErrClosed
	}
	var v []byte
	var ver int64
	err := s.pool.QueryRow(ctx, s.sqlRead, k.Primary, k.Secondary, k.Key).Scan(&v, &ver)
	if errors.Is(err, pgx.ErrNoRows) {
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
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.pool.Query(ctx, s.sqlList, primary, secondary)
	if err != nil {
		return nil, s.wrap("list", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.wrap("list", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// ListAll implements kvstore.KVStore.
func (s *Store) ListAll() ([]kvstore.Key, error) {
	if s.closed.Load() {
		return nil, kvstore.ErrClosed
	}
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.pool.Query(ctx, s.sqlListAll)
	if err != nil {
		return nil, s.wrap("list all", err)
	}
	out := []kvstore.Key{}
	var k kvstore.Key
	_, err = pgx.ForEachRow(rows, []any{&k.Primary, &k.Secondary, &k.Key}, func() error {
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, s.wrap("list all", err)
	}
	return out, nil
}

// Commit implements kvstore.KVStore; it is CommitContext bounded by Options.Timeout.
func (s *Store) Commit(b *kvstore.Batch) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.CommitContext(ctx, b)
}

// keyLockReq is one advisory lock a batch takes.
type keyLockReq struct {
	id        int64
	exclusive bool
}

// CommitContext applies b atomically and durably, as Commit; ctx bounds the work up to COMMIT (see the
// package doc, Timeouts).
func (s *Store) CommitContext(ctx context.Context, b *kvstore.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if s.closed.Load() {
		return kvstore.ErrClosed
	}
	if len(b.Ops) == 0 {
		return nil
	}
	for _, op := range b.Ops {
		if op.Kind == kvstore.OpCheck && op.Version > math.MaxInt64 {
			return fmt.Errorf("%w: %s cannot be at version %d", kvstore.ErrVersionMismatch, op.Key, op.Version)
		}
	}
	// The locks, each key once, exclusive if the batch writes it, in ascending id order.
	byID := map[int64]bool{}
	for _, op := range b.Ops {
		id := s.keyLock(op.Key)
		byID[id] = byID[id] || op.Kind != kvstore.OpCheck
	}
	locks := make([]keyLockReq, 0, len(byID))
	for id, x := range byID {
		locks = append(locks, keyLockReq{id, x})
	}
	slices.SortFunc(locks, func(a, b keyLockReq) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	for attempt := 1; ; attempt++ {
		err := s.commitOnce(ctx, b, locks)
		if attempt < maxAttempts && ctx.Err() == nil && !s.closed.Load() && (retryable(err) || errors.As(err, new(lostBeforeCommit))) {
			continue
		}
		return err
	}
}

// retryable reports whether err is the server rolling a transaction back because of a conflict.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// lostBeforeCommit is a connection failure before COMMIT was sent: the transaction did not commit.
type lostBeforeCommit struct{ error }

func (e lostBeforeCommit) Unwrap() error { return e.error }

// preCommit classifies an error of the work before COMMIT.
func (s *Store) preCommit(ctx context.Context, what string, err error) error {
	if (statementError(err) && !retryable(err)) || ctx.Err() != nil {
		return s.wrap(what, err)
	}
	return lostBeforeCommit{s.wrap(what, err)}
}

// statementError reports whether err is the server's answer to a statement in a session that goes on
// (severity ERROR): not a connection failure, nor a FATAL or PANIC that ends the session, after which
// whether a COMMIT in flight took effect is not known from the answer alone.
func statementError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Severity != "FATAL" && pe.Severity != "PANIC"
}

func (s *Store) commitOnce(ctx context.Context, b *kvstore.Batch, locks []keyLockReq) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return s.preCommit(ctx, "begin", err)
	}
	committed := false
	defer func() {
		if !committed {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
			tx.Rollback(rctx)
			cancel()
		}
	}()

	// First round trip: the transaction's id (to ask about it if COMMIT's answer is lost), the locks,
	// then the checked versions.
	var pre pgx.Batch
	pre.Queue(`SELECT txid_current()`)
	for _, l := range locks {
		if l.exclusive {
			pre.Queue(`SELECT pg_advisory_xact_lock($1)`, l.id)
		} else {
			pre.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, l.id)
		}
	}
	var checks []kvstore.Op
	for _, op := range b.Ops {
		if op.Kind == kvstore.OpCheck {
			checks = append(checks, op)
			pre.Queue(s.sqlVersion, op.Key.Primary, op.Key.Secondary, op.Key.Key)
		}
	}
	var xid int64
	var mismatch error
	br := tx.SendBatch(ctx, &pre)
	err = func() error {
		if err := br.QueryRow().Scan(&xid); err != nil {
			return s.preCommit(ctx, "begin", err)
		}
		for range locks {
			if _, err := br.Exec(); err != nil {
				return s.preCommit(ctx, "lock", err)
			}
		}
		for _, op := range checks {
			var have int64
			err := br.QueryRow().Scan(&have)
			if errors.Is(err, pgx.ErrNoRows) {
				have, err = 0, nil
			}
			if err != nil {
				return s.preCommit(ctx, "check "+op.Key.String(), err)
			}
			if mismatch == nil && uint64(have) != op.Version {
				mismatch = fmt.Errorf("%w: %s at version %d, not %d", kvstore.ErrVersionMismatch, op.Key, have, op.Version)
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = s.preCommit(ctx, "check", cerr)
	}
	if err != nil {
		return err
	}
	if mismatch != nil {
		return mismatch
	}
	if s.hook != nil {
		if err := s.hook("checked"); err != nil {
			return err
		}
	}

	// Second round trip: the puts and removes, in order.
	var w pgx.Batch
	for _, op := range b.Ops {
		switch op.Kind {
		case kvstore.OpPut:
			v := op.Value
			if v == nil {
				v = []byte{} // an empty value, not NULL
			}
			w.Queue(s.sqlPut, op.Key.Primary, op.Key.Secondary, op.Key.Key, v)
		case kvstore.OpRemove:
			w.Queue(s.sqlDel, op.Key.Primary, op.Key.Secondary, op.Key.Key)
		}
	}
	if w.Len() > 0 {
		if err := tx.SendBatch(ctx, &w).Close(); err != nil {
			return s.preCommit(ctx, "write", err)
		}
	}
	if s.hook != nil {
		if err := s.hook("written"); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return s.wrap("commit", err) // not sent: the deferred rollback undoes everything
	}

	// COMMIT is awaited even if the caller gives up now: a finished batch is not abandoned halfway.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
	defer cancel()
	err = tx.Commit(cctx)
	committed = true // either way, the transaction is over for this connection
	if err == nil {
		return nil
	}
	if statementError(err) || errors.Is(err, pgx.ErrTxCommitRollback) {
		return s.wrap("commit", err) // the server answered: rolled back
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
	defer rcancel()
	return s.resolve(rctx, xid, err)
}

// resolve finds out, on another connection, whether transaction xid committed after the connection
// failed during COMMIT with commitErr.
func (s *Store) resolve(ctx context.Context, xid int64, commitErr error) error {
	for {
		var status *string
		err := s.pool.QueryRow(ctx, `SELECT txid_status($1)`, xid).Scan(&status)
		switch {
		case err != nil:
			// Server unreachable, or ctx over.
			return fmt.Errorf("%w: %v (asking the server failed too: %v)", ErrOutcomeUnknown, commitErr, err)
		case status == nil:
			return fmt.Errorf("%w: %v (the server no longer knows transaction %d)", ErrOutcomeUnknown, commitErr, xid)
		case *status == "committed":
			return nil
		case *status == "aborted":
			return s.wrap("commit (rolled back)", commitErr)
		}
		// "in progress": the server has not yet seen the old connection go. It waits before the next
		// question (pg_sleep on the server: the store arms no timer of its own); ctx bounds it.
		if _, err := s.pool.Exec(ctx, `SELECT pg_sleep(0.05)`); err != nil {
			return fmt.Errorf("%w: %v (transaction %d still in progress: %v)", ErrOutcomeUnknown, commitErr, xid, err)
		}
	}
}

var _ kvstore.KVStore = (*Store)(nil)
