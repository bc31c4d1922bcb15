/* Tests of the logical-signature front end (src/engine/clamav/ldb.c, mdb.c)
 * and its evaluation (lsig_exec.c), as data tables.
 *
 * Each row: a database line, the bytes scanned (a binary buffer, or a small
 * PE file built here with tokens planted at given offsets), and whether the
 * signature must be reported. The expectations come from ClamAV's
 * documentation of the format (docs/SIGNATURES.md, "Logical signatures")
 * and were checked against clamscan 1.4.6: KT_LDB_DUMP=DIR writes every
 * row as DIR/NNN.{ldb,ndb,...} + DIR/NNN.bin + DIR/NNN.want, and
 * tests/compat/ldb_table.sh runs clamscan over them.
 *
 * The PE: headers in 0x200 bytes, sections .text .data .rdata of 0x200
 * bytes at file offsets 0x200 0x400 0x600 (rva 0x1000 0x2000 0x3000),
 * FileAlignment 0x200, entry point rva 0x1010 = file offset 0x210.
 */
#include "kt_engine.h"

#include <sys/stat.h>

#include "engine/digest.h"

#define PE_LEN 0x800u
#define PE_EP 0x210u

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff), put16(p + 2, v >> 16); }

static void make_pe(uint8_t *d)
{
    for (unsigned i = 0; i < PE_LEN; i++)
        d[i] = (uint8_t)(0x80 + (i * 7) % 61); /* no letters, no token */
    memset(d, 0, 0x200);
    d[0] = 'M', d[1] = 'Z';
    put32(d + 0x3c, 0x40);
    memcpy(d + 0x40, "PE\0\0", 4);
    put16(d + 0x44, 0x14c);
    put16(d + 0x46, 3);
    put16(d + 0x54, 0xe0);
    put16(d + 0x56, 0x0102);
    uint8_t *o = d + 0x58;
    put16(o, 0x10b);
    put32(o + 16, 0x1010);           /* AddressOfEntryPoint */
    put32(o + 20, 0x1000);           /* BaseOfCode */
    put32(o + 28, 0x400000);         /* ImageBase */
    put32(o + 32, 0x1000);           /* SectionAlignment */
    put32(o + 36, 0x200);            /* FileAlignment */
    put16(o + 40, 4), put16(o + 48, 4);
    put32(o + 56, 0x4000);           /* SizeOfImage */
    put32(o + 60, 0x200);            /* SizeOfHeaders */
    put16(o + 68, 2);                /* Subsystem */
    put32(o + 92, 16);               /* NumberOfRvaAndSizes */
    static const char *const names[3] = {".text", ".data", ".rdata"};
    for (unsigned i = 0; i < 3; i++) {
        uint8_t *s = d + 0x58 + 0xe0 + 40 * i;
        memcpy(s, names[i], strlen(names[i]));
        put32(s + 8, 0x200);
        put32(s + 12, 0x1000 * (i + 1));
        put32(s + 16, 0x200);
        put32(s + 20, 0x200 * (i + 1));
        put32(s + 36, i ? 0xc0000040u : 0x60000020u);
    }
}

typedef struct plant {
    unsigned off;
    const char *s;
} plant;

typedef struct row {
    const char *kind; /* database extension */
    const char *line;
    int pe;           /* 0: `input` as it is; 1: the PE with `plants` */
    const char *input;
    size_t len;       /* 0: strlen */
    plant plants[3];
    int match;
} row;

/* "\0\2\0\2" first: clamscan must see binary data (text is also matched normalised;
 * "\0\2" alone is not enough for a 7-byte file). */
#define B "\0\2\0\2"
#define L(x) "T;Engine:81-255,Target:0;" x
#define LP(x) "T;Engine:81-255,Target:1;" x

