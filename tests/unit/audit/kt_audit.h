/* Khiên — helpers for the audit unit tests: a fake root directory built by
 * the test (files with chosen modes and times), policies loaded from
 * strings, and the results of a run collected per check id. */
#ifndef KT_AUDIT_H
#define KT_AUDIT_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "harness.h"
#include "khien/audit.h"

static char kt_root[512];

static void kt_path(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s%s%s", kt_root, rel[0] == '/' ? "" : "/", rel);
}

static void kt_mkdirs(const char *rel)
{
    char p[1024];
    kt_path(p, sizeof(p), rel);
    for (char *s = p + strlen(kt_root) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

/* Writes rel (inside the fake root) with the given content and mode. */
static void kt_write(const char *rel, const char *content, mode_t mode)
{
    char p[1024];
    kt_path(p, sizeof(p), rel);
    char *sl = strrchr(p, '/');
    *sl = 0;
    kt_mkdirs(p + strlen(kt_root));
    *sl = '/';
    FILE *f = fopen(p, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", p, strerror(errno));
        abort();
    }
    fwrite(content, 1, strlen(content), f);
    fclose(f);
    chmod(p, mode);
}

static void kt_chmod(const char *rel, mode_t mode)
{
    char p[1024];
    kt_path(p, sizeof(p), rel);
    chmod(p, mode);
}

static void kt_symlink(const char *target, const char *rel)
{
    char p[1024];
    kt_path(p, sizeof(p), rel);
    unlink(p);
    if (symlink(target, p) != 0)
        abort();
}

/* Sets a file's modification time to now - age seconds. */
static void kt_age(const char *rel, long age)
{
    char p[1024];
    kt_path(p, sizeof(p), rel);
    struct timeval tv[2];
    tv[0].tv_sec = tv[1].tv_sec = time(NULL) - age;
    tv[0].tv_usec = tv[1].tv_usec = 0;
    utimes(p, tv);
}

static int kt_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void kt_rmroot(void)
{
    if (kt_root[0])
        nftw(kt_root, kt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    kt_root[0] = 0;
}

static void kt_mkroot(void)
{
    kt_rmroot();
    const char *tmp = getenv("TMPDIR");
    snprintf(kt_root, sizeof(kt_root), "%s/kh-audit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(kt_root))
        abort();
}

static kh_policy *kt_load(const char *yaml, unsigned flags)
{
    kh_policy *p = NULL;
    kh_policy_error e;
    int rc = kh_policy_load_mem(&p, "test.yml", yaml, strlen(yaml), flags, &e);
    if (rc) {
        fprintf(stderr, "  load failed (%s): %s:%u:%u: %s\n", kh_err_name(rc), e.file, e.line, e.column, e.message);
        return NULL;
    }
    return p;
}

/* Results of one run. */
#define KT_MAX_CHECKS 64
typedef struct kt_results {
    int n;
    long long id[KT_MAX_CHECKS];
    kh_check_result res[KT_MAX_CHECKS];
    char reason[KT_MAX_CHECKS][512];
    char evidence[KT_MAX_CHECKS][4096]; /* "path:line kind detail\n" per item */
    kh_policy_summary sum;
    int rc;
} kt_results;

static int kt_on_check(const kh_check_report *r, void *payload)
{
    kt_results *k = payload;
    if (k->n >= KT_MAX_CHECKS)
        return 0;
    int i = k->n++;
    k->id[i] = r->id;
    k->res[i] = r->result;
    snprintf(k->reason[i], sizeof(k->reason[i]), "%s", r->reason ? r->reason : "");
    size_t used = 0;
    k->evidence[i][0] = 0;
    for (size_t e = 0; e < r->nevidence && used < sizeof(k->evidence[i]); e++) {
        const kh_evidence *ev = &r->evidence[e];
        int w = snprintf(k->evidence[i] + used, sizeof(k->evidence[i]) - used, "%s:%u %s %s %s\n",
                         ev->path ? ev->path : "-", ev->line, ev->kind,
                         ev->outcome == KH_RULE_FOUND ? "found" : ev->outcome == KH_RULE_NOT_FOUND ? "not_found" : "invalid",
                         ev->detail ? ev->detail : "");
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return 0;
}

static kt_results *kt_exec(const kh_policy *p, unsigned flags, int64_t now)
{
    static kt_results k;
    memset(&k, 0, sizeof(k));
    kh_audit_options o = KH_AUDIT_OPTIONS_INIT;
    o.root = kt_root;
    o.flags = flags;
    o.now = now;
    o.command_timeout_ms = 3000;
    k.rc = kh_audit_run(p, &o, kt_on_check, &k, &k.sum);
    return &k;
}

static int kt_index(const kt_results *k, long long id)
{
    for (int i = 0; i < k->n; i++)
        if (k->id[i] == id)
            return i;
    return -1;
}

static kh_check_result kt_result(const kt_results *k, long long id)
{
    int i = kt_index(k, id);
    return i < 0 ? (kh_check_result)-1 : k->res[i];
}

static const char *kt_evidence(const kt_results *k, long long id)
{
    int i = kt_index(k, id);
    return i < 0 ? "" : k->evidence[i];
}

static const char *kt_reason(const kt_results *k, long long id)
{
    int i = kt_index(k, id);
    return i < 0 ? "" : k->reason[i];
}

#define KT_RESULT(k, id, want)                                                                          \
    do {                                                                                                \
        int kt_r = (int)kt_result((k), (id));                                                           \
        if (kt_r != (int)(want))                                                                        \
            KT_FAIL_("check %lld: result %d, want %d (%s); evidence:\n%s", (long long)(id), kt_r,      \
                     (int)(want), #want, kt_evidence((k), (id)));                                       \
    } while (0)

#endif
