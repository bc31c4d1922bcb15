/* Khiên — net/http_server: HTTPS listener over libmicrohttpd.
 *
 * The only file that includes microhttpd.h. It turns libmicrohttpd's
 * connection into the narrow kh_http_conn interface (method, path, query,
 * headers, bounded body, verified peer certificate, one reply) so that the
 * server's routing and handlers never see the library. HTTPS only: the
 * daemon is started with TLS, the centre's priority string (net/tls.c), the
 * server key and certificate, and the CA as trust list, which makes it ask
 * clients for an (optional) certificate.
 *
 * libmicrohttpd pushes the request body in pieces; they are gathered into
 * one buffer of at most KH_HTTP_BODY_MAX bytes (a larger Content-Length is
 * answered 413 at once, without reading the body) and the handler runs once
 * the body is complete. The handler's own, smaller limit is applied by
 * kh_http_read_body().
 *
 * Threads: a few polling threads (one per core, at most 4) do the network
 * and TLS work for every connection and never run a handler; complete
 * requests are suspended and handed to a pool of worker threads (the
 * `threads` option), which may block (a handler waits for its database
 * commit) without stalling the hundreds of other keep-alive connections a
 * polling thread serves. The worker builds the response and resumes the
 * connection; its polling thread then queues and sends it.
 */
#include "net/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "khien/error.h"
#include "net/tls.h"

struct kh_http_server {
    struct MHD_Daemon *d;
    kh_http_handler handler;
    void *payload;
    char *key, *cert, *ca;
    /* worker pool: a FIFO of suspended requests */
    pthread_mutex_t m;
    pthread_cond_t c;
    kh_http_conn *head, *tail;
    pthread_t *workers;
    unsigned nworkers;
    int stopping;
};

struct kh_http_conn {
    struct MHD_Connection *mc;
    const char *method, *url;
    char *body;
    size_t len, cap;
    int too_large;
    int replied;
    int state; /* 0 reading, 1 with a worker (suspended), 2 answered, 3 no answer could be built */
    unsigned status;
    struct MHD_Response *resp;
    kh_http_conn *next;
    char addr[64];
    char *query; /* rebuilt on demand */
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = malloc(65537);
    size_t n = b ? fread(b, 1, 65536, f) : 0;
    fclose(f);
    if (!b || n == 0 || n >= 65536) {
        free(b);
        return NULL;
    }
    b[n] = 0;
    return b;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    kh_http_conn *k = *con_cls;
    if (k) {
        if (k->resp)
            MHD_destroy_response(k->resp);
        free(k->body);
        free(k->query);
        free(k);
        *con_cls = NULL;
    }
}

static void run_handler(kh_http_server *s, kh_http_conn *k);

/* Per TCP connection: the verified client certificate's CN and serial, read
 * once (verifying the chain costs an ECDSA verification) and reused by every
 * request of a keep-alive connection. */
typedef struct peer_cache {
    int state; /* 0 not read, 1 read (rc below) */
    int rc;
    char cn[128];
    uint64_t serial;
} peer_cache;

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(peer_cache));
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        free(*socket_context);
        *socket_context = NULL;
    }
}

/* Queues the response the handler built (on the connection's polling thread). */
static enum MHD_Result send_reply(kh_http_conn *k)
{
    struct MHD_Response *r = k->resp;
    k->resp = NULL;
    k->state = 2;
    enum MHD_Result ok = MHD_queue_response(k->mc, k->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    kh_http_server *s = cls;
    kh_http_conn *k = *con_cls;
    if (!k) { /* first call: headers only */
        k = calloc(1, sizeof(*k));
        if (!k)
            return MHD_NO;
        k->mc = mc;
        k->method = method;
        k->url = url;
        *con_cls = k;
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > KH_HTTP_BODY_MAX) { /* refuse without reading the body */
            static const char msg[] = "{\"error\":{\"code\":\"too_large\",\"message\":\"nội dung quá lớn / body too large\"}}";
            k->too_large = 1;
            kh_http_reply(k, 413, "application/json", "Connection: close\r\n", msg, sizeof(msg) - 1);
            return k->resp ? send_reply(k) : MHD_YES;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (k->too_large || k->len + n > KH_HTTP_BODY_MAX) {
            k->too_large = 1;
            return MHD_YES;
        }
        if (k->len + n > k->cap) {
            size_t nc = k->cap ? k->cap : 4096;
            while (nc < k->len + n)
                nc *= 2;
            if (nc > KH_HTTP_BODY_MAX)
                nc = KH_HTTP_BODY_MAX;
            char *nb = realloc(k->body, nc + 1);
            if (!nb)
                return MHD_NO;
            k->body = nb;
            k->cap = nc;
        }
        memcpy(k->body + k->len, upload_data, n);
        k->len += n;
        return MHD_YES;
    }
    if (k->resp) /* answered by a worker, which then resumed the connection */
        return send_reply(k);
    if (k->state == 3) /* the worker could not build an answer (out of memory) */
        return MHD_NO;
    if (k->state != 0) /* with a worker, or answered already */
        return MHD_YES;
    if (!k->replied) {
        pthread_mutex_lock(&s->m);
        int queued = !s->stopping;
        if (queued) { /* a worker runs the handler; the connection waits, the polling thread goes on */
            k->state = 1;
            MHD_suspend_connection(mc);
            if (s->tail)
                s->tail->next = k;
            else
                s->head = k;
            s->tail = k;
            pthread_cond_signal(&s->c);
        }
        pthread_mutex_unlock(&s->m);
        if (queued)
            return MHD_YES;
        run_handler(s, k); /* shutting down: inline */
    }
    return k->resp ? send_reply(k) : MHD_YES;
}

static void run_handler(kh_http_server *s, kh_http_conn *k)
{
    s->handler(k, s->payload);
    if (!k->replied) {
        static const char msg[] = "{\"error\":{\"code\":\"internal\",\"message\":\"no reply\"}}";
        kh_http_reply(k, 500, "application/json", NULL, msg, sizeof(msg) - 1);
    }
}

static void *worker(void *arg)
{
    kh_http_server *s = arg;
    pthread_mutex_lock(&s->m);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->c, &s->m);
        kh_http_conn *k = s->head;
        if (!k) /* stopping and nothing left */
            break;
        s->head = k->next;
        if (!s->head)
            s->tail = NULL;
        k->next = NULL;
        pthread_mutex_unlock(&s->m);
        run_handler(s, k);
        if (!k->resp)
            k->state = 3;
        MHD_resume_connection(k->mc); /* its polling thread calls on_request again and sends the answer */
        pthread_mutex_lock(&s->m);
    }
    pthread_mutex_unlock(&s->m);
    return NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap; /* TLS handshake failures of port scanners etc. are not ours to print */
}

