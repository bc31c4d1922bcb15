/* Khiên — server/auth: people: logins, sessions, CSRF, second factor, scope.
 *
 * Passwords are argon2id hashes (net/sign.c). A login that fails five times
 * in a row locks the account for 15 minutes; every attempt, good or bad,
 * is written to the audit log with the caller's address. A session is a
 * 256-bit random token in an HttpOnly, Secure, SameSite=Strict cookie; the
 * database keeps only its SHA-256, so a copy of the database cannot be
 * replayed as a login. Each session has its own CSRF token that
 * state-changing requests must echo in X-CSRF-Token. Sessions end after 8
 * idle hours or 24 hours in all.
 *
 * Scope: an officer sees the units under its own (recursive query over
 * units.parent_id); the other roles see every unit and are limited by the
 * route table instead (police: incidents and change requests; auditor:
 * reads only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"
#include "server/server_int.h"
#include "server/totp.h"

#define COOKIE "khien_session"

static void gen_password(char *out, size_t size)
{
    static const char al[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t raw[20];
    kh_sign_random(raw, sizeof(raw));
    size_t n = size - 1 < 20 ? size - 1 : 20;
    for (size_t i = 0; i < n; i++)
        out[i] = al[raw[i] % (sizeof(al) - 1)];
    out[n] = 0;
}

int kh_auth_first_admin(kh_server *s, char *user, size_t usz, char *password, size_t psz)
{
    char now[32], hash[KH_SIGN_PWHASH_MAX];
    kh_iso_now(now);
    gen_password(password, psz);
    if (kh_sign_password_hash(hash, password) < 0)
        return KH_EINTERNAL;
    snprintf(user, usz, "admin");
    int rc = kh_store_begin(s->st);
    if (rc < 0)
        return rc;
    int64_t unit = 0;
    if (kh_store_query_int(s->st, &unit, "SELECT id FROM units WHERE parent_id IS NULL ORDER BY id LIMIT 1", NULL, 0) < 0) {
        kh_sval p[] = {KH_SV_S("Thành phố / City"), KH_SV_S(now)};
        rc = kh_store_exec(s->st, &unit, "INSERT INTO units (parent_id, name, kind, created_at) VALUES (NULL, ?1, 'city', ?2)",
                           p, 2);
    }
    if (rc >= 0) {
        kh_sval p[] = {KH_SV_S(user), KH_SV_I(unit), KH_SV_S(hash), KH_SV_S(now)};
        rc = kh_store_exec(s->st, NULL,
                           "INSERT INTO users (username, full_name, role, unit_id, pw_hash, must_change, created_at)"
                           " VALUES (?1, 'Quản trị viên / Administrator', 'admin', ?2, ?3, 1, ?4)",
                           p, 4);
    }
    if (rc >= 0) {
        kh_sval p[] = {KH_SV_S(now)};
        rc = kh_store_exec(s->st, NULL,
                           "INSERT INTO audit_log (time, \"user\", action, object, detail) VALUES (?1, 'system', 'create', 'user:admin', 'first start')",
                           p, 1);
    }
    if (rc < 0) {
        kh_store_rollback(s->st);
        return rc;
    }
    return kh_store_commit(s->st);
}

static int cookie_token(kh_req *r, char out[65])
{
    const char *h = kh_http_header(r->c, "Cookie");
    if (!h)
        return -1;
    const char *p = h;
    while ((p = strstr(p, COOKIE "=")) != NULL) {
        if (p == h || p[-1] == ' ' || p[-1] == ';') {
            p += strlen(COOKIE) + 1;
            size_t n = strspn(p, "0123456789abcdef");
            if (n != 64)
                return -1;
            memcpy(out, p, 64);
            out[64] = 0;
            return 0;
        }
        p++;
    }
    return -1;
}

int kh_auth_session(kh_req *r)
{
    char tok[65], id[65];
    if (cookie_token(r, tok) < 0)
        return -1;
    kh_sign_sha256_hex(id, tok, 64);
    time_t now = time(NULL);
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_S(id), KH_SV_I(now), KH_SV_I(now - KH_SESSION_IDLE)};
    if (kh_store_query_one(r->srv->st, &row,
                           "SELECT s.csrf, u.id, u.username, u.role, u.unit_id FROM sessions s JOIN users u ON u.id = s.user_id"
                           " WHERE s.id = ?1 AND s.expires > ?2 AND s.last_seen > ?3 AND u.disabled = 0",
                           p, 3) < 0)
        return -1;
    r->has_user = 1;
    r->user.id = json_integer_value(json_object_get(row, "id"));
    snprintf(r->user.username, sizeof(r->user.username), "%s", json_string_value(json_object_get(row, "username")));
    snprintf(r->user.role, sizeof(r->user.role), "%s", json_string_value(json_object_get(row, "role")));
    r->user.unit_id = json_integer_value(json_object_get(row, "unit_id"));
    snprintf(r->csrf, sizeof(r->csrf), "%s", json_string_value(json_object_get(row, "csrf")));
    snprintf(r->session_id, sizeof(r->session_id), "%s", id);
    json_decref(row);
    kh_sval u[] = {KH_SV_I(now), KH_SV_S(id)};
    kh_store_exec(r->srv->st, NULL, "UPDATE sessions SET last_seen = ?1 WHERE id = ?2 AND last_seen < ?1 - 30", u, 2);
    return 0;
}

int kh_auth_csrf(kh_req *r)
{
    const char *h = kh_http_header(r->c, "X-CSRF-Token");
    return h && r->csrf[0] && kh_sign_streq(h, r->csrf) ? 0 : -1;
}

const char *kh_scope(kh_req *r, const char *col, char *buf, size_t size, kh_sval *p, size_t *n)
{
    if (!r->has_user || strcmp(r->user.role, "officer") != 0) {
        snprintf(buf, size, "1=1");
        return buf;
    }
    p[*n] = KH_SV_I(r->user.unit_id); /* bound, never pasted into the SQL text */
    (*n)++;
    int w = snprintf(buf, size, "%s IN " KH_SQL_SUBTREE("?%zu"), col, *n);
    if (w < 0 || (size_t)w >= size)
        snprintf(buf, size, "1=0"); /* never wider than the caller's units */
    return buf;
}

