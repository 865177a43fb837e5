package mapping

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const integrationOwner int64 = 1000

func agent(crmUserID int64) *Party   { return &Party{Role: "agent", CRMUserID: crmUserID} }
func endUser(contactID int64) *Party { return &Party{Role: "end-user", ContactID: contactID} }

func TestDeriveCaseScalarFields(t *testing.T) {
	tests := []struct {
		name         string
		facts        TicketFacts
		wantSubject  string
		wantStatus   string
		wantStatusOK bool
		wantPriority string
		wantPrioOK   bool
		wantWarnings []string
	}{
		{"§8 subject and description copied", TicketFacts{Subject: ptr("Printer"), Description: "On fire", Status: "open", Priority: ptr("low")},
			"Printer", "open", true, "low", true, nil},
		{"§10.7 DESIGN null subject → \"\" (no N\\A)", TicketFacts{Status: "new"},
			"", "open", true, "normal", true, nil},
		{"DESIGN empty subject stays empty", TicketFacts{Subject: ptr(""), Status: "new"},
			"", "open", true, "normal", true, nil},
		{"DESIGN null priority → normal", TicketFacts{Subject: ptr("s"), Status: "pending"},
			"s", "in_progress", true, "normal", true, nil},
		{"§4.6 urgent → high", TicketFacts{Status: "hold", Priority: ptr("urgent")},
			"", "open", true, "high", true, nil},
		{"§4.6 unmapped status → untouched + warning", TicketFacts{Status: "escalated", Priority: ptr("high")},
			"", "", false, "high", true, []string{"can't convert Zendesk status [name=escalated]"}},
		{"§4.5 empty status → untouched + warning", TicketFacts{Status: "", Priority: ptr("high")},
			"", "", false, "high", true, []string{"Zendesk status is empty."}},
		{"DESIGN deleted ticket keeps case status, no warning", TicketFacts{Status: TicketStatusDeleted, Priority: ptr("high")},
			"", "", false, "high", true, nil},
		{"§4.6 unmapped priority → untouched + warning", TicketFacts{Status: "solved", Priority: ptr("critical")},
			"", "resolved", true, "", false, []string{"can't convert Zendesk priority [name=critical]"}},
		{"§4.6 both unmapped → two warnings", TicketFacts{Status: "x", Priority: ptr("y")},
			"", "", false, "", false, []string{"can't convert Zendesk status [name=x]", "can't convert Zendesk priority [name=y]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, warnings := DeriveCase(tc.facts, nil, nil, nil, integrationOwner)
			assert.Equal(t, tc.wantSubject, v.Subject)
			assert.Equal(t, tc.facts.Description, v.Description)
			assert.Equal(t, tc.wantStatus, v.Status)
			assert.Equal(t, tc.wantStatusOK, v.StatusOK)
			assert.Equal(t, tc.wantPriority, v.Priority)
			assert.Equal(t, tc.wantPrioOK, v.PriorityOK)
			assert.Equal(t, tc.wantWarnings, warnings)
		})
	}
}

func TestDeriveCaseStatusMapEveryValue(t *testing.T) {
	for _, p := range TicketToCaseStatus {
		t.Run("§8 status "+p.From+"→"+p.To, func(t *testing.T) {
			v, w := DeriveCase(TicketFacts{Status: p.From}, nil, nil, nil, integrationOwner)
			assert.Empty(t, w)
			assert.Equal(t, p.To, v.Status)
		})
	}
	for _, p := range TicketToCasePriority {
		t.Run("§8 priority "+p.From+"→"+p.To, func(t *testing.T) {
			v, w := DeriveCase(TicketFacts{Status: "open", Priority: ptr(p.From)}, nil, nil, nil, integrationOwner)
			assert.Empty(t, w)
			assert.Equal(t, p.To, v.Priority)
		})
	}
}

