/* Khiên — agent/tasks: the work the agent's policy schedules.
 *
 * Four tasks, each a thin layer over libkhien's public API (the same calls
 * `khien scan`, `khien audit`, `khien inventory` and `khien vuln` make),
 * turning results into events for the queue:
 *  - scan: signatures from the installed `signatures` bundles plus the
 *    built-in test signature; one `malware` event per detection (high
 *    priority: never evicted for snapshots) and a `scan` summary;
 *  - audit: the built-in policies and the audit policies of installed
 *    bundles (verified, hence trusted to run c: commands), plus local policy
 *    files named by a local agent policy (trusted by the library only when
 *    root owns them and nobody else can write them); one `audit` event per
 *    policy;
 *  - inventory: a snapshot compared with the previous one (kept in the state
 *    folder): `inventory_change` with the diff (high priority: the next run
 *    will not repeat it) and `inventory` with the full snapshot;
 *  - vuln: the installed packages against the advisories of `vuln` bundles.
 * Event payloads are bounded (evidence and finding counts are capped) so
 * that one event always fits in the queue.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "agent/spool.h"
#include "khien/audit.h"
#include "khien/inventory.h"
#include "khien/khien.h"
#include "khien/vuln.h"
#include "util/util.h"

#define MAX_EVIDENCE_PER_CHECK 5
#define MAX_VULN_FINDINGS 5000
#define MAX_TASK_PATHS 256
#define MAX_DETECTIONS_PER_RUN 10000

/* ---- helpers ---------------------------------------------------------- */

static int emit(kh_task_ctx *ctx, const char *type, int prio, json_t *data)
{
    if (!data)
        return KH_ENOMEM;
    return ctx->emit->fn(ctx->emit->ud, type, prio, data);
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* json_string() refuses invalid UTF-8 (file names may be anything): escape such bytes. */
static json_t *jstr_any(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    kh_buf b = KH_BUF_INIT(1 << 20);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80)
            kh_buf_putc(&b, (char)*p);
        else
            kh_buf_printf(&b, "\\x%02x", *p);
    }
    v = json_string(b.data ? b.data : "");
    kh_buf_dispose(&b);
    return v;
}

/* Calls fn for each installed bundle (in name order) with its name and files folder. */
static void each_bundle(const char *dir, void (*fn)(const char *name, const char *files_dir, void *ud), void *ud)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/bundles", dir);
    struct dirent **list = NULL;
    int n = scandir(p, &list, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        char m[4096 + 300], files[4096];
        snprintf(m, sizeof(m), "%s/bundles/%s/manifest.json", dir, name);
        if (name[0] != '.' && access(m, F_OK) == 0 &&
            kh_agent_bundle_files_dir(files, sizeof(files), dir, name) == 0)
            fn(name, files, ud);
        free(list[i]);
    }
    free(list);
}

/* Does the folder hold a file whose name ends with one of the suffixes? */
static int has_file_ending(const char *files_dir, const char *const *suffixes)
{
    DIR *d = opendir(files_dir);
    struct dirent *de;
    int found = 0;
    while (d && !found && (de = readdir(d)))
        for (size_t i = 0; suffixes[i] && !found; i++)
            found = de->d_name[0] != '.' && kh_str_endswith(de->d_name, suffixes[i]);
    if (d)
        closedir(d);
    return found;
}

static int64_t newest_mtime(const char *files_dir)
{
    DIR *d = opendir(files_dir);
    int64_t t = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[4096 + 300];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", files_dir, de->d_name);
        if (de->d_name[0] != '.' && stat(p, &st) == 0 && st.st_mtime > t)
            t = st.st_mtime;
    }
    if (d)
        closedir(d);
    return t;
}

/* ---- scan ----------------------------------------------------------------- */

typedef struct scan_run {
    kh_task_ctx *ctx;
    kh_compiler *comp;
    int64_t sig_time;
    unsigned bundles, bad_bundles;
    uint64_t detections;
    int emit_failed;
} scan_run; /* reports arrive one at a time: no lock needed */

static const char *const sig_suffixes[] = {".hdb", ".hsb", ".hdu", ".hsu", ".ndb", ".ndu", ".fp", ".sfp",
                                           ".ign2", ".ldb", ".cvd", ".cld", ".cud", ".yar", ".yara", NULL};

