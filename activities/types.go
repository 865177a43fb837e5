package activities

// Settings is what the workflow needs to know of its integration: never a credential.
type Settings struct {
	Name            string
	Active          bool
	IntervalSeconds int
	TwoWay          bool
	Priority        string
	SettingsVersion int
}

// Position is where the integration's streams stand, as PostgreSQL (the source of truth) records it.
type Position struct {
	Generation    int
	TicketCursor  string
	EventsFrom    string
	FirstSyncDone bool
	Settings      Settings
}

// PageRef names one page of one stream: the integration, the sync generation and where the page starts.
type PageRef struct {
	IntegrationID int64
	Generation    int
	From          string
}

// FetchResult is what a fetch tells the workflow: where the next page starts and whether the stream ended.
type FetchResult struct {
	Next        string
	EndOfStream bool
	Records     int
}

// EndSyncInput records the end of a sync pass.
type EndSyncInput struct {
	IntegrationID int64
	FirstSyncDone bool
}

// ErrorInput records why a sync pass stopped ("" clears it).
type ErrorInput struct {
	IntegrationID int64
	Message       string
}
