/* Khiên — engine: hash signature lookup.
 *
 * Tables are arrays of fixed-size records sorted by (digest, size), built
 * by the compiler and possibly living in a mapped cache file. A lookup is a
 * binary search for the first record with the digest, then a walk over the
 * records that share it, keeping those whose size matches the file or is
 * "any". The separate sorted list of sizes answers the cheaper question
 * asked first for every file: is there any record this file could match?
 * If not, the file is not hashed at all.
 */
#include "engine/rules_int.h"

int kh_htab_size_wanted(const kh_htab *t, uint64_t size)
{
    if (t->n == 0)
        return 0;
    if (t->any_size)
        return 1;
    if (size >= KH_ANY_SIZE)
        return 0;
    uint64_t lo = 0, hi = t->nsizes;
    uint32_t s = (uint32_t)size;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (t->sizes[mid] < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->nsizes && t->sizes[lo] == s;
}

int kh_htab_lookup(const kh_htab *t, unsigned alg, const uint8_t *digest, uint64_t size, kh_hash_hit_fn fn, void *ctx)
{
    size_t rl = KH_HREC(alg), dl = kh_halg_len[alg];
    uint64_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (memcmp(t->rec + mid * rl, digest, dl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (uint64_t i = lo; i < t->n; i++) {
        const uint8_t *r = t->rec + i * rl;
        if (memcmp(r, digest, dl) != 0)
            break;
        uint32_t sz, sig;
        memcpy(&sz, r + dl, 4);
        memcpy(&sig, r + dl + 4, 4);
        if (sz == KH_ANY_SIZE || sz == size) {
            int rc = fn(sig, ctx);
            if (rc)
                return rc;
        }
    }
    return 0;
}
