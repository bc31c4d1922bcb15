/* Khiên — engine/clamav: reading logical signatures (.ldb).
 *
 *   Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;...
 *
 * The target description block is comma-separated Key:Value pairs: Engine
 * (functionality levels), Target (file type), FileSize, EntryPoint and
 * NumberOfSections (a range "x-y" or one value), Container (only
 * CL_TYPE_ANY, "not inside a container", is honoured), Intermediates,
 * IconGroup1/2 and HandlerType (recognised, the signature is then counted
 * as unsupported).
 *
 * The logical expression is read the way clamscan reads it, which is not
 * the usual grammar: outside parentheses the text is cut at its first `&`
 * or `|` (so `0&1|2` is `0&(1|2)`), a parenthesised block is cut at its
 * last operator at its first level (so `(0&1|2)` is `(0&1)|2`), and a
 * modifier =N <N >N[,M] applies to a single subsignature or to a whole
 * parenthesised block placed last. Counts follow clamscan too: a
 * subsignature counts its matches, a block the matches of its true parts,
 * and `,M` asks for M different subsignatures (for blocks only).
 *
 * Subsignatures: `[Offset:]Hex[::Modifiers]` (modifiers i w f a),
 * `[Offset:]Trigger/Regex/[Flags]` (a PCRE, run with the Pike VM when its
 * trigger expression holds), `N(>>Off#Options#Comparisons)` (byte compare).
 * Macros (${n-m}id$) and fuzzy image hashes are recognised and counted as
 * unsupported. Offsets take every ClamAV form; EP, Sx, SL, SE need a target
 * type with entry point and sections (PE, ELF, Mach-O), as in clamscan.
 */
#include "engine/clamav/cav.h"
#include "engine/yara/ybuild.h"

#include <stdlib.h>

#define diagf kh_clamav_diagf

void kh_cavb_dispose(kh_cavb *cb)
{
    if (!cb)
        return;
    KH_VEC_FREE(cb->lsigs);
    KH_VEC_FREE(cb->lsubs);
    KH_VEC_FREE(cb->lexprs);
    KH_VEC_FREE(cb->shash);
    KH_VEC_FREE(cb->ftms);
    KH_VEC_FREE(cb->cdbs);
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* ClamAV reads offset numbers with atoi(): a value saturates at LONG_MAX
 * and keeps its low 32 bits, and an absolute offset of all ones is its
 * "any offset". Measured with clamscan 1.4: offset 4294967299 matches at 3,
 * 4294967295 and 2^64-1 anywhere, EOF-4294967303 at EOF-7. */
static uint32_t clam_u32(uint64_t v)
{
    return (uint32_t)(v > INT64_MAX ? (uint64_t)INT64_MAX : v);
}

int kh_cav_offset_parse(const char *s, size_t n, kh_coff *out)
{
    kh_coff o;
    memset(&o, 0, sizeof(o));
    if (n == 1 && s[0] == '*') {
        *out = o;
        return 0;
    }
    if (n == 2 && memcmp(s, "VI", 2) == 0)
        return KH_EUNSUPPORTED;
    const char *comma = memchr(s, ',', n);
    size_t bn = comma ? (size_t)(comma - s) : n;
    uint64_t sh = 0, v = 0;
    if (comma && (!all_digits(comma + 1, n - bn - 1) || kh_parse_u64(comma + 1, n - bn - 1, &sh)))
        return KH_ESYNTAX;
    o.shift = clam_u32(sh);
    if (bn > 4 && memcmp(s, "EOF-", 4) == 0) {
        o.kind = KH_COFF_EOF;
        if (!all_digits(s + 4, bn - 4) || kh_parse_u64(s + 4, bn - 4, &v))
            return KH_ESYNTAX;
        o.off = clam_u32(v);
    } else if (bn > 3 && (memcmp(s, "EP+", 3) == 0 || memcmp(s, "EP-", 3) == 0)) {
        o.kind = KH_COFF_EP;
        if (!all_digits(s + 3, bn - 3) || kh_parse_u64(s + 3, bn - 3, &v) || v > UINT32_MAX)
            return KH_ESYNTAX;
        o.off = s[2] == '-' ? -(int64_t)v : (int64_t)v;
    } else if (bn > 2 && s[0] == 'S' && s[1] == 'E') {
        o.kind = KH_COFF_SENTIRE;
        if (comma || !all_digits(s + 2, bn - 2) || kh_parse_u64(s + 2, bn - 2, &v) || v > 0xffff)
            return KH_ESYNTAX;
        o.sect = (uint16_t)v;
    } else if (bn > 3 && s[0] == 'S' && (s[1] == 'L' || (s[1] >= '0' && s[1] <= '9'))) {
        const char *plus = memchr(s, '+', bn);
        if (!plus)
            return KH_ESYNTAX;
        size_t pre = (size_t)(plus - s);
        if (s[1] == 'L') {
            if (pre != 2)
                return KH_ESYNTAX;
            o.kind = KH_COFF_SLAST;
        } else {
            if (!all_digits(s + 1, pre - 1) || kh_parse_u64(s + 1, pre - 1, &v) || v > 0xffff)
                return KH_ESYNTAX;
            o.kind = KH_COFF_SECT;
            o.sect = (uint16_t)v;
        }
        if (!all_digits(plus + 1, bn - pre - 1) || kh_parse_u64(plus + 1, bn - pre - 1, &v) || v > UINT32_MAX)
            return KH_ESYNTAX;
        o.off = (int64_t)v;
    } else {
        o.kind = KH_COFF_ABS;
        if (!all_digits(s, bn) || kh_parse_u64(s, bn, &v))
            return KH_ESYNTAX;
        if (clam_u32(v) == UINT32_MAX) { /* ClamAV's CLI_OFF_ANY */
            memset(&o, 0, sizeof(o));
            *out = o;
            return 0;
        }
        o.off = clam_u32(v);
    }
    *out = o;
    return 0;
}

/* ---- Logical expressions ------------------------------------------------------- */

typedef struct xp {
    kh_dbctx *c;
    const char *base; /* the whole expression, for error columns */
    const char *err;
    size_t errpos;
    uint32_t maxid;
    int any;
    uint32_t maxval;
    size_t nodes; /* made for this signature */
} xp;

static int xfail(xp *p, const char *at, const char *msg)
{
    if (!p->err) {
        p->err = msg;
        p->errpos = (size_t)(at - p->base);
    }
    return KH_ESYNTAX;
}

/* Reads digits at s (at most n chars) into *v; returns how many were read. */
static size_t read_uint(const char *s, size_t n, uint32_t *v)
{
    uint64_t x = 0;
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        x = x * 10 + (uint64_t)(s[i] - '0');
        if (x > UINT32_MAX)
            return 0;
        i++;
    }
    *v = (uint32_t)x;
    return i;
}

