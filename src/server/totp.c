/* Khiên — server/totp: time-based one-time passwords for the second factor.
 *
 * RFC 6238 with the parameters every authenticator app understands: SHA-1,
 * 6 digits, 30-second steps; one step of clock drift is accepted on either
 * side. The secret is kept base32-encoded in the users table.
 */
#include "server/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "khien/error.h"
#include "net/sign.h"

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int kh_totp_secret(char out[KH_TOTP_SECRET_B32])
{
    uint8_t raw[20];
    if (kh_sign_random(raw, sizeof(raw)) < 0)
        return KH_EINTERNAL;
    for (int i = 0; i < 32; i++) {
        int bit = i * 5, byte = bit / 8, off = bit % 8;
        unsigned v = (unsigned)raw[byte] << 8 | (byte + 1 < 20 ? raw[byte + 1] : 0);
        out[i] = B32[(v >> (11 - off)) & 31];
    }
    out[32] = 0;
    return 0;
}

static int b32_decode(uint8_t *out, size_t cap, const char *s, size_t *n)
{
    unsigned buf = 0;
    int bits = 0;
    size_t k = 0;
    for (; *s; s++) {
        const char *p = strchr(B32, *s >= 'a' && *s <= 'z' ? *s - 32 : *s);
        if (*s == '=' || *s == ' ')
            continue;
        if (!p || !*s)
            return KH_EFORMAT;
        buf = (buf << 5) | (unsigned)(p - B32);
        bits += 5;
        if (bits >= 8) {
            if (k >= cap)
                return KH_EFORMAT;
            out[k++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    *n = k;
    return k ? 0 : KH_EFORMAT;
}

int kh_totp_code(char out[7], const char *secret_b32, uint64_t counter)
{
    uint8_t key[64], msg[8], md[EVP_MAX_MD_SIZE];
    size_t kl = 0;
    unsigned int ml = 0;
    if (b32_decode(key, sizeof(key), secret_b32, &kl) < 0)
        return KH_EFORMAT;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    if (!HMAC(EVP_sha1(), key, (int)kl, msg, sizeof(msg), md, &ml) || ml < 20)
        return KH_EFORMAT;
    int off = md[ml - 1] & 0x0f;
    uint32_t v = ((uint32_t)(md[off] & 0x7f) << 24) | ((uint32_t)md[off + 1] << 16) | ((uint32_t)md[off + 2] << 8) |
                 md[off + 3];
    snprintf(out, 7, "%06u", (unsigned)(v % 1000000u));
    return 0;
}

int kh_totp_check_step(const char *secret_b32, const char *code, time_t t, uint64_t *step)
{
    if (!secret_b32 || !code || strlen(code) != 6 || strspn(code, "0123456789") != 6)
        return 0;
    uint64_t now = (uint64_t)t / 30;
    int ok = 0;
    for (int d = -1; d <= 1; d++) {
        char c[7];
        if (kh_totp_code(c, secret_b32, now + (uint64_t)d) == 0 && kh_sign_streq(c, code)) {
            ok = 1;
            if (step)
                *step = now + (uint64_t)d;
        }
    }
    return ok;
}

int kh_totp_check(const char *secret_b32, const char *code, time_t t)
{
    return kh_totp_check_step(secret_b32, code, t, NULL);
}
