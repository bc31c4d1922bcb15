#!/bin/bash
# End-to-end: the credential-exposure policy on planted fixtures. Reports
# name the file, line and kind; the planted secrets never appear in the
# output (text or JSON, stdout or stderr).
. "$SRC/tests/lib.sh"
umask 022
R=$T/root
S1='Tr0ub4dor-Secret-9917'      # a password typed on a command line
S2='ghp_R3alLooking0Token1234567890abcdefABC'
S3='Pg-Only-For-Tests-4471'
S4='MatKhau-CongDichVu-2024'
S5='AKIAZZZZZZZZZZZZZZZZ'
mkdir -p $R/etc $R/home/an/.ssh $R/home/binh/.config/tool "$R/home/an/Màn hình nền" $R/home/an/.mozilla/firefox/abc.default
chmod 755 $R/home $R/home/an $R/home/binh $R/home/an/.ssh
printf 'root:x:0:0:root:/root:/bin/bash\nan:x:1000:1000::/home/an:/bin/bash\nbinh:x:1001:1001::/home/binh:/bin/bash\n' > $R/etc/passwd
printf 'root:!:19000:0:99999:7:::\nan:$y$j9T$s$h:19000:0:90:7:::\nbinh::19000:0:99999:7:::\n' > $R/etc/shadow
chmod 644 $R/etc/shadow   # readable by everybody
printf 'ls\nmysql -u admin -p%s crm\ngit push https://an:%s@github.com/org/repo.git\n' "$S1" "$S2" > $R/home/an/.bash_history
chmod 644 $R/home/an/.bash_history
printf 'db.local:5432:crm:crm:%s\n' "$S3" > $R/home/an/.pgpass
chmod 644 $R/home/an/.pgpass
printf '[aws]\naws_access_key_id = %s\n' "$S5" > $R/home/binh/.config/tool/settings.ini
chmod 644 $R/home/binh/.config/tool/settings.ini
printf 'Dịch vụ công\nTên đăng nhập: an.nv\nMật khẩu: %s\n' "$S4" > "$R/home/an/Màn hình nền/tai khoan.txt"
chmod 600 "$R/home/an/Màn hình nền/tai khoan.txt"
printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDbD0w9QmKk+eQ0Zq4y5Wq7dQyJrJ2kL3bq5sV9kT2mAAAAJgAAAAAAAAAA\n-----END OPENSSH PRIVATE KEY-----\n' > $R/home/an/.ssh/id_ed25519
chmod 644 $R/home/an/.ssh/id_ed25519
printf '{"nextId":2,"logins":[{"id":1,"hostname":"https://dichvucong.gov.vn","encryptedUsername":"MDoEE","encryptedPassword":"MDoEEPgAAA"}]}' > $R/home/an/.mozilla/firefox/abc.default/logins.json

expect_rc 1 "planted credentials are found (exit 1)" "$KHIEN" audit --root $R -b credentials
check "readable private key: file and line" has "- /home/an/.ssh/id_ed25519:1: khóa riêng OpenSSH mọi người đọc được (quyền 0644) / OpenSSH private key readable by everybody (mode 0644)"
check "key without passphrase" has "OpenSSH private key without a passphrase"
check "history: mysql -p on line 2" has "- /home/an/.bash_history:2: mật khẩu trên dòng lệnh / password on a command line (Tr***) [command-line-password]"
check "history: token on line 3" has "- /home/an/.bash_history:3: mã truy cập GitHub / GitHub token (ghp_***) [github-token]"
check "history readable by everybody" has "- /home/an/.bash_history: mọi người đọc được tệp này (quyền 0644) / everybody can read this file (mode 0644)"
check ".pgpass readable by others" has "- /home/an/.pgpass: mọi người đọc được (quyền 0644) / readable by everybody (mode 0644)"
check "AWS key in ~/.config" has "- /home/binh/.config/tool/settings.ini:2: khóa truy cập AWS / AWS access key (AKIA***) [aws-access-key]"
check "password file on the Vietnamese desktop" has "- /home/an/Màn hình nền/tai khoan.txt:3: gán mật khẩu / password assignment (Ma***) [password-assignment]"
check "Firefox saved logins" hasre 'KHÔNG ĐẠT / FAIL +40014'
check "Firefox evidence does not quote the line" has "- /home/an/.mozilla/firefox/abc.default/logins.json:1: \"(nội dung không hiển thị: tệp mật khẩu hoặc khóa / content not shown: a password or key file)\""
check "empty password" has "account 'binh' has an empty password"
check "ageing disabled for a login account" has "account 'binh': password ageing is disabled"
check "locked root not reported for ageing" bash -c "! grep -q \"account 'root': password ageing\" '$T/out'"
check "shadow readable by others" has "- /etc/shadow: mọi người đọc được (quyền 0644) / readable by everybody (mode 0644)"
for s in "$S1" "$S2" "$S3" "$S4" "$S5" 'ZZZZZZZZZZZZ' 'MDoEEPgAAA' 'b3BlbnNzaC1rZXktdjEA'; do
  check "secret ${s:0:4}… never printed (text)" bash -c "! grep -qF -- '$s' '$T/out' '$T/err'"
done

expect_rc 1 "JSON output" "$KHIEN" audit --root $R -b credentials --json
for s in "$S1" "$S2" "$S3" "$S4" "$S5" 'MDoEEPgAAA'; do
  check "secret ${s:0:4}… never printed (JSON)" bash -c "! grep -qF -- '$s' '$T/out' '$T/err'"
done
check "JSON evidence: file, line, kind" python3 -c '
import json,sys
objs=[json.loads(l) for l in open(sys.argv[1])]
c=[o for o in objs if o["type"]=="check" and o["id"]==40010][0]
ev=[e for e in c["evidence"] if e["kind"]=="secret"]
assert ev[0]["path"]=="/home/an/.bash_history" and ev[0]["line"]==2 and "[command-line-password]" in ev[0]["detail"]
assert ev[1]["line"]==3 and "[github-token]" in ev[1]["detail"] and "(ghp_***)" in ev[1]["detail"]
' "$T/out"

chmod 600 $R/home/an/.bash_history $R/home/an/.pgpass $R/home/an/.ssh/id_ed25519 $R/home/binh/.config/tool/settings.ini $R/etc/shadow
expect_rc 1 "after chmod 600 the readability checks pass" "$KHIEN" audit --root $R -b credentials
check "histories pass" hasre 'ĐẠT / PASS +40010'
check "credential files pass" hasre 'ĐẠT / PASS +40011'
check "config files pass" hasre 'ĐẠT / PASS +40012'
check "key readability passes" hasre 'ĐẠT / PASS +40001'
check "desktop file still fails (any permissions)" hasre 'KHÔNG ĐẠT / FAIL +40013'
finish
