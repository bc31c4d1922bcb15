/* Khiên — cli: `khien bundle make|verify`, signed bundles moved by hand.
 *
 *   khien bundle make --key DATA/bundle.key --name NAME [--version N] -o OUT FILE...
 *   khien bundle verify --pub HEX|DATA/bundle.pub BUNDLE [--extract DIR]
 *
 * For networks with no connection to the centre (air-gapped): the centre's
 * administrator signs signature sets or policies with the centre's Ed25519
 * key; on the other side `verify` checks the signature and every file's
 * SHA-256 before anything is written, and `--extract` writes the files
 * (names cannot leave DIR). Exit: 0 valid, 1 invalid or tampered, 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "khien/error.h"
#include "net/sign.h"
#include "server/bundle.h"

static char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = malloc(max + 1);
    size_t n = b ? fread(b, 1, max + 1, f) : 0;
    fclose(f);
    if (!b || n > max) {
        free(b);
        errno = EFBIG;
        return NULL;
    }
    b[n] = 0;
    *len = n;
    return b;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int read_hex_key(uint8_t *out, size_t n, const char *arg)
{
    char buf[300];
    size_t len = 0;
    if (strlen(arg) == 2 * n && kh_sign_hex2bin(out, n, arg) == 0)
        return 0;
    char *t = slurp(arg, 1024, &len);
    if (!t)
        return KH_EIO;
    snprintf(buf, sizeof(buf), "%s", t);
    free(t);
    buf[strcspn(buf, "\r\n ")] = 0;
    return kh_sign_hex2bin(out, n, buf);
}

static int bundle_make(int argc, char **argv)
{
    const char *key = NULL, *name = NULL, *out = NULL;
    long long version = 1;
    json_t *files = json_array();
    int rc = KH_EXIT_ERROR;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--key") == 0 && v) {
            key = v;
            i++;
        } else if (strcmp(a, "--name") == 0 && v) {
            name = v;
            i++;
        } else if (strcmp(a, "-o") == 0 && v) {
            out = v;
            i++;
        } else if (strcmp(a, "--version") == 0 && v) {
            char *end = NULL;
            version = strtoll(v, &end, 10);
            if (!end || *end || version < 1) {
                kh_cli_errorf("--version phải là số dương / --version must be a positive number");
                goto done;
            }
            i++;
        } else if (a[0] == '-') {
            kh_cli_errorf("tùy chọn không hợp lệ / invalid option '%s'", a);
            goto done;
        } else {
            size_t len = 0;
            char *data = slurp(a, KH_BUNDLE_MAX / 2, &len);
            if (!data) {
                kh_cli_errorf("không đọc được / cannot read %s: %s", a, strerror(errno));
                goto done;
            }
            char *b64 = NULL;
            int e = kh_sign_b64_encode(&b64, data, len);
            free(data);
            if (e < 0) {
                kh_cli_errorf("%s: %s", a, kh_strerror(e));
                goto done;
            }
            json_array_append_new(files, json_pack("{s:s, s:s}", "name", base_name(a), "data", b64));
            free(b64);
        }
    }
    if (!key || !name || !out || json_array_size(files) == 0) {
        kh_cli_errorf("cần --key, --name, -o và ít nhất một tệp / --key, --name, -o and at least one file are required");
        goto done;
    }
    uint8_t sk[KH_SIGN_SK_BYTES];
    if (read_hex_key(sk, sizeof(sk), key) < 0) {
        kh_cli_errorf("khóa ký không đọc được / cannot read the signing key %s (64-byte hex, e.g. DATA/bundle.key)", key);
        goto done;
    }
    char *env = NULL, sha[65], err[300] = "";
    int e = kh_bundle_build(&env, sha, name, version, files, sk, err, sizeof(err));
    memset(sk, 0, sizeof(sk));
    if (e < 0) {
        kh_cli_errorf("%s", err);
        goto done;
    }
    FILE *f = fopen(out, "wb");
    if (!f || fputs(env, f) < 0 || fclose(f) != 0) {
        kh_cli_errorf("không ghi được / cannot write %s", out);
        free(env);
        goto done;
    }
    free(env);
    printf("%s: %s v%lld, %zu tệp / files, sha256 %s\n", out, name, version, json_array_size(files), sha);
    rc = 0;
done:
    json_decref(files);
    return rc;
}

static int bundle_verify(int argc, char **argv)
{
    const char *pub = NULL, *in = NULL, *extract = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--pub") == 0 && v) {
            pub = v;
            i++;
        } else if (strcmp(a, "--extract") == 0 && v) {
            extract = v;
            i++;
        } else if (a[0] == '-') {
            kh_cli_errorf("tùy chọn không hợp lệ / invalid option '%s'", a);
            return KH_EXIT_ERROR;
        } else {
            in = a;
        }
    }
    if (!pub || !in) {
        kh_cli_errorf("cần --pub và tệp gói / --pub and a bundle file are required");
        return KH_EXIT_ERROR;
    }
    uint8_t pk[KH_SIGN_PK_BYTES];
    if (read_hex_key(pk, sizeof(pk), pub) < 0) {
        kh_cli_errorf("khóa công khai không đọc được / cannot read the public key %s (32-byte hex or DATA/bundle.pub)", pub);
        return KH_EXIT_ERROR;
    }
    size_t len = 0;
    char *env = slurp(in, KH_BUNDLE_MAX, &len);
    if (!env) {
        kh_cli_errorf("không đọc được / cannot read %s: %s", in, strerror(errno));
        return KH_EXIT_ERROR;
    }
    json_t *p = NULL;
    char err[300] = "";
    int e = kh_bundle_read(&p, env, len, pk, err, sizeof(err));
    free(env);
    if (e < 0) {
        kh_cli_errorf("%s: GÓI BỊ TỪ CHỐI / BUNDLE REFUSED: %s", in, err);
        return KH_EXIT_FOUND;
    }
    json_t *files = json_object_get(p, "files");
    printf("%s: hợp lệ / valid: %s v%lld (%s), %zu tệp / files\n", in, json_string_value(json_object_get(p, "name")),
           (long long)json_integer_value(json_object_get(p, "version")), json_string_value(json_object_get(p, "created")),
           json_array_size(files));
    size_t i;
    json_t *f;
    int rc = 0;
    if (extract && mkdir(extract, 0755) != 0 && errno != EEXIST) {
        kh_cli_errorf("không tạo được / cannot create %s: %s", extract, strerror(errno));
        json_decref(p);
        return KH_EXIT_ERROR;
    }
    json_array_foreach(files, i, f)
    {
        const char *fn = json_string_value(json_object_get(f, "name"));
        printf("  %s  %s\n", json_string_value(json_object_get(f, "sha256")), fn);
        if (!extract)
            continue;
        const char *d64 = json_string_value(json_object_get(f, "data"));
        uint8_t *data = NULL;
        size_t dl = 0;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", extract, fn);
        FILE *o = NULL;
        if (kh_sign_b64_decode(&data, &dl, d64, strlen(d64)) < 0 || !(o = fopen(path, "wb")) || fwrite(data, 1, dl, o) != dl) {
            kh_cli_errorf("không ghi được / cannot write %s", path);
            rc = KH_EXIT_ERROR;
        }
        if (o)
            fclose(o);
        free(data);
    }
    json_decref(p);
    return rc;
}

int cmd_bundle(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "Cách dùng / Usage:\n"
                   "  khien bundle make --key DATA/bundle.key --name NAME [--version N] -o OUT FILE...\n"
                   "  khien bundle verify --pub HEX|DATA/bundle.pub BUNDLE [--extract DIR]\n");
        return argc < 2 ? KH_EXIT_ERROR : 0;
    }
    if (strcmp(argv[1], "make") == 0)
        return bundle_make(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return bundle_verify(argc - 1, argv + 1);
    kh_cli_errorf("lệnh con không hợp lệ / unknown subcommand '%s' (make, verify)", argv[1]);
    return KH_EXIT_ERROR;
}
