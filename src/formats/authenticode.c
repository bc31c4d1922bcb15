/* Khiên — formats: Authenticode signatures of PE files (the one file of the
 * PE side that uses OpenSSL).
 *
 * The certificate table of a PE file (data directory 4, a file offset, not
 * an rva) holds WIN_CERTIFICATE records, 8-byte aligned; a revision 2.0
 * record of type PKCS_SIGNED_DATA holds one or more DER PKCS#7 SignedData
 * blobs. For each blob we report every signer certificate (the
 * certificates matching the SignerInfos), then follow nested signatures
 * (the unauthenticated attribute 1.3.6.1.4.1.311.2.4.1 of the first
 * signer), exactly as yara 4.2.3 does: issuer and subject as
 * X509_NAME_oneline() ("/C=US/O=.../CN=...", at most 255 characters),
 * the serial as the lowercase hex bytes of its DER content joined by ':',
 * the thumbprint as the SHA-1 of the certificate's DER, the signature
 * algorithm's long name and dotted OID, the X.509 version (1-based), and
 * notBefore/notAfter as Unix times computed from the ASN.1 time digits.
 * At most KH_PE_MAX_SIGNATURES certificates are reported, which also
 * bounds the nesting of signatures.
 *
 * Not here: signature verification, digests of the file (yara 4.2.3 has
 * neither). OpenSSL's thread-local error queue is cleared before returning,
 * and no global OpenSSL state is changed (the nested-signature OID is
 * matched as an object, never registered).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "formats/pe.h"
#include "util/util.h"

#define SPC_NESTED_SIGNATURE "1.3.6.1.4.1.311.2.4.1"

int kh_pe__md5_hex(const uint8_t *p, size_t n, char out[33]);

int kh_pe__md5_hex(const uint8_t *p, size_t n, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL) || mdlen != 16) {
        ERR_clear_error();
        return KH_EINTERNAL;
    }
    kh_hex_encode(md, 16, out);
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, any y). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t digit(const unsigned char *s, int len, int *i)
{
    int k = (*i)++;
    return (int64_t)(k < len ? s[k] : 0) - '0';
}

/* yara's ASN1_get_time_t: the digits read as they are (no validation, no
 * time zone), then timegm(), which normalises out-of-range fields. */
static int64_t asn1_time(const ASN1_TIME *t)
{
    if (!t)
        return 0;
    const unsigned char *s = ASN1_STRING_get0_data(t);
    int len = ASN1_STRING_length(t), i = 0;
#define DIG() digit(s, len, &i)
    int64_t year = 0, mon, mday, hour, min, sec;
    if (ASN1_STRING_type(t) == V_ASN1_UTCTIME) {
        year = DIG() * 10;
        year += DIG();
        if (year < 70)
            year += 100;
    } else if (ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME) {
        year = DIG() * 1000;
        year += DIG() * 100;
        year += DIG() * 10;
        year += DIG();
        year -= 1900;
    }
    mon = DIG() * 10;
    mon += DIG() - 1;
    mday = DIG() * 10;
    mday += DIG();
    hour = DIG() * 10;
    hour += DIG();
    min = DIG() * 10;
    min += DIG();
    sec = DIG() * 10;
    sec += DIG();
#undef DIG
    int64_t y = 1900 + year + (mon >= 0 ? mon / 12 : -((11 - mon) / 12));
    int64_t m = mon - 12 * (y - 1900 - year);
    int64_t days = days_from_civil(y, m + 1, 1) + mday - 1;
    return ((days * 24 + hour) * 60 + min) * 60 + sec;
}

static kh_pe_bytes keep_str(kh_pe *pe, const char *s, int *rc)
{
    kh_pe_bytes r = {NULL, 0};
    if (!s)
        return r;
    size_t n = strlen(s);
    r.p = kh_pe__keep(pe, s, n);
    r.n = (uint32_t)n;
    if (!r.p)
        *rc = KH_ENOMEM;
    return r;
}

