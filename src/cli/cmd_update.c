/* Khiên — cli: `khien update`, ClamAV's databases from a mirror, like freshclam.
 *
 * For each database (main, daily, bytecode) it reads the header of
 * NAME.cvd on the mirror (an HTTP(S) folder, or a local folder such as a USB
 * stick), compares its version with the local NAME.cvd/NAME.cld, and brings
 * the local copy up to date: with the mirror's NAME-N.cdiff patches when it
 * has every one needed (the result is saved as NAME.cld, as freshclam does),
 * otherwise by fetching the whole NAME.cvd.
 *
 * Nothing is replaced before everything is checked: new files are built in
 * DIR.new beside the database folder, each checked as `khien scan -d` checks
 * it (MD5, digital signatures, the .info list), the unchanged files are
 * linked in, and DIR.new is swapped with DIR in one atomic rename
 * (renameat2 RENAME_EXCHANGE); the set it replaces is kept as DIR.previous.
 * On any failure DIR is left as it was. A lock file (DIR.lock) keeps two
 * updates apart.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "khien/cvd.h"
#include "khien/khien.h"
#include "net/http_client.h"
#include "util/util.h"

#define MAX_DBS 16
#define MAX_CDIFF (64u << 20)
#define MAX_CDIFFS 1000u /* patches applied in one run before fetching the whole .cvd */

typedef struct mirror {
    const char *base;
    size_t baselen; /* without a trailing '/' */
    int http;
    kh_http_client *hc;
    char err[600];
} mirror;

typedef struct dbstate {
    const char *name;
    int have_local;
    char local_file[300]; /* NAME.cvd or NAME.cld in DIR */
    kh_cvd_header local;
    int on_mirror;
    kh_cvd_header remote;
    char staged[300]; /* NAME.cvd or NAME.cld written in DIR.new, "" if unchanged */
    unsigned patches;
    kh_cvd_header result;
} dbstate;

static int quiet;

static int errno_kh(int e) { return e == ENOENT ? KH_ENOENT : e == EACCES || e == EPERM ? KH_EACCES : KH_EIO; }

static int dbname_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

