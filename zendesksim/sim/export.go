package sim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cursors mimic Zendesk's base64 "<ts>.0||<pos>|" shape; pos is an index
// into the append-only ticket log. The last field names the incarnation of
// the simulator that issued the cursor: like Zendesk after an account
// restore, a restarted simulator (even with the same seed) or one whose
// cursors were invalidated (InvalidateCursors, POST /_sim/cursors/invalidate)
// refuses older cursors with 400 "Invalid cursor".
func (s *Server) encodeCursor(ts int64, pos int, before bool) string {
	dir := ""
	if before {
		dir = "b"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ts, 10) + ".0|" + dir + "|" + strconv.Itoa(pos) + "|" + s.cursorEpoch))
}

// decodeCursor reads a cursor; ok is false for one this incarnation did not issue. mu must be held.
func (s *Server) decodeCursor(c string) (pos int, before bool, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil {
		return 0, false, false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 || parts[3] != s.cursorEpoch {
		return 0, false, false
	}
	pos, err = strconv.Atoi(parts[2])
	return pos, parts[1] == "b", err == nil && pos >= 0
}

// InvalidateCursors makes every export cursor issued so far invalid, as a restore of the account would.
func (s *Server) InvalidateCursors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursorEpoch = newCursorEpoch()
}

// newCursorEpoch draws an incarnation tag no earlier simulator process is likely to have used.
func newCursorEpoch() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b[:])
}

func (s *Server) visibleUntil() int64 {
	lag := s.Faults().ExportLag
	return s.now().Add(-lag).Unix()
}

