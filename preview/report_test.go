package preview

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zendesk-sync/zendesk-sync/mapping"
)

func ptr(s string) *string { return &s }

// Changes name people by email (a contact still to create by its stand-in's email), show "none" as null, and
// list only the fields that differ; a case to create lists every field it sets.
func TestDisplayChanges(t *testing.T) {
	d := display{users: map[int64]string{1: "owner@example.com", 2: "agent@example.com"},
		contacts: map[int64]string{-1: "new@example.org", 7: "known@example.org"}}
	old := mapping.CaseValues{Subject: "Printer jam", Status: "open", Priority: "normal", OwnerID: 1, AssignedToID: 1,
		ContactID: 7}
	next := old
	next.Subject, next.AssignedToID, next.ContactID = "Printer on fire", 2, -1
	assert.Equal(t, map[string]Change{
		"subject":     {Old: ptr("Printer jam"), New: ptr("Printer on fire")},
		"assigned_to": {Old: ptr("owner@example.com"), New: ptr("agent@example.com")},
		"contact":     {Old: ptr("known@example.org"), New: ptr("new@example.org")},
	}, d.changes(&old, next))

	created := d.changes(nil, mapping.CaseValues{Subject: "", Status: "open", Priority: "high", OwnerID: 1})
	assert.Equal(t, map[string]Change{
		"subject": {New: ptr("")}, "description": {New: ptr("")}, "status": {New: ptr("open")},
		"priority": {New: ptr("high")}, "owner": {New: ptr("owner@example.com")},
	}, created, "nobody is null, an empty subject stays empty")

	assert.Equal(t, ptr("#99"), d.str(mapping.FieldOwner, "99"), "an id nobody names is shown as such")
	assert.Nil(t, d.str(mapping.FieldContact, ""))
}

func TestSortedKeysMostFirst(t *testing.T) {
	assert.Equal(t, []string{"open", "closed", "resolved"}, SortedKeys(map[string]int{"resolved": 1, "open": 5, "closed": 1}))
}
