/* Khiên — engine/modules: the `math` module.
 *
 * Statistics over a range of the scanned data or over a string, as yara's
 * math module: entropy, mean, deviation, serial correlation, Monte Carlo
 * pi, count and percentage of a byte, mode, to_number/to_string helpers,
 * and integer min/max/abs. Ranges outside the data give undefined, as in
 * yara. Every function is a single bounded pass over at most the data.
 */
#include <math.h>
#include <stdio.h>

#include "engine/modules/module.h"

#define KH_PI 3.14159265358979323846

/* Byte histogram of data[off, off+len) (or of a string). 0 if out of range. */
static int range(const kh_ycall *c, const kh_yval *a, const uint8_t **p, size_t *n)
{
    int64_t off = a[0].v.i, len = a[1].v.i;
    if (off < 0 || len < 0 || (uint64_t)off > c->len || (uint64_t)len > c->len - (uint64_t)off)
        return 0;
    *p = c->data + off;
    *n = (size_t)len;
    return 1;
}

static void histo(const uint8_t *p, size_t n, uint64_t h[256])
{
    memset(h, 0, 256 * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        h[p[i]]++;
}

static double entropy(const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t h[256];
    histo(p, n, h);
    double e = 0;
    for (int i = 0; i < 256; i++)
        if (h[i]) {
            double x = (double)h[i] / (double)n;
            e -= x * log2(x);
        }
    return e;
}

static double mean(const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return (double)s / (double)n;
}

static double deviation(const uint8_t *p, size_t n, double m)
{
    if (n == 0)
        return 0;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)p[i] - m);
    return s / (double)n;
}

static double serial_correlation(const uint8_t *p, size_t n)
{
    double sccun = 0, scclast = 0, sccu0 = 0, scct1 = 0, scct2 = 0, scct3 = 0;
    for (size_t i = 0; i < n; i++) {
        sccun = p[i];
        if (i == 0)
            sccu0 = sccun;
        else
            scct1 += scclast * sccun;
        scct2 += sccun;
        scct3 += sccun * sccun;
        scclast = sccun;
    }
    scct1 += scclast * sccu0;
    scct2 = scct2 * scct2;
    double nd = (double)n, scc = nd * scct3 - scct2;
    if (scc == 0)
        return -100000;
    return (nd * scct1 - scct2) / scc;
}

static double monte_carlo_pi(const uint8_t *p, size_t n)
{
    const double incirc = pow(pow(256.0, 3.0) - 1, 2.0);
    uint64_t inmont = 0, mcount = 0;
    for (size_t i = 0; i + 6 <= n; i += 6) {
        double mx = 0, my = 0;
        for (int j = 0; j < 3; j++) {
            mx = mx * 256.0 + p[i + (size_t)j];
            my = my * 256.0 + p[i + 3 + (size_t)j];
        }
        mcount++;
        if (mx * mx + my * my <= incirc)
            inmont++;
    }
    if (mcount == 0)
        return 0;
    double pi = 4.0 * ((double)inmont / (double)mcount);
    return fabs((pi - KH_PI) / KH_PI);
}

static int set_f(kh_yval *out, double v)
{
    out->type = KH_YT_FLOAT;
    out->defined = 1;
    out->v.f = v;
    return 0;
}

static int set_i(kh_yval *out, int64_t v)
{
    out->type = KH_YT_INT;
    out->defined = 1;
    out->v.i = v;
    return 0;
}

#define RANGE_FN(fname, expr)                                                         \
    static int fname##_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)           \
    {                                                                                 \
        const uint8_t *p;                                                             \
        size_t n;                                                                     \
        if (!range(c, a, &p, &n))                                                     \
            return 0;                                                                 \
        return set_f(out, expr);                                                      \
    }                                                                                 \
    static int fname##_s(const kh_ycall *c, const kh_yval *a, kh_yval *out)           \
    {                                                                                 \
        const uint8_t *p = a[0].v.s.p;                                                \
        size_t n = a[0].v.s.n;                                                        \
        KH_UNUSED(c);                                                                 \
        return set_f(out, expr);                                                      \
    }

