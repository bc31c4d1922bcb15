/* Khiên — store: copying a centre's database from one backend to another.
 *
 * A ward's centre starts on SQLite; a province's runs on PostgreSQL. When a
 * centre moves (or a province backs its database up into one SQLite file),
 * kh_store_copy() copies every table of one kh_store into another, through
 * the same backend interface the server uses, so it works in any direction
 * (SQLite -> PostgreSQL, PostgreSQL -> SQLite, and SQLite -> SQLite, which
 * the unit tests use).
 *
 * Rules that keep it safe:
 * - Both stores are at the same schema version (kh_store_open() migrated
 *   them), and the source holds exactly the tables this file knows: a table
 *   added by a later migration and not listed below makes the copy refuse,
 *   rather than leave data behind.
 * - The destination must be empty (a fresh database): nothing is merged.
 * - The source is read in one transaction (a snapshot: SQLite's WAL read
 *   transaction; REPEATABLE READ on PostgreSQL), the destination is written
 *   in one transaction, and every table's row count is compared before the
 *   commit: a failure leaves the destination as empty as it was.
 * - Rows keep their ids (references between tables stay right); on
 *   PostgreSQL the identity sequences are moved past the copied ids.
 * - Columns are read under neutral aliases (v0, v1, ...), so the store's
 *   `_json` / `_bool` result conventions never touch the data.
 *
 * Tables are copied in an order where every referenced row exists before
 * the rows that reference it; a table with an integer `id` is read in id
 * order by pages (keyset), the small others by OFFSET pages.
 */
#include "store/store.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"
#include "util/util.h"

#define COPY_PAGE 2000u     /* rows read per query */
#define COPY_MAX_COLS 64u   /* columns per table */
#define COPY_MAX_PARAMS 99u /* parameters per INSERT (store/pg.c's limit) */
#define SQL_MAX 16384u

/* Every table of the schema, parents before children; keyed: integer `id` primary key. */
static const struct {
    const char *name;
    int keyed;
} tables[] = {
    {"units", 1},          {"users", 1},        {"sessions", 0},       {"enroll_tokens", 1},
    {"hosts", 1},          {"events", 1},       {"incidents", 1},      {"findings", 1},
    {"incident_log", 1},   {"change_requests", 1}, {"change_log", 1},  {"comments", 1},
    {"bulletins", 1},      {"bulletin_acks", 0}, {"audit_log", 1},     {"bundles", 0},
    {"settings", 0},       {"forward_queue", 0},
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))
#define VERSION_TABLE "schema_version" /* each store keeps its own */

/* A table or column name as the catalog gives it: [a-z0-9_], so it can be quoted safely. */
static int plain_name(const char *s)
{
    if (!s || !*s || strlen(s) > 63)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static int known_table(const char *name)
{
    if (strcmp(name, VERSION_TABLE) == 0)
        return 1;
    for (size_t i = 0; i < NTABLES; i++)
        if (strcmp(tables[i].name, name) == 0)
            return 1;
    return 0;
}

/* Fails unless every table of st is one this file copies (or the version table). */
static int check_tables(kh_store *st, const char *which, char *err, size_t errsz)
{
    const kh_store_backend *be = kh_store_backend_of(st);
    json_t *rows = NULL;
    int rc = kh_store_query(st, &rows, be->catalog_tables, NULL, 0);
    if (rc < 0) {
        kh_errf(err, errsz, 0, "%s: không đọc được danh sách bảng / cannot list the tables: %s", which, kh_store_errmsg(st));
        return rc;
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *name = json_string_value(json_object_get(row, "name"));
        if (!name || !known_table(name)) {
            if (err && errsz) /* the table's name twice: once per language */
                snprintf(err, errsz,
                         "%s: bảng '%s' không có trong danh sách sao chép / table '%s' is not one this program "
                         "copies (store/copy.c): refusing to leave it behind",
                         which, name ? name : "?", name ? name : "?");
            json_decref(rows);
            return KH_EFORMAT;
        }
    }
    json_decref(rows);
    return 0;
}

/* The columns of a table, in the backend's order; *n set on success. */
static int columns(kh_store *st, const char *table, char cols[][64], size_t *n, char *err, size_t errsz)
{
    const kh_store_backend *be = kh_store_backend_of(st);
    json_t *rows = NULL;
    kh_sval p[] = {KH_SV_S(table)};
    int rc = kh_store_query(st, &rows, be->catalog_columns, p, 1);
    if (rc < 0) {
        kh_errf(err, errsz, 0, "%s: %s", table, kh_store_errmsg(st));
        return rc;
    }
    size_t k = 0, i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *c = json_string_value(json_object_get(row, "name"));
        if (!plain_name(c) || k >= COPY_MAX_COLS) {
            kh_errf(err, errsz, 0, "%s: cột không hợp lệ / unexpected column '%s'", table, c ? c : "?");
            json_decref(rows);
            return KH_EFORMAT;
        }
        snprintf(cols[k++], 64, "%s", c);
    }
    json_decref(rows);
    if (k == 0) {
        kh_errf(err, errsz, 0, "%s: bảng không tồn tại / table missing", table);
        return KH_EFORMAT;
    }
    *n = k;
    return 0;
}

