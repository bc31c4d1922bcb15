/* Khiên — server: the centre's start-up, routing and reply helpers.
 *
 * First start turns an empty data folder into a working centre: the
 * database (schema migrations), a private CA, a server certificate, the
 * Ed25519 bundle-signing key and the first administrator (a one-time
 * password, returned to the caller to print once and never stored in
 * clear). Later starts reuse all of it; the server certificate alone is
 * reissued at each start so that a changed listen address stays valid (the
 * agents pin the CA, not the server certificate).
 *
 * Every request goes through dispatch(): /api/ paths are matched against
 * one route table that also says who may call (nobody, an agent with a
 * client certificate, or a person with a session and one of the listed
 * roles); the handler then narrows by unit. Other paths go to the routes
 * added by the web UI. Bodies are bounded before they are read, JSON is
 * parsed once, and every error is a JSON 4xx/5xx with a Vietnamese and
 * English message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khien/error.h"
#include "khien/platform.h"
#include "net/pki.h"
#include "server/server_int.h"

enum { K_PUB, K_AGENT, K_USER };

typedef struct route {
    const char *method;
    const char *pattern; /* segments; "#" = positive integer, "*" = a name */
    int kind;
    unsigned roles;
    void (*fn)(kh_req *r);
} route;

static const route routes[] = {
    {"GET", "/api/v1/enroll/ca", K_PUB, 0, api_enroll_ca},
    {"POST", "/api/v1/enroll", K_PUB, 0, api_enroll},
    {"POST", "/api/v1/login", K_PUB, 0, api_login},
    {"POST", "/api/v1/agent/heartbeat", K_AGENT, 0, api_agent_heartbeat},
    {"POST", "/api/v1/agent/events", K_AGENT, 0, api_agent_events},
    {"GET", "/api/v1/agent/bundles/*", K_AGENT, 0, api_agent_bundle},
    {"POST", "/api/v1/logout", K_USER, R_ANY, api_logout},
    {"GET", "/api/v1/me", K_USER, R_ANY, api_me},
    {"POST", "/api/v1/me/password", K_USER, R_ANY, api_me_password},
    {"POST", "/api/v1/me/totp/setup", K_USER, R_ANY, api_totp_setup},
    {"POST", "/api/v1/me/totp/confirm", K_USER, R_ANY, api_totp_confirm},
    {"POST", "/api/v1/me/totp/disable", K_USER, R_ANY, api_totp_disable},
    {"GET", "/api/v1/stats/access", K_USER, R_ANY, api_stats_access},
    {"GET", "/api/v1/units", K_USER, R_ANY, api_units_list},
    {"POST", "/api/v1/units", K_USER, R_ADMIN | R_OFFICER, api_units_create},
    {"GET", "/api/v1/units/#", K_USER, R_ANY, api_units_get},
    {"PATCH", "/api/v1/units/#", K_USER, R_ADMIN | R_OFFICER, api_units_update},
    {"DELETE", "/api/v1/units/#", K_USER, R_ADMIN, api_units_delete},
    {"GET", "/api/v1/hosts", K_USER, R_ANY, api_hosts_list},
    {"GET", "/api/v1/hosts/#", K_USER, R_ANY, api_hosts_get},
    {"PATCH", "/api/v1/hosts/#", K_USER, R_ADMIN | R_OFFICER, api_hosts_update},
    {"DELETE", "/api/v1/hosts/#", K_USER, R_ADMIN | R_OFFICER, api_hosts_delete},
    {"GET", "/api/v1/enrollment-tokens", K_USER, R_ADMIN | R_OFFICER | R_AUDITOR, api_tokens_list},
    {"POST", "/api/v1/enrollment-tokens", K_USER, R_ADMIN | R_OFFICER, api_tokens_create},
    {"DELETE", "/api/v1/enrollment-tokens/#", K_USER, R_ADMIN | R_OFFICER, api_tokens_revoke},
    {"GET", "/api/v1/users", K_USER, R_ADMIN | R_OFFICER | R_AUDITOR, api_users_list},
    {"POST", "/api/v1/users", K_USER, R_ADMIN, api_users_create},
    {"GET", "/api/v1/users/#", K_USER, R_ADMIN | R_OFFICER | R_AUDITOR, api_users_get},
    {"PATCH", "/api/v1/users/#", K_USER, R_ADMIN, api_users_update},
    {"POST", "/api/v1/users/#/reset-password", K_USER, R_ADMIN, api_users_reset},
    {"GET", "/api/v1/findings", K_USER, R_ANY, api_findings_list},
    {"GET", "/api/v1/findings/#", K_USER, R_ANY, api_findings_get},
    {"PATCH", "/api/v1/findings/#", K_USER, R_ADMIN | R_OFFICER, api_findings_update},
    {"GET", "/api/v1/incidents", K_USER, R_ANY, api_incidents_list},
    {"POST", "/api/v1/incidents", K_USER, R_ADMIN | R_OFFICER, api_incidents_create},
    {"GET", "/api/v1/incidents/#", K_USER, R_ANY, api_incidents_get},
    {"PATCH", "/api/v1/incidents/#", K_USER, R_ADMIN | R_OFFICER, api_incidents_update},
    {"POST", "/api/v1/incidents/#/transition", K_USER, R_ADMIN | R_OFFICER | R_POLICE, api_incidents_transition},
    {"POST", "/api/v1/incidents/#/comments", K_USER, R_ADMIN | R_OFFICER | R_POLICE, api_incidents_comment},
    {"GET", "/api/v1/incidents/#/report", K_USER, R_ANY, api_incidents_report},
    {"POST", "/api/v1/incidents/#/forward", K_USER, R_ADMIN, api_incidents_forward},
    {"GET", "/api/v1/change-requests", K_USER, R_ANY, api_changes_list},
    {"GET", "/api/v1/change-requests/#", K_USER, R_ANY, api_changes_get},
    {"POST", "/api/v1/change-requests/#/transition", K_USER, R_ADMIN | R_POLICE, api_changes_transition},
    {"POST", "/api/v1/change-requests/#/comments", K_USER, R_ADMIN | R_OFFICER | R_POLICE, api_changes_comment},
    {"GET", "/api/v1/bulletins", K_USER, R_ANY, api_bulletins_list},
    {"POST", "/api/v1/bulletins", K_USER, R_ADMIN, api_bulletins_create},
    {"POST", "/api/v1/bulletins/#/ack", K_USER, R_ANY, api_bulletins_ack},
    {"GET", "/api/v1/bulletins/#/acks", K_USER, R_ADMIN | R_OFFICER | R_AUDITOR, api_bulletins_acks},
    {"GET", "/api/v1/audit-log", K_USER, R_ADMIN | R_AUDITOR, api_audit_log},
    {"GET", "/api/v1/compliance", K_USER, R_ADMIN | R_OFFICER | R_AUDITOR, api_compliance},
    {"GET", "/api/v1/settings", K_USER, R_ANY, api_settings_get},
    {"PUT", "/api/v1/settings", K_USER, R_ADMIN, api_settings_update},
    {"GET", "/api/v1/bundles", K_USER, R_ADMIN | R_AUDITOR, api_bundles_list},
    {"POST", "/api/v1/bundles", K_USER, R_ADMIN, api_bundles_create},
};

