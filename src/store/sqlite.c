/* Khiên — store/sqlite: the embedded SQLite backend of the centre's store.
 *
 * The only file that includes sqlite3.h. One connection in WAL mode with
 * foreign keys on and synchronous=FULL: a commit is on disk before the
 * server acknowledges anything (an agent deletes an event from its queue
 * only after that acknowledgement, so a crash of the centre must never lose
 * a committed batch). Prepared statements are cached by SQL text, since the
 * server runs a small fixed set of statements millions of times. The schema
 * lives here as an ordered list of migrations.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"
#include "store/store.h"

#define CACHE_SLOTS 128

typedef struct sq {
    sqlite3 *db;
    struct {
        char *sql;
        sqlite3_stmt *st;
    } cache[CACHE_SLOTS];
    char err[512];
} sq;

static const char *const migrations[] = {
    /* 1: the whole first schema */
    "CREATE TABLE units (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES units(id),"
    " name TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'unit', code TEXT, address TEXT, contact TEXT,"
    " created_at TEXT NOT NULL);"
    "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, full_name TEXT, email TEXT,"
    " phone TEXT, role TEXT NOT NULL CHECK (role IN ('admin','officer','police','auditor')),"
    " unit_id INTEGER NOT NULL REFERENCES units(id), pw_hash TEXT NOT NULL, must_change INTEGER NOT NULL DEFAULT 1,"
    " disabled INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, locked_until INTEGER NOT NULL DEFAULT 0,"
    " totp_secret TEXT, totp_enabled INTEGER NOT NULL DEFAULT 0, recovery_json TEXT, created_at TEXT NOT NULL);"
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " csrf TEXT NOT NULL, created INTEGER NOT NULL, last_seen INTEGER NOT NULL, expires INTEGER NOT NULL, ip TEXT);"
    "CREATE TABLE enroll_tokens (id INTEGER PRIMARY KEY, unit_id INTEGER NOT NULL REFERENCES units(id),"
    " token_hash TEXT NOT NULL UNIQUE, expires INTEGER NOT NULL, max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0,"
    " revoked INTEGER NOT NULL DEFAULT 0, note TEXT, created_by TEXT, created_at TEXT NOT NULL);"
    "CREATE TABLE hosts (id INTEGER PRIMARY KEY, unit_id INTEGER NOT NULL REFERENCES units(id), hostname TEXT NOT NULL,"
    " os TEXT, agent_version TEXT, population_db INTEGER NOT NULL DEFAULT 0,"
    " level INTEGER NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 5), status TEXT NOT NULL DEFAULT 'active',"
    " cert_serial INTEGER UNIQUE, enrolled_at TEXT NOT NULL, last_seen TEXT, heartbeat_json TEXT,"
    " last_full_scan TEXT, protection INTEGER NOT NULL DEFAULT 0, sig_updated TEXT);"
    "CREATE INDEX hosts_unit ON hosts(unit_id);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts(id),"
    " event_id TEXT NOT NULL, type TEXT NOT NULL, time TEXT, received TEXT NOT NULL, data_json TEXT,"
    " UNIQUE (host_id, event_id));"
    "CREATE INDEX events_host_type ON events(host_id, type, id);"
    "CREATE TABLE findings (id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts(id),"
    " unit_id INTEGER NOT NULL REFERENCES units(id), kind TEXT NOT NULL, severity TEXT NOT NULL, key TEXT NOT NULL,"
    " title TEXT NOT NULL, detail_json TEXT, status TEXT NOT NULL DEFAULT 'open', first_seen TEXT NOT NULL,"
    " last_seen TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 1, incident_id INTEGER REFERENCES incidents(id),"
    " UNIQUE (host_id, kind, key));"
    "CREATE INDEX findings_unit ON findings(unit_id, status);"
    "CREATE TABLE incidents (id INTEGER PRIMARY KEY, unit_id INTEGER NOT NULL REFERENCES units(id),"
    " host_id INTEGER REFERENCES hosts(id), title TEXT NOT NULL, description TEXT, category TEXT NOT NULL,"
    " severity TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'new', auto INTEGER NOT NULL DEFAULT 0,"
    " personal_data INTEGER NOT NULL DEFAULT 0, profile TEXT NOT NULL DEFAULT '2025', detected_at TEXT NOT NULL,"
    " reported_at TEXT, closed_at TEXT, details_json TEXT, created_by TEXT, forwarded_at TEXT);"
    "CREATE INDEX incidents_unit ON incidents(unit_id, state);"
    "CREATE TABLE incident_log (id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL REFERENCES incidents(id),"
    " time TEXT NOT NULL, user TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, comment TEXT);"
    "CREATE TABLE change_requests (id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts(id),"
    " unit_id INTEGER NOT NULL REFERENCES units(id), state TEXT NOT NULL DEFAULT 'requested', created_at TEXT NOT NULL,"
    " summary TEXT, diff_json TEXT);"
    "CREATE TABLE change_log (id INTEGER PRIMARY KEY, change_id INTEGER NOT NULL REFERENCES change_requests(id),"
    " time TEXT NOT NULL, user TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, comment TEXT);"
    "CREATE TABLE comments (id INTEGER PRIMARY KEY, object TEXT NOT NULL, object_id INTEGER NOT NULL,"
    " time TEXT NOT NULL, user TEXT NOT NULL, text TEXT NOT NULL);"
    "CREATE INDEX comments_object ON comments(object, object_id);"
    "CREATE TABLE bulletins (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,"
    " created_by TEXT);"
    "CREATE TABLE bulletin_acks (bulletin_id INTEGER NOT NULL REFERENCES bulletins(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id), time TEXT NOT NULL, PRIMARY KEY (bulletin_id, user_id));"
    "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, time TEXT NOT NULL, user TEXT, ip TEXT, action TEXT NOT NULL,"
    " object TEXT, detail TEXT);"
    "CREATE TABLE bundles (name TEXT PRIMARY KEY, version INTEGER NOT NULL, sha256 TEXT NOT NULL,"
    " envelope TEXT NOT NULL, created_at TEXT NOT NULL);"
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);",
    /* 2: the last TOTP time step used by each user (a code is accepted once) */
    "ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;",
    /* 3: incidents and malware detections queued for the higher-level centre
     * (server/forward.c); IF NOT EXISTS: centres of the days when forward.c
     * created it itself already have it */
    "CREATE TABLE IF NOT EXISTS forward_queue (kind TEXT NOT NULL, object_id BIGINT NOT NULL,"
    " created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_try BIGINT NOT NULL DEFAULT 0,"
    " last_error TEXT, sent_at TEXT, PRIMARY KEY (kind, object_id));",
};

