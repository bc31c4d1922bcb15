/* Khiên — server/api_incidents: findings, incidents, change requests, reports.
 *
 * Incidents follow the directive's workflow: new -> reported (to the police)
 * -> investigating -> resolved | false_positive, each move recorded with who,
 * when and a mandatory comment. Deadline clocks run from detection and
 * follow the incident's reporting profile: "2017" (QĐ 05/2017, TT 20/2017:
 * notice within 5 days) or "2025" (Law 116/2025 and its decrees: initial
 * notice of a serious incident within 24 h, cause/scope/remedies report
 * within 72 h); an incident involving personal data adds the 72-hour breach
 * notice of Law 91/2025 (Decree 356/2025 form 08).
 *
 * Reports are rendered from the incident's data in the layout of Decree
 * 30/2020 (national motto, issuing unit, number, place and date, addressee,
 * body, recipients, signature block) as JSON and as a printable A4 HTML
 * page; every value placed in HTML is escaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"
#include "server/server_int.h"
#include "net/http_client.h"
#include "util/util.h"

/* ---- findings ---------------------------------------------------------------- */

#define FINDING_COLS                                                                                                   \
    "f.id, f.host_id, f.unit_id, h.hostname, f.kind, f.severity, f.title, f.detail_json, f.status, f.first_seen,"     \
    " f.last_seen, f.count, f.incident_id"

void api_findings_list(kh_req *r)
{
    int64_t limit, offset, unit = 0, host = 0;
    char kind[32] = "", sev[16] = "", status[16] = "";
    int hu, hh;
    if (kh_req_page(r, &limit, &offset) < 0 || (hu = kh_req_qint(r, "unit_id", &unit)) < 0 ||
        (hh = kh_req_qint(r, "host_id", &host)) < 0 || kh_req_qstr(r, "kind", kind, sizeof(kind)) < 0 ||
        kh_req_qstr(r, "severity", sev, sizeof(sev)) < 0 || kh_req_qstr(r, "status", status, sizeof(status)) < 0)
        return;
    kh_sval p[8] = {KH_SV_I(hu), KH_SV_I(unit), KH_SV_I(hh), KH_SV_I(host), KH_SV_S(kind), KH_SV_S(sev), KH_SV_S(status)};
    size_t n = 7;
    char sc[400], where[1400];
    kh_scope(r, "f.unit_id", sc, sizeof(sc), p, &n);
    snprintf(where, sizeof(where),
             "%s AND (?1 = 0 OR f.unit_id IN " KH_SQL_SUBTREE("?2") ") AND (?3 = 0 OR f.host_id = ?4)"
             " AND (?5 = '' OR f.kind = ?5) AND (?6 = '' OR f.severity = ?6) AND (?7 = '' OR f.status = ?7)",
             sc);
    kh_reply_page(r, FINDING_COLS, "findings f JOIN hosts h ON h.id = f.host_id", "findings f", where,
                  "CASE f.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,"
                  " f.last_seen DESC, f.id DESC",
                  p, n, limit, offset, NULL);
}

json_t *kh_finding_json(kh_server *s, int64_t id)
{
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query_one(s->st, &row, "SELECT " FINDING_COLS " FROM findings f JOIN hosts h ON h.id = f.host_id WHERE f.id = ?1",
                           p, 1) < 0)
        return NULL;
    return row;
}

static json_t *finding_in_scope(kh_req *r, int64_t id)
{
    json_t *row = kh_finding_json(r->srv, id);
    if (!row) {
        kh_reply_error(r, 404, "not_found", "không có phát hiện này / no such finding");
        return NULL;
    }
    if (!kh_unit_in_scope(r, json_integer_value(json_object_get(row, "unit_id")))) {
        json_decref(row);
        kh_reply_error(r, 403, "forbidden", "phát hiện ngoài phạm vi / finding outside your scope");
        return NULL;
    }
    return row;
}

void api_findings_get(kh_req *r)
{
    json_t *row = finding_in_scope(r, r->ids[0]);
    if (row)
        kh_reply_json(r, 200, row);
}

void api_findings_update(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *status;
    if (kh_field_str(r, "status", 1, 16, &status) < 0)
        return;
    if (strcmp(status, "open") && strcmp(status, "resolved") && strcmp(status, "ignored")) {
        kh_reply_error(r, 400, "bad_request", "status phải là open, resolved hoặc ignored / status must be open, resolved or ignored");
        return;
    }
    json_t *row = finding_in_scope(r, r->ids[0]);
    if (!row)
        return;
    json_decref(row);
    kh_sval p[] = {KH_SV_S(status), KH_SV_I(r->ids[0])};
    kh_store_exec(r->srv->st, NULL, "UPDATE findings SET status = ?1 WHERE id = ?2", p, 2);
    char obj[64];
    snprintf(obj, sizeof(obj), "finding:%lld", (long long)r->ids[0]);
    kh_audit(r, "update", obj, status);
    api_findings_get(r);
}

/* ---- incidents ----------------------------------------------------------------- */

#define INCIDENT_COLS                                                                                                 \
    "i.id, i.unit_id, i.host_id, h.hostname, i.title, i.description, i.category, i.severity, i.state, i.auto AS auto_bool," \
    " i.personal_data AS personal_data_bool, i.profile, i.detected_at, i.reported_at, i.closed_at, i.details_json,"   \
    " i.created_by, i.forwarded_at"

static void add_deadline(json_t *arr, const char *name, const char *label, time_t due, const char *reported_at)
{
    char d[32];
    kh_iso_time(d, due);
    time_t rep = reported_at ? kh_iso_parse(reported_at) : 0;
    int met = rep && rep <= due;
    int overdue = !met && (rep ? rep > due : time(NULL) > due);
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", name, "label", label, "due", d, "met", met,
                                         "overdue", overdue));
}

static json_t *deadlines(json_t *inc)
{
    json_t *arr = json_array();
    time_t det = kh_iso_parse(json_string_value(json_object_get(inc, "detected_at")));
    const char *rep = json_string_value(json_object_get(inc, "reported_at"));
    const char *prof = json_string_value(json_object_get(inc, "profile"));
    if (prof && strcmp(prof, "2017") == 0) {
        add_deadline(arr, "notice_5d", "Thông báo sự cố trong 05 ngày / incident notice within 5 days", det + 5 * 86400, rep);
    } else {
        const char *sev = json_string_value(json_object_get(inc, "severity"));
        if (sev && (strcmp(sev, "critical") == 0 || strcmp(sev, "high") == 0))
            add_deadline(arr, "initial_notice_24h", "Thông báo ban đầu sự cố nghiêm trọng trong 24 giờ / initial notice of a serious incident within 24 h",
                         det + 86400, rep);
        add_deadline(arr, "report_72h", "Báo cáo nguyên nhân, phạm vi, biện pháp trong 72 giờ / cause, scope and remedies within 72 h",
                     det + 3 * 86400, rep);
    }
    if (json_is_true(json_object_get(inc, "personal_data")))
        add_deadline(arr, "breach_notice_72h", "Thông báo vi phạm dữ liệu cá nhân trong 72 giờ (Luật 91/2025) / personal-data breach notice within 72 h",
                     det + 3 * 86400, rep);
    return arr;
}

