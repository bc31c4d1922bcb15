/* Tests of src/vuln (osv.c, match.c, cvss.c): malformed OSV records are
 * skipped with a diagnostic and the rest kept; range semantics (introduced,
 * fixed, last_affected, versions, unsorted events, several ranges);
 * source/binary package names and binNMU versions as Debian has them;
 * ecosystem matching; CVSS scores; the ecosystem read from os-release. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "khien/vuln.h"

static kh_vuln_db *db_of(const char *json)
{
    kh_vuln_db *db = NULL;
    KT_EQ_INT(kh_vuln_db_create(&db), 0);
    if (db)
        KT_EQ_INT(kh_vuln_db_add_json(db, "t.json", json, strlen(json)), 0);
    return db;
}

#define REC(id, name, events) \
    "{\"id\": \"" id "\", \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"" name \
    "\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [" events "]}]}]}"

KT_TEST(test_vuln_osv__malformed_records_skipped)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[1]", "record 0: not a JSON object"},
        {"{\"summary\": \"no id\"}", "no string \"id\""},
        {"{\"id\": 7}", "no string \"id\""},
        {"{\"id\": \"A\", \"affected\": {}}", "\"affected\" is not an array"},
        {"{\"id\": \"B\", \"affected\": [{\"package\": {\"name\": \"x\"}}]}", "package needs string"},
        {"{\"id\": \"C\", \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"x\"}, "
         "\"ranges\": [{\"events\": [{\"introduced\": \"0\"}]}]}]}",
         "no string \"type\""},
        {REC("D", "x", "{\"introduced\": \"0\", \"fixed\": \"1\"}"), "exactly one of"},
        {REC("E", "x", "{\"fixed\": 3}"), "fixed is not a non-empty string"},
        {REC("F", "x", "{\"introduced\": \"0\"}, {\"fixed\": \"1.0-\"}"), "not a Debian version"},
        {REC("G", "x", ""), "events is missing or empty"},
        {"{\"id\": \"H\", \"aliases\": \"CVE-1\"}", "\"aliases\" is not an array"},
        {"{\"id\": \"I\", \"severity\": [{\"type\": \"CVSS_V3\"}]}", "severity[0]"},
        {"{\"id\": \"J\", \"summary\": 5}", "\"summary\" is not a string"},
        {"{\"id\": \"K\", \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"x\"}, "
         "\"versions\": [\"1.0\", 2]}]}",
         "versions[1] is not a string"},
        {"{\"id\": \"L\", \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"x\"}}]}",
         "neither ranges nor versions"},
        {"{\"id\": ", "line 1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kh_vuln_db *db = NULL;
        kh_vuln_db_create(&db);
        /* the bad record, then a good one: the good one must survive */
        KT_EQ_INT(kh_vuln_db_add_json(db, "feed.json", bad[i].json, strlen(bad[i].json)), 0);
        const char *good = REC("OK-1", "x", "{\"introduced\": \"0\"}");
        KT_EQ_INT(kh_vuln_db_add_json(db, "good.json", good, strlen(good)), 0);
        KT_EQ_INT(kh_vuln_db_skipped(db), 1);
        KT_EQ_INT(kh_vuln_db_count(db), 1);
        const kh_vuln_diag *d = kh_vuln_db_diag(db, 0);
        if (!d || strcmp(d->source, "feed.json") != 0 || !strstr(d->message, bad[i].msg)) {
            kt_failed_checks++;
            fprintf(stderr, "  FAIL case %zu: diag '%s', want '%s'\n", i, d ? d->message : "(none)", bad[i].msg);
        }
        kh_vuln_db_destroy(db);
    }
    /* an array with one bad record among good ones */
    const char *arr = "[" REC("G1", "x", "{\"introduced\": \"0\"}") ", {\"id\": 1}, " REC("G2", "x",
                                                                                            "{\"introduced\": \"0\"}") "]";
    kh_vuln_db *db = db_of(arr);
    KT_EQ_INT(kh_vuln_db_count(db), 2);
    KT_EQ_INT(kh_vuln_db_skipped(db), 1);
    KT_CHECK(strstr(kh_vuln_db_diag(db, 0)->message, "record 1") != NULL);
    kh_vuln_db_destroy(db);
    /* withdrawn and foreign-ecosystem records are not errors */
    db = db_of("[{\"id\": \"W\", \"withdrawn\": \"2024-01-01T00:00:00Z\"},"
               " {\"id\": \"P\", \"affected\": [{\"package\": {\"ecosystem\": \"PyPI\", \"name\": \"x\"},"
               "  \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1.0.0-rc.1\"}]}]}]}]");
    KT_EQ_INT(kh_vuln_db_withdrawn(db), 1);
    KT_EQ_INT(kh_vuln_db_skipped(db), 0);
    KT_EQ_INT(kh_vuln_db_count(db), 1);
    kh_vuln_db_destroy(db);
    kh_vuln_db_destroy(NULL);
}