func (s *Server) handleCursorExport(w http.ResponseWriter, r *http.Request, q url.Values) {
	hasStart, hasCursor := q.Has("start_time"), q.Has("cursor")
	if hasStart && hasCursor {
		badRequest(w, "InvalidPaginationParameter", "cursor and start_time cannot be used together")
		return
	}
	if !hasStart && !hasCursor {
		badRequest(w, "InvalidPaginationParameter", "start_time or cursor is required")
		return
	}
	per := s.o.MaxPerPage
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			badRequest(w, "InvalidPaginationParameter", "per_page must be a positive integer")
			return
		}
		per = min(n, s.o.MaxPerPage)
	}
	now := s.now().Unix()
	var startTS int64
	if hasStart {
		st, err := strconv.ParseInt(q.Get("start_time"), 10, 64)
		switch {
		case err != nil || st < 0:
			writeJSON(w, http.StatusBadRequest, []byte(`{"error":"InvalidValue","description":"start_time must be a non-negative Unix epoch time in seconds"}`))
			return
		case st > now:
			writeJSON(w, http.StatusUnprocessableEntity, []byte(`{"error":"InvalidValue","description":"start_time cannot be in the future"}`))
			return
		}
		startTS = st
	}
	if !s.waitExportBlock(r.Context()) {
		return
	}
	includeUsers := false
	for _, inc := range strings.Split(q.Get("include"), ",") {
		if strings.TrimSpace(inc) == "users" {
			includeUsers = true
		}
	}
	excludeDeleted := q.Get("exclude_deleted") == "true"
	until := s.visibleUntil()

	s.mu.RLock()
	var pos int
	before := false
	if hasCursor {
		var ok bool
		pos, before, ok = s.decodeCursor(q.Get("cursor"))
		if !ok || pos > len(s.tlog) {
			s.mu.RUnlock()
			badRequest(w, "InvalidPaginationParameter", "Invalid cursor")
			return
		}
	} else {
		pos = sort.Search(len(s.tlog), func(k int) bool { return s.tlog[k].ts >= startTS })
	}
	live := func(k int) bool {
		e := s.tlog[k]
		t := &s.tickets[e.tix]
		return int(t.logPos) == k && !(excludeDeleted && t.flags&flDeleted != 0)
	}
	page := make([]int, 0, min(per, 1024))
	var next, first int
	eos := false
	if before {
		k := pos - 1
		for ; k >= 0 && len(page) < per; k-- {
			if s.tlog[k].ts <= until && live(k) {
				page = append(page, k)
			}
		}
		for a, z := 0, len(page)-1; a < z; a, z = a+1, z-1 {
			page[a], page[z] = page[z], page[a]
		}
		next, first = pos, k+1
	} else {
		k := pos
		for ; k < len(s.tlog) && len(page) < per; k++ {
			if s.tlog[k].ts > until {
				break
			}
			if live(k) {
				page = append(page, k)
			}
		}
		// Look ahead over superseded entries so end_of_stream is exact.
		for k < len(s.tlog) && s.tlog[k].ts <= until && !live(k) {
			k++
		}
		eos = k >= len(s.tlog) || s.tlog[k].ts > until
		next, first = k, pos
	}
	buf := s.getBuf()
	b := append((*buf)[:0], `{"tickets":[`...)
	for j, k := range page {
		if j > 0 {
			b = append(b, ',')
		}
		b = s.appendTicket(b, s.tlog[k].tix)
	}
	b = append(b, ']')
	if includeUsers {
		b = append(b, `,"users":[`...)
		seen := make(map[int32]struct{}, len(page)*2)
		n := 0
		add := func(u int32) {
			if u < 0 {
				return
			}
			if _, ok := seen[u]; ok {
				return
			}
			seen[u] = struct{}{}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = s.appendUser(b, u)
		}
		for _, k := range page {
			tix := s.tlog[k].tix
			t := &s.tickets[tix]
			add(t.requester)
			add(t.submitter)
			add(t.assignee)
			for _, c := range s.collaborators(int(tix), t) {
				add(c)
			}
		}
		b = append(b, ']')
	}
	extra := url.Values{}
	for _, k := range []string{"per_page", "include", "exclude_deleted"} {
		if q.Has(k) {
			extra.Set(k, q.Get(k))
		}
	}
	cursorURL := func(c string) string {
		v := url.Values{}
		for k, vs := range extra {
			v[k] = vs
		}
		v.Set("cursor", c)
		return s.baseURL + "/api/v2/incremental/tickets/cursor.json?" + v.Encode()
	}
	ts := func(k int) int64 {
		if k < len(s.tlog) {
			return s.tlog[k].ts
		}
		if len(s.tlog) > 0 {
			return s.tlog[len(s.tlog)-1].ts
		}
		return 0
	}
	after := s.encodeCursor(ts(next), next, false)
	b = append(b, `,"after_url":`...)
	b = appendJSONString(b, cursorURL(after))
	b = append(b, `,"after_cursor":`...)
	b = appendJSONString(b, after)
	if len(page) > 0 || first > 0 {
		bc := s.encodeCursor(ts(first), first, true)
		b = append(b, `,"before_url":`...)
		b = appendJSONString(b, cursorURL(bc))
		b = append(b, `,"before_cursor":`...)
		b = appendJSONString(b, bc)
	} else {
		b = append(b, `,"before_url":null,"before_cursor":null`...)
	}
	b = append(b, `,"end_of_stream":`...)
	b = strconv.AppendBool(b, eos)
	b = append(b, '}')
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, b)
	s.putBuf(buf, b)
}

const eventsPerPage = 1000

func (s *Server) handleTicketEvents(w http.ResponseWriter, q url.Values) {
	st, err := strconv.ParseInt(q.Get("start_time"), 10, 64)
	if err != nil || st < 0 {
		writeJSON(w, http.StatusBadRequest, []byte(`{"error":"InvalidValue","description":"start_time must be a non-negative Unix epoch time in seconds"}`))
		return
	}
	if st > s.now().Unix() {
		writeJSON(w, http.StatusUnprocessableEntity, []byte(`{"error":"InvalidValue","description":"start_time cannot be in the future"}`))
		return
	}
	per := eventsPerPage
	if v := q.Get("per_page"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			per = min(n, eventsPerPage)
		}
	}
	withComments := false
	for _, inc := range strings.Split(q.Get("include"), ",") {
		if strings.TrimSpace(inc) == "comment_events" {
			withComments = true
		}
	}
	until := s.visibleUntil()
	s.mu.RLock()
	k := sort.Search(len(s.elog), func(k int) bool { return s.elog[k].ts >= st })
	buf := s.getBuf()
	b := append((*buf)[:0], `{"ticket_events":[`...)
	n := 0
	end := st
	for ; k < len(s.elog) && n < per && s.elog[k].ts <= until; k++ {
		if n > 0 {
			b = append(b, ',')
		}
		b = s.appendEvent(b, s.elog[k], withComments)
		end = s.elog[k].ts
		n++
	}
	v := url.Values{}
	v.Set("start_time", strconv.FormatInt(end, 10))
	if q.Has("include") {
		v.Set("include", q.Get("include"))
	}
	if q.Has("per_page") {
		v.Set("per_page", q.Get("per_page"))
	}
	b = s.appendTimeExportEnd(b, "/api/v2/incremental/ticket_events.json?"+v.Encode(), n, end, n < per)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, b)
	s.putBuf(buf, b)
}

