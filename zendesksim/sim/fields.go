package sim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Tags and custom fields. Generated tickets have none; writes (the API, the control API) give them, as in a real
// account: tags are split at white space and kept once each, in the order given; additional_tags and remove_tags
// change the set without replacing it; custom_fields sets only the fields it lists (a null value clears one), and
// the ticket then lists every field it was ever given, null when cleared, as Zendesk lists its form's fields.

// parseTagsAndFields reads tags, additional_tags, remove_tags and custom_fields of a create or update body.
func parseTagsAndFields(m map[string]json.RawMessage, u *ticketUpdate) error {
	list := func(key string) ([]string, bool, error) {
		raw, ok := m[key]
		if !ok {
			return nil, false, nil
		}
		var items []string
		var one string
		switch {
		case string(raw) == "null":
		case json.Unmarshal(raw, &items) == nil:
		case json.Unmarshal(raw, &one) == nil:
			items = []string{one}
		default:
			return nil, false, &ValidationError{key, strings.ToUpper(key[:1]) + key[1:] + " is invalid", "InvalidValue"}
		}
		return normaliseTags(items), true, nil
	}
	tags, ok, err := list("tags")
	if err != nil {
		return err
	}
	if ok {
		u.tags = &tags
	}
	if u.addTags, _, err = list("additional_tags"); err != nil {
		return err
	}
	if u.removeTags, _, err = list("remove_tags"); err != nil {
		return err
	}
	raw, ok := m["custom_fields"]
	if !ok || string(raw) == "null" {
		return nil
	}
	var cfs []struct {
		ID    json.RawMessage `json:"id"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &cfs); err != nil {
		return &ValidationError{"custom_fields", "Custom fields is invalid", "InvalidValue"}
	}
	for _, cf := range cfs {
		id, null, err := rawID(cf.ID)
		if err != nil || null || id <= 0 {
			return &ValidationError{"custom_fields", "Custom fields: id is invalid", "InvalidValue"}
		}
		v := compactJSON(cf.Value)
		if v == "" {
			return &ValidationError{"custom_fields", "Custom fields: value is invalid", "InvalidValue"}
		}
		u.fields = append(u.fields, customField{id: id, value: v})
	}
	return nil
}

func normaliseTags(items []string) []string {
	out := []string{}
	for _, it := range items {
		for _, t := range strings.Fields(it) {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// compactJSON is raw without insignificant space; null for nothing; "" when raw is not JSON.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return ""
	}
	return b.String()
}

// applyTagsAndFields changes ticket i's tags and custom fields as u says and returns the audit's changes (a
// custom field's change is named by its id, as Zendesk's audits do). mu must be held.
func (s *Server) applyTagsAndFields(i int32, u ticketUpdate) []change {
	t := &s.tickets[i]
	if u.tags == nil && u.addTags == nil && u.removeTags == nil && u.fields == nil {
		return nil
	}
	if t.ext == nil {
		t.ext = &ticketExt{}
	}
	var ch []change
	old := t.ext.tags
	tags := slices.Clone(old)
	if u.tags != nil {
		tags = slices.Clone(*u.tags)
	}
	for _, a := range u.addTags {
		if !slices.Contains(tags, a) {
			tags = append(tags, a)
		}
	}
	tags = slices.DeleteFunc(tags, func(x string) bool { return slices.Contains(u.removeTags, x) })
	if !slices.Equal(old, tags) {
		ch = append(ch, change{"tags", tagsJSON(old), tagsJSON(tags)})
		t.ext.tags = tags
	}
	for _, f := range u.fields {
		k := slices.IndexFunc(t.ext.fields, func(c customField) bool { return c.id == f.id })
		prev := "null"
		if k >= 0 {
			prev = t.ext.fields[k].value
		}
		if prev == f.value {
			continue
		}
		ch = append(ch, change{strconv.FormatInt(f.id, 10), prev, f.value})
		if k >= 0 {
			t.ext.fields[k].value = f.value
		} else {
			t.ext.fields = append(t.ext.fields, f)
		}
	}
	return ch
}

func tagsJSON(tags []string) string {
	b := []byte{'['}
	for j, t := range tags {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
	}
	return string(append(b, ']'))
}

// appendTagsAndFields renders a ticket's tags, custom_fields and their duplicate fields, keys included.
func appendTagsAndFields(b []byte, t *ticket) []byte {
	var tags []string
	var fields []customField
	if t.ext != nil {
		tags, fields = t.ext.tags, t.ext.fields
	}
	b = append(b, `,"tags":`...)
	b = append(b, tagsJSON(tags)...)
	cf := []byte{'['}
	for j, f := range fields {
		if j > 0 {
			cf = append(cf, ',')
		}
		cf = append(cf, `{"id":`...)
		cf = appendInt(cf, f.id)
		cf = append(cf, `,"value":`...)
		cf = append(cf, f.value...)
		cf = append(cf, '}')
	}
	cf = append(cf, ']')
	b = append(b, `,"custom_fields":`...)
	b = append(b, cf...)
	b = append(b, `,"fields":`...)
	return append(b, cf...)
}
