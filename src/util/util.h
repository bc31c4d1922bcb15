/* Khiên — util: small containers and helpers shared by every module.
 *
 * libc only. Every growable container has a ceiling: appending past it
 * fails with KH_ELIMIT instead of growing without bound (curl's dynbuf
 * idea). Nothing here knows about rules, files or hosts.
 */
#ifndef KH_UTIL_H
#define KH_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "khien/error.h"

#define KH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KH_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KH_MAX(a, b) ((a) > (b) ? (a) : (b))
#define KH_UNUSED(x) ((void)(x))

#if defined(__GNUC__)
#define KH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define KH_LIKELY(x) __builtin_expect(!!(x), 1)
#define KH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define KH_PRINTF(f, a)
#define KH_LIKELY(x) (x)
#define KH_UNLIKELY(x) (x)
#endif

/* Overflow-checked size arithmetic: evaluates to nonzero on overflow. */
#define KH_SIZE_ADD(out, a, b) __builtin_add_overflow((a), (b), (out))
#define KH_SIZE_MUL(out, a, b) __builtin_mul_overflow((a), (b), (out))

/* ---- Bounded byte buffer -------------------------------------------- */

typedef struct kh_buf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t limit; /* appending past this fails with KH_ELIMIT */
} kh_buf;

#define KH_BUF_INIT(limit) {NULL, 0, 0, (limit)}

void kh_buf_init(kh_buf *b, size_t limit);
void kh_buf_dispose(kh_buf *b);
void kh_buf_clear(kh_buf *b);
int kh_buf_reserve(kh_buf *b, size_t extra);
int kh_buf_append(kh_buf *b, const void *p, size_t n);
int kh_buf_puts(kh_buf *b, const char *s);
int kh_buf_putc(kh_buf *b, char c);
int kh_buf_printf(kh_buf *b, const char *fmt, ...) KH_PRINTF(2, 3);
/* Formats a message into err (errlen bytes, always terminated; nothing
 * when err is NULL or errlen 0) and returns code, for the functions that
 * report into a caller's buffer: `return kh_errf(err, n, KH_EFORMAT, ...)`. */
int kh_errf(char *err, size_t errlen, int code, const char *fmt, ...) KH_PRINTF(4, 5);
int kh_buf_vprintf(kh_buf *b, const char *fmt, va_list ap);
/* Takes the contents (caller frees); the buffer is left empty. */
char *kh_buf_detach(kh_buf *b, size_t *len_out);

/* ---- Growable arrays ------------------------------------------------- */

/* Makes room for `need` elements of `elsz` bytes in *p (capacity *cap),
 * at most `limit` elements. Returns 0, KH_ENOMEM or KH_ELIMIT. */
int kh_grow(void **p, size_t *cap, size_t need, size_t elsz, size_t limit);

#define KH_VEC(T) struct { T *v; size_t n, cap; }
/* Makes room for k more elements; returns 0, KH_ENOMEM or KH_ELIMIT. */
#define KH_VEC_RESERVE(vec, k, limit) \
    kh_grow((void **)&(vec).v, &(vec).cap, (vec).n + (k), sizeof(*(vec).v), (limit))
#define KH_VEC_FREE(vec) (free((vec).v), (vec).v = NULL, (vec).n = (vec).cap = 0)

/* qsort that accepts an empty (NULL) array, which the C library does not. */
void kh_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* ---- Strings and numbers --------------------------------------------- */

char *kh_strdup(const char *s);
char *kh_strndup(const char *s, size_t n);
/* Parses a decimal unsigned integer spanning exactly [s, s+n). */
int kh_parse_u64(const char *s, size_t n, uint64_t *out);
/* Parses sizes like "100M", "2G", "512K", "1000". */
int kh_parse_size(const char *s, uint64_t *out);
int kh_hexval(int c); /* 0..15, or -1 */
/* Decodes 2*n hex characters into n bytes. */
int kh_hex_decode(const char *s, size_t n_chars, uint8_t *out);
void kh_hex_encode(const uint8_t *p, size_t n, char *out /* 2n+1 */);
int kh_str_endswith(const char *s, const char *suffix);

/* ---- JSON text -------------------------------------------------------- */

/* Appends s (n bytes, any content) as a JSON string literal with quotes.
 * Invalid UTF-8 bytes are written as \u00XX of the byte value. */
int kh_json_str(kh_buf *b, const char *s, size_t n);

/* ---- Time -------------------------------------------------------------- */
double kh_now(void); /* monotonic seconds */

#endif
