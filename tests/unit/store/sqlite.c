/* Khiên — tests for store/store.c + store/sqlite.c: migrations, reopen,
 * parameters (including hostile strings), constraint errors, the _json and
 * _bool column conventions, transactions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "khien/error.h"
#include "store/store.h"

static char dbpath[256];

KT_TEST(test_store_basic)
{
    snprintf(dbpath, sizeof(dbpath), "/tmp/khien-store-test-%d.db", (int)getpid());
    unlink(dbpath);
    char err[256] = "";
    kh_store *st = NULL;
    KT_EQ_INT(kh_store_open(&st, &kh_store_backend_sqlite, dbpath, err, sizeof(err)), 0);
    KT_CHECK(kh_store_schema_version(st) >= 1);
    int64_t id = 0;
    const char *evil = "x'); DROP TABLE units; --";
    kh_sval p[] = {KH_SV_S(evil), KH_SV_S("2026-01-01T00:00:00Z")};
    KT_EQ_INT(kh_store_exec(st, &id, "INSERT INTO units (name, kind, created_at) VALUES (?1, 'city', ?2)", p, 2), 1);
    KT_CHECK(id > 0);
    json_t *row = NULL;
    kh_sval q[] = {KH_SV_I(id)};
    KT_EQ_INT(kh_store_query_one(st, &row, "SELECT name, '{\"a\":1}' AS x_json, 1 AS y_bool FROM units WHERE id = ?1", q, 1), 0);
    KT_EQ_STR(json_string_value(json_object_get(row, "name")), evil);
    KT_EQ_INT(json_integer_value(json_object_get(json_object_get(row, "x"), "a")), 1);
    KT_CHECK(json_is_true(json_object_get(row, "y")));
    json_decref(row);
    /* foreign key and check constraints -> KH_EINVAL */
    kh_sval u[] = {KH_SV_I(999), KH_SV_S("h"), KH_SV_S("2026")};
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO hosts (unit_id, hostname, enrolled_at) VALUES (?1, ?2, ?3)", u, 3), KH_EINVAL);
    KT_EQ_INT(kh_store_query_one(st, &row, "SELECT * FROM units WHERE id = 12345", NULL, 0), KH_ENOTFOUND);
    /* a rolled-back transaction leaves nothing */
    KT_EQ_INT(kh_store_begin(st), 0);
    kh_sval p2[] = {KH_SV_S("tmp"), KH_SV_S("2026")};
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO units (name, kind, created_at) VALUES (?1, 'unit', ?2)", p2, 2), 1);
    kh_store_rollback(st);
    int64_t n = 0;
    KT_EQ_INT(kh_store_query_int(st, &n, "SELECT COUNT(*) FROM units", NULL, 0), 0);
    KT_EQ_INT(n, 1);
    KT_CHECK(kh_store_exec(st, NULL, "SELECT * FROM no_such_table", NULL, 0) < 0);
    kh_store_close(st);
    kh_store_close(NULL);
    /* reopen: data and schema kept, migrations not re-applied */
    KT_EQ_INT(kh_store_open(&st, &kh_store_backend_sqlite, dbpath, err, sizeof(err)), 0);
    KT_EQ_INT(kh_store_query_int(st, &n, "SELECT COUNT(*) FROM units", NULL, 0), 0);
    KT_EQ_INT(n, 1);
    kh_store_close(st);
    /* a schema newer than the program is refused */
    KT_EQ_INT(kh_store_open(&st, &kh_store_backend_sqlite, dbpath, err, sizeof(err)), 0);
    KT_EQ_INT(kh_store_exec(st, NULL, "UPDATE schema_version SET version = 999", NULL, 0), 1);
    kh_store_close(st);
    st = NULL;
    KT_EQ_INT(kh_store_open(&st, &kh_store_backend_sqlite, dbpath, err, sizeof(err)), KH_EFORMAT);
    KT_CHECK(st == NULL && strstr(err, "newer") != NULL);
    unlink(dbpath);
    char wal[300];
    snprintf(wal, sizeof(wal), "%s-wal", dbpath);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", dbpath);
    unlink(wal);
}

KT_MAIN({KT_CASE(test_store_basic)})
