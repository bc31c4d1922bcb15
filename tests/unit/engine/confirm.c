/* Tests of src/engine/confirm.c, the exact matcher, in two parts.
 *
 * 1. The matcher itself, on pattern trees built by hand here (no parser
 *    involved): literals, gaps, classes, alternatives and assertions at the
 *    first and last byte of the buffer, start sets that reach or pass the
 *    end, leftmost-start search, and the work limits.
 * 2. .ndb offsets end to end (n, n,m, EOF-n, EOF-n,m) at the buffer's
 *    edges and beyond its end, as data rows: the offset field, the buffer,
 *    and the match offset we expect (-1: no match), worked out by hand.
 */
#include <stdlib.h>
#include <unistd.h>

#include "engine/confirm.h"
#include "kt_engine.h"

/* ---- A tiny tree builder -------------------------------------------------- */

typedef struct tree {
    kh_node nodes[1100];
    uint32_t kids[2048];
    uint8_t bytes[1024];
    uint32_t nn, nk, nb;
    struct kh_rules r;
} tree;

static uint32_t node(tree *t, uint8_t op, uint32_t a, uint32_t b, uint32_t c)
{
    kh_node *n = &t->nodes[t->nn];
    memset(n, 0, sizeof(*n));
    n->op = op;
    n->a = a;
    n->b = b;
    n->c = c;
    return t->nn++;
}

static uint32_t lit(tree *t, const char *s)
{
    uint32_t off = t->nb, n = (uint32_t)strlen(s);
    memcpy(t->bytes + off, s, n);
    t->nb += n;
    return node(t, KH_OP_LIT, off, n, 0);
}

static uint32_t cls(tree *t, const char *chars)
{
    uint32_t off = (t->nb + 31) & ~31u;
    memset(t->bytes + off, 0, 32);
    for (const unsigned char *p = (const unsigned char *)chars; *p; p++)
        t->bytes[off + (*p >> 3)] |= (uint8_t)(1u << (*p & 7));
    t->nb = off + 32;
    return node(t, KH_OP_CLASS, off, 0, 0);
}

static uint32_t gap(tree *t, uint32_t lo, uint32_t hi) { return node(t, KH_OP_GAP, lo, hi, 0); }

static uint32_t group(tree *t, uint8_t op, uint32_t c, int n, const uint32_t *k)
{
    uint32_t off = t->nk;
    for (int i = 0; i < n; i++)
        t->kids[t->nk++] = k[i];
    return node(t, op, off, (uint32_t)n, c);
}

#define SEQ(t, ...) group((t), KH_OP_SEQ, 0, (int)(sizeof((uint32_t[]){__VA_ARGS__}) / 4), (uint32_t[]){__VA_ARGS__})
#define ALT(t, ...) group((t), KH_OP_ALT, 0, (int)(sizeof((uint32_t[]){__VA_ARGS__}) / 4), (uint32_t[]){__VA_ARGS__})
#define NALT(t, len, ...) \
    group((t), KH_OP_NALT, (len), (int)(sizeof((uint32_t[]){__VA_ARGS__}) / 4), (uint32_t[]){__VA_ARGS__})

static const struct kh_rules *rules_of(tree *t)
{
    memset(&t->r, 0, sizeof(t->r));
    t->r.nodes = t->nodes;
    t->r.kids = t->kids;
    t->r.bytes = t->bytes;
    t->r.nnodes = t->nn;
    t->r.nkids = t->nk;
    t->r.nbytes = t->nb;
    return &t->r;
}

/* Runs both entry points on buf with starts [lo, hi]; returns the leftmost
 * start (-1: none) and checks that kh_confirm_match agrees. */
static long long run(tree *t, uint32_t root, const char *buf, uint64_t lo, uint64_t hi)
{
    /* A heap copy of exactly the buffer, so that ASan sees any read past it. */
    size_t len = strlen(buf);
    uint8_t *b = malloc(len ? len : 1);
    memcpy(b, buf, len);
    kh_confirm cx;
    kh_confirm_init(&cx);
    kh_pset starts = {0};
    kh_pset_add(&starts, lo, hi);
    int matched = -1;
    int rc = kh_confirm_match(&cx, rules_of(t), root, b, len, &starts, &matched);
    KT_EQ_INT(rc, 0);
    uint64_t at = 0;
    int frc = kh_confirm_first(&cx, rules_of(t), root, b, len, &starts, &at);
    KT_CHECK(frc == 0 || frc == KH_ENOTFOUND);
    if ((frc == 0) != (matched == 1))
        KT_FAIL_("kh_confirm_match says %d, kh_confirm_first says %d on \"%s\"", matched, frc, buf);
    kh_pset_free(&starts);
    kh_confirm_dispose(&cx);
    free(b);
    return frc == 0 ? (long long)at : -1;
}

