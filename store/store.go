// Package store is the PostgreSQL side: the CRM tables (users, contacts, cases, comments), the Zendesk mirror and
// the sync's bookkeeping, reached through sqlx and lib/pq. Migrations are embedded and applied with goose by both
// binaries on start. Page writes are batched: one statement per table per page, never one per row.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" driver
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a named row does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when a row with the same key already exists.
var ErrExists = errors.New("already exists")

// Store wraps the connection pool.
type Store struct {
	DB *sqlx.DB
}

// Open connects, waits for PostgreSQL to answer (up to wait), and applies the migrations.
func Open(ctx context.Context, databaseURL string, wait time.Duration) (*Store, error) {
	db, err := sqlx.Open("postgres", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	deadline := time.Now().Add(wait)
	for {
		err = db.PingContext(ctx)
		if err == nil {
			break
		}
		if ferr := openFailure(err, databaseURL); ferr != nil {
			db.Close()
			return nil, ferr
		}
		if time.Now().After(deadline) {
			db.Close()
			return nil, fmt.Errorf("connect to PostgreSQL (%s): %w", redactURL(databaseURL), err)
		}
		select {
		case <-ctx.Done():
			db.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	s := &Store{DB: db}
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies the embedded migrations. goose takes an advisory lock, so a worker and a starter starting
// together do not race.
func (s *Store) Migrate(ctx context.Context) error {
	provider, err := goose.NewProvider(goose.DialectPostgres, s.DB.DB, mustSub(migrations, "migrations"),
		goose.WithSessionLocker(mustLocker()))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.DB.Close() }

// InTx runs fn in one transaction, committing if it returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *sqlxTx) error) error {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InSyncTx runs fn in a transaction marked as the sync's own: the change-capture triggers skip its writes, so
// nothing the sync writes comes back to Zendesk as a local change.
func (s *Store) InSyncTx(ctx context.Context, fn func(tx *sqlxTx) error) error {
	return s.InTx(ctx, func(tx *sqlxTx) error {
		if _, err := tx.ExecContext(ctx, `SET LOCAL zendesk_sync.origin = 'sync'`); err != nil {
			return fmt.Errorf("mark sync transaction: %w", err)
		}
		return fn(tx)
	})
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}

type sqlxTx = sqlx.Tx
