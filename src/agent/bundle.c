/* Khiên — agent/bundle: installing signed bundles from the centre.
 *
 * A bundle (signature set, agent policy, audit policies, advisories) arrives
 * as the envelope of net/sign.h. Nothing inside is looked at before the
 * Ed25519 signature has been checked with the public key the agent received
 * at enrollment: a tampered bundle, or one signed by another key, is refused
 * and the installed version stays in use. The payload is JSON:
 *   {"kind", "name", "version", "created", "files": [{"name", "sha256", "data" (base64)}]}
 * Its name must be the name asked for (a valid bundle cannot be replayed
 * under another name) and a numeric version may not go backwards (no
 * downgrade to an older, validly signed set).
 *
 * Installed layout: DIR/bundles/NAME/files/FILE, DIR/bundles/NAME/manifest.json
 * (kind, version, file -> sha256) and DIR/bundles/NAME/bundle.json (the last
 * good envelope, kept so that `khien bundle verify` can check it again).
 * Only files whose hash differs from the manifest are rewritten; files that
 * left the bundle are removed. The manifest is written last, so an
 * interrupted install is finished by the next one.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "khien/error.h"
#include "util/util.h"

#define MAX_FILES 10000
#define MAX_NAME 200

/* Bundle and file names: letters, digits, '.', '_', '-'; not starting with '.'. */
static int safe_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MAX_NAME || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int kh_agent_bundle_files_dir(char *out, size_t n, const char *dir, const char *name)
{
    if (!safe_name(name))
        return KH_EINVAL;
    int w = snprintf(out, n, "%s/bundles/%s/files", dir, name);
    return w < 0 || (size_t)w >= n ? KH_ELIMIT : 0;
}

static int bundle_dir(char *out, size_t n, const char *dir, const char *name)
{
    int w = snprintf(out, n, "%s/bundles/%s", dir, name);
    return w < 0 || (size_t)w >= n ? KH_ELIMIT : 0;
}

static json_t *load_manifest(const char *dir, const char *name)
{
    char p[4096];
    if (bundle_dir(p, sizeof(p), dir, name) < 0 || strlen(p) + 16 > sizeof(p))
        return NULL;
    strcat(p, "/manifest.json");
    return kh_agent_json_read(p, 8 << 20);
}

static void version_text(char *out, size_t n, const json_t *v)
{
    if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else
        snprintf(out, n, "%s", "");
}

int kh_agent_bundle_current(const char *dir, const char *name, char *version, size_t vn, char *tag, size_t tn)
{
    if (vn)
        version[0] = 0;
    if (tn)
        tag[0] = 0;
    if (!safe_name(name))
        return -1;
    json_t *m = load_manifest(dir, name);
    if (!m)
        return -1;
    version_text(version, vn, json_object_get(m, "version"));
    const char *s = kh_agent_json_str(m, "tag");
    if (tn)
        snprintf(tag, tn, "%s", s ? s : "");
    json_decref(m);
    return 0;
}

static int mkdirs(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/bundles", dir);
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return KH_EIO;
    snprintf(p, sizeof(p), "%s/bundles/%s", dir, name);
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return KH_EIO;
    snprintf(p, sizeof(p), "%s/bundles/%s/files", dir, name);
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return KH_EIO;
    return 0;
}

