/* Khiên — engine: the compiled signature set on disk.
 *
 * Parsing millions of hash lines and compiling a Vectorscan database takes
 * seconds; mapping a file that already holds the result takes
 * milliseconds. This module writes a kh_rules as one file of aligned
 * sections (the same flat arrays the set uses in memory) and loads it back
 * with mmap, so the hash tables are used in place and only the pages a
 * lookup touches are ever read.
 *
 * Layout: a 128-byte header (magic, format, layout fingerprint, key,
 * SHA-256 and length of the payload, section count), a table of sections
 * (id, offset, length), then the sections, each 16-byte aligned.
 *
 * Trust: the file lives in the user's own state directory, but a crash, a
 * full disk or another program may have damaged it. It is written to a
 * temporary name, fsync'ed and renamed, so a crash leaves either the old
 * file or the new one, never half of one. Before anything in it is used,
 * the magic, format, layout and key must match, every section must lie
 * inside the file with a length that is a multiple of its element size,
 * and a SHA-256 over the section table and every section except the bulk
 * ones (hash records, signature records, the string pool) must match the
 * header's. Any failure means "rebuild", never "trust".
 *
 * Why not a checksum of everything: with ClamAV's official set the bulk
 * sections are 1.4 GB (8 million hash signatures); hashing them on every
 * start took 2-3 s, more than the rest of the start-up, and read the
 * whole file. The checked sections are what the matcher and the confirm
 * code follow as indices (pattern trees, the Vectorscan databases, YARA
 * rules): a damaged one could send them out of bounds. A damaged bulk
 * record can only produce a wrong name or a wrong/missed hash detection,
 * never an out-of-bounds read: the loader checks the string pool ends in
 * a NUL, and readers check a record's signature index against nsigs and a
 * name offset against nstrs before use (kh_rules_sig_name()). The key
 * (compiler.c) already names the exact database files by path, device,
 * inode, size, mtime and ctime (nanoseconds), which any rewrite changes,
 * so their content is not hashed at start either (600 MB of text).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/clamav/cav.h"
#include "engine/digest.h"
#include "engine/rules_int.h"
#include "engine/yara/yara.h"
#include "platform/platform.h"

#define DB_MAGIC "KHIENDB\x01"
#define DB_FORMAT 5u /* 3: ClamAV (B) (L) (W) with a mode, look-behind/ahead nodes; 4: S_CAV (logical, PE hashes);
                         5: bulk sections outside the checksum, streaming database stored */
#define HDR_SIZE 128u
#define MAX_SECT 64u

enum {
    S_NODES = 1, S_KIDS, S_BYTES, S_STRS, S_PATS, S_SIGS, S_SOURCES, S_STATS, S_DIAGS, S_MPM,
    S_HREC = 16,  /* + role * KH_NALG + alg */
    S_HSIZE = 32, /* + role * KH_NALG + alg */
    S_HANY = 48,
    S_YRULES = 49, S_YSTRS, S_YEXPRS, S_YLISTS, S_YMETAS, S_YREGEXES, S_YEXTS, S_YINFO, S_DEPS, S_YATOMS,
    S_CAV = 60, /* engine/clamav/cavblob.c: logical and PE-hash signatures, per-database counts */
};

typedef struct sect {
    uint32_t id, pad;
    uint64_t off, len;
} sect;

typedef struct hdr {
    char magic[8];
    uint32_t format;
    uint32_t layout;
    uint8_t key[32];
    uint8_t sum[32];
    uint64_t payload_len;
    uint32_t nsect;
    uint8_t id[32]; /* SHA-256 of the whole payload, computed when written: the set's identity */
    uint8_t pad[HDR_SIZE - 8 - 4 - 4 - 32 - 32 - 8 - 4 - 32];
} hdr;

