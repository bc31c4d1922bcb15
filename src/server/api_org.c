/* Khiên — server/api_org: the organisation: units, hosts, users, enrollment.
 *
 * Units form a tree (city -> department / ward / commune -> unit); hosts and
 * users belong to a unit; an officer acts on its unit's subtree only, which
 * every handler checks through kh_scope()/kh_unit_in_scope() before reading
 * or changing anything, and an object outside the caller's scope answers
 * 403 (its existence is not hidden from someone allowed to list it, but
 * nothing of it is shown).
 *
 * Enrollment: an enrollment token (random, shown once, stored as SHA-256)
 * binds new hosts to a unit, with an expiry and a use count. The agent sends
 * the token and a CSR; the CA signs it into a client certificate whose CN
 * is host-ID and whose serial number is recorded on the host. Removing a
 * host marks it removed, and agent requests with its certificate are then
 * refused (api_agent.c looks the serial up on every request).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"
#include "net/pki.h"
#include "server/server_int.h"

static const char *const unit_kinds[] = {"city", "department", "ward", "commune", "unit", NULL};
static const char *const roles[] = {"admin", "officer", "police", "auditor", NULL};

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

/* ---- units --------------------------------------------------------------- */

#define UNIT_COLS "id, parent_id, name, kind, code, address, contact, created_at"

void api_units_list(kh_req *r)
{
    char sc[400], sql[800];
    kh_sval p[1];
    size_t np = 0;
    snprintf(sql, sizeof(sql), "SELECT " UNIT_COLS " FROM units WHERE %s ORDER BY id", kh_scope(r, "id", sc, sizeof(sc), p, &np));
    json_t *rows = NULL;
    int rc = kh_store_query(r->srv->st, &rows, sql, p, np);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    size_t n = json_array_size(rows);
    kh_reply_json(r, 200, kh_page_json(rows, (int64_t)n, (int64_t)n, 0));
}

static int unit_fields(kh_req *r, const char **name, const char **kind, const char **code, const char **address,
                       const char **contact, int create)
{
    if (kh_field_str(r, "name", create, KH_NAME_MAX, name) < 0 || kh_field_str(r, "kind", 0, 32, kind) < 0 ||
        kh_field_str(r, "code", 0, 64, code) < 0 || kh_field_str(r, "address", 0, 500, address) < 0 ||
        kh_field_str(r, "contact", 0, 500, contact) < 0)
        return -1;
    if (*kind && !one_of(*kind, unit_kinds)) {
        kh_reply_error(r, 400, "bad_request", "kind phải là city, department, ward, commune hoặc unit / kind must be city, department, ward, commune or unit");
        return -1;
    }
    return 0;
}

void api_units_create(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *name, *kind, *code, *address, *contact;
    int64_t parent = 0;
    if (unit_fields(r, &name, &kind, &code, &address, &contact, 1) < 0 ||
        kh_field_int(r, "parent_id", 1, 1, INT64_MAX, &parent, NULL) < 0)
        return;
    if (!kh_unit_in_scope(r, parent)) {
        kh_reply_error(r, 403, "forbidden", "không có quyền với đơn vị cha / no access to the parent unit");
        return;
    }
    char now[32];
    kh_iso_now(now);
    int64_t id = 0;
    kh_sval p[] = {KH_SV_I(parent), KH_SV_S(name), KH_SV_S(kind ? kind : "unit"), KH_SV_S(code), KH_SV_S(address),
                   KH_SV_S(contact), KH_SV_S(now)};
    int rc = kh_store_exec(r->srv->st, &id,
                           "INSERT INTO units (parent_id, name, kind, code, address, contact, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           p, 7);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "unit:%lld", (long long)id);
    kh_audit(r, "create", obj, name);
    json_t *row = NULL;
    kh_sval q[] = {KH_SV_I(id)};
    kh_store_query_one(r->srv->st, &row, "SELECT " UNIT_COLS " FROM units WHERE id = ?1", q, 1);
    kh_reply_json(r, 201, row);
}

void api_units_get(kh_req *r)
{
    int64_t id = r->ids[0];
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query_one(r->srv->st, &row, "SELECT " UNIT_COLS " FROM units WHERE id = ?1", p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "không có đơn vị này / no such unit");
        return;
    }
    if (!kh_unit_in_scope(r, id)) {
        json_decref(row);
        kh_reply_error(r, 403, "forbidden", "đơn vị ngoài phạm vi / unit outside your scope");
        return;
    }
    kh_reply_json(r, 200, row);
}

