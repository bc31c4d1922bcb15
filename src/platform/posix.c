/* Khiên — platform: POSIX / Linux implementation.
 *
 * File mapping, opening files for scanning, atomic writes and CPU count.
 * Scanning opens files with O_NOATIME when the caller owns them (so a scan
 * does not disturb access times) and falls back silently when not allowed.
 */
#define _GNU_SOURCE
#include "platform/platform.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khien/error.h"
#include "khien/platform.h"

int kh_errno_to_kh(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return KH_ENOENT;
    case EACCES:
    case EPERM:
        return KH_EACCES;
    case ENOMEM:
        return KH_ENOMEM;
    case ELOOP:
    case EINVAL:
        return KH_EINVAL;
    default:
        return KH_EIO;
    }
}

static int map_fd(kh_map *m, int fd, size_t len, int flags)
{
    memset(m, 0, sizeof(*m));
    if (len == 0) {
        static const uint8_t empty[1];
        m->data = empty;
        return 0;
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | flags, fd, 0);
    if (p == MAP_FAILED)
        return kh_errno_to_kh(errno);
    if (!flags)
        madvise(p, len, MADV_SEQUENTIAL | MADV_WILLNEED);
    m->data = p;
    m->len = len;
    m->mapped = 1;
    return 0;
}

int kh_map_fd(kh_map *m, int fd, size_t len) { return map_fd(m, fd, len, 0); }

void kh_map_release(kh_map *m)
{
    if (m->mapped && m->data)
        munmap((void *)m->data, m->len);
    memset(m, 0, sizeof(*m));
}

void kh_unmap(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}

/* Opens path for a whole-file read: a regular file of at most limit bytes.
 * O_NONBLOCK: a FIFO in place of the file must not block the open (it is
 * then refused as not regular); regular files ignore the flag. */
static int open_regular(const char *path, uint64_t limit, int *fd_out, size_t *size_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return kh_errno_to_kh(errno);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = kh_errno_to_kh(errno);
    else if (!S_ISREG(st.st_mode))
        rc = KH_EINVAL;
    else if ((uint64_t)st.st_size > limit || (uint64_t)st.st_size >= SIZE_MAX)
        rc = KH_ELIMIT;
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return 0;
}

int kh_map_path(kh_map *m, const char *path, uint64_t limit)
{
    int fd;
    size_t size;
    int rc = open_regular(path, limit, &fd, &size);
    if (rc)
        return rc;
    rc = kh_map_fd(m, fd, size);
    close(fd);
    return rc;
}

int kh_read_path(const char *path, uint64_t limit, kh_buf *b)
{
    kh_buf_clear(b);
    int fd;
    size_t size;
    int rc = open_regular(path, limit, &fd, &size);
    if (rc)
        return rc;
    rc = kh_buf_reserve(b, size + 1);
    if (!rc)
        b->data[b->len] = 0; /* an empty file is "" */
    while (!rc) {
        size_t want = b->cap - b->len - 1;
        ssize_t n = read(fd, b->data + b->len, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = kh_errno_to_kh(errno);
        if (n <= 0)
            break;
        b->len += (size_t)n;
        b->data[b->len] = 0;
        if ((size_t)n < want)
            break; /* a regular file read short: its end (no second read to hear it) */
        if (b->len + 1 == b->cap && (uint64_t)b->len < limit)
            rc = kh_buf_reserve(b, 65536); /* the file grew */
        else if (b->len + 1 == b->cap)
            rc = KH_ELIMIT;
    }
    close(fd);
    return rc;
}

void *kh_alloc_zeroed(size_t bytes, int *mapped)
{
    *mapped = 0;
    if (bytes >= KH_ALLOC_MAP_MIN) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p != MAP_FAILED) {
            *mapped = 1;
            return p;
        }
    }
    return calloc(1, bytes ? bytes : 1);
}

void kh_free_zeroed(void *p, size_t bytes, int mapped)
{
    if (mapped)
        munmap(p, bytes);
    else
        free(p);
}

