/* Tests of src/scan/cache.c, the persistent clean-file cache.
 *
 * The cache may only ever say "clean" for a file whose device, inode,
 * size, mtime and ctime all match what was recorded under the same
 * signature set. Everything else (a changed file, a damaged, truncated or
 * foreign cache file, another signature set) must give a miss. Saved
 * entries survive a reopen; saving merges with what other processes saved;
 * the number of entries kept is bounded.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_engine.h"
#include "scan/scan_int.h"

static char dir[256];
static char cpath[512];
/* Two signature sets with different ids, built on first use. */
static kh_rules *rules_a, *rules_b;
static size_t entsize; /* bytes per entry in the file, measured */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    if (!rules_a) {
        rules_a = kt_rules("ndb", "Set.A:0:*:616263\n");
        rules_b = kt_rules("ndb", "Set.B:0:*:616263\n");
        KT_CHECK(rules_a && rules_b && memcmp(kh_rules_id(rules_a), kh_rules_id(rules_b), 32) != 0);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/kt_cache_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    KT_CHECK(mkdtemp(dir) != NULL);
    snprintf(cpath, sizeof(cpath), "%s/clean-cache.bin", dir);
}

static void teardown(void) { nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS); }

/* A real file and its stat. */
static struct stat make_file(const char *name, const char *content)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
    struct stat st;
    memset(&st, 0, sizeof(st));
    KT_EQ_INT(stat(p, &st), 0);
    return st;
}

/* A made-up stat: distinct inodes on one device. */
static struct stat fake(uint64_t ino)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_dev = 42;
    st.st_ino = (ino_t)ino;
    st.st_size = (off_t)(1000 + ino);
    st.st_mtim.tv_sec = 1700000000 + (time_t)ino;
    st.st_mtim.tv_nsec = 123;
    st.st_ctim.tv_sec = 1700000000 + (time_t)ino;
    st.st_ctim.tv_nsec = 456;
    return st;
}

/* Two signature sets with different ids, built on first use. */

static kh_cache *open_cache(const kh_rules *r, size_t max)
{
    kh_cache *c = NULL;
    KT_EQ_INT(kh_cache_open(&c, cpath, r, max), 0);
    return c;
}

KT_TEST(test_scan_cache__round_trip)
{
    setup();
    struct stat a = make_file("a", "alpha"), b = make_file("b", "beta"), z = make_file("z", "");
    kh_cache *c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_count(c), 0);
    KT_EQ_INT(kh_cache_check(c, &a), 0);
    kh_cache_put(c, &a);
    kh_cache_put(c, &b);
    kh_cache_put(c, &z);
    kh_cache_put(c, &a); /* again: still one entry */
    KT_EQ_INT(kh_cache_count(c), 3);
    KT_EQ_INT(kh_cache_check(c, &a), 1);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    KT_EQ_INT(access(cpath, F_OK), 0);

    c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_count(c), 3);
    KT_EQ_INT(kh_cache_check(c, &a), 1);
    KT_EQ_INT(kh_cache_check(c, &b), 1);
    KT_EQ_INT(kh_cache_check(c, &z), 1);
    struct stat other = fake(7);
    KT_EQ_INT(kh_cache_check(c, &other), 0);
    kh_cache_destroy(c);

    /* Misuse. */
    kh_cache *x = NULL;
    KT_EQ_INT(kh_cache_open(&x, NULL, rules_a, 0), KH_EINVAL);
    KT_EQ_INT(kh_cache_open(&x, cpath, NULL, 0), KH_EINVAL);
    KT_EQ_INT(kh_cache_save(NULL), KH_EINVAL);
    kh_cache_destroy(NULL);
    KT_EQ_INT(kh_cache_count(NULL), 0);
    teardown();
}

KT_TEST(test_scan_cache__nothing_to_save_writes_nothing)
{
    setup();
    kh_cache *c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    KT_CHECK(access(cpath, F_OK) != 0);
    teardown();
}

