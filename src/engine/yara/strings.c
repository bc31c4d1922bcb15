/* Khiên — engine/yara: lowering text and hex strings to pattern trees.
 *
 * Text strings become the set of byte strings yara would search for, as
 * alternatives of one tree:
 *   ascii / wide        the bytes, and/or each byte followed by 0x00;
 *   nocase              a two-byte class for every letter;
 *   xor(a-b)            the (ascii/wide) bytes XORed with every key a..b;
 *   base64 / base64wide the three base64 encodings of the string (of its
 *                       wide form with `wide`) at each alignment, without the
 *                       characters that depend on the neighbouring bytes,
 *                       optionally widened; a 1-byte string has two (the
 *                       middle alignment leaves nothing).
 * Hex strings become a sequence of literal runs, classes (nibbles, `~`
 * negation), gaps (`??` and jumps, lazy as in yara) and alternatives.
 * Order of alternatives is kept: the first that matches wins, as in yara.
 */
#include <stdlib.h>

#include "engine/yara/ybuild.h"

#define MAX_HEX_TOKENS 65536u
#define MAX_VARIANTS 1024u

typedef struct kv {
    uint32_t *v;
    size_t n, cap;
} kv;

static int kv_push(kv *k, uint32_t x)
{
    int rc = kh_grow((void **)&k->v, &k->cap, k->n + 1, sizeof(uint32_t), 1u << 20);
    if (!rc)
        k->v[k->n++] = x;
    return rc;
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

/* SEQ/ALT node over the collected children (a single child stands alone). */
static int mk_list(kh_irb *b, uint8_t op, const kv *k, uint32_t *out)
{
    if (k->n == 1) {
        *out = k->v[0];
        return 0;
    }
    uint32_t off = (uint32_t)b->kids.n;
    int rc = KH_VEC_RESERVE(b->kids, k->n ? k->n : 1, UINT32_MAX);
    if (rc)
        return rc;
    if (k->n)
        memcpy(b->kids.v + b->kids.n, k->v, k->n * sizeof(uint32_t));
    b->kids.n += k->n;
    return kh_irb_node(b, op, off, (uint32_t)k->n, 0, out);
}

static int is_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Bytes (with `zero` after each when wide) as a tree; letters as classes when nocase. */
static int text_tree(kh_irb *b, const uint8_t *s, size_t n, int wide, int nocase, uint32_t *out)
{
    kv seq = {0};
    kh_buf run = KH_BUF_INIT(0);
    int rc = 0;
    for (size_t i = 0; i <= n && !rc; i++) {
        if (i < n && !(nocase && is_alpha(s[i]))) {
            rc = kh_buf_putc(&run, (char)s[i]);
            if (!rc && wide)
                rc = kh_buf_putc(&run, 0);
            continue;
        }
        if (run.len) {
            uint32_t idx;
            if (!(rc = mk_lit(b, (const uint8_t *)run.data, run.len, &idx)))
                rc = kv_push(&seq, idx);
            kh_buf_clear(&run);
        }
        if (rc || i == n)
            break;
        uint8_t bits[32] = {0};
        uint8_t lo = (uint8_t)(s[i] | 0x20), up = (uint8_t)(s[i] & ~0x20);
        bits[lo >> 3] |= (uint8_t)(1u << (lo & 7));
        bits[up >> 3] |= (uint8_t)(1u << (up & 7));
        uint32_t idx;
        if (!(rc = mk_class(b, bits, &idx)))
            rc = kv_push(&seq, idx);
        if (!rc && wide) {
            const uint8_t z = 0;
            if (!(rc = kh_buf_append(&run, &z, 1)))
                continue;
        }
    }
    if (!rc)
        rc = mk_list(b, KH_OP_SEQ, &seq, out);
    free(seq.v);
    kh_buf_dispose(&run);
    return rc;
}

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The three base64 forms of s, trimmed of characters that depend on the
 * bytes around s (yara's base64 modifier). */
static int base64_forms(kh_irb *b, const uint8_t *s, size_t n, const char *alpha, int wide, kv *alts)
{
    int rc = 0;
    for (unsigned shift = 0; shift < 3 && !rc; shift++) {
        size_t len = shift + n;
        uint8_t *in = calloc(len + 3, 1);
        char *enc = malloc((len + 2) / 3 * 4 + 1);
        if (!in || !enc) {
            free(in);
            free(enc);
            return KH_ENOMEM;
        }
        memcpy(in + shift, s, n);
        size_t e = 0;
        for (size_t i = 0; i < len; i += 3) {
            uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)(i + 1 < len ? in[i + 1] : 0) << 8 |
                         (uint32_t)(i + 2 < len ? in[i + 2] : 0);
            size_t chunk = len - i >= 3 ? 3 : len - i;
            enc[e++] = alpha[v >> 18 & 63];
            enc[e++] = alpha[v >> 12 & 63];
            if (chunk > 1)
                enc[e++] = alpha[v >> 6 & 63];
            if (chunk > 2)
                enc[e++] = alpha[v & 63];
        }
        size_t head = shift == 0 ? 0 : shift == 1 ? 2 : 3;
        size_t tail = len % 3 == 0 ? 0 : len % 3 == 1 ? 1 : 1;
        /* without padding characters: 1 leftover byte gives 2 chars (drop 1), 2 give 3 (drop 1) */
        if (e > head + tail) {
            uint32_t idx;
            rc = text_tree(b, (const uint8_t *)enc + head, e - head - tail, wide, 0, &idx);
            if (!rc)
                rc = kv_push(alts, idx);
        }
        free(in);
        free(enc);
    }
    return rc;
}

int kh_ytext_lower(kh_irb *b, const uint8_t *s, size_t n, uint32_t flags, unsigned xmin, unsigned xmax,
                   const char *alphabet, uint32_t *root, const char **err)
{
    kv alts = {0};
    int rc = 0;
    *err = NULL;
    if (flags & (KH_YS_BASE64 | KH_YS_BASE64WIDE)) {
        /* yara's order: the encodings of the wide form first (with `wide`),
         * then those of the ascii form (with `ascii`, or without `wide`) */
        const char *alpha = alphabet ? alphabet : std_alphabet;
        uint8_t *w = malloc(2 * n + 1);
        if (!w)
            return KH_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            w[2 * i] = s[i];
            w[2 * i + 1] = 0;
        }
        for (int form = 0; form < 2 && !rc; form++) {
            if (form == 0 ? !(flags & KH_YS_WIDE) : (flags & KH_YS_WIDE) && !(flags & KH_YS_ASCII))
                continue;
            const uint8_t *src = form == 0 ? w : s;
            size_t len = form == 0 ? 2 * n : n;
            if (flags & KH_YS_BASE64)
                rc = base64_forms(b, src, len, alpha, 0, &alts);
            if (!rc && (flags & KH_YS_BASE64WIDE))
                rc = base64_forms(b, src, len, alpha, 1, &alts);
        }
        free(w);
    } else {
        int ascii = (flags & KH_YS_ASCII) || !(flags & KH_YS_WIDE);
        int wide = (flags & KH_YS_WIDE) != 0;
        unsigned k0 = (flags & KH_YS_XOR) ? xmin : 0, k1 = (flags & KH_YS_XOR) ? xmax : 0;
        uint8_t *x = malloc(2 * n + 1);
        if (!x)
            return KH_ENOMEM;
        for (unsigned key = k0; key <= k1 && !rc; key++) {
            for (int w = 0; w < 2 && !rc; w++) {
                if ((w == 0 && !ascii) || (w == 1 && !wide))
                    continue;
                uint32_t idx;
                if (flags & KH_YS_XOR) {
                    size_t m = 0;
                    for (size_t i = 0; i < n; i++) {
                        x[m++] = (uint8_t)(s[i] ^ key);
                        if (w)
                            x[m++] = (uint8_t)key;
                    }
                    rc = mk_lit(b, x, m, &idx);
                } else {
                    rc = text_tree(b, s, n, w, (flags & KH_YS_NOCASE) != 0, &idx);
                }
                if (!rc)
                    rc = kv_push(&alts, idx);
            }
        }
        free(x);
    }
    if (!rc)
        rc = mk_list(b, KH_OP_ALT, &alts, root);
    free(alts.v);
    return rc;
}

