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
 *   ftms[]    .ftm file-type magic lines that take part in typing files
 *   cdbs[]    .cdb container metadata signatures (archive members)
 *   srcstats  per database file: what was loaded, per kind, and what not
 *
 * ldb.c parses .ldb lines (and turns .ndb lines with a target or a PE
 * offset into one-subsignature logical signatures), mdb.c the hash
 * formats, ftmcdb.c the .ftm and .cdb lines and their evaluation,
 * lsig_exec.c evaluates everything per scanned object.
 */
#ifndef KH_ENGINE_CLAMAV_CAV_H
#define KH_ENGINE_CLAMAV_CAV_H

#include "engine/clamav/clamav.h"
#include "engine/confirm.h"
#include "engine/pike.h"

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

/* An .ftm line that types files (ftmcdb.c): magic type 0 (fixed bytes at
 * an offset) or 1 (a hex signature inside an offset range), both looked
 * for in the first KH_FTM_WINDOW bytes as clamscan does. */
#define KH_FTM_WINDOW 1024u
typedef struct kh_ftm {
    uint32_t root;  /* tree of the magic bytes / hex signature */
    uint32_t line;  /* database line (diagnostics) */
    uint16_t ctype; /* ClamAV type code of the result (CL_TYPE_*) */
    uint16_t rtype; /* magic type 1: required current type, 0 = any */
    uint8_t magic;  /* 0 or 1 */
    uint8_t target; /* Khiên target type the result gives (0 none) */
    uint8_t pad[2];
    kh_coff off;
} kh_ftm;

/* A .cdb container metadata signature (ftmcdb.c). Ranges are [lo, hi];
 * KH_CDB_ANY in lo means '*'; 0 in a bound of a range "lo-hi" means open. */
#define KH_CDB_ANY UINT64_MAX
typedef struct kh_cdb {
    uint32_t sig;
    uint32_t re;    /* root of the file name regex, UINT32_MAX for '*' */
    uint16_t ctype; /* container type (CL_TYPE_* code), 0 = any */
    uint8_t enc;    /* 0, 1, 2 = any */
    uint8_t pad;
    uint64_t csize[2], fsizec[2], fsizer[2], filepos[2];
} kh_cdb;

/* Metadata of one archive member, for .cdb signatures. */
typedef struct kh_cav_meta {
    const char *name;
    uint16_t ctype;   /* container type (CL_TYPE_* code) */
    int encrypted;
    uint64_t csize;   /* size of the container */
    uint64_t fsizec;  /* size in the container (compressed) */
    uint64_t fsizer;  /* real size */
    uint64_t filepos; /* position of the member, as clamscan numbers it */
} kh_cav_meta;

/* ClamAV type codes Khiên names (CL_TYPE_* of clamscan 1.4). */
enum {
    KH_CT_ANY = 0,
    KH_CT_TEXT_ASCII = 500,
    KH_CT_BINARY_DATA = 504,
    KH_CT_MSEXE = 506,
    KH_CT_POSIX_TAR = 510,
    KH_CT_CPIO_OLD = 512,
    KH_CT_CPIO_ODC = 513,
    KH_CT_CPIO_NEWC = 514,
    KH_CT_CPIO_CRC = 515,
    KH_CT_ZIP = 517,
    KH_CT_RAR = 519,
    KH_CT_MSCAB = 523,
    KH_CT_7Z = 541,
    KH_CT_ISO9660 = 572,
};
/* The code of a CL_TYPE_* name, or -1. */
int kh_cav_type_code(const char *s, size_t n);
const char *kh_cav_type_name(unsigned code);

/* The frozen view over a compiled set's data (pointers into the blob). */
typedef struct kh_cav {
    const kh_lsig *lsigs;
    const kh_lsub *lsubs;
    const kh_lexpr *lexprs;
    const kh_shash *shash;
    const kh_rules_stats *srcstats;
    const kh_ftm *ftms;
    const kh_cdb *cdbs;
    uint32_t nlsigs, nlsubs, nlexprs, nshash, nsrcstats, nftms, ncdbs;
    uint32_t shash_algs[2]; /* per KH_SH_*: algorithms present (bit mask) */
    uint32_t needs_pe;      /* some lsig needs PE/ELF information */
    uint32_t ftm_replace;   /* some .ftm line of magic type 0: it replaces the built-in typing */
} kh_cav;

/* What the front end collects while parsing. */
typedef struct kh_cavb {
    KH_VEC(kh_lsig) lsigs;
    KH_VEC(kh_lsub) lsubs;
    KH_VEC(kh_lexpr) lexprs;
    KH_VEC(kh_shash) shash;
    KH_VEC(kh_ftm) ftms;
    KH_VEC(kh_cdb) cdbs;
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
/* .ftm and .cdb lines (ftmcdb.c). An .ftm line that is valid but changes
 * no target type is counted in *inert (and the reason in stats). */
int kh_ftm_line(kh_dbctx *c, const char *line, size_t n, unsigned ln, uint64_t *inert);
int kh_cdb_line(kh_dbctx *c, const char *line, size_t n, unsigned ln);

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
/* Runs the .cdb signatures on the metadata of one archive member. */
int kh_cavscan_meta(kh_cavscan *cs, const kh_cav_meta *m, kh_cav_det_fn det, void *ud);
/* The target type the .ftm lines give an object (ftmcdb.c): 0 none or
 * "other", KH_FTM_BUILTIN when no line decides (the built-in typing then
 * applies), else 1, 5, 6, 9-12. */
#define KH_FTM_BUILTIN 255u
unsigned kh_ftm_type(const struct kh_rules *r, kh_confirm *cx, const uint8_t *buf, size_t len, unsigned builtin);
/* Does the file name match a .cdb regex (Pike VM, unanchored search)? */
int kh_cdb_name_match(const struct kh_rules *r, kh_pike_prog *prog, kh_pike_vm *vm, const char *name);

#endif