static int count_rows(kh_store *st, const char *table, int64_t *out)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) AS n FROM \"%s\"", table);
    return kh_store_query_int(st, out, sql, NULL, 0);
}

/* Appends to a bounded SQL buffer; KH_ELIMIT when it would not fit. */
static int put(char *sql, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *sql, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(sql + *len, SQL_MAX - *len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= SQL_MAX - *len)
        return KH_ELIMIT;
    *len += (size_t)w;
    return 0;
}

/* Copies tmpl into out with every "{table}" replaced by name. */
static int subst(char *out, size_t size, const char *tmpl, const char *name)
{
    size_t j = 0, nl = strlen(name);
    for (const char *c = tmpl; *c;) {
        if (strncmp(c, "{table}", 7) == 0) {
            if (j + nl >= size)
                return KH_ELIMIT;
            memcpy(out + j, name, nl);
            j += nl;
            c += 7;
        } else {
            if (j + 1 >= size)
                return KH_ELIMIT;
            out[j++] = *c++;
        }
    }
    out[j] = 0;
    return 0;
}

static kh_sval value_of(json_t *v)
{
    if (json_is_integer(v))
        return KH_SV_I(json_integer_value(v));
    if (json_is_real(v)) {
        kh_sval r = {KH_SV_REAL, 0, json_real_value(v), NULL};
        return r;
    }
    if (json_is_string(v))
        return KH_SV_S(json_string_value(v));
    if (json_is_boolean(v))
        return KH_SV_I(json_is_true(v));
    return KH_SV_NUL;
}

/* Inserts rows[from .. from+n) with one multi-row INSERT. */
static int insert_rows(kh_store *to, const char *table, char cols[][64], size_t ncols, json_t *rows, size_t from,
                       size_t n, char *err, size_t errsz)
{
    char sql[SQL_MAX];
    size_t len = 0;
    kh_sval p[COPY_MAX_PARAMS];
    int rc = put(sql, &len, "INSERT INTO \"%s\" (", table);
    for (size_t c = 0; !rc && c < ncols; c++)
        rc = put(sql, &len, "%s\"%s\"", c ? ", " : "", cols[c]);
    if (!rc)
        rc = put(sql, &len, ") VALUES");
    unsigned k = 0;
    for (size_t r = 0; !rc && r < n; r++) {
        json_t *row = json_array_get(rows, from + r);
        rc = put(sql, &len, "%s", r ? ", (" : " (");
        for (size_t c = 0; !rc && c < ncols; c++) {
            char alias[24];
            snprintf(alias, sizeof(alias), "v%zu", c);
            p[k] = value_of(json_object_get(row, alias));
            k++;
            rc = put(sql, &len, "%s?%u", c ? ", " : "", k);
        }
        if (!rc)
            rc = put(sql, &len, ")");
    }
    if (rc) {
        kh_errf(err, errsz, 0, "%s: câu lệnh quá dài / statement too long", table);
        return rc;
    }
    if ((rc = kh_store_exec(to, NULL, sql, p, k)) < 0)
        kh_errf(err, errsz, 0, "%s: ghi thất bại / insert failed: %s", table, kh_store_errmsg(to));
    return rc < 0 ? rc : 0;
}

