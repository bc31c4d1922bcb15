/* Khiên — engine: the confirm matcher.
 *
 * Decides exactly whether a pattern tree matches a buffer, for the cases
 * the fast matcher cannot settle alone: offset constraints (".ndb" offsets
 * `n`, `n,m`, `EOF-n`), approximate Vectorscan expressions, and finding
 * where a match starts.
 *
 * It runs the tree over *sets of positions* rather than backtracking: the
 * state is a sorted list of disjoint intervals of positions where the
 * pattern could be after the nodes seen so far. A literal keeps the
 * positions where it occurs (memmem over long intervals), a gap widens every
 * interval, alternatives take the union. Each node costs at most one pass
 * over the positions it is given, so a whole pattern is O(nodes x buffer)
 * in the worst case and usually a few memcmp calls, never exponential.
 * A budget bounds the positions examined per call (KH_ELIMIT when spent).
 */
#define _GNU_SOURCE
#include "engine/confirm.h"

#include <stdlib.h>
#include <string.h>

void kh_pset_clear(kh_pset *s) { s->n = 0; }
void kh_pset_free(kh_pset *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

int kh_pset_add(kh_pset *s, uint64_t lo, uint64_t hi)
{
    if (s->n) {
        kh_ival *last = &s->v[s->n - 1];
        if (lo >= last->lo && lo <= last->hi + 1) {
            if (hi > last->hi)
                last->hi = hi;
            return 0;
        }
    }
    int rc = kh_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(kh_ival), 0);
    if (rc)
        return rc;
    s->v[s->n].lo = lo;
    s->v[s->n].hi = hi;
    s->n++;
    return 0;
}

