/* Tests of src/util/util.c: the bounded buffer (its ceiling is a hard
 * limit and a failed append leaves the contents as they were), growable
 * arrays, size parsing, hex helpers and the JSON string writer (escaping,
 * valid UTF-8 kept, every byte of invalid UTF-8 escaped). Expected outputs
 * are written out by hand, never produced by the code under test. */
#include <stdint.h>

#include "harness.h"
#include "util/util.h"

/* ---- kh_buf ------------------------------------------------------------ */

KT_TEST(test_util_util__buf_limit_exact)
{
    kh_buf b = KH_BUF_INIT(10);
    KT_EQ_INT(kh_buf_append(&b, "0123456789", 10), 0);
    KT_EQ_INT(b.len, 10);
    KT_EQ_STR(b.data, "0123456789");
    /* One byte more than the ceiling fails and changes nothing. */
    KT_EQ_INT(kh_buf_putc(&b, 'x'), KH_ELIMIT);
    KT_EQ_INT(kh_buf_append(&b, "abc", 3), KH_ELIMIT);
    KT_EQ_INT(kh_buf_puts(&b, "z"), KH_ELIMIT);
    KT_EQ_INT(kh_buf_printf(&b, "%d", 7), KH_ELIMIT);
    KT_EQ_INT(b.len, 10);
    KT_EQ_STR(b.data, "0123456789");
    /* An empty append at the ceiling is fine. */
    KT_EQ_INT(kh_buf_append(&b, "", 0), 0);
    KT_EQ_INT(b.len, 10);
    kh_buf_dispose(&b);
    KT_CHECK(b.data == NULL);
    KT_EQ_INT(b.len, 0);
}

KT_TEST(test_util_util__buf_limit_partial_printf)
{
    kh_buf b;
    kh_buf_init(&b, 8);
    KT_EQ_INT(kh_buf_printf(&b, "%s-%d", "ab", 12), 0); /* "ab-12": 5 bytes */
    KT_EQ_STR(b.data, "ab-12");
    /* "xyzw" would make 9 bytes: rejected whole, not truncated. */
    KT_EQ_INT(kh_buf_printf(&b, "%s", "xyzw"), KH_ELIMIT);
    KT_EQ_STR(b.data, "ab-12");
    KT_EQ_INT(b.len, 5);
    KT_EQ_INT(kh_buf_printf(&b, "%s", "xyz"), 0);
    KT_EQ_STR(b.data, "ab-12xyz");
    KT_EQ_INT(b.len, 8);
    kh_buf_clear(&b);
    KT_EQ_INT(b.len, 0);
    KT_EQ_STR(b.data, "");
    KT_EQ_INT(kh_buf_puts(&b, "12345678"), 0);
    kh_buf_dispose(&b);
}

KT_TEST(test_util_util__errf)
{
    char err[8];
    memset(err, 'x', sizeof(err));
    KT_EQ_INT(kh_errf(err, sizeof(err), KH_EFORMAT, "line %d: %s", 12, "bad"), KH_EFORMAT);
    KT_EQ_STR(err, "line 12"); /* truncated, terminated */
    KT_EQ_INT(kh_errf(err, sizeof(err), 0, "ok"), 0);
    KT_EQ_STR(err, "ok");
    KT_EQ_INT(kh_errf(NULL, 100, KH_EIO, "nowhere to write"), KH_EIO);
    err[0] = 'z';
    KT_EQ_INT(kh_errf(err, 0, KH_ELIMIT, "no room"), KH_ELIMIT);
    KT_CHECK(err[0] == 'z'); /* nothing written */
}