void api_units_update(kh_req *r)
{
    int64_t id = r->ids[0];
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *name, *kind, *code, *address, *contact;
    int64_t parent = 0;
    int has_parent = 0;
    if (unit_fields(r, &name, &kind, &code, &address, &contact, 0) < 0 ||
        kh_field_int(r, "parent_id", 0, 1, INT64_MAX, &parent, &has_parent) < 0)
        return;
    kh_sval p0[] = {KH_SV_I(id)};
    int64_t exists = 0;
    kh_store_query_int(r->srv->st, &exists, "SELECT COUNT(*) FROM units WHERE id = ?1", p0, 1);
    if (!exists) {
        kh_reply_error(r, 404, "not_found", "không có đơn vị này / no such unit");
        return;
    }
    if (!kh_unit_in_scope(r, id) || (has_parent && !kh_unit_in_scope(r, parent)) ||
        (has_parent && strcmp(r->user.role, "admin") != 0)) {
        kh_reply_error(r, 403, "forbidden", "đơn vị ngoài phạm vi / unit outside your scope");
        return;
    }
    if (has_parent) { /* the new parent must not be inside the unit's own subtree */
        int64_t cyc = 0;
        kh_sval c[] = {KH_SV_I(id), KH_SV_I(parent)};
        kh_store_query_int(r->srv->st, &cyc,
                           "SELECT COUNT(*) FROM units WHERE id = ?2 AND id IN " KH_SQL_SUBTREE("?1"),
                           c, 2);
        if (cyc) {
            kh_reply_error(r, 409, "conflict", "không thể đặt đơn vị dưới chính nó / a unit cannot be moved under itself");
            return;
        }
    }
    kh_sval p[] = {KH_SV_S(name), KH_SV_S(kind), KH_SV_S(code), KH_SV_S(address), KH_SV_S(contact),
                   has_parent ? KH_SV_I(parent) : KH_SV_NUL, KH_SV_I(id)};
    int rc = kh_store_exec(r->srv->st, NULL,
                           "UPDATE units SET name = COALESCE(?1, name), kind = COALESCE(?2, kind), code = COALESCE(?3, code),"
                           " address = COALESCE(?4, address), contact = COALESCE(?5, contact), parent_id = COALESCE(?6, parent_id)"
                           " WHERE id = ?7",
                           p, 7);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "unit:%lld", (long long)id);
    kh_audit(r, "update", obj, NULL);
    api_units_get(r);
}

void api_units_delete(kh_req *r)
{
    int64_t id = r->ids[0], n = 0;
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query_int(r->srv->st, &n, "SELECT COUNT(*) FROM units WHERE id = ?1", p, 1) < 0 || n == 0) {
        kh_reply_error(r, 404, "not_found", "không có đơn vị này / no such unit");
        return;
    }
    kh_store_query_int(r->srv->st, &n,
                       "SELECT (SELECT COUNT(*) FROM units WHERE parent_id = ?1) + (SELECT COUNT(*) FROM hosts WHERE unit_id = ?1)"
                       " + (SELECT COUNT(*) FROM users WHERE unit_id = ?1) + (SELECT COUNT(*) FROM incidents WHERE unit_id = ?1)",
                       p, 1);
    if (n) {
        kh_reply_error(r, 409, "conflict", "đơn vị còn đơn vị con, máy, người dùng hoặc sự cố / the unit still has child units, hosts, users or incidents");
        return;
    }
    kh_store_exec(r->srv->st, NULL, "DELETE FROM enroll_tokens WHERE unit_id = ?1", p, 1);
    int rc = kh_store_exec(r->srv->st, NULL, "DELETE FROM units WHERE id = ?1", p, 1);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "unit:%lld", (long long)id);
    kh_audit(r, "delete", obj, NULL);
    kh_reply_nocontent(r);
}

/* ---- hosts --------------------------------------------------------------- */

