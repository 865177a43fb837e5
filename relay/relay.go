// Package relay wakes integration workflows when a case changes locally. The database records every local change
// of a two-way integration in the outbox and NOTIFYs the channel zendesk_sync_outbox with the integration's id
// (store/migrations/00002_two_way.sql); the relay LISTENs on it and signals that integration's workflow, so a CRM
// edit reaches Zendesk in seconds instead of at the next scheduled sync.
//
// NOTIFY is fire-and-forget: whatever is sent while the relay is not connected is lost. The outbox is the durable
// record, so the relay rescans its pending rows whenever it may have missed something (at start, after every
// (re)connect) and on a timer as a safety net. A signal is only a wake-up: the workflow reads the outbox itself, so
// an extra signal costs a little work and a missing one costs latency, never data.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/api/serviceerror"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// Channel is the PostgreSQL notification channel the outbox triggers notify.
const Channel = "zendesk_sync_outbox"

const (
	defaultRescan   = 30 * time.Second
	defaultDebounce = 50 * time.Millisecond

	// Bounds of the listener's reconnect backoff: quick enough to be back within a moment of a PostgreSQL
	// restart, slow enough not to hammer a server that stays down.
	minReconnect = 100 * time.Millisecond
	maxReconnect = 10 * time.Second

	// callTimeout bounds one scan query or one signal, so a hung database or Temporal frontend delays the
	// relay instead of stopping it.
	callTimeout = 10 * time.Second
	// minRetry is the first wait after a failed scan or signal; it doubles up to the rescan interval.
	minRetry = 500 * time.Millisecond
)

// pendingQuery lists the integrations with changes not yet pushed to Zendesk (served by the outbox_ready index).
// Parked rows (two-way switched off, credentials rejected: see store/migrations/00006_twoway_trust.sql) are left
// out: signalling them again every rescan would wake the workflow for nothing, for ever. They are NOTIFYed again
// when they resume.
const pendingQuery = `SELECT DISTINCT integration_id FROM outbox WHERE processed_at IS NULL AND parked_at IS NULL`

// Signaler is the part of client.Client the relay uses (so tests can fake it).
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg interface{}) error
}

// Relay turns outbox notifications into SignalLocalChange signals. Set the fields, then call Run.
type Relay struct {
	// DatabaseURL opens the relay's own LISTEN connection: a pooled connection cannot hold a LISTEN.
	DatabaseURL string
	// DB runs the pending scan.
	DB       *sqlx.DB
	Temporal Signaler
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Rescan is the safety-net scan interval (default 30s): it bounds the delay of a change whose
	// notification was lost in a way the listener could not notice.
	Rescan time.Duration
	// Debounce (default 50ms) is how long a notification waits for the rest of its burst, so a burst costs
	// one signal per integration.
	Debounce time.Duration
	// LeaderPoll (default 2s) is how often a standing-by relay tries to take over, and how often the relaying
	// one checks that it still holds the lock: the longest a dead leader leaves changes without a relay.
	LeaderPoll time.Duration
}

