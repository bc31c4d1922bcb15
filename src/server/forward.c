/* Khiên — server/forward: incidents and malware detections pushed to a
 * higher-level centre (provincial or national), with retry.
 *
 * The queue is a table, forward_queue (kind, object_id) -> attempts,
 * next_try, last_error, sent_at, filled from the database itself: each
 * round the thread queues the incidents not yet forwarded and the malware
 * findings above the highest id already queued (INSERT ... SELECT ... ON
 * CONFLICT DO NOTHING), so nothing depends on the code paths that create
 * them and a
 * crash between "created" and "queued" loses nothing: the next round queues
 * it. Then it sends what is due, oldest first, each as an HTTPS POST of a
 * bundle envelope signed with the centre's Ed25519 key (payload schema
 * khien-forward-1, docs/api.md), carrying a stable forward_id
 * ("incident-12@<centre>") so that the receiver can drop a second copy when
 * an acknowledgement was lost. A 2xx answer marks the row sent (and the
 * incident's forwarded_at); anything else counts an attempt and schedules
 * the next one after min(retry_max_s, retry_min_s * 2^attempts) seconds,
 * less up to a quarter at random so that many centres do not retry in step.
 * A row whose object was deleted is closed with last_error "object gone".
 *
 * The queue is the forward_queue table (schema migration 3 of each store
 * backend).
 */
#include "server/forward.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "khien/error.h"
#include "net/http_client.h"
#include "net/sign.h"
#include "server/server_int.h"

#define BATCH 20

struct kh_forwarder {
    kh_server *s;
    char url[2048];
    char ca_file[1024];
    int has_ca;
    int64_t retry_min, retry_max, interval;
    pthread_t th;
    pthread_mutex_t m;
    pthread_cond_t c;
    volatile int stop;
    kh_http_client *http;
};

static int64_t conf_int(json_t *conf, const char *key, int64_t def, int64_t lo, int64_t hi)
{
    json_t *v = json_object_get(conf, key);
    if (!json_is_integer(v))
        return def;
    int64_t x = (int64_t)json_integer_value(v);
    return x < lo ? lo : x > hi ? hi : x;
}

/* The document for one object (docs/api.md): an incident as GET
 * /api/v1/incidents/{id} shows it, or a malware finding as GET
 * /api/v1/findings/{id} with its host; NULL if the object is gone. */
static json_t *build(kh_server *s, const char *kind, int64_t id)
{
    int incident = strcmp(kind, "incident") == 0;
    json_t *obj = incident ? kh_incident_json(s, id, 1) : kh_finding_json(s, id);
    if (!obj)
        return NULL;
    json_t *unit = NULL, *host = NULL;
    int64_t host_id = json_integer_value(json_object_get(obj, "host_id"));
    kh_sval u[] = {KH_SV_I(json_integer_value(json_object_get(obj, "unit_id")))}, h[] = {KH_SV_I(host_id)};
    kh_store_query_one(s->st, &unit, "SELECT name, code FROM units WHERE id = ?1", u, 1);
    if (host_id)
        kh_store_query_one(s->st, &host, "SELECT id, hostname, os, level, population_db FROM hosts WHERE id = ?1", h, 1);
    char fwd_id[400], now[32];
    snprintf(fwd_id, sizeof(fwd_id), "%s-%lld@%s", incident ? "incident" : "malware", (long long)id, s->url);
    kh_iso_now(now);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s?, s:s?}}", "schema", "khien-forward-1", "kind",
                            incident ? "incident" : "malware", "forward_id", fwd_id, "sent_at", now, "source", "centre",
                            s->url, "unit", json_string_value(json_object_get(unit, "name")), "unit_code",
                            json_string_value(json_object_get(unit, "code")));
    if (doc && host)
        json_object_set(obj, "host", host);
    if (doc)
        json_object_set(doc, incident ? "incident" : "detection", obj);
    json_decref(obj);
    json_decref(unit);
    json_decref(host);
    return doc;
}

int kh_forward_seal(kh_server *s, const char *kind, int64_t id, char **env, size_t *elen)
{
    json_t *doc = build(s, kind, id);
    if (!doc)
        return KH_ENOENT;
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    int rc = text ? kh_bundle_seal(env, elen, text, strlen(text), s->bundle_sk) : KH_ENOMEM;
    free(text);
    return rc;
}

