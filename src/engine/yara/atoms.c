/* Khiên — engine/yara: choosing what the matcher searches for, per YARA string.
 *
 * Giving Vectorscan every YARA string as a full expression is exact but
 * slow: tens of thousands of regexes, classes and bounded repeats make a
 * database that compiles for a minute, weighs tens of megabytes and scans
 * at a third of the speed of the same rules' literals alone. So, like yara,
 * the matcher only searches for literals:
 *
 *   - a string whose form is a literal (text, with nocase, wide, xor,
 *     base64: each alternative is one) is searched for as that literal,
 *     case-insensitively where needed; a report is a match (after the
 *     fullword checks, if any): KH_YA_EXACT;
 *   - any other string (hex strings with wildcards and jumps, regular
 *     expressions) contributes its best "atom", a literal run that every
 *     match of that alternative contains, at a bounded distance from the
 *     match's start; a report of the atom is a candidate that the Pike VM
 *     confirms at the few start positions it allows: KH_YA_ATOM;
 *   - a string with no usable atom is "unfiltered": confirmed by a scan of
 *     its own when its rule is evaluated (rare; yara warns about those);
 *   - a string used only as `$a at N` needs no search at all.
 * Atom quality follows yara's idea: longer is better, bytes like 00, FF, 20,
 * 90 and repeated bytes are worth less.
 */
#include <stdlib.h>

#include "engine/yara/ybuild.h"

#define MIN_ATOM 2u
#define MAX_ATOM 16u
#define WEAK_ATOM 2u /* atoms shorter than this: search the whole pattern */

static int is_case_pair(const uint8_t *bits, uint8_t *lower)
{
    int n = 0, first = -1;
    for (int v = 0; v < 256; v++)
        if ((bits[v >> 3] >> (v & 7)) & 1) {
            if (++n > 2)
                return 0;
            if (first < 0)
                first = v;
        }
    if (n != 2 || first < 'A' || first > 'Z')
        return 0;
    if (!((bits[(first + 32) >> 3] >> ((first + 32) & 7)) & 1))
        return 0;
    *lower = (uint8_t)(first + 32);
    return 1;
}

static int has_letters(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z'))
            return 1;
    return 0;
}

/* Is the tree a literal, possibly with case-insensitive letters (classes
 * {x,X}) while its exact bytes hold no letter? Writes the bytes. */
static int literal_form(const kh_irb *b, uint32_t idx, kh_buf *out, int *caseless)
{
    const kh_node *n = &b->nodes.v[idx];
    const uint8_t *bytes = (const uint8_t *)b->bytes.data;
    if (n->op == KH_OP_LIT)
        return kh_buf_append(out, bytes + n->a, n->b) == 0;
    if (n->op != KH_OP_SEQ)
        return 0;
    int any_case = 0, exact_letters = 0;
    for (uint32_t i = 0; i < n->b; i++) {
        const kh_node *k = &b->nodes.v[b->kids.v[n->a + i]];
        uint8_t lo;
        if (k->op == KH_OP_LIT) {
            exact_letters |= has_letters(bytes + k->a, k->b);
            if (kh_buf_append(out, bytes + k->a, k->b))
                return 0;
        } else if (k->op == KH_OP_CLASS && is_case_pair(bytes + k->a, &lo)) {
            any_case = 1;
            if (kh_buf_putc(out, (char)lo))
                return 0;
        } else {
            return 0;
        }
    }
    if (any_case && exact_letters)
        return 0; /* some letters exact, some not: Vectorscan cannot say that with one literal */
    *caseless = any_case;
    return 1;
}

typedef struct cand {
    uint8_t bytes[MAX_ATOM];
    uint8_t mask[MAX_ATOM]; /* a byte x is accepted where (x & mask) == (bytes & mask) */
    uint32_t len;
    int caseless; /* every item exact or a letter in either case: a literal */
    int masked;   /* some item is neither: an expression of classes */
    uint32_t pmin, pmax;
    int q;
} cand;

static uint32_t sat_add(uint32_t x, uint32_t y) { return (x == KH_INF || y == KH_INF || x > KH_INF - y) ? KH_INF : x + y; }

/* The elements of a sequence, nested sequences flattened (a fullword
 * string is SEQ(check, SEQ(...), check)); at most `max`. */
