/* Khiên — engine/clamav: ClamAV hex signatures to the rule tree.
 *
 * ClamAV writes body signatures as hex bytes with wildcards:
 *   ab        the byte 0xab              ??      any byte
 *   a? / ?a   high / low nibble fixed    *       any number of bytes
 *   {n} {-n} {n-} {n-m}   a bounded or open gap of arbitrary bytes
 *   [x-y]     a small gap (ClamAV restricts where it may appear; we do not)
 *   (aa|bb)   alternatives, single- or multi-byte, generic ones may differ
 *             in length and hold ?? and nibbles
 *   !(aa|bb)  any byte / same-length string that is none of them
 *   (B) (L) (W)  word boundary, line boundary, non-alphanumeric byte
 * The result is a SEQ of LIT (runs of exact bytes), CLASS (one byte from a
 * set: nibbles, single-byte alternatives), GAP (merged runs of ?? and
 * jumps), ALT/NALT and ASSERT nodes. The parser only builds the tree; what
 * is fast to match is decided by the matcher backend.
 */
#include "engine/clamav/clamav.h"

#include <stdlib.h>

#define MAX_SEQ 4096u

typedef struct hexp {
    kh_irb *b;
    const char *s;
    size_t n, i;
    const char *err;
    size_t errpos;
    /* pending run */
    kh_buf lit;
    uint32_t gmin, gmax;
    int have_gap;
} hexp;

static int fail(hexp *p, size_t pos, const char *msg)
{
    if (!p->err) {
        p->err = msg;
        p->errpos = pos;
    }
    return KH_ESYNTAX;
}

static int push_kid(kh_irb *b, uint32_t **v, size_t *n, size_t *cap, uint32_t idx)
{
    if (*n >= MAX_SEQ)
        return KH_ELIMIT;
    int rc = kh_grow((void **)v, cap, *n + 1, sizeof(uint32_t), MAX_SEQ);
    if (rc)
        return rc;
    (*v)[(*n)++] = idx;
    KH_UNUSED(b);
    return 0;
}

typedef struct kidvec {
    uint32_t *v;
    size_t n, cap;
} kidvec;

static int kv_push(hexp *p, kidvec *kv, uint32_t idx) { return push_kid(p->b, &kv->v, &kv->n, &kv->cap, idx); }

static int mk_lit(kh_irb *b, const uint8_t *s, size_t n, uint32_t *out)
{
    uint32_t off = (uint32_t)b->bytes.len;
    int rc = kh_buf_append(&b->bytes, s, n);
    return rc ? rc : kh_irb_node(b, KH_OP_LIT, off, (uint32_t)n, 0, out);
}

static int mk_class(kh_irb *b, const uint8_t bits[32], uint32_t *out)
{
    uint32_t off = (uint32_t)b->bytes.len;
    int rc = kh_buf_append(&b->bytes, bits, 32);
    return rc ? rc : kh_irb_node(b, KH_OP_CLASS, off, 0, 0, out);
}

static int mk_seq(kh_irb *b, uint8_t op, const kidvec *kv, uint32_t c, uint32_t *out)
{
    if (op == KH_OP_SEQ && kv->n == 1) {
        *out = kv->v[0];
        return 0;
    }
    uint32_t off = (uint32_t)b->kids.n;
    int rc = KH_VEC_RESERVE(b->kids, kv->n, UINT32_MAX);
    if (rc)
        return rc;
    memcpy(b->kids.v + b->kids.n, kv->v, kv->n * sizeof(uint32_t));
    b->kids.n += kv->n;
    return kh_irb_node(b, op, off, (uint32_t)kv->n, c, out);
}

static uint32_t sat_add(uint32_t x, uint32_t y) { return (x == KH_INF || y == KH_INF || x > KH_INF - y) ? KH_INF : x + y; }

/* Emits the pending literal run and gap, in the order they were seen. */
static int flush_lit(hexp *p, kidvec *kv)
{
    if (!p->lit.len)
        return 0;
    uint32_t idx;
    int rc = mk_lit(p->b, (const uint8_t *)p->lit.data, p->lit.len, &idx);
    if (!rc)
        rc = kv_push(p, kv, idx);
    kh_buf_clear(&p->lit);
    return rc;
}

static int flush_gap(hexp *p, kidvec *kv)
{
    if (!p->have_gap)
        return 0;
    uint32_t idx;
    int rc = kh_irb_node(p->b, KH_OP_GAP, p->gmin, p->gmax, 0, &idx);
    if (!rc)
        rc = kv_push(p, kv, idx);
    p->have_gap = 0;
    return rc;
}

