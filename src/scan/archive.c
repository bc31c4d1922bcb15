/* Khiên — scan: looking inside archives and compressed files.
 *
 * libarchive reads the containers (zip, tar in all its dialects, 7z, cpio,
 * rar, cab, iso9660) and the compressed streams (gzip, bzip2, xz, lzma,
 * zstd, lzip; a lone compressed file is read through the "raw" format).
 * Every member is extracted into memory and scanned as an object of its
 * own, recursively, and reported as "outer.tar.gz!inner.zip!path/in/zip".
 * Before that, the member's metadata (container type, sizes, name,
 * encryption, position, numbered as clamscan 1.4 numbers them per format)
 * goes to the .cdb container metadata signatures (member_meta()).
 *
 * Hostile input is the normal case here, so everything is bounded:
 *   - nesting depth (max_depth), members per file (max_files, all levels),
 *     bytes extracted per file (max_scansize), member size (max_filesize);
 *   - compression ratio: a member that declares, or actually produces, more
 *     than max_ratio times the bytes its container holds (beyond a 32 MiB
 *     floor) is a bomb: extraction stops and the result
 *     Heuristics.Limits.Exceeded.MaxRatio is reported.
 * A damaged or encrypted archive is a warning, never an error of the file,
 * and never stops the scan of the rest. We only hand libarchive buffers
 * whose first bytes look like a format we enabled (kh_archive_sniff), so
 * ordinary files never reach it.
 *
 * libarchive picks the format inside a compressed stream by bidding, and
 * some bids accept content that is not that format: a stream starting with
 * a block of zeros is an *empty* tar archive to it. A compressed stream in
 * which no format found a single member is therefore read a second time
 * with only the "raw" format, and its content is scanned as it is.
 * Otherwise a few zero bytes in front of any payload would hide it.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <unistd.h>

#include "scan/scan_int.h"

#define RATIO_FLOOR (32ull << 20)
#define READ_CHUNK (256u << 10)

int kh_archive_sniff(const uint8_t *b, size_t n)
{
#define HAS(off, str) (n >= (off) + sizeof(str) - 1 && memcmp(b + (off), str, sizeof(str) - 1) == 0)
    if (HAS(0, "PK\x03\x04") || HAS(0, "PK\x07\x08") || HAS(0, "PK00PK\x03\x04"))
        return 1; /* zip */
    if (HAS(0, "\x1f\x8b") || HAS(0, "\xfd" "7zXZ\x00") || HAS(0, "\x28\xb5\x2f\xfd") || HAS(0, "LZIP"))
        return 1; /* gzip, xz, zstd, lzip */
    if (HAS(0, "BZh") && n > 3 && b[3] >= '1' && b[3] <= '9')
        return 1; /* bzip2 */
    if (HAS(0, "7z\xbc\xaf\x27\x1c") || HAS(0, "Rar!\x1a\x07") || HAS(0, "MSCF\0\0\0\0"))
        return 1; /* 7z, rar, cab */
    if (HAS(257, "ustar"))
        return 1; /* tar */
    if (HAS(0, "070701") || HAS(0, "070702") || HAS(0, "070707") || HAS(0, "\xc7\x71") || HAS(0, "\x71\xc7"))
        return 1; /* cpio */
    if (HAS(0x8001, "CD001"))
        return 1; /* iso9660 */
    return 0;
#undef HAS
}

/* A reader for every container we open, or (raw_only) for the content of
 * a compressed stream as one member. */
static struct archive *open_reader(int raw_only)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_lzip(a);
    if (raw_only) {
        archive_read_support_format_raw(a);
        return a;
    }
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_format_7zip(a);
    archive_read_support_format_cpio(a);
    archive_read_support_format_rar(a);
    archive_read_support_format_rar5(a);
    archive_read_support_format_cab(a);
    archive_read_support_format_iso9660(a);
    archive_read_support_format_raw(a);
    return a;
}

/* Name of the object being scanned: the last member, or "" for the file. */
static const char *current_name(kh_scanner *s)
{
    const char *bang = s->member.len ? strrchr(s->member.data, '!') : NULL;
    if (bang)
        return bang + 1;
    return s->member.len ? s->member.data : s->name_hint ? s->name_hint : "";
}

/* A name for the content of a lone compressed stream: "x.txt.gz" -> "x.txt". */
static void raw_name(kh_scanner *s, kh_buf *out, const char *fallback)
{
    const char *cur = current_name(s);
    const char *slash = strrchr(cur, '/');
    const char *base = slash ? slash + 1 : cur;
    static const char *const ext[] = {".gz", ".bz2", ".xz", ".zst", ".lzma", ".lz", ".z", ".Z"};
    size_t n = strlen(base);
    for (size_t i = 0; i < KH_ARRAY_LEN(ext); i++)
        if (kh_str_endswith(base, ext[i]) && n > strlen(ext[i])) {
            kh_buf_append(out, base, n - strlen(ext[i]));
            return;
        }
    if (kh_str_endswith(base, ".tgz")) {
        kh_buf_append(out, base, n - 4);
        kh_buf_puts(out, ".tar");
        return;
    }
    kh_buf_puts(out, fallback);
}