func TestDeriveCasePeople(t *testing.T) {
	tests := []struct {
		name                           string
		requester, submitter, assignee *Party
		wantOwner, wantAssigned        int64
		wantContact                    int64
	}{
		// §8: "whichever is the only one set".
		{"§8 only submitter set", nil, agent(2), nil, 2, 2, 0},
		{"§8 only requester set", agent(1), nil, nil, 1, 1, 0},
		{"§8 only assignee set", nil, nil, agent(3), 3, 3, 0},
		{"§4.6 nobody → integration owner", nil, nil, nil, integrationOwner, integrationOwner, 0},
		// §4.6 chain order.
		{"§4.6 all set: owner=submitter, assignedTo=assignee", agent(1), agent(2), agent(3), 2, 3, 0},
		{"§4.6 submitter is end-user: owner=requester", agent(1), endUser(20), agent(3), 1, 3, 20},
		{"§4.6 only end-users: integration owner", endUser(10), endUser(20), nil, integrationOwner, integrationOwner, 10},
		{"§4.6 assignee missing: assignedTo=submitter", agent(1), agent(2), nil, 2, 2, 0},
		{"§4.6 assignee and submitter missing: assignedTo=requester", agent(1), nil, nil, 1, 1, 0},
		{"§4.6 submitter and requester end-users: owner=assignee", endUser(10), endUser(20), agent(3), 3, 3, 10},
		// DESIGN: an unmatched agent is the integration owner, and the chain stops there.
		{"DESIGN unmatched assignee → assignedTo=integration owner", agent(1), agent(2), agent(0), 2, integrationOwner, 0},
		{"DESIGN unmatched submitter → owner=integration owner", agent(1), agent(0), agent(3), integrationOwner, 3, 0},
		{"DESIGN only an unmatched agent → integration owner", nil, nil, agent(0), integrationOwner, integrationOwner, 0},
		{"§2.8 role-less party is skipped", &Party{}, nil, agent(3), 3, 3, 0},
		// §8: "Case related contact is the related contact of the submitter, requester or assignee".
		{"§8 contact: only requester", endUser(10), nil, nil, integrationOwner, integrationOwner, 10},
		{"§8 contact: only submitter", nil, endUser(20), nil, integrationOwner, integrationOwner, 20},
		{"§8 contact: only assignee", nil, nil, endUser(30), integrationOwner, integrationOwner, 30},
		{"§4.6 contact: requester first", endUser(10), endUser(20), endUser(30), integrationOwner, integrationOwner, 10},
		{"§4.6 contact: submitter before assignee", agent(1), endUser(20), endUser(30), 1, 1, 20},
		{"§4.6 contact: end-user without contact skipped", endUser(0), nil, endUser(30), integrationOwner, integrationOwner, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := DeriveCase(TicketFacts{Status: "open"}, tc.requester, tc.submitter, tc.assignee, integrationOwner)
			assert.Equal(t, tc.wantOwner, v.OwnerID, "owner")
			assert.Equal(t, tc.wantAssigned, v.AssignedToID, "assignedTo")
			assert.Equal(t, tc.wantContact, v.ContactID, "contact")
		})
	}
}

func TestDeriveCaseUnmatchedAgentFallbackIsNotStored(t *testing.T) {
	// §10.2: the owner stands in when deriving, but the party keeps no link,
	// so a CRM user added later is picked up on the next sync.
	dir := NewDirectory(nil)
	assignee := ResolveParty(7, "agent", "new.agent@example.com", 0, dir)
	v, _ := DeriveCase(TicketFacts{Status: "open"}, nil, nil, &assignee, integrationOwner)
	assert.Equal(t, integrationOwner, v.AssignedToID)
	assert.Equal(t, integrationOwner, v.OwnerID)
	assert.Zero(t, assignee.CRMUserID)

	dir = NewDirectory([]CRMUser{{ID: 5, Email: "New.Agent@Example.com"}})
	assignee = ResolveParty(7, "agent", "new.agent@example.com", 0, dir)
	v, _ = DeriveCase(TicketFacts{Status: "open"}, nil, nil, &assignee, integrationOwner)
	assert.Equal(t, int64(5), v.AssignedToID, "re-resolved on the next sync")
}

// §8 fixtures: people of the local-wins scenarios.
const (
	annaLee  int64 = 1 // CRM users
	james    int64 = 2
	fredUser int64 = 3
	localOwn int64 = 4
	localAsg int64 = 5
	jimSmith int64 = 11 // contacts
	fredCont int64 = 13
	localCon int64 = 14
)

func baseTicket() (TicketFacts, *Party, *Party, *Party) {
	return TicketFacts{Subject: ptr("Old subject"), Description: "Old description", Status: "open", Priority: ptr("low")},
		&Party{Role: "end-user", ContactID: jimSmith}, agent(annaLee), agent(annaLee)
}

