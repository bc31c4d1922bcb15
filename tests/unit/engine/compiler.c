/* Tests of src/engine/compiler.c (and the compiled-set cache, dbfile.c).
 *
 *  - loading a directory: known extensions in name order, others ignored,
 *    PUA databases only when asked, no recursion, hidden files skipped;
 *  - errors: missing (KH_ENOENT), unreadable (KH_EACCES), unknown type and
 *    empty directory (KH_EINVAL), not a regular file; each with a
 *    diagnostic naming the path. Unreadable files cannot be made as root,
 *    so those checks run in a child that drops to uid/gid 65534, or are
 *    skipped with the reason printed;
 *  - the compiled-set cache: the second build maps the cache (from_cache)
 *    and behaves the same, diagnostics included; a damaged or foreign cache
 *    file is rebuilt, never trusted; a changed database, text or flag set
 *    misses the cache; at most a few sets are kept.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt_engine.h"

#define MD5_ABC "900150983cd24fb0d6963f7d28e17f72"

/* ---- Files ------------------------------------------------------------- */

static char root_dir[256];

static const char *path_of(const char *rel)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", root_dir, rel);
    return buf[k];
}

static void put(const char *rel, const char *text)
{
    FILE *f = fopen(path_of(rel), "wb");
    KT_CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static void mkdir_rel(const char *rel) { KT_EQ_INT(mkdir(path_of(rel), 0755), 0); }

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    chmod(p, 0700);
    return remove(p);
}

