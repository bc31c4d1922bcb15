#!/usr/bin/env python3
"""A minimal stand-in for `khien server`'s agent API (docs/api.md), for testing
`khien agent` on its own: enrollment (CA, token, CSR signed with the openssl
command), heartbeats and events over mutual TLS. Events are stored once per
id in STATE/events.jsonl (appended and fsync'ed before the reply, as a real
centre commits before acknowledging). Tokens are lines of STATE/tokens
("TOKEN USES-LEFT"); a host id listed in STATE/removed is refused (403). If
STATE/crash-once exists, the next batch of events is stored and the process
then dies before replying (a kill -9 between commit and acknowledgement).

usage: fake_centre.py STATE PORT   (STATE holds ca.pem, ca.key, server.pem, server.key)
"""
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading

STATE, PORT = sys.argv[1], int(sys.argv[2])
lock = threading.Lock()


def path(name):
    return os.path.join(STATE, name)


def load_ids():
    ids = set()
    try:
        with open(path("events.jsonl")) as f:
            for line in f:
                ids.add(json.loads(line)["id"])
    except FileNotFoundError:
        pass
    return ids


stored = load_ids()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj, ctype="application/json"):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, msg):
        self.reply(code, {"error": {"code": "forbidden" if code == 403 else "bad_request", "message": msg}})

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(n) or b"{}")

    def host(self):
        cert = self.connection.getpeercert()
        if not cert:
            self.error(401, "client certificate required")
            return None
        cn = dict(x[0] for x in cert["subject"])["commonName"]
        try:
            removed = open(path("removed")).read().split()
        except FileNotFoundError:
            removed = []
        if cn in removed:
            self.error(403, "máy đã bị gỡ / host removed")
            return None
        return cn

    def do_GET(self):
        if self.path == "/api/v1/health":
            return self.reply(200, {"status": "ok"})
        if self.path == "/api/v1/enroll/ca":
            return self.reply(200, open(path("ca.pem"), "rb").read(), "application/x-pem-file")
        self.error(404, "not found")

    def do_POST(self):
        if self.path == "/api/v1/enroll":
            return self.enroll()
        if self.path == "/api/v1/agent/heartbeat":
            if self.host():
                self.body()
                self.reply(200, {"host_id": 1, "heartbeat_interval": 60, "bundles": []})
            return
        if self.path == "/api/v1/agent/events":
            return self.events()
        self.error(404, "not found")

    def enroll(self):
        req = self.body()
        with lock:
            toks = {}
            for line in open(path("tokens")):
                t, n = line.split()
                toks[t] = int(n)
            if toks.get(req.get("token"), 0) <= 0:
                return self.error(403, "mã đăng ký không dùng được / the enrollment token is unknown, revoked, expired or used up")
            toks[req["token"]] -= 1
            with open(path("tokens"), "w") as f:
                f.writelines("%s %d\n" % kv for kv in toks.items())
            hid = len(os.listdir(path("hosts"))) + 1
            open(os.path.join(path("hosts"), str(hid)), "w").close()
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "req.pem"), "w").write(req["csr"])
            r = subprocess.run(["openssl", "x509", "-req", "-in", os.path.join(d, "req.pem"), "-CA", path("ca.pem"),
                                "-CAkey", path("ca.key"), "-set_serial", str(1000 + hid), "-days", "30",
                                "-subj", "/CN=host-%d" % hid, "-out", os.path.join(d, "cert.pem")],
                               capture_output=True)
            if r.returncode:
                return self.error(400, "bad CSR: " + r.stderr.decode()[:200])
            cert = open(os.path.join(d, "cert.pem")).read()
        self.reply(201, {"host_id": hid, "unit_id": 2, "certificate": cert, "ca": open(path("ca.pem")).read(),
                         "bundle_public_key": "00" * 32})

    def events(self):
        h = self.host()
        if not h:
            return
        evs = self.body().get("events", [])
        if len(evs) > 1000:  # the limit of docs/api.md
            return self.reply(413, {"error": {"code": "too_large", "message": "at most 1000 events per batch"}})
        acc = []
        with lock:
            with open(path("received"), "a") as r:
                r.write("%d\n" % len(evs))
            with open(path("events.jsonl"), "a") as f:
                for e in evs:
                    if e["id"] not in stored:
                        stored.add(e["id"])
                        f.write(json.dumps({"id": e["id"], "host": h, "type": e["type"]}) + "\n")
                    acc.append(e["id"])
                f.flush()
                os.fsync(f.fileno())
            if os.path.exists(path("crash-once")):
                # as a kill -9 between the commit and the reply: stored, never acknowledged
                os.unlink(path("crash-once"))
                os._exit(137)
        self.reply(200, {"accepted": acc, "rejected": []})


os.makedirs(path("hosts"), exist_ok=True)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(path("server.pem"), path("server.key"))
ctx.load_verify_locations(path("ca.pem"))
ctx.verify_mode = ssl.CERT_OPTIONAL
srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
