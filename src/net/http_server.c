/* Khiên — net/http_server: HTTPS listener over civetweb.
 *
 * The only file that includes civetweb.h. It turns civetweb's connection
 * into the narrow kh_http_conn interface (method, path, query, headers,
 * bounded body, verified peer certificate, one reply) so that the server's
 * routing and handlers never see the library. TLS is configured by civetweb
 * from our options and then hardened by net/tls.c in the init_ssl hook:
 * HTTPS only, TLS 1.2+, client certificate optional but verified against
 * the centre's CA when present. civetweb runs a fixed pool of worker
 * threads; each request is handled on one of them, start to finish.
 */
#include "net/http_server.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"
#include "net/tls.h"

struct kh_http_server {
    struct mg_context *ctx;
    kh_http_handler handler;
    void *payload;
};

struct kh_http_conn {
    struct mg_connection *mg;
    const struct mg_request_info *ri;
    int replied;
};

static int on_init_ssl(void *ssl_ctx, void *user_data)
{
    (void)user_data;
    return kh_tls_server_ctx_harden(ssl_ctx) == 0 ? 0 : -1;
}

static int on_log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    (void)message;
    return 1; /* civetweb's own messages (TLS handshake failures of scanners, ...) are not ours to print */
}

static int on_request(struct mg_connection *mg, void *cbdata)
{
    kh_http_server *s = cbdata;
    kh_http_conn c = {mg, mg_get_request_info(mg), 0};
    s->handler(&c, s->payload);
    if (!c.replied) {
        static const char msg[] = "{\"error\":{\"code\":\"internal\",\"message\":\"no reply\"}}";
        kh_http_reply(&c, 500, "application/json", NULL, msg, sizeof(msg) - 1);
    }
    return 1;
}

/* "host:port" -> civetweb's "host:ports" (the trailing s = TLS). */
static int listen_spec(char *out, size_t size, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || strlen(listen) > 200)
        return KH_EINVAL;
    const char *port = colon + 1;
    if (!*port || strspn(port, "0123456789") != strlen(port) || atoi(port) <= 0 || atoi(port) > 65535)
        return KH_EINVAL;
    if (listen[0] == '[' && colon[-1] != ']')
        return KH_EINVAL;
    snprintf(out, size, "%ss", listen);
    return 0;
}

int kh_http_server_start(kh_http_server **out, const kh_http_server_options *o, kh_http_handler h,
                         void *payload, char *err, size_t errsz)
{
    char ports[256], threads[16], timeout[16];
    if (!out || !o || o->version != KH_HTTP_SERVER_OPTIONS_VERSION || !h || !o->listen || !o->cert_file ||
        !o->ca_file || listen_spec(ports, sizeof(ports), o->listen) < 0) {
        if (err && errsz)
            snprintf(err, errsz, "địa chỉ nghe không hợp lệ / invalid listen address '%s' (want HOST:PORT)",
                     o && o->listen ? o->listen : "");
        return KH_EINVAL;
    }
    snprintf(threads, sizeof(threads), "%u", o->threads ? o->threads : 64);
    snprintf(timeout, sizeof(timeout), "%u", o->timeout_ms ? o->timeout_ms : 30000);
    const char *opts[] = {
        "listening_ports", ports,
        "ssl_certificate", o->cert_file,
        "ssl_ca_file", o->ca_file,
        "ssl_verify_peer", "optional",
        "ssl_verify_depth", "2",
        "ssl_protocol_version", "4", /* TLS 1.2 and later */
        "ssl_short_trust", "no",
        "num_threads", threads,
        "request_timeout_ms", timeout,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "15000",
        "enable_directory_listing", "no",
        "decode_url", "yes",
        NULL,
    };
    kh_http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    s->handler = h;
    s->payload = payload;
    mg_init_library(MG_FEATURES_TLS);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.init_ssl = on_init_ssl;
    cb.log_message = on_log_message;
    char etext[256] = "";
    unsigned ecode = 0;
    struct mg_error_data ed = {&ecode, etext, sizeof(etext)};
    struct mg_init_data init = {&cb, s, opts};
    s->ctx = mg_start2(&init, &ed);
    if (!s->ctx) {
        if (err && errsz)
            snprintf(err, errsz, "không mở được cổng / cannot start HTTPS on %s: %s", o->listen,
                     etext[0] ? etext : "unknown error");
        free(s);
        return KH_EIO;
    }
    mg_set_request_handler(s->ctx, "/", on_request, s);
    *out = s;
    return 0;
}

