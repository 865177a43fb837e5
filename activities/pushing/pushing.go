// Package pushing is the push flow of two-way sync: it sends the recorded local changes of cases (fields and
// comments) to Zendesk, merged three ways against the values last synced and the ticket as Zendesk has it now.
package pushing

import "github.com/zendesk-sync/zendesk-sync/activities"

// Activities are the push flow's activities, on the dependencies every flow shares.
type Activities struct {
	*activities.Activities
}
