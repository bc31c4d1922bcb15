/* Khiên — scan: walking paths and scanning them with a pool of threads.
 *
 * The calling thread walks: it visits the given paths in order and
 * directories depth-first with their entries sorted by name, classifies
 * each entry with one fstatat (regular file, directory, symlink, special;
 * a folder, as getdents64 tells, is opened without one unless symbolic
 * links are followed), applies the exclude patterns, looks regular files
 * up in the clean-file cache (device, inode, size, mtime, ctime: the
 * fstatat already gave them) and queues those it does not know. Worker threads, each with its own
 * kh_scanner, take files from the queue, scan, and store the result in the
 * entry. They take files of BIG_FILE or more first, the largest first, so
 * that a run does not end with one thread on a large file and the others
 * idle; files of HUGE_FILE or more one at a time while other work is left
 * (each is read whole into its scanner's buffer: two at once would double
 * the peak memory). Results are delivered in walk order whatever the thread count: an
 * entry is reported once every earlier one has been, so output is
 * deterministic; a window bounds how far the walker runs ahead.
 *
 * The signature set and the workers are started when the first file has
 * to be read (kh_scan_paths_lazy()): a second scan of unchanged files costs
 * the walk and one cache lookup per file, not the seconds of mapping and
 * checking ClamAV's official set (720 MB compiled), nor threads that would
 * only pass cached entries along.
 *
 * Folders are read in batches (kh_dir_read: getdents64 on Linux) and
 * opened relative to their parent, and with more than one thread the
 * walker shares the lstats of a large folder with a stat helper thread
 * (see sbatch): a scan of unchanged files
 * is nothing but this walk and the cache lookups, most of it kernel path
 * lookups. The walk order, what each entry is taken for and when it is
 * stat'ed relative to the folders around it stay as with one thread.
 *
 * Never blocks on special files (FIFOs, sockets and devices are skipped
 * from their stat, and files are opened O_NONBLOCK in case one appears in
 * between), never follows symlinks found inside folders unless asked (and
 * then remembers every directory it entered, so loops and diamonds are
 * walked once; a symlink named on the command line is always followed),
 * never stops because one file could not be read: that file's report
 * carries the error.
 *
 * Every TRIM_EVERY files a worker lets go of the pages of the compiled set's
 * mapping that lookups touched (kh_rules_trim): with ClamAV's official set
 * a scan of 15,000 files otherwise ends with hundreds of MB of hash-table
 * pages counted in its resident size.
 *
 * A file is remembered as clean in the cache only after a complete scan:
 * not when archives were left unopened (KH_SCAN_NO_ARCHIVE), nor when a
 * limit or a damaged member produced a warning. A later full scan must
 * not trust a partial one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/platform.h"
#include "scan/scan_int.h"

#define WINDOW 4096u     /* entries walked ahead of delivery */
#define BIG_FILE (2u << 20)   /* files from this size up are taken biggest first */
#define HUGE_FILE (16u << 20) /* ... and from this size up one at a time, while other work remains */
#define TRIM_EVERY 64u   /* files per worker between kh_rules_trim() calls */
#define MAX_DEPTH 512u   /* directory nesting */
#define MAX_PATH 16384u
#define DIRFD_DEPTH 64u /* directories kept open while walking their entries, at most */
#define STAT_BATCH 256u /* names in one batch of lstats shared with the stat helper, at most */
#define STAT_PAR_MIN 16u /* a shorter run of names is stat'ed by the walker alone */
#define SH_SPIN 50e-6  /* seconds the stat helper polls for the next batch before it sleeps */
#define NOT_A_DIR 1     /* walk_subdir(): the entry is no folder after all */
#define DIR_FLAGS (O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC) /* as opendir() */

typedef struct entry {
    char *path;
    struct stat st;
    int kind;   /* 0 file to scan, 1 finished (skip/error) */
    int follow; /* open through a final symlink (one named by the caller) */
    int done;
    kh_file_report rep;
    KH_VEC(kh_detection) dets;
    KH_VEC(char *) warns;
    KH_VEC(char *) logs;
    KH_VEC(void *) owned; /* copies of YARA rule details, freed with the entry */
    kh_buf strs; /* member names of detections, NUL-separated */
} entry;

struct dirkey {
    uint64_t dev, ino;
    int used;
};

/* An entry's lstat, taken relative to its open directory just before the
 * entry is walked: fstatat on a name costs one component lookup where lstat
 * on the full path walks every component again (a third of a rescan's time
 * went to that when all files were cached). */
typedef struct dent {
    int err; /* 0: st is valid, or an errno */
    struct stat st;
} dent;

/* A run of a directory's names whose lstats the stat helper takes from the
 * end while the walker, going from the start, takes each one just before
 * walking it (as without the helper); where they meet, each name has been
 * stat'ed by one of them. The walker never waits for the helper, nor takes
 * a lock the helper may hold (on a busy machine the helper can be off the
 * CPU at any point): a name the helper has claimed but not finished it
 * stats again itself; the names are copied in, so the walker can move on
 * (and free its own) while the helper finishes a stat; of the job's two
 * batches the walker fills the one the helper is not in. */
enum { SB_FREE = 0, SB_WALKER = 1, SB_HELPER = 2, SB_DONE = 3 };
typedef struct sbatch {
    int dfd;
    unsigned n;
    _Atomic int in; /* the helper is in it, or about to check whether it may enter */
    _Atomic unsigned char state[STAT_BATCH];
    uint32_t off[STAT_BATCH]; /* name i is text + off[i] */
    dent pre[STAT_BATCH];
    char text[STAT_BATCH * 256];
} sbatch;

