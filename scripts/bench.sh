#!/usr/bin/env bash
# Runs the benchmark program in ./bench (arguments are passed on).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

if [ ! -d bench ] || ! compgen -G 'bench/*.go' >/dev/null; then
	echo "The benchmark is not built yet (no ./bench package)." >&2
	exit 1
fi
ensure_postgres
exec go run ./bench "$@"