int kh_http_server_start(kh_http_server **out, const kh_http_server_options *o, kh_http_handler h,
                         void *payload, char *err, size_t errsz)
{
    if (!out || !o || o->version != KH_HTTP_SERVER_OPTIONS_VERSION || !h || !o->listen || !o->cert_file ||
        !o->key_file || !o->ca_file)
        return KH_EINVAL;
    /* parse HOST:PORT / [V6]:PORT */
    char host[256];
    snprintf(host, sizeof(host), "%s", o->listen);
    char *colon = strrchr(host, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!colon || port <= 0 || port > 65535 || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        snprintf(err, errsz, "địa chỉ nghe không hợp lệ / invalid listen address '%s' (want HOST:PORT)", o->listen);
        return KH_EINVAL;
    }
    *colon = 0;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int v6 = 0;
    if (host[0] == '[') {
        size_t l = strlen(host);
        if (l < 3 || host[l - 1] != ']') {
            snprintf(err, errsz, "địa chỉ nghe không hợp lệ / invalid listen address '%s'", o->listen);
            return KH_EINVAL;
        }
        host[l - 1] = 0;
        memmove(host, host + 1, l - 1);
        v6 = 1;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            snprintf(err, errsz, "địa chỉ IPv6 không hợp lệ / invalid IPv6 address '%s'", host);
            return KH_EINVAL;
        }
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
            snprintf(err, errsz, "địa chỉ IPv4 không hợp lệ / invalid IPv4 address '%s' (use an IP address)", host);
            return KH_EINVAL;
        }
    }
    kh_http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    s->handler = h;
    s->payload = payload;
    s->key = slurp(o->key_file);
    s->cert = slurp(o->cert_file);
    s->ca = slurp(o->ca_file);
    if (!s->key || !s->cert || !s->ca) {
        snprintf(err, errsz, "không đọc được khóa/chứng thư / cannot read the server key, certificate or CA");
        kh_http_server_stop(s);
        return KH_EIO;
    }
    pthread_mutex_init(&s->m, NULL);
    pthread_cond_init(&s->c, NULL);
    s->nworkers = o->threads ? o->threads : 8;
    if (s->nworkers > 256)
        s->nworkers = 256;
    s->workers = calloc(s->nworkers, sizeof(pthread_t));
    if (!s->workers) {
        kh_http_server_stop(s);
        return KH_ENOMEM;
    }
    for (unsigned i = 0; i < s->nworkers; i++)
        if (pthread_create(&s->workers[i], NULL, worker, s) != 0) {
            s->nworkers = i;
            snprintf(err, errsz, "không tạo được luồng / cannot create worker threads");
            kh_http_server_stop(s);
            return KH_EIO;
        }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned pollers = ncpu < 1 ? 1u : ncpu > 4 ? 4u : (unsigned)ncpu;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME | (v6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_HTTPS_MEM_KEY, s->key,
                            MHD_OPTION_HTTPS_MEM_CERT, s->cert,
                            MHD_OPTION_HTTPS_MEM_TRUST, s->ca,
                            MHD_OPTION_HTTPS_PRIORITIES, kh_tls_server_priorities(),
                            MHD_OPTION_THREAD_POOL_SIZE, pollers,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)((o->timeout_ms ? o->timeout_ms : 30000) / 1000),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4000,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                            MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
                            MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errsz, "không mở được cổng / cannot start HTTPS on %s (address in use or not available?)", o->listen);
        kh_http_server_stop(s);
        return KH_EIO;
    }
    *out = s;
    return 0;
}

