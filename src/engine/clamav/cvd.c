/* Khiên — engine/clamav: ClamAV database containers and .cdiff patches.
 *
 * ClamAV distributes its official signatures as .cvd files (a 512-byte
 * header and a tar.gz body); freshclam patches them with signed .cdiff
 * scripts and keeps the result as a .cld; sigtool --unsigned makes .cud
 * files. This module reads all three, makes every check ClamAV makes
 * (MD5 and RSA signature of a .cvd, signed .info list with a SHA-256 per
 * file, header fields repeated in the .info), applies .cdiff patches the
 * way freshclam does and writes .cld files. The signature schemes are
 * implemented here from ClamAV's documented design with OpenSSL's BIGNUM:
 *
 *  - a signature is a number written in base 64 with the digits
 *    a-z A-Z 0-9 + /, least significant digit first;
 *  - header scheme: sig^e mod n, whose low 16 bytes must be the MD5;
 *  - .info and .cdiff scheme: sig^e mod n is a 256-byte PSS encoding
 *    (SHA-256, MGF1 with SHA-256, 32-byte salt, trailer 0xbc) of the
 *    SHA-256 of the signed data.
 *
 * Each of the three uses its own ClamAV public key (below, as published
 * in ClamAV's sources). Tests pass their own keys; see include/khien/cvd.h.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/clamav/clamav.h"
#include "engine/clamav/cvd.h"
#include "engine/digest.h"
#include "platform/platform.h"
#include "util/util.h"

#define HDR_LEN 512u
#define MAX_MEMBERS 4096u
#define MAX_MEMBER (2ull << 30)   /* one file inside a container */
#define MAX_TOTAL (8ull << 30)    /* all files of a container */
#define MAX_FILE (4ull << 30)     /* a container file */
#define MAX_INFO_LINES 100000u
#define MAX_DIFF (256u << 20)     /* a decompressed .cdiff script */
#define MAX_DSIG 1024u

/* ClamAV's public keys (decimal), from its sources: the header key
 * (libclamav/dsig.c), the .info key (libclamav/readdb.c) and the .cdiff
 * key (shared/cdiff.c, now libclamav_rust/src/cdiff.rs). */
static const char CVD_N[] =
    "118640995551645342603070001658453189751527774412027743746599405743243142607464144767361060640655"
    "844749760788890022283424922762488917565551002467771109669598189410434699034532232228621591089508"
    "178591428456220796841621637175567590476666928698770143328137383952820383197532047771780196576957"
    "695822641224262693037";
static const char INFO_N[] =
    "110888949830485454736595561066271949239289417917950476205916586974135810433227159121724968065253"
    "810558809645206184002243333205346602992339837553417406795028668299096799557343913926683783612215"
    "242053966310901051516412708572770803107343209516537005089417174191687239425078907029047027075874"
    "516216910507543078503833998653464872037984641785373922114027864813598244611972311028954150937703"
    "942166663244845939357624084685168266331921408266679234948220458053478099328484548458869717064243"
    "605586678627758760720594377033653802091016977385775154769350854694552799941131459779940846183284"
    "82151013142393373316337519977244732747977";
static const char CDIFF_N[] =
    "147839058740774670902622285165579175702545996383762035320319892141055528472696874897719757921234"
    "421858172876949519498009087915275420171156005013033947786185358648452357000415900563182301024496"
    "122174585490160893133065913885907907965158196541023207257123008223563487240112326548375032417361"
    "779077841987008344406811247270605400357546996581058950500965762267530085968816988281856524249019"
    "216687583265784620032479064709820922981067896572119054889862810783463614695244848295595608862271"
    "980919954984406766396398304635932113860550653602884223940539981344586237125406832940349538184124"
    "58362198117811990006021989844180721010947";
static const char *const official_n[3] = {CVD_N, INFO_N, CDIFF_N};
static const char *const official_e[3] = {"100001027", "100002049", "100002053"};
static const char *const key_names[3] = {"cvd", "info", "cdiff"};

/* ---- Messages ---------------------------------------------------------------- */

/* A check: fails, or with KH_CVD_UNSIGNED_OK is reported and let through. */
typedef struct checker {
    unsigned flags;
    kh_cvd_warn_fn warn;
    void *ud;
    char *err;
    size_t errlen;
} checker;

static int check_failed(checker *k, const char *fmt, ...) KH_PRINTF(2, 3);
static int check_failed(checker *k, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (k->flags & KH_CVD_UNSIGNED_OK) {
        if (k->warn && !(k->flags & KH_CVD_QUIET_CONTAINER))
            k->warn(k->ud, msg);
        return 0;
    }
    return kh_errf(k->err, k->errlen, KH_EFORMAT, "%s", msg);
}

/* ---- Keys and signatures ------------------------------------------------------ */

/* The key `which` from the test key text, or ClamAV's. */
static int get_key(const char *keys, int which, BIGNUM **n, BIGNUM **e)
{
    *n = *e = NULL;
    if (!keys) {
        if (!BN_dec2bn(n, official_n[which]) || !BN_dec2bn(e, official_e[which]))
            goto fail;
        return 0;
    }
    size_t kl = strlen(key_names[which]);
    for (const char *p = keys; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > kl && strncmp(p, key_names[which], kl) == 0 && p[kl] == ' ') {
            char line[4096];
            if (len >= sizeof(line))
                return KH_EFORMAT;
            memcpy(line, p, len);
            line[len] = 0;
            char *sn = line + kl + 1, *sp = strchr(sn, ' ');
            if (!sp)
                return KH_EFORMAT;
            *sp = 0;
            if (!BN_dec2bn(n, sn) || !BN_dec2bn(e, sp + 1) || BN_is_zero(*n))
                goto fail;
            return 0;
        }
        p = nl ? nl + 1 : NULL;
    }
    return KH_EFORMAT;
fail:
    BN_free(*n);
    BN_free(*e);
    *n = *e = NULL;
    return KH_EFORMAT;
}

