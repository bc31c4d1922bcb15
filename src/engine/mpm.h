/* Khiên — engine: the multi-pattern matcher interface.
 *
 * A backend compiles every body pattern of a set into one searcher and,
 * given a buffer, reports (pattern, end offset) candidates. It must report
 * every pattern that truly matches (no false negatives); it may report
 * patterns that do not (false positives) as long as it clears that
 * pattern's `exact` flag at compile time so the caller confirms them.
 * With KH_MPM_SINGLE each pattern is reported at most once per scan.
 *
 * The backend is a table of functions (Suricata's mpm_table idea): mpm_vs.c
 * is the Vectorscan one and the only file that includes <hs.h>.
 */
#ifndef KH_ENGINE_MPM_H
#define KH_ENGINE_MPM_H

#include "engine/ir.h"

typedef struct kh_mpm kh_mpm;
typedef struct kh_mpm_scratch kh_mpm_scratch;
typedef struct kh_mpm_stream kh_mpm_stream;

/* Return nonzero to stop the scan. */
typedef int (*kh_mpm_hit_fn)(uint32_t pat, uint64_t end, void *ctx);

/* What compile() works on: the set's arrays, patterns writable for `exact`. */
/* A plain literal to search for besides the patterns (YARA atoms). Its
 * reports carry the id npats + its index in the list. */
typedef struct kh_mpm_lit {
    const uint8_t *p;
    uint32_t len;
    const uint8_t *mask; /* NULL, or per byte: x matches where (x & mask) == (p & mask) */
    uint8_t caseless; /* ASCII letters match either case */
    uint8_t single;   /* one report per scan is enough */
    uint8_t mz_only;  /* needed only in buffers that start with "MZ" (may be reported in others) */
    uint64_t max_len; /* needed only in buffers of at most this many bytes (0: no limit; may be reported in others) */
} kh_mpm_lit;

typedef struct kh_mpm_input {
    const kh_node *nodes;
    const uint32_t *kids;
    const uint8_t *bytes;
    kh_pat *pats;
    uint32_t npats;
    const kh_mpm_lit *lits;
    uint32_t nlits;
} kh_mpm_input;

typedef struct kh_mpm_ops {
    const char *name;
    /* err receives a message on failure. */
    int (*compile)(kh_mpm **out, kh_mpm_input *in, kh_buf *err);
    int (*serialize)(const kh_mpm *m, kh_buf *out);
    int (*deserialize)(kh_mpm **out, const void *data, size_t len);
    void (*destroy)(kh_mpm *m);
    int (*scratch_create)(kh_mpm_scratch **out, const kh_mpm *m);
    void (*scratch_destroy)(kh_mpm_scratch *s);
    /* Returns 0, or KH_EUSER when fn stopped the scan. */
    int (*scan)(const kh_mpm *m, kh_mpm_scratch *s, const uint8_t *buf, size_t len, kh_mpm_hit_fn fn, void *ctx);
    /* Streaming: open, feed chunks, close (which may report end-anchored hits). */
    int (*stream_open)(kh_mpm *m, kh_mpm_scratch *s, kh_mpm_stream **out);
    int (*stream_feed)(kh_mpm_stream *st, kh_mpm_scratch *s, const uint8_t *buf, size_t len, kh_mpm_hit_fn fn,
                       void *ctx);
    int (*stream_close)(kh_mpm_stream *st, kh_mpm_scratch *s, kh_mpm_hit_fn fn, void *ctx);
    /* Bytes of memory the compiled searcher holds. */
    size_t (*size)(const kh_mpm *m);
} kh_mpm_ops;

extern const kh_mpm_ops kh_mpm_vs;

/* Vectorscan expression for a pattern tree (exposed for tests). *exact is
 * cleared when the expression only approximates the tree (a superset). */
int kh_mpm_vs_expr(const kh_node *nodes, const uint32_t *kids, const uint8_t *bytes, uint32_t root, kh_buf *out,
                   int *exact);

#endif
