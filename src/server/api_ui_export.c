/* Khiên — server/api_ui_export: CSV exports of the dashboard's tables.
 *
 * GET /ui/export/NAME.csv for hosts, findings, incidents, change-requests,
 * users and audit-log: every row the caller may see (the API's role and
 * unit scope rules: kh_scope for unit officers; police reviewers only
 * incidents and change requests; the audit log for administrators and
 * auditors), up to 100,000 rows. UTF-8 with a byte-order mark so that
 * spreadsheet programs show Vietnamese correctly, CRLF lines, RFC 4180
 * quoting, and cells starting with = + - @ prefixed with ' so a
 * spreadsheet never runs them as formulas. Times are dd/mm/yyyy HH:MM in
 * Viet Nam time. Every export is written to the audit log.
 * (Each table of the dashboard can also export the rows it shows, in the
 * browser; these endpoints give the whole table.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "khien/error.h"
#include "server/server_int.h"
#include "server/ui.h"

#define EXPORT_MAX_ROWS 100000

typedef struct export_def {
    const char *name;
    unsigned roles;
    const char *scope_col; /* NULL: no unit scope */
    const char *sql;       /* one %s: the scope condition */
    const char *cols;      /* result columns, comma-separated, in order */
    const char *heads;     /* header line */
} export_def;

static const export_def EXPORTS[] = {
    {"hosts", R_ADMIN | R_OFFICER | R_AUDITOR, "h.unit_id",
     "SELECT h.id, h.hostname, u.name AS unit, h.os, h.agent_version, h.population_db, h.level, h.status, h.enrolled_at,"
     " h.last_seen, h.protection, h.sig_updated, h.last_full_scan FROM hosts h JOIN units u ON u.id = h.unit_id WHERE %s ORDER BY h.id",
     "id,hostname,unit,os,agent_version,population_db,level,status,enrolled_at,last_seen,protection,sig_updated,last_full_scan",
     "ID,Tên máy / Hostname,Đơn vị / Unit,Hệ điều hành / OS,Tác tử / Agent,CSDL dân cư / Population DB,Cấp độ / Level,"
     "Trạng thái / Status,Đăng ký / Enrolled,Liên lạc cuối / Last seen,Bảo vệ / Protection,Mẫu nhận diện / Signatures,Quét toàn bộ / Full scan"},
    {"findings", R_ADMIN | R_OFFICER | R_AUDITOR, "f.unit_id",
     "SELECT f.id, h.hostname, u.name AS unit, f.kind, f.severity, f.title, f.status, f.count, f.first_seen, f.last_seen,"
     " f.incident_id, f.detail_json AS detail FROM findings f JOIN hosts h ON h.id = f.host_id JOIN units u ON u.id = f.unit_id"
     " WHERE %s ORDER BY f.id",
     "id,hostname,unit,kind,severity,title,status,count,first_seen,last_seen,incident_id,detail",
     "ID,Máy / Host,Đơn vị / Unit,Loại / Kind,Mức độ / Severity,Nội dung / Title,Tình trạng / Status,Số lần / Count,"
     "Lần đầu / First seen,Lần cuối / Last seen,Sự cố / Incident,Chi tiết / Detail"},
    {"incidents", R_ANY, "i.unit_id",
     "SELECT i.id, i.title, u.name AS unit, h.hostname, i.category, i.severity, i.state, i.profile, i.personal_data,"
     " i.detected_at, i.reported_at, i.closed_at FROM incidents i JOIN units u ON u.id = i.unit_id"
     " LEFT JOIN hosts h ON h.id = i.host_id WHERE %s ORDER BY i.id",
     "id,title,unit,hostname,category,severity,state,profile,personal_data,detected_at,reported_at,closed_at",
     "ID,Sự cố / Incident,Đơn vị / Unit,Máy / Host,Loại / Category,Mức độ / Severity,Trạng thái / State,Chế độ / Profile,"
     "Dữ liệu cá nhân / Personal data,Phát hiện / Detected,Báo cáo công an / Reported,Kết thúc / Closed"},
    {"change-requests", R_ANY, "c.unit_id",
     "SELECT c.id, h.hostname, u.name AS unit, c.state, c.created_at, c.summary FROM change_requests c"
     " JOIN hosts h ON h.id = c.host_id JOIN units u ON u.id = c.unit_id WHERE %s ORDER BY c.id",
     "id,hostname,unit,state,created_at,summary",
     "ID,Máy / Host,Đơn vị / Unit,Trạng thái / State,Ngày tạo / Created,Nội dung / Change"},
    {"users", R_ADMIN | R_OFFICER, "s.unit_id",
     "SELECT s.id, s.username, s.full_name, s.role, u.name AS unit, s.email, s.phone, s.totp_enabled, s.disabled, s.created_at"
     " FROM users s JOIN units u ON u.id = s.unit_id WHERE %s ORDER BY s.id",
     "id,username,full_name,role,unit,email,phone,totp_enabled,disabled,created_at",
     "ID,Tên đăng nhập / Username,Họ tên / Name,Vai trò / Role,Đơn vị / Unit,Thư điện tử / Email,Điện thoại / Phone,"
     "Xác thực hai lớp / Two-factor,Đã khóa / Disabled,Tạo lúc / Created"},
    {"audit-log", R_ADMIN | R_AUDITOR, NULL,
     "SELECT id, time, \"user\", ip, action, object, detail FROM audit_log WHERE %s ORDER BY id",
     "id,time,user,ip,action,object,detail",
     "ID,Thời gian / Time,Người dùng / User,IP,Hành động / Action,Đối tượng / Object,Chi tiết / Detail"},
};