/* Reports a limit that stopped part of the scan: a warning, and with
 * --alert-exceeds-max also a result. `what` is depth, files, scan or size. */
static int limit_hit(kh_scanner *s, const char *what, const char *msg, unsigned long long v)
{
    kh_scan_warn(s, "%s (%llu)", msg, v);
    if (s->o.flags & KH_SCAN_ALERT_LIMITS) {
        static const char *const names[] = {"Heuristics.Limits.Exceeded.MaxRecursion",
                                            "Heuristics.Limits.Exceeded.MaxFiles",
                                            "Heuristics.Limits.Exceeded.MaxScanSize",
                                            "Heuristics.Limits.Exceeded.MaxFileSize"};
        const char *name = strcmp(what, "depth") == 0   ? names[0]
                           : strcmp(what, "files") == 0 ? names[1]
                           : strcmp(what, "scan") == 0  ? names[2]
                                                        : names[3];
        return kh_scan_heuristic(s, name);
    }
    return 0;
}

static int bomb(kh_scanner *s, unsigned long long out, unsigned long long in)
{
    kh_scan_warn(s, "compression ratio above %u (%llu bytes from %llu): extraction stopped", s->o.max_ratio, out, in);
    return kh_scan_heuristic(s, "Heuristics.Limits.Exceeded.MaxRatio");
}

/* Where an archive's bytes are: buf (len bytes) or fd. */
typedef struct arch_src {
    const uint8_t *buf;
    size_t len;
    int fd;
    uint64_t flen;
    int zip_read; /* zip directory read (zip) */
    kh_zipdir zip;
    uint64_t nent, nfiles; /* entries and regular files seen */
    int inner_read;        /* inner_len worked out */
    uint64_t inner_len;    /* size of the container inside a gzip stream, UINT64_MAX unknown */
} arch_src;

/* The size of what a single gzip stream holds (its ISIZE trailer, the size
 * modulo 4 GiB), the container size clamscan sees for a .tar.gz; unknown
 * (UINT64_MAX) for other compressions. */
static uint64_t inner_size(struct archive *a, arch_src *src)
{
    if (src->inner_read)
        return src->inner_len;
    src->inner_read = 1;
    src->inner_len = UINT64_MAX;
    uint8_t t[4];
    if (archive_filter_count(a) != 2 || archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP || src->flen < 18)
        return src->inner_len;
    if (src->buf) {
        if (src->len != src->flen)
            return src->inner_len;
        memcpy(t, src->buf + src->len - 4, 4);
    } else if (pread(src->fd, t, 4, (off_t)(src->flen - 4)) != 4) {
        return src->inner_len;
    }
    src->inner_len = (uint64_t)t[0] | (uint64_t)t[1] << 8 | (uint64_t)t[2] << 16 | (uint64_t)t[3] << 24;
    return src->inner_len;
}

/* clamscan's container type of a libarchive format (0: no metadata calls). */
static uint16_t container_type(int fmt)
{
    switch (fmt & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_ZIP: return KH_CT_ZIP;
    case ARCHIVE_FORMAT_TAR: return KH_CT_POSIX_TAR;
    case ARCHIVE_FORMAT_7ZIP: return KH_CT_7Z;
    case ARCHIVE_FORMAT_RAR: case ARCHIVE_FORMAT_RAR_V5: return KH_CT_RAR;
    case ARCHIVE_FORMAT_CPIO:
        return fmt == ARCHIVE_FORMAT_CPIO_SVR4_NOCRC ? KH_CT_CPIO_NEWC
               : fmt == ARCHIVE_FORMAT_CPIO_SVR4_CRC ? KH_CT_CPIO_CRC
               : fmt == ARCHIVE_FORMAT_CPIO_POSIX    ? KH_CT_CPIO_ODC
                                                     : KH_CT_CPIO_OLD;
    default: return 0;
    }
}

/* The .cdb signatures on one entry (measured on clamscan 1.4: zip numbers
 * every central-directory entry from 1 and reports directories too; tar
 * numbers regular files from 1; cpio numbers every entry from 1; 7z every
 * entry from 0, with 0 as the size in the container; only files are
 * reported for tar, cpio and 7z). Returns 0, KH_STOP, or an error. */