/* Copies one table; *copied = rows written. */
static int copy_table(kh_store *from, kh_store *to, size_t t, int64_t *copied, char *err, size_t errsz)
{
    const char *table = tables[t].name;
    char cols[COPY_MAX_COLS][64], tcols[COPY_MAX_COLS][64];
    size_t ncols = 0, ntcols = 0;
    int rc = columns(from, table, cols, &ncols, err, errsz);
    if (!rc)
        rc = columns(to, table, tcols, &ntcols, err, errsz);
    if (rc)
        return rc;
    /* Same columns on both sides (in any order): the schemas are the same version. */
    for (size_t c = 0; c < ncols; c++) {
        size_t d = 0;
        while (d < ntcols && strcmp(cols[c], tcols[d]) != 0)
            d++;
        if (d == ntcols || ncols != ntcols) {
            kh_errf(err, errsz, 0, "%s: cột '%s' khác nhau giữa hai cơ sở dữ liệu / column differs between the databases",
                    table, cols[c]);
            return KH_EFORMAT;
        }
    }
    char sql[SQL_MAX];
    size_t len = 0;
    rc = put(sql, &len, "SELECT ");
    for (size_t c = 0; !rc && c < ncols; c++) {
        rc = put(sql, &len, "%s\"%s\" AS v%zu", c ? ", " : "", cols[c], c);
    }
    if (!rc)
        rc = put(sql, &len, " FROM \"%s\"", table);
    if (!rc && tables[t].keyed)
        rc = put(sql, &len, " WHERE \"id\" > ?1 ORDER BY \"id\" LIMIT %u", COPY_PAGE);
    else if (!rc) {
        rc = put(sql, &len, " ORDER BY 1");
        for (size_t c = 1; !rc && c < ncols; c++)
            rc = put(sql, &len, ", %zu", c + 1);
        if (!rc)
            rc = put(sql, &len, " LIMIT %u OFFSET ?1", COPY_PAGE);
    }
    if (rc)
        return rc;
    size_t id_col = 0;
    while (id_col < ncols && strcmp(cols[id_col], "id") != 0)
        id_col++;
    if (tables[t].keyed && id_col == ncols) {
        kh_errf(err, errsz, 0, "%s: không có cột id / no id column", table);
        return KH_EFORMAT;
    }
    char id_alias[24];
    snprintf(id_alias, sizeof(id_alias), "v%zu", id_col);
    size_t per_insert = COPY_MAX_PARAMS / ncols;
    if (per_insert == 0)
        return KH_ELIMIT;
    int64_t cursor = tables[t].keyed ? INT64_MIN : 0, total = 0;
    for (;;) {
        json_t *rows = NULL;
        kh_sval p[] = {KH_SV_I(cursor)};
        if ((rc = kh_store_query(from, &rows, sql, p, 1)) < 0) {
            kh_errf(err, errsz, 0, "%s: đọc thất bại / read failed: %s", table, kh_store_errmsg(from));
            return rc;
        }
        size_t n = json_array_size(rows);
        for (size_t i = 0; i < n && !rc; i += per_insert)
            rc = insert_rows(to, table, cols, ncols, rows, i, n - i < per_insert ? n - i : per_insert, err, errsz);
        if (!rc && n && tables[t].keyed)
            cursor = json_integer_value(json_object_get(json_array_get(rows, n - 1), id_alias));
        else
            cursor += (int64_t)n;
        json_decref(rows);
        if (rc)
            return rc;
        total += (int64_t)n;
        if (n < COPY_PAGE)
            break;
    }
    *copied = total;
    return 0;
}

