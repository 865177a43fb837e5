package relay

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"
)

// leaderLockKey is the PostgreSQL session advisory lock held by the one worker that relays. Every worker runs a
// Relay; only the holder of this lock listens and signals, so a local change costs one signal however many workers
// run. The lock lives on one connection: when its worker dies (or the connection breaks) PostgreSQL releases it at
// once and the next worker to try takes over. Any constant works as long as nothing else uses it (the pruner's is
// "zs_prune", goose's another).
const leaderLockKey int64 = 0x7a735f72656c6179 // "zs_relay"

// defaultLeaderPoll is how often a follower tries to take the lock and the leader checks that its lock connection
// is alive: it bounds the time without a relay after a leader dies.
const defaultLeaderPoll = 2 * time.Second

// leadership is the held lock: the dedicated connection that holds it.
type leadership struct {
	conn *sql.Conn
	// lost is closed when the lock connection failed a check: the lock may be gone, so the leader must stop.
	lost chan struct{}
	done chan struct{} // closed when the checker has stopped using conn
}

// acquire blocks until this relay holds the leader lock (or ctx ends: then it returns ctx's error). A failed
// attempt (PostgreSQL down, lock taken) is tried again every poll.
func (r *Relay) acquire(ctx context.Context, log *slog.Logger, poll time.Duration) (*leadership, error) {
	waiting := false
	for {
		conn, err := r.tryLock(ctx)
		if conn != nil {
			return &leadership{conn: conn, lost: make(chan struct{}), done: make(chan struct{})}, nil
		}
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			log.Warn("could not try the relay lock; retrying", "error", err, "retry_in", poll)
		case !waiting:
			log.Info("another worker relays local changes; standing by to take over")
			waiting = true
		}
		if !sleep(ctx, poll) {
			return nil, ctx.Err()
		}
	}
}

// tryLock takes the lock on a connection of its own and returns that connection, or nil when another session
// holds the lock.
func (r *Relay) tryLock(ctx context.Context) (*sql.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	conn, err := r.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("relay lock: connect: %w", err)
	}
	var locked bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLockKey).Scan(&locked); err != nil {
		discard(conn)
		return nil, fmt.Errorf("relay lock: %w", err)
	}
	if !locked {
		_ = conn.Close()
		return nil, nil
	}
	return conn, nil
}

// check runs until ctx ends, testing the lock connection every poll; when a test fails it closes lost. A leader
// whose connection died has lost the lock to PostgreSQL already, and another worker may be relaying: it must stop.
func (l *leadership) check(ctx context.Context, poll time.Duration) {
	defer close(l.done)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, max(poll, time.Second))
		_, err := l.conn.ExecContext(cctx, `SELECT 1`)
		cancel()
		if err != nil && ctx.Err() == nil {
			close(l.lost)
			return
		}
	}
}

// release gives the lock up by ending its session: the connection is taken out of the pool and closed, which
// releases the lock even where an unlock statement would fail or hang. Call it after check has returned.
func (l *leadership) release() {
	<-l.done
	discard(l.conn)
}

// discard closes conn for good instead of returning it to the pool (its session may hold the lock).
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}
