#!/bin/bash
# khien agent against a real khien server on loopback: enrollment (CA pinned
# by fingerprint; wrong fingerprint, revoked, expired and used-up tokens
# refused), EICAR found by an agent -> finding + incident through the API,
# the other unit's officer gets 403, kill -9 of the server while agents
# report -> every event stored exactly once, a removed host refused.
source "$(dirname "$0")/../lib.sh"
command -v curl >/dev/null || { echo "skip: curl missing"; exit 0; }

SRV="$T/srv"
PORT=$((20000 + RANDOM % 20000))
URL="https://127.0.0.1:$PORT"
SPID=
cleanup_server() { [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=; }
trap 'cleanup_server; for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT

start_server() {
  "$KHIEN" server --data "$SRV" --listen "127.0.0.1:$PORT" >>"$T/srv.out" 2>>"$T/srv.err" &
  SPID=$!
  for _ in $(seq 1 100); do
    curl -sk --max-time 1 "$URL/api/v1/health" 2>/dev/null | grep -q '"ok"' && return 0
    sleep 0.1
  done
  echo "server did not start:"; tail -20 "$T/srv.err"; return 1
}

jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); exec("print(" + sys.argv[1] + ")")' "$1"; }
# api METHOD PATH [JSON] — as the logged-in user of cookie jar $JAR (default admin)
JAR="$T/admin.jar"; CSRF=
api() {
  local m=$1 p=$2 d=${3:-}
  if [ -n "$d" ]; then
    curl -sk -b "$JAR" -c "$JAR" -X "$m" "$URL/api/v1$p" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' -d "$d"
  else
    curl -sk -b "$JAR" -c "$JAR" -X "$m" "$URL/api/v1$p" -H "X-CSRF-Token: $CSRF"
  fi
}
status_of() { # status_of METHOD PATH -> HTTP status
  curl -sk -o /dev/null -w '%{http_code}' -b "$JAR" -X "$1" "$URL/api/v1$2" -H "X-CSRF-Token: $CSRF"
}
login() { # login USER PASSWORD JAR
  JAR=$3
  CSRF=$(curl -sk -c "$JAR" -X POST "$URL/api/v1/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" | jget 'd["csrf_token"]')
}
spooled() { ls "$1/spool" 2>/dev/null | grep -c '\.ev$'; }

