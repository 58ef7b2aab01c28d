package pgstore

// The PostgreSQL server the tests use. PGSTORE_TEST_DSN, if set, names one (a role that may create
// schemas in it). Otherwise TestMain starts a throwaway cluster from the PostgreSQL binaries it finds
// (/usr/lib/postgresql/*/bin, then $PATH) in a temporary directory, listening on 127.0.0.1 at a free
// port, and removes it at the end; as root it runs them as the postgres user, since PostgreSQL refuses
// to run as root. With neither, the tests skip, unless LNKIT_REQUIRE_POSTGRES=1 (set by CI), when the
// test binary fails.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// adminDSN reaches the test server; empty when the tests skip.
	adminDSN string
	// skipReason says why there is no server.
	skipReason string
	// cluster is the server TestMain started, nil with PGSTORE_TEST_DSN.
	cluster *testCluster
	// admin is a pool on adminDSN for the tests' own statements.
	admin *pgxpool.Pool
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	require := os.Getenv("LNKIT_REQUIRE_POSTGRES") == "1"
	adminDSN = os.Getenv("PGSTORE_TEST_DSN")
	if adminDSN == "" {
		c, err := startCluster()
		if errors.Is(err, errNoPostgres) {
			skipReason = "no PostgreSQL: set PGSTORE_TEST_DSN or install PostgreSQL (initdb and pg_ctl); " + err.Error()
			if require {
				fmt.Fprintln(os.Stderr, "FAIL: LNKIT_REQUIRE_POSTGRES=1 but "+skipReason)
				return 1
			}
			fmt.Fprintln(os.Stderr, "pgstore tests skipped: "+skipReason)
			return m.Run()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: starting a PostgreSQL cluster for the tests:", err)
			return 1
		}
		defer c.stop()
		cluster = c
		adminDSN = c.dsn
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	admin, err = pgxpool.New(ctx, adminDSN)
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: connecting to the test server:", err)
		return 1
	}
	defer admin.Close()
	return m.Run()
}

// needPG skips t when there is no server (only without LNKIT_REQUIRE_POSTGRES).
func needPG(t testing.TB) {
	t.Helper()
	if adminDSN == "" {
		t.Skip(skipReason)
	}
}

var errNoPostgres = errors.New("initdb and pg_ctl not found")

type testCluster struct {
	dir, data, dsn string
	bin            string // directory of initdb, pg_ctl and postgres
	port           int
	asPostgres     bool
}

// findPostgres returns the directory of the newest PostgreSQL's binaries.
func findPostgres() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { // newest major version first
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[j]))))
		return vi > vj
	})
	for _, initdb := range found {
		dir := filepath.Dir(initdb)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			dir := filepath.Dir(real)
			if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
				return dir, nil
			}
		}
	}
	return "", errNoPostgres
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startCluster() (*testCluster, error) {
	bin, err := findPostgres()
	if err != nil {
		return nil, err
	}
	c := &testCluster{bin: bin, asPostgres: os.Geteuid() == 0}
	base := os.TempDir()
	if c.asPostgres {
		base = "/tmp" // the postgres user must reach the directory; $TMPDIR may be under /root
	}
	reapStale(c, base)
	c.dir, err = os.MkdirTemp(base, "pgstore-test-")
	if err != nil {
		return nil, err
	}
	c.data = filepath.Join(c.dir, "data")
	// Whose cluster this is, for reapStale in a later run if this process dies without stopping it.
	if err := os.WriteFile(filepath.Join(c.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(c.dir)
		return nil, err
	}
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(c.dir)
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			os.RemoveAll(c.dir)
			return nil, err
		}
	}
	if out, err := c.run("initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			os.RemoveAll(c.dir)
			return nil, err
		}
		if err = c.start(); err == nil {
			break
		}
		if attempt == 2 { // the port may have been taken between freePort and the server's bind
			os.RemoveAll(c.dir)
			return nil, err
		}
	}
	c.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	return c, nil
}

// reapStale stops and removes the clusters that test processes which no longer exist left under base
// (a test binary killed by its timeout runs no deferred function).
func reapStale(c *testCluster, base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "pgstore-test-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // not ours to judge, or its owner is alive
		}
		stale := &testCluster{dir: dir, data: filepath.Join(dir, "data"), bin: c.bin, asPostgres: c.asPostgres}
		if _, err := os.Stat(filepath.Join(stale.data, "postmaster.pid")); err == nil {
			stale.crash()
		}
		os.RemoveAll(dir)
	}
}

// run runs one of the cluster's binaries, as the postgres user when we are root.
func (c *testCluster) run(name string, args ...string) ([]byte, error) {
	prog := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asPostgres {
		if runuser, err := exec.LookPath("runuser"); err == nil {
			cmd = exec.Command(runuser, append([]string{"-u", "postgres", "--", prog}, args...)...)
		} else {
			q := []string{shellQuote(prog)}
			for _, a := range args {
				q = append(q, shellQuote(a))
			}
			cmd = exec.Command("su", "postgres", "-s", "/bin/sh", "-c", strings.Join(q, " "))
		}
	} else {
		cmd = exec.Command(prog, args...)
	}
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (c *testCluster) start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=200", c.port, c.dir)
	out, err := c.run("pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "120", "-o", opts, "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	if admin != nil {
		admin.Reset() // its connections died with the previous server
	}
	return nil
}

// crash stops the server as a crash would: no checkpoint, no clean shutdown; the next start recovers
// from the write-ahead log.
func (c *testCluster) crash() error {
	if out, err := c.run("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %v\n%s", err, out)
	}
	return nil
}

func (c *testCluster) stop() {
	if out, err := c.run("pg_ctl", "-D", c.data, "-m", "fast", "-w", "stop"); err != nil {
		fmt.Fprintf(os.Stderr, "pg_ctl stop: %v\n%s", err, out)
	}
	os.RemoveAll(c.dir)
}

// schemaName returns a fresh schema name for t.
func schemaName(t testing.TB) string {
	r := strings.NewReplacer("/", "_", "-", "_", "#", "_")
	name := strings.ToLower(r.Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t_%s_%d", name, time.Now().UnixNano()%1e9)
}

// openStore opens a store in a fresh schema, dropped when t ends.
func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	needPG(t)
	if opts.Schema == "" {
		opts.Schema = schemaName(t)
		t.Cleanup(func() {
			_, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{opts.Schema}.Sanitize()+" CASCADE")
			if err != nil {
				t.Errorf("drop schema %s: %v", opts.Schema, err)
			}
		})
	}
	return reopen(t, adminDSN, opts)
}

func reopen(t testing.TB, dsn string, opts Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
