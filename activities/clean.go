package activities

// Poison records. Zendesk sends text PostgreSQL will not store as it is: a NUL character (text and jsonb refuse
// it: 22P05 "unsupported Unicode escape sequence"), invalid UTF-8 or a lone UTF-16 surrogate escape ("\ud800"),
// and values too long for an index entry (a btree row holds about 2.7 kB; zd_users and contacts index the email).
// One such record used to fail its whole page, and the page was retried for ever.
//
// Records are cleaned once, where a page is staged: by the fetch activities, by the apply activity when it
// fetches a lost page again, and by the retry of failed tickets, all through stageTickets, stageUsers and
// stageComment. So everything staged is storable and the apply step never sees poison. Cleaning removes NUL
// characters and replaces invalid UTF-8 and lone surrogates with U+FFFD, in the raw JSON kept in the `raw` jsonb
// columns as in the typed fields decoded from it (they are decoded from the cleaned JSON). A record that cannot
// be cleaned sensibly (an email longer than any address: cutting it would make another address) is staged as a
// bad record instead: it becomes a failure with its payload, the rest of its page lands, the stream moves on.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// maxEmailBytes bounds a user's email. An address has at most 254 characters (RFC 5321); past 1 kB it is no
// address, and well below the ~2.7 kB a btree entry of lower(email) may take, even after lower-casing.
const maxEmailBytes = 1024

// cleanText makes s storable as PostgreSQL text: NUL characters removed, invalid UTF-8 replaced with U+FFFD.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// needsCleaning is a cheap test that raw JSON may hold what jsonb refuses: invalid UTF-8, an escaped NUL, or a
// \uD8xx-\uDFxx escape (a surrogate; pairs are fine but are rare enough to take the slow path).
func needsCleaning(raw []byte) bool {
	return !utf8.Valid(raw) || bytes.Contains(raw, []byte(`\u0000`)) || bytes.Contains(raw, []byte(`\ud`)) ||
		bytes.Contains(raw, []byte(`\uD`))
}

// cleanJSON returns raw as jsonb stores it, and whether it had to change. The common record is returned as it
// is; a suspicious one is decoded (Go's decoder already turns invalid UTF-8 and lone surrogates into U+FFFD),
// stripped of NUL characters in every string and key, and encoded again with its numbers kept exactly.
func cleanJSON(raw json.RawMessage) (json.RawMessage, bool, error) {
	if !needsCleaning(raw) {
		return raw, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, fmt.Errorf("clean record: %w", err)
	}
	out, err := json.Marshal(cleanValue(v))
	if err != nil {
		return nil, false, fmt.Errorf("clean record: %w", err)
	}
	return out, !bytes.Equal(out, raw), nil
}

func cleanValue(v any) any {
	switch x := v.(type) {
	case string:
		return cleanText(x)
	case []any:
		for i := range x {
			x[i] = cleanValue(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[cleanText(k)] = cleanValue(e)
		}
		return out
	default:
		return v
	}
}

// cleanPayload makes a record's bytes storable in sync_failures.payload (text), whatever they are.
func cleanPayload(raw []byte) string { return cleanText(string(raw)) }

// stageTickets turns a fetched page's tickets and users into a storable staged page.
func stageTickets(tickets []zendesk.Ticket, users []zendesk.User, bad []zendesk.BadRecord) stagedTickets {
	st := stagedTickets{Tickets: make([]stagedTicket, 0, len(tickets)), Bad: stageBad(bad)}
	for _, t := range tickets {
		raw, err := cleanRecord(&t, t.Raw)
		if err != nil {
			st.Bad = append(st.Bad, unstorable("ticket", t.ID, t.Raw, err.Error()))
			continue
		}
		t.Raw = nil // staged beside it
		st.Tickets = append(st.Tickets, stagedTicket{Ticket: t, Raw: raw})
	}
	var ubad []stagedBad
	st.Users, ubad = stageUsers(users)
	st.Bad = append(st.Bad, ubad...)
	return st
}

// cleanRecord returns a record's raw JSON as jsonb stores it. A record whose JSON had to be cleaned is decoded
// afresh from the cleaned JSON into *v, so its typed fields are as clean as its raw payload.
func cleanRecord[T any, P interface {
	*T
	json.Unmarshaler
}](v P, raw json.RawMessage) (json.RawMessage, error) {
	clean, changed, err := cleanJSON(raw)
	if err != nil || !changed {
		return clean, err
	}
	var fresh T
	if err := P(&fresh).UnmarshalJSON(clean); err != nil {
		return nil, fmt.Errorf("clean record: %w", err)
	}
	*v = fresh
	return clean, nil
}

// stageUsers cleans users; one that cannot be stored sensibly becomes a bad record.
func stageUsers(users []zendesk.User) ([]stagedUser, []stagedBad) {
	out := make([]stagedUser, 0, len(users))
	var bad []stagedBad
	for _, u := range users {
		if u.Email != nil && len(*u.Email) > maxEmailBytes {
			bad = append(bad, unstorable("user", u.ID, u.Raw, fmt.Sprintf(
				"email is %d bytes long, more than the %d an address can sensibly have (PostgreSQL cannot index it either): the user is skipped",
				len(*u.Email), maxEmailBytes)))
			continue
		}
		raw, err := cleanRecord(&u, u.Raw)
		if err != nil {
			bad = append(bad, unstorable("user", u.ID, u.Raw, err.Error()))
			continue
		}
		u.Raw = nil // staged beside it
		out = append(out, stagedUser{User: u, Raw: raw})
	}
	return out, bad
}

// stageComment builds the staged row of a comment from its cleaned JSON and cleaned text fields.
func stageComment(cm zendesk.Comment) (store.CommentRow, error) {
	raw, _, err := cleanJSON(cm.Raw)
	if err != nil {
		return store.CommentRow{}, err
	}
	row := store.CommentRow{ZendeskID: cm.ID, TicketID: cm.TicketID, Body: cleanText(cm.Body),
		HTMLBody: cleanText(cm.HTMLBody), Public: cm.Public, Raw: raw}
	if created := cm.CreatedAt; !created.IsZero() {
		row.OriginCreatedAt = &created
	}
	if cm.AuthorID > 0 {
		id := cm.AuthorID
		row.AuthorID = &id
	}
	return row, nil
}

// unstorable is the bad record of a record that decoded but cannot be stored as it is.
func unstorable(kind string, id int64, raw json.RawMessage, reason string) stagedBad {
	return stagedBad{Kind: kind, ID: id, Reason: reason, Raw: storablePayload(raw)}
}

// storablePayload keeps a record's bytes as valid, storable JSON for the staged page and the failure's payload:
// JSON that needs cleaning is cleaned, anything else is kept as one JSON string.
func storablePayload(raw json.RawMessage) json.RawMessage {
	if json.Valid(raw) {
		if c, _, err := cleanJSON(raw); err == nil {
			return c
		}
	}
	b, _ := json.Marshal(cleanPayload(raw))
	return b
}
