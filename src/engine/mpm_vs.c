/* Khiên — engine: the Vectorscan matcher backend.
 *
 * The only file that includes <hs.h>. Every pattern tree becomes one
 * Vectorscan expression (DOTALL, SINGLEMATCH: we need to know that a
 * pattern occurs, confirm.c finds where when that matters) and all of them
 * compile into one database, so a buffer is read once whatever the number
 * of signatures. The translation is exact for literal runs, classes,
 * alternatives and gaps up to KH_VS_EXACT_GAP; larger gaps become `.*`,
 * negated multi-byte alternatives `.{n}` and boundary assertions `.?`,
 * supersets that clear the pattern's `exact` flag so the caller confirms.
 * A pattern Vectorscan still rejects falls back to its longest literal, or,
 * with none, to being confirmed on every buffer ("unfiltered").
 *
 * A ClamAV pattern (a body signature or a logical signature's hex
 * subsignature) that is more than one literal (gaps, wildcards,
 * alternatives, nibbles) is searched for by its longest literal run only
 * (its "atom", at least KH_VS_ATOM_MIN bytes) and every hit is confirmed on
 * the tree: a database of 100,000 such signatures then compiles in seconds
 * into a few megabytes instead of a quarter of an hour into gigabytes (the
 * regex constructs are what Vectorscan pays for), and the literal matcher
 * scans faster. Patterns without such a run keep their full expression.
 *
 * Bytes are always written as \xHH: hs_compile_lit_multi rejects literals
 * starting with NUL (Vectorscan 5.4.9, hyperscan issue #388) and regex
 * escapes sidestep that. Both databases, block mode and the streaming one
 * for files above the streaming threshold, are built at compile time and
 * serialised together, so that a loaded set never compiles anything (a
 * streaming database built on first use cost every run that met a large
 * file a full compile: 2.3 s CPU and 130 MiB for 36,000 literals).
 */
#include "engine/mpm.h"
#include "platform/platform.h"

#include <hs.h>
#include <pthread.h>
#include <stdlib.h>

#define KH_VS_MAX_REPEAT 1024u
/* Gaps longer than this are written `.*` and confirmed. Vectorscan 5.4.9
 * loses matches of bounded gaps: `P.{200}DEF` is never reported when
 * compiled together with `P.{198}DEFG` (same prefix, a literal that extends
 * the other), for gaps from about 127 bytes (found by tests/compat; 20..100
 * were fine, `.*` and ranges were). Short gaps keep the prefilter exact. */
#define KH_VS_EXACT_GAP 32u
#define KH_VS_MAGIC 0x4b485635u /* "KHV5": block, MZ block, big block and stream databases, byte literals */
/* Shortest literal run searched for instead of a whole ClamAV pattern. */
#define KH_VS_ATOM_MIN 4u

/* Literals needed only in buffers that start with "MZ" (kh_mpm_lit.mz_only:
 * the strings of YARA rules gated on uint16(0) == 0x5a4d, half of
 * signature-base) go to a second block database, scanned only over such
 * buffers: the other files (nearly all of a Linux host's) are scanned by a
 * database of the rest, which Vectorscan runs faster. The streaming
 * database, for large files, holds everything. A private bit of an
 * expression's flags says which block database it is in. */
#define KH_VS_FLAG_MZ (1u << 30)
/* Likewise, literals needed only in buffers smaller than KH_VS_BIG (the
 * strings of rules gated on `filesize < N`, N up to 2 MiB) are left out
 * of a third block database, used instead of the first for larger
 * buffers: two thirds of the bytes of a Linux host's files are in files of
 * 2 MiB or more, which most rules of signature-base never consider. It is
 * built only when it leaves out at least one literal in KH_VS_BIG_GAIN. */
#define KH_VS_FLAG_SMALL (1u << 29)
#define KH_VS_BIG (2u << 20)
#define KH_VS_BIG_GAIN 8u
/* The block databases, in the order they are serialized. */
enum { KH_VS_ALL = -1, KH_VS_COMMON = 0, KH_VS_MZ = 1, KH_VS_BIGDB = 2, KH_VS_NGROUP = 3 };

/* A literal searched for by one byte, outside Vectorscan. Debian's
 * Vectorscan 5.4.9 misses matches of a pattern whose only fixed literal is
 * one byte once they lie 64 bytes or more into the data, on CPUs with
 * AVX-512 (its accelerated scan of that byte; measured with hs_scan alone:
 * "-" and "a[bc]d" are found at offset 63 and not at 64, "ab" and
 * "a.{0,3}b" everywhere). Such literals are few (yara warns about them)
 * and memchr is fast, so they never reach Vectorscan. */
typedef struct kh_vs_blit {
    uint32_t id;    /* reported id */
    uint32_t after; /* bytes of the literal after this one: the report is at the literal's end */
    uint32_t before; /* bytes of the literal before this one: none is reported before the data's start */
    uint8_t byte;
    uint8_t single;
    uint8_t pad[2];
} kh_vs_blit;

struct kh_mpm {
    /* Block databases by group: KH_VS_COMMON (every literal not mz_only),
     * KH_VS_MZ (the mz_only literals, or NULL), KH_VS_BIGDB (the common
     * one without the literals of small buffers, or NULL). */
    hs_database_t *blk[KH_VS_NGROUP];
    /* A loaded set's block databases live in one buffer of huge pages
     * (dbmem), not in Vectorscan's heap: 10-30 MB written at start-up
     * cost a page fault per 4 KiB otherwise. Freed with it, not with
     * hs_free_database. */
    kh_bigbuf dbmem;
    hs_database_t *stream;
    int stream_failed;
    /* A loaded set keeps its streaming database serialized (in the mapped
     * file) until a stream is opened: most runs never stream, and the copy
     * costs start-up time and memory. */
    const char *sbytes;
    size_t slen;
    pthread_mutex_t lock;
    uint32_t nexpr;
    char **expr;   /* per database entry */
    uint32_t *ids; /* pattern index of each entry */
    unsigned *flags; /* Vectorscan flags of each entry */
    uint32_t *unfilt;
    uint32_t nunfilt;
    kh_vs_blit *blit; /* sorted by byte */
    uint32_t nblit;
    uint32_t bfirst[256]; /* index in blit of the first entry for a byte, UINT32_MAX: none */
};

struct kh_mpm_scratch {
    hs_scratch_t *hs;
    int has_stream;
    uint8_t *bdone; /* per byte literal, for one block scan: a `single` one already reported */
};

/* A byte literal's report that lies past the data fed so far (the rest of
 * a masked atom is still to come in a stream). */
typedef struct kh_vs_pend {
    uint32_t id, idx;
    uint64_t end;
} kh_vs_pend;

typedef struct kh_vs_pendv {
    kh_vs_pend *v;
    size_t n, cap;
} kh_vs_pendv;

struct kh_mpm_stream {
    hs_stream_t *hs;
    const kh_mpm *m;
    uint64_t off;    /* bytes fed so far */
    uint8_t *bdone;  /* per byte literal: a `single` one already reported */
    kh_vs_pendv pend; /* byte literal reports waiting for their literal's end */
};

static int put_byte(kh_buf *o, unsigned v) { return kh_buf_printf(o, "\\x%02x", v & 0xff); }

/* A byte of a masked atom: exact, any (DOTALL), or the class of the bytes
 * that agree with it on the mask's bits. */
