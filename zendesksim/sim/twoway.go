package sim

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Two-way test switches: Zendesk answers a real integration sees now and then on ticket updates, and a hook to
// interleave a test's own edit with an update in flight.

type updateSwitches struct {
	mu               sync.Mutex
	requireType      bool
	conflicts        int
	beforeUpdate     func(ticketID int64)
	typeRequiredBody []byte
}

var bodyConflict = []byte(`{"error":"Conflict","description":"The ticket was updated by someone else at the same time; try again"}`)

// bodySafeUpdateConflict is Zendesk's answer to a safe update of a ticket changed since the client read it.
var bodySafeUpdateConflict = []byte(`{"error":"UpdateConflict","description":"Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again."}`)

// safeUpdateStale reads Zendesk's safe update (ticket.safe_update with ticket.updated_stamp) and reports whether
// the ticket, last updated at updated (unix seconds), changed after the stamp. Zendesk keeps updated_at to the
// second, and so does the comparison.
func safeUpdateStale(m map[string]json.RawMessage, updated int64) (bool, error) {
	var safe bool
	if raw, ok := m["safe_update"]; !ok || json.Unmarshal(raw, &safe) != nil || !safe {
		return false, nil
	}
	raw, ok := m["updated_stamp"]
	if !ok {
		return false, &ValidationError{"updated_stamp", "Updated stamp: is required for a safe update", "BlankValue"}
	}
	v, null, err := rawString(raw)
	if err != nil || null {
		return false, &ValidationError{"updated_stamp", "Updated stamp: is invalid", "InvalidValue"}
	}
	stamp, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return false, &ValidationError{"updated_stamp", "Updated stamp: is invalid", "InvalidValue"}
	}
	return stamp.Unix() != updated, nil
}

// RequireTypeWhenSolving makes an update that solves a ticket without a type (and sets none) fail with Zendesk's
// 422 for a required ticket field: {"details":{"base":[{"description":"Type: is required when solving a ticket"}]}}.
func (s *Server) RequireTypeWhenSolving(on bool) {
	s.sw.mu.Lock()
	s.sw.requireType = on
	s.sw.mu.Unlock()
}

// ConflictNextUpdates makes the next n ticket updates answer 409 Conflict without applying anything, as Zendesk
// does for concurrent updates of one ticket.
func (s *Server) ConflictNextUpdates(n int) {
	s.sw.mu.Lock()
	s.sw.conflicts = n
	s.sw.mu.Unlock()
}

// BeforeTicketUpdate sets a hook run at the start of every ticket update (PUT tickets/{id}.json), before it is
// applied; nil removes it. Tests use it to land an edit of their own while the update is in flight.
func (s *Server) BeforeTicketUpdate(fn func(ticketID int64)) {
	s.sw.mu.Lock()
	s.sw.beforeUpdate = fn
	s.sw.mu.Unlock()
}

// updateSwitch runs the hook and answers an injected 409; true means the response has been written.
func (s *Server) updateSwitch(w http.ResponseWriter, i int32) bool {
	s.sw.mu.Lock()
	hook := s.sw.beforeUpdate
	conflict := s.sw.conflicts > 0
	if conflict {
		s.sw.conflicts--
	}
	s.sw.mu.Unlock()
	if hook != nil {
		hook(ticketID(i))
	}
	if conflict {
		writeJSON(w, http.StatusConflict, bodyConflict)
		return true
	}
	return false
}

// typeRequired reports whether applying upd would solve a ticket that has, and gets, no type. mu must be held.
func (s *Server) typeRequired(t *ticket, upd ticketUpdate) bool {
	s.sw.mu.Lock()
	on := s.sw.requireType
	s.sw.mu.Unlock()
	if !on || !upd.status.set || upd.status.v != "solved" {
		return false
	}
	if upd.typ.set {
		return upd.typ.null
	}
	return t.typ == 0
}