KT_TEST(test_scan_cache__changed_file_is_not_clean)
{
    setup();
    kh_cache *c = open_cache(rules_a, 0);
    struct stat s = fake(1);
    kh_cache_put(c, &s);
    KT_EQ_INT(kh_cache_check(c, &s), 1);
    struct stat v;
    v = s, v.st_size++;
    KT_EQ_INT(kh_cache_check(c, &v), 0);
    v = s, v.st_mtim.tv_nsec++;
    KT_EQ_INT(kh_cache_check(c, &v), 0);
    v = s, v.st_mtim.tv_sec--;
    KT_EQ_INT(kh_cache_check(c, &v), 0);
    v = s, v.st_ctim.tv_nsec++;
    KT_EQ_INT(kh_cache_check(c, &v), 0);
    v = s, v.st_ctim.tv_sec++;
    KT_EQ_INT(kh_cache_check(c, &v), 0);
    v = s, v.st_ino++;
    KT_EQ_INT(kh_cache_check(c, &v), 0);
    v = s, v.st_dev++;
    KT_EQ_INT(kh_cache_check(c, &v), 0);
    KT_EQ_INT(kh_cache_check(c, &s), 1);

    /* A real file: rewritten with the same size and its mtime put back,
     * the ctime still gives it away. */
    struct stat a = make_file("f", "0123456789");
    kh_cache_put(c, &a);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    char p[600];
    snprintf(p, sizeof(p), "%s/f", dir);
    struct timespec later = a.st_ctim;
    struct stat now;
    do { /* let the coarse file-system clock move on */
        usleep(2000);
        struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
        utimensat(AT_FDCWD, dir, ts, 0);
        stat(dir, &now);
    } while (now.st_mtim.tv_sec == later.tv_sec && now.st_mtim.tv_nsec == later.tv_nsec);
    FILE *f = fopen(p, "r+b");
    fputs("9876543210", f);
    fclose(f);
    struct timespec ts[2] = {a.st_atim, a.st_mtim};
    KT_EQ_INT(utimensat(AT_FDCWD, p, ts, 0), 0);
    struct stat b;
    KT_EQ_INT(stat(p, &b), 0);
    KT_EQ_INT(b.st_size, a.st_size);
    KT_CHECK(b.st_mtim.tv_sec == a.st_mtim.tv_sec && b.st_mtim.tv_nsec == a.st_mtim.tv_nsec);
    c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_check(c, &a), 1);
    KT_EQ_INT(kh_cache_check(c, &b), 0);
    kh_cache_destroy(c);
    teardown();
}

typedef enum harm {
    H_FLIP_ENTRY, H_FLIP_MAGIC, H_FLIP_RULES, H_FLIP_SUM, H_FLIP_COUNT, H_TRUNC_ONE, H_TRUNC_HEADER, H_TRUNC_ZERO,
    H_APPEND, H_GARBAGE, H_DIRECTORY, H_COUNT_AND_SIZE
} harm;

static void harm_file(harm h)
{
    struct stat st;
    KT_EQ_INT(stat(cpath, &st), 0);
    off_t size = st.st_size;
    int fd = open(cpath, O_RDWR);
    KT_CHECK(fd >= 0);
    uint8_t b;
    /* Header: magic 8, version 4, entsize 4, rules id 32, count 8, sum 32. */
    off_t at = h == H_FLIP_ENTRY ? size - 10 : h == H_FLIP_MAGIC ? 3 : h == H_FLIP_RULES ? 20 : h == H_FLIP_SUM ? 60
                                                                                      : 48;
    switch (h) {
    case H_FLIP_ENTRY:
    case H_FLIP_MAGIC:
    case H_FLIP_RULES:
    case H_FLIP_SUM:
    case H_FLIP_COUNT:
        KT_EQ_INT(pread(fd, &b, 1, at), 1);
        b ^= 0x01;
        KT_EQ_INT(pwrite(fd, &b, 1, at), 1);
        break;
    case H_TRUNC_ONE:
        KT_EQ_INT(ftruncate(fd, size - 1), 0);
        break;
    case H_TRUNC_HEADER:
        KT_EQ_INT(ftruncate(fd, 88), 0);
        break;
    case H_TRUNC_ZERO:
        KT_EQ_INT(ftruncate(fd, 0), 0);
        break;
    case H_APPEND:
        KT_EQ_INT(pwrite(fd, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 48, size), 48);
        break;
    case H_GARBAGE:
        for (off_t i = 0; i < size; i++) {
            b = (uint8_t)(i * 37 + 11);
            KT_EQ_INT(pwrite(fd, &b, 1, i), 1);
        }
        break;
    case H_DIRECTORY:
        close(fd);
        fd = -1;
        KT_EQ_INT(unlink(cpath), 0);
        KT_EQ_INT(mkdir(cpath, 0700), 0);
        break;
    case H_COUNT_AND_SIZE: {
        /* Claims one entry fewer and is cut to match: the checksum tells. */
        uint64_t n;
        KT_EQ_INT(pread(fd, &n, 8, 48), 8);
        n--;
        KT_EQ_INT(pwrite(fd, &n, 8, 48), 8);
        KT_EQ_INT(ftruncate(fd, size - (off_t)entsize), 0);
        break;
    }
    }
    if (fd >= 0)
        close(fd);
}

