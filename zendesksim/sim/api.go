package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

var (
	// ErrNotFound: no such ticket or user, or the ticket is deleted.
	ErrNotFound = errors.New("zendesksim: record not found")
	// ErrClosed: closed tickets cannot be updated.
	ErrClosed = errors.New("zendesksim: status closed prevents ticket update")
)

// ValidationError is a 422 RecordInvalid for one field.
type ValidationError struct {
	Field, Description, Code string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Description }

var (
	bodyNotFound = []byte(`{"error":"RecordNotFound","description":"Not found"}`)
	bodyClosed   = []byte(`{"error":"RecordInvalid","description":"Record validation errors","details":{"status":[{"description":"Status closed prevents ticket update"}]}}`)
)

func writeErr(w http.ResponseWriter, err error) {
	var ve *ValidationError
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, bodyNotFound)
	case errors.Is(err, ErrClosed):
		writeJSON(w, http.StatusUnprocessableEntity, bodyClosed)
	case errors.As(err, &ve):
		b := []byte(`{"error":"RecordInvalid","description":"Record validation errors","details":{`)
		b = appendJSONString(b, ve.Field)
		b = append(b, `:[{"description":`...)
		b = appendJSONString(b, ve.Description)
		if ve.Code != "" {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, ve.Code)
		}
		b = append(b, "}]}}"...)
		writeJSON(w, http.StatusUnprocessableEntity, b)
	default:
		badRequest(w, "InvalidValue", err.Error())
	}
}

func badRequest(w http.ResponseWriter, code, desc string) {
	b := []byte(`{"error":`)
	b = appendJSONString(b, code)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, desc)
	writeJSON(w, http.StatusBadRequest, append(b, '}'))
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v2/"), "/")
	p = strings.TrimSuffix(p, ".json")
	segs := strings.Split(p, "/")
	q := r.URL.Query()
	get, post, put := r.Method == http.MethodGet, r.Method == http.MethodPost, r.Method == http.MethodPut
	if s.routeWebhooks(w, r, p, body) {
		return
	}
	switch {
	case get && p == "incremental/tickets/cursor":
		s.handleCursorExport(w, r, q)
	case get && p == "incremental/ticket_events":
		s.handleTicketEvents(w, q)
	case get && p == "incremental/tickets":
		s.handleTimeExport(w, q)
	case get && p == "search":
		s.handleSearch(w, q)
	case get && p == "tickets":
		if q.Has("external_id") {
			s.handleTicketsByExternalID(w, q.Get("external_id"))
		} else {
			s.handleListTickets(w, q)
		}
	case post && p == "tickets":
		s.handleCreateTicket(w, r, body)
	case get && p == "tickets/count":
		s.handleTicketCount(w)
	case get && p == "tickets/show_many":
		s.handleShowMany(w, q, "tickets")
	case get && len(segs) == 2 && segs[0] == "tickets":
		s.withTicket(w, segs[1], func(i int32) { s.handleShowTicket(w, i) })
	case put && len(segs) == 2 && segs[0] == "tickets":
		s.withTicket(w, segs[1], func(i int32) { s.handleUpdateTicket(w, r, i, body) })
	case get && len(segs) == 3 && segs[0] == "tickets" && segs[2] == "comments":
		s.withTicket(w, segs[1], func(i int32) { s.handleComments(w, q, i) })
	case get && p == "users":
		s.handleListUsers(w, q)
	case post && p == "users":
		s.handleCreateUser(w, body, false)
	case post && p == "users/create_or_update":
		s.handleCreateUser(w, body, true)
	case get && p == "users/show_many":
		s.handleShowMany(w, q, "users")
	case get && p == "users/search":
		s.handleUserSearch(w, q)
	case get && p == "users/me":
		s.mu.RLock()
		s.writeUser(w, http.StatusOK, s.currentUser())
		s.mu.RUnlock()
	case get && len(segs) == 2 && segs[0] == "users":
		id, err := strconv.ParseInt(segs[1], 10, 64)
		s.mu.RLock()
		defer s.mu.RUnlock()
		u, ok := s.userIndex(id)
		if err != nil || !ok {
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		s.writeUser(w, http.StatusOK, u)
	default:
		writeJSON(w, http.StatusNotFound, []byte(`{"error":"InvalidEndpoint","description":"Not found"}`))
	}
}