static void add_sig_bundle(const char *name, const char *files_dir, void *ud)
{
    scan_run *r = ud;
    KH_UNUSED(name);
    if (!has_file_ending(files_dir, sig_suffixes))
        return;
    int rc = kh_compiler_add_path(r->comp, files_dir);
    if (rc == 0) {
        r->bundles++;
        int64_t t = newest_mtime(files_dir);
        if (t > r->sig_time)
            r->sig_time = t;
    } else {
        r->bad_bundles++;
        kh_agent_logf(r->ctx->log, KH_LOG_WARN,
                      "không nạp được mẫu nhận diện từ %s / cannot load the signatures in %s: %s", files_dir, files_dir,
                      kh_strerror(rc));
    }
}

static int on_scan_report(const kh_file_report *fr, void *payload)
{
    scan_run *r = payload;
    if (r->ctx->stop && *r->ctx->stop)
        return 1;
    /* the file's SHA-256, read once for all its detections */
    char sha[65];
    int have_sha = fr->ndetections && kh_agent_sha256_file(sha, fr->path, 1ull << 30) == 0;
    for (size_t i = 0; i < fr->ndetections && r->detections < MAX_DETECTIONS_PER_RUN; i++) {
        const kh_detection *d = &fr->detections[i];
        json_t *ev = json_object();
        json_object_set_new(ev, "path", jstr_any(fr->path));
        json_object_set_new(ev, "member", jstr_any(d->member));
        json_object_set_new(ev, "name", jstr_any(d->name));
        json_object_set_new(ev, "signature", jstr_any(d->name));
        json_object_set_new(ev, "source", jstr_any(d->source));
        json_object_set_new(ev, "kind", json_string(kh_detection_kind_name(d->kind)));
        json_object_set_new(ev, "offset", d->offset >= 0 ? json_integer(d->offset) : json_null());
        json_object_set_new(ev, "size", json_integer((json_int_t)fr->size));
        if (have_sha)
            json_object_set_new(ev, "sha256", json_string(sha));
        r->detections++;
        kh_agent_logf(r->ctx->log, KH_LOG_WARN, "phát hiện mã độc / malware found: %s%s: %s", fr->path,
                      d->member ? d->member : "", d->name);
        if (emit(r->ctx, "malware", KH_SPOOL_PRIO_HIGH, ev) < 0)
            r->emit_failed = 1;
    }
    return 0;
}

static int get_strings(const json_t *task, const char *key, const char **out, size_t max, size_t *n)
{
    json_t *a = json_object_get(task, key), *v;
    size_t i;
    *n = 0;
    if (!a)
        return 0;
    if (!json_is_array(a))
        return KH_EFORMAT;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || *n >= max)
            return KH_EFORMAT;
        out[(*n)++] = json_string_value(v);
    }
    return 0;
}

