package importing

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

func TestStagedTicketsAndUsersAreCleanOrBad(t *testing.T) {
	var tk zendesk.Ticket
	require.NoError(t, json.Unmarshal([]byte(`{"id":7,"subject":"s\u0000","description":"d\u0000"}`), &tk))
	var good, long zendesk.User
	require.NoError(t, json.Unmarshal([]byte(`{"id":8,"name":"N\u0000","email":"a@b.c"}`), &good))
	email := strings.Repeat("x", 2000) + "@example.com"
	require.NoError(t, json.Unmarshal([]byte(`{"id":9,"name":"L","email":"`+email+`"}`), &long))
	st := stageTickets([]zendesk.Ticket{tk}, []zendesk.User{good, long}, nil)
	require.Len(t, st.Tickets, 1)
	back := st.Tickets[0].Ticket
	assert.Equal(t, "s", *back.Subject)
	assert.Equal(t, "d", back.Description)
	assert.JSONEq(t, `{"id":7,"subject":"s","description":"d"}`, string(st.Tickets[0].Raw))
	require.Len(t, st.Users, 1)
	assert.Equal(t, "N", st.Users[0].User.Name, "typed fields are decoded from the cleaned JSON")
	assert.NotContains(t, string(st.Users[0].Raw), `\u0000`)
	require.Len(t, st.Bad, 1)
	assert.Equal(t, "user", st.Bad[0].Kind)
	assert.EqualValues(t, 9, st.Bad[0].ID)
	assert.Contains(t, st.Bad[0].Reason, "email")
	f := badFailure(st.Bad[0])
	assert.Contains(t, f.Payload, email, "the failure keeps the raw record")

	cm := zendesk.Comment{ID: 3, TicketID: 7, Body: "b\x00", HTMLBody: "<p>b\x00</p>", Raw: json.RawMessage(`{"id":3,"body":"b\u0000"}`)}
	row, err := activities.CleanComment(cm)
	require.NoError(t, err)
	assert.Equal(t, "b", row.Body)
	assert.Equal(t, "<p>b</p>", row.HTMLBody)
	assert.JSONEq(t, `{"id":3,"body":"b"}`, string(row.Raw))

	bad := badFailure(stagedBad{Kind: "ticket", Reason: "why\x00", Raw: json.RawMessage("\"x\xff\x00\"")})
	assert.True(t, utf8.ValidString(bad.Payload))
	assert.NotContains(t, bad.Payload, "\x00")
	assert.Equal(t, "why", bad.Reason)
}