static uint32_t layout_fingerprint(void)
{
    uint32_t f = (uint32_t)(sizeof(kh_node) | sizeof(kh_pat) << 6 | sizeof(kh_sig) << 12 | sizeof(kh_rules_stats) << 18);
    f = f * 31 + (uint32_t)(sizeof(kh_yrule) | sizeof(kh_ystr) << 8 | sizeof(kh_yexpr) << 16 | sizeof(kh_ymeta) << 24);
    return f * 31 + (uint32_t)(sizeof(kh_yregex) | sizeof(kh_yext) << 8 | sizeof(kh_yatom) << 16);
}

/* ---- Writing -------------------------------------------------------------- */

/* Sections not covered by the header's checksum (see above). */
static int bulk_section(uint32_t id)
{
    return (id >= S_HREC && id < S_HREC + 2 * KH_NALG) || id == S_SIGS || id == S_STRS;
}

typedef struct writer {
    int fd;
    uint64_t pos; /* bytes written after the header */
    int nodigest; /* writing a bulk section */
    kh_digest dg;    /* checked sections and the table */
    kh_digest dgall; /* everything */
    sect s[MAX_SECT];
    uint32_t ns;
    int err;
} writer;

static void w_raw(writer *w, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (w->err)
        return;
    if ((!w->nodigest && kh_digest_update(&w->dg, p, n)) || kh_digest_update(&w->dgall, p, n)) {
        w->err = KH_EINTERNAL;
        return;
    }
    w->pos += n;
    while (n) {
        ssize_t k = write(w->fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            w->err = KH_EIO;
            return;
        }
        b += k;
        n -= (size_t)k;
    }
}

static void w_sect(writer *w, uint32_t id, const void *p, uint64_t n)
{
    static const uint8_t zero[16];
    if (w->err)
        return;
    if (w->ns >= MAX_SECT) {
        w->err = KH_ELIMIT;
        return;
    }
    w->nodigest = 1; /* padding is never read */
    if (w->pos % 16)
        w_raw(w, zero, 16 - w->pos % 16);
    w->nodigest = bulk_section(id);
    w->s[w->ns].id = id;
    w->s[w->ns].off = w->pos; /* relative to payload start */
    w->s[w->ns].len = n;
    w->ns++;
    const uint8_t *b = p;
    while (n && !w->err) {
        size_t k = n > (1u << 30) ? (1u << 30) : (size_t)n;
        w_raw(w, b, k);
        b += k;
        n -= k;
    }
    w->nodigest = 0;
}

