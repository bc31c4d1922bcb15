#!/bin/bash
# End-to-end: khien audit with the built-in policies against fake roots:
# a hardened system (exit 0), a weakened one (exit 1, evidence, remediation),
# JSON Lines, --list, requirements not met, colour, usage errors.
. "$SRC/tests/lib.sh"
umask 022

w() { # w ROOT PATH CONTENT [MODE]
  mkdir -p "$(dirname "$1$2")"
  printf '%b' "$3" > "$1$2"
  chmod "${4:-644}" "$1$2"
}

good=$T/good
w $good /etc/debian_version '12.5\n'
w $good /etc/ssh/sshd_config 'PermitRootLogin no\nPermitEmptyPasswords no\nMaxAuthTries 4\nClientAliveInterval 300\nX11Forwarding no\n'
w $good /etc/login.defs 'PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\n'
w $good /etc/pam.d/common-password 'password\trequisite\tpam_pwquality.so retry=3\npassword\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n'
w $good /etc/security/pwquality.conf 'minlen = 14\n'
w $good /etc/pam.d/common-auth 'auth\trequired\tpam_faillock.so preauth\nauth\t[success=1 default=ignore]\tpam_unix.so\n'
w $good /etc/security/faillock.conf '# deny = 3\ndeny = 5\n'
w $good /etc/ufw/ufw.conf 'ENABLED=yes\nLOGLEVEL=low\n'
w $good /usr/bin/unattended-upgrade '#!/usr/bin/python3\n' 755
w $good /etc/apt/apt.conf.d/20auto-upgrades 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n'
w $good /etc/passwd 'root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n'
w $good /etc/shadow 'root:*:19000:0:90:7:::\nadmin:$y$j9T$salt$hash:19000:1:90:7:::\n' 640
w $good /etc/sudoers 'root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n# nobody gets NOPASSWD here\n' 440
w $good /etc/sudoers.d/README '# files in this folder are read by sudo\n' 440
w $good /etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service '[Unit]\n'
w $good /etc/systemd/system/multi-user.target.wants/auditd.service '[Unit]\n'
mkdir -p $good/var/log/journal
w $good /proc/1/comm 'khien\n'
printf '/usr/bin/khien\0agent\0--foreground\0' > $good/proc/1/cmdline
w $good /var/lib/khien/main.kdb 'signatures\n'

expect_rc 0 "hardened system passes the baseline (exit 0)" "$KHIEN" audit --root $good --builtin baseline
check "header names the audited root" has "Hệ thống / System: $good"
check "policy name printed" has "Debian/Ubuntu security baseline [khien_debian_baseline]"
check "a passed check" hasre '^  ĐẠT / PASS +20001  SSH: không cho đăng nhập trực tiếp bằng root / SSH: root login is not allowed$'
check "score 100%" has "Điểm / Score: 100% — 24 đạt / passed, 0 không đạt / failed, 0 không áp dụng / not applicable"
check "no colour when not a terminal" bash -c "! grep -q $'\033' '$T/out'"

bad=$T/bad
cp -a $good $bad
w $bad /etc/ssh/sshd_config 'PermitRootLogin yes\nMaxAuthTries 6\n'
w $bad /etc/sudoers.d/90-cloud 'admin ALL=(ALL) NOPASSWD:ALL\n' 440
w $bad /etc/shadow 'root:*:19000:0:90:7:::\nadmin::19000:1:90:7:::\n' 640
w $bad /usr/lib/app/shared.conf 'x\n' 666
rm $bad/etc/ufw/ufw.conf
rm -r $bad/proc $bad/var/lib/khien
w $bad /proc/1/comm 'systemd\n'
printf '/sbin/init\0' > $bad/proc/1/cmdline
expect_rc 1 "weakened system fails (exit 1)" "$KHIEN" audit --root $bad --builtin khien_debian_baseline
check "failed check tagged" hasre '^  KHÔNG ĐẠT / FAIL +20001  SSH: không cho đăng nhập'
check "evidence names file, line and the line" has "- /etc/ssh/sshd_config:1: \"PermitRootLogin yes\""
check "remediation printed for a failed check" has "Cách khắc phục / Remediation:"
check "remediation text" has "EN: In /etc/ssh/sshd_config (and /etc/ssh/sshd_config.d/*.conf) set \"PermitRootLogin no\""
check "MaxAuthTries value shown" has "- /etc/ssh/sshd_config:2: \"MaxAuthTries 6\": giá trị 6 không thỏa <= 4 / value 6 does not satisfy <= 4"
check "NOPASSWD found in sudoers.d" has "- /etc/sudoers.d/90-cloud:1: \"admin ALL=(ALL) NOPASSWD:ALL\""
check "empty password account" has "account 'admin' has an empty password"
check "world-writable file" has "- /usr/lib/app/shared.conf: tệp ai cũng ghi được (quyền 0666) / file writable by everybody (mode 0666)"
check "firewall: missing ufw.conf is a failure, not n/a" hasre '^  KHÔNG ĐẠT / FAIL +20020'
check "Khiên not running" hasre '^  KHÔNG ĐẠT / FAIL +20050'
check "process evidence" has "no such process is running (1 processes)"
check "signatures missing" has "- /var/lib/khien: không có tệp nào / no files"
check "sudoers line quoted (not mistaken for a secret)" has "NOPASSWD:ALL\""

