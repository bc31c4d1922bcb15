#!/bin/bash
# khien agent against a stand-in centre (tests/tools/fake_centre.py: the agent
# API of docs/api.md over real mutual TLS), so that the agent is tested on its
# own: CA pinning by fingerprint (and a server certificate from another CA
# refused), tokens, client certificates, every event stored once across a
# kill -9 of the centre, a removed host refused.
source "$(dirname "$0")/../lib.sh"
command -v openssl >/dev/null || { echo "skip: openssl missing"; exit 0; }

C="$T/centre"; mkdir -p "$C"
PORT=$((20000 + RANDOM % 20000)); URL="https://127.0.0.1:$PORT"
FPID=
mkcert() { # mkcert DIR: CA + server certificate for 127.0.0.1
  local d=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
    -days 30 -subj "/CN=Khien test CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server.key" -out "$d/server.csr" \
    -subj "/CN=127.0.0.1" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial 7 -days 30 \
    -extfile "$d/ext" -out "$d/server.pem" 2>/dev/null
}
start_centre() { # start_centre DIR PORT
  python3 "$SRC/tests/tools/fake_centre.py" "$1" "$2" >"$T/fc.out" 2>"$T/fc.err" &
  FPID=$!
  for _ in $(seq 1 100); do grep -q ready "$T/fc.out" 2>/dev/null && return 0; sleep 0.1; done
  cat "$T/fc.err"; return 1
}
stop_centre() { [ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; FPID=; }
trap 'stop_centre; for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
spooled() { ls "$1/spool" 2>/dev/null | grep -c '\.ev$'; }

mkcert "$C"
printf 'tok-a 2\ntok-once 1\n' >"$C/tokens"
FPR=$(openssl x509 -in "$C/ca.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
start_centre "$C" "$PORT" || { bad "centre starts"; finish; exit 1; }

expect_rc 2 "wrong fingerprint refused" "$KHIEN" agent enroll --server "$URL" --token tok-a --ca-sha256 "$(printf '%064d' 7)" --dir "$T/x"
check "  ... before the token was sent" test "$(head -1 "$C/tokens")" = "tok-a 2"
check "  ... with a clear message" has_err "CA fingerprint mismatch"
expect_rc 0 "enroll with the fingerprint openssl prints" "$KHIEN" agent enroll --server "$URL" --token tok-a --ca-sha256 "$FPR" --dir "$T/a1"
check "  ... client certificate issued by the pinned CA" openssl verify -CAfile "$C/ca.pem" "$T/a1/cert.pem"
check "  ... key and state private" test "$(stat -c %a "$T/a1/key.pem")" = 600 -a "$(stat -c %a "$T/a1")" = 700
expect_rc 0 "token with one use" "$KHIEN" agent enroll --server "https://localhost:$PORT" --token tok-once --ca-sha256 "$FPR" --dir "$T/a2"
expect_rc 2 "used-up token refused" "$KHIEN" agent enroll --server "$URL" --token tok-once --ca-sha256 "$FPR" --dir "$T/a3"
check "  ... with the centre's message" has_err "used up"

# A centre whose TLS certificate comes from another CA, serving the right CA
# file: the fingerprint matches, but the connection that carries the token
# is verified against the pinned CA and refused.
O="$T/other"; mkdir -p "$O"; mkcert "$O"
mkdir -p "$T/mitm"; cp "$O/server.pem" "$O/server.key" "$T/mitm/"; cp "$C/ca.pem" "$C/ca.key" "$C/tokens" "$T/mitm/"
P2=$((PORT + 1)); SAVE=$FPID
python3 "$SRC/tests/tools/fake_centre.py" "$T/mitm" "$P2" >"$T/m.out" 2>&1 & MP=$!
for _ in $(seq 1 100); do grep -q ready "$T/m.out" && break; sleep 0.1; done
expect_rc 2 "server certificate not from the pinned CA refused" "$KHIEN" agent enroll --server "https://127.0.0.1:$P2" --token tok-a --ca-sha256 "$FPR" --dir "$T/a4"
check "  ... with a clear message" has_err "pinned CA"
check "  ... and the token never reached it" cmp -s "$C/tokens" "$T/mitm/tokens"
kill -9 $MP; wait $MP 2>/dev/null; FPID=$SAVE

# ---- events: delivered once, across a kill -9 of the centre ----
mkdir -p "$T/scan"
for i in $(seq 1 12); do eicar "$T/scan/e$i.com"; done
printf '{"tasks": [{"type": "scan", "paths": ["%s"], "full": true}]}\n' "$T/scan" >"$T/pol.json"
echo '{"tasks": []}' >"$T/none.json"
chmod 600 "$T/pol.json" "$T/none.json"
expect_rc 0 "run --once: scan and deliver" "$KHIEN" agent run --once --dir "$T/a1" --policy "$T/pol.json"
check "  ... 12 malware events + 1 scan stored" test "$(grep -c '"malware"' "$C/events.jsonl")" = 12 -a "$(grep -c '"scan"' "$C/events.jsonl")" = 1

stop_centre
expect_rc 1 "centre down: events kept" "$KHIEN" agent run --once --dir "$T/a1" --policy "$T/pol.json"
expect_rc 1 "  ... and more of them" "$KHIEN" agent run --once --dir "$T/a2" --policy "$T/pol.json"
cat "$T"/a1/spool/*.ev "$T"/a2/spool/*.ev | grep -o '^{"id":"[0-9a-f]*"' | sed 's/^{//' | sort -u >"$T/queued"
NQ=$(wc -l <"$T/queued")
check "  ... $NQ events on disk" test "$NQ" -eq 26
touch "$C/crash-once"   # the centre dies right after storing the first batch, before acknowledging it
start_centre "$C" "$PORT"
( "$KHIEN" agent run --dir "$T/a1" --policy "$T/none.json" 2>"$T/l1" ) & A1=$!
( "$KHIEN" agent run --dir "$T/a2" --policy "$T/none.json" 2>"$T/l2" ) & A2=$!
for _ in $(seq 1 300); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
check "the centre died between storing and acknowledging" test ! -e "$C/crash-once"
wait "$FPID" 2>/dev/null; FPID=
start_centre "$C" "$PORT"
for _ in $(seq 1 300); do
  [ "$(spooled "$T/a1")" -eq 0 ] && [ "$(spooled "$T/a2")" -eq 0 ] && break
  sleep 0.1
done
kill -TERM $A1 $A2; wait $A1 $A2 2>/dev/null
check "queues empty after the restart" test "$(spooled "$T/a1")" -eq 0 -a "$(spooled "$T/a2")" -eq 0
grep -o '"id": "[0-9a-f]*"' "$C/events.jsonl" | sed 's/"id": /"id":/' | sort >"$T/stored"
check "every queued event stored" test -z "$(comm -23 "$T/queued" "$T/stored")"
check "none stored twice" test -z "$(uniq -d "$T/stored")"
RECV=$(awk '{s+=$1} END {print s}' "$C/received"); NST=$(wc -l <"$T/stored")
check "the unacknowledged batch was sent again (received $RECV > stored $NST)" test "$RECV" -gt "$NST"

# ---- more events than the centre takes in one request ----
mkdir -p "$T/many"
eicar "$T/many/e0.com"
python3 -c 'import shutil,sys; [shutil.copy(sys.argv[1] + "/e0.com", "%s/e%d.com" % (sys.argv[1], i)) for i in range(1, 1100)]' "$T/many"
printf '{"tasks": [{"type": "scan", "paths": ["%s"]}]}\n' "$T/many" >"$T/many.json"
chmod 600 "$T/many.json"
B0=$(grep -c '"malware"' "$C/events.jsonl")
expect_rc 0 "1,100 detections delivered" "$KHIEN" agent run --once --dir "$T/a2" --policy "$T/many.json"
check "  ... all stored ($(($(grep -c '"malware"' "$C/events.jsonl") - B0)))" test "$(($(grep -c '"malware"' "$C/events.jsonl") - B0))" -eq 1100
check "  ... in requests of at most 1,000 events" test "$(sort -n "$C/received" | tail -1)" -le 1000

# ---- a removed host ----
echo host-1 >"$C/removed"
expect_rc 1 "removed host refused, events kept" "$KHIEN" agent run --once --dir "$T/a1" --policy "$T/pol.json"
check "  ... with a clear message" has_err "refuses this host"
check "  ... its events still queued" test "$(cat "$T"/a1/spool/*.ev | grep -c '^{"id":"')" -ge 13
stop_centre
finish
