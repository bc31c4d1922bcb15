#!/usr/bin/env python3
"""Khiên — tests/tools: signs ClamAV test databases with TEST keys.

Real .cvd files are signed by ClamAV's signing service; sigtool can only
build unsigned .cud files. To test both the accepted and the refused path,
this tool turns a sigtool-built .cud into a .cvd signed with the TEST keys
below, the way ClamAV signs (see src/engine/clamav/cvd.c):

  keys                      the public keys, for KHIEN_TEST_CLAMAV_KEYS
  sign-cvd IN.cud OUT.cvd   .info gets a DSIG line (PSS, SHA-256, "info" key),
                            the body is re-packed as tar.gz, the header gets
                            the body's MD5 and its signature ("cvd" key)
  cdiff SCRIPT NEW.cvd OUT  a .cdiff from a `sigtool --diff` script between the
                            two .cud versions: the DSIG line of the .info is
                            exchanged for NEW's, the script gzip'ed and
                            signed ("cdiff" key)
  sign-cld IN.cud OUT.cld   like sign-cvd, but a plain tar whose header is
                            the .info's first line (what freshclam writes)

THE PRIVATE KEYS BELOW ARE PUBLIC TEST KEYS. They sign nothing but test data.
"""
import gzip
import hashlib
import io
import os
import sys
import tarfile

# name: (n, e, d), decimal; generated with `openssl genrsa` for these tests only
KEYS = {
    "cvd": (124858482866867976399145015532853360319374738194457893453740307130996198873431849941339226709847543872209139042491872460132381083838893487776958112357911055353491885904870960409447942348680290108215164121098568028417792324143688128749917046426993274748081469826184208870486173820950213531968920971477132328477,
             65537, 90037870215117880962259386820920240607498819400797718000881439721239610582699684578599750588330178729581822652061673443487744785727544840812656062835266725956350547973128733842036085352416553546302320864624518902209377840276398775716508052632424863632072217556791752482703327761031488495385289634188772412673),
    "info": (24736054454657963250624483183344961280173941655655373294713529346891608257159457320273818990639841239827404307605560573631993495048920711415014313229248191656108844641867509559361664426576466138900497780450809569489036351187104056247256717131630894145848386441399380166327061996624949595134974837941708489124295819673374085729601803011921391609430903202978109853966780792578222565816070355975235084519458545485305435712503663191690167901653789891737809415999176573886268468218810567243095335857655963034133849915151678173452173500481993118461665047976382733177168368711524636454953370492683169776831085196149007863551,
             65537, 188909860565760860496317713987462543255753084607153506802831342539898117782008900433335521149529380363013950860249630482832280150479068783098369717701951432989277705191518517078365134619155162590914561308622184702284867764227149727961539700637302446708761241412201923505598906063914450012036920166707380159104598527177820000723354797885865631449864776105618743441507110163159900620835896200136562146954046785967314989792298157393495112855772277123009356175852615511027288418587045687259205946093342526207247669688384181655833317029822779181587602467059869212125590523045353268221490065459051960562358947328254468713),
    "cdiff": (25318503026899512264973335100472739027630029368805339461361000642106158890264683487478933681768068748772823284165912364999956651699274911789990760098237110145746153830008645856657678105366858740694841320970321864357387478112548808626025347933006836086531037016044977761041450453323018517972979753229773176885294158704696117894042025010498869655517890479706028269872221549089537206028873467304035504935321568244609283204128224479817559562273250763421222267749504805968543757171566266081966848729261422439677504414461842941351174077183254228096536075656774714634020849736279306488150616529044876501666670674545235371429,
             65537, 4803163833154426293397828330625105884165038911490559310360579840140773509355948697679563948081578326037086102385443160871636801357661854803926867575589086934740099952217792909895553838046083200681431285283488895426330141986562084588055192499673070068264345075613580244793450317929796744342250290246818894795472728858063034739101384167850904508895653067675078729278308391487523239384204354751105914676916948418346645147142740312342042913963522987789905415508236588339362380383530263625325489641148716253530018674175920117665894429931571856824478781074731539977141984459227041738437459858125381653368171059977485535533),
}

ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


def encode(x, digits):
    out = []
    for _ in range(digits):
        out.append(ALPHA[x & 63])
        x >>= 6
    assert x == 0
    return "".join(out)


