#!/bin/bash
# End-to-end: khien audit --policy FILE with a Wazuh-format policy: every
# rule type on a fake root, commands and when they may run, and malformed
# policies (file:line:column and what is wrong; nothing runs).
. "$SRC/tests/lib.sh"
umask 022
R=$T/root
mkdir -p $R/etc/ssh $R/etc/security/limits.d $R/proc/42
printf '12\n' > $R/etc/debian_version
printf '# sshd\nPermitRootLogin no\nMaxAuthTries 3\nProtocol 2\n' > $R/etc/ssh/sshd_config
printf 'PASS_MAX_DAYS 365\n' > $R/etc/login.defs
printf '* hard core 0\n' > $R/etc/security/limits.d/10-core.conf
printf 'cron\n' > $R/proc/42/comm
printf '/usr/sbin/cron\0-f\0' > $R/proc/42/cmdline

cat > $T/wazuh.yml <<'Y'
# A policy in the format of Wazuh's SCA (cis_debian-like)
policy:
  id: "test_wazuh"
  file: "wazuh.yml"
  name: "Wazuh-format test policy"
  description: "Every rule type."
  references:
    - https://documentation.wazuh.com/current/user-manual/capabilities/sec-config-assessment/creating-custom-policies.html
requirements:
  title: "Check Debian"
  description: "Requirements for running the SCA scan against Debian"
  condition: any
  rules:
    - 'f:/etc/debian_version'
variables:
  $sshd_file: /etc/ssh/sshd_config
checks:
  - id: 100
    title: "Ensure SSH root login is disabled."
    description: "d"
    rationale: "r"
    remediation: "Set PermitRootLogin no"
    compliance:
      - cis: ["5.2.10"]
      - pci_dss: ["2.2.4"]
    references:
      - https://www.cisecurity.org
    condition: all
    rules:
      - 'f:$sshd_file -> r:^\s*\t*PermitRootLogin\s*\t*no'
  - id: 101
    title: "Ensure SSH MaxAuthTries is set to 4 or less."
    condition: all
    rules:
      - 'f:$sshd_file -> !r:^# && n:^\s*MaxAuthTries\s*\t*(\d+) compare <= 4'
  - id: 102
    title: "Ensure password expiration is 365 days or less."
    condition: all
    rules:
      - 'f:/etc/login.defs -> n:^\s*PASS_MAX_DAYS\s*\t*(\d+) compare < 365'
  - id: 103
    title: "Ensure core dumps are restricted."
    condition: any
    rules:
      - 'd:/etc/security -> r:limits.conf|\.conf$ -> r:^\s*\*\s+hard\s+core\s+0$'
  - id: 104
    title: "Ensure cron daemon is running."
    condition: all
    rules:
      - 'p:cron'
  - id: 105
    title: "Ensure telnet is not running."
    condition: none
    rules:
      - 'p:in.telnetd'
  - id: 106
    title: "Windows-only registry check."
    condition: all
    rules:
      - 'r:HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters -> SMB1 -> 0'
  - id: 107
    title: "Kernel is Linux (command)."
    condition: all
    rules:
      - 'c:uname -s -> r:^Linux$'
  - id: 108
    title: "No legacy config."
    condition: none
    rules:
      - 'f:/etc/hosts.equiv'
      - 'f:/etc/ssh/sshd_config -> Protocol 1'
Y
chmod 644 $T/wazuh.yml

expect_rc 1 "Wazuh-format policy runs (some checks fail: exit 1)" "$KHIEN" audit --root $R --policy $T/wazuh.yml
check "f: r: passed" hasre '^  ĐẠT / PASS +100  Ensure SSH root login is disabled\.$'
check "&& with n: passed" hasre '^  ĐẠT / PASS +101 '
check "n: < failed" hasre '^  KHÔNG ĐẠT / FAIL +102 '
check "n: value in evidence" has "value 365 does not satisfy < 365"
check "d: recursive with content passed" hasre '^  ĐẠT / PASS +103 '
check "p: from the root's /proc" hasre '^  ĐẠT / PASS +104 '
check "p: none passed" hasre '^  ĐẠT / PASS +105 '
check "registry: not applicable" hasre '^  KHÔNG ÁP DỤNG / N/A +106 '
check "registry reason" has "registry rules apply to Windows only"
check "c: not run under --root" hasre '^  KHÔNG ÁP DỤNG / N/A +107 '
check "c: reason names --root" has "commands (c:) are not run when auditing another root directory (--root)"
check "literal content rule" hasre '^  ĐẠT / PASS +108 '
check "score" has "Điểm / Score: 86% — 6 đạt / passed, 1 không đạt / failed, 2 không áp dụng / not applicable"