static int xnode(xp *p, uint8_t op, uint8_t mod, uint32_t a, uint32_t b, uint32_t v1, uint32_t v2, uint32_t *out)
{
    kh_cavb *cb = p->c->cav;
    if (++p->nodes > KH_LSIG_MAX_EXPR)
        return xfail(p, p->base, "logical expression too long");
    int rc = KH_VEC_RESERVE(cb->lexprs, 1, UINT32_MAX);
    if (rc)
        return rc;
    kh_lexpr *x = &cb->lexprs.v[cb->lexprs.n];
    memset(x, 0, sizeof(*x));
    x->op = op;
    x->mod = mod;
    x->a = a;
    x->b = b;
    x->v1 = v1;
    x->v2 = v2;
    if (mod && v1 > p->maxval)
        p->maxval = v1;
    *out = (uint32_t)cb->lexprs.n++;
    return 0;
}

static int xparse(xp *p, const char *e, size_t n, uint32_t *out, unsigned depth)
{
    if (depth > KH_LSIG_MAX_DEPTH)
        return xfail(p, e, "logical expression nested too deeply");
    if (n == 0)
        return xfail(p, e, "missing subsignature number");
    unsigned pth = 0;
    char op = 0, op1 = 0, mod = 0, blkmod = 0;
    size_t opoff = 0, op1off = 0, modoff = 0, blkend = 0;
    uint32_t bv1 = 0, bv2 = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = e[i];
        if (ch == '(') {
            pth++;
        } else if (ch == ')') {
            if (!pth)
                return xfail(p, e + i, "')' without '('");
            pth--;
            mod = ch;
            modoff = i;
        } else if (ch == '<' || ch == '>' || ch == '=') {
            mod = ch;
            modoff = i;
        } else if (ch == '&' || ch == '|') {
            if (pth == 0) {
                op = ch;
                opoff = i;
                break;
            }
            if (pth == 1) {
                op1 = ch;
                op1off = i;
            }
        }
        if (op1 && !pth) {
            blkend = i;
            if (i + 1 < n && (e[i + 1] == '<' || e[i + 1] == '>' || e[i + 1] == '=')) {
                blkmod = e[i + 1];
                size_t k = read_uint(e + i + 2, n - i - 2, &bv1);
                if (!k)
                    return xfail(p, e + i + 1, "a number must follow the modifier");
                bv2 = 0;
                if (i + 2 + k < n && e[i + 2 + k] == ',') {
                    size_t k2 = read_uint(e + i + 3 + k, n - i - 3 - k, &bv2);
                    if (!k2)
                        return xfail(p, e + i + 2 + k, "a number must follow ','");
                    k += 1 + k2;
                }
                i += 1 + k;
            }
            if (i + 1 == n)
                break;
            blkmod = 0;
        }
    }
    if (pth)
        return xfail(p, e + n, "'(' without ')'");
    if (!op && !op1) {
        if (e[0] == '(')
            return n < 2 ? xfail(p, e, "unbalanced parentheses") : xparse(p, e + 1, n - 2, out, depth + 1);
        uint32_t id, v1 = 0, v2 = 0;
        size_t k = read_uint(e, n, &id);
        if (!k)
            return xfail(p, e, "expected a subsignature number");
        if (k < n) {
            if (!mod || mod == ')' || modoff != k)
                return xfail(p, e + k, "unexpected character in the logical expression");
            size_t k1 = read_uint(e + k + 1, n - k - 1, &v1);
            if (!k1)
                return xfail(p, e + k, "a number must follow the modifier");
            size_t j = k + 1 + k1;
            if (j < n && e[j] == ',') { /* ,M is read and, for one subsignature, ignored (as clamscan) */
                size_t k2 = read_uint(e + j + 1, n - j - 1, &v2);
                if (!k2)
                    return xfail(p, e + j, "a number must follow ','");
                j += 1 + k2;
            }
            if (j != n)
                return xfail(p, e + j, "unexpected character in the logical expression");
        } else {
            mod = 0;
        }
        if (id >= KH_LSIG_MAX_SUBS)
            return xfail(p, e, "subsignature number above 63");
        if (!p->any || id > p->maxid)
            p->maxid = id;
        p->any = 1;
        return xnode(p, KH_LX_LEAF, (uint8_t)mod, id, 0, v1, v2, out);
    }
    size_t lstart = 0, rend = n;
    if (!op) {
        op = op1;
        opoff = op1off;
        lstart = 1;
        rend = blkend;
    } else {
        blkmod = 0;
    }
    if (opoff == 0)
        return xfail(p, e, "missing left operand");
    if (opoff + 1 == n)
        return xfail(p, e + n, "missing right operand");
    if (rend < opoff + 1 || opoff < lstart)
        return xfail(p, e + opoff, "malformed block");
    uint32_t l, r;
    int rc = xparse(p, e + lstart, opoff - lstart, &l, depth + 1);
    if (!rc)
        rc = xparse(p, e + opoff + 1, rend - opoff - 1, &r, depth + 1);
    if (rc)
        return rc;
    return xnode(p, op == '&' ? KH_LX_AND : KH_LX_OR, (uint8_t)blkmod, l, r, bv1, bv2, out);
}

