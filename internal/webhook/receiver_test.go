package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

func TestVerifyMatchesZendesksSignature(t *testing.T) {
	body := []byte(`{"ticket_id":"35436"}`)
	stamp := "2026-11-30T01:02:03Z"
	sig := sim.SignWebhook("dGhlIHNlY3JldA==", stamp, body)
	assert.Equal(t, sig, Sign("dGhlIHNlY3JldA==", stamp, body))
	assert.True(t, Verify("dGhlIHNlY3JldA==", stamp, body, sig))
	assert.False(t, Verify("another secret", stamp, body, sig))
	assert.False(t, Verify("dGhlIHNlY3JldA==", "2026-11-30T01:02:04Z", body, sig), "the timestamp is signed")
	assert.False(t, Verify("dGhlIHNlY3JldA==", stamp, []byte(`{"ticket_id":"35437"}`), sig), "the body is signed")
	assert.False(t, Verify("dGhlIHNlY3JldA==", stamp, body, "not base64!"))
	assert.False(t, Verify("dGhlIHNlY3JldA==", stamp, body, ""))
}

func TestTicketIDsTakesOnlyIDs(t *testing.T) {
	for body, want := range map[string][]int64{
		`{"ticket_id":"35436"}`:                                                {35436},
		`{"ticket_id":35436,"subject":"ignored"}`:                              {35436},
		`{"ticket_ids":[1,"2"]}`:                                               {1, 2},
		`{"type":"zen:event-type:ticket.status_changed","detail":{"id":"77"}}`: {77},
		`{"type":"zen:event-type:user.created","detail":{"id":"77"}}`:          {},
		`{}`: {},
	} {
		got, err := TicketIDs([]byte(body))
		require.NoError(t, err, body)
		assert.Equal(t, want, got, body)
	}
	for _, body := range []string{`not json`, `{"ticket_id":"-3"}`, `{"ticket_id":"12; DROP TABLE"}`, `{"ticket_id":1.5}`} {
		_, err := TicketIDs([]byte(body))
		assert.Error(t, err, body)
	}
}
