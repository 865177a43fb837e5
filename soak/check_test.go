package soak

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// report is what the check found.
type report struct {
	problems []string
	lines    []string // counts
}

func (r *report) bad(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *report) print(t *testing.T, h *harness) {
	c := h.counters
	t.Logf("soak: seed %d, %d worker(s), noise %s, sync interval %s", h.cfg.seed, h.cfg.workers, h.cfg.noise, h.cfg.interval)
	t.Logf("  Zendesk edits %d (+%d refused), Zendesk comments %d (+%d refused), %d of those subjects and comments with a NUL",
		c.zEdits.Load(), c.zEditFails.Load(), c.zComments.Load(), c.zCommentFails.Load(), c.zPoisoned.Load())
	t.Logf("  CRM edits %d by SQL + %d by `starter case update` (+%d failed), CRM comments %d by SQL + %d by `starter case comment` (+%d failed)",
		c.lEditsSQL.Load(), c.lEditsCLI.Load(), c.lEditFails.Load(), c.lCommentsSQL.Load(), c.lCommentsCLI.Load(), c.lCommentFails.Load())
	t.Logf("  sync requests %d (%d failed), worker kills %d, connection cuts %d (%d connections), fault bursts %d",
		c.syncRequests.Load(), c.syncFails.Load(), c.kills.Load(), c.cuts.Load(), c.cutConns.Load(), c.faultRuns.Load())
	for _, l := range r.lines {
		t.Log("  " + l)
	}
	if len(r.problems) == 0 {
		t.Log("soak: no mismatch")
		return
	}
	t.Logf("soak: %d MISMATCH(ES):", len(r.problems))
	for _, p := range r.problems {
		t.Log("  " + p)
	}
}

type journalRow struct {
	ID     int64     `db:"id"`
	CaseID int64     `db:"case_id"`
	Field  string    `db:"field"`
	Old    *string   `db:"old_value"`
	New    *string   `db:"new_value"`
	BySync bool      `db:"by_sync"`
	At     time.Time `db:"at"`
}

type auditJSON struct {
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Via       struct {
		Channel string `json:"channel"`
	} `json:"via"`
	Events []struct {
		Type          string          `json:"type"`
		FieldName     string          `json:"field_name"`
		Value         json.RawMessage `json:"value"`
		PreviousValue json.RawMessage `json:"previous_value"`
	} `json:"events"`
}

// auditField names the journal's fields in Zendesk's audits.
var auditField = map[string]string{"subject": "subject", "status": "status", "priority": "priority", "assignee_id": "assigned_to"}

func rawText(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}