int kh_dbfile_write(const struct kh_rules *r, const kh_diagv *diags, const kh_dep *deps, size_t ndeps,
                    const uint8_t key[32], const char *path)
{
    kh_buf tmp = KH_BUF_INIT(4096);
    if (kh_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()))
        return KH_ENOMEM;
    writer w = {0};
    w.fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0) {
        kh_buf_dispose(&tmp);
        return kh_errno_to_kh(errno);
    }
    if (kh_digest_init(&w.dg) || kh_digest_start(&w.dg, 1u << KH_SHA256) || kh_digest_init(&w.dgall) ||
        kh_digest_start(&w.dgall, 1u << KH_SHA256)) {
        w.err = KH_ENOMEM;
        goto done;
    }
    /* Header and section table are written last; leave room now. */
    if (lseek(w.fd, HDR_SIZE + MAX_SECT * sizeof(sect), SEEK_SET) < 0)
        w.err = KH_EIO;
    w_sect(&w, S_NODES, r->nodes, (uint64_t)r->nnodes * sizeof(kh_node));
    w_sect(&w, S_KIDS, r->kids, (uint64_t)r->nkids * 4);
    w_sect(&w, S_BYTES, r->bytes, r->nbytes);
    w_sect(&w, S_STRS, r->strs, r->nstrs);
    w_sect(&w, S_PATS, r->pats, (uint64_t)r->npats * sizeof(kh_pat));
    w_sect(&w, S_SIGS, r->sigs, (uint64_t)r->nsigs * sizeof(kh_sig));
    w_sect(&w, S_SOURCES, r->sources, (uint64_t)r->nsources * 4);
    w_sect(&w, S_STATS, &r->stats, sizeof(r->stats));
    uint32_t any[2 * KH_NALG];
    for (int role = 0; role < 2; role++)
        for (int a = 0; a < KH_NALG; a++) {
            const kh_htab *t = role ? &r->allow[a] : &r->detect[a];
            w_sect(&w, S_HREC + (uint32_t)(role * KH_NALG + a), t->rec, t->n * KH_HREC(a));
            w_sect(&w, S_HSIZE + (uint32_t)(role * KH_NALG + a), t->sizes, t->nsizes * 4);
            any[role * KH_NALG + a] = t->any_size;
        }
    w_sect(&w, S_HANY, any, sizeof(any));
    w_sect(&w, S_YRULES, r->yrules, (uint64_t)r->nyrules * sizeof(kh_yrule));
    w_sect(&w, S_YSTRS, r->ystrs, (uint64_t)r->nystrs * sizeof(kh_ystr));
    w_sect(&w, S_YEXPRS, r->yexprs, (uint64_t)r->nyexprs * sizeof(kh_yexpr));
    w_sect(&w, S_YLISTS, r->ylists, (uint64_t)r->nylists * 4);
    w_sect(&w, S_YMETAS, r->ymetas, (uint64_t)r->nymetas * sizeof(kh_ymeta));
    w_sect(&w, S_YREGEXES, r->yregexes, (uint64_t)r->nyregexes * sizeof(kh_yregex));
    w_sect(&w, S_YEXTS, r->yexts, (uint64_t)r->nyexts * sizeof(kh_yext));
    w_sect(&w, S_YATOMS, r->yatoms, (uint64_t)r->nyatoms * sizeof(kh_yatom));
    w_sect(&w, S_CAV, r->cavblob, r->ncavblob);
    uint32_t yinfo[2] = {r->ymodules, 0};
    w_sect(&w, S_YINFO, yinfo, sizeof(yinfo));
    kh_buf dp = KH_BUF_INIT(0);
    for (size_t i = 0; i < ndeps; i++) {
        uint32_t l = (uint32_t)strlen(deps[i].path);
        kh_buf_append(&dp, &l, 4);
        kh_buf_append(&dp, deps[i].sum, 32);
        kh_buf_append(&dp, deps[i].path, l);
    }
    w_sect(&w, S_DEPS, dp.data, dp.len);
    kh_buf_dispose(&dp);
    kh_buf d = KH_BUF_INIT(0);
    for (size_t i = 0; diags && i < diags->n; i++) {
        const kh_diag *x = &diags->v[i];
        uint32_t f[5] = {(uint32_t)x->severity, x->line, x->column, (uint32_t)strlen(x->file),
                         (uint32_t)strlen(x->message)};
        kh_buf_append(&d, f, sizeof(f));
        kh_buf_append(&d, x->file, f[3]);
        kh_buf_append(&d, x->message, f[4]);
    }
    w_sect(&w, S_DIAGS, d.data, d.len);
    kh_buf_dispose(&d);
    if (r->mpm) {
        kh_buf m = KH_BUF_INIT(0);
        if (kh_mpm_vs.serialize(r->mpm, &m))
            w.err = KH_EINTERNAL;
        w_sect(&w, S_MPM, m.data, m.len);
        kh_buf_dispose(&m);
    }
    if (w.err)
        goto done;
    hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, DB_MAGIC, 8);
    h.format = DB_FORMAT;
    h.layout = layout_fingerprint();
    memcpy(h.key, key, 32);
    h.payload_len = w.pos;
    h.nsect = w.ns;
    uint8_t out[KH_NALG][32];
    if (kh_digest_update(&w.dg, w.s, sizeof(w.s)) || kh_digest_finish(&w.dg, out)) {
        w.err = KH_EINTERNAL;
        goto done;
    }
    memcpy(h.sum, out[KH_SHA256], 32);
    if (kh_digest_finish(&w.dgall, out)) {
        w.err = KH_EINTERNAL;
        goto done;
    }
    memcpy(h.id, out[KH_SHA256], 32);
    if (pwrite(w.fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        pwrite(w.fd, w.s, sizeof(w.s), HDR_SIZE) != (ssize_t)sizeof(w.s) || fsync(w.fd) != 0)
        w.err = KH_EIO;
done:
    kh_digest_dispose(&w.dg);
    kh_digest_dispose(&w.dgall);
    if (close(w.fd) != 0 && !w.err)
        w.err = KH_EIO;
    if (!w.err && rename(tmp.data, path) != 0)
        w.err = kh_errno_to_kh(errno);
    if (w.err)
        unlink(tmp.data);
    kh_buf_dispose(&tmp);
    return w.err;
}

