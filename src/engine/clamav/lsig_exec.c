/* Khiên — engine/clamav: evaluating logical and PE-hash signatures on one object.
 *
 * After the matcher has run over an object, the scanner hands its hits
 * here. Only logical signatures one of whose subsignatures was reported
 * are looked at (plus the few whose expression holds with no match at all,
 * such as `0=0`), so the cost follows what was found, not the size of the
 * database. For each:
 *   1. the target description block: file type (PE from "MZ" and valid
 *      headers, ELF from its magic and headers; graphics, Mach-O, PDF,
 *      flash and Java class from their magic, by clamscan 1.4's rules,
 *      measured: see file_type()), file size, entry point, number of
 *      sections, "not inside a container";
 *   2. the count of every hex subsignature: the distinct start positions
 *      where its tree matches (confirm.c) inside the start range of its
 *      offset, which may come from the entry point or a section
 *      (formats/pe.c, formats/elf.c); counting stops at the signature's cap,
 *      the largest number its expression compares with plus one;
 *   3. byte comparisons, then PCREs (Pike VM) whose trigger holds;
 *   4. the expression, with clamscan's counting rules (cav.h, ldb.c).
 * Section hashes (.mdb .msb) hash each section's raw bytes of a PE file
 * with the algorithms the tables use; import hashes (.imp) hash the
 * imphash string of the import table.
 */
#include "engine/clamav/cav.h"
#include "engine/digest.h"
#include "engine/pike.h"
#include "engine/rules_int.h"
#include "formats/elf.h"
#include "formats/pe.h"

#include <stdlib.h>

#define MAX_SECT 96u

struct kh_cavscan {
    const struct kh_rules *r;
    const kh_cav *cv;
    uint8_t *hit;       /* per lsub: reported by the matcher */
    uint32_t *touched;  /* lsubs marked in hit */
    uint32_t ntouched;
    uint32_t *cand;     /* candidate lsigs */
    uint8_t *cmark;
    uint32_t ncand;
    uint32_t *always;   /* lsigs true without any match */
    uint32_t nalways;
    kh_pike_prog **prog; /* per lsub (PCRE), compiled on first use */
    kh_pike_vm *vm;
    kh_pset set;
    kh_pike_prog **cdbprog; /* per .cdb line with a name regex, compiled on first use */
    kh_confirm *cx;        /* of the current object (for .ftm magic) */
    /* the current object */
    const uint8_t *buf;
    size_t len;
    int info;           /* 0 not computed, 1 computed */
    uint8_t ftype;      /* a target type: 0 other, 1 PE, 5, 6 ELF, 9-12 (kh_cav_target_ok) */
    int64_t ep;         /* -1 unknown */
    uint32_t nsect;
    struct {
        uint64_t raw, rsz;
    } sect[MAX_SECT];
    uint32_t nsect_total; /* as in the header (may exceed MAX_SECT) */
};

/* ---- Expressions ----------------------------------------------------------------- */

/* clamscan's evaluation: returns truth, adds to *cnt and *ids. */
static int xeval(const kh_cav *cv, uint32_t e, const uint32_t *cnt, uint64_t *acc, uint64_t *ids, unsigned depth)
{
    const kh_lexpr *x = &cv->lexprs[e];
    if (depth > KH_LSIG_MAX_DEPTH + 2)
        return 0;
    if (x->op == KH_LX_LEAF) {
        uint32_t val = cnt[x->a];
        if (x->mod) {
            if ((x->mod == '=' && val != x->v1) || (x->mod == '<' && val >= x->v1) || (x->mod == '>' && val <= x->v1))
                return 0;
        } else if (!val) {
            return 0;
        }
        *acc += val;
        *ids |= 1ull << x->a;
        return 1;
    }
    uint64_t lc = 0, rc = 0, li = 0, ri = 0;
    int l = xeval(cv, x->a, cnt, &lc, &li, depth + 1);
    int r = xeval(cv, x->b, cnt, &rc, &ri, depth + 1);
    int ret = x->op == KH_LX_AND ? (l && r) : (l || r);
    if (!x->mod) {
        if (ret) {
            *acc += lc + rc;
            *ids |= li | ri;
        }
        return ret;
    }
    uint64_t t = ret ? lc + rc : 0, tids = ret ? li | ri : 0;
    if ((x->mod == '=' && t != x->v1) || (x->mod == '<' && t >= x->v1) || (x->mod == '>' && t <= x->v1))
        return 0;
    if (x->v2 && (uint32_t)__builtin_popcountll(tids) < x->v2)
        return 0;
    *acc += t;
    return 1;
}

