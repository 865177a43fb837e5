#!/usr/bin/env bash
# make demo-stop: stops what `make demo` started (worker, simulator, Temporal dev server),
# by the pid files in .demo/. PostgreSQL is left running; the state in .demo/ is kept
# (Temporal's database, the secret key), so `make demo` resumes where it stopped.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

STATE_DIR="$REPO_ROOT/.demo"
stopped=()

# stop NAME SECONDS
stop() {
	local name="$1" secs="$2" pidfile="$STATE_DIR/$1.pid" pid rc
	if [ ! -f "$pidfile" ]; then
		echo "  $name: not started by the demo (no $pidfile)"
		return 0
	fi
	pid="$(cat "$pidfile")"
	rc=0
	stop_pid "$pid" "$secs" || rc=$?
	case "$rc" in
	0)
		echo "  $name: stopped (pid $pid)"
		stopped+=("$name")
		;;
	2)
		echo "  $name: did not stop within ${secs}s of SIGTERM; killed (pid $pid)"
		stopped+=("$name")
		;;
	*) echo "  $name: was not running (stale pid $pid)" ;;
	esac
	rm -f "$pidfile"
}

log "stopping the demo"
stop worker 30
# make demo WORKERS=N started worker-2 ... worker-N too.
for pidfile in "$STATE_DIR"/worker-*.pid; do
	[ -e "$pidfile" ] || continue
	name="${pidfile##*/}"
	stop "${name%.pid}" 30
done
stop zendesksim 10
stop temporal 30
if [ "${#stopped[@]}" -eq 0 ]; then
	echo "Nothing was running."
else
	echo "Stopped: ${stopped[*]}. PostgreSQL was left running; state kept in .demo/ (rm -rf .demo to forget it)."
fi
