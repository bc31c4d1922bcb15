/* Khiên — inventory: reading dpkg's status database; Debian version order.
 *
 * /var/lib/dpkg/status is a sequence of deb822 stanzas ("Field: value"
 * lines, continuation lines starting with a blank, stanzas separated by
 * empty lines), one per package dpkg knows about, including removed
 * packages whose configuration files remain. We keep the few fields the
 * inventory, the vulnerability matcher and the audits need, and skip a
 * malformed stanza with a diagnostic instead of giving up on the whole
 * database: a partly damaged status file still says a lot about a host.
 *
 * Version comparison follows dpkg's lib/dpkg/version.c and parsehelp.c to
 * the letter, because a matcher that disagrees with dpkg by one character
 * reports fixed packages as vulnerable or, worse, the reverse. The order:
 * epochs numerically; then upstream version and revision each compared as
 * alternating runs of non-digits (letters sort before non-letters, '~'
 * before everything, even the end of the string) and digits (numerically).
 * Characters are compared as dpkg's compiled code compares them, that is as
 * plain `char`. Versions are parsed in place as (pointer, length) pairs, so
 * comparing allocates nothing: the matcher compares thousands of them.
 */
#include "inventory/pkg_dpkg.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/rootfs.h"

/* ---- Versions ------------------------------------------------------------ */

typedef struct dver {
    long epoch;
    const char *v, *r; /* upstream version and revision, not NUL-terminated */
    size_t vn, rn;
} dver;

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_blank(int c) { return c == ' ' || c == '\t'; }

/* 0 valid, 1 warning, KH_EFORMAT refused (dpkg's parseversion). */
static int parse_version(const char *s, dver *out, const char **why)
{
    const char *w = NULL;
    while (*s && is_blank(*s))
        s++;
    if (!*s) {
        w = "version string is empty";
        goto refused;
    }
    const char *end = s;
    while (*end && !is_blank(*end))
        end++;
    const char *p = end;
    while (*p && is_blank(*p))
        p++;
    if (*p) {
        w = "version string has embedded spaces";
        goto refused;
    }
    const char *colon = memchr(s, ':', (size_t)(end - s));
    out->epoch = 0;
    if (colon) {
        char *ee;
        errno = 0;
        long epoch = strtol(s, &ee, 10);
        if (ee == s) {
            w = "epoch in version is empty";
            goto refused;
        }
        if (ee != colon) {
            w = "epoch in version is not number";
            goto refused;
        }
        if (epoch < 0) {
            w = "epoch in version is negative";
            goto refused;
        }
        if (epoch > INT_MAX || errno == ERANGE) {
            w = "epoch in version is too big";
            goto refused;
        }
        if (!colon[1]) {
            w = "nothing after colon in version number";
            goto refused;
        }
        out->epoch = epoch;
        s = colon + 1;
    }
    out->v = s;
    out->vn = (size_t)(end - s);
    const char *hyphen = NULL;
    for (const char *q = s; q < end; q++)
        if (*q == '-')
            hyphen = q;
    if (hyphen) {
        out->vn = (size_t)(hyphen - s);
        out->r = hyphen + 1;
        out->rn = (size_t)(end - out->r);
        if (out->rn == 0) {
            w = "revision number is empty";
            goto refused;
        }
    } else {
        out->r = "";
        out->rn = 0;
    }
    if (out->vn == 0) {
        w = "version number is empty";
        goto refused;
    }
    if (!is_digit(out->v[0])) {
        w = "version number does not start with digit";
        goto warn;
    }
    for (size_t i = 1; i < out->vn; i++) {
        int c = out->v[i];
        if (!is_digit(c) && !is_alpha(c) && !strchr(".-+~:", c)) {
            w = "invalid character in version number";
            goto warn;
        }
    }
    for (size_t i = 0; i < out->rn; i++) {
        int c = out->r[i];
        if (!is_digit(c) && !is_alpha(c) && !strchr(".+~", c)) {
            w = "invalid character in revision number";
            goto warn;
        }
    }
    return 0;
warn:
    if (why)
        *why = w;
    return 1;
refused:
    if (why)
        *why = w;
    return KH_EFORMAT;
}

