/* Khiên — platform/durable: the public durable write, folders and paths
 * (include/khien/platform.h), for libkhien and for the programs above it.
 *
 * Temporary names carry the process id and a per-process counter, so two
 * threads or two processes writing the same target never share one; the
 * temporary file is created exclusively (O_EXCL, O_NOFOLLOW) and removed on
 * any failure, leaving the old file in place.
 */
#define _GNU_SOURCE
#include "khien/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khien/error.h"
#include "platform/platform.h"

KH_API int kh_platform_sync_parent(const char *path)
{
    if (!path || !*path)
        return KH_EINVAL;
    char *copy = strdup(path);
    if (!copy)
        return KH_ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return kh_errno_to_kh(errno);
    int rc = fsync(fd) == 0 ? 0 : KH_EIO;
    close(fd);
    return rc;
}

KH_API int kh_platform_write_durable(const char *path, const void *data, size_t len, unsigned mode)
{
    static unsigned long counter;
    if (!path || !*path || (len && !data))
        return KH_EINVAL;
    char tmp[PATH_MAX];
    unsigned long k = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%lu", path, (long)getpid(), k) >= (int)sizeof(tmp))
        return KH_ELIMIT;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)(mode & 07777));
    if (fd < 0)
        return kh_errno_to_kh(errno);
    const uint8_t *p = data;
    size_t left = len;
    int e = 0;
    while (left && !e) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            e = w < 0 ? errno : EIO;
        else {
            p += w;
            left -= (size_t)w;
        }
    }
    if (!e && (fchmod(fd, (mode_t)(mode & 07777)) != 0 || fsync(fd) != 0))
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return e == EACCES || e == EPERM ? KH_EACCES : KH_EIO;
    }
    return kh_platform_sync_parent(path);
}

KH_API int kh_platform_mkdir_p(const char *dir, unsigned mode)
{
    char buf[PATH_MAX];
    size_t n = dir ? strlen(dir) : 0;
    if (n == 0 || n >= sizeof(buf))
        return KH_EINVAL;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
                return kh_errno_to_kh(errno);
            buf[i] = c;
        }
    }
    return 0;
}

KH_API int kh_platform_path_join(char *out, size_t n, const char *dir, const char *name)
{
    if (!out || n == 0 || !dir || !name)
        return KH_EINVAL;
    int k = snprintf(out, n, "%s/%s", dir, name);
    return k < 0 || (size_t)k >= n ? KH_ELIMIT : 0;
}
