// Package importing is the import flow: it fetches pages of Zendesk's ticket and comment exports, stages them in
// PostgreSQL, and applies staged pages (tickets to cases, comments to case comments) exactly once; it also fetches
// failed tickets again by id and applies those that now sync.
package importing

import "github.com/zendesk-sync/zendesk-sync/activities"

// Activities are the import flow's activities, on the dependencies every flow shares.
type Activities struct {
	*activities.Activities
}
