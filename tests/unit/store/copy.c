/* Khiên — tests for store/copy.c: a centre's database copied SQLite -> SQLite
 * (the PostgreSQL directions run in tests/cli/server_pg.sh): every table and
 * value comes out the same (NULLs, reals, hostile and Vietnamese text, JSON
 * text that the _json convention must not touch, more rows than one page),
 * ids are kept and the next insert does not collide, and the refusals: a
 * destination that is not empty (left unchanged), an unknown table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "khien/error.h"
#include "store/store.h"

static char pa[256], pb[256];

static void rm_db(const char *p)
{
    char x[300];
    unlink(p);
    snprintf(x, sizeof(x), "%s-wal", p);
    unlink(x);
    snprintf(x, sizeof(x), "%s-shm", p);
    unlink(x);
}

static kh_store *open_db(const char *path)
{
    char err[256] = "";
    kh_store *st = NULL;
    if (kh_store_open(&st, &kh_store_backend_sqlite, path, err, sizeof(err)) != 0)
        fprintf(stderr, "open %s: %s\n", path, err);
    return st;
}

/* Every row of a table, in a fixed order, as JSON text (with neutral column names). */
static char *dump(kh_store *st, const char *table)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1, 2", table);
    json_t *rows = NULL;
    if (kh_store_query(st, &rows, sql, NULL, 0) != 0)
        return NULL;
    char *s = json_dumps(rows, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(rows);
    return s;
}

static void fill(kh_store *st, int nevents)
{
    const char *evil = "x'); DROP TABLE units; -- \"quoted\" Phường Một ✓";
    kh_sval u[] = {KH_SV_S(evil)};
    kh_store_exec(st, NULL, "INSERT INTO units (id, parent_id, name, kind, created_at) VALUES (7, NULL, 'Thành phố', 'city', 't0')", NULL, 0);
    kh_store_exec(st, NULL, "INSERT INTO units (id, parent_id, name, kind, created_at) VALUES (9, 7, ?1, 'ward', 't1')", u, 1);
    kh_store_exec(st, NULL,
                  "INSERT INTO users (id, username, role, unit_id, pw_hash, recovery_json, created_at) VALUES"
                  " (3, 'admin', 'admin', 7, '$argon2id$x', '[\"a\",\"b\"]', 't2')", NULL, 0);
    kh_store_exec(st, NULL, "INSERT INTO sessions (id, user_id, csrf, created, last_seen, expires) VALUES ('s1', 3, 'c', 1, 2, 3)", NULL, 0);
    kh_store_exec(st, NULL,
                  "INSERT INTO hosts (id, unit_id, hostname, population_db, level, enrolled_at, heartbeat_json) VALUES"
                  " (5, 9, 'pc-01', 1, 4, 't3', '{\"load\":0.25}')", NULL, 0);
    kh_store_exec(st, NULL,
                  "INSERT INTO incidents (id, unit_id, host_id, title, category, severity, detected_at, details_json)"
                  " VALUES (11, 9, 5, 'Mã độc', 'malware', 'high', 't4', NULL)", NULL, 0);
    kh_store_exec(st, NULL,
                  "INSERT INTO findings (id, host_id, unit_id, kind, severity, key, title, first_seen, last_seen, incident_id)"
                  " VALUES (2, 5, 9, 'malware', 'high', 'k', 'EICAR', 't5', 't6', 11)", NULL, 0);
    kh_store_exec(st, NULL, "INSERT INTO bulletins (id, title, body, created_at) VALUES (4, 'Tin', 'Nội dung', 't7')", NULL, 0);
    kh_store_exec(st, NULL, "INSERT INTO bulletin_acks (bulletin_id, user_id, time) VALUES (4, 3, 't8')", NULL, 0);
    kh_store_exec(st, NULL, "INSERT INTO settings (key, value) VALUES ('ratio', '0.5'), ('empty', NULL)", NULL, 0);
    kh_store_exec(st, NULL, "INSERT INTO forward_queue (kind, object_id, created_at, attempts) VALUES ('incident', 11, 't9', 2)", NULL, 0);
    kh_store_begin(st);
    for (int i = 0; i < nevents; i++) {
        char id[32];
        snprintf(id, sizeof(id), "e%05d", i);
        kh_sval p[] = {KH_SV_I(100 + 2 * i), KH_SV_S(id), KH_SV_S(i % 3 ? "{\"files\":1}" : NULL)};
        kh_store_exec(st, NULL,
                      "INSERT INTO events (id, host_id, event_id, type, received, data_json) VALUES (?1, 5, ?2, 'scan', 'r', ?3)",
                      p, 3);
    }
    kh_store_commit(st);
}