static void seterr(sq *q, const char *what)
{
    snprintf(q->err, sizeof(q->err), "%s: %s", what, sqlite3_errmsg(q->db));
}

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return KH_EINVAL;
    case SQLITE_NOMEM:
        return KH_ENOMEM;
    case SQLITE_TOOBIG:
        return KH_ELIMIT;
    default:
        return KH_EIO;
    }
}

static int sq_open(void **out, const char *location, char *err, size_t errsz)
{
    sq *q = calloc(1, sizeof(*q));
    if (!q)
        return KH_ENOMEM;
    int rc = sqlite3_open_v2(location, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errsz, "cannot open database %s: %s", location, q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sqlite3_close(q->db);
        free(q);
        return KH_EIO;
    }
    sqlite3_busy_timeout(q->db, 10000);
    char *msg = NULL;
    rc = sqlite3_exec(q->db,
                      "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"
                      " PRAGMA secure_delete=ON; PRAGMA cache_size=-16000;",
                      NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errsz, "cannot configure database %s: %s", location, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(q->db);
        free(q);
        return KH_EIO;
    }
    sqlite3_limit(q->db, SQLITE_LIMIT_LENGTH, 64 << 20);
    *out = q;
    return 0;
}

static void sq_close(void *db)
{
    sq *q = db;
    if (!q)
        return;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        free(q->cache[i].sql);
        sqlite3_finalize(q->cache[i].st);
    }
    sqlite3_close(q->db);
    free(q);
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* A ready statement for sql (cached; multi-statement scripts are not cached). */
static int prepare(sq *q, const char *sql, const kh_sval *p, size_t n, sqlite3_stmt **out, int *cached)
{
    unsigned slot = hash(sql) % CACHE_SLOTS;
    sqlite3_stmt *st = NULL;
    *cached = 0;
    if (q->cache[slot].sql && strcmp(q->cache[slot].sql, sql) == 0) {
        st = q->cache[slot].st;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        *cached = 1;
    } else {
        const char *tail = NULL;
        int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
        if (rc != SQLITE_OK) {
            seterr(q, "prepare");
            return map_rc(rc);
        }
        if (tail && *tail == 0) {
            free(q->cache[slot].sql);
            sqlite3_finalize(q->cache[slot].st);
            q->cache[slot].sql = strdup(sql);
            q->cache[slot].st = q->cache[slot].sql ? st : NULL;
            *cached = q->cache[slot].sql != NULL;
        }
    }
    /* parameters beyond the highest the statement names are not used by it
     * (store.h: they are ignored, as PostgreSQL's backend ignores them) */
    size_t used = (size_t)sqlite3_bind_parameter_count(st);
    for (size_t i = 0; i < n && i < used; i++) {
        int rc = SQLITE_OK, idx = (int)i + 1;
        switch (p[i].type) {
        case KH_SV_INT:
            rc = sqlite3_bind_int64(st, idx, p[i].i);
            break;
        case KH_SV_REAL:
            rc = sqlite3_bind_double(st, idx, p[i].r);
            break;
        case KH_SV_TEXT:
            rc = sqlite3_bind_text(st, idx, p[i].s, -1, SQLITE_TRANSIENT);
            break;
        default:
            rc = sqlite3_bind_null(st, idx);
        }
        if (rc != SQLITE_OK) {
            seterr(q, "bind");
            if (!*cached)
                sqlite3_finalize(st);
            return map_rc(rc);
        }
    }
    *out = st;
    return 0;
}