static int sig_digit(int c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* sig^e mod n, its low plen bytes big-endian into out. */
static int decode_sig(const char *keys, int which, const char *sig, size_t slen, uint8_t *out, size_t plen)
{
    if (slen == 0 || slen > MAX_DSIG)
        return KH_EFORMAT;
    BIGNUM *n, *e;
    if (get_key(keys, which, &n, &e))
        return KH_EFORMAT;
    BIGNUM *c = BN_new(), *p = BN_new();
    BN_CTX *ctx = BN_CTX_new();
    int rc = KH_ENOMEM;
    if (!c || !p || !ctx)
        goto done;
    rc = KH_EFORMAT;
    BN_zero(c);
    for (size_t i = slen; i-- > 0;) {
        int d = sig_digit((unsigned char)sig[i]);
        if (d < 0 || !BN_lshift(c, c, 6) || !BN_add_word(c, (BN_ULONG)d))
            goto done;
    }
    if (!BN_nnmod(c, c, n, ctx) || !BN_mod_exp(p, c, e, n, ctx))
        goto done;
    if (BN_num_bits(p) > (int)(plen * 8) && !BN_mask_bits(p, (int)(plen * 8)))
        goto done;
    if (BN_bn2binpad(p, out, (int)plen) != (int)plen)
        goto done;
    rc = 0;
done:
    BN_CTX_free(ctx);
    BN_free(c);
    BN_free(p);
    BN_free(n);
    BN_free(e);
    return rc;
}

int kh_cvd_versig(const char *keys, const char *md5hex, const char *dsig)
{
    uint8_t plain[16];
    char hex[33];
    if (!md5hex || strlen(md5hex) != 32 || !dsig)
        return KH_EFORMAT;
    if (decode_sig(keys, 0, dsig, strlen(dsig), plain, sizeof(plain)))
        return KH_EFORMAT;
    kh_hex_encode(plain, 16, hex);
    return strcasecmp(hex, md5hex) == 0 ? 0 : KH_EFORMAT;
}

#define PSS_LEN 256u
#define PSS_HASH 32u
#define PSS_DB (PSS_LEN - PSS_HASH - 1u)
#define PSS_SALT 32u

int kh_cvd_versig2(const char *keys, int which, const uint8_t sha256[32], const char *dsig, size_t dsiglen)
{
    uint8_t em[PSS_LEN], db[PSS_DB + PSS_HASH], h[PSS_HASH];
    if (which < 1 || which > 2 || decode_sig(keys, which, dsig, dsiglen, em, sizeof(em)))
        return KH_EFORMAT;
    if (em[PSS_LEN - 1] != 0xbc)
        return KH_EFORMAT;
    memcpy(h, em + PSS_DB, PSS_HASH);
    /* MGF1(H) with SHA-256, XOR the masked block */
    for (uint32_t i = 0; i * PSS_HASH < PSS_DB; i++) {
        uint8_t in[PSS_HASH + 4];
        memcpy(in, h, PSS_HASH);
        in[PSS_HASH] = (uint8_t)(i >> 24), in[PSS_HASH + 1] = (uint8_t)(i >> 16);
        in[PSS_HASH + 2] = (uint8_t)(i >> 8), in[PSS_HASH + 3] = (uint8_t)i;
        if (kh_sha256(in, sizeof(in), db + i * PSS_HASH))
            return KH_EFORMAT;
    }
    for (size_t i = 0; i < PSS_DB; i++)
        db[i] ^= em[i];
    db[0] &= 0x7f;
    /* zeros, 0x01, then the salt filling the rest */
    size_t i = 0;
    while (i < PSS_DB && db[i] == 0)
        i++;
    if (i >= PSS_DB || db[i] != 0x01 || PSS_DB - (i + 1) != PSS_SALT)
        return KH_EFORMAT;
    uint8_t m[8 + PSS_HASH + PSS_SALT], h2[PSS_HASH];
    memset(m, 0, 8);
    memcpy(m + 8, sha256, PSS_HASH);
    memcpy(m + 8 + PSS_HASH, db + i + 1, PSS_SALT);
    if (kh_sha256(m, sizeof(m), h2))
        return KH_EFORMAT;
    return memcmp(h, h2, PSS_HASH) == 0 ? 0 : KH_EFORMAT;
}

/* ---- Header ---------------------------------------------------------------------- */

static int parse_uint(const char *s, size_t n, unsigned *out)
{
    uint64_t v;
    if (n == 0 || kh_parse_u64(s, n, &v) || v > UINT32_MAX)
        return KH_EFORMAT;
    *out = (unsigned)v;
    return 0;
}

int kh_cvd_header_parse(const void *p, size_t n, kh_cvd_header *out)
{
    char line[HDR_LEN + 1];
    if (!p || !out)
        return KH_EINVAL;
    if (n > HDR_LEN)
        n = HDR_LEN;
    memcpy(line, p, n);
    line[n] = 0;
    line[strcspn(line, "\r\n")] = 0;
    size_t len = strlen(line);
    while (len && line[len - 1] == ' ')
        line[--len] = 0;
    if (strncmp(line, "ClamAV-VDB:", 11) != 0)
        return KH_EFORMAT;
    const char *f[10];
    size_t fl[10], nf = 0;
    for (const char *s = line + 11; nf < 10;) {
        const char *c = strchr(s, ':');
        f[nf] = s;
        fl[nf++] = c ? (size_t)(c - s) : strlen(s);
        if (!c)
            break;
        s = c + 1;
    }
    if (nf < 7)
        return KH_EFORMAT;
    kh_cvd_header h;
    memset(&h, 0, sizeof(h));
    if (fl[0] == 0 || fl[0] >= sizeof(h.time) || fl[4] == 0 || fl[4] >= sizeof(h.md5) || fl[5] == 0 ||
        fl[5] >= sizeof(h.dsig) || fl[6] == 0 || fl[6] >= sizeof(h.builder))
        return KH_EFORMAT;
    if (parse_uint(f[1], fl[1], &h.version) || parse_uint(f[2], fl[2], &h.sigs) || parse_uint(f[3], fl[3], &h.flevel))
        return KH_EFORMAT;
    memcpy(h.time, f[0], fl[0]);
    memcpy(h.md5, f[4], fl[4]);
    memcpy(h.dsig, f[5], fl[5]);
    memcpy(h.builder, f[6], fl[6]);
    if (nf > 7) {
        uint64_t v;
        if (kh_parse_u64(f[7], fl[7], &v) || v > (uint64_t)INT64_MAX)
            return KH_EFORMAT;
        h.stime = (long long)v;
    }
    *out = h;
    return 0;
}

int kh_cvd_header_read(const char *path, kh_cvd_header *out)
{
    if (!path || !out)
        return KH_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return kh_errno_to_kh(errno);
    char buf[HDR_LEN];
    ssize_t k = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    if (k < 0)
        return KH_EIO;
    return kh_cvd_header_parse(buf, (size_t)k, out);
}

kh_cvd_type kh_cvd_type_of(const char *ext)
{
    if (!ext)
        return KH_CVD_NONE;
    if (strcmp(ext, "cvd") == 0)
        return KH_CVD_CVD;
    if (strcmp(ext, "cld") == 0)
        return KH_CVD_CLD;
    if (strcmp(ext, "cud") == 0)
        return KH_CVD_CUD;
    return KH_CVD_NONE;
}

static kh_cvd_type type_of_name(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    return dot ? kh_cvd_type_of(dot + 1) : KH_CVD_NONE;
}

int kh_cvd_superseded(const char *path)
{
    kh_cvd_type t = type_of_name(path);
    if (t != KH_CVD_CVD && t != KH_CVD_CLD)
        return 0;
    kh_buf other = KH_BUF_INIT(8192);
    size_t l = strlen(path);
    if (kh_buf_append(&other, path, l - 3) || kh_buf_puts(&other, t == KH_CVD_CVD ? "cld" : "cvd"))
        return 0;
    kh_cvd_header mine, theirs;
    int r = 0;
    if (kh_cvd_header_read(path, &mine) == 0 && kh_cvd_header_read(other.data, &theirs) == 0)
        r = t == KH_CVD_CVD ? theirs.version >= mine.version : theirs.version > mine.version;
    kh_buf_dispose(&other);
    return r;
}

/* ---- .sign files (ClamAV 1.5) ------------------------------------------------------ */

#define MAX_SIGN_FILE (1u << 20)
#define SIGN_FLEVEL 220u /* the level that introduced .sign files */

/* A store of the CA certificates in `dir` (*.pem, *.crt); NULL if none. */
static X509_STORE *load_certs(const char *dir)
{
    DIR *d = opendir(dir ? dir : "/etc/clamav/certs");
    if (!d)
        return NULL;
    X509_STORE *st = X509_STORE_new();
    int n = 0;
    struct dirent *de;
    while (st && (de = readdir(d))) {
        if (!kh_str_endswith(de->d_name, ".pem") && !kh_str_endswith(de->d_name, ".crt"))
            continue;
        kh_buf p = KH_BUF_INIT(0);
        if (kh_buf_printf(&p, "%s/%s", dir ? dir : "/etc/clamav/certs", de->d_name) == 0) {
            BIO *b = BIO_new_file(p.data, "r");
            X509 *x;
            while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
                n += X509_STORE_add_cert(st, x) == 1;
                X509_free(x);
            }
            BIO_free(b);
        }
        kh_buf_dispose(&p);
    }
    closedir(d);
    if (n == 0) {
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

/* Checks NAME-VERSION.cvd.sign beside `path`. Returns 0 (verified),
 * KH_ENOENT (no .sign file, or no CA to check it with: not used) or
 * KH_EFORMAT (it does not verify; err says why). */
static int check_sign(const char *path, unsigned version, const uint8_t *data, size_t len, const char *certs_dir,
                      char *err, size_t errlen)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return KH_ENOENT;
    kh_buf sp = KH_BUF_INIT(0);
    if (kh_buf_printf(&sp, "%.*s-%u.cvd.sign", (int)(dot - path), path, version))
        return KH_ENOMEM;
    kh_map m;
    int rc = kh_map_path(&m, sp.data, MAX_SIGN_FILE);
    kh_buf_dispose(&sp);
    if (rc)
        return KH_ENOENT;
    X509_STORE *st = load_certs(certs_dir);
    if (!st) {
        kh_map_release(&m);
        return KH_ENOENT;
    }
    const char *t = (const char *)m.data;
    size_t tl = m.len;
    rc = KH_ENOENT;
    if (tl < 13 || memcmp(t, "#clamsign-1.0", 13) != 0)
        rc = kh_errf(err, errlen, KH_EFORMAT, "the .sign file does not start with #clamsign-1.0");
    for (size_t pos = 0; rc == KH_ENOENT && pos < tl;) {
        const char *line = t + pos;
        const char *nl = memchr(line, '\n', tl - pos);
        size_t n = nl ? (size_t)(nl - line) : tl - pos;
        pos += n + (nl ? 1 : 0);
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
            n--;
        if (n == 0 || line[0] == '#')
            continue;
        /* min_flevel:max_flevel:format:base64 */
        const char *f[4];
        size_t fl[4], nf = 0;
        for (const char *q = line; nf < 4;) {
            const char *c = nf < 3 ? memchr(q, ':', (size_t)(line + n - q)) : NULL;
            f[nf] = q;
            fl[nf++] = c ? (size_t)(c - q) : (size_t)(line + n - q);
            if (!c)
                break;
            q = c + 1;
        }
        unsigned maxfl = 0;
        if (nf != 4 || (fl[1] && parse_uint(f[1], fl[1], &maxfl))) {
            rc = kh_errf(err, errlen, KH_EFORMAT, "malformed line in the .sign file");
            break;
        }
        if ((fl[1] && maxfl < SIGN_FLEVEL) || fl[2] != 9 || memcmp(f[2], "pkcs7-pem", 9) != 0)
            continue; /* a format for other engines */
        uint8_t *der = malloc(fl[3] + 4);
        int dl = der ? EVP_DecodeBlock(der, (const unsigned char *)f[3], (int)fl[3]) : -1;
        const unsigned char *dp = der;
        PKCS7 *p7 = dl > 0 ? d2i_PKCS7(NULL, &dp, dl) : NULL;
        BIO *in = p7 ? BIO_new_mem_buf(data, (int)len) : NULL;
        if (!p7 || !in)
            rc = kh_errf(err, errlen, KH_EFORMAT, "the .sign file's PKCS#7 signature cannot be read");
        else if (PKCS7_verify(p7, NULL, st, in, NULL, PKCS7_DETACHED | PKCS7_BINARY | PKCS7_NOCRL) == 1)
            rc = 0;
        else
            rc = kh_errf(err, errlen, KH_EFORMAT,
                         "the .sign file's signature does not verify for this file with the CA certificates of %s",
                         certs_dir ? certs_dir : "/etc/clamav/certs");
        BIO_free(in);
        PKCS7_free(p7);
        free(der);
    }
    X509_STORE_free(st);
    kh_map_release(&m);
    return rc;
}

/* ---- The .info list -------------------------------------------------------------- */

typedef struct info_ent {
    char *name;
    uint64_t size;
    uint8_t sha[32];
} info_ent;

typedef struct info {
    info_ent *e;
    size_t n, cap;
    kh_cvd_header hdr;
    int has_hdr;
} info;

static void info_free(info *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->e[i].name);
    free(in->e);
    memset(in, 0, sizeof(*in));
}

