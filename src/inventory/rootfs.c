/* Khiên — inventory: bounded reads of a host's files under a root prefix.
 *
 * The inventory reads hundreds of small files from /proc, /sys and /etc and
 * a few large ones (dpkg's status database). Files in /proc and /sys report
 * a size of 0, so nothing here trusts st_size: files are read in a loop
 * into a kh_buf whose ceiling is the caller's limit. Folder listings are
 * sorted so that everything built from them comes out in a stable order.
 * See rootfs.h for the meaning of the root prefix.
 */
#include "inventory/rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khien/platform.h"
#include "platform/platform.h"

#define KH_ROOT_DEFAULT_LIMIT (64u << 20)
#define KH_ROOT_MAX_NAMES 100000

int kh_root_is_host(const char *root)
{
    return !root || !*root || strcmp(root, "/") == 0;
}

int kh_root_path(kh_buf *out, const char *root, const char *path)
{
    kh_buf_clear(out);
    int rc = 0;
    if (!kh_root_is_host(root)) {
        size_t n = strlen(root);
        while (n > 1 && root[n - 1] == '/')
            n--;
        rc = kh_buf_append(out, root, n);
        if (!rc && path[0] != '/')
            rc = kh_buf_putc(out, '/');
    }
    if (!rc)
        rc = kh_buf_puts(out, path);
    if (!rc && out->len >= PATH_MAX)
        rc = KH_ELIMIT;
    return rc;
}

int kh_root_read(const char *root, const char *path, size_t limit, kh_buf *out)
{
    kh_buf p = KH_BUF_INIT(PATH_MAX);
    int rc = kh_root_path(&p, root, path);
    if (rc) {
        kh_buf_dispose(&p);
        return rc;
    }
    int fd = open(p.data, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    kh_buf_dispose(&p);
    if (fd < 0)
        return kh_errno_to_kh(errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return KH_EIO;
    }
    if (!limit)
        limit = KH_ROOT_DEFAULT_LIMIT;
    kh_buf_clear(out);
    size_t saved = out->limit;
    out->limit = limit + 1; /* one byte more than allowed tells "too big" */
    for (;;) {
        size_t want = KH_MIN(limit + 1 - out->len, (size_t)65536);
        if (want == 0) {
            rc = KH_ELIMIT;
            break;
        }
        if ((rc = kh_buf_reserve(out, want)) != 0)
            break;
        ssize_t r = read(fd, out->data + out->len, want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = kh_errno_to_kh(errno);
            break;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
        out->data[out->len] = 0;
    }
    out->limit = saved;
    close(fd);
    return rc;
}

char *kh_root_read_line(const char *root, const char *path)
{
    kh_buf b = KH_BUF_INIT(0);
    char *s = NULL;
    if (kh_root_read(root, path, 1u << 20, &b) == 0) {
        size_t n = strcspn(b.data, "\n");
        const char *t = kh_trim(b.data, &n);
        if (n)
            s = kh_strndup(t, n);
    }
    kh_buf_dispose(&b);
    return s;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void kh_root_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int kh_root_list(const char *root, const char *dir, char ***names_out, size_t *n_out)
{
    kh_buf p = KH_BUF_INIT(PATH_MAX);
    int rc = kh_root_path(&p, root, dir);
    if (rc) {
        kh_buf_dispose(&p);
        return rc;
    }
    DIR *d = opendir(p.data);
    kh_buf_dispose(&p);
    if (!d)
        return kh_errno_to_kh(errno);
    KH_VEC(char *) v = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((rc = KH_VEC_RESERVE(v, 1, KH_ROOT_MAX_NAMES)) != 0)
            break;
        if (!(v.v[v.n] = kh_strdup(e->d_name))) {
            rc = KH_ENOMEM;
            break;
        }
        v.n++;
    }
    closedir(d);
    if (rc) {
        kh_root_names_free(v.v, v.n);
        return rc;
    }
    if (v.n)
        kh_qsort(v.v, v.n, sizeof(*v.v), cmp_names);
    *names_out = v.v;
    *n_out = v.n;
    return 0;
}

char *kh_root_readlink(const char *root, const char *path)
{
    kh_buf p = KH_BUF_INIT(PATH_MAX);
    char *s = NULL;
    if (kh_root_path(&p, root, path) == 0) {
        char tmp[PATH_MAX];
        ssize_t n = readlink(p.data, tmp, sizeof(tmp) - 1);
        if (n >= 0)
            s = kh_strndup(tmp, (size_t)n);
    }
    kh_buf_dispose(&p);
    return s;
}

static int kind_of(const char *root, const char *path, int follow)
{
    kh_buf p = KH_BUF_INIT(PATH_MAX);
    int k = KH_ROOT_NONE;
    struct stat st;
    if (kh_root_path(&p, root, path) == 0 && (follow ? stat(p.data, &st) : lstat(p.data, &st)) == 0)
        k = S_ISREG(st.st_mode) ? KH_ROOT_FILE
            : S_ISDIR(st.st_mode) ? KH_ROOT_DIR
            : S_ISLNK(st.st_mode) ? KH_ROOT_LINK
                                  : KH_ROOT_OTHER;
    kh_buf_dispose(&p);
    return k;
}

int kh_root_kind(const char *root, const char *path) { return kind_of(root, path, 1); }
int kh_root_lkind(const char *root, const char *path) { return kind_of(root, path, 0); }

const char *kh_next_line(const char *text, size_t size, size_t *pos, size_t *len)
{
    if (*pos >= size)
        return NULL;
    const char *s = text + *pos;
    const char *nl = memchr(s, '\n', size - *pos);
    size_t n = nl ? (size_t)(nl - s) : size - *pos;
    *pos += n + (nl ? 1 : 0);
    *len = n;
    return s;
}

const char *kh_trim(const char *s, size_t *n)
{
    size_t a = 0, b = *n;
    while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r'))
        a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
        b--;
    *n = b - a;
    return s + a;
}

int kh_path_join(char *out, size_t n, const char *dir, const char *name)
{
    return kh_platform_path_join(out, n, dir, name);
}

char *kh_osrelease_value(const char *text, size_t len, const char *key)
{
    size_t pos = 0, n, kl = strlen(key);
    const char *line;
    while ((line = kh_next_line(text, len, &pos, &n)) != NULL) {
        if (n <= kl || memcmp(line, key, kl) != 0 || line[kl] != '=')
            continue;
        size_t vn = n - kl - 1;
        const char *v = kh_trim(line + kl + 1, &vn);
        kh_buf b = KH_BUF_INIT(4096);
        char q = vn && (v[0] == '"' || v[0] == '\'') ? v[0] : 0;
        for (size_t i = q ? 1 : 0; i < vn; i++) {
            if (q && v[i] == q)
                break;
            if (q == '"' && v[i] == '\\' && i + 1 < vn)
                i++;
            kh_buf_putc(&b, v[i]);
        }
        return kh_buf_detach(&b, NULL);
    }
    return NULL;
}

char *kh_osrelease_get(const char *root, const char *key)
{
    kh_buf b = KH_BUF_INIT(0);
    char *v = NULL;
    if (kh_root_read(root, "/etc/os-release", 1u << 20, &b) == 0 ||
        kh_root_read(root, "/usr/lib/os-release", 1u << 20, &b) == 0)
        v = kh_osrelease_value(b.data, b.len, key);
    kh_buf_dispose(&b);
    return v;
}
