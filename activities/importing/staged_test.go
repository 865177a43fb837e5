package importing

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// A staged page comes back as the fetch decoded it: nulls stay nil, empty strings stay empty, times and raw JSON
// are kept exactly, and a repeated ticket counts once (its last copy). A page staged as JSON by an older worker is
// refused, so it is fetched again.
func TestStagedPagesRoundTripExactly(t *testing.T) {
	var t1, t1b, t2 zendesk.Ticket
	require.NoError(t, json.Unmarshal([]byte(`{"id":1,"subject":"","priority":null,"external_id":"",
		"created_at":"2026-01-02T03:04:05Z","due_at":null,"generated_timestamp":10,"collaborator_ids":[]}`), &t1))
	require.NoError(t, json.Unmarshal([]byte(`{"id":1,"subject":"again","generated_timestamp":12}`), &t1b))
	require.NoError(t, json.Unmarshal([]byte(`{"id":2,"subject":"s","assignee_id":5,"due_at":"2026-05-06T07:08:09Z",
		"generated_timestamp":11}`), &t2))
	var u zendesk.User
	require.NoError(t, json.Unmarshal([]byte(`{"id":5,"name":"A","email":null,"role":"agent"}`), &u))
	body, err := encodeStaged(stageTickets([]zendesk.Ticket{t1, t2, t1b}, []zendesk.User{u}, nil))
	require.NoError(t, err)

	var st stagedTickets
	require.NoError(t, decodeStaged(body, &st))
	assert.EqualValues(t, 12, st.generatedMax())
	got := st.tickets()
	require.Len(t, got, 2)
	assert.Equal(t, t1b, got[0], "the last copy of a repeated ticket")
	assert.Equal(t, t2, got[1])
	users := stagedUsers(st.Users)
	require.Len(t, users, 1)
	assert.Equal(t, u, users[0])

	require.NoError(t, decodeStaged(mustStage(t, stageTickets([]zendesk.Ticket{t1}, nil, nil)), &st))
	one := st.tickets()[0]
	require.NotNil(t, one.Subject)
	assert.Equal(t, "", *one.Subject, "an empty subject is not a null one")
	require.NotNil(t, one.ExternalID)
	assert.Nil(t, one.Priority)
	assert.Equal(t, t1, one)

	assert.ErrorIs(t, decodeStaged([]byte(`{"tickets":[],"users":[],"bad":[]}`), &st), errStagedFormat)
}

func mustStage(t *testing.T, v any) []byte {
	b, err := encodeStaged(v)
	require.NoError(t, err)
	return b
}
