package mapping

import (
	"encoding/json"
	"maps"
	"sort"
	"strings"
)

// AttributePrefix starts the Field name of a case attribute ("attributes.product"), in merges, outbox rows and
// conflict records alike. Attribute names are lower-case identifiers (see the mapping file's validation), so they
// never collide with a case field's name.
const AttributePrefix = "attributes."

// AttributeField is the Field that stands for the case attribute name.
func AttributeField(name string) Field { return Field(AttributePrefix + name) }

// AttributeName is the attribute f stands for, if it stands for one.
func AttributeName(f Field) (string, bool) {
	return strings.CutPrefix(string(f), AttributePrefix)
}

// NullJSON is the text of an attribute without a value.
const NullJSON = "null"

// CanonicalJSON renders a JSON value in one canonical text (object keys sorted, no insignificant space), so the
// same value read from Zendesk, from PostgreSQL's jsonb or from a mapping compares equal as text. Empty or invalid
// input is null.
func CanonicalJSON(raw []byte) string {
	if len(raw) == 0 {
		return NullJSON
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return NullJSON
	}
	return canonicalOf(v)
}

func canonicalOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return NullJSON
	}
	return string(b)
}

// AttributesOf turns a case's attributes column (a JSON object) into CaseValues.Attributes. Nulls are dropped: a
// missing attribute and a null one are the same.
func AttributesOf(raw []byte) map[string]string {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if c := CanonicalJSON(v); c != NullJSON {
			out[k] = c
		}
	}
	return out
}

// AttributesJSON is the attributes column for a set of attributes: a JSON object without the null ones.
func AttributesJSON(attrs map[string]string) []byte {
	m := make(map[string]json.RawMessage, len(attrs))
	for k, v := range attrs {
		if v != NullJSON && v != "" {
			m[k] = json.RawMessage(v)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return []byte("{}") // values are canonical JSON already; kept total for callers all the same
	}
	return b
}

// attributeValue is an attribute's value in v, null when v has none.
func attributeValue(v CaseValues, name string) string {
	if s, ok := v.Attributes[name]; ok && s != "" {
		return s
	}
	return NullJSON
}

// attributeRule is the merge rule of one attribute: defined where the derived value names it, equal as canonical
// text (missing = null). take copies the map first: CaseValues are passed by value and must not share it.
func attributeRule(name string) fieldRule {
	return fieldRule{AttributeField(name),
		func(v CaseValues) bool { _, ok := v.Attributes[name]; return ok },
		func(a, b CaseValues) bool { return attributeValue(a, name) == attributeValue(b, name) },
		func(d *CaseValues, s CaseValues) {
			d.Attributes = maps.Clone(d.Attributes)
			if d.Attributes == nil {
				d.Attributes = map[string]string{}
			}
			d.Attributes[name] = attributeValue(s, name)
		}}
}

// rulesFor are the fixed fields' rules followed by one rule per attribute v names, in name order.
func rulesFor(v CaseValues) []fieldRule {
	if len(v.Attributes) == 0 {
		return fieldRules
	}
	names := make([]string, 0, len(v.Attributes))
	for n := range v.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	out := append(make([]fieldRule, 0, len(fieldRules)+len(names)), fieldRules...)
	for _, n := range names {
		out = append(out, attributeRule(n))
	}
	return out
}

// ruleFor is the rule of one field, a fixed one or an attribute.
func ruleFor(f Field) (fieldRule, bool) {
	for _, r := range fieldRules {
		if r.field == f {
			return r, true
		}
	}
	if name, ok := AttributeName(f); ok {
		return attributeRule(name), true
	}
	return fieldRule{}, false
}

// Remap re-applies a ticket's derived values to its case after the integration's mapping changed (`integration
// remap`): next is derived under the new mapping, base under the old one. Only fields whose derived value moved
// are considered (a field the new mapping derives as before keeps any local edit, as an import of an unchanged
// ticket would); of those, a field the CRM changed since the last sync keeps its local value under local priority
// and takes the new value under remote priority. A nil base takes every differing field, as MergeImport does.
func Remap(current CaseValues, base *CaseValues, next CaseValues, p Priority) (CaseValues, []Field) {
	merged := current
	var changed []Field
	for _, r := range rulesFor(next) {
		if !r.defined(next) || r.equal(current, next) {
			continue
		}
		if base != nil && r.defined(*base) && r.equal(next, *base) {
			continue // derived as before: not the mapping's change
		}
		if p == Local && base != nil && r.defined(*base) && !r.equal(current, *base) {
			continue // a local edit, and local wins
		}
		r.take(&merged, next)
		changed = append(changed, r.field)
	}
	return merged, changed
}
