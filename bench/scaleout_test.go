package main

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

// The scale-out measurements themselves, against real PostgreSQL: three relays send one signal per change, and two
// clients sharing one account's budget at its limit draw no 429 beyond the first of a window.
func TestScaleOutKeys(t *testing.T) {
	admin, err := sql.Open("postgres", adminURL())
	require.NoError(t, err)
	defer admin.Close()
	cl := &cleanups{}
	defer cl.run()
	r, err := scaleOut(context.Background(), &databases{admin: admin, cl: cl})
	require.NoError(t, err)
	t.Logf("%+v", *r)
	require.Equal(t, 1.0, r.SignalsPerChange)
	require.Zero(t, r.Extra429)
	require.Greater(t, r.Requests, 2*r.Limit, "the clients ran into the limit")
}
