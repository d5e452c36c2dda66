#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 on loopback, then stops and removes it.
# Usage: scripts/with-postgres.sh COMMAND [ARG ...]   (DATABASE_URL is exported to COMMAND)
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 binaries not found in $PG_BIN (install the postgresql package)" >&2; exit 1; }

tmp="$(mktemp -d /tmp/ledger-pg.XXXXXX)"
chmod 755 "$tmp"
run_as=()
if [ "$(id -u)" = "0" ]; then
  # PostgreSQL refuses to run as root: run it as the unprivileged postgres (or nobody) account.
  pg_user="postgres"; id "$pg_user" >/dev/null 2>&1 || pg_user="nobody"
  chown "$pg_user" "$tmp"
  run_as=(runuser -u "$pg_user" --)
fi

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
stop() {
  # Standbys that tests started under $LEDGER_TEST_PG_DIR (scripts/replica.sh) go first, even after a crash.
  for standby in "$tmp"/replica-*/data; do
    [ -f "$standby/PG_VERSION" ] && "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$standby" -m immediate stop >/dev/null 2>&1
  done
  "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap stop EXIT

"${run_as[@]}" "$PG_BIN/initdb" -D "$tmp/data" -U ledger --auth=trust -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; exit 1; }
"${run_as[@]}" "$PG_BIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $port -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null \
  || { cat "$tmp/server.log" >&2; exit 1; }

export DATABASE_URL="postgres://ledger@127.0.0.1:$port/postgres"
export LEDGER_TEST_PG_DIR="$tmp"
echo "throwaway PostgreSQL on 127.0.0.1:$port" >&2
set +e
"$@"
status=$?
set -e
exit $status
