package activities

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

func TestCleanJSONMakesRecordsStorable(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"escaped NUL":        {`{"id":1,"subject":"a\u0000b"}`, `{"id":1,"subject":"ab"}`},
		"NUL in a key":       {`{"id":1,"x\u0000y":2}`, `{"id":1,"xy":2}`},
		"invalid UTF-8":      {"{\"id\":1,\"subject\":\"a\xffb\"}", `{"id":1,"subject":"a` + "\uFFFD" + `b"}`},
		"lone surrogate":     {`{"id":1,"subject":"a\ud800b"}`, `{"id":1,"subject":"a` + "\uFFFD" + `b"}`},
		"nested, big number": {`{"id":12345678901234567890,"tags":["a\u0000"],"via":{"x":"\u0000"}}`, `{"id":12345678901234567890,"tags":["a"],"via":{"x":""}}`},
	} {
		t.Run(name, func(t *testing.T) {
			out, changed, err := cleanJSON(json.RawMessage(c.in))
			require.NoError(t, err)
			assert.True(t, changed)
			assert.JSONEq(t, c.want, string(out))
			assert.True(t, utf8.Valid(out))
			assert.NotContains(t, string(out), `\u0000`)
		})
	}
	plain := json.RawMessage(`{"id":1,"subject":"Grüße \ud83d\ude80 fine","n":1.50}`)
	out, _, err := cleanJSON(plain)
	require.NoError(t, err)
	assert.JSONEq(t, string(plain), string(out), "valid text and surrogate pairs are kept")
	ok := json.RawMessage(`{"id":1,"subject":"nothing to clean"}`)
	out, changed, err := cleanJSON(ok)
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Equal(t, string(ok), string(out), "a clean record is passed through as it is")
}

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
	row, err := stageComment(cm)
	require.NoError(t, err)
	assert.Equal(t, "b", row.Body)
	assert.Equal(t, "<p>b</p>", row.HTMLBody)
	assert.JSONEq(t, `{"id":3,"body":"b"}`, string(row.Raw))

	bad := badFailure(stagedBad{Kind: "ticket", Reason: "why\x00", Raw: json.RawMessage("\"x\xff\x00\"")})
	assert.True(t, utf8.ValidString(bad.Payload))
	assert.NotContains(t, bad.Payload, "\x00")
	assert.Equal(t, "why", bad.Reason)
}

func TestCommentRowOfAPushAnswerIsCleaned(t *testing.T) {
	z := zendesk.Comment{ID: 7, Body: "a\x00b\xff", HTMLBody: "<p>a\x00</p>", Public: true,
		Raw: json.RawMessage(`{"id":7,"body":"a\u0000b"}`)}
	row := commentRow(z, 42)
	if row.TicketID != 42 || row.ZendeskID != 7 {
		t.Fatalf("ids not kept: %+v", row)
	}
	if strings.ContainsRune(row.Body, 0) || !utf8.ValidString(row.Body) || strings.ContainsRune(row.HTMLBody, 0) {
		t.Fatalf("text not cleaned: %q %q", row.Body, row.HTMLBody)
	}
	if strings.Contains(string(row.Raw), `\u0000`) {
		t.Fatalf("raw not cleaned: %s", row.Raw)
	}
	if got := commentRow(zendesk.Comment{ID: 8}, 1).Raw; string(got) != `{}` {
		t.Fatalf("an answer without raw JSON should give {}, got %s", got)
	}
}
