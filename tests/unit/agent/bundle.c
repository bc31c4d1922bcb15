/* Tests for src/agent/bundle.c: only verified bundles are installed, the
 * last good one stays when a bad one arrives, and only changed files are
 * rewritten. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "harness.h"
#include "khien/error.h"

static char dir[256];
static uint8_t pk[KH_SIGN_PK_BYTES], sk[KH_SIGN_SK_BYTES];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kh-bundle-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    kh_sign_keypair(pk, sk);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* A signed envelope for {name, version, files: [{name, data}]}. */
static char *make(const char *name, int version, const char *const *files, const char *const *contents, size_t n,
                  const uint8_t *key_sk, size_t *len)
{
    json_t *fa = json_array();
    for (size_t i = 0; i < n; i++) {
        char *b64 = NULL;
        kh_sign_b64_encode(&b64, contents[i], strlen(contents[i]));
        uint8_t d[32];
        char hex[65];
        kh_agent_sha256(d, contents[i], strlen(contents[i]));
        kh_sign_bin2hex(hex, d, 32);
        json_array_append_new(fa, json_pack("{s:s, s:s, s:s}", "name", files[i], "sha256", hex, "data", b64));
        free(b64);
    }
    json_t *p = json_pack("{s:s, s:s, s:i, s:o}", "kind", "bundle", "name", name, "version", version, "files", fa);
    char *payload = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    char *env = NULL;
    kh_bundle_seal(&env, len, payload, strlen(payload), key_sk);
    free(payload);
    return env;
}

static char *read_installed(const char *name, const char *file)
{
    char p[1024], *text = NULL;
    size_t len;
    snprintf(p, sizeof(p), "%s/bundles/%s/files/%s", dir, name, file);
    if (kh_agent_read_file(p, 1 << 20, &text, &len) != 0)
        return NULL;
    return text;
}

KT_TEST(install_update_and_refuse)
{
    setup();
    char err[1024];
    unsigned changed = 0;
    size_t len;
    const char *f1[] = {"a.ndb", "b.yml"}, *c1[] = {"first-a", "first-b"};
    char *env = make("sigs", 1, f1, c1, 2, sk, &len);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "tag1", &changed, err, sizeof(err)), 0);
    KT_EQ_INT(changed, 2);
    char *t = read_installed("sigs", "a.ndb");
    KT_EQ_STR(t, "first-a");
    free(t);
    free(env);
    char v[64], tag[128];
    KT_EQ_INT(kh_agent_bundle_current(dir, "sigs", v, sizeof(v), tag, sizeof(tag)), 0);
    KT_EQ_STR(v, "1");
    KT_EQ_STR(tag, "tag1");

    /* Version 2: a.ndb unchanged, b.yml changed, c.hdb new. Only two writes. */
    const char *f2[] = {"a.ndb", "b.yml", "c.hdb"}, *c2[] = {"first-a", "second-b", "new-c"};
    env = make("sigs", 2, f2, c2, 3, sk, &len);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "tag2", &changed, err, sizeof(err)), 0);
    KT_EQ_INT(changed, 2);
    free(env);
    t = read_installed("sigs", "b.yml");
    KT_EQ_STR(t, "second-b");
    free(t);

    /* Tampered: one byte of the envelope changed -> refused, v2 stays. */
    const char *f3[] = {"a.ndb"}, *c3[] = {"evil"};
    env = make("sigs", 3, f3, c3, 1, sk, &len);
    char *pl = strstr(env, "\"payload\"");
    KT_CHECK(pl != NULL);
    char *q = pl ? strchr(pl + 10, '"') : NULL; /* opening quote of the base64 value */
    if (q)
        q[5] = q[5] == 'A' ? 'B' : 'A';
    err[0] = 0;
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "tag3", &changed, err, sizeof(err)), KH_EACCES);
    KT_CHECK(strstr(err, "last good version stays in use") != NULL);
    free(env);
    t = read_installed("sigs", "a.ndb");
    KT_EQ_STR(t, "first-a");
    free(t);
    KT_EQ_INT(kh_agent_bundle_current(dir, "sigs", v, sizeof(v), tag, sizeof(tag)), 0);
    KT_EQ_STR(v, "2");

    /* Signed by another key -> refused. */
    uint8_t pk2[KH_SIGN_PK_BYTES], sk2[KH_SIGN_SK_BYTES];
    kh_sign_keypair(pk2, sk2);
    env = make("sigs", 4, f3, c3, 1, sk2, &len);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "tag4", &changed, err, sizeof(err)), KH_EACCES);
    free(env);

    /* Validly signed but an older version (downgrade) -> refused. */
    env = make("sigs", 1, f3, c3, 1, sk, &len);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "tag5", &changed, err, sizeof(err)), KH_EACCES);
    KT_CHECK(strstr(err, "older") != NULL);
    free(env);

    /* Validly signed but another bundle's name (replay) -> refused. */
    env = make("policy", 9, f3, c3, 1, sk, &len);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "tag6", &changed, err, sizeof(err)), KH_EACCES);
    free(env);
    t = read_installed("sigs", "c.hdb");
    KT_EQ_STR(t, "new-c");
    free(t);

    /* Version 5 drops b.yml and c.hdb: they are removed. */
    env = make("sigs", 5, f1, c1, 1, sk, &len);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "tag7", &changed, err, sizeof(err)), 0);
    free(env);
    t = read_installed("sigs", "c.hdb");
    KT_CHECK(t == NULL);
    free(t);
    teardown();
}

KT_TEST(bad_names_refused)
{
    setup();
    char err[1024];
    size_t len;
    const char *f[] = {"../escape"}, *c[] = {"x"};
    char *env = make("sigs", 1, f, c, 1, sk, &len);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "t", NULL, err, sizeof(err)), KH_EFORMAT);
    free(env);
    char p[512];
    snprintf(p, sizeof(p), "%s/bundles/escape", dir);
    KT_CHECK(access(p, F_OK) != 0);
    const char *f2[] = {".hidden"};
    env = make("sigs", 1, f2, c, 1, sk, &len);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", env, len, pk, "t", NULL, err, sizeof(err)), KH_EFORMAT);
    free(env);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "../x", "{}", 2, pk, "t", NULL, err, sizeof(err)), KH_EINVAL);
    KT_EQ_INT(kh_agent_bundle_apply(dir, "sigs", "not json", 8, pk, "t", NULL, err, sizeof(err)), KH_EACCES);
    teardown();
}

KT_MAIN({
    KT_CASE(install_update_and_refuse),
    KT_CASE(bad_names_refused),
})