#define HOST_COLS                                                                                                  \
    "h.id, h.unit_id, h.hostname, h.os, h.agent_version, h.population_db AS population_db_bool, h.level, h.status,"  \
    " h.enrolled_at, h.last_seen, h.last_full_scan, h.protection AS protection_bool, h.sig_updated,"                \
    " (SELECT COUNT(*) FROM findings f WHERE f.host_id = h.id AND f.status = 'open' AND f.severity = 'critical') AS oc," \
    " (SELECT COUNT(*) FROM findings f WHERE f.host_id = h.id AND f.status = 'open' AND f.severity = 'high') AS oh,"   \
    " (SELECT COUNT(*) FROM findings f WHERE f.host_id = h.id AND f.status = 'open' AND f.severity = 'medium') AS om," \
    " (SELECT COUNT(*) FROM findings f WHERE f.host_id = h.id AND f.status = 'open' AND f.severity IN ('low','info')) AS ol"

static void fold_counts(json_t *row)
{
    json_t *o = json_pack("{s:O, s:O, s:O, s:O}", "critical", json_object_get(row, "oc"), "high",
                          json_object_get(row, "oh"), "medium", json_object_get(row, "om"), "low", json_object_get(row, "ol"));
    json_object_set_new(row, "open_findings", o);
    json_object_del(row, "oc");
    json_object_del(row, "oh");
    json_object_del(row, "om");
    json_object_del(row, "ol");
}

void api_hosts_list(kh_req *r)
{
    int64_t limit, offset, unit = 0, pop = 0;
    char q[KH_NAME_MAX + 1] = "", status[32] = "";
    int has_unit, has_pop, has_q, has_status;
    if (kh_req_page(r, &limit, &offset) < 0 || (has_unit = kh_req_qint(r, "unit_id", &unit)) < 0 ||
        (has_pop = kh_req_qint(r, "population_db", &pop)) < 0 || (has_q = kh_req_qstr(r, "q", q, sizeof(q))) < 0 ||
        (has_status = kh_req_qstr(r, "status", status, sizeof(status))) < 0)
        return;
    kh_sval p[7] = {KH_SV_I(has_unit), KH_SV_I(unit), KH_SV_I(has_pop), KH_SV_I(pop ? 1 : 0), KH_SV_S(q), KH_SV_S(status)};
    size_t n = 6;
    char sc[400], where[1200];
    kh_scope(r, "h.unit_id", sc, sizeof(sc), p, &n);
    /* LOWER on both sides: LIKE is case-insensitive in SQLite, case-sensitive in PostgreSQL */
    snprintf(where, sizeof(where),
             "%s AND (?1 = 0 OR h.unit_id IN " KH_SQL_SUBTREE("?2") ") AND (?3 = 0 OR h.population_db = ?4)"
             " AND (?5 = '' OR LOWER(h.hostname) LIKE '%%' || LOWER(?5) || '%%') AND (?6 = '' OR h.status = ?6)",
             sc);
    kh_reply_page(r, HOST_COLS, "hosts h", "hosts h", where, "h.id", p, n, limit, offset, fold_counts);
}

/* The host row if the caller may see it; replies 404/403 otherwise. */
static json_t *host_in_scope(kh_req *r, int64_t id)
{
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query_one(r->srv->st, &row, "SELECT " HOST_COLS ", h.heartbeat_json FROM hosts h WHERE h.id = ?1", p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "không có máy này / no such host");
        return NULL;
    }
    if (!kh_unit_in_scope(r, json_integer_value(json_object_get(row, "unit_id")))) {
        json_decref(row);
        kh_reply_error(r, 403, "forbidden", "máy thuộc đơn vị ngoài phạm vi / host outside your scope");
        return NULL;
    }
    fold_counts(row);
    return row;
}

static json_t *latest_event(kh_req *r, int64_t host, const char *type)
{
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(host), KH_SV_S(type)};
    if (kh_store_query_one(r->srv->st, &row,
                           "SELECT event_id, time, received, data_json FROM events WHERE host_id = ?1 AND type = ?2 ORDER BY id DESC LIMIT 1",
                           p, 2) < 0)
        return json_null();
    return row;
}