typedef struct job {
    const kh_rules *rules; /* NULL until the first file needs reading */
    kh_rules_fn get_rules;
    void *rules_payload;
    pthread_t th[256];
    unsigned nthreads, started;
    const kh_scan_options *sopts;
    const kh_walk_options *wopts;
    kh_report_cb cb;
    void *payload;
    kh_walk_stats stats;

    pthread_mutex_t mu;
    pthread_cond_t cv_work;  /* workers wait for work */
    pthread_cond_t cv_space; /* walker waits for window space */
    entry *ring[WINDOW];
    uint64_t next_seq;      /* next sequence number the walker assigns */
    uint64_t next_take;     /* next entry a worker takes (in order) */
    uint64_t next_deliver;  /* next entry to report */
    int walking_done;
    int abort;
    int failed;             /* a hard error (ENOMEM) */
    int delivering;         /* a thread is in deliver_ready()'s loop */
    /* Files of BIG_FILE or more wait here, by size (largest last), not in
     * the walk order: taken first, the largest first, they do not end a
     * run with one thread scanning a 30 MB file while the others have
     * nothing left. Files of HUGE_FILE or more are taken one at a time
     * while anything else is left to do: each is read whole into its
     * scanner's buffer, and two at once would double the peak memory. */
    entry *big[WINDOW];
    size_t nbig;
    int huge_busy;          /* a HUGE_FILE is being scanned */

    /* directories entered, when following symlinks: an open-addressing set
     * of (dev, ino), so that a walk of a million folders stays linear */
    struct dirkey *seen;
    size_t nseen, capseen; /* capseen: 0 or a power of two */

    /* The stat helper (threads > 1): a thread that takes part of the lstats
     * of a large folder while the walker walks it. When every file is in
     * the clean-file cache the walk is all there is to a scan, and most of
     * it is those lstats (kernel path lookups). Started with the first
     * large folder; sb is its two batches. */
    pthread_t sh_th;
    int sh_state; /* 0 not tried, 1 running, -1 could not start */
    pthread_mutex_t sh_mu; /* with sh_cv: only for the helper's sleep */
    pthread_cond_t sh_cv;
    sbatch *sb;
    _Atomic long sh_cur;     /* the batch on offer: sh_gen * 2 + its index, or -1 */
    _Atomic int sh_sleeping; /* the helper may be waiting on sh_cv */
    _Atomic int sh_quit;
    long sh_gen;             /* counts offers (the walker's) */

    /* kh_dir_read's buffer (a folder's names are all read before its entries are walked) */
    _Alignas(8) char dents[32768];
} job;

static void entry_free(entry *e)
{
    if (!e)
        return;
    free(e->path);
    KH_VEC_FREE(e->dets);
    for (size_t i = 0; i < e->warns.n; i++)
        free(e->warns.v[i]);
    KH_VEC_FREE(e->warns);
    for (size_t i = 0; i < e->logs.n; i++)
        free(e->logs.v[i]);
    KH_VEC_FREE(e->logs);
    for (size_t i = 0; i < e->owned.n; i++)
        free(e->owned.v[i]);
    KH_VEC_FREE(e->owned);
    kh_buf_dispose(&e->strs);
    free((void *)e->rep.error);
    free(e);
}

/* ---- Delivery --------------------------------------------------------------- */

/* Reports every finished entry at the head of the walk order. One thread
 * delivers at a time; a thread that finds another one delivering goes back
 * to its work instead of waiting for it (the deliverer picks up entries
 * that finish meanwhile: it checks for the next one and gives up the role
 * under the same lock a finishing thread takes to mark its entry done).
 * With --json and a detection in most files, waiting here kept -j 2 at
 * about one core. */
static int deliver_one(job *j, entry *e)
{
    kh_file_report *r = &e->rep;
    r->path = e->path;
    r->detections = e->dets.v;
    r->ndetections = e->dets.n;
    r->warnings = (const char *const *)e->warns.v;
    r->nwarnings = e->warns.n;
    r->logs = (const char *const *)e->logs.v;
    r->nlogs = e->logs.n;
    /* Member strings were stored as offsets while the buffer grew. */
    for (size_t i = 0; i < e->dets.n; i++)
        if (e->dets.v[i].member)
            e->dets.v[i].member = e->strs.data + (uintptr_t)e->dets.v[i].member - 1;
    if (r->status)
        j->stats.errors++;
    else if (r->skipped)
        j->stats.skipped++;
    else {
        j->stats.files++;
        j->stats.cached += (uint64_t)r->cached;
        j->stats.bytes += r->bytes_scanned;
        j->stats.detections += e->dets.n;
        j->stats.infected += e->dets.n > 0;
    }
    return !j->abort && j->cb && j->cb(r, j->payload) != 0;
}

static void deliver_ready(job *j)
{
    pthread_mutex_lock(&j->mu);
    if (j->delivering) {
        pthread_mutex_unlock(&j->mu);
        return;
    }
    j->delivering = 1;
    entry *prev = NULL; /* freed outside the lock, once out of the ring (workers look at ring entries) */
    for (;;) {
        entry *e = j->next_deliver < j->next_seq ? j->ring[j->next_deliver % WINDOW] : NULL;
        if (!e || !e->done) {
            j->delivering = 0;
            break;
        }
        pthread_mutex_unlock(&j->mu);
        entry_free(prev);
        int stop = deliver_one(j, e);
        pthread_mutex_lock(&j->mu);
        if (stop)
            j->abort = 1;
        j->ring[j->next_deliver % WINDOW] = NULL;
        j->next_deliver++;
        pthread_cond_broadcast(&j->cv_space);
        prev = e;
    }
    pthread_mutex_unlock(&j->mu);
    entry_free(prev);
}

