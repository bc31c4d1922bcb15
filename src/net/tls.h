/* Khiên — net/tls: TLS settings shared by the centre's HTTPS server.
 *
 * The only file that configures OpenSSL's TLS layer. The HTTP server hands
 * it the library's context and the peer certificate as opaque pointers, so
 * neither civetweb nor the server code needs to know OpenSSL's types.
 */
#ifndef KH_NET_TLS_H
#define KH_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

#define KH_TLS_CN_MAX 128

/** Hardens a server SSL_CTX: TLS 1.2 minimum, forward-secret AEAD ciphers
 * only, no compression, no renegotiation, server cipher preference.
 * @return 0 or KH_EINTERNAL */
int kh_tls_server_ctx_harden(void *ssl_ctx);

/** Reads subject CN and serial number of a peer certificate (an X509 *).
 * @return 0, KH_EINVAL (NULL), KH_EFORMAT (no CN / serial too large) */
int kh_tls_peer_info(void *x509, char cn[KH_TLS_CN_MAX], uint64_t *serial_out);

#endif
