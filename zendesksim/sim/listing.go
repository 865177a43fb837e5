package sim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Cursor pagination of the list endpoints (Zendesk's "Pagination" guide): page[size] (≤100), page[after] or
// page[before]; the answer has meta {has_more, after_cursor, before_cursor} and links {next, prev} instead of the
// offset fields next_page, previous_page and count.

const maxCursorPageSize = 100

// cursorPaged says whether the request asks for cursor pagination.
func cursorPaged(q url.Values) bool {
	return q.Has("page[size]") || q.Has("page[after]") || q.Has("page[before]")
}

// listCursor encodes a position in a list; like Zendesk's cursors it is opaque to clients.
func (s *Server) listCursor(pos int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("l|" + strconv.Itoa(pos) + "|" + s.cursorEpoch))
}

func (s *Server) decodeListCursor(c string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil {
		return 0, false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != "l" || parts[2] != s.cursorEpoch {
		return 0, false
	}
	pos, err := strconv.Atoi(parts[1])
	return pos, err == nil && pos >= 0
}

// cursorWindow reads page[size], page[after] and page[before] against a list of n items: the items [from, to).
func (s *Server) cursorWindow(w http.ResponseWriter, q url.Values, n int) (from, to int, ok bool) {
	size := maxCursorPageSize
	if v := q.Get("page[size]"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > maxCursorPageSize {
			badRequest(w, "InvalidPaginationParameter", "page[size] must be an integer between 1 and 100")
			return 0, 0, false
		}
		size = k
	}
	switch {
	case q.Get("page[after]") != "":
		pos, good := s.decodeListCursor(q.Get("page[after]"))
		if !good {
			badRequest(w, "InvalidPaginationParameter", "page[after] is not a valid cursor")
			return 0, 0, false
		}
		from = min(pos, n)
		to = min(from+size, n)
	case q.Get("page[before]") != "":
		pos, good := s.decodeListCursor(q.Get("page[before]"))
		if !good {
			badRequest(w, "InvalidPaginationParameter", "page[before] is not a valid cursor")
			return 0, 0, false
		}
		to = min(pos, n)
		from = max(to-size, 0)
	default:
		to = min(size, n)
	}
	return from, to, true
}

// writeCursorPage answers one cursor page of a list of n items under key, rendered by item.
func (s *Server) writeCursorPage(w http.ResponseWriter, path, key string, q url.Values, n int,
	item func(b []byte, j int) []byte) {
	from, to, ok := s.cursorWindow(w, q, n)
	if !ok {
		return
	}
	b := []byte(`{"` + key + `":[`)
	for j := from; j < to; j++ {
		if j > from {
			b = append(b, ',')
		}
		b = item(b, j)
	}
	link := func(dir string, pos int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page[after]" && k != "page[before]" {
				v[k] = vs
			}
		}
		v.Set(dir, s.listCursor(pos))
		return s.baseURL + path + "?" + v.Encode()
	}
	b = append(b, `],"meta":{"has_more":`...)
	b = strconv.AppendBool(b, to < n)
	if to > from {
		b = append(b, `,"after_cursor":`...)
		b = appendJSONString(b, s.listCursor(to))
		b = append(b, `,"before_cursor":`...)
		b = appendJSONString(b, s.listCursor(from))
		b = append(b, `},"links":{"prev":`...)
		b = appendJSONString(b, link("page[before]", from))
		b = append(b, `,"next":`...)
		b = appendJSONString(b, link("page[after]", to))
		b = append(b, "}}"...)
	} else {
		b = append(b, `,"after_cursor":null,"before_cursor":null},"links":{"prev":null,"next":null}}`...)
	}
	writeJSON(w, http.StatusOK, b)
}

// cursorTickets lists the live tickets by id (sort=-id reverses), cursor-paginated. mu must be held for reading.
func (s *Server) cursorTickets(w http.ResponseWriter, q url.Values) {
	live := make([]int32, 0, len(s.tickets))
	for i := range s.tickets {
		if s.tickets[i].flags&flDeleted == 0 {
			live = append(live, int32(i))
		}
	}
	if q.Get("sort") == "-id" {
		reverse(live)
	}
	s.writeCursorPage(w, "/api/v2/tickets.json", "tickets", q, len(live), func(b []byte, j int) []byte {
		return s.appendTicket(b, live[j])
	})
}

// cursorUsers lists the users by id, cursor-paginated. mu must be held for reading.
func (s *Server) cursorUsers(w http.ResponseWriter, q url.Values) {
	s.writeCursorPage(w, "/api/v2/users.json", "users", q, len(s.users), func(b []byte, j int) []byte {
		return s.appendUser(b, int32(j))
	})
}

// cursorComments lists a ticket's comments oldest first (sort=-created_at: newest first), cursor-paginated. mu
// must be held for reading.
func (s *Server) cursorComments(w http.ResponseWriter, q url.Values, i int32) {
	cs := s.comments(i)
	if q.Get("sort") == "-created_at" {
		reverse(cs)
	}
	path := "/api/v2/tickets/" + strconv.FormatInt(ticketID(i), 10) + "/comments.json"
	s.writeCursorPage(w, path, "comments", q, len(cs), func(b []byte, j int) []byte {
		return s.appendComment(b, cs[j], "list")
	})
}