/* ---- small helpers ---------------------------------------------------- */

void kh_iso_time(char out[32], time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void kh_iso_now(char out[32])
{
    kh_iso_time(out, time(NULL));
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

time_t kh_iso_parse(const char *s)
{
    int y, mo, d, h, mi, se;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6 || mo < 1 || mo > 12 || d < 1 ||
        d > 31)
        return 0;
    return (time_t)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se);
}

void kh_req_reply(kh_req *r, int status, const char *content_type, const char *headers, const void *body, size_t len)
{
    if (r->replied)
        return;
    r->replied = 1;
    r->status = status;
    kh_http_reply(r->c, status, content_type, headers, body, len);
}

void kh_reply_json(kh_req *r, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(v);
    if (!s) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        kh_req_reply(r, 500, "application/json", NULL, oom, sizeof(oom) - 1);
        return;
    }
    kh_req_reply(r, status, "application/json; charset=utf-8", NULL, s, strlen(s));
    free(s);
}

void kh_req_json(kh_req *r, int status, json_t *v)
{
    kh_reply_json(r, status, v);
}

void kh_reply_error(kh_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kh_reply_json(r, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

void kh_req_error(kh_req *r, int status, const char *code, const char *message)
{
    kh_reply_error(r, status, code, "%s", message);
}

void kh_reply_nocontent(kh_req *r)
{
    kh_req_reply(r, 204, "application/json", NULL, "", 0);
}

void kh_reply_store_error(kh_req *r, int rc)
{
    if (rc == KH_EINVAL)
        kh_reply_error(r, 409, "conflict", "xung đột dữ liệu (trùng hoặc đang được dùng) / conflict (duplicate or in use)");
    else
        kh_reply_error(r, 500, "internal", "lỗi cơ sở dữ liệu / database error: %s", kh_store_errmsg(r->srv->st));
}

int kh_req_body(kh_req *r, size_t max)
{
    char *b = NULL;
    size_t n = 0;
    int rc = kh_http_read_body(r->c, &b, &n, max);
    if (rc == KH_ELIMIT) {
        kh_reply_error(r, 413, "too_large", "nội dung quá lớn (tối đa %zu byte) / body too large (limit %zu bytes)", max,
                       max);
        return -1;
    }
    if (rc < 0) {
        kh_reply_error(r, 400, "bad_request", "không đọc được nội dung / cannot read the body");
        return -1;
    }
    json_error_t je;
    json_t *v = json_loadb(b, n, JSON_REJECT_DUPLICATES, &je);
    free(b);
    if (!v) {
        kh_reply_error(r, 400, "bad_request", "JSON không hợp lệ / malformed JSON: %s (line %d, column %d)", je.text,
                       je.line, je.column);
        return -1;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        kh_reply_error(r, 400, "bad_request", "cần một đối tượng JSON / a JSON object is expected");
        return -1;
    }
    r->body = v;
    return 0;
}

static int utf8_len_ok(const char *s, size_t maxlen)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80)
            n++;
    return n <= maxlen;
}

