/* Khiên — security configuration assessment (`khien audit`).
 *
 * A kh_policy is a parsed policy in the YAML format of Wazuh's SCA policies:
 * `policy:` (id, name, ...), optional `requirements:` that decide whether the
 * policy applies to the host, `variables:`, and `checks:`, each a list of
 * rules (f: file, d: directory, c: command, p: process, r: registry, and
 * Khiên's own k: built-in probes) combined with `condition: all|any|none`.
 * kh_audit_run() evaluates a policy against the running host or against a
 * directory tree standing for one (options.root), and reports every check
 * as passed, failed or not applicable, with the evidence that decided it.
 *
 * Commands (c: rules) run only from trusted policies: the built-in ones, or
 * a file loaded with KH_POLICY_TRUSTED that is owned by root and writable by
 * nobody else. Otherwise, and under a root directory unless the caller
 * allows it, c: rules are not applicable and the reason says why.
 *
 * Ownership: objects returned through `out` belong to the caller and are
 * released with their _destroy() function; destroy(NULL) is a no-op. Report
 * structures passed to callbacks are borrowed for the duration of the call.
 * A kh_policy is immutable after loading and may be shared by threads; each
 * kh_audit_run() call is independent.
 */
#ifndef KHIEN_AUDIT_H
#define KHIEN_AUDIT_H

#include "common.h"
#include "error.h"

typedef struct kh_policy kh_policy;

/* ---- Loading policies ----------------------------------------------- */

/** Load flags. */
#define KH_POLICY_TRUSTED 0x1u /**< the caller vouches for the source: c: rules may run */

/** Where and why a policy failed to load. Filled by the loaders on failure. */
typedef struct kh_policy_error {
    char file[256];    /**< policy file (or built-in name) */
    unsigned line;     /**< 1-based; 0 when not about one place */
    unsigned column;   /**< 1-based; 0 when unknown */
    char message[512]; /**< what is wrong, Vietnamese first then English */
} kh_policy_error;

/** Parses a policy held in memory. @p name names it in errors and reports.
 *  With KH_POLICY_TRUSTED its c: rules may run (built-in policies).
 *  @param[out] out the policy, on success only.
 *  @param[out] err details on failure (may be NULL).
 *  @return 0, KH_ESYNTAX (malformed policy: see @p err), KH_ELIMIT (too big),
 *  KH_ENOMEM, KH_EINVAL. */
KH_API int kh_policy_load_mem(kh_policy **out, const char *name, const void *data, size_t len,
                              unsigned flags, kh_policy_error *err);

/** Reads and parses a policy file (at most 4 MiB). With KH_POLICY_TRUSTED the
 *  c: rules may run only if the file is owned by root and is not writable by
 *  its group or by others; otherwise kh_policy_commands_note() says why not.
 *  @return as kh_policy_load_mem(), plus KH_ENOENT, KH_EACCES, KH_EIO. */
KH_API int kh_policy_load_file(kh_policy **out, const char *path, unsigned flags, kh_policy_error *err);

/** Number of policies built into the library (policies/ in the sources). */
KH_API size_t kh_policy_builtin_count(void);
/** Name of built-in policy @p i ("khien_credentials"), NULL if out of range. */
KH_API const char *kh_policy_builtin_name(size_t i);
/** Parses built-in policy @p i (trusted). @return as kh_policy_load_mem(),
 *  KH_ENOTFOUND if @p i is out of range. */
KH_API int kh_policy_load_builtin(kh_policy **out, size_t i, kh_policy_error *err);

KH_API void kh_policy_destroy(kh_policy *p);

/** Policy fields (borrowed; "" when absent, never NULL). */
KH_API const char *kh_policy_id(const kh_policy *p);
KH_API const char *kh_policy_name(const kh_policy *p);
KH_API const char *kh_policy_description(const kh_policy *p);
/** The file it was loaded from, or the built-in name. */
KH_API const char *kh_policy_source(const kh_policy *p);
KH_API size_t kh_policy_check_count(const kh_policy *p);
/** NULL if the policy's c: rules may run; otherwise why they may not. */
KH_API const char *kh_policy_commands_note(const kh_policy *p);

/* ---- Running a policy ----------------------------------------------- */

/** Run flags. */
#define KH_AUDIT_COMMANDS_WITH_ROOT 0x1u /**< run c: rules (on this host) even with a root directory */