/* A file to scan of BIG_FILE or more: kept in job.big, not taken in walk order. */
static int is_big(const entry *e) { return e->kind == 0 && (uint64_t)e->st.st_size >= BIG_FILE; }
static int is_huge(const entry *e) { return e->kind == 0 && (uint64_t)e->st.st_size >= HUGE_FILE; }

/* Adds an entry at the end of the walk order (blocks while the window is full). */
static int enqueue(job *j, entry *e)
{
    pthread_mutex_lock(&j->mu);
    while (!j->abort && j->next_seq - j->next_deliver >= WINDOW)
        pthread_cond_wait(&j->cv_space, &j->mu);
    if (j->abort) {
        pthread_mutex_unlock(&j->mu);
        entry_free(e);
        return KH_EUSER;
    }
    j->ring[j->next_seq % WINDOW] = e;
    j->next_seq++;
    if (is_big(e)) {
        size_t i = j->nbig; /* ordered insertion: few big files, and the window bounds them */
        while (i > 0 && j->big[i - 1]->st.st_size > e->st.st_size)
            i--;
        memmove(&j->big[i + 1], &j->big[i], (j->nbig - i) * sizeof(j->big[0]));
        j->big[i] = e;
        j->nbig++;
    }
    /* Once unlocked, a worker may scan, deliver and free e: read it now. */
    int done = e->done;
    pthread_cond_signal(&j->cv_work);
    pthread_mutex_unlock(&j->mu);
    if (done)
        deliver_ready(j);
    return 0;
}

static entry *new_entry(const char *path)
{
    entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->path = kh_strdup(path))) {
        free(e);
        return NULL;
    }
    kh_buf_init(&e->strs, 1u << 24);
    return e;
}

/* The report of an entry that needs no worker; neither skipped nor an
 * error means known clean from the cache. */
static void finished_rep(kh_file_report *r, const struct stat *st, kh_skip_reason why, int err)
{
    if (st)
        r->size = (uint64_t)st->st_size;
    r->skipped = why;
    r->status = err;
    r->cached = !why && !err;
}

/* An entry that needs no worker (skipped, an error, known clean). */
static int finished(job *j, const char *path, const struct stat *st, kh_skip_reason why, int err, const char *msg)
{
    /* Nothing waiting to be reported (so always while no file has had to be
     * read): report it at once, from the stack. */
    pthread_mutex_lock(&j->mu);
    if (j->next_deliver == j->next_seq && !j->delivering && !j->abort) {
        j->delivering = 1; /* the ring is empty and only this thread fills it */
        pthread_mutex_unlock(&j->mu);
        entry e;
        memset(&e, 0, sizeof(e));
        e.path = (char *)path;
        finished_rep(&e.rep, st, why, err);
        e.rep.error = msg;
        int stop = deliver_one(j, &e);
        pthread_mutex_lock(&j->mu);
        if (stop)
            j->abort = 1;
        j->delivering = 0;
        pthread_mutex_unlock(&j->mu);
        return 0;
    }
    pthread_mutex_unlock(&j->mu);
    entry *e = new_entry(path);
    if (!e)
        return KH_ENOMEM;
    e->kind = 1;
    e->done = 1;
    if (st)
        e->st = *st;
    finished_rep(&e->rep, st, why, err);
    if (msg && !(e->rep.error = kh_strdup(msg))) {
        entry_free(e);
        return KH_ENOMEM;
    }
    return enqueue(j, e);
}

/* ---- Workers ---------------------------------------------------------------- */

static void *own(entry *e, const void *p, size_t n)
{
    if (KH_VEC_RESERVE(e->owned, 1, 0))
        return NULL;
    void *c = malloc(n ? n : 1);
    if (!c)
        return NULL;
    if (n)
        memcpy(c, p, n);
    e->owned.v[e->owned.n++] = c;
    return c;
}

/* A YARA rule's details outlive the scan of the file: copy what is not owned
 * by the rules (the arrays, and the matched bytes which point into the file). */
static const kh_rule_info *copy_rule(entry *e, const kh_rule_info *in)
{
    kh_rule_info *r = own(e, in, sizeof(*in));
    if (!r)
        return NULL;
    r->tags = in->ntags ? own(e, in->tags, in->ntags * sizeof(char *)) : NULL;
    r->meta = in->nmeta ? own(e, in->meta, in->nmeta * sizeof(kh_meta)) : NULL;
    if (in->nstrings) {
        kh_string_match *sm = own(e, in->strings, in->nstrings * sizeof(kh_string_match));
        r->strings = sm;
        size_t total = 0;
        for (size_t i = 0; sm && i < in->nstrings; i++)
            total += in->strings[i].data_len;
        uint8_t *data = NULL;
        if (sm && total) {
            data = malloc(total);
            if (data && !KH_VEC_RESERVE(e->owned, 1, 0)) {
                e->owned.v[e->owned.n++] = data;
            } else {
                free(data);
                data = NULL;
            }
        }
        for (size_t i = 0, off = 0; sm && i < in->nstrings; i++) {
            if (data && in->strings[i].data_len)
                memcpy(data + off, in->strings[i].data, in->strings[i].data_len);
            sm[i].data = data ? data + off : (const uint8_t *)"";
            if (!data)
                sm[i].data_len = 0;
            off += in->strings[i].data_len;
        }
    }
    return r;
}

