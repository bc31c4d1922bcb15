/* Khiên — engine/clamav: the logical/PE-hash data of a compiled set, as one blob.
 *
 * The compiled-set file (dbfile.c) stores this blob as one section; the
 * set just built holds the same bytes on the heap. Layout: a 72-byte header
 * (magic "KCAV", version, the seven array counts, the size of each element
 * type), then lsigs, lsubs, lexprs, shash, the per-source counts, .ftm and
 * .cdb lines, each starting at a multiple of 8. kh_cav_open() checks the header, the sizes
 * and every index before the scanner may follow one, so a damaged cache is
 * refused, never trusted.
 */
#include "engine/clamav/cav.h"

#include <stdlib.h>

#define CAV_MAGIC 0x5641434bu /* "KCAV" */
#define CAV_VERSION 2u
#define NARR 7

typedef struct cav_hdr {
    uint32_t magic, version;
    uint32_t n[NARR];
    uint32_t esz[NARR];
    uint32_t pad[2];
} cav_hdr;

static const uint32_t esz[NARR] = {sizeof(kh_lsig),        sizeof(kh_lsub), sizeof(kh_lexpr), sizeof(kh_shash),
                                   sizeof(kh_rules_stats), sizeof(kh_ftm),  sizeof(kh_cdb)};

static uint64_t up8(uint64_t x) { return (x + 7) & ~(uint64_t)7; }

static int cmp_shash(const void *a, const void *b)
{
    const kh_shash *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->alg != y->alg)
        return x->alg < y->alg ? -1 : 1;
    int c = memcmp(x->dig, y->dig, 32);
    if (c)
        return c;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return x->sig < y->sig ? -1 : x->sig > y->sig;
}

int kh_cav_freeze(struct kh_rules *r, kh_cavb *cb, const kh_rules_stats *srcstats, uint32_t nsrc)
{
    if (cb->shash.n > 1)
        kh_qsort(cb->shash.v, cb->shash.n, sizeof(kh_shash), cmp_shash);
    const void *arr[NARR] = {cb->lsigs.v, cb->lsubs.v, cb->lexprs.v, cb->shash.v, srcstats, cb->ftms.v, cb->cdbs.v};
    uint64_t cnt[NARR] = {cb->lsigs.n, cb->lsubs.n, cb->lexprs.n, cb->shash.n, nsrc, cb->ftms.n, cb->cdbs.n};
    uint64_t len = sizeof(cav_hdr);
    for (int i = 0; i < NARR; i++) {
        if (cnt[i] > UINT32_MAX)
            return KH_ELIMIT;
        len = up8(len) + cnt[i] * esz[i];
    }
    uint8_t *blob = calloc(1, len);
    if (!blob)
        return KH_ENOMEM;
    cav_hdr h;
    memset(&h, 0, sizeof(h));
    h.magic = CAV_MAGIC;
    h.version = CAV_VERSION;
    uint64_t at = sizeof(cav_hdr);
    for (int i = 0; i < NARR; i++) {
        h.n[i] = (uint32_t)cnt[i];
        h.esz[i] = esz[i];
        at = up8(at);
        if (cnt[i])
            memcpy(blob + at, arr[i], cnt[i] * esz[i]);
        at += cnt[i] * esz[i];
    }
    memcpy(blob, &h, sizeof(h));
    int rc = kh_cav_open(r, blob, len);
    if (rc) {
        free(blob);
        return rc;
    }
    r->heap[r->nheap++] = blob;
    return 0;
}