static int put_masked(kh_buf *o, unsigned byte, unsigned mask)
{
    if (mask == 0xff)
        return put_byte(o, byte);
    if (mask == 0)
        return kh_buf_putc(o, '.');
    int rc = kh_buf_putc(o, '[');
    for (unsigned v = 0; v < 256 && !rc; v++)
        if ((v & mask) == (byte & mask))
            rc = put_byte(o, v);
    return rc ? rc : kh_buf_putc(o, ']');
}

static int put_class(kh_buf *o, const uint8_t bits[32])
{
    unsigned cnt = 0;
    for (unsigned v = 0; v < 256; v++)
        cnt += (bits[v >> 3] >> (v & 7)) & 1;
    if (cnt == 256)
        return kh_buf_putc(o, '.');
    if (cnt == 1)
        for (unsigned v = 0; v < 256; v++)
            if ((bits[v >> 3] >> (v & 7)) & 1)
                return put_byte(o, v);
    int neg = cnt > 128;
    int rc = kh_buf_puts(o, neg ? "[^" : "[");
    for (unsigned v = 0; v < 256 && !rc;) {
        if ((((bits[v >> 3] >> (v & 7)) & 1) ^ neg) == 0) {
            v++;
            continue;
        }
        unsigned e = v;
        while (e + 1 < 256 && ((((bits[(e + 1) >> 3] >> ((e + 1) & 7)) & 1) ^ neg) == 1))
            e++;
        rc = put_byte(o, v);
        if (!rc && e > v && !(rc = kh_buf_putc(o, '-')))
            rc = put_byte(o, e);
        v = e + 1;
    }
    return rc ? rc : kh_buf_putc(o, ']');
}

static int emit(const kh_node *nodes, const uint32_t *kids, const uint8_t *bytes, uint32_t idx, kh_buf *o, int *exact,
                unsigned depth)
{
    if (depth > 64)
        return KH_ELIMIT;
    const kh_node *n = &nodes[idx];
    int rc = 0;
    switch (n->op) {
    case KH_OP_LIT:
        for (uint32_t i = 0; i < n->b && !rc; i++)
            rc = put_byte(o, bytes[n->a + i]);
        return rc;
    case KH_OP_CLASS:
        return put_class(o, bytes + n->a);
    case KH_OP_GAP:
        if (n->b == KH_INF) {
            if (n->a == 0)
                return kh_buf_puts(o, ".*");
            if (n->a <= KH_VS_EXACT_GAP)
                return kh_buf_printf(o, ".{%u,}", n->a);
            *exact = 0;
            return kh_buf_puts(o, ".*");
        }
        if (n->b > KH_VS_EXACT_GAP) {
            *exact = 0;
            return kh_buf_puts(o, ".*");
        }
        if (n->a == n->b)
            return n->a == 1 ? kh_buf_putc(o, '.') : kh_buf_printf(o, ".{%u}", n->a);
        return kh_buf_printf(o, ".{%u,%u}", n->a, n->b);
    case KH_OP_SEQ:
        for (uint32_t i = 0; i < n->b && !rc; i++)
            rc = emit(nodes, kids, bytes, kids[n->a + i], o, exact, depth + 1);
        return rc;
    case KH_OP_ALT:
        rc = kh_buf_puts(o, "(?:");
        for (uint32_t i = 0; i < n->b && !rc; i++) {
            if (i)
                rc = kh_buf_putc(o, '|');
            if (!rc)
                rc = emit(nodes, kids, bytes, kids[n->a + i], o, exact, depth + 1);
        }
        return rc ? rc : kh_buf_putc(o, ')');
    case KH_OP_NALT:
        *exact = 0;
        return n->c == 1 ? kh_buf_putc(o, '.') : kh_buf_printf(o, ".{%u}", n->c);
    case KH_OP_ASSERT:
        switch (n->a) {
        /* YARA assertions. Fragments that consume a neighbouring byte are
         * still exact for "does it occur" (the only question asked of the
         * matcher for YARA strings). */
        case KH_AS_START:
            return kh_buf_putc(o, '^');
        case KH_AS_END:
            return kh_buf_puts(o, "\\z");
        case KH_AS_WORDB:
        case KH_AS_NWORDB:
        case KH_AS_WORDB_W:
        case KH_AS_NWORDB_W:
            *exact = 0; /* yara counts the data's edges as boundaries: confirmed */
            return 0;
        case KH_AS_FW_BEFORE:
            return kh_buf_puts(o, "(?:^|[^0-9A-Za-z])");
        case KH_AS_FW_AFTER:
            *exact = 0; /* yara checks the end of the match it chose, not of any match (pike.c) */
            return kh_buf_puts(o, "(?:[^0-9A-Za-z]|\\z)");
        case KH_AS_FWW_BEFORE:
            return kh_buf_puts(o, "(?:^|^.|.[^\\x00]|[^0-9A-Za-z].)");
        case KH_AS_FWW_AFTER:
            *exact = 0;
            return kh_buf_puts(o, "(?:\\z|.\\z|.[^\\x00]|[^0-9A-Za-z].)");
        }
        if (n->b == KH_AM_CONSUME && n->a == KH_AS_LINE && !n->c)
            return kh_buf_puts(o, "(?:\\x0a|\\x0d\\x0a)");
        *exact = 0;
        if (n->b == KH_AM_BEFORE || n->b == KH_AM_AFTER)
            return 0; /* zero-width: confirmed on the tree */
        if (n->b == KH_AM_CONSUME)
            return kh_buf_puts(o, n->a == KH_AS_LINE ? "[^\\x0a]" : ".");
        return kh_buf_puts(o, ".?");
    case KH_OP_BEHIND:
    case KH_OP_AHEAD:
        *exact = 0; /* look-around: confirmed (see kh_mpm_vs_expr for the pattern's edges) */
        return 0;
    case KH_OP_REPEAT: {
        /* (?:x){min,max}; bounds above KH_VS_MAX_REPEAT become a looser superset */
        uint32_t lo = n->b, hi = n->c;
        if (lo > KH_VS_MAX_REPEAT)
            lo = KH_VS_MAX_REPEAT, *exact = 0;
        if (hi != KH_INF && hi > KH_VS_MAX_REPEAT)
            hi = KH_INF, *exact = 0;
        if ((rc = kh_buf_puts(o, "(?:")) || (rc = emit(nodes, kids, bytes, n->a, o, exact, depth + 1)) ||
            (rc = kh_buf_putc(o, ')')))
            return rc;
        if (hi == KH_INF)
            return lo == 0 ? kh_buf_putc(o, '*') : lo == 1 ? kh_buf_putc(o, '+') : kh_buf_printf(o, "{%u,}", lo);
        if (lo == hi)
            return lo == 1 ? 0 : kh_buf_printf(o, "{%u}", lo);
        return lo == 0 && hi == 1 ? kh_buf_putc(o, '?') : kh_buf_printf(o, "{%u,%u}", lo, hi);
    }
    }
    return KH_EINTERNAL;
}

/* `[set].{min,max}` or `.{min,max}[set]` for a look-behind/ahead byte. */
static int put_around(kh_buf *o, const kh_node *n, const uint8_t *bytes)
{
    int rc = n->op == KH_OP_BEHIND ? put_class(o, bytes + n->a) : 0;
    if (!rc && n->c)
        rc = n->b == n->c ? kh_buf_printf(o, ".{%u}", n->b) : kh_buf_printf(o, ".{%u,%u}", n->b, n->c);
    if (!rc && n->op == KH_OP_AHEAD)
        rc = put_class(o, bytes + n->a);
    return rc;
}

