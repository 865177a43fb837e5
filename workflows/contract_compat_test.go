package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/zendesk-sync/zendesk-sync/contract"
)

// TestActivityInputsOfOldRunsDecodeIntoTheStructInputs: a run started before the id-only activities took
// contract.IntegrationRef schedules them with a bare id (as the pre-contract histories show); a new worker must
// still decode that input, or the run's next activity fails for good.
func TestActivityInputsOfOldRunsDecodeIntoTheStructInputs(t *testing.T) {
	hist := loadHistory(t, "integration_history_pre_contract.json")
	idOnly := map[string]bool{contract.ActivityLoadSettings: true, contract.ActivitySyncPosition: true,
		contract.ActivityResetSync: true}
	seen := map[string]bool{}
	for _, ev := range hist.Events {
		a := ev.GetActivityTaskScheduledEventAttributes()
		if a == nil || !idOnly[a.GetActivityType().GetName()] {
			continue
		}
		p := a.GetInput().GetPayloads()[0]
		require.Equal(t, "42", string(p.GetData()), "the old history sends a bare id")
		var ref contract.IntegrationRef
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &ref))
		require.Equal(t, contract.IntegrationRef{IntegrationID: 42}, ref)
		seen[a.GetActivityType().GetName()] = true
	}
	require.Len(t, seen, len(idOnly), "the history covers every id-only activity")
}
