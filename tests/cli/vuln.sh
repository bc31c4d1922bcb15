#!/bin/bash
# End-to-end: khien vuln on a fake root (dpkg status + os-release) with a
# small OSV feed written here, as a folder and as a zip; malformed records
# are reported and skipped while the rest is used; exit codes 0/1/2; JSON.
. "$SRC/tests/lib.sh"
R=$T/root
mkdir -p "$R/etc" "$R/var/lib/dpkg" "$T/feed/sub"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' > "$R/etc/os-release"
cat > "$R/var/lib/dpkg/status" <<'EOF'
Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u2

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u2

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1+b1

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2

Package: curl
Status: deinstall ok config-files
Architecture: amd64
Version: 7.88.1-10
EOF

rec() { # rec FILE ID PACKAGE EVENTS [EXTRA]
  printf '{"id": "%s", "summary": "%s - security update", %s "affected": [{"package": {"ecosystem": "Debian:12", "name": "%s"}, "ranges": [{"type": "ECOSYSTEM", "events": [%s]}]}]}\n' \
    "$2" "$3" "${5:-}" "$3" "$4" > "$1"
}
rec "$T/feed/DSA-5532-1.json" DSA-5532-1 openssl '{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u3"}' \
  '"aliases": ["CVE-2023-5363"], "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],'
rec "$T/feed/DSA-0001-1.json" DSA-0001-1 openssl '{"introduced": "0"}, {"fixed": "3.0.9-1"}'
rec "$T/feed/sub/DSA-0002-1.json" DSA-0002-1 zlib '{"introduced": "0"}, {"fixed": "1:1.2.13.dfsg-1"}'
rec "$T/feed/sub/DEBIAN-CVE-2022-3715.json" DEBIAN-CVE-2022-3715 bash '{"introduced": "0"}' '"upstream": ["CVE-2022-3715"],'
rec "$T/feed/DSA-0003-1.json" DSA-0003-1 curl '{"introduced": "0"}, {"fixed": "8.0-1"}'
# malformed records: each reported and skipped
echo '{"id": "BROKEN-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "3.0-"}]}]}]}' > "$T/feed/broken1.json"
echo '{"id": "BROKEN-2", "affected": "openssl"}' > "$T/feed/broken2.json"
printf '{"id": "BROKEN-3", "affec' > "$T/feed/broken3.json"
echo 'not JSON at all' > "$T/feed/notes.txt" # not .json: ignored

expect_rc 1 "vulnerabilities found (exit 1)" "$KHIEN" vuln --root "$R" -d "$T/feed"
check "header names the ecosystem from os-release" has "Ecosystem: Debian:12, 4 gói đã cài / installed packages"
check "advisory on the source package, all its binaries" hasre 'DSA-5532-1  openssl 3.0.11-1~deb12u2 -> 3.0.11-1~deb12u3  \[libssl3, openssl\]'
check "CVSS score and level" hasre '^HIGH 7.5 +DSA-5532-1'
check "CVE alias shown" has "CVE-2023-5363"
check "summary shown" has "openssl - security update"
check "fixed in an older version: not reported" sh -c "! grep -q DSA-0001-1 '$T/out'"
check "binNMU compared by source version: not reported" sh -c "! grep -q DSA-0002-1 '$T/out'"
check "no fix yet" hasre 'DEBIAN-CVE-2022-3715  bash 5.2.15-2\+b2 -> \(chưa có bản vá / no fix yet\)'
check "removed package (config files only) not reported" sh -c "! grep -q DSA-0003-1 '$T/out'"
check "summary line" has "2 lỗ hổng / vulnerabilities trong / in 2 gói nguồn / source packages, 1 chưa có bản vá / without a fix yet"
check "malformed records counted" has "3 bị bỏ qua vì lỗi / skipped as malformed"
check "bad version reported" has_err "record 'BROKEN-1': affected[0].ranges[0].events[0].fixed: '3.0-' is not a Debian version"
check "bad type reported" has_err "record 'BROKEN-2': \"affected\" is not an array (skipped)"
check "truncated JSON reported" has_err "broken3.json: line 1"

