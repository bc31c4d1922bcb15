/* Khiên — engine/clamav: reading ClamAV database files.
 *
 * One function per line format, all fed line by line from kh_clamav_load():
 *   .hdb .hdu   HashString:FileSize:Name[:MinFL[:MaxFL]]   (MD5, or any hash by length)
 *   .hsb .hsu   same, SHA-1 or SHA-256; FileSize may be '*'
 *   .fp .sfp    same format; known-good files whose detections are dropped
 *   .ndb .ndu   Name:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]
 *   .ign2       Name[:anything] per line: signatures to leave out
 *   .ldb .mdb .msb .imp (ldb.c, mdb.c), .ftm .cdb (ftmcdb.c)
 * The hash algorithm is chosen by the length of the hash, as ClamAV does
 * (a 64-digit hash in an .hdb is SHA-256). A malformed line produces a
 * diagnostic naming the line and column and is skipped; in strict mode the
 * load fails. Well-formed signatures we cannot honour (target types
 * kh_cav_target_ok() refuses, Mach-O entry-point and section offsets, VI
 * offsets, formats of a later stage) are counted in the statistics and
 * summarised in one warning per file, never dropped silently.
 */
#include "engine/clamav/cav.h"
#include "engine/digest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

kh_dbkind kh_clamav_kind(const char *ext, int *pua)
{
    static const struct {
        const char *ext;
        kh_dbkind kind;
        int pua;
    } tab[] = {
        {"hdb", KH_DB_HDB, 0}, {"hsb", KH_DB_HDB, 0}, {"hdu", KH_DB_HDB, 1}, {"hsu", KH_DB_HDB, 1},
        {"fp", KH_DB_FP, 0},   {"sfp", KH_DB_FP, 0},  {"ndb", KH_DB_NDB, 0}, {"ndu", KH_DB_NDB, 1},
        {"ign2", KH_DB_IGN, 0}, {"ign", KH_DB_IGN, 0},
        {"ldb", KH_DB_LDB, 0}, {"ldu", KH_DB_LDB, 1}, {"mdb", KH_DB_MDB, 0}, {"mdu", KH_DB_MDB, 1},
        {"msb", KH_DB_MDB, 0}, {"msu", KH_DB_MDB, 1}, {"imp", KH_DB_IMP, 0}, {"cdb", KH_DB_CDB, 0},
        {"ftm", KH_DB_FTM, 0}, {"idb", KH_DB_LATER, 0}, {"crb", KH_DB_LATER, 0}, {"cbc", KH_DB_LATER, 0},
        {"pdb", KH_DB_LATER, 0}, {"gdb", KH_DB_LATER, 0}, {"wdb", KH_DB_LATER, 0}, {"cvd", KH_DB_LATER, 0},
        {"cld", KH_DB_LATER, 0}, {"cud", KH_DB_LATER, 0}, {"yar", KH_DB_LATER, 0}, {"yara", KH_DB_LATER, 0},
        {"zmd", KH_DB_LATER, 0}, {"rmd", KH_DB_LATER, 0}, {"db", KH_DB_LATER, 0},
    };
    for (size_t i = 0; i < KH_ARRAY_LEN(tab); i++)
        if (strcmp(ext, tab[i].ext) == 0) {
            if (pua)
                *pua = tab[i].pua;
            return tab[i].kind;
        }
    return KH_DB_UNKNOWN;
}

typedef kh_cfield field;

size_t kh_clamav_split(const char *line, size_t n, kh_cfield *f, size_t max)
{
    size_t k = 0, st = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || line[i] == ':') {
            if (k == max)
                return max + 1;
            f[k].s = line + st;
            f[k].n = i - st;
            f[k].col = st;
            k++;
            st = i + 1;
        }
    }
    return k;
}

#define diagf kh_clamav_diagf
void kh_clamav_diagf(kh_dbctx *c, kh_diag_severity sev, unsigned line, size_t col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->diag(c->ud, sev, line, (unsigned)col, msg);
}

