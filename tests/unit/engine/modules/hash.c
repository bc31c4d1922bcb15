/* Tests of src/engine/modules/hash.c: every function through its
 * declaration, on "The quick brown fox jumps over the lazy dog" (43 bytes).
 * Expected digests come from md5sum/sha1sum/sha256sum and Python's
 * zlib.crc32 run on the same bytes (e.g. `printf quick | md5sum`), and the
 * range rules from yara 4.2.3 itself: hash.crc32(43, 0) is undefined (the
 * offset is not inside the data), hash.crc32(42, 0) is the CRC of nothing,
 * hash.md5(40, 100) is the digest of "dog" (cut at the end), negative
 * offsets or sizes are undefined, and on empty data every range is. */
#include <stdint.h>

#include "engine/modules/module.h"
#include "harness.h"

extern const kh_ymodule kh_ymod_hash;

static const char fox[] = "The quick brown fox jumps over the lazy dog";
#define FOX_LEN 43

static kh_yarena *arena;

static const kh_yfunc *find(const char *fn, const char *sig)
{
    for (const kh_ymember *m = kh_ymod_hash.decl.members; m->name; m++)
        if (strcmp(m->name, fn) == 0 && m->type == KH_YT_FUNC)
            for (const kh_yfunc *f = m->funcs; f->fn; f++)
                if (strcmp(f->args, sig) == 0)
                    return f;
    return NULL;
}

/* Calls fn(offset, size) on `data`; the result as text, or "undefined". */
static const char *range(const char *fn, const void *data, size_t len, int64_t off, int64_t size)
{
    static char buf[128];
    kh_yval args[2] = {{KH_YT_INT, 1, {.i = off}}, {KH_YT_INT, 1, {.i = size}}}, out;
    kh_ycall c = {NULL, data, len, arena, NULL, NULL, NULL};
    const kh_yfunc *f = find(fn, "ii");
    memset(&out, 0, sizeof(out));
    if (!f || f->fn(&c, args, &out) != 0)
        return "error";
    if (!out.defined)
        return "undefined";
    if (out.type != f->ret)
        return "wrong type";
    if (out.type == KH_YT_STR)
        snprintf(buf, sizeof(buf), "%.*s", (int)out.v.s.n, (const char *)out.v.s.p);
    else
        snprintf(buf, sizeof(buf), "%lld", (long long)out.v.i);
    return buf;
}

/* Calls fn(string). */
static const char *str(const char *fn, const void *p, size_t n)
{
    static char buf[128];
    kh_yval arg = {KH_YT_STR, 1, {.s = {p, (uint32_t)n}}}, out;
    kh_ycall c = {NULL, (const uint8_t *)"", 0, arena, NULL, NULL, NULL};
    const kh_yfunc *f = find(fn, "s");
    memset(&out, 0, sizeof(out));
    if (!f || f->fn(&c, &arg, &out) != 0)
        return "error";
    if (!out.defined || out.type != f->ret)
        return "undefined";
    if (out.type == KH_YT_STR)
        snprintf(buf, sizeof(buf), "%.*s", (int)out.v.s.n, (const char *)out.v.s.p);
    else
        snprintf(buf, sizeof(buf), "%lld", (long long)out.v.i);
    return buf;
}

