#!/usr/bin/env bash
# A PostgreSQL 15 that keeps its data between runs, for the 10M-entry read benchmark (search_explain.py --full):
# loading takes long, measuring is repeated. Same setup as scripts/with-postgres.sh (unprivileged user, loopback,
# C.UTF-8), tuned for a bulk load; the data directory stays until you delete it.
# Usage: bench/persistent-postgres.sh start|stop|url [DIR] [PORT]   (defaults /work/pg10m 55432)
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
action="${1:?usage: $0 start|stop|url [DIR] [PORT]}"
dir="${2:-/work/pg10m}"
port="${3:-55432}"
run_as=()
if [ "$(id -u)" = "0" ]; then
  pg_user="postgres"; id "$pg_user" >/dev/null 2>&1 || pg_user="nobody"
  run_as=(runuser -u "$pg_user" --)
fi

case "$action" in
  start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      mkdir -p "$dir"; chmod 755 "$dir"
      [ "${#run_as[@]}" = 0 ] || chown "$pg_user" "$dir"
      "${run_as[@]}" "$PG_BIN/initdb" -D "$dir/data" -U ledger --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # fsync stays on (the data must survive); commits need not wait for it, and checkpoints are spaced
    # for a bulk load. wal_level=minimal: no replica reads this server.
    "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 -o "-h 127.0.0.1 -p $port -k $dir \
      -c synchronous_commit=off -c full_page_writes=off -c wal_level=minimal -c max_wal_senders=0 \
      -c max_wal_size=${PG_MAX_WAL_SIZE:-2GB} -c checkpoint_timeout=30min -c maintenance_work_mem=1GB \
      -c shared_buffers=2GB -c work_mem=64MB -c max_connections=50" start >/dev/null \
      || { tail -20 "$dir/server.log" >&2; exit 1; }
    "${run_as[@]}" "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U ledger -d postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname = 'ledger10m'" | grep -q 1 \
      || "${run_as[@]}" "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U ledger -d postgres -qc "CREATE DATABASE ledger10m"
    echo "postgres://ledger@127.0.0.1:$port/ledger10m"
    ;;
  stop)
    "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop
    ;;
  url)
    echo "postgres://ledger@127.0.0.1:$port/ledger10m"
    ;;
  *)
    echo "usage: $0 start|stop|url [DIR] [PORT]" >&2; exit 2
    ;;
esac
