/* Khiên — agent: the loop of `khien agent run`.
 *
 * One thread does everything, in this order of importance: never lose an
 * event, keep the centre informed, do the policy's work. Each round it
 * heartbeats when due (the answer lists the current signed bundles; changed
 * ones are fetched, verified and installed, see bundle.c), runs the tasks
 * that are due (tasks.c; run times persist in schedule.json so a restart
 * does not repeat them), and delivers the queue (spool.c) in batches. An
 * event is queued durably before anything tries to send it, and removed
 * only when the centre lists its id as accepted (or as rejected for good:
 * malformed, it would never be accepted). When the centre cannot be
 * reached, delivery waits with exponential backoff and jitter; tasks go on
 * and their events queue up to the bound, past which drops are counted,
 * logged and reported in an `agent.dropped` event once there is room.
 *
 * The policy (tasks and how often) is, in order: a local file only root can
 * write (--policy, or /etc/khien/agent-policy.json), the signed `policy`
 * bundle, or the built-in default (inventory every 6 h, audit and a scan of
 * the home and temporary folders daily).
 *
 * Threads: tasks run one at a time on a task thread, so that a scan of an
 * hour does not stop heartbeats or delivery, which stay on the main thread.
 * One lock (a->lock) guards what both touch: the queue (spool.c is not
 * thread-safe), the events gathered but not yet queued, and schedule.json.
 * Delivery holds it to read a batch and to acknowledge it, not while the
 * request is in flight, so a task can queue events meanwhile; an entry is
 * still removed only after the centre listed all its ids, and the ids never
 * change, so a batch sent again is stored once. Delivery also queues what a
 * running task has gathered so far, so a detection early in a long scan
 * reaches the centre without waiting for the scan to end. `--once` runs
 * everything on the calling thread, in order.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "agent/schedule.h"
#include "agent/spool.h"
#include "khien/common.h"
#include "khien/error.h"
#include "net/http_client.h"
#include "util/util.h"

#define BATCH_EVENTS 200       /* queue entries per request */
#define BATCH_ENTRY_EVENTS 200 /* events per queue entry */
#define BATCH_ENTRY_BYTES (1u << 20)
#define BATCH_BYTES (4u << 20)
#define EVENT_MAX_SERVER (4u << 20)  /* the centre's per-event limit (docs/api.md) */
#define EVENT_MAX_AGENT (4u << 20)    /* larger events are not queued (a request must stay under 8 MiB) */
#define REQUEST_EVENTS 1000           /* the centre's limits per request */
#define REQUEST_BYTES (7u << 20)
#define MAX_BUNDLE_RESPONSE (80u << 20)
#define DEFAULT_HEARTBEAT 60
#define FILL_WARN 80

static const char default_policy[] =
    "{\"heartbeat\": 60, \"tasks\": ["
    "{\"name\": \"inventory\", \"type\": \"inventory\", \"every\": \"6h\"},"
    "{\"name\": \"audit\", \"type\": \"audit\", \"every\": \"1d\"},"
    "{\"name\": \"vuln\", \"type\": \"vuln\", \"every\": \"1d\"},"
    "{\"name\": \"scan\", \"type\": \"scan\", \"every\": \"1d\", \"full\": false,"
    " \"paths\": [\"/home\", \"/root\", \"/tmp\", \"/var/tmp\"]}]}";

typedef struct agent {
    kh_agent_run_options o;
    kh_agent_log lg;
    kh_agent_conf conf;
    const char *dir;
    kh_spool *spool;
    kh_http_client *http;
    json_t *policy;
    char policy_origin[64];
    json_t *state; /* schedule.json: task name -> last run; _last_full_scan; _dropped_pending */
    kh_backoff backoff;
    double next_delivery;
    int64_t heartbeat_every, next_heartbeat;
    uint64_t dropped_seen; /* kh_spool_dropped() already counted into _dropped_pending */
    int fill_warned, removed;
    kh_buf pend[2];   /* events gathered per priority, one JSON per line */
    size_t npend[2];
    kh_task_ctx tctx;
    kh_agent_emit emitter;
    pthread_mutex_t lock; /* recursive: spool, pend, npend, state, dropped_seen, fill_warned, signatures */
    uint64_t signatures;  /* from the last scan, for the heartbeat */
    /* the task thread */
    pthread_t task_thread;
    const json_t *task; /* running (a reference held), or NULL */
    volatile int task_done;
} agent;

static void lk(agent *a)
{
    pthread_mutex_lock(&a->lock);
}

static void unlk(agent *a)
{
    pthread_mutex_unlock(&a->lock);
}

