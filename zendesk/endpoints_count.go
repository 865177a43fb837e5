package zendesk

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// TicketCount is GET /api/v2/tickets/count.json: the account's tickets (deleted ones excepted). Zendesk computes it
// now and then on large accounts (daily above 100,000 tickets), so it is an estimate as of RefreshedAt.
type TicketCount struct {
	Value       int64     `json:"value"`
	RefreshedAt time.Time `json:"refreshed_at"`
}

// CountTickets asks Zendesk how many tickets the account has (one request, for a progress total).
func (c *Client) CountTickets(ctx context.Context) (*TicketCount, error) {
	var tc *TicketCount
	err := c.do(ctx, &request{method: http.MethodGet, path: "/api/v2/tickets/count.json"}, func(r io.Reader) error {
		var err error
		tc, err = decodeSingle[TicketCount](r, "count")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("count tickets: %w", err)
	}
	return tc, nil
}
