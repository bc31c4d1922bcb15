/* Khiên — audit: internal interfaces shared by the files of src/audit/.
 *
 *   policy.c   YAML policy -> kh_policy (rules parsed and regexes compiled)
 *   regex.c    the regex dialects of policies (OS_Regex, OS_Match, PCRE2 subset)
 *   eval.c     kh_audit_run(): checks, conditions, f: d: c: p: r: rules
 *   hostfs.c   paths inside a root directory, globs, bounded directory walks
 *   exec.c     running a c: command without a shell, with timeout and bound
 *   secrets.c  the bounded line scanner for secrets (keys, tokens, passwords)
 *   probes.c   Khiên's k: probes (credentials, accounts, permissions)
 *   builtin    the .yml files of policies/, embedded at build time (CMake)
 */
#ifndef KH_AUDIT_INT_H
#define KH_AUDIT_INT_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "khien/audit.h"
#include "util/util.h"

/* ---- Arena: every string and array of a policy lives in one ----------- */

typedef struct kh_arena_chunk kh_arena_chunk;
typedef struct kh_arena {
    kh_arena_chunk *head;
    size_t used, avail; /* in head */
    size_t total, limit;
} kh_arena;

void kh_arena_init(kh_arena *a, size_t limit);
void kh_arena_dispose(kh_arena *a);
void *kh_arena_alloc(kh_arena *a, size_t n); /* zeroed, 16-aligned; NULL on ENOMEM/limit */
char *kh_arena_strndup(kh_arena *a, const char *s, size_t n);
char *kh_arena_strdup(kh_arena *a, const char *s);
char *kh_arena_printf(kh_arena *a, const char *fmt, ...) KH_PRINTF(2, 3);

/* ---- Regular expressions of the three dialects ------------------------ */

typedef enum kh_re_dialect {
    KH_RE_OSREGEX = 0, /* Wazuh OS_Regex: \w \d \s \t \p \W \D \S \. + * ^ $ | ( ); case-insensitive */
    KH_RE_OSMATCH = 1, /* Wazuh OS_Match: literal text with ^ $ | (and ! negation); case-insensitive */
    KH_RE_PCRE2 = 2,   /* the PCRE2 subset that translates to POSIX ERE */
} kh_re_dialect;

typedef struct kh_re kh_re;

/* Compiles pattern. On a syntax error returns KH_ESYNTAX with a message in
 * err; KH_EUNSUPPORTED for valid patterns we cannot run (PCRE2 look-around
 * ...). The regex is allocated from the arena; kh_re_release() frees what
 * the arena does not hold (POSIX regex_t). */
int kh_re_compile(kh_re **out, kh_arena *a, kh_re_dialect d, const char *pattern, char *err, size_t errlen);
void kh_re_release(kh_re *re);
/* 1 if re matches somewhere in s[0..n); the first capture group's span
 * goes to *cap_off and *cap_len when they are non-NULL (-1 if none). 0 no match. */
int kh_re_match(const kh_re *re, const char *s, size_t n, long *cap_off, long *cap_len);
int kh_re_has_capture(const kh_re *re);

/* ---- Parsed policies ----------------------------------------------------- */

typedef enum kh_rule_type {
    KH_RT_FILE = 0, /* f: */
    KH_RT_DIR,      /* d: */
    KH_RT_CMD,      /* c: */
    KH_RT_PROC,     /* p: */
    KH_RT_REG,      /* r: registry (Windows): never applicable here */
    KH_RT_PROBE,    /* k: Khiên built-in probe */
} kh_rule_type;

typedef enum kh_mt_type { KH_MT_LITERAL = 0, KH_MT_REGEX, KH_MT_NUMERIC } kh_mt_type;
typedef enum kh_cmp { KH_CMP_LT = 0, KH_CMP_LE, KH_CMP_EQ, KH_CMP_NE, KH_CMP_GE, KH_CMP_GT } kh_cmp;

typedef struct kh_minterm {
    int negated; /* leading ! */
    kh_mt_type type;
    const char *text; /* literal text, or the regex source */
    kh_re *re;
    kh_cmp op;
    long long value;
} kh_minterm;

