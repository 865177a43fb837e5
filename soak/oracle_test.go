package soak

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestJudgeUntouchedFieldMustNotMove(t *testing.T) {
	fc := FieldCase{Priority: "remote", Field: "status", Initial: "open", InitialRaw: "hold", CheckRaw: true,
		FinalCase: "open", FinalTicket: "open", FinalRaw: "hold"}
	assert.Empty(t, Judge(fc).Problems)
	fc.FinalRaw = "open" // same meaning, but the sync rewrote a ticket nobody touched
	assert.NotEmpty(t, Judge(fc).Problems)
	fc.FinalRaw, fc.FinalCase = "hold", "resolved"
	assert.Len(t, Judge(fc).Problems, 2, "the sides disagree, and the case moved")
}

func TestJudgeOneSideOnlyEndsAsItsLastValue(t *testing.T) {
	fc := FieldCase{Priority: "remote", Field: "subject", Initial: "a",
		Local:     []Write{{Value: "L1", At: at(1)}, {Value: "L2", At: at(2)}},
		FinalCase: "L2", FinalTicket: "L2", FinalRaw: "L2"}
	assert.Empty(t, Judge(fc).Problems)
	fc.FinalCase, fc.FinalTicket = "L1", "L1"
	assert.NotEmpty(t, Judge(fc).Problems, "an older local value is a lost edit")

	fc = FieldCase{Priority: "local", Field: "subject", Initial: "a",
		Remote:    []Write{{Value: "Z1", Raw: "Z1", At: at(1)}},
		FinalCase: "a", FinalTicket: "Z1", FinalRaw: "Z1"}
	v := Judge(fc)
	assert.Equal(t, "Z1", v.Expected)
	assert.NotEmpty(t, v.Problems, "a Zendesk edit that never reached the case")
}

func TestJudgeInformedEditWinsWhateverThePriority(t *testing.T) {
	for _, prio := range []string{"remote", "local"} {
		// The CRM edit overwrote Zendesk's value, which an import had put in the case after Zendesk's edit.
		fc := FieldCase{Priority: prio, Field: "subject", Initial: "a",
			Remote:    []Write{{Value: "Z", Raw: "Z", At: at(1), Prev: "a"}},
			Local:     []Write{{Value: "L", At: at(3), Prev: "Z", PrevBySync: true, PrevAt: at(2)}},
			CaseSyncs: []Write{{Value: "Z", At: at(2)}},
			FinalCase: "L", FinalTicket: "L", FinalRaw: "L"}
		v := Judge(fc)
		assert.Equal(t, "L", v.Expected, prio)
		assert.Empty(t, v.Problems, prio)
		// Without the import, the CRM edit did not see Zendesk's: the edits were concurrent.
		fc.CaseSyncs, fc.Local[0].Prev, fc.Local[0].PrevBySync = nil, "a", false
		v = Judge(fc)
		assert.Contains(t, v.Rule, "concurrent", prio)
		// A later CRM edit in the same run is as informed as the first one that overwrote the imported value.
		fc = FieldCase{Priority: prio, Field: "status", Initial: "open", CheckRaw: true,
			Remote: []Write{{Value: "resolved", Raw: "solved", At: at(1), Prev: "open"}},
			Local: []Write{{Value: "in_progress", At: at(5), Prev: "resolved", PrevBySync: true, PrevAt: at(3)},
				{Value: "open", At: at(6), Prev: "in_progress"}},
			CaseSyncs: []Write{{Value: "resolved", At: at(3)}},
			FinalCase: "open", FinalTicket: "open", FinalRaw: "open"}
		v = Judge(fc)
		assert.Empty(t, v.Problems, prio)
		assert.Equal(t, "open", v.Expected, prio)

		// The Zendesk edit overwrote the CRM's value, pushed after the CRM edit.
		fc = FieldCase{Priority: prio, Field: "status", Initial: "open", CheckRaw: true,
			Local:        []Write{{Value: "in_progress", At: at(1.2)}},
			Remote:       []Write{{Value: "resolved", Raw: "solved", At: at(3), Prev: "in_progress", PrevBySync: true, PrevAt: at(1)}},
			TicketPushes: []Write{{Value: "in_progress", At: at(1)}},
			FinalCase:    "resolved", FinalTicket: "resolved", FinalRaw: "solved"}
		v = Judge(fc)
		assert.Equal(t, "resolved", v.Expected, prio)
		assert.Empty(t, v.Problems, prio, "a push in the same second as the CRM edit counts (audit times are seconds)")
		fc.FinalCase = "in_progress"
		assert.NotEmpty(t, Judge(fc).Problems, prio)
	}
}

