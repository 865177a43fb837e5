#!/usr/bin/env bash
# make demo: every set-up step on a fresh machine, then the first sync of a demo
# integration against the Zendesk simulator. Returns leaving the stack up:
#
#   PostgreSQL  127.0.0.1:5432   (the local cluster; started if down, never stopped)
#   Temporal    127.0.0.1:7233   dev server, Web UI on http://127.0.0.1:8233
#   zendesksim  127.0.0.1:8090   simulated Zendesk account (3000 tickets, seed 1)
#   worker      metrics on 127.0.0.1:9464
#
# State lives in .demo/ (gitignored): pid files, logs, the secret key, Temporal's
# database and the binaries. Running it again reuses whatever already runs.
# `make demo-stop` stops what it started; `rm -rf .demo` after that forgets it all.
#
# Settings (environment): DEMO_TICKETS (3000), DEMO_SYNC_TIMEOUT (seconds, 1800),
# DEMO_DATABASE_URL (postgres://postgres@127.0.0.1:5432/zendesk_sync?sslmode=disable),
# DEMO_SKIP_BUILD=1 (use the binaries already in .demo/bin; for testing this script),
# WORKERS (1): how many worker processes (make demo WORKERS=3), metrics on 9464, 9474, 9475, ...
set -Eeuo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

STATE_DIR="$REPO_ROOT/.demo"
BIN="$STATE_DIR/bin"
DB_NAME=zendesk_sync
INTEGRATION=demo
SIM_HOST=127.0.0.1
SIM_PORT=8090
SIM_URL="http://$SIM_HOST:$SIM_PORT"
SIM_TICKETS="${DEMO_TICKETS:-3000}"
# DEMO_AUTH=oauth: the integration authorizes with OAuth (starter integration connect) instead of an API token;
# the simulator's access tokens then live DEMO_OAUTH_LIFETIME, so the worker refreshes them as the demo runs.
DEMO_AUTH="${DEMO_AUTH:-token}"
DEMO_OAUTH_LIFETIME="${DEMO_OAUTH_LIFETIME:-2m}"
TEMPORAL_HOST=127.0.0.1
TEMPORAL_PORT=7233
TEMPORAL_UI_PORT=8233
UI_URL="http://$TEMPORAL_HOST:$TEMPORAL_UI_PORT/namespaces/default/workflows"
SYNC_TIMEOUT="${DEMO_SYNC_TIMEOUT:-1800}"
WORKERS="${WORKERS:-1}"

# The environment every binary of the demo shares (see DESIGN.md, "User-facing contract").
export DATABASE_URL="${DEMO_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$DB_NAME?sslmode=disable}"
export TEMPORAL_ADDRESS="$TEMPORAL_HOST:$TEMPORAL_PORT"
export TEMPORAL_NAMESPACE=default
export TASK_QUEUE=zendesk-sync
export METRICS_ADDR="${METRICS_ADDR:-127.0.0.1:9464}"
# The webhook receiver of the first worker (the others find the address taken and run without one).
export WEBHOOK_ADDR="${WEBHOOK_ADDR:-127.0.0.1:9465}"
export ZENDESK_SYNC_SECRET_KEY_FILE="$STATE_DIR/secret.key"
unset ZENDESK_SYNC_SECRET_KEY # the key file of the demo is the only key it uses

# ---------------------------------------------------------------- step reporting
CURRENT_STEP=""
CURRENT_LOG=""
NEW_KEY=0
step() { # step "what" [logfile]
	CURRENT_STEP="$1"
	CURRENT_LOG="${2:-}"
	log "$1"
}
on_exit() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ -n "$CURRENT_STEP" ]; then
		{
			echo
			printf '%sdemo failed%s at step: %s (exit %s)\n' "$_c_red" "$_c_off" "$CURRENT_STEP" "$rc"
			if [ -n "$CURRENT_LOG" ]; then
				echo "read the log: $CURRENT_LOG"
				if [ -f "$CURRENT_LOG" ]; then
					echo "---- last lines of $CURRENT_LOG ----"
					tail -n 20 "$CURRENT_LOG"
					echo "----"
				fi
			fi
			echo "Other logs: $STATE_DIR/*.log. Stop everything with: make demo-stop"
		} >&2
	fi
}
trap on_exit EXIT

