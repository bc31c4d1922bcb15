/* Khiên — server/api_ui_report: a unit's compliance inspection report.
 *
 * GET /ui/reports/unit/{id} answers the report as the same document JSON
 * as the incident reports (docs/api.md), GET /ui/reports/unit/{id}.pdf as
 * a PDF (ui_pdf.c). It covers what an inspection of information-security
 * compliance looks at (Luật An ninh mạng 116/2025 Art. 35, NĐ 331/2026
 * Art. 27, TT 12/2022 Art. 12): every active host of the unit and the
 * units below it with protection, signature age, last full scan and open
 * findings; open findings by kind and severity; the most common failed
 * configuration checks; the unit's incidents; and conclusions computed
 * from those figures. Administrators and auditors may read any unit,
 * officers their own subtree (the same scope rule as the API, kh_scope),
 * police reviewers none. Reading the report is written to the audit log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "khien/error.h"
#include "server/server_int.h"
#include "server/ui.h"

#define SUBTREE KH_SQL_SUBTREE("?1")

/* ISO time -> "dd/mm/yyyy HH:MM" in Viet Nam time (UTC+7, no daylight saving). */
static void vn_time(char *out, size_t size, const char *iso)
{
    time_t t = iso ? kh_iso_parse(iso) : 0;
    if (!t) {
        snprintf(out, size, "—");
        return;
    }
    t += 7 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, size, "%02d/%02d/%04d %02d:%02d", tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
}

