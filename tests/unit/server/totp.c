/* Khiên — tests for server/totp.c: RFC 6238 test vectors (SHA-1), drift window, bad input. */
#include <string.h>

#include "harness.h"
#include "server/totp.h"

/* RFC 6238 appendix B secret "12345678901234567890" in base32 */
#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

KT_TEST(test_totp_rfc6238)
{
    char c[7];
    KT_EQ_INT(kh_totp_code(c, RFC_SECRET, 59 / 30), 0);
    KT_EQ_STR(c, "287082"); /* 94287082 */
    KT_EQ_INT(kh_totp_code(c, RFC_SECRET, 1111111109 / 30), 0);
    KT_EQ_STR(c, "081804"); /* 07081804 */
    KT_EQ_INT(kh_totp_code(c, RFC_SECRET, 1234567890 / 30), 0);
    KT_EQ_STR(c, "005924"); /* 89005924 */
    KT_EQ_INT(kh_totp_code(c, RFC_SECRET, 20000000000ULL / 30), 0);
    KT_EQ_STR(c, "353130"); /* 65353130 */
}

KT_TEST(test_totp_check)
{
    KT_CHECK(kh_totp_check(RFC_SECRET, "287082", 59));
    KT_CHECK(kh_totp_check(RFC_SECRET, "287082", 59 + 30)); /* one step of drift */
    KT_CHECK(!kh_totp_check(RFC_SECRET, "287082", 59 + 90));
    KT_CHECK(!kh_totp_check(RFC_SECRET, "28708", 59));
    KT_CHECK(!kh_totp_check(RFC_SECRET, "28708a", 59));
    KT_CHECK(!kh_totp_check(NULL, "287082", 59));
    char c[7];
    KT_CHECK(kh_totp_code(c, "!!!", 1) < 0);
    char s[KH_TOTP_SECRET_B32], s2[KH_TOTP_SECRET_B32];
    KT_EQ_INT(kh_totp_secret(s), 0);
    KT_EQ_INT(kh_totp_secret(s2), 0);
    KT_EQ_INT(strlen(s), 32);
    KT_CHECK(strcmp(s, s2) != 0);
    KT_EQ_INT(kh_totp_code(c, s, 12345), 0);
    KT_CHECK(kh_totp_check(s, c, 12345 * 30));
    /* the step a code belongs to, with one step of drift either way */
    uint64_t step = 0;
    KT_CHECK(kh_totp_check_step(s, c, 12345 * 30, &step));
    KT_EQ_INT((long long)step, 12345);
    KT_CHECK(kh_totp_check_step(s, c, 12346 * 30 + 29, &step));
    KT_EQ_INT((long long)step, 12345);
    KT_CHECK(!kh_totp_check_step(s, c, 12347 * 30, &step));
}

KT_MAIN({KT_CASE(test_totp_rfc6238), KT_CASE(test_totp_check)})
