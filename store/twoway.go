package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/zendesk-sync/zendesk-sync/mapping"
)

// OutboxItem is one recorded local change waiting to be pushed.
type OutboxItem struct {
	ID        int64          `db:"id"`
	CaseID    int64          `db:"case_id"`
	CommentID *int64         `db:"comment_id"`
	Fields    pq.StringArray `db:"fields"`
	SendingAt *time.Time     `db:"sending_at"`
}

// PendingOutbox returns the oldest unprocessed changes of an integration that are not parked.
func (s *Store) PendingOutbox(ctx context.Context, integrationID int64, limit int) ([]OutboxItem, error) {
	var out []OutboxItem
	err := s.DB.SelectContext(ctx, &out, `SELECT id, case_id, comment_id, fields, sending_at FROM outbox
		WHERE integration_id=$1 AND processed_at IS NULL AND parked_at IS NULL ORDER BY id LIMIT $2`, integrationID, limit)
	if err != nil {
		return nil, fmt.Errorf("pending outbox: %w", err)
	}
	return out, nil
}

// PushTarget is a case with local changes, with the ticket it is linked to and the values last synced.
type PushTarget struct {
	CaseID          int64           `db:"case_id"`
	Subject         string          `db:"subject"`
	Description     string          `db:"description"`
	Status          string          `db:"status"`
	Priority        string          `db:"priority"`
	OwnerUserID     *int64          `db:"owner_user_id"`
	AssignedToID    *int64          `db:"assigned_to_user_id"`
	AssignedToEmail *string         `db:"assigned_to_email"`
	ContactID       *int64          `db:"contact_id"`
	TicketID        *int64          `db:"ticket_id"`
	TicketStatus    *string         `db:"ticket_status"`
	Synced          json.RawMessage `db:"synced"`
	Attributes      json.RawMessage `db:"attributes"`
}

// PushTargets loads the cases with their tickets.
func (s *Store) PushTargets(ctx context.Context, integrationID int64, caseIDs []int64) (map[int64]*PushTarget, error) {
	var rows []PushTarget
	err := s.DB.SelectContext(ctx, &rows, `SELECT c.id AS case_id, c.subject, c.description, c.status, c.priority,
		c.owner_user_id, c.assigned_to_user_id, u.email AS assigned_to_email, c.contact_id, t.zendesk_id AS ticket_id,
		t.status AS ticket_status, t.synced, c.attributes
		FROM cases c LEFT JOIN crm_users u ON u.id = c.assigned_to_user_id
		LEFT JOIN zd_tickets t ON t.case_id = c.id AND t.integration_id = c.integration_id
		WHERE c.integration_id = $1 AND c.id = ANY($2)`, integrationID, int64Array(caseIDs))
	if err != nil {
		return nil, fmt.Errorf("load cases to push: %w", err)
	}
	out := make(map[int64]*PushTarget, len(rows))
	for i := range rows {
		out[rows[i].CaseID] = &rows[i]
	}
	return out, nil
}

// LocalComment is a CRM comment to push.
type LocalComment struct {
	ID          int64   `db:"id"`
	CaseID      int64   `db:"case_id"`
	Body        string  `db:"body"`
	Public      bool    `db:"public"`
	AuthorEmail *string `db:"author_email"`
	Linked      bool    `db:"linked"`
}

