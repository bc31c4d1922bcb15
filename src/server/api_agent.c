/* Khiên — server/api_agent: what agents call (client certificate only).
 *
 * An agent is identified by the serial number of its certificate (verified
 * by TLS against the centre's CA); a removed host's certificate is refused.
 * Events arrive in batches; a batch is checked and serialised on the
 * request's thread, then written in a transaction shared with the batches
 * and heartbeats of other agents arriving at the same time (group commit,
 * server/ingest.c), committed (synchronous=FULL) before the answer lists the
 * accepted ids, so an id in that list is durably stored, and the UNIQUE (host, event id) constraint
 * makes a retried event a no-op that is still acknowledged: exactly once.
 *
 * New events become findings (same host + kind + key = the same finding,
 * whose last_seen and count move), automatic incidents (malware anywhere;
 * critical vulnerability, credential exposure or failed critical check on a
 * population-db host) and change-evaluation requests (inventory change on
 * a population-db host). Event data is untrusted: every field read here is
 * type-checked and bounded, and unknown types are simply stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"
#include "server/bundle.h"
#include "server/ingest.h"
#include "server/server_int.h"

int kh_agent_identify(kh_req *r)
{
    char cn[128];
    uint64_t serial = 0;
    if (kh_http_peer(r->c, cn, &serial) < 0) {
        kh_reply_error(r, 401, "unauthorized", "cần chứng thư máy trạm / a client certificate is required");
        return -1;
    }
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I((int64_t)serial)};
    if (kh_store_query_one(r->srv->st, &row, "SELECT id, unit_id, status, population_db FROM hosts WHERE cert_serial = ?1", p, 1) <
        0) {
        kh_reply_error(r, 403, "forbidden", "chứng thư không thuộc máy nào / certificate not issued to any host");
        return -1;
    }
    int64_t id = json_integer_value(json_object_get(row, "id"));
    char want[64];
    snprintf(want, sizeof(want), "host-%lld", (long long)id);
    int active = strcmp(json_string_value(json_object_get(row, "status")), "active") == 0;
    r->host_id = id;
    r->host_unit = json_integer_value(json_object_get(row, "unit_id"));
    r->host_pop = (int)json_integer_value(json_object_get(row, "population_db"));
    json_decref(row);
    if (strcmp(cn, want) != 0) {
        kh_reply_error(r, 403, "forbidden", "chứng thư không khớp máy / certificate does not match the host");
        return -1;
    }
    if (!active) {
        kh_reply_error(r, 403, "host_removed", "máy đã bị gỡ khỏi trung tâm: chứng thư bị từ chối / this host was removed from the centre: its certificate is refused");
        return -1;
    }
    return 0;
}

static int strcasecmp_ascii_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a, y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static const char *jstr(json_t *o, const char *k, size_t max)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && strlen(s) <= max ? s : NULL;
}

typedef struct hb_job {
    kh_req *r;
    const char *now, *ver, *os, *hb, *sigt, *lfs;
    int protection;
} hb_job;

static int hb_write(void *arg)
{
    hb_job *j = arg;
    kh_sval p[] = {KH_SV_S(j->now), KH_SV_S(j->ver), KH_SV_S(j->os), KH_SV_S(j->hb), KH_SV_I(j->protection), KH_SV_S(j->sigt),
                   KH_SV_S(j->lfs), KH_SV_I(j->r->host_id)};
    int rc = kh_store_exec(j->r->srv->st, NULL,
                           "UPDATE hosts SET last_seen = ?1, agent_version = COALESCE(?2, agent_version), os = COALESCE(?3, os),"
                           " heartbeat_json = ?4, protection = ?5, sig_updated = COALESCE(?6, sig_updated),"
                           " last_full_scan = CASE WHEN ?7 > COALESCE(last_full_scan, '') THEN ?7"
                           " ELSE last_full_scan END WHERE id = ?8",
                           p, 8);
    return rc < 0 ? rc : 0;
}

void api_agent_heartbeat(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    char now[32];
    kh_iso_now(now);
    json_t *b = r->body;
    hb_job j = {r, now, jstr(b, "agent_version", 64), jstr(b, "os", KH_NAME_MAX), NULL, NULL, jstr(b, "last_full_scan", 40), 1};
    json_t *sig = json_object_get(b, "signatures");
    j.sigt = jstr(sig, "updated", 40);
    if (!j.sigt)
        j.sigt = jstr(sig, "time", 40);
    json_t *prot = json_object_get(b, "protection");
    j.protection = prot ? json_is_true(prot) : 1;
    char *hb = json_dumps(b, JSON_COMPACT);
    if (hb && strlen(hb) > 65536) {
        free(hb);
        hb = NULL;
    }
    j.hb = hb;
    int rc = kh_ingest_run(r->srv->ingest, hb_write, &j, 1); /* committed with other agents' writes */
    free(hb);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    json_t *bundles = NULL;
    if ((rc = kh_store_query(r->srv->st, &bundles, "SELECT name, version, sha256 FROM bundles ORDER BY name", NULL, 0)) < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    kh_reply_json(r, 200, json_pack("{s:I, s:s, s:i, s:o}", "host_id", (json_int_t)r->host_id, "time", now,
                                    "heartbeat_interval", 60, "bundles", bundles));
}

