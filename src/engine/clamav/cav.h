/* Khiên — engine/clamav: logical, PE-section and import-hash signatures (internal API).
 *
 * What .ndb and hash tables cannot express lives here, in a handful of flat
 * arrays serialised as one section of the compiled set (cavblob.c):
 *
 *   lsigs[]   logical signatures (.ldb, and .ndb lines that need a file
 *             type or an entry-point/section offset): target description
 *             block, the root of the expression, their subsignatures
 *   lsubs[]   subsignatures: a body pattern (kh_pat of kind KH_PK_LSUB,
 *             found by the one matcher), a PCRE (its tree, run with the
 *             Pike VM once its trigger holds) or a byte comparison
 *   lexprs[]  logical expression nodes (leaf, &, |, with =N <N >N[,M])
 *   shash[]   .mdb/.msb PE section hashes and .imp import-table hashes,
 *             sorted by (kind, algorithm, digest, size)
 *   srcstats  per database file: what was loaded, per kind, and what not
 *
 * ldb.c parses .ldb lines (and turns .ndb lines with a target or a PE
 * offset into one-subsignature logical signatures), mdb.c the hash
 * formats, lsig_exec.c evaluates everything per scanned object.
 */
#ifndef KH_ENGINE_CLAMAV_CAV_H
#define KH_ENGINE_CLAMAV_CAV_H

#include "engine/clamav/clamav.h"
#include "engine/confirm.h"

#define KH_LSIG_MAX_SUBS 64u     /* subsignatures per logical signature (as ClamAV) */
#define KH_LSIG_MAX_EXPR 1024u   /* expression nodes per logical signature */
#define KH_LSIG_MAX_DEPTH 64u    /* nesting of the expression */
#define KH_LSIG_MAX_COUNT 100000u /* matches counted per subsignature and object */
#define KH_LSIG_MIN_OBJECT 6u     /* clamscan evaluates no logical signature on smaller objects */

/* Offsets of subsignatures (and .ndb lines): where the match may start. */
enum kh_coff_kind {
    KH_COFF_ANY = 0, /* anywhere */
    KH_COFF_ABS,     /* off, off + shift */
    KH_COFF_EOF,     /* size - off ... */
    KH_COFF_EP,      /* entry point + off (off may be negative) */
    KH_COFF_SECT,    /* start of section `sect` + off */
    KH_COFF_SLAST,   /* start of the last section + off */
    KH_COFF_SENTIRE, /* anywhere inside section `sect` */
};

typedef struct kh_coff {
    int64_t off;
    uint32_t shift;
    uint16_t sect;
    uint8_t kind; /* KH_COFF_* */
    uint8_t pad;
} kh_coff;

enum kh_lsub_kind { KH_LS_HEX = 1, KH_LS_PCRE = 2, KH_LS_BCOMP = 3 };

/* PCRE flags (kh_lsub.flags). */
#define KH_PCRE_GLOBAL 1u    /* g: every match counts */
#define KH_PCRE_ROLLING 2u   /* r: any start from the offset on */
#define KH_PCRE_ENCOMPASS 4u /* e: the match lies inside offset..offset+shift */
#define KH_PCRE_ANCHORED 8u  /* A */

/* Byte-compare options (kh_lsub.bc_fmt). */
enum kh_bc_fmt { KH_BC_HEX = 1, KH_BC_DEC, KH_BC_AUTO, KH_BC_RAW };

typedef struct kh_lsub {
    uint32_t lsig;    /* owning logical signature */
    uint32_t pat;     /* HEX: pattern index; UINT32_MAX otherwise */
    uint32_t root;    /* PCRE: root node of its tree */
    uint32_t trigger; /* PCRE: expression node of its trigger; BCOMP: subsignature index (within the lsig) */
    uint8_t kind;     /* KH_LS_* */
    uint8_t flags;    /* KH_PCRE_* */
    uint8_t bc_fmt, bc_le, bc_exact, bc_len, bc_ncmp, pad; /* bc_le: 0 big, 1 little, 2 not given */
    kh_coff off;
    int64_t bc_off;      /* from the start of the trigger's match */
    uint8_t bc_op[2];    /* '<' '>' '=' */
    uint8_t pad2[2];
    uint32_t idx;        /* index within its logical signature */
    uint64_t bc_val[2];
} kh_lsub;

enum kh_lexpr_op { KH_LX_LEAF = 1, KH_LX_AND, KH_LX_OR };

typedef struct kh_lexpr {
    uint8_t op;  /* KH_LX_* */
    uint8_t mod; /* 0, '=', '<', '>' */
    uint8_t pad[2];
    uint32_t a, b; /* LEAF: a = subsignature index; AND/OR: children */
    uint32_t v1, v2;
} kh_lexpr;

/* Target description block flags. */
#define KH_LF_FILESIZE 1u
#define KH_LF_EP 2u
#define KH_LF_NSECT 4u
#define KH_LF_ROOT 8u /* Container:CL_TYPE_ANY: only objects not inside a container */

