package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// CRMUser is a CRM login user; agents are matched to them by email.
type CRMUser struct {
	ID        int64    `db:"id"`
	Email     string   `db:"email"`
	Name      string   `db:"name"`
	Secondary []string `db:"-"`
}

// AddCRMUser creates a CRM user; the email must not belong to another user, ignoring case.
func (s *Store) AddCRMUser(ctx context.Context, email, name string, secondary ...string) (int64, error) {
	email = strings.TrimSpace(email)
	var id int64
	err := s.InTx(ctx, func(tx *sqlxTx) error {
		err := tx.QueryRowxContext(ctx, `INSERT INTO crm_users (email, name) VALUES ($1, $2) RETURNING id`, email, name).Scan(&id)
		if isUnique(err) {
			return fmt.Errorf("CRM user %s: %w", email, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("insert CRM user: %w", err)
		}
		for _, e := range secondary {
			if _, err := tx.ExecContext(ctx, `INSERT INTO crm_user_emails (user_id, email) VALUES ($1, $2)
				ON CONFLICT DO NOTHING`, id, strings.TrimSpace(e)); err != nil {
				return fmt.Errorf("insert secondary email: %w", err)
			}
		}
		return nil
	})
	return id, err
}

// CRMUserByEmail finds the user whose primary or secondary email matches, ignoring case.
func (s *Store) CRMUserByEmail(ctx context.Context, email string) (*CRMUser, error) {
	var u CRMUser
	err := s.DB.GetContext(ctx, &u, `SELECT id, email, name FROM crm_users WHERE lower(email) = lower($1)
		UNION ALL SELECT u.id, u.email, u.name FROM crm_users u JOIN crm_user_emails e ON e.user_id = u.id
		WHERE lower(e.email) = lower($1) LIMIT 1`, strings.TrimSpace(email))
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("CRM user %s", email))
	}
	return &u, nil
}

// CRMUsers lists every CRM user with their secondary emails.
func (s *Store) CRMUsers(ctx context.Context) ([]CRMUser, error) {
	rows, err := s.DB.QueryxContext(ctx, `SELECT u.id, u.email, u.name,
		COALESCE(array_agg(e.email) FILTER (WHERE e.email IS NOT NULL), '{}') FROM crm_users u
		LEFT JOIN crm_user_emails e ON e.user_id = u.id GROUP BY u.id ORDER BY u.id`)
	if err != nil {
		return nil, fmt.Errorf("list CRM users: %w", err)
	}
	defer rows.Close()
	var out []CRMUser
	for rows.Next() {
		var u CRMUser
		if err := rows.Scan(&u.ID, &u.Email, &u.Name, pq.Array(&u.Secondary)); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
