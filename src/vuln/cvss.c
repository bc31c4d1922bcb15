/* Khiên — vuln: CVSS base scores from vector strings.
 *
 * OSV records carry severity as a CVSS vector, not a number, and an IT
 * officer needs a number and a word (HIGH, CRITICAL) to decide what to
 * patch first. The base-score formulas of CVSS v3.0/v3.1 (FIRST
 * specification, section 7 and Appendix A for Roundup) and of CVSS v2
 * (section 3.2.1) are small enough to compute here. CVSS v4 scoring needs
 * the specification's lookup tables and is not done: such vectors are
 * shown as they are, without a number. Malformed vectors give -1, never a
 * guess. Only + - * / on doubles here, so the library needs no libm.
 */
#include <stdlib.h>
#include <string.h>

#include "vuln/vuln_int.h"

/* Finds metric "KEY:V" in a '/'-separated vector; returns V or 0. */
static char metric(const char *vec, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = vec; p && *p;) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':' && p[kl + 1] && (p[kl + 2] == '/' || p[kl + 2] == 0))
            return p[kl + 1];
        p = strchr(p, '/');
        if (p)
            p++;
    }
    return 0;
}

/* CVSS v3.1 Roundup: the smallest number, to one decimal, >= x (x >= 0). */
static double roundup(double x)
{
    long long i = (long long)(x * 100000.0 + 0.5);
    if (i % 10000 == 0)
        return (double)i / 100000.0;
    return (double)(i / 10000 + 1) / 10.0;
}

static double pow15(double x)
{
    double r = 1;
    for (int k = 0; k < 15; k++)
        r *= x;
    return r;
}

static double min10(double x) { return x < 10 ? x : 10; }

static double cvss3(const char *v)
{
    char av = metric(v, "AV"), ac = metric(v, "AC"), pr = metric(v, "PR"), ui = metric(v, "UI"), s = metric(v, "S"),
         c = metric(v, "C"), i = metric(v, "I"), a = metric(v, "A");
    if (!av || !ac || !pr || !ui || !s || !c || !i || !a)
        return -1;
    int changed = s == 'C';
    if (s != 'U' && s != 'C')
        return -1;
    double AV = av == 'N' ? 0.85 : av == 'A' ? 0.62 : av == 'L' ? 0.55 : av == 'P' ? 0.2 : -1;
    double AC = ac == 'L' ? 0.77 : ac == 'H' ? 0.44 : -1;
    double PR = pr == 'N' ? 0.85 : pr == 'L' ? (changed ? 0.68 : 0.62) : pr == 'H' ? (changed ? 0.5 : 0.27) : -1;
    double UI = ui == 'N' ? 0.85 : ui == 'R' ? 0.62 : -1;
    double CIA[3];
    const char m[3] = {c, i, a};
    for (int k = 0; k < 3; k++)
        CIA[k] = m[k] == 'H' ? 0.56 : m[k] == 'L' ? 0.22 : m[k] == 'N' ? 0 : -1;
    if (AV < 0 || AC < 0 || PR < 0 || UI < 0 || CIA[0] < 0 || CIA[1] < 0 || CIA[2] < 0)
        return -1;
    double iss = 1 - (1 - CIA[0]) * (1 - CIA[1]) * (1 - CIA[2]);
    double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * pow15(iss - 0.02) : 6.42 * iss;
    double expl = 8.22 * AV * AC * PR * UI;
    if (impact <= 0)
        return 0;
    return changed ? roundup(min10(1.08 * (impact + expl))) : roundup(min10(impact + expl));
}

static double cvss2(const char *v)
{
    char av = metric(v, "AV"), ac = metric(v, "AC"), au = metric(v, "Au"), c = metric(v, "C"), i = metric(v, "I"),
         a = metric(v, "A");
    double AV = av == 'L' ? 0.395 : av == 'A' ? 0.646 : av == 'N' ? 1.0 : -1;
    double AC = ac == 'H' ? 0.35 : ac == 'M' ? 0.61 : ac == 'L' ? 0.71 : -1;
    double AU = au == 'M' ? 0.45 : au == 'S' ? 0.56 : au == 'N' ? 0.704 : -1;
    double CIA[3];
    const char m[3] = {c, i, a};
    for (int k = 0; k < 3; k++)
        CIA[k] = m[k] == 'N' ? 0 : m[k] == 'P' ? 0.275 : m[k] == 'C' ? 0.660 : -1;
    if (AV < 0 || AC < 0 || AU < 0 || CIA[0] < 0 || CIA[1] < 0 || CIA[2] < 0)
        return -1;
    double impact = 10.41 * (1 - (1 - CIA[0]) * (1 - CIA[1]) * (1 - CIA[2]));
    double expl = 20 * AV * AC * AU;
    double f = impact == 0 ? 0 : 1.176;
    double base = ((0.6 * impact) + (0.4 * expl) - 1.5) * f;
    if (base <= 0)
        return 0;
    return (double)(long long)(base * 10.0 + 0.5) / 10.0;
}

double kh_vuln_cvss_score(const char *vector)
{
    if (!vector)
        return -1;
    if (strncmp(vector, "CVSS:3.0/", 9) == 0 || strncmp(vector, "CVSS:3.1/", 9) == 0)
        return cvss3(vector + 9);
    if (strncmp(vector, "CVSS:", 5) == 0)
        return -1; /* v4 and unknown versions */
    if (strncmp(vector, "(", 1) == 0 || metric(vector, "Au"))
        return cvss2(vector[0] == '(' ? vector + 1 : vector);
    return -1;
}