static void flatten(const kh_irb *b, uint32_t idx, uint32_t *out, uint32_t *n, uint32_t max, unsigned depth)
{
    const kh_node *nd = &b->nodes.v[idx];
    if (nd->op == KH_OP_SEQ && depth < 8) {
        for (uint32_t i = 0; i < nd->b; i++)
            flatten(b, b->kids.v[nd->a + i], out, n, max, depth + 1);
        return;
    }
    if (*n < max)
        out[(*n)++] = idx;
}

/* A class that is "these bits fixed, the others free" (a byte, a letter in
 * either case, a nibble, any byte): its byte and mask. */
static int class_mask(const uint8_t *bits, uint8_t *byte, uint8_t *mask)
{
    unsigned n = 0, ones = 0xff, zeros = 0xff;
    int first = -1;
    for (unsigned v = 0; v < 256; v++)
        if ((bits[v >> 3] >> (v & 7)) & 1) {
            n++;
            ones &= v;
            zeros &= ~v & 0xffu;
            if (first < 0)
                first = (int)v;
        }
    if (!n)
        return 0;
    unsigned m = ones | zeros, free_bits = 8u - (unsigned)__builtin_popcount(m);
    if (n != 1u << free_bits)
        return 0;
    *mask = (uint8_t)m;
    *byte = (uint8_t)((unsigned)first & m);
    return 1;
}

static int item_quality(const uint8_t *bytes, const uint8_t *mask, size_t i)
{
    uint8_t c = bytes[i], m = mask[i];
    if (m == 0xff) {
        int v = (c == 0x00 || c == 0xff || c == 0x20 || c == 0x90 || c == 0xcc) ? 4 : 10;
        if (i && mask[i - 1] == 0xff && bytes[i - 1] == c)
            v /= 2;
        return v;
    }
    if (m == 0xdf && c >= 'A' && c <= 'Z')
        return 10;
    return __builtin_popcount(m) / 2; /* a nibble: 2 */
}

#define RUN_MAX 1024u

/* What an atom without two adjacent exact bytes costs: the matcher can only
 * search for it by one byte (mpm_vs.c, kh_vs_blit), or, when an exact byte
 * sits beside a nibble or a case pair, by at most 16 literals of two bytes
 * or more. Measured on signature-base over system files: `83 ?? 02`, keyed
 * on the byte 02, was reported 2.1 million times in 256 MB where the same
 * string's `F3 A4` is rare; `C6 0? E9 4? 8? 4? 05 ?? ?? 89 4? 01` (no
 * alternative) 4.2 million times keyed on 01. */
static int isolated_penalty(uint32_t longest_exact_run, int pairable)
{
    return longest_exact_run >= 2 ? 0 : pairable ? 5 : 40;
}

/* Best atom among the runs of one-byte items (exact bytes, letters in
 * either case, nibbles, fixed gaps like `??`) of a variant's sequence. An
 * atom is a window of up to MAX_ATOM items that starts and ends with a
 * known item: `48 8D 05 ?? ?? ?? ?? 48 89` is searched for whole (masked),
 * not as its best exact run `48 8D 05`, which x86 code holds everywhere. */