/* A content pattern: minterms joined with " && ", all true on one line. */
typedef struct kh_pattern {
    kh_minterm *m;
    size_t n;
} kh_pattern;

typedef struct kh_rule {
    const char *text; /* as written, variables expanded */
    unsigned line;
    int negated;      /* "not " */
    kh_rule_type type;
    const char *location; /* f:/d: path list, c: command, p: name, k: probe and arguments */
    const kh_re *name_re; /* d: file name filter (r:), or OS_Match text in name_text */
    const char *name_text;
    const kh_pattern *content; /* NULL: existence only */
    const char *unsupported;   /* non-NULL: always KH_RULE_INVALID with this reason */
} kh_rule;

enum { KH_COND_ALL = 0, KH_COND_ANY = 1, KH_COND_NONE = 2 };

typedef struct kh_check {
    long long id;
    unsigned line;
    const char *title, *description, *rationale, *remediation;
    int condition;
    kh_compliance *compliance;
    size_t ncompliance;
    const char **references;
    size_t nreferences;
    kh_rule *rules;
    size_t nrules;
} kh_check;

struct kh_policy {
    kh_arena arena;
    const char *id, *name, *description, *file_field, *source;
    int has_requirements;
    kh_check requirements;
    kh_check *checks;
    size_t nchecks;
    const char *commands_note; /* NULL: c: rules may run */
    int missing_not_found;     /* policy.missing_files: not_found (Khiên extension) */
    kh_re **regexes;           /* to release */
    size_t nregexes;
};

/* ---- Evaluation context ------------------------------------------------ */

typedef struct kh_proc_info {
    long pid;
    char *comm;    /* /proc/PID/comm */
    char *cmdline; /* argv joined with spaces (bounded) */
} kh_proc_info;

typedef struct kh_audit_ctx {
    kh_audit_options o;
    const char *root; /* NULL: this host */
    int commands_ok;
    const char *commands_note;
    int missing_not_found; /* content of a missing file/folder: not found instead of invalid */
    int64_t now;
    /* per check */
    kh_arena ev_arena;
    KH_VEC(kh_evidence) ev;
    size_t ev_dropped;
    const kh_rule *rule; /* rule being evaluated */
    uint64_t entries;    /* directory entries visited by this rule */
    /* processes, read once per run */
    int procs_loaded;
    KH_VEC(kh_proc_info) procs;
} kh_audit_ctx;

/* Records evidence for the current rule (strings copied). Never fails the
 * caller: past max_evidence items are only counted. */
void kh_ev_add(kh_audit_ctx *c, kh_rule_outcome o, const char *kind, const char *path, unsigned line,
               const char *detail);
void kh_ev_addf(kh_audit_ctx *c, kh_rule_outcome o, const char *kind, const char *path, unsigned line,
                const char *fmt, ...) KH_PRINTF(6, 7);
/* A line of a file or of command output made fit for a report: cut at 160
 * characters, control bytes replaced, and never a secret (a line of a
 * password file, or one in which the secret scanner finds something, is
 * replaced by a note). Written to out (cleared first). */
void kh_ev_quote(kh_buf *out, const char *path, const char *s, size_t n);

/* ---- hostfs.c: the audited file system ---------------------------------- */

/* Host path of `path` (absolute, inside the audited system). With a root,
 * symbolic links are resolved inside the root, never outside it. Returns 0,
 * KH_ENOENT (a parent does not exist), KH_ELIMIT (link loop / too long). */
int kh_host_path(const kh_audit_ctx *c, const char *path, kh_buf *out);
/* stat/lstat through kh_host_path; return 0 or a negative KH_E*. */
int kh_host_stat(const kh_audit_ctx *c, const char *path, struct stat *st);
int kh_host_lstat(const kh_audit_ctx *c, const char *path, struct stat *st);
/* Opens a file of the audited system for reading (O_NOFOLLOW on the host
 * path under a root, so a link cannot escape it). Returns fd or -KH_E*. */
int kh_host_open(const kh_audit_ctx *c, const char *path);