static const kh_vuln_package pkgs[] = {
    /* name, version, arch, source, source_version */
    {"libssl3", "3.0.11-1~deb12u2", "amd64", "openssl", NULL},
    {"openssl", "3.0.11-1~deb12u2", "amd64", NULL, NULL},
    {"zlib1g", "1:1.2.13.dfsg-1+b1", "amd64", "zlib", "1:1.2.13.dfsg-1"}, /* binNMU */
    {"libfoo1", "2.0-1", "amd64", "foo", NULL},
    {"foo", "9.0-1", "all", "foo-tools", NULL}, /* binary named like another source */
    {"bar", "1.5-1", "amd64", NULL, NULL},
};
#define NPKGS (sizeof(pkgs) / sizeof(pkgs[0]))

static const kh_vuln_finding *find(const kh_vuln_report *r, const char *id)
{
    for (size_t i = 0; i < kh_vuln_report_count(r); i++)
        if (strcmp(kh_vuln_report_at(r, i)->id, id) == 0)
            return kh_vuln_report_at(r, i);
    return NULL;
}

KT_TEST(test_vuln_osv__matching)
{
    const char *feed =
        "["
        /* source name, fixed later: affected, both binaries */
        "{\"id\": \"DSA-1\", \"aliases\": [\"CVE-2024-1\"], \"upstream\": [\"CVE-2024-2\"], \"summary\": \"s1\","
        " \"severity\": [{\"type\": \"CVSS_V3\", \"score\": \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}],"
        " \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"openssl\"}, \"ranges\": [{\"type\": "
        "\"ECOSYSTEM\", \"events\": [{\"fixed\": \"3.0.13-1~deb12u1\"}, {\"introduced\": \"0\"}]}]}]},"
        /* fixed equal to installed: not affected */
        REC("DSA-2", "openssl", "{\"introduced\": \"0\"}, {\"fixed\": \"3.0.11-1~deb12u2\"}") ","
        /* binNMU: fixed in the source version, so not affected */
        REC("DSA-3", "zlib", "{\"introduced\": \"0\"}, {\"fixed\": \"1:1.2.13.dfsg-1\"}") ","
        /* binNMU: fixed later, affected; the installed version is the source's */
        REC("DSA-4", "zlib", "{\"introduced\": \"0\"}, {\"fixed\": \"1:1.2.13.dfsg-1+deb12u1\"}") ","
        /* the advisory names source foo: libfoo1 is affected, binary foo (from foo-tools) is not */
        REC("DSA-5", "foo", "{\"introduced\": \"1.0\"}, {\"fixed\": \"3.0-1\"}") ","
        /* introduced after the installed version */
        REC("DSA-6", "bar", "{\"introduced\": \"1.6\"}, {\"fixed\": \"1.7-1\"}") ","
        /* last_affected: equal is affected, no fixed version */
        REC("DSA-7", "bar", "{\"introduced\": \"0\"}, {\"last_affected\": \"1.5-1\"}") ","
        REC("DSA-8", "bar", "{\"introduced\": \"0\"}, {\"last_affected\": \"1.4\"}") ","
        /* two ranges: the second one holds the version; versions list */
        "{\"id\": \"DSA-9\", \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"bar\"},"
        " \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1.0\"}]},"
        " {\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"1.2\"}, {\"fixed\": \"1.5-2\"}]},"
        " {\"type\": \"GIT\", \"repo\": \"x\", \"events\": [{\"introduced\": \"abc\"}]}]}]},"
        "{\"id\": \"DSA-10\", \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"bar\"},"
        " \"versions\": [\"1.4-1\", \"1.5-1\"]}]},"
        /* other releases do not match Debian:12; Debian:1 is not a prefix of Debian:12 */
        "{\"id\": \"DSA-11\", \"affected\": [{\"package\": {\"ecosystem\": \"Debian:11\", \"name\": \"bar\"},"
        " \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}]}]},"
        " {\"package\": {\"ecosystem\": \"Debian:1\", \"name\": \"bar\"},"
        " \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}]}]}]},"
        /* the same advisory twice: one finding */
        REC("DSA-12", "bar", "{\"introduced\": \"0\"}") "," REC("DSA-12", "bar", "{\"introduced\": \"0\"}") ","
        /* reintroduced: 0 .. fixed 1.0, then introduced 1.5 */
        REC("DSA-13", "bar", "{\"introduced\": \"0\"}, {\"fixed\": \"1.0\"}, {\"introduced\": \"1.5\"}, {\"fixed\": \"2.0\"}")
        "]";
    kh_vuln_db *db = db_of(feed);
    kh_vuln_report *r = NULL;
    KT_EQ_INT(kh_vuln_db_skipped(db), 0);
    KT_EQ_INT(kh_vuln_check(&r, db, "Debian:12", pkgs, NPKGS), 0);
    KT_EQ_INT(kh_vuln_report_packages(r), NPKGS);
    KT_EQ_STR(kh_vuln_report_ecosystem(r), "Debian:12");

    const kh_vuln_finding *f = find(r, "DSA-1");
    KT_CHECK(f != NULL);
    if (f) {
        KT_EQ_STR(f->package, "openssl");
        KT_EQ_INT(f->nbinaries, 2);
        if (f->nbinaries == 2) {
            KT_EQ_STR(f->binaries[0], "libssl3");
            KT_EQ_STR(f->binaries[1], "openssl");
        }
        KT_EQ_STR(f->installed, "3.0.11-1~deb12u2");
        KT_EQ_STR(f->fixed, "3.0.13-1~deb12u1");
        KT_EQ_INT(f->naliases, 2);
        KT_EQ_STR(f->severity, "CRITICAL");
        KT_CHECK(f->score > 9.79 && f->score < 9.81);
        KT_EQ_STR(f->summary, "s1");
    }
    KT_CHECK(find(r, "DSA-2") == NULL);
    KT_CHECK(find(r, "DSA-3") == NULL);
    f = find(r, "DSA-4");
    KT_CHECK(f && strcmp(f->installed, "1:1.2.13.dfsg-1") == 0 && f->nbinaries == 1);
    f = find(r, "DSA-5");
    KT_CHECK(f && f->nbinaries == 1 && strcmp(f->binaries[0], "libfoo1") == 0);
    KT_CHECK(find(r, "DSA-6") == NULL);
    f = find(r, "DSA-7");
    KT_CHECK(f && f->fixed == NULL);
    KT_CHECK(find(r, "DSA-8") == NULL);
    f = find(r, "DSA-9");
    KT_CHECK(f && f->fixed && strcmp(f->fixed, "1.5-2") == 0);
    f = find(r, "DSA-10");
    KT_CHECK(f && f->fixed == NULL);
    KT_CHECK(find(r, "DSA-11") == NULL);
    f = find(r, "DSA-13");
    KT_CHECK(f && f->fixed && strcmp(f->fixed, "2.0") == 0);
    size_t n12 = 0;
    for (size_t i = 0; i < kh_vuln_report_count(r); i++)
        n12 += strcmp(kh_vuln_report_at(r, i)->id, "DSA-12") == 0;
    KT_EQ_INT(n12, 1);
    /* sorted by package, then id */
    for (size_t i = 1; i < kh_vuln_report_count(r); i++) {
        const kh_vuln_finding *a = kh_vuln_report_at(r, i - 1), *b = kh_vuln_report_at(r, i);
        KT_CHECK(strcmp(a->package, b->package) < 0 ||
                 (strcmp(a->package, b->package) == 0 && strcmp(a->id, b->id) <= 0));
    }
    kh_vuln_report_destroy(r);

    /* nothing installed, or another release */
    r = NULL;
    KT_EQ_INT(kh_vuln_check(&r, db, "Debian:12", NULL, 0), 0);
    KT_EQ_INT(kh_vuln_report_count(r), 0);
    kh_vuln_report_destroy(r);
    r = NULL;
    KT_EQ_INT(kh_vuln_check(&r, db, "Debian:11", pkgs, NPKGS), 0);
    KT_EQ_INT(kh_vuln_report_count(r), 1); /* DSA-11 */
    kh_vuln_report_destroy(r);
    KT_EQ_INT(kh_vuln_check(&r, db, NULL, pkgs, NPKGS), KH_EINVAL);
    kh_vuln_db_destroy(db);
}

