package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/stores/pgstore"
)

// PostgreSQL in these tests: the server named by PGSTORE_TEST_DSN (the variable the stores module's
// tests read; a role that may create schemas), each test in schemas of its own. Without it the
// PostgreSQL cases skip.
func pgTestDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("PGSTORE_TEST_DSN")
	if dsn == "" {
		t.Skip("no PostgreSQL: set PGSTORE_TEST_DSN (see stores/pgstore)")
	}
	return dsn
}

var pgSchemaSeq atomic.Int64

// pgSchema is a fresh schema name for one store of a test.
func pgSchema(t *testing.T) string {
	return fmt.Sprintf("node_%s_%d_%d", strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name())),
		time.Now().UnixNano()%1_000_000, pgSchemaSeq.Add(1))
}

// usePostgres makes cfg's node keep its state in schema of the test server (several configs may
// share one schema: standby pairs).
func usePostgres(t *testing.T, cfg *Config, dsn, schema string) {
	cfg.Store, cfg.PostgresDSN = storePostgres, dsn
	cfg.openKV = func() (*openedStore, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := pgstore.Open(ctx, dsn, pgstore.Options{Schema: schema, Timeout: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		return &openedStore{kv: s, close: func() error { s.Close(); return nil }, desc: "postgres schema " + schema}, nil
	}
}

// storeConfig returns the flags (and, for postgres, the test hook) of a node on kind.
func storeConfig(t *testing.T, btcd *fakeBtcd, kind string, extra ...string) *Config {
	t.Helper()
	args := append(append([]string{}, pairNodeArgs...), extra...)
	if kind != storePostgres {
		return testNodeConfig(t, btcd, append(args, "-store", kind)...)
	}
	cfg := testNodeConfig(t, btcd, args...)
	usePostgres(t, cfg, pgTestDSN(t), pgSchema(t))
	return cfg
}

// TestPaymentsOnEveryStore: a pair of nodes on each store pays, both restart, the channel comes back
// with both balances to the msat and pays again; what each payment writes is logged.
func TestPaymentsOnEveryStore(t *testing.T) {
	for _, kind := range []string{storeFS, storeSQLite, storePostgres} {
		t.Run(kind, func(t *testing.T) {
			btcd := newFakeBtcd(t)
			a := startTestNode(t, storeConfig(t, btcd, kind), nil)
			b := startTestNode(t, storeConfig(t, btcd, kind), nil)
			require.Contains(t, a.opened.desc, kind)
			fundNode(t, btcd, a, 800_000)
			openTestChannel(t, btcd, a, b, 400_000)
			before, _ := channelWith(a, b)
			payer, payee, pw, bw := storeBytesPerPayment(t, a, b, 10)
			t.Logf("%s: bytes written into the store per payment: payer %.0f (%.1f writes), payee %.0f (%.1f writes)",
				kind, payer, pw, payee, bw)
			bcfg := *b.cfg
			bcfg.Listen = b.listenAddr() // where a redials it
			a.Stop()
			b.Stop()
			a = startTestNode(t, a.cfg, nil)
			b = startTestNode(t, &bcfg, nil)
			require.Eventually(t, func() bool { return usable(a, b) && usable(b, a) }, 20*time.Second, 10*time.Millisecond)
			payInvoices(t, a, b, 2, 3_000)
			settledPayments(t, a, b)
			ca, _ := channelWith(a, b)
			cb, _ := channelWith(b, a)
			require.Equal(t, before.BalanceMsat-70_000-6_000, ca.BalanceMsat)
			require.EqualValues(t, 76_000, cb.BalanceMsat)
			require.Len(t, a.store.listPayments(), 12)
			require.EqualValues(t, 76_000, receivedMsat(b))
		})
	}
}

// TestMigrateCommand: migrate copies a stopped node's store to another kind (fs to sqlite here, and
// on to postgres with a server); the node then runs on it with its channel and records, and pays.
func TestMigrateCommand(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 400_000)
	payInvoices(t, a, b, 3, 10_000)
	settledPayments(t, a, b)
	before, _ := channelWith(a, b)
	a.Stop()

	migrate := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"-datadir", a.cfg.DataDir, "-network", "regtest", "migrate"}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	code, out := migrate("-from", "fs", "-to", "sqlite")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "read back and compared")
	code, out = migrate("-from", "fs", "-to", "sqlite")
	require.Equal(t, 1, code)
	require.Contains(t, out, "the destination is not empty")
	code, out = migrate("-from", "fs")
	require.Equal(t, 2, code, out)

	cfg := *a.cfg
	cfg.Store = storeSQLite
	a2 := startTestNode(t, &cfg, nil)
	require.Contains(t, a2.opened.desc, "sqlite")
	got, _ := channelWith(a2, b)
	require.Equal(t, before.BalanceMsat, got.BalanceMsat)
	require.Len(t, a2.store.listPayments(), 3)
	require.Eventually(t, func() bool { return usable(a2, b) && usable(b, a2) }, 20*time.Second, 10*time.Millisecond)
	payInvoices(t, a2, b, 1, 5_000)
	settledPayments(t, a2, b)
	a2.Stop()

	dsn := os.Getenv("PGSTORE_TEST_DSN")
	if dsn == "" {
		return
	}
	// To PostgreSQL, into the DSN's default schema: a schema of our own, named by search_path.
	schema := pgSchema(t)
	ctx := context.Background()
	setup, err := pgstore.Open(ctx, dsn, pgstore.Options{Schema: schema})
	require.NoError(t, err)
	setup.Close()
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	pgDSN := dsn + sep + "search_path=" + schema
	code, out = migrate("-from", "sqlite", "-to", "postgres", "-to.dsn", pgDSN)
	require.Equal(t, 0, code, out)
	cfg.Store, cfg.PostgresDSN = storePostgres, pgDSN
	a3 := startTestNode(t, &cfg, nil)
	got, _ = channelWith(a3, b)
	require.Equal(t, before.BalanceMsat-5_000, got.BalanceMsat)
	require.Len(t, a3.store.listPayments(), 4)
}

