package zendesk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// WebhookTicketBody is the JSON body the trigger registered by RegisterTicketTrigger asks Zendesk to send: the
// changed ticket's id, rendered by Zendesk's placeholder. Receivers take nothing else from a call's body.
const WebhookTicketBody = `{"ticket_id":"{{ticket.id}}"}`

// Webhook is a Zendesk webhook (POST /api/v2/webhooks).
type Webhook struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Status        string   `json:"status"`
	Endpoint      string   `json:"endpoint"`
	HTTPMethod    string   `json:"http_method"`
	RequestFormat string   `json:"request_format"`
	Subscriptions []string `json:"subscriptions"`
}

// WebhookSpec is what a webhook is created or updated with: a JSON POST to Endpoint, fired by triggers
// ("conditional_ticket_events").
type WebhookSpec struct {
	Name     string
	Endpoint string
}

func (s WebhookSpec) body() map[string]any {
	return map[string]any{"webhook": map[string]any{
		"name": s.Name, "endpoint": s.Endpoint, "http_method": "POST", "request_format": "json", "status": "active",
		"subscriptions": []string{"conditional_ticket_events"},
	}}
}

// webhookPath is the path of one webhook; ids are Zendesk's opaque strings, escaped so none can leave the path.
func webhookPath(id string, rest string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", errors.New("zendesk: webhook: empty id")
	}
	return "/api/v2/webhooks/" + url.PathEscape(id) + rest, nil
}

// CreateWebhook creates a webhook: POST /api/v2/webhooks, which answers 201 with it. Not retried (a write).
func (c *Client) CreateWebhook(ctx context.Context, s WebhookSpec) (*Webhook, error) {
	var out *Webhook
	err := c.do(ctx, &request{method: http.MethodPost, path: "/api/v2/webhooks", body: s.body(), want: http.StatusCreated},
		func(r io.Reader) error {
			var err error
			out, err = decodeSingle[Webhook](r, "webhook")
			return err
		})
	if err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, &MalformedResponseError{Endpoint: "/api/v2/webhooks", Err: errors.New("webhook without id")}
	}
	return out, nil
}

// UpdateWebhook replaces a webhook's settings: PUT /api/v2/webhooks/{id}, which answers 204. A webhook deleted
// in Zendesk meanwhile gives a *NotFoundError.
func (c *Client) UpdateWebhook(ctx context.Context, id string, s WebhookSpec) error {
	p, err := webhookPath(id, "")
	if err != nil {
		return err
	}
	return c.do(ctx, &request{method: http.MethodPut, path: p, body: s.body()}, nil)
}

// DeleteWebhook deletes a webhook: DELETE /api/v2/webhooks/{id} (204).
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	p, err := webhookPath(id, "")
	if err != nil {
		return err
	}
	return c.do(ctx, &request{method: http.MethodDelete, path: p}, nil)
}

type signingSecret struct {
	Algorithm string `json:"algorithm"`
	Secret    string `json:"secret"`
}

// WebhookSigningSecret reads the secret Zendesk signs the webhook's calls with:
// GET /api/v2/webhooks/{id}/signing_secret. The caller must keep it sealed; it is never logged here.
func (c *Client) WebhookSigningSecret(ctx context.Context, id string) (string, error) {
	p, err := webhookPath(id, "/signing_secret")
	if err != nil {
		return "", err
	}
	var out *signingSecret
	err = c.do(ctx, &request{method: http.MethodGet, path: p}, func(r io.Reader) error {
		var err error
		out, err = decodeSingle[signingSecret](r, "signing_secret")
		return err
	})
	if err != nil {
		return "", err
	}
	if out.Secret == "" {
		return "", &MalformedResponseError{Endpoint: "/api/v2/webhooks/{id}/signing_secret", Err: errors.New("empty secret")}
	}
	if out.Algorithm != "" && !strings.EqualFold(out.Algorithm, "sha256") {
		return "", &MalformedResponseError{Endpoint: "/api/v2/webhooks/{id}/signing_secret",
			Err: fmt.Errorf("signing algorithm %q, only SHA256 is supported", out.Algorithm)}
	}
	return out.Secret, nil
}

// Trigger is a Zendesk trigger (POST /api/v2/triggers).
type Trigger struct {
	ID     int64  `json:"id"`
	Title  string `json:"title"`
	Active bool   `json:"active"`
}

// ticketTrigger is a trigger that notifies webhookID with WebhookTicketBody whenever a ticket is created or updated.
func ticketTrigger(title, webhookID string) map[string]any {
	return map[string]any{"trigger": map[string]any{
		"title":  title,
		"active": true,
		"conditions": map[string]any{
			"all": []any{},
			"any": []any{
				map[string]any{"field": "update_type", "operator": "is", "value": "Create"},
				map[string]any{"field": "update_type", "operator": "is", "value": "Change"},
			},
		},
		"actions": []any{map[string]any{"field": "notification_webhook", "value": []string{webhookID, WebhookTicketBody}}},
	}}
}

// CreateTicketTrigger creates the trigger that calls webhook webhookID on every ticket create and update:
// POST /api/v2/triggers (201).
func (c *Client) CreateTicketTrigger(ctx context.Context, title, webhookID string) (*Trigger, error) {
	var out *Trigger
	err := c.do(ctx, &request{method: http.MethodPost, path: "/api/v2/triggers", body: ticketTrigger(title, webhookID),
		want: http.StatusCreated}, func(r io.Reader) error {
		var err error
		out, err = decodeSingle[Trigger](r, "trigger")
		return err
	})
	if err != nil {
		return nil, err
	}
	if out.ID <= 0 {
		return nil, &MalformedResponseError{Endpoint: "/api/v2/triggers", Err: errors.New("trigger without id")}
	}
	return out, nil
}

// UpdateTicketTrigger makes trigger id the ticket trigger of webhook webhookID again: PUT /api/v2/triggers/{id}
// (200). A trigger deleted in Zendesk meanwhile gives a *NotFoundError.
func (c *Client) UpdateTicketTrigger(ctx context.Context, id int64, title, webhookID string) error {
	if id <= 0 {
		return fmt.Errorf("zendesk: update trigger: invalid id %d", id)
	}
	return c.do(ctx, &request{method: http.MethodPut, path: fmt.Sprintf("/api/v2/triggers/%d", id),
		body: ticketTrigger(title, webhookID)}, nil)
}

// DeleteTrigger deletes a trigger: DELETE /api/v2/triggers/{id} (204).
func (c *Client) DeleteTrigger(ctx context.Context, id int64) error {
	if id <= 0 {
		return fmt.Errorf("zendesk: delete trigger: invalid id %d", id)
	}
	return c.do(ctx, &request{method: http.MethodDelete, path: fmt.Sprintf("/api/v2/triggers/%d", id)}, nil)
}
