/* Tests of src/engine/clamav/hex.c: every ClamAV hex construct, as data.
 * Each row: hex signature, offset, a C-escaped input, whether it matches,
 * and the expected match offset (-1: do not check). */
#include "kt_engine.h"

typedef struct row {
    const char *hex;
    const char *offset;
    const char *input;
    size_t len; /* 0: strlen(input) */
    int match;
    long long at;
} row;

static const row rows[] = {
    /* plain bytes */
    {"414243", "*", "xxABCxx", 0, 1, 2},
    {"414243", "*", "xxABxCx", 0, 0, -1},
    {"00414200", "*", "q\0AB\0q", 6, 1, 1},
    /* ?? any byte, nibbles */
    {"41??43", "*", "xA\xff" "Cx", 0, 1, 1},
    {"41??43", "*", "xACx", 0, 0, -1},
    {"414?43", "*", "AOC", 0, 1, 0},
    {"414?43", "*", "APC", 0, 0, -1},
    {"41?f43", "*", "A\x7f" "C", 0, 1, 0},
    {"41?f43", "*", "A\x7e" "C", 0, 0, -1},
    /* gaps */
    {"4142*4344", "*", "AB.....................CD", 0, 1, 0},
    {"4142*4344", "*", "CDAB", 0, 0, -1},
    {"4142{2}4344", "*", "AB..CD", 0, 1, 0},
    {"4142{2}4344", "*", "AB.CD", 0, 0, -1},
    {"4142{-2}4344", "*", "ABCD", 0, 1, 0},
    {"4142{-2}4344", "*", "AB..CD", 0, 1, 0},
    {"4142{-2}4344", "*", "AB...CD", 0, 0, -1},
    {"4142{3-}4344", "*", "AB..CD", 0, 0, -1},
    {"4142{3-}4344", "*", "AB.........CD", 0, 1, 0},
    {"4142{1-3}4344", "*", "ABCD", 0, 0, -1},
    {"4142{1-3}4344", "*", "AB...CD", 0, 1, 0},
    {"4142{1-3}4344", "*", "AB....CD", 0, 0, -1},
    {"4142[1-2]43", "*", "AB.C", 0, 1, 0},
    {"4142[1-2]43", "*", "AB...C", 0, 0, -1},
    {"4142{2000-2000}4344", "*", NULL, 0, 1, 0}, /* input generated below */
    /* alternatives */
    {"41(42|43)44", "*", "ACD", 0, 1, 0},
    {"41(42|43)44", "*", "AED", 0, 0, -1},
    {"41(4242|4343)44", "*", "ACCD", 0, 1, 0},
    {"41(4242|4343)44", "*", "ABCD", 0, 0, -1},
    {"41(42|4343|444444)45", "*", "ADDDE", 0, 1, 0},
    {"41(42|4343|444444)45", "*", "ADDE", 0, 0, -1},
    {"41(4?|5a)42", "*", "AOB", 0, 1, 0},
    {"41!(42|43)44", "*", "AED", 0, 1, 0},
    {"41!(42|43)44", "*", "ACD", 0, 0, -1},
    {"41!(4242|4343)44", "*", "ABCD", 0, 1, 0},
    {"41!(4242|4343)44", "*", "ACCD", 0, 0, -1},
    /* offsets */
    {"414243", "2", "xxABC", 0, 1, 2},
    {"414243", "1", "xxABC", 0, 0, -1},
    {"414243", "1,1", "xxABC", 0, 1, 2},
    {"414243", "1,3", "xxxxABC", 0, 1, 4},
    {"414243", "1,2", "xxxxABC", 0, 0, -1},
    {"414243", "EOF-3", "xxxxABC", 0, 1, 4},
    {"414243", "EOF-4", "xxxxABC", 0, 0, -1},
    {"414243", "EOF-5,2", "xxxxABC", 0, 1, 4},
    {"4142*4344", "0", "AB..CD", 0, 1, 0},
    {"4142*4344", "0", ".AB..CD", 0, 0, -1},
    /* Each row below was a difference from clamscan 1.4 (tests/compat). */
    /* (B) in the middle consumes one of \n \r space " ' - . / < = > @ _ */
    {"6a6b(B)7172", "*", "jk_qr", 0, 1, 0},
    {"6a6b(B)7172", "*", "jk;qr", 0, 0, -1},
    /* (B) first in a part looks at the byte before (space - . / < @ _ or
     * the file start) and is not part of the match */
    {"(B)6a6b7172", "*", "xx jkqr", 0, 1, 3},
    {"(B)6a6b7172", "*", "jkqr", 0, 1, 0},
    {"(B)6a6b7172", "*", "x\njkqr", 0, 0, -1},
    {"(B)6a6b7172", "3", "xx jkqr", 0, 1, 3},
    /* (B) last looks at the byte after (\n \r space " ' - / = > _ or the end) */
    {"6a6b7172(B)", "*", "jkqr\nx", 0, 1, 0},
    {"6a6b7172(B)", "*", "jkqr.x", 0, 0, -1},
    /* (W) last: the end of the file counts */
    {"616263(W)", "*", "xabc", 0, 1, 1},
    /* (L) in the middle consumes CRLF (the prefilter allowed one byte) */
    {"616263(L)6465", "*", "abc\r\nde", 0, 1, 0},
    {"616263(L)6465", "*", "abc\rde", 0, 0, -1},
    /* (L) first: a LF before, or the file start */
    {"(L)616263", "*", "x\nabc", 0, 1, 2},
    {"(L)616263", "*", "x\rabc", 0, 0, -1},
    /* !(B) last: a byte after that is not a boundary (not the end); first: consumed */
    {"616263!(B)", "*", "abcx", 0, 1, 0},
    {"616263!(B)", "*", "abc", 0, 0, -1},
    {"!(B)616263", "*", "xabc", 0, 1, 0},
    {"!(B)616263", "*", " abc", 0, 0, -1},
    /* x[n-m] first: a byte before the rest, which the offset refers to */
    {"41[1-2]4243", "2", "A.BC", 0, 1, 2},
    {"41[1-2]4243", "0", "A.BC", 0, 0, -1},
    {"4142[2]43", "*", "AB..C", 0, 1, 0},
    /* a range whose maximum is 0 has none; {} and {-} are * */
    {"4142{0}4344", "*", "AB.....CD", 0, 1, 0},
    {"4142{-}4344", "*", "AB.....CD", 0, 1, 0},
    {"4142{2-0}4344", "*", "AB.CD", 0, 0, -1},
    {"4142{2-0}4344", "*", "AB.....CD", 0, 1, 0},
    /* (B) last in a part (before a range) looks after it, consumes nothing */
    {"4142(B){2-3}4344", "*", "AB  CD", 0, 1, 0},
    /* nested alternatives */
    {"41(42|(43|44)45)46", "*", "ADEF", 0, 1, 0},
    {"41(42|(43|44)45)46", "*", "ADF", 0, 0, -1},
    /* an inline {n} inside alternatives is n ?? (it was refused) */
    {"4142(43{2}44|45)46", "*", "ABC..DF", 0, 1, 0},
    {"4142(43{2}44|45)46", "*", "ABC.DF", 0, 0, -1},
};