KT_TEST(test_scan_cache__damaged_file_is_discarded)
{
    static const harm all[] = {H_FLIP_ENTRY, H_FLIP_MAGIC,   H_FLIP_RULES, H_FLIP_SUM, H_FLIP_COUNT, H_TRUNC_ONE,
                               H_TRUNC_HEADER, H_TRUNC_ZERO, H_APPEND,     H_GARBAGE,  H_DIRECTORY,  H_COUNT_AND_SIZE};
    for (size_t i = 0; i < KH_ARRAY_LEN(all); i++) {
        setup();
        kh_cache *c = open_cache(rules_a, 0);
        struct stat e[3] = {fake(1), fake(2), fake(3)};
        for (int k = 0; k < 3; k++)
            kh_cache_put(c, &e[k]);
        KT_EQ_INT(kh_cache_save(c), 0);
        kh_cache_destroy(c);
        /* The layout assumed by harm_file: an 88-byte header and 3 entries. */
        struct stat st;
        KT_EQ_INT(stat(cpath, &st), 0);
        KT_CHECK(st.st_size > 88 && (st.st_size - 88) % 3 == 0);
        entsize = (size_t)(st.st_size - 88) / 3;
        harm_file(all[i]);
        c = open_cache(rules_a, 0);
        KT_CHECK(c != NULL);
        if (!c) {
            teardown();
            continue;
        }
        if (kh_cache_count(c) != 0)
            KT_FAIL_("damage %zu: %zu entries trusted", i, kh_cache_count(c));
        for (int k = 0; k < 3; k++)
            if (kh_cache_check(c, &e[k]))
                KT_FAIL_("damage %zu: entry %d said clean", i, k);
        /* The cache still works, and (except where a directory is in the
         * way) saving replaces the damaged file with a good one. */
        kh_cache_put(c, &e[0]);
        int rc = kh_cache_save(c);
        kh_cache_destroy(c);
        if (all[i] != H_DIRECTORY) {
            KT_EQ_INT(rc, 0);
            c = open_cache(rules_a, 0);
            KT_EQ_INT(kh_cache_count(c), 1);
            KT_EQ_INT(kh_cache_check(c, &e[0]), 1);
            kh_cache_destroy(c);
        } else {
            KT_CHECK(rc != 0);
            rmdir(cpath);
        }
        teardown();
    }
}

KT_TEST(test_scan_cache__other_rules_invalidate)
{
    setup();
    struct stat s = fake(1);
    kh_cache *c = open_cache(rules_a, 0);
    kh_cache_put(c, &s);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    c = open_cache(rules_b, 0);
    KT_EQ_INT(kh_cache_count(c), 0);
    KT_EQ_INT(kh_cache_check(c, &s), 0);
    /* Saving for set B replaces set A's entries... */
    struct stat t = fake(2);
    kh_cache_put(c, &t);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    /* ... which set A then does not see either. */
    c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_count(c), 0);
    KT_EQ_INT(kh_cache_check(c, &s), 0);
    KT_EQ_INT(kh_cache_check(c, &t), 0);
    kh_cache_destroy(c);
    c = open_cache(rules_b, 0);
    KT_EQ_INT(kh_cache_count(c), 1);
    KT_EQ_INT(kh_cache_check(c, &t), 1);
    kh_cache_destroy(c);
    teardown();
}