/* Parses NAME.info and checks its signature (unless `unsigned_db`). */
static int info_parse(info *in, const char *text, size_t len, int unsigned_db, const char *keys, checker *k)
{
    size_t pos = 0;
    unsigned ln = 0;
    int dsig = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        size_t start = pos;
        pos += n + (nl ? 1 : 0);
        if (++ln > MAX_INFO_LINES)
            return kh_errf(k->err, k->errlen, KH_ELIMIT, ".info: too many lines");
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
            n--;
        if (!unsigned_db && n >= 5 && memcmp(line, "DSIG:", 5) == 0) {
            uint8_t sum[32];
            dsig = 1;
            if (kh_sha256(text, start, sum))
                return KH_ENOMEM;
            if (kh_cvd_versig2(keys, 1, sum, line + 5, n - 5) != 0) {
                int rc = check_failed(k, "the digital signature of the .info file list is not valid");
                if (rc)
                    return rc;
            }
            break;
        }
        if (n >= 11 && memcmp(line, "ClamAV-VDB:", 11) == 0) {
            if (in->has_hdr)
                return kh_errf(k->err, k->errlen, KH_EFORMAT, ".info line %u: a second header", ln);
            if (kh_cvd_header_parse(line, n, &in->hdr))
                return kh_errf(k->err, k->errlen, KH_EFORMAT, ".info line %u: malformed header", ln);
            in->has_hdr = 1;
            continue;
        }
        if (!in->has_hdr)
            return kh_errf(k->err, k->errlen, KH_EFORMAT, ".info line %u: expected the ClamAV-VDB header", ln);
        const char *c1 = memchr(line, ':', n);
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(line + n - c1 - 1)) : NULL;
        uint64_t size;
        if (!c2 || c1 == line || (size_t)(c1 - line) > 100 || line + n - c2 - 1 != 64 ||
            kh_parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), &size))
            return kh_errf(k->err, k->errlen, KH_EFORMAT, ".info line %u: expected name:size:sha256", ln);
        int rc = kh_grow((void **)&in->e, &in->cap, in->n + 1, sizeof(info_ent), MAX_MEMBERS);
        if (rc)
            return rc == KH_ELIMIT ? kh_errf(k->err, k->errlen, KH_ELIMIT, ".info: too many files") : rc;
        info_ent *e = &in->e[in->n];
        if (kh_hex_decode(c2 + 1, 64, e->sha) != 0)
            return kh_errf(k->err, k->errlen, KH_EFORMAT, ".info line %u: malformed SHA-256", ln);
        if (!(e->name = kh_strndup(line, (size_t)(c1 - line))))
            return KH_ENOMEM;
        e->size = size;
        in->n++;
    }
    if (!in->has_hdr)
        return kh_errf(k->err, k->errlen, KH_EFORMAT, ".info: no ClamAV-VDB header");
    if (!unsigned_db && !dsig)
        return check_failed(k, "the .info file list is not signed (no DSIG line)");
    return 0;
}

static const info_ent *info_find(const info *in, const char *name)
{
    for (size_t i = 0; i < in->n; i++)
        if (strcmp(in->e[i].name, name) == 0)
            return &in->e[i];
    return NULL;
}

/* Files that ClamAV does not check against the .info. */
static int unchecked_member(const char *name)
{
    return strcmp(name, "COPYING") == 0 || kh_str_endswith(name, ".info") || kh_str_endswith(name, ".cfg");
}

/* sum: the file's SHA-256, or NULL to compute it from data. */
static int check_member(const info *in, const char *name, const uint8_t *data, size_t len, const uint8_t *sum,
                        checker *k)
{
    if (unchecked_member(name))
        return 0;
    const info_ent *e = info_find(in, name);
    if (!e) {
        checker km = *k;
        km.flags &= ~KH_CVD_QUIET_CONTAINER;
        return check_failed(&km, "%s is not listed in the .info file list", name);
    }
    uint8_t own[32];
    if (!sum) {
        if (kh_sha256(data, len, own))
            return KH_ENOMEM;
        sum = own;
    }
    if (e->size != len || memcmp(sum, e->sha, 32) != 0) {
        checker km = *k; /* a file's own check: reported in every pass */
        km.flags &= ~KH_CVD_QUIET_CONTAINER;
        return check_failed(&km, "%s does not match the size and SHA-256 listed in the .info file", name);
    }
    return 0;
}