static void add_deadlines(json_t *row)
{
    json_object_set_new(row, "deadlines", deadlines(row));
}

void api_incidents_list(kh_req *r)
{
    int64_t limit, offset, unit = 0;
    char state[32] = "";
    int hu;
    if (kh_req_page(r, &limit, &offset) < 0 || (hu = kh_req_qint(r, "unit_id", &unit)) < 0 ||
        kh_req_qstr(r, "state", state, sizeof(state)) < 0)
        return;
    kh_sval p[4] = {KH_SV_I(hu), KH_SV_I(unit), KH_SV_S(state)};
    size_t n = 3;
    char sc[400], where[1200];
    kh_scope(r, "i.unit_id", sc, sizeof(sc), p, &n);
    snprintf(where, sizeof(where),
             "%s AND (?1 = 0 OR i.unit_id IN " KH_SQL_SUBTREE("?2") ")"
             " AND (?3 = '' OR i.state = ?3 OR (?3 = 'open' AND i.state IN ('new','reported','investigating')))",
             sc);
    kh_reply_page(r, INCIDENT_COLS, "incidents i LEFT JOIN hosts h ON h.id = i.host_id", "incidents i", where, "i.id DESC",
                  p, n, limit, offset, add_deadlines);
}

json_t *kh_incident_json(kh_server *s, int64_t id, int full)
{
    json_t *inc = NULL;
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query_one(s->st, &inc, "SELECT " INCIDENT_COLS " FROM incidents i LEFT JOIN hosts h ON h.id = i.host_id WHERE i.id = ?1",
                           p, 1) < 0)
        return NULL;
    json_object_set_new(inc, "deadlines", deadlines(inc));
    if (!json_is_object(json_object_get(inc, "details")))
        json_object_set_new(inc, "details", json_object());
    if (!full)
        return inc;
    json_t *rows = NULL;
    if (kh_store_query(s->st, &rows, "SELECT " FINDING_COLS " FROM findings f JOIN hosts h ON h.id = f.host_id WHERE f.incident_id = ?1 ORDER BY f.id LIMIT 500",
                       p, 1) == 0)
        json_object_set_new(inc, "findings", rows);
    rows = NULL;
    if (kh_store_query(s->st, &rows, "SELECT time, \"user\", from_state AS \"from\", to_state AS \"to\", comment FROM incident_log WHERE incident_id = ?1 ORDER BY id",
                       p, 1) == 0)
        json_object_set_new(inc, "timeline", rows);
    rows = NULL;
    if (kh_store_query(s->st, &rows, "SELECT id, time, \"user\", text FROM comments WHERE object = 'incident' AND object_id = ?1 ORDER BY id",
                       p, 1) == 0)
        json_object_set_new(inc, "comments", rows);
    return inc;
}

static json_t *incident_load(kh_req *r, int64_t id, int full)
{
    json_t *inc = kh_incident_json(r->srv, id, full);
    if (!inc) {
        kh_reply_error(r, 404, "not_found", "không có sự cố này / no such incident");
        return NULL;
    }
    if (!kh_unit_in_scope(r, json_integer_value(json_object_get(inc, "unit_id")))) {
        json_decref(inc);
        kh_reply_error(r, 403, "forbidden", "sự cố ngoài phạm vi / incident outside your scope");
        return NULL;
    }
    return inc;
}

void api_incidents_get(kh_req *r)
{
    json_t *inc = incident_load(r, r->ids[0], 1);
    if (inc)
        kh_reply_json(r, 200, inc);
}

static const char *const severities[] = {"critical", "high", "medium", "low", "info", NULL};

