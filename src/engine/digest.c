/* Khiên — engine: message digests through OpenSSL.
 *
 * Hash signatures need MD5, SHA-1 and SHA-256 of whole files and archive
 * members; the compiled-set cache needs SHA-256 for keys and checksums.
 * OpenSSL's EVP interface uses the CPU's SHA extensions where present.
 * The scanner asks only for the algorithms that the loaded hash tables
 * use, and only when the size of the file occurs in them, so most files
 * are never hashed at all.
 */
#include "engine/digest.h"

#include <openssl/evp.h>

static const EVP_MD *md_of(int alg)
{
    switch (alg) {
    case KH_MD5:
        return EVP_md5();
    case KH_SHA1:
        return EVP_sha1();
    default:
        return EVP_sha256();
    }
}

int kh_digest_init(kh_digest *d)
{
    memset(d, 0, sizeof(*d));
    for (int a = 0; a < KH_NALG; a++)
        if (!(d->ctx[a] = EVP_MD_CTX_new())) {
            kh_digest_dispose(d);
            return KH_ENOMEM;
        }
    return 0;
}

void kh_digest_dispose(kh_digest *d)
{
    for (int a = 0; a < KH_NALG; a++)
        EVP_MD_CTX_free(d->ctx[a]);
    memset(d, 0, sizeof(*d));
}

int kh_digest_start(kh_digest *d, unsigned mask)
{
    d->mask = mask;
    for (int a = 0; a < KH_NALG; a++)
        if ((mask >> a) & 1)
            if (!EVP_DigestInit_ex(d->ctx[a], md_of(a), NULL))
                return KH_EINTERNAL;
    return 0;
}

int kh_digest_update(kh_digest *d, const void *p, size_t n)
{
    for (int a = 0; a < KH_NALG; a++)
        if ((d->mask >> a) & 1)
            if (!EVP_DigestUpdate(d->ctx[a], p, n))
                return KH_EINTERNAL;
    return 0;
}

int kh_digest_finish(kh_digest *d, uint8_t out[KH_NALG][32])
{
    for (int a = 0; a < KH_NALG; a++)
        if ((d->mask >> a) & 1) {
            unsigned len = 0;
            if (!EVP_DigestFinal_ex(d->ctx[a], out[a], &len))
                return KH_EINTERNAL;
        }
    return 0;
}

int kh_digest_buf(unsigned mask, const void *p, size_t n, uint8_t out[KH_NALG][32])
{
    for (int a = 0; a < KH_NALG; a++)
        if ((mask >> a) & 1) {
            unsigned len = 0;
            if (!EVP_Digest(p, n, out[a], &len, md_of(a), NULL))
                return KH_EINTERNAL;
        }
    return 0;
}

int kh_sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) ? 0 : KH_EINTERNAL;
}
