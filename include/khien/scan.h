/* Khiên — scanning files, folders and memory against a kh_rules set.
 *
 * Three levels:
 *  - kh_scanner: one thread's scanner (owns the matcher's scratch space);
 *    scans a buffer or one file, recursing into archives, and reports each
 *    detection through a callback. It borrows the rules: destroy it first.
 *  - kh_scan_paths(): walks files and folders, feeds a pool of scanners
 *    (one per thread), consults the clean-file cache, and delivers one
 *    kh_file_report per file, in walk order, one at a time.
 *  - kh_cache: the persistent clean-file cache used by kh_scan_paths().
 *
 * A detection is a result, not an error: a scan that finds something
 * returns 0. Callbacks return 0 to continue; any other value stops the
 * operation, which then returns KH_EUSER.
 */
#ifndef KHIEN_SCAN_H
#define KHIEN_SCAN_H

#include "common.h"
#include "error.h"
#include "rules.h"

typedef struct kh_scanner kh_scanner;
typedef struct kh_cache kh_cache;

/* ---- Options -------------------------------------------------------- */

#define KH_SCAN_ALLMATCH 0x1u   /**< report every matching signature, not the first */
#define KH_SCAN_NO_ARCHIVE 0x2u /**< do not look inside archives */
#define KH_SCAN_STRINGS 0x8u  /**< collect the matched strings of YARA rules */
#define KH_SCAN_ALERT_LIMITS 0x4u /**< report exceeded limits as Heuristics.Limits.Exceeded.* results */
#define KH_SCAN_YARA_ALL 0x10u /**< also report YARA rules that did not match (kh_rule_info.matched = 0) */
#define KH_SCAN_FAST 0x20u     /**< at most one match per YARA string in reports (yara -f) */

typedef struct kh_scan_options {
    unsigned version;          /**< KH_SCAN_OPTIONS_VERSION */
    unsigned flags;            /**< KH_SCAN_* */
    uint64_t max_filesize;     /**< larger files (and members) are not scanned; 0: no limit */
    uint64_t max_scansize;     /**< bytes scanned per file, archive contents included */
    unsigned max_depth;        /**< archive nesting */
    unsigned max_files;        /**< members per file, all nesting levels together */
    unsigned max_ratio;        /**< member size / compressed size above which a member is a bomb */
    uint64_t stream_threshold; /**< files above this are scanned in streaming mode (default 2 MiB) */
    unsigned timeout_ms;       /**< YARA rule evaluation time limit per file; 0: none */
} kh_scan_options;

#define KH_SCAN_OPTIONS_VERSION 1
#define KH_SCAN_OPTIONS_INIT                                                  \
    {KH_SCAN_OPTIONS_VERSION, 0, 100ull << 20, 400ull << 20, 16, 10000, 250, \
     2ull << 20, 0}

/* ---- Results -------------------------------------------------------- */

typedef enum kh_detection_kind {
    KH_DET_HASH = 0,      /**< whole-file hash signature (.hdb .hsb) */
    KH_DET_BODY = 1,      /**< body signature (.ndb, built-in) */
    KH_DET_HEURISTIC = 2, /**< limits exceeded (Heuristics.Limits.Exceeded.*) */
    KH_DET_RULE = 3,      /**< a YARA rule matched (details in kh_detection.rule) */
    KH_DET_LOGICAL = 4,   /**< ClamAV logical signature (.ldb) */
    KH_DET_PEHASH = 5,    /**< PE section (.mdb .msb) or import table (.imp) hash */
    KH_DET_META = 6,      /**< ClamAV container metadata (.cdb) of an archive member */
} kh_detection_kind;

/** A meta field of a YARA rule. */
typedef struct kh_meta {
    const char *key;
    int type;          /**< 1 string, 2 integer, 3 boolean */
    const char *str;   /**< string value (may hold NUL bytes: use len) */
    size_t len;
    int64_t num;       /**< integer or boolean value */
} kh_meta;

/** One match of a YARA string. */
typedef struct kh_string_match {
    const char *id;       /**< "$a" */
    uint64_t offset;
    uint32_t length;      /**< match length */
    const uint8_t *data;  /**< the matched bytes (at most the first 512) */
    uint32_t data_len;
    int hex;              /**< 1 for hex strings (printed as hex bytes by yara -s) */
} kh_string_match;