(cd "$T/feed" && zip -qr "$T/feed.zip" .)
expect_rc 1 "the same feed as a zip (osv.dev all.zip layout)" "$KHIEN" vuln --root "$R" -d "$T/feed.zip" --json
check "JSON line per vulnerability" hasre '^\{"type":"vulnerability","id":"DSA-5532-1","aliases":\["CVE-2023-5363"\],"package":"openssl","binaries":\["libssl3","openssl"\],"installed":"3.0.11-1~deb12u2","fixed":"3.0.11-1~deb12u3","severity":"HIGH","score":7.5,'
check "JSON null fixed version" hasre '"id":"DEBIAN-CVE-2022-3715","aliases":\["CVE-2022-3715"\].*"fixed":null'
check "JSON skipped records, naming the zip member" hasre '^\{"type":"skipped","source":"[^"]*feed.zip!broken2.json"'
check "JSON summary" hasre '^\{"type":"summary","ecosystem":"Debian:12","packages":4,"advisories":5,"skipped_records":3,"withdrawn":0,"vulnerabilities":2,"vulnerable_packages":2,"without_fix":1\}$'
check "every line is JSON" python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/out"

expect_rc 2 "--strict: malformed records are an error" "$KHIEN" vuln --root "$R" -d "$T/feed" --strict
check "--strict says why" has_err "(--strict)"
expect_rc 1 "-q hides the skipped records" "$KHIEN" vuln --root "$R" -d "$T/feed" -q
check "nothing on stderr" test ! -s "$T/err"

mkdir -p "$T/clean"
rec "$T/clean/DSA-0001-1.json" DSA-0001-1 openssl '{"introduced": "0"}, {"fixed": "3.0.9-1"}'
expect_rc 0 "nothing vulnerable (exit 0)" "$KHIEN" vuln --root "$R" -d "$T/clean"
check "says so" has "No known vulnerability found"
expect_rc 0 "another release's advisories do not apply" "$KHIEN" vuln --root "$R" -d "$T/feed" --ecosystem Debian:11 -q
expect_rc 1 "several feeds" "$KHIEN" vuln --root "$R" -d "$T/clean" -d "$T/feed/DSA-5532-1.json"

# the packages of an inventory snapshot instead of a root
"$KHIEN" inventory --root "$R" --json > "$T/snap.json" 2>/dev/null
expect_rc 1 "--inventory: packages and ecosystem from a snapshot" "$KHIEN" vuln -d "$T/feed" -q --inventory "$T/snap.json"
check "same finding as from the root" hasre 'DSA-5532-1  openssl 3.0.11-1~deb12u2 -> 3.0.11-1~deb12u3  \[libssl3, openssl\]'
check "binNMU source version kept in the snapshot" sh -c "! grep -q DSA-0002-1 '$T/out'"
echo '{"format": "khien-inventory"' > "$T/badsnap.json"
expect_rc 2 "--inventory with a malformed snapshot" "$KHIEN" vuln -d "$T/feed" -q -i "$T/badsnap.json"
check "says so" has_err "not a valid inventory snapshot"
expect_rc 2 "--inventory and --root together" "$KHIEN" vuln -d "$T/feed" -q -i "$T/snap.json" --root "$R"

# errors: exit 2
expect_rc 2 "no feed" "$KHIEN" vuln --root "$R"
expect_rc 2 "missing feed" "$KHIEN" vuln --root "$R" -d "$T/nope"
check "names the feed" has_err "$T/nope"
head -c 100 /dev/urandom > "$T/bad.zip"
expect_rc 2 "damaged zip" "$KHIEN" vuln --root "$R" -d "$T/bad.zip"
mkdir -p "$T/empty"
expect_rc 2 "no dpkg database under the root" "$KHIEN" vuln --root "$T/empty" -d "$T/feed" -q --ecosystem Debian:12
check "says so" has_err "no dpkg database"
mkdir -p "$T/fedora/etc" "$T/fedora/var/lib/dpkg" && echo 'ID=fedora' > "$T/fedora/etc/os-release" && : > "$T/fedora/var/lib/dpkg/status"
expect_rc 2 "unknown ecosystem asks for --ecosystem" "$KHIEN" vuln --root "$T/fedora" -d "$T/feed" -q
check "suggests --ecosystem" has_err "--ecosystem"
expect_rc 2 "bad option" "$KHIEN" vuln --bogus
expect_rc 2 "stray argument" "$KHIEN" vuln -d "$T/feed" stray

# this host: runs and exits 0 or 1
"$KHIEN" vuln -d "$T/feed" -q > "$T/out" 2>"$T/err"
rc=$?
check "this host (exit 0 or 1, or 2 if it is not Debian)" test "$rc" -le 2
finish
