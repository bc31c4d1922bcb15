#!/bin/sh
# Brings up the whole Khiên system on this machine (the README's main command):
# installs the Debian packages, builds build/khien, starts the centre
# (`khien server`, SQLite, data in ./khien-data, https://127.0.0.1:8443),
# enrolls this machine's agent into the city unit, runs its first scan,
# audit, inventory and vulnerability check, and prints the dashboard's URL
# with the administrator's one-time password.
#
#   sh scripts/up.sh [FOLDER]     FOLDER: what the first scan covers (default /home)
#
# Environment: KHIEN_DATA (server data folder), KHIEN_AGENT (agent state
# folder), KHIEN_LISTEN (ADDR:PORT). Running it again reuses everything: the
# server keeps its data, the agent stays enrolled, and a new run is reported.
# Stop the server with: kill "$(cat khien-server.pid)"
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
SCAN=${1:-/home}
DATA=${KHIEN_DATA:-$ROOT/khien-data}
AGENT=${KHIEN_AGENT:-$ROOT/khien-agent}
LISTEN=${KHIEN_LISTEN:-127.0.0.1:8443}
URL="https://$LISTEN"
LOG="${KHIEN_LOG:-$ROOT/khien-server.log}"
PIDF="${LOG%.log}.pid"
K="$ROOT/build/khien"

say() { printf '%s\n' "$*"; }
die() { printf 'up.sh: %s\n' "$*" >&2; exit 1; }
json_field() { sed -n "s/.*\"$1\" *: *\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" | head -1; }

[ -e "$SCAN" ] || die "không có thư mục / no such folder: $SCAN"
sh scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target khien

healthy() { curl -sk --max-time 2 "$URL/api/v1/health" 2>/dev/null | grep -q '"ok"'; }

# ---- the centre ----
if healthy; then
  say "khien server: đang chạy / already running at $URL"
else
  say "khien server: khởi động / starting (data: $DATA, log: $LOG)"
  nohup "$K" server --data "$DATA" --listen "$LISTEN" >>"$LOG" 2>&1 &
  echo $! >"$PIDF"
  i=0
  until healthy; do
    i=$((i + 1))
    if [ "$i" -gt 150 ] || ! kill -0 "$(cat "$PIDF")" 2>/dev/null; then
      tail -20 "$LOG" >&2
      die "máy chủ không khởi động được / the server did not start"
    fi
    sleep 0.2
  done
fi
FPR=$(sed -n 's/^CA SHA-256: *//p' "$LOG" | tail -1)
PW=$(sed -n 's/.*only now): *//p' "$LOG" | head -1)
[ -n "$FPR" ] || die "không thấy dấu vân tay CA trong / no CA fingerprint in $LOG"

# ---- this machine's agent ----
if [ ! -f "$AGENT/agent.json" ]; then
  [ -n "$PW" ] || die "agent chưa đăng ký và không còn mật khẩu một lần trong $LOG / agent not enrolled and no one-time password in $LOG (remove $DATA to start over)"
  JAR=$(mktemp)
  trap 'rm -f "$JAR"' EXIT
  CSRF=$(curl -sk -c "$JAR" -X POST "$URL/api/v1/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PW\"}" | json_field csrf_token)
  [ -n "$CSRF" ] || die "đăng nhập quản trị thất bại / admin login failed"
  TOKEN=$(curl -sk -b "$JAR" -X POST "$URL/api/v1/enrollment-tokens" -H "X-CSRF-Token: $CSRF" \
    -H 'Content-Type: application/json' \
    -d '{"unit_id":1,"expires_in_hours":1,"max_uses":1,"note":"scripts/up.sh: this machine"}' | json_field token)
  [ -n "$TOKEN" ] || die "không tạo được mã đăng ký / could not create an enrollment token"
  curl -sk -b "$JAR" -X POST "$URL/api/v1/logout" -H "X-CSRF-Token: $CSRF" >/dev/null || true
  "$K" agent enroll --server "$URL" --token "$TOKEN" --ca-sha256 "$FPR" --dir "$AGENT"
fi

# The first run's policy: a local file (root-owned, 0644), as an administrator would place it.
POLICY="$AGENT.policy.json"
cat >"$POLICY" <<EOF
{"heartbeat": 60,
 "tasks": [
   {"name": "first-scan", "type": "scan", "paths": ["$SCAN"], "every": "1d"},
   {"type": "audit", "every": "1d"},
   {"type": "inventory", "every": "6h"},
   {"type": "vuln", "every": "1d"}]}
EOF
chmod 0644 "$POLICY"
say "khien agent: lần chạy đầu / first run (scan $SCAN, audit, inventory, vuln)"
rc=0
"$K" agent run --once --dir "$AGENT" --policy "$POLICY" || rc=$?
[ "$rc" -le 1 ] || die "agent run thất bại / agent run failed (exit $rc)"

say ""
say "Bảng điều khiển / Dashboard:  $URL/"
if [ -n "$PW" ]; then
  say "Tài khoản / User: admin   Mật khẩu dùng một lần / one-time password: $PW"
  say "  (đổi mật khẩu và bật xác thực hai lớp khi đăng nhập lần đầu / change it and enrol a second factor at first login)"
fi
say "CA SHA-256 (khien agent enroll --ca-sha256): $FPR"
say "Dừng máy chủ / stop the server: kill \$(cat $PIDF)"