typedef struct kh_audit_options {
    unsigned version;           /**< KH_AUDIT_OPTIONS_VERSION */
    unsigned flags;             /**< KH_AUDIT_* */
    const char *root;           /**< NULL or "/": this host; else every path is taken inside it */
    unsigned command_timeout_ms; /**< c: rules are killed after this */
    size_t command_output_limit; /**< bytes of command output kept (the rest is not read) */
    uint64_t max_file_size;     /**< content rules read at most this many bytes of a file */
    unsigned max_depth;         /**< directory recursion of d: rules and probes */
    uint64_t max_entries;       /**< directory entries one rule may visit */
    unsigned max_evidence;      /**< evidence items kept per check */
    int64_t now;                /**< current time (seconds since the epoch); 0: the clock */
} kh_audit_options;

#define KH_AUDIT_OPTIONS_VERSION 1
#define KH_AUDIT_OPTIONS_INIT \
    {KH_AUDIT_OPTIONS_VERSION, 0, NULL, 30000, 1u << 20, 64ull << 20, 16, 2000000, 20, 0}

typedef enum kh_check_result {
    KH_CHECK_PASSED = 0,
    KH_CHECK_FAILED = 1,
    KH_CHECK_NOT_APPLICABLE = 2,
} kh_check_result;

/** Outcome of one rule, after `not` is applied. */
typedef enum kh_rule_outcome {
    KH_RULE_FOUND = 0,     /**< the rule holds */
    KH_RULE_NOT_FOUND = 1, /**< the rule does not hold */
    KH_RULE_INVALID = 2,   /**< it could not be decided (unreadable file, not for this platform, ...) */
} kh_rule_outcome;

/** One piece of evidence: what a rule looked at and what it saw. */
typedef struct kh_evidence {
    const char *rule;      /**< the rule as evaluated (variables expanded) */
    kh_rule_outcome outcome;
    const char *kind;      /**< machine word: "line", "no-match", "exists", "missing", "process",
                                "unreadable", "skipped", "secret", "key", "account", "file", ... */
    const char *path;      /**< file, directory, command or process; NULL if none */
    unsigned line;         /**< 1-based line in the file or command output; 0 if none */
    const char *detail;    /**< the matching line (secrets masked) or a message; NULL if none */
} kh_evidence;

/** One `- key: [values]` entry of a check's `compliance:` list. */
typedef struct kh_compliance {
    const char *key;
    const char *const *values;
    size_t nvalues;
} kh_compliance;

/** The result of one check (all pointers borrowed for the callback). */
typedef struct kh_check_report {
    const char *policy_id;
    long long id;
    const char *title, *description, *rationale, *remediation; /**< "" when absent */
    const char *condition;                      /**< "all", "any" or "none" */
    const kh_compliance *compliance;
    size_t ncompliance;
    const char *const *references;
    size_t nreferences;
    kh_check_result result;
    const char *reason;                         /**< why not applicable; NULL otherwise */
    const kh_evidence *evidence;
    size_t nevidence;
    size_t evidence_dropped;                    /**< items left out (max_evidence) */
} kh_check_report;

/** What a whole run gave. score = passed * 100 / (passed + failed), -1 if none. */
typedef struct kh_policy_summary {
    int applicable;          /**< 0: the requirements are not met (no check was run) */
    const char *reason;      /**< when not applicable: the requirements' title; borrowed from the policy */
    unsigned passed, failed, not_applicable;
    int score;
} kh_policy_summary;

/** Receives each check's report, in policy order. Return 0 to continue. */
typedef int (*kh_check_cb)(const kh_check_report *r, void *payload);

/** Evaluates @p p. Requirements are evaluated first; when they are not met
 *  no check runs and summary->applicable is 0. @p opts may be NULL.
 *  @param[out] summary_out counts and score (may be NULL).
 *  @return 0 (failed checks are results, not errors), KH_EUSER, KH_ENOMEM,
 *  KH_EINVAL. */
KH_API int kh_audit_run(const kh_policy *p, const kh_audit_options *opts, kh_check_cb on_check, void *payload,
                        kh_policy_summary *summary_out);

/** Evaluates only the policy's requirements and reports them like a check
 *  (its id is 0), so that a caller can show why a policy does not apply.
 *  Does nothing when the policy has no requirements. @return as kh_audit_run(). */
KH_API int kh_audit_requirements(const kh_policy *p, const kh_audit_options *opts, kh_check_cb on_report,
                                 void *payload);

/** "passed", "failed" or "not_applicable". */
KH_API const char *kh_check_result_name(kh_check_result r);

#endif
