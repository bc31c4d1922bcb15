/* Khiên — agent/spool: the durable, bounded queue of events to deliver.
 *
 * Why files and not one log: an event is removed only when the centre has
 * acknowledged it, in any order the centre answers, and a crash must never
 * leave a half-written event that looks whole. One file per event makes
 * both trivial: write "DIR/.tmp-SEQ", fsync it, rename it to
 * "DIR/SEQ-PRIO.ev", fsync the folder. A name ending in .ev therefore always
 * names a complete event; anything else is a leftover and is deleted on the
 * next open. Each file starts with "KHSPOOL1 LEN CRC32\n", checked when the
 * event is loaded, so that storage damage is detected and the file moved to
 * bad/ rather than sent or retried forever.
 *
 * The index (sequence, priority, size of every file) is kept in memory,
 * sorted by sequence; it is rebuilt from the folder listing on open, so the
 * folder is the only truth. Sequence numbers continue after the largest one
 * found. Event counts are modest (the bound defaults to 100,000), so arrays
 * and linear scans are enough.
 *
 * Hot path: kh_spool_put() costs two fsyncs; the agent calls it a few times
 * per task run, not per file scanned.
 */
#define _GNU_SOURCE
#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khien/error.h"
#include "util/util.h"

#define DEF_MAX_EVENTS 100000u
#define DEF_MAX_BYTES (256ull << 20)
#define HDR_MAX 64
#define MAGIC "KHSPOOL1"
#define MAX_INDEX 10000000u

typedef struct ent {
    uint64_t seq;
    int prio;
    uint64_t size; /* file size (header included) */
} ent;

struct kh_spool {
    char *dir;
    int dirfd, lockfd;
    kh_spool_limits lim;
    KH_VEC(ent) idx;
    uint64_t bytes, next_seq, dropped, damaged;
    char err[512];
};

/* ---- CRC-32 ----------------------------------------------------------- */

