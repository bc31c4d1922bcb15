/* Khiên — engine/clamav: file type magic (.ftm) and container metadata (.cdb).
 *
 *   .ftm   MagicType:Offset:MagicBytes:Name:RequiredType:ResultType[:MinFL[:MaxFL]]
 *   .cdb   VirusName:ContainerType:ContainerSize:FileNameREGEX:FileSizeInContainer:
 *          FileSizeReal:IsEncrypted:FilePos:Res1:Res2[:MinFL[:MaxFL]]
 *
 * .ftm lines type files the way clamscan 1.4 does (measured with Debian's
 * clamscan, docs/SIGNATURES.md): magic type 0 compares fixed bytes at an
 * offset of the first 1024 bytes, the last line loaded first; magic type 1
 * looks for a hex signature inside an offset range of those bytes when the
 * file is text or binary data so far (the result with the largest ClamAV
 * type code wins, RequiredType must be the current type or CL_TYPE_ANY).
 * As in clamscan, a set with one line of magic type 0 replaces the built-in
 * typing altogether (clamscan's own magic list is only used when no .ftm
 * database was loaded). The result changes the target type of .ndb/.ldb
 * signatures when it is one Khiên honours (1 PE, 5 graphics, 6 ELF, 9
 * Mach-O, 10 PDF, 11 flash, 12 Java); other results make the file "no
 * target type". Magic type 4 (partition types) and other magic types have
 * no effect and are counted so.
 *
 * .cdb lines are matched against the metadata of each archive member
 * (archive.c fills kh_cav_meta from libarchive and the zip central
 * directory): container type, container size, the file name regex (POSIX
 * extended, run by the Pike VM as an unanchored search), compressed and
 * real size, encryption, position. A range "n-m" with 0 as a bound is open
 * on that side, as in clamscan. Res1 and Res2 are read and ignored
 * (clamscan 1.4 ignores them too: measured).
 */
#include "engine/clamav/cav.h"
#include "engine/rules_int.h"
#include "engine/yara/ybuild.h"

#include <stdlib.h>

#define diagf kh_clamav_diagf

/* CL_TYPE_* names (without the prefix) and their codes in clamscan 1.4, sorted. */
static const struct {
    const char *name;
    uint16_t code;
} types[] = {
    {"7Z", 541}, {"7ZSFX", 565}, {"ALZ", 584}, {"ANY", 0}, {"APM", 575}, {"ARJ", 520}, {"ARJSFX", 567},
    {"AUTOIT", 570}, {"BINARY_DATA", 504}, {"BINHEX", 533}, {"BZ", 518}, {"CABSFX", 566}, {"CPIO_CRC", 515},
    {"CPIO_NEWC", 514}, {"CPIO_ODC", 513}, {"CPIO_OLD", 512}, {"CRYPTFF", 535}, {"DMG", 573}, {"EGG", 553},
    {"EGGSFX", 568}, {"ELF", 507}, {"GIF", 528}, {"GPT", 574}, {"GRAPHICS", 527}, {"GZ", 516}, {"HTML", 560},
    {"HTML_UTF16", 539}, {"HWP3", 550}, {"HWPOLE2", 580}, {"IGNORED", 586}, {"INTERNAL", 549},
    {"ISHIELD_MSI", 571}, {"ISO9660", 572}, {"JAVA", 543}, {"JPEG", 530}, {"LHA_LZH", 556}, {"LNK", 582},
    {"MACHO", 508}, {"MACHO_UNIBIN", 509}, {"MAIL", 561}, {"MBR", 559}, {"MHTML", 581}, {"MSCAB", 523},
    {"MSCHM", 524}, {"MSEXE", 506}, {"MSOLE2", 522}, {"MSSZDD", 521}, {"NULSFT", 569}, {"OLD_TAR", 511},
    {"ONENOTE", 554}, {"OOXML_HWP", 551}, {"OOXML_PPT", 547}, {"OOXML_WORD", 546}, {"OOXML_XL", 548},
    {"PART_ANY", 557}, {"PART_HFSPLUS", 558}, {"PDF", 536}, {"PNG", 529}, {"POSIX_TAR", 510}, {"PS", 552},
    {"PYTHON_COMPILED", 555}, {"RAR", 519}, {"RARSFX", 564}, {"RIFF", 532}, {"RTF", 540}, {"SCRENC", 526},
    {"SCRIPT", 538}, {"SFX", 562}, {"SIS", 525}, {"SWF", 542}, {"TEXT_ASCII", 500}, {"TEXT_UTF16BE", 503},
    {"TEXT_UTF16LE", 502}, {"TEXT_UTF8", 501}, {"TIFF", 531}, {"TNEF", 534}, {"UDF", 583},
    {"UUENCODED", 537}, {"XAR", 544}, {"XDP", 576}, {"XML_HWP", 579}, {"XML_WORD", 577}, {"XML_XL", 578},
    {"XZ", 545}, {"ZIP", 517}, {"ZIPSFX", 563},
};