KT_TEST(test_scan_cache__max_entries)
{
    setup();
    kh_cache *c = open_cache(rules_a, 3);
    for (uint64_t i = 1; i <= 10; i++) {
        struct stat s = fake(i);
        kh_cache_put(c, &s);
    }
    /* Memory is bounded too (at most twice the entries kept). */
    KT_CHECK(kh_cache_count(c) >= 3 && kh_cache_count(c) <= 6);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_count(c), 3);
    size_t hits = 0;
    for (uint64_t i = 1; i <= 10; i++) {
        struct stat s = fake(i);
        hits += (size_t)kh_cache_check(c, &s);
    }
    KT_EQ_INT(hits, 3);
    kh_cache_destroy(c);
    /* A file within the bound stays within it after another session adds more. */
    c = open_cache(rules_a, 3);
    for (uint64_t i = 20; i < 25; i++) {
        struct stat s = fake(i);
        kh_cache_put(c, &s);
    }
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_count(c), 3);
    kh_cache_destroy(c);
    teardown();
}

KT_TEST(test_scan_cache__save_merges_other_sessions)
{
    setup();
    kh_cache *c1 = open_cache(rules_a, 0), *c2 = open_cache(rules_a, 0);
    for (uint64_t i = 1; i <= 3; i++) {
        struct stat s = fake(i);
        kh_cache_put(c1, &s);
    }
    for (uint64_t i = 3; i <= 5; i++) {
        struct stat s = fake(i);
        kh_cache_put(c2, &s);
    }
    KT_EQ_INT(kh_cache_save(c1), 0);
    KT_EQ_INT(kh_cache_save(c2), 0);
    kh_cache_destroy(c1);
    kh_cache_destroy(c2);
    kh_cache *c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_count(c), 5);
    for (uint64_t i = 1; i <= 5; i++) {
        struct stat s = fake(i);
        KT_EQ_INT(kh_cache_check(c, &s), 1);
    }
    kh_cache_destroy(c);
    teardown();
}

KT_TEST(test_scan_cache__drop_forgets)
{
    setup();
    struct stat a = fake(1), b = fake(2);
    kh_cache *c = open_cache(rules_a, 0);
    kh_cache_put(c, &a);
    kh_cache_put(c, &b);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    c = open_cache(rules_a, 0);
    kh_cache_drop(c, &a);
    KT_EQ_INT(kh_cache_check(c, &a), 0);
    KT_EQ_INT(kh_cache_count(c), 1);
    /* Saving merges with the file on disk, which still holds `a`: the drop
     * must win over that older record. */
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_check(c, &a), 0);
    KT_EQ_INT(kh_cache_check(c, &b), 1);
    KT_EQ_INT(kh_cache_count(c), 1);
    /* Put back after a drop: clean again. */
    kh_cache_put(c, &a);
    KT_EQ_INT(kh_cache_check(c, &a), 1);
    kh_cache_destroy(c);
    teardown();
}

/* Many entries, then half of them dropped: the rest are all still found
 * (open addressing with deletions keeps its probe chains). */
KT_TEST(test_scan_cache__many_entries_and_drops)
{
    setup();
    kh_cache *c = open_cache(rules_a, 0);
    const uint64_t N = 20000;
    for (uint64_t i = 1; i <= N; i++) {
        struct stat s = fake(i * 7919);
        kh_cache_put(c, &s);
    }
    KT_EQ_INT(kh_cache_count(c), N);
    for (uint64_t i = 1; i <= N; i += 2) {
        struct stat s = fake(i * 7919);
        kh_cache_drop(c, &s);
    }
    KT_EQ_INT(kh_cache_count(c), N / 2);
    size_t bad = 0;
    for (uint64_t i = 1; i <= N; i++) {
        struct stat s = fake(i * 7919);
        bad += (size_t)(kh_cache_check(c, &s) != (int)(i % 2 == 0));
    }
    KT_EQ_INT(bad, 0);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_count(c), N / 2);
    kh_cache_destroy(c);
    teardown();
}

