package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Webhook is the Zendesk webhook an integration registered (`starter integration webhook`): the ids of the webhook
// and of the trigger that fires it in Zendesk, the URL it calls, and its signing secret sealed by package secrets.
type Webhook struct {
	IntegrationID int64          `db:"id"`
	WebhookID     sql.NullString `db:"webhook_id"`
	TriggerID     sql.NullInt64  `db:"webhook_trigger_id"`
	URL           sql.NullString `db:"webhook_url"`
	SecretEnc     []byte         `db:"webhook_secret_enc"`
}

// On says whether webhook calls are accepted: a signing secret is stored.
func (w *Webhook) On() bool { return len(w.SecretEnc) > 0 }

// IntegrationWebhook loads the webhook settings of one integration (all empty when webhooks are off).
func (s *Store) IntegrationWebhook(ctx context.Context, integrationID int64) (*Webhook, error) {
	var w Webhook
	err := s.DB.GetContext(ctx, &w, `SELECT id, webhook_id, webhook_trigger_id, webhook_url, webhook_secret_enc
		FROM integrations WHERE id = $1`, integrationID)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("integration %d", integrationID))
	}
	return &w, nil
}

// SaveWebhook records what was registered in Zendesk. Saved piecewise (the webhook first, then the trigger and
// secret), so a failure half-way leaves the ids to update or delete next time instead of orphans in Zendesk.
func (s *Store) SaveWebhook(ctx context.Context, w *Webhook) error {
	res, err := s.DB.ExecContext(ctx, `UPDATE integrations SET webhook_id=$2, webhook_trigger_id=$3, webhook_url=$4,
		webhook_secret_enc=$5, updated_at=now() WHERE id=$1`,
		w.IntegrationID, w.WebhookID, w.TriggerID, w.URL, w.SecretEnc)
	if err != nil {
		return fmt.Errorf("save the webhook of integration %d: %w", w.IntegrationID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("integration %d: %w", w.IntegrationID, ErrNotFound)
	}
	return nil
}

// RememberWebhookCall records a verified call's signature until expires, and says whether it is new: false means
// the same call (same signature, so same timestamp and body) was accepted before, by this worker or another.
// Now and then it also deletes the signatures that expired.
func (s *Store) RememberWebhookCall(ctx context.Context, integrationID int64, signature string, expires time.Time) (bool, error) {
	res, err := s.DB.ExecContext(ctx, `INSERT INTO webhook_calls (integration_id, signature, expires_at)
		VALUES ($1, $2, $3) ON CONFLICT (integration_id, signature) DO NOTHING`, integrationID, signature, expires)
	if err != nil {
		return false, fmt.Errorf("remember a webhook call: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ForgetExpiredWebhookCalls deletes the signatures past their expiry (their calls are refused as stale anyway).
func (s *Store) ForgetExpiredWebhookCalls(ctx context.Context) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM webhook_calls WHERE expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("forget expired webhook calls: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ForgetWebhookCall drops one remembered signature: the call was not passed on, so its retry must be taken.
func (s *Store) ForgetWebhookCall(ctx context.Context, integrationID int64, signature string) error {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM webhook_calls WHERE integration_id=$1 AND signature=$2`,
		integrationID, signature); err != nil {
		return fmt.Errorf("forget a webhook call: %w", err)
	}
	return nil
}