int kh_unit_in_scope(kh_req *r, int64_t unit_id)
{
    char sc[400], sql[600];
    kh_sval p[2] = {KH_SV_I(unit_id)};
    size_t n = 1;
    kh_scope(r, "id", sc, sizeof(sc), p, &n);
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM units WHERE id = ?1 AND %s", sc);
    int64_t cnt = 0;
    return kh_store_query_int(r->srv->st, &cnt, sql, p, n) == 0 && cnt > 0;
}

static json_t *user_json(kh_req *r, int64_t id)
{
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(id)};
    if (kh_store_query_one(r->srv->st, &row,
                           "SELECT id, username, full_name, email, phone, role, unit_id, must_change AS must_change_password_bool,"
                           " totp_enabled AS totp_enabled_bool, disabled AS disabled_bool FROM users WHERE id = ?1",
                           p, 1) < 0)
        return NULL;
    return row;
}

/* Recovery codes: JSON array of SHA-256 hex of unused codes. */
static int use_recovery(kh_req *r, int64_t uid, const char *recovery_json, const char *code)
{
    if (!recovery_json || !code)
        return 0;
    json_t *arr = json_loads(recovery_json, 0, NULL);
    char h[65];
    kh_sign_sha256_hex(h, code, strlen(code));
    size_t i;
    json_t *v;
    int ok = 0;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && kh_sign_streq(json_string_value(v), h)) {
            json_array_remove(arr, i);
            ok = 1;
            break;
        }
    }
    if (ok) {
        char *s = json_dumps(arr, JSON_COMPACT);
        kh_sval p[] = {KH_SV_S(s), KH_SV_I(uid)};
        kh_store_exec(r->srv->st, NULL, "UPDATE users SET recovery_json = ?1 WHERE id = ?2", p, 2);
        free(s);
    }
    json_decref(arr);
    return ok;
}