// Run relays until ctx ends, then returns ctx.Err(): it waits for the leader lock (one worker relays at a time),
// then listens and signals until ctx ends or the lock is lost, and then waits for the lock again. Database and
// Temporal errors are logged and retried; only a Relay missing a required field makes it return early.
func (r *Relay) Run(ctx context.Context) error {
	if r.DatabaseURL == "" || r.DB == nil || r.Temporal == nil {
		return errors.New("relay: DatabaseURL, DB and Temporal are required")
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "outbox-relay")
	poll := r.LeaderPoll
	if poll <= 0 {
		poll = defaultLeaderPoll
	}
	for {
		lead, err := r.acquire(ctx, log, poll)
		if err != nil {
			return err
		}
		log.Info("this worker now relays local changes")
		leaderGauge.Set(1)
		leadCtx, stop := context.WithCancel(ctx)
		go lead.check(leadCtx, poll)
		go func() {
			select {
			case <-lead.lost:
				log.Warn("lost the relay lock's connection; stopping relaying (another worker may take over)")
				stop()
			case <-leadCtx.Done():
			}
		}()
		// A leader starts with a full scan of the outbox, so what changed while nobody relayed is signalled.
		err = r.listen(leadCtx, log)
		stop()
		lead.release()
		leaderGauge.Set(0)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
}

// listen listens and signals until ctx ends, then returns ctx.Err().
func (r *Relay) listen(ctx context.Context, log *slog.Logger) error {
	rescan, debounce := r.Rescan, r.Debounce
	if rescan <= 0 {
		rescan = defaultRescan
	}
	if debounce <= 0 {
		debounce = defaultDebounce
	}
	rn := &runner{r: r, log: log, rescan: rescan, debounce: debounce,
		ids: map[int64]struct{}{}, kick: make(chan struct{}, 1), scanReq: make(chan struct{}, 1)}

	l := rn.newListener()
	// Close also unblocks a Listen still waiting for the first connection. Run does not wait for it: Close can
	// block behind a Ping stuck on a dead connection.
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() { defer wg.Done(); rn.signalLoop(ctx) }()
	go func() { defer wg.Done(); rn.scanLoop(ctx, l) }()

	if err := rn.listen(ctx, l); err != nil {
		return err
	}
	// The Connected event may have come before the LISTEN did (pq connects as soon as the listener exists), so
	// its scan could have missed a change made in between: scan again now that nothing can slip through.
	rn.requestScan()
	return rn.receive(ctx, l)
}

// newListener is the LISTEN connection. Its callback runs on the listener's own goroutine, which also delivers
// notifications: it must not block, so it only logs and asks the scanner for a scan.
func (rn *runner) newListener() *pq.Listener {
	log := rn.log
	return pq.NewListener(rn.r.DatabaseURL, minReconnect, maxReconnect, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnected, pq.ListenerEventReconnected:
			// Notifications sent while we were disconnected are gone; the outbox still has their rows.
			log.Info("listening for local changes", "event", ev.String())
			rn.requestScan()
		case pq.ListenerEventDisconnected:
			log.Warn("lost the LISTEN connection; reconnecting", "error", err)
		case pq.ListenerEventConnectionAttemptFailed:
			log.Warn("could not connect to PostgreSQL for LISTEN; retrying", "error", err)
		}
	})
}

// listen puts the LISTEN in place. Listen returns once it is (it waits for a connection when there is none). Only
// a server-side error makes it fail; pq then forgets the channel, so trying again is safe.
func (rn *runner) listen(ctx context.Context, l *pq.Listener) error {
	for backoff := minRetry; ; backoff = min(backoff*2, rn.rescan) {
		err := l.Listen(Channel)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rn.log.Warn("LISTEN failed; retrying", "error", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
	}
}

// receive hands each notified outbox id to the signal loop until ctx ends.
func (rn *runner) receive(ctx context.Context, l *pq.Listener) error {
	log := rn.log
	for {
		select {
		case <-ctx.Done():
			// pq closes Notify once Close is through; until then keep draining so its goroutine never blocks
			// on a send and can exit.
			go func() {
				for range l.Notify {
				}
			}()
			return ctx.Err()
		case n, ok := <-l.Notify:
			if !ok { // only after Close, i.e. ctx ended
				return ctx.Err()
			}
			if n == nil {
				// pq sends nil after a reconnect: notifications may have been lost.
				rn.requestScan()
				continue
			}
			id, err := strconv.ParseInt(n.Extra, 10, 64)
			if err != nil {
				log.Warn("unexpected outbox notification payload; rescanning", "payload", n.Extra)
				rn.requestScan()
				continue
			}
			rn.add(id)
		}
	}
}

// runner is the state of one Run.
type runner struct {
	r                *Relay
	log              *slog.Logger
	rescan, debounce time.Duration

	mu  sync.Mutex
	ids map[int64]struct{} // integrations to signal in the next round
	// kick wakes signalLoop; scanReq wakes scanLoop. Both hold at most one token, so requests made while a
	// round or scan is due anyway merge into it.
	kick, scanReq chan struct{}
	pinging       atomic.Bool
}

// add queues integrations for a signal.
func (rn *runner) add(ids ...int64) {
	if len(ids) == 0 {
		return
	}
	rn.mu.Lock()
	for _, id := range ids {
		rn.ids[id] = struct{}{}
	}
	rn.mu.Unlock()
	select {
	case rn.kick <- struct{}{}:
	default:
	}
}

func (rn *runner) take() []int64 {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	out := make([]int64, 0, len(rn.ids))
	for id := range rn.ids {
		out = append(out, id)
	}
	clear(rn.ids)
	return out
}

func (rn *runner) requestScan() {
	select {
	case rn.scanReq <- struct{}{}:
	default:
	}
}

// signalLoop signals the queued integrations in rounds. Each round first waits Debounce so the rest of a burst
// joins it: however many changes an integration had meanwhile, it gets one signal per round. Changes arriving
// during a round start the next one, so the last change of a burst is always followed by a signal.
func (rn *runner) signalLoop(ctx context.Context) {
	backoff := minRetry
	for {
		select {
		case <-ctx.Done():
			return
		case <-rn.kick:
		}
		if !sleep(ctx, rn.debounce) {
			return
		}
		var failed []int64
		for _, id := range rn.take() {
			if err := rn.signal(ctx, id); err != nil {
				if ctx.Err() != nil {
					return
				}
				rn.log.Warn("could not signal the workflow; will retry", "integration_id", id, "error", err)
				failed = append(failed, id)
			}
		}
		if len(failed) == 0 {
			backoff = minRetry
			continue
		}
		// Temporal is unreachable or overloaded: back off before trying these again, without waiting for the
		// next rescan.
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, rn.rescan)
		rn.add(failed...)
	}
}

