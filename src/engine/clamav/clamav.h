/* Khiên — engine/clamav: the ClamAV signature front end (internal API). */
#ifndef KH_ENGINE_CLAMAV_H
#define KH_ENGINE_CLAMAV_H

#include "engine/ir.h"

/* Functionality level we implement, for MinFL/MaxFL fields (ClamAV 1.4). */
#define KH_CLAMAV_FLEVEL 210u

/* Parses a hex signature (the 4th field of an .ndb line) into a tree.
 * On KH_ESYNTAX, *errpos is the 0-based offset of the offending character
 * and *errmsg a static English message. */
int kh_clamav_hex_parse(kh_irb *b, const char *hex, size_t n, uint32_t *root_out, size_t *errpos,
                        const char **errmsg);

/* Parses an .ndb offset field ("*", "n", "n,m", "EOF-n", "EP+n", ...).
 * Returns 0, KH_EUNSUPPORTED (EP/section forms) or KH_ESYNTAX. */
int kh_clamav_offset_parse(const char *s, size_t n, uint8_t *kind, uint64_t *off, uint32_t *shift);

#endif

/* ---- Database files -------------------------------------------------- */

typedef void (*kh_db_diag_fn)(void *ud, kh_diag_severity sev, unsigned line, unsigned col, const char *msg);

typedef struct kh_dbctx {
    kh_irb *b;
    uint32_t source;      /* index of this database among the set's sources */
    unsigned flags;       /* KH_COMPILE_* */
    kh_rules_stats *stats;
    kh_db_diag_fn diag;
    void *ud;
    /* signature names to leave out (.ign2), sorted for bsearch */
    char **ignored;
    size_t nignored;
    struct kh_cavb *cav; /* logical and PE-hash signatures (cav.h) */
} kh_dbctx;

/* The database kinds this front end knows, by file extension. */
typedef enum kh_dbkind {
    KH_DB_UNKNOWN = 0,
    KH_DB_HDB,  /* hdb hdu hsb hsu: detection hashes of whole files */
    KH_DB_FP,   /* fp sfp: known-good hashes */
    KH_DB_NDB,  /* ndb ndu: extended body signatures */
    KH_DB_IGN,  /* ign2 ign: signature names to ignore */
    KH_DB_LATER, /* known ClamAV formats not supported yet: counted and reported */
    KH_DB_LDB,  /* ldb ldu: logical signatures (ldb.c) */
    KH_DB_MDB,  /* mdb mdu msb msu: PE section hashes (mdb.c) */
    KH_DB_IMP,  /* imp: PE import table hashes (mdb.c) */
    KH_DB_FTM,  /* ftm: file type magic (ftmcdb.c) */
    KH_DB_CDB   /* cdb: container metadata signatures (ftmcdb.c) */
} kh_dbkind;

/* Kind of a database by extension (without the dot); *pua set for .hdu .hsu .ndu. */
kh_dbkind kh_clamav_kind(const char *ext, int *pua);

/* Parses one database's text into ctx->b. Malformed lines are reported
 * through ctx->diag and skipped, or fail with KH_ESYNTAX in strict mode. */
int kh_clamav_load(kh_dbctx *ctx, kh_dbkind kind, const char *ext, const char *text, size_t len);

/* Helpers shared by the line parsers (db.c). */
void kh_clamav_diagf(kh_dbctx *c, kh_diag_severity sev, unsigned line, size_t col, const char *fmt, ...) KH_PRINTF(5, 6);

/* One ':'-separated field of a database line. */
typedef struct kh_cfield {
    const char *s;
    size_t n;
    size_t col; /* 0-based column in the line */
} kh_cfield;
/* Splits a line on ':' into at most max fields; returns the count, or
 * max + 1 when there are more. */
size_t kh_clamav_split(const char *line, size_t n, kh_cfield *f, size_t max);
int kh_clamav_check_name(const char *s, size_t n);
/* Is the signature `name` of database line `line` dropped by the .ign2 lists? */
int kh_clamav_ignored(const kh_dbctx *c, const char *name, size_t name_n, const char *line, size_t n);
int kh_clamav_add_sig(kh_dbctx *c, const char *name, size_t name_n, uint8_t kind, uint32_t pat, unsigned line,
                      uint32_t *idx_out);
/* Why the lines of a format that is not loaded are not (English). */
const char *kh_clamav_later_reason(const char *ext);

/* Collects the names of an .ign2 file (appended to *names / *n). */
int kh_clamav_ign_collect(kh_dbctx *ctx, const char *text, size_t len, char ***names, size_t *n, size_t *cap);