/* ---- events -> findings ------------------------------------------------------ */

typedef struct ctx {
    kh_req *r;
    char now[32];
    const char *event_id;
} ctx;

static int finding(ctx *c, const char *kind, const char *severity, const char *key, const char *title, json_t *detail,
                   int64_t *fid)
{
    char kbuf[65];
    if (strlen(key) > 300) { /* long keys are hashed: the key only has to be stable */
        kh_sign_sha256_hex(kbuf, key, strlen(key));
        key = kbuf;
    }
    char tbuf[401];
    snprintf(tbuf, sizeof(tbuf), "%s", title && *title ? title : kind);
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    if (d && strlen(d) > 65536) {
        free(d);
        d = NULL;
    }
    kh_sval p[] = {KH_SV_I(c->r->host_id), KH_SV_I(c->r->host_unit), KH_SV_S(kind), KH_SV_S(severity), KH_SV_S(key),
                   KH_SV_S(tbuf), KH_SV_S(d), KH_SV_S(c->now)};
    /* one statement (one round trip to PostgreSQL): the upsert answers the row's id, new or not */
    int rc = kh_store_query_int(c->r->srv->st, fid,
                                "INSERT INTO findings (host_id, unit_id, kind, severity, key, title, detail_json, first_seen, last_seen)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (host_id, kind, key) DO UPDATE SET"
                                " last_seen = excluded.last_seen, count = findings.count + 1, severity = excluded.severity,"
                                " title = excluded.title, detail_json = excluded.detail_json,"
                                " status = CASE WHEN findings.status = 'resolved' THEN 'open' ELSE findings.status END"
                                " RETURNING id",
                                p, 8);
    free(d);
    return rc;
}

static const char *norm_severity(const char *s)
{
    static const char *const sev[] = {"critical", "high", "medium", "low", "info"};
    if (!s)
        return "medium";
    for (size_t i = 0; i < 5; i++)
        if (strcasecmp_ascii_eq(s, sev[i]))
            return sev[i];
    if (strcasecmp_ascii_eq(s, "moderate"))
        return "medium";
    if (strcasecmp_ascii_eq(s, "important"))
        return "high";
    return "medium";
}

static int on_malware(ctx *c, json_t *d)
{
    const char *path = jstr(d, "path", 4096), *name = jstr(d, "name", 400), *sha = jstr(d, "sha256", 64);
    if (!name)
        name = jstr(d, "signature", 400);
    char key[4600];
    snprintf(key, sizeof(key), "%s|%s", sha ? sha : (path ? path : ""), name ? name : "");
    int64_t fid = 0;
    int rc = finding(c, "malware", "critical", key, name ? name : "malware", d, &fid);
    if (rc < 0)
        return rc;
    char title[600];
    snprintf(title, sizeof(title), "Mã độc / Malware: %s", name ? name : "?");
    return kh_incident_auto(c->r->srv, fid, c->r->host_id, c->r->host_unit, "malware", "critical", title, 0);
}

