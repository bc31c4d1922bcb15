/* Khiên — net/http_client: HTTP(S) requests over libcurl.
 *
 * The agent talks to the centre through this file (mutual TLS, the centre's
 * CA as the only trust anchor), enrollment fetches the CA certificate with
 * verification off so that its fingerprint can be compared with the one the
 * administrator typed, and updates download from mirrors with the system's
 * CA store. Nothing else in Khiên includes <curl/curl.h>.
 *
 * One easy handle per client: curl_easy_reset() between requests keeps the
 * live connection and TLS session, so an agent sending batch after batch
 * does one handshake. Every request has a connect timeout, a total timeout,
 * a protocol whitelist (https, or http+https), and a ceiling on the bytes it
 * accepts: a hostile or broken server can make a request fail, never make
 * the client grow without bound or wait forever. TLS 1.2 is the minimum.
 *
 * Not here: retries and backoff (the caller decides, see agent/), JSON, and
 * anything about the meaning of the requests.
 */
#define _GNU_SOURCE
#include "net/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "khien/common.h"
#include "khien/error.h"
#include "khien/platform.h"
#include "util/util.h"

#define DEF_CONNECT_MS 10000u
#define DEF_TIMEOUT_MS 60000u
#define DEF_MAX_RESPONSE (16u << 20)
#define DEF_MAX_DOWNLOAD (1ull << 30)
#define MAX_REDIRS 5L
#define MAX_URL 8192

struct kh_http_client {
    CURL *curl;
    kh_http_options o;
    char *ca_file, *ca_pem, *cert_file, *key_file, *user_agent; /* owned copies */
    char err[1024];
    char curl_err[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : KH_EINTERNAL;
}

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = kh_strdup(src);
    return *dst ? 0 : KH_ENOMEM;
}

void kh_http_client_destroy(kh_http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->ca_file);
    free(c->ca_pem);
    free(c->cert_file);
    free(c->key_file);
    free(c->user_agent);
    free(c);
}

int kh_http_client_create(kh_http_client **out, const kh_http_options *opts)
{
    kh_http_options def = KH_HTTP_OPTIONS_INIT;
    if (!out)
        return KH_EINVAL;
    if (!opts)
        opts = &def;
    if (opts->version != KH_HTTP_OPTIONS_VERSION)
        return KH_EINVAL;
    if ((opts->cert_file == NULL) != (opts->key_file == NULL))
        return KH_EINVAL;
    pthread_once(&global_once, global_init);
    if (global_rc)
        return global_rc;
    kh_http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return KH_ENOMEM;
    c->o = *opts;
    int rc = 0;
    if ((rc = dup_opt(&c->ca_file, opts->ca_file)) || (rc = dup_opt(&c->ca_pem, opts->ca_pem)) ||
        (rc = dup_opt(&c->cert_file, opts->cert_file)) || (rc = dup_opt(&c->key_file, opts->key_file)))
        goto fail;
    if (opts->user_agent)
        rc = dup_opt(&c->user_agent, opts->user_agent);
    else
        rc = dup_opt(&c->user_agent, "khien/" KH_VERSION_STRING);
    if (rc)
        goto fail;
    c->o.ca_file = c->ca_file;
    c->o.ca_pem = c->ca_pem;
    c->o.cert_file = c->cert_file;
    c->o.key_file = c->key_file;
    c->o.user_agent = c->user_agent;
    if (!c->o.connect_timeout_ms)
        c->o.connect_timeout_ms = DEF_CONNECT_MS;
    if (!c->o.timeout_ms)
        c->o.timeout_ms = DEF_TIMEOUT_MS;
    if (!c->o.max_response)
        c->o.max_response = DEF_MAX_RESPONSE;
    if (!c->o.max_download)
        c->o.max_download = DEF_MAX_DOWNLOAD;
    c->curl = curl_easy_init();
    if (!c->curl) {
        rc = KH_EINTERNAL;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    kh_http_client_destroy(c);
    return rc;
}

const char *kh_http_client_last_error(const kh_http_client *c)
{
    return c ? c->err : "";
}

void kh_http_response_dispose(kh_http_response *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

/* ---- transfer sinks ----------------------------------------------------- */

typedef struct sink {
    kh_http_client *c;
    kh_buf *buf;    /* to memory, or */
    int fd;         /* to a file */
    uint64_t written, limit;
    int too_big, write_failed;
} sink;

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    if (s->written + len > s->limit) {
        s->too_big = 1;
        return 0;
    }
    if (s->buf) {
        if (kh_buf_append(s->buf, p, len) < 0) {
            s->too_big = 1;
            return 0;
        }
    } else {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(s->fd, p + off, len - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                s->write_failed = errno;
                return 0;
            }
            off += (size_t)w;
        }
    }
    s->written += len;
    return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    kh_http_client *c = ud;
    KH_UNUSED(dt);
    KH_UNUSED(dn);
    KH_UNUSED(ut);
    KH_UNUSED(un);
    return c->o.cancel && *c->o.cancel ? 1 : 0;
}

/* ---- one request ------------------------------------------------------------ */

