/* Khiên — net/pki: the centre's certificate authority (OpenSSL X.509).
 *
 * A deliberately small CA: one self-signed root kept in the server's data
 * folder, one server certificate, and one client certificate per enrolled
 * host. Everything crosses the interface as PEM text, so callers never see
 * OpenSSL types. Keys are ECDSA P-256: handshakes are cheap, which matters
 * when thousands of agents reconnect at once. The CA decides the subject of
 * every certificate it issues (the CSR only proves possession of the key),
 * and client certificates carry the clientAuth EKU only, server
 * certificates serverAuth only, so neither can stand in for the other.
 * Revocation is not done with CRLs: the server refuses a removed host's
 * certificate by its serial number, which it looks up on every request.
 */
#include "net/pki.h"
#include "util/util.h"


#include <ctype.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"

static void seterr(char *err, size_t errsz, const char *what)
{
    if (!err || !errsz)
        return;
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errsz, "%s%s%s", what, e ? ": " : "", buf);
    ERR_clear_error();
}

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

static char *bio_to_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, data, (size_t)n);
    s[n] = 0;
    return s;
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
        s = bio_to_string(b);
    BIO_free(b);
    return s;
}

static char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b && PEM_write_bio_X509(b, x))
        s = bio_to_string(b);
    BIO_free(b);
    return s;
}

static int pem_ok(const char *pem)
{
    return pem && strlen(pem) < KH_PKI_PEM_MAX;
}

static X509 *read_cert(const char *pem)
{
    if (!pem_ok(pem))
        return NULL;
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

static EVP_PKEY *read_key(const char *pem)
{
    if (!pem_ok(pem))
        return NULL;
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return k;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e)
        return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

static int set_serial(X509 *x, uint64_t serial)
{
    if (!serial)
        return -1;
    ASN1_INTEGER *a = ASN1_INTEGER_new();
    int ok = a && ASN1_INTEGER_set_uint64(a, serial) && X509_set_serialNumber(x, a);
    ASN1_INTEGER_free(a);
    return ok ? 0 : -1;
}

/* A random positive serial from OpenSSL's generator; 0 (refused by
 * set_serial) if it fails, never a fixed value: the centre finds a host by
 * its certificate's serial. */
static uint64_t random_serial(void)
{
    uint64_t s = 0;
    if (RAND_bytes((unsigned char *)&s, sizeof(s)) != 1)
        return 0;
    s &= 0x7fffffffffffffffULL;
    return s ? s : 1;
}

/* A certificate with subject CN, public key, validity [now - 1h, now + days]. */
static X509 *new_cert(EVP_PKEY *pub, const char *cn, uint64_t serial, int days)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_set_version(x, 2) || set_serial(x, serial) < 0 || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400L) || !X509_set_pubkey(x, pub) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Khien", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int check_cn(const char *cn, int days)
{
    return cn && *cn && strlen(cn) < KH_PKI_CN_MAX && days > 0 && days <= 36500;
}

int kh_pki_ca_create(char **key_pem_out, char **cert_pem_out, const char *common_name, int days,
                     char *err, size_t errsz)
{
    if (!key_pem_out || !cert_pem_out || !check_cn(common_name, days)) {
        seterr(err, errsz, "invalid CA name or validity");
        return KH_EINVAL;
    }
    int rc = KH_EINTERNAL;
    EVP_PKEY *k = new_key();
    X509 *x = k ? new_cert(k, common_name, random_serial(), days) : NULL;
    char *kp = NULL, *cp = NULL;
    if (!x || X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
        add_ext(x, x, NID_subject_key_identifier, "hash") < 0 || !X509_sign(x, k, EVP_sha256())) {
        seterr(err, errsz, "cannot create the CA certificate");
        goto done;
    }
    kp = key_pem(k);
    cp = cert_pem(x);
    if (!kp || !cp) {
        rc = KH_ENOMEM;
        goto done;
    }
    *key_pem_out = kp;
    *cert_pem_out = cp;
    kp = cp = NULL;
    rc = 0;
done:
    free(kp);
    free(cp);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

/* Issues a certificate for `pub` signed by the CA. usage: "serverAuth" or "clientAuth". */
static int issue(char **out, const char *ca_key_pem, const char *ca_cert_pem, EVP_PKEY *pub, const char *cn,
                 uint64_t serial, int days, const char *eku, const char *san, char *err, size_t errsz)
{
    int rc = KH_EFORMAT;
    EVP_PKEY *cak = read_key(ca_key_pem);
    X509 *cax = read_cert(ca_cert_pem);
    X509 *x = NULL;
    if (!cak || !cax) {
        seterr(err, errsz, "cannot read the CA key or certificate");
        goto done;
    }
    rc = KH_EINTERNAL;
    x = new_cert(pub, cn, serial, days);
    if (!x || X509_set_issuer_name(x, X509_get_subject_name(cax)) != 1 ||
        add_ext(x, cax, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, cax, NID_key_usage, "critical,digitalSignature,keyAgreement") < 0 ||
        add_ext(x, cax, NID_ext_key_usage, eku) < 0 || add_ext(x, cax, NID_authority_key_identifier, "keyid") < 0 ||
        (san && add_ext(x, cax, NID_subject_alt_name, san) < 0) || !X509_sign(x, cak, EVP_sha256())) {
        seterr(err, errsz, "cannot issue the certificate");
        goto done;
    }
    char *p = cert_pem(x);
    if (!p) {
        rc = KH_ENOMEM;
        goto done;
    }
    *out = p;
    rc = 0;
done:
    X509_free(x);
    X509_free(cax);
    EVP_PKEY_free(cak);
    return rc;
}

static int is_ip(const char *s)
{
    int colon = 0, dots = 0;
    for (const char *p = s; *p; p++) {
        if (*p == ':')
            colon++;
        else if (*p == '.')
            dots++;
        else if (!isxdigit((unsigned char)*p))
            return 0;
    }
    if (colon >= 2)
        return 1;
    if (dots != 3)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p != '.' && !isdigit((unsigned char)*p))
            return 0;
    return 1;
}

