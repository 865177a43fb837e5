package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zendesk-sync/zendesk-sync/control"
)

func (a *app) integrationWebhookCmd() *cobra.Command {
	var base string
	var remove bool
	cmd := &cobra.Command{
		Use:   "webhook NAME --url URL | --remove",
		Short: "Turn Zendesk webhooks on (changes reach the CRM within seconds) or off",
		Long: "Turn Zendesk webhooks on (changes reach the CRM within seconds) or off.\n\n" +
			"With --url, creates (or updates) a webhook in Zendesk that calls URL/webhooks/zendesk/<integration id>,\n" +
			"and the trigger that fires it on every ticket create and update; reads the webhook's signing secret and\n" +
			"stores it sealed. URL is the public https address of the worker's receiver (WEBHOOK_ADDR), usually a\n" +
			"TLS-terminating proxy. Run it again after resetting the secret in Zendesk. --remove deletes both in\n" +
			"Zendesk and forgets the secret. The periodic export keeps running either way.",
		Example: "  starter integration webhook acme --url https://sync.example.com\n" +
			"  starter integration webhook acme --remove",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if remove == (base != "") {
				return usagef("give either --url URL or --remove")
			}
			var v control.WebhookView
			var err error
			if remove {
				v, err = a.control().DisableWebhook(cmd.Context(), args[0])
			} else {
				v, err = a.control().EnableWebhook(cmd.Context(), args[0], base)
			}
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(v)
			}
			if !v.Webhook {
				_, err = fmt.Fprintf(a.out, "webhooks off for %s (webhook and trigger deleted in Zendesk)\n", v.Integration)
				return err
			}
			_, err = fmt.Fprintf(a.out, "webhooks on for %s: Zendesk calls %s (webhook %s, trigger %d)\n",
				v.Integration, v.URL, v.WebhookID, v.TriggerID)
			return err
		},
	}
	cmd.Flags().StringVar(&base, "url", "", "public base `URL` of the webhook receiver (https; http for loopback only)")
	cmd.Flags().BoolVar(&remove, "remove", false, "delete the webhook and its trigger in Zendesk")
	return needs(cmd, needStore, needKey)
}