start_server || { bad "server starts"; finish; exit 1; }
FPR=$(sed -n 's/^CA SHA-256: *//p' "$T/srv.out" | head -1)
PW=$(sed -n 's/.*only now): *//p' "$T/srv.out" | head -1)
check "server printed the CA fingerprint and the admin password" test ${#FPR} -eq 64 -a -n "$PW"
login admin "$PW" "$T/admin.jar"
check "admin logged in" test -n "$CSRF"

UA=$(api POST /units '{"parent_id":1,"name":"Phường A","kind":"ward"}' | jget 'd["id"]')
UB=$(api POST /units '{"parent_id":1,"name":"Xã B","kind":"commune"}' | jget 'd["id"]')
TA=$(api POST /enrollment-tokens "{\"unit_id\":$UA,\"expires_in_hours\":1,\"max_uses\":5}" | jget 'd["token"]')
TB=$(api POST /enrollment-tokens "{\"unit_id\":$UB,\"expires_in_hours\":1,\"max_uses\":1}" | jget 'd["token"]')
check "two units and two tokens" test -n "$UA" -a -n "$UB" -a -n "$TA" -a -n "$TB"

# ---- enrollment and its refusals ----
WRONG=$(printf '%064d' 0)
expect_rc 2 "wrong CA fingerprint refused" "$KHIEN" agent enroll --server "$URL" --token "$TA" --ca-sha256 "$WRONG" --dir "$T/bad"
check "  ... with a clear message" has_err "CA fingerprint mismatch"
check "  ... and nothing stored" test ! -e "$T/bad/agent.json" -a ! -e "$T/bad/key.pem"
expect_rc 2 "malformed fingerprint refused" "$KHIEN" agent enroll --server "$URL" --token "$TA" --ca-sha256 "xyz" --dir "$T/bad"
FPRC=$(echo "$FPR" | tr a-f A-F | sed 's/../&:/g; s/:$//')
expect_rc 0 "agent 1 enrolls into unit A (fingerprint with colons, upper case)" \
  "$KHIEN" agent enroll --server "$URL/" --token "$TA" --ca-sha256 "$FPRC" --dir "$T/a1" --hostname pc-a1
check "state folder is 0700, key 0600" test "$(stat -c %a "$T/a1")" = 700 -a "$(stat -c %a "$T/a1/key.pem")" = 600
expect_rc 2 "enrolling again without --force refused" "$KHIEN" agent enroll --server "$URL" --token "$TA" --ca-sha256 "$FPR" --dir "$T/a1"
expect_rc 0 "agent 2 enrolls into unit B" "$KHIEN" agent enroll --server "$URL" --token "$TB" --ca-sha256 "$FPR" --dir "$T/a2" --hostname pc-b2
expect_rc 2 "used-up token refused" "$KHIEN" agent enroll --server "$URL" --token "$TB" --ca-sha256 "$FPR" --dir "$T/a3"
check "  ... with the centre's message" has_err "used up"
TR=$(api POST /enrollment-tokens "{\"unit_id\":$UA,\"expires_in_hours\":1,\"max_uses\":5}")
TRV=$(echo "$TR" | jget 'd["token"]'); TRI=$(echo "$TR" | jget 'd["id"]')
api DELETE "/enrollment-tokens/$TRI" >/dev/null
expect_rc 2 "revoked token refused" "$KHIEN" agent enroll --server "$URL" --token "$TRV" --ca-sha256 "$FPR" --dir "$T/a3"
check "  ... with the centre's message" has_err "revoked"
TE=$(api POST /enrollment-tokens "{\"unit_id\":$UA,\"expires_in_hours\":1,\"max_uses\":5}")
TEV=$(echo "$TE" | jget 'd["token"]'); TEI=$(echo "$TE" | jget 'd["id"]')
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE enroll_tokens SET expires=1 WHERE id=?", (int(sys.argv[2]),)); c.commit()' "$SRV/khien.db" "$TEI"
expect_rc 2 "expired token refused" "$KHIEN" agent enroll --server "$URL" --token "$TEV" --ca-sha256 "$FPR" --dir "$T/a3"
check "  ... with the centre's message" has_err "expired"
check "no state left by refused enrollments" test ! -e "$T/a3/agent.json"

# ---- a scan finds EICAR: finding and incident through the API ----
mkdir -p "$T/scan1" "$T/scan2"
eicar "$T/scan1/eicar.com"
echo "clean" >"$T/scan1/readme.txt"
for i in $(seq 1 10); do eicar "$T/scan2/e$i.com"; done
cat >"$T/pol1.json" <<EOF
{"heartbeat": 60, "tasks": [{"name": "scan", "type": "scan", "paths": ["$T/scan1"], "every": "1d", "full": true},
                            {"name": "inventory", "type": "inventory", "every": "1d"}]}
EOF
cat >"$T/pol2.json" <<EOF
{"heartbeat": 60, "tasks": [{"name": "scan", "type": "scan", "paths": ["$T/scan2"], "every": "1d"}]}
EOF
echo '{"tasks": []}' >"$T/none.json"
chmod 600 "$T"/pol1.json "$T"/pol2.json "$T"/none.json
expect_rc 0 "agent 1: run --once delivers everything" "$KHIEN" agent run --once --dir "$T/a1" --policy "$T/pol1.json"
check "  ... and logged the detection" has_err "eicar.com"
check "  ... queue empty" test "$(spooled "$T/a1")" -eq 0
H1=$(api GET "/hosts?unit_id=$UA" | jget '[h["id"] for h in d["items"] if h["hostname"]=="pc-a1"][0]')
H2=$(api GET "/hosts?unit_id=$UB" | jget '[h["id"] for h in d["items"] if h["hostname"]=="pc-b2"][0]')
check "both hosts listed in their units" test -n "$H1" -a -n "$H2"
api GET "/findings?host_id=$H1&kind=malware" >"$T/out"
check "malware finding for agent 1 via the API" grep -q "eicar.com" "$T/out"
api GET "/incidents?unit_id=$UA" >"$T/out"
INC=$(jget '[i["id"] for i in d["items"] if i.get("host_id")=='"$H1"'][0]' <"$T/out" 2>/dev/null)
check "incident opened for it" test -n "$INC"
api GET "/hosts/$H1" >"$T/out"
check "inventory stored for agent 1" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get("inventory") else 1)' "$T/out"
OFFB=$(api POST /users "{\"username\":\"can.bo.b\",\"full_name\":\"Cán bộ B\",\"role\":\"officer\",\"unit_id\":$UB}")
OPW=$(echo "$OFFB" | jget 'd["password"]' 2>/dev/null)
if [ -n "$OPW" ] && [ -n "$INC" ]; then
  ( login can.bo.b "$OPW" "$T/ob.jar"; echo "$(status_of GET "/incidents/$INC")" >"$T/ob.status" )
  check "unit B's officer gets 403 on unit A's incident" test "$(cat "$T/ob.status")" = 403