static int on_detect(const kh_detection *d, void *payload)
{
    entry *e = payload;
    if (KH_VEC_RESERVE(e->dets, 1, 1u << 20))
        return 0;
    kh_detection c = *d;
    if (d->rule && !(c.rule = copy_rule(e, d->rule)))
        return 0;
    if (d->member) {
        size_t off = e->strs.len;
        if (kh_buf_append(&e->strs, d->member, strlen(d->member) + 1))
            c.member = NULL;
        else
            c.member = (const char *)(uintptr_t)(off + 1); /* fixed up at delivery */
    }
    e->dets.v[e->dets.n++] = c;
    return 0;
}

static void on_warn(const char *member, const char *msg, void *payload)
{
    entry *e = payload;
    if (e->warns.n >= 64 || KH_VEC_RESERVE(e->warns, 1, 64))
        return;
    kh_buf w = KH_BUF_INIT(4096);
    if (member)
        kh_buf_printf(&w, "%s: %s", member, msg);
    else
        kh_buf_puts(&w, msg);
    char *s = kh_buf_detach(&w, NULL);
    if (s)
        e->warns.v[e->warns.n++] = s;
}

static void on_log(const char *msg, size_t n, void *payload)
{
    entry *e = payload;
    if (e->logs.n >= 4096 || KH_VEC_RESERVE(e->logs, 1, 4096))
        return;
    char *c = kh_strndup(msg, n);
    if (c)
        e->logs.v[e->logs.n++] = c;
}

static void scan_entry(job *j, kh_scanner *s, entry *e)
{
    kh_file_report *r = &e->rep;
    kh_cache *cache = j->wopts->cache;
    int fd = kh_open_scan(AT_FDCWD, e->path, !(j->wopts->follow_symlinks || e->follow));
    if (fd < 0) {
        r->status = kh_errno_to_kh(-fd);
        r->error = kh_strdup(strerror(-fd));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        /* Replaced by something else since the walk saw it. */
        r->skipped = KH_SKIP_SPECIAL;
        close(fd);
        return;
    }
    r->size = (uint64_t)st.st_size;
    if (j->sopts->max_filesize && (uint64_t)st.st_size > j->sopts->max_filesize) {
        r->skipped = KH_SKIP_TOO_BIG;
        close(fd);
        return;
    }
    uint64_t before = kh_scanner_bytes_scanned(s);
    s->name_hint = e->path;
    kh_scanner_set_log(s, on_log, e);
    int rc = kh_scanner_scan_fd_st(s, fd, &st, on_detect, on_warn, e);
    s->name_hint = NULL;
    close(fd);
    r->bytes_scanned = kh_scanner_bytes_scanned(s) - before;
    if (rc) {
        r->status = rc;
        r->error = kh_strdup(kh_scanner_last_error(s)[0] ? kh_scanner_last_error(s) : kh_strerror(rc));
        return;
    }
    if (cache) {
        if (e->dets.n == 0 && e->warns.n == 0 && !(j->sopts->flags & KH_SCAN_NO_ARCHIVE))
            kh_cache_put(cache, &st);
        else if (e->dets.n || e->warns.n)
            kh_cache_drop(cache, &st);
    }
}

/* Takes job.big[i] out of the list. */
static entry *take_big(job *j, size_t i)
{
    entry *e = j->big[i];
    memmove(&j->big[i], &j->big[i + 1], (j->nbig - i - 1) * sizeof(j->big[0]));
    j->nbig--;
    return e;
}

/* The next file for a worker (under j->mu), or NULL when there is none to
 * take now: the largest big file (the largest below HUGE_FILE while a huge
 * one is being scanned), else the next small one in walk order, else a
 * huge file after all (better than an idle thread at the end of a run). */
static entry *take(job *j)
{
    size_t i = j->nbig;
    while (i > 0 && j->huge_busy && is_huge(j->big[i - 1]))
        i--;
    if (i > 0)
        return take_big(j, i - 1);
    /* Skip finished entries (skips, errors) and big ones; those before
     * next_deliver may already be freed. */
    while (j->next_take < j->next_seq && (j->next_take < j->next_deliver || j->ring[j->next_take % WINDOW]->kind == 1 ||
                                          is_big(j->ring[j->next_take % WINDOW])))
        j->next_take++;
    if (j->next_take < j->next_seq)
        return j->ring[j->next_take++ % WINDOW];
    /* Nothing but huge files left: take one now if the walk is over (no
     * other work will come), else wait for more of the walk. */
    if (j->nbig && j->walking_done)
        return take_big(j, j->nbig - 1);
    return NULL;
}