static int expr_true(const kh_cav *cv, uint32_t e, const uint32_t *cnt)
{
    uint64_t acc = 0, ids = 0;
    return xeval(cv, e, cnt, &acc, &ids, 0);
}

/* ---- Setup --------------------------------------------------------------------------- */

int kh_cavscan_create(kh_cavscan **out, const struct kh_rules *r)
{
    kh_cavscan *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return KH_ENOMEM;
    cs->r = r;
    cs->cv = r->cav;
    const kh_cav *cv = r->cav;
    size_t ns = cv->nlsubs ? cv->nlsubs : 1, nl = cv->nlsigs ? cv->nlsigs : 1;
    cs->hit = calloc(ns, 1);
    cs->touched = calloc(ns, sizeof(uint32_t));
    cs->prog = calloc(ns, sizeof(kh_pike_prog *));
    cs->cand = calloc(nl, sizeof(uint32_t));
    cs->cmark = calloc(nl, 1);
    cs->always = calloc(nl, sizeof(uint32_t));
    cs->cdbprog = calloc(cv->ncdbs ? cv->ncdbs : 1, sizeof(kh_pike_prog *));
    int rc = (!cs->hit || !cs->touched || !cs->prog || !cs->cand || !cs->cmark || !cs->always || !cs->cdbprog)
                 ? KH_ENOMEM
                 : kh_pike_vm_create(&cs->vm);
    if (rc) {
        kh_cavscan_destroy(cs);
        return rc;
    }
    /* signatures whose expression (or a PCRE trigger) holds with no match at all */
    static const uint32_t zero[KH_LSIG_MAX_SUBS];
    for (uint32_t i = 0; i < cv->nlsigs; i++) {
        const kh_lsig *l = &cv->lsigs[i];
        int always = expr_true(cv, l->expr, zero);
        for (uint32_t k = 0; k < l->nsub && !always; k++) {
            const kh_lsub *s = &cv->lsubs[l->sub + k];
            always = s->kind == KH_LS_PCRE && expr_true(cv, s->trigger, zero);
        }
        if (always)
            cs->always[cs->nalways++] = i;
    }
    *out = cs;
    return 0;
}

void kh_cavscan_destroy(kh_cavscan *cs)
{
    if (!cs)
        return;
    if (cs->prog)
        for (uint32_t i = 0; i < cs->cv->nlsubs; i++)
            kh_pike_free(cs->prog[i]);
    free(cs->prog);
    if (cs->cdbprog)
        for (uint32_t i = 0; i < cs->cv->ncdbs; i++)
            kh_pike_free(cs->cdbprog[i]);
    free(cs->cdbprog);
    kh_pike_vm_destroy(cs->vm);
    kh_pset_free(&cs->set);
    free(cs->hit);
    free(cs->touched);
    free(cs->cand);
    free(cs->cmark);
    free(cs->always);
    free(cs);
}

/* ---- File information ------------------------------------------------------------------ */

int kh_cav_target_ok(uint64_t target)
{
    return target == 0 || target == 1 || target == 5 || target == 6 || (target >= 9 && target <= 12);
}

/* The target type of a file that is neither PE nor ELF, from its first
 * bytes, as clamscan 1.4 types files for signatures (measured with one
 * signature per target type over crafted files): graphics "\x89PNG",
 * "GIF8", FF D8 FF, "BM", "II*\0", "MM\0*"; Mach-O FE ED FA CE/CF in
 * either byte order, and CA FE BA BE 00 00 00 nn with nn < 0x20 (a
 * universal binary's count of architectures); Java class CA FE BA BE
 * 00 00 00 nn with 0x20 <= nn < 0x40; flash "FWS", "CWS", "ZWS"; PDF
 * "%PDF-" anywhere in the first 1024 bytes. */
