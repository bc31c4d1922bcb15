/* Khiên — net/pki: the centre's small certificate authority (OpenSSL X.509).
 *
 * Keys and certificates cross this interface as PEM text: NUL-terminated,
 * malloc'ed, owned by the caller (free()). Keys are ECDSA P-256 (fast TLS
 * handshakes for thousands of agents). The server creates a CA and a server
 * certificate on first start and signs each agent's CSR into a client
 * certificate whose subject CN is the host id the server chose (the CSR's
 * own subject is ignored). The agent creates its key + CSR with
 * kh_pki_csr_create() and pins the CA by the SHA-256 of its DER encoding.
 *
 * Every function returns 0 or a negative KH_E* code; on failure a one-line
 * English message is written to err (errsz bytes, may be NULL/0).
 * Out-parameters are set only on success. Thread-safe (no shared state).
 */
#ifndef KH_NET_PKI_H
#define KH_NET_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KH_PKI_FPR_HEX 65   /* 64 hex digits + NUL */
#define KH_PKI_PEM_MAX 65536 /* PEM inputs larger than this are refused (KH_ELIMIT) */
#define KH_PKI_CN_MAX 128

/** Creates a self-signed CA (CN = common_name, valid `days` days).
 * @param[out] key_pem_out  PEM private key (PKCS#8), caller frees
 * @param[out] cert_pem_out PEM certificate, caller frees
 * @return 0, KH_EINVAL, KH_ENOMEM, KH_EINTERNAL */
int kh_pki_ca_create(char **key_pem_out, char **cert_pem_out, const char *common_name, int days,
                     char *err, size_t errsz);

/** Creates a server key and a certificate signed by the CA, with serverAuth
 * EKU and subjectAltNames: each entry of `names` (n of them) that parses as
 * an IPv4/IPv6 address becomes an IP SAN, the others DNS SANs.
 * @return 0, KH_EINVAL, KH_EFORMAT (bad CA PEM), KH_ENOMEM, KH_EINTERNAL */
int kh_pki_server_cert_create(char **key_pem_out, char **cert_pem_out, const char *ca_key_pem,
                              const char *ca_cert_pem, const char *common_name,
                              const char *const *names, size_t n, int days, char *err, size_t errsz);

/** Agent side: creates a fresh private key and a CSR for it (CN = common_name,
 * e.g. the hostname; the server replaces it).
 * @return 0, KH_EINVAL, KH_ENOMEM, KH_EINTERNAL */
int kh_pki_csr_create(char **key_pem_out, char **csr_pem_out, const char *common_name, char *err,
                      size_t errsz);

/** Server side: verifies the CSR's self-signature and issues a client
 * certificate (clientAuth EKU) with subject CN = `subject_cn` and the given
 * serial number, valid `days` days.
 * @return 0, KH_EINVAL, KH_EFORMAT (bad CSR or bad signature), KH_ELIMIT, KH_ENOMEM, KH_EINTERNAL */
int kh_pki_csr_sign(char **cert_pem_out, const char *ca_key_pem, const char *ca_cert_pem,
                    const char *csr_pem, const char *subject_cn, uint64_t serial, int days, char *err,
                    size_t errsz);

/** SHA-256 of the first certificate's DER encoding, as 64 lowercase hex
 * digits (what `--ca-sha256` takes).
 * @return 0, KH_EFORMAT, KH_EINVAL */
int kh_pki_cert_sha256(char out[KH_PKI_FPR_HEX], const char *cert_pem, char *err, size_t errsz);

/** Normalises a user-typed fingerprint ("AB:CD:..." or "abcd...", any case)
 * to 64 lowercase hex digits. @return 0 or KH_EFORMAT */
int kh_pki_fpr_normalize(char out[KH_PKI_FPR_HEX], const char *in);

/** Reads a certificate's subject CN, serial (decimal) and expiry.
 * Any out pointer may be NULL. @return 0, KH_EFORMAT */
int kh_pki_cert_info(const char *cert_pem, char cn[KH_PKI_CN_MAX], uint64_t *serial_out,
                     time_t *not_after_out, char *err, size_t errsz);

/** Checks that cert_pem was issued by ca_cert_pem (signature and validity
 * dates). @return 0, KH_EACCES (not issued by this CA / expired), KH_EFORMAT */
int kh_pki_cert_verify(const char *cert_pem, const char *ca_cert_pem, char *err, size_t errsz);

#endif
