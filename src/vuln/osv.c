/* Khiên — vuln: reading OSV vulnerability records.
 *
 * osv.dev publishes one JSON file per advisory and, per ecosystem, a zip
 * of all of them (Debian's is tens of thousands of files). Feeds are data
 * from the network, so every record is checked against the parts of the
 * OSV schema we rely on (an id; affected[].package with ecosystem and name;
 * ranges with typed events; versions lists; severity entries) before it is
 * kept. A record that fails is skipped with a diagnostic naming the file,
 * the record and the offending field; the others still count. Only a path
 * that cannot be read at all, or a damaged archive, is an error.
 *
 * Records marked "withdrawn" are ignored. Version strings of Debian and
 * Ubuntu ranges are checked with dpkg's rules here, at load time, so that
 * matching never meets a version it cannot order; events are sorted once
 * so that matching is a single pass. Identifiers of the same flaw come from
 * "aliases", "upstream" and the CVE entries of "related".
 *
 * Not here: matching (match.c), CVSS arithmetic (cvss.c).
 */
#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/pkg_dpkg.h"
#include "inventory/rootfs.h"
#include "vuln/vuln_int.h"

int kh_vuln__dpkg_ecosystem(const char *eco)
{
    return strcmp(eco, "Debian") == 0 || strcmp(eco, "Ubuntu") == 0 || strncmp(eco, "Debian:", 7) == 0 ||
           strncmp(eco, "Ubuntu:", 7) == 0;
}

/* ---- Database object ------------------------------------------------------------- */

int kh_vuln_db_create(kh_vuln_db **out)
{
    if (!out)
        return KH_EINVAL;
    kh_vuln_db *db = calloc(1, sizeof(*db));
    if (!db)
        return KH_ENOMEM;
    *out = db;
    return 0;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void affected_free(osv_affected *a)
{
    free(a->ecosystem);
    free(a->name);
    free(a->label);
    strv_free(a->versions, a->nversions);
    for (size_t k = 0; k < a->nranges; k++) {
        for (size_t e = 0; e < a->ranges[k].nev; e++)
            free(a->ranges[k].ev[e].version);
        free(a->ranges[k].ev);
    }
    free(a->ranges);
    memset(a, 0, sizeof(*a));
}

static void record_free(osv_record *r)
{
    free(r->id);
    strv_free(r->aliases, r->naliases);
    free(r->summary);
    free(r->label);
    free(r->vector);
    for (size_t i = 0; i < r->naff; i++)
        affected_free(&r->aff[i]);
    free(r->aff);
    memset(r, 0, sizeof(*r));
}

void kh_vuln_db_destroy(kh_vuln_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->n; i++)
        record_free(&db->recs[i]);
    for (size_t i = 0; i < db->ndiags; i++) {
        free((char *)db->diags[i].source);
        free((char *)db->diags[i].message);
    }
    free(db->recs);
    free(db->diags);
    free(db);
}

size_t kh_vuln_db_count(const kh_vuln_db *db) { return db ? db->n : 0; }
size_t kh_vuln_db_skipped(const kh_vuln_db *db) { return db ? db->skipped : 0; }
size_t kh_vuln_db_withdrawn(const kh_vuln_db *db) { return db ? db->withdrawn : 0; }
size_t kh_vuln_db_diag_count(const kh_vuln_db *db) { return db ? db->ndiags : 0; }

const kh_vuln_diag *kh_vuln_db_diag(const kh_vuln_db *db, size_t i)
{
    return db && i < db->ndiags ? &db->diags[i] : NULL;
}

