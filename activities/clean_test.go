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
			out, changed, err := CleanJSON(json.RawMessage(c.in))
			require.NoError(t, err)
			assert.True(t, changed)
			assert.JSONEq(t, c.want, string(out))
			assert.True(t, utf8.Valid(out))
			assert.NotContains(t, string(out), `\u0000`)
		})
	}
	plain := json.RawMessage(`{"id":1,"subject":"Grüße \ud83d\ude80 fine","n":1.50}`)
	out, _, err := CleanJSON(plain)
	require.NoError(t, err)
	assert.JSONEq(t, string(plain), string(out), "valid text and surrogate pairs are kept")
	ok := json.RawMessage(`{"id":1,"subject":"nothing to clean"}`)
	out, changed, err := CleanJSON(ok)
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Equal(t, string(ok), string(out), "a clean record is passed through as it is")
}

func TestCommentRowOfAPushAnswerIsCleaned(t *testing.T) {
	z := zendesk.Comment{ID: 7, Body: "a\x00b\xff", HTMLBody: "<p>a\x00</p>", Public: true,
		Raw: json.RawMessage(`{"id":7,"body":"a\u0000b"}`)}
	row := AnsweredComment(z, 42)
	if row.TicketID != 42 || row.ZendeskID != 7 {
		t.Fatalf("ids not kept: %+v", row)
	}
	if strings.ContainsRune(row.Body, 0) || !utf8.ValidString(row.Body) || strings.ContainsRune(row.HTMLBody, 0) {
		t.Fatalf("text not cleaned: %q %q", row.Body, row.HTMLBody)
	}
	if strings.Contains(string(row.Raw), `\u0000`) {
		t.Fatalf("raw not cleaned: %s", row.Raw)
	}
	if got := AnsweredComment(zendesk.Comment{ID: 8}, 1).Raw; string(got) != `{}` {
		t.Fatalf("an answer without raw JSON should give {}, got %s", got)
	}
}

// A ticket a push reads from Zendesk is cleaned as a staged one is: its typed fields and its raw JSON alike.
func TestTicketReadOutsideAPageIsCleanedLikeAStagedOne(t *testing.T) {
	var ts []zendesk.Ticket
	require.NoError(t, json.Unmarshal([]byte(`[{"id":1,"subject":"a\u0000b","description":"c\ud800d","tags":["x\u0000"]},
		{"id":2,"subject":"clean"}]`), &ts))
	require.NoError(t, CleanTickets(ts))
	require.NotNil(t, ts[0].Subject)
	assert.Equal(t, "ab", *ts[0].Subject)
	assert.Equal(t, "c\uFFFDd", ts[0].Description)
	assert.Equal(t, []string{"x"}, ts[0].Tags)
	assert.NotContains(t, string(ts[0].Raw), `\u0000`)
	assert.Equal(t, int64(1), ts[0].ID)
	assert.Equal(t, "clean", *ts[1].Subject)
	assert.JSONEq(t, `{"id":2,"subject":"clean"}`, string(ts[1].Raw), "a clean ticket is kept as it is")
}