static void *worker(void *arg)
{
    job *j = arg;
    kh_scanner *s = NULL;
    int crc = kh_scanner_create(&s, j->rules, j->sopts);
    for (size_t i = 0; !crc && i < j->wopts->ndefines; i++) {
        const char *d = j->wopts->defines[i], *eq = strchr(d, '=');
        char name[256];
        if (!eq || (size_t)(eq - d) >= sizeof(name))
            continue;
        memcpy(name, d, (size_t)(eq - d));
        name[eq - d] = 0;
        kh_scanner_define(s, name, eq + 1); /* unknown names are the compiler's business */
    }
    uint64_t scanned = 0;
    if (crc != 0) {
        pthread_mutex_lock(&j->mu);
        j->failed = KH_ENOMEM;
        j->abort = 1;
        pthread_cond_broadcast(&j->cv_space);
        pthread_cond_broadcast(&j->cv_work);
        pthread_mutex_unlock(&j->mu);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&j->mu);
        entry *e = NULL;
        while (!j->abort && !(e = take(j)) && !(j->walking_done && !j->nbig))
            pthread_cond_wait(&j->cv_work, &j->mu);
        int huge = e && is_huge(e);
        if (huge)
            j->huge_busy++;
        pthread_mutex_unlock(&j->mu);
        if (!e)
            break;
        scan_entry(j, s, e);
        if (++scanned % TRIM_EVERY == 0)
            kh_rules_trim(j->rules);
        pthread_mutex_lock(&j->mu);
        e->done = 1;
        if (huge) {
            j->huge_busy--;
            pthread_cond_broadcast(&j->cv_work); /* a thread may wait for the next huge file */
        }
        pthread_mutex_unlock(&j->mu);
        deliver_ready(j);
    }
    kh_scanner_destroy(s);
    return NULL;
}

/* ---- Starting the engine ------------------------------------------------------- */

/* Gets the signature set and starts the workers, once (walker thread only). */
static int start_engine(job *j)
{
    if (j->rules)
        return 0;
    const kh_rules *r = NULL;
    int rc = j->get_rules(j->rules_payload, &r);
    if (!rc && !r)
        rc = KH_EINVAL;
    if (rc)
        return rc == KH_EUSER ? KH_EINTERNAL : rc;
    j->rules = r;
    for (; j->started < j->nthreads; j->started++)
        if (pthread_create(&j->th[j->started], NULL, worker, j) != 0)
            break;
    return j->started ? 0 : KH_ENOMEM;
}

/* ---- Walking ------------------------------------------------------------------ */

static int excluded(const kh_walk_options *w, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base && base[1] ? base + 1 : path;
    for (size_t i = 0; i < w->nexcludes; i++)
        if (fnmatch(w->excludes[i], path, 0) == 0 || fnmatch(w->excludes[i], base, 0) == 0)
            return 1;
    return 0;
}

static size_t dir_slot(const struct dirkey *set, size_t cap, uint64_t dev, uint64_t ino)
{
    uint64_t h = (dev * 0x9E3779B97F4A7C15ull) ^ ino;
    h ^= h >> 31;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    size_t i = (size_t)h & (cap - 1);
    while (set[i].used && !(set[i].dev == dev && set[i].ino == ino))
        i = (i + 1) & (cap - 1);
    return i;
}

/* Has this directory been entered before? Records it if not. (If memory
 * runs out it is not recorded: MAX_DEPTH still ends any loop.) */
static int seen_dir(job *j, const struct stat *st)
{
    uint64_t dev = (uint64_t)st->st_dev, ino = (uint64_t)st->st_ino;
    if ((j->nseen + 1) * 2 > j->capseen) {
        size_t ncap = j->capseen ? j->capseen * 2 : 256;
        struct dirkey *n = calloc(ncap, sizeof(*n));
        if (n) {
            for (size_t i = 0; i < j->capseen; i++)
                if (j->seen[i].used)
                    n[dir_slot(n, ncap, j->seen[i].dev, j->seen[i].ino)] = j->seen[i];
            free(j->seen);
            j->seen = n;
            j->capseen = ncap;
        }
    }
    if (!j->capseen)
        return 0;
    struct dirkey *k = &j->seen[dir_slot(j->seen, j->capseen, dev, ino)];
    if (k->used)
        return 1;
    if ((j->nseen + 1) * 2 > j->capseen)
        return 0; /* full and could not grow */
    k->dev = dev;
    k->ino = ino;
    k->used = 1;
    j->nseen++;
    return 0;
}

/* ---- The stat helper ------------------------------------------------------------ */