/* A gap that cuts a pattern into pieces for Vectorscan (see kh_mpm_vs_expr). */
static int long_gap(const kh_node *n) { return n->op == KH_OP_GAP && (n->b == KH_INF || n->b > KH_VS_EXACT_GAP); }

/* Fixed bytes in kids [s, e) of a sequence: how selective that piece is. */
static uint64_t piece_score(const kh_node *nodes, const uint32_t *kids, const kh_node *r, uint32_t s, uint32_t e)
{
    uint64_t score = 0;
    for (uint32_t i = s; i < e; i++) {
        const kh_node *k = &nodes[kids[r->a + i]];
        score += k->op == KH_OP_LIT ? 4u * k->b : (k->op == KH_OP_CLASS || k->op == KH_OP_ALT) ? 1u : 0u;
    }
    return score;
}

int kh_mpm_vs_expr(const kh_node *nodes, const uint32_t *kids, const uint8_t *bytes, uint32_t root, kh_buf *out,
                   int *exact)
{
    *exact = 1;
    const kh_node *r = &nodes[root];
    if (r->op != KH_OP_SEQ)
        return emit(nodes, kids, bytes, root, out, exact, 0);
    /* Vectorscan 5.4.9 misses matches of expressions with long gaps in
     * DOTALL mode, e.g. `ABC.*!.*pqrs` when `!` is 64 bytes or more after
     * `ABC` (`.{n,}`, `.{n}` and `[\x00-\xff]*` alike; short gaps are fine:
     * tests/compat and a fuzzer against Python's re). So a pattern with
     * gaps longer than KH_VS_EXACT_GAP at its top level is given to
     * Vectorscan as its most selective piece between them only, and
     * confirmed on the tree. */
    uint32_t from = 0, to = r->b, s = 0;
    uint64_t best = 0;
    int cut = 0;
    for (uint32_t i = 0; i <= r->b; i++) {
        if (i < r->b && !long_gap(&nodes[kids[r->a + i]]))
            continue;
        if (i < r->b)
            cut = 1;
        uint64_t sc = piece_score(nodes, kids, r, s, i);
        if (sc > best || (s == 0 && i == r->b)) {
            best = sc;
            from = s;
            to = i;
        }
        s = i + 1;
    }
    if (cut)
        *exact = 0;
    /* A look-behind byte that starts the pattern (ClamAV `x[n-m]...`) becomes
     * part of the expression: the same ends match, so it stays exact. One that
     * ends it is added too, to filter, but the match then ends later than the
     * tree's: confirmed, so that the reported offset is right. */
    int rc = 0;
    for (uint32_t i = from; i < to && !rc; i++) {
        const kh_node *k = &nodes[kids[r->a + i]];
        if ((k->op == KH_OP_BEHIND && i == 0) || (k->op == KH_OP_AHEAD && i + 1 == r->b)) {
            rc = put_around(out, k, bytes);
            if (k->op == KH_OP_AHEAD)
                *exact = 0;
        } else {
            rc = emit(nodes, kids, bytes, kids[r->a + i], out, exact, 1);
        }
    }
    return rc;
}

/* The longest literal that every match contains (top-level sequence only). */
static int longest_lit(const kh_node *nodes, const uint32_t *kids, uint32_t root, uint32_t *lit)
{
    const kh_node *n = &nodes[root];
    if (n->op == KH_OP_LIT) {
        *lit = root;
        return 1;
    }
    if (n->op != KH_OP_SEQ)
        return 0;
    uint32_t best = 0, bestlen = 0;
    for (uint32_t i = 0; i < n->b; i++) {
        const kh_node *k = &nodes[kids[n->a + i]];
        if (k->op == KH_OP_LIT && k->b > bestlen) {
            bestlen = k->b;
            best = kids[n->a + i];
        }
    }
    if (!bestlen)
        return 0;
    *lit = best;
    return 1;
}

/* The literal a ClamAV pattern is searched for by, when it is not a plain
 * literal itself: the longest literal child of its top-level sequence (every
 * match contains it), preferring, among equally long ones, the one with
 * fewer 0x00/0xff bytes (padding is common in files). Returns 0 when the
 * pattern should be searched for whole. */
static int clamav_atom(const kh_node *nodes, const uint32_t *kids, const uint8_t *bytes, uint32_t root, uint32_t *lit)
{
    const kh_node *n = &nodes[root];
    if (n->op != KH_OP_SEQ)
        return 0;
    uint32_t best = 0, bestlen = 0, bestpad = 0;
    for (uint32_t i = 0; i < n->b; i++) {
        const kh_node *k = &nodes[kids[n->a + i]];
        if (k->op != KH_OP_LIT)
            continue;
        uint32_t pad = 0;
        for (uint32_t j = 0; j < k->b; j++)
            pad += bytes[k->a + j] == 0x00 || bytes[k->a + j] == 0xff;
        if (k->b > bestlen || (k->b == bestlen && pad < bestpad)) {
            bestlen = k->b;
            bestpad = pad;
            best = kids[n->a + i];
        }
    }
    if (bestlen < KH_VS_ATOM_MIN || bestpad * 2 > bestlen)
        return 0;
    *lit = best;
    return 1;
}

/* Byte literals reporting id, one per byte value in vals. */
static int add_blit_vals(kh_mpm *m, const uint8_t *vals, unsigned nv, uint32_t id, uint32_t before, uint32_t after,
                         uint8_t single)
{
    kh_vs_blit *v = realloc(m->blit, (m->nblit + nv) * sizeof(*v));
    if (!v)
        return KH_ENOMEM;
    m->blit = v;
    for (unsigned k = 0; k < nv; k++) {
        kh_vs_blit *b = &v[m->nblit++];
        memset(b, 0, sizeof(*b));
        b->id = id;
        b->before = before;
        b->after = after;
        b->byte = vals[k];
        b->single = single;
    }
    return 0;
}

static unsigned popcount8(unsigned v) { return (unsigned)__builtin_popcount(v & 0xffu); }

/* Bytes that fill executables and text (zero and small integers, powers
 * of two, x86's commonest opcodes and ModRM bytes, ASCII space and the
 * commonest letters): a poor key for a literal searched by one byte. */
static int common_byte(unsigned c)
{
    static const uint8_t common[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0f, 0x10, 0x20, 0x24, 0x40, 0x44,
                                     0x45, 0x48, 0x4c, 0x74, 0x75, 0x80, 0x83, 0x85, 0x89, 0x8b, 0x90, 0xc0,
                                     0xcc, 0xe8, 0xff, 'a',  'e',  'i',  'n',  'o',  'r',  's',  't'};
    for (size_t i = 0; i < sizeof(common); i++)
        if (common[i] == c)
            return 1;
    return 0;
}

/* The byte a literal is searched for by outside Vectorscan (see
 * kh_vs_blit), or -1 when it has a fixed run of two bytes or more (or no
 * byte with at least 4 fixed bits): a plain one-byte literal, or a masked
 * one (a nibble or case-folded atom) whose fixed bytes are all isolated;
 * then its byte with the most fixed bits, a rare one rather than a common
 * one (01 in x86 code is everywhere), the last of those. */
