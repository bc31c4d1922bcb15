#!/bin/bash
# Khiên — khien server end to end on loopback: first start, login, units,
# enrollment tokens, enrollment with a CSR (openssl), agent events over
# mutual TLS, findings with dedup, automatic incidents, RBAC (403 across
# units and roles), CSRF, bad input (malformed JSON, oversized bodies, SQL
# injection strings), a report in the Decree 30 layout, kill -9 + restart.
. "$(dirname "$0")/../lib.sh"
command -v curl >/dev/null && command -v openssl >/dev/null || { echo "skip: curl/openssl missing"; exit 0; }

D="$T/centre"
# KHIEN_TEST_DB: run the same checks on another database (server_pg.sh sets a postgresql:// URL)
DBOPT=(); [ -n "${KHIEN_TEST_DB:-}" ] && DBOPT=(--db "$KHIEN_TEST_DB")
PORT=$((20000 + RANDOM % 20000))
B="https://127.0.0.1:$PORT/api/v1"
SRV_PID=""
start_server() {
  "$KHIEN" server --data "$D" "${DBOPT[@]}" --listen "127.0.0.1:$PORT" --threads 4 >"$T/server.out" 2>"$T/server.err" &
  SRV_PID=$!
  for _ in $(seq 1 100); do
    curl -sk "$B/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$T/server.err"; return 1
}
stop_server() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
trap 'stop_server; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
j() { python3 -c 'import sys,json; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# api METHOD PATH [BODY] [JAR] : prints the body, status in $T/status
api() {
  local m=$1 p=$2 body=${3:-} jar=${4:-$T/jar}
  local csrf=""; [ -f "$jar.csrf" ] && csrf=$(cat "$jar.csrf")
  if [ -n "$body" ]; then
    curl -sk -o "$T/body" -w '%{http_code}' -X "$m" -b "$jar" -c "$jar" -H "X-CSRF-Token: $csrf" \
      -H 'Content-Type: application/json' --data-binary "$body" "$B$p" >"$T/status"
  else
    curl -sk -o "$T/body" -w '%{http_code}' -X "$m" -b "$jar" -c "$jar" -H "X-CSRF-Token: $csrf" "$B$p" >"$T/status"
  fi
  cat "$T/body"
}
status() { cat "$T/status"; }
login() { # login USER PASSWORD JAR
  rm -f "$3" "$3.csrf"
  api POST /login "{\"username\":\"$1\",\"password\":\"$2\"}" "$3" >/dev/null
  [ "$(status)" = 200 ] && j 'd["csrf_token"]' <"$T/body" >"$3.csrf"
}

check "first start" start_server
PW=$(sed -n 's/.*one-time password (shown only now): //p' "$T/server.out")
FPR=$(sed -n 's/^CA SHA-256: //p' "$T/server.out")
check "one-time admin password printed" test -n "$PW"
check "data folder is private (0700)" test "$(stat -c %a "$D")" = 700
check "CA key is private (0600)" test "$(stat -c %a "$D/ca.key")" = 600
curl -sk "$B/enroll/ca" >"$T/ca.pem"
check "CA fingerprint matches the printed one" test "$(openssl x509 -in "$T/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)" = "$FPR"
check "TLS 1.1 refused" bash -c "! curl -sk --tls-max 1.1 '$B/health' >/dev/null 2>&1"

# ---- login, lockout bookkeeping, CSRF ----
api POST /login '{"username":"admin","password":"wrong"}' >/dev/null
check "wrong password -> 401" test "$(status)" = 401
check "admin login" login admin "$PW" "$T/admin"
check "session cookie is HttpOnly, Secure, SameSite=Strict" grep -q "#HttpOnly_127.0.0.1" "$T/admin"
api GET /me "" "$T/admin" >/dev/null
check "me -> 200" test "$(status)" = 200
rm -f "$T/nocsrf.csrf"; cp "$T/admin" "$T/nocsrf"
api POST /units '{"parent_id":1,"name":"x"}' "$T/nocsrf" >/dev/null
check "state change without CSRF token -> 403" test "$(status)" = 403
api GET /hosts "" "$T/nobody" >/dev/null
check "no session -> 401" test "$(status)" = 401