KT_TEST(test_vuln_osv__ubuntu_ecosystem_prefix)
{
    kh_vuln_db *db = db_of("{\"id\": \"USN-1\", \"severity\": [{\"type\": \"Ubuntu\", \"score\": \"medium\"}],"
                           " \"affected\": [{\"package\": {\"ecosystem\": \"Ubuntu:22.04:LTS\", \"name\": \"bar\"},"
                           " \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, "
                           "{\"fixed\": \"1.5-1ubuntu0.1\"}]}]}]}");
    kh_vuln_report *r = NULL;
    KT_EQ_INT(kh_vuln_check(&r, db, "Ubuntu:22.04", pkgs, NPKGS), 0);
    KT_EQ_INT(kh_vuln_report_count(r), 1);
    if (kh_vuln_report_count(r)) {
        KT_EQ_STR(kh_vuln_report_at(r, 0)->severity, "MEDIUM");
        KT_CHECK(kh_vuln_report_at(r, 0)->score < 0);
    }
    kh_vuln_report_destroy(r);
    kh_vuln_db_destroy(db);
}

KT_TEST(test_vuln_osv__cvss)
{
    static const struct {
        const char *v;
        double s;
    } t[] = {
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1},
        {"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5},
        {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9},
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N", 0},
        {"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5},
        {"AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3},
        {"AV:L/AC:L/Au:N/C:C/I:C/A:C", 7.2},
        {"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", -1},
        {"CVSS:3.1/AV:N", -1},
        {"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", -1},
        {"high", -1},
        {"", -1},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        double s = kh_vuln_cvss_score(t[i].v);
        if (s < t[i].s - 0.001 || s > t[i].s + 0.001) {
            kt_failed_checks++;
            fprintf(stderr, "  FAIL cvss %s: %.2f, want %.1f\n", t[i].v, s, t[i].s);
        }
    }
    KT_CHECK(kh_vuln_cvss_score(NULL) < 0);
}

KT_TEST(test_vuln_osv__version_compare_api)
{
    int c = 42;
    const char *why = NULL;
    KT_EQ_INT(kh_vuln_version_compare(&c, "1.0~rc1", "1.0", NULL), 0);
    KT_EQ_INT(c, -1);
    KT_EQ_INT(kh_vuln_version_compare(&c, "2:1", "1:9", NULL), 0);
    KT_EQ_INT(c, 1);
    c = 42;
    KT_EQ_INT(kh_vuln_version_compare(&c, "1.0-", "1", &why), KH_EFORMAT);
    KT_EQ_INT(c, 42);
    KT_EQ_STR(why, "revision number is empty");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    KT_CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

KT_TEST(test_vuln_osv__ecosystem_and_root)
{
    char dir[] = "/tmp/khien-vuln-XXXXXX", p[256];
    KT_CHECK(mkdtemp(dir) != NULL);
    snprintf(p, sizeof(p), "%s/etc", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/etc/os-release", dir);
    write_file(p, "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n");
    char eco[32];
    KT_EQ_INT(kh_vuln_detect_ecosystem(eco, sizeof(eco), dir), 0);
    KT_EQ_STR(eco, "Debian:12");
    KT_EQ_INT(kh_vuln_detect_ecosystem(eco, 4, dir), KH_ELIMIT);
    kh_vuln_db *db = db_of(REC("DSA-1", "bar", "{\"introduced\": \"0\"}"));
    kh_vuln_report *r = NULL;
    KT_EQ_INT(kh_vuln_check_root(&r, db, NULL, dir), KH_ENOENT); /* no dpkg database */
    snprintf(p, sizeof(p), "%s/var", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/var/lib", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/var/lib/dpkg", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/var/lib/dpkg/status", dir);
    write_file(p, "Package: bar\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n"
                  "Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n");
    KT_EQ_INT(kh_vuln_check_root(&r, db, NULL, dir), 0);
    KT_EQ_INT(kh_vuln_report_count(r), 1);
    KT_EQ_INT(kh_vuln_report_packages(r), 1);
    kh_vuln_report_destroy(r);
    snprintf(p, sizeof(p), "%s/etc/os-release", dir);
    write_file(p, "ID=fedora\nVERSION_ID=40\n");
    KT_EQ_INT(kh_vuln_detect_ecosystem(eco, sizeof(eco), dir), KH_ENOTFOUND);
    r = NULL;
    KT_EQ_INT(kh_vuln_check_root(&r, db, NULL, dir), KH_ENOTFOUND);
    KT_CHECK(r == NULL);
    kh_vuln_db_destroy(db);
    snprintf(p, sizeof(p), "rm -rf '%s'", dir);
    KT_EQ_INT(system(p), 0);
}

/* Random damage to advisories: each is kept, skipped with a diagnostic or
 * withdrawn; never a crash; matching still works on what was kept. */
KT_TEST(test_vuln_osv__mutations)
{
    const char *good = "{\"id\": \"DSA-1\", \"aliases\": [\"CVE-1\"], \"summary\": \"s\", \"severity\": "
                       "[{\"type\": \"CVSS_V3\", \"score\": \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}], "
                       "\"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": \"bar\"}, "
                       "\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, "
                       "{\"fixed\": \"1.6-1\"}]}], \"versions\": [\"1.5-1\"]}]}";
    unsigned seed = 99;
    size_t n = strlen(good);
    char *buf = malloc(n + 1);
    kh_vuln_db *db = NULL;
    kh_vuln_db_create(&db);
    size_t rounds = 3000;
    for (size_t round = 0; round < rounds && buf; round++) {
        memcpy(buf, good, n + 1);
        size_t len = n;
        for (size_t k = 0; k < 1 + round % 5; k++) {
            seed = seed * 1103515245u + 12345u;
            static const char pick[] = "{}[]\",:0-9~ .\\\377";
            buf[(seed >> 8) % len] = pick[(seed >> 4) % (sizeof(pick) - 1)];
        }
        if (round % 9 == 0)
            len = (seed >> 3) % len;
        KT_EQ_INT(kh_vuln_db_add_json(db, "m.json", buf, len), 0);
    }
    KT_EQ_INT(kh_vuln_db_count(db) + kh_vuln_db_skipped(db) + kh_vuln_db_withdrawn(db) >= rounds, 1);
    KT_CHECK(kh_vuln_db_skipped(db) > 0);
    KT_CHECK(kh_vuln_db_diag_count(db) > 0);
    kh_vuln_report *r = NULL;
    KT_EQ_INT(kh_vuln_check(&r, db, "Debian:12", pkgs, NPKGS), 0);
    kh_vuln_report_destroy(r);
    kh_vuln_db_destroy(db);
    free(buf);
}

KT_MAIN({
    KT_CASE(test_vuln_osv__malformed_records_skipped),
    KT_CASE(test_vuln_osv__matching),
    KT_CASE(test_vuln_osv__ubuntu_ecosystem_prefix),
    KT_CASE(test_vuln_osv__cvss),
    KT_CASE(test_vuln_osv__version_compare_api),
    KT_CASE(test_vuln_osv__ecosystem_and_root),
    KT_CASE(test_vuln_osv__mutations),
})
