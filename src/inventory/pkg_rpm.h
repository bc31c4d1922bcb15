/* Khiên — inventory: RPM's package database (rpmdb.sqlite).
 *
 * Internal to libkhien. rpm 4.16 and later (Fedora 33+, RHEL/AlmaLinux/
 * Rocky 9, openSUSE) keep installed packages in an SQLite database whose
 * "Packages" table holds one RPM header blob per package. It is read here
 * without SQLite and without rpm: a read-only walk of the table's b-tree in
 * the file, then the few header tags we need. The older Berkeley DB
 * ("Packages") and ndb ("Packages.db") formats are recognised but not read.
 *
 * Memory: a kh_rpm_db owns its strings until kh_rpm_dispose(). Packages are
 * sorted by (name, arch, version).
 */
#ifndef KH_INVENTORY_PKG_RPM_H
#define KH_INVENTORY_PKG_RPM_H

#include <stddef.h>
#include <stdint.h>

#include "khien/error.h"

typedef struct kh_rpm_pkg {
    char *name;
    char *version; /* [epoch:]version-release, as rpm -q --qf '%{EVR}' */
    char *arch;    /* "" for packages without one (gpg-pubkey) */
    char *source;  /* source package name from SOURCERPM, else name */
    char *summary;
} kh_rpm_pkg;

typedef struct kh_rpm_db {
    kh_rpm_pkg *pkgs;
    size_t n, cap;
    size_t nbad; /* header blobs that could not be read */
} kh_rpm_db;

#define KH_RPM_DB_LIMIT (1024u << 20)

void kh_rpm_init(kh_rpm_db *db);
void kh_rpm_dispose(kh_rpm_db *db);

/* Reads the SQLite rpmdb of a system under root (NULL: this host), trying
 * /var/lib/rpm/rpmdb.sqlite and /usr/lib/sysimage/rpm/rpmdb.sqlite. *path_out
 * (may be NULL) receives the file used, static. Changes still in the
 * write-ahead log (rpmdb.sqlite-wal) are not seen.
 * @return 0, KH_ENOENT (no rpm database), KH_EUNSUPPORTED (Berkeley DB or
 * ndb format), KH_EFORMAT (not a valid SQLite file, or no Packages table),
 * KH_EACCES, KH_EIO, KH_ENOMEM, KH_ELIMIT. */
int kh_rpm_read(kh_rpm_db *db, const char *root, const char **path_out);

/* Parses a whole rpmdb.sqlite file held in memory. @return as kh_rpm_read. */
int kh_rpm_parse_sqlite(kh_rpm_db *db, const uint8_t *data, size_t len);

/* Reads name, version, arch, source, summary from one RPM header blob
 * (index count, data length, index entries, data). @return 0, KH_EFORMAT,
 * KH_ENOMEM. On success the caller frees the fields (kh_rpm_pkg_free). */
int kh_rpm_parse_header(kh_rpm_pkg *out, const uint8_t *blob, size_t len);
void kh_rpm_pkg_free(kh_rpm_pkg *p);

#endif