static int byte_lit_index(const kh_mpm_lit *l)
{
    int run = 0, best = 0, at = -1;
    unsigned score = 0;
    for (uint32_t j = 0; j < l->len; j++) {
        unsigned mk = l->mask ? l->mask[j] : 0xff;
        if (mk == 0xff)
            run++;
        else
            run = 0;
        best = run > best ? run : best;
        unsigned sc = popcount8(mk) * 2 + !common_byte(l->p[j] & mk);
        if (sc >= score && popcount8(mk) >= 4) {
            score = sc;
            at = (int)j;
        }
    }
    return best >= 2 ? -1 : at;
}

/* A masked literal without two adjacent exact bytes, made into at most 16
 * literals that have some: an exact byte beside a nibble or a case pair
 * (`C6 0? E9` is `C6 00 E9` ... `C6 0F E9`). Gives the position to
 * enumerate (-1: none), the fewest values first, then beside a rare byte. */
static int pair_index(const kh_mpm_lit *l)
{
    if (!l->mask)
        return -1;
    int at = -1;
    unsigned best = 0;
    for (uint32_t j = 0; j < l->len; j++) {
        unsigned mk = l->mask[j];
        if (mk == 0xff || popcount8(mk) < 4)
            continue;
        for (int d = -1; d <= 1; d += 2) {
            int64_t k = (int64_t)j + d;
            if (k < 0 || k >= (int64_t)l->len || l->mask[k] != 0xff)
                continue;
            unsigned sc = popcount8(mk) * 2 + !common_byte(l->p[k]);
            if (sc > best) {
                best = sc;
                at = (int)j;
            }
        }
    }
    return at;
}

/* One entry per byte value the literal's chosen byte can take (its mask,
 * and case folding): at most 16. */
static int add_blit(kh_mpm *m, const kh_mpm_lit *l, uint32_t at, uint32_t id)
{
    uint8_t c = l->p[at], mk = l->mask ? l->mask[at] : 0xff;
    uint8_t vals[16];
    unsigned nv = 0;
    for (unsigned v = 0; v < 256; v++) {
        int ok = (v & mk) == (c & mk);
        if (!ok && l->caseless && ((v | 0x20) >= 'a' && (v | 0x20) <= 'z'))
            ok = ((v ^ 0x20) & mk) == (c & mk);
        if (ok) {
            if (nv == 16)
                return KH_ELIMIT;
            vals[nv++] = (uint8_t)v;
        }
    }
    return add_blit_vals(m, vals, nv, id, at, l->len - 1 - at, l->single);
}

static int cmp_blit(const void *a, const void *b)
{
    const kh_vs_blit *x = a, *y = b;
    return x->byte != y->byte ? (x->byte < y->byte ? -1 : 1) : (x->id < y->id ? -1 : x->id > y->id);
}

/* Sorts the byte literals and indexes them by byte, once, when the set is
 * made (sort) or loaded (a list that is not sorted is not ours). */
static int index_blits(kh_mpm *m, int sort)
{
    if (sort && m->nblit)
        qsort(m->blit, m->nblit, sizeof(*m->blit), cmp_blit);
    memset(m->bfirst, 0xff, sizeof(m->bfirst));
    for (uint32_t i = m->nblit; i-- > 0;) {
        if (i + 1 < m->nblit && m->blit[i].byte > m->blit[i + 1].byte)
            return KH_EFORMAT;
        m->bfirst[m->blit[i].byte] = i;
    }
    return 0;
}

/* The byte literals of one byte value at p: reports each (at the end of its
 * literal, never past the data: one ending beyond base + len is dropped in
 * a block (pend NULL: the literal cannot fit), kept in pend for the next
 * chunk of a stream). live[byte] counts the literals of a byte still to
 * report: a `single` one reported is done (in done, per literal). */
static int blits_at(const kh_mpm *m, const uint8_t *buf, const uint8_t *p, size_t len, uint64_t base, uint8_t *done,
                    kh_vs_pendv *pend, kh_mpm_hit_fn fn, void *ctx, uint32_t *live)
{
    for (uint32_t i = m->bfirst[*p]; i < m->nblit && m->blit[i].byte == *p; i++) {
        const kh_vs_blit *b = &m->blit[i];
        if (done && b->single && done[i])
            continue;
        if (base + (uint64_t)(p - buf) < b->before)
            continue; /* the literal would start before the data */
        uint64_t at = base + (uint64_t)(p - buf) + 1 + b->after;
        if (at > base + len) {
            if (!pend)
                continue;
            if (pend->n == pend->cap) {
                size_t nc = pend->cap ? 2 * pend->cap : 64;
                kh_vs_pend *v = nc <= (1u << 20) ? realloc(pend->v, nc * sizeof(*v)) : NULL;
                if (!v)
                    return KH_ENOMEM;
                pend->v = v;
                pend->cap = nc;
            }
            pend->v[pend->n++] = (kh_vs_pend){b->id, i, at};
            continue;
        }
        if (done && b->single) {
            done[i] = 1;
            live[b->byte]--;
        }
        if (fn(b->id, at, ctx))
            return KH_EUSER;
    }
    return 0;
}

/* Byte values followed with memchr, one pass each, rather than with a
 * lookup of every byte. */
#define KH_VS_BLIT_MEMCHR 8u

/* Reports the byte literals in buf (at offset base of the data). Only the
 * byte values with a literal still to report are looked for: a `single`
 * literal (a YARA string searched for whole, whose existence is all that
 * is asked) is done after its first report, and the scan ends when no
 * value is left; up to KH_VS_BLIT_MEMCHR values are followed with memchr
 * (the literals of unfiltered YARA strings are letters and punctuation
 * such as `e`, `$` or a backtick: a lookup of every byte of every file
 * cost 11 % of a signature-base scan), more with a byte table. */
static int scan_blits(const kh_mpm *m, const uint8_t *buf, size_t len, uint64_t base, uint8_t *done,
                      kh_vs_pendv *pend, kh_mpm_hit_fn fn, void *ctx)
{
    if (!m->nblit || !len)
        return 0;
    uint32_t live[256];
    memset(live, 0, sizeof(live));
    for (uint32_t i = 0; i < m->nblit; i++)
        live[m->blit[i].byte] += !(done && m->blit[i].single && done[i]);
    unsigned nlive = 0;
    for (unsigned c = 0; c < 256; c++)
        nlive += live[c] > 0;
    const uint8_t *p = buf, *end = buf + len;
    while (p < end && nlive > KH_VS_BLIT_MEMCHR) {
        if (live[*p]) {
            int rc = blits_at(m, buf, p, len, base, done, pend, fn, ctx, live);
            if (rc)
                return rc;
            nlive -= !live[*p];
        }
        p++;
    }
    /* the few values left: the next occurrence of each, nearest first */
    uint8_t key[256];
    const uint8_t *next[256];
    unsigned nk = 0;
    for (unsigned c = 0; c < 256 && p < end; c++)
        if (live[c] && (next[nk] = memchr(p, (int)c, (size_t)(end - p))) != NULL)
            key[nk++] = (uint8_t)c;
    while (nk) {
        unsigned k = 0;
        for (unsigned j = 1; j < nk; j++)
            if (next[j] < next[k])
                k = j;
        const uint8_t *q = next[k];
        int rc = blits_at(m, buf, q, len, base, done, pend, fn, ctx, live);
        if (rc)
            return rc;
        if (!live[key[k]] || q + 1 >= end || !(next[k] = memchr(q + 1, key[k], (size_t)(end - q - 1)))) {
            key[k] = key[nk - 1];
            next[k] = next[nk - 1];
            nk--;
        }
    }
    return 0;
}