// meaningOf renders a raw Zendesk value of a field in the case's terms.
func (in *integ) meaningOf(f, raw string) string {
	switch f {
	case "subject":
		return clean(raw)
	case "status":
		return statusMeaning(raw)
	case "priority":
		if raw == "" {
			return priorityMeaning(nil)
		}
		return priorityMeaning(&raw)
	}
	if raw == "" {
		return ""
	}
	id, _ := strconv.ParseInt(raw, 10, 64)
	return in.assigneeMeaning(&id)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// check judges the settled state from first principles.
func (h *harness) check() *report {
	r := &report{}
	var journal []journalRow
	require.NoError(h.t, h.db.SelectContext(h.ctx, &journal, `SELECT id, case_id, field, old_value, new_value, by_sync, at
		FROM soak_journal ORDER BY id`))
	byCase := map[int64][]journalRow{}
	for _, j := range journal {
		byCase[j.CaseID] = append(byCase[j.CaseID], j)
	}
	for _, in := range h.integs {
		h.checkInteg(r, in, byCase)
	}
	h.checkBookkeeping(r)
	return r
}

func (h *harness) checkInteg(r *report, in *integ, journal map[int64][]journalRow) {
	tag := "[" + in.name + "]"
	var conflicts []struct {
		Ticket int64   `db:"ticket_id"`
		Field  string  `db:"field"`
		Local  *string `db:"local_value"`
		Remote *string `db:"remote_value"`
		Winner string  `db:"winner"`
	}
	require.NoError(h.t, h.db.SelectContext(h.ctx, &conflicts, `SELECT ticket_id, field, local_value, remote_value, winner
		FROM conflicts WHERE integration_id=$1 ORDER BY id`, in.id))
	conflictsOf := map[string][]ConflictRow{}
	for _, c := range conflicts {
		k := fmt.Sprintf("%d/%s", c.Ticket, c.Field)
		conflictsOf[k] = append(conflictsOf[k], ConflictRow{Local: deref(c.Local), Remote: deref(c.Remote), Winner: c.Winner})
		if _, ok := in.caseOf[c.Ticket]; !ok || !contains(fields, c.Field) {
			r.bad("%s ticket %d: a conflict on %s recorded though nobody edited it (local %q, remote %q)", tag, c.Ticket,
				c.Field, deref(c.Local), deref(c.Remote))
		}
	}
	final := in.casesNow()
	working := map[int64]bool{}
	var zEdits, lEdits, concurrent, informed int
	for _, ticket := range in.working {
		working[ticket] = true
		caseID := in.caseOf[ticket]
		tv, ok := in.ticketNow(ticket)
		if !ok {
			r.bad("%s ticket %d: gone from Zendesk", tag, ticket)
			continue
		}
		raws, err := in.s.Audits(ticket)
		require.NoError(h.t, err)
		var audits []auditJSON
		for _, raw := range raws {
			var a auditJSON
			require.NoError(h.t, json.Unmarshal(raw, &a))
			audits = append(audits, a)
		}
		remote, pushes := in.remoteWrites(audits)
		local, syncs := localWrites(journal[caseID])
		ctx := pushContext(audits, local)
		for _, f := range fields {
			fc := FieldCase{Integration: in.name, Priority: in.priority, TicketID: ticket, Field: f,
				Initial: caseValue(in.initCases[caseID], f), Local: local[f], Remote: remote[f],
				FinalCase: caseValue(final[caseID], f), CheckRaw: f == "status" || f == "priority",
				Conflicts: conflictsOf[fmt.Sprintf("%d/%s", ticket, f)], CaseSyncs: syncs[f], TicketPushes: pushes[f]}
			_, fc.InitialRaw = in.ticketValue(in.initTicket[ticket], f)
			fc.FinalTicket, fc.FinalRaw = in.ticketValue(tv, f)
			zEdits += len(fc.Remote)
			lEdits += len(fc.Local)
			v := Judge(fc)
			if strings.HasPrefix(v.Rule, "concurrent") {
				concurrent++
			}
			if strings.Contains(v.Rule, "after") || strings.Contains(v.Rule, "undid") {
				informed++
			}
			for _, p := range v.Problems {
				r.bad("%s ticket %d (case %d) %s: %s; %s; %s", tag, ticket, caseID, f, p, history(fc), ctx)
			}
		}
	}
	// Nobody edited the other tickets: neither side may have moved.
	for id, before := range in.initCases {
		if ticket := in.ticketOfCase(id); ticket != 0 && working[ticket] {
			continue
		}
		after := final[id]
		for _, f := range fields {
			if b, a := caseValue(before, f), caseValue(after, f); a != b {
				r.bad("%s case %d: %s changed from %q to %q though nobody edited it or its ticket", tag, id, f, b, a)
			}
		}
	}
	for _, id := range in.s.TicketIDs() {
		if working[id] {
			continue
		}
		if raws, _ := in.s.Audits(id); len(raws) > 0 {
			r.bad("%s ticket %d: written in Zendesk though nobody edited it or its case (%d audits)", tag, id, len(raws))
		}
	}
	h.checkComments(r, in)

	pushes, fails := 0, 0
	for _, q := range in.s.Requests() {
		if q.Method == "PUT" && strings.HasPrefix(q.Path, "/api/v2/tickets/") {
			if q.Status == 200 {
				pushes++
			} else {
				fails++
			}
		}
	}
	ctr := in.s.Counters()
	r.lines = append(r.lines, fmt.Sprintf("%s (%s priority): %d tickets judged; %d Zendesk and %d CRM field edits; "+
		"%d fields with informed later edits, %d with concurrent edits; %d conflicts recorded; %d pushes (PUT 200), "+
		"%d refused; injected: %d 429, %d 5xx, %d dropped", in.name, in.priority, len(in.working), zEdits, lEdits,
		informed, concurrent, len(conflicts), pushes, fails, ctr["429"], ctr["5xx"], ctr["dropped"]))
}

func (in *integ) ticketOfCase(caseID int64) int64 {
	for t, c := range in.caseOf {
		if c == caseID {
			return t
		}
	}
	return 0
}

// localWrites turns the journal of one case into the CRM's edits per field, each with what it overwrote.
func localWrites(rows []journalRow) (edits, syncs map[string][]Write) {
	out := map[string][]Write{}
	syncs = map[string][]Write{}
	last := map[string]*journalRow{}
	for i := range rows {
		j := &rows[i]
		if j.BySync {
			syncs[j.Field] = append(syncs[j.Field], Write{Value: deref(j.New), At: j.At})
		} else {
			w := Write{Value: deref(j.New), Raw: deref(j.New), At: j.At, Prev: deref(j.Old)}
			if p := last[j.Field]; p != nil {
				w.PrevBySync, w.PrevAt = p.BySync, p.At
			}
			out[j.Field] = append(out[j.Field], w)
		}
		last[j.Field] = j
	}
	return out, syncs
}

// remoteWrites turns a ticket's audits into the agents' edits per field, each with what it overwrote and whether
// a push (an API write) had put it there.
func (in *integ) remoteWrites(audits []auditJSON) (edits, pushes map[string][]Write) {
	out := map[string][]Write{}
	pushes = map[string][]Write{}
	type change struct {
		api bool
		at  time.Time
	}
	last := map[string]change{}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, a := range audits {
		for _, e := range a.Events {
			f, ok := auditField[e.FieldName]
			if e.Type != "Change" || !ok {
				continue
			}
			if a.Via.Channel == "web" {
				raw := rawText(e.Value)
				w := Write{Value: in.meaningOf(f, raw), Raw: raw, At: a.CreatedAt, Prev: in.meaningOf(f, rawText(e.PreviousValue))}
				if at, ok := in.zAt[a.ID]; ok {
					w.At = at
				} else {
					w.Note = "time from the audit"
				}
				if p, ok := last[f]; ok {
					w.PrevBySync, w.PrevAt = p.api, p.at
				}
				out[f] = append(out[f], w)
			}
			if a.Via.Channel == "api" {
				pushes[f] = append(pushes[f], Write{Value: in.meaningOf(f, rawText(e.Value)), At: a.CreatedAt})
			}
			last[f] = change{api: a.Via.Channel == "api", at: a.CreatedAt}
		}
	}
	return out, pushes
}

// pushContext sums up what else happened to the ticket: the sync's writes to Zendesk (pushes of fields and
// comments) and the CRM's edits of other fields, since a push of one field can disturb another.
func pushContext(audits []auditJSON, local map[string][]Write) string {
	var pushes []string
	for _, a := range audits {
		if a.Via.Channel != "api" {
			continue
		}
		var what []string
		for _, e := range a.Events {
			if e.Type == "Comment" {
				what = append(what, "comment")
			} else if e.FieldName != "" {
				what = append(what, e.FieldName)
			}
		}
		pushes = append(pushes, a.CreatedAt.Format("15:04:05")+" "+strings.Join(what, "+"))
	}
	var edits []string
	for _, f := range fields {
		if n := len(local[f]); n > 0 {
			edits = append(edits, fmt.Sprintf("%s×%d", f, n))
		}
	}
	return fmt.Sprintf("ticket context: pushes [%s], CRM field edits [%s]", strings.Join(pushes, ", "),
		strings.Join(edits, " "))
}

func history(fc FieldCase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "initial %q/%q", fc.Initial, fc.InitialRaw)
	for _, w := range fc.Local {
		fmt.Fprintf(&b, "; CRM %q at %s over %q", w.Value, w.At.Format("15:04:05.000"), w.Prev)
		if w.PrevBySync {
			fmt.Fprintf(&b, " (synced %s)", w.PrevAt.Format("15:04:05.000"))
		}
	}
	for _, w := range fc.Remote {
		fmt.Fprintf(&b, "; Zendesk %q(%q) at %s over %q", w.Value, w.Raw, w.At.Format("15:04:05.000"), w.Prev)
		if w.Note != "" {
			fmt.Fprintf(&b, " [%s]", w.Note)
		}
		if w.PrevBySync {
			fmt.Fprintf(&b, " (pushed %s)", w.PrevAt.Format("15:04:05"))
		}
	}
	for _, c := range fc.Conflicts {
		fmt.Fprintf(&b, "; conflict local %q remote %q → %s", c.Local, c.Remote, c.Winner)
	}
	fmt.Fprintf(&b, "; final case %q, ticket %q/%q", fc.FinalCase, fc.FinalTicket, fc.FinalRaw)
	return b.String()
}