static int order(int c)
{
    if (is_digit(c))
        return 0;
    if (is_alpha(c))
        return c;
    if (c == '~')
        return -1;
    if (c)
        return c + 256;
    return 0;
}

/* dpkg's verrevcmp() over (pointer, length) strings. */
static int verrevcmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0, j = 0;
    while (i < an || j < bn) {
        int first_diff = 0;
        while ((i < an && !is_digit(a[i])) || (j < bn && !is_digit(b[j]))) {
            int ac = order(i < an ? a[i] : 0);
            int bc = order(j < bn ? b[j] : 0);
            if (ac != bc)
                return ac - bc;
            i++;
            j++;
        }
        while (i < an && a[i] == '0')
            i++;
        while (j < bn && b[j] == '0')
            j++;
        while (i < an && j < bn && is_digit(a[i]) && is_digit(b[j])) {
            if (!first_diff)
                first_diff = a[i] - b[j];
            i++;
            j++;
        }
        if (i < an && is_digit(a[i]))
            return 1;
        if (j < bn && is_digit(b[j]))
            return -1;
        if (first_diff)
            return first_diff;
    }
    return 0;
}

static int dver_cmp(const dver *a, const dver *b)
{
    if (a->epoch != b->epoch)
        return a->epoch > b->epoch ? 1 : -1;
    int rc = verrevcmp(a->v, a->vn, b->v, b->vn);
    return rc ? rc : verrevcmp(a->r, a->rn, b->r, b->rn);
}

int kh_dpkg_version_check(const char *v, const char **why)
{
    dver d;
    if (!v)
        return KH_EFORMAT;
    return parse_version(v, &d, why);
}

int kh_dpkg_version_compare(const char *a, const char *b, int *out)
{
    dver x, y;
    if (!a || !b || !out || parse_version(a, &x, NULL) < 0 || parse_version(b, &y, NULL) < 0)
        return KH_EFORMAT;
    *out = dver_cmp(&x, &y);
    return 0;
}

/* A lenient reading for sorting: refused versions still get an order. */
static void loose_version(const char *s, dver *d)
{
    if (parse_version(s, d, NULL) >= 0)
        return;
    d->epoch = 0;
    d->v = s;
    d->vn = strlen(s);
    d->r = "";
    d->rn = 0;
}

int kh_dpkg_vercmp(const char *a, const char *b)
{
    dver x, y;
    loose_version(a ? a : "", &x);
    loose_version(b ? b : "", &y);
    return dver_cmp(&x, &y);
}

/* ---- The status database -------------------------------------------------- */

void kh_dpkg_init(kh_dpkg_db *db) { memset(db, 0, sizeof(*db)); }

static void pkg_free(kh_dpkg_pkg *p)
{
    free(p->name);
    free(p->version);
    free(p->arch);
    free(p->source);
    free(p->source_version);
    free(p->want);
    free(p->state);
    free(p->summary);
    memset(p, 0, sizeof(*p));
}

void kh_dpkg_dispose(kh_dpkg_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->n; i++)
        pkg_free(&db->pkgs[i]);
    for (size_t i = 0; i < db->ndiags; i++)
        free(db->diags[i].message);
    free(db->pkgs);
    free(db->diags);
    memset(db, 0, sizeof(*db));
}

