#!/bin/bash
# End-to-end: khien inventory on a fake root (every section), its JSON
# snapshot, --diff between snapshots (nothing for volatile changes; typed and
# classified changes otherwise), the text report, and bad input (exit 2).
. "$SRC/tests/lib.sh"
R=$T/root
w() { mkdir -p "$(dirname "$R/$1")"; printf '%b' "$2" > "$R/$1"; } # w PATH TEXT

mkroot() {
  w etc/os-release 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n'
  w etc/debian_version '12.5\n'
  w etc/machine-id '0123456789abcdef0123456789abcdef\n'
  w etc/timezone 'Asia/Ho_Chi_Minh\n'
  w proc/sys/kernel/hostname 'ubnd-xa-01\n'
  w proc/sys/kernel/osrelease '6.1.0-18-amd64\n'
  w proc/sys/kernel/version '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1\n'
  w proc/sys/kernel/arch 'x86_64\n'
  w proc/uptime '3600.50 7000.00\n'
  w proc/stat 'cpu  1 2 3\nbtime 1700000000\nprocesses 5\n'
  w proc/cpuinfo 'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz\nphysical id\t: 0\ncore id\t\t: 0\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz\nphysical id\t: 0\ncore id\t\t: 1\n\nprocessor\t: 2\nphysical id\t: 0\ncore id\t\t: 0\n\n'
  w proc/meminfo 'MemTotal:        8000000 kB\nMemFree:         1000000 kB\nMemAvailable:    4000000 kB\nSwapTotal:       2000000 kB\nSwapFree:        2000000 kB\n'
  w proc/mounts '/dev/sda1 / ext4 rw,relatime 0 0\n/dev/sda1 /srv\\040data ext4 rw 0 0\nproc /proc proc rw 0 0\n'
  w sys/block/sda/size '500118192\n'
  w sys/block/sda/removable '0\n'
  w sys/block/sda/queue/rotational '0\n'
  w sys/block/sda/device/model 'Samsung SSD 860\n'
  w sys/block/sda/device/vendor 'ATA\n'
  w sys/block/sda/device/serial 'S3Z9NB0K123456\n'
  w sys/block/sda/sda1/partition '1\n'
  w sys/block/sda/sda1/size '500000000\n'
  w sys/block/loop0/size '1000\n'
  w sys/class/dmi/id/sys_vendor 'LENOVO\n'
  w sys/class/dmi/id/product_name 'ThinkPad T480\n'
  w sys/class/dmi/id/product_serial 'PF1ABCDE\n'
  w sys/bus/usb/devices/1-1/idVendor '0781\n'
  w sys/bus/usb/devices/1-1/idProduct '5567\n'
  w sys/bus/usb/devices/1-1/manufacturer 'SanDisk\n'
  w sys/bus/usb/devices/1-1/product 'Cruzer Blade\n'
  w sys/bus/usb/devices/1-1/serial '4C530001\n'
  w 'sys/bus/usb/devices/1-1:1.0/idVendor' '0781\n'
  w sys/class/net/eth0/address '52:54:00:12:34:56\n'
  w sys/class/net/eth0/mtu '1500\n'
  w sys/class/net/eth0/operstate 'up\n'
  mkdir -p "$R/sys/class/net/eth0/device"
  w sys/class/net/lo/address '00:00:00:00:00:00\n'
  w sys/class/net/lo/mtu '65536\n'
  w proc/net/route 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n'
  w proc/net/fib_trie 'Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.5\n        /32 host LOCAL\n     |-- 127.0.0.1\n        /32 host LOCAL\nLocal:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.5\n        /32 host LOCAL\n'
  w proc/net/if_inet6 'fe80000000000000505400fffe123456 02 40 20 80     eth0\n00000000000000000000000000000001 01 80 10 80       lo\n'
  hdr='  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
  w proc/net/tcp "$hdr"'   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0 100 0 0 10 0\n   1: 0500000A:0016 0200000A:D431 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0 100 0 0 10 0\n'
  w proc/net/tcp6 "$hdr"'   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000    33        0 5678 1 0 100 0 0 10 0\n'
  w proc/net/udp "$hdr"'   0: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4321 2 0\n   1: 00000000:C350 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4400 2 0\n'
  w proc/300/comm 'dhclient\n'
  mkdir -p "$R/proc/300/fd"
  ln -s 'socket:[4400]' "$R/proc/300/fd/6"
  w proc/100/comm 'sshd\n'
  mkdir -p "$R/proc/100/fd"
  ln -s 'socket:[1234]' "$R/proc/100/fd/3"
  w etc/passwd 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nalice:x:1000:1000:Nguyen Thi Alice,,,:/home/alice:/bin/bash\nbob:x:1001:1001:Bob:/home/bob:/bin/bash\n'
  w etc/group 'root:x:0:\nsudo:x:27:alice\nwww-data:x:33:\nalice:x:1000:\nbob:x:1001:\nops:x:2000:bob,alice\n'
  w etc/shadow 'root:!:19000:0:99999:7:::\nalice:$y$j9T$abc$def:19500:0:99999:7:::\nbob::19000:0:99999:7:::\n'
  w etc/sudoers 'Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n'
  w etc/sudoers.d/ops '# operators may update packages\nbob ALL=(root) /usr/bin/apt, \\\n  /usr/bin/apt-get\n'
  w etc/sudoers.d/README.txt 'carol ALL=(ALL) ALL\n'
  w var/lib/dpkg/status 'Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\nDescription: Secure Sockets Layer toolkit\n\nPackage: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: SSL shared libraries\n\nPackage: oldpkg\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: broken\nStatus: install ok installed\nVersion: 1.0-\n'
  w etc/crontab 'SHELL=/bin/sh\n# m h dom mon dow user command\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n'
  w etc/cron.d/backup 'PATH=/usr/bin\n0 2 * * * root /usr/local/bin/backup.sh\n@reboot root /usr/local/bin/hello\n'
  w etc/cron.d/ignored.dpkg-old '0 0 * * * root /bin/false\n'
  w var/spool/cron/crontabs/alice '*/5 * * * * /home/alice/sync.sh\n'
  w etc/cron.daily/logrotate '#!/bin/sh\n'
  w lib/systemd/system/ssh.service '[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\n[Install]\nWantedBy=multi-user.target\n'
  w lib/systemd/system/cups.service '[Unit]\nDescription=CUPS Scheduler\n[Service]\nExecStart=/usr/sbin/cupsd -l\n[Install]\nWantedBy=multi-user.target\n'
  w lib/systemd/system/backup.timer '[Unit]\nDescription=Nightly backup\n[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n'
  mkdir -p "$R/etc/systemd/system/multi-user.target.wants" "$R/etc/systemd/system/timers.target.wants" "$R/run/systemd/system"
  ln -s /lib/systemd/system/ssh.service "$R/etc/systemd/system/multi-user.target.wants/ssh.service"
  ln -s /lib/systemd/system/backup.timer "$R/etc/systemd/system/timers.target.wants/backup.timer"
  ln -s /dev/null "$R/etc/systemd/system/cups.service"
  w sys/fs/cgroup/system.slice/ssh.service/cgroup.procs '100\n'
  w etc/xdg/autostart/agent.desktop '[Desktop Entry]\nName=Agent\nExec=/opt/agent/run --tray\n'
  w home/alice/.config/autostart/miner.desktop '[Desktop Entry]\nExec=/home/alice/.cache/xmr\n'
  w etc/ld.so.preload '/lib/x86_64-linux-gnu/libprocesshider.so\n'
}
mkroot

