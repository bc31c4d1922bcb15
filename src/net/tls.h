/* Khiên — net/tls: the TLS policy and peer identity of the centre's server.
 *
 * The HTTPS server (libmicrohttpd, which speaks TLS through GnuTLS) takes
 * its priority string from here and hands the session over as an opaque
 * pointer, so neither the server code nor http_server.c decides anything
 * about TLS.
 */
#ifndef KH_NET_TLS_H
#define KH_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

#define KH_TLS_CN_MAX 128

/** GnuTLS priority string of the centre: TLS 1.2 and 1.3 only, forward-secret
 * AEAD suites only. */
const char *kh_tls_server_priorities(void);

/** The verified client certificate of a TLS session (a gnutls_session_t):
 * checks it against the trust list given to the server (signature, dates)
 * and reads its subject CN and serial number.
 * @return 0, KH_ENOENT (no certificate sent), KH_EACCES (not verified),
 *         KH_EFORMAT (no CN / serial too large) */
int kh_tls_session_peer(void *gnutls_session, char cn[KH_TLS_CN_MAX], uint64_t *serial_out);

#endif