static void fresh_root(const char *name)
{
    if (root_dir[0])
        nftw(root_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    const char *tmp = getenv("TMPDIR");
    snprintf(root_dir, sizeof(root_dir), "%s/kt_compiler_%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    KT_CHECK(mkdtemp(root_dir) != NULL);
    chmod(root_dir, 0755);
}

static void cleanup_root(void)
{
    if (root_dir[0])
        nftw(root_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    root_dir[0] = 0;
}

/* ---- Building ---------------------------------------------------------------- */

typedef struct built {
    int add_rc, rc;
    kh_compiler *c;
    kh_rules *r;
    kh_rules_stats st;
} built;

/* Builds from paths (relative to root_dir), NULL-terminated. */
static void build_paths(built *B, unsigned flags, const char *cache_rel, const char *const *rels)
{
    kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
    o.flags = flags | KH_COMPILE_NO_BUILTIN;
    o.cache_dir = cache_rel ? path_of(cache_rel) : NULL;
    memset(B, 0, sizeof(*B));
    B->rc = kh_compiler_create(&B->c, &o);
    for (size_t i = 0; !B->rc && rels[i] && !B->add_rc; i++)
        B->add_rc = kh_compiler_add_path(B->c, path_of(rels[i]));
    if (!B->rc && !B->add_rc)
        B->rc = kh_compiler_build(B->c, &B->r);
    if (B->r)
        kh_rules_get_stats(B->r, &B->st);
}

static void unbuild(built *B)
{
    kh_rules_destroy(B->r);
    kh_compiler_destroy(B->c);
    memset(B, 0, sizeof(*B));
}

static const kh_diag *diag_with(const kh_compiler *c, const char *needle)
{
    for (size_t i = 0; i < kh_compiler_diag_count(c); i++)
        if (strstr(kh_compiler_diag(c, i)->message, needle))
            return kh_compiler_diag(c, i);
    return NULL;
}

typedef struct found {
    char names[8][64];
    char sources[8][512];
    int n;
} found;

static int on_found(const kh_detection *d, void *p)
{
    found *f = p;
    if (f->n < 8) {
        snprintf(f->names[f->n], sizeof(f->names[0]), "%s", d->name);
        snprintf(f->sources[f->n], sizeof(f->sources[0]), "%s", d->source);
        f->n++;
    }
    return 0;
}

/* Scans a string; returns the name of the single detection ("" if none,
 * "<many>" if several) and fills *src with its source. */
static const char *detect(const kh_rules *r, const char *data, const char **src)
{
    static found f;
    memset(&f, 0, sizeof(f));
    kh_scan_options so = KH_SCAN_OPTIONS_INIT;
    so.flags = KH_SCAN_ALLMATCH;
    kh_scanner *s = NULL;
    if (!r || kh_scanner_create(&s, r, &so))
        return "<no scanner>";
    int rc = kh_scanner_scan_mem(s, data, strlen(data), on_found, NULL, &f);
    kh_scanner_destroy(s);
    if (rc)
        return "<scan error>";
    if (src)
        *src = f.n ? f.sources[0] : "";
    return f.n == 0 ? "" : f.n == 1 ? f.names[0] : "<many>";
}

/* ---- Directories --------------------------------------------------------------- */

static void make_mixed_dir(void)
{
    mkdir_rel("db");
    put("db/a.hdb", MD5_ABC ":3:Dir.Hash\n");
    put("db/b.ndb", "Dir.Body:0:*:78797a\n");                 /* xyz */
    put("db/c.txt", "this:is:not:a:database\n");
    put("db/d.cbc", "ClamBCafhm`..bytecode..\n");         /* bytecode: counted, not loaded */
    put("db/e.ndu", "Dir.Pua:0:*:646566\n");                  /* def */
    put("db/f.ign2", "Dir.Ignored\n");
    put("db/g.ndb", "Dir.Ignored:0:*:676869\n");              /* ghi */
    put("db/README", "hello\n");
    put("db/.hidden.ndb", "Dir.Hidden:0:*:6d6e6f\n");         /* mno */
    mkdir_rel("db/sub");
    put("db/sub/h.ndb", "Dir.Sub:0:*:6a6b6c\n");              /* jkl */
    mkdir_rel("db/dir.ndb");                                  /* a directory with a db name */
}

KT_TEST(test_engine_compiler__directory_mixed_extensions)
{
    fresh_root("dir");
    make_mixed_dir();
    built B;
    build_paths(&B, KH_COMPILE_STRICT, NULL, (const char *[]){"db", NULL});
    KT_EQ_INT(B.add_rc, 0);
    KT_EQ_INT(B.rc, 0);
    KT_EQ_INT(B.st.databases, 5); /* a.hdb b.ndb d.cbc f.ign2 g.ndb */
    KT_EQ_INT(B.st.hash_md5, 1);
    KT_EQ_INT(B.st.body, 1);
    KT_EQ_INT(B.st.ignored, 1);
    KT_EQ_INT(B.st.unsupported, 1);
    KT_EQ_INT(B.st.from_cache, 0);
    const char *src = NULL;
    KT_EQ_STR(detect(B.r, "abc", &src), "Dir.Hash");
    KT_EQ_STR(src, path_of("db/a.hdb"));
    KT_EQ_STR(detect(B.r, "xyz", &src), "Dir.Body");
    KT_EQ_STR(src, path_of("db/b.ndb"));
    KT_EQ_STR(detect(B.r, "def", NULL), ""); /* PUA not asked for */
    KT_EQ_STR(detect(B.r, "ghi", NULL), ""); /* ignored */
    KT_EQ_STR(detect(B.r, "jkl", NULL), ""); /* not recursed */
    KT_EQ_STR(detect(B.r, "mno", NULL), ""); /* hidden */
    KT_CHECK(diag_with(B.c, ".cbc format not loaded") != NULL);
    unbuild(&B);

    build_paths(&B, KH_COMPILE_STRICT | KH_COMPILE_PUA, NULL, (const char *[]){"db", NULL});
    KT_EQ_INT(B.rc, 0);
    KT_EQ_INT(B.st.databases, 6);
    KT_EQ_INT(B.st.body, 2);
    KT_EQ_STR(detect(B.r, "def", NULL), "Dir.Pua");
    unbuild(&B);

    /* A trailing slash names the same files. */
    build_paths(&B, 0, NULL, (const char *[]){"db/", NULL});
    KT_EQ_INT(B.rc, 0);
    KT_EQ_STR(detect(B.r, "xyz", &src), "Dir.Body");
    KT_EQ_STR(src, path_of("db/b.ndb"));
    unbuild(&B);

    /* A file and a directory together. */
    build_paths(&B, 0, NULL, (const char *[]){"db/b.ndb", "db/sub", NULL});
    KT_EQ_INT(B.rc, 0);
    KT_EQ_INT(B.st.databases, 2);
    KT_EQ_STR(detect(B.r, "jkl", NULL), "Dir.Sub");
    unbuild(&B);
    cleanup_root();
}

KT_TEST(test_engine_compiler__path_errors)
{
    fresh_root("err");
    built B;
    build_paths(&B, 0, NULL, (const char *[]){"missing.ndb", NULL});
    KT_EQ_INT(B.add_rc, KH_ENOENT);
    const kh_diag *d = kh_compiler_diag(B.c, 0);
    KT_CHECK(d && d->severity == KH_DIAG_ERROR && strcmp(d->file, path_of("missing.ndb")) == 0);
    unbuild(&B);

    put("plain", "x");
    build_paths(&B, 0, NULL, (const char *[]){"plain/below.ndb", NULL}); /* ENOTDIR */
    KT_EQ_INT(B.add_rc, KH_ENOENT);
    unbuild(&B);

    put("notes.txt", "Sig:0:*:4142\n");
    build_paths(&B, 0, NULL, (const char *[]){"notes.txt", NULL});
    KT_EQ_INT(B.add_rc, KH_EINVAL);
    KT_CHECK(diag_with(B.c, "not a known signature database type") != NULL);
    unbuild(&B);

    mkdir_rel("empty");
    build_paths(&B, 0, NULL, (const char *[]){"empty", NULL});
    KT_EQ_INT(B.add_rc, KH_EINVAL);
    KT_CHECK(diag_with(B.c, "no supported database files") != NULL);
    unbuild(&B);

    mkdir_rel("only_txt");
    put("only_txt/a.txt", "x\n");
    put("only_txt/b.hdu", MD5_ABC ":3:Pua.Only\n"); /* PUA only, not asked for */
    build_paths(&B, 0, NULL, (const char *[]){"only_txt", NULL});
    KT_EQ_INT(B.add_rc, KH_EINVAL);
    unbuild(&B);

    /* Nothing to build at all. */
    kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
    o.flags = KH_COMPILE_NO_BUILTIN;
    kh_compiler *c = NULL;
    kh_rules *r = NULL;
    KT_EQ_INT(kh_compiler_create(&c, &o), 0);
    KT_EQ_INT(kh_compiler_build(c, &r), KH_EINVAL);
    KT_CHECK(r == NULL);
    KT_CHECK(kh_compiler_diag_count(c) == 1);
    kh_compiler_destroy(c);

    /* Misuse: unknown options version, building twice, adding after building. */
    o.version = 99;
    KT_EQ_INT(kh_compiler_create(&c, &o), KH_EINVAL);
    KT_EQ_INT(kh_compiler_create(&c, NULL), 0);
    KT_EQ_INT(kh_compiler_build(c, &r), 0); /* the built-in signature alone */
    KT_EQ_INT(kh_rules_count(r), 1);
    kh_rules *r2 = NULL;
    KT_EQ_INT(kh_compiler_build(c, &r2), KH_EINVAL);
    KT_EQ_INT(kh_compiler_add_text(c, "ndb", "late", "A:0:*:41\n", 9), KH_EINVAL);
    kh_rules_destroy(r);
    kh_compiler_destroy(c);
    kh_compiler_destroy(NULL);
    kh_rules_destroy(NULL);
    cleanup_root();
}

/* A FIFO named like a database must fail at once, not block on open(). */
KT_TEST(test_engine_compiler__fifo_database_does_not_block)
{
    fresh_root("fifo");
    KT_EQ_INT(mkfifo(path_of("pipe.ndb"), 0644), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(3);
        kh_compiler *c = NULL;
        kh_compiler_create(&c, NULL);
        int rc = kh_compiler_add_path(c, path_of("pipe.ndb"));
        kh_compiler_destroy(c);
        _exit(rc == KH_EINVAL ? 0 : 1);
    }
    int status = 0;
    KT_EQ_INT(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        KT_FAIL_("kh_compiler_add_path on a FIFO was killed by signal %d (blocked in open)", WTERMSIG(status));
    else
        KT_EQ_INT(WEXITSTATUS(status), 0);
    cleanup_root();
}

/* ---- Unreadable databases ----------------------------------------------------- */

static void unreadable_checks(void)
{
    built B;
    build_paths(&B, 0, NULL, (const char *[]){"locked.ndb", NULL});
    KT_EQ_INT(B.add_rc, KH_EACCES);
    const kh_diag *d = kh_compiler_diag(B.c, 0);
    KT_CHECK(d && strcmp(d->file, path_of("locked.ndb")) == 0 && strstr(d->message, "ermission denied"));
    unbuild(&B);
    /* Inside a directory it is an error too, not silently left out. */
    build_paths(&B, 0, NULL, (const char *[]){"mixed", NULL});
    KT_EQ_INT(B.add_rc, KH_EACCES);
    KT_CHECK(diag_with(B.c, "ermission denied") != NULL);
    unbuild(&B);
    build_paths(&B, 0, NULL, (const char *[]){"closed_dir", NULL});
    KT_EQ_INT(B.add_rc, KH_EACCES);
    unbuild(&B);
}

KT_TEST(test_engine_compiler__unreadable_database)
{
    fresh_root("acc");
    put("locked.ndb", "Locked:0:*:616263\n");
    chmod(path_of("locked.ndb"), 0);
    mkdir_rel("mixed");
    put("mixed/a.ndb", "Readable:0:*:616263\n");
    put("mixed/b.ndb", "Locked:0:*:646566\n");
    chmod(path_of("mixed/b.ndb"), 0);
    mkdir_rel("closed_dir");
    put("closed_dir/a.ndb", "Hidden:0:*:616263\n");
    chmod(path_of("closed_dir"), 0);
    if (geteuid() != 0) {
        unreadable_checks();
        cleanup_root();
        return;
    }
    /* Root reads everything: check as an ordinary user in a child. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(77);
        if (access(path_of("locked.ndb"), R_OK) == 0)
            _exit(78);
        int before = kt_failed_checks;
        unreadable_checks();
        fflush(NULL);
        _exit(kt_failed_checks != before ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        printf("     (skipped: running as root and cannot switch to uid 65534: %s)\n", strerror(EPERM));
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 78)
        printf("     (skipped: uid 65534 can still read a mode-000 file here)\n");
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        KT_FAIL_("checks as uid 65534 failed (status 0x%x)", status);
    cleanup_root();
}

/* ---- The compiled-set cache ----------------------------------------------------- */

/* The one compiled-set file in the cache directory (path in out). */
static int cache_file(char *out, size_t outsz)
{
    DIR *d = opendir(path_of("cache"));
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, "sigs-", 5) == 0 && kh_str_endswith(de->d_name, ".kdb")) {
            snprintf(out, outsz, "%s/%s", path_of("cache"), de->d_name);
            n++;
        }
    if (d)
        closedir(d);
    return n;
}

static void make_db(void)
{
    mkdir_rel("db");
    put("db/a.hdb", MD5_ABC ":3:Cached.Hash\n");
    put("db/b.ndb", "Cached.Body:0:*:78797a\nCached.Offset:0:EOF-3:6a6b6c\nBroken:0:*:41zz\n");
}

static void same_stats(const kh_rules_stats *a, const kh_rules_stats *b)
{
    KT_EQ_INT(a->hash_md5, b->hash_md5);
    KT_EQ_INT(a->body, b->body);
    KT_EQ_INT(a->malformed, b->malformed);
    KT_EQ_INT(a->databases, b->databases);
    KT_EQ_INT(a->prefiltered, b->prefiltered);
}

static void check_detections(const kh_rules *r)
{
    KT_EQ_STR(detect(r, "abc", NULL), "Cached.Hash");
    KT_EQ_STR(detect(r, "..xyz..", NULL), "Cached.Body");
    KT_EQ_STR(detect(r, "....jkl", NULL), "Cached.Offset");
    KT_EQ_STR(detect(r, "...jkl.", NULL), "");
    KT_EQ_STR(detect(r, "abcd", NULL), "");
}

KT_TEST(test_engine_compiler__cache_second_build_maps_it)
{
    fresh_root("cache");
    make_db();
    built A, B;
    build_paths(&A, 0, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(A.rc, 0);
    KT_EQ_INT(A.st.from_cache, 0);
    KT_EQ_INT(A.st.malformed, 1);
    char f[1024];
    KT_EQ_INT(cache_file(f, sizeof(f)), 1);
    build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.rc, 0);
    KT_EQ_INT(B.st.from_cache, 1);
    same_stats(&A.st, &B.st);
    KT_CHECK(memcmp(kh_rules_id(A.r), kh_rules_id(B.r), 32) == 0);
    check_detections(A.r);
    check_detections(B.r);
    /* The diagnostics of the first build are given again, identical. */
    KT_EQ_INT(kh_compiler_diag_count(B.c), kh_compiler_diag_count(A.c));
    for (size_t i = 0; i < kh_compiler_diag_count(A.c) && i < kh_compiler_diag_count(B.c); i++) {
        const kh_diag *x = kh_compiler_diag(A.c, i), *y = kh_compiler_diag(B.c, i);
        KT_EQ_INT(x->severity, y->severity);
        KT_EQ_STR(x->file, y->file);
        KT_EQ_INT(x->line, y->line);
        KT_EQ_INT(x->column, y->column);
        KT_EQ_STR(x->message, y->message);
    }
    const kh_diag *e = diag_with(B.c, "bad hex signature");
    KT_CHECK(e && e->line == 3 && e->column == 14 && strcmp(e->file, path_of("db/b.ndb")) == 0);
    unbuild(&A);
    unbuild(&B);
    KT_EQ_INT(cache_file(f, sizeof(f)), 1);
    cleanup_root();
}

typedef enum damage { FLIP_PAYLOAD, FLIP_HEADER, FLIP_LAST, TRUNCATE_HALF, TRUNCATE_ZERO, GARBAGE, APPEND } damage;

/* The compiled file's layout (dbfile.c): a 128-byte header, a table of 64
 * sections {u32 id, u32 pad, u64 offset, u64 length} (offsets from the end
 * of the table). Finds a section's place in the file. */
#define KDB_PAYLOAD (128 + 64 * 24)
static int kdb_section(int fd, uint32_t id, off_t *at, uint64_t *len)
{
    uint8_t t[64 * 24];
    if (pread(fd, t, sizeof(t), 128) != (ssize_t)sizeof(t))
        return 0;
    for (int i = 0; i < 64; i++) {
        uint32_t sid;
        uint64_t off, l;
        memcpy(&sid, t + i * 24, 4);
        memcpy(&off, t + i * 24 + 8, 8);
        memcpy(&l, t + i * 24 + 16, 8);
        if (sid == id && l) {
            *at = (off_t)(KDB_PAYLOAD + off);
            *len = l;
            return 1;
        }
    }
    return 0;
}

static void damage_file(const char *f, damage how)
{
    struct stat st;
    KT_EQ_INT(stat(f, &st), 0);
    int fd = open(f, O_RDWR);
    KT_CHECK(fd >= 0);
    off_t size = st.st_size;
    uint8_t b;
    off_t at = how == FLIP_HEADER ? 20 : size - 1;
    if (how == FLIP_PAYLOAD) {
        /* the middle of the pattern nodes: a checked section */
        uint64_t len = 0;
        KT_CHECK(kdb_section(fd, 1, &at, &len));
        at += (off_t)(len / 2);
    }
    switch (how) {
    case FLIP_PAYLOAD:
    case FLIP_HEADER:
    case FLIP_LAST:
        KT_EQ_INT(pread(fd, &b, 1, at), 1);
        b ^= 0x01;
        KT_EQ_INT(pwrite(fd, &b, 1, at), 1);
        break;
    case TRUNCATE_HALF:
        KT_EQ_INT(ftruncate(fd, size / 2), 0);
        break;
    case TRUNCATE_ZERO:
        KT_EQ_INT(ftruncate(fd, 0), 0);
        break;
    case GARBAGE:
        for (off_t i = 0; i < size; i++) {
            b = (uint8_t)(i * 131 + 7);
            KT_EQ_INT(pwrite(fd, &b, 1, i), 1);
        }
        break;
    case APPEND:
        KT_EQ_INT(pwrite(fd, "junk", 4, size), 4);
        break;
    }
    close(fd);
}

KT_TEST(test_engine_compiler__cache_damaged_is_rebuilt)
{
    static const damage hows[] = {FLIP_PAYLOAD, FLIP_HEADER, FLIP_LAST, TRUNCATE_HALF, TRUNCATE_ZERO, GARBAGE, APPEND};
    for (size_t i = 0; i < KH_ARRAY_LEN(hows); i++) {
        fresh_root("damage");
        make_db();
        built B;
        build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
        KT_EQ_INT(B.st.from_cache, 0);
        unbuild(&B);
        char f[1024];
        KT_EQ_INT(cache_file(f, sizeof(f)), 1);
        damage_file(f, hows[i]);
        build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
        KT_EQ_INT(B.rc, 0);
        if (B.st.from_cache)
            KT_FAIL_("damage %zu: a damaged cache file was trusted", i);
        check_detections(B.r);
        KT_EQ_INT(B.st.malformed, 1);
        unbuild(&B);
        /* ... and replaced by a good one. */
        build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
        KT_EQ_INT(B.st.from_cache, 1);
        check_detections(B.r);
        unbuild(&B);
    }
    cleanup_root();
}

/* The bulk sections (hash records, signature records, the string pool) are
 * outside the checksum so that a start does not read a set of millions of
 * hashes (dbfile.c). Garbage there may change names or hash detections but
 * must never make a lookup or a report read out of bounds (ASan checks). */
KT_TEST(test_engine_compiler__cache_bulk_garbage_is_harmless)
{
    static const uint32_t ids[] = {6 /* signatures */, 16 /* MD5 records */, 4 /* strings */};
    for (size_t k = 0; k < KH_ARRAY_LEN(ids); k++) {
        fresh_root("bulk");
        make_db();
        built B;
        build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
        KT_EQ_INT(B.st.from_cache, 0);
        unbuild(&B);
        char f[1024];
        KT_EQ_INT(cache_file(f, sizeof(f)), 1);
        int fd = open(f, O_RDWR);
        KT_CHECK(fd >= 0);
        off_t at = 0;
        uint64_t len = 0;
        KT_CHECK(kdb_section(fd, ids[k], &at, &len));
        for (uint64_t i = 0; i < len; i++) {
            uint8_t b = (uint8_t)(0xff - i * 37);
            KT_EQ_INT(pwrite(fd, &b, 1, at + (off_t)i), 1);
        }
        close(fd);
        build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
        KT_EQ_INT(B.rc, 0);
        KT_CHECK(B.r != NULL);
        if (B.r) {
            /* whatever the answers, asking must be safe */
            detect(B.r, "abc", NULL);
            detect(B.r, "..xyz..", NULL);
            detect(B.r, "....jkl", NULL);
        }
        unbuild(&B);
    }
    cleanup_root();
}

KT_TEST(test_engine_compiler__cache_foreign_file_not_trusted)
{
    fresh_root("foreign");
    mkdir_rel("one");
    mkdir_rel("two");
    put("one/a.ndb", "Set.One:0:*:616263\n");
    put("two/a.ndb", "Set.Two:0:*:78797a\n");
    built B;
    build_paths(&B, 0, "cache", (const char *[]){"one", NULL});
    unbuild(&B);
    char f1[1024], f2[1024];
    KT_EQ_INT(cache_file(f1, sizeof(f1)), 1);
    char keep[1024];
    snprintf(keep, sizeof(keep), "%s.keep", f1);
    KT_EQ_INT(rename(f1, keep), 0);
    build_paths(&B, 0, "cache", (const char *[]){"two", NULL});
    unbuild(&B);
    KT_EQ_INT(cache_file(f2, sizeof(f2)), 1);
    KT_CHECK(strcmp(f1, f2) != 0);
    /* Set one's compiled file under set two's name. */
    KT_EQ_INT(rename(keep, f2), 0);
    build_paths(&B, 0, "cache", (const char *[]){"two", NULL});
    KT_EQ_INT(B.rc, 0);
    KT_EQ_INT(B.st.from_cache, 0);
    KT_EQ_STR(detect(B.r, "xyz", NULL), "Set.Two");
    KT_EQ_STR(detect(B.r, "abc", NULL), "");
    unbuild(&B);
    cleanup_root();
}

KT_TEST(test_engine_compiler__cache_invalidated_by_changes)
{
    fresh_root("inval");
    make_db();
    built B;
    build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
    unbuild(&B);
    build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.st.from_cache, 1);
    unbuild(&B);

    /* A line appended to a database. */
    FILE *fp = fopen(path_of("db/b.ndb"), "ab");
    fputs("Added.Later:0:*:717273\n", fp); /* qrs */
    fclose(fp);
    build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.st.from_cache, 0);
    KT_EQ_STR(detect(B.r, "qrs", NULL), "Added.Later");
    unbuild(&B);

    /* Edited in place to the same size, with its old modification time put back. */
    struct stat st;
    KT_EQ_INT(stat(path_of("db/a.hdb"), &st), 0);
    build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.st.from_cache, 1);
    unbuild(&B);
    put("db/a.hdb", MD5_ABC ":3:Cached.Hasx\n");
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    KT_EQ_INT(utimensat(AT_FDCWD, path_of("db/a.hdb"), ts, 0), 0);
    build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.st.from_cache, 0);
    KT_EQ_STR(detect(B.r, "abc", NULL), "Cached.Hasx");
    unbuild(&B);

    /* A database added to the directory. */
    put("db/c.ndb", "New.File:0:*:747576\n"); /* tuv */
    build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.st.from_cache, 0);
    KT_EQ_STR(detect(B.r, "tuv", NULL), "New.File");
    unbuild(&B);

    /* Other flags (PUA) make another set. (A fresh cache directory, so
     * that pruning old sets plays no part here.) */
    cleanup_root();
    fresh_root("inval2");
    make_db();
    build_paths(&B, 0, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.st.from_cache, 0);
    unbuild(&B);
    build_paths(&B, KH_COMPILE_PUA, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.st.from_cache, 0);
    unbuild(&B);
    build_paths(&B, KH_COMPILE_PUA, "cache", (const char *[]){"db", NULL});
    KT_EQ_INT(B.st.from_cache, 1);
    unbuild(&B);
    cleanup_root();
}