# ---- units, users, tokens ----
U2=$(api POST /units '{"parent_id":1,"name":"Phường Một","kind":"ward"}' "$T/admin" | j 'd["id"]')
U3=$(api POST /units '{"parent_id":1,"name":"Phường Hai","kind":"ward"}' "$T/admin" | j 'd["id"]')
check "units created" test -n "$U2" -a -n "$U3"
OPW=$(api POST /users "{\"username\":\"officer1\",\"role\":\"officer\",\"unit_id\":$U2}" "$T/admin" | j 'd["password"]')
PPW=$(api POST /users "{\"username\":\"police1\",\"role\":\"police\",\"unit_id\":1}" "$T/admin" | j 'd["password"]')
APW=$(api POST /users "{\"username\":\"auditor1\",\"role\":\"auditor\",\"unit_id\":1}" "$T/admin" | j 'd["password"]')
api POST /users "{\"username\":\"officer1\",\"role\":\"officer\",\"unit_id\":$U2}" "$T/admin" >/dev/null
check "duplicate user -> 409" test "$(status)" = 409
check "officer login" login officer1 "$OPW" "$T/off"
check "police login" login police1 "$PPW" "$T/pol"
check "auditor login" login auditor1 "$APW" "$T/aud"
TOK2=$(api POST /enrollment-tokens "{\"unit_id\":$U2,\"max_uses\":5}" "$T/admin" | j 'd["token"]')
TOK3=$(api POST /enrollment-tokens "{\"unit_id\":$U3,\"max_uses\":1}" "$T/admin" | j 'd["token"]')
api POST /enrollment-tokens "{\"unit_id\":$U3}" "$T/off" >/dev/null
check "officer cannot create a token for another unit -> 403" test "$(status)" = 403
api POST /users '{"username":"x","role":"admin","unit_id":1}' "$T/off" >/dev/null
check "officer cannot create users -> 403" test "$(status)" = 403
api POST /bulletins '{"title":"t","body":"b"}' "$T/aud" >/dev/null
check "auditor cannot write -> 403" test "$(status)" = 403

# ---- enrollment (openssl CSR) ----
enroll() { # enroll NAME TOKEN -> host id; files $T/NAME.key/.crt
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" -subj "/CN=$1" -out "$T/$1.csr" 2>/dev/null
  python3 -c 'import json,sys; print(json.dumps({"token":sys.argv[1],"csr":open(sys.argv[2]).read(),"hostname":sys.argv[3],"os":"Debian 12"}))' "$2" "$T/$1.csr" "$1" >"$T/$1.req"
  curl -sk -o "$T/$1.resp" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/$1.req" "$B/enroll" >"$T/status"
  [ "$(status)" = 201 ] || return 1
  j 'd["certificate"]' <"$T/$1.resp" >"$T/$1.crt"
  j 'd["host_id"]' <"$T/$1.resp"
}
H2=$(enroll pc2 "$TOK2"); check "enroll host in unit 2" test -n "$H2"
H3=$(enroll pc3 "$TOK3"); check "enroll host in unit 3" test -n "$H3"
enroll pc4 "$TOK3" >/dev/null
check "used-up token refused (403)" test "$(status)" = 403
check "used-up token message" grep -q "used up" "$T/pc4.resp"
enroll pc5 "kt_00000000000000000000000000000000" >/dev/null
check "unknown token refused (403)" test "$(status)" = 403
TID=$(api GET /enrollment-tokens "" "$T/admin" | j '[t["id"] for t in d["items"] if t["unit_id"]=='"$U2"'][0]')
api DELETE /enrollment-tokens/$TID "" "$T/admin" >/dev/null
enroll pc6 "$TOK2" >/dev/null
check "revoked token refused" grep -q "revoked" "$T/pc6.resp"

# agent requests with the client certificate
agent() { # agent NAME METHOD PATH [BODYFILE]
  if [ -n "${4:-}" ]; then
    curl -sk -o "$T/body" -w '%{http_code}' --cert "$T/$1.crt" --key "$T/$1.key" -X "$2" -H 'Content-Type: application/json' --data-binary @"$4" "$B$3" >"$T/status"
  else
    curl -sk -o "$T/body" -w '%{http_code}' --cert "$T/$1.crt" --key "$T/$1.key" -X "$2" "$B$3" >"$T/status"
  fi
  cat "$T/body"
}
echo '{"hostname":"pc2","agent_version":"0.1.0","protection":true}' >"$T/hb.json"
agent pc2 POST /agent/heartbeat "$T/hb.json" >/dev/null
check "heartbeat with client certificate -> 200" test "$(status)" = 200
curl -sk -o /dev/null -w '%{http_code}' -X POST --data-binary @"$T/hb.json" "$B/agent/heartbeat" >"$T/status"
check "agent endpoint without certificate -> 401" test "$(status)" = 401
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue.key" -subj "/CN=host-$H2" -days 2 -out "$T/rogue.crt" 2>/dev/null
agent rogue POST /agent/heartbeat "$T/hb.json" >/dev/null
check "self-made certificate with a valid CN refused" test "$(status)" != 200