int kh_pki_server_cert_create(char **key_pem_out, char **cert_pem_out, const char *ca_key_pem,
                              const char *ca_cert_pem, const char *common_name,
                              const char *const *names, size_t n, int days, char *err, size_t errsz)
{
    if (!key_pem_out || !cert_pem_out || !check_cn(common_name, days) || n > 32) {
        seterr(err, errsz, "invalid server certificate parameters");
        return KH_EINVAL;
    }
    char san[4096] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        if (!nm || !*nm || strlen(nm) > 253 || strpbrk(nm, ", \t\r\n")) {
            seterr(err, errsz, "invalid subjectAltName");
            return KH_EINVAL;
        }
        int w = snprintf(san + used, sizeof(san) - used, "%s%s:%s", used ? "," : "", is_ip(nm) ? "IP" : "DNS", nm);
        if (w < 0 || (size_t)w >= sizeof(san) - used) {
            seterr(err, errsz, "too many subjectAltNames");
            return KH_ELIMIT;
        }
        used += (size_t)w;
    }
    EVP_PKEY *k = new_key();
    if (!k) {
        seterr(err, errsz, "cannot create a key");
        return KH_EINTERNAL;
    }
    char *cp = NULL;
    int rc = issue(&cp, ca_key_pem, ca_cert_pem, k, common_name, random_serial(), days, "serverAuth",
                   used ? san : NULL, err, errsz);
    char *kp = rc == 0 ? key_pem(k) : NULL;
    EVP_PKEY_free(k);
    if (rc == 0 && !kp) {
        free(cp);
        return KH_ENOMEM;
    }
    if (rc == 0) {
        *key_pem_out = kp;
        *cert_pem_out = cp;
    }
    return rc;
}

int kh_pki_csr_create(char **key_pem_out, char **csr_pem_out, const char *common_name, char *err,
                      size_t errsz)
{
    if (!key_pem_out || !csr_pem_out || !check_cn(common_name, 1)) {
        seterr(err, errsz, "invalid CSR name");
        return KH_EINVAL;
    }
    int rc = KH_EINTERNAL;
    EVP_PKEY *k = new_key();
    X509_REQ *r = X509_REQ_new();
    BIO *b = BIO_new(BIO_s_mem());
    char *kp = NULL, *rp = NULL;
    if (!k || !r || !b) {
        seterr(err, errsz, "cannot create a key");
        goto done;
    }
    X509_NAME *name = X509_REQ_get_subject_name(r);
    if (!X509_REQ_set_version(r, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0) ||
        !X509_REQ_set_pubkey(r, k) || !X509_REQ_sign(r, k, EVP_sha256()) || !PEM_write_bio_X509_REQ(b, r)) {
        seterr(err, errsz, "cannot create the certificate request");
        goto done;
    }
    rp = bio_to_string(b);
    kp = key_pem(k);
    if (!rp || !kp) {
        rc = KH_ENOMEM;
        goto done;
    }
    *key_pem_out = kp;
    *csr_pem_out = rp;
    kp = rp = NULL;
    rc = 0;
done:
    free(kp);
    free(rp);
    BIO_free(b);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    return rc;
}

