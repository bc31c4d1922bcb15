/* Khiên — server/totp: RFC 6238 one-time codes (30 s, 6 digits, HMAC-SHA1). */
#ifndef KH_SERVER_TOTP_H
#define KH_SERVER_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KH_TOTP_SECRET_B32 33 /* 20 random bytes as 32 base32 characters + NUL */

/** New random secret, base32 (RFC 4648, no padding). @return 0 or KH_EINTERNAL */
int kh_totp_secret(char out[KH_TOTP_SECRET_B32]);
/** 1 if code (6 digits) matches the secret at time t (±1 step). */
int kh_totp_check(const char *secret_b32, const char *code, time_t t);
/** As kh_totp_check, and gives the time step the code belongs to (so that a
 * caller can refuse a code already used). @return 1 if valid, else 0 */
int kh_totp_check_step(const char *secret_b32, const char *code, time_t t, uint64_t *step);
/** The code of step `counter` (tests). @return 0 or KH_EFORMAT */
int kh_totp_code(char out[7], const char *secret_b32, uint64_t counter);

#endif
