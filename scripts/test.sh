#!/usr/bin/env bash
# Runs every test of the project: formatting, go vet, then `go test ./...` against a
# local PostgreSQL database (zendesk_sync_test). Tests start their own in-process
# Temporal server; nothing here needs Docker or a running Temporal.
#
# Extra arguments go to `go test` (e.g. ./scripts/test.sh -run TestFirstSync).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

TEST_DB="${TEST_DB:-zendesk_sync_test}"
GO_TEST_TIMEOUT="${GO_TEST_TIMEOUT:-40m}"

log "PostgreSQL"
ensure_postgres
ensure_database "$TEST_DB"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$TEST_DB?sslmode=disable}"
ok "TEST_DATABASE_URL=$TEST_DATABASE_URL"

log "gofmt"
# Every .go file outside hidden directories (.demo, .git) and vendor/.
unformatted="$(find . \( -path './.*' -o -path './vendor' \) -prune -o -type f -name '*.go' -print0 |
	xargs -0 -r gofmt -l 2>&1 || true)"
if [ -n "$unformatted" ]; then
	printf '%s\n' "$unformatted" >&2
	die "gofmt: the files above need formatting (run: gofmt -w <file>)"
fi
ok "gofmt: clean"

log "go vet ./..."
go vet ./... || die "go vet failed (see above)"
ok "go vet: clean"

log "go test -count=1 -timeout $GO_TEST_TIMEOUT ./... $*"
go test -count=1 -timeout "$GO_TEST_TIMEOUT" ./... "$@" || die "go test failed (see above)"
ok "all tests passed"
