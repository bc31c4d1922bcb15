/* Khiên — engine: the one rule representation both front ends lower into.
 *
 * A compiled set (struct kh_rules) is a handful of flat arrays, so that it
 * can live either on the heap (just built) or inside a memory-mapped cache
 * file (loaded) with the same code reading it:
 *
 *   nodes[]  pattern syntax trees (kh_node), children listed in kids[]
 *   bytes[]  literal bytes and 32-byte class bitmaps the nodes point into
 *   strs[]   NUL-terminated names (signatures, sources) addressed by offset
 *   pats[]   patterns: a root node, an offset constraint, length bounds
 *   sigs[]   signatures: name, source, kind and the pattern they test
 *   hash tables, one per algorithm and role (detect / allow), sorted
 *
 * A pattern's tree is the exact meaning; the matcher backend (mpm.h) turns
 * it into something fast that finds every true match and possibly more;
 * confirm.c checks candidates against the tree when the backend says its
 * translation was not exact or an offset constraint applies.
 */
#ifndef KH_ENGINE_IR_H
#define KH_ENGINE_IR_H

#include <stdint.h>

#include "khien/rules.h"
#include "khien/scan.h"
#include "util/util.h"

#define KH_INF UINT32_MAX

/* Limits on what a database may ask for. */
#define KH_MAX_PATTERN_NODES 4096u /* nodes in one pattern */
#define KH_MAX_ALTS 1024u          /* alternatives in one group */
#define KH_MAX_SIGS (64u << 20)    /* signatures in one set */
#define KH_MAX_NAME 1024u          /* signature name length */

enum kh_op {
    KH_OP_LIT = 1, /* a = bytes offset, b = length: exact bytes */
    KH_OP_CLASS,   /* a = bytes offset of a 32-byte bitmap: one byte in the set */
    KH_OP_GAP,     /* a = min, b = max (KH_INF): that many arbitrary bytes */
    KH_OP_SEQ,     /* a = kids offset, b = count: children in order */
    KH_OP_ALT,     /* a = kids offset, b = count: any one child */
    KH_OP_NALT,    /* a = kids offset, b = count, c = length: c bytes equal to no child */
    KH_OP_ASSERT,  /* a = KH_AS_*, b = KH_AM_* (ClamAV kinds), c = 1 if negated: a condition here */
    KH_OP_REPEAT,  /* a = child, b = min, c = max (KH_INF): the child repeated */
    KH_OP_BEHIND,  /* a = bytes offset of a 32-byte bitmap, b = min, c = max: zero-width, a byte
                      of the set lies d bytes before the current one, min <= d <= max (ClamAV x[n-m]) */
    KH_OP_AHEAD,   /* same, d bytes after the current position (ClamAV [n-m]x at the end) */
};

/* Node flags (kh_node.pad[0]). */
#define KH_NF_LAZY 1u /* GAP/REPEAT: prefer fewer repetitions (yara hex jumps, `*?`) */

enum kh_assert {
    KH_AS_BOUNDARY = 1, /* ClamAV (B): one of \n \r space " ' - . / < = > @ _ (see KH_AM_*) */
    KH_AS_LINE,         /* ClamAV (L): LF or CRLF */
    KH_AS_NONALNUM,     /* ClamAV (W): a byte that is not [0-9A-Za-z] */
    KH_AS_START,        /* regex ^: start of the data */
    KH_AS_END,          /* regex $: end of the data */
    KH_AS_WORDB,        /* regex \b */
    KH_AS_NWORDB,       /* regex \B */
    KH_AS_FW_BEFORE,    /* yara fullword: no alphanumeric byte before */
    KH_AS_FW_AFTER,     /* yara fullword: no alphanumeric byte after */
    KH_AS_FWW_BEFORE,   /* yara fullword, wide form: no alphanumeric wide character before */
    KH_AS_FWW_AFTER,    /* yara fullword, wide form: no alphanumeric wide character after */
    KH_AS_WORDB_W,      /* regex \b in a `wide` string: word characters are [0-9A-Za-z_] then 0x00 */
    KH_AS_NWORDB_W,     /* regex \B in a `wide` string */
};

/* Where a ClamAV (B) (L) (W) applies (ASSERT b), as clamscan reads them:
 * first in a part it looks at the byte before the match (the file start
 * counts), last in a part at the byte after it (the file end counts),
 * anywhere else it consumes one byte (two for CRLF). (B) has a different
 * byte set on each side: before, one of space - . / < @ _; after, one of
 * \n \r space " ' - / = > _ (clamscan's boundary table). */
enum kh_assert_mode {
    KH_AM_BEFORE = 1, /* zero-width, the byte before (or the start) */
    KH_AM_AFTER,      /* zero-width, the byte after (or the end) */
    KH_AM_CONSUME,    /* the byte(s) here, consumed */
};

typedef struct kh_node {
    uint8_t op;
    uint8_t pad[3];
    uint32_t a, b, c;
} kh_node;

enum kh_offkind {
    KH_OFF_ANY = 0, /* anywhere */
    KH_OFF_ABS,     /* start in [off, off + shift] */
    KH_OFF_EOF,     /* start in [size - off, size - off + shift] */
};

