/* Khiên — store: the backend-independent half of the centre's storage.
 *
 * Locking, schema migrations and the result-column conventions (`_json`,
 * `_bool`) live here once, so a backend only executes statements. The lock
 * is recursive: a handler that opened a transaction can run statements in
 * it; other threads wait until it commits or rolls back.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "khien/error.h"

struct kh_store {
    const kh_store_backend *be;
    void *db;
    pthread_mutex_t lock;
    int version;
};

static void lock(kh_store *st)
{
    pthread_mutex_lock(&st->lock);
}

static void unlock(kh_store *st)
{
    pthread_mutex_unlock(&st->lock);
}

/* Applies the `_json` / `_bool` column conventions to every row. */
static void convert_rows(json_t *rows)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *key;
        json_t *v;
        void *tmp;
        json_t *add = json_object();
        json_object_foreach_safe(row, tmp, key, v)
        {
            size_t kl = strlen(key);
            if (kl > 5 && strcmp(key + kl - 5, "_json") == 0) {
                char name[128];
                snprintf(name, sizeof(name), "%.*s", (int)(kl - 5), key);
                json_t *parsed = NULL;
                if (json_is_string(v))
                    parsed = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
                json_object_set_new(add, name, parsed ? parsed : json_null());
                json_object_del(row, key);
            } else if (kl > 5 && strcmp(key + kl - 5, "_bool") == 0) {
                char name[128];
                snprintf(name, sizeof(name), "%.*s", (int)(kl - 5), key);
                json_object_set_new(add, name, json_boolean(json_is_integer(v) && json_integer_value(v) != 0));
                json_object_del(row, key);
            }
        }
        json_object_update(row, add);
        json_decref(add);
    }
}

int kh_store_schema_version(kh_store *st)
{
    return st->version;
}

static int migrate(kh_store *st, char *err, size_t errsz)
{
    int64_t v = 0;
    int rc = kh_store_exec(st, NULL, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL, 0);
    if (rc < 0)
        goto fail;
    rc = kh_store_query_int(st, &v, "SELECT version FROM schema_version", NULL, 0);
    if (rc == KH_ENOTFOUND) {
        if ((rc = kh_store_exec(st, NULL, "INSERT INTO schema_version (version) VALUES (0)", NULL, 0)) < 0)
            goto fail;
        v = 0;
    } else if (rc < 0) {
        goto fail;
    }
    if (v > (int64_t)st->be->n_migrations) {
        snprintf(err, errsz, "cơ sở dữ liệu mới hơn chương trình / database schema %lld is newer than this program (%zu)",
                 (long long)v, st->be->n_migrations);
        return KH_EFORMAT;
    }
    for (size_t i = (size_t)v; i < st->be->n_migrations; i++) {
        if ((rc = kh_store_begin(st)) < 0)
            goto fail;
        rc = kh_store_exec(st, NULL, st->be->migrations[i], NULL, 0);
        if (rc >= 0) {
            kh_sval p[] = {KH_SV_I(i + 1)};
            rc = kh_store_exec(st, NULL, "UPDATE schema_version SET version = ?1", p, 1);
        }
        if (rc < 0) {
            kh_store_rollback(st);
            goto fail;
        }
        if ((rc = kh_store_commit(st)) < 0)
            goto fail;
    }
    st->version = (int)st->be->n_migrations;
    return 0;
fail:
    snprintf(err, errsz, "migration failed: %s", kh_store_errmsg(st));
    return rc < 0 ? rc : KH_EIO;
}