/* ---- Pattern trees: ::i ::w ::f ::a ----------------------------------------------- */

static int is_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int mk_class2(kh_irb *b, uint8_t c, uint32_t *out)
{
    uint8_t bits[32] = {0};
    uint8_t lo = (uint8_t)(c | 0x20), up = (uint8_t)(c & ~0x20);
    bits[lo >> 3] |= (uint8_t)(1u << (lo & 7));
    bits[up >> 3] |= (uint8_t)(1u << (up & 7));
    uint32_t off = (uint32_t)b->bytes.len;
    int rc = kh_buf_append(&b->bytes, bits, 32);
    return rc ? rc : kh_irb_node(b, KH_OP_CLASS, off, 0, 0, out);
}

static int mk_lit(kh_irb *b, const uint8_t *p, size_t n, uint32_t *out)
{
    uint32_t off = (uint32_t)b->bytes.len;
    int rc = kh_buf_append(&b->bytes, p, n);
    return rc ? rc : kh_irb_node(b, KH_OP_LIT, off, (uint32_t)n, 0, out);
}

static int mk_list(kh_irb *b, uint8_t op, const uint32_t *k, uint32_t n, uint32_t c, uint32_t *out)
{
    uint32_t at = (uint32_t)b->kids.n;
    int rc = KH_VEC_RESERVE(b->kids, n, UINT32_MAX);
    if (rc)
        return rc;
    memcpy(b->kids.v + b->kids.n, k, n * sizeof(uint32_t));
    b->kids.n += n;
    return kh_irb_node(b, op, at, n, c, out);
}

#define XF_NOCASE 1u
#define XF_WIDE 2u

/* A copy of the tree with letters of either case (XF_NOCASE) or every
 * matched byte followed by a zero byte (XF_WIDE; gaps stay as they are). */
static int xform(kh_irb *b, uint32_t root, unsigned how, uint32_t *out, unsigned depth)
{
    if (depth > 64)
        return KH_ELIMIT;
    kh_node nd = b->nodes.v[root];
    int rc = 0;
    switch (nd.op) {
    case KH_OP_LIT: {
        uint32_t parts[2 * 512];
        uint32_t np = 0;
        if (nd.b > 512)
            return KH_ELIMIT;
        uint8_t *tmp = malloc(2u * nd.b + 1);
        if (!tmp)
            return KH_ENOMEM;
        memcpy(tmp, b->bytes.data + nd.a, nd.b);
        size_t run = 0;
        uint8_t wbuf[1024 + 2];
        for (uint32_t i = 0; i < nd.b && !rc; i++) {
            uint8_t ch = tmp[i];
            if ((how & XF_NOCASE) && is_alpha(ch)) {
                if (run) {
                    rc = mk_lit(b, wbuf, run, &parts[np++]);
                    run = 0;
                }
                if (!rc)
                    rc = mk_class2(b, ch, &parts[np++]);
                if (!rc && (how & XF_WIDE)) {
                    wbuf[run++] = 0;
                }
            } else {
                wbuf[run++] = ch;
                if (how & XF_WIDE)
                    wbuf[run++] = 0;
            }
        }
        if (!rc && run)
            rc = mk_lit(b, wbuf, run, &parts[np++]);
        free(tmp);
        if (rc)
            return rc;
        if (np == 1) {
            *out = parts[0];
            return 0;
        }
        return mk_list(b, KH_OP_SEQ, parts, np, 0, out);
    }
    case KH_OP_CLASS:
        if (!(how & XF_WIDE)) {
            *out = root;
            return 0;
        } else {
            uint32_t k[2] = {root, 0};
            static const uint8_t z = 0;
            if ((rc = mk_lit(b, &z, 1, &k[1])))
                return rc;
            return mk_list(b, KH_OP_SEQ, k, 2, 0, out);
        }
    case KH_OP_SEQ:
    case KH_OP_ALT: {
        uint32_t *k = malloc(sizeof(uint32_t) * (nd.b ? nd.b : 1));
        if (!k)
            return KH_ENOMEM;
        for (uint32_t i = 0; i < nd.b && !rc; i++)
            rc = xform(b, b->kids.v[nd.a + i], how, &k[i], depth + 1);
        if (!rc)
            rc = mk_list(b, nd.op, k, nd.b, nd.c, out);
        free(k);
        return rc;
    }
    case KH_OP_NALT:
        if (how & XF_WIDE)
            return KH_EUNSUPPORTED;
        if (how & XF_NOCASE) {
            /* a negated group of letters: leave exact (clamscan treats ::i with !() the same way or rejects it) */
        }
        *out = root;
        return 0;
    case KH_OP_REPEAT: {
        uint32_t ch;
        if ((rc = xform(b, nd.a, how, &ch, depth + 1)))
            return rc;
        return kh_irb_node(b, KH_OP_REPEAT, ch, nd.b, nd.c, out);
    }
    default: /* GAP, ASSERT, BEHIND, AHEAD: as they are */
        *out = root;
        return 0;
    }
}

