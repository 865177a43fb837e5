package opsmetrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/zendesk-sync/zendesk-sync/internal/testdb"
	"github.com/zendesk-sync/zendesk-sync/store"
)

func TestStateReadsLagPhaseOutboxAndBudgets(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, testdb.New(t), 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	uid, err := st.AddCRMUser(ctx, "owner@example.com", "Owner")
	require.NoError(t, err)
	integ, err := st.CreateIntegration(ctx, &store.Integration{Name: "acme", URL: "https://acme.zendesk.com",
		Email: "agent@acme.com", TokenEnc: []byte{1}, OwnerUserID: uid, TwoWay: true, Priority: "remote",
		IntervalSeconds: 300, Active: true})
	require.NoError(t, err)
	_, err = st.CreateCase(ctx, store.LocalCase{IntegrationID: integ, Subject: "x", Status: "open", Priority: "normal"})
	require.NoError(t, err)
	_, err = st.DB.Exec(`UPDATE sync_state SET ticket_generated_max = extract(epoch FROM now())::bigint - 90
		WHERE integration_id = $1`, integ)
	require.NoError(t, err)
	require.NoError(t, st.RateLimits().Observe(ctx, "https://acme.zendesk.com", 700, 650, time.Minute))

	reg := prometheus.NewRegistry()
	reg.MustRegister(NewState(st.DB))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	t.Logf("%v", got)
	require.Equal(t, 1.0, got["zendesk_sync_integration_phase{integration=acme,phase=first_sync}"])
	require.Equal(t, 1.0, got["zendesk_sync_outbox_pending{integration=acme,parked=false}"])
	require.Equal(t, 650.0, got["zendesk_sync_ratelimit_shared_remaining{bucket=https://acme.zendesk.com}"])
	require.InDelta(t, 90, got["zendesk_sync_sync_lag_seconds{integration=acme}"], 5)
}
