/* Tests for src/net/http_client.c that need no server: option checks, URL
 * and scheme refusals, header injection, an unreachable port. Real TLS
 * (pinning, client certificates, size limits) is exercised by
 * tests/cli/agent_centre.sh, agent_e2e.sh and update_http.sh. */
#define _GNU_SOURCE
#include <string.h>

#include "harness.h"
#include "khien/error.h"
#include "net/http_client.h"

KT_TEST(options_checked)
{
    kh_http_client *c = NULL;
    kh_http_options o = KH_HTTP_OPTIONS_INIT;
    o.version = 99;
    KT_EQ_INT(kh_http_client_create(&c, &o), KH_EINVAL);
    o = (kh_http_options)KH_HTTP_OPTIONS_INIT;
    o.cert_file = "cert.pem"; /* a certificate without its key */
    KT_EQ_INT(kh_http_client_create(&c, &o), KH_EINVAL);
    KT_CHECK(c == NULL);
    KT_EQ_INT(kh_http_client_create(&c, NULL), 0);
    KT_EQ_STR(kh_http_client_last_error(c), "");
    kh_http_client_destroy(c);
    kh_http_client_destroy(NULL);
    kh_http_response_dispose(NULL);
}

KT_TEST(urls_and_schemes)
{
    kh_http_client *c = NULL;
    kh_http_options o = KH_HTTP_OPTIONS_INIT;
    o.https_only = 1;
    KT_EQ_INT(kh_http_client_create(&c, &o), 0);
    kh_http_response r = {0};
    KT_EQ_INT(kh_http_get(c, &r, "http://127.0.0.1:1/x"), KH_EINVAL);
    KT_CHECK(strstr(kh_http_client_last_error(c), "only https:// URLs") != NULL);
    KT_EQ_INT(kh_http_get(c, &r, "file:///etc/passwd"), KH_EINVAL);
    KT_EQ_INT(kh_http_get(c, &r, ""), KH_EINVAL);
    KT_EQ_INT(kh_http_get(c, &r, NULL), KH_EINVAL);
    const char *evil[] = {"X-A: 1\r\nX-B: 2", NULL};
    KT_EQ_INT(kh_http_request(c, &r, "GET", "https://127.0.0.1:1/", NULL, NULL, 0, evil), KH_EINVAL);
    KT_CHECK(r.body == NULL);
    kh_http_client_destroy(c);
}

KT_TEST(unreachable_port)
{
    kh_http_client *c = NULL;
    kh_http_options o = KH_HTTP_OPTIONS_INIT;
    o.connect_timeout_ms = 2000;
    KT_EQ_INT(kh_http_client_create(&c, &o), 0);
    kh_http_response r = {0};
    KT_EQ_INT(kh_http_get(c, &r, "https://127.0.0.1:1/api"), KH_EIO);
    KT_CHECK(strstr(kh_http_client_last_error(c), "cannot connect to the server") != NULL);
    KT_CHECK(strstr(kh_http_client_last_error(c), "không kết nối được") != NULL);
    long st = -1;
    KT_EQ_INT(kh_http_get_file(c, "http://127.0.0.1:1/f", "/nonexistent-dir/f", &st), KH_EIO);
    kh_http_client_destroy(c);
}

KT_MAIN({
    KT_CASE(options_checked),
    KT_CASE(urls_and_schemes),
    KT_CASE(unreachable_port),
})
