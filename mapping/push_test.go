package mapping

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPlanPush(t *testing.T) {
	all := []Field{FieldSubject, FieldStatus, FieldPriority, FieldAssignedTo}
	base := CaseValues{Subject: "base", Status: "open", Priority: "normal", AssignedToID: 1, StatusOK: true, PriorityOK: true}
	with := func(mod func(v *CaseValues)) CaseValues {
		v := base
		mod(&v)
		return v
	}
	touched := func(fs ...Field) map[Field]bool {
		m := map[Field]bool{}
		for _, f := range fs {
			m[f] = true
		}
		return m
	}
	for name, c := range map[string]struct {
		touched       map[Field]bool
		local, remote CaseValues
		prio          Priority
		want          PushPlan
	}{
		"only the CRM changed: sent, base kept until Zendesk answers": {
			touched: touched(FieldSubject), local: with(func(v *CaseValues) { v.Subject = "local" }), remote: base,
			prio: Remote, want: PushPlan{Sends: []Field{FieldSubject}, NewBase: base},
		},
		"only Zendesk changed: the case takes Zendesk's value, nothing sent": {
			touched: touched(FieldStatus), local: base, remote: with(func(v *CaseValues) { v.Status = "closed" }),
			prio: Local,
			want: PushPlan{Fixes: []FieldFix{{Field: FieldStatus, Old: "open", New: "closed"}},
				NewBase: with(func(v *CaseValues) { v.Status = "closed" })},
		},
		"both changed, remote priority: Zendesk wins, a conflict is recorded": {
			touched: touched(FieldPriority), local: with(func(v *CaseValues) { v.Priority = "high" }),
			remote: with(func(v *CaseValues) { v.Priority = "low" }), prio: Remote,
			want: PushPlan{Fixes: []FieldFix{{Field: FieldPriority, Old: "high", New: "low"}},
				Conflicts: []FieldConflict{{Field: FieldPriority, Base: "normal", Local: "high", Remote: "low", Value: "low",
					Winner: WinnerRemote}},
				NewBase: with(func(v *CaseValues) { v.Priority = "low" })},
		},
		"both changed, local priority: the CRM's value is sent, a conflict is recorded": {
			touched: touched(FieldPriority), local: with(func(v *CaseValues) { v.Priority = "high" }),
			remote: with(func(v *CaseValues) { v.Priority = "low" }), prio: Local,
			want: PushPlan{Sends: []Field{FieldPriority},
				Conflicts: []FieldConflict{{Field: FieldPriority, Base: "normal", Local: "high", Remote: "low", Value: "high",
					Winner: WinnerLocal}},
				NewBase: base},
		},
		"both made the same change: nothing sent, the base moves to it": {
			touched: touched(FieldSubject), local: with(func(v *CaseValues) { v.Subject = "same" }),
			remote: with(func(v *CaseValues) { v.Subject = "same" }), prio: Remote,
			want: PushPlan{NewBase: with(func(v *CaseValues) { v.Subject = "same" })},
		},
		"an untouched field keeps its base even when Zendesk changed it": {
			touched: touched(FieldSubject), local: with(func(v *CaseValues) { v.Subject = "local" }),
			remote: with(func(v *CaseValues) { v.AssignedToID = 9 }), prio: Remote,
			want: PushPlan{Sends: []Field{FieldSubject}, NewBase: base},
		},
		"several fields keep the order of the fields asked about": {
			touched: touched(FieldAssignedTo, FieldSubject),
			local:   with(func(v *CaseValues) { v.Subject = "local"; v.AssignedToID = 2 }), remote: base, prio: Remote,
			want: PushPlan{Sends: []Field{FieldSubject, FieldAssignedTo}, NewBase: base},
		},
		"nothing touched: nothing to do": {
			touched: touched(), local: with(func(v *CaseValues) { v.Subject = "local" }), remote: base, prio: Remote,
			want: PushPlan{NewBase: base},
		},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, c.want, PlanPush(all, c.touched, base, c.local, c.remote, c.prio))
		})
	}
}