# start_bg NAME LOGFILE CMD...: runs CMD detached (own session, survives the terminal), writes .demo/NAME.pid.
start_bg() {
	local name="$1" logfile="$2"
	shift 2
	{
		echo
		echo "==== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting: $*"
	} >>"$logfile"
	if command -v setsid >/dev/null 2>&1; then
		nohup setsid "$@" >>"$logfile" 2>&1 </dev/null &
	else
		nohup "$@" >>"$logfile" 2>&1 </dev/null &
	fi
	echo $! >"$STATE_DIR/$name.pid"
}

# wait_ready NAME HOST PORT SECONDS LOGFILE: port answers, or the process died, or time ran out.
wait_ready() {
	local name="$1" host="$2" port="$3" secs="$4" logfile="$5" i
	for ((i = 0; i < secs * 4; i++)); do
		if port_open "$host" "$port"; then
			return 0
		fi
		if ! pid_alive "$STATE_DIR/$name.pid"; then
			die "$name exited during start-up (see $logfile)"
		fi
		sleep 0.25
	done
	die "$name did not answer on $host:$port within ${secs}s (see $logfile)"
}

starter() { "$BIN/starter" "$@"; }

# json_len: length of the JSON array on stdin.
json_len() {
	if command -v jq >/dev/null 2>&1; then
		jq length
	else
		python3 -c 'import json,sys;print(len(json.load(sys.stdin)))'
	fi
}

# json_field NAME: a top-level field of the JSON object on stdin, printed as JSON text
# (strings without quotes); empty when missing.
json_field() {
	if command -v jq >/dev/null 2>&1; then
		jq -r --arg f "$1" '.[$f] // empty | tostring'
	else
		python3 -c 'import json,sys
v=json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else (json.dumps(v) if not isinstance(v,str) else v))' "$1"
	fi
}

mkdir -p "$STATE_DIR" "$BIN"

# ---------------------------------------------------------------- 1. PostgreSQL
step "PostgreSQL on 127.0.0.1:5432" "/var/log/postgresql"
ensure_postgres
step "database $DB_NAME"
ensure_database "$DB_NAME"

# ---------------------------------------------------------------- 2. secret key
step "secret key ($ZENDESK_SYNC_SECRET_KEY_FILE)"
if [ ! -s "$ZENDESK_SYNC_SECRET_KEY_FILE" ]; then
	(
		umask 077
		if command -v openssl >/dev/null 2>&1; then
			openssl rand -hex 32
		else
			head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n'
			echo
		fi
	) >"$ZENDESK_SYNC_SECRET_KEY_FILE.tmp"
	mv "$ZENDESK_SYNC_SECRET_KEY_FILE.tmp" "$ZENDESK_SYNC_SECRET_KEY_FILE"
	NEW_KEY=1
	ok "generated a new key"
else
	ok "reusing the existing key"
fi
chmod 600 "$ZENDESK_SYNC_SECRET_KEY_FILE"
[[ "$(tr -d '[:space:]' <"$ZENDESK_SYNC_SECRET_KEY_FILE")" =~ ^[0-9a-fA-F]{64}$ ]] ||
	die "$ZENDESK_SYNC_SECRET_KEY_FILE does not hold 64 hex characters; delete it only if no integration was saved with it (tokens encrypted with it become unreadable)"

# ---------------------------------------------------------------- 3. build
step "go build -o .demo/bin/ ./worker ./starter ./zendesksim" "$STATE_DIR/build.log"
command -v go >/dev/null 2>&1 || die "Go is not installed (expected go on PATH or /usr/local/go/bin)"
if [ "${DEMO_SKIP_BUILD:-}" = 1 ]; then
	ok "skipped (DEMO_SKIP_BUILD=1): using the binaries already in $BIN"
elif ! go build -o "$BIN/" ./worker ./starter ./zendesksim >"$STATE_DIR/build.log" 2>&1; then
	cat "$STATE_DIR/build.log" >&2
	die "the build failed"