static uint8_t file_type(const uint8_t *d, size_t n)
{
    static const struct {
        uint8_t len, type;
        const char *magic;
    } tab[] = {
        {4, 5, "\x89PNG"}, {4, 5, "GIF8"}, {3, 5, "\xff\xd8\xff"}, {2, 5, "BM"}, {4, 5, "II*\0"}, {4, 5, "MM\0*"},
        {4, 9, "\xfe\xed\xfa\xce"}, {4, 9, "\xfe\xed\xfa\xcf"}, {4, 9, "\xce\xfa\xed\xfe"}, {4, 9, "\xcf\xfa\xed\xfe"},
        {3, 11, "FWS"}, {3, 11, "CWS"}, {3, 11, "ZWS"},
    };
    for (size_t i = 0; i < KH_ARRAY_LEN(tab); i++)
        if (n >= tab[i].len && memcmp(d, tab[i].magic, tab[i].len) == 0)
            return tab[i].type;
    if (n >= 8 && memcmp(d, "\xca\xfe\xba\xbe\0\0\0", 7) == 0 && d[7] < 0x40)
        return d[7] < 0x20 ? 9 : 12;
    size_t m = n < 1024 ? n : 1024;
    for (const uint8_t *p = d; m >= 5 && (p = memchr(p, '%', (size_t)(d + m - p))) != NULL && p + 5 <= d + m; p++)
        if (memcmp(p, "%PDF-", 5) == 0)
            return 10;
    return 0;
}

static void file_info(kh_cavscan *cs)
{
    if (cs->info)
        return;
    cs->info = 1;
    cs->ftype = 0;
    cs->ep = -1;
    cs->nsect = cs->nsect_total = 0;
    const uint8_t *d = cs->buf;
    size_t n = cs->len;
    /* The built-in typing, or the .ftm lines of the set (ftmcdb.c). */
    int mz = n >= 2 && d[0] == 'M' && d[1] == 'Z', elf = n >= 4 && memcmp(d, "\177ELF", 4) == 0;
    uint8_t builtin = mz || elf ? 0 : file_type(d, n); /* the other built-in types, once */
    unsigned want = KH_FTM_BUILTIN;
    if (cs->cv->nftms && cs->cx)
        want = kh_ftm_type(cs->r, cs->cx, d, n, (unsigned)(mz || elf || builtin));
    if (want == KH_FTM_BUILTIN)
        want = mz ? 1u : elf ? 6u : KH_FTM_BUILTIN;
    if (want == 1) {
        kh_pe pe;
        if (kh_pe_headers(&pe, d, n) != 0)
            return;
        cs->ftype = 1;
        /* Sections as clamscan sees them: raw offset aligned down and raw
         * size aligned up to FileAlignment (when it is a multiple of 0x200),
         * cut at the end of the file; the entry point through the section
         * whose raw size covers it (the headers below SizeOfHeaders). */
        uint64_t nt = pe.nt_offset, st = nt + 24 + pe.size_of_optional_header;
        uint32_t fa = pe.file_alignment && pe.file_alignment % 0x200 == 0 ? pe.file_alignment : 0;
        uint32_t va[MAX_SECT];
        cs->nsect_total = pe.number_of_sections;
        for (uint32_t i = 0; i < pe.number_of_sections && i < MAX_SECT; i++) {
            uint64_t o = st + 40ull * i;
            if (o + 40 > n)
                break;
            const uint8_t *h = d + o;
            uint64_t vaddr = (uint64_t)h[12] | (uint64_t)h[13] << 8 | (uint64_t)h[14] << 16 | (uint64_t)h[15] << 24;
            uint64_t rsz = (uint64_t)h[16] | (uint64_t)h[17] << 8 | (uint64_t)h[18] << 16 | (uint64_t)h[19] << 24;
            uint64_t raw = (uint64_t)h[20] | (uint64_t)h[21] << 8 | (uint64_t)h[22] << 16 | (uint64_t)h[23] << 24;
            if (fa) {
                raw = raw / fa * fa;
                rsz = (rsz + fa - 1) / fa * fa;
            }
            if (raw >= n)
                rsz = 0;
            else if (rsz > n - raw)
                rsz = n - raw;
            va[cs->nsect] = (uint32_t)vaddr;
            cs->sect[cs->nsect].raw = raw;
            cs->sect[cs->nsect].rsz = rsz;
            cs->nsect++;
        }
        uint64_t ep = pe.entry_point_raw;
        if (ep < pe.size_of_headers) {
            cs->ep = ep < n ? (int64_t)ep : -1;
        } else {
            for (uint32_t i = cs->nsect; i-- > 0;)
                if (va[i] <= ep && ep < (uint64_t)va[i] + cs->sect[i].rsz) {
                    cs->ep = (int64_t)(ep - va[i] + cs->sect[i].raw);
                    break;
                }
        }
    } else if (want == 6) {
        kh_elf e;
        if (kh_elf_parse(&e, d, n) != 0)
            return;
        cs->ftype = 6;
        uint64_t ep;
        if (kh_elf_entry_offset(&e, &ep) == 0 && ep <= INT64_MAX)
            cs->ep = (int64_t)ep;
        cs->nsect_total = e.shnum;
        for (uint32_t i = 0; i < e.shnum && cs->nsect < MAX_SECT; i++) {
            kh_elf_shdr sh;
            if (kh_elf_section(&e, i, &sh) != 0)
                break;
            cs->sect[cs->nsect].raw = sh.offset;
            cs->sect[cs->nsect].rsz = sh.size;
            cs->nsect++;
        }
    } else {
        cs->ftype = want == KH_FTM_BUILTIN ? builtin : (uint8_t)want;
    }
}

