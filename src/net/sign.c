/* Khiên — net/sign: Ed25519 signatures, argon2id passwords, random bytes.
 *
 * The project's only libsodium file. The centre signs bundles (signature
 * sets, policies, forwarded incidents) with one Ed25519 key kept in its data
 * folder; agents and `khien bundle verify` check them against the public key
 * they pinned. Signatures cover the exact payload bytes, prefixed with a
 * domain-separation string, so no JSON canonicalisation is ever needed and a
 * signature made for one purpose can never be replayed as another.
 * Passwords are stored as argon2id strings (libsodium's interactive cost).
 * Nothing here keeps state beyond sodium_init().
 */
#include "net/sign.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khien/error.h"

#define BUNDLE_FORMAT "khien-bundle-1"

static void seterr(char *err, size_t errsz, const char *msg)
{
    if (err && errsz)
        snprintf(err, errsz, "%s", msg);
}

int kh_sign_init(void)
{
    return sodium_init() < 0 ? KH_EINTERNAL : 0;
}

int kh_sign_random(void *buf, size_t n)
{
    if (kh_sign_init() < 0)
        return KH_EINTERNAL;
    randombytes_buf(buf, n);
    return 0;
}

int kh_sign_random_hex(char *out, size_t n)
{
    unsigned char tmp[64];
    if (n > sizeof(tmp))
        return KH_EINVAL;
    if (kh_sign_random(tmp, n) < 0)
        return KH_EINTERNAL;
    kh_sign_bin2hex(out, tmp, n);
    sodium_memzero(tmp, sizeof(tmp));
    return 0;
}

int kh_sign_keypair(uint8_t pk[KH_SIGN_PK_BYTES], uint8_t sk[KH_SIGN_SK_BYTES])
{
    if (kh_sign_init() < 0)
        return KH_EINTERNAL;
    return crypto_sign_keypair(pk, sk) == 0 ? 0 : KH_EINTERNAL;
}

void kh_sign_sk_to_pk(uint8_t pk[KH_SIGN_PK_BYTES], const uint8_t sk[KH_SIGN_SK_BYTES])
{
    (void)kh_sign_init();
    crypto_sign_ed25519_sk_to_pk(pk, sk);
}

void kh_sign_key_id(char out[KH_SIGN_KEYID_HEX], const uint8_t pk[KH_SIGN_PK_BYTES])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    (void)kh_sign_init();
    crypto_hash_sha256(h, pk, KH_SIGN_PK_BYTES);
    kh_sign_bin2hex(out, h, 8);
}

int kh_sign_detached(uint8_t sig[KH_SIGN_SIG_BYTES], const void *msg, size_t len,
                     const uint8_t sk[KH_SIGN_SK_BYTES])
{
    if (kh_sign_init() < 0)
        return KH_EINTERNAL;
    return crypto_sign_detached(sig, NULL, msg, len, sk) == 0 ? 0 : KH_EINTERNAL;
}

int kh_sign_verify(const uint8_t sig[KH_SIGN_SIG_BYTES], const void *msg, size_t len,
                   const uint8_t pk[KH_SIGN_PK_BYTES])
{
    if (kh_sign_init() < 0)
        return KH_EINTERNAL;
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : KH_EACCES;
}

void kh_sign_bin2hex(char *out, const uint8_t *in, size_t n)
{
    sodium_bin2hex(out, 2 * n + 1, in, n);
}

int kh_sign_hex2bin(uint8_t *out, size_t n, const char *hex)
{
    size_t got = 0;
    const char *end = NULL;
    if (!hex || strlen(hex) != 2 * n)
        return KH_EFORMAT;
    if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, &end) != 0 || got != n)
        return KH_EFORMAT;
    return 0;
}

int kh_sign_b64_encode(char **out, const void *in, size_t n)
{
    if (n > KH_BUNDLE_MAX)
        return KH_ELIMIT;
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (!s)
        return KH_ENOMEM;
    sodium_bin2base64(s, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
    *out = s;
    return 0;
}

int kh_sign_b64_decode(uint8_t **out, size_t *outlen, const char *in, size_t inlen)
{
    if (inlen > (size_t)KH_BUNDLE_MAX / 3 * 4 + 8)
        return KH_ELIMIT;
    size_t cap = inlen / 4 * 3 + 4;
    uint8_t *b = malloc(cap);
    size_t got = 0;
    const char *end = NULL;
    if (!b)
        return KH_ENOMEM;
    if (sodium_base642bin(b, cap, in, inlen, "\r\n", &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != in + inlen) {
        free(b);
        return KH_EFORMAT;
    }
    *out = b;
    *outlen = got;
    return 0;
}

void kh_sign_sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    (void)kh_sign_init();
    crypto_hash_sha256(h, data, len);
    kh_sign_bin2hex(out, h, sizeof(h));
}

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((kh_sign_sha256_ctx *)0)->st),
               "kh_sign_sha256_ctx too small for libsodium's state");

void kh_sign_sha256(uint8_t out[32], const void *data, size_t len)
{
    (void)kh_sign_init();
    crypto_hash_sha256(out, data, len);
}

void kh_sign_sha256_init(kh_sign_sha256_ctx *c)
{
    (void)kh_sign_init();
    crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)c->st);
}

void kh_sign_sha256_update(kh_sign_sha256_ctx *c, const void *data, size_t len)
{
    crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)c->st, data, len);
}

