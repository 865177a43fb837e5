package mapping

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr(s string) *string { return &s }

func TestCaseStatus(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        string
	}{
		{"§4.6 map new→open", "new", "open", ""},
		{"§4.6 map open→open", "open", "open", ""},
		{"§4.6 map pending→in_progress", "pending", "in_progress", ""},
		{"§4.6 map hold→open", "hold", "open", ""},
		{"§4.6 map solved→resolved", "solved", "resolved", ""},
		{"§4.6 map closed→closed", "closed", "closed", ""},
		{"§4.6 unmapped → error", "weird", "", "can't convert Zendesk status [name=weird]"},
		{"§4.5 empty status → error", "", "", "can't convert Zendesk status [name=]"},
		{"§2.3 matching is exact (case-sensitive)", "Open", "", "can't convert Zendesk status [name=Open]"},
		{"DESIGN deleted is not a case status", "deleted", "", "can't convert Zendesk status [name=deleted]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CaseStatus(tc.in)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				assert.True(t, errors.Is(err, ErrUnmapped))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCasePriority(t *testing.T) {
	tests := []struct {
		name    string
		in      *string
		want    string
		wantErr string
	}{
		{"§4.6 map low→low", ptr("low"), "low", ""},
		{"§4.6 map normal→normal", ptr("normal"), "normal", ""},
		{"§4.6 map high→high", ptr("high"), "high", ""},
		{"§4.6 map urgent→high", ptr("urgent"), "high", ""},
		{"DESIGN null priority → normal", nil, "normal", ""},
		{"DESIGN empty priority → normal", ptr(""), "normal", ""},
		{"§4.6 unmapped → error", ptr("critical"), "", "can't convert Zendesk priority [name=critical]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CasePriority(tc.in)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				assert.ErrorIs(t, err, ErrUnmapped)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMapsCoverDictionaries(t *testing.T) {
	// Every dictionary value on one side maps to a dictionary value on the
	// other, so no seeded value can ever produce an unmapped error.
	for _, s := range TicketStatuses {
		got, ok := Lookup(TicketToCaseStatus, s)
		assert.True(t, ok && Known(CaseStatuses, got), "ticket status %q", s)
	}
	for _, s := range CaseStatuses {
		got, ok := Lookup(CaseToTicketStatus, s)
		assert.True(t, ok && Known(TicketStatuses, got), "case status %q", s)
		assert.NotEqual(t, "new", got, "§10.4 no case status maps to new")
	}
	for _, p := range TicketPriorities {
		got, ok := Lookup(TicketToCasePriority, p)
		assert.True(t, ok && Known(CasePriorities, got), "ticket priority %q", p)
	}
	for _, p := range CasePriorities {
		got, ok := Lookup(CaseToTicketPriority, p)
		assert.True(t, ok && Known(TicketPriorities, got), "case priority %q", p)
	}
}

func TestDictionaries(t *testing.T) {
	assert.Equal(t, []string{"new", "open", "pending", "hold", "solved", "closed"}, TicketStatuses)
	assert.Equal(t, []string{"low", "normal", "high", "urgent"}, TicketPriorities)
	assert.Equal(t, []string{"problem", "incident", "question", "task"}, TicketTypes)
	assert.Equal(t, []string{"admin", "agent", "end-user"}, UserRoles)
	assert.Equal(t, []string{"open", "in_progress", "resolved", "closed"}, CaseStatuses)
	assert.Equal(t, []string{"low", "normal", "high"}, CasePriorities)
	assert.False(t, Known(TicketStatuses, TicketStatusDeleted))
}

func TestLookupTakesFirstMatch(t *testing.T) {
	pairs := []Pair{{"a", "first"}, {"a", "second"}}
	got, ok := Lookup(pairs, "a")
	assert.True(t, ok)
	assert.Equal(t, "first", got, "§4.6 lookups take the first matching pair")
	_, ok = Lookup(pairs, "b")
	assert.False(t, ok)
}

func TestTicketStatusFor(t *testing.T) {
	tests := []struct {
		name, caseStatus, current string
		want                      string
		send                      bool
		wantErr                   string
	}{
		// New ticket: always the mapped value.
		{"§4.6 new ticket open→open (not Oro's new, §10.4)", "open", "", "open", true, ""},
		{"§4.6 new ticket in_progress→pending", "in_progress", "", "pending", true, ""},
		{"§4.6 new ticket resolved→solved", "resolved", "", "solved", true, ""},
		{"§4.6 new ticket closed→closed", "closed", "", "closed", true, ""},
		// §5.7 Rec.: unchanged meaning → nothing sent, the ticket keeps its status.
		{"§5.7 case open, ticket new → unchanged", "open", "new", "new", false, ""},
		{"§5.7 case open, ticket open → unchanged", "open", "open", "open", false, ""},
		{"§5.7 case open, ticket hold → unchanged", "open", "hold", "hold", false, ""},
		{"§5.7 case in_progress, ticket pending → unchanged", "in_progress", "pending", "pending", false, ""},
		{"§5.7 case resolved, ticket solved → unchanged", "resolved", "solved", "solved", false, ""},
		{"§5.7 case closed, ticket closed → unchanged", "closed", "closed", "closed", false, ""},
		// Changed meaning → the mapped value, never new.
		{"§5.7 reopen: case open, ticket solved → open (never new)", "open", "solved", "open", true, ""},
		{"§5.7 reopen: case open, ticket pending → open", "open", "pending", "open", true, ""},
		{"§5.7 reopen: case open, ticket closed → open (caller guards read-only)", "open", "closed", "open", true, ""},
		{"§5.3 case in_progress, ticket open → pending", "in_progress", "open", "pending", true, ""},
		{"§5.3 case in_progress, ticket new → pending", "in_progress", "new", "pending", true, ""},
		{"§5.3 case resolved, ticket hold → solved", "resolved", "hold", "solved", true, ""},
		{"§5.3 case closed, ticket solved → closed", "closed", "solved", "closed", true, ""},
		{"§5.3 unknown current ticket status → mapped value", "resolved", "weird", "solved", true, ""},
		{"DESIGN deleted ticket is never written", "open", "deleted", "deleted", false, ""},
		{"§5.3 unmapped case status → error", "escalated", "open", "", false, "can't convert case status [name=escalated]"},
		{"§5.3 empty case status → error", "", "", "", false, "can't convert case status [name=]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, send, err := TicketStatusFor(tc.caseStatus, tc.current)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				assert.ErrorIs(t, err, ErrUnmapped)
				assert.False(t, send)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.send, send)
		})
	}
}

func TestTicketStatusForNeverNewForExisting(t *testing.T) {
	// Even with map data reconfigured to OroCRM's open→new (§5.7 Rec.).
	saved := CaseToTicketStatus
	t.Cleanup(func() { CaseToTicketStatus = saved })
	CaseToTicketStatus = []Pair{{"open", "new"}, {"in_progress", "pending"}, {"resolved", "solved"}, {"closed", "closed"}}

	got, send, err := TicketStatusFor("open", "solved")
	require.NoError(t, err)
	assert.Equal(t, "open", got)
	assert.True(t, send)

	got, send, err = TicketStatusFor("open", "")
	require.NoError(t, err)
	assert.Equal(t, "new", got, "a new ticket may be created as new")
	assert.True(t, send)

	for _, cur := range append(append([]string{}, TicketStatuses...), "weird") {
		for _, cs := range CaseStatuses {
			got, send, err := TicketStatusFor(cs, cur)
			require.NoError(t, err)
			if send {
				assert.NotEqual(t, "new", got, "case %s ticket %s", cs, cur)
			}
		}
	}
}

func TestTicketPriorityFor(t *testing.T) {
	tests := []struct {
		name, casePriority string
		current            *string
		want               string
		send               bool
		wantErr            string
	}{
		{"§4.6 case low, ticket none → low", "low", nil, "low", true, ""},
		{"§4.6 case high, ticket none → high", "high", nil, "high", true, ""},
		{"DESIGN case normal, ticket none → unchanged (none means normal)", "normal", nil, "normal", false, ""},
		{"DESIGN case normal, ticket empty → unchanged", "normal", ptr(""), "normal", false, ""},
		{"§4.6 case low, ticket low → unchanged", "low", ptr("low"), "low", false, ""},
		{"§4.6 case normal, ticket normal → unchanged", "normal", ptr("normal"), "normal", false, ""},
		{"§4.6 case high, ticket high → unchanged", "high", ptr("high"), "high", false, ""},
		{"§4.6 urgent stays urgent when case is high", "high", ptr("urgent"), "urgent", false, ""},
		{"§4.6 case normal, ticket urgent → normal", "normal", ptr("urgent"), "normal", true, ""},
		{"§4.6 case low, ticket high → low", "low", ptr("high"), "low", true, ""},
		{"§4.6 case high, ticket low → high", "high", ptr("low"), "high", true, ""},
		{"§4.6 case normal, ticket unknown → normal", "normal", ptr("weird"), "normal", true, ""},
		{"§5.3 unmapped case priority → error", "urgent", ptr("urgent"), "", false, "can't convert case priority [name=urgent]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, send, err := TicketPriorityFor(tc.casePriority, tc.current)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				assert.ErrorIs(t, err, ErrUnmapped)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.send, send)
		})
	}
}

func TestTicketWritable(t *testing.T) {
	for _, s := range []string{"new", "open", "pending", "hold", "solved"} {
		assert.True(t, TicketWritable(s), s)
	}
	assert.False(t, TicketWritable("closed"), "§5.7 closed tickets are read-only")
	assert.False(t, TicketWritable(TicketStatusDeleted), "DESIGN deleted tickets are gone")
}
