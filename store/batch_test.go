package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func newIntegration(t *testing.T, s *Store) int64 {
	t.Helper()
	ctx := context.Background()
	uid, err := s.AddCRMUser(ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	id, err := s.CreateIntegration(ctx, &Integration{Name: "acme", URL: "https://acme.zendesk.com", Email: "a@acme.com",
		TokenEnc: []byte{1, 2}, OwnerUserID: uid, Priority: "remote", IntervalSeconds: 300})
	require.NoError(t, err)
	return id
}

// Failures of a page are written in one statement; a record failing twice (in one batch or again later) stays one
// open failure with the latest reason, and failures without a Zendesk id are kept each.
func TestFailuresAreRecordedInOneBatchAndStayOnePerRecord(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := newIntegration(t, s)
	one, two := int64(1), int64(2)
	batch := []Failure{{Kind: "ticket", ZendeskID: &one, Reason: "first", Payload: "{}"},
		{Kind: "ticket", ZendeskID: &two, Reason: "bad", Payload: "{}"},
		{Kind: "ticket", ZendeskID: &one, Reason: "second", Payload: `{"x":1}`},
		{Kind: "page", Reason: "unreadable"}}
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error { return p.RecordFailures(batch) }))
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error { return p.RecordFailures(batch[:2]) }))
	fs, err := s.Failures(ctx, id)
	require.NoError(t, err)
	reasons := map[string]int{}
	for _, f := range fs {
		reasons[f.Reason]++
	}
	require.Equal(t, map[string]int{"first": 1, "bad": 1, "unreadable": 1}, reasons,
		"the later write of ticket 1 updated its one open failure")
	require.NoError(t, s.RecordFailure(ctx, id, Failure{Kind: "ticket", ZendeskID: &one, Reason: "third"}))
	fs, err = s.Failures(ctx, id)
	require.NoError(t, err)
	require.Len(t, fs, 3)
}

// The conflicts of a case are written in one statement, in their order, with their values.
func TestConflictsAreRecordedInOneBatchInOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id := newIntegration(t, s)
	a, b := "a", "b"
	cs := []Conflict{{TicketID: 7, Field: "subject", BaseValue: &a, LocalValue: &b, RemoteValue: nil, Winner: "local"},
		{TicketID: 7, Field: "status", BaseValue: nil, LocalValue: &a, RemoteValue: &b, Winner: "remote"}}
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error { return p.RecordConflicts(0, cs) }))
	require.NoError(t, s.ApplyDirect(ctx, id, func(p *PageTx) error { return p.RecordConflicts(0, nil) }))
	got, err := s.Conflicts(ctx, id)
	require.NoError(t, err)
	require.Len(t, got, 2)
	// Newest first: the second conflict of the batch has the higher id.
	require.Equal(t, "status", got[0].Field)
	require.Nil(t, got[0].BaseValue)
	require.Equal(t, "b", *got[0].RemoteValue)
	require.Equal(t, "subject", got[1].Field)
	require.Nil(t, got[1].CaseID)
	require.Equal(t, "b", *got[1].LocalValue)
	require.Equal(t, "local", got[1].Winner)
}