func reverse[T any](xs []T) {
	for a, z := 0, len(xs)-1; a < z; a, z = a+1, z-1 {
		xs[a], xs[z] = xs[z], xs[a]
	}
}

// handleSearch serves GET /api/v2/search.json for the queries the product and common clients send:
// "type:ticket external_id:X" and "type:user email:X" (a bare address, as users/search takes, works too).
// Results carry result_type, with the offset envelope of a real search answer (facets, next_page, count).
func (s *Server) handleSearch(w http.ResponseWriter, q url.Values) {
	var typ, ext, email string
	for _, term := range strings.Fields(q.Get("query")) {
		k, v, found := strings.Cut(term, ":")
		v = strings.Trim(v, `"`)
		switch {
		case found && k == "type":
			typ = v
		case found && k == "external_id":
			ext = v
		case found && k == "email":
			email = v
		case !found && strings.Contains(term, "@"):
			email = strings.Trim(term, `"`)
		default:
			badRequest(w, "InvalidQuery", "zendesksim's search understands type:ticket external_id:X and "+
				"type:user email:X, not "+strconv.Quote(term))
			return
		}
	}
	ticketQuery := (typ == "ticket" || typ == "") && ext != "" && email == ""
	userQuery := (typ == "user" || typ == "") && email != "" && ext == ""
	if !ticketQuery && !userQuery {
		badRequest(w, "InvalidQuery", "zendesksim's search understands type:ticket external_id:X and type:user email:X")
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := []byte(`{"results":[`)
	n := 0
	add := func(obj []byte, kind string) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, obj[:len(obj)-1]...) // the object without its closing brace
		b = append(b, `,"result_type":"`+kind+`"}`...)
	}
	if ticketQuery {
		if si, ok := s.strIdx[ext]; ok {
			for _, i := range s.extIdx[si] {
				if t := &s.tickets[i]; t.flags&flDeleted == 0 && t.external == si {
					add(s.appendTicket(nil, i), "ticket")
				}
			}
		}
	} else if u, ok := s.emailIdx[strings.ToLower(email)]; ok {
		add(s.appendUser(nil, u), "user")
	}
	b = append(b, `],"facets":null,"next_page":null,"previous_page":null,"count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	writeJSON(w, http.StatusOK, append(b, '}'))
}

// timeExportPerPage is the page of the time-based ticket export: 1000, and per_page cannot raise it.
const timeExportPerPage = 1000

// handleTimeExport serves the time-based (legacy) incremental ticket export, GET
// /api/v2/incremental/tickets.json?start_time=: up to 1000 tickets changed at or after start_time, ordered by
// generated_timestamp; end_time is the last one's, next_page asks from end_time, so the tickets of the boundary
// second come again (Zendesk documents the duplicates). end_of_stream is true on a short page.
func (s *Server) handleTimeExport(w http.ResponseWriter, q url.Values) {
	st, err := strconv.ParseInt(q.Get("start_time"), 10, 64)
	switch {
	case q.Get("start_time") == "":
		writeJSON(w, http.StatusBadRequest, []byte(`{"error":"InvalidValue","description":"start_time is required"}`))
		return
	case err != nil || st < 0:
		writeJSON(w, http.StatusBadRequest, []byte(`{"error":"InvalidValue","description":"start_time must be a non-negative Unix epoch time in seconds"}`))
		return
	case st > s.now().Unix():
		writeJSON(w, http.StatusUnprocessableEntity, []byte(`{"error":"InvalidValue","description":"start_time cannot be in the future"}`))
		return
	}
	per := timeExportPerPage
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, timeExportPerPage)
	}
	until := s.visibleUntil()
	s.mu.RLock()
	defer s.mu.RUnlock()
	k := sort.Search(len(s.tlog), func(k int) bool { return s.tlog[k].ts >= st })
	b := []byte(`{"tickets":[`)
	n, end := 0, st
	for ; k < len(s.tlog) && n < per && s.tlog[k].ts <= until; k++ {
		e := s.tlog[k]
		if int(s.tickets[e.tix].logPos) != k {
			continue // superseded: the ticket appears at its latest change
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = s.appendTicket(b, e.tix)
		end = e.ts
		n++
	}
	v := url.Values{}
	v.Set("start_time", strconv.FormatInt(end, 10))
	if q.Has("per_page") {
		v.Set("per_page", q.Get("per_page"))
	}
	writeJSON(w, http.StatusOK, s.appendTimeExportEnd(b, "/api/v2/incremental/tickets.json?"+v.Encode(), n, end, n < per))
}

// apiWarn is the X-Zendesk-API-Warn text of current Zendesk for keys it dropped from a request: a Ruby hash,
// as recorded from live accounts, e.g.
// {:allowed_parameters=>{:controller=>"tickets", :action=>"update", :unpermitted_keys=>["ticket.id"], :invalid_values=>[]}}
func apiWarn(controller, action string, unpermitted, invalid []string) string {
	list := func(xs []string) string {
		q := make([]string, len(xs))
		for i, x := range xs {
			q[i] = strconv.Quote(x)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return `{:allowed_parameters=>{:controller=>"` + controller + `", :action=>"` + action + `", :unpermitted_keys=>` +
		list(unpermitted) + `, :invalid_values=>` + list(invalid) + `}}`
}
