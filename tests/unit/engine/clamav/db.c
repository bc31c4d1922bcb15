/* Tests of src/engine/clamav/db.c: reading .hdb .hsb .hdu .fp .sfp .ign2
 * and .ndb database text, as data tables.
 *
 *  - valid lines: the hash algorithm chosen by length, size '*', MinFL and
 *    MaxFL inside or outside our functionality level (210), CRLF, comments;
 *  - every malformed-line case with the diagnostic's line and column (1-based,
 *    worked out by hand; 0 for "the whole line"), in both modes: skipped and
 *    counted (kh_rules_get_stats) with a summary warning, or KH_ESYNTAX
 *    with --strict;
 *  - target types recognised by magic (graphics, Mach-O, PDF, flash, Java);
 *  - well-formed signatures we cannot use (target types 2-4, 7, 8, 13, 14, EP and
 *    section offsets, later formats) counted as unsupported with a warning;
 *  - .ign2 drops names, .fp/.sfp suppress detections of known-good data,
 *    hash signatures detect by size and digest only.
 *
 * Digests are the published test vectors of "abc" (RFC 1321, FIPS 180).
 */
#include "kt_clamav_load.h"

#define MD5_ABC "900150983cd24fb0d6963f7d28e17f72"
#define SHA1_ABC "a9993e364706816aba3e25717850c26c9cd0d89d"
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define MD5_EMPTY "d41d8cd98f00b204e9800998ecf8427e"

/* ---- Loading helpers (and kt_clamav_load.h) ------------------------------ */

static void load1(loaded *L, unsigned flags, const char *kind, const char *text, size_t len)
{
    src s = {kind, text, len};
    load_n(L, flags, 0, &s, 1);
}

static size_t count_diags(const loaded *L, kh_diag_severity sev)
{
    size_t n = 0;
    while (diag_of(L, sev, n))
        n++;
    return n;
}


static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

static int scan_names(const kh_rules *r, const char *buf, size_t len, char *out, size_t outsz)
{
    kt_hits h;
    int rc = kt_scan(r, buf, len, &h);
    qsort(h.names, (size_t)h.n, sizeof(h.names[0]), cmp_name);
    out[0] = 0;
    for (int i = 0; i < h.n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, outsz - l, "%s%s", i ? "," : "", h.names[i]);
    }
    return rc;
}

/* Scans buf (allmatch) and compares the detection names, sorted and
 * comma-joined (signatures with the same digest come in no fixed order). */
#define KT_DETECTS(r, buf, len, want)                                                              \
    do {                                                                                           \
        char got_[1024];                                                                           \
        int rc_ = scan_names((r), (buf), (len), got_, sizeof(got_));                               \
        KT_EQ_INT(rc_, 0);                                                                         \
        KT_EQ_STR(got_, (want));                                                                   \
    } while (0)

/* ---- Valid lines ------------------------------------------------------------ */

KT_TEST(test_engine_clamav_db__hash_algorithm_by_length)
{
    loaded L;
    load1(&L, KH_COMPILE_STRICT, "hdb",
          MD5_ABC ":3:Abc.Md5\n" SHA1_ABC ":3:Abc.Sha1\n" SHA256_ABC ":3:Abc.Sha256\n", 0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.hash_md5, 1);
    KT_EQ_INT(L.st.hash_sha1, 1);
    KT_EQ_INT(L.st.hash_sha256, 1);
    KT_EQ_INT(L.st.body, 0);
    KT_EQ_INT(L.st.databases, 1);
    KT_EQ_INT(kh_rules_count(L.r), 3);
    KT_DETECTS(L.r, "abc", 3, "Abc.Md5,Abc.Sha1,Abc.Sha256");
    kt_hits h;
    KT_EQ_INT(kt_scan(L.r, "abc", 3, &h), 0);
    KT_EQ_INT(h.offsets[0], -1); /* a whole-file hash has no offset */
    unload(&L);

    /* .hsb and upper-case digits: the same rules. */
    load1(&L, KH_COMPILE_STRICT, "hsb", "A9993E364706816ABA3E25717850C26C9CD0D89D:3:Abc.Upper\n", 0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.hash_sha1, 1);
    KT_DETECTS(L.r, "abc", 3, "Abc.Upper");
    unload(&L);
}

