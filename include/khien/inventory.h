/* Khiên — inventory: what a host is made of, and what changed.
 *
 * kh_inventory_collect() reads a host (or a copy of one under a root
 * folder) directly from /proc, /sys, /etc and the package databases, with
 * no helper programs, and returns a snapshot: a list of tables ("os",
 * "cpu", "disks", "packages", "users", "listening", "services", ...), each
 * a list of rows sorted by a stable key, each row a list of named text
 * fields. Every table belongs to one category (hardware, software,
 * account, network, service), which types the changes a diff reports.
 *
 * A snapshot converts to JSON (stable member order, sorted rows, so that
 * the same host gives the same text) and back, and two snapshots give a
 * kh_inv_diff: rows added, removed and changed, with the fields before
 * and after. Fields marked KH_INV_FIELD_VOLATILE (uptime, process ids,
 * free memory) are kept in snapshots but never reported as changes.
 *
 * Memory: objects returned through `**out` belong to the caller, who
 * destroys them; destroy(NULL) does nothing. Pointers returned by the
 * getters are borrowed and live as long as their object. A kh_inv_diff
 * borrows rows from both snapshots: destroy it before them. Objects are
 * immutable once built and may be read from several threads.
 */
#ifndef KHIEN_INVENTORY_H
#define KHIEN_INVENTORY_H

#include "common.h"
#include "error.h"

typedef struct kh_inventory kh_inventory;
typedef struct kh_inv_diff kh_inv_diff;

/* ---- Snapshot contents ------------------------------------------------ */

typedef enum kh_inv_category {
    KH_INV_HARDWARE = 0, /**< machine, CPU, memory, disks, USB, DMI */
    KH_INV_SOFTWARE = 1, /**< operating system, packages */
    KH_INV_ACCOUNT = 2,  /**< users, groups, administrators */
    KH_INV_NETWORK = 3,  /**< interfaces, listening sockets */
    KH_INV_SERVICE = 4,  /**< services, scheduled tasks, autostart entries */
} kh_inv_category;
#define KH_INV_NCATEGORIES 5

#define KH_INV_FIELD_NUMBER 0x1u   /**< the value is a decimal integer (a JSON number) */
#define KH_INV_FIELD_VOLATILE 0x2u /**< changes by itself; never reported by a diff */

typedef struct kh_inv_field {
    const char *name;
    const char *value; /**< never NULL */
    unsigned flags;    /**< KH_INV_FIELD_* */
} kh_inv_field;

typedef struct kh_inv_row {
    const char *key; /**< unique within its table; rows are sorted by it (bytewise) */
    const kh_inv_field *fields;
    size_t nfields;
} kh_inv_row;

typedef struct kh_inv_table {
    const char *name; /**< "os", "host", "dmi", "cpu", "memory", "disks", "partitions", "usb",
                           "interfaces", "listening", "packages", "users", "groups", "sudoers",
                           "services", "scheduled", "autostart" */
    kh_inv_category category;
    const kh_inv_row *rows;
    size_t nrows;
} kh_inv_table;

/* ---- Collecting --------------------------------------------------------- */

typedef struct kh_inventory_options {
    unsigned version; /**< KH_INVENTORY_OPTIONS_VERSION */
    const char *root; /**< read ROOT/proc, ROOT/etc, ...; NULL or "/": this host */
} kh_inventory_options;

#define KH_INVENTORY_OPTIONS_VERSION 1
#define KH_INVENTORY_OPTIONS_INIT {KH_INVENTORY_OPTIONS_VERSION, NULL}

/** Reads the host. Parts that cannot be read (no permission, missing
 *  files) are left out and described by kh_inventory_warning().
 *  @param[out] out the snapshot, set only on success.
 *  @return 0, KH_EINVAL (bad options), KH_ENOENT (root is not a folder), KH_ENOMEM, KH_ELIMIT. */
KH_API int kh_inventory_collect(kh_inventory **out, const kh_inventory_options *opts);
KH_API void kh_inventory_destroy(kh_inventory *inv);

/** Number of tables, and the i-th table (NULL when out of range). */
KH_API size_t kh_inventory_table_count(const kh_inventory *inv);
KH_API const kh_inv_table *kh_inventory_table_at(const kh_inventory *inv, size_t i);
/** The table with this name, or NULL. */
KH_API const kh_inv_table *kh_inventory_table(const kh_inventory *inv, const char *name);
/** The value of a row's field, or NULL if the row has no such field. */
KH_API const char *kh_inv_row_get(const kh_inv_row *row, const char *field);

/** Snapshot metadata: "collected_at" (UTC, ISO 8601), "root", "generator";
 *  NULL when unknown. */
KH_API const char *kh_inventory_meta(const kh_inventory *inv, const char *name);
/** What could not be read while collecting (English, one line each). */
KH_API size_t kh_inventory_warning_count(const kh_inventory *inv);
KH_API const char *kh_inventory_warning(const kh_inventory *inv, size_t i);

/** "hardware", "software", "account", "network", "service". */
KH_API const char *kh_inv_category_name(kh_inv_category c);

/** The operating system's name (PRETTY_NAME of os-release) of the system
 * mounted at root (NULL: this machine) into out; "" when unknown. */
KH_API void kh_inventory_os_name(char *out, size_t n, const char *root);

/* ---- JSON ----------------------------------------------------------------- */

/** The snapshot as JSON text (UTF-8, one row per line, ends with a newline).
 *  @param[out] out malloc'ed text, caller frees; @param[out] len_out may be NULL.
 *  @return 0, KH_ENOMEM. */
KH_API int kh_inventory_to_json(const kh_inventory *inv, char **out, size_t *len_out);

/** Reads a snapshot written by kh_inventory_to_json().
 *  @param err receives an English message on failure ("line 3: ..."); may be NULL.
 *  @return 0, KH_EFORMAT (not JSON, or not a Khiên snapshot), KH_ENOMEM, KH_ELIMIT. */
KH_API int kh_inventory_from_json(kh_inventory **out, const char *text, size_t len, char *err, size_t errlen);

/* ---- Differences ------------------------------------------------------------ */

typedef enum kh_inv_change {
    KH_INV_ADDED = 0,
    KH_INV_REMOVED = 1,
    KH_INV_CHANGED = 2,
} kh_inv_change;

typedef struct kh_inv_diff_entry {
    kh_inv_category category;
    kh_inv_change change;
    const char *table;
    const char *key;
    const kh_inv_row *before;  /**< NULL when ADDED */
    const kh_inv_row *after;   /**< NULL when REMOVED */
    const char *const *fields; /**< CHANGED: the fields that differ (present in either row) */
    size_t nfields;
} kh_inv_diff_entry;

/** Compares two snapshots. Entries are sorted by category, table and key;
 *  volatile fields are ignored. @return 0, KH_EINVAL, KH_ENOMEM. */
KH_API int kh_inventory_diff(kh_inv_diff **out, const kh_inventory *before, const kh_inventory *after);
KH_API void kh_inv_diff_destroy(kh_inv_diff *d);
KH_API size_t kh_inv_diff_count(const kh_inv_diff *d);
/** The i-th change, or NULL when out of range. */
KH_API const kh_inv_diff_entry *kh_inv_diff_at(const kh_inv_diff *d, size_t i);
/** "added", "removed", "changed". */
KH_API const char *kh_inv_change_name(kh_inv_change c);
/** The differences as JSON text (ends with a newline). @return 0, KH_ENOMEM. */
KH_API int kh_inv_diff_to_json(const kh_inv_diff *d, char **out, size_t *len_out);

#endif