/* Start range of an offset in the current object: 0 and [*lo, *hi], or -1. */
static int offset_range(kh_cavscan *cs, const kh_coff *o, uint64_t *lo, uint64_t *hi)
{
    uint64_t len = cs->len, base;
    switch (o->kind) {
    case KH_COFF_ANY:
        *lo = 0;
        *hi = len;
        return 0;
    case KH_COFF_ABS:
        base = (uint64_t)o->off;
        break;
    case KH_COFF_EOF:
        if ((uint64_t)o->off > len)
            return -1;
        base = len - (uint64_t)o->off;
        break;
    default:
        file_info(cs);
        if (o->kind == KH_COFF_EP) {
            if (cs->ep < 0 || cs->ep + o->off < 0)
                return -1;
            base = (uint64_t)(cs->ep + o->off);
        } else {
            uint32_t x = o->kind == KH_COFF_SLAST ? (cs->nsect ? cs->nsect - 1 : UINT32_MAX) : o->sect;
            if (x >= cs->nsect)
                return -1;
            base = cs->sect[x].raw + (o->kind == KH_COFF_SENTIRE ? 0 : (uint64_t)o->off);
            if (o->kind == KH_COFF_SENTIRE) {
                *lo = base;
                *hi = base + cs->sect[x].rsz;
                if (*lo > len)
                    return -1;
                if (*hi > len)
                    *hi = len;
                return 0;
            }
        }
    }
    if (base > len)
        return -1;
    *lo = base;
    *hi = base + o->shift > len ? len : base + o->shift;
    return 0;
}

/* Is the tree cut into parts by clamscan (a `*` or a variable gap)? Then it
 * counts at most one match per object, as clamscan does in practice. */
static int multipart(const struct kh_rules *r, uint32_t root)
{
    const kh_node *n = &r->nodes[root];
    if (n->op != KH_OP_SEQ)
        return n->op == KH_OP_GAP && (n->a != n->b || n->a >= 128);
    for (uint32_t i = 0; i < n->b; i++) {
        const kh_node *k = &r->nodes[r->kids[n->a + i]];
        if (k->op == KH_OP_GAP && (k->a != k->b || k->a >= 128))
            return 1;
    }
    return 0;
}