/** What a matching YARA rule carries. Valid during the callback only. */
typedef struct kh_rule_info {
    const char *name;
    int matched;                 /**< 0 only with KH_SCAN_YARA_ALL */
    const char *ns;              /**< namespace ("default") */
    const char *const *tags;
    size_t ntags;
    const kh_meta *meta;
    size_t nmeta;
    const kh_string_match *strings; /**< filled when asked for (KH_SCAN_STRINGS) */
    size_t nstrings;
} kh_rule_info;

typedef struct kh_detection {
    const char *name;       /**< signature name */
    const char *source;     /**< database it came from ("<builtin>" for built-ins) */
    const char *member;     /**< "inner.zip!dir/file" inside the scanned file; NULL: the file itself */
    kh_detection_kind kind;
    int64_t offset;         /**< start of the match in the member/file; -1 if not known */
    const kh_rule_info *rule; /**< KH_DET_RULE only: namespace, tags, meta, strings */
} kh_detection;

/** Receives each detection of kh_scanner_scan_*(). */
typedef int (*kh_detection_cb)(const kh_detection *d, void *payload);
/** Receives each warning (limits hit, unreadable archive member, ...). */
typedef void (*kh_warning_cb)(const char *member, const char *message, void *payload);

/* ---- One scanner ---------------------------------------------------- */

/** Short English name of a detection kind ("hash", "body", "rule", "logical",
 * "pe-hash", "container-meta", "heuristic"), as JSON reports and the centre's events use it. */
KH_API const char *kh_detection_kind_name(kh_detection_kind k);

/** @return 0, KH_ENOMEM, KH_EINVAL. @p opts may be NULL for defaults. */
KH_API int kh_scanner_create(kh_scanner **out, const kh_rules *rules, const kh_scan_options *opts);
KH_API void kh_scanner_destroy(kh_scanner *s);

/** Scans a buffer (archives inside it included). @return 0, KH_EUSER, KH_ENOMEM. */
KH_API int kh_scanner_scan_mem(kh_scanner *s, const void *data, size_t len,
                               kh_detection_cb on_detect, kh_warning_cb on_warn, void *payload);

/** Scans an open regular file; the descriptor stays open and its offset is unspecified.
 *  @return 0, KH_EIO, KH_EUSER, KH_ENOMEM. */
KH_API int kh_scanner_scan_fd(kh_scanner *s, int fd, kh_detection_cb on_detect,
                              kh_warning_cb on_warn, void *payload);

/** Opens and scans one file. @return 0, KH_ENOENT, KH_EACCES, KH_EIO, KH_EUSER, KH_ENOMEM. */
KH_API int kh_scanner_scan_file(kh_scanner *s, const char *path, kh_detection_cb on_detect,
                                kh_warning_cb on_warn, void *payload);

/** Overrides a YARA external variable for later scans (as yara -d with
 *  compiled rules). @return 0, KH_ENOTFOUND (not declared), KH_EINVAL (bad value). */
KH_API int kh_scanner_define(kh_scanner *s, const char *name, const char *value);
/** Receives console.log() messages of YARA rules. */
typedef void (*kh_log_cb)(const char *msg, size_t len, void *payload);
KH_API void kh_scanner_set_log(kh_scanner *s, kh_log_cb cb, void *payload);

/** Message about the last failure of this scanner (never NULL). */
KH_API const char *kh_scanner_last_error(const kh_scanner *s);
/** Bytes the scanner has examined so far (archive contents included). */
KH_API uint64_t kh_scanner_bytes_scanned(const kh_scanner *s);

/* ---- Clean-file cache ----------------------------------------------- */

/** Opens (or starts) the cache at @p path for the signature set @p rules.
 *  A missing, corrupt or foreign file, or one made with another signature
 *  set, gives an empty cache. At most @p max_entries are kept (0: default).
 *  @return 0, KH_ENOMEM, KH_EINVAL. */
KH_API int kh_cache_open(kh_cache **out, const char *path, const kh_rules *rules, size_t max_entries);
/** Same, for the signature set whose kh_rules_id() is @p set_id (from
 *  kh_compiler_identity(): the set need not be loaded) scanned with @p opts
 *  (NULL: defaults). The options that can change a clean verdict (the
 *  limits) are part of the cache's identity: a file found clean is trusted
 *  only by a scan with the same set and the same limits.
 *  @return 0, KH_ENOMEM, KH_EINVAL. */