# events: EICAR-like malware on pc2, sent twice (retry) -> one finding, one incident
cat >"$T/ev.json" <<'JSON'
{"events":[{"id":"ev-0000000001","type":"malware","time":"2026-11-26T08:00:00Z","data":{"path":"/home/a/eicar.com","name":"Eicar-Signature","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","size":68}},
 {"id":"ev-0000000002","type":"scan","data":{"full":true,"started":"2026-11-26T07:59:00Z"}},
 {"id":"bad id!","type":"x","data":{}}]}
JSON
A1=$(agent pc2 POST /agent/events "$T/ev.json")
check "events accepted" test "$(echo "$A1" | j 'len(d["accepted"])')" = 2
check "malformed event rejected, not the batch" test "$(echo "$A1" | j 'len(d["rejected"])')" = 1
A2=$(agent pc2 POST /agent/events "$T/ev.json")
check "retry acknowledged again" test "$(echo "$A2" | j 'len(d["accepted"])')" = 2
sed 's/ev-0000000001/ev-0000000009/' "$T/ev.json" >"$T/ev2.json"; agent pc2 POST /agent/events "$T/ev2.json" >/dev/null
F=$(api GET "/findings?host_id=$H2" "" "$T/admin")
check "one malware finding (dedup)" test "$(echo "$F" | j 'd["total"]')" = 1
check "same finding seen twice (count 2)" test "$(echo "$F" | j 'd["items"][0]["count"]')" = 2
I=$(api GET "/incidents" "" "$T/admin")
check "automatic incident opened" test "$(echo "$I" | j 'd["total"]')" = 1
INC=$(echo "$I" | j 'd["items"][0]["id"]')
api GET /incidents/$INC "" "$T/off" >/dev/null
check "officer of unit 2 sees the incident" test "$(status)" = 200
# a second officer in unit 3
O3PW=$(api POST /users "{\"username\":\"officer3\",\"role\":\"officer\",\"unit_id\":$U3}" "$T/admin" | j 'd["password"]')
login officer3 "$O3PW" "$T/off3"
api GET /incidents/$INC "" "$T/off3" >/dev/null
check "other unit's officer -> 403 on the incident" test "$(status)" = 403
api GET /hosts/$H2 "" "$T/off3" >/dev/null
check "other unit's officer -> 403 on the host" test "$(status)" = 403
check "other unit's officer sees no findings of unit 2" test "$(api GET /findings "" "$T/off3" | j 'd["total"]')" = 0
api POST /incidents/$INC/transition '{"state":"reported","comment":"Đã gửi PA05"}' "$T/aud" >/dev/null
check "auditor cannot move an incident -> 403" test "$(status)" = 403
api POST /incidents/$INC/transition '{"state":"resolved","comment":"x"}' "$T/pol" >/dev/null
check "invalid transition -> 409" test "$(status)" = 409
api POST /incidents/$INC/transition '{"state":"reported","comment":"Đã báo cáo Công an thành phố"}' "$T/pol" >/dev/null
check "police moves the incident to reported" test "$(status)" = 200
check "timeline records who" test "$(j 'd["timeline"][-1]["user"]' <"$T/body")" = police1
api GET "/incidents/$INC/report?format=html&profile=2017" "" "$T/pol" >"$T/report.html"
check "report renders (HTML)" test "$(status)" = 200
check "report has the national motto" grep -q "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" "$T/report.html"
check "report has the evidence hash" grep -q "275a021bbfb6489e" "$T/report.html"
api GET "/incidents/$INC/report?kind=breach" "" "$T/pol" >/dev/null
check "breach notice renders (JSON)" test "$(j 'd["title"]' <"$T/body")" = "THÔNG BÁO VI PHẠM QUY ĐỊNH BẢO VỆ DỮ LIỆU CÁ NHÂN"

