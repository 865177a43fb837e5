package sim

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

type optStr struct {
	set, null bool
	v         string
}

type optIdx struct {
	set bool
	v   int32 // -1 = null
}

type commentInput struct {
	body, html string
	public     bool
	author     int32
}

type ticketUpdate struct {
	subject, externalID                  optStr
	status, priority, typ                optStr
	assignee, requester, submitter, prob optIdx
	collab                               *[]int32
	comment                              *commentInput
	tags                                 *[]string // replaces the tags
	addTags, removeTags                  []string  // additional_tags, remove_tags
	fields                               []customField
}

func enumIndex(names []string, v string) int {
	return slices.Index(names, v)
}

// parseTicketInput validates a create/update body. It must be called with mu
// held because it resolves (and may create) the requester.
func (s *Server) parseTicketInput(m map[string]json.RawMessage, create bool) (ticketUpdate, error) {
	var u ticketUpdate
	str := func(key string) (optStr, error) {
		raw, ok := m[key]
		if !ok {
			return optStr{}, nil
		}
		v, null, err := rawString(raw)
		if err != nil {
			return optStr{}, &ValidationError{key, strings.ToUpper(key[:1]) + key[1:] + ": is invalid", "InvalidValue"}
		}
		return optStr{set: true, null: null || v == "", v: v}, nil
	}
	var err error
	if _, ok := m["description"]; ok && !create {
		return u, &ValidationError{"base", "The description key on the ticket object is read-only", ""}
	}
	if u.subject, err = str("subject"); err != nil {
		return u, err
	}
	if !u.subject.set {
		if u.subject, err = str("raw_subject"); err != nil {
			return u, err
		}
	}
	if u.externalID, err = str("external_id"); err != nil {
		return u, err
	}
	if u.status, err = str("status"); err != nil {
		return u, err
	}
	if u.status.set && (u.status.null || enumIndex(statusNames, u.status.v) < 0) {
		return u, &ValidationError{"status", "Status: " + u.status.v + " is not a valid status", "InvalidValue"}
	}
	if u.priority, err = str("priority"); err != nil {
		return u, err
	}
	if u.priority.set && !u.priority.null && enumIndex(priorityNames, u.priority.v) <= 0 {
		return u, &ValidationError{"priority", "Priority: " + u.priority.v + " is not a valid priority", "InvalidValue"}
	}
	if u.typ, err = str("type"); err != nil {
		return u, err
	}
	if u.typ.set && !u.typ.null && enumIndex(typeNames, u.typ.v) <= 0 {
		return u, &ValidationError{"type", "Type: " + u.typ.v + " is not a valid type", "InvalidValue"}
	}
	userRef := func(key string, agentOnly bool) (optIdx, error) {
		raw, ok := m[key]
		if !ok {
			return optIdx{}, nil
		}
		id, null, err := rawID(raw)
		if err != nil {
			return optIdx{}, &ValidationError{key, key + " is invalid", "InvalidValue"}
		}
		if null {
			return optIdx{set: true, v: -1}, nil
		}
		idx, ok := s.userIndex(id)
		if !ok || (agentOnly && s.users[idx].role == roleEndUser) {
			return optIdx{}, &ValidationError{strings.TrimSuffix(key, "_id"), strings.ToUpper(key[:1]) + strings.TrimSuffix(key[1:], "_id") + " is invalid", "InvalidValue"}
		}
		return optIdx{set: true, v: idx}, nil
	}
	if u.assignee, err = userRef("assignee_id", true); err != nil {
		return u, err
	}
	if raw, ok := m["assignee_email"]; ok && !u.assignee.set {
		e, _, _ := rawString(raw)
		idx, ok := s.emailIdx[strings.ToLower(e)]
		if !ok || s.users[idx].role == roleEndUser {
			return u, &ValidationError{"assignee", "Assignee is invalid", "InvalidValue"}
		}
		u.assignee = optIdx{set: true, v: idx}
	}
	if u.requester, err = userRef("requester_id", false); err != nil {
		return u, err
	}
	if u.requester.set && u.requester.v < 0 {
		return u, &ValidationError{"requester", "Requester: cannot be blank", "BlankValue"}
	}
	if u.submitter, err = userRef("submitter_id", false); err != nil {
		return u, err
	}
	if raw, ok := m["problem_id"]; ok {
		id, null, err := rawID(raw)
		if err != nil {
			return u, &ValidationError{"problem_id", "Problem is invalid", "InvalidValue"}
		}
		u.prob = optIdx{set: true, v: -1}
		if !null {
			ti, ok := s.ticketIndex(id)
			if !ok || s.tickets[ti].flags&flDeleted != 0 {
				return u, &ValidationError{"problem_id", "Problem is invalid", "InvalidValue"}
			}
			u.prob.v = ti
		}
	}
	if raw, ok := m["collaborator_ids"]; ok {
		var ids []json.RawMessage
		if string(raw) != "null" {
			if err := json.Unmarshal(raw, &ids); err != nil {
				return u, &ValidationError{"collaborator_ids", "Collaborators is invalid", "InvalidValue"}
			}
		}
		c := []int32{}
		for _, r := range ids {
			id, _, err := rawID(r)
			idx, ok := s.userIndex(id)
			if err != nil || !ok {
				return u, &ValidationError{"collaborator_ids", "Collaborators is invalid", "InvalidValue"}
			}
			if !slices.Contains(c, idx) {
				c = append(c, idx)
			}
		}
		u.collab = &c
	}
	if raw, ok := m["comment"]; ok && string(raw) != "null" {
		var c struct {
			Body     *string         `json:"body"`
			HTMLBody *string         `json:"html_body"`
			Public   *bool           `json:"public"`
			AuthorID json.RawMessage `json:"author_id"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return u, &ValidationError{"comment", "Comment is invalid", "InvalidValue"}
		}
		ci := &commentInput{public: true, author: s.currentUser()}
		switch {
		case c.Body != nil:
			ci.body = *c.Body
			ci.html = htmlBody(ci.body)
		case c.HTMLBody != nil:
			ci.html = *c.HTMLBody
			ci.body = stripTags(ci.html)
		}
		if strings.TrimSpace(ci.body) == "" {
			return u, &ValidationError{"comment", "Comment: body cannot be blank", "BlankValue"}
		}
		if c.Public != nil {
			ci.public = *c.Public
		}
		if id, null, err := rawID(c.AuthorID); err != nil {
			return u, &ValidationError{"comment", "Comment: author is invalid", "InvalidValue"}
		} else if !null {
			idx, ok := s.userIndex(id)
			if !ok {
				return u, &ValidationError{"comment", "Comment: author is invalid", "InvalidValue"}
			}
			ci.author = idx
		}
		u.comment = ci
	}
	if err := parseTagsAndFields(m, &u); err != nil {
		return u, err
	}
	if create && u.comment == nil {
		if d, ok := m["description"]; ok {
			v, _, _ := rawString(d)
			if strings.TrimSpace(v) != "" {
				u.comment = &commentInput{body: v, html: htmlBody(v), public: true, author: s.currentUser()}
			}
		}
	}
	if create && u.comment == nil {
		return u, &ValidationError{"description", "Description: cannot be blank", "BlankValue"}
	}
	if raw, ok := m["requester"]; ok && string(raw) != "null" && !u.requester.set {
		var rq struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		}
		if err := json.Unmarshal(raw, &rq); err != nil {
			return u, &ValidationError{"requester", "Requester is invalid", "InvalidValue"}
		}
		rq.Email = strings.TrimSpace(rq.Email)
		if idx, ok := s.emailIdx[strings.ToLower(rq.Email)]; ok && rq.Email != "" {
			u.requester = optIdx{set: true, v: idx}
		} else {
			if strings.TrimSpace(rq.Name) == "" && rq.Email == "" {
				return u, &ValidationError{"requester", "Requester: Name:  is too short (minimum one character)", "BlankValue"}
			}
			name := rq.Name
			if strings.TrimSpace(name) == "" {
				name, _, _ = strings.Cut(rq.Email, "@")
			}
			u.requester = optIdx{set: true, v: s.addUser(name, rq.Email, roleEndUser)}
		}
	}
	return u, nil
}

func stripTags(h string) string {
	var b strings.Builder
	in := false
	for _, r := range h {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func quoted(v string) string {
	if v == "" {
		return "null"
	}
	return string(appendJSONString(nil, v))
}

func (s *Server) userJSONRef(u int32) string {
	if u < 0 {
		return "null"
	}
	return strconv.FormatInt(s.userID(u), 10)
}

// applyUpdate changes a ticket as one audit; it returns the index of the new
// ext audit, or -1 when nothing changed (Zendesk then records no audit and
// does not bump updated_at). mu must be held.
func (s *Server) applyUpdate(i int32, u ticketUpdate, updater int32, via uint8) (int, error) {
	t := &s.tickets[i]
	if t.flags&flDeleted != 0 {
		return -1, ErrNotFound
	}
	if t.status == stClosed {
		return -1, ErrClosed
	}
	var ch []change
	if u.subject.set {
		ns := int32(-1)
		if !u.subject.null {
			ns = s.intern(u.subject.v)
		}
		if ns != t.subject {
			ch = append(ch, change{"subject", s.strJSON(t.subject), s.strJSON(ns)})
			t.subject = ns
		}
	}
	if u.externalID.set {
		ne := int32(-1)
		if !u.externalID.null {
			ne = s.intern(u.externalID.v)
		}
		if ne != t.external {
			ch = append(ch, change{"external_id", s.strJSON(t.external), s.strJSON(ne)})
			t.external = ne
			if ne >= 0 && !slices.Contains(s.extIdx[ne], i) {
				s.extIdx[ne] = append(s.extIdx[ne], i)
			}
		}
	}
	enum := func(o optStr, names []string, field string, cur *uint8) {
		if !o.set {
			return
		}
		n := uint8(0)
		if !o.null {
			n = uint8(enumIndex(names, o.v))
		}
		if n != *cur {
			ch = append(ch, change{field, quoted(names[*cur]), quoted(names[n])})
			*cur = n
		}
	}
	enum(u.status, statusNames, "status", &t.status)
	enum(u.priority, priorityNames, "priority", &t.priority)
	enum(u.typ, typeNames, "type", &t.typ)
	ref := func(o optIdx, field string, cur *int32) {
		if o.set && o.v != *cur {
			ch = append(ch, change{field, s.userJSONRef(*cur), s.userJSONRef(o.v)})
			*cur = o.v
		}
	}
	ref(u.assignee, "assignee_id", &t.assignee)
	ref(u.requester, "requester_id", &t.requester)
	ref(u.submitter, "submitter_id", &t.submitter)
	if u.prob.set && u.prob.v != t.problem {
		ticketRef := func(p int32) string {
			if p < 0 {
				return "null"
			}
			return strconv.FormatInt(ticketID(p), 10)
		}
		ch = append(ch, change{"problem_id", ticketRef(t.problem), ticketRef(u.prob.v)})
		t.problem = u.prob.v
		if u.prob.v >= 0 {
			s.extraIncidents[u.prob.v] = true
		}
	}
	if u.collab != nil {
		old := s.collaborators(int(i), t)
		if !slices.Equal(old, *u.collab) {
			ch = append(ch, change{"collaborator_ids", s.idsJSON(old), s.idsJSON(*u.collab)})
			if t.ext == nil {
				t.ext = &ticketExt{}
			}
			t.ext.collab, t.ext.collabSet = *u.collab, true
		}
	}
	ch = append(ch, s.applyTagsAndFields(i, u)...)
	if len(ch) == 0 && u.comment == nil {
		return -1, nil
	}
	return s.recordAudit(i, updater, via, false, ch, u.comment), nil
}

func (s *Server) strJSON(i int32) string {
	if i < 0 {
		return "null"
	}
	return string(s.strsJSON[i])
}

func (s *Server) idsJSON(ids []int32) string {
	b := []byte{'['}
	for j, u := range ids {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendInt(b, s.userID(u))
	}
	return string(append(b, ']'))
}

// recordAudit appends an audit (and its comment) and moves the ticket to the
// end of both export streams. mu must be held.
func (s *Server) recordAudit(i int32, author int32, via uint8, create bool, ch []change, c *commentInput) int {
	t := &s.tickets[i]
	if t.ext == nil {
		t.ext = &ticketExt{}
	}
	ts := s.tick()
	a := extAudit{id: s.nextAudit, ts: ts, author: author, via: via, create: create, changes: ch, comment: -1}
	s.nextAudit++
	if c != nil {
		a.author = c.author
		t.ext.comments = append(t.ext.comments, extComment{
			id: s.nextComment, auditID: a.id, ts: ts, author: c.author,
			body: c.body, html: c.html, public: c.public, via: via,
		})
		s.nextComment++
		a.comment = int32(len(t.ext.comments) - 1)
	}
	t.ext.audits = append(t.ext.audits, a)
	t.updated, t.generated = ts, ts
	s.bumpLog(i, ts)
	s.elog = append(s.elog, evEntry{ts, i, int32(int(t.nGen) + len(t.ext.audits) - 1)})
	s.ticketChanged(i, create)
	return len(t.ext.audits) - 1
}

func (s *Server) bumpLog(i int32, ts int64) {
	s.tlog = append(s.tlog, tlogEntry{ts, i})
	s.tickets[i].logPos = int32(len(s.tlog) - 1)
}

// createTicket adds a ticket through the API path. mu must be held.
func (s *Server) createTicket(u ticketUpdate, actor int32, via uint8) (int32, int, error) {
	i := int32(len(s.tickets))
	req := actor
	if u.requester.set {
		req = u.requester.v
	}
	sub := req
	if u.submitter.set && u.submitter.v >= 0 {
		sub = u.submitter.v
	}
	asg := int32(-1)
	if u.assignee.set {
		asg = u.assignee.v
	}
	status := stNew
	if asg >= 0 {
		status = stOpen
	}
	if u.status.set {
		status = uint8(enumIndex(statusNames, u.status.v))
	}
	t := ticket{
		requester: req, submitter: sub, assignee: asg, subject: -1, external: -1, problem: -1,
		status: status, via: via, ext: &ticketExt{},
	}
	if u.subject.set && !u.subject.null {
		t.subject = s.intern(u.subject.v)
	}
	if u.externalID.set && !u.externalID.null {
		t.external = s.intern(u.externalID.v)
		s.extIdx[t.external] = append(s.extIdx[t.external], i)
	}
	if u.priority.set && !u.priority.null {
		t.priority = uint8(enumIndex(priorityNames, u.priority.v))
	}
	if u.typ.set && !u.typ.null {
		t.typ = uint8(enumIndex(typeNames, u.typ.v))
	}
	if u.prob.set && u.prob.v >= 0 {
		t.problem = u.prob.v
		s.extraIncidents[u.prob.v] = true
	}
	if u.collab != nil {
		t.ext.collab, t.ext.collabSet = *u.collab, true
	}
	s.tickets = append(s.tickets, t)
	tp := &s.tickets[i]
	ch := []change{
		{"subject", "", s.strJSON(tp.subject)},
		{"status", "", quoted(statusNames[tp.status])},
		{"priority", "", quoted(priorityNames[tp.priority])},
		{"type", "", quoted(typeNames[tp.typ])},
		{"requester_id", "", s.userJSONRef(tp.requester)},
		{"assignee_id", "", s.userJSONRef(tp.assignee)},
	}
	if tp.external >= 0 {
		ch = append(ch, change{"external_id", "", s.strJSON(tp.external)})
	}
	for _, c := range s.applyTagsAndFields(i, u) {
		c.prev = ""
		ch = append(ch, c)
	}
	a := s.recordAudit(i, actor, via, true, ch, u.comment)
	tp.created = tp.updated
	return i, a, nil
}

// appendAudit renders ext audit a of ticket i as in write responses.
func (s *Server) appendAudit(b []byte, i int32, a int) []byte {
	t := &s.tickets[i]
	au := &t.ext.audits[a]
	b = append(b, `{"id":`...)
	b = appendInt(b, au.id)
	b = append(b, `,"ticket_id":`...)
	b = appendInt(b, ticketID(i))
	b = append(b, `,"created_at":`...)
	b = appendTime(b, au.ts)
	b = append(b, `,"author_id":`...)
	b = appendInt(b, s.userID(au.author))
	b = append(b, `,"metadata":{"system":{"client":"zendesksim","ip_address":"127.0.0.1","location":null,"latitude":null,"longitude":null},"custom":{}},"via":{"channel":"`...)
	b = append(b, viaChannels[au.via]...)
	b = append(b, `","source":{"from":{},"to":{},"rel":null}},"events":[`...)
	n := 0
	if au.comment >= 0 {
		b = s.appendComment(b, s.extCommentView(&t.ext.comments[au.comment]), "audit")
		n++
	}
	for j, c := range au.changes {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendChange(b, au.id*16+int64(j)+1, au.create, c, false)
	}
	return append(b, "]}"...)
}

func appendChange(b []byte, id int64, create bool, c change, event bool) []byte {
	kind := "Change"
	if create {
		kind = "Create"
	}
	b = append(b, `{"id":`...)
	b = appendInt(b, id)
	if event {
		b = append(b, `,"event_type":"`...)
	} else {
		b = append(b, `,"type":"`...)
	}
	b = append(b, kind...)
	b = append(b, `","field_name":`...)
	b = appendJSONString(b, c.field)
	b = append(b, `,"value":`...)
	b = append(b, c.val...)
	if !create {
		b = append(b, `,"previous_value":`...)
		b = append(b, c.prev...)
	}
	return append(b, '}')
}