/* Moves the key memo's modification time `secs` into the future, as if
 * its files had been written long before it. Returns how many memos. */
static int age_memo(int secs)
{
    DIR *d = opendir(path_of("cache"));
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, "key-", 4) == 0 && kh_str_endswith(de->d_name, ".memo")) {
            char f[1024];
            snprintf(f, sizeof(f), "%s/%s", path_of("cache"), de->d_name);
            struct timespec ts[2];
            clock_gettime(CLOCK_REALTIME, &ts[0]);
            ts[0].tv_sec += secs;
            ts[1] = ts[0];
            KT_EQ_INT(utimensat(AT_FDCWD, f, ts, 0), 0);
            n++;
        }
    if (d)
        closedir(d);
    return n;
}

/* The key's memo: a build of YARA rules takes its key from the memo (the
 * rule files not read) once the memo is older than its files by 2 s; not
 * while it is as new as they are (a file changed twice within one tick of
 * the clock would keep its ctime); not after a file was edited to the same
 * size with its times put back (its ctime moved); not when an include that
 * was missing has appeared. */
KT_TEST(test_engine_compiler__cache_key_memo)
{
    fresh_root("memo");
    mkdir_rel("y");
    put("y/main.yar", "include \"inc.yar\"\nrule top { condition: inc_rule }\n");
    put("y/inc.yar", "private rule inc_rule { strings: $a = \"abc\" condition: $a }\n");
    built B;
    build_paths(&B, 0, "cache", (const char *[]){"y/main.yar", NULL});
    KT_EQ_INT(B.rc, 0);
    KT_EQ_INT(B.st.from_cache, 0);
    KT_EQ_INT(B.st.key_memo, 0);
    unbuild(&B);
    build_paths(&B, 0, "cache", (const char *[]){"y/main.yar", NULL});
    KT_EQ_INT(B.st.from_cache, 1);
    KT_EQ_INT(B.st.key_memo, 0); /* racy: the memo is as new as the files */
    unbuild(&B);
    KT_EQ_INT(age_memo(10), 1);
    build_paths(&B, 0, "cache", (const char *[]){"y/main.yar", NULL});
    KT_EQ_INT(B.st.from_cache, 1);
    KT_EQ_INT(B.st.key_memo, 1);
    KT_EQ_STR(detect(B.r, "xxabcxx", NULL), "top");
    unbuild(&B);

    /* The included file edited to the same size, its times put back. */
    struct stat st;
    KT_EQ_INT(stat(path_of("y/inc.yar"), &st), 0);
    put("y/inc.yar", "private rule inc_rule { strings: $a = \"abd\" condition: $a }\n");
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    KT_EQ_INT(utimensat(AT_FDCWD, path_of("y/inc.yar"), ts, 0), 0);
    build_paths(&B, 0, "cache", (const char *[]){"y/main.yar", NULL});
    KT_EQ_INT(B.st.from_cache, 0);
    KT_EQ_INT(B.st.key_memo, 0);
    KT_EQ_STR(detect(B.r, "xxabcxx", NULL), "");
    KT_EQ_STR(detect(B.r, "xxabdxx", NULL), "top");
    unbuild(&B);
    KT_EQ_INT(age_memo(10), 1);
    build_paths(&B, 0, "cache", (const char *[]){"y/main.yar", NULL});
    KT_EQ_INT(B.st.key_memo, 1);
    KT_EQ_STR(detect(B.r, "xxabdxx", NULL), "top");
    unbuild(&B);

    /* An include that is missing, then appears. */
    put("y/two.yar", "include \"later.yar\"\nrule two { condition: later_rule }\n");
    build_paths(&B, 0, "cache", (const char *[]){"y/two.yar", NULL});
    KT_CHECK(B.rc != 0);
    unbuild(&B);
    KT_EQ_INT(age_memo(10), 2);
    put("y/later.yar", "private rule later_rule { strings: $a = \"xyz\" condition: $a }\n");
    build_paths(&B, 0, "cache", (const char *[]){"y/two.yar", NULL});
    KT_EQ_INT(B.rc, 0);
    KT_EQ_INT(B.st.key_memo, 0);
    KT_EQ_STR(detect(B.r, "xyz", NULL), "two");
    unbuild(&B);
    cleanup_root();
}

