/* Khiên — vuln: matching advisories with installed packages.
 *
 * Debian writes advisories against source packages: DSA-5343-1 is about
 * "openssl", and it applies to libssl3, openssl and libssl-dev, the binary
 * packages built from that source. So installed packages are indexed by
 * source name and compared by source version (the "(version)" of dpkg's
 * Source field, which differs from the binary version after a binNMU such
 * as 1.2-3+b1 built from 1.2-3). A package without a Source field is its
 * own source.
 *
 * A version is affected by an OSV entry when it is listed in "versions" or
 * falls in an ECOSYSTEM range: the events of a range, sorted in dpkg order
 * with "introduced: 0" first, are replayed and the last one at or below the
 * version decides (introduced: affected; fixed at or below: not; a
 * last_affected below: not), as the OSV specification's reference
 * algorithm does. The fixed version reported is the first "fixed" event
 * above the installed version.
 *
 * One finding per advisory, source package and installed source version,
 * listing the binary packages concerned. Findings are sorted by package and
 * id so that two runs on the same host give the same report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/pkg_dpkg.h"
#include "inventory/rootfs.h"
#include "vuln/vuln_int.h"

struct kh_vuln_report {
    kh_vuln_finding *v;
    size_t n, cap;
    char *ecosystem;
    size_t npkgs;
};

static void finding_free(kh_vuln_finding *f)
{
    for (size_t i = 0; i < f->naliases; i++)
        free((char *)f->aliases[i]);
    for (size_t i = 0; i < f->nbinaries; i++)
        free((char *)f->binaries[i]);
    free((void *)f->aliases);
    free((void *)f->binaries);
    free((char *)f->id);
    free((char *)f->package);
    free((char *)f->installed);
    free((char *)f->fixed);
    free((char *)f->severity);
    free((char *)f->severity_vector);
    free((char *)f->summary);
    free((char *)f->ecosystem);
}

void kh_vuln_report_destroy(kh_vuln_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        finding_free(&r->v[i]);
    free(r->v);
    free(r->ecosystem);
    free(r);
}

size_t kh_vuln_report_count(const kh_vuln_report *r) { return r ? r->n : 0; }

const kh_vuln_finding *kh_vuln_report_at(const kh_vuln_report *r, size_t i)
{
    return r && i < r->n ? &r->v[i] : NULL;
}

size_t kh_vuln_report_packages(const kh_vuln_report *r) { return r ? r->npkgs : 0; }
const char *kh_vuln_report_ecosystem(const kh_vuln_report *r) { return r ? r->ecosystem : NULL; }

int kh_vuln_version_compare(int *out, const char *a, const char *b, const char **why)
{
    if (!out || !a || !b)
        return KH_EINVAL;
    const char *w = NULL;
    if (kh_dpkg_version_check(a, &w) < 0 || kh_dpkg_version_check(b, &w) < 0) {
        if (why)
            *why = w;
        return KH_EFORMAT;
    }
    int c;
    if (kh_dpkg_version_compare(a, b, &c))
        return KH_EFORMAT;
    *out = c < 0 ? -1 : c > 0;
    return 0;
}

/* ---- Ranges ---------------------------------------------------------------------------- */

static int is_zero(const osv_event *e) { return e->kind == OSV_INTRODUCED && strcmp(e->version, "0") == 0; }

/* 1 if v is in the range; *fixed: the first fixed event above v (or NULL). */
static int in_range(const osv_range *rg, const char *v, const char **fixed)
{
    int affected = 0;
    size_t i = 0;
    for (; i < rg->nev; i++) {
        const osv_event *e = &rg->ev[i];
        int le = is_zero(e) || kh_dpkg_vercmp(e->version, v) <= 0; /* event at or below v */
        if (!le)
            break;
        if (e->kind == OSV_INTRODUCED)
            affected = 1;
        else if (e->kind == OSV_FIXED)
            affected = 0;
        else if (e->kind == OSV_LAST_AFFECTED && kh_dpkg_vercmp(e->version, v) < 0)
            affected = 0;
    }
    *fixed = NULL;
    if (!affected)
        return 0;
    for (; i < rg->nev; i++)
        if (rg->ev[i].kind == OSV_FIXED) {
            *fixed = rg->ev[i].version;
            break;
        } else if (rg->ev[i].kind == OSV_LAST_AFFECTED) {
            break;
        }
    return 1;
}

static int affects(const osv_affected *a, const char *v, const char **fixed)
{
    int hit = 0;
    *fixed = NULL;
    for (size_t i = 0; i < a->nranges; i++) {
        const char *f;
        if (in_range(&a->ranges[i], v, &f)) {
            hit = 1;
            if (f && (!*fixed || kh_dpkg_vercmp(f, *fixed) < 0))
                *fixed = f;
        }
    }
    for (size_t i = 0; !hit && i < a->nversions; i++) {
        int c;
        hit = kh_dpkg_version_compare(a->versions[i], v, &c) == 0 && c == 0;
    }
    return hit;
}