static int in_set(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

/* Details fields accepted from users (strings, bounded). */
static const char *const detail_keys[] = {
    "symptoms", "harm", "spread", "impact", "measures", "helpers", "results", "recommendations", "cause", "scope",
    "contact_name", "contact_position", "contact_phone", "contact_email", "operator", "operator_address", "owner",
    "system", "system_address", "provider", "data_types", "data_count", "consequences", "place", "signer_name",
    "signer_title", "signer_authority", "number", "recipients", "org_tax_code", "org_phone", "org_website",
    "dpo_name", "dpo_title", "dpo_phone", "dpo_email", "attachments", NULL};

static int merge_details(kh_req *r, json_t *into)
{
    json_t *d = json_object_get(r->body, "details");
    if (!d)
        return 0;
    if (!json_is_object(d)) {
        kh_reply_error(r, 400, "bad_request", "'details' phải là đối tượng / 'details' must be an object");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v)
    {
        if (!in_set(k, detail_keys)) {
            kh_reply_error(r, 400, "bad_request", "trường chi tiết không biết: '%.64s' / unknown details field '%.64s'", k, k);
            return -1;
        }
        if (!json_is_string(v) || json_string_length(v) > 8000 || strlen(json_string_value(v)) != json_string_length(v)) {
            kh_reply_error(r, 400, "bad_request", "details.%s phải là chuỗi tối đa 8000 ký tự / details.%s must be a string up to 8000 characters", k, k);
            return -1;
        }
        json_object_set(into, k, v);
    }
    return 0;
}

static void log_transition(kh_server *s, int64_t id, const char *user, const char *from, const char *to, const char *comment,
                           const char *now)
{
    kh_sval l[] = {KH_SV_I(id), KH_SV_S(now), KH_SV_S(user), KH_SV_S(from), KH_SV_S(to), KH_SV_S(comment)};
    kh_store_exec(s->st, NULL,
                  "INSERT INTO incident_log (incident_id, time, \"user\", from_state, to_state, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                  l, 6);
}

static json_t *default_details(kh_server *s, int64_t unit)
{
    json_t *u = NULL;
    kh_sval p[] = {KH_SV_I(unit)};
    json_t *d = json_object();
    if (kh_store_query_one(s->st, &u, "SELECT name, address, contact FROM units WHERE id = ?1", p, 1) == 0) {
        const char *n = json_string_value(json_object_get(u, "name"));
        const char *a = json_string_value(json_object_get(u, "address"));
        const char *c = json_string_value(json_object_get(u, "contact"));
        if (n) {
            json_object_set_new(d, "operator", json_string(n));
            json_object_set_new(d, "owner", json_string(n));
        }
        if (a)
            json_object_set_new(d, "operator_address", json_string(a));
        if (c)
            json_object_set_new(d, "contact_name", json_string(c));
        json_decref(u);
    }
    return d;
}

static int64_t create_incident(kh_server *s, int64_t unit, int64_t host, const char *title, const char *desc,
                               const char *category, const char *severity, int is_auto, int personal, const char *user,
                               json_t *details)
{
    char now[32];
    kh_iso_now(now);
    json_t *d = default_details(s, unit);
    if (host) {
        json_t *h = NULL;
        kh_sval hp[] = {KH_SV_I(host)};
        if (kh_store_query_one(s->st, &h, "SELECT hostname FROM hosts WHERE id = ?1", hp, 1) == 0) {
            json_object_set(d, "system", json_object_get(h, "hostname"));
            json_decref(h);
        }
    }
    if (details)
        json_object_update(d, details);
    char *dj = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    char prof[8] = "2025";
    json_t *set = NULL;
    if (kh_store_query_one(s->st, &set, "SELECT value FROM settings WHERE key = 'report_profile'", NULL, 0) == 0) {
        const char *v = json_string_value(json_object_get(set, "value"));
        if (v && (strcmp(v, "2017") == 0 || strcmp(v, "2025") == 0))
            snprintf(prof, sizeof(prof), "%s", v);
        json_decref(set);
    }
    int64_t id = 0;
    kh_sval p[] = {KH_SV_I(unit), host ? KH_SV_I(host) : KH_SV_NUL, KH_SV_S(title), KH_SV_S(desc), KH_SV_S(category),
                   KH_SV_S(severity), KH_SV_I(is_auto), KH_SV_I(personal), KH_SV_S(prof), KH_SV_S(now), KH_SV_S(dj), KH_SV_S(user)};
    int rc = kh_store_exec(s->st, &id,
                           "INSERT INTO incidents (unit_id, host_id, title, description, category, severity, state, auto, personal_data,"
                           " profile, detected_at, details_json, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'new', ?7, ?8, ?9, ?10, ?11, ?12)",
                           p, 12);
    free(dj);
    if (rc < 0)
        return rc;
    log_transition(s, id, user, NULL, "new", is_auto ? "Mở tự động / opened automatically" : "Mở thủ công / opened by hand", now);
    return id;
}

int kh_incident_auto(kh_server *s, int64_t finding_id, int64_t host_id, int64_t unit_id, const char *category,
                     const char *severity, const char *title, int personal_data)
{
    int64_t cur = 0;
    kh_sval f[] = {KH_SV_I(finding_id)};
    if (kh_store_query_int(s->st, &cur, "SELECT COALESCE(incident_id, 0) FROM findings WHERE id = ?1", f, 1) == 0 && cur)
        return 0;
    int64_t inc = 0;
    kh_sval p[] = {KH_SV_I(host_id), KH_SV_S(category)};
    if (kh_store_query_int(s->st, &inc,
                           "SELECT id FROM incidents WHERE host_id = ?1 AND category = ?2 AND auto = 1"
                           " AND state IN ('new','reported','investigating') ORDER BY id DESC LIMIT 1",
                           p, 2) < 0) {
        inc = create_incident(s, unit_id, host_id, title, NULL, category, severity, 1, personal_data, "system", NULL);
        if (inc < 0)
            return (int)inc;
    }
    kh_sval u[] = {KH_SV_I(inc), KH_SV_I(finding_id)};
    int rc = kh_store_exec(s->st, NULL, "UPDATE findings SET incident_id = ?1 WHERE id = ?2", u, 2);
    return rc < 0 ? rc : 0;
}

void api_incidents_create(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *title, *desc, *sev, *cat;
    int64_t host = 0, unit = 0;
    int has_host = 0, has_unit = 0, personal = 0, has_p = 0;
    if (kh_field_str(r, "title", 1, KH_NAME_MAX * 2, &title) < 0 || kh_field_str(r, "description", 0, KH_TEXT_MAX, &desc) < 0 ||
        kh_field_str(r, "severity", 0, 16, &sev) < 0 || kh_field_str(r, "category", 0, 64, &cat) < 0 ||
        kh_field_int(r, "host_id", 0, 1, INT64_MAX, &host, &has_host) < 0 ||
        kh_field_int(r, "unit_id", 0, 1, INT64_MAX, &unit, &has_unit) < 0 || kh_field_bool(r, "personal_data", &personal, &has_p) < 0)
        return;
    if (sev && !in_set(sev, severities)) {
        kh_reply_error(r, 400, "bad_request", "severity không hợp lệ / invalid severity");
        return;
    }
    if (has_host) {
        kh_sval p[] = {KH_SV_I(host)};
        if (kh_store_query_int(r->srv->st, &unit, "SELECT unit_id FROM hosts WHERE id = ?1", p, 1) < 0) {
            kh_reply_error(r, 400, "bad_request", "không có máy %lld / no such host %lld", (long long)host, (long long)host);
            return;
        }
    } else if (!has_unit) {
        unit = r->user.unit_id;
    }
    if (!kh_unit_in_scope(r, unit)) {
        kh_reply_error(r, 403, "forbidden", "đơn vị ngoài phạm vi / unit outside your scope");
        return;
    }
    json_t *details = json_object();
    if (merge_details(r, details) < 0) {
        json_decref(details);
        return;
    }
    int64_t id = create_incident(r->srv, unit, has_host ? host : 0, title, desc, cat ? cat : "other", sev ? sev : "medium", 0,
                                 personal, r->user.username, details);
    json_decref(details);
    if (id < 0) {
        kh_reply_store_error(r, (int)id);
        return;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "incident:%lld", (long long)id);
    kh_audit(r, "create", obj, title);
    json_t *inc = incident_load(r, id, 1);
    if (inc)
        kh_reply_json(r, 201, inc);
}

void api_incidents_update(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    json_t *inc = incident_load(r, r->ids[0], 0);
    if (!inc)
        return;
    const char *title, *desc, *sev, *prof;
    int personal = 0, has_p = 0;
    if (kh_field_str(r, "title", 0, KH_NAME_MAX * 2, &title) < 0 || kh_field_str(r, "description", 0, KH_TEXT_MAX, &desc) < 0 ||
        kh_field_str(r, "severity", 0, 16, &sev) < 0 || kh_field_str(r, "profile", 0, 8, &prof) < 0 ||
        kh_field_bool(r, "personal_data", &personal, &has_p) < 0)
        goto done;
    if ((sev && !in_set(sev, severities)) || (prof && strcmp(prof, "2017") && strcmp(prof, "2025"))) {
        kh_reply_error(r, 400, "bad_request", "severity hoặc profile không hợp lệ (profile: 2017 | 2025) / invalid severity or profile (2017 | 2025)");
        goto done;
    }
    json_t *details = json_deep_copy(json_object_get(inc, "details"));
    if (merge_details(r, details) < 0) {
        json_decref(details);
        goto done;
    }
    char *dj = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    kh_sval p[] = {KH_SV_S(title), KH_SV_S(desc), KH_SV_S(sev), KH_SV_S(prof), has_p ? KH_SV_I(personal) : KH_SV_NUL, KH_SV_S(dj),
                   KH_SV_I(r->ids[0])};
    int rc = kh_store_exec(r->srv->st, NULL,
                           "UPDATE incidents SET title = COALESCE(?1, title), description = COALESCE(?2, description),"
                           " severity = COALESCE(?3, severity), profile = COALESCE(?4, profile),"
                           " personal_data = COALESCE(?5, personal_data), details_json = ?6 WHERE id = ?7",
                           p, 7);
    free(dj);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        goto done;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "incident:%lld", (long long)r->ids[0]);
    kh_audit(r, "update", obj, NULL);
    api_incidents_get(r);
done:
    json_decref(inc);
}

static int allowed_move(const char *from, const char *to)
{
    static const char *const moves[][2] = {
        {"new", "reported"},           {"new", "investigating"},       {"new", "false_positive"},
        {"reported", "investigating"}, {"reported", "resolved"},       {"reported", "false_positive"},
        {"investigating", "reported"}, {"investigating", "resolved"}, {"investigating", "false_positive"},
    };
    for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
        if (strcmp(moves[i][0], from) == 0 && strcmp(moves[i][1], to) == 0)
            return 1;
    return 0;
}

void api_incidents_transition(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *to, *comment;
    if (kh_field_str(r, "state", 1, 32, &to) < 0 || kh_field_str(r, "comment", 1, KH_TEXT_MAX, &comment) < 0)
        return;
    json_t *inc = incident_load(r, r->ids[0], 0);
    if (!inc)
        return;
    char from[32];
    snprintf(from, sizeof(from), "%s", json_string_value(json_object_get(inc, "state")));
    json_decref(inc);
    if (!allowed_move(from, to)) {
        kh_reply_error(r, 409, "conflict", "không chuyển được từ '%s' sang '%.32s' / cannot move from '%s' to '%.32s'", from, to,
                       from, to);
        return;
    }
    char now[32];
    kh_iso_now(now);
    int final = strcmp(to, "resolved") == 0 || strcmp(to, "false_positive") == 0;
    kh_store *st = r->srv->st;
    int rc = kh_store_begin(st);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    kh_sval p[] = {KH_SV_S(to), KH_SV_S(now), KH_SV_I(strcmp(to, "reported") == 0), KH_SV_I(final), KH_SV_I(r->ids[0]),
                   KH_SV_S(from)};
    rc = kh_store_exec(st, NULL,
                       "UPDATE incidents SET state = ?1, reported_at = CASE WHEN ?3 = 1 AND reported_at IS NULL THEN ?2 ELSE reported_at END,"
                       " closed_at = CASE WHEN ?4 = 1 THEN ?2 ELSE closed_at END WHERE id = ?5 AND state = ?6",
                       p, 6);
    if (rc == 0) {
        kh_store_rollback(st);
        kh_reply_error(r, 409, "conflict", "trạng thái vừa thay đổi, thử lại / the state just changed, try again");
        return;
    }
    if (rc < 0) {
        kh_store_rollback(st);
        kh_reply_store_error(r, rc);
        return;
    }
    log_transition(r->srv, r->ids[0], r->user.username, from, to, comment, now);
    if (final) {
        kh_sval f[] = {KH_SV_S(strcmp(to, "resolved") == 0 ? "resolved" : "ignored"), KH_SV_I(r->ids[0])};
        kh_store_exec(st, NULL, "UPDATE findings SET status = ?1 WHERE incident_id = ?2 AND status = 'open'", f, 2);
    }
    char obj[64], det[96];
    snprintf(obj, sizeof(obj), "incident:%lld", (long long)r->ids[0]);
    snprintf(det, sizeof(det), "%s -> %s", from, to);
    kh_audit(r, "transition", obj, det);
    if ((rc = kh_store_commit(st)) < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    api_incidents_get(r);
}

static void add_comment(kh_req *r, const char *object, int64_t id)
{
    const char *text;
    if (kh_field_str(r, "text", 1, KH_TEXT_MAX, &text) < 0)
        return;
    char now[32];
    kh_iso_now(now);
    int64_t cid = 0;
    kh_sval p[] = {KH_SV_S(object), KH_SV_I(id), KH_SV_S(now), KH_SV_S(r->user.username), KH_SV_S(text)};
    int rc = kh_store_exec(r->srv->st, &cid, "INSERT INTO comments (object, object_id, time, \"user\", text) VALUES (?1, ?2, ?3, ?4, ?5)",
                           p, 5);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "%s:%lld", object, (long long)id);
    kh_audit(r, "comment", obj, NULL);
    kh_reply_json(r, 201, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)cid, "time", now, "user", r->user.username,
                                    "text", text));
}