/* Sends one row. 0 sent, <0 failed (why in msg). */
static int send_one(kh_forwarder *f, const char *kind, int64_t id, char *msg, size_t msz)
{
    char *env = NULL;
    size_t elen = 0;
    int rc = kh_forward_seal(f->s, kind, id, &env, &elen);
    if (rc < 0) {
        if (rc == KH_ENOENT)
            snprintf(msg, msz, "object gone");
        else
            snprintf(msg, msz, "cannot sign: %s", kh_strerror(rc));
        return rc;
    }
    kh_http_response resp;
    memset(&resp, 0, sizeof(resp));
    rc = kh_http_request(f->http, &resp, "POST", f->url, "application/json", env, elen, NULL);
    free(env);
    if (rc < 0)
        snprintf(msg, msz, "%s", kh_http_client_last_error(f->http));
    else if (resp.status < 200 || resp.status > 299) {
        snprintf(msg, msz, "HTTP %ld", resp.status);
        rc = KH_EIO;
    }
    kh_http_response_dispose(&resp);
    return rc;
}

static void round_once(kh_forwarder *f)
{
    kh_store *st = f->s->st;
    char now[32];
    kh_iso_now(now);
    kh_sval q[] = {KH_SV_S(now)};
    /* queue what is new: ids only grow, so only those above the highest
     * already queued are looked at (idempotent all the same) */
    kh_store_exec(st, NULL,
                  "INSERT INTO forward_queue (kind, object_id, created_at) SELECT 'incident', id, ?1 FROM incidents"
                  " WHERE forwarded_at IS NULL AND id > (SELECT COALESCE(MAX(object_id), 0) FROM forward_queue"
                  " WHERE kind = 'incident') ON CONFLICT (kind, object_id) DO NOTHING",
                  q, 1);
    kh_store_exec(st, NULL,
                  "INSERT INTO forward_queue (kind, object_id, created_at) SELECT 'malware', id, ?1 FROM findings"
                  " WHERE kind = 'malware' AND id > (SELECT COALESCE(MAX(object_id), 0) FROM forward_queue"
                  " WHERE kind = 'malware') ON CONFLICT (kind, object_id) DO NOTHING",
                  q, 1);
    json_t *rows = NULL;
    kh_sval d[] = {KH_SV_I((int64_t)time(NULL)), KH_SV_I(BATCH)};
    if (kh_store_query(st, &rows,
                       "SELECT kind, object_id, attempts FROM forward_queue WHERE sent_at IS NULL AND next_try <= ?1"
                       " ORDER BY created_at, kind, object_id LIMIT ?2",
                       d, 2) < 0)
        return;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (f->stop)
            break;
        const char *kind = json_string_value(json_object_get(row, "kind"));
        int64_t id = json_integer_value(json_object_get(row, "object_id"));
        int64_t att = json_integer_value(json_object_get(row, "attempts"));
        char msg[600] = "";
        int rc = send_one(f, kind ? kind : "", id, msg, sizeof(msg));
        kh_iso_now(now);
        if (rc == 0) {
            kh_sval p[] = {KH_SV_S(now), KH_SV_S(kind), KH_SV_I(id)};
            kh_store_exec(st, NULL, "UPDATE forward_queue SET sent_at = ?1, last_error = NULL WHERE kind = ?2 AND object_id = ?3", p, 3);
            if (strcmp(kind, "incident") == 0) {
                kh_sval p2[] = {KH_SV_S(now), KH_SV_I(id)};
                kh_store_exec(st, NULL, "UPDATE incidents SET forwarded_at = ?1 WHERE id = ?2", p2, 2);
            }
            continue;
        }
        if (rc == KH_ENOENT) { /* deleted since it was queued: nothing will ever be sent, close the row */
            kh_sval p[] = {KH_SV_S(now), KH_SV_S(msg), KH_SV_S(kind), KH_SV_I(id)};
            kh_store_exec(st, NULL, "UPDATE forward_queue SET sent_at = ?1, last_error = ?2 WHERE kind = ?3 AND object_id = ?4",
                          p, 4);
            continue;
        }
        if (f->stop)
            break;
        int64_t wait = f->retry_min;
        for (int64_t k = 0; k < att && wait < f->retry_max; k++)
            wait *= 2;
        if (wait > f->retry_max)
            wait = f->retry_max;
        unsigned r = 0;
        kh_sign_random(&r, sizeof(r));
        wait -= (int64_t)(r % (unsigned)(wait / 4 + 1));
        kh_sval p[] = {KH_SV_I((int64_t)time(NULL) + (wait < 1 ? 1 : wait)), KH_SV_S(msg), KH_SV_S(kind), KH_SV_I(id)};
        kh_store_exec(st, NULL,
                      "UPDATE forward_queue SET attempts = attempts + 1, next_try = ?1, last_error = ?2 WHERE kind = ?3 AND object_id = ?4",
                      p, 4);
    }
    json_decref(rows);
}