static int on_vuln(ctx *c, json_t *d)
{
    json_t *list = json_object_get(d, "findings");
    if (!json_is_array(list))
        list = json_object_get(d, "vulns");
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(list, i, f)
    {
        if (i >= 5000)
            break;
        const char *id = jstr(f, "id", 200), *pkg = jstr(f, "package", 200);
        if (!id)
            continue;
        const char *sev = norm_severity(jstr(f, "severity", 40));
        char key[420], title[700];
        snprintf(key, sizeof(key), "%s|%s", pkg ? pkg : "", id);
        const char *sum = jstr(f, "summary", 4000);
        snprintf(title, sizeof(title), "%s %s%s%.200s", id, pkg ? pkg : "", sum ? ": " : "", sum ? sum : "");
        int64_t fid = 0;
        if ((rc = finding(c, "vulnerability", sev, key, title, f, &fid)) < 0)
            return rc;
        if (c->r->host_pop && strcmp(sev, "critical") == 0 &&
            (rc = kh_incident_auto(c->r->srv, fid, c->r->host_id, c->r->host_unit, "vulnerability", "critical",
                                   "Lỗ hổng nghiêm trọng trên máy CSDL dân cư / Critical vulnerability on a population-db host", 0)) < 0)
            return rc;
    }
    /* the older documented shape: packages[{name, vulns[]}] */
    json_t *pk = json_object_get(d, "packages");
    json_t *p;
    json_array_foreach(pk, i, p)
    {
        json_t *vs = json_object_get(p, "vulns");
        size_t k;
        json_t *v;
        json_array_foreach(vs, k, v)
        {
            json_t *f2 = json_deep_copy(v);
            if (!json_is_object(f2)) {
                json_decref(f2);
                continue;
            }
            json_object_set(f2, "package", json_object_get(p, "name"));
            json_t *one = json_pack("{s:[o]}", "findings", f2);
            rc = on_vuln(c, one);
            json_decref(one);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int check_is_critical(json_t *chk)
{
    if (json_is_true(json_object_get(chk, "critical")))
        return 1;
    const char *s = jstr(chk, "severity", 40);
    if (s && strcasecmp_ascii_eq(s, "critical"))
        return 1;
    json_t *comp = json_object_get(chk, "compliance");
    return json_object_get(comp, "critical") != NULL || json_object_get(comp, "khien_critical") != NULL;
}

static int on_audit(ctx *c, json_t *d)
{
    const char *pol = jstr(d, "policy_id", 200);
    if (!pol)
        pol = jstr(d, "policy", 200);
    const char *cat = jstr(d, "category", 64);
    int cred_policy = cat && strcmp(cat, "credentials") == 0;
    json_t *checks = json_object_get(d, "checks");
    if (!json_is_array(checks))
        checks = json_object_get(d, "results");
    size_t i;
    json_t *chk;
    int rc;
    json_array_foreach(checks, i, chk)
    {
        if (i >= 5000)
            break;
        const char *res = jstr(chk, "result", 40);
        if (!res || strcmp(res, "failed") != 0)
            continue;
        json_t *idv = json_object_get(chk, "id");
        char id[64], key[300], title[500];
        if (json_is_integer(idv))
            snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(idv));
        else
            snprintf(id, sizeof(id), "%.60s", json_is_string(idv) ? json_string_value(idv) : "?");
        snprintf(key, sizeof(key), "%s|%s", pol ? pol : "", id);
        const char *t = jstr(chk, "title", 400);
        snprintf(title, sizeof(title), "%s", t ? t : id);
        int cred = cred_policy || json_is_true(json_object_get(chk, "credential"));
        int crit = cred || check_is_critical(chk);
        const char *kind = cred ? "credential_exposure" : "failed_check";
        const char *sev = crit ? "critical" : norm_severity(jstr(chk, "severity", 40));
        int64_t fid = 0;
        json_t *det = json_deep_copy(chk);
        if (pol)
            json_object_set_new(det, "policy", json_string(pol));
        rc = finding(c, kind, sev, key, title, det, &fid);
        json_decref(det);
        if (rc < 0)
            return rc;
        if (c->r->host_pop && crit &&
            (rc = kh_incident_auto(c->r->srv, fid, c->r->host_id, c->r->host_unit, kind, "critical",
                                   cred ? "Lộ thông tin đăng nhập trên máy CSDL dân cư / Credential exposure on a population-db host"
                                        : "Kiểm tra trọng yếu không đạt trên máy CSDL dân cư / Failed critical check on a population-db host",
                                   cred)) < 0)
            return rc;
    }
    return 0;
}

static int on_secrets(ctx *c, json_t *d)
{
    json_t *items = json_object_get(d, "findings");
    if (!json_is_array(items)) {
        items = json_array();
        json_array_append(items, d);
    } else {
        json_incref(items);
    }
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(items, i, f)
    {
        if (i >= 1000)
            break;
        const char *path = jstr(f, "path", 4096), *rule = jstr(f, "rule", 200);
        char key[4400];
        snprintf(key, sizeof(key), "%s|%s", path ? path : "", rule ? rule : "");
        int64_t fid = 0;
        if ((rc = finding(c, "credential_exposure", "critical", key, rule ? rule : "credential", f, &fid)) < 0)
            break;
        if (c->r->host_pop &&
            (rc = kh_incident_auto(c->r->srv, fid, c->r->host_id, c->r->host_unit, "credential_exposure", "critical",
                                   "Lộ thông tin đăng nhập trên máy CSDL dân cư / Credential exposure on a population-db host", 1)) < 0)
            break;
    }
    json_decref(items);
    return rc;
}

static int on_inventory_change(ctx *c, json_t *d)
{
    int64_t fid = 0;
    json_t *n = json_object_get(d, "changes");
    char title[200];
    snprintf(title, sizeof(title), "Thay đổi cấu hình máy / Inventory change (%lld)",
             json_is_integer(n) ? (long long)json_integer_value(n) : 1LL);
    int rc = finding(c, "inventory_change", "info", c->event_id, title, d, &fid);
    if (rc < 0 || !c->r->host_pop)
        return rc;
    char *diff = json_dumps(d, JSON_COMPACT);
    if (diff && strlen(diff) > 200000) {
        free(diff);
        diff = strdup("{\"truncated\":true}");
    }
    int64_t cr = 0;
    kh_sval p[] = {KH_SV_I(c->r->host_id), KH_SV_I(c->r->host_unit), KH_SV_S(c->now), KH_SV_S(title), KH_SV_S(diff)};
    rc = kh_store_exec(c->r->srv->st, &cr,
                       "INSERT INTO change_requests (host_id, unit_id, state, created_at, summary, diff_json) VALUES (?1, ?2, 'requested', ?3, ?4, ?5)",
                       p, 5);
    free(diff);
    if (rc < 0)
        return rc;
    kh_sval l[] = {KH_SV_I(cr), KH_SV_S(c->now)};
    return kh_store_exec(c->r->srv->st, NULL,
                         "INSERT INTO change_log (change_id, time, \"user\", from_state, to_state, comment) VALUES (?1, ?2, 'system', NULL, 'requested',"
                         " 'Tự động từ thay đổi kiểm kê / opened automatically from an inventory change')",
                         l, 2);
}

static int on_scan(ctx *c, json_t *d, const char *evtime)
{
    if (!json_is_true(json_object_get(d, "full")))
        return 0;
    const char *t = jstr(d, "finished", 40);
    if (!t)
        t = jstr(d, "started", 40);
    if (!t)
        t = evtime ? evtime : c->now;
    kh_sval p[] = {KH_SV_S(t), KH_SV_I(c->r->host_id)};
    return kh_store_exec(c->r->srv->st, NULL,
                         "UPDATE hosts SET last_full_scan = ?1 WHERE id = ?2 AND (last_full_scan IS NULL OR last_full_scan < ?1)", p,
                         2);
}

static int valid_event_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 8 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == n;
}

static int valid_type(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* One event of a batch, checked and serialised before the group transaction. */
typedef struct ev_in {
    const char *id, *type, *time;
    json_t *data;
    char *dtext;
} ev_in;

typedef struct ev_job {
    ctx c;
    ev_in *ev;
    size_t n;
    json_t *accepted;
} ev_job;

/* Inside the group transaction: store the batch, interpret new events. */
static int ev_write(void *arg)
{
    ev_job *j = arg;
    kh_req *r = j->c.r;
    kh_store *st = r->srv->st;
    json_array_clear(j->accepted); /* a failed attempt leaves nothing behind */
    /* Up to EV_ROWS events per INSERT (?1 host and ?2 received shared, 4 parameters per event: 98, within
     * the PostgreSQL backend's 99), RETURNING the ids that were new: one statement, so one round trip to
     * PostgreSQL, for 24 events instead of 24. Events are interpreted in batch order after their INSERT. */
    enum { EV_ROWS = 24 };
    for (size_t i = 0; i < j->n; i += EV_ROWS) {
        size_t m = j->n - i < EV_ROWS ? j->n - i : EV_ROWS;
        char sql[256 + EV_ROWS * 32];
        size_t len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO events (host_id, event_id, type, time, received, data_json) VALUES");
        kh_sval p[2 + 4 * EV_ROWS];
        p[0] = KH_SV_I(r->host_id);
        p[1] = KH_SV_S(j->c.now);
        for (size_t k = 0; k < m; k++) {
            ev_in *e = &j->ev[i + k];
            unsigned b = 3 + 4 * (unsigned)k;
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s(?1, ?%u, ?%u, ?%u, ?2, ?%u)", k ? ", " : " ", b, b + 1,
                                    b + 2, b + 3);
            p[b - 1] = KH_SV_S(e->id);
            p[b] = KH_SV_S(e->type);
            p[b + 1] = KH_SV_S(e->time);
            p[b + 2] = KH_SV_S(e->dtext);
        }
        snprintf(sql + len, sizeof(sql) - len, " ON CONFLICT (host_id, event_id) DO NOTHING RETURNING event_id");
        json_t *fresh = NULL;
        int rc = kh_store_query(st, &fresh, sql, p, 2 + 4 * m);
        if (rc < 0)
            return rc;
        for (size_t k = 0; k < m && rc >= 0; k++) {
            ev_in *e = &j->ev[i + k];
            /* new if RETURNING named it; taken out of the list, so an id sent twice in one batch counts once */
            size_t f = 0;
            for (; f < json_array_size(fresh); f++) {
                const char *got = json_string_value(json_object_get(json_array_get(fresh, f), "event_id"));
                if (got && strcmp(got, e->id) == 0)
                    break;
            }
            int is_new = f < json_array_size(fresh);
            if (is_new)
                json_array_remove(fresh, f);
            if (is_new && e->data) { /* new: interpret it */
                j->c.event_id = e->id;
                const char *type = e->type;
                json_t *data = e->data;
                if (strcmp(type, "malware") == 0)
                    rc = on_malware(&j->c, data);
                else if (strcmp(type, "vuln") == 0)
                    rc = on_vuln(&j->c, data);
                else if (strcmp(type, "audit") == 0)
                    rc = on_audit(&j->c, data);
                else if (strcmp(type, "secrets") == 0 || strcmp(type, "credential_exposure") == 0)
                    rc = on_secrets(&j->c, data);
                else if (strcmp(type, "inventory_change") == 0)
                    rc = on_inventory_change(&j->c, data);
                else if (strcmp(type, "scan") == 0)
                    rc = on_scan(&j->c, data, e->time);
            }
            if (rc >= 0 && json_array_append_new(j->accepted, json_string(e->id)) < 0)
                rc = KH_ENOMEM;
        }
        json_decref(fresh);
        if (rc < 0)
            return rc;
    }
    kh_sval lp[] = {KH_SV_S(j->c.now), KH_SV_I(r->host_id)};
    int rc = kh_store_exec(st, NULL, "UPDATE hosts SET last_seen = ?1 WHERE id = ?2", lp, 2);
    return rc < 0 ? rc : 0;
}

void api_agent_events(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_AGENT) < 0)
        return;
    json_t *events = json_object_get(r->body, "events");
    if (!json_is_array(events)) {
        kh_reply_error(r, 400, "bad_request", "cần mảng 'events' / an 'events' array is required");
        return;
    }
    if (json_array_size(events) > KH_EVENTS_MAX) {
        kh_reply_error(r, 413, "too_large", "tối đa %d sự kiện mỗi lần / at most %d events per batch", KH_EVENTS_MAX,
                       KH_EVENTS_MAX);
        return;
    }
    ev_job j = {{r, "", NULL}, calloc(json_array_size(events) + 1, sizeof(ev_in)), 0, json_array()};
    json_t *rejected = json_array();
    kh_iso_now(j.c.now);
    if (!j.ev || !j.accepted || !rejected) {
        free(j.ev);
        json_decref(j.accepted);
        json_decref(rejected);
        kh_reply_error(r, 503, "internal", "hết bộ nhớ / out of memory");
        return;
    }
    /* Checked and serialised here, on this thread, outside the transaction. */
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *id = jstr(ev, "id", 64), *type = jstr(ev, "type", 64), *time = jstr(ev, "time", 40);
        json_t *data = json_object_get(ev, "data");
        const char *why = NULL;
        if (!json_is_object(ev))
            why = "not an object";
        else if (!valid_event_id(id))
            why = "bad id (8-64 of A-Z a-z 0-9 _ . : -)";
        else if (!valid_type(type))
            why = "bad type";
        else if (data && !json_is_object(data))
            why = "data must be an object";
        char *dtext = NULL;
        if (!why && data) {
            dtext = json_dumps(data, JSON_COMPACT);
            if (!dtext || strlen(dtext) > KH_EVENT_MAX_BYTES)
                why = "event too large";
        }
        if (why) {
            free(dtext);
            json_array_append_new(rejected, json_pack("{s:s, s:s}", "id", id ? id : "", "error", why));
            continue;
        }
        j.ev[j.n++] = (ev_in){id, type, time, data, dtext};
    }
    int rc = kh_ingest_run(r->srv->ingest, ev_write, &j, j.n);
    for (i = 0; i < j.n; i++)
        free(j.ev[i].dtext);
    free(j.ev);
    if (rc < 0) {
        json_decref(j.accepted);
        json_decref(rejected);
        kh_reply_store_error(r, rc);
        return;
    }
    kh_reply_json(r, 200, json_pack("{s:o, s:o}", "accepted", j.accepted, "rejected", rejected));
}