expect_rc 0 "inventory --json on a fake root" "$KHIEN" inventory --root "$R" --json
cp "$T/out" "$T/s1.json"
# JSON checks are batched: one python run evaluates them all (python can be
# slow to start). jcheck DESC EXPR WANT queues; jrun FILE evaluates with d =
# the document, t = its tables by name, row(table, key).
: > "$T/jchecks"
jcheck() { printf '%s\x1f%s\x1f%s\n' "$1" "$2" "$3" >> "$T/jchecks"; }
jrun() {
  if python3 - "$1" "$T/jchecks" > "$T/jres" 2>"$T/jerr" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
t = {x["name"]: x for x in d.get("tables", [])}
def row(table, key):
    for r in t[table]["rows"]:
        if r["key"] == key:
            return r
    return None
for line in open(sys.argv[2], encoding="utf-8"):
    desc, expr, want = line.rstrip("\n").split("\x1f")
    try:
        got = str(eval(expr))
    except Exception as e:
        got = "error: %r" % e
    print(("ok   " + desc) if got == want else ("FAIL %s (got %s)" % (desc, got)))
EOF
  then
    while IFS= read -r l; do case $l in "ok   "*) ok "${l#ok   }" ;; *) bad "${l#FAIL }" ;; esac; done < "$T/jres"
  else
    bad "$1 is valid JSON"; sed 's/^/    /' "$T/jerr" | tail -3
  fi
  : > "$T/jchecks"
}
jcheck "valid JSON with the khien-inventory format" 'd["format"], d["format_version"]' "('khien-inventory', 1)"
jcheck "os" 'row("os","os")["pretty_name"], row("os","os")["kernel"], row("os","os")["arch"]' "('Debian GNU/Linux 12 (bookworm)', '6.1.0-18-amd64', 'x86_64')"
jcheck "host identity" 'row("host","host")["hostname"], row("host","host")["machine_id"], row("host","host")["uptime_seconds"]' "('ubnd-xa-01', '0123456789abcdef0123456789abcdef', 3600)"
jcheck "volatile fields are marked" 't["host"]["volatile"]' "['boot_time', 'uptime_seconds']"
jcheck "dmi" 'row("dmi","dmi")["sys_vendor"], row("dmi","dmi")["product_serial"]' "('LENOVO', 'PF1ABCDE')"
jcheck "cpu: 3 logical, 2 cores" 'row("cpu","cpu")["logical_cpus"], row("cpu","cpu")["cores"], row("cpu","cpu")["sockets"]' "(3, 2, 1)"
jcheck "memory in bytes" 'row("memory","memory")["total_bytes"], row("memory","memory")["swap_total_bytes"]' "(8192000000, 2048000000)"
jcheck "disk with model and serial; loop devices left out" 'row("disks","sda")["model"], row("disks","sda")["serial"], row("disks","sda")["size_bytes"], row("disks","loop0")' "('Samsung SSD 860', 'S3Z9NB0K123456', 256060514304, None)"
jcheck "partition mounted at /" 'row("partitions","sda1")["disk"], row("partitions","sda1")["mountpoint"]' "('sda', '/')"
jcheck "usb stick keyed by vendor:product serial" 'row("usb","0781:5567 4C530001")["product"]' "Cruzer Blade"
jcheck "usb interfaces are not devices" 'len(t["usb"]["rows"])' "1"
jcheck "interface with MAC and addresses" 'row("interfaces","eth0")["mac"], row("interfaces","eth0")["ipv4"], row("interfaces","eth0")["ipv6"], row("interfaces","eth0")["kind"]' "('52:54:00:12:34:56', '10.0.0.5/24', 'fe80::5054:ff:fe12:3456/64', 'physical')"
jcheck "loopback addresses" 'row("interfaces","lo")["ipv4"], row("interfaces","lo")["ipv6"]' "('127.0.0.1/8', '::1/128')"
jcheck "listening tcp with its process" 'row("listening","tcp 0.0.0.0:22")["process"], row("listening","tcp 0.0.0.0:22")["user"], row("listening","tcp 0.0.0.0:22")["pid"]' "('sshd', 'root', '100')"
jcheck "listening tcp6 and udp; connected sockets left out" 'sorted(r["key"] for r in t["listening"]["rows"])' "['tcp 0.0.0.0:22', 'tcp6 [::]:80', 'udp 0.0.0.0:68', 'udp 0.0.0.0:ephemeral dhclient']"
jcheck "udp client on a kernel-chosen port: keyed by process, port volatile" 'row("listening","udp 0.0.0.0:ephemeral dhclient")["port"], t["listening"]["volatile"]' "(50000, ['pid', 'port'])"
jcheck "tcp6 owner by uid" 'row("listening","tcp6 [::]:80")["user"]' "www-data"
jcheck "installed packages only, with source" 'len(t["packages"]["rows"]), row("packages","libssl3:amd64")["source"], row("packages","openssl:amd64")["version"]' "(2, 'openssl', '3.0.11-1~deb12u2')"
jcheck "malformed dpkg stanza is a warning" 'any("broken" in x for x in d["warnings"])' "True"
jcheck "uid 0 (and the sudoers rule naming root) make root admin" 'row("users","root")["admin"]' "sudoers, uid 0"
jcheck "sudo group and %sudo rule make alice admin" 'row("users","alice")["admin"]' "group sudo, sudoers %sudo"
jcheck "a sudoers.d rule makes bob admin" 'row("users","bob")["admin"]' "sudoers"
jcheck "password state and last change" 'row("users","alice")["password"], row("users","alice")["last_password_change"], row("users","bob")["password"], row("users","root")["password"]' "('set', '2023-05-23', 'none', 'locked')"
jcheck "login and system accounts" 'row("users","daemon")["login"], row("users","daemon")["system"], row("users","alice")["system"], row("users","alice")["full_name"]' "('no', 'yes', 'no', 'Nguyen Thi Alice')"
jcheck "supplementary groups" 'row("users","bob")["groups"], row("groups","ops")["members"]' "('ops', 'alice, bob')"
jcheck "sudoers rules (continuation lines joined, dotted files ignored)" 'sorted((r["who"], r["rule"]) for r in t["sudoers"]["rows"])' "[('%sudo', 'ALL=(ALL:ALL) ALL'), ('bob', 'ALL=(root) /usr/bin/apt, /usr/bin/apt-get'), ('root', 'ALL=(ALL:ALL) ALL')]"
jcheck "enabled and running service (link followed inside the root)" 'row("services","ssh.service")["enabled"], row("services","ssh.service")["running"], row("services","ssh.service")["exec"], row("services","ssh.service")["description"]' "('enabled', 'yes', '/usr/sbin/sshd', 'OpenBSD Secure Shell server')"
jcheck "masked, not running service left out" 'row("services","cups.service")' "None"
jcheck "cron, user crontab, cron.daily and timer" 'sorted((r["kind"], r["user"], r["schedule"]) for r in t["scheduled"]["rows"])' "[('cron', 'root', '0 2 * * *'), ('cron', 'root', '17 * * * *'), ('cron', 'root', '@reboot'), ('cron-period', 'root', 'daily'), ('crontab', 'alice', '*/5 * * * *'), ('systemd-timer', 'root', 'OnCalendar=daily')]"
jcheck "autostart entries (desktop, per user, ld.so.preload)" 'sorted((r["kind"], r["user"], r["command"]) for r in t["autostart"]["rows"])' "[('desktop', '*', '/opt/agent/run --tray'), ('desktop', 'alice', '/home/alice/.cache/xmr'), ('ld.so.preload', 'root', '/lib/x86_64-linux-gnu/libprocesshider.so')]"
jcheck "every table is typed" 'sorted(set(x["category"] for x in d["tables"]))' "['account', 'hardware', 'network', 'service', 'software']"
jcheck "rows are sorted by key" 'all([r["key"] for r in x["rows"]] == sorted(r["key"] for r in x["rows"]) for x in d["tables"])' "True"
jrun "$T/s1.json"

