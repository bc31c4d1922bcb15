/* Khiên — agent/state: the agent's state folder and its small files.
 *
 * Everything the agent must remember across restarts lives in one folder
 * (mode 0700, root's by default): the enrollment (agent.json), the pinned CA,
 * the client key and certificate, task run times, the last inventory, the
 * last good bundles and the event queue. Every file is replaced atomically
 * with libkhien's kh_platform_write_durable() (temporary file, fsync,
 * rename, folder fsync), so a crash or power cut leaves either the old or
 * the new version, never half of one. Reads are
 * bounded. Also here: log formatting, ISO times and event ids.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "khien/common.h"
#include "khien/error.h"
#include "util/util.h"

void kh_agent_logf(const kh_agent_log *l, int level, const char *fmt, ...)
{
    if (!l || !l->cb)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->cb(level, msg, l->payload);
}

int kh_agent_read_file(const char *path, size_t max, char **out, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? KH_ENOENT : errno == EACCES ? KH_EACCES : KH_EIO;
    kh_buf b = KH_BUF_INIT(max + 1);
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = KH_EIO;
            break;
        }
        if (r == 0)
            break;
        if (b.len + (size_t)r > max) {
            rc = KH_ELIMIT;
            break;
        }
        if ((rc = kh_buf_append(&b, chunk, (size_t)r)) < 0)
            break;
    }
    close(fd);
    if (!rc && !b.data)
        rc = kh_buf_reserve(&b, 1);
    if (rc) {
        kh_buf_dispose(&b);
        return rc;
    }
    *out = kh_buf_detach(&b, len_out);
    return 0;
}

int kh_agent_state_dir(const char *dir, char *err, size_t errsz)
{
    if (kh_platform_mkdir_p(dir, 0700) != 0) {
        snprintf(err, errsz, "không tạo được thư mục trạng thái / cannot create the state folder %s: %s", dir,
                 strerror(errno));
        return errno == EACCES ? KH_EACCES : KH_EIO;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "không phải thư mục / not a folder: %s", dir);
        return KH_EIO;
    }
    if ((st.st_mode & 0077) && chmod(dir, st.st_mode & 0700) != 0) {
        snprintf(err, errsz, "thư mục trạng thái mở cho người khác / the state folder %s is open to others: %s", dir,
                 strerror(errno));
        return KH_EACCES;
    }
    return 0;
}

const char *kh_agent_json_str(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int kh_agent_json_write(const char *path, json_t *j, unsigned mode)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return KH_ENOMEM;
    int rc = kh_platform_write_durable(path, text, strlen(text), mode);
    free(text);
    return rc;
}

json_t *kh_agent_json_read(const char *path, size_t max)
{
    char *text;
    size_t len;
    if (kh_agent_read_file(path, max, &text, &len) != 0)
        return NULL;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    return j;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

int kh_agent_conf_load(kh_agent_conf *c, const char *dir, char *err, size_t errsz)
{
    char path[4096];
    memset(c, 0, sizeof(*c));
    if (kh_platform_path_join(path, sizeof(path), dir, "agent.json") < 0)
        return KH_ELIMIT;
    if (access(path, F_OK) != 0) {
        snprintf(err, errsz,
                 "máy này chưa đăng ký với trung tâm (chạy 'khien agent enroll') / this host is not enrolled "
                 "(run 'khien agent enroll'): %s",
                 path);
        return KH_ENOENT;
    }
    json_t *j = kh_agent_json_read(path, 1 << 20);
    if (!j || !kh_agent_json_str(j, "server") || !kh_agent_json_str(j, "host_id")) {
        snprintf(err, errsz, "tệp trạng thái hỏng / damaged state file: %s", path);
        json_decref(j);
        return KH_EFORMAT;
    }
    copy_str(c->server, sizeof(c->server), kh_agent_json_str(j, "server"));
    copy_str(c->host_id, sizeof(c->host_id), kh_agent_json_str(j, "host_id"));
    copy_str(c->unit, sizeof(c->unit), kh_agent_json_str(j, "unit"));
    copy_str(c->hostname, sizeof(c->hostname), kh_agent_json_str(j, "hostname"));
    copy_str(c->ca_sha256, sizeof(c->ca_sha256), kh_agent_json_str(j, "ca_sha256"));
    const char *pk = kh_agent_json_str(j, "bundle_public_key");
    c->has_sign_pk = pk && strlen(pk) == 2 * KH_SIGN_PK_BYTES && kh_sign_hex2bin(c->sign_pk, KH_SIGN_PK_BYTES, pk) == 0;
    json_decref(j);
    return 0;
}

int kh_agent_conf_save(const kh_agent_conf *c, const char *dir)
{
    char path[4096], pk[2 * KH_SIGN_PK_BYTES + 1] = "";
    if (kh_platform_path_join(path, sizeof(path), dir, "agent.json") < 0)
        return KH_ELIMIT;
    if (c->has_sign_pk)
        kh_sign_bin2hex(pk, c->sign_pk, KH_SIGN_PK_BYTES);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "server", c->server, "host_id", c->host_id, "unit",
                          c->unit, "hostname", c->hostname, "ca_sha256", c->ca_sha256, "bundle_public_key", pk,
                          "agent_version", KH_VERSION_STRING);
    if (!j)
        return KH_ENOMEM;
    int rc = kh_agent_json_write(path, j, 0600);
    json_decref(j);
    return rc;
}

void kh_agent_iso_time(char out[32], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int kh_agent_event_id(char out[33])
{
    return kh_sign_random_hex(out, 16);
}
