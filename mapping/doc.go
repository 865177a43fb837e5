// Package mapping holds the OroCRM Zendesk integration's business rules as
// pure functions: how ticket statuses and priorities become case values and
// back, how Zendesk people become CRM users or contacts, how names are split,
// and how conflicting edits are merged.
//
// It is kept free of I/O, clocks and other project packages so that the
// activities can call it inside a database transaction and tests can pin
// every rule (and every deliberate departure from OroCRM, see the spec's §10)
// without a database, a Zendesk account or Temporal.
package mapping