/* Counts a failed login in the database itself, in one statement (failed
 * + 1, or, on reaching KH_LOCK_FAILS, the lock and a count back at 0), so
 * that parallel attempts can neither overwrite each other's count and slip
 * past the lockout nor both report it: the attempt that locks the account
 * is the one whose update leaves the count at 0, and only it records the
 * lockout. */
static void login_failed(kh_req *r, int64_t uid, const char *username, const char *why)
{
    time_t now = time(NULL);
    if (uid) {
        kh_sval p[] = {KH_SV_I(uid), KH_SV_I(now + KH_LOCK_SECONDS), KH_SV_I(KH_LOCK_FAILS)};
        json_t *row = NULL;
        if (kh_store_query_one(r->srv->st, &row,
                               "UPDATE users SET failed = CASE WHEN failed + 1 >= ?3 THEN 0 ELSE failed + 1 END, "
                               "locked_until = CASE WHEN failed + 1 >= ?3 THEN ?2 ELSE locked_until END "
                               "WHERE id = ?1 RETURNING failed",
                               p, 3) == 0 &&
            json_integer_value(json_object_get(row, "failed")) == 0)
            kh_audit(r, "lockout", username, "account locked for 15 minutes after repeated failures");
        json_decref(row);
    }
    kh_audit(r, "login_failed", username, why);
}