static const char *const all_tables[] = {"units",      "users",         "sessions",  "enroll_tokens", "hosts",
                                         "events",     "incidents",     "findings",  "incident_log",  "change_requests",
                                         "change_log", "comments",      "bulletins", "bulletin_acks", "audit_log",
                                         "bundles",    "settings",      "forward_queue"};

static int ntables_seen;
static void on_table(const char *table, int64_t rows, void *payload)
{
    (void)table;
    (void)rows;
    (void)payload;
    ntables_seen++;
}

KT_TEST(test_copy_sqlite_to_sqlite)
{
    snprintf(pa, sizeof(pa), "/tmp/khien-copy-a-%d.db", (int)getpid());
    snprintf(pb, sizeof(pb), "/tmp/khien-copy-b-%d.db", (int)getpid());
    rm_db(pa);
    rm_db(pb);
    kh_store *a = open_db(pa), *b = open_db(pb);
    KT_CHECK(a && b);
    if (!a || !b)
        return;
    fill(a, 4500); /* more than two pages of 2,000 */
    char err[512] = "";
    ntables_seen = 0;
    KT_EQ_INT(kh_store_copy(a, b, on_table, NULL, err, sizeof(err)), 0);
    KT_EQ_INT(ntables_seen, (int)(sizeof(all_tables) / sizeof(all_tables[0])));
    for (size_t t = 0; t < sizeof(all_tables) / sizeof(all_tables[0]); t++) {
        char *x = dump(a, all_tables[t]), *y = dump(b, all_tables[t]);
        KT_CHECK(x && y);
        if (x && y && strcmp(x, y) != 0) {
            fprintf(stderr, "table %s differs:\n  %.300s\n  %.300s\n", all_tables[t], x, y);
            KT_CHECK(0);
        }
        free(x);
        free(y);
    }
    int64_t n = 0;
    KT_EQ_INT(kh_store_query_int(b, &n, "SELECT COUNT(*) FROM events", NULL, 0), 0);
    KT_EQ_INT(n, 4500);
    /* the JSON text column came through as text, not re-serialised */
    json_t *row = NULL;
    KT_EQ_INT(kh_store_query_one(b, &row, "SELECT recovery_json AS t FROM users WHERE id = 3", NULL, 0), 0);
    KT_EQ_STR(json_string_value(json_object_get(row, "t")), "[\"a\",\"b\"]");
    json_decref(row);
    /* a new row gets a new id after the copied ones */
    int64_t id = 0;
    KT_EQ_INT(kh_store_exec(b, &id, "INSERT INTO units (parent_id, name, kind, created_at) VALUES (7, 'n', 'unit', 't')", NULL, 0), 1);
    KT_CHECK(id > 9);

    /* the destination is no longer empty: refused, and left as it was */
    char *before = dump(b, "events");
    KT_EQ_INT(kh_store_copy(a, b, NULL, NULL, err, sizeof(err)), KH_EINVAL);
    KT_CHECK(strstr(err, "not empty") != NULL);
    char *after = dump(b, "events");
    KT_CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);
    KT_EQ_INT(kh_store_copy(a, a, NULL, NULL, err, sizeof(err)), KH_EINVAL);
    kh_store_close(b);
    rm_db(pb);

    /* a table this program does not know is never left behind silently */
    KT_CHECK(kh_store_exec(a, NULL, "CREATE TABLE extra_data (x INTEGER)", NULL, 0) >= 0);
    b = open_db(pb);
    KT_CHECK(b != NULL);
    err[0] = 0;
    KT_EQ_INT(kh_store_copy(a, b, NULL, NULL, err, sizeof(err)), KH_EFORMAT);
    KT_CHECK(strstr(err, "extra_data") != NULL);
    KT_EQ_INT(kh_store_query_int(b, &n, "SELECT COUNT(*) FROM units", NULL, 0), 0);
    KT_EQ_INT(n, 0);
    kh_store_close(a);
    kh_store_close(b);
    rm_db(pa);
    rm_db(pb);
}

KT_MAIN({KT_CASE(test_copy_sqlite_to_sqlite)})
