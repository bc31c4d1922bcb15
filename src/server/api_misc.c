/* Khiên — server/api_misc: bulletins, the audit log and fleet compliance.
 *
 * Bulletins are awareness notices the city publishes; each person's
 * acknowledgement is recorded and summarised per unit. Compliance is
 * computed on request from hosts, findings and incidents, per unit of the
 * caller's scope, each unit counting its whole subtree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"
#include "server/server_int.h"

void api_bulletins_list(kh_req *r)
{
    int64_t limit, offset;
    if (kh_req_page(r, &limit, &offset) < 0)
        return;
    kh_sval p[] = {KH_SV_I(r->user.id)};
    kh_reply_page(r,
                  "b.id, b.title, b.body, b.created_at, b.created_by,"
                  " (SELECT COUNT(*) FROM bulletin_acks a WHERE a.bulletin_id = b.id AND a.user_id = ?1) AS acked_bool",
                  "bulletins b", "bulletins b", "1 = 1", "b.id DESC", p, 1, limit, offset, NULL);
}

void api_bulletins_create(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *title, *body;
    if (kh_field_str(r, "title", 1, KH_NAME_MAX, &title) < 0 || kh_field_str(r, "body", 1, KH_TEXT_MAX, &body) < 0)
        return;
    char now[32];
    kh_iso_now(now);
    int64_t id = 0;
    kh_sval p[] = {KH_SV_S(title), KH_SV_S(body), KH_SV_S(now), KH_SV_S(r->user.username)};
    int rc = kh_store_exec(r->srv->st, &id, "INSERT INTO bulletins (title, body, created_at, created_by) VALUES (?1, ?2, ?3, ?4)", p,
                           4);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "bulletin:%lld", (long long)id);
    kh_audit(r, "create", obj, title);
    kh_reply_json(r, 201, json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)id, "title", title, "body", body,
                                    "created_at", now, "created_by", r->user.username, "acked", 0));
}

void api_bulletins_ack(kh_req *r)
{
    int64_t n = 0;
    kh_sval q[] = {KH_SV_I(r->ids[0])};
    if (kh_store_query_int(r->srv->st, &n, "SELECT COUNT(*) FROM bulletins WHERE id = ?1", q, 1) < 0 || n == 0) {
        kh_reply_error(r, 404, "not_found", "không có thông báo này / no such bulletin");
        return;
    }
    char now[32];
    kh_iso_now(now);
    kh_sval p[] = {KH_SV_I(r->ids[0]), KH_SV_I(r->user.id), KH_SV_S(now)};
    int rc = kh_store_exec(r->srv->st, NULL,
                           "INSERT INTO bulletin_acks (bulletin_id, user_id, time) VALUES (?1, ?2, ?3) ON CONFLICT (bulletin_id, user_id) DO NOTHING",
                           p, 3);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    if (rc > 0) {
        char obj[64];
        snprintf(obj, sizeof(obj), "bulletin:%lld", (long long)r->ids[0]);
        kh_audit(r, "ack", obj, NULL);
    }
    kh_reply_nocontent(r);
}

void api_bulletins_acks(kh_req *r)
{
    char sc[400], sql[1200];
    kh_sval p[2] = {KH_SV_I(r->ids[0])};
    size_t n = 1;
    kh_scope(r, "u.id", sc, sizeof(sc), p, &n);
    snprintf(sql, sizeof(sql),
             "SELECT u.id AS unit_id, u.name AS unit, (SELECT COUNT(*) FROM users x WHERE x.unit_id = u.id AND x.disabled = 0) AS users,"
             " (SELECT COUNT(*) FROM bulletin_acks a JOIN users x ON x.id = a.user_id WHERE a.bulletin_id = ?1 AND x.unit_id = u.id) AS acked"
             " FROM units u WHERE %s ORDER BY u.id",
             sc);
    json_t *rows = NULL;
    int rc = kh_store_query(r->srv->st, &rows, sql, p, n);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_int_t users = json_integer_value(json_object_get(row, "users"));
        json_int_t acked = json_integer_value(json_object_get(row, "acked"));
        json_object_set_new(row, "rate", json_real(users ? (double)acked / (double)users : 0.0));
    }
    kh_reply_json(r, 200, json_pack("{s:o}", "items", rows));
}

void api_audit_log(kh_req *r)
{
    int64_t limit, offset;
    char user[65] = "", action[33] = "";
    if (kh_req_page(r, &limit, &offset) < 0 || kh_req_qstr(r, "user", user, sizeof(user)) < 0 ||
        kh_req_qstr(r, "action", action, sizeof(action)) < 0)
        return;
    kh_sval p[] = {KH_SV_S(user), KH_SV_S(action)};
    kh_reply_page(r, "id, time, \"user\", ip, action, object, detail", "audit_log", "audit_log",
                  "(?1 = '' OR \"user\" = ?1) AND (?2 = '' OR action = ?2)", "id DESC", p, 2, limit, offset, NULL);
}

void api_compliance(kh_req *r)
{
    int64_t unit = 0;
    int hu = kh_req_qint(r, "unit_id", &unit);
    if (hu < 0)
        return;
    char sc[400], sql[4000], d1[32], d7[32];
    time_t now = time(NULL);
    kh_iso_time(d1, now - 86400);
    kh_iso_time(d7, now - 7 * 86400);
    kh_sval p[5] = {KH_SV_S(d1), KH_SV_S(d7), KH_SV_I(hu), KH_SV_I(unit)};
    size_t n = 4;
    kh_scope(r, "u.id", sc, sizeof(sc), p, &n);
#define SUBTREE KH_SQL_SUBTREE("u.id")
    snprintf(sql, sizeof(sql),
             "SELECT u.id AS unit_id, u.name AS unit, u.parent_id,"
             " (SELECT COUNT(*) FROM hosts h WHERE h.status = 'active' AND h.unit_id IN " SUBTREE ") AS hosts,"
             " (SELECT COUNT(*) FROM hosts h WHERE h.status = 'active' AND h.last_seen >= ?1 AND h.unit_id IN " SUBTREE ") AS active_24h,"
             " (SELECT COUNT(*) FROM hosts h WHERE h.status = 'active' AND h.protection = 1 AND h.last_seen >= ?1 AND h.unit_id IN " SUBTREE ") AS protected,"
             " (SELECT COUNT(*) FROM hosts h WHERE h.status = 'active' AND h.sig_updated >= ?2 AND h.unit_id IN " SUBTREE ") AS signatures_fresh,"
             " (SELECT COUNT(*) FROM hosts h WHERE h.status = 'active' AND h.last_full_scan >= ?2 AND h.unit_id IN " SUBTREE ") AS full_scan_7d,"
             " (SELECT COUNT(*) FROM findings f WHERE f.status = 'open' AND f.severity = 'critical' AND f.unit_id IN " SUBTREE ") AS fc,"
             " (SELECT COUNT(*) FROM findings f WHERE f.status = 'open' AND f.severity = 'high' AND f.unit_id IN " SUBTREE ") AS fh,"
             " (SELECT COUNT(*) FROM findings f WHERE f.status = 'open' AND f.severity = 'medium' AND f.unit_id IN " SUBTREE ") AS fm,"
             " (SELECT COUNT(*) FROM findings f WHERE f.status = 'open' AND f.severity IN ('low','info') AND f.unit_id IN " SUBTREE ") AS fl,"
             " (SELECT COUNT(*) FROM incidents i WHERE i.state IN ('new','reported','investigating') AND i.unit_id IN " SUBTREE ") AS incidents_open"
             " FROM units u WHERE %s AND (?3 = 0 OR u.id = ?4) ORDER BY u.id",
             sc);
#undef SUBTREE
    json_t *rows = NULL;
    int rc = kh_store_query(r->srv->st, &rows, sql, p, n);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_object_set_new(row, "findings_open",
                            json_pack("{s:O, s:O, s:O, s:O}", "critical", json_object_get(row, "fc"), "high",
                                      json_object_get(row, "fh"), "medium", json_object_get(row, "fm"), "low",
                                      json_object_get(row, "fl")));
        json_object_del(row, "fc");
        json_object_del(row, "fh");
        json_object_del(row, "fm");
        json_object_del(row, "fl");
    }
    kh_reply_json(r, 200, json_pack("{s:o}", "items", rows));
}

/* ---- settings ------------------------------------------------------------------ */

void api_settings_get(kh_req *r)
{
    json_t *rows = NULL;
    int rc = kh_store_query(r->srv->st, &rows, "SELECT key, value FROM settings ORDER BY key", NULL, 0);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    json_t *o = json_pack("{s:s}", "report_profile", "2025");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) json_object_set(o, json_string_value(json_object_get(row, "key")), json_object_get(row, "value"));
    json_decref(rows);
    kh_reply_json(r, 200, o);
}

void api_settings_update(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *prof;
    if (kh_field_str(r, "report_profile", 0, 8, &prof) < 0)
        return;
    if (prof && strcmp(prof, "2017") != 0 && strcmp(prof, "2025") != 0) {
        kh_reply_error(r, 400, "bad_request", "report_profile phải là 2017 hoặc 2025 / report_profile must be 2017 or 2025");
        return;
    }
    if (prof) {
        kh_sval p[] = {KH_SV_S(prof)};
        int rc = kh_store_exec(r->srv->st, NULL,
                               "INSERT INTO settings (key, value) VALUES ('report_profile', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               p, 1);
        if (rc < 0) {
            kh_reply_store_error(r, rc);
            return;
        }
        kh_audit(r, "update", "settings:report_profile", prof);
    }
    api_settings_get(r);
}