static int add_gap(hexp *p, kidvec *kv, uint32_t lo, uint32_t hi)
{
    int rc = flush_lit(p, kv);
    if (rc)
        return rc;
    if (p->have_gap) {
        p->gmin = sat_add(p->gmin, lo);
        p->gmax = sat_add(p->gmax, hi);
    } else {
        p->have_gap = 1;
        p->gmin = lo;
        p->gmax = hi;
    }
    return 0;
}

static int add_node(hexp *p, kidvec *kv, uint32_t idx)
{
    int rc = flush_lit(p, kv);
    if (!rc)
        rc = flush_gap(p, kv);
    return rc ? rc : kv_push(p, kv, idx);
}

static int add_byte(hexp *p, kidvec *kv, uint8_t v)
{
    int rc = flush_gap(p, kv);
    return rc ? rc : kh_buf_putc(&p->lit, (char)v);
}

/* One hex token at p->i: "ab", "??", "a?", "?a". Sets *val and *mask (mask
 * 0xff exact, 0xf0 high nibble, 0x0f low nibble, 0 any). */
static int hex_token(hexp *p, uint8_t *val, uint8_t *mask)
{
    if (p->i + 1 >= p->n)
        return fail(p, p->i, "odd number of hex digits");
    int c0 = (unsigned char)p->s[p->i], c1 = (unsigned char)p->s[p->i + 1];
    int h = kh_hexval(c0), l = kh_hexval(c1);
    if (c0 == '?' && c1 == '?')
        *val = 0, *mask = 0;
    else if (h >= 0 && c1 == '?')
        *val = (uint8_t)(h << 4), *mask = 0xf0;
    else if (c0 == '?' && l >= 0)
        *val = (uint8_t)l, *mask = 0x0f;
    else if (h >= 0 && l >= 0)
        *val = (uint8_t)(h << 4 | l), *mask = 0xff;
    else
        return fail(p, h >= 0 || c0 == '?' ? p->i + 1 : p->i, "invalid hex digit");
    p->i += 2;
    return 0;
}

static void nibble_bits(uint8_t val, uint8_t mask, uint8_t bits[32])
{
    memset(bits, 0, 32);
    for (unsigned v = 0; v < 256; v++)
        if ((v & mask) == (val & mask))
            bits[v >> 3] |= (uint8_t)(1u << (v & 7));
}

static int parse_u32(hexp *p, uint32_t *out)
{
    size_t st = p->i;
    uint64_t v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        v = v * 10 + (uint64_t)(p->s[p->i] - '0');
        if (v >= KH_INF)
            return fail(p, st, "number too large");
        p->i++;
    }
    if (p->i == st)
        return fail(p, st, "expected a number");
    *out = (uint32_t)v;
    return 0;
}

/* {n} {-n} {n-} {n-m} or [x-y]; p->i is on the opening bracket. */
static int parse_range(hexp *p, kidvec *kv, char close)
{
    size_t st = p->i++;
    uint32_t lo = 0, hi;
    if (p->i < p->n && p->s[p->i] == '-') {
        if (close == ']')
            return fail(p, p->i, "expected a number");
        p->i++;
        int rc = parse_u32(p, &hi);
        if (rc)
            return rc;
    } else {
        int rc = parse_u32(p, &lo);
        if (rc)
            return rc;
        hi = lo;
        if (p->i < p->n && p->s[p->i] == '-') {
            p->i++;
            if (p->i < p->n && p->s[p->i] == close && close == '}')
                hi = KH_INF;
            else if ((rc = parse_u32(p, &hi)))
                return rc;
        } else if (close == ']') {
            return fail(p, p->i, "expected '-' in [x-y]");
        }
    }
    if (p->i >= p->n || p->s[p->i] != close)
        return fail(p, p->i >= p->n ? st : p->i, close == '}' ? "unterminated '{'" : "unterminated '['");
    p->i++;
    if (hi < lo)
        return fail(p, st, "range maximum below its minimum");
    return add_gap(p, kv, lo, hi);
}

/* One alternative of a group: a sequence of hex tokens up to '|' or ')'. */
typedef struct altv {
    uint8_t val[256], mask[256];
    size_t n;
} altv;

