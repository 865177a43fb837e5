package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/zendesk-sync/zendesk-sync/control"
)

// feed shows a first sync going 100 tickets a second for 10 s against a total of 5000, then its comments step.
func feed(d *display) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := control.ProgressView{Integration: "acme", Active: true, Phase: "first_sync"}
	for i := 0; i <= 20; i++ {
		p.TicketsSynced = int64(i * 50)
		d.update(p, t0.Add(time.Duration(i)*500*time.Millisecond))
	}
	p.Step, p.TicketsSynced = control.StepComments, 5000
	for i := 0; i <= 4; i++ {
		p.CommentsSynced = int64(i * 20)
		d.update(p, t0.Add(11*time.Second+time.Duration(i)*500*time.Millisecond))
	}
}

func TestProgressBarOnATerminal(t *testing.T) {
	defer func(was time.Duration) { barThrottle = was }(barThrottle)
	barThrottle = 0
	var w bytes.Buffer
	d := newDisplay(&w, true, control.ProgressView{Phase: "first_sync"}, 5000)
	feed(d)
	d.close()
	out := w.String()
	assert.Contains(t, out, "(1000/5000)", "the count against Zendesk's total")
	assert.Contains(t, out, "first sync: tickets · 100.0 tickets/s · about 40s left", "rate and time left")
	assert.Contains(t, out, "first sync: comments (tickets done: 5000) · 80 comments · 40.0 comments/s",
		"the comments step is named, with its own count and rate")
	assert.NotContains(t, out, "/min", "one rate unit: per second")
	assert.Contains(t, out, "\r", "redrawn in place")
}

func TestProgressLinesWhenNotATerminal(t *testing.T) {
	var w bytes.Buffer
	d := newDisplay(&w, false, control.ProgressView{Phase: "first_sync"}, 5000)
	feed(d)
	d.close()
	out := w.String()
	assert.NotContains(t, out, "\r", "no animation")
	assert.NotContains(t, out, "\x1b", "no terminal codes")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Equal(t, []string{
		"first sync: tickets 0/5000 · – tickets/s",
		"first sync: tickets 1000/5000 · 100.0 tickets/s · about 40s left",
		"first sync: comments (tickets done: 5000) · 0 comments · – comments/s",
	}, lines, "a line per step (and one per %s)", lineEvery)
}

// Zendesk's count is an estimate: more tickets than it said raise the total instead of passing 100%.
func TestProgressTotalGrowsPastTheEstimate(t *testing.T) {
	var w bytes.Buffer
	d := newDisplay(&w, true, control.ProgressView{Phase: "first_sync"}, 100)
	d.update(control.ProgressView{Phase: "first_sync", TicketsSynced: 150}, time.Now())
	d.close()
	assert.Contains(t, w.String(), "(150/150)")
	assert.Equal(t, int64(150), d.total)
}
