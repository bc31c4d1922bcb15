/* Khiên — agent/enroll: joining this machine to a centre.
 *
 * Trust starts from the fingerprint the administrator typed: the centre's CA
 * certificate is fetched without verification (nothing secret is sent on
 * that connection), its SHA-256 is compared with --ca-sha256, and on a
 * mismatch enrollment stops there. From then on the agent trusts that CA
 * and nothing else: the token, the certificate request and every later
 * request travel over TLS verified against it. The private key is made on
 * this machine and never leaves it. What comes back (client certificate,
 * host id, unit, the centre's bundle-signing public key) is checked (the
 * certificate must be issued by the pinned CA) and stored in the state
 * folder, agent.json last: its presence means "enrolled".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "khien/common.h"
#include "khien/error.h"
#include "net/http_client.h"
#include "net/pki.h"
#include "util/util.h"

#define MAX_TOKEN 512

/* The centre's error message from {"error": {"message": ...}}, else the body's start. */
static void server_message(char *out, size_t n, const kh_http_response *r)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    const char *m = kh_agent_json_str(json_object_get(j, "error"), "message");
    if (m)
        snprintf(out, n, "%s", m);
    else
        snprintf(out, n, "HTTP %ld: %.200s", r->status, r->body ? r->body : "");
    json_decref(j);
}

static int strip_slash_url(char *out, size_t n, const char *url)
{
    if (snprintf(out, n, "%s", url) >= (int)n)
        return KH_ELIMIT;
    size_t l = strlen(out);
    while (l && out[l - 1] == '/')
        out[--l] = 0;
    return 0;
}