void api_incidents_comment(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    json_t *inc = incident_load(r, r->ids[0], 0);
    if (!inc)
        return;
    json_decref(inc);
    add_comment(r, "incident", r->ids[0]);
}

/* ---- reports (Decree 30/2020 layout) ------------------------------------------------ */

static void vn_time(char *out, size_t size, const char *iso)
{
    time_t t = iso ? kh_iso_parse(iso) : 0;
    if (!t) {
        if (size)
            out[0] = 0;
        return;
    }
    t += 7 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%H:%M %d/%m/%Y", &tm);
}

static const char *dget(json_t *d, const char *k)
{
    const char *s = json_string_value(json_object_get(d, k));
    return s ? s : "";
}

static void field(json_t *fields, const char *label, const char *value)
{
    json_array_append_new(fields, json_pack("{s:s, s:s}", "label", label, "value", value ? value : ""));
}

static json_t *section(json_t *secs, const char *heading)
{
    json_t *f = json_array();
    json_array_append_new(secs, json_pack("{s:s, s:o}", "heading", heading, "fields", f));
    return f;
}

static const char *category_vi(const char *c)
{
    if (!c)
        return "";
    if (strcmp(c, "malware") == 0)
        return "Mã độc / Malware";
    if (strcmp(c, "vulnerability") == 0)
        return "Lỗ hổng bảo mật nghiêm trọng / Critical vulnerability";
    if (strcmp(c, "credential_exposure") == 0)
        return "Lộ lọt thông tin đăng nhập / Credential exposure";
    if (strcmp(c, "failed_check") == 0)
        return "Cấu hình không an toàn / Insecure configuration";
    return c;
}

