package main

import (
	"context"
	"time"

	"github.com/lnkit/lnkit/stores/pgstore"
	"github.com/lnkit/lnkit/stores/sqlitestore"
)

// openSQLite opens the SQLite store (stores/sqlitestore) at path.
func openSQLite(path string) (*openedStore, error) {
	s, err := sqlitestore.Open(path)
	if err != nil {
		return nil, err
	}
	return &openedStore{kv: s, close: s.Close, desc: "sqlite " + path}, nil
}

// openPostgres opens the PostgreSQL store (stores/pgstore) at dsn, in the default table of the
// session's schema, each call bounded by timeout (0: 10 s).
func openPostgres(ctx context.Context, dsn string, timeout time.Duration) (*openedStore, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	s, err := pgstore.Open(ctx, dsn, pgstore.Options{Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return &openedStore{kv: s, close: func() error { s.Close(); return nil }, desc: "postgres " + redactDSN(dsn)}, nil
}