/* ---- Widening a tree (regular expressions with `wide`) -------------------------------- */

static int widen(kh_irb *b, uint32_t idx, uint32_t *out, unsigned depth)
{
    if (depth > 200)
        return KH_ELIMIT;
    kh_node n = b->nodes.v[idx];
    int rc = 0;
    switch (n.op) {
    case KH_OP_LIT: {
        uint8_t *w = malloc(2 * (size_t)n.b + 1);
        if (!w)
            return KH_ENOMEM;
        for (uint32_t i = 0; i < n.b; i++) {
            w[2 * i] = (uint8_t)b->bytes.data[n.a + i];
            w[2 * i + 1] = 0;
        }
        rc = mk_lit(b, w, 2 * (size_t)n.b, out);
        free(w);
        return rc;
    }
    case KH_OP_CLASS: {
        uint32_t z, c = idx;
        const uint8_t zero = 0;
        if ((rc = mk_lit(b, &zero, 1, &z)))
            return rc;
        kv k = {0};
        if (!(rc = kv_push(&k, c)) && !(rc = kv_push(&k, z)))
            rc = mk_list(b, KH_OP_SEQ, &k, out);
        free(k.v);
        return rc;
    }
    case KH_OP_GAP: {
        /* n arbitrary characters, each followed by a zero byte */
        uint32_t any, z, pair;
        const uint8_t zero = 0;
        if ((rc = kh_irb_node(b, KH_OP_GAP, 1, 1, 0, &any)) || (rc = mk_lit(b, &zero, 1, &z)))
            return rc;
        kv k = {0};
        if (!(rc = kv_push(&k, any)) && !(rc = kv_push(&k, z)))
            rc = mk_list(b, KH_OP_SEQ, &k, &pair);
        free(k.v);
        if (!rc && !(rc = kh_irb_node(b, KH_OP_REPEAT, pair, n.a, n.b, out)))
            b->nodes.v[*out].pad[0] = n.pad[0];
        return rc;
    }
    case KH_OP_ASSERT:
        /* \b and \B look at wide characters (yara: a word character
         * followed by 0x00), the others at positions */
        if (n.a == KH_AS_WORDB || n.a == KH_AS_NWORDB)
            return kh_irb_node(b, KH_OP_ASSERT, n.a == KH_AS_WORDB ? KH_AS_WORDB_W : KH_AS_NWORDB_W, n.b, n.c, out);
        *out = idx;
        return 0;
    case KH_OP_REPEAT: {
        uint32_t c;
        if ((rc = widen(b, n.a, &c, depth + 1)))
            return rc;
        if (!(rc = kh_irb_node(b, KH_OP_REPEAT, c, n.b, n.c, out)))
            b->nodes.v[*out].pad[0] = n.pad[0];
        return rc;
    }
    case KH_OP_SEQ:
    case KH_OP_ALT: {
        kv k = {0};
        for (uint32_t i = 0; i < n.b && !rc; i++) {
            uint32_t c;
            if (!(rc = widen(b, b->kids.v[n.a + i], &c, depth + 1)))
                rc = kv_push(&k, c);
        }
        if (!rc) {
            uint32_t off = (uint32_t)b->kids.n;
            if (!(rc = KH_VEC_RESERVE(b->kids, k.n ? k.n : 1, UINT32_MAX))) {
                if (k.n) /* an empty sequence (an empty regex alternative): nothing to copy */
                    memcpy(b->kids.v + b->kids.n, k.v, k.n * sizeof(uint32_t));
                b->kids.n += k.n;
                rc = kh_irb_node(b, n.op, off, (uint32_t)k.n, 0, out);
            }
        }
        free(k.v);
        return rc;
    }
    }
    return KH_EINTERNAL;
}

