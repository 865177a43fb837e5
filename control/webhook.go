package control

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/zendesk-sync/zendesk-sync/internal/webhook"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// WebhookView is what `integration webhook` prints.
type WebhookView struct {
	Integration string `json:"integration"`
	Webhook     bool   `json:"webhook"`
	URL         string `json:"url,omitempty"`
	WebhookID   string `json:"webhook_id,omitempty"`
	TriggerID   int64  `json:"trigger_id,omitempty"`
}

// WebhookEndpoint is the URL Zendesk calls for integration id behind base: base + /webhooks/zendesk/<id>. Base is
// the public URL of the receiver (a TLS-terminating proxy in front of WEBHOOK_ADDR): https, or http on a loopback
// host (the demo and tests), without query or fragment.
func WebhookEndpoint(base string, id int64) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", invalidf("--url %q: give the receiver's public base URL, e.g. https://sync.example.com", base)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", invalidf("--url %q: must not contain a user, a query or a fragment", base)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return "", invalidf("--url %q: plain http is only accepted for loopback hosts; Zendesk calls it over the internet, use https", base)
		}
	default:
		return "", invalidf("--url %q: scheme %q is not supported, use https", base, u.Scheme)
	}
	return strings.TrimRight(u.String(), "/") + webhook.PathPrefix + strconv.FormatInt(id, 10), nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// EnableWebhook creates (or, when one is registered already, updates) the integration's webhook in Zendesk and the
// trigger that calls it on every ticket create and update, reads the webhook's signing secret and stores it sealed.
// Each id is saved as soon as Zendesk gives it, so a failure half-way is finished by running it again, not left
// as orphans in Zendesk. Running it again also picks up a secret reset in Zendesk (rotation).
func (c *Control) EnableWebhook(ctx context.Context, name, base string) (WebhookView, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return WebhookView{}, err
	}
	endpoint, err := WebhookEndpoint(base, in.ID)
	if err != nil {
		return WebhookView{}, err
	}
	k, err := c.key()
	if err != nil {
		return WebhookView{}, err
	}
	zc, err := c.zendesk(in)
	if err != nil {
		return WebhookView{}, err
	}
	hook, err := c.Store.IntegrationWebhook(ctx, in.ID)
	if err != nil {
		return WebhookView{}, err
	}
	hook.URL = sql.NullString{String: endpoint, Valid: true}
	if err := c.putWebhook(ctx, zc, in, hook); err != nil {
		return WebhookView{}, err
	}
	secret, err := zc.WebhookSigningSecret(ctx, hook.WebhookID.String)
	if err != nil {
		return WebhookView{}, fmt.Errorf("read the signing secret of webhook %s: %w", hook.WebhookID.String, err)
	}
	if hook.SecretEnc, err = k.Seal(secret); err != nil {
		return WebhookView{}, err
	}
	// The secret is stored before the trigger exists, so the first call it makes is verified.
	if err := c.Store.SaveWebhook(ctx, hook); err != nil {
		return WebhookView{}, err
	}
	if err := c.putTrigger(ctx, zc, in, hook); err != nil {
		return WebhookView{}, err
	}
	return webhookView(in.Name, hook), nil
}

func webhookView(name string, h *store.Webhook) WebhookView {
	return WebhookView{Integration: name, Webhook: h.On(), URL: h.URL.String, WebhookID: h.WebhookID.String,
		TriggerID: h.TriggerID.Int64}
}

func webhookName(in *store.Integration) string { return "zendesk-sync: " + in.Name }

// putWebhook updates the registered webhook, or creates one when none is registered or Zendesk no longer has it.
func (c *Control) putWebhook(ctx context.Context, zc *zendesk.Client, in *store.Integration, hook *store.Webhook) error {
	spec := zendesk.WebhookSpec{Name: webhookName(in), Endpoint: hook.URL.String}
	var nf *zendesk.NotFoundError
	if hook.WebhookID.Valid {
		err := zc.UpdateWebhook(ctx, hook.WebhookID.String, spec)
		if err == nil {
			return nil
		}
		if !errors.As(err, &nf) {
			return fmt.Errorf("update webhook %s in Zendesk: %w", hook.WebhookID.String, err)
		}
	}
	created, err := zc.CreateWebhook(ctx, spec)
	if err != nil {
		return fmt.Errorf("create the webhook in Zendesk: %w", err)
	}
	hook.WebhookID = sql.NullString{String: created.ID, Valid: true}
	return c.Store.SaveWebhook(ctx, hook)
}

// putTrigger updates the registered trigger, or creates one when none is registered or Zendesk no longer has it.
func (c *Control) putTrigger(ctx context.Context, zc *zendesk.Client, in *store.Integration, hook *store.Webhook) error {
	title := webhookName(in) + " (ticket changes)"
	var nf *zendesk.NotFoundError
	if hook.TriggerID.Valid {
		err := zc.UpdateTicketTrigger(ctx, hook.TriggerID.Int64, title, hook.WebhookID.String)
		if err == nil {
			return nil
		}
		if !errors.As(err, &nf) {
			return fmt.Errorf("update trigger %d in Zendesk: %w", hook.TriggerID.Int64, err)
		}
	}
	t, err := zc.CreateTicketTrigger(ctx, title, hook.WebhookID.String)
	if err != nil {
		return fmt.Errorf("create the trigger in Zendesk: %w", err)
	}
	hook.TriggerID = sql.NullInt64{Int64: t.ID, Valid: true}
	return c.Store.SaveWebhook(ctx, hook)
}

// DisableWebhook deletes the integration's trigger and webhook in Zendesk (those already gone are fine) and forgets
// them and the secret; calls that still arrive are answered 404.
func (c *Control) DisableWebhook(ctx context.Context, name string) (WebhookView, error) {
	in, err := c.Store.IntegrationByName(ctx, name)
	if err != nil {
		return WebhookView{}, err
	}
	hook, err := c.Store.IntegrationWebhook(ctx, in.ID)
	if err != nil {
		return WebhookView{}, err
	}
	if hook.WebhookID.Valid || hook.TriggerID.Valid {
		zc, err := c.zendesk(in)
		if err != nil {
			return WebhookView{}, err
		}
		var nf *zendesk.NotFoundError
		if hook.TriggerID.Valid {
			if err := zc.DeleteTrigger(ctx, hook.TriggerID.Int64); err != nil && !errors.As(err, &nf) {
				return WebhookView{}, fmt.Errorf("delete trigger %d in Zendesk: %w", hook.TriggerID.Int64, err)
			}
		}
		if hook.WebhookID.Valid {
			if err := zc.DeleteWebhook(ctx, hook.WebhookID.String); err != nil && !errors.As(err, &nf) {
				return WebhookView{}, fmt.Errorf("delete webhook %s in Zendesk: %w", hook.WebhookID.String, err)
			}
		}
	}
	off := &store.Webhook{IntegrationID: in.ID}
	if err := c.Store.SaveWebhook(ctx, off); err != nil {
		return WebhookView{}, err
	}
	return webhookView(in.Name, off), nil
}

// WebhookOn says whether the integration accepts webhook calls (`integration show`'s webhook field).
func (c *Control) WebhookOn(ctx context.Context, integrationID int64) (bool, error) {
	h, err := c.Store.IntegrationWebhook(ctx, integrationID)
	if err != nil {
		return false, err
	}
	return h.On(), nil
}