static json_t *build_report(kh_req *r, json_t *inc, const char *profile, const char *kind)
{
    json_t *d = json_object_get(inc, "details");
    int64_t unit = json_integer_value(json_object_get(inc, "unit_id"));
    json_t *u = NULL, *parent = NULL;
    kh_sval p[] = {KH_SV_I(unit)};
    kh_store_query_one(r->srv->st, &u, "SELECT u.name, u.code, p.name AS parent FROM units u LEFT JOIN units p ON p.id = u.parent_id WHERE u.id = ?1",
                       p, 1);
    const char *uname = u ? json_string_value(json_object_get(u, "name")) : "";
    const char *ucode = u ? json_string_value(json_object_get(u, "code")) : NULL;
    const char *upar = u ? json_string_value(json_object_get(u, "parent")) : NULL;
    char number[64], place_date[160], detected[40], reported[40];
    int64_t id = json_integer_value(json_object_get(inc, "id"));
    if (*dget(d, "number"))
        snprintf(number, sizeof(number), "Số: %.50s", dget(d, "number"));
    else
        snprintf(number, sizeof(number), "Số: %02lld/%s-%s", (long long)id, strcmp(kind, "breach") == 0 ? "TB" : "BC",
                 ucode && *ucode ? ucode : "KHIEN");
    time_t now = time(NULL) + 7 * 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(place_date, sizeof(place_date), "%s, ngày %02d tháng %02d năm %04d", *dget(d, "place") ? dget(d, "place") : "Thành phố",
             tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900);
    vn_time(detected, sizeof(detected), json_string_value(json_object_get(inc, "detected_at")));
    vn_time(reported, sizeof(reported), json_string_value(json_object_get(inc, "reported_at")));
    json_t *secs = json_array(), *f;
    const char *title, *addressee, *deadline, *basis;
    if (strcmp(kind, "breach") == 0) {
        title = "THÔNG BÁO VI PHẠM QUY ĐỊNH BẢO VỆ DỮ LIỆU CÁ NHÂN";
        addressee = "Cơ quan chuyên trách bảo vệ dữ liệu cá nhân, Bộ Công an.";
        deadline = "Chậm nhất 72 giờ kể từ khi phát hiện (Luật 91/2025, Điều 23; Nghị định 356/2025, Mẫu số 08)";
        basis = "Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15; Nghị định 356/2025/NĐ-CP";
        f = section(secs, "1. Thông tin tổ chức / Organisation");
        field(f, "Tên tổ chức / Name", uname);
        field(f, "Địa chỉ trụ sở / Head office", dget(d, "operator_address"));
        field(f, "Mã số thuế / Tax code", dget(d, "org_tax_code"));
        field(f, "Điện thoại / Phone", dget(d, "org_phone"));
        field(f, "Trang thông tin / Website", dget(d, "org_website"));
        field(f, "Người phụ trách bảo vệ dữ liệu / Data-protection officer", dget(d, "dpo_name"));
        field(f, "Chức danh, điện thoại, thư điện tử / Title, phone, email", "");
        json_object_set_new(json_array_get(f, json_array_size(f) - 1), "value",
                            json_sprintf("%s; %s; %s", dget(d, "dpo_title"), dget(d, "dpo_phone"), dget(d, "dpo_email")));
        f = section(secs, "2. Mô tả vi phạm / Description of the violation");
        field(f, "Thời gian / Time", detected);
        field(f, "Địa điểm (hệ thống) / Place (system)", dget(d, "system"));
        field(f, "Hành vi vi phạm / Act", json_string_value(json_object_get(inc, "title")));
        field(f, "Tổ chức, cá nhân liên quan / Organisations and persons involved", dget(d, "owner"));
        field(f, "Loại dữ liệu cá nhân và số lượng / Personal data types and quantity",
              *dget(d, "data_types") ? dget(d, "data_types")
                                     : "Thông tin tên đăng nhập và mật khẩu (dữ liệu cá nhân nhạy cảm) / login names and passwords (sensitive personal data)");
        field(f, "Số lượng / Quantity", dget(d, "data_count"));
        field(f, "Người chịu trách nhiệm / Responsible person", dget(d, "contact_name"));
        field(f, "Hậu quả, thiệt hại / Consequences", dget(d, "consequences"));
        field(f, "Biện pháp đã áp dụng / Measures applied", dget(d, "measures"));
        f = section(secs, "3. Tài liệu kèm theo / Attachments");
        field(f, "Tài liệu / Documents", dget(d, "attachments"));
        f = section(secs, "4. Cam kết / Commitment");
        field(f, "", "Tổ chức cam kết thông tin nêu trên là đúng sự thật. / The organisation commits that the information above is true.");
    } else {
        int y2017 = strcmp(profile, "2017") == 0;
        int closure = strcmp(kind, "closure") == 0;
        title = closure ? "BÁO CÁO KẾT THÚC ỨNG PHÓ SỰ CỐ" : (y2017 ? "BÁO CÁO BAN ĐẦU SỰ CỐ AN TOÀN THÔNG TIN MẠNG" : "THÔNG BÁO BAN ĐẦU SỰ CỐ AN NINH MẠNG");
        addressee = y2017 ? "- Cơ quan điều phối quốc gia về ứng cứu sự cố;\n- Công an thành phố (Phòng An ninh mạng và phòng, chống tội phạm sử dụng công nghệ cao - PA05)."
                          : "Công an thành phố (Phòng An ninh mạng và phòng, chống tội phạm sử dụng công nghệ cao - PA05).";
        deadline = y2017 ? "Không muộn hơn 05 ngày kể từ khi phát hiện (QĐ 05/2017/QĐ-TTg Điều 11; TT 20/2017/TT-BTTTT Điều 9)"
                         : "Thông báo ban đầu trong 24 giờ (sự cố nghiêm trọng); báo cáo nguyên nhân, phạm vi, biện pháp trong 72 giờ (Luật An ninh mạng 116/2025; NĐ 331/2026 Điều 31)";
        basis = y2017 ? "Quyết định 05/2017/QĐ-TTg; Thông tư 20/2017/TT-BTTTT" : "Luật An ninh mạng số 116/2025/QH15";
        f = section(secs, "a) Đơn vị vận hành, chủ quản, hệ thống bị sự cố / Operator, owner, affected system");
        field(f, "Đơn vị vận hành / Operator", *dget(d, "operator") ? dget(d, "operator") : uname);
        field(f, "Địa chỉ / Address", dget(d, "operator_address"));
        field(f, "Chủ quản hệ thống / System owner", dget(d, "owner"));
        field(f, "Hệ thống bị sự cố (tên, địa chỉ IP) / Affected system (name, IP)", dget(d, "system"));
        field(f, "Thời điểm phát hiện / Time of detection", detected);
        f = section(secs, "b) Người liên hệ / Contact person");
        field(f, "Họ tên / Name", dget(d, "contact_name"));
        field(f, "Chức vụ / Position", dget(d, "contact_position"));
        field(f, "Điện thoại / Phone", dget(d, "contact_phone"));
        field(f, "Thư điện tử / Email", dget(d, "contact_email"));
        f = section(secs, "c) Mô tả sự cố / Description");
        field(f, "Loại sự cố / Incident type", category_vi(json_string_value(json_object_get(inc, "category"))));
        field(f, "Tóm tắt / Summary", json_string_value(json_object_get(inc, "title")));
        field(f, "Dấu hiệu / Symptoms", *dget(d, "symptoms") ? dget(d, "symptoms") : json_string_value(json_object_get(inc, "description")));
        field(f, "Mức độ thiệt hại ban đầu / Preliminary harm", dget(d, "harm"));
        field(f, "Phạm vi lây lan / Spread", dget(d, "spread"));
        field(f, "Ảnh hưởng đến hoạt động / Impact on operations", dget(d, "impact"));
        if (!y2017) {
            field(f, "Nguyên nhân / Cause", dget(d, "cause"));
            field(f, "Phạm vi ảnh hưởng / Scope", dget(d, "scope"));
        }
        /* evidence: names and hashes only */
        json_t *fs = json_object_get(inc, "findings");
        size_t i;
        json_t *x;
        char ev[2048] = "";
        size_t used = 0;
        json_array_foreach(fs, i, x)
        {
            if (i >= 10)
                break;
            json_t *det = json_object_get(x, "detail");
            const char *path = json_string_value(json_object_get(det, "path"));
            const char *sha = json_string_value(json_object_get(det, "sha256"));
            int w = snprintf(ev + used, sizeof(ev) - used, "%s%s %s%s%s", used ? "; " : "", json_string_value(json_object_get(x, "title")),
                             path ? path : "", sha ? " sha256:" : "", sha ? sha : "");
            if (w < 0 || (size_t)w >= sizeof(ev) - used)
                break;
            used += (size_t)w;
        }
        field(f, "Bằng chứng (tên, mã băm) / Evidence (names, hashes)", ev);
        f = section(secs, "d) Đơn vị cung cấp hạ tầng / Infrastructure provider");
        field(f, "Nhà cung cấp / Provider", dget(d, "provider"));
        f = section(secs, "đ) Biện pháp đã và sẽ thực hiện / Measures taken or planned");
        field(f, "Biện pháp / Measures", dget(d, "measures"));
        f = section(secs, "e) Tổ chức hỗ trợ / Organisations helping");
        field(f, "Hỗ trợ / Helpers", dget(d, "helpers"));
        f = section(secs, "g) Kết quả xử lý ban đầu / Initial results");
        field(f, "Kết quả / Results", dget(d, "results"));
        f = section(secs, "h) Đề xuất, kiến nghị / Recommendations");
        field(f, "Kiến nghị / Recommendations", dget(d, "recommendations"));
    }
    json_t *rep = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:{s:s?, s:s}, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:o,"
        " s:{s:s, s:s, s:s}, s:s}",
        "profile", profile, "kind", kind, "motto", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "motto_sub", "Độc lập - Tự do - Hạnh phúc",
        "number", number, "issuer", "parent", upar, "name", uname ? uname : "", "place_date", place_date, "title", title,
        "sections", secs, "addressee", addressee, "deadline", deadline, "basis", basis, "detected_at", detected,
        "reported_at", reported, "deadlines", json_incref(json_object_get(inc, "deadlines")), "signature", "authority",
        *dget(d, "signer_authority") ? dget(d, "signer_authority") : "THỦ TRƯỞNG ĐƠN VỊ", "title",
        *dget(d, "signer_title") ? dget(d, "signer_title") : "(Ký, ghi rõ họ tên, chức danh và đóng dấu)", "name",
        dget(d, "signer_name"), "recipients",
        *dget(d, "recipients") ? dget(d, "recipients") : "- Như trên;\n- Lưu: VT.");
    json_decref(u);
    json_decref(parent);
    return rep;
}