void api_hosts_get(kh_req *r)
{
    int64_t id = r->ids[0];
    json_t *h = host_in_scope(r, id);
    if (!h)
        return;
    json_object_set_new(h, "inventory", latest_event(r, id, "inventory"));
    json_object_set_new(h, "vuln", latest_event(r, id, "vuln"));
    /* latest audit event per policy */
    json_t *rows = NULL, *audit = json_array();
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query(r->srv->st, &rows,
                       "SELECT event_id, time, received, data_json FROM events WHERE host_id = ?1 AND type = 'audit' ORDER BY id DESC LIMIT 50",
                       p, 1) == 0) {
        json_t *seen = json_object();
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            json_t *d = json_object_get(row, "data");
            const char *pid = json_string_value(json_object_get(d, "policy_id"));
            if (!pid)
                pid = json_string_value(json_object_get(d, "policy"));
            if (!pid)
                pid = "";
            if (json_object_get(seen, pid))
                continue;
            json_object_set_new(seen, pid, json_true());
            json_array_append(audit, row);
        }
        json_decref(seen);
        json_decref(rows);
    }
    json_object_set_new(h, "audit", audit);
    rows = NULL;
    if (kh_store_query(r->srv->st, &rows,
                       "SELECT event_id, time, received, data_json FROM events WHERE host_id = ?1 AND type = 'inventory_change' ORDER BY id DESC LIMIT 50",
                       p, 1) < 0)
        rows = json_array();
    json_object_set_new(h, "changes", rows);
    kh_reply_json(r, 200, h);
}

void api_hosts_update(kh_req *r)
{
    int64_t id = r->ids[0];
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    json_t *h = host_in_scope(r, id);
    if (!h)
        return;
    json_decref(h);
    int pop = 0, has_pop = 0, has_level = 0, has_unit = 0;
    int64_t level = 0, unit = 0;
    const char *hostname;
    if (kh_field_bool(r, "population_db", &pop, &has_pop) < 0 ||
        kh_field_int(r, "level", 0, 1, 5, &level, &has_level) < 0 ||
        kh_field_int(r, "unit_id", 0, 1, INT64_MAX, &unit, &has_unit) < 0 ||
        kh_field_str(r, "hostname", 0, KH_NAME_MAX, &hostname) < 0)
        return;
    if (has_unit && !kh_unit_in_scope(r, unit)) {
        kh_reply_error(r, 403, "forbidden", "đơn vị đích ngoài phạm vi / target unit outside your scope");
        return;
    }
    kh_sval p[] = {has_pop ? KH_SV_I(pop) : KH_SV_NUL, has_level ? KH_SV_I(level) : KH_SV_NUL,
                   has_unit ? KH_SV_I(unit) : KH_SV_NUL, KH_SV_S(hostname), KH_SV_I(id)};
    int rc = kh_store_exec(r->srv->st, NULL,
                           "UPDATE hosts SET population_db = COALESCE(?1, population_db), level = COALESCE(?2, level),"
                           " unit_id = COALESCE(?3, unit_id), hostname = COALESCE(?4, hostname) WHERE id = ?5",
                           p, 5);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    if (has_unit)
        kh_store_exec(r->srv->st, NULL, "UPDATE findings SET unit_id = ?3 WHERE host_id = ?5", p, 5);
    char obj[64], det[128];
    snprintf(obj, sizeof(obj), "host:%lld", (long long)id);
    snprintf(det, sizeof(det), "population_db=%s level=%s unit=%s", has_pop ? (pop ? "1" : "0") : "-",
             has_level ? (level == 1 ? "1" : level == 2 ? "2" : level == 3 ? "3" : level == 4 ? "4" : "5") : "-",
             has_unit ? "changed" : "-");
    kh_audit(r, "update", obj, det);
    h = host_in_scope(r, id);
    if (h)
        kh_reply_json(r, 200, h);
}

void api_hosts_delete(kh_req *r)
{
    int64_t id = r->ids[0];
    json_t *h = host_in_scope(r, id);
    if (!h)
        return;
    json_decref(h);
    kh_sval p[] = {KH_SV_I(id)};
    int rc = kh_store_exec(r->srv->st, NULL, "UPDATE hosts SET status = 'removed' WHERE id = ?1", p, 1);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "host:%lld", (long long)id);
    kh_audit(r, "delete", obj, "host removed; its certificate is refused from now on");
    kh_reply_nocontent(r);
}