/* ---- Loading --------------------------------------------------------------- */

void kh_rules_trim(const struct kh_rules *r)
{
    /* MAP_PRIVATE and never written: dropping the pages loses nothing. */
    if (r && r->map)
        madvise(r->map, r->maplen, MADV_DONTNEED);
}

/* The checksum over the non-bulk sections, in table order, then the table
 * (read with pread, not through the mapping). */
static int verify_sum(int fd, uint64_t pstart, const sect *s, uint32_t ns, const uint8_t want[32])
{
    kh_digest dg;
    if (kh_digest_init(&dg))
        return KH_ENOMEM;
    int rc = kh_digest_start(&dg, 1u << KH_SHA256);
    uint8_t *buf = malloc(1u << 20);
    if (!buf)
        rc = KH_ENOMEM;
    for (uint32_t i = 0; i < ns && !rc; i++) {
        if (bulk_section(s[i].id))
            continue;
        uint64_t off = pstart + s[i].off, end = off + s[i].len;
        while (!rc && off < end) {
            size_t want_n = (size_t)KH_MIN(end - off, (uint64_t)(1u << 20));
            ssize_t k = pread(fd, buf, want_n, (off_t)off);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                rc = KH_EFORMAT;
                break;
            }
            rc = kh_digest_update(&dg, buf, (size_t)k);
            off += (uint64_t)k;
        }
    }
    uint8_t out[KH_NALG][32];
    if (!rc && (rc = kh_digest_update(&dg, s, MAX_SECT * sizeof(sect))) == 0 &&
        (rc = kh_digest_finish(&dg, out)) == 0 && memcmp(out[KH_SHA256], want, 32) != 0)
        rc = KH_EFORMAT;
    free(buf);
    kh_digest_dispose(&dg);
    return rc;
}

static const sect *find(const sect *s, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (s[i].id == id)
            return &s[i];
    return NULL;
}

/* Reads and checks the header and section table of an open compiled set:
 * ours (magic, format, layout), made for key, and as long as it says.
 * Returns 0 or KH_EFORMAT; *size is the file's size. */
static int read_head(int fd, const uint8_t key[32], hdr *h, sect s[MAX_SECT], uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < HDR_SIZE + MAX_SECT * sizeof(sect) ||
        pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) ||
        pread(fd, s, MAX_SECT * sizeof(sect), HDR_SIZE) != (ssize_t)(MAX_SECT * sizeof(sect)))
        return KH_EFORMAT;
    uint64_t pstart = HDR_SIZE + MAX_SECT * sizeof(sect);
    if (memcmp(h->magic, DB_MAGIC, 8) || h->format != DB_FORMAT || h->layout != layout_fingerprint() ||
        memcmp(h->key, key, 32) || h->nsect > MAX_SECT || h->payload_len != (uint64_t)st.st_size - pstart)
        return KH_EFORMAT;
    *size = (uint64_t)st.st_size;
    return 0;
}

