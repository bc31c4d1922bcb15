#!/bin/bash
# Khiên — automatic forwarding to a higher-level centre (forward.json with a
# url): an incident and a malware detection are queued in the database and
# sent, signed, to a test receiver on loopback; while the receiver is down
# they stay queued with a recorded error and a growing retry time; once it
# is up they arrive, each exactly once, with a valid Ed25519 signature of
# the centre's bundle key; a restart of the centre does not send them again.
. "$(dirname "$0")/../lib.sh"
command -v curl >/dev/null && command -v openssl >/dev/null || { echo "skip: curl/openssl missing"; exit 0; }
python3 -c 'import cryptography' 2>/dev/null || { echo "skip: python3-cryptography missing"; exit 0; }

D="$T/centre"
PORT=$((20000 + RANDOM % 20000))
RPORT=$((PORT + 1))
B="https://127.0.0.1:$PORT/api/v1"
SRV_PID=""; RCV_PID=""
start_server() {
  "$KHIEN" server --data "$D" --listen "127.0.0.1:$PORT" --threads 4 >"$T/server.out" 2>"$T/server.err" &
  SRV_PID=$!
  for _ in $(seq 1 100); do curl -sk "$B/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$T/server.err"; return 1
}
stop_server() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
stop_receiver() { [ -n "$RCV_PID" ] && kill "$RCV_PID" 2>/dev/null; wait "$RCV_PID" 2>/dev/null; RCV_PID=""; }
trap 'stop_server; stop_receiver; rm -rf "$T"' EXIT
j() { python3 -c 'import sys,json; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchone(); print(r[0] if r else "")' "$D/khien.db" "$1"; }

# the higher centre's TLS identity (its own CA, as a province would have)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/r.key" -out "$T/r.crt" \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" -days 2 2>/dev/null
# receiver: stores each POST body (one per file), answers 200
cat >"$T/recv.py" <<'PY'
import http.server, ssl, sys, os, itertools
n = itertools.count()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        open(os.path.join(sys.argv[2], "m%04d.json" % next(n)), "wb").write(body)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[3], sys.argv[4])
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
mkdir -p "$T/got"

check "first start" start_server
PW=$(sed -n 's/.*one-time password (shown only now): //p' "$T/server.out")
stop_server
# the target is down: nothing listens on RPORT yet
printf '{"url":"https://127.0.0.1:%s/incoming","ca_file":"%s","retry_min_s":1,"retry_max_s":2,"interval_s":1}\n' "$RPORT" "$T/r.crt" >"$D/forward.json"
check "restart with forward.json" start_server