static int cmp_ival(const void *a, const void *b)
{
    const kh_ival *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges a set built from out-of-order additions. */
static void pset_norm(kh_pset *s)
{
    if (s->n < 2)
        return;
    kh_qsort(s->v, s->n, sizeof(kh_ival), cmp_ival);
    size_t k = 0;
    for (size_t i = 1; i < s->n; i++) {
        if (s->v[i].lo <= s->v[k].hi + 1) {
            if (s->v[i].hi > s->v[k].hi)
                s->v[k].hi = s->v[i].hi;
        } else {
            s->v[++k] = s->v[i];
        }
    }
    s->n = k + 1;
}

void kh_confirm_init(kh_confirm *cx) { memset(cx, 0, sizeof(*cx)); }

void kh_confirm_dispose(kh_confirm *cx)
{
    for (size_t i = 0; i < cx->npool; i++)
        kh_pset_free(&cx->pool[i]);
    free(cx->pool);
    memset(cx, 0, sizeof(*cx));
}

/* The pool is allocated once and never moved: callers hold pointers into it
 * across recursive calls. Depth is bounded (64), two sets per level. */
#define POOL_SETS 160u

static kh_pset *get_set(kh_confirm *cx)
{
    if (!cx->pool) {
        cx->pool = calloc(POOL_SETS, sizeof(kh_pset));
        if (!cx->pool)
            return NULL;
        cx->npool = POOL_SETS;
    }
    if (cx->sp == cx->npool)
        return NULL;
    kh_pset *s = &cx->pool[cx->sp++];
    s->n = 0;
    return s;
}

static void put_set(kh_confirm *cx) { cx->sp--; }

static int spend(kh_confirm *cx, uint64_t n)
{
    if (n > cx->budget) {
        cx->budget = 0;
        return KH_ELIMIT;
    }
    cx->budget -= n;
    return 0;
}

static int is_alnum(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* ClamAV's (B) byte sets (its boundary table): before a match, after it,
 * and consumed in the middle of one. */
static int bnd_before(uint8_t c) { return c && strchr(" -./<@_", c) != NULL; }
static int bnd_after(uint8_t c) { return c && strchr("\n\r \"'-/=>_", c) != NULL; }
static int bnd_any(uint8_t c) { return c && strchr("\n\r \"'-./<=>@_", c) != NULL; }

#define NO_POS UINT64_MAX

/* A ClamAV (B) (L) (W) at position p of buf[0, len): the position after it,
 * or NO_POS. Zero-width before/after forms return p. */
static uint64_t clam_assert(const kh_node *n, const uint8_t *b, uint64_t len, uint64_t p)
{
    int ok = 0;
    uint64_t to = p;
    switch (n->b) {
    case KH_AM_BEFORE:
        if (n->a == KH_AS_BOUNDARY)
            ok = p == 0 || bnd_before(b[p - 1]);
        else if (n->a == KH_AS_LINE)
            ok = p == 0 || b[p - 1] == '\n';
        else
            ok = p == 0 || !is_alnum(b[p - 1]);
        break;
    case KH_AM_AFTER:
        if (n->a == KH_AS_BOUNDARY)
            ok = p == len || bnd_after(b[p]);
        else if (n->a == KH_AS_LINE)
            ok = p == len || b[p] == '\n' || (b[p] == '\r' && p + 1 < len && b[p + 1] == '\n');
        else
            ok = p == len || !is_alnum(b[p]);
        break;
    case KH_AM_CONSUME:
        if (p >= len)
            return NO_POS;
        to = p + 1;
        if (n->a == KH_AS_BOUNDARY) {
            ok = bnd_any(b[p]);
        } else if (n->a == KH_AS_LINE) {
            ok = b[p] == '\n' || (b[p] == '\r' && p + 1 < len && b[p + 1] == '\n');
            if (ok && b[p] == '\r' && !n->c)
                to = p + 2;
        } else {
            ok = !is_alnum(b[p]);
        }
        break;
    default:
        return NO_POS;
    }
    return (ok != (n->c != 0)) ? to : NO_POS;
}

typedef struct ev {
    kh_confirm *cx;
    const struct kh_rules *r;
    const uint8_t *buf;
    uint64_t len;
} ev;

static int eval(ev *e, uint32_t idx, const kh_pset *in, kh_pset *out, unsigned depth);

static int eval_lit(ev *e, const uint8_t *lit, uint32_t L, const kh_pset *in, kh_pset *out)
{
    int rc = 0;
    if (L > e->len)
        return 0;
    uint64_t last = e->len - L;
    for (size_t i = 0; i < in->n && !rc; i++) {
        uint64_t lo = in->v[i].lo, hi = KH_MIN(in->v[i].hi, last);
        if (lo > hi)
            continue;
        uint64_t span = hi - lo + 1;
        if ((rc = spend(e->cx, span)))
            break;
        if (span <= 16 || L == 0) {
            for (uint64_t p = lo; p <= hi && !rc; p++)
                if (memcmp(e->buf + p, lit, L) == 0)
                    rc = kh_pset_add(out, p + L, p + L);
            continue;
        }
        const uint8_t *s = e->buf + lo, *end = e->buf + hi + L;
        while (!rc && s + L <= end) {
            const uint8_t *f = memmem(s, (size_t)(end - s), lit, L);
            if (!f)
                break;
            uint64_t p = (uint64_t)(f - e->buf);
            rc = kh_pset_add(out, p + L, p + L);
            s = f + 1;
        }
    }
    return rc;
}

static int eval(ev *e, uint32_t idx, const kh_pset *in, kh_pset *out, unsigned depth)
{
    const kh_node *n = &e->r->nodes[idx];
    const uint8_t *bytes = e->r->bytes;
    int rc = 0;
    if (depth > 64)
        return KH_ELIMIT;
    kh_pset_clear(out);
    if (in->n == 0)
        return 0;
    switch (n->op) {
    case KH_OP_LIT:
        return eval_lit(e, bytes + n->a, n->b, in, out);
    case KH_OP_CLASS: {
        const uint8_t *bits = bytes + n->a;
        for (size_t i = 0; i < in->n && !rc; i++) {
            uint64_t lo = in->v[i].lo, hi = in->v[i].hi;
            if (hi >= e->len)
                hi = e->len - 1;
            if (e->len == 0 || lo > hi)
                continue;
            if ((rc = spend(e->cx, hi - lo + 1)))
                break;
            for (uint64_t p = lo; p <= hi && !rc; p++) {
                uint8_t c = e->buf[p];
                if ((bits[c >> 3] >> (c & 7)) & 1)
                    rc = kh_pset_add(out, p + 1, p + 1);
            }
        }
        return rc;
    }
    case KH_OP_GAP:
        for (size_t i = 0; i < in->n && !rc; i++) {
            uint64_t lo = in->v[i].lo + n->a;
            if (lo > e->len)
                break;
            uint64_t hi = n->b == KH_INF ? e->len : KH_MIN(in->v[i].hi + n->b, e->len);
            rc = kh_pset_add(out, lo, hi);
        }
        return rc;
    case KH_OP_SEQ: {
        kh_pset *a = get_set(e->cx), *b = get_set(e->cx);
        if (!a || !b)
            return KH_ENOMEM;
        const kh_pset *cur = in;
        for (uint32_t i = 0; i < n->b && !rc; i++) {
            kh_pset *dst = (i == n->b - 1) ? out : (cur == a ? b : a);
            rc = eval(e, e->r->kids[n->a + i], cur, dst, depth + 1);
            cur = dst;
            if (cur->n == 0) {
                kh_pset_clear(out);
                break;
            }
        }
        put_set(e->cx);
        put_set(e->cx);
        return rc;
    }
    case KH_OP_ALT: {
        kh_pset *t = get_set(e->cx);
        if (!t)
            return KH_ENOMEM;
        for (uint32_t i = 0; i < n->b && !rc; i++) {
            rc = eval(e, e->r->kids[n->a + i], in, t, depth + 1);
            for (size_t j = 0; j < t->n && !rc; j++) {
                rc = kh_grow((void **)&out->v, &out->cap, out->n + 1, sizeof(kh_ival), 0);
                if (!rc)
                    out->v[out->n++] = t->v[j];
            }
        }
        put_set(e->cx);
        pset_norm(out);
        return rc;
    }
    case KH_OP_NALT: {
        uint32_t L = n->c;
        kh_pset *one = get_set(e->cx), *t = get_set(e->cx);
        if (!one || !t)
            return KH_ENOMEM;
        for (size_t i = 0; i < in->n && !rc && e->len >= L; i++) {
            uint64_t lo = in->v[i].lo, hi = KH_MIN(in->v[i].hi, e->len - L);
            if (lo > hi)
                continue;
            if ((rc = spend(e->cx, (hi - lo + 1) * n->b)))
                break;
            for (uint64_t p = lo; p <= hi && !rc; p++) {
                int hit = 0;
                for (uint32_t k = 0; k < n->b && !hit && !rc; k++) {
                    const kh_node *c = &e->r->nodes[e->r->kids[n->a + k]];
                    if (c->op == KH_OP_LIT) {
                        hit = c->b == L && memcmp(e->buf + p, bytes + c->a, L) == 0;
                        continue;
                    }
                    kh_pset_clear(one);
                    if (!(rc = kh_pset_add(one, p, p)))
                        rc = eval(e, e->r->kids[n->a + k], one, t, depth + 1);
                    for (size_t j = 0; j < t->n && !hit; j++)
                        hit = t->v[j].lo <= p + L && p + L <= t->v[j].hi;
                }
                if (!hit && !rc)
                    rc = kh_pset_add(out, p + L, p + L);
            }
        }
        put_set(e->cx);
        put_set(e->cx);
        return rc;
    }
    case KH_OP_ASSERT:
        for (size_t i = 0; i < in->n && !rc; i++) {
            uint64_t lo = in->v[i].lo, hi = KH_MIN(in->v[i].hi, e->len);
            if (lo > hi)
                continue;
            if ((rc = spend(e->cx, hi - lo + 1)))
                break;
            for (uint64_t p = lo; p <= hi && !rc; p++) {
                uint64_t to = clam_assert(n, e->buf, e->len, p);
                if (to != NO_POS)
                    rc = kh_pset_add(out, to, to);
            }
        }
        pset_norm(out);
        return rc;
    case KH_OP_BEHIND:
    case KH_OP_AHEAD: {
        const uint8_t *bits = bytes + n->a;
        for (size_t i = 0; i < in->n && !rc; i++) {
            uint64_t lo = in->v[i].lo, hi = KH_MIN(in->v[i].hi, e->len);
            if (lo > hi)
                continue;
            if ((rc = spend(e->cx, (hi - lo + 1) * ((uint64_t)n->c - n->b + 1))))
                break;
            for (uint64_t p = lo; p <= hi && !rc; p++) {
                int hit = 0;
                for (uint64_t d = n->b; d <= n->c && !hit; d++) {
                    uint64_t q;
                    if (n->op == KH_OP_BEHIND) {
                        if (p < d + 1)
                            break;
                        q = p - 1 - d;
                    } else {
                        q = p + d;
                        if (q >= e->len)
                            break;
                    }
                    hit = (bits[e->buf[q] >> 3] >> (e->buf[q] & 7)) & 1;
                }
                if (hit)
                    rc = kh_pset_add(out, p, p);
            }
        }
        return rc;
    }
    }
    return KH_EINTERNAL;
}

int kh_confirm_match(kh_confirm *cx, const struct kh_rules *r, uint32_t root, const uint8_t *buf, uint64_t len,
                     const kh_pset *starts, int *matched)
{
    ev e = {cx, r, buf, len};
    cx->budget = KH_CONFIRM_BUDGET;
    size_t sp = cx->sp;
    kh_pset *out = get_set(cx);
    if (!out)
        return KH_ENOMEM;
    int rc = eval(&e, root, starts, out, 0);
    if (!rc)
        *matched = out->n > 0;
    cx->sp = sp;
    return rc;
}

/* The literal every match of the tree starts with, if any. */
static const kh_node *first_lit(const struct kh_rules *r, uint32_t root)
{
    const kh_node *n = &r->nodes[root];
    if (n->op == KH_OP_SEQ && n->b) {
        /* zero-width checks of what lies before (ClamAV (B) first, x[n-m])
         * do not move the start: the literal after them starts the match */
        uint32_t i = 0;
        while (i + 1 < n->b && (r->nodes[r->kids[n->a + i]].op == KH_OP_BEHIND ||
                                (r->nodes[r->kids[n->a + i]].op == KH_OP_ASSERT &&
                                 r->nodes[r->kids[n->a + i]].b == KH_AM_BEFORE)))
            i++;
        n = &r->nodes[r->kids[n->a + i]];
    }
    return n->op == KH_OP_LIT ? n : NULL;
}

int kh_confirm_first(kh_confirm *cx, const struct kh_rules *r, uint32_t root, const uint8_t *buf, uint64_t len,
                     const kh_pset *starts, uint64_t *start_out)
{
    ev e = {cx, r, buf, len};
    size_t sp = cx->sp;
    kh_pset *one = get_set(cx), *out = get_set(cx);
    if (!one || !out)
        return KH_ENOMEM;
    const kh_node *fl = first_lit(r, root);
    uint64_t tries = 0;
    int rc = KH_ENOTFOUND;
    cx->budget = KH_CONFIRM_BUDGET;
    for (size_t i = 0; i < starts->n && rc == KH_ENOTFOUND; i++) {
        uint64_t p = starts->v[i].lo, hi = KH_MIN(starts->v[i].hi, len);
        while (p <= hi && rc == KH_ENOTFOUND) {
            if (fl) {
                if (p + fl->b > len)
                    break;
                const uint8_t *f = memmem(buf + p, (size_t)(KH_MIN(hi + fl->b, len) - p), r->bytes + fl->a, fl->b);
                if (!f)
                    break;
                p = (uint64_t)(f - buf);
            }
            if (++tries > 1000000) {
                rc = KH_ELIMIT;
                break;
            }
            kh_pset_clear(one);
            int r2 = kh_pset_add(one, p, p);
            if (!r2)
                r2 = eval(&e, root, one, out, 0);
            if (r2)
                rc = r2;
            else if (out->n) {
                *start_out = p;
                rc = 0;
            }
            p++;
        }
    }
    cx->sp = sp;
    return rc;
}