static int stopping(const agent *a)
{
    return a->o.stop && *a->o.stop;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static unsigned rnd(void)
{
    unsigned r = 0;
    kh_sign_random(&r, sizeof(r));
    return r;
}

/* ---- state (schedule.json) ---------------------------------------------- */

static void state_save(agent *a)
{
    char p[4096];
    kh_platform_path_join(p, sizeof(p), a->dir, "schedule.json");
    if (kh_agent_json_write(p, a->state, 0600) < 0)
        kh_agent_logf(&a->lg, KH_LOG_WARN, "không ghi được / cannot write %s", p);
}

static int64_t state_int(agent *a, const char *key)
{
    json_t *v = json_object_get(a->state, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void state_set(agent *a, const char *key, int64_t v)
{
    json_object_set_new(a->state, key, json_integer(v));
}

/* ---- events --------------------------------------------------------------- */

static void note_drops(agent *a, uint64_t refused_events)
{
    uint64_t d = kh_spool_dropped(a->spool);
    uint64_t add = refused_events + (d > a->dropped_seen ? d - a->dropped_seen : 0);
    a->dropped_seen = d > a->dropped_seen ? d : a->dropped_seen;
    if (add) {
        state_set(a, "_dropped_pending", state_int(a, "_dropped_pending") + (int64_t)add);
        state_save(a);
    }
}

/* Writes the events gathered for one priority as one queue entry (one JSON
 * event per line): two fsyncs per task run instead of two per event. Called
 * at the end of every task, before every delivery and when a batch is big:
 * a crash before that loses nothing, because a task is marked as run only
 * after its events are on disk, so it runs again. */
static int flush_prio(agent *a, int prio)
{
    kh_buf *b = &a->pend[prio];
    size_t n = a->npend[prio];
    if (!n)
        return 0;
    int rc = kh_spool_put(a->spool, b->data, b->len, prio, NULL);
    kh_buf_clear(b);
    a->npend[prio] = 0;
    if (rc == KH_ELIMIT) {
        kh_agent_logf(&a->lg, KH_LOG_WARN, "%s (%zu sự kiện / events)", kh_spool_last_error(a->spool), n);
        note_drops(a, n);
        return rc;
    }
    if (rc < 0) {
        kh_agent_logf(&a->lg, KH_LOG_ERROR, "%s", kh_spool_last_error(a->spool));
        return rc;
    }
    note_drops(a, 0); /* a high-priority batch may have evicted older ones */
    unsigned fill = kh_spool_fill_percent(a->spool);
    if (fill >= FILL_WARN && !a->fill_warned) {
        const kh_spool_limits *l = kh_spool_get_limits(a->spool);
        kh_agent_logf(&a->lg, KH_LOG_WARN,
                      "hàng đợi sự kiện đã đầy %u%% (%zu/%zu mục, %llu/%llu byte): trung tâm không nhận kịp / "
                      "event queue %u%% full (%zu/%zu entries, %llu/%llu bytes): the centre is not taking them",
                      fill, kh_spool_count(a->spool), l->max_events, (unsigned long long)kh_spool_bytes(a->spool),
                      (unsigned long long)l->max_bytes, fill, kh_spool_count(a->spool), l->max_events,
                      (unsigned long long)kh_spool_bytes(a->spool), (unsigned long long)l->max_bytes);
        a->fill_warned = 1;
    } else if (fill < FILL_WARN / 2) {
        a->fill_warned = 0;
    }
    return 0;
}

static int flush_events(agent *a)
{
    int r1 = flush_prio(a, KH_SPOOL_PRIO_HIGH), r2 = flush_prio(a, KH_SPOOL_PRIO_LOW);
    return r1 < 0 ? r1 : r2;
}

static int queue_event(agent *a, const char *type, int prio, json_t *data)
{
    char id[33], ts[32];
    if (kh_agent_event_id(id) < 0) {
        json_decref(data);
        return KH_EINTERNAL;
    }
    kh_agent_iso_time(ts, now_s());
    json_t *ev = json_pack("{s:s, s:s, s:s, s:o}", "id", id, "type", type, "time", ts, "data", data);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL; /* compact JSON: no raw newline inside */
    json_decref(ev);
    if (!text)
        return KH_ENOMEM;
    size_t len = strlen(text);
    if (len > EVENT_MAX_SERVER)
        kh_agent_logf(&a->lg, KH_LOG_WARN,
                      "sự kiện '%s' lớn %zu byte, quá giới hạn %u byte của trung tâm / event '%s' is %zu bytes, over "
                      "the centre's %u-byte limit",
                      type, len, EVENT_MAX_SERVER, type, len, EVENT_MAX_SERVER);
    if (len > EVENT_MAX_AGENT) {
        free(text);
        kh_agent_logf(&a->lg, KH_LOG_WARN, "sự kiện '%s' quá lớn, bỏ / event '%s' too large, dropped", type, type);
        note_drops(a, 1);
        return KH_ELIMIT;
    }
    int rc = 0;
    if (a->pend[prio].len + len + 1 > BATCH_ENTRY_BYTES)
        rc = flush_prio(a, prio);
    if (kh_buf_append(&a->pend[prio], text, len) < 0 || kh_buf_putc(&a->pend[prio], '\n') < 0) {
        free(text);
        return KH_ENOMEM;
    }
    free(text);
    if (++a->npend[prio] >= BATCH_ENTRY_EVENTS)
        rc = flush_prio(a, prio);
    return rc;
}

static int emit_cb(void *ud, const char *type, int prio, json_t *data)
{
    agent *a = ud;
    lk(a);
    int rc = queue_event(a, type, prio, data);
    unlk(a);
    return rc;
}

/* Reports drops once the queue has room again. */
static void report_drops(agent *a)
{
    int64_t n = state_int(a, "_dropped_pending");
    if (n <= 0 || kh_spool_fill_percent(a->spool) >= 90)
        return;
    if (queue_event(a, "agent.dropped", KH_SPOOL_PRIO_HIGH, json_pack("{s:I}", "dropped", (json_int_t)n)) == 0 &&
        flush_events(a) == 0) {
        state_set(a, "_dropped_pending", 0);
        state_save(a);
    }
}

/* ---- talking to the centre ---------------------------------------------------- */

static void server_msg(char *out, size_t n, const kh_http_response *r)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    const char *m = kh_agent_json_str(json_object_get(j, "error"), "message");
    snprintf(out, n, "HTTP %ld%s%.300s", r->status, m ? ": " : "", m ? m : "");
    json_decref(j);
}

static void refused(agent *a, const kh_http_response *r)
{
    char m[512];
    server_msg(m, sizeof(m), r);
    if (!a->removed)
        kh_agent_logf(&a->lg, KH_LOG_ERROR,
                      "trung tâm từ chối máy này (đã bị gỡ hoặc chứng thư bị thu hồi?); sự kiện được giữ lại / the "
                      "centre refuses this host (removed, or its certificate revoked?); events are kept: %s",
                      m);
    a->removed = 1;
}

/* POST url with body; 0 and resp on any HTTP answer, <0 on transport failure (logged). */
static int post(agent *a, const char *path, const char *body, kh_http_response *resp)
{
    char url[KH_AGENT_URL_MAX + 128];
    snprintf(url, sizeof(url), "%s%s", a->conf.server, path);
    int rc = kh_http_request(a->http, resp, "POST", url, NULL, body, strlen(body), NULL);
    if (rc < 0)
        kh_agent_logf(&a->lg, rc == KH_EUSER ? KH_LOG_DEBUG : KH_LOG_WARN, "%s",
                      kh_http_client_last_error(a->http));
    return rc;
}

/* Sends the oldest queue entries (each one or more events, one per line).
 * An entry is removed when every one of its events is acknowledged.
 * 1: sent something, 0: queue empty, <0: failed (retry later). */
static int deliver_batch(agent *a)
{
    kh_spool_entry *e = NULL;
    size_t n = 0;
    lk(a);
    int rc = kh_spool_batch(a->spool, BATCH_EVENTS, BATCH_BYTES, &e, &n);
    unlk(a);
    if (rc < 0) {
        kh_agent_logf(&a->lg, KH_LOG_ERROR, "%s", kh_spool_last_error(a->spool));
        return rc;
    }
    if (n == 0) {
        free(e);
        return 0;
    }
    kh_buf body = KH_BUF_INIT(BATCH_BYTES + (64u << 20));
    json_t *ids = json_object(); /* event id -> entry index */
    size_t *left = calloc(n, sizeof(size_t)); /* events of each entry not yet acknowledged */
    kh_buf_puts(&body, "{\"events\":[");
    size_t sent = 0, used = n;
    for (size_t i = 0; i < n && left; i++) {
        char *p = e[i].data, *end = e[i].data + e[i].len;
        size_t lines = 0;
        for (char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++)
            lines++;
        /* The centre takes at most 1,000 events and 8 MiB per request: the
         * rest waits for the next request. */
        if (sent && (sent + lines > REQUEST_EVENTS || body.len + e[i].len > REQUEST_BYTES)) {
            used = i;
            break;
        }
        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            json_t *ev = json_loadb(p, l, 0, NULL);
            const char *id = kh_agent_json_str(ev, "id");
            if (id && !json_object_get(ids, id)) {
                json_object_set_new(ids, id, json_integer((json_int_t)i));
                left[i]++;
                if (sent++)
                    kh_buf_putc(&body, ',');
                kh_buf_append(&body, p, l);
            }
            json_decref(ev);
            p += l + 1;
        }
    }
    kh_buf_puts(&body, "]}");
    kh_http_response resp = {0};
    uint64_t *acks = calloc(n + 1, sizeof(uint64_t));
    size_t nacks = 0, nok = 0;
    if (!left || !acks || !body.data) {
        rc = KH_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < used; i++) /* entries with nothing readable: never send or keep garbage */
        if (left[i] == 0)
            acks[nacks++] = e[i].seq;
    if (sent == 0)
        goto ack;
    if ((rc = post(a, "/api/v1/agent/events", body.data, &resp)) < 0)
        goto ack;
    if (resp.status == 401 || resp.status == 403) {
        refused(a, &resp);
        rc = KH_EACCES;
        goto ack;
    }
    if (resp.status != 200 && resp.status != 201) {
        char m[512];
        server_msg(m, sizeof(m), &resp);
        kh_agent_logf(&a->lg, KH_LOG_WARN, "trung tâm không nhận sự kiện / the centre did not take the events: %s", m);
        rc = KH_EIO;
        goto ack;
    }
    a->removed = 0;
    json_t *r = json_loadb(resp.body, resp.len, 0, NULL);
    json_t *acc = json_object_get(r, "accepted"), *rej = json_object_get(r, "rejected"), *v;
    size_t k;
    json_array_foreach(acc, k, v) {
        json_t *ix = json_is_string(v) ? json_object_get(ids, json_string_value(v)) : NULL;
        if (ix) {
            size_t i = (size_t)json_integer_value(ix);
            if (--left[i] == 0)
                acks[nacks++] = e[i].seq;
            json_object_del(ids, json_string_value(v));
            nok++;
        }
    }
    json_array_foreach(rej, k, v) {
        const char *id = kh_agent_json_str(v, "id");
        json_t *ix = id ? json_object_get(ids, id) : NULL;
        if (ix) { /* malformed for the centre: it will never be accepted */
            size_t i = (size_t)json_integer_value(ix);
            kh_agent_logf(&a->lg, KH_LOG_WARN, "trung tâm loại sự kiện %s / the centre rejected event %s: %s", id, id,
                          kh_agent_json_str(v, "error") ? kh_agent_json_str(v, "error") : "");
            if (--left[i] == 0)
                acks[nacks++] = e[i].seq;
            json_object_del(ids, id);
            nok++;
        }
    }
    json_decref(r);
    if (nok == 0) {
        kh_agent_logf(&a->lg, KH_LOG_WARN, "trung tâm không xác nhận sự kiện nào / the centre acknowledged no event");
        rc = KH_EIO;
    } else {
        kh_agent_logf(&a->lg, KH_LOG_DEBUG, "đã gửi %zu sự kiện / delivered %zu events", nok, nok);
        rc = 1;
    }
ack:
    lk(a);
    if (nacks && kh_spool_ack(a->spool, acks, nacks) < 0) {
        kh_agent_logf(&a->lg, KH_LOG_ERROR, "%s", kh_spool_last_error(a->spool));
        rc = KH_EIO;
    }
    unlk(a);
done:
    free(acks);
    free(left);
    kh_http_response_dispose(&resp);
    kh_buf_dispose(&body);
    json_decref(ids);
    kh_spool_entries_free(e, n);
    return rc;
}

/* Delivers until the queue is empty or a batch fails. 0 or <0. */
static size_t queued(agent *a)
{
    lk(a);
    size_t n = kh_spool_count(a->spool);
    unlk(a);
    return n;
}

static int deliver(agent *a)
{
    int rc;
    lk(a);
    flush_events(a); /* also what a running task gathered so far */
    unlk(a);
    while (!stopping(a) && (rc = deliver_batch(a)) > 0)
        kh_backoff_reset(&a->backoff);
    if (stopping(a))
        return 0;
    if (rc < 0) {
        double w = kh_backoff_fail(&a->backoff, rnd());
        a->next_delivery = kh_now() + w;
        if (!a->o.once)
            kh_agent_logf(&a->lg, KH_LOG_INFO,
                          "%zu mục sự kiện chờ gửi, thử lại sau %.0f s / %zu queue entries waiting, retrying in %.0f s",
                          queued(a), w, queued(a), w);
        return rc;
    }
    kh_backoff_reset(&a->backoff);
    lk(a);
    report_drops(a);
    unlk(a);
    return 0;
}

/* ---- policy ---------------------------------------------------------------------- */

static int load_policy(agent *a)
{
    json_t *p = NULL;
    const char *local = a->o.policy_file;
    struct stat st;
    if (!local && stat(KH_AGENT_LOCAL_POLICY, &st) == 0)
        local = KH_AGENT_LOCAL_POLICY;
    if (local) {
        /* Only the machine's administrator may define local work (it can name
         * audit policies whose commands run as root). */
        if (stat(local, &st) != 0) {
            kh_agent_logf(&a->lg, KH_LOG_ERROR, "không đọc được chính sách / cannot read the policy %s", local);
            return KH_ENOENT;
        }
        if (st.st_uid != 0 && st.st_uid != geteuid()) {
            kh_agent_logf(&a->lg, KH_LOG_ERROR,
                          "chính sách cục bộ %s không thuộc root: từ chối / the local policy %s is not owned by root: "
                          "refused",
                          local, local);
            return KH_EACCES;
        }
        if (st.st_mode & 022) {
            kh_agent_logf(&a->lg, KH_LOG_ERROR,
                          "người khác ghi được chính sách cục bộ %s: từ chối / others can write the local policy %s: "
                          "refused",
                          local, local);
            return KH_EACCES;
        }
        json_error_t je;
        p = json_load_file(local, JSON_REJECT_DUPLICATES, &je);
        if (!p) {
            kh_agent_logf(&a->lg, KH_LOG_ERROR, "chính sách hỏng / bad policy %s:%d:%d: %s", local, je.line, je.column,
                          je.text);
            return KH_EFORMAT;
        }
        snprintf(a->policy_origin, sizeof(a->policy_origin), "local");
    } else {
        char files[4096], path[4096 + 64];
        if (kh_agent_bundle_files_dir(files, sizeof(files), a->dir, "policy") == 0) {
            snprintf(path, sizeof(path), "%s/agent-policy.json", files);
            p = kh_agent_json_read(path, 1 << 20);
        }
        if (p) {
            snprintf(a->policy_origin, sizeof(a->policy_origin), "bundle");
        } else {
            p = json_loads(default_policy, 0, NULL);
            snprintf(a->policy_origin, sizeof(a->policy_origin), "default");
        }
    }
    if (!json_is_object(p) || !json_is_array(json_object_get(p, "tasks"))) {
        kh_agent_logf(&a->lg, KH_LOG_ERROR, "chính sách thiếu \"tasks\" / the policy has no \"tasks\" list");
        json_decref(p);
        return KH_EFORMAT;
    }
    /* Audit files named by a policy are only honoured from a local policy. */
    if (strcmp(a->policy_origin, "local") != 0) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(p, "tasks"), i, t) json_object_del(t, "files");
    }
    json_decref(a->policy);
    a->policy = p;
    json_t *hb = json_object_get(p, "heartbeat");
    int64_t v = 0;
    if (json_is_integer(hb) && json_integer_value(hb) > 0)
        a->heartbeat_every = (int64_t)json_integer_value(hb);
    else if (json_is_string(hb) && kh_sched_parse_interval(json_string_value(hb), &v) == 0)
        a->heartbeat_every = v;
    return 0;
}

