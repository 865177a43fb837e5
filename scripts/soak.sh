#!/usr/bin/env bash
# Runs the randomised convergence test (soak/): real worker processes, an in-process Temporal server, a fresh
# PostgreSQL database and two Zendesk simulators, with edits on both sides, workers killed, connections cut and
# API faults injected for SOAK_MINUTES; then the sync settles and every case is checked. See README, "Soak test".
#
#   SOAK_MINUTES  minutes of noise (default 3)
#   SOAK_WORKERS  worker processes, 1 or 2 (default 2)
#   SOAK_SEED     seed of every random choice (default: a new one, printed; set it to replay a run)
#   SOAK_LOGDIR   keep the worker logs there (default: a temporary directory, removed at the end)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

export SOAK_MINUTES="${SOAK_MINUTES:-3}"
export SOAK_WORKERS="${SOAK_WORKERS:-2}"
export SOAK_SEED="${SOAK_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
TEST_DB="${TEST_DB:-zendesk_sync_test}"

log "PostgreSQL"
ensure_postgres
ensure_database "$TEST_DB"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$TEST_DB?sslmode=disable}"

# The noise, then up to 12 minutes to settle, plus start-up and the check.
timeout_min="$(awk -v m="$SOAK_MINUTES" 'BEGIN { printf "%d", m + 30 }')"
log "soak: $SOAK_MINUTES minute(s), $SOAK_WORKERS worker(s), seed $SOAK_SEED (replay: SOAK_SEED=$SOAK_SEED make soak)"
if go test -count=1 -timeout "${timeout_min}m" -run '^TestSoak$' -v ./soak; then
	ok "soak passed (seed $SOAK_SEED)"
else
	die "soak failed: see the mismatches above; replay with SOAK_SEED=$SOAK_SEED SOAK_MINUTES=$SOAK_MINUTES SOAK_WORKERS=$SOAK_WORKERS make soak"
fi