static void html_esc(kh_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': kh_buf_puts(b, "&lt;"); break;
        case '>': kh_buf_puts(b, "&gt;"); break;
        case '&': kh_buf_puts(b, "&amp;"); break;
        case '"': kh_buf_puts(b, "&quot;"); break;
        case '\'': kh_buf_puts(b, "&#39;"); break;
        case '\n': kh_buf_puts(b, "<br>"); break;
        default: kh_buf_putc(b, *s);
        }
    }
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void render_html(kh_buf *b, json_t *rep)
{
    json_t *iss = json_object_get(rep, "issuer"), *sig = json_object_get(rep, "signature");
    kh_buf_puts(b, "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>");
    html_esc(b, js(rep, "title"));
    kh_buf_puts(b,
                "</title><style>@page{size:A4 portrait;margin:20mm 15mm 20mm 30mm}"
                "body{font-family:'Times New Roman',Times,serif;font-size:14pt;color:#000;max-width:165mm;margin:0 auto}"
                "table.hd{width:100%;border-collapse:collapse}table.hd td{vertical-align:top;text-align:center;width:50%}"
                ".org{font-size:13pt;font-weight:bold;text-transform:uppercase}.par{font-size:13pt}"
                ".motto{font-size:13pt;font-weight:bold}.sub{font-size:14pt;font-weight:bold;text-decoration:underline}"
                ".num{font-size:13pt}.pd{font-style:italic}h1{font-size:14pt;text-align:center;font-weight:bold;margin:18pt 0 6pt}"
                "p{text-align:justify;text-indent:1cm;margin:3pt 0}h2{font-size:14pt;font-weight:bold;margin:10pt 0 4pt}"
                "dl{margin:0}dt{font-weight:bold;display:inline}dd{display:inline;margin:0}div.f{margin:2pt 0 2pt 1cm}"
                "table.sg{width:100%;margin-top:18pt}table.sg td{vertical-align:top;width:50%}"
                ".nn{font-style:italic;font-weight:bold;font-size:12pt}.nnl{font-size:11pt}.auth{text-align:center;font-weight:bold}"
                "</style></head><body><table class=\"hd\"><tr><td>");
    const char *par = js(iss, "parent");
    if (*par) {
        kh_buf_puts(b, "<div class=\"par\">");
        html_esc(b, par);
        kh_buf_puts(b, "</div>");
    }
    kh_buf_puts(b, "<div class=\"org\">");
    html_esc(b, js(iss, "name"));
    kh_buf_puts(b, "</div><div>_______</div><div class=\"num\">");
    html_esc(b, js(rep, "number"));
    kh_buf_puts(b, "</div></td><td><div class=\"motto\">");
    html_esc(b, js(rep, "motto"));
    kh_buf_puts(b, "</div><div class=\"sub\">");
    html_esc(b, js(rep, "motto_sub"));
    kh_buf_puts(b, "</div><div class=\"pd\">");
    html_esc(b, js(rep, "place_date"));
    kh_buf_puts(b, "</div></td></tr></table><h1>");
    html_esc(b, js(rep, "title"));
    kh_buf_puts(b, "</h1><p style=\"text-align:center;text-indent:0\">Kính gửi: ");
    html_esc(b, js(rep, "addressee"));
    kh_buf_puts(b, "</p><p>Căn cứ / Basis: ");
    html_esc(b, js(rep, "basis"));
    kh_buf_puts(b, ". Thời hạn / Deadline: ");
    html_esc(b, js(rep, "deadline"));
    kh_buf_puts(b, ".</p>");
    size_t i, k;
    json_t *s, *f;
    json_array_foreach(json_object_get(rep, "sections"), i, s)
    {
        kh_buf_puts(b, "<h2>");
        html_esc(b, js(s, "heading"));
        kh_buf_puts(b, "</h2>");
        json_array_foreach(json_object_get(s, "fields"), k, f)
        {
            kh_buf_puts(b, "<div class=\"f\">");
            if (*js(f, "label")) {
                kh_buf_puts(b, "<b>");
                html_esc(b, js(f, "label"));
                kh_buf_puts(b, ":</b> ");
            }
            html_esc(b, *js(f, "value") ? js(f, "value") : "……………………");
            kh_buf_puts(b, "</div>");
        }
    }
    kh_buf_puts(b, "<table class=\"sg\"><tr><td><div class=\"nn\">Nơi nhận:</div><div class=\"nnl\">");
    html_esc(b, js(rep, "recipients"));
    kh_buf_puts(b, "</div></td><td class=\"auth\"><div>");
    html_esc(b, js(sig, "authority"));
    kh_buf_puts(b, "</div><div style=\"font-weight:normal;font-style:italic\">");
    html_esc(b, js(sig, "title"));
    kh_buf_puts(b, "</div><br><br><br><div>");
    html_esc(b, js(sig, "name"));
    kh_buf_puts(b, "</div></td></tr></table></body></html>\n");
}

