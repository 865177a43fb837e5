package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// IntegrationRef is the input of every activity that concerns one integration as a whole. It is a struct (not a
// bare id) so fields can be added without changing the activity's signature.
//
// History compatibility: workflows started before this type existed send the bare id (`5`) to these activities,
// and their histories hold it. Rather than gating the change with workflow.GetVersion, the type decodes both
// shapes (see UnmarshalJSON), so an activity task scheduled by an old run still decodes on a new worker.
type IntegrationRef struct {
	IntegrationID int64
}

// UnmarshalJSON accepts the struct and, for runs scheduled before the struct existed, a bare integration id.
func (r *IntegrationRef) UnmarshalJSON(b []byte) error {
	return decodeRef(b, &r.IntegrationID, func(b []byte) error {
		type plain IntegrationRef // no UnmarshalJSON method: no recursion
		return json.Unmarshal(b, (*plain)(r))
	})
}

// CaseRef is the input of the activities that concern one CRM case (publishing). Like IntegrationRef it also
// decodes from a bare case id, the shape runs scheduled before it existed send.
type CaseRef struct {
	CaseID int64
}

// UnmarshalJSON accepts the struct and a bare case id.
func (r *CaseRef) UnmarshalJSON(b []byte) error {
	return decodeRef(b, &r.CaseID, func(b []byte) error {
		type plain CaseRef
		return json.Unmarshal(b, (*plain)(r))
	})
}

// decodeRef decodes a bare JSON number into id, and anything else with decodeStruct.
func decodeRef(b []byte, id *int64, decodeStruct func([]byte) error) error {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9')) {
		if err := json.Unmarshal(t, id); err != nil {
			return fmt.Errorf("decode bare id %s: %w", t, err)
		}
		return nil
	}
	return decodeStruct(b)
}

// Settings is what the workflow needs to know of its integration: never a credential.
type Settings struct {
	Name            string
	Active          bool
	IntervalSeconds int
	TwoWay          bool
	Priority        string
	SettingsVersion int
}

// Position is where the integration's streams stand, as PostgreSQL (the source of truth) records it.
type Position struct {
	Generation    int
	TicketCursor  string
	EventsFrom    string
	FirstSyncDone bool
	Settings      Settings
}

// From is where the stream of the given kind stands.
func (p Position) From(kind string) string {
	if kind == KindTickets {
		return p.TicketCursor
	}
	return p.EventsFrom
}

// PageRef names one page of one stream: the integration, the sync generation and where the page starts.
//
// The flags are a fetch's only (the workflow sets them from its versionLeanPass on): they let a pass that finds
// nothing cost one activity per stream. Older workers ignore them and the workflow then sees an ordinary fetch.
type PageRef struct {
	IntegrationID int64
	Generation    int
	From          string
	// After is, for an apply scheduled while the page before it may still be applying (a pipelined stream), where
	// that page starts ("" is a position too: the start of the ticket stream): the apply waits for it rather than
	// taking the page for stale. Nil for a page with none before it in flight.
	After *string `json:",omitempty"`
	// StartPass: the first fetch of a pass opens the pass's record and reads the generation and the stream's
	// position from PostgreSQL (Generation and From are not set), and returns them in FetchResult.Position, in place
	// of a SyncPosition activity.
	StartPass bool `json:",omitempty"`
	// ApplyEmpty: a page that holds no records is applied by the fetch itself (FetchResult.Applied): there is
	// nothing to stage, so the apply activity would only move the position.
	ApplyEmpty bool `json:",omitempty"`
	// EndPass: a comment page the fetch applied itself that ends the comment stream (the pass's last) ends the pass
	// too, as EndSync would (FetchResult.PassEnded). Set when nothing follows the streams (no push).
	EndPass bool `json:",omitempty"`
	// AndComments (a StartPass fetch of the ticket stream): when the page it applied itself ends the ticket stream,
	// nothing of the pass is in flight, so the fetch goes on with the comment stream's first page, as a
	// FetchCommentPage with the same flags would, and returns it in FetchResult.Comments.
	AndComments bool `json:",omitempty"`
	// PriorAttempts are the attempts at the same fetch made before this activity ran: its local attempt, when the
	// workflow ran a pass's first fetch as a local activity first. They count toward the attempts a deterministic
	// failure gets before it stops retrying (activities.PermanentAttempts).
	PriorAttempts int32 `json:",omitempty"`
}

