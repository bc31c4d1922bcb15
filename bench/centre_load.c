/* Khiên — bench/centre_load: load generator for `khien server`.
 *
 * Simulates N agents on loopback, each enrolled with its own key and client
 * certificate (POST /api/v1/enroll with one enrollment token), then, for a
 * fixed time, has them send heartbeats and batches of events over mutual
 * TLS (keep-alive connections, raw HTTP/1.1 over OpenSSL). Reports events
 * accepted per second, request latency p50/p99, and writes every event id
 * that was acknowledged to a file so the caller can check that the
 * database holds each of them exactly once. A fraction of batches is sent
 * twice (as an agent retrying after a lost answer) to exercise dedup.
 *
 * Build: cc -O2 -o centre_load centre_load.c -lssl -lcrypto -lpthread
 * Run:   centre_load HOST PORT TOKEN AGENTS THREADS SECONDS BATCH RATE ACKFILE
 *        (RATE: target events/s in total, 0 = as fast as possible)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct agent {
    int id;
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    uint64_t seq;
    double next_hb;
} agent;

static const char *g_host;
static int g_port;
static int g_batch;
static double g_rate_per_thread;
static double g_end;
static FILE *g_ack;
static pthread_mutex_t g_ack_lock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)g_port);
    inet_pton(AF_INET, g_host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int ensure_conn(agent *a)
{
    if (a->ssl)
        return 0;
    a->fd = tcp_connect();
    if (a->fd < 0)
        return -1;
    a->ssl = SSL_new(a->ctx);
    SSL_set_fd(a->ssl, a->fd);
    if (SSL_connect(a->ssl) != 1) {
        SSL_free(a->ssl);
        a->ssl = NULL;
        close(a->fd);
        return -1;
    }
    return 0;
}

static void drop_conn(agent *a)
{
    if (a->ssl) {
        SSL_free(a->ssl);
        close(a->fd);
    }
    a->ssl = NULL;
}

/* One request/response on the agent's connection; returns status, body in buf. */
static int request(agent *a, const char *method, const char *path, const char *body, size_t blen, char *buf, size_t bufsz)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (ensure_conn(a) < 0)
            return -1;
        char hdr[512];
        int hl = snprintf(hdr, sizeof(hdr), "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                          method, path, g_host, blen);
        if (SSL_write(a->ssl, hdr, hl) <= 0 || (blen && SSL_write(a->ssl, body, (int)blen) <= 0)) {
            drop_conn(a);
            continue;
        }
        size_t n = 0;
        long clen = -1;
        char *bstart = NULL;
        while (n < bufsz - 1) {
            int r = SSL_read(a->ssl, buf + n, (int)(bufsz - 1 - n));
            if (r <= 0)
                break;
            n += (size_t)r;
            buf[n] = 0;
            if (!bstart && (bstart = strstr(buf, "\r\n\r\n"))) {
                bstart += 4;
                char *cl = strcasestr(buf, "Content-Length:");
                clen = cl ? strtol(cl + 15, NULL, 10) : 0;
            }
            if (bstart && (long)(n - (size_t)(bstart - buf)) >= clen)
                break;
        }
        if (!bstart) {
            drop_conn(a);
            continue;
        }
        int status = atoi(buf + 9);
        memmove(buf, bstart, n - (size_t)(bstart - buf) + 1);
        return status;
    }
    return -1;
}

static double *g_lat;
static size_t g_nlat, g_caplat;
static pthread_mutex_t g_lat_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_accepted, g_sent, g_failed, g_hb;

static void record(double ms)
{
    pthread_mutex_lock(&g_lat_lock);
    if (g_nlat == g_caplat) {
        g_caplat = g_caplat ? g_caplat * 2 : 65536;
        g_lat = realloc(g_lat, g_caplat * sizeof(double));
    }
    g_lat[g_nlat++] = ms;
    pthread_mutex_unlock(&g_lat_lock);
}

typedef struct worker {
    agent *agents;
    int n;
} worker;