/* The wide form of a hex signature, as text: a zero byte after every byte
 * the signature matches one by one (exact bytes, `??`, nibbles, the bytes
 * of alternatives); gaps `*` `{n-m}`, `[n-m]` and (B) (L) (W) stay as they
 * are, as clamscan does. */
static int widen_hex(const char *s, size_t n, kh_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        char c = s[i];
        if (c == '{' || c == '[') {
            const char *e = memchr(s + i, c == '{' ? '}' : ']', n - i);
            size_t k = e ? (size_t)(e - s) + 1 - i : n - i;
            rc = kh_buf_append(out, s + i, k);
            i += k;
        } else if (c == '(' && i + 2 < n && s[i + 2] == ')' && strchr("BLW", s[i + 1])) {
            rc = kh_buf_append(out, s + i, 3);
            i += 3;
        } else if (strchr("()|!*", c)) {
            rc = kh_buf_putc(out, c);
            i++;
        } else {
            size_t k = i + 1 < n ? 2 : 1;
            rc = kh_buf_append(out, s + i, k);
            if (!rc)
                rc = kh_buf_puts(out, "00");
            i += k;
        }
    }
    return rc;
}

/* The subsignature's modifiers applied to its tree (`wroot`: the tree of
 * its wide form, when ::w is given). */
static int apply_mods(kh_irb *b, uint32_t root, uint32_t wroot, int nocase, int wide, int ascii, int fullword,
                      uint32_t *out)
{
    int rc = 0;
    uint32_t forms[2], nf = 0;
    unsigned base = nocase ? XF_NOCASE : 0;
    if (!wide || ascii) {
        if (base)
            rc = xform(b, root, base, &forms[nf++], 0);
        else
            forms[nf++] = root;
    }
    if (!rc && wide) {
        if (base)
            rc = xform(b, wroot, base, &forms[nf++], 0);
        else
            forms[nf++] = wroot;
    }
    if (rc)
        return rc;
    for (uint32_t i = 0; i < nf && fullword; i++) {
        uint32_t k[3];
        if ((rc = kh_irb_node(b, KH_OP_ASSERT, KH_AS_NONALNUM, KH_AM_BEFORE, 0, &k[0])) ||
            (rc = kh_irb_node(b, KH_OP_ASSERT, KH_AS_NONALNUM, KH_AM_AFTER, 0, &k[2])))
            return rc;
        k[1] = forms[i];
        if ((rc = mk_list(b, KH_OP_SEQ, k, 3, 0, &forms[i])))
            return rc;
    }
    if (nf == 1) {
        *out = forms[0];
        return 0;
    }
    return mk_list(b, KH_OP_ALT, forms, nf, 0, out);
}

/* ---- Lines -------------------------------------------------------------------------- */

typedef struct tok {
    const char *s;
    size_t n, col;
} tok;

static int parse_range(const char *s, size_t n, uint64_t *lo, uint64_t *hi)
{
    const char *dash = memchr(s, '-', n);
    if (!dash)
        return kh_parse_u64(s, n, lo) || (*hi = *lo, 0);
    size_t a = (size_t)(dash - s);
    return kh_parse_u64(s, a, lo) || kh_parse_u64(dash + 1, n - a - 1, hi) || *lo > *hi ? KH_ESYNTAX : 0;
}

static int add_lsub(kh_dbctx *c, kh_lsub *ls)
{
    int rc = KH_VEC_RESERVE(c->cav->lsubs, 1, UINT32_MAX);
    if (rc)
        return rc;
    c->cav->lsubs.v[c->cav->lsubs.n++] = *ls;
    return 0;
}

/* A hex subsignature's pattern. */
static int add_hex_pat(kh_dbctx *c, uint32_t root, const kh_coff *off, uint32_t lsub_index, uint32_t *pat_out)
{
    kh_irb *b = c->b;
    int rc = KH_VEC_RESERVE(b->pats, 1, UINT32_MAX);
    if (rc)
        return rc;
    kh_pat *p = &b->pats.v[b->pats.n];
    memset(p, 0, sizeof(*p));
    p->root = root;
    p->sig = lsub_index;
    p->kind = KH_PK_LSUB;
    p->offkind = off->kind == KH_COFF_ABS ? KH_OFF_ABS : off->kind == KH_COFF_EOF ? KH_OFF_EOF : KH_OFF_ANY;
    if (p->offkind != KH_OFF_ANY) {
        p->off = (uint64_t)off->off;
        p->shift = off->shift;
    }
    kh_ir_lengths(b->nodes.v, b->kids.v, root, &p->minlen, &p->maxlen);
    *pat_out = (uint32_t)b->pats.n++;
    return 0;
}

static int new_lsig(kh_dbctx *c, uint32_t sig, uint8_t target, uint32_t *idx)
{
    int rc = KH_VEC_RESERVE(c->cav->lsigs, 1, UINT32_MAX);
    if (rc)
        return rc;
    kh_lsig *l = &c->cav->lsigs.v[c->cav->lsigs.n];
    memset(l, 0, sizeof(*l));
    l->sig = sig;
    l->target = target;
    l->sub = (uint32_t)c->cav->lsubs.n;
    l->cap = 1;
    *idx = (uint32_t)c->cav->lsigs.n++;
    return 0;
}

int kh_ldb_from_ndb(kh_dbctx *c, uint32_t sig, uint32_t root, uint8_t target, const kh_coff *off)
{
    uint32_t li, x;
    int rc = new_lsig(c, sig, target, &li);
    if (rc)
        return rc;
    kh_lsub ls;
    memset(&ls, 0, sizeof(ls));
    ls.lsig = li;
    ls.kind = KH_LS_HEX;
    ls.off = *off;
    if ((rc = add_hex_pat(c, root, off, (uint32_t)c->cav->lsubs.n, &ls.pat)) || (rc = add_lsub(c, &ls)))
        return rc;
    xp p = {c, "", NULL, 0, 0, 0, 0, 0};
    if ((rc = xnode(&p, KH_LX_LEAF, 0, 0, 0, 0, 0, &x)))
        return rc;
    kh_lsig *l = &c->cav->lsigs.v[li];
    l->expr = x;
    l->nsub = 1;
    return 0;
}

