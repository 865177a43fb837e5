package mapping

import (
	"errors"
	"slices"
)

// Pair is one line of OroCRM's map.yml. The maps are kept as ordered data
// rather than Go maps because OroCRM scans them and takes the first match,
// and because the spec recommends keeping them configurable (§10).
type Pair struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Zendesk's ticket statuses (spec §2.3).
const (
	TicketStatusNew     = "new"
	TicketStatusOpen    = "open"
	TicketStatusPending = "pending"
	TicketStatusHold    = "hold"
	TicketStatusSolved  = "solved"
	TicketStatusClosed  = "closed"
)

// The CRM's case statuses (spec §2.3).
const (
	CaseStatusOpen       = "open"
	CaseStatusInProgress = "in_progress"
	CaseStatusResolved   = "resolved"
	CaseStatusClosed     = "closed"
)

// Zendesk's user roles (spec §2.8): admins and agents are staff, end-users are contacts.
const (
	RoleAdmin   = "admin"
	RoleAgent   = "agent"
	RoleEndUser = "end-user"
)

// TicketToCaseStatus is map.yml's ticket → case status list (spec §4.6).
var TicketToCaseStatus = []Pair{
	{TicketStatusNew, CaseStatusOpen},
	{TicketStatusOpen, CaseStatusOpen},
	{TicketStatusPending, CaseStatusInProgress},
	{TicketStatusHold, CaseStatusOpen},
	{TicketStatusSolved, CaseStatusResolved},
	{TicketStatusClosed, CaseStatusClosed},
}

// CaseToTicketStatus deliberately maps open → open instead of OroCRM's
// open → new: Zendesk refuses "new" on an existing ticket and OroCRM's value
// rewrote open and on-hold tickets to new on every export (spec §5.7, §10.4).
var CaseToTicketStatus = []Pair{
	{CaseStatusOpen, TicketStatusOpen},
	{CaseStatusInProgress, TicketStatusPending},
	{CaseStatusResolved, TicketStatusSolved},
	{CaseStatusClosed, TicketStatusClosed},
}

// TicketToCasePriority folds Zendesk's urgent into the CRM's high, the CRM
// having no higher priority (spec §4.6).
var TicketToCasePriority = []Pair{
	{"low", "low"},
	{"normal", "normal"},
	{"high", "high"},
	{"urgent", "high"},
}

// CaseToTicketPriority is map.yml's case → ticket priority list (spec §4.6).
var CaseToTicketPriority = []Pair{
	{"low", "low"},
	{"normal", "normal"},
	{"high", "high"},
}

// CRM-side dictionaries (spec §2.3, inferred there from the case bundle).
var (
	CaseStatuses   = []string{CaseStatusOpen, CaseStatusInProgress, CaseStatusResolved, CaseStatusClosed}
	CasePriorities = []string{"low", "normal", "high"}
)

// Zendesk-side dictionaries as OroCRM seeds them (spec §2.3). A value outside
// them is stored as null with a warning, never added.
var (
	TicketStatuses = []string{TicketStatusNew, TicketStatusOpen, TicketStatusPending, TicketStatusHold, TicketStatusSolved,
		TicketStatusClosed}
	TicketPriorities = []string{"low", "normal", "high", "urgent"}
	TicketTypes      = []string{"problem", "incident", "question", "task"}
	UserRoles        = []string{RoleAdmin, RoleAgent, RoleEndUser}
)

// Defaults of a case created from a ticket before the ticket's values are
// applied (spec §2.3), and the priority a ticket without one stands for
// (DESIGN: "a ticket without priority gives normal").
const (
	DefaultCaseStatus   = CaseStatusOpen
	DefaultCasePriority = "normal"
)

// TicketStatusDeleted is the mirror's status for a ticket Zendesk reports as
// deleted (DESIGN). It is not in TicketStatuses because Zendesk never sends it
// as a status: the incremental export marks deletions separately.
const TicketStatusDeleted = "deleted"

// ErrUnmapped lets callers recognise, with errors.Is, a value that the maps
// cannot convert, so they can record the record as skipped instead of
// retrying it.
var ErrUnmapped = errors.New("unmapped value")

// UnmappedError keeps OroCRM's wording ("Can't convert Zendesk status
// [name=…]") so logs and the failures listing stay recognisable.
type UnmappedError struct {
	What string // e.g. "Zendesk status", "case priority"
	Name string
}

func (e *UnmappedError) Error() string {
	return "can't convert " + e.What + " [name=" + e.Name + "]"
}

// Unwrap makes errors.Is(err, ErrUnmapped) hold.
func (e *UnmappedError) Unwrap() error { return ErrUnmapped }