# population-db host: inventory change -> change request; failed critical check -> incident
api PATCH /hosts/$H3 '{"population_db":true,"level":3}' "$T/admin" >/dev/null
check "host tagged population-db" test "$(j 'd["population_db"]' <"$T/body")" = True
cat >"$T/ev3.json" <<'JSON'
{"events":[{"id":"ev3-00000001","type":"inventory_change","data":{"diff":{"added":{"usb":["0781:5567 SanDisk"]}},"changes":1}},
 {"id":"ev3-00000002","type":"audit","data":{"policy_id":"khien_pop","checks":[{"id":7,"title":"Firewall","result":"failed","critical":true}]}}]}
JSON
agent pc3 POST /agent/events "$T/ev3.json" >/dev/null
check "change-evaluation request opened" test "$(api GET /change-requests "" "$T/pol" | j 'd["total"]')" = 1
check "failed critical check opened an incident" test "$(api GET "/incidents?unit_id=$U3" "" "$T/admin" | j 'd["total"]')" = 1
CR=$(api GET /change-requests "" "$T/pol" | j 'd["items"][0]["id"]')
api POST /change-requests/$CR/transition '{"state":"under_evaluation","comment":"PA05 đánh giá"}' "$T/pol" >/dev/null
check "police evaluates the change request" test "$(status)" = 200

# removed host: certificate refused
api DELETE /hosts/$H3 "" "$T/admin" >/dev/null
agent pc3 POST /agent/heartbeat "$T/hb.json" >/dev/null
check "removed host's certificate refused (403)" test "$(status)" = 403

# ---- bad input ----
api POST /units '{"parent_id":1,' "$T/admin" >/dev/null
check "malformed JSON -> 400" test "$(status)" = 400
api POST /units '[1,2]' "$T/admin" >/dev/null
check "JSON array body -> 400" test "$(status)" = 400
head -c 2000000 /dev/zero | tr '\0' 'a' | sed 's/^/{"name":"/; s/$/"}/' >"$T/big.json"
curl -sk -o /dev/null -w '%{http_code}' -b "$T/admin" -H "X-CSRF-Token: $(cat "$T/admin.csrf")" -H 'Content-Type: application/json' --data-binary @"$T/big.json" "$B/units" >"$T/status"
check "oversized body -> 413" test "$(status)" = 413
head -c 20000000 /dev/zero >"$T/huge.bin"
curl -sk -o /dev/null -w '%{http_code}' --cert "$T/pc2.crt" --key "$T/pc2.key" --data-binary @"$T/huge.bin" "$B/agent/events" >"$T/status"
check "20 MB body refused -> 413" test "$(status)" = 413
INJ="x'); DROP TABLE users; --"
api POST /units "{\"parent_id\":1,\"name\":\"$INJ\",\"kind\":\"unit\"}" "$T/admin" >/dev/null
check "SQL injection string stored as text (201)" test "$(status)" = 201
api GET "/hosts?q=%27%20OR%201%3D1%20--" "" "$T/admin" >/dev/null
check "SQL injection in a query parameter -> no rows" test "$(j 'd["total"]' <"$T/body")" = 0
api GET "/findings?limit=100000" "" "$T/admin" >/dev/null
check "limit out of range -> 400" test "$(status)" = 400
api GET "/units/abc" "" "$T/admin" >/dev/null
check "bad id -> 404" test "$(status)" = 404
api POST /bundles '{"name":"../../etc","files":[{"name":"a","data":"YQ=="}]}' "$T/admin" >/dev/null
check "path traversal in a bundle name -> 400" test "$(status)" = 400
api POST /bundles '{"name":"policy","files":[{"name":"../x","data":"YQ=="}]}' "$T/admin" >/dev/null
check "path traversal in a bundle file name -> 400" test "$(status)" = 400
check "users table intact" test "$(api GET /users "" "$T/admin" | j 'd["total"]')" -ge 5
check "server still serving" test "$(curl -sk "$B/health" | j 'd["status"]')" = ok