static void *run(void *p)
{
    worker *w = p;
    size_t cap = (size_t)g_batch * 200 + 64;
    char *body = malloc(cap), *resp = malloc(1 << 20);
    double t0 = now_s();
    uint64_t sent_here = 0;
    int i = 0;
    while (now_s() < g_end) {
        if (g_rate_per_thread > 0) { /* pace */
            double due = t0 + (double)sent_here / g_rate_per_thread;
            double d = due - now_s();
            if (d > 0)
                usleep((useconds_t)(d * 1e6));
        }
        agent *a = &w->agents[i++ % w->n];
        double t = now_s();
        if (t >= a->next_hb) {
            double s = now_s();
            static const char hb[] = "{\"agent_version\":\"bench\",\"protection\":true}";
            int st = request(a, "POST", "/api/v1/agent/heartbeat", hb, sizeof(hb) - 1, resp, 1 << 20);
            record((now_s() - s) * 1000);
            __atomic_add_fetch(&g_hb, 1, __ATOMIC_RELAXED);
            if (st != 200)
                __atomic_add_fetch(&g_failed, 1, __ATOMIC_RELAXED);
            a->next_hb = t + 30;
        }
        uint64_t first = a->seq;
        size_t n = (size_t)snprintf(body, cap, "{\"events\":[");
        for (int k = 0; k < g_batch; k++)
            n += (size_t)snprintf(body + n, cap - n,
                                  "%s{\"id\":\"b%05d-%010llu\",\"type\":\"scan\",\"time\":\"2026-11-26T08:00:00Z\",\"data\":{\"files\":%d,\"found\":0}}",
                                  k ? "," : "", a->id, (unsigned long long)(a->seq++), k);
        n += (size_t)snprintf(body + n, cap - n, "]}");
        int repeat = (first / (uint64_t)g_batch) % 20 == 7 ? 2 : 1; /* 5 % of batches retried */
        for (int r = 0; r < repeat; r++) {
            double s = now_s();
            int st = request(a, "POST", "/api/v1/agent/events", body, n, resp, 1 << 20);
            record((now_s() - s) * 1000);
            if (st != 200) {
                __atomic_add_fetch(&g_failed, 1, __ATOMIC_RELAXED);
                continue;
            }
            if (r == 0) {
                /* count and log acknowledged ids */
                uint64_t acc = 0;
                pthread_mutex_lock(&g_ack_lock);
                for (char *q = strstr(resp, "\"accepted\":["); q && (q = strstr(q, "\"b")); q += 2) {
                    char *e = strchr(q + 1, '"');
                    if (!e)
                        break;
                    fprintf(g_ack, "%.*s\n", (int)(e - q - 1), q + 1);
                    acc++;
                    q = e - 1;
                }
                pthread_mutex_unlock(&g_ack_lock);
                __atomic_add_fetch(&g_accepted, acc, __ATOMIC_RELAXED);
            }
        }
        __atomic_add_fetch(&g_sent, (uint64_t)g_batch, __ATOMIC_RELAXED);
        sent_here += (uint64_t)g_batch;
    }
    free(body);
    free(resp);
    return NULL;
}

/* Enrollment: key + CSR, POST /enroll over TLS without a client certificate. */
static int enroll(agent *a, const char *token, SSL_CTX *plain)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_REQ *rq = X509_REQ_new();
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(rq), "CN", MBSTRING_ASC, (const unsigned char *)"bench", -1, -1, 0);
    X509_REQ_set_pubkey(rq, k);
    X509_REQ_sign(rq, k, EVP_sha256());
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(b, rq);
    char *pem = NULL;
    long pl = BIO_get_mem_data(b, &pem);
    char body[4096], esc[3000];
    size_t e = 0;
    for (long i = 0; i < pl && e < sizeof(esc) - 3; i++) {
        if (pem[i] == '\n') {
            esc[e++] = '\\';
            esc[e++] = 'n';
        } else
            esc[e++] = pem[i];
    }
    esc[e] = 0;
    int bl = snprintf(body, sizeof(body), "{\"token\":\"%s\",\"csr\":\"%s\",\"hostname\":\"bench-%d\"}", token, esc, a->id);
    agent tmp = {0};
    tmp.ctx = plain;
    char *resp = malloc(65536);
    int st = request(&tmp, "POST", "/api/v1/enroll", body, (size_t)bl, resp, 65536);
    drop_conn(&tmp);
    BIO_free(b);
    X509_REQ_free(rq);
    if (st != 201) {
        fprintf(stderr, "enroll %d: HTTP %d %s\n", a->id, st, resp);
        free(resp);
        EVP_PKEY_free(k);
        return -1;
    }
    char *c = strstr(resp, "\"certificate\":\"");
    char cert[4096];
    size_t n = 0;
    for (c += 15; *c && *c != '"' && n < sizeof(cert) - 1; c++) {
        if (*c == '\\' && c[1] == 'n') {
            cert[n++] = '\n';
            c++;
        } else
            cert[n++] = *c;
    }
    cert[n] = 0;
    free(resp);
    BIO *cb = BIO_new_mem_buf(cert, -1);
    X509 *x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    BIO_free(cb);
    a->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(a->ctx, SSL_VERIFY_NONE, NULL); /* loopback benchmark: the server is ours */
    if (!x || SSL_CTX_use_certificate(a->ctx, x) != 1 || SSL_CTX_use_PrivateKey(a->ctx, k) != 1) {
        fprintf(stderr, "enroll %d: bad certificate\n", a->id);
        return -1;
    }
    X509_free(x);
    EVP_PKEY_free(k);
    return 0;
}

