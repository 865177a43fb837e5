package store

import (
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// Page writes load their rows with COPY into a temporary table of the session, then write the real table with one
// INSERT ... SELECT or UPDATE ... FROM. COPY's text rows cost PostgreSQL far less than a jsonb document of the
// whole page taken apart by jsonb_to_recordset, and the worker no longer encodes every row (raw payload included)
// as JSON first. Measured on the 100,000-ticket benchmark; see bench/results/PROFILE.md.

// inTable is a temporary table rows are loaded into: its name and column definitions, in COPY order.
type inTable struct {
	name string
	cols []string // "name type"
}

// The input tables. Each is created once per database session (IF NOT EXISTS) and emptied at every commit, so a
// page's rows never meet another page's.
var (
	inUsers = inTable{"zs_in_users", []string{"zendesk_id bigint", "name text", "email text", "role text",
		"phone text", "active boolean", "crm_user_id bigint", "contact_id bigint", "origin_created_at timestamptz",
		"origin_updated_at timestamptz", "raw jsonb"}}
	inContacts = inTable{"zs_in_contacts", []string{"email text", "name_prefix text", "first_name text",
		"middle_name text", "last_name text", "name_suffix text", "phone text", "owner_user_id bigint"}}
	inCases = inTable{"zs_in_cases", []string{"id bigint", "ticket_id bigint", "subject text", "description text",
		"status text", "priority text", "owner_user_id bigint", "assigned_to_user_id bigint", "contact_id bigint",
		"reported_at timestamptz", "closed_at timestamptz"}}
	inTickets = inTable{"zs_in_tickets", []string{"zendesk_id bigint", "url text", "subject text",
		"description text", "external_id text", "problem_id bigint", "type text", "status text", "priority text",
		"recipient text", "requester_id bigint", "submitter_id bigint", "assignee_id bigint",
		"collaborator_ids bigint[]", "has_incidents boolean", "due_at timestamptz", "origin_created_at timestamptz",
		"origin_updated_at timestamptz", "generated_timestamp bigint", "raw jsonb", "case_id bigint",
		"synced jsonb", "sync_generation integer", "raw_digest text"}}
	inComments = inTable{"zs_in_comments", []string{"zendesk_id bigint", "ticket_id bigint", "author_id bigint",
		"body text", "html_body text", "public boolean", "origin_created_at timestamptz", "raw jsonb"}}
)

func (t inTable) names() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i], _, _ = strings.Cut(c, " ")
	}
	return out
}

// load COPYs n rows (row(i) gives the values of row i, in the table's column order) into the temporary table.
// A table loaded before in the same transaction is emptied first. analyse gathers the table's statistics, for a
// statement that joins it to the mirror tables.
func (p *PageTx) load(t inTable, n int, analyse bool, row func(i int) []any) error {
	if p.loaded[t.name] {
		if _, err := p.tx.ExecContext(p.ctx, `TRUNCATE `+t.name); err != nil {
			return fmt.Errorf("empty %s: %w", t.name, err)
		}
	} else if _, err := p.tx.ExecContext(p.ctx, `CREATE TEMP TABLE IF NOT EXISTS `+t.name+` (`+
		strings.Join(t.cols, ", ")+`) ON COMMIT DELETE ROWS`); err != nil {
		return fmt.Errorf("create %s: %w", t.name, err)
	}
	if p.loaded == nil {
		p.loaded = map[string]bool{}
	}
	p.loaded[t.name] = true
	if err := p.copyRows(t.name, t.names(), n, row); err != nil {
		return err
	}
	if !analyse {
		return nil
	}
	// A temporary table has no statistics until analysed: the planner then guesses its size and joins it to the
	// mirror tables by scanning them whole, every page (a first sync's comment pages grew slower as zd_comments
	// grew). A page's thousand rows analyse in about a millisecond. Tables read straight into an INSERT need none.
	if _, err := p.tx.ExecContext(p.ctx, `ANALYZE `+t.name); err != nil {
		return fmt.Errorf("analyse %s: %w", t.name, err)
	}
	return nil
}

// copyRows COPYs n rows into table (a temporary input table, or a real one when every row is known to be new:
// then the rows are written once, as the COPY ceiling of the benchmark writes them, and the table's triggers fire
// as for an INSERT).
func (p *PageTx) copyRows(table string, cols []string, n int, row func(i int) []any) error {
	stmt, err := p.tx.PrepareContext(p.ctx, pq.CopyIn(table, cols...))
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	defer stmt.Close()
	for i := 0; i < n; i++ {
		if _, err := stmt.ExecContext(p.ctx, row(i)...); err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
	}
	if _, err := stmt.ExecContext(p.ctx); err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}

// nextIDs draws n ids from a sequence, so rows can be COPYed with their ids known beforehand.
func (p *PageTx) nextIDs(seq string, n int) ([]int64, error) {
	var ids []int64
	if err := p.tx.SelectContext(p.ctx, &ids, `SELECT nextval($1::regclass) FROM generate_series(1, $2)`, seq,
		n); err != nil {
		return nil, fmt.Errorf("draw %d ids from %s: %w", n, seq, err)
	}
	return ids, nil
}

// text is raw JSON as COPY must receive it for a jsonb column: as text (a []byte would be sent as bytea).
func text(raw []byte) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}

// int64s is an array value for COPY, in PostgreSQL's text form ("{1,2}"); nil stays NULL.
func int64s(v []int64) any {
	if v == nil {
		return nil
	}
	s, _ := pq.Int64Array(v).Value()
	return s
}