int kh_task_scan(kh_task_ctx *ctx, const json_t *task)
{
    const char *paths[MAX_TASK_PATHS], *excl[MAX_TASK_PATHS];
    size_t np = 0, ne = 0;
    int rc;
    if (get_strings(task, "paths", paths, MAX_TASK_PATHS, &np) < 0 ||
        get_strings(task, "exclude", excl, MAX_TASK_PATHS, &ne) < 0 || np == 0) {
        kh_agent_logf(ctx->log, KH_LOG_ERROR,
                      "nhiệm vụ quét cần danh sách \"paths\" / the scan task needs a \"paths\" list of strings");
        return KH_EFORMAT;
    }
    scan_run r = {0};
    r.ctx = ctx;
    char cache_dir[4096];
    kh_platform_path_join(cache_dir, sizeof(cache_dir), ctx->dir, "compiled");
    kh_compiler_options co = KH_COMPILER_OPTIONS_INIT;
    co.cache_dir = cache_dir;
    kh_rules *rules = NULL;
    kh_cache *cache = NULL;
    if ((rc = kh_compiler_create(&r.comp, &co)) < 0)
        goto done;
    each_bundle(ctx->dir, add_sig_bundle, &r);
    if ((rc = kh_compiler_build(r.comp, &rules)) < 0) {
        kh_agent_logf(ctx->log, KH_LOG_ERROR, "không dựng được bộ mẫu nhận diện / cannot build the signature set: %s",
                      kh_strerror(rc));
        goto done;
    }
    kh_scan_options so = KH_SCAN_OPTIONS_INIT;
    const char *mfs = kh_agent_json_str(task, "max_filesize");
    uint64_t v;
    if (mfs && kh_parse_size(mfs, &v) == 0)
        so.max_filesize = v;
    /* the cache trusts a clean file only for this set and these limits */
    char cpath[4096];
    kh_platform_path_join(cpath, sizeof(cpath), ctx->dir, "clean-cache.bin");
    if (kh_cache_open_set(&cache, cpath, kh_rules_id(rules), &so, 0) != 0)
        cache = NULL;
    kh_walk_options wo = KH_WALK_OPTIONS_INIT;
    wo.cache = cache;
    wo.excludes = excl;
    wo.nexcludes = ne;
    json_t *th = json_object_get(task, "threads");
    if (json_is_integer(th) && json_integer_value(th) > 0 && json_integer_value(th) <= 64)
        wo.threads = (unsigned)json_integer_value(th);
    kh_walk_stats st = {0};
    int64_t started = (int64_t)time(NULL);
    double t0 = kh_now();
    rc = kh_scan_paths(rules, &so, &wo, paths, np, on_scan_report, &r, &st);
    double secs = kh_now() - t0;
    if (cache)
        kh_cache_save(cache);
    if (rc == KH_EUSER) {
        kh_agent_logf(ctx->log, KH_LOG_INFO, "quét bị dừng / scan stopped");
        goto done;
    }
    if (rc < 0) {
        kh_agent_logf(ctx->log, KH_LOG_ERROR, "quét thất bại / scan failed: %s", kh_strerror(rc));
        goto done;
    }
    ctx->signatures = kh_rules_count(rules);
    ctx->signatures_time = r.sig_time;
    json_t *full = json_object_get(task, "full");
    if (json_is_true(full))
        ctx->last_full_scan = started;
    json_t *jp = json_array();
    for (size_t i = 0; i < np; i++)
        json_array_append_new(jp, jstr_any(paths[i]));
    char ts[32];
    kh_agent_iso_time(ts, started);
    char te[32];
    kh_agent_iso_time(te, (int64_t)time(NULL));
    json_t *sum = json_pack("{s:o, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:i}", "paths", jp,
                            "started", ts, "finished", te, "full", json_is_true(full), "files", (json_int_t)st.files,
                            "found", (json_int_t)st.infected, "detections", (json_int_t)st.detections, "errors",
                            (json_int_t)st.errors, "skipped", (json_int_t)st.skipped, "cached", (json_int_t)st.cached,
                            "bytes", (json_int_t)st.bytes, "seconds", secs, "signatures",
                            (json_int_t)kh_rules_count(rules), "signature_bundles", (int)r.bundles);
    if (sum && r.sig_time) {
        kh_agent_iso_time(ts, r.sig_time);
        json_object_set_new(sum, "signatures_time", json_string(ts));
    }
    rc = emit(ctx, "scan", KH_SPOOL_PRIO_LOW, sum);
    kh_agent_logf(ctx->log, KH_LOG_INFO,
                  "quét xong / scan done: %llu tệp / files, %llu nhiễm / infected, %.1f s",
                  (unsigned long long)st.files, (unsigned long long)st.infected, secs);
    if (r.emit_failed && rc == 0)
        rc = KH_ELIMIT;
done:
    kh_cache_destroy(cache);
    kh_rules_destroy(rules);
    kh_compiler_destroy(r.comp);
    return rc;
}

/* ---- audit ------------------------------------------------------------------ */

typedef struct audit_run {
    json_t *checks;
    int credential; /* the credential-exposure policy: failed checks are exposures */
} audit_run;

static int on_check(const kh_check_report *c, void *payload)
{
    audit_run *a = payload;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(c->id));
    json_object_set_new(o, "title", jstr_any(c->title));
    json_object_set_new(o, "result", json_string(kh_check_result_name(c->result)));
    if (c->reason)
        json_object_set_new(o, "reason", jstr_any(c->reason));
    if (c->ncompliance) {
        json_t *comp = json_object();
        for (size_t i = 0; i < c->ncompliance; i++) {
            json_t *vals = json_array();
            for (size_t k = 0; k < c->compliance[i].nvalues; k++)
                json_array_append_new(vals, jstr_any(c->compliance[i].values[k]));
            json_object_set_new(comp, c->compliance[i].key, vals);
        }
        json_object_set_new(o, "compliance", comp);
    }
    if (c->result == KH_CHECK_FAILED) {
        if (a->credential) {
            json_object_set_new(o, "credential", json_true());
            json_object_set_new(o, "severity", json_string("critical"));
        }
        json_object_set_new(o, "remediation", jstr_any(c->remediation));
        json_t *ev = json_array();
        for (size_t i = 0; i < c->nevidence && i < MAX_EVIDENCE_PER_CHECK; i++) {
            const kh_evidence *e = &c->evidence[i];
            json_array_append_new(ev, json_pack("{s:o, s:s, s:o, s:i, s:o}", "rule", jstr_any(e->rule), "kind",
                                                e->kind ? e->kind : "", "path", jstr_any(e->path), "line",
                                                (int)e->line, "detail", jstr_any(e->detail)));
        }
        json_object_set_new(o, "evidence", ev);
    }
    json_array_append_new(a->checks, o);
    return 0;
}