/* Rolls the builders back to a mark (a line that is not kept). */
typedef struct mark {
    size_t nodes, kids, bytes, pats, sigs, lsigs, lsubs, lexprs, strs;
} mark;

static void set_mark(kh_dbctx *c, mark *m)
{
    m->nodes = c->b->nodes.n, m->kids = c->b->kids.n, m->bytes = c->b->bytes.len, m->pats = c->b->pats.n;
    m->sigs = c->b->sigs.n, m->strs = c->b->strs.len;
    m->lsigs = c->cav->lsigs.n, m->lsubs = c->cav->lsubs.n, m->lexprs = c->cav->lexprs.n;
}

static void rollback(kh_dbctx *c, const mark *m)
{
    c->b->nodes.n = m->nodes, c->b->kids.n = m->kids, c->b->bytes.len = m->bytes, c->b->pats.n = m->pats;
    c->b->sigs.n = m->sigs, c->b->strs.len = m->strs;
    c->cav->lsigs.n = m->lsigs, c->cav->lsubs.n = m->lsubs, c->cav->lexprs.n = m->lexprs;
}

/* Outcome of one subsignature beyond "parsed". */
enum { SUB_OK = 0, SUB_UNSUP = 1 };

static int parse_pcre(kh_dbctx *c, const tok *t, unsigned ln, uint32_t idx, kh_lsub *ls, const char **why)
{
    const char *s = t->s;
    size_t n = t->n;
    const char *slash = memchr(s, '/', n);
    const char *last = s + n - 1;
    while (last > slash && *last != '/')
        last--;
    if (last == slash) {
        diagf(c, KH_DIAG_ERROR, ln, t->col + (size_t)(slash - s) + 1, "PCRE subsignature without a closing '/'");
        return KH_ESYNTAX;
    }
    size_t pre = (size_t)(slash - s);
    const char *colon = memchr(s, ':', pre);
    const char *trig = s;
    size_t tn = pre;
    if (colon) {
        int orc = kh_cav_offset_parse(s, (size_t)(colon - s), &ls->off);
        if (orc == KH_ESYNTAX) {
            diagf(c, KH_DIAG_ERROR, ln, t->col + 1, "bad offset of a PCRE subsignature");
            return KH_ESYNTAX;
        }
        if (orc == KH_EUNSUPPORTED) {
            *why = "offset";
            return SUB_UNSUP;
        }
        trig = colon + 1;
        tn = pre - (size_t)(colon + 1 - s);
    }
    xp p = {c, trig, NULL, 0, 0, 0, 0, 0};
    int rc = xparse(&p, trig, tn, &ls->trigger, 0);
    if (rc == KH_ESYNTAX || (!rc && p.maxid >= idx)) {
        diagf(c, KH_DIAG_ERROR, ln, t->col + (size_t)(trig - s) + p.errpos + 1, "bad PCRE trigger: %s",
              p.err ? p.err : "it must refer to earlier subsignatures only");
        return KH_ESYNTAX;
    }
    if (rc)
        return rc;
    unsigned reflags = 0;
    for (const char *f = last + 1; f < s + n; f++) {
        switch (*f) {
        case 'g': ls->flags |= KH_PCRE_GLOBAL; break;
        case 'r': ls->flags |= KH_PCRE_ROLLING; break;
        case 'e': ls->flags |= KH_PCRE_ENCOMPASS; break;
        case 'A': ls->flags |= KH_PCRE_ANCHORED; break;
        case 'i': reflags |= 1; break;
        case 's': reflags |= 2; break;
        case 'E': break;
        case 'm': case 'x': case 'U':
            *why = "PCRE flag";
            return SUB_UNSUP;
        default:
            diagf(c, KH_DIAG_ERROR, ln, t->col + (size_t)(f - s) + 1, "unknown PCRE flag '%c'", *f);
            return KH_ESYNTAX;
        }
    }
    const char *re = slash + 1;
    size_t rn = (size_t)(last - re);
    if (rn == 0) {
        diagf(c, KH_DIAG_ERROR, ln, t->col + pre + 1, "empty PCRE");
        return KH_ESYNTAX;
    }
    /* constructs of PCRE that the regex reader would take differently */
    for (size_t i = 0; i + 1 < rn; i++)
        if ((re[i] == '(' && re[i + 1] == '?') || (re[i] == '\\' && ((re[i + 1] >= '1' && re[i + 1] <= '9') ||
                                                                      re[i + 1] == 'k' || re[i + 1] == 'Q'))) {
            *why = "PCRE construct";
            return SUB_UNSUP;
        }
    const char *err = NULL;
    size_t epos = 0;
    int greedy = 0;
    rc = kh_yre_parse(c->b, re, rn, reflags, &ls->root, &greedy, &err, &epos);
    if (rc == KH_ESYNTAX) {
        *why = "PCRE construct";
        return SUB_UNSUP;
    }
    if (rc)
        return rc;
    ls->kind = KH_LS_PCRE;
    ls->pat = UINT32_MAX;
    return SUB_OK;
}

static int parse_num(const char *s, size_t n, uint64_t *v)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        uint64_t x = 0;
        for (size_t i = 2; i < n; i++) {
            int h = kh_hexval((unsigned char)s[i]);
            if (h < 0 || x >> 60)
                return KH_ESYNTAX;
            x = x * 16 + (uint64_t)h;
        }
        *v = x;
        return 0;
    }
    return kh_parse_u64(s, n, v);
}