typedef struct kh_lsig {
    uint32_t sig;        /* kh_sig: name, source, line */
    uint32_t expr;       /* root expression node */
    uint32_t sub, nsub;  /* lsubs[sub, sub + nsub) */
    uint32_t cap;        /* counts above this make no difference */
    uint8_t target;      /* 0 any, 1 PE, 6 ELF */
    uint8_t flags;       /* KH_LF_* */
    uint8_t has_pcre;    /* some subsignature is evaluated after the others */
    uint8_t pad;
    uint64_t fs_lo, fs_hi;
    uint32_t ep_lo, ep_hi, ns_lo, ns_hi;
} kh_lsig;

/* A section (.mdb .msb) or import-table (.imp) hash. */
enum { KH_SH_SECTION = 0, KH_SH_IMPORT = 1 };
typedef struct kh_shash {
    uint8_t kind; /* KH_SH_* */
    uint8_t alg;  /* KH_MD5 .. */
    uint8_t pad[2];
    uint32_t size; /* KH_ANY_SIZE for '*' */
    uint32_t sig;
    uint8_t dig[32];
} kh_shash;

/* The frozen view over a compiled set's data (pointers into the blob). */
typedef struct kh_cav {
    const kh_lsig *lsigs;
    const kh_lsub *lsubs;
    const kh_lexpr *lexprs;
    const kh_shash *shash;
    const kh_rules_stats *srcstats;
    uint32_t nlsigs, nlsubs, nlexprs, nshash, nsrcstats;
    uint32_t shash_algs[2]; /* per KH_SH_*: algorithms present (bit mask) */
    uint32_t needs_pe;      /* some lsig needs PE/ELF information */
} kh_cav;

/* What the front end collects while parsing. */
typedef struct kh_cavb {
    KH_VEC(kh_lsig) lsigs;
    KH_VEC(kh_lsub) lsubs;
    KH_VEC(kh_lexpr) lexprs;
    KH_VEC(kh_shash) shash;
} kh_cavb;

void kh_cavb_dispose(kh_cavb *cb);

/* Parsers (ldb.c, mdb.c). Each returns 0, KH_ESYNTAX (reported through
 * ctx->diag), or a hard error; unsupported-but-valid lines are counted in
 * *unsup (by reason, see kh_cav_unsup) and return 0. */
enum kh_cav_unsup {
    KH_UNS_TARGET = 0, /* file type without a parser here */
    KH_UNS_TDB,        /* Container / Intermediates / IconGroup / HandlerType */
    KH_UNS_SUBSIG,     /* macro, fuzzy image hash, PCRE construct */
    KH_UNS_OFFSET,     /* VI and other offsets */
    KH_UNS_MACHO,      /* entry point or sections of a Mach-O file (no Mach-O parser) */
    KH_UNS_N
};
/* Target types honoured: 0 any, 1 PE, 6 ELF (parsed), and 5 graphics,
 * 9 Mach-O, 10 PDF, 11 flash, 12 Java class, recognised by their magic as
 * clamscan recognises them (lsig_exec.c) and matched on the file's bytes.
 * Not honoured: 2 OLE2, 3 HTML, 4 mail, 7 ASCII text (clamscan matches
 * those on extracted macros, normalised HTML or text and decoded mail
 * parts, which Khiên does not produce), 8, 13, 14. */
int kh_cav_target_ok(uint64_t target);
int kh_ldb_line(kh_dbctx *c, const char *line, size_t n, unsigned ln, uint64_t unsup[KH_UNS_N]);
/* An .ndb line whose target type or offset needs file information. */
int kh_ldb_from_ndb(kh_dbctx *c, uint32_t sig, uint32_t root, uint8_t target, const kh_coff *off);
/* Parses an offset with every ClamAV form; KH_EUNSUPPORTED for VI. */
int kh_cav_offset_parse(const char *s, size_t n, kh_coff *out);
int kh_mdb_line(kh_dbctx *c, int imp, const char *line, size_t n, unsigned ln);

/* Freezes the builder and the per-source counts into a blob owned by r
 * (r->cavblob, r->cav). */
int kh_cav_freeze(struct kh_rules *r, kh_cavb *cb, const kh_rules_stats *srcstats, uint32_t nsrc);
/* Opens the blob of a loaded set (bounds and indices checked). */
int kh_cav_open(struct kh_rules *r, const uint8_t *blob, uint64_t len);

/* ---- Scanning ------------------------------------------------------------------ */

typedef struct kh_cavscan kh_cavscan;
typedef int (*kh_cav_det_fn)(void *ud, uint32_t sig, uint8_t kind, int64_t offset);

int kh_cavscan_create(kh_cavscan **out, const struct kh_rules *r);
void kh_cavscan_destroy(kh_cavscan *cs);
/* Evaluates the logical and PE-hash signatures for one object, given the
 * matcher's hits (pattern indices). depth: 0 for a file, > 0 inside an
 * archive. Calls det for each detection; a nonzero return of det stops and
 * is returned. */
int kh_cavscan_object(kh_cavscan *cs, const uint8_t *buf, size_t len, unsigned depth, const uint32_t *hits,
                      size_t nhits, kh_confirm *cx, kh_cav_det_fn det, void *ud);

#endif