/* Whether a pattern part would meet the Vectorscan defect kh_vs_blit
 * works around: no literal run of two bytes or more, but a one-byte literal
 * or a small class (a case pair is one caseless byte to Vectorscan). On 1,
 * vals[0..*nv) are the byte values of that key, which every match holds. */
static int risky_key(const kh_node *nodes, const uint32_t *kids, const uint8_t *bytes, uint32_t node,
                     uint8_t vals[16], unsigned *nv)
{
    const kh_node *n = &nodes[node];
    uint32_t key = UINT32_MAX;
    if (n->op == KH_OP_LIT || n->op == KH_OP_CLASS) {
        key = node;
    } else if (n->op == KH_OP_SEQ) {
        for (uint32_t i = 0; i < n->b; i++) {
            const kh_node *k = &nodes[kids[n->a + i]];
            if (k->op == KH_OP_LIT && k->b >= 2)
                return 0;
            if (key == UINT32_MAX && (k->op == KH_OP_LIT || k->op == KH_OP_CLASS))
                key = kids[n->a + i];
        }
    }
    if (key == UINT32_MAX)
        return 0;
    const kh_node *k = &nodes[key];
    if (k->op == KH_OP_LIT) {
        if (k->b >= 2 || k->b == 0)
            return 0;
        vals[0] = bytes[k->a];
        *nv = 1;
        return 1;
    }
    unsigned c = 0;
    for (unsigned v = 0; v < 256; v++)
        if ((bytes[k->a + (v >> 3)] >> (v & 7)) & 1) {
            if (c == 16)
                return 0; /* a wide class: not the defect's shape, and no cheap key */
            vals[c++] = (uint8_t)v;
        }
    *nv = c;
    return c > 0;
}

static void free_exprs(kh_mpm *m)
{
    if (m->expr)
        for (uint32_t i = 0; i < m->nexpr; i++)
            free(m->expr[i]);
    free(m->expr);
    free(m->ids);
    free(m->flags);
    free(m->unfilt);
}

static void vs_destroy(kh_mpm *m)
{
    if (!m)
        return;
    if (m->dbmem.data)
        kh_bigbuf_free(&m->dbmem);
    else
        for (int g = 0; g < KH_VS_NGROUP; g++)
            hs_free_database(m->blk[g]);
    hs_free_database(m->stream);
    free_exprs(m);
    free(m->blit);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Is expression i in the database of `group` (KH_VS_ALL: every expression)? */
static int in_group(const kh_mpm *m, uint32_t i, int group)
{
    if (group == KH_VS_ALL)
        return 1;
    int mz = m->flags && (m->flags[i] & KH_VS_FLAG_MZ), small = m->flags && (m->flags[i] & KH_VS_FLAG_SMALL);
    return group == KH_VS_MZ ? mz : group == KH_VS_BIGDB ? !mz && !small : !mz;
}

static uint32_t group_size(const kh_mpm *m, int group)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->nexpr; i++)
        n += (uint32_t)in_group(m, i, group);
    return n;
}

/* Compiles the expressions of one group; on a syntax error, *bad_out is
 * the index (in m->expr) of the expression Vectorscan refused. */
static int build_db(kh_mpm *m, unsigned mode, int group, hs_database_t **db, kh_buf *err, uint32_t *bad_out)
{
    size_t n = m->nexpr ? m->nexpr : 1;
    unsigned *flags = malloc(sizeof(unsigned) * n);
    uint32_t *ids = malloc(sizeof(uint32_t) * n), *at = malloc(sizeof(uint32_t) * n);
    const char **exprs = malloc(sizeof(char *) * n);
    if (!flags || !ids || !at || !exprs) {
        free(flags);
        free(ids);
        free(at);
        free(exprs);
        return KH_ENOMEM;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->nexpr; i++) {
        if (!in_group(m, i, group))
            continue;
        flags[k] = m->flags ? m->flags[i] & ~(KH_VS_FLAG_MZ | KH_VS_FLAG_SMALL) : HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
        ids[k] = m->ids[i];
        exprs[k] = m->expr[i];
        at[k++] = i;
    }
    hs_compile_error_t *ce = NULL;
    hs_platform_info_t plat;
    hs_populate_platform(&plat);
    hs_error_t e = hs_compile_multi(exprs, flags, ids, k, mode, &plat, db, &ce);
    free(flags);
    free(ids);
    free(exprs);
    if (e == HS_SUCCESS) {
        free(at);
        return 0;
    }
    int rc = KH_EINTERNAL;
    if (ce) {
        if (ce->expression >= 0 && (uint32_t)ce->expression < k && bad_out) {
            *bad_out = at[ce->expression];
            rc = KH_ESYNTAX;
        }
        if (err)
            kh_buf_printf(err, "Vectorscan: %s", ce->message);
        hs_free_compile_error(ce);
    }
    free(at);
    return rc;
}

/* Adds one expression for pattern `pi` (the subtree `node`). */
static int add_expr(kh_mpm *m, uint32_t *cap, uint32_t **sub, uint32_t pi, uint32_t node, char *expr, unsigned flags)
{
    if (m->nexpr == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 1024;
        char **e = realloc(m->expr, ncap * sizeof(char *));
        if (e)
            m->expr = e;
        uint32_t *ids = e ? realloc(m->ids, ncap * sizeof(uint32_t)) : NULL;
        if (ids)
            m->ids = ids;
        unsigned *fl = ids ? realloc(m->flags, ncap * sizeof(unsigned)) : NULL;
        if (fl)
            m->flags = fl;
        uint32_t *sb = fl ? realloc(*sub, ncap * sizeof(uint32_t)) : NULL;
        if (!sb) {
            free(expr);
            return KH_ENOMEM;
        }
        *sub = sb;
        *cap = ncap;
    }
    m->expr[m->nexpr] = expr;
    m->ids[m->nexpr] = pi;
    m->flags[m->nexpr] = flags;
    (*sub)[m->nexpr] = node;
    m->nexpr++;
    return 0;
}

/* Removes expression k (order does not matter to Vectorscan). */
static void drop_expr(kh_mpm *m, uint32_t *sub, uint32_t k)
{
    free(m->expr[k]);
    m->nexpr--;
    m->expr[k] = m->expr[m->nexpr];
    m->ids[k] = m->ids[m->nexpr];
    m->flags[k] = m->flags[m->nexpr];
    sub[k] = sub[m->nexpr];
}

