/* Khiên — tests for store/pg.c (and kh_store_redact / kh_store_backend_for
 * in store/store.c). The database tests run when KHIEN_TEST_PG names a
 * new, empty PostgreSQL database they may use up (tests/cli/server_pg.sh
 * starts a throwaway cluster and sets it); otherwise they are skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "khien/error.h"
#include "store/store.h"

KT_TEST(test_redact)
{
    char out[256];
    kh_store_redact("postgresql://khien:s3cret@db.example:5432/khien?sslmode=require", out, sizeof(out));
    KT_EQ_STR(out, "postgresql://khien:***@db.example:5432/khien?sslmode=require");
    kh_store_redact("postgresql://khien@/khien?host=/tmp/x&password=s3cret&port=5", out, sizeof(out));
    KT_EQ_STR(out, "postgresql://khien@/khien?host=/tmp/x&password=***&port=5");
    kh_store_redact("host=/tmp dbname=k password='a b\\'c' user=k", out, sizeof(out));
    KT_EQ_STR(out, "host=/tmp dbname=k password=*** user=k");
    kh_store_redact("postgresql://a:p@ss@h/db", out, sizeof(out)); /* '@' in the password: the last one ends it */
    KT_EQ_STR(out, "postgresql://a:***@h/db");
    kh_store_redact("/var/lib/khien/khien.db", out, sizeof(out));
    KT_EQ_STR(out, "/var/lib/khien/khien.db");
    kh_store_redact("postgresql://khien:s3cret@h/db", out, 16); /* truncated, the secret never appears */
    KT_CHECK(strstr(out, "s3c") == NULL);
    KT_CHECK(kh_store_backend_for("postgresql://x@y/z") == &kh_store_backend_pg);
    KT_CHECK(kh_store_backend_for("POSTGRES://x@y/z") == &kh_store_backend_pg);
    KT_CHECK(kh_store_backend_for("/tmp/khien.db") == &kh_store_backend_sqlite);
}