RANGE_FN(entropy, entropy(p, n))
RANGE_FN(mean, mean(p, n))
RANGE_FN(serial, serial_correlation(p, n))
RANGE_FN(pi, monte_carlo_pi(p, n))

static int deviation_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    const uint8_t *p;
    size_t n;
    if (!range(c, a, &p, &n))
        return 0;
    return set_f(out, deviation(p, n, a[2].v.f));
}

static int deviation_s(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    return set_f(out, deviation(a[0].v.s.p, a[0].v.s.n, a[1].v.f));
}

static int in_range(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    return set_i(out, a[0].v.f >= a[1].v.f && a[0].v.f <= a[2].v.f);
}

static int count_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    const uint8_t *p;
    size_t n;
    if (a[0].v.i < 0 || a[0].v.i > 255 || !range(c, a + 1, &p, &n))
        return 0;
    int64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == (uint8_t)a[0].v.i;
    return set_i(out, k);
}

static int count_all(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    if (a[0].v.i < 0 || a[0].v.i > 255)
        return 0;
    int64_t k = 0;
    for (size_t i = 0; i < c->len; i++)
        k += c->data[i] == (uint8_t)a[0].v.i;
    return set_i(out, k);
}

static int percentage_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    const uint8_t *p;
    size_t n;
    if (a[0].v.i < 0 || a[0].v.i > 255 || !range(c, a + 1, &p, &n) || n == 0)
        return 0;
    int64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == (uint8_t)a[0].v.i;
    return set_f(out, (double)k / (double)n);
}

static int percentage_all(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    kh_yval r[3] = {a[0], {KH_YT_INT, 1, {.i = 0}}, {KH_YT_INT, 1, {.i = (int64_t)c->len}}};
    return percentage_r(c, r, out);
}

static int mode_of(const uint8_t *p, size_t n, kh_yval *out)
{
    if (n == 0)
        return 0;
    uint64_t h[256];
    histo(p, n, h);
    int best = 0;
    for (int i = 1; i < 256; i++)
        if (h[i] > h[best])
            best = i;
    return set_i(out, best);
}

static int mode_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    const uint8_t *p;
    size_t n;
    if (!range(c, a, &p, &n))
        return 0;
    return mode_of(p, n, out);
}

static int mode_all(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(a);
    return mode_of(c->data, c->len, out);
}

static int to_number(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    return set_i(out, a[0].v.i ? 1 : 0);
}

static int min_i(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    return set_i(out, (uint64_t)a[0].v.i < (uint64_t)a[1].v.i ? a[0].v.i : a[1].v.i);
}

static int max_i(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    return set_i(out, (uint64_t)a[0].v.i > (uint64_t)a[1].v.i ? a[0].v.i : a[1].v.i);
}

static int abs_i(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    return set_i(out, a[0].v.i < 0 ? (int64_t)(0 - (uint64_t)a[0].v.i) : a[0].v.i);
}

static int to_string_i(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)a[0].v.i);
    out->type = KH_YT_STR;
    out->defined = 1;
    out->v.s.p = kh_yarena_dup(c->arena, buf, (size_t)n);
    out->v.s.n = (uint32_t)n;
    return out->v.s.p ? 0 : KH_ENOMEM;
}

static int to_string_ib(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    char buf[80];
    int64_t base = a[1].v.i;
    if (base != 8 && base != 10 && base != 16)
        return 0;
    int n = base == 8 ? snprintf(buf, sizeof(buf), "%llo", (unsigned long long)a[0].v.i)
          : base == 16 ? snprintf(buf, sizeof(buf), "%llx", (unsigned long long)a[0].v.i)
                       : snprintf(buf, sizeof(buf), "%lld", (long long)a[0].v.i);
    out->type = KH_YT_STR;
    out->defined = 1;
    out->v.s.p = kh_yarena_dup(c->arena, buf, (size_t)n);
    out->v.s.n = (uint32_t)n;
    return out->v.s.p ? 0 : KH_ENOMEM;
}