static int best_atom(const kh_irb *b, uint32_t idx, cand *best)
{
    const uint8_t *bytes = (const uint8_t *)b->bytes.data;
    static __thread uint32_t flat[4096];
    uint32_t count = 0;
    flatten(b, idx, flat, &count, 4096, 0);
    const uint32_t *kids = flat;
    uint32_t pmin = 0, pmax = 0;
    int found = 0;
    uint8_t run[RUN_MAX], rmask[RUN_MAX];
    uint32_t rlen = 0, rmin = 0, rmax = 0;
    for (uint32_t i = 0; i <= count; i++) {
        const kh_node *k = i < count ? &b->nodes.v[kids[i]] : NULL;
        uint8_t cb = 0, cm = 0;
        uint32_t width = 0; /* items this node adds to the run; 0: it ends the run */
        if (k && k->op == KH_OP_CLASS && class_mask(bytes + k->a, &cb, &cm))
            width = 1;
        else if (k && k->op == KH_OP_LIT)
            width = k->b;
        else if (k && k->op == KH_OP_GAP && k->a == k->b && k->a >= 1 && k->a < MAX_ATOM)
            width = k->a;
        if (width && rlen + width <= RUN_MAX) {
            if (rlen == 0)
                rmin = pmin, rmax = pmax;
            for (uint32_t j = 0; j < width; j++) {
                if (k->op == KH_OP_LIT)
                    run[rlen] = bytes[k->a + j], rmask[rlen] = 0xff;
                else if (k->op == KH_OP_CLASS)
                    run[rlen] = cb, rmask[rlen] = cm;
                else
                    run[rlen] = 0, rmask[rlen] = 0;
                rlen++;
            }
        } else {
            /* close the run: try every window of it that starts and ends with a known item */
            int bonus = rmax == KH_INF ? 0 : rmax - rmin < 16 ? 40 : 15;
            for (uint32_t st = 0; st < rlen; st++) {
                if (!rmask[st])
                    continue;
                int q = 0;
                uint32_t strong = 0, fixed_run = 0, longest = 0;
                int pairable = 0, soft = 0; /* soft: a masked atom (not a literal, caseless or not) */
                for (uint32_t e = st; e < rlen && e - st < MAX_ATOM; e++) {
                    soft |= rmask[e] != 0xff && rmask[e] != 0xdf;
                    fixed_run = rmask[e] == 0xff ? fixed_run + 1 : 0;
                    longest = fixed_run > longest ? fixed_run : longest;
                    pairable |= e > st && (rmask[e] == 0xff) != (rmask[e - 1] == 0xff) &&
                                __builtin_popcount(rmask[e]) >= 4 && __builtin_popcount(rmask[e - 1]) >= 4;
                    if (!rmask[e])
                        continue;
                    q += item_quality(run, rmask, e);
                    strong += rmask[e] == 0xff || rmask[e] == 0xdf;
                    if (strong < MIN_ATOM)
                        continue;
                    uint32_t w = e - st + 1;
                    int qe = q + bonus - (soft ? isolated_penalty(longest, pairable) : 0);
                    if (found && qe < best->q)
                        continue;
                    if (found && qe == best->q && w >= best->len)
                        continue;
                    memcpy(best->bytes, run + st, w);
                    memcpy(best->mask, rmask + st, w);
                    best->len = w;
                    best->caseless = 0;
                    best->masked = 0;
                    for (uint32_t j = 0; j < w; j++) {
                        if (best->mask[j] == 0xdf && best->bytes[j] >= 'A' && best->bytes[j] <= 'Z') {
                            best->bytes[j] = (uint8_t)(best->bytes[j] + 32);
                            best->caseless = 1;
                        } else if (best->mask[j] != 0xff) {
                            best->masked = 1;
                        }
                    }
                    if (best->masked)
                        best->caseless = 0;
                    else if (best->caseless)
                        memset(best->mask, 0xff, w); /* a caseless literal */
                    best->pmin = sat_add(rmin, st);
                    best->pmax = sat_add(rmax, st);
                    best->q = qe;
                    found = 1;
                }
            }
            rlen = 0;
            if (k && k->op == KH_OP_LIT) { /* a literal longer than the run buffer starts a new run */
                rmin = pmin, rmax = pmax;
                uint32_t take = k->b < RUN_MAX ? k->b : RUN_MAX;
                memcpy(run, bytes + k->a, take);
                memset(rmask, 0xff, take);
                rlen = take;
            }
        }
        if (k) {
            uint32_t lo, hi;
            kh_ir_lengths(b->nodes.v, b->kids.v, kids[i], &lo, &hi);
            pmin = sat_add(pmin, lo);
            pmax = sat_add(pmax, hi);
        }
    }
    return found;
}