static void *stat_helper(void *arg)
{
    job *j = arg;
    long done = -1;
    while (!atomic_load(&j->sh_quit)) {
        long cur = atomic_load(&j->sh_cur);
        /* The next offer usually comes within microseconds: a sleep and a
         * wake-up per batch cost more than the stats it takes over. */
        if (cur < 0 || cur == done) {
            double until = kh_now() + SH_SPIN;
            for (unsigned k = 1; (cur < 0 || cur == done) && !atomic_load(&j->sh_quit); k++) {
                if (k % 64 == 0 && kh_now() > until)
                    break;
                kh_cpu_relax();
                cur = atomic_load(&j->sh_cur);
            }
        }
        if (cur < 0 || cur == done) {
            atomic_store(&j->sh_sleeping, 1);
            pthread_mutex_lock(&j->sh_mu);
            while (!atomic_load(&j->sh_quit) && ((cur = atomic_load(&j->sh_cur)) < 0 || cur == done))
                pthread_cond_wait(&j->sh_cv, &j->sh_mu);
            pthread_mutex_unlock(&j->sh_mu);
            atomic_store(&j->sh_sleeping, 0);
            continue;
        }
        sbatch *b = &j->sb[cur & 1];
        atomic_store(&b->in, 1);
        /* Still on offer after `in` was set: the walker will not refill it before `in` is cleared. */
        if (atomic_load(&j->sh_cur) == cur) {
            for (unsigned i = b->n; i-- > 0;) {
                unsigned char want = SB_FREE;
                if (!atomic_compare_exchange_strong(&b->state[i], &want, SB_HELPER))
                    break; /* the walker got here */
                dent *p = &b->pre[i];
                p->err = fstatat(b->dfd, b->text + b->off[i], &p->st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
                atomic_store_explicit(&b->state[i], SB_DONE, memory_order_release);
            }
        }
        atomic_store(&b->in, 0);
        done = cur;
    }
    return NULL;
}

/* Starts the helper once; 0 if it runs. */
static int stat_helper_start(job *j)
{
    if (j->sh_state)
        return j->sh_state > 0 ? 0 : -1;
    j->sh_state = -1;
    if (!(j->sb = calloc(2, sizeof(sbatch))))
        return -1;
    pthread_mutex_init(&j->sh_mu, NULL);
    pthread_cond_init(&j->sh_cv, NULL);
    atomic_store(&j->sh_cur, -1);
    if (pthread_create(&j->sh_th, NULL, stat_helper, j) != 0) {
        pthread_mutex_destroy(&j->sh_mu);
        pthread_cond_destroy(&j->sh_cv);
        free(j->sb);
        j->sb = NULL;
        return -1;
    }
    j->sh_state = 1;
    return 0;
}

static void stat_helper_stop(job *j)
{
    if (j->sh_state <= 0)
        return;
    atomic_store(&j->sh_quit, 1);
    pthread_mutex_lock(&j->sh_mu);
    pthread_cond_signal(&j->sh_cv);
    pthread_mutex_unlock(&j->sh_mu);
    pthread_join(j->sh_th, NULL);
    pthread_mutex_destroy(&j->sh_mu);
    pthread_cond_destroy(&j->sh_cv);
    free(j->sb);
}

typedef struct dname {
    const char *name;   /* in walk_dir's arena (an offset while it grows) */
    unsigned char type; /* KH_DT_* */
} dname;

/* Offers names[from, from + n) to the helper; returns the batch. */
static sbatch *stat_publish(job *j, int dfd, const dname *names, size_t from, unsigned n)
{
    atomic_store(&j->sh_cur, -1);                      /* from now on the helper enters no batch... */
    sbatch *b = &j->sb[atomic_load(&j->sb[0].in) ? 1 : 0]; /* ...and is in one at most */
    b->dfd = dfd;
    b->n = n;
    size_t used = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t len = strlen(names[from + i].name) + 1; /* a d_name: at most 256 */
        memcpy(b->text + used, names[from + i].name, len);
        b->off[i] = (uint32_t)used;
        used += len;
        atomic_store_explicit(&b->state[i], SB_FREE, memory_order_relaxed);
    }
    j->sh_gen++;
    atomic_store(&j->sh_cur, j->sh_gen * 2 + (b - j->sb));
    /* A helper between its check and its wait holds the lock: it sleeps
     * through this offer (no harm, the walker stats them all then). */
    if (atomic_load(&j->sh_sleeping) && pthread_mutex_trylock(&j->sh_mu) == 0) {
        pthread_cond_signal(&j->sh_cv);
        pthread_mutex_unlock(&j->sh_mu);
    }
    return b;
}

static void stat_retract(job *j) { atomic_store(&j->sh_cur, -1); }

/* Folders need no lstat when symbolic links are not followed: nothing of
 * their stat is used then (seen_dir() needs it), so one that getdents64 says
 * is a folder is opened at once (walk_subdir()). */
static int skips_dir_stat(const job *j, unsigned char type) { return type == KH_DT_DIR && !j->wopts->follow_symlinks; }

/* A folder's names as kh_dir_read gives them: offsets in the arena until
 * the folder is read (the arena moves as it grows). */
typedef struct dlist {
    dname *v;
    size_t n, cap;
    kh_buf arena;
} dlist;

static int dlist_add(void *ud, const char *name, unsigned type)
{
    dlist *d = ud;
    size_t off = d->arena.len;
    if (kh_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v), 0) ||
        kh_buf_append(&d->arena, name, strlen(name) + 1))
        return KH_ENOMEM;
    d->v[d->n].name = (const char *)(uintptr_t)off;
    d->v[d->n].type = (unsigned char)type;
    d->n++;
    return 0;
}

/* The run of names from `from` a batch covers: up to the first that may be
 * a folder (walking it takes long: the names after it are stat'ed after it,
 * as without the helper), and that one too if it needs an lstat. */
static unsigned batch_len(const job *j, const dname *names, size_t from, size_t n)
{
    unsigned k = 0;
    while (from + k < n && k < STAT_BATCH) {
        unsigned char t = names[from + k].type;
        if (skips_dir_stat(j, t))
            break;
        k++;
        if (t == KH_DT_DIR || t == KH_DT_UNKNOWN || (t == KH_DT_LNK && j->wopts->follow_symlinks))
            break;
    }
    return k;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const dname *)a)->name, ((const dname *)b)->name);
}

static int walk_path(job *j, const char *path, int top, unsigned depth, const dent *pre, int pfd, const char *name);
static int walk_subdir(job *j, const char *path, unsigned depth, int pfd, const char *name);

/* pfd, name: the folder's parent, open, and its name there (or -1); fd: the
 * folder already open (or -1). st: its stat, or NULL (not needed then). */