int kh_field_str(kh_req *r, const char *name, int required, size_t maxlen, const char **out)
{
    json_t *v = r->body ? json_object_get(r->body, name) : NULL;
    if (!v || json_is_null(v)) {
        if (required) {
            kh_reply_error(r, 400, "bad_request", "thiếu trường '%s' / field '%s' is required", name, name);
            return -1;
        }
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v)) {
        kh_reply_error(r, 400, "bad_request", "trường '%s' phải là chuỗi / field '%s' must be a string", name, name);
        return -1;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        kh_reply_error(r, 400, "bad_request", "trường '%s' chứa ký tự NUL / field '%s' contains NUL", name, name);
        return -1;
    }
    if (!utf8_len_ok(s, maxlen) || (required && !*s)) {
        kh_reply_error(r, 400, "bad_request", "trường '%s' rỗng hoặc quá dài (tối đa %zu) / field '%s' empty or too long (max %zu)",
                       name, maxlen, name, maxlen);
        return -1;
    }
    *out = s;
    return 0;
}

int kh_field_int(kh_req *r, const char *name, int required, int64_t lo, int64_t hi, int64_t *out, int *present)
{
    json_t *v = r->body ? json_object_get(r->body, name) : NULL;
    if (present)
        *present = 0;
    if (!v || json_is_null(v)) {
        if (required) {
            kh_reply_error(r, 400, "bad_request", "thiếu trường '%s' / field '%s' is required", name, name);
            return -1;
        }
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        kh_reply_error(r, 400, "bad_request", "trường '%s' phải là số nguyên %lld..%lld / field '%s' must be an integer %lld..%lld",
                       name, (long long)lo, (long long)hi, name, (long long)lo, (long long)hi);
        return -1;
    }
    *out = json_integer_value(v);
    if (present)
        *present = 1;
    return 0;
}

