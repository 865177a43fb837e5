package relay

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// running is a relay started by a test that controls its end (a worker that dies).
type running struct {
	tc   *fakeTemporal
	stop context.CancelFunc
	done chan error
}

func startControlled(t *testing.T, f *fixture) *running {
	t.Helper()
	tc := &fakeTemporal{}
	r := newRelay(f, tc)
	r.Logger = testLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	rr := &running{tc: tc, stop: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx) }()
	t.Cleanup(func() { rr.kill(t) })
	return rr
}

// kill stops the relay as a dying worker would, and waits until Run has returned (its lock is released).
func (rr *running) kill(t *testing.T) {
	t.Helper()
	rr.stop()
	select {
	case err := <-rr.done:
		require.ErrorIs(t, err, context.Canceled)
		rr.done <- err // a second kill (the cleanup) finds it returned
	case <-time.After(5 * time.Second):
		t.Error("Run did not return after its context ended")
	}
}

// leaderOf waits until one of the relays has signalled the workflow and returns its index.
func leaderOf(t *testing.T, f *fixture, rs ...*running) int {
	t.Helper()
	leader := -1
	require.Eventually(t, func() bool {
		for i, r := range rs {
			if r.tc.count(f.wid) > 0 {
				leader = i
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "no relay signalled the pending change")
	return leader
}

func totalSignals(f *fixture, rs ...*running) int {
	n := 0
	for _, r := range rs {
		n += r.tc.count(f.wid)
	}
	return n
}

// Two workers' relays: only the one holding the lock signals, once per change, however many changes come.
func TestOnlyOneRelaySignals(t *testing.T) {
	f := setup(t) // one pending change, found by the leader's start scan
	a, b := startControlled(t, f), startControlled(t, f)
	leader := leaderOf(t, f, a, b)
	f.waitListening(t) // exactly one LISTEN connection: the follower does not listen
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, 1, totalSignals(f, a, b), "the pending change is signalled once, by one relay")

	f.markProcessed(t)
	for i := range 3 {
		f.commentNotifyOnly(t, f.st.DB, "change "+string(rune('a'+i)))
		want := 2 + i
		require.Eventually(t, func() bool { return totalSignals(f, a, b) >= want }, 5*time.Second, 20*time.Millisecond)
		time.Sleep(300 * time.Millisecond) // a second signal for the change would have come by now
		require.Equal(t, want, totalSignals(f, a, b), "one signal per change")
	}
	follower := []*running{a, b}[1-leader]
	require.Zero(t, follower.tc.count(f.wid), "the follower never signals while the leader lives")
}

// The leader dies; a change made right after is signalled by the follower, which takes over within seconds and
// scans the outbox when it does.
func TestFollowerTakesOverWhenTheLeaderDies(t *testing.T) {
	f := setup(t)
	rs := []*running{startControlled(t, f), startControlled(t, f)}
	leader := leaderOf(t, f, rs...)
	follower := rs[1-leader]
	f.markProcessed(t)
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, follower.tc.count(f.wid))

	rs[leader].kill(t)
	killed := time.Now()
	f.comment(t, f.st.DB, "made while nobody relays") // its NOTIFY may reach nobody: the outbox row stays
	follower.tc.waitCount(t, f.wid, 1, 3*defaultLeaderPoll+2*time.Second, "the follower must take over")
	t.Logf("the follower signalled %v after the leader died", time.Since(killed).Round(time.Millisecond))
	f.waitListening(t)

	f.markProcessed(t)
	f.commentNotifyOnly(t, f.st.DB, "after the takeover")
	follower.tc.waitCount(t, f.wid, 2, 5*time.Second, "the new leader relays notifications")
}

// The leader's lock connection is cut (PostgreSQL restarted it, a network cut): PostgreSQL has released the lock,
// so the leader must stop relaying; afterwards exactly one relay leads and changes are still signalled.
func TestLeaderThatLosesItsLockConnectionStepsDown(t *testing.T) {
	f := setup(t)
	a, b := startControlled(t, f), startControlled(t, f)
	leaderOf(t, f, a, b)
	f.markProcessed(t)

	var pid int
	require.NoError(t, f.st.DB.Get(&pid, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`))
	var ok bool
	require.NoError(t, f.st.DB.Get(&ok, `SELECT pg_terminate_backend($1)`, pid))
	require.True(t, ok)

	// Within a few polls: one lock holder (on a new connection) and one LISTEN.
	require.Eventually(t, func() bool {
		var holders, listens int
		err := f.st.DB.Get(&holders, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND pid <> $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, pid)
		if err != nil || holders != 1 {
			return false
		}
		err = f.st.DB.Get(&listens, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %'`)
		return err == nil && listens == 1
	}, 4*defaultLeaderPoll+5*time.Second, 50*time.Millisecond, "a new leader must take the lock, and only it listens")

	// The new leader starts with a scan of the outbox; let it finish, so it is not taken for the change's signal.
	before := totalSignals(f, a, b)
	for stable := 0; stable < 5; {
		time.Sleep(100 * time.Millisecond)
		if n := totalSignals(f, a, b); n != before {
			before, stable = n, 0
			continue
		}
		stable++
	}
	f.comment(t, f.st.DB, "after the cut")
	require.Eventually(t, func() bool { return totalSignals(f, a, b) > before }, 5*time.Second, 20*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, before+1, totalSignals(f, a, b), "one signal for the change")
}