/* Calls fn for each existing path matching a pattern that may hold glob
 * characters (* ? [) in any component (a Khiên extension; plain paths are
 * passed through whether they exist or not). Returns the number of paths
 * passed, KH_EUSER if fn returned non-zero, or another negative KH_E* code. */
typedef int (*kh_path_fn)(kh_audit_ctx *c, const char *path, void *payload);
int kh_host_glob(kh_audit_ctx *c, const char *pattern, kh_path_fn fn, void *payload);
int kh_has_glob(const char *s);

/* Walks a directory (in-root path), depth-first, entries in name order,
 * not following symbolic links, at most max_depth levels and max_entries
 * entries (then KH_ELIMIT). fn receives every entry (files, directories,
 * links) with its lstat; returning 1 skips a directory's contents, another
 * non-zero value stops the walk (returned). */
typedef int (*kh_walk_fn)(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload);
int kh_host_walk(kh_audit_ctx *c, const char *dir, unsigned max_depth, kh_walk_fn fn, void *payload);

/* Reads a file line by line (at most max_file_size bytes, lines cut at 64
 * KiB; \r\n and \n endings removed). fn returns 0 to continue, else the
 * value is returned. Returns 0, or negative KH_E* if it cannot be opened. */
typedef int (*kh_line_fn)(void *payload, const char *line, size_t n, unsigned lineno);
int kh_host_read_lines(kh_audit_ctx *c, const char *path, kh_line_fn fn, void *payload);
/* 1 if everybody (o+r, and o+x on every parent directory) can read path. */
int kh_host_world_readable(kh_audit_ctx *c, const char *path, const struct stat *st);

/* ---- exec.c: commands --------------------------------------------------- */

typedef struct kh_exec_result {
    int started;   /* 0: could not be started (see error) */
    int exit_code; /* -1 if killed by a signal */
    int timed_out;
    int truncated; /* output longer than the limit */
    char error[160];
} kh_exec_result;

/* Splits a command line like Wazuh does (spaces; "double" and 'single'
 * quotes; backslash escapes) into argv (arena). Returns argc or KH_ESYNTAX. */
int kh_exec_split(kh_arena *a, const char *cmd, char ***argv_out);
/* Runs argv (no shell; PATH is a fixed system path; stdin /dev/null;
 * stdout and stderr together into out, at most limit bytes). */
int kh_exec_run(char *const *argv, unsigned timeout_ms, size_t limit, kh_buf *out, kh_exec_result *res);

/* ---- secrets.c --------------------------------------------------------- */

typedef struct kh_secret_hit {
    const char *kind;  /* machine word: "private-key", "aws-access-key", "password-assignment", ... */
    const char *label; /* "Vietnamese / English" */
    char hint[16];     /* masked hint: a known prefix or 2 characters then ***; never the secret */
} kh_secret_hit;

/* Scans one line. base is the file's name (some formats depend on it:
 * .pgpass, .netrc); may be NULL. Returns the number of hits stored (<= max). */
size_t kh_secret_scan_line(const char *s, size_t n, const char *base, kh_secret_hit *hits, size_t max);

/* Is there a private key header (-----BEGIN ... PRIVATE KEY-----) on this
 * line? *type receives the word before PRIVATE ("RSA ", "OPENSSH ",
 * "ENCRYPTED ", "" for PKCS#8 ...). */
int kh_secret_key_header(const char *s, size_t n, const char **type);

/* ---- probes.c --------------------------------------------------------- */

/* Runs k:NAME ARGS. Returns the outcome (before `not`); evidence added. */
kh_rule_outcome kh_probe_run(kh_audit_ctx *c, const char *location);
/* 1 if a probe of that name exists (policy loading). */
int kh_probe_known(const char *location, char *err, size_t errlen);

/* ---- eval.c (used by probes for shared helpers) ------------------------- */

int64_t kh_audit_now(const kh_audit_ctx *c);

/* ---- built-in policies (generated) -------------------------------------- */

typedef struct kh_builtin_policy {
    const char *name; /* file name without .yml */
    const unsigned char *data;
    size_t len;
} kh_builtin_policy;

extern const kh_builtin_policy kh_builtin_policies[];
extern const size_t kh_builtin_policies_count;

#endif
