#!/usr/bin/env bash
# A throwaway PostgreSQL 15 streaming standby of a primary, on loopback (pg_basebackup -R), for tests.
# Usage: scripts/replica.sh start PRIMARY_URL DIR   base-backs-up the primary into DIR (once), starts the
#                                                   standby on a free loopback port and prints that port
#        scripts/replica.sh stop DIR                stops it, keeping DIR (`start` again resumes streaming)
#        scripts/replica.sh remove DIR              stops it and deletes DIR
# The primary must allow replication connections from loopback (initdb's default pg_hba does, with
# trust, and scripts/with-postgres.sh's primary has wal_level=replica, PostgreSQL's default).
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
[ -x "$PG_BIN/pg_basebackup" ] || { echo "PostgreSQL 15 binaries not found in $PG_BIN" >&2; exit 1; }
MARKER=".ledger-replica"

run_as=()
pg_user="$(id -un)"
if [ "$(id -u)" = "0" ]; then
  # PostgreSQL refuses to run as root: run it as the unprivileged postgres (or nobody) account.
  pg_user="postgres"; id "$pg_user" >/dev/null 2>&1 || pg_user="nobody"
  run_as=(runuser -u "$pg_user" --)
fi

usage() { sed -n '3,6p' "$0" >&2; exit 2; }

stop() {
  local dir="$1"
  [ -f "$dir/data/PG_VERSION" ] || return 0
  "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
    || "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}

start() {
  local primary="$1" dir="$2" port max_connections
  mkdir -p "$dir"
  touch "$dir/$MARKER"
  chmod 755 "$dir"
  [ -z "${run_as[*]}" ] || chown "$pg_user" "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    # -R writes standby.signal and primary_conninfo; -X stream carries the WAL written during the copy.
    timeout 120 "${run_as[@]}" "$PG_BIN/pg_basebackup" -d "$primary" -D "$dir/data" -R -X stream \
      --checkpoint=fast --no-sync >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
  fi
  if [ -f "$dir/port" ]; then
    port="$(cat "$dir/port")"
  else
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    echo "$port" >"$dir/port"
  fi
  # A hot standby needs at least the primary's max_connections (with-postgres.sh raises it).
  max_connections="$(timeout 10 "$PG_BIN/psql" "$primary" -Atc 'SHOW max_connections')"
  "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=$max_connections -c fsync=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "$port"
}

case "${1:-}" in
  start)
    [ $# -eq 3 ] || usage
    start "$2" "$3"
    ;;
  stop)
    [ $# -eq 2 ] || usage
    stop "$2"
    ;;
  remove)
    [ $# -eq 2 ] || usage
    stop "$2"
    # Only ever delete a directory this script made.
    if [ -f "$2/$MARKER" ]; then rm -rf "$2"; fi
    ;;
  *)
    usage
    ;;
esac