func TestJudgeConcurrentEditsFollowThePriorityAndMustBeRecorded(t *testing.T) {
	base := FieldCase{Field: "priority", Initial: "normal", CheckRaw: true,
		Local:  []Write{{Value: "low", At: at(1), Prev: "normal"}},
		Remote: []Write{{Value: "high", Raw: "urgent", At: at(1.5), Prev: "normal"}}}

	fc := base
	fc.Priority, fc.FinalCase, fc.FinalTicket, fc.FinalRaw = "remote", "high", "high", "urgent"
	fc.Conflicts = []ConflictRow{{Local: "low", Remote: "high", Winner: "remote"}}
	assert.Empty(t, Judge(fc).Problems)
	fc.Conflicts = nil
	assert.NotEmpty(t, Judge(fc).Problems, "an unrecorded conflict")
	fc.Conflicts = []ConflictRow{{Local: "low", Remote: "high", Winner: "remote"}}
	fc.FinalRaw = "high"
	assert.NotEmpty(t, Judge(fc).Problems, "Zendesk's urgent stands: rewriting it to high is a push nobody asked for")

	fc = base
	fc.Priority, fc.FinalCase, fc.FinalTicket, fc.FinalRaw = "local", "low", "low", "low"
	fc.Conflicts = []ConflictRow{{Local: "low", Remote: "high", Winner: "local"}}
	assert.Empty(t, Judge(fc).Problems)
	fc.FinalCase, fc.FinalTicket, fc.FinalRaw = "high", "high", "urgent"
	assert.NotEmpty(t, Judge(fc).Problems, "local priority: the CRM's value wins")
	fc.FinalCase, fc.FinalTicket, fc.FinalRaw = "low", "low", "low"
	fc.Conflicts = []ConflictRow{{Local: "low", Remote: "high", Winner: "remote"}}
	assert.NotEmpty(t, Judge(fc).Problems, "a conflict decided against the priority")
}

func TestJudgeSidesThatDisagreeAreAMismatchWhateverTheHistory(t *testing.T) {
	fc := FieldCase{Priority: "remote", Field: "assigned_to", Initial: "7",
		Local:     []Write{{Value: "9", At: at(1)}},
		FinalCase: "9", FinalTicket: "7", FinalRaw: "35"}
	assert.NotEmpty(t, Judge(fc).Problems, "the CRM edit never reached Zendesk")
}

func TestJudgeEditsThatUndoThemselvesAreNoChange(t *testing.T) {
	// Zendesk went solved → pending → solved while the CRM reopened the case: for Zendesk nothing changed since
	// the last sync, so the CRM's edit stands, under either priority, and there is no conflict to record.
	for _, prio := range []string{"remote", "local"} {
		fc := FieldCase{Priority: prio, Field: "status", Initial: "resolved", InitialRaw: "solved", CheckRaw: true,
			Local: []Write{{Value: "open", At: at(3), Prev: "resolved"}},
			Remote: []Write{{Value: "in_progress", Raw: "pending", At: at(1), Prev: "resolved"},
				{Value: "resolved", Raw: "solved", At: at(4), Prev: "in_progress"}},
			FinalCase: "open", FinalTicket: "open", FinalRaw: "open"}
		v := Judge(fc)
		assert.Empty(t, v.Problems, prio)
		assert.Equal(t, "open", v.Expected, prio)
		fc.FinalCase, fc.FinalTicket, fc.FinalRaw = "resolved", "resolved", "solved"
		assert.NotEmpty(t, Judge(fc).Problems, prio)
	}
}