KT_TEST(test_util_util__buf_unlimited_and_binary)
{
    kh_buf b = KH_BUF_INIT(0);
    static const char bin[5] = {'a', 0, 'b', 0, 'c'};
    KT_EQ_INT(kh_buf_append(&b, bin, 5), 0);
    KT_EQ_INT(b.len, 5);
    KT_CHECK(memcmp(b.data, bin, 5) == 0);
    KT_EQ_INT(b.data[5], 0); /* always terminated */
    /* Grows well past its first allocation. */
    for (int i = 0; i < 100000; i++)
        if (kh_buf_putc(&b, (char)('0' + i % 10)))
            break;
    KT_EQ_INT(b.len, 100005);
    KT_EQ_INT(b.data[5], '0');
    KT_EQ_INT(b.data[100004], '9');
    KT_EQ_INT(b.data[100005], 0);
    KT_CHECK(b.cap > b.len);
    size_t n = 0;
    char *p = kh_buf_detach(&b, &n);
    KT_EQ_INT(n, 100005);
    KT_CHECK(p != NULL && p[0] == 'a');
    KT_CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    free(p);
    /* Detaching an empty buffer gives an empty string, never NULL. */
    p = kh_buf_detach(&b, &n);
    KT_CHECK(p != NULL);
    KT_EQ_INT(n, 0);
    KT_EQ_STR(p, "");
    free(p);
}

KT_TEST(test_util_util__buf_reserve_overflow)
{
    kh_buf b = KH_BUF_INIT(0);
    KT_EQ_INT(kh_buf_putc(&b, 'x'), 0);
    KT_EQ_INT(kh_buf_reserve(&b, SIZE_MAX), KH_ELIMIT);
    KT_EQ_INT(kh_buf_reserve(&b, SIZE_MAX - 1), KH_ELIMIT);
    KT_EQ_STR(b.data, "x");
    kh_buf_dispose(&b);
}

/* ---- kh_grow ------------------------------------------------------------ */

KT_TEST(test_util_util__grow_limit)
{
    KH_VEC(int) v = {0};
    for (int i = 0; i < 20; i++) {
        int rc = KH_VEC_RESERVE(v, 1, 20);
        KT_EQ_INT(rc, 0);
        if (rc)
            break;
        v.v[v.n++] = i;
    }
    KT_EQ_INT(v.n, 20);
    KT_CHECK(v.cap <= 20);
    KT_EQ_INT(KH_VEC_RESERVE(v, 1, 20), KH_ELIMIT);
    KT_EQ_INT(v.v[19], 19);
    KH_VEC_FREE(v);
    KT_CHECK(v.v == NULL && v.n == 0 && v.cap == 0);

    void *p = NULL;
    size_t cap = 0;
    KT_EQ_INT(kh_grow(&p, &cap, SIZE_MAX / 2, 16, 0), KH_ENOMEM); /* size overflow */
    KT_CHECK(p == NULL);
    KT_EQ_INT(cap, 0);
}

/* ---- numbers ------------------------------------------------------------- */

typedef struct size_row {
    const char *in;
    int rc;
    uint64_t want;
} size_row;

static const size_row size_rows[] = {
    {"0", 0, 0},
    {"1000", 0, 1000},
    {"512K", 0, 524288},
    {"512k", 0, 524288},
    {"100M", 0, 104857600},
    {"1m", 0, 1048576},
    {"2G", 0, 2147483648ull},
    {"3g", 0, 3221225472ull},
    {"18446744073709551615", 0, 18446744073709551615ull},
    {"17179869183G", 0, 17179869183ull << 30},
    {"", KH_EFORMAT, 0},
    {"M", KH_EFORMAT, 0},
    {"K", KH_EFORMAT, 0},
    {"-1", KH_EFORMAT, 0},
    {"+1", KH_EFORMAT, 0},
    {"1.5M", KH_EFORMAT, 0},
    {"1 M", KH_EFORMAT, 0},
    {" 1", KH_EFORMAT, 0},
    {"1MB", KH_EFORMAT, 0},
    {"1T", KH_EFORMAT, 0},
    {"0x10", KH_EFORMAT, 0},
    {"18446744073709551616", KH_EFORMAT, 0},  /* 2^64 */
    {"17179869184G", KH_EFORMAT, 0},          /* 2^34 GiB = 2^64 */
    {"99999999999999999999K", KH_EFORMAT, 0},
};