int kh_cav_open(struct kh_rules *r, const uint8_t *blob, uint64_t len)
{
    cav_hdr h;
    if (len < sizeof(h))
        return KH_EFORMAT;
    memcpy(&h, blob, sizeof(h));
    if (h.magic != CAV_MAGIC || h.version != CAV_VERSION || memcmp(h.esz, esz, sizeof(esz)) != 0)
        return KH_EFORMAT;
    const uint8_t *p[NARR];
    uint64_t at = sizeof(cav_hdr);
    for (int i = 0; i < NARR; i++) {
        at = up8(at);
        if (at > len || (uint64_t)h.n[i] * esz[i] > len - at)
            return KH_EFORMAT;
        p[i] = blob + at;
        at += (uint64_t)h.n[i] * esz[i];
    }
    if (at != len)
        return KH_EFORMAT;
    kh_cav *v = calloc(1, sizeof(*v));
    if (!v)
        return KH_ENOMEM;
    v->lsigs = (const kh_lsig *)p[0], v->nlsigs = h.n[0];
    v->lsubs = (const kh_lsub *)p[1], v->nlsubs = h.n[1];
    v->lexprs = (const kh_lexpr *)p[2], v->nlexprs = h.n[2];
    v->shash = (const kh_shash *)p[3], v->nshash = h.n[3];
    v->srcstats = (const kh_rules_stats *)p[4], v->nsrcstats = h.n[4];
    v->ftms = (const kh_ftm *)p[5], v->nftms = h.n[5];
    v->cdbs = (const kh_cdb *)p[6], v->ncdbs = h.n[6];
    /* every index the scanner follows */
    int ok = 1;
    for (uint32_t i = 0; i < v->nlsigs && ok; i++) {
        const kh_lsig *l = &v->lsigs[i];
        ok = l->sig < r->nsigs && l->expr < v->nlexprs && l->sub <= v->nlsubs && l->nsub <= KH_LSIG_MAX_SUBS &&
             l->nsub <= v->nlsubs - l->sub && l->cap >= 1 && l->cap <= KH_LSIG_MAX_COUNT;
        if (l->target != 0 || (l->flags & (KH_LF_EP | KH_LF_NSECT)))
            v->needs_pe = 1;
    }
    for (uint32_t i = 0; i < v->nlsubs && ok; i++) {
        const kh_lsub *s = &v->lsubs[i];
        ok = s->lsig < v->nlsigs && s->idx < v->lsigs[s->lsig].nsub;
        if (!ok)
            break;
        if (s->kind == KH_LS_HEX)
            ok = s->pat < r->npats && r->pats[s->pat].kind == KH_PK_LSUB && r->pats[s->pat].sig == i;
        else if (s->kind == KH_LS_PCRE)
            ok = s->root < r->nnodes && s->trigger < v->nlexprs;
        else if (s->kind == KH_LS_BCOMP)
            ok = s->trigger < s->idx && s->bc_ncmp >= 1 && s->bc_ncmp <= 2 && s->bc_len >= 1 && s->bc_len <= 64;
        else
            ok = 0;
        if (s->off.kind >= KH_COFF_EP)
            v->needs_pe = 1;
    }
    for (uint32_t i = 0; i < v->nlexprs && ok; i++) {
        const kh_lexpr *x = &v->lexprs[i];
        if (x->op == KH_LX_LEAF)
            ok = x->a < KH_LSIG_MAX_SUBS;
        else
            ok = (x->op == KH_LX_AND || x->op == KH_LX_OR) && x->a < i && x->b < i; /* children come first */
    }
    for (uint32_t i = 0; i < v->nshash && ok; i++) {
        const kh_shash *s = &v->shash[i];
        ok = s->sig < r->nsigs && s->kind <= KH_SH_IMPORT && s->alg < KH_NALG;
        if (ok)
            v->shash_algs[s->kind] |= 1u << s->alg;
    }
    for (uint32_t i = 0; i < v->nftms && ok; i++) {
        const kh_ftm *f = &v->ftms[i];
        ok = (f->magic == 0 || f->magic == 1) && (f->root == UINT32_MAX ? f->magic == 0 : f->root < r->nnodes);
        if (f->magic == 0)
            v->ftm_replace = 1;
    }
    for (uint32_t i = 0; i < v->ncdbs && ok; i++) {
        const kh_cdb *d = &v->cdbs[i];
        ok = d->sig < r->nsigs && (d->re == UINT32_MAX || d->re < r->nnodes) && d->enc <= 2;
    }
    for (uint32_t i = 0; i < r->npats && ok; i++)
        if (r->pats[i].kind == KH_PK_LSUB)
            ok = r->pats[i].sig < v->nlsubs && v->lsubs[r->pats[i].sig].pat == i;
    if (!ok) {
        free(v);
        return KH_EFORMAT;
    }
    r->cav = v;
    r->cavblob = blob;
    r->ncavblob = len;
    r->heap[r->nheap++] = v;
    return 0;
}

size_t kh_rules_source_count(const kh_rules *r) { return r ? r->nsources : 0; }

int kh_rules_source_stats(const kh_rules *r, size_t i, const char **path, kh_rules_stats *out)
{
    if (!r || i >= r->nsources)
        return KH_ENOTFOUND;
    if (path)
        *path = kh_rules_str(r, r->sources[i]);
    if (!r->cav || i >= r->cav->nsrcstats)
        return KH_ENOTFOUND;
    if (out)
        *out = r->cav->srcstats[i];
    return 0;
}