fi
ok "binaries in $BIN"

# ---------------------------------------------------------------- 4. Temporal
step "Temporal CLI"
ensure_temporal_cli

step "Temporal dev server on $TEMPORAL_HOST:$TEMPORAL_PORT" "$STATE_DIR/temporal.log"
if port_open "$TEMPORAL_HOST" "$TEMPORAL_PORT"; then
	if pid_alive "$STATE_DIR/temporal.pid"; then
		ok "already running (pid $(cat "$STATE_DIR/temporal.pid"))"
	else
		ok "something already answers on $TEMPORAL_HOST:$TEMPORAL_PORT; using it (not started by the demo, so make demo-stop leaves it)"
	fi
else
	start_bg temporal "$STATE_DIR/temporal.log" "$TEMPORAL_BIN" server start-dev \
		--ip "$TEMPORAL_HOST" --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
		--db-filename "$STATE_DIR/temporal.db" \
		--search-attribute ZendeskIntegration=Keyword \
		--search-attribute SyncPhase=Keyword \
		--log-level warn
	wait_ready temporal "$TEMPORAL_HOST" "$TEMPORAL_PORT" 90 "$STATE_DIR/temporal.log"
	ok "started (pid $(cat "$STATE_DIR/temporal.pid"))"
fi
# The frontend port opens before the namespace answers: wait for it.
for ((i = 0; ; i++)); do
	if "$TEMPORAL_BIN" operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace default >/dev/null 2>&1; then
		break
	fi
	[ "$i" -lt 60 ] || die "Temporal answers on $TEMPORAL_ADDRESS but namespace 'default' does not (see $STATE_DIR/temporal.log)"
	sleep 1
done
# A server the demo did not start may lack the search attributes: add the missing ones.
sa_list="$("$TEMPORAL_BIN" operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace default 2>&1)" ||
	die "cannot list search attributes: $sa_list"
for sa in ZendeskIntegration SyncPhase; do
	if ! grep -qw "$sa" <<<"$sa_list"; then
		"$TEMPORAL_BIN" operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace default \
			--name "$sa" --type Keyword >/dev/null ||
			die "cannot register search attribute $sa"
		ok "registered search attribute $sa"
	fi
done
if wait_port "$TEMPORAL_HOST" "$TEMPORAL_UI_PORT" 15; then
	ok "Web UI answers on http://$TEMPORAL_HOST:$TEMPORAL_UI_PORT"
else
	warn "the Temporal Web UI does not answer on port $TEMPORAL_UI_PORT (the server was started without it?)"
fi

# ---------------------------------------------------------------- 5. simulator
step "Zendesk simulator on $SIM_URL" "$STATE_DIR/zendesksim.log"
if port_open "$SIM_HOST" "$SIM_PORT"; then
	if pid_alive "$STATE_DIR/zendesksim.pid"; then
		ok "already running (pid $(cat "$STATE_DIR/zendesksim.pid"))"
	else
		ok "something already answers on $SIM_HOST:$SIM_PORT; using it as the simulator"
	fi
else
	start_bg zendesksim "$STATE_DIR/zendesksim.log" "$BIN/zendesksim" \
		-addr "$SIM_HOST:$SIM_PORT" -seed 1 -tickets "$SIM_TICKETS" -email agent@example.com -token secret \
		-oauth-access-lifetime "$DEMO_OAUTH_LIFETIME"
	wait_ready zendesksim "$SIM_HOST" "$SIM_PORT" 60 "$STATE_DIR/zendesksim.log"
	ok "started (pid $(cat "$STATE_DIR/zendesksim.pid")), $SIM_TICKETS tickets"
fi