# the same host again, with only volatile values changed: no difference
w proc/uptime '7300.00 9000.00\n'
w proc/meminfo 'MemTotal:        8000000 kB\nMemAvailable:    1234567 kB\nSwapTotal:       2000000 kB\nSwapFree:        100 kB\n'
w sys/class/net/eth0/operstate 'down\n'
sed -i 's/00000000:C350/00000000:C351/' "$R/proc/net/udp"
rm -rf "$R/proc/100"; w proc/2345/comm 'sshd\n'; mkdir -p "$R/proc/2345/fd"; ln -s 'socket:[1234]' "$R/proc/2345/fd/7"
expect_rc 0 "second snapshot" "$KHIEN" inventory --root "$R" --json
cp "$T/out" "$T/s2.json"
expect_rc 0 "diff of two snapshots of an unchanged host is empty (exit 0)" "$KHIEN" inventory --diff "$T/s1.json" "$T/s2.json"
check "says so" has "No changes"
check "snapshots differ only in volatile values" sh -c "diff '$T/s1.json' '$T/s2.json' | grep '^>' | grep -v -e collected_at -e uptime_seconds -e available_bytes -e swap_free_bytes -e '\"state\": \"down\"' -e '\"pid\": \"2345\"' -e '\"port\": 50001' | grep -q . && exit 1 || exit 0"
expect_rc 0 "diff of a snapshot with itself" "$KHIEN" inventory --diff "$T/s1.json" "$T/s1.json" --json
check "empty JSON diff" has '"summary": {"added": 0, "removed": 0, "changed": 0}'

