/* Khiên — engine/clamav: ClamAV hex signatures to the rule tree.
 *
 * ClamAV writes body signatures as hex bytes with wildcards:
 *   ab        the byte 0xab              ??      any byte
 *   a? / ?a   high / low nibble fixed    *       any number of bytes
 *   {n} {-n} {n-} {n-m}   a bounded or open gap of arbitrary bytes
 *   x[n-m]... / ...[n-m]x  a byte n to m bytes before / after the rest
 *   (aa|bb)   alternatives, single- or multi-byte, generic ones may differ
 *             in length, hold ?? and nibbles and nest
 *   !(aa|bb)  any byte / same-length string that is none of them
 *   (B) (L) (W)  boundary byte, line break, non-alphanumeric byte
 * The result is a SEQ of LIT (runs of exact bytes), CLASS (one byte from a
 * set: nibbles, single-byte alternatives, (B) (W)), GAP (merged runs of ??
 * and jumps), ALT/NALT, ASSERT and BEHIND/AHEAD nodes. The parser only
 * builds the tree; what is fast to match is decided by the matcher backend.
 *
 * The tree means what clamscan 1.4 does (docs/SIGNATURES.md), which depends
 * on how clamscan cuts a signature into parts: at every `*`, and at every
 * `{...}` from the first one that is not a plain {n} with 0 < n < 128 (those
 * before it become n ??). In a part:
 *   - (B) (L) (W) first look at the byte before the part, last at the byte
 *     after it (the file's edges count), elsewhere they consume a byte
 *     (CRLF for (L)); `!` negates, and a `!(B)` first in a part consumes;
 *   - x[n-m] first and [n-m]x last are a byte before / after the part that
 *     the part's start and end do not include (a ?? there checks nothing);
 *     a [n-m] elsewhere is a gap (clamscan refuses it);
 *   - a range whose maximum is 0 ({0} {-0} {n-0} {} {-}) has no maximum.
 */
#include "engine/clamav/clamav.h"

#include <stdlib.h>

#define MAX_SEQ 4096u
#define MAX_NEST 15u   /* nested alternatives, as clamscan */
#define MAX_AROUND 32u /* x[n-m]: clamscan's limit on m */

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
    int has_bytes;
    size_t cs, ce; /* the current part, without its x[n-m] / [n-m]x edges */
    size_t sf;     /* where braces start cutting (split_from) */
} hexp;

static int fail(hexp *p, size_t pos, const char *msg)
{
    if (!p->err) {
        p->err = msg;
        p->errpos = pos;
    }
    return KH_ESYNTAX;
}

typedef struct kidvec {
    uint32_t *v;
    size_t n, cap;
} kidvec;

static int kv_push(hexp *p, kidvec *kv, uint32_t idx)
{
    KH_UNUSED(p);
    if (kv->n >= MAX_SEQ)
        return KH_ELIMIT;
    int rc = kh_grow((void **)&kv->v, &kv->cap, kv->n + 1, sizeof(uint32_t), MAX_SEQ);
    if (rc)
        return rc;
    kv->v[kv->n++] = idx;
    return 0;
}

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

