/* Khiên — inventory: dpkg's status database and Debian version numbers.
 *
 * Internal to libkhien, shared by inventory (packages), vuln (matching
 * installed packages against advisories) and audit (policy checks on
 * packages). Nothing here runs dpkg: the status file is read directly.
 *
 * Memory: a kh_dpkg_db owns every string of its packages; they live until
 * kh_dpkg_dispose(). Packages are sorted by (name, arch).
 */
#ifndef KH_INVENTORY_PKG_DPKG_H
#define KH_INVENTORY_PKG_DPKG_H

#include <stddef.h>

#include "util/util.h"

typedef struct kh_dpkg_pkg {
    char *name;           /* Package */
    char *version;        /* Version ("" for not-installed stanzas without one) */
    char *arch;           /* Architecture ("" if absent) */
    char *source;         /* source package: Source's name, else Package */
    char *source_version; /* Source's "(version)", else Version */
    char *want;           /* first word of Status: install, hold, deinstall, purge, unknown */
    char *state;          /* third word of Status: installed, config-files, half-installed, ... */
    char *summary;        /* first line of Description ("" if absent) */
    unsigned line;        /* line of the status file where the stanza starts */
} kh_dpkg_pkg;

typedef struct kh_dpkg_diag {
    unsigned line;
    char *message;
} kh_dpkg_diag;

typedef struct kh_dpkg_db {
    kh_dpkg_pkg *pkgs;
    size_t n, cap;
    kh_dpkg_diag *diags; /* the first KH_DPKG_MAX_DIAGS problems */
    size_t ndiags, diags_cap;
    size_t nbad; /* stanzas skipped as malformed (may exceed ndiags) */
} kh_dpkg_db;

#define KH_DPKG_MAX_DIAGS 100
#define KH_DPKG_MAX_PKGS 1000000
#define KH_DPKG_STATUS_LIMIT (256u << 20)

void kh_dpkg_init(kh_dpkg_db *db);
void kh_dpkg_dispose(kh_dpkg_db *db);

/* Parses the text of a status file (deb822 stanzas). A malformed stanza
 * (no Package field, a line that is not "Field: value", a bad Status or a
 * Version dpkg would reject) is recorded in db->diags and skipped; the
 * rest is kept. @return 0, KH_ENOMEM, KH_ELIMIT. */
int kh_dpkg_parse(kh_dpkg_db *db, const char *text, size_t len);

/* Reads root/var/lib/dpkg/status (root: NULL or "/" for this system).
 * @return 0, KH_ENOENT (no dpkg database), KH_EACCES, KH_EIO, KH_ENOMEM, KH_ELIMIT. */
int kh_dpkg_read(kh_dpkg_db *db, const char *root);

/* 1 if the package's files are on the system (state is neither
 * not-installed nor config-files). */
int kh_dpkg_is_present(const kh_dpkg_pkg *p);

/* The first package with this name (any architecture), or NULL. */
const kh_dpkg_pkg *kh_dpkg_find(const kh_dpkg_db *db, const char *name);

/* ---- Debian version numbers ([epoch:]upstream[-revision]) -------------- */

/* Checks a version string as dpkg's parseversion() does. @return 0 valid,
 * 1 accepted with a warning (dpkg warns and goes on: the version does not
 * start with a digit, or has characters outside the allowed set), or
 * KH_EFORMAT (dpkg refuses it: empty, embedded blanks, bad epoch, nothing
 * after the colon, empty revision or upstream part). If why is non-NULL it
 * receives a static English explanation for 1 and KH_EFORMAT. */
int kh_dpkg_version_check(const char *v, const char **why);

/* Compares two versions exactly as dpkg --compare-versions: *out is <0,
 * 0 or >0. @return 0, or KH_EFORMAT if either version is refused (see
 * kh_dpkg_version_check); *out is then untouched. */
int kh_dpkg_version_compare(const char *a, const char *b, int *out);

/* Comparison of two strings already known to be valid versions; a refused
 * version compares as if it were its longest valid reading. For sorting. */
int kh_dpkg_vercmp(const char *a, const char *b);

#endif
