package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// syncWait runs `sync --wait` and fails the test if it has not returned within the limit: the bugs these tests
// pin made it wait for ever.
func (e *env) syncWait(name string, limit time.Duration) contract.SyncResult {
	e.t.Helper()
	type out struct {
		res contract.SyncResult
		err error
	}
	done := make(chan out, 1)
	go func() { r, err := e.ctl.SyncNow(e.ctx, name, true); done <- out{r, err} }()
	select {
	case o := <-done:
		require.NoError(e.t, o.err, "sync --wait of %s", name)
		return o.res
	case <-time.After(limit):
		p, _ := e.ctl.Progress(e.ctx, name)
		e.t.Fatalf("sync --wait of %s did not return within %s; progress: %+v", name, limit, p)
	}
	return contract.SyncResult{}
}

// requesterOf reads a ticket's requester id from the simulator.
func requesterOf(t *testing.T, s *sim.Server, id int64) int64 {
	t.Helper()
	raw, ok := s.Ticket(id)
	require.True(t, ok)
	var v struct {
		RequesterID int64 `json:"requester_id"`
	}
	require.NoError(t, json.Unmarshal(raw, &v))
	return v.RequesterID
}

// createTicketOverHTTP creates a ticket through the simulator's API, as a Zendesk user would.
func createTicketOverHTTP(t *testing.T, url string, body map[string]any) int64 {
	t.Helper()
	b, err := json.Marshal(map[string]any{"ticket": body})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"/api/v2/tickets.json", bytes.NewReader(b))
	require.NoError(t, err)
	req.SetBasicAuth(simEmail+"/token", simToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var out struct {
		Ticket struct {
			ID int64 `json:"id"`
		} `json:"ticket"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Ticket.ID
}

func TestPoisonRecordsAreCleanedOrRecordedAndTheirPageLands(t *testing.T) {
	e := newEnv(t)
	s, url := newSim(t, sim.Options{Seed: 21, Tickets: 300})
	e.integration("poison", url, nil)
	e.firstSyncDone("poison")

	ids := writable(t, s, 60)
	nulSubject, badUTF8, nulComment, nulUserTicket, longEmailTicket, plain := ids[10], ids[20], ids[30], ids[40], ids[50], ids[55]
	// A NUL byte in a subject: Zendesk sends it as \u0000, which PostgreSQL's text and jsonb refuse (22P05).
	v := "subject with a NUL\x00byte"
	require.NoError(t, s.ChangeTicket(nulSubject, sim.TicketChange{Subject: &v}))
	// Invalid UTF-8 bytes and a lone surrogate escape, byte for byte as some accounts' legacy data holds them.
	raw := "\"legacy \xff\xfe bytes and a lone \\ud800 surrogate\""
	require.NoError(t, s.ChangeTicket(badUTF8, sim.TicketChange{SubjectJSON: &raw}))
	// A NUL byte in a comment body.
	_, err := s.AddComment(nulComment, "a reply with a NUL\x00byte", true, 0)
	require.NoError(t, err)
	// A NUL byte in a user's name; the user comes with the next change of a ticket they requested.
	nulUser := requesterOf(t, s, nulUserTicket)
	name := "Nul\x00Name Person"
	require.NoError(t, s.ChangeUser(nulUser, sim.UserChange{Name: &name}))
	prio := "high"
	ns := "requested by a user with a NUL in the name"
	require.NoError(t, s.ChangeTicket(nulUserTicket, sim.TicketChange{Subject: &ns, Priority: &prio}))
	// An email far longer than any address, and than a btree index entry can hold (~2.7 kB), random so that
	// PostgreSQL cannot compress it under the limit.
	longUser := requesterOf(t, s, longEmailTicket)
	rnd := make([]byte, 3000)
	_, err = rand.Read(rnd)
	require.NoError(t, err)
	longEmail := hex.EncodeToString(rnd) + "@example.com"
	require.NoError(t, s.ChangeUser(longUser, sim.UserChange{Email: &longEmail}))
	ls := "requested by a user with an impossible email"
	require.NoError(t, s.ChangeTicket(longEmailTicket, sim.TicketChange{Subject: &ls}))
	// A new ticket whose description (its first comment) holds a NUL byte.
	created := createTicketOverHTTP(t, url, map[string]any{"subject": "described with a NUL",
		"comment": map[string]any{"body": "description\x00with a NUL"}, "requester": map[string]any{"name": "Nul Desc",
			"email": "nul.desc@example.com"}})
	// And an ordinary change on the same page.
	pv := "an ordinary change"
	require.NoError(t, s.ChangeTicket(plain, sim.TicketChange{Subject: &pv}))

	e.syncWait("poison", 5*time.Minute)

	cases := e.cases("poison")
	assert.Equal(t, pv, cases[plain].Subject, "the rest of the page landed")
	assert.Equal(t, "subject with a NULbyte", cases[nulSubject].Subject, "NUL stripped")
	assert.Equal(t, "subject with a NULbyte", e.str(`SELECT raw->>'subject' FROM zd_tickets WHERE zendesk_id=$1`, nulSubject),
		"NUL stripped from the raw JSON too")
	got := cases[badUTF8].Subject
	assert.True(t, utf8.ValidString(got))
	assert.True(t, strings.HasPrefix(got, "legacy \ufffd"), "invalid UTF-8 replaced: %q", got)
	assert.Contains(t, got, "lone \ufffd surrogate", "lone surrogate replaced")
	require.NotEmpty(t, cases[nulComment].Comments)
	last := cases[nulComment].Comments[len(cases[nulComment].Comments)-1]
	assert.Equal(t, "a reply with a NULbyte", last.Body)
	assert.Equal(t, "NulName Person", e.str(`SELECT name FROM zd_users WHERE zendesk_id=$1`, nulUser))
	assert.Equal(t, "NulName Person", e.str(`SELECT raw->>'name' FROM zd_users WHERE zendesk_id=$1`, nulUser))
	assert.Equal(t, ns, cases[nulUserTicket].Subject)
	require.Contains(t, cases, created)
	assert.Equal(t, "descriptionwith a NUL", cases[created].Description)

	// The user with the impossible email is a failure, with its payload; its ticket still landed.
	assert.Equal(t, ls, cases[longEmailTicket].Subject)
	fs, err := e.ctl.Failures(e.ctx, "poison")
	require.NoError(t, err)
	var found bool
	for _, f := range fs {
		if f.Kind == "user" && f.ZendeskID != nil && *f.ZendeskID == longUser {
			found = true
			assert.Contains(t, f.Reason, "email")
			assert.Contains(t, f.Payload, longEmail)
		}
	}
	assert.True(t, found, "the user with a %d-byte email is listed in failures: %+v", len(longEmail), fs)
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM zd_users WHERE zendesk_id=$1 AND email=$2`, longUser, longEmail))

	// The stream moved on: a later change lands, and nothing is retried in the background.
	// (A second later: a change within the second of the last synced one is taken for unchanged, as updated_at
	// has one-second resolution; that is not what this test is about.)
	time.Sleep(1100 * time.Millisecond)
	pv2 := "a later change"
	require.NoError(t, s.ChangeTicket(plain, sim.TicketChange{Subject: &pv2}))
	e.syncWait("poison", 5*time.Minute)
	assert.Equal(t, pv2, e.cases("poison")[plain].Subject)
	p, err := e.ctl.Progress(e.ctx, "poison")
	require.NoError(t, err)
	assert.Nil(t, p.LastError)
}