// procWriteBytes is this process's write_bytes from /proc/self/io: what it caused to be written to
// storage (page-granular, counted when pages are dirtied).
func procWriteBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			var n int64
			_, _ = fmt.Sscan(v, &n)
			return n
		}
	}
	t.Skip("no write_bytes in /proc/self/io")
	return 0
}

// pgWALBytes is the server's WAL position, in bytes.
func pgWALBytes(t *testing.T, dsn string) int64 {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int64
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").Scan(&n))
	return n
}

// TestStoreBytesOnDisk (LNKIT_STORE_BYTES=1): what 50 payments between two nodes cost each store: the
// bytes the nodes hand to it (keys and values) and what reaches storage: the process's write_bytes for
// fs and sqlite (both nodes are in the process), the WAL the server wrote for postgres.
func TestStoreBytesOnDisk(t *testing.T) {
	if os.Getenv("LNKIT_STORE_BYTES") == "" {
		t.Skip("set LNKIT_STORE_BYTES=1")
	}
	const count = 50
	for _, kind := range []string{storeFS, storeSQLite, storePostgres} {
		t.Run(kind, func(t *testing.T) {
			btcd := newFakeBtcd(t)
			a := startTestNode(t, storeConfig(t, btcd, kind, "-tick.graph", "1h"), nil)
			b := startTestNode(t, storeConfig(t, btcd, kind, "-tick.graph", "1h"), nil)
			fundNode(t, btcd, a, 800_000)
			openTestChannel(t, btcd, a, b, 400_000)
			payInvoices(t, a, b, 5, 1_000)
			settledPayments(t, a, b)
			logical0 := a.kvCount.bytes.Load() + b.kvCount.bytes.Load()
			disk0 := procWriteBytes(t)
			var wal0 int64
			if kind == storePostgres {
				wal0 = pgWALBytes(t, a.cfg.PostgresDSN)
			}
			t0 := time.Now()
			payInvoices(t, a, b, count, 1_000)
			settledPayments(t, a, b)
			took := time.Since(t0)
			logical := float64(a.kvCount.bytes.Load()+b.kvCount.bytes.Load()-logical0) / count
			line := fmt.Sprintf("%s: per payment (payer + payee): %.0f bytes handed to the store", kind, logical)
			if kind == storePostgres {
				line += fmt.Sprintf(", %.0f bytes of WAL", float64(pgWALBytes(t, a.cfg.PostgresDSN)-wal0)/count)
			} else {
				line += fmt.Sprintf(", %.0f bytes written to storage", float64(procWriteBytes(t)-disk0)/count)
			}
			t.Logf("%s; %.1f payments/s", line, count/took.Seconds())
		})
	}
}