int kh_agent_enroll(const kh_agent_enroll_options *o)
{
    kh_agent_log lg = {o ? o->log : NULL, o ? o->payload : NULL};
    if (!o || !o->server || !o->token || !o->ca_sha256) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "thiếu --server, --token hoặc --ca-sha256 / --server, --token and --ca-sha256 are required");
        return KH_EINVAL;
    }
    const char *dir = o->dir ? o->dir : KH_AGENT_DEFAULT_DIR;
    char base[KH_AGENT_URL_MAX], url[KH_AGENT_URL_MAX + 64], want[KH_PKI_FPR_HEX], got[KH_PKI_FPR_HEX];
    char err[1024] = "", msg[1024];
    kh_http_client *insecure = NULL, *pinned = NULL;
    kh_http_response resp = {0};
    char *ca = NULL, *key = NULL, *csr = NULL, *body = NULL;
    json_t *reply = NULL;
    int rc;

    if (strncmp(o->server, "https://", 8) != 0 || strip_slash_url(base, sizeof(base), o->server) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "địa chỉ máy chủ phải bắt đầu bằng https:// / the server URL must start with https://: %s",
                      o->server);
        return KH_EINVAL;
    }
    if (!*o->token || strlen(o->token) > MAX_TOKEN) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "mã đăng ký không hợp lệ / bad enrollment token");
        return KH_EINVAL;
    }
    if (kh_pki_fpr_normalize(want, o->ca_sha256) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR,
                      "dấu vân tay CA phải là 64 chữ số hex (SHA-256) / the CA fingerprint must be 64 hex digits "
                      "(SHA-256): %s",
                      o->ca_sha256);
        return KH_EINVAL;
    }
    char path[4096];
    if ((rc = kh_agent_state_dir(dir, err, sizeof(err))) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "%s", err);
        return rc;
    }
    kh_platform_path_join(path, sizeof(path), dir, "agent.json");
    if (!o->force && access(path, F_OK) == 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR,
                      "máy này đã đăng ký (%s); dùng --force để đăng ký lại / this host is already enrolled (%s); use "
                      "--force to enroll again",
                      path, path);
        return KH_EINVAL;
    }

    /* 1. The CA certificate, unverified, checked against the fingerprint. */
    kh_http_options ho = KH_HTTP_OPTIONS_INIT;
    ho.insecure = 1;
    ho.https_only = 1;
    ho.max_response = KH_PKI_PEM_MAX;
    ho.timeout_ms = 30000;
    if ((rc = kh_http_client_create(&insecure, &ho)) < 0)
        goto done;
    snprintf(url, sizeof(url), "%s/api/v1/enroll/ca", base);
    if ((rc = kh_http_get(insecure, &resp, url)) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "%s", kh_http_client_last_error(insecure));
        goto done;
    }
    if (resp.status != 200) {
        server_message(msg, sizeof(msg), &resp);
        kh_agent_logf(&lg, KH_LOG_ERROR, "máy chủ không trả về chứng thư CA / the server did not return its CA certificate: %s",
                      msg);
        rc = KH_EFORMAT;
        goto done;
    }
    ca = resp.body;
    resp.body = NULL;
    if (kh_pki_cert_sha256(got, ca, err, sizeof(err)) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "chứng thư CA của máy chủ không đọc được / the server's CA certificate is unreadable: %s",
                      err);
        rc = KH_EFORMAT;
        goto done;
    }
    if (strcmp(got, want) != 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR,
                      "dấu vân tay CA không khớp: mong đợi %s, máy chủ đưa %s; không gửi gì cả / CA fingerprint "
                      "mismatch: expected %s, the server presented %s; nothing was sent",
                      want, got, want, got);
        rc = KH_EACCES;
        goto done;
    }

    /* 2. Key and CSR made here; the key never leaves this machine. */
    char host[256] = "";
    if (o->hostname)
        snprintf(host, sizeof(host), "%s", o->hostname);
    else if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    if ((rc = kh_pki_csr_create(&key, &csr, host, err, sizeof(err))) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "không tạo được khoá / cannot create the key: %s", err);
        goto done;
    }

    /* 3. Token + CSR over TLS verified against the pinned CA only. */
    ho = (kh_http_options)KH_HTTP_OPTIONS_INIT;
    ho.ca_pem = ca;
    ho.https_only = 1;
    ho.max_response = 1 << 20;
    ho.timeout_ms = 60000;
    if ((rc = kh_http_client_create(&pinned, &ho)) < 0)
        goto done;
    char osn[256];
    kh_inventory_os_name(osn, sizeof(osn), NULL);
    json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "token", o->token, "csr", csr, "hostname", host, "os", osn,
                            "agent_version", KH_VERSION_STRING);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        rc = KH_ENOMEM;
        goto done;
    }
    snprintf(url, sizeof(url), "%s/api/v1/enroll", base);
    if ((rc = kh_http_request(pinned, &resp, "POST", url, NULL, body, strlen(body), NULL)) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "%s", kh_http_client_last_error(pinned));
        goto done;
    }
    if (resp.status != 201 && resp.status != 200) {
        server_message(msg, sizeof(msg), &resp);
        kh_agent_logf(&lg, KH_LOG_ERROR, "trung tâm từ chối đăng ký / the centre refused the enrollment: %s", msg);
        rc = resp.status == 403 || resp.status == 401 ? KH_EACCES : KH_EFORMAT;
        goto done;
    }
    reply = json_loadb(resp.body, resp.len, 0, NULL);
    const char *cert = kh_agent_json_str(reply, "certificate");
    const char *pk = kh_agent_json_str(reply, "bundle_public_key");
    json_t *hid = json_object_get(reply, "host_id"), *uid = json_object_get(reply, "unit_id");
    if (!cert || !pk || !(json_is_integer(hid) || json_is_string(hid))) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "trả lời đăng ký sai định dạng / malformed enrollment answer");
        rc = KH_EFORMAT;
        goto done;
    }
    if (kh_pki_cert_verify(cert, ca, err, sizeof(err)) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "chứng thư nhận được không do CA đã ghim cấp / the certificate received was not issued by the pinned CA: %s",
                      err);
        rc = KH_EACCES;
        goto done;
    }
    kh_agent_conf c;
    memset(&c, 0, sizeof(c));
    snprintf(c.server, sizeof(c.server), "%s", base);
    snprintf(c.hostname, sizeof(c.hostname), "%s", host);
    if (json_is_integer(hid))
        snprintf(c.host_id, sizeof(c.host_id), "%lld", (long long)json_integer_value(hid));
    else
        snprintf(c.host_id, sizeof(c.host_id), "%s", json_string_value(hid));
    if (json_is_integer(uid))
        snprintf(c.unit, sizeof(c.unit), "%lld", (long long)json_integer_value(uid));
    else if (json_is_string(uid))
        snprintf(c.unit, sizeof(c.unit), "%s", json_string_value(uid));
    snprintf(c.ca_sha256, sizeof(c.ca_sha256), "%s", want);
    if (strlen(pk) != 2 * KH_SIGN_PK_BYTES || kh_sign_hex2bin(c.sign_pk, KH_SIGN_PK_BYTES, pk) < 0) {
        kh_agent_logf(&lg, KH_LOG_ERROR, "khoá công khai ký gói sai định dạng / malformed bundle public key");
        rc = KH_EFORMAT;
        goto done;
    }
    c.has_sign_pk = 1;

    /* 4. Store: key, certificate, CA, then agent.json (the "enrolled" mark). */
    kh_platform_path_join(path, sizeof(path), dir, "key.pem");
    if ((rc = kh_platform_write_durable(path, key, strlen(key), 0600)) < 0)
        goto write_failed;
    kh_platform_path_join(path, sizeof(path), dir, "cert.pem");
    if ((rc = kh_platform_write_durable(path, cert, strlen(cert), 0600)) < 0)
        goto write_failed;
    kh_platform_path_join(path, sizeof(path), dir, "ca.pem");
    if ((rc = kh_platform_write_durable(path, ca, strlen(ca), 0644)) < 0)
        goto write_failed;
    if ((rc = kh_agent_conf_save(&c, dir)) < 0) {
        kh_platform_path_join(path, sizeof(path), dir, "agent.json");
        goto write_failed;
    }
    kh_agent_logf(&lg, KH_LOG_INFO,
                  "đã đăng ký: máy số %s, đơn vị %s, trung tâm %s / enrolled: host %s, unit %s, centre %s (state: %s)",
                  c.host_id, c.unit, base, c.host_id, c.unit, base, dir);
    rc = 0;
    goto done;
write_failed:
    kh_agent_logf(&lg, KH_LOG_ERROR, "không ghi được / cannot write %s: %s", path, kh_strerror(rc));
done:
    json_decref(reply);
    free(body);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    free(csr);
    free(ca);
    kh_http_response_dispose(&resp);
    kh_http_client_destroy(insecure);
    kh_http_client_destroy(pinned);
    return rc;
}