int kh_yatoms_build(kh_irb *b, kh_ystr *ystrs, size_t nystrs, kh_yatom **out, size_t *nout)
{
    KH_VEC(kh_yatom) v = {0};
    kh_buf lit = KH_BUF_INIT(1u << 20);
    int rc = 0;
    for (size_t si = 0; si < nystrs && !rc; si++) {
        kh_ystr *s = &ystrs[si];
        kh_pat *p = &b->pats.v[s->pat];
        if (s->fixed) {
            s->mode = KH_YSM_FIXED;
            s->atom = (uint32_t)v.n;
            s->natoms = 0;
            continue;
        }
        const kh_node *root = &b->nodes.v[p->root];
        uint32_t nvar = root->op == KH_OP_ALT ? root->b : 1;
        size_t mark = v.n;
        int all_exact = 1, unfiltered = 0;
        for (uint32_t vi = 0; vi < nvar && !rc; vi++) {
            uint32_t var = root->op == KH_OP_ALT ? b->kids.v[root->a + vi] : p->root;
            if (kh_ir_dead_anchor(b->nodes.v, b->kids.v, var))
                continue; /* can never match: nothing to search for */
            kh_yatom a;
            memset(&a, 0, sizeof(a));
            a.str = (uint32_t)si;
            a.variant = vi;
            /* fullword: SEQ(ASSERT, core, ASSERT) */
            uint32_t core = var;
            const kh_node *vn = &b->nodes.v[var];
            if (vn->op == KH_OP_SEQ && vn->b == 3 && b->nodes.v[b->kids.v[vn->a]].op == KH_OP_ASSERT &&
                b->nodes.v[b->kids.v[vn->a + 2]].op == KH_OP_ASSERT) {
                a.before = (uint8_t)b->nodes.v[b->kids.v[vn->a]].a;
                a.after = (uint8_t)b->nodes.v[b->kids.v[vn->a + 2]].a;
                core = b->kids.v[vn->a + 1];
            }
            int caseless = 0;
            kh_buf_clear(&lit);
            if (literal_form(b, core, &lit, &caseless) && lit.len) {
                a.kind = KH_YA_EXACT;
                a.flags = caseless ? KH_YAF_CASELESS : 0;
                a.len = (uint32_t)lit.len;
                a.off = (uint32_t)b->bytes.len;
                if ((rc = kh_buf_append(&b->bytes, lit.data, lit.len)))
                    break;
            } else {
                all_exact = 0;
                a.before = a.after = 0;
                cand c;
                memset(&c, 0, sizeof(c));
                if (!best_atom(b, var, &c) || c.len < WEAK_ATOM) {
                    /* no atom: Vectorscan searches for the whole pattern
                     * instead. (Short atoms like the x86 opcode 48 89 are
                     * reported very often, but measured on signature-base,
                     * confirming them costs less than the regexes that would
                     * replace them slow the database down: WEAK_ATOM 2.) */
                    unfiltered = 1;
                    break;
                }
                a.kind = KH_YA_ATOM;
                a.flags = (uint8_t)((c.caseless ? KH_YAF_CASELESS : 0) | (c.masked ? KH_YAF_MASKED : 0));
                a.len = c.len;
                a.off = (uint32_t)b->bytes.len;
                a.pmin = c.pmin;
                a.pmax = c.pmax;
                if ((rc = kh_buf_append(&b->bytes, c.bytes, c.len)) ||
                    (c.masked && (rc = kh_buf_append(&b->bytes, c.mask, c.len))))
                    break;
            }
            if ((rc = KH_VEC_RESERVE(v, 1, 1u << 26)))
                break;
            v.v[v.n++] = a;
        }
        if (rc)
            break;
        if (unfiltered) {
            v.n = mark;
            s->mode = KH_YSM_UNFILTERED;
            p->pad = 1; /* no atom: the matcher searches for the whole pattern instead */
        } else {
            s->mode = all_exact ? KH_YSM_EXACT : KH_YSM_ATOMS;
        }
        s->atom = (uint32_t)mark;
        s->natoms = (uint32_t)(v.n - mark);
    }
    kh_buf_dispose(&lit);
    if (rc) {
        KH_VEC_FREE(v);
        return rc;
    }
    *out = v.v;
    *nout = v.n;
    return 0;
}

/* ---- yara's atom quality, for its "may slow down scanning" warning -------------
 *
 * yara warns about a string when the worst of the atoms it would search for
 * is poor. Its rules (libyara's atoms.c, 4.2.x), reproduced on our trees so
 * that a rule set warns here exactly where it warns with yara: atoms are at
 * most 4 items long; an exact byte scores 20 (18 for a letter, 12 for 00 20
 * CC FF), a nibble 4, plus 2 per distinct exact byte, except that an atom of
 * one repeated byte among 00 20 90 CC FF loses 10 per byte instead; a run of
 * items is scored by its best 4-item window; anything that is not a byte or
 * a nibble (a class, a gap, an anchor, a `*`) ends the run; a sequence takes
 * its best run, an alternation its worst alternative; `x+` contributes x
 * once, `x{n,m}` contributes x repeated min(n, 4) times, then ends the run.
 * A string without any atom scores KH_YAQ_NONE. Text strings take the best
 * window of their bytes, then the worst of its wide and xor forms. */

typedef struct yq_item {
    uint8_t byte, mask; /* mask 0xff: exact byte; 0xf0 / 0x0f: a nibble */
} yq_item;