KT_TEST(test_engine_clamav_db__hash_size_and_digest_only)
{
    loaded L;
    load1(&L, KH_COMPILE_STRICT, "hdb",
          MD5_ABC ":4:Abc.Wrong.Size\n" MD5_EMPTY ":0:Empty.File\n" MD5_ABC ":3:Abc.Right.Size\n", 0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.hash_md5, 3);
    KT_DETECTS(L.r, "abc", 3, "Abc.Right.Size");
    KT_DETECTS(L.r, "abd", 3, "");    /* same size, other digest */
    KT_DETECTS(L.r, "abcd", 4, "");   /* a size in the table, other digest */
    KT_DETECTS(L.r, "xabc", 4, "");   /* contains the data: hashes are whole-file */
    KT_DETECTS(L.r, "", 0, "Empty.File");
    unload(&L);
}

KT_TEST(test_engine_clamav_db__hash_any_size)
{
    loaded L;
    load1(&L, KH_COMPILE_STRICT, "hsb", SHA256_ABC ":*:Abc.Any.Size\n" SHA1_ABC ":*:Abc.Any.Sha1\n", 0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.hash_sha256, 1);
    KT_EQ_INT(L.st.hash_sha1, 1);
    KT_DETECTS(L.r, "abc", 3, "Abc.Any.Sha1,Abc.Any.Size");
    KT_DETECTS(L.r, "abcabc", 6, "");
    unload(&L);
}

KT_TEST(test_engine_clamav_db__functionality_levels)
{
    loaded L;
    load1(&L, KH_COMPILE_STRICT, "hdb",
          MD5_ABC ":3:In.Range:100:300\n"
          MD5_ABC ":3:Exactly.Ours:210:210\n"
          MD5_ABC ":3:Min.Only:210\n"
          MD5_ABC ":3:Max.Only::210\n"
          MD5_ABC ":3:Too.New:211\n"
          MD5_ABC ":3:Too.New.Range:211:300\n"
          MD5_ABC ":3:Too.Old:1:209\n"
          MD5_ABC ":3:Never:300:100\n",
          0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.hash_md5, 4);
    KT_EQ_INT(L.st.flevel_skipped, 4);
    KT_EQ_INT(L.st.malformed, 0);
    KT_DETECTS(L.r, "abc", 3, "Exactly.Ours,In.Range,Max.Only,Min.Only");
    unload(&L);

    load1(&L, KH_COMPILE_STRICT, "ndb",
          "B.In:0:*:616263:51:255\n"
          "B.Too.New:0:*:616263:999\n"
          "B.Too.Old:0:*:616263:1:99\n",
          0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.body, 1);
    KT_EQ_INT(L.st.flevel_skipped, 2);
    KT_DETECTS(L.r, "xabc", 4, "B.In");
    unload(&L);
}

KT_TEST(test_engine_clamav_db__comments_blank_lines_crlf)
{
    loaded L;
    load1(&L, KH_COMPILE_STRICT, "ndb",
          "# a comment: with:colons:and:more:fields:than:allowed\r\n"
          "\r\n"
          "   \n"
          "Crlf.Name:0:*:616263\r\n"
          "Trailing.Space:0:*:78797a  \t\n"
          "No.Newline:0:*:6a6b6c",
          0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.body, 3);
    KT_EQ_INT(L.st.malformed, 0);
    KT_EQ_INT(count_diags(&L, KH_DIAG_ERROR), 0);
    KT_DETECTS(L.r, "abc", 3, "Crlf.Name"); /* the name does not keep the CR */
    KT_DETECTS(L.r, "xyz", 3, "Trailing.Space");
    KT_DETECTS(L.r, "jkl", 3, "No.Newline");
    unload(&L);
}

KT_TEST(test_engine_clamav_db__name_length_limit)
{
    char line[1200];
    memset(line, 'N', sizeof(line));
    memcpy(line + 1024, ":0:*:616263\n", 13); /* a 1024-byte name */
    loaded L;
    load1(&L, KH_COMPILE_STRICT, "ndb", line, 0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.body, 1);
    unload(&L);
    memset(line, 'N', sizeof(line));
    memcpy(line + 1025, ":0:*:616263\n", 13); /* 1025 bytes: too long */
    load1(&L, 0, "ndb", line, 0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.body, 0);
    KT_EQ_INT(L.st.malformed, 1);
    KT_CHECK(diag_of(&L, KH_DIAG_ERROR, 0) && diag_of(&L, KH_DIAG_ERROR, 0)->column == 1);
    unload(&L);
}

