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

static int quality(const uint8_t *p, size_t n)
{
    int q = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        int v = (c == 0x00 || c == 0xff || c == 0x20 || c == 0x90 || c == 0xcc) ? 4 : 10;
        if (i && p[i - 1] == c)
            v /= 2;
        q += v;
    }
    return q;
}

typedef struct cand {
    uint8_t bytes[MAX_ATOM];
    uint32_t len;
    int caseless;
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

/* Best atom among the runs of literal bytes of a variant's sequence
 * (consecutive LIT nodes form one run: regexes give one node per
 * character; nocase letters join runs as case-insensitive). */
static int best_atom(const kh_irb *b, uint32_t idx, cand *best)
{
    const uint8_t *bytes = (const uint8_t *)b->bytes.data;
    static __thread uint32_t flat[4096];
    uint32_t count = 0;
    flatten(b, idx, flat, &count, 4096, 0);
    const uint32_t *kids = flat;
    uint32_t pmin = 0, pmax = 0;
    int found = 0;
    uint8_t run[1024];
    uint32_t rlen = 0, rmin = 0, rmax = 0;
    int rcase = 0;
    for (uint32_t i = 0; i <= count; i++) {
        const kh_node *k = i < count ? &b->nodes.v[kids[i]] : NULL;
        uint8_t lower;
        if (k && k->op == KH_OP_CLASS && is_case_pair(bytes + k->a, &lower) && rlen + 1 <= sizeof(run)) {
            /* a nocase letter: the run becomes a case-insensitive atom (a superset: confirmed anyway) */
            if (rlen == 0)
                rmin = pmin, rmax = pmax;
            run[rlen++] = lower;
            rcase = 1;
        } else if (k && k->op == KH_OP_LIT && rlen + k->b <= sizeof(run)) {
            if (rlen == 0)
                rmin = pmin, rmax = pmax;
            memcpy(run + rlen, bytes + k->a, k->b);
            rlen += k->b;
        } else {
            /* close the run: try every window of it */
            if (rlen >= MIN_ATOM) {
                uint32_t w = rlen < MAX_ATOM ? rlen : MAX_ATOM;
                for (uint32_t st = 0; st + w <= rlen; st++) {
                    int q = quality(run + st, w);
                    /* a bounded distance to the start is worth a lot: one confirmation per report */
                    int bonus = rmax == KH_INF ? 0 : rmax - rmin < 16 ? 40 : 15;
                    if (!found || q + bonus > best->q) {
                        memcpy(best->bytes, run + st, w);
                        best->len = w;
                        best->caseless = rcase;
                        best->pmin = sat_add(rmin, st);
                        best->pmax = sat_add(rmax, st);
                        best->q = q + bonus;
                        found = 1;
                    }
                }
            }
            rlen = 0;
            rcase = 0;
            if (k && k->op == KH_OP_LIT) { /* a literal longer than the run buffer starts a new run */
                rmin = pmin, rmax = pmax;
                uint32_t take = k->b < sizeof(run) ? k->b : (uint32_t)sizeof(run);
                memcpy(run, bytes + k->a, take);
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
                a.flags = c.caseless ? KH_YAF_CASELESS : 0;
                a.len = c.len;
                a.off = (uint32_t)b->bytes.len;
                a.pmin = c.pmin;
                a.pmax = c.pmax;
                if ((rc = kh_buf_append(&b->bytes, c.bytes, c.len)))
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
