/* Khiên — engine/modules: the `math` module, as yara 4.2.3 has it.
 *
 * Statistics over a range of the scanned data or over a string: entropy,
 * mean, deviation, serial correlation, Monte Carlo pi, count, percentage
 * and mode of bytes; in_range, min, max, abs and to_number helpers. Every
 * function is one bounded pass over at most the data or the string.
 *
 * Results are yara's to the last bit, quirks included, since rules compare
 * them with constants (checked against yara 4.2.3 with scaled console.log
 * output; see tests/unit/engine/modules/math.c):
 *  - a range is undefined if offset or size is negative or the offset is
 *    not inside the data (offset == filesize included); a size running
 *    past the end is cut at the end;
 *  - a result that is NaN (mean or deviation of nothing, Monte Carlo pi of
 *    fewer than 6 bytes) is undefined, as yara treats NaN floats;
 *  - the string forms of mean, deviation, serial_correlation and
 *    monte_carlo_pi read bytes as signed chars (yara's `s->c_string[i]`),
 *    so "\xff" counts as -1 and, for monte_carlo_pi, as 0xffffffff; entropy
 *    reads them unsigned;
 *  - serial_correlation closes the cycle with last*last, not last*first
 *    (yara's formula, different from ent's);
 *  - count and percentage take the byte modulo 256 (count(-1) counts 0xff);
 *    percentage divides in single precision; count(), percentage() and
 *    mode() over the whole data are undefined for empty data, while mode of
 *    an empty range is 0;
 *  - min and max compare as unsigned; abs(INT64_MIN) is INT64_MIN.
 * Sums are accumulated in the order yara uses, so rounding is the same.
 *
 * Not here: math.to_string (yara 4.3), which 4.2.3 rejects.
 */
#include <math.h>

#include "engine/modules/module.h"

#define KH_PI 3.141592653589793

/* data[off, off+size) cut at the end of the data; 0 if undefined. */
static int range(const kh_ycall *c, const kh_yval *a, const uint8_t **p, size_t *n)
{
    int64_t off = a[0].v.i, size = a[1].v.i;
    if (off < 0 || size < 0 || (uint64_t)off >= c->len)
        return 0;
    *p = c->data + off;
    *n = (uint64_t)size < c->len - (uint64_t)off ? (size_t)size : c->len - (size_t)off;
    return 1;
}

static void histo(const uint8_t *p, size_t n, uint64_t h[256])
{
    memset(h, 0, 256 * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        h[p[i]]++;
}

/* Byte i of a string as yara's `(double) s->c_string[i]` reads it. */
static double sbyte(const uint8_t *p, size_t i) { return (double)(int8_t)p[i]; }
static double ubyte(const uint8_t *p, size_t i) { return (double)p[i]; }

static double entropy(const uint8_t *p, size_t n)
{
    uint64_t h[256];
    double e = 0;
    histo(p, n, h);
    for (int i = 0; i < 256; i++)
        if (h[i]) {
            double x = (double)h[i] / (double)n;
            e -= x * log2(x);
        }
    return e;
}

static double mean(const uint8_t *p, size_t n, double (*byte)(const uint8_t *, size_t))
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += byte(p, i);
    return s / (double)n; /* NaN for n == 0: undefined */
}

static double deviation(const uint8_t *p, size_t n, double m, double (*byte)(const uint8_t *, size_t))
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(byte(p, i) - m);
    return s / (double)n;
}

static double serial_correlation(const uint8_t *p, size_t n, double (*byte)(const uint8_t *, size_t))
{
    double un = 0, last = 0, t1 = 0, t2 = 0, t3 = 0;
    for (size_t i = 0; i < n; i++) {
        un = byte(p, i);
        t1 += last * un;
        t2 += un;
        t3 += un * un;
        last = un;
    }
    t1 += last * un; /* sic: yara's formula */
    t2 *= t2;
    double scc = (double)n * t3 - t2;
    return scc == 0 ? -100000 : ((double)n * t1 - t2) / scc;
}

/* `sign`: read bytes as yara's `(unsigned int) s->c_string[i]` does. */
static double monte_carlo_pi(const uint8_t *p, size_t n, int sign)
{
    const double incirc = pow(pow(256.0, 3.0) - 1, 2.0);
    unsigned int monte[6];
    uint64_t inmont = 0, mcount = 0;
    for (size_t i = 0; i < n; i++) {
        monte[i % 6] = sign ? (unsigned int)(int)(int8_t)p[i] : p[i];
        if (i % 6 == 5) {
            double mx = 0, my = 0;
            for (int j = 0; j < 3; j++) {
                mx = mx * 256.0 + monte[j];
                my = my * 256.0 + monte[j + 3];
            }
            mcount++;
            if (mx * mx + my * my <= incirc)
                inmont++;
        }
    }
    if (mcount == 0)
        return NAN;
    double pi = 4.0 * ((double)inmont / (double)mcount);
    return fabs((pi - KH_PI) / KH_PI);
}