void api_login(kh_req *r)
{
    if (kh_req_body(r, 16384) < 0)
        return;
    const char *username, *password, *totp;
    if (kh_field_str(r, "username", 1, 64, &username) < 0 || kh_field_str(r, "password", 1, KH_SIGN_PASSWORD_MAX, &password) < 0 ||
        kh_field_str(r, "totp", 0, 64, &totp) < 0)
        return;
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_S(username)};
    int rc = kh_store_query_one(r->srv->st, &row,
                                "SELECT id, pw_hash, disabled, failed, locked_until, totp_enabled, totp_secret, recovery_json AS recovery_text"
                                " FROM users WHERE username = ?1",
                                p, 1);
    time_t now = time(NULL);
    if (rc < 0) {
        /* same work as a real check, so that timing does not reveal which names exist */
        kh_sign_password_verify("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
                                "2Zq0wv6wJz0bdxKx3hCqUxGJ5mCw2m6xJ1sKqvJm6X8",
                                password);
        login_failed(r, 0, username, "unknown user");
        kh_reply_error(r, 401, "unauthorized", "sai tên đăng nhập hoặc mật khẩu / wrong user name or password");
        return;
    }
    int64_t uid = json_integer_value(json_object_get(row, "id"));
    if (json_integer_value(json_object_get(row, "locked_until")) > now) {
        kh_audit(r, "login_failed", username, "account locked");
        kh_reply_error(r, 423, "locked", "tài khoản tạm khóa do nhập sai nhiều lần, thử lại sau 15 phút / account locked after repeated failures, try again in 15 minutes");
        goto done;
    }
    if (kh_sign_password_verify(json_string_value(json_object_get(row, "pw_hash")), password) != 0) {
        login_failed(r, uid, username, "wrong password");
        kh_reply_error(r, 401, "unauthorized", "sai tên đăng nhập hoặc mật khẩu / wrong user name or password");
        goto done;
    }
    if (json_integer_value(json_object_get(row, "disabled"))) {
        kh_audit(r, "login_failed", username, "account disabled");
        kh_reply_error(r, 401, "unauthorized", "tài khoản đã bị vô hiệu hóa / account disabled");
        goto done;
    }
    if (json_integer_value(json_object_get(row, "totp_enabled"))) {
        if (!totp || !*totp) {
            kh_reply_error(r, 401, "totp_required", "cần mã xác thực hai lớp / a second-factor code is required");
            goto done;
        }
        /* a TOTP code is accepted once: its time step must be newer than the last one used */
        uint64_t step = 0;
        int code_ok = kh_totp_check_step(json_string_value(json_object_get(row, "totp_secret")), totp, now, &step);
        if (code_ok) {
            kh_sval sp2[] = {KH_SV_I((int64_t)step), KH_SV_I(uid)};
            code_ok = kh_store_exec(r->srv->st, NULL,
                                    "UPDATE users SET totp_last_step = ?1 WHERE id = ?2 AND totp_last_step < ?1", sp2, 2) == 1;
        }
        if (!code_ok && !use_recovery(r, uid, json_string_value(json_object_get(row, "recovery_text")), totp)) {
            login_failed(r, uid, username, "wrong second-factor code");
            kh_reply_error(r, 401, "unauthorized", "sai mã xác thực hai lớp / wrong second-factor code");
            goto done;
        }
    }
    char tok[65], id[65], csrf[65];
    if (kh_sign_random_hex(tok, 32) < 0 || kh_sign_random_hex(csrf, 32) < 0) {
        kh_reply_error(r, 500, "internal", "random");
        goto done;
    }
    kh_sign_sha256_hex(id, tok, 64);
    kh_sval sp[] = {KH_SV_S(id), KH_SV_I(uid), KH_SV_S(csrf), KH_SV_I(now), KH_SV_I(now + KH_SESSION_ABS),
                    KH_SV_S(kh_http_remote_addr(r->c))};
    if ((rc = kh_store_exec(r->srv->st, NULL,
                            "INSERT INTO sessions (id, user_id, csrf, created, last_seen, expires, ip) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
                            sp, 6)) < 0) {
        kh_reply_store_error(r, rc);
        goto done;
    }
    kh_sval up[] = {KH_SV_I(uid), KH_SV_I(now)};
    kh_store_exec(r->srv->st, NULL, "UPDATE users SET failed = 0, locked_until = 0 WHERE id = ?1", up, 1);
    kh_store_exec(r->srv->st, NULL, "DELETE FROM sessions WHERE expires < ?2 OR last_seen < ?2 - 28800", up, 2);
    r->has_user = 1;
    snprintf(r->user.username, sizeof(r->user.username), "%s", username);
    kh_audit(r, "login", username, NULL);
    char exp[32], hdr[256];
    kh_iso_time(exp, now + KH_SESSION_ABS);
    snprintf(hdr, sizeof(hdr), "Set-Cookie: " COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%d\r\n", tok,
             KH_SESSION_ABS);
    json_t *out = json_pack("{s:o, s:s, s:s}", "user", user_json(r, uid), "csrf_token", csrf, "expires", exp);
    char *body = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(out);
    kh_req_reply(r, 200, "application/json; charset=utf-8", hdr, body, body ? strlen(body) : 0);
    free(body);
done:
    json_decref(row);
}

void api_logout(kh_req *r)
{
    kh_sval p[] = {KH_SV_S(r->session_id)};
    kh_store_exec(r->srv->st, NULL, "DELETE FROM sessions WHERE id = ?1", p, 1);
    kh_audit(r, "logout", r->user.username, NULL);
    static const char hdr[] = "Set-Cookie: " COOKIE "=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0\r\n";
    kh_req_reply(r, 204, "application/json", hdr, "", 0);
}

void api_me(kh_req *r)
{
    kh_reply_json(r, 200, json_pack("{s:o, s:s}", "user", user_json(r, r->user.id), "csrf_token", r->csrf));
}

