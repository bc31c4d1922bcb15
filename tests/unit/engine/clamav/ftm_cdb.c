/* Tests of src/engine/clamav/ftmcdb.c: .ftm file type magic and .cdb
 * container metadata lines, as data tables.
 *
 *  - valid lines of every form: how each is counted (gives a target type,
 *    gives another type, without effect, outside the functionality level);
 *  - every malformed-line case with its line, column (1-based, worked out
 *    by hand; 0 for "the whole line") and message, skipped and counted by
 *    default, KH_ESYNTAX with --strict;
 *  - .ftm typing of scanned buffers for target-type signatures: magic type
 *    0 replaces the built-in typing (measured on clamscan 1.4: an .ftm with
 *    one such line makes a GIF no graphics file), magic type 1 applies to
 *    text and binary data only, RequiredType (ASCII text, UTF-16 and binary
 *    data told apart as clamscan does), the largest type code wins; every
 *    row was checked against clamscan 1.4.6 by hand;
 *  - the CL_TYPE_* name table.
 */
#include "kt_clamav_load.h"
#include "engine/clamav/cav.h"


/* ---- Valid lines ------------------------------------------------------------------ */

typedef struct good_row {
    const char *kind, *line;
    unsigned types, other, unused, meta, flevel; /* expected counts */
} good_row;