static int walk_dir(job *j, const char *path, const struct stat *st, unsigned depth, int pfd, const char *name,
                    int fd)
{
    if (depth > MAX_DEPTH) {
        if (fd >= 0)
            close(fd);
        return finished(j, path, st, KH_SKIP_NONE, KH_ELIMIT, "directory nesting too deep");
    }
    if (j->wopts->follow_symlinks && seen_dir(j, st))
        return finished(j, path, st, KH_SKIP_LOOP, 0, NULL);
    /* Opened relative to the parent (one name to look up, not the whole
     * path) when the full path would do as well, and read with getdents64
     * (opendir() would add an fstat per folder, fdopendir() an fcntl too). */
    int dfd = fd >= 0                                 ? fd
              : pfd >= 0 && strlen(path) < PATH_MAX ? openat(pfd, name, DIR_FLAGS)
                                                    : open(path, DIR_FLAGS);
    if (dfd < 0) {
        int e = errno;
        return finished(j, path, st, KH_SKIP_NONE, kh_errno_to_kh(e), strerror(e));
    }
    j->stats.dirs++;
    dlist dl = {NULL, 0, 0, KH_BUF_INIT(0)};
    /* A folder that fails part way is walked as far as it was read. */
    int rc = kh_dir_read(dfd, j->dents, sizeof(j->dents), dlist_add, &dl);
    rc = rc == KH_ENOMEM ? rc : 0;
    dname *names = dl.v;
    size_t n = dl.n;
    kh_buf arena = dl.arena;
    for (size_t i = 0; i < n; i++)
        names[i].name = arena.data + (uintptr_t)names[i].name;
    if (depth >= DIRFD_DEPTH) {
        close(dfd); /* deep down, file descriptors are kept for the workers: full paths */
        dfd = -1;
    }
    if (!rc)
        kh_qsort(names, n, sizeof(*names), cmp_name);
    int par = dfd >= 0 && n >= STAT_PAR_MIN && j->nthreads > 1 && stat_helper_start(j) == 0;
    sbatch *b = NULL;
    size_t bfrom = 0;
    unsigned bn = 0;
    long bgen = 0;
    kh_buf p = KH_BUF_INIT(MAX_PATH);
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *nm = names[i].name;
        if (par && (!b || i >= bfrom + bn)) {
            if (b)
                stat_retract(j);
            b = NULL;
            bn = batch_len(j, names, i, n);
            if (bn >= STAT_PAR_MIN) {
                b = stat_publish(j, dfd, names, i, bn);
                bgen = j->sh_gen;
            }
            bfrom = i;
        }
        kh_buf_clear(&p);
        if (kh_buf_append(&p, path, plen) || (!(plen == 1 && path[0] == '/') && kh_buf_putc(&p, '/')) ||
            kh_buf_puts(&p, nm)) {
            rc = finished(j, nm, NULL, KH_SKIP_NONE, KH_ELIMIT, "path too long");
            continue;
        }
        if (dfd >= 0 && skips_dir_stat(j, names[i].type)) {
            if (j->wopts->max_depth && depth + 1 >= j->wopts->max_depth)
                continue; /* not descending (yara without -r) */
            int r = walk_subdir(j, p.data, depth + 1, dfd, nm);
            if (b && j->sh_gen != bgen)
                b = NULL;
            if (r != NOT_A_DIR) {
                rc = r;
                continue;
            }
            /* no folder any more: walked from its lstat, as any entry */
        }
        dent pre;
        unsigned char got = SB_FREE;
        if (b && !atomic_compare_exchange_strong(&b->state[i - bfrom], &got, SB_WALKER) && got == SB_DONE)
            pre = b->pre[i - bfrom]; /* the helper's (its stores were released before SB_DONE) */
        else if (dfd >= 0)
            pre.err = fstatat(dfd, nm, &pre.st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
        else
            pre.err = lstat(p.data, &pre.st) == 0 ? 0 : errno;
        if (j->wopts->max_depth && depth + 1 >= j->wopts->max_depth && !pre.err && S_ISDIR(pre.st.st_mode))
            continue; /* not descending (yara without -r) */
        rc = walk_path(j, p.data, 0, depth + 1, &pre, dfd, nm);
        if (b && j->sh_gen != bgen)
            b = NULL; /* a folder walked meanwhile used the batches: the rest without this one */
    }
    if (b)
        stat_retract(j);
    if (dfd >= 0)
        close(dfd);
    kh_buf_dispose(&p);
    kh_buf_dispose(&arena);
    free(names);
    return rc;
}

/* A sub-folder found by getdents64, walked without an lstat (see
 * skips_dir_stat()): what walk_path() would do with it, in the same order.
 * NOT_A_DIR if it is no folder by now (the caller walks it as any entry). */
static int walk_subdir(job *j, const char *path, unsigned depth, int pfd, const char *name)
{
    if (j->abort)
        return KH_EUSER;
    if (excluded(j->wopts, path))
        return finished(j, path, NULL, KH_SKIP_EXCLUDED, 0, NULL);
    if (depth > MAX_DEPTH)
        return finished(j, path, NULL, KH_SKIP_NONE, KH_ELIMIT, "directory nesting too deep");
    if (strlen(path) >= PATH_MAX)
        return NOT_A_DIR; /* opened by its full path from its lstat, as before */
    int fd = openat(pfd, name, DIR_FLAGS | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        if (e == ENOTDIR || e == ELOOP)
            return NOT_A_DIR;
        return finished(j, path, NULL, KH_SKIP_NONE, kh_errno_to_kh(e), strerror(e));
    }
    return walk_dir(j, path, NULL, depth, pfd, name, fd);
}