static int vs_compile(kh_mpm **out, kh_mpm_input *in, kh_buf *err)
{
    kh_mpm *m = calloc(1, sizeof(*m));
    if (!m)
        return KH_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    int rc = 0;
    uint32_t cap = 0, *sub = NULL;
    m->unfilt = calloc(in->npats ? in->npats : 1, sizeof(uint32_t));
    if (!m->unfilt) {
        rc = KH_ENOMEM;
        goto fail;
    }
    kh_buf o = KH_BUF_INIT(64u << 20);
    for (uint32_t i = 0; i < in->npats && !rc; i++) {
        if (in->pats[i].kind != KH_PK_CLAMAV && in->pats[i].kind != KH_PK_LSUB &&
            !(in->pats[i].kind == KH_PK_YSTRING && in->pats[i].pad))
            continue; /* YARA strings are found through their atoms (in->lits); condition regexes by the evaluator */
        /* A pattern of many alternatives (yara xor, base64, nocase variants)
         * becomes one expression per alternative, all reporting the pattern:
         * Vectorscan takes thousands of small expressions much better than
         * one huge alternation. */
        const kh_node *root = &in->nodes[in->pats[i].root];
        uint32_t nparts = root->op == KH_OP_ALT && root->b > 1 && root->b <= 4096 ? root->b : 1;
        int exact_all = 1, failed = 0;
        uint32_t first_expr = m->nexpr;
        for (uint32_t k = 0; k < nparts && !rc; k++) {
            uint32_t node = nparts > 1 ? in->kids[root->a + k] : in->pats[i].root;
            int exact;
            if (kh_ir_dead_anchor(in->nodes, in->kids, node))
                continue; /* this part can never match: nothing to search for */
            kh_buf_clear(&o);
            uint32_t atom;
            int erc = 0;
            if (nparts == 1 && (in->pats[i].kind == KH_PK_CLAMAV || in->pats[i].kind == KH_PK_LSUB) &&
                clamav_atom(in->nodes, in->kids, in->bytes, node, &atom)) {
                exact = 0;
                for (uint32_t j = 0; j < in->nodes[atom].b && !erc; j++)
                    erc = put_byte(&o, in->bytes[in->nodes[atom].a + j]);
            } else {
                uint8_t vals[16];
                unsigned nv = 0;
                if (risky_key(in->nodes, in->kids, in->bytes, node, vals, &nv)) {
                    /* found by its key byte, confirmed on the tree (kh_vs_blit) */
                    exact_all = 0;
                    rc = add_blit_vals(m, vals, nv, i, 0, 0, 1);
                    continue;
                }
                erc = kh_mpm_vs_expr(in->nodes, in->kids, in->bytes, node, &o, &exact);
            }
            if (erc == KH_ELIMIT) {
                uint32_t lit;
                exact = 0;
                kh_buf_clear(&o);
                if (!longest_lit(in->nodes, in->kids, node, &lit)) {
                    failed = 1;
                    break;
                }
                for (uint32_t j = 0; j < in->nodes[lit].b; j++)
                    put_byte(&o, in->bytes[in->nodes[lit].a + j]);
            } else if (erc) {
                rc = erc;
                break;
            }
            exact_all &= exact;
            char *e = kh_buf_detach(&o, NULL);
            kh_buf_init(&o, 64u << 20);
            if (!e || (rc = add_expr(m, &cap, &sub, i, node, e, HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH)))
                rc = rc ? rc : KH_ENOMEM;
        }
        if (rc)
            break;
        if (failed) {
            while (m->nexpr > first_expr)
                drop_expr(m, sub, m->nexpr - 1);
            in->pats[i].exact = 0;
            m->unfilt[m->nunfilt++] = i;
            continue;
        }
        in->pats[i].exact = (uint8_t)exact_all;
    }
    /* Plain literals (YARA atoms): ids after the patterns. */
    for (uint32_t i = 0; i < in->nlits && !rc; i++) {
        const kh_mpm_lit *l = &in->lits[i];
        if (!l->len)
            continue; /* reported through another literal (an empty one is never searched) */
        int bi = byte_lit_index(l), pi = bi >= 0 ? pair_index(l) : -1;
        if (bi >= 0 && pi < 0) {
            rc = add_blit(m, l, (uint32_t)bi, in->npats + i);
            if (rc != KH_ELIMIT)
                continue;
            rc = 0; /* more than 16 values: Vectorscan after all */
        }
        unsigned fl = HS_FLAG_DOTALL | (l->caseless ? HS_FLAG_CASELESS : 0) | (l->single ? HS_FLAG_SINGLEMATCH : 0) |
                      (l->mz_only ? KH_VS_FLAG_MZ : 0) | (l->max_len && l->max_len < KH_VS_BIG ? KH_VS_FLAG_SMALL : 0);
        /* one expression, or one per value of the enumerated byte */
        for (unsigned v = 0; v < 256 && !rc; v++) {
            if (pi >= 0 ? (v & l->mask[pi]) != (l->p[pi] & l->mask[pi]) : v > 0)
                continue;
            kh_buf_clear(&o);
            for (uint32_t j = 0; j < l->len && !rc; j++)
                rc = (int)j == pi ? put_byte(&o, v) : l->mask ? put_masked(&o, l->p[j], l->mask[j]) : put_byte(&o, l->p[j]);
            char *e = rc ? NULL : kh_buf_detach(&o, NULL);
            kh_buf_init(&o, 64u << 20);
            if (!rc && (!e || (rc = add_expr(m, &cap, &sub, in->npats + i, UINT32_MAX, e, fl))))
                rc = rc ? rc : KH_ENOMEM;
        }
    }
    kh_buf_dispose(&o);
    if (rc)
        goto fail;
    /* Compile; an expression Vectorscan rejects falls back to a literal of it,
     * or makes its pattern unfiltered, and the set is compiled again. One it
     * proves can never match (yara's /a$b/) is simply dropped. */
    for (unsigned tries = 0, group = 0; group < KH_VS_NGROUP; tries++) {
        uint32_t n = group_size(m, (int)group), nc = group == KH_VS_BIGDB ? group_size(m, KH_VS_COMMON) : 0;
        if (!n || (group == KH_VS_BIGDB && n > nc - nc / KH_VS_BIG_GAIN)) {
            group++;
            continue;
        }
        uint32_t bad = UINT32_MAX;
        kh_buf e2 = KH_BUF_INIT(4096);
        rc = build_db(m, HS_MODE_BLOCK, (int)group, &m->blk[group], &e2, &bad);
        if (rc == 0) {
            kh_buf_dispose(&e2);
            group++;
            continue;
        }
        if (rc != KH_ESYNTAX || bad >= m->nexpr || tries > m->nexpr + in->npats) {
            if (err)
                kh_buf_puts(err, e2.data ? e2.data : "Vectorscan compile failed");
            kh_buf_dispose(&e2);
            goto fail;
        }
        int never = e2.data && strstr(e2.data, "never match") != NULL;
        kh_buf_dispose(&e2);
        uint32_t pi = m->ids[bad], lit, node = sub[bad];
        if (pi >= in->npats) {
            /* a plain literal Vectorscan refuses: keep going without it (never expected) */
            drop_expr(m, sub, bad);
            rc = 0;
            continue;
        }
        kh_pat *p = &in->pats[pi];
        if (never) {
            drop_expr(m, sub, bad);
            rc = 0;
            continue;
        }
        p->exact = 0;
        kh_buf l = KH_BUF_INIT(0);
        int is_lit = in->nodes[node].op == KH_OP_LIT;
        if (!is_lit && longest_lit(in->nodes, in->kids, node, &lit)) {
            for (uint32_t j = 0; j < in->nodes[lit].b; j++)
                put_byte(&l, in->bytes[in->nodes[lit].a + j]);
            free(m->expr[bad]);
            m->expr[bad] = kh_buf_detach(&l, NULL);
        } else {
            kh_buf_dispose(&l);
            /* the whole pattern becomes unfiltered: drop all its expressions */
            for (uint32_t k = m->nexpr; k-- > 0;)
                if (m->ids[k] == pi)
                    drop_expr(m, sub, k);
            m->unfilt[m->nunfilt++] = pi;
        }
        rc = 0;
    }
    free(sub);
    /* The streaming database, from the same expressions. Vectorscan may
     * refuse some in stream mode only: large files then fail with an error
     * (as before), small ones are unaffected. */
    if (m->nexpr && build_db(m, HS_MODE_STREAM, KH_VS_ALL, &m->stream, NULL, NULL))
        m->stream_failed = 1;
    index_blits(m, 1);
    /* The expressions are not needed any more (nexpr stays: it says whether
     * the databases have entries). */
    for (uint32_t i = 0; i < m->nexpr; i++)
        free(m->expr[i]);
    free(m->expr);
    free(m->ids);
    free(m->flags);
    m->expr = NULL;
    m->ids = NULL;
    m->flags = NULL;
    *out = m;
    return 0;
fail:
    free(sub);
    vs_destroy(m);
    return rc ? rc : KH_EINTERNAL;
}

