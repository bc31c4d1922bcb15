/* Khiên — scan: the persistent clean-file cache.
 *
 * Most files on a computer do not change between two scans, and a file
 * already found clean by the same signature set need not be read again.
 * The cache remembers, per file, (device, inode, size, mtime, ctime) of
 * every file found clean; a file is skipped only if all five still match.
 * ctime cannot be set back by user programs, so a modified file is always
 * rescanned even if its mtime was restored.
 *
 * It is one file in the user's state directory: a header (magic, version,
 * a 32-byte identity, entry count, SHA-256 of the entries) and fixed-size
 * entries. The identity is a hash of the signature set's id and of the scan
 * options that can turn a clean verdict into something else: the limits
 * (max-filesize, max-scansize, max-recursion, max-files, the ratio, the
 * rule time-out: a lower one can leave part of a file unscanned, which
 * gives a warning or a Heuristics.Limits.Exceeded result) and YARA_ALL
 * (reports rules that did not match). --allmatch, --no-archive and
 * --alert-exceeds-max are not in it: a file is remembered only after a
 * complete scan found nothing and hit no limit, and such a file gives the
 * same empty result with any of them. A file made with another identity,
 * a corrupt one (bad magic, size or checksum) or a missing one all give an
 * empty cache: it is an optimisation, never trusted beyond its checksum.
 *
 * The identity needs only the set's id, which kh_compiler_identity()
 * computes from the database files' stat without loading the set: a scan
 * whose files are all unchanged never loads the signatures (walk.c).
 * Saving merges what other processes saved meanwhile (under flock), keeps
 * the most recently confirmed entries up to the bound, and replaces the
 * file atomically.
 *
 * In memory: an open-addressing hash table keyed by (device, inode),
 * guarded by one mutex (lookups are a few nanoseconds; the walker takes it
 * once per file, a worker once per file it scanned). A hit refreshes the
 * entry's "last confirmed" time only when it is a day old, so that a scan
 * of unchanged files does not rewrite the cache file every time. A dropped entry stays in the table as a tombstone with
 * the time of the drop, so that the merge at save time cannot bring back
 * the older record still on disk; tombstones are never written. The table
 * holds at most twice the bound of live entries: beyond that new files are
 * simply not remembered until the next save has trimmed it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"
#include "scan/scan_int.h"

#define CACHE_MAGIC "KHCACHE1"
#define DEFAULT_MAX (1u << 21) /* 2 Mi files, 96 MiB on disk */
#define MAX_FILE_ENTRIES (1u << 26)
#define REFRESH_MINUTES (24u * 60u) /* a hit older than this is re-dated (and the file saved) */

typedef struct centry {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    uint32_t seen; /* minutes since the epoch when last confirmed clean (or dropped) */
    uint32_t used; /* SLOT_*; only SLOT_LIVE entries are ever written */
} centry;

enum { SLOT_FREE = 0, SLOT_LIVE = 1, SLOT_DROPPED = 2 };

typedef struct chdr {
    char magic[8];
    uint32_t version, entsize;
    uint8_t rules[32];
    uint64_t n;
    uint8_t sum[32];
} chdr;

struct kh_cache {
    char *path;
    uint8_t rules[32];
    size_t max;
    pthread_mutex_t mu;
    centry *slot;
    size_t cap, n; /* cap is a power of two; n counts occupied slots */
    int slot_mapped; /* how slot was allocated (kh_alloc_zeroed) */
    size_t ndropped; /* tombstones among the n */
    int dirty;
    uint32_t now; /* minutes since the epoch, when opened */
};

