/* Khiên — audit: finding secrets in text, one line at a time.
 *
 * The credential policy asks whether files that others can read hold
 * passwords or tokens: shell histories, .netrc, .pgpass, .git-credentials,
 * application and desktop configuration, environment files, notes on the
 * desktop. This is a small, bounded, hand-written scanner for the patterns
 * that matter there: private key headers; AWS, GitHub, GitLab, Slack,
 * Google and Stripe token formats; JSON Web Tokens; URLs with user:password@;
 * `password=`, `passwd:`, `secret=`, `token=`, `mật khẩu:`-style assignments;
 * passwords on command lines (mysql -pX, sshpass -p X, curl -u user:X); and
 * the .pgpass and .netrc formats. A line is read once per pattern family,
 * at most 64 KiB, with no allocation beyond a lowercase copy.
 *
 * What it reports is a kind ("password-assignment"), a bilingual label and
 * a masked hint: a token's public prefix ("ghp_***") or, for values of at
 * least 8 characters, their first two characters then ***. The secret
 * itself never leaves this file. Obvious placeholders ($VAR, ${VAR}, <...>,
 * ****, xxxx, null) are not reported.
 *
 * To do: once YARA rules land in the engine (src/engine/yara), these
 * patterns should move to a shipped YARA rule file run by the scan engine,
 * with this file keeping only the masking and the line/kind reporting.
 */
#define _GNU_SOURCE /* memmem, S_ISVTX */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit_int.h"

typedef struct scan {
    const char *s;  /* the line */
    const char *lo; /* its ASCII-lowercase copy */
    size_t n;
    kh_secret_hit *hits;
    size_t max, count;
} scan;

