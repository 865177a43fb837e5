package importing

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// Staged pages. A fetched page waits in sync_pages (bytea) in the form its apply needs: the records the fetch
// decoded, cleaned (clean.go) and encoded as CBOR, each with its raw JSON beside it. Applying decodes that, several
// times faster than decoding Zendesk's JSON a second time, and nothing is encoded as JSON on the way. A page staged
// in another format (by an older worker, before an upgrade) is fetched again: a staged page is only a cache.

// stagedMagic starts every staged page of this format.
var stagedMagic = []byte("zs-staged-cbor-1\n")

// errStagedFormat says a staged page is not in this format; applyStaged fetches it again.
var errStagedFormat = errors.New("staged page in another format")

// stagedEnc keeps times exactly (CBOR's default would cut them to whole seconds).
var stagedEnc = func() cbor.EncMode {
	m, err := cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.EncMode()
	if err != nil {
		panic(err) // constant options
	}
	return m
}()

// stagedBad is a record Zendesk sent that could not be decoded or stored; it becomes a failure when its page is
// applied.
type stagedBad struct {
	Kind   string
	ID     int64
	Reason string
	Raw    []byte
}

// stagedTicket and stagedUser carry the record's raw JSON beside it: the typed record's Raw is not encoded.
type stagedTicket struct {
	Ticket zendesk.Ticket
	Raw    []byte
}

type stagedUser struct {
	User zendesk.User
	Raw  []byte
}

// stagedTickets is a fetched ticket page as it waits in PostgreSQL.
type stagedTickets struct {
	Tickets []stagedTicket
	Users   []stagedUser
	Bad     []stagedBad
}

// stagedComments is a fetched page of comment events, with the authors that were not mirrored yet.
type stagedComments struct {
	Comments []store.CommentRow
	Users    []stagedUser
	Bad      []stagedBad
}

func encodeStaged(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(stagedMagic)
	if err := stagedEnc.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("encode staged page: %w", err)
	}
	return buf.Bytes(), nil
}

func decodeStaged(body []byte, v any) error {
	rest, ok := bytes.CutPrefix(body, stagedMagic)
	if !ok {
		return errStagedFormat
	}
	if err := cbor.Unmarshal(rest, v); err != nil {
		return fmt.Errorf("decode staged page: %w", err)
	}
	return nil
}

// tickets are the page's tickets with their raw JSON, the last copy of a ticket Zendesk repeated in the page.
func (st *stagedTickets) tickets() []zendesk.Ticket {
	byID := make(map[int64]int, len(st.Tickets))
	out := make([]zendesk.Ticket, 0, len(st.Tickets))
	for _, s := range st.Tickets {
		t := s.Ticket
		t.Raw = s.Raw
		if i, ok := byID[t.ID]; ok {
			out[i] = t
			continue
		}
		byID[t.ID] = len(out)
		out = append(out, t)
	}
	return out
}

// stagedUsers are the users with their raw JSON.
func stagedUsers(us []stagedUser) []zendesk.User {
	out := make([]zendesk.User, len(us))
	for i, s := range us {
		out[i] = s.User
		out[i].Raw = s.Raw
	}
	return out
}

// generatedMax is the newest generated_timestamp of the page's tickets.
func (st *stagedTickets) generatedMax() int64 {
	var m int64
	for _, t := range st.Tickets {
		m = max(m, t.Ticket.GeneratedTimestamp)
	}
	return m
}
