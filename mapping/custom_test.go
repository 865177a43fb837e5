package mapping

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const exampleFile = `# the README's example
custom_fields:
  - id: 360001
    attribute: product
    direction: both
    values:
      prod_widget: Widget
      prod_gadget: Gadget
  - id: 360002
    attribute: region
tags:
  - tag: vip
    attribute: vip
    direction: both
  - attribute: tier
    direction: push
    values:
      tier_gold: gold
      tier_silver: silver
status:
  import:
    hold: in_progress
  push:
    in_progress: hold
priority:
  import:
    urgent: high
    low: normal
`

func mustParse(t *testing.T, src string) *Mapping {
	t.Helper()
	m, err := ParseFile([]byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

func TestParseFileExample(t *testing.T) {
	m := mustParse(t, exampleFile)
	want := &Mapping{
		CustomFields: []FieldMapping{
			{ID: 360001, Attribute: "product", Direction: DirBoth, Values: []ValuePair{{"prod_widget", "Widget"}, {"prod_gadget", "Gadget"}}},
			{ID: 360002, Attribute: "region", Direction: DirImport},
		},
		Tags: []TagMapping{
			{Attribute: "vip", Direction: DirBoth, Tag: "vip"},
			{Attribute: "tier", Direction: DirPush, Values: []ValuePair{{"tier_gold", "gold"}, {"tier_silver", "silver"}}},
		},
		Status:   &Overrides{Import: []Pair{{"hold", "in_progress"}}, Push: []Pair{{"in_progress", "hold"}}},
		Priority: &Overrides{Import: []Pair{{"urgent", "high"}, {"low", "normal"}}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("parsed\n%+v\nwant\n%+v", m, want)
	}
	// The stored form (JSON) reads back the same.
	b, _ := json.Marshal(m)
	var back Mapping
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, want) {
		t.Fatalf("JSON round trip: %v\n%+v", err, back)
	}
	if empty := mustParse(t, "# nothing mapped\n"); !empty.Empty() {
		t.Fatalf("a file of comments maps nothing, got %+v", empty)
	}
}

func TestParseFileErrorsNameTheLine(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"bad direction", "custom_fields:\n  - id: 1\n    attribute: a\n    direction: pull\n", "line 4: direction must be import, push or both"},
		{"unknown key", "custom_fields:\n  - id: 1\n    attribute: a\n    atribute: b\n", `line 4: unknown key "atribute"`},
		{"bad id", "custom_fields:\n  - id: abc\n    attribute: a\n", "line 2: id must be a Zendesk custom field id"},
		{"missing attribute", "tags:\n  - tag: vip\n", "line 2: a mapping entry needs attribute"},
		{"attribute twice", "custom_fields:\n  - id: 1\n    attribute: a\ntags:\n  - tag: x\n    attribute: a\n", `line 6: attribute "a" is already mapped on line 3`},
		{"bad attribute name", "custom_fields:\n  - id: 1\n    attribute: Product Line\n", "line 3: attribute must be a lower-case name"},
		{"upper-case tag", "tags:\n  - tag: VIP\n    attribute: vip\n", `line 2: tag "VIP" is not a Zendesk tag`},
		{"tag and values", "tags:\n  - tag: a\n    attribute: a\n    values: {b: c}\n", "line 2: a tag mapping has either tag"},
		{"unknown status", "status:\n  import:\n    waiting: open\n", `line 3: status.import: "waiting" is not a Zendesk status`},
		{"bad case status", "status:\n  import:\n    hold: parked\n", `line 3: status.import: "parked" is not a case status`},
		{"push to new", "status:\n  push:\n    open: new\n", "line 3: status.push: open cannot map to new"},
		{"pushed value twice", "custom_fields:\n  - id: 1\n    attribute: a\n    direction: both\n    values:\n      x: X\n      y: X\n", `line 7: values: "X" is also the value of line 6`},
		{"not a list", "custom_fields:\n  id: 1\n", "line 2: custom_fields must be a list"},
		{"syntax", "custom_fields:\n  - id: 1\n    attribute: \"a\n", "not valid YAML: yaml: line"},
		{"top-level key", "fields: []\n", `line 1: unknown key "fields"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseFile([]byte(c.src))
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
	// Every problem is reported, not just the first.
	_, err := ParseFile([]byte("custom_fields:\n  - id: 0\n    attribute: a\n    direction: x\n"))
	var fe FileErrors
	if !errors.As(err, &fe) || len(fe) != 2 || fe[0].Line != 2 || fe[1].Line != 4 {
		t.Fatalf("want two errors on lines 2 and 4, got %v", err)
	}
}

func extras(tags []string, fields ...CustomFieldValue) TicketExtras {
	return TicketExtras{CustomFields: fields, Tags: tags}
}

func TestApplyImportsCustomFieldsAndTags(t *testing.T) {
	m := mustParse(t, exampleFile)
	facts := TicketFacts{Status: TicketStatusOpen}
	x := extras([]string{"vip", "tier_silver"},
		CustomFieldValue{ID: 360001, Value: json.RawMessage(`"prod_widget"`)},
		CustomFieldValue{ID: 360002, Value: json.RawMessage(`"emea"`)})
	v := m.Apply(CaseValues{Status: CaseStatusOpen, StatusOK: true}, facts, x, Direction.Imports)
	want := map[string]string{"product": `"Widget"`, "region": `"emea"`, "vip": "true"}
	if !reflect.DeepEqual(v.Attributes, want) {
		t.Fatalf("import attributes %v, want %v (tier is push-only)", v.Attributes, want)
	}
	// Unmapped values pass through; a missing field is null; a missing tag is false; multi-select maps elements.
	x = extras(nil, CustomFieldValue{ID: 360001, Value: json.RawMessage(`["prod_gadget","other"]`)})
	v = m.Apply(CaseValues{}, facts, x, Direction.Imports)
	want = map[string]string{"product": `["Gadget","other"]`, "region": "null", "vip": "false"}
	if !reflect.DeepEqual(v.Attributes, want) {
		t.Fatalf("import attributes %v, want %v", v.Attributes, want)
	}
	// The push's view of a ticket includes push-only attributes: the first listed tag it has.
	v = m.Apply(CaseValues{}, facts, extras([]string{"tier_gold", "tier_silver"}), func(Direction) bool { return true })
	if v.Attributes["tier"] != `"gold"` {
		t.Fatalf("tier %q, want gold", v.Attributes["tier"])
	}
}

func TestStatusAndPriorityOverrides(t *testing.T) {
	m := mustParse(t, exampleFile)
	urgent, low := "urgent", "low"
	hold := TicketFacts{Status: TicketStatusHold, Priority: &low}
	d, _ := DeriveCase(hold, nil, nil, nil, 1)
	if d.Status != CaseStatusOpen || d.Priority != "low" {
		t.Fatalf("OroCRM's defaults: %+v", d)
	}
	v := m.Apply(d, hold, TicketExtras{}, Direction.Imports)
	if v.Status != CaseStatusInProgress || v.Priority != "normal" {
		t.Fatalf("overridden import: status %q priority %q", v.Status, v.Priority)
	}
	// Entries not overridden keep OroCRM's values.
	if s, _ := Lookup(m.TicketToCaseStatus(), TicketStatusSolved); s != CaseStatusResolved {
		t.Fatalf("solved → %q", s)
	}
	if p, _ := Lookup(m.TicketToCasePriority(), urgent); p != "high" {
		t.Fatalf("urgent → %q", p)
	}
	// Push: in_progress goes out as hold (the override), and a hold ticket already means in_progress.
	if st, send, _ := m.TicketStatusFor(CaseStatusInProgress, TicketStatusOpen); !send || st != TicketStatusHold {
		t.Fatalf("push in_progress over open: %q %v", st, send)
	}
	if _, send, _ := m.TicketStatusFor(CaseStatusInProgress, TicketStatusHold); send {
		t.Fatal("hold already means in_progress under the override: nothing to send")
	}
	if st, send, _ := m.TicketStatusFor(CaseStatusResolved, TicketStatusHold); !send || st != TicketStatusSolved {
		t.Fatalf("default kept for resolved: %q %v", st, send)
	}
	// Low tickets mean normal cases: a normal case over a low ticket sends nothing.
	if _, send, _ := m.TicketPriorityFor("normal", &low); send {
		t.Fatal("low means normal under the override")
	}
	var none *Mapping
	if st, send, _ := none.TicketStatusFor(CaseStatusInProgress, TicketStatusOpen); !send || st != TicketStatusPending {
		t.Fatalf("no mapping keeps OroCRM's map: %q", st)
	}
}

func TestPushAttribute(t *testing.T) {
	m := mustParse(t, exampleFile)
	c, err := m.PushAttribute("product", `"Gadget"`)
	if err != nil || len(c.CustomFields) != 1 || c.CustomFields[0].ID != 360001 || string(c.CustomFields[0].Value) != `"prod_gadget"` {
		t.Fatalf("custom field push %+v %v", c, err)
	}
	if c, _ = m.PushAttribute("product", NullJSON); string(c.CustomFields[0].Value) != "null" {
		t.Fatalf("clearing sends null: %s", c.CustomFields[0].Value)
	}
	if c, _ = m.PushAttribute("vip", "true"); !reflect.DeepEqual(c.AddTags, []string{"vip"}) || c.RemoveTags != nil {
		t.Fatalf("vip true: %+v", c)
	}
	if c, _ = m.PushAttribute("vip", "false"); !reflect.DeepEqual(c.RemoveTags, []string{"vip"}) {
		t.Fatalf("vip false: %+v", c)
	}
	if c, _ = m.PushAttribute("tier", `"silver"`); !reflect.DeepEqual(c.AddTags, []string{"tier_silver"}) ||
		!reflect.DeepEqual(c.RemoveTags, []string{"tier_gold"}) {
		t.Fatalf("tier silver: %+v", c)
	}
	if c, _ = m.PushAttribute("tier", NullJSON); c.AddTags != nil || len(c.RemoveTags) != 2 {
		t.Fatalf("tier null removes both: %+v", c)
	}
	if _, err = m.PushAttribute("tier", `"bronze"`); !errors.Is(err, ErrUnmapped) {
		t.Fatalf("a value without a tag: %v", err)
	}
	if _, err = m.PushAttribute("region", `"x"`); err == nil {
		t.Fatal("region is import-only")
	}
	if got := m.Pushed(); !reflect.DeepEqual(got, []Field{"attributes.product", "attributes.vip", "attributes.tier"}) {
		t.Fatalf("pushed fields %v", got)
	}
	if !m.PushOnly("tier") || m.PushOnly("product") {
		t.Fatal("PushOnly")
	}
}

func TestMergesCarryAttributes(t *testing.T) {
	base := CaseValues{Attributes: map[string]string{"product": `"Widget"`}}
	current := CaseValues{Attributes: map[string]string{"product": `"Widget"`, "note": `"kept"`}}
	next := CaseValues{Attributes: map[string]string{"product": `"Gadget"`}}
	merged, changed := MergeImport(current, &base, next, Remote)
	if !reflect.DeepEqual(changed, []Field{"attributes.product"}) || merged.Attributes["product"] != `"Gadget"` ||
		merged.Attributes["note"] != `"kept"` || current.Attributes["product"] != `"Widget"` {
		t.Fatalf("import merge: %v %v (current %v)", changed, merged.Attributes, current.Attributes)
	}
	// Two-way: a local edit Zendesk did not touch is kept; both changed is a conflict decided by the priority.
	local := CaseValues{Attributes: map[string]string{"product": `"Local"`}}
	_, changed, conflicts := MergeTwoWay(local, &base, base, Remote)
	if len(changed) != 0 || len(conflicts) != 0 {
		t.Fatalf("local edit kept: %v %v", changed, conflicts)
	}
	merged, _, conflicts = MergeTwoWay(local, &base, next, Local)
	if len(conflicts) != 1 || conflicts[0].Field != "attributes.product" || merged.Attributes["product"] != `"Local"` {
		t.Fatalf("conflict: %v %v", conflicts, merged.Attributes)
	}
	// PlanPush sends a locally changed attribute.
	plan := PlanPush([]Field{"attributes.product"}, map[Field]bool{"attributes.product": true}, base, local, base, Remote)
	if !reflect.DeepEqual(plan.Sends, []Field{"attributes.product"}) {
		t.Fatalf("plan %+v", plan)
	}
	if FieldValue("attributes.missing", base) != NullJSON {
		t.Fatal("a missing attribute reads as null")
	}
}

func TestRemapConsidersOnlyFieldsWhoseDerivationMoved(t *testing.T) {
	base := CaseValues{Subject: "s", Status: CaseStatusOpen, StatusOK: true}
	// The CRM edited the subject; the new mapping moves the status and adds an attribute.
	current := CaseValues{Subject: "local", Status: CaseStatusOpen, StatusOK: true}
	next := CaseValues{Subject: "s", Status: CaseStatusInProgress, StatusOK: true,
		Attributes: map[string]string{"product": `"Widget"`, "region": NullJSON}}
	merged, changed := Remap(current, &base, next, Remote)
	if !reflect.DeepEqual(changed, []Field{FieldStatus, "attributes.product"}) {
		t.Fatalf("changed %v: the subject's derivation did not move, a null attribute equals a missing one", changed)
	}
	if merged.Subject != "local" || merged.Status != CaseStatusInProgress || merged.Attributes["product"] != `"Widget"` {
		t.Fatalf("merged %+v", merged)
	}
	// Local priority keeps a local edit of a field the mapping moved.
	current.Status = CaseStatusResolved
	merged, changed = Remap(current, &base, next, Local)
	if merged.Status != CaseStatusResolved || slices.Contains(changed, FieldStatus) {
		t.Fatalf("local edit under local priority: %+v %v", merged, changed)
	}
	// Remapping again with the new base changes nothing.
	if _, changed = Remap(merged, &next, next, Remote); len(changed) != 0 {
		t.Fatalf("second remap changed %v", changed)
	}
}