func (s *Server) ticketIndex(id int64) (int32, bool) {
	i := id - ticketIDBase - 1
	if i < 0 || i >= int64(len(s.tickets)) {
		return -1, false
	}
	return int32(i), true
}

func (s *Server) userIndex(id int64) (int32, bool) {
	i := id - userIDBase
	if i < 0 || i >= int64(len(s.users)) {
		return -1, false
	}
	return int32(i), true
}

func (s *Server) currentUser() int32 {
	if u, ok := s.emailIdx[strings.ToLower(s.email)]; ok {
		return u
	}
	return userAdmin
}

// withTicket resolves a path id to a live ticket index; the callback does its
// own locking.
func (s *Server) withTicket(w http.ResponseWriter, seg string, fn func(int32)) {
	id, err := strconv.ParseInt(seg, 10, 64)
	s.mu.RLock()
	i, ok := s.ticketIndex(id)
	ok = ok && err == nil && s.tickets[i].flags&flDeleted == 0
	s.mu.RUnlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, bodyNotFound)
		return
	}
	fn(i)
}

func (s *Server) writeUser(w http.ResponseWriter, status int, u int32) {
	b := s.appendUser([]byte(`{"user":`), u)
	writeJSON(w, status, append(b, '}'))
}

func (s *Server) handleShowTicket(w http.ResponseWriter, i int32) {
	s.mu.RLock()
	buf := s.getBuf()
	b := append((*buf)[:0], `{"ticket":`...)
	b = s.appendTicket(b, i)
	b = append(b, '}')
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, b)
	s.putBuf(buf, b)
}