static void run_row(const row *r, size_t idx)
{
    char line[512];
    snprintf(line, sizeof(line), "Row%zu:0:%s:%s\n", idx, r->offset, r->hex);
    kh_rules *rules = kt_rules("ndb", line);
    if (!rules) {
        KT_FAIL_("row %zu (%s) did not compile", idx, r->hex);
        return;
    }
    uint8_t big[2100];
    const uint8_t *in = (const uint8_t *)r->input;
    size_t len = r->len ? r->len : (r->input ? strlen(r->input) : 0);
    if (!r->input) {
        memset(big, '.', sizeof(big));
        memcpy(big, "AB", 2);
        memcpy(big + 2002, "CD", 2);
        in = big;
        len = 2004;
    }
    kt_hits h;
    int rc = kt_scan(rules, in, len, &h);
    if (rc != 0 || h.n != r->match)
        KT_FAIL_("row %zu: %s at %s on \"%s\": got %d match(es), want %d (rc %d)", idx, r->hex, r->offset,
                 r->input ? r->input : "<big>", h.n, r->match, rc);
    else if (r->match && r->at >= 0 && h.offsets[0] != r->at)
        KT_FAIL_("row %zu: %s: match at %lld, want %lld", idx, r->hex, h.offsets[0], r->at);
    kh_rules_destroy(rules);
}

KT_TEST(test_engine_clamav_hex__table)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        run_row(&rows[i], i);
}

/* Malformed hex: each must fail with the column of the offending character. */
typedef struct bad {
    const char *hex;
    unsigned col; /* 1-based column within the hex field */
} bad;