static void set_bits(const char *set, size_t n, uint8_t bits[32])
{
    memset(bits, 0, 32);
    for (size_t i = 0; i < n; i++)
        bits[(uint8_t)set[i] >> 3] |= (uint8_t)(1u << ((uint8_t)set[i] & 7));
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

/* [n-m] or [n]; p->i is on '['. */
static int parse_bracket(hexp *p, uint32_t *lo, uint32_t *hi)
{
    size_t st = p->i++;
    int rc = parse_u32(p, lo);
    if (rc)
        return rc;
    *hi = *lo;
    if (p->i < p->n && p->s[p->i] == '-') {
        p->i++;
        if ((rc = parse_u32(p, hi)))
            return rc;
    }
    if (p->i >= p->n || p->s[p->i] != ']')
        return fail(p, p->i >= p->n ? st : p->i, "unterminated '['");
    p->i++;
    if (*hi < *lo)
        return fail(p, st, "range maximum below its minimum");
    return 0;
}

/* A jump between parts, {n} {-n} {n-} {n-m} {} {-}; p->i is on '{'. As in
 * clamscan, a maximum of 0 means no maximum. */
static int parse_jump(hexp *p, uint32_t *lo, uint32_t *hi)
{
    size_t st = p->i++;
    int rc;
    *lo = 0;
    *hi = 0;
    if (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        if ((rc = parse_u32(p, lo)))
            return rc;
        *hi = *lo;
        if (p->i < p->n && p->s[p->i] == '-') {
            p->i++;
            *hi = 0;
            if (p->i < p->n && p->s[p->i] != '}' && (rc = parse_u32(p, hi)))
                return rc;
        }
    } else if (p->i < p->n && p->s[p->i] == '-') {
        p->i++;
        if (p->i < p->n && p->s[p->i] != '}' && (rc = parse_u32(p, hi)))
            return rc;
    } else if (p->i < p->n && p->s[p->i] != '}') {
        return fail(p, p->i, "expected a number");
    }
    if (p->i >= p->n || p->s[p->i] != '}')
        return fail(p, p->i >= p->n ? st : p->i, "unterminated '{'");
    p->i++;
    if (*hi == 0)
        *hi = KH_INF;
    else if (*hi < *lo)
        return fail(p, st, "range maximum below its minimum");
    return 0;
}

/* Is s[at] the '{' of a plain {n} with 0 < n < 128 (written as n ?? by clamscan)? */
static int inline_brace(const char *s, size_t n, size_t at, size_t *end, uint32_t *val)
{
    size_t i = at + 1;
    uint32_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && v < 1000)
        v = v * 10 + (uint32_t)(s[i++] - '0');
    if (i == at + 1 || i >= n || s[i] != '}' || v == 0 || v >= 128)
        return 0;
    *end = i + 1;
    *val = v;
    return 1;
}

/* Where clamscan starts cutting at braces: the first '{' that is not inline. */
static size_t split_from(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t end;
        uint32_t v;
        if (s[i] != '{')
            continue;
        if (!inline_brace(s, n, i, &end, &v))
            return i;
        i = end - 1;
    }
    return n;
}

/* A look-behind/ahead byte: the token's set, n to m bytes away. */
static int mk_around(hexp *p, uint8_t op, uint8_t val, uint8_t mask, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint8_t bits[32];
    nibble_bits(val, mask, bits);
    uint32_t off = (uint32_t)p->b->bytes.len;
    int rc = kh_buf_append(&p->b->bytes, bits, 32);
    return rc ? rc : kh_irb_node(p->b, op, off, lo, hi, out);
}

/* (B) (L) (W), negated or not, at p->i (on '(' or '!'). Returns 1 if it was
 * one (*rc set), 0 if the group is something else. */
static int special(hexp *p, kidvec *kv, int *rc)
{
    size_t st = p->i;
    int neg = p->s[st] == '!';
    size_t o = st + (size_t)neg; /* the '(' */
    if (o + 2 >= p->n || p->s[o] != '(' || p->s[o + 2] != ')' || !strchr("BLW", p->s[o + 1]) || !p->s[o + 1])
        return 0;
    char k = p->s[o + 1];
    uint32_t kind = k == 'B' ? KH_AS_BOUNDARY : k == 'L' ? KH_AS_LINE : KH_AS_NONALNUM;
    size_t end = o + 3;
    /* clamscan: last in the part looks after it; first (not negated) looks
     * before it; anywhere else, one byte (or CRLF) is consumed */
    uint32_t mode = end == p->ce ? KH_AM_AFTER : (!neg && st == p->cs) ? KH_AM_BEFORE : KH_AM_CONSUME;
    uint32_t idx;
    p->i = end;
    if (mode == KH_AM_CONSUME && kind != KH_AS_LINE) {
        static const char bnd[] = "\n\r \"'-./<=>@_";
        uint8_t bits[32];
        if (kind == KH_AS_BOUNDARY) {
            set_bits(bnd, sizeof(bnd) - 1, bits);
        } else {
            memset(bits, 0xff, 32);
            for (int c = 0; c < 256; c++)
                if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
                    bits[c >> 3] &= (uint8_t)~(1u << (c & 7));
        }
        if (neg)
            for (int j = 0; j < 32; j++)
                bits[j] = (uint8_t)~bits[j];
        *rc = mk_class(p->b, bits, &idx);
    } else {
        *rc = kh_irb_node(p->b, KH_OP_ASSERT, kind, mode, (uint32_t)neg, &idx);
    }
    if (!*rc)
        *rc = add_node(p, kv, idx);
    return 1;
}