static uint64_t mix(uint64_t dev, uint64_t ino)
{
    uint64_t h = dev * 0x9E3779B97F4A7C15ull ^ ino;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int64_t ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

static centry *find(kh_cache *c, uint64_t dev, uint64_t ino)
{
    if (!c->cap)
        return NULL;
    size_t i = (size_t)mix(dev, ino) & (c->cap - 1);
    for (;;) {
        centry *e = &c->slot[i];
        if (!e->used || (e->dev == dev && e->ino == ino))
            return e;
        i = (i + 1) & (c->cap - 1);
    }
}

/* Large tables come with their pages populated at once (kh_alloc_zeroed):
 * faulting them in one by one as entries land on them cost more than the
 * loading (a table for 12,000 files has 200 pages). */
static centry *slot_alloc(size_t n, int *mapped)
{
    return n > SIZE_MAX / sizeof(centry) ? NULL : kh_alloc_zeroed(n * sizeof(centry), mapped);
}

static void slot_free(centry *s, size_t n, int mapped)
{
    kh_free_zeroed(s, n * sizeof(centry), mapped);
}

/* Rehashes into a table of at least 1024 slots that holds `want` entries under 3/4 full. */
static int grow_to(kh_cache *c, size_t want)
{
    size_t ncap = c->cap ? c->cap * 2 : 1024;
    while (want * 4 > ncap * 3)
        ncap *= 2;
    int mapped;
    centry *ns_ = slot_alloc(ncap, &mapped);
    if (!ns_)
        return KH_ENOMEM;
    centry *old = c->slot;
    size_t ocap = c->cap;
    int omapped = c->slot_mapped;
    c->slot = ns_;
    c->cap = ncap;
    c->slot_mapped = mapped;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].used)
            *find(c, old[i].dev, old[i].ino) = old[i];
    slot_free(old, ocap, omapped);
    return 0;
}

/* Inserts or replaces (newer `seen` wins when merging). */
static int insert(kh_cache *c, const centry *e, int merge)
{
    if ((c->n + 1) * 4 > c->cap * 3 && grow_to(c, c->n + 1))
        return KH_ENOMEM;
    centry *s = find(c, e->dev, e->ino);
    if (s->used) {
        if (merge && s->seen >= e->seen)
            return 0; /* ours is newer: a live entry, or a drop */
        if (s->used == SLOT_DROPPED)
            c->ndropped--;
    } else {
        c->n++;
    }
    *s = *e;
    s->used = SLOT_LIVE;
    return 0;
}

/* Reads a cache file into c if it is intact and for the same rules. */
static void load(kh_cache *c, int fd)
{
    struct stat st;
    chdr h;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof(h) || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
        return;
    if (memcmp(h.magic, CACHE_MAGIC, 8) || h.version != 1 || h.entsize != sizeof(centry) ||
        memcmp(h.rules, c->rules, 32) || h.n > MAX_FILE_ENTRIES ||
        (uint64_t)st.st_size != sizeof(h) + h.n * sizeof(centry))
        return;
    size_t bytes = (size_t)h.n * sizeof(centry);
    kh_map m;
    if (kh_map_fd(&m, fd, sizeof(h) + bytes))
        return;
    const centry *v = (const centry *)(m.data + sizeof(h)); /* the header keeps them 8-byte aligned */
    uint8_t sum[32];
    if (kh_sha256(v, bytes, sum) || memcmp(sum, h.sum, 32) ||
        ((c->n + h.n) * 4 > c->cap * 3 && grow_to(c, c->n + (size_t)h.n))) {
        kh_map_release(&m);
        return;
    }
    for (uint64_t i = 0; i < h.n; i++)
        if (v[i].used == SLOT_LIVE)
            insert(c, &v[i], 1);
    kh_map_release(&m);
}

/* The identity a cache file is made for: the set and the result-changing options. */
static int identity(const uint8_t set_id[32], const kh_scan_options *o, uint8_t out[32])
{
    kh_scan_options def = KH_SCAN_OPTIONS_INIT;
    if (!o)
        o = &def;
    uint8_t buf[32 + 8 * 7];
    uint64_t v[7] = {o->max_filesize, o->max_scansize, o->max_depth, o->max_files, o->max_ratio, o->timeout_ms,
                     o->flags & KH_SCAN_YARA_ALL};
    memcpy(buf, set_id, 32);
    memcpy(buf + 32, v, sizeof(v));
    return kh_sha256(buf, sizeof(buf), out);
}

int kh_cache_open_set(kh_cache **out, const char *path, const uint8_t set_id[32], const kh_scan_options *opts,
                      size_t max_entries)
{
    if (!out || !path || !set_id || (opts && opts->version != KH_SCAN_OPTIONS_VERSION))
        return KH_EINVAL;
    kh_cache *c = calloc(1, sizeof(*c));
    if (!c || !(c->path = kh_strdup(path))) {
        free(c);
        return KH_ENOMEM;
    }
    if (identity(set_id, opts, c->rules)) {
        free(c->path);
        free(c);
        return KH_EINTERNAL;
    }
    c->max = max_entries ? max_entries : DEFAULT_MAX;
    c->now = (uint32_t)(time(NULL) / 60);
    pthread_mutex_init(&c->mu, NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        load(c, fd);
        close(fd);
    }
    *out = c;
    return 0;
}