void kh_sign_sha256_final(kh_sign_sha256_ctx *c, uint8_t out[32])
{
    crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)c->st, out);
}

int kh_sign_streq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return sodium_memcmp(a, b, la) == 0;
}

int kh_sign_password_hash(char out[KH_SIGN_PWHASH_MAX], const char *password)
{
    size_t n = password ? strlen(password) : 0;
    if (!password || n > KH_SIGN_PASSWORD_MAX)
        return KH_EINVAL;
    if (kh_sign_init() < 0)
        return KH_EINTERNAL;
    char tmp[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(tmp, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return KH_ENOMEM;
    snprintf(out, KH_SIGN_PWHASH_MAX, "%s", tmp);
    return 0;
}

int kh_sign_password_verify(const char *hash, const char *password)
{
    if (!hash || !password || strlen(password) > KH_SIGN_PASSWORD_MAX)
        return KH_EACCES;
    if (kh_sign_init() < 0)
        return KH_EINTERNAL;
    if (strncmp(hash, "$argon2id$", 10) != 0 || strlen(hash) >= crypto_pwhash_STRBYTES)
        return KH_EFORMAT;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 ? 0 : KH_EACCES;
}

/* The signed message: "khien-bundle-1\0" || payload. */
static int bundle_message(uint8_t **out, size_t *outlen, const void *payload, size_t len)
{
    size_t pre = sizeof(BUNDLE_FORMAT); /* includes the NUL */
    uint8_t *m = malloc(pre + len + 1);
    if (!m)
        return KH_ENOMEM;
    memcpy(m, BUNDLE_FORMAT, pre);
    if (len)
        memcpy(m + pre, payload, len);
    *out = m;
    *outlen = pre + len;
    return 0;
}

int kh_bundle_seal(char **out, size_t *outlen, const void *payload, size_t len,
                   const uint8_t sk[KH_SIGN_SK_BYTES])
{
    uint8_t pk[KH_SIGN_PK_BYTES], sig[KH_SIGN_SIG_BYTES];
    char keyid[KH_SIGN_KEYID_HEX];
    uint8_t *msg = NULL;
    size_t mlen = 0;
    char *p64 = NULL, *s64 = NULL, *text = NULL;
    json_t *o = NULL;
    int rc;
    if (len > KH_BUNDLE_MAX)
        return KH_ELIMIT;
    if ((rc = bundle_message(&msg, &mlen, payload, len)) < 0)
        return rc;
    if ((rc = kh_sign_detached(sig, msg, mlen, sk)) < 0)
        goto done;
    kh_sign_sk_to_pk(pk, sk);
    kh_sign_key_id(keyid, pk);
    if ((rc = kh_sign_b64_encode(&p64, payload, len)) < 0 || (rc = kh_sign_b64_encode(&s64, sig, sizeof(sig))) < 0)
        goto done;
    o = json_pack("{s:s, s:s, s:s, s:s}", "format", BUNDLE_FORMAT, "key_id", keyid, "payload", p64,
                  "signature", s64);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (!text) {
        rc = KH_ENOMEM;
        goto done;
    }
    *outlen = strlen(text);
    *out = text;
    rc = 0;
done:
    free(msg);
    free(p64);
    free(s64);
    json_decref(o);
    return rc;
}

int kh_bundle_open(uint8_t **payload_out, size_t *len_out, const char *bundle, size_t len,
                   const uint8_t pk[KH_SIGN_PK_BYTES], char *err, size_t errsz)
{
    json_t *o = NULL;
    json_error_t jerr;
    uint8_t *payload = NULL, *sig = NULL, *msg = NULL;
    size_t plen = 0, slen = 0, mlen = 0;
    const char *fmt = NULL, *p64 = NULL, *s64 = NULL;
    int rc = KH_EFORMAT;
    if (len > (size_t)KH_BUNDLE_MAX / 3 * 4 + 4096) {
        seterr(err, errsz, "gói quá lớn / bundle too large");
        return KH_ELIMIT;
    }
    o = json_loadb(bundle, len, 0, &jerr);
    if (!o || json_unpack(o, "{s:s, s:s, s:s}", "format", &fmt, "payload", &p64, "signature", &s64) != 0 ||
        strcmp(fmt, BUNDLE_FORMAT) != 0) {
        seterr(err, errsz, "không phải gói Khiên / not a Khiên bundle (format khien-bundle-1 expected)");
        goto done;
    }
    if (kh_sign_b64_decode(&payload, &plen, p64, strlen(p64)) < 0 ||
        kh_sign_b64_decode(&sig, &slen, s64, strlen(s64)) < 0 || slen != KH_SIGN_SIG_BYTES) {
        seterr(err, errsz, "gói hỏng (base64) / damaged bundle (bad base64)");
        goto done;
    }
    if ((rc = bundle_message(&msg, &mlen, payload, plen)) < 0)
        goto done;
    if (kh_sign_verify(sig, msg, mlen, pk) != 0) {
        seterr(err, errsz, "chữ ký không hợp lệ: gói bị sửa hoặc sai khóa / bad signature: bundle tampered with or signed by another key");
        rc = KH_EACCES;
        goto done;
    }
    uint8_t *res = realloc(payload, plen + 1);
    if (!res) {
        rc = KH_ENOMEM;
        goto done;
    }
    res[plen] = 0;
    payload = NULL;
    *payload_out = res;
    *len_out = plen;
    rc = 0;
done:
    json_decref(o);
    free(payload);
    free(sig);
    free(msg);
    return rc;
}