int kh_clamav_check_name(const char *s, size_t n)
{
    if (n == 0 || n > KH_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int check_name(const field *f) { return kh_clamav_check_name(f->s, f->n); }

/* Is the signature named f, on database line `line`, in the .ign2 list? An
 * entry is "Name", or "Name:md5" that only matches the line with that MD5
 * (as clamscan). Entries starting with the name are contiguous (sorted). */
int kh_clamav_ignored(const kh_dbctx *c, const char *name, size_t name_n, const char *line, size_t n)
{
    field fl = {name, name_n, 0}, *f = &fl;
    size_t lo = 0, hi = c->nignored;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strncmp(c->ignored[mid], f->s, f->n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    char hex[33] = "";
    for (size_t k = lo; k < c->nignored && strncmp(c->ignored[k], f->s, f->n) == 0; k++) {
        const char *rest = c->ignored[k] + f->n;
        if (*rest == 0)
            return 1;
        if (*rest != ':')
            continue;
        if (!hex[0]) {
            uint8_t dig[KH_NALG][32];
            if (kh_digest_buf(1u << KH_MD5, line, n, dig))
                return 0;
            kh_hex_encode(dig[KH_MD5], 16, hex);
        }
        if (strcmp(rest + 1, hex) == 0)
            return 1;
    }
    return 0;
}

/* Optional MinFL[:MaxFL] fields: returns 1 if this engine may load the signature. */
static int flevel_ok(const field *f, size_t nf, size_t first, int *bad)
{
    uint64_t lo = 0, hi = UINT64_MAX;
    *bad = 0;
    if (nf > first && f[first].n && kh_parse_u64(f[first].s, f[first].n, &lo))
        *bad = 1;
    if (nf > first + 1 && f[first + 1].n && kh_parse_u64(f[first + 1].s, f[first + 1].n, &hi))
        *bad = 2;
    return lo <= KH_CLAMAV_FLEVEL && KH_CLAMAV_FLEVEL <= hi;
}

static int add_sig(kh_dbctx *c, const field *name, uint8_t kind, uint32_t pat, unsigned line, uint32_t *idx_out)
{
    return kh_clamav_add_sig(c, name->s, name->n, kind, pat, line, idx_out);
}

int kh_clamav_add_sig(kh_dbctx *c, const char *name_s, size_t name_n, uint8_t kind, uint32_t pat, unsigned line,
                      uint32_t *idx_out)
{
    field nf = {name_s, name_n, 0}, *name = &nf;
    kh_irb *b = c->b;
    if (b->sigs.n >= KH_MAX_SIGS)
        return KH_ELIMIT;
    int rc = KH_VEC_RESERVE(b->sigs, 1, KH_MAX_SIGS);
    uint32_t off;
    if (!rc)
        rc = kh_irb_str(b, name->s, name->n, &off);
    if (rc)
        return rc;
    kh_sig *s = &b->sigs.v[b->sigs.n];
    memset(s, 0, sizeof(*s));
    s->name = off;
    s->source = c->source;
    s->pat = pat;
    s->line = line;
    s->kind = kind;
    *idx_out = (uint32_t)b->sigs.n++;
    return 0;
}

/* hdb / hsb / fp / sfp line. Returns 0, KH_ESYNTAX (reported) or a hard error. */
static int hash_line(kh_dbctx *c, int allow, const char *line, size_t n, unsigned ln)
{
    field f[6];
    size_t nf = kh_clamav_split(line, n, f, 5);
    if (nf < 3 || nf > 5) {
        diagf(c, KH_DIAG_ERROR, ln, 0, "expected HASH:SIZE:NAME[:MINFL[:MAXFL]], found %zu field%s", nf > 5 ? (size_t)6 : nf,
              nf == 1 ? "" : "s");
        return KH_ESYNTAX;
    }
    int alg = f[0].n == 32 ? KH_MD5 : f[0].n == 40 ? KH_SHA1 : f[0].n == 64 ? KH_SHA256 : -1;
    if (alg < 0) {
        diagf(c, KH_DIAG_ERROR, ln, 1, "hash must have 32 (MD5), 40 (SHA-1) or 64 (SHA-256) hex digits, not %zu", f[0].n);
        return KH_ESYNTAX;
    }
    uint8_t rec[40];
    if (kh_hex_decode(f[0].s, f[0].n, rec)) {
        for (size_t i = 0; i < f[0].n; i++)
            if (kh_hexval((unsigned char)f[0].s[i]) < 0) {
                diagf(c, KH_DIAG_ERROR, ln, i + 1, "invalid hex digit '%c' in hash", f[0].s[i]);
                break;
            }
        return KH_ESYNTAX;
    }
    uint32_t size;
    uint64_t v;
    if (f[1].n == 1 && f[1].s[0] == '*') {
        size = KH_ANY_SIZE;
    } else if (kh_parse_u64(f[1].s, f[1].n, &v) || v >= KH_ANY_SIZE) {
        diagf(c, KH_DIAG_ERROR, ln, f[1].col + 1, "file size must be a number below 4 GiB or '*'");
        return KH_ESYNTAX;
    } else {
        size = (uint32_t)v;
    }
    if (!check_name(&f[2])) {
        diagf(c, KH_DIAG_ERROR, ln, f[2].col + 1, "signature name is empty, too long or has control characters");
        return KH_ESYNTAX;
    }
    int bad;
    int fl_ok = flevel_ok(f, nf, 3, &bad);
    if (bad) { /* a malformed level is an error even when the other one excludes us */
        diagf(c, KH_DIAG_ERROR, ln, f[2 + bad].col + 1, "functionality level must be a number");
        return KH_ESYNTAX;
    }
    if (!fl_ok) {
        c->stats->flevel_skipped++;
        return 0;
    }
    if (!allow && kh_clamav_ignored(c, f[2].s, f[2].n, line, n)) {
        c->stats->ignored++;
        return 0;
    }
    uint32_t sig;
    int rc = add_sig(c, &f[2], KH_DET_HASH, UINT32_MAX, ln, &sig);
    if (rc)
        return rc;
    unsigned dl = kh_halg_len[alg];
    memcpy(rec + dl, &size, 4);
    memcpy(rec + dl + 4, &sig, 4);
    if ((rc = kh_buf_append(&c->b->hrec[allow][alg], rec, dl + 8)))
        return rc;
    if (allow)
        c->stats->allow++;
    else if (alg == KH_MD5)
        c->stats->hash_md5++;
    else if (alg == KH_SHA1)
        c->stats->hash_sha1++;
    else
        c->stats->hash_sha256++;
    return 0;
}

static int ndb_line(kh_dbctx *c, const char *line, size_t n, unsigned ln, uint64_t *unsup_target,
                    uint64_t *unsup_offset, uint64_t *unsup_macho)
{
    field f[7];
    size_t nf = kh_clamav_split(line, n, f, 6);
    if (nf < 4 || nf > 6) {
        diagf(c, KH_DIAG_ERROR, ln, 0,
              "expected NAME:TARGETTYPE:OFFSET:HEXSIGNATURE[:MINFL[:MAXFL]], found %zu field%s",
              nf > 6 ? (size_t)7 : nf, nf == 1 ? "" : "s");
        return KH_ESYNTAX;
    }
    if (!check_name(&f[0])) {
        diagf(c, KH_DIAG_ERROR, ln, 1, "signature name is empty, too long or has control characters");
        return KH_ESYNTAX;
    }
    uint64_t target;
    if (kh_parse_u64(f[1].s, f[1].n, &target) || target > 14) {
        diagf(c, KH_DIAG_ERROR, ln, f[1].col + 1, "target type must be a number from 0 to 14");
        return KH_ESYNTAX;
    }
    kh_coff co;
    int orc = kh_cav_offset_parse(f[2].s, f[2].n, &co);
    if (orc == KH_ESYNTAX) {
        diagf(c, KH_DIAG_ERROR, ln, f[2].col + 1,
              "offset must be '*', 'n', 'n,m', 'EOF-n', 'EP+n', 'EP-n', 'Sx+n', 'SL+n', 'SEx' or 'VI'");
        return KH_ESYNTAX;
    }
    int pe_off = orc == 0 && co.kind >= KH_COFF_EP;
    if (pe_off && target != 1 && target != 6 && target != 9) {
        diagf(c, KH_DIAG_ERROR, ln, f[2].col + 1,
              "entry-point and section offsets need target type 1 (PE), 6 (ELF) or 9 (Mach-O)");
        return KH_ESYNTAX;
    }
    /* The hex is checked even when the signature will not be used, so that
     * malformed lines are always reported. */
    size_t mark_nodes = c->b->nodes.n, mark_kids = c->b->kids.n, mark_bytes = c->b->bytes.len;
    uint32_t root;
    size_t epos;
    const char *emsg;
    int rc = kh_clamav_hex_parse(c->b, f[3].s, f[3].n, &root, &epos, &emsg);
    if (rc == KH_ESYNTAX) {
        diagf(c, KH_DIAG_ERROR, ln, f[3].col + epos + 1, "bad hex signature: %s", emsg);
        c->b->nodes.n = mark_nodes, c->b->kids.n = mark_kids, c->b->bytes.len = mark_bytes;
        return KH_ESYNTAX;
    }
    if (rc)
        return rc;
    int bad;
    int keep = 1;
    int fl_ok = flevel_ok(f, nf, 4, &bad);
    if (bad) {
        diagf(c, KH_DIAG_ERROR, ln, f[3 + bad].col + 1, "functionality level must be a number");
        rc = KH_ESYNTAX;
        keep = 0;
    } else if (!fl_ok) {
        c->stats->flevel_skipped++;
        keep = 0;
    } else if (kh_clamav_ignored(c, f[0].s, f[0].n, line, n)) {
        c->stats->ignored++;
        keep = 0;
    } else if (!kh_cav_target_ok(target)) {
        (*unsup_target)++;
        c->stats->unsupported++;
        c->stats->unsup_target++;
        keep = 0;
    } else if (pe_off && target == 9) {
        (*unsup_macho)++;
        c->stats->unsupported++;
        keep = 0;
    } else if (orc == KH_EUNSUPPORTED) {
        c->stats->unsup_offset++;
        (*unsup_offset)++;
        c->stats->unsupported++;
        keep = 0;
    }
    if (!keep) {
        c->b->nodes.n = mark_nodes, c->b->kids.n = mark_kids, c->b->bytes.len = mark_bytes;
        return rc;
    }
    uint32_t sig;
    if (target != 0 || pe_off) {
        /* needs the file type or its entry point and sections: a logical signature of one part */
        if ((rc = add_sig(c, &f[0], KH_DET_BODY, UINT32_MAX, ln, &sig)) ||
            (rc = kh_ldb_from_ndb(c, sig, root, (uint8_t)target, &co)))
            return rc;
        c->stats->body++;
        return 0;
    }
    if ((rc = KH_VEC_RESERVE(c->b->pats, 1, UINT32_MAX)))
        return rc;
    if ((rc = add_sig(c, &f[0], KH_DET_BODY, (uint32_t)c->b->pats.n, ln, &sig)))
        return rc;
    kh_pat *p = &c->b->pats.v[c->b->pats.n++];
    memset(p, 0, sizeof(*p));
    p->root = root;
    p->sig = sig;
    p->offkind = co.kind == KH_COFF_ABS ? KH_OFF_ABS : co.kind == KH_COFF_EOF ? KH_OFF_EOF : KH_OFF_ANY;
    p->off = (uint64_t)co.off;
    p->shift = co.shift;
    kh_ir_lengths(c->b->nodes.v, c->b->kids.v, root, &p->minlen, &p->maxlen);
    c->stats->body++;
    return 0;
}

const char *kh_clamav_later_reason(const char *ext)
{
    if (!strcmp(ext, "cbc"))
        return "bytecode signatures are not supported";
    if (!strcmp(ext, "pdb") || !strcmp(ext, "gdb") || !strcmp(ext, "wdb"))
        return "phishing and URL databases are not supported (Khiên does not check links in mail or HTML)";
    if (!strcmp(ext, "idb"))
        return "icon signatures are not supported";
    if (!strcmp(ext, "crb"))
        return "certificate trust and block lists are not supported";
    return "this format is not supported yet";
}

int kh_clamav_load(kh_dbctx *c, kh_dbkind kind, const char *ext, const char *text, size_t len)
{
    uint64_t unsup_target = 0, unsup_offset = 0, later = 0, bad = 0, unsup[KH_UNS_N] = {0}, inert = 0;
    uint64_t ftm_other0 = c->stats->ftm_other;
    unsigned ln = 0;
    size_t i = 0;
    int rc = 0;
    c->stats->databases++;
    while (i < len) {
        const char *line = text + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t n = nl ? (size_t)(nl - line) : len - i;
        i += n + (nl ? 1 : 0);
        ln++;
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        if (n == 0 || line[0] == '#')
            continue;
        if (memchr(line, 0, n)) {
            diagf(c, KH_DIAG_ERROR, ln, (size_t)((const char *)memchr(line, 0, n) - line) + 1,
                  "NUL byte in database text");
            rc = KH_ESYNTAX;
        } else {
            switch (kind) {
            case KH_DB_HDB:
                rc = hash_line(c, 0, line, n, ln);
                break;
            case KH_DB_FP:
                rc = hash_line(c, 1, line, n, ln);
                break;
            case KH_DB_NDB:
                rc = ndb_line(c, line, n, ln, &unsup_target, &unsup_offset, &unsup[KH_UNS_MACHO]);
                break;
            case KH_DB_LDB:
                rc = kh_ldb_line(c, line, n, ln, unsup);
                break;
            case KH_DB_MDB:
                rc = kh_mdb_line(c, 0, line, n, ln);
                break;
            case KH_DB_IMP:
                rc = kh_mdb_line(c, 1, line, n, ln);
                break;
            case KH_DB_FTM:
                rc = kh_ftm_line(c, line, n, ln, &inert);
                break;
            case KH_DB_CDB:
                rc = kh_cdb_line(c, line, n, ln);
                break;
            case KH_DB_LATER:
                later++;
                rc = 0;
                break;
            default:
                rc = 0;
            }
        }
        if (rc == KH_ESYNTAX) {
            c->stats->malformed++;
            bad++;
            if (c->flags & KH_COMPILE_STRICT)
                return KH_ESYNTAX;
            rc = 0;
        }
        if (rc)
            return rc;
    }
    if (later) {
        /* one signature per line, but a .cbc file is one bytecode signature */
        if (strcmp(ext, "cbc") == 0)
            later = 1;
        c->stats->unsupported += later;
        c->stats->unsup_format += later;
        diagf(c, KH_DIAG_WARNING, 0, 0, "%llu signature%s of the .%s format not loaded: %s", (unsigned long long)later,
              later == 1 ? "" : "s", ext, kh_clamav_later_reason(ext));
    }
    unsup_target += unsup[KH_UNS_TARGET];
    static const char *const why[KH_UNS_N] = {
        NULL, "their target description block asks for Container, Intermediates, IconGroup or HandlerType (not supported)",
        "a subsignature is a macro, a fuzzy image hash or a PCRE construct Khiên does not support",
        "a subsignature has a VI (version information) offset (not supported)",
        "they use the entry point or sections of a Mach-O file (Khiên has no Mach-O parser)"};
    for (int k = 1; k < KH_UNS_N; k++)
        if (unsup[k])
            diagf(c, KH_DIAG_WARNING, 0, 0, "%llu %ssignature%s not loaded: %s", (unsigned long long)unsup[k],
                  kind == KH_DB_LDB ? "logical " : "", unsup[k] == 1 ? "" : "s", why[k]);
    if (unsup_target)
        diagf(c, KH_DIAG_WARNING, 0, 0,
              "%llu signature%s for OLE2, HTML, mail or ASCII text files (target types 2, 3, 4, 7; or 8, 13, 14) not "
              "loaded: clamscan matches them on extracted macros, normalised HTML and text or decoded mail, which "
              "Khiên does not produce",
              (unsigned long long)unsup_target, unsup_target == 1 ? "" : "s");
    if (unsup_offset)
        diagf(c, KH_DIAG_WARNING, 0, 0,
              "%llu signature%s with version-information offsets (VI) not loaded: not supported yet",
              (unsigned long long)unsup_offset, unsup_offset == 1 ? "" : "s");
    if (inert) {
        uint64_t other = c->stats->ftm_other - ftm_other0, unused = inert - other;
        if (other)
            diagf(c, KH_DIAG_WARNING, 0, 0,
                  "%llu file type line%s give%s a type that is no target type Khiên honours (1 PE, 5 graphics, 6 ELF, "
                  "9 Mach-O, 10 PDF, 11 flash, 12 Java): such files get no target type",
                  (unsigned long long)other, other == 1 ? "" : "s", other == 1 ? "s" : "");
        if (unused)
            diagf(c, KH_DIAG_WARNING, 0, 0,
                  "%llu file type line%s without effect: partition types (magic type 4; Khiên does not read disk "
                  "images), magic types other than 0, 1 and 4, or offsets other than '*', 'n' and 'n,m'",
                  (unsigned long long)unused, unused == 1 ? "" : "s");
    }
    if (bad)
        diagf(c, KH_DIAG_WARNING, 0, 0, "%llu malformed line%s skipped", (unsigned long long)bad,
              bad == 1 ? "" : "s");
    return 0;
}

int kh_clamav_ign_collect(kh_dbctx *c, const char *text, size_t len, char ***names, size_t *n, size_t *cap)
{
    size_t i = 0;
    unsigned ln = 0;
    c->stats->databases++;
    while (i < len) {
        const char *line = text + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t m = nl ? (size_t)(nl - line) : len - i;
        i += m + (nl ? 1 : 0);
        ln++;
        while (m && (line[m - 1] == '\r' || line[m - 1] == ' ' || line[m - 1] == '\t'))
            m--;
        if (m == 0 || line[0] == '#')
            continue;
        /* .ign2: "Name" or "Name:md5"; old .ign: "db:line:Name". */
        field f[4];
        size_t nf = kh_clamav_split(line, m, f, 3);
        const field *name = nf == 3 ? &f[2] : &f[0];
        if (nf > 3 || !check_name(name)) {
            diagf(c, KH_DIAG_ERROR, ln, 1, "expected a signature name");
            c->stats->malformed++;
            if (c->flags & KH_COMPILE_STRICT)
                return KH_ESYNTAX;
            continue;
        }
        int rc = kh_grow((void **)names, cap, *n + 1, sizeof(char *), 0);
        if (rc)
            return rc;
        /* "Name:md5": only the database line with that MD5 (kept as "Name:md5") */
        size_t keep = name->n;
        if (nf == 2 && f[1].n == 32) {
            int hex = 1;
            for (size_t k = 0; k < 32; k++)
                hex &= kh_hexval((unsigned char)f[1].s[k]) >= 0;
            if (hex)
                keep = name->n + 33;
        }
        if (!((*names)[*n] = kh_strndup(name->s, keep)))
            return KH_ENOMEM;
        for (size_t k = name->n + 1; k < keep; k++)
            (*names)[*n][k] = (char)tolower((unsigned char)(*names)[*n][k]);
        (*n)++;
    }
    return 0;
}
