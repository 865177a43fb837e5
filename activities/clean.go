package activities

// Poison records. Zendesk sends text PostgreSQL will not store as it is: a NUL character (text and jsonb refuse
// it: 22P05 "unsupported Unicode escape sequence"), invalid UTF-8 or a lone UTF-16 surrogate escape ("\ud800"),
// and values too long for an index entry (a btree row holds about 2.7 kB; zd_users and contacts index the email).
// One such record used to fail its whole page, and the page was retried for ever.
//
// Records are cleaned once, where a page is staged: by the fetch activities, by the apply activity when it
// fetches a lost page again, and by the retry of failed tickets, all through stageTickets, stageUsers (package importing) and
// CleanComment. So everything staged is storable and the apply step never sees poison. Cleaning removes NUL
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

// CleanText makes s storable as PostgreSQL text: NUL characters removed, invalid UTF-8 replaced with U+FFFD.
func CleanText(s string) string {
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

// CleanJSON returns raw as jsonb stores it, and whether it had to change. The common record is returned as it
// is; a suspicious one is decoded (Go's decoder already turns invalid UTF-8 and lone surrogates into U+FFFD),
// stripped of NUL characters in every string and key, and encoded again with its numbers kept exactly.
func CleanJSON(raw json.RawMessage) (json.RawMessage, bool, error) {
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
		return CleanText(x)
	case []any:
		for i := range x {
			x[i] = cleanValue(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[CleanText(k)] = cleanValue(e)
		}
		return out
	default:
		return v
	}
}

// CleanRecord returns a record's raw JSON as jsonb stores it. A record whose JSON had to be cleaned is decoded
// afresh from the cleaned JSON into *v, so its typed fields are as clean as its raw payload.
func CleanRecord[T any, P interface {
	*T
	json.Unmarshaler
}](v P, raw json.RawMessage) (json.RawMessage, error) {
	clean, changed, err := CleanJSON(raw)
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

// CleanTickets cleans tickets read from Zendesk outside a page (a push's show_many, its re-read), so that what is
// compared with the mirror and merge base, both cleaned when staged, is cleaned the same way: a NUL Zendesk holds
// is then no change of Zendesk's, and nothing written back to the case or the merge base is text PostgreSQL
// refuses.
func CleanTickets(ts []zendesk.Ticket) error {
	for i := range ts {
		if err := CleanTicket(&ts[i]); err != nil {
			return err
		}
	}
	return nil
}

// CleanTicket cleans one ticket read from Zendesk outside a page (see CleanTickets).
func CleanTicket(t *zendesk.Ticket) error {
	if _, err := CleanRecord(t, t.Raw); err != nil {
		return fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	return nil
}

// CleanPayload makes a record's bytes storable in sync_failures.payload (text), whatever they are.
func CleanPayload(raw []byte) string { return CleanText(string(raw)) }

// CleanComment builds the storable row of a comment from its cleaned JSON and cleaned text fields.
func CleanComment(cm zendesk.Comment) (store.CommentRow, error) {
	raw, _, err := CleanJSON(cm.Raw)
	if err != nil {
		return store.CommentRow{}, err
	}
	row := store.CommentRow{ZendeskID: cm.ID, TicketID: cm.TicketID, Body: CleanText(cm.Body),
		HTMLBody: CleanText(cm.HTMLBody), Public: cm.Public, Raw: raw}
	if created := cm.CreatedAt; !created.IsZero() {
		row.OriginCreatedAt = &created
	}
	if cm.AuthorID > 0 {
		id := cm.AuthorID
		row.AuthorID = &id
	}
	return row, nil
}

// StorablePayload keeps a record's bytes as valid, storable JSON for the staged page and the failure's payload:
// JSON that needs cleaning is cleaned, anything else is kept as one JSON string.
func StorablePayload(raw json.RawMessage) json.RawMessage {
	if json.Valid(raw) {
		if c, _, err := CleanJSON(raw); err == nil {
			return c
		}
	}
	b, _ := json.Marshal(CleanPayload(raw))
	return b
}

// AnsweredComment is the mirror row of a comment Zendesk answered a push or publish with. It is cleaned exactly like an
// imported comment: Zendesk may echo text PostgreSQL cannot store, and a refused row would fail the push
// after the comment was already posted.
func AnsweredComment(z zendesk.Comment, ticketID int64) *store.CommentRow {
	z.TicketID = ticketID
	if len(z.Raw) == 0 {
		z.Raw = json.RawMessage(`{}`)
	} else if !json.Valid(z.Raw) {
		z.Raw = StorablePayload(z.Raw)
	}
	row, err := CleanComment(z)
	if err != nil {
		// Raw is valid JSON here, so cleaning cannot fail; keep the cleaned text fields whatever happens.
		row = store.CommentRow{ZendeskID: z.ID, TicketID: ticketID, Body: CleanText(z.Body),
			HTMLBody: CleanText(z.HTMLBody), Public: z.Public, Raw: json.RawMessage(`{}`)}
	}
	return &row
}
