/* Khiên — engine/yara: YARA's regular expressions to pattern trees.
 *
 * The dialect is yara's (a PCRE subset without captures' side effects,
 * backreferences or lookaround): alternation, groups, the quantifiers
 * * + ? {n} {n,} {,m} {n,m} and their lazy forms, character classes with
 * ranges and negation, the escapes \t \n \r \f \a \xHH \w \W \s \S \d \D,
 * the anchors ^ $ and the word boundaries \b \B. `.` does not match a
 * newline unless the /s flag is given; /i (or `nocase`) makes letters match
 * both cases. The result keeps alternatives in order and marks lazy
 * quantifiers, so the confirm matcher can reproduce yara's match lengths
 * (first alternative, greedy or lazy repetition).
 */
#include <stdlib.h>

#include "engine/yara/ybuild.h"

#define MAX_RE_DEPTH 128u
#define MAX_REPEAT 65535u

typedef struct rp {
    kh_irb *b;
    const char *s;
    size_t n, i;
    unsigned flags; /* 1 nocase, 2 dotall, 4 greedy and lazy quantifiers may not be mixed */
    int greedy;
    int any_greedy, any_lazy; /* quantifiers seen, as yara counts them (exact {n} included) */
    const char *err;
    size_t errpos;
} rp;

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

static int fail(rp *p, const char *msg)
{
    if (!p->err) {
        p->err = msg;
        p->errpos = p->i;
    }
    return KH_ESYNTAX;
}

static int mk_class(kh_irb *b, const uint8_t bits[32], uint32_t *out)
{
    uint32_t off = (uint32_t)b->bytes.len;
    int rc = kh_buf_append(&b->bytes, bits, 32);
    return rc ? rc : kh_irb_node(b, KH_OP_CLASS, off, 0, 0, out);
}

static int mk_lit(kh_irb *b, const uint8_t *s, size_t n, uint32_t *out)
{
    uint32_t off = (uint32_t)b->bytes.len;
    int rc = kh_buf_append(&b->bytes, s, n);
    return rc ? rc : kh_irb_node(b, KH_OP_LIT, off, (uint32_t)n, 0, out);
}

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

static void bit_set(uint8_t bits[32], unsigned c) { bits[c >> 3] |= (uint8_t)(1u << (c & 7)); }
static int bit_get(const uint8_t bits[32], unsigned c) { return (bits[c >> 3] >> (c & 7)) & 1; }

