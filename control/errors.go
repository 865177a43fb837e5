package control

import (
	"errors"
	"fmt"
	"time"
)

// InvalidError marks a value the user typed as malformed or out of range (a bad flag value), as opposed to a
// command that failed while it ran. The starter exits with code 2 for it, like for any other usage error.
type InvalidError struct{ error }

func (e InvalidError) Unwrap() error { return e.error }

// invalidf builds an InvalidError; its message names the flag at fault.
func invalidf(format string, args ...interface{}) error {
	return InvalidError{fmt.Errorf(format, args...)}
}

// IsInvalid says whether err, or an error it wraps, is a bad value the user typed.
func IsInvalid(err error) bool {
	var ie InvalidError
	return errors.As(err, &ie)
}

// MinInterval is the shortest time between incremental syncs: the same bound on create and on edit.
const MinInterval = time.Second

// ValidateInterval refuses an interval below MinInterval (0 included: it is not "the default", which is a flag's
// business, so create and edit read a typed value the same way).
func ValidateInterval(d time.Duration) error {
	if d < MinInterval {
		return invalidf("--interval %s is too short (at least %s; the default is 5m)", d, MinInterval)
	}
	return nil
}

// syncFromSlack tolerates a start date a little ahead of this clock (another time zone, a skewed clock).
const syncFromSlack = 24 * time.Hour

// ValidateSyncFrom refuses a first-sync start date in the future: Zendesk has no ticket updated then, so such an
// integration would import nothing until that day, which is a typo far more often than a wish.
func ValidateSyncFrom(t, now time.Time) error {
	if t.After(now.Add(syncFromSlack)) {
		return invalidf("--sync-from %s is in the future: the first sync imports tickets updated since that date",
			t.UTC().Format(time.RFC3339))
	}
	return nil
}