# real changes: new account, upgraded package, new port, USB stick gone, new cron job
w etc/passwd 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nalice:x:1000:1000:Nguyen Thi Alice,,,:/home/alice:/bin/bash\nbob:x:1001:1001:Bob:/home/bob:/bin/bash\ncarol:x:0:0::/root:/bin/sh\n'
sed -i 's/^Version: 3.0.11-1~deb12u2$/Version: 3.0.13-1~deb12u1/' "$R/var/lib/dpkg/status"
w proc/net/tcp "$hdr"'   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0 100 0 0 10 0\n   1: 00000000:115C 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 777 1 0 100 0 0 10 0\n'
rm -rf "$R/sys/bus/usb/devices/1-1"
w etc/cron.d/backup 'PATH=/usr/bin\n0 3 * * * root /usr/local/bin/backup.sh\n@reboot root /usr/local/bin/hello\n'
expect_rc 1 "diff against the changed host (exit 1)" "$KHIEN" inventory --root "$R" --diff "$T/s1.json"
check "new account, typed and classified" has "+ [account] added users: carol"
check "changed package with before and after" has "~ [software] changed packages: openssl:amd64"
check "... version before -> after" has "version: 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1"
check "new listening port" has "+ [network] added listening: tcp 0.0.0.0:4444"
check "removed USB device" has "- [hardware] removed usb: 0781:5567 4C530001"
check "changed schedule of a cron job" has "~ [service] changed scheduled:"
check "no colour when not on a terminal" sh -c "! grep -q \$'\\033' '$T/out'"
expect_rc 1 "JSON diff" "$KHIEN" inventory --root "$R" --diff "$T/s1.json" --json
cp "$T/out" "$T/d.json"
jcheck "JSON diff summary" 'd["summary"]' "{'added': 2, 'removed': 1, 'changed': 3}"
jcheck "JSON diff entry with before/after" '[(c["type"], c["before"], c["after"]) for c in d["changes"] if c["key"] == "libssl3:amd64"]' "[('software', {'version': '3.0.11-1~deb12u2'}, {'version': '3.0.13-1~deb12u1'})]"
jcheck "changes sorted by type, table, key" '[c["type"] for c in d["changes"]] == sorted((c["type"] for c in d["changes"]), key=["hardware","software","account","network","service"].index)' "True"
jcheck "uid 0 account shows as admin in the added row" '[c["after"]["admin"] for c in d["changes"] if c["key"] == "carol"]' "['uid 0']"
jrun "$T/d.json"

