package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/mapping"
	"github.com/zendesk-sync/zendesk-sync/store"
	"github.com/zendesk-sync/zendesk-sync/zendesk"
)

// A page's users that are mirrored already and unchanged are resolved from the mirror, not written again; anything
// that would change their row still does: a new CRM user with an agent's email, a deleted contact, a Zendesk edit.
func TestUpsertResolvesUnchangedUsersFromTheMirrorAndWritesTheRest(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, testdb.New(t), 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	owner, err := st.AddCRMUser(ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	id, err := st.CreateIntegration(ctx, &store.Integration{Name: "acme", URL: "http://zendesk.invalid",
		Email: "a@example.com", TokenEnc: []byte{0}, OwnerUserID: owner, Priority: "remote", IntervalSeconds: 60})
	require.NoError(t, err)
	in, err := st.Integration(ctx, id)
	require.NoError(t, err)

	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	agentEmail, endEmail := "agent@example.com", "jane@example.com"
	users := []zendesk.User{
		{ID: 1, Name: "Agent Smith", Email: &agentEmail, Role: mapping.RoleAgent, Active: true, CreatedAt: at, UpdatedAt: at, Raw: []byte(`{"id":1}`)},
		{ID: 2, Name: "Jane Doe", Email: &endEmail, Role: mapping.RoleEndUser, Active: true, CreatedAt: at, UpdatedAt: at, Raw: []byte(`{"id":2}`)},
	}
	upsert := func(dir *mapping.Directory) *People {
		var pp *People
		require.NoError(t, st.ApplyDirect(ctx, id, func(ptx *store.PageTx) error {
			pp = NewPeople(ptx, in, dir)
			return pp.Upsert(users)
		}))
		return pp
	}
	type row struct {
		Name      string    `db:"name"`
		CRMUserID *int64    `db:"crm_user_id"`
		ContactID *int64    `db:"contact_id"`
		UpdatedAt time.Time `db:"updated_at"`
	}
	mirror := func(zid int64) row {
		var r row
		require.NoError(t, st.DB.GetContext(ctx, &r, `SELECT name, crm_user_id, contact_id, updated_at FROM zd_users
			WHERE integration_id=$1 AND zendesk_id=$2`, id, zid))
		return r
	}
	dir := mapping.NewDirectory([]mapping.CRMUser{{ID: owner, Email: "owner@example.com"}})

	first := upsert(dir)
	jane := mirror(2)
	require.NotNil(t, jane.ContactID, "an end-user with an email gets a contact")
	require.Nil(t, mirror(1).CRMUserID, "no CRM user has the agent's email yet")
	require.Equal(t, *jane.ContactID, first.parties[2].ContactID)

	again := upsert(dir)
	require.Equal(t, *jane.ContactID, again.parties[2].ContactID, "resolved from the mirror row")
	require.Equal(t, mapping.RoleAgent, again.parties[1].Role)
	require.True(t, mirror(2).UpdatedAt.Equal(jane.UpdatedAt), "an unchanged user is not rewritten")
	var contacts int
	require.NoError(t, st.DB.GetContext(ctx, &contacts, `SELECT count(*) FROM contacts WHERE integration_id=$1`, id))
	require.Equal(t, 1, contacts)

	// A CRM user with the agent's email: the agent now resolves to them, and the mirror says so.
	smith, err := st.AddCRMUser(ctx, agentEmail, "Smith")
	require.NoError(t, err)
	dir = mapping.NewDirectory([]mapping.CRMUser{{ID: owner, Email: "owner@example.com"}, {ID: smith, Email: agentEmail}})
	pp := upsert(dir)
	require.Equal(t, smith, pp.parties[1].CRMUserID)
	require.Equal(t, smith, *mirror(1).CRMUserID)

	// The contact deleted in the CRM: the end-user gets one again.
	_, err = st.DB.ExecContext(ctx, `DELETE FROM contacts WHERE id=$1`, *jane.ContactID)
	require.NoError(t, err)
	pp = upsert(dir)
	require.NotNil(t, mirror(2).ContactID)
	require.Equal(t, *mirror(2).ContactID, pp.parties[2].ContactID)

	// Edited in Zendesk: the row is written.
	users[1].Name, users[1].UpdatedAt = "Jane Roe", at.Add(time.Minute)
	upsert(dir)
	require.Equal(t, "Jane Roe", mirror(2).Name)
}