static int run_one_policy(kh_task_ctx *ctx, kh_policy *p, const char *origin)
{
    audit_run a = {json_array(), strstr(kh_policy_id(p), "credential") != NULL};
    kh_audit_options o = KH_AUDIT_OPTIONS_INIT;
    o.root = ctx->root;
    kh_policy_summary s = {0};
    int rc = kh_audit_run(p, &o, on_check, &a, &s);
    if (rc < 0) {
        json_decref(a.checks);
        kh_agent_logf(ctx->log, KH_LOG_WARN, "kiểm tra '%s' thất bại / audit of '%s' failed: %s", kh_policy_id(p),
                      kh_policy_id(p), kh_strerror(rc));
        return rc;
    }
    const char *note = kh_policy_commands_note(p);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:o}", "policy", kh_policy_id(p),
                           "policy_name", kh_policy_name(p), "source", kh_policy_source(p), "origin", origin,
                           "applicable", s.applicable, "passed", (int)s.passed, "failed", (int)s.failed,
                           "not_applicable", (int)s.not_applicable, "score", s.score, "results", a.checks);
    if (ev && note)
        json_object_set_new(ev, "commands_note", jstr_any(note));
    if (ev && a.credential)
        json_object_set_new(ev, "category", json_string("credentials"));
    return emit(ctx, "audit", KH_SPOOL_PRIO_LOW, ev);
}

typedef struct audit_bundles {
    kh_task_ctx *ctx;
    int rc;
} audit_bundles;

static void audit_bundle_dir(const char *name, const char *files_dir, void *ud)
{
    audit_bundles *ab = ud;
    KH_UNUSED(name);
    DIR *d = opendir(files_dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !(kh_str_endswith(de->d_name, ".yml") || kh_str_endswith(de->d_name, ".yaml")))
            continue;
        char p[4096 + 300];
        snprintf(p, sizeof(p), "%s/%s", files_dir, de->d_name);
        char *text;
        size_t len;
        if (kh_agent_read_file(p, 4u << 20, &text, &len) != 0)
            continue;
        kh_policy *pol = NULL;
        kh_policy_error pe;
        /* Verified by its Ed25519 signature before it was installed: trusted. */
        int rc = kh_policy_load_mem(&pol, de->d_name, text, len, KH_POLICY_TRUSTED, &pe);
        free(text);
        if (rc < 0) {
            kh_agent_logf(ab->ctx->log, KH_LOG_WARN, "chính sách hỏng / bad policy %s:%u:%u: %s", pe.file, pe.line,
                          pe.column, pe.message);
            continue;
        }
        rc = run_one_policy(ab->ctx, pol, "bundle");
        if (rc < 0 && !ab->rc)
            ab->rc = rc;
        kh_policy_destroy(pol);
    }
    if (d)
        closedir(d);
}