// appendEvent renders one audit as an incremental ticket event.
func (s *Server) appendEvent(b []byte, e evEntry, withComments bool) []byte {
	t := &s.tickets[e.tix]
	var (
		auditID int64
		updater int32
		via     uint8
		ch      []change
		create  bool
		cv      *commentView
	)
	if int(e.a) < int(t.nGen) {
		k := int(e.a)
		c := s.genCommentView(e.tix, k)
		auditID, updater, via, cv = c.auditID, c.author, t.via, &c
		if k == 0 {
			create = true
			initial := t.status
			if t.nGen > 1 {
				initial = stOpen
			}
			ch = []change{
				{"subject", "", s.strJSON(t.subject)},
				{"status", "", quoted(statusNames[initial])},
				{"priority", "", quoted(priorityNames[t.priority])},
				{"type", "", quoted(typeNames[t.typ])},
				{"requester_id", "", s.userJSONRef(t.requester)},
				{"assignee_id", "", s.userJSONRef(t.assignee)},
			}
		} else if k == int(t.nGen)-1 && t.status != stOpen {
			ch = []change{{"status", `"open"`, quoted(statusNames[t.status])}}
		}
	} else {
		au := &t.ext.audits[int(e.a)-int(t.nGen)]
		auditID, updater, via, ch, create = au.id, au.author, au.via, au.changes, au.create
		if au.comment >= 0 {
			c := s.extCommentView(&t.ext.comments[au.comment])
			cv = &c
		}
	}
	b = append(b, `{"id":`...)
	b = appendInt(b, auditID)
	b = append(b, `,"ticket_id":`...)
	b = appendInt(b, ticketID(e.tix))
	b = append(b, `,"timestamp":`...)
	b = appendInt(b, e.ts)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, e.ts)
	b = append(b, `,"updater_id":`...)
	b = appendInt(b, s.userID(updater))
	b = append(b, `,"via":"`...)
	b = append(b, viaEventNames[via]...)
	b = append(b, `","via_reference_id":null,"system":{"client":"zendesksim","ip_address":"127.0.0.1","location":null,"latitude":null,"longitude":null},"event_type":"Audit","comment_present":`...)
	b = strconv.AppendBool(b, cv != nil)
	b = append(b, `,"comment_public":`...)
	b = strconv.AppendBool(b, cv != nil && cv.public)
	b = append(b, `,"child_events":[`...)
	n := 0
	if cv != nil && withComments {
		b = s.appendComment(b, *cv, "event")
		n++
	}
	for j, c := range ch {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendChange(b, auditID*16+int64(j)+1, create, c, true)
	}
	return append(b, "]}"...)
}

// appendTimeExportEnd closes a time-based export page's array and the page: next_page (the base URL's path), count,
// end_time and end_of_stream.
func (s *Server) appendTimeExportEnd(b []byte, next string, n int, end int64, endOfStream bool) []byte {
	b = append(b, `],"next_page":`...)
	b = appendJSONString(b, s.baseURL+next)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"end_time":`...)
	b = strconv.AppendInt(b, end, 10)
	b = append(b, `,"end_of_stream":`...)
	b = strconv.AppendBool(b, endOfStream)
	return append(b, '}')
}