static unsigned role_bit(const char *role)
{
    return !strcmp(role, "admin") ? R_ADMIN : !strcmp(role, "officer") ? R_OFFICER : !strcmp(role, "police") ? R_POLICE
           : !strcmp(role, "auditor") ? R_AUDITOR : 0;
}

static int is_time_col(const char *c)
{
    return kh_str_endswith(c, "_at") || kh_str_endswith(c, "_seen") || !strcmp(c, "time") || !strcmp(c, "sig_updated") ||
           !strcmp(c, "last_full_scan");
}

static void cell(kh_buf *b, const char *s)
{
    int quote = strpbrk(s, ",\"\r\n;") != NULL;
    if (quote)
        kh_buf_putc(b, '"');
    if (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' || *s == '\r')
        kh_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '"')
            kh_buf_putc(b, '"');
        kh_buf_putc(b, *s);
    }
    if (quote)
        kh_buf_putc(b, '"');
}

static void value(kh_buf *b, const char *col, const json_t *v)
{
    char tmp[64];
    if (json_is_string(v)) {
        time_t t;
        if (is_time_col(col) && (t = kh_iso_parse(json_string_value(v))) != 0) {
            t += 7 * 3600;
            struct tm tm;
            gmtime_r(&t, &tm);
            snprintf(tmp, sizeof(tmp), "%02d/%02d/%04d %02d:%02d", tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min);
            cell(b, tmp);
        } else {
            cell(b, json_string_value(v));
        }
    } else if (json_is_integer(v)) {
        kh_buf_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        kh_buf_printf(b, "%g", json_real_value(v));
    } else if (json_is_true(v) || json_is_false(v)) {
        kh_buf_puts(b, json_is_true(v) ? "1" : "0");
    } else if (json_is_object(v) || json_is_array(v)) {
        char *s = json_dumps(v, JSON_COMPACT);
        cell(b, s ? s : "");
        free(s);
    }
}

void kh_ui_route_export(kh_req *r, void *payload)
{
    (void)payload;
    const char *name = kh_req_path(r) + strlen("/ui/export/");
    const kh_user *me = kh_req_user(r);
    const export_def *d = NULL;
    for (size_t i = 0; i < KH_ARRAY_LEN(EXPORTS); i++) {
        size_t n = strlen(EXPORTS[i].name);
        if (strncmp(name, EXPORTS[i].name, n) == 0 && strcmp(name + n, ".csv") == 0)
            d = &EXPORTS[i];
    }
    if (!d || !me) {
        kh_reply_error(r, 404, "not_found", "không có bảng này / no such table (hosts, findings, incidents, change-requests, users, audit-log)");
        return;
    }
    if (!(role_bit(me->role) & d->roles)) {
        kh_reply_error(r, 403, "forbidden", "vai trò '%s' không được xuất bảng này / role '%s' may not export this table", me->role, me->role);
        return;
    }
    char scope[512] = "1=1", sql[2048];
    kh_sval p[1];
    size_t np = 0;
    if (d->scope_col)
        kh_scope(r, d->scope_col, scope, sizeof(scope), p, &np);
    const char *at = strstr(d->sql, "%s");
    snprintf(sql, sizeof(sql), "%.*s%s%s LIMIT %d", (int)(at - d->sql), d->sql, scope, at + 2, EXPORT_MAX_ROWS);
    json_t *rows = NULL;
    int rc = kh_store_query(r->srv->st, &rows, sql, p, np);
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return;
    }
    kh_buf b = KH_BUF_INIT(256u << 20);
    kh_buf_puts(&b, "\xEF\xBB\xBF");
    kh_buf_puts(&b, d->heads);
    kh_buf_puts(&b, "\r\n");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        char cols[512];
        snprintf(cols, sizeof(cols), "%s", d->cols);
        int first = 1;
        for (char *save = NULL, *c = strtok_r(cols, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
            if (!first)
                kh_buf_putc(&b, ',');
            first = 0;
            value(&b, c, json_object_get(row, c));
        }
        if (kh_buf_puts(&b, "\r\n") < 0)
            break;
    }
    json_decref(rows);
    if (!b.data || kh_buf_puts(&b, "") < 0) {
        kh_buf_dispose(&b);
        kh_reply_error(r, 500, "internal", "xuất CSV thất bại / CSV export failed");
        return;
    }
    char hdr[1024], obj[64];
    snprintf(hdr, sizeof(hdr), KH_UI_SECURITY_HEADERS "Content-Disposition: attachment; filename=\"khien-%s.csv\"\r\n", d->name);
    snprintf(obj, sizeof(obj), "table:%s", d->name);
    kh_audit(r, "export", obj, "csv");
    kh_req_reply(r, 200, "text/csv; charset=utf-8", hdr, b.data, b.len);
    kh_buf_dispose(&b);
}