func (e *env) str(q string, args ...interface{}) string {
	e.t.Helper()
	var s string
	require.NoError(e.t, e.store.DB.GetContext(e.ctx, &s, q, args...))
	return s
}

// Zendesk's event export cannot page within a second: with more than a page (1000) of events in one second, every
// call from that second returns the same full page whose end_time is its start_time.
func TestFullSecondOfCommentEventsNeverStallsTheCommentStream(t *testing.T) {
	e := newEnv(t)
	var frozen atomic.Int64
	clock := func() time.Time {
		if f := frozen.Load(); f != 0 {
			return time.Unix(f, 0)
		}
		return time.Now()
	}
	s, url := newSim(t, sim.Options{Seed: 22, Tickets: 2000, WritesPerSecond: 100000, Now: clock})
	e.integration("burst", url, nil)
	e.firstSyncDone("burst")

	// A bulk update: 1200 tickets get a comment in the same second (three minutes ago, out of the export lag).
	ids := writable(t, s, 1200)
	sec := time.Now().Add(-3 * time.Minute).Unix()
	require.Less(t, s.Stats().LastTimestamp, sec)
	frozen.Store(sec)
	for i, id := range ids {
		_, err := s.AddComment(id, fmt.Sprintf("bulk reply %d", i), true, 0)
		require.NoError(t, err)
	}
	frozen.Store(0)

	// The simulator answers as Zendesk does: a full page that ends where it starts.
	zc, err := zendesk.New(zendesk.Config{URL: url, Email: simEmail, Token: simToken})
	require.NoError(t, err)
	page, err := zc.CommentEventsPage(context.Background(), sec)
	require.NoError(t, err)
	require.Equal(t, 1000, page.Count)
	require.Equal(t, sec, page.EndTime)
	require.False(t, page.EndOfStream)

	e.syncWait("burst", 8*time.Minute)
	cases := e.cases("burst")
	for i, id := range ids {
		c := cases[id]
		var bodies []string
		for _, cm := range c.Comments {
			bodies = append(bodies, cm.Body)
		}
		assert.Contains(t, bodies, fmt.Sprintf("bulk reply %d", i), "ticket %d", id)
	}
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM (SELECT case_id, body, created_at FROM case_comments
		GROUP BY 1,2,3 HAVING count(*) > 1) d`), "no comment twice")
	assert.Greater(t, int64(e.count(`SELECT events_start_time FROM sync_state`)), sec, "the stream moved past the full second")

	// A later comment is read by the next sync: the stream is not stuck on that second.
	_, err = s.AddComment(ids[0], "after the burst", true, 0)
	require.NoError(t, err)
	e.syncWait("burst", 5*time.Minute)
	c := e.cases("burst")[ids[0]]
	assert.Equal(t, "after the burst", c.Comments[len(c.Comments)-1].Body)
}

// sync_pages is UNLOGGED: a PostgreSQL crash or failover empties it between a page's fetch and its apply. A
// trigger stands in for the crash: the first time each page is staged, the row is dropped.
func TestLostStagedPagesAreFetchedAgain(t *testing.T) {
	e := newEnv(t, withPerPage(100))
	s, url := newSim(t, sim.Options{Seed: 23, Tickets: 450})
	for _, q := range []string{
		`CREATE TABLE lost_pages (kind text, from_pos text, PRIMARY KEY (kind, from_pos))`,
		`CREATE FUNCTION lose_page_once() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO lost_pages VALUES (NEW.kind, NEW.from_pos) ON CONFLICT DO NOTHING;
			IF FOUND THEN
				RETURN NULL; -- as if the page had been staged, then lost with the crash
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER lose_page_once BEFORE INSERT ON sync_pages FOR EACH ROW EXECUTE FUNCTION lose_page_once()`,
	} {
		_, err := e.store.DB.ExecContext(e.ctx, q)
		require.NoError(t, err)
	}
	e.integration("lost", url, nil)
	e.firstSyncDone("lost")
	assert.GreaterOrEqual(t, e.count(`SELECT count(*) FROM lost_pages WHERE kind='tickets'`), 5, "every ticket page was lost once")
	live := 0
	for _, id := range s.TicketIDs() {
		if !s.IsDeleted(id) {
			live++
		}
	}
	assert.Equal(t, 450, e.count(`SELECT count(*) FROM zd_tickets`), "every ticket landed")
	assert.Equal(t, live, e.count(`SELECT count(*) FROM cases`))
	assert.Equal(t, s.Stats().Comments, e.count(`SELECT count(*) FROM zd_comments`), "every comment landed")
	assert.Equal(t, 0, e.count(`SELECT count(*) FROM sync_pages`))
}

func TestRefusedExportCursorRestartsTheTicketStreamByTime(t *testing.T) {
	e := newEnv(t, withPerPage(100))
	s, url := newSim(t, sim.Options{Seed: 24, Tickets: 400})
	e.integration("restore", url, nil)
	e.firstSyncDone("restore")
	casesBefore := e.count(`SELECT count(*) FROM cases`)
	commentsBefore := e.count(`SELECT count(*) FROM case_comments`)
	cursorBefore := e.str(`SELECT ticket_cursor FROM sync_state`)

	// Zendesk no longer knows the saved cursor (an account restore; a fresh simulator), and a ticket changes.
	s.InvalidateCursors()
	id := writable(t, s, 1)[0]
	v := "changed after the restore"
	require.NoError(t, s.ChangeTicket(id, sim.TicketChange{Subject: &v}))
	_, err := s.AddComment(id, "a reply after the restore", true, 0)
	require.NoError(t, err)

	e.syncWait("restore", 5*time.Minute)
	c := e.cases("restore")[id]
	assert.Equal(t, v, c.Subject, "the change landed")
	assert.Equal(t, "a reply after the restore", c.Comments[len(c.Comments)-1].Body)
	assert.Equal(t, casesBefore, e.count(`SELECT count(*) FROM cases`), "no case duplicated")
	assert.Equal(t, commentsBefore+1, e.count(`SELECT count(*) FROM case_comments`), "no comment duplicated")
	assert.NotEqual(t, cursorBefore, e.str(`SELECT ticket_cursor FROM sync_state`), "the stream stands on a new cursor")
	p, err := e.ctl.Progress(e.ctx, "restore")
	require.NoError(t, err)
	assert.Nil(t, p.LastError)

	// And it goes on from the new cursor.
	time.Sleep(1100 * time.Millisecond) // a change in the second already synced is taken for unchanged
	v2 := "and again"
	require.NoError(t, s.ChangeTicket(id, sim.TicketChange{Subject: &v2}))
	e.syncWait("restore", 5*time.Minute)
	assert.Equal(t, v2, e.cases("restore")[id].Subject)
}