# ---- compliance, access statistics, bulletins ----
api GET /compliance "" "$T/admin" >"$T/comp.json"
check "compliance per unit" test "$(j '[u for u in d["items"] if u["unit_id"]=='"$U2"'][0]["hosts"]' <"$T/comp.json")" = 1
check "compliance counts open critical findings" test "$(j '[u for u in d["items"] if u["unit_id"]=='"$U2"'][0]["findings_open"]["critical"]' <"$T/comp.json")" = 1
check "city row counts its whole subtree" test "$(j '[u for u in d["items"] if u["unit_id"]==1][0]["hosts"]' <"$T/comp.json")" -ge 1
check "officer's compliance covers only its unit" test "$(api GET /compliance "" "$T/off" | j 'len(d["items"])')" = 1
check "access statistics" test "$(api GET /stats/access "" "$T/off" | j 'd["today"] >= 4')" = True
BID=$(api POST /bulletins '{"title":"Cảnh báo","body":"Không mở tệp đính kèm lạ"}' "$T/admin" | j 'd["id"]')
api POST /bulletins/$BID/ack '{}' "$T/off" >/dev/null
check "bulletin acknowledged" test "$(status)" = 204
check "per-unit acknowledgement rate" test "$(api GET /bulletins/$BID/acks "" "$T/admin" | j '[u for u in d["items"] if u["unit_id"]=='"$U2"'][0]["acked"]')" = 1

# ---- audit log ----
api GET "/audit-log?limit=500" "" "$T/aud" >"$T/al.json"
check "audit log has failed logins" grep -q login_failed "$T/al.json"
check "audit log has the transition" grep -q '"action":"transition"' "$T/al.json"

# ---- second factor (TOTP) ----
totp() { python3 - "$1" <<'PY'
import sys, hmac, hashlib, struct, time, base64
k = base64.b32decode(sys.argv[1]); c = struct.pack(">Q", int(time.time()) // 30)
h = hmac.new(k, c, hashlib.sha1).digest(); o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o+4])[0] & 0x7fffffff) % 1000000))
PY
}
SECRET=$(api POST /me/totp/setup '{}' "$T/aud" | j 'd["secret"]')
check "TOTP setup gives a secret" test -n "$SECRET"
api POST /me/totp/confirm "{\"code\":\"$(totp "$SECRET")\"}" "$T/aud" >/dev/null
check "TOTP confirmed, recovery codes shown once" test "$(j 'len(d["recovery_codes"])' <"$T/body")" = 8
RC1=$(j 'd["recovery_codes"][0]' <"$T/body")
api POST /login "{\"username\":\"auditor1\",\"password\":\"$APW\"}" "$T/aud2" >/dev/null
check "login without the code -> 401 totp_required" grep -q totp_required "$T/body"
CODE=$(totp "$SECRET")
api POST /login "{\"username\":\"auditor1\",\"password\":\"$APW\",\"totp\":\"$CODE\"}" "$T/aud2" >/dev/null
check "login with the code -> 200" test "$(status)" = 200
api POST /login "{\"username\":\"auditor1\",\"password\":\"$APW\",\"totp\":\"$CODE\"}" "$T/aud4" >/dev/null
check "the same TOTP code is refused the second time" test "$(status)" = 401
api POST /login "{\"username\":\"auditor1\",\"password\":\"$APW\",\"totp\":\"$RC1\"}" "$T/aud3" >/dev/null
check "a recovery code works once" test "$(status)" = 200
api POST /login "{\"username\":\"auditor1\",\"password\":\"$APW\",\"totp\":\"$RC1\"}" "$T/aud3" >/dev/null
check "the same recovery code is refused the second time" test "$(status)" = 401

# ---- lockout after 5 failures ----
for _ in 1 2 3 4 5; do api POST /login '{"username":"officer3","password":"nope"}' "$T/x" >/dev/null; done
api POST /login "{\"username\":\"officer3\",\"password\":\"$O3PW\"}" "$T/x" >/dev/null
check "account locked after 5 failures (423, even with the right password)" test "$(status)" = 423
api POST /users/$(api GET /users "" "$T/admin" | j '[u["id"] for u in d["items"] if u["username"]=="officer3"][0]')/reset-password '{}' "$T/admin" >/dev/null
NPW=$(j 'd["password"]' <"$T/body")
api POST /login "{\"username\":\"officer3\",\"password\":\"$NPW\"}" "$T/x" >/dev/null
check "admin reset unlocks with a new one-time password" test "$(status)" = 200
# ten wrong passwords at once: the account is locked once, and the lockout
# recorded once (by the attempt that locked it), however the attempts interleave
BURST=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
  curl -sk -o /dev/null -m 60 -X POST -H 'Content-Type: application/json' \
    --data-binary '{"username":"officer3","password":"nope"}' "$B/login" &
  BURST="$BURST $!"
done
wait $BURST # these only: the server runs in the background of this shell too
api POST /login "{\"username\":\"officer3\",\"password\":\"$NPW\"}" "$T/x" >/dev/null
check "locked again after ten parallel failures" test "$(status)" = 423
NLOCK=$(api GET "/audit-log?action=lockout&limit=500" "" "$T/admin" | j 'len([e for e in d["items"] if e["object"]=="officer3"])')
check "each lockout recorded once ($NLOCK records for two lockouts)" test "$NLOCK" = 2