static int task_sched(agent *a, const json_t *t, kh_sched *s)
{
    const char *every = kh_agent_json_str(t, "every"), *at = kh_agent_json_str(t, "at");
    s->every = 86400;
    s->at_minute = -1;
    if (every && kh_sched_parse_interval(every, &s->every) < 0)
        return KH_EFORMAT;
    if (at && kh_sched_parse_at(at, &s->at_minute) < 0)
        return KH_EFORMAT;
    s->splay = kh_sched_splay(a->conf.host_id, s->every);
    return 0;
}

static const char *task_name(const json_t *t)
{
    const char *n = kh_agent_json_str(t, "name");
    return n ? n : kh_agent_json_str(t, "type");
}

static int run_task(agent *a, const json_t *t)
{
    const char *type = kh_agent_json_str(t, "type"), *name = task_name(t);
    int rc;
    if (!type) {
        kh_agent_logf(&a->lg, KH_LOG_WARN, "nhiệm vụ thiếu \"type\" / a task has no \"type\"");
        return KH_EFORMAT;
    }
    kh_agent_logf(&a->lg, KH_LOG_INFO, "chạy nhiệm vụ / running task: %s", name);
    if (strcmp(type, "scan") == 0)
        rc = kh_task_scan(&a->tctx, t);
    else if (strcmp(type, "audit") == 0)
        rc = kh_task_audit(&a->tctx, t);
    else if (strcmp(type, "inventory") == 0)
        rc = kh_task_inventory(&a->tctx, t);
    else if (strcmp(type, "vuln") == 0)
        rc = kh_task_vuln(&a->tctx, t);
    else {
        kh_agent_logf(&a->lg, KH_LOG_WARN, "loại nhiệm vụ không biết / unknown task type: %s", type);
        return KH_EUNSUPPORTED;
    }
    lk(a);
    if (rc < 0 && rc != KH_ELIMIT && !stopping(a))
        queue_event(a, "agent.error", KH_SPOOL_PRIO_LOW,
                    json_pack("{s:s, s:s, s:s}", "task", name, "type", type, "error", kh_strerror(rc)));
    int frc = flush_events(a);
    if (a->tctx.signatures)
        a->signatures = a->tctx.signatures;
    if (a->tctx.last_full_scan > state_int(a, "_last_full_scan"))
        state_set(a, "_last_full_scan", a->tctx.last_full_scan);
    if (a->tctx.signatures_time)
        state_set(a, "_signatures_time", a->tctx.signatures_time);
    /* The run counts once its events are on disk, or were refused by a full
     * queue (counted and reported; running again would only refuse more). */
    if (!stopping(a) && (frc == 0 || frc == KH_ELIMIT)) {
        state_set(a, name, now_s());
        state_save(a);
    }
    unlk(a);
    return rc;
}