else
  bad "officer of unit B created"
fi

# ---- kill -9 the server while both agents report; every event stored once ----
( "$KHIEN" agent run --dir "$T/a2" --policy "$T/pol2.json" 2>"$T/a2.log" ) &
A2=$!
( "$KHIEN" agent run --dir "$T/a1" --policy "$T/pol1.json" 2>"$T/a1.log" ) &
A1=$!
sleep 0.3
cleanup_server
sleep 1
start_server || bad "server restarts"
for _ in $(seq 1 150); do
  [ "$(spooled "$T/a2")" -eq 0 ] && [ "$(spooled "$T/a1")" -eq 0 ] && grep -q "scan done" "$T/a2.log" && break
  sleep 0.2
done
kill -TERM $A1 $A2; wait $A1 $A2 2>/dev/null
check "queues drained after the restart" test "$(spooled "$T/a2")" -eq 0 -a "$(spooled "$T/a1")" -eq 0
login admin "$PW" "$T/admin.jar"
api GET "/findings?host_id=$H2&kind=malware&limit=500" >"$T/out"
# The 10 copies of EICAR have one hash: one finding whose count is the number
# of malware events stored. A duplicate would make it larger, a loss smaller.
N=$(jget 'len(d["items"])' <"$T/out")
CNT=$(jget 'sum(f["count"] for f in d["items"])' <"$T/out")
check "one malware finding for agent 2's 10 identical files (got $N)" test "$N" = 1
check "10 malware events stored exactly once (count $CNT)" test "$CNT" = 10

# ---- the server down for a while: events wait on disk, delivered later, once ----
cleanup_server
for i in 11 12; do eicar "$T/scan2/e$i.com"; done
expect_rc 1 "server down: run --once keeps the events (exit 1)" "$KHIEN" agent run --once --dir "$T/a2" --policy "$T/pol2.json"
Q=$(cat "$T"/a2/spool/*.ev | grep -c '^{"id":"')
check "  ... $Q events on disk" test "$Q" -ge 13
start_server || bad "server restarts"
expect_rc 0 "server back: delivered" "$KHIEN" agent run --once --dir "$T/a2" --policy "$T/none.json"
login admin "$PW" "$T/admin.jar"
api GET "/findings?host_id=$H2&kind=malware&limit=500" >"$T/out"
check "22 events stored in all: 10 + 10 rescanned + 2 new, none twice (count $(jget 'sum(f["count"] for f in d["items"])' <"$T/out"))" \
  test "$(jget 'sum(f["count"] for f in d["items"])' <"$T/out")" = 22

# ---- a signed signature bundle from the centre reaches the agent ----
MARK="KHIEN-AGENT-BUNDLE-MARKER-$RANDOM$RANDOM"
printf 'junk %s junk\n' "$MARK" >"$T/scan1/marked.txt"
NDB="Khien.Test.Bundle:0:*:$(printf '%s' "$MARK" | od -An -tx1 | tr -d ' \n')"
B64=$(printf '%s\n' "$NDB" | base64 -w0)
api POST /bundles "{\"name\":\"sigs-test\",\"files\":[{\"name\":\"test.ndb\",\"data\":\"$B64\"}]}" >"$T/out"
check "bundle published" grep -q '"version"' "$T/out"
expect_rc 0 "agent 1 fetches it and scans with it" "$KHIEN" agent run --once --dir "$T/a1" --policy "$T/pol1.json"
check "  ... installed after verification" test -f "$T/a1/bundles/sigs-test/files/test.ndb"
api GET "/findings?host_id=$H1&kind=malware" >"$T/out"
check "  ... its detection reached the centre" grep -q "Khien.Test.Bundle" "$T/out"

# ---- a removed host is refused ----
check "host 1 removed" test "$(status_of DELETE "/hosts/$H1")" = 204
expect_rc 1 "removed host: run --once refused, events kept" "$KHIEN" agent run --once --dir "$T/a1" --policy "$T/pol1.json"
check "  ... with a clear message" has_err "refuses this host"

cleanup_server
finish
