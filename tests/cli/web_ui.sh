#!/bin/bash
# The web dashboard in a real browser: a khien server on loopback, two units,
# two agents enrolled (one finds EICAR: a real agent run opens the finding
# and the incident), officers of a unit, then Debian's chromium driven by
# playwright-core (tests/web/run.mjs): login with TOTP enrolment and a TOTP
# code, every page (screenshots), the incident moved to "reported to
# police", the report PDF downloaded and its text checked, CSV, the unit
# officer refused another unit's host even by URL, the language switch,
# CSRF and XSS attempts. Screenshots and PDFs stay in
# $TMPROOT/../web-ui-out (build-dir/tests/web-ui-out).
#
# Needs /usr/bin/chromium, node, npm and pdftotext (scripts/deps.sh test);
# installs playwright-core (tests/web/package-lock.json; 1.61, the last
# that runs on Debian 12's Node.js 18) into the build tree once. Skips (exit 0 with a message) only when chromium or node is missing.
source "$(dirname "$0")/../lib.sh"
for tool in curl node npm pdftotext python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool missing (sh scripts/deps.sh test)"; exit 0; }
done
[ -x /usr/bin/chromium ] || { echo "skip: /usr/bin/chromium missing (sh scripts/deps.sh test)"; exit 0; }

OUT=$(cd "$TMPROOT/.." && pwd)/web-ui-out
NODEDIR=$(cd "$TMPROOT/.." && pwd)/web-node
rm -rf "$OUT"; mkdir -p "$OUT/screens"