// checkComments: every comment made on either side is on both sides exactly once; a CRM comment whose command
// failed is on neither or on both; and each ticket has as many case comments as Zendesk comments.
func (h *harness) checkComments(r *report, in *integ) {
	tag := "[" + in.name + "]"
	crm := map[int64]map[string]int{}
	zd := map[int64]map[string]int{}
	for _, ticket := range in.working {
		var bodies []string
		require.NoError(h.t, h.db.SelectContext(h.ctx, &bodies, `SELECT body FROM case_comments WHERE case_id=$1`, in.caseOf[ticket]))
		crm[ticket] = map[string]int{}
		for _, b := range bodies {
			crm[ticket][clean(strings.TrimSpace(b))]++
		}
		zs, err := in.zc.TicketComments(h.ctx, ticket)
		require.NoError(h.t, err)
		zd[ticket] = map[string]int{}
		for _, z := range zs {
			zd[ticket][clean(strings.TrimSpace(z.Body))]++
		}
		if len(bodies) != len(zs) {
			r.bad("%s ticket %d (case %d): %d case comments, %d Zendesk comments", tag, ticket, in.caseOf[ticket], len(bodies), len(zs))
		}
	}
	made := map[string]bool{}
	n := map[string]int{}
	for _, c := range in.comments {
		body := clean(c.body) // a poisoned Zendesk comment is on the case cleaned
		made[body] = true
		cn, zn := crm[c.ticket][body], zd[c.ticket][body]
		if cn == 1 && zn == 1 {
			n[c.side]++
			continue
		}
		if cn == 0 && zn == 0 && !c.ok {
			continue // the command failed before anything was written
		}
		r.bad("%s ticket %d (case %d): comment %q made in %s (%s, ok=%v %s) is %d time(s) in the CRM and %d in Zendesk",
			tag, c.ticket, in.caseOf[c.ticket], c.body, c.side, c.how, c.ok, c.errorMsg, cn, zn)
	}
	for ticket, m := range crm {
		for b := range m {
			if strings.HasPrefix(b, "soak ") && !made[b] {
				r.bad("%s ticket %d: case comment %q that nobody made", tag, ticket, b)
			}
		}
	}
	for ticket, m := range zd {
		for b := range m {
			if strings.HasPrefix(b, "soak ") && !made[b] {
				r.bad("%s ticket %d: Zendesk comment %q that nobody made", tag, ticket, b)
			}
		}
	}
	r.lines = append(r.lines, fmt.Sprintf("%s: comments on both sides exactly once: %d made in the CRM, %d made in Zendesk",
		in.name, n["CRM"], n["Zendesk"]))
}