void api_incidents_report(kh_req *r)
{
    char profile[8] = "", kind[16] = "initial", format[8] = "json";
    if (kh_req_qstr(r, "profile", profile, sizeof(profile)) < 0 || kh_req_qstr(r, "kind", kind, sizeof(kind)) < 0 ||
        kh_req_qstr(r, "format", format, sizeof(format)) < 0)
        return;
    if ((profile[0] && strcmp(profile, "2017") && strcmp(profile, "2025")) ||
        (strcmp(kind, "initial") && strcmp(kind, "closure") && strcmp(kind, "breach")) ||
        (strcmp(format, "json") && strcmp(format, "html"))) {
        kh_reply_error(r, 400, "bad_request", "tham số: profile=2017|2025, kind=initial|closure|breach, format=json|html / parameters: profile=2017|2025, kind=initial|closure|breach, format=json|html");
        return;
    }
    json_t *inc = incident_load(r, r->ids[0], 1);
    if (!inc)
        return;
    if (!profile[0])
        snprintf(profile, sizeof(profile), "%s", js(inc, "profile"));
    json_t *rep = build_report(r, inc, profile, kind);
    json_decref(inc);
    char obj[64];
    snprintf(obj, sizeof(obj), "incident:%lld", (long long)r->ids[0]);
    kh_audit(r, "report", obj, kind);
    if (strcmp(format, "json") == 0) {
        kh_reply_json(r, 200, rep);
        return;
    }
    kh_buf b = KH_BUF_INIT(4u << 20);
    render_html(&b, rep);
    json_decref(rep);
    kh_req_reply(r, 200, "text/html; charset=utf-8",
                 "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n", b.data ? b.data : "", b.len);
    kh_buf_dispose(&b);
}

/* ---- forwarding to a higher centre --------------------------------------------------- */