KT_TEST(test_engine_compiler__cache_text_sources)
{
    fresh_root("text");
    for (int round = 0; round < 3; round++) {
        kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
        o.flags = KH_COMPILE_NO_BUILTIN;
        o.cache_dir = path_of("cache");
        kh_compiler *c = NULL;
        kh_rules *r = NULL;
        KT_EQ_INT(kh_compiler_create(&c, &o), 0);
        const char *text = round < 2 ? "Text.One:0:*:616263\n" : "Text.Two:0:*:616263\n";
        KT_EQ_INT(kh_compiler_add_text(c, "ndb", "same-origin", text, strlen(text)), 0);
        KT_EQ_INT(kh_compiler_build(c, &r), 0);
        kh_rules_stats st;
        kh_rules_get_stats(r, &st);
        KT_EQ_INT(st.from_cache, round == 1);
        KT_EQ_STR(detect(r, "abc", NULL), round < 2 ? "Text.One" : "Text.Two");
        kh_rules_destroy(r);
        kh_compiler_destroy(c);
    }
    cleanup_root();
}

KT_TEST(test_engine_compiler__cache_keeps_a_few_sets)
{
    fresh_root("prune");
    for (int i = 0; i < 7; i++) {
        kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
        o.flags = KH_COMPILE_NO_BUILTIN;
        o.cache_dir = path_of("cache");
        kh_compiler *c = NULL;
        kh_rules *r = NULL;
        char text[64];
        snprintf(text, sizeof(text), "Set.%d:0:*:6162%02x\n", i, 0x30 + i);
        kh_compiler_create(&c, &o);
        kh_compiler_add_text(c, "ndb", "t.ndb", text, strlen(text));
        KT_EQ_INT(kh_compiler_build(c, &r), 0);
        kh_rules_destroy(r);
        kh_compiler_destroy(c);
    }
    char f[1024];
    int n = cache_file(f, sizeof(f));
    KT_CHECK(n >= 1 && n <= 4);
    /* Pruning never removes the set just written, even when all were
     * written within the same second: the last one is served from cache. */
    kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
    o.flags = KH_COMPILE_NO_BUILTIN;
    o.cache_dir = path_of("cache");
    kh_compiler *c = NULL;
    kh_rules *r = NULL;
    const char *last = "Set.6:0:*:616236\n";
    kh_compiler_create(&c, &o);
    kh_compiler_add_text(c, "ndb", "t.ndb", last, strlen(last));
    KT_EQ_INT(kh_compiler_build(c, &r), 0);
    kh_rules_stats st;
    kh_rules_get_stats(r, &st);
    KT_EQ_INT(st.from_cache, 1);
    kh_rules_destroy(r);
    kh_compiler_destroy(c);
    cleanup_root();
}