static void usage(FILE *f)
{
    fputs("Cách dùng / Usage: khien update --mirror URL|FOLDER [--dir FOLDER] [OPTIONS]\n"
          "Cập nhật cơ sở dữ liệu ClamAV từ máy chủ gương / Update ClamAV databases from a mirror, like freshclam.\n\n"
          "  -m, --mirror=URL|FOLDER  http(s):// folder holding main.cvd, daily.cvd, bytecode.cvd (and\n"
          "                           NAME-N.cdiff patches), or a local folder (a USB stick)\n"
          "      --dir=FOLDER         the database folder to update (default: STATE/clamav; use it with\n"
          "                           khien scan -d FOLDER)\n"
          "      --db=NAME            only this database (repeatable; default: main, daily, bytecode)\n"
          "      --no-cdiff           always fetch whole .cvd files\n"
          "      --unsigned-ok        accept databases that fail their signature checks (with a warning)\n"
          "      --ca-file=PEM        trust only this CA for an https:// mirror (default: the system's)\n"
          "      --cvd-certs=FOLDER   CA certificates for NAME-N.cvd.sign files (default: /etc/clamav/certs)\n"
          "      --quiet              print only errors\n"
          "  -h, --help               this help\n\n"
          "Nothing is replaced unless every new file passes its checks; the previous set is kept as\n"
          "FOLDER.previous. Exit status: 0 up to date or updated, 2 error (nothing changed).\n",
          f);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ---- The mirror ---------------------------------------------------------------- */

static int url_of(const mirror *m, const char *name, kh_buf *out)
{
    return kh_buf_printf(out, "%.*s/%s", (int)m->baselen, m->base, name);
}

/* Reads NAME from the mirror into memory (at most `limit` bytes; with
 * `head`, only the first 512). Returns 0, KH_ENOENT (not on the mirror) or
 * an error with m->err set. */
static int mirror_get(mirror *m, const char *name, size_t limit, int head, kh_buf *out)
{
    kh_buf url = KH_BUF_INIT(0);
    int rc = url_of(m, name, &url);
    if (rc)
        return rc;
    if (!m->http) {
        int fd = open(url.data, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = errno == ENOENT ? KH_ENOENT : errno_kh(errno);
            snprintf(m->err, sizeof(m->err), "%s: %s", url.data, strerror(errno));
        } else {
            uint8_t buf[65536];
            ssize_t k;
            while ((k = read(fd, buf, sizeof(buf))) > 0 && !rc) {
                if (out->len + (size_t)k > limit)
                    rc = KH_ELIMIT;
                else
                    rc = kh_buf_append(out, buf, (size_t)k);
                if (head && out->len >= 512)
                    break;
            }
            if (k < 0)
                rc = KH_EIO;
            if (rc)
                snprintf(m->err, sizeof(m->err), "%s: %s", url.data, kh_strerror(rc));
            close(fd);
        }
    } else {
        kh_http_response r;
        const char *hdrs[] = {"Range: bytes=0-511", NULL};
        rc = kh_http_request(m->hc, &r, "GET", url.data, NULL, NULL, 0, head ? hdrs : NULL);
        if (rc) {
            snprintf(m->err, sizeof(m->err), "%s: %s", url.data, kh_http_client_last_error(m->hc));
        } else {
            if (r.status == 404 || r.status == 410)
                rc = KH_ENOENT;
            else if (r.status < 200 || r.status > 299)
                rc = KH_EIO;
            else if (r.len > limit)
                rc = KH_ELIMIT;
            else
                rc = kh_buf_append(out, r.body, r.len);
            if (rc)
                snprintf(m->err, sizeof(m->err), "%s: HTTP %ld", url.data, r.status);
            kh_http_response_dispose(&r);
        }
    }
    kh_buf_dispose(&url);
    return rc;
}

/* Copies NAME from the mirror to the file `path`. */
static int mirror_fetch(mirror *m, const char *name, const char *path)
{
    kh_buf url = KH_BUF_INIT(0);
    int rc = url_of(m, name, &url);
    if (rc)
        return rc;
    if (m->http) {
        long status = 0;
        rc = kh_http_get_file(m->hc, url.data, path, &status);
        if (!rc && (status < 200 || status > 299))
            rc = status == 404 ? KH_ENOENT : KH_EIO;
        if (rc)
            snprintf(m->err, sizeof(m->err), "%s: %s", url.data,
                     status ? "HTTP error" : kh_http_client_last_error(m->hc));
        if (rc && status)
            snprintf(m->err, sizeof(m->err), "%s: HTTP %ld", url.data, status);
        kh_buf_dispose(&url);
        return rc;
    }
    int in = open(url.data, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) {
        rc = in < 0 && errno == ENOENT ? KH_ENOENT : errno_kh(errno);
        snprintf(m->err, sizeof(m->err), "%.400s: %.150s", in < 0 ? url.data : path, strerror(errno));
    } else {
        uint8_t *buf = malloc(1u << 20);
        ssize_t k = 0;
        rc = buf ? 0 : KH_ENOMEM;
        while (!rc && (k = read(in, buf, 1u << 20)) > 0)
            for (ssize_t off = 0; off < k && !rc;) {
                ssize_t w = write(out, buf + off, (size_t)(k - off));
                if (w <= 0)
                    rc = KH_EIO;
                else
                    off += w;
            }
        if (!rc && (k < 0 || fsync(out) != 0))
            rc = KH_EIO;
        free(buf);
        if (rc)
            snprintf(m->err, sizeof(m->err), "copying %s: %s", url.data, kh_strerror(rc));
    }
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && !rc)
        rc = KH_EIO;
    kh_buf_dispose(&url);
    return rc;
}

/* ---- Files ------------------------------------------------------------------------ */

static int path_join(char *out, size_t n, const char *dir, const char *name)
{
    int k = snprintf(out, n, "%s/%s", dir, name);
    return k < 0 || (size_t)k >= n ? KH_ELIMIT : 0;
}

