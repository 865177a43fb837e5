package sim

import (
	"net/http"
	"strconv"
	"time"
)

// handleTicketCount answers GET /api/v2/tickets/count.json like Zendesk: {"count": {"value": N, "refreshed_at": T}},
// N being the tickets not deleted. Zendesk refreshes a large account's count only now and then; the simulator's
// is always exact, and refreshed_at is now.
func (s *Server) handleTicketCount(w http.ResponseWriter) {
	s.mu.RLock()
	n := 0
	for i := range s.tickets {
		if s.tickets[i].flags&flDeleted == 0 {
			n++
		}
	}
	now := s.now()
	s.mu.RUnlock()
	b := []byte(`{"count":{"value":`)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"refreshed_at":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339)
	writeJSON(w, http.StatusOK, append(b, `"}}`...))
}