# ---- signed bundles by hand (air-gapped) ----
printf '{"tasks":[]}' >"$T/agent-policy.json"
expect_rc 0 "bundle make" "$KHIEN" bundle make --key "$D/bundle.key" --name policy --version 3 -o "$T/p.bundle" "$T/agent-policy.json"
expect_rc 0 "bundle verify" "$KHIEN" bundle verify --pub "$D/bundle.pub" "$T/p.bundle" --extract "$T/ex"
check "extracted file identical" cmp -s "$T/agent-policy.json" "$T/ex/agent-policy.json"
python3 - "$T/p.bundle" <<'PY'
import sys, json, base64
p = sys.argv[1]; e = json.load(open(p))
pl = json.loads(base64.b64decode(e["payload"])); pl["version"] = 4
e["payload"] = base64.b64encode(json.dumps(pl).encode()).decode(); json.dump(e, open(p + ".t", "w"))
PY
expect_rc 1 "tampered bundle refused" "$KHIEN" bundle verify --pub "$D/bundle.pub" "$T/p.bundle.t"
check "tamper message" has_err "chữ ký không hợp lệ"
api POST /bundles "{\"name\":\"policy\",\"files\":[{\"name\":\"agent-policy.json\",\"data\":\"$(base64 -w0 "$T/agent-policy.json")\"}]}" "$T/admin" >/dev/null
check "bundle published" test "$(status)" = 201
agent pc2 GET /agent/bundles/policy >"$T/served.bundle"
expect_rc 0 "served bundle verifies" "$KHIEN" bundle verify --pub "$D/bundle.pub" "$T/served.bundle"

# ---- kill -9 and restart: data kept, password not printed again ----
kill -9 "$SRV_PID"; wait "$SRV_PID" 2>/dev/null; SRV_PID=""
check "restart after kill -9" start_server
check "no new admin password on restart" bash -c "! grep -q 'one-time password' '$T/server.out'"
check "same CA after restart" test "$(sed -n 's/^CA SHA-256: //p' "$T/server.out")" = "$FPR"
check "session survives restart" test "$(api GET /incidents "" "$T/admin" | j 'd["total"]')" = 2
agent pc2 POST /agent/events "$T/ev.json" >/dev/null
check "agent certificate still accepted" test "$(status)" = 200
check "still one malware finding" test "$(api GET "/findings?kind=malware" "" "$T/admin" | j 'd["total"]')" = 1

# a batch of 30 events (more than one 24-row INSERT) naming two new malware events twice each (one
# in both INSERTs, one twice in the first) and the old one again: all acknowledged, each new one
# interpreted once, the old one not again
python3 - "$T/ev.json" >"$T/ev30.json" <<'PY'
import json, sys
old = json.load(open(sys.argv[1]))["events"][0]
ev = [{"id": "bulk-%08d" % i, "type": "note", "data": {"i": i}} for i in range(30)]
def mal(n, name):
    return {"id": "bulk-malware-%d" % n, "type": "malware",
            "data": {"path": "/home/b/%d.com" % n, "name": name, "sha256": ("%02d" % n) * 32, "size": 9}}
ev[3], ev[27] = mal(1, "Test.Twice"), mal(1, "Test.Twice")    # in two INSERTs
ev[5], ev[9] = mal(2, "Test.Twice2"), mal(2, "Test.Twice2")   # in the same INSERT
ev[15] = old
print(json.dumps({"events": ev}))
PY
A30=$(agent pc2 POST /agent/events "$T/ev30.json")
check "30-event batch acknowledged whole" test "$(echo "$A30" | j 'len(d["accepted"])')" = 30
F=$(api GET "/findings?kind=malware" "" "$T/admin")
check "... two new malware findings" test "$(echo "$F" | j 'd["total"]')" = 3
check "... each interpreted once although named twice (counts 1, 1)" \
  test "$(echo "$F" | j 'sorted(x["count"] for x in d["items"] if "Test.Twice" in json.dumps(x))')" = "[1, 1]"
check "... the old event not interpreted again (count 2)" \
  test "$(echo "$F" | j '[x["count"] for x in d["items"] if "Test.Twice" not in json.dumps(x)][0]')" = 2
stop_server
finish