// signal wakes one integration's workflow. No such workflow (never started, or deactivated) means nobody to
// wake: its outbox rows wait for the workflow that will read them.
func (rn *runner) signal(ctx context.Context, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	wid := contract.IntegrationWorkflowID(id)
	err := rn.r.Temporal.SignalWorkflow(ctx, wid, "", contract.SignalLocalChange, nil)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		rn.log.Debug("no running workflow to signal", "integration_id", id, "workflow_id", wid)
		return nil
	}
	if err != nil {
		return err
	}
	signalsSent.Inc()
	rn.log.Debug("signalled local change", "integration_id", id, "workflow_id", wid)
	return nil
}

// scanLoop runs the pending scan when asked (start, reconnect) and every Rescan. A failed scan is retried with
// backoff: after a PostgreSQL restart the pool's first query often fails on a dead connection, and that scan is
// the one that finds the changes made while the relay was deaf.
func (rn *runner) scanLoop(ctx context.Context, l *pq.Listener) {
	ticker := time.NewTicker(rn.rescan)
	defer ticker.Stop()
	var retry <-chan time.Time
	backoff := minRetry
	for {
		select {
		case <-ctx.Done():
			return
		case <-rn.scanReq:
		case <-retry:
		case <-ticker.C:
			rn.ping(l)
		}
		retry = nil
		ids, err := rn.scan(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			rn.log.Warn("outbox scan failed; will retry", "error", err, "retry_in", backoff)
			retry = time.After(backoff)
			backoff = min(backoff*2, rn.rescan)
			continue
		}
		backoff = minRetry
		if len(ids) > 0 {
			rn.log.Debug("outbox has pending changes", "integrations", len(ids))
		}
		rn.add(ids...)
	}
}

func (rn *runner) scan(ctx context.Context) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var ids []int64
	if err := rn.r.DB.SelectContext(ctx, &ids, pendingQuery); err != nil {
		return nil, fmt.Errorf("list pending outbox integrations: %w", err)
	}
	return ids, nil
}

// ping checks the LISTEN connection, as pq recommends: a connection that died without a FIN (network cut, host
// gone) is otherwise noticed only by TCP, minutes later; a failed ping makes pq reconnect (and us rescan). It
// runs aside because Ping blocks for as long as the dead connection takes to fail, and at most one at a time.
func (rn *runner) ping(l *pq.Listener) {
	if !rn.pinging.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer rn.pinging.Store(false)
		if err := l.Ping(); err != nil {
			rn.log.Debug("LISTEN connection ping failed", "error", err)
		}
	}()
}

// sleep waits d, or less if ctx ends first; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
