// Package publishing is "Publish to Zendesk": it creates the Zendesk ticket of a local case, exactly once.
package publishing

import "github.com/zendesk-sync/zendesk-sync/activities"

// Activities are the publish flow's activities, on the dependencies every flow shares.
type Activities struct {
	*activities.Activities
}
