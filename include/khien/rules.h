/* Khiên — signature and rule compilation.
 *
 * A kh_compiler collects signature sources (ClamAV databases today, YARA
 * rules later) and builds one immutable kh_rules: every body pattern of every
 * source in one matcher, every hash signature in sorted tables. kh_rules is
 * read-only after kh_compiler_build() and may be shared by any number of
 * threads, each with its own kh_scanner (scan.h).
 *
 * Ownership: objects returned through an `out` parameter belong to the caller
 * and are released with their _destroy() function; destroy(NULL) is a no-op.
 * Pointers returned by getters are borrowed and live as long as their parent.
 */
#ifndef KHIEN_RULES_H
#define KHIEN_RULES_H

#include "common.h"
#include "error.h"

typedef struct kh_compiler kh_compiler;
typedef struct kh_rules kh_rules;

/** Compiler flags. */
#define KH_COMPILE_STRICT 0x1u     /**< a malformed database line fails the load */
#define KH_COMPILE_PUA 0x2u        /**< also load PUA databases (.hdu .hsu .ndu) */
#define KH_COMPILE_NO_BUILTIN 0x4u /**< leave out the built-in EICAR signature */
#define KH_COMPILE_UNSIGNED_OK 0x8u /**< load .cvd/.cld that fail their checks (with a warning) */

typedef struct kh_compiler_options {
    unsigned version;      /**< KH_COMPILER_OPTIONS_VERSION */
    unsigned flags;        /**< KH_COMPILE_* */
    const char *cache_dir; /**< where compiled sets are cached; NULL: no cache */
    unsigned max_diags;    /**< diagnostics kept (the rest are only counted) */
    const char *clamav_keys; /**< TESTS ONLY: public keys replacing ClamAV's (see khien/cvd.h); NULL */
    const char *clamav_certs; /**< CA certificates for .cvd.sign files; NULL: /etc/clamav/certs */
} kh_compiler_options;

#define KH_COMPILER_OPTIONS_VERSION 1
#define KH_COMPILER_OPTIONS_INIT {KH_COMPILER_OPTIONS_VERSION, 0, NULL, 200, NULL, NULL}

typedef enum kh_diag_severity {
    KH_DIAG_ERROR = 0,
    KH_DIAG_WARNING = 1,
} kh_diag_severity;

/** One diagnostic: a malformed line, an unsupported signature, ... */
typedef struct kh_diag {
    kh_diag_severity severity;
    const char *file; /**< database or rule file; "<builtin>" for built-ins */
    unsigned line;    /**< 1-based; 0 when not about one line */
    unsigned column;  /**< 1-based; 0 when unknown */
    const char *message;
} kh_diag;

/** Counts of what a compiled set holds (and what it left out). */
typedef struct kh_rules_stats {
    uint64_t hash_md5, hash_sha1, hash_sha256; /**< detection hash signatures */
    uint64_t body;                             /**< body (content) signatures */
    uint64_t allow;                            /**< .fp/.sfp known-good hashes */
    uint64_t ignored;                          /**< dropped by .ign2 entries */
    uint64_t unsupported;                      /**< well-formed but not usable yet */
    uint64_t malformed;                        /**< skipped malformed lines */
    uint64_t flevel_skipped;                   /**< outside our functionality level */
    uint64_t databases;                        /**< database files read */
    uint64_t prefiltered;                      /**< body signatures needing a confirm step */
    uint64_t yara_rules;                       /**< YARA rules */
    uint64_t yara_strings;                     /**< YARA strings */
    int from_cache;                            /**< 1 if loaded from the compiled cache */
    int key_memo;                              /**< 1 if the cache key came from its memo (rule files not read) */
    uint64_t logical;                          /**< logical signatures (.ldb) */
    uint64_t section_hash;                     /**< PE section hashes (.mdb .msb) */
    uint64_t import_hash;                      /**< PE import table hashes (.imp) */
    /* why `unsupported` signatures were left out */
    uint64_t unsup_format;                     /**< a database format not supported (.cbc .pdb ...) */
    uint64_t unsup_target;                     /**< a file type without a parser */
    uint64_t unsup_offset;                     /**< a VI offset */
    uint64_t unsup_feature;                    /**< Container, IconGroup, macro, PCRE construct ... */
    uint64_t container_meta;                   /**< container metadata signatures (.cdb) */
    /* .ftm lines: loaded, never signatures themselves (not in kh_rules_stats_count) */
    uint64_t ftm_types;                        /**< give a target type (1 PE, 5, 6 ELF, 9-12) */
    uint64_t ftm_other;                        /**< give a type that is no target type: no effect beyond that */
    uint64_t ftm_unused;                       /**< partition types (4), other magic types: no effect */
} kh_rules_stats;

/** Creates a compiler. @p opts may be NULL for defaults.
 *  @return 0, KH_ENOMEM or KH_EINVAL (unknown options version). */
KH_API int kh_compiler_create(kh_compiler **out, const kh_compiler_options *opts);
KH_API void kh_compiler_destroy(kh_compiler *c);

