/* Khiên — vuln: known vulnerabilities of the installed packages.
 *
 * A kh_vuln_db holds vulnerability records in the OSV format
 * (https://ossf.github.io/osv-schema/), read from .json files, folders of
 * them, or the per-ecosystem zip archives osv.dev publishes (for example
 * Debian's all.zip). A record that is not valid OSV is skipped and
 * described by kh_vuln_db_diag(); the others are kept.
 *
 * kh_vuln_check() matches the records of one ecosystem ("Debian:12") with
 * a list of installed packages: an advisory names a Debian *source*
 * package, so it applies to every binary package built from it, and its
 * version ranges are compared with the source version exactly as dpkg
 * orders versions. The result lists one finding per advisory and source
 * package, with the installed and the fixed version.
 *
 * Memory: objects returned through `**out` belong to the caller, who
 * destroys them; destroy(NULL) does nothing. Pointers from the getters are
 * borrowed and live as long as their object. A kh_vuln_report does not
 * borrow from the database. A database is read-only once loaded and may
 * then be shared by threads.
 */
#ifndef KHIEN_VULN_H
#define KHIEN_VULN_H

#include "common.h"
#include "error.h"

typedef struct kh_vuln_db kh_vuln_db;
typedef struct kh_vuln_report kh_vuln_report;

/* ---- Advisory database ----------------------------------------------- */

/** @return 0, KH_ENOMEM. */
KH_API int kh_vuln_db_create(kh_vuln_db **out);
KH_API void kh_vuln_db_destroy(kh_vuln_db *db);

/** Adds the records of a .json file (one record or an array of records), of
 *  every .json and .zip file under a folder (recursively), or of a .zip
 *  archive of .json files. Malformed records are skipped (see
 *  kh_vuln_db_diag()); that is not an error.
 *  @return 0, KH_ENOENT, KH_EACCES, KH_EIO (the path cannot be read),
 *  KH_EFORMAT (a damaged archive), KH_ENOMEM, KH_ELIMIT. */
KH_API int kh_vuln_db_add_path(kh_vuln_db *db, const char *path);

/** Adds the records in one JSON text; name is used in diagnostics.
 *  @return 0 (malformed records are diagnostics, not errors), KH_ENOMEM, KH_ELIMIT. */
KH_API int kh_vuln_db_add_json(kh_vuln_db *db, const char *name, const char *text, size_t len);

/** Records kept, records skipped as malformed, withdrawn records ignored. */
KH_API size_t kh_vuln_db_count(const kh_vuln_db *db);
KH_API size_t kh_vuln_db_skipped(const kh_vuln_db *db);
KH_API size_t kh_vuln_db_withdrawn(const kh_vuln_db *db);

typedef struct kh_vuln_diag {
    const char *source;  /**< file (for a zip member: "feed.zip!member.json") */
    const char *message; /**< English, names the record and the field */
} kh_vuln_diag;

/** The first problems met while loading (at most 1000 are kept). */
KH_API size_t kh_vuln_db_diag_count(const kh_vuln_db *db);
KH_API const kh_vuln_diag *kh_vuln_db_diag(const kh_vuln_db *db, size_t i);

/* ---- Matching --------------------------------------------------------------- */

typedef struct kh_vuln_package {
    const char *name;           /**< binary package */
    const char *version;        /**< its version */
    const char *arch;           /**< may be NULL */
    const char *source;         /**< source package; NULL: same as name */
    const char *source_version; /**< NULL: same as version */
} kh_vuln_package;

typedef struct kh_vuln_finding {
    const char *id;              /**< "DSA-5343-1", "DEBIAN-CVE-2023-0286" */
    const char *const *aliases;  /**< CVE and other identifiers of the same flaw */
    size_t naliases;
    const char *package;         /**< the source package named by the advisory */
    const char *const *binaries; /**< installed binary packages built from it */
    size_t nbinaries;
    const char *installed;       /**< installed (source) version */
    const char *fixed;           /**< first fixed version; NULL when no fix is known */
    const char *severity;        /**< "CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE" or NULL (unknown) */
    double score;                /**< CVSS base score, or -1 */
    const char *severity_vector; /**< the CVSS vector (or other rating) it came from, or NULL */
    const char *summary;         /**< summary, else the first line of details; "" if none */
    const char *ecosystem;       /**< the advisory's ecosystem ("Debian:12") */
} kh_vuln_finding;

/** Matches the advisories of an ecosystem with installed packages.
 *  An advisory ecosystem matches when equal to @p ecosystem or when it
 *  extends it with ":..." ("Ubuntu:22.04:LTS" for "Ubuntu:22.04").
 *  Findings are sorted by package, then id. Versions are Debian versions.
 *  @return 0, KH_EINVAL, KH_ENOMEM. */
KH_API int kh_vuln_check(kh_vuln_report **out, const kh_vuln_db *db, const char *ecosystem,
                         const kh_vuln_package *pkgs, size_t npkgs);

/** The same for the packages in ROOT/var/lib/dpkg/status (root NULL or "/":
 *  this host). ecosystem NULL: kh_vuln_detect_ecosystem().
 *  @return 0, KH_ENOENT (no dpkg database), KH_ENOTFOUND (ecosystem unknown),
 *  KH_EACCES, KH_EIO, KH_EINVAL, KH_ENOMEM, KH_ELIMIT. */
KH_API int kh_vuln_check_root(kh_vuln_report **out, const kh_vuln_db *db, const char *ecosystem, const char *root);

/** The OSV ecosystem of a host from its os-release: "Debian:12",
 *  "Ubuntu:22.04". @return 0, KH_ENOTFOUND (not Debian or Ubuntu, or no
 *  version), KH_ENOENT (no os-release), KH_ELIMIT (n too small). */
KH_API int kh_vuln_detect_ecosystem(char *out, size_t n, const char *root);

KH_API void kh_vuln_report_destroy(kh_vuln_report *r);
KH_API size_t kh_vuln_report_count(const kh_vuln_report *r);
/** The i-th finding, or NULL when out of range. */
KH_API const kh_vuln_finding *kh_vuln_report_at(const kh_vuln_report *r, size_t i);
/** Installed packages examined, and the ecosystem used. */
KH_API size_t kh_vuln_report_packages(const kh_vuln_report *r);
KH_API const char *kh_vuln_report_ecosystem(const kh_vuln_report *r);

/* ---- Versions ------------------------------------------------------------------- */

/** Compares two Debian versions exactly as `dpkg --compare-versions`:
 *  *out is -1, 0 or 1. Versions dpkg only warns about (not starting with a
 *  digit, unusual characters) are compared as dpkg compares them.
 *  @param why receives an English reason when a version is refused (may be NULL).
 *  @return 0, or KH_EFORMAT when dpkg would refuse a version (*out untouched). */
KH_API int kh_vuln_version_compare(int *out, const char *a, const char *b, const char **why);

/** CVSS base score of a v2 or v3.x vector ("CVSS:3.1/AV:N/..."), or -1 if
 *  it cannot be computed. */
KH_API double kh_vuln_cvss_score(const char *vector);

#endif
