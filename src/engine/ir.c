/* Khiên — engine: building the rule representation.
 *
 * Front ends (ClamAV databases now, YARA later) append nodes, strings,
 * patterns, signatures and hash records to a kh_irb; compiler.c freezes it
 * into a kh_rules. Node indices and string offsets are 32-bit: a set is
 * limited to 4 Gi of each, far above any real database.
 */
#include "engine/ir.h"

#include <stdlib.h>

const unsigned kh_halg_len[KH_NALG] = {16, 20, 32};

void kh_irb_init(kh_irb *b)
{
    memset(b, 0, sizeof(*b));
    kh_buf_init(&b->bytes, UINT32_MAX);
    kh_buf_init(&b->strs, UINT32_MAX);
    for (int r = 0; r < 2; r++)
        for (int a = 0; a < KH_NALG; a++)
            kh_buf_init(&b->hrec[r][a], 0);
}

void kh_irb_dispose(kh_irb *b)
{
    KH_VEC_FREE(b->nodes);
    KH_VEC_FREE(b->kids);
    KH_VEC_FREE(b->pats);
    KH_VEC_FREE(b->sigs);
    KH_VEC_FREE(b->sources);
    kh_buf_dispose(&b->bytes);
    kh_buf_dispose(&b->strs);
    for (int r = 0; r < 2; r++)
        for (int a = 0; a < KH_NALG; a++)
            kh_buf_dispose(&b->hrec[r][a]);
}

int kh_irb_str(kh_irb *b, const char *s, size_t n, uint32_t *off_out)
{
    uint32_t off = (uint32_t)b->strs.len;
    int rc = kh_buf_append(&b->strs, s, n);
    if (!rc)
        rc = kh_buf_putc(&b->strs, 0);
    if (rc)
        return rc;
    *off_out = off;
    return 0;
}

int kh_irb_node(kh_irb *b, uint8_t op, uint32_t a, uint32_t b_, uint32_t c, uint32_t *idx_out)
{
    int rc = KH_VEC_RESERVE(b->nodes, 1, UINT32_MAX);
    if (rc)
        return rc;
    kh_node *n = &b->nodes.v[b->nodes.n];
    memset(n, 0, sizeof(*n));
    n->op = op;
    n->a = a;
    n->b = b_;
    n->c = c;
    *idx_out = (uint32_t)b->nodes.n++;
    return 0;
}

static uint32_t sat_add(uint32_t x, uint32_t y)
{
    return (x == KH_INF || y == KH_INF || x > KH_INF - y) ? KH_INF : x + y;
}

void kh_ir_lengths(const kh_node *nodes, const uint32_t *kids, uint32_t root, uint32_t *min, uint32_t *max)
{
    const kh_node *n = &nodes[root];
    uint32_t lo = 0, hi = 0, a, b;
    switch (n->op) {
    case KH_OP_LIT:
        lo = hi = n->b;
        break;
    case KH_OP_CLASS:
        lo = hi = 1;
        break;
    case KH_OP_GAP:
        lo = n->a;
        hi = n->b;
        break;
    case KH_OP_NALT:
        lo = hi = n->c;
        break;
    case KH_OP_ASSERT:
        if (n->b == KH_AM_CONSUME) /* (L) takes LF or CRLF, the others one byte */
            lo = 1, hi = (n->a == KH_AS_LINE && !n->c) ? 2 : 1;
        break;
    case KH_OP_BEHIND:
    case KH_OP_AHEAD:
        break;
    case KH_OP_REPEAT:
        kh_ir_lengths(nodes, kids, n->a, &a, &b);
        lo = (uint32_t)KH_MIN((uint64_t)a * n->b, (uint64_t)KH_INF);
        hi = (n->c == KH_INF || b == KH_INF) ? (b == 0 ? 0 : KH_INF)
                                             : (uint32_t)KH_MIN((uint64_t)b * n->c, (uint64_t)KH_INF);
        break;
    case KH_OP_SEQ:
        for (uint32_t i = 0; i < n->b; i++) {
            kh_ir_lengths(nodes, kids, kids[n->a + i], &a, &b);
            lo = sat_add(lo, a);
            hi = sat_add(hi, b);
        }
        break;
    case KH_OP_ALT:
        lo = KH_INF;
        for (uint32_t i = 0; i < n->b; i++) {
            kh_ir_lengths(nodes, kids, kids[n->a + i], &a, &b);
            lo = KH_MIN(lo, a);
            hi = KH_MAX(hi, b);
        }
        if (n->b == 0)
            lo = 0;
        break;
    }
    *min = lo;
    *max = hi;
}

int kh_ir_dead_anchor(const kh_node *nodes, const uint32_t *kids, uint32_t root)
{
    const kh_node *n = &nodes[root];
    if (n->op != KH_OP_SEQ)
        return 0;
    uint32_t before = 0, lo, hi;
    for (uint32_t i = 0; i < n->b; i++) {
        const kh_node *k = &nodes[kids[n->a + i]];
        if (k->op == KH_OP_ASSERT && k->a == KH_AS_START && before > 0)
            return 1;
        if (k->op == KH_OP_ASSERT && k->a == KH_AS_END)
            for (uint32_t j = i + 1; j < n->b; j++) {
                kh_ir_lengths(nodes, kids, kids[n->a + j], &lo, &hi);
                if (lo > 0)
                    return 1;
            }
        kh_ir_lengths(nodes, kids, kids[n->a + i], &lo, &hi);
        before += lo;
    }
    return 0;
}