KT_TEST(test_engine_modules_hash__digests)
{
    arena = kh_yarena_create();
    KT_EQ_STR(range("md5", fox, FOX_LEN, 0, FOX_LEN), "9e107d9d372bb6826bd81d3542a419d6");
    KT_EQ_STR(range("sha1", fox, FOX_LEN, 0, FOX_LEN), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
    KT_EQ_STR(range("sha256", fox, FOX_LEN, 0, FOX_LEN),
              "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
    /* "quick" */
    KT_EQ_STR(range("md5", fox, FOX_LEN, 4, 5), "1df3746a4728276afdc24f828186f73a");
    KT_EQ_STR(range("sha1", fox, FOX_LEN, 4, 5), "9a5751d5acecf26ff7eb2b33c144efce1c69fe9a");
    KT_EQ_STR(range("sha256", fox, FOX_LEN, 4, 5),
              "22c72aa82ce77c82e2ca65a711c79eaa4b51c57f85f91489ceeacc7b385943ba");
    KT_EQ_STR(str("md5", "quick", 5), "1df3746a4728276afdc24f828186f73a");
    KT_EQ_STR(str("sha1", "quick", 5), "9a5751d5acecf26ff7eb2b33c144efce1c69fe9a");
    KT_EQ_STR(str("sha256", "quick", 5), "22c72aa82ce77c82e2ca65a711c79eaa4b51c57f85f91489ceeacc7b385943ba");
    /* Cut at the end: "dog". */
    KT_EQ_STR(range("md5", fox, FOX_LEN, 40, 100), "06d80eb0c50b49a509b49f2424e8c805");
    KT_EQ_STR(range("sha256", fox, FOX_LEN, 40, 1000000),
              "cd6357efdd966de8c0cb2f876cc89ec74ce35f0968e11743987084bd42fb8944");
    KT_EQ_STR(range("sha1", fox, FOX_LEN, 40, INT64_MAX), "e49512524f47b4138d850c9d9d85972927281da0");
    /* Empty input. */
    KT_EQ_STR(range("md5", fox, FOX_LEN, 42, 0), "d41d8cd98f00b204e9800998ecf8427e");
    KT_EQ_STR(str("md5", "", 0), "d41d8cd98f00b204e9800998ecf8427e");
    KT_EQ_STR(str("md5", NULL, 0), "d41d8cd98f00b204e9800998ecf8427e");
    KT_EQ_STR(str("sha1", "", 0), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    KT_EQ_STR(str("sha256", "", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    kh_yarena_destroy(arena);
}

KT_TEST(test_engine_modules_hash__checksums)
{
    arena = kh_yarena_create();
    KT_EQ_STR(range("crc32", fox, FOX_LEN, 0, FOX_LEN), "1095738169"); /* 0x414fa339 */
    KT_EQ_STR(range("crc32", fox, FOX_LEN, 4, 5), "2378637015");
    KT_EQ_STR(str("crc32", "\xff\x00\x80", 3), "2892066527");
    KT_EQ_STR(str("crc32", "", 0), "0");
    KT_EQ_STR(range("checksum32", fox, FOX_LEN, 0, FOX_LEN), "4057");
    KT_EQ_STR(range("checksum32", fox, FOX_LEN, 4, 5), "541");
    KT_EQ_STR(str("checksum32", "\xff\x00\x80", 3), "383");
    KT_EQ_STR(range("crc32", fox, FOX_LEN, 42, 0), "0");
    kh_yarena_destroy(arena);
}

KT_TEST(test_engine_modules_hash__checksum32_wraps)
{
    static uint8_t big[1 << 16];
    arena = kh_yarena_create();
    memset(big, 0xff, sizeof(big));
    /* 65536 * 255 = 16711680 fits; the sum is modulo 2^32 in general. */
    KT_EQ_STR(range("checksum32", big, sizeof(big), 0, sizeof(big)), "16711680");
    kh_yarena_destroy(arena);
}

KT_TEST(test_engine_modules_hash__undefined_ranges)
{
    static const char *const fns[] = {"md5", "sha1", "sha256", "checksum32", "crc32"};
    arena = kh_yarena_create();
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        KT_EQ_STR(range(fns[i], fox, FOX_LEN, FOX_LEN, 0), "undefined");
        KT_EQ_STR(range(fns[i], fox, FOX_LEN, FOX_LEN + 1, 1), "undefined");
        KT_EQ_STR(range(fns[i], fox, FOX_LEN, -1, 2), "undefined");
        KT_EQ_STR(range(fns[i], fox, FOX_LEN, 0, -1), "undefined");
        KT_EQ_STR(range(fns[i], fox, FOX_LEN, INT64_MIN, INT64_MAX), "undefined");
        KT_EQ_STR(range(fns[i], "", 0, 0, 0), "undefined");
        KT_EQ_STR(range(fns[i], NULL, 0, 0, 10), "undefined");
    }
    kh_yarena_destroy(arena);
}

KT_MAIN({
    KT_CASE(test_engine_modules_hash__digests),
    KT_CASE(test_engine_modules_hash__checksums),
    KT_CASE(test_engine_modules_hash__checksum32_wraps),
    KT_CASE(test_engine_modules_hash__undefined_ranges),
})