/* ---- bundles ----------------------------------------------------------------- */

void api_agent_bundle(kh_req *r)
{
    const char *name = r->names[0];
    if (!kh_bundle_name_ok(name)) {
        kh_reply_error(r, 400, "bad_request", "tên gói không hợp lệ / invalid bundle name");
        return;
    }
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_S(name)};
    if (kh_store_query_one(r->srv->st, &row, "SELECT envelope FROM bundles WHERE name = ?1", p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "không có gói này / no such bundle");
        return;
    }
    const char *env = json_string_value(json_object_get(row, "envelope"));
    kh_req_reply(r, 200, "application/json", NULL, env, strlen(env));
    json_decref(row);
}

void api_bundles_list(kh_req *r)
{
    json_t *rows = NULL;
    int rc = kh_store_query(r->srv->st, &rows, "SELECT name, version, sha256, created_at FROM bundles ORDER BY name", NULL, 0);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    size_t n = json_array_size(rows);
    kh_reply_json(r, 200, json_pack("{s:o, s:s, s:I}", "items", rows, "public_key", r->srv->bundle_pk_hex, "total", (json_int_t)n));
}

int kh_bundle_store(kh_server *s, const char *name, json_t *files, int64_t *version_out, char *sha_out)
{
    int64_t v = 0;
    kh_sval p[] = {KH_SV_S(name)};
    if (kh_store_query_int(s->st, &v, "SELECT version FROM bundles WHERE name = ?1", p, 1) < 0)
        v = 0;
    char *env = NULL, err[256];
    int rc = kh_bundle_build(&env, sha_out, name, v + 1, files, s->bundle_sk, err, sizeof(err));
    if (rc < 0)
        return rc;
    char now[32];
    kh_iso_now(now);
    kh_sval q[] = {KH_SV_S(name), KH_SV_I(v + 1), KH_SV_S(sha_out), KH_SV_S(env), KH_SV_S(now)};
    rc = kh_store_exec(s->st, NULL,
                       "INSERT INTO bundles (name, version, sha256, envelope, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"
                       " ON CONFLICT (name) DO UPDATE SET version = excluded.version, sha256 = excluded.sha256,"
                       " envelope = excluded.envelope, created_at = excluded.created_at",
                       q, 5);
    free(env);
    if (rc < 0)
        return rc;
    *version_out = v + 1;
    return 0;
}

void api_bundles_create(kh_req *r)
{
    if (kh_req_body(r, KH_BUNDLE_MAX / 2) < 0)
        return;
    const char *name;
    if (kh_field_str(r, "name", 1, 64, &name) < 0)
        return;
    json_t *files = json_object_get(r->body, "files");
    char *env = NULL, sha[65], err[256] = "";
    /* validate first, for a precise message */
    int rc = kh_bundle_build(&env, sha, name, 1, files, r->srv->bundle_sk, err, sizeof(err));
    free(env);
    if (rc < 0) {
        kh_reply_error(r, rc == KH_ELIMIT ? 413 : 400, rc == KH_ELIMIT ? "too_large" : "bad_request", "%s", err);
        return;
    }
    int64_t version = 0;
    if ((rc = kh_bundle_store(r->srv, name, files, &version, sha)) < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[100];
    snprintf(obj, sizeof(obj), "bundle:%s", name);
    kh_audit(r, "create", obj, "bundle signed and published");
    kh_reply_json(r, 201, json_pack("{s:s, s:I, s:s}", "name", name, "version", (json_int_t)version, "sha256", sha));
}