int kh_dbfile_peek_stats(const char *path, const uint8_t key[32], kh_rules_stats *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return KH_ENOENT;
    int rc = KH_EFORMAT;
    hdr h;
    sect s[MAX_SECT];
    uint64_t size;
    kh_rules_stats stats;
    if (read_head(fd, key, &h, s, &size))
        goto done;
    uint64_t pstart = HDR_SIZE + sizeof(s);
    const sect *x = find(s, h.nsect, S_STATS);
    if (!x || x->len != sizeof(stats) || x->off > h.payload_len - x->len ||
        pread(fd, &stats, sizeof(stats), (off_t)(pstart + x->off)) != (ssize_t)sizeof(stats))
        goto done;
    *out = stats;
    rc = 0;
done:
    close(fd);
    return rc;
}

int kh_dbfile_load(struct kh_rules **out, kh_diagv *diags, const uint8_t key[32], const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return KH_ENOENT;
    int rc = KH_EFORMAT;
    hdr h;
    sect s[MAX_SECT];
    uint8_t *base = NULL;
    uint64_t maplen = 0, size = 0;
    struct kh_rules *r = NULL;
    if (read_head(fd, key, &h, s, &size))
        goto fail;
    uint64_t pstart = HDR_SIZE + sizeof(s);
    for (uint32_t i = 0; i < h.nsect; i++)
        if (s[i].off > h.payload_len || s[i].len > h.payload_len - s[i].off || s[i].off % 16)
            goto fail;
    if ((rc = verify_sum(fd, pstart, s, h.nsect, h.sum)))
        goto fail;
    rc = KH_EFORMAT;
    maplen = size;
    base = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
        base = NULL;
        goto fail;
    }
    madvise(base, maplen, MADV_RANDOM);
    r = calloc(1, sizeof(*r));
    if (!r) {
        rc = KH_ENOMEM;
        goto fail;
    }
    r->map = base;
    r->maplen = maplen;
    memcpy(r->id, h.id, 32); /* the content identifies the set (callers may override) */
    const uint8_t *pl = base + pstart;
