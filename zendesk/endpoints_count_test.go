package zendesk

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// No recorded response of the count endpoint is public (none in the fixtures of go-zendesk, zenpy or Airbyte); this
// body is the example of Zendesk's API reference ("Count Tickets"), byte for byte.
const documentedTicketCount = `{
  "count": {
    "refreshed_at": "2020-04-06T02:18:17Z",
    "value": 102
  }
}`

func TestCountTickets(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(documentedTicketCount))
	})
	tc, err := c.CountTickets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(102), tc.Value)
	assert.Equal(t, ts("2020-04-06T02:18:17Z"), tc.RefreshedAt)
	require.Len(t, f.reqs, 1)
	assert.Equal(t, "/api/v2/tickets/count.json", f.reqs[0].Path)

	_, c = newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"Couldn't authenticate you"}`))
	})
	_, err = c.CountTickets(context.Background())
	var ae *CredentialsError
	assert.True(t, errors.As(err, &ae), "a rejected token is an auth error: %v", err)
}

// The simulator answers the same shape, counting its tickets.
func TestCountTicketsAgainstTheSimulator(t *testing.T) {
	s := sim.New(sim.Options{Seed: 1, Tickets: 37, Email: testEmail, Token: testToken})
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.SetBaseURL(srv.URL)
	c, err := New(Config{URL: srv.URL, Email: testEmail, Token: testToken})
	require.NoError(t, err)
	before, err := c.CountTickets(context.Background())
	require.NoError(t, err)
	assert.LessOrEqual(t, before.Value, int64(37), "the seed deletes a few")
	assert.Greater(t, before.Value, int64(30))
	assert.False(t, before.RefreshedAt.IsZero())
	live := int64(0)
	for _, id := range s.TicketIDs() {
		if !s.IsDeleted(id) {
			live = id
			break
		}
	}
	require.NoError(t, s.DeleteTicket(live))
	after, err := c.CountTickets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, before.Value-1, after.Value, "a deleted ticket is not counted")
}
