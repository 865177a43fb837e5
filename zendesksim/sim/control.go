package sim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TicketChange is a change made "by an agent" through the control API; nil
// fields are left alone. An empty Priority or Type clears it; AssigneeID 0
// unassigns.
type TicketChange struct {
	Subject *string `json:"subject,omitempty"`
	// SubjectJSON sets the subject to a JSON string literal sent byte for byte, quotes included. Zendesk
	// accounts with imported or legacy data send what a Go string cannot hold (invalid UTF-8, a lone
	// surrogate escape such as "\ud800"); this reproduces them. It must be one JSON string token.
	SubjectJSON *string `json:"subject_json,omitempty"`
	Status      *string `json:"status,omitempty"`
	Priority    *string `json:"priority,omitempty"`
	Type        *string `json:"type,omitempty"`
	AssigneeID  *int64  `json:"assignee_id,omitempty"`
	// Tags replaces the ticket's tags; CustomFields sets the custom fields listed (a null value clears one).
	Tags         *[]string          `json:"tags,omitempty"`
	CustomFields []CustomFieldValue `json:"custom_fields,omitempty"`
}

// CustomFieldValue is one custom field value of a TicketChange.
type CustomFieldValue struct {
	ID    int64           `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Stats are the dataset sizes (GET /_sim/stats).
type Stats struct {
	Tickets        int   `json:"tickets"`
	LiveTickets    int   `json:"live_tickets"`
	DeletedTickets int   `json:"deleted_tickets"`
	Users          int   `json:"users"`
	Agents         int   `json:"agents"`
	Comments       int   `json:"comments"`
	TicketEvents   int   `json:"ticket_events"`
	TicketLog      int   `json:"ticket_log_entries"`
	LastTimestamp  int64 `json:"last_timestamp"`
}

// Special names ticket and user ids with known properties, so tests need not
// search for them. Ids are 0 when the dataset is too small to hold them.
type Special struct {
	Open, Closed, Deleted, Problem, Incident           int64
	LargeDescription, NullSubject, Unassigned          int64
	WithCollaborators, HTMLSubject, UnicodeRequester   int64
	PrivateComments, OtherAgentComment                 int64
	Solved, Pending, Hold, New, Task, NullPriority     int64
	BobRequester                                       int64
	Bad                                                []int64 // BadTickets, alternating bad created_at / requester_id
	SharedUpdatedAt                                    []int64 // tickets sharing one updated_at second
	ExternalIDShared                                   string  // external_id carried by two tickets
	AdminUserID, AgentOneUserID                        int64
	BobMillerUserID, AlexSmithUserID, TabsNameUserID   int64
	NoEmailUserID, UnicodeNameUserID, SpacesNameUserID int64
	AgentOneEmail                                      string
	UserIDBase, TicketIDBase                           int64
}

// Special returns the well-known records of this dataset.
func (s *Server) Special() Special {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := s.o.Tickets
	id := func(i int) int64 {
		if i < n {
			return ticketID(int32(i))
		}
		return 0
	}
	sp := Special{
		Open: id(spOpen), Closed: id(spClosed), Deleted: id(spDeleted), Problem: id(spProblem), Incident: id(spIncident),
		LargeDescription: id(spLarge), NullSubject: id(spNullSubject), Unassigned: id(spUnassigned),
		WithCollaborators: id(spCollaborators), HTMLSubject: id(spHTMLSubject), UnicodeRequester: id(spUnicodeRequester),
		PrivateComments: id(spPrivateComments), OtherAgentComment: id(spOtherAgentComment),
		Solved: id(spSolved), Pending: id(spPending), Hold: id(spHold), New: id(spNew), Task: id(spTask),
		NullPriority: id(spNullPriority), BobRequester: id(spBobRequester),
		AdminUserID: s.userID(userAdmin), AgentOneUserID: s.userID(1),
		BobMillerUserID: s.userID(userBobMiller), AlexSmithUserID: s.userID(userAlexSmith),
		TabsNameUserID: s.userID(userTabs), NoEmailUserID: s.userID(userNoEmail),
		UnicodeNameUserID: s.userID(userUnicode), SpacesNameUserID: s.userID(userSpaces),
		AgentOneEmail: fixedAgents[0].email, UserIDBase: userIDBase, TicketIDBase: ticketIDBase,
	}
	for _, i := range s.badIndices() {
		sp.Bad = append(sp.Bad, ticketID(int32(i)))
	}
	if s.sharedTS != 0 {
		for i := sharedBlockStart; i < min(n, sharedBlockStart+sharedBlockLen); i++ {
			if s.tickets[i].updated == s.sharedTS {
				sp.SharedUpdatedAt = append(sp.SharedUpdatedAt, ticketID(int32(i)))
			}
		}
	}
	if n > 75 {
		sp.ExternalIDShared = "legacy-0"
	}
	return sp
}

// AgentEmails lists every agent and admin email of this dataset, as stored.
func (s *Server) AgentEmails() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.agents))
	for _, a := range s.agents {
		if e := s.users[a].email; e != "" {
			out = append(out, e)
		}
	}
	return out
}

func (s *Server) liveTicket(id int64) (int32, error) {
	i, ok := s.ticketIndex(id)
	if !ok || s.tickets[i].flags&flDeleted != 0 {
		return -1, ErrNotFound
	}
	return i, nil
}

// updater picks who an agent-made change is attributed to.
func (s *Server) agentFor(t *ticket) int32 {
	if t.assignee >= 0 {
		return t.assignee
	}
	return 1
}

// ChangeTicket changes a ticket as an agent would in the Zendesk UI.
func (s *Server) ChangeTicket(id int64, ch TicketChange) error {
	_, err := s.ChangeTicketAudit(id, ch)
	return err
}

// ChangeTicketAudit is ChangeTicket returning the audit the change made, as
// Zendesk's update answer carries it (events with previous_value), or nil when
// nothing changed. The audit is taken under the same lock as the change, so
// its previous values are exactly what the ticket held at that moment.
func (s *Server) ChangeTicketAudit(id int64, ch TicketChange) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.liveTicket(id)
	if err != nil {
		return nil, err
	}
	var u ticketUpdate
	setEnum := func(v *string, names []string, field string) (optStr, error) {
		if v == nil {
			return optStr{}, nil
		}
		if *v == "" && names[0] == "" {
			return optStr{set: true, null: true}, nil
		}
		if enumIndex(names, *v) < 0 || *v == "" {
			return optStr{}, &ValidationError{field, field + ": " + *v + " is invalid", "InvalidValue"}
		}
		return optStr{set: true, v: *v}, nil
	}
	if ch.Subject != nil {
		u.subject = optStr{set: true, null: *ch.Subject == "", v: *ch.Subject}
	}
	var rawSubject int32 = -1
	if ch.SubjectJSON != nil {
		raw := *ch.SubjectJSON
		if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
			return nil, &ValidationError{"subject_json", "subject_json must be one JSON string literal, quotes included", "InvalidValue"}
		}
		// The raw literal is interned under a key no plain string can have, so it is rendered verbatim.
		key := rawStringKey + raw
		si, ok := s.strIdx[key]
		if !ok {
			si = int32(len(s.strs))
			s.strs = append(s.strs, key)
			s.strsJSON = append(s.strsJSON, []byte(raw))
			s.strIdx[key] = si
		}
		rawSubject = si
	}
	if u.status, err = setEnum(ch.Status, statusNames, "status"); err != nil {
		return nil, err
	}
	if u.priority, err = setEnum(ch.Priority, priorityNames, "priority"); err != nil {
		return nil, err
	}
	if u.typ, err = setEnum(ch.Type, typeNames, "type"); err != nil {
		return nil, err
	}
	if ch.AssigneeID != nil {
		u.assignee = optIdx{set: true, v: -1}
		if *ch.AssigneeID != 0 {
			a, ok := s.userIndex(*ch.AssigneeID)
			if !ok || s.users[a].role == roleEndUser {
				return nil, &ValidationError{"assignee", "Assignee is invalid", "InvalidValue"}
			}
			u.assignee.v = a
		}
	}
	if ch.Tags != nil {
		tags := normaliseTags(*ch.Tags)
		u.tags = &tags
	}
	for _, f := range ch.CustomFields {
		v := compactJSON(f.Value)
		if f.ID <= 0 || v == "" {
			return nil, &ValidationError{"custom_fields", "Custom fields is invalid", "InvalidValue"}
		}
		u.fields = append(u.fields, customField{id: f.ID, value: v})
	}
	a, err := s.applyUpdate(i, u, s.agentFor(&s.tickets[i]), viaWeb)
	if err != nil {
		return nil, err
	}
	if t := &s.tickets[i]; rawSubject >= 0 && t.subject != rawSubject {
		if t.status == stClosed {
			return nil, ErrClosed
		}
		prev := s.strJSON(t.subject)
		t.subject = rawSubject
		a = s.recordAudit(i, s.agentFor(t), viaWeb, false, []change{{"subject", prev, s.strJSON(rawSubject)}}, nil)
	}
	if a < 0 {
		return nil, nil
	}
	return s.appendAudit(nil, i, a), nil
}

// Audits returns the audits written since the dataset was generated (changes
// through the control API or the API, comments, deletion), oldest first, in
// the shape of GET /api/v2/tickets/{id}/audits.json: every Change event has
// its previous_value and the audit its via channel ("web" for the control
// API, "api" for API writes), so a test can replay what each side did.
func (s *Server) Audits(id int64) ([]json.RawMessage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.ticketIndex(id)
	if !ok {
		return nil, ErrNotFound
	}
	t := &s.tickets[i]
	if t.ext == nil {
		return nil, nil
	}
	out := make([]json.RawMessage, 0, len(t.ext.audits))
	for a := range t.ext.audits {
		out = append(out, s.appendAudit(nil, i, a))
	}
	return out, nil
}

// rawStringKey prefixes the string-table keys of raw JSON literals (TicketChange.SubjectJSON).
const rawStringKey = "\x00raw:"

// UserChange is a change to a user's profile made in Zendesk; nil fields are left alone. Zendesk checks little
// of what an import or an old account holds, so the values are taken as they are (a NUL byte in a name, an
// address longer than any mailbox).
type UserChange struct {
	Name  *string `json:"name,omitempty"`
	Email *string `json:"email,omitempty"`
}

// ChangeUser changes a user. The tickets the user is requester of are not touched: their next change side-loads
// the user again.
func (s *Server) ChangeUser(id int64, ch UserChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.userIndex(id)
	if !ok {
		return ErrNotFound
	}
	us := &s.users[u]
	if ch.Name != nil {
		us.name = *ch.Name
	}
	if ch.Email != nil {
		if us.email != "" {
			delete(s.emailIdx, strings.ToLower(us.email))
		}
		us.email = *ch.Email
		if us.email != "" {
			s.emailIdx[strings.ToLower(us.email)] = u
		}
	}
	us.updated = s.tick()
	return nil
}

// AddComment adds a comment as its author would in the UI.
func (s *Server) AddComment(id int64, body string, public bool, authorID int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.liveTicket(id)
	if err != nil {
		return 0, err
	}
	if s.tickets[i].status == stClosed {
		return 0, ErrClosed
	}
	if strings.TrimSpace(body) == "" {
		return 0, &ValidationError{"comment", "Comment: body cannot be blank", "BlankValue"}
	}
	author, ok := s.userIndex(authorID)
	if !ok {
		if authorID != 0 {
			return 0, &ValidationError{"comment", "Comment: author is invalid", "InvalidValue"}
		}
		author = s.tickets[i].requester
	}
	c := &commentInput{body: body, html: htmlBody(body), public: public, author: author}
	a := s.recordAudit(i, author, viaWeb, false, nil, c)
	t := &s.tickets[i]
	return t.ext.comments[t.ext.audits[a].comment].id, nil
}

// CloseTicket sets the status to closed (after which updates get 422).
func (s *Server) CloseTicket(id int64) error {
	st := "closed"
	return s.ChangeTicket(id, TicketChange{Status: &st})
}

// DeleteTicket soft-deletes: GETs answer 404, exports show status "deleted".
func (s *Server) DeleteTicket(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.liveTicket(id)
	if err != nil {
		return err
	}
	t := &s.tickets[i]
	prev := s.statusName(t)
	t.flags |= flDeleted
	s.recordAudit(i, s.agentFor(t), viaWeb, false, []change{{"status", quoted(prev), `"deleted"`}}, nil)
	return nil
}

// TouchTicket is a system update: generated_timestamp moves (so the ticket
// re-enters the cursor export) but updated_at does not.
func (s *Server) TouchTicket(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ticketIndex(id)
	if !ok {
		return ErrNotFound
	}
	ts := s.tick()
	s.tickets[i].generated = ts
	s.bumpLog(i, ts)
	return nil
}

// Ticket renders a ticket exactly as GET /api/v2/tickets/{id}.json's
// "ticket" value; deleted tickets are not found.
func (s *Server) Ticket(id int64) (json.RawMessage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, err := s.liveTicket(id)
	if err != nil {
		return nil, false
	}
	return s.appendTicket(nil, i), true
}

// TicketIDs lists every ticket id, deleted ones included, in id order.
func (s *Server) TicketIDs() []int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]int64, len(s.tickets))
	for i := range s.tickets {
		out[i] = ticketID(int32(i))
	}
	return out
}

// IsDeleted reports whether a ticket exists and is soft-deleted.
func (s *Server) IsDeleted(id int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.ticketIndex(id)
	return ok && s.tickets[i].flags&flDeleted != 0
}

// UserJSON renders a user as GET /api/v2/users/{id}.json's "user" value.
func (s *Server) UserJSON(id int64) (json.RawMessage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.userIndex(id)
	if !ok {
		return nil, false
	}
	return s.appendUser(nil, u), true
}

// Stats counts the dataset.
func (s *Server) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Tickets: len(s.tickets), Users: len(s.users), Agents: len(s.agents),
		TicketEvents: len(s.elog), TicketLog: len(s.tlog), LastTimestamp: s.lastTS}
	for i := range s.tickets {
		t := &s.tickets[i]
		if t.flags&flDeleted != 0 {
			st.DeletedTickets++
		}
		st.Comments += int(t.nGen) + extLen(t)
	}
	st.LiveTickets = st.Tickets - st.DeletedTickets
	return st
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/_sim/"), "/")
	if s.serveWebhookControl(w, r, p) {
		return
	}
	segs := strings.Split(p, "/")
	post := r.Method == http.MethodPost
	ok := func(v any) {
		b, _ := json.Marshal(v)
		writeJSON(w, http.StatusOK, b)
	}
	fail := func(err error) {
		switch {
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrClosed):
			writeErr(w, err)
		default:
			var ve *ValidationError
			if errors.As(err, &ve) {
				writeErr(w, err)
				return
			}
			badRequest(w, "InvalidValue", err.Error())
		}
	}
	decode := func(v any) bool {
		if r.Body == nil {
			return true
		}
		if err := json.NewDecoder(r.Body).Decode(v); err != nil && err.Error() != "EOF" {
			badRequest(w, "InvalidValue", "bad JSON: "+err.Error())
			return false
		}
		return true
	}
	switch {
	case post && len(segs) == 3 && segs[0] == "tickets":
		id, err := strconv.ParseInt(segs[1], 10, 64)
		if err != nil {
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		switch segs[2] {
		case "change":
			var ch TicketChange
			if !decode(&ch) {
				return
			}
			var audit json.RawMessage
			if audit, err = s.ChangeTicketAudit(id, ch); err == nil {
				t, _ := s.Ticket(id)
				if audit == nil {
					audit = json.RawMessage("null")
				}
				ok(map[string]json.RawMessage{"ticket": t, "audit": audit})
				return
			}
		case "comments":
			var in struct {
				Body     string `json:"body"`
				Public   *bool  `json:"public"`
				AuthorID int64  `json:"author_id"`
			}
			if !decode(&in) {
				return
			}
			pub := in.Public == nil || *in.Public
			var cid int64
			if cid, err = s.AddComment(id, in.Body, pub, in.AuthorID); err == nil {
				ok(map[string]int64{"comment_id": cid})
				return
			}
		case "close":
			err = s.CloseTicket(id)
		case "delete":
			err = s.DeleteTicket(id)
		case "touch":
			err = s.TouchTicket(id)
		default:
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		if err != nil {
			fail(err)
			return
		}
		t, _ := s.Ticket(id)
		if t == nil {
			t = json.RawMessage("null")
		}
		ok(map[string]json.RawMessage{"ticket": t})
	case post && len(segs) == 3 && segs[0] == "users" && segs[2] == "change":
		id, err := strconv.ParseInt(segs[1], 10, 64)
		if err != nil {
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		var ch UserChange
		if !decode(&ch) {
			return
		}
		if err := s.ChangeUser(id, ch); err != nil {
			fail(err)
			return
		}
		u, _ := s.UserJSON(id)
		ok(map[string]json.RawMessage{"user": u})
	case post && p == "cursors/invalidate":
		s.InvalidateCursors()
		ok(map[string]bool{"ok": true})
	case r.Method == http.MethodGet && p == "requests":
		ok(s.Requests())
	case r.Method == http.MethodGet && p == "counters":
		ok(s.Counters())
	case post && p == "counters/reset":
		s.ResetCounters()
		ok(map[string]bool{"ok": true})
	case r.Method == http.MethodGet && p == "faults":
		ok(faultsJSON(s.Faults()))
	case post && p == "faults":
		f := s.Faults()
		var in map[string]json.RawMessage
		if !decode(&in) {
			return
		}
		if err := mergeFaults(&f, in); err != nil {
			badRequest(w, "InvalidValue", err.Error())
			return
		}
		s.SetFaults(f)
		ok(faultsJSON(s.Faults()))
	case post && p == "fail_next_create":
		s.FailNextCreateAfterCommit()
		ok(map[string]bool{"ok": true})
	case post && p == "credentials":
		var in struct{ Email, Token string }
		if !decode(&in) {
			return
		}
		s.SetCredentials(in.Email, in.Token)
		ok(map[string]bool{"ok": true})
	case r.Method == http.MethodGet && p == "stats":
		ok(s.Stats())
	case r.Method == http.MethodGet && p == "special":
		ok(s.Special())
	case r.Method == http.MethodGet && p == "agents":
		ok(s.AgentEmails())
	case r.Method == http.MethodGet && len(segs) == 3 && segs[0] == "tickets" && segs[2] == "audits":
		id, _ := strconv.ParseInt(segs[1], 10, 64)
		audits, err := s.Audits(id)
		if err != nil {
			fail(err)
			return
		}
		if audits == nil {
			audits = []json.RawMessage{}
		}
		ok(map[string][]json.RawMessage{"audits": audits})
	case r.Method == http.MethodGet && len(segs) == 2 && segs[0] == "tickets":
		id, _ := strconv.ParseInt(segs[1], 10, 64)
		t, found := s.Ticket(id)
		if !found {
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		writeJSON(w, http.StatusOK, t)
	default:
		writeJSON(w, http.StatusNotFound, []byte(`{"error":"InvalidEndpoint","description":"Unknown control endpoint"}`))
	}
}

// faultsJSON shows durations as Go duration strings for humans.
func faultsJSON(f Faults) map[string]any {
	return map[string]any{
		"rate_limit": f.RateLimit, "export_rate_limit": f.ExportRateLimit, "rate_window": f.RateWindow.String(),
		"fail_rate": f.FailRate, "drop_rate": f.DropRate, "slow": f.Slow.String(), "export_lag": f.ExportLag.String(),
		"ticket_update_limit": f.TicketUpdateLimit, "writes_per_second": f.WritesPerSecond,
	}
}

// mergeFaults applies only the keys present; durations may be Go duration
// strings ("1m", "250ms") or integer nanoseconds.
func mergeFaults(f *Faults, in map[string]json.RawMessage) error {
	dur := func(raw json.RawMessage, dst *time.Duration) error {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			d, err := time.ParseDuration(str)
			if err != nil {
				return err
			}
			*dst = d
			return nil
		}
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		*dst = time.Duration(n)
		return nil
	}
	for k, raw := range in {
		var err error
		switch k {
		case "rate_limit":
			err = json.Unmarshal(raw, &f.RateLimit)
		case "export_rate_limit":
			err = json.Unmarshal(raw, &f.ExportRateLimit)
		case "ticket_update_limit":
			err = json.Unmarshal(raw, &f.TicketUpdateLimit)
		case "writes_per_second":
			err = json.Unmarshal(raw, &f.WritesPerSecond)
		case "fail_rate":
			err = json.Unmarshal(raw, &f.FailRate)
		case "drop_rate":
			err = json.Unmarshal(raw, &f.DropRate)
		case "rate_window":
			err = dur(raw, &f.RateWindow)
		case "slow":
			err = dur(raw, &f.Slow)
		case "export_lag":
			err = dur(raw, &f.ExportLag)
		default:
			err = errors.New("unknown fault " + strconv.Quote(k))
		}
		if err != nil {
			return errors.New(k + ": " + err.Error())
		}
	}
	return nil
}