int kh_field_bool(kh_req *r, const char *name, int *out, int *present)
{
    json_t *v = r->body ? json_object_get(r->body, name) : NULL;
    *present = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        kh_reply_error(r, 400, "bad_request", "trường '%s' phải là true/false / field '%s' must be a boolean", name, name);
        return -1;
    }
    *out = json_is_true(v);
    *present = 1;
    return 0;
}

int kh_req_qint(kh_req *r, const char *name, int64_t *out)
{
    char buf[32];
    int n = kh_http_query_get(r->c, name, buf, sizeof(buf));
    if (n == -1)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = n > 0 ? strtoll(buf, &end, 10) : 0;
    if (n <= 0 || errno || !end || *end || v < 0) {
        kh_reply_error(r, 400, "bad_request", "tham số '%s' phải là số nguyên không âm / parameter '%s' must be a non-negative integer",
                       name, name);
        return -1;
    }
    *out = v;
    return 1;
}

int kh_req_qstr(kh_req *r, const char *name, char *buf, size_t size)
{
    int n = kh_http_query_get(r->c, name, buf, size);
    if (n == -1)
        return 0;
    if (n < 0) {
        kh_reply_error(r, 400, "bad_request", "tham số '%s' quá dài / parameter '%s' too long", name, name);
        return -1;
    }
    return 1;
}

int kh_req_page(kh_req *r, int64_t *limit, int64_t *offset)
{
    *limit = 50;
    *offset = 0;
    int a = kh_req_qint(r, "limit", limit), b = a < 0 ? -1 : kh_req_qint(r, "offset", offset);
    if (a < 0 || b < 0)
        return -1;
    if (*limit < 1 || *limit > 500) {
        kh_reply_error(r, 400, "bad_request", "limit phải trong 1..500 / limit must be 1..500");
        return -1;
    }
    if (*offset > 100000000) {
        kh_reply_error(r, 400, "bad_request", "offset quá lớn / offset too large");
        return -1;
    }
    return 0;
}

json_t *kh_page_json(json_t *items, int64_t total, int64_t limit, int64_t offset)
{
    return json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total", (json_int_t)total, "limit", (json_int_t)limit,
                     "offset", (json_int_t)offset);
}