int kh_task_audit(kh_task_ctx *ctx, const json_t *task)
{
    const char *names[64], *files[64];
    size_t nn = 0, nf = 0;
    if (get_strings(task, "builtin", names, 64, &nn) < 0 || get_strings(task, "files", files, 64, &nf) < 0) {
        kh_agent_logf(ctx->log, KH_LOG_ERROR, "nhiệm vụ kiểm tra sai định dạng / malformed audit task");
        return KH_EFORMAT;
    }
    int all_builtin = !json_object_get(task, "builtin");
    int rc = 0;
    for (size_t i = 0; i < kh_policy_builtin_count(); i++) {
        int want = all_builtin;
        for (size_t k = 0; k < nn && !want; k++)
            want = strcmp(names[k], kh_policy_builtin_name(i)) == 0;
        if (!want)
            continue;
        kh_policy *p = NULL;
        kh_policy_error pe;
        if (kh_policy_load_builtin(&p, i, &pe) < 0)
            continue;
        int r = run_one_policy(ctx, p, "builtin");
        if (r < 0 && !rc)
            rc = r;
        kh_policy_destroy(p);
        if (ctx->stop && *ctx->stop)
            return rc;
    }
    /* Local files: only a local agent policy names them (see agent.c). The
     * library lets their c: rules run only if root owns them and nobody else
     * can write them. */
    for (size_t i = 0; i < nf; i++) {
        kh_policy *p = NULL;
        kh_policy_error pe;
        int r = kh_policy_load_file(&p, files[i], KH_POLICY_TRUSTED, &pe);
        if (r < 0) {
            kh_agent_logf(ctx->log, KH_LOG_WARN, "chính sách hỏng / bad policy %s:%u:%u: %s", pe.file, pe.line,
                          pe.column, pe.message);
            continue;
        }
        r = run_one_policy(ctx, p, "local");
        if (r < 0 && !rc)
            rc = r;
        kh_policy_destroy(p);
    }
    json_t *b = json_object_get(task, "bundles");
    if (!b || json_is_true(b)) {
        audit_bundles ab = {ctx, 0};
        each_bundle(ctx->dir, audit_bundle_dir, &ab);
        if (ab.rc && !rc)
            rc = ab.rc;
    }
    return rc;
}

/* ---- inventory ------------------------------------------------------------------ */

int kh_task_inventory(kh_task_ctx *ctx, const json_t *task)
{
    kh_inventory *inv = NULL, *prev = NULL;
    kh_inv_diff *diff = NULL;
    char *text = NULL, *ptext = NULL, *dtext = NULL;
    size_t len = 0, plen = 0, dlen = 0;
    KH_UNUSED(task);
    kh_inventory_options io = KH_INVENTORY_OPTIONS_INIT;
    io.root = ctx->root;
    int rc = kh_inventory_collect(&inv, &io);
    if (rc < 0) {
        kh_agent_logf(ctx->log, KH_LOG_ERROR, "kiểm kê thất bại / inventory failed: %s", kh_strerror(rc));
        return rc;
    }
    if ((rc = kh_inventory_to_json(inv, &text, &len)) < 0)
        goto done;
    char path[4096];
    kh_platform_path_join(path, sizeof(path), ctx->dir, "inventory.json");
    int have_prev = kh_agent_read_file(path, 64u << 20, &ptext, &plen) == 0 &&
                    kh_inventory_from_json(&prev, ptext, plen, NULL, 0) == 0;
    json_error_t je;
    if (have_prev) {
        if ((rc = kh_inventory_diff(&diff, prev, inv)) < 0)
            goto done;
        size_t n = kh_inv_diff_count(diff);
        if (n == 0) {
            kh_agent_logf(ctx->log, KH_LOG_INFO, "kiểm kê: không thay đổi / inventory: no change");
            goto done; /* nothing new to send, snapshot unchanged */
        }
        if ((rc = kh_inv_diff_to_json(diff, &dtext, &dlen)) < 0)
            goto done;
        json_t *dj = json_loadb(dtext, dlen, 0, &je);
        if (!dj) {
            rc = KH_EINTERNAL;
            goto done;
        }
        /* {"added": {table: [rows]}, "removed": {...}, "changed": {table: [{key, fields, before, after}]}} */
        json_t *ev = json_pack("{s:{}, s:{}, s:{}, s:I}", "added", "removed", "changed", "count", (json_int_t)n);
        json_t *summary = json_object_get(dj, "summary"), *changes = json_object_get(dj, "changes"), *c;
        if (ev && summary)
            json_object_set(ev, "summary", summary);
        size_t k;
        json_array_foreach(changes, k, c) {
            const char *kind = kh_agent_json_str(c, "change"), *table = kh_agent_json_str(c, "table");
            json_t *grp = kind ? json_object_get(ev, kind) : NULL;
            if (!grp || !table)
                continue;
            json_t *arr = json_object_get(grp, table);
            if (!arr) {
                arr = json_array();
                json_object_set_new(grp, table, arr);
            }
            json_array_append(arr, c);
        }
        json_decref(dj);
        if ((rc = emit(ctx, "inventory_change", KH_SPOOL_PRIO_HIGH, ev)) < 0)
            goto done;
        kh_agent_logf(ctx->log, KH_LOG_INFO, "kiểm kê: %zu thay đổi / inventory: %zu changes", n, n);
    }
    json_t *sj = json_loadb(text, len, 0, &je);
    if (!sj) {
        rc = KH_EINTERNAL;
        goto done;
    }
    if ((rc = emit(ctx, "inventory", KH_SPOOL_PRIO_LOW, sj)) < 0)
        goto done;
    /* The next diff starts from what was reported. */
    rc = kh_platform_write_durable(path, text, len, 0600);
done:
    kh_inv_diff_destroy(diff);
    kh_inventory_destroy(prev);
    kh_inventory_destroy(inv);
    free(text);
    free(ptext);
    free(dtext);
    return rc;
}