static int is_word(unsigned c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_space(unsigned c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Adds a shorthand class (\w \s \d and negations) to bits. */
static void add_shorthand(uint8_t bits[32], char k)
{
    for (unsigned c = 0; c < 256; c++) {
        int in;
        switch (k) {
        case 'w': in = is_word(c); break;
        case 'W': in = !is_word(c); break;
        case 's': in = is_space(c); break;
        case 'S': in = !is_space(c); break;
        case 'd': in = c >= '0' && c <= '9'; break;
        case 'D': in = !(c >= '0' && c <= '9'); break;
        default: in = 0;
        }
        if (in)
            bit_set(bits, c);
    }
}

/* An escape inside or outside a class: returns the byte (0..255), or
 * 256 + shorthand letter for \w and friends, or -1 on error. */
static int escape(rp *p)
{
    if (p->i >= p->n)
        return fail(p, "trailing backslash"), -1;
    char c = p->s[p->i++];
    switch (c) {
    case 't': return '\t';
    case 'n': return '\n';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'a': return '\a';
    case 'x': {
        if (p->i + 1 >= p->n + 0 || kh_hexval((unsigned char)p->s[p->i]) < 0 ||
            p->i + 1 >= p->n || kh_hexval((unsigned char)p->s[p->i + 1]) < 0)
            return fail(p, "invalid \\x escape"), -1;
        int v = kh_hexval((unsigned char)p->s[p->i]) << 4 | kh_hexval((unsigned char)p->s[p->i + 1]);
        p->i += 2;
        return v;
    }
    case 'w': case 'W': case 's': case 'S': case 'd': case 'D':
        return 256 + c;
    default:
        return (unsigned char)c;
    }
}

static void fold_case(uint8_t bits[32])
{
    for (unsigned c = 'a'; c <= 'z'; c++)
        if (bit_get(bits, c) || bit_get(bits, c - 32)) {
            bit_set(bits, c);
            bit_set(bits, c - 32);
        }
}

static int parse_class(rp *p, uint32_t *out)
{
    uint8_t bits[32] = {0};
    int neg = 0, first = 1;
    if (p->i < p->n && p->s[p->i] == '^') {
        neg = 1;
        p->i++;
    }
    for (;;) {
        if (p->i >= p->n)
            return fail(p, "missing terminating ] for character class");
        char c = p->s[p->i];
        if (c == ']' && !first) {
            p->i++;
            break;
        }
        first = 0;
        int lo;
        p->i++;
        if (c == '\\') {
            if ((lo = escape(p)) < 0)
                return KH_ESYNTAX;
            if (lo >= 256) {
                add_shorthand(bits, (char)(lo - 256));
                continue;
            }
        } else {
            lo = (unsigned char)c;
        }
        if (p->i + 1 < p->n && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
            p->i++;
            int hi;
            char d = p->s[p->i++];
            if (d == '\\') {
                if ((hi = escape(p)) < 0)
                    return KH_ESYNTAX;
                if (hi >= 256)
                    return fail(p, "invalid range in character class");
            } else {
                hi = (unsigned char)d;
            }
            if (hi < lo)
                return fail(p, "invalid range in character class");
            for (int v = lo; v <= hi; v++)
                bit_set(bits, (unsigned)v);
        } else {
            bit_set(bits, (unsigned)lo);
        }
    }
    if (p->flags & 1)
        fold_case(bits);
    if (neg)
        for (int k = 0; k < 32; k++)
            bits[k] = (uint8_t)~bits[k];
    return mk_class(p->b, bits, out);
}

static int parse_alt(rp *p, uint32_t *out, unsigned depth);
static int parse_braces(rp *p, uint32_t *lo, uint32_t *hi, int *is_q);

/* One atom: literal, class, '.', group, escape, anchor. Sets *atom to 0 for
 * anchors/assertions (which cannot be quantified). */
static int parse_atom(rp *p, uint32_t *out, int *quantifiable, unsigned depth)
{
    char c = p->s[p->i];
    *quantifiable = 1;
    if (c == '(') {
        p->i++;
        if (p->i + 1 < p->n && p->s[p->i] == '?' && p->s[p->i + 1] == ':')
            p->i += 2;
        int rc = parse_alt(p, out, depth + 1);
        if (rc)
            return rc;
        if (p->i >= p->n || p->s[p->i] != ')')
            return fail(p, "missing )");
        p->i++;
        return 0;
    }
    if (c == '[') {
        p->i++;
        return parse_class(p, out);
    }
    if (c == '.') {
        p->i++;
        uint8_t bits[32];
        memset(bits, 0xff, sizeof(bits));
        if (!(p->flags & 2))
            bits['\n' >> 3] &= (uint8_t)~(1u << ('\n' & 7));
        return mk_class(p->b, bits, out);
    }
    if (c == '^' || c == '$') {
        p->i++;
        *quantifiable = 0;
        return kh_irb_node(p->b, KH_OP_ASSERT, c == '^' ? KH_AS_START : KH_AS_END, 0, 0, out);
    }
    if (c == ')' || c == '|')
        return fail(p, "unexpected character");
    if (c == '*' || c == '+' || c == '?')
        return fail(p, "nothing to repeat");
    if (c == '{') {
        /* a '{' that does not start a repetition is a literal brace */
        size_t save = p->i;
        uint32_t lo, hi;
        int isq;
        if (parse_braces(p, &lo, &hi, &isq))
            return KH_ESYNTAX;
        if (isq)
            return fail(p, "nothing to repeat");
        p->i = save;
    }
    p->i++;
    int v;
    if (c == '\\') {
        if (p->i < p->n && (p->s[p->i] == 'b' || p->s[p->i] == 'B')) {
            *quantifiable = 0;
            return kh_irb_node(p->b, KH_OP_ASSERT, p->s[p->i++] == 'b' ? KH_AS_WORDB : KH_AS_NWORDB, 0, 0, out);
        }
        if ((v = escape(p)) < 0)
            return KH_ESYNTAX;
        if (v >= 256) {
            uint8_t bits[32] = {0};
            add_shorthand(bits, (char)(v - 256));
            return mk_class(p->b, bits, out);
        }
    } else {
        v = (unsigned char)c;
    }
    if ((p->flags & 1) && ((v >= 'a' && v <= 'z') || (v >= 'A' && v <= 'Z'))) {
        uint8_t bits[32] = {0};
        bit_set(bits, (unsigned)(v | 0x20));
        bit_set(bits, (unsigned)(v & ~0x20));
        return mk_class(p->b, bits, out);
    }
    uint8_t byte = (uint8_t)v;
    return mk_lit(p->b, &byte, 1, out);
}

/* {n} {n,} {,m} {n,m}; returns 0 if the brace is not a quantifier (then a literal '{'). */
static int parse_braces(rp *p, uint32_t *lo, uint32_t *hi, int *is_q)
{
    size_t st = p->i;
    *is_q = 0;
    p->i++;
    uint64_t a = 0, b;
    int have_a = 0, have_b = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        a = a * 10 + (uint64_t)(p->s[p->i++] - '0');
        have_a = 1;
        if (a > MAX_REPEAT)
            return fail(p, "repeat interval too large");
    }
    if (p->i < p->n && p->s[p->i] == '}') {
        if (!have_a) {
            p->i = st;
            return 0;
        }
        p->i++;
        *lo = *hi = (uint32_t)a;
        *is_q = 1;
        return 0;
    }
    if (p->i >= p->n || p->s[p->i] != ',') {
        p->i = st;
        return 0;
    }
    p->i++;
    b = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        b = b * 10 + (uint64_t)(p->s[p->i++] - '0');
        have_b = 1;
        if (b > MAX_REPEAT)
            return fail(p, "repeat interval too large");
    }
    if (p->i >= p->n || p->s[p->i] != '}' || (!have_a && !have_b)) {
        p->i = st;
        return 0;
    }
    p->i++;
    if (have_b && b < a)
        return fail(p, "bad repeat interval");
    *lo = (uint32_t)a;
    *hi = have_b ? (uint32_t)b : KH_INF;
    *is_q = 1;
    return 0;
}