/* One item of an alternative: a hex token, or a nested group (node). */
typedef struct aitem {
    uint32_t node;
    uint8_t val, mask, is_node;
} aitem;

typedef struct aitems {
    aitem *v;
    size_t n, cap;
} aitems;

#define MAX_ALT_ITEMS (KH_MAX_ALTS * 256u)

/* The tree for one alternative: a SEQ of LIT / CLASS / GAP / nested nodes. */
static int alt_node(hexp *p, const aitem *it, size_t n, uint32_t *out)
{
    kidvec sk = {0};
    kh_buf run = KH_BUF_INIT(0);
    int rc = 0;
    uint32_t idx;
    for (size_t j = 0; j <= n && !rc; j++) {
        if (j < n && !it[j].is_node && it[j].mask == 0xff) {
            rc = kh_buf_putc(&run, (char)it[j].val);
            continue;
        }
        if (run.len) {
            rc = mk_lit(p->b, (const uint8_t *)run.data, run.len, &idx);
            if (!rc)
                rc = kv_push(p, &sk, idx);
            kh_buf_clear(&run);
        }
        if (rc || j == n)
            break;
        if (it[j].is_node) {
            idx = it[j].node;
        } else if (it[j].mask == 0) {
            rc = kh_irb_node(p->b, KH_OP_GAP, 1, 1, 0, &idx);
        } else {
            uint8_t bits[32];
            nibble_bits(it[j].val, it[j].mask, bits);
            rc = mk_class(p->b, bits, &idx);
        }
        if (!rc)
            rc = kv_push(p, &sk, idx);
    }
    kh_buf_dispose(&run);
    if (!rc)
        rc = mk_seq(p->b, KH_OP_SEQ, &sk, 0, out);
    free(sk.v);
    return rc;
}

/* A group "(..|..)" or "!(..|..)" at p->i; nested groups recurse. */
static int parse_alts(hexp *p, unsigned depth, uint32_t *out)
{
    size_t st = p->i;
    int neg = p->s[st] == '!';
    if (neg) {
        p->i++;
        if (p->i >= p->n || p->s[p->i] != '(')
            return fail(p, st, "'!' must be followed by '('");
    }
    if (depth > MAX_NEST)
        return fail(p, st, "alternatives nested too deep");
    p->i++; /* '(' */
    aitems items = {0};
    size_t *starts = NULL, nalts = 0, cap = 0; /* first item of each alternative */
    int rc = 0;
    for (;;) {
        if (nalts >= KH_MAX_ALTS) {
            rc = fail(p, st, "too many alternatives");
            goto done;
        }
        if ((rc = kh_grow((void **)&starts, &cap, nalts + 1, sizeof(size_t), KH_MAX_ALTS)))
            goto done;
        starts[nalts++] = items.n;
        size_t alt_at = p->i, len = 0;
        while (p->i < p->n && p->s[p->i] != '|' && p->s[p->i] != ')') {
            if (len >= 256) {
                rc = fail(p, p->i, "alternative longer than 256 bytes");
                goto done;
            }
            if ((rc = kh_grow((void **)&items.v, &items.cap, items.n + 1, sizeof(aitem), MAX_ALT_ITEMS)))
                goto done;
            aitem *a = &items.v[items.n];
            memset(a, 0, sizeof(*a));
            size_t end;
            uint32_t v;
            if (p->s[p->i] == '{') {
                /* an inline {n} is n ?? here too; a cutting brace is not allowed */
                if (neg || p->i >= p->sf || !inline_brace(p->s, p->n, p->i, &end, &v) || len + v > 256) {
                    rc = fail(p, p->i, "a range inside alternatives");
                    goto done;
                }
                if ((rc = kh_grow((void **)&items.v, &items.cap, items.n + v, sizeof(aitem), MAX_ALT_ITEMS)))
                    goto done;
                memset(&items.v[items.n], 0, v * sizeof(aitem)); /* mask 0: any byte */
                items.n += v;
                len += v;
                p->i = end;
                continue;
            }
            if (p->s[p->i] == '(' || p->s[p->i] == '!') {
                if (neg || p->s[p->i] == '!') {
                    rc = fail(p, p->i, "negated alternatives must be exact strings of one length");
                    goto done;
                }
                if ((rc = parse_alts(p, depth + 1, &a->node)))
                    goto done;
                a->is_node = 1;
            } else if ((rc = hex_token(p, &a->val, &a->mask))) {
                goto done;
            }
            items.n++;
            len++;
        }
        if (p->i >= p->n) {
            rc = fail(p, st + (size_t)neg, "unterminated '('");
            goto done;
        }
        if (len == 0) {
            rc = fail(p, p->i, "empty alternative");
            goto done;
        }
        KH_UNUSED(alt_at);
        if (p->s[p->i++] == ')')
            break;
    }
    int all_single = 1, all_exact = 1, same_len = 1;
    size_t len0 = (nalts > 1 ? starts[1] : items.n) - starts[0];
    for (size_t k = 0; k < nalts; k++) {
        size_t b0 = starts[k], b1 = k + 1 < nalts ? starts[k + 1] : items.n;
        all_single &= b1 - b0 == 1 && !items.v[b0].is_node;
        same_len &= b1 - b0 == len0;
        for (size_t j = b0; j < b1; j++)
            all_exact &= !items.v[j].is_node && items.v[j].mask == 0xff;
    }
    p->has_bytes = 1;
    if (all_single) {
        uint8_t bits[32] = {0}, one[32];
        for (size_t k = 0; k < nalts; k++) {
            nibble_bits(items.v[starts[k]].val, items.v[starts[k]].mask, one);
            for (int j = 0; j < 32; j++)
                bits[j] |= one[j];
        }
        if (neg)
            for (int j = 0; j < 32; j++)
                bits[j] = (uint8_t)~bits[j];
        rc = mk_class(p->b, bits, out);
        goto done;
    }
    if (neg && (!same_len || !all_exact)) {
        rc = fail(p, st, "negated alternatives must be exact strings of one length");
        goto done;
    }
    kidvec ak = {0};
    for (size_t k = 0; k < nalts && !rc; k++) {
        size_t b0 = starts[k], b1 = k + 1 < nalts ? starts[k + 1] : items.n;
        uint32_t idx;
        rc = alt_node(p, items.v + b0, b1 - b0, &idx);
        if (!rc)
            rc = kv_push(p, &ak, idx);
    }
    if (!rc)
        rc = mk_seq(p->b, neg ? KH_OP_NALT : KH_OP_ALT, &ak, neg ? (uint32_t)len0 : 0, out);
    free(ak.v);
done:
    free(items.v);
    free(starts);
    return rc;
}