func nextTicket() (TicketFacts, *Party, *Party, *Party) {
	// Zendesk changed everything: subject, description, people = fred, status closed, priority normal.
	fred := &Party{Role: "agent", CRMUserID: fredUser}
	return TicketFacts{Subject: ptr("New subject"), Description: "New description", Status: "closed", Priority: ptr("normal")},
		&Party{Role: "end-user", ContactID: fredCont}, fred, fred
}

func derive(t *testing.T, ticket func() (TicketFacts, *Party, *Party, *Party)) CaseValues {
	t.Helper()
	f, r, s, a := ticket()
	v, w := DeriveCase(f, r, s, a, integrationOwner)
	require.Empty(t, w)
	return v
}

func TestMergeImportSpec8Scenarios(t *testing.T) {
	base := derive(t, baseTicket)
	next := derive(t, nextTicket)
	locallyEdited := CaseValues{Subject: "Local subject", Description: "Local description", Status: "in_progress", Priority: "high",
		OwnerID: localOwn, AssignedToID: localAsg, ContactID: localCon, StatusOK: true, PriorityOK: true}
	all := []Field{FieldSubject, FieldDescription, FieldStatus, FieldPriority, FieldOwner, FieldAssignedTo, FieldContact}

	tests := []struct {
		name        string
		current     CaseValues
		p           Priority
		want        CaseValues
		wantChanged []Field
	}{
		{"§8 local-wins, case changed locally: case keeps every local value", locallyEdited, Local, locallyEdited, nil},
		{"§8 local-wins, case untouched locally: case takes remote values", base, Local, next, all},
		{"§6.1 remote-wins, case changed locally: case mirrors the ticket", locallyEdited, Remote, next, all},
		{"§6.1 remote-wins, case untouched locally: case takes remote values", base, Remote, next, all},
		{"§6.1 unknown priority behaves as remote (DESIGN default)", locallyEdited, Priority(""), next, all},
		{"DESIGN nothing changed → nothing to write", next, Local, next, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := MergeImport(tc.current, &base, next, tc.p)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantChanged, changed)
		})
	}
}

func TestMergeImportPerField(t *testing.T) {
	base := CaseValues{Subject: "A", Description: "d", Status: "open", Priority: "low", OwnerID: 1, AssignedToID: 1, ContactID: 10, StatusOK: true, PriorityOK: true}
	with := func(f func(*CaseValues)) CaseValues { v := base; f(&v); return v }

	tests := []struct {
		name        string
		current     CaseValues
		base        *CaseValues
		next        CaseValues
		p           Priority
		want        CaseValues
		wantChanged []Field
	}{
		{"§6.1 local: only subject edited locally, Zendesk changed priority → both kept",
			with(func(v *CaseValues) { v.Subject = "L" }), &base, with(func(v *CaseValues) { v.Priority = "high" }), Local,
			with(func(v *CaseValues) { v.Subject = "L"; v.Priority = "high" }), []Field{FieldPriority}},
		{"§6.1 remote: local subject edit overwritten although Zendesk kept it (Oro import rule)",
			with(func(v *CaseValues) { v.Subject = "L" }), &base, base, Remote,
			base, []Field{FieldSubject}},
		{"§6.1 local: local subject edit survives an unchanged remote",
			with(func(v *CaseValues) { v.Subject = "L" }), &base, base, Local,
			with(func(v *CaseValues) { v.Subject = "L" }), nil},
		{"§6.1 local: both changed to the same value → nothing to write",
			with(func(v *CaseValues) { v.Status = "closed" }), &base, with(func(v *CaseValues) { v.Status = "closed" }), Local,
			with(func(v *CaseValues) { v.Status = "closed" }), nil},
		{"§4.5 base nil (new case) takes next entirely, even under local",
			CaseValues{Status: DefaultCaseStatus, Priority: DefaultCasePriority, StatusOK: true, PriorityOK: true}, nil, base, Local,
			base, []Field{FieldSubject, FieldDescription, FieldPriority, FieldOwner, FieldAssignedTo, FieldContact}},
		{"§4.6 unmappable next status leaves the case status untouched",
			base, &base, with(func(v *CaseValues) { v.Status, v.StatusOK = "", false }), Remote,
			base, nil},
		{"§4.6 unmappable next priority leaves the case priority untouched",
			base, &base, with(func(v *CaseValues) { v.Priority, v.PriorityOK = "", false }), Remote,
			base, nil},
		{"§4.6 no contact in next leaves the case contact untouched",
			base, &base, with(func(v *CaseValues) { v.ContactID = 0 }), Remote,
			base, nil},
		{"§6.1 base status unmappable is not a local change: remote applies under local",
			with(func(v *CaseValues) { v.Status = "in_progress" }), ptr2(with(func(v *CaseValues) { v.Status, v.StatusOK = "", false })),
			with(func(v *CaseValues) { v.Status = "closed" }), Local,
			with(func(v *CaseValues) { v.Status = "closed" }), []Field{FieldStatus}},
		{"§6.1 base without contact is not a local change",
			with(func(v *CaseValues) { v.ContactID = 99 }), ptr2(with(func(v *CaseValues) { v.ContactID = 0 })),
			with(func(v *CaseValues) { v.ContactID = 12 }), Local,
			with(func(v *CaseValues) { v.ContactID = 12 }), []Field{FieldContact}},
		{"DESIGN empty subject from Zendesk is applied",
			base, &base, with(func(v *CaseValues) { v.Subject = "" }), Remote,
			with(func(v *CaseValues) { v.Subject = "" }), []Field{FieldSubject}},
		{"§8 local: owner changed locally stays the local owner",
			with(func(v *CaseValues) { v.OwnerID = 7 }), &base, with(func(v *CaseValues) { v.OwnerID = 8; v.AssignedToID = 8 }), Local,
			with(func(v *CaseValues) { v.OwnerID = 7; v.AssignedToID = 8 }), []Field{FieldAssignedTo}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := MergeImport(tc.current, tc.base, tc.next, tc.p)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantChanged, changed)
		})
	}
}