/* ---- enrollment tokens ------------------------------------------------------- */

static void token_expiry_iso(json_t *row)
{
    char t[32];
    kh_iso_time(t, (time_t)json_integer_value(json_object_get(row, "expires")));
    json_object_set_new(row, "expires", json_string(t));
}

void api_tokens_list(kh_req *r)
{
    int64_t limit, offset;
    if (kh_req_page(r, &limit, &offset) < 0)
        return;
    kh_sval p[1];
    size_t n = 0;
    char sc[400];
    kh_scope(r, "unit_id", sc, sizeof(sc), p, &n);
    kh_reply_page(r, "id, unit_id, expires, max_uses, uses, revoked AS revoked_bool, note, created_by, created_at",
                  "enroll_tokens", "enroll_tokens", sc, "id DESC", p, n, limit, offset, token_expiry_iso);
}

void api_tokens_create(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    int64_t unit = 0, hours = 72, uses = 1;
    const char *note;
    if (kh_field_int(r, "unit_id", 1, 1, INT64_MAX, &unit, NULL) < 0 ||
        kh_field_int(r, "expires_in_hours", 0, 1, 24 * 365, &hours, NULL) < 0 ||
        kh_field_int(r, "max_uses", 0, 1, 100000, &uses, NULL) < 0 || kh_field_str(r, "note", 0, 500, &note) < 0)
        return;
    if (!kh_unit_in_scope(r, unit)) {
        kh_reply_error(r, 403, "forbidden", "đơn vị ngoài phạm vi hoặc không tồn tại / unit outside your scope or missing");
        return;
    }
    char hex[33], tok[40], hash[65], now[32], exp[32];
    kh_sign_random_hex(hex, 16);
    snprintf(tok, sizeof(tok), "kt_%s", hex);
    kh_sign_sha256_hex(hash, tok, strlen(tok));
    kh_iso_now(now);
    time_t expires = time(NULL) + (time_t)hours * 3600;
    kh_iso_time(exp, expires);
    int64_t id = 0;
    kh_sval p[] = {KH_SV_I(unit), KH_SV_S(hash), KH_SV_I(expires), KH_SV_I(uses), KH_SV_S(note), KH_SV_S(r->user.username),
                   KH_SV_S(now)};
    int rc = kh_store_exec(r->srv->st, &id,
                           "INSERT INTO enroll_tokens (unit_id, token_hash, expires, max_uses, note, created_by, created_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           p, 7);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "token:%lld", (long long)id);
    kh_audit(r, "create", obj, "enrollment token");
    kh_reply_json(r, 201, json_pack("{s:I, s:I, s:s, s:s, s:I, s:i, s:b, s:s?}", "id", (json_int_t)id, "unit_id",
                                    (json_int_t)unit, "token", tok, "expires", exp, "max_uses", (json_int_t)uses, "uses", 0,
                                    "revoked", 0, "note", note));
}

void api_tokens_revoke(kh_req *r)
{
    int64_t id = r->ids[0], unit = 0;
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query_int(r->srv->st, &unit, "SELECT unit_id FROM enroll_tokens WHERE id = ?1", p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "không có mã này / no such token");
        return;
    }
    if (!kh_unit_in_scope(r, unit)) {
        kh_reply_error(r, 403, "forbidden", "mã thuộc đơn vị ngoài phạm vi / token outside your scope");
        return;
    }
    kh_store_exec(r->srv->st, NULL, "UPDATE enroll_tokens SET revoked = 1 WHERE id = ?1", p, 1);
    char obj[64];
    snprintf(obj, sizeof(obj), "token:%lld", (long long)id);
    kh_audit(r, "delete", obj, "enrollment token revoked");
    kh_reply_nocontent(r);
}

/* ---- users ----------------------------------------------------------------- */

#define USER_COLS                                                                                                     \
    "id, username, full_name, email, phone, role, unit_id, must_change AS must_change_password_bool,"                \
    " totp_enabled AS totp_enabled_bool, disabled AS disabled_bool, created_at"