static int set_f(kh_yval *out, double v)
{
    if (isnan(v))
        return 0; /* yara: a NaN float is undefined */
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

/* fname_r over a range (args "ii"), fname_s over a string (args "s"). */
#define RANGE_FN(fname, expr_r, expr_s)                                               \
    static int fname##_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)           \
    {                                                                                 \
        const uint8_t *p;                                                             \
        size_t n;                                                                     \
        if (!range(c, a, &p, &n))                                                     \
            return 0;                                                                 \
        return set_f(out, expr_r);                                                    \
    }                                                                                 \
    static int fname##_s(const kh_ycall *c, const kh_yval *a, kh_yval *out)           \
    {                                                                                 \
        const uint8_t *p = a[0].v.s.p;                                                \
        size_t n = a[0].v.s.n;                                                        \
        KH_UNUSED(c);                                                                 \
        return set_f(out, expr_s);                                                    \
    }

RANGE_FN(entropy, entropy(p, n), entropy(p, n))
RANGE_FN(mean, mean(p, n, ubyte), mean(p, n, sbyte))
RANGE_FN(serial, serial_correlation(p, n, ubyte), serial_correlation(p, n, sbyte))
RANGE_FN(pi, monte_carlo_pi(p, n, 0), monte_carlo_pi(p, n, 1))

static int deviation_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    const uint8_t *p;
    size_t n;
    if (!range(c, a, &p, &n))
        return 0;
    return set_f(out, deviation(p, n, a[2].v.f, ubyte));
}

static int deviation_s(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    return set_f(out, deviation(a[0].v.s.p, a[0].v.s.n, a[1].v.f, sbyte));
}

static int in_range(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(c);
    return set_i(out, a[1].v.f <= a[0].v.f && a[0].v.f <= a[2].v.f);
}

/* The histogram of a range (args offset, size) or of all the data (a == NULL). */
static int distribution(const kh_ycall *c, const kh_yval *a, uint64_t h[256], uint64_t *total)
{
    const uint8_t *p = c->data;
    size_t n = c->len;
    if (a ? !range(c, a, &p, &n) : n == 0)
        return 0;
    histo(p, n, h);
    *total = n;
    return 1;
}

static int count_r(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    uint64_t h[256], total;
    if (!distribution(c, a + 1, h, &total))
        return 0;
    return set_i(out, (int64_t)h[(uint8_t)a[0].v.i]);
}

static int count_all(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    uint64_t h[256], total;
    if (!distribution(c, NULL, h, &total))
        return 0;
    return set_i(out, (int64_t)h[(uint8_t)a[0].v.i]);
}

static int percentage(const kh_ycall *c, const kh_yval *a, const kh_yval *r, kh_yval *out)
{
    uint64_t h[256], total;
    if (!distribution(c, r, h, &total) || total == 0)
        return 0;
    return set_f(out, (double)((float)h[(uint8_t)a[0].v.i] / (float)total)); /* yara divides floats */
}

static int percentage_r(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return percentage(c, a, a + 1, out); }
static int percentage_all(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return percentage(c, a, NULL, out); }

static int mode(const kh_ycall *c, const kh_yval *r, kh_yval *out)
{
    uint64_t h[256], total;
    int best = 0;
    if (!distribution(c, r, h, &total))
        return 0;
    for (int i = 1; i < 256; i++)
        if (h[i] > h[best])
            best = i;
    return set_i(out, best);
}

static int mode_r(const kh_ycall *c, const kh_yval *a, kh_yval *out) { return mode(c, a, out); }

static int mode_all(const kh_ycall *c, const kh_yval *a, kh_yval *out)
{
    KH_UNUSED(a);
    return mode(c, NULL, out);
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

#define FN(args, ret, f) {args, ret, f}
static const kh_yfunc f_entropy[] = {FN("ii", KH_YT_FLOAT, entropy_r), FN("s", KH_YT_FLOAT, entropy_s), {0, 0, 0}};
static const kh_yfunc f_mean[] = {FN("ii", KH_YT_FLOAT, mean_r), FN("s", KH_YT_FLOAT, mean_s), {0, 0, 0}};
static const kh_yfunc f_dev[] = {FN("iif", KH_YT_FLOAT, deviation_r), FN("sf", KH_YT_FLOAT, deviation_s), {0, 0, 0}};
static const kh_yfunc f_serial[] = {FN("ii", KH_YT_FLOAT, serial_r), FN("s", KH_YT_FLOAT, serial_s), {0, 0, 0}};
static const kh_yfunc f_pi[] = {FN("ii", KH_YT_FLOAT, pi_r), FN("s", KH_YT_FLOAT, pi_s), {0, 0, 0}};
static const kh_yfunc f_in_range[] = {FN("fff", KH_YT_INT, in_range), {0, 0, 0}};
static const kh_yfunc f_count[] = {FN("iii", KH_YT_INT, count_r), FN("i", KH_YT_INT, count_all), {0, 0, 0}};
static const kh_yfunc f_pct[] = {FN("iii", KH_YT_FLOAT, percentage_r), FN("i", KH_YT_FLOAT, percentage_all), {0, 0, 0}};
static const kh_yfunc f_mode[] = {FN("ii", KH_YT_INT, mode_r), FN("", KH_YT_INT, mode_all), {0, 0, 0}};
static const kh_yfunc f_to_number[] = {FN("b", KH_YT_INT, to_number), {0, 0, 0}};
static const kh_yfunc f_min[] = {FN("ii", KH_YT_INT, min_i), {0, 0, 0}};
static const kh_yfunc f_max[] = {FN("ii", KH_YT_INT, max_i), {0, 0, 0}};
static const kh_yfunc f_abs[] = {FN("i", KH_YT_INT, abs_i), {0, 0, 0}};

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
    {NULL, 0, 0, NULL, NULL},
};

static int load(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *a)
{
    KH_UNUSED(data);
    KH_UNUSED(len);
    return kh_yset_float(root, a, 127.5, "MEAN_BYTES");
}

const kh_ymodule kh_ymod_math = {"math", {"math", KH_YT_STRUCT, 0, members, NULL}, load};