/** Adds a database file or a directory of them (files with a known
 *  extension, in name order; others are ignored, as clamscan does).
 *  Files are opened now so that a missing or unreadable database fails here.
 *  @return 0, KH_ENOENT, KH_EACCES, KH_EIO, KH_EINVAL (no known extension /
 *  empty directory), KH_ESYNTAX (strict mode), KH_ENOMEM. Details: diagnostics. */
KH_API int kh_compiler_add_path(kh_compiler *c, const char *path);

/** Adds database text held in memory. @p kind is the extension that names
 *  its format ("ndb", "hdb", "hsb", "fp", "sfp", "ign2", ...); @p origin
 *  names it in diagnostics and results.
 *  @return as kh_compiler_add_path(). */
KH_API int kh_compiler_add_text(kh_compiler *c, const char *kind, const char *origin,
                                const char *text, size_t len);

/** Adds a YARA rule file in namespace @p ns (NULL: "default"). Includes are
 *  read relative to the including file when the set is built.
 *  @return 0, KH_ENOENT, KH_EACCES, KH_EINVAL, KH_ENOMEM. */
KH_API int kh_compiler_add_yara_file(kh_compiler *c, const char *path, const char *ns);
/** Adds YARA rule text held in memory; @p origin names it in diagnostics. */
KH_API int kh_compiler_add_yara_text(kh_compiler *c, const char *ns, const char *origin, const char *text,
                                     size_t len);
/** Defines a YARA external variable (as `yara -d name=value`: true/false,
 *  an integer, a float, otherwise a string). @return 0, KH_EINVAL, KH_ENOMEM. */
KH_API int kh_compiler_define(kh_compiler *c, const char *name, const char *value);

/** Number of diagnostics recorded so far, and one of them (borrowed). */
KH_API size_t kh_compiler_diag_count(const kh_compiler *c);
KH_API const kh_diag *kh_compiler_diag(const kh_compiler *c, size_t i);

/** Parses everything added, compiles the matcher and returns the set.
 *  With a cache_dir, an unchanged set of databases is loaded from the
 *  compiled cache instead (a corrupt cache file is rebuilt, never trusted).
 *  The compiler can only build once. @return 0, KH_ESYNTAX (strict mode),
 *  KH_EINVAL (nothing to build), KH_ENOMEM, KH_EINTERNAL (matcher). */
KH_API int kh_compiler_build(kh_compiler *c, kh_rules **out);

/** The kh_rules_id() kh_compiler_build() will give, computed from what
 *  kh_compiler_add_path() recorded about each source (path, device, inode,
 *  size, times; the content of in-memory text and of YARA rule files and of
 *  every file they include, found without parsing the rules): nothing is
 *  parsed and no compiled set is read. Lets a caller consult what it keyed
 *  on the set (the clean-file cache) before deciding whether it needs the
 *  set at all. @return 0, KH_EINVAL (nothing to build), KH_ENOMEM, or the
 *  error reading a YARA rule file. */
KH_API int kh_compiler_identity(kh_compiler *c, uint8_t out[32]);
/** The counts (kh_rules_get_stats()) of the set compiled earlier from the
 *  same sources, read from the header of its file in cache_dir without
 *  loading it. For display only: the file is checked when it is loaded.
 *  @return 0, KH_ENOENT (none cached), KH_EFORMAT, KH_EUNSUPPORTED, KH_EINVAL. */
KH_API int kh_compiler_cached_stats(kh_compiler *c, kh_rules_stats *out);

KH_API void kh_rules_destroy(kh_rules *r);

/** Writes a compiled set to a file (`khien compile -o`), atomically.
 *  @return 0, KH_EIO, KH_ENOMEM. */
KH_API int kh_rules_save(const kh_rules *r, const char *path);
/** Loads a set written by kh_rules_save(). A damaged or foreign file is
 *  refused (KH_EFORMAT), never trusted. @return 0, KH_ENOENT, KH_EFORMAT, KH_ENOMEM. */
KH_API int kh_rules_load(kh_rules **out, const char *path);
KH_API void kh_rules_get_stats(const kh_rules *r, kh_rules_stats *out);
/** Number of database files of the set, and the counts of one of them
 *  (what it loaded per kind, and what it left out); *path is borrowed.
 *  @return 0, KH_ENOTFOUND (no such index, or counts not recorded). */
KH_API size_t kh_rules_source_count(const kh_rules *r);
KH_API int kh_rules_source_stats(const kh_rules *r, size_t i, const char **path, kh_rules_stats *out);
/** Total signatures usable for detection (hash + body). */
KH_API uint64_t kh_rules_count(const kh_rules *r);
/** The same total from a set's counts (kh_compiler_cached_stats()). */
KH_API uint64_t kh_rules_stats_count(const kh_rules_stats *s);
/** 32 bytes that identify the signature set (changes when any source does). */
KH_API const uint8_t *kh_rules_id(const kh_rules *r);

#endif