chmod 666 $T/wazuh.yml
expect_rc 1 "policy writable by others with --allow-commands" "$KHIEN" audit --root $R --allow-commands -p $T/wazuh.yml
check "c: refused for a writable policy file" has "the policy file is not owned by root or is writable by group or others: commands (c:) are not run"
chmod 644 $T/wazuh.yml
if [ "$(id -u)" = 0 ]; then
  expect_rc 1 "root-owned policy with --allow-commands runs c:" "$KHIEN" audit --root $R --allow-commands -p $T/wazuh.yml
  check "c: passed" hasre '^  ĐẠT / PASS +107 '
  check "command output line is the evidence" bash -c "'$KHIEN' audit --root '$R' --allow-commands -p '$T/wazuh.yml' -v | grep -q -- '- uname -s:1: \"Linux\"'"
fi

expect_rc 1 "two policy files" "$KHIEN" audit --root $R -p $T/wazuh.yml -p $T/wazuh.yml --json
check "two policy objects" bash -c "[ \$(grep -c '\"type\":\"policy\"' '$T/out') -eq 2 ]"

# ---- malformed policies ------------------------------------------------------------
mkpol() { # mkpol NAME CONTENT : writes $T/NAME.yml
  printf '%s' "$2" > "$T/$1.yml"
}
mkpol yaml $'policy:\n  id: x\n  name: [unclosed\nchecks: []\n'
expect_rc 2 "YAML syntax error (exit 2)" "$KHIEN" audit --root $R -p $T/yaml.yml
check "file:line:column" has_err "$T/yaml.yml:4:7: lỗi / error: YAML sai / invalid YAML:"
check "where the unclosed list started" has_err "while parsing a flow sequence started on line 3"
check "nothing ran" test ! -s "$T/out"

mkpol cond $'policy:\n  id: x\n  name: X\nchecks:\n  - id: 1\n    title: t\n    condition: most\n    rules: [\'f:/etc/passwd\']\n'
expect_rc 2 "bad condition (exit 2)" "$KHIEN" audit --root $R -p $T/cond.yml
check "condition error at its line" has_err "$T/cond.yml:7:16: lỗi / error: 'condition' phải là all, any hoặc none (đang là 'most') / 'condition' must be all, any or none (got 'most')"

mkpol rule $'policy:\n  id: x\n  name: X\nchecks:\n  - id: 1\n    title: t\n    condition: all\n    rules:\n      - \'f:/etc/passwd\'\n      - \'z:/etc/passwd\'\n'
expect_rc 2 "unknown rule type (exit 2)" "$KHIEN" audit --root $R -p $T/rule.yml
check "rule error at the rule's line" has_err "$T/rule.yml:10:9: lỗi / error:"
check "says what is wrong" has_err "unknown rule type, expected f:, d:, c:, p:, r: or k:"

mkpol regex $'policy:\n  id: x\n  name: X\nchecks:\n  - id: 1\n    title: t\n    condition: all\n    rules:\n      - \'f:/etc/passwd -> r:^root(\'\n'
expect_rc 2 "bad regex (exit 2)" "$KHIEN" audit --root $R -p $T/regex.yml
check "regex error" has_err "$T/regex.yml:9:9: lỗi / error: quy tắc 'f:/etc/passwd -> r:^root(': biểu thức '^root(' sai: thiếu dấu ')' / missing ')'"

mkpol dup $'policy:\n  id: x\n  name: X\nchecks:\n  - id: 5\n    title: a\n    condition: all\n    rules: [\'f:/a\']\n  - id: 5\n    title: b\n    condition: all\n    rules: [\'f:/b\']\n'
expect_rc 2 "duplicate id (exit 2)" "$KHIEN" audit --root $R -p $T/dup.yml
check "duplicate id message" has_err "$T/dup.yml:9:9: lỗi / error: id 5 bị trùng (đã dùng ở dòng 5) / duplicate id 5 (already used on line 5)"

mkpol nocmp $'policy:\n  id: x\n  name: X\nchecks:\n  - id: 1\n    title: t\n    condition: all\n    rules:\n      - \'f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+)\'\n'
expect_rc 2 "n: without compare (exit 2)" "$KHIEN" audit --root $R -p $T/nocmp.yml
check "n: message" has_err "'n:' needs 'n:REGEX compare OPERATOR NUMBER'"

mkpol nopolicy $'checks:\n  - id: 1\n'
expect_rc 2 "missing policy section (exit 2)" "$KHIEN" audit -p $T/nopolicy.yml
check "policy section message" has_err "$T/nopolicy.yml:1:1: lỗi / error: thiếu phần 'policy'"

expect_rc 2 "a malformed policy among good ones stops everything" "$KHIEN" audit --root $R -p $T/wazuh.yml -p $T/cond.yml
check "no check printed" bash -c "! grep -q 'ĐẠT' '$T/out'"
expect_rc 2 "missing policy file (exit 2)" "$KHIEN" audit -p $T/none.yml
check "missing file named" has_err "$T/none.yml: lỗi / error: không mở được tệp chính sách / cannot open the policy file"
finish
