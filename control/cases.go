package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// Cases lists cases as JSON, of one integration when name is not empty.
func (c *Control) Cases(ctx context.Context, integration string) (json.RawMessage, error) {
	var id int64
	if integration != "" {
		in, err := c.Store.IntegrationByName(ctx, integration)
		if err != nil {
			return nil, err
		}
		id = in.ID
	}
	return c.Store.CasesJSON(ctx, id)
}

// Case shows one case as JSON.
func (c *Control) Case(ctx context.Context, id int64) (json.RawMessage, error) {
	return c.Store.CaseJSON(ctx, id)
}

// CaseSpec is what `case create` takes.
type CaseSpec struct {
	Integration, Subject, Description, Status, Priority, AssignedTo, Owner, ContactEmail, ContactName string
}

// CreateCase creates a CRM case; every email must name an existing CRM user.
func (c *Control) CreateCase(ctx context.Context, s CaseSpec) (json.RawMessage, error) {
	in, err := c.Store.IntegrationByName(ctx, s.Integration)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.Subject) == "" {
		return nil, errors.New("--subject is required")
	}
	lc := store.LocalCase{IntegrationID: in.ID, Subject: s.Subject, Description: s.Description, Status: mapping.DefaultCaseStatus,
		Priority: mapping.DefaultCasePriority}
	if s.Status != "" {
		if err := oneOf("--status", s.Status, mapping.CaseStatuses); err != nil {
			return nil, err
		}
		lc.Status = s.Status
	}
	if s.Priority != "" {
		if err := oneOf("--priority", s.Priority, mapping.CasePriorities); err != nil {
			return nil, err
		}
		lc.Priority = s.Priority
	}
	owner := in.OwnerUserID
	if s.Owner != "" {
		u, err := c.crmUser(ctx, "--owner", s.Owner)
		if err != nil {
			return nil, err
		}
		owner = u.ID
	}
	lc.OwnerUserID = &owner
	if s.AssignedTo != "" {
		u, err := c.crmUser(ctx, "--assigned-to", s.AssignedTo)
		if err != nil {
			return nil, err
		}
		lc.AssignedToUserID = &u.ID
	}
	if s.ContactEmail != "" {
		if mapping.NormalizeEmail(s.ContactEmail) == "" {
			return nil, fmt.Errorf("--contact-email %q is not an email address", s.ContactEmail)
		}
		n := mapping.SplitName(s.ContactName)
		id, err := c.Store.FindOrCreateContact(ctx, in.ID, store.NewContact{Email: strings.TrimSpace(s.ContactEmail),
			NamePrefix: orNil(n.Prefix), FirstName: orNil(n.First), MiddleName: orNil(n.Middle), LastName: orNil(n.Last),
			NameSuffix: orNil(n.Suffix), OwnerUserID: owner})
		if err != nil {
			return nil, err
		}
		lc.ContactID = &id
	}
	id, err := c.Store.CreateCase(ctx, lc)
	if err != nil {
		return nil, err
	}
	return c.Store.CaseJSON(ctx, id)
}

// CaseUpdate holds the fields `case update` changes; empty strings leave a field as it is.
type CaseUpdate struct {
	Subject, Description, Status, Priority, AssignedTo *string
}

// UpdateCase edits a CRM case.
func (c *Control) UpdateCase(ctx context.Context, id int64, u CaseUpdate) (json.RawMessage, error) {
	e := store.CaseEdit{Subject: u.Subject, Description: u.Description, Status: u.Status, Priority: u.Priority}
	if u.Status != nil {
		if err := oneOf("--status", *u.Status, mapping.CaseStatuses); err != nil {
			return nil, err
		}
	}
	if u.Priority != nil {
		if err := oneOf("--priority", *u.Priority, mapping.CasePriorities); err != nil {
			return nil, err
		}
	}
	if u.AssignedTo != nil {
		usr, err := c.crmUser(ctx, "--assigned-to", *u.AssignedTo)
		if err != nil {
			return nil, err
		}
		e.AssignedToUserID = &usr.ID
	}
	if err := c.Store.UpdateCase(ctx, id, e); err != nil {
		return nil, err
	}
	return c.Store.CaseJSON(ctx, id)
}

// CommentCase adds a comment to a CRM case; the author must be a CRM user.
func (c *Control) CommentCase(ctx context.Context, id int64, body string, public bool, author string) (json.RawMessage, error) {
	if strings.TrimSpace(body) == "" {
		return nil, errors.New("--body is required")
	}
	var u *store.CRMUser
	if author != "" {
		var err error
		if u, err = c.crmUser(ctx, "--author", author); err != nil {
			return nil, err
		}
	}
	if _, err := c.Store.AddCaseComment(ctx, id, body, public, u); err != nil {
		return nil, err
	}
	return c.Store.CaseJSON(ctx, id)
}

// AddUser adds a CRM user, so agents with that email are matched.
func (c *Control) AddUser(ctx context.Context, email, name string) (*store.CRMUser, error) {
	if mapping.NormalizeEmail(email) == "" {
		return nil, fmt.Errorf("--email %q is not an email address", email)
	}
	id, err := c.Store.AddCRMUser(ctx, email, name)
	if err != nil {
		return nil, err
	}
	return &store.CRMUser{ID: id, Email: strings.TrimSpace(email), Name: name}, nil
}

// Failures lists the records an integration's sync skipped, with their reasons.
func (c *Control) Failures(ctx context.Context, integration string) ([]store.Failure, error) {
	in, err := c.Store.IntegrationByName(ctx, integration)
	if err != nil {
		return nil, err
	}
	return c.Store.Failures(ctx, in.ID)
}

func (c *Control) crmUser(ctx context.Context, flag, email string) (*store.CRMUser, error) {
	u, err := c.Store.CRMUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s %s is not a CRM user (add it with `starter user add`)", flag, email)
	}
	return u, err
}

func oneOf(flag, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%s must be one of %s, not %q", flag, strings.Join(allowed, ", "), v)
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RetryFailures fetches an integration's failed tickets again and applies those that now sync.
func (c *Control) RetryFailures(ctx context.Context, integration string) (contract.RetryResult, error) {
	var res contract.RetryResult
	in, err := c.activeIntegration(ctx, integration)
	if err != nil {
		return res, err
	}
	return res, c.update(ctx, in.ID, contract.UpdateRetryFailures, &res)
}