int kh_cav_type_code(const char *s, size_t n)
{
    if (n <= 8 || memcmp(s, "CL_TYPE_", 8) != 0)
        return -1;
    s += 8, n -= 8;
    size_t lo = 0, hi = KH_ARRAY_LEN(types);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(types[mid].name, s, n);
        if (c == 0 && types[mid].name[n])
            c = 1;
        if (c == 0)
            return types[mid].code;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const char *kh_cav_type_name(unsigned code)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(types); i++)
        if (types[i].code == code)
            return types[i].name;
    return "?";
}

/* The target type a ClamAV result type gives (0: none). */
static uint8_t target_of(unsigned code)
{
    switch (code) {
    case 506: return 1;                                        /* MSEXE */
    case 507: return 6;                                        /* ELF */
    case 508: case 509: return 9;                              /* MACHO, MACHO_UNIBIN */
    case 527: case 528: case 529: case 530: case 531: return 5; /* GRAPHICS GIF PNG JPEG TIFF */
    case 536: return 10;                                       /* PDF */
    case 542: return 11;                                       /* SWF */
    case 543: return 12;                                       /* JAVA */
    default: return 0;
    }
}

typedef kh_cfield fld;

static int is_num(const fld *f, uint64_t *v) { return f->n && !kh_parse_u64(f->s, f->n, v); }

/* MinFL/MaxFL at f[first], f[first + 1]: 1 loaded, 0 outside our level, KH_ESYNTAX reported. */
static int flevel(kh_dbctx *c, const fld *f, size_t nf, size_t first, unsigned ln)
{
    uint64_t lo = 0, hi = UINT64_MAX;
    for (size_t k = first; k < nf && k < first + 2; k++)
        if (!is_num(&f[k], k == first ? &lo : &hi)) {
            diagf(c, KH_DIAG_ERROR, ln, f[k].col + 1, "functionality level must be a number");
            return KH_ESYNTAX;
        }
    return lo <= KH_CLAMAV_FLEVEL && KH_CLAMAV_FLEVEL <= hi;
}

static int type_field(kh_dbctx *c, const fld *f, unsigned ln, const char *what, uint16_t *out)
{
    int t = kh_cav_type_code(f->s, f->n);
    if (t < 0) {
        diagf(c, KH_DIAG_ERROR, ln, f->col + 1, "%s must be a CL_TYPE_* name ClamAV knows, not '%.*s'", what,
              (int)(f->n > 40 ? 40 : f->n), f->s);
        return KH_ESYNTAX;
    }
    *out = (uint16_t)t;
    return 0;
}

/* ---- .ftm --------------------------------------------------------------------------------- */