int kh_ytree_widen(kh_irb *b, uint32_t root, uint32_t flags, uint32_t *out)
{
    uint32_t w;
    int rc = widen(b, root, &w, 0);
    if (rc || !(flags & KH_YS_ASCII)) {
        if (!rc)
            *out = w;
        return rc;
    }
    kv k = {0};
    if (!(rc = kv_push(&k, root)) && !(rc = kv_push(&k, w)))
        rc = mk_list(b, KH_OP_ALT, &k, out);
    free(k.v);
    return rc;
}

/* ---- Hex strings ---------------------------------------------------------------------------- */

typedef struct hx {
    kh_irb *b;
    const char *s;
    size_t n, i;
    const char *err;
    size_t errpos;
} hx;

static int hfail(hx *h, const char *msg)
{
    if (!h->err) {
        h->err = msg;
        h->errpos = h->i;
    }
    return KH_ESYNTAX;
}

static void hskip(hx *h)
{
    while (h->i < h->n && strchr(" \t\r\n\v\f", h->s[h->i]))
        h->i++;
}

static int hnum(hx *h, uint32_t *out)
{
    hskip(h);
    size_t st = h->i;
    uint64_t v = 0;
    while (h->i < h->n && h->s[h->i] >= '0' && h->s[h->i] <= '9') {
        v = v * 10 + (uint64_t)(h->s[h->i] - '0');
        if (v > 0x7fffffff)
            return hfail(h, "jump too large");
        h->i++;
    }
    if (h->i == st)
        return hfail(h, "syntax error");
    *out = (uint32_t)v;
    return 0;
}

