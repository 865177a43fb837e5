package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// caseView is the case JSON (rendered by the store, DESIGN.md's shape) as the text form of `case show` reads it:
// the row of `case list` and the rest.
type caseView struct {
	caseRow
	Description string    `json:"description"`
	AssignedTo  *string   `json:"assigned_to"`
	Owner       *string   `json:"owner"`
	Contact     *contact  `json:"contact"`
	Comments    []comment `json:"comments"`
	SyncNote    *string   `json:"sync_note"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Attributes are the case attributes (custom fields and tags by the integration's mapping, or the CRM's own).
	Attributes map[string]json.RawMessage `json:"attributes"`
}

// contact is a case's contact; every part of the name may be missing.
type contact struct {
	Email                                                   *string
	NamePrefix, FirstName, MiddleName, LastName, NameSuffix *string
}

// UnmarshalJSON reads the contact's snake_case fields.
func (c *contact) UnmarshalJSON(b []byte) error {
	var m map[string]*string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	c.Email, c.NamePrefix, c.FirstName = m["email"], m["name_prefix"], m["first_name"]
	c.MiddleName, c.LastName, c.NameSuffix = m["middle_name"], m["last_name"], m["name_suffix"]
	return nil
}

type comment struct {
	Body        string    `json:"body"`
	Public      bool      `json:"public"`
	AuthorEmail *string   `json:"author_email"`
	CreatedAt   time.Time `json:"created_at"`
}

// printCase prints one case: the store's JSON with -o json, else its fields as text, comments oldest first.
func (a *app) printCase(raw json.RawMessage) error {
	if a.json() {
		return a.printRaw(raw)
	}
	var c caseView
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("decode case: %w", err)
	}
	kv := []string{"id", fmt.Sprint(c.ID), "integration", deref(c.Integration, "-"), "subject", oneLine(c.Subject),
		"status", c.Status, "priority", c.Priority, "assigned to", deref(c.AssignedTo, "-"), "owner", deref(c.Owner, "-"),
		"contact", c.contact(), "zendesk ticket", c.ticket(), "updated at", c.UpdatedAt.Local().Format(time.RFC3339)}
	if c.SyncNote != nil && *c.SyncNote != "" {
		kv = append(kv, "sync note", oneLine(*c.SyncNote))
	}
	names := make([]string, 0, len(c.Attributes))
	for n := range c.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		kv = append(kv, "attribute "+n, string(c.Attributes[n]))
	}
	if err := a.fields(kv...); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\ndescription:\n%s\n", indent(c.Description))
	fmt.Fprintf(&b, "\ncomments (%d):\n", len(c.Comments))
	for _, cm := range c.Comments {
		kind := "public"
		if !cm.Public {
			kind = "private"
		}
		fmt.Fprintf(&b, "  %s  %s  (%s)\n%s\n", cm.CreatedAt.Local().Format("2006-01-02 15:04"),
			deref(cm.AuthorEmail, "unknown author"), kind, indent(indent(cm.Body)))
	}
	_, err := fmt.Fprint(a.out, b.String())
	return err
}

func (c *caseView) contact() string {
	if c.Contact == nil {
		return "-"
	}
	var parts []string
	for _, p := range []*string{c.Contact.NamePrefix, c.Contact.FirstName, c.Contact.MiddleName, c.Contact.LastName,
		c.Contact.NameSuffix} {
		if p != nil && *p != "" {
			parts = append(parts, *p)
		}
	}
	email := deref(c.Contact.Email, "")
	if len(parts) == 0 {
		return deref(c.Contact.Email, "-")
	}
	if email == "" {
		return strings.Join(parts, " ")
	}
	return fmt.Sprintf("%s <%s>", strings.Join(parts, " "), email)
}

func (c *caseView) ticket() string {
	if c.Ticket == nil {
		return "- (not in Zendesk)"
	}
	s := fmt.Sprintf("#%d (%s, %s)", c.Ticket.ID, deref(c.Ticket.Status, "-"), deref(c.Ticket.Priority, "no priority"))
	if c.Ticket.URL != nil {
		s += " " + *c.Ticket.URL
	}
	return s
}

// indent shifts every line of a text two spaces right; an empty text shows as "(empty)".
func indent(s string) string {
	if strings.TrimSpace(s) == "" {
		return "  (empty)"
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
