package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/zendesk-sync/zendesk-sync/mapping"
)

// Integration is one Zendesk account connected to the CRM. TokenEnc is sealed by package secrets.
type Integration struct {
	ID               int64        `db:"id"`
	Name             string       `db:"name"`
	URL              string       `db:"url"`
	Email            string       `db:"email"`
	TokenEnc         []byte       `db:"token_enc"`
	DefaultUserEmail string       `db:"default_user_email"`
	OwnerUserID      int64        `db:"owner_user_id"`
	OwnerEmail       string       `db:"owner_email"`
	TwoWay           bool         `db:"two_way"`
	Priority         string       `db:"priority"`
	IntervalSeconds  int          `db:"interval_seconds"`
	SyncFrom         sql.NullTime `db:"sync_from"`
	Active           bool         `db:"active"`
	SettingsVersion  int          `db:"settings_version"`
	CreatedAt        time.Time    `db:"created_at"`
	UpdatedAt        time.Time    `db:"updated_at"`
	Auth             string       `db:"auth"` // AuthToken or AuthOAuth
	// OAuthClient, on create only, makes an OAuth integration (its oauth_credentials row).
	OAuthClient *OAuthClient `db:"-"`
	// Mapping is the custom field and tag mapping as the sync reads it (mapping.Mapping as JSON), nil for none;
	// MappingSource the file it was read from, as the user wrote it.
	Mapping       []byte         `db:"mapping"`
	MappingSource sql.NullString `db:"mapping_source"`
}

// CustomMapping is the integration's mapping, nil when it has none.
func (i *Integration) CustomMapping() (*mapping.Mapping, error) {
	if len(i.Mapping) == 0 || string(i.Mapping) == "null" {
		return nil, nil
	}
	var m mapping.Mapping
	if err := json.Unmarshal(i.Mapping, &m); err != nil {
		return nil, fmt.Errorf("integration %q: stored mapping: %w", i.Name, err)
	}
	return &m, nil
}

// SetMapping stores an integration's mapping and its source file; an empty mapping removes it. Attributes already
// derived stay on their cases until `integration remap` derives them again.
func (s *Store) SetMapping(ctx context.Context, id int64, m *mapping.Mapping, source string) error {
	var js []byte
	var src *string
	if !m.Empty() {
		var err error
		if js, err = json.Marshal(m); err != nil {
			return fmt.Errorf("encode the mapping: %w", err)
		}
		src = &source
	}
	res, err := s.DB.ExecContext(ctx, `UPDATE integrations SET mapping=$2, mapping_source=$3, updated_at=now()
		WHERE id=$1`, id, js, src)
	if err != nil {
		return fmt.Errorf("save the mapping of integration %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("integration %d: %w", id, ErrNotFound)
	}
	return nil
}

// Interval is the time between incremental syncs.
func (i *Integration) Interval() time.Duration { return time.Duration(i.IntervalSeconds) * time.Second }

const integrationCols = `i.id, i.name, i.url, i.email, i.token_enc, i.default_user_email, i.owner_user_id,
	u.email AS owner_email, i.two_way, i.priority, i.interval_seconds, i.sync_from, i.active, i.settings_version,
	i.created_at, i.updated_at, i.auth, i.mapping, i.mapping_source`

// CreateIntegration inserts the integration and its empty sync state.
func (s *Store) CreateIntegration(ctx context.Context, in *Integration) (int64, error) {
	var id int64
	err := s.InTx(ctx, func(tx *sqlxTx) error {
		// The auth column is named only for OAuth, so a token integration is stored the same on any schema version
		// (a migration test stores rows before 00014).
		cols, vals, tokenEnc := "", "", in.TokenEnc
		args := []any{}
		if in.OAuthClient != nil {
			cols, vals, tokenEnc, args = ", auth", ",$12", []byte{}, []any{AuthOAuth}
		}
		args = append([]any{in.Name, in.URL, in.Email, tokenEnc, in.DefaultUserEmail, in.OwnerUserID, in.TwoWay,
			in.Priority, in.IntervalSeconds, in.SyncFrom, in.Active}, args...)
		err := tx.QueryRowxContext(ctx, `INSERT INTO integrations (name, url, email, token_enc, default_user_email,
			owner_user_id, two_way, priority, interval_seconds, sync_from, active`+cols+`)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11`+vals+`) RETURNING id`, args...).Scan(&id)
		if isUnique(err) {
			return fmt.Errorf("integration %q: %w", in.Name, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("insert integration: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sync_state (integration_id, events_start_time) VALUES ($1, $2)`,
			id, syncFromUnix(in.SyncFrom))
		if err != nil || in.OAuthClient == nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO oauth_credentials (integration_id, client_id, client_secret_enc)
			VALUES ($1, $2, $3)`, id, in.OAuthClient.ClientID, in.OAuthClient.ClientSecretEnc)
		return err
	})
	return id, err
}

// UpdateIntegration saves edited settings and bumps settings_version.
func (s *Store) UpdateIntegration(ctx context.Context, in *Integration) error {
	res, err := s.DB.ExecContext(ctx, `UPDATE integrations SET name=$2, url=$3, email=$4, token_enc=$5,
		default_user_email=$6, owner_user_id=$7, two_way=$8, priority=$9, interval_seconds=$10, sync_from=$11,
		settings_version = settings_version + 1, updated_at = now() WHERE id=$1`,
		in.ID, in.Name, in.URL, in.Email, in.TokenEnc, in.DefaultUserEmail, in.OwnerUserID, in.TwoWay, in.Priority,
		in.IntervalSeconds, in.SyncFrom)
	if isUnique(err) {
		return fmt.Errorf("integration %q: %w", in.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("update integration: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("integration %d: %w", in.ID, ErrNotFound)
	}
	return nil
}

// Integration loads one integration by id.
func (s *Store) Integration(ctx context.Context, id int64) (*Integration, error) {
	var in Integration
	err := s.DB.GetContext(ctx, &in, `SELECT `+integrationCols+` FROM integrations i
		JOIN crm_users u ON u.id = i.owner_user_id WHERE i.id = $1`, id)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("integration %d", id))
	}
	return &in, nil
}

// IntegrationByName loads one integration by its name.
func (s *Store) IntegrationByName(ctx context.Context, name string) (*Integration, error) {
	var in Integration
	err := s.DB.GetContext(ctx, &in, `SELECT `+integrationCols+` FROM integrations i
		JOIN crm_users u ON u.id = i.owner_user_id WHERE i.name = $1`, name)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("integration %q", name))
	}
	return &in, nil
}

// Integrations lists every integration by name.
func (s *Store) Integrations(ctx context.Context) ([]Integration, error) {
	var out []Integration
	err := s.DB.SelectContext(ctx, &out, `SELECT `+integrationCols+` FROM integrations i
		JOIN crm_users u ON u.id = i.owner_user_id ORDER BY i.name`)
	return out, err
}

// SetActive records whether the integration should be syncing.
func (s *Store) SetActive(ctx context.Context, id int64, active bool) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE integrations SET active=$2, updated_at=now() WHERE id=$1`, id, active)
	return err
}

// DeleteIntegration removes the integration and its mirror rows; cases, contacts and comments stay (as in OroCRM).
func (s *Store) DeleteIntegration(ctx context.Context, id int64) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM integrations WHERE id=$1`, id)
	return err
}

func syncFromUnix(t sql.NullTime) int64 {
	if !t.Valid {
		return 0
	}
	return t.Time.Unix()
}

func isUnique(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}