static const row rows[] = {
    /* expression: & | */
    {"ldb", L("0&1;414243;444546"), 0, B "xxABCyyDEF", 14, {{0}}, 1},
    {"ldb", L("0&1;414243;444546"), 0, B "xxABCyy", 11, {{0}}, 0},
    {"ldb", L("0|1;414243;444546"), 0, B "xxDEF", 9, {{0}}, 1},
    {"ldb", L("(0|1)&2;414243;444546;474849"), 0, B "DEF.GHI", 11, {{0}}, 1},
    {"ldb", L("(0|1)&2;414243;444546;474849"), 0, B "DEF.ABC", 11, {{0}}, 0},
    /* outside parentheses the first operator splits: 0&1|2 is 0&(1|2) */
    {"ldb", L("0&1|2;515151;585858;424242"), 0, B "..BBB..", 11, {{0}}, 0},
    {"ldb", L("0|1&2;424242;585858;515151"), 0, B "..BBB..", 11, {{0}}, 1},
    /* inside, the last one: (0&1|2) is (0&1)|2 */
    {"ldb", L("(0&1|2);515151;585858;424242"), 0, B "..BBB..", 11, {{0}}, 1},
    {"ldb", L("(0|2&1);424242;585858;515151"), 0, B "..BBB..", 11, {{0}}, 0},
    /* counts of one subsignature: overlapping matches count */
    {"ldb", L("0=5;4141"), 0, B "xxAAAAAAyy", 14, {{0}}, 1},
    {"ldb", L("0=3;4141"), 0, B "xxAAAAAAyy", 14, {{0}}, 0},
    {"ldb", L("0>4;4141"), 0, B "xxAAAAAAyy", 14, {{0}}, 1},
    {"ldb", L("0>5;4141"), 0, B "xxAAAAAAyy", 14, {{0}}, 0},
    {"ldb", L("0<2;4142"), 0, B "AB", 6, {{0}}, 1},
    /* an expression true with no match at all holds on any file of 6 bytes or more */
    {"ldb", L("0<2;4142"), 0, B "AB.AB", 9, {{0}}, 0},
    {"ldb", L("0<2;4142"), 0, B "......", 10, {{0}}, 1},
    {"ldb", L("0=0;4142"), 0, B "AB.AB", 9, {{0}}, 0},
    {"ldb", L("0=0;4142"), 0, B "..", 6, {{0}}, 1},
    {"ldb", L("0=1;4142"), 0, "\0\2AB.", 5, {{0}}, 0}, /* 5 bytes: never */
    {"ldb", L("0&1<2;5a5a5a;4142"), 0, B "ZZZ.AB.AB", 13, {{0}}, 0},
    {"ldb", L("0&1<2;5a5a5a;4142"), 0, B "ZZZ.AB", 10, {{0}}, 1},
    {"ldb", L("0>4,9;4141"), 0, B "AAAAAA", 10, {{0}}, 1}, /* ,M: ignored on one subsignature */
    /* =0 is "absent" */
    {"ldb", L("0&1=0;4142;5858"), 0, B "AB", 6, {{0}}, 1},
    {"ldb", L("0&1=0;4142;5858"), 0, B "ABXX", 8, {{0}}, 0},
    {"ldb", L("(0|1)=0&2;4141;4242;5a5a"), 0, B "ZZ", 6, {{0}}, 1},
    /* blocks: the matches of their true parts, ,M distinct subsignatures */
    {"ldb", L("(0|1|2)>5,2;4141;4242;7a7a"), 0, B "xxAAAAAAyyBBzz", 18, {{0}}, 1},
    {"ldb", L("(0|1|2)=7,2;4141;4242;7a7a"), 0, B "xxAAAAAAyyBBzz", 18, {{0}}, 1},
    {"ldb", L("(0|1|2)=7,3;4141;4242;7a7a"), 0, B "xxAAAAAAyyBBzz", 18, {{0}}, 1},
    {"ldb", L("(0|1)>2,2;4141;4242"), 0, B "AA.AA.AA", 12, {{0}}, 0},
    {"ldb", L("(0|1)>2,2;4141;4242"), 0, B "AA.AA.BB", 12, {{0}}, 1},
    {"ldb", L("(0&1)>3;4141;4242"), 0, B "AA.AA.BB", 12, {{0}}, 0},
    {"ldb", L("(0&1)>2;4141;4242"), 0, B "AA.AA.BB", 12, {{0}}, 1},
    /* modifiers */
    {"ldb", L("0;616263::i"), 0, B "xABCx", 9, {{0}}, 1},
    {"ldb", L("0;616263"), 0, B "xABCx", 9, {{0}}, 0},
    {"ldb", L("0;616263::w"), 0, B "a\0b\0c\0", 10, {{0}}, 1},
    {"ldb", L("0;616263::w"), 0, B "abc", 7, {{0}}, 0},
    {"ldb", L("0;616263::wa"), 0, B ".abc.", 9, {{0}}, 1},
    {"ldb", L("0;616263::iw"), 0, B "A\0b\0C\0", 10, {{0}}, 1},
    /* ::w widens ?? nibbles and alternatives, not gaps */
    {"ldb", L("0;4142??4344::w"), 0, B "A\0B\0x\0C\0D\0", 14, {{0}}, 1},
    {"ldb", L("0;4142??4344::w"), 0, B "A\0B\0xC\0D\0", 13, {{0}}, 0},
    {"ldb", L("0;4142{2}4344::w"), 0, B "A\0B\0xyC\0D\0", 14, {{0}}, 1},
    {"ldb", L("0;41424?4344::w"), 0, B "A\0B\0I\0C\0D\0", 14, {{0}}, 1},
    {"ldb", L("0;4142(58|59)4344::w"), 0, B "A\0B\0X\0C\0D\0", 14, {{0}}, 1},
    {"ldb", L("0;616263::f"), 0, B " abc.", 9, {{0}}, 1},
    {"ldb", L("0;616263::f"), 0, B "xabc.", 9, {{0}}, 0},
    {"ldb", L("0;616263::f"), 0, B ".abc9", 9, {{0}}, 0},
    {"ldb", L("0;616263::fi"), 0, B "-ABC", 8, {{0}}, 1},
    /* offsets */
    {"ldb", L("0;4:414243"), 0, B "ABC...", 10, {{0}}, 1},
    {"ldb", L("0;5:414243"), 0, B "ABC...", 10, {{0}}, 0},
    {"ldb", L("0;3,4:414243"), 0, B "...ABC", 10, {{0}}, 1},
    {"ldb", L("0;3,2:414243"), 0, B "...ABC", 10, {{0}}, 0},
    {"ldb", L("0;EOF-3:414243"), 0, B "...ABC", 10, {{0}}, 1},
    {"ldb", L("0;EOF-4:414243"), 0, B "...ABC", 10, {{0}}, 0},
    {"ldb", L("0=1;4:4141"), 0, B "AAAA", 8, {{0}}, 1}, /* counted only at the offset */
    /* target description block */
    {"ldb", "T;Engine:51-255,Target:0,FileSize:8-8;0;414243", 0, B "ABC.", 8, {{0}}, 1},
    {"ldb", "T;Engine:51-255,Target:0,FileSize:9-100;0;414243", 0, B "ABC.", 8, {{0}}, 0},
    {"ldb", "T;Engine:51-255,Target:1;0;414243", 0, B "ABC.", 8, {{0}}, 0},
    {"ldb", "T;Engine:51-255,Target:0,Container:CL_TYPE_ANY;0;414243", 0, B "ABC.", 8, {{0}}, 1},
    {"ldb", "T;Engine:250-255,Target:0;0;414243", 0, B "ABC.", 8, {{0}}, 0}, /* functionality level */
    /* PE: target, entry point, sections */
    {"ldb", LP("0;414243"), 1, NULL, 0, {{0x300, "ABC"}}, 1},
    {"ldb", LP("0;EP+0:41424344"), 1, NULL, 0, {{PE_EP, "ABCD"}}, 1},
    {"ldb", LP("0;EP+1:41424344"), 1, NULL, 0, {{PE_EP, "ABCD"}}, 0},
    {"ldb", LP("0;EP+4:41424344"), 1, NULL, 0, {{PE_EP + 4, "ABCD"}}, 1},
    {"ldb", LP("0;EP-16:41424344"), 1, NULL, 0, {{PE_EP - 16, "ABCD"}}, 1},
    {"ldb", LP("0;EP+0,32:41424344"), 1, NULL, 0, {{PE_EP + 30, "ABCD"}}, 1},
    {"ldb", LP("0;EP+0,32:41424344"), 1, NULL, 0, {{PE_EP + 40, "ABCD"}}, 0},
    {"ldb", LP("0;S1+0:41424344"), 1, NULL, 0, {{0x400, "ABCD"}}, 1},
    {"ldb", LP("0;S1+8:41424344"), 1, NULL, 0, {{0x408, "ABCD"}}, 1},
    {"ldb", LP("0;S1+8:41424344"), 1, NULL, 0, {{0x400, "ABCD"}}, 0},
    {"ldb", LP("0;S0+16:41424344"), 1, NULL, 0, {{PE_EP, "ABCD"}}, 1},
    {"ldb", LP("0;SL+4:41424344"), 1, NULL, 0, {{0x604, "ABCD"}}, 1},
    {"ldb", LP("0;SE2:41424344"), 1, NULL, 0, {{0x700, "ABCD"}}, 1},
    {"ldb", LP("0;SE2:41424344"), 1, NULL, 0, {{0x500, "ABCD"}}, 0},
    {"ldb", LP("0;S3+0:41424344"), 1, NULL, 0, {{0x600, "ABCD"}}, 0}, /* no such section */
    {"ldb", "T;Engine:51-255,Target:1,NumberOfSections:3-3;0;414243", 1, NULL, 0, {{0x300, "ABC"}}, 1},
    {"ldb", "T;Engine:51-255,Target:1,NumberOfSections:4-9;0;414243", 1, NULL, 0, {{0x300, "ABC"}}, 0},
    {"ldb", "T;Engine:51-255,Target:1,EntryPoint:528-528;0;414243", 1, NULL, 0, {{0x300, "ABC"}}, 1},
    {"ldb", "T;Engine:51-255,Target:1,EntryPoint:0-527;0;414243", 1, NULL, 0, {{0x300, "ABC"}}, 0},
    {"ldb", "T;Engine:51-255,Target:6;0;414243", 1, NULL, 0, {{0x300, "ABC"}}, 0}, /* not ELF */
    /* .ndb lines with a file type or PE offsets */
    {"ndb", "T:1:EP+0:41424344", 1, NULL, 0, {{PE_EP, "ABCD"}}, 1},
    {"ndb", "T:1:EP+0:41424344", 1, NULL, 0, {{PE_EP + 2, "ABCD"}}, 0},
    {"ndb", "T:1:*:41424344", 0, B "ABCD", 8, {{0}}, 0},
    {"ndb", "T:1:S2+0,8:41424344", 1, NULL, 0, {{0x606, "ABCD"}}, 1},
    /* PCRE: run when the trigger holds; anchored at an offset unless r */
    {"ldb", L("0&1;414243;0/AB[0-9]+CD/"), 0, B "ABC AB123CD", 15, {{0}}, 1},
    {"ldb", L("0&1;414243;0/AB[0-9]+CD/"), 0, B "ABC AB CD", 13, {{0}}, 0},
    {"ldb", L("1;5a5a5a;0/ABC/"), 0, B "ABC", 7, {{0}}, 0},
    {"ldb", L("0&1;4142;9:0/CD/"), 0, B "ABxxxCD", 11, {{0}}, 1},
    {"ldb", L("0&1;4142;7:0/CD/"), 0, B "ABxxxCD", 11, {{0}}, 0},
    {"ldb", L("0&1;4142;7:0/CD/r"), 0, B "ABxxxCD", 11, {{0}}, 1},
    {"ldb", L("0&1>1;4142;0/CD/g"), 0, B "AB CD CD", 12, {{0}}, 1},
    {"ldb", L("0&1>1;4142;0/CD/"), 0, B "AB CD CD", 12, {{0}}, 0},
    {"ldb", L("0&1;4142;0/cd/i"), 0, B "AB CD", 9, {{0}}, 1},
    /* byte compare, from the start of the trigger's match */
    {"ldb", L("0&1;4142;0(>>2#ib1#=67)"), 0, B "ABCD", 8, {{0}}, 1},
    {"ldb", L("0&1;4142;0(>>2#ib1#=68)"), 0, B "ABCD", 8, {{0}}, 0},
    {"ldb", L("0&1;4142;0(>>2#ib2#>16000)"), 0, B "ABCD", 8, {{0}}, 1}, /* 0x4344 = 17220 */
    {"ldb", L("0&1;4142;0(>>2#il2#>17500)"), 0, B "ABCD", 8, {{0}}, 0}, /* 0x4443 = 17475: no */
    {"ldb", L("0&1;4142;0(>>2#il2#>17400)"), 0, B "ABCD", 8, {{0}}, 1},
    {"ldb", L("0&1;4142;0(>>2#de3#=123)"), 0, B "AB123", 9, {{0}}, 1},
    {"ldb", L("0&1;4142;0(>>2#hbe2#=0x1f)"), 0, B "AB1f", 8, {{0}}, 1},
    {"ldb", L("0&1;4142;0(>>2#hle2#=0x1f)"), 0, B "AB1f", 8, {{0}}, 1},
    {"ldb", L("0&1;4142;0(>>2#he2#=0x1f)"), 0, B "AB1f", 8, {{0}}, 0}, /* hex without byte order: never */
    {"ldb", L("0&1;4142;0(<<1#ib1#=2)"), 0, B "AB", 6, {{0}}, 1},
};

