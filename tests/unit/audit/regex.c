/* Tests of src/audit/regex.c: OS_Regex, OS_Match and the PCRE2 subset. */
#include "kt_audit.h"

static kh_arena ar; /* zero: an empty arena without a limit */

static int m(kh_re_dialect d, const char *pat, const char *s)
{
    kh_re *re = NULL;
    char err[256];
    int rc = kh_re_compile(&re, &ar, d, pat, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "  compile '%s' failed: %s\n", pat, err);
        return -1;
    }
    int r = kh_re_match(re, s, strlen(s), NULL, NULL);
    kh_re_release(re);
    return r;
}

static int os(const char *pat, const char *s)
{
    return m(KH_RE_OSREGEX, pat, s);
}

static const char *cap(kh_re_dialect d, const char *pat, const char *s)
{
    static char out[128];
    kh_re *re = NULL;
    char err[256];
    if (kh_re_compile(&re, &ar, d, pat, err, sizeof(err)))
        return "(error)";
    long off, len;
    int r = kh_re_match(re, s, strlen(s), &off, &len);
    kh_re_release(re);
    if (!r)
        return "(no match)";
    if (off < 0)
        return "(no capture)";
    snprintf(out, sizeof(out), "%.*s", (int)len, s + off);
    return out;
}

static int err_of(kh_re_dialect d, const char *pat)
{
    kh_re *re = NULL;
    char err[256];
    int rc = kh_re_compile(&re, &ar, d, pat, err, sizeof(err));
    if (!rc)
        kh_re_release(re);
    return rc;
}

KT_TEST(osregex_classes)
{
    KT_EQ_INT(os("\\d", "abc1"), 1);
    KT_EQ_INT(os("\\d", "abc"), 0);
    KT_EQ_INT(os("^\\w+$", "root_user-1@x"), 1);
    KT_EQ_INT(os("^\\w+$", "a.b"), 0);
    KT_EQ_INT(os("a\\sb", "a b"), 1);
    KT_EQ_INT(os("a\\sb", "a\tb"), 1); /* \s also matches tab (a superset of OSSEC) */
    KT_EQ_INT(os("a\\tb", "a\tb"), 1);
    KT_EQ_INT(os("a\\tb", "a b"), 0);
    KT_EQ_INT(os("\\p", "x=1"), 1);
    KT_EQ_INT(os("^\\p", "x=1"), 0);
    KT_EQ_INT(os("^\\W", "=x"), 1);
    KT_EQ_INT(os("^\\D", "1"), 0);
    KT_EQ_INT(os("^\\S+$", "abc"), 1);
    KT_EQ_INT(os("^\\S+$", "a c"), 0);
    KT_EQ_INT(os("a\\.c", "abc"), 1); /* \. is any character */
    KT_EQ_INT(os("a.c", "abc"), 0);   /* a bare dot is a dot */
    KT_EQ_INT(os("a.c", "a.c"), 1);
}

KT_TEST(osregex_modifiers_anchors_alternation)
{
    KT_EQ_INT(os("^\\s*PermitRootLogin\\s+no", "  PermitRootLogin   no"), 1);
    KT_EQ_INT(os("^\\s*PermitRootLogin\\s+no", "#PermitRootLogin no"), 0);
    KT_EQ_INT(os("^\\s*\\t*PASS_MAX_DAYS\\s*\\t*\\d+", "PASS_MAX_DAYS\t90"), 1);
    KT_EQ_INT(os("x\\d+$", "x12"), 1);
    KT_EQ_INT(os("x\\d+$", "x12a"), 0);
    KT_EQ_INT(os("x\\d*y", "xy"), 1);
    KT_EQ_INT(os("x\\d+y", "xy"), 0);
    KT_EQ_INT(os("^yes$|^true$", "true"), 1);
    KT_EQ_INT(os("^yes$|^true$", "maybe"), 0);
    KT_EQ_INT(os("install /bin/true|Module cramfs not found", "modprobe: FATAL: Module cramfs not found"), 1);
    KT_EQ_INT(os("a\\|b", "a|b"), 1); /* escaped | is literal */
    KT_EQ_INT(os("a\\|b", "a"), 0);
    KT_EQ_INT(os("cost\\$", "cost$"), 1);
    KT_EQ_INT(os("\\(x\\)", "(x)"), 1);
}