KT_TEST(test_util_util__parse_size)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(size_rows); i++) {
        uint64_t v = 12345;
        int rc = kh_parse_size(size_rows[i].in, &v);
        if (rc != size_rows[i].rc)
            KT_FAIL_("kh_parse_size(\"%s\") returned %d, want %d", size_rows[i].in, rc, size_rows[i].rc);
        else if (rc == 0 && v != size_rows[i].want)
            KT_FAIL_("kh_parse_size(\"%s\") = %llu, want %llu", size_rows[i].in, (unsigned long long)v,
                     (unsigned long long)size_rows[i].want);
        else if (rc != 0 && v != 12345)
            KT_FAIL_("kh_parse_size(\"%s\") failed but wrote its output", size_rows[i].in);
    }
}

KT_TEST(test_util_util__parse_u64)
{
    uint64_t v = 0;
    KT_EQ_INT(kh_parse_u64("123abc", 3, &v), 0); /* exactly [s, s+n) */
    KT_EQ_INT(v, 123);
    KT_EQ_INT(kh_parse_u64("123abc", 4, &v), KH_EFORMAT);
    KT_EQ_INT(kh_parse_u64("", 0, &v), KH_EFORMAT);
    KT_EQ_INT(kh_parse_u64("18446744073709551615", 20, &v), 0);
    KT_CHECK(v == UINT64_MAX);
    KT_EQ_INT(kh_parse_u64("18446744073709551616", 20, &v), KH_EFORMAT);
}

KT_TEST(test_util_util__hex)
{
    uint8_t out[4] = {0};
    KT_EQ_INT(kh_hex_decode("00fFa5", 6, out), 0);
    KT_EQ_INT(out[0], 0x00);
    KT_EQ_INT(out[1], 0xff);
    KT_EQ_INT(out[2], 0xa5);
    KT_EQ_INT(kh_hex_decode("abc", 3, out), KH_EFORMAT);
    KT_EQ_INT(kh_hex_decode("0g", 2, out), KH_EFORMAT);
    KT_EQ_INT(kh_hex_decode("g0", 2, out), KH_EFORMAT);
    static const uint8_t in[3] = {0x01, 0xab, 0xf0};
    char hex[7];
    kh_hex_encode(in, 3, hex);
    KT_EQ_STR(hex, "01abf0");
    KT_EQ_INT(kh_hexval('9'), 9);
    KT_EQ_INT(kh_hexval('F'), 15);
    KT_EQ_INT(kh_hexval('G'), -1);
    KT_EQ_INT(kh_hexval(0xe0), -1);
    KT_EQ_INT(kh_str_endswith("a.ndb", ".ndb"), 1);
    KT_EQ_INT(kh_str_endswith("ndb", ".ndb"), 0);
    KT_EQ_INT(kh_str_endswith("x", ""), 1);
}

KT_TEST(test_util_util__error_table)
{
    KT_EQ_STR(kh_err_name(KH_ENOMEM), "KH_ENOMEM");
    KT_EQ_STR(kh_err_name(KH_ENOTFOUND), "KH_ENOTFOUND");
    KT_EQ_STR(kh_err_name(0), "KH_OK");
    KT_EQ_STR(kh_err_name(-999), "KH_E?");
    KT_EQ_STR(kh_strerror(KH_EACCES), "permission denied");
    KT_EQ_STR(kh_strerror(12345), "unknown error");
}

/* ---- JSON strings ------------------------------------------------------------ */

typedef struct json_row {
    const char *in;
    size_t len; /* 0: strlen */
    const char *want;
} json_row;