/* ---- vuln --------------------------------------------------------------------------- */

typedef struct vuln_load {
    kh_vuln_db *db;
    unsigned sources;
} vuln_load;

/* Advisories come in bundles named vuln* or osv* (OSV .json files or zips). */
static void add_vuln_bundle(const char *name, const char *files_dir, void *ud)
{
    vuln_load *v = ud;
    if (strncmp(name, "vuln", 4) != 0 && strncmp(name, "osv", 3) != 0)
        return;
    if (kh_vuln_db_add_path(v->db, files_dir) == 0)
        v->sources++;
}

int kh_task_vuln(kh_task_ctx *ctx, const json_t *task)
{
    KH_UNUSED(task);
    vuln_load vl = {0};
    kh_vuln_report *rep = NULL;
    int rc = kh_vuln_db_create(&vl.db);
    if (rc < 0)
        return rc;
    each_bundle(ctx->dir, add_vuln_bundle, &vl);
    if (!vl.sources || kh_vuln_db_count(vl.db) == 0) {
        kh_agent_logf(ctx->log, KH_LOG_INFO,
                      "chưa có dữ liệu lỗ hổng từ trung tâm: bỏ qua / no advisories from the centre yet: skipped");
        goto done;
    }
    rc = kh_vuln_check_root(&rep, vl.db, NULL, ctx->root);
    if (rc < 0) {
        kh_agent_logf(ctx->log, KH_LOG_WARN, "không kiểm tra được lỗ hổng / vulnerability check failed: %s",
                      kh_strerror(rc));
        goto done;
    }
    /* Findings come sorted by package: one entry per package with its advisories. */
    json_t *pkgs = json_array(), *cur = NULL;
    const char *curname = NULL;
    size_t n = kh_vuln_report_count(rep);
    for (size_t i = 0; i < n && i < MAX_VULN_FINDINGS; i++) {
        const kh_vuln_finding *f = kh_vuln_report_at(rep, i);
        if (!cur || strcmp(curname, f->package) != 0) {
            cur = json_array();
            curname = f->package;
            json_t *bins = json_array();
            for (size_t k = 0; k < f->nbinaries; k++)
                json_array_append_new(bins, jstr(f->binaries[k]));
            json_array_append_new(pkgs, json_pack("{s:s, s:s, s:o, s:o}", "name", f->package, "version", f->installed,
                                                  "binaries", bins, "vulns", cur));
        }
        json_t *al = json_array();
        for (size_t k = 0; k < f->naliases; k++)
            json_array_append_new(al, jstr(f->aliases[k]));
        json_t *sev = f->severity ? json_string(f->severity) : json_null();
        if (f->severity) { /* the centre's severities are lower case */
            char low[16];
            size_t k = 0;
            for (; f->severity[k] && k < sizeof(low) - 1; k++)
                low[k] = (char)(f->severity[k] >= 'A' && f->severity[k] <= 'Z' ? f->severity[k] + 32 : f->severity[k]);
            low[k] = 0;
            json_decref(sev);
            sev = json_string(low);
        }
        json_array_append_new(cur, json_pack("{s:s, s:o, s:o, s:o, s:f, s:o}", "id", f->id, "aliases", al, "fixed",
                                             jstr(f->fixed), "severity", sev, "score", f->score, "summary",
                                             jstr_any(f->summary)));
    }
    json_t *ev = json_pack("{s:s, s:I, s:I, s:I, s:o}", "ecosystem", kh_vuln_report_ecosystem(rep), "packages_checked",
                           (json_int_t)kh_vuln_report_packages(rep), "advisories", (json_int_t)kh_vuln_db_count(vl.db),
                           "count", (json_int_t)n, "packages", pkgs);
    rc = emit(ctx, "vuln", KH_SPOOL_PRIO_LOW, ev);
    kh_agent_logf(ctx->log, KH_LOG_INFO, "lỗ hổng / vulnerabilities: %zu", n);
done:
    kh_vuln_report_destroy(rep);
    kh_vuln_db_destroy(vl.db);
    return rc;
}