int kh_ftm_line(kh_dbctx *c, const char *line, size_t n, unsigned ln, uint64_t *inert)
{
    fld f[9];
    size_t nf = kh_clamav_split(line, n, f, 8);
    if (nf < 6 || nf > 8) {
        diagf(c, KH_DIAG_ERROR, ln, 0,
              "expected MAGICTYPE:OFFSET:MAGICBYTES:NAME:RTYPE:TYPE[:MINFL[:MAXFL]], found %zu field%s",
              nf > 8 ? (size_t)9 : nf, nf == 1 ? "" : "s");
        return KH_ESYNTAX;
    }
    uint64_t mt;
    if (!is_num(&f[0], &mt)) {
        diagf(c, KH_DIAG_ERROR, ln, 1, "magic type must be a number (0 fixed bytes, 1 body match, 4 partition)");
        return KH_ESYNTAX;
    }
    int fl = flevel(c, f, nf, 6, ln);
    if (fl < 0)
        return fl;
    kh_ftm e;
    memset(&e, 0, sizeof(e));
    int rc;
    if ((rc = type_field(c, &f[4], ln, "required type", &e.rtype)) || (rc = type_field(c, &f[5], ln, "result type", &e.ctype)))
        return rc;
    if (!fl) {
        c->stats->flevel_skipped++;
        return 0;
    }
    e.line = ln;
    e.magic = (uint8_t)mt;
    e.target = target_of(e.ctype);
    if (mt != 0 && mt != 1 && mt != 4) {
        /* clamscan 1.4 skips them as well ("unsupported mode") */
        (*inert)++;
        c->stats->ftm_unused++;
        return 0;
    }
    size_t mark_nodes = c->b->nodes.n, mark_kids = c->b->kids.n, mark_bytes = c->b->bytes.len;
    if (mt != 1) {
        uint64_t off;
        if (!is_num(&f[1], &off) || off > UINT32_MAX) {
            diagf(c, KH_DIAG_ERROR, ln, f[1].col + 1, "offset of magic type %u must be a number", (unsigned)mt);
            return KH_ESYNTAX;
        }
        if (f[2].n % 2) {
            diagf(c, KH_DIAG_ERROR, ln, f[2].col + 1, "magic bytes must be an even number of hex digits");
            return KH_ESYNTAX;
        }
        for (size_t i = 0; i < f[2].n; i++)
            if (kh_hexval((unsigned char)f[2].s[i]) < 0) {
                diagf(c, KH_DIAG_ERROR, ln, f[2].col + i + 1, "invalid hex digit '%c' in magic bytes", f[2].s[i]);
                return KH_ESYNTAX;
            }
        if (mt == 4) {
            (*inert)++;
            c->stats->ftm_unused++;
            return 0;
        }
        e.off.kind = KH_COFF_ABS;
        e.off.off = (int64_t)off;
        e.root = UINT32_MAX; /* empty magic: matches every file (as clamscan) */
        if (f[2].n) {
            size_t epos;
            const char *emsg;
            if ((rc = kh_clamav_hex_parse(c->b, f[2].s, f[2].n, &e.root, &epos, &emsg)))
                return rc == KH_ESYNTAX ? KH_EINTERNAL : rc;
        }
    } else {
        int orc = kh_cav_offset_parse(f[1].s, f[1].n, &e.off);
        if (orc == KH_ESYNTAX) {
            diagf(c, KH_DIAG_ERROR, ln, f[1].col + 1, "offset must be '*', 'n' or 'n,m'");
            return KH_ESYNTAX;
        }
        size_t epos;
        const char *emsg;
        rc = kh_clamav_hex_parse(c->b, f[2].s, f[2].n, &e.root, &epos, &emsg);
        if (rc == KH_ESYNTAX) {
            diagf(c, KH_DIAG_ERROR, ln, f[2].col + epos + 1, "bad hex signature: %s", emsg);
            c->b->nodes.n = mark_nodes, c->b->kids.n = mark_kids, c->b->bytes.len = mark_bytes;
            return KH_ESYNTAX;
        }
        if (rc)
            return rc;
        if (orc != 0 || (e.off.kind != KH_COFF_ANY && e.off.kind != KH_COFF_ABS)) {
            /* EOF-n, EP, sections: not meaningful for the first bytes of a file */
            c->b->nodes.n = mark_nodes, c->b->kids.n = mark_kids, c->b->bytes.len = mark_bytes;
            (*inert)++;
            c->stats->ftm_unused++;
            return 0;
        }
    }
    if ((rc = KH_VEC_RESERVE(c->cav->ftms, 1, 1u << 20)))
        return rc;
    c->cav->ftms.v[c->cav->ftms.n++] = e;
    if (e.target)
        c->stats->ftm_types++;
    else {
        (*inert)++;
        c->stats->ftm_other++;
    }
    return 0;
}

