/* Khiên — server/ui_qr: QR codes for the TOTP enrolment (libqrencode enters here only).
 *
 * The dashboard shows the otpauth:// URI of a new second factor as a QR
 * code. The server computes the module matrix and answers it as one SVG
 * path (a rectangle per horizontal run of dark modules) inside JSON; the
 * browser draws it with DOM calls, so no markup crosses the wire and the
 * page needs no image or inline content outside its CSP. The secret never
 * leaves the session: the browser already received it from
 * /api/v1/me/totp/setup and sends it back only to this logged-in endpoint.
 */
#include <qrencode.h>
#include <string.h>

#include "khien/error.h"
#include "server/server_int.h"
#include "server/ui.h"

int kh_ui_qr_path(const char *text, int *size_out, kh_buf *path)
{
    if (!text || !*text || strlen(text) > KH_UI_QR_TEXT_MAX || !size_out || !path)
        return KH_EINVAL;
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return KH_EINTERNAL;
    int w = q->width, rc = 0;
    size_t before = path->len;
    for (int y = 0; y < w && rc == 0; y++) {
        for (int x = 0; x < w && rc == 0;) {
            if (!(q->data[y * w + x] & 1)) {
                x++;
                continue;
            }
            int run = 0;
            while (x + run < w && (q->data[y * w + x + run] & 1))
                run++;
            rc = kh_buf_printf(path, "M%d %dh%dv1h-%dz", x, y, run, run);
            x += run;
        }
    }
    QRcode_free(q);
    if (rc < 0) {
        path->len = before;
        if (path->data)
            path->data[before] = 0;
        return rc;
    }
    *size_out = w;
    return 0;
}

void kh_ui_route_qr(kh_req *r, void *payload)
{
    (void)payload;
    const char *text;
    if (kh_req_body(r, 16384) < 0 || kh_field_str(r, "text", 1, KH_UI_QR_TEXT_MAX, &text) < 0)
        return;
    kh_buf b = KH_BUF_INIT(1u << 20);
    int size = 0, rc = kh_ui_qr_path(text, &size, &b);
    if (rc < 0) {
        kh_buf_dispose(&b);
        kh_reply_error(r, rc == KH_EINVAL ? 400 : 500, rc == KH_EINVAL ? "bad_request" : "internal",
                       "không tạo được mã QR / cannot make the QR code: %s", kh_strerror(rc));
        return;
    }
    kh_reply_json(r, 200, json_pack("{s:i, s:s}", "size", size, "path", b.data ? b.data : ""));
    kh_buf_dispose(&b);
}