/* kh_cache_open_set(): keyed on a set id (kh_compiler_identity(), the set
 * need not be loaded) and on the limits; the id of a loaded set is the same
 * key, so both ways of opening agree. */
KT_TEST(test_scan_cache__identity_and_limits)
{
    setup();
    struct stat a = make_file("a", "alpha");
    kh_scan_options o = KH_SCAN_OPTIONS_INIT;
    kh_cache *c = NULL;
    KT_EQ_INT(kh_cache_open_set(&c, cpath, kh_rules_id(rules_a), &o, 0), 0);
    kh_cache_put(c, &a);
    KT_EQ_INT(kh_cache_save(c), 0);
    kh_cache_destroy(c);
    /* default options: the same as kh_cache_open() */
    c = open_cache(rules_a, 0);
    KT_EQ_INT(kh_cache_check(c, &a), 1);
    kh_cache_destroy(c);
    /* options that cannot change a clean verdict: same cache */
    o.flags |= KH_SCAN_ALLMATCH | KH_SCAN_ALERT_LIMITS | KH_SCAN_STRINGS;
    o.stream_threshold = 1u << 20;
    KT_EQ_INT(kh_cache_open_set(&c, cpath, kh_rules_id(rules_a), &o, 0), 0);
    KT_EQ_INT(kh_cache_check(c, &a), 1);
    kh_cache_destroy(c);
    /* each limit: another cache */
    for (int i = 0; i < 6; i++) {
        kh_scan_options l = KH_SCAN_OPTIONS_INIT;
        switch (i) {
        case 0: l.max_filesize /= 2; break;
        case 1: l.max_scansize /= 2; break;
        case 2: l.max_depth--; break;
        case 3: l.max_files--; break;
        case 4: l.max_ratio--; break;
        default: l.flags |= KH_SCAN_YARA_ALL; break;
        }
        KT_EQ_INT(kh_cache_open_set(&c, cpath, kh_rules_id(rules_a), &l, 0), 0);
        KT_EQ_INT(kh_cache_check(c, &a), 0);
        kh_cache_destroy(c);
    }
    /* another set */
    KT_EQ_INT(kh_cache_open_set(&c, cpath, kh_rules_id(rules_b), NULL, 0), 0);
    KT_EQ_INT(kh_cache_check(c, &a), 0);
    kh_cache_destroy(c);
    kh_cache *x = NULL;
    KT_EQ_INT(kh_cache_open_set(&x, cpath, NULL, NULL, 0), KH_EINVAL);
    kh_scan_options bad = KH_SCAN_OPTIONS_INIT;
    bad.version = 99;
    KT_EQ_INT(kh_cache_open_set(&x, cpath, kh_rules_id(rules_a), &bad, 0), KH_EINVAL);
    KT_CHECK(x == NULL);
    teardown();
}

KT_TEST(test_scan_cache__teardown_rules)
{
    kh_rules_destroy(rules_a);
    kh_rules_destroy(rules_b);
    rules_a = rules_b = NULL;
}

KT_MAIN({
    KT_CASE(test_scan_cache__round_trip),
    KT_CASE(test_scan_cache__nothing_to_save_writes_nothing),
    KT_CASE(test_scan_cache__changed_file_is_not_clean),
    KT_CASE(test_scan_cache__damaged_file_is_discarded),
    KT_CASE(test_scan_cache__other_rules_invalidate),
    KT_CASE(test_scan_cache__max_entries),
    KT_CASE(test_scan_cache__save_merges_other_sessions),
    KT_CASE(test_scan_cache__drop_forgets),
    KT_CASE(test_scan_cache__many_entries_and_drops),
    KT_CASE(test_scan_cache__identity_and_limits),
    KT_CASE(test_scan_cache__teardown_rules),
})
