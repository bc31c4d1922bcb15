/* Khiên — util: bounded buffers, growable arrays, string and JSON helpers.
 *
 * The building blocks every other module uses. They never print, never
 * exit, and report failure with a KH_E* code: KH_ENOMEM when malloc fails,
 * KH_ELIMIT when a caller-chosen ceiling would be crossed. kh_buf keeps its
 * data NUL-terminated so text built in it can be used as a C string.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void kh_buf_init(kh_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
}

void kh_buf_dispose(kh_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void kh_buf_clear(kh_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

int kh_buf_reserve(kh_buf *b, size_t extra)
{
    size_t need;
    if (KH_SIZE_ADD(&need, b->len, extra) || KH_SIZE_ADD(&need, need, 1))
        return KH_ELIMIT;
    if (b->limit && need - 1 > b->limit)
        return KH_ELIMIT;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return KH_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int kh_buf_append(kh_buf *b, const void *p, size_t n)
{
    int rc = kh_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int kh_buf_puts(kh_buf *b, const char *s) { return kh_buf_append(b, s, strlen(s)); }
int kh_buf_putc(kh_buf *b, char c) { return kh_buf_append(b, &c, 1); }

int kh_buf_vprintf(kh_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return KH_EINVAL;
    int rc = kh_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int kh_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int kh_buf_printf(kh_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = kh_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *kh_buf_detach(kh_buf *b, size_t *len_out)
{
    char *p = b->data;
    if (!p) {
        p = malloc(1);
        if (p)
            *p = 0;
    }
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int kh_grow(void **p, size_t *cap, size_t need, size_t elsz, size_t limit)
{
    if (need <= *cap)
        return 0;
    if (limit && need > limit)
        return KH_ELIMIT;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 4 ? need : ncap * 2;
    if (limit && ncap > limit)
        ncap = limit;
    size_t bytes;
    if (KH_SIZE_MUL(&bytes, ncap, elsz))
        return KH_ENOMEM;
    void *np = realloc(*p, bytes);
    if (!np)
        return KH_ENOMEM;
    *p = np;
    *cap = ncap;
    return 0;
}

void kh_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

char *kh_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *kh_strdup(const char *s) { return s ? kh_strndup(s, strlen(s)) : NULL; }

int kh_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return KH_EFORMAT;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return KH_EFORMAT;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return KH_EFORMAT;
    }
    *out = v;
    return 0;
}

int kh_parse_size(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    uint64_t mul = 1;
    if (n && strchr("kKmMgG", s[n - 1])) {
        char c = (char)tolower((unsigned char)s[n - 1]);
        mul = c == 'k' ? 1024ull : c == 'm' ? 1024ull * 1024 : 1024ull * 1024 * 1024;
        n--;
    }
    uint64_t v;
    if (kh_parse_u64(s, n, &v) || __builtin_mul_overflow(v, mul, &v))
        return KH_EFORMAT;
    *out = v;
    return 0;
}

int kh_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int kh_hex_decode(const char *s, size_t n_chars, uint8_t *out)
{
    if (n_chars % 2)
        return KH_EFORMAT;
    for (size_t i = 0; i < n_chars; i += 2) {
        int h = kh_hexval((unsigned char)s[i]), l = kh_hexval((unsigned char)s[i + 1]);
        if (h < 0 || l < 0)
            return KH_EFORMAT;
        out[i / 2] = (uint8_t)(h << 4 | l);
    }
    return 0;
}

void kh_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

int kh_str_endswith(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t need;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        need = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        need = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        need = 4, min = 0x10000;
    else
        return 0;
    if (n < need)
        return 0;
    unsigned cp = c & (0x7F >> need);
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

int kh_json_str(kh_buf *b, const char *s, size_t n)
{
    int rc = kh_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (!rc && i < n) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = kh_buf_append(b, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            rc = e ? kh_buf_puts(b, e) : kh_buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (l == 0) {
                rc = kh_buf_printf(b, "\\u%04x", c);
                i++;
            } else {
                rc = kh_buf_append(b, p + i, l);
                i += l;
            }
        }
    }
    return rc ? rc : kh_buf_putc(b, '"');
}

double kh_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Error table ------------------------------------------------------ */

const char *kh_strerror(int err)
{
    switch (err) {
#define KH_ERR_STR_(name, code, text) \
    case code:                        \
        return text;
        KH_ERRORS(KH_ERR_STR_)
#undef KH_ERR_STR_
    }
    return "unknown error";
}

const char *kh_err_name(int err)
{
    switch (err) {
#define KH_ERR_NAME_(name, code, text) \
    case code:                         \
        return "KH_" #name;
        KH_ERRORS(KH_ERR_NAME_)
#undef KH_ERR_NAME_
    }
    return "KH_E?";
}

const char *kh_version(void) { return KH_VERSION_STRING; }
