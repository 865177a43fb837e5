package mapping

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Direction says which way a mapped attribute syncs.
type Direction string

const (
	DirImport Direction = "import" // Zendesk → case only
	DirPush   Direction = "push"   // case → Zendesk only (two-way integrations)
	DirBoth   Direction = "both"
)

// Imports says the attribute takes Zendesk's value.
func (d Direction) Imports() bool { return d == DirImport || d == DirBoth }

// Pushes says a CRM edit of the attribute goes to Zendesk.
func (d Direction) Pushes() bool { return d == DirPush || d == DirBoth }

// ValuePair maps one Zendesk value (a custom field's value, or a tag) to one attribute value and back.
type ValuePair struct {
	Zendesk   string `json:"zendesk"`
	Attribute string `json:"attribute"`
}

// FieldMapping maps a Zendesk ticket custom field to a case attribute. Values, when given, translate values both
// ways (for a multi-select field, element by element); a value not listed passes through as it is.
type FieldMapping struct {
	ID        int64       `json:"id"`
	Attribute string      `json:"attribute"`
	Direction Direction   `json:"direction"`
	Values    []ValuePair `json:"values,omitempty"`
}

// TagMapping maps ticket tags to a case attribute, in one of two forms. With Tag, the attribute is a boolean:
// true when the ticket has the tag. With Values, the tags listed form one choice: the attribute is the value of
// the first listed tag the ticket has (null with none), and pushing a value sets its tag and removes the others.
type TagMapping struct {
	Attribute string      `json:"attribute"`
	Direction Direction   `json:"direction"`
	Tag       string      `json:"tag,omitempty"`
	Values    []ValuePair `json:"values,omitempty"`
}

// Overrides replace entries of one of OroCRM's maps: each pair replaces the default for its From, the others stay.
type Overrides struct {
	Import []Pair `json:"import,omitempty"` // Zendesk value → case value
	Push   []Pair `json:"push,omitempty"`   // case value → Zendesk value
}

// Mapping is an integration's custom fields, tags and map overrides (the mapping file, parsed). The zero value and
// nil map nothing and keep OroCRM's maps.
type Mapping struct {
	CustomFields []FieldMapping `json:"custom_fields,omitempty"`
	Tags         []TagMapping   `json:"tags,omitempty"`
	Status       *Overrides     `json:"status,omitempty"`
	Priority     *Overrides     `json:"priority,omitempty"`
}

// CustomFieldValue is one entry of a ticket's custom_fields.
type CustomFieldValue struct {
	ID    int64           `json:"id"`
	Value json.RawMessage `json:"value"`
}

// TicketExtras are the ticket values a mapping reads besides TicketFacts.
type TicketExtras struct {
	CustomFields []CustomFieldValue
	Tags         []string
}

// Empty says the mapping maps nothing and overrides nothing.
func (m *Mapping) Empty() bool {
	return m == nil || (len(m.CustomFields) == 0 && len(m.Tags) == 0 && m.Status == nil && m.Priority == nil)
}

// Apply completes a ticket's derived case values (DeriveCase's) with the mapping: the status and priority by the
// overridden maps, and the attributes whose direction passes want (Direction.Imports for an import; every
// attribute for the push's view of a ticket). A nil mapping returns v as it is.
func (m *Mapping) Apply(v CaseValues, t TicketFacts, x TicketExtras, want func(Direction) bool) CaseValues {
	if m.Empty() {
		return v
	}
	if m.Status != nil && len(m.Status.Import) > 0 {
		if s, ok := Lookup(m.TicketToCaseStatus(), t.Status); ok {
			v.Status, v.StatusOK = s, true
		}
	}
	if m.Priority != nil && len(m.Priority.Import) > 0 && t.Priority != nil && *t.Priority != "" {
		if p, ok := Lookup(m.TicketToCasePriority(), *t.Priority); ok {
			v.Priority, v.PriorityOK = p, true
		}
	}
	attrs := m.attributes(x, want)
	if len(attrs) == 0 {
		return v
	}
	merged := make(map[string]string, len(v.Attributes)+len(attrs))
	for k, s := range v.Attributes {
		merged[k] = s
	}
	for k, s := range attrs {
		merged[k] = s
	}
	v.Attributes = merged
	return v
}

// attributes derives the attributes of a ticket's custom fields and tags.
func (m *Mapping) attributes(x TicketExtras, want func(Direction) bool) map[string]string {
	out := map[string]string{}
	for _, f := range m.CustomFields {
		if !want(f.Direction) {
			continue
		}
		out[f.Attribute] = NullJSON
		for _, cf := range x.CustomFields {
			if cf.ID == f.ID {
				out[f.Attribute] = translateValue(cf.Value, f.Values, false)
				break
			}
		}
	}
	for _, tm := range m.Tags {
		if !want(tm.Direction) {
			continue
		}
		if tm.Tag != "" {
			out[tm.Attribute] = strconv.FormatBool(slices.Contains(x.Tags, tm.Tag))
			continue
		}
		out[tm.Attribute] = NullJSON
		for _, p := range tm.Values {
			if slices.Contains(x.Tags, p.Zendesk) {
				out[tm.Attribute] = canonicalOf(p.Attribute)
				break
			}
		}
	}
	return out
}