static int parse_group(hexp *p, kidvec *kv)
{
    size_t st = p->i;
    int neg = 0;
    if (p->s[p->i] == '!') {
        neg = 1;
        p->i++;
        if (p->i >= p->n || p->s[p->i] != '(')
            return fail(p, st, "'!' must be followed by '('");
    }
    p->i++; /* '(' */
    /* Special classes (B) (L) (W). */
    if (p->i + 1 < p->n && p->s[p->i + 1] == ')' && strchr("BLW", p->s[p->i]) && p->s[p->i]) {
        if (neg)
            return fail(p, st, "'!' cannot negate (B), (L) or (W)");
        uint32_t kind = p->s[p->i] == 'B' ? KH_AS_BOUNDARY : p->s[p->i] == 'L' ? KH_AS_LINE : KH_AS_NONALNUM;
        p->i += 2;
        uint32_t idx;
        int rc = kh_irb_node(p->b, KH_OP_ASSERT, kind, 0, 0, &idx);
        return rc ? rc : add_node(p, kv, idx);
    }
    altv *alts = NULL;
    size_t nalts = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (nalts >= KH_MAX_ALTS) {
            rc = fail(p, st, "too many alternatives");
            goto done;
        }
        if ((rc = kh_grow((void **)&alts, &cap, nalts + 1, sizeof(altv), KH_MAX_ALTS)))
            goto done;
        altv *a = &alts[nalts++];
        a->n = 0;
        while (p->i < p->n && p->s[p->i] != '|' && p->s[p->i] != ')') {
            if (a->n >= sizeof(a->val)) {
                rc = fail(p, p->i, "alternative longer than 256 bytes");
                goto done;
            }
            if ((rc = hex_token(p, &a->val[a->n], &a->mask[a->n])))
                goto done;
            a->n++;
        }
        if (p->i >= p->n) {
            rc = fail(p, st + (size_t)neg, "unterminated '('");
            goto done;
        }
        if (a->n == 0) {
            rc = fail(p, p->i, "empty alternative");
            goto done;
        }
        if (p->s[p->i++] == ')')
            break;
    }
    int all_single = 1, all_exact = 1, same_len = 1;
    for (size_t k = 0; k < nalts; k++) {
        all_single &= alts[k].n == 1;
        same_len &= alts[k].n == alts[0].n;
        for (size_t j = 0; j < alts[k].n; j++)
            all_exact &= alts[k].mask[j] == 0xff;
    }
    uint32_t idx;
    if (all_single) {
        uint8_t bits[32] = {0}, one[32];
        for (size_t k = 0; k < nalts; k++) {
            nibble_bits(alts[k].val[0], alts[k].mask[0], one);
            for (int j = 0; j < 32; j++)
                bits[j] |= one[j];
        }
        if (neg)
            for (int j = 0; j < 32; j++)
                bits[j] = (uint8_t)~bits[j];
        if ((rc = mk_class(p->b, bits, &idx)))
            goto done;
        rc = add_node(p, kv, idx);
        goto done;
    }
    if (neg && (!same_len || !all_exact)) {
        rc = fail(p, st, "negated alternatives must be exact strings of one length");
        goto done;
    }
    kidvec ak = {0};
    for (size_t k = 0; k < nalts && !rc; k++) {
        /* Each alternative becomes a LIT, or a SEQ of LIT/CLASS/GAP for generic ones. */
        kidvec sk = {0};
        kh_buf run = KH_BUF_INIT(0);
        for (size_t j = 0; j <= alts[k].n && !rc; j++) {
            if (j < alts[k].n && alts[k].mask[j] == 0xff) {
                rc = kh_buf_putc(&run, (char)alts[k].val[j]);
                continue;
            }
            if (run.len) {
                rc = mk_lit(p->b, (const uint8_t *)run.data, run.len, &idx);
                if (!rc)
                    rc = kv_push(p, &sk, idx);
                kh_buf_clear(&run);
            }
            if (rc || j == alts[k].n)
                break;
            if (alts[k].mask[j] == 0) {
                rc = kh_irb_node(p->b, KH_OP_GAP, 1, 1, 0, &idx);
            } else {
                uint8_t bits[32];
                nibble_bits(alts[k].val[j], alts[k].mask[j], bits);
                rc = mk_class(p->b, bits, &idx);
            }
            if (!rc)
                rc = kv_push(p, &sk, idx);
        }
        kh_buf_dispose(&run);
        if (!rc)
            rc = mk_seq(p->b, KH_OP_SEQ, &sk, 0, &idx);
        free(sk.v);
        if (!rc)
            rc = kv_push(p, &ak, idx);
    }
    if (!rc)
        rc = mk_seq(p->b, neg ? KH_OP_NALT : KH_OP_ALT, &ak, neg ? (uint32_t)alts[0].n : 0, &idx);
    free(ak.v);
    if (!rc)
        rc = add_node(p, kv, idx);