static int add_diag(kh_dpkg_db *db, unsigned line, const char *pkg, const char *msg)
{
    db->nbad++;
    if (db->ndiags >= KH_DPKG_MAX_DIAGS)
        return 0;
    int rc = kh_grow((void **)&db->diags, &db->diags_cap, db->ndiags + 1, sizeof(*db->diags), KH_DPKG_MAX_DIAGS);
    if (rc)
        return rc;
    kh_buf b = KH_BUF_INIT(1024);
    if (pkg)
        kh_buf_printf(&b, "package '%.200s': %s", pkg, msg);
    else
        kh_buf_puts(&b, msg);
    char *m = kh_buf_detach(&b, NULL);
    if (!m)
        return KH_ENOMEM;
    db->diags[db->ndiags].line = line;
    db->diags[db->ndiags].message = m;
    db->ndiags++;
    return 0;
}

/* One stanza being read: borrowed (pointer, length) slices of the text. */
typedef struct stanza {
    unsigned line;
    const char *bad; /* first problem, or NULL */
    const char *f[6]; /* Package, Version, Architecture, Source, Status, Description */
    size_t fn[6];
} stanza;

static const char *const wanted[6] = {"Package", "Version", "Architecture", "Source", "Status", "Description"};

/* Field names are case-insensitive (deb822), ASCII only. */
static int field_is(const char *s, size_t n, const char *name)
{
    if (strlen(name) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int a = (unsigned char)s[i], b = (unsigned char)name[i];
        if (a >= 'A' && a <= 'Z')
            a += 32;
        if (b >= 'A' && b <= 'Z')
            b += 32;
        if (a != b)
            return 0;
    }
    return 1;
}

static char *dup_word(const char *s, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n && is_blank(s[i]))
        i++;
    size_t a = i;
    while (i < n && !is_blank(s[i]))
        i++;
    if (used)
        *used = i;
    return kh_strndup(s + a, i - a);
}

static int finish_stanza(kh_dpkg_db *db, stanza *st)
{
    kh_dpkg_pkg p = {0};
    char *pkgname = st->f[0] ? kh_strndup(st->f[0], st->fn[0]) : NULL;
    int rc = 0;
    const char *why = NULL;
    if (st->f[0] && !pkgname)
        return KH_ENOMEM;
    if (st->bad) {
        why = st->bad;
    } else if (!st->f[0] || !st->fn[0]) {
        why = "stanza without a Package field";
    } else if (!st->f[4]) {
        why = "no Status field";
    }
    if (why)
        goto skip;
    /* Status: want flag state */
    size_t used = 0, off = 0;
    char *words[3];
    for (int k = 0; k < 3; k++) {
        words[k] = dup_word(st->f[4] + off, st->fn[4] - off, &used);
        off += used;
    }
    if (!words[0] || !words[1] || !words[2]) {
        free(words[0]), free(words[1]), free(words[2]);
        free(pkgname);
        return KH_ENOMEM;
    }
    if (!*words[2]) {
        free(words[0]), free(words[1]), free(words[2]);
        why = "Status does not have three words (want flag state)";
        goto skip;
    }
    free(words[1]);
    p.want = words[0];
    p.state = words[2];
    p.name = pkgname;
    pkgname = NULL;
    p.line = st->line;
    p.version = st->f[1] ? kh_strndup(st->f[1], st->fn[1]) : kh_strdup("");
    p.arch = st->f[2] ? kh_strndup(st->f[2], st->fn[2]) : kh_strdup("");
    const char *nl = st->f[5] ? memchr(st->f[5], '\n', st->fn[5]) : NULL;
    size_t dn = nl ? (size_t)(nl - st->f[5]) : st->fn[5];
    p.summary = st->f[5] ? kh_strndup(st->f[5], dn) : kh_strdup("");
    if (!p.version || !p.arch || !p.summary) {
        rc = KH_ENOMEM;
        goto fail;
    }
    if (*p.version && kh_dpkg_version_check(p.version, &why) < 0) {
        rc = add_diag(db, st->line, p.name, why);
        pkg_free(&p);
        return rc;
    }
    if (st->f[3] && st->fn[3]) {
        /* "Source: name" or "Source: name (version)" */
        p.source = dup_word(st->f[3], st->fn[3], &used);
        const char *lp = memchr(st->f[3], '(', st->fn[3]);
        const char *rp = lp ? memchr(lp, ')', st->fn[3] - (size_t)(lp - st->f[3])) : NULL;
        if (lp && rp) {
            size_t n = (size_t)(rp - lp - 1);
            const char *t = kh_trim(lp + 1, &n);
            p.source_version = kh_strndup(t, n);
        } else {
            p.source_version = kh_strdup(p.version);
        }
    } else {
        p.source = kh_strdup(p.name);
        p.source_version = kh_strdup(p.version);
    }
    if (!p.source || !p.source_version) {
        rc = KH_ENOMEM;
        goto fail;
    }
    if ((rc = kh_grow((void **)&db->pkgs, &db->cap, db->n + 1, sizeof(*db->pkgs), KH_DPKG_MAX_PKGS)) != 0)
        goto fail;
    db->pkgs[db->n++] = p;
    return 0;
fail:
    pkg_free(&p);
    free(pkgname);
    return rc;
skip:
    rc = add_diag(db, st->line, pkgname, why);
    free(pkgname);
    return rc;
}