# ---- playwright-core, once, into the build tree ----
if [ ! -f "$NODEDIR/node_modules/playwright-core/package.json" ] ||
   ! cmp -s "$SRC/tests/web/package-lock.json" "$NODEDIR/package-lock.json"; then
  mkdir -p "$NODEDIR"
  cp "$SRC/tests/web/package.json" "$SRC/tests/web/package-lock.json" "$NODEDIR/"
  (cd "$NODEDIR" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
    { echo "npm ci failed:"; tail -20 "$T/npm.log"; bad "playwright-core installed"; finish; exit 1; }
fi
check "message catalogues complete (vi/en, every key used)" node "$SRC/tests/web/check_i18n.mjs" "$SRC/web"

SRV="$T/srv"
PORT=$((20000 + RANDOM % 20000))
URL="https://127.0.0.1:$PORT"
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
"$KHIEN" server --data "$SRV" --listen "127.0.0.1:$PORT" >"$T/srv.out" 2>"$T/srv.err" &
SPID=$!
for _ in $(seq 1 150); do
  curl -sk --max-time 1 "$URL/api/v1/health" 2>/dev/null | grep -q '"ok"' && break
  sleep 0.1
done
curl -sk --max-time 2 "$URL/api/v1/health" | grep -q '"ok"' || { echo "server did not start:"; tail -20 "$T/srv.err"; bad "server starts"; finish; exit 1; }
FPR=$(sed -n 's/^CA SHA-256: *//p' "$T/srv.out" | head -1)
PW=$(sed -n 's/.*only now): *//p' "$T/srv.out" | head -1)

jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); exec("print(" + sys.argv[1] + ")")' "$1"; }
JAR="$T/admin.jar"
CSRF=$(curl -sk -c "$JAR" -X POST "$URL/api/v1/login" -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$PW\"}" | jget 'd["csrf_token"]')
api() {
  curl -sk -b "$JAR" -c "$JAR" -X "$1" "$URL/api/v1$2" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
check "admin API session" test -n "$CSRF"

# ---- two units, two agents; agent A finds EICAR (a real agent run) ----
UA=$(api POST /units '{"parent_id":1,"name":"Phường Bến Nghé","kind":"ward","code":"000.00.01.H29"}' | jget 'd["id"]')
UB=$(api POST /units '{"parent_id":1,"name":"Xã Bình Chánh","kind":"commune"}' | jget 'd["id"]')
TA=$(api POST /enrollment-tokens "{\"unit_id\":$UA,\"expires_in_hours\":1,\"max_uses\":2}" | jget 'd["token"]')
TB=$(api POST /enrollment-tokens "{\"unit_id\":$UB,\"expires_in_hours\":1,\"max_uses\":2}" | jget 'd["token"]')
expect_rc 0 "agent A enrolls" "$KHIEN" agent enroll --server "$URL" --token "$TA" --ca-sha256 "$FPR" --dir "$T/a1" --hostname pc-a1
expect_rc 0 "agent B enrolls" "$KHIEN" agent enroll --server "$URL" --token "$TB" --ca-sha256 "$FPR" --dir "$T/a2" --hostname pc-b2
mkdir -p "$T/scan1"
eicar "$T/scan1/eicar.com"
echo "clean" >"$T/scan1/readme.txt"
cat >"$T/pol1.json" <<EOF
{"heartbeat": 60, "tasks": [{"name": "scan", "type": "scan", "paths": ["$T/scan1"], "every": "1d", "full": true},
                            {"name": "inventory", "type": "inventory", "every": "1d"},
                            {"name": "audit", "type": "audit", "every": "1d"}]}
EOF
cat >"$T/pol2.json" <<EOF
{"heartbeat": 60, "tasks": [{"name": "inventory", "type": "inventory", "every": "1d"}]}
EOF
chmod 600 "$T/pol1.json" "$T/pol2.json"
expect_rc 0 "agent A runs: scan, inventory, audit" "$KHIEN" agent run --once --dir "$T/a1" --policy "$T/pol1.json"
expect_rc 0 "agent B runs: inventory" "$KHIEN" agent run --once --dir "$T/a2" --policy "$T/pol2.json"
H1=$(api GET "/hosts?unit_id=$UA" | jget '[h["id"] for h in d["items"] if h["hostname"]=="pc-a1"][0]')
H2=$(api GET "/hosts?unit_id=$UB" | jget '[h["id"] for h in d["items"] if h["hostname"]=="pc-b2"][0]')
INC=$(api GET "/incidents?unit_id=$UA" | jget '[i["id"] for i in d["items"] if i.get("host_id")=='"${H1:-0}"'][0]' 2>/dev/null)
check "the agent's finding opened an incident" test -n "$INC"

# ---- people: an officer of unit A, an officer of unit B ----
OA=$(api POST /users "{\"username\":\"can.bo.a\",\"full_name\":\"Nguyễn Thị Lan\",\"role\":\"officer\",\"unit_id\":$UA}" | jget 'd["password"]')
check "officer of unit A created" test -n "$OA"

cat >"$T/env.json" <<EOF
{"url": "$URL", "admin_password": "$PW", "officer": {"username": "can.bo.a", "password": "$OA"},
 "unit_a": $UA, "unit_b": $UB, "host_a": ${H1:-0}, "host_b": ${H2:-0}, "incident": ${INC:-0}, "out": "$OUT"}
EOF

# ---- the browser ----
START=$(date +%s)
NODE_PATH="$NODEDIR/node_modules" PW_DIR="$NODEDIR" timeout 300 node "$SRC/tests/web/run.mjs" "$T/env.json" >"$T/web.log" 2>&1
RC=$?
cat "$T/web.log"
kt_pass=$((kt_pass + $(grep -c '^ok ' "$T/web.log")))
kt_fail=$((kt_fail + $(grep -c '^FAIL ' "$T/web.log")))
[ "$RC" -eq 0 ] || bad "browser test exited with status $RC"
echo "browser part: $(( $(date +%s) - START )) s; screenshots in $OUT/screens"
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
grep -q "ERROR: AddressSanitizer\|runtime error" "$T/srv.err" && { bad "server sanitizer report"; grep -A5 "ERROR\|runtime error" "$T/srv.err" | head -30; }
finish
