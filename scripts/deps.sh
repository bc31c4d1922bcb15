#!/bin/sh
# Installs the Debian packages Khiên needs to build, test and benchmark.
# Idempotent: does nothing when every package is already installed.
#   scripts/deps.sh          build + run   (libraries, compiler, cmake)
#   scripts/deps.sh test     also what the tests compare against (clamscan, yara, ...)
#   scripts/deps.sh bench    also what the benchmarks use
set -eu
BUILD="build-essential cmake pkg-config libvectorscan-dev libssl-dev libarchive-dev libjansson-dev libyaml-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libsodium-dev libmicrohttpd-dev libgnutls28-dev libqrencode-dev libhpdf-dev fonts-liberation2 curl"
TEST="clamav clamav-testfiles yara python3 zip unzip p7zip-full xz-utils bzip2 gzip tar chromium poppler-utils postgresql"
BENCH="time hyperfine"
want="$BUILD"
case "${1:-}" in
  test)  want="$want $TEST" ;;
  bench) want="$want $TEST $BENCH" ;;
  "")    ;;
  *) echo "usage: $0 [test|bench]" >&2; exit 64 ;;
esac
# The dashboard's browser test needs node and npm: Debian's nodejs and npm,
# unless some node is already there (another packaging of it, with npm
# inside, would conflict with Debian's npm).
if [ "${1:-}" = test ] || [ "${1:-}" = bench ]; then
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || want="$want nodejs npm"
fi
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
