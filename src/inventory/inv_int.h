/* Khiên — inventory: internals shared by the collectors and the snapshot code.
 *
 * Collectors add tables, rows and fields through the kh_inv__* builder.
 * Its errors are sticky: after the first failure (out of memory, a limit)
 * every builder call does nothing, and kh_inventory_collect() returns that
 * first error, so collectors need not check each call. A row pointer stays
 * valid until the next row is added to the same table.
 */
#ifndef KH_INVENTORY_INT_H
#define KH_INVENTORY_INT_H

#include <stdint.h>

#include "khien/inventory.h"
#include "util/util.h"

#define KH_INV_MAX_ROWS 1000000  /* per table */
#define KH_INV_MAX_FIELDS 256    /* per row */
#define KH_INV_MAX_WARNINGS 200
#define KH_INV_MAX_VALUE (64u << 10)

typedef struct kh_inv_tab {
    kh_inv_table t;
    size_t cap;
} kh_inv_tab;

struct kh_inventory {
    kh_inv_tab *tabs;
    size_t ntabs, cap;
    char *collected_at, *root, *generator;
    char **warnings;
    size_t nwarnings, wcap;
    int err;             /* first builder error (sticky) */
    const char *rootdir; /* while collecting: the root prefix (borrowed) */
};

kh_inventory *kh_inv__new(void);
/* The table with this name, created (empty) if needed; NULL after an error. */
kh_inv_table *kh_inv__table(kh_inventory *inv, const char *name, kh_inv_category cat);
/* Appends a row; NULL after an error. */
kh_inv_row *kh_inv__row(kh_inventory *inv, kh_inv_table *t, const char *key);
kh_inv_row *kh_inv__rowf(kh_inventory *inv, kh_inv_table *t, const char *fmt, ...) KH_PRINTF(3, 4);
/* Adds a field (value copied; NULL values are skipped). */
void kh_inv__set(kh_inventory *inv, kh_inv_row *r, const char *name, const char *value, unsigned flags);
void kh_inv__setn(kh_inventory *inv, kh_inv_row *r, const char *name, const char *value, size_t n, unsigned flags);
void kh_inv__setf(kh_inventory *inv, kh_inv_row *r, const char *name, unsigned flags, const char *fmt, ...)
    KH_PRINTF(5, 6);
void kh_inv__set_u64(kh_inventory *inv, kh_inv_row *r, const char *name, uint64_t v, unsigned flags);
/* Records a warning (English, printf-style); at most KH_INV_MAX_WARNINGS. */
void kh_inv__warn(kh_inventory *inv, const char *fmt, ...) KH_PRINTF(2, 3);
/* Sorts every table's rows by key, makes keys unique ("key #2"), drops empty tables. */
void kh_inv__finish(kh_inventory *inv);

/* Collectors (collect_*.c). Each adds its tables to inv; problems reading
 * the host become warnings. */
void kh_inv__collect_storage(kh_inventory *inv);  /* disks, partitions, usb */
void kh_inv__collect_network(kh_inventory *inv);  /* interfaces, listening */
void kh_inv__collect_packages(kh_inventory *inv); /* packages */
void kh_inv__collect_accounts(kh_inventory *inv); /* users, groups, sudoers */
void kh_inv__collect_services(kh_inventory *inv); /* services, scheduled, autostart */

/* Small shared helpers. */
/* Reads a one-line file under the root; NULL if absent. Caller frees. */
char *kh_inv__line(kh_inventory *inv, const char *fmt, ...) KH_PRINTF(2, 3);
/* User names by uid, from ROOT/etc/passwd (collect_accounts.c). */
typedef struct kh_inv_passwd {
    char **names;
    uint64_t *uids;
    size_t n;
} kh_inv_passwd;
void kh_inv__passwd_load(kh_inventory *inv, kh_inv_passwd *pw);
const char *kh_inv__passwd_name(const kh_inv_passwd *pw, uint64_t uid);
void kh_inv__passwd_free(kh_inv_passwd *pw);

#endif
