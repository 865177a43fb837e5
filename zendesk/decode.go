package zendesk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	fastjson "github.com/segmentio/encoding/json"
)

// Pages are decoded as streams: the top-level object is walked key by key and array elements are read one at a
// time as raw JSON, then decoded separately. A page of 1000 tickets never needs a second full copy in memory,
// and one record with unexpected types becomes a BadRecord instead of failing its 999 neighbours. Only a body
// that is not JSON at all fails the page.

// walkObject reads one JSON object from dec and calls field for each key; field must consume the value.
func walkObject(dec *json.Decoder, field func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("read object start: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("expected a JSON object, got %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("read key: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("expected an object key, got %v", tok)
		}
		if err := field(key); err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("read object end: %w", err)
	}
	return nil
}

// walkTop decodes a whole response body: one object, then nothing but whitespace.
func walkTop(r io.Reader, field func(dec *json.Decoder, key string) error) error {
	dec := json.NewDecoder(r)
	if err := walkObject(dec, func(key string) error { return field(dec, key) }); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// skip consumes one value.
func skip(dec *json.Decoder) error {
	var raw json.RawMessage
	return dec.Decode(&raw)
}

// eachElement calls elem with the raw bytes of every element of the array at the decoder's position. A null is an
// empty array, as some endpoints send it for empty side-loads.
func eachElement(dec *json.Decoder, elem func(raw json.RawMessage)) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("expected an array, got %v", tok)
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		elem(raw)
	}
	_, err = dec.Token() // the closing ']'
	return err
}

// decodeInto decodes a scalar or object value; a JSON null leaves v unchanged.
func decodeInto(dec *json.Decoder, v any) error { return dec.Decode(v) }

// probeID digs the id out of a record that failed to decode, so the BadRecord can name it.
func probeID(raw json.RawMessage) int64 {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if fastjson.Unmarshal(raw, &probe) != nil {
		return 0
	}
	var id int64
	if fastjson.Unmarshal(probe.ID, &id) != nil {
		return 0
	}
	return id
}

func badRecord(kind string, raw json.RawMessage, err error) BadRecord {
	return BadRecord{Kind: kind, ID: probeID(raw), Raw: raw, Err: err}
}

// TicketPage is one page of the cursor-based incremental ticket export.
type TicketPage struct {
	Tickets     []Ticket
	Users       []User // side-loaded requesters, submitters, assignees, ...
	Bad         []BadRecord
	AfterCursor string // the cursor to continue from, and to persist once EndOfStream is true
	AfterURL    string
	EndOfStream bool
}

func decodeTicketPage(r io.Reader) (*TicketPage, error) {
	p := &TicketPage{}
	sawTickets := false
	err := walkTop(r, func(dec *json.Decoder, key string) error {
		switch key {
		case "tickets":
			sawTickets = true
			// eachElement has read and checked each element: its decoding method is called directly rather than
			// through json.Unmarshal, which would check and scan the bytes twice more first.
			return eachElement(dec, func(raw json.RawMessage) {
				var t Ticket
				if err := t.UnmarshalJSON(raw); err != nil {
					p.Bad = append(p.Bad, badRecord("ticket", raw, err))
					return
				}
				p.Tickets = append(p.Tickets, t)
			})
		case "users":
			return eachElement(dec, func(raw json.RawMessage) {
				var u User
				if err := u.UnmarshalJSON(raw); err != nil {
					p.Bad = append(p.Bad, badRecord("user", raw, err))
					return
				}
				p.Users = append(p.Users, u)
			})
		case "after_cursor":
			return decodeNullableString(dec, &p.AfterCursor)
		case "after_url":
			return decodeNullableString(dec, &p.AfterURL)
		case "end_of_stream":
			return decodeInto(dec, &p.EndOfStream)
		default:
			return skip(dec)
		}
	})
	if err != nil {
		return nil, err
	}
	if !sawTickets {
		return nil, errors.New(`missing root key "tickets"`)
	}
	if !p.EndOfStream && p.AfterCursor == "" {
		// Without a cursor the next call would restart from start_time and loop forever.
		return nil, errors.New("no after_cursor although end_of_stream is false")
	}
	return p, nil
}

func decodeNullableString(dec *json.Decoder, s *string) error {
	var v *string
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if v != nil {
		*s = *v
	}
	return nil
}

// CommentEventPage is one page of the incremental ticket-events export, reduced to its comments.
type CommentEventPage struct {
	Comments    []Comment
	Bad         []BadRecord
	EndTime     int64  // the start_time of the next call
	NextPage    string // Zendesk's next_page URL (informational; the next call uses EndTime)
	EndOfStream bool
	Count       int // ticket events on the page (not comments)
}