void kh_audit(kh_req *r, const char *action, const char *object, const char *detail)
{
    char now[32];
    kh_iso_now(now);
    const char *user = r->has_user ? r->user.username : (r->host_id ? "agent" : NULL);
    char hostuser[32];
    if (!r->has_user && r->host_id) {
        snprintf(hostuser, sizeof(hostuser), "host-%lld", (long long)r->host_id);
        user = hostuser;
    }
    kh_sval p[] = {KH_SV_S(now), KH_SV_S(user), KH_SV_S(kh_http_remote_addr(r->c)), KH_SV_S(action), KH_SV_S(object),
                   KH_SV_S(detail)};
    kh_store_exec(r->srv->st, NULL, "INSERT INTO audit_log (time, \"user\", ip, action, object, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                  p, 6);
}

/* ---- accessors for extra routes ----------------------------------------- */

const char *kh_req_method(const kh_req *r)
{
    return kh_http_method(r->c);
}

const char *kh_req_path(const kh_req *r)
{
    return kh_http_path(r->c);
}

const char *kh_req_header(const kh_req *r, const char *name)
{
    return kh_http_header(r->c, name);
}

int kh_req_query(const kh_req *r, const char *name, char *buf, size_t size)
{
    return kh_http_query_get(r->c, name, buf, size);
}

const kh_user *kh_req_user(const kh_req *r)
{
    return r->has_user ? &r->user : NULL;
}

const char *kh_server_ca_sha256(const kh_server *s)
{
    return s->ca_sha256;
}

const char *kh_server_url(const kh_server *s)
{
    return s->url;
}

int kh_server_route_add(kh_server *s, const char *method, const char *prefix, unsigned flags, kh_route_fn fn,
                        void *payload)
{
    if (!s || !prefix || prefix[0] != '/' || strlen(prefix) >= sizeof(s->routes[0].prefix) || !fn ||
        strncmp(prefix, "/api/", 5) == 0 || (method && strlen(method) >= sizeof(s->routes[0].method)))
        return KH_EINVAL;
    if (s->nroutes >= KH_MAX_ROUTES)
        return KH_ELIMIT;
    kh_extra_route *e = &s->routes[s->nroutes++];
    snprintf(e->method, sizeof(e->method), "%s", method ? method : "");
    snprintf(e->prefix, sizeof(e->prefix), "%s", prefix);
    e->flags = flags;
    e->fn = fn;
    e->payload = payload;
    return 0;
}

/* ---- routing ------------------------------------------------------------- */

/* Matches path against pattern, filling r's captures. */
static int match(kh_req *r, const char *pattern, const char *path)
{
    r->nids = r->nnames = 0;
    const char *p = pattern, *q = path;
    while (*p && *q) {
        if (*p == '#') {
            const char *e = q;
            int64_t v = 0;
            while (*e >= '0' && *e <= '9') {
                if (v > 100000000000LL)
                    return 0;
                v = v * 10 + (*e - '0');
                e++;
            }
            if (e == q || (*e && *e != '/') || v <= 0 || r->nids >= 4)
                return 0;
            r->ids[r->nids++] = v;
            p++;
            q = e;
        } else if (*p == '*') {
            const char *e = q;
            while (*e && *e != '/')
                e++;
            size_t n = (size_t)(e - q);
            if (n == 0 || n >= sizeof(r->names[0]) || r->nnames >= 2)
                return 0;
            memcpy(r->names[r->nnames], q, n);
            r->names[r->nnames][n] = 0;
            r->nnames++;
            p++;
            q = e;
        } else {
            if (*p != *q)
                return 0;
            p++;
            q++;
        }
    }
    if (*q == '/' && q[1] == 0) /* tolerate one trailing slash */
        q++;
    return *p == 0 && *q == 0;
}

static unsigned role_bit(const char *role)
{
    if (strcmp(role, "admin") == 0)
        return R_ADMIN;
    if (strcmp(role, "officer") == 0)
        return R_OFFICER;
    if (strcmp(role, "police") == 0)
        return R_POLICE;
    if (strcmp(role, "auditor") == 0)
        return R_AUDITOR;
    return 0;
}

static int state_changing(const char *m)
{
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

static int user_gate(kh_req *r, unsigned roles)
{
    if (kh_auth_session(r) < 0) {
        kh_reply_error(r, 401, "unauthorized", "chưa đăng nhập hoặc phiên đã hết hạn / not logged in or session expired");
        return -1;
    }
    r->role_bit = role_bit(r->user.role);
    if (state_changing(kh_http_method(r->c)) && kh_auth_csrf(r) < 0) {
        kh_reply_error(r, 403, "forbidden", "thiếu hoặc sai mã CSRF (X-CSRF-Token) / missing or wrong CSRF token (X-CSRF-Token)");
        return -1;
    }
    if (roles && !(r->role_bit & roles)) {
        kh_reply_error(r, 403, "forbidden", "vai trò '%s' không được phép / role '%s' is not allowed to do this", r->user.role,
                       r->user.role);
        return -1;
    }
    return 0;
}

static void dispatch(kh_http_conn *c, void *payload)
{
    kh_req r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.srv = payload;
    const char *method = kh_http_method(c), *path = kh_http_path(c);
    if (strlen(path) > 1024) {
        kh_reply_error(&r, 414, "bad_request", "đường dẫn quá dài / path too long");
        return;
    }
    if (strncmp(path, "/api/", 5) == 0) {
        if (strcmp(path, "/api/v1/health") == 0) {
            kh_reply_json(&r, 200, json_pack("{s:s, s:s}", "status", "ok", "version", KH_VERSION_STRING));
            return;
        }
        int path_matched = 0;
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
            if (!match(&r, routes[i].pattern, path))
                continue;
            path_matched = 1;
            if (strcmp(routes[i].method, method) != 0)
                continue;
            if (routes[i].kind == K_AGENT) {
                if (kh_agent_identify(&r) < 0)
                    goto done;
            } else if (routes[i].kind == K_USER) {
                if (user_gate(&r, routes[i].roles) < 0)
                    goto done;
            }
            routes[i].fn(&r);
            goto done;
        }
        if (path_matched)
            kh_reply_error(&r, 405, "bad_request", "phương thức %s không dùng được ở đây / method %s not allowed here",
                           method, method);
        else
            kh_reply_error(&r, 404, "not_found", "không có API này / no such API endpoint");
        goto done;
    }
    /* extra routes: longest matching prefix */
    kh_extra_route *best = NULL;
    for (size_t i = 0; i < r.srv->nroutes; i++) {
        kh_extra_route *e = &r.srv->routes[i];
        if (e->method[0] && strcmp(e->method, method) != 0)
            continue;
        if (strncmp(path, e->prefix, strlen(e->prefix)) == 0 && (!best || strlen(e->prefix) > strlen(best->prefix)))
            best = e;
    }
    if (!best) {
        if (strcmp(path, "/") == 0) {
            static const char page[] = "<!doctype html><meta charset=utf-8><title>Khiên</title>"
                                       "<p>Khiên: trung tâm / centre. API: /api/v1/</p>";
            kh_req_reply(&r, 200, "text/html; charset=utf-8", NULL, page, sizeof(page) - 1);
        } else {
            kh_reply_error(&r, 404, "not_found", "không tìm thấy / not found");
        }
        goto done;
    }
    if (best->flags & KH_ROUTE_SESSION) {
        if (user_gate(&r, 0) < 0)
            goto done;
    } else {
        (void)kh_auth_session(&r); /* who is calling, if anyone */
        r.role_bit = r.has_user ? role_bit(r.user.role) : 0;
    }
    best->fn(&r, best->payload);
done:
    json_decref(r.body);
}

/* ---- the data folder ------------------------------------------------------ */

static int write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
    char path[1200];
    if (kh_platform_path_join(path, sizeof(path), dir, name) < 0)
        return KH_ELIMIT;
    return kh_platform_write_durable(path, data, len, (unsigned)mode);
}

