/* Khiên — audit: the file system of the audited system.
 *
 * Every path in a policy names a file of the audited system. Without a root
 * directory that is this host, and paths are used as they are. With one
 * (`khien audit --root DIR`: a mounted disk, a container image, or the fake
 * trees of the tests) each path is looked up inside it, and symbolic links
 * are resolved as the audited system would resolve them: an absolute link
 * target starts again at the root, `..` never climbs above it, and the last
 * component is opened with O_NOFOLLOW, so no link in the tree can make the
 * audit read a file of the host.
 *
 * Also here: glob patterns in paths (a Khiên extension, used by our own
 * policies for home folders: /home/STAR/.ssh), bounded directory walks in name
 * order so that reports are reproducible, line-by-line reading with a size
 * limit, and "can everybody read this file" (o+r on the file and o+x on
 * every folder above it). Opening never blocks: FIFOs and devices are
 * refused before they are read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_int.h"
#include "platform/platform.h"

#define MAX_LINKS 40
#define MAX_LINE (64u << 10)
#define MAX_GLOB 10000

static int resolve(const kh_audit_ctx *c, const char *path, int follow_last, kh_buf *out)
{
    kh_buf_clear(out);
    if (!c->root)
        return kh_buf_puts(out, path);
    kh_buf cur = KH_BUF_INIT(PATH_MAX * 4);  /* resolved in-root path, "" = "/" */
    kh_buf rem = KH_BUF_INIT(PATH_MAX * 16); /* what is left to walk */
    kh_buf host = KH_BUF_INIT(PATH_MAX * 8);
    int rc = kh_buf_puts(&rem, path), links = 0;
    size_t pos = 0;
    char target[PATH_MAX];
    while (rc == 0) {
        while (pos < rem.len && rem.data[pos] == '/')
            pos++;
        if (pos >= rem.len)
            break;
        size_t e = pos;
        while (e < rem.len && rem.data[e] != '/')
            e++;
        const char *comp = rem.data + pos;
        size_t cl = e - pos;
        int last = 1;
        for (size_t k = e; k < rem.len; k++)
            if (rem.data[k] != '/') {
                last = 0;
                break;
            }
        if (cl == 1 && comp[0] == '.') {
            pos = e;
            continue;
        }
        if (cl == 2 && comp[0] == '.' && comp[1] == '.') {
            while (cur.len && cur.data[cur.len - 1] != '/')
                cur.len--;
            if (cur.len)
                cur.len--;
            if (cur.data)
                cur.data[cur.len] = 0;
            pos = e;
            continue;
        }
        size_t saved = cur.len;
        if ((rc = kh_buf_putc(&cur, '/')) || (rc = kh_buf_append(&cur, comp, cl)))
            break;
        if (last && !follow_last) {
            pos = e;
            continue;
        }
        kh_buf_clear(&host);
        if ((rc = kh_buf_puts(&host, c->root)) || (rc = kh_buf_append(&host, cur.data, cur.len)))
            break;
        struct stat st;
        if (lstat(host.data, &st) != 0) {
            /* the rest cannot exist (or cannot be seen): keep it as written */
            rc = kh_buf_append(&cur, rem.data + e, rem.len - e);
            pos = rem.len;
            continue;
        }
        if (!S_ISLNK(st.st_mode)) {
            pos = e;
            continue;
        }
        if (++links > MAX_LINKS) {
            rc = KH_ELIMIT;
            break;
        }
        ssize_t tl = readlink(host.data, target, sizeof(target) - 1);
        if (tl <= 0) {
            pos = e;
            continue;
        }
        target[tl] = 0;
        cur.len = saved;
        if (cur.data)
            cur.data[cur.len] = 0;
        if (target[0] == '/')
            kh_buf_clear(&cur);
        kh_buf next = KH_BUF_INIT(PATH_MAX * 16);
        rc = kh_buf_puts(&next, target);
        if (!rc)
            rc = kh_buf_putc(&next, '/');
        if (!rc)
            rc = kh_buf_append(&next, rem.data + e, rem.len - e);
        kh_buf_dispose(&rem);
        rem = next;
        pos = 0;
    }
    if (rc == 0) {
        rc = kh_buf_puts(out, c->root);
        if (!rc)
            rc = cur.len ? kh_buf_append(out, cur.data, cur.len) : kh_buf_putc(out, '/');
    }
    kh_buf_dispose(&cur);
    kh_buf_dispose(&rem);
    kh_buf_dispose(&host);
    return rc;
}

int kh_host_path(const kh_audit_ctx *c, const char *path, kh_buf *out)
{
    return resolve(c, path, 1, out);
}

static int do_stat(const kh_audit_ctx *c, const char *path, struct stat *st, int follow)
{
    kh_buf b = KH_BUF_INIT(PATH_MAX * 8);
    int rc = resolve(c, path, follow, &b);
    if (rc == 0 && (follow && !c->root ? stat(b.data, st) : lstat(b.data, st)) != 0)
        rc = kh_errno_to_kh(errno);
    kh_buf_dispose(&b);
    return rc;
}

