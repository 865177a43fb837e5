package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The mapping file is YAML, read as a node tree (not decoded into structs) so that every error can name the line
// it is about. Its format is documented in the README ("Custom fields and tags").

// FileError is one problem of a mapping file, at a line (and column) of it.
type FileError struct {
	Line, Column int
	Msg          string
}

func (e FileError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// FileErrors are every problem found in a mapping file, in file order.
type FileErrors []FileError

func (es FileErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// attributeName is what an attribute may be called: a lower-case identifier (also a JSON key and part of a
// Field's name, "attributes.<name>").
var attributeName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ParseFile reads a mapping file. An empty file (or one holding only comments) is the empty mapping. Every
// problem is reported, each naming its line; the result is nil with errors.
func ParseFile(src []byte) (*Mapping, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		// yaml.v3's syntax errors name their line already ("yaml: line 3: ...").
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	m := &Mapping{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return m, nil
	}
	p := &fileParser{}
	p.top(doc.Content[0], m)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return m, nil
}

type fileParser struct{ errs FileErrors }

func (p *fileParser) fail(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, FileError{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// entries returns the key/value pairs of a mapping node, reporting unknown and repeated keys.
func (p *fileParser) entries(n *yaml.Node, what string, known ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s must be a mapping (key: value lines), not %s", what, kindName(n))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case known != nil && !slices.Contains(known, k.Value):
			p.fail(k, "unknown key %q in %s (expected one of: %s)", k.Value, what, strings.Join(known, ", "))
		case out[k.Value] != nil:
			p.fail(k, "%s: %q is given twice", what, k.Value)
		default:
			out[k.Value] = v
		}
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "empty"
}

func (p *fileParser) top(n *yaml.Node, m *Mapping) {
	e := p.entries(n, "the mapping file", "custom_fields", "tags", "status", "priority")
	attrs := map[string]int{} // attribute → line it was first mapped on
	if v := e["custom_fields"]; v != nil {
		p.each(v, "custom_fields", func(item *yaml.Node) {
			if f, ok := p.customField(item, attrs, m.CustomFields); ok {
				m.CustomFields = append(m.CustomFields, f)
			}
		})
	}
	if v := e["tags"]; v != nil {
		p.each(v, "tags", func(item *yaml.Node) {
			if t, ok := p.tag(item, attrs); ok {
				m.Tags = append(m.Tags, t)
			}
		})
	}
	if v := e["status"]; v != nil {
		m.Status = p.overrides(v, "status", TicketStatuses, CaseStatuses)
	}
	if v := e["priority"]; v != nil {
		m.Priority = p.overrides(v, "priority", TicketPriorities, CasePriorities)
	}
}

func (p *fileParser) each(n *yaml.Node, what string, fn func(*yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "%s must be a list (lines starting with \"- \"), not %s", what, kindName(n))
		return
	}
	for _, item := range n.Content {
		fn(item)
	}
}

func (p *fileParser) customField(n *yaml.Node, attrs map[string]int, seen []FieldMapping) (FieldMapping, bool) {
	before := len(p.errs)
	e := p.entries(n, "a custom field", "id", "attribute", "direction", "values")
	if e == nil {
		return FieldMapping{}, false
	}
	f := FieldMapping{Direction: DirImport}
	if v := p.required(n, e, "id", "a custom field"); v != nil {
		id, err := strconv.ParseInt(v.Value, 10, 64)
		switch {
		case v.Kind != yaml.ScalarNode || err != nil || id <= 0:
			p.fail(v, "id must be a Zendesk custom field id (a positive whole number), not %s", kindName(v))
		case slices.ContainsFunc(seen, func(s FieldMapping) bool { return s.ID == id }):
			p.fail(v, "custom field %d is mapped twice", id)
		default:
			f.ID = id
		}
	}
	f.Attribute = p.attribute(n, e, attrs)
	f.Direction = p.direction(e)
	if v := e["values"]; v != nil {
		f.Values = p.values(v, "values", f.Direction.Pushes(), nil)
	}
	return f, len(p.errs) == before
}

func (p *fileParser) tag(n *yaml.Node, attrs map[string]int) (TagMapping, bool) {
	before := len(p.errs)
	e := p.entries(n, "a tag mapping", "tag", "attribute", "direction", "values")
	if e == nil {
		return TagMapping{}, false
	}
	t := TagMapping{Attribute: p.attribute(n, e, attrs), Direction: p.direction(e)}
	tagOK := func(v *yaml.Node, s string) bool {
		if s == "" || s != strings.ToLower(s) || strings.ContainsAny(s, " \t\n,") {
			p.fail(v, "tag %q is not a Zendesk tag (tags are lower case, without spaces or commas)", s)
			return false
		}
		return true
	}
	switch tv, vv := e["tag"], e["values"]; {
	case tv != nil && vv != nil:
		p.fail(n, "a tag mapping has either tag (a true/false attribute) or values (a choice among tags), not both")
	case tv != nil:
		if tv.Kind != yaml.ScalarNode {
			p.fail(tv, "tag must be one tag, not %s", kindName(tv))
		} else if tagOK(tv, tv.Value) {
			t.Tag = tv.Value
		}
	case vv != nil:
		t.Values = p.values(vv, "values", t.Direction.Pushes(), tagOK)
		if len(t.Values) == 0 && vv.Kind == yaml.MappingNode {
			p.fail(vv, "values lists no tag")
		}
	default:
		p.fail(n, "a tag mapping needs tag (a true/false attribute) or values (tag: attribute value lines)")
	}
	return t, len(p.errs) == before
}

func (p *fileParser) required(n *yaml.Node, e map[string]*yaml.Node, key, what string) *yaml.Node {
	v := e[key]
	if v == nil {
		p.fail(n, "%s needs %s", what, key)
	}
	return v
}

func (p *fileParser) attribute(n *yaml.Node, e map[string]*yaml.Node, attrs map[string]int) string {
	v := p.required(n, e, "attribute", "a mapping entry")
	switch {
	case v == nil:
		return ""
	case v.Kind != yaml.ScalarNode || !attributeName.MatchString(v.Value):
		p.fail(v, "attribute must be a lower-case name (letters, digits, _; starting with a letter), not %s", kindName(v))
		return ""
	case attrs[v.Value] != 0:
		p.fail(v, "attribute %q is already mapped on line %d", v.Value, attrs[v.Value])
		return ""
	}
	attrs[v.Value] = v.Line
	return v.Value
}

func (p *fileParser) direction(e map[string]*yaml.Node) Direction {
	v := e["direction"]
	if v == nil {
		return DirImport
	}
	d := Direction(v.Value)
	if v.Kind != yaml.ScalarNode || (d != DirImport && d != DirPush && d != DirBoth) {
		p.fail(v, "direction must be import, push or both, not %s", kindName(v))
		return DirImport
	}
	return d
}

// values reads a value map (Zendesk value: attribute value). For a pushed attribute two Zendesk values may not
// share an attribute value: the push could not tell which to send.
func (p *fileParser) values(n *yaml.Node, what string, pushed bool, keyOK func(*yaml.Node, string) bool) []ValuePair {
	var out []ValuePair
	for _, ve := range p.valueEntries(n, what, pushed, keyOK) {
		out = append(out, ve.pair)
	}
	return out
}

// valueEntry is one line of a value map with its nodes, for errors found later.
type valueEntry struct {
	pair     ValuePair
	key, val *yaml.Node
}

func (p *fileParser) valueEntries(n *yaml.Node, what string, pushed bool, keyOK func(*yaml.Node, string) bool) []valueEntry {
	e := p.entries(n, what)
	if e == nil {
		return nil
	}
	var out []valueEntry
	back := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if e[k.Value] != v {
			continue // a repeated key, reported
		}
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			p.fail(k, "%s: %q must map one value to one value", what, k.Value)
			continue
		}
		if keyOK != nil && !keyOK(k, k.Value) {
			continue
		}
		if line, dup := back[v.Value]; dup && pushed {
			p.fail(v, "%s: %q is also the value of line %d; a pushed attribute needs one Zendesk value per value",
				what, v.Value, line)
			continue
		}
		back[v.Value] = v.Line
		out = append(out, valueEntry{ValuePair{Zendesk: k.Value, Attribute: v.Value}, k, v})
	}
	return out
}