/* pre: the entry's lstat taken by walk_dir(), or NULL; pfd, name: its folder, open, and its name there (or -1). */
static int walk_path(job *j, const char *path, int top, unsigned depth, const dent *pre, int pfd, const char *name)
{
    struct stat st;
    if (j->abort)
        return KH_EUSER;
    if (!top && excluded(j->wopts, path))
        return finished(j, path, NULL, KH_SKIP_EXCLUDED, 0, NULL);
    if (pre && pre->err)
        return finished(j, path, NULL, KH_SKIP_NONE, kh_errno_to_kh(pre->err), strerror(pre->err));
    if (pre)
        st = pre->st;
    else if (lstat(path, &st) != 0) {
        int e = errno;
        return finished(j, path, NULL, KH_SKIP_NONE, kh_errno_to_kh(e), strerror(e));
    }
    int link = S_ISLNK(st.st_mode);
    if (link) {
        if (!top && !j->wopts->follow_symlinks)
            return finished(j, path, &st, KH_SKIP_SYMLINK, 0, NULL);
        if (stat(path, &st) != 0) {
            int e = errno;
            return finished(j, path, NULL, e == ELOOP ? KH_SKIP_LOOP : KH_SKIP_NONE,
                            e == ELOOP ? 0 : kh_errno_to_kh(e), e == ELOOP ? NULL : strerror(e));
        }
    }
    if (S_ISDIR(st.st_mode)) {
        /* A followed link to a folder past max_depth: not descending either
         * (walk_dir() leaves out the real folders; yara does the same). */
        if (link && !top && j->wopts->max_depth && depth >= j->wopts->max_depth)
            return 0;
        return walk_dir(j, path, &st, depth, pfd, name, -1);
    }
    if (!S_ISREG(st.st_mode))
        return finished(j, path, &st, KH_SKIP_SPECIAL, 0, NULL);
    /* Too big first: a file remembered clean may have grown past the limit. */
    if (j->sopts->max_filesize && (uint64_t)st.st_size > j->sopts->max_filesize)
        return finished(j, path, &st, KH_SKIP_TOO_BIG, 0, NULL);
    if (j->wopts->cache && kh_cache_check(j->wopts->cache, &st))
        return finished(j, path, &st, KH_SKIP_NONE, 0, NULL);
    int rc = start_engine(j);
    if (rc)
        return rc;
    entry *e = new_entry(path);
    if (!e)
        return KH_ENOMEM;
    e->st = st;
    e->follow = link;
    e->rep.size = (uint64_t)st.st_size;
    return enqueue(j, e);
}

static int given_rules(void *payload, const kh_rules **out)
{
    *out = payload;
    return 0;
}

int kh_scan_paths(const kh_rules *rules, const kh_scan_options *sopts, const kh_walk_options *wopts,
                  const char *const *paths, size_t npaths, kh_report_cb on_report, void *payload,
                  kh_walk_stats *stats_out)
{
    if (!rules)
        return KH_EINVAL;
    return kh_scan_paths_lazy(given_rules, (void *)(uintptr_t)rules, sopts, wopts, paths, npaths, on_report,
                              payload, stats_out);
}

int kh_scan_paths_lazy(kh_rules_fn get_rules, void *rules_payload, const kh_scan_options *sopts,
                       const kh_walk_options *wopts, const char *const *paths, size_t npaths,
                       kh_report_cb on_report, void *payload, kh_walk_stats *stats_out)
{
    kh_scan_options sdef = KH_SCAN_OPTIONS_INIT;
    kh_walk_options wdef = KH_WALK_OPTIONS_INIT;
    if (!get_rules || (!paths && npaths) || (sopts && sopts->version != KH_SCAN_OPTIONS_VERSION) ||
        (wopts && wopts->version != KH_WALK_OPTIONS_VERSION))
        return KH_EINVAL;
    job *j = calloc(1, sizeof(*j));
    if (!j)
        return KH_ENOMEM;
    j->get_rules = get_rules;
    j->rules_payload = rules_payload;
    j->sopts = sopts ? sopts : &sdef;
    j->wopts = wopts ? wopts : &wdef;
    j->cb = on_report;
    j->payload = payload;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv_work, NULL);
    pthread_cond_init(&j->cv_space, NULL);
    j->nthreads = j->wopts->threads ? j->wopts->threads : kh_ncpu();
    if (j->nthreads > 256)
        j->nthreads = 256;
    if (j->nthreads == 0)
        j->nthreads = 1;
    int rc = 0;
    for (size_t i = 0; i < npaths && !rc; i++)
        rc = walk_path(j, paths[i], 1, 0, NULL, -1, NULL);
    pthread_mutex_lock(&j->mu);
    j->walking_done = 1;
    if (rc && rc != KH_EUSER)
        j->abort = 1;
    pthread_cond_broadcast(&j->cv_work);
    pthread_cond_broadcast(&j->cv_space);
    pthread_mutex_unlock(&j->mu);
    stat_helper_stop(j);
    for (unsigned i = 0; i < j->started; i++)
        pthread_join(j->th[i], NULL);
    deliver_ready(j);
    if (j->failed && (!rc || rc == KH_EUSER))
        rc = j->failed; /* a worker could not start (the walker saw only the abort) */
    if (!rc && j->abort)
        rc = KH_EUSER;
    /* Entries never delivered (abort). */
    for (uint64_t s = j->next_deliver; s < j->next_seq; s++)
        entry_free(j->ring[s % WINDOW]);
    if (stats_out)
        *stats_out = j->stats;
    free(j->seen);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv_work);
    pthread_cond_destroy(&j->cv_space);
    free(j);
    return rc;
}
