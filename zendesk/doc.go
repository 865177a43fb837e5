// Package zendesk is the Zendesk Support API client of zendesk-sync: authentication, pacing under Zendesk's rate
// limits, the incremental exports a sync reads, the few writes two-way sync and publishing need, and typed errors.
//
// # What a sync costs
//
// A full sync of N tickets with E ticket events (about one per change; every comment is part of one) makes:
//
//   - ⌈N/1000⌉ requests to the cursor-based ticket export (TicketExportPage / ExportTickets), each with
//     include=users, so requesters, submitters and assignees arrive in the same response;
//   - ⌈E/1000⌉ requests to the incremental ticket-events export with include=comment_events
//     (CommentEventsPage), which carries every comment of every ticket in the window;
//   - ⌈A/100⌉ ShowManyUsers requests, only for the A comment authors not already side-loaded by the ticket pages
//     (typically agents who commented on a ticket they are not assigned to), and none if there are none.
//
// For 10,000 tickets with 30,000 events that is about 10 + 30 requests, far below the account's per-minute limit
// and within a few minutes of the 10/min incremental-export limit. An incremental sync that finds nothing new
// costs 2 requests. Per-ticket comment listing (TicketComments, ⌈C/100⌉ requests per ticket) exists only as a
// fallback, for example to repair one ticket; a sync must not use it per ticket, as the OroCRM bundle did, since
// that turns N tickets into at least N requests.
//
// Writes cost one request each: CreateUser, CreateTicket (the first comment is the description) and UpdateTicket
// (field changes and a new comment share one PUT). TicketsByExternalID and ShowTicket are read-before-write checks.
//
// # Pacing, retries and errors
//
// All goroutines sharing a Client share its pacing. After a 429 nothing is sent until Retry-After has passed; when
// a rate-limit header (X-Rate-Limit-Remaining, ratelimit-remaining/ratelimit-reset, zendesk-ratelimit-*) says a
// limit is exhausted, requests wait for its reset, so a long sync does not live on 429s. A pause longer than the
// context's deadline returns a *RateLimitError at once.
//
// Reads (GET) are retried up to Config.MaxRetries times on 429, 5xx (honouring Retry-After) and network errors,
// with exponential backoff and jitter. Writes (POST, PUT) are sent once: Zendesk may have applied a write whose
// answer was lost, so retrying them is the caller's decision (use NewTicket.IdempotencyKey).
//
// Failures are typed: *CredentialsError (401/403), *NotFoundError (404), *ClosedTicketError (422 on a closed
// ticket), *InvalidRecordError (other 4xx), *RateLimitError (429), *ServerError (5xx), *MalformedResponseError
// (a body that is not the promised JSON) and *NetworkError (transport). IsRetryable tells them apart. No error
// or log line contains the token or the Authorization header.
//
// # Decoding
//
// Pages are decoded as streams, record by record. A record that cannot be decoded (wrong types, no id) is returned
// in the page's Bad list with its raw bytes and the rest of the page is kept; list calls that return plain slices
// (ShowManyUsers, TicketComments, ...) log and skip such records. Every decoded Ticket, User and Comment keeps its
// exact JSON in Raw.
package zendesk