int kh_host_stat(const kh_audit_ctx *c, const char *path, struct stat *st)
{
    return do_stat(c, path, st, 1);
}

int kh_host_lstat(const kh_audit_ctx *c, const char *path, struct stat *st)
{
    return do_stat(c, path, st, 0);
}

int kh_host_open(const kh_audit_ctx *c, const char *path)
{
    kh_buf b = KH_BUF_INIT(PATH_MAX * 8);
    int rc = resolve(c, path, 1, &b);
    if (rc) {
        kh_buf_dispose(&b);
        return rc;
    }
    int fd = open(b.data, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (c->root ? O_NOFOLLOW : 0));
    int e = errno;
    kh_buf_dispose(&b);
    if (fd < 0)
        return e == ELOOP ? KH_ELIMIT : kh_errno_to_kh(e);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return KH_EINVAL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/* ---- globs --------------------------------------------------------------- */

int kh_has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of a host directory (caller frees each and the array). */
static int list_host_dir(kh_audit_ctx *c, const char *host, char ***names_out, size_t *n_out)
{
    *names_out = NULL;
    *n_out = 0;
    DIR *d = opendir(host);
    if (!d)
        return kh_errno_to_kh(errno);
    KH_VEC(char *) v = {0};
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (++c->entries > c->o.max_entries) {
            rc = KH_ELIMIT;
            break;
        }
        char *s = kh_strdup(de->d_name);
        if (!s || KH_VEC_RESERVE(v, 1, 1u << 24)) {
            free(s);
            rc = KH_ENOMEM;
            break;
        }
        v.v[v.n++] = s;
    }
    closedir(d);
    if (v.n)
        kh_qsort(v.v, v.n, sizeof(char *), cmp_names);
    *names_out = v.v;
    *n_out = v.n;
    return rc;
}

/* The same for an in-root directory. */
static int list_dir(kh_audit_ctx *c, const char *dir, char ***names_out, size_t *n_out)
{
    kh_buf b = KH_BUF_INIT(PATH_MAX * 8);
    int rc = resolve(c, dir, 1, &b);
    if (rc == 0)
        rc = list_host_dir(c, b.data, names_out, n_out);
    else
        *names_out = NULL, *n_out = 0;
    kh_buf_dispose(&b);
    return rc;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

typedef struct glob_state {
    kh_path_fn fn;
    void *payload;
    int count;
    int stop;
} glob_state;

static int glob_rec(kh_audit_ctx *c, kh_buf *prefix, const char *rest, glob_state *g)
{
    while (*rest == '/')
        rest++;
    if (!*rest) {
        struct stat st;
        if (kh_host_lstat(c, prefix->len ? prefix->data : "/", &st) != 0)
            return 0;
        if (g->count >= MAX_GLOB)
            return KH_ELIMIT;
        g->count++;
        int r = g->fn(c, prefix->len ? prefix->data : "/", g->payload);
        if (r) {
            g->stop = r;
            return r;
        }
        return 0;
    }
    const char *slash = strchr(rest, '/');
    size_t cl = slash ? (size_t)(slash - rest) : strlen(rest);
    char comp[NAME_MAX + 1];
    if (cl > NAME_MAX)
        return 0;
    memcpy(comp, rest, cl);
    comp[cl] = 0;
    const char *after = rest + cl;
    size_t saved = prefix->len;
    if (!kh_has_glob(comp)) {
        int rc = kh_buf_putc(prefix, '/');
        if (!rc)
            rc = kh_buf_puts(prefix, comp);
        if (!rc)
            rc = glob_rec(c, prefix, after, g);
        prefix->len = saved;
        prefix->data[saved] = 0;
        return rc;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = list_dir(c, prefix->len ? prefix->data : "/", &names, &n);
    if (rc == KH_ENOMEM || rc == KH_ELIMIT) {
        free_names(names, n);
        return rc;
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (fnmatch(comp, names[i], FNM_PERIOD) != 0)
            continue;
        rc = kh_buf_putc(prefix, '/');
        if (!rc)
            rc = kh_buf_puts(prefix, names[i]);
        if (!rc)
            rc = glob_rec(c, prefix, after, g);
        prefix->len = saved;
        if (prefix->data)
            prefix->data[saved] = 0;
    }
    free_names(names, n);
    return rc;
}

int kh_host_glob(kh_audit_ctx *c, const char *pattern, kh_path_fn fn, void *payload)
{
    if (!kh_has_glob(pattern)) {
        int r = fn(c, pattern, payload);
        return r ? KH_EUSER : 1;
    }
    kh_buf prefix = KH_BUF_INIT(PATH_MAX * 8);
    kh_buf_puts(&prefix, "");
    glob_state g = {fn, payload, 0, 0};
    int rc = glob_rec(c, &prefix, pattern, &g);
    kh_buf_dispose(&prefix);
    if (g.stop)
        return KH_EUSER;
    return rc < 0 ? rc : g.count;
}

/* ---- walking ------------------------------------------------------------- */

static int walk_rec(kh_audit_ctx *c, kh_buf *path, kh_buf *host, unsigned depth, unsigned max_depth, kh_walk_fn fn,
                    void *payload)
{
    char **names = NULL;
    size_t n = 0;
    int rc = list_host_dir(c, host->data, &names, &n);
    if (rc && rc != KH_ELIMIT && rc != KH_ENOMEM) {
        free_names(names, n);
        return depth == 0 ? rc : 0; /* unreadable sub-folder: skip */
    }
    int lrc = rc;
    rc = 0;
    size_t saved = path->len, hsaved = host->len;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = kh_buf_putc(path, '/')) || (rc = kh_buf_puts(path, names[i])))
            break;
        if ((host->len == 0 || host->data[host->len - 1] != '/') && (rc = kh_buf_putc(host, '/')))
            break;
        if ((rc = kh_buf_puts(host, names[i])))
            break;
        struct stat st;
        if (lstat(host->data, &st) == 0) {
            int r = fn(c, path->data, &st, payload);
            if (r != 0 && r != 1) {
                rc = r;
            } else if (r == 0 && S_ISDIR(st.st_mode) && depth + 1 < max_depth) {
                rc = walk_rec(c, path, host, depth + 1, max_depth, fn, payload);
            }
        }
        path->len = saved;
        path->data[saved] = 0;
        host->len = hsaved;
        host->data[hsaved] = 0;
    }
    free_names(names, n);
    return rc ? rc : lrc;
}