static void one_cert(kh_pe *pe, X509 *cert, kh_pe_signature *sg, int *rc)
{
    char buf[256];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(cert, EVP_sha1(), md, &mdlen) && mdlen == 20) {
        char hex[41];
        kh_hex_encode(md, 20, hex);
        sg->thumbprint = keep_str(pe, hex, rc);
    }
    if (X509_NAME_oneline(X509_get_issuer_name(cert), buf, sizeof(buf)))
        sg->issuer = keep_str(pe, buf, rc);
    if (X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf)))
        sg->subject = keep_str(pe, buf, rc);
    sg->version = X509_get_version(cert) + 1;
    int nid = X509_get_signature_nid(cert);
    sg->algorithm = keep_str(pe, OBJ_nid2ln(nid), rc);
    buf[0] = 0;
    OBJ_obj2txt(buf, sizeof(buf), OBJ_nid2obj(nid), 1);
    sg->algorithm_oid = keep_str(pe, buf, rc);

    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    int bytes = serial ? i2d_ASN1_INTEGER((ASN1_INTEGER *)serial, NULL) : 0;
    if (bytes > 2 && bytes <= 22) {
        unsigned char der[22], *p = der;
        bytes = i2d_ASN1_INTEGER((ASN1_INTEGER *)serial, &p);
        if (bytes > 2 && bytes <= 22) {
            char hex[3 * 20 + 1];
            size_t k = 0;
            for (int j = 2; j < bytes; j++)
                k += (size_t)snprintf(hex + k, sizeof(hex) - k, j < bytes - 1 ? "%02x:" : "%02x", der[j]);
            sg->serial = keep_str(pe, hex, rc);
        }
    }
    sg->not_before = asn1_time(X509_get0_notBefore(cert));
    sg->not_after = asn1_time(X509_get0_notAfter(cert));
}

static void parse_pkcs7(kh_pe *pe, PKCS7 *p7, const ASN1_OBJECT *nested_oid, int *rc)
{
    if (pe->nsignatures >= KH_PE_MAX_SIGNATURES || *rc)
        return;
    STACK_OF(X509) *certs = PKCS7_get0_signers(p7, NULL, 0);
    if (!certs)
        return;
    for (int i = 0; i < sk_X509_num(certs) && pe->nsignatures < KH_PE_MAX_SIGNATURES; i++)
        one_cert(pe, sk_X509_value(certs, i), &pe->signatures[pe->nsignatures++], rc);

    /* A nested signature: an unauthenticated attribute of the first signer. */
    PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
    if (si && nested_oid) {
        STACK_OF(X509_ATTRIBUTE) *attrs = PKCS7_get_attributes(si);
        int idx = X509at_get_attr_by_OBJ(attrs, nested_oid, -1);
        X509_ATTRIBUTE *xa = idx >= 0 ? X509at_get_attr(attrs, idx) : NULL;
        for (int j = 0; xa && j < (int)KH_PE_MAX_SIGNATURES; j++) {
            ASN1_TYPE *nested = X509_ATTRIBUTE_get0_type(xa, j);
            if (!nested)
                break;
            if (nested->type != V_ASN1_SEQUENCE || !nested->value.sequence)
                continue;
            const unsigned char *p = nested->value.sequence->data;
            PKCS7 *np = d2i_PKCS7(NULL, &p, nested->value.sequence->length);
            if (np) {
                parse_pkcs7(pe, np, nested_oid, rc); /* depth bounded by KH_PE_MAX_SIGNATURES */
                PKCS7_free(np);
            }
        }
    }
    sk_X509_free(certs);
}

int kh_pe__authenticode(kh_pe *pe, uint32_t off, uint32_t size)
{
    const uint8_t *d = pe->data;
    uint64_t n = pe->len, eod = (uint64_t)off + size, wc = off;
    int rc = 0;
    ASN1_OBJECT *nested_oid = OBJ_txt2obj(SPC_NESTED_SIGNATURE, 1);
    for (;;) {
        if (wc > n || n - wc < 12)
            break;
        uint32_t length = (uint32_t)d[wc] | (uint32_t)d[wc + 1] << 8 | (uint32_t)d[wc + 2] << 16 |
                          (uint32_t)d[wc + 3] << 24;
        uint16_t rev = (uint16_t)(d[wc + 4] | d[wc + 5] << 8), type = (uint16_t)(d[wc + 6] | d[wc + 7] << 8);
        if (length <= 12 || n - wc < length || wc + 12 >= eod || wc + length > eod)
            break;
        if (rev != 0x0100 && rev != 0x0200)
            break;
        uint64_t end = wc + length;
        if (rev == 0x0200 && type == 2) {
            const unsigned char *p = d + wc + 8;
            while ((uint64_t)(p - d) < end && pe->nsignatures < KH_PE_MAX_SIGNATURES && !rc) {
                PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)(end - (uint64_t)(p - d)));
                if (!p7)
                    break;
                parse_pkcs7(pe, p7, nested_oid, &rc);
                PKCS7_free(p7);
            }
        }
        wc = (end + 7) & ~(uint64_t)7;
    }
    ASN1_OBJECT_free(nested_oid);
    ERR_clear_error();
    return rc;
}