func parseIDs(v string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func (s *Server) handleShowMany(w http.ResponseWriter, q url.Values, kind string) {
	ids, err := parseIDs(q.Get("ids"))
	if err != nil {
		badRequest(w, "InvalidValue", "ids must be a comma-separated list of integers")
		return
	}
	if len(ids) > 100 {
		badRequest(w, "TooManyValues", "You may only specify up to 100 ids")
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := []byte(`{"` + kind + `":[`)
	n := 0
	for _, id := range ids {
		if kind == "tickets" {
			i, ok := s.ticketIndex(id)
			if !ok || s.tickets[i].flags&flDeleted != 0 {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = s.appendTicket(b, i)
		} else {
			u, ok := s.userIndex(id)
			if !ok {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = s.appendUser(b, u)
		}
		n++
	}
	b = append(b, `],"next_page":null,"previous_page":null,"count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	writeJSON(w, http.StatusOK, append(b, '}'))
}

func (s *Server) handleTicketsByExternalID(w http.ResponseWriter, ext string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := []byte(`{"tickets":[`)
	n := 0
	if si, ok := s.strIdx[ext]; ok {
		for _, i := range s.extIdx[si] {
			t := &s.tickets[i]
			if t.flags&flDeleted != 0 || t.external != si {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = s.appendTicket(b, i)
			n++
		}
	}
	b = append(b, `],"next_page":null,"previous_page":null,"count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	writeJSON(w, http.StatusOK, append(b, '}'))
}

// pageParams parses offset pagination (page from 1, per_page ≤ 100).
func pageParams(q url.Values) (page, per int) {
	page, _ = strconv.Atoi(q.Get("page"))
	per, _ = strconv.Atoi(q.Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 || per > 100 {
		per = 100
	}
	return
}

func (s *Server) pageURL(path string, q url.Values, page int) string {
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	q2.Set("page", strconv.Itoa(page))
	return s.baseURL + path + "?" + q2.Encode()
}

func (s *Server) appendPageLinks(b []byte, path string, q url.Values, page, per, total int) []byte {
	b = append(b, `,"next_page":`...)
	if page*per < total {
		b = appendJSONString(b, s.pageURL(path, q, page+1))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"previous_page":`...)
	if page > 1 {
		b = appendJSONString(b, s.pageURL(path, q, page-1))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"count":`...)
	return strconv.AppendInt(b, int64(total), 10)
}

// handleListTickets is the offset-paginated list Oro walks; deleted tickets
// are not listed.
func (s *Server) handleListTickets(w http.ResponseWriter, q url.Values) {
	page, per := pageParams(q)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if cursorPaged(q) {
		s.cursorTickets(w, q)
		return
	}
	live := make([]int32, 0, len(s.tickets))
	for i := range s.tickets {
		if s.tickets[i].flags&flDeleted == 0 {
			live = append(live, int32(i))
		}
	}
	if q.Get("sort_order") == "desc" {
		for a, z := 0, len(live)-1; a < z; a, z = a+1, z-1 {
			live[a], live[z] = live[z], live[a]
		}
	}
	b := []byte(`{"tickets":[`)
	for j := (page - 1) * per; j < min(page*per, len(live)); j++ {
		if j > (page-1)*per {
			b = append(b, ',')
		}
		b = s.appendTicket(b, live[j])
	}
	b = append(b, ']')
	b = s.appendPageLinks(b, "/api/v2/tickets.json", q, page, per, len(live))
	writeJSON(w, http.StatusOK, append(b, '}'))
}

func (s *Server) handleListUsers(w http.ResponseWriter, q url.Values) {
	page, per := pageParams(q)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if cursorPaged(q) {
		s.cursorUsers(w, q)
		return
	}
	b := []byte(`{"users":[`)
	for j := (page - 1) * per; j < min(page*per, len(s.users)); j++ {
		if j > (page-1)*per {
			b = append(b, ',')
		}
		b = s.appendUser(b, int32(j))
	}
	b = append(b, ']')
	b = s.appendPageLinks(b, "/api/v2/users.json", q, page, per, len(s.users))
	writeJSON(w, http.StatusOK, append(b, '}'))
}

func (s *Server) handleComments(w http.ResponseWriter, q url.Values, i int32) {
	page, per := pageParams(q)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if cursorPaged(q) {
		s.cursorComments(w, q, i)
		return
	}
	cs := s.comments(i)
	if q.Get("sort_order") == "desc" {
		for a, z := 0, len(cs)-1; a < z; a, z = a+1, z-1 {
			cs[a], cs[z] = cs[z], cs[a]
		}
	}
	b := []byte(`{"comments":[`)
	for j := (page - 1) * per; j < min(page*per, len(cs)); j++ {
		if j > (page-1)*per {
			b = append(b, ',')
		}
		b = s.appendComment(b, cs[j], "list")
	}
	b = append(b, ']')
	b = s.appendPageLinks(b, "/api/v2/tickets/"+strconv.FormatInt(ticketID(i), 10)+"/comments.json", q, page, per, len(cs))
	writeJSON(w, http.StatusOK, append(b, '}'))
}

func (s *Server) handleUserSearch(w http.ResponseWriter, q url.Values) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found []int32
	if ext := q.Get("external_id"); ext != "" {
		for i := range s.users {
			if s.users[i].externalID == ext {
				found = append(found, int32(i))
			}
		}
	} else {
		query := strings.TrimSpace(q.Get("query"))
		query = strings.TrimSpace(strings.TrimPrefix(query, "type:user"))
		query = strings.TrimPrefix(query, "email:")
		query = strings.Trim(query, `"`)
		lq := strings.ToLower(query)
		if u, ok := s.emailIdx[lq]; ok {
			found = append(found, u)
		} else if lq != "" && !strings.Contains(lq, "@") {
			for i := range s.users {
				u := &s.users[i]
				if strings.Contains(strings.ToLower(u.name), lq) || strings.Contains(strings.ToLower(u.email), lq) {
					found = append(found, int32(i))
					if len(found) == 100 {
						break
					}
				}
			}
		}
	}
	b := []byte(`{"users":[`)
	for j, u := range found {
		if j > 0 {
			b = append(b, ',')
		}
		b = s.appendUser(b, u)
	}
	b = append(b, `],"next_page":null,"previous_page":null,"count":`...)
	b = strconv.AppendInt(b, int64(len(found)), 10)
	writeJSON(w, http.StatusOK, append(b, '}'))
}

type userInput struct {
	Name       *string         `json:"name"`
	Email      *string         `json:"email"`
	Role       *string         `json:"role"`
	ExternalID json.RawMessage `json:"external_id"`
}

func (s *Server) handleCreateUser(w http.ResponseWriter, body []byte, upsert bool) {
	var in struct {
		User *userInput `json:"user"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.User == nil {
		badRequest(w, "InvalidValue", "Request body must be a JSON object with a user")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := in.User
	ext, _, _ := rawString(u.ExternalID)
	email := ""
	if u.Email != nil {
		email = strings.TrimSpace(*u.Email)
	}
	existing := int32(-1)
	if email != "" {
		if e, ok := s.emailIdx[strings.ToLower(email)]; ok {
			existing = e
		}
	}
	if existing < 0 && upsert && ext != "" {
		for i := range s.users {
			if s.users[i].externalID == ext {
				existing = int32(i)
				break
			}
		}
	}
	if existing >= 0 {
		if !upsert {
			writeErr(w, &ValidationError{"email", "Email: " + email + " is already being used by another user", "DuplicateValue"})
			return
		}
		us := &s.users[existing]
		if u.Name != nil && strings.TrimSpace(*u.Name) != "" {
			us.name = *u.Name
		}
		if ext != "" {
			us.externalID = ext
		}
		us.updated = s.tick()
		s.writeUser(w, http.StatusOK, existing)
		return
	}
	name := ""
	if u.Name != nil {
		name = *u.Name
	}
	if strings.TrimSpace(name) == "" {
		writeErr(w, &ValidationError{"name", "Name:  is too short (minimum one character)", "BlankValue"})
		return
	}
	role := roleEndUser
	if u.Role != nil {
		switch *u.Role {
		case "agent":
			role = roleAgent
		case "admin":
			role = roleAdmin
		case "end-user", "":
		default:
			writeErr(w, &ValidationError{"role", "Role: is invalid", "InvalidValue"})
			return
		}
	}
	idx := s.addUser(name, email, role)
	s.users[idx].externalID = ext
	s.writeUser(w, http.StatusCreated, idx)
}

// addUser must be called with mu held.
func (s *Server) addUser(name, email string, role uint8) int32 {
	ts := s.tick()
	idx := int32(len(s.users))
	s.users = append(s.users, user{name: name, email: email, role: role, created: ts, updated: ts})
	if email != "" {
		s.emailIdx[strings.ToLower(email)] = idx
	}
	if role != roleEndUser {
		s.agents = append(s.agents, idx)
	}
	return idx
}

// rawString reads a JSON string, number or null as a string.
func rawString(raw json.RawMessage) (v string, null bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true, nil
	}
	if raw[0] == '"' {
		err = json.Unmarshal(raw, &v)
		return v, false, err
	}
	var n json.Number
	if err = json.Unmarshal(raw, &n); err != nil {
		return "", false, err
	}
	return n.String(), false, nil
}

func rawID(raw json.RawMessage) (id int64, null bool, err error) {
	v, null, err := rawString(raw)
	if err != nil || null {
		return 0, null, err
	}
	id, err = strconv.ParseInt(v, 10, 64)
	return id, false, err
}

func bodyHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *Server) handleCreateTicket(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		Ticket map[string]json.RawMessage `json:"ticket"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Ticket == nil {
		badRequest(w, "InvalidValue", "Request body must be a JSON object with a ticket")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	if key != "" {
		if e, ok := s.idem[key]; ok {
			s.mu.Unlock()
			if e.bodyHash != bodyHash(body) {
				w.Header().Set("x-idempotency-lookup", "hit")
				badRequest(w, "IdempotentRequestError", "Idempotency key has already been used with a different request")
				return
			}
			w.Header().Set("x-idempotency-lookup", "hit")
			w.Header().Set("Location", e.location)
			writeJSON(w, e.status, e.resp)
			return
		}
		w.Header().Set("x-idempotency-lookup", "miss")
	}
	upd, err := s.parseTicketInput(in.Ticket, true)
	if err != nil {
		s.mu.Unlock()
		writeErr(w, err)
		return
	}
	i, aud, err := s.createTicket(upd, s.currentUser(), viaAPI)
	if err != nil {
		s.mu.Unlock()
		writeErr(w, err)
		return
	}
	b := []byte(`{"ticket":`)
	b = s.appendTicket(b, i)
	b = append(b, `,"audit":`...)
	b = s.appendAudit(b, i, aud)
	b = append(b, '}')
	loc := s.baseURL + "/api/v2/tickets/" + strconv.FormatInt(ticketID(i), 10) + ".json"
	if key != "" {
		s.idem[key] = idemEntry{bodyHash: bodyHash(body), status: http.StatusCreated, location: loc, resp: b}
	}
	s.mu.Unlock()
	s.fmu.Lock()
	drop := s.failCreate
	s.failCreate = false
	s.fmu.Unlock()
	if drop {
		dropConn(w)
		return
	}
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusCreated, b)
}

func (s *Server) handleUpdateTicket(w http.ResponseWriter, r *http.Request, i int32, body []byte) {
	var in struct {
		Ticket map[string]json.RawMessage `json:"ticket"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Ticket == nil {
		badRequest(w, "InvalidValue", "Request body must be a JSON object with a ticket")
		return
	}
	var warn []string
	for _, k := range []string{"id", "url", "created_at", "updated_at", "generated_timestamp"} {
		if _, ok := in.Ticket[k]; ok {
			warn = append(warn, "ticket."+k)
		}
	}
	if len(warn) > 0 {
		w.Header().Set("X-Zendesk-API-Warn", apiWarn("tickets", "update", warn, nil))
	}
	if s.updateSwitch(w, i) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.tickets[i]
	if t.status == stClosed {
		writeErr(w, ErrClosed)
		return
	}
	if stale, err := safeUpdateStale(in.Ticket, t.updated); err != nil {
		writeErr(w, err)
		return
	} else if stale {
		writeJSON(w, http.StatusConflict, bodySafeUpdateConflict)
		return
	}
	if retry, ok := s.ticketUpdateAllowed(t); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeJSON(w, http.StatusTooManyRequests, []byte(`{"error":"APIRateLimitExceeded","description":"Number of allowed ticket updates per ticket per 10 minutes exceeded"}`))
		return
	}
	upd, err := s.parseTicketInput(in.Ticket, false)
	if err != nil {
		writeErr(w, err)
		return
	}
	if s.typeRequired(t, upd) {
		writeErr(w, &ValidationError{"base", "Type: is required when solving a ticket", ""})
		return
	}
	a, err := s.applyUpdate(i, upd, s.currentUser(), viaAPI)
	if err != nil {
		writeErr(w, err)
		return
	}
	b := []byte(`{"ticket":`)
	b = s.appendTicket(b, i)
	if a >= 0 {
		b = append(b, `,"audit":`...)
		b = s.appendAudit(b, i, a)
	}
	writeJSON(w, http.StatusOK, append(b, '}'))
}

// ticketUpdateAllowed enforces Zendesk's 30 updates per 10 minutes per
// ticket (10 minutes = 10 rate windows, so scaled time scales it too).
func (s *Server) ticketUpdateAllowed(t *ticket) (retry int, ok bool) {
	f := s.Faults()
	if f.TicketUpdateLimit < 0 {
		return 0, true
	}
	if t.ext == nil {
		t.ext = &ticketExt{}
	}
	now := s.now().UnixNano()
	span := int64(10 * f.RateWindow)
	keep := t.ext.updates[:0]
	for _, u := range t.ext.updates {
		if now-u < span {
			keep = append(keep, u)
		}
	}
	t.ext.updates = keep
	if len(keep) >= f.TicketUpdateLimit {
		wait := keep[0] + span - now
		return max(1, int((wait+1e9-1)/1e9)), false
	}
	t.ext.updates = append(t.ext.updates, now)
	return 0, true
}