/* CPU seconds (user + system) used so far by process pid (0: none). */
static double proc_cpu_s(long pid)
{
    char path[64], buf[1024];
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct enroller {
    agent *agents;
    int n, failed;
    const char *token;
    SSL_CTX *plain;
} enroller;

static void *enroll_some(void *p)
{
    enroller *e = p;
    for (int i = 0; i < e->n && !e->failed; i++)
        if (enroll(&e->agents[i], e->token, e->plain) < 0)
            e->failed = 1;
    return NULL;
}

static int cmpd(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: %s HOST PORT TOKEN AGENTS THREADS SECONDS BATCH RATE ACKFILE\n", argv[0]);
        return 2;
    }
    /* The server closes a keep-alive connection idle for 30 s; writing to it must
     * fail with EPIPE (request() then reconnects, as an agent's libcurl does),
     * not kill the generator with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    g_host = argv[1];
    g_port = atoi(argv[2]);
    const char *token = argv[3];
    int nagents = atoi(argv[4]), nthreads = atoi(argv[5]);
    double secs = atof(argv[6]);
    g_batch = atoi(argv[7]);
    double rate = atof(argv[8]);
    g_ack = fopen(argv[9], "w");
    if (!g_ack || nagents < 1 || nthreads < 1 || g_batch < 1)
        return 2;
    SSL_CTX *plain = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(plain, SSL_VERIFY_NONE, NULL);
    agent *agents = calloc((size_t)nagents, sizeof(agent));
    double t0 = now_s();
    for (int i = 0; i < nagents; i++)
        agents[i].id = i;
    /* enrolled by 8 threads at once, as a fleet starting up would */
    enum { NENROLL = 8 };
    enroller en[NENROLL];
    pthread_t eth[NENROLL];
    int eper = (nagents + NENROLL - 1) / NENROLL;
    for (int t = 0; t < NENROLL; t++) {
        int from = t * eper > nagents ? nagents : t * eper, to = from + eper > nagents ? nagents : from + eper;
        en[t] = (enroller){agents + from, to - from, 0, token, plain};
        pthread_create(&eth[t], NULL, enroll_some, &en[t]);
    }
    int efail = 0;
    for (int t = 0; t < NENROLL; t++) {
        pthread_join(eth[t], NULL);
        efail |= en[t].failed;
    }
    if (efail)
        return 1;
    fprintf(stderr, "enrolled %d agents in %.1f s\n", nagents, now_s() - t0);
    g_rate_per_thread = rate > 0 ? rate / nthreads : 0;
    worker *w = calloc((size_t)nthreads, sizeof(worker));
    pthread_t *th = calloc((size_t)nthreads, sizeof(pthread_t));
    int per = (nagents + nthreads - 1) / nthreads;
    const char *sp = getenv("SERVER_PID");
    long spid = sp ? atol(sp) : 0;
    double scpu0 = proc_cpu_s(spid), lcpu0 = proc_cpu_s((long)getpid());
    g_end = now_s() + secs;
    double start = now_s();
    for (int t = 0; t < nthreads; t++) {
        int from = t * per, to = from + per > nagents ? nagents : from + per;
        w[t].agents = agents + from;
        w[t].n = to - from;
        if (w[t].n > 0)
            pthread_create(&th[t], NULL, run, &w[t]);
    }
    for (int t = 0; t < nthreads; t++)
        if (w[t].n > 0)
            pthread_join(th[t], NULL);
    double el = now_s() - start;
    double scpu = proc_cpu_s(spid) - scpu0, lcpu = proc_cpu_s((long)getpid()) - lcpu0;
    fclose(g_ack);
    qsort(g_lat, g_nlat, sizeof(double), cmpd);
    double p50 = g_nlat ? g_lat[g_nlat / 2] : 0, p99 = g_nlat ? g_lat[(size_t)(g_nlat * 0.99)] : 0;
    printf("agents=%d threads=%d seconds=%.1f batch=%d\n", nagents, nthreads, el, g_batch);
    printf("events_sent=%llu events_accepted=%llu events_per_s=%.0f heartbeats=%llu failed_requests=%llu\n",
           (unsigned long long)g_sent, (unsigned long long)g_accepted, g_accepted / el, (unsigned long long)g_hb,
           (unsigned long long)g_failed);
    printf("requests=%zu latency_ms_p50=%.1f latency_ms_p99=%.1f\n", g_nlat, p50, p99);
    if (spid)
        printf("server_cpu_s=%.1f server_cpu_us_per_event=%.0f loadgen_cpu_s=%.1f (2 cores = %.0f cpu-s available)\n", scpu,
               g_accepted ? scpu * 1e6 / (double)g_accepted : 0, lcpu, 2 * el);
    return 0;
}