void api_users_list(kh_req *r)
{
    int64_t limit, offset;
    if (kh_req_page(r, &limit, &offset) < 0)
        return;
    kh_sval p[1];
    size_t n = 0;
    char sc[400];
    kh_scope(r, "unit_id", sc, sizeof(sc), p, &n);
    kh_reply_page(r, USER_COLS, "users", "users", sc, "id", p, n, limit, offset, NULL);
}

static int valid_username(const char *u)
{
    size_t n = strlen(u);
    return n >= 2 && n <= 64 && strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") == n;
}

static void gen_password(char *out, size_t size)
{
    static const char al[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t raw[16];
    kh_sign_random(raw, sizeof(raw));
    size_t n = size - 1 < 16 ? size - 1 : 16;
    for (size_t i = 0; i < n; i++)
        out[i] = al[raw[i] % (sizeof(al) - 1)];
    out[n] = 0;
}

void api_users_create(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *username, *full, *role, *email, *phone;
    int64_t unit = 0;
    if (kh_field_str(r, "username", 1, 64, &username) < 0 || kh_field_str(r, "full_name", 0, KH_NAME_MAX, &full) < 0 ||
        kh_field_str(r, "role", 1, 16, &role) < 0 || kh_field_str(r, "email", 0, 200, &email) < 0 ||
        kh_field_str(r, "phone", 0, 50, &phone) < 0 || kh_field_int(r, "unit_id", 1, 1, INT64_MAX, &unit, NULL) < 0)
        return;
    if (!valid_username(username)) {
        kh_reply_error(r, 400, "bad_request", "tên đăng nhập chỉ gồm chữ, số và . _ - @ (2-64) / user name: letters, digits and . _ - @ (2-64)");
        return;
    }
    if (!one_of(role, roles)) {
        kh_reply_error(r, 400, "bad_request", "role phải là admin, officer, police hoặc auditor / role must be admin, officer, police or auditor");
        return;
    }
    if (!kh_unit_in_scope(r, unit)) {
        kh_reply_error(r, 400, "bad_request", "không có đơn vị %lld / no such unit %lld", (long long)unit, (long long)unit);
        return;
    }
    char pw[20], hash[KH_SIGN_PWHASH_MAX], now[32];
    gen_password(pw, sizeof(pw));
    kh_sign_password_hash(hash, pw);
    kh_iso_now(now);
    int64_t id = 0;
    kh_sval p[] = {KH_SV_S(username), KH_SV_S(full), KH_SV_S(email), KH_SV_S(phone), KH_SV_S(role), KH_SV_I(unit),
                   KH_SV_S(hash), KH_SV_S(now)};
    int rc = kh_store_exec(r->srv->st, &id,
                           "INSERT INTO users (username, full_name, email, phone, role, unit_id, pw_hash, must_change, created_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
                           p, 8);
    if (rc == KH_EINVAL) {
        kh_reply_error(r, 409, "conflict", "tên đăng nhập đã tồn tại / user name already exists");
        return;
    }
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    char obj[100];
    snprintf(obj, sizeof(obj), "user:%s", username);
    kh_audit(r, "create", obj, role);
    json_t *row = NULL;
    kh_sval q[] = {KH_SV_I(id)};
    kh_store_query_one(r->srv->st, &row, "SELECT " USER_COLS " FROM users WHERE id = ?1", q, 1);
    kh_reply_json(r, 201, json_pack("{s:o, s:s}", "user", row, "password", pw));
}

void api_users_get(kh_req *r)
{
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(r->ids[0])};
    if (kh_store_query_one(r->srv->st, &row, "SELECT " USER_COLS " FROM users WHERE id = ?1", p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "không có người dùng này / no such user");
        return;
    }
    if (!kh_unit_in_scope(r, json_integer_value(json_object_get(row, "unit_id")))) {
        json_decref(row);
        kh_reply_error(r, 403, "forbidden", "người dùng ngoài phạm vi / user outside your scope");
        return;
    }
    kh_reply_json(r, 200, row);
}