int kh_host_walk(kh_audit_ctx *c, const char *dir, unsigned max_depth, kh_walk_fn fn, void *payload)
{
    kh_buf path = KH_BUF_INIT(PATH_MAX * 8), host = KH_BUF_INIT(PATH_MAX * 8);
    size_t l = strlen(dir);
    while (l > 1 && dir[l - 1] == '/')
        l--;
    int rc = kh_buf_reserve(&path, l + 16);
    if (rc == 0 && !(l == 1 && dir[0] == '/'))
        rc = kh_buf_append(&path, dir, l);
    if (rc == 0)
        rc = resolve(c, path.len ? path.data : "/", 1, &host);
    if (rc == 0)
        rc = walk_rec(c, &path, &host, 0, max_depth ? max_depth : 1, fn, payload);
    kh_buf_dispose(&path);
    kh_buf_dispose(&host);
    return rc;
}

/* ---- reading --------------------------------------------------------------- */

int kh_host_read_lines(kh_audit_ctx *c, const char *path, kh_line_fn fn, void *payload)
{
    int fd = kh_host_open(c, path);
    if (fd < 0)
        return fd;
    char buf[65536];
    kh_buf line = KH_BUF_INIT(MAX_LINE + 16);
    uint64_t total = 0;
    unsigned lineno = 0;
    int rc = 0, skipping = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = KH_EIO;
            break;
        }
        if (r == 0)
            break;
        if (total + (uint64_t)r > c->o.max_file_size)
            r = (ssize_t)(c->o.max_file_size - total);
        total += (uint64_t)r;
        for (ssize_t i = 0; i < r && rc == 0; i++) {
            if (buf[i] == '\n') {
                lineno++;
                size_t n = line.len;
                if (n && line.data[n - 1] == '\r')
                    n--;
                rc = fn(payload, line.data ? line.data : "", n, lineno);
                kh_buf_clear(&line);
                skipping = 0;
                continue;
            }
            if (skipping)
                continue;
            if (line.len >= MAX_LINE) {
                skipping = 1;
                continue;
            }
            if (kh_buf_putc(&line, buf[i]))
                skipping = 1;
        }
        if (rc || total >= c->o.max_file_size)
            break;
    }
    if (rc == 0 && line.len) {
        size_t n = line.len;
        if (n && line.data[n - 1] == '\r')
            n--;
        rc = fn(payload, line.data, n, ++lineno);
    }
    kh_buf_dispose(&line);
    close(fd);
    return rc;
}

int kh_host_world_readable(kh_audit_ctx *c, const char *path, const struct stat *st)
{
    if (!(st->st_mode & S_IROTH))
        return 0;
    char dir[PATH_MAX];
    size_t l = strlen(path);
    if (l >= sizeof(dir))
        return 0;
    memcpy(dir, path, l + 1);
    for (;;) {
        char *sl = strrchr(dir, '/');
        if (!sl || sl == dir)
            return 1; /* "/" itself (or the root folder of an image) is not judged */
        *sl = 0;
        struct stat ds;
        if (kh_host_stat(c, dir, &ds) != 0)
            return 0;
        if (!(ds.st_mode & S_IXOTH))
            return 0;
    }
}