/* A byte that never appears in text (clamscan's text classes, after file(1)):
 * NUL to ACK, VT, SO to SUB, FS to US and DEL. */
static int never_text(unsigned c) { return c < 7 || c == 11 || (c > 13 && c < 27) || (c > 27 && c < 32) || c == 127; }

/* The type clamscan gives data no magic recognised (measured and read from
 * its documented behaviour): ASCII text if no byte is a never-text byte;
 * else UTF-16 when, from the third byte on, every 16-bit unit below 128 is
 * a text character (big-endian unless a byte-order mark says otherwise;
 * with a mark, fewer than half may be bad; the unit FFFE never); else
 * binary data. (UTF-8 can never be reached: it would be ASCII already.) */
static unsigned text_type(const uint8_t *d, size_t n)
{
    size_t i;
    for (i = 0; i < n && !never_text(d[i]); i++)
        ;
    if (i == n)
        return KH_CT_TEXT_ASCII;
    if (n < 2)
        return KH_CT_BINARY_DATA;
    int le = d[0] == 0xff && d[1] == 0xfe, bom = le || (d[0] == 0xfe && d[1] == 0xff);
    size_t bad = 0;
    for (i = 2; i + 1 < n; i += 2) {
        unsigned c = le ? d[i] + 256u * d[i + 1] : d[i + 1] + 256u * d[i];
        if (c == 0xfffe)
            return KH_CT_BINARY_DATA;
        if (c < 128 && never_text(c)) {
            if (!bom)
                return KH_CT_BINARY_DATA;
            bad++;
        }
    }
    if (bom && bad >= n / 2)
        return KH_CT_BINARY_DATA;
    return le ? 502u : 503u; /* TEXT_UTF16LE, TEXT_UTF16BE */
}

static int ftm_match(const struct kh_rules *r, kh_confirm *cx, kh_pset *set, const kh_ftm *e, const uint8_t *buf,
                     size_t win)
{
    uint64_t lo = 0, hi = win;
    if (e->off.kind == KH_COFF_ABS) {
        lo = (uint64_t)e->off.off;
        hi = lo + e->off.shift;
    }
    if (lo > win)
        return 0;
    if (e->root == UINT32_MAX)
        return 1;
    uint64_t st;
    kh_pset_clear(set);
    return kh_pset_add(set, lo, hi < win ? hi : win) == 0 && kh_confirm_first(cx, r, e->root, buf, win, set, &st) == 0;
}

unsigned kh_ftm_type(const struct kh_rules *r, kh_confirm *cx, const uint8_t *buf, size_t len, unsigned builtin)
{
    const kh_cav *cv = r->cav;
    size_t win = len < KH_FTM_WINDOW ? len : KH_FTM_WINDOW;
    unsigned cur = 0, tgt = 0;
    int found = 0;
    kh_pset set = {0};
    if (cv->ftm_replace) {
        for (uint32_t i = cv->nftms; i-- > 0 && !found;) {
            const kh_ftm *e = &cv->ftms[i];
            if (e->magic == 0 && ftm_match(r, cx, &set, e, buf, win))
                cur = e->ctype, tgt = e->target, found = 1;
        }
        if (!found)
            cur = text_type(buf, win);
    } else {
        if (builtin != 0) {
            kh_pset_free(&set);
            return KH_FTM_BUILTIN; /* a type of the built-in magic: magic type 1 does not apply */
        }
        cur = text_type(buf, win);
    }
    if (cur >= KH_CT_TEXT_ASCII && cur <= KH_CT_BINARY_DATA) {
        unsigned best = 0;
        for (uint32_t i = 0; i < cv->nftms; i++) {
            const kh_ftm *e = &cv->ftms[i];
            if (e->magic == 1 && e->ctype > best && (e->rtype == 0 || e->rtype == cur) &&
                ftm_match(r, cx, &set, e, buf, win))
                best = e->ctype, tgt = e->target;
        }
        if (!best)
            tgt = cv->ftm_replace ? 0 : KH_FTM_BUILTIN;
    }
    kh_pset_free(&set);
    return tgt;
}