static void build_input(const row *w, uint8_t *buf, size_t *len)
{
    if (!w->pe) {
        *len = w->len ? w->len : strlen(w->input);
        memcpy(buf, w->input, *len);
        return;
    }
    make_pe(buf);
    for (size_t k = 0; k < 3 && w->plants[k].s; k++)
        memcpy(buf + w->plants[k].off, w->plants[k].s, strlen(w->plants[k].s));
    *len = PE_LEN;
}

static void dump_row(const char *dir, size_t i, const row *w, const uint8_t *buf, size_t len)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%03zu.%s", dir, i, w->kind);
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "%s\n", w->line);
        fclose(f);
    }
    snprintf(p, sizeof(p), "%s/%03zu.bin", dir, i);
    if ((f = fopen(p, "wb"))) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    snprintf(p, sizeof(p), "%s/%03zu.want", dir, i);
    if ((f = fopen(p, "w"))) {
        fprintf(f, "%d\n", w->match);
        fclose(f);
    }
}

KT_TEST(test_engine_clamav_ldb__table)
{
    const char *dump = getenv("KT_LDB_DUMP");
    static uint8_t buf[PE_LEN];
    for (size_t i = 0; i < KH_ARRAY_LEN(rows); i++) {
        const row *w = &rows[i];
        size_t len;
        build_input(w, buf, &len);
        if (dump)
            dump_row(dump, i, w, buf, len);
        char text[512];
        snprintf(text, sizeof(text), "%s\n", w->line);
        kh_rules *r = kt_rules(w->kind, text);
        if (!r) {
            KT_FAIL_("row %zu (%s) did not load", i, w->line);
            continue;
        }
        kt_hits h;
        int rc = kt_scan(r, buf, len, &h);
        KT_EQ_INT(rc, 0);
        int got = h.n > 0 && strcmp(h.names[0], "T") == 0;
        if (got != w->match)
            KT_FAIL_("row %zu: %s %s, want %s", i, w->line, got ? "matched" : "did not match",
                     w->match ? "a match" : "none");
        kh_rules_destroy(r);
    }
}