static int member_meta(kh_scanner *s, struct archive *a, struct archive_entry *e, uint64_t container_len,
                       arch_src *src, int compressed)
{
    int fmt = archive_format(a);
    uint16_t ct = container_type(fmt);
    int reg = archive_entry_filetype(e) == AE_IFREG;
    src->nent++;
    src->nfiles += reg;
    if (!ct || !s->cav || !s->r->cav->ncdbs || (!reg && ct != KH_CT_ZIP))
        return 0;
    kh_cav_meta m;
    memset(&m, 0, sizeof(m));
    const char *name = archive_entry_pathname(e);
    m.name = name ? name : "";
    m.ctype = ct;
    m.encrypted = archive_entry_is_encrypted(e) > 0;
    /* inside a compression stream, the size of what it holds */
    m.csize = compressed ? inner_size(a, src) : container_len;
    m.fsizer = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : UINT64_MAX;
    m.fsizec = m.fsizer;
    m.filepos = ct == KH_CT_POSIX_TAR ? src->nfiles : src->nent;
    if (ct == KH_CT_7Z) {
        m.fsizec = 0;
        m.filepos = src->nent - 1;
    } else if (ct == KH_CT_RAR) {
        m.fsizec = UINT64_MAX; /* not told by libarchive */
    } else if (ct == KH_CT_ZIP) {
        if (!src->zip_read) {
            src->zip_read = 1;
            int rc = compressed ? 0 : kh_zipdir_read(&src->zip, src->buf, src->len, src->fd, src->flen);
            if (rc)
                return rc;
        }
        size_t pos;
        if (m.name[0] && kh_zipdir_find(&src->zip, m.name, &pos)) {
            m.fsizec = src->zip.ent[pos].csize;
            m.filepos = pos + 1;
            m.encrypted = (src->zip.ent[pos].flags & 1) != 0;
        } else {
            m.fsizec = UINT64_MAX;
        }
    }
    return kh_scan_meta(s, &m);
}

/* member_meta() for an entry that is not a regular file (named like a member). */
static int other_meta(kh_scanner *s, struct archive *a, struct archive_entry *e, uint64_t container_len,
                      arch_src *src, size_t mlen)
{
    s->member.len = mlen;
    const char *name = archive_entry_pathname(e);
    int rc = kh_buf_putc(&s->member, '!');
    if (!rc)
        rc = kh_buf_puts(&s->member, name ? name : "?");
    if (!rc)
        rc = member_meta(s, a, e, container_len, src, archive_filter_count(a) > 1);
    s->member.len = mlen;
    if (s->member.data)
        s->member.data[mlen] = 0;
    return rc;
}

/* Scans every member of an opened archive. *nmembers counts the members
 * reached (regular files, or the content of a raw stream). */