KT_TEST(osregex_case_insensitive)
{
    KT_EQ_INT(os("permitrootlogin", "PermitRootLogin no"), 1);
    KT_EQ_INT(os("^ENABLED=YES", "enabled=yes"), 1);
}

KT_TEST(osregex_captures)
{
    KT_EQ_STR(cap(KH_RE_OSREGEX, "^\\s*PASS_MAX_DAYS\\s*(\\d+)", "PASS_MAX_DAYS   99999"), "99999");
    KT_EQ_STR(cap(KH_RE_OSREGEX, "minlen=(\\d+)", "password requisite pam_pwquality.so retry=3 minlen=14"), "14");
    KT_EQ_STR(cap(KH_RE_OSREGEX, "minlen=\\d+", "minlen=14"), "(no capture)");
}

KT_TEST(osregex_errors)
{
    KT_EQ_INT(err_of(KH_RE_OSREGEX, "(a"), KH_ESYNTAX);
    KT_EQ_INT(err_of(KH_RE_OSREGEX, "a)"), KH_ESYNTAX);
    KT_EQ_INT(err_of(KH_RE_OSREGEX, "((a))"), KH_ESYNTAX);
    KT_EQ_INT(err_of(KH_RE_OSREGEX, "abc\\"), KH_ESYNTAX);
    KT_EQ_INT(err_of(KH_RE_OSREGEX, "(\\d+)"), 0);
}

KT_TEST(osregex_no_runaway)
{
    /* without the failure memo this takes exponential time */
    char line[4001];
    memset(line, 'a', 4000);
    line[4000] = 0;
    double t0 = kh_now();
    KT_EQ_INT(os("\\w*\\w*\\w*\\w*\\w*\\w*\\w*\\w*\\w*\\w*b", line), 0);
    KT_EQ_INT(os("\\.*\\.*\\.*\\.*\\.*\\.*x$", line), 0);
    KT_CHECK(kh_now() - t0 < 5.0);
}

KT_TEST(osmatch)
{
    KT_EQ_INT(m(KH_RE_OSMATCH, "sshd_config", "sshd_config"), 1);
    KT_EQ_INT(m(KH_RE_OSMATCH, "conf", "sshd_config"), 1); /* substring */
    KT_EQ_INT(m(KH_RE_OSMATCH, "^sshd", "sshd_config"), 1);
    KT_EQ_INT(m(KH_RE_OSMATCH, "^config", "sshd_config"), 0);
    KT_EQ_INT(m(KH_RE_OSMATCH, ".conf$", "a.conf"), 1);
    KT_EQ_INT(m(KH_RE_OSMATCH, ".conf$", "a.conf.bak"), 0);
    KT_EQ_INT(m(KH_RE_OSMATCH, "^a$|^b$", "b"), 1);
    KT_EQ_INT(m(KH_RE_OSMATCH, "!^a$", "b"), 1);
    KT_EQ_INT(m(KH_RE_OSMATCH, "!^a$", "a"), 0);
    KT_EQ_INT(m(KH_RE_OSMATCH, "README", "readme"), 1);
}

