package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/kvstore/fsstore"
)

// Everything the node persists goes through one kvstore.KVStore (-store): the monitors
// (channelmonitor.KVStorePersister: "monitors", "monitor_updates", "archived_*"), the ChannelManager's
// records ("manager"), and the host's own keys:
//
//	("node", "", "node_id")        our node id (hex): a store holds one node's state; another seed is refused
//	("node", "", "chaintip")       the block the manager and monitors have processed: "<hash> <height>"
//	("node", "", "peers")          the peers we connected to, {node id (lower-case hex): address}, JSON: an address is
//	                               saved once a handshake with it succeeded (redialled at start)
//	("node", "", "close_address")  the wallet address closes and sweeps pay to
//	("node", "", "files_migrated") set once the state of a pre-store datadir was copied in (see migrateFiles)
//	("wallet", "", "state")        the on-chain wallet (wallet.json's document)
//	("routing", "", "graph")       the network graph snapshot; ("routing", "", "scorer") the scorer's
//	("payments", "", <id>), ("invoices", "", <hash>), ("forwards", "", <time>)   the records (store.go, forwards.go)
//	("lease", "", "leader")        with -store postgres: the leader's lease (standby.go)
var (
	keyNodeID        = kvstore.Key{Primary: "node", Key: "node_id"}
	keyTip           = kvstore.Key{Primary: "node", Key: "chaintip"}
	keyPeers         = kvstore.Key{Primary: "node", Key: "peers"}
	keyCloseAddr     = kvstore.Key{Primary: "node", Key: "close_address"}
	keyFilesMigrated = kvstore.Key{Primary: "node", Key: "files_migrated"}
	keyWallet        = kvstore.Key{Primary: "wallet", Key: "state"}
)

// leaseNamespace holds the standby pair's lease (standby.go); it is not copied by migrate.
const leaseNamespace = "lease"

// Store kinds (-store).
const (
	storeFS       = "fs"
	storeSQLite   = "sqlite"
	storePostgres = "postgres"
)

// storeDirName is the fs store's directory, and sqliteFileName the SQLite database, in
// <datadir>/<network>.
const (
	storeDirName   = "store"
	sqliteFileName = "store.sqlite"
)

// openedStore is a store the node opened, with what closes it.
type openedStore struct {
	kv    kvstore.KVStore
	close func() error
	desc  string // for the log: kind and place
}

// openKV opens the store of kind in dir (<datadir>/<network>); dsn is PostgreSQL's connection string,
// pgTimeout the bound of each PostgreSQL call (0: 10 s).
func openKV(ctx context.Context, kind, dir, dsn string, pgTimeout time.Duration) (*openedStore, error) {
	switch kind {
	case storeFS:
		path := filepath.Join(dir, storeDirName)
		s, err := fsstore.Open(path, nil)
		if err != nil {
			return nil, err
		}
		return &openedStore{kv: s, close: s.Close, desc: "fs " + path}, nil
	case storeSQLite:
		return openSQLite(filepath.Join(dir, sqliteFileName))
	case storePostgres:
		if dsn == "" {
			return nil, errors.New("-store postgres needs -postgres.dsn")
		}
		return openPostgres(ctx, dsn, pgTimeout)
	}
	return nil, fmt.Errorf("unknown store %q (want fs, sqlite or postgres)", kind)
}

// countingStore counts what the node writes (values and keys, in bytes) through the store it wraps;
// reads pass through.
type countingStore struct {
	kvstore.KVStore
	writes atomic.Int64 // Write, Remove and Commit calls that succeeded
	bytes  atomic.Int64 // bytes of keys and values they wrote

	mu   sync.Mutex
	byNS map[string]int64 // bytes by primary namespace
}

// bytesByNamespace returns the bytes written so far by primary namespace.
func (c *countingStore) bytesByNamespace() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byNS)
}

func opBytes(op kvstore.Op) int64 {
	return int64(len(op.Key.Primary) + len(op.Key.Secondary) + len(op.Key.Key) + len(op.Value))
}

func (c *countingStore) Write(k kvstore.Key, v []byte) error {
	var b kvstore.Batch
	return c.Commit(b.Put(k, v))
}

func (c *countingStore) Remove(k kvstore.Key) error {
	var b kvstore.Batch
	return c.Commit(b.Remove(k))
}

func (c *countingStore) Commit(b *kvstore.Batch) error {
	if err := c.KVStore.Commit(b); err != nil {
		return err
	}
	var n int64
	c.mu.Lock()
	if c.byNS == nil {
		c.byNS = map[string]int64{}
	}
	for _, op := range b.Ops {
		if op.Kind != kvstore.OpCheck {
			n += opBytes(op)
			c.byNS[op.Key.Primary] += opBytes(op)
		}
	}
	c.mu.Unlock()
	c.writes.Add(1)
	c.bytes.Add(n)
	return nil
}

// walletStorage keeps the wallet's state under keyWallet.
type walletStorage struct{ kv kvstore.KVStore }

var _ wallet.Storage = walletStorage{}

func (w walletStorage) Load() ([]byte, error) {
	b, _, err := w.kv.Read(keyWallet)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", wallet.ErrNoState, err)
	}
	return b, err
}

func (w walletStorage) Save(state []byte) error { return w.kv.Write(keyWallet, state) }

// readKey returns the value under k; nil (no error) if there is none.
func readKey(kv kvstore.KVStore, k kvstore.Key) ([]byte, error) {
	b, _, err := kv.Read(k)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", k, err)
	}
	return b, nil
}

// redactDSN hides the password of a PostgreSQL connection string (URL or key=value form) for logs.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return passwordField.ReplaceAllString(dsn, "${1}xxxxx")
}

var passwordField = regexp.MustCompile(`(password\s*=\s*)('[^']*'|\S+)`)
