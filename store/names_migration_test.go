package store

import (
	"context"
	"strconv"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
)

// Names that collide ignoring case before migration 00009 are kept apart by the id appended to the younger ones;
// afterwards such a name is refused as already existing.
func TestIntegrationNamesUniqueIgnoringCase(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testdb.New(t), 0)
	require.NoError(t, err)
	defer s.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, s.DB.DB, mustSub(migrations, "migrations"))
	require.NoError(t, err)
	_, err = provider.DownTo(ctx, 8)
	require.NoError(t, err)

	owner, err := s.AddCRMUser(ctx, "admin@example.com", "Admin")
	require.NoError(t, err)
	var ids []int64
	for _, name := range []string{"Acme", "acme", "ACME", "beta"} {
		id, err := s.CreateIntegration(ctx, &Integration{Name: name, URL: "https://x.zendesk.com", Email: "a@x.com",
			TokenEnc: []byte{1}, OwnerUserID: owner, Priority: "remote", IntervalSeconds: 300})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.NoError(t, s.Migrate(ctx))
	for i, want := range []string{"Acme", "acme-" + strconv.FormatInt(ids[1], 10), "ACME-" + strconv.FormatInt(ids[2], 10), "beta"} {
		in, err := s.Integration(ctx, ids[i])
		require.NoError(t, err)
		assert.Equal(t, want, in.Name)
	}
	_, err = s.CreateIntegration(ctx, &Integration{Name: "BETA", URL: "https://x.zendesk.com", Email: "a@x.com",
		TokenEnc: []byte{1}, OwnerUserID: owner, Priority: "remote", IntervalSeconds: 300})
	assert.ErrorIs(t, err, ErrExists)
}