static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *de;
    char p[4096];
    int rc = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && path_join(p, sizeof(p), path, de->d_name) == 0)
            rc |= rm_rf(p);
    closedir(d);
    return rmdir(path) | rc;
}

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            int r = mkdir(path, 0755);
            *p = '/';
            if (r != 0 && errno != EEXIST)
                return -1;
        }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int copy_file(const char *from, const char *to)
{
    if (link(from, to) == 0)
        return 0;
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    if (in < 0 || (out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
        rc = KH_EIO;
    char buf[65536];
    ssize_t k;
    while (!rc && (k = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)k) != k)
            rc = KH_EIO;
    if (in >= 0)
        close(in);
    if (out >= 0 && (fsync(out) != 0 || close(out) != 0))
        rc = KH_EIO;
    return rc;
}

/* The local copy of one database: NAME.cvd or NAME.cld, the newer if both. */
static void find_local(const char *dir, dbstate *s)
{
    const char *ext[2] = {"cvd", "cld"};
    for (int i = 0; i < 2; i++) {
        char name[64], p[4096];
        kh_cvd_header h;
        snprintf(name, sizeof(name), "%s.%s", s->name, ext[i]);
        if (path_join(p, sizeof(p), dir, name) || kh_cvd_header_read(p, &h) != 0)
            continue;
        if (!s->have_local || h.version >= s->local.version) {
            s->have_local = 1;
            s->local = h;
            snprintf(s->local_file, sizeof(s->local_file), "%s", name);
        }
    }
}

/* ---- One database ------------------------------------------------------------------ */

static void show_err(const char *db, const char *what, const char *why)
{
    kh_cli_errorf("%s: %s: %s", db, what, why);
}

/* Brings one database up to date in `stage`. Returns 0 (staged or nothing
 * to do) or an error, already reported. */
static int update_one(mirror *m, const char *dir, const char *stage, dbstate *s, const kh_cvd_options *o, int no_cdiff)
{
    char name[64], err[1200], path[4096];
    kh_buf b = KH_BUF_INIT(0);
    snprintf(name, sizeof(name), "%s.cvd", s->name);
    int rc = mirror_get(m, name, 1u << 20, 1, &b);
    if (rc == KH_ELIMIT && m->http) /* the server ignored Range: fetch the whole file below */
        rc = 0, b.len = 0;
    if (rc == KH_ENOENT) {
        say("%s: không có trên máy chủ gương / not on the mirror (%s), giữ nguyên / kept as is\n", s->name, m->err);
        kh_buf_dispose(&b);
        return 0;
    }
    if (rc) {
        show_err(s->name, "cannot read the mirror", m->err);
        kh_buf_dispose(&b);
        return rc;
    }
    if (b.len && kh_cvd_header_parse(b.data, b.len, &s->remote) != 0) {
        show_err(s->name, name, "the mirror's file has no valid ClamAV-VDB header");
        kh_buf_dispose(&b);
        return KH_EFORMAT;
    }
    int got_head = b.len > 0;
    kh_buf_dispose(&b);
    s->on_mirror = 1;
    if (!got_head) /* no header yet (Range ignored): take the whole file */
        s->remote.version = 0;
    if (s->have_local && s->remote.version && s->local.version >= s->remote.version) {
        s->result = s->local;
        return 0;
    }
    /* Patches, when the local copy is there and the mirror has each one. */
    if (s->have_local && s->remote.version && !no_cdiff && s->remote.version - s->local.version <= MAX_CDIFFS) {
        kh_cvdset *set = NULL;
        int ok = 0;
        if (path_join(path, sizeof(path), dir, s->local_file) == 0 &&
            kh_cvdset_open(&set, path, o, err, sizeof(err)) == 0) {
            ok = 1;
            for (unsigned v = s->local.version + 1; ok && v <= s->remote.version; v++) {
                char cd[96];
                kh_buf diff = KH_BUF_INIT(0);
                snprintf(cd, sizeof(cd), "%s-%u.cdiff", s->name, v);
                int grc = mirror_get(m, cd, MAX_CDIFF, 0, &diff);
                if (grc) {
                    say("%s: %s %s; tải cả tệp / fetching the whole %s.cvd\n", s->name, cd,
                        grc == KH_ENOENT ? "không có / not on the mirror" : m->err, s->name);
                    ok = 0;
                } else if (kh_cvdset_apply_cdiff(set, diff.data, diff.len, o, err, sizeof(err)) != 0) {
                    kh_cli_warnf("%s: %s refused: %s; fetching the whole %s.cvd", s->name, cd, err, s->name);
                    ok = 0;
                } else {
                    if (err[0])
                        kh_cli_warnf("%s: %s: %s", s->name, cd, err);
                    s->patches++;
                }
                kh_buf_dispose(&diff);
            }
            kh_cvd_header h;
            if (ok && kh_cvdset_verify(set, o, &h, err, sizeof(err)) != 0) {
                kh_cli_warnf("%s: patched database fails its checks (%s); fetching the whole %s.cvd", s->name, err,
                             s->name);
                ok = 0;
            }
            if (ok && h.version != s->remote.version) {
                kh_cli_warnf("%s: patched to version %u, the mirror has %u; fetching the whole %s.cvd", s->name,
                             h.version, s->remote.version, s->name);
                ok = 0;
            }
            snprintf(name, sizeof(name), "%s.cld", s->name);
            if (ok && (path_join(path, sizeof(path), stage, name) || kh_cvdset_write_cld(set, path) != 0)) {
                show_err(s->name, "cannot write", path);
                kh_cvdset_destroy(set);
                return KH_EIO;
            }
        } else {
            kh_cli_warnf("%s: local %s fails its checks (%s); fetching the whole %s.cvd", s->name, s->local_file, err,
                         s->name);
        }
        kh_cvdset_destroy(set);
        if (ok) {
            /* read back what was written, checked as a scan would check it */
            if ((rc = kh_cvd_check_file(path, o, &s->result, err, sizeof(err)))) {
                show_err(s->name, "the written .cld fails its checks", err);
                return rc;
            }
            snprintf(s->staged, sizeof(s->staged), "%s", name);
            return 0;
        }
        s->patches = 0;
    }
    /* The whole .cvd. */
    snprintf(name, sizeof(name), "%s.cvd", s->name);
    if (path_join(path, sizeof(path), stage, name))
        return KH_ELIMIT;
    unlink(path);
    if ((rc = mirror_fetch(m, name, path))) {
        show_err(s->name, "cannot fetch", m->err);
        return rc;
    }
    /* ClamAV 1.5 publishes NAME-VERSION.cvd.sign beside it: take it when there */
    kh_cvd_header fh;
    if (kh_cvd_header_read(path, &fh) == 0) {
        char sn[96], sp[4096];
        snprintf(sn, sizeof(sn), "%s-%u.cvd.sign", s->name, fh.version);
        if (path_join(sp, sizeof(sp), stage, sn) == 0 && mirror_fetch(m, sn, sp) != 0)
            unlink(sp);
    }
    if ((rc = kh_cvd_check_file(path, o, &s->result, err, sizeof(err)))) {
        show_err(s->name, "the mirror's file fails its checks, refused (bị từ chối)", err);
        return rc;
    }
    if (err[0])
        kh_cli_warnf("%s: %s", name, err);
    if (s->remote.version && s->result.version != s->remote.version) {
        kh_cli_errorf("%s: header says version %u, the file is version %u", name, s->remote.version,
                      s->result.version);
        return KH_EFORMAT;
    }
    if (s->have_local && s->result.version == s->local.version) { /* a server without Range: same version */
        unlink(path);
        s->result = s->local;
        return 0;
    }
    if (s->have_local && s->result.version < s->local.version) {
        kh_cli_errorf("%s: the mirror's version %u is older than the local %u: refused", name, s->result.version,
                      s->local.version);
        return KH_EFORMAT;
    }
    snprintf(s->staged, sizeof(s->staged), "%s", name);
    return 0;
}

/* ---- The swap -------------------------------------------------------------------- */

static int replaced(const dbstate *dbs, size_t n, const char *file)
{
    for (size_t i = 0; i < n; i++) {
        if (!dbs[i].staged[0])
            continue;
        size_t l = strlen(dbs[i].name);
        if (strncmp(file, dbs[i].name, l) == 0 &&
            (strcmp(file + l, ".cvd") == 0 || strcmp(file + l, ".cld") == 0 ||
             (file[l] == '-' && kh_str_endswith(file, ".cvd.sign"))))
            return 1;
    }
    return 0;
}

/* Links the files that stay into the stage, then swaps stage and dir. */
static int swap_in(const char *dir, const char *stage, const char *prev, const dbstate *dbs, size_t n)
{
    struct stat st;
    int exists = stat(dir, &st) == 0;
    if (exists) {
        DIR *d = opendir(dir);
        if (!d)
            return errno_kh(errno);
        struct dirent *de;
        int rc = 0;
        while (!rc && (de = readdir(d))) {
            char from[4096], to[4096];
            struct stat fst;
            if (de->d_name[0] == '.' || replaced(dbs, n, de->d_name) || path_join(from, sizeof(from), dir, de->d_name) ||
                path_join(to, sizeof(to), stage, de->d_name) || stat(from, &fst) != 0 || !S_ISREG(fst.st_mode) ||
                access(to, F_OK) == 0)
                continue;
            if (copy_file(from, to) != 0) {
                kh_cli_errorf("cannot copy %s into %s", from, stage);
                rc = KH_EIO;
            }
        }
        closedir(d);
        if (rc)
            return rc;
        rm_rf(prev);
        if (renameat2(AT_FDCWD, stage, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
            if (rename(stage, prev) != 0) /* stage now holds the old set */
                rm_rf(stage);
            return 0;
        }
        /* no RENAME_EXCHANGE on this file system: two renames */
        if (rename(dir, prev) != 0)
            return errno_kh(errno);
        if (rename(stage, dir) != 0) {
            int e = errno;
            if (rename(prev, dir) != 0)
                kh_cli_errorf("cannot put %s back from %s: %s", dir, prev, strerror(errno));
            return errno_kh(e);
        }
        return 0;
    }
    return rename(stage, dir) == 0 ? 0 : errno_kh(errno);
}

/* ---- The command ------------------------------------------------------------------- */

enum { O_DIR = 256, O_DB, O_NOCDIFF, O_UNSIGNED, O_CA, O_QUIET, O_CERTS };

static const struct option longopts[] = {
    {"mirror", required_argument, 0, 'm'}, {"dir", required_argument, 0, O_DIR},
    {"db", required_argument, 0, O_DB},    {"no-cdiff", no_argument, 0, O_NOCDIFF},
    {"unsigned-ok", no_argument, 0, O_UNSIGNED}, {"ca-file", required_argument, 0, O_CA},
    {"quiet", no_argument, 0, O_QUIET},    {"help", no_argument, 0, 'h'},
    {"cvd-certs", required_argument, 0, O_CERTS},
    {0, 0, 0, 0},
};

int cmd_update(int argc, char **argv)
{
    const char *mirror_arg = NULL, *dir_arg = NULL, *ca = NULL;
    const char *names[MAX_DBS];
    size_t nnames = 0;
    int no_cdiff = 0, opt, ret = KH_EXIT_ERROR, lockfd = -1;
    kh_cvd_options o = {0, getenv("KHIEN_TEST_CLAMAV_KEYS"), NULL}; /* keys: TESTS ONLY, see docs/SIGNATURES.md */
    char *state = NULL, dir[4096], stage[4200], prev[4200], lock[4200];
    mirror m;
    memset(&m, 0, sizeof(m));
    quiet = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            mirror_arg = optarg;
            break;
        case O_DIR:
            dir_arg = optarg;
            break;
        case O_DB:
            if (nnames >= MAX_DBS || !dbname_ok(optarg)) {
                kh_cli_errorf("--db: expected a database name such as daily (at most %d)", MAX_DBS);
                return KH_EXIT_ERROR;
            }
            names[nnames++] = optarg;
            break;
        case O_NOCDIFF:
            no_cdiff = 1;
            break;
        case O_UNSIGNED:
            o.flags |= KH_CVD_UNSIGNED_OK;
            break;
        case O_CA:
            ca = optarg;
            break;
        case O_QUIET:
            quiet = 1;
            break;
        case O_CERTS:
            o.certs_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return KH_EXIT_CLEAN;
        default:
            fprintf(stderr, "Try 'khien update --help'.\n");
            return KH_EXIT_ERROR;
        }
    }
    if (!mirror_arg || optind < argc) {
        usage(stderr);
        return KH_EXIT_ERROR;
    }
    if (nnames == 0) {
        names[0] = "main", names[1] = "daily", names[2] = "bytecode";
        nnames = 3;
    }
    /* where */
    if (dir_arg) {
        snprintf(dir, sizeof(dir), "%s", dir_arg);
    } else {
        if (!(state = kh_cli_state_dir())) {
            kh_cli_errorf("no state directory (set HOME or KHIEN_STATE_DIR), give --dir");
            return KH_EXIT_ERROR;
        }
        snprintf(dir, sizeof(dir), "%s/clamav", state);
    }
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dir[--dl] = 0;
    snprintf(stage, sizeof(stage), "%s.new", dir);
    snprintf(prev, sizeof(prev), "%s.previous", dir);
    snprintf(lock, sizeof(lock), "%s.lock", dir);
    /* the mirror */
    m.base = mirror_arg;
    m.baselen = strlen(mirror_arg);
    while (m.baselen > 1 && mirror_arg[m.baselen - 1] == '/')
        m.baselen--;
    m.http = strncmp(mirror_arg, "http://", 7) == 0 || strncmp(mirror_arg, "https://", 8) == 0;
    if (m.http) {
        kh_http_options ho = KH_HTTP_OPTIONS_INIT;
        ho.ca_file = ca;
        ho.timeout_ms = 30u * 60u * 1000u;
        ho.max_response = MAX_CDIFF;
        ho.max_download = 4ull << 30;
        ho.follow_redirects = 1;
        if (kh_http_client_create(&m.hc, &ho) != 0) {
            kh_cli_errorf("cannot start the HTTP client");
            goto done;
        }
    } else {
        struct stat st;
        if (stat(mirror_arg, &st) != 0 || !S_ISDIR(st.st_mode)) {
            kh_cli_errorf("--mirror: '%s' is neither an http(s):// URL nor a folder", mirror_arg);
            goto done;
        }
    }
    /* lock, stage */
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (mkdir_p(parent) != 0) {
            kh_cli_errorf("cannot create %s: %s", parent, strerror(errno));
            goto done;
        }
    }
    lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        kh_cli_errorf("%s: %s", lock, lockfd < 0 ? strerror(errno) : "another update is running (đang cập nhật)");
        goto done;
    }
    rm_rf(stage);
    if (mkdir(stage, 0755) != 0) {
        kh_cli_errorf("cannot create %s: %s", stage, strerror(errno));
        goto done;
    }
    say("Cập nhật từ / updating from %s into %s\n", mirror_arg, dir);
    dbstate dbs[MAX_DBS];
    memset(dbs, 0, sizeof(dbs));
    int failed = 0, found = 0, changed = 0;
    for (size_t i = 0; i < nnames; i++) {
        dbs[i].name = names[i];
        find_local(dir, &dbs[i]);
        if (update_one(&m, dir, stage, &dbs[i], &o, no_cdiff) != 0)
            failed++;
        found += dbs[i].on_mirror;
        changed += dbs[i].staged[0] != 0;
    }
    if (!failed && !found) {
        kh_cli_errorf("none of the databases is on the mirror %s", mirror_arg);
        failed = 1;
    }
    if (failed) {
        rm_rf(stage);
        kh_cli_errorf("update failed: nothing was changed in %s (không có gì thay đổi)", dir);
        goto done;
    }
    struct stat dst;
    int had_dir = stat(dir, &dst) == 0;
    if (changed) {
        int rc = swap_in(dir, stage, prev, dbs, nnames);
        if (rc) {
            rm_rf(stage);
            kh_cli_errorf("cannot put the new databases in place: %s; %s is unchanged", kh_strerror(rc), dir);
            goto done;
        }
    } else {
        rm_rf(stage);
    }
    for (size_t i = 0; i < nnames; i++) {
        const dbstate *s = &dbs[i];
        if (!s->on_mirror)
            continue;
        if (!s->staged[0])
            say("%s: đã mới nhất / up to date (version %u, %u signatures, built %s by %s)\n", s->local_file,
                s->result.version, s->result.sigs, s->result.time, s->result.builder);
        else if (s->patches)
            say("%s: cập nhật / updated %u -> %u with %u .cdiff patch%s (%u signatures)\n", s->staged,
                s->local.version, s->result.version, s->patches, s->patches == 1 ? "" : "es", s->result.sigs);
        else if (s->have_local)
            say("%s: cập nhật / updated %u -> %u, whole file (%u signatures)\n", s->staged, s->local.version,
                s->result.version, s->result.sigs);
        else
            say("%s: tải về / downloaded version %u (%u signatures)\n", s->staged, s->result.version,
                s->result.sigs);
    }
    if (changed && had_dir)
        say("Tập trước được giữ ở / previous set kept in %s\n", prev);
    ret = KH_EXIT_CLEAN;
done:
    if (lockfd >= 0)
        close(lockfd);
    kh_http_client_destroy(m.hc);
    free(state);
    return ret;
}
