/* Tests of src/inventory/pkg_dpkg.c: Debian version order (dpkg's own test
 * table and tricky cases) and the status database reader, malformed
 * stanzas included. The comparison with dpkg itself on thousands of
 * random versions is tests/cli/vuln_compare.sh. */
#include <stdlib.h>

#include "harness.h"
#include "inventory/pkg_dpkg.h"

typedef struct vrow {
    const char *a, *b;
    int want; /* -1, 0, 1 */
} vrow;

static const vrow vrows[] = {
    /* from dpkg's lib/dpkg/t/t-version.c */
    {"0:0-0", "0:0-0", 0},
    {"0:0.0-0", "0:0-0", 1},
    {"0:0-00", "0:0-0", 0},
    {"1:2-3", "1:2-3", 0},
    {"1:2-3", "0:2-3", 1},
    {"0:2-3", "1:2-3", -1},
    {"2-3", "2-3", 0},
    {"1.5", "1.4", 1},
    {"1.0~rc1", "1.0", -1},
    {"1.0~rc1", "1.0~rc2", -1},
    {"1.0~~", "1.0~", -1},
    {"1.0~~a", "1.0~~", 1},
    {"1.0~", "1.0", -1},
    {"1.0a", "1.0", 1},
    {"1.0a", "1.0+", -1},
    {"1.0+", "1.0.", -1},
    {"1.0-1", "1.0", 1},
    {"1.0", "1.0-0", 0},
    {"1.0-0", "1.0-1", -1},
    {"1.0-1~bpo1", "1.0-1", -1},
    {"2:1.0", "1:9.9", 1},
    {"1.002", "1.2", 0},
    {"1.0.0", "1.0", 1},
    {"1.a", "1.0", 1}, /* letters sort after the end of a run, digits come later */
    {"1a", "1.", -1},  /* letter before non-letter */
    {"7.6p2-4", "7.6-0", 1},
    {"1.0.3-3", "1.0-1", 1},
    {"1.3", "1.2.2-2", 1},
    {"1.3", "1.2.2", 1},
    {"0-pre", "0-pre", 0},
    {"0-pre", "0-pree", -1},
    {"1.1.6r2-2", "1.1.6r-1", 1},
    {"2.6b2-1", "2.6b-2", 1},
    {"98.1p5-1", "98.1-pre2-b6-2", -1},
    {"0.4a6-2", "0.4-1", 1},
    {"1:3.0.5-2", "1:3.0.5.1", -1},
    {"10.11.1.3-2", "10.11.1.3-1", 1},
    {"4.4.3-2", "4.4.3-2", 0},
    {"1:2ipv6-1", "1:2a-1", 1}, /* "ipv" vs "a": i > a */
    {"3.0.11-1~deb12u2", "3.0.11-1~deb12u1", 1},
    {"3.0.11-1~deb12u2", "3.0.11-1", -1},
    {"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
    {"1:2.3-4", "2.3-4", 1},
    {"0:1", "1", 0},
    {"1:2:3", "1:2:4", -1}, /* colons allowed in upstream when there is an epoch */
    {"1.0-1-1", "1.0-1-2", -1}, /* the last hyphen starts the revision */
    {"a", "1", 1},             /* warning only: dpkg still compares */
    {"1_2", "1-2", 1},
    {" 1.0", "1.0 ", 0},
    {"00000000000000000000000000000000001", "1", 0},
    {"123456789012345678901234567890", "123456789012345678901234567891", -1},
};

KT_TEST(test_inventory_pkg_dpkg__version_table)
{
    for (size_t i = 0; i < sizeof(vrows) / sizeof(vrows[0]); i++) {
        int r = 99, rr = 99;
        int rc = kh_dpkg_version_compare(vrows[i].a, vrows[i].b, &r);
        int rc2 = kh_dpkg_version_compare(vrows[i].b, vrows[i].a, &rr);
        int s = r < 0 ? -1 : r > 0 ? 1 : 0, sr = rr < 0 ? -1 : rr > 0 ? 1 : 0;
        if (rc || s != vrows[i].want || sr != -vrows[i].want) {
            kt_failed_checks++;
            fprintf(stderr, "  FAIL %s vs %s: got %d/%d (rc %d), want %d\n", vrows[i].a, vrows[i].b, s, sr, rc,
                    vrows[i].want);
        }
    }
}

KT_TEST(test_inventory_pkg_dpkg__version_refused)
{
    static const char *bad[] = {"", "   ", "1 2", "1.0-", ":1", "a:1", "-1:2", "1:", "0x1:2", "-1",
                                "99999999999:1", "1: 2", "1:-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = 42;
        const char *why = NULL;
        KT_EQ_INT(kh_dpkg_version_check(bad[i], &why), KH_EFORMAT);
        KT_CHECK(why != NULL);
        KT_EQ_INT(kh_dpkg_version_compare(bad[i], "1", &r), KH_EFORMAT);
        KT_EQ_INT(r, 42); /* out-param untouched on failure */
    }
    const char *why = NULL;
    KT_EQ_INT(kh_dpkg_version_check("a1", &why), 1);
    KT_EQ_STR(why, "version number does not start with digit");
    KT_EQ_INT(kh_dpkg_version_check("1.0-a_b", &why), 1);
    KT_EQ_INT(kh_dpkg_version_check("+1:2.0-1", NULL), 0); /* strtol takes the sign */
    KT_EQ_INT(kh_dpkg_version_check("1:2.0-1", NULL), 0);
}

static const char status_text[] =
    "Package: libssl3\n"
    "Status: install ok installed\n"
    "Priority: optional\n"
    "Architecture: amd64\n"
    "Multi-Arch: same\n"
    "Source: openssl\n"
    "Version: 3.0.11-1~deb12u2\n"
    "Description: Secure Sockets Layer toolkit - shared libraries\n"
    " This package is part of the OpenSSL project's implementation.\n"
    "\n"
    "Package: zlib1g\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Source: zlib (1:1.2.13.dfsg-1)\n"
    "Version: 1:1.2.13.dfsg-1+b1\n"
    "Conffiles:\n"
    " /etc/x 0123\n"
    "\n"
    "Package: broken-version\n"
    "Status: install ok installed\n"
    "Version: 1.0-\n"
    "\n"
    "Version: 1.0\n"
    "Status: install ok installed\n"
    "\n"
    "Package: gone\n"
    "Status: deinstall ok config-files\n"
    "Version: 2.0\n"
    "Architecture: all\n"
    "\n"
    "Package: nocolon\n"
    "this line is garbage\n"
    "Status: install ok installed\n"
    "\n"
    "Package: badstatus\n"
    "Status: install\n"
    "\n"
    "package: lower-case-fields\n"
    "status: install ok installed\n"
    "version: 0.1\n";

KT_TEST(test_inventory_pkg_dpkg__status)
{
    kh_dpkg_db db;
    kh_dpkg_init(&db);
    KT_EQ_INT(kh_dpkg_parse(&db, status_text, sizeof(status_text) - 1), 0);
    KT_EQ_INT(db.n, 4);
    KT_EQ_INT(db.nbad, 4);
    KT_EQ_INT(db.ndiags, 4);
    const kh_dpkg_pkg *p = kh_dpkg_find(&db, "libssl3");
    KT_CHECK(p != NULL);
    if (p) {
        KT_EQ_STR(p->source, "openssl");
        KT_EQ_STR(p->source_version, "3.0.11-1~deb12u2");
        KT_EQ_STR(p->arch, "amd64");
        KT_EQ_STR(p->state, "installed");
        KT_EQ_STR(p->summary, "Secure Sockets Layer toolkit - shared libraries");
        KT_CHECK(kh_dpkg_is_present(p));
    }
    p = kh_dpkg_find(&db, "zlib1g");
    KT_CHECK(p != NULL);
    if (p) {
        KT_EQ_STR(p->source, "zlib");
        KT_EQ_STR(p->source_version, "1:1.2.13.dfsg-1");
        KT_EQ_STR(p->version, "1:1.2.13.dfsg-1+b1");
    }
    p = kh_dpkg_find(&db, "gone");
    KT_CHECK(p && !kh_dpkg_is_present(p));
    KT_CHECK(kh_dpkg_find(&db, "lower-case-fields") != NULL);
    KT_CHECK(kh_dpkg_find(&db, "broken-version") == NULL);
    KT_CHECK(kh_dpkg_find(&db, "nocolon") == NULL);
    KT_EQ_INT(db.diags[0].line, 19);
    KT_CHECK(strstr(db.diags[0].message, "broken-version") != NULL);
    /* sorted by name */
    for (size_t i = 1; i < db.n; i++)
        KT_CHECK(strcmp(db.pkgs[i - 1].name, db.pkgs[i].name) <= 0);
    kh_dpkg_dispose(&db);
    kh_dpkg_dispose(&db); /* twice is harmless */
}

KT_TEST(test_inventory_pkg_dpkg__empty_and_missing)
{
    kh_dpkg_db db;
    kh_dpkg_init(&db);
    KT_EQ_INT(kh_dpkg_parse(&db, "", 0), 0);
    KT_EQ_INT(db.n, 0);
    KT_EQ_INT(kh_dpkg_parse(&db, "\n\n \n", 4), 0);
    KT_EQ_INT(db.n, 0);
    /* no trailing newline, CRLF line ends */
    const char *t = "Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n";
    KT_EQ_INT(kh_dpkg_parse(&db, t, strlen(t)), 0);
    KT_EQ_INT(db.n, 1);
    if (db.n)
        KT_EQ_STR(db.pkgs[0].version, "1");
    kh_dpkg_dispose(&db);
    kh_dpkg_init(&db);
    KT_EQ_INT(kh_dpkg_read(&db, "/nonexistent-khien-root"), KH_ENOENT);
    kh_dpkg_dispose(&db);
}

/* Random damage to a status file: never a crash, always 0. */
KT_TEST(test_inventory_pkg_dpkg__mutations)
{
    unsigned seed = 12345;
    size_t n = sizeof(status_text) - 1;
    char *buf = malloc(n + 64);
    for (int round = 0; round < 3000 && buf; round++) {
        memcpy(buf, status_text, n);
        size_t len = n;
        for (int k = 0; k < 1 + round % 8; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            static const char pick[] = ":\n \t()~-0aZ\377";
            buf[at] = pick[(seed >> 4) % (sizeof(pick) - 1)];
        }
        if (round % 5 == 0)
            len = (seed >> 3) % len; /* truncated */
        kh_dpkg_db db;
        kh_dpkg_init(&db);
        KT_EQ_INT(kh_dpkg_parse(&db, buf, len), 0);
        for (size_t i = 0; i < db.n; i++)
            KT_CHECK(db.pkgs[i].name && db.pkgs[i].version && db.pkgs[i].source && db.pkgs[i].state);
        kh_dpkg_dispose(&db);
    }
    free(buf);
}

KT_MAIN({
    KT_CASE(test_inventory_pkg_dpkg__version_table),
    KT_CASE(test_inventory_pkg_dpkg__version_refused),
    KT_CASE(test_inventory_pkg_dpkg__status),
    KT_CASE(test_inventory_pkg_dpkg__empty_and_missing),
    KT_CASE(test_inventory_pkg_dpkg__mutations),
})