static const json_row json_rows[] = {
    {"", 0, "\"\""},
    {"plain /tmp/x.txt", 0, "\"plain /tmp/x.txt\""},
    {"q\"b\\s/", 0, "\"q\\\"b\\\\s/\""},
    {"a\nb\tc\rd", 0, "\"a\\nb\\tc\\rd\""},
    {"\x01\x08\x0c\x1f\x7f", 0, "\"\\u0001\\u0008\\u000c\\u001f\\u007f\""},
    {"nul\0x", 5, "\"nul\\u0000x\""},
    /* valid UTF-8 is kept as is: 2, 3 and 4 bytes, the largest code point */
    {"Khi\xc3\xaan", 0, "\"Khi\xc3\xaan\""},
    {"\xe1\xbb\x87\xe2\x82\xac", 0, "\"\xe1\xbb\x87\xe2\x82\xac\""},
    {"\xf0\x9f\x9b\xa1", 0, "\"\xf0\x9f\x9b\xa1\""},
    {"\xf4\x8f\xbf\xbf", 0, "\"\xf4\x8f\xbf\xbf\""},
    /* invalid UTF-8: every offending byte becomes \u00XX */
    {"\xff", 0, "\"\\u00ff\""},
    {"a\x80z", 0, "\"a\\u0080z\""},
    {"\xc0\x80", 0, "\"\\u00c0\\u0080\""},                 /* overlong NUL */
    {"\xe0\x80\xaf", 0, "\"\\u00e0\\u0080\\u00af\""},       /* overlong '/' */
    {"\xed\xa0\x80", 0, "\"\\u00ed\\u00a0\\u0080\""},       /* UTF-16 surrogate */
    {"\xf4\x90\x80\x80", 0, "\"\\u00f4\\u0090\\u0080\\u0080\""}, /* above U+10FFFF */
    {"\xf8\x88\x80\x80\x80", 0, "\"\\u00f8\\u0088\\u0080\\u0080\\u0080\""},
    {"x\xe2\x82", 0, "\"x\\u00e2\\u0082\""},                /* truncated at the end */
    {"\xc3(", 0, "\"\\u00c3(\""},                           /* bad continuation */
    {"\xc3\xaa\xc3", 0, "\"\xc3\xaa\\u00c3\""},
};

KT_TEST(test_util_util__json_str)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(json_rows); i++) {
        const json_row *r = &json_rows[i];
        kh_buf b = KH_BUF_INIT(0);
        int rc = kh_json_str(&b, r->in, r->len ? r->len : strlen(r->in));
        if (rc != 0 || !b.data || strcmp(b.data, r->want) != 0)
            KT_FAIL_("row %zu: got %s (rc %d), want %s", i, b.data ? b.data : "(null)", rc, r->want);
        kh_buf_dispose(&b);
    }
}

KT_TEST(test_util_util__json_str_appends_and_respects_limit)
{
    kh_buf b = KH_BUF_INIT(12);
    KT_EQ_INT(kh_buf_puts(&b, "{\"p\":"), 0);
    KT_EQ_INT(kh_json_str(&b, "ab", 2), 0);
    KT_EQ_STR(b.data, "{\"p\":\"ab\"");
    /* Would cross the ceiling: fails, and the caller can tell. */
    KT_EQ_INT(kh_json_str(&b, "\xff\xff", 2), KH_ELIMIT);
    kh_buf_dispose(&b);
}

KT_MAIN({
    KT_CASE(test_util_util__buf_limit_exact),
    KT_CASE(test_util_util__buf_limit_partial_printf),
    KT_CASE(test_util_util__errf),
    KT_CASE(test_util_util__buf_unlimited_and_binary),
    KT_CASE(test_util_util__buf_reserve_overflow),
    KT_CASE(test_util_util__grow_limit),
    KT_CASE(test_util_util__parse_size),
    KT_CASE(test_util_util__parse_u64),
    KT_CASE(test_util_util__hex),
    KT_CASE(test_util_util__error_table),
    KT_CASE(test_util_util__json_str),
    KT_CASE(test_util_util__json_str_appends_and_respects_limit),
})
