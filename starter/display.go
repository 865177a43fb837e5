package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/zendesk-sync/zendesk-sync/contract"
	"github.com/zendesk-sync/zendesk-sync/control"
)

// lineEvery spaces the plain lines printed when stdout is not a terminal (a log, a CI job): one per step change,
// else at most one per this interval.
const lineEvery = 10 * time.Second

// barThrottle bounds how often the bar is redrawn (a variable: tests draw every update).
var barThrottle = 100 * time.Millisecond

// display shows a followed sync: a bar redrawn in place on a terminal, else plain lines.
type display struct {
	w     io.Writer
	bar   *progressbar.ProgressBar // nil: plain lines
	total int64                    // the account's tickets; -1 when unknown
	label string                   // "first sync" or "sync"
	// Counters count since activation; the followed pass's figures are the difference from the first poll.
	baseTickets, baseComments int64
	meter                     rateMeter
	step, lastErr             string
	lineAt                    time.Time
}

func newDisplay(w io.Writer, animate bool, p control.ProgressView, total int64) *display {
	d := &display{w: w, total: total, label: "sync", baseTickets: p.TicketsSynced, baseComments: p.CommentsSynced}
	if !p.FirstSyncDone {
		// A first sync followed mid-way counts what it has done already: its total is the whole account.
		d.label, d.baseTickets, d.baseComments = "first sync", 0, 0
	}
	if animate {
		d.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			// Rate and time left are in the description, computed over a window of polls: the library's own
			// switch between it/s and it/min and its ETA from the first count (mid-sync) are not stable.
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(barThrottle),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	return d
}

// stepOf is what the pass is doing, in the words the display uses.
func stepOf(p control.ProgressView) string {
	switch {
	case p.Step != "":
		return p.Step
	case p.Phase == contract.PhaseFirstSync || p.Phase == contract.PhaseIncremental:
		return control.StepTickets
	case p.Phase == contract.PhaseWaiting:
		return "done" // the pass ended: the workflow waits for the next one
	}
	return p.Phase
}

// update shows one poll's figures.
func (d *display) update(p control.ProgressView, now time.Time) {
	step := stepOf(p)
	stepChanged := step != d.step
	if stepChanged {
		d.step, d.meter = step, rateMeter{}
	}
	tickets, comments := p.TicketsSynced-d.baseTickets, p.CommentsSynced-d.baseComments
	n := tickets
	if step == control.StepComments {
		n = comments
	}
	d.meter.add(now, n)
	if d.total >= 0 && tickets > d.total {
		d.total = tickets // the count is Zendesk's estimate; never show more than 100%
		if d.bar != nil {
			d.bar.ChangeMax64(d.total)
		}
	}
	d.showError(p)
	if d.bar != nil {
		d.bar.Describe(d.describe(step, tickets, comments, false))
		_ = d.bar.Set64(tickets)
		return
	}
	if stepChanged || now.Sub(d.lineAt) >= lineEvery {
		d.lineAt = now
		fmt.Fprintln(d.w, d.describe(step, tickets, comments, true))
	}
}

// describe is the figures in words: the step, what it counted, its rate in one unit (per second) and, for
// tickets against a known total, the time left. withCount adds the count the bar otherwise shows.
func (d *display) describe(step string, tickets, comments int64, withCount bool) string {
	rate, ok := d.meter.perSecond()
	s := d.label + ": " + step
	switch step {
	case control.StepTickets:
		if withCount {
			s += " " + countOf(tickets, d.total)
		}
		s += fmt.Sprintf(" · %s tickets/s", rateText(rate, ok))
		if ok && rate > 0 && d.total > tickets {
			left := time.Duration(float64(d.total-tickets)/rate) * time.Second
			s += " · about " + left.Round(time.Second).String() + " left"
		}
	case control.StepComments:
		s += fmt.Sprintf(" (tickets done: %d) · %d comments · %s comments/s", tickets, comments, rateText(rate, ok))
	}
	return s
}

func countOf(n, total int64) string {
	if total < 0 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d/%d", n, total)
}

func rateText(rate float64, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.1f", rate)
}

// showError prints a new last error once, above the bar: a transient error the workflow retries by itself.
func (d *display) showError(p control.ProgressView) {
	if p.LastError == nil || *p.LastError == d.lastErr {
		return
	}
	d.lastErr = *p.LastError
	if d.bar != nil {
		_ = d.bar.Clear()
	}
	if r := retryingText(p); r != "" {
		fmt.Fprintf(d.w, "last error: %s (retrying: %s)\n", d.lastErr, r)
	} else {
		fmt.Fprintf(d.w, "last error: %s\n", d.lastErr)
	}
}

// interrupt erases the bar, so Ctrl-C leaves a clean line and nothing else.
func (d *display) interrupt() {
	if d.bar != nil {
		_ = d.bar.Clear()
		_ = d.bar.Exit()
		d.bar = nil
	}
}

// close leaves the bar as it last was and moves below it.
func (d *display) close() {
	if d.bar != nil {
		_ = d.bar.Exit()
		fmt.Fprintln(d.w)
	}
}

// rateWindow is how far back the rate looks: long enough to smooth a page's burst, short enough to follow a
// change of pace.
const rateWindow = 15 * time.Second

// rateMeter measures a count's rate per second over the last rateWindow.
type rateMeter struct {
	at []time.Time
	n  []int64
}

func (m *rateMeter) add(at time.Time, n int64) {
	m.at, m.n = append(m.at, at), append(m.n, n)
	for len(m.at) > 2 && at.Sub(m.at[1]) >= rateWindow {
		m.at, m.n = m.at[1:], m.n[1:]
	}
}

// perSecond is the rate over the window; false until a second of figures is in.
func (m *rateMeter) perSecond() (float64, bool) {
	if len(m.at) < 2 {
		return 0, false
	}
	dt := m.at[len(m.at)-1].Sub(m.at[0]).Seconds()
	if dt < 1 {
		return 0, false
	}
	return float64(m.n[len(m.n)-1]-m.n[0]) / dt, true
}
