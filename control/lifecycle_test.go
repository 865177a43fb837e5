package control_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/zendesk-sync/zendesk-sync/control"
	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/secrets"
	"github.com/zendesk-sync/zendesk-sync/store"
)

// temporalDown returns a control whose Temporal client points at a port nothing listens on, and one integration.
func temporalDown(t *testing.T) (*control.Control, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	st, err := store.Open(ctx, testdb.New(t), 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	key, err := secrets.ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())
	tc, err := client.NewLazyClient(client.Options{HostPort: closed})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	c := &control.Control{Store: st, Temporal: tc, TaskQueue: "zendesk-sync", Key: key}
	_, err = c.AddUser(ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	_, err = c.CreateIntegration(ctx, control.IntegrationSpec{Name: "acme", URL: "https://acme.zendesk.com",
		Email: "agent@example.com", Token: "tok", Owner: "owner@example.com"})
	require.NoError(t, err)
	return c, ctx
}

func active(t *testing.T, c *control.Control, ctx context.Context) bool {
	t.Helper()
	in, err := c.Store.IntegrationByName(ctx, "acme")
	require.NoError(t, err)
	return in.Active
}

// With Temporal down, `integration deactivate` cannot tell the workflow to stop: it must change nothing (the
// integration stays active, its workflow keeps running once Temporal is back) and say so.
func TestDeactivateWithTemporalDownChangesNothingAndSaysSo(t *testing.T) {
	c, ctx := temporalDown(t)
	in, err := c.Store.IntegrationByName(ctx, "acme")
	require.NoError(t, err)
	require.NoError(t, c.Store.SetActive(ctx, in.ID, true)) // activated while Temporal was up

	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = c.Deactivate(cctx, "acme")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `deactivate "acme"`)
	assert.Contains(t, err.Error(), "Temporal reachable")
	assert.Contains(t, err.Error(), "nothing changed: the integration is still active")
	assert.True(t, active(t, c, ctx), "a failed deactivate marked the integration inactive")
}

// The symmetric case: a failed activation leaves the flag as it was, whether it was inactive or already active.
func TestActivateWithTemporalDownLeavesTheFlagAsItWas(t *testing.T) {
	c, ctx := temporalDown(t)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := c.Activate(cctx, "acme")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Temporal reachable")
	assert.Contains(t, err.Error(), "still inactive")
	assert.False(t, active(t, c, ctx))

	in, err := c.Store.IntegrationByName(ctx, "acme")
	require.NoError(t, err)
	require.NoError(t, c.Store.SetActive(ctx, in.ID, true))
	cctx2, cancel2 := context.WithTimeout(ctx, 20*time.Second)
	defer cancel2()
	_, err = c.Activate(cctx2, "acme")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "still active")
	assert.True(t, active(t, c, ctx), "a failed activate of an active integration marked it inactive")
}