# ---------------------------------------------------------------- 6. workers
# WORKERS (make demo WORKERS=3) worker processes on one task queue: Temporal hands each task to one of them,
# they share each account's rate-limit budget through PostgreSQL, and one at a time relays the outbox. Worker 1
# keeps the names it always had (worker.pid, worker.log, metrics on $METRICS_ADDR); worker N uses worker-N.* and
# the metrics port + 8 + N (9474, 9475, ...: the ports just above 9464 are left to the webhook receiver).
[[ "$WORKERS" =~ ^[1-9][0-9]?$ ]] || die "WORKERS must be a number from 1 to 99 (got '$WORKERS')"
worker_sum="$(sha256sum "$BIN/worker" | cut -d' ' -f1)"
metrics_host="${METRICS_ADDR%:*}"
metrics_port="${METRICS_ADDR##*:}"
# start_worker N: starts worker N unless it already runs this binary (a changed one is restarted gracefully).
start_worker() {
	local n="$1" name=worker port
	[ "$n" = 1 ] || name="worker-$n"
	port="$metrics_port"
	# Workers 2..N skip the next ports: 9465 is the webhook receiver's default (WEBHOOK_ADDR).
	[ "$n" = 1 ] || port=$((metrics_port + 8 + n))
	step "$name (task queue $TASK_QUEUE)" "$STATE_DIR/$name.log"
	if pid_alive "$STATE_DIR/$name.pid"; then
		if [ "$(cat "$STATE_DIR/$name.sum" 2>/dev/null)" = "$worker_sum" ]; then
			ok "already running (pid $(cat "$STATE_DIR/$name.pid"))"
			return 0
		fi
		# The code changed since it started: a worker is stateless, so restart it gracefully.
		log "the worker binary changed; restarting $name"
		stop_pid "$(cat "$STATE_DIR/$name.pid")" 30 || true
		rm -f "$STATE_DIR/$name.pid"
	fi
	METRICS_ADDR="${metrics_host}:$port" start_bg "$name" "$STATE_DIR/$name.log" "$BIN/worker"
	echo "$worker_sum" >"$STATE_DIR/$name.sum"
	wait_ready "$name" "${metrics_host:-127.0.0.1}" "$port" 60 "$STATE_DIR/$name.log"
	ok "started (pid $(cat "$STATE_DIR/$name.pid")), metrics on http://${metrics_host}:$port/metrics"
}
for ((w = 1; w <= WORKERS; w++)); do
	start_worker "$w"
done
# Workers beyond WORKERS left by an earlier, larger demo are stopped.
for pidfile in "$STATE_DIR"/worker-*.pid; do
	[ -e "$pidfile" ] || continue
	n="${pidfile##*/worker-}"
	n="${n%.pid}"
	if [ "$n" -gt "$WORKERS" ]; then
		stop_pid "$(cat "$pidfile")" 30 || true
		rm -f "$pidfile"
		ok "stopped worker-$n (WORKERS=$WORKERS)"
	fi
done
# The worker applies the migrations; wait until the starter can read the schema.
step "database schema (applied by the worker)" "$STATE_DIR/worker.log"
for ((i = 0; ; i++)); do
	if out="$(starter integration list 2>&1)"; then
		break
	fi
	pid_alive "$STATE_DIR/worker.pid" || die "the worker stopped (see $STATE_DIR/worker.log)"
	[ "$i" -lt 30 ] || die "starter integration list still fails after 30s: $out"
	sleep 1
done
ok "schema ready"

# ---------------------------------------------------------------- 7. CRM users
step "CRM users" "$STATE_DIR/starter.log"
# add_user EMAIL NAME: adds a CRM user; one that already exists is fine.
add_user() {
	local out
	if out="$(starter user add --email "$1" --name "$2" 2>&1)"; then
		echo "$(date -u +%FT%TZ) user add $1: $out" >>"$STATE_DIR/starter.log"
		return 0
	fi
	echo "$(date -u +%FT%TZ) user add $1: $out" >>"$STATE_DIR/starter.log"
	if grep -qiE 'already exists|duplicate' <<<"$out"; then
		return 0
	fi
	die "starter user add --email $1 failed: $out"
}
add_user owner@example.com "Demo Owner"
ok "owner@example.com (Demo Owner)"
# The simulator's agents, so that assignees match CRM users by email.
if agents_json="$(curl -sf --max-time 10 "$SIM_URL/_sim/agents" 2>/dev/null)" && [ -n "$agents_json" ]; then
	# One "email<TAB>name" line per agent; elements may be emails or {email, name} objects.
	agents="$(python3 -c '