static const bad bads[] = {
    {"41424", 5},    {"41zz43", 3},  {"4142{3", 5},  {"4142{x}43", 6}, {"41(42|", 3},  {"41(42||43)", 7},
    {"*4142", 1},    {"4142*", 5},   {"????", 1},    {"41{5-2}42", 3}, {"41!(4242|43)44", 3},
    {"41!4244", 3},  {"", 1},
    {"(B)", 1},      {"41[2-40]4243", 3}, {"4142**4344", 6},
};

KT_TEST(test_engine_clamav_hex__malformed)
{
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line), "Bad:0:*:%s\n", bads[i].hex);
        kh_compiler *c = NULL;
        kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
        o.flags = KH_COMPILE_NO_BUILTIN | KH_COMPILE_STRICT;
        kh_rules *r = NULL;
        KT_CHECK(kh_compiler_create(&c, &o) == 0);
        KT_CHECK(kh_compiler_add_text(c, "ndb", "bad.ndb", line, strlen(line)) == 0);
        int rc = kh_compiler_build(c, &r);
        if (rc != KH_ESYNTAX) {
            KT_FAIL_("'%s' should be a syntax error, got %d", bads[i].hex, rc);
        } else {
            const kh_diag *d = kh_compiler_diag(c, 0);
            unsigned want = 9 + bads[i].col - 1; /* "Bad:0:*:" is 8 characters */
            if (!d || d->line != 1 || d->column != want)
                KT_FAIL_("'%s': diagnostic at %u:%u, want 1:%u (%s)", bads[i].hex, d ? d->line : 0, d ? d->column : 0,
                         want, d ? d->message : "none");
        }
        kh_rules_destroy(r);
        kh_compiler_destroy(c);
    }
}

/* Scans `content` at every alignment of a 64-byte line: Vectorscan's
 * misses depended on where the buffer sits in memory. Returns the fewest
 * detections seen (and the name of the first). */
static int scan_aligned(const kh_rules *r, const uint8_t *content, size_t n, char name[128])
{
    uint8_t *mem = NULL;
    int fewest = 64;
    if (posix_memalign((void **)&mem, 64, n + 64))
        return -1;
    for (size_t al = 0; al < 64; al++) {
        memcpy(mem + al, content, n);
        kt_hits h;
        if (kt_scan(r, mem + al, n, &h) != 0)
            fewest = -1;
        else if (h.n < fewest)
            fewest = h.n;
        if (h.n)
            snprintf(name, 128, "%s", h.names[0]);
    }
    free(mem);
    return fewest;
}

/* Vectorscan 5.4.9 loses matches of expressions with long gaps (DOTALL):
 * two signatures sharing a prefix, and one byte between two gaps. */
KT_TEST(test_engine_clamav_hex__long_gaps)
{
    char name[128] = "";
    kh_rules *r = kt_rules("ndb", "Long:0:*:41424358407a{202}444546\n"
                                  "Longer:0:*:41424358407a{200}44454647\n");
    KT_CHECK(r != NULL);
    if (r) {
        uint8_t buf[220];
        memset(buf, '.', sizeof(buf));
        memcpy(buf, "KH\0\2zzABCX@z", 12);
        memcpy(buf + 211, " ..DEFGzz", 9); /* Long matches; Longer would need DEFG 2 bytes earlier */
        KT_EQ_INT(scan_aligned(r, buf, sizeof(buf), name), 1);
        KT_CHECK(strcmp(name, "Long") == 0);
        kh_rules_destroy(r);
    }
    static const char *const lines[] = {"Island:0:*:414243*21*70717273\n",
                                        "Island.Bounded:0:*:414243{100}21*70717273\n"};
    uint8_t buf[130];
    memset(buf, 'f', sizeof(buf));
    memcpy(buf + 5, "ABC", 3);
    buf[108] = '!';
    memcpy(buf + 112, "pqrs", 4);
    for (size_t i = 0; i < 2; i++) {
        if (!(r = kt_rules("ndb", lines[i]))) {
            KT_FAIL_("%s did not compile", lines[i]);
            continue;
        }
        KT_EQ_INT(scan_aligned(r, buf, sizeof(buf), name), 1);
        kh_rules_destroy(r);
    }
}

KT_MAIN({KT_CASE(test_engine_clamav_hex__table), KT_CASE(test_engine_clamav_hex__malformed),
         KT_CASE(test_engine_clamav_hex__long_gaps)})
