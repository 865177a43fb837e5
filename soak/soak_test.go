package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// TestSoak is the convergence test of issue 9: noise on both sides and in the machinery, then the sync settles
// and every case is judged against what each side wrote (see Judge). `go test ./...` runs 40 s of noise;
// `make soak` runs SOAK_MINUTES (default 3). The seed is printed first: SOAK_SEED=<seed> replays the same choices.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for minutes; -short skips it")
	}
	cfg := loadConfig(t)
	t.Logf("soak: seed %d (replay: SOAK_SEED=%d), %s of noise, %d worker process(es), %d tickets per simulator, "+
		"%d edited per integration, logs in %s", cfg.seed, cfg.seed, cfg.noise, cfg.workers, cfg.tickets, cfg.working, cfg.logDir)
	h := newHarness(t, cfg)
	rng := rand.New(rand.NewPCG(uint64(cfg.seed), 0))
	h.cfg.interval = time.Duration(3+rng.IntN(6)) * time.Second

	_, err := h.ctl.AddUser(h.ctx, ownerMail, "Owner")
	require.NoError(t, err)
	for i, prio := range []string{"remote", "local"} {
		h.integs = append(h.integs, h.newInteg(i, "soak-"+prio, prio, cfg.seed*10+int64(i)+1))
	}
	// CRM users for some agents of the simulators, so assignees map both ways (agent emails are the same in
	// every dataset).
	agentEmails := map[string]bool{}
	for _, in := range h.integs {
		for _, e := range in.s.AgentEmails() {
			if !strings.EqualFold(e, simEmail) && len(agentEmails) < 5 {
				agentEmails[strings.ToLower(e)] = true
			}
		}
	}
	for e := range agentEmails {
		_, err := h.ctl.AddUser(h.ctx, e, "Agent "+e)
		require.NoError(t, err)
	}
	h.workers.startAll()
	for _, in := range h.integs {
		_, err := h.ctl.CreateIntegration(h.ctx, control.IntegrationSpec{Name: in.name, URL: in.url, Email: simEmail,
			Token: simToken, Owner: ownerMail, DefaultUserEmail: simEmail, TwoWay: true, Priority: in.priority,
			Interval: h.cfg.interval})
		require.NoError(t, err)
		_, err = h.ctl.Activate(h.ctx, in.name)
		require.NoError(t, err)
	}
	for _, in := range h.integs {
		in.waitFirstSync()
		in.prepare(rng)
	}
	t.Logf("soak: first syncs done; sync interval %s; noise starts", h.cfg.interval)

	start := time.Now()
	h.noise(cfg.noise)
	t.Logf("soak: noise stopped after %s; settling", time.Since(start).Round(time.Second))
	settle := h.settle()
	rep := h.check()
	rep.problems = append(settle, rep.problems...)
	rep.print(t, h)
	if len(rep.problems) > 0 {
		for _, l := range h.workers.errorLines(40) {
			t.Log("worker log: " + l)
		}
		t.Errorf("soak: %d mismatch(es); replay with SOAK_SEED=%d (SOAK_MINUTES=%g, SOAK_WORKERS=%d)",
			len(rep.problems), cfg.seed, cfg.noise.Minutes(), cfg.workers)
	}
}

// counters are what the noise did.
type counters struct {
	zEdits, zEditFails, zComments, zCommentFails              atomic.Int64
	zPoisoned                                                 atomic.Int64 // subjects and comments with a NUL
	lEditsSQL, lEditsCLI, lEditFails                          atomic.Int64
	lCommentsSQL, lCommentsCLI, lCommentFails                 atomic.Int64
	syncRequests, syncFails, kills, cuts, cutConns, faultRuns atomic.Int64
}

type agent struct {
	zdID, crmID int64
	email       string
}

type caseVals struct {
	ID         int64  `db:"id"`
	Subject    string `db:"subject"`
	Status     string `db:"status"`
	Priority   string `db:"priority"`
	AssignedTo *int64 `db:"assigned_to_user_id"`
}

