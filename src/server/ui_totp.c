/* Khiên — server/ui_totp: the second login factor (TOTP, RFC 6238) and recovery codes.
 *
 * A user's second factor is a 160-bit random secret shared with an
 * authenticator app through an otpauth:// URI (shown as a QR code at
 * enrolment). A code is HOTP (RFC 4226: HMAC-SHA1 over the 8-byte big-endian
 * counter, dynamic truncation, 6 digits) of the 30-second time step; a code
 * from the step before or after is accepted for clock skew, and the caller
 * keeps the last step used so the same code is never accepted twice.
 * Recovery codes are ten one-time codes of 10 characters from a 32-letter
 * alphabet without look-alikes (50 bits each); only their SHA-256 is kept.
 *
 * Pure computation over OpenSSL's libcrypto (HMAC, SHA-256, RAND_bytes):
 * no storage, no HTTP. Comparisons of codes are constant-time.
 */
#include "server/ui_totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/* Recovery alphabet: no 0/O, 1/I/L. */
static const char RALPHA[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

int kh_totp_base32_encode(char *out, size_t out_size, const uint8_t *p, size_t n)
{
    size_t need = (n * 8 + 4) / 5 + 1, o = 0;
    if (!out || out_size < need)
        return KH_ELIMIT;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = B32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = B32[(acc << (5 - bits)) & 31];
    out[o] = 0;
    return 0;
}

int kh_totp_base32_decode(uint8_t *out, size_t out_size, size_t *len_out, const char *s)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    if (!out || !s)
        return KH_EINVAL;
    for (; *s; s++) {
        int c = *s, v;
        if (c == '=' || c == ' ' || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c -= 32;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else
            return KH_EFORMAT;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (o >= out_size)
                return KH_ELIMIT;
            out[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (len_out)
        *len_out = o;
    return 0;
}

int kh_totp_secret_new(char out[KH_TOTP_SECRET_LEN + 1])
{
    uint8_t raw[20];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return KH_EINTERNAL;
    int rc = kh_totp_base32_encode(out, KH_TOTP_SECRET_LEN + 1, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

int kh_totp_hotp(uint32_t *out, const uint8_t *key, size_t key_len, uint64_t counter, unsigned digits)
{
    uint8_t msg[8], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!out || !key || key_len == 0 || digits < 6 || digits > 8)
        return KH_EINVAL;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    if (!HMAC(EVP_sha1(), key, (int)key_len, msg, sizeof msg, md, &mdlen) || mdlen < 20)
        return KH_EINTERNAL;
    unsigned off = md[mdlen - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(md[off] & 0x7f) << 24) | ((uint32_t)md[off + 1] << 16) |
                   ((uint32_t)md[off + 2] << 8) | md[off + 3];
    uint32_t mod = 1;
    for (unsigned i = 0; i < digits; i++)
        mod *= 10;
    *out = bin % mod;
    return 0;
}

int kh_totp_code(char out[KH_TOTP_DIGITS + 1], const char *secret, int64_t now)
{
    uint8_t key[64];
    size_t klen = 0;
    uint32_t v;
    int rc;
    if (now < 0 || (rc = kh_totp_base32_decode(key, sizeof key, &klen, secret)) < 0)
        return now < 0 ? KH_EINVAL : rc;
    rc = kh_totp_hotp(&v, key, klen, (uint64_t)now / KH_TOTP_STEP, KH_TOTP_DIGITS);
    OPENSSL_cleanse(key, sizeof key);
    if (rc < 0)
        return rc;
    snprintf(out, KH_TOTP_DIGITS + 1, "%06u", (unsigned)v);
    return 0;
}

int kh_totp_verify(int64_t *step_out, const char *secret, const char *code, int64_t now, int64_t last_step)
{
    uint8_t key[64];
    size_t klen = 0;
    char want[16];
    int rc, ok = 0;
    int64_t hit = -1;
    if (!secret || !code || now < 0)
        return KH_EINVAL;
    /* Accept "123 456" and "123456"; nothing else. */
    char got[KH_TOTP_DIGITS + 1];
    size_t g = 0;
    for (const char *c = code; *c; c++) {
        if (*c == ' ')
            continue;
        if (*c < '0' || *c > '9' || g >= KH_TOTP_DIGITS)
            return KH_EFORMAT;
        got[g++] = *c;
    }
    if (g != KH_TOTP_DIGITS)
        return KH_EFORMAT;
    got[g] = 0;
    if ((rc = kh_totp_base32_decode(key, sizeof key, &klen, secret)) < 0)
        return rc;
    int64_t step = now / KH_TOTP_STEP;
    for (int d = -KH_TOTP_WINDOW; d <= KH_TOTP_WINDOW; d++) {
        uint32_t v;
        if (step + d < 0)
            continue;
        if ((rc = kh_totp_hotp(&v, key, klen, (uint64_t)(step + d), KH_TOTP_DIGITS)) < 0)
            break;
        snprintf(want, sizeof want, "%06u", (unsigned)v);
        /* Constant time over every candidate step. */
        if (CRYPTO_memcmp(want, got, KH_TOTP_DIGITS) == 0 && step + d > last_step) {
            ok = 1;
            hit = step + d;
        }
    }
    OPENSSL_cleanse(key, sizeof key);
    if (rc < 0)
        return rc;
    if (!ok)
        return KH_EACCES;
    if (step_out)
        *step_out = hit;
    return 0;
}

static void uri_escape(kh_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~')
            kh_buf_putc(b, (char)*p);
        else
            kh_buf_printf(b, "%%%02X", *p);
    }
}

int kh_totp_uri(kh_buf *out, const char *issuer, const char *account, const char *secret)
{
    if (!out || !issuer || !account || !secret)
        return KH_EINVAL;
    size_t before = out->len;
    kh_buf_puts(out, "otpauth://totp/");
    uri_escape(out, issuer);
    kh_buf_putc(out, ':');
    uri_escape(out, account);
    kh_buf_puts(out, "?secret=");
    uri_escape(out, secret);
    kh_buf_puts(out, "&issuer=");
    uri_escape(out, issuer);
    int rc = kh_buf_printf(out, "&algorithm=SHA1&digits=%d&period=%d", KH_TOTP_DIGITS, KH_TOTP_STEP);
    if (rc < 0) {
        out->len = before;
        if (out->data)
            out->data[before] = 0;
    }
    return rc;
}

int kh_mfa_recovery_new(char codes[KH_MFA_RECOVERY_COUNT][KH_MFA_RECOVERY_LEN + 2])
{
    /* Rejection sampling: bytes >= 248 (8 * 31) are drawn again, so every
     * letter is equally likely. */
    uint8_t pool[64];
    size_t used = sizeof pool;
    const unsigned alpha = sizeof RALPHA - 1, cut = 256 - 256 % (sizeof RALPHA - 1);
    for (int i = 0; i < KH_MFA_RECOVERY_COUNT; i++) {
        char *c = codes[i];
        int o = 0;
        for (int j = 0; j < KH_MFA_RECOVERY_LEN; j++) {
            unsigned v;
            do {
                if (used == sizeof pool) {
                    if (RAND_bytes(pool, sizeof pool) != 1)
                        return KH_EINTERNAL;
                    used = 0;
                }
                v = pool[used++];
            } while (v >= cut);
            if (j == KH_MFA_RECOVERY_LEN / 2)
                c[o++] = '-';
            c[o++] = RALPHA[v % alpha];
        }
        c[o] = 0;
    }
    OPENSSL_cleanse(pool, sizeof pool);
    return 0;
}

int kh_mfa_recovery_hash(char out[65], const char *code)
{
    char norm[KH_MFA_RECOVERY_LEN + 1];
    size_t n = 0;
    uint8_t md[SHA256_DIGEST_LENGTH];
    if (!code)
        return KH_EINVAL;
    for (const char *c = code; *c; c++) {
        int ch = (unsigned char)*c;
        if (ch == '-' || ch == ' ')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch -= 32;
        if (!strchr(RALPHA, ch) || ch == 0 || n >= KH_MFA_RECOVERY_LEN)
            return KH_EFORMAT;
        norm[n++] = (char)ch;
    }
    if (n != KH_MFA_RECOVERY_LEN)
        return KH_EFORMAT;
    SHA256((const unsigned char *)norm, n, md);
    kh_hex_encode(md, sizeof md, out);
    return 0;
}