int kh_pki_csr_sign(char **cert_pem_out, const char *ca_key_pem, const char *ca_cert_pem,
                    const char *csr_pem, const char *subject_cn, uint64_t serial, int days, char *err,
                    size_t errsz)
{
    if (!cert_pem_out || !csr_pem || !check_cn(subject_cn, days) || serial == 0) {
        seterr(err, errsz, "invalid parameters");
        return KH_EINVAL;
    }
    if (!pem_ok(csr_pem)) {
        seterr(err, errsz, "certificate request too large");
        return KH_ELIMIT;
    }
    int rc = KH_EFORMAT;
    BIO *b = BIO_new_mem_buf(csr_pem, -1);
    X509_REQ *r = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    EVP_PKEY *pub = r ? X509_REQ_get_pubkey(r) : NULL;
    if (!r || !pub) {
        seterr(err, errsz, "not a PEM certificate request (CSR)");
        goto done;
    }
    if (X509_REQ_verify(r, pub) != 1) {
        seterr(err, errsz, "the certificate request's signature is invalid");
        goto done;
    }
    int bits = EVP_PKEY_get_bits(pub);
    int id = EVP_PKEY_get_base_id(pub);
    if (!((id == EVP_PKEY_EC && bits >= 256) || (id == EVP_PKEY_RSA && bits >= 2048) || id == EVP_PKEY_ED25519)) {
        seterr(err, errsz, "weak or unsupported key in the certificate request (EC P-256+, RSA 2048+ or Ed25519)");
        goto done;
    }
    rc = issue(cert_pem_out, ca_key_pem, ca_cert_pem, pub, subject_cn, serial, days, "clientAuth", NULL, err, errsz);
done:
    EVP_PKEY_free(pub);
    X509_REQ_free(r);
    BIO_free(b);
    return rc;
}

int kh_pki_cert_sha256(char out[KH_PKI_FPR_HEX], const char *cert_pem, char *err, size_t errsz)
{
    if (!out)
        return KH_EINVAL;
    X509 *x = read_cert(cert_pem);
    if (!x) {
        seterr(err, errsz, "not a PEM certificate");
        return KH_EFORMAT;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = X509_digest(x, EVP_sha256(), md, &n);
    X509_free(x);
    if (!ok || n != 32) {
        seterr(err, errsz, "cannot hash the certificate");
        return KH_EFORMAT;
    }
    kh_hex_encode(md, 32, out);
    return 0;
}

int kh_pki_fpr_normalize(char out[KH_PKI_FPR_HEX], const char *in)
{
    size_t n = 0;
    if (!in)
        return KH_EFORMAT;
    for (const char *p = in; *p; p++) {
        if (*p == ':' || *p == ' ')
            continue;
        if (!isxdigit((unsigned char)*p) || n >= 64)
            return KH_EFORMAT;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    if (n != 64)
        return KH_EFORMAT;
    out[64] = 0;
    return 0;
}

int kh_pki_cert_info(const char *cert_pem, char cn[KH_PKI_CN_MAX], uint64_t *serial_out,
                     time_t *not_after_out, char *err, size_t errsz)
{
    X509 *x = read_cert(cert_pem);
    if (!x) {
        seterr(err, errsz, "not a PEM certificate");
        return KH_EFORMAT;
    }
    int rc = KH_EFORMAT;
    if (cn) {
        int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, KH_PKI_CN_MAX);
        if (n < 0)
            cn[0] = 0;
    }
    if (serial_out) {
        uint64_t s = 0;
        if (!ASN1_INTEGER_get_uint64(&s, X509_get0_serialNumber(x))) {
            seterr(err, errsz, "serial number out of range");
            goto done;
        }
        *serial_out = s;
    }
    if (not_after_out) {
        int days = 0, secs = 0;
        time_t now = time(NULL);
        if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x))) {
            seterr(err, errsz, "bad expiry date");
            goto done;
        }
        *not_after_out = now + (time_t)days * 86400 + secs;
    }
    rc = 0;
done:
    X509_free(x);
    return rc;
}

int kh_pki_cert_verify(const char *cert_pem, const char *ca_cert_pem, char *err, size_t errsz)
{
    X509 *x = read_cert(cert_pem), *ca = read_cert(ca_cert_pem);
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = KH_EFORMAT;
    if (!x || !ca) {
        seterr(err, errsz, "not a PEM certificate");
        goto done;
    }
    rc = KH_EINTERNAL;
    if (!st || !ctx || !X509_STORE_add_cert(st, ca) || !X509_STORE_CTX_init(ctx, st, x, NULL))
        goto done;
    if (X509_verify_cert(ctx) != 1) {
        if (err && errsz)
            snprintf(err, errsz, "certificate not accepted: %s",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        rc = KH_EACCES;
        goto done;
    }
    rc = 0;
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    X509_free(x);
    X509_free(ca);
    return rc;
}
