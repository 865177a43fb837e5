package importing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/zendesk-sync/zendesk-sync/activities"
	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// RemapPage derives the cases of one page of mirrored tickets again under the integration's current mapping
// (`integration remap`), reading the tickets from the mirror, not from Zendesk. It writes only the cases whose
// values changed (mapping.Remap) and the merge bases that moved, in one transaction under the sync-state lock (so
// it never interleaves with an import page half-way). Running it twice changes nothing the second time.
func (a *Activities) RemapPage(ctx context.Context, in contract.RemapPageInput) (contract.RemapPageResult, error) {
	var res contract.RemapPageResult
	integ, err := a.Store.Integration(ctx, in.IntegrationID)
	if err != nil {
		return res, err
	}
	m, err := integ.CustomMapping()
	if err != nil {
		return res, err
	}
	dir, err := a.Directory(ctx)
	if err != nil {
		return res, err
	}
	stop := activities.KeepAlive(ctx)
	defer stop()
	limit := max(in.Limit, 1)
	err = a.Store.ApplyDirect(ctx, integ.ID, func(ptx *store.PageTx) error {
		mirrored, err := ptx.MirroredTickets(in.After, limit)
		if err != nil {
			return err
		}
		res.Done = len(mirrored) < limit
		tickets, err := decodeMirrored(mirrored)
		if err != nil {
			return err
		}
		if len(mirrored) > 0 {
			res.Next = mirrored[len(mirrored)-1].ZendeskID
		}
		r, err := remapTickets(ptx, integ, dir, m, tickets)
		res.Examined, res.Changed = r.Examined, r.Changed
		return err
	})
	return res, a.Classify(ctx, integ, "remap cases", err)
}

// decodeMirrored decodes the mirror's raw tickets; one that no longer decodes is a bug to see, not to skip.
func decodeMirrored(rows []store.MirroredTicket) ([]zendesk.Ticket, error) {
	out := make([]zendesk.Ticket, 0, len(rows))
	for _, r := range rows {
		var t zendesk.Ticket
		if err := json.Unmarshal(r.Raw, &t); err != nil {
			return nil, fmt.Errorf("mirrored ticket %d: %w", r.ZendeskID, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// remapTickets derives each ticket's case again and writes what changed.
func remapTickets(ptx *store.PageTx, in *store.Integration, dir *mapping.Directory, m *mapping.Mapping,
	tickets []zendesk.Ticket) (contract.RemapResult, error) {
	var res contract.RemapResult
	pp := activities.NewPeople(ptx, in, dir)
	var refs, ids []int64
	for i := range tickets {
		ids = append(ids, tickets[i].ID)
		refs = append(refs, activities.RoleIDs(&tickets[i])...)
	}
	if err := pp.Load(refs); err != nil {
		return res, err
	}
	existing, err := ptx.Tickets(ids)
	if err != nil {
		return res, err
	}
	var changed []store.CaseRow
	attrs := map[int64][]byte{}
	synced := map[int64][]byte{}
	for i := range tickets {
		t := &tickets[i]
		ex := existing[t.ID]
		if ex == nil || ex.Case == nil {
			continue
		}
		res.Examined++
		next, _ := pp.CaseValues(t)
		next = m.Apply(next, activities.Facts(t), activities.Extras(t), mapping.Direction.Imports)
		cr, s, err := remapCase(t, ex, next, mapping.Priority(in.Priority))
		if err != nil {
			return res, err
		}
		if s != nil {
			synced[t.ID] = s
		}
		if cr != nil {
			changed = append(changed, *cr)
			if cr.Attributes != nil {
				attrs[cr.ID] = cr.Attributes
			}
		}
	}
	res.Changed = int64(len(changed))
	if err := ptx.UpdateCases(changed); err != nil {
		return res, err
	}
	if err := ptx.SetCaseAttributes(attrs); err != nil {
		return res, err
	}
	return res, ptx.SetSynced(synced)
}

// remapCase is one case's remap: the case row to write (nil: unchanged) and the new merge base (nil: unchanged).
func remapCase(t *zendesk.Ticket, ex *store.ExistingTicket, next mapping.CaseValues, p mapping.Priority) (*store.CaseRow, []byte, error) {
	var base *mapping.CaseValues
	if len(ex.Synced) > 0 && string(ex.Synced) != "null" {
		var b mapping.CaseValues
		if err := json.Unmarshal(ex.Synced, &b); err == nil {
			base = &b
		}
	}
	current := caseValues(ex.Case)
	values, changed := mapping.Remap(current, base, next, p)
	js, err := json.Marshal(next)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the synced values of ticket %d: %w", t.ID, err)
	}
	var synced []byte
	if old, _ := json.Marshal(base); base == nil || !bytes.Equal(old, js) {
		synced = js
	}
	if len(changed) == 0 {
		return nil, synced, nil
	}
	cr := caseRow(ex.Case.ID, values)
	if values.Status == mapping.CaseStatusClosed && current.Status != mapping.CaseStatusClosed {
		cr.ClosedAt = activities.TimePtr(t.UpdatedAt)
	}
	return &cr, synced, nil
}