KT_TEST(test_engine_confirm__pset_merges_adjacent)
{
    kh_pset s = {0};
    KT_EQ_INT(kh_pset_add(&s, 0, 2), 0);
    KT_EQ_INT(kh_pset_add(&s, 3, 5), 0); /* adjacent: merged */
    KT_EQ_INT(kh_pset_add(&s, 4, 4), 0); /* inside: merged */
    KT_EQ_INT(kh_pset_add(&s, 7, 9), 0); /* gap of one position: kept apart */
    KT_EQ_INT(s.n, 2);
    KT_EQ_INT(s.v[0].lo, 0);
    KT_EQ_INT(s.v[0].hi, 5);
    KT_EQ_INT(s.v[1].lo, 7);
    KT_EQ_INT(s.v[1].hi, 9);
    kh_pset_clear(&s);
    KT_EQ_INT(s.n, 0);
    kh_pset_free(&s);
    KT_CHECK(s.v == NULL);
}

KT_TEST(test_engine_confirm__literal_at_edges)
{
    tree t = {0};
    uint32_t abc = lit(&t, "ABC");
    KT_EQ_INT(run(&t, abc, "ABCxxABC", 0, 8), 0);
    KT_EQ_INT(run(&t, abc, "ABCxxABC", 1, 8), 5);  /* last possible start */
    KT_EQ_INT(run(&t, abc, "ABCxxABC", 5, 5), 5);
    KT_EQ_INT(run(&t, abc, "ABCxxABC", 6, 8), -1); /* would run past the end */
    KT_EQ_INT(run(&t, abc, "ABCxxABC", 8, 8), -1); /* start at the end */
    KT_EQ_INT(run(&t, abc, "ABCxxABC", 9, 100), -1); /* starts beyond the end */
    KT_EQ_INT(run(&t, abc, "ABCxxABC", 0, UINT64_MAX), 0);
    KT_EQ_INT(run(&t, abc, "AB", 0, 2), -1);       /* buffer shorter than the literal */
    KT_EQ_INT(run(&t, abc, "", 0, 0), -1);
    /* Long start interval (the memmem path) with the only match at the end. */
    KT_EQ_INT(run(&t, abc, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxABC", 0, 43), 40);
    KT_EQ_INT(run(&t, abc, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxABC", 0, 39), -1);
    KT_EQ_INT(run(&t, abc, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxAB", 0, 42), -1);
}

KT_TEST(test_engine_confirm__gaps_and_classes_at_edges)
{
    tree t = {0};
    /* A{2-3}C */
    uint32_t p = SEQ(&t, lit(&t, "A"), gap(&t, 2, 3), lit(&t, "C"));
    KT_EQ_INT(run(&t, p, "A..C", 0, 4), 0);
    KT_EQ_INT(run(&t, p, "A...C", 0, 5), 0);
    KT_EQ_INT(run(&t, p, "A....C", 0, 6), -1);
    KT_EQ_INT(run(&t, p, "A.C", 0, 3), -1);
    KT_EQ_INT(run(&t, p, "A..", 0, 3), -1); /* the gap reaches the end, C does not fit */
    /* A trailing gap must fit inside the buffer: A{3} */
    uint32_t tg = SEQ(&t, lit(&t, "A"), gap(&t, 3, 3));
    KT_EQ_INT(run(&t, tg, "xA...", 0, 5), 1);
    KT_EQ_INT(run(&t, tg, "xA..", 0, 4), -1);
    /* A*C: unbounded gap */
    uint32_t star = SEQ(&t, lit(&t, "A"), gap(&t, 0, KH_INF), lit(&t, "C"));
    KT_EQ_INT(run(&t, star, "xAyAzC", 0, 6), 1); /* leftmost start */
    KT_EQ_INT(run(&t, star, "xAyAzC", 2, 6), 3);
    KT_EQ_INT(run(&t, star, "CxA", 0, 3), -1);
    /* A class on the last byte, and one past it. */
    uint32_t c = SEQ(&t, lit(&t, "A"), cls(&t, "CD"));
    KT_EQ_INT(run(&t, c, "xxAD", 0, 4), 2);
    KT_EQ_INT(run(&t, c, "xxA", 0, 3), -1);
    KT_EQ_INT(run(&t, c, "xxAE", 0, 4), -1);
    uint32_t c1 = cls(&t, "Z");
    KT_EQ_INT(run(&t, c1, "abZ", 2, 2), 2);
    KT_EQ_INT(run(&t, c1, "abZ", 3, 3), -1);
    KT_EQ_INT(run(&t, c1, "", 0, 0), -1);
}

KT_TEST(test_engine_confirm__alternatives)
{
    tree t = {0};
    /* A(B|CC|DDD)E */
    uint32_t p = SEQ(&t, lit(&t, "A"), ALT(&t, lit(&t, "B"), lit(&t, "CC"), lit(&t, "DDD")), lit(&t, "E"));
    KT_EQ_INT(run(&t, p, "ABE", 0, 3), 0);
    KT_EQ_INT(run(&t, p, "xACCE", 0, 5), 1);
    KT_EQ_INT(run(&t, p, "ADDDE", 0, 5), 0);
    KT_EQ_INT(run(&t, p, "ADDE", 0, 4), -1);
    KT_EQ_INT(run(&t, p, "ADDD", 0, 4), -1);
    /* A!(B|C)D: one byte that is neither B nor C */
    uint32_t n = SEQ(&t, lit(&t, "A"), NALT(&t, 1, lit(&t, "B"), lit(&t, "C")), lit(&t, "D"));
    KT_EQ_INT(run(&t, n, "AxD", 0, 3), 0);
    KT_EQ_INT(run(&t, n, "ABD", 0, 3), -1);
    KT_EQ_INT(run(&t, n, "ACD", 0, 3), -1);
    KT_EQ_INT(run(&t, n, "ABDAzD", 0, 6), 3);
    /* A negated group that would need bytes past the end. */
    uint32_t n2 = SEQ(&t, lit(&t, "A"), NALT(&t, 2, lit(&t, "BB"), lit(&t, "CC")));
    KT_EQ_INT(run(&t, n2, "xA", 0, 2), -1);
    KT_EQ_INT(run(&t, n2, "xAb", 0, 3), -1);
    KT_EQ_INT(run(&t, n2, "xAbc", 0, 4), 1);
    KT_EQ_INT(run(&t, n2, "xABB", 0, 4), -1);
}

KT_TEST(test_engine_confirm__assertions_at_edges)
{
    tree t = {0};
    /* ClamAV (B) (L) (W) first / last in a part: zero-width, file edges count */
    uint32_t bnd = node(&t, KH_OP_ASSERT, KH_AS_BOUNDARY, KH_AM_BEFORE, 0);
    uint32_t w = SEQ(&t, bnd, lit(&t, "cat"), node(&t, KH_OP_ASSERT, KH_AS_BOUNDARY, KH_AM_AFTER, 0));
    KT_EQ_INT(run(&t, w, "cat", 0, 3), 0);      /* both file edges are boundaries */
    KT_EQ_INT(run(&t, w, "a cat.", 0, 6), -1);  /* '.' is a boundary before a match, not after */
    KT_EQ_INT(run(&t, w, "a cat-", 0, 6), 2);   /* nothing consumed: the match starts at "cat" */
    KT_EQ_INT(run(&t, w, "concat", 0, 6), -1);
    KT_EQ_INT(run(&t, w, "cats", 0, 4), -1);
    KT_EQ_INT(run(&t, w, "\ncat", 0, 4), -1);  /* LF is a boundary only after a match */
    uint32_t ln = SEQ(&t, lit(&t, "end"), node(&t, KH_OP_ASSERT, KH_AS_LINE, KH_AM_AFTER, 0));
    KT_EQ_INT(run(&t, ln, "the end", 0, 7), 4);
    KT_EQ_INT(run(&t, ln, "end\r\nx", 0, 6), 0);
    KT_EQ_INT(run(&t, ln, "end\rx", 0, 5), -1); /* a lone CR is no line end */
    KT_EQ_INT(run(&t, ln, "endx", 0, 4), -1);
    uint32_t na = SEQ(&t, lit(&t, "ab"), node(&t, KH_OP_ASSERT, KH_AS_NONALNUM, KH_AM_AFTER, 0));
    KT_EQ_INT(run(&t, na, "ab!", 0, 3), 0);
    KT_EQ_INT(run(&t, na, "ab", 0, 2), 0); /* the end of the file counts */
    KT_EQ_INT(run(&t, na, "ab1", 0, 3), -1);
    uint32_t nn = SEQ(&t, lit(&t, "ab"), node(&t, KH_OP_ASSERT, KH_AS_NONALNUM, KH_AM_AFTER, 1));
    KT_EQ_INT(run(&t, nn, "ab1", 0, 3), 0); /* negated: an alphanumeric byte, not the end */
    KT_EQ_INT(run(&t, nn, "ab", 0, 2), -1);
    /* in the middle, (L) consumes LF or CRLF; negated, one byte that starts neither */
    uint32_t lm = SEQ(&t, lit(&t, "a"), node(&t, KH_OP_ASSERT, KH_AS_LINE, KH_AM_CONSUME, 0), lit(&t, "b"));
    KT_EQ_INT(run(&t, lm, "a\nb", 0, 3), 0);
    KT_EQ_INT(run(&t, lm, "a\r\nb", 0, 4), 0);
    KT_EQ_INT(run(&t, lm, "a\rb", 0, 3), -1);
    uint32_t lmn = SEQ(&t, lit(&t, "a"), node(&t, KH_OP_ASSERT, KH_AS_LINE, KH_AM_CONSUME, 1), lit(&t, "b"));
    KT_EQ_INT(run(&t, lmn, "a\rb", 0, 3), 0);
    KT_EQ_INT(run(&t, lmn, "a\nb", 0, 3), -1);
    KT_EQ_INT(run(&t, lmn, "a\r\nb", 0, 4), -1);
    /* a look-behind byte (ClamAV x[1-2]...) and a look-ahead one (...[0-1]x) */
    uint32_t bh = SEQ(&t, node(&t, KH_OP_BEHIND, t.nodes[cls(&t, "X")].a, 1, 2), lit(&t, "cd"));
    KT_EQ_INT(run(&t, bh, "X.cd", 0, 4), 2);
    KT_EQ_INT(run(&t, bh, "X..cd", 0, 5), 3);
    KT_EQ_INT(run(&t, bh, "Xcd", 0, 3), -1);
    KT_EQ_INT(run(&t, bh, "X...cd", 0, 6), -1);
    uint32_t ah = SEQ(&t, lit(&t, "cd"), node(&t, KH_OP_AHEAD, t.nodes[cls(&t, "Y")].a, 0, 1));
    KT_EQ_INT(run(&t, ah, "cdY", 0, 3), 0);
    KT_EQ_INT(run(&t, ah, "cd.Y", 0, 4), 0);
    KT_EQ_INT(run(&t, ah, "cd..Y", 0, 5), -1);
    KT_EQ_INT(run(&t, ah, "cd", 0, 2), -1);
}

KT_TEST(test_engine_confirm__limits)
{
    /* A negated group of 1024 one-byte alternatives over 128 KiB would
     * examine 128 Mi positions: more than the budget, refused up front. */
    tree *t = calloc(1, sizeof(*t));
    uint32_t k[1024];
    for (int i = 0; i < 1024; i++)
        k[i] = lit(t, "\x01");
    uint32_t nal = group(t, KH_OP_NALT, 1, 1024, k);
    size_t len = 128u << 10;
    uint8_t *buf = malloc(len);
    memset(buf, 'a', len);
    kh_confirm cx;
    kh_confirm_init(&cx);
    kh_pset starts = {0};
    kh_pset_add(&starts, 0, len);
    int m = 0;
    KT_EQ_INT(kh_confirm_match(&cx, rules_of(t), nal, buf, len, &starts, &m), KH_ELIMIT);

    /* Leftmost-start search without a leading literal: a million tries at most. */
    memset(t, 0, sizeof(*t));
    uint32_t p = SEQ(t, cls(t, "a"), lit(t, "Z"));
    size_t big = 1100000;
    uint8_t *b2 = malloc(big);
    memset(b2, 'a', big);
    kh_pset_clear(&starts);
    kh_pset_add(&starts, 0, big);
    uint64_t at = 0;
    KT_EQ_INT(kh_confirm_first(&cx, rules_of(t), p, b2, big, &starts, &at), KH_ELIMIT);
    /* ... while the set-based check settles the same question at once. */
    m = -1;
    KT_EQ_INT(kh_confirm_match(&cx, rules_of(t), p, b2, big, &starts, &m), 0);
    KT_EQ_INT(m, 0);
    b2[big - 1] = 'Z';
    KT_EQ_INT(kh_confirm_match(&cx, rules_of(t), p, b2, big, &starts, &m), 0);
    KT_EQ_INT(m, 1);

    /* Nesting deeper than the matcher allows is refused, not overflowed. */
    memset(t, 0, sizeof(*t));
    uint32_t cur = lit(t, "q");
    for (int i = 0; i < 70; i++)
        cur = group(t, KH_OP_SEQ, 0, 1, &cur);
    kh_pset_clear(&starts);
    kh_pset_add(&starts, 0, 1);
    KT_EQ_INT(kh_confirm_match(&cx, rules_of(t), cur, (const uint8_t *)"q", 1, &starts, &m), KH_ELIMIT);
    /* The scratch sets are all returned after a failed call: a normal call still works. */
    memset(t, 0, sizeof(*t));
    uint32_t q = SEQ(t, lit(t, "q"), gap(t, 0, 1));
    KT_EQ_INT(kh_confirm_match(&cx, rules_of(t), q, (const uint8_t *)"q", 1, &starts, &m), 0);
    KT_EQ_INT(m, 1);
    KT_EQ_INT(cx.sp, 0);

    kh_pset_free(&starts);
    kh_confirm_dispose(&cx);
    free(b2);
    free(buf);
    free(t);
}

/* ---- .ndb offsets, end to end ------------------------------------------------ */

typedef struct off_row {
    const char *offset;
    const char *hex;
    const char *input;
    long long at; /* expected match offset; -1: no match */
} off_row;

/* "414243" is ABC; the inputs are 10 bytes unless noted. */
static const off_row off_rows[] = {
    /* n */
    {"0", "414243", "ABCxxxxxxx", 0},
    {"0", "414243", "xABCxxxxxx", -1},
    {"7", "414243", "xxxxxxxABC", 7},            /* ends on the last byte */
    {"8", "414243", "xxxxxxxABC", -1},
    {"8", "414243", "xxxxxxxxAB", -1},           /* would run past the end */
    {"10", "414243", "xxxxxxxABC", -1},          /* at the end */
    {"11", "414243", "xxxxxxxABC", -1},          /* beyond the end */
    /* clamscan reads offsets with atoi(): the low 32 bits count, all ones is "any" */
    {"4294967296", "414243", "ABCABCABCA", 0},
    {"4294967299", "414243", "ABCABCABCA", 3},
    {"18446744073709551615", "414243", "ABCABCABCA", 0},
    {"3", "414243", "ABCABCABCA", 3},            /* occurrences elsewhere do not count */
    {"2", "41??43", "xxAzCxxxxx", 2},            /* a wildcard pattern at an offset */
    {"3", "41??43", "xxAzCxxxxx", -1},
    /* n,m: start in [n, n+m] */
    {"2,3", "414243", "xxxxxABCxx", 5},
    {"2,3", "414243", "xxxxxxABCx", -1},
    {"2,3", "414243", "xxABCxxxxx", 2},
    {"2,3", "414243", "xABCxxxxxx", -1},
    {"5,100", "414243", "xxxxxxxABC", 7},        /* the range runs past the end */
    {"5,100", "414243", "xxxxxxxxAB", -1},
    {"18446744073709551615,4294967295", "414243", "ABCABCABCA", 0},
    {"0,4294967295", "414243", "xxxxxxxABC", 7},
    /* EOF-n: start at size - n */
    {"EOF-3", "414243", "xxxxxxxABC", 7},
    {"EOF-4", "414243", "xxxxxxxABC", -1},
    {"EOF-4", "414243", "xxxxxxABCx", 6},
    {"EOF-10", "414243", "ABCxxxxxxx", 0},       /* exactly the start of the buffer */
    {"EOF-11", "414243", "ABCxxxxxxx", -1},      /* before the start */
    {"EOF-2", "414243", "xxxxxxxxAB", -1},       /* too close to the end to fit */
    {"EOF-0", "414243", "xxxxxxxABC", -1},
    {"EOF-18446744073709551615", "414243", "ABCxxxxxxx", -1},
    /* EOF-n,m: start in [size - n, size - n + m] */
    {"EOF-6,2", "414243", "xxxxxxABCx", 6},
    {"EOF-6,2", "414243", "xxxxxABCxx", 5},
    {"EOF-6,2", "414243", "xxxxABCxxx", 4},
    {"EOF-6,2", "414243", "xxxABCxxxx", -1},
    {"EOF-3,50", "414243", "xxxxxxxABC", 7},     /* the shift runs past the end */
    /* size - n before the start of the buffer: the offset cannot be computed,
     * so the signature does not apply (as in ClamAV), even though the shift
     * would reach into the buffer. */
    {"EOF-12,2", "414243", "ABCxxxxxxx", -1},
};

KT_TEST(test_engine_confirm__ndb_offsets)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(off_rows); i++) {
        const off_row *r = &off_rows[i];
        char line[256];
        snprintf(line, sizeof(line), "Off.Row%zu:0:%s:%s\n", i, r->offset, r->hex);
        kh_rules *rules = kt_rules("ndb", line);
        if (!rules) {
            KT_FAIL_("row %zu: \"%s\" did not compile", i, line);
            continue;
        }
        size_t len = strlen(r->input);
        uint8_t *buf = malloc(len);
        memcpy(buf, r->input, len);
        kt_hits h;
        int rc = kt_scan(rules, buf, len, &h);
        long long got = h.n ? h.offsets[0] : -1;
        if (rc != 0 || h.n > 1 || got != r->at)
            KT_FAIL_("row %zu: offset %s, %s on \"%s\": got %lld (%d hits, rc %d), want %lld", i, r->offset,
                     r->hex, r->input, got, h.n, rc, r->at);
        free(buf);
        kh_rules_destroy(rules);
    }
}

/* The same offsets hold in files large enough to be scanned in streaming
 * mode, where the match must be confirmed after the whole file was read. */
KT_TEST(test_engine_confirm__ndb_offsets_streamed)
{
    kh_rules *rules = kt_rules("ndb",
                               "Abs.Hit:0:3000000:414243\n"
                               "Abs.Miss:0:3000001:414243\n"
                               "Eof.Hit:0:EOF-3:58595a\n"
                               "Eof.Miss:0:EOF-4:58595a\n"
                               "Range.Hit:0:2999990,10:414243\n");
    KT_CHECK(rules != NULL);
    if (!rules)
        return;
    char path[] = "/tmp/kt_confirm_XXXXXX";
    int fd = mkstemp(path);
    KT_CHECK(fd >= 0);
    size_t len = 5u << 20;
    uint8_t *buf = malloc(len);
    memset(buf, '.', len);
    memcpy(buf + 3000000, "ABC", 3);
    memcpy(buf + len - 3, "XYZ", 3);
    KT_EQ_INT(write(fd, buf, len), (long long)len);
    kh_scan_options so = KH_SCAN_OPTIONS_INIT;
    so.flags = KH_SCAN_ALLMATCH;
    so.stream_threshold = 1u << 20; /* force streaming */
    kh_scanner *s = NULL;
    kt_hits h;
    memset(&h, 0, sizeof(h));
    KT_EQ_INT(kh_scanner_create(&s, rules, &so), 0);
    KT_EQ_INT(kh_scanner_scan_fd(s, fd, kt_on_detect, NULL, &h), 0);
    int abs_hit = 0, eof_hit = 0, range_hit = 0, misses = 0;
    for (int i = 0; i < h.n; i++) {
        if (strcmp(h.names[i], "Abs.Hit") == 0) {
            abs_hit = 1;
            KT_EQ_INT(h.offsets[i], 3000000);
        } else if (strcmp(h.names[i], "Eof.Hit") == 0) {
            eof_hit = 1;
            KT_EQ_INT(h.offsets[i], (long long)len - 3);
        } else if (strcmp(h.names[i], "Range.Hit") == 0) {
            range_hit = 1;
            KT_EQ_INT(h.offsets[i], 3000000);
        } else {
            misses++;
            KT_FAIL_("unexpected detection %s", h.names[i]);
        }
    }
    KT_EQ_INT(abs_hit, 1);
    KT_EQ_INT(eof_hit, 1);
    KT_EQ_INT(range_hit, 1);
    KT_EQ_INT(misses, 0);
    kh_scanner_destroy(s);
    close(fd);
    unlink(path);
    free(buf);
    kh_rules_destroy(rules);
}

KT_MAIN({
    KT_CASE(test_engine_confirm__pset_merges_adjacent),
    KT_CASE(test_engine_confirm__literal_at_edges),
    KT_CASE(test_engine_confirm__gaps_and_classes_at_edges),
    KT_CASE(test_engine_confirm__alternatives),
    KT_CASE(test_engine_confirm__assertions_at_edges),
    KT_CASE(test_engine_confirm__limits),
    KT_CASE(test_engine_confirm__ndb_offsets),
    KT_CASE(test_engine_confirm__ndb_offsets_streamed),
})