int kh_store_copy(kh_store *from, kh_store *to, kh_store_copy_cb on_table, void *payload, char *err, size_t errsz)
{
    if (!from || !to || from == to)
        return KH_EINVAL;
    if (kh_store_schema_version(from) != kh_store_schema_version(to)) {
        if (err && errsz)
            snprintf(err, errsz, "phiên bản lược đồ khác nhau / schema versions differ (%d, %d)",
                     kh_store_schema_version(from), kh_store_schema_version(to));
        return KH_EFORMAT;
    }
    int rc = check_tables(from, "nguồn / source", err, errsz);
    if (!rc)
        rc = check_tables(to, "đích / destination", err, errsz);
    if (rc)
        return rc;
    for (size_t t = 0; t < NTABLES; t++) {
        int64_t n = 0;
        if ((rc = count_rows(to, tables[t].name, &n)) < 0) {
            kh_errf(err, errsz, 0, "%s: %s", tables[t].name, kh_store_errmsg(to));
            return rc;
        }
        if (n) {
            kh_errf(err, errsz, 0, "cơ sở dữ liệu đích không trống (bảng %s) / the destination database is not empty "
                    "(table %s): copy into a new, empty database", tables[t].name, tables[t].name);
            return KH_EINVAL;
        }
    }
    if ((rc = kh_store_begin(from)) < 0) {
        kh_errf(err, errsz, 0, "nguồn / source: %s", kh_store_errmsg(from));
        return rc;
    }
    const char *snap = kh_store_backend_of(from)->snapshot;
    if (snap && (rc = kh_store_exec(from, NULL, snap, NULL, 0)) < 0) {
        kh_errf(err, errsz, 0, "nguồn / source: %s", kh_store_errmsg(from));
        kh_store_rollback(from);
        return rc;
    }
    if ((rc = kh_store_begin(to)) < 0) {
        kh_errf(err, errsz, 0, "đích / destination: %s", kh_store_errmsg(to));
        kh_store_rollback(from);
        return rc;
    }
    rc = 0;
    for (size_t t = 0; t < NTABLES && !rc; t++) {
        int64_t copied = 0, src_n = 0, dst_n = 0;
        if ((rc = copy_table(from, to, t, &copied, err, errsz)) < 0)
            break;
        if ((rc = count_rows(from, tables[t].name, &src_n)) < 0 || (rc = count_rows(to, tables[t].name, &dst_n)) < 0) {
            kh_errf(err, errsz, 0, "%s: không đếm được / cannot count rows", tables[t].name);
            break;
        }
        if (src_n != copied || dst_n != copied) {
            if (err && errsz)
                snprintf(err, errsz, "%s: số dòng không khớp / row counts differ (source %" PRId64 ", copied %" PRId64
                         ", destination %" PRId64 ")", tables[t].name, src_n, copied, dst_n);
            rc = KH_EIO;
            break;
        }
        const char *reset = kh_store_backend_of(to)->id_reset;
        if (reset && tables[t].keyed) {
            char sql[1024];
            if (subst(sql, sizeof(sql), reset, tables[t].name) < 0) {
                rc = KH_ELIMIT;
                break;
            }
            json_t *ignored = NULL;
            if ((rc = kh_store_query(to, &ignored, sql, NULL, 0)) < 0) {
                kh_errf(err, errsz, 0, "%s: %s", tables[t].name, kh_store_errmsg(to));
                break;
            }
            json_decref(ignored);
        }
        if (on_table)
            on_table(tables[t].name, copied, payload);
    }
    kh_store_rollback(from); /* read only */
    if (rc < 0) {
        kh_store_rollback(to);
        return rc;
    }
    if ((rc = kh_store_commit(to)) < 0) {
        kh_errf(err, errsz, 0, "đích / destination: commit: %s", kh_store_errmsg(to));
        return rc;
    }
    return 0;
}
