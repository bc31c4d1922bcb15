/* Khiên — engine: confirming candidates against the exact pattern tree. */
#ifndef KH_ENGINE_CONFIRM_H
#define KH_ENGINE_CONFIRM_H

#include "engine/ir.h"

typedef struct kh_ival {
    uint64_t lo, hi; /* inclusive */
} kh_ival;

typedef struct kh_pset {
    kh_ival *v;
    size_t n, cap;
} kh_pset;

typedef struct kh_confirm {
    kh_pset *pool;
    size_t npool, sp;
    uint64_t budget; /* positions left to examine in this call */
} kh_confirm;

/* Work limit per confirmation, in positions examined. */
#define KH_CONFIRM_BUDGET (64ull << 20)

void kh_confirm_init(kh_confirm *cx);
void kh_confirm_dispose(kh_confirm *cx);

void kh_pset_clear(kh_pset *s);
int kh_pset_add(kh_pset *s, uint64_t lo, uint64_t hi); /* appends, merging with the last interval */
void kh_pset_free(kh_pset *s);

/* Does the tree at `root` match starting at some position of `starts`
 * in buf[0, len)? Sets *matched. If end_out is non-NULL it receives the
 * set of end positions. Returns 0, KH_ELIMIT (budget), KH_ENOMEM. */
int kh_confirm_match(kh_confirm *cx, const struct kh_rules *r, uint32_t root, const uint8_t *buf, uint64_t len,
                     const kh_pset *starts, int *matched);

/* Leftmost start position in `starts` at which the tree matches.
 * Returns 0 (found), KH_ENOTFOUND, KH_ELIMIT, KH_ENOMEM. */
int kh_confirm_first(kh_confirm *cx, const struct kh_rules *r, uint32_t root, const uint8_t *buf, uint64_t len,
                     const kh_pset *starts, uint64_t *start_out);

#endif
