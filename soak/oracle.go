// Package soak is the randomised convergence test of the two-way sync (`make soak`, and a short run in
// `make test`): real worker processes, a real Temporal server, PostgreSQL and the Zendesk simulator, edits on
// both sides, workers killed, connections cut and API faults injected; then the sync settles and every case is
// checked from first principles against a journal of what each side wrote. The test lives in soak_test.go; this
// file is the judge, kept free of I/O so its rules are unit-tested on their own.
package soak

import (
	"fmt"
	"time"
)

// Write is one edit of one field by one side, in the case's terms: Value is what the case holds for it (a ticket
// status as the case status it maps to, an assignee as the CRM user id), Raw what that side wrote ("hold").
type Write struct {
	Value, Raw string
	// When the edit was made: for a CRM edit the commit, for a Zendesk edit just before the request was sent.
	At time.Time
	// What that side's copy of the field held just before the edit (in the case's terms), whether the sync put
	// it there (an import into the case, a push into the ticket), and when.
	Prev       string
	PrevBySync bool
	PrevAt     time.Time
	Note       string // for the report only
}

// ConflictRow is a recorded conflict decision of one ticket and field, values in the case's terms.
type ConflictRow struct {
	Local, Remote, Winner string
}

// FieldCase is everything known about one field of one ticket after the sync settled.
type FieldCase struct {
	Integration string
	Priority    string // "remote" or "local": the integration's sync priority
	TicketID    int64
	Field       string
	Initial     string // the case's value before the noise
	InitialRaw  string // the ticket's value before the noise
	Local       []Write
	Remote      []Write
	FinalCase   string // the case's value at the end
	FinalTicket string // the ticket's value at the end, in the case's terms
	FinalRaw    string // the ticket's value at the end, as Zendesk has it
	// CheckRaw: the field has values with the same meaning for the case (hold and open), so when Zendesk's
	// value stands the ticket must keep exactly what the agent wrote.
	CheckRaw  bool
	Conflicts []ConflictRow
	// The sync's own writes of the field: into the case (imports, remote values a push took) and into the ticket
	// (pushes), in the case's terms; Zendesk times are whole seconds.
	CaseSyncs    []Write
	TicketPushes []Write
}

// Verdict is what the rules say a field must end as, and what is wrong with it.
type Verdict struct {
	Expected string
	Rule     string
	Problems []string
}

// Judge applies the rules of the two-way sync to one field:
//   - both sides end agreeing (the ticket's value means the case's);
//   - a field nobody edited is unchanged on both sides; one edited on one side only ends as that side's last value;
//   - edited on both sides, the last edit of one side "saw" the other's when the copy it overwrote held the
//     other side's last value and the sync had put it there after that edit was made: the later, informed edit
//     wins. When neither saw the other, the edits were concurrent (made within one sync): the integration's
//     priority wins, and the decision must be recorded as a conflict naming the loser's last value.
func Judge(fc FieldCase) Verdict {
	var v Verdict
	bad := func(format string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, args...)) }
	if fc.FinalCase != fc.FinalTicket {
		bad("the sides disagree: case %q, ticket %q (%q)", fc.FinalCase, fc.FinalTicket, fc.FinalRaw)
	}
	var lastL, lastZ *Write
	if n := len(fc.Local); n > 0 {
		lastL = &fc.Local[n-1]
	}
	if n := len(fc.Remote); n > 0 {
		lastZ = &fc.Remote[n-1]
	}
	rawMustStay := ""
	switch {
	case lastL == nil && lastZ == nil:
		v.Expected, v.Rule = fc.Initial, "untouched"
		rawMustStay = fc.InitialRaw
	case lastZ == nil:
		v.Expected, v.Rule = lastL.Value, "CRM edits only"
	case lastL == nil:
		v.Expected, v.Rule = lastZ.Value, "Zendesk edits only"
		rawMustStay = lastZ.Raw
	case lastL.Value == lastZ.Value:
		v.Expected, v.Rule = lastL.Value, "both sides wrote the same"
	default:
		rawMustStay = concurrent(fc, lastL, lastZ, &v, bad)
	}
	if fc.FinalCase != v.Expected {
		bad("case holds %q, the rules give %q (%s)", fc.FinalCase, v.Expected, v.Rule)
	}
	if fc.FinalTicket != v.Expected && fc.FinalCase == v.Expected {
		bad("ticket holds %q (%q), the rules give %q (%s)", fc.FinalTicket, fc.FinalRaw, v.Expected, v.Rule)
	}
	if fc.CheckRaw && rawMustStay != "" && fc.FinalRaw != rawMustStay && fc.FinalTicket == v.Expected {
		bad("ticket holds %q where %q stands (same meaning, but nothing should have rewritten it)", fc.FinalRaw,
			rawMustStay)
	}
	for _, c := range fc.Conflicts {
		if c.Winner != fc.Priority {
			bad("conflict decided for %s under %s priority (local %q, remote %q)", c.Winner, fc.Priority, c.Local, c.Remote)
		}
	}
	return v
}

// runStart is the value a side's last run of edits started from: walking back from its last edit while the
// value overwritten was that side's own earlier edit, not something the sync wrote.
func runStart(ws []Write, synced []Write) string {
	i := len(ws) - 1
	for i > 0 && !ws[i].PrevBySync && !syncedBetween(synced, ws[i-1].At, ws[i].At) {
		i--
	}
	return ws[i].Prev
}

