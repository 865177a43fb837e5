package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zendesk-sync/zendesk-sync/config"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/internal/workerapp"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// profileSync runs one more first sync of n tickets with the worker hosted in this process (workerapp.Run, as the
// worker binary and the end-to-end tests run it), under a CPU profile. The profile also holds the
// simulator's own work (package sim), which is easy to tell apart. It writes <dir>/cpu-<n>.pprof and prints the top.
func profileSync(ctx context.Context, e *env, n int, dir string) (string, error) {
	o := simOptions(n)
	o.Email, o.Token, o.Seed = simEmail, simToken, e.seed
	s, simURL, err := startSim(o, e.cl)
	if err != nil {
		return "", err
	}
	dbURL, err := e.dbs.create(ctx)
	if err != nil {
		return "", err
	}
	st, err := store.Open(ctx, dbURL, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer st.Close()
	e.runs++
	if _, err := st.DB.ExecContext(ctx, fmt.Sprintf(`ALTER SEQUENCE integrations_id_seq RESTART WITH %d`,
		e.idBase+int64(e.runs))); err != nil {
		return "", err
	}
	queue := "zs-bench-prof-" + randHex(4)
	// The worker as the binary runs it (relay included), but in this process so that the profile sees it.
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- workerapp.Run(wctx, workerapp.Config{Config: config.Config{DatabaseURL: dbURL,
			TemporalAddress: e.temporal.hostPort, TemporalNamespace: e.temporal.namespace, TaskQueue: queue}},
			workerapp.Deps{Key: e.key, Store: st, Temporal: e.tc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		stopWorker()
		if err := <-workerDone; err != nil {
			fmt.Fprintln(os.Stderr, "profile worker:", err)
		}
	}()
	ctl := &control.Control{Store: st, Temporal: e.tc, TaskQueue: queue, Key: e.key}
	if _, err := ctl.AddUser(ctx, owner, "Owner"); err != nil {
		return "", err
	}
	in, err := ctl.CreateIntegration(ctx, control.IntegrationSpec{Name: "bench-profile", URL: simURL, Email: simEmail,
		Token: simToken, Owner: owner, DefaultUserEmail: simEmail, Interval: time.Hour})
	if err != nil {
		return "", err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.tc.TerminateWorkflow(c, contract.IntegrationWorkflowID(in.ID), "", "benchmark done")
	}()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "cpu-"+strconv.Itoa(n)+".pprof")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s.ResetCounters()
	// A sampling profile of PostgreSQL's side: what the sync's sessions are running, every 20 ms.
	dbName := filepath.Base(strings.SplitN(dbURL, "?", 2)[0])
	samples := map[string]int{}
	total := 0
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for sampleCtx.Err() == nil {
			rows, err := e.dbs.admin.QueryContext(sampleCtx, `SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 90),
				COALESCE(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity
				WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()`, dbName)
			if err == nil {
				for rows.Next() {
					var q, w string
					if rows.Scan(&q, &w) == nil {
						samples[w+" | "+q]++
						total++
					}
				}
				rows.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() {
		stopSampling()
		<-sampled
		type kv struct {
			k string
			v int
		}
		var list []kv
		for k, v := range samples {
			list = append(list, kv{k, v})
		}
		sort.Slice(list, func(a, b int) bool { return list[a].v > list[b].v })
		fmt.Fprintf(os.Stderr, "PostgreSQL active-session samples (every 20 ms, %d in all):\n", total)
		for i, x := range list {
			if i >= 25 {
				break
			}
			fmt.Fprintf(os.Stderr, "%6d %5.1f%%  %s\n", x.v, 100*float64(x.v)/float64(max(total, 1)), x.k)
		}
	}()
	if err := pprof.StartCPUProfile(f); err != nil {
		return "", err
	}
	t0 := time.Now()
	if _, err := ctl.Activate(ctx, "bench-profile"); err != nil {
		pprof.StopCPUProfile()
		return "", err
	}
	deadline := time.Now().Add(10*time.Minute + time.Duration(n)*5*time.Millisecond)
	for {
		p, err := ctl.Progress(ctx, "bench-profile")
		if err == nil && p.FirstSyncDone {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			pprof.StopCPUProfile()
			return "", fmt.Errorf("profiled sync not done: %+v %v", p, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	pprof.StopCPUProfile()
	fmt.Fprintf(os.Stderr, "profiled first sync of %d tickets (in-process worker): %.1f s; profile %s\n", n,
		time.Since(t0).Seconds(), path)
	if out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", path).CombinedOutput(); err == nil {
		fmt.Fprintf(os.Stderr, "%s\n", out)
	}
	return path, nil
}