/* Lines refused with the column of the problem, as clamscan refuses them. */
KT_TEST(test_engine_clamav_ldb__malformed)
{
    static const struct {
        const char *line;
        unsigned col;
    } bad[] = {
        {"T;Engine:51-255,Target:0;0&1;4142", 26},          /* 2 subsignatures named, 1 given */
        {"T;Engine:51-255,Target:0;0;4142;4344", 26},       /* 1 named, 2 given */
        {"T;Engine:51-255,Target:0;0;EP+0:4142", 28},       /* EP offset on target 0 */
        {"T;Engine:51-255;0;4142", 3},                      /* no Target */
        {"T;Engine:51-255,Target:0,Bogus:1;0;4142", 26},    /* unknown keyword */
        {"T;Engine:51-255,Target:0;(0&1;4142;4344", 30},    /* '(' without ')' */
        {"T;Engine:51-255,Target:0;0&;4142", 28},           /* missing right operand */
        {"T;Engine:51-255,Target:0;0x;4142", 27},           /* junk */
        {"T;Engine:51-255,Target:0;0;41ZZ", 30},            /* bad hex */
        {"T;Engine:51-255,Target:0;0;4142::q", 34},         /* unknown modifier */
        {"T;Engine:51-255,Target:0;0&1;4142;1/AB/", 35},    /* PCRE trigger refers to itself */
        {"T;Engine:81-255,Target:0;0&1;4142;0(>>2#ib3#=1)", 35}, /* raw width must be 1 2 4 8 */
        {"T;Target:0;0", 0},                                /* no subsignature */
    };
    for (size_t i = 0; i < KH_ARRAY_LEN(bad); i++) {
        kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
        o.flags = KH_COMPILE_NO_BUILTIN;
        kh_compiler *c = NULL;
        kh_rules *r = NULL;
        KT_EQ_INT(kh_compiler_create(&c, &o), 0);
        KT_EQ_INT(kh_compiler_add_text(c, "ldb", "t.ldb", bad[i].line, strlen(bad[i].line)), 0);
        KT_EQ_INT(kh_compiler_build(c, &r), 0);
        kh_rules_stats st;
        kh_rules_get_stats(r, &st);
        if (st.malformed != 1 || st.logical != 0)
            KT_FAIL_("row %zu (%s): malformed %llu, logical %llu", i, bad[i].line, (unsigned long long)st.malformed,
                     (unsigned long long)st.logical);
        const kh_diag *d = kh_compiler_diag(c, 0);
        if (!d || d->severity != KH_DIAG_ERROR || d->line != 1 || d->column != bad[i].col)
            KT_FAIL_("row %zu (%s): diagnostic at column %u, want %u (%s)", i, bad[i].line, d ? d->column : 0,
                     bad[i].col, d ? d->message : "none");
        kh_rules_destroy(r);
        kh_compiler_destroy(c);
    }
}