void api_incidents_forward(kh_req *r)
{
    json_t *inc = incident_load(r, r->ids[0], 0); /* the scope check; the document is built by kh_forward_seal */
    if (!inc)
        return;
    char path[1200];
    snprintf(path, sizeof(path), "%s/forward.json", r->srv->dir);
    json_t *conf = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    const char *url = json_string_value(json_object_get(conf, "url"));
    if (!conf || !url || json_is_false(json_object_get(conf, "enabled"))) {
        json_decref(conf);
        json_decref(inc);
        kh_reply_error(r, 409, "conflict", "chưa cấu hình trung tâm cấp trên (%s/forward.json) / no higher centre configured (forward.json)",
                       "DATA");
        return;
    }
    char *env = NULL;
    size_t elen = 0;
    int rc = kh_forward_seal(r->srv, "incident", r->ids[0], &env, &elen);
    if (rc < 0) {
        json_decref(conf);
        json_decref(inc);
        kh_reply_error(r, 500, "internal", "cannot sign");
        return;
    }
    kh_http_options o = KH_HTTP_OPTIONS_INIT;
    o.ca_file = json_string_value(json_object_get(conf, "ca_file"));
    o.https_only = 1;
    o.timeout_ms = 15000;
    kh_http_client *hc = NULL;
    kh_http_response resp;
    memset(&resp, 0, sizeof(resp));
    rc = kh_http_client_create(&hc, &o);
    if (rc == 0)
        rc = kh_http_request(hc, &resp, "POST", url, "application/json", env, elen, NULL);
    free(env);
    char obj[64];
    snprintf(obj, sizeof(obj), "incident:%lld", (long long)r->ids[0]);
    if (rc < 0 || resp.status < 200 || resp.status >= 300) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s (HTTP %ld)", hc ? kh_http_client_last_error(hc) : kh_strerror(rc), resp.status);
        kh_audit(r, "forward_failed", obj, msg);
        kh_reply_error(r, 502, "internal", "không gửi được lên trung tâm cấp trên / forwarding failed: %s", msg);
    } else {
        char now[32];
        kh_iso_now(now);
        kh_sval p[] = {KH_SV_S(now), KH_SV_I(r->ids[0])};
        kh_store_exec(r->srv->st, NULL, "UPDATE incidents SET forwarded_at = ?1 WHERE id = ?2", p, 2);
        /* the automatic queue must not send it again */
        kh_store_exec(r->srv->st, NULL,
                      "UPDATE forward_queue SET sent_at = ?1 WHERE kind = 'incident' AND object_id = ?2 AND sent_at IS NULL",
                      p, 2);
        kh_audit(r, "forward", obj, url);
        kh_reply_json(r, 200, json_pack("{s:b, s:s, s:I}", "sent", 1, "url", url, "status", (json_int_t)resp.status));
    }
    kh_http_response_dispose(&resp);
    kh_http_client_destroy(hc);
    json_decref(conf);
    json_decref(inc);
}

/* ---- change-evaluation requests ---------------------------------------------------------- */

#define CHANGE_COLS "c.id, c.host_id, h.hostname, c.unit_id, c.state, c.created_at, c.summary"

void api_changes_list(kh_req *r)
{
    int64_t limit, offset, unit = 0;
    char state[32] = "";
    int hu;
    if (kh_req_page(r, &limit, &offset) < 0 || (hu = kh_req_qint(r, "unit_id", &unit)) < 0 ||
        kh_req_qstr(r, "state", state, sizeof(state)) < 0)
        return;
    kh_sval p[4] = {KH_SV_I(hu), KH_SV_I(unit), KH_SV_S(state)};
    size_t n = 3;
    char sc[400], where[1200];
    kh_scope(r, "c.unit_id", sc, sizeof(sc), p, &n);
    snprintf(where, sizeof(where), "%s AND (?1 = 0 OR c.unit_id IN " KH_SQL_SUBTREE("?2") ") AND (?3 = '' OR c.state = ?3)",
             sc);
    kh_reply_page(r, CHANGE_COLS, "change_requests c JOIN hosts h ON h.id = c.host_id", "change_requests c", where,
                  "c.id DESC", p, n, limit, offset, NULL);
}

static json_t *change_load(kh_req *r, int64_t id, int full)
{
    json_t *c = NULL;
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query_one(r->srv->st, &c, "SELECT " CHANGE_COLS ", c.diff_json FROM change_requests c JOIN hosts h ON h.id = c.host_id WHERE c.id = ?1",
                           p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "không có yêu cầu này / no such change request");
        return NULL;
    }
    if (!kh_unit_in_scope(r, json_integer_value(json_object_get(c, "unit_id")))) {
        json_decref(c);
        kh_reply_error(r, 403, "forbidden", "yêu cầu ngoài phạm vi / change request outside your scope");
        return NULL;
    }
    if (!full)
        return c;
    json_t *rows = NULL;
    if (kh_store_query(r->srv->st, &rows, "SELECT time, \"user\", from_state AS \"from\", to_state AS \"to\", comment FROM change_log WHERE change_id = ?1 ORDER BY id",
                       p, 1) == 0)
        json_object_set_new(c, "timeline", rows);
    rows = NULL;
    if (kh_store_query(r->srv->st, &rows, "SELECT id, time, \"user\", text FROM comments WHERE object = 'change' AND object_id = ?1 ORDER BY id",
                       p, 1) == 0)
        json_object_set_new(c, "comments", rows);
    return c;
}

void api_changes_get(kh_req *r)
{
    json_t *c = change_load(r, r->ids[0], 1);
    if (c)
        kh_reply_json(r, 200, c);
}

void api_changes_transition(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *to, *comment;
    if (kh_field_str(r, "state", 1, 32, &to) < 0 || kh_field_str(r, "comment", 1, KH_TEXT_MAX, &comment) < 0)
        return;
    json_t *c = change_load(r, r->ids[0], 0);
    if (!c)
        return;
    char from[32];
    snprintf(from, sizeof(from), "%s", js(c, "state"));
    json_decref(c);
    int ok = (strcmp(from, "requested") == 0 && (strcmp(to, "under_evaluation") == 0 || strcmp(to, "approved") == 0 ||
                                                  strcmp(to, "needs_remediation") == 0)) ||
             (strcmp(from, "under_evaluation") == 0 && (strcmp(to, "approved") == 0 || strcmp(to, "needs_remediation") == 0)) ||
             (strcmp(from, "needs_remediation") == 0 && strcmp(to, "under_evaluation") == 0);
    if (!ok) {
        kh_reply_error(r, 409, "conflict", "không chuyển được từ '%s' sang '%.32s' / cannot move from '%s' to '%.32s'", from, to,
                       from, to);
        return;
    }
    char now[32];
    kh_iso_now(now);
    kh_sval p[] = {KH_SV_S(to), KH_SV_I(r->ids[0]), KH_SV_S(from)};
    if (kh_store_exec(r->srv->st, NULL, "UPDATE change_requests SET state = ?1 WHERE id = ?2 AND state = ?3", p, 3) != 1) {
        kh_reply_error(r, 409, "conflict", "trạng thái vừa thay đổi / the state just changed");
        return;
    }
    kh_sval l[] = {KH_SV_I(r->ids[0]), KH_SV_S(now), KH_SV_S(r->user.username), KH_SV_S(from), KH_SV_S(to), KH_SV_S(comment)};
    kh_store_exec(r->srv->st, NULL,
                  "INSERT INTO change_log (change_id, time, \"user\", from_state, to_state, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", l, 6);
    char obj[64], det[96];
    snprintf(obj, sizeof(obj), "change:%lld", (long long)r->ids[0]);
    snprintf(det, sizeof(det), "%s -> %s", from, to);
    kh_audit(r, "transition", obj, det);
    api_changes_get(r);
}

void api_changes_comment(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    json_t *c = change_load(r, r->ids[0], 0);
    if (!c)
        return;
    json_decref(c);
    add_comment(r, "change", r->ids[0]);
}