void api_users_update(kh_req *r)
{
    int64_t id = r->ids[0];
    if (kh_req_body(r, KH_BODY_MAX_USER) < 0)
        return;
    const char *role, *full, *email, *phone;
    int64_t unit = 0;
    int has_unit = 0, disabled = 0, has_dis = 0;
    if (kh_field_str(r, "role", 0, 16, &role) < 0 || kh_field_str(r, "full_name", 0, KH_NAME_MAX, &full) < 0 ||
        kh_field_str(r, "email", 0, 200, &email) < 0 || kh_field_str(r, "phone", 0, 50, &phone) < 0 ||
        kh_field_int(r, "unit_id", 0, 1, INT64_MAX, &unit, &has_unit) < 0 ||
        kh_field_bool(r, "disabled", &disabled, &has_dis) < 0)
        return;
    if (role && !one_of(role, roles)) {
        kh_reply_error(r, 400, "bad_request", "role phải là admin, officer, police hoặc auditor / role must be admin, officer, police or auditor");
        return;
    }
    if (id == r->user.id && ((has_dis && disabled) || (role && strcmp(role, "admin") != 0))) {
        kh_reply_error(r, 409, "conflict", "không thể tự khóa hoặc tự hạ quyền / you cannot disable or demote yourself");
        return;
    }
    kh_sval p[] = {KH_SV_S(role), KH_SV_S(full), KH_SV_S(email), KH_SV_S(phone), has_unit ? KH_SV_I(unit) : KH_SV_NUL,
                   has_dis ? KH_SV_I(disabled) : KH_SV_NUL, KH_SV_I(id)};
    int rc = kh_store_exec(r->srv->st, NULL,
                           "UPDATE users SET role = COALESCE(?1, role), full_name = COALESCE(?2, full_name), email = COALESCE(?3, email),"
                           " phone = COALESCE(?4, phone), unit_id = COALESCE(?5, unit_id), disabled = COALESCE(?6, disabled) WHERE id = ?7",
                           p, 7);
    if (rc == 0) {
        kh_reply_error(r, 404, "not_found", "không có người dùng này / no such user");
        return;
    }
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    if (has_dis && disabled) {
        kh_sval s[] = {KH_SV_I(id)};
        kh_store_exec(r->srv->st, NULL, "DELETE FROM sessions WHERE user_id = ?1", s, 1);
    }
    char obj[64];
    snprintf(obj, sizeof(obj), "user:%lld", (long long)id);
    kh_audit(r, "update", obj, role ? role : NULL);
    api_users_get(r);
}

void api_users_reset(kh_req *r)
{
    int64_t id = r->ids[0];
    char pw[20], hash[KH_SIGN_PWHASH_MAX];
    gen_password(pw, sizeof(pw));
    kh_sign_password_hash(hash, pw);
    kh_sval p[] = {KH_SV_S(hash), KH_SV_I(id)};
    int rc = kh_store_exec(r->srv->st, NULL,
                           "UPDATE users SET pw_hash = ?1, must_change = 1, failed = 0, locked_until = 0, totp_enabled = 0,"
                           " totp_secret = NULL, recovery_json = NULL WHERE id = ?2",
                           p, 2);
    if (rc <= 0) {
        kh_reply_error(r, 404, "not_found", "không có người dùng này / no such user");
        return;
    }
    kh_store_exec(r->srv->st, NULL, "DELETE FROM sessions WHERE user_id = ?2", p, 2);
    char obj[64];
    snprintf(obj, sizeof(obj), "user:%lld", (long long)id);
    kh_audit(r, "update", obj, "password reset by an administrator");
    kh_reply_json(r, 200, json_pack("{s:s}", "password", pw));
}

/* ---- enrollment --------------------------------------------------------------- */

void api_enroll_ca(kh_req *r)
{
    kh_req_reply(r, 200, "application/x-pem-file", NULL, r->srv->ca_cert, strlen(r->srv->ca_cert));
}