rm -f "$T/jar"
curl -sk -c "$T/jar" -H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$PW\"}" "$B/login" >"$T/login.json"
CSRF=$(j 'd["csrf_token"]' <"$T/login.json")
adm() { curl -sk -b "$T/jar" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' "$@"; }
INC=$(adm -d '{"title":"Lộ lọt dữ liệu / data leak","severity":"high","category":"other","unit_id":1}' "$B/incidents" | j 'd["id"]')
check "incident created by hand" test -n "$INC"
# an agent reports malware (enrolled with an openssl CSR)
TOK=$(adm -d '{"unit_id":1,"max_uses":1}' "$B/enrollment-tokens" | j 'd["token"]')
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/a.key" -subj "/CN=a" -out "$T/a.csr" 2>/dev/null
python3 -c 'import json,sys; print(json.dumps({"token":sys.argv[1],"csr":open(sys.argv[2]).read(),"hostname":"pc1"}))' "$TOK" "$T/a.csr" >"$T/a.req"
curl -sk -H 'Content-Type: application/json' --data-binary @"$T/a.req" "$B/enroll" | j 'd["certificate"]' >"$T/a.crt"
echo '{"events":[{"id":"fw-0000000001","type":"malware","data":{"path":"/tmp/x","name":"Eicar-Signature","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}}]}' >"$T/ev.json"
curl -sk --cert "$T/a.crt" --key "$T/a.key" -H 'Content-Type: application/json' --data-binary @"$T/ev.json" "$B/agent/events" >"$T/ev.out"
check "malware event accepted" grep -q fw-0000000001 "$T/ev.out"

# target down: queued, attempts counted, error kept, nothing marked sent
for _ in $(seq 1 300); do [ "$(sql "SELECT MIN(attempts) FROM forward_queue")" -ge 2 ] 2>/dev/null && break; sleep 0.1; done
check "queued while the target is down (incident, malware finding, auto incident)" test "$(sql "SELECT COUNT(*) FROM forward_queue")" -ge 3
check "retried with an error recorded" test "$(sql "SELECT COUNT(*) FROM forward_queue WHERE attempts >= 2 AND last_error IS NOT NULL")" -ge 3
check "nothing marked sent" test "$(sql "SELECT COUNT(*) FROM forward_queue WHERE sent_at IS NOT NULL")" = 0
QUEUED=$(sql "SELECT COUNT(*) FROM forward_queue")

# target comes back
python3 "$T/recv.py" "$RPORT" "$T/got" "$T/r.crt" "$T/r.key" &
RCV_PID=$!
for _ in $(seq 1 100); do [ "$(sql "SELECT COUNT(*) FROM forward_queue WHERE sent_at IS NULL")" = 0 ] && break; sleep 0.1; done
check "everything sent once the target is back" test "$(sql "SELECT COUNT(*) FROM forward_queue WHERE sent_at IS NULL")" = 0
check "incident marked forwarded" test -n "$(sql "SELECT forwarded_at FROM incidents WHERE id = $INC")"
stop_server
check "restart" start_server
sleep 2.5
stop_server
stop_receiver
GOT=$(ls "$T/got" | wc -l)
check "each queued item received exactly once ($GOT of $QUEUED), also after a restart" test "$GOT" = "$QUEUED"

# signatures and content: verified with the centre's bundle.pub, distinct forward ids
cat >"$T/verify.py" <<'PY'
import base64, json, os, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
pk = Ed25519PublicKey.from_public_bytes(bytes.fromhex(open(sys.argv[1]).read().strip()))
ids, kinds = set(), []
for f in sorted(os.listdir(sys.argv[2])):
    env = json.load(open(os.path.join(sys.argv[2], f)))
    payload = base64.b64decode(env["payload"])
    pk.verify(base64.b64decode(env["signature"]), b"khien-bundle-1\0" + payload)  # raises if tampered
    d = json.loads(payload)
    assert d["schema"] == "khien-forward-1", d["schema"]
    assert d["forward_id"] not in ids, "duplicate " + d["forward_id"]
    ids.add(d["forward_id"]); kinds.append(d["kind"])
    if d["kind"] == "malware":
        assert d["detection"]["title"] == "Eicar-Signature" and d["detection"]["host"]["hostname"] == "pc1", d
print(" ".join(sorted(kinds)))
PY
python3 "$T/verify.py" "$D/bundle.pub" "$T/got" >"$T/out" 2>"$T/err"
check "signatures valid, schema khien-forward-1, distinct ids" test $? = 0
check "incidents and the malware detection forwarded" grep -q "incident incident malware" "$T/out"
cat "$T/err" | head -5

# bad forward.json: a clear error, no start
echo '{"url": "http://insecure/"}' >"$D/forward.json"
"$KHIEN" server --data "$D" --listen "127.0.0.1:$PORT" >"$T/out" 2>"$T/err" &
P=$!
for _ in $(seq 1 300); do kill -0 $P 2>/dev/null || break; sleep 0.1; done # it exits by itself
kill -0 $P 2>/dev/null && { kill $P; bad "server with a bad forward.json still running after 30 s"; }
wait $P
RC=$?
check "http:// target refused with a message (exit $RC)" grep -q "https://" "$T/err"
check "  ... and a failure exit status" test "$RC" -ne 0
finish
