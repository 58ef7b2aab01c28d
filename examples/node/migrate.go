package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/lnkit/lnkit/kvstore"
)

// migrateUsage is the migrate command's help.
const migrateUsage = `usage: lnkit-node [flags] migrate -from fs|sqlite|postgres -to fs|sqlite|postgres [-from.dsn DSN] [-to.dsn DSN]

Copies every key of the node's store to another store, for -datadir and -network: fs is
<datadir>/<network>/store, sqlite <datadir>/<network>/store.sqlite, postgres the DSN given (default
-postgres.dsn). The node must be stopped (migrate takes the datadir's lock) and the destination empty.
Every value is read back from the destination and compared. Afterwards run the node with -store set to
the destination. The lease of a standby pair (postgres) is not copied.`

// maxCopyBatch bounds one batch of the copy: keys, and bytes of values.
const (
	maxCopyBatchKeys  = 256
	maxCopyBatchBytes = 8 << 20
)

// runMigrate is the migrate command.
func runMigrate(cfg *Config, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the store to copy from: fs, sqlite or postgres")
	to := fs.String("to", "", "the store to copy to: fs, sqlite or postgres")
	fromDSN := fs.String("from.dsn", cfg.PostgresDSN, "PostgreSQL connection string of the source (-from postgres)")
	toDSN := fs.String("to.dsn", cfg.PostgresDSN, "PostgreSQL connection string of the destination (-to postgres)")
	fs.Usage = func() { fmt.Fprintln(stderr, migrateUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *from == *to && (*from != storePostgres || *fromDSN == *toDSN) {
		fmt.Fprintln(stderr, "error: -from and -to are the same store")
		return 2
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	defer lock.release()
	params, err := networkParams(cfg.Network)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	dir := filepath.Join(cfg.DataDir, params.Name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, err := openKV(ctx, *from, dir, *fromDSN, cfg.PostgresTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "error: opening the source (%s): %v\n", *from, err)
		return 1
	}
	defer src.close()
	dst, err := openKV(ctx, *to, dir, *toDSN, cfg.PostgresTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "error: opening the destination (%s): %v\n", *to, err)
		return 1
	}
	defer dst.close()
	for _, s := range []*openedStore{src, dst} {
		if err := checkNoLeader(s.kv); err != nil {
			fmt.Fprintf(stderr, "error: %s: %v\n", s.desc, err)
			return 1
		}
	}
	st, err := copyStore(src.kv, dst.kv)
	if err != nil {
		fmt.Fprintf(stderr, "error: copying %s to %s: %v\n", src.desc, dst.desc, err)
		return 1
	}
	fmt.Fprintf(stdout, "copied %d keys (%d bytes of values) from %s to %s, every one read back and compared\n"+
		"run the node with -store %s\n", st.keys, st.bytes, src.desc, dst.desc, *to)
	return 0
}

type copyStats struct {
	keys  int
	bytes int64
}

// copyStore copies every key of src (but the lease) into dst, which must be empty, in batches, then
// reads every key back from dst and compares it with src.
func copyStore(src, dst kvstore.KVStore) (copyStats, error) {
	var st copyStats
	existing, err := dst.ListAll()
	if err != nil {
		return st, err
	}
	if len(existing) > 0 {
		return st, fmt.Errorf("the destination is not empty (%d keys, such as %s)", len(existing), existing[0])
	}
	keys, err := src.ListAll()
	if err != nil {
		return st, err
	}
	var b kvstore.Batch
	var batchBytes int
	flush := func() error {
		if len(b.Ops) == 0 {
			return nil
		}
		err := dst.Commit(&b)
		b, batchBytes = kvstore.Batch{}, 0
		return err
	}
	var copied []kvstore.Key
	for _, k := range keys {
		if k.Primary == leaseNamespace {
			continue
		}
		v, _, err := src.Read(k)
		if errors.Is(err, kvstore.ErrNotFound) {
			continue // removed since ListAll
		}
		if err != nil {
			return st, err
		}
		b.Put(k, v)
		batchBytes += len(v)
		st.keys++
		st.bytes += int64(len(v))
		copied = append(copied, k)
		if len(b.Ops) >= maxCopyBatchKeys || batchBytes >= maxCopyBatchBytes {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	for _, k := range copied {
		want, _, err := src.Read(k)
		if err != nil {
			return st, err
		}
		got, _, err := dst.Read(k)
		if err != nil {
			return st, fmt.Errorf("reading back %s: %w", k, err)
		}
		if !bytes.Equal(want, got) {
			return st, fmt.Errorf("%s differs after the copy", k)
		}
	}
	return st, nil
}

// checkNoLeader refuses a store whose lease a node holds (a running leader of a standby pair: stop
// both nodes first).
func checkNoLeader(kv kvstore.KVStore) error {
	raw, err := readKey(kv, keyLease)
	if err != nil || raw == nil {
		return err
	}
	var v leaseValue
	if json.Unmarshal(raw, &v) == nil && time.Now().Before(v.expires()) {
		return fmt.Errorf("a node holds the lease (%s, for %s more): stop it (and its standby) first",
			v.Holder, time.Until(v.expires()).Round(time.Second))
	}
	return nil
}
