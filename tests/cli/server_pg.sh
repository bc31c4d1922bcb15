#!/bin/bash
# Khiên — khien server on PostgreSQL: a throwaway cluster (Debian's
# postgresql package; skipped when initdb is not installed) in a temp
# folder, Unix socket only, run as an unprivileged user; then the whole of
# server_api.sh against it (KHIEN_TEST_DB), the password in the URL never
# printed, a wrong URL refused with a clear message, and the cluster stopped
# at exit.
. "$(dirname "$0")/../lib.sh"
PGBIN=${KHIEN_PGBIN:-}
if [ -z "$PGBIN" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && PGBIN=$d; done
fi
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] || { echo "skip: PostgreSQL (initdb, pg_ctl) not installed"; exit 0; }

# initdb refuses to run as root: the cluster belongs to postgres (or nobody)
AS=()
if [ "$(id -u)" -eq 0 ]; then
  u=postgres; id -u "$u" >/dev/null 2>&1 || u=nobody
  AS=(runuser -u "$u" --)
fi
PGT=$(mktemp -d /tmp/khien-pg.XXXXXX)
[ ${#AS[@]} -gt 0 ] && chown "${AS[2]}" "$PGT"
PGPORT_=$((40000 + RANDOM % 20000))
cleanup() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGT/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$PGT"
  chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"
}
trap cleanup EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$PGT/data" -U khien --auth=trust -E UTF8 --no-locale --no-sync >"$T/initdb.log" 2>&1 ||
  { cat "$T/initdb.log"; bad "initdb"; finish; exit; }
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGT/data" -l "$PGT/log" -w -t 30 \
  -o "-k $PGT -p $PGPORT_ -c listen_addresses='' -c fsync=off -c full_page_writes=off" start >/dev/null ||
  { cat "$PGT/log"; bad "cluster start"; finish; exit; }
check "throwaway PostgreSQL cluster" test -S "$PGT/.s.PGSQL.$PGPORT_"
"${AS[@]}" "$PGBIN/createdb" -h "$PGT" -p "$PGPORT_" -U khien khien

# the store's unit test against the cluster (tests/unit/store/pg.c), when built next to khien
UNIT="$(dirname "$KHIEN")/tests/unit_store_pg"
if [ -x "$UNIT" ]; then
  "${AS[@]}" "$PGBIN/createdb" -h "$PGT" -p "$PGPORT_" -U khien khien_unit
  if KHIEN_TEST_PG="postgresql://khien@/khien_unit?host=$PGT&port=$PGPORT_" "$UNIT" >"$T/unit.out" 2>&1; then
    ok "unit_store_pg against the cluster ($(tail -1 "$T/unit.out"))"
  else
    sed 's/^/    /' "$T/unit.out" | tail -30; bad "unit_store_pg against the cluster"
  fi
else
  bad "unit_store_pg not built next to $KHIEN"
fi

# trust authentication ignores the password: it is there to prove it is never printed
URL="postgresql://khien:pw-Secret-42@/khien?host=$PGT&port=$PGPORT_"
export KHIEN_TEST_DB="$URL"
if bash "$(dirname "$0")/server_api.sh" >"$T/api.out" 2>&1; then
  ok "server_api.sh on PostgreSQL ($(tail -1 "$T/api.out"))"
else
  grep -v '^ok ' "$T/api.out" | sed 's/^/    /' | head -60
  bad "server_api.sh on PostgreSQL"
fi

# copy-db: the database server_api.sh left (units, users, hosts, events, findings, incidents, ...)
# copied PostgreSQL -> SQLite -> a new PostgreSQL database, compared table by table
PSQL=("${AS[@]}" "$PGBIN/psql" -h "$PGT" -p "$PGPORT_" -U khien -Atq)
"${AS[@]}" "$PGBIN/createdb" -h "$PGT" -p "$PGPORT_" -U khien khien_copy
URL2="postgresql://khien:pw-Secret-42@/khien_copy?host=$PGT&port=$PGPORT_"
expect_rc 0 "copy-db PostgreSQL -> SQLite" "$KHIEN" server copy-db --db "$URL" --to "$T/copy.db"
check "... lists the tables it copied" grep -qE '^  events +[1-9]' "$T/out"
check "... password not printed" bash -c "! grep -q 'pw-Secret-42' '$T/out' '$T/err'"
expect_rc 0 "copy-db SQLite -> PostgreSQL" "$KHIEN" server copy-db --db "$T/copy.db" --to "$URL2"
same=1; nonempty=0
for t in units users sessions enroll_tokens hosts events incidents findings incident_log change_requests change_log \
         comments bulletins bulletin_acks audit_log bundles settings forward_queue; do
  a=$("${PSQL[@]}" -d khien -c "SELECT * FROM \"$t\" ORDER BY 1, 2" | md5sum)
  b=$("${PSQL[@]}" -d khien_copy -c "SELECT * FROM \"$t\" ORDER BY 1, 2" | md5sum)
  [ "$a" = "$b" ] || { echo "    table $t differs after the round trip"; same=0; }
  n=$("${PSQL[@]}" -d khien -c "SELECT COUNT(*) FROM \"$t\"")
  [ "${n:-0}" -gt 0 ] && nonempty=$((nonempty + 1))
done
check "every table the same after PostgreSQL -> SQLite -> PostgreSQL" test "$same" = 1
check "... and the copy was not of empty tables ($nonempty tables with rows)" test "$nonempty" -ge 10
MAXU=$("${PSQL[@]}" -d khien_copy -c "SELECT MAX(id) FROM units")
NEWU=$("${PSQL[@]}" -d khien_copy -c "INSERT INTO units (parent_id, name, kind, created_at) VALUES (1, 'n', 'unit', 't') RETURNING id")
check "a new row after the copy gets a new id ($NEWU > $MAXU)" test "${NEWU:-0}" -gt "${MAXU:-0}"
expect_rc 2 "copy-db into a database that is not empty refused" "$KHIEN" server copy-db --db "$T/copy.db" --to "$URL2"
check "... saying so" has_err "not empty"

# the URL's password stays out of what the server prints
D="$T/centre"; PORT=$((20000 + RANDOM % 20000))
"$KHIEN" server --data "$D" --db "$URL" --listen "127.0.0.1:$PORT" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 1 100); do curl -sk "https://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
kill "$pid"; wait "$pid" 2>/dev/null
check "server printed the database with the password hidden" grep -qF "postgresql://khien:***@/khien" "$T/out"
check "password not printed" bash -c "! grep -q 'pw-Secret-42' '$T/out' '$T/err'"
# both starts left one schema row, at the version a SQLite centre reaches
"$KHIEN" server --data "$T/sq" --listen "127.0.0.1:$((PORT + 1))" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sk "https://127.0.0.1:$((PORT + 1))/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
kill "$pid"; wait "$pid" 2>/dev/null
SQV=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT version FROM schema_version").fetchone()[0])' "$T/sq/khien.db" 2>/dev/null)
PGV=$("${AS[@]}" "$PGBIN/psql" -h "$PGT" -p "$PGPORT_" -U khien -d khien -Atc "SELECT COUNT(*) || ' ' || MAX(version) FROM schema_version")
check "one schema row for both starts, at SQLite's version ($SQV)" test -n "$SQV" -a "$PGV" = "1 $SQV"

expect_rc 2 "unreachable database refused" "$KHIEN" server --data "$T/d2" --db "postgresql://khien:pw-Secret-42@/khien?host=$PGT&port=1"
check "clear message" has_err "PostgreSQL"
check "password not in the message" bash -c "! grep -q 'pw-Secret-42' '$T/err'"
expect_rc 2 "--db that is not a postgresql:// URL refused" "$KHIEN" server --data "$T/d3" --db "mysql://x@y/z"
check "... saying what it must be" has_err "postgresql://"
finish