// translateValue maps a JSON value through pairs (toZendesk: attribute → Zendesk), element by element for an
// array, and returns it as canonical text. Strings are matched as they are, other scalars by their JSON text, so
// `true` can be mapped too; a mapped value is a string.
func translateValue(raw json.RawMessage, pairs []ValuePair, toZendesk bool) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return NullJSON
	}
	one := func(e any) any {
		key, ok := e.(string)
		if !ok {
			if e == nil {
				return nil
			}
			key = canonicalOf(e)
		}
		for _, p := range pairs {
			from, to := p.Zendesk, p.Attribute
			if toZendesk {
				from, to = to, from
			}
			if from == key {
				return to
			}
		}
		return e
	}
	if arr, ok := v.([]any); ok {
		for i := range arr {
			arr[i] = one(arr[i])
		}
		return canonicalOf(arr)
	}
	return canonicalOf(one(v))
}

// TicketChange is what a ticket update must carry for some attributes: custom field values and tags to add or
// remove (Zendesk's additional_tags and remove_tags, so two changes never overwrite each other's tags).
type TicketChange struct {
	CustomFields []CustomFieldValue
	AddTags      []string
	RemoveTags   []string
}

// Empty says there is nothing to send.
func (c TicketChange) Empty() bool {
	return len(c.CustomFields) == 0 && len(c.AddTags) == 0 && len(c.RemoveTags) == 0
}

// PushAttribute is the ticket change that gives a ticket the attribute's value (canonical JSON text). It is an
// error for an attribute the mapping does not push, or for a value a tag choice has no tag for.
func (m *Mapping) PushAttribute(name, value string) (TicketChange, error) {
	var c TicketChange
	if m == nil {
		return c, fmt.Errorf("attribute %q is not mapped", name)
	}
	for _, f := range m.CustomFields {
		if f.Attribute == name && f.Direction.Pushes() {
			v := translateValue(json.RawMessage(value), f.Values, true)
			c.CustomFields = append(c.CustomFields, CustomFieldValue{ID: f.ID, Value: json.RawMessage(v)})
			return c, nil
		}
	}
	for _, tm := range m.Tags {
		if tm.Attribute != name || !tm.Direction.Pushes() {
			continue
		}
		if tm.Tag != "" {
			if truthy(value) {
				c.AddTags = []string{tm.Tag}
			} else {
				c.RemoveTags = []string{tm.Tag}
			}
			return c, nil
		}
		var want string
		if value != NullJSON {
			if err := json.Unmarshal([]byte(value), &want); err != nil {
				return c, &UnmappedError{What: "attribute " + name, Name: value}
			}
		}
		found := want == ""
		for _, p := range tm.Values {
			if p.Attribute == want && !found {
				c.AddTags, found = []string{p.Zendesk}, true
				continue
			}
			c.RemoveTags = append(c.RemoveTags, p.Zendesk)
		}
		if !found {
			return TicketChange{}, &UnmappedError{What: "attribute " + name, Name: want}
		}
		return c, nil
	}
	return c, fmt.Errorf("attribute %q is not pushed by the mapping", name)
}

func truthy(value string) bool {
	switch value {
	case "true", `"true"`, `"yes"`, "1", `"1"`:
		return true
	}
	return false
}

// Pushed are the fields of the attributes a push sends (direction push or both), in mapping order.
func (m *Mapping) Pushed() []Field {
	if m == nil {
		return nil
	}
	var out []Field
	for _, f := range m.CustomFields {
		if f.Direction.Pushes() {
			out = append(out, AttributeField(f.Attribute))
		}
	}
	for _, t := range m.Tags {
		if t.Direction.Pushes() {
			out = append(out, AttributeField(t.Attribute))
		}
	}
	return out
}

// PushOnly says the attribute is pushed but never imported: Zendesk's value never wins it, so the push compares
// the CRM's value with Zendesk's alone (no merge base).
func (m *Mapping) PushOnly(name string) bool {
	if m == nil {
		return false
	}
	for _, f := range m.CustomFields {
		if f.Attribute == name {
			return f.Direction == DirPush
		}
	}
	for _, t := range m.Tags {
		if t.Attribute == name {
			return t.Direction == DirPush
		}
	}
	return false
}

// The maps in force: the overrides first, so Lookup's first match takes them, then OroCRM's defaults.
func (m *Mapping) TicketToCaseStatus() []Pair {
	return withOverrides(m, func(m *Mapping) *Overrides { return m.Status }, true, TicketToCaseStatus)
}

func (m *Mapping) CaseToTicketStatus() []Pair {
	return withOverrides(m, func(m *Mapping) *Overrides { return m.Status }, false, CaseToTicketStatus)
}

func (m *Mapping) TicketToCasePriority() []Pair {
	return withOverrides(m, func(m *Mapping) *Overrides { return m.Priority }, true, TicketToCasePriority)
}

func (m *Mapping) CaseToTicketPriority() []Pair {
	return withOverrides(m, func(m *Mapping) *Overrides { return m.Priority }, false, CaseToTicketPriority)
}

func withOverrides(m *Mapping, which func(*Mapping) *Overrides, imp bool, defaults []Pair) []Pair {
	if m == nil || which(m) == nil {
		return defaults
	}
	o := which(m).Push
	if imp {
		o = which(m).Import
	}
	if len(o) == 0 {
		return defaults
	}
	return append(slices.Clone(o), defaults...)
}

// TicketStatusFor is the package's TicketStatusFor under the mapping's status maps.
func (m *Mapping) TicketStatusFor(caseStatus, currentTicketStatus string) (string, bool, error) {
	return ticketStatusFor(m.CaseToTicketStatus(), m.TicketToCaseStatus(), caseStatus, currentTicketStatus)
}

// TicketPriorityFor is the package's TicketPriorityFor under the mapping's priority maps.
func (m *Mapping) TicketPriorityFor(casePriority string, currentTicketPriority *string) (string, bool, error) {
	return ticketPriorityFor(m.CaseToTicketPriority(), m.TicketToCasePriority(), casePriority, currentTicketPriority)
}
