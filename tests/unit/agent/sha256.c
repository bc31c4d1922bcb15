/* Tests for src/agent/sha256.c against the FIPS 180-4 example vectors. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "harness.h"
#include "khien/error.h"

static void hex(char out[65], const uint8_t d[32])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

KT_TEST(vectors)
{
    uint8_t d[32];
    char h[65];
    kh_agent_sha256(d, "", 0);
    hex(h, d);
    KT_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    kh_agent_sha256(d, "abc", 3);
    hex(h, d);
    KT_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    kh_agent_sha256(d, two, strlen(two));
    hex(h, d);
    KT_EQ_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

KT_TEST(file_million_a)
{
    char path[] = "/tmp/kh-sha-XXXXXX";
    int fd = mkstemp(path);
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    KT_EQ_INT(write(fd, a, 1000000), 1000000);
    close(fd);
    free(a);
    char h[65];
    KT_EQ_INT(kh_agent_sha256_file(h, path, 1u << 30), 0);
    KT_EQ_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    KT_EQ_INT(kh_agent_sha256_file(h, path, 1000), KH_ELIMIT);
    unlink(path);
    KT_EQ_INT(kh_agent_sha256_file(h, path, 1000), KH_ENOENT);
}

KT_MAIN({
    KT_CASE(vectors),
    KT_CASE(file_million_a),
})