/* Layout: u32 magic, nexpr, nunfilt, stream_failed; for each block
 * database (common, MZ, big buffers), u64 length and the database; u64
 * stream length, the stream database; nunfilt u32 pattern indices; u32
 * nblit, the byte literals. The expressions are not kept: nothing is
 * compiled after a load. */
static int put_db(kh_buf *out, const hs_database_t *db)
{
    char *bytes = NULL;
    size_t len = 0;
    if (db && hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return KH_EINTERNAL;
    uint64_t l64 = len;
    int rc = kh_buf_append(out, &l64, 8);
    if (!rc && len)
        rc = kh_buf_append(out, bytes, len);
    free(bytes);
    return rc;
}

static int vs_serialize(const kh_mpm *m, kh_buf *out)
{
    uint32_t hdr[4] = {KH_VS_MAGIC, m->nexpr, m->nunfilt,
                       (uint32_t)(m->stream_failed || (m->nexpr && !m->stream && !m->sbytes))};
    int rc = kh_buf_append(out, hdr, sizeof(hdr));
    for (int g = 0; g < KH_VS_NGROUP && !rc; g++)
        rc = put_db(out, m->blk[g]);
    if (!rc && m->stream) {
        rc = put_db(out, m->stream);
    } else if (!rc) {
        /* a loaded set's streaming database, still serialized */
        uint64_t s64 = m->sbytes && !m->stream_failed ? m->slen : 0;
        rc = kh_buf_append(out, &s64, 8);
        if (!rc && s64)
            rc = kh_buf_append(out, m->sbytes, m->slen);
    }
    if (!rc && m->nunfilt)
        rc = kh_buf_append(out, m->unfilt, m->nunfilt * 4u);
    if (!rc)
        rc = kh_buf_append(out, &m->nblit, 4);
    if (!rc && m->nblit)
        rc = kh_buf_append(out, m->blit, m->nblit * sizeof(kh_vs_blit));
    return rc;
}

/* The u64 length at *p and the bytes after it (within end): *bytes and
 * *len, *p moved past them. */
static int take_bytes(const uint8_t **p, const uint8_t *end, const uint8_t **bytes, uint64_t *len)
{
    if (end - *p < 8)
        return KH_EFORMAT;
    memcpy(len, *p, 8);
    *p += 8;
    if (*len > (uint64_t)(end - *p))
        return KH_EFORMAT;
    *bytes = *p;
    *p += *len;
    return 0;
}

static int vs_deserialize(kh_mpm **out, const void *data, size_t len)
{
    const uint8_t *p = data, *end = p + len, *bytes;
    uint32_t hdr[4];
    uint64_t blen;
    if (len < 16)
        return KH_EFORMAT;
    memcpy(hdr, p, 16);
    p += 16;
    if (hdr[0] != KH_VS_MAGIC)
        return KH_EFORMAT;
    kh_mpm *m = calloc(1, sizeof(*m));
    if (!m)
        return KH_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    int rc = KH_EFORMAT;
    /* The block databases, each at a 64-byte boundary of one buffer
     * (hs_deserialize_database_at checks each one's CRC-32C). */
    const uint8_t *dbb[KH_VS_NGROUP];
    uint64_t dbl[KH_VS_NGROUP];
    size_t at[KH_VS_NGROUP], total = 0;
    for (int g = 0; g < KH_VS_NGROUP; g++) {
        size_t need = 0;
        if (take_bytes(&p, end, &dbb[g], &dbl[g]) ||
            (dbl[g] && hs_serialized_database_size((const char *)dbb[g], (size_t)dbl[g], &need) != HS_SUCCESS) ||
            need > ((size_t)1 << 40))
            goto fail;
        at[g] = total;
        total += (need + 63) & ~(size_t)63;
    }
    if (total && kh_bigbuf_reserve(&m->dbmem, total)) {
        rc = KH_ENOMEM;
        goto fail;
    }
    for (int g = 0; g < KH_VS_NGROUP; g++) {
        if (!dbl[g])
            continue;
        hs_database_t *db = (hs_database_t *)(void *)(m->dbmem.data + at[g]);
        if (hs_deserialize_database_at((const char *)dbb[g], (size_t)dbl[g], db) != HS_SUCCESS)
            goto fail;
        m->blk[g] = db;
    }
    size_t ssize;
    if (take_bytes(&p, end, &bytes, &blen) ||
        (blen && hs_serialized_database_size((const char *)bytes, (size_t)blen, &ssize) != HS_SUCCESS))
        goto fail;
    if (blen) {
        m->sbytes = (const char *)bytes;
        m->slen = (size_t)blen;
    }
    m->stream_failed = hdr[3] != 0;
    if (hdr[2] > (uint64_t)(end - p) / 4 || (uint64_t)(end - p) < 4ull * hdr[2] + 4)
        goto fail;
    m->unfilt = malloc(4u * (hdr[2] + 1));
    if (!m->unfilt) {
        rc = KH_ENOMEM;
        goto fail;
    }
    memcpy(m->unfilt, p, 4u * hdr[2]);
    m->nunfilt = hdr[2];
    p += 4u * hdr[2];
    uint32_t nb;
    memcpy(&nb, p, 4);
    p += 4;
    if (nb > (uint64_t)(end - p) / sizeof(kh_vs_blit) || (uint64_t)(end - p) != (uint64_t)nb * sizeof(kh_vs_blit))
        goto fail;
    if (nb) {
        if (!(m->blit = malloc(nb * sizeof(kh_vs_blit)))) {
            rc = KH_ENOMEM;
            goto fail;
        }
        memcpy(m->blit, p, nb * sizeof(kh_vs_blit));
        m->nblit = nb;
    }
    if (index_blits(m, 0))
        goto fail;
    m->nexpr = hdr[1];
    if ((m->nexpr && !m->blk[KH_VS_COMMON] && !m->blk[KH_VS_MZ]) || (m->nexpr && !m->sbytes && !m->stream_failed))
        goto fail;
    *out = m;
    return 0;
fail:
    vs_destroy(m);
    return rc;
}

static int vs_scratch_create(kh_mpm_scratch **out, const kh_mpm *m)
{
    kh_mpm_scratch *s = calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    int bad = m->nblit && !(s->bdone = malloc(m->nblit));
    for (int g = 0; g < KH_VS_NGROUP && !bad; g++)
        bad = m->blk[g] && hs_alloc_scratch(m->blk[g], &s->hs) != HS_SUCCESS;
    if (bad) {
        free(s->bdone);
        hs_free_scratch(s->hs);
        free(s);
        return KH_ENOMEM;
    }
    *out = s;
    return 0;
}

static void vs_scratch_destroy(kh_mpm_scratch *s)
{
    if (!s)
        return;
    hs_free_scratch(s->hs);
    free(s->bdone);
    free(s);
}

typedef struct hitctx {
    kh_mpm_hit_fn fn;
    void *ctx;
} hitctx;

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
    KH_UNUSED(from);
    KH_UNUSED(flags);
    hitctx *h = ctx;
    return h->fn(id, to, h->ctx);
}

