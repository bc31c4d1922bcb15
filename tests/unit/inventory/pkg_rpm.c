/* Tests of src/inventory/pkg_rpm.c: RPM header blobs (tags, epoch, source
 * name, damaged and truncated blobs) and files that are not SQLite. The
 * SQLite walk itself is tested end to end by tests/cli/inventory_rpm.sh on
 * a database written by Python's sqlite3. */
#include <stdlib.h>

#include "harness.h"
#include "inventory/pkg_rpm.h"

typedef struct blob {
    uint8_t b[4096];
    size_t n;
} blob;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Builds a header from (tag, type, string or int) entries. */
static void build(blob *out, size_t n, const uint32_t *tags, const uint32_t *types, const char *const *strs,
                  const uint32_t *ints)
{
    uint8_t data[2048];
    size_t dl = 0;
    put32(out->b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint32_t off;
        if (types[i] == 4) {
            while (dl % 4)
                data[dl++] = 0;
            off = (uint32_t)dl;
            put32(data + dl, ints[i]);
            dl += 4;
        } else {
            off = (uint32_t)dl;
            size_t l = strlen(strs[i]) + 1;
            memcpy(data + dl, strs[i], l);
            dl += l;
        }
        uint8_t *e = out->b + 8 + 16 * i;
        put32(e, tags[i]);
        put32(e + 4, types[i]);
        put32(e + 8, off);
        put32(e + 12, 1);
    }
    put32(out->b + 4, (uint32_t)dl);
    memcpy(out->b + 8 + 16 * n, data, dl);
    out->n = 8 + 16 * n + dl;
}

KT_TEST(test_inventory_pkg_rpm__header)
{
    static const uint32_t tags[] = {1000, 1001, 1002, 1003, 1004, 1022, 1044};
    static const uint32_t types[] = {6, 6, 6, 4, 9, 6, 6};
    static const char *const strs[] = {"openssl-libs", "3.0.7", "27.el9", NULL, "General purpose cryptography library",
                                       "x86_64", "openssl-3.0.7-27.el9.src.rpm"};
    static const uint32_t ints[] = {0, 0, 0, 1, 0, 0, 0};
    blob b;
    build(&b, 7, tags, types, strs, ints);
    kh_rpm_pkg p;
    KT_EQ_INT(kh_rpm_parse_header(&p, b.b, b.n), 0);
    KT_EQ_STR(p.name, "openssl-libs");
    KT_EQ_STR(p.version, "1:3.0.7-27.el9");
    KT_EQ_STR(p.arch, "x86_64");
    KT_EQ_STR(p.source, "openssl");
    KT_EQ_STR(p.summary, "General purpose cryptography library");
    kh_rpm_pkg_free(&p);
    /* no epoch, no source rpm, no arch */
    build(&b, 3, tags, types, strs, ints);
    KT_EQ_INT(kh_rpm_parse_header(&p, b.b, b.n), 0);
    KT_EQ_STR(p.version, "3.0.7-27.el9");
    KT_EQ_STR(p.source, "openssl-libs");
    KT_EQ_STR(p.arch, "");
    kh_rpm_pkg_free(&p);
    /* every truncation and every byte damaged: a package or KH_EFORMAT */
    build(&b, 7, tags, types, strs, ints);
    for (size_t len = 0; len < b.n; len++) {
        int rc = kh_rpm_parse_header(&p, b.b, len);
        KT_CHECK(rc == KH_EFORMAT);
    }
    for (size_t i = 0; i < b.n; i++) {
        blob c = b;
        c.b[i] ^= 0xa5;
        int rc = kh_rpm_parse_header(&p, c.b, c.n);
        KT_CHECK(rc == 0 || rc == KH_EFORMAT);
        if (rc == 0)
            kh_rpm_pkg_free(&p);
    }
    /* no name */
    build(&b, 1, tags + 1, types + 1, strs + 1, ints + 1);
    KT_EQ_INT(kh_rpm_parse_header(&p, b.b, b.n), KH_EFORMAT);
}

KT_TEST(test_inventory_pkg_rpm__not_sqlite)
{
    kh_rpm_db db;
    kh_rpm_init(&db);
    static const uint8_t junk[200] = "SQLite format 2";
    KT_EQ_INT(kh_rpm_parse_sqlite(&db, junk, sizeof(junk)), KH_EFORMAT);
    uint8_t hdr[1024] = "SQLite format 3";
    hdr[16] = 0x10, hdr[17] = 0x00; /* 4096-byte pages, but the file is shorter */
    KT_EQ_INT(kh_rpm_parse_sqlite(&db, hdr, sizeof(hdr)), KH_EFORMAT);
    hdr[16] = 0x01, hdr[17] = 0x00; /* 256: not a valid page size */
    KT_EQ_INT(kh_rpm_parse_sqlite(&db, hdr, sizeof(hdr)), KH_EFORMAT);
    hdr[16] = 0x02, hdr[17] = 0x00; /* 512-byte pages; page 1 is not a table b-tree */
    KT_EQ_INT(kh_rpm_parse_sqlite(&db, hdr, sizeof(hdr)), KH_EFORMAT);
    KT_EQ_INT(db.n, 0);
    kh_rpm_dispose(&db);
    KT_EQ_INT(kh_rpm_read(&db, "/nonexistent-khien-root", NULL), KH_ENOENT);
    kh_rpm_dispose(&db);
}

KT_MAIN({
    KT_CASE(test_inventory_pkg_rpm__header),
    KT_CASE(test_inventory_pkg_rpm__not_sqlite),
})