static const char *js(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static json_t *field(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *field(const char *label, const char *fmt, ...)
{
    char v[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    return json_pack("{s:s, s:s}", "label", label, "value", v);
}

static const char *sev_vi(const char *s)
{
    return !strcmp(s, "critical") ? "Nghiêm trọng" : !strcmp(s, "high") ? "Cao" : !strcmp(s, "medium") ? "Trung bình"
           : !strcmp(s, "low") ? "Thấp" : "Thông tin";
}

static const char *kind_vi(const char *k)
{
    return !strcmp(k, "malware") ? "Mã độc / Malware"
           : !strcmp(k, "vulnerability") ? "Lỗ hổng / Vulnerability"
           : !strcmp(k, "failed_check") ? "Cấu hình không đạt / Failed check"
           : !strcmp(k, "credential_exposure") ? "Lộ thông tin đăng nhập / Credential exposure"
           : !strcmp(k, "inventory_change") ? "Thay đổi tài sản / Inventory change" : k;
}

static const char *state_vi(const char *s)
{
    return !strcmp(s, "new") ? "Mới" : !strcmp(s, "reported") ? "Đã báo cáo công an" : !strcmp(s, "investigating") ? "Đang điều tra"
           : !strcmp(s, "resolved") ? "Đã khắc phục" : !strcmp(s, "false_positive") ? "Báo động nhầm" : s;
}

static int query(kh_req *r, json_t **rows, const char *sql, int64_t unit)
{
    kh_sval p[] = {KH_SV_I(unit)};
    int rc = kh_store_query(r->srv->st, rows, sql, p, 1);
    if (rc < 0)
        kh_reply_store_error(r, rc);
    return rc;
}

/* Builds the report; NULL when it replied with an error. */
static json_t *build(kh_req *r, int64_t unit)
{
    json_t *u = NULL, *hosts = NULL, *fk = NULL, *checks = NULL, *inc = NULL, *doc = NULL;
    kh_sval p[] = {KH_SV_I(unit)};
    int rc = kh_store_query_one(r->srv->st, &u,
                                "SELECT u.id, u.name, u.code, p.name AS parent FROM units u LEFT JOIN units p ON p.id = u.parent_id WHERE u.id = ?1",
                                p, 1);
    if (rc == KH_ENOTFOUND) {
        kh_reply_error(r, 404, "not_found", "không có đơn vị %lld / no unit %lld", (long long)unit, (long long)unit);
        return NULL;
    }
    if (rc < 0) {
        kh_reply_store_error(r, rc);
        return NULL;
    }
    if (query(r, &hosts,
              "SELECT h.id, h.hostname, h.os, h.level, h.population_db, h.last_seen, h.protection, h.sig_updated, h.last_full_scan,"
              " un.name AS unit,"
              " (SELECT COUNT(*) FROM findings f WHERE f.host_id = h.id AND f.status = 'open') AS open_findings,"
              " (SELECT COUNT(*) FROM findings f WHERE f.host_id = h.id AND f.status = 'open' AND f.severity IN ('critical','high')) AS serious"
              " FROM hosts h JOIN units un ON un.id = h.unit_id WHERE h.status = 'active' AND h.unit_id IN " SUBTREE
              " ORDER BY un.name, h.hostname LIMIT 5000",
              unit) < 0 ||
        query(r, &fk,
              "SELECT kind, severity, COUNT(*) AS n FROM findings WHERE status = 'open' AND unit_id IN " SUBTREE
              " GROUP BY kind, severity ORDER BY kind, severity",
              unit) < 0 ||
        query(r, &checks,
              "SELECT title, COUNT(DISTINCT host_id) AS hosts FROM findings WHERE kind = 'failed_check' AND status = 'open'"
              " AND unit_id IN " SUBTREE " GROUP BY title ORDER BY hosts DESC, title LIMIT 15",
              unit) < 0 ||
        query(r, &inc,
              "SELECT id, title, state, severity, detected_at, reported_at FROM incidents WHERE unit_id IN " SUBTREE
              " ORDER BY id DESC LIMIT 100",
              unit) < 0)
        goto done;

    time_t now = time(NULL);
    char d1[32], d7[32], nowvn[40], t1[40], t2[40], t3[40];
    kh_iso_time(d1, now - 86400);
    kh_iso_time(d7, now - 7 * 86400);
    kh_iso_time(t1, now);
    vn_time(nowvn, sizeof(nowvn), t1);

    /* summary figures */
    size_t i, n = json_array_size(hosts);
    long active = 0, prot = 0, fresh = 0, scanned = 0, pop = 0, with_serious = 0;
    json_t *h, *rows = json_array();
    json_array_foreach(hosts, i, h)
    {
        int is_active = strcmp(js(h, "last_seen"), d1) >= 0 && *js(h, "last_seen");
        int is_prot = is_active && json_integer_value(json_object_get(h, "protection"));
        int is_fresh = *js(h, "sig_updated") && strcmp(js(h, "sig_updated"), d7) >= 0;
        int is_scanned = *js(h, "last_full_scan") && strcmp(js(h, "last_full_scan"), d7) >= 0;
        active += is_active;
        prot += is_prot;
        fresh += is_fresh;
        scanned += is_scanned;
        pop += json_integer_value(json_object_get(h, "population_db")) != 0;
        with_serious += json_integer_value(json_object_get(h, "serious")) > 0;
        vn_time(t1, sizeof(t1), js(h, "last_seen"));
        vn_time(t2, sizeof(t2), js(h, "sig_updated"));
        vn_time(t3, sizeof(t3), js(h, "last_full_scan"));
        json_array_append_new(rows, json_pack("[i, s, s, s, s, s, s, s, I]", (int)(i + 1), js(h, "hostname"), js(h, "unit"),
                                              t1, is_prot ? "Có" : "Không", t2, t3,
                                              json_integer_value(json_object_get(h, "population_db")) ? "Có" : "Không",
                                              (json_int_t)json_integer_value(json_object_get(h, "open_findings"))));
    }
    long pct = n ? (long)(100 * prot / (long)n) : 0;

    json_t *secs = json_array();
    json_t *f = json_array();
    json_array_append_new(f, field("Số máy đang quản lý / Hosts managed", "%zu (kết nối CSDL dân cư / population-DB: %ld)", n, pop));
    json_array_append_new(f, field("Hoạt động trong 24 giờ / Seen in 24 h", "%ld/%zu", active, n));
    json_array_append_new(f, field("Đang được bảo vệ / Protection running", "%ld/%zu (%ld%%)", prot, n, pct));
    json_array_append_new(f, field("Bộ mẫu nhận diện dưới 7 ngày / Signatures under 7 days", "%ld/%zu", fresh, n));
    json_array_append_new(f, field("Quét toàn bộ trong 7 ngày / Full scan in 7 days", "%ld/%zu", scanned, n));
    json_array_append_new(f, field("Máy có phát hiện mức cao trở lên / Hosts with high or critical findings", "%ld", with_serious));
    long inc_open = 0;
    json_t *x;
    json_array_foreach(inc, i, x)
    {
        const char *st = js(x, "state");
        inc_open += !strcmp(st, "new") || !strcmp(st, "reported") || !strcmp(st, "investigating");
    }
    json_array_append_new(f, field("Sự cố đang xử lý / Open incidents", "%ld", inc_open));
    json_array_append_new(secs, json_pack("{s:s, s:o}", "heading", "1. Tổng hợp / Summary", "fields", f));

    json_array_append_new(secs, json_pack("{s:s, s:{s:[s,s,s,s,s,s,s,s,s], s:o, s:[f,f,f,f,f,f,f,f,f]}}", "heading",
                                          "2. Máy trạm / Hosts", "table", "columns", "STT", "Tên máy", "Đơn vị", "Liên lạc cuối",
                                          "Bảo vệ", "Mẫu nhận diện", "Quét toàn bộ", "CSDL dân cư", "Phát hiện mở", "rows", rows,
                                          "widths", 0.6, 1.6, 1.6, 1.4, 0.8, 1.4, 1.4, 0.9, 0.9));

    json_t *frows = json_array();
    json_array_foreach(fk, i, x)
    {
        json_array_append_new(frows, json_pack("[s, s, I]", kind_vi(js(x, "kind")), sev_vi(js(x, "severity")),
                                               (json_int_t)json_integer_value(json_object_get(x, "n"))));
    }
    json_t *sec3 = json_pack("{s:s}", "heading", "3. Phát hiện đang mở / Open findings");
    if (json_array_size(frows))
        json_object_set_new(sec3, "table", json_pack("{s:[s,s,s], s:o, s:[f,f,f]}", "columns", "Loại / Kind", "Mức độ / Severity",
                                                     "Số lượng / Count", "rows", frows, "widths", 3.0, 1.5, 1.0));
    else {
        json_decref(frows);
        json_object_set_new(sec3, "text", json_string("Không có phát hiện đang mở. / No open findings."));
    }
    json_array_append_new(secs, sec3);

    json_t *crows = json_array();
    json_array_foreach(checks, i, x)
    {
        json_array_append_new(crows, json_pack("[s, I]", js(x, "title"), (json_int_t)json_integer_value(json_object_get(x, "hosts"))));
    }
    json_t *sec4 = json_pack("{s:s}", "heading", "4. Cấu hình không đạt thường gặp / Most common failed checks");
    if (json_array_size(crows))
        json_object_set_new(sec4, "table", json_pack("{s:[s,s], s:o, s:[f,f]}", "columns", "Kiểm tra / Check", "Số máy / Hosts",
                                                     "rows", crows, "widths", 5.0, 1.0));
    else {
        json_decref(crows);
        json_object_set_new(sec4, "text", json_string("Không có kiểm tra cấu hình nào không đạt. / No failed configuration checks."));
    }
    json_array_append_new(secs, sec4);

    json_t *irows = json_array();
    json_array_foreach(inc, i, x)
    {
        vn_time(t1, sizeof(t1), js(x, "detected_at"));
        vn_time(t2, sizeof(t2), js(x, "reported_at"));
        json_array_append_new(irows, json_pack("[I, s, s, s, s, s]", (json_int_t)json_integer_value(json_object_get(x, "id")),
                                               js(x, "title"), sev_vi(js(x, "severity")), state_vi(js(x, "state")), t1, t2));
    }
    json_t *sec5 = json_pack("{s:s}", "heading", "5. Sự cố / Incidents");
    if (json_array_size(irows))
        json_object_set_new(sec5, "table", json_pack("{s:[s,s,s,s,s,s], s:o, s:[f,f,f,f,f,f]}", "columns", "Số", "Sự cố", "Mức độ",
                                                     "Trạng thái", "Phát hiện", "Báo cáo công an", "rows", irows, "widths", 0.5,
                                                     3.0, 1.1, 1.4, 1.4, 1.4));
    else {
        json_decref(irows);
        json_object_set_new(sec5, "text", json_string("Không có sự cố. / No incidents."));
    }
    json_array_append_new(secs, sec5);

    /* conclusions from the figures */
    json_t *concl = json_array();
    if (n == 0)
        json_array_append_new(concl, json_string("- Đơn vị chưa có máy nào đăng ký với hệ thống: cần triển khai tác tử Khiên trên các máy trạm. / No host is enrolled yet."));
    if (n && prot < (long)n)
        json_array_append_new(concl, json_sprintf("- %ld máy chưa được bảo vệ liên tục: kiểm tra tác tử và kết nối. / %ld hosts without running protection.",
                                                  (long)n - prot, (long)n - prot));
    if (n && fresh < (long)n)
        json_array_append_new(concl, json_sprintf("- %ld máy có bộ mẫu nhận diện cũ hơn 7 ngày: cập nhật. / %ld hosts with signatures older than 7 days.",
                                                  (long)n - fresh, (long)n - fresh));
    if (n && scanned < (long)n)
        json_array_append_new(concl, json_sprintf("- %ld máy chưa quét toàn bộ trong 7 ngày. / %ld hosts without a full scan in 7 days.",
                                                  (long)n - scanned, (long)n - scanned));
    if (with_serious)
        json_array_append_new(concl, json_sprintf("- %ld máy có phát hiện mức cao trở lên: xử lý dứt điểm. / %ld hosts with high or critical findings to fix.",
                                                  with_serious, with_serious));
    if (inc_open)
        json_array_append_new(concl, json_sprintf("- %ld sự cố đang xử lý: bảo đảm báo cáo công an đúng thời hạn. / %ld open incidents: report them in time.",
                                                  inc_open, inc_open));
    if (!json_array_size(concl))
        json_array_append_new(concl, json_string("- Đơn vị đáp ứng các tiêu chí được kiểm tra. / The unit meets every criterion checked."));
    json_array_append_new(secs, json_pack("{s:s, s:o}", "heading", "6. Đánh giá, kiến nghị / Assessment and recommendations", "text", concl));

    char number[96], place_date[128], sub[400];
    snprintf(number, sizeof(number), "Số: %lld/BC-KTATTT", (long long)unit);
    struct tm tm;
    time_t vn = now + 7 * 3600;
    gmtime_r(&vn, &tm);
    snprintf(place_date, sizeof(place_date), "Thành phố, ngày %02d tháng %02d năm %04d", tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900);
    snprintf(sub, sizeof(sub), "Đơn vị: %s — số liệu đến %s", js(u, "name"), nowvn);
    const kh_user *me = kh_req_user(r);
    doc = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s, s:s}, s:s}",
                    "kind", "inspection", "issuer", "parent", js(u, "parent"), "name", js(u, "name"), "number", number,
                    "place_date", place_date, "title", "Báo cáo kiểm tra tuân thủ an toàn thông tin", "subtitle", sub,
                    "addressee", "Cơ quan chuyên trách về an toàn thông tin của thành phố.",
                    "basis", "Luật An ninh mạng số 116/2025/QH15 (Điều 35); Nghị định 331/2026/NĐ-CP (Điều 27); Thông tư 12/2022/TT-BTTTT (Điều 12); số liệu do hệ thống Khiên thu thập tự động",
                    "sections", secs, "signature", "authority", "Người lập báo cáo", "title", "(Ký, ghi rõ họ tên)", "name",
                    me ? me->username : "", "recipients", "- Như trên;\n- Lưu: VT.");
done:
    json_decref(u);
    json_decref(hosts);
    json_decref(fk);
    json_decref(checks);
    json_decref(inc);
    return doc;
}