static int eco_match(const char *adv, const char *want)
{
    size_t n = strlen(want);
    return strncmp(adv, want, n) == 0 && (adv[n] == 0 || adv[n] == ':');
}

/* ---- Severity -------------------------------------------------------------------------- */

static const char *label_from_score(double s, int v2)
{
    if (s <= 0)
        return NULL;
    if (s < 4)
        return "LOW";
    if (s < 7)
        return "MEDIUM";
    if (s < 9 || v2)
        return "HIGH";
    return "CRITICAL";
}

static const char *normal_label(const char *l)
{
    static const char *const map[][2] = {
        {"critical", "CRITICAL"}, {"high", "HIGH"},       {"important", "HIGH"}, {"medium", "MEDIUM"},
        {"moderate", "MEDIUM"},   {"low", "LOW"},         {"negligible", "NEGLIGIBLE"},
        {"unimportant", "NEGLIGIBLE"},
    };
    for (size_t i = 0; l && i < KH_ARRAY_LEN(map); i++) {
        const char *a = map[i][0], *b = l;
        while (*a && (*b | 32) == *a)
            a++, b++;
        if (!*a && !*b)
            return map[i][1];
    }
    return NULL;
}

/* ---- Building the report -------------------------------------------------------------- */

typedef struct src_ent {
    const char *source;
    size_t pkg;
} src_ent;

static int cmp_src(const void *a, const void *b)
{
    const src_ent *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    return c ? c : (x->pkg > y->pkg) - (x->pkg < y->pkg);
}

static int cmp_finding(const void *a, const void *b)
{
    const kh_vuln_finding *x = a, *y = b;
    int c = strcmp(x->package, y->package);
    if (!c)
        c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->installed, y->installed);
}

static int strv_push(const char *const **v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return 0;
    const char **nv = realloc((void *)*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return KH_ENOMEM;
    *v = nv;
    if (!(nv[*n] = kh_strdup(s)))
        return KH_ENOMEM;
    (*n)++;
    return 0;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Adds (or extends) the finding for record rec, source package, version. */
static int add_finding(kh_vuln_report *r, size_t first, const osv_record *rec, const osv_affected *a,
                       const kh_vuln_package *p, const char *installed, const char *fixed)
{
    kh_vuln_finding *f = NULL;
    for (size_t i = first; i < r->n; i++)
        if (strcmp(r->v[i].package, a->name) == 0 && strcmp(r->v[i].installed, installed) == 0)
            f = &r->v[i];
    if (!f) {
        int rc = kh_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v), 0);
        if (rc)
            return rc;
        f = &r->v[r->n++];
        memset(f, 0, sizeof(*f));
        f->score = rec->score;
        f->id = kh_strdup(rec->id);
        f->package = kh_strdup(a->name);
        f->installed = kh_strdup(installed);
        f->fixed = fixed ? kh_strdup(fixed) : NULL;
        f->summary = kh_strdup(rec->summary ? rec->summary : "");
        f->ecosystem = kh_strdup(a->ecosystem);
        const char *sev = label_from_score(rec->score, rec->vector && strncmp(rec->vector, "CVSS:", 5) != 0);
        if (!sev)
            sev = normal_label(a->label);
        if (!sev)
            sev = normal_label(rec->label);
        if (!sev && rec->vector && strncmp(rec->vector, "CVSS:", 5) != 0)
            sev = normal_label(rec->vector); /* e.g. Ubuntu's "medium" */
        f->severity = sev ? kh_strdup(sev) : NULL;
        const char *vec = rec->vector ? rec->vector : a->label ? a->label : rec->label;
        f->severity_vector = vec ? kh_strdup(vec) : NULL;
        if (!f->id || !f->package || !f->installed || !f->summary || !f->ecosystem || (fixed && !f->fixed) ||
            (sev && !f->severity) || (vec && !f->severity_vector))
            return KH_ENOMEM;
        for (size_t i = 0; i < rec->naliases; i++)
            if (strv_push(&f->aliases, &f->naliases, rec->aliases[i]))
                return KH_ENOMEM;
    } else if (fixed && (!f->fixed || kh_dpkg_vercmp(fixed, f->fixed) < 0)) {
        char *nf = kh_strdup(fixed);
        if (!nf)
            return KH_ENOMEM;
        free((char *)f->fixed);
        f->fixed = nf;
    }
    if (strv_push(&f->binaries, &f->nbinaries, p->name))
        return KH_ENOMEM;
    if (f->nbinaries > 1)
        kh_qsort((void *)f->binaries, f->nbinaries, sizeof(*f->binaries), cmp_cstr);
    return 0;
}