type ticketVals struct {
	Subject    *string `json:"subject"`
	Status     string  `json:"status"`
	Priority   *string `json:"priority"`
	AssigneeID *int64  `json:"assignee_id"`
}

type commentAttempt struct {
	ticket   int64
	body     string
	side     string // "CRM" or "Zendesk"
	how      string
	ok       bool
	errorMsg string
}

// integ is one two-way integration and its simulator.
type integ struct {
	h          *harness
	idx        int
	name       string
	priority   string
	id         int64
	s          *sim.Server
	url        string
	zc         *zendesk.Client
	agents     []agent
	zdToCRM    map[int64]int64
	working    []int64
	caseOf     map[int64]int64
	initCases  map[int64]caseVals
	initTicket map[int64]ticketVals

	seq      atomic.Int64
	mu       sync.Mutex
	zAt      map[int64]time.Time // audit id of a Zendesk edit → just before its request
	comments []commentAttempt
}

func (h *harness) newInteg(idx int, name, priority string, seed int64) *integ {
	s, url := h.newSim(seed)
	zc, err := zendesk.New(zendesk.Config{URL: url, Email: simEmail, Token: simToken})
	require.NoError(h.t, err)
	return &integ{h: h, idx: idx, name: name, priority: priority, s: s, url: url, zc: zc, zAt: map[int64]time.Time{}}
}

