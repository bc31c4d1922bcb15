/* Khiên — engine/modules: the `console` module, as yara 4.2.3 has it.
 *
 * console.log(...) and console.hex(...) let a rule writer see values while
 * a condition runs. Each call formats one message exactly as yara does and
 * hands it to the application through the call context's log hook (the
 * library never prints); without a hook the message is dropped. Every call
 * evaluates to the integer 1, so `console.log(x) and ...` goes on.
 *
 * Formats (yara's): log(s) prints s with every byte outside 0x20-0x7e as
 * \xNN; log(m, s) prints m up to its first NUL, unescaped, then s escaped;
 * log(i) "%lli"; log(m, i) "%s%lli"; log(f) "%f"; log(m, f) "%s%f";
 * hex(i) "0x%llx"; hex(m, i) "%s0x%llx". Messages are built in the scan's
 * arena, so their size follows the strings a rule passes and needs no cap
 * of its own.
 */
#include <stdarg.h>
#include <stdio.h>

#include "engine/modules/module.h"

static int done(kh_yval *out)
{
    out->type = KH_YT_INT;
    out->defined = 1;
    out->v.i = 1;
    return 0;
}

static void emit(const kh_ycall *c, const char *msg, size_t n)
{
    if (c->log)
        c->log(c->scan, msg, n);
}

/* Length of a message argument as yara uses it: up to its first NUL. */
static int cstr_len(const kh_yval *s)
{
    const uint8_t *z = s->v.s.n ? memchr(s->v.s.p, 0, s->v.s.n) : NULL;
    size_t n = z ? (size_t)(z - s->v.s.p) : s->v.s.n;
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

static const char *pfx(const kh_yval *s) { return s->v.s.p ? (const char *)s->v.s.p : ""; }

/* `prefix` (C-string length) then `s` with non-printable bytes escaped. */
static int log_escaped(const kh_ycall *c, const kh_yval *prefix, const kh_yval *s, kh_yval *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t pn = prefix ? (size_t)cstr_len(prefix) : 0;
    if (!c->log)
        return done(out);
    char *msg = kh_yarena_alloc(c->arena, pn + 4 * (size_t)s->v.s.n + 1), *q = msg;
    if (!msg)
        return KH_ENOMEM;
    if (pn)
        memcpy(q, prefix->v.s.p, pn), q += pn;
    for (uint32_t i = 0; i < s->v.s.n; i++) {
        uint8_t b = s->v.s.p[i];
        if (b >= 0x20 && b < 0x7f) {
            *q++ = (char)b;
        } else {
            *q++ = '\\', *q++ = 'x';
            *q++ = hex[b >> 4], *q++ = hex[b & 15];
        }
    }
    *q = 0;
    emit(c, msg, (size_t)(q - msg));
    return done(out);
}

/* A printf-formatted message; `fmt` starts with "%.*s" for the prefix. */
static int log_fmt(const kh_ycall *c, kh_yval *out, const char *fmt, ...) KH_PRINTF(3, 4);
static int log_fmt(const kh_ycall *c, kh_yval *out, const char *fmt, ...)
{
    va_list ap, ap2;
    if (!c->log)
        return done(out);
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = n >= 0 ? kh_yarena_alloc(c->arena, (size_t)n + 1) : NULL;
    if (msg)
        vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    if (!msg)
        return n < 0 ? KH_EINTERNAL : KH_ENOMEM;
    emit(c, msg, (size_t)n);
    return done(out);
}

static int log_s(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return log_escaped(c, NULL, &a[0], out); }

static int log_ss(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return log_escaped(c, &a[0], &a[1], out); }

static int log_i(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    return log_fmt(c, out, "%.*s%lld", 0, "", (long long)a[0].v.i);
}

static int log_si(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    return log_fmt(c, out, "%.*s%lld", cstr_len(&a[0]), pfx(&a[0]), (long long)a[1].v.i);
}

static int log_f(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    return log_fmt(c, out, "%.*s%f", 0, "", a[0].v.f);
}

static int log_sf(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    return log_fmt(c, out, "%.*s%f", cstr_len(&a[0]), pfx(&a[0]), a[1].v.f);
}

static int hex_i(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    return log_fmt(c, out, "%.*s0x%llx", 0, "", (unsigned long long)a[0].v.i);
}

static int hex_si(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    return log_fmt(c, out, "%.*s0x%llx", cstr_len(&a[0]), pfx(&a[0]), (unsigned long long)a[1].v.i);
}

static const kh_yfunc f_log[] = {
    {"s", KH_YT_INT, log_s},  {"ss", KH_YT_INT, log_ss}, {"i", KH_YT_INT, log_i},
    {"si", KH_YT_INT, log_si}, {"f", KH_YT_INT, log_f},   {"sf", KH_YT_INT, log_sf},
    {NULL, 0, NULL},
};

static const kh_yfunc f_hex[] = {
    {"i", KH_YT_INT, hex_i},
    {"si", KH_YT_INT, hex_si},
    {NULL, 0, NULL},
};

static const kh_ymember members[] = {
    {"log", KH_YT_FUNC, 0, NULL, f_log},
    {"hex", KH_YT_FUNC, 0, NULL, f_hex},
    {NULL, 0, 0, NULL, NULL},
};

static int load(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    KH_UNUSED(root);
    KH_UNUSED(data);
    KH_UNUSED(len);
    KH_UNUSED(a);
    return 0;
}

const kh_ymodule kh_ymod_console = {"console", {"console", KH_YT_STRUCT, 0, members, NULL}, load};