// checkBookkeeping: no outbox row left, no failure recorded, no error in progress, every workflow running and
// none failed or terminated.
func (h *harness) checkBookkeeping(r *report) {
	var pending, failures int
	require.NoError(h.t, h.db.GetContext(h.ctx, &pending, `SELECT count(*) FROM outbox WHERE processed_at IS NULL`))
	if pending > 0 {
		r.bad("outbox: %d row(s) still pending after the sync settled", pending)
	}
	var fs []struct {
		Integration int64  `db:"integration_id"`
		Kind        string `db:"kind"`
		ZendeskID   *int64 `db:"zendesk_id"`
		Reason      string `db:"reason"`
	}
	require.NoError(h.t, h.db.SelectContext(h.ctx, &fs, `SELECT integration_id, kind, zendesk_id, reason FROM sync_failures
		WHERE resolved_at IS NULL ORDER BY id`))
	failures = len(fs)
	for _, f := range fs {
		var id int64
		if f.ZendeskID != nil {
			id = *f.ZendeskID
		}
		r.bad("sync_failures: integration %d %s %d: %s (all the poison injected can be cleaned)", f.Integration, f.Kind, id, f.Reason)
	}
	for _, in := range h.integs {
		p, err := h.ctl.Progress(h.ctx, in.name)
		require.NoError(h.t, err)
		if p.LastError != nil {
			r.bad("[%s] progress shows last_error %q after the sync settled", in.name, *p.LastError)
		}
		if !p.Active || p.Source != "" && p.Source != "workflow" {
			r.bad("[%s] progress: active=%v, answered by %q (not the live workflow)", in.name, p.Active, p.Source)
		}
	}
	c := h.ts.GetDefaultClient()
	runs := map[string]int{}
	var next []byte
	for {
		resp, err := c.ListWorkflow(h.ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: h.ts.GetDefaultNamespace(), PageSize: 1000, NextPageToken: next})
		require.NoError(h.t, err)
		for _, e := range resp.Executions {
			runs[e.Status.String()]++
			switch e.Status {
			case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
				enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			default:
				r.bad("workflow %s run %s ended %s", e.Execution.WorkflowId, e.Execution.RunId, e.Status)
			}
		}
		if next = resp.NextPageToken; len(next) == 0 {
			break
		}
	}
	for _, in := range h.integs {
		d, err := c.DescribeWorkflowExecution(h.ctx, contract.IntegrationWorkflowID(in.id), "")
		require.NoError(h.t, err)
		if st := d.WorkflowExecutionInfo.Status; st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			r.bad("[%s] workflow %s is %s, not running", in.name, contract.IntegrationWorkflowID(in.id), st)
		}
	}
	var statuses []string
	for s, n := range runs {
		statuses = append(statuses, fmt.Sprintf("%d %s", n, strings.TrimPrefix(s, "WORKFLOW_EXECUTION_STATUS_")))
	}
	sort.Strings(statuses)
	r.lines = append(r.lines, fmt.Sprintf("workflow runs: %s; outbox pending %d; sync_failures %d",
		strings.Join(statuses, ", "), pending, failures))
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