static int report_unfiltered(const kh_mpm *m, uint64_t len, kh_mpm_hit_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < m->nunfilt; i++)
        if (fn(m->unfilt[i], len, ctx))
            return KH_EUSER;
    return 0;
}

static int vs_scan(const kh_mpm *m, kh_mpm_scratch *s, const uint8_t *buf, size_t len, kh_mpm_hit_fn fn, void *ctx)
{
    if (report_unfiltered(m, len, fn, ctx))
        return KH_EUSER;
    if (m->nblit) {
        memset(s->bdone, 0, m->nblit);
        int brc = scan_blits(m, buf, len, 0, s->bdone, NULL, fn, ctx);
        if (brc)
            return brc;
    }
    hitctx h = {fn, ctx};
    /* hs_scan takes an unsigned int length: scan larger buffers through a stream. */
    if (len > UINT32_MAX)
        return KH_ELIMIT;
    /* the common literals (without those of small buffers in a large one),
     * then in an "MZ" buffer the mz_only ones */
    const hs_database_t *dbs[2] = {
        len >= KH_VS_BIG && m->blk[KH_VS_BIGDB] ? m->blk[KH_VS_BIGDB] : m->blk[KH_VS_COMMON],
        buf && len >= 2 && buf[0] == 'M' && buf[1] == 'Z' ? m->blk[KH_VS_MZ] : NULL};
    for (int k = 0; k < 2; k++) {
        const hs_database_t *db = dbs[k];
        if (!db)
            continue;
        /* an empty object may come without a buffer; hs_scan refuses NULL data */
        hs_error_t e = hs_scan(db, buf ? (const char *)buf : "", (unsigned)len, 0, s->hs, on_match, &h);
        if (e == HS_SCAN_TERMINATED)
            return KH_EUSER;
        if (e != HS_SUCCESS)
            return KH_EINTERNAL;
    }
    return 0;
}

static int vs_stream_open(kh_mpm *m, kh_mpm_scratch *s, kh_mpm_stream **out)
{
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    if (!m->stream && !m->stream_failed && m->nexpr && m->sbytes) {
        if (hs_deserialize_database(m->sbytes, m->slen, &m->stream) != HS_SUCCESS)
            m->stream_failed = 1;
    }
    if (!m->stream && !m->stream_failed && m->nexpr && m->expr) {
        if (build_db(m, HS_MODE_STREAM, KH_VS_ALL, &m->stream, NULL, NULL))
            m->stream_failed = 1;
    }
    if (m->nexpr && !m->stream)
        rc = KH_EINTERNAL;
    pthread_mutex_unlock(&m->lock);
    if (rc)
        return rc;
    kh_mpm_stream *st = calloc(1, sizeof(*st));
    if (!st)
        return KH_ENOMEM;
    st->m = m;
    if (m->nblit && !(st->bdone = calloc(m->nblit, 1))) {
        free(st);
        return KH_ENOMEM;
    }
    if (m->stream) {
        if (!s->has_stream) {
            if (hs_alloc_scratch(m->stream, &s->hs) != HS_SUCCESS) {
                free(st->bdone);
                free(st);
                return KH_ENOMEM;
            }
            s->has_stream = 1;
        }
        if (hs_open_stream(m->stream, 0, &st->hs) != HS_SUCCESS) {
            free(st->bdone);
            free(st);
            return KH_ENOMEM;
        }
    }
    *out = st;
    return 0;
}

static int vs_stream_feed(kh_mpm_stream *st, kh_mpm_scratch *s, const uint8_t *buf, size_t len, kh_mpm_hit_fn fn,
                          void *ctx)
{
    /* reports of the earlier chunks whose literal ends in this one (or later) */
    size_t keep = 0;
    for (size_t i = 0; i < st->pend.n; i++) {
        kh_vs_pend pv = st->pend.v[i];
        if (pv.end > st->off + len) {
            st->pend.v[keep++] = pv;
            continue;
        }
        if (st->bdone && st->m->blit[pv.idx].single) {
            if (st->bdone[pv.idx])
                continue;
            st->bdone[pv.idx] = 1;
        }
        if (fn(pv.id, pv.end, ctx)) {
            st->pend.n = keep;
            return KH_EUSER;
        }
    }
    st->pend.n = keep;
    int brc = scan_blits(st->m, buf, len, st->off, st->bdone, &st->pend, fn, ctx);
    st->off += len;
    if (brc)
        return brc;
    if (!st->hs)
        return 0;
    hitctx h = {fn, ctx};
    while (len) {
        unsigned n = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        hs_error_t e = hs_scan_stream(st->hs, (const char *)buf, n, 0, s->hs, on_match, &h);
        if (e == HS_SCAN_TERMINATED)
            return KH_EUSER;
        if (e != HS_SUCCESS)
            return KH_EINTERNAL;
        buf += n;
        len -= n;
    }
    return 0;
}

static int vs_stream_close(kh_mpm_stream *st, kh_mpm_scratch *s, kh_mpm_hit_fn fn, void *ctx)
{
    if (!st)
        return 0;
    int rc = 0;
    hitctx h = {fn, ctx};
    if (st->hs) {
        hs_error_t e = hs_close_stream(st->hs, s->hs, fn ? on_match : NULL, &h);
        rc = e == HS_SCAN_TERMINATED ? KH_EUSER : e == HS_SUCCESS ? 0 : KH_EINTERNAL;
    }
    if (!rc && fn)
        rc = report_unfiltered(st->m, 0, fn, ctx);
    free(st->bdone);
    free(st->pend.v);
    free(st);
    return rc;
}

static size_t vs_size(const kh_mpm *m)
{
    size_t total = m->nblit * sizeof(kh_vs_blit), n;
    for (int g = 0; g < KH_VS_NGROUP; g++)
        if (m->blk[g] && hs_database_size(m->blk[g], &n) == HS_SUCCESS)
            total += n;
    if (m->stream && hs_database_size(m->stream, &n) == HS_SUCCESS)
        total += n;
    else if (!m->stream && m->sbytes && hs_serialized_database_size(m->sbytes, m->slen, &n) == HS_SUCCESS)
        total += n;
    return total;
}

const kh_mpm_ops kh_mpm_vs = {
    "vectorscan",   vs_compile,     vs_serialize,   vs_deserialize,  vs_destroy, vs_scratch_create,
    vs_scratch_destroy, vs_scan,    vs_stream_open, vs_stream_feed, vs_stream_close, vs_size,
};