// Page is the plain reference of the page a fetch fetched (the apply activity's input): the flags dropped.
func (r PageRef) Page() PageRef {
	return PageRef{IntegrationID: r.IntegrationID, Generation: r.Generation, From: r.From}
}

// FetchResult is what a fetch tells the workflow: where the next page starts and whether the stream ended.
type FetchResult struct {
	Next        string
	EndOfStream bool
	Records     int
	// Position is where the streams stood when a StartPass fetch opened the pass; the page fetched starts at
	// Position.From of its stream.
	Position *Position `json:",omitempty"`
	// Applied is set when the fetch applied the page itself (PageRef.ApplyEmpty): what the apply activity would
	// have returned. Nil: the page is staged and waits for its apply activity.
	Applied *PageCounters `json:",omitempty"`
	// PassEnded: the fetch also recorded the end of the pass (PageRef.EndPass): no EndSync follows.
	PassEnded bool `json:",omitempty"`
	// Comments is the comment stream's first page, fetched by the same activity (PageRef.AndComments).
	Comments *FetchResult `json:",omitempty"`
}

// PageCounters are what one applied page added to the sync's progress: the result of the apply activities. Its
// JSON tags are in recorded histories and in the applied_pages table; keep them.
type PageCounters struct {
	Tickets        int64 `json:"tickets"`
	CasesCreated   int64 `json:"cases_created"`
	CasesUpdated   int64 `json:"cases_updated"`
	Comments       int64 `json:"comments"`
	Failures       int64 `json:"failures"`
	AlreadyApplied bool  `json:"already_applied,omitempty"`
}

// Counters is the page's contribution to a sync's Counters: one page and its counts.
func (p PageCounters) Counters() Counters {
	return Counters{Pages: 1, TicketsSynced: p.Tickets, CasesCreated: p.CasesCreated, CasesUpdated: p.CasesUpdated,
		CommentsSynced: p.Comments, Failures: p.Failures}
}

// EndSyncInput records the end of a sync pass.
type EndSyncInput struct {
	IntegrationID int64
	FirstSyncDone bool
}

// ErrorInput records why a sync pass stopped ("" clears it).
type ErrorInput struct {
	IntegrationID int64
	Message       string
}

// PushResult says what one push step did.
type PushResult struct {
	Pushed    int
	Skipped   int
	Conflicts int
	HasMore   bool
}

// RetryResult says what retrying an integration's failed tickets did (the retry-failures update's result).
type RetryResult struct {
	Retried      int `json:"retried"`
	Fixed        int `json:"fixed"`
	StillFailing int `json:"still_failing"`
}

// PublishResult is the Zendesk ticket a case is published as (the publish workflow's result).
type PublishResult struct {
	IntegrationID int64
	TicketID      int64
	URL           string
	Already       bool
}

// ChangedTicketsInput names tickets to fetch by id and apply (ActivityApplyChangedTickets), at most 100: one
// show_many request.
type ChangedTicketsInput struct {
	IntegrationID int64
	TicketIDs     []int64
}

// RemapInput is the remap workflow's input, and what it carries across continue-as-new: where it stands (the last
// ticket id done) and what it counted so far.
type RemapInput struct {
	IntegrationID int64
	After         int64
	Examined      int64
	Changed       int64
}

// RemapPageInput asks the RemapPage activity to derive the cases of up to Limit mirrored tickets after a ticket id
// again.
type RemapPageInput struct {
	IntegrationID int64
	After         int64
	Limit         int
}

// RemapResult counts what a remap did (the remap workflow's result; `integration remap -o json` prints it).
type RemapResult struct {
	Examined int64 `json:"cases_examined"`
	Changed  int64 `json:"cases_changed"`
}

// RemapPageResult is what one RemapPage did: cases examined and changed, the last ticket id it read (Next), and
// whether no ticket is left (Done).
type RemapPageResult struct {
	Examined, Changed int64
	Next              int64
	Done              bool
}