done:
    free(alts);
    return rc;
}

int kh_clamav_hex_parse(kh_irb *b, const char *hex, size_t n, uint32_t *root_out, size_t *errpos,
                        const char **errmsg)
{
    hexp p = {.b = b, .s = hex, .n = n};
    kh_buf_init(&p.lit, 1u << 20);
    kidvec kv = {0};
    int rc = 0;
    int has_bytes = 0;
    if (n == 0)
        rc = fail(&p, 0, "empty signature");
    while (!rc && p.i < p.n) {
        char c = p.s[p.i];
        if (c == '*') {
            p.i++;
            rc = add_gap(&p, &kv, 0, KH_INF);
        } else if (c == '{') {
            rc = parse_range(&p, &kv, '}');
        } else if (c == '[') {
            rc = parse_range(&p, &kv, ']');
        } else if (c == '(' || c == '!') {
            has_bytes = 1;
            rc = parse_group(&p, &kv);
        } else {
            uint8_t val, mask;
            size_t at = p.i;
            if ((rc = hex_token(&p, &val, &mask)))
                break;
            if (mask == 0xff) {
                has_bytes = 1;
                rc = add_byte(&p, &kv, val);
            } else if (mask == 0) {
                rc = add_gap(&p, &kv, 1, 1);
            } else {
                has_bytes = 1;
                uint8_t bits[32];
                uint32_t idx;
                nibble_bits(val, mask, bits);
                rc = mk_class(b, bits, &idx);
                if (!rc)
                    rc = add_node(&p, &kv, idx);
            }
            KH_UNUSED(at);
        }
    }
    if (!rc)
        rc = flush_lit(&p, &kv);
    if (!rc)
        rc = flush_gap(&p, &kv);
    if (!rc && !has_bytes)
        rc = fail(&p, 0, "signature has no fixed bytes");
    if (!rc && kv.n && b->nodes.v[kv.v[0]].op == KH_OP_GAP && b->nodes.v[kv.v[0]].b == KH_INF)
        rc = fail(&p, 0, "signature cannot start with '*'");
    if (!rc && kv.n && b->nodes.v[kv.v[kv.n - 1]].op == KH_OP_GAP &&
        b->nodes.v[kv.v[kv.n - 1]].b == KH_INF)
        rc = fail(&p, n - 1, "signature cannot end with '*'");
    uint32_t root = 0;
    if (!rc)
        rc = mk_seq(b, KH_OP_SEQ, &kv, 0, &root);
    free(kv.v);
    kh_buf_dispose(&p.lit);
    if (rc == KH_ESYNTAX || (rc && p.err)) {
        *errpos = p.errpos;
        *errmsg = p.err ? p.err : "syntax error";
        return KH_ESYNTAX;
    }
    if (rc == KH_ELIMIT) {
        *errpos = 0;
        *errmsg = "signature too complex";
        return KH_ESYNTAX;
    }
    if (rc)
        return rc;
    *root_out = root;
    return 0;
}

int kh_clamav_offset_parse(const char *s, size_t n, uint8_t *kind, uint64_t *off, uint32_t *shift)
{
    if (n == 1 && s[0] == '*') {
        *kind = KH_OFF_ANY;
        *off = 0;
        *shift = 0;
        return 0;
    }
    const char *comma = memchr(s, ',', n);
    size_t base_n = comma ? (size_t)(comma - s) : n;
    uint64_t sh = 0;
    if (comma && (kh_parse_u64(comma + 1, n - base_n - 1, &sh) || sh > UINT32_MAX))
        return KH_ESYNTAX;
    uint8_t k;
    uint64_t v;
    if (base_n > 4 && memcmp(s, "EOF-", 4) == 0) {
        k = KH_OFF_EOF;
        if (kh_parse_u64(s + 4, base_n - 4, &v))
            return KH_ESYNTAX;
    } else if ((base_n > 3 && (memcmp(s, "EP+", 3) == 0 || memcmp(s, "EP-", 3) == 0)) ||
               (base_n > 2 && (s[0] == 'S' && (s[1] == 'L' || s[1] == 'E' || (s[1] >= '0' && s[1] <= '9'))))) {
        return KH_EUNSUPPORTED;
    } else {
        k = KH_OFF_ABS;
        if (kh_parse_u64(s, base_n, &v))
            return KH_ESYNTAX;
    }
    *kind = k;
    *off = v;
    *shift = (uint32_t)sh;
    return 0;
}
