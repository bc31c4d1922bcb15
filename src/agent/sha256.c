/* Khiên — agent/sha256: SHA-256 of a detected file, for the malware event.
 *
 * The centre identifies a malicious file by its SHA-256 (findings, and the
 * detections forwarded to a higher centre). The digest is libsodium's,
 * through net/sign.c (the one file that includes it). It hashes at most a
 * bounded number of bytes (a file larger than the bound gets no hash); the
 * standard test vectors are in tests/unit/agent/sha256.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "khien/error.h"
#include "net/sign.h"
#include "util/util.h"

void kh_agent_sha256(uint8_t out[32], const void *data, size_t len)
{
    kh_sign_sha256(out, data, len);
}

int kh_agent_sha256_file(char out[65], const char *path, uint64_t max_bytes)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? KH_ENOENT : KH_EIO;
    kh_sign_sha256_ctx c;
    kh_sign_sha256_init(&c);
    uint8_t buf[65536];
    uint64_t total = 0;
    int rc = 0;
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
        total += (uint64_t)r;
        if (total > max_bytes) {
            rc = KH_ELIMIT;
            break;
        }
        kh_sign_sha256_update(&c, buf, (size_t)r);
    }
    close(fd);
    if (rc)
        return rc;
    uint8_t d[32];
    kh_sign_sha256_final(&c, d);
    kh_hex_encode(d, sizeof(d), out);
    return 0;
}
