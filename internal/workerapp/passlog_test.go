package workerapp

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// One line per pass: the pages applied (a page applied before is not counted twice), the pushes, the requests
// and the time from the pass's first activity; a recorded error ends the pass with it.
func TestPassLogWritesOneLinePerPass(t *testing.T) {
	var logs bytes.Buffer
	l := newPassLog(slog.New(slog.NewTextHandler(&logs, nil)))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	l.now = func() time.Time { return now }
	const wf = "zendesk-integration/7"
	l.record(wf, contract.ActivitySyncPosition, nil, nil)
	for i := 0; i < 3; i++ {
		l.request(wf)
	}
	l.record(wf, contract.ActivityApplyTicketPage, nil, contract.PageCounters{Tickets: 100, CasesCreated: 90, CasesUpdated: 10})
	l.record(wf, contract.ActivityApplyTicketPage, nil, contract.PageCounters{Tickets: 100, AlreadyApplied: true})
	l.record(wf, contract.ActivityApplyCommentPage, nil, contract.PageCounters{Comments: 250, Failures: 1})
	l.record(wf, contract.ActivityPushLocalChanges, nil, contract.PushResult{Pushed: 4})
	l.record("zendesk-integration/8", contract.ActivityApplyTicketPage, nil, contract.PageCounters{Tickets: 5})
	now = t0.Add(1500 * time.Millisecond)
	l.record(wf, contract.ActivityRecordError, []interface{}{contract.ErrorInput{IntegrationID: 7}}, nil)
	l.record(wf, contract.ActivityEndSync, []interface{}{contract.EndSyncInput{IntegrationID: 7}}, nil)
	assert.Contains(t, logs.String(), `level=INFO msg="sync pass ended" workflow_id=zendesk-integration/7 tickets=100 `+
		`cases_created=90 cases_updated=10 comments=250 failures=1 pushed=4 pages=2 requests=3 duration=1.5s`)
	assert.NotContains(t, logs.String(), "zendesk-integration/8", "another workflow's pass is its own")

	logs.Reset()
	l.request(wf)
	l.record(wf, contract.ActivityRecordError, []interface{}{contract.ErrorInput{IntegrationID: 7, Message: "credentials rejected"}}, nil)
	assert.Contains(t, logs.String(), `msg="sync pass stopped" workflow_id=zendesk-integration/7 tickets=0`)
	assert.Contains(t, logs.String(), `requests=1 duration=0s error="credentials rejected"`)
}

// A pass that found nothing ends with its last fetch (no EndSync): that fetch's result ends the pass's line, with
// the pages the fetches applied themselves.
func TestPassLogEndsAPassItsLastFetchEnded(t *testing.T) {
	var logs bytes.Buffer
	l := newPassLog(slog.New(slog.NewTextHandler(&logs, nil)))
	const wf = "zendesk-integration/7"
	l.request(wf)
	l.record(wf, contract.ActivityFetchTicketPage, nil, contract.FetchResult{EndOfStream: true,
		Applied: &contract.PageCounters{}, Position: &contract.Position{Generation: 1}})
	assert.Empty(t, logs.String(), "the pass goes on after its ticket stream")
	l.request(wf)
	l.record(wf, contract.ActivityFetchCommentPage, nil, contract.FetchResult{EndOfStream: true,
		Applied: &contract.PageCounters{}, PassEnded: true})
	assert.Contains(t, logs.String(), `msg="sync pass ended" workflow_id=zendesk-integration/7 tickets=0 `+
		`cases_created=0 cases_updated=0 comments=0 failures=0 pushed=0 pages=2 requests=2`)

	// The one activity of an empty pass: the ticket fetch, with the comment fetch it went on with.
	logs.Reset()
	l.request(wf)
	l.request(wf)
	l.record(wf, contract.ActivityFetchTicketPage, nil, contract.FetchResult{EndOfStream: true,
		Applied: &contract.PageCounters{}, Comments: &contract.FetchResult{EndOfStream: true,
			Applied: &contract.PageCounters{}, PassEnded: true}})
	assert.Contains(t, logs.String(), `msg="sync pass ended" workflow_id=zendesk-integration/7 tickets=0 `+
		`cases_created=0 cases_updated=0 comments=0 failures=0 pushed=0 pages=2 requests=2`)
}
