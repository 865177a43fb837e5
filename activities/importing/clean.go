package importing

import (
	"encoding/json"
	"fmt"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// Records are cleaned where a page is staged (see package activities, clean.go, for what cleaning does); what
// cannot be cleaned sensibly is staged as a bad record and becomes a failure with its payload.

// maxEmailBytes bounds a user's email. An address has at most 254 characters (RFC 5321); past 1 kB it is no
// address, and well below the ~2.7 kB a btree entry of lower(email) may take, even after lower-casing.
const maxEmailBytes = 1024

// stageTickets turns a fetched page's tickets and users into a storable staged page.
func stageTickets(tickets []zendesk.Ticket, users []zendesk.User, bad []zendesk.BadRecord) stagedTickets {
	st := stagedTickets{Tickets: make([]stagedTicket, 0, len(tickets)), Bad: stageBad(bad)}
	for _, t := range tickets {
		raw, err := activities.CleanRecord(&t, t.Raw)
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
		raw, err := activities.CleanRecord(&u, u.Raw)
		if err != nil {
			bad = append(bad, unstorable("user", u.ID, u.Raw, err.Error()))
			continue
		}
		u.Raw = nil // staged beside it
		out = append(out, stagedUser{User: u, Raw: raw})
	}
	return out, bad
}

// unstorable is the bad record of a record that decoded but cannot be stored as it is.
func unstorable(kind string, id int64, raw json.RawMessage, reason string) stagedBad {
	return stagedBad{Kind: kind, ID: id, Reason: reason, Raw: activities.StorablePayload(raw)}
}