static int member_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= 100 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

typedef struct warnbuf {
    char *err;
    size_t errlen;
} warnbuf;

static void collect_warn(void *ud, const char *msg)
{
    warnbuf *w = ud;
    if (!w->err || !w->errlen)
        return;
    size_t l = strlen(w->err);
    if (l + 3 < w->errlen)
        snprintf(w->err + l, w->errlen - l, "%s%s", l ? "; " : "", msg);
}

/* ---- Reading a container ---------------------------------------------------------- */

static int tar_open(struct archive **out, const uint8_t *body, size_t blen)
{
    struct archive *a = archive_read_new();
    if (!a)
        return KH_ENOMEM;
    if (blen >= 2 && body[0] == 0x1f && body[1] == 0x8b)
        archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, body, blen) != ARCHIVE_OK) {
        archive_read_free(a);
        return KH_EFORMAT;
    }
    *out = a;
    return 0;
}

/* Reads the current entry's data (size known from the header). */
static int tar_data(struct archive *a, struct archive_entry *e, uint8_t **out, size_t *outlen, char *err,
                    size_t errlen, const char *name)
{
    if (archive_entry_filetype(e) != AE_IFREG)
        return kh_errf(err, errlen, KH_EFORMAT, "%s: not a regular file inside the container", name);
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
        return kh_errf(err, errlen, KH_EFORMAT, "%s: no size in the tar header", name);
    uint64_t size = (uint64_t)archive_entry_size(e);
    if (size > MAX_MEMBER)
        return kh_errf(err, errlen, KH_ELIMIT, "%s: larger than %llu bytes", name, (unsigned long long)MAX_MEMBER);
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    if (!buf)
        return KH_ENOMEM;
    size_t got = 0;
    while (got < size) {
        la_ssize_t k = archive_read_data(a, buf + got, (size_t)size - got);
        if (k <= 0) {
            free(buf);
            return kh_errf(err, errlen, KH_EFORMAT, "%s: truncated or damaged data (%s)", name,
                           k < 0 ? archive_error_string(a) : "unexpected end");
        }
        got += (size_t)k;
    }
    *out = buf;
    *outlen = (size_t)size;
    return 0;
}

/* Hashes the current entry's data as it is unpacked (SHA-256). */
static int tar_sum(struct archive *a, struct archive_entry *e, size_t *outlen, uint8_t sum[32], char *err,
                   size_t errlen, const char *name)
{
    if (archive_entry_filetype(e) != AE_IFREG)
        return kh_errf(err, errlen, KH_EFORMAT, "%s: not a regular file inside the container", name);
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
        return kh_errf(err, errlen, KH_EFORMAT, "%s: no size in the tar header", name);
    uint64_t size = (uint64_t)archive_entry_size(e);
    if (size > MAX_MEMBER)
        return kh_errf(err, errlen, KH_ELIMIT, "%s: larger than %llu bytes", name, (unsigned long long)MAX_MEMBER);
    kh_digest dg;
    if (kh_digest_init(&dg))
        return KH_ENOMEM;
    int rc = kh_digest_start(&dg, 1u << KH_SHA256);
    uint8_t *buf = malloc(1u << 16);
    uint64_t got = 0;
    if (!buf)
        rc = KH_ENOMEM;
    while (!rc && got < size) {
        la_ssize_t k = archive_read_data(a, buf, (size_t)KH_MIN(size - got, (uint64_t)(1u << 16)));
        if (k <= 0)
            rc = kh_errf(err, errlen, KH_EFORMAT, "%s: truncated or damaged data (%s)", name,
                         k < 0 ? archive_error_string(a) : "unexpected end");
        else {
            rc = kh_digest_update(&dg, buf, (size_t)k);
            got += (uint64_t)k;
        }
    }
    uint8_t out[KH_NALG][32];
    if (!rc && !(rc = kh_digest_finish(&dg, out))) {
        memcpy(sum, out[KH_SHA256], 32);
        *outlen = (size_t)size;
    }
    free(buf);
    kh_digest_dispose(&dg);
    return rc;
}

/* Finds and reads the first .info file of the archive. */
static int find_info(const uint8_t *body, size_t blen, uint8_t **text, size_t *tlen, char *err, size_t errlen)
{
    struct archive *a;
    int rc = tar_open(&a, body, blen);
    if (rc)
        return kh_errf(err, errlen, rc, "the body is not a tar or tar.gz archive");
    struct archive_entry *e;
    unsigned count = 0;
    rc = KH_ENOTFOUND;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (++count > MAX_MEMBERS) {
            rc = kh_errf(err, errlen, KH_ELIMIT, "more than %u files in the container", MAX_MEMBERS);
            break;
        }
        if (name && kh_str_endswith(name, ".info") && member_name_ok(name)) {
            rc = tar_data(a, e, text, tlen, err, errlen, name);
            break;
        }
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_EOF)
        rc = kh_errf(err, errlen, KH_EFORMAT, "damaged archive: %s", archive_error_string(a));
    else if (rc == KH_ENOTFOUND)
        rc = kh_errf(err, errlen, KH_EFORMAT, "no .info file list in the container");
    archive_read_free(a);
    return rc;
}

