/* Khiên — server/ui: the web dashboard's server side.
 *
 * ui_web.c registers everything (kh_ui_register) and serves the embedded
 * assets; ui_qr.c draws QR codes (libqrencode enters here only); ui_pdf.c
 * renders report documents as PDF (libharu enters here only); api_ui_report.c
 * builds a unit's compliance inspection report; api_ui_export.c the CSV
 * exports. Every handler here is behind the session check of server.c
 * except the static assets.
 */
#ifndef KH_SERVER_UI_H
#define KH_SERVER_UI_H

#include <jansson.h>
#include <stddef.h>

#include "server/server.h"
#include "util/util.h"

/** Headers sent with every dashboard response (CSP, frames, referrer). */
#define KH_UI_SECURITY_HEADERS                                                                                  \
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"   \
    " frame-ancestors 'none'; form-action 'self'\r\n"                                                          \
    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\nCross-Origin-Opener-Policy: same-origin\r\n"

#define KH_UI_QR_TEXT_MAX 1024    /* bytes of text in one QR code */
#define KH_UI_PDF_MAX (8u << 20)  /* bytes of one rendered PDF */

/** Content type of an asset path by its extension. Never NULL. */
const char *kh_ui_content_type(const char *path);

/** The QR code of text as module count and one SVG path ("M x y h n v 1 h -n z" per run).
 * @return 0, KH_EINVAL (empty/too long), KH_ENOMEM, KH_EINTERNAL */
int kh_ui_qr_path(const char *text, int *size_out, kh_buf *path);

/**
 * Renders a report document (docs/api.md report JSON: issuer, number,
 * place_date, title, addressee, basis, deadline, sections of fields or
 * tables, recipients, signature) as an A4 PDF in the Decree 30/2020 layout.
 * Fonts: Liberation Serif (fonts-liberation2) or FreeSerif, from font_dir
 * (NULL: $KHIEN_FONT_DIR, else the Debian folders). A message (Vietnamese /
 * English) in err.
 * @return 0, KH_EINVAL (not a document), KH_ENOENT (fonts missing), KH_ELIMIT, KH_ENOMEM, KH_EINTERNAL
 */
int kh_ui_pdf_render(const json_t *doc, const char *font_dir, kh_buf *out, char *err, size_t errsz);

/* Route handlers (payload: the kh_server). */
void kh_ui_route_qr(kh_req *r, void *payload);
void kh_ui_route_pdf(kh_req *r, void *payload);
void kh_ui_route_unit_report(kh_req *r, void *payload);
void kh_ui_route_export(kh_req *r, void *payload);
/** Sends a PDF (attachment named file_name, ASCII). */
void kh_ui_reply_pdf(kh_req *r, const kh_buf *pdf, const char *file_name);

#endif
