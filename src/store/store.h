/* Khiên — store: the centre's persistence behind a narrow backend interface.
 *
 * The server speaks portable SQL (standard SELECT/INSERT/UPDATE/DELETE,
 * numbered parameters ?1..?N, of which a statement may leave some unused,
 * INSERT ... ON CONFLICT) to a kh_store; the
 * backend executes it. A backend is a struct of function pointers, the
 * libgit2 odb_backend shape: SQLite by default (store/sqlite.c, the only
 * file that includes sqlite3.h) and PostgreSQL for a province (store/pg.c,
 * the only file that includes libpq-fe.h: it translates ?N to $N and runs
 * its own DDL). Each backend carries its own schema migrations (DDL is
 * dialect-specific); kh_store_open() applies the missing ones in order, each
 * in a transaction. kh_store_backend_for() picks the backend from the
 * location: a postgresql:// (or postgres://) URL, else an SQLite file.
 *
 * Portable SQL, as the server writes it: times are computed in C and bound
 * as parameters (no datetime()/now()); INSERT ... ON CONFLICT instead of
 * INSERT OR IGNORE/REPLACE; COALESCE, not IFNULL; integer 0/1 columns, not
 * booleans; the column `user` written "user" (reserved in PostgreSQL);
 * integer parameters for integer columns and text for text (PostgreSQL does
 * not compare a bigint with text). A failed statement inside a transaction
 * dooms the transaction (PostgreSQL's rule): roll back after a failure.
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
    /* Runs one statement; *changes = rows changed; *last_id (when last_id is not NULL, i.e. the caller
     * wants it, which it does only for an INSERT into a table with an `id` key) = the new row's id. */
    int (*exec)(void *db, const char *sql, const kh_sval *p, size_t n, int64_t *changes, int64_t *last_id);
    /* Runs a query; *rows = JSON array of objects (column name -> value). */
    int (*query)(void *db, const char *sql, const kh_sval *p, size_t n, size_t max_rows, json_t **rows);
    int (*begin)(void *db);
    int (*commit)(void *db);
    int (*rollback)(void *db);
    const char *(*errmsg)(void *db);
    const char *const *migrations; /* DDL scripts, applied in order (schema version = index + 1) */
    size_t n_migrations;
    /* Dialect for kh_store_copy(): the tables (one column `name`), a table's columns in order (`name`;
     * ?1 = table), a statement run first in the reading transaction to make it a snapshot (or NULL), and a
     * statement ({table} = the table's name) that moves an identity sequence past the copied ids (or NULL). */
    const char *catalog_tables;
    const char *catalog_columns;
    const char *snapshot;
    const char *id_reset;
} kh_store_backend;
#define KH_STORE_BACKEND_VERSION 1

extern const kh_store_backend kh_store_backend_sqlite;
extern const kh_store_backend kh_store_backend_pg;

/** The backend for a location: PostgreSQL for postgresql:// or postgres:// URLs, else SQLite (a file path). */
const kh_store_backend *kh_store_backend_for(const char *location);
/** Copies location with any password replaced by "***" (for messages and logs; truncated to size). */
void kh_store_redact(const char *location, char *out, size_t size);

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
/** A text column as a JSON string, for backends: text that is not UTF-8
 * keeps its ASCII and gets '?' for the rest; JSON null when out of memory. */
json_t *kh_store_text(const char *t, size_t len);

/** The backend a store was opened with. */
const kh_store_backend *kh_store_backend_of(kh_store *st);

/** Called after each table is copied. */
typedef void (*kh_store_copy_cb)(const char *table, int64_t rows, void *payload);
/** Copies every table of `from` into the empty store `to` (same schema version), rows and ids unchanged,
 * in one transaction on each side (store/copy.c). @return 0; KH_EINVAL (destination not empty, or from ==
 * to), KH_EFORMAT (schema versions or tables differ, unknown table), KH_EIO, KH_ELIMIT; message in err. */
int kh_store_copy(kh_store *from, kh_store *to, kh_store_copy_cb on_table, void *payload, char *err, size_t errsz);

/** The backend's last message (valid until the next call on this thread's transaction). */
const char *kh_store_errmsg(kh_store *st);

#endif