/* One part, s[ps, pe): its x[n-m] / [n-m]x edges, then the tokens. */
static int parse_part(hexp *p, kidvec *kv, size_t ps, size_t pe)
{
    int rc = 0;
    uint32_t idx, lo, hi;
    uint8_t val, mask;
    p->cs = ps;
    p->ce = pe;
    /* x[n-m] first: a byte before the part */
    if (pe - ps > 3 && p->s[ps + 2] == '[') {
        p->i = ps;
        if ((rc = hex_token(p, &val, &mask)) || (rc = parse_bracket(p, &lo, &hi)))
            return rc;
        if (hi > MAX_AROUND)
            return fail(p, ps + 2, "x[n-m] allows at most 32 bytes");
        if (mask && ((rc = mk_around(p, KH_OP_BEHIND, val, mask, lo, hi, &idx)) || (rc = add_node(p, kv, idx))))
            return rc;
        p->cs = p->i;
    }
    /* [n-m]x last: a byte after it, added once the part is read */
    size_t around = 0;
    if (pe - p->cs > 3 && p->s[pe - 3] == ']') {
        size_t k = pe - 3;
        while (k > p->cs && p->s[k] != '[' && p->s[k] != ')' && p->s[k] != '(')
            k--;
        if (p->s[k] == '[') {
            around = k;
            p->ce = k;
        }
    }
    p->i = p->cs;
    while (!rc && p->i < p->ce) {
        char c = p->s[p->i];
        size_t end;
        uint32_t v;
        if (c == '{' && inline_brace(p->s, p->ce, p->i, &end, &v)) {
            p->i = end;
            rc = add_gap(p, kv, v, v);
        } else if (c == '{' || c == '*') {
            rc = fail(p, p->i, "internal: jump inside a part");
        } else if (c == '[') {
            /* not at a part's edge: clamscan refuses it, we read a gap */
            if (!(rc = parse_bracket(p, &lo, &hi)))
                rc = add_gap(p, kv, lo, hi);
        } else if (c == '(' || c == '!') {
            if (!special(p, kv, &rc)) {
                rc = parse_alts(p, 0, &idx);
                if (!rc)
                    rc = add_node(p, kv, idx);
            }
        } else {
            if ((rc = hex_token(p, &val, &mask)))
                break;
            if (mask == 0xff) {
                p->has_bytes = 1;
                rc = add_byte(p, kv, val);
            } else if (mask == 0) {
                rc = add_gap(p, kv, 1, 1);
            } else {
                uint8_t bits[32];
                p->has_bytes = 1;
                nibble_bits(val, mask, bits);
                rc = mk_class(p->b, bits, &idx);
                if (!rc)
                    rc = add_node(p, kv, idx);
            }
        }
    }
    if (!rc && p->i > p->ce)
        rc = fail(p, p->ce, "a group runs past the end of its part");
    if (!rc && around) {
        p->i = around;
        if ((rc = parse_bracket(p, &lo, &hi)) || (rc = hex_token(p, &val, &mask)))
            return rc;
        if (hi > MAX_AROUND)
            return fail(p, around, "[n-m]x allows at most 32 bytes");
        if (mask && ((rc = mk_around(p, KH_OP_AHEAD, val, mask, lo, hi, &idx)) || (rc = add_node(p, kv, idx))))
            return rc;
    }
    return rc;
}