// overrides reads status: or priority: (import: and push: maps), checking each value against both dictionaries.
func (p *fileParser) overrides(n *yaml.Node, what string, zendesk, crm []string) *Overrides {
	e := p.entries(n, what, "import", "push")
	if e == nil {
		return nil
	}
	o := &Overrides{}
	if v := e["import"]; v != nil {
		o.Import = p.pairs(v, what+".import", "Zendesk "+what, zendesk, "case "+what, crm)
	}
	if v := e["push"]; v != nil {
		o.Push = p.pairs(v, what+".push", "case "+what, crm, "Zendesk "+what, zendesk)
	}
	return o
}

func (p *fileParser) pairs(n *yaml.Node, what, fromName string, from []string, toName string, to []string) []Pair {
	var out []Pair
	for _, ve := range p.valueEntries(n, what, false, nil) {
		v := ve.pair
		switch {
		case !Known(from, v.Zendesk):
			p.fail(ve.key, "%s: %q is not a %s (one of: %s)", what, v.Zendesk, fromName, strings.Join(from, ", "))
		case !Known(to, v.Attribute):
			p.fail(ve.val, "%s: %q is not a %s (one of: %s)", what, v.Attribute, toName, strings.Join(to, ", "))
		case v.Attribute == TicketStatusNew && strings.HasSuffix(what, ".push"):
			// Zendesk refuses "new" on an existing ticket (spec §5.7).
			p.fail(ve.val, "%s: %s cannot map to new: Zendesk refuses new on an existing ticket", what, v.Zendesk)
		default:
			out = append(out, Pair{From: v.Zendesk, To: v.Attribute})
		}
	}
	return out
}