static int hex_seq(hx *h, uint32_t *out, unsigned depth, int in_alt);

static void set_bits(uint8_t bits[32], uint8_t val, uint8_t mask, int neg)
{
    memset(bits, 0, 32);
    for (unsigned v = 0; v < 256; v++)
        if (((v & mask) == (val & mask)) != neg)
            bits[v >> 3] |= (uint8_t)(1u << (v & 7));
}

/* A sequence until '|' or ')' (in_alt) or the end. */
static int hex_seq(hx *h, uint32_t *out, unsigned depth, int in_alt)
{
    if (depth > 32)
        return hfail(h, "alternatives nested too deeply");
    kv seq = {0};
    kh_buf run = KH_BUF_INIT(0);
    int rc = 0;
    unsigned tokens = 0;
    int last_jump = 0, any = 0;
    uint32_t gmin = 0, gmax = 0;
    int have_gap = 0, gap_lazy = 0;
#define FLUSH_RUN()                                                                        \
    do {                                                                                   \
        if (!rc && run.len) {                                                              \
            uint32_t i_;                                                                   \
            if (!(rc = mk_lit(h->b, (const uint8_t *)run.data, run.len, &i_)))           \
                rc = kv_push(&seq, i_);                                                    \
            kh_buf_clear(&run);                                                            \
        }                                                                                  \
    } while (0)
#define FLUSH_GAP()                                                                        \
    do {                                                                                   \
        if (!rc && have_gap) {                                                             \
            uint32_t i_;                                                                   \
            if (!(rc = kh_irb_node(h->b, KH_OP_GAP, gmin, gmax, 0, &i_))) {                \
                h->b->nodes.v[i_].pad[0] = (uint8_t)(gap_lazy ? KH_NF_LAZY : 0);           \
                rc = kv_push(&seq, i_);                                                    \
            }                                                                              \
            have_gap = 0;                                                                  \
            gap_lazy = 0;                                                                  \
        }                                                                                  \
    } while (0)
    for (;;) {
        hskip(h);
        if (h->i >= h->n)
            break;
        char c = h->s[h->i];
        if (c == '|' || c == ')') {
            if (!in_alt) {
                rc = hfail(h, "syntax error");
            }
            break;
        }
        if (++tokens > MAX_HEX_TOKENS) {
            rc = hfail(h, "hex string too long");
            break;
        }
        if (c == '[') {
            if (!any) {
                rc = hfail(h, "syntax error: a hex string cannot start with a jump");
                break;
            }
            size_t jstart = h->i; /* the '[': where a bad range is reported */
            h->i++;
            uint32_t lo = 0, hi;
            hskip(h);
            if (h->i < h->n && h->s[h->i] == '-') {
                h->i++;
                hi = KH_INF;
            } else {
                if ((rc = hnum(h, &lo)))
                    break;
                hskip(h);
                hi = lo;
                if (h->i < h->n && h->s[h->i] == '-') {
                    h->i++;
                    hskip(h);
                    if (h->i < h->n && h->s[h->i] == ']')
                        hi = KH_INF;
                    else if ((rc = hnum(h, &hi)))
                        break;
                }
            }
            hskip(h);
            if (h->i >= h->n || h->s[h->i] != ']') {
                rc = hfail(h, "syntax error");
                break;
            }
            h->i++;
            if (hi < lo) {
                h->i = jstart;
                rc = hfail(h, "invalid jump range: lower bound greater than upper bound");
                break;
            }
            FLUSH_RUN();
            if (have_gap) {
                gmin = gmin + lo < gmin ? KH_INF : gmin + lo;
                gmax = (gmax == KH_INF || hi == KH_INF) ? KH_INF : gmax + hi;
            } else {
                have_gap = 1;
                gmin = lo;
                gmax = hi;
            }
            gap_lazy |= lo != hi;
            last_jump = 1;
            continue;
        }
        if (c == '(') {
            h->i++;
            kv alts = {0};
            for (;;) {
                uint32_t a;
                if ((rc = hex_seq(h, &a, depth + 1, 1)))
                    break;
                if ((rc = kv_push(&alts, a)))
                    break;
                hskip(h);
                if (h->i >= h->n) {
                    rc = hfail(h, "syntax error: unterminated alternative");
                    break;
                }
                if (h->s[h->i++] == ')')
                    break;
            }
            uint32_t idx;
            if (!rc)
                rc = mk_list(h->b, KH_OP_ALT, &alts, &idx);
            free(alts.v);
            if (rc)
                break;
            FLUSH_RUN();
            FLUSH_GAP();
            if (!rc)
                rc = kv_push(&seq, idx);
            any = 1;
            last_jump = 0;
            continue;
        }
        int neg = 0;
        if (c == '~') {
            neg = 1;
            h->i++;
            hskip(h);
        }
        int c0 = (unsigned char)h->s[h->i], c1 = h->i + 1 < h->n ? (unsigned char)h->s[h->i + 1] : ' ';
        if ((kh_hexval(c0) >= 0 || c0 == '?') && strchr(" \t\r\n|)[", c1)) {
            rc = hfail(h, "uneven number of digits in hex string");
            break;
        }
        if (h->i + 1 >= h->n) {
            rc = hfail(h, "syntax error");
            break;
        }
        int hv = kh_hexval(c0), lv = kh_hexval(c1);
        uint8_t val, mask;
        if (c0 == '?' && c1 == '?')
            val = 0, mask = 0;
        else if (hv >= 0 && c1 == '?')
            val = (uint8_t)(hv << 4), mask = 0xf0;
        else if (c0 == '?' && lv >= 0)
            val = (uint8_t)lv, mask = 0x0f;
        else if (hv >= 0 && lv >= 0)
            val = (uint8_t)(hv << 4 | lv), mask = 0xff;
        else {
            rc = hfail(h, "syntax error");
            break;
        }
        h->i += 2;
        if (neg && mask == 0) {
            rc = hfail(h, "syntax error: ~?? is not allowed");
            break;
        }
        any = 1;
        last_jump = 0;
        if (mask == 0) {
            FLUSH_RUN();
            if (have_gap) {
                gmin = gmin == KH_INF ? KH_INF : gmin + 1;
                gmax = gmax == KH_INF ? KH_INF : gmax + 1;
            } else {
                have_gap = 1;
                gmin = gmax = 1;
            }
            continue;
        }
        FLUSH_GAP();
        if (mask == 0xff && !neg) {
            if (!rc)
                rc = kh_buf_putc(&run, (char)val);
            continue;
        }
        FLUSH_RUN();
        uint8_t bits[32];
        set_bits(bits, val, mask, neg);
        uint32_t idx;
        if (!rc && !(rc = mk_class(h->b, bits, &idx)))
            rc = kv_push(&seq, idx);
    }
    if (!rc && last_jump)
        rc = hfail(h, "syntax error: a hex string cannot end with a jump");
    if (!rc && !any)
        rc = hfail(h, in_alt ? "syntax error: empty alternative" : "syntax error: empty hex string");
    FLUSH_RUN();
    FLUSH_GAP();
    if (!rc)
        rc = mk_list(h->b, KH_OP_SEQ, &seq, out);
#undef FLUSH_RUN
#undef FLUSH_GAP
    free(seq.v);
    kh_buf_dispose(&run);
    return rc;
}