void kh_http_server_stop(kh_http_server *s)
{
    if (!s)
        return;
    mg_stop(s->ctx);
    free(s);
}

const char *kh_http_method(const kh_http_conn *c)
{
    return c->ri->request_method ? c->ri->request_method : "";
}

const char *kh_http_path(const kh_http_conn *c)
{
    return c->ri->local_uri_raw ? c->ri->local_uri_raw : (c->ri->local_uri ? c->ri->local_uri : "/");
}

const char *kh_http_query(const kh_http_conn *c)
{
    return c->ri->query_string ? c->ri->query_string : "";
}

int kh_http_query_get(const kh_http_conn *c, const char *name, char *buf, size_t size)
{
    const char *q = c->ri->query_string;
    if (!q || size == 0)
        return -1;
    int n = mg_get_var(q, strlen(q), name, buf, size);
    return n >= 0 ? n : (n == -1 ? -1 : -2);
}

const char *kh_http_header(const kh_http_conn *c, const char *name)
{
    return mg_get_header(c->mg, name);
}

const char *kh_http_remote_addr(const kh_http_conn *c)
{
    return c->ri->remote_addr;
}

int kh_http_read_body(kh_http_conn *c, char **out, size_t *len_out, size_t max)
{
    long long cl = c->ri->content_length;
    if (cl > (long long)max)
        return KH_ELIMIT;
    size_t cap = cl > 0 ? (size_t)cl : 4096;
    char *b = malloc(cap + 1);
    size_t n = 0;
    if (!b)
        return KH_ENOMEM;
    for (;;) {
        if (n == cap) {
            if (cl >= 0 && n == (size_t)cl)
                break;
            if (cap >= max) {
                free(b);
                return KH_ELIMIT;
            }
            size_t nc = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(b, nc + 1);
            if (!nb) {
                free(b);
                return KH_ENOMEM;
            }
            b = nb;
            cap = nc;
        }
        int r = mg_read(c->mg, b + n, cap - n);
        if (r < 0) {
            free(b);
            return KH_EIO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (cl >= 0 && n != (size_t)cl) {
        free(b);
        return KH_EIO;
    }
    b[n] = 0;
    *out = b;
    *len_out = n;
    return 0;
}

int kh_http_peer(const kh_http_conn *c, char cn[128], uint64_t *serial_out)
{
    if (!c->ri->client_cert || !c->ri->client_cert->peer_cert)
        return KH_ENOENT;
    return kh_tls_peer_info(c->ri->client_cert->peer_cert, cn, serial_out);
}

int kh_http_reply(kh_http_conn *c, int status, const char *content_type, const char *headers, const void *body,
                  size_t len)
{
    if (c->replied)
        return KH_EIO;
    c->replied = 1;
    const char *text = mg_get_response_code_text(c->mg, status);
    if (mg_printf(c->mg,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Strict-Transport-Security: max-age=31536000\r\nX-Content-Type-Options: nosniff\r\n"
                  "Cache-Control: no-store\r\n%s\r\n",
                  status, text ? text : "", content_type ? content_type : "application/json", len,
                  headers ? headers : "") <= 0)
        return KH_EIO;
    if (len && mg_write(c->mg, body, len) <= 0)
        return KH_EIO;
    return 0;
}
