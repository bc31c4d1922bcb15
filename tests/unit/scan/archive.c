/* Tests of src/scan/archive.c: recognising containers, and the limits on
 * them: nesting (max_depth), members (max_files, counted over all levels),
 * member size (max_filesize), bytes per file (max_scansize) and the
 * compression ratio (max_ratio: declared sizes and actual output), each as
 * a warning and, with KH_SCAN_ALERT_LIMITS, a Heuristics.Limits.Exceeded.*
 * result. Archives are written in memory with libarchive's writer; the
 * signature is a marker string, not EICAR.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>

#include "kt_engine.h"
#include "scan/scan_int.h"

#define MARK "khien-archive-marker"

static kh_rules *rules;

static const kh_rules *marker_rules(void)
{
    if (!rules) {
        char line[128] = "Marker:0:*:";
        for (const char *p = MARK; *p; p++)
            snprintf(line + strlen(line), sizeof(line) - strlen(line), "%02x", (unsigned char)*p);
        strcat(line, "\n");
        rules = kt_rules("ndb", line);
    }
    return rules;
}

/* ---- Writing archives in memory ----------------------------------------- */

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

typedef struct mem {
    const char *name;
    const void *data;
    size_t len;
} mem;

/* format: "zip", "tar.gz", "gz" (a lone compressed stream). */
static blob pack(const char *format, const mem *m, size_t nm)
{
    size_t total = 4096;
    for (size_t i = 0; i < nm; i++)
        total += m[i].len + 1024;
    blob b = {malloc(total), 0};
    struct archive *a = archive_write_new();
    if (strcmp(format, "zip") == 0) {
        archive_write_set_format_zip(a);
    } else if (strcmp(format, "tar.gz") == 0) {
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
    } else {
        archive_write_set_format_raw(a);
        archive_write_add_filter_gzip(a);
    }
    archive_write_set_bytes_in_last_block(a, 1);
    KT_EQ_INT(archive_write_open_memory(a, b.p, total, &b.n), ARCHIVE_OK);
    for (size_t i = 0; i < nm; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        KT_EQ_INT(archive_write_header(a, e), ARCHIVE_OK);
        KT_EQ_INT(archive_write_data(a, m[i].data, m[i].len), (long long)m[i].len);
        archive_entry_free(e);
    }
    KT_EQ_INT(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return b;
}

static blob zip1(const char *name, const void *data, size_t len)
{
    mem m = {name, data, len};
    return pack("zip", &m, 1);
}

/* ---- Scanning ---------------------------------------------------------------- */

typedef struct seen {
    kt_hits hits;
    char warn[16][256];
    int nwarn;
} seen;

static void on_warn(const char *member, const char *msg, void *p)
{
    seen *s = p;
    if (s->nwarn < 16)
        snprintf(s->warn[s->nwarn++], sizeof(s->warn[0]), "%s: %s", member ? member : "", msg);
}

static int scan(const blob *b, const kh_scan_options *so, seen *out)
{
    kh_scanner *s = NULL;
    memset(out, 0, sizeof(*out));
    int rc = kh_scanner_create(&s, marker_rules(), so);
    if (!rc)
        rc = kh_scanner_scan_mem(s, b->p, b->n, kt_on_detect, on_warn, out);
    kh_scanner_destroy(s);
    return rc;
}

static int has_hit(const seen *s, const char *name)
{
    for (int i = 0; i < s->hits.n; i++)
        if (strcmp(s->hits.names[i], name) == 0)
            return 1;
    return 0;
}

static int has_warn(const seen *s, const char *needle)
{
    for (int i = 0; i < s->nwarn; i++)
        if (strstr(s->warn[i], needle))
            return 1;
    return 0;
}

static kh_scan_options opts(void)
{
    kh_scan_options o = KH_SCAN_OPTIONS_INIT;
    o.flags = KH_SCAN_ALLMATCH;
    return o;
}

/* ---- Tests --------------------------------------------------------------------- */

KT_TEST(test_scan_archive__sniff)
{
    static const struct {
        const char *head;
        size_t n;
        int want;
    } rows[] = {
        {"PK\x03\x04", 4, 1},          {"PK\x05\x06", 4, 0},          {"\x1f\x8b\x08", 3, 1},
        {"\xfd" "7zXZ\x00", 6, 1},      {"\x28\xb5\x2f\xfd", 4, 1},    {"LZIP", 4, 1},
        {"BZh9", 4, 1},                {"BZh0", 4, 0},                {"BZh", 3, 0},
        {"7z\xbc\xaf\x27\x1c", 6, 1},  {"Rar!\x1a\x07\x00", 7, 1},   {"MSCF\0\0\0\0", 8, 1},
        {"070701", 6, 1},              {"plain text", 10, 0},         {"", 0, 0},
        {"\x1f", 1, 0},
    };
    for (size_t i = 0; i < KH_ARRAY_LEN(rows); i++)
        if (kh_archive_sniff((const uint8_t *)rows[i].head, rows[i].n) != rows[i].want)
            KT_FAIL_("sniff row %zu: want %d", i, rows[i].want);
    uint8_t tar[600] = {0};
    memcpy(tar + 257, "ustar", 5);
    KT_EQ_INT(kh_archive_sniff(tar, sizeof(tar)), 1);
    KT_EQ_INT(kh_archive_sniff(tar, 261), 0); /* "ustar" cut short */
    uint8_t *iso = calloc(1, 0x8010);
    memcpy(iso + 0x8001, "CD001", 5);
    KT_EQ_INT(kh_archive_sniff(iso, 0x8010), 1);
    KT_EQ_INT(kh_archive_sniff(iso, 0x8004), 0);
    free(iso);
}

KT_TEST(test_scan_archive__member_found)
{
    mem m[2] = {{"docs/readme.txt", "nothing", 7}, {"bin/tool", "xx " MARK " xx", strlen(MARK) + 6}};
    blob z = pack("zip", m, 2), t = pack("tar.gz", m, 2);
    kh_scan_options o = opts();
    seen s;
    KT_EQ_INT(scan(&z, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 1);
    KT_EQ_INT(s.hits.offsets[0], 3);
    KT_EQ_INT(scan(&t, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 1);
    o.flags |= KH_SCAN_NO_ARCHIVE;
    KT_EQ_INT(scan(&z, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 0);
    free(z.p);
    free(t.p);
}

/* Nesting: level k holds level k-1; level 0 is the marker file. */
static blob nest(int levels)
{
    blob cur = {(uint8_t *)strdup("x" MARK), strlen(MARK) + 1};
    for (int i = 1; i <= levels; i++) {
        char name[32];
        snprintf(name, sizeof(name), i == 1 ? "m.txt" : "l%d.zip", i - 1);
        blob next = zip1(name, cur.p, cur.n);
        free(cur.p);
        cur = next;
    }
    return cur;
}

KT_TEST(test_scan_archive__max_depth)
{
    blob b = nest(4); /* l4: zip > zip > zip > zip > marker */
    kh_scan_options o = opts();
    seen s;
    for (unsigned d = 0; d <= 5; d++) {
        o.max_depth = d;
        KT_EQ_INT(scan(&b, &o, &s), 0);
        int want = d >= 4;
        if (s.hits.n != want)
            KT_FAIL_("max_depth %u: %d hits, want %d", d, s.hits.n, want);
        if (!want && !has_warn(&s, "nested deeper than max-recursion"))
            KT_FAIL_("max_depth %u: no warning", d);
    }
    o.max_depth = 2;
    o.flags |= KH_SCAN_ALERT_LIMITS;
    KT_EQ_INT(scan(&b, &o, &s), 0);
    KT_CHECK(has_hit(&s, "Heuristics.Limits.Exceeded.MaxRecursion"));
    KT_CHECK(!has_hit(&s, "Marker"));
    free(b.p);
}

KT_TEST(test_scan_archive__max_files_all_levels)
{
    /* outer.zip: a.txt, inner.zip (b.txt, c.txt), d.txt with the marker */
    mem in[2] = {{"b.txt", "b", 1}, {"c.txt", "c", 1}};
    blob inner = pack("zip", in, 2);
    mem out[3] = {{"a.txt", "a", 1}, {"inner.zip", inner.p, inner.n}, {"d.txt", MARK, strlen(MARK)}};
    blob outer = pack("zip", out, 3);
    kh_scan_options o = opts();
    seen s;
    o.max_files = 5; /* a, inner.zip, b, c, d */
    KT_EQ_INT(scan(&outer, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 1);
    KT_EQ_INT(s.nwarn, 0);
    o.max_files = 4; /* the members inside inner.zip count too */
    KT_EQ_INT(scan(&outer, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 0);
    KT_CHECK(has_warn(&s, "too many archive members"));
    o.flags |= KH_SCAN_ALERT_LIMITS;
    KT_EQ_INT(scan(&outer, &o, &s), 0);
    KT_CHECK(has_hit(&s, "Heuristics.Limits.Exceeded.MaxFiles"));
    free(inner.p);
    free(outer.p);
}

KT_TEST(test_scan_archive__max_filesize_and_scansize)
{
    size_t big = 300000;
    char *filler = malloc(big);
    for (size_t i = 0; i < big; i++)
        filler[i] = (char)('a' + (i * 7 + i / 13) % 26);
    mem m[2] = {{"big.txt", filler, big}, {"z.txt", MARK, strlen(MARK)}};
    blob t = pack("tar.gz", m, 2);
    kh_scan_options o = opts();
    seen s;
    KT_EQ_INT(scan(&t, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 1);
    /* A member over max_filesize is skipped with a warning; the next one is scanned. */
    o.max_filesize = 100000;
    KT_EQ_INT(scan(&t, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 1);
    KT_CHECK(has_warn(&s, "big.txt: member not scanned: larger than max-filesize"));
    /* max_scansize counts the file itself and everything extracted: the
     * rest of the file is given up. */
    o = opts();
    o.max_scansize = t.n + 200000;
    KT_EQ_INT(scan(&t, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 0);
    KT_CHECK(has_warn(&s, "max-scansize reached"));
    o.flags |= KH_SCAN_ALERT_LIMITS;
    KT_EQ_INT(scan(&t, &o, &s), 0);
    KT_CHECK(has_hit(&s, "Heuristics.Limits.Exceeded.MaxScanSize"));
    free(filler);
    free(t.p);
}

KT_TEST(test_scan_archive__ratio)
{
    size_t n = 40u << 20; /* 40 MiB of zeros: above the 32 MiB floor */
    uint8_t *zeros = calloc(1, n);
    blob z = zip1("zeros.bin", zeros, n);
    mem m = {"zeros.bin", zeros, n};
    blob g = pack("gz", &m, 1);
    kh_scan_options o = opts();
    seen s;
    /* Declared size (zip) and actual output (gz) both trip the ratio. */
    KT_EQ_INT(scan(&z, &o, &s), 0);
    KT_CHECK(has_hit(&s, "Heuristics.Limits.Exceeded.MaxRatio"));
    KT_CHECK(has_warn(&s, "compression ratio above 250"));
    KT_EQ_INT(scan(&g, &o, &s), 0);
    KT_CHECK(has_hit(&s, "Heuristics.Limits.Exceeded.MaxRatio"));
    /* A higher limit lets the same data through: no result, no warning. */
    o.max_ratio = 100000;
    KT_EQ_INT(scan(&z, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 0);
    KT_EQ_INT(s.nwarn, 0);
    /* Below the floor nothing is a bomb, whatever the ratio. */
    o = opts();
    blob small = zip1("z.bin", zeros, 1u << 20);
    KT_EQ_INT(scan(&small, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 0);
    KT_EQ_INT(s.nwarn, 0);
    free(small.p);
    free(z.p);
    free(g.p);
    free(zeros);
}

/* A payload behind zeros in a lone gzip stream: libarchive takes the zeros
 * for an empty tar archive; the content must be scanned anyway. */
KT_TEST(test_scan_archive__compressed_content_no_format_takes)
{
    char data[4096 + 64] = {0};
    memcpy(data + 4096, MARK, strlen(MARK));
    mem m = {"data", data, 4096 + strlen(MARK)};
    blob g = pack("gz", &m, 1);
    kh_scan_options o = opts();
    seen s;
    KT_EQ_INT(scan(&g, &o, &s), 0);
    KT_EQ_INT(s.hits.n, 1);
    KT_EQ_INT(s.hits.offsets[0], 4096);
    free(g.p);
}

KT_TEST(test_scan_archive__damaged)
{
    mem m = {"z.txt", MARK, strlen(MARK)};
    blob z = pack("zip", &m, 1);
    kh_scan_options o = opts();
    seen s;
    for (size_t cut = 4; cut < z.n; cut += 7) {
        blob c = {z.p, cut};
        int rc = scan(&c, &o, &s);
        if (rc != 0)
            KT_FAIL_("zip cut at %zu: rc %d", cut, rc);
    }
    free(z.p);
}

KT_TEST(test_scan_archive__teardown)
{
    kh_rules_destroy(rules);
    rules = NULL;
}

KT_MAIN({
    KT_CASE(test_scan_archive__sniff),
    KT_CASE(test_scan_archive__member_found),
    KT_CASE(test_scan_archive__max_depth),
    KT_CASE(test_scan_archive__max_files_all_levels),
    KT_CASE(test_scan_archive__max_filesize_and_scansize),
    KT_CASE(test_scan_archive__ratio),
    KT_CASE(test_scan_archive__compressed_content_no_format_takes),
    KT_CASE(test_scan_archive__damaged),
    KT_CASE(test_scan_archive__teardown),
})