// LocalComments loads CRM comments by id, saying which are linked to a Zendesk comment already.
func (s *Store) LocalComments(ctx context.Context, ids []int64) (map[int64]LocalComment, error) {
	var rows []LocalComment
	err := s.DB.SelectContext(ctx, &rows, `SELECT cc.id, cc.case_id, cc.body, cc.public, cc.author_email,
		EXISTS (SELECT 1 FROM zd_comments z WHERE z.case_comment_id = cc.id) AS linked
		FROM case_comments cc WHERE cc.id = ANY($1)`, int64Array(ids))
	if err != nil {
		return nil, fmt.Errorf("load comments to push: %w", err)
	}
	out := make(map[int64]LocalComment, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

// ZendeskUserIDByEmail finds a mirrored Zendesk user of the integration by email, ignoring case; agents first
// when agentsOnly is false, only agents and admins when it is true.
func (s *Store) ZendeskUserIDByEmail(ctx context.Context, integrationID int64, email string, agentsOnly bool) (int64, bool, error) {
	var ids []int64
	q := `SELECT zendesk_id FROM zd_users WHERE integration_id=$1 AND lower(email) = lower($2) AND active`
	if agentsOnly {
		q += ` AND role IN ($3, $4)`
	}
	q += ` ORDER BY (role IN ($3, $4)) DESC, zendesk_id LIMIT 1`
	if err := s.DB.SelectContext(ctx, &ids, q, integrationID, email, mapping.RoleAgent, mapping.RoleAdmin); err != nil {
		return 0, false, fmt.Errorf("find Zendesk user %s: %w", email, err)
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	return ids[0], true, nil
}

// MarkSending records that a comment is about to be sent, in its own transaction, so a retry knows to look for
// it in Zendesk before sending it again.
func (s *Store) MarkSending(ctx context.Context, outboxID int64) (time.Time, error) {
	var at time.Time
	err := s.DB.QueryRowxContext(ctx, `UPDATE outbox SET sending_at = COALESCE(sending_at, now()) WHERE id=$1
		RETURNING sending_at`, outboxID).Scan(&at)
	return at, err
}

// Pushed is what one push changed locally: the new merge base of the ticket, the case fields the remote side won
// (each written only if the case still holds the value the decision was made from), the Zendesk comment a local
// comment became, the conflicts decided, the refused updates, the outbox rows done, and a note.
type Pushed struct {
	IntegrationID int64
	CaseID        int64
	TicketID      int64
	// Synced, when set, is the ticket's new merge base (zd_tickets.synced). Only the fields this push reconciled
	// differ from the old one; the rest of the mirror row is left as the last import wrote it, so the next import
	// still sees every Zendesk change it has not applied.
	Synced    json.RawMessage
	CaseFix   []FieldFix
	Comment   *CommentRow
	CommentOf int64 // the case comment the Zendesk comment is linked to
	Conflicts []Conflict
	Failures  []Failure // refused updates, each with its reason
	// ResolvePush closes the ticket's open push failures (everything sent was accepted).
	ResolvePush bool
	Done        []int64
	Note        *string      // set: the case's sync note; "" clears it
	Sent        []SentUpdate // the updates sent to Zendesk, for the case's history
}

// Conflict is one recorded conflict decision.
type Conflict struct {
	ID          int64     `db:"id" json:"id"`
	CaseID      *int64    `db:"case_id" json:"case_id"`
	TicketID    int64     `db:"ticket_id" json:"ticket_id"`
	Field       string    `db:"field" json:"field"`
	BaseValue   *string   `db:"base_value" json:"base_value"`
	LocalValue  *string   `db:"local_value" json:"local_value"`
	RemoteValue *string   `db:"remote_value" json:"remote_value"`
	Winner      string    `db:"winner" json:"winner"`
	DecidedAt   time.Time `db:"decided_at" json:"decided_at"`
}

// FieldFix is a compare-and-set of one case field: set it to New only if it still holds Old, the value the push
// decided from. A CRM edit made while the push was talking to Zendesk is never overwritten: it has its own outbox
// row, and the next push merges it.
type FieldFix struct {
	Field    string // a mapping.Field name
	Old, New string // as mapping.FieldValue renders them ("" for no user)
}

// caseColumns maps the case fields a push may write to their columns and how their text form is cast.
var caseColumns = map[string]struct{ col, cast string }{
	"subject":     {"subject", "text"},
	"description": {"description", "text"},
	"status":      {"status", "text"},
	"priority":    {"priority", "text"},
	"owner":       {"owner_user_id", "bigint"},
	"assigned_to": {"assigned_to_user_id", "bigint"},
	"contact":     {"contact_id", "bigint"},
}

// CompareAndSetCase applies field fixes to a case; it returns the fields whose CAS was lost (the CRM changed them).
func (p *PageTx) CompareAndSetCase(caseID int64, fixes []FieldFix) ([]string, error) {
	var lost []string
	for _, f := range fixes {
		if name, ok := mapping.AttributeName(mapping.Field(f.Field)); ok {
			won, err := p.compareAndSetAttribute(caseID, name, f.Old, f.New)
			if err != nil {
				return nil, err
			}
			if !won {
				lost = append(lost, f.Field)
			}
			continue
		}
		c, ok := caseColumns[f.Field]
		if !ok {
			return nil, fmt.Errorf("case %d: no column for field %q", caseID, f.Field)
		}
		val := func(n int) string {
			if c.cast == "bigint" {
				return fmt.Sprintf("NULLIF($%d, '')::bigint", n)
			}
			return fmt.Sprintf("$%d::text", n)
		}
		res, err := p.tx.ExecContext(p.ctx, `UPDATE cases SET `+c.col+` = `+val(3)+`, updated_at = now()
			WHERE id = $1 AND `+c.col+` IS NOT DISTINCT FROM `+val(2), caseID, f.Old, f.New)
		if err != nil {
			return nil, fmt.Errorf("case %d: set %s: %w", caseID, f.Field, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			lost = append(lost, f.Field)
		}
	}
	return lost, nil
}

// compareAndSetAttribute sets one attribute (canonical JSON text, "null" for none) if it still holds old.
func (p *PageTx) compareAndSetAttribute(caseID int64, name, old, new string) (bool, error) {
	res, err := p.tx.ExecContext(p.ctx, `UPDATE cases SET attributes = CASE WHEN $4::jsonb = 'null'::jsonb
			THEN attributes - $2 ELSE jsonb_set(attributes, ARRAY[$2], $4::jsonb) END, updated_at = now()
		WHERE id = $1 AND COALESCE(attributes -> $2, 'null'::jsonb) = $3::jsonb`, caseID, name, old, new)
	if err != nil {
		return false, fmt.Errorf("case %d: set attribute %s: %w", caseID, name, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ApplyPushed commits the local side of a push in one transaction marked as the sync's own.
func (s *Store) ApplyPushed(ctx context.Context, p Pushed) error {
	return s.inSourceTx(ctx, SourcePush, "", func(tx *sqlxTx) error {
		if err := recordSent(ctx, tx, p); err != nil {
			return err
		}
		ptx := &PageTx{tx: tx, ctx: ctx, IntegrationID: p.IntegrationID}
		if p.Synced != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE zd_tickets SET synced=$3, updated_at=now()
				WHERE integration_id=$1 AND zendesk_id=$2`, p.IntegrationID, p.TicketID, []byte(p.Synced)); err != nil {
				return fmt.Errorf("ticket %d: merge base: %w", p.TicketID, err)
			}
		}
		if len(p.CaseFix) > 0 {
			if _, err := ptx.CompareAndSetCase(p.CaseID, p.CaseFix); err != nil {
				return err
			}
		}
		if p.Comment != nil {
			if err := ptx.InsertComments([]CommentRow{*p.Comment}); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE zd_comments SET case_comment_id=$3 WHERE integration_id=$1
				AND zendesk_id=$2 AND case_comment_id IS NULL`, p.IntegrationID, p.Comment.ZendeskID, p.CommentOf); err != nil {
				return fmt.Errorf("link pushed comment: %w", err)
			}
		}
		if err := ptx.RecordConflicts(p.CaseID, p.Conflicts); err != nil {
			return err
		}
		if p.ResolvePush && p.TicketID != 0 {
			if err := resolveFailures(ctx, tx, p.IntegrationID, FailurePush, []int64{p.TicketID}); err != nil {
				return fmt.Errorf("resolve push failures: %w", err)
			}
		}
		if len(p.Failures) > 0 {
			if err := recordFailures(ctx, tx, p.IntegrationID, p.Failures); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET failures = failures + $2 WHERE integration_id=$1`,
				p.IntegrationID, len(p.Failures)); err != nil {
				return fmt.Errorf("count push failures: %w", err)
			}
		}
		if p.Note != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE cases SET sync_note = NULLIF($2, '') WHERE id=$1`, p.CaseID, *p.Note); err != nil {
				return fmt.Errorf("case note: %w", err)
			}
		}
		if len(p.Done) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET processed_at=now() WHERE id = ANY($1)`, int64Array(p.Done)); err != nil {
				return fmt.Errorf("mark outbox done: %w", err)
			}
		}
		return nil
	})
}

// FailureCaseDeleted is the failure kind of a ticket whose case was deleted in the CRM (recorded by the
// cases_deleted trigger, migration 00006).
const FailureCaseDeleted = "case_deleted"

// FailurePush is the failure kind of a local change Zendesk refused (its zendesk_id is the ticket's id).
const FailurePush = "push"

// ParkOutbox parks every pending outbox row of an integration with a reason (e.g. credentials rejected): the relay
// stops signalling them and the push skips them. When wide is true, changes recorded from now on are parked as
// they are recorded, until the outbox resumes (EndSyncedPass, or saving the integration's settings).
func (s *Store) ParkOutbox(ctx context.Context, integrationID int64, reason string, wide bool) error {
	return s.InTx(ctx, func(tx *sqlxTx) error {
		if wide {
			if _, err := tx.ExecContext(ctx, `UPDATE integrations SET outbox_parked=$2 WHERE id=$1`, integrationID,
				reason); err != nil {
				return fmt.Errorf("park the outbox of integration %d: %w", integrationID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET parked_at=now(), park_reason=$2 WHERE integration_id=$1
			AND processed_at IS NULL AND parked_at IS NULL`, integrationID, reason); err != nil {
			return fmt.Errorf("park the outbox of integration %d: %w", integrationID, err)
		}
		return nil
	})
}

// RecordConflicts keeps the conflict decisions of one case, in one statement.
func (p *PageTx) RecordConflicts(caseID int64, cs []Conflict) error {
	var cid *int64
	if caseID > 0 {
		cid = &caseID
	}
	own := make([]Conflict, len(cs))
	for i, c := range cs {
		c.CaseID = cid
		own[i] = c
	}
	return p.RecordCaseConflicts(own)
}

// RecordCaseConflicts keeps conflict decisions of any cases (each its own CaseID), in one statement: a page's
// conflicts are written together, like its other rows.
func (p *PageTx) RecordCaseConflicts(cs []Conflict) error {
	if len(cs) == 0 {
		return nil
	}
	type row struct {
		CaseID      *int64  `json:"case_id"`
		TicketID    int64   `json:"ticket_id"`
		Field       string  `json:"field"`
		BaseValue   *string `json:"base_value"`
		LocalValue  *string `json:"local_value"`
		RemoteValue *string `json:"remote_value"`
		Winner      string  `json:"winner"`
	}
	rows := make([]row, len(cs))
	for i, c := range cs {
		rows[i] = row{CaseID: c.CaseID, TicketID: c.TicketID, Field: c.Field, BaseValue: c.BaseValue,
			LocalValue: c.LocalValue, RemoteValue: c.RemoteValue, Winner: c.Winner}
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("encode conflicts: %w", err)
	}
	if _, err := p.tx.ExecContext(p.ctx, `INSERT INTO conflicts (integration_id, case_id, ticket_id, field, base_value,
		local_value, remote_value, winner)
		SELECT $1, x.case_id, x.ticket_id, x.field, x.base_value, x.local_value, x.remote_value, x.winner
		FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (case_id bigint, ticket_id bigint, field text, base_value text,
			local_value text, remote_value text, winner text))
			WITH ORDINALITY AS x(case_id, ticket_id, field, base_value, local_value, remote_value, winner, n)
		ORDER BY x.n`, p.IntegrationID, doc); err != nil {
		return fmt.Errorf("record %d conflicts: %w", len(rows), err)
	}
	return nil
}

// Conflicts lists an integration's conflict decisions, newest first.
func (s *Store) Conflicts(ctx context.Context, integrationID int64) ([]Conflict, error) {
	var out []Conflict
	err := s.DB.SelectContext(ctx, &out, `SELECT id, case_id, ticket_id, field, base_value, local_value, remote_value,
		winner, decided_at FROM conflicts WHERE integration_id=$1 ORDER BY id DESC`, integrationID)
	return out, err
}

// CaseTicket returns the Zendesk ticket a case is published as, if any, in any integration (a case is published
// to one Zendesk account only).
func (s *Store) CaseTicket(ctx context.Context, caseID int64) (int64, bool, error) {
	var ids []int64
	if err := s.DB.SelectContext(ctx, &ids, `SELECT zendesk_id FROM zd_tickets WHERE case_id=$1`, caseID); err != nil {
		return 0, false, err
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	return ids[0], true, nil
}

// Published records a ticket created from a case: the ticket mirror linked to the case, its first comment
// linked to a case comment repeating the description (as OroCRM does), and outbox rows for the case's earlier
// comments so the push sends them.
func (s *Store) Published(ctx context.Context, integrationID int64, t TicketRow, first *CommentRow, ownerID int64) error {
	return s.inSourceTx(ctx, SourcePublish, publishRef(t), func(tx *sqlxTx) error {
		ptx := &PageTx{tx: tx, ctx: ctx, IntegrationID: integrationID}
		if err := ptx.UpsertTickets([]TicketRow{t}); err != nil {
			return err
		}
		if first != nil {
			if err := ptx.InsertComments([]CommentRow{*first}); err != nil {
				return err
			}
			if _, err := ptx.LinkComments(ownerID, []int64{t.ZendeskID}); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox (integration_id, case_id, comment_id)
			SELECT $1, cc.case_id, cc.id FROM case_comments cc WHERE cc.case_id = $2
			AND NOT EXISTS (SELECT 1 FROM zd_comments z WHERE z.case_comment_id = cc.id)
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.comment_id = cc.id AND o.processed_at IS NULL)
			ORDER BY cc.created_at, cc.id`, integrationID, *t.CaseID)
		if err != nil {
			return fmt.Errorf("queue earlier comments: %w", err)
		}
		_, err = tx.ExecContext(ctx, `SELECT pg_notify('zendesk_sync_outbox', $1::text)`, integrationID)
		return err
	})
}

// CaseToPublish is what publishing a case needs to know of it.
type CaseToPublish struct {
	ID               int64   `db:"id"`
	IntegrationID    *int64  `db:"integration_id"`
	Subject          string  `db:"subject"`
	Description      string  `db:"description"`
	Status           string  `db:"status"`
	Priority         string  `db:"priority"`
	AssignedToEmail  *string `db:"assigned_to_email"`
	OwnerEmail       *string `db:"owner_email"`
	ContactEmail     *string `db:"contact_email"`
	ContactFirstName *string `db:"contact_first_name"`
	ContactLastName  *string `db:"contact_last_name"`
	// Attributes is the case's attributes column: the pushed ones go with the new ticket.
	Attributes json.RawMessage `db:"attributes"`
}

// CaseForPublish loads a case to publish.
func (s *Store) CaseForPublish(ctx context.Context, caseID int64) (*CaseToPublish, error) {
	var c CaseToPublish
	err := s.DB.GetContext(ctx, &c, `SELECT c.id, c.integration_id, c.subject, c.description, c.status, c.priority,
		au.email AS assigned_to_email, ou.email AS owner_email, ct.email AS contact_email,
		ct.first_name AS contact_first_name, ct.last_name AS contact_last_name, c.attributes
		FROM cases c LEFT JOIN crm_users au ON au.id = c.assigned_to_user_id
		LEFT JOIN crm_users ou ON ou.id = c.owner_user_id LEFT JOIN contacts ct ON ct.id = c.contact_id
		WHERE c.id = $1`, caseID)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("case %d", caseID))
	}
	return &c, nil
}