static void *task_main(void *arg)
{
    agent *a = arg;
    run_task(a, a->task);
    __atomic_store_n(&a->task_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Starts t on the task thread. 0, or <0 (then run it here). */
static int task_start(agent *a, const json_t *t)
{
    a->task = json_incref((json_t *)t);
    a->task_done = 0;
    if (pthread_create(&a->task_thread, NULL, task_main, a) != 0) {
        json_decref((json_t *)a->task);
        a->task = NULL;
        return KH_EIO;
    }
    return 0;
}

/* Joins the task thread once it finished (or, wait: until it does). 1 if a task is still running. */
static int task_reap(agent *a, int wait)
{
    if (!a->task)
        return 0;
    if (!wait && !__atomic_load_n(&a->task_done, __ATOMIC_ACQUIRE))
        return 1;
    pthread_join(a->task_thread, NULL);
    json_decref((json_t *)a->task);
    a->task = NULL;
    return 0;
}

/* ---- heartbeat and bundles ----------------------------------------------------------- */

static int fetch_bundle(agent *a, const char *name, const char *tag)
{
    char url[KH_AGENT_URL_MAX + 300], err[1024];
    snprintf(url, sizeof(url), "%s/api/v1/agent/bundles/%s", a->conf.server, name);
    kh_http_response r = {0};
    int rc = kh_http_get(a->http, &r, url);
    if (rc < 0) {
        kh_agent_logf(&a->lg, KH_LOG_WARN, "%s", kh_http_client_last_error(a->http));
        return rc;
    }
    if (r.status != 200) {
        server_msg(err, sizeof(err), &r);
        kh_agent_logf(&a->lg, KH_LOG_WARN, "không tải được gói %s / cannot fetch bundle %s: %s", name, name, err);
        kh_http_response_dispose(&r);
        return KH_EIO;
    }
    unsigned changed = 0;
    rc = kh_agent_bundle_apply(a->dir, name, r.body, r.len, a->conf.sign_pk, tag, &changed, err, sizeof(err));
    kh_http_response_dispose(&r);
    if (rc < 0) {
        kh_agent_logf(&a->lg, KH_LOG_ERROR, "%s", err);
        lk(a);
        queue_event(a, "agent.error", KH_SPOOL_PRIO_HIGH,
                    json_pack("{s:s, s:s, s:s}", "task", "bundle", "bundle", name, "error", err));
        flush_events(a);
        unlk(a);
        return rc;
    }
    kh_agent_logf(&a->lg, KH_LOG_INFO, "đã cập nhật gói %s (%u tệp đổi) / bundle %s updated (%u files changed)", name,
                  changed, name, changed);
    if (strcmp(name, "policy") == 0)
        load_policy(a);
    return 0;
}

static int heartbeat(agent *a)
{
    char host[256] = "", ts[32], fs[32], osn[256];
    if (a->conf.hostname[0])
        snprintf(host, sizeof(host), "%s", a->conf.hostname);
    else
        gethostname(host, sizeof(host) - 1);
    kh_inventory_os_name(osn, sizeof(osn), NULL);
    lk(a);
    json_t *hb = json_pack("{s:s, s:s, s:s, s:b, s:{s:I, s:I, s:I}, s:s}", "hostname", host, "os", osn,
                           "agent_version", KH_VERSION_STRING, "protection", 1, "queue", "events", (json_int_t)kh_spool_count(a->spool),
                           "bytes", (json_int_t)kh_spool_bytes(a->spool), "dropped",
                           (json_int_t)state_int(a, "_dropped_pending"), "policy", a->policy_origin);
    int64_t sigt = state_int(a, "_signatures_time"), full = state_int(a, "_last_full_scan");
    json_t *sig = json_object();
    if (sigt) {
        kh_agent_iso_time(ts, sigt);
        json_object_set_new(sig, "updated", json_string(ts));
    }
    if (a->signatures)
        json_object_set_new(sig, "count", json_integer((json_int_t)a->signatures));
    json_object_set_new(hb, "signatures", sig);
    if (full) {
        kh_agent_iso_time(fs, full);
        json_object_set_new(hb, "last_full_scan", json_string(fs));
    }
    unlk(a);
    char *body = json_dumps(hb, JSON_COMPACT);
    json_decref(hb);
    if (!body)
        return KH_ENOMEM;
    kh_http_response r = {0};
    int rc = post(a, "/api/v1/agent/heartbeat", body, &r);
    free(body);
    if (rc < 0)
        return rc;
    if (r.status == 401 || r.status == 403) {
        refused(a, &r);
        kh_http_response_dispose(&r);
        return KH_EACCES;
    }
    if (r.status != 200) {
        char m[512];
        server_msg(m, sizeof(m), &r);
        kh_agent_logf(&a->lg, KH_LOG_WARN, "nhịp tim bị từ chối / heartbeat refused: %s", m);
        kh_http_response_dispose(&r);
        return KH_EIO;
    }
    a->removed = 0;
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    kh_http_response_dispose(&r);
    json_t *iv = json_object_get(j, "heartbeat_interval");
    if (json_is_integer(iv) && json_integer_value(iv) >= 5 && json_integer_value(iv) <= 86400 &&
        strcmp(a->policy_origin, "local") != 0)
        a->heartbeat_every = (int64_t)json_integer_value(iv);
    /* A running task reads the bundle folders: new bundles are applied
     * between tasks (the next heartbeat), never under its feet. */
    json_t *bl = a->task ? NULL : json_object_get(j, "bundles"), *b;
    size_t i;
    json_array_foreach(bl, i, b) {
        const char *name = kh_agent_json_str(b, "name"), *sha = kh_agent_json_str(b, "sha256");
        char tag[128], have_v[64], have_tag[128];
        if (!name)
            continue;
        json_t *ver = json_object_get(b, "version");
        if (sha)
            snprintf(tag, sizeof(tag), "%s", sha);
        else if (json_is_integer(ver))
            snprintf(tag, sizeof(tag), "v%lld", (long long)json_integer_value(ver));
        else
            continue;
        if (kh_agent_bundle_current(a->dir, name, have_v, sizeof(have_v), have_tag, sizeof(have_tag)) == 0 &&
            strcmp(have_tag, tag) == 0)
            continue;
        if (!a->conf.has_sign_pk) {
            kh_agent_logf(&a->lg, KH_LOG_ERROR, "không có khoá công khai để kiểm tra gói / no public key to verify bundles");
            break;
        }
        fetch_bundle(a, name, tag);
    }
    json_decref(j);
    return 0;
}

/* ---- run ----------------------------------------------------------------------------------- */

static int open_agent(agent *a, const kh_agent_run_options *o)
{
    char err[1024], ca[4096], cert[4096], key[4096];
    memset(a, 0, sizeof(*a));
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&a->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    a->o = *o;
    a->lg = (kh_agent_log){o->log, o->payload};
    a->dir = o->dir ? o->dir : KH_AGENT_DEFAULT_DIR;
    a->backoff = (kh_backoff)KH_BACKOFF_INIT(5, 600);
    a->heartbeat_every = DEFAULT_HEARTBEAT;
    int rc = kh_agent_conf_load(&a->conf, a->dir, err, sizeof(err));
    if (rc < 0) {
        kh_agent_logf(&a->lg, KH_LOG_ERROR, "%s", err);
        return rc;
    }
    char sp[4096];
    kh_platform_path_join(sp, sizeof(sp), a->dir, "spool");
    kh_spool_limits lim = {o->max_events, o->max_bytes};
    if ((rc = kh_spool_open(&a->spool, sp, &lim, err, sizeof(err))) < 0) {
        kh_agent_logf(&a->lg, KH_LOG_ERROR, "%s", err);
        return rc;
    }
    if (kh_spool_damaged(a->spool))
        kh_agent_logf(&a->lg, KH_LOG_WARN, "%llu tệp sự kiện hỏng đã được chuyển sang spool/bad / %llu damaged event files moved to spool/bad",
                      (unsigned long long)kh_spool_damaged(a->spool), (unsigned long long)kh_spool_damaged(a->spool));
    kh_platform_path_join(ca, sizeof(ca), a->dir, "ca.pem");
    kh_platform_path_join(cert, sizeof(cert), a->dir, "cert.pem");
    kh_platform_path_join(key, sizeof(key), a->dir, "key.pem");
    kh_http_options ho = KH_HTTP_OPTIONS_INIT;
    ho.ca_file = ca;
    ho.cert_file = cert;
    ho.key_file = key;
    ho.https_only = 1;
    ho.timeout_ms = 120000;
    ho.max_response = MAX_BUNDLE_RESPONSE;
    ho.cancel = o->stop;
    if ((rc = kh_http_client_create(&a->http, &ho)) < 0)
        return rc;
    char p[4096];
    kh_platform_path_join(p, sizeof(p), a->dir, "schedule.json");
    a->state = kh_agent_json_read(p, 1 << 20);
    if (!json_is_object(a->state)) {
        json_decref(a->state);
        a->state = json_object();
    }
    kh_buf_init(&a->pend[0], KH_SPOOL_EVENT_MAX);
    kh_buf_init(&a->pend[1], KH_SPOOL_EVENT_MAX);
    a->emitter = (kh_agent_emit){emit_cb, a};
    a->tctx.dir = a->dir;
    a->tctx.root = o->root;
    a->tctx.log = &a->lg;
    a->tctx.emit = &a->emitter;
    a->tctx.stop = o->stop;
    return load_policy(a);
}

static void close_agent(agent *a)
{
    if (a->spool)
        flush_events(a);
    kh_buf_dispose(&a->pend[0]);
    kh_buf_dispose(&a->pend[1]);
    kh_spool_close(a->spool);
    kh_http_client_destroy(a->http);
    json_decref(a->policy);
    json_decref(a->state);
    pthread_mutex_destroy(&a->lock);
}

static void sleep_until(agent *a, double t)
{
    while (!stopping(a) && kh_now() < t) {
        double left = t - kh_now();
        struct timespec ts = {0, (long)(KH_MIN(left, 0.5) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int kh_agent_run(const kh_agent_run_options *o)
{
    agent a;
    if (!o)
        return KH_EINVAL;
    int rc = open_agent(&a, o);
    if (rc < 0)
        goto done;
    kh_agent_logf(&a.lg, KH_LOG_INFO,
                  "tác tử khởi động: máy %s, trung tâm %s, chính sách %s, %zu mục chờ gửi / agent started: host %s, "
                  "centre %s, policy %s, %zu queue entries",
                  a.conf.host_id, a.conf.server, a.policy_origin, kh_spool_count(a.spool), a.conf.host_id,
                  a.conf.server, a.policy_origin, kh_spool_count(a.spool));
    json_t *tasks, *t;
    size_t i;
    if (o->once) {
        /* Old events first (they waited longest), then fresh bundles and work. */
        deliver(&a);
        heartbeat(&a);
        tasks = json_incref(json_object_get(a.policy, "tasks"));
        json_array_foreach(tasks, i, t) {
            if (stopping(&a))
                break;
            run_task(&a, t);
        }
        json_decref(tasks);
        deliver(&a);
        rc = kh_spool_count(a.spool) ? 1 : 0;
        if (rc)
            kh_agent_logf(&a.lg, KH_LOG_WARN, "%zu mục sự kiện chưa gửi được, sẽ gửi lần sau / %zu queue entries not delivered yet, kept for later",
                          kh_spool_count(a.spool), kh_spool_count(a.spool));
        goto done;
    }
    while (!stopping(&a)) {
        int64_t now = now_s();
        if (now >= a.next_heartbeat) {
            heartbeat(&a);
            a.next_heartbeat = now_s() + a.heartbeat_every;
        }
        int running = task_reap(&a, 0);
        tasks = json_incref(json_object_get(a.policy, "tasks"));
        json_array_foreach(tasks, i, t) {
            kh_sched s;
            if (running || stopping(&a))
                break;
            if (task_sched(&a, t, &s) < 0)
                continue;
            lk(&a);
            int64_t last = state_int(&a, task_name(t));
            unlk(&a);
            if (kh_sched_next(&s, last, now_s()) <= now_s()) { /* the first due task goes to the task thread */
                if (task_start(&a, t) == 0)
                    running = 1;
                else
                    run_task(&a, t);
                break;
            }
        }
        json_decref(tasks);
        if (queued(&a) && kh_now() >= a.next_delivery)
            deliver(&a);
        else if (!queued(&a)) {
            lk(&a);
            report_drops(&a);
            unlk(&a);
        }
        /* Wake for the next heartbeat, the next delivery try, or in 30 s at most (task due times);
         * every second while a task runs (its events, its end). */
        double wake = kh_now() + (running ? 1 : 30);
        double hb = kh_now() + (double)(a.next_heartbeat - now_s());
        if (hb < wake)
            wake = hb;
        if (queued(&a) && a.next_delivery < wake)
            wake = a.next_delivery;
        sleep_until(&a, wake);
    }
    task_reap(&a, 1); /* the task sees the stop flag */
    kh_agent_logf(&a.lg, KH_LOG_INFO, "tác tử dừng / agent stopped (%zu mục chờ gửi / queue entries)",
                  kh_spool_count(a.spool));
    rc = 0;
done:
    close_agent(&a);
    return rc;
}

int kh_agent_status(const char *dir, kh_agent_log_cb log, void *payload)
{
    kh_agent_log lg = {log, payload};
    kh_agent_conf c;
    char err[1024];
    if (!dir)
        dir = KH_AGENT_DEFAULT_DIR;
    int rc = kh_agent_conf_load(&c, dir, err, sizeof(err));
    if (rc < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "%s", err);
        return rc;
    }
    kh_agent_logf(&lg, KH_LOG_INFO, "trung tâm / centre: %s", c.server);
    kh_agent_logf(&lg, KH_LOG_INFO, "máy / host id: %s, đơn vị / unit: %s", c.host_id, c.unit);
    kh_agent_logf(&lg, KH_LOG_INFO, "CA SHA-256: %s", c.ca_sha256);
    char sp[4096];
    kh_platform_path_join(sp, sizeof(sp), dir, "spool");
    kh_spool *s = NULL;
    if (kh_spool_open(&s, sp, NULL, err, sizeof(err)) == 0) {
        kh_agent_logf(&lg, KH_LOG_INFO, "hàng đợi / queue: %zu sự kiện / events, %llu byte / bytes (%u%%)",
                      kh_spool_count(s), (unsigned long long)kh_spool_bytes(s), kh_spool_fill_percent(s));
        kh_spool_close(s);
    } else {
        kh_agent_logf(&lg, KH_LOG_INFO, "hàng đợi / queue: %s", err);
    }
    return 0;
}
