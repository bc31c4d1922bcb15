/* Khiên — net/tls: the TLS policy of the centre and who the peer is.
 *
 * The centre's HTTPS listener is libmicrohttpd, whose TLS layer is GnuTLS
 * (Debian's civetweb loads OpenSSL 1.1 names at run time and crashes on
 * OpenSSL 3 as soon as a client certificate is inspected, so it could not
 * do mutual TLS). Policy: TLS 1.2 as the floor (the directive's networks
 * still have older Windows clients that speak 1.2), ECDHE with AES-GCM or
 * ChaCha20 only. A client certificate is requested but optional; when one
 * was sent, it is verified here against the centre's CA (the trust list the
 * server was started with) and only then are its CN and serial number read
 * (parsed with OpenSSL's X.509 code, as the rest of the PKI).
 */
#include "net/tls.h"

#include <gnutls/gnutls.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <string.h>

#include "khien/error.h"

const char *kh_tls_server_priorities(void)
{
    return "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-DHE-RSA:-DHE-DSS:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"
           "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE";
}

int kh_tls_session_peer(void *gnutls_session, char cn[KH_TLS_CN_MAX], uint64_t *serial_out)
{
    gnutls_session_t s = gnutls_session;
    if (!s)
        return KH_ENOENT;
    unsigned int n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    if (!certs || n == 0)
        return KH_ENOENT;
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status != 0)
        return KH_EACCES;
    const unsigned char *p = certs[0].data;
    X509 *x = d2i_X509(NULL, &p, (long)certs[0].size);
    if (!x)
        return KH_EFORMAT;
    int rc = 0;
    if (cn && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, KH_TLS_CN_MAX) < 0)
        rc = KH_EFORMAT;
    if (rc == 0 && serial_out) {
        uint64_t v = 0;
        if (!ASN1_INTEGER_get_uint64(&v, X509_get0_serialNumber(x)))
            rc = KH_EFORMAT;
        else
            *serial_out = v;
    }
    X509_free(x);
    return rc;
}