void kh_ui_route_unit_report(kh_req *r, void *payload)
{
    (void)payload;
    const char *path = kh_req_path(r) + strlen("/ui/reports/unit/");
    const kh_user *me = kh_req_user(r);
    char *end = NULL;
    long long id = strtoll(path, &end, 10);
    int pdf = end && strcmp(end, ".pdf") == 0;
    if (!me || path[0] < '1' || path[0] > '9' || id <= 0 || (!pdf && *end && strcmp(end, ".json") != 0)) {
        kh_reply_error(r, 404, "not_found", "không tìm thấy / not found");
        return;
    }
    if (strcmp(me->role, "police") == 0 || !kh_unit_in_scope(r, id)) {
        kh_reply_error(r, 403, "forbidden", "đơn vị ngoài phạm vi của bạn / this unit is outside your scope");
        return;
    }
    json_t *doc = build(r, id);
    if (!doc)
        return;
    char obj[64];
    snprintf(obj, sizeof(obj), "unit:%lld", id);
    kh_audit(r, "report", obj, pdf ? "inspection pdf" : "inspection");
    if (!pdf) {
        kh_reply_json(r, 200, doc);
        return;
    }
    kh_buf out = KH_BUF_INIT(KH_UI_PDF_MAX + 65536);
    char err[512] = "", name[64];
    int rc = kh_ui_pdf_render(doc, NULL, &out, err, sizeof(err));
    json_decref(doc);
    if (rc < 0) {
        kh_buf_dispose(&out);
        kh_reply_error(r, 500, "internal", "%s", err);
        return;
    }
    snprintf(name, sizeof(name), "khien-bao-cao-kiem-tra-%lld.pdf", id);
    kh_ui_reply_pdf(r, &out, name);
    kh_buf_dispose(&out);
}
