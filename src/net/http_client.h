/* Khiên — net/http_client: HTTP(S) requests, the project's only use of libcurl.
 *
 * A kh_http_client holds one connection (kept alive between requests) and
 * its settings: which CA to trust, an optional client certificate, time
 * limits and a ceiling on the response size. Three ways to trust a server:
 *  - ca_file / ca_pem: only that CA (the centre's private CA: the agent
 *    trusts nothing else, and the host name must match the certificate);
 *  - neither: the system's CA store (downloads from a public mirror);
 *  - insecure: no verification at all. Used once, by enrollment, to fetch
 *    the centre's CA certificate whose SHA-256 the caller then compares with
 *    the fingerprint the administrator typed, before any secret is sent.
 *
 * Requests return 0 when an HTTP exchange completed, whatever its status;
 * the caller reads resp.status. A failure to talk at all is a negative
 * KH_E* code, with a message (Vietnamese, then English) from
 * kh_http_client_last_error(). Responses are NUL-terminated malloc'ed
 * buffers owned by the caller (kh_http_response_dispose()).
 *
 * A client is used by one thread at a time. kh_http_client_create() calls
 * curl_global_init once (thread-safe); nothing else is global.
 */
#ifndef KH_NET_HTTP_CLIENT_H
#define KH_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct kh_http_client kh_http_client;

typedef struct kh_http_options {
    unsigned version;            /**< KH_HTTP_OPTIONS_VERSION */
    const char *ca_file;         /**< PEM file: the only CA trusted; NULL: see ca_pem */
    const char *ca_pem;          /**< PEM text: the only CA trusted; NULL with ca_file NULL: system store */
    int insecure;                /**< 1: no certificate or host name verification at all */
    const char *cert_file;       /**< client certificate (PEM file); NULL: none */
    const char *key_file;        /**< its private key (PEM file) */
    unsigned connect_timeout_ms; /**< 0: 10 s */
    unsigned timeout_ms;         /**< whole request; 0: 60 s */
    size_t max_response;         /**< bytes of body kept in memory; 0: 16 MiB */
    uint64_t max_download;       /**< bytes written by kh_http_get_file(); 0: 1 GiB */
    int https_only;              /**< 1: refuse http:// URLs */
    int follow_redirects;        /**< 1: follow up to 5 redirects (same-scheme rules as https_only) */
    const char *user_agent;      /**< NULL: "khien/VERSION" */
    const volatile int *cancel;  /**< when it points to a non-zero value, transfers stop (KH_EUSER) */
} kh_http_options;

#define KH_HTTP_OPTIONS_VERSION 1
#define KH_HTTP_OPTIONS_INIT {KH_HTTP_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL}

typedef struct kh_http_response {
    long status;         /**< HTTP status (200, 404, ...) */
    char *body;          /**< NUL-terminated, malloc'ed; never NULL after success */
    size_t len;          /**< body length (without the NUL) */
    char content_type[128]; /**< "" when the server sent none */
} kh_http_response;

/** Creates a client. The files named in @p opts are read at each request.
 *  @return 0, KH_EINVAL (bad options), KH_ENOMEM, KH_EINTERNAL (libcurl). */
int kh_http_client_create(kh_http_client **out, const kh_http_options *opts);
void kh_http_client_destroy(kh_http_client *c);

/** What went wrong in the last failed request (Vietnamese / English); "" if nothing. */
const char *kh_http_client_last_error(const kh_http_client *c);

/** Sends a request. @p method "GET", "POST", "PUT", "DELETE"; @p body may be
 *  NULL (then @p len is 0); @p content_type NULL means "application/json"
 *  when there is a body. @p headers: extra "Name: value" lines, NULL-terminated
 *  array or NULL. @p resp is filled on success only.
 *  @return 0 (any HTTP status), KH_EINVAL (bad URL / scheme), KH_EIO (cannot
 *  connect, connection lost), KH_EACCES (TLS: certificate refused, by us or
 *  by the server), KH_ETIMEOUT, KH_ELIMIT (response larger than
 *  max_response), KH_EUSER (cancelled), KH_ENOMEM. */
int kh_http_request(kh_http_client *c, kh_http_response *resp, const char *method, const char *url,
                    const char *content_type, const void *body, size_t len, const char *const *headers);

/** GET into memory: kh_http_request(c, resp, "GET", url, NULL, NULL, 0, NULL). */
int kh_http_get(kh_http_client *c, kh_http_response *resp, const char *url);

/** GET into a file: written to PATH.part, fsync'ed, then renamed to @p path
 *  only when the status is 2xx (otherwise the part file is removed and the
 *  old @p path, if any, stays). @p status_out receives the HTTP status.
 *  @return as kh_http_request(), plus KH_EIO for local write errors and
 *  KH_ELIMIT past max_download. */
int kh_http_get_file(kh_http_client *c, const char *url, const char *path, long *status_out);

/** Frees the body; the struct may then be reused. NULL is fine. */
void kh_http_response_dispose(kh_http_response *r);

#endif
