/* Khiên — inventory: installed software packages.
 *
 * dpkg's status database is read by pkg_dpkg.c; this file turns it into
 * the "packages" table: one row per package whose files are on the system
 * (removed packages that left only configuration files are not installed
 * software), keyed by name and architecture because multiarch hosts can
 * have libfoo:amd64 and libfoo:i386 side by side. The source package and
 * its version are kept when they differ from the binary package's, since
 * advisories are written against source packages.
 *
 * RPM's SQLite database is read by pkg_rpm.c; several versions of one
 * package (kernels) get the version in their key. The older Berkeley DB
 * and ndb formats are detected but not read: the snapshot says so in a
 * warning rather than pretending the host has no packages.
 */
#include <string.h>

#include "inventory/inv_int.h"
#include "inventory/pkg_dpkg.h"
#include "inventory/pkg_rpm.h"
#include "inventory/rootfs.h"

void kh_inv__collect_packages(kh_inventory *inv)
{
    kh_dpkg_db db;
    kh_dpkg_init(&db);
    int rc = kh_dpkg_read(&db, inv->rootdir);
    int have_dpkg = rc != KH_ENOENT;
    if (rc && rc != KH_ENOENT) {
        if (rc == KH_ENOMEM)
            inv->err = inv->err ? inv->err : rc;
        kh_inv__warn(inv, "cannot read /var/lib/dpkg/status: %s", kh_strerror(rc));
    }
    for (size_t i = 0; i < db.ndiags; i++)
        kh_inv__warn(inv, "/var/lib/dpkg/status:%u: %s (skipped)", db.diags[i].line, db.diags[i].message);
    if (db.nbad > db.ndiags)
        kh_inv__warn(inv, "/var/lib/dpkg/status: %zu more malformed entries skipped", db.nbad - db.ndiags);
    kh_inv_table *t = kh_inv__table(inv, "packages", KH_INV_SOFTWARE);
    for (size_t i = 0; i < db.n; i++) {
        const kh_dpkg_pkg *p = &db.pkgs[i];
        if (!kh_dpkg_is_present(p))
            continue;
        kh_inv_row *r = *p->arch ? kh_inv__rowf(inv, t, "%s:%s", p->name, p->arch) : kh_inv__row(inv, t, p->name);
        kh_inv__set(inv, r, "name", p->name, 0);
        kh_inv__set(inv, r, "version", p->version, 0);
        kh_inv__set(inv, r, "arch", p->arch, 0);
        if (strcmp(p->source, p->name) != 0)
            kh_inv__set(inv, r, "source", p->source, 0);
        if (strcmp(p->source_version, p->version) != 0)
            kh_inv__set(inv, r, "source_version", p->source_version, 0);
        if (strcmp(p->state, "installed") != 0)
            kh_inv__set(inv, r, "state", p->state, 0);
        if (strcmp(p->want, "hold") == 0)
            kh_inv__set(inv, r, "hold", "yes", 0);
        kh_inv__set(inv, r, "manager", "dpkg", 0);
        kh_inv__set(inv, r, "summary", p->summary, 0);
    }
    kh_dpkg_dispose(&db);

    kh_rpm_db rdb;
    kh_rpm_init(&rdb);
    const char *rpath = NULL;
    rc = kh_rpm_read(&rdb, inv->rootdir, &rpath);
    int have_rpm = rc != KH_ENOENT;
    if (rc == KH_EUNSUPPORTED)
        kh_inv__warn(inv, "RPM database %s is in the Berkeley DB or ndb format, which is not read yet", rpath);
    else if (rc && rc != KH_ENOENT)
        kh_inv__warn(inv, "cannot read the RPM database %s: %s", rpath ? rpath : "", kh_strerror(rc));
    if (rc == KH_ENOMEM)
        inv->err = inv->err ? inv->err : rc;
    if (rdb.nbad)
        kh_inv__warn(inv, "%s: %zu package headers could not be read (skipped)", rpath ? rpath : "rpmdb", rdb.nbad);
    for (size_t i = 0; i < rdb.n; i++) {
        const kh_rpm_pkg *p = &rdb.pkgs[i];
        /* several versions of one package (kernels): the version joins the key */
        int dup = (i > 0 && strcmp(rdb.pkgs[i - 1].name, p->name) == 0 && strcmp(rdb.pkgs[i - 1].arch, p->arch) == 0) ||
                  (i + 1 < rdb.n && strcmp(rdb.pkgs[i + 1].name, p->name) == 0 &&
                   strcmp(rdb.pkgs[i + 1].arch, p->arch) == 0);
        kh_inv_row *r = dup ? kh_inv__rowf(inv, t, "%s:%s %s", p->name, p->arch, p->version)
                            : kh_inv__rowf(inv, t, "%s:%s", p->name, p->arch);
        kh_inv__set(inv, r, "name", p->name, 0);
        kh_inv__set(inv, r, "version", p->version, 0);
        kh_inv__set(inv, r, "arch", p->arch, 0);
        if (strcmp(p->source, p->name) != 0)
            kh_inv__set(inv, r, "source", p->source, 0);
        kh_inv__set(inv, r, "manager", "rpm", 0);
        kh_inv__set(inv, r, "summary", p->summary, 0);
    }
    kh_rpm_dispose(&rdb);
    if (!have_dpkg && !have_rpm)
        kh_inv__warn(inv, "no package database found (/var/lib/dpkg/status, /var/lib/rpm)");
}