KH_API int kh_cache_open_set(kh_cache **out, const char *path, const uint8_t set_id[32],
                             const kh_scan_options *opts, size_t max_entries);
/** Writes the cache back (atomically, merged with entries other processes
 *  saved meanwhile). @return 0, KH_EIO. */
KH_API int kh_cache_save(kh_cache *c);
KH_API void kh_cache_destroy(kh_cache *c);
/** Entries currently held. */
KH_API size_t kh_cache_count(const kh_cache *c);

/* ---- Walking and scanning paths with a pool of threads -------------- */

typedef enum kh_skip_reason {
    KH_SKIP_NONE = 0,
    KH_SKIP_SPECIAL,  /**< FIFO, socket or device */
    KH_SKIP_EXCLUDED, /**< matched an exclude pattern */
    KH_SKIP_TOO_BIG,  /**< larger than max_filesize */
    KH_SKIP_SYMLINK,  /**< symbolic link not followed */
    KH_SKIP_LOOP,     /**< directory already visited (symlink loop) */
} kh_skip_reason;

typedef struct kh_file_report {
    const char *path;
    uint64_t size;
    int status;          /**< 0, or the KH_E* that stopped this file */
    const char *error;   /**< message when status != 0 */
    kh_skip_reason skipped;
    int cached;          /**< 1: known clean from the cache, not read */
    size_t ndetections;
    const kh_detection *detections; /**< in a deterministic order */
    size_t nwarnings;
    const char *const *warnings;
    size_t nlogs;
    const char *const *logs; /**< console.log() messages of YARA rules, in order */
    uint64_t bytes_scanned;
} kh_file_report;

typedef int (*kh_report_cb)(const kh_file_report *r, void *payload);

typedef struct kh_walk_options {
    unsigned version;            /**< KH_WALK_OPTIONS_VERSION */
    unsigned threads;            /**< 0: one per online CPU */
    int follow_symlinks;         /**< follow symbolic links (loops are detected) */
    const char *const *excludes; /**< fnmatch(3) patterns, matched against full path and name */
    size_t nexcludes;
    kh_cache *cache;             /**< NULL: no clean-file cache */
    unsigned max_depth;          /**< 0: recurse without limit; 1: only the files directly in a folder */
    const char *const *defines;  /**< "name=value" YARA external values set on every scanner */
    size_t ndefines;
} kh_walk_options;

#define KH_WALK_OPTIONS_VERSION 1
#define KH_WALK_OPTIONS_INIT {KH_WALK_OPTIONS_VERSION, 0, 0, NULL, 0, NULL, 0, NULL, 0}

typedef struct kh_walk_stats {
    uint64_t files, dirs, skipped, errors, cached, infected, detections, bytes;
} kh_walk_stats;

/** Scans files and folders (recursively). Reports arrive one at a time, in
 *  walk order (directory entries sorted by name), from any thread.
 *  @return 0 (even if files had errors: see the reports), KH_EUSER,
 *  KH_ENOMEM, KH_EINVAL. */
KH_API int kh_scan_paths(const kh_rules *rules, const kh_scan_options *sopts,
                         const kh_walk_options *wopts, const char *const *paths, size_t npaths,
                         kh_report_cb on_report, void *payload, kh_walk_stats *stats_out);

/** Supplies the signature set to kh_scan_paths_lazy(). Called at most once,
 *  from the calling thread; the set must outlive the scan.
 *  @return 0, or an error that stops the scan (and is returned by it). */
typedef int (*kh_rules_fn)(void *payload, const kh_rules **out);

/** As kh_scan_paths(), but the signature set is asked for only when the
 *  first file has to be read: a scan whose files are all known clean from
 *  wopts->cache never loads it. @return as kh_scan_paths(), or the error of
 *  @p get_rules. */
KH_API int kh_scan_paths_lazy(kh_rules_fn get_rules, void *rules_payload, const kh_scan_options *sopts,
                              const kh_walk_options *wopts, const char *const *paths, size_t npaths,
                              kh_report_cb on_report, void *payload, kh_walk_stats *stats_out);

#endif