def rsa_sign(which, m):
    n, e, d = KEYS[which]
    assert m < n
    return encode(pow(m, d, n), (n.bit_length() + 5) // 6)


def pss_sign(which, digest):
    salt = os.urandom(32)
    h = hashlib.sha256(b"\0" * 8 + digest + salt).digest()
    db = b"\0" * (256 - 32 - 1 - 33) + b"\x01" + salt
    mask = b""
    i = 0
    while len(mask) < len(db):
        mask += hashlib.sha256(h + i.to_bytes(4, "big")).digest()
        i += 1
    masked = bytearray(a ^ b for a, b in zip(db, mask))
    masked[0] &= 0x7F
    em = bytes(masked) + h + b"\xbc"
    return rsa_sign(which, int.from_bytes(em, "big"))


def read_container(path):
    data = open(path, "rb").read()
    header = data[:512].rstrip(b" \n\r\0").decode()
    body = data[512:]
    mode = "r:gz" if body[:2] == b"\x1f\x8b" else "r:"
    members = []
    with tarfile.open(fileobj=io.BytesIO(body), mode=mode) as t:
        for m in t.getmembers():
            members.append((m.name, t.extractfile(m).read()))
    return header, members


def sign_info(members):
    out = []
    for name, data in members:
        if name.endswith(".info"):
            text = b"".join(l for l in data.splitlines(True) if not l.startswith(b"DSIG:"))
            data = text + b"DSIG:" + pss_sign("info", hashlib.sha256(text).digest()).encode() + b"\n"
        out.append((name, data))
    return out


def tar_bytes(members, compress):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    body = raw.getvalue()
    return gzip.compress(body, mtime=0) if compress else body


def sign_cvd(src, dst):
    header, members = read_container(src)
    members = sign_info(members)
    body = tar_bytes(members, True)
    md5 = hashlib.md5(body).hexdigest()
    f = header.split(":")
    f[5] = md5
    f[6] = rsa_sign("cvd", int(md5, 16))
    head = ":".join(f).encode()
    open(dst, "wb").write(head + b" " * (512 - len(head)) + body)


def sign_cld(src, dst):
    header, members = read_container(src)
    members = sign_info(members)
    info = [d for n, d in members if n.endswith(".info")][0]
    head = info.split(b"\n")[0]
    members.sort(key=lambda m: (m[0] != "COPYING", m[0]))
    open(dst, "wb").write(head + b" " * (512 - len(head)) + tar_bytes(members, False))


def cdiff(script_path, new_cvd, dst):
    script = open(script_path, "rb").read().decode()
    _, members = read_container(new_cvd)
    info_name, info = [(n, d) for n, d in members if n.endswith(".info")][0]
    lines = info.decode().split("\n")
    dsig = [l for l in lines if l.startswith("DSIG:")][0]
    # the old .info has as many lines as the new one unless files came or went:
    # its DSIG line is the last one; sigtool's script says how many there were
    out, in_info, old_lines = [], False, None
    for l in script.split("\n"):
        if l == "OPEN " + info_name:
            in_info = True
        elif in_info and l == "CLOSE":
            n = old_lines if old_lines else len([x for x in lines if x]) 
            out.append("XCHG %d DSIG: %s" % (n, dsig))
            in_info = False
        elif in_info and l.startswith("#OLDLINES "):
            old_lines = int(l.split()[1])
            continue
        out.append(l)
    text = "\n".join(out).encode()
    gz = gzip.compress(text, mtime=0)
    version = int(new_cvd_header(new_cvd).split(":")[2])
    data = b"ClamAV-Diff:%d:%d:" % (version, len(text)) + gz
    sig = pss_sign("cdiff", hashlib.sha256(data).digest())
    open(dst, "wb").write(data + b":" + sig.encode())


def new_cvd_header(path):
    return open(path, "rb").read(512).rstrip(b" \n\r\0").decode()


def main():
    a = sys.argv[1:]
    if a == ["keys"]:
        for name in ("cvd", "info", "cdiff"):
            n, e, _ = KEYS[name]
            print(name, n, e)
    elif len(a) == 3 and a[0] == "sign-cvd":
        sign_cvd(a[1], a[2])
    elif len(a) == 3 and a[0] == "sign-cld":
        sign_cld(a[1], a[2])
    elif len(a) == 4 and a[0] == "cdiff":
        cdiff(a[1], a[2], a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
