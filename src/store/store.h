/* Khiên — store: the centre's persistence behind a narrow backend interface.
 *
 * The server speaks portable SQL (standard SELECT/INSERT/UPDATE/DELETE,
 * numbered parameters ?1..?N, INSERT ... ON CONFLICT) to a kh_store; the
 * backend executes it. A backend is a struct of function pointers, the
 * libgit2 odb_backend shape: SQLite today (store/sqlite.c, the only file that
 * includes sqlite3.h), PostgreSQL next (store/pg.c: translate ?N to $N, run
 * its own DDL) without touching the API code. Each backend carries its own
 * schema migrations (DDL is dialect-specific); kh_store_open() applies the
 * missing ones in order, each in a transaction.
 *
 * Rows come back as jansson objects keyed by column name. Two naming
 * conventions of the result columns: a column named `x_json` holds JSON text
 * and is returned parsed under the name `x`; a column named `x_bool` is
 * returned as a JSON boolean under the name `x`.
 *
 * Thread-safety: one kh_store is shared by all worker threads; every call
 * holds a recursive lock, and kh_store_begin() keeps it until
 * kh_store_commit()/kh_store_rollback(), so a transaction is never
 * interleaved with another thread's statements.
 */
#ifndef KH_STORE_STORE_H
#define KH_STORE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum { KH_SV_NULL = 0, KH_SV_INT, KH_SV_REAL, KH_SV_TEXT };

/** One statement parameter. */
typedef struct kh_sval {
    int type;
    int64_t i;
    double r;
    const char *s;
} kh_sval;

#define KH_SV_I(x) ((kh_sval){KH_SV_INT, (int64_t)(x), 0, NULL})
static inline kh_sval kh_sv_text(const char *s)
{
    kh_sval v = {s ? KH_SV_TEXT : KH_SV_NULL, 0, 0, s};
    return v;
}
#define KH_SV_S(x) kh_sv_text(x)
#define KH_SV_NUL ((kh_sval){KH_SV_NULL, 0, 0, NULL})

#define KH_STORE_MAX_ROWS 100000 /* a query returning more fails with KH_ELIMIT */

typedef struct kh_store_backend {
    unsigned version; /* KH_STORE_BACKEND_VERSION */
    const char *name;
    int (*open)(void **db, const char *location, char *err, size_t errsz);
    void (*close)(void *db);
    /* Runs one statement; *changes = rows changed, *last_id = last inserted rowid/id. */
    int (*exec)(void *db, const char *sql, const kh_sval *p, size_t n, int64_t *changes, int64_t *last_id);
    /* Runs a query; *rows = JSON array of objects (column name -> value). */
    int (*query)(void *db, const char *sql, const kh_sval *p, size_t n, size_t max_rows, json_t **rows);
    int (*begin)(void *db);
    int (*commit)(void *db);
    int (*rollback)(void *db);
    const char *(*errmsg)(void *db);
    const char *const *migrations; /* DDL scripts, applied in order (schema version = index + 1) */
    size_t n_migrations;
} kh_store_backend;
#define KH_STORE_BACKEND_VERSION 1

extern const kh_store_backend kh_store_backend_sqlite;

typedef struct kh_store kh_store;

/** Opens (creating if needed) and migrates a store.
 * @return 0, KH_EIO (cannot open; message in err), KH_EFORMAT (schema newer than this program), KH_ENOMEM */
int kh_store_open(kh_store **out, const kh_store_backend *be, const char *location, char *err, size_t errsz);
void kh_store_close(kh_store *st);
/** Schema version after migrations. */
int kh_store_schema_version(kh_store *st);

/** Runs a statement. @return rows changed (>= 0), or KH_EINVAL (constraint
 * violated: unique, foreign key, check), KH_EIO. *last_id may be NULL. */
int kh_store_exec(kh_store *st, int64_t *last_id, const char *sql, const kh_sval *p, size_t n);
/** Runs a query; *rows is a new JSON array (caller json_decref's). @return 0, KH_EIO, KH_ELIMIT */
int kh_store_query(kh_store *st, json_t **rows, const char *sql, const kh_sval *p, size_t n);
/** First row only; @return 0, KH_ENOTFOUND, KH_EIO */
int kh_store_query_one(kh_store *st, json_t **row, const char *sql, const kh_sval *p, size_t n);
/** First column of the first row as an integer; @return 0, KH_ENOTFOUND, KH_EIO */
int kh_store_query_int(kh_store *st, int64_t *out, const char *sql, const kh_sval *p, size_t n);

int kh_store_begin(kh_store *st);
int kh_store_commit(kh_store *st);
void kh_store_rollback(kh_store *st);
/** The backend's last message (valid until the next call on this thread's transaction). */
const char *kh_store_errmsg(kh_store *st);

#endif