// syncedBetween says the sync carried this side's value over to the other side between two of its edits (a push
// into the ticket, an import into the case): the merge base moved there, so a new run of edits starts. Zendesk
// keeps whole seconds, so a write in the first edit's second counts.
func syncedBetween(synced []Write, from, to time.Time) bool {
	for _, w := range synced {
		if !w.At.Before(from.Truncate(time.Second)) && w.At.Before(to) {
			return true
		}
	}
	return false
}

// concurrent judges a field both sides last wrote different values to, and returns the raw ticket value that must
// stay ("" when any may).
func concurrent(fc FieldCase, lastL, lastZ *Write, v *Verdict, bad func(format string, args ...any)) string {
	lSawZ, zSawL := sawEachOther(fc, lastL, lastZ)
	// What each side started its unsynced run of edits from: the value the sync last left there.
	baseL, baseZ := runStart(fc.Local, fc.TicketPushes), runStart(fc.Remote, fc.CaseSyncs)
	switch {
	case !lSawZ && !zSawL && lastZ.Value == baseL && lastL.Value != baseZ:
		// Zendesk's edits since the sync came back to what the CRM started from: only the CRM changed it.
		v.Expected, v.Rule = lastL.Value, "Zendesk's concurrent edits undid themselves: the CRM's stands"
	case !lSawZ && !zSawL && lastL.Value == baseZ && lastZ.Value != baseL:
		v.Expected, v.Rule = lastZ.Value, "the CRM's concurrent edits undid themselves: Zendesk's stands"
		return lastZ.Raw
	case lSawZ && !zSawL:
		v.Expected, v.Rule = lastL.Value, "CRM edit made after Zendesk's was synced"
	case zSawL && !lSawZ:
		v.Expected, v.Rule = lastZ.Value, "Zendesk edit made after the CRM's was pushed"
		return lastZ.Raw
	case lSawZ && zSawL:
		// Cannot happen with distinct values in time order; say so rather than guess.
		bad("journal contradiction: each side's last edit saw the other's (CRM %q at %s, Zendesk %q at %s)",
			lastL.Value, lastL.At.Format(time.RFC3339Nano), lastZ.Value, lastZ.At.Format(time.RFC3339Nano))
		v.Expected, v.Rule = fc.FinalCase, "contradiction"
	default:
		return byPriority(fc, lastL, lastZ, v, bad)
	}
	return ""
}

// sawEachOther says whether each side's last edit was made knowing the other's. The CRM's last edit saw Zendesk's
// when the sync had brought Zendesk's value into the case between the two; Zendesk's saw the CRM's when a push had
// put the CRM's value on the ticket between the two.
func sawEachOther(fc FieldCase, lastL, lastZ *Write) (lSawZ, zSawL bool) {
	for _, w := range fc.CaseSyncs {
		lSawZ = lSawZ || (w.Value == lastZ.Value && w.At.After(lastZ.At) && w.At.Before(lastL.At))
	}
	for _, w := range fc.TicketPushes {
		// Zendesk keeps audit times in whole seconds: a push in the CRM edit's second counts.
		// Only an edit made after the CRM's can have seen it pushed. A push in the second of Zendesk's edit may
		// have landed just after it: then Zendesk's edit was made over another value than the pushed one.
		sameSecond := w.At.Truncate(time.Second).Equal(lastZ.At.Truncate(time.Second))
		zSawL = zSawL || (lastL.At.Before(lastZ.At) && w.Value == lastL.Value &&
			!w.At.Before(lastL.At.Truncate(time.Second)) && !w.At.After(lastZ.At) &&
			(!sameSecond || lastZ.Prev == w.Value))
		// A push that overwrote Zendesk's last value before the CRM's last edit reconciled Zendesk's edit,
		// whatever it decided: the CRM's edit came after, over the synced state.
		lSawZ = lSawZ || (w.At.After(lastZ.At) && w.At.Before(lastL.At))
	}
	for _, w := range fc.CaseSyncs {
		// Likewise a sync write into the case between the CRM's last edit and Zendesk's (an import, or a
		// conflict Zendesk won) reconciled the CRM's edit: Zendesk's later edit is informed.
		zSawL = zSawL || (w.At.After(lastL.At) && w.At.Before(lastZ.At))
	}
	return lSawZ, zSawL
}

// byPriority judges truly concurrent edits: the priority's side wins, with a conflict recorded. It returns the raw
// ticket value that must stay.
func byPriority(fc FieldCase, lastL, lastZ *Write, v *Verdict, bad func(format string, args ...any)) string {
	v.Rule = "concurrent edits: " + fc.Priority + " priority wins"
	found := false
	if fc.Priority == "local" {
		v.Expected = lastL.Value
		for _, c := range fc.Conflicts {
			found = found || (c.Remote == lastZ.Value && c.Winner == "local")
		}
		if !found {
			bad("no conflict recorded for Zendesk's %q losing to the CRM's %q", lastZ.Value, lastL.Value)
		}
		return ""
	}
	v.Expected = lastZ.Value
	for _, c := range fc.Conflicts {
		found = found || (c.Local == lastL.Value && c.Winner == "remote")
	}
	if !found {
		bad("no conflict recorded for the CRM's %q losing to Zendesk's %q", lastL.Value, lastZ.Value)
	}
	return lastZ.Raw
}