int kh_cvd_read(const char *name, const uint8_t *data, size_t len, kh_cvd_type type, const kh_cvd_options *o,
                kh_cvd_want_fn want, kh_cvd_member_fn fn, kh_cvd_warn_fn warn, void *ud, kh_cvd_header *hdr_out,
                char *err, size_t errlen)
{
    checker k = {o ? o->flags : 0, warn, ud, err, errlen};
    const char *keys = o ? o->keys : NULL;
    kh_cvd_header hdr;
    if (len < HDR_LEN || kh_cvd_header_parse(data, HDR_LEN, &hdr) != 0)
        return kh_errf(err, errlen, KH_EFORMAT, "not a ClamAV database container (no ClamAV-VDB header)");
    const uint8_t *body = data + HDR_LEN;
    size_t blen = len - HDR_LEN;
    int rc;
    int signed_ok = 0;
    if (type == KH_CVD_CVD && len <= INT32_MAX) {
        char serr[400];
        rc = check_sign(name, hdr.version, data, len, o ? o->certs_dir : NULL, serr, sizeof(serr));
        signed_ok = rc == 0;
        if (rc == KH_EFORMAT && (rc = check_failed(&k, "%s", serr)))
            return rc;
    }
    if (type == KH_CVD_CVD && !signed_ok) {
        uint8_t sum[KH_NALG][32];
        char hex[33];
        if ((rc = kh_digest_buf(1u << KH_MD5, body, blen, sum)))
            return rc;
        kh_hex_encode(sum[KH_MD5], 16, hex);
        if (strcasecmp(hex, hdr.md5) != 0) {
            if ((rc = check_failed(&k, "MD5 of the content (%s) differs from the header's (%s): damaged or altered", hex,
                                   hdr.md5)))
                return rc;
        } else if (kh_cvd_versig(keys, hex, hdr.dsig) != 0) {
            if ((rc = check_failed(&k, "the digital signature in the header is not valid for this content")))
                return rc;
        }
    }
    /* The file list first, wherever it is in the archive. */
    uint8_t *itext = NULL;
    size_t ilen = 0;
    if ((rc = find_info(body, blen, &itext, &ilen, err, errlen)))
        return rc;
    info in = {0};
    rc = info_parse(&in, (const char *)itext, ilen, type == KH_CVD_CUD, keys, &k);
    free(itext);
    if (rc) {
        info_free(&in);
        return rc;
    }
    if (in.hdr.version != hdr.version || in.hdr.sigs != hdr.sigs || in.hdr.flevel != hdr.flevel ||
        in.hdr.stime != hdr.stime) {
        if ((rc = check_failed(&k, "the header (version %u, %u signatures) differs from the .info's (version %u, %u "
                                   "signatures)",
                               hdr.version, hdr.sigs, in.hdr.version, in.hdr.sigs))) {
            info_free(&in);
            return rc;
        }
    }
    /* Every file, checked before it is handed on. */
    struct archive *a;
    if ((rc = tar_open(&a, body, blen))) {
        info_free(&in);
        return kh_errf(err, errlen, rc, "the body is not a tar or tar.gz archive");
    }
    struct archive_entry *e;
    uint64_t total = 0;
    unsigned count = 0;
    int r;
    while (!rc && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *mname = archive_entry_pathname(e);
        if (!mname || !member_name_ok(mname)) {
            rc = kh_errf(err, errlen, KH_EFORMAT, "a file name inside the container is empty, too long or has a '/'");
            break;
        }
        if (++count > MAX_MEMBERS) {
            rc = kh_errf(err, errlen, KH_ELIMIT, "more than %u files in the container", MAX_MEMBERS);
            break;
        }
        if (want && !want(ud, mname)) {
            if (archive_read_data_skip(a) != ARCHIVE_OK) {
                rc = kh_errf(err, errlen, KH_EFORMAT, "damaged archive: %s", archive_error_string(a));
                break;
            }
            continue;
        }
        char *nm = kh_strdup(mname);
        uint8_t *buf = NULL, sum[32];
        size_t blen2 = 0;
        if (!nm)
            rc = KH_ENOMEM;
        else if (!fn) { /* checking only: hash as it is unpacked, keep nothing */
            if (!(rc = tar_sum(a, e, &blen2, sum, err, errlen, nm))) {
                total += blen2;
                rc = total > MAX_TOTAL ? kh_errf(err, errlen, KH_ELIMIT, "more than %llu bytes unpacked",
                                                 (unsigned long long)MAX_TOTAL)
                                       : check_member(&in, nm, NULL, blen2, sum, &k);
            }
        } else if (!(rc = tar_data(a, e, &buf, &blen2, err, errlen, nm))) {
            total += blen2;
            if (total > MAX_TOTAL)
                rc = kh_errf(err, errlen, KH_ELIMIT, "more than %llu bytes unpacked", (unsigned long long)MAX_TOTAL);
            else if (!(rc = check_member(&in, nm, buf, blen2, NULL, &k)))
                rc = fn(ud, nm, buf, blen2);
        }
        free(buf);
        free(nm);
    }
    if (!rc && r != ARCHIVE_EOF)
        rc = kh_errf(err, errlen, KH_EFORMAT, "damaged archive: %s", archive_error_string(a));
    archive_read_free(a);
    info_free(&in);
    if (!rc && hdr_out)
        *hdr_out = hdr;
    return rc;
}

int kh_cvd_check_file(const char *path, const kh_cvd_options *opts, kh_cvd_header *hdr, char *err, size_t errlen)
{
    if (!path)
        return KH_EINVAL;
    if (err && errlen)
        err[0] = 0;
    kh_cvd_type t = type_of_name(path);
    if (t == KH_CVD_NONE)
        return kh_errf(err, errlen, KH_EINVAL, "%s: not a .cvd, .cld or .cud file", path);
    kh_map m;
    int rc = kh_map_path(&m, path, MAX_FILE);
    if (rc)
        return kh_errf(err, errlen, rc, "cannot read: %s", kh_strerror(rc));
    warnbuf w = {err, errlen};
    rc = kh_cvd_read(path, m.data, m.len, t, opts, NULL, NULL, collect_warn, &w, hdr, err, errlen);
    kh_map_release(&m);
    return rc;
}

/* ---- Sets in memory ------------------------------------------------------------------- */

typedef struct member {
    char *name;
    uint8_t *data;
    size_t len;
} member;

struct kh_cvdset {
    member *m;
    size_t n, cap;
    kh_cvd_header hdr;
    kh_cvd_type type;
};

void kh_cvdset_destroy(kh_cvdset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->m[i].name);
        free(s->m[i].data);
    }
    free(s->m);
    free(s);
}

const kh_cvd_header *kh_cvdset_header(const kh_cvdset *s) { return s ? &s->hdr : NULL; }

static int set_add(void *ud, const char *name, const uint8_t *data, size_t len)
{
    kh_cvdset *s = ud;
    int rc = kh_grow((void **)&s->m, &s->cap, s->n + 1, sizeof(member), MAX_MEMBERS);
    if (rc)
        return rc;
    member *m = &s->m[s->n];
    m->name = kh_strdup(name);
    m->data = malloc(len ? len : 1);
    if (!m->name || !m->data) {
        free(m->name);
        free(m->data);
        return KH_ENOMEM;
    }
    memcpy(m->data, data, len);
    m->len = len;
    s->n++;
    return 0;
}

typedef struct set_ud {
    kh_cvdset *s;
    warnbuf w;
} set_ud;

static int set_add_ud(void *ud, const char *name, const uint8_t *data, size_t len)
{
    return set_add(((set_ud *)ud)->s, name, data, len);
}

static void set_warn(void *ud, const char *msg) { collect_warn(&((set_ud *)ud)->w, msg); }

int kh_cvdset_open_mem(kh_cvdset **out, const char *name, const void *data, size_t len, const kh_cvd_options *opts,
                       char *err, size_t errlen)
{
    if (!out || !name || (!data && len))
        return KH_EINVAL;
    if (err && errlen)
        err[0] = 0;
    kh_cvd_type t = type_of_name(name);
    if (t == KH_CVD_NONE)
        return kh_errf(err, errlen, KH_EINVAL, "%s: not a .cvd, .cld or .cud file", name);
    kh_cvdset *s = calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    s->type = t;
    set_ud u = {s, {err, errlen}};
    int rc = kh_cvd_read(name, data, len, t, opts, NULL, set_add_ud, set_warn, &u, &s->hdr, err, errlen);
    if (rc) {
        kh_cvdset_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

int kh_cvdset_open(kh_cvdset **out, const char *path, const kh_cvd_options *opts, char *err, size_t errlen)
{
    if (!out || !path)
        return KH_EINVAL;
    kh_map m;
    int rc = kh_map_path(&m, path, MAX_FILE);
    if (rc)
        return kh_errf(err, errlen, rc, "%s: cannot read: %s", path, kh_strerror(rc));
    rc = kh_cvdset_open_mem(out, path, m.data, m.len, opts, err, errlen);
    kh_map_release(&m);
    return rc;
}

static member *set_find(kh_cvdset *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->m[i].name, name) == 0)
            return &s->m[i];
    return NULL;
}

int kh_cvdset_file(const kh_cvdset *s, const char *name, const void **data, size_t *len)
{
    if (!s || !name || !data || !len)
        return KH_EINVAL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->m[i].name, name) == 0) {
            *data = s->m[i].data;
            *len = s->m[i].len;
            return 0;
        }
    return KH_ENOTFOUND;
}

int kh_cvdset_verify(const kh_cvdset *s, const kh_cvd_options *opts, kh_cvd_header *hdr, char *err, size_t errlen)
{
    if (!s)
        return KH_EINVAL;
    if (err && errlen)
        err[0] = 0;
    warnbuf w = {err, errlen};
    checker k = {opts ? opts->flags : 0, collect_warn, &w, err, errlen};
    const member *im = NULL;
    for (size_t i = 0; i < s->n && !im; i++)
        if (kh_str_endswith(s->m[i].name, ".info"))
            im = &s->m[i];
    if (!im)
        return kh_errf(err, errlen, KH_EFORMAT, "no .info file list");
    info in = {0};
    int rc = info_parse(&in, (const char *)im->data, im->len, s->type == KH_CVD_CUD, opts ? opts->keys : NULL, &k);
    for (size_t i = 0; i < s->n && !rc; i++)
        rc = check_member(&in, s->m[i].name, s->m[i].data, s->m[i].len, NULL, &k);
    if (!rc && hdr)
        *hdr = in.hdr;
    info_free(&in);
    return rc;
}

