/* Khiên — server/ui_assets: the web dashboard's files, compiled in.
 * The table is generated at build time by cmake/embed_web.cmake from web/. */
#ifndef KH_SERVER_UI_ASSETS_H
#define KH_SERVER_UI_ASSETS_H

#include <stddef.h>

typedef struct kh_web_asset {
    const char *path;           /* "/index.html", "/js/main.js", ... */
    const unsigned char *data;  /* NUL-terminated (not counted in len) */
    size_t len;
    const char *etag;           /* 16 hex digits of the SHA-256 */
} kh_web_asset;

extern const kh_web_asset kh_web_assets[];
extern const size_t kh_web_assets_count;

#endif
