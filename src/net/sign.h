/* Khiên — net/sign: the project's only use of libsodium.
 *
 * Ed25519 signatures for bundles (signature sets and policies moved from
 * the centre to agents, or by hand into air-gapped networks), argon2id
 * password hashes, and random bytes. kh_sign_init() must be called once
 * before any other function (it is idempotent and thread-safe); every
 * function below also calls it, so forgetting it is harmless.
 *
 * Bundles (kh_bundle_seal / kh_bundle_open) are a JSON envelope
 *   {"format":"khien-bundle-1","key_id":"<16 hex>","payload":"<base64>",
 *    "signature":"<base64 Ed25519 over 'khien-bundle-1\0' || payload bytes>"}
 * The payload is opaque here; docs/api.md documents the payload JSON the
 * server produces (kind, name, version, created, files[{name,sha256,data}]).
 * Signing the exact payload bytes avoids any JSON canonicalisation.
 */
#ifndef KH_NET_SIGN_H
#define KH_NET_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define KH_SIGN_PK_BYTES 32
#define KH_SIGN_SK_BYTES 64
#define KH_SIGN_SIG_BYTES 64
#define KH_SIGN_KEYID_HEX 17  /* 16 hex digits (first 8 bytes of SHA-256(pk)) + NUL */
#define KH_SIGN_PWHASH_MAX 128 /* room for an argon2id encoded hash + NUL */
#define KH_SIGN_PASSWORD_MAX 1024
#define KH_BUNDLE_MAX (64u << 20) /* bundles larger than 64 MiB are refused */

/** Initialises libsodium. @return 0 or KH_EINTERNAL */
int kh_sign_init(void);

/** Fills buf with n cryptographically secure random bytes. @return 0 or KH_EINTERNAL */
int kh_sign_random(void *buf, size_t n);
/** n random bytes as 2n lowercase hex digits into out (2n+1 bytes). @return 0, KH_EINTERNAL */
int kh_sign_random_hex(char *out, size_t n);

/** New Ed25519 key pair. @return 0 or KH_EINTERNAL */
int kh_sign_keypair(uint8_t pk[KH_SIGN_PK_BYTES], uint8_t sk[KH_SIGN_SK_BYTES]);
/** Public key of a secret key. */
void kh_sign_sk_to_pk(uint8_t pk[KH_SIGN_PK_BYTES], const uint8_t sk[KH_SIGN_SK_BYTES]);
/** Short key id: first 8 bytes of SHA-256(pk) in hex. */
void kh_sign_key_id(char out[KH_SIGN_KEYID_HEX], const uint8_t pk[KH_SIGN_PK_BYTES]);
/** Detached signature of msg. @return 0 or KH_EINTERNAL */
int kh_sign_detached(uint8_t sig[KH_SIGN_SIG_BYTES], const void *msg, size_t len,
                     const uint8_t sk[KH_SIGN_SK_BYTES]);
/** @return 0 if sig is a valid signature of msg by pk, KH_EACCES if not. */
int kh_sign_verify(const uint8_t sig[KH_SIGN_SIG_BYTES], const void *msg, size_t len,
                   const uint8_t pk[KH_SIGN_PK_BYTES]);

/** Hex <-> bytes. hex2bin needs exactly 2*n hex digits. @return 0 or KH_EFORMAT */
void kh_sign_bin2hex(char *out, const uint8_t *in, size_t n); /* out: 2n+1 bytes */
int kh_sign_hex2bin(uint8_t *out, size_t n, const char *hex);
/** Base64 (standard alphabet, padded). Caller frees *out. @return 0, KH_ENOMEM, KH_EFORMAT, KH_ELIMIT */
int kh_sign_b64_encode(char **out, const void *in, size_t n);
int kh_sign_b64_decode(uint8_t **out, size_t *outlen, const char *in, size_t inlen);

/** SHA-256 of data as 64 lowercase hex digits. */
void kh_sign_sha256_hex(char out[65], const void *data, size_t len);
/** SHA-256 in one call, or in steps (libsodium's implementation). */
typedef struct kh_sign_sha256_ctx {
    _Alignas(16) unsigned char st[128]; /* libsodium's crypto_hash_sha256_state */
} kh_sign_sha256_ctx;
void kh_sign_sha256(uint8_t out[32], const void *data, size_t len);
void kh_sign_sha256_init(kh_sign_sha256_ctx *c);
void kh_sign_sha256_update(kh_sign_sha256_ctx *c, const void *data, size_t len);
void kh_sign_sha256_final(kh_sign_sha256_ctx *c, uint8_t out[32]);
/** Constant-time comparison of two NUL-terminated strings. @return 1 if equal */
int kh_sign_streq(const char *a, const char *b);

/** argon2id hash of a password (libsodium's "interactive" cost) in the
 * standard encoded form ($argon2id$v=19$...). @return 0, KH_EINVAL (too long), KH_ENOMEM */
int kh_sign_password_hash(char out[KH_SIGN_PWHASH_MAX], const char *password);
/** @return 0 if password matches hash, KH_EACCES if not, KH_EFORMAT if hash is malformed. */
int kh_sign_password_verify(const char *hash, const char *password);

/** Wraps payload into a signed bundle envelope (JSON text, NUL-terminated,
 * caller frees). @return 0, KH_ENOMEM, KH_ELIMIT */
int kh_bundle_seal(char **out, size_t *outlen, const void *payload, size_t len,
                   const uint8_t sk[KH_SIGN_SK_BYTES]);
/** Verifies a bundle envelope against pk and returns the payload bytes
 * (NUL-terminated for convenience, caller frees). A message goes to err.
 * @return 0, KH_EFORMAT (not a bundle), KH_EACCES (wrong key or tampered), KH_ELIMIT, KH_ENOMEM */
int kh_bundle_open(uint8_t **payload_out, size_t *len_out, const char *bundle, size_t len,
                   const uint8_t pk[KH_SIGN_PK_BYTES], char *err, size_t errsz);

#endif