/* ---- .cdiff patches ------------------------------------------------------------------------ */

/* Token `k` of a command line split at single spaces (freshclam's rule);
 * with `rest`, everything from that token to the end of the line. */
static int token(const char *line, size_t n, unsigned k, int rest, const char **out, size_t *outlen)
{
    size_t i = 0;
    for (unsigned c = 0; i < n && c != k; i++)
        if (line[i] == ' ')
            c++;
    if (i >= n)
        return -1;
    size_t j = i;
    if (rest)
        j = n;
    else
        while (j < n && line[j] != ' ')
            j++;
    if (j == i)
        return -1;
    *out = line + i;
    *outlen = j - i;
    return 0;
}

static int dbname_ok(const char *s, size_t n)
{
    if (n == 0 || n > 100)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '.' && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return strncmp(s, ".", n) != 0 && strncmp(s, "..", n) != 0;
}

typedef struct edit {
    unsigned line;
    const char *a; /* expected start of the line */
    size_t alen;
    const char *b; /* XCHG: the new line */
    size_t blen;
} edit;

typedef struct pctx {
    kh_cvdset *s; /* the working copy */
    char open[101];
    int is_open;
    KH_VEC(edit) dels;
    KH_VEC(edit) xchgs;
    KH_VEC(edit) adds;
    char *err;
    size_t errlen;
    unsigned ln;
} pctx;

static int cmp_edit(const void *x, const void *y)
{
    const edit *a = x, *b = y;
    return a->line < b->line ? -1 : a->line > b->line;
}

static int line_number(const char *s, size_t n, unsigned *out)
{
    uint64_t v;
    if (kh_parse_u64(s, n, &v) || v == 0 || v > UINT32_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Replaces (or adds) a file of the working copy. */
static int set_put(kh_cvdset *s, const char *name, uint8_t *data, size_t len)
{
    member *m = set_find(s, name);
    if (m) {
        free(m->data);
        m->data = data;
        m->len = len;
        return 0;
    }
    int rc = kh_grow((void **)&s->m, &s->cap, s->n + 1, sizeof(member), MAX_MEMBERS);
    if (rc)
        return rc;
    if (!(s->m[s->n].name = kh_strdup(name)))
        return KH_ENOMEM;
    s->m[s->n].data = data;
    s->m[s->n].len = len;
    s->n++;
    return 0;
}

static size_t next_line(const uint8_t *d, size_t len, size_t pos)
{
    const uint8_t *nl = memchr(d + pos, '\n', len - pos);
    return nl ? (size_t)(nl - d) + 1 : len;
}

static int prefix_ok(const uint8_t *line, size_t n, const char *want, size_t wl)
{
    return n >= wl && memcmp(line, want, wl) == 0;
}

static int p_close(pctx *p)
{
    if (!p->is_open)
        return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: CLOSE without OPEN", p->ln);
    member *m = set_find(p->s, p->open);
    kh_buf out = KH_BUF_INIT(MAX_MEMBER);
    int rc = 0;
    if (p->dels.n || p->xchgs.n) {
        if (!m) {
            rc = kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff: %s does not exist", p->open);
            goto done;
        }
        kh_qsort(p->dels.v, p->dels.n, sizeof(edit), cmp_edit);
        kh_qsort(p->xchgs.v, p->xchgs.n, sizeof(edit), cmp_edit);
        size_t di = 0, xi = 0;
        unsigned lines = 0;
        for (size_t pos = 0; pos < m->len && !rc;) {
            size_t end = next_line(m->data, m->len, pos);
            const uint8_t *line = m->data + pos;
            size_t n = end - pos;
            pos = end;
            lines++;
            if (di < p->dels.n && p->dels.v[di].line == lines) {
                if (!prefix_ok(line, n, p->dels.v[di].a, p->dels.v[di].alen))
                    rc = kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff: DEL does not apply at line %u of %s", lines,
                                 p->open);
                di++;
                continue;
            }
            if (xi < p->xchgs.n && p->xchgs.v[xi].line == lines) {
                if (!prefix_ok(line, n, p->xchgs.v[xi].a, p->xchgs.v[xi].alen))
                    rc = kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff: XCHG does not apply at line %u of %s", lines,
                                 p->open);
                else if (kh_buf_append(&out, p->xchgs.v[xi].b, p->xchgs.v[xi].blen) || kh_buf_putc(&out, '\n'))
                    rc = KH_ENOMEM;
                xi++;
                continue;
            }
            if (kh_buf_append(&out, line, n))
                rc = KH_ENOMEM;
        }
        if (!rc && (di < p->dels.n || xi < p->xchgs.n))
            rc = kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff: not every DEL/XCHG applies to %s", p->open);
    } else if (m && kh_buf_append(&out, m->data, m->len)) {
        rc = KH_ENOMEM;
    }
    for (size_t i = 0; i < p->adds.n && !rc; i++)
        if (kh_buf_append(&out, p->adds.v[i].a, p->adds.v[i].alen) || kh_buf_putc(&out, '\n'))
            rc = KH_ENOMEM;
    if (!rc && (m || p->adds.n || p->dels.n || p->xchgs.n)) {
        size_t len;
        if (!out.data && kh_buf_reserve(&out, 1))
            rc = KH_ENOMEM;
        else {
            uint8_t *d = (uint8_t *)kh_buf_detach(&out, &len);
            if ((rc = set_put(p->s, p->open, d, len)))
                free(d);
        }
    }
done:
    kh_buf_dispose(&out);
    p->dels.n = p->xchgs.n = p->adds.n = 0;
    p->is_open = 0;
    return rc;
}

static int p_move(pctx *p, const char *line, size_t n)
{
    const char *t[7];
    size_t tl[7];
    for (unsigned i = 1; i <= 6; i++)
        if (token(line, n, i, 0, &t[i], &tl[i]))
            return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: MOVE needs 6 arguments", p->ln);
    unsigned start, end;
    if (line_number(t[3], tl[3], &start) || line_number(t[5], tl[5], &end) || end < start)
        return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: bad MOVE line numbers", p->ln);
    if (!dbname_ok(t[1], tl[1]) || !dbname_ok(t[2], tl[2]))
        return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: forbidden characters in a database name", p->ln);
    char src[101], dst[101];
    memcpy(src, t[1], tl[1]), src[tl[1]] = 0;
    memcpy(dst, t[2], tl[2]), dst[tl[2]] = 0;
    member *ms = set_find(p->s, src);
    if (!ms || strcmp(src, dst) == 0)
        return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: MOVE from a missing database", p->ln);
    kh_buf keep = KH_BUF_INIT(MAX_MEMBER), moved = KH_BUF_INIT(MAX_MEMBER);
    member *md = set_find(p->s, dst);
    int rc = md && kh_buf_append(&moved, md->data, md->len) ? KH_ENOMEM : 0;
    unsigned lines = 0;
    int done = 0;
    for (size_t pos = 0; pos < ms->len && !rc;) {
        size_t e = next_line(ms->data, ms->len, pos);
        const uint8_t *l = ms->data + pos;
        size_t ln = e - pos;
        pos = e;
        lines++;
        if (lines >= start && lines <= end) {
            if ((lines == start && !prefix_ok(l, ln, t[4], tl[4])) || (lines == end && !prefix_ok(l, ln, t[6], tl[6])))
                rc = kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff: MOVE does not apply at line %u of %s", lines, src);
            else if (kh_buf_append(&moved, l, ln))
                rc = KH_ENOMEM;
            done = lines == end;
        } else if (kh_buf_append(&keep, l, ln)) {
            rc = KH_ENOMEM;
        }
    }
    if (!rc && !done)
        rc = kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff: MOVE lines %u-%u are not in %s", start, end, src);
    if (!rc) {
        size_t kl, ml;
        if ((!keep.data && kh_buf_reserve(&keep, 1)) || (!moved.data && kh_buf_reserve(&moved, 1)))
            rc = KH_ENOMEM;
        else {
            uint8_t *kd = (uint8_t *)kh_buf_detach(&keep, &kl), *mdd = (uint8_t *)kh_buf_detach(&moved, &ml);
            if ((rc = set_put(p->s, src, kd, kl)))
                free(kd);
            if (!rc && (rc = set_put(p->s, dst, mdd, ml)))
                free(mdd);
            else if (rc)
                free(mdd);
        }
    }
    kh_buf_dispose(&keep);
    kh_buf_dispose(&moved);
    return rc;
}

