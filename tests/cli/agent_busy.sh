#!/bin/bash
# khien agent run: a long task does not stop heartbeats or delivery. The
# agent's only task is an audit whose check runs `sleep 10`; while it runs
# the centre keeps seeing heartbeats every 2 s (hosts.last_seen moves; with
# tasks on the agent's only thread it stood still for the whole task); the
# audit's event arrives once it ends, exactly once.
source "$(dirname "$0")/../lib.sh"
command -v curl >/dev/null || { echo "skip: curl missing"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "skip: c: rules run only from root-owned policies (run as root)"; exit 0; }

SRV="$T/srv"
PORT=$((20000 + RANDOM % 20000))
URL="https://127.0.0.1:$PORT"
SPID=; APID=
trap '[ -n "$APID" ] && kill -9 $APID 2>/dev/null; [ -n "$SPID" ] && kill -9 $SPID 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] && cp "$T/a.log" "$KEEP"; rm -rf "$T"' EXIT
"$KHIEN" server --data "$SRV" --listen "127.0.0.1:$PORT" >"$T/srv.out" 2>"$T/srv.err" &
SPID=$!
for _ in $(seq 1 100); do curl -sk --max-time 1 "$URL/api/v1/health" 2>/dev/null | grep -q '"ok"' && break; sleep 0.1; done
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); exec("print(" + sys.argv[1] + ")")' "$1"; }
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchone(); print("" if not r or r[0] is None else r[0])' "$SRV/khien.db" "$1"; }
FPR=$(sed -n 's/^CA SHA-256: *//p' "$T/srv.out" | head -1)
PW=$(sed -n 's/.*only now): *//p' "$T/srv.out" | head -1)
CSRF=$(curl -sk -c "$T/jar" "$URL/api/v1/login" -H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$PW\"}" | jget 'd["csrf_token"]')
TOK=$(curl -sk -b "$T/jar" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' -d '{"unit_id":1,"max_uses":1}' \
  "$URL/api/v1/enrollment-tokens" | jget 'd["token"]')
expect_rc 0 "agent enrolls" "$KHIEN" agent enroll --server "$URL" --token "$TOK" --ca-sha256 "$FPR" --dir "$T/a" --hostname busy

cat >"$T/slow.yml" <<'Y'
policy:
  id: "slow"
  name: "A slow check"
checks:
  - id: 1
    title: "Takes 10 seconds."
    condition: all
    rules:
      - 'c:sleep 10 -> r:never-printed'
Y
chmod 644 "$T/slow.yml"
cat >"$T/pol.json" <<EOF
{"heartbeat": 2, "tasks": [{"name": "slow", "type": "audit", "builtin": [], "files": ["$T/slow.yml"], "every": "1d"}]}
EOF
chmod 600 "$T/pol.json"
"$KHIEN" agent run --dir "$T/a" --policy "$T/pol.json" 2>"$T/a.log" &
APID=$!
# one watcher: the distinct last_seen values the centre records before the audit's event arrives
python3 - "$SRV/khien.db" >"$T/watch" <<'PY'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=10)
seen, end = [], time.time() + 60
while time.time() < end:
    r = c.execute("SELECT last_seen FROM hosts WHERE hostname = 'busy'").fetchone()
    if r and r[0] and r[0] not in seen:
        seen.append(r[0])
    if c.execute("SELECT COUNT(*) FROM events WHERE type = 'audit'").fetchone()[0]:
        break
    time.sleep(0.2)
print(len(seen), " ".join(seen))
PY
read -r N SEEN <"$T/watch"
check "heartbeats went on while the 10 s task ran (last_seen before its event: $SEEN)" test "$N" -ge 3
for _ in $(seq 1 300); do [ "$(sql "SELECT COUNT(*) FROM events WHERE type = 'audit'")" != 0 ] && break; sleep 0.1; done
check "the audit's event arrives once it ends" test "$(sql "SELECT COUNT(*) FROM events WHERE type = 'audit'")" = 1
kill -TERM $APID; wait $APID 2>/dev/null; APID=
check "agent stops cleanly" grep -q "agent stopped" "$T/a.log"
check "queue empty" test "$(ls "$T/a/spool" | grep -c '\.ev$')" = 0
finish