static void release(sqlite3_stmt *st, int cached)
{
    if (cached)
        sqlite3_reset(st);
    else
        sqlite3_finalize(st);
}

static int sq_exec(void *db, const char *sql, const kh_sval *p, size_t n, int64_t *changes, int64_t *last_id)
{
    sq *q = db;
    if (n == 0 && strchr(sql, ';')) { /* a script (migrations) */
        char *msg = NULL;
        int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            snprintf(q->err, sizeof(q->err), "%s", msg ? msg : sqlite3_errmsg(q->db));
            sqlite3_free(msg);
            return map_rc(rc);
        }
        *changes = sqlite3_changes64(q->db);
        if (last_id)
            *last_id = sqlite3_last_insert_rowid(q->db);
        return 0;
    }
    sqlite3_stmt *st = NULL;
    int cached = 0;
    int rc = prepare(q, sql, p, n, &st, &cached);
    if (rc < 0)
        return rc;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (s != SQLITE_DONE) {
        seterr(q, "exec");
        release(st, cached);
        return map_rc(s);
    }
    *changes = sqlite3_changes64(q->db);
    if (last_id)
        *last_id = sqlite3_last_insert_rowid(q->db);
    release(st, cached);
    return 0;
}

static json_t *text_value(const unsigned char *t, int len) { return kh_store_text((const char *)t, (size_t)len); }

static int sq_query(void *db, const char *sql, const kh_sval *p, size_t n, size_t max_rows, json_t **rows)
{
    sq *q = db;
    sqlite3_stmt *st = NULL;
    int cached = 0;
    int rc = prepare(q, sql, p, n, &st, &cached);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    int s;
    while (arr && json_array_size(arr) < max_rows && (s = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        int nc = sqlite3_column_count(st);
        for (int i = 0; row && i < nc; i++) {
            json_t *v;
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                v = json_integer(sqlite3_column_int64(st, i));
                break;
            case SQLITE_FLOAT:
                v = json_real(sqlite3_column_double(st, i));
                break;
            case SQLITE_TEXT:
                v = text_value(sqlite3_column_text(st, i), sqlite3_column_bytes(st, i));
                break;
            default:
                v = json_null();
            }
            json_object_set_new(row, sqlite3_column_name(st, i), v);
        }
        json_array_append_new(arr, row);
    }
    if (!arr) {
        release(st, cached);
        return KH_ENOMEM;
    }
    if (json_array_size(arr) < max_rows && s != SQLITE_DONE) {
        seterr(q, "query");
        release(st, cached);
        json_decref(arr);
        return map_rc(s);
    }
    release(st, cached);
    *rows = arr;
    return 0;
}

static int simple(sq *q, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(q->err, sizeof(q->err), "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return map_rc(rc);
    }
    return 0;
}

static int sq_begin(void *db)
{
    return simple(db, "BEGIN IMMEDIATE");
}

static int sq_commit(void *db)
{
    return simple(db, "COMMIT");
}

static int sq_rollback(void *db)
{
    sq *q = db;
    if (sqlite3_get_autocommit(q->db))
        return 0;
    return simple(db, "ROLLBACK");
}

static const char *sq_errmsg(void *db)
{
    return ((sq *)db)->err;
}

const kh_store_backend kh_store_backend_sqlite = {
    KH_STORE_BACKEND_VERSION, "sqlite", sq_open, sq_close, sq_exec, sq_query, sq_begin, sq_commit, sq_rollback,
    sq_errmsg, migrations, sizeof(migrations) / sizeof(migrations[0]),
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
    NULL, /* a deferred read transaction in WAL mode is a snapshot from its first read */
    NULL, /* INTEGER PRIMARY KEY: the next id is max(id) + 1 */
};