static int scan_members(kh_scanner *s, struct archive *a, uint64_t container_len, unsigned depth,
                        unsigned *nmembers, arch_src *src)
{
    size_t mlen = s->member.len;
    kh_buf data = KH_BUF_INIT(0);
    int rc = 0;
    uint64_t extracted = 0;
    struct archive_entry *e;
    for (;;) {
        int hr = archive_read_next_header(a, &e);
        if (hr == ARCHIVE_EOF)
            break;
        if (hr < ARCHIVE_WARN) {
            if (!(archive_format(a) == ARCHIVE_FORMAT_RAW || archive_file_count(a) == 0) || archive_filter_count(a) > 1)
                kh_scan_warn(s, "damaged archive, rest not scanned: %s", archive_error_string(a));
            break;
        }
        int raw = archive_format(a) == ARCHIVE_FORMAT_RAW;
        if (raw && archive_filter_count(a) <= 1)
            break; /* uncompressed data read as "raw": not an archive after all */
        if (!raw && archive_entry_filetype(e) != AE_IFREG) {
            if ((rc = other_meta(s, a, e, container_len, src, mlen)))
                break;
            continue;
        }
        (*nmembers)++;
        /* The limit is about the archive, not about the member before. */
        s->member.len = mlen;
        if (s->member.data)
            s->member.data[mlen] = 0;
        if (++s->file_members > s->o.max_files) {
            rc = limit_hit(s, "files", "too many archive members, the rest were not scanned: max-files",
                           (unsigned long long)s->o.max_files);
            break;
        }
        kh_buf name = KH_BUF_INIT(8192);
        if (raw)
            raw_name(s, &name, "data");
        else
            kh_buf_puts(&name, archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
        int prc = kh_buf_putc(&s->member, '!');
        if (!prc)
            prc = kh_buf_append(&s->member, name.data ? name.data : "", name.len);
        kh_buf_dispose(&name);
        if (prc) {
            rc = prc;
            break;
        }
        if (!raw && (rc = member_meta(s, a, e, container_len, src, archive_filter_count(a) > 1)))
            break;
        if (archive_entry_is_encrypted(e)) {
            kh_scan_warn(s, "encrypted member not scanned");
            continue;
        }
        uint64_t declared = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;
        if (declared > RATIO_FLOOR && s->o.max_ratio && declared / s->o.max_ratio > container_len) {
            rc = bomb(s, declared, container_len);
            break;
        }
        if (s->o.max_filesize && declared > s->o.max_filesize) {
            if ((rc = limit_hit(s, "size", "member not scanned: larger than max-filesize",
                                (unsigned long long)s->o.max_filesize)))
                break;
            continue;
        }
        kh_buf_clear(&data);
        int stop = 0, bad = 0;
        for (;;) {
            if ((rc = kh_buf_reserve(&data, READ_CHUNK)))
                break;
            la_ssize_t n = archive_read_data(a, data.data + data.len, READ_CHUNK);
            if (n == 0)
                break;
            if (n < 0) {
                kh_scan_warn(s, "cannot extract member: %s", archive_error_string(a));
                bad = 1;
                break;
            }
            data.len += (size_t)n;
            extracted += (uint64_t)n;
            la_int64_t consumed = archive_filter_bytes(a, -1);
            if (s->o.max_ratio && extracted > RATIO_FLOOR && consumed > 0 &&
                extracted / s->o.max_ratio > (uint64_t)consumed) {
                rc = bomb(s, extracted, (unsigned long long)consumed);
                stop = 1;
                break;
            }
            if (s->o.max_filesize && data.len > s->o.max_filesize) {
                rc = limit_hit(s, "size", "member not scanned: larger than max-filesize",
                               (unsigned long long)s->o.max_filesize);
                bad = 1;
                break;
            }
            if (s->o.max_scansize && s->file_bytes + data.len > s->o.max_scansize) {
                rc = limit_hit(s, "scan", "the rest of this file was not scanned: max-scansize reached",
                               (unsigned long long)s->o.max_scansize);
                stop = 1;
                break;
            }
        }
        if (rc || stop)
            break;
        if (bad)
            continue;
        if ((rc = kh_scan_object(s, (const uint8_t *)(data.data ? data.data : ""), data.len, depth + 1)))
            break;
    }
    s->member.len = mlen;
    if (s->member.data)
        s->member.data[mlen] = 0;
    kh_buf_dispose(&data);
    return rc;
}

static int check_depth(kh_scanner *s, unsigned depth)
{
    if (depth + 1 > s->o.max_depth) {
        int rc = limit_hit(s, "depth", "archive not opened: nested deeper than max-recursion",
                           (unsigned long long)s->o.max_depth);
        return rc ? rc : 1;
    }
    return 0;
}

/* One pass over an archive held in memory (fd < 0) or read from fd.
 * *compressed tells whether a compression filter was found. */
static int scan_pass(kh_scanner *s, int raw_only, const uint8_t *buf, size_t len, int fd, uint64_t container_len,
                     unsigned depth, unsigned *nmembers, int *compressed)
{
    struct archive *a = open_reader(raw_only);
    if (!a)
        return KH_ENOMEM;
    int rc = 0;
    int orc = fd < 0 ? archive_read_open_memory(a, buf, len) : archive_read_open_fd(a, fd, 1u << 20);
    arch_src src;
    memset(&src, 0, sizeof(src));
    src.buf = fd < 0 ? buf : NULL;
    src.len = len;
    src.fd = fd;
    src.flen = container_len;
    if (orc == ARCHIVE_OK) {
        rc = scan_members(s, a, container_len, depth, nmembers, &src);
        *compressed = archive_filter_count(a) > 1;
    }
    archive_read_free(a);
    kh_zipdir_free(&src.zip);
    return rc;
}

/* Both passes: the archive, then (see the top of this file) the content of
 * a compressed stream in which no format found a member. */
static int scan_archive(kh_scanner *s, const uint8_t *buf, size_t len, int fd, uint64_t container_len, unsigned depth)
{
    unsigned n = 0;
    int compressed = 0;
    int rc = scan_pass(s, 0, buf, len, fd, container_len, depth, &n, &compressed);
    if (rc || n || !compressed)
        return rc;
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0)
        return 0;
    return scan_pass(s, 1, buf, len, fd, container_len, depth, &n, &compressed);
}

int kh_archive_scan_mem(kh_scanner *s, const uint8_t *buf, size_t len, unsigned depth)
{
    int rc = check_depth(s, depth);
    if (rc)
        return rc > 0 ? 0 : rc;
    return scan_archive(s, buf, len, -1, len, depth);
}

int kh_archive_scan_fd(kh_scanner *s, int fd, unsigned depth)
{
    int rc = check_depth(s, depth);
    if (rc)
        return rc > 0 ? 0 : rc;
    struct stat st;
    if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        return 0;
    return scan_archive(s, NULL, 0, fd, (uint64_t)st.st_size, depth);
}
