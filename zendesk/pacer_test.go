package zendesk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Whole-second resets seen from several moments of one window narrow down when it resets; a later window starts
// afresh, and a reset with a fraction is taken as it is.
func TestResetBoundNarrowsWithinAWindowAndStartsAfreshAfterIt(t *testing.T) {
	p := newPacer()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	assert.Equal(t, at(5000), p.resetBound("k", at(0), 5*time.Second))
	assert.Equal(t, at(5000), p.resetBound("k", at(700), 5*time.Second), "a looser bound does not widen it")
	assert.Equal(t, at(4900), p.resetBound("k", at(900), 4*time.Second), "a tighter one narrows it")
	assert.Equal(t, at(14800), p.resetBound("k", at(4800), 10*time.Second),
		"a bound a whole second past the kept one is the next window's")
	assert.Equal(t, at(25000), p.resetBound("k", at(15000), 10*time.Second), "after the kept moment: a new window")
	assert.Equal(t, at(15000), p.resetBound("other", at(15000), 0), "limits are kept apart")
	assert.Equal(t, at(15300), p.resetBound("f", at(15000), 300*time.Millisecond))
	assert.Equal(t, at(15650), p.resetBound("f", at(15350), 300*time.Millisecond),
		"an exact reset past the kept one is the next window's")
}