KT_TEST(pcre2_subset)
{
    KT_EQ_INT(m(KH_RE_PCRE2, "^\\s*PermitRootLogin\\s+(no|prohibit-password)\\b", "PermitRootLogin no"), 1);
    KT_EQ_INT(m(KH_RE_PCRE2, "^\\s*PermitRootLogin\\s+(no|prohibit-password)\\b", "PermitRootLogin yes"), 0);
    KT_EQ_INT(m(KH_RE_PCRE2, "^[\\d]{2,3}$", "123"), 1);
    KT_EQ_INT(m(KH_RE_PCRE2, "^[\\d]{2,3}$", "1234"), 0);
    KT_EQ_INT(m(KH_RE_PCRE2, "^a.*?b$", "axxb"), 1);
    KT_EQ_INT(m(KH_RE_PCRE2, "(?i)^yes$", "YES"), 1);
    KT_EQ_INT(m(KH_RE_PCRE2, "^yes$", "YES"), 0); /* PCRE2 is case-sensitive */
    KT_EQ_INT(m(KH_RE_PCRE2, "a\\/b", "a/b"), 1);
    KT_EQ_INT(m(KH_RE_PCRE2, "[^\\s]+=\\w+", "x=1"), 1);
    KT_EQ_STR(cap(KH_RE_PCRE2, "(?:max|min)len=(\\d+)", "minlen=12"), "12");
    KT_EQ_INT(err_of(KH_RE_PCRE2, "a(?=b)"), KH_EUNSUPPORTED);
    KT_EQ_INT(err_of(KH_RE_PCRE2, "a++"), KH_EUNSUPPORTED);
    KT_EQ_INT(err_of(KH_RE_PCRE2, "\\x41"), KH_EUNSUPPORTED);
    KT_EQ_INT(err_of(KH_RE_PCRE2, "a[b"), KH_ESYNTAX);
}

/* Random patterns over the special characters of each dialect compile or
 * fail cleanly, and match random text without crashing. */
KT_TEST(random_patterns)
{
    uint32_t seed = 777;
    const char alpha[] = "\\wdsStpWD.+*^$|()[]{}?:!ab1 -";
    char pat[24], text[64];
    kh_arena a;
    kh_arena_init(&a, 0);
    for (int i = 0; i < 3000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t pl = 1 + (seed >> 8) % (sizeof(pat) - 1);
        for (size_t k = 0; k < pl; k++) {
            seed = seed * 1103515245u + 12345u;
            pat[k] = alpha[(seed >> 8) % (sizeof(alpha) - 1)];
        }
        pat[pl] = 0;
        for (size_t k = 0; k < sizeof(text); k++) {
            seed = seed * 1103515245u + 12345u;
            text[k] = alpha[(seed >> 8) % (sizeof(alpha) - 1)];
        }
        for (int d = 0; d < 3; d++) {
            kh_re *re = NULL;
            char err[256];
            int rc = kh_re_compile(&re, &a, (kh_re_dialect)d, pat, err, sizeof(err));
            if (rc == 0) {
                long off, len;
                if (kh_re_match(re, text, sizeof(text), &off, &len) && off >= 0)
                    KT_CHECK(off + len <= (long)sizeof(text));
                kh_re_release(re);
            } else {
                KT_CHECK(err[0] != 0);
            }
        }
    }
    kh_arena_dispose(&a);
}

KT_TEST(long_lines_are_linear)
{
    size_t n = 64 * 1024;
    char *line = malloc(n + 1);
    memset(line, 'a', n);
    line[n] = 0;
    double t0 = kh_now();
    KT_EQ_INT(os("\\w*\\w*\\w*\\w*\\w*\\w*\\w*\\w*b", line), 0);
    KT_EQ_INT(os("(\\w+)\\s", line), 0);
    line[n - 1] = 'b';
    KT_EQ_INT(os("^\\w*\\w*b$", line), 1);
    KT_CHECK(kh_now() - t0 < 5.0);
    free(line);
}

KT_MAIN({
    KT_CASE(osregex_classes),
    KT_CASE(osregex_modifiers_anchors_alternation),
    KT_CASE(osregex_case_insensitive),
    KT_CASE(osregex_captures),
    KT_CASE(osregex_errors),
    KT_CASE(osregex_no_runaway),
    KT_CASE(osmatch),
    KT_CASE(pcre2_subset),
    KT_CASE(random_patterns),
    KT_CASE(long_lines_are_linear),
})
