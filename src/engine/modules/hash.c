/* Khiên — engine/modules: the `hash` module, as yara 4.2.3 has it.
 *
 * md5, sha1 and sha256 of a range of the scanned data or of a string, as
 * lowercase hex; checksum32 (the 32-bit sum of the bytes) and crc32 (the
 * zlib/IEEE CRC) as integers. A range follows yara's rule for one
 * contiguous block of data: it is undefined if offset or size is negative
 * or if the offset is not inside the data (offset == filesize included,
 * so every range of an empty file is undefined), and a size running past
 * the end is cut at the end. Digests come from engine/digest.h (OpenSSL,
 * with the CPU's SHA extensions); the CRC is a table-driven byte loop.
 *
 * Not here: yara caches digests of ranges per scan; rules hash a range
 * once per condition evaluation, and a cache keyed by (offset, size) would
 * need scan-scoped state the module interface does not carry.
 */
#include "engine/digest.h"
#include "engine/modules/module.h"

/* data[off, off+size) cut at the end of the data; 0 if undefined. */
static int range(const kh_ycall *c, const kh_yval *a, const uint8_t **p, size_t *n)
{
    int64_t off = a[0].v.i, size = a[1].v.i;
    if (off < 0 || size < 0 || (uint64_t)off >= c->len)
        return 0;
    *p = c->data + off;
    *n = (uint64_t)size < c->len - (uint64_t)off ? (size_t)size : c->len - (size_t)off;
    return 1;
}

static int set_hex(const kh_ycall *c, kh_yval *out, const uint8_t *d, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hex[d[i] >> 4];
        buf[2 * i + 1] = hex[d[i] & 15];
    }
    const uint8_t *s = kh_yarena_dup(c->arena, buf, 2 * n);
    if (!s)
        return KH_ENOMEM;
    out->type = KH_YT_STR;
    out->defined = 1;
    out->v.s.p = s;
    out->v.s.n = (uint32_t)(2 * n);
    return 0;
}

static int digest(const kh_ycall *c, int alg, const uint8_t *p, size_t n, kh_yval *out)
{
    uint8_t d[KH_NALG][32];
    int rc = kh_digest_buf(1u << alg, n ? (const void *)p : "", n, d);
    return rc < 0 ? rc : set_hex(c, out, d[alg], kh_halg_len[alg]);
}

static int set_int(kh_yval *out, int64_t v)
{
    out->type = KH_YT_INT;
    out->defined = 1;
    out->v.i = v;
    return 0;
}

static uint32_t checksum32(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t t[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i;
        for (int k = 0; k < 8; k++)
            r = r & 1 ? 0xEDB88320u ^ (r >> 1) : r >> 1;
        t[i] = r;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* Rules often ask for the same digest (hash.md5(0, filesize) in many rules):
 * the last few digests of the current object are kept, per thread. */
#define HCACHE 8
static _Thread_local struct hcache {
    uint64_t object;
    int alg;
    size_t off, n;
    uint8_t d[32];
} hcache[HCACHE];
static _Thread_local unsigned hnext;

static int digest_range(const kh_ycall *c, int alg, const uint8_t *p, size_t n, kh_yval *out)
{
    size_t off = (size_t)(p - c->data);
    for (unsigned i = 0; i < HCACHE; i++)
        if (hcache[i].object == c->object && c->object && hcache[i].alg == alg && hcache[i].off == off &&
            hcache[i].n == n)
            return set_hex(c, out, hcache[i].d, kh_halg_len[alg]);
    uint8_t d[KH_NALG][32];
    int rc = kh_digest_buf(1u << alg, n ? (const void *)p : "", n, d);
    if (rc < 0)
        return rc;
    struct hcache *e = &hcache[hnext++ % HCACHE];
    e->object = c->object;
    e->alg = alg;
    e->off = off;
    e->n = n;
    memcpy(e->d, d[alg], kh_halg_len[alg]);
    return set_hex(c, out, d[alg], kh_halg_len[alg]);
}

#define DIGEST_FNS(name, alg)                                                   \
    static int name##_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)      \
    {                                                                           \
        const uint8_t *p;                                                       \
        size_t n;                                                               \
        return range(c, a, &p, &n) ? digest_range(c, alg, p, n, out) : 0;       \
    }                                                                           \
    static int name##_s(const kh_ycall *c, const kh_yval *a, kh_yval *out)      \
    {                                                                           \
        return digest(c, alg, a[0].v.s.p, a[0].v.s.n, out);                     \
    }

DIGEST_FNS(md5, KH_MD5)
DIGEST_FNS(sha1, KH_SHA1)
DIGEST_FNS(sha256, KH_SHA256)

#define INT_FNS(name)                                                           \
    static int name##_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)      \
    {                                                                           \
        const uint8_t *p;                                                       \
        size_t n;                                                               \
        return range(c, a, &p, &n) ? set_int(out, name(p, n)) : 0;             \
    }                                                                           \
    static int name##_s(const kh_ycall *c, const kh_yval *a, kh_yval *out)      \
    {                                                                           \
        KH_UNUSED(c);                                                           \
        return set_int(out, name(a[0].v.s.p, a[0].v.s.n));                      \
    }

INT_FNS(checksum32)
INT_FNS(crc32)

#define OVERLOADS(name, ret)                                                    \
    static const kh_yfunc f_##name[] = {                                        \
        {"ii", ret, name##_r}, {"s", ret, name##_s}, {NULL, 0, NULL}}

OVERLOADS(md5, KH_YT_STR);
OVERLOADS(sha1, KH_YT_STR);
OVERLOADS(sha256, KH_YT_STR);
OVERLOADS(checksum32, KH_YT_INT);
OVERLOADS(crc32, KH_YT_INT);

static const kh_ymember members[] = {
    {"md5", KH_YT_FUNC, 0, NULL, f_md5},
    {"sha1", KH_YT_FUNC, 0, NULL, f_sha1},
    {"sha256", KH_YT_FUNC, 0, NULL, f_sha256},
    {"checksum32", KH_YT_FUNC, 0, NULL, f_checksum32},
    {"crc32", KH_YT_FUNC, 0, NULL, f_crc32},
    {NULL, 0, 0, NULL, NULL},
};

static int load(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    KH_UNUSED(root);
    KH_UNUSED(data);
    KH_UNUSED(len);
    KH_UNUSED(a);
    return 0;
}

const kh_ymodule kh_ymod_hash = {"hash", {"hash", KH_YT_STRUCT, 0, members, NULL}, load};