// Lookup returns the To of the first pair whose From is from, as OroCRM's
// map scan does; first-match matters when the data is reconfigured with
// duplicate keys.
func Lookup(pairs []Pair, from string) (string, bool) {
	for _, p := range pairs {
		if p.From == from {
			return p.To, true
		}
	}
	return "", false
}

// Known reports whether v is one of a dictionary's values; matching is exact
// because the dictionaries' primary keys are the API's literal names.
func Known(dictionary []string, v string) bool {
	return slices.Contains(dictionary, v)
}

// CaseStatus converts a ticket status into a case status. An empty status is
// an error like any other unknown one: the case's status must then be left
// as it is rather than reset.
func CaseStatus(ticketStatus string) (string, error) {
	if s, ok := Lookup(TicketToCaseStatus, ticketStatus); ok {
		return s, nil
	}
	return "", &UnmappedError{What: "Zendesk status", Name: ticketStatus}
}

// CasePriority converts a ticket priority into a case priority. Zendesk
// tickets often have no priority; DESIGN decides that means normal (OroCRM
// logged an error and left the case untouched instead).
func CasePriority(ticketPriority *string) (string, error) {
	return casePriorityBy(TicketToCasePriority, ticketPriority)
}

func casePriorityBy(toCase []Pair, ticketPriority *string) (string, error) {
	if ticketPriority == nil || *ticketPriority == "" {
		return DefaultCasePriority, nil
	}
	if p, ok := Lookup(toCase, *ticketPriority); ok {
		return p, nil
	}
	return "", &UnmappedError{What: "Zendesk priority", Name: *ticketPriority}
}

// TicketStatusFor decides what status, if any, a push from a case must carry.
//
// OroCRM always sent map(case status), which turned open and on-hold tickets
// into "new" and hold into open on every export (spec §5.7). Here a status is
// only sent when the ticket's current status means something else for the
// case, so a ticket that is on hold stays on hold while the case is open.
// When send is false, status is the ticket's current status, unchanged.
// For a new ticket (currentTicketStatus == "") the mapped value is always
// sent. A deleted ticket is never written to. A closed ticket is read-only
// in Zendesk; refusing that push is the caller's job (see TicketWritable),
// this function only answers the mapping question.
func TicketStatusFor(caseStatus, currentTicketStatus string) (status string, send bool, err error) {
	return ticketStatusFor(CaseToTicketStatus, TicketToCaseStatus, caseStatus, currentTicketStatus)
}

// ticketStatusFor is TicketStatusFor under given maps (an integration's mapping may override entries).
func ticketStatusFor(toTicket, toCase []Pair, caseStatus, currentTicketStatus string) (status string, send bool, err error) {
	mapped, ok := Lookup(toTicket, caseStatus)
	if !ok {
		return "", false, &UnmappedError{What: "case status", Name: caseStatus}
	}
	if currentTicketStatus == "" {
		return mapped, true, nil
	}
	if currentTicketStatus == TicketStatusDeleted {
		return currentTicketStatus, false, nil
	}
	if meaning, ok := Lookup(toCase, currentTicketStatus); ok && meaning == caseStatus {
		return currentTicketStatus, false, nil
	}
	if mapped == TicketStatusNew {
		// Guards reconfigured map data: Zendesk rejects "new" on an
		// existing ticket (spec §5.7 Rec.).
		mapped = TicketStatusOpen
	}
	return mapped, true, nil
}

// TicketPriorityFor is TicketStatusFor for priorities: an urgent ticket whose
// case is high keeps urgent, and a ticket without priority whose case is
// normal is left without one, because both already mean the case's value.
// priority is always the value the ticket should carry (so a creation can use
// it even when send is false); send says whether an update must carry it.
func TicketPriorityFor(casePriority string, currentTicketPriority *string) (priority string, send bool, err error) {
	return ticketPriorityFor(CaseToTicketPriority, TicketToCasePriority, casePriority, currentTicketPriority)
}

// ticketPriorityFor is TicketPriorityFor under given maps (an integration's mapping may override entries).
func ticketPriorityFor(toTicket, toCase []Pair, casePriority string, currentTicketPriority *string) (priority string, send bool, err error) {
	mapped, ok := Lookup(toTicket, casePriority)
	if !ok {
		return "", false, &UnmappedError{What: "case priority", Name: casePriority}
	}
	if meaning, err := casePriorityBy(toCase, currentTicketPriority); err == nil && meaning == casePriority {
		if currentTicketPriority == nil || *currentTicketPriority == "" {
			return mapped, false, nil
		}
		return *currentTicketPriority, false, nil
	}
	return mapped, true, nil
}

// TicketWritable reports whether Zendesk accepts updates to a ticket in this
// status. Closed tickets are read-only in Zendesk (spec §5.7) and deleted ones
// are gone; OroCRM had no guard and failed the whole export job.
func TicketWritable(status string) bool {
	return status != TicketStatusClosed && status != TicketStatusDeleted
}