func ptr2(v CaseValues) *CaseValues { return &v }

func TestMerge3(t *testing.T) {
	tests := []struct {
		name                string
		base, local, remote string
		p                   Priority
		want                Decision
	}{
		{"neither changed (remote)", "a", "a", "a", Remote, Decision{Value: "a"}},
		{"neither changed (local)", "a", "a", "a", Local, Decision{Value: "a"}},
		{"only local changed (remote)", "a", "L", "a", Remote, Decision{Value: "L", Winner: "local", LocalChanged: true}},
		{"only local changed (local)", "a", "L", "a", Local, Decision{Value: "L", Winner: "local", LocalChanged: true}},
		{"only remote changed (remote)", "a", "a", "R", Remote, Decision{Value: "R", Winner: "remote", RemoteChanged: true}},
		{"only remote changed (local)", "a", "a", "R", Local, Decision{Value: "R", Winner: "remote", RemoteChanged: true}},
		{"both changed alike (remote)", "a", "X", "X", Remote, Decision{Value: "X", LocalChanged: true, RemoteChanged: true}},
		{"both changed alike (local)", "a", "X", "X", Local, Decision{Value: "X", LocalChanged: true, RemoteChanged: true}},
		{"§6.2 conflict, remote wins", "normal", "high", "urgent", Remote, Decision{Value: "urgent", Conflict: true, Winner: "remote", LocalChanged: true, RemoteChanged: true}},
		{"§6.2 conflict, local wins", "normal", "high", "urgent", Local, Decision{Value: "high", Conflict: true, Winner: "local", LocalChanged: true, RemoteChanged: true}},
		{"§6 unset priority → remote (DESIGN default)", "a", "L", "R", Priority(""), Decision{Value: "R", Conflict: true, Winner: "remote", LocalChanged: true, RemoteChanged: true}},
		{"§6.2 example subject: only CRM changed", "A", "B", "A", Remote, Decision{Value: "B", Winner: "local", LocalChanged: true}},
		{"§6.2 example type: only Zendesk changed, kept under local (no revert)", "task", "task", "problem", Local, Decision{Value: "problem", Winner: "remote", RemoteChanged: true}},
		{"change to empty counts as a change", "a", "", "a", Remote, Decision{Value: "", Winner: "local", LocalChanged: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Merge3(tc.base, tc.local, tc.remote, tc.p))
		})
	}
}