static int cmp_pkg(const void *a, const void *b)
{
    const kh_dpkg_pkg *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (!c)
        c = strcmp(x->arch, y->arch);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

int kh_dpkg_parse(kh_dpkg_db *db, const char *text, size_t len)
{
    size_t pos = 0, n;
    unsigned lineno = 0;
    const char *line;
    stanza st;
    int in = 0, rc = 0, last = -1; /* last: index of the field continuation lines extend */
    while (!rc) {
        line = kh_next_line(text, len, &pos, &n);
        if (line)
            lineno++;
        size_t tn = n;
        int blank = !line || (kh_trim(line, &tn), tn == 0);
        if (blank) {
            if (in)
                rc = finish_stanza(db, &st);
            in = 0;
            if (!line)
                break;
            continue;
        }
        if (!in) {
            memset(&st, 0, sizeof(st));
            st.line = lineno;
            in = 1;
            last = -2;
        }
        if (line[0] == '#')
            continue;
        if (is_blank(line[0])) { /* continuation */
            if (last == -2 && !st.bad)
                st.bad = "continuation line before any field";
            if (last >= 0) /* extend the slice to the end of this line */
                st.fn[last] = (size_t)(line + n - st.f[last]);
            continue;
        }
        const char *colon = memchr(line, ':', n);
        if (!colon || colon == line) {
            if (!st.bad)
                st.bad = "line is not 'Field: value'";
            last = -3;
            continue;
        }
        size_t name_n = (size_t)(colon - line);
        last = -3;
        for (int k = 0; k < 6; k++)
            if (field_is(line, name_n, wanted[k])) {
                size_t vn = n - name_n - 1;
                const char *v = kh_trim(colon + 1, &vn);
                if (st.f[k] && !st.bad)
                    st.bad = "duplicate field";
                st.f[k] = v;
                st.fn[k] = vn;
                last = k == 5 ? 5 : -3;
            }
    }
    if (!rc && db->n > 1)
        kh_qsort(db->pkgs, db->n, sizeof(*db->pkgs), cmp_pkg);
    return rc;
}

int kh_dpkg_read(kh_dpkg_db *db, const char *root)
{
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(root, "/var/lib/dpkg/status", KH_DPKG_STATUS_LIMIT, &b);
    if (!rc)
        rc = kh_dpkg_parse(db, b.data, b.len);
    kh_buf_dispose(&b);
    return rc;
}

int kh_dpkg_is_present(const kh_dpkg_pkg *p)
{
    return p->state && strcmp(p->state, "not-installed") != 0 && strcmp(p->state, "config-files") != 0;
}

const kh_dpkg_pkg *kh_dpkg_find(const kh_dpkg_db *db, const char *name)
{
    size_t lo = 0, hi = db->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(db->pkgs[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < db->n && strcmp(db->pkgs[lo].name, name) == 0 ? &db->pkgs[lo] : NULL;
}