static kh_store *open_fresh(const char *url)
{
    char err[512] = "";
    kh_store *st = NULL;
    if (kh_store_open(&st, &kh_store_backend_pg, url, err, sizeof(err)) < 0) {
        fprintf(stderr, "  open: %s\n", err);
        return NULL;
    }
    kh_store_exec(st, NULL, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;", NULL, 0);
    kh_store_close(st);
    st = NULL;
    if (kh_store_open(&st, &kh_store_backend_pg, url, err, sizeof(err)) < 0) {
        fprintf(stderr, "  reopen: %s\n", err);
        return NULL;
    }
    return st;
}

KT_TEST(test_pg_store)
{
    const char *url = getenv("KHIEN_TEST_PG");
    if (!url || !*url) {
        printf("  skip: KHIEN_TEST_PG not set\n");
        return;
    }
    kh_store *st = open_fresh(url);
    KT_CHECK(st != NULL);
    if (!st)
        return;
    KT_EQ_INT(kh_store_schema_version(st), kh_store_backend_pg.n_migrations);
    KT_EQ_INT(kh_store_backend_pg.n_migrations, kh_store_backend_sqlite.n_migrations);
    /* hostile text, last id through RETURNING */
    int64_t id = 0, id2 = 0;
    const char *evil = "x'); DROP TABLE units; -- ?1 $1 Phường Một";
    kh_sval p[] = {KH_SV_S(evil), KH_SV_S("2026-01-01T00:00:00Z")};
    KT_EQ_INT(kh_store_exec(st, &id, "INSERT INTO units (name, kind, created_at) VALUES (?1, 'city', ?2)", p, 2), 1);
    KT_CHECK(id > 0);
    KT_EQ_INT(kh_store_exec(st, &id2, "INSERT INTO units (name, kind, created_at) VALUES (?1, 'ward', ?2)", p, 2), 1);
    KT_EQ_INT(id2, id + 1);
    /* conventions: _json parsed, _bool boolean, integers as integers (64-bit), a ?1 inside quotes untouched */
    json_t *row = NULL;
    kh_sval q[] = {KH_SV_I(id)};
    KT_EQ_INT(kh_store_query_one(st, &row,
                                 "SELECT name, '{\"a\":1}' AS x_json, 1 AS y_bool, id = ?1 AS z_bool, '?1' AS lit,"
                                 " CAST(1099511627776 AS BIGINT) AS big, (SELECT SUM(id) FROM units) AS s,"
                                 " (SELECT COUNT(*) FROM units) AS c, 1.5 AS r FROM units WHERE id = ?1",
                                 q, 1),
              0);
    KT_EQ_STR(json_string_value(json_object_get(row, "name")), evil);
    KT_EQ_INT(json_integer_value(json_object_get(json_object_get(row, "x"), "a")), 1);
    KT_CHECK(json_is_true(json_object_get(row, "y")));
    KT_CHECK(json_is_true(json_object_get(row, "z")));
    KT_EQ_STR(json_string_value(json_object_get(row, "lit")), "?1");
    KT_CHECK(json_is_integer(json_object_get(row, "big")));
    KT_EQ_INT(json_integer_value(json_object_get(row, "big")), 1099511627776LL);
    KT_CHECK(json_is_integer(json_object_get(row, "s")));
    KT_EQ_INT(json_integer_value(json_object_get(row, "s")), id + id2);
    KT_EQ_INT(json_integer_value(json_object_get(row, "c")), 2);
    KT_CHECK(json_is_real(json_object_get(row, "r")));
    json_decref(row);
    /* NULL parameters: typed from their use, unused ones accepted */
    kh_sval nl[] = {KH_SV_NUL, KH_SV_S("unused"), KH_SV_I(id)};
    KT_EQ_INT(kh_store_exec(st, NULL, "UPDATE units SET code = COALESCE(?1, code), parent_id = NULL WHERE id = ?3", nl, 3),
              1);
    /* constraint violations -> KH_EINVAL: foreign key, check, unique, not null */
    kh_sval u[] = {KH_SV_I(999), KH_SV_S("h"), KH_SV_S("2026")};
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO hosts (unit_id, hostname, enrolled_at) VALUES (?1, ?2, ?3)", u, 3),
              KH_EINVAL);
    KT_CHECK(strstr(kh_store_errmsg(st), "foreign key") != NULL);
    kh_sval h[] = {KH_SV_I(id), KH_SV_S("h"), KH_SV_S("2026"), KH_SV_I(9), KH_SV_I(4611686018427387904LL)};
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO hosts (unit_id, hostname, enrolled_at, level) VALUES (?1, ?2, ?3, ?4)",
                            h, 4),
              KH_EINVAL);
    KT_EQ_INT(kh_store_exec(st, NULL,
                            "INSERT INTO hosts (unit_id, hostname, enrolled_at, cert_serial) VALUES (?1, ?2, ?3, ?5)", h, 5),
              1);
    KT_EQ_INT(kh_store_exec(st, NULL,
                            "INSERT INTO hosts (unit_id, hostname, enrolled_at, cert_serial) VALUES (?1, ?2, ?3, ?5)", h, 5),
              KH_EINVAL);
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO units (name, created_at) VALUES (NULL, 'x')", NULL, 0), KH_EINVAL);
    /* ON CONFLICT: DO NOTHING changes nothing; DO UPDATE counts */
    kh_sval s1[] = {KH_SV_S("k"), KH_SV_S("v1")}, s2[] = {KH_SV_S("k"), KH_SV_S("v2")};
    const char *ups = "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
    KT_EQ_INT(kh_store_exec(st, NULL, ups, s1, 2), 1);
    KT_EQ_INT(kh_store_exec(st, NULL, ups, s2, 2), 1);
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING", s1,
                            2),
              0);
    KT_EQ_INT(kh_store_query_one(st, &row, "SELECT value FROM settings WHERE key = ?1", s1, 1), 0);
    KT_EQ_STR(json_string_value(json_object_get(row, "value")), "v2");
    json_decref(row);
    KT_EQ_INT(kh_store_query_one(st, &row, "SELECT * FROM units WHERE id = 12345", NULL, 0), KH_ENOTFOUND);
    /* a rolled-back transaction leaves nothing */
    int64_t n = 0;
    KT_EQ_INT(kh_store_begin(st), 0);
    kh_sval p2[] = {KH_SV_S("tmp"), KH_SV_S("2026")};
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO units (name, kind, created_at) VALUES (?1, 'unit', ?2)", p2, 2), 1);
    kh_store_rollback(st);
    KT_EQ_INT(kh_store_query_int(st, &n, "SELECT COUNT(*) FROM units", NULL, 0), 0);
    KT_EQ_INT(n, 2);
    /* a transaction an error aborted is refused at commit, not silently rolled back as a success */
    KT_EQ_INT(kh_store_begin(st), 0);
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO units (name, kind, created_at) VALUES (?1, 'unit', ?2)", p2, 2), 1);
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO hosts (unit_id, hostname, enrolled_at) VALUES (?1, ?2, ?3)", u, 3),
              KH_EINVAL);
    KT_CHECK(kh_store_commit(st) < 0);
    KT_EQ_INT(kh_store_query_int(st, &n, "SELECT COUNT(*) FROM units", NULL, 0), 0);
    KT_EQ_INT(n, 2);
    /* a savepoint undoes a failure inside a transaction (the ingest batches rely on it) */
    KT_EQ_INT(kh_store_begin(st), 0);
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO units (name, kind, created_at) VALUES (?1, 'unit', ?2)", p2, 2), 1);
    KT_EQ_INT(kh_store_exec(st, NULL, "SAVEPOINT s", NULL, 0), 0);
    KT_EQ_INT(kh_store_exec(st, NULL, "INSERT INTO hosts (unit_id, hostname, enrolled_at) VALUES (?1, ?2, ?3)", u, 3),
              KH_EINVAL);
    KT_EQ_INT(kh_store_exec(st, NULL, "ROLLBACK TO SAVEPOINT s", NULL, 0), 0);
    KT_EQ_INT(kh_store_commit(st), 0);
    KT_EQ_INT(kh_store_query_int(st, &n, "SELECT COUNT(*) FROM units", NULL, 0), 0);
    KT_EQ_INT(n, 3);
    KT_CHECK(kh_store_exec(st, NULL, "SELECT * FROM no_such_table", NULL, 0) == KH_EIO);
    KT_CHECK(kh_store_exec(st, NULL, "SELECT ?100", NULL, 0) < 0);
    kh_store_close(st);
    /* reopen: data kept; a schema newer than the program is refused */
    char err[512] = "";
    st = NULL;
    KT_EQ_INT(kh_store_open(&st, &kh_store_backend_pg, url, err, sizeof(err)), 0);
    if (!st)
        return;
    KT_EQ_INT(kh_store_query_int(st, &n, "SELECT COUNT(*) FROM units", NULL, 0), 0);
    KT_EQ_INT(n, 3);
    /* "RETURNING" in quoted text is not the statement's own RETURNING
     * clause: the new id is still asked for; a statement with its own gets
     * none added */
    int64_t id3 = 0, id4 = 0;
    kh_sval pr[] = {KH_SV_S("x"), KH_SV_S("2026-01-01T00:00:00Z")};
    KT_EQ_INT(kh_store_exec(st, &id3, "INSERT INTO units (name, kind, created_at) VALUES ('RETURNING id', 'ward', ?2)",
                            pr, 2),
              1);
    KT_CHECK(id3 > 0);
    KT_EQ_INT(kh_store_exec(st, &id4, "INSERT INTO units (name, kind, created_at) VALUES (?1, 'ward', ?2) RETURNING id",
                            pr, 2),
              1);
    KT_EQ_INT(id4, id3 + 1);
    KT_EQ_INT(kh_store_exec(st, NULL, "UPDATE schema_version SET version = 999", NULL, 0), 1);
    kh_store_close(st);
    st = NULL;
    KT_EQ_INT(kh_store_open(&st, &kh_store_backend_pg, url, err, sizeof(err)), KH_EFORMAT);
    KT_CHECK(st == NULL && strstr(err, "newer") != NULL);
    /* the database is left at schema version 999: the next run needs a new one (server_pg.sh makes one) */
}

KT_TEST(test_pg_refused)
{
    char err[512] = "";
    kh_store *st = NULL;
    int rc = kh_store_open(&st, &kh_store_backend_pg, "postgresql://u:topsecret@/db?host=/nonexistent-khien&port=1", err,
                           sizeof(err));
    KT_EQ_INT(rc, KH_EIO);
    KT_CHECK(st == NULL);
    KT_CHECK(strstr(err, "PostgreSQL") != NULL);
    KT_CHECK(strstr(err, "topsecret") == NULL);
}

KT_MAIN({KT_CASE(test_redact), KT_CASE(test_pg_store), KT_CASE(test_pg_refused)})
