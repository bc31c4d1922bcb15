/* Khiên — server/ui_web: the web dashboard's routes and its embedded files.
 *
 * kh_ui_register() (called once by kh_server_create) adds the dashboard's
 * routes to the server: the static files of web/ compiled into the binary
 * by cmake/embed_web.cmake (public: they hold no data), and the dynamic
 * endpoints under /ui/ (QR code, PDF, unit report, CSV), which server.c
 * only runs for a logged-in person and, for POST, with the CSRF header.
 * The data itself always comes from /api/v1, so authorisation stays there.
 *
 * Every answer carries a strict Content-Security-Policy (default-src
 * 'self': no inline script or style, nothing from another origin) and
 * refuses framing; the HTTP layer adds nosniff, HSTS and no-store. Only
 * paths in the asset table are served: there is no file system access and
 * so no path traversal.
 */
#include <string.h>

#include "khien/error.h"
#include "server/ui.h"
#include "server/ui_assets.h"

const char *kh_ui_content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json; charset=utf-8"}, {".svg", "image/svg+xml"},
        {".png", "image/png"}, {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < KH_ARRAY_LEN(types); i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static void serve_asset(kh_req *r, void *payload)
{
    (void)payload;
    const char *path = kh_req_path(r);
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
        path = "/index.html";
    for (size_t i = 0; i < kh_web_assets_count; i++) {
        const kh_web_asset *a = &kh_web_assets[i];
        if (a->path && strcmp(a->path, path) == 0) {
            kh_req_reply(r, 200, kh_ui_content_type(a->path), KH_UI_SECURITY_HEADERS, a->data, a->len);
            return;
        }
    }
    static const char nf[] = "Không tìm thấy / Not found\n";
    kh_req_reply(r, 404, "text/plain; charset=utf-8", KH_UI_SECURITY_HEADERS, nf, sizeof(nf) - 1);
}

int kh_ui_register(kh_server *s)
{
    int rc;
    if ((rc = kh_server_route_add(s, "GET", "/", KH_ROUTE_PUBLIC, serve_asset, NULL)) < 0 ||
        (rc = kh_server_route_add(s, "POST", "/ui/qr", KH_ROUTE_SESSION, kh_ui_route_qr, s)) < 0 ||
        (rc = kh_server_route_add(s, "POST", "/ui/pdf", KH_ROUTE_SESSION, kh_ui_route_pdf, s)) < 0 ||
        (rc = kh_server_route_add(s, "GET", "/ui/reports/unit/", KH_ROUTE_SESSION, kh_ui_route_unit_report, s)) < 0 ||
        (rc = kh_server_route_add(s, "GET", "/ui/export/", KH_ROUTE_SESSION, kh_ui_route_export, s)) < 0)
        return rc;
    return 0;
}
