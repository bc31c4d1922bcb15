/* Khiên — net/tls: the TLS policy of the centre (OpenSSL).
 *
 * Every HTTPS listener of the centre goes through kh_tls_server_ctx_harden:
 * TLS 1.2 as the floor (the directive's networks still have old Windows
 * clients that speak 1.2), ECDHE with AES-GCM or ChaCha20 only, TLS 1.3
 * suites as OpenSSL defaults them. Client certificates are verified by the
 * HTTP server against the centre's CA; this file only reads who the peer
 * is (CN and serial), which the server then looks up in its database.
 */
#include "net/tls.h"

#include <openssl/asn1.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#include "khien/error.h"

int kh_tls_server_ctx_harden(void *ssl_ctx)
{
    SSL_CTX *ctx = ssl_ctx;
    if (!ctx)
        return KH_EINVAL;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        return KH_EINTERNAL;
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (!SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20"))
        return KH_EINTERNAL;
    return 0;
}

int kh_tls_peer_info(void *x509, char cn[KH_TLS_CN_MAX], uint64_t *serial_out)
{
    X509 *x = x509;
    if (!x)
        return KH_EINVAL;
    if (cn && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, KH_TLS_CN_MAX) < 0)
        return KH_EFORMAT;
    if (serial_out) {
        uint64_t s = 0;
        if (!ASN1_INTEGER_get_uint64(&s, X509_get0_serialNumber(x)))
            return KH_EFORMAT;
        *serial_out = s;
    }
    return 0;
}