/* N(>>Off#Options#Comparisons) */
static int parse_bcomp(kh_dbctx *c, const tok *t, unsigned ln, uint32_t idx, kh_lsub *ls)
{
    const char *s = t->s;
    size_t n = t->n;
    const char *open = memchr(s, '(', n);
    uint32_t trig;
    if (!open || s[n - 1] != ')' || read_uint(s, (size_t)(open - s), &trig) != (size_t)(open - s) || open == s)
        goto bad;
    if (trig >= idx)
        goto bad;
    const char *in = open + 1;
    size_t m = (size_t)(s + n - 1 - in);
    const char *h1 = memchr(in, '#', m);
    if (!h1 || h1 - in < 3)
        goto bad;
    const char *h2 = memchr(h1 + 1, '#', (size_t)(in + m - h1 - 1));
    if (!h2)
        goto bad;
    uint64_t v;
    if ((in[0] != '>' && in[0] != '<') || in[1] != in[0] || parse_num(in + 2, (size_t)(h1 - in - 2), &v) ||
        v > INT32_MAX)
        goto bad;
    ls->bc_off = in[0] == '<' ? -(int64_t)v : (int64_t)v;
    const char *o = h1 + 1;
    size_t on = (size_t)(h2 - o), k = 0;
    if (k < on && strchr("hdai", o[k]) && o[k])
        ls->bc_fmt = o[k] == 'h' ? KH_BC_HEX : o[k] == 'd' ? KH_BC_DEC : o[k] == 'a' ? KH_BC_AUTO : KH_BC_RAW, k++;
    else
        goto bad;
    ls->bc_le = 2; /* not given */
    if (k < on && (o[k] == 'l' || o[k] == 'b'))
        ls->bc_le = o[k] == 'l', k++;
    if (k < on && o[k] == 'e')
        ls->bc_exact = 1, k++;
    if (parse_num(o + k, on - k, &v) || v == 0 || v > 64)
        goto bad;
    ls->bc_len = (uint8_t)v;
    if (ls->bc_fmt == KH_BC_RAW) {
        if (v != 1 && v != 2 && v != 4 && v != 8)
            goto bad;
        ls->bc_exact = 1;
    }
    if (ls->bc_fmt == KH_BC_DEC && ls->bc_le == 1)
        goto bad;
    const char *cmp = h2 + 1;
    size_t cn = (size_t)(in + m - cmp);
    while (cn && ls->bc_ncmp < 2) {
        const char *comma = memchr(cmp, ',', cn);
        size_t one = comma ? (size_t)(comma - cmp) : cn;
        if (one < 2 || !strchr("<>=", cmp[0]) || parse_num(cmp + 1, one - 1, &v))
            goto bad;
        ls->bc_op[ls->bc_ncmp] = (uint8_t)cmp[0];
        ls->bc_val[ls->bc_ncmp] = v;
        ls->bc_ncmp++;
        if (!comma)
            break;
        cmp = comma + 1;
        cn -= one + 1;
    }
    if (!ls->bc_ncmp)
        goto bad;
    ls->kind = KH_LS_BCOMP;
    ls->trigger = trig;
    ls->pat = UINT32_MAX;
    return 0;
bad:
    diagf(c, KH_DIAG_ERROR, ln, t->col + 1, "bad byte-compare subsignature (expected N(>>OFFSET#OPTIONS#COMPARISONS))");
    return KH_ESYNTAX;
}

static int parse_hex_sub(kh_dbctx *c, const tok *t, unsigned ln, uint8_t target, kh_lsub *ls, uint32_t *root_out,
                         const char **why)
{
    const char *s = t->s;
    size_t n = t->n;
    int nocase = 0, wide = 0, ascii = 0, fullword = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == ':' && s[i + 1] == ':') {
            for (size_t k = i + 2; k < n; k++) {
                switch (s[k]) {
                case 'i': nocase = 1; break;
                case 'w': wide = 1; break;
                case 'a': ascii = 1; break;
                case 'f': fullword = 1; break;
                default:
                    diagf(c, KH_DIAG_ERROR, ln, t->col + k + 1, "unknown subsignature modifier '%c' (i, w, f, a)", s[k]);
                    return KH_ESYNTAX;
                }
            }
            n = i;
            break;
        }
    }
    const char *hex = s;
    size_t hn = n;
    const char *colon = memchr(s, ':', n);
    if (colon) {
        int orc = kh_cav_offset_parse(s, (size_t)(colon - s), &ls->off);
        if (orc == KH_ESYNTAX) {
            diagf(c, KH_DIAG_ERROR, ln, t->col + 1,
                  "bad subsignature offset (expected *, n, n,m, EOF-n, EP+n, EP-n, Sx+n, SL+n, SEx or VI)");
            return KH_ESYNTAX;
        }
        if (orc == KH_EUNSUPPORTED) {
            *why = "offset";
            return SUB_UNSUP;
        }
        if (ls->off.kind >= KH_COFF_EP && target != 1 && target != 6 && target != 9) {
            diagf(c, KH_DIAG_ERROR, ln, t->col + 1,
                  "entry-point and section offsets need Target:1 (PE), 6 (ELF) or 9 (Mach-O)");
            return KH_ESYNTAX;
        }
        hex = colon + 1;
        hn = n - (size_t)(hex - s);
    }
    uint32_t root;
    size_t epos;
    const char *emsg;
    int rc = kh_clamav_hex_parse(c->b, hex, hn, &root, &epos, &emsg);
    if (rc == KH_ESYNTAX) {
        diagf(c, KH_DIAG_ERROR, ln, t->col + (size_t)(hex - s) + epos + 1, "bad hex subsignature: %s", emsg);
        return KH_ESYNTAX;
    }
    if (rc)
        return rc;
    uint32_t wroot = root;
    if (wide) {
        kh_buf wt = KH_BUF_INIT(1u << 20);
        rc = widen_hex(hex, hn, &wt);
        if (!rc)
            rc = kh_clamav_hex_parse(c->b, wt.data, wt.len, &wroot, &epos, &emsg);
        kh_buf_dispose(&wt);
        if (rc == KH_ESYNTAX) {
            *why = "modifier";
            return SUB_UNSUP;
        }
        if (rc)
            return rc;
    }
    if (nocase || wide || fullword) {
        rc = apply_mods(c->b, root, wroot, nocase, wide, ascii, fullword, &root);
        if (rc == KH_EUNSUPPORTED || rc == KH_ELIMIT) {
            *why = "modifier";
            return SUB_UNSUP;
        }
        if (rc)
            return rc;
    }
    ls->kind = KH_LS_HEX;
    *root_out = root;
    return SUB_OK;
}