void kh_http_server_stop(kh_http_server *s)
{
    if (!s)
        return;
    if (s->workers) { /* finish the queued requests (they resume their connections), then stop */
        pthread_mutex_lock(&s->m);
        s->stopping = 1;
        pthread_cond_broadcast(&s->c);
        pthread_mutex_unlock(&s->m);
        for (unsigned i = 0; i < s->nworkers; i++)
            pthread_join(s->workers[i], NULL);
    }
    if (s->d)
        MHD_stop_daemon(s->d);
    if (s->workers) {
        pthread_mutex_destroy(&s->m);
        pthread_cond_destroy(&s->c);
        free(s->workers);
    }
    free(s->key);
    free(s->cert);
    free(s->ca);
    free(s);
}

const char *kh_http_method(const kh_http_conn *c)
{
    return c->method ? c->method : "";
}

const char *kh_http_path(const kh_http_conn *c)
{
    return c->url ? c->url : "/";
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    kh_http_conn *c = cls;
    size_t have = c->query ? strlen(c->query) : 0, need = strlen(key) + (value ? strlen(value) : 0) + 3;
    if (have + need > 8192)
        return MHD_NO;
    char *q = realloc(c->query, have + need);
    if (!q)
        return MHD_NO;
    snprintf(q + have, need, "%s%s%s%s", have ? "&" : "", key, value ? "=" : "", value ? value : "");
    c->query = q;
    return MHD_YES;
}

const char *kh_http_query(const kh_http_conn *c)
{
    kh_http_conn *m = (kh_http_conn *)c;
    if (!m->query)
        MHD_get_connection_values(m->mc, MHD_GET_ARGUMENT_KIND, add_arg, m);
    return m->query ? m->query : "";
}

int kh_http_query_get(const kh_http_conn *c, const char *name, char *buf, size_t size)
{
    const char *v = MHD_lookup_connection_value(c->mc, MHD_GET_ARGUMENT_KIND, name);
    if (!v || size == 0)
        return -1;
    size_t n = strlen(v);
    if (n >= size)
        return -2;
    memcpy(buf, v, n + 1);
    return (int)n;
}

const char *kh_http_header(const kh_http_conn *c, const char *name)
{
    return MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, name);
}

const char *kh_http_remote_addr(const kh_http_conn *c)
{
    kh_http_conn *m = (kh_http_conn *)c;
    if (!m->addr[0]) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(m->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        if (sa && sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, m->addr, sizeof(m->addr));
        else if (sa && sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, m->addr, sizeof(m->addr));
        else
            snprintf(m->addr, sizeof(m->addr), "?");
    }
    return m->addr;
}

int kh_http_read_body(kh_http_conn *c, char **out, size_t *len_out, size_t max)
{
    if (c->too_large || c->len > max)
        return KH_ELIMIT;
    char *b = malloc(c->len + 1);
    if (!b)
        return KH_ENOMEM;
    if (c->len)
        memcpy(b, c->body, c->len);
    b[c->len] = 0;
    *out = b;
    *len_out = c->len;
    return 0;
}

int kh_http_peer(const kh_http_conn *c, char cn[128], uint64_t *serial_out)
{
    const union MHD_ConnectionInfo *sc = MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    peer_cache *pc = sc ? sc->socket_context : NULL, tmp = {0, KH_ENOENT, "", 0};
    if (!pc)
        pc = &tmp;
    /* A connection's certificate cannot change: TLS 1.3 has no renegotiation
     * and GnuTLS refuses it in 1.2 unless asked for. */
    if (!pc->state) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        pc->state = 1;
        pc->rc = ci && ci->tls_session ? kh_tls_session_peer(ci->tls_session, pc->cn, &pc->serial) : KH_ENOENT;
    }
    if (pc->rc < 0)
        return pc->rc;
    if (cn)
        memcpy(cn, pc->cn, sizeof(pc->cn));
    if (serial_out)
        *serial_out = pc->serial;
    return 0;
}

int kh_http_reply(kh_http_conn *c, int status, const char *content_type, const char *headers, const void *body,
                  size_t len)
{
    if (c->replied)
        return KH_EIO;
    c->replied = 1;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return KH_ENOMEM;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type ? content_type : "application/json");
    MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    /* extra "Name: value\r\n" lines */
    const char *p = headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t l = eol ? (size_t)(eol - p) : strlen(p);
        char line[1024];
        if (l < sizeof(line)) {
            memcpy(line, p, l);
            line[l] = 0;
            char *colon = strchr(line, ':');
            if (colon) {
                *colon = 0;
                const char *v = colon + 1;
                while (*v == ' ')
                    v++;
                MHD_add_response_header(r, line, v);
            }
        }
        p = eol ? eol + 2 : p + l;
    }
    c->status = (unsigned int)status; /* queued by the connection's polling thread (on_request) */
    c->resp = r;
    return 0;
}
