package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zendesk-sync/zendesk-sync/relay"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// scaleOutResult is what several workers must keep (issue 11): one signal per local change whatever the number of
// relays, and no 429 storm when two workers share one account's budget at its limit.
type scaleOutResult struct {
	Relays           int     `json:"relays"`
	Changes          int     `json:"changes"`
	Signals          int64   `json:"signals"`
	SignalsPerChange float64 `json:"signals_per_change"`
	Clients          int     `json:"clients"`
	Limit            int     `json:"limit_per_window"`
	WindowSeconds    float64 `json:"window_s"`
	Requests         int     `json:"requests"`
	Got429           int     `json:"got_429"`
	Extra429         int     `json:"extra_429"` // beyond the first of a window
}

// scaleOutKeys are the scale-out keys of results (embedded there: their JSON fields are the results' own).
type scaleOutKeys struct {
	SignalsPerChange   *float64        `json:"signals_per_change"`
	RateLimit429sMulti *int            `json:"ratelimit_429s_multi"`
	ScaleOut           *scaleOutResult `json:"scaleout,omitempty"`
}

// countingSignaler counts the signals the relays send, instead of sending them.
type countingSignaler struct{ n atomic.Int64 }

func (c *countingSignaler) SignalWorkflow(context.Context, string, string, string, interface{}) error {
	c.n.Add(1)
	return nil
}

// openScratch creates a scratch database and opens the store on it (migrated).
func openScratch(ctx context.Context, dbs *databases) (string, *store.Store, error) {
	url, err := dbs.create(ctx)
	if err != nil {
		return "", nil, err
	}
	st, err := store.Open(ctx, url, 30*time.Second)
	if err != nil {
		return "", nil, err
	}
	return url, st, nil
}

// signalsPerChange runs three relays (as three workers do) on one database and makes local changes one by one,
// further apart than the relay's debounce: each should cost exactly one signal.
func signalsPerChange(ctx context.Context, dbs *databases, r *scaleOutResult) error {
	url, st, err := openScratch(ctx, dbs)
	if err != nil {
		return err
	}
	defer st.Close()
	uid, err := st.AddCRMUser(ctx, "owner@example.com", "Owner")
	if err != nil {
		return err
	}
	integ, err := st.CreateIntegration(ctx, &store.Integration{Name: "relays", URL: "https://relays.zendesk.com",
		Email: "agent@example.com", TokenEnc: []byte{1}, OwnerUserID: uid, TwoWay: true, Priority: "remote",
		IntervalSeconds: 300})
	if err != nil {
		return err
	}
	caseID, err := st.CreateCase(ctx, store.LocalCase{IntegrationID: integ, Subject: "s", Status: "open", Priority: "normal"})
	if err != nil {
		return err
	}
	// The creation left a pending row: processed, so only the changes below are signalled.
	if _, err := st.DB.ExecContext(ctx, `UPDATE outbox SET processed_at = now()`); err != nil {
		return err
	}
	sig := &countingSignaler{}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	r.Relays = 3
	for range r.Relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = (&relay.Relay{DatabaseURL: url, DB: st.DB, Temporal: sig, Rescan: time.Hour, Logger: quietSlog()}).Run(rctx)
		}()
	}
	defer func() { stop(); wg.Wait() }()
	time.Sleep(3 * time.Second) // one relay takes the lock and LISTENs
	r.Changes = 20
	for i := range r.Changes {
		if _, err := st.DB.ExecContext(ctx, `INSERT INTO case_comments (case_id, body) VALUES ($1, $2)`,
			caseID, fmt.Sprintf("change %d", i)); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Second)
	r.Signals = sig.n.Load()
	r.SignalsPerChange = round(float64(r.Signals)/float64(r.Changes), 3)
	return nil
}

// sharedBudget429s runs two clients of one simulator account (two workers) at the account's limit, sharing its
// budget in PostgreSQL, and counts the 429s the simulator sent.
func sharedBudget429s(ctx context.Context, dbs *databases, r *scaleOutResult) error {
	_, st, err := openScratch(ctx, dbs)
	if err != nil {
		return err
	}
	defer st.Close()
	r.Clients, r.Limit, r.WindowSeconds = 2, 50, 2
	s := sim.New(sim.Options{Seed: 1, Tickets: 100, Email: "agent@example.com", Token: "secret",
		RateLimit: r.Limit, RateWindow: 2 * time.Second})
	hs := httptest.NewServer(s)
	defer hs.Close()
	s.SetBaseURL(hs.URL)
	hctx, cancel := context.WithTimeout(ctx, 7*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range r.Clients {
		c, err := zendesk.New(zendesk.Config{URL: hs.URL, Email: "agent@example.com", Token: "secret",
			Limiter: st.RateLimits()})
		if err != nil {
			return err
		}
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for hctx.Err() == nil {
					_, _ = c.SearchUsersByEmail(hctx, "nobody@example.com")
				}
			}()
		}
	}
	wg.Wait()
	var at []time.Time
	for _, q := range s.Requests() {
		r.Requests++
		if q.Status == 429 {
			at = append(at, q.At)
		}
	}
	r.Got429 = len(at)
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	var first time.Time
	for _, t := range at {
		if !first.IsZero() && t.Sub(first) < 2*time.Second {
			r.Extra429++
			continue
		}
		first = t
	}
	return nil
}

func quietSlog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// runScaleOut measures the scale-out keys into res (signals_per_change, target 1.0; ratelimit_429s_multi, 429s
// beyond the first of a window, target 0).
func runScaleOut(ctx context.Context, dbs *databases, res *results, logf func(string, ...interface{}),
	fail func(string, error)) {
	logf("scale-out: signals per local change with 3 relays; two clients sharing one account's budget at its limit")
	so, err := scaleOut(ctx, dbs)
	res.ScaleOut = so
	if err != nil {
		fail("scale-out", err)
		return
	}
	res.SignalsPerChange, res.RateLimit429sMulti = ptr(so.SignalsPerChange), ptr(so.Extra429)
	res.Targets["signals_per_change"] = ptr(so.SignalsPerChange == 1)
	res.Targets["ratelimit_429s_multi"] = ptr(so.Extra429 == 0)
	logf("  signals per change: %.2f (%d signals for %d changes, %d relays); shared budget: %d requests, %d 429s, %d beyond the first of a window",
		so.SignalsPerChange, so.Signals, so.Changes, so.Relays, so.Requests, so.Got429, so.Extra429)
}

// scaleOut runs both measurements.
func scaleOut(ctx context.Context, dbs *databases) (*scaleOutResult, error) {
	r := &scaleOutResult{}
	if err := signalsPerChange(ctx, dbs, r); err != nil {
		return r, fmt.Errorf("signals per change: %w", err)
	}
	if err := sharedBudget429s(ctx, dbs, r); err != nil {
		return r, fmt.Errorf("shared rate-limit budget: %w", err)
	}
	return r, nil
}