/* ---- .cdb --------------------------------------------------------------------------------- */

/* '*', 'n' or 'n-m' (digits only, as clamscan 1.4). */
static int range(kh_dbctx *c, const fld *f, unsigned ln, const char *what, uint64_t out[2])
{
    if (f->n == 1 && f->s[0] == '*') {
        out[0] = out[1] = KH_CDB_ANY;
        return 0;
    }
    const char *dash = memchr(f->s, '-', f->n);
    fld a = *f, b = *f;
    if (dash) {
        a.n = (size_t)(dash - f->s);
        b.s = dash + 1;
        b.n = f->n - a.n - 1;
    }
    if (!is_num(&a, &out[0]) || !is_num(&b, &out[1]) || out[0] == KH_CDB_ANY) {
        diagf(c, KH_DIAG_ERROR, ln, f->col + 1, "%s must be '*', a number or a range 'n-m', not '%.*s'", what,
              (int)(f->n > 40 ? 40 : f->n), f->s);
        return KH_ESYNTAX;
    }
    return 0;
}

/* POSIX extended regular expression -> the regex reader's syntax (YARA's):
 * outside brackets, a backslash before a letter or digit is that character
 * (clamscan's regex: `\d` is "d", `\w` is "w") and a brace not followed by a
 * digit is a brace ("a{,3}"); inside brackets a backslash is itself. out has
 * room for 2n bytes; returns the length. */
static size_t ere_rewrite(const char *re, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = re[i];
        if (ch == '\\' && i + 1 < n) {
            unsigned char nx = (unsigned char)re[i + 1];
            if ((nx >= '0' && nx <= '9') || (nx >= 'a' && nx <= 'z') || (nx >= 'A' && nx <= 'Z'))
                out[o++] = (char)nx;
            else
                out[o++] = '\\', out[o++] = (char)nx;
            i++;
        } else if (ch == '{' && !(i + 1 < n && re[i + 1] >= '0' && re[i + 1] <= '9')) {
            out[o++] = '\\', out[o++] = ch; /* "{,3}": no repetition for clamscan's regex */
        } else if (ch == '[') {
            out[o++] = ch;
            size_t j = i + 1;
            if (j < n && re[j] == '^')
                out[o++] = re[j++];
            if (j < n && re[j] == ']')
                out[o++] = '\\', out[o++] = re[j++];
            for (; j < n && re[j] != ']'; j++) {
                if (re[j] == '\\')
                    out[o++] = '\\';
                out[o++] = re[j];
            }
            i = j < n ? j - 1 : n - 1;
            if (j >= n)
                break;
        } else {
            out[o++] = ch;
        }
    }
    return o;
}