// A conflict Zendesk won wrote its value into the case; Zendesk's edit minutes later came back to the initial value.
// That later edit saw the reconciled state: it is informed and stands, it is not an edit that "undid itself".
func TestJudgeEditAfterAConflictWasReconciledIsInformed(t *testing.T) {
	fc := FieldCase{Priority: "remote", Field: "assigned_to", Initial: "6",
		Remote:    []Write{{Value: "2", Raw: "2", At: at(1), Prev: "6"}, {Value: "6", Raw: "6", At: at(400), Prev: "2"}},
		Local:     []Write{{Value: "3", At: at(4), Prev: "6"}},
		CaseSyncs: []Write{{Value: "2", At: at(30)}},
		Conflicts: []ConflictRow{{Local: "3", Remote: "2", Winner: "remote"}},
		FinalCase: "6", FinalTicket: "6", FinalRaw: "6"}
	judgedAs(t, fc, "6")
	// Without the sync write in between, Zendesk's two edits were concurrent with the CRM's and undid themselves.
	fc.CaseSyncs = nil
	assert.Equal(t, "3", Judge(fc).Expected)
}

// A push of the CRM's edit moves the merge base: the CRM's next edits start a new run from the pushed value, so a
// Zendesk edit back to the value the CRM started from before that push is a real change (found by a 10-minute soak).
func TestJudgeRunRestartsAfterThePushOfTheCRMsEdit(t *testing.T) {
	fc := FieldCase{Priority: "remote", Field: "status", Initial: "resolved",
		Local: []Write{{Value: "open", At: at(1), Prev: "resolved"},
			{Value: "in_progress", At: at(400), Prev: "open"}},
		Remote:       []Write{{Value: "resolved", Raw: "solved", At: at(390), Prev: "open", PrevBySync: true, PrevAt: at(20)}},
		TicketPushes: []Write{{Value: "open", At: at(20)}},
		Conflicts:    []ConflictRow{{Local: "in_progress", Remote: "resolved", Winner: "remote"}},
		FinalCase:    "resolved", FinalTicket: "resolved", FinalRaw: "solved"}
	judgedAs(t, fc, "resolved")
}

// Zendesk's audit times are whole seconds: a push in the second of a Zendesk edit made just before the CRM's edit
// cannot have been seen by that Zendesk edit (found by the short soak).
func TestJudgeZendeskEditBeforeTheCRMsCannotHaveSeenItsPush(t *testing.T) {
	fc := FieldCase{Priority: "local", Field: "priority", Initial: "high",
		Local:        []Write{{Value: "low", At: at(10.882), Prev: "high"}},
		Remote:       []Write{{Value: "normal", Raw: "normal", At: at(10.866), Prev: "high"}},
		TicketPushes: []Write{{Value: "low", At: at(10)}},
		Conflicts:    []ConflictRow{{Local: "low", Remote: "normal", Winner: "local"}},
		FinalCase:    "low", FinalTicket: "low", FinalRaw: "low"}
	judgedAs(t, fc, "low")
}

// Seen in a soak run: the CRM edit, Zendesk's edit 53 ms later over the value before it, and the push of the CRM's
// edit in the same second (Zendesk's audit time: that second), which landed after Zendesk's edit and found it a
// conflict. Zendesk's edit did not see the push: concurrent edits, the priority decides.
func TestJudgePushInTheSecondOfZendesksEditLandedAfterIt(t *testing.T) {
	fc := FieldCase{Priority: "local", Field: "subject", Initial: "a",
		Local:        []Write{{Value: "L", At: at(31.919), Prev: "Z0"}},
		Remote:       []Write{{Value: "Z", Raw: "Z", At: at(31.972), Prev: "Z0"}},
		TicketPushes: []Write{{Value: "L", At: at(31)}},
		Conflicts:    []ConflictRow{{Local: "L", Remote: "Z", Winner: "local"}},
		FinalCase:    "L", FinalTicket: "L", FinalRaw: "L"}
	judgedAs(t, fc, "L")
	// Had Zendesk's edit been made over the pushed value, it saw the push: Zendesk's edit is the later one.
	fc.Remote[0].Prev, fc.Remote[0].PrevBySync, fc.Remote[0].PrevAt = "L", true, at(31)
	fc.Conflicts, fc.FinalCase, fc.FinalTicket, fc.FinalRaw = nil, "Z", "Z", "Z"
	judgedAs(t, fc, "Z")
}

// judgedAs checks that Judge expects want for fc and finds nothing wrong.
func judgedAs(t *testing.T, fc FieldCase, want string) {
	t.Helper()
	v := Judge(fc)
	assert.Equal(t, want, v.Expected, v.Rule)
	assert.Empty(t, v.Problems)
}