/* ---- Malformed lines --------------------------------------------------------- */

typedef struct bad_row {
    const char *kind;
    const char *line; /* the malformed line (line 3 of the database) */
    size_t len;       /* 0: strlen (lines with a NUL give the length) */
    unsigned col;     /* expected column, 1-based; 0: the whole line */
    const char *msg;  /* expected part of the message */
} bad_row;

#define H MD5_ABC /* 32 digits: the size field starts at column 34, the name at 36 */

static const bad_row bad_rows[] = {
    /* hash lines: HASH:SIZE:NAME[:MINFL[:MAXFL]] */
    {"hdb", H ":3", 0, 0, "found 2 fields"},
    {"hdb", H, 0, 0, "found 1 field"},
    {"hdb", H ":3:N:1:2:3", 0, 0, "found 6 fields"},
    {"hdb", "900150983cd24fb0d6963f7d28e17f7:3:N", 0, 1, "not 31"},
    {"hdb", "900150983cd24fb0d6963f7d28e17f72a:3:N", 0, 1, "not 33"},
    {"hdb", ":3:N", 0, 1, "not 0"},
    {"hdb", "9001509x3cd24fb0d6963f7d28e17f72:3:N", 0, 8, "invalid hex digit 'x'"},
    {"hdb", "900150983cd24fb0d6963f7d28e17f7-:3:N", 0, 32, "invalid hex digit '-'"},
    {"hsb", "a9993e364706816aba3e25717850c26c9cd0d89g:3:N", 0, 40, "invalid hex digit 'g'"},
    {"hdb", H ":3x:N", 0, 34, "file size"},
    {"hdb", H ":-3:N", 0, 34, "file size"},
    {"hdb", H "::N", 0, 34, "file size"},
    {"hdb", H ": 3:N", 0, 34, "file size"},
    {"hdb", H ":4294967296:N", 0, 34, "file size"},
    {"hdb", H ":99999999999999999999999:N", 0, 34, "file size"},
    {"hdb", H ":**:N", 0, 34, "file size"},
    {"hdb", H ":3:", 0, 36, "signature name"},
    {"hdb", H ":3::10", 0, 36, "signature name"},
    {"hdb", H ":3:Bad\x01Name", 0, 36, "signature name"},
    {"hdb", H ":3:Bad\x7fName", 0, 36, "signature name"},
    {"hdb", H ":3:N:abc", 0, 38, "functionality level"},
    {"hdb", H ":3:N:abc:5", 0, 38, "functionality level"},
    {"hdb", H ":3:N:10:x", 0, 41, "functionality level"},
    {"hdb", H ":3:N:-1", 0, 38, "functionality level"},
    {"hdb", H ":3:Nu\0l", 39, 38, "NUL byte"},
    {"hsb", "\0" H ":3:N", 37, 1, "NUL byte"},
    {"fp", H ":3", 0, 0, "found 2 fields"},
    {"fp", H ":x:Good.File", 0, 34, "file size"},
    {"sfp", SHA256_ABC ":3:", 0, 68, "signature name"},
    {"hdu", "zz0150983cd24fb0d6963f7d28e17f72:3:N", 0, 1, "invalid hex digit 'z'"},
    /* body lines: NAME:TARGETTYPE:OFFSET:HEX[:MINFL[:MAXFL]] */
    {"ndb", "N:0:*", 0, 0, "found 3 fields"},
    {"ndb", "N", 0, 0, "found 1 field"},
    {"ndb", "N:0:*:4142:1:2:3", 0, 0, "found 7 fields"},
    {"ndb", ":0:*:4142", 0, 1, "signature name"},
    {"ndb", "N\x02:0:*:4142", 0, 1, "signature name"},
    {"ndb", "N:x:*:4142", 0, 3, "target type"},
    {"ndb", "N::*:4142", 0, 3, "target type"},
    {"ndb", "N:15:*:4142", 0, 3, "target type"},
    {"ndb", "N:-1:*:4142", 0, 3, "target type"},
    {"ndb", "Name:99999999999999999999999:*:4142", 0, 6, "target type"},
    {"ndb", "N:0:abc:4142", 0, 5, "offset"},
    {"ndb", "N:0::4142", 0, 5, "offset"},
    {"ndb", "N:0:-5:4142", 0, 5, "offset"},
    {"ndb", "N:0:EOF-:4142", 0, 5, "offset"},
    {"ndb", "N:0:EOF-x:4142", 0, 5, "offset"},
    {"ndb", "N:0:EOF+3:4142", 0, 5, "offset"},
    {"ndb", "N:0:1,:4142", 0, 5, "offset"},
    {"ndb", "N:0:1,x:4142", 0, 5, "offset"},
    {"ndb", "N:0:,5:4142", 0, 5, "offset"},
    {"ndb", "N:0:1,2,3:4142", 0, 5, "offset"},
    {"ndb", "N:0:**:4142", 0, 5, "offset"},
    {"ndb", "N:0:EP+zz:4142", 0, 5, "offset"},
    {"ndb", "N:0:S1+q:4142", 0, 5, "offset"},
    {"ndb", "N:0:*:41zz", 0, 9, "bad hex signature"},
    {"ndb", "N:0:*:", 0, 7, "bad hex signature"},
    {"ndb", "N:0:*:4142:abc", 0, 12, "functionality level"},
    {"ndb", "N:0:*:4142:1:x", 0, 14, "functionality level"},
    {"ndb", "N:0:*:4142:x:5", 0, 12, "functionality level"},
    {"ndb", "N:0:*:41\00042", 10, 9, "NUL byte"},
    {"ndu", "N:0:*:4", 0, 7, "bad hex signature"},
    /* .ign2: NAME or NAME:MD5 (old .ign: DB:LINE:NAME) */
    {"ign2", "a:b:c:d", 0, 1, "signature name"},
    {"ign2", ":", 0, 1, "signature name"},
    {"ign2", "db.ndb:3:", 0, 1, "signature name"},
    {"ign2", "Bad\x03Name", 0, 1, "signature name"},
};