int kh_agent_bundle_apply(const char *dir, const char *name, const char *envelope, size_t len,
                          const uint8_t pk[KH_SIGN_PK_BYTES], const char *tag, unsigned *changed_out, char *err,
                          size_t errsz)
{
    uint8_t *payload = NULL;
    size_t plen = 0;
    json_t *j = NULL, *old = NULL, *newfiles = NULL;
    unsigned changed = 0;
    int rc;
    char e2[512] = "";
    if (!safe_name(name)) {
        snprintf(err, errsz, "tên gói không hợp lệ / bad bundle name: %.100s", name ? name : "");
        return KH_EINVAL;
    }
    if ((rc = kh_bundle_open(&payload, &plen, envelope, len, pk, e2, sizeof(e2))) < 0) {
        snprintf(err, errsz,
                 "gói '%s' bị từ chối: chữ ký không hợp lệ, giữ bản tốt trước đó / bundle '%s' refused (%s); the "
                 "last good version stays in use",
                 name, name, e2[0] ? e2 : kh_strerror(rc));
        return rc == KH_ENOMEM ? rc : KH_EACCES;
    }
    json_error_t je;
    j = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, &je);
    const char *pname = kh_agent_json_str(j, "name");
    json_t *files = json_object_get(j, "files");
    if (!j || !json_is_object(j) || !pname || !json_is_array(files) || json_array_size(files) > MAX_FILES) {
        snprintf(err, errsz, "gói '%s' có nội dung sai định dạng / bundle '%s' has a malformed payload", name, name);
        rc = KH_EFORMAT;
        goto done;
    }
    if (strcmp(pname, name) != 0) {
        snprintf(err, errsz, "gói '%s' thực ra là gói '%.100s' / bundle '%s' is really '%.100s': refused", name, pname,
                 name, pname);
        rc = KH_EACCES;
        goto done;
    }
    old = load_manifest(dir, name);
    json_t *oldv = json_object_get(old, "version"), *newv = json_object_get(j, "version");
    if (json_is_integer(oldv) && json_is_integer(newv) && json_integer_value(newv) < json_integer_value(oldv)) {
        snprintf(err, errsz,
                 "gói '%s' phiên bản %lld cũ hơn bản đang dùng %lld: từ chối / bundle '%s' version %lld is older than "
                 "the installed %lld: refused",
                 name, (long long)json_integer_value(newv), (long long)json_integer_value(oldv), name,
                 (long long)json_integer_value(newv), (long long)json_integer_value(oldv));
        rc = KH_EACCES;
        goto done;
    }
    json_t *oldfiles = json_object_get(old, "files");
    /* Check every file entry before touching the disk. */
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *fn = kh_agent_json_str(f, "name"), *data = kh_agent_json_str(f, "data");
        if (!safe_name(fn) || !data) {
            snprintf(err, errsz, "gói '%s': tên tệp không hợp lệ / bundle '%s': bad file name '%.100s'", name, name,
                     fn ? fn : "");
            rc = KH_EFORMAT;
            goto done;
        }
    }
    if ((rc = mkdirs(dir, name)) < 0) {
        snprintf(err, errsz, "không tạo được thư mục gói / cannot create the bundle folder under %s", dir);
        goto done;
    }
    char fdir[3500], path[4096];
    kh_agent_bundle_files_dir(fdir, sizeof(fdir), dir, name);
    newfiles = json_object();
    if (!newfiles) {
        rc = KH_ENOMEM;
        goto done;
    }
    json_array_foreach(files, i, f) {
        const char *fn = kh_agent_json_str(f, "name"), *data = kh_agent_json_str(f, "data");
        const char *sha = kh_agent_json_str(f, "sha256");
        char key[80];
        snprintf(key, sizeof(key), "%s", sha ? sha : "");
        if (!sha) /* no hash given: the data itself decides (compared below) */
            snprintf(key, sizeof(key), "len:%zu", strlen(data));
        json_object_set_new(newfiles, fn, json_string(key));
        snprintf(path, sizeof(path), "%s/%s", fdir, fn);
        const char *had = kh_agent_json_str(oldfiles, fn);
        if (sha && had && strcmp(had, key) == 0 && access(path, F_OK) == 0)
            continue; /* unchanged */
        uint8_t *bin = NULL;
        size_t blen = 0;
        if ((rc = kh_sign_b64_decode(&bin, &blen, data, strlen(data))) < 0) {
            snprintf(err, errsz, "gói '%s': dữ liệu tệp '%s' hỏng / bundle '%s': bad data for '%s'", name, fn, name,
                     fn);
            goto done;
        }
        rc = kh_platform_write_durable(path, bin, blen, 0600);
        free(bin);
        if (rc < 0) {
            snprintf(err, errsz, "không ghi được / cannot write %s", path);
            goto done;
        }
        changed++;
    }
    /* Files that left the bundle. */
    DIR *d = opendir(fdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || json_object_get(newfiles, de->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", fdir, de->d_name);
        if (unlink(path) == 0)
            changed++;
    }
    if (d)
        closedir(d);
    /* The envelope (last good) and then the manifest. */
    bundle_dir(path, sizeof(path), dir, name);
    strcat(path, "/bundle.json");
    if ((rc = kh_platform_write_durable(path, envelope, len, 0600)) < 0) {
        snprintf(err, errsz, "không ghi được / cannot write %s", path);
        goto done;
    }
    json_t *m = json_pack("{s:s, s:s, s:O, s:O, s:s}", "name", name, "kind",
                          kh_agent_json_str(j, "kind") ? kh_agent_json_str(j, "kind") : "", "version",
                          newv ? newv : json_null(), "files", newfiles, "tag", tag ? tag : "");
    if (!m) {
        rc = KH_ENOMEM;
        goto done;
    }
    bundle_dir(path, sizeof(path), dir, name);
    strcat(path, "/manifest.json");
    rc = kh_agent_json_write(path, m, 0600);
    json_decref(m);
    if (rc < 0) {
        snprintf(err, errsz, "không ghi được / cannot write %s", path);
        goto done;
    }
    if (changed_out)
        *changed_out = changed;
    rc = 0;
done:
    json_decref(newfiles);
    json_decref(old);
    json_decref(j);
    free(payload);
    return rc;
}
