package mapping

// FieldFix is a case field Zendesk's value won: the case takes New, but only if it still holds Old.
type FieldFix struct {
	Field    Field
	Old, New string
}

// PushPlan is what a push does with one case's locally changed fields, decided before anything is sent.
type PushPlan struct {
	// Sends are the fields whose local value is to go to Zendesk (in the order of the fields asked about).
	Sends []Field
	// Fixes are the fields whose Zendesk value the case takes.
	Fixes     []FieldFix
	Conflicts []FieldConflict
	// NewBase is the merge base after the push, for every field not sent: the base, with Zendesk's value for each
	// field reconciled to it. A sent field's base moves only when Zendesk accepts it (to what Zendesk answered).
	NewBase CaseValues
}

// PlanPush three-way merges the touched fields among fields (those the CRM changed locally) against the values last
// synced (base) and the ticket as Zendesk has it now (remote), ties going by the integration's priority. Fields not
// touched keep their base, so a Zendesk change not imported yet is still a change when the import comes.
func PlanPush(fields []Field, touched map[Field]bool, base, local, remote CaseValues, p Priority) PushPlan {
	plan := PushPlan{NewBase: base}
	for _, f := range fields {
		if !touched[f] {
			continue
		}
		bv, lv, rv := FieldValue(f, base), FieldValue(f, local), FieldValue(f, remote)
		d := Merge3(bv, lv, rv, p)
		if d.Conflict {
			plan.Conflicts = append(plan.Conflicts, FieldConflict{Field: f, Base: bv, Local: lv, Remote: rv, Value: d.Value,
				Winner: d.Winner})
		}
		if d.Value != lv {
			plan.Fixes = append(plan.Fixes, FieldFix{Field: f, Old: lv, New: rv})
		}
		if d.Value == rv {
			CopyField(f, &plan.NewBase, remote)
			continue
		}
		plan.Sends = append(plan.Sends, f)
	}
	return plan
}
