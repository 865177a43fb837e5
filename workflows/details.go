package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// showDetails sets the workflow's current details (Temporal user metadata) to a short summary, so the workflow's
// page in the Web UI says what it is doing without a query: the phase, what the sync did so far, the last sync,
// the last error and when the next pass is due. Current details are served by the built-in metadata query and
// write nothing to history, so updating them needs no workflow.GetVersion.
func (w *runner) showDetails() {
	st := w.st
	var b strings.Builder
	switch st.Phase {
	case contract.PhaseFirstSync:
		b.WriteString("**First sync** in progress")
	case contract.PhaseIncremental:
		b.WriteString("**Incremental sync** in progress")
	case contract.PhaseWaiting:
		// The pass stays due when it was however many pushes wake the workflow meanwhile (State.NextPassAt); the
		// first wait after a pass sets it to an interval from now.
		next := workflow.Now(w.ctx).Add(w.interval).UTC()
		if st.NextPassAt != nil {
			next = st.NextPassAt.UTC()
		}
		fmt.Fprintf(&b, "**Waiting**: next pass at %s (every %s), or at once on `starter sync`",
			next.Format("2006-01-02 15:04:05 UTC"), w.interval)
		if w.settings.TwoWay {
			b.WriteString("; local changes are pushed within seconds")
		}
	case contract.PhaseCredentialsRejected:
		b.WriteString("**Credentials rejected** by Zendesk: waiting for `starter integration edit` with a valid token " +
			"(OAuth: `starter integration connect`)")
	case contract.PhaseInactive:
		b.WriteString("**Inactive**: deactivated")
	default:
		fmt.Fprintf(&b, "**%s**", st.Phase)
	}
	c := st.Totals
	fmt.Fprintf(&b, "\n\nTickets synced: %d · cases created: %d · cases updated: %d · comments: %d · failures: %d",
		c.TicketsSynced, c.CasesCreated, c.CasesUpdated, c.CommentsSynced, c.Failures)
	if c.Pushed > 0 {
		fmt.Fprintf(&b, " · pushed to Zendesk: %d", c.Pushed)
	}
	last := "never"
	if st.LastSyncAt != nil {
		last = st.LastSyncAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "\n\nLast sync: %s · passes so far: %d", last, st.SyncsCompleted)
	lastErr := "none"
	if st.LastError != "" {
		lastErr = st.LastError
	}
	fmt.Fprintf(&b, "\n\nLast error: %s", lastErr)
	workflow.SetCurrentDetails(w.ctx, b.String())
}
