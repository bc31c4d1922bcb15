#!/bin/bash
# Khiên — benchmark of `khien server` on loopback (issue 5).
#   bench/centre_bench.sh [AGENTS] [SECONDS] [BATCH] [RATE] [THREADS]
# Env: KHIEN (default build/khien; use a build without sanitizers), SERVER_THREADS,
# PERF_OUT (perf record the server into this file for 10 s, PERF_DELAY s after the start),
# KEEP_LOG (copy the server's stderr there at the end), KEEP_DIR (copy the run's folder there),
# PG=1 (PostgreSQL in a throwaway cluster instead of SQLite; the exactly-once check then reads a
# `khien server copy-db` of it), LOAD_CFLAGS (how the generator is built).
# Starts a fresh server (SQLite) in a temp folder, enrolls AGENTS simulated
# agents (each with its own key and client certificate), runs
# bench/centre_load.c for SECONDS (heartbeats + event batches over mutual
# TLS; RATE = target events/s, 0 = flat out), then prints events/s accepted,
# p50/p99 latency, the server's peak RSS and the exactly-once check: every
# acknowledged id is in the database, and no id is stored twice although
# 5 % of the batches were sent twice.
set -euo pipefail
AGENTS=${1:-1000}; SECS=${2:-20}; BATCH=${3:-50}; RATE=${4:-0}; THREADS=${5:-16}
HERE=$(cd "$(dirname "$0")" && pwd)
KHIEN=${KHIEN:-$HERE/../build/khien}
W=$(mktemp -d /tmp/khien-centre-bench.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
cleanup() { [ -n "${KEEP_DIR:-}" ] && cp -r "$W" "$KEEP_DIR"; [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; [ -n "${KEEP_LOG:-}" ] && cp "$W/server.err" "$KEEP_LOG"; rm -rf "$W"; }
trap cleanup EXIT
cc ${LOAD_CFLAGS:--O2} -o "$W/centre_load" "$HERE/centre_load.c" -lssl -lcrypto -lpthread
DBOPT=()
if [ -n "${PG:-}" ]; then # PostgreSQL instead of SQLite: a throwaway cluster in $W, fsync on (acknowledged = durable)
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
  AS=(); if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); chown postgres "$W"; fi
  "${AS[@]}" "$PGBIN/initdb" -D "$W/pg" -U khien --auth=trust -E UTF8 --no-locale >"$W/initdb.log" 2>&1
  PGPORT_=$((40000 + RANDOM % 20000))
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w -t 30 -o "-k $W -p $PGPORT_ -c listen_addresses='' -c max_connections=50" start >/dev/null
  "${AS[@]}" "$PGBIN/createdb" -h "$W" -p "$PGPORT_" -U khien khien
  PGURL="postgresql://khien@/khien?host=$W&port=$PGPORT_"
  DBOPT=(--db "$PGURL")
  trap '[ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; "${AS[@]}" "$PGBIN/pg_ctl" -D "$W/pg" -m fast -w stop >/dev/null 2>&1; cleanup' EXIT
fi
"$KHIEN" server --data "$W/data" "${DBOPT[@]}" --listen "127.0.0.1:$PORT" --threads "${SERVER_THREADS:-8}" >"$W/server.out" 2>"$W/server.err" &
SPID=$!
for _ in $(seq 1 100); do curl -sk "https://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
PW=$(sed -n 's/.*one-time password (shown only now): //p' "$W/server.out")
B="https://127.0.0.1:$PORT/api/v1"
CSRF=$(curl -sk -c "$W/jar" -H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$PW\"}" "$B/login" |
       python3 -c 'import sys,json; print(json.load(sys.stdin)["csrf_token"])')
TOKEN=$(curl -sk -b "$W/jar" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
        -d "{\"unit_id\":1,\"max_uses\":$AGENTS}" "$B/enrollment-tokens" | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])')
if [ -n "${PERF_OUT:-}" ]; then # profile the server for 10 s once the agents are enrolled
  (sleep "${PERF_DELAY:-25}"; perf record -F 499 -g -p "$SPID" -o "$PERF_OUT" -- sleep 10 >/dev/null 2>&1) &
fi
SERVER_PID=$SPID "$W/centre_load" 127.0.0.1 "$PORT" "$TOKEN" "$AGENTS" "$THREADS" "$SECS" "$BATCH" "$RATE" "$W/acked.txt" | tee "$W/result.txt"
RSS=$(awk '/VmHWM/ {print $2}' "/proc/$SPID/status")
kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=""
echo "server_peak_rss_mb=$((RSS / 1024))"
if [ -n "${PG:-}" ]; then # the check below reads SQLite: copy the centre's PostgreSQL database into one
  "$KHIEN" server copy-db --db "$PGURL" --to "$W/data/khien.db.pg" >/dev/null
  mv "$W/data/khien.db" "$W/data/khien.db.unused" 2>/dev/null || true
  mv "$W/data/khien.db.pg" "$W/data/khien.db"
fi
ACKED=$(sort -u "$W/acked.txt" | wc -l)
sort -u "$W/acked.txt" >"$W/acked.u"
read -r STORED DISTINCT <<<"$(sqlite3 -separator ' ' "$W/data/khien.db" "SELECT COUNT(*), COUNT(DISTINCT host_id || '/' || event_id) FROM events WHERE event_id LIKE 'b%';")"
MISSING=$(sqlite3 "$W/data/khien.db" ".mode csv" "CREATE TEMP TABLE a(id TEXT);" ".import $W/acked.u a" "SELECT COUNT(*) FROM a WHERE id NOT IN (SELECT event_id FROM events);")
echo "acknowledged_ids=$ACKED stored=$STORED distinct_stored=$DISTINCT acknowledged_but_missing=$MISSING"
if [ "$STORED" = "$DISTINCT" ] && [ "$MISSING" = 0 ] && [ "$STORED" -ge "$ACKED" ]; then
  echo "exactly_once=ok"
else
  echo "exactly_once=FAILED"; exit 1
fi