static char *read_file(const char *dir, const char *name, size_t max)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = malloc(max + 1);
    size_t n = b ? fread(b, 1, max + 1, f) : 0;
    fclose(f);
    if (!b || n > max) {
        free(b);
        return NULL;
    }
    b[n] = 0;
    return b;
}

static int file_exists(const char *dir, const char *name)
{
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

static int init_keys(kh_server *s, int fresh, char *err, size_t errsz)
{
    if (fresh || !file_exists(s->dir, "ca.pem")) {
        char *k = NULL, *c = NULL;
        int rc = kh_pki_ca_create(&k, &c, "Khien CA", 3650, err, errsz);
        if (rc < 0)
            return rc;
        if (write_file(s->dir, "ca.key", k, strlen(k), 0600) < 0 || write_file(s->dir, "ca.pem", c, strlen(c), 0644) < 0) {
            free(k);
            free(c);
            snprintf(err, errsz, "không ghi được / cannot write the CA into %s", s->dir);
            return KH_EIO;
        }
        free(k);
        free(c);
    }
    s->ca_key = read_file(s->dir, "ca.key", KH_PKI_PEM_MAX);
    s->ca_cert = read_file(s->dir, "ca.pem", KH_PKI_PEM_MAX);
    if (!s->ca_key || !s->ca_cert || kh_pki_cert_sha256(s->ca_sha256, s->ca_cert, err, errsz) < 0) {
        snprintf(err, errsz, "không đọc được CA / cannot read the CA (ca.key, ca.pem) in %s", s->dir);
        return KH_EIO;
    }
    if (fresh || !file_exists(s->dir, "bundle.key")) {
        uint8_t pk[KH_SIGN_PK_BYTES], sk[KH_SIGN_SK_BYTES];
        char hex[2 * KH_SIGN_SK_BYTES + 2];
        if (kh_sign_keypair(pk, sk) < 0)
            return KH_EINTERNAL;
        kh_sign_bin2hex(hex, sk, sizeof(sk));
        strcat(hex, "\n");
        if (write_file(s->dir, "bundle.key", hex, strlen(hex), 0600) < 0)
            return KH_EIO;
        kh_sign_bin2hex(hex, pk, sizeof(pk));
        strcat(hex, "\n");
        if (write_file(s->dir, "bundle.pub", hex, strlen(hex), 0644) < 0)
            return KH_EIO;
    }
    char *hex = read_file(s->dir, "bundle.key", 512);
    if (!hex) {
        snprintf(err, errsz, "không đọc được khóa ký / cannot read bundle.key in %s", s->dir);
        return KH_EIO;
    }
    hex[strcspn(hex, "\r\n")] = 0;
    int rc = kh_sign_hex2bin(s->bundle_sk, sizeof(s->bundle_sk), hex);
    free(hex);
    if (rc < 0) {
        snprintf(err, errsz, "khóa ký hỏng / damaged bundle.key in %s", s->dir);
        return KH_EFORMAT;
    }
    kh_sign_sk_to_pk(s->bundle_pk, s->bundle_sk);
    kh_sign_bin2hex(s->bundle_pk_hex, s->bundle_pk, sizeof(s->bundle_pk));
    return 0;
}

/* The server certificate for this start (names: localhost, loopback, the listen host, the host name). */
static int init_server_cert(kh_server *s, char *err, size_t errsz)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", s->listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
    char *h = host;
    if (*h == '[') {
        h++;
        h[strcspn(h, "]")] = 0;
    }
    char hn[256] = "";
    gethostname(hn, sizeof(hn) - 1);
    const char *names[5];
    size_t n = 0;
    names[n++] = "localhost";
    names[n++] = "127.0.0.1";
    names[n++] = "::1";
    if (*h && strcmp(h, "localhost") && strcmp(h, "127.0.0.1") && strcmp(h, "::1") && strcmp(h, "0.0.0.0") && strcmp(h, "::"))
        names[n++] = h;
    if (hn[0] && strcmp(hn, "localhost") && !strpbrk(hn, ", \t"))
        names[n++] = hn;
    char *k = NULL, *c = NULL;
    int rc = kh_pki_server_cert_create(&k, &c, s->ca_key, s->ca_cert, *h && strcmp(h, "0.0.0.0") ? h : "localhost",
                                       names, n, 825, err, errsz);
    if (rc < 0)
        return rc;
    rc = write_file(s->dir, "server.key", k, strlen(k), 0600);
    if (rc == 0)
        rc = write_file(s->dir, "server.crt", c, strlen(c), 0644);
    free(k);
    free(c);
    if (rc < 0)
        snprintf(err, errsz, "không ghi được chứng thư máy chủ / cannot write server.key/server.crt in %s", s->dir);
    return rc;
}