odd=$T/odd
cp -a $good $odd
rm $odd/etc/login.defs && mkdir $odd/etc/login.defs
expect_rc 0 "unreadable configuration: not applicable, not failed" "$KHIEN" audit --root $odd -b baseline
check "not applicable tag" hasre '^  KHÔNG ÁP DỤNG / N/A +20010'
check "reason given" has "Lý do không áp dụng / Why not applicable: /etc/login.defs: không mở được tệp / cannot open the file: không phải tệp thông thường / not a regular file"
check "score counts only applicable checks" has "Điểm / Score: 100% — 21 đạt / passed, 0 không đạt / failed, 3 không áp dụng / not applicable"
check "passed checks stay short" bash -c "! grep -A1 -E '^  ĐẠT / PASS +20002' '$T/out' | grep -q 'Bằng chứng'"

expect_rc 1 "--quiet shows only failed checks" "$KHIEN" audit --root $bad -b baseline --quiet
check "--quiet: no passed line" bash -c "! grep -q 'ĐẠT / PASS ' '$T/out' || grep 'ĐẠT / PASS ' '$T/out' | grep -q 'KHÔNG'"
check "--quiet: failed line" has "KHÔNG ĐẠT / FAIL"

expect_rc 1 "--verbose shows rationale, evidence and references" "$KHIEN" audit --root $bad -b baseline -v
check "--verbose: rationale" has "Lý do cần kiểm tra / Rationale:"
check "--verbose: compliance" has "cis_debian12: 5.1.20"
check "--verbose: the rule" has "(quy tắc / rule: not f:/etc/ssh/sshd_config,/etc/ssh/sshd_config.d/*.conf -> r:^\\s*PermitRootLogin\\s+yes)"

expect_rc 1 "JSON output" "$KHIEN" audit --root $bad -b baseline --json
check "JSON: one object per line" python3 -c '
import json,sys
n=0
for line in open(sys.argv[1]):
    json.loads(line); n+=1
sys.exit(0 if n==26 else 1)' "$T/out"
check "JSON: failed check with evidence" python3 -c '
import json,sys
objs=[json.loads(l) for l in open(sys.argv[1])]
c=[o for o in objs if o["type"]=="check" and o["id"]==20001][0]
assert c["result"]=="failed" and c["policy"]=="khien_debian_baseline"
e=c["evidence"][-1]
assert e["path"]=="/etc/ssh/sshd_config" and e["line"]==1 and e["detail"]=="PermitRootLogin yes" and e["kind"]=="line"
assert c["compliance"]["cis_debian12"]==["5.1.20"]
p=[o for o in objs if o["type"]=="policy"][0]
assert p["applicable"] and p["failed"]==9 and p["checks"]==24 and p["score"]==int(p["score"])
s=objs[-1]
assert s["type"]=="summary" and s["policies"]==1 and s["failed"]==p["failed"]
' "$T/out"

expect_rc 0 "--list" "$KHIEN" audit --list
check "--list names the three policies" bash -c "grep -q '^khien_debian_baseline ' '$T/out' && grep -q '^khien_vn_level2_3 ' '$T/out' && grep -q '^khien_credentials ' '$T/out'"

other=$T/other
w $other /etc/redhat-release 'Rocky Linux 9\n'
w $other /etc/passwd 'root:x:0:0:root:/root:/bin/bash\n'
expect_rc 0 "requirements not met: nothing fails (exit 0)" "$KHIEN" audit --root $other -b baseline
check "policy reported not applicable" has "Chính sách không áp dụng cho hệ thống này / The policy does not apply to this system"
check "requirement named" has "Requirements not met: Hệ điều hành họ Debian (Debian, Ubuntu) / Debian family system (Debian, Ubuntu)"
expect_rc 0 "requirements not met, JSON" "$KHIEN" audit --root $other -b baseline --json
check "JSON policy not applicable" hasre '"type":"policy".*"applicable":false,"reason":"Hệ điều hành họ Debian'

expect_rc 1 "all built-in policies together" "$KHIEN" audit --root $bad
check "three policies and a total" has "Tổng / Total: 3 chính sách / policies"
expect_rc 1 "--color=always colours the tags" "$KHIEN" audit --root $bad -b baseline --color=always
check "escape codes present" bash -c "grep -q $'\033\\[31m' '$T/out'"

expect_rc 2 "--root must exist (exit 2)" "$KHIEN" audit --root $T/nowhere
check "error names the root" has_err "$T/nowhere"
expect_rc 2 "unknown built-in policy (exit 2)" "$KHIEN" audit -b nosuchpolicy
expect_rc 2 "bad option (exit 2)" "$KHIEN" audit --bogus
expect_rc 2 "stray argument (exit 2)" "$KHIEN" audit /etc
expect_rc 0 "--help" "$KHIEN" audit --help
check "help lists --root" has "--root=DIR"
expect_rc 0 "khien help lists audit" "$KHIEN" help
check "audit in the command list" has "audit"
finish