#define SECT(id, esz, ptr, count)                                  \
    do {                                                           \
        const sect *x_ = find(s, h.nsect, (id));                   \
        if (!x_ || x_->len % (esz))                                \
            goto fail;                                             \
        (ptr) = (const void *)(pl + x_->off);                      \
        (count) = x_->len / (esz);                                 \
    } while (0)
    uint64_t n;
    SECT(S_NODES, sizeof(kh_node), r->nodes, n);
    r->nnodes = (uint32_t)n;
    SECT(S_KIDS, 4, r->kids, n);
    r->nkids = (uint32_t)n;
    SECT(S_BYTES, 1, r->bytes, r->nbytes);
    SECT(S_STRS, 1, r->strs, r->nstrs);
    SECT(S_PATS, sizeof(kh_pat), r->pats, n);
    r->npats = (uint32_t)n;
    SECT(S_SIGS, sizeof(kh_sig), r->sigs, n);
    r->nsigs = (uint32_t)n;
    SECT(S_SOURCES, 4, r->sources, n);
    r->nsources = (uint32_t)n;
    const kh_rules_stats *stats;
    SECT(S_STATS, sizeof(kh_rules_stats), stats, n);
    if (n != 1)
        goto fail;
    r->stats = *stats;
    const uint32_t *any;
    SECT(S_HANY, 4, any, n);
    if (n != 2 * KH_NALG)
        goto fail;
    for (int role = 0; role < 2; role++)
        for (int a = 0; a < KH_NALG; a++) {
            kh_htab *t = role ? &r->allow[a] : &r->detect[a];
            SECT(S_HREC + (uint32_t)(role * KH_NALG + a), KH_HREC(a), t->rec, t->n);
            SECT(S_HSIZE + (uint32_t)(role * KH_NALG + a), 4, t->sizes, t->nsizes);
            t->any_size = any[role * KH_NALG + a];
        }
    SECT(S_YRULES, sizeof(kh_yrule), r->yrules, n);
    r->nyrules = (uint32_t)n;
    SECT(S_YSTRS, sizeof(kh_ystr), r->ystrs, n);
    r->nystrs = (uint32_t)n;
    SECT(S_YEXPRS, sizeof(kh_yexpr), r->yexprs, n);
    r->nyexprs = (uint32_t)n;
    SECT(S_YLISTS, 4, r->ylists, n);
    r->nylists = (uint32_t)n;
    SECT(S_YMETAS, sizeof(kh_ymeta), r->ymetas, n);
    r->nymetas = (uint32_t)n;
    SECT(S_YREGEXES, sizeof(kh_yregex), r->yregexes, n);
    r->nyregexes = (uint32_t)n;
    SECT(S_YEXTS, sizeof(kh_yext), r->yexts, n);
    r->nyexts = (uint32_t)n;
    SECT(S_YATOMS, sizeof(kh_yatom), r->yatoms, n);
    r->nyatoms = (uint32_t)n;
    const uint32_t *yinfo;
    SECT(S_YINFO, 4, yinfo, n);
    if (n != 2)
        goto fail;
    r->ymodules = yinfo[0];
    /* The included files a set was built from: their content is already in
     * the key it was found under (compiler.c, make_key: the SHA-256 of every
     * file the sources name in an include, a superset of those the parser
     * read), so they are not read and hashed a second time here (1,040
     * files, 5.8 MB for protections-artifacts: a third of a cached start);
     * only the section's shape is checked. Explicitly saved sets have none. */
    const uint8_t *dps;
    uint64_t dpl;
    SECT(S_DEPS, 1, dps, dpl);
    for (uint64_t i = 0; i < dpl;) {
        uint32_t l;
        if (dpl - i < 36)
            goto fail;
        memcpy(&l, dps + i, 4);
        if (l > dpl - i - 36 || l > 4096)
            goto fail;
        i += 36 + l;
    }
    /* Every string the set refers to must end inside strs. */
    if (r->nstrs && r->strs[r->nstrs - 1] != 0)
        goto fail;
    const uint8_t *dp;
    uint64_t dlen;
    SECT(S_DIAGS, 1, dp, dlen);
    for (uint64_t i = 0; i + 20 <= dlen;) {
        uint32_t f[5];
        memcpy(f, dp + i, 20);
        i += 20;
        if (f[3] > dlen - i || f[4] > dlen - i - f[3])
            goto fail;
        char *file = kh_strndup((const char *)dp + i, f[3]);
        char *msg = kh_strndup((const char *)dp + i + f[3], f[4]);
        if (file && msg)
            kh_diagv_add(diags, (kh_diag_severity)f[0], file, f[1], f[2], msg);
        free(file);
        free(msg);
        i += f[3] + f[4];
    }
    const uint8_t *cav;
    uint64_t ncav;
    SECT(S_CAV, 1, cav, ncav);
    if ((rc = kh_cav_open(r, cav, ncav)))
        goto fail;
    const sect *m = find(s, h.nsect, S_MPM);
    if (m && (rc = kh_mpm_vs.deserialize(&r->mpm, pl + m->off, m->len)))
        goto fail;
    if (!m && r->npats)
        goto fail;
    if (m) {
        /* The matcher copied its databases to the heap: give back the mapped
         * pages of the section, or they count twice in the resident size
         * (29 MB for the official set). */
        uintptr_t a = ((uintptr_t)(pl + m->off) + 4095) & ~(uintptr_t)4095;
        uintptr_t e = ((uintptr_t)(pl + m->off) + m->len) & ~(uintptr_t)4095;
        if (e > a)
            madvise((void *)a, e - a, MADV_DONTNEED);
    }
#undef SECT
    close(fd);
    *out = r;
    return 0;
fail:
    if (r) {
        r->map = NULL;
        kh_rules_destroy(r);
    }
    if (base)
        munmap(base, maplen);
    close(fd);
    return rc == KH_ENOMEM ? KH_ENOMEM : KH_EFORMAT;
}
