#!/bin/bash
# khien inventory on a fake RPM system: an rpmdb.sqlite written here with
# Python's sqlite3 (hundreds of packages, headers larger than a page so that
# overflow pages and interior b-tree pages occur, kernels installed twice, a
# signing key, a damaged header), read by khien without SQLite or rpm.
. "$SRC/tests/lib.sh"
R=$T/root
mkdir -p "$R/etc" "$R/var/lib/rpm"
printf 'NAME="AlmaLinux"\nVERSION_ID="9.3"\nID="almalinux"\nPRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"\n' > "$R/etc/os-release"
python3 - "$R/var/lib/rpm/rpmdb.sqlite" <<'EOF'
import random, sqlite3, struct, sys
rnd = random.Random(5)
def header(tags):
    index, data = b"", b""
    # rpm puts a region tag first (HEADERIMMUTABLE, binary); kept for realism
    tags = [(63, 7, b"\0" * 16)] + tags
    for tag, typ, val in tags:
        if typ == 4:
            while len(data) % 4:
                data += b"\0"
            off = len(data); data += struct.pack(">I", val)
        elif typ == 7:
            off = len(data); data += val
        else:
            off = len(data); data += val.encode() + b"\0"
        index += struct.pack(">IIII", tag, typ, off, 16 if typ == 7 else 1)
    return struct.pack(">II", len(tags), len(data)) + index + data
def pkg(name, ver, rel, arch, epoch=None, srpm=None, desc_len=None):
    t = [(1000, 6, name), (1001, 6, ver), (1002, 6, rel), (1004, 9, "Summary of " + name), (1022, 6, arch),
         (1005, 9, "x" * (desc_len if desc_len is not None else rnd.randint(10, 9000)))]
    if epoch is not None:
        t.append((1003, 4, epoch))
    t.append((1044, 6, srpm or "%s-%s-%s.src.rpm" % (name, ver, rel)))
    return header(t)
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
db.execute("CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, UNIQUE(key, hnum, idx))")
rows = [pkg("openssl-libs", "3.0.7", "27.el9", "x86_64", epoch=1, srpm="openssl-3.0.7-27.el9.src.rpm"),
        pkg("openssl", "3.0.7", "27.el9", "x86_64", epoch=1),
        pkg("kernel-core", "5.14.0", "70.13.1.el9_0", "x86_64", srpm="kernel-5.14.0-70.13.1.el9_0.src.rpm"),
        pkg("kernel-core", "5.14.0", "362.8.1.el9_3", "x86_64", srpm="kernel-5.14.0-362.8.1.el9_3.src.rpm"),
        pkg("gpg-pubkey", "fd431d51", "4ae0493b", ""),
        pkg("bigdoc", "1.0", "1.el9", "noarch", desc_len=200000),
        b"\x00\x00\x00\x05garbage that is not a header"]
for i in range(400):
    rows.append(pkg("pkg%03d" % i, "%d.%d" % (rnd.randint(0, 9), rnd.randint(0, 99)), "1.el9", rnd.choice(["x86_64", "noarch"])))
rnd.shuffle(rows)
for b in rows:
    db.execute("INSERT INTO Packages (blob) VALUES (?)", (b,))
    db.execute("INSERT INTO Name VALUES (?, ?, 0)", ("n%d" % rnd.randint(0, 10**9), 1))
db.commit()
db.close()
EOF
check "fixture written" test -s "$R/var/lib/rpm/rpmdb.sqlite"

expect_rc 0 "inventory of an RPM system" "$KHIEN" inventory --root "$R" --json
cp "$T/out" "$T/s.json"
python3 - "$T/s.json" > "$T/res" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["name"]: x for x in d["tables"]}
rows = {r["key"]: r for r in t["packages"]["rows"]}
def show(desc, got, want):
    print(("ok   " + desc) if got == want else ("FAIL %s (got %r, want %r)" % (desc, got, want)))
show("every package but the key and the damaged header", len(rows), 405)
show("epoch, version and release", rows.get("openssl-libs:x86_64", {}).get("version"), "1:3.0.7-27.el9")
show("source package from SOURCERPM", rows.get("openssl-libs:x86_64", {}).get("source"), "openssl")
show("manager and summary", (rows["openssl:x86_64"]["manager"], rows["openssl:x86_64"]["summary"]), ("rpm", "Summary of openssl"))
show("two kernels, the version in the key", sorted(k for k in rows if k.startswith("kernel-core")),
     ["kernel-core:x86_64 5.14.0-362.8.1.el9_3", "kernel-core:x86_64 5.14.0-70.13.1.el9_0"])
show("kernel source", rows["kernel-core:x86_64 5.14.0-70.13.1.el9_0"]["source"], "kernel")
show("signing keys are not software", any(k.startswith("gpg-pubkey") for k in rows), False)
show("a header spanning many overflow pages", rows.get("bigdoc:noarch", {}).get("version"), "1.0-1.el9")
show("damaged header reported", any("1 package headers could not be read" in w for w in d["warnings"]), True)
show("os", t["os"]["rows"][0]["id"], "almalinux")
EOF
while IFS= read -r l; do case $l in "ok   "*) ok "${l#ok   }" ;; *) bad "${l#FAIL }" ;; esac; done < "$T/res"
check "all checks ran" test "$(wc -l < "$T/res")" -eq 10

expect_rc 0 "text report" "$KHIEN" inventory --root "$R"
check "package count" has "Gói đã cài / Installed packages: 405"

# a damaged database: a warning, never a crash
cp "$R/var/lib/rpm/rpmdb.sqlite" "$T/good.sqlite"
python3 -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for i in range(4096, len(d), 3001): d[i] ^= 0x5a
open(sys.argv[1], "wb").write(d)' "$R/var/lib/rpm/rpmdb.sqlite"
expect_rc 0 "damaged rpmdb: still a snapshot" "$KHIEN" inventory --root "$R" --json
check "and a warning" has "RPM database"
printf 'SQLite format 3\000' > "$R/var/lib/rpm/rpmdb.sqlite"
expect_rc 0 "truncated rpmdb" "$KHIEN" inventory --root "$R" --json
check "says it cannot read it" has "cannot read the RPM database /var/lib/rpm/rpmdb.sqlite"
rm "$R/var/lib/rpm/rpmdb.sqlite"
printf 'berkeley' > "$R/var/lib/rpm/Packages"
expect_rc 0 "Berkeley DB rpmdb" "$KHIEN" inventory --root "$R" --json
check "is named as not read yet" has "Berkeley DB or ndb format"
finish
