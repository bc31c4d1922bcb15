/* Tests of src/engine/hashdb.c: building and searching the hash tables.
 *
 * The record sort switches from qsort to a bucket sort at 65,536 records,
 * so the tables here are larger than that: random digests, plus runs of
 * one digest with several sizes and digests sharing their first two bytes
 * (one bucket), checked against qsort of the same records. Lookups find
 * every record, with its size or "any size", and nothing else.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "engine/rules_int.h"
#include "harness.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static int cmp_ref(const void *a, const void *b, void *arg)
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

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* n records of algorithm alg; every 50th repeats the previous digest with
 * another size, every 97th shares the previous one's first two bytes. */
static uint8_t *make_records(size_t n, unsigned alg)
{
    size_t rl = KH_HREC(alg), dl = kh_halg_len[alg];
    uint8_t *r = malloc(n * rl);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = r + i * rl;
        for (size_t j = 0; j < dl; j++)
            p[j] = (uint8_t)rnd();
        if (i && i % 50 == 0)
            memcpy(p, p - rl, dl);
        else if (i && i % 97 == 0)
            memcpy(p, p - rl, 2);
        uint32_t size = i % 7 == 0 ? KH_ANY_SIZE : rnd() % 100000, sig = (uint32_t)i;
        memcpy(p + dl, &size, 4);
        memcpy(p + dl + 4, &sig, 4);
    }
    return r;
}

KT_TEST(test_engine_hashdb__sort_matches_qsort)
{
    static const size_t sizes[] = {0, 1, 1000, 65536, 200003};
    for (unsigned alg = 0; alg < KH_NALG; alg++)
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            size_t n = sizes[k], rl = KH_HREC(alg), dl = kh_halg_len[alg];
            uint8_t *a = make_records(n ? n : 1, alg);
            uint8_t *b = malloc(n * rl + 1);
            memcpy(b, a, n * rl);
            kh_htab_sort(a, n, alg);
            if (n > 1)
                qsort_r(b, n, rl, cmp_ref, &dl);
            /* records with equal (digest, size) may come in any order: compare keys, and the multiset of sigs */
            int keys_same = 1;
            uint64_t suma = 0, sumb = 0;
            for (size_t i = 0; i < n; i++) {
                keys_same &= memcmp(a + i * rl, b + i * rl, dl + 4) == 0;
                uint32_t x, y;
                memcpy(&x, a + i * rl + dl + 4, 4);
                memcpy(&y, b + i * rl + dl + 4, 4);
                suma += (uint64_t)x * x + 1, sumb += (uint64_t)y * y + 1;
            }
            if (!keys_same || suma != sumb)
                KT_FAIL_("alg %u, %zu records: sorted order differs from qsort", alg, n);
            free(a);
            free(b);
        }
}

KT_TEST(test_engine_hashdb__sort_u32_matches_qsort)
{
    static const size_t sizes[] = {0, 1, 4095, 4096, 100001};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        uint32_t *a = malloc((n + 1) * 4), *b = malloc((n + 1) * 4);
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = i % 3 ? rnd() : rnd() % 1000; /* duplicates too */
        kh_sort_u32(a, n);
        if (n > 1)
            qsort(b, n, 4, cmp_u32);
        KT_CHECK(n == 0 || memcmp(a, b, n * 4) == 0);
        free(a);
        free(b);
    }
}

typedef struct seen {
    uint32_t want;
    int found, others;
} seen;

static int on_hit(uint32_t sig, void *ctx)
{
    seen *s = ctx;
    if (sig == s->want)
        s->found++;
    return 0;
}

KT_TEST(test_engine_hashdb__lookup_finds_every_record)
{
    unsigned alg = KH_SHA256;
    size_t n = 100000, rl = KH_HREC(alg), dl = kh_halg_len[alg];
    uint8_t *r = make_records(n, alg), *orig = malloc(n * rl);
    memcpy(orig, r, n * rl);
    kh_htab_sort(r, n, alg);
    kh_htab t = {r, n, NULL, 0, 1};
    int missing = 0, wrong = 0;
    for (size_t i = 0; i < n; i += 7) {
        const uint8_t *p = orig + i * rl;
        uint32_t size, sig;
        memcpy(&size, p + dl, 4);
        memcpy(&sig, p + dl + 4, 4);
        seen s = {sig, 0, 0};
        kh_htab_lookup(&t, alg, p, size == KH_ANY_SIZE ? 12345 : size, on_hit, &s);
        missing += s.found != 1;
        if (size != KH_ANY_SIZE) {
            /* another size: only "any size" records of this digest may answer, never this one */
            seen o = {sig, 0, 0};
            kh_htab_lookup(&t, alg, p, (uint64_t)size + 100000, on_hit, &o);
            wrong += o.found != 0;
        }
    }
    KT_EQ_INT(missing, 0);
    KT_EQ_INT(wrong, 0);
    free(r);
    free(orig);
}

KT_MAIN({
    KT_CASE(test_engine_hashdb__sort_matches_qsort),
    KT_CASE(test_engine_hashdb__sort_u32_matches_qsort),
    KT_CASE(test_engine_hashdb__lookup_finds_every_record),
})