#undef H

/* A valid first line (line 2) for each kind, so skipping must be per line. */
static const char *good_line(const char *kind)
{
    if (strcmp(kind, "ndb") == 0 || strcmp(kind, "ndu") == 0)
        return "Good.Body:0:*:6b686965\n";
    if (strcmp(kind, "ign2") == 0)
        return "Some.Name\n";
    return MD5_EMPTY ":0:Good.Hash\n";
}

static void check_bad_row(size_t i, const bad_row *b, int strict)
{
    char text[512];
    const char *good = good_line(b->kind);
    size_t blen = b->len ? b->len : strlen(b->line);
    size_t n = (size_t)snprintf(text, sizeof(text), "# line 1 is a comment\n%s", good);
    memcpy(text + n, b->line, blen);
    n += blen;
    text[n++] = '\n';
    text[n] = 0;
    loaded L;
    if (!check_bad_line(&L, i, b->line, b->kind, text, n, b->col, b->msg, strict))
        return;
    if (strcmp(b->kind, "ign2") != 0) {
        /* The valid line is still there; the bad one added nothing. */
        char origin[32];
        snprintf(origin, sizeof(origin), "test0.%s", b->kind);
        if (kh_rules_count(L.r) + L.st.allow != 1)
            KT_FAIL_("row %zu: %llu signatures, want 1", i, (unsigned long long)(kh_rules_count(L.r) + L.st.allow));
        const kh_diag *w = warning_with(&L, "1 malformed line skipped");
        if (!w || strcmp(w->file, origin) != 0)
            KT_FAIL_("row %zu: no summary warning \"1 malformed line skipped\" for %s", i, origin);
    }
    unload(&L);
}

KT_TEST(test_engine_clamav_db__malformed_lenient)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(bad_rows); i++)
        check_bad_row(i, &bad_rows[i], 0);
}

KT_TEST(test_engine_clamav_db__malformed_strict)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(bad_rows); i++)
        check_bad_row(i, &bad_rows[i], 1);
}