int kh_cache_open(kh_cache **out, const char *path, const kh_rules *rules, size_t max_entries)
{
    if (!rules)
        return KH_EINVAL;
    return kh_cache_open_set(out, path, kh_rules_id(rules), NULL, max_entries);
}

size_t kh_cache_count(const kh_cache *c) { return c ? c->n - c->ndropped : 0; }

int kh_cache_check(kh_cache *c, const struct stat *st)
{
    pthread_mutex_lock(&c->mu);
    centry *e = find(c, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
    int hit = e && e->used == SLOT_LIVE && e->size == (uint64_t)st->st_size && e->mtime_ns == ns(&st->st_mtim) &&
              e->ctime_ns == ns(&st->st_ctim);
    if (hit && c->now - e->seen >= REFRESH_MINUTES && c->now > e->seen) {
        e->seen = c->now;
        c->dirty = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void kh_cache_put(kh_cache *c, const struct stat *st)
{
    centry e = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_size, ns(&st->st_mtim),
                ns(&st->st_ctim), c->now, 1};
    pthread_mutex_lock(&c->mu);
    const centry *s = find(c, e.dev, e.ino);
    int known = s && s->used == SLOT_LIVE;
    if ((known || c->n - c->ndropped < 2 * c->max) && insert(c, &e, 0) == 0)
        c->dirty = 1;
    pthread_mutex_unlock(&c->mu);
}

void kh_cache_drop(kh_cache *c, const struct stat *st)
{
    pthread_mutex_lock(&c->mu);
    centry *e = find(c, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
    if (e && e->used == SLOT_LIVE) {
        e->used = SLOT_DROPPED;
        e->seen = c->now;
        c->ndropped++;
        c->dirty = 1;
    }
    pthread_mutex_unlock(&c->mu);
}

static int cmp_seen_desc(const void *a, const void *b)
{
    const centry *x = a, *y = b;
    return x->seen > y->seen ? -1 : x->seen < y->seen;
}

int kh_cache_save(kh_cache *c)
{
    if (!c)
        return KH_EINVAL;
    pthread_mutex_lock(&c->mu);
    if (!c->dirty) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    int rc = 0;
    kh_buf lockp = KH_BUF_INIT(0);
    kh_buf_printf(&lockp, "%s.lock", c->path);
    int lfd = open(lockp.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd >= 0)
        flock(lfd, LOCK_EX);
    /* Merge what others saved since we loaded. */
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        kh_cache tmp = {0};
        memcpy(tmp.rules, c->rules, 32);
        load(&tmp, fd);
        close(fd);
        for (size_t i = 0; i < tmp.cap; i++)
            if (tmp.slot[i].used == SLOT_LIVE)
                insert(c, &tmp.slot[i], 1);
        slot_free(tmp.slot, tmp.cap, tmp.slot_mapped);
    }
    size_t n = 0;
    centry *v = malloc(sizeof(centry) * (c->n ? c->n : 1));
    if (!v) {
        rc = KH_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < c->cap; i++)
        if (c->slot[i].used == SLOT_LIVE)
            v[n++] = c->slot[i];
    if (n > c->max) {
        kh_qsort(v, n, sizeof(centry), cmp_seen_desc);
        n = c->max;
    }
    chdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = 1;
    h.entsize = sizeof(centry);
    memcpy(h.rules, c->rules, 32);
    h.n = n;
    if (kh_sha256(v, n * sizeof(centry), h.sum)) {
        rc = KH_EINTERNAL;
        goto done;
    }
    kh_buf data = KH_BUF_INIT(0);
    if (!(rc = kh_buf_append(&data, &h, sizeof(h))) && !(rc = kh_buf_append(&data, v, n * sizeof(centry))))
        rc = kh_write_atomic(c->path, data.data, data.len);
    kh_buf_dispose(&data);
    if (!rc)
        c->dirty = 0;
done:
    free(v);
    if (lfd >= 0)
        close(lfd);
    kh_buf_dispose(&lockp);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void kh_cache_destroy(kh_cache *c)
{
    if (!c)
        return;
    slot_free(c->slot, c->cap, c->slot_mapped);
    free(c->path);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