static const good_row good_rows[] = {
    /* .ftm: magic type 0 */
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 1, 0, 0, 0, 0},
    {"ftm", "0:0:7f454c46:ELF:CL_TYPE_ANY:CL_TYPE_ELF", 1, 0, 0, 0, 0},
    {"ftm", "0:0:474946:GIF:CL_TYPE_ANY:CL_TYPE_GIF", 1, 0, 0, 0, 0},
    {"ftm", "0:0:89504e47:PNG:CL_TYPE_ANY:CL_TYPE_PNG", 1, 0, 0, 0, 0},
    {"ftm", "0:0:ffd8ff:JPEG:CL_TYPE_ANY:CL_TYPE_JPEG", 1, 0, 0, 0, 0},
    {"ftm", "0:0:49492a00:TIFF:CL_TYPE_ANY:CL_TYPE_TIFF", 1, 0, 0, 0, 0},
    {"ftm", "0:0:424d:BMP:CL_TYPE_ANY:CL_TYPE_GRAPHICS", 1, 0, 0, 0, 0},
    {"ftm", "0:0:feedface:Mach-O:CL_TYPE_ANY:CL_TYPE_MACHO", 1, 0, 0, 0, 0},
    {"ftm", "0:0:cafebabe:Universal:CL_TYPE_ANY:CL_TYPE_MACHO_UNIBIN", 1, 0, 0, 0, 0},
    {"ftm", "0:0:25504446:PDF:CL_TYPE_ANY:CL_TYPE_PDF", 1, 0, 0, 0, 0},
    {"ftm", "0:0:465753:SWF:CL_TYPE_ANY:CL_TYPE_SWF", 1, 0, 0, 0, 0},
    {"ftm", "0:0:cafebabe:Java:CL_TYPE_ANY:CL_TYPE_JAVA", 1, 0, 0, 0, 0},
    {"ftm", "0:257:7573746172:TAR:CL_TYPE_ANY:CL_TYPE_POSIX_TAR", 0, 1, 0, 0, 0},
    {"ftm", "0:0:504b0304:ZIP:CL_TYPE_ANY:CL_TYPE_ZIP", 0, 1, 0, 0, 0},
    {"ftm", "0:0:d0cf11e0:OLE2:CL_TYPE_ANY:CL_TYPE_MSOLE2", 0, 1, 0, 0, 0},
    {"ftm", "0:0::Everything:CL_TYPE_ANY:CL_TYPE_PDF", 1, 0, 0, 0, 0}, /* empty magic: every file */
    {"ftm", "0:0:4d5a::CL_TYPE_ANY:CL_TYPE_MSEXE", 1, 0, 0, 0, 0},      /* empty name */
    {"ftm", "0:0:4D5A:Upper:CL_TYPE_ANY:CL_TYPE_MSEXE", 1, 0, 0, 0, 0},
    {"ftm", "0:0:4d5a:In:CL_TYPE_ANY:CL_TYPE_MSEXE:1", 1, 0, 0, 0, 0},
    {"ftm", "0:0:4d5a:In:CL_TYPE_ANY:CL_TYPE_MSEXE:1:999", 1, 0, 0, 0, 0},
    {"ftm", "0:0:4d5a:Later:CL_TYPE_ANY:CL_TYPE_MSEXE:999", 0, 0, 0, 0, 1},
    {"ftm", "0:0:4d5a:Earlier:CL_TYPE_ANY:CL_TYPE_MSEXE:1:2", 0, 0, 0, 0, 1},
    /* .ftm: magic type 1 */
    {"ftm", "1:*:255044462d:PDF:CL_TYPE_ANY:CL_TYPE_PDF", 1, 0, 0, 0, 0},
    {"ftm", "1:0,1024:255044462d:PDF:CL_TYPE_ANY:CL_TYPE_PDF", 1, 0, 0, 0, 0},
    {"ftm", "1:8:4142??44:X:CL_TYPE_BINARY_DATA:CL_TYPE_JAVA", 1, 0, 0, 0, 0},
    {"ftm", "1:*:3c68746d6c:HTML:CL_TYPE_TEXT_ASCII:CL_TYPE_HTML", 0, 1, 0, 0, 0},
    {"ftm", "1:*:41{2-4}42:Jump:CL_TYPE_ANY:CL_TYPE_SWF", 1, 0, 0, 0, 0},
    {"ftm", "1:EOF-10:4142:Eof:CL_TYPE_ANY:CL_TYPE_PDF", 0, 0, 1, 0, 0},
    /* .ftm: partition types and other magic types */
    {"ftm", "4:1024:482b0004:HFS+:CL_TYPE_PART_ANY:CL_TYPE_PART_HFSPLUS", 0, 0, 1, 0, 0},
    {"ftm", "2:0:4d5a:Two:CL_TYPE_ANY:CL_TYPE_MSEXE", 0, 0, 1, 0, 0},
    {"ftm", "3:x:zz:Three:CL_TYPE_ANY:CL_TYPE_MSEXE", 0, 0, 1, 0, 0},
    /* .cdb */
    {"cdb", "C.All:*:*:*:*:*:*:*:*:*", 0, 0, 0, 1, 0},
    {"cdb", "C.Zip:CL_TYPE_ZIP:100-200:^dir/.*\\.exe$:10:0-100:0:1:*:*", 0, 0, 0, 1, 0},
    {"cdb", "C.Rar:CL_TYPE_RAR:*:[a-z]+[0-9]{2,3}:*:*:1:*:abc:def", 0, 0, 0, 1, 0},
    {"cdb", "C.Any:CL_TYPE_ANY:5-0:(a|b)c?:0-0:*:*:0:*:*:1", 0, 0, 0, 1, 0},
    {"cdb", "C.Fl:CL_TYPE_7Z:*:*:*:*:*:*:*:*:1:999", 0, 0, 0, 1, 0},
    {"cdb", "C.Later:*:*:*:*:*:*:*:*:*:999", 0, 0, 0, 0, 1},
    {"cdb", "C.Earlier:*:*:*:*:*:*:*:*:*:1:2", 0, 0, 0, 0, 1},
};