KT_TEST(test_engine_clamav_db__malformed_counted_across_files)
{
    src s[2] = {
        {"ndb", "A:0:*:616263\nB:x:*:6162\nC:0:*:zz\nD:0:q:41\n", 0},
        {"hdb", MD5_ABC ":3\n" MD5_ABC ":3:Abc.Md5\n", 0},
    };
    loaded L;
    load_n(&L, 0, 0, s, 2);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.malformed, 4);
    KT_EQ_INT(L.st.body, 1);
    KT_EQ_INT(L.st.hash_md5, 1);
    KT_EQ_INT(L.st.databases, 2);
    KT_EQ_INT(count_diags(&L, KH_DIAG_ERROR), 4);
    const kh_diag *w1 = warning_with(&L, "3 malformed lines skipped");
    const kh_diag *w2 = warning_with(&L, "1 malformed line skipped");
    KT_CHECK(w1 && strcmp(w1->file, "test0.ndb") == 0);
    KT_CHECK(w2 && strcmp(w2->file, "test1.hdb") == 0);
    /* Errors come in file and line order. */
    const unsigned want_line[4] = {2, 3, 4, 1};
    for (size_t i = 0; i < 4; i++) {
        const kh_diag *e = diag_of(&L, KH_DIAG_ERROR, i);
        KT_CHECK(e && e->line == want_line[i]);
    }
    KT_DETECTS(L.r, "abc", 3, "A,Abc.Md5");
    unload(&L);

    /* Strict: the first bad line stops the load. */
    load_n(&L, KH_COMPILE_STRICT, 0, s, 2);
    KT_EQ_INT(L.rc, KH_ESYNTAX);
    KT_CHECK(L.r == NULL);
    KT_EQ_INT(count_diags(&L, KH_DIAG_ERROR), 1);
    unload(&L);
}

/* With many bad lines only max_diags diagnostics are kept, but the summary
 * with the count is what a user needs most: it must not be the one dropped. */
KT_TEST(test_engine_clamav_db__malformed_summary_survives_diag_limit)
{
    char text[1024] = "";
    for (int i = 0; i < 10; i++)
        strcat(text, "Bad:0:*:zz\n");
    src s = {"ndb", text, 0};
    loaded L;
    load_n(&L, 0, 3, &s, 1);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.malformed, 10);
    KT_CHECK(kh_compiler_diag_count(L.c) <= 4);
    KT_CHECK(warning_with(&L, "10 malformed lines skipped") != NULL);
    unload(&L);
}

/* ---- Well-formed but unsupported ------------------------------------------------ */

KT_TEST(test_engine_clamav_db__target_types_unsupported)
{
    /* 0 (any), 1 (PE), 5 (graphics), 6 (ELF), 9 (Mach-O), 10 (PDF), 11 (flash)
     * and 12 (Java) are loaded; 2, 3, 4, 7 need content Khiên does not
     * produce (macros, normalised HTML and text, mail parts), 8, 13, 14 are
     * no file types */
    char text[1024] = "T0:0:*:616263\n";
    for (int t = 1; t <= 14; t++) {
        char line[64];
        snprintf(line, sizeof(line), "T%d:%d:*:616263\n", t, t);
        strcat(text, line);
    }
    loaded L;
    load1(&L, KH_COMPILE_STRICT, "ndb", text, 0);
    KT_EQ_INT(L.rc, 0); /* unsupported is not malformed, even when strict */
    KT_EQ_INT(L.st.body, 8);
    KT_EQ_INT(L.st.unsupported, 7);
    KT_EQ_INT(L.st.unsup_target, 7);
    KT_EQ_INT(L.st.malformed, 0);
    KT_EQ_INT(count_diags(&L, KH_DIAG_ERROR), 0);
    const kh_diag *w = warning_with(&L, "7 signatures for OLE2, HTML, mail or ASCII text files");
    KT_CHECK(w != NULL);
    KT_CHECK(w && strcmp(w->file, "test0.ndb") == 0);
    KT_DETECTS(L.r, "abc", 3, "T0"); /* "abc" is no type: too short for any magic */
    KT_DETECTS(L.r, "xyzabc", 6, "T0");
    KT_DETECTS(L.r, "\x89PNG abc", 8, "T0,T5");
    KT_DETECTS(L.r, "GIF89a abc", 10, "T0,T5");
    KT_DETECTS(L.r, "\xcf\xfa\xed\xfe abc", 8, "T0,T9");
    KT_DETECTS(L.r, "\xca\xfe\xba\xbe\0\0\0\x02 abc", 12, "T0,T9");   /* universal binary */
    KT_DETECTS(L.r, "\xca\xfe\xba\xbe\0\0\0\x34 abc", 12, "T0,T12");  /* Java class */
    KT_DETECTS(L.r, "\xca\xfe\xba\xbe\0\0\0\x40 abc", 12, "T0");      /* neither */
    KT_DETECTS(L.r, "xx%PDF-1.4 abc", 14, "T0,T10");
    KT_DETECTS(L.r, "xx%PDF abc", 10, "T0");
    KT_DETECTS(L.r, "CWS\x0a abc", 8, "T0,T11");
    unload(&L);
}

