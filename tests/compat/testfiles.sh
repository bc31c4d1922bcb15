#!/bin/bash
# ClamAV's own test files (Debian package clamav-testfiles) against ClamAV's
# unit-test databases (../shared/clamav-testdb). All 44 files hold the same
# 544-byte program clam.exe, plain or inside a container, packer or
# encoding; clamav.hdb is the SHA-256 of clam.exe, and clamscan finds it in
# all 44 because it opens every one of them (FIELD-NOTES.md).
#
# khien must find it in every file whose container it opens, and nowhere
# else: the list below is the expected set, so that a file found or lost is
# a visible change (update the list, and docs/SIGNATURES.md, on purpose).
# The other databases of clamav-testdb that are hash/body signatures are
# loaded too: they describe files that are not shipped (or PE sections and
# entry points khien does not support yet) and must add nothing.
. "$SRC/tests/lib.sh"

TF=${KH_TESTFILES:-/usr/share/clamav-testfiles}
DB=$SHARED/clamav-testdb/unit_tests/input
if [ ! -d "$TF" ] || [ ! -f "$DB/clamav.hdb" ]; then
    echo "SKIP no $TF (apt-get install clamav-testfiles) or no $DB"
    exit 0
fi

# Found by khien: plain, and inside containers libarchive reads.
found="
clam.exe
clam.7z
clam.bin-be.cpio
clam.bin-le.cpio
clam.newc.cpio
clam.odc.cpio
clam.bz2.zip
clam.zip
clam.cab
clam.exe.bz2
clam.tar.gz
clam_cache_emax.tgz
"
# Not found by khien (clamscan finds all of these), and why:
#   clam-aspack.exe clam-fsg.exe clam-mew.exe clam-pespin.exe
#   clam-petite.exe clam-upack.exe clam-upx.exe clam-wwpack.exe
#   clam-yc.exe              executable packers: no unpackers
#   clam-nsis.exe            NSIS installer (its archive is not read)
#   clam.ea05.exe clam.ea06.exe  AutoIt compiled scripts
#   clam_IScab_ext.exe clam_IScab_int.exe  InstallShield cabinets in a PE
#   clam_ISmsi_ext.exe clam_ISmsi_int.exe  InstallShield MSI (OLE2) in a PE
#   clam.arj                 ARJ: libarchive has no ARJ reader
#   clam.chm                 CHM (HTML Help)
#   clam.d64.zip             zip with deflate64: libarchive cannot extract it
#   clam.impl.zip            zip with implode: libarchive cannot extract it
#   clam.exe.szdd            MS-DOS COMPRESS.EXE (SZDD)
#   clam.exe.binhex          BinHex 4.0 text
#   clam.exe.html            base64 data: URI in HTML
#   clam.exe.mbox.base64 clam.exe.mbox.uu clam.mail  mail (MIME base64, uuencode)
#   clam.exe.rtf             object embedded in RTF
#   clam.ole.doc clam.ppt    OLE2 documents
#   clam.pdf                 PDF stream
#   clam.sis                 Symbian installer
#   clam.tnef                TNEF (winmail.dat)
notfound="
clam-aspack.exe clam-fsg.exe clam-mew.exe clam-nsis.exe clam-pespin.exe clam-petite.exe
clam-upack.exe clam-upx.exe clam-wwpack.exe clam-yc.exe clam.ea05.exe clam.ea06.exe
clam_IScab_ext.exe clam_IScab_int.exe clam_ISmsi_ext.exe clam_ISmsi_int.exe
clam.arj clam.chm clam.d64.zip clam.impl.zip clam.exe.szdd clam.exe.binhex clam.exe.html
clam.exe.mbox.base64 clam.exe.mbox.uu clam.mail clam.exe.rtf clam.ole.doc clam.ppt clam.pdf
clam.sis clam.tnef
"

# Every file of the package is in one of the two lists.
for f in "$TF"/*; do
    b=$(basename "$f")
    case " $(echo $found $notfound) " in
    *" $b "*) ;;
    *) bad "$b is in neither list: a new file in clamav-testfiles" ;;
    esac
done

dbs=(-d "$DB/clamav.hdb")
for f in "$DB"/other_sigs/*.ndb "$DB"/other_sigs/*.hdb "$DB"/other_sigs/*.hsb \
    "$DB"/embedded_testfiles/signatures/*.hsb \
    "$DB"/pe_allmatch/alert-sigs/*.hdb "$DB"/pe_allmatch/alert-sigs/*.hsb "$DB"/pe_allmatch/alert-sigs/*.ndb; do
    [ -f "$f" ] && dbs+=(-d "$f")
done

"$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache "${dbs[@]}" "$TF" >"$T/out" 2>"$T/err"
rc=$?
check "khien scan exits 1 (found)" test "$rc" -eq 1
check "no database line is reported malformed" sh -c "! grep -q 'error' '$T/err'"
sed 's/^/    /' "$T/err" | grep -i error | head -5
check "only ClamAV-Test-File is reported" sh -c "! grep ' FOUND$' '$T/out' | grep -vq ': ClamAV-Test-File FOUND$'"

got=$(sed -n 's#^'"$TF"'/\([^!:]*\)[!:].* FOUND$#\1#p' "$T/out" | sort -u)
for b in $found; do
    if echo "$got" | grep -qx -- "$b"; then ok "found in $b"; else bad "not found in $b (expected)"; fi
done
for b in $notfound; do
    if echo "$got" | grep -qx -- "$b"; then
        bad "found in $b: khien opens it now; move it to the found list (and docs/SIGNATURES.md)"
    fi
done
n_found=$(echo "$got" | grep -c .)
echo "khien finds clam.exe in $n_found of $(ls "$TF" | wc -l) files"

# clamscan, when present, finds it in all of them: the reference still holds.
if command -v clamscan >/dev/null 2>&1 && [ -z "${KH_COMPAT_QUICK:-}" ]; then
    clamscan --no-summary -d "$DB/clamav.hdb" "$TF" >"$T/clam.out" 2>"$T/clam.err"
    n=$(grep -c 'ClamAV-Test-File.UNOFFICIAL FOUND$' "$T/clam.out")
    check "clamscan finds clam.exe in all $(ls "$TF" | wc -l) files ($n)" test "$n" -eq "$(ls "$TF" | wc -l)"
fi
finish
