package zendesk

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeTicketPage feeds arbitrary bodies to the export page decoder: it must never panic, and what it accepts
// must be consistent (every ticket and user has an id, every Raw is valid JSON).
func FuzzDecodeTicketPage(f *testing.F) {
	f.Add([]byte(`{"tickets":[{"id":1,"status":"open"}],"users":[{"id":2}],"after_cursor":"a","end_of_stream":false}`))
	f.Add([]byte(`{"tickets":[{"id":"x"},null,1,[],{"id":3,"due_at":"2024-01-01T00:00:00Z"}],"end_of_stream":true}`))
	f.Add([]byte(`{"tickets":null,"end_of_stream":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeTicketPage(bytes.NewReader(data))
		if err != nil {
			if p != nil {
				t.Fatal("a page together with an error")
			}
			return
		}
		for _, tk := range p.Tickets {
			if tk.ID <= 0 || !json.Valid(tk.Raw) {
				t.Fatalf("accepted ticket without id or with invalid Raw: %+v", tk)
			}
		}
		for _, u := range p.Users {
			if u.ID <= 0 || !json.Valid(u.Raw) {
				t.Fatalf("accepted user without id or with invalid Raw: %+v", u)
			}
		}
		for _, b := range p.Bad {
			if b.Err == nil || !json.Valid(b.Raw) {
				t.Fatalf("bad record without error or with invalid Raw: %+v", b)
			}
		}
		if !p.EndOfStream && p.AfterCursor == "" {
			t.Fatal("accepted a page that cannot be continued")
		}
	})
}

// FuzzDecodeCommentEventPage does the same for the ticket-events decoder.
func FuzzDecodeCommentEventPage(f *testing.F) {
	f.Add([]byte(`{"ticket_events":[{"id":1,"ticket_id":2,"via":"web","child_events":[{"id":3,"event_type":"Comment","body":"x"}]}],"end_time":5,"count":1,"end_of_stream":true,"next_page":null}`))
	f.Add([]byte(`{"ticket_events":[{"id":1,"ticket_id":2,"via":{"channel":"api"},"child_events":[{"event_type":"Comment"},7,{"id":4,"event_type":"Comment","public":"yes"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeCommentEventPage(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, c := range p.Comments {
			if c.ID <= 0 || c.TicketID <= 0 || !json.Valid(c.Raw) {
				t.Fatalf("accepted comment without ids or with invalid Raw: %+v", c)
			}
		}
		for _, b := range p.Bad {
			if b.Err == nil {
				t.Fatalf("bad record without error: %+v", b)
			}
		}
	})
}
