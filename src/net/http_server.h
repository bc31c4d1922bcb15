/* Khiên — net/http_server: the centre's HTTPS listener (libmicrohttpd inside).
 *
 * One handler function receives every request on a pool of worker threads;
 * it reads what it needs through the kh_http_* accessors and answers with
 * kh_http_reply() exactly once. The connection object is borrowed for the
 * duration of the handler only. HTTPS only: TLS 1.2+, server certificate
 * from cert_file; a client certificate is requested but optional, and when
 * sent it must chain to ca_file (kh_http_peer() reports only a verified
 * one) — whether an endpoint needs one is the handler's decision.
 */
#ifndef KH_NET_HTTP_SERVER_H
#define KH_NET_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct kh_http_server kh_http_server;
typedef struct kh_http_conn kh_http_conn;

/** Handles one request; must call kh_http_reply() once. */
typedef void (*kh_http_handler)(kh_http_conn *c, void *payload);

typedef struct kh_http_server_options {
    unsigned version;       /**< KH_HTTP_SERVER_OPTIONS_VERSION */
    const char *listen;     /**< "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:8443" */
    const char *cert_file;  /**< PEM: the server certificate */
    const char *key_file;   /**< PEM: its private key */
    const char *ca_file;    /**< PEM: CA that client certificates must chain to */
    unsigned threads;       /**< worker threads; 0: 8 */
    unsigned timeout_ms;    /**< per request; 0: 30 s */
} kh_http_server_options;
#define KH_HTTP_SERVER_OPTIONS_VERSION 1
#define KH_HTTP_SERVER_OPTIONS_INIT {KH_HTTP_SERVER_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, 0}
#define KH_HTTP_BODY_MAX (16u << 20) /* no handler may accept a larger body */

/** Starts listening; returns once the socket is bound.
 * @return 0, KH_EINVAL, KH_EIO (cannot bind / bad certificate; message in err) */
int kh_http_server_start(kh_http_server **out, const kh_http_server_options *opts, kh_http_handler h,
                         void *payload, char *err, size_t errsz);
/** Stops the server and waits for running handlers. NULL is a no-op. */
void kh_http_server_stop(kh_http_server *s);

const char *kh_http_method(const kh_http_conn *c);
/** The decoded path without the query ("/api/v1/hosts/7"). */
const char *kh_http_path(const kh_http_conn *c);
/** The raw query string without '?', or "" */
const char *kh_http_query(const kh_http_conn *c);
/** Decoded value of query parameter `name` into buf. @return length, or -1 if absent, -2 if too long */
int kh_http_query_get(const kh_http_conn *c, const char *name, char *buf, size_t size);
/** A request header, or NULL. */
const char *kh_http_header(const kh_http_conn *c, const char *name);
const char *kh_http_remote_addr(const kh_http_conn *c);
/** Reads the whole body (NUL-terminated, caller frees). A body larger than
 * max is refused without reading it. @return 0, KH_ELIMIT, KH_EIO, KH_ENOMEM */
int kh_http_read_body(kh_http_conn *c, char **out, size_t *len_out, size_t max);
/** The verified client certificate, if any: its CN and serial.
 * @return 0, KH_ENOENT (no certificate), KH_EFORMAT */
int kh_http_peer(const kh_http_conn *c, char cn[128], uint64_t *serial_out);
/** Sends status, headers and body. `headers` is NULL or "Name: value\r\n" lines.
 * @return 0 or KH_EIO */
int kh_http_reply(kh_http_conn *c, int status, const char *content_type, const char *headers, const void *body,
                  size_t len);

#endif