int kh_cdb_line(kh_dbctx *c, const char *line, size_t n, unsigned ln)
{
    fld f[13];
    size_t nf = kh_clamav_split(line, n, f, 12);
    if (nf < 10 || nf > 12) {
        diagf(c, KH_DIAG_ERROR, ln, 0,
              "expected NAME:CONTAINERTYPE:CONTAINERSIZE:FILENAMEREGEX:FILESIZEINCONTAINER:FILESIZEREAL:"
              "ISENCRYPTED:FILEPOS:RES1:RES2[:MINFL[:MAXFL]], found %zu field%s",
              nf > 12 ? (size_t)13 : nf, nf == 1 ? "" : "s");
        return KH_ESYNTAX;
    }
    int fl = flevel(c, f, nf, 10, ln);
    if (fl < 0)
        return fl;
    if (!kh_clamav_check_name(f[0].s, f[0].n)) {
        diagf(c, KH_DIAG_ERROR, ln, 1, "signature name is empty, too long or has control characters");
        return KH_ESYNTAX;
    }
    kh_cdb e;
    memset(&e, 0, sizeof(e));
    int rc;
    if (!(f[1].n == 1 && f[1].s[0] == '*') && (rc = type_field(c, &f[1], ln, "container type", &e.ctype)))
        return rc;
    if ((rc = range(c, &f[2], ln, "container size", e.csize)) ||
        (rc = range(c, &f[4], ln, "file size in container", e.fsizec)) ||
        (rc = range(c, &f[5], ln, "real file size", e.fsizer)) || (rc = range(c, &f[7], ln, "file position", e.filepos)))
        return rc;
    if (f[6].n == 1 && (f[6].s[0] == '*' || f[6].s[0] == '0' || f[6].s[0] == '1')) {
        e.enc = f[6].s[0] == '*' ? 2 : (uint8_t)(f[6].s[0] - '0');
    } else {
        diagf(c, KH_DIAG_ERROR, ln, f[6].col + 1, "encryption flag must be 0, 1 or '*'");
        return KH_ESYNTAX;
    }
    size_t mark_nodes = c->b->nodes.n, mark_kids = c->b->kids.n, mark_bytes = c->b->bytes.len;
    e.re = UINT32_MAX;
    if (!(f[3].n == 1 && f[3].s[0] == '*')) {
        const char *err = NULL;
        size_t epos = 0;
        int greedy = 0;
        char *yre = malloc(2 * f[3].n + 1);
        if (!yre)
            return KH_ENOMEM;
        size_t yn = ere_rewrite(f[3].s, f[3].n, yre);
        rc = f[3].n ? kh_yre_parse(c->b, yre, yn, 0, &e.re, &greedy, &err, &epos) : KH_ESYNTAX;
        free(yre);
        if (epos > f[3].n)
            epos = 0;
        if (rc == KH_ESYNTAX) {
            diagf(c, KH_DIAG_ERROR, ln, f[3].col + epos + 1, "file name regular expression: %s",
                  err ? err : "empty");
            c->b->nodes.n = mark_nodes, c->b->kids.n = mark_kids, c->b->bytes.len = mark_bytes;
            return KH_ESYNTAX;
        }
        if (rc)
            return rc;
    }
    int keep = 1;
    if (!fl) {
        c->stats->flevel_skipped++;
        keep = 0;
    } else if (kh_clamav_ignored(c, f[0].s, f[0].n, line, n)) {
        c->stats->ignored++;
        keep = 0;
    }
    if (!keep) {
        c->b->nodes.n = mark_nodes, c->b->kids.n = mark_kids, c->b->bytes.len = mark_bytes;
        return 0;
    }
    if ((rc = KH_VEC_RESERVE(c->cav->cdbs, 1, 1u << 22)) ||
        (rc = kh_clamav_add_sig(c, f[0].s, f[0].n, KH_DET_META, UINT32_MAX, ln, &e.sig)))
        return rc;
    c->cav->cdbs.v[c->cav->cdbs.n++] = e;
    c->stats->container_meta++;
    return 0;
}

int kh_cdb_name_match(const struct kh_rules *r, kh_pike_prog *prog, kh_pike_vm *vm, const char *name)
{
    (void)r;
    size_t n = strlen(name);
    uint8_t fb[32];
    int useful = kh_pike_first(prog, fb);
    const uint8_t *b = (const uint8_t *)name;
    for (size_t p = 0; p <= n; p++) {
        if (useful && (p >= n || !((fb[b[p] >> 3] >> (b[p] & 7)) & 1)))
            continue;
        int64_t m = kh_pike_match(vm, prog, b, n, p, n - p);
        if (m < -1)
            return KH_ENOMEM;
        if (m >= 0)
            return 1;
    }
    return 0;
}