#define FN(args, ret, f) {args, ret, f}
static const kh_yfunc f_entropy[] = {FN("ii", KH_YT_FLOAT, entropy_r), FN("s", KH_YT_FLOAT, entropy_s), {0, 0, 0}};
static const kh_yfunc f_mean[] = {FN("ii", KH_YT_FLOAT, mean_r), FN("s", KH_YT_FLOAT, mean_s), {0, 0, 0}};
static const kh_yfunc f_dev[] = {FN("iif", KH_YT_FLOAT, deviation_r), FN("sf", KH_YT_FLOAT, deviation_s), {0, 0, 0}};
static const kh_yfunc f_serial[] = {FN("ii", KH_YT_FLOAT, serial_r), FN("s", KH_YT_FLOAT, serial_s), {0, 0, 0}};
static const kh_yfunc f_pi[] = {FN("ii", KH_YT_FLOAT, pi_r), FN("s", KH_YT_FLOAT, pi_s), {0, 0, 0}};
static const kh_yfunc f_in_range[] = {FN("fff", KH_YT_BOOL, in_range), {0, 0, 0}};
static const kh_yfunc f_count[] = {FN("iii", KH_YT_INT, count_r), FN("i", KH_YT_INT, count_all), {0, 0, 0}};
static const kh_yfunc f_pct[] = {FN("iii", KH_YT_FLOAT, percentage_r), FN("i", KH_YT_FLOAT, percentage_all), {0, 0, 0}};
static const kh_yfunc f_mode[] = {FN("ii", KH_YT_INT, mode_r), FN("", KH_YT_INT, mode_all), {0, 0, 0}};
static const kh_yfunc f_to_number[] = {FN("b", KH_YT_INT, to_number), {0, 0, 0}};
static const kh_yfunc f_min[] = {FN("ii", KH_YT_INT, min_i), {0, 0, 0}};
static const kh_yfunc f_max[] = {FN("ii", KH_YT_INT, max_i), {0, 0, 0}};
static const kh_yfunc f_abs[] = {FN("i", KH_YT_INT, abs_i), {0, 0, 0}};
static const kh_yfunc f_to_string[] = {FN("i", KH_YT_STR, to_string_i), FN("ii", KH_YT_STR, to_string_ib), {0, 0, 0}};

static const kh_ymember members[] = {
    {"MEAN_BYTES", KH_YT_FLOAT, 0, NULL, NULL},
    {"entropy", KH_YT_FUNC, 0, NULL, f_entropy},
    {"mean", KH_YT_FUNC, 0, NULL, f_mean},
    {"deviation", KH_YT_FUNC, 0, NULL, f_dev},
    {"serial_correlation", KH_YT_FUNC, 0, NULL, f_serial},
    {"monte_carlo_pi", KH_YT_FUNC, 0, NULL, f_pi},
    {"in_range", KH_YT_FUNC, 0, NULL, f_in_range},
    {"count", KH_YT_FUNC, 0, NULL, f_count},
    {"percentage", KH_YT_FUNC, 0, NULL, f_pct},
    {"mode", KH_YT_FUNC, 0, NULL, f_mode},
    {"to_number", KH_YT_FUNC, 0, NULL, f_to_number},
    {"min", KH_YT_FUNC, 0, NULL, f_min},
    {"max", KH_YT_FUNC, 0, NULL, f_max},
    {"abs", KH_YT_FUNC, 0, NULL, f_abs},
    {"to_string", KH_YT_FUNC, 0, NULL, f_to_string},
    {NULL, 0, 0, NULL, NULL},
};

static int load(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    KH_UNUSED(data);
    KH_UNUSED(len);
    return kh_yset_float(root, a, 127.5, "MEAN_BYTES");
}

const kh_ymodule kh_ymod_math = {"math", {"math", KH_YT_STRUCT, 0, members, NULL}, load};
