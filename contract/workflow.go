package contract

import "time"

// Input starts (or continues) an integration workflow. State is nil on the first run; continue-as-new carries it.
type Input struct {
	IntegrationID int64
	Name          string
	State         *State
}

// Counters is what a sync has done; zero values are a fresh start.
//
// It is also the totals of store.SyncState: the db tags are the sync_state columns (pushed has none).
type Counters struct {
	Pages          int64 `json:"pages" db:"pages"`
	TicketsSynced  int64 `json:"tickets_synced" db:"tickets_synced"`
	CasesCreated   int64 `json:"cases_created" db:"cases_created"`
	CasesUpdated   int64 `json:"cases_updated" db:"cases_updated"`
	CommentsSynced int64 `json:"comments_synced" db:"comments_synced"`
	Failures       int64 `json:"failures" db:"failures"`
	Pushed         int64 `json:"pushed" db:"-"`
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	c.Pages += o.Pages
	c.TicketsSynced += o.TicketsSynced
	c.CasesCreated += o.CasesCreated
	c.CasesUpdated += o.CasesUpdated
	c.CommentsSynced += o.CommentsSynced
	c.Failures += o.Failures
	c.Pushed += o.Pushed
}

// State is everything the workflow carries across continue-as-new: small and bounded. Zero values mean defaults,
// so states written by older runs still decode.
type State struct {
	Phase         string
	FirstSyncDone bool
	Generation    int
	Totals        Counters // since activation or the last reset
	LastSyncAt    *time.Time
	LastError     string

	SyncRequested   bool
	ResetsRequested int
	ResetsApplied   int
	SyncsCompleted  int
	LastSync        SyncResult

	CredentialsRejected bool
	SettingsChanged     bool
	Deactivated         bool
	LocalChanges        bool
	Cycles              int
	InPass              bool

	// NextPassAt is when the next pass is due while the workflow waits between passes; nil during a pass.
	NextPassAt *time.Time `json:",omitempty"`

	// Resume is a pass the previous run handed over between two pages (continue-as-new mid-pass); nil otherwise.
	Resume *PassResume `json:",omitempty"`

	// ChangedTickets are the ticket ids webhook calls named and no step has fetched yet: a set (each id once, so a
	// burst of calls for one ticket costs one fetch), bounded by MaxChangedTickets.
	ChangedTickets []int64 `json:",omitempty"`
}

// MaxChangedTickets bounds State.ChangedTickets. Past it, the ids are dropped and a pass is asked for instead: an
// export page is cheaper than that many tickets fetched by id, and the state stays small.
const MaxChangedTickets = 1000

// TicketsChanged is the payload of SignalTicketsChanged: ticket ids only, the one thing taken from a webhook's body.
type TicketsChanged struct {
	TicketIDs []int64
}

// PassResume is where a pass stopped when its run continued as new between two pages. The committed stream
// positions in PostgreSQL stay the source of truth; From is the same position, kept for inspection.
type PassResume struct {
	Stream string   // the stream the pass was in (tickets or comments); the streams before it are done
	From   string   // where the next page of that stream starts
	Did    Counters // what the pass did so far
	Runs   int      // how many runs the pass has spanned before this one
}

// Progress is the answer of the progress query.
type Progress struct {
	IntegrationID int64      `json:"integration_id"`
	Name          string     `json:"integration"`
	Phase         string     `json:"phase"`
	FirstSyncDone bool       `json:"first_sync_done"`
	Generation    int        `json:"generation"`
	Counters      Counters   `json:"counters"`
	LastSyncAt    *time.Time `json:"last_sync_at"`
	LastError     string     `json:"last_error"`
	// TicketsTotal is the number of tickets the first sync expects, when known (0 otherwise): it drives the bar.
	SyncsCompleted int `json:"syncs_completed"`
}

// SyncRequest asks for an incremental sync now; with Wait the update returns when that sync has ended.
type SyncRequest struct {
	Wait bool
	// WaitFor, when set, waits for the pass of that sequence number instead of requesting one: a caller answered
	// Pending (the run continued as new) asks the next run for the same pass.
	WaitFor int `json:",omitempty"`
}

// SyncResult says what one sync pass did.
type SyncResult struct {
	Seq      int      `json:"seq"`
	Counters Counters `json:"counters"`
	Error    string   `json:"error,omitempty"`
	Phase    string   `json:"phase"`
	// Pending means the pass has not ended yet and the run continued as new: ask again with WaitFor = Seq.
	Pending bool `json:"pending,omitempty"`
	// Superseded means a reset cut the pass short: it does not answer a caller waiting for a sync.
	Superseded bool `json:"superseded,omitempty"`
}

// ResetRequest asks for a full first sync again. Confirm must be true: a reset re-reads the whole account.
type ResetRequest struct {
	Confirm bool
}

// ResetResult is the generation the reset started.
type ResetResult struct {
	Generation int `json:"generation"`
}