uint32_t kh_spool__crc32(const void *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *b = p;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ b[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* ---- helpers ------------------------------------------------------------ */

static void seterr(kh_spool *s, const char *fmt, ...) KH_PRINTF(2, 3);
static void seterr(kh_spool *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

static void entry_name(char out[64], uint64_t seq, int prio)
{
    snprintf(out, 64, "%020" PRIu64 "-%d.ev", seq, prio);
}

/* "00000000000000000042-1.ev" -> seq 42, prio 1. */
static int parse_name(const char *name, uint64_t *seq, int *prio)
{
    if (strlen(name) != 25 || name[20] != '-' || (name[21] != '0' && name[21] != '1') ||
        strcmp(name + 22, ".ev") != 0)
        return -1;
    if (kh_parse_u64(name, 20, seq) < 0)
        return -1;
    *prio = name[21] - '0';
    return 0;
}

static int cmp_ent(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int sync_dir(kh_spool *s)
{
    if (fsync(s->dirfd) != 0) {
        seterr(s, "không đồng bộ được thư mục hàng đợi / cannot sync the queue folder %s: %s", s->dir,
               strerror(errno));
        return KH_EIO;
    }
    return 0;
}

/* Moves a damaged file to bad/ (or deletes it when that fails). */
static void quarantine(kh_spool *s, const char *name)
{
    mkdirat(s->dirfd, "bad", 0700);
    char dst[128];
    snprintf(dst, sizeof(dst), "bad/%s", name);
    if (renameat(s->dirfd, name, s->dirfd, dst) != 0)
        unlinkat(s->dirfd, name, 0);
    s->damaged++;
}

static void index_remove_at(kh_spool *s, size_t i)
{
    s->bytes -= s->idx.v[i].size;
    memmove(&s->idx.v[i], &s->idx.v[i + 1], (s->idx.n - i - 1) * sizeof(ent));
    s->idx.n--;
}

/* ---- open / close ------------------------------------------------------------ */

void kh_spool_close(kh_spool *s)
{
    if (!s)
        return;
    if (s->lockfd >= 0) {
        flock(s->lockfd, LOCK_UN);
        close(s->lockfd);
    }
    if (s->dirfd >= 0)
        close(s->dirfd);
    KH_VEC_FREE(s->idx);
    free(s->dir);
    free(s);
}

int kh_spool_open(kh_spool **out, const char *dir, const kh_spool_limits *limits, char *err, size_t errsz)
{
    int rc = 0;
    DIR *d = NULL;
    if (!out || !dir || !*dir)
        return KH_EINVAL;
    kh_spool *s = calloc(1, sizeof(*s));
    if (!s)
        return KH_ENOMEM;
    s->dirfd = s->lockfd = -1;
    if (limits)
        s->lim = *limits;
    if (!s->lim.max_events)
        s->lim.max_events = DEF_MAX_EVENTS;
    if (!s->lim.max_bytes)
        s->lim.max_bytes = DEF_MAX_BYTES;
    if (!(s->dir = kh_strdup(dir))) {
        rc = KH_ENOMEM;
        goto fail;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = errno == EACCES ? KH_EACCES : KH_EIO;
        seterr(s, "không tạo được thư mục hàng đợi / cannot create the queue folder %s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = errno == EACCES ? KH_EACCES : KH_EIO;
        seterr(s, "không mở được thư mục hàng đợi / cannot open the queue folder %s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((s->lockfd = openat(s->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        rc = errno == EACCES ? KH_EACCES : KH_EIO;
        seterr(s, "không tạo được tệp khoá / cannot create the lock file in %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        rc = KH_EUSER;
        seterr(s, "một tác tử khác đang dùng hàng đợi / another agent is using the queue %s", dir);
        goto fail;
    }
    int fd2 = dup(s->dirfd);
    if (fd2 < 0 || !(d = fdopendir(fd2))) {
        if (fd2 >= 0)
            close(fd2);
        rc = KH_EIO;
        seterr(s, "không đọc được thư mục hàng đợi / cannot list the queue folder %s: %s", dir, strerror(errno));
        goto fail;
    }
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        uint64_t seq;
        int prio;
        if (strncmp(n, ".tmp-", 5) == 0) { /* a write interrupted by a crash */
            unlinkat(s->dirfd, n, 0);
            removed = 1;
            continue;
        }
        if (parse_name(n, &seq, &prio) < 0)
            continue;
        struct stat st;
        if (fstatat(s->dirfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            quarantine(s, n);
            continue;
        }
        if (s->idx.n >= MAX_INDEX) {
            rc = KH_ELIMIT;
            seterr(s, "quá nhiều tệp trong hàng đợi / too many files in the queue %s", dir);
            goto fail;
        }
        if ((rc = KH_VEC_RESERVE(s->idx, 1, MAX_INDEX)) < 0)
            goto fail;
        s->idx.v[s->idx.n++] = (ent){seq, prio, (uint64_t)st.st_size};
        s->bytes += (uint64_t)st.st_size;
        if (seq >= s->next_seq)
            s->next_seq = seq + 1;
    }
    closedir(d);
    d = NULL;
    kh_qsort(s->idx.v, s->idx.n, sizeof(ent), cmp_ent);
    if (s->next_seq == 0)
        s->next_seq = 1;
    if (removed && (rc = sync_dir(s)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    if (d)
        closedir(d);
    if (err && errsz)
        snprintf(err, errsz, "%s", s->err[0] ? s->err : kh_strerror(rc));
    kh_spool_close(s);
    return rc;
}

/* ---- put ------------------------------------------------------------------- */

static int fits(const kh_spool *s, uint64_t size)
{
    return s->idx.n + 1 <= s->lim.max_events && s->bytes + size <= s->lim.max_bytes;
}

/* Evicts the oldest low-priority events until an event of @p size fits.
 * Nothing is removed unless enough can be. */
static int make_room(kh_spool *s, uint64_t size)
{
    size_t n = s->idx.n;
    uint64_t bytes = s->bytes, freed_n = 0;
    size_t i;
    for (i = 0; i < s->idx.n && !(n + 1 <= s->lim.max_events && bytes + size <= s->lim.max_bytes); i++) {
        if (s->idx.v[i].prio != KH_SPOOL_PRIO_LOW)
            continue;
        n--;
        bytes -= s->idx.v[i].size;
        freed_n++;
    }
    if (!(n + 1 <= s->lim.max_events && bytes + size <= s->lim.max_bytes))
        return KH_ELIMIT;
    size_t j = 0;
    while (freed_n && j < s->idx.n) {
        if (s->idx.v[j].prio != KH_SPOOL_PRIO_LOW) {
            j++;
            continue;
        }
        char name[64];
        entry_name(name, s->idx.v[j].seq, s->idx.v[j].prio);
        unlinkat(s->dirfd, name, 0);
        index_remove_at(s, j);
        s->dropped++;
        freed_n--;
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int kh_spool_put(kh_spool *s, const void *data, size_t len, int prio, uint64_t *seq_out)
{
    if (!s || (!data && len) || (prio != KH_SPOOL_PRIO_HIGH && prio != KH_SPOOL_PRIO_LOW))
        return KH_EINVAL;
    s->err[0] = 0;
    if (len > KH_SPOOL_EVENT_MAX) {
        seterr(s, "sự kiện quá lớn (%zu byte) / event too large (%zu bytes)", len, len);
        s->dropped++;
        return KH_ELIMIT;
    }
    char hdr[HDR_MAX];
    int hl = snprintf(hdr, sizeof(hdr), MAGIC " %zu %08" PRIx32 "\n", len, kh_spool__crc32(data, len));
    uint64_t size = (uint64_t)hl + len;
    if (!fits(s, size)) {
        if (prio != KH_SPOOL_PRIO_HIGH || make_room(s, size) < 0) {
            s->dropped++;
            seterr(s,
                   "hàng đợi sự kiện đã đầy (%zu sự kiện, %" PRIu64 " byte; giới hạn %zu sự kiện, %" PRIu64
                   " byte): sự kiện mới bị bỏ / event queue full (%zu events, %" PRIu64 " bytes; limit %zu events, %"
                   PRIu64 " bytes): new event dropped",
                   s->idx.n, s->bytes, s->lim.max_events, s->lim.max_bytes, s->idx.n, s->bytes, s->lim.max_events,
                   s->lim.max_bytes);
            return KH_ELIMIT;
        }
    }
    int rc = KH_VEC_RESERVE(s->idx, 1, MAX_INDEX);
    if (rc < 0)
        return rc;
    uint64_t seq = s->next_seq;
    char tmp[64], name[64];
    snprintf(tmp, sizeof(tmp), ".tmp-%020" PRIu64, seq);
    entry_name(name, seq, prio);
    int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        seterr(s, "không ghi được hàng đợi / cannot write to the queue %s: %s", s->dir, strerror(errno));
        return KH_EIO;
    }
    if (write_all(fd, hdr, (size_t)hl) < 0 || write_all(fd, data, len) < 0 || fsync(fd) != 0) {
        seterr(s, "không ghi được hàng đợi / cannot write to the queue %s: %s", s->dir, strerror(errno));
        close(fd);
        unlinkat(s->dirfd, tmp, 0);
        return KH_EIO;
    }
    if (close(fd) != 0 || renameat(s->dirfd, tmp, s->dirfd, name) != 0) {
        seterr(s, "không ghi được hàng đợi / cannot write to the queue %s: %s", s->dir, strerror(errno));
        unlinkat(s->dirfd, tmp, 0);
        return KH_EIO;
    }
    if ((rc = sync_dir(s)) < 0) {
        unlinkat(s->dirfd, name, 0);
        return rc;
    }
    s->next_seq = seq + 1;
    s->idx.v[s->idx.n++] = (ent){seq, prio, size}; /* seq is the largest: stays sorted */
    s->bytes += size;
    if (seq_out)
        *seq_out = seq;
    return 0;
}

/* ---- batch / ack ---------------------------------------------------------------- */

void kh_spool_entries_free(kh_spool_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        free(e[i].data);
    free(e);
}

/* Reads and checks one event file. 0, KH_EFORMAT (damaged), KH_EIO, KH_ENOMEM. */
static int load(kh_spool *s, const ent *e, char **data, size_t *len)
{
    char name[64];
    entry_name(name, e->seq, e->prio);
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? KH_EFORMAT : KH_EIO;
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > KH_SPOOL_EVENT_MAX + HDR_MAX) {
        rc = KH_EFORMAT;
        goto done;
    }
    size_t sz = (size_t)st.st_size;
    if (!(buf = malloc(sz + 1))) {
        rc = KH_ENOMEM;
        goto done;
    }
    size_t got = 0;
    while (got < sz) {
        ssize_t r = read(fd, buf + got, sz - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != sz) {
        rc = KH_EFORMAT;
        goto done;
    }
    buf[sz] = 0;
    char *nl = memchr(buf, '\n', sz < HDR_MAX ? sz : HDR_MAX);
    unsigned long long plen;
    unsigned crc;
    char magic[16];
    if (!nl || sscanf(buf, "%15s %llu %8x", magic, &plen, &crc) != 3 || strcmp(magic, MAGIC) != 0) {
        rc = KH_EFORMAT;
        goto done;
    }
    size_t off = (size_t)(nl - buf) + 1;
    if (plen != sz - off || kh_spool__crc32(buf + off, (size_t)plen) != crc) {
        rc = KH_EFORMAT;
        goto done;
    }
    memmove(buf, buf + off, (size_t)plen);
    buf[plen] = 0;
    *data = buf;
    *len = (size_t)plen;
    buf = NULL;
done:
    free(buf);
    close(fd);
    return rc;
}

int kh_spool_batch(kh_spool *s, size_t max_n, size_t max_bytes, kh_spool_entry **out, size_t *n_out)
{
    if (!s || !out || !n_out || !max_n)
        return KH_EINVAL;
    kh_spool_entry *v = calloc(KH_MIN(max_n, s->idx.n) + 1, sizeof(*v));
    if (!v)
        return KH_ENOMEM;
    size_t n = 0, bytes = 0;
    size_t i = 0;
    while (i < s->idx.n && n < max_n) {
        ent e = s->idx.v[i];
        char *data;
        size_t len;
        int rc = load(s, &e, &data, &len);
        if (rc == KH_EFORMAT) {
            char name[64];
            entry_name(name, e.seq, e.prio);
            quarantine(s, name);
            index_remove_at(s, i);
            continue;
        }
        if (rc < 0) {
            seterr(s, "không đọc được hàng đợi / cannot read the queue %s: %s", s->dir, kh_strerror(rc));
            kh_spool_entries_free(v, n);
            return rc;
        }
        if (n > 0 && bytes + len > max_bytes) {
            free(data);
            break;
        }
        v[n++] = (kh_spool_entry){e.seq, e.prio, data, len};
        bytes += len;
        i++;
    }
    *out = v;
    *n_out = n;
    return 0;
}

int kh_spool_ack(kh_spool *s, const uint64_t *seqs, size_t n)
{
    if (!s || (n && !seqs))
        return KH_EINVAL;
    int any = 0;
    for (size_t k = 0; k < n; k++) {
        ent key = {seqs[k], 0, 0};
        ent *e = bsearch(&key, s->idx.v, s->idx.n, sizeof(ent), cmp_ent);
        if (!e)
            continue;
        char name[64];
        entry_name(name, e->seq, e->prio);
        if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
            seterr(s, "không xoá được sự kiện đã gửi / cannot remove a delivered event %s: %s", name,
                   strerror(errno));
            return KH_EIO;
        }
        index_remove_at(s, (size_t)(e - s->idx.v));
        any = 1;
    }
    return any ? sync_dir(s) : 0;
}

/* ---- getters ---------------------------------------------------------------------- */

size_t kh_spool_count(const kh_spool *s)
{
    return s ? s->idx.n : 0;
}

uint64_t kh_spool_bytes(const kh_spool *s)
{
    return s ? s->bytes : 0;
}

unsigned kh_spool_fill_percent(const kh_spool *s)
{
    if (!s)
        return 0;
    uint64_t a = (uint64_t)s->idx.n * 100 / s->lim.max_events;
    uint64_t b = s->bytes * 100 / s->lim.max_bytes;
    uint64_t p = a > b ? a : b;
    return p > 100 ? 100 : (unsigned)p;
}

const kh_spool_limits *kh_spool_get_limits(const kh_spool *s)
{
    return &s->lim;
}

uint64_t kh_spool_dropped(const kh_spool *s)
{
    return s ? s->dropped : 0;
}

uint64_t kh_spool_damaged(const kh_spool *s)
{
    return s ? s->damaged : 0;
}

const char *kh_spool_last_error(const kh_spool *s)
{
    return s ? s->err : "";
}