import json, sys
try:
    data = json.loads(sys.argv[1])
except ValueError:
    sys.exit(0)
if not isinstance(data, list):
    sys.exit(0)
for a in data:
    email = a if isinstance(a, str) else (a.get("email") if isinstance(a, dict) else None)
    if not email:
        continue
    name = a.get("name") if isinstance(a, dict) else None
    if not name:
        local = email.split("@", 1)[0]
        name = " ".join(p.capitalize() for p in local.replace("_", ".").replace("-", ".").split(".") if p) or local
    print("%s\t%s" % (email, name))
' "$agents_json")"
	n=0
	while IFS=$'\t' read -r email name; do
		[ -n "$email" ] || continue
		add_user "$email" "$name"
		n=$((n + 1))
	done <<<"$agents"
	ok "$n simulator agents added as CRM users"
else
	warn "$SIM_URL/_sim/agents did not answer; no agent is added as a CRM user (every assignee maps to the owner)"
fi

# ---------------------------------------------------------------- 8. integration
step "integration '$INTEGRATION'" "$STATE_DIR/starter.log"
# connect_oauth runs `starter integration connect` and plays the admin's browser: the simulator's consent page
# approves at once and redirects to connect's loopback listener, which exchanges the code.
connect_oauth() {
	local out="$STATE_DIR/connect.log" url="" pid i
	"$BIN/starter" integration connect "$INTEGRATION" >"$out" 2>&1 &
	pid=$!
	for i in $(seq 1 50); do
		url="$(grep -o 'http://[^ ]*/oauth/authorizations/new?[^ ]*' "$out" || true)"
		[ -n "$url" ] && break
		sleep 0.2
	done
	[ -n "$url" ] || die "starter integration connect printed no authorization URL: $(cat "$out")"
	curl -fsSL --max-time 30 -o /dev/null "$url" || die "the simulator's OAuth consent page failed ($url)"
	wait "$pid" || die "starter integration connect $INTEGRATION failed: $(cat "$out")"
	ok "connected with OAuth (tokens sealed; access tokens live $DEMO_OAUTH_LIFETIME)"
}
if [ "$DEMO_AUTH" = oauth ] && starter integration show "$INTEGRATION" >/dev/null 2>&1 &&
	{ [ "$NEW_KEY" = 1 ] || ! starter integration show "$INTEGRATION" -o json | grep -q '"auth": "oauth"'; }; then
	# A token integration, or OAuth secrets sealed with a lost key: created again, with OAuth.
	starter integration delete "$INTEGRATION" >/dev/null
	ok "integration removed, to be created again with OAuth"
fi
if starter integration show "$INTEGRATION" >/dev/null 2>&1; then
	ok "already exists"
	if [ "$NEW_KEY" = 1 ]; then
		# .demo/ was removed but the database kept the integration: its token was encrypted
		# with the lost key, so store it again under the new one.
		starter integration edit "$INTEGRATION" --token secret >/dev/null ||
			die "cannot re-encrypt the token of '$INTEGRATION' with the new key; drop the database (dropdb -h 127.0.0.1 -U postgres zendesk_sync) and run make demo again"
		ok "token stored again under the new secret key"
	fi
elif [ "$DEMO_AUTH" = oauth ]; then
	ZENDESK_OAUTH_CLIENT_SECRET=sim-oauth-secret starter integration create --name "$INTEGRATION" --url "$SIM_URL" \
		--email agent@example.com --auth oauth --oauth-client-id zendesk-sync --owner owner@example.com \
		--default-user-email agent@example.com --interval 1m
	ok "created (OAuth)"
	connect_oauth
else
	starter integration create --name "$INTEGRATION" --url "$SIM_URL" \
		--email agent@example.com --token secret --owner owner@example.com \
		--default-user-email agent@example.com --interval 1m
	ok "created"
fi
step "starter integration activate $INTEGRATION" "$STATE_DIR/worker.log"
starter integration activate "$INTEGRATION"
ok "active"