int kh_bigbuf_reserve(kh_bigbuf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    if (n > SIZE_MAX - 2 * (size_t)KH_BIGBUF_ALIGN)
        return KH_ENOMEM;
    size_t cap = (n + KH_BIGBUF_ALIGN - 1) & ~(size_t)(KH_BIGBUF_ALIGN - 1);
    /* Over-map by one alignment unit and cut the ends off to land on a
     * 2 MiB boundary (mmap only promises page alignment). */
    uint8_t *p = mmap(NULL, cap + KH_BIGBUF_ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return KH_ENOMEM;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + KH_BIGBUF_ALIGN - 1) & ~(uintptr_t)(KH_BIGBUF_ALIGN - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (a + cap < p + cap + KH_BIGBUF_ALIGN)
        munmap(a + cap, (size_t)(p + cap + KH_BIGBUF_ALIGN - (a + cap)));
    madvise(a, cap, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
    if (b->data)
        munmap(b->data, b->cap);
    b->data = a;
    b->cap = cap;
    return 0;
}

void kh_bigbuf_trim(kh_bigbuf *b, size_t keep)
{
    size_t from = (keep + KH_BIGBUF_ALIGN - 1) & ~(size_t)(KH_BIGBUF_ALIGN - 1);
    if (b->data && from < b->cap)
        madvise(b->data + from, b->cap - from, MADV_DONTNEED);
}

void kh_bigbuf_free(kh_bigbuf *b)
{
    if (b->data)
        munmap(b->data, b->cap);
    b->data = NULL;
    b->cap = 0;
}

unsigned kh_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > 1024 ? 1024u : (unsigned)n;
}

int kh_open_scan(int dirfd, const char *name, int nofollow)
{
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0);
    int fd = openat(dirfd, name, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = openat(dirfd, name, flags);
    return fd < 0 ? -errno : fd;
}

int kh_write_atomic(const char *path, const void *data, size_t len)
{
    return kh_write_atomic_mode(path, data, len, 0600);
}

int kh_write_atomic_mode(const char *path, const void *data, size_t len, unsigned mode)
{
    return kh_platform_write_durable(path, data, len, mode); /* durable.c: the one implementation */
}

int kh_mkdir_p(const char *dir, unsigned mode)
{
    return kh_platform_mkdir_p(dir, mode);
}

void *kh_module_sym(const char *file, const char *sym, char *err, size_t errlen)
{
    char self[PATH_MAX], path[PATH_MAX + 256];
    if (!file || !sym || strchr(file, '/')) {
        kh_errf(err, errlen, KH_EINVAL, "bad module name");
        return NULL;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        kh_errf(err, errlen, KH_EIO, "cannot find the running program: %s", strerror(errno));
        return NULL;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    /* Beside the program (a build folder), else in ../lib/khien (an
     * installed program: /usr/local/bin/khien, /usr/local/lib/khien/). */
    static const char *const where[] = {"/", "/../lib/khien/"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]) && !h; i++) {
        if (snprintf(path, sizeof(path), "%s%s%s", slash ? self : ".", where[i], file) >= (int)sizeof(path)) {
            kh_errf(err, errlen, KH_ELIMIT, "path too long");
            return NULL;
        }
        if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
            const char *e = dlerror();
            kh_errf(err, errlen, KH_ENOENT, "%s", e ? e : path);
        }
    }
    if (!h)
        return NULL;
    void *p = dlsym(h, sym);
    if (!p)
        kh_errf(err, errlen, KH_ENOENT, "%s: no symbol %s", path, sym);
    return p;
}

void kh_self_id(char *out, size_t n)
{
    struct stat st;
    if (n == 0)
        return;
    out[0] = 0;
    if (stat("/proc/self/exe", &st) == 0)
        snprintf(out, n, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int kh_dir_read(int dfd, void *buf, size_t buflen, kh_dir_fn fn, void *ud)
{
    if (dfd < 0 || !buf || buflen < 4096 || ((uintptr_t)buf & 7u) || !fn)
        return KH_EINVAL;
    for (;;) {
        ssize_t nread = getdents64(dfd, buf, buflen);
        if (nread < 0 && errno == EINTR)
            continue;
        if (nread < 0)
            return kh_errno_to_kh(errno);
        if (nread == 0)
            return 0;
        for (ssize_t at = 0; at < nread;) {
            const struct dirent64 *de = (const struct dirent64 *)((const char *)buf + at);
            at += de->d_reclen;
            if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                continue;
            unsigned t = de->d_type == DT_REG   ? KH_DT_REG
                         : de->d_type == DT_DIR ? KH_DT_DIR
                         : de->d_type == DT_LNK ? KH_DT_LNK
                         : de->d_type == DT_UNKNOWN ? KH_DT_UNKNOWN
                                                    : KH_DT_OTHER;
            int rc = fn(ud, de->d_name, t);
            if (rc)
                return rc;
        }
    }
}

void kh_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