static void diag(kh_vuln_db *db, const char *source, const char *fmt, ...) KH_PRINTF(3, 4);
static void diag(kh_vuln_db *db, const char *source, const char *fmt, ...)
{
    if (db->ndiags >= KH_VULN_MAX_DIAGS ||
        kh_grow((void **)&db->diags, &db->diags_cap, db->ndiags + 1, sizeof(*db->diags), KH_VULN_MAX_DIAGS))
        return;
    kh_buf b = KH_BUF_INIT(4096);
    va_list ap;
    va_start(ap, fmt);
    kh_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *m = kh_buf_detach(&b, NULL), *s = kh_strdup(source);
    if (!m || !s) {
        free(m);
        free(s);
        return;
    }
    db->diags[db->ndiags].source = s;
    db->diags[db->ndiags].message = m;
    db->ndiags++;
}

/* ---- Parsing one record -------------------------------------------------------------- */

typedef struct pctx {
    char err[512]; /* first problem */
    int oom;
} pctx;

static int bad(pctx *c, const char *fmt, ...) KH_PRINTF(2, 3);
static int bad(pctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return KH_EFORMAT;
}

static char *dup_or_oom(pctx *c, const char *s)
{
    char *d = kh_strdup(s);
    if (!d)
        c->oom = 1;
    return d;
}

/* Appends s to a string vector unless present. */
static int strv_add(pctx *c, char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return 0;
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv) {
        c->oom = 1;
        return KH_ENOMEM;
    }
    *v = nv;
    if (!(nv[*n] = dup_or_oom(c, s)))
        return KH_ENOMEM;
    (*n)++;
    return 0;
}

/* An optional array of strings; only those with prefix (if given) are added. */
static int str_array(pctx *c, json_t *o, const char *field, const char *prefix, char ***v, size_t *n)
{
    json_t *a = json_object_get(o, field), *x;
    size_t i;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(c, "\"%s\" is not an array", field);
    json_array_foreach(a, i, x)
    {
        if (!json_is_string(x))
            return bad(c, "%s[%zu] is not a string", field, i);
        if (prefix && strncmp(json_string_value(x), prefix, strlen(prefix)) != 0)
            continue;
        if (strv_add(c, v, n, json_string_value(x)))
            return KH_ENOMEM;
    }
    return 0;
}

static const char *opt_string(pctx *c, json_t *o, const char *field, int *rc)
{
    json_t *v = json_object_get(o, field);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *rc = bad(c, "\"%s\" is not a string", field);
        return NULL;
    }
    return json_string_value(v);
}

/* "severity" or "urgency" in an ecosystem_specific / database_specific object. */
static char *specific_label(json_t *o)
{
    static const char *const objs[] = {"ecosystem_specific", "database_specific"};
    static const char *const keys[] = {"severity", "urgency"};
    for (size_t i = 0; i < 2; i++) {
        json_t *s = json_object_get(o, objs[i]);
        for (size_t k = 0; json_is_object(s) && k < 2; k++) {
            json_t *v = json_object_get(s, keys[k]);
            if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 64)
                return kh_strdup(json_string_value(v));
        }
    }
    return NULL;
}

static int cmp_event(const void *a, const void *b)
{
    const osv_event *x = a, *y = b;
    int zx = x->kind == OSV_INTRODUCED && strcmp(x->version, "0") == 0;
    int zy = y->kind == OSV_INTRODUCED && strcmp(y->version, "0") == 0;
    if (zx != zy)
        return zx ? -1 : 1;
    int c = zx ? 0 : kh_dpkg_vercmp(x->version, y->version);
    if (c)
        return c;
    return (int)x->kind - (int)y->kind;
}