/* Well-formed lines that are counted as unsupported, by reason. */
KT_TEST(test_engine_clamav_ldb__unsupported_counted)
{
    const char *text = "A;Engine:51-255,Target:2;0;4142\n"                      /* OLE2 */
                       "B;Engine:51-255,Target:1,IconGroup1:X;0;4142\n"         /* icons */
                       "C;Engine:51-255,Target:0,Container:CL_TYPE_ZIP;0;4142\n"
                       "D;Engine:51-255,Target:0;0&1;4142;${6-7}12$\n"          /* macro */
                       "E;Engine:81-255,Target:0;0&1;4142;0/(?<n>x)/\n"         /* named group */
                       "F;Engine:51-255,Target:1;0;VI:4142\n"                   /* version info */
                       "G;Engine:51-255,Target:0;0;4142\n";
    kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
    o.flags = KH_COMPILE_NO_BUILTIN | KH_COMPILE_STRICT;
    kh_compiler *c = NULL;
    kh_rules *r = NULL;
    KT_EQ_INT(kh_compiler_create(&c, &o), 0);
    KT_EQ_INT(kh_compiler_add_text(c, "ldb", "t.ldb", text, strlen(text)), 0);
    KT_EQ_INT(kh_compiler_build(c, &r), 0);
    kh_rules_stats st;
    kh_rules_get_stats(r, &st);
    KT_EQ_INT(st.logical, 1);
    KT_EQ_INT(st.unsupported, 6);
    KT_EQ_INT(st.unsup_target, 1);
    KT_EQ_INT(st.unsup_feature, 4);
    KT_EQ_INT(st.unsup_offset, 1);
    KT_EQ_INT(st.malformed, 0);
    kh_rules_stats s0;
    const char *path = NULL;
    KT_EQ_INT(kh_rules_source_stats(r, 0, &path, &s0), 0);
    KT_EQ_STR(path, "t.ldb");
    KT_EQ_INT(s0.logical, 1);
    KT_EQ_INT(s0.unsupported, 6);
    size_t warned = 0;
    for (size_t i = 0; i < kh_compiler_diag_count(c); i++)
        warned += kh_compiler_diag(c, i)->severity == KH_DIAG_WARNING;
    KT_CHECK(warned >= 4); /* one per reason */
    kh_rules_destroy(r);
    kh_compiler_destroy(c);
}