int kh_ldb_line(kh_dbctx *c, const char *line, size_t n, unsigned ln, uint64_t unsup[KH_UNS_N])
{
    tok t[3 + KH_LSIG_MAX_SUBS + 1];
    size_t nt = 0, st = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || line[i] == ';') {
            if (nt == KH_ARRAY_LEN(t)) {
                diagf(c, KH_DIAG_ERROR, ln, i + 1, "more than %u subsignatures", KH_LSIG_MAX_SUBS);
                return KH_ESYNTAX;
            }
            t[nt].s = line + st, t[nt].n = i - st, t[nt].col = st;
            nt++;
            st = i + 1;
        }
    if (nt < 4) {
        diagf(c, KH_DIAG_ERROR, ln, 0, "expected NAME;TARGETBLOCK;EXPRESSION;SUBSIG0[;SUBSIG1...], found %zu field%s", nt,
              nt == 1 ? "" : "s");
        return KH_ESYNTAX;
    }
    if (!kh_clamav_check_name(t[0].s, t[0].n)) {
        diagf(c, KH_DIAG_ERROR, ln, 1, "signature name is empty, too long or has control characters");
        return KH_ESYNTAX;
    }
    /* Target description block */
    uint64_t target = UINT64_MAX, flo = 0, fhi = KH_CLAMAV_FLEVEL;
    int have_engine = 0;
    uint8_t flags = 0;
    uint64_t fs_lo = 0, fs_hi = 0, ep_lo = 0, ep_hi = 0, ns_lo = 0, ns_hi = 0;
    const char *tdb_unsup = NULL;
    for (size_t i = 0, s0 = 0; i <= t[1].n; i++) {
        if (i < t[1].n && t[1].s[i] != ',')
            continue;
        const char *kv = t[1].s + s0;
        size_t kn = i - s0, col = t[1].col + s0 + 1;
        s0 = i + 1;
        const char *colon = memchr(kv, ':', kn);
        if (!colon) {
            diagf(c, KH_DIAG_ERROR, ln, col, "target block entries are Key:Value");
            return KH_ESYNTAX;
        }
        size_t k = (size_t)(colon - kv);
        const char *v = colon + 1;
        size_t vn = kn - k - 1;
        uint64_t lo, hi;
#define KEY(name) (k == sizeof(name) - 1 && memcmp(kv, name, k) == 0)
        if (KEY("Target")) {
            if (kh_parse_u64(v, vn, &target) || target > 14) {
                diagf(c, KH_DIAG_ERROR, ln, col, "Target must be a number from 0 to 14");
                return KH_ESYNTAX;
            }
        } else if (KEY("Engine") || KEY("FileSize") || KEY("EntryPoint") || KEY("NumberOfSections")) {
            if (parse_range(v, vn, &lo, &hi)) {
                diagf(c, KH_DIAG_ERROR, ln, col, "%.*s needs a range MIN-MAX", (int)k, kv);
                return KH_ESYNTAX;
            }
            if (KEY("Engine"))
                flo = lo, fhi = hi, have_engine = 1;
            else if (KEY("FileSize"))
                fs_lo = lo, fs_hi = hi, flags |= KH_LF_FILESIZE;
            else if (KEY("EntryPoint"))
                ep_lo = lo, ep_hi = hi, flags |= KH_LF_EP;
            else
                ns_lo = lo, ns_hi = hi, flags |= KH_LF_NSECT;
        } else if (KEY("Container")) {
            if (vn == 11 && memcmp(v, "CL_TYPE_ANY", 11) == 0)
                flags |= KH_LF_ROOT;
            else if (vn > 8 && memcmp(v, "CL_TYPE_", 8) == 0)
                tdb_unsup = "Container";
            else {
                diagf(c, KH_DIAG_ERROR, ln, col, "Container needs a CL_TYPE_* name");
                return KH_ESYNTAX;
            }
        } else if (KEY("Intermediates") || KEY("IconGroup1") || KEY("IconGroup2") || KEY("HandlerType")) {
            tdb_unsup = "target block";
        } else {
            diagf(c, KH_DIAG_ERROR, ln, col, "unknown target block keyword '%.*s'", (int)k, kv);
            return KH_ESYNTAX;
        }
#undef KEY
    }
    KH_UNUSED(have_engine);
    if (target == UINT64_MAX) {
        diagf(c, KH_DIAG_ERROR, ln, t[1].col + 1, "the target block has no Target");
        return KH_ESYNTAX;
    }
    if (ep_hi > UINT32_MAX || ns_hi > UINT32_MAX) {
        diagf(c, KH_DIAG_ERROR, ln, t[1].col + 1, "EntryPoint and NumberOfSections must be below 2^32");
        return KH_ESYNTAX;
    }
    mark mk;
    set_mark(c, &mk);
    /* Expression */
    uint32_t nsub = (uint32_t)(nt - 3), li, expr;
    xp p = {c, t[2].s, NULL, 0, 0, 0, 0, 0};
    int rc = xparse(&p, t[2].s, t[2].n, &expr, 0);
    if (rc == KH_ESYNTAX) {
        diagf(c, KH_DIAG_ERROR, ln, t[2].col + p.errpos + 1, "bad logical expression: %s", p.err);
        rollback(c, &mk);
        return rc;
    }
    if (rc)
        return rc;
    if (p.maxid + 1 != nsub) {
        diagf(c, KH_DIAG_ERROR, ln, t[2].col + 1,
              "the logical expression refers to %u subsignature%s, the line has %u", p.maxid + 1,
              p.maxid ? "s" : "", nsub);
        rollback(c, &mk);
        return KH_ESYNTAX;
    }
    uint32_t maxval = p.maxval;
    /* Subsignatures (all checked, so that malformed lines are always reported) */
    const char *why = NULL;
    int has_pcre = 0, macho_off = 0;
    if ((rc = new_lsig(c, UINT32_MAX, (uint8_t)target, &li)))
        return rc;
    for (uint32_t k = 0; k < nsub && !rc; k++) {
        const tok *s = &t[3 + k];
        kh_lsub ls;
        memset(&ls, 0, sizeof(ls));
        ls.lsig = li;
        ls.idx = k;
        ls.pat = UINT32_MAX;
        const char *w = NULL;
        if (s->n == 0) {
            diagf(c, KH_DIAG_ERROR, ln, s->col + 1, "empty subsignature");
            rc = KH_ESYNTAX;
        } else if (s->n > 2 && s->s[0] == '$' && s->s[1] == '{') {
            w = "macro";
        } else if (s->n > 10 && memcmp(s->s, "fuzzy_img#", 10) == 0) {
            w = "fuzzy image hash";
        } else if (memchr(s->s, '/', s->n)) {
            rc = parse_pcre(c, s, ln, k, &ls, &w);
            if (rc == KH_ESYNTAX) {
                rollback(c, &mk);
                return rc;
            }
            if (rc == SUB_UNSUP)
                rc = 0;
            else if (!rc) {
                has_pcre = 1;
                /* the trigger's modifiers count too */
                for (size_t x = mk.lexprs; x < c->cav->lexprs.n; x++)
                    if (c->cav->lexprs.v[x].mod && c->cav->lexprs.v[x].v1 > maxval)
                        maxval = c->cav->lexprs.v[x].v1;
            }
        } else if (memchr(s->s, '#', s->n)) {
            rc = parse_bcomp(c, s, ln, k, &ls);
        } else {
            uint32_t root;
            rc = parse_hex_sub(c, s, ln, (uint8_t)target, &ls, &root, &w);
            if (rc == SUB_OK)
                rc = add_hex_pat(c, root, &ls.off, (uint32_t)c->cav->lsubs.n, &ls.pat);
            else if (rc == SUB_UNSUP)
                rc = 0;
        }
        if (rc == KH_ESYNTAX) {
            rollback(c, &mk);
            return rc;
        }
        if (!rc && w && !why)
            why = w;
        if (!rc && ls.off.kind >= KH_COFF_EP)
            macho_off = 1;
        if (!rc)
            rc = add_lsub(c, &ls);
    }
    if (rc)
        return rc;
    /* Keep it? */
    int keep = 0;
    if (flo > KH_CLAMAV_FLEVEL || fhi < KH_CLAMAV_FLEVEL) {
        c->stats->flevel_skipped++;
    } else if (kh_clamav_ignored(c, t[0].s, t[0].n, line, n)) {
        c->stats->ignored++;
    } else if (!kh_cav_target_ok(target)) {
        unsup[KH_UNS_TARGET]++;
        c->stats->unsupported++;
        c->stats->unsup_target++;
    } else if (target == 9 && ((flags & (KH_LF_EP | KH_LF_NSECT)) || macho_off)) {
        unsup[KH_UNS_MACHO]++;
        c->stats->unsupported++;
    } else if (tdb_unsup) {
        unsup[KH_UNS_TDB]++;
        c->stats->unsupported++;
        c->stats->unsup_feature++;
    } else if (why) {
        int off = strcmp(why, "offset") == 0;
        unsup[off ? KH_UNS_OFFSET : KH_UNS_SUBSIG]++;
        c->stats->unsupported++;
        if (off)
            c->stats->unsup_offset++;
        else
            c->stats->unsup_feature++;
    } else {
        keep = 1;
    }
    if (!keep) {
        rollback(c, &mk);
        return 0;
    }
    uint32_t sig;
    if ((rc = kh_clamav_add_sig(c, t[0].s, t[0].n, KH_DET_LOGICAL, UINT32_MAX, ln, &sig)))
        return rc;
    kh_lsig *l = &c->cav->lsigs.v[li];
    l->sig = sig;
    l->expr = expr;
    l->nsub = nsub;
    l->flags = flags;
    l->has_pcre = (uint8_t)has_pcre;
    l->cap = maxval + 1 > KH_LSIG_MAX_COUNT ? KH_LSIG_MAX_COUNT : maxval + 1;
    l->fs_lo = fs_lo, l->fs_hi = fs_hi;
    l->ep_lo = (uint32_t)ep_lo, l->ep_hi = (uint32_t)ep_hi;
    l->ns_lo = (uint32_t)ns_lo, l->ns_hi = (uint32_t)ns_hi;
    c->stats->logical++;
    return 0;
}