# ---------------------------------------------------------------- 9. first sync
step "first sync (starter progress $INTEGRATION --follow)" "$STATE_DIR/worker.log"
done_already="$(starter progress "$INTEGRATION" -o json 2>/dev/null | json_field first_sync_done || true)"
if [ "$done_already" = "true" ]; then
	ok "the first sync is already done"
else
	if command -v timeout >/dev/null 2>&1; then
		rc=0
		timeout --foreground "$SYNC_TIMEOUT" "$BIN/starter" progress "$INTEGRATION" --follow || rc=$?
		if [ "$rc" -eq 124 ]; then
			die "the first sync did not end within ${SYNC_TIMEOUT}s (DEMO_SYNC_TIMEOUT); it goes on in the background: starter progress $INTEGRATION"
		elif [ "$rc" -ne 0 ]; then
			die "starter progress $INTEGRATION --follow failed (exit $rc)"
		fi
	else
		starter progress "$INTEGRATION" --follow
	fi
fi
progress_json="$(starter progress "$INTEGRATION" -o json)"
phase="$(json_field phase <<<"$progress_json")"
if [ "$phase" = "credentials_rejected" ]; then
	die "the simulator rejected the credentials: $(json_field last_error <<<"$progress_json")"
fi

# ---------------------------------------------------------------- 9b. webhooks
# The simulator calls the worker's receiver on every ticket change, so a change reaches its case within seconds
# instead of at the next interval. (In production the URL is the public https address of a proxy in front of it.)
step "starter integration webhook $INTEGRATION --url http://$WEBHOOK_ADDR" "$STATE_DIR/starter.log"
starter integration webhook "$INTEGRATION" --url "http://$WEBHOOK_ADDR" | tee -a "$STATE_DIR/starter.log"

# ---------------------------------------------------------------- 10. summary
step "summary"
echo
starter progress "$INTEGRATION"
cases="$(starter case list --integration "$INTEGRATION" -o json | json_len)"

# An env file so that the user's shell talks to the same stack.
cat >"$STATE_DIR/env" <<EOF
# source .demo/env   — the demo's settings and binaries in your shell
export PATH="$BIN:\$PATH"
export DATABASE_URL='$DATABASE_URL'
export TEMPORAL_ADDRESS='$TEMPORAL_ADDRESS'
export TEMPORAL_NAMESPACE='$TEMPORAL_NAMESPACE'
export TASK_QUEUE='$TASK_QUEUE'
export ZENDESK_SYNC_SECRET_KEY_FILE='$ZENDESK_SYNC_SECRET_KEY_FILE'
unset ZENDESK_SYNC_SECRET_KEY
EOF

CURRENT_STEP=""
cat <<EOF

${_c_bold}The demo is up.${_c_off}
  cases of integration '$INTEGRATION':  $cases
  Temporal Web UI:   $UI_URL
  Zendesk simulator: $SIM_URL
  worker metrics:    http://$METRICS_ADDR/metrics (worker N >= 2: port $metrics_port + 8 + N; $WORKERS worker(s))
  webhook receiver:  http://$WEBHOOK_ADDR/webhooks/zendesk/<integration id> (Zendesk changes arrive in seconds)
  logs:              $STATE_DIR/{worker,temporal,zendesksim}.log (worker N: worker-N.log)

Next:
  source .demo/env                  # puts starter on PATH with the demo's settings
  starter case list --integration $INTEGRATION
  starter progress $INTEGRATION --follow
  # change a ticket "in Zendesk" and see its case follow within seconds (webhooks):
  id=\$(starter case list --integration $INTEGRATION -o json | jq '.[0].ticket.id')
  curl -s -XPOST $SIM_URL/_sim/tickets/\$id/change -d '{"subject":"changed in Zendesk"}' >/dev/null
  sleep 2; starter case list --integration $INTEGRATION -o json | jq ".[] | select(.ticket.id == \$id) | .subject"
  make demo-stop                    # stops worker, simulator and Temporal (PostgreSQL stays)
EOF