// ticketEvent is one audit in ticket_events[]. "via" is deliberately absent: it is a string here but an object
// elsewhere, and nothing downstream needs it.
type ticketEvent struct {
	ID          int64             `json:"id"`
	TicketID    int64             `json:"ticket_id"`
	Timestamp   int64             `json:"timestamp"`
	CreatedAt   *time.Time        `json:"created_at"`
	ChildEvents []json.RawMessage `json:"child_events"`
}

func decodeCommentEventPage(r io.Reader) (*CommentEventPage, error) {
	p := &CommentEventPage{}
	sawEvents := false
	err := walkTop(r, func(dec *json.Decoder, key string) error {
		switch key {
		case "ticket_events":
			sawEvents = true
			return eachElement(dec, func(raw json.RawMessage) { p.addEvent(raw) })
		case "end_time":
			return decodeInto(dec, &p.EndTime)
		case "next_page":
			return decodeNullableString(dec, &p.NextPage)
		case "end_of_stream":
			return decodeInto(dec, &p.EndOfStream)
		case "count":
			return decodeInto(dec, &p.Count)
		default:
			return skip(dec)
		}
	})
	if err != nil {
		return nil, err
	}
	if !sawEvents {
		return nil, errors.New(`missing root key "ticket_events"`)
	}
	return p, nil
}

func (p *CommentEventPage) addEvent(raw json.RawMessage) {
	var ev ticketEvent
	if err := fastjson.Unmarshal(raw, &ev); err != nil {
		p.Bad = append(p.Bad, badRecord("ticket_event", raw, err))
		return
	}
	for _, child := range ev.ChildEvents {
		c, isComment, err := decodeChildComment(child)
		if !isComment {
			continue
		}
		if ev.TicketID <= 0 {
			p.Bad = append(p.Bad, badRecord("comment", child, errors.New("parent ticket event has no ticket_id")))
			continue
		}
		if err != nil {
			p.Bad = append(p.Bad, badRecord("comment", child, err))
			continue
		}
		c.TicketID = ev.TicketID
		if c.CreatedAt.IsZero() {
			// Child events may omit created_at; the comment was made by the audit that carries it.
			switch {
			case ev.CreatedAt != nil:
				c.CreatedAt = *ev.CreatedAt
			case ev.Timestamp > 0:
				c.CreatedAt = time.Unix(ev.Timestamp, 0).UTC()
			}
		}
		if c.Type == "" {
			c.Type = "Comment"
		}
		p.Comments = append(p.Comments, c)
	}
}

// childEvent is a child of a ticket event read as the comment it may be, in one pass over its bytes.
type childEvent struct {
	EventType string `json:"event_type"`
	plainComment
}

// plainComment is Comment without its UnmarshalJSON, to be decoded as part of a childEvent.
type plainComment Comment

// decodeChildComment decodes a child event that is a comment. Most children are comments, so the child is decoded
// once as a comment; only when that fails is its event_type read alone, to tell a bad comment (an error) from
// another kind of event whose fields are not a comment's (ignored).
func decodeChildComment(child json.RawMessage) (Comment, bool, error) {
	var ce childEvent
	if err := fastjson.Unmarshal(child, &ce); err != nil {
		var kind struct {
			EventType string `json:"event_type"`
		}
		if fastjson.Unmarshal(child, &kind) != nil || kind.EventType != "Comment" {
			return Comment{}, false, nil
		}
		return Comment{}, true, err
	}
	if ce.EventType != "Comment" {
		return Comment{}, false, nil
	}
	if ce.ID <= 0 {
		return Comment{}, true, errMissingID
	}
	c := Comment(ce.plainComment)
	c.Raw = child // its own copy: json.Unmarshal copies each element of ChildEvents
	return c, true, nil
}

// auditComment returns the first Comment event of a create/update response's audit, or nil.
func auditComment(audit json.RawMessage, ticketID int64) (*Comment, error) {
	if len(audit) == 0 || string(audit) == "null" {
		return nil, nil
	}
	var a struct {
		CreatedAt *time.Time        `json:"created_at"`
		Events    []json.RawMessage `json:"events"`
	}
	if err := fastjson.Unmarshal(audit, &a); err != nil {
		return nil, fmt.Errorf("decode audit: %w", err)
	}
	for _, ev := range a.Events {
		var kind struct {
			Type string `json:"type"`
		}
		if fastjson.Unmarshal(ev, &kind) != nil || kind.Type != "Comment" {
			continue
		}
		var c Comment
		if err := fastjson.Unmarshal(ev, &c); err != nil {
			return nil, fmt.Errorf("decode audit comment: %w", err)
		}
		c.TicketID = ticketID
		if c.CreatedAt.IsZero() && a.CreatedAt != nil {
			c.CreatedAt = *a.CreatedAt
		}
		return &c, nil
	}
	return nil, nil
}
