/* Khiên — scan: the central directory of a zip archive, for .cdb signatures.
 *
 * libarchive tells a member's name, real size and encryption, but not its
 * compressed size nor its place in the central directory, which clamscan's
 * container metadata signatures (.cdb FileSizeInContainer, FilePos) use.
 * This reads them from the end-of-central-directory record and the
 * directory itself, from memory or through pread() on a large file. Bounds:
 * the directory is read only up to 16 MiB and 65535 entries; anything
 * odd (zip64, a prefix before the archive, a damaged record) gives an
 * empty table, and the caller then treats the values as unknown.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "scan/scan_int.h"

#define CDIR_MAX (16u << 20)
#define EOCD_SPAN (65535u + 22u)

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

/* Copies [off, off + n) of the archive into dst; 0 or -1. */
static int get(const uint8_t *buf, size_t len, int fd, uint64_t flen, uint64_t off, size_t n, uint8_t *dst)
{
    if (off > flen || n > flen - off)
        return -1;
    if (buf) {
        if (off + n > len)
            return -1;
        memcpy(dst, buf + off, n);
        return 0;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, dst + got, n - got, (off_t)(off + got));
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

void kh_zipdir_free(kh_zipdir *z)
{
    if (!z)
        return;
    free(z->ent);
    free(z->names);
    memset(z, 0, sizeof(*z));
}

int kh_zipdir_read(kh_zipdir *z, const uint8_t *buf, size_t len, int fd, uint64_t flen)
{
    memset(z, 0, sizeof(*z));
    size_t span = flen < EOCD_SPAN ? (size_t)flen : EOCD_SPAN;
    if (span < 22)
        return 0;
    uint8_t *tail = malloc(span);
    if (!tail)
        return KH_ENOMEM;
    uint64_t cdoff = 0, cdsize = 0, count = 0;
    int found = 0;
    if (get(buf, len, fd, flen, flen - span, span, tail) == 0)
        for (size_t i = span - 22 + 1; i-- > 0;)
            if (le32(tail + i) == 0x06054b50u) {
                count = le16(tail + i + 10);
                cdsize = le32(tail + i + 12);
                cdoff = le32(tail + i + 16);
                found = 1;
                break;
            }
    free(tail);
    if (!found || cdsize > CDIR_MAX || cdsize < 46 * count || cdoff == 0xffffffffu)
        return 0;
    uint8_t *cd = malloc(cdsize ? (size_t)cdsize : 1);
    kh_zipent *ent = calloc(count ? (size_t)count : 1, sizeof(kh_zipent));
    char *names = malloc((size_t)cdsize + 1);
    if (!cd || !ent || !names) {
        free(cd), free(ent), free(names);
        return KH_ENOMEM;
    }
    size_t n = 0, at = 0, nb = 0;
    if (get(buf, len, fd, flen, cdoff, (size_t)cdsize, cd) == 0)
        while (n < count && at + 46 <= cdsize && le32(cd + at) == 0x02014b50u) {
            const uint8_t *h = cd + at;
            size_t nl = le16(h + 28), xl = le16(h + 30), cl = le16(h + 32);
            if (at + 46 + nl > cdsize)
                break;
            ent[n].flags = le16(h + 8);
            ent[n].csize = le32(h + 20);
            ent[n].name = nb;
            ent[n].namelen = nl;
            memcpy(names + nb, h + 46, nl);
            nb += nl;
            n++;
            at += 46 + nl + xl + cl;
        }
    free(cd);
    z->ent = ent;
    z->n = n;
    z->names = names;
    return 0;
}

int kh_zipdir_find(kh_zipdir *z, const char *name, size_t *pos)
{
    size_t nl = strlen(name);
    for (size_t k = 0; k < z->n; k++) {
        size_t i = (z->next + k) % z->n;
        if (z->ent[i].namelen == nl && memcmp(z->names + z->ent[i].name, name, nl) == 0) {
            z->next = i + 1;
            *pos = i;
            return 1;
        }
    }
    return 0;
}