typedef struct yq_run {
    yq_item it[64]; /* mask 0: any byte (`??`, `.`) */
    unsigned n;
    int best; /* best quality among the runs and alternations of this level */
} yq_run;

static int yq_score(const yq_item *it, unsigned n)
{
    uint8_t seen[32] = {0};
    int q = 0, unique = 0;
    /* yara trims unknown bytes off both ends, and keeps only the first
     * item when unknown bytes are at least as many as exact ones */
    while (n && it[0].mask == 0)
        it++, n--;
    while (n && it[n - 1].mask == 0)
        n--;
    unsigned unknown = 0, exact = 0;
    for (unsigned i = 0; i < n; i++)
        unknown += it[i].mask == 0, exact += it[i].mask == 0xff;
    if (n && unknown >= exact)
        n = 1;
    if (!n)
        return KH_YAQ_NONE;
    for (unsigned i = 0; i < n; i++) {
        if (it[i].mask == 0) {
            q -= 10;
            continue;
        }
        if (it[i].mask != 0xff) {
            q += 4;
            continue;
        }
        uint8_t c = it[i].byte;
        if (c == 0x00 || c == 0x20 || c == 0xcc || c == 0xff)
            q += 12;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            q += 18;
        else
            q += 20;
        if (!((seen[c >> 3] >> (c & 7)) & 1)) {
            seen[c >> 3] |= (uint8_t)(1u << (c & 7));
            unique++;
        }
    }
    int common = ((seen[0] & 1) || ((seen[0x20 >> 3] >> (0x20 & 7)) & 1) || ((seen[0x90 >> 3] >> (0x90 & 7)) & 1) ||
                  ((seen[0xcc >> 3] >> (0xcc & 7)) & 1) || ((seen[0xff >> 3] >> (0xff & 7)) & 1));
    if (unique == 1 && common)
        q -= 10 * (int)n;
    else
        q += 2 * unique;
    return q;
}

/* Scores a window of the pending run into r->best. */
static void yq_score_into(yq_run *r, const yq_item *it, unsigned n)
{
    int q = yq_score(it, n);
    if (q > r->best)
        r->best = q;
}

/* Ends the pending run: a run shorter than 4 items is one atom (longer
 * runs had each 4-item window scored as it was pushed). */
static void yq_flush(yq_run *r)
{
    if (r->n && r->n < 4)
        yq_score_into(r, r->it, r->n);
    r->n = 0;
}

static void yq_push(yq_run *r, uint8_t byte, uint8_t mask)
{
    if (r->n == KH_ARRAY_LEN(r->it)) { /* keep the last 3 items: the next window needs no more */
        memmove(r->it, r->it + r->n - 3, 3 * sizeof(r->it[0]));
        r->n = 3;
    }
    r->it[r->n].byte = byte;
    r->it[r->n].mask = mask;
    r->n++;
    if (r->n >= 4)
        yq_score_into(r, r->it + r->n - 4, 4);
}

/* A class as one atom item: a letter in both cases, or a nibble. */
static int yq_class_item(const uint8_t *bits, uint8_t *byte, uint8_t *mask)
{
    unsigned n = 0;
    int first = -1;
    for (int v = 0; v < 256; v++)
        if ((bits[v >> 3] >> (v & 7)) & 1) {
            if (first < 0)
                first = v;
            n++;
        }
    uint8_t lower;
    if (n == 256 || (n == 255 && !((bits['\n' >> 3] >> ('\n' & 7)) & 1))) { /* `.` */
        *byte = 0;
        *mask = 0;
        return 1;
    }
    if (n == 2 && is_case_pair(bits, &lower)) {
        *byte = lower;
        *mask = 0xff;
        return 1;
    }
    if (n != 16 || first < 0)
        return 0;
    int hi = 1, lo = 1;
    for (int v = 0; v < 256; v++) {
        int in = (bits[v >> 3] >> (v & 7)) & 1;
        if (in != ((v & 0xf0) == (first & 0xf0)))
            hi = 0;
        if (in != ((v & 0x0f) == (first & 0x0f)))
            lo = 0;
    }
    if (!hi && !lo)
        return 0;
    *byte = (uint8_t)(hi ? first & 0xf0 : first & 0x0f);
    *mask = hi ? 0xf0 : 0x0f;
    return 1;
}

static void yq_walk(const kh_irb *b, uint32_t idx, yq_run *r, unsigned depth);