/* Counts the distinct starts of a hex subsignature, up to cap. */
static int count_hex(kh_cavscan *cs, const kh_lsub *s, uint32_t cap, kh_confirm *cx, uint32_t *out, int64_t *first)
{
    const struct kh_rules *r = cs->r;
    uint64_t lo, hi;
    *out = 0;
    *first = -1;
    if (!cs->hit[s - cs->cv->lsubs] || offset_range(cs, &s->off, &lo, &hi) != 0)
        return 0;
    const kh_pat *p = &r->pats[s->pat];
    if (multipart(r, p->root))
        cap = 1;
    uint32_t n = 0;
    while (n < cap && lo <= hi) {
        kh_pset_clear(&cs->set);
        int rc = kh_pset_add(&cs->set, lo, hi);
        if (rc)
            return rc;
        uint64_t st;
        rc = kh_confirm_first(cx, r, p->root, cs->buf, cs->len, &cs->set, &st);
        if (rc == KH_ENOTFOUND || rc == KH_ELIMIT)
            break;
        if (rc)
            return rc;
        if (!n)
            *first = (int64_t)st;
        n++;
        lo = st + 1;
    }
    *out = n;
    return 0;
}

/* ---- Byte compare --------------------------------------------------------------------------- */

static int bc_value(const kh_lsub *s, const uint8_t *p, size_t avail, uint64_t *v)
{
    size_t n = s->bc_len;
    if (s->bc_fmt == KH_BC_RAW) {
        if (avail < n)
            return 0;
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++)
            x |= (uint64_t)p[s->bc_le == 1 ? i : n - 1 - i] << (8 * i);
        *v = x;
        return 1;
    }
    if (avail < n) {
        if (s->bc_exact)
            return 0;
        n = avail;
    }
    int hex = s->bc_fmt == KH_BC_HEX;
    if (hex && s->bc_le == 2)
        return 0; /* clamscan never matches hex without a byte order */
    size_t i = 0;
    if (s->bc_fmt == KH_BC_AUTO && n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        hex = 1;
        i = 2;
    }
    char digits[70];
    size_t nd = 0;
    for (; i < n && nd < 64; i++) {
        int ok = hex ? kh_hexval(p[i]) >= 0 : (p[i] >= '0' && p[i] <= '9');
        if (!ok) {
            if (s->bc_exact)
                return 0;
            break;
        }
        digits[nd++] = (char)p[i];
    }
    if (!nd)
        return 0;
    if (hex && s->bc_le == 1) { /* little-endian hex text: byte pairs in reverse order */
        char t[70];
        size_t m = 0;
        for (size_t k = nd; k >= 2; k -= 2)
            t[m++] = digits[k - 2], t[m++] = digits[k - 1];
        if (nd & 1)
            t[m++] = digits[0];
        memcpy(digits, t, m);
    }
    uint64_t x = 0;
    for (size_t k = 0; k < nd; k++) {
        unsigned d = hex ? (unsigned)kh_hexval((unsigned char)digits[k]) : (unsigned)(digits[k] - '0');
        x = hex ? (x << 4) | d : x * 10 + d;
    }
    *v = x;
    return 1;
}

static int bcomp(kh_cavscan *cs, const kh_lsub *s, int64_t trig_first)
{
    if (trig_first < 0)
        return 0;
    int64_t at = trig_first + s->bc_off;
    if (at < 0 || (uint64_t)at >= cs->len)
        return 0;
    uint64_t v;
    if (!bc_value(s, cs->buf + at, cs->len - (size_t)at, &v))
        return 0;
    for (unsigned k = 0; k < s->bc_ncmp; k++) {
        uint64_t w = s->bc_val[k];
        int ok = s->bc_op[k] == '<' ? v < w : s->bc_op[k] == '>' ? v > w : v == w;
        if (!ok)
            return 0;
    }
    return 1;
}