int kh_clamav_hex_parse(kh_irb *b, const char *hex, size_t n, uint32_t *root_out, size_t *errpos,
                        const char **errmsg)
{
    hexp p = {.b = b, .s = hex, .n = n};
    kh_buf_init(&p.lit, 1u << 20);
    kidvec kv = {0};
    int rc = 0;
    size_t sf = split_from(hex, n), pos = 0;
    p.sf = sf;
    if (n == 0)
        rc = fail(&p, 0, "empty signature");
    while (!rc && pos < n) {
        /* the part runs to the next '*' or cutting '{' outside parentheses */
        size_t e = pos;
        unsigned depth = 0;
        for (; e < n; e++) {
            char c = hex[e];
            if (c == '(')
                depth++;
            else if (c == ')' && depth)
                depth--;
            else if (!depth && (c == '*' || (c == '{' && e >= sf)))
                break;
        }
        if (e == pos) {
            rc = fail(&p, pos, pos == 0 ? (hex[0] == '*' ? "signature cannot start with '*'"
                                                         : "signature cannot start with a range")
                                        : "empty part between two jumps");
            break;
        }
        if ((rc = parse_part(&p, &kv, pos, e)))
            break;
        if (e == n)
            break;
        uint32_t lo = 0, hi = KH_INF;
        p.i = e;
        if (hex[e] == '*')
            p.i++;
        else if ((rc = parse_jump(&p, &lo, &hi)))
            break;
        if (p.i >= n) {
            rc = fail(&p, n - 1, hex[e] == '*' ? "signature cannot end with '*'" : "signature cannot end with a range");
            break;
        }
        rc = add_gap(&p, &kv, lo, hi);
        pos = p.i;
    }
    if (!rc)
        rc = flush_lit(&p, &kv);
    if (!rc)
        rc = flush_gap(&p, &kv);
    if (!rc && !p.has_bytes)
        rc = fail(&p, 0, "signature has no fixed bytes");
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

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
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
               (base_n > 2 && (s[0] == 'S' && (s[1] == 'L' || s[1] == 'E' || (s[1] >= '0' && s[1] <= '9')))) ||
               (n == 2 && memcmp(s, "VI", 2) == 0)) {
        /* entry point, sections, PE version information: checked, not supported */
        int ok;
        if (s[0] == 'E') {
            ok = all_digits(s + 3, base_n - 3); /* EP+n EP-n */
        } else if (s[0] == 'V') {
            ok = 1; /* VI */
        } else if (s[1] == 'E') {
            ok = all_digits(s + 2, base_n - 2); /* SEx */
        } else {
            const char *plus = memchr(s, '+', base_n); /* Sx+n SL+n */
            size_t pre = plus ? (size_t)(plus - s) : 0;
            ok = plus && (s[1] == 'L' ? pre == 2 : all_digits(s + 1, pre - 1)) &&
                 all_digits(plus + 1, base_n - pre - 1);
        }
        return ok ? KH_EUNSUPPORTED : KH_ESYNTAX;
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