int kh_vuln_check(kh_vuln_report **out, const kh_vuln_db *db, const char *ecosystem, const kh_vuln_package *pkgs,
                  size_t npkgs)
{
    if (!out || !db || !ecosystem || !*ecosystem || (!pkgs && npkgs))
        return KH_EINVAL;
    for (size_t i = 0; i < npkgs; i++)
        if (!pkgs[i].name || !pkgs[i].version)
            return KH_EINVAL;
    kh_vuln_report *r = calloc(1, sizeof(*r));
    src_ent *idx = npkgs ? malloc(npkgs * sizeof(*idx)) : NULL;
    int rc = 0;
    if (!r || (npkgs && !idx) || !(r->ecosystem = kh_strdup(ecosystem))) {
        rc = KH_ENOMEM;
        goto done;
    }
    r->npkgs = npkgs;
    for (size_t i = 0; i < npkgs; i++) {
        idx[i].source = pkgs[i].source && *pkgs[i].source ? pkgs[i].source : pkgs[i].name;
        idx[i].pkg = i;
    }
    if (npkgs > 1)
        kh_qsort(idx, npkgs, sizeof(*idx), cmp_src);
    for (size_t ri = 0; !rc && ri < db->n; ri++) {
        const osv_record *rec = &db->recs[ri];
        size_t first = r->n;
        for (size_t ai = 0; !rc && ai < rec->naff; ai++) {
            const osv_affected *a = &rec->aff[ai];
            if (!eco_match(a->ecosystem, ecosystem))
                continue;
            size_t lo = 0, hi = npkgs;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(idx[mid].source, a->name) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (size_t k = lo; !rc && k < npkgs && strcmp(idx[k].source, a->name) == 0; k++) {
                const kh_vuln_package *p = &pkgs[idx[k].pkg];
                const char *v = p->source_version && *p->source_version ? p->source_version : p->version;
                const char *fixed;
                if (affects(a, v, &fixed))
                    rc = add_finding(r, first, rec, a, p, v, fixed);
            }
        }
    }
    if (rc)
        goto done;
    /* the same advisory loaded twice (two feeds): keep one */
    if (r->n > 1)
        kh_qsort(r->v, r->n, sizeof(*r->v), cmp_finding);
    size_t w = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (w && cmp_finding(&r->v[w - 1], &r->v[i]) == 0) {
            finding_free(&r->v[i]);
            continue;
        }
        r->v[w++] = r->v[i];
    }
    r->n = w;
done:
    free(idx);
    if (rc) {
        kh_vuln_report_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

int kh_vuln_detect_ecosystem(char *out, size_t n, const char *root)
{
    if (!out || !n)
        return KH_EINVAL;
    kh_buf b = KH_BUF_INIT(0);
    if (kh_root_read(root, "/etc/os-release", 1u << 20, &b) != 0 &&
        kh_root_read(root, "/usr/lib/os-release", 1u << 20, &b) != 0) {
        kh_buf_dispose(&b);
        return KH_ENOENT;
    }
    char *id = kh_osrelease_value(b.data, b.len, "ID");
    char *ver = kh_osrelease_value(b.data, b.len, "VERSION_ID");
    kh_buf_dispose(&b);
    int rc = KH_ENOTFOUND;
    const char *name = !id ? NULL : strcmp(id, "debian") == 0 ? "Debian" : strcmp(id, "ubuntu") == 0 ? "Ubuntu" : NULL;
    if (name && ver && *ver) {
        /* Debian advisories use the major release ("Debian:12"), Ubuntu the full one */
        size_t vn = strcmp(name, "Debian") == 0 ? strcspn(ver, ".") : strlen(ver);
        int k = snprintf(out, n, "%s:%.*s", name, (int)vn, ver);
        rc = k < 0 || (size_t)k >= n ? KH_ELIMIT : 0;
    }
    free(id);
    free(ver);
    return rc;
}

int kh_vuln_check_root(kh_vuln_report **out, const kh_vuln_db *db, const char *ecosystem, const char *root)
{
    if (!out || !db)
        return KH_EINVAL;
    char eco[128];
    int rc;
    if (!ecosystem) {
        if ((rc = kh_vuln_detect_ecosystem(eco, sizeof(eco), root)) != 0)
            return rc == KH_ENOENT ? KH_ENOTFOUND : rc;
        ecosystem = eco;
    }
    kh_dpkg_db pk;
    kh_dpkg_init(&pk);
    if ((rc = kh_dpkg_read(&pk, root)) != 0) {
        kh_dpkg_dispose(&pk);
        return rc;
    }
    kh_vuln_package *pkgs = pk.n ? calloc(pk.n, sizeof(*pkgs)) : NULL;
    size_t n = 0;
    if (pk.n && !pkgs) {
        kh_dpkg_dispose(&pk);
        return KH_ENOMEM;
    }
    for (size_t i = 0; i < pk.n; i++) {
        const kh_dpkg_pkg *p = &pk.pkgs[i];
        if (!kh_dpkg_is_present(p) || !*p->version)
            continue;
        pkgs[n].name = p->name;
        pkgs[n].version = p->version;
        pkgs[n].arch = p->arch;
        pkgs[n].source = p->source;
        pkgs[n].source_version = p->source_version;
        n++;
    }
    rc = kh_vuln_check(out, db, ecosystem, pkgs, n);
    free(pkgs);
    kh_dpkg_dispose(&pk);
    return rc;
}