void api_me_password(kh_req *r)
{
    if (kh_req_body(r, 16384) < 0)
        return;
    const char *old, *nw;
    if (kh_field_str(r, "old_password", 1, KH_SIGN_PASSWORD_MAX, &old) < 0 ||
        kh_field_str(r, "new_password", 1, KH_SIGN_PASSWORD_MAX, &nw) < 0)
        return;
    if (strlen(nw) < 12) {
        kh_reply_error(r, 400, "bad_request", "mật khẩu mới cần ít nhất 12 ký tự / the new password needs at least 12 characters");
        return;
    }
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(r->user.id)};
    if (kh_store_query_one(r->srv->st, &row, "SELECT pw_hash FROM users WHERE id = ?1", p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "không có người dùng / no such user");
        return;
    }
    int ok = kh_sign_password_verify(json_string_value(json_object_get(row, "pw_hash")), old) == 0;
    json_decref(row);
    if (!ok) {
        kh_audit(r, "password_change_failed", r->user.username, "wrong old password");
        kh_reply_error(r, 403, "forbidden", "mật khẩu cũ không đúng / the old password is wrong");
        return;
    }
    char hash[KH_SIGN_PWHASH_MAX];
    kh_sign_password_hash(hash, nw);
    kh_sval u[] = {KH_SV_S(hash), KH_SV_I(r->user.id), KH_SV_S(r->session_id)};
    kh_store_exec(r->srv->st, NULL, "UPDATE users SET pw_hash = ?1, must_change = 0 WHERE id = ?2", u, 2);
    kh_store_exec(r->srv->st, NULL, "DELETE FROM sessions WHERE user_id = ?2 AND id <> ?3", u, 3);
    kh_audit(r, "update", r->user.username, "password changed");
    kh_reply_nocontent(r);
}

void api_totp_setup(kh_req *r)
{
    char secret[KH_TOTP_SECRET_B32];
    if (kh_totp_secret(secret) < 0) {
        kh_reply_error(r, 500, "internal", "random");
        return;
    }
    kh_sval p[] = {KH_SV_S(secret), KH_SV_I(r->user.id)};
    int rc = kh_store_exec(r->srv->st, NULL, "UPDATE users SET totp_secret = ?1 WHERE id = ?2 AND totp_enabled = 0", p, 2);
    if (rc == 0) {
        kh_reply_error(r, 409, "conflict", "đã bật xác thực hai lớp / the second factor is already on");
        return;
    }
    char uri[300];
    snprintf(uri, sizeof(uri), "otpauth://totp/Khien:%s?secret=%s&issuer=Khien&digits=6&period=30", r->user.username, secret);
    kh_audit(r, "update", r->user.username, "second factor setup started");
    kh_reply_json(r, 200, json_pack("{s:s, s:s}", "secret", secret, "otpauth_uri", uri));
}

void api_totp_confirm(kh_req *r)
{
    if (kh_req_body(r, 4096) < 0)
        return;
    const char *code;
    if (kh_field_str(r, "code", 1, 16, &code) < 0)
        return;
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(r->user.id)};
    if (kh_store_query_one(r->srv->st, &row, "SELECT totp_secret, totp_enabled FROM users WHERE id = ?1", p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "no such user");
        return;
    }
    const char *secret = json_string_value(json_object_get(row, "totp_secret"));
    if (!secret || json_integer_value(json_object_get(row, "totp_enabled"))) {
        json_decref(row);
        kh_reply_error(r, 409, "conflict", "chưa bắt đầu cài đặt hoặc đã bật / setup not started or already on");
        return;
    }
    if (!kh_totp_check(secret, code, time(NULL))) {
        json_decref(row);
        kh_reply_error(r, 400, "bad_request", "mã không đúng / wrong code");
        return;
    }
    json_decref(row);
    json_t *codes = json_array(), *hashes = json_array();
    for (int i = 0; i < 8; i++) {
        char hex[11], c[12], h[65];
        kh_sign_random_hex(hex, 5);
        snprintf(c, sizeof(c), "%.5s-%.5s", hex, hex + 5);
        kh_sign_sha256_hex(h, c, strlen(c));
        json_array_append_new(codes, json_string(c));
        json_array_append_new(hashes, json_string(h));
    }
    char *hs = json_dumps(hashes, JSON_COMPACT);
    json_decref(hashes);
    kh_sval u[] = {KH_SV_S(hs), KH_SV_I(r->user.id)};
    kh_store_exec(r->srv->st, NULL, "UPDATE users SET totp_enabled = 1, recovery_json = ?1 WHERE id = ?2", u, 2);
    free(hs);
    kh_audit(r, "update", r->user.username, "second factor enabled");
    kh_reply_json(r, 200, json_pack("{s:o}", "recovery_codes", codes));
}