void api_enroll(kh_req *r)
{
    if (kh_req_body(r, KH_BODY_MAX_ENROLL) < 0)
        return;
    const char *token, *csr, *hostname, *os, *ver;
    if (kh_field_str(r, "token", 1, 100, &token) < 0 || kh_field_str(r, "csr", 1, 16384, &csr) < 0 ||
        kh_field_str(r, "hostname", 1, KH_NAME_MAX, &hostname) < 0 || kh_field_str(r, "os", 0, KH_NAME_MAX, &os) < 0 ||
        kh_field_str(r, "agent_version", 0, 64, &ver) < 0)
        return;
    char hash[65], now[32];
    kh_sign_sha256_hex(hash, token, strlen(token));
    kh_iso_now(now);
    kh_store *st = r->srv->st;
    int rc = kh_store_begin(st);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    json_t *tok = NULL;
    kh_sval p[] = {KH_SV_S(hash)};
    if (kh_store_query_one(st, &tok, "SELECT id, unit_id, expires, max_uses, uses, revoked FROM enroll_tokens WHERE token_hash = ?1",
                           p, 1) < 0) {
        kh_store_rollback(st);
        kh_audit(r, "enroll_refused", hostname, "unknown token");
        kh_reply_error(r, 403, "forbidden", "mã đăng ký không đúng / unknown enrollment token");
        return;
    }
    int64_t tid = json_integer_value(json_object_get(tok, "id")), unit = json_integer_value(json_object_get(tok, "unit_id"));
    const char *why = NULL;
    if (json_integer_value(json_object_get(tok, "revoked")))
        why = "mã đăng ký đã bị thu hồi / the enrollment token was revoked";
    else if (json_integer_value(json_object_get(tok, "expires")) <= time(NULL))
        why = "mã đăng ký đã hết hạn / the enrollment token has expired";
    else if (json_integer_value(json_object_get(tok, "uses")) >= json_integer_value(json_object_get(tok, "max_uses")))
        why = "mã đăng ký đã dùng hết lượt / the enrollment token is used up";
    json_decref(tok);
    if (why) {
        kh_store_rollback(st);
        kh_audit(r, "enroll_refused", hostname, why);
        kh_reply_error(r, 403, "forbidden", "%s", why);
        return;
    }
    int64_t host = 0;
    kh_sval hp[] = {KH_SV_I(unit), KH_SV_S(hostname), KH_SV_S(os), KH_SV_S(ver), KH_SV_S(now)};
    if ((rc = kh_store_exec(st, &host,
                            "INSERT INTO hosts (unit_id, hostname, os, agent_version, enrolled_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                            hp, 5)) < 0) {
        kh_store_rollback(st);
        kh_reply_store_error(r, rc);
        return;
    }
    uint64_t serial = 0;
    kh_sign_random(&serial, sizeof(serial));
    serial = (serial & 0x3fffffffffffffffULL) | 1;
    char cn[64], err[256] = "";
    snprintf(cn, sizeof(cn), "host-%lld", (long long)host);
    char *cert = NULL;
    rc = kh_pki_csr_sign(&cert, r->srv->ca_key, r->srv->ca_cert, csr, cn, serial, 825, err, sizeof(err));
    if (rc < 0) {
        kh_store_rollback(st);
        kh_reply_error(r, 400, "bad_request", "yêu cầu chứng thư (CSR) không hợp lệ / invalid certificate request: %s", err);
        return;
    }
    kh_sval up[] = {KH_SV_I((int64_t)serial), KH_SV_I(host), KH_SV_I(tid)};
    if ((rc = kh_store_exec(st, NULL, "UPDATE hosts SET cert_serial = ?1 WHERE id = ?2", up, 2)) < 0 ||
        (rc = kh_store_exec(st, NULL, "UPDATE enroll_tokens SET uses = uses + 1 WHERE id = ?3", up, 3)) < 0) {
        kh_store_rollback(st);
        free(cert);
        kh_reply_store_error(r, rc);
        return;
    }
    r->host_id = host;
    kh_audit(r, "enroll", cn, hostname);
    if ((rc = kh_store_commit(st)) < 0) {
        free(cert);
        kh_reply_store_error(r, rc);
        return;
    }
    kh_reply_json(r, 201, json_pack("{s:I, s:I, s:s, s:s, s:s}", "host_id", (json_int_t)host, "unit_id", (json_int_t)unit,
                                    "certificate", cert, "ca", r->srv->ca_cert, "bundle_public_key", r->srv->bundle_pk_hex));
    free(cert);
}
