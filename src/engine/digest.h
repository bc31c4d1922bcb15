/* Khiên — engine: message digests (the one libkhien file that uses OpenSSL). */
#ifndef KH_ENGINE_DIGEST_H
#define KH_ENGINE_DIGEST_H

#include "engine/ir.h"

/* Incremental digests of one input with several algorithms at once. */
typedef struct kh_digest {
    void *ctx[KH_NALG]; /* EVP_MD_CTX, NULL when the algorithm is not wanted */
    unsigned mask;      /* 1 << KH_MD5 | ... */
} kh_digest;

int kh_digest_init(kh_digest *d); /* allocates contexts; call once */
void kh_digest_dispose(kh_digest *d);
int kh_digest_start(kh_digest *d, unsigned mask);
int kh_digest_update(kh_digest *d, const void *p, size_t n);
int kh_digest_finish(kh_digest *d, uint8_t out[KH_NALG][32]);
/* One-shot digests of a buffer. */
int kh_digest_buf(unsigned mask, const void *p, size_t n, uint8_t out[KH_NALG][32]);
int kh_sha256(const void *p, size_t n, uint8_t out[32]);

#endif