/* .mdb .msb: the hash of a section's raw bytes and its size; .imp needs an
 * import table (the differential test builds PE files with one). */
KT_TEST(test_engine_clamav_ldb__section_hashes)
{
    static uint8_t pe[PE_LEN];
    make_pe(pe);
    memcpy(pe + 0x400, "section one", 11);
    uint8_t dig[KH_NALG][32];
    KT_EQ_INT(kh_digest_buf((1u << KH_MD5) | (1u << KH_SHA256), pe + 0x400, 0x200, dig), 0);
    char md5[33], sha[65], text[512];
    kh_hex_encode(dig[KH_MD5], 16, md5);
    kh_hex_encode(dig[KH_SHA256], 32, sha);
    static const char *const kinds[] = {"mdb", "msb", "msb", "mdb"};
    for (int k = 0; k < 4; k++) {
        if (k == 0)
            snprintf(text, sizeof(text), "512:%s:T\n", md5);
        else if (k == 1)
            snprintf(text, sizeof(text), "*:%s:T:73\n", sha);
        else if (k == 2)
            snprintf(text, sizeof(text), "513:%s:T\n", sha); /* wrong size */
        else
            snprintf(text, sizeof(text), "512:%s:T\n", md5);
        kh_rules *r = kt_rules(kinds[k], text);
        KT_CHECK(r != NULL);
        if (!r)
            continue;
        kt_hits h;
        if (k == 3)
            pe[0x401] ^= 1; /* the section changed */
        KT_EQ_INT(kt_scan(r, pe, PE_LEN, &h), 0);
        KT_EQ_INT(h.n, k >= 2 ? 0 : 1);
        /* the same bytes outside a PE file are not a section */
        KT_EQ_INT(kt_scan(r, pe + 0x400, 0x200, &h), 0);
        KT_EQ_INT(h.n, 0);
        kh_rules_destroy(r);
    }
}

KT_MAIN({KT_CASE(test_engine_clamav_ldb__table), KT_CASE(test_engine_clamav_ldb__malformed),
         KT_CASE(test_engine_clamav_ldb__unsupported_counted), KT_CASE(test_engine_clamav_ldb__section_hashes)})
