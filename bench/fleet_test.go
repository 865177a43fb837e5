package main

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The idle measurement's CPU reading is the process's own user + system time: it grows with work done.
func TestCPUSecondsGrowsWithWork(t *testing.T) {
	before, err := cpuSeconds(os.Getpid())
	require.NoError(t, err)
	x := 0
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		x++
	}
	after, err := cpuSeconds(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, after, before, "spun %d times", x)
	_, err = cpuSeconds(-1)
	assert.Error(t, err)
}

// Sizes default to the issue's, shrink when quick, and bad settings are refused by name.
func TestFleetSizesFromEnv(t *testing.T) {
	full, err := fleetSizesFromEnv(false)
	require.NoError(t, err)
	assert.Equal(t, fleetSizes{MultiIntegrations: 100, MultiTickets: 1000, MultiWorkers: 2, LoadN: 100000,
		LoadSamples: 40, IdleIntegrations: 500, IdleInterval: time.Minute, IdleWindow: 5 * time.Minute,
		Skip: map[string]bool{}}, full)
	t.Setenv("BENCH_SKIP", "idle, push_load")
	t.Setenv("BENCH_MULTI_INTEGRATIONS", "7")
	quick, err := fleetSizesFromEnv(true)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"idle": true, "push_load": true}, quick.Skip)
	assert.Equal(t, 7, quick.MultiIntegrations)
	assert.Equal(t, time.Minute, quick.IdleWindow)
	t.Setenv("BENCH_SKIP", "idel")
	_, err = fleetSizesFromEnv(false)
	assert.ErrorContains(t, err, `unknown part "idel"`)
	t.Setenv("BENCH_SKIP", "")
	t.Setenv("BENCH_IDLE_WINDOW", "five minutes")
	_, err = fleetSizesFromEnv(false)
	assert.ErrorContains(t, err, "BENCH_IDLE_WINDOW")
}