KT_TEST(test_engine_clamav_db__ep_and_section_offsets)
{
    loaded L;
    load1(&L, KH_COMPILE_STRICT, "ndb",
          "Ep.Plus:1:EP+0:616263\n"
          "Ep.Minus:1:EP-10:616263\n"
          "Ep.Shift:6:EP+5,10:616263\n"
          "Section:1:S0+4:616263\n"
          "Section.Last:1:SL+8:616263\n"
          "Section.End:1:SE1:616263\n"
          "Version.Info:1:VI:616263\n" /* was "malformed" (clamav-testdb pe_allmatch) */
          "Any:0:*:616263\n",
          0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.unsupported, 1);
    KT_EQ_INT(L.st.unsup_offset, 1);
    KT_EQ_INT(L.st.body, 7);
    KT_CHECK(warning_with(&L, "1 signature with version-information offsets (VI)") != NULL);
    KT_DETECTS(L.r, "abc", 3, "Any");
    unload(&L);

    /* On target 0 (or another type without sections) they are errors, as in clamscan. */
    load1(&L, 0, "ndb", "Ep:0:EP+0:616263\nSl:0:SL+0:616263\nOk:1:EP+0:616263\nHtml:3:S1+0:616263\n", 0);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.malformed, 3);
    KT_EQ_INT(L.st.body, 1);
    KT_EQ_INT(count_diags(&L, KH_DIAG_ERROR), 3);
    unload(&L);
    load1(&L, KH_COMPILE_STRICT, "ndb", "Ep:0:EP+0:616263\n", 0);
    KT_EQ_INT(L.rc, KH_ESYNTAX);
    unload(&L);
}

KT_TEST(test_engine_clamav_db__later_formats_counted)
{
    loaded L;
    src s[4] = {
        {"cbc", "ClamBCafhm`ab\nmore\n", 0},
        {"ndb", "Body:0:*:616263\n", 0},
        {"pdb", "R:example.com\n", 0},
        {"idb", "Icon.Name:GROUP1:GROUP2:0102\n", 0},
    };
    load_n(&L, KH_COMPILE_STRICT, 0, s, 4);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.unsupported, 3); /* a .cbc file is one signature, whatever its lines */
    KT_EQ_INT(L.st.unsup_format, 3);
    KT_EQ_INT(L.st.body, 1);
    KT_EQ_INT(L.st.databases, 4);
    const kh_diag *w = warning_with(&L, "1 signature of the .cbc format not loaded: bytecode");
    KT_CHECK(w && strcmp(w->file, "test0.cbc") == 0);
    KT_CHECK(warning_with(&L, "1 signature of the .pdb format not loaded: phishing") != NULL);
    KT_CHECK(warning_with(&L, "1 signature of the .idb format not loaded: icon") != NULL);
    unload(&L);
}

/* ---- .ign2 ---------------------------------------------------------------------- */

KT_TEST(test_engine_clamav_db__ign2_drops_names)
{
    /* The .ign2 comes after the databases it applies to. */
    src s[3] = {
        {"ndb", "Drop.Body:0:*:616263\nKeep.Body:0:*:616263\nDrop.Body.Prefix:0:*:616263\n", 0},
        {"hdb", MD5_ABC ":3:Drop.Hash\n" MD5_ABC ":3:Keep.Hash\n", 0},
        /* Name:MD5 drops the signature whose database line has that MD5 (clamscan
         * 1.4.6 keeps it otherwise): ebe0... is MD5("900150...7f72:3:Drop.Hash") */
        {"ign2", "# names to ignore\nDrop.Body\nDrop.Hash:ebe0b5156fd212616e005ff03cf12261\n"
                 "Keep.Hash:" MD5_ABC "\nold.ndb:7:Never.Loaded\nDrop\n", 0},
    };
    loaded L;
    load_n(&L, KH_COMPILE_STRICT, 0, s, 3);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.ignored, 2);
    KT_EQ_INT(L.st.body, 2);
    KT_EQ_INT(L.st.hash_md5, 1);
    KT_EQ_INT(L.st.databases, 3);
    KT_DETECTS(L.r, "abc", 3, "Drop.Body.Prefix,Keep.Body,Keep.Hash");
    unload(&L);

    /* An old-style .ign (db:line:name) drops by name too. */
    src t[2] = {
        {"ndb", "Old.Drop:0:*:616263\nOld.Keep:0:*:646566\n", 0},
        {"ign", "daily.ndb:1:Old.Drop\n", 0},
    };
    load_n(&L, KH_COMPILE_STRICT, 0, t, 2);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.ignored, 1);
    KT_DETECTS(L.r, "abcdef", 6, "Old.Keep");
    unload(&L);
}