KT_TEST(test_engine_clamav_ftm_cdb__valid_lines)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(good_rows); i++) {
        const good_row *g = &good_rows[i];
        char text[512];
        snprintf(text, sizeof(text), "# comment\n\n%s\r\n", g->line);
        loaded L;
        src s = {g->kind, text, 0};
        load_n(&L, KH_COMPILE_STRICT, 0, &s, 1);
        if (L.rc || L.add_rc || !L.r) {
            KT_FAIL_("row %zu (%s): build returned %d/%d", i, g->line, L.add_rc, L.rc);
        } else if (L.st.ftm_types != g->types || L.st.ftm_other != g->other || L.st.ftm_unused != g->unused ||
                   L.st.container_meta != g->meta || L.st.flevel_skipped != g->flevel || L.st.malformed ||
                   L.st.unsupported) {
            KT_FAIL_("row %zu (%s): types %llu other %llu unused %llu meta %llu flevel %llu malformed %llu", i, g->line,
                     (unsigned long long)L.st.ftm_types, (unsigned long long)L.st.ftm_other,
                     (unsigned long long)L.st.ftm_unused, (unsigned long long)L.st.container_meta,
                     (unsigned long long)L.st.flevel_skipped, (unsigned long long)L.st.malformed);
        } else if (kh_rules_count(L.r) != g->meta) {
            KT_FAIL_("row %zu: %llu signatures counted", i, (unsigned long long)kh_rules_count(L.r));
        }
        if (L.r && (g->other || g->unused) && !warning_with(&L, "without effect") && !warning_with(&L, "no target type"))
            KT_FAIL_("row %zu (%s): no warning about the line without effect", i, g->line);
        unload(&L);
    }
}

/* ---- Malformed lines ------------------------------------------------------------- */

typedef struct bad_row {
    const char *kind, *line;
    unsigned col;
    const char *msg;
} bad_row;