typedef struct kh_pat {
    uint32_t root;   /* node index */
    uint32_t sig;    /* owning signature */
    uint32_t minlen; /* shortest match */
    uint32_t maxlen; /* longest match, KH_INF if unbounded */
    uint64_t off;
    uint32_t shift;
    uint8_t offkind; /* KH_OFF_* */
    uint8_t exact;   /* set by the backend: its expression is this tree */
    uint8_t kind;    /* KH_PK_*: what `sig` refers to */
    uint8_t pad;     /* KH_PK_YSTRING: 1 if the matcher searches for the whole pattern (no atom) */
} kh_pat;

enum kh_patkind {
    KH_PK_CLAMAV = 0,  /* sig: index in sigs[] */
    KH_PK_YSTRING = 1, /* sig: index in the YARA strings (kh_ystr) */
    KH_PK_YREGEX = 2,  /* a regex of a condition (`matches`, module functions): not in the matcher */
    KH_PK_LSUB = 3,    /* sig: index of a ClamAV logical subsignature (engine/clamav/cav.h) */
};

typedef struct kh_sig {
    uint32_t name;   /* strs offset */
    uint32_t source; /* index into sources */
    uint32_t pat;    /* pattern index (body), UINT32_MAX for hash signatures */
    uint32_t line;   /* line in its source, for diagnostics */
    uint8_t kind;    /* KH_DET_* */
    uint8_t pad[3];
} kh_sig;

/* Hash algorithms, in the order tables are kept. */
enum kh_halg { KH_MD5 = 0, KH_SHA1 = 1, KH_SHA256 = 2, KH_NALG = 3 };
extern const unsigned kh_halg_len[KH_NALG];

/* A hash table: n records of (digest, u32 size LE or KH_ANY_SIZE, u32 sig) sorted
 * by (digest, size); plus the sorted distinct sizes that occur, so a file
 * whose size is not among them (and no any-size entry exists) is not hashed. */
#define KH_ANY_SIZE UINT32_MAX
typedef struct kh_htab {
    const uint8_t *rec;
    uint64_t n;
    const uint32_t *sizes;
    uint64_t nsizes;
    uint32_t any_size; /* 1 if some record matches any size */
} kh_htab;

#define KH_HREC(alg) (kh_halg_len[alg] + 8u)

struct kh_mpm;

struct kh_rules {
    const kh_node *nodes;
    const uint32_t *kids;
    const uint8_t *bytes;
    const char *strs;
    const kh_pat *pats;
    const kh_sig *sigs;
    uint32_t nnodes, nkids, npats, nsigs;
    uint64_t nbytes, nstrs;
    kh_htab detect[KH_NALG];
    kh_htab allow[KH_NALG];
    const uint32_t *sources; /* strs offsets of source names */
    uint32_t nsources;
    kh_rules_stats stats;
    uint8_t id[32];

    /* YARA rules (engine/yara/yara.h types), empty without YARA sources */
    const struct kh_yrule *yrules;
    const struct kh_ystr *ystrs;
    const struct kh_yexpr *yexprs;
    const uint32_t *ylists;
    const struct kh_ymeta *ymetas;
    const struct kh_yregex *yregexes;
    const struct kh_yext *yexts;
    const struct kh_yatom *yatoms;
    uint32_t nyrules, nystrs, nyexprs, nylists, nymetas, nyregexes, nyexts, nyatoms;
    uint32_t ymodules; /* modules used by some rule */

    /* ClamAV logical, PE-section and import-hash signatures, per-database
     * counts (engine/clamav/cav.h): a blob as stored, and its view */
    const uint8_t *cavblob;
    uint64_t ncavblob;
    struct kh_cav *cav;

    struct kh_mpm *mpm;   /* NULL when there are no body patterns */
    void *heap[40];       /* blocks owned when built in memory */
    unsigned nheap;
    void *map;            /* the cache file mapping, when loaded from it */
    uint64_t maplen;
};

static inline const char *kh_rules_str(const struct kh_rules *r, uint32_t off) { return r->strs + off; }

/* ---- Building ---------------------------------------------------------- */

/* Everything a front end produces, before freezing into kh_rules. */
typedef struct kh_irb {
    KH_VEC(kh_node) nodes;
    KH_VEC(uint32_t) kids;
    kh_buf bytes;
    kh_buf strs;
    KH_VEC(kh_pat) pats;
    KH_VEC(kh_sig) sigs;
    kh_buf hrec[2][KH_NALG]; /* [detect/allow][alg] unsorted records */
    KH_VEC(uint32_t) sources;
} kh_irb;

void kh_irb_init(kh_irb *b);
void kh_irb_dispose(kh_irb *b);
int kh_irb_str(kh_irb *b, const char *s, size_t n, uint32_t *off_out);
int kh_irb_node(kh_irb *b, uint8_t op, uint32_t a, uint32_t b_, uint32_t c, uint32_t *idx_out);
/* Can the tree never match because an anchor (^ or $) sits where it can
 * never hold (yara's /a$b/)? Only the top-level sequence is examined. */
int kh_ir_dead_anchor(const kh_node *nodes, const uint32_t *kids, uint32_t root);
/* Computes min/max match length of a tree. */
void kh_ir_lengths(const kh_node *nodes, const uint32_t *kids, uint32_t root, uint32_t *min, uint32_t *max);

#endif