/* ---- .fp / .sfp ---------------------------------------------------------------- */

KT_TEST(test_engine_clamav_db__fp_suppresses_detection)
{
    src s[3] = {
        {"ndb", "Abc.Body:0:*:616263\n", 0},
        {"hdb", MD5_ABC ":3:Abc.Hash\n", 0},
        {"fp", MD5_ABC ":3:Abc.Known.Good\n", 0},
    };
    loaded L;
    load_n(&L, KH_COMPILE_STRICT, 0, s, 3);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.allow, 1);
    KT_EQ_INT(L.st.hash_md5, 1); /* allow-list entries are not detection signatures */
    KT_EQ_INT(kh_rules_count(L.r), 2);
    KT_DETECTS(L.r, "abc", 3, "");           /* allow-listed: every detection dropped */
    KT_DETECTS(L.r, "xabc", 4, "Abc.Body");  /* other content still detected */
    unload(&L);

    /* A wrong size in the .fp does not allow the file. */
    s[2].text = MD5_ABC ":4:Abc.Known.Good.Wrong.Size\n";
    load_n(&L, KH_COMPILE_STRICT, 0, s, 3);
    KT_EQ_INT(L.rc, 0);
    KT_DETECTS(L.r, "abc", 3, "Abc.Body,Abc.Hash");
    unload(&L);

    /* .sfp: SHA-256 with any size, SHA-1. */
    s[2].kind = "sfp";
    s[2].text = SHA256_ABC ":*:Abc.Sfp\n";
    load_n(&L, KH_COMPILE_STRICT, 0, s, 3);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.allow, 1);
    KT_DETECTS(L.r, "abc", 3, "");
    KT_DETECTS(L.r, "abcabc", 6, "Abc.Body");
    unload(&L);
    s[2].text = SHA1_ABC ":3:Abc.Sfp.Sha1\n";
    load_n(&L, KH_COMPILE_STRICT, 0, s, 3);
    KT_EQ_INT(L.rc, 0);
    KT_DETECTS(L.r, "abc", 3, "");
    unload(&L);
}

/* .ign2 names detection signatures; an .fp entry of the same name stays. */
KT_TEST(test_engine_clamav_db__ign2_does_not_drop_allow_entries)
{
    src s[3] = {
        {"ndb", "Abc.Body:0:*:616263\n", 0},
        {"fp", MD5_ABC ":3:Abc.Body\n", 0},
        {"ign2", "Abc.Body\n", 0},
    };
    loaded L;
    load_n(&L, KH_COMPILE_STRICT, 0, s, 3);
    KT_EQ_INT(L.rc, 0);
    KT_EQ_INT(L.st.ignored, 1); /* the body signature, not the .fp entry */
    KT_EQ_INT(L.st.allow, 1);
    KT_EQ_INT(L.st.body, 0);
    unload(&L);
}

KT_MAIN({
    KT_CASE(test_engine_clamav_db__hash_algorithm_by_length),
    KT_CASE(test_engine_clamav_db__hash_size_and_digest_only),
    KT_CASE(test_engine_clamav_db__hash_any_size),
    KT_CASE(test_engine_clamav_db__functionality_levels),
    KT_CASE(test_engine_clamav_db__comments_blank_lines_crlf),
    KT_CASE(test_engine_clamav_db__name_length_limit),
    KT_CASE(test_engine_clamav_db__malformed_lenient),
    KT_CASE(test_engine_clamav_db__malformed_strict),
    KT_CASE(test_engine_clamav_db__malformed_counted_across_files),
    KT_CASE(test_engine_clamav_db__malformed_summary_survives_diag_limit),
    KT_CASE(test_engine_clamav_db__target_types_unsupported),
    KT_CASE(test_engine_clamav_db__ep_and_section_offsets),
    KT_CASE(test_engine_clamav_db__later_formats_counted),
    KT_CASE(test_engine_clamav_db__ign2_drops_names),
    KT_CASE(test_engine_clamav_db__fp_suppresses_detection),
    KT_CASE(test_engine_clamav_db__ign2_does_not_drop_allow_entries),
})