static void *run(void *arg)
{
    kh_forwarder *f = arg;
    pthread_mutex_lock(&f->m);
    while (!f->stop) {
        pthread_mutex_unlock(&f->m);
        round_once(f);
        pthread_mutex_lock(&f->m);
        if (f->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += f->interval;
        pthread_cond_timedwait(&f->c, &f->m, &ts);
    }
    pthread_mutex_unlock(&f->m);
    return NULL;
}

int kh_forwarder_start(kh_forwarder **out, kh_server *s, char *err, size_t errsz)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/forward.json", s->dir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0; /* not configured */
    fclose(fp);
    json_error_t je;
    json_t *conf = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(conf)) {
        snprintf(err, errsz, "forward.json hỏng / bad forward.json: %d:%d: %s", je.line, je.column, je.text);
        json_decref(conf);
        return KH_EFORMAT;
    }
    const char *url = json_string_value(json_object_get(conf, "url"));
    json_t *aut = json_object_get(conf, "auto");
    if (!url || json_is_false(json_object_get(conf, "enabled")) || json_is_false(aut)) {
        json_decref(conf);
        return 0; /* on demand only */
    }
    if (strncmp(url, "https://", 8) != 0 || strlen(url) >= 2048) {
        snprintf(err, errsz, "forward.json: url phải là https:// / the url must be https:// (at most 2047 bytes)");
        json_decref(conf);
        return KH_EFORMAT;
    }
    kh_forwarder *f = calloc(1, sizeof(*f));
    if (!f) {
        json_decref(conf);
        return KH_ENOMEM;
    }
    f->s = s;
    snprintf(f->url, sizeof(f->url), "%s", url);
    const char *ca = json_string_value(json_object_get(conf, "ca_file"));
    if (ca) {
        snprintf(f->ca_file, sizeof(f->ca_file), "%s", ca);
        f->has_ca = 1;
    }
    f->retry_min = conf_int(conf, "retry_min_s", 5, 1, 86400);
    f->retry_max = conf_int(conf, "retry_max_s", 3600, f->retry_min, 7 * 86400);
    f->interval = conf_int(conf, "interval_s", 10, 1, 3600);
    json_decref(conf);
    int rc;
    kh_http_options o = KH_HTTP_OPTIONS_INIT;
    o.ca_file = f->has_ca ? f->ca_file : NULL;
    o.https_only = 1;
    o.timeout_ms = 15000;
    o.connect_timeout_ms = 5000;
    o.cancel = &f->stop;
    if ((rc = kh_http_client_create(&f->http, &o)) < 0) {
        free(f);
        return rc;
    }
    pthread_mutex_init(&f->m, NULL);
    pthread_cond_init(&f->c, NULL);
    if (pthread_create(&f->th, NULL, run, f) != 0) {
        kh_http_client_destroy(f->http);
        pthread_mutex_destroy(&f->m);
        pthread_cond_destroy(&f->c);
        free(f);
        return KH_EIO;
    }
    *out = f;
    return 0;
}

void kh_forwarder_stop(kh_forwarder *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->m);
    f->stop = 1;
    pthread_cond_broadcast(&f->c);
    pthread_mutex_unlock(&f->m);
    pthread_join(f->th, NULL);
    kh_http_client_destroy(f->http);
    pthread_mutex_destroy(&f->m);
    pthread_cond_destroy(&f->c);
    free(f);
}