static void set_err(kh_http_client *c, const char *url, const char *vi, const char *en)
{
    const char *detail = c->curl_err[0] ? c->curl_err : "";
    snprintf(c->err, sizeof(c->err), "%s / %s: %.400s%s%.400s", vi, en, url ? url : "", *detail ? ": " : "", detail);
}

static int map_curl_error(kh_http_client *c, CURLcode cc, const sink *s, const char *url)
{
    switch (cc) {
    case CURLE_OK:
        return 0;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (s->write_failed) {
            snprintf(c->err, sizeof(c->err), "không ghi được tệp tải về / cannot write the download: %s",
                     strerror(s->write_failed));
            return KH_EIO;
        }
        snprintf(c->err, sizeof(c->err),
                 "phản hồi quá lớn (giới hạn %llu byte) / response too large (limit %llu bytes): %.400s",
                 (unsigned long long)s->limit, (unsigned long long)s->limit, url);
        return KH_ELIMIT;
    case CURLE_ABORTED_BY_CALLBACK:
        set_err(c, url, "đã huỷ", "cancelled");
        return KH_EUSER;
    case CURLE_OPERATION_TIMEDOUT:
        set_err(c, url, "hết thời gian chờ máy chủ", "timed out");
        return KH_ETIMEOUT;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        set_err(c, url, "địa chỉ không hợp lệ hoặc giao thức không được phép",
                "bad URL or protocol not allowed");
        return KH_EINVAL;
    case CURLE_OUT_OF_MEMORY:
        set_err(c, url, "hết bộ nhớ", "out of memory");
        return KH_ENOMEM;
    case CURLE_PEER_FAILED_VERIFICATION:
        set_err(c, url, "chứng thư của máy chủ không được CA đã ghim xác nhận",
                "the server's certificate is not vouched for by the pinned CA");
        return KH_EACCES;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CLIENTCERT:
        set_err(c, url, "lỗi chứng thư TLS", "TLS certificate problem");
        return KH_EACCES;
    case CURLE_SSL_CONNECT_ERROR:
        set_err(c, url, "bắt tay TLS thất bại (chứng thư bị từ chối?)",
                "TLS handshake failed (certificate refused?)");
        return KH_EACCES;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        set_err(c, url, "không phân giải được tên máy chủ", "cannot resolve the server's name");
        return KH_EIO;
    case CURLE_COULDNT_CONNECT:
        set_err(c, url, "không kết nối được tới máy chủ", "cannot connect to the server");
        return KH_EIO;
    case CURLE_TOO_MANY_REDIRECTS:
        set_err(c, url, "quá nhiều chuyển hướng", "too many redirects");
        return KH_EIO;
    default:
        /* The server closing the connection right after the handshake
         * (TLS 1.3 sends its verdict on our certificate after it) lands here. */
        if (strstr(c->curl_err, "alert") || strstr(c->curl_err, "certificate")) {
            set_err(c, url, "máy chủ từ chối chứng thư của máy này", "the server refused this host's certificate");
            return KH_EACCES;
        }
        set_err(c, url, "lỗi kết nối", "connection error");
        return KH_EIO;
    }
}

static int setup(kh_http_client *c, const char *url, sink *s)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    c->curl_err[0] = 0;
    int bad = 0;
#define SET(opt, val) bad |= curl_easy_setopt(h, opt, val) != CURLE_OK
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, c->curl_err);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, c->o.https_only ? "https" : "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, c->o.https_only ? "https" : "http,https");
    SET(CURLOPT_FOLLOWLOCATION, c->o.follow_redirects ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, MAX_REDIRS);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
    SET(CURLOPT_USERAGENT, c->o.user_agent);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    if (c->o.insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->o.ca_file || c->o.ca_pem) {
        /* The pinned CA and nothing else: no system bundle, no CA path. */
        SET(CURLOPT_CAPATH, (char *)NULL);
        if (c->o.ca_file) {
            SET(CURLOPT_CAINFO, c->o.ca_file);
        } else {
            struct curl_blob blob = {(void *)c->o.ca_pem, strlen(c->o.ca_pem), CURL_BLOB_COPY};
            SET(CURLOPT_CAINFO, (char *)NULL);
            SET(CURLOPT_CAINFO_BLOB, &blob);
        }
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (c->o.cert_file) {
        SET(CURLOPT_SSLCERT, c->o.cert_file);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
        SET(CURLOPT_SSLKEY, c->o.key_file);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->limit);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, c);
#undef SET
    if (bad) {
        snprintf(c->err, sizeof(c->err), "libcurl không nhận tuỳ chọn / libcurl refused an option");
        return KH_EINTERNAL;
    }
    return 0;
}

static int check_url(kh_http_client *c, const char *url)
{
    if (!url || !*url || strlen(url) > MAX_URL) {
        snprintf(c->err, sizeof(c->err), "địa chỉ không hợp lệ / bad URL");
        return KH_EINVAL;
    }
    if (strncmp(url, "https://", 8) != 0 && (c->o.https_only || strncmp(url, "http://", 7) != 0)) {
        snprintf(c->err, sizeof(c->err), "chỉ chấp nhận địa chỉ %s / only %s URLs are accepted: %.400s",
                 c->o.https_only ? "https://" : "http(s)://", c->o.https_only ? "https://" : "http(s)://", url);
        return KH_EINVAL;
    }
    return 0;
}