void api_totp_disable(kh_req *r)
{
    if (kh_req_body(r, 16384) < 0)
        return;
    const char *pw;
    if (kh_field_str(r, "password", 1, KH_SIGN_PASSWORD_MAX, &pw) < 0)
        return;
    json_t *row = NULL;
    kh_sval p[] = {KH_SV_I(r->user.id)};
    if (kh_store_query_one(r->srv->st, &row, "SELECT pw_hash FROM users WHERE id = ?1", p, 1) < 0) {
        kh_reply_error(r, 404, "not_found", "no such user");
        return;
    }
    int ok = kh_sign_password_verify(json_string_value(json_object_get(row, "pw_hash")), pw) == 0;
    json_decref(row);
    if (!ok) {
        kh_reply_error(r, 403, "forbidden", "mật khẩu không đúng / wrong password");
        return;
    }
    kh_store_exec(r->srv->st, NULL,
                  "UPDATE users SET totp_enabled = 0, totp_secret = NULL, recovery_json = NULL WHERE id = ?1", p, 1);
    kh_audit(r, "update", r->user.username, "second factor disabled");
    kh_reply_nocontent(r);
}

void api_stats_access(kh_req *r)
{
    time_t now = time(NULL);
    /* day boundaries in Asia/Ho_Chi_Minh (UTC+7, no daylight saving) */
    time_t local = now + 7 * 3600;
    time_t day = local - local % 86400 - 7 * 3600;
    struct tm tm;
    gmtime_r(&local, &tm);
    time_t week = day - (time_t)((tm.tm_wday + 6) % 7) * 86400;
    time_t month = day - (time_t)(tm.tm_mday - 1) * 86400;
    char d[32], w[32], m[32];
    kh_iso_time(d, day);
    kh_iso_time(w, week);
    kh_iso_time(m, month);
    int64_t online = 0, today = 0, wk = 0, mo = 0, total = 0;
    kh_sval p0[] = {KH_SV_I(now - 300)};
    kh_store_query_int(r->srv->st, &online, "SELECT COUNT(DISTINCT user_id) FROM sessions WHERE last_seen > ?1", p0, 1);
    kh_sval p1[] = {KH_SV_S(d)}, p2[] = {KH_SV_S(w)}, p3[] = {KH_SV_S(m)};
    kh_store_query_int(r->srv->st, &today, "SELECT COUNT(*) FROM audit_log WHERE action = 'login' AND time >= ?1", p1, 1);
    kh_store_query_int(r->srv->st, &wk, "SELECT COUNT(*) FROM audit_log WHERE action = 'login' AND time >= ?1", p2, 1);
    kh_store_query_int(r->srv->st, &mo, "SELECT COUNT(*) FROM audit_log WHERE action = 'login' AND time >= ?1", p3, 1);
    kh_store_query_int(r->srv->st, &total, "SELECT COUNT(*) FROM audit_log WHERE action = 'login'", NULL, 0);
    kh_reply_json(r, 200, json_pack("{s:I, s:I, s:I, s:I, s:I}", "online", (json_int_t)online, "today", (json_int_t)today,
                                    "week", (json_int_t)wk, "month", (json_int_t)mo, "total", (json_int_t)total));
}
