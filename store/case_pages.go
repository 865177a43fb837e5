package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// CasePage returns up to limit cases whose id is above after, by id, each one JSON object in the shape of
// `starter case list -o json` (of one integration when integrationID > 0). Keyset paging: a page costs the same
// wherever it starts, and cases created meanwhile are neither skipped nor repeated.
func (s *Store) CasePage(ctx context.Context, integrationID, after int64, limit int) ([]json.RawMessage, error) {
	cond, args := "c.id > $1", []interface{}{after, limit}
	if integrationID > 0 {
		cond, args = cond+" AND c.integration_id = $3", append(args, integrationID)
	}
	q := `SELECT to_json(x) FROM (` + fmt.Sprintf(caseRows, cond+" ORDER BY c.id LIMIT $2") + `) x ORDER BY x.id`
	rows, err := s.DB.QueryxContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases after %d: %w", after, err)
	}
	defer rows.Close()
	var out []json.RawMessage
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("list cases after %d: %w", after, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