int kh_http_request(kh_http_client *c, kh_http_response *resp, const char *method, const char *url,
                    const char *content_type, const void *body, size_t len, const char *const *headers)
{
    if (!c || !resp || !method || (len && !body))
        return KH_EINVAL;
    c->err[0] = 0;
    int rc = check_url(c, url);
    if (rc)
        return rc;
    kh_buf buf = KH_BUF_INIT(c->o.max_response + 1);
    sink s = {c, &buf, -1, 0, c->o.max_response, 0, 0};
    struct curl_slist *hl = NULL, *t;
    if ((rc = setup(c, url, &s)) < 0)
        goto done;
    CURL *h = c->curl;
    int bad = 0;
    if (strcmp(method, "GET") == 0) {
        bad |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK;
    } else {
        if (strcmp(method, "POST") != 0)
            bad |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
        bad |= curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK;
        bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK;
        bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, len ? body : "") != CURLE_OK;
    }
    char ct[256];
    if (len || content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
        if (!(t = curl_slist_append(hl, ct)))
            goto nomem;
        hl = t;
    }
    if (!(t = curl_slist_append(hl, "Expect:")))
        goto nomem;
    hl = t;
    for (size_t i = 0; headers && headers[i]; i++) {
        if (strchr(headers[i], '\r') || strchr(headers[i], '\n')) {
            snprintf(c->err, sizeof(c->err), "tiêu đề không hợp lệ / bad header line");
            rc = KH_EINVAL;
            goto done;
        }
        if (!(t = curl_slist_append(hl, headers[i])))
            goto nomem;
        hl = t;
    }
    bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl) != CURLE_OK;
    if (bad) {
        snprintf(c->err, sizeof(c->err), "libcurl không nhận tuỳ chọn / libcurl refused an option");
        rc = KH_EINTERNAL;
        goto done;
    }
    CURLcode cc = curl_easy_perform(h);
    if ((rc = map_curl_error(c, cc, &s, url)) < 0)
        goto done;
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    if (!buf.data && kh_buf_reserve(&buf, 1) < 0)
        goto nomem;
    resp->status = status;
    resp->content_type[0] = 0;
    if (ctype)
        snprintf(resp->content_type, sizeof(resp->content_type), "%s", ctype);
    resp->body = kh_buf_detach(&buf, &resp->len);
    rc = 0;
    goto done;
nomem:
    snprintf(c->err, sizeof(c->err), "hết bộ nhớ / out of memory");
    rc = KH_ENOMEM;
done:
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_slist_free_all(hl);
    kh_buf_dispose(&buf);
    return rc;
}

int kh_http_get(kh_http_client *c, kh_http_response *resp, const char *url)
{
    return kh_http_request(c, resp, "GET", url, NULL, NULL, 0, NULL);
}

int kh_http_get_file(kh_http_client *c, const char *url, const char *path, long *status_out)
{
    if (!c || !path || !*path)
        return KH_EINVAL;
    c->err[0] = 0;
    int rc = check_url(c, url);
    if (rc)
        return rc;
    kh_buf part = KH_BUF_INIT(8192);
    if (kh_buf_printf(&part, "%s.part", path) < 0)
        return KH_ENOMEM;
    int fd = open(part.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        snprintf(c->err, sizeof(c->err), "không tạo được tệp / cannot create %s: %s", part.data, strerror(errno));
        kh_buf_dispose(&part);
        return KH_EIO;
    }
    sink s = {c, NULL, fd, 0, c->o.max_download, 0, 0};
    int keep = 0;
    if ((rc = setup(c, url, &s)) < 0)
        goto done;
    curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    CURLcode cc = curl_easy_perform(c->curl);
    if ((rc = map_curl_error(c, cc, &s, url)) < 0)
        goto done;
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status_out)
        *status_out = status;
    if (status < 200 || status > 299) {
        rc = 0; /* an HTTP exchange happened: the caller reads the status */
        goto done;
    }
    if (fsync(fd) != 0) {
        snprintf(c->err, sizeof(c->err), "không ghi được tệp / cannot write %s: %s", part.data, strerror(errno));
        rc = KH_EIO;
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(c->err, sizeof(c->err), "không ghi được tệp / cannot write %s: %s", part.data, strerror(errno));
        rc = KH_EIO;
        goto done;
    }
    fd = -1;
    if (rename(part.data, path) != 0) {
        snprintf(c->err, sizeof(c->err), "không đổi tên được / cannot rename %s: %s", part.data, strerror(errno));
        rc = KH_EIO;
        goto done;
    }
    keep = 1;
    rc = kh_platform_sync_parent(path);
done:
    if (fd >= 0)
        close(fd);
    if (!keep)
        unlink(part.data);
    kh_buf_dispose(&part);
    return rc;
}