static int tokc(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

static int have_kind(const scan *sc, const char *kind)
{
    for (size_t i = 0; i < sc->count; i++)
        if (strcmp(sc->hits[i].kind, kind) == 0)
            return 1;
    return 0;
}

static void hit(scan *sc, const char *kind, const char *label, const char *value, size_t vlen, const char *prefix)
{
    if (sc->count >= sc->max || have_kind(sc, kind))
        return;
    kh_secret_hit *h = &sc->hits[sc->count++];
    h->kind = kind;
    h->label = label;
    if (prefix) {
        size_t pl = strlen(prefix);
        if (pl > sizeof(h->hint) - 4)
            pl = sizeof(h->hint) - 4;
        memcpy(h->hint, prefix, pl);
        memcpy(h->hint + pl, "***", 4);
    } else if (value && vlen >= 8 && (unsigned char)value[0] < 0x80 && (unsigned char)value[1] < 0x80 &&
               isprint((unsigned char)value[0]) && isprint((unsigned char)value[1])) {
        h->hint[0] = value[0];
        h->hint[1] = value[1];
        memcpy(h->hint + 2, "***", 4);
    } else {
        memcpy(h->hint, "***", 4);
    }
}

static const char *find(const scan *sc, size_t from, const char *needle)
{
    size_t nl = strlen(needle);
    if (from > sc->n || sc->n - from < nl)
        return NULL;
    const char *p = memmem(sc->lo + from, sc->n - from, needle, nl);
    return p;
}

/* Length of the run of characters of class fn from s[i]. */
static size_t run(const scan *sc, size_t i, int (*fn)(int))
{
    size_t k = i;
    while (k < sc->n && fn((unsigned char)sc->s[k]))
        k++;
    return k - i;
}

static int alnum_c(int c)
{
    return isalnum(c);
}

static int upper_digit(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int b64url(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

static int dotted(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static int url_path(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '/';
}

static int alnum_us(int c)
{
    return isalnum(c) || c == '_';
}

int kh_secret_key_header(const char *s, size_t n, const char **type)
{
    const char *b = memmem(s, n, "-----BEGIN ", 11);
    if (!b)
        return 0;
    const char *rest = b + 11;
    size_t left = n - (size_t)(rest - s);
    const char *k = memmem(rest, left, "PRIVATE KEY", 11);
    if (!k || k - rest > 24)
        return 0;
    if (type) {
        size_t tl = (size_t)(k - rest);
        static const char *const names[] = {"RSA ", "DSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "PGP ", ""};
        *type = "";
        for (size_t i = 0; i < KH_ARRAY_LEN(names); i++)
            if (strlen(names[i]) == tl && memcmp(rest, names[i], tl) == 0) {
                *type = names[i];
                break;
            }
    }
    return 1;
}

/* Prefix tokens: literal prefix then at least min characters of a class. */
typedef struct tokfmt {
    const char *prefix; /* as it appears (case-sensitive) */
    size_t min;
    int (*cls)(int);
    const char *kind, *label;
} tokfmt;

static const tokfmt tokens[] = {
    {"AKIA", 16, upper_digit, "aws-access-key", "khóa truy cập AWS / AWS access key"},
    {"ASIA", 16, upper_digit, "aws-access-key", "khóa truy cập AWS / AWS access key"},
    {"ghp_", 36, alnum_c, "github-token", "mã truy cập GitHub / GitHub token"},
    {"gho_", 36, alnum_c, "github-token", "mã truy cập GitHub / GitHub token"},
    {"ghu_", 36, alnum_c, "github-token", "mã truy cập GitHub / GitHub token"},
    {"ghs_", 36, alnum_c, "github-token", "mã truy cập GitHub / GitHub token"},
    {"ghr_", 36, alnum_c, "github-token", "mã truy cập GitHub / GitHub token"},
    {"github_pat_", 22, alnum_us, "github-token", "mã truy cập GitHub / GitHub token"},
    {"glpat-", 20, b64url, "gitlab-token", "mã truy cập GitLab / GitLab token"},
    {"glrt-", 20, b64url, "gitlab-token", "mã truy cập GitLab / GitLab token"},
    {"gldt-", 20, b64url, "gitlab-token", "mã truy cập GitLab / GitLab token"},
    {"xoxb-", 10, b64url, "slack-token", "mã truy cập Slack / Slack token"},
    {"xoxp-", 10, b64url, "slack-token", "mã truy cập Slack / Slack token"},
    {"xoxa-", 10, b64url, "slack-token", "mã truy cập Slack / Slack token"},
    {"xoxr-", 10, b64url, "slack-token", "mã truy cập Slack / Slack token"},
    {"xoxs-", 10, b64url, "slack-token", "mã truy cập Slack / Slack token"},
    {"xoxe-", 10, b64url, "slack-token", "mã truy cập Slack / Slack token"},
    {"hooks.slack.com/services/", 20, url_path, "slack-webhook", "địa chỉ webhook Slack / Slack webhook URL"},
    {"AIza", 35, b64url, "google-api-key", "khóa API Google / Google API key"},
    {"GOCSPX-", 20, b64url, "google-oauth-secret", "bí mật OAuth Google / Google OAuth client secret"},
    {"ya29.", 20, dotted, "google-oauth-token", "mã OAuth Google / Google OAuth token"},
    {"sk_live_", 16, alnum_c, "stripe-key", "khóa Stripe / Stripe secret key"},
    {"rk_live_", 16, alnum_c, "stripe-key", "khóa Stripe / Stripe secret key"},
};

static void scan_tokens(scan *sc)
{
    for (size_t t = 0; t < KH_ARRAY_LEN(tokens); t++) {
        const tokfmt *f = &tokens[t];
        size_t pl = strlen(f->prefix);
        const char *from = sc->s;
        while (from < sc->s + sc->n) {
            const char *p = memmem(from, (size_t)(sc->s + sc->n - from), f->prefix, pl);
            if (!p)
                break;
            size_t i = (size_t)(p - sc->s);
            from = p + 1;
            int inside_url = f->cls == url_path;
            if (i > 0 && isalnum((unsigned char)sc->s[i - 1]) && !inside_url)
                continue;
            size_t r = run(sc, i + pl, f->cls);
            if (r < f->min)
                continue;
            if (f->cls == upper_digit && (r != f->min || (i + pl + r < sc->n && isalnum((unsigned char)sc->s[i + pl + r]))))
                continue;
            hit(sc, f->kind, f->label, NULL, 0, inside_url ? "hooks.slack.com/" : f->prefix);
            break;
        }
    }
    /* JSON Web Token: eyJ....eyJ....sig */
    for (const char *p = sc->s; (p = memmem(p, (size_t)(sc->s + sc->n - p), "eyJ", 3)) != NULL; p++) {
        size_t i = (size_t)(p - sc->s);
        size_t a = run(sc, i, b64url);
        if (a < 10 || i + a + 4 > sc->n || sc->s[i + a] != '.' || memcmp(sc->s + i + a + 1, "eyJ", 3) != 0)
            continue;
        size_t b = run(sc, i + a + 1, b64url);
        if (b < 10 || i + a + 1 + b >= sc->n || sc->s[i + a + 1 + b] != '.')
            continue;
        if (run(sc, i + a + b + 2, b64url) < 10)
            continue;
        hit(sc, "jwt", "mã JWT / JSON Web Token", NULL, 0, "eyJ");
        break;
    }
}

static int placeholder(const char *v, size_t n)
{
    if (n == 0)
        return 1;
    if (strchr("$%{<[!(", v[0]))
        return 1;
    if (memchr(v, '(', n))
        return 1; /* a function call: getpass(), os.getenv(...) */
    size_t same = 1;
    while (same < n && v[same] == v[0])
        same++;
    if (same == n && strchr("*xX.-_#?", v[0]))
        return 1;
    static const char *const words[] = {"null", "none", "nil", "true", "false", "yes", "no", "required", "optional",
                                        "undefined", "empty", "redacted", "hidden", "env", "prompt"};
    for (size_t i = 0; i < KH_ARRAY_LEN(words); i++)
        if (strlen(words[i]) == n && strncasecmp(v, words[i], n) == 0)
            return 1;
    if ((n >= 7 && strncasecmp(v, "http://", 7) == 0) || (n >= 8 && strncasecmp(v, "https://", 8) == 0))
        return 1; /* a URL: credentials in it are found by the URL check */
    if (v[0] == '/' || (n > 1 && v[0] == '~' && v[1] == '/') || (n > 1 && v[0] == '.' && v[1] == '/'))
        return 1; /* a path to a password file, not a password */
    return 0;
}

/* From s[i] (after a key): separators, then a value; returns its span. */
static int assignment_value(const scan *sc, size_t i, size_t *vs, size_t *vl)
{
    const char *s = sc->s;
    size_t n = sc->n;
    while (i < n && (s[i] == '"' || s[i] == '\'' || s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= n)
        return 0;
    if (s[i] == ':' && i + 1 < n && s[i + 1] == '=')
        i += 2;
    else if (s[i] == '=' && i + 1 < n && s[i + 1] == '>')
        i += 2;
    else if (s[i] == '=' && !(i + 1 < n && s[i + 1] == '='))
        i++;
    else if (s[i] == ':' && !(i + 1 < n && s[i + 1] == ':'))
        i++;
    else
        return 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= n)
        return 0;
    char q = 0;
    if (s[i] == '"' || s[i] == '\'') {
        q = s[i];
        i++;
    }
    size_t st = i;
    if (q) {
        while (i < n && s[i] != q)
            i++;
    } else {
        while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != ';' && s[i] != ',' && s[i] != '}' && s[i] != '&')
            i++;
    }
    if (i - st < 3 && !q)
        return 0;
    if (placeholder(s + st, i - st))
        return 0;
    *vs = st;
    *vl = i - st;
    return 1;
}

typedef struct keyword {
    const char *lo; /* lowercase (ASCII letters only) as found in sc->lo */
    int suffix_ok;  /* _xxx, -xxx or .xxx may follow (password_db, secret_key) */
    int secret;     /* 0: password, 1: other secret */
    size_t minlen;  /* shortest value reported */
} keyword;

static const keyword keywords[] = {
    {"password", 1, 0, 3},
    {"passwd", 1, 0, 3},
    {"passphrase", 1, 0, 3},
    {"pwd", 0, 0, 3},
    {"pass", 0, 0, 3},
    {"m\xe1\xba\xadt kh\xe1\xba\xa9u", 0, 0, 3}, /* mật khẩu (and Mật khẩu) */
    {"m\xe1\xba\xact kh\xe1\xba\xa8u", 0, 0, 3}, /* MẬT KHẨU, lowercased ASCII only */
    {"mat khau", 0, 0, 3},
    {"matkhau", 0, 0, 3},
    {"secret", 1, 1, 3},
    {"token", 1, 1, 3},
    {"api_key", 1, 1, 3},
    {"apikey", 1, 1, 3},
    {"api-key", 1, 1, 3},
    {"access_key", 1, 1, 3},
    {"auth", 0, 1, 8},
    {"credentials", 0, 1, 8},
};

static void scan_assignments(scan *sc)
{
    for (size_t k = 0; k < KH_ARRAY_LEN(keywords) && sc->count < sc->max; k++) {
        const keyword *kw = &keywords[k];
        const char *kind = kw->secret ? "secret-assignment" : "password-assignment";
        if (have_kind(sc, kind))
            continue;
        size_t kl = strlen(kw->lo);
        for (size_t from = 0;;) {
            const char *p = find(sc, from, kw->lo);
            if (!p)
                break;
            size_t i = (size_t)(p - sc->lo);
            from = i + 1;
            /* not the tail of a longer word (bypass, NOPASSWD); db_password is fine */
            if (i > 0 && isalpha((unsigned char)sc->lo[i - 1]))
                continue;
            size_t e = i + kl;
            if (kw->suffix_ok && e < sc->n && (sc->s[e] == '_' || sc->s[e] == '-' || sc->s[e] == '.'))
                while (e < sc->n && (isalnum((unsigned char)sc->s[e]) || sc->s[e] == '_' || sc->s[e] == '-' || sc->s[e] == '.'))
                    e++;
            if (e < sc->n && (isalnum((unsigned char)sc->s[e]) || sc->s[e] == '_'))
                continue;
            size_t vs, vl;
            if (i > 0 && sc->s[i - 1] == '<') {
                /* XML element: <Pass encoding="base64">value</Pass> */
                const char *gt = memchr(sc->s + e, '>', sc->n - e);
                if (!gt)
                    continue;
                vs = (size_t)(gt + 1 - sc->s);
                const char *lt = memchr(sc->s + vs, '<', sc->n - vs);
                vl = (lt ? (size_t)(lt - sc->s) : sc->n) - vs;
                if (vl < kw->minlen || placeholder(sc->s + vs, vl))
                    continue;
            } else if (!assignment_value(sc, e, &vs, &vl) || vl < kw->minlen) {
                continue;
            }
            hit(sc, kind,
                kw->secret ? "gán khóa bí mật hoặc mã truy cập / secret or token assignment"
                           : "gán mật khẩu / password assignment",
                sc->s + vs, vl, NULL);
            break;
        }
    }
}

static void scan_urls(scan *sc)
{
    for (size_t from = 0;;) {
        const char *p = find(sc, from, "://");
        if (!p)
            return;
        size_t i = (size_t)(p - sc->lo) + 3;
        from = i;
        size_t b = i - 3;
        if (b == 0 || !isalpha((unsigned char)sc->s[b - 1]))
            continue;
        size_t e = i, colon = 0, at = 0;
        while (e < sc->n && !strchr("/ \t\"'<>?#", sc->s[e])) {
            if (sc->s[e] == ':' && !colon)
                colon = e;
            if (sc->s[e] == '@')
                at = e;
            e++;
        }
        if (!colon || !at || colon > at || colon == i || at == colon + 1)
            continue;
        if (placeholder(sc->s + colon + 1, at - colon - 1))
            continue;
        hit(sc, "url-credentials", "địa chỉ URL chứa mật khẩu / URL with user:password", sc->s + colon + 1,
            at - colon - 1, NULL);
        return;
    }
}

/* The token after position i (skipping blanks). */
static int next_word(const scan *sc, size_t i, size_t *ws, size_t *wl)
{
    while (i < sc->n && (sc->s[i] == ' ' || sc->s[i] == '\t'))
        i++;
    size_t st = i;
    while (i < sc->n && sc->s[i] != ' ' && sc->s[i] != '\t')
        i++;
    *ws = st;
    *wl = i - st;
    return i > st;
}

static int word_at(const scan *sc, size_t i, const char *w)
{
    size_t l = strlen(w);
    return i + l <= sc->n && memcmp(sc->lo + i, w, l) == 0 && (i == 0 || !tokc((unsigned char)sc->lo[i - 1])) &&
           (i + l == sc->n || !tokc((unsigned char)sc->lo[i + l]));
}

static void scan_command_lines(scan *sc)
{
    static const char *const label = "mật khẩu trên dòng lệnh / password on a command line";
    size_t ws, wl;
    for (size_t i = 0; i < sc->n; i++) {
        if (sc->lo[i] != 's' && sc->lo[i] != 'm' && sc->lo[i] != 'c')
            continue;
        if (word_at(sc, i, "sshpass")) {
            for (size_t j = i + 7; j + 1 < sc->n; j++)
                if (sc->s[j] == '-' && sc->s[j + 1] == 'p' && (sc->s[j - 1] == ' ')) {
                    size_t k = j + 2;
                    if (k < sc->n && sc->s[k] != ' ') {
                        ws = k;
                        wl = 0;
                        while (k < sc->n && sc->s[k] != ' ')
                            k++, wl++;
                    } else if (!next_word(sc, k, &ws, &wl)) {
                        break;
                    }
                    if (!placeholder(sc->s + ws, wl))
                        hit(sc, "command-line-password", label, sc->s + ws, wl, NULL);
                    return;
                }
        }
        if (word_at(sc, i, "mysql") || word_at(sc, i, "mysqldump") || word_at(sc, i, "mysqladmin") ||
            word_at(sc, i, "mariadb") || word_at(sc, i, "mariadb-dump")) {
            for (size_t j = i + 5; j + 2 < sc->n; j++)
                if (sc->s[j - 1] == ' ' && sc->s[j] == '-' && sc->s[j + 1] == 'p' && sc->s[j + 2] != ' ') {
                    size_t k = j + 2;
                    ws = k;
                    while (k < sc->n && sc->s[k] != ' ')
                        k++;
                    wl = k - ws;
                    if (wl >= 3 && !placeholder(sc->s + ws, wl) && strncmp(sc->s + ws, "assword", 7) != 0 &&
                        strncmp(sc->s + ws, "ort", 3) != 0) {
                        hit(sc, "command-line-password", label, sc->s + ws, wl, NULL);
                        return;
                    }
                }
        }
        if (word_at(sc, i, "curl") || word_at(sc, i, "wget")) {
            for (size_t j = i + 4; j + 2 < sc->n; j++) {
                size_t k = 0;
                if (sc->s[j - 1] == ' ' && sc->s[j] == '-' && sc->s[j + 1] == 'u' && sc->s[j + 2] == ' ')
                    k = j + 2;
                else if (sc->s[j - 1] == ' ' && j + 7 <= sc->n && memcmp(sc->s + j, "--user ", 7) == 0)
                    k = j + 6;
                if (!k || !next_word(sc, k, &ws, &wl))
                    continue;
                const char *c = memchr(sc->s + ws, ':', wl);
                if (c && (size_t)(c - (sc->s + ws)) + 1 < wl) {
                    const char *pw = c + 1;
                    size_t pl = wl - (size_t)(pw - (sc->s + ws));
                    if (pw[0] == '\'' || pw[0] == '"')
                        pw++, pl--;
                    if (!placeholder(pw, pl)) {
                        hit(sc, "command-line-password", label, pw, pl, NULL);
                        return;
                    }
                }
            }
        }
    }
}

static void scan_formats(scan *sc, const char *base)
{
    if (!base)
        return;
    if (strcmp(base, ".pgpass") == 0 || strcmp(base, "pgpass.conf") == 0) {
        if (sc->n && sc->s[0] != '#') {
            size_t colons = 0, last = 0;
            for (size_t i = 0; i < sc->n; i++)
                if (sc->s[i] == ':' && (i == 0 || sc->s[i - 1] != '\\')) {
                    colons++;
                    last = i;
                }
            if (colons >= 4 && last + 1 < sc->n)
                hit(sc, "pgpass-entry", "mật khẩu PostgreSQL (.pgpass) / PostgreSQL password (.pgpass)",
                    sc->s + last + 1, sc->n - last - 1, NULL);
        }
    } else if (strcmp(base, ".netrc") == 0 || strcmp(base, "_netrc") == 0) {
        for (size_t from = 0;;) {
            const char *p = find(sc, from, "password");
            if (!p)
                break;
            size_t i = (size_t)(p - sc->lo);
            from = i + 1;
            if ((i > 0 && sc->s[i - 1] != ' ' && sc->s[i - 1] != '\t') || i + 8 >= sc->n ||
                (sc->s[i + 8] != ' ' && sc->s[i + 8] != '\t'))
                continue;
            size_t ws, wl;
            if (next_word(sc, i + 8, &ws, &wl) && !placeholder(sc->s + ws, wl)) {
                hit(sc, "netrc-password", "mật khẩu trong .netrc / password in .netrc", sc->s + ws, wl, NULL);
                break;
            }
        }
    }
}

size_t kh_secret_scan_line(const char *s, size_t n, const char *base, kh_secret_hit *hits, size_t max)
{
    if (!max || !n)
        return 0;
    char small[1024];
    char *lo = n < sizeof(small) ? small : malloc(n + 1);
    if (!lo)
        return 0;
    for (size_t i = 0; i < n; i++)
        lo[i] = (char)tolower((unsigned char)s[i]);
    lo[n] = 0;
    scan sc = {s, lo, n, hits, max, 0};
    const char *type;
    if (kh_secret_key_header(s, n, &type))
        hit(&sc, "private-key", "khóa riêng (private key) / private key", NULL, 0, NULL);
    scan_tokens(&sc);
    scan_urls(&sc);
    scan_formats(&sc, base);
    scan_command_lines(&sc);
    scan_assignments(&sc);
    if (lo != small)
        free(lo);
    return sc.count;
}
