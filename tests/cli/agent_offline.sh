#!/bin/bash
# khien agent without a centre: bad enrollment input, a centre that cannot be
# reached (events kept on disk across runs, exit 1), the queue bound with its
# warning, a local policy that others could write refused, status.
source "$(dirname "$0")/../lib.sh"

A="$T/agent"
FPR=$(printf 'ab%.0s' $(seq 1 32))
# ---- enrollment refusals that need no centre ----
expect_rc 2 "enroll needs --server, --token, --ca-sha256" "$KHIEN" agent enroll --server https://127.0.0.1:1 --dir "$A"
expect_rc 2 "http:// refused" "$KHIEN" agent enroll --server http://127.0.0.1:1 --token t --ca-sha256 "$FPR" --dir "$A"
check "  ... with a clear message" has_err "must start with https://"
expect_rc 2 "malformed fingerprint refused" "$KHIEN" agent enroll --server https://127.0.0.1:1 --token t --ca-sha256 abc --dir "$A"
check "  ... with a clear message" has_err "64 hex digits"
expect_rc 2 "unreachable centre" "$KHIEN" agent enroll --server https://127.0.0.1:1 --token t --ca-sha256 "$FPR" --dir "$A"
check "  ... with a clear message" has_err "cannot connect to the server"
check "  ... and no enrollment stored" test ! -e "$A/agent.json"
expect_rc 2 "run before enrolling" "$KHIEN" agent run --once --dir "$T/none"
check "  ... says to enroll" has_err "khien agent enroll"
expect_rc 2 "unknown subcommand" "$KHIEN" agent fly

# ---- a centre that cannot be reached: events wait on disk ----
mkdir -p "$A" "$T/scan"
chmod 700 "$A"
echo '{"server":"https://127.0.0.1:1","host_id":"9","unit":"2","ca_sha256":"","bundle_public_key":""}' >"$A/agent.json"
touch "$A/ca.pem" "$A/cert.pem" "$A/key.pem"
eicar "$T/scan/eicar.com"
cat >"$T/pol.json" <<EOF
{"tasks": [{"type": "scan", "paths": ["$T/scan"], "full": true}, {"type": "audit", "builtin": ["khien_credentials"]}]}
EOF
chmod 600 "$T/pol.json"
expect_rc 1 "run --once with the centre down: exit 1" "$KHIEN" agent run --once --dir "$A" --policy "$T/pol.json"
check "  ... the detection was logged" has_err "Eicar"
N1=$(ls "$A/spool" | grep -c '\.ev$')
check "  ... 3 queue entries on disk (malware, scan, audit): $N1" test "$N1" -eq 3
check "  ... the malware event holds the file's SHA-256" \
  grep -q '"sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"' "$A"/spool/*-0.ev
expect_rc 1 "second run: still queued" "$KHIEN" agent run --once --dir "$A" --policy "$T/pol.json"
N2=$(ls "$A/spool" | grep -c '\.ev$')
check "  ... old entries kept, new ones added: $N2" test "$N2" -eq 6
IDS=$(cat "$A"/spool/*.ev | grep -o '^{"id":"[0-9a-f]*"' | sort | uniq -d | wc -l)
NE=$(cat "$A"/spool/*.ev | grep -c '^{"id":"')
check "  ... 6 events in the queue entries ($NE)" test "$NE" -eq 6
check "  ... every event has its own id" test "$IDS" -eq 0
touch "$A/spool/.tmp-00000000000000000099"
expect_rc 0 "status" "$KHIEN" agent status --dir "$A"
check "  ... shows the queue" has_err "6 sự kiện / events"
check "  ... a crash leftover was removed on open" test ! -e "$A/spool/.tmp-00000000000000000099"

# ---- the bound: a full queue warns (Vietnamese + English), malware evicts snapshots ----
expect_rc 1 "run with --max-events 7" "$KHIEN" agent run --once --dir "$A" --policy "$T/pol.json" --max-events 7
check "  ... warns that the queue is nearly full" has_err "event queue"
check "  ... in Vietnamese too" has_err "hàng đợi sự kiện"
check "  ... says what was dropped" has_err "new event dropped"
N3=$(ls "$A/spool" | grep -c '\.ev$')
check "  ... never more than the bound: $N3" test "$N3" -le 7
M=$(ls "$A/spool" | grep -c -- '-0\.ev$')
check "  ... all 3 malware events kept ($M)" test "$M" -eq 3

# ---- a local policy that others could write is refused ----
chmod 666 "$T/pol.json"
expect_rc 2 "world-writable local policy refused" "$KHIEN" agent run --once --dir "$A" --policy "$T/pol.json"
check "  ... with a clear message" has_err "others can write the local policy"
echo '{"tasks": 5}' >"$T/bad.json"
chmod 600 "$T/bad.json"
expect_rc 2 "malformed policy refused" "$KHIEN" agent run --once --dir "$A" --policy "$T/bad.json"
finish