int kh_store_open(kh_store **out, const kh_store_backend *be, const char *location, char *err, size_t errsz)
{
    if (!out || !be || be->version != KH_STORE_BACKEND_VERSION || !location)
        return KH_EINVAL;
    kh_store *st = calloc(1, sizeof(*st));
    if (!st)
        return KH_ENOMEM;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&st->lock, &a);
    pthread_mutexattr_destroy(&a);
    st->be = be;
    int rc = be->open(&st->db, location, err, errsz);
    if (rc < 0) {
        pthread_mutex_destroy(&st->lock);
        free(st);
        return rc;
    }
    if ((rc = migrate(st, err, errsz)) < 0) {
        kh_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void kh_store_close(kh_store *st)
{
    if (!st)
        return;
    st->be->close(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

int kh_store_exec(kh_store *st, int64_t *last_id, const char *sql, const kh_sval *p, size_t n)
{
    int64_t changes = 0, id = 0;
    lock(st);
    int rc = st->be->exec(st->db, sql, p, n, &changes, last_id ? &id : NULL);
    unlock(st);
    if (rc < 0)
        return rc;
    if (last_id)
        *last_id = id;
    return changes > 0x7fffffff ? 0x7fffffff : (int)changes;
}

int kh_store_query(kh_store *st, json_t **rows, const char *sql, const kh_sval *p, size_t n)
{
    json_t *r = NULL;
    lock(st);
    int rc = st->be->query(st->db, sql, p, n, KH_STORE_MAX_ROWS + 1, &r);
    unlock(st);
    if (rc < 0)
        return rc;
    if (json_array_size(r) > KH_STORE_MAX_ROWS) {
        json_decref(r);
        return KH_ELIMIT;
    }
    convert_rows(r);
    *rows = r;
    return 0;
}

int kh_store_query_one(kh_store *st, json_t **row, const char *sql, const kh_sval *p, size_t n)
{
    json_t *rows = NULL; /* one row fetched and converted, not the whole result */
    lock(st);
    int rc = st->be->query(st->db, sql, p, n, 1, &rows);
    unlock(st);
    if (rc < 0)
        return rc;
    convert_rows(rows);
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return KH_ENOTFOUND;
    }
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return 0;
}

int kh_store_query_int(kh_store *st, int64_t *out, const char *sql, const kh_sval *p, size_t n)
{
    json_t *rows = NULL;
    lock(st);
    int rc = st->be->query(st->db, sql, p, n, 1, &rows);
    unlock(st);
    if (rc < 0)
        return rc;
    json_t *row = json_array_get(rows, 0);
    if (!row) {
        json_decref(rows);
        return KH_ENOTFOUND;
    }
    const char *k;
    json_t *v;
    int found = 0;
    json_object_foreach(row, k, v)
    {
        *out = json_is_integer(v) ? json_integer_value(v) : 0;
        found = 1;
        break;
    }
    json_decref(rows);
    return found ? 0 : KH_ENOTFOUND;
}

int kh_store_begin(kh_store *st)
{
    lock(st);
    int rc = st->be->begin(st->db);
    if (rc < 0)
        unlock(st);
    return rc;
}

int kh_store_commit(kh_store *st)
{
    int rc = st->be->commit(st->db);
    if (rc < 0)
        st->be->rollback(st->db);
    unlock(st);
    return rc;
}

void kh_store_rollback(kh_store *st)
{
    st->be->rollback(st->db);
    unlock(st);
}

const kh_store_backend *kh_store_backend_of(kh_store *st)
{
    return st->be;
}

const char *kh_store_errmsg(kh_store *st)
{
    return st->be->errmsg(st->db);
}

const kh_store_backend *kh_store_backend_for(const char *location)
{
    if (location && (strncasecmp(location, "postgresql://", 13) == 0 || strncasecmp(location, "postgres://", 11) == 0))
        return &kh_store_backend_pg;
    return &kh_store_backend_sqlite;
}

void kh_store_redact(const char *location, char *out, size_t size)
{
    if (!out || size == 0)
        return;
    out[0] = 0;
    if (!location)
        return;
    size_t j = 0;
    const char *s = location;
    const char *scheme = strstr(s, "://");
    const char *auth_end = NULL;
    if (scheme) { /* URL: scheme://user:password@host/db?password=... */
        const char *a = scheme + 3;
        const char *at = NULL;
        for (const char *c = a; *c && *c != '/' && *c != '?' && *c != '#'; c++)
            if (*c == '@')
                at = c; /* the last '@' before the path ends the userinfo */
        auth_end = at;
        const char *colon = at ? memchr(a, ':', (size_t)(at - a)) : NULL;
        if (colon) {
            while (s < colon + 1 && j + 1 < size)
                out[j++] = *s++;
            for (const char *r = "***"; *r && j + 1 < size; r++)
                out[j++] = *r;
            s = at;
        }
    }
    while (*s && j + 1 < size) {
        /* password=VALUE (a URL query parameter or a key=value conninfo), up to & or space */
        if ((s == location || s[-1] == '?' || s[-1] == '&' || s[-1] == ' ') && strncasecmp(s, "password=", 9) == 0 &&
            (!auth_end || s > auth_end)) {
            for (int k = 0; k < 9 && j + 1 < size; k++)
                out[j++] = *s++;
            for (const char *r = "***"; *r && j + 1 < size; r++)
                out[j++] = *r;
            if (*s == '\'') { /* quoted conninfo value */
                s++;
                while (*s && *s != '\'')
                    s += (*s == '\\' && s[1]) ? 2 : 1;
                if (*s)
                    s++;
            } else {
                while (*s && *s != '&' && *s != ' ')
                    s++;
            }
            continue;
        }
        out[j++] = *s++;
    }
    out[j] = 0;
}

json_t *kh_store_text(const char *t, size_t len)
{
    json_t *v = json_stringn(t, len);
    if (v)
        return v;
    char *c = malloc(len + 1);
    if (!c)
        return json_null();
    for (size_t i = 0; i < len; i++)
        c[i] = (unsigned char)t[i] < 0x80 && t[i] ? t[i] : '?';
    v = json_stringn(c, len);
    free(c);
    return v ? v : json_null();
}
