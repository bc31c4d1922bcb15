/* Tests of src/server/ui_totp.c: RFC 4226 / RFC 6238 vectors, base32, replay, recovery codes.
 * The module is compiled into this test directly (server/ is not part of libkhien). */
#include "harness.h"
#include "server/ui_totp.c"

/* RFC 6238 appendix B, SHA-1, 8 digits, key "12345678901234567890". */
KT_TEST(rfc6238_vectors)
{
    const uint8_t *key = (const uint8_t *)"12345678901234567890";
    static const struct { int64_t t; uint32_t code; } v[] = {
        {59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
        {1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130},
    };
    for (size_t i = 0; i < KH_ARRAY_LEN(v); i++) {
        uint32_t got = 0;
        KT_EQ_INT(kh_totp_hotp(&got, key, 20, (uint64_t)v[i].t / 30, 8), 0);
        KT_EQ_INT(got, v[i].code);
    }
}

/* RFC 4226 appendix D, 6 digits. */
KT_TEST(rfc4226_vectors)
{
    static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489};
    for (unsigned c = 0; c < 10; c++) {
        uint32_t got = 0;
        KT_EQ_INT(kh_totp_hotp(&got, (const uint8_t *)"12345678901234567890", 20, c, 6), 0);
        KT_EQ_INT(got, want[c]);
    }
}

KT_TEST(base32_roundtrip)
{
    char enc[64];
    uint8_t dec[64];
    size_t n = 0;
    KT_EQ_INT(kh_totp_base32_encode(enc, sizeof enc, (const uint8_t *)"12345678901234567890", 20), 0);
    KT_EQ_STR(enc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"); /* RFC 4648 */
    KT_EQ_INT(kh_totp_base32_decode(dec, sizeof dec, &n, "gezd gnbv-gy3tqojqgezdgnbvgy3tqojq===="), 0);
    KT_EQ_INT(n, 20);
    KT_CHECK(memcmp(dec, "12345678901234567890", 20) == 0);
    KT_EQ_INT(kh_totp_base32_decode(dec, sizeof dec, &n, "GEZ1"), KH_EFORMAT);
    KT_EQ_INT(kh_totp_base32_encode(enc, 4, (const uint8_t *)"abc", 3), KH_ELIMIT);
}

KT_TEST(verify_window_and_replay)
{
    const char *sec = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    char code[8], prev[8], old[8];
    int64_t now = 1234567890, step = 0;
    KT_EQ_INT(kh_totp_code(code, sec, now), 0);
    KT_EQ_STR(code, "005924"); /* last six digits of the RFC 8-digit value */
    KT_EQ_INT(kh_totp_verify(&step, sec, code, now, -1), 0);
    KT_EQ_INT(step, now / 30);
    /* the same code again: refused */
    KT_EQ_INT(kh_totp_verify(&step, sec, code, now, step), KH_EACCES);
    /* the previous step is accepted once, two steps back is not */
    KT_EQ_INT(kh_totp_code(prev, sec, now - 30), 0);
    KT_EQ_INT(kh_totp_code(old, sec, now - 60), 0);
    KT_EQ_INT(kh_totp_verify(NULL, sec, prev, now, -1), 0);
    if (strcmp(old, code) && strcmp(old, prev))
        KT_EQ_INT(kh_totp_verify(NULL, sec, old, now, -1), KH_EACCES);
    KT_EQ_INT(kh_totp_verify(NULL, sec, "12345", now, -1), KH_EFORMAT);
    KT_EQ_INT(kh_totp_verify(NULL, sec, "12a456", now, -1), KH_EFORMAT);
    KT_EQ_INT(kh_totp_verify(NULL, sec, "1234567", now, -1), KH_EFORMAT);
}

KT_TEST(new_secret_and_uri)
{
    char a[KH_TOTP_SECRET_LEN + 1], b[KH_TOTP_SECRET_LEN + 1];
    KT_EQ_INT(kh_totp_secret_new(a), 0);
    KT_EQ_INT(kh_totp_secret_new(b), 0);
    KT_EQ_INT(strlen(a), 32);
    KT_CHECK(strcmp(a, b) != 0);
    kh_buf u = KH_BUF_INIT(4096);
    KT_EQ_INT(kh_totp_uri(&u, "Khiên", "an.nv@ubnd", a), 0);
    KT_CHECK(strncmp(u.data, "otpauth://totp/Khi%C3%AAn:an.nv%40ubnd?secret=", 46) == 0);
    KT_CHECK(strstr(u.data, "&issuer=Khi%C3%AAn&algorithm=SHA1&digits=6&period=30") != NULL);
    kh_buf_dispose(&u);
}

KT_TEST(recovery_codes)
{
    char codes[KH_MFA_RECOVERY_COUNT][KH_MFA_RECOVERY_LEN + 2];
    char h1[65], h2[65];
    KT_EQ_INT(kh_mfa_recovery_new(codes), 0);
    for (int i = 0; i < KH_MFA_RECOVERY_COUNT; i++) {
        KT_EQ_INT(strlen(codes[i]), KH_MFA_RECOVERY_LEN + 1);
        KT_EQ_INT(codes[i][5], '-');
        for (int j = 0; j < i; j++)
            KT_CHECK(strcmp(codes[i], codes[j]) != 0);
    }
    KT_EQ_INT(kh_mfa_recovery_hash(h1, codes[0]), 0);
    char lower[16];
    snprintf(lower, sizeof lower, "%s", codes[0]);
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    KT_EQ_INT(kh_mfa_recovery_hash(h2, lower), 0);
    KT_EQ_STR(h1, h2);
    KT_EQ_INT(kh_mfa_recovery_hash(h2, "ABCDE-FGH"), KH_EFORMAT);
    KT_EQ_INT(kh_mfa_recovery_hash(h2, "ABCDE-FGHI0"), KH_EFORMAT); /* 0 is not in the alphabet */
}

KT_MAIN({KT_CASE(rfc6238_vectors), KT_CASE(rfc4226_vectors), KT_CASE(base32_roundtrip),
         KT_CASE(verify_window_and_replay), KT_CASE(new_secret_and_uri), KT_CASE(recovery_codes)})