func (in *integ) waitFirstSync() {
	h := in.h
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := h.ctl.Progress(h.ctx, in.name)
		if err == nil && p.FirstSyncDone {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	h.t.Fatalf("the first sync of %s did not end within 10 minutes", in.name)
}

// prepare picks the tickets the noise edits: live, writable, assigned to an agent who is a CRM user (so every
// field maps both ways), outside the dataset's first 20 special tickets; and snapshots both sides.
func (in *integ) prepare(rng *rand.Rand) {
	h := in.h
	require.NoError(h.t, h.db.GetContext(h.ctx, &in.id, `SELECT id FROM integrations WHERE name=$1`, in.name))
	var ag []struct {
		ZD    int64  `db:"zendesk_id"`
		CRM   int64  `db:"crm_user_id"`
		Email string `db:"email"`
	}
	require.NoError(h.t, h.db.SelectContext(h.ctx, &ag, `SELECT zendesk_id, crm_user_id, email FROM zd_users
		WHERE integration_id=$1 AND role IN ('agent','admin') AND crm_user_id IS NOT NULL AND lower(email) <> lower($2)
		ORDER BY zendesk_id`, in.id, simEmail))
	require.GreaterOrEqual(h.t, len(ag), 3, "agents matched to CRM users")
	in.zdToCRM = map[int64]int64{}
	var zdIDs []int64
	for _, a := range ag {
		in.agents = append(in.agents, agent{zdID: a.ZD, crmID: a.CRM, email: a.Email})
		in.zdToCRM[a.ZD] = a.CRM
		zdIDs = append(zdIDs, a.ZD)
	}
	var cands []struct {
		Ticket int64 `db:"zendesk_id"`
		Case   int64 `db:"case_id"`
	}
	require.NoError(h.t, h.db.SelectContext(h.ctx, &cands, `SELECT zendesk_id, case_id FROM zd_tickets
		WHERE integration_id=$1 AND case_id IS NOT NULL AND status IN ('new','open','pending','hold','solved')
		AND assignee_id = ANY($2) AND zendesk_id >= $3 ORDER BY zendesk_id`, in.id, int64s(zdIDs),
		in.s.Special().TicketIDBase+20))
	require.GreaterOrEqual(h.t, len(cands), in.h.cfg.working, "enough writable tickets assigned to CRM agents")
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	in.caseOf = map[int64]int64{}
	for _, c := range cands[:in.h.cfg.working] {
		in.working = append(in.working, c.Ticket)
		in.caseOf[c.Ticket] = c.Case
	}
	sort.Slice(in.working, func(i, j int) bool { return in.working[i] < in.working[j] })
	in.initCases = in.casesNow()
	in.initTicket = map[int64]ticketVals{}
	for _, id := range in.s.TicketIDs() {
		if tv, ok := in.ticketNow(id); ok {
			in.initTicket[id] = tv
		}
	}
}

func (in *integ) casesNow() map[int64]caseVals {
	var rows []caseVals
	require.NoError(in.h.t, in.h.db.SelectContext(in.h.ctx, &rows, `SELECT id, subject, status, priority,
		assigned_to_user_id FROM cases WHERE integration_id=$1`, in.id))
	out := map[int64]caseVals{}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

func (in *integ) ticketNow(id int64) (ticketVals, bool) {
	raw, ok := in.s.Ticket(id)
	if !ok {
		return ticketVals{}, false
	}
	var tv ticketVals
	if err := json.Unmarshal(raw, &tv); err != nil {
		return ticketVals{}, false
	}
	return tv, true
}

// The fields the noise edits, named as the journal and the conflicts table name them.
var fields = []string{"subject", "status", "priority", "assigned_to"}

func statusMeaning(raw string) string {
	s, err := mapping.CaseStatus(raw)
	if err != nil {
		return "?" + raw
	}
	return s
}

func priorityMeaning(raw *string) string {
	p, err := mapping.CasePriority(raw)
	if err != nil {
		return "?" + *raw
	}
	return p
}

func (in *integ) assigneeMeaning(zd *int64) string {
	if zd == nil {
		return ""
	}
	if crm, ok := in.zdToCRM[*zd]; ok {
		return strconv.FormatInt(crm, 10)
	}
	return "zendesk user " + strconv.FormatInt(*zd, 10)
}

// poison is, for one Zendesk subject or comment in six (by the pick's number r), a NUL character: text PostgreSQL
// cannot store, which Zendesk holds as it is (accounts with legacy or mail-imported data). The sync stores it
// cleaned; the checks compare Zendesk's text through clean.
func poison(r uint64) string {
	if r%6 == 0 {
		return "\x00"
	}
	return ""
}

// clean is Zendesk's text as the CRM must hold it: without the NUL characters poison put in. Written here from the
// README's rule ("NUL characters are removed"), not taken from the product.
func clean(s string) string { return strings.ReplaceAll(s, "\x00", "") }

// caseValue is a case field in the terms the journal and the conflicts use.
func caseValue(c caseVals, f string) string {
	switch f {
	case "subject":
		return c.Subject
	case "status":
		return c.Status
	case "priority":
		return c.Priority
	}
	if c.AssignedTo == nil {
		return ""
	}
	return strconv.FormatInt(*c.AssignedTo, 10)
}

// ticketValue is a ticket field: its meaning for the case, and its raw Zendesk value.
func (in *integ) ticketValue(t ticketVals, f string) (meaning, raw string) {
	switch f {
	case "subject":
		if t.Subject == nil {
			return "", ""
		}
		return clean(*t.Subject), *t.Subject
	case "status":
		return statusMeaning(t.Status), t.Status
	case "priority":
		r := ""
		if t.Priority != nil {
			r = *t.Priority
		}
		return priorityMeaning(t.Priority), r
	}
	r := ""
	if t.AssigneeID != nil {
		r = strconv.FormatInt(*t.AssigneeID, 10)
	}
	return in.assigneeMeaning(t.AssigneeID), r
}

func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// noise runs the actors for d. Each has its own random stream from the seed, so the sequence of choices is the
// same on a replay (the values picked also depend on the state they find, which timing decides).
func (h *harness) noise(d time.Duration) {
	ctx, cancel := context.WithTimeout(h.ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	for k, actor := range []func(context.Context, *rand.Rand){h.zendeskActor, h.crmActor, h.syncActor, h.killActor, h.faultActor} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actor(ctx, rand.New(rand.NewPCG(uint64(h.cfg.seed), uint64(k+1))))
		}()
	}
	wg.Wait()
}

// pick draws the choices of one edit up front (so the random stream does not depend on the state found): a ticket,
// one or two fields, and a number per field to choose the value with.
type pick struct {
	in     *integ
	ticket int64
	fields []string
	r      [4]uint64
}

func (h *harness) pick(rng *rand.Rand) pick {
	in := h.integs[rng.IntN(len(h.integs))]
	p := pick{in: in, ticket: in.working[rng.IntN(len(in.working))]}
	perm := rng.Perm(len(fields))
	n := 1
	if rng.IntN(10) < 3 {
		n = 2
	}
	for _, i := range perm[:n] {
		p.fields = append(p.fields, fields[i])
	}
	for i := range p.r {
		p.r[i] = rng.Uint64()
	}
	return p
}

// current reads the case and the ticket of a pick as they are now.
func (in *integ) current(ctx context.Context, ticket int64) (caseVals, ticketVals, error) {
	var c caseVals
	_, err := retry(ctx, "read case", func() (struct{}, error) {
		return struct{}{}, in.h.db.GetContext(ctx, &c, `SELECT id, subject, status, priority, assigned_to_user_id
			FROM cases WHERE id=$1`, in.caseOf[ticket])
	})
	if err != nil {
		return c, ticketVals{}, err
	}
	t, ok := in.ticketNow(ticket)
	if !ok {
		return c, t, fmt.Errorf("ticket %d is gone", ticket)
	}
	return c, t, nil
}

// choose picks a value among candidates whose meaning differs from what both sides hold now, so every edit is a
// change for the merge on both sides, and an overwritten value tells which edit it came from.
func choose(r uint64, cands []string, meaning func(string) string, caseNow, ticketNow string) (string, bool) {
	var ok []string
	for _, c := range cands {
		if m := meaning(c); m != caseNow && m != ticketNow {
			ok = append(ok, c)
		}
	}
	if len(ok) == 0 {
		return "", false
	}
	return ok[r%uint64(len(ok))], true
}

func (h *harness) zendeskActor(ctx context.Context, rng *rand.Rand) {
	for pause(ctx, between(rng, 80*time.Millisecond, 450*time.Millisecond)) {
		p := h.pick(rng)
		if rng.IntN(4) == 0 {
			p.in.zendeskComment(p, rng.IntN(4) != 0, rng.IntN(2) == 0)
			continue
		}
		p.in.zendeskEdit(ctx, p)
	}
}

func (in *integ) zendeskEdit(ctx context.Context, p pick) {
	c, t, err := in.current(ctx, p.ticket)
	if err != nil {
		in.h.counters.zEditFails.Add(1)
		return
	}
	ch := map[string]any{}
	for i, f := range p.fields {
		caseNow := caseValue(c, f)
		ticketNow, _ := in.ticketValue(t, f)
		switch f {
		case "subject":
			ch["subject"] = fmt.Sprintf("soak Z%d-%d%s subject", in.idx, in.seq.Add(1), poison(p.r[i]))
		case "status":
			if v, ok := choose(p.r[i], []string{"open", "pending", "hold", "solved"}, statusMeaning, caseNow, ticketNow); ok {
				ch["status"] = v
			}
		case "priority":
			if v, ok := choose(p.r[i], []string{"low", "normal", "high", "urgent", ""}, func(s string) string {
				if s == "" {
					return priorityMeaning(nil)
				}
				return priorityMeaning(&s)
			}, caseNow, ticketNow); ok {
				ch["priority"] = v
			}
		case "assigned_to":
			var ids []string
			for _, a := range in.agents {
				ids = append(ids, strconv.FormatInt(a.zdID, 10))
			}
			if v, ok := choose(p.r[i], ids, func(s string) string {
				id, _ := strconv.ParseInt(s, 10, 64)
				return in.assigneeMeaning(&id)
			}, caseNow, ticketNow); ok {
				id, _ := strconv.ParseInt(v, 10, 64)
				ch["assignee_id"] = id
			}
		}
	}
	if len(ch) == 0 {
		return
	}
	before := time.Now()
	var res struct {
		Audit *struct {
			ID int64 `json:"id"`
		} `json:"audit"`
	}
	if err := in.control(fmt.Sprintf("/_sim/tickets/%d/change", p.ticket), ch, &res); err != nil || res.Audit == nil {
		in.h.counters.zEditFails.Add(1)
		return
	}
	if subj, ok := ch["subject"].(string); ok && subj != clean(subj) {
		in.h.counters.zPoisoned.Add(1)
	}
	in.mu.Lock()
	in.zAt[res.Audit.ID] = before
	in.mu.Unlock()
	in.h.counters.zEdits.Add(1)
}

func (in *integ) zendeskComment(p pick, public, byAgent bool) {
	body := fmt.Sprintf("soak Z%d-%d comment%s from Zendesk", in.idx, in.seq.Add(1), poison(p.r[1]))
	req := map[string]any{"body": body, "public": public}
	if byAgent {
		req["author_id"] = in.agents[int(p.r[0]%uint64(len(in.agents)))].zdID
	}
	err := in.control(fmt.Sprintf("/_sim/tickets/%d/comments", p.ticket), req, nil)
	in.record(commentAttempt{ticket: p.ticket, body: body, side: "Zendesk", how: "control API", ok: err == nil,
		errorMsg: errString(err)})
	if err != nil {
		in.h.counters.zCommentFails.Add(1)
		return
	}
	if body != clean(body) {
		in.h.counters.zPoisoned.Add(1)
	}
	in.h.counters.zComments.Add(1)
}

// control calls the simulator's control API over HTTP, as an agent's browser would reach Zendesk.
func (in *integ) control(path string, body, out any) error {
	b, _ := json.Marshal(body)
	resp, err := http.Post(in.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (in *integ) record(c commentAttempt) {
	in.mu.Lock()
	in.comments = append(in.comments, c)
	in.mu.Unlock()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (h *harness) crmActor(ctx context.Context, rng *rand.Rand) {
	for pause(ctx, between(rng, 80*time.Millisecond, 450*time.Millisecond)) {
		p := h.pick(rng)
		op := rng.IntN(100)
		public := rng.IntN(4) != 0
		withAuthor := rng.IntN(2) == 0
		switch {
		case op < 45:
			p.in.crmEdit(ctx, p, false)
		case op < 65:
			p.in.crmEdit(ctx, p, true)
		case op < 85:
			p.in.crmComment(p, false, public, withAuthor)
		default:
			p.in.crmComment(p, true, public, withAuthor)
		}
	}
}

// crmEdit changes the case with plain SQL or with `starter case update`. Whether it committed is read from the
// journal afterwards, not from the command's answer (a cut connection leaves that unknown).
func (in *integ) crmEdit(ctx context.Context, p pick, cli bool) {
	c, t, err := in.current(ctx, p.ticket)
	if err != nil {
		in.h.counters.lEditFails.Add(1)
		return
	}
	set := map[string]string{}
	var assignEmail string
	for i, f := range p.fields {
		caseNow := caseValue(c, f)
		ticketNow, _ := in.ticketValue(t, f)
		same := func(s string) string { return s }
		switch f {
		case "subject":
			set[f] = fmt.Sprintf("soak L%d-%d subject", in.idx, in.seq.Add(1))
		case "status":
			if v, ok := choose(p.r[i], []string{"open", "in_progress", "resolved"}, same, caseNow, ticketNow); ok {
				set[f] = v
			}
		case "priority":
			if v, ok := choose(p.r[i], []string{"low", "normal", "high"}, same, caseNow, ticketNow); ok {
				set[f] = v
			}
		case "assigned_to":
			var ids []string
			for _, a := range in.agents {
				ids = append(ids, strconv.FormatInt(a.crmID, 10))
			}
			if v, ok := choose(p.r[i], ids, same, caseNow, ticketNow); ok {
				set[f] = v
				for _, a := range in.agents {
					if strconv.FormatInt(a.crmID, 10) == v {
						assignEmail = a.email
					}
				}
			}
		}
	}
	if len(set) == 0 {
		return
	}
	if cli {
		args := []string{"case", "update", strconv.FormatInt(c.ID, 10)}
		for _, f := range fields {
			if v, ok := set[f]; ok {
				if f == "assigned_to" {
					v = assignEmail
				}
				args = append(args, "--"+strings.ReplaceAll(f, "_", "-"), v)
			}
		}
		if _, err := in.h.starter(time.Minute, args...); err != nil {
			in.h.counters.lEditFails.Add(1)
			return
		}
		in.h.counters.lEditsCLI.Add(1)
		return
	}
	var cols []string
	args := []any{c.ID}
	for _, f := range fields {
		if v, ok := set[f]; ok {
			col := f
			if f == "assigned_to" {
				col = "assigned_to_user_id"
			}
			args = append(args, v)
			cols = append(cols, fmt.Sprintf("%s = $%d", col, len(args)))
			if f == "assigned_to" {
				cols[len(cols)-1] += "::bigint"
			}
		}
	}
	if _, err := in.h.db.ExecContext(in.h.ctx, `UPDATE cases SET `+strings.Join(cols, ", ")+` WHERE id = $1`, args...); err != nil {
		in.h.counters.lEditFails.Add(1)
		return
	}
	in.h.counters.lEditsSQL.Add(1)
}

func (in *integ) crmComment(p pick, cli, public, withAuthor bool) {
	body := fmt.Sprintf("soak L%d-%d comment from the CRM", in.idx, in.seq.Add(1))
	author := in.agents[int(p.r[0]%uint64(len(in.agents)))].email
	caseID := in.caseOf[p.ticket]
	var err error
	how := "SQL INSERT"
	if cli {
		how = "starter case comment"
		args := []string{"case", "comment", strconv.FormatInt(caseID, 10), "--body", body}
		if !public {
			args = append(args, "--private")
		}
		if withAuthor {
			args = append(args, "--author", author)
		}
		_, err = in.h.starter(time.Minute, args...)
	} else {
		var email *string
		if withAuthor {
			email = &author
		}
		_, err = in.h.db.ExecContext(in.h.ctx, `INSERT INTO case_comments (case_id, body, public, author_email)
			VALUES ($1, $2, $3, $4)`, caseID, body, public, email)
	}
	in.record(commentAttempt{ticket: p.ticket, body: body, side: "CRM", how: how, ok: err == nil, errorMsg: errString(err)})
	switch {
	case err != nil:
		in.h.counters.lCommentFails.Add(1)
	case cli:
		in.h.counters.lCommentsCLI.Add(1)
	default:
		in.h.counters.lCommentsSQL.Add(1)
	}
}

// syncActor asks for syncs as a user would press "Schedule Sync", sometimes waiting for the result.
func (h *harness) syncActor(ctx context.Context, rng *rand.Rand) {
	for pause(ctx, between(rng, time.Second, 4*time.Second)) {
		in := h.integs[rng.IntN(len(h.integs))]
		args := []string{"sync", in.name}
		timeout := 30 * time.Second
		if rng.IntN(5) == 0 {
			args = append(args, "--wait")
		}
		h.counters.syncRequests.Add(1)
		if _, err := h.starter(timeout, args...); err != nil {
			// Not a mismatch (a cut connection or a worker down past the timeout can fail a request), but
			// printed, so that a run's "n failed" always says why.
			h.counters.syncFails.Add(1)
			h.t.Logf("a sync request failed during the noise: %v", err)
		}
	}
}

// killActor kills a worker process (SIGKILL) and restarts it after a while, or cuts every PostgreSQL connection.
func (h *harness) killActor(ctx context.Context, rng *rand.Rand) {
	for pause(ctx, between(rng, 3*time.Second, 9*time.Second)) {
		kill := rng.IntN(2) == 0
		i := rng.IntN(len(h.workers.procs))
		down := between(rng, 200*time.Millisecond, 3*time.Second)
		if kill {
			if h.workers.kill(i) {
				h.counters.kills.Add(1)
			}
			time.Sleep(down) // not cut short by the end of the noise: the worker always comes back
			h.workers.start(i)
			continue
		}
		if n, err := h.cutConnections(); err == nil {
			h.counters.cuts.Add(1)
			h.counters.cutConns.Add(int64(n))
		}
	}
}

var cleanFaults = sim.Faults{TicketUpdateLimit: -1}

// faultActor injects Zendesk failures for a few seconds at a time: 5xx, dropped connections, the account rate
// limit (429 + Retry-After) and the per-ticket update limit (429 on PUT).
func (h *harness) faultActor(ctx context.Context, rng *rand.Rand) {
	for pause(ctx, between(rng, 2*time.Second, 7*time.Second)) {
		which := rng.IntN(3)
		kind := rng.IntN(4)
		x := rng.Float64()
		d := between(rng, 2*time.Second, 6*time.Second)
		f := cleanFaults
		switch kind {
		case 0:
			f.FailRate = 0.2 + 0.2*x
		case 1:
			f.DropRate = 0.05 + 0.1*x
		case 2:
			f.RateLimit, f.RateWindow = 4+int(10*x), 2*time.Second
		case 3:
			f.TicketUpdateLimit, f.RateWindow = 1, time.Second
		}
		var sims []*sim.Server
		for i, in := range h.integs {
			if which == 2 || which == i {
				sims = append(sims, in.s)
			}
		}
		for _, s := range sims {
			s.SetFaults(f)
		}
		h.counters.faultRuns.Add(1)
		time.Sleep(d)
		for _, s := range sims {
			s.SetFaults(cleanFaults)
		}
	}
}

// settle stops the noise's effects and lets the sync converge: faults off, every worker up, outbox drained, then
// `starter sync --wait` on both integrations until two rounds in a row change nothing.
func (h *harness) settle() []string {
	for _, in := range h.integs {
		in.s.SetFaults(cleanFaults)
	}
	h.workers.startAll()
	deadline := time.Now().Add(12 * time.Minute)
	quiet := 0
	var problems []string
	for round := 1; quiet < 2 && time.Now().Before(deadline); round++ {
		pending := h.waitOutbox(deadline)
		changed := pending > 0
		for _, in := range h.integs {
			out, err := h.starter(6*time.Minute, "sync", in.name, "--wait", "-o", "json")
			if err != nil {
				h.t.Logf("settle round %d: %s: %v", round, in.name, err)
				changed = true
				continue
			}
			var res struct {
				Counters struct {
					CasesUpdated int64 `json:"cases_updated"`
					Pushed       int64 `json:"pushed"`
				} `json:"counters"`
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				problems = append(problems, fmt.Sprintf("settle: `starter sync %s --wait -o json` printed %q: %v", in.name, out, err))
				continue
			}
			h.t.Logf("settle round %d: %s: %d cases updated, %d pushed %s", round, in.name, res.Counters.CasesUpdated,
				res.Counters.Pushed, res.Error)
			if res.Counters.CasesUpdated > 0 || res.Counters.Pushed > 0 || res.Error != "" {
				changed = true
			}
		}
		if changed {
			quiet = 0
		} else {
			quiet++
		}
	}
	if quiet < 2 {
		problems = append(problems, "settle: the sync never went quiet (two passes in a row changing nothing, outbox empty) "+
			"within 12 minutes of the noise stopping")
	}
	return problems
}

// waitOutbox waits until no outbox row is pending; it returns how many still are at the deadline.
func (h *harness) waitOutbox(deadline time.Time) int {
	n := -1
	for time.Now().Before(deadline) {
		if err := h.db.GetContext(h.ctx, &n, `SELECT count(*) FROM outbox WHERE processed_at IS NULL`); err == nil && n == 0 {
			return 0
		}
		time.Sleep(500 * time.Millisecond)
	}
	return n
}

func int64s(v []int64) any { return pq.Array(v) }