/* ---- PCRE ------------------------------------------------------------------------------------- */

static int pcre_count(kh_cavscan *cs, const kh_lsub *s, uint32_t cap, uint32_t *out, int64_t *first)
{
    uint32_t li = (uint32_t)(s - cs->cv->lsubs);
    *out = 0;
    *first = -1;
    if (!cs->prog[li]) {
        int rc = kh_pike_compile(cs->r, s->root, &cs->prog[li]);
        if (rc)
            return rc;
    }
    const kh_pike_prog *pg = cs->prog[li];
    uint64_t lo = 0, hi = cs->len, end = cs->len;
    if (s->off.kind != KH_COFF_ANY) {
        if (offset_range(cs, &s->off, &lo, &hi) != 0)
            return 0;
        if (!s->off.shift && !(s->flags & KH_PCRE_ROLLING))
            hi = lo; /* anchored at the offset */
        else if (!s->off.shift)
            hi = cs->len;
        if ((s->flags & KH_PCRE_ENCOMPASS) && s->off.shift)
            end = hi;
    }
    if (s->flags & KH_PCRE_ANCHORED)
        hi = lo;
    uint8_t fb[32];
    int useful = kh_pike_first(pg, fb);
    uint32_t n = 0;
    for (uint64_t p = lo; p <= hi && n < cap; p++) {
        if (useful && (p >= end || !((fb[cs->buf[p] >> 3] >> (cs->buf[p] & 7)) & 1)))
            continue;
        int64_t m = kh_pike_match(cs->vm, pg, cs->buf, (size_t)end, (size_t)p, (size_t)(end - p));
        if (m < -1)
            return KH_ENOMEM;
        if (m < 0)
            continue;
        if (!n)
            *first = (int64_t)p;
        n++;
        if (!(s->flags & KH_PCRE_GLOBAL))
            break;
        if (m > 0)
            p += (uint64_t)m - 1;
    }
    *out = n;
    return 0;
}

/* ---- One logical signature ------------------------------------------------------------------------ */

static int eval_lsig(kh_cavscan *cs, uint32_t li, unsigned depth, kh_confirm *cx, int *matched, int64_t *off)
{
    const kh_cav *cv = cs->cv;
    const kh_lsig *l = &cv->lsigs[li];
    *matched = 0;
    *off = -1;
    if ((l->flags & KH_LF_ROOT) && depth > 0)
        return 0;
    if ((l->flags & KH_LF_FILESIZE) && (cs->len < l->fs_lo || cs->len > l->fs_hi))
        return 0;
    if (l->target || (l->flags & (KH_LF_EP | KH_LF_NSECT))) {
        file_info(cs);
        if (l->target && l->target != cs->ftype)
            return 0;
        if ((l->flags & KH_LF_EP) && (cs->ep < 0 || (uint64_t)cs->ep < l->ep_lo || (uint64_t)cs->ep > l->ep_hi))
            return 0;
        if ((l->flags & KH_LF_NSECT) && ((cs->ftype != 1 && cs->ftype != 6) || cs->nsect_total < l->ns_lo ||
                                         cs->nsect_total > l->ns_hi))
            return 0;
    }
    uint32_t cnt[KH_LSIG_MAX_SUBS];
    int64_t first[KH_LSIG_MAX_SUBS];
    memset(cnt, 0, sizeof(cnt));
    for (uint32_t k = 0; k < l->nsub; k++) {
        const kh_lsub *s = &cv->lsubs[l->sub + k];
        first[k] = -1;
        if (s->kind == KH_LS_HEX) {
            int rc = count_hex(cs, s, l->cap, cx, &cnt[k], &first[k]);
            if (rc)
                return rc;
        }
    }
    for (uint32_t k = 0; k < l->nsub; k++) {
        const kh_lsub *s = &cv->lsubs[l->sub + k];
        if (s->kind == KH_LS_BCOMP && (cnt[k] = (uint32_t)bcomp(cs, s, first[s->trigger])) != 0)
            first[k] = first[s->trigger] + s->bc_off;
    }
    for (uint32_t k = 0; k < l->nsub; k++) {
        const kh_lsub *s = &cv->lsubs[l->sub + k];
        if (s->kind != KH_LS_PCRE || !expr_true(cv, s->trigger, cnt))
            continue;
        int rc = pcre_count(cs, s, l->cap, &cnt[k], &first[k]);
        if (rc)
            return rc;
    }
    if (!expr_true(cv, l->expr, cnt))
        return 0;
    *matched = 1;
    for (uint32_t k = 0; k < l->nsub; k++)
        if (cnt[k] && first[k] >= 0 && (*off < 0 || first[k] < *off))
            *off = first[k];
    return 0;
}

