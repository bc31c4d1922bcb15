/* Khiên — server/ui_totp: TOTP second factor (RFC 6238) and recovery codes.
 * See ui_totp.c. Pure functions; thread-safe. */
#ifndef KH_SERVER_UI_TOTP_H
#define KH_SERVER_UI_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define KH_TOTP_SECRET_LEN 32   /* base32 characters of a 160-bit secret */
#define KH_TOTP_DIGITS 6
#define KH_TOTP_STEP 30         /* seconds */
#define KH_TOTP_WINDOW 1        /* steps accepted either side of now */
#define KH_MFA_RECOVERY_COUNT 10
#define KH_MFA_RECOVERY_LEN 10  /* characters, shown as XXXXX-XXXXX */

/** RFC 4648 base32 without padding. KH_ELIMIT if out_size is too small. */
int kh_totp_base32_encode(char *out, size_t out_size, const uint8_t *p, size_t n);
/** Decodes base32 (case-insensitive, '=', ' ' and '-' ignored); KH_EFORMAT on other characters. */
int kh_totp_base32_decode(uint8_t *out, size_t out_size, size_t *len_out, const char *s);
/** A new random 160-bit secret, base32. */
int kh_totp_secret_new(char out[KH_TOTP_SECRET_LEN + 1]);
/** HOTP value (RFC 4226) of @p counter with @p digits (6..8). */
int kh_totp_hotp(uint32_t *out, const uint8_t *key, size_t key_len, uint64_t counter, unsigned digits);
/** The 6-digit code of @p secret at Unix time @p now. */
int kh_totp_code(char out[KH_TOTP_DIGITS + 1], const char *secret, int64_t now);
/**
 * Checks @p code against the steps around @p now. A step not after
 * @p last_step (the last one accepted for this user) is refused, so a code
 * is used once. On success *step_out is the step matched (store it).
 * @return 0, KH_EACCES wrong/reused code, KH_EFORMAT not 6 digits.
 */
int kh_totp_verify(int64_t *step_out, const char *secret, const char *code, int64_t now, int64_t last_step);
/** Appends the otpauth://totp/ISSUER:ACCOUNT?secret=... URI for authenticator apps. */
int kh_totp_uri(kh_buf *out, const char *issuer, const char *account, const char *secret);
/** Ten new one-time recovery codes, "XXXXX-XXXXX". */
int kh_mfa_recovery_new(char codes[KH_MFA_RECOVERY_COUNT][KH_MFA_RECOVERY_LEN + 2]);
/** SHA-256 hex of a recovery code, normalised (case, '-' and spaces ignored); KH_EFORMAT if not one. */
int kh_mfa_recovery_hash(char out[65], const char *code);

#endif