int kh_yhex_parse(kh_irb *b, const char *s, size_t n, uint32_t *root, const char **err, size_t *errpos)
{
    hx h = {b, s, n, 0, NULL, 0};
    int rc = hex_seq(&h, root, 0, 0);
    if (rc == KH_ESYNTAX || h.err) {
        *err = h.err ? h.err : "syntax error";
        *errpos = h.errpos;
        return KH_ESYNTAX;
    }
    return rc;
}

/* ---- fullword ----------------------------------------------------------------------------- */

static int wrap(kh_irb *b, uint32_t child, unsigned before, unsigned after, uint32_t *out)
{
    uint32_t x, y;
    int rc = kh_irb_node(b, KH_OP_ASSERT, before, 0, 0, &x);
    if (!rc)
        rc = kh_irb_node(b, KH_OP_ASSERT, after, 0, 0, &y);
    if (rc)
        return rc;
    kv k = {0};
    if (!(rc = kv_push(&k, x)) && !(rc = kv_push(&k, child)) && !(rc = kv_push(&k, y)))
        rc = mk_list(b, KH_OP_SEQ, &k, out);
    free(k.v);
    return rc;
}

int kh_ytree_fullword(kh_irb *b, uint32_t root, uint32_t flags, uint32_t *out)
{
    int wide = (flags & KH_YS_WIDE) != 0, ascii = (flags & KH_YS_ASCII) || !wide;
    kh_node r = b->nodes.v[root];
    if (!(wide && ascii) || r.op != KH_OP_ALT) /* one form: the whole tree between the checks */
        return wrap(b, root, wide ? KH_AS_FWW_BEFORE : KH_AS_FW_BEFORE, wide ? KH_AS_FWW_AFTER : KH_AS_FW_AFTER, out);
    /* ascii and wide: alternatives alternate ascii, wide (per xor key) */
    kv k = {0};
    int rc = 0;
    for (uint32_t i = 0; i < r.b && !rc; i++) {
        int w = (int)(i & 1);
        uint32_t x;
        if (!(rc = wrap(b, b->kids.v[r.a + i], w ? KH_AS_FWW_BEFORE : KH_AS_FW_BEFORE, w ? KH_AS_FWW_AFTER : KH_AS_FW_AFTER,
                        &x)))
            rc = kv_push(&k, x);
    }
    if (!rc)
        rc = mk_list(b, KH_OP_ALT, &k, out);
    free(k.v);
    return rc;
}