/* An alternative on its own level: its best atom, KH_YAQ_NONE if none. */
static int yq_level(const kh_irb *b, uint32_t idx, unsigned depth)
{
    yq_run sub;
    sub.n = 0;
    sub.best = KH_YAQ_NONE;
    yq_walk(b, idx, &sub, depth + 1);
    yq_flush(&sub);
    return sub.best;
}

static void yq_walk(const kh_irb *b, uint32_t idx, yq_run *r, unsigned depth)
{
    const kh_node *n = &b->nodes.v[idx];
    const uint8_t *bytes = (const uint8_t *)b->bytes.data;
    uint8_t byte, mask;
    if (depth > 64) { /* deeper than any real pattern: no atom from here */
        yq_flush(r);
        return;
    }
    switch (n->op) {
    case KH_OP_LIT:
        for (uint32_t i = 0; i < n->b; i++)
            yq_push(r, bytes[n->a + i], 0xff);
        return;
    case KH_OP_CLASS:
        if (yq_class_item(bytes + n->a, &byte, &mask))
            yq_push(r, byte, mask);
        else
            yq_flush(r);
        return;
    case KH_OP_SEQ:
        for (uint32_t i = 0; i < n->b; i++)
            yq_walk(b, b->kids.v[n->a + i], r, depth + 1);
        return;
    case KH_OP_ALT: {
        yq_flush(r);
        int worst = INT32_MAX;
        for (uint32_t i = 0; i < n->b; i++) {
            int q = yq_level(b, b->kids.v[n->a + i], depth);
            if (q < worst)
                worst = q;
        }
        if (n->b && worst > r->best)
            r->best = worst;
        return;
    }
    case KH_OP_REPEAT: {
        uint32_t times = n->b < 4 ? n->b : 4; /* x+ is x then x*: once */
        for (uint32_t i = 0; i < times; i++)
            yq_walk(b, n->a, r, depth + 1);
        yq_flush(r);
        return;
    }
    case KH_OP_GAP: /* `??` (a fixed gap: that many unknown bytes) or a jump */
        if (n->a == n->b && n->a <= 4)
            for (uint32_t i = 0; i < n->a; i++)
                yq_push(r, 0, 0);
        else
            yq_flush(r);
        return;
    default: /* anchors, look-arounds, negated alternatives */
        yq_flush(r);
        return;
    }
}

int kh_yatoms_quality_tree(const kh_irb *b, uint32_t root)
{
    return yq_level(b, root, 0);
}

int kh_yatoms_quality_text(const uint8_t *s, size_t n, uint32_t flags, unsigned xmin, unsigned xmax)
{
    yq_item best[4], win[4];
    unsigned w = n < 4 ? (unsigned)n : 4;
    int bestq = KH_YAQ_NONE;
    for (size_t st = 0; st + w <= n && w; st++) {
        for (unsigned i = 0; i < w; i++)
            win[i].byte = s[st + i], win[i].mask = 0xff;
        int q = yq_score(win, w);
        if (q > bestq) {
            bestq = q;
            memcpy(best, win, sizeof(win));
        }
    }
    if (!w)
        return KH_YAQ_NONE;
    /* the forms yara searches for: the atom itself (ascii), its wide form
     * (cut at 4 bytes), each xored by every key of the range */
    yq_item forms[2][4];
    unsigned flen[2], nforms = 0;
    if (!(flags & KH_YS_WIDE) || (flags & KH_YS_ASCII)) {
        memcpy(forms[nforms], best, sizeof(best));
        flen[nforms++] = w;
    }
    if (flags & KH_YS_WIDE) {
        unsigned k = 0;
        for (unsigned i = 0; i < w && k < 4; i++) {
            forms[nforms][k].byte = best[i].byte, forms[nforms][k++].mask = 0xff;
            if (k < 4)
                forms[nforms][k].byte = 0, forms[nforms][k++].mask = 0xff;
        }
        flen[nforms++] = k;
    }
    int worst = bestq;
    unsigned k0 = (flags & KH_YS_XOR) ? xmin : 0, k1 = (flags & KH_YS_XOR) ? xmax : 0;
    for (unsigned f = 0; f < nforms; f++)
        for (unsigned key = k0; key <= k1; key++) {
            yq_item x[4];
            for (unsigned i = 0; i < flen[f]; i++)
                x[i].byte = (uint8_t)(forms[f][i].byte ^ key), x[i].mask = 0xff;
            int q = yq_score(x, flen[f]);
            if (q < worst)
                worst = q;
        }
    return worst;
}
