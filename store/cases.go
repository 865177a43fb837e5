package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zendesk-sync/zendesk-sync/mapping"
)

// caseJSON renders cases in the shape of `starter case list -o json` (DESIGN.md), in one query.
const caseJSON = `SELECT COALESCE(json_agg(x ORDER BY x.id), '[]') FROM (` + caseRows + `) x`

// caseRows selects the columns of that shape; %s is the WHERE condition (and whatever follows it).
const caseRows = `
	SELECT c.id, i.name AS integration, c.subject, c.description, c.status, c.priority,
		au.email AS assigned_to, ou.email AS owner,
		CASE WHEN ct.id IS NULL THEN NULL ELSE json_build_object('email', ct.email, 'first_name', ct.first_name,
			'last_name', ct.last_name, 'name_prefix', ct.name_prefix, 'middle_name', ct.middle_name,
			'name_suffix', ct.name_suffix) END AS contact,
		COALESCE((SELECT json_agg(json_build_object('body', cc.body, 'public', cc.public, 'author_email', cc.author_email,
			'created_at', cc.created_at) ORDER BY cc.created_at, cc.id) FROM case_comments cc WHERE cc.case_id = c.id), '[]') AS comments,
		CASE WHEN t.zendesk_id IS NULL THEN NULL ELSE json_build_object('id', t.zendesk_id, 'url', t.url,
			'status', t.status, 'priority', t.priority, 'type', t.type, 'recipient', t.recipient,
			'requester_email', (SELECT email FROM zd_users WHERE integration_id = t.integration_id AND zendesk_id = t.requester_id),
			'submitter_email', (SELECT email FROM zd_users WHERE integration_id = t.integration_id AND zendesk_id = t.submitter_id),
			'assignee_email', (SELECT email FROM zd_users WHERE integration_id = t.integration_id AND zendesk_id = t.assignee_id),
			'problem_id', t.problem_id,
			'collaborator_emails', COALESCE((SELECT json_agg(email ORDER BY zendesk_id) FROM zd_users
				WHERE integration_id = t.integration_id AND zendesk_id = ANY(t.collaborator_ids) AND email IS NOT NULL), '[]'))
		END AS ticket,
		c.sync_note, c.updated_at, c.attributes
	FROM cases c
	LEFT JOIN integrations i ON i.id = c.integration_id
	LEFT JOIN crm_users au ON au.id = c.assigned_to_user_id
	LEFT JOIN crm_users ou ON ou.id = c.owner_user_id
	LEFT JOIN contacts ct ON ct.id = c.contact_id
	LEFT JOIN zd_tickets t ON t.case_id = c.id
	WHERE %s`

// CasesJSON returns the cases (of one integration when integrationID > 0) as a JSON array.
func (s *Store) CasesJSON(ctx context.Context, integrationID int64) (json.RawMessage, error) {
	where, args := "true", []interface{}{}
	if integrationID > 0 {
		where, args = "c.integration_id = $1", append(args, integrationID)
	}
	var out []byte
	if err := s.DB.QueryRowxContext(ctx, fmt.Sprintf(caseJSON, where), args...).Scan(&out); err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return out, nil
}

// CaseJSON returns one case as a JSON object.
func (s *Store) CaseJSON(ctx context.Context, id int64) (json.RawMessage, error) {
	var out []byte
	if err := s.DB.QueryRowxContext(ctx, fmt.Sprintf(caseJSON, "c.id = $1"), id).Scan(&out); err != nil {
		return nil, fmt.Errorf("show case %d: %w", id, err)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(out, &arr); err != nil {
		return nil, err
	}
	if len(arr) == 0 {
		return nil, fmt.Errorf("case %d: %w", id, ErrNotFound)
	}
	return arr[0], nil
}

// LocalCase is a case created or edited in the CRM (by `starter case create/update`).
type LocalCase struct {
	IntegrationID    int64
	Subject          string
	Description      string
	Status           string
	Priority         string
	OwnerUserID      *int64
	AssignedToUserID *int64
	ContactID        *int64
}

// CreateCase inserts a CRM-side case.
func (s *Store) CreateCase(ctx context.Context, c LocalCase) (int64, error) {
	var id int64
	err := s.DB.QueryRowxContext(ctx, `INSERT INTO cases (integration_id, subject, description, status, priority,
		owner_user_id, assigned_to_user_id, contact_id, reported_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8, now()) RETURNING id`,
		c.IntegrationID, c.Subject, c.Description, c.Status, c.Priority, c.OwnerUserID, c.AssignedToUserID, c.ContactID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create case: %w", err)
	}
	return id, nil
}

// CaseEdit holds the fields to change; nil leaves a field as it is.
type CaseEdit struct {
	Subject, Description, Status, Priority *string
	AssignedToUserID                       *int64
}

// UpdateCase changes the given fields; updated_at moves only when a value did.
func (s *Store) UpdateCase(ctx context.Context, id int64, e CaseEdit) error {
	res, err := s.DB.ExecContext(ctx, `UPDATE cases SET subject=COALESCE($2, subject), description=COALESCE($3, description),
		status=COALESCE($4, status), priority=COALESCE($5, priority), assigned_to_user_id=COALESCE($6, assigned_to_user_id),
		closed_at = CASE WHEN $4 = $7 AND status <> $7 THEN now() ELSE closed_at END, updated_at=now()
		WHERE id=$1 AND (subject, description, status, priority, assigned_to_user_id) IS DISTINCT FROM
		(COALESCE($2, subject), COALESCE($3, description), COALESCE($4, status), COALESCE($5, priority),
		COALESCE($6, assigned_to_user_id))`, id, e.Subject, e.Description, e.Status, e.Priority, e.AssignedToUserID,
		mapping.CaseStatusClosed)
	if err != nil {
		return fmt.Errorf("update case %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists bool
		if err := s.DB.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM cases WHERE id=$1)`, id); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("case %d: %w", id, ErrNotFound)
		}
	}
	return nil
}

// AddCaseComment adds a CRM-side comment to a case.
func (s *Store) AddCaseComment(ctx context.Context, caseID int64, body string, public bool, author *CRMUser) (int64, error) {
	var ownerID *int64
	var email *string
	if author != nil {
		ownerID, email = &author.ID, &author.Email
	}
	var id int64
	err := s.DB.QueryRowxContext(ctx, `INSERT INTO case_comments (case_id, body, public, owner_user_id, author_email)
		SELECT id, $2, $3, $4, $5 FROM cases WHERE id = $1 RETURNING id`, caseID, body, public, ownerID, email).Scan(&id)
	if err != nil {
		return 0, notFound(err, fmt.Sprintf("case %d", caseID))
	}
	return id, nil
}

// FindOrCreateContact returns the integration's contact with this email, creating it with the given name parts.
func (s *Store) FindOrCreateContact(ctx context.Context, integrationID int64, c NewContact) (int64, error) {
	var id int64
	err := s.DB.GetContext(ctx, &id, `SELECT id FROM contacts WHERE integration_id=$1 AND lower(email)=lower($2) ORDER BY id LIMIT 1`,
		integrationID, c.Email)
	if err == nil {
		return id, nil
	}
	err = s.DB.QueryRowxContext(ctx, `INSERT INTO contacts (integration_id, email, name_prefix, first_name, middle_name,
		last_name, name_suffix, phone, owner_user_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id`, integrationID,
		c.Email, c.NamePrefix, c.FirstName, c.MiddleName, c.LastName, c.NameSuffix, c.Phone, c.OwnerUserID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create contact: %w", err)
	}
	return id, nil
}