static int parse_concat(rp *p, uint32_t *out, unsigned depth)
{
    kv seq = {0};
    int rc = 0;
    while (!rc && p->i < p->n && p->s[p->i] != '|' && p->s[p->i] != ')') {
        uint32_t atom;
        int quant;
        if ((rc = parse_atom(p, &atom, &quant, depth)))
            break;
        for (;;) {
            if (p->i >= p->n)
                break;
            char c = p->s[p->i];
            uint32_t lo, hi;
            if (c == '*' || c == '+' || c == '?') {
                p->i++;
                lo = c == '+' ? 1 : 0;
                hi = c == '?' ? 1 : KH_INF;
            } else if (c == '{') {
                int isq;
                if ((rc = parse_braces(p, &lo, &hi, &isq)))
                    break;
                if (!isq)
                    break;
            } else {
                break;
            }
            if (!quant) {
                rc = fail(p, "nothing to repeat");
                break;
            }
            int lazy = 0;
            if (p->i < p->n && p->s[p->i] == '?') {
                lazy = 1;
                p->i++;
            }
            if (!lazy && lo != hi)
                p->greedy = 1;
            if (lazy)
                p->any_lazy = 1;
            else
                p->any_greedy = 1;
            uint32_t r;
            if ((rc = kh_irb_node(p->b, KH_OP_REPEAT, atom, lo, hi, &r)))
                break;
            p->b->nodes.v[r].pad[0] = (uint8_t)(lazy ? KH_NF_LAZY : 0);
            atom = r;
        }
        if (!rc)
            rc = kv_push(&seq, atom);
    }
    if (!rc) {
        if (seq.n == 0) {
            /* an empty branch: matches the empty string */
            rc = kh_irb_node(p->b, KH_OP_SEQ, (uint32_t)p->b->kids.n, 0, 0, out);
        } else {
            rc = mk_list(p->b, KH_OP_SEQ, &seq, out);
        }
    }
    free(seq.v);
    return rc;
}

static int parse_alt(rp *p, uint32_t *out, unsigned depth)
{
    if (depth > MAX_RE_DEPTH)
        return fail(p, "regular expression nested too deeply");
    kv alts = {0};
    int rc = 0;
    for (;;) {
        uint32_t c;
        if ((rc = parse_concat(p, &c, depth)) || (rc = kv_push(&alts, c)))
            break;
        if (p->i < p->n && p->s[p->i] == '|') {
            p->i++;
            continue;
        }
        break;
    }
    if (!rc)
        rc = mk_list(p->b, KH_OP_ALT, &alts, out);
    free(alts.v);
    return rc;
}

int kh_yre_parse(kh_irb *b, const char *s, size_t n, unsigned flags, uint32_t *root, int *greedy, const char **err,
                 size_t *errpos)
{
    rp p = {b, s, n, 0, flags, 0, 0, 0, NULL, 0};
    int rc = parse_alt(&p, root, 0);
    if (!rc && p.i < p.n)
        rc = fail(&p, "unmatched )");
    if (!rc && (flags & 4u) && p.any_greedy && p.any_lazy) {
        p.i = 0;
        rc = fail(&p, "greedy and ungreedy quantifiers can't be mixed in a regular expression");
    }
    if (rc == KH_ESYNTAX || p.err) {
        *err = p.err ? p.err : "syntax error";
        *errpos = p.errpos;
        return KH_ESYNTAX;
    }
    if (!rc)
        *greedy = p.greedy;
    return rc;
}
