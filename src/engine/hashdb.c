/* Khiên — engine: hash signature lookup.
 *
 * Tables are arrays of fixed-size records sorted by (digest, size), built
 * by the compiler and possibly living in a mapped cache file. A lookup is a
 * binary search for the first record with the digest, then a walk over the
 * records that share it, keeping those whose size matches the file or is
 * "any". The separate sorted list of sizes answers the cheaper question
 * asked first for every file: is there any record this file could match?
 * If not, the file is not hashed at all.
 *
 * Building sorts millions of records (ClamAV's official set has 8 million):
 * a generic qsort took 6 of the 30 CPU seconds of a first load. Digests
 * are uniformly distributed, so a counting sort on their first two bytes
 * puts them into 65,536 buckets of about a hundred records each, sorted
 * one by one; the sizes are sorted by a radix sort.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "engine/rules_int.h"

static int cmp_rec(const void *a, const void *b, void *arg)
{
    size_t dl = *(const size_t *)arg;
    int c = memcmp(a, b, dl);
    if (c)
        return c;
    uint32_t x, y;
    memcpy(&x, (const uint8_t *)a + dl, 4);
    memcpy(&y, (const uint8_t *)b + dl, 4);
    return x < y ? -1 : x > y;
}

#define NBUCKET 65536u

void kh_htab_sort(uint8_t *rec, size_t n, unsigned alg)
{
    size_t rl = KH_HREC(alg), dl = kh_halg_len[alg];
    if (n < 2)
        return;
    uint8_t *tmp = n >= NBUCKET ? malloc(n * rl) : NULL;
    size_t *end = tmp ? calloc(NBUCKET, sizeof(size_t)) : NULL;
    if (!end) {
        free(tmp);
        qsort_r(rec, n, rl, cmp_rec, &dl);
        return;
    }
    for (size_t i = 0; i < n; i++)
        end[(unsigned)rec[i * rl] << 8 | rec[i * rl + 1]]++;
    size_t sum = 0;
    for (unsigned k = 0; k < NBUCKET; k++) {
        size_t c = end[k];
        end[k] = sum; /* start, advanced to the end while scattering */
        sum += c;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned k = (unsigned)rec[i * rl] << 8 | rec[i * rl + 1];
        memcpy(tmp + end[k]++ * rl, rec + i * rl, rl);
    }
    for (unsigned k = 0; k < NBUCKET; k++) {
        size_t from = k ? end[k - 1] : 0, len = end[k] - from;
        if (len > 1)
            qsort_r(tmp + from * rl, len, rl, cmp_rec, &dl);
    }
    memcpy(rec, tmp, n * rl);
    free(end);
    free(tmp);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void kh_sort_u32(uint32_t *v, size_t n)
{
    uint32_t *tmp = n >= 4096 ? malloc(n * sizeof(uint32_t)) : NULL;
    if (!tmp) {
        kh_qsort(v, n, sizeof(uint32_t), cmp_u32);
        return;
    }
    uint32_t *a = v, *b = tmp;
    for (unsigned shift = 0; shift < 32; shift += 8) {
        size_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[(a[i] >> shift) & 0xff]++;
        size_t sum = 0;
        for (unsigned k = 0; k < 256; k++) {
            size_t c = cnt[k];
            cnt[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            b[cnt[(a[i] >> shift) & 0xff]++] = a[i];
        uint32_t *t = a;
        a = b;
        b = t;
    }
    /* four passes: the result is back in v */
    free(tmp);
}

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
