package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/zendesksim/sim"
)

// The text of `sync --dry-run` on a two-way integration against the real stack: a pending local edit is shown as
// the push it would be, and a field changed on both sides as a conflict with the side the priority makes win.
func TestDryRunTextOfATwoWayIntegration(t *testing.T) {
	st := newStack(t, 0)
	st.ok("user", "add", "--email", "admin@example.com", "--name", "Admin")
	st.ok("integration", "create", "--name", "tw", "--url", st.simURL, "--email", simEmail, "--token", simToken,
		"--owner", "admin@example.com", "--two-way", "--interval", "1h")
	st.ok("integration", "activate", "tw")
	st.ok("progress", "tw", "--follow")
	// Deactivated, so the local edits below wait (the relay would push them within seconds).
	st.ok("integration", "deactivate", "tw")
	require.Eventually(t, func() bool {
		var p struct{ Phase string }
		return json.Unmarshal([]byte(st.ok("progress", "tw", "-o", "json").out), &p) == nil && p.Phase == "inactive"
	}, time.Minute, 200*time.Millisecond)

	var cases []struct {
		ID       int64
		Priority string
		Ticket   struct{ ID int64 }
	}
	require.NoError(t, json.Unmarshal([]byte(st.ok("case", "list", "--integration", "tw", "-o", "json").out), &cases))
	var picked []int
	for i, c := range cases {
		var tk struct{ Status string }
		raw, ok := st.sim.Ticket(c.Ticket.ID)
		if ok && !st.sim.IsDeleted(c.Ticket.ID) && json.Unmarshal(raw, &tk) == nil && tk.Status != "closed" {
			picked = append(picked, i)
		}
		if len(picked) == 2 {
			break
		}
	}
	require.Len(t, picked, 2)
	a, b := cases[picked[0]], cases[picked[1]]
	remote := "Refund request (changed in Zendesk)"
	require.NoError(t, st.sim.ChangeTicket(a.Ticket.ID, sim.TicketChange{Subject: &remote}))
	st.ok("case", "update", strconv.FormatInt(a.ID, 10), "--subject", "Refund request (changed in the CRM)")
	prio := "high"
	if b.Priority == "high" {
		prio = "low"
	}
	st.ok("case", "update", strconv.FormatInt(b.ID, 10), "--priority", prio)

	r := st.ok("sync", "tw", "--dry-run")
	t.Logf("starter sync tw --dry-run:\n%s", r.out)
	assert.Regexp(t, `pushes:\s+1 to Zendesk`, r.out)
	assert.Regexp(t, `conflicts:\s+1\n`, r.out)
	assert.Contains(t, r.out, fmt.Sprintf("push update  case %d, ticket %d\n    priority: %q → %q\n",
		b.ID, b.Ticket.ID, b.Priority, prio))
	assert.Regexp(t, regexp.QuoteMeta(fmt.Sprintf(`conflict  case %d, ticket %d, subject: local "Refund request `+
		`(changed in the CRM)", Zendesk %q → remote wins (decided at the push)`, a.ID, a.Ticket.ID, remote)), r.out)
}