# the text report
expect_rc 0 "text report" "$KHIEN" inventory --root "$R"
for s in "Hệ điều hành / Operating system" "Phần cứng / Hardware" "Mạng / Network" "Phần mềm / Software" \
         "Tài khoản / Accounts" "Dịch vụ / Services" "Cảnh báo / Warnings"; do
  check "section '$s'" has "== $s =="
done
check "administrators listed" hasre '^    carol +uid 0'
check "package count" has "Gói đã cài / Installed packages: 2 (dpkg)"
expect_rc 0 "--all lists packages" "$KHIEN" inventory --root "$R" --all
check "package line" hasre '^    libssl3 +3.0.13-1~deb12u1'
expect_rc 0 "--color=always" "$KHIEN" inventory --root "$R" --color=always
check "colour codes" grep -q $'\033\\[' "$T/out"
expect_rc 0 "-o writes the snapshot" "$KHIEN" inventory --root "$R" -o "$T/s3.json"
jcheck "written snapshot is a snapshot" 'd["format"]' "khien-inventory"
jrun "$T/s3.json"

# bad input
printf '{"format": "khien-inventory", "format_version": 1, "tables": [{"name": "x"' > "$T/trunc.json"
expect_rc 2 "truncated snapshot (exit 2)" "$KHIEN" inventory --diff "$T/trunc.json" "$T/s1.json"
check "clear message" has_err "not a valid inventory snapshot"
echo '{"hello": 1}' > "$T/other.json"
expect_rc 2 "JSON that is not a snapshot (exit 2)" "$KHIEN" inventory --diff "$T/s1.json" "$T/other.json"
check "says what is wrong" has_err "not a Khiên inventory snapshot"
head -c 3000 /dev/urandom > "$T/random.bin"
expect_rc 2 "binary garbage (exit 2)" "$KHIEN" inventory --diff "$T/random.bin"
expect_rc 2 "missing snapshot (exit 2)" "$KHIEN" inventory --diff "$T/nope.json"
check "names the file" has_err "$T/nope.json"
expect_rc 2 "missing root (exit 2)" "$KHIEN" inventory --root "$T/no-such-root"
expect_rc 2 "bad option (exit 2)" "$KHIEN" inventory --bogus
expect_rc 2 "extra argument (exit 2)" "$KHIEN" inventory extra
mkdir -p "$T/empty"
expect_rc 0 "empty root: still a snapshot, with warnings" "$KHIEN" inventory --root "$T/empty" --json
check "warnings say what was missing" has "cannot read /etc/passwd"

# this host, twice: valid snapshots, diff exits 0 or 1
expect_rc 0 "inventory of this host" "$KHIEN" inventory --json
cp "$T/out" "$T/h1.json"
"$KHIEN" inventory --diff "$T/h1.json" > "$T/out" 2>"$T/err"
rc=$?
check "diff with this host now exits 0 or 1" test "$rc" -le 1
finish
