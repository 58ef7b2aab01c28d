package main

import (
	"context"
	"errors"
)

// openSQLite opens the SQLite store (stores/sqlitestore).
func openSQLite(path string) (*openedStore, error) {
	return nil, errors.New("-store sqlite is not in this build yet")
}

// openPostgres opens the PostgreSQL store (stores/pgstore).
func openPostgres(ctx context.Context, dsn string) (*openedStore, error) {
	return nil, errors.New("-store postgres is not in this build yet")
}
