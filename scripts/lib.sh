# shellcheck shell=bash
# Shared helpers for the scripts in this directory. Source it; do not run it.
#
#   ensure_postgres          PostgreSQL answers on 127.0.0.1:5432 (starts the local cluster if needed)
#   ensure_database NAME     the database NAME exists (created as user postgres if missing)
#   ensure_temporal_cli      sets TEMPORAL_BIN to a usable `temporal` CLI (installs v1.5.1 if needed)
#   wait_port HOST PORT SECS waits until HOST:PORT accepts TCP connections
#   pid_alive PIDFILE        true when the process named in PIDFILE runs

# Where the repository lives, whoever sources this file.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-postgres}"
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"

# Go may not be on PATH in a non-login shell.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH="/usr/local/go/bin:$PATH"
	export PATH
fi

if [ -t 1 ]; then
	_c_bold=$'\033[1m' _c_red=$'\033[31m' _c_green=$'\033[32m' _c_off=$'\033[0m'
else
	_c_bold='' _c_red='' _c_green='' _c_off=''
fi

log() { printf '%s==>%s %s\n' "$_c_bold" "$_c_off" "$*"; }
ok() { printf '%s  ok%s %s\n' "$_c_green" "$_c_off" "$*"; }
warn() { printf '%swarning:%s %s\n' "$_c_red" "$_c_off" "$*" >&2; }
die() {
	printf '%serror:%s %s\n' "$_c_red" "$_c_off" "$*" >&2
	exit 1
}

# wait_port HOST PORT SECONDS: 0 once HOST:PORT accepts a TCP connection, 1 after SECONDS.
wait_port() {
	local host="$1" port="$2" secs="${3:-30}" i
	for ((i = 0; i < secs * 4; i++)); do
		if port_open "$host" "$port"; then
			return 0
		fi
		sleep 0.25
	done
	return 1
}

# port_open HOST PORT: one TCP connection attempt (bash's /dev/tcp; no nc needed).
port_open() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# pid_alive PIDFILE
pid_alive() {
	local pid
	[ -f "$1" ] || return 1
	pid="$(cat "$1" 2>/dev/null)" || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

_pg_ready() {
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1
	else
		port_open "$PG_HOST" "$PG_PORT"
	fi
}

ensure_postgres() {
	if _pg_ready; then
		ok "PostgreSQL answers on $PG_HOST:$PG_PORT"
		return 0
	fi
	log "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting the local cluster"
	if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
		die "PostgreSQL is not running on $PG_HOST:$PG_PORT and no local cluster (pg_ctlcluster, /etc/postgresql) was found to start.
       Start PostgreSQL 15 yourself (trust auth for user $PG_USER on $PG_HOST:$PG_PORT), or use docker-compose.yml."
	fi
	local version
	version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n1)"
	[ -n "$version" ] || die "no PostgreSQL cluster under /etc/postgresql"
	if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
		# "already running" also ends up here; the wait below decides.
		warn "pg_ctlcluster $version main start did not succeed; waiting for the port anyway"
	fi
	local i
	for ((i = 0; i < 30; i++)); do
		if _pg_ready; then
			ok "PostgreSQL $version started on $PG_HOST:$PG_PORT"
			return 0
		fi
		sleep 1
	done
	die "PostgreSQL did not accept connections on $PG_HOST:$PG_PORT within 30s.
       Read /var/log/postgresql/postgresql-$version-main.log"
}

# ensure_database NAME
ensure_database() {
	local name="$1" exists
	[[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "ensure_database: bad database name '$name'"
	exists="$(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -XtAq \
		-c "SELECT 1 FROM pg_database WHERE datname = '$name'" 2>&1)" ||
		die "cannot query PostgreSQL as $PG_USER on $PG_HOST:$PG_PORT: $exists"
	if [ "$exists" = "1" ]; then
		ok "database $name exists"
		return 0
	fi
	local out
	if ! out="$(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -Xq -c "CREATE DATABASE \"$name\"" 2>&1)"; then
		# Lost a race with another creator: fine.
		if [[ "$out" == *"already exists"* ]]; then
			ok "database $name exists"
			return 0
		fi
		die "cannot create database $name: $out"
	fi
	ok "database $name created"
}

# ensure_temporal_cli: sets and exports TEMPORAL_BIN.
ensure_temporal_cli() {
	local gobin
	if command -v temporal >/dev/null 2>&1; then
		TEMPORAL_BIN="$(command -v temporal)"
	else
		gobin="$(go env GOBIN 2>/dev/null)"
		[ -n "$gobin" ] || gobin="$(go env GOPATH 2>/dev/null)/bin"
		if [ -x "$gobin/temporal" ]; then
			TEMPORAL_BIN="$gobin/temporal"
		else
			command -v go >/dev/null 2>&1 || die "the Temporal CLI is missing and Go is not installed to build it"
			log "installing the Temporal CLI $TEMPORAL_CLI_VERSION with go install (the first build takes several minutes)"
			if ! go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"; then
				die "go install github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION failed (see the output above)"
			fi
			TEMPORAL_BIN="$gobin/temporal"
			[ -x "$TEMPORAL_BIN" ] || die "go install reported success but $TEMPORAL_BIN is missing"
		fi
	fi
	export TEMPORAL_BIN
	ok "Temporal CLI: $TEMPORAL_BIN ($("$TEMPORAL_BIN" --version 2>/dev/null | head -n1))"
}

# stop_pid PID SECONDS: SIGTERM, wait up to SECONDS for the exit, then SIGKILL.
# Returns 0 when it stopped on SIGTERM, 2 when it needed SIGKILL, 1 when it was not running.
stop_pid() {
	local pid="$1" secs="${2:-20}" i
	kill -0 "$pid" 2>/dev/null || return 1
	kill -TERM "$pid" 2>/dev/null || return 1
	for ((i = 0; i < secs * 4; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.25
	done
	kill -KILL "$pid" 2>/dev/null || true
	return 2
}