/* ---- Section and import hashes ----------------------------------------------------------------------- */

static const kh_shash *sh_find(const kh_cav *cv, uint8_t kind, uint8_t alg, const uint8_t *dig)
{
    size_t lo = 0, hi = cv->nshash;
    unsigned dl = kh_halg_len[alg];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const kh_shash *x = &cv->shash[mid];
        int c = x->kind != kind ? (x->kind < kind ? -1 : 1)
                : x->alg != alg ? (x->alg < alg ? -1 : 1)
                                : memcmp(x->dig, dig, dl);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cv->nshash ? &cv->shash[lo] : NULL;
}

static int sh_report(kh_cavscan *cs, uint8_t kind, unsigned algs, const uint8_t dig[KH_NALG][32], uint64_t size,
                     kh_cav_det_fn det, void *ud)
{
    const kh_cav *cv = cs->cv;
    for (unsigned a = 0; a < KH_NALG; a++) {
        if (!((algs >> a) & 1))
            continue;
        unsigned dl = kh_halg_len[a];
        for (const kh_shash *x = sh_find(cv, kind, (uint8_t)a, dig[a]);
             x && x < cv->shash + cv->nshash && x->kind == kind && x->alg == a && memcmp(x->dig, dig[a], dl) == 0;
             x++) {
            if (x->size != KH_ANY_SIZE && x->size != size)
                continue;
            int rc = det(ud, x->sig, KH_DET_PEHASH, -1);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int pe_hashes(kh_cavscan *cs, kh_cav_det_fn det, void *ud)
{
    const kh_cav *cv = cs->cv;
    file_info(cs);
    if (cs->ftype != 1)
        return 0;
    uint8_t dig[KH_NALG][32];
    int rc = 0;
    unsigned sa = cv->shash_algs[KH_SH_SECTION];
    for (uint32_t i = 0; sa && i < cs->nsect && !rc; i++) {
        uint64_t raw = cs->sect[i].raw, rsz = cs->sect[i].rsz;
        if (!rsz || raw >= cs->len)
            continue;
        if (rsz > cs->len - raw)
            rsz = cs->len - raw;
        if (kh_digest_buf(sa, cs->buf + raw, (size_t)rsz, dig))
            return KH_EINTERNAL;
        rc = sh_report(cs, KH_SH_SECTION, sa, dig, rsz, det, ud);
    }
    unsigned ia = cv->shash_algs[KH_SH_IMPORT];
    if (rc || !ia)
        return rc;
    kh_pe *pe = NULL;
    if (kh_pe_parse(&pe, cs->buf, cs->len) != 0)
        return 0;
    kh_buf b = KH_BUF_INIT(64u << 20);
    rc = kh_pe_imphash_text(pe, KH_PE_IMPHASH_CLAMAV, &b);
    if (!rc && b.len) {
        if (kh_digest_buf(ia, b.data, b.len, dig))
            rc = KH_EINTERNAL;
        else
            rc = sh_report(cs, KH_SH_IMPORT, ia, dig, b.len, det, ud);
    }
    kh_buf_dispose(&b);
    kh_pe_destroy(pe);
    return rc;
}

/* ---- The object --------------------------------------------------------------------------------------- */

int kh_cavscan_object(kh_cavscan *cs, const uint8_t *buf, size_t len, unsigned depth, const uint32_t *hits,
                      size_t nhits, kh_confirm *cx, kh_cav_det_fn det, void *ud)
{
    const struct kh_rules *r = cs->r;
    const kh_cav *cv = cs->cv;
    static const uint8_t empty[1];
    cs->buf = buf ? buf : empty;
    cs->len = buf ? len : 0;
    cs->info = 0;
    cs->cx = cx;
    cs->ncand = 0;
    for (uint32_t i = 0; i < cs->nalways; i++) {
        cs->cand[cs->ncand++] = cs->always[i];
        cs->cmark[cs->always[i]] = 1;
    }
    for (size_t i = 0; i < nhits; i++) {
        uint32_t p = hits[i];
        if (p >= r->npats || r->pats[p].kind != KH_PK_LSUB)
            continue;
        uint32_t si = r->pats[p].sig, li = cv->lsubs[si].lsig;
        if (!cs->hit[si]) {
            cs->hit[si] = 1;
            cs->touched[cs->ntouched++] = si;
        }
        if (!cs->cmark[li]) {
            cs->cmark[li] = 1;
            cs->cand[cs->ncand++] = li;
        }
    }
    int rc = 0;
    /* clamscan evaluates none on smaller objects; nothing to evaluate without the bytes */
    uint32_t neval = !buf || len < KH_LSIG_MIN_OBJECT ? 0 : cs->ncand;
    if (neval > 1)
        kh_sort_u32(cs->cand, cs->ncand);
    for (uint32_t i = 0; i < neval && !rc; i++) {
        uint32_t li = cs->cand[i];
        int m;
        int64_t off;
        rc = eval_lsig(cs, li, depth, cx, &m, &off);
        if (!rc && m)
            rc = det(ud, cv->lsigs[li].sig, KH_DET_LOGICAL, off);
    }
    if (!rc && cv->nshash && buf)
        rc = pe_hashes(cs, det, ud);
    for (uint32_t i = 0; i < cs->ncand; i++)
        cs->cmark[cs->cand[i]] = 0;
    for (uint32_t i = 0; i < cs->ntouched; i++)
        cs->hit[cs->touched[i]] = 0;
    cs->ntouched = 0;
    cs->ncand = 0;
    return rc;
}

/* ---- Container metadata (.cdb) ------------------------------------------------------------------------ */

/* clamscan's range test: '*', an exact value, or lo-hi where a 0 bound is open. UINT64_MAX: unknown. */
static int in_range(const uint64_t f[2], uint64_t v)
{
    if (f[0] == KH_CDB_ANY)
        return 1;
    if (v == UINT64_MAX)
        return 0; /* not known here: only '*' matches */
    if (f[0] == f[1])
        return v == f[0];
    return !((f[0] && f[0] > v) || (f[1] && f[1] < v));
}

int kh_cavscan_meta(kh_cavscan *cs, const kh_cav_meta *m, kh_cav_det_fn det, void *ud)
{
    const kh_cav *cv = cs->cv;
    /* the last line loaded first, as clamscan (what it reports without --allmatch) */
    for (uint32_t i = cv->ncdbs; i-- > 0;) {
        const kh_cdb *d = &cv->cdbs[i];
        if ((d->ctype && d->ctype != m->ctype) || (d->enc != 2 && d->enc != (m->encrypted ? 1 : 0)) ||
            !in_range(d->csize, m->csize) || !in_range(d->fsizec, m->fsizec) || !in_range(d->fsizer, m->fsizer) ||
            !in_range(d->filepos, m->filepos))
            continue;
        if (d->re != UINT32_MAX) {
            if (!m->name)
                continue;
            if (!cs->cdbprog[i]) {
                int rc = kh_pike_compile(cs->r, d->re, &cs->cdbprog[i]);
                if (rc)
                    return rc;
            }
            int mm = kh_cdb_name_match(cs->r, cs->cdbprog[i], cs->vm, m->name);
            if (mm < 0)
                return mm;
            if (!mm)
                continue;
        }
        int rc = det(ud, d->sig, KH_DET_META, -1);
        if (rc)
            return rc;
    }
    return 0;
}