static int p_command(pctx *p, const char *line, size_t n)
{
    const char *cmd, *a, *b, *c;
    size_t cl, al, bl, cl2;
    if (token(line, n, 0, 0, &cmd, &cl))
        return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: cannot parse", p->ln);
#define IS(s) (cl == strlen(s) && memcmp(cmd, s, cl) == 0)
    if (IS("OPEN") || IS("UNLINK")) {
        if (token(line, n, 1, 1, &a, &al))
            return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: missing database name", p->ln);
        if (!dbname_ok(a, al))
            return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: forbidden characters in a database name",
                           p->ln);
        if (p->is_open)
            return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: %s is still open", p->ln, p->open);
        if (IS("OPEN")) {
            memcpy(p->open, a, al);
            p->open[al] = 0;
            p->is_open = 1;
            return 0;
        }
        char nm[101];
        memcpy(nm, a, al), nm[al] = 0;
        member *m = set_find(p->s, nm);
        if (!m)
            return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: cannot UNLINK %s: no such file", p->ln, nm);
        free(m->name);
        free(m->data);
        *m = p->s->m[--p->s->n];
        return 0;
    }
    if (IS("ADD") || IS("DEL") || IS("XCHG")) {
        if (!p->is_open)
            return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: %.*s without OPEN", p->ln, (int)cl, cmd);
        edit e = {0};
        int bad;
        if (IS("ADD")) {
            bad = token(line, n, 1, 1, &e.a, &e.alen);
        } else if (IS("DEL")) {
            bad = token(line, n, 1, 0, &a, &al) || line_number(a, al, &e.line) || token(line, n, 2, 1, &e.a, &e.alen);
        } else {
            bad = token(line, n, 1, 0, &a, &al) || line_number(a, al, &e.line) || token(line, n, 2, 0, &b, &bl) ||
                  token(line, n, 3, 1, &c, &cl2);
            if (!bad)
                e.a = b, e.alen = bl, e.b = c, e.blen = cl2;
        }
        if (bad)
            return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: malformed %.*s", p->ln, (int)cl, cmd);
        int rc = IS("ADD") ? KH_VEC_RESERVE(p->adds, 1, 1u << 24)
                 : IS("DEL") ? KH_VEC_RESERVE(p->dels, 1, 1u << 24)
                             : KH_VEC_RESERVE(p->xchgs, 1, 1u << 24);
        if (rc)
            return rc;
        if (IS("ADD"))
            p->adds.v[p->adds.n++] = e;
        else if (IS("DEL"))
            p->dels.v[p->dels.n++] = e;
        else
            p->xchgs.v[p->xchgs.n++] = e;
        return 0;
    }
    if (IS("CLOSE"))
        return p_close(p);
    if (IS("MOVE")) {
        if (p->is_open)
            return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: %s is still open", p->ln, p->open);
        return p_move(p, line, n);
    }
#undef IS
    return kh_errf(p->err, p->errlen, KH_EFORMAT, ".cdiff line %u: unknown command %.*s", p->ln, (int)(cl > 20 ? 20 : cl),
                   cmd);
}

/* Decompresses a gzip stream held in memory (up to `limit` bytes). */
static int gunzip(const uint8_t *p, size_t n, size_t limit, kh_buf *out)
{
    struct archive *a = archive_read_new();
    if (!a)
        return KH_ENOMEM;
    archive_read_support_filter_gzip(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    int rc = KH_EFORMAT;
    if (archive_read_open_memory(a, p, n) == ARCHIVE_OK && archive_read_next_header(a, &e) == ARCHIVE_OK &&
        archive_filter_code(a, 0) == ARCHIVE_FILTER_GZIP) {
        uint8_t buf[65536];
        la_ssize_t k;
        rc = 0;
        while ((k = archive_read_data(a, buf, sizeof(buf))) > 0)
            if (out->len + (size_t)k > limit || kh_buf_append(out, buf, (size_t)k)) {
                rc = KH_ELIMIT;
                break;
            }
        if (k < 0)
            rc = KH_EFORMAT;
    }
    archive_read_free(a);
    return rc;
}

static kh_cvdset *set_copy(const kh_cvdset *s)
{
    kh_cvdset *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->hdr = s->hdr;
    c->type = s->type;
    for (size_t i = 0; i < s->n; i++)
        if (set_add(c, s->m[i].name, s->m[i].data, s->m[i].len)) {
            kh_cvdset_destroy(c);
            return NULL;
        }
    return c;
}

int kh_cvdset_apply_cdiff(kh_cvdset *s, const void *cdiff, size_t len, const kh_cvd_options *opts, char *err,
                          size_t errlen)
{
    if (!s || (!cdiff && len))
        return KH_EINVAL;
    if (err && errlen)
        err[0] = 0;
    const uint8_t *d = cdiff;
    warnbuf w = {err, errlen};
    checker k = {opts ? opts->flags : 0, collect_warn, &w, err, errlen};
    /* "ClamAV-Diff:version:length:" gzip-data ":" signature */
    size_t colon = len;
    for (size_t i = len; i-- > 0 && len - i <= 350;)
        if (d[i] == ':') {
            colon = i;
            break;
        }
    if (len < 16 || memcmp(d, "ClamAV-Diff:", 12) != 0 || colon == len)
        return kh_errf(err, errlen, KH_EFORMAT, "not a .cdiff file (no ClamAV-Diff header or no signature)");
    uint8_t sum[32];
    int rc = kh_sha256(d, colon, sum);
    if (rc)
        return rc;
    if (kh_cvd_versig2(opts ? opts->keys : NULL, 2, sum, (const char *)d + colon + 1, len - colon - 1) != 0 &&
        (rc = check_failed(&k, "the .cdiff's digital signature is not valid")))
        return rc;
    const uint8_t *c1 = memchr(d + 12, ':', colon - 12);
    const uint8_t *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(d + colon - c1 - 1)) : NULL;
    unsigned ver, difflen;
    if (!c2 || parse_uint((const char *)d + 12, (size_t)(c1 - d - 12), &ver) ||
        parse_uint((const char *)c1 + 1, (size_t)(c2 - c1 - 1), &difflen) || difflen > MAX_DIFF)
        return kh_errf(err, errlen, KH_EFORMAT, "malformed .cdiff header");
    kh_buf script = KH_BUF_INIT(0);
    if ((rc = gunzip(c2 + 1, (size_t)(d + colon - c2 - 1), difflen, &script)) || script.len < difflen) {
        kh_buf_dispose(&script);
        return kh_errf(err, errlen, rc == KH_ELIMIT ? KH_ELIMIT : KH_EFORMAT,
                       "the .cdiff's compressed script is damaged or shorter than its header says");
    }
    pctx p = {0};
    p.err = err;
    p.errlen = errlen;
    if (!(p.s = set_copy(s))) {
        kh_buf_dispose(&script);
        return KH_ENOMEM;
    }
    const char *t = script.data;
    for (size_t pos = 0; pos < difflen && !rc;) {
        const char *line = t + pos;
        const char *nl = memchr(line, '\n', difflen - pos);
        size_t n = nl ? (size_t)(nl - line) : difflen - pos;
        pos += n + (nl ? 1 : 0);
        p.ln++;
        while (n && (line[n - 1] == '\r'))
            n--;
        if (n == 0 || line[0] == '#')
            continue;
        rc = p_command(&p, line, n);
    }
    if (!rc && p.is_open)
        rc = kh_errf(err, errlen, KH_EFORMAT, ".cdiff: %s was not closed", p.open);
    KH_VEC_FREE(p.dels);
    KH_VEC_FREE(p.xchgs);
    KH_VEC_FREE(p.adds);
    kh_buf_dispose(&script);
    if (rc) {
        kh_cvdset_destroy(p.s);
        return rc;
    }
    /* The patched set replaces the old one; its header comes from its .info. */
    kh_cvdset old = *s;
    *s = *p.s;
    free(p.s);
    s->type = s->type == KH_CVD_CUD ? KH_CVD_CUD : KH_CVD_CLD;
    for (size_t i = 0; i < s->n; i++)
        if (kh_str_endswith(s->m[i].name, ".info")) {
            kh_cvd_header h;
            if (kh_cvd_header_parse(s->m[i].data, s->m[i].len, &h) == 0)
                s->hdr = h;
            break;
        }
    for (size_t i = 0; i < old.n; i++) {
        free(old.m[i].name);
        free(old.m[i].data);
    }
    free(old.m);
    return 0;
}