static const bad_row bad_rows[] = {
    /* .ftm */
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY", 0, "found 5 fields"},
    {"ftm", "0", 0, "found 1 field"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE:1:2:3", 0, "found 9 fields"},
    {"ftm", "x:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 1, "magic type"},
    {"ftm", ":0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 1, "magic type"},
    {"ftm", "-1:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 1, "magic type"},
    {"ftm", "0:x:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 3, "offset of magic type 0"},
    {"ftm", "0::4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 3, "offset of magic type 0"},
    {"ftm", "0:*:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 3, "offset of magic type 0"},
    {"ftm", "4:-1:4d5a:P:CL_TYPE_ANY:CL_TYPE_MSEXE", 3, "offset of magic type 4"},
    {"ftm", "0:0:4d5:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 5, "even number"},
    {"ftm", "0:0:4d5g:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 8, "invalid hex digit 'g'"},
    {"ftm", "0:0:4d??:PE:CL_TYPE_ANY:CL_TYPE_MSEXE", 7, "invalid hex digit '?'"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_FOO:CL_TYPE_MSEXE", 13, "required type"},
    {"ftm", "0:0:4d5a:PE::CL_TYPE_MSEXE", 13, "required type"},
    {"ftm", "0:0:4d5a:PE:*:CL_TYPE_MSEXE", 13, "required type"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:MSEXE", 25, "result type"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_", 25, "result type"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:cl_type_msexe", 25, "result type"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_UNKNOWN_DATA", 25, "result type"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE:x", 39, "functionality level"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE:1:y", 41, "functionality level"},
    {"ftm", "0:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE::", 39, "functionality level"},
    {"ftm", "1:*:41zz:X:CL_TYPE_ANY:CL_TYPE_PDF", 7, "bad hex signature"},
    {"ftm", "1:*::X:CL_TYPE_ANY:CL_TYPE_PDF", 5, "bad hex signature"},
    {"ftm", "1:x:4142:X:CL_TYPE_ANY:CL_TYPE_PDF", 3, "offset must be"},
    {"ftm", "1:1,:4142:X:CL_TYPE_ANY:CL_TYPE_PDF", 3, "offset must be"},
    /* .cdb */
    {"cdb", "C.N:*:*:*:*:*:*:*:*", 0, "found 9 fields"},
    {"cdb", "C.N", 0, "found 1 field"},
    {"cdb", "C.N:*:*:*:*:*:*:*:*:*:1:2:3", 0, "found 13 fields"},
    {"cdb", ":*:*:*:*:*:*:*:*:*", 1, "signature name"},
    {"cdb", "C\x01N:*:*:*:*:*:*:*:*:*", 1, "signature name"},
    {"cdb", "C.N:CL_TYPE_FOO:*:*:*:*:*:*:*:*", 5, "container type"},
    {"cdb", "C.N::*:*:*:*:*:*:*:*", 5, "container type"},
    {"cdb", "C.N:ZIP:*:*:*:*:*:*:*:*", 5, "container type"},
    {"cdb", "C.N:*:x:*:*:*:*:*:*:*", 7, "container size"},
    {"cdb", "C.N:*::*:*:*:*:*:*:*", 7, "container size"},
    {"cdb", "C.N:*:1-:*:*:*:*:*:*:*", 7, "container size"},
    {"cdb", "C.N:*:-5:*:*:*:*:*:*:*", 7, "container size"},
    {"cdb", "C.N:*:1-2-3:*:*:*:*:*:*:*", 7, "container size"},
    {"cdb", "C.N:*:*:*:1x:*:*:*:*:*", 11, "file size in container"},
    {"cdb", "C.N:*:*:*:*:**:*:*:*:*", 13, "real file size"},
    {"cdb", "C.N:*:*:*:*:*:*: 1:*:*", 17, "file position"},
    {"cdb", "C.N:*:*:*:*:*:2:*:*:*", 15, "encryption flag"},
    {"cdb", "C.N:*:*:*:*:*::*:*:*", 15, "encryption flag"},
    {"cdb", "C.N:*:*:*:*:*:01:*:*:*", 15, "encryption flag"},
    {"cdb", "C.N:*:*:(ab:*:*:*:*:*:*", 12, "regular expression"},
    {"cdb", "C.N:*:*::*:*:*:*:*:*", 9, "regular expression"},
    {"cdb", "C.N:*:*:*:*:*:*:*:*:*:x", 23, "functionality level"},
    {"cdb", "C.N:*:*:*:*:*:*:*:*:*:1:x", 25, "functionality level"},
};

static void check_bad_row(size_t i, const bad_row *b, int strict)
{
    char text[512];
    const char *good = strcmp(b->kind, "ftm") == 0 ? "0:0:4d5a:PE:CL_TYPE_ANY:CL_TYPE_MSEXE\n" : "C.Good:*:*:*:*:*:*:*:*:*\n";
    snprintf(text, sizeof(text), "# line 1\n%s%s\n", good, b->line);
    loaded L;
    if (!check_bad_line(&L, i, b->line, b->kind, text, 0, b->col, b->msg, strict))
        return;
    if (L.st.ftm_types + L.st.container_meta != 1)
        KT_FAIL_("row %zu: the good line was not kept alone", i);
    if (!warning_with(&L, "1 malformed line skipped"))
        KT_FAIL_("row %zu: no summary warning", i);
    unload(&L);
}

KT_TEST(test_engine_clamav_ftm_cdb__malformed_lenient)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(bad_rows); i++)
        check_bad_row(i, &bad_rows[i], 0);
}

KT_TEST(test_engine_clamav_ftm_cdb__malformed_strict)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(bad_rows); i++)
        check_bad_row(i, &bad_rows[i], 1);
}

/* ---- Typing files for target types ------------------------------------------------------ */

#define M "4b4849454e4d41524b4552" /* "KHIENMARKER" */
#define NDB                                                                                                    \
    "T0:0:*:" M "\nT1:1:*:" M "\nT5:5:*:" M "\nT6:6:*:" M "\nT9:9:*:" M "\nT10:10:*:" M "\nT11:11:*:" M \
    "\nT12:12:*:" M "\n"

typedef struct type_row {
    const char *ftm;  /* NULL: no .ftm */
    const char *data; /* the marker is appended */
    size_t len;       /* 0: strlen */
    const char *want; /* detections, sorted */
} type_row;

static const type_row type_rows[] = {
    /* built-in typing (clamscan's own magic list) */
    {NULL, "GIF89a\x01\x02", 0, "T0,T5"},
    {NULL, "%PDF-1.4\n\x01", 0, "T0,T10"},
    {NULL, "\x01\x02\x03\x04", 0, "T0"},
    /* magic type 0: replaces the built-in typing (GIF no longer graphics) */
    {"0:0:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_PDF\n", "GIF89a\x01\x02", 0, "T0"},
    {"0:0:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_PDF\n", "KHKN\x01\x02", 0, "T0,T10"},
    {"0:8:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_SWF\n", "\x01\x02\x03\x04\x05\x06\x07\x08KHKN", 0, "T0,T11"},
    {"0:8:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_SWF\n", "KHKN\x01\x02", 0, "T0"},
    {"0:0:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_GRAPHICS\n", "KHKN\x01", 0, "T0,T5"},
    {"0:0:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_ZIP\n", "KHKN\x01", 0, "T0"},
    /* RequiredType means nothing to magic type 0 */
    {"0:0:4b484b4e:K:CL_TYPE_PDF:CL_TYPE_SWF\n", "KHKN\x01", 0, "T0,T11"},
    /* the last line loaded wins */
    {"0:0:4b48:A:CL_TYPE_ANY:CL_TYPE_PDF\n0:0:4b484b4e:B:CL_TYPE_ANY:CL_TYPE_SWF\n", "KHKN\x01", 0, "T0,T11"},
    {"0:0:4b484b4e:B:CL_TYPE_ANY:CL_TYPE_SWF\n0:0:4b48:A:CL_TYPE_ANY:CL_TYPE_PDF\n", "KHKN\x01", 0, "T0,T10"},
    /* the empty magic types every file */
    {"0:0::E:CL_TYPE_ANY:CL_TYPE_JAVA\n", "\x01\x02\x03", 0, "T0,T12"},
    /* magic type 1 alone keeps the built-in typing */
    {"1:*:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_JAVA\n", "GIF89a QQZZ", 0, "T0,T5"},
    {"1:*:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_JAVA\n", "\x01\x02QQZZ", 0, "T0,T12"},
    {"1:*:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_JAVA\n", "text QQZZ ", 0, "T0,T12"},
    /* RequiredType: the type so far (binary data, text) */
    {"1:*:51515a5a:Q:CL_TYPE_BINARY_DATA:CL_TYPE_JAVA\n", "\x01\x02\x00\x01QQZZ", 4 + 4, "T0,T12"},
    /* ... but data whose 16-bit units from the third byte on are all text or >= 128 is UTF-16 (big-endian) */
    {"1:*:51515a5a:Q:CL_TYPE_BINARY_DATA:CL_TYPE_JAVA\n", "\x01\x02QQZZ", 0, "T0"},
    {"1:*:51515a5a:Q:CL_TYPE_TEXT_UTF16BE:CL_TYPE_JAVA\n", "\x01\x02QQZZ", 0, "T0,T12"},
    {"1:*:51515a5a:Q:CL_TYPE_TEXT_UTF16LE:CL_TYPE_JAVA\n", "\xff\xfe\x01\x00QQZZ", 8, "T0,T12"},
    /* bytes of 128 and above are text: a byte-order mark alone does not make UTF-16 */
    {"1:*:51515a5a:Q:CL_TYPE_TEXT_UTF16LE:CL_TYPE_JAVA\n", "\xff\xfeQQZZ", 0, "T0"},
    {"1:*:51515a5a:Q:CL_TYPE_TEXT_ASCII:CL_TYPE_JAVA\n", "\xff\xfeQQZZ", 0, "T0,T12"},
    {"1:*:51515a5a:Q:CL_TYPE_BINARY_DATA:CL_TYPE_JAVA\n", "text QQZZ ", 0, "T0"},
    {"1:*:51515a5a:Q:CL_TYPE_TEXT_ASCII:CL_TYPE_JAVA\n", "text QQZZ ", 0, "T0,T12"},
    {"1:*:51515a5a:Q:CL_TYPE_PDF:CL_TYPE_JAVA\n", "\x01\x02QQZZ", 0, "T0"},
    /* offsets: exact, range */
    {"1:2:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_SWF\n", "\x01\x02QQZZ", 0, "T0,T11"},
    {"1:3:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_SWF\n", "\x01\x02QQZZ", 0, "T0"},
    {"1:0,1:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_SWF\n", "\x01\x02QQZZ", 0, "T0"},
    {"1:0,2:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_SWF\n", "\x01\x02QQZZ", 0, "T0,T11"},
    /* the largest type code wins (JAVA 543 over PDF 536) */
    {"1:*:5151:Q:CL_TYPE_ANY:CL_TYPE_JAVA\n1:*:5a5a:Z:CL_TYPE_ANY:CL_TYPE_PDF\n", "\x01QQZZ", 0, "T0,T12"},
    /* with magic type 0 lines too, magic type 1 applies when none matched */
    {"0:0:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_PDF\n1:*:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_JAVA\n", "KHKN QQZZ\x01", 0,
     "T0,T10"},
    {"0:0:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_PDF\n1:*:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_JAVA\n", "xx QQZZ\x01", 0,
     "T0,T12"},
    /* only the first 1024 bytes */
    {"1:*:51515a5a:Q:CL_TYPE_ANY:CL_TYPE_JAVA\n", NULL, 1100, "T0"},
    /* partition types change nothing */
    {"4:0:4b484b4e:K:CL_TYPE_ANY:CL_TYPE_PDF\n", "GIF89a\x01", 0, "T0,T5"},
};

KT_TEST(test_engine_clamav_ftm_cdb__typing)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(type_rows); i++) {
        const type_row *t = &type_rows[i];
        src s[2] = {{"ndb", NDB, 0}, {"ftm", t->ftm, 0}};
        loaded L;
        load_n(&L, KH_COMPILE_STRICT, 0, s, t->ftm ? 2 : 1);
        if (L.rc || !L.r) {
            KT_FAIL_("row %zu: build %d", i, L.rc);
            unload(&L);
            continue;
        }
        uint8_t buf[2048];
        size_t n;
        if (t->data) {
            n = t->len ? t->len : strlen(t->data);
            memcpy(buf, t->data, n);
        } else {
            n = t->len; /* QQZZ past the first 1024 bytes */
            memset(buf, 1, n);
            memcpy(buf + 1050, "QQZZ", 4);
        }
        memcpy(buf + n, "KHIENMARKER", 11);
        n += 11;
        kt_hits h;
        int rc = kt_scan(L.r, buf, n, &h);
        char got[512] = "";
        for (int a = 0; a < h.n; a++) /* insertion sort of the names */
            for (int b = a + 1; b < h.n; b++)
                if (strcmp(h.names[b], h.names[a]) < 0) {
                    char tmp[128];
                    memcpy(tmp, h.names[a], sizeof(tmp));
                    memcpy(h.names[a], h.names[b], sizeof(tmp));
                    memcpy(h.names[b], tmp, sizeof(tmp));
                }
        for (int a = 0; a < h.n; a++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", a ? "," : "", h.names[a]);
        if (rc || strcmp(got, t->want) != 0)
            KT_FAIL_("row %zu (%s): got \"%s\" (rc %d), want \"%s\"", i, t->ftm ? t->ftm : "-", got, rc, t->want);
        unload(&L);
    }
}

KT_TEST(test_engine_clamav_ftm_cdb__type_names)
{
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_ANY", 11), 0);
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_ZIP", 11), KH_CT_ZIP);
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_7Z", 10), KH_CT_7Z);
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_7ZSFX", 13), 565);
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_MSEXE", 13), KH_CT_MSEXE);
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_LHA_LZH", 15), 556);
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_Z", 9), -1);
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_ZIPX", 12), -1);
    KT_EQ_INT(kh_cav_type_code("CL_TYPE_ZI", 10), -1);
    KT_EQ_INT(kh_cav_type_code("ZIP", 3), -1);
    KT_EQ_STR(kh_cav_type_name(KH_CT_RAR), "RAR");
    KT_EQ_STR(kh_cav_type_name(586), "IGNORED");
}

KT_MAIN({
    KT_CASE(test_engine_clamav_ftm_cdb__valid_lines),
    KT_CASE(test_engine_clamav_ftm_cdb__malformed_lenient),
    KT_CASE(test_engine_clamav_ftm_cdb__malformed_strict),
    KT_CASE(test_engine_clamav_ftm_cdb__typing),
    KT_CASE(test_engine_clamav_ftm_cdb__type_names),
})