KT_TEST(test_engine_compiler__cache_dir_unusable)
{
    fresh_root("nodir");
    make_db();
    put("file", "x");
    kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
    o.flags = KH_COMPILE_NO_BUILTIN;
    o.cache_dir = path_of("file/cache"); /* cannot be created */
    kh_compiler *c = NULL;
    kh_rules *r = NULL;
    KT_EQ_INT(kh_compiler_create(&c, &o), 0);
    KT_EQ_INT(kh_compiler_add_path(c, path_of("db")), 0);
    KT_EQ_INT(kh_compiler_build(c, &r), 0);
    check_detections(r);
    kh_rules_destroy(r);
    kh_compiler_destroy(c);
    cleanup_root();
}

KT_MAIN({
    KT_CASE(test_engine_compiler__directory_mixed_extensions),
    KT_CASE(test_engine_compiler__path_errors),
    KT_CASE(test_engine_compiler__fifo_database_does_not_block),
    KT_CASE(test_engine_compiler__unreadable_database),
    KT_CASE(test_engine_compiler__cache_second_build_maps_it),
    KT_CASE(test_engine_compiler__cache_damaged_is_rebuilt),
    KT_CASE(test_engine_compiler__cache_bulk_garbage_is_harmless),
    KT_CASE(test_engine_compiler__cache_foreign_file_not_trusted),
    KT_CASE(test_engine_compiler__cache_invalidated_by_changes),
    KT_CASE(test_engine_compiler__cache_key_memo),
    KT_CASE(test_engine_compiler__cache_text_sources),
    KT_CASE(test_engine_compiler__cache_keeps_a_few_sets),
    KT_CASE(test_engine_compiler__cache_dir_unusable),
})