/* ---- Writing a .cld -------------------------------------------------------------------------- */

static int tar_header(kh_buf *b, const char *name, size_t size)
{
    uint8_t h[512];
    memset(h, 0, sizeof(h));
    memcpy(h, name, strlen(name));
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    memcpy(h + 136, "00000000000", 11);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(h); i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return kh_buf_append(b, h, sizeof(h));
}

static int order(const member *a)
{
    return strcmp(a->name, "COPYING") == 0 ? 0 : kh_str_endswith(a->name, ".cfg") ? 1 : 2;
}

static int cmp_member(const void *x, const void *y)
{
    const member *a = *(const member *const *)x, *b = *(const member *const *)y;
    int oa = order(a), ob = order(b);
    return oa != ob ? oa - ob : strcmp(a->name, b->name);
}

int kh_cvdset_write_cld(const kh_cvdset *s, const char *path)
{
    if (!s || !path)
        return KH_EINVAL;
    const member *im = NULL;
    for (size_t i = 0; i < s->n && !im; i++)
        if (kh_str_endswith(s->m[i].name, ".info"))
            im = &s->m[i];
    if (!im)
        return KH_EFORMAT;
    /* Header: the .info's first line, padded with spaces to 512 bytes. */
    uint8_t hdr[HDR_LEN];
    const uint8_t *nl = memchr(im->data, '\n', im->len);
    size_t hl = nl ? (size_t)(nl - im->data) : 0;
    if (!nl || hl >= HDR_LEN)
        return KH_EFORMAT;
    memset(hdr, ' ', sizeof(hdr));
    memcpy(hdr, im->data, hl);
    const member **ord = malloc(sizeof(member *) * (s->n ? s->n : 1));
    if (!ord)
        return KH_ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        ord[i] = &s->m[i];
    kh_qsort(ord, s->n, sizeof(member *), cmp_member);
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_buf_append(&b, hdr, sizeof(hdr));
    static const uint8_t zero[1024];
    for (size_t i = 0; i < s->n && !rc; i++) {
        const member *m = ord[i];
        if ((rc = tar_header(&b, m->name, m->len)) || (rc = kh_buf_append(&b, m->data, m->len)))
            break;
        if (m->len % 512)
            rc = kh_buf_append(&b, zero, 512 - m->len % 512);
    }
    if (!rc)
        rc = kh_buf_append(&b, zero, sizeof(zero));
    if (!rc)
        rc = kh_write_atomic_mode(path, b.data, b.len, 0644);
    kh_buf_dispose(&b);
    free(ord);
    return rc;
}

/* ---- Loading a container into a compiler ------------------------------------------------------ */

typedef struct loadctx {
    kh_dbctx *ctx;
    const char *path;
    int ign_pass;
    char ***ign;
    size_t *nign, *capign;
} loadctx;

static void load_warn(void *ud, const char *msg)
{
    loadctx *l = ud;
    char m[640];
    snprintf(m, sizeof(m), "%s (loaded anyway: --unsigned-ok)", msg);
    l->ctx->diag(l->ctx->ud, KH_DIAG_WARNING, 0, 0, m);
}

/* Each pass reads (and checks) only the files it loads: .ign2 lists in the
 * first, the rest in the second. */
static int load_want(void *ud, const char *name)
{
    loadctx *l = ud;
    const char *dot = strrchr(name, '.');
    int pua = 0;
    kh_dbkind kind = dot && strlen(dot + 1) < 8 ? kh_clamav_kind(dot + 1, &pua) : KH_DB_UNKNOWN;
    return kind != KH_DB_UNKNOWN && (kind == KH_DB_IGN) == l->ign_pass;
}

static int load_member(void *ud, const char *name, const uint8_t *data, size_t len)
{
    loadctx *l = ud;
    const char *dot = strrchr(name, '.');
    const char *ext = dot ? dot + 1 : "";
    int pua = 0;
    kh_dbkind kind = strlen(ext) < 8 ? kh_clamav_kind(ext, &pua) : KH_DB_UNKNOWN;
    if (kind == KH_DB_UNKNOWN || (pua && !(l->ctx->flags & KH_COMPILE_PUA)) || (kind == KH_DB_IGN) != l->ign_pass)
        return 0;
    kh_buf shown = KH_BUF_INIT(0);
    if (kh_buf_printf(&shown, "%s!%s", l->path, name))
        return KH_ENOMEM;
    void **outer = l->ctx->ud;
    void *inner[2] = {outer[0], shown.data};
    l->ctx->ud = inner;
    int rc = l->ign_pass ? kh_clamav_ign_collect(l->ctx, (const char *)data, len, l->ign, l->nign, l->capign)
                         : kh_clamav_load(l->ctx, kind, ext, (const char *)data, len);
    l->ctx->ud = outer;
    kh_buf_dispose(&shown);
    return rc;
}

int kh_cvd_load_source(kh_dbctx *ctx, const char *path, const char *keys, const char *certs, int ign_pass, char ***ign,
                       size_t *nign, size_t *capign)
{
    const char *dot = strrchr(path, '.');
    kh_cvd_type t = dot ? kh_cvd_type_of(dot + 1) : KH_CVD_NONE;
    kh_map m;
    int rc = kh_map_path(&m, path, MAX_FILE);
    char err[600];
    if (rc) {
        snprintf(err, sizeof(err), "cannot read database: %s", kh_strerror(rc));
        ctx->diag(ctx->ud, KH_DIAG_ERROR, 0, 0, err);
        return rc;
    }
    /* the container's own warnings once, in the first pass */
    kh_cvd_options o = {((ctx->flags & KH_COMPILE_UNSIGNED_OK) ? KH_CVD_UNSIGNED_OK : 0u) |
                            (ign_pass ? 0u : KH_CVD_QUIET_CONTAINER),
                        keys, certs};
    loadctx l = {ctx, path, ign_pass, ign, nign, capign};
    err[0] = 0;
    rc = kh_cvd_read(path, m.data, m.len, t, &o, load_want, load_member, load_warn, &l, NULL, err, sizeof(err));
    kh_map_release(&m);
    if (rc && err[0]) {
        char msg[800];
        snprintf(msg, sizeof(msg), "database refused: %s%s", err,
                 rc == KH_EFORMAT ? " (Cơ sở dữ liệu bị từ chối: hỏng hoặc chữ ký không hợp lệ; --unsigned-ok to load "
                                    "it anyway)"
                                  : "");
        ctx->diag(ctx->ud, KH_DIAG_ERROR, 0, 0, msg);
    }
    return rc;
}
