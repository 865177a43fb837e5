package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// fleet is many integrations on one database, each with a simulator account of its own (its own rate limits), run
// by several worker processes on one task queue: what an operator of many customers runs (issue 11).
type fleet struct {
	e       *env
	label   string
	store   *store.Store
	ctl     *control.Control
	workers []*proc
	names   []string
	sims    []*sim.Server
	ids     []int64
	stopped bool
}

// zendeskLimits are Zendesk's account limits (per minute: 700 requests, 10 export requests), which every simulator
// account of a fleet enforces on its own.
func zendeskLimits(o sim.Options) sim.Options {
	o.RateLimit, o.ExportRateLimit, o.RateWindow = 700, 10, time.Minute
	return o
}

// newFleet makes a database and starts `workers` worker processes on a fresh task queue.
func (e *env) newFleet(ctx context.Context, label string, workers int) (*fleet, error) {
	e.runs++
	f := &fleet{e: e, label: label}
	dbURL, err := e.dbs.create(ctx)
	if err != nil {
		return nil, err
	}
	if f.store, err = store.Open(ctx, dbURL, 10*time.Second); err != nil {
		return nil, err
	}
	e.cl.add(func() { f.store.Close() })
	// Every run's database numbers its integrations from 1; start elsewhere so workflow IDs never meet on the
	// shared Temporal server.
	if _, err := f.store.DB.ExecContext(ctx, fmt.Sprintf(`ALTER SEQUENCE integrations_id_seq RESTART WITH %d`,
		e.idBase+int64(e.runs)*100000)); err != nil {
		return nil, err
	}
	queue := "zs-bench-" + randHex(4)
	f.ctl = &control.Control{Store: f.store, Temporal: e.tc, TaskQueue: queue, Key: e.key}
	e.cl.add(func() { f.stop() })
	for i := range workers {
		w, err := startWorker(ctx, e.workerBin, filepath.Join(e.tmp, fmt.Sprintf("worker-%s-%d.log", label, i)),
			map[string]string{"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": e.temporal.hostPort,
				"TEMPORAL_NAMESPACE": e.temporal.namespace, "TASK_QUEUE": queue, "ZENDESK_SYNC_SECRET_KEY": e.keyHex})
		if err != nil {
			return nil, err
		}
		f.workers = append(f.workers, w)
	}
	if _, err := f.ctl.AddUser(ctx, owner, "Owner"); err != nil {
		return nil, err
	}
	return f, nil
}

// add creates an integration (not yet active) against a simulator account of its own.
func (f *fleet) add(ctx context.Context, o sim.Options, interval time.Duration, twoWay bool) (int, error) {
	o.Seed = f.e.seed + int64(len(f.sims))
	if o.CommentsPerTicket == 0 {
		o.CommentsPerTicket = 3
	}
	o.Email, o.Token = simEmail, simToken
	s, url, err := startSim(o, f.e.cl)
	if err != nil {
		return 0, err
	}
	name := fmt.Sprintf("%s-%d", f.label, len(f.names))
	in, err := f.ctl.CreateIntegration(ctx, control.IntegrationSpec{Name: name, URL: url, Email: simEmail,
		Token: simToken, Owner: owner, DefaultUserEmail: simEmail, Interval: interval, TwoWay: twoWay})
	if err != nil {
		return 0, err
	}
	f.names, f.sims, f.ids = append(f.names, name), append(f.sims, s), append(f.ids, in.ID)
	return len(f.names) - 1, nil
}

// activate activates the given integrations, a few at a time.
func (f *fleet) activate(ctx context.Context, idx []int) error {
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(idx))
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := f.ctl.Activate(ctx, f.names[i]); err != nil {
				errs <- fmt.Errorf("activate %s: %w", f.names[i], err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}

// firstSyncsDone counts the integrations among ids whose first sync is done, from PostgreSQL (a progress query per
// integration would load Temporal more than the syncs).
func (f *fleet) firstSyncsDone(ctx context.Context, ids []int64) (int, error) {
	var n int
	err := f.store.DB.GetContext(ctx, &n, `SELECT count(*) FROM sync_state WHERE first_sync_done
		AND integration_id = ANY($1)`, int64Array(ids))
	return n, err
}

// waitFirstSyncs waits until every integration among ids has its first sync done.
func (f *fleet) waitFirstSyncs(ctx context.Context, ids []int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		n, err := f.firstSyncsDone(ctx, ids)
		if err != nil {
			return err
		}
		if n == len(ids) {
			return nil
		}
		for _, w := range f.workers {
			if w.exited() {
				return fmt.Errorf("%s: a worker exited: %v\n%s", f.label, w.err, w.tail(20))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d first syncs done after %s", f.label, n, len(ids), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop terminates the fleet's workflows and stops its workers.
func (f *fleet) stop() {
	if f.stopped {
		return
	}
	f.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range f.ids {
		_ = f.e.tc.TerminateWorkflow(ctx, contract.IntegrationWorkflowID(id), "", "benchmark done")
	}
	for _, w := range f.workers {
		w.stop(10 * time.Second)
	}
}

// cpuSeconds is the user + system CPU time a process has used so far (/proc/<pid>/stat, in clock ticks of 1/100 s,
// the USER_HZ every Linux build exposes).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	return (utime + stime) / 100, nil
}

// int64Array is ids as a PostgreSQL array literal, for ANY($1).
func int64Array(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
