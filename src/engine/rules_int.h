/* Khiên — engine: internals shared by compiler.c, dbfile.c and the scanner. */
#ifndef KH_ENGINE_RULES_INT_H
#define KH_ENGINE_RULES_INT_H

#include "engine/ir.h"
#include "engine/mpm.h"

/* Diagnostics as kept by the compiler (and stored in the cache file). */
typedef struct kh_diagv {
    kh_diag *v;
    size_t n, cap;
    uint64_t total; /* including those not kept */
    unsigned max;
} kh_diagv;

void kh_diagv_add(kh_diagv *d, kh_diag_severity sev, const char *file, unsigned line, unsigned col, const char *msg);
void kh_diagv_free(kh_diagv *d);

/* A file read while compiling besides the listed sources (a YARA include):
 * the compiled set is valid only while its content is unchanged. */
typedef struct kh_dep {
    char *path;
    uint8_t sum[32]; /* zero: the set's key holds each include's SHA-256 (compiler.c make_key); kept for the format */
} kh_dep;

/* Writes the compiled set to `path` (atomically). */
int kh_dbfile_write(const struct kh_rules *r, const kh_diagv *diags, const kh_dep *deps, size_t ndeps,
                    const uint8_t key[32], const char *path);
/* Loads a compiled set written with the same key whose dependencies are
 * unchanged. Returns 0, KH_ENOENT (no file), KH_EFORMAT (corrupt, foreign,
 * other key or a changed dependency: the caller rebuilds). */
int kh_dbfile_load(struct kh_rules **out, kh_diagv *diags, const uint8_t key[32], const char *path);

/* The counts of a compiled set written with this key, read from its header
 * and statistics section alone (nothing mapped, no checksum: for display,
 * when the set itself is not needed). Returns 0, KH_ENOENT, KH_EFORMAT. */
int kh_dbfile_peek_stats(const char *path, const uint8_t key[32], kh_rules_stats *out);

/* Lookup of (digest, size) in a hash table: calls fn for each matching record's sig. */
typedef int (*kh_hash_hit_fn)(uint32_t sig, void *ctx);
int kh_htab_lookup(const kh_htab *t, unsigned alg, const uint8_t *digest, uint64_t size, kh_hash_hit_fn fn, void *ctx);
/* Does any record of the table have this size (or any size)? */
int kh_htab_size_wanted(const kh_htab *t, uint64_t size);
/* Sorts n records of algorithm alg by (digest, size), in place. */
void kh_htab_sort(uint8_t *rec, size_t n, unsigned alg);
/* Sorts n 32-bit values, in place. */
void kh_sort_u32(uint32_t *v, size_t n);

/* For a set mapped from its cache file: lets go of the pages of the mapping
 * (they stay in the page cache and come back on the next access). Hash
 * lookups touch a few pages of tables that can be hundreds of MB, and the
 * kernel maps whole large folios around each, so a long scan would otherwise
 * end with most of them counted in its resident size. Safe while other
 * threads read the set. */
void kh_rules_trim(const struct kh_rules *r);

/* The name of signature `sig`, or "?" when the index or its name offset is
 * out of range: the signature records and the string pool of a loaded set
 * are not covered by its checksum (dbfile.c), so readers check. */
static inline const char *kh_rules_sig_name(const struct kh_rules *r, uint32_t sig)
{
    return sig < r->nsigs && r->sigs[sig].name < r->nstrs ? r->strs + r->sigs[sig].name : "?";
}

#endif
