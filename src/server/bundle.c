/* Khiên — server/bundle: the payload inside signed bundles.
 *
 * A bundle carries whole files (signature databases, audit policies, the
 * agent policy), each with its SHA-256 so the receiver can apply only what
 * changed. Names are checked on both sides: a bundle can never name a path
 * outside the folder it is unpacked into.
 */
#include "server/bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "khien/error.h"

int kh_bundle_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int kh_bundle_file_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 200 || strchr(name, '/') || strchr(name, '\\') || strcmp(name, ".") == 0 || strstr(name, ".."))
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int kh_bundle_build(char **env, char sha256_hex[65], const char *name, int64_t version, json_t *files,
                    const uint8_t sk[KH_SIGN_SK_BYTES], char *err, size_t errsz)
{
    if (!kh_bundle_name_ok(name)) {
        snprintf(err, errsz, "tên gói không hợp lệ / invalid bundle name (a-z, 0-9, _ and -, 1-64)");
        return KH_EINVAL;
    }
    if (!json_is_array(files) || json_array_size(files) == 0 || json_array_size(files) > KH_BUNDLE_FILES_MAX) {
        snprintf(err, errsz, "cần 1..%d tệp / 1..%d files expected", KH_BUNDLE_FILES_MAX, KH_BUNDLE_FILES_MAX);
        return KH_EINVAL;
    }
    json_t *out = json_array(), *seen = json_object();
    size_t i, total = 0;
    json_t *f;
    int rc = 0;
    json_array_foreach(files, i, f)
    {
        const char *fn = json_string_value(json_object_get(f, "name"));
        const char *data = json_string_value(json_object_get(f, "data"));
        uint8_t *bytes = NULL;
        size_t blen = 0;
        if (!fn || !kh_bundle_file_name_ok(fn) || json_object_get(seen, fn)) {
            snprintf(err, errsz, "tên tệp không hợp lệ hoặc trùng / invalid or duplicate file name in bundle");
            rc = KH_EINVAL;
            break;
        }
        if (!data || kh_sign_b64_decode(&bytes, &blen, data, strlen(data)) < 0) {
            snprintf(err, errsz, "dữ liệu tệp '%s' không phải base64 / data of file '%s' is not base64", fn, fn);
            rc = KH_EINVAL;
            break;
        }
        total += blen;
        if (total > KH_BUNDLE_MAX / 2) {
            free(bytes);
            snprintf(err, errsz, "gói quá lớn / bundle too large");
            rc = KH_ELIMIT;
            break;
        }
        char h[65];
        kh_sign_sha256_hex(h, bytes, blen);
        free(bytes);
        json_object_set_new(seen, fn, json_true());
        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:s}", "name", fn, "sha256", h, "size", (json_int_t)blen,
                                             "data", data));
    }
    json_decref(seen);
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *payload = json_pack("{s:s, s:s, s:I, s:s, s:o}", "kind", "bundle", "name", name, "version",
                                (json_int_t)version, "created", created, "files", out);
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (!text)
        return KH_ENOMEM;
    size_t elen = 0;
    char *e = NULL;
    rc = kh_bundle_seal(&e, &elen, text, strlen(text), sk);
    free(text);
    if (rc < 0) {
        snprintf(err, errsz, "không ký được gói / cannot sign the bundle: %s", kh_strerror(rc));
        return rc;
    }
    kh_sign_sha256_hex(sha256_hex, e, elen);
    *env = e;
    return 0;
}

int kh_bundle_read(json_t **payload_out, const char *env, size_t len, const uint8_t pk[KH_SIGN_PK_BYTES], char *err,
                   size_t errsz)
{
    uint8_t *pl = NULL;
    size_t plen = 0;
    int rc = kh_bundle_open(&pl, &plen, env, len, pk, err, errsz);
    if (rc < 0)
        return rc;
    json_t *p = json_loadb((const char *)pl, plen, JSON_REJECT_DUPLICATES, NULL);
    free(pl);
    json_t *files = json_object_get(p, "files");
    if (!json_is_object(p) || !json_is_array(files) || !kh_bundle_name_ok(json_string_value(json_object_get(p, "name")))) {
        snprintf(err, errsz, "nội dung gói không hợp lệ / invalid bundle payload");
        json_decref(p);
        return KH_EFORMAT;
    }
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *fn = json_string_value(json_object_get(f, "name"));
        const char *data = json_string_value(json_object_get(f, "data"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        uint8_t *bytes = NULL;
        size_t blen = 0;
        char h[65];
        if (!fn || !kh_bundle_file_name_ok(fn) || !data || !sha || kh_sign_b64_decode(&bytes, &blen, data, strlen(data)) < 0) {
            snprintf(err, errsz, "tệp trong gói không hợp lệ / invalid file entry in the bundle");
            json_decref(p);
            return KH_EFORMAT;
        }
        kh_sign_sha256_hex(h, bytes, blen);
        free(bytes);
        if (strcmp(h, sha) != 0) {
            snprintf(err, errsz, "SHA-256 của tệp '%s' không khớp / SHA-256 of file '%s' does not match", fn, fn);
            json_decref(p);
            return KH_EFORMAT;
        }
    }
    *payload_out = p;
    return 0;
}