func TestCaseForDeleted(t *testing.T) {
	tests := []struct {
		name                  string
		isNew                 bool
		wantCreate, wantState bool
	}{
		{"DESIGN deleted when first seen → no case", true, false, false},
		{"DESIGN deleted later → case kept, status unchanged", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, u := CaseForDeleted(tc.isNew)
			assert.Equal(t, tc.wantCreate, c)
			assert.Equal(t, tc.wantState, u)
		})
	}

	t.Run("DESIGN deleted later: merge leaves the case status alone", func(t *testing.T) {
		current := CaseValues{Subject: "s", Status: "in_progress", Priority: "normal", OwnerID: 1, AssignedToID: 1, StatusOK: true, PriorityOK: true}
		next, w := DeriveCase(TicketFacts{Subject: ptr("s"), Status: TicketStatusDeleted}, nil, agent(1), nil, integrationOwner)
		assert.Empty(t, w)
		got, changed := MergeImport(current, &current, next, Remote)
		assert.Equal(t, current, got)
		assert.Empty(t, changed)
	})
}

func TestMergeTwoWay(t *testing.T) {
	base := CaseValues{Subject: "A", Status: "open", Priority: "normal", StatusOK: true, PriorityOK: true, OwnerID: 1, AssignedToID: 1}
	local := base
	local.Subject = "B"     // only the CRM changed it
	local.Priority = "high" // both changed it
	remote := base
	remote.Priority = "low"       // both changed it
	remote.Status = "in_progress" // only Zendesk changed it

	m, changed, conflicts := MergeTwoWay(local, &base, remote, Remote)
	if m.Subject != "B" || m.Status != "in_progress" || m.Priority != "low" {
		t.Fatalf("remote priority: %+v", m)
	}
	if len(conflicts) != 1 || conflicts[0].Field != FieldPriority || conflicts[0].Winner != "remote" ||
		conflicts[0].Local != "high" || conflicts[0].Remote != "low" || conflicts[0].Base != "normal" {
		t.Fatalf("conflicts: %+v", conflicts)
	}
	if len(changed) != 2 {
		t.Fatalf("changed: %v", changed)
	}

	m, _, conflicts = MergeTwoWay(local, &base, remote, Local)
	if m.Subject != "B" || m.Status != "in_progress" || m.Priority != "high" {
		t.Fatalf("local priority: %+v", m)
	}
	if len(conflicts) != 1 || conflicts[0].Winner != "local" {
		t.Fatalf("conflicts: %+v", conflicts)
	}

	// Nothing changed remotely: nothing to write, whatever the CRM did.
	if _, changed, conflicts := MergeTwoWay(local, &base, base, Remote); len(changed) != 0 || len(conflicts) != 0 {
		t.Fatalf("no remote change: %v %v", changed, conflicts)
	}
}

func TestDeferToPushLeavesAConflictWithAPendingLocalChangeToThePush(t *testing.T) {
	base := CaseValues{Subject: "A", Status: "open", Priority: "normal", StatusOK: true, PriorityOK: true}
	local := base
	local.Status = "resolved" // a CRM edit waiting to be pushed
	local.Subject = "B"       // another, that Zendesk did not touch
	remote := base
	remote.Status = "in_progress" // Zendesk changed it too, as the export saw it
	remote.Priority = "low"       // only Zendesk changed it

	next, deferred := DeferToPush(local, &base, remote, []Field{FieldStatus, FieldSubject})
	if len(deferred) != 1 || deferred[0] != FieldStatus {
		t.Fatalf("deferred: %v", deferred)
	}
	if next.Status != "open" || next.Priority != "low" || next.Subject != "A" {
		t.Fatalf("next: %+v", next)
	}
	m, _, conflicts := MergeTwoWay(local, &base, next, Remote)
	if len(conflicts) != 0 || m.Status != "resolved" || m.Priority != "low" || m.Subject != "B" {
		t.Fatalf("merged %+v, conflicts %v", m, conflicts)
	}

	// Not pending (pushed already, or refused for good): the import decides it, as before.
	if _, d := DeferToPush(local, &base, remote, []Field{FieldSubject}); len(d) != 0 {
		t.Fatalf("deferred without a pending change: %v", d)
	}
	// Both sides wrote the same: nothing to decide.
	same := remote
	same.Status = "resolved"
	if _, d := DeferToPush(local, &base, same, []Field{FieldStatus}); len(d) != 0 {
		t.Fatalf("deferred an agreement: %v", d)
	}
	// No ancestor: nothing deferred.
	if _, d := DeferToPush(local, nil, remote, []Field{FieldStatus}); len(d) != 0 {
		t.Fatalf("deferred without a base: %v", d)
	}
}