static int parse_ranges(pctx *c, json_t *ja, size_t ai, osv_affected *a, int dpkg)
{
    json_t *jr = json_object_get(ja, "ranges"), *r;
    size_t ri;
    if (!jr || json_is_null(jr))
        return 0;
    if (!json_is_array(jr))
        return bad(c, "affected[%zu].ranges is not an array", ai);
    json_array_foreach(jr, ri, r)
    {
        json_t *jt = json_object_get(r, "type"), *jev = json_object_get(r, "events"), *e;
        if (!json_is_object(r) || !json_is_string(jt))
            return bad(c, "affected[%zu].ranges[%zu] has no string \"type\"", ai, ri);
        if (!json_is_array(jev) || json_array_size(jev) == 0)
            return bad(c, "affected[%zu].ranges[%zu].events is missing or empty", ai, ri);
        int keep = dpkg && strcmp(json_string_value(jt), "ECOSYSTEM") == 0;
        osv_range rg = {0};
        size_t ei;
        if (keep && !(rg.ev = calloc(json_array_size(jev), sizeof(*rg.ev)))) {
            c->oom = 1;
            return KH_ENOMEM;
        }
        int rc = 0;
        json_array_foreach(jev, ei, e)
        {
            static const char *const kinds[] = {"introduced", "last_affected", "fixed", "limit"};
            const char *ver = NULL;
            int kind = -1, count = 0;
            if (!json_is_object(e)) {
                rc = bad(c, "affected[%zu].ranges[%zu].events[%zu] is not an object", ai, ri, ei);
                break;
            }
            for (int k = 0; k < 4; k++) {
                json_t *v = json_object_get(e, kinds[k]);
                if (!v)
                    continue;
                count++;
                if (!json_is_string(v) || json_string_length(v) == 0) {
                    rc = bad(c, "affected[%zu].ranges[%zu].events[%zu].%s is not a non-empty string", ai, ri, ei,
                             kinds[k]);
                    break;
                }
                kind = k;
                ver = json_string_value(v);
            }
            if (rc)
                break;
            if (count != 1) {
                rc = bad(c, "affected[%zu].ranges[%zu].events[%zu] must have exactly one of introduced, fixed, "
                            "last_affected, limit",
                         ai, ri, ei);
                break;
            }
            const char *why = NULL;
            if (keep && !(kind == OSV_INTRODUCED && strcmp(ver, "0") == 0) && kh_dpkg_version_check(ver, &why) < 0) {
                rc = bad(c, "affected[%zu].ranges[%zu].events[%zu].%s: '%.100s' is not a Debian version (%s)", ai, ri,
                         ei, kinds[kind], ver, why);
                break;
            }
            if (keep) {
                rg.ev[rg.nev].kind = (osv_ev_kind)kind;
                if (!(rg.ev[rg.nev].version = dup_or_oom(c, ver))) {
                    rc = KH_ENOMEM;
                    break;
                }
                rg.nev++;
            }
        }
        if (!rc && keep) {
            kh_qsort(rg.ev, rg.nev, sizeof(*rg.ev), cmp_event);
            osv_range *nr = realloc(a->ranges, (a->nranges + 1) * sizeof(*nr));
            if (!nr) {
                c->oom = 1;
                rc = KH_ENOMEM;
            } else {
                a->ranges = nr;
                a->ranges[a->nranges++] = rg;
                continue;
            }
        }
        for (size_t k = 0; k < rg.nev; k++)
            free(rg.ev[k].version);
        free(rg.ev);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_affected(pctx *c, json_t *o, osv_record *rec)
{
    json_t *ja = json_object_get(o, "affected"), *x;
    size_t ai;
    if (!ja || json_is_null(ja))
        return 0;
    if (!json_is_array(ja))
        return bad(c, "\"affected\" is not an array");
    json_array_foreach(ja, ai, x)
    {
        if (!json_is_object(x))
            return bad(c, "affected[%zu] is not an object", ai);
        json_t *p = json_object_get(x, "package");
        if (!p || json_is_null(p))
            continue; /* allowed by the schema (e.g. git-only ranges): nothing to match */
        json_t *je = json_object_get(p, "ecosystem"), *jn = json_object_get(p, "name");
        if (!json_is_object(p) || !json_is_string(je) || !json_is_string(jn) || json_string_length(jn) == 0)
            return bad(c, "affected[%zu].package needs string \"ecosystem\" and \"name\"", ai);
        int dpkg = kh_vuln__dpkg_ecosystem(json_string_value(je));
        osv_affected a = {0};
        int rc = parse_ranges(c, x, ai, &a, dpkg);
        if (!rc) {
            char **vers = NULL;
            size_t nv = 0;
            rc = str_array(c, x, "versions", NULL, &vers, &nv);
            if (!rc && nv == 0 && !a.nranges && dpkg && json_object_get(x, "ranges") == NULL)
                rc = bad(c, "affected[%zu] has neither ranges nor versions", ai);
            if (!rc && dpkg)
                for (size_t i = 0; i < nv && !rc; i++)
                    if (kh_dpkg_version_check(vers[i], NULL) < 0)
                        rc = bad(c, "affected[%zu].versions[%zu]: '%.100s' is not a Debian version", ai, i, vers[i]);
            a.versions = vers;
            a.nversions = nv;
        }
        if (!rc && dpkg) {
            a.ecosystem = dup_or_oom(c, json_string_value(je));
            a.name = dup_or_oom(c, json_string_value(jn));
            a.label = specific_label(x);
            osv_affected *na = c->oom ? NULL : realloc(rec->aff, (rec->naff + 1) * sizeof(*na));
            if (na) {
                rec->aff = na;
                rec->aff[rec->naff++] = a;
                continue;
            }
            c->oom = 1;
            rc = KH_ENOMEM;
        }
        affected_free(&a); /* not kept */
        if (rc)
            return rc;
    }
    return 0;
}

/* The most useful entry of severity[]: CVSS v3, then v4, then v2, then any. */
static int parse_severity(pctx *c, json_t *o, osv_record *rec)
{
    json_t *js = json_object_get(o, "severity"), *x;
    size_t i;
    int best = -1;
    if (!js || json_is_null(js))
        return 0;
    if (!json_is_array(js))
        return bad(c, "\"severity\" is not an array");
    json_array_foreach(js, i, x)
    {
        json_t *t = json_object_get(x, "type"), *s = json_object_get(x, "score");
        if (!json_is_object(x) || !json_is_string(t) || !json_is_string(s))
            return bad(c, "severity[%zu] needs string \"type\" and \"score\"", i);
        const char *ty = json_string_value(t);
        int rank = strcmp(ty, "CVSS_V3") == 0 ? 4 : strcmp(ty, "CVSS_V4") == 0 ? 3 : strcmp(ty, "CVSS_V2") == 0 ? 2 : 1;
        if (rank > best) {
            best = rank;
            free(rec->vector);
            if (!(rec->vector = dup_or_oom(c, json_string_value(s))))
                return KH_ENOMEM;
        }
    }
    rec->score = rec->vector ? kh_vuln_cvss_score(rec->vector) : -1;
    return 0;
}

/* 0 kept, 1 withdrawn, KH_EFORMAT (c->err says why), KH_ENOMEM. */
static int parse_record(pctx *c, json_t *o, osv_record *rec)
{
    int rc = 0;
    memset(rec, 0, sizeof(*rec));
    rec->score = -1;
    if (!json_is_object(o))
        return bad(c, "not a JSON object");
    json_t *jid = json_object_get(o, "id");
    if (!json_is_string(jid) || json_string_length(jid) == 0)
        return bad(c, "no string \"id\"");
    if (!(rec->id = dup_or_oom(c, json_string_value(jid))))
        return KH_ENOMEM;
    if (json_object_get(o, "withdrawn") && !json_is_null(json_object_get(o, "withdrawn")))
        return 1;
    const char *summary = opt_string(c, o, "summary", &rc);
    const char *details = rc ? NULL : opt_string(c, o, "details", &rc);
    if (rc)
        return rc;
    if (summary && *summary) {
        rec->summary = dup_or_oom(c, summary);
    } else if (details) {
        size_t n = strcspn(details, "\n");
        rec->summary = kh_strndup(details, KH_MIN(n, (size_t)300));
        c->oom |= rec->summary == NULL;
    }
    if ((rc = str_array(c, o, "aliases", NULL, &rec->aliases, &rec->naliases)) != 0 ||
        (rc = str_array(c, o, "upstream", NULL, &rec->aliases, &rec->naliases)) != 0 ||
        (rc = str_array(c, o, "related", "CVE-", &rec->aliases, &rec->naliases)) != 0)
        return rc;
    /* an alias equal to the id says nothing */
    for (size_t i = 0; i < rec->naliases; i++)
        if (strcmp(rec->aliases[i], rec->id) == 0) {
            free(rec->aliases[i]);
            memmove(rec->aliases + i, rec->aliases + i + 1, (rec->naliases - i - 1) * sizeof(char *));
            rec->naliases--;
            break;
        }
    if ((rc = parse_severity(c, o, rec)) != 0)
        return rc;
    rec->label = specific_label(o);
    if ((rc = parse_affected(c, o, rec)) != 0)
        return rc;
    return c->oom ? KH_ENOMEM : 0;
}

static int add_record(kh_vuln_db *db, const char *source, json_t *o, size_t idx, int in_array)
{
    pctx c = {{0}, 0};
    osv_record rec;
    int rc = parse_record(&c, o, &rec);
    if (rc == 0 && (rc = kh_grow((void **)&db->recs, &db->cap, db->n + 1, sizeof(*db->recs),
                                 KH_VULN_MAX_RECORDS)) == 0) {
        db->recs[db->n++] = rec;
        return 0;
    }
    if (rc == 1) {
        db->withdrawn++;
        rc = 0;
    } else if (rc == KH_EFORMAT) {
        db->skipped++;
        char where[300];
        if (rec.id)
            snprintf(where, sizeof(where), "record '%.200s'", rec.id);
        else if (in_array)
            snprintf(where, sizeof(where), "record %zu", idx);
        else
            snprintf(where, sizeof(where), "record");
        diag(db, source, "%s: %s (skipped)", where, c.err);
        rc = 0;
    }
    record_free(&rec);
    return rc;
}

int kh_vuln_db_add_json(kh_vuln_db *db, const char *name, const char *text, size_t len)
{
    if (!db || (!text && len))
        return KH_EINVAL;
    if (!name)
        name = "<json>";
    json_error_t je;
    json_t *root = json_loadb(text ? text : "", len, 0, &je);
    if (!root) {
        db->skipped++;
        diag(db, name, "line %d, column %d: %s (file skipped)", je.line, je.column, je.text);
        return 0;
    }
    int rc = 0;
    if (json_is_array(root)) {
        size_t i;
        json_t *o;
        json_array_foreach(root, i, o)
        {
            if ((rc = add_record(db, name, o, i, 1)) != 0)
                break;
        }
    } else {
        rc = add_record(db, name, root, 0, 0);
    }
    json_decref(root);
    return rc;
}

/* ---- Files, folders, zip archives ---------------------------------------------------- */

static int add_file(kh_vuln_db *db, const char *path)
{
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(NULL, path, KH_VULN_FILE_LIMIT, &b);
    if (rc == KH_ELIMIT) {
        db->skipped++;
        diag(db, path, "larger than %u MiB (file skipped)", KH_VULN_FILE_LIMIT >> 20);
        rc = 0;
    } else if (!rc) {
        rc = kh_vuln_db_add_json(db, path, b.data, b.len);
    } else if (rc != KH_ENOMEM) {
        db->skipped++;
        diag(db, path, "cannot read: %s (skipped)", kh_strerror(rc));
        rc = 0;
    }
    kh_buf_dispose(&b);
    return rc;
}

static int add_zip(kh_vuln_db *db, const char *path)
{
    struct archive *a = archive_read_new();
    if (!a)
        return KH_ENOMEM;
    archive_read_support_format_zip(a);
    int rc = 0;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        diag(db, path, "cannot open the archive: %s", archive_error_string(a) ? archive_error_string(a) : "?");
        archive_read_free(a);
        return KH_EFORMAT;
    }
    struct archive_entry *e;
    kh_buf name = KH_BUF_INIT(0), data = KH_BUF_INIT(KH_VULN_FILE_LIMIT);
    int r;
    while (!rc && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *member = archive_entry_pathname(e);
        if (archive_entry_filetype(e) != AE_IFREG || !member || !kh_str_endswith(member, ".json"))
            continue;
        kh_buf_clear(&name);
        kh_buf_printf(&name, "%s!%s", path, member);
        kh_buf_clear(&data);
        char tmp[65536];
        la_ssize_t got;
        int too_big = 0;
        while ((got = archive_read_data(a, tmp, sizeof(tmp))) > 0)
            if (!too_big && kh_buf_append(&data, tmp, (size_t)got) != 0)
                too_big = 1;
        if (got < 0) {
            diag(db, name.data, "cannot read the member: %s",
                 archive_error_string(a) ? archive_error_string(a) : "?");
            rc = KH_EFORMAT;
            break;
        }
        if (too_big) {
            db->skipped++;
            diag(db, name.data, "larger than %u MiB (skipped)", KH_VULN_FILE_LIMIT >> 20);
            continue;
        }
        rc = kh_vuln_db_add_json(db, name.data, data.data ? data.data : "", data.len);
    }
    if (!rc && r != ARCHIVE_EOF) {
        diag(db, path, "damaged archive: %s", archive_error_string(a) ? archive_error_string(a) : "?");
        rc = KH_EFORMAT;
    }
    kh_buf_dispose(&name);
    kh_buf_dispose(&data);
    archive_read_free(a);
    return rc;
}

static int is_zip(const char *path)
{
    if (kh_str_endswith(path, ".zip") || kh_str_endswith(path, ".ZIP"))
        return 1;
    FILE *f = fopen(path, "rb");
    unsigned char m[4] = {0};
    int z = f && fread(m, 1, 4, f) == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
    if (f)
        fclose(f);
    return z;
}

static int add_dir(kh_vuln_db *db, const char *dir, int depth)
{
    char **names = NULL;
    size_t n = 0;
    if (depth > 32)
        return 0;
    int rc = kh_root_list(NULL, dir, &names, &n);
    if (rc)
        return rc;
    kh_buf p = KH_BUF_INIT(0);
    for (size_t i = 0; i < n && !rc; i++) {
        if (names[i][0] == '.')
            continue;
        kh_buf_clear(&p);
        if ((rc = kh_buf_printf(&p, "%s/%s", dir, names[i])) != 0)
            break;
        int k = kh_root_kind(NULL, p.data);
        if (k == KH_ROOT_DIR)
            rc = add_dir(db, p.data, depth + 1);
        else if (k == KH_ROOT_FILE && kh_str_endswith(names[i], ".json"))
            rc = add_file(db, p.data);
        else if (k == KH_ROOT_FILE && kh_str_endswith(names[i], ".zip"))
            rc = add_zip(db, p.data);
        if (rc && rc != KH_ENOMEM && rc != KH_ELIMIT)
            rc = 0; /* an unreadable member of a folder was diagnosed; go on */
    }
    kh_buf_dispose(&p);
    kh_root_names_free(names, n);
    return rc;
}

int kh_vuln_db_add_path(kh_vuln_db *db, const char *path)
{
    if (!db || !path)
        return KH_EINVAL;
    int k = kh_root_kind(NULL, path);
    if (k == KH_ROOT_DIR)
        return add_dir(db, path, 0);
    if (k != KH_ROOT_FILE) {
        kh_buf b = KH_BUF_INIT(0);
        int rc = kh_root_read(NULL, path, 1, &b); /* for the right error code */
        kh_buf_dispose(&b);
        return rc == 0 || rc == KH_ELIMIT ? KH_EIO : rc;
    }
    if (is_zip(path))
        return add_zip(db, path);
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(NULL, path, KH_VULN_FILE_LIMIT, &b);
    if (!rc)
        rc = kh_vuln_db_add_json(db, path, b.data, b.len);
    kh_buf_dispose(&b);
    return rc;
}