int kh_server_create(kh_server **out, const kh_server_options *o, kh_server_first_start *first, char *err,
                     size_t errsz)
{
    if (!out || !o || o->version != KH_SERVER_OPTIONS_VERSION || !o->data_dir || !*o->data_dir || !first)
        return KH_EINVAL;
    memset(first, 0, sizeof(*first));
    if (strlen(o->data_dir) > 900) {
        snprintf(err, errsz, "đường dẫn quá dài / data folder path too long");
        return KH_EINVAL;
    }
    if (kh_sign_init() < 0)
        return KH_EINTERNAL;
    kh_server *s = calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    snprintf(s->dir, sizeof(s->dir), "%s", o->data_dir);
    snprintf(s->listen, sizeof(s->listen), "%s", o->listen ? o->listen : "127.0.0.1:8443");
    s->threads = o->threads;
    if (o->public_url)
        snprintf(s->url, sizeof(s->url), "%s", o->public_url);
    else
        snprintf(s->url, sizeof(s->url), "https://%s", s->listen);
    int rc;
    struct stat sb;
    int fresh = 0;
    if (stat(s->dir, &sb) != 0) {
        if (mkdir(s->dir, 0700) != 0) {
            snprintf(err, errsz, "không tạo được thư mục / cannot create %s: %s", s->dir, strerror(errno));
            rc = KH_EIO;
            goto fail;
        }
        fresh = 1;
    } else if (!S_ISDIR(sb.st_mode)) {
        snprintf(err, errsz, "%s không phải thư mục / is not a folder", s->dir);
        rc = KH_EINVAL;
        goto fail;
    } else if (sb.st_mode & 077) {
        snprintf(err, errsz,
                 "thư mục dữ liệu phải riêng tư (chmod 700) / the data folder %s must be private (chmod 700): it holds the CA key",
                 s->dir);
        rc = KH_EACCES;
        goto fail;
    } else if (!o->database && !file_exists(s->dir, "khien.db")) {
        fresh = 1;
    }
    if ((rc = init_keys(s, fresh, err, errsz)) < 0)
        goto fail;
    char dbpath[1200];
    snprintf(dbpath, sizeof(dbpath), "%s/khien.db", s->dir);
    const char *db = o->database ? o->database : dbpath;
    if ((rc = kh_store_open(&s->st, kh_store_backend_for(db), db, err, errsz)) < 0)
        goto fail;
    if ((rc = kh_ingest_create(&s->ingest, s->st)) < 0)
        goto fail;
    int64_t nusers = 0;
    if ((rc = kh_store_query_int(s->st, &nusers, "SELECT COUNT(*) FROM users", NULL, 0)) < 0)
        goto fail;
    if (nusers == 0) {
        if ((rc = kh_auth_first_admin(s, first->admin_user, sizeof(first->admin_user), first->admin_password,
                                      sizeof(first->admin_password))) < 0) {
            snprintf(err, errsz, "không tạo được quản trị viên / cannot create the first administrator: %s",
                     kh_store_errmsg(s->st));
            goto fail;
        }
        first->created = 1;
    }
    if ((rc = init_server_cert(s, err, errsz)) < 0)
        goto fail;
    if ((rc = kh_ui_register(s)) < 0) {
        snprintf(err, errsz, "giao diện web lỗi / web UI routes failed: %s", kh_strerror(rc));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    kh_server_destroy(s);
    return rc;
}

int kh_server_start(kh_server *s, char *err, size_t errsz)
{
    char cert[1200], key[1200], ca[1200];
    snprintf(cert, sizeof(cert), "%s/server.crt", s->dir);
    snprintf(key, sizeof(key), "%s/server.key", s->dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", s->dir);
    kh_http_server_options o = KH_HTTP_SERVER_OPTIONS_INIT;
    o.listen = s->listen;
    o.cert_file = cert;
    o.key_file = key;
    o.ca_file = ca;
    o.threads = s->threads;
    int rc = kh_http_server_start(&s->http, &o, dispatch, s, err, errsz);
    if (rc == 0 && (rc = kh_forwarder_start(&s->fwd, s, err, errsz)) < 0) {
        kh_http_server_stop(s->http);
        s->http = NULL;
    }
    return rc;
}

void kh_server_destroy(kh_server *s)
{
    if (!s)
        return;
    kh_forwarder_stop(s->fwd);
    kh_http_server_stop(s->http);
    kh_ingest_destroy(s->ingest);
    kh_store_close(s->st);
    free(s->ca_key);
    free(s->ca_cert);
    memset(s->bundle_sk, 0, sizeof(s->bundle_sk));
    free(s);
}
