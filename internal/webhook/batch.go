package webhook

import (
	"context"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// Calls are passed on in batches: per integration, one signal is in flight at a time, and the ids of the calls
// that arrive meanwhile go together in the next. An idle receiver adds no delay; a burst costs a few signals (each
// an event in the workflow's history) instead of one per call, and is answered faster. Every call is answered
// only once its ids are in a signal Temporal accepted, so a 2xx never loses a hint.

// lane is the batching state of one integration; Receiver.mu guards it.
type lane struct {
	next *batch // ids waiting for the signal after the one in flight
	busy bool   // a drain goroutine is sending
}

// batch is the ids of one signal and the calls waiting for it.
type batch struct {
	ids  []int64
	seen map[int64]bool
	done chan struct{}
	err  error
}

func (b *batch) add(ids []int64) {
	for _, id := range ids {
		if !b.seen[id] {
			b.seen[id] = true
			b.ids = append(b.ids, id)
		}
	}
}

// signal passes ids on to the integration's workflow with the next batch, and waits until that batch is sent.
func (r *Receiver) signal(ctx context.Context, integrationID int64, ids []int64) error {
	r.mu.Lock()
	if r.lanes == nil {
		r.lanes = map[int64]*lane{}
	}
	l := r.lanes[integrationID]
	if l == nil {
		l = &lane{}
		r.lanes[integrationID] = l
	}
	if l.next == nil {
		l.next = &batch{seen: map[int64]bool{}, done: make(chan struct{})}
	}
	b := l.next
	b.add(ids)
	if !l.busy {
		l.busy = true
		go r.drain(integrationID, l)
	}
	r.mu.Unlock()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain sends the lane's batches one after the other until none is waiting.
func (r *Receiver) drain(integrationID int64, l *lane) {
	for {
		r.mu.Lock()
		b := l.next
		l.next = nil
		if b == nil {
			l.busy = false
			delete(r.lanes, integrationID)
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		b.err = r.Temporal.SignalWorkflow(ctx, contract.IntegrationWorkflowID(integrationID), "",
			contract.SignalTicketsChanged, contract.TicketsChanged{TicketIDs: b.ids})
		cancel()
		close(b.done)
	}
}
